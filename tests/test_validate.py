"""utils._validate: wrong type → TypeError, wrong value → ValueError, and messages that name the fix."""

import numpy as np
import pytest

from utils import _validate as v


@pytest.mark.parametrize("value", [1.5, "3", True, None, np.float64(2.0)])
def test_check_int_rejects_non_integers_with_type_error(value):
    with pytest.raises(TypeError, match="epochs must be a positive int"):
        v.check_int(value, "epochs", minimum=1)


def test_check_int_rejects_out_of_range_with_value_error():
    with pytest.raises(ValueError, match=r"epochs must be a positive int, got 0"):
        v.check_int(0, "epochs", minimum=1)
    with pytest.raises(ValueError, match=r"an int in \[1, 3\]"):
        v.check_int(4, "k", minimum=1, maximum=3)
    assert v.check_int(np.int64(3), "k", minimum=1) == 3 and type(v.check_int(np.int64(3), "k")) is int


@pytest.mark.parametrize("value", ["0.5", True, None, [0.5]])
def test_check_real_rejects_non_numbers_with_type_error(value):
    with pytest.raises(TypeError, match="sparsity must be a number"):
        v.check_real(value, "sparsity", low=0, high=1)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -0.1, 1.0])
def test_check_fraction_rejects_bad_values_with_value_error(value):
    with pytest.raises(ValueError, match=r"sparsity must be in \[0, 1\) \(the share removed\)"):
        v.check_fraction(value, "sparsity", meaning="the share removed")


def test_check_real_open_and_closed_ends():
    assert v.check_real(1.0, "level", low=0, high=1) == 1.0
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        v.check_real(1.0, "level", low=0, high=1, low_open=True, high_open=True)
    with pytest.raises(ValueError, match=r"\(0, inf\)"):
        v.check_real(0.0, "temperature", low=0, low_open=True)


def test_check_choice_lists_the_choices():
    assert v.check_choice("set", "method", ("set", "rigl")) == "set"
    with pytest.raises(ValueError, match=r"one of \('set', 'rigl'\), got 'random'"):
        v.check_choice("random", "method", ("set", "rigl"))
    with pytest.raises(ValueError, match="one of"):
        v.check_choice(["set"], "method", ("set", "rigl"))


def test_check_labels():
    np.testing.assert_array_equal(v.check_labels([0, 2, 1], num_classes=3), [0, 2, 1])
    with pytest.raises(TypeError, match="integer class labels.*argmax"):
        v.check_labels(np.eye(3).argmax(1).astype(float))
    with pytest.raises(ValueError, match="1-D"):
        v.check_labels(np.eye(3, dtype=int))
    with pytest.raises(ValueError, match="one label per example \\(4\\), got 3"):
        v.check_labels([0, 1, 2], n=4)
    with pytest.raises(ValueError, match=r"labels in \[0, 1\] for 2 classes, got range \[0, 2\]"):
        v.check_labels([0, 1, 2], num_classes=2)


def test_check_images():
    x = np.zeros((2, 4, 4, 1), np.float64)
    assert v.check_images(x).dtype == np.float32
    with pytest.raises(TypeError, match="divide by 255"):
        v.check_images(np.zeros((2, 4, 4, 1), np.uint8))
    with pytest.raises(ValueError, match="n, height, width, 1 or 3"):
        v.check_images(np.zeros((2, 4, 4, 2)), channels=(1, 3))
    with pytest.raises(ValueError, match="never clipped silently"):
        v.check_images(x + 2)


def test_check_probabilities_names_logits_as_the_likely_cause():
    v.check_probabilities([[0.2, 0.8]])
    with pytest.raises(ValueError, match="logits"):
        v.check_probabilities([[2.0, -1.0]])
    with pytest.raises(ValueError, match="shape"):
        v.check_probabilities([0.2, 0.8])


def test_check_same_length():
    assert v.check_same_length(x=[1, 2], y=[3, 4]) == 2
    with pytest.raises(ValueError, match="same length"):
        v.check_same_length(x=[1, 2], y=[3])
    with pytest.raises(ValueError, match="empty"):
        v.check_same_length(x=[], y=[])
