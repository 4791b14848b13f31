"""Self-checks and verdict conditions for Lab 07 (adversarial robustness)."""

import numpy as np

from .. import adversarial, keras, metrics, tf
from .._core import copy_model
from ._conditions import beats, not_worse  # noqa: F401 (verdict conditions used as check.lab07.<name>)
from ._core import self_check

__all__ = ["exercise_7_1", "exercise_7_2", "exercise_7_3"]


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


def _mean_loss(model, x, y):
    return float(np.mean(keras.losses.sparse_categorical_crossentropy(y, model(x, training=False)).numpy()))


@self_check("Exercise 7.2 (one PGD iteration)")
def exercise_7_2(report, pgd_step, model, x, y):
    """Check ``pgd_step(model, x_adv, x, y, eps, alpha) -> x_next`` on points inside and on the ε-ball."""
    x = np.asarray(x[:64], dtype=np.float32)
    y = np.asarray(y[:64])
    eps, alpha = 0.1, 0.04
    # Case 1: the current point sits on the ball's surface (an FGSM point): one more step in the same
    # direction would leave the ball unless it is projected around the CLEAN image x.
    x_adv = adversarial.fgsm(model, x, y, eps)
    kept_x, kept_adv = x.copy(), x_adv.copy()
    x_next = np.asarray(pgd_step(model, x_adv, x, y, eps, alpha), dtype=np.float32)
    if not report.check(x_next.shape == x.shape, "x_next has the shape of x",
                        f"x_next has shape {x_next.shape}, expected {x.shape}: return one image per input"):
        return
    report.check(np.array_equal(x, kept_x) and np.array_equal(x_adv, kept_adv),
                 "the inputs x and x_adv are untouched",
                 "your function changed x or x_adv in place: build the next point as a new array")
    report.check(x_next.min() >= 0.0 and x_next.max() <= 1.0, "pixels stay in the valid range [0, 1]",
                 f"x_next has values in [{x_next.min():.3f}, {x_next.max():.3f}]: after projecting onto the "
                 "ball, clip to the valid range [0, 1] as well")
    distance = float(np.max(np.abs(x_next - x)))
    report.check(distance <= eps + 1e-5, "x_next stays inside the ε-ball around the CLEAN image x",
                 f"x_next is {distance:.3f} away from x (> eps = {eps}): project onto [x − eps, x + eps] — "
                 "around the clean image x, not around the current point x_adv — after every step")
    reference = adversarial.pgd_step(model, x_adv, x, y, eps, alpha)
    same = float(np.mean(np.abs(x_next - reference) < 1e-4))
    if not report.check(same > 0.95, f"x_next matches the reference iteration ({same:.0%} of the pixels)",
                        f"only {same:.0%} of the pixels match the reference iteration. "
                        + _diagnose_pgd_step(model, x_adv, x, y, eps, alpha, x_next)):
        return
    # Case 2: from a random point strictly inside the ball, a small step must move by alpha exactly.
    shift = np.random.default_rng(0).uniform(-eps / 2, eps / 2, x.shape)
    inside = np.clip(x + shift, 0, 1).astype(np.float32)
    small = 0.01
    moved = np.asarray(pgd_step(model, inside, x, y, eps, small), dtype=np.float32)
    reference = adversarial.pgd_step(model, inside, x, y, eps, small)
    same = float(np.mean(np.abs(moved - reference) < 1e-4))
    report.check(same > 0.95, "from inside the ball each pixel moves by alpha · sign(gradient)",
                 f"from a point inside the ball only {same:.0%} of the pixels match: step by exactly "
                 "alpha · sign(gradient at x_adv) (not eps, not the raw gradient)")
    report.check(_mean_loss(model, x_next, y) > _mean_loss(model, x, y),
                 "the iteration raises the loss above the clean images' loss",
                 "the loss went down: step UPHILL, along +sign(gradient of the loss w.r.t. x_adv)")


def _diagnose_pgd_step(model, x_adv, x, y, eps, alpha, x_next):
    """Name the most likely mistake by comparing with plausible wrong iterations."""
    gradient_at_x = adversarial.input_gradient(model, x, y)
    gradient_at_adv = adversarial.input_gradient(model, x_adv, y)
    wrong = {
        "You took the gradient at the clean image x; take it at the current point x_adv.":
            np.clip(np.clip(x_adv + alpha * np.sign(gradient_at_x), x - eps, x + eps), 0, 1),
        "You moved along the raw gradient; PGD under L∞ moves by alpha · sign(gradient).":
            np.clip(np.clip(x_adv + alpha * gradient_at_adv, x - eps, x + eps), 0, 1),
        "You stepped downhill; the attack INCREASES the loss (+ sign).":
            np.clip(np.clip(x_adv - alpha * np.sign(gradient_at_adv), x - eps, x + eps), 0, 1),
        "You stepped by eps; the step size is alpha.":
            np.clip(np.clip(x_adv + eps * np.sign(gradient_at_adv), x - eps, x + eps), 0, 1),
    }
    for message, candidate in wrong.items():
        if np.mean(np.abs(candidate - x_next) < 1e-4) > 0.95:
            return message
    return ("Compute the gradient of the cross-entropy at x_adv, step alpha · sign(gradient) uphill, "
            "then clip to [x − eps, x + eps] and to [0, 1].")


class _Recorder(keras.Model):
    """Wraps a model and keeps the inputs of its eager calls (to see which batch a step trained on)."""

    def __init__(self, inner):
        super().__init__(name="recorded_model")
        self.inner = inner
        self.seen = []

    def call(self, x, training=None):
        if tf.executing_eagerly():
            self.seen.append(np.array(x))
        return self.inner(x, training=training)


@self_check("Exercise 7.3 (adversarial training step)")
def exercise_7_3(report, adversarial_train_step, model, x, y):
    """Check ``adversarial_train_step(model, optimizer, x, y, eps) -> loss`` on a copy of ``model``."""
    x = np.asarray(x[:64], dtype=np.float32)
    y = np.asarray(y[:64])
    eps = 0.1
    trial = copy_model(model)
    before = [w.copy() for w in trial.get_weights()]
    recorder = _Recorder(trial)
    recorder(x[:1])                                      # build it
    recorder.seen.clear()
    tf.random.set_seed(0)
    loss = adversarial_train_step(recorder, keras.optimizers.Adam(1e-3), x.copy(), y.copy(), eps)
    try:
        loss = float(loss)
    except (TypeError, ValueError):
        loss = float("nan")
    if not report.check(np.isfinite(loss), "the step returns the loss as a finite number",
                        f"return the mean loss of the adversarial batch as a number, got {loss!r}"):
        return
    after = trial.get_weights()
    changed = any(not np.array_equal(a, b) for a, b in zip(before, after))
    if not report.check(changed, "the model's weights changed: one optimiser step was taken",
                        "the weights did not change: compute the gradient of the loss w.r.t. "
                        "model.trainable_variables and call optimizer.apply_gradients"):
        return
    batches = [seen for seen in recorder.seen if seen.shape == x.shape]
    if not report.check(bool(batches), "the model was called on a batch of the input's shape",
                        "could not see the batch you trained on: call model(x_adv, training=True) eagerly "
                        "(not inside tf.function) on the whole batch"):
        return
    trained_on = batches[-1]                             # the last call is the update's forward pass
    distance = float(np.max(np.abs(trained_on - x)))
    report.check(distance <= eps + 1e-5 and trained_on.min() >= 0.0 and trained_on.max() <= 1.0,
                 "the training batch lies in the ε-ball around x and in [0, 1]",
                 f"the batch you trained on is {distance:.3f} away from x (budget {eps}) or leaves [0, 1]: "
                 "project the adversarial batch onto the ball and the valid range")
    if not report.check(distance > eps / 2, "the training batch is perturbed (not the clean batch)",
                        "you trained on (almost) clean images: make the adversarial batch first (a random "
                        "start in the ball, then a signed-gradient step of 1.25·eps) and train on IT"):
        return
    original = copy_model(model)
    signs = np.sign(np.random.default_rng(1).standard_normal(x.shape))
    noise = np.clip(x + eps * signs, 0, 1).astype(np.float32)
    adversarial_loss, noise_loss = _mean_loss(original, trained_on, y), _mean_loss(original, noise, y)
    report.check(adversarial_loss > noise_loss,
                 "the batch is adversarial for the current weights (its loss beats random ±eps noise)",
                 "your perturbation raises the loss less than random ±eps noise: make it with the gradient "
                 "of the loss at the CURRENT weights, stepping uphill (+ sign)")
    report.check(abs(loss - adversarial_loss) <= 0.05 + 0.1 * adversarial_loss,
                 "the returned loss is the mean cross-entropy of the adversarial batch",
                 f"you returned {loss:.3f}, but the mean loss of the batch you trained on is "
                 f"{adversarial_loss:.3f}: return the mean (not the sum) loss computed before the update")
    report.check(_mean_loss(trial, trained_on, y) < adversarial_loss,
                 "the update lowers the loss on the adversarial batch",
                 "after your update the loss on the adversarial batch went UP: apply the gradient of the "
                 "loss (the optimiser minimises), not its negative")


# ------------------------------------------------------------------ verdict conditions
def breaks_model(pgd_accuracies, ceiling=0.30):
    """True if PGD brings the mean robust accuracy (over seeds or of one model) below ``ceiling``."""
    return float(np.mean(pgd_accuracies)) < ceiling


def no_masking_symptoms(fgsm_accuracy, pgd_accuracy, strong_accuracy, eps_values, accuracies,
                        tolerance=0.05, floor=0.10):
    """Athalye et al.'s symptoms of gradient masking absent (robust accuracies in [0, 1]):

    1. the iterative attack is at least as strong as the one-step one: PGD ≤ FGSM;
    3. the reported PGD had converged: a stronger PGD (more steps, restarts) lowers it by at most
       ``tolerance``;
    4. the accuracy does not rise as the budget grows (by more than ``tolerance`` between neighbours of
       ``eps_values``, sorted) and is at most ``floor`` at the largest budget.

    A saturated model (zero gradients) passes 1 and 3 but fails 4: its accuracy stays high at any ε.
    """
    order = np.argsort(eps_values)
    curve = np.asarray(accuracies, dtype=float)[order]
    return bool(pgd_accuracy <= fgsm_accuracy
                and strong_accuracy >= pgd_accuracy - tolerance
                and np.all(np.diff(curve) <= tolerance)
                and curve[-1] <= floor)


def at_most(value, ceiling):
    """True if ``value`` ≤ ``ceiling`` (e.g. the robust accuracy at a large budget)."""
    return value <= ceiling


def transfer_exposes_masking(transfer_accuracy, white_box_accuracy, margin=0.5):
    """True if transferred examples beat the white-box attack by more than ``margin`` (accuracy units)."""
    return white_box_accuracy - transfer_accuracy > margin
