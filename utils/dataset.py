"""The :class:`Dataset` container and the stratified split that every loader of the course uses.

A dataset of the course is always split three ways: *train* (fit the weights), *validation*
(choose sparsities, thresholds, temperatures, epochs) and *test* (report, once). The split is
*stratified*: every class has the same share in each part, which matters for small and
imbalanced sets (scikit-learn's ``train_test_split(..., stratify=y)``).

This module is the bottom of the data layer: :mod:`utils.data` (the named loaders) and the
generators :mod:`utils.traffic_signs` and :mod:`utils.transactions` all build on it, and it
imports none of them.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from ._validate import check_fraction, check_int

__all__ = ["Dataset", "check_split_fractions", "stratified_split"]


@dataclass
class Dataset:
    """A classification dataset split three ways.

    Attributes:
        x_train, x_val, x_test: float32 arrays of shape ``(n, *input_shape)``.
        y_train, y_val, y_test: int64 class indices of shape ``(n,)``.
        class_names: one human-readable name per class.
        name: the name it was loaded under.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple
    name: str

    @property
    def input_shape(self):
        """Shape of one example, e.g. ``(28, 28, 1)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self):
        return len(self.class_names)

    def __repr__(self):
        return (f"Dataset({self.name!r}: train {len(self.y_train)}, val {len(self.y_val)}, "
                f"test {len(self.y_test)}, input {self.input_shape}, {self.num_classes} classes)")


def check_split_fractions(val_fraction, test_fraction):
    """Check the validation and test shares of a split; return them as floats.

    Each must be in (0, 1), and together they must leave at least 10 % of the data for training.

    Raises:
        TypeError: a share is not a number.
        ValueError: a share outside (0, 1), or ``val_fraction + test_fraction > 0.9``.
    """
    val_fraction = check_fraction(val_fraction, "val_fraction", low_open=True,
                                  meaning="the share of the data used for validation")
    test_fraction = check_fraction(test_fraction, "test_fraction", low_open=True,
                                   meaning="the share of the data used for the final test")
    if val_fraction + test_fraction > 0.9:
        raise ValueError(f"val_fraction + test_fraction must leave at least 10 % of the data for "
                         f"training, got {val_fraction} + {test_fraction}")
    return val_fraction, test_fraction


def stratified_split(x, y, *, val_fraction, test_fraction, seed):
    """Split ``(x, y)`` into train / validation / test with the same class shares in each part.

    The test part is split off first (``test_fraction`` of all examples), then the validation
    part (``val_fraction`` of all examples) from the rest, both with scikit-learn's
    ``train_test_split(..., stratify=...)``.

    Args:
        x: inputs, shape ``(n, ...)``.
        y: integer labels, shape ``(n,)``; every class needs at least two examples per part.
        val_fraction, test_fraction: shares of all ``n`` examples, see :func:`check_split_fractions`.
        seed: a non-negative int; the same seed gives the same split.

    Returns:
        ``(x_train, y_train, x_val, y_val, x_test, y_test)`` — the first six fields of a
        :class:`Dataset`, in order.
    """
    val_fraction, test_fraction = check_split_fractions(val_fraction, test_fraction)
    seed = check_int(seed, "seed", minimum=0)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val_fraction / (1.0 - test_fraction), stratify=y_rest, random_state=seed)
    return x_train, y_train, x_val, y_val, x_test, y_test
