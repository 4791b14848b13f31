"""Self-checks for Lab 03 (static vs dynamic pruning), and the conditions of its verdicts."""

import numpy as np

from .. import stats
from ._conditions import beats  # noqa: F401 (verdict conditions used as check.lab03.<name>)
from ._core import self_check

__all__ = ["exercise_3_1", "exercise_3_2", "exercise_3_3"]


@self_check("Exercise 3.1 (iterative sparsity schedule)")
def exercise_3_1(report, iterative_sparsities):
    """Check ``iterative_sparsities(final_sparsity, rounds) -> list of sparsities after each round``."""
    got = np.asarray(iterative_sparsities(0.9, 3), dtype=float)
    expected = 1 - 0.1 ** (np.arange(1, 4) / 3)
    if not report.check(got.shape == (3,), "one sparsity per round (3 rounds → 3 values)",
                        f"expected 3 values for 3 rounds, got shape {got.shape}"):
        return
    report.check(abs(got[-1] - 0.9) < 1e-9, "the last round reaches the final sparsity 0.9",
                 f"the last round should end at 0.9, yours ends at {got[-1]:.4f}")
    report.check(bool(np.all(np.diff(got) > 0)), "the sparsity rises every round",
                 f"your sparsities {np.round(got, 3).tolist()} do not rise every round")
    if not report.check(np.allclose(got, expected, atol=1e-6),
                        "each round removes the same share of the survivors (0.536, 0.785, 0.9)",
                        f"you gave {np.round(got, 3).tolist()}, expected {np.round(expected, 3).tolist()}. "
                        "Equal steps of sparsity (0.3, 0.6, 0.9) remove ever larger shares of what is "
                        "left. Think in densities (1 - s): each round keeps the same fraction q of the "
                        "survivors, and after all rounds the density must be 1 - final_sparsity."):
        return
    one = np.asarray(iterative_sparsities(0.5, 1), dtype=float)
    report.check(one.shape == (1,) and abs(one[0] - 0.5) < 1e-9, "one round is one-shot pruning",
                 f"with rounds=1 the answer is [0.5], you gave {one.tolist()}")


@self_check("Exercise 3.2 (drop and grow)")
def exercise_3_2(report, drop_and_grow):
    """Check ``drop_and_grow(weights, mask, n, grow_scores) -> new mask``."""
    weights = np.array([0.0, 0.9, -0.1, 0.0, 0.5, 0.0, -0.3, 0.0])
    mask = np.array([False, True, True, False, True, False, True, False])
    scores = np.array([0.1, 9.0, 9.0, 0.7, 9.0, 0.2, 9.0, 0.9])
    original = mask.copy()
    new = np.asarray(drop_and_grow(weights, mask, 2, scores))
    if not report.check(new.shape == mask.shape and new.dtype == bool,
                        "returns a boolean mask of the same shape",
                        f"returned shape {new.shape}, dtype {new.dtype}; return a bool array like `mask`"):
        return
    report.check(np.array_equal(mask, original), "the input mask is left unchanged",
                 "your function changed the `mask` you passed in; work on a copy (mask.copy())")
    report.check(new.sum() == original.sum(), "the number of active weights stays the same (4)",
                 f"the mask had 4 active weights, yours has {int(new.sum())}: drop n and grow exactly n")
    dropped = np.flatnonzero(original & ~new).tolist()
    grown = np.flatnonzero(new & ~original).tolist()
    report.check(dropped == [2, 6], "drops the 2 active weights of smallest |w| (positions 2 and 6)",
                 f"you dropped positions {dropped}, expected [2, 6]: among the *active* weights "
                 "(mask True) remove those with the smallest absolute value")
    report.check(grown == [3, 7], "grows at the 2 inactive positions with the best scores (7, then 3)",
                 f"you grew positions {grown}, expected [3, 7]: choose among positions where the old "
                 "mask is False, by largest grow_scores (scores at active positions do not count)")
    w2 = np.array([0.01, 0.02, 5.0, 0.0, 0.0])
    m2 = np.array([True, True, True, False, False])
    s2 = np.array([100.0, 100.0, 0.0, 1.0, 2.0])
    new2 = np.asarray(drop_and_grow(w2, m2, 2, s2))
    report.check(np.array_equal(new2, [False, False, True, True, True]),
                 "a just-dropped weight is not regrown in the same update",
                 f"got {new2.astype(int).tolist()}, expected [0, 0, 1, 1, 1]: pick the grow positions "
                 "from the *old* mask's inactive entries, not from the mask after dropping")
    k = np.arange(12, dtype=float).reshape(3, 4) - 5.5
    m3 = np.abs(k) > 2
    new3 = np.asarray(drop_and_grow(k, m3, 1, np.ones_like(k)))
    report.check(new3.shape == (3, 4) and new3.sum() == m3.sum(), "works on a 2-D kernel",
                 "on a (3, 4) kernel the new mask must have shape (3, 4) and the same number of True "
                 "entries; flatten with .ravel() and reshape back")


@self_check("Exercise 3.3 (top-k channel gate)")
def exercise_3_3(report, top_k_gate):
    """Check ``top_k_gate(activations, k) -> gated activations`` for ``(n, h, w, c)`` arrays."""
    x = np.zeros((2, 2, 2, 4))
    x[0, ..., 0], x[0, ..., 1], x[0, ..., 2], x[0, ..., 3] = 1.0, 3.0, 2.0, 0.5
    x[1, ..., 0], x[1, ..., 1], x[1, ..., 2], x[1, ..., 3] = 4.0, -0.1, 0.2, 5.0
    original = x.copy()
    y = np.asarray(top_k_gate(x, 2))
    if not report.check(y.shape == x.shape, "output has the activations' shape (n, h, w, channels)",
                        f"output shape {y.shape}, expected {x.shape}: zero channels, do not remove them"):
        return
    report.check(np.array_equal(x, original), "the input array is left unchanged",
                 "your function changed its input; multiply into a new array")
    kept = np.any(y != 0, axis=(1, 2))
    per_input = kept.sum(axis=1).tolist()
    report.check(per_input == [2, 2], "each input keeps exactly k = 2 channels",
                 f"inputs keep {per_input} channels, expected [2, 2]")
    report.check(np.array_equal(kept, [[False, True, True, False], [True, False, False, True]]),
                 "each input keeps *its own* most active channels (input 0: 1, 2; input 1: 0, 3)",
                 f"kept channels {[np.flatnonzero(r).tolist() for r in kept]}, expected [[1, 2], [0, 3]]: "
                 "rank the channels per input by the mean |activation| over height and width "
                 "(axis=(1, 2)), not over the batch")
    report.check(np.array_equal(y[0, ..., 1], x[0, ..., 1]) and np.array_equal(y[1, ..., 3], x[1, ..., 3]),
                 "kept channels pass through unchanged",
                 "the kept channels' values changed; multiply by a 0/1 gate, do not rescale")
    z = np.zeros((1, 3, 3, 5))
    z[0, 0, 0, 4] = -10.0   # large in magnitude but negative
    z[0, ..., 1] = 1.0
    kept_z = np.flatnonzero(np.any(np.asarray(top_k_gate(z, 1)) != 0, axis=(1, 2))[0]).tolist()
    report.check(kept_z == [4], "saliency uses the magnitude |activation|",
                 f"kept channel {kept_z}, expected [4]: channel 4's mean |a| is 10/9 > 1; use np.abs")


# ------------------------------------------------------------------ verdict conditions

def cost_within(reference, gated, limit=0.02):
    """True when the accuracy cost ``reference - gated`` (paired by seed, ≥ 3 seeds) is at most ``limit``
    even at one standard error above its mean."""
    cost = stats.paired_difference(reference, gated)
    return cost.n >= stats.MIN_SEEDS and cost.mean + cost.se <= limit

