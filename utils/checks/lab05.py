"""Self-checks for Lab 05 (membership inference and differential privacy)."""

import numpy as np
from sklearn.metrics import roc_auc_score

from .. import keras
from ._core import self_check

__all__ = ["exercise_5_1", "exercise_5_2", "exercise_5_3"]


def _toy_model():
    """A fixed 3-class softmax model on 2 features, with moderate (unsaturated) probabilities."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
    model.layers[-1].set_weights([np.array([[1.0, -0.5, 0.2], [0.3, 0.8, -1.0]]), np.array([0.1, 0.0, -0.1])])
    return model


@self_check("Exercise 5.1 (per-example loss)")
def exercise_5_1(report, per_example_loss):
    """Check ``per_example_loss(model, x, y) -> (n,)`` cross-entropy of each example."""
    model = _toy_model()
    x = np.array([[0.0, 0.0], [1.0, 2.0], [-1.0, 0.5], [2.0, -1.0]], np.float32)
    y = np.array([0, 1, 2, 0])
    probs = model(x).numpy().astype(np.float64)
    expected = -np.log(probs[np.arange(4), y])
    losses = np.asarray(per_example_loss(model, x, y), dtype=np.float64)
    if not report.check(losses.shape == (4,), "one loss per example",
                        f"got shape {losses.shape}, expected (4,): return a 1-D array, one entry per "
                        "example (no averaging over the batch)"):
        return
    if np.allclose(losses, -expected, atol=1e-4):
        report.fail("your losses have the wrong sign: the cross-entropy is -log p_y (positive)")
        return
    if np.allclose(losses, np.log(probs).sum(axis=1) * -1, atol=1e-4):
        report.fail("you summed -log p over all classes; take only the true class: probs[i, y[i]]")
        return
    report.check(np.allclose(losses, expected, atol=1e-4), "losses equal -log p_y (the cross-entropy)",
                 f"got {np.round(losses, 4).tolist()}, expected {np.round(expected, 4).tolist()}: pick "
                 "p_y = probs[np.arange(n), y] and return -np.log(p_y)")
    report.check(bool(np.all(losses >= 0)), "all losses are non-negative",
                 "a cross-entropy is never negative")


@self_check("Exercise 5.2 (the loss-threshold attack's ROC curve)")
def exercise_5_2(report, loss_threshold_roc):
    """Check ``loss_threshold_roc(member_losses, non_member_losses) -> (fpr, tpr, auc)``."""
    rng = np.random.default_rng(0)
    members = rng.exponential(0.5, 40)
    non_members = rng.exponential(1.0, 50)
    fpr, tpr, auc = loss_threshold_roc(members, non_members)
    fpr, tpr = np.asarray(fpr, float), np.asarray(tpr, float)
    expected_auc = roc_auc_score(np.r_[np.ones(40), np.zeros(50)], -np.r_[members, non_members])
    if not report.check(fpr.shape == tpr.shape and fpr.ndim == 1 and len(fpr) >= 2,
                        "fpr and tpr are two 1-D arrays of equal length",
                        f"got shapes {fpr.shape} and {tpr.shape}: return one (fpr, tpr) point per threshold"):
        return
    report.check(fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1,
                 "the curve runs from (0, 0) to (1, 1)",
                 "the curve must start at (0, 0) (threshold below every loss: nobody called a member) "
                 "and end at (1, 1) (threshold above every loss); add those two end points")
    report.check(bool(np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)),
                 "fpr and tpr never decrease as the threshold rises",
                 "sort the thresholds in increasing order of loss so that both rates grow")
    if abs(auc - (1 - expected_auc)) < 1e-6 and abs(expected_auc - 0.5) > 0.05:
        report.fail("your AUC is 1 − the right one: a *member* has a *low* loss, so predict "
                    "'member' when loss <= threshold")
        return
    report.check(abs(auc - expected_auc) < 1e-6, f"AUC = {expected_auc:.3f}, as sklearn computes it",
                 f"your AUC is {auc:.4f}, expected {expected_auc:.4f}: integrate tpr over fpr with the "
                 "trapezoid rule, np.trapezoid(tpr, fpr), on the full curve")
    fpr_t, tpr_t, auc_t = loss_threshold_roc(np.array([0.1, 0.5, 0.5]), np.array([0.5, 0.9]))
    report.check(abs(auc_t - 5 / 6) < 1e-6, "ties between a member and a non-member count one half",
                 f"with members [0.1, 0.5, 0.5] and non-members [0.5, 0.9] the AUC is 5/6 (two of the six "
                 f"member/non-member pairs tie at 0.5 and count ½ each), you got "
                 f"{auc_t:.4f}: use each distinct loss value once as a threshold (np.unique) so tied "
                 "examples move together")


@self_check("Exercise 5.3 (per-example clipping)")
def exercise_5_3(report, clip_per_example):
    """Check ``clip_per_example(grads, l2_norm_clip)`` on a list of per-example gradient arrays."""
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=(5, 3, 4)), rng.normal(size=(5, 4))]   # 5 examples, two variables
    grads[0][2] *= 0.01
    grads[1][2] *= 0.01                                              # example 2 is short: must be untouched
    clip = 1.5
    before = [g.copy() for g in grads]
    clipped = clip_per_example(grads, clip)
    if not report.check(isinstance(clipped, (list, tuple)) and len(clipped) == 2
                        and all(np.shape(c) == np.shape(g) for c, g in zip(clipped, grads)),
                        "returns one array per variable, shapes unchanged",
                        "return a list with one array per variable, each of shape (n_examples, ...)"):
        return
    report.check(all(np.array_equal(a, b) for a, b in zip(before, grads)), "the input is not modified",
                 "you changed the input arrays in place; compute new arrays")
    flat = np.concatenate([np.reshape(c, (5, -1)) for c in clipped], axis=1)
    raw = np.concatenate([np.reshape(g, (5, -1)) for g in before], axis=1)
    norms = np.linalg.norm(flat, axis=1)
    per_variable = [np.linalg.norm(np.reshape(c, (5, -1)), axis=1) for c in clipped]
    if np.any(norms > clip + 1e-6) and all(np.all(v <= clip + 1e-6) for v in per_variable):
        report.fail("you clipped each variable separately; clip the norm of each example's *whole* "
                    "gradient (all variables together), as DP-SGD's sensitivity bound needs")
        return
    report.check(bool(np.all(norms <= clip + 1e-6)), f"every example's whole gradient has norm ≤ {clip}",
                 f"norms after clipping are {np.round(norms, 3).tolist()}; scale example i by "
                 f"min(1, C / ||g_i||) where ||g_i|| is over all variables")
    report.check(np.allclose(flat[2], raw[2]), "a gradient already shorter than C is left unchanged",
                 "example 2 had a small gradient and should not change: use min(1, C/norm), not C/norm")
    cosine = np.sum(flat * raw, axis=1) / (np.linalg.norm(flat, axis=1) * np.linalg.norm(raw, axis=1))
    report.check(np.allclose(cosine, 1.0), "directions are kept (clipping only rescales)",
                 "clipping must multiply each example's gradient by a positive number, not change "
                 "its direction")
