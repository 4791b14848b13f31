"""Self-checks and verdict conditions for Lab 02 (structural pruning)."""

import numpy as np

from .. import keras, metrics, stats, structured
from ..pruning import copy_model
from ._core import self_check
from .lab01 import accuracy_at_least, beats_beyond_noise, drop_within, fraction_at_most, mean_drop_at_most  # noqa: F401

__all__ = ["exercise_2_1", "exercise_2_2", "exercise_2_3"]


def _tiny_cnn():
    """conv(3 filters, same) → conv(4, valid) → Flatten → Dense(2) on 4×4×1 inputs: hand-checkable."""
    layers = keras.layers
    return keras.Sequential([
        keras.Input((4, 4, 1)), layers.Conv2D(3, 3, padding="same", name="c1"),
        layers.Conv2D(4, 3, name="c2"), layers.Flatten(name="flat"), layers.Dense(2, name="out")])


@self_check("Exercise 2.1 (MACs of a model)")
def exercise_2_1(report, model_macs, model):
    """Check ``model_macs(model) -> int`` on a tiny hand-counted chain and on ``model``."""
    tiny = _tiny_cnn()
    # c1: 4·4 outputs × 3 filters × 3·3·1 = 432; c2: 2·2 × 4 × 3·3·3 = 432; out: 16 × 2 = 32.
    got = model_macs(tiny)
    if not report.check(isinstance(got, (int, np.integer)) or float(got).is_integer(),
                        "returns a whole number", f"returned {got!r}; MACs are a count"):
        return
    got = int(got)
    if got == 27 + 108 + 32:
        report.fail(f"you counted {got}: one MAC per weight. A convolution uses each weight once per "
                    "OUTPUT POSITION: multiply by the output's h × w")
        return
    report.check(got == 896, "tiny chain: 432 + 432 + 32 = 896 MACs (hand count)",
                 f"tiny chain: got {got}, expected 896 = conv c1 (4·4 positions × 3 filters × 3·3·1) + "
                 "conv c2 (2·2 × 4 × 3·3·3) + dense (16 × 2): h·w·c_out·k²·c_in per Conv2D, "
                 "n_in·n_out per Dense")
    reference = metrics.macs(model)
    mine = int(model_macs(model))
    report.check(mine == reference, f"the lab's CNN: {reference:,} MACs per image",
                 f"the lab's CNN: got {mine:,}, expected {reference:,}; use layer.output_shape for h, w")


def _hand_kernel():
    """A (2, 2, 3, 4) Conv2D kernel whose filter L1 norms are easy to compute by hand."""
    kernel = np.zeros((2, 2, 3, 4))
    kernel[..., 0] = 1.0                          # 12 weights of 1      → 12
    kernel[0, 0, 0, 1], kernel[1, 1, 2, 1] = -3.0, 2.0  # |−3| + |2|   → 5
    kernel[..., 2] = -0.5                         # 12 weights of −0.5   → 6
    return kernel                                 # filter 3 is all zero → 0


@self_check("Exercise 2.2 (L1 norm of each filter)")
def exercise_2_2(report, filter_l1_norms, model):
    """Check ``filter_l1_norms(kernel) -> (c_out,)`` on a hand-made kernel and on ``model``."""
    kernel = _hand_kernel()
    norms = np.asarray(filter_l1_norms(kernel), dtype=float)
    expected = np.array([12.0, 5.0, 6.0, 0.0])
    if not report.check(norms.shape == (4,), "one norm per filter: shape (c_out,) = (4,)",
                        f"got shape {norms.shape} for a kernel of shape {kernel.shape}, expected (4,): "
                        "a filter is kernel[..., j], so sum over every axis except the last"):
        return
    if np.allclose(norms, kernel.reshape(-1, 4).sum(axis=0)) and not np.allclose(norms, expected):
        report.fail("your norms are signed sums: take absolute values first, np.abs(kernel)")
        return
    if np.allclose(norms, np.sqrt(np.square(kernel).reshape(-1, 4).sum(axis=0))):
        report.fail("that is the L2 norm (square root of the sum of squares); Li et al. use the L1 "
                    "norm, the sum of |w|")
        return
    if not report.check(np.allclose(norms, expected), "hand-made kernel: norms 12, 5, 6, 0",
                        f"got {np.round(norms, 3).tolist()}, expected [12, 5, 6, 0]"):
        return
    dense_kernel = np.arange(-6.0, 6.0).reshape(4, 3)
    report.check(np.allclose(np.asarray(filter_l1_norms(dense_kernel), float),
                             np.abs(dense_kernel).sum(axis=0)),
                 "works on a Dense kernel (n_in, n_out) too",
                 "on a Dense kernel of shape (4, 3) the result should be 3 numbers, sum of |w| per column")
    reference = structured.filter_importance(model, "l1")
    for layer in model.layers:
        if type(layer).__name__ == "Conv2D":
            ok = np.allclose(np.asarray(filter_l1_norms(layer.kernel.numpy()), float),
                             reference[layer.name], rtol=1e-4)
            report.check(ok, f"{layer.name}: {len(reference[layer.name])} norms match the reference",
                         f"{layer.name}: your norms differ from utils.structured.filter_importance")


def _same_predictions(model, slimmed, x):
    return float(np.abs(slimmed(x, training=False).numpy() - model(x, training=False).numpy()).max())


def _zero_filters(model, name, drop):
    """A copy of ``model`` whose filters ``drop`` of layer ``name`` (kernel and bias) are zero."""
    zeroed = copy_model(model)
    kernel, bias = zeroed.get_layer(name).get_weights()
    kernel[..., drop], bias[drop] = 0.0, 0.0
    zeroed.get_layer(name).set_weights([kernel, bias])
    return zeroed


@self_check("Exercise 2.3 (remove filters and repair the next layer)")
def exercise_2_3(report, remove_filters, model):
    """Check ``remove_filters(kernel, bias, next_kernel, drop, bn=None)`` on toy arrays and on ``model``."""
    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(3, 3, 2, 5)), rng.normal(size=5)
    next_kernel = rng.normal(size=(3, 3, 5, 4))
    bn = [rng.normal(size=5) for _ in range(4)]
    originals = [kernel.copy(), bias.copy(), next_kernel.copy(), *[w.copy() for w in bn]]
    result = remove_filters(kernel, bias, next_kernel, [1, 3], bn=bn)
    if not report.check(isinstance(result, (tuple, list)) and len(result) == 4,
                        "returns four things: (kernel, bias, next_kernel, bn)",
                        "return a tuple (new_kernel, new_bias, new_next_kernel, new_bn)"):
        return
    new_kernel, new_bias, new_next = (np.asarray(a) for a in result[:3])
    report.check(all(np.array_equal(a, b) for a, b in zip(originals, (kernel, bias, next_kernel, *bn))),
                 "the input arrays are untouched", "your function changed its input arrays; build new ones "
                 "(np.delete returns a copy)")
    if not report.check(new_kernel.shape == (3, 3, 2, 3) and new_bias.shape == (3,),
                        "conv kernel (3, 3, 2, 5) → (3, 3, 2, 3) and bias (5,) → (3,) after dropping "
                        "2 filters",
                        f"got kernel {new_kernel.shape} and bias {new_bias.shape}; expected (3, 3, 2, 3) and "
                        "(3,): a filter is the LAST axis of the kernel (axis -1)"):
        return
    if not report.check(new_next.shape == (3, 3, 3, 4),
                        "next kernel (3, 3, 5, 4) → (3, 3, 3, 4): its input channels follow",
                        f"next kernel has shape {new_next.shape}, expected (3, 3, 3, 4): the next layer's "
                        "kernel is (kh, kw, c_in, c_out); remove the dropped channels on axis 2 (c_in), "
                        "not its own filters"):
        return
    keep = [0, 2, 4]
    report.check(np.allclose(new_kernel, kernel[..., keep]) and np.allclose(new_bias, bias[keep])
                 and np.allclose(new_next, next_kernel[:, :, keep]),
                 "the surviving filters and channels keep their values and order",
                 "the shapes are right but the values are not those of filters/channels 0, 2, 4 in order: "
                 "remove exactly the indices in `drop`")
    new_bn = result[3]
    report.check(new_bn is not None and len(new_bn) == 4
                 and all(np.shape(a) == (3,) and np.allclose(np.asarray(a), w[keep])
                         for a, w in zip(new_bn, bn)),
                 "BatchNorm: γ, β, mean and variance each lose the dropped entries",
                 "with bn=[γ, β, mean, variance] each (c,) array must lose the entries in `drop` "
                 "(and bn=None must give None back)")
    report.check(remove_filters(kernel, bias, next_kernel, [1, 3])[3] is None, "bn=None gives None back",
                 "with bn=None return None as the fourth value")
    dense_kernel, dense_next = rng.normal(size=(6, 5)), rng.normal(size=(5, 2))
    _, _, got_dense, _ = remove_filters(dense_kernel, bias, dense_next, [1, 3])
    report.check(np.asarray(got_dense).shape == (3, 2) and np.allclose(got_dense, dense_next[keep]),
                 "Dense → Dense: the next kernel (5, 2) loses rows 1 and 3",
                 "for a Dense layer followed by a Dense layer the next kernel (n_in, n_out) loses ROWS "
                 "(axis 0) of the dropped units")
    flat_next = rng.normal(size=(4 * 5, 2))  # Flatten of (2, 2, 5) maps: row p * 5 + k
    _, _, got_flat, _ = remove_filters(kernel, bias, flat_next, [1, 3])
    expected_flat = flat_next.reshape(4, 5, 2)[:, keep].reshape(12, 2)
    if not report.check(np.asarray(got_flat).shape == (12, 2),
                        "Flatten → Dense: the next kernel (4·5, 2) → (4·3, 2)",
                        f"after a Flatten of 2×2 maps of 5 channels the Dense kernel has 20 rows; removing 2 "
                        f"channels must leave 12 rows, got {np.asarray(got_flat).shape}: remove the "
                        "channel at EVERY position"):
        return
    if np.allclose(got_flat, flat_next.reshape(5, 4, 2)[keep].reshape(12, 2)):
        report.fail("Flatten → Dense: you removed rows as if the maps were flattened channels-first; "
                    "Keras flattens channels-last, so channel k sits at rows p·c + k")
        return
    report.check(np.allclose(got_flat, expected_flat),
                 "Flatten → Dense: channel k is removed at rows p·c + k of every position p",
                 "Flatten → Dense: wrong rows removed; view the kernel as (positions, channels, n_out)")

    # On the trained model: zero filters, remove them with the student's function; same predictions.
    x = np.random.default_rng(1).random((16, *model.input_shape[1:]), dtype=np.float32)
    for name, count in (("conv1", 8), ("conv3", 16)):
        drop = np.argsort(structured.filter_importance(model)[name], kind="stable")[:count]
        zeroed = _zero_filters(model, name, drop)
        ratio = count / zeroed.get_layer(name).filters
        smaller = structured.slim(zeroed, {name: ratio}, remove=remove_filters)
        gap = _same_predictions(zeroed, smaller, x)
        report.check(gap <= 1e-5, f"trained CNN: removing {count} zeroed {name} filters leaves predictions "
                     f"unchanged (max difference {gap:.1e})",
                     f"predictions changed by up to {gap:.3g} after removing {name} filters that were zero: "
                     "the next layer must lose exactly the input channels of the removed filters")


# ------------------------------------------------------------------ verdict conditions


def pattern_holds(pattern):
    """The N:M pattern holds on every checked kernel: ``pattern`` is ``{layer: bool}``, non-empty."""
    return bool(pattern) and all(pattern.values())


def drop_a_fraction_of_control(dense_accuracy, accuracy, control_accuracies, fraction):
    """Removing the chosen filters costs at most ``fraction`` of what the control's choices cost.

    ``accuracy`` is the model without the chosen filters, ``control_accuracies`` the same surgery with
    randomly drawn filters (≥ 3 draws). The control's drop is taken at its mean *minus* one standard
    error, so noisy draws make the condition harder to meet, never easier.
    """
    control = stats.mean_se(float(dense_accuracy) - np.asarray(control_accuracies, dtype=float))
    return (control.n >= stats.MIN_SEEDS and control.mean - control.se > 0
            and float(dense_accuracy) - float(accuracy) <= fraction * (control.mean - control.se))
