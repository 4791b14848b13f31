"""Self-checks for Lab 10 (case study: fraud detection in financial risk control)."""

import numpy as np

from .. import stats
from ._conditions import beats as beats_beyond_noise  # noqa: F401 (verdict conditions used as check.lab10.<name>)
from ._core import self_check

__all__ = ["exercise_10_1", "exercise_10_2", "exercise_10_3"]


def _reference_precision_recall(y, scores, threshold):
    flagged = scores >= threshold
    tp = np.sum(flagged & (y == 1))
    precision = 1.0 if flagged.sum() == 0 else tp / flagged.sum()
    return float(precision), float(tp / np.sum(y == 1))


@self_check("Exercise 10.1 (precision and recall at a threshold)")
def exercise_10_1(report, precision_recall_at, y=None, scores=None):
    """Check ``precision_recall_at(y, scores, threshold) -> (precision, recall)``.

    A hand-made case with a score exactly at the threshold, a threshold that flags nothing, and,
    if given, the lab's own labels and scores.
    """
    y_small = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    s_small = np.array([0.9, 0.6, 0.3, 0.7, 0.2, 0.1, 0.5, 0.05])
    result = precision_recall_at(y_small, s_small, 0.5)
    if not report.check(isinstance(result, (tuple, list)) and len(result) == 2,
                        "returns a (precision, recall) pair",
                        f"return two numbers, (precision, recall); got {result!r}"):
        return
    precision, recall = (float(v) for v in result)
    # flagged (score >= 0.5): 0.9 and 0.6 (frauds), 0.7 and 0.5 (legitimate) -> TP 2, FP 2, FN 1
    if np.isclose(precision, 2 / 3) and np.isclose(recall, 0.5):
        report.fail("precision and recall are swapped: precision = TP / (TP + FP) (of the flagged, how many "
                    "are fraud), recall = TP / (TP + FN) (of the frauds, how many are flagged)")
        return
    if np.isclose(precision, 2 / 3) and np.isclose(recall, 2 / 3):
        report.fail("the transaction with score exactly 0.5 was not flagged: flag score >= threshold, "
                    "not score > threshold")
        return
    report.check(np.isclose(precision, 0.5) and np.isclose(recall, 2 / 3),
                 "precision = TP / (TP + FP) and recall = TP / (TP + FN)",
                 f"on y={y_small.tolist()}, scores={s_small.tolist()}, threshold 0.5 the flagged "
                 f"transactions hold 2 frauds and 2 legitimate ones and 1 fraud is missed: expected "
                 f"(0.5, 0.667), got "
                 f"({precision:.3f}, {recall:.3f})")
    nothing = [float(v) for v in precision_recall_at(y_small, s_small, 0.95)]
    report.check(np.isclose(nothing[0], 1.0) and np.isclose(nothing[1], 0.0),
                 "flagging nothing gives recall 0 and precision 1 (no false alarms)",
                 f"with threshold 0.95 nothing is flagged; by the convention of this lab (and of "
                 f"utils.binary.precision_at) precision is then 1.0 and recall 0.0, got {nothing}: "
                 "handle TP + FP == 0 before dividing")
    if y is None:
        return
    y, scores = np.asarray(y), np.asarray(scores, dtype=np.float64)
    mine = [float(v) for v in precision_recall_at(y, scores, 0.5)]
    expected = _reference_precision_recall(y, scores, 0.5)
    report.check(np.allclose(mine, expected),
                 f"matches the reference on the lab's {len(y)} test transactions",
                 f"on the lab's test set expected ({expected[0]:.4f}, {expected[1]:.4f}), got "
                 f"({mine[0]:.4f}, {mine[1]:.4f})")


@self_check("Exercise 10.2 (the threshold for a target recall)")
def exercise_10_2(report, threshold_for_recall):
    """Check ``threshold_for_recall(y, scores, target_recall) -> float``: the highest threshold whose
    recall (flagging ``scores >= threshold``) is at least the target."""
    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.1).astype(np.int64)
    scores = np.clip(rng.normal(0.3 + 0.35 * y, 0.15), 0.0, 1.0)
    positives = np.sort(scores[y == 1])[::-1]
    for target in (0.5, 0.8, 0.87):
        threshold = float(threshold_for_recall(y, scores, target))
        recall = np.mean(scores[y == 1] >= threshold)
        if recall < target:
            report.fail(f"target {target}: your threshold {threshold:.4f} catches only {recall:.1%} of the "
                        "frauds; to reach a recall of at least the target you must flag "
                        "ceil(target · number of frauds) of them (round up, not down)")
            return
        higher = positives[positives > threshold]
        if len(higher) and np.mean(scores[y == 1] >= higher.min()) >= target:
            report.fail(f"target {target}: the threshold {threshold:.4f} is lower than needed "
                        f"({higher.min():.4f} still reaches the target); return the highest threshold, so "
                        "that as few legitimate "
                        "transactions as possible are flagged")
            return
    report.ok("for several targets: the recall reaches the target, and no higher threshold does")
    threshold = float(threshold_for_recall(y, scores, 1.0))
    report.check(np.isclose(threshold, positives.min()), "target recall 1.0 gives the lowest fraud score",
                 f"to catch every fraud the threshold must be the smallest fraud score "
                 f"{positives.min():.4f}, got {threshold:.4f}")


@self_check("Exercise 10.3 (balanced class weights)")
def exercise_10_3(report, balanced_class_weight):
    """Check ``balanced_class_weight(y) -> {class: weight}`` with ``weight = n / (2 · count)``."""
    y = np.array([0] * 96 + [1] * 4)
    weights = balanced_class_weight(y)
    if not report.check(isinstance(weights, dict) and sorted(int(k) for k in weights) == [0, 1],
                        "a dict with one weight per class, keys 0 and 1",
                        f"return a dict {{0: w0, 1: w1}} as Keras' class_weight expects, got {weights!r}"):
        return
    w0, w1 = float(weights[0]), float(weights[1])
    if w0 > w1:
        report.fail("the weights are the wrong way round: the *rare* class (fraud, 4 of 100) must get the "
                    "large weight")
        return
    if np.isclose(w0, 100 / 96) and np.isclose(w1, 100 / 4):
        report.fail("almost: n / count gives every class the same total weight, but twice the total of the "
                    "data; divide by the number of classes too, n / (2 · count), so that the average weight "
                    "of an example stays 1 and the learning rate keeps its meaning")
        return
    report.check(np.isclose(w0 * 96, w1 * 4), "both classes get the same total weight",
                 f"total weight of class 0 is {w0 * 96:.2f} and of class 1 {w1 * 4:.2f}; they should be "
                 "equal (weight ∝ 1 / count)")
    report.check(np.isclose(w0 * 96 + w1 * 4, 100), "the average weight of an example is 1",
                 f"the weights sum to {w0 * 96 + w1 * 4:.2f} over the 100 examples, expected 100: use "
                 "n / (number of classes · count)")


# ------------------------------------------------------------------ verdict conditions


def paradox(accuracy_changes, recall_drops, max_accuracy_change=1.0, min_recall_drop=5.0):
    """The accuracy paradox over seeds (points): ``|mean accuracy change|`` plus one s.e. stays below
    ``max_accuracy_change`` while the recall drop exceeds ``min_recall_drop`` by more than one s.e."""
    change = stats.mean_se(accuracy_changes)
    return (change.n >= stats.MIN_SEEDS and abs(change.mean) + change.se < max_accuracy_change
            and stats.mean_se(recall_drops).exceeds_noise(min_recall_drop))


def not_below_by(a, b, margin):
    """One-sided: ``a`` is not below ``b`` by ``margin`` or more (paired by seed): ``margin − mean(b − a)``
    exceeds one s.e. (≥ 3 seeds). ``a`` may be above ``b`` by any amount."""
    gap = stats.paired_difference(b, a)
    return gap.n >= stats.MIN_SEEDS and margin - gap.mean > gap.se


def leaks(aucs, sampling_se, n_se=3.0):
    """The attack AUC, averaged over seeds, is above 0.5 by more than ``n_se`` times the combined noise:
    seed-to-seed s.e. and the AUC's own sampling s.e. (few members)."""
    auc = stats.mean_se(aucs)
    return auc.n >= stats.MIN_SEEDS and auc.mean - 0.5 > n_se * float(np.hypot(auc.se, sampling_se))
