"""The files a course's users expect, checked against the files they repeat.

``LICENSE``, ``CITATION.cff``, ``environment.yml`` (conda), ``binder/`` (Binder), the pre-commit
configuration, the changelog and the GitHub Actions workflows for forks each repeat something that
is set elsewhere: a pin of ``requirements.txt``, the Python version of ``runtime.txt``, the version
of ``pyproject.toml``, the repository address of ``_config.yml``. These tests fail when the two
drift apart, and say which file to change.
"""

import importlib.metadata
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from test_colab_setup import _name, _notebook_imports, _pins  # the Colab test's parsers, reused

ROOT = pathlib.Path(__file__).resolve().parent.parent
PINS = _pins(ROOT / "requirements.txt")
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPOSITORY_URL = CONFIG["repository"]["url"].rstrip("/")


def _project_version():
    """``version`` of pyproject.toml's ``[project]`` table (tomllib needs Python 3.11)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^\[project\][^\[]*?^version\s*=\s*"([^"]+)"', text, flags=re.MULTILINE | re.DOTALL)
    assert match, "pyproject.toml has no [project] version"
    return match.group(1)


def _yaml(relative):
    return yaml.safe_load((ROOT / relative).read_text(encoding="utf-8"))


def _pin(requirement, where):
    """``(normalised name, version)`` of a ``name==version`` line."""
    match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", requirement.strip())
    assert match, f"{where}: '{requirement}' is not an exact pin (name==version)"
    return _name(match.group(1)), match.group(2)


def _python_version(runtime_txt):
    """``"3.11"`` from a repo2docker ``runtime.txt`` (``python-3.11``)."""
    text = runtime_txt.read_text(encoding="utf-8").strip()
    match = re.fullmatch(r"python-(\d+\.\d+)", text)
    assert match, f"{runtime_txt.relative_to(ROOT)}: '{text}' is not python-X.Y"
    return match.group(1)


# ------------------------------------------------------------------------------------------------
# Licence and citation

def test_license_names_both_licences_and_includes_their_texts():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Creative Commons Attribution 4.0 International (CC BY 4.0)" in text
    assert "https://creativecommons.org/licenses/by/4.0/legalcode" in text
    assert "Permission is hereby granted, free of charge" in text, "LICENSE lacks the MIT text"
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text
    assert REPOSITORY_URL in text, "the attribution example should name _config.yml's repository.url"


def test_readme_states_the_licence():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Licence", 1)
    assert len(section) == 2, "README.md has no '## Licence' section"
    assert "CC BY 4.0" in section[1] and "MIT" in section[1] and "LICENSE" in section[1]


def test_citation_cff_has_the_required_keys_and_follows_the_project():
    cff = _yaml("CITATION.cff")
    for key in ("cff-version", "message", "title", "authors"):
        assert cff.get(key), f"CITATION.cff lacks the required key {key!r}"
    assert str(cff["cff-version"]) == "1.2.0"
    assert all(isinstance(a, dict) and (a.get("name") or a.get("family-names")) for a in cff["authors"]), (
        "each author needs a name (an entity) or family-names (a person)")
    assert cff["title"] == CONFIG["title"], "CITATION.cff's title differs from _config.yml's"
    assert str(cff["version"]) == _project_version(), (
        f"CITATION.cff says version {cff['version']}, pyproject.toml {_project_version()}")
    assert cff["repository-code"].rstrip("/") == REPOSITORY_URL, (
        "CITATION.cff's repository-code differs from _config.yml's repository.url")
    assert set(cff["license"]) == {"CC-BY-4.0", "MIT"}


# ------------------------------------------------------------------------------------------------
# conda: environment.yml

def test_environment_yml_has_the_python_of_runtime_txt_and_exactly_the_pins_of_requirements_txt():
    env = _yaml("environment.yml")
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml needs one pip section"
    assert f"python={_python_version(ROOT / 'runtime.txt')}" in conda, (
        "environment.yml's python differs from runtime.txt")
    assert "pip" in conda, "list pip among the conda dependencies before the pip section"
    pins = [_pin(line, "environment.yml") for line in pip_sections[0]]
    names = [name for name, _ in pins]
    assert len(names) == len(set(names)), "a package is pinned twice in environment.yml"
    assert dict(pins) == PINS, (
        "environment.yml's pip pins differ from requirements.txt's: "
        f"missing {sorted(set(PINS) - set(names))}, extra {sorted(set(names) - set(PINS))}, "
        f"different {sorted(n for n, v in pins if n in PINS and PINS[n] != v)}")
    conda_names = {_name(re.split(r"[=<>!\s]", d, maxsplit=1)[0]) for d in conda}
    assert not conda_names & set(PINS), (
        f"{sorted(conda_names & set(PINS))}: installed by conda and pinned in requirements.txt")


# ------------------------------------------------------------------------------------------------
# Binder: binder/requirements.txt, binder/runtime.txt

BINDER = ROOT / "binder"
# Pinned in requirements.txt, left out of Binder: the book, the tests, linting, the browser test,
# and packages no notebook imports.
NOT_FOR_BINDER = {"jupyter-book", "sphinx", "myst-nb", "myst-parser", "sphinx-book-theme",
                  "sphinxcontrib-bibtex", "sphinx-exercise", "docutils", "jupyter-cache",
                  "sphinx-mathjax-offline", "nbformat", "nbclient", "pytest", "pytest-xdist", "nbval",
                  "hypothesis", "ruff", "selenium", "tqdm", "adversarial-robustness-toolbox",
                  "keras",  # Keras 3, for the appendix only (tensorflow brings it anyway)
                  "sphinx-intl", "babel"}  # the Chinese catalogues: authors only (utils reads .po)
# Module name → distribution, where they differ (the rest: packages_distributions() or the name).
DISTRIBUTION_OF = {"tf_keras": "tf-keras", "tensorflow_model_optimization": "tensorflow-model-optimization",
                   "sklearn": "scikit-learn", "PIL": "pillow", "ai_edge_litert": "ai-edge-litert",
                   "dp_accounting": "dp-accounting", "IPython": "ipython"}


def _binder_pins():
    pins = {}
    for line in (BINDER / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = _pin(line, "binder/requirements.txt")
            assert name not in pins, f"{name} is pinned twice in binder/requirements.txt"
            pins[name] = version
    return pins


def _distribution(module):
    if module in DISTRIBUTION_OF:
        return _name(DISTRIBUTION_OF[module])
    installed = importlib.metadata.packages_distributions().get(module)
    return _name(installed[0]) if installed else _name(module)


def _requirements_of(distribution):
    """Normalised names of what ``distribution`` (installed) requires unconditionally."""
    names = set()
    for requirement in importlib.metadata.requires(distribution) or []:
        if "extra ==" not in requirement:
            names.add(_name(re.match(r"[A-Za-z0-9._-]+", requirement).group(0)))
    return names


def test_binder_uses_the_python_of_runtime_txt():
    # repo2docker reads binder/ and then ignores the root's runtime.txt, so binder/ needs its own.
    assert _python_version(BINDER / "runtime.txt") == _python_version(ROOT / "runtime.txt")


def test_binder_pins_equal_requirements_txt_and_leave_out_the_toolchain():
    binder = _binder_pins()
    for name, version in binder.items():
        assert name in PINS, f"{name} is in binder/requirements.txt but not in requirements.txt"
        assert PINS[name] == version, (
            f"{name}: binder/requirements.txt pins {version}, requirements.txt pins {PINS[name]}")
    assert not set(binder) & NOT_FOR_BINDER, f"not needed on Binder: {sorted(set(binder) & NOT_FOR_BINDER)}"
    unplaced = sorted(set(PINS) - set(binder) - NOT_FOR_BINDER)
    assert not unplaced, (
        f"{unplaced}: pinned in requirements.txt, but neither in binder/requirements.txt nor in "
        "NOT_FOR_BINDER (tests/test_project_files.py). Do the labs need it on Binder?")


def test_everything_utils_and_the_solutions_import_is_installed_on_binder():
    binder = _binder_pins()
    brought = set().union(*(_requirements_of(name) for name in binder))  # e.g. ipython by ipykernel
    missing = []
    for module, where in sorted(_notebook_imports().items()):
        if module in sys.stdlib_module_names or module in {"utils", "google"}:
            continue  # google.colab exists only on Colab; the setup cell checks for it
        distribution = _distribution(module)
        if distribution not in binder and distribution not in brought:
            missing.append(f"{module} ({distribution}, imported by {where})")
    assert not missing, f"not installed by binder/requirements.txt: {missing}"


def test_jupyterlab_and_the_kernel_are_on_binder():
    assert {"jupyterlab", "ipykernel", "notebook"} <= set(_binder_pins())


# ------------------------------------------------------------------------------------------------
# pre-commit and make_labs.py --check

def test_pre_commit_config_runs_ruff_at_the_pinned_version_check_yaml_and_make_labs_check():
    repos = {repo["repo"]: repo for repo in _yaml(".pre-commit-config.yaml")["repos"]}
    ruff = repos["https://github.com/astral-sh/ruff-pre-commit"]
    assert ruff["rev"] == f"v{PINS['ruff']}", (
        f".pre-commit-config.yaml runs ruff {ruff['rev']}, requirements.txt pins ruff=={PINS['ruff']}")
    assert {hook["id"] for hook in ruff["hooks"]} & {"ruff-check", "ruff"}
    hooks = repos["https://github.com/pre-commit/pre-commit-hooks"]
    assert "check-yaml" in {hook["id"] for hook in hooks["hooks"]}
    local = [hook for hook in repos["local"]["hooks"] if "make_labs.py" in hook["entry"]]
    assert local and local[0]["entry"] == "python scripts/make_labs.py --check"
    assert local[0]["pass_filenames"] is False


@pytest.fixture
def course_copy(tmp_path):
    """A minimal course in ``tmp_path``: make_labs.py (and the modules it imports), _config.yml and one
    solution, labs generated (the Chinese lab too, in English where no catalogue translates it)."""
    (tmp_path / "scripts").mkdir()
    for script in ("make_labs.py", "code_messages.py", "markdown_translate.py", "po_catalogue.py"):
        shutil.copy(ROOT / "scripts" / script, tmp_path / "scripts")
    shutil.copy(ROOT / "_config.yml", tmp_path)
    (tmp_path / "solutions").mkdir()
    solution = sorted((ROOT / "solutions").glob("*.ipynb"))[0]
    shutil.copy(solution, tmp_path / "solutions")

    def make_labs(*args):
        return subprocess.run([sys.executable, str(tmp_path / "scripts" / "make_labs.py"), *args],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)

    assert make_labs().returncode == 0  # writes labs/ (and refreshes the solution's badges)
    return tmp_path, solution.name, make_labs


def test_make_labs_check_passes_when_labs_are_up_to_date(course_copy):
    _, _, make_labs = course_copy
    result = make_labs("--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_make_labs_check_names_stale_and_orphan_labs_without_writing(course_copy):
    root, name, make_labs = course_copy
    lab = root / "labs" / name
    edited = lab.read_text(encoding="utf-8").replace("raise NotImplementedError", "pass  # edited by hand", 1)
    assert edited != lab.read_text(encoding="utf-8")
    lab.write_text(edited, encoding="utf-8")
    orphan = root / "labs" / "lab99_no_solution.ipynb"
    orphan.write_text("{}", encoding="utf-8")
    result = make_labs("--check")
    assert result.returncode == 1
    assert f"out of date: labs/{name}" in result.stdout
    assert "out of date: labs/lab99_no_solution.ipynb" in result.stdout
    assert lab.read_text(encoding="utf-8") == edited and orphan.exists(), "--check must not write"


# ------------------------------------------------------------------------------------------------
# The book's issues button, root files kept out of the book, the changelog

def test_book_has_an_issues_button_for_errata():
    assert CONFIG["html"]["use_issues_button"] is True
    assert REPOSITORY_URL.startswith("https://github.com/"), "the issues button links to GitHub issues"


def test_markdown_files_at_the_root_are_not_book_pages():
    """Sphinx with -W fails on a .md file that is in no toctree, unless it is excluded."""
    assert CONFIG.get("only_build_toc_files") is True, (
        "without only_build_toc_files, add README.md, CONTRIBUTING.md, CHANGELOG.md to exclude_patterns")
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    for path in ROOT.glob("*.md"):
        assert path.stem not in re.findall(r"file:\s*(\S+)", toc), f"{path.name} is in _toc.yml"


def test_changelog_keeps_an_unreleased_section_and_the_current_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in text
    version = _project_version()
    assert f"## [{version}]" in text, f"CHANGELOG.md has no section for version {version} of pyproject.toml"


# ------------------------------------------------------------------------------------------------
# GitHub Actions workflows for forks (they cannot run here: only their structure is checked)

WORKFLOWS = ROOT / ".github" / "workflows"


def _workflow(name):
    workflow = _yaml(WORKFLOWS / name)
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def test_colab_image_workflow_runs_the_solutions_in_colabs_image_when_enabled():
    workflow = _workflow("colab-image.yml")
    assert set(workflow["on"]) == {"workflow_dispatch", "schedule"}
    job = workflow["jobs"]["solutions"]
    assert "workflow_dispatch" in job["if"], "a scheduled run must be opt-in for a fork"
    assert job["env"]["IMAGE"].startswith("us-docker.pkg.dev/colab-images/public/runtime")
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert "-r requirements-colab.txt" in script and 'tf-keras==${tf_minor}.*' in script, (
        "install what Colab lacks the way the setup cell does (scripts/notebook_template.py)")
    assert "pytest solutions" in script


def test_pages_workflow_builds_the_book_and_deploys_it_with_the_official_actions():
    workflow = _workflow("pages.yml")
    assert "workflow_dispatch" in workflow["on"]
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    runs = [step.get("run", "") for step in build["steps"]]
    assert any("jupyter-book build . -W -n --keep-going" in run for run in runs)
    assert any("python scripts/i18n.py build-zh" in run for run in runs), "publish the Chinese edition too"
    site = [run for run in runs if "_build/html _build/html-zh" in run]
    assert site, "both editions side by side, as their language switches expect (html/ ↔ html-zh/)"
    upload = [s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@")]
    assert upload and upload[0]["with"]["path"] == "_site"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])


def test_contributing_explains_the_workflows():
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    for name in ("colab-image.yml", "pages.yml"):
        assert name in text, f"CONTRIBUTING.md does not explain .github/workflows/{name}"
