"""Lab 04's self-checks (utils/checks/lab04.py): reference solutions pass, common mistakes are explained."""

import numpy as np
import pandas as pd
import pytest

from utils import calibration, checks, metrics, pruning
from utils import prune_retrain as pr


def _ece(probs, y, bins=15):
    return calibration.expected_calibration_error(None, probs, y, bins)


def _pies(dense, pruned):
    def modal(votes):
        return np.array([np.bincount(column).argmax() for column in np.asarray(votes).T])
    return np.flatnonzero(modal(dense) != modal(pruned))


def test_checks_pass_the_reference_solutions(capsys, trained_mlp, digits):
    x, y = digits.x_val, digits.y_val

    def layer_sensitivity(model, name, sparsities, x, y):
        return pruning.sensitivity_scan(model, (x, y), sparsities, layers=[name])["accuracy"].tolist()

    checks.exercise_4_1(layer_sensitivity, trained_mlp, x, y, layer="dense1")
    checks.exercise_4_2(pr.allocate_ratios)
    checks.exercise_4_3(_pies)
    checks.exercise_4_4(_ece)
    out = capsys.readouterr().out
    assert "✘" not in out and out.count("all checks passed") == 4


def test_checks_explain_common_mistakes(capsys, trained_mlp, digits):
    x, y = digits.x_val, digits.y_val

    def prunes_everything(model, name, sparsities, x, y):
        return [metrics.accuracy(pruning.prune_weights(model, s), x, y) for s in sparsities]

    checks.exercise_4_1(prunes_everything, trained_mlp, x, y, layer="dense1")
    assert "prune only the named layer" in capsys.readouterr().out

    def uniform(scan, budget):                  # meets the budget but ignores the scan
        return {name: budget for name in scan.layer.unique()}

    checks.exercise_4_2(uniform)
    assert "goes far" in capsys.readouterr().out

    def largest_below(scan, budget):           # skips over a bad point of a bumpy curve
        fixed = scan.copy()
        for _, rows in fixed.groupby("layer"):
            fixed.loc[rows.index, "drop"] = rows["drop"].sort_values().to_numpy()
        return pr.allocate_ratios(fixed, budget)

    checks.exercise_4_2(largest_below)
    assert "a lucky point further on does not count" in capsys.readouterr().out

    def never_raises(scan, budget):
        try:
            return pr.allocate_ratios(scan, budget)
        except ValueError:
            return {name: 0.9 for name in scan.layer.unique()}

    checks.exercise_4_2(never_raises)
    assert "raise a ValueError" in capsys.readouterr().out

    def unweighted(probs, y, bins=15):
        table = calibration.calibration_bins(probs, y, bins).dropna()
        return float(np.mean(np.abs(table.accuracy - table.confidence)))

    checks.exercise_4_4(unweighted)
    assert "weight each bin's gap" in capsys.readouterr().out

    def any_model_differs(dense, pruned):
        return np.flatnonzero(np.any(np.asarray(dense) != np.asarray(pruned), axis=0))

    checks.exercise_4_3(any_model_differs)
    assert "most frequent" in capsys.readouterr().out


def test_unfinished_lab04_exercise_gets_a_reminder(capsys):
    def stub(*args, **kwargs):
        raise NotImplementedError("Exercise 4.4: replace this line with your code")

    assert checks.exercise_4_4(stub) is None
    assert "not done yet" in capsys.readouterr().out


# ------------------------------------------------------------------ verdict conditions

def test_beats_needs_a_gap_larger_than_its_standard_error():
    assert checks.lab04.beats([0.95, 0.96, 0.97], [0.90, 0.92, 0.91])
    assert not checks.lab04.beats([0.95, 0.90, 0.97], [0.94, 0.93, 0.93])
    assert not checks.lab04.beats([0.95, 0.96], [0.90, 0.92])


def test_recovers_threshold():
    assert checks.lab04.recovers(0.9)
    assert not checks.lab04.recovers(0.6)


def test_allocate_ratios_meets_the_budget_exactly():
    scan = pd.DataFrame([{"layer": n, "weights": w, "sparsity": s, "drop": d}
                         for n, w, curve in (("a", 100, [0.0, 0.1, 0.3]), ("b", 900, [0.0, 0.01, 0.02]))
                         for s, d in zip((0.5, 0.8, 0.9), curve)])
    ratios = pr.allocate_ratios(scan, 0.8)
    assert abs((ratios["a"] * 100 + ratios["b"] * 900) / 1000 - 0.8) < 1e-9
    assert ratios["b"] > ratios["a"]
    with pytest.raises(ValueError, match="out of reach"):
        pr.allocate_ratios(scan, 0.95)


def test_exceeds_null_needs_the_pruned_worst_class_drop_clearly_above_the_dense_vs_dense_gap():
    null = [0.083, 0.056, 0.083, 0.061, 0.078]
    assert checks.lab04.exceeds_null([0.139, 0.111, 0.167, 0.120, 0.139], null)
    assert not checks.lab04.exceeds_null([0.083, 0.028, 0.111, 0.030, 0.083], null)   # within the noise
    assert not checks.lab04.exceeds_null([0.028, 0.028, 0.056, 0.030, 0.028], null)   # clearly below the null
    assert not checks.lab04.exceeds_null([0.30, 0.20], [0.08, 0.06])                  # two seeds: too few
