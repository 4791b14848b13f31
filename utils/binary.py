"""Metrics for two-class problems with a rare positive class (fraud, malignancy).

The course's models end in a 2-way softmax (a model that outputs 2 logits works too); class 1
is the *positive* class: the one a
screening or scoring system exists to find. Overall accuracy is a poor headline for such
tasks: when 1.5 % of transactions are fraud, a model that never flags anything is 98.5 %
accurate. These functions report what matters instead:

* **recall** (= sensitivity, true-positive rate): the share of positives that are caught;
* **precision**: the share of flagged cases that are really positive;
* **specificity** (true-negative rate): the share of negatives that are left alone;
* **PR-AUC** (average precision): the precision–recall curve summarised over all thresholds
  (Saito & Rehmsmeier, PLOS ONE 2015, explain why it is more informative than ROC-AUC
  when positives are rare).

Every function takes the labels ``y`` (shape ``(n,)``, values 0/1) and the *scores*
``P(class 1)`` (shape ``(n,)``, in [0, 1]) that :func:`positive_scores` computes.
"""

import numpy as np
from sklearn.metrics import average_precision_score

from ._core import require_model
from ._validate import check_labels, check_real
from .metrics import predict_proba

__all__ = ["positive_scores", "confusion_at", "recall_at", "precision_at", "sensitivity_specificity",
           "pr_auc", "threshold_for_recall", "threshold_for_false_alarm_rate", "screening_summary",
           "balanced_class_weight"]


def _check_labels_scores(y, scores):
    """Validate ``y`` (0/1 labels) and ``scores`` (probabilities), both of shape ``(n,)``."""
    y, scores = check_labels(y), np.asarray(scores, dtype=np.float64)
    if scores.shape != y.shape:
        raise ValueError(f"y and scores must be 1-D arrays of the same length, got shapes {y.shape} "
                         f"and {scores.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"y must hold binary labels 0/1 (1 = positive), got values {np.unique(y)[:10]}")
    if scores.size and (np.isnan(scores).any() or scores.min() < 0.0 or scores.max() > 1.0):
        raise ValueError("scores must be probabilities of the positive class in [0, 1]; pass "
                         "positive_scores(model, x), not logits or class indices")
    return y, scores


def _check_threshold(threshold):
    return check_real(threshold, "threshold", low=0.0, high=1.0, meaning="flag scores >= threshold")


def positive_scores(model, x, batch_size=512, *, from_logits=None):
    """``P(class 1 | x)`` from a 2-class classifier (softmax or logits outputs).

    Args:
        model: a tf_keras classifier with 2 outputs: softmax probabilities or logits.
        x: inputs, shape ``(n, *input_shape)``.
        batch_size: examples per forward pass.
        from_logits: ``None`` detects whether the model outputs logits (then a softmax is
            applied); ``True``/``False`` says so.

    Returns:
        float64 array of shape ``(n,)``.
    """
    require_model(model)
    if model.output_shape[-1] != 2:
        raise ValueError("positive_scores needs a model with 2 outputs (softmax probabilities or logits) "
                         f"for the classes 0/1, got {model.output_shape[-1]}")
    probs = predict_proba(model, np.asarray(x, np.float32), batch_size, from_logits=from_logits)
    return probs[:, 1].astype(np.float64)


def confusion_at(y, scores, threshold=0.5):
    """Counts of the confusion matrix when every score ≥ ``threshold`` is flagged positive.

    Returns:
        ``dict(tp=…, fp=…, tn=…, fn=…)`` of ints.
    """
    y, scores = _check_labels_scores(y, scores)
    flagged = scores >= _check_threshold(threshold)
    positive = y == 1
    return {"tp": int(np.sum(flagged & positive)), "fp": int(np.sum(flagged & ~positive)),
            "tn": int(np.sum(~flagged & ~positive)), "fn": int(np.sum(~flagged & positive))}


def _ratio(numerator, denominator, what):
    if denominator == 0:
        raise ValueError(f"{what} is undefined: there are no examples in its denominator")
    return numerator / denominator


def recall_at(y, scores, threshold=0.5):
    """Recall (sensitivity) = TP / (TP + FN): the share of positives that are flagged."""
    c = confusion_at(y, scores, threshold)
    return _ratio(c["tp"], c["tp"] + c["fn"], "recall (no positive examples)")


def precision_at(y, scores, threshold=0.5):
    """Precision = TP / (TP + FP): the share of flagged examples that are positive.

    Returns 1.0 when nothing is flagged (no false alarms were raised); check the recall too.
    """
    c = confusion_at(y, scores, threshold)
    return 1.0 if c["tp"] + c["fp"] == 0 else c["tp"] / (c["tp"] + c["fp"])


def sensitivity_specificity(y, scores, threshold=0.5):
    """``(sensitivity, specificity)`` = (TP / (TP + FN), TN / (TN + FP)), each in [0, 1]."""
    c = confusion_at(y, scores, threshold)
    return (_ratio(c["tp"], c["tp"] + c["fn"], "sensitivity (no positive examples)"),
            _ratio(c["tn"], c["tn"] + c["fp"], "specificity (no negative examples)"))


def screening_summary(y, scores, threshold=0.5):
    """``(sensitivity, specificity, missed)``: the two rates in [0, 1] and the *number* of positives missed.

    How a clinician reads a screening test (Lab 11, Exercise 11.1): a case is flagged when its score
    is ``>= threshold``; ``missed`` counts the positives (e.g. malignant cases) left unflagged.
    """
    sensitivity, specificity = sensitivity_specificity(y, scores, threshold)
    return float(sensitivity), float(specificity), confusion_at(y, scores, threshold)["fn"]


def threshold_for_false_alarm_rate(y, scores, rate):
    """The lowest threshold whose false-alarm rate FP / (FP + TN) on ``(y, scores)`` is at most ``rate``.

    This sets an **operating point by its false alarms**: two models (e.g. dense and pruned) compared
    at thresholds chosen this way on the same validation data refer the same share of negatives, so a
    difference in their sensitivity is not bought with more false alarms. With ``k = floor(rate · n_neg)``
    false alarms allowed, the threshold lies just above the (k+1)-th highest negative score.
    """
    y, scores = _check_labels_scores(y, scores)
    rate = check_real(rate, "rate", low=0.0, high=1.0)
    negatives = np.sort(scores[y == 0])[::-1]
    if negatives.size == 0:
        raise ValueError("a false-alarm rate needs negative examples (y == 0)")
    allowed = int(np.floor(rate * negatives.size + 1e-9))
    if allowed >= negatives.size:
        return 0.0
    return float(np.nextafter(negatives[allowed], np.inf))


def pr_auc(y, scores):
    """Area under the precision–recall curve, as average precision (scikit-learn).

    A random scorer gets the positive rate (e.g. 0.015 for 1.5 % fraud), a perfect one 1.0.
    """
    y, scores = _check_labels_scores(y, scores)
    if not y.any():
        raise ValueError("PR-AUC is undefined without positive examples")
    return float(average_precision_score(y, scores))


def threshold_for_recall(y, scores, target_recall):
    """The highest threshold whose recall on ``(y, scores)`` is at least ``target_recall``.

    Use it on a *validation* split, then apply the threshold to the test split: choosing it on
    the test data would make the test recall an optimistic, not an honest, estimate.

    Args:
        y, scores: labels and positive-class scores, shape ``(n,)``.
        target_recall: in (0, 1].

    Returns:
        A float threshold; flag ``scores >= threshold``.
    """
    y, scores = _check_labels_scores(y, scores)
    target_recall = check_real(target_recall, "target_recall", low=0.0, high=1.0, low_open=True)
    positive_scores_sorted = np.sort(scores[y == 1])[::-1]  # highest first
    if positive_scores_sorted.size == 0:
        raise ValueError("threshold_for_recall needs at least one positive example")
    needed = int(np.ceil(target_recall * positive_scores_sorted.size))  # positives to catch
    return float(positive_scores_sorted[needed - 1])


def balanced_class_weight(y):
    """Keras ``class_weight`` that gives every class the same total weight.

    ``weight[c] = n / (number of classes · count of c)`` — scikit-learn's "balanced" rule. With
    1.5 % fraud, a fraud example weighs about 33 and a legitimate one about 0.5.

    Args:
        y: integer labels, shape ``(n,)``.

    Returns:
        ``{class index: weight}`` for every class present in ``y``.
    """
    y = check_labels(y)
    if y.size == 0:
        raise ValueError("y is empty: no labels to weight")
    classes, counts = np.unique(y, return_counts=True)
    return {int(c): float(len(y) / (len(classes) * k)) for c, k in zip(classes, counts)}
