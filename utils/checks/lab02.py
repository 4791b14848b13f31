"""Self-checks for Lab 02 (structural pruning)."""

import numpy as np

from .. import structured
from ..pruning import copy_model
from ._core import self_check

__all__ = ["exercise_2_1", "exercise_2_2"]


def _hand_kernel():
    """A (2, 2, 3, 4) Conv2D kernel whose filter L1 norms are easy to compute by hand."""
    kernel = np.zeros((2, 2, 3, 4))
    kernel[..., 0] = 1.0                          # 12 weights of 1      → 12
    kernel[0, 0, 0, 1], kernel[1, 1, 2, 1] = -3.0, 2.0  # |−3| + |2|   → 5
    kernel[..., 2] = -0.5                         # 12 weights of −0.5   → 6
    return kernel                                 # filter 3 is all zero → 0


@self_check("Exercise 2.1 (L1 norm of each filter)")
def exercise_2_1(report, filter_l1_norms, model):
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


@self_check("Exercise 2.2 (remove filters and repair the next layer)")
def exercise_2_2(report, remove_filters, model):
    """Check ``remove_filters(kernel, bias, next_kernel, drop)`` on toy arrays and on ``model``."""
    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(3, 3, 2, 5)), rng.normal(size=5)
    next_kernel = rng.normal(size=(3, 3, 5, 4))
    originals = [kernel.copy(), bias.copy(), next_kernel.copy()]
    result = remove_filters(kernel, bias, next_kernel, [1, 3])
    new_kernel, new_bias, new_next = (np.asarray(a) for a in result)
    report.check(all(np.array_equal(a, b) for a, b in zip(originals, (kernel, bias, next_kernel))),
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

    # On the trained model: zero 8 conv1 filters, remove them with the student's function.
    conv1, conv2 = model.get_layer("conv1"), model.get_layer("conv2")
    drop = np.argsort(structured.filter_importance(model)["conv1"], kind="stable")[:8]
    zeroed = copy_model(model)
    k1, b1 = zeroed.get_layer("conv1").get_weights()
    k1[..., drop], b1[drop] = 0.0, 0.0
    zeroed.get_layer("conv1").set_weights([k1, b1])
    smaller = structured.prune_filters(zeroed, {"conv1": 8 / conv1.filters})  # the target architecture
    new_k1, new_b1, new_k2 = remove_filters(k1, b1, conv2.kernel.numpy(), drop)
    smaller.get_layer("conv1").set_weights([np.asarray(new_k1), np.asarray(new_b1)])
    smaller.get_layer("conv2").set_weights([np.asarray(new_k2), conv2.bias.numpy()])
    x = np.random.default_rng(1).random((16, *model.input_shape[1:]), dtype=np.float32)
    gap = float(np.abs(smaller(x, training=False).numpy() - zeroed(x, training=False).numpy()).max())
    report.check(gap <= 1e-5, f"trained CNN: removing 8 zeroed conv1 filters leaves predictions unchanged "
                 f"(max difference {gap:.1e})",
                 f"predictions changed by up to {gap:.3g} after removing filters that were zero: conv2 must "
                 "lose exactly the input channels of the removed conv1 filters")
