"""Argument checks shared by every module of ``utils``: one rule, one message style.

The rule, everywhere in the course:

* the **wrong type** (a string where a number is expected, a bool where an int is
  expected, a float array where integer labels are expected) raises ``TypeError``;
* the **wrong value** of the right type (a sparsity of 1.5, a negative count, labels
  out of range) raises ``ValueError``.

Every message names the argument, what was expected and what was received, so that a
student can fix the call without reading this file. Nothing is ever clipped silently.

This module needs only NumPy and the standard library (no TensorFlow), so that
framework-neutral code such as :mod:`utils.masks` can use it in any process.
"""

import math
import numbers

import numpy as np

__all__ = [
    "check_int", "check_real", "check_fraction", "check_choice", "check_labels", "check_images",
    "check_probabilities", "check_same_length",
]


def _interval(low, high, low_open, high_open):
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    low = "-inf" if low is None else f"{low:g}"
    high = "inf" if high is None else f"{high:g}"
    return f"{left}{low}, {high}{right}"


def check_int(value, name, *, minimum=None, maximum=None):
    """Return ``value`` as an ``int``; raise unless it is an integer in ``[minimum, maximum]``.

    Bools are not integers here (``True`` as an epoch count is a bug, not a 1).

    Raises:
        TypeError: ``value`` is not an integer (or is a bool).
        ValueError: ``value`` is outside ``[minimum, maximum]``.
    """
    if minimum == 0 and maximum is None:
        kind = "a non-negative int"
    elif minimum == 1 and maximum is None:
        kind = "a positive int"
    else:
        kind = f"an int in {_interval(minimum, maximum, False, False)}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {kind}, got {value!r} ({type(value).__name__})")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def check_real(value, name, *, low=None, high=None, low_open=False, high_open=False, meaning=""):
    """Return ``value`` as a ``float``; raise unless it is a finite real number in the interval.

    Args:
        value: the argument to check.
        name: its name, for the message.
        low, high: the interval's ends (``None``: unbounded).
        low_open, high_open: whether an end is excluded.
        meaning: optional words that say what the number is, e.g. ``"the fraction of weights set
            to zero"``; they are added to the message.

    Raises:
        TypeError: ``value`` is not a real number (or is a bool).
        ValueError: ``value`` is NaN, infinite, or outside the interval.
    """
    interval = _interval(low, high, low_open, high_open)
    what = f" ({meaning})" if meaning else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in {interval}{what}, got {value!r} "
                        f"({type(value).__name__})")
    value = float(value)
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or below or above:
        raise ValueError(f"{name} must be in {interval}{what}, got {value!r}")
    return value


def check_fraction(value, name, *, low_open=False, high_open=True, meaning=""):
    """A number in [0, 1) by default (a sparsity, a ratio, a rate); see :func:`check_real`."""
    return check_real(value, name, low=0.0, high=1.0, low_open=low_open, high_open=high_open,
                      meaning=meaning)


def check_choice(value, name, choices):
    """Return ``value`` if it is one of ``choices``; else raise ValueError listing them."""
    if isinstance(value, (list, dict, set)) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_labels(y, name="y", *, n=None, num_classes=None):
    """Integer class labels, shape ``(n,)``; returned as ``int64``.

    Raises:
        TypeError: the labels are not integers (e.g. one-hot floats or probabilities).
        ValueError: wrong shape, wrong length ``n``, or labels outside ``[0, num_classes)``.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of integer class labels, got shape {y.shape}")
    if n is not None and len(y) != n:
        raise ValueError(f"{name} must have one label per example ({n}), got {len(y)}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype} "
                        "(one-hot rows? use y.argmax(axis=1))")
    if num_classes is not None and y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{name} must hold labels in [0, {num_classes - 1}] for {num_classes} "
                         f"classes, got range [{y.min()}, {y.max()}]")
    return y.astype(np.int64, copy=False)


def check_images(x, name="x", *, channels=None, value_range=(0.0, 1.0)):
    """A float batch of images ``(n, height, width, channels)`` with pixels in ``value_range``.

    Returned as ``float32``. ``channels`` (e.g. ``(1, 3)``) restricts the last axis;
    ``value_range=None`` skips the range check.

    Raises:
        TypeError: the pixels are not floats (e.g. uint8 0–255 images: divide by 255).
        ValueError: wrong rank or channels, or pixels outside ``value_range``.
    """
    x = np.asarray(x)
    if x.ndim != 4 or (channels is not None and x.shape[-1] not in channels):
        want = "channels" if channels is None else " or ".join(map(str, channels))
        raise ValueError(f"{name} must be a batch of images (n, height, width, {want}), "
                         f"got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} must hold float pixel values, got dtype {x.dtype} "
                        "(uint8 images? divide by 255)")
    if value_range is not None and x.size:
        low, high = value_range
        if x.min() < low or x.max() > high:
            raise ValueError(f"{name}'s pixel values must lie in [{low}, {high}], got "
                             f"[{x.min():.3g}, {x.max():.3g}]; scale the images first (they are never "
                             "clipped silently)")
    return x.astype(np.float32, copy=False)


def check_probabilities(probs, name="probabilities"):
    """Class probabilities, shape ``(n, num_classes)`` with ``n ≥ 1``, ``num_classes ≥ 2``.

    Raises:
        ValueError: wrong shape, or rows that are not probability distributions — the usual
            cause is a model that outputs logits; the message says so.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] < 2 or len(probs) == 0:
        raise ValueError(f"{name} must have shape (n, num_classes) with n >= 1 and num_classes >= 2, "
                         f"got shape {probs.shape}")
    if not np.all(np.isfinite(probs)) or np.any(probs < -1e-6) \
            or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(f"each row of {name} must be non-negative and sum to 1; these look like "
                         "logits — apply a softmax first, or pass the model itself")
    return probs


def check_same_length(**arrays):
    """Raise ValueError unless all arrays have the same, non-zero length; return that length."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{' and '.join(lengths)} must have the same length, got {lengths}")
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError(f"{' and '.join(lengths)} are empty")
    return n
