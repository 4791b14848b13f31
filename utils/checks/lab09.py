"""Self-checks for Lab 09 (case study: traffic-sign recognition in a car)."""

import numpy as np

from .. import keras, stats
from ..adversarial import input_gradient
from ..audit import recall_per_class as reference_recall_per_class
from ..patch import apply_patch, sticker_mask, sticker_step
from ._conditions import beats as beats_beyond_noise  # noqa: F401 (verdict conditions used as check.lab09.<name>)
from ._conditions import drop_within, fraction_at_most  # noqa: F401
from ._core import self_check

__all__ = ["exercise_9_1", "exercise_9_2", "exercise_9_3"]


@self_check("Exercise 9.1 (recall per class)")
def exercise_9_1(report, recall_per_class, y_true=None, y_pred=None, num_classes=None):
    """Check ``recall_per_class(y_true, y_pred, num_classes) -> (num_classes,) array``.

    A small hand-made case first; then, if given, the lab's real labels and predictions,
    compared with a reference computation (what :func:`utils.metrics.per_class_accuracy` returns).
    """
    small_true = np.array([0, 0, 1, 1, 1, 2])
    small_pred = np.array([0, 1, 1, 1, 0, 0])
    expected = np.array([0.5, 2 / 3, 0.0, np.nan])      # class 3 never occurs: recall undefined
    result = np.asarray(recall_per_class(small_true, small_pred, 4), dtype=float)
    if not report.check(result.shape == (4,), "one recall per class (num_classes of them)",
                        f"expected an array of shape (4,) for num_classes=4, got shape {result.shape}: "
                        "return one value per class 0 … num_classes - 1, even for classes absent "
                        "from y_true"):
        return
    defined = ~np.isnan(expected)
    if np.isclose(result[0], 1 / 3):  # class 0 is predicted 3 times, right once: that is its precision
        report.fail("you computed precision (correct / predicted as the class); recall divides by the number "
                    "of examples that truly belong to the class: np.mean(y_pred[y_true == c] == c)")
        return
    report.check(np.allclose(result[defined], expected[defined]),
                 "recall = correct predictions of the class / examples of the class",
                 f"on y_true={small_true.tolist()}, y_pred={small_pred.tolist()} expected "
                 f"[0.5, 0.667, 0.0, nan], got {np.round(result, 3).tolist()}")
    report.check(np.isnan(result[3]), "a class with no examples gets nan (its recall is undefined, not 0)",
                 f"class 3 has no examples, so its recall is undefined: return np.nan, not {result[3]!r} "
                 "(0 would claim the model misses every sign of that class)")
    if y_true is None:
        return
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    num_classes = int(y_true.max()) + 1 if num_classes is None else num_classes
    mine = np.asarray(recall_per_class(y_true, y_pred, num_classes), dtype=float)
    reference = reference_recall_per_class(y_true, y_pred, num_classes)
    same = mine.shape == reference.shape and np.allclose(mine, reference, equal_nan=True)
    report.check(same, f"matches the reference on the lab's {len(y_true)} test signs",
                 "differs from the reference on the lab's test signs: "
                 f"{np.round(mine, 3).tolist()} vs {np.round(reference, 3).tolist()}")


@self_check("Exercise 9.2 (paste a sticker)")
def exercise_9_2(report, apply_sticker, x):
    """Check ``apply_sticker(x, sticker, mask) -> images`` against ``x · (1 - mask) + sticker · mask``."""
    x = np.asarray(x[:8], dtype=np.float32)
    original = x.copy()
    mask = sticker_mask(x.shape[1:])
    sticker = np.random.default_rng(0).uniform(size=x.shape[1:]).astype(np.float32)
    result = np.asarray(apply_sticker(x, sticker, mask))
    if not report.check(result.shape == x.shape, "one image out per image in",
                        f"expected shape {x.shape}, got {result.shape}: the mask (h, w, 1) and the sticker "
                        "(h, w, c) describe one image and apply to every image of the batch alike"):
        return
    report.check(np.array_equal(x, original), "the clean images are untouched",
                 "your function changed x in place: the caller's clean images must survive, "
                 "return new images")
    inside = mask[..., 0] == 1
    if np.allclose(result[:, ~inside], sticker[~inside]) and not inside.all():
        report.fail("the mask is the wrong way round: mask is 1 under the sticker, so keep x where mask == 0 "
                    "and take the sticker where mask == 1")
        return
    report.check(np.allclose(result[:, ~inside], x[:, ~inside]), "pixels outside the sticker are unchanged",
                 "pixels outside the mask changed: where the mask is 0 the image must stay exactly as it "
                 "was — the attacker can only touch the stickers")
    report.check(np.allclose(result[:, inside], np.broadcast_to(sticker, x.shape)[:, inside]),
                 "under the sticker, the pixel is the sticker's colour (not the sign's plus the sticker's)",
                 "under the mask the result should equal the sticker exactly: a sticker covers the sign, "
                 "it is not added to it — the mask chooses, pixel by pixel, between the image and the "
                 "sticker")
    report.check(result.min() >= 0.0 and result.max() <= 1.0, "pixels stay in [0, 1]",
                 f"values in [{result.min():.2f}, {result.max():.2f}]: covering pixels never leaves [0, 1]; "
                 "did you add instead of replace?")


def _tiny_classifier(shape=(8, 8, 3), classes=4, seed=0):
    """A fixed linear softmax classifier on small images: cheap, with useful input gradients."""
    model = keras.Sequential([keras.layers.Input(shape), keras.layers.Flatten(),
                              keras.layers.Dense(classes, activation="softmax")])
    rng = np.random.default_rng(seed)
    kernel = rng.normal(0, 1.0, (int(np.prod(shape)), classes)).astype(np.float32)
    model.set_weights([kernel, np.zeros(classes, np.float32)])
    return model


def _mean_loss(model, x, y):
    probabilities = np.asarray(model(x, training=False))
    return float(-np.mean(np.log(probabilities[np.arange(len(y)), y] + 1e-12)))


@self_check("Exercise 9.3 (one step of the sticker optimiser)")
def exercise_9_3(report, sticker_step_fn):
    """Check ``sticker_step(model, x, y, sticker, mask, step_size) -> new sticker`` against
    ``clip(sticker + step_size · sign(Σᵢ ∇ₓ loss at the stickered images) · mask, 0, 1)``."""
    model = _tiny_classifier()
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (6, 8, 8, 3)).astype(np.float32)
    y = rng.integers(0, 4, 6)
    mask = sticker_mask((8, 8), boxes=((0.25, 0.25, 0.25, 0.5), (0.625, 0.25, 0.25, 0.5)))
    sticker = (rng.uniform(0, 1, (8, 8, 3)) * mask).astype(np.float32)
    before = sticker.copy()
    result = np.asarray(sticker_step_fn(model, x, y, sticker, mask, 0.05), dtype=np.float32)
    if not report.check(result.shape == sticker.shape, "one sticker out, the shape of one image",
                        f"expected shape {sticker.shape}, got {result.shape}: one sticker must fool every "
                        "image, so add the images' gradients up (sum over axis 0) before the step"):
        return
    report.check(np.array_equal(sticker, before), "the old sticker is left untouched",
                 "your function changed `sticker` in place: compute and return a new array")
    outside = mask[..., 0] == 0
    if not report.check(np.allclose(result[outside], sticker[outside]),
                        "pixels outside the mask are unchanged",
                        "pixels outside the mask changed: multiply the step by the mask — the attacker can "
                        "only paint inside the stickers"):
        return
    near_edge = np.where(mask == 1, np.where(sticker > 0.5, 0.99, 0.01), 0.0).astype(np.float32)
    edged = np.asarray(sticker_step_fn(model, x, y, near_edge, mask, 0.5))
    edged = np.concatenate([edged.ravel(), result.ravel()])
    if not report.check(edged.min() >= 0.0 and edged.max() <= 1.0,
                        "the sticker stays printable: values in [0, 1]",
                        f"your sticker reached [{edged.min():.2f}, {edged.max():.2f}]: clip the new sticker "
                        "to [0, 1]"):
        return
    expected = sticker_step(model, x, y, sticker, mask, 0.05)
    direction = np.sign(input_gradient(model, apply_patch(x, sticker, mask), y).sum(axis=0)) * mask
    descent = np.clip(sticker - 0.05 * direction, 0, 1)
    if np.allclose(result, descent, atol=1e-6):
        report.fail("you stepped *down* the loss (gradient descent): the attacker wants the loss of the true "
                    "labels to grow, so move along +sign(gradient)")
        return
    grads_clean_images = _clean_image_step(model, x, y, sticker, mask, 0.05)
    if not np.allclose(expected, grads_clean_images) and np.allclose(result, grads_clean_images, atol=1e-6):
        report.fail("the gradient was taken at the clean images: paste the current sticker into them first, "
                    "the gradient must be the one at the images the model will really see")
        return
    step = result - sticker
    moved = np.abs(step[mask[..., 0] == 1])
    interior = (sticker > 0.05) & (sticker < 0.95) & (mask == 1)
    if not np.allclose(np.abs(step[interior]), 0.05, atol=1e-5):
        report.fail("every sticker pixel should move by exactly step_size (unless clipped at 0 or 1): take "
                    "the sign of the summed gradient, not the gradient itself (moves between "
                    f"{moved.min():.3g} and {moved.max():.3g}, expected 0.05)")
        return
    report.check(np.allclose(result, expected, atol=1e-6),
                 "each pixel moves by step_size along the sign of the gradient summed over the images",
                 "some pixels moved the wrong way: the direction is sign(Σᵢ ∇ₓ loss(model(xᵢ with sticker), "
                 "yᵢ)) — the sign of the *sum* over the images, not the sum of the images' signs")
    loss_before = _mean_loss(model, apply_patch(x, sticker, mask), y)
    report.check(_mean_loss(model, apply_patch(x, result, mask), y) > loss_before,
                 "the step raises the mean loss on the images (the attack gets stronger)",
                 "after your step the loss on the stickered images did not grow")


def _clean_image_step(model, x, y, sticker, mask, step_size):
    """The typical mistake: the gradient taken at the clean images instead of the stickered ones."""
    grad = input_gradient(model, x, y).sum(axis=0)
    return np.clip(sticker + step_size * np.sign(grad) * mask, 0.0, 1.0).astype(np.float32)


# ------------------------------------------------------------------ verdict conditions


def not_worse_by(candidate, reference, margin):
    """Non-inferiority, paired by seed: ``reference − candidate`` (e.g. clean accuracy) has mean + s.e.
    at most ``margin`` over ≥ 3 seeds — the candidate may be better, or worse by less than the margin,
    noise included."""
    gap = stats.paired_difference(reference, candidate)
    return gap.n >= stats.MIN_SEEDS and gap.mean + gap.se <= margin


def mean_at_most(values, bound):
    """A per-seed statistic (e.g. the worst per-class recall drop) has mean + s.e. at most ``bound``
    (≥ 3 seeds): a noisy measurement makes the bound harder to meet, never easier."""
    summary = stats.mean_se(values)
    return summary.n >= stats.MIN_SEEDS and summary.mean + summary.se <= bound
