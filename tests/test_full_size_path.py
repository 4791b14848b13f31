"""The instructor's full-size path, run offline: ``DATASET = "mnist"``, ``FULL = True``.

An instructor switches a lab to full size by editing its ``parameters`` cell. MNIST then comes
from Keras's dataset cache (``~/.keras/datasets/mnist.npz``, downloaded once). This test takes
that path without a network and without touching the real ``~/.keras``:

1. it writes an MNIST-format ``mnist.npz`` (uint8 images 28×28, the four Keras keys) into a
   temporary home directory, built from the embedded *digits* (``load_dataset("digits")``,
   already in MNIST's 28×28 layout), repeated to have enough rows for the loader's 5,000-image
   validation split;
2. it edits Lab 01's ``parameters`` cell as an instructor would (``DATASET = "mnist"``,
   ``FULL = True``), then adds one cell after it that keeps the epochs short (the full-size
   epoch counts only change how long training takes, not which code runs);
3. it runs the solution on a fresh kernel whose ``HOME`` and ``KERAS_HOME`` are the temporary
   home, with Python's sockets disabled, up to and including the cell that trains the first
   model: in Lab 01, as in every lab, ``DATASET`` and ``FULL`` are read only there and in the
   ``parameters`` cell, so this covers the cells that the switch changes.

The kernel cannot reach the network: a first cell replaces ``socket.getaddrinfo`` and
``socket.socket.connect``, so a Keras download would fail with ``DatasetUnavailableError`` (the
last test checks that it does). The notebook file is never written.

Note: only the course's loader (``utils.data``) accepts this file; ``keras.datasets.mnist.load_data``
checks the download's SHA-256 and would try to fetch the real one.
"""

import json
import os
import pathlib
import re

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from utils import data

ROOT = pathlib.Path(__file__).resolve().parent.parent
LAB = ROOT / "solutions" / "lab01_weight_pruning.ipynb"
TRAIN_ROWS, TEST_ROWS = 7000, 1000   # the loader holds out 5,000 training rows for validation
SHORT = "EPOCHS, PRUNE_EPOCHS = 1, 1  # the test's override: the full-size branch, one epoch"

OFFLINE_CELL = '''\
import socket

def _no_network(*args, **kwargs):
    raise OSError(f"network access in an offline test: {args!r}")

socket.getaddrinfo = socket.socket.connect = socket.socket.connect_ex = _no_network'''

REPORT_CELL = '''\
import json
print(json.dumps({"name": dataset.name, "full": FULL, "full_epochs": FULL_EPOCHS,
                  "train": len(dataset.y_train), "val": len(dataset.y_val), "test": len(dataset.y_test),
                  "input_shape": list(dataset.input_shape), "classes": dataset.num_classes,
                  "accuracy": float(dense_acc), "cache": data.KERAS_CACHE}))'''


def write_fake_mnist(folder, train_rows=TRAIN_ROWS, test_rows=TEST_ROWS):
    """Write ``folder/mnist.npz`` in the Keras format, made from the embedded digits.

    Keys ``x_train`` (uint8, ``(train_rows, 28, 28)``), ``y_train`` (uint8, ``(train_rows,)``),
    ``x_test`` and ``y_test`` likewise. Training rows repeat the digits' train and validation
    splits, test rows repeat their test split, so no test image is a training image.
    """
    digits = data.load_dataset("digits")

    def repeat(x, y, rows):
        index = np.resize(np.arange(len(y)), rows)  # 0, 1, …, n-1, 0, 1, … (rows in all)
        images = np.round(x[index, ..., 0] * 255).astype(np.uint8)
        return images, y[index].astype(np.uint8)

    x_train, y_train = repeat(np.concatenate([digits.x_train, digits.x_val]),
                              np.concatenate([digits.y_train, digits.y_val]), train_rows)
    x_test, y_test = repeat(digits.x_test, digits.y_test, test_rows)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return folder / "mnist.npz"


def _parameters(nb):
    """The notebook's cell tagged ``parameters``."""
    return next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))


def full_size_notebook(path=LAB):
    """Lab ``path`` switched to full size, cut after its first training cell.

    Returns the notebook (in memory) with: the offline cell first, the ``parameters`` cell
    edited to ``DATASET = "mnist"`` / ``FULL = True``, an override cell after it, and a report
    cell after the first cell that calls ``training.train(``.
    """
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    params = cells.index(_parameters(nb))
    source = cells[params].source
    for old, new in (('DATASET = "digits"', 'DATASET = "mnist"'), ("FULL = False", "FULL = True")):
        assert len(re.findall(re.escape(old), source)) == 1, f"{path.name}: no single `{old}` in:\n{source}"
        source = source.replace(old, new)
    cells[params].source = source
    train = next(i for i, c in enumerate(cells)
                 if i > params and c.cell_type == "code" and "training.train(" in c.source)
    code = nbformat.v4.new_code_cell
    nb.cells = ([code(OFFLINE_CELL)] + cells[:params + 1]
                + [code(f"FULL_EPOCHS = EPOCHS\n{SHORT}")] + cells[params + 1:train + 1]
                + [code(REPORT_CELL)])
    return nb


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A temporary home directory whose Keras cache holds the MNIST-format file."""
    home = tmp_path_factory.mktemp("home")
    write_fake_mnist(home / ".keras" / "datasets")
    return home


@pytest.fixture(scope="module")
def kernel_run(home):
    """Run the full-size notebook on a fresh kernel; yields (client, report of its last cell)."""
    nb = full_size_notebook()
    env = {**os.environ, "HOME": str(home), "KERAS_HOME": str(home / ".keras"),
           "MPLCONFIGDIR": str(home / ".matplotlib"),
           # a second guard: anything that honours proxies goes nowhere
           "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(LAB.parent)}})
    with client.setup_kernel(env=env):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, index)  # raises CellExecutionError on any error
        report = json.loads("".join(o.get("text", "") for o in nb.cells[-1].outputs
                                    if o.output_type == "stream" and o.name == "stdout"))
        yield client, report


def test_fake_mnist_has_the_keras_format(tmp_path):
    path = write_fake_mnist(tmp_path, train_rows=5100, test_rows=200)
    with np.load(path) as f:
        assert sorted(f.files) == ["x_test", "x_train", "y_test", "y_train"]
        assert f["x_train"].shape == (5100, 28, 28) and f["x_train"].dtype == np.uint8
        assert f["y_test"].shape == (200,) and f["y_test"].dtype == np.uint8
        assert f["x_train"].max() == 255 and set(np.unique(f["y_train"])) == set(range(10))
    mnist = data.load_dataset("mnist", cache_dir=str(tmp_path))
    assert (len(mnist.y_train), len(mnist.y_val), len(mnist.y_test)) == (100, 5000, 200)


def test_full_size_branch_loads_mnist_from_the_cache_and_trains(kernel_run, home):
    _, report = kernel_run
    assert report["cache"] == str(home / ".keras" / "datasets"), "the kernel did not use the temporary home"
    assert report["name"] == "mnist" and report["full"] is True
    # The edited parameters cell chose the full-size epoch count, as it would without the override.
    full, default = {}, {}
    exec(_parameters(full_size_notebook()).source, full)  # plain assignments
    exec(_parameters(nbformat.read(LAB, as_version=4)).source, default)
    assert report["full_epochs"] == full["EPOCHS"] != default["EPOCHS"]
    assert (report["train"] + report["val"], report["test"]) == (TRAIN_ROWS, TEST_ROWS)
    assert report["val"] == 5000
    assert report["input_shape"] == [28, 28, 1] and report["classes"] == 10
    # One epoch on 2,000 digit images: far above chance (10 %) when images and labels match.
    assert report["accuracy"] > 0.5, f"test accuracy {report['accuracy']:.1%} after one epoch"


def test_the_kernel_really_is_offline(kernel_run, home):
    """Without a cached file, the same kernel's loader must try to download, and fail."""
    client, _ = kernel_run
    empty = home / "empty"
    empty.mkdir()  # get_file falls back to /tmp/.keras when its cache_dir is not writable
    cell = nbformat.v4.new_code_cell(
        "try:\n"
        f"    data.load_dataset('mnist', cache_dir={str(empty / 'datasets')!r})\n"
        "except data.DatasetUnavailableError as error:\n"
        "    print(error)")
    client.nb.cells.append(cell)
    client.execute_cell(cell, len(client.nb.cells) - 1)
    printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    assert "network access in an offline test" in printed, printed
