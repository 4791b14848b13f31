"""Self-checks for Lab 05 (membership inference and differential privacy)."""

import numpy as np
from sklearn.metrics import roc_auc_score

from .. import keras, stats
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


def _dp_case():
    """Five examples, two variables; example 2's gradient is short (below C) and must not be rescaled."""
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=(5, 3, 4)), rng.normal(size=(5, 4))]
    grads[0][2] *= 0.01
    grads[1][2] *= 0.01
    noise = [rng.normal(size=(3, 4)), rng.normal(size=(4,))]
    return grads, noise


def _expected_dp_gradient(grads, noise, clip, sigma, batch):
    """The model answer, independent of utils.privacy: clip each whole example, sum, add noise, divide."""
    flat = np.concatenate([np.reshape(g, (g.shape[0], -1)) for g in grads], axis=1)
    factors = np.minimum(1.0, clip / np.maximum(np.linalg.norm(flat, axis=1), 1e-12))
    return [(np.einsum("i,i...->...", factors, g) + sigma * clip * z) / batch for g, z in zip(grads, noise)]


def _close(got, want):
    return all(np.shape(a) == np.shape(b) and np.allclose(a, b, atol=1e-9) for a, b in zip(got, want))


@self_check("Exercise 5.3 (one DP-SGD gradient)")
def exercise_5_3(report, dp_sgd_gradient):
    """Check ``dp_sgd_gradient(per_example_grads, noise, l2_norm_clip, noise_multiplier, batch_size)``."""
    grads, noise = _dp_case()
    clip, sigma, batch = 1.5, 0.8, 8.0              # B = 8 expected examples, 5 in this (Poisson) batch
    before = [g.copy() for g in grads] + [z.copy() for z in noise]
    zeros = [np.zeros_like(z) for z in noise]
    result = dp_sgd_gradient(grads, noise, clip, sigma, batch)
    if not report.check(isinstance(result, (list, tuple)) and len(result) == 2
                        and all(np.shape(r) == np.shape(z) for r, z in zip(result, noise)),
                        "returns one array per variable, with the variable's shape (3, 4) and (4,)",
                        "return a list with one array per variable, shaped like the variable: the example "
                        "axis (axis 0) must be summed away"):
        return
    report.check(all(np.array_equal(a, b) for a, b in zip(before, grads + noise)),
                 "the inputs are not modified",
                 "you changed the gradient or noise arrays in place; compute new arrays")
    result = [np.asarray(r, dtype=np.float64) for r in result]
    no_noise = [np.asarray(r, dtype=np.float64) for r in dp_sgd_gradient(grads, zeros, clip, sigma, batch)]
    clipped_mean = _expected_dp_gradient(grads, zeros, clip, 0.0, batch)
    if _close(no_noise, _expected_dp_gradient(grads, zeros, clip, 0.0, 5.0)):
        report.fail("you divided by the actual number of examples (5); divide by the *expected* batch size "
                    "B: with Poisson sampling the actual size is itself private")
        return
    per_variable = [(np.sum(g * np.minimum(1.0, clip / np.maximum(np.linalg.norm(
        np.reshape(g, (5, -1)), axis=1), 1e-12)).reshape((5,) + (1,) * (g.ndim - 1)), axis=0)) / batch
        for g in grads]
    if _close(no_noise, per_variable):
        report.fail("you clipped each variable separately; clip the norm of each example's *whole* gradient "
                    "(all variables together): that norm is what bounds one example's influence")
        return
    if _close(no_noise, [np.sum(g, axis=0) / batch for g in grads]):
        report.fail("no clipping happened: scale example i by min(1, C / ‖g_i‖) before summing")
        return
    if _close(no_noise, [np.sum(g, axis=0) * np.minimum(1.0, clip / np.linalg.norm(_flat_sum(grads))) / batch
                         for g in grads]):
        report.fail("you clipped the *sum* of the gradients; clip every example's gradient on its own, "
                    "then sum")
        return
    if not report.check(_close(no_noise, clipped_mean),
                        "without noise: the sum of the per-example clipped gradients, divided by B",
                        "with zero noise the result should be Σ_i g_i · min(1, C/‖g_i‖) / B, where ‖g_i‖ is "
                        "the norm of example i over all variables; compare your steps with Abadi et al.'s "
                        "Algorithm 1"):
        return
    noise_part = [r - m for r, m in zip(result, clipped_mean)]
    for wrong, message in (
            (sigma, "the noise has standard deviation σ, but it must be σ·C (the noise is scaled to the "
                    "clipping norm: the most one example can move the sum)"),
            (clip, "the noise has standard deviation C; multiply the standard normal draws by σ·C"),
            (sigma * clip * 5, "the noise is added once per example; add one draw σ·C·z to the *sum*"),
            (-sigma * clip, "the noise has the wrong sign; add σ·C·z")):
        if _close(noise_part, [wrong * z / batch for z in noise]):
            report.fail(message)
            return
    if _close(noise_part, [sigma * clip * z for z in noise]):
        report.fail("the noise is not divided by B: add it to the sum, then divide the noisy sum by B")
        return
    report.check(_close(noise_part, [sigma * clip * z / batch for z in noise]),
                 "the noise is σ·C·z added to the sum, then divided by B",
                 "the noise part of your result is not σ·C·z / B for the given draws z; add "
                 "noise_multiplier · l2_norm_clip · z to the clipped sum, once, then divide by B")
    short = [g[2:3] for g in grads]
    report.check(_close(dp_sgd_gradient(short, zeros, clip, 0.0, 1.0), [g[0] for g in short]),
                 "a gradient already shorter than C is left unchanged",
                 "an example whose whole gradient is shorter than C must not be rescaled: use min(1, C/‖g‖)")


def _flat_sum(grads):
    return np.concatenate([np.sum(g, axis=0).ravel() for g in grads])


# ------------------------------------------------------------------------------------------ verdicts

def attack_leaks(auc, chance_se, *, z=2.0):
    """The attack leaks membership: its AUC exceeds chance (0.5) by more than ``z`` standard errors.

    ``chance_se`` is the standard error of an AUC under chance with the same numbers of members and
    non-members (``utils.privacy.auc_standard_error(0.5, n_members, n_non_members)``): the scatter of a
    guessing attack's AUC, against which the measured AUC is tested.
    """
    return bool(np.isfinite(auc) and np.isfinite(chance_se) and auc - 0.5 > z * chance_se)


def dp_lowers_leak(non_private_aucs, dp_aucs):
    """DP-SGD lowers the attack AUC below the non-private model's, paired by seed, by more than the s.e.

    ``non_private_aucs[i]`` and ``dp_aucs[i]`` come from the same seed (the same members); ≥ 3 seeds.
    """
    return lowers_leak(non_private_aucs, dp_aucs)


def lowers_leak(reference_aucs, other_aucs):
    """The ``other`` arm's attack AUC is below the ``reference`` arm's, paired by seed, by more than the s.e.

    E.g. DP-SGD against its equal-utility control, or that control against the fully trained model;
    ``reference_aucs[i]`` and ``other_aucs[i]`` come from the same seed (the same members); ≥ 3 seeds.
    """
    return stats.paired_difference(reference_aucs, other_aucs).exceeds_noise()
