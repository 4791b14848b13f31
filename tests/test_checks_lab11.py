"""Lab 11: the self-check of the temperature fit (Exercise 11.3) and the verdict conditions.

The self-checks of Exercises 11.1, 11.2 and 11.4 are tested in tests/test_calibration.py.
"""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from utils import binary, calibration
from utils import checks as check
from utils.checks import lab11


def _run(fn, capsys):
    check.exercise_11_3(fn)
    return capsys.readouterr().out


def fit_by_search(probs, y):
    """A right answer written differently: a bounded search over log T, with its own NLL."""
    if np.all(np.asarray(probs).argmax(1) == y):
        raise ValueError("no mistakes: no temperature minimises the NLL")
    result = minimize_scalar(lambda s: calibration.temperature_nll(probs, y, np.exp(s)), bounds=(-4, 4),
                             method="bounded", options={"xatol": 1e-6})
    return float(np.exp(result.x))


def soften_only(probs, y):
    """Weak: searches T ≥ 1 only, as if every model were over-confident."""
    grid = np.geomspace(1.0, 20.0, 400)
    return float(grid[np.argmin([calibration.temperature_nll(probs, y, t) for t in grid])])


def test_right_answers_pass(capsys):
    for fn in (calibration.fit_temperature_to_probs, fit_by_search):
        out = _run(fn, capsys)
        assert "✘" not in out and "all checks passed" in out, out
        assert check.passed("11.3", fn)


@pytest.mark.parametrize("wrong, hint", [
    (soften_only, "both sides of 1"),
    (lambda p, y: 1 / calibration.fit_temperature_to_probs(p, y), "inverse"),
    (lambda p, y: 1.0, "T < 1"),
    (lambda p, y: float(np.geomspace(0.2, 5, 60)[np.argmin(
        [calibration.temperature_nll(p, y, t) for t in np.geomspace(0.2, 5, 60)])]), "edge"),
    (lambda p, y: calibration.fit_temperature_to_probs(p, y) * 1.2, "mean NLL"),
    (lambda p, y: float(np.geomspace(0.05, 20, 400)[np.argmin(
        [calibration.temperature_nll(p, y, t) for t in np.geomspace(0.05, 20, 400)])]),
     "none of the model's mistakes"),
])
def test_wrong_answers_are_explained(capsys, wrong, hint):
    out = _run(wrong, capsys)
    assert "✘" in out and hint in out, out
    assert not check.passed("11.3", wrong)


def test_a_crash_in_the_students_function_is_reported(capsys):
    def crashes(probs, y):
        raise KeyError("oops")
    out = _run(crashes, capsys)
    assert "your function raised KeyError" in out


def test_fits_budget():
    assert lab11.fits_budget(905, 1000)
    assert not lab11.fits_budget(4130, 1000)


def test_temperature_lowers_ece():
    assert lab11.temperature_lowers_ece([0.13, 0.14, 0.12, 0.12, 0.06], [0.05, 0.04, 0.03, 0.02, 0.05])
    assert not lab11.temperature_lowers_ece([0.03, 0.03, 0.03, 0.04], [0.05, 0.02, 0.03, 0.03])  # noise
    assert not lab11.temperature_lowers_ece([0.13, 0.14], [0.05, 0.04])                           # 2 seeds


def test_not_worse_than_lower_is_better():
    assert lab11.not_worse_than([0.05, 0.02, 0.03, 0.03, 0.05], [0.05, 0.03, 0.03, 0.03, 0.05], 0.01,
                                higher_is_better=False)
    assert not lab11.not_worse_than([0.08, 0.07, 0.09], [0.05, 0.03, 0.04], 0.01, higher_is_better=False)


def test_not_worse_than_counts_the_noise_against_the_candidate():
    # mean gap 0.5 pt is inside a 1 pt margin, but its standard error is larger than the rest
    assert not lab11.not_worse_than([0.97, 0.92, 0.99, 0.96], [0.95, 0.97, 0.95, 0.99], 0.01)
    assert lab11.not_worse_than([0.976, 0.952, 0.976], [0.976, 0.952, 0.976], 0.01)


def test_screening_summary_and_false_alarm_threshold():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    scores = np.array([0.9, 0.6, 0.2, 0.7, 0.5, 0.3, 0.2, 0.1])
    assert binary.screening_summary(y, scores, 0.5) == (pytest.approx(2 / 3), pytest.approx(3 / 5), 1)
    t = binary.threshold_for_false_alarm_rate(y, scores, 0.2)   # one false alarm allowed of 5
    assert binary.confusion_at(y, scores, t)["fp"] == 1 and t > 0.5 and t <= 0.7
    assert binary.confusion_at(y, scores, binary.threshold_for_false_alarm_rate(y, scores, 0.0))["fp"] == 0
    assert binary.threshold_for_false_alarm_rate(y, scores, 1.0) == 0.0


def test_sensitivity_not_worse_needs_missed_cases():
    pruned, dense = [0.976, 0.976, 0.952], [0.952, 0.952, 0.952]
    assert lab11.sensitivity_not_worse(pruned, dense, 0.025, missed=9)
    assert not lab11.sensitivity_not_worse([0.905, 0.929, 0.905], dense, 0.025, missed=20)  # worse
    assert not lab11.sensitivity_not_worse([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], 0.025, missed=0)  # ceiling
