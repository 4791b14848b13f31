import gzip

import numpy as np
import pytest

from utils import data


def test_digits_shapes_ranges_and_split(digits):
    assert digits.input_shape == (28, 28, 1)
    assert digits.num_classes == 10
    sizes = [len(digits.y_train), len(digits.y_val), len(digits.y_test)]
    assert sum(sizes) == 1797
    assert sizes == [1257, 180, 360]
    for x in (digits.x_train, digits.x_val, digits.x_test):
        assert x.dtype == np.float32 and x.min() >= 0.0 and x.max() <= 1.0
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
    with pytest.raises(ValueError, match="digits.*fashion_mnist.*mnist"):
        data.load_dataset("cifar10")


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
    from utils import keras

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    with pytest.raises(data.DatasetUnavailableError, match="load_dataset\\('digits'\\)"):
        data.load_dataset(name, cache_dir=str(tmp_path / "empty"))


def test_bad_val_size_is_rejected(tmp_path):
    x = np.zeros((20, 28, 28), np.uint8)
    y = np.repeat(np.arange(10), 2).astype(np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    with pytest.raises(ValueError, match="val_size"):
        data.load_dataset("mnist", cache_dir=str(tmp_path), val_size=0)


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
