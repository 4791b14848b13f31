"""Self-checks for Lab 07 (adversarial robustness)."""

import numpy as np

from .. import adversarial, metrics
from ._core import self_check

__all__ = ["exercise_7_1"]


@self_check("Exercise 7.1 (FGSM)")
def exercise_7_1(report, fgsm, model, x, y):
    """Check a student's ``fgsm(model, x, y, eps) -> x_adv`` against the reference attack."""
    x = np.asarray(x[:64], dtype=np.float32)
    y = np.asarray(y[:64])
    eps = 0.1
    original = x.copy()
    x_adv = np.asarray(fgsm(model, x, y, eps))
    if not report.check(x_adv.shape == x.shape, "x_adv has the shape of x",
                        f"x_adv has shape {x_adv.shape}, expected {x.shape}: "
                        "return one perturbed image per input"):
        return
    report.check(np.array_equal(x, original), "the clean images are untouched",
                 "your function changed x in place: build x_adv as a new array (x + eps * sign(grad))")
    step = np.max(np.abs(x_adv - x))
    report.check(step <= eps + 1e-5, "the perturbation stays within the L∞ budget (≤ eps everywhere)",
                 f"some pixel moved by {step:.3f} > eps = {eps}: "
                 "FGSM takes ONE step of exactly eps · sign(gradient)")
    report.check(x_adv.min() >= 0.0 and x_adv.max() <= 1.0, "pixels stay in the valid range [0, 1]",
                 f"x_adv has values in [{x_adv.min():.3f}, {x_adv.max():.3f}]: clip to [0, 1] after the step "
                 "(np.clip or tf.clip_by_value)")
    reference = adversarial.fgsm(model, x, y, eps)
    moved = np.abs(reference - x) > 1e-6                 # where the reference attack changes a pixel
    agree = np.sign(x_adv - x)[moved] == np.sign(reference - x)[moved]
    same_direction = float(np.mean(agree)) if moved.any() else 1.0
    report.check(same_direction > 0.95,
                 f"the step goes uphill on the loss ({same_direction:.0%} of the pixels agree "
                 "with the reference)",
                 f"only {same_direction:.0%} of the pixels move in the reference direction: step along "
                 "+sign(gradient of the loss w.r.t. x) — uphill, to INCREASE the loss; the loss is sparse "
                 "categorical cross-entropy of model(x) against the TRUE labels y")
    full_step = np.abs(np.abs(x_adv - x)[moved] - np.abs(reference - x)[moved]) < 1e-4
    used = float(np.mean(full_step)) if moved.any() else 1.0
    report.check(used > 0.95, "each changed pixel moves by the full eps (or to the range's edge)",
                 f"only {used:.0%} of the pixels move by eps: use eps * sign(gradient), not eps * gradient")
    clean = metrics.accuracy(model, x, y)
    attacked = metrics.accuracy(model, x_adv, y)
    report.check(attacked < clean,
                 f"the attack works: accuracy {clean:.0%} → {attacked:.0%} on 64 test images",
                 f"accuracy did not fall ({clean:.0%} → {attacked:.0%}): is the sign of the step right?")
