#!/usr/bin/env python
"""Execute solution notebooks top to bottom on a fresh kernel and save them with outputs.

Every solution must be committed executed in order (execution counts 1..n); the
hygiene test checks it. After running, regenerate the labs: ``python scripts/make_labs.py``.

Usage:  python scripts/run_solutions.py                       # every solution
        python scripts/run_solutions.py solutions/lab01_weight_pruning.ipynb
"""

import argparse
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run(path, timeout=600):
    """Execute one notebook in its own folder with a fresh ``python3`` kernel; return seconds."""
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    nbformat.write(notebook, path)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=pathlib.Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "solutions").glob("*.ipynb"))
    for path in paths:
        print(f"{path}: {run(path.resolve()):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
