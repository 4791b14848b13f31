"""Tests for utils.dataset: the Dataset container and the stratified three-way split."""

import numpy as np
import pytest

from utils.dataset import Dataset, check_split_fractions, stratified_split

# 3 classes of 100, 60 and 40 examples: the split must keep these 50 / 30 / 20 % shares.
Y = np.repeat(np.arange(3), [100, 60, 40])
X = np.arange(len(Y) * 2, dtype=np.float32).reshape(len(Y), 2)


def test_split_sizes_and_class_shares():
    x_train, y_train, x_val, y_val, x_test, y_test = stratified_split(
        X, Y, val_fraction=0.1, test_fraction=0.2, seed=0)
    assert (len(y_train), len(y_val), len(y_test)) == (140, 20, 40)
    for y in (y_train, y_val, y_test):
        np.testing.assert_allclose(np.bincount(y, minlength=3) / len(y), [0.5, 0.3, 0.2])


def test_split_is_a_partition_that_keeps_rows_together():
    x_train, y_train, x_val, y_val, x_test, y_test = stratified_split(
        X, Y, val_fraction=0.15, test_fraction=0.25, seed=1)
    rows = np.concatenate([x_train, x_val, x_test])
    labels = np.concatenate([y_train, y_val, y_test])
    assert sorted(rows[:, 0].tolist()) == X[:, 0].tolist()          # every example exactly once
    np.testing.assert_array_equal(Y[(rows[:, 0] // 2).astype(int)], labels)  # x and y stay paired


def test_split_depends_on_the_seed_only():
    a, b, c = (stratified_split(X, Y, val_fraction=0.1, test_fraction=0.2, seed=s) for s in (3, 3, 4))
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left, right)
    assert not np.array_equal(a[4], c[4])


@pytest.mark.parametrize("val, test, error, match", [
    (0.0, 0.2, ValueError, r"val_fraction must be in \(0, 1\)"),
    (0.1, 1.0, ValueError, r"test_fraction must be in \(0, 1\)"),
    (0.5, 0.45, ValueError, "at least 10 % of the data for training"),
    ("0.1", 0.2, TypeError, "val_fraction must be a number"),
    (0.1, None, TypeError, "test_fraction must be a number"),
])
def test_bad_fractions_are_rejected(val, test, error, match):
    with pytest.raises(error, match=match):
        check_split_fractions(val, test)
    with pytest.raises(error, match=match):
        stratified_split(X, Y, val_fraction=val, test_fraction=test, seed=0)


def test_bad_seeds_are_rejected():
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        stratified_split(X, Y, val_fraction=0.1, test_fraction=0.2, seed=-1)
    with pytest.raises(TypeError, match="seed must be a non-negative int"):
        stratified_split(X, Y, val_fraction=0.1, test_fraction=0.2, seed=0.5)


def test_dataset_properties_and_repr():
    parts = stratified_split(X, Y, val_fraction=0.1, test_fraction=0.2, seed=0)
    ds = Dataset(*parts, class_names=("a", "b", "c"), name="toy")
    assert ds.input_shape == (2,) and ds.num_classes == 3
    assert repr(ds) == "Dataset('toy': train 140, val 20, test 40, input (2,), 3 classes)"
