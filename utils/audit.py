"""A security audit to run before shipping a pruned model.

Pruning is usually judged by two numbers: accuracy and size. Chapters 4 and 5 showed that a
pruned model can also be less fair across classes, worse calibrated, leakier about its training
data and easier to fool. :func:`security_audit` measures all of these for a *reference* model
(usually the dense one) and a *candidate* (the pruned one) on the same data, and reports them
side by side with the change:

============================  =====================================================  ==========
row                           what it measures                                       better
============================  =====================================================  ==========
clean accuracy (%)            top-1 accuracy on the test data                        higher
worst-class accuracy (%)      accuracy on the class whose accuracy dropped most      higher
ECE                           expected calibration error (Guo et al., 2017)          lower
membership AUC                loss-threshold membership inference (Yeom et al., 2018) closer to 0.5
FGSM accuracy (%)             accuracy under FGSM (Goodfellow et al., 2015)          higher
PGD accuracy (%)              accuracy under PGD (Madry et al., 2018)                higher
*your extra rows*             e.g. fraud recall, sensitivity                         (you say)
non-zero parameters           weights that are not exactly zero                      lower
gzipped size (KiB)            weights saved and gzip-compressed                      lower
median latency (ms)           one forward pass, timed round-robin                    lower
============================  =====================================================  ==========

It is a *screening* tool, not a proof of safety: each row is one attack or one statistic on
one data set, with the sampling noise of that data set's size.
"""

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ._core import outputs_logits, require_model
from ._validate import check_int, check_labels, check_real, check_same_length
from .adversarial import ATTACKS, robust_accuracy
from .calibration import expected_calibration_error
from .metrics import (
    accuracy,
    compare_latency,
    count_params,
    gzipped_size,
    per_class_accuracy,
    recall_per_class,
)
from .privacy import membership_inference

__all__ = ["security_audit", "AuditReport", "recall_per_class", "precision_recall_at", "precision_at_recall"]


@dataclass
class AuditReport:
    """The measurements of :func:`security_audit`.

    Attributes:
        names: ``(reference name, candidate name)``, the table's first two columns.
        rows: ``{metric: (reference value, candidate value)}`` in table order.
        worst_class: name of the class whose accuracy dropped most (``None`` if no class data).
        settings: the attack budget and the numbers of examples each row used.
    """

    names: tuple
    rows: dict
    worst_class: object = None
    settings: dict = field(default_factory=dict)

    def table(self):
        """A ``pandas.DataFrame``: one row per metric; reference, candidate and change columns."""
        frame = pd.DataFrame(self.rows, index=list(self.names)).T
        frame["change"] = frame[self.names[1]] - frame[self.names[0]]
        frame.index.name = "metric"
        return frame

    def value(self, metric, which="candidate"):
        """One measured value, e.g. ``report.value("PGD accuracy (%)")``."""
        if metric not in self.rows:
            raise KeyError(f"no row {metric!r} in this audit; rows: {', '.join(self.rows)}")
        if which not in ("reference", "candidate"):
            raise ValueError(f"which must be 'reference' or 'candidate', got {which!r}")
        return self.rows[metric][0 if which == "reference" else 1]

    def plot(self, ncols=4):
        """One small bar panel per metric, reference vs candidate.

        Returns:
            The matplotlib ``Figure``.
        """
        metrics = list(self.rows)
        nrows = int(np.ceil(len(metrics) / ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 1.9 * nrows), squeeze=False)
        for ax, metric in zip(axes.flat, metrics):
            values = self.rows[metric]
            ax.barh([1, 0], values, color=["#9e9e9e", "#1f77b4"])
            ax.set_yticks([1, 0], labels=list(self.names))
            ax.set_title(self._title(metric), fontsize=9)
            ax.set_xlabel(_unit(metric), fontsize=8)
            ax.tick_params(labelsize=8)
        for ax in list(axes.flat)[len(metrics):]:
            ax.set_visible(False)
        fig.suptitle(f"Security audit: {self.names[1]} (blue) against {self.names[0]} (grey)")
        fig.tight_layout()
        return fig

    def _title(self, metric):
        if metric == "worst-class accuracy (%)" and self.worst_class is not None:
            return f"{metric}: class {self.worst_class}"
        return metric

    def __str__(self):
        return self.table().to_string(float_format=lambda v: f"{v:,.2f}")


def _unit(metric):
    for unit in ("%", "KiB", "ms"):
        if f"({unit})" in metric:
            return unit
    return "count" if metric == "non-zero parameters" else "value"


def _test_split(data):
    """``(x, y)`` from a Dataset (its test split) or from an ``(x, y)`` pair."""
    if hasattr(data, "x_test"):
        x, y = data.x_test, data.y_test
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
    else:
        raise TypeError("data must be a utils.data.Dataset (its test split is used) or an (x, y) pair, "
                        f"got {type(data).__name__}")
    x, y = np.asarray(x, np.float32), check_labels(y, "data's labels y")
    check_same_length(x=x, y=y)
    return x, y


def _check_options(attacks, eps, membership, extra_metrics, names, max_examples):
    """Check the audit's options; return ``attacks`` as a tuple."""
    if isinstance(attacks, str):
        raise TypeError(f"attacks must be a tuple of names from {tuple(ATTACKS)}, got the string {attacks!r}")
    attacks = tuple(attacks)
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown:
        raise ValueError(f"attacks must be a tuple of names from {tuple(ATTACKS)}, got {attacks!r}")
    check_real(eps, "eps", low=0.0, high=1.0, low_open=True, meaning="an L∞ budget, inputs in [0, 1]")
    if membership is not None and (not isinstance(membership, (tuple, list)) or len(membership) != 2):
        raise TypeError("membership must be None or (members, non_members), each an (x, y) pair")
    if extra_metrics is not None and (not isinstance(extra_metrics, dict)
                                      or not all(callable(f) for f in extra_metrics.values())):
        raise TypeError("extra_metrics must be a dict {row label: function(model) -> float}")
    if not isinstance(names, (tuple, list)) or len(names) != 2:
        raise TypeError(f"names must be two different column names, got {names!r}")
    if names[0] == names[1]:
        raise ValueError(f"names must be two different column names, got {names!r}")
    if max_examples is not None:
        check_int(max_examples, "max_examples (None or a positive int)", minimum=1)
    return attacks


def _output_kinds(reference, candidate, from_logits):
    """``(reference outputs logits?, candidate outputs logits?)``; each model may be of either kind."""
    if from_logits is None or isinstance(from_logits, bool):
        from_logits = (from_logits, from_logits)
    elif not isinstance(from_logits, (tuple, list)) or len(from_logits) != 2:
        raise TypeError("from_logits must be None (detect), True/False (both models), or a pair "
                        f"(reference, candidate) of those, got {from_logits!r}")
    return outputs_logits(reference, from_logits[0]), outputs_logits(candidate, from_logits[1])


def _attack_subset(x, y, max_examples, seed):
    """At most ``max_examples`` examples, drawn without replacement with a fixed seed."""
    if max_examples is None or max_examples >= len(y):
        return x, y
    chosen = np.sort(np.random.default_rng(seed).choice(len(y), max_examples, replace=False))
    return x[chosen], y[chosen]


def precision_recall_at(y, scores, threshold):
    """``(precision, recall)`` of a binary scorer that flags every ``score >= threshold``.

    Precision is 1.0 when nothing is flagged (there are no false alarms); recall then shows the
    problem. ``y`` holds 0/1 labels with at least one positive.
    """
    y, scores = check_labels(y, "y"), np.asarray(scores, dtype=np.float64)
    check_same_length(y=y, scores=scores)
    if not np.any(y == 1):
        raise ValueError("recall is undefined without positive examples")
    flagged = scores >= float(threshold)
    tp = int(np.sum(flagged & (y == 1)))
    precision = 1.0 if not flagged.any() else tp / int(flagged.sum())
    return float(precision), float(tp / np.sum(y == 1))


def precision_at_recall(y, scores, target_recall):
    """Precision of a binary scorer at the operating point that first reaches ``target_recall``.

    The threshold is the highest one whose recall on ``(y, scores)`` is at least the target
    (flag ``scores >= threshold``; ties at the threshold are flagged too). Comparing two models'
    precision at the *same recall* compares their precision–recall curves where it matters,
    instead of at one fixed threshold where they catch different shares of the positives.

    Args:
        y: 0/1 labels ``(n,)`` with at least one positive; scores: positive-class scores ``(n,)``.
        target_recall: in (0, 1].

    Returns:
        The precision TP / (TP + FP) at that threshold, a float in [0, 1].
    """
    y, scores = check_labels(y, "y"), np.asarray(scores, dtype=np.float64)
    check_same_length(y=y, scores=scores)
    target_recall = check_real(target_recall, "target_recall", low=0.0, high=1.0, low_open=True)
    positives = np.sort(scores[y == 1])[::-1]
    if positives.size == 0:
        raise ValueError("precision_at_recall needs at least one positive example")
    threshold = positives[int(np.ceil(target_recall * positives.size)) - 1]
    flagged = scores >= threshold
    return float(np.sum(flagged & (y == 1)) / np.sum(flagged))


def _worst_class(reference, candidate, x, y, class_names):
    """(name, reference accuracy, candidate accuracy) of the class whose accuracy dropped most."""
    num_classes = int(y.max()) + 1 if class_names is None else len(class_names)
    before = per_class_accuracy(reference, x, y, num_classes)
    after = per_class_accuracy(candidate, x, y, num_classes)
    drop = np.where(np.isnan(before - after), -np.inf, before - after)
    worst = int(np.argmax(drop))
    name = class_names[worst] if class_names is not None else str(worst)
    return name, before[worst], after[worst]


def _model_rows(model, x, y, x_attack, y_attack, *, attacks, eps, pgd_steps, membership, extra_metrics,
                from_logits):
    """The rows that need only one model: accuracy, ECE, MIA, attacks and the extra metrics.

    ``from_logits`` (a bool: whether this model outputs logits) is passed to every measurement
    that needs probabilities or a loss; accuracy needs only the arg-max.
    """
    rows = {"clean accuracy (%)": 100 * accuracy(model, x, y),
            "ECE": float(expected_calibration_error(model, x, y, from_logits=from_logits))}
    if membership is not None:
        rows["membership AUC"] = float(membership_inference(model, *membership, from_logits=from_logits).auc)
    if "fgsm" in attacks:
        rows["FGSM accuracy (%)"] = 100 * robust_accuracy(model, x_attack, y_attack, "fgsm", eps,
                                                          from_logits=from_logits)
    if "pgd" in attacks:
        rows["PGD accuracy (%)"] = 100 * robust_accuracy(model, x_attack, y_attack, "pgd", eps,
                                                         alpha=2.5 * eps / pgd_steps, steps=pgd_steps,
                                                         from_logits=from_logits)
    for label, metric in (extra_metrics or {}).items():
        rows[label] = float(metric(model))
    rows["non-zero parameters"] = count_params(model, nonzero=True)
    rows["gzipped size (KiB)"] = gzipped_size(model) / 1024
    return rows


def security_audit(reference, candidate, data, *, attacks=tuple(ATTACKS), eps=0.1, pgd_steps=10,
                   membership=None, extra_metrics=None, names=("dense", "pruned"), max_examples=None,
                   latency_batch=1, latency_runs=20, seed=0, from_logits=None, attack_data=None):
    """Measure a candidate (pruned) model against a reference (dense) one, efficiency and security.

    Args:
        reference, candidate: tf_keras classifiers with the same inputs and classes; each may end
            in a softmax or output logits (they may differ, see ``from_logits``).
        data: a :class:`utils.data.Dataset` (its test split is used) or an ``(x, y)`` pair;
            ``x`` of shape ``(n, *input_shape)``, ``y`` integer labels of shape ``(n,)``.
        attacks: any of ``"fgsm"``, ``"pgd"`` (L∞, inputs in [0, 1]); ``()`` for tabular data,
            where an L∞ pixel budget has no meaning.
        eps: the attacks' L∞ budget, in (0, 1].
        pgd_steps: PGD steps (step size ``2.5 · eps / steps``, one random start).
        membership: optional ``(members, non_members)``, each an ``(x, y)`` pair of training and
            unseen examples; adds the loss-attack membership AUC (0.5 = no leak).
        extra_metrics: optional ``{row label: function(model) -> float}``, the domain's own
            metric, e.g. fraud recall or sensitivity.
        names: the two column names.
        max_examples: if set, the attacks use at most this many test examples (seeded draw);
            every other row uses the whole test split.
        latency_batch: batch size of the latency measurement (1 = one request at a time).
        latency_runs: timed calls per model (round-robin).
        seed: seed of the attack subset.
        attack_data: optional ``(x, y)`` pair the attacks use instead of the seeded draw (e.g.
            the very images a lab attacked, so that the audit's attack rows match its numbers);
            ``max_examples`` is then ignored.
        from_logits: ``None`` detects, for each model separately, whether it outputs logits;
            ``True``/``False`` says so for both; a pair ``(reference, candidate)`` of those says
            so for each. Passed on to the ECE, membership and attack rows (``extra_metrics``
            functions receive the model and must handle its outputs themselves).

    Returns:
        An :class:`AuditReport`; ``.table()`` for the numbers, ``.plot()`` for a figure.
    """
    for model in (reference, candidate):
        require_model(model)
    attacks = _check_options(attacks, eps, membership, extra_metrics, names, max_examples)
    ref_logits, cand_logits = _output_kinds(reference, candidate, from_logits)
    x, y = _test_split(data)
    if reference.output_shape[-1] != candidate.output_shape[-1]:
        raise ValueError("reference and candidate must predict the same classes, got "
                         f"{reference.output_shape[-1]} and {candidate.output_shape[-1]} outputs")
    if attack_data is None:
        x_attack, y_attack = _attack_subset(x, y, max_examples, seed)
    else:
        x_attack, y_attack = _test_split(attack_data)
    options = dict(attacks=attacks, eps=eps, pgd_steps=pgd_steps, membership=membership,
                   extra_metrics=extra_metrics)
    ref_rows = _model_rows(reference, x, y, x_attack, y_attack, from_logits=ref_logits, **options)
    cand_rows = _model_rows(candidate, x, y, x_attack, y_attack, from_logits=cand_logits, **options)
    class_names = getattr(data, "class_names", None)
    worst, ref_worst, cand_worst = _worst_class(reference, candidate, x, y, class_names)
    latency = compare_latency({"reference": reference, "candidate": candidate}, x[:latency_batch],
                              runs=latency_runs)
    rows = {metric: (ref_rows[metric], cand_rows[metric]) for metric in ref_rows}
    rows = {"clean accuracy (%)": rows.pop("clean accuracy (%)"),
            "worst-class accuracy (%)": (100 * ref_worst, 100 * cand_worst), **rows}
    rows["median latency (ms)"] = (latency["reference"].median_ms, latency["candidate"].median_ms)
    settings = {"eps": eps, "attacks": attacks, "test examples": len(y), "attack examples": len(y_attack),
                "latency batch": min(latency_batch, len(y))}
    return AuditReport(names=tuple(names), rows=rows, worst_class=worst, settings=settings)
