"""Self-checks for Lab 09 (case study: traffic-sign recognition in a car)."""

import numpy as np

from ..patch import sticker_mask
from ._core import self_check

__all__ = ["exercise_9_1", "exercise_9_2"]


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
    reference = np.full(num_classes, np.nan)
    for c in range(num_classes):
        if np.any(y_true == c):
            reference[c] = np.mean(y_pred[y_true == c] == c)
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
                        f"expected shape {x.shape}, got {result.shape}: mask (h, w, 1) and sticker (h, w, c) "
                        "broadcast over the batch, so x * (1 - mask) + sticker * mask keeps x's shape"):
        return
    report.check(np.array_equal(x, original), "the clean images are untouched",
                 "your function changed x in place: build a new array instead of assigning into x")
    inside = mask[..., 0] == 1
    if np.allclose(result[:, ~inside], sticker[~inside]) and not inside.all():
        report.fail("the mask is the wrong way round: mask is 1 under the sticker, so keep x where mask == 0 "
                    "and take the sticker where mask == 1")
        return
    report.check(np.allclose(result[:, ~inside], x[:, ~inside]), "pixels outside the sticker are unchanged",
                 "pixels outside the mask changed: multiply x by (1 - mask) — the attacker can only "
                 "touch the stickers")
    report.check(np.allclose(result[:, inside], np.broadcast_to(sticker, x.shape)[:, inside]),
                 "under the sticker, the pixel is the sticker's colour (not the sign's plus the sticker's)",
                 "under the mask the result should equal the sticker exactly: a sticker covers the sign, "
                 "it is not added to it (use x * (1 - mask) + sticker * mask, not x + sticker * mask)")
    report.check(result.min() >= 0.0 and result.max() <= 1.0, "pixels stay in [0, 1]",
                 f"values in [{result.min():.2f}, {result.max():.2f}]: covering pixels never leaves [0, 1]; "
                 "did you add instead of replace?")
