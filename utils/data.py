"""Datasets for the labs.

Every default runs offline:

* ``"digits"`` — scikit-learn's 8×8 handwritten digits (1,797 real images that ship
  inside scikit-learn), enlarged to MNIST's format: each digit is resized to 20×20 and
  centred in a 28×28 frame, one channel, values in [0, 1].
* ``"mnist"`` and ``"fashion_mnist"`` — the real 70,000-image sets. They are downloaded
  by Keras the first time and cached in ``~/.keras/datasets``; without a network (and
  without a cached copy) :func:`load_dataset` raises :class:`DatasetUnavailableError`
  that names the embedded alternative.
* ``"sequences"`` — a generated sequence task for RNNs and Transformers
  (:func:`make_sequences`): find the marked symbols among distractors.
* ``"breast_cancer"`` — scikit-learn's Wisconsin diagnostic breast-cancer set (569 real
  patients, 30 features of cell nuclei), standardised; label 1 = malignant.
* ``"traffic_signs"`` — generated RGB traffic signs with nuisances and rare classes
  (:func:`utils.traffic_signs.make_traffic_signs`).
* ``"transactions"`` — generated, imbalanced card transactions with customer ids
  (:func:`utils.transactions.make_transactions`).

All loaders return a :class:`Dataset` with a stratified train / validation / test split
(both defined in :mod:`utils.dataset`, which the generators build on too; ``utils.data.Dataset``
is the same class).
"""

import gzip
import os

import numpy as np
from scipy import ndimage
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split

from . import keras
from ._validate import check_choice, check_int
from .dataset import Dataset, stratified_split
from .traffic_signs import make_traffic_signs
from .transactions import make_transactions

__all__ = ["Dataset", "DatasetUnavailableError", "load_dataset", "DATASETS", "DIGIT_NAMES",
           "make_sequences", "load_breast_cancer_set"]

DIGIT_NAMES = tuple(str(d) for d in range(10))
FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
KERAS_CACHE = os.path.join(os.path.expanduser("~"), ".keras", "datasets")


class DatasetUnavailableError(RuntimeError):
    """A dataset that must be downloaded is neither cached nor downloadable."""


def _digits_to_28x28(images):
    """Resize 8×8 digits (values 0–16) to MNIST's layout: a 20×20 digit centred in 28×28, in [0, 1].

    Args:
        images: array of shape ``(n, 8, 8)``.
    Returns:
        float32 array of shape ``(n, 28, 28, 1)``.
    """
    scaled = images.astype(np.float32) / 16.0
    resized = ndimage.zoom(scaled, (1, 20 / 8, 20 / 8), order=1)  # bilinear
    framed = np.zeros((len(images), 28, 28), np.float32)
    framed[:, 4:24, 4:24] = np.clip(resized, 0.0, 1.0)
    return framed[..., None]


def _load_digits(seed, val_fraction=0.1, test_fraction=0.2):
    bunch = load_digits()
    x = _digits_to_28x28(bunch.images)
    y = bunch.target.astype(np.int64)
    parts = stratified_split(x, y, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    return Dataset(*parts, class_names=DIGIT_NAMES, name="digits")


def _read_idx(path):
    """Read one gzipped IDX file (the MNIST / Fashion-MNIST format) into a uint8 array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _download_error(name, error):
    return DatasetUnavailableError(
        f"Could not load {name!r}: it is not cached in {KERAS_CACHE} and downloading it failed "
        f"({type(error).__name__}: {error}). Work offline with the embedded dataset instead: "
        f"load_dataset('digits')."
    )


def _mnist_arrays(cache_dir):
    """(x_train, y_train, x_test, y_test) of MNIST: the cached Keras file, else a Keras download."""
    path = os.path.join(cache_dir, "mnist.npz")
    if not os.path.exists(path):
        try:
            path = keras.utils.get_file(
                "mnist.npz", "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
                cache_dir=os.path.dirname(cache_dir), cache_subdir=os.path.basename(cache_dir),
                file_hash="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")
        except Exception as error:  # no network, proxy, bad hash…
            raise _download_error("mnist", error) from error
    with np.load(path) as f:
        return f["x_train"], f["y_train"], f["x_test"], f["y_test"]


_FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                  "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def _fashion_arrays(cache_dir):
    """(x_train, y_train, x_test, y_test) of Fashion-MNIST, from the Keras cache or a download."""
    folder = os.path.join(cache_dir, "fashion-mnist")
    paths = [os.path.join(folder, f) for f in _FASHION_FILES]
    if not all(os.path.exists(p) for p in paths):
        try:
            base = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
            paths = [keras.utils.get_file(f, base + f, cache_dir=os.path.dirname(cache_dir),
                                          cache_subdir=os.path.join(os.path.basename(cache_dir),
                                                                    "fashion-mnist"))
                     for f in _FASHION_FILES]
        except Exception as error:
            raise _download_error("fashion_mnist", error) from error
    x_train, y_train, x_test, y_test = (_read_idx(p) for p in paths)
    return x_train, y_train, x_test, y_test


def _load_keras_set(name, seed, cache_dir=KERAS_CACHE, val_size=5000):
    seed = check_int(seed, "seed", minimum=0)
    arrays = _mnist_arrays if name == "mnist" else _fashion_arrays
    x_train, y_train, x_test, y_test = arrays(cache_dir)
    x_train = x_train.astype(np.float32)[..., None] / 255.0
    x_test = x_test.astype(np.float32)[..., None] / 255.0
    y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)
    val_size = check_int(val_size, "val_size", minimum=1, maximum=len(y_train) - 1)
    x_train, x_val, y_train, y_val = train_test_split(
        x_train, y_train, test_size=val_size, stratify=y_train, random_state=seed)
    names = DIGIT_NAMES if name == "mnist" else FASHION_NAMES
    return Dataset(x_train, y_train, x_val, y_val, x_test, y_test, class_names=names, name=name)


def make_sequences(n=4000, *, length=24, vocab=10, num_classes=4, markers=1, seed=0):
    """Generate the ``"sequences"`` task: remember the marked symbols of a sequence.

    The generative story of one example:

    1. draw ``length`` symbols uniformly from ``0 … vocab - 1``;
    2. choose ``markers`` distinct positions uniformly at random and write a *value* symbol
       (uniform in ``0 … num_classes - 1``) at each; these positions are *marked*;
    3. the label is the sum of the marked values modulo ``num_classes`` — with one marker,
       simply the marked symbol.

    Each step is encoded as ``vocab + 1`` numbers: the one-hot symbol and a 0/1 marker flag.
    Counting symbols does not solve the task (value symbols also appear unmarked, as
    distractors); a model must find the marked steps and carry their symbols to the end:
    memory for an LSTM, attention for a Transformer. With ``markers=2`` the two symbols must
    also be combined, which a small Transformer learns in seconds and an LSTM does not.

    Args:
        n: number of sequences (split stratified 70 / 10 / 20 % into train / val / test).
        length: steps per sequence (at least ``markers``).
        vocab: number of distinct symbols (at least ``num_classes``).
        num_classes: number of value symbols, i.e. classes (at least 2).
        markers: marked steps per sequence (at least 1).
        seed: seed of the generator and of the split; the same seed gives the same data.

    Returns:
        A :class:`Dataset` with float32 inputs of shape ``(n, length, vocab + 1)`` and int64
        labels in ``0 … num_classes - 1``.
    """
    num_classes = check_int(num_classes, "num_classes", minimum=2)
    markers = check_int(markers, "markers", minimum=1)
    length = check_int(length, "length", minimum=markers)
    vocab = check_int(vocab, "vocab", minimum=num_classes)
    n = check_int(n, "n", minimum=10 * num_classes)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    rows = np.arange(n)[:, None]
    tokens = rng.integers(0, vocab, size=(n, length))
    marked = np.argsort(rng.random((n, length)), axis=1)[:, :markers]  # distinct positions
    values = rng.integers(0, num_classes, size=(n, markers))
    tokens[rows, marked] = values
    x = np.zeros((n, length, vocab + 1), np.float32)
    x[..., :vocab] = np.eye(vocab, dtype=np.float32)[tokens]
    x[rows, marked, vocab] = 1.0
    labels = values.sum(axis=1) % num_classes
    parts = stratified_split(x, labels.astype(np.int64), val_fraction=0.1, test_fraction=0.2, seed=seed)
    names = tuple(f"value {c}" for c in range(num_classes))
    return Dataset(*parts, class_names=names, name="sequences")


def load_breast_cancer_set(seed=0, val_fraction=0.15, test_fraction=0.2):
    """The Wisconsin diagnostic breast-cancer data (Street, Wolberg & Mangasarian, 1993).

    569 patients, 30 real-valued features computed from a digitised image of a fine-needle
    aspirate (mean, standard error and worst value of ten properties of the cell nuclei:
    radius, texture, perimeter, area, …). The data ship inside scikit-learn, so this works
    offline. It is a small, clean teaching set, not a clinical validation set.

    Two changes from scikit-learn's version, both to make the lab read naturally:

    * labels are re-coded so that **1 = malignant** (the positive class a screening test
      looks for) and 0 = benign; scikit-learn uses the opposite;
    * features are standardised with the mean and standard deviation of the *training*
      split only (no information from the validation or test patients leaks into it).

    Args:
        seed: seed of the stratified split.
        val_fraction, test_fraction: shares of the 569 patients for validation and test.

    Returns:
        A :class:`Dataset` with float32 inputs of shape ``(n, 30)`` and int64 labels;
        ``class_names == ("benign", "malignant")``.
    """
    bunch = load_breast_cancer()
    y = (bunch.target == 0).astype(np.int64)  # scikit-learn: 0 = malignant, 1 = benign
    x = bunch.data.astype(np.float64)
    x_train, y_train, x_val, y_val, x_test, y_test = stratified_split(
        x, y, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    x_train, x_val, x_test = ((part - mean) / std for part in (x_train, x_val, x_test))
    parts = (x_train.astype(np.float32), y_train, x_val.astype(np.float32), y_val,
             x_test.astype(np.float32), y_test)
    return Dataset(*parts, class_names=("benign", "malignant"), name="breast_cancer")


DATASETS = {
    "digits": _load_digits,
    "mnist": lambda seed, **kw: _load_keras_set("mnist", seed, **kw),
    "fashion_mnist": lambda seed, **kw: _load_keras_set("fashion_mnist", seed, **kw),
    "sequences": lambda seed, **kw: make_sequences(seed=seed, **kw),
    "breast_cancer": load_breast_cancer_set,
    "traffic_signs": lambda seed, **kw: make_traffic_signs(seed=seed, **kw),
    "transactions": lambda seed, **kw: make_transactions(seed=seed, **kw),
}


def load_dataset(name, *, seed=0, **kw):
    """Load a dataset by name and split it (stratified) into train, validation and test sets.

    Args:
        name: one of ``DATASETS`` (all work offline except ``"mnist"`` and
            ``"fashion_mnist"``, which need a network the first time).
        seed: the seed of the split.
        **kw: options of the loader, e.g. ``val_fraction`` / ``test_fraction`` for
            ``"digits"``, ``val_size`` / ``cache_dir`` for the Keras sets.

    Returns:
        A :class:`Dataset`. The image sets are float32 in [0, 1] (``(n, 28, 28, 1)`` for the
        digit sets); the tabular sets are standardised float32 features.
    """
    check_choice(name, "name", sorted(DATASETS))
    return DATASETS[name](seed, **kw)
