#!/usr/bin/env python
"""The Chinese edition (中文版): Sphinx's own translation workflow, driven from ``_config.yml``.

The English sources are the only sources. Their translatable messages (one per paragraph, heading,
list item, table cell …) are extracted by Sphinx's ``gettext`` builder and kept, translated, in
``locales/zh_CN/LC_MESSAGES/<page>.po`` (one catalogue per page, as in the Python docs), managed
with ``sphinx-intl``. Sphinx reads those catalogues when it builds with ``language = zh_CN``. A
changed English paragraph is a new message: it shows up as untranslated, never as a stale copy.

Usage:
    python scripts/i18n.py extract     # messages → _build/gettext/*.pot → update locales/ (sphinx-intl)
    python scripts/i18n.py status      # per catalogue: messages, untranslated, fuzzy, obsolete
    python scripts/i18n.py build-zh    # the Chinese book → _build/html-zh/ (with -W, like the English one)

The English book is built as before (``jupyter-book build . -W -n --keep-going`` → ``_build/html/``).
Both editions share the execution cache ``_build/.jupyter_cache``: the chapters' code cells are the
same in both, so the Chinese build reuses the English build's outputs instead of running them again.
"""

import argparse
import pathlib
import shutil
import subprocess
import sys
import tempfile

import nbformat
import yaml
from babel.messages.catalog import Catalog

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from code_messages import notebook_templates, utils_templates  # noqa: E402 (scripts/ is not a package)
from po_catalogue import catalogues, print_status, read, write  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
LANGUAGE = "zh_CN"
LOCALES = ROOT / "locales"
CATALOGUES = LOCALES / LANGUAGE / "LC_MESSAGES"
BUILD = ROOT / "_build"
POT_DIR = BUILD / "gettext"
HTML_ZH = BUILD / "html-zh"
SHARED_CACHE = BUILD / ".jupyter_cache"  # Jupyter Book's default cache of the English build
TITLE_ZH = "神经网络剪枝：效率与安全"


def base_config():
    """``_config.yml`` as a dict: the one configuration both editions start from.

    Its local extensions are given by absolute path, since the derived configuration is written elsewhere.
    """
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    extensions = config["sphinx"].get("local_extensions", {})
    config["sphinx"]["local_extensions"] = {name: str(ROOT / path) for name, path in extensions.items()}
    return config


def gettext_config():
    """The configuration of the extraction build: the English book, chapters not executed.

    Outputs are not translated, so extraction needs no execution (it takes seconds, not minutes).
    """
    config = base_config()
    config["execute"]["execute_notebooks"] = "off"
    return config


def chinese_config():
    """The Chinese edition's configuration: ``language`` and ``locale_dirs`` on top of the English one."""
    config = base_config()
    config["title"] = TITLE_ZH
    config["execute"]["cache"] = str(SHARED_CACHE)
    sphinx_config = config["sphinx"]["config"]
    sphinx_config["language"] = LANGUAGE
    sphinx_config["locale_dirs"] = [str(LOCALES)]
    return config


def _jupyter_book(config, path_output, *extra):
    """Run ``jupyter-book build`` on the repository with ``config`` (a dict), output under ``path_output``."""
    with tempfile.NamedTemporaryFile("w", suffix=".yml", encoding="utf-8", delete=False) as handle:
        yaml.safe_dump(config, handle, allow_unicode=True, sort_keys=False)
    try:
        command = ["jupyter-book", "build", str(ROOT), "--config", handle.name,
                   "--path-output", str(path_output), *extra]
        return subprocess.run(command, check=False).returncode
    finally:
        pathlib.Path(handle.name).unlink()


def extract(pot_dir=POT_DIR):
    """Extract the English messages into ``pot_dir`` (one ``.pot`` per page) with the gettext builder."""
    scratch = BUILD / "gettext-build"  # inside the repository, so the catalogues' locations are relative
    if scratch.exists():
        shutil.rmtree(scratch)  # read every page afresh: a cached page would keep yesterday's messages
    code = _jupyter_book(gettext_config(), scratch, "--builder", "custom", "--custom-builder", "gettext")
    if code:
        raise SystemExit(f"the gettext build failed (exit {code})")
    if pot_dir.exists():
        shutil.rmtree(pot_dir)
    shutil.copytree(scratch / "_build" / "gettext", pot_dir)
    return sorted(pot_dir.rglob("*.pot"))


def extract_code(pot_dir=POT_DIR):
    """What code shows (``scripts/code_messages.py``) → ``pot_dir/code/``: a .pot per lab, one for utils."""
    code_dir = pot_dir / "code"
    (code_dir / "labs").mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        catalogue = Catalog(project=TITLE_ZH, fuzzy=False)
        for text in notebook_templates(nbformat.read(path, as_version=4)):
            catalogue.add(text, locations=[(f"solutions/{path.name}", 0)])
        write(catalogue, code_dir / "labs" / f"{path.stem}.pot")
    catalogue = Catalog(project=TITLE_ZH, fuzzy=False)
    for text, location in utils_templates(ROOT).items():
        catalogue.add(text, locations=[location])
    write(catalogue, code_dir / "utils.pot")


def update_catalogues(pot_dir=POT_DIR):
    """``sphinx-intl update``: new messages added (untranslated), changed ones fuzzy, gone ones dropped.

    sphinx-intl keeps a removed message as an obsolete entry (``#~``); it is dropped here, so that a
    catalogue holds exactly the messages of today's source (git keeps the old translations).
    """
    subprocess.run(["sphinx-intl", "update", "-p", str(pot_dir), "-d", str(LOCALES), "-l", LANGUAGE,
                    "--line-width", "-1"], check=True)
    for path in catalogues(CATALOGUES):
        catalogue = read(path)
        if catalogue.obsolete:
            catalogue.obsolete.clear()
            write(catalogue, path)


def build_chinese(output=HTML_ZH):
    """Build the Chinese book into ``output`` with warnings as errors (the English build's flags)."""
    scratch = BUILD / "zh"
    code = _jupyter_book(chinese_config(), scratch, "-W", "-n", "--keep-going")
    if code:
        raise SystemExit(f"the Chinese build failed (exit {code})")
    if output.exists():
        shutil.rmtree(output)
    shutil.copytree(scratch / "_build" / "html", output)
    print(f"The Chinese edition is in {output.relative_to(ROOT)}/ (open index.html).")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["extract", "status", "build-zh"])
    args = parser.parse_args(argv)
    if args.command == "extract":
        extract()
        extract_code()
        update_catalogues()
    elif args.command == "build-zh":
        build_chinese()
    else:
        print_status(CATALOGUES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
