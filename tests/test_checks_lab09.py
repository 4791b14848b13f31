"""The Lab 09 self-checks accept right answers and explain the typical wrong ones."""

import numpy as np
import pytest

from utils import checks as check
from utils import patch


def recall_right(y_true, y_pred, num_classes):
    return np.array([np.mean(y_pred[y_true == c] == c) if np.any(y_true == c) else np.nan
                     for c in range(num_classes)])


def recall_as_precision(y_true, y_pred, num_classes):
    return np.array([np.mean(y_true[y_pred == c] == c) if np.any(y_pred == c) else np.nan
                     for c in range(num_classes)])


def recall_zero_for_absent(y_true, y_pred, num_classes):
    return np.nan_to_num(recall_right(y_true, y_pred, num_classes))


def recall_too_short(y_true, y_pred, num_classes):
    return recall_right(y_true, y_pred, int(y_true.max()) + 1)


def not_done(*args):
    raise NotImplementedError("Exercise 9.1: replace this line with your code")


@pytest.fixture
def labels():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, 100)
    y_pred = np.where(rng.random(100) < 0.7, y_true, rng.integers(0, 5, 100))
    return y_true, y_pred


def test_exercise_9_1_passes_a_right_answer(capsys, labels):
    check.exercise_9_1(recall_right, *labels, 5)
    out = capsys.readouterr().out
    assert "✘" not in out and "all checks passed" in out and "matches the reference" in out


@pytest.mark.parametrize("wrong, hint", [
    (recall_as_precision, "precision"),
    (recall_zero_for_absent, "undefined"),
    (recall_too_short, "shape (4,)"),
])
def test_exercise_9_1_explains_typical_mistakes(capsys, labels, wrong, hint):
    check.exercise_9_1(wrong, *labels, 5)
    out = capsys.readouterr().out
    assert "✘" in out and hint in out


def test_exercise_9_1_is_gentle_with_a_stub(capsys):
    check.exercise_9_1(not_done)
    assert "not done yet" in capsys.readouterr().out


@pytest.fixture
def images():
    return np.random.default_rng(1).uniform(size=(10, 24, 24, 3)).astype(np.float32)


def test_exercise_9_2_passes_a_right_answer(capsys, images):
    check.exercise_9_2(lambda x, s, m: x * (1 - m) + s * m, images)
    out = capsys.readouterr().out
    assert "✘" not in out and "all checks passed" in out
    check.exercise_9_2(patch.apply_patch, images)
    assert "✘" not in capsys.readouterr().out


def _in_place(x, s, m):
    x *= 1 - m
    x += s * m
    return x


@pytest.mark.parametrize("wrong, hint", [
    (lambda x, s, m: x * m + s * (1 - m), "wrong way round"),
    (lambda x, s, m: x + s * m, "not added"),
    (_in_place, "in place"),
    (lambda x, s, m: (x * (1 - m) + s * m)[0], "expected shape"),
])
def test_exercise_9_2_explains_typical_mistakes(capsys, images, wrong, hint):
    check.exercise_9_2(wrong, images)
    out = capsys.readouterr().out
    assert "✘" in out and hint in out
