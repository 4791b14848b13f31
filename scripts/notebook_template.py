#!/usr/bin/env python
"""The parts every lab notebook shares, kept in one place.

``SETUP_CELL`` is the source of the setup cell (design §5, step 3). The hygiene test
checks that every notebook's setup cell is exactly this text (with the repository
address of ``_config.yml``, which ``make_labs.py`` writes in). Copy it when you start
a new lab.

On Colab (detected by the ``google.colab`` module that Colab's kernel has imported) the
cell clones the course first, then installs what Colab lacks in one pip command:
the pins of ``requirements-colab.txt`` (tfmot, dp-accounting, tenseal, ai-edge-litert; a
test keeps them equal to ``requirements.txt``) and a ``tf-keras`` matched to the
TensorFlow that Colab already has. ``tests/test_colab_setup.py`` runs this branch offline.

When ``SETUP_CELL`` changes, bring the solutions' setup cells up to date (only that cell's
source changes; outputs and execution counts stay) and regenerate the labs::

    python scripts/notebook_template.py solutions/*.ipynb && python scripts/make_labs.py
"""

import argparse
import pathlib
import re
import sys

SETUP_CELL = '''# Setup — run this cell first. Locally it finds the course's `utils` package;
# on Colab it clones the course and installs only what Colab lacks.
import os, subprocess, sys

REPO_URL = "https://github.com/pruning-course/pruning-security-course.git"  # set in _config.yml
if "google.colab" in sys.modules:
    if not os.path.isdir("course"):
        subprocess.run(["git", "clone", "--depth", "1", REPO_URL, "course"], check=True)
    from importlib.metadata import version
    tf_minor = ".".join(version("tensorflow").split(".")[:2])  # tf-keras must match TensorFlow
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", "course/requirements-colab.txt",
                    f"tf-keras=={tf_minor}.*"], check=True)
    sys.path.insert(0, os.path.abspath("course"))
else:
    sys.path.insert(0, os.path.abspath(".."))  # the repository root, above labs/ and solutions/

import utils  # sets TF_USE_LEGACY_KERAS=1 before TensorFlow loads (tfmot needs Keras 2)

utils.set_seed(0)'''

_REPO_URL = re.compile(r'REPO_URL = "([^"]*)"')


def is_setup_cell(cell):
    """Whether ``cell`` is a notebook's setup cell (a code cell that sets ``REPO_URL``)."""
    return cell.cell_type == "code" and _REPO_URL.search(cell.source) is not None


def setup_source(repo_url):
    """``SETUP_CELL`` with ``REPO_URL`` set to ``repo_url`` (``https://github.com/org/repo``)."""
    return _REPO_URL.sub(f'REPO_URL = "{repo_url.rstrip("/")}.git"', SETUP_CELL)


def update_setup_cell(path, repo_url):
    """Replace the source of the setup cell of the notebook at ``path`` with ``SETUP_CELL``.

    Only that cell's source changes: outputs, execution counts, ids and metadata stay, so an
    executed solution stays executed. Returns True if the file changed.

    Raises:
        ValueError: if the notebook has no setup cell.
    """
    import nbformat

    import make_labs

    text = path.read_text(encoding="utf-8")
    notebook = nbformat.reads(text, as_version=4)
    cells = [cell for cell in notebook.cells if is_setup_cell(cell)]
    if not cells:
        raise ValueError(f"{path}: no setup cell (a code cell with REPO_URL = \"...\")")
    cells[0].source = setup_source(repo_url)
    new_text = make_labs._dump(notebook)  # the exact format make_labs.py writes
    if new_text == text:
        return False
    path.write_text(new_text, encoding="utf-8")
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Rewrite the setup cell of solution notebooks to SETUP_CELL "
                    "(then run python scripts/make_labs.py).")
    parser.add_argument("notebooks", nargs="+", type=pathlib.Path)
    args = parser.parse_args(argv)
    import make_labs  # beside this script

    repo_url = make_labs.repository_url()
    for path in args.notebooks:
        changed = update_setup_cell(path, repo_url)
        print(f"{'updated' if changed else 'unchanged'}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
