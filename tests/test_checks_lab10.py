"""The Lab 10 self-checks accept right answers and explain the typical wrong ones."""

import numpy as np
import pytest

from utils import binary
from utils import checks as check


def pr_right(y, scores, threshold):
    return binary.precision_at(y, scores, threshold), binary.recall_at(y, scores, threshold)


def pr_swapped(y, scores, threshold):
    return pr_right(y, scores, threshold)[::-1]


def pr_strict(y, scores, threshold):
    flagged = scores > threshold
    tp = np.sum(flagged & (y == 1))
    return (tp / flagged.sum() if flagged.sum() else 1.0), tp / np.sum(y == 1)


def pr_nan_when_nothing_flagged(y, scores, threshold):
    flagged = scores >= threshold
    tp = np.sum(flagged & (y == 1))
    return (tp / flagged.sum() if flagged.sum() else np.nan), tp / np.sum(y == 1)


def threshold_right(y, scores, target):
    return binary.threshold_for_recall(y, scores, target)


def threshold_rounds_down(y, scores, target):
    positives = np.sort(scores[y == 1])[::-1]
    return positives[max(int(np.floor(target * len(positives))) - 1, 0)]


def threshold_too_low(y, scores, target):
    return binary.threshold_for_recall(y, scores, target) - 0.05


def weights_right(y):
    return binary.balanced_class_weight(y)


def weights_unnormalised(y):
    counts = np.bincount(y)
    return {c: len(y) / counts[c] for c in range(len(counts))}


def weights_swapped(y):
    counts = np.bincount(y)
    return {c: len(y) / (2 * counts[1 - c]) for c in range(2)}


def not_done(*args):
    raise NotImplementedError("Exercise 10.x: replace this line with your code")


@pytest.fixture
def lab_like():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.02).astype(np.int64)
    return y, np.clip(rng.normal(0.2 + 0.5 * y, 0.2), 0, 1)


def test_exercise_10_1_passes_a_right_answer(capsys, lab_like):
    check.exercise_10_1(pr_right, *lab_like)
    out = capsys.readouterr().out
    assert "✘" not in out and "all checks passed" in out and "matches the reference" in out


@pytest.mark.parametrize("wrong, hint", [
    (pr_swapped, "swapped"),
    (pr_strict, "score >= threshold"),
    (pr_nan_when_nothing_flagged, "TP + FP == 0"),
])
def test_exercise_10_1_explains_typical_mistakes(capsys, wrong, hint):
    check.exercise_10_1(wrong)
    out = capsys.readouterr().out
    assert "✘" in out and hint in out


def test_exercise_10_2(capsys):
    check.exercise_10_2(threshold_right)
    out = capsys.readouterr().out
    assert "✘" not in out and "all checks passed" in out
    for wrong, hint in ((threshold_rounds_down, "round up"), (threshold_too_low, "highest threshold")):
        check.exercise_10_2(wrong)
        out = capsys.readouterr().out
        assert "✘" in out and hint in out


def test_exercise_10_3(capsys):
    check.exercise_10_3(weights_right)
    out = capsys.readouterr().out
    assert "✘" not in out and "all checks passed" in out
    for wrong, hint in ((weights_unnormalised, "divide by the number of classes"),
                        (weights_swapped, "wrong way round")):
        check.exercise_10_3(wrong)
        out = capsys.readouterr().out
        assert "✘" in out and hint in out


@pytest.mark.parametrize("exercise", [check.exercise_10_1, check.exercise_10_2, check.exercise_10_3])
def test_stubs_get_a_gentle_reminder(capsys, exercise):
    exercise(not_done)
    assert "not done yet" in capsys.readouterr().out


# ------------------------------------------------------------------ verdict conditions
def test_paradox():
    assert check.lab10.paradox([-0.3, -0.2, -0.4], [26.0, 20.0, 24.0])
    assert not check.lab10.paradox([-2.3, -1.2, -1.4], [26.0, 20.0, 24.0])   # accuracy moved too
    assert not check.lab10.paradox([-0.3, -0.2, -0.4], [6.0, 2.0, 4.0])      # recall barely moved


def test_not_below_by():
    assert check.lab10.not_below_by([36.0, 35.0, 37.0], [33.0, 34.0, 32.0], 5.0)
    assert not check.lab10.not_below_by([6.0, 5.0, 7.0], [33.0, 34.0, 32.0], 5.0)
    assert check.lab10.not_below_by([45.0, 44.0, 46.0], [33.0, 34.0, 32.0], 5.0)   # far above passes


def test_beats_beyond_noise():
    assert check.lab10.beats_beyond_noise([0.75, 0.70, 0.80], [0.20, 0.18, 0.25])
    assert not check.lab10.beats_beyond_noise([0.20, 0.30, 0.10], [0.20, 0.18, 0.25])


def test_leaks():
    assert check.lab10.leaks([0.86, 0.84, 0.88], 0.045)
    assert not check.lab10.leaks([0.58, 0.52, 0.60], 0.045)
    assert not check.lab10.leaks([0.86, 0.84], 0.045)
