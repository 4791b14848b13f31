"""Self-checks for Lab 04 (accuracy loss and recovery)."""

import numpy as np
import pandas as pd

from .. import stats
from ..calibration import expected_calibration_error
from ..metrics import accuracy
from ..prune_retrain import allocate_ratios as allocate_reference
from ..pruning import prune_weights, sensitivity_scan
from ._conditions import beats  # noqa: F401 (verdict conditions used as check.lab04.<name>)
from ._core import StudentError, self_check


def _fmt(ratios):
    return "{" + ", ".join(f"{k}: {float(v):.3f}" for k, v in ratios.items()) + "}"

__all__ = ["exercise_4_1", "exercise_4_2", "exercise_4_3", "exercise_4_4"]


@self_check("Exercise 4.1 (one layer's sensitivity)")
def exercise_4_1(report, layer_sensitivity, model, x, y, layer="conv1", sparsities=(0.5, 0.9)):
    """Check ``layer_sensitivity(model, layer_name, sparsities, x, y) -> list of accuracies``."""
    before = [w.copy() for w in model.get_weights()]
    result = layer_sensitivity(model, layer, list(sparsities), x, y)
    values = np.asarray(result, dtype=float).ravel()
    if not report.check(values.shape == (len(sparsities),),
                        f"one accuracy per sparsity ({len(sparsities)})",
                        f"returned {np.shape(result)} values for {len(sparsities)} sparsities; return a "
                        "list with one accuracy per sparsity, in the same order"):
        return
    report.check(bool(np.all((values >= 0) & (values <= 1))), "accuracies are fractions in [0, 1]",
                 f"got {values.round(3).tolist()}: return accuracies as fractions (0.97), not percentages")
    unchanged = all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    report.check(unchanged, "the model you passed in is untouched",
                 "the input model's weights changed: prune a copy (utils.pruning.copy_model), or put "
                 "the original kernel back after each measurement")
    expected = sensitivity_scan(model, (x, y), list(sparsities), layers=[layer])["accuracy"].to_numpy()
    if report.check(np.allclose(values, expected, atol=1e-9),
                    f"{layer}: accuracies match the reference scan {np.round(100 * expected, 1).tolist()} %",
                    f"{layer}: you got {np.round(100 * values, 1).tolist()} %, expected "
                    f"{np.round(100 * expected, 1).tolist()} %."):
        return
    everything = [accuracy(prune_weights(model, s), x, y) for s in sparsities]
    if np.allclose(values, everything, atol=1e-9):
        report.fail("your numbers are those of pruning *every* layer: prune only the named layer "
                    "and leave the others dense")
    elif values[-1] < expected[-1] and values[0] == expected[0]:
        report.fail("the first sparsity is right but later ones are too low: restore the original "
                    "kernel before pruning it to the next sparsity (don't prune an already pruned kernel)")
    else:
        report.fail("zero the `s` fraction of smallest-|w| weights of that layer's kernel "
                    "(utils.pruning.magnitude_mask) and measure accuracy on the x, y you were given")


def _toy_scan(drops, sizes, sparsities=(0.5, 0.8, 0.9)):
    """A small sensitivity table: ``drops = {layer: [drop at each sparsity]}``."""
    rows = [{"layer": name, "weights": sizes[name], "sparsity": s, "accuracy": 0.9 - d, "drop": d}
            for name, values in drops.items() for s, d in zip(sparsities, values)]
    return pd.DataFrame(rows)


@self_check("Exercise 4.2 (per-layer ratios under a global budget)")
def exercise_4_2(report, allocate_ratios):
    """Check ``allocate_ratios(scan, budget) -> {layer: sparsity}`` on small scans with known answers."""
    sizes = {"small": 100, "big": 800, "last": 100}
    scan = _toy_scan({"small": [0.02, 0.10, 0.30], "big": [0.00, 0.01, 0.03], "last": [0.05, 0.20, 0.50]},
                     sizes)
    ratios = allocate_ratios(scan.copy(), 0.75)
    if not report.check(isinstance(ratios, dict) and set(ratios) == set(sizes),
                        "returns a dict with one sparsity per layer of the scan",
                        f"returned {ratios!r}; return {{layer_name: sparsity}} for every layer in the scan"):
        return
    values = {k: float(v) for k, v in ratios.items()}
    reached = sum(values[k] * n for k, n in sizes.items()) / sum(sizes.values())
    if not report.check(abs(reached - 0.75) < 1e-6, "the size-weighted global sparsity is exactly 0.75",
                        f"your ratios {_fmt(values)} reach a global sparsity of {reached:.4f}, not 0.75. "
                        "Weight each layer by its number of weights (Σ s·n / Σ n), and blend the allocations "
                        "just below and just above the budget so that it is met exactly"):
        return
    report.check(values["big"] > values["small"] > values["last"] - 1e-12 and values["big"] <= 0.9,
                 "the robust big layer is pruned most, the sensitive layers least, none beyond the scan",
                 f"got {_fmt(values)}: with one drop threshold for all layers, a layer whose drop stays "
                 "small goes far, one whose drop rises early stops early")
    expected = allocate_reference(scan, 0.75)
    report.check(all(abs(values[k] - expected[k]) < 1e-6 for k in sizes),
                 f"matches the one-threshold rule: {_fmt(expected)}",
                 f"got {_fmt(values)}, expected {_fmt(expected)}: raise the threshold through the scan's "
                 "drop values; at the first one that reaches the budget, blend with the previous allocation")
    bumpy = _toy_scan({"a": [0.00, 0.20, 0.05], "b": [0.00, 0.10, 0.10]}, {"a": 500, "b": 500})
    got = allocate_ratios(bumpy.copy(), 0.75)
    want = allocate_reference(bumpy, 0.75)
    report.check(isinstance(got, dict) and all(abs(float(got.get(k, -1)) - want[k]) < 1e-6 for k in want),
                 "a layer stops at the first sparsity whose drop exceeds the threshold",
                 f"on a scan whose drop dips again after a bad point you gave {got!r}, expected "
                 f"{_fmt(want)}: walk up each layer's sparsities and stop at the first drop above the "
                 "threshold; a lucky point further on does not count")
    try:
        allocate_ratios(scan.copy(), 0.95)
    except StudentError as error:
        if not isinstance(error.error, ValueError):
            raise
        report.ok("a budget beyond the highest scanned sparsities raises ValueError")
    else:
        report.fail("with budget 0.95 (beyond every layer's highest scanned sparsity, 0.9) your function "
                    "returned a result; raise a ValueError that says the budget is out of reach")


def _reference_cases():
    rng = np.random.default_rng(0)
    n = 20_000
    confidence = rng.uniform(0.5, 1.0, n)
    correct = rng.uniform(size=n) < confidence           # right exactly as often as confident
    y = rng.integers(0, 2, n)
    predicted = np.where(correct, y, 1 - y)
    probs = np.zeros((n, 2))
    probs[np.arange(n), predicted] = confidence
    probs[np.arange(n), 1 - predicted] = 1 - confidence
    return probs, y


@self_check("Exercise 4.4 (expected calibration error)")
def exercise_4_4(report, ece):
    """Check ``ece(probs, y, bins=15) -> float`` against Guo et al.'s definition."""
    # over-confident: always 90 % sure, right half the time -> ECE = 0.4
    probs = np.tile([0.9, 0.1], (10, 1))
    y = np.array([0] * 5 + [1] * 5)
    value = float(ece(probs, y, bins=15))
    if not report.check(abs(value - 0.4) < 1e-6, "always 90 % confident, 50 % right: ECE = 0.40",
                        f"got {value:.4f}, expected 0.4000: |accuracy - confidence| in the one used bin "
                        "is |0.5 - 0.9|. Did you use the top probability as confidence and "
                        "argmax as the prediction?"):
        return
    # two bins with different sizes: the average must be weighted by the bin counts
    probs = np.array([[0.95, 0.05]] * 8 + [[0.55, 0.45]] * 2)
    y = np.array([0] * 8 + [1] * 2)                       # bin 0.95: acc 1.0; bin 0.55: acc 0.0
    expected = (8 * abs(1.0 - 0.95) + 2 * abs(0.0 - 0.55)) / 10
    value = float(ece(probs, y, bins=15))
    report.check(abs(value - expected) < 1e-6, f"bins weighted by their size: ECE = {expected:.2f}",
                 f"got {value:.4f}, expected {expected:.4f}: weight each bin's gap by the fraction "
                 "of predictions in it (|B_m| / n), don't average the bins equally")
    # a confidence exactly on a bin edge belongs to the bin it closes: (0.4, 0.6] with bins=5
    probs = np.array([[0.6, 0.4], [0.7, 0.3]])
    y = np.array([0, 1])
    value = float(ece(probs, y, bins=5))
    report.check(abs(value - expected_calibration_error(None, probs, y, bins=5)) < 1e-6,
                 "edges: a confidence of 0.6 falls in the bin (0.4, 0.6]",
                 f"got {value:.4f}, expected {expected_calibration_error(None, probs, y, bins=5):.4f}: "
                 "bin m holds confidences in ((m-1)/M, m/M], so use ceil(c * M) - 1 as the index")
    probs, y = _reference_cases()
    value = float(ece(probs, y, bins=15))
    report.check(value < 0.02, f"a well-calibrated predictor scores near 0 ({value:.3f})",
                 f"a predictor that is right exactly as often as it is confident scored {value:.3f}; "
                 "expected < 0.02")


@self_check("Exercise 4.3 (pruning identified exemplars)")
def exercise_4_3(report, find_pies):
    """Check ``find_pies(dense_predictions, pruned_predictions) -> indices`` on small vote tables."""
    dense = np.array([[1, 2, 3, 4, 5],
                      [1, 2, 3, 4, 5],
                      [1, 2, 0, 4, 6]])
    pruned = np.array([[1, 7, 3, 4, 9],
                       [1, 7, 0, 4, 9],
                       [1, 2, 3, 9, 9]])
    result = np.asarray(find_pies(dense, pruned)).ravel()
    if not report.check(result.dtype.kind in "iu" or result.size == 0, "returns integer indices",
                        f"returned dtype {result.dtype}; return the positions, e.g. np.flatnonzero(...)"):
        return
    report.check(sorted(result.tolist()) == [1, 4],
                 "majority votes differ at inputs 1 and 4 only",
                 f"got {sorted(result.tolist())}, expected [1, 4]: compare the *most frequent* label of "
                 "each population per input (column), not single models")
    same = np.asarray(find_pies(dense, dense.copy())).ravel()
    report.check(same.size == 0, "identical populations have no PIEs",
                 f"two identical populations gave PIEs {same.tolist()}; there should be none")
    tie_dense = np.array([[3], [5]])                     # tie: the smaller label wins
    tie_pruned = np.array([[3], [3]])
    tie = np.asarray(find_pies(tie_dense, tie_pruned)).ravel()
    report.check(tie.size == 0, "a tie is broken towards the smaller label (3 vs 5 → 3)",
                 "with votes [3, 5] the modal label should be 3 (np.bincount(...).argmax() picks the "
                 "smallest label in a tie), so 3 vs 3 is not a PIE")


# ------------------------------------------------------------------ verdict conditions

def recovers(recovered_fraction, target=0.8):
    """True when fine-tuning recovered at least ``target`` of the accuracy that pruning lost."""
    return float(recovered_fraction) >= target


def exceeds_null(pruned_worst, null_worst):
    """True when pruning's worst-class statistic is *larger* than the null's, beyond the seed noise.

    ``pruned_worst[i]``: a per-class damage statistic of dense model ``i`` after pruning (and fine-tuning),
    e.g. its largest per-class accuracy drop, or (as Lab 04 uses it) how far that drop exceeds the overall
    drop; ``null_worst[i]``: the same statistic for a reference that pruning should beat — between dense
    model ``i`` and an independently trained dense model (nothing pruned), or for Lab 04's class-blind
    control (as many errors, spread at random). Paired by seed (≥ 3): the mean of
    ``pruned - null`` must exceed its standard error. Fails when the damage cannot be told apart from the
    gap between two dense seeds, and when it is smaller.
    """
    return stats.paired_difference(pruned_worst, null_worst).exceeds_noise()
