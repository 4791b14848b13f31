"""Self-checks and verdict conditions for Lab 11 (case study: a pruned diagnosis model).

The exercises: 11.1 the screening summary, 11.2 the NLL of temperature-scaled probabilities,
11.3 fitting the temperature (the lab's mechanism), 11.4 a threshold for a target sensitivity.
The verdict conditions (``fits_budget``, ``temperature_lowers_ece``, ``not_worse_than``,
``sensitivity_not_worse``) are functions of the measured values, each with a passing and a failing
unit test.
"""

import numpy as np
from scipy.special import softmax

from .. import stats
from ..binary import confusion_at, threshold_for_recall
from ..calibration import fit_temperature, temperature_nll
from ._core import StudentError, self_check

__all__ = ["exercise_11_1", "exercise_11_2", "exercise_11_3", "exercise_11_4"]


# ------------------------------------------------------------------ verdict conditions

def fits_budget(nonzero, max_nonzero):
    """The pruned model's non-zero parameters are within the device's budget."""
    return int(nonzero) <= int(max_nonzero)


def temperature_lowers_ece(ece_before, ece_after):
    """Temperature scaling lowered the test ECE beyond the seed-to-seed noise.

    ``ece_before[i]`` / ``ece_after[i]``: one model's test ECE without / with its fitted temperature,
    on seed ``i``. True when the mean paired decrease exceeds its standard error over ≥ 3 seeds.
    """
    return stats.paired_difference(ece_before, ece_after).exceeds_noise()


def not_worse_than(candidate, reference, margin, *, higher_is_better=True):
    """Non-inferiority over seeds: the candidate is worse than the reference by less than ``margin``.

    The per-seed gap (reference − candidate for a higher-is-better metric such as sensitivity,
    candidate − reference for a lower-is-better one such as ECE) must have ``mean + s.e. ≤ margin``
    over ≥ 3 paired seeds: the candidate may be better, or worse by less than the margin *including*
    one standard error of the noise. A noisy measurement therefore makes the verdict harder to meet,
    never easier.
    """
    gap = (stats.paired_difference(reference, candidate) if higher_is_better
           else stats.paired_difference(candidate, reference))
    return gap.n >= stats.MIN_SEEDS and gap.mean + gap.se <= margin


def sensitivity_not_worse(candidate, reference, margin, missed):
    """:func:`not_worse_than` for sensitivities, at an operating point where the models miss something.

    ``missed`` is the number of malignant test cases the two models missed in all (over every seed).
    At a lenient operating point both models catch every malignant case, their sensitivities are
    equal because both sit at the ceiling, and the comparison is empty: the condition then fails.
    """
    return int(missed) > 0 and not_worse_than(candidate, reference, margin)


@self_check("Exercise 11.1 (sensitivity, specificity and missed malignancies)")
def exercise_11_1(report, screening_summary):
    """Check ``screening_summary(y, scores, threshold) -> (sensitivity, specificity, missed)``."""
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    scores = np.array([0.9, 0.6, 0.3, 0.05, 0.7, 0.3, 0.2, 0.1, 0.05, 0.01])
    result = screening_summary(y, scores, 0.3)
    if not report.check(isinstance(result, tuple) and len(result) == 3,
                        "returns three values: (sensitivity, specificity, missed)",
                        f"returned {type(result).__name__} {result!r}; return a tuple "
                        "(sensitivity, specificity, missed)"):
        return
    sens, spec, missed = result
    c = confusion_at(y, scores, 0.3)
    exp_sens, exp_spec = c["tp"] / (c["tp"] + c["fn"]), c["tn"] / (c["tn"] + c["fp"])
    if abs(sens - 100 * exp_sens) < 1e-6 or abs(spec - 100 * exp_spec) < 1e-6:
        report.fail("return fractions in [0, 1] (0.75), not percentages (75)")
        return
    if abs(sens - exp_spec) < 1e-9 and abs(spec - exp_sens) < 1e-9:
        report.fail("sensitivity and specificity are swapped: sensitivity is about the malignant "
                    "cases (y == 1), specificity about the benign ones (y == 0)")
        return
    at_edge = confusion_at(y, scores, 0.3 + 1e-9)
    if abs(sens - at_edge["tp"] / 4) < 1e-9 and abs(sens - exp_sens) > 1e-9:
        report.fail("a score exactly equal to the threshold must be flagged (score >= threshold), "
                    "as in utils.binary: the case with score 0.3 counts as caught")
        return
    report.check(abs(sens - exp_sens) < 1e-9, f"sensitivity = TP / (TP + FN) = {exp_sens:.2f}",
                 f"sensitivity {sens!r}, expected {exp_sens:.2f}: the share of malignant cases "
                 "(y == 1) whose score is >= threshold")
    report.check(abs(spec - exp_spec) < 1e-9, f"specificity = TN / (TN + FP) = {exp_spec:.2f}",
                 f"specificity {spec!r}, expected {exp_spec:.2f}: the share of benign cases "
                 "(y == 0) whose score is < threshold")
    report.check(int(missed) == c["fn"] and float(missed) == int(missed),
                 f"missed malignancies counted: {c['fn']}",
                 f"missed = {missed!r}, expected {c['fn']}: count the malignant cases whose score is "
                 "below the threshold (an integer, not a rate)")


@self_check("Exercise 11.2 (the NLL of temperature-scaled probabilities)")
def exercise_11_2(report, temperature_nll_fn):
    """Check ``temperature_nll(probs, y, temperature) -> float`` against utils.calibration."""
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]])
    y = np.array([0, 1, 1, 1])
    plain = float(np.mean(-np.log(probs[np.arange(4), y])))
    value = float(temperature_nll_fn(probs, y, 1.0))
    if not report.check(abs(value - plain) < 1e-6, f"T = 1 gives the ordinary mean NLL ({plain:.4f})",
                        f"with T = 1 you got {value:.4f}, expected {plain:.4f}: the mean of "
                        "-log p[i, y[i]] over the examples"):
        if abs(value - plain * len(y)) < 1e-6:
            report.fail("return the *mean* over the examples, not the sum")
        return
    expected = temperature_nll(probs, y, 2.0)
    value = float(temperature_nll_fn(probs, y, 2.0))
    wrong_way = temperature_nll(probs, y, 0.5)
    if abs(value - wrong_way) < 1e-6:
        report.fail("you multiplied by T: divide the log-probabilities by T (T > 1 must soften)")
        return
    report.check(abs(value - expected) < 1e-6, f"T = 2: NLL of softmax(log p / 2) = {expected:.4f}",
                 f"T = 2: you got {value:.4f}, expected {expected:.4f}. Compute log p, divide by T, "
                 "take a softmax again (scipy.special.logsumexp helps), then the mean NLL of the labels")
    zeros = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(temperature_nll_fn(zeros, np.array([1, 1, 0]), 2.0))
    # the exact value depends on the floor chosen (utils uses calibration.FLOOR); a confidently
    # wrong example must still cost a lot, so any finite value above log 2 is accepted
    report.check(np.isfinite(value) and value > np.log(2),
                 "probabilities of exactly 0 give a large but finite NLL (log 0 avoided)",
                 f"with an exact 0 probability you got {value!r}: floor the probabilities before the "
                 "log, e.g. np.maximum(probs, calibration.FLOOR), so that log 0 never happens")


def _toy_probabilities(sharpness, n=400, classes=2, seed=0):
    """Probabilities ``softmax(sharpness · z)`` of a toy model whose true logits are ``z``, with labels
    drawn from ``softmax(z)``: the best temperature is close to ``sharpness``."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.5, (n, classes))
    y = np.array([rng.choice(classes, p=p) for p in softmax(z, axis=1)])
    return softmax(sharpness * z, axis=1), y


@self_check("Exercise 11.3 (fitting the temperature on validation data)")
def exercise_11_3(report, fit_temperature_fn):
    """Check ``fit_temperature(probs, y) -> T`` (the T minimising the mean NLL) against utils.calibration."""
    cases = (("an under-confident model", 0.4, 2), ("a strongly under-confident model", 0.12, 2),
             ("an over-confident model", 3.0, 2), ("a 3-class model", 1.7, 3))
    for name, sharpness, classes in cases:
        probs, y = _toy_probabilities(sharpness, classes=classes)
        kept = probs.copy()
        expected = fit_temperature(None, probs, y)
        value = float(fit_temperature_fn(probs, y))
        if not np.array_equal(probs, kept):
            report.fail("your function changed the probabilities it was given; work on a copy")
            return
        if abs(np.log(value * expected)) < 0.02 and abs(np.log(value / expected)) > 0.1:
            report.fail(f"{name}: you returned {value:.3f}, the inverse of T = {expected:.3f}: the model's "
                        "log-probabilities are *divided* by T, and the NLL is minimised over T itself")
            return
        if expected < 1 and value >= 0.99:
            report.fail(f"{name}: expected T = {expected:.3f} < 1, you returned {value:.3f}. An "
                        "under-confident model needs sharpening (T < 1): search T on both sides of 1, "
                        "e.g. over 0.01 … 100 on a log scale")
            return
        if expected < 0.2 and 1.1 * expected < value < 1:
            report.fail(f"{name}: expected T = {expected:.3f}, you returned {value:.3f}. The minimum lies "
                        "far below 1 (a one-shot pruned model can need that much sharpening): does your "
                        "search reach that low? Search T on a log scale down to about 0.01, so that the "
                        "minimum is inside the range, not at its edge")
            return
        if not report.check(abs(np.log(value / expected)) < 0.02,
                            f"{name}: T = {expected:.3f}, the minimum of the validation NLL",
                            f"{name}: expected T = {expected:.3f}, you returned {value:.3f}. Minimise the "
                            "*mean NLL* of softmax(log p / T) over T > 0, to about 1 % precision "
                            "(scipy.optimize.minimize_scalar on log T, or a fine log-spaced grid); not "
                            "the ECE or the accuracy, which do not change smoothly with T"):
            return
    perfect = np.array([[0.8, 0.2], [0.3, 0.7], [0.9, 0.1]])
    try:
        value = fit_temperature_fn(perfect, np.array([0, 1, 0]))
    except StudentError as error:
        report.check(isinstance(error.error, ValueError),
                     "no mistakes on validation: raises ValueError (the NLL has no minimum)",
                     f"with no validation mistakes you raised {error}; raise a ValueError that says so")
        return
    report.fail(f"every example is classified correctly, yet you returned T = {float(value):.3g}. Then the "
                "NLL keeps falling as T → 0 and has no minimum: raise a ValueError that says the "
                "validation set holds none of the model's mistakes")


@self_check("Exercise 11.4 (a threshold for a target sensitivity)")
def exercise_11_4(report, threshold_for_sensitivity):
    """Check ``threshold_for_sensitivity(y, scores, target) -> threshold`` (flag ``scores >= t``)."""
    y = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    scores = np.array([0.95, 0.8, 0.6, 0.4, 0.1, 0.7, 0.3, 0.2, 0.05, 0.01])
    for target in (1.0, 0.8, 0.5):
        expected = threshold_for_recall(y, scores, target)
        value = float(threshold_for_sensitivity(y, scores, target))
        caught = np.mean(scores[y == 1] >= value)
        if caught < target:
            report.fail(f"target {target:.0%}: your threshold {value:.2f} catches only {caught:.0%} of "
                        "the malignant cases; lower it")
            return
        if value < expected - 1e-9 and value not in scores[y == 0]:
            report.fail(f"target {target:.0%}: your threshold {value:.2f} reaches the target, but the "
                        f"highest threshold that does is {expected:.2f}; a lower one only adds false alarms")
            return
        if not report.check(abs(value - expected) < 1e-9,
                            f"target {target:.0%}: threshold {expected:.2f} (the highest that reaches it)",
                            f"target {target:.0%}: you returned {value:.2f}, expected {expected:.2f}. "
                            "Sort the malignant cases' scores from high to low; to catch k = "
                            "ceil(target · n_malignant) of them the threshold is the k-th score"):
            if value in scores[y == 0]:
                report.fail("use only the malignant cases' scores (y == 1) to place the threshold")
            return
