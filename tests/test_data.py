"""Tests for utils.data: the named loaders (digits, MNIST files, breast cancer, sequences)."""

import gzip

import numpy as np
import pytest

from utils import data, keras
from utils.dataset import Dataset


def test_digits_shapes_ranges_and_split(digits):
    assert digits.input_shape == (28, 28, 1)
    assert digits.num_classes == 10
    sizes = [len(digits.y_train), len(digits.y_val), len(digits.y_test)]
    assert sum(sizes) == 1797
    assert sizes == [1257, 180, 360]
    for x in (digits.x_train, digits.x_val, digits.x_test):
        assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0  # 0–16 scaled to [0, 1]
    assert digits.x_train[:, :4].max() == 0.0  # MNIST-style empty border
    assert digits.y_train.dtype == np.int64


def test_digits_split_is_stratified(digits):
    train_share = np.bincount(digits.y_train) / len(digits.y_train)
    test_share = np.bincount(digits.y_test) / len(digits.y_test)
    assert np.abs(train_share - test_share).max() < 0.01


def test_digits_is_deterministic_per_seed():
    a, b, c = (data.load_dataset("digits", seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.y_train, b.y_train)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.y_train, c.y_train)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="name must be one of .*digits.*fashion_mnist.*mnist.*got 'cifar10'"):
        data.load_dataset("cifar10")


def test_dataset_is_the_shared_container():
    assert data.Dataset is Dataset   # utils.data re-exports the class of utils.dataset
    for name in data.DATASETS:
        assert callable(data.DATASETS[name])


def test_digits_fractions_are_checked():
    with pytest.raises(ValueError, match="val_fraction"):
        data.load_dataset("digits", val_fraction=0.0)
    with pytest.raises(TypeError, match="seed"):
        data.load_dataset("digits", seed="0")


def test_mnist_reads_the_keras_cache_format(tmp_path):
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    y_train = np.repeat(np.arange(10), 6).astype(np.uint8)
    x_test = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    y_test = np.repeat(np.arange(10), 2).astype(np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    mnist = data.load_dataset("mnist", cache_dir=str(tmp_path), val_size=10)
    assert (len(mnist.y_train), len(mnist.y_val), len(mnist.y_test)) == (50, 10, 20)
    assert mnist.input_shape == (28, 28, 1)
    assert mnist.x_test.max() <= 1.0
    np.testing.assert_allclose(mnist.x_test[..., 0], x_test / 255.0, rtol=1e-6)


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_the_keras_cache_format(tmp_path):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(10), 4)
    _write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (40, 28, 28)))
    _write_idx(folder / "train-labels-idx1-ubyte.gz", labels)
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (10, 28, 28)))
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(10))
    fashion = data.load_dataset("fashion_mnist", cache_dir=str(tmp_path), val_size=10)
    assert fashion.class_names[9] == "Ankle boot"
    assert (len(fashion.y_train), len(fashion.y_test)) == (30, 10)
    np.testing.assert_array_equal(fashion.y_test, np.arange(10))


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_offline_download_names_the_embedded_alternative(tmp_path, monkeypatch, name):
    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    with pytest.raises(data.DatasetUnavailableError, match="load_dataset\\('digits'\\)"):
        data.load_dataset(name, cache_dir=str(tmp_path / "empty"))


def test_bad_val_size_is_rejected(tmp_path):
    x = np.zeros((20, 28, 28), np.uint8)
    y = np.repeat(np.arange(10), 2).astype(np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    with pytest.raises(ValueError, match=r"val_size must be an int in \[1, 19\], got 0"):
        data.load_dataset("mnist", cache_dir=str(tmp_path), val_size=0)
    with pytest.raises(TypeError, match="val_size"):
        data.load_dataset("mnist", cache_dir=str(tmp_path), val_size=5.0)


def test_breast_cancer_is_real_standardised_and_positive_is_malignant():
    cancer = data.load_dataset("breast_cancer")
    assert cancer.class_names == ("benign", "malignant")
    assert cancer.input_shape == (30,)
    y_all = np.concatenate([cancer.y_train, cancer.y_val, cancer.y_test])
    assert len(y_all) == 569 and y_all.sum() == 212  # 212 malignant cases in the Wisconsin data
    np.testing.assert_allclose(cancer.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(cancer.x_train.std(axis=0), 1, atol=1e-4)
    for y in (cancer.y_train, cancer.y_val, cancer.y_test):  # stratified: about 37 % malignant
        assert abs(y.mean() - 212 / 569) < 0.02
    assert cancer.x_test.dtype == np.float32 and cancer.y_test.dtype == np.int64


def test_breast_cancer_split_depends_on_the_seed_only():
    a, b, c = (data.load_dataset("breast_cancer", seed=s) for s in (3, 3, 4))
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_test, c.x_test)


# --- the generated sequence task -----------------------------------------------------------------

def test_sequences_are_deterministic_and_shaped():
    a, b, c = (data.load_dataset("sequences", seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)
    assert a.input_shape == (24, 11) and a.num_classes == 4
    assert (len(a.y_train), len(a.y_val), len(a.y_test)) == (2800, 400, 800)
    assert a.x_train.dtype == np.float32 and a.y_train.dtype == np.int64
    np.testing.assert_array_equal(a.x_train[..., :10].sum(axis=-1), 1.0)  # one symbol per step


@pytest.mark.parametrize("markers", [1, 2])
def test_sequence_labels_follow_the_generative_story(markers):
    seqs = data.load_dataset("sequences", n=400, length=12, markers=markers, seed=3)
    flags = seqs.x_train[..., -1]
    assert np.all(flags.sum(axis=1) == markers)
    symbols = seqs.x_train[..., :-1].argmax(axis=-1)
    marked_sum = (symbols * flags).sum(axis=1).astype(int)
    np.testing.assert_array_equal(marked_sum % 4, seqs.y_train)
    assert np.all(symbols[flags == 1] < 4)  # marked steps hold value symbols
    counts = np.bincount(seqs.y_train, minlength=4)
    assert counts.min() > 0.15 * counts.sum()


@pytest.mark.parametrize("kwargs, match", [
    ({"markers": 0}, r"markers must be a positive int, got 0"),
    ({"num_classes": 1}, r"num_classes must be an int in \[2, inf\)"),
    ({"vocab": 3}, r"vocab must be an int in \[4, inf\)"),          # at least num_classes symbols
    ({"n": 5}, r"n must be an int in \[40, inf\)"),                # ten per class
    ({"length": 1, "markers": 2}, r"length must be an int in \[2, inf\)"),
    ({"seed": -1}, "seed must be a non-negative int"),
])
def test_bad_sequence_options_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.make_sequences(**kwargs)


@pytest.mark.parametrize("kwargs", [{"markers": 1.0}, {"n": "400"}, {"length": True}])
def test_sequence_options_of_the_wrong_type_are_type_errors(kwargs):
    with pytest.raises(TypeError, match="must be a"):
        data.make_sequences(**kwargs)
