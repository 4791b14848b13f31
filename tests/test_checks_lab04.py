"""Lab 04's self-checks (utils/checks/lab04.py): reference solutions pass, common mistakes are explained."""

import numpy as np

from utils import calibration, checks, metrics, pruning


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
    checks.exercise_4_2(lambda: {"dense1": 0.86, "output": 0.45}, trained_mlp, x, y)
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

    checks.exercise_4_2(lambda: {"dense1": 0.861}, trained_mlp, x, y)  # a layer left out stays dense
    assert "Weight each layer's sparsity by its number of weights" not in capsys.readouterr().out
    checks.exercise_4_2(lambda: {"output": 0.85}, trained_mlp, x, y)
    assert "Weight each layer's sparsity by its number of weights" in capsys.readouterr().out

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
