"""The setup cell's Colab branch, run offline, and what it installs (requirements-colab.txt).

Colab cannot be reached from CI, so the Colab branch of ``notebook_template.SETUP_CELL`` runs
here in conditions made to look like Colab:

* a fresh virtual environment whose only packages are those of the environment running the
  tests, made visible through a ``.pth`` file: they play the part of Colab's preinstalled
  TensorFlow, NumPy, … (in CI and for an author, everything of requirements.txt is installed);
* a stand-in ``google.colab`` module in ``sys.modules``, which is how the cell detects Colab;
* ``REPO_URL`` pointing at a local git repository made from this working tree (``utils/`` and
  ``requirements-colab.txt``), so ``git clone`` needs no network;
* pip with no index and no configuration files, so it resolves against what is installed and
  fails if the cell asks for anything that is not: its "Requirement already satisfied" is the
  proof that the cell's pip command, with its pins and the matched ``tf-keras``, resolves.
"""

import ast
import importlib.metadata
import json
import os
import pathlib
import re
import shutil
import site
import subprocess
import sys
import sysconfig

import pytest

from notebook_template import SETUP_CELL, setup_source

ROOT = pathlib.Path(__file__).resolve().parent.parent

# What the notebooks need that is already on Colab (not reinstalled there).
COLAB_HAS = {"tensorflow", "tf-keras", "keras", "numpy", "scipy", "scikit-learn", "threadpoolctl",
             "pandas", "matplotlib", "pillow", "tqdm", "ipython", "ipykernel"}
# Pinned in requirements.txt only to make the resolver's choice explicit; on Colab pip brings them
# as dependencies of requirements-colab.txt's packages (attrs < 24 for dp-accounting,
# backports.strenum for ai-edge-litert).
DEPENDENCIES = {"attrs", "backports-strenum"}
# Pinned in requirements.txt for the book, the tests or JupyterLab, not imported by the notebooks.
NOT_FOR_NOTEBOOKS = {"jupyter-book", "sphinx", "myst-nb", "myst-parser", "sphinx-book-theme",
                     "sphinxcontrib-bibtex", "sphinx-exercise", "docutils", "jupyter-cache",
                     "sphinx-mathjax-offline", "nbformat", "nbclient", "jupyterlab", "notebook", "pytest",
                     "pytest-xdist", "nbval", "hypothesis", "ruff", "selenium",
                     "adversarial-robustness-toolbox",
                     "sphinx-intl", "babel"}  # the Chinese edition's catalogues (utils reads .po itself)


def _name(name):
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path):
    """``{normalised name: version}`` of the ``name==version`` lines of a requirements file."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
        assert match, f"{path.name}: '{line}' is not an exact pin (name==version)"
        pins[_name(match.group(1))] = match.group(2)
    return pins


COLAB_PINS = _pins(ROOT / "requirements-colab.txt")


def test_colab_pins_equal_requirements_txt():
    pins = _pins(ROOT / "requirements.txt")
    assert COLAB_PINS, "requirements-colab.txt has no pins"
    for name, version in COLAB_PINS.items():
        assert name in pins, f"{name} is in requirements-colab.txt but not in requirements.txt"
        assert pins[name] == version, (
            f"{name}: requirements-colab.txt pins {version}, requirements.txt pins {pins[name]}")
    assert "tf-keras" not in COLAB_PINS, "the setup cell installs tf-keras matched to Colab's TensorFlow"


def test_every_pin_of_requirements_txt_is_placed_for_colab():
    """A new pin in requirements.txt must be put in requirements-colab.txt or in a list here."""
    groups = (set(COLAB_PINS), COLAB_HAS, DEPENDENCIES, NOT_FOR_NOTEBOOKS)
    unplaced = [name for name in _pins(ROOT / "requirements.txt") if not any(name in g for g in groups)]
    assert not unplaced, (
        f"{unplaced}: does Colab have it? If a notebook needs it and Colab lacks it, add its pin to "
        "requirements-colab.txt; otherwise add it to COLAB_HAS, DEPENDENCIES or NOT_FOR_NOTEBOOKS "
        "in tests/test_colab_setup.py")


def _imports(source):
    """Top-level module names imported by Python ``source`` (IPython magics ignored)."""
    source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _notebook_imports():
    """``{module: first file importing it}`` for utils/ and the solution notebooks."""
    found = {}
    for path in sorted((ROOT / "utils").rglob("*.py")):
        for name in _imports(path.read_text(encoding="utf-8")):
            found.setdefault(name, path.relative_to(ROOT))
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                for name in _imports("".join(cell["source"])):
                    found.setdefault(name, path.relative_to(ROOT))
    return found


def test_everything_the_notebooks_import_is_on_colab_or_in_requirements_colab():
    distributions = importlib.metadata.packages_distributions()
    covered = set(COLAB_PINS) | COLAB_HAS | DEPENDENCIES
    missing = []
    for module, where in sorted(_notebook_imports().items()):
        if module in sys.stdlib_module_names or module in {"utils", "google"}:
            continue  # google.colab is Colab's own
        names = {_name(d) for d in distributions.get(module, [])}
        assert names, f"{where} imports {module}, which no installed distribution provides"
        if not names & covered:
            missing.append(f"{module} ({sorted(names)}, imported by {where})")
    assert not missing, f"not on Colab and not in requirements-colab.txt: {missing}"


# ------------------------------------------------------------------------------------------------
# The Colab branch, executed.

PRELUDE = '''import sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")  # how the setup cell detects Colab
'''
REPORT = '''
import json
from importlib.metadata import version
print("REPORT " + json.dumps({"utils": utils.__file__, "cwd": os.getcwd(),
                              "tensorflow": version("tensorflow"), "tf-keras": version("tf-keras"),
                              "pins": {name: version(name) for name in %r}}))
'''


GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "-c", "init.defaultBranch=main"]


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """``run(cell, extra_requirement="")`` → the finished process of ``cell`` run on "Colab"."""
    tmp = tmp_path_factory.mktemp("colab")
    assert shutil.which("git"), "git is needed to test the Colab setup cell"
    # "Colab's" Python: a venv that sees the packages of the environment running the tests.
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = pathlib.Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    parents = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib"),
                             *site.getsitepackages()])
    (purelib / "colab_preinstalled.pth").write_text("\n".join(parents) + "\n", encoding="utf-8")
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_NO_INPUT="1", PYTHONNOUSERSITE="1", GIT_TERMINAL_PROMPT="0", TF_CPP_MIN_LOG_LEVEL="2")

    def run(name, *, runs=1, extra_requirement=""):
        """The setup cell, ``runs`` times in one process, in ``tmp/name`` ("/content" on Colab)."""
        # The "GitHub" repository: this working tree's utils/ and requirements-colab.txt, committed.
        origin = tmp / name / "course-origin.git"
        shutil.copytree(ROOT / "utils", origin / "utils", ignore=shutil.ignore_patterns("__pycache__"))
        requirements = (ROOT / "requirements-colab.txt").read_text(encoding="utf-8") + extra_requirement
        (origin / "requirements-colab.txt").write_text(requirements, encoding="utf-8")
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
            subprocess.run([*GIT, *args], cwd=origin, check=True, capture_output=True)
        cell = setup_source("file://" + str(tmp / name / "course-origin"))
        assert cell.count("REPO_URL = ") == 1 and f'"file://{origin}"' in cell
        content = tmp / name / "content"
        content.mkdir()
        code = PRELUDE + "\n".join([cell] * runs) + REPORT % sorted(COLAB_PINS)
        result = subprocess.run([str(python), "-c", code], cwd=content, env=env, capture_output=True,
                                text=True, timeout=180)
        return result, content

    return run


def test_colab_branch_clones_installs_nothing_missing_and_imports_utils(colab):
    # Twice in one kernel, as a student who re-runs the setup cell (the clone is then skipped).
    result, content = colab("ok", runs=2)
    assert result.returncode == 0, f"the setup cell failed on 'Colab':\n{result.stdout}\n{result.stderr}"
    report = json.loads(result.stdout.split("REPORT ", 1)[1])
    assert (content / "course" / "requirements-colab.txt").is_file(), "the course was not cloned"
    assert pathlib.Path(report["utils"]).resolve().is_relative_to((content / "course").resolve()), (
        f"utils came from {report['utils']}, not from the clone")
    assert report["pins"] == COLAB_PINS, "the installed versions differ from requirements-colab.txt"
    assert report["tf-keras"].split(".")[:2] == report["tensorflow"].split(".")[:2]


def test_colab_branch_fails_loudly_when_a_pin_cannot_be_installed(colab):
    """The check above means something: a pin that pip cannot satisfy makes the cell raise."""
    result, content = colab("bad-pin", extra_requirement="tenseal==0.0.0\n")
    assert result.returncode != 0, result.stdout
    assert "CalledProcessError" in result.stderr and "tenseal" in result.stderr, result.stderr[-2000:]
    assert (content / "course").is_dir(), "the clone comes first"


def test_setup_cell_installs_requirements_colab_after_cloning():
    clone = SETUP_CELL.index('"git", "clone"')
    install = SETUP_CELL.index('"course/requirements-colab.txt"')
    assert clone < install, "the setup cell must clone the course before installing its requirements"
    assert 'f"tf-keras=={tf_minor}.*"' in SETUP_CELL
