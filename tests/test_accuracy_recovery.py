"""Lab 04's tools: sensitivity scan and guided ratios, fine-tuning, ECE, PIEs, their plots and checks."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from utils import checks, metrics, plots, pruning  # noqa: E402

SPARSITIES = [0.5, 0.8, 0.95]


@pytest.fixture(scope="module")
def scan(trained_mlp, digits):
    return pruning.sensitivity_scan(trained_mlp, digits, SPARSITIES)


# ------------------------------------------------------------------ sensitivity scan

def test_scan_is_a_tidy_table_with_one_row_per_layer_and_sparsity(scan, trained_mlp):
    names = [layer.name for layer in pruning.prunable_layers(trained_mlp)]
    assert list(scan.columns) == ["layer", "weights", "sparsity", "accuracy", "drop"]
    assert len(scan) == len(names) * len(SPARSITIES)
    assert scan.layer.unique().tolist() == names
    sizes = {layer.name: layer.kernel.numpy().size for layer in pruning.prunable_layers(trained_mlp)}
    assert all(row.weights == sizes[row.layer] for row in scan.itertuples())
    assert np.allclose(scan["drop"], scan.attrs["dense_accuracy"] - scan.accuracy)


def test_scan_uses_the_validation_split_and_prunes_one_layer_only(scan, trained_mlp, digits):
    assert scan.attrs["dense_accuracy"] == metrics.accuracy(trained_mlp, digits.x_val, digits.y_val)
    row = scan[(scan.layer == "output") & (scan.sparsity == 0.8)].iloc[0]
    only_output = pruning.prune_weights(trained_mlp, {"output": 0.8})
    assert row.accuracy == metrics.accuracy(only_output, digits.x_val, digits.y_val)


def test_scan_leaves_the_input_model_untouched(trained_mlp, digits):
    before = [w.copy() for w in trained_mlp.get_weights()]
    pruning.sensitivity_scan(trained_mlp, (digits.x_test, digits.y_test), [0.9], layers=["dense1"])
    assert all(np.array_equal(a, b) for a, b in zip(before, trained_mlp.get_weights()))


def test_pruning_a_layer_harder_hurts_more(scan):
    big = scan[scan.layer == "dense1"].sort_values("sparsity")
    assert big.accuracy.iloc[-1] <= big.accuracy.iloc[0]


@pytest.mark.parametrize("kwargs, error, match", [
    ({"sparsities": [1.0]}, ValueError, r"\[0, 1\)"),
    ({"sparsities": []}, ValueError, "empty"),
    ({"sparsities": [0.5], "layers": ["nope"]}, ValueError, "Unknown layer"),
    ({"sparsities": [0.5], "layers": "dense1"}, TypeError, "list of layer names"),
])
def test_scan_rejects_bad_arguments(trained_mlp, digits, kwargs, error, match):
    with pytest.raises(error, match=match):
        pruning.sensitivity_scan(trained_mlp, digits, **kwargs)


def test_scan_rejects_bad_data_and_models(trained_mlp):
    with pytest.raises(TypeError, match="Dataset"):
        pruning.sensitivity_scan(trained_mlp, "digits", [0.5])
    with pytest.raises(TypeError, match="tf_keras"):
        pruning.sensitivity_scan(object(), ([0], [0]), [0.5])


# ------------------------------------------------------------------ guided ratios

def _toy_scan():
    """Two layers: 'big' (900 weights) is robust, 'small' (100 weights) is sensitive."""
    rows = []
    for s, big, small in [(0.5, 0.00, 0.05), (0.8, 0.01, 0.30), (0.9, 0.02, 0.50), (0.95, 0.10, 0.70)]:
        rows.append({"layer": "big", "weights": 900, "sparsity": s, "accuracy": 0.9 - big, "drop": big})
        rows.append({"layer": "small", "weights": 100, "sparsity": s, "accuracy": 0.9 - small,
                     "drop": small})
    return pd.DataFrame(rows)


def _weighted(ratios, sizes):
    return sum(ratios[k] * sizes[k] for k in sizes) / sum(sizes.values())


@pytest.mark.parametrize("budget", [0.0, 0.3, 0.5, 0.8, 0.85, 0.9])
def test_guided_ratios_meet_the_budget_exactly(budget):
    ratios = pruning.sensitivity_guided_ratios(_toy_scan(), budget)
    assert set(ratios) == {"big", "small"}
    assert _weighted(ratios, {"big": 900, "small": 100}) == pytest.approx(budget, abs=1e-9)
    assert all(0.0 <= s <= 0.95 for s in ratios.values())


def test_guided_ratios_spare_the_sensitive_layer():
    ratios = pruning.sensitivity_guided_ratios(_toy_scan(), 0.85)
    assert ratios["small"] < 0.85 < ratios["big"]


def test_guided_ratios_on_a_real_scan_give_the_budgeted_model_sparsity(scan, trained_mlp):
    ratios = pruning.sensitivity_guided_ratios(scan, 0.85)
    pruned = pruning.prune_weights(trained_mlp, ratios)
    assert pruning.global_sparsity(pruned) == pytest.approx(0.85, abs=1e-3)  # within 0.1 pt


def test_guided_ratios_reject_an_unreachable_budget_and_bad_scans():
    with pytest.raises(ValueError, match="Scan higher sparsities"):
        pruning.sensitivity_guided_ratios(_toy_scan(), 0.96)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        pruning.sensitivity_guided_ratios(_toy_scan(), 1.2)
    with pytest.raises(ValueError, match="lacks column"):
        pruning.sensitivity_guided_ratios(_toy_scan().drop(columns="weights"), 0.5)
    with pytest.raises(TypeError, match="DataFrame"):
        pruning.sensitivity_guided_ratios({"big": 0.5}, 0.5)


# ------------------------------------------------------------------ fine-tuning

def test_fine_tune_keeps_the_zeros_and_recovers_accuracy(trained_mlp, digits):
    pruned = pruning.prune_weights(trained_mlp, 0.95)
    before = [w.copy() for w in pruned.get_weights()]
    tuned = pruning.fine_tune(pruned, digits, epochs=2, batch_size=64)
    assert tuned is not pruned
    assert all(np.array_equal(a, b) for a, b in zip(before, pruned.get_weights()))  # input untouched
    for old, new in zip(pruning.prunable_layers(pruned), pruning.prunable_layers(tuned)):
        assert np.array_equal(old.kernel.numpy() == 0, new.kernel.numpy() == 0)
    assert (metrics.accuracy(tuned, digits.x_test, digits.y_test)
            > metrics.accuracy(pruned, digits.x_test, digits.y_test))
    assert len(tuned.history.history["val_accuracy"]) == 2


def test_fine_tune_rejects_bad_epochs(trained_mlp, digits):
    with pytest.raises(ValueError, match="epochs"):
        pruning.fine_tune(trained_mlp, digits, epochs=0)


# ------------------------------------------------------------------ calibration

def _calibrated(n=50_000, seed=0):
    """A toy predictor that is right exactly as often as it is confident."""
    rng = np.random.default_rng(seed)
    confidence = rng.uniform(0.4, 1.0, n)   # always above the runners-up, (1 - c) / 2 <= 0.3
    y = rng.integers(0, 3, n)
    right = rng.uniform(size=n) < confidence
    predicted = np.where(right, y, (y + 1) % 3)
    probs = np.full((n, 3), 0.0)
    probs[np.arange(n), predicted] = confidence
    probs[np.arange(n), (predicted + 1) % 3] = (1 - confidence) / 2
    probs[np.arange(n), (predicted + 2) % 3] = (1 - confidence) / 2
    return probs, y


def test_ece_of_a_calibrated_predictor_is_about_zero():
    probs, y = _calibrated()
    assert metrics.expected_calibration_error(None, probs, y) < 0.01


def test_ece_of_an_over_confident_predictor_is_its_gap():
    probs = np.tile([0.99, 0.01], (100, 1))
    y = np.array([0] * 70 + [1] * 30)           # 99 % confident, 70 % right
    assert metrics.expected_calibration_error(None, probs, y) == pytest.approx(0.29)


def test_calibration_bins_follow_guo_et_al():
    probs = np.array([[0.6, 0.4], [0.61, 0.39], [1.0, 0.0], [0.5, 0.5]])
    y = np.array([0, 1, 0, 0])
    table = metrics.calibration_bins(probs, y, bins=5)
    assert table["count"].tolist() == [0, 0, 2, 1, 1]   # 0.5, 0.6 ∈ (0.4, 0.6]; 0.61 ∈ (0.6, 0.8]
    assert table.loc[2, "confidence"] == pytest.approx(0.55) and table.loc[2, "accuracy"] == 1.0
    assert table.loc[3, "accuracy"] == 0.0 and np.isnan(table.loc[0, "accuracy"])
    expected = (2 * abs(1.0 - 0.55) + 1 * abs(0.0 - 0.61) + 1 * abs(1.0 - 1.0)) / 4
    assert metrics.expected_calibration_error(None, probs, y, bins=5) == pytest.approx(expected)


def test_ece_of_a_model_equals_ece_of_its_probabilities(trained_mlp, digits):
    probs = metrics.predict_proba(trained_mlp, digits.x_test)
    direct = metrics.expected_calibration_error(trained_mlp, digits.x_test, digits.y_test)
    assert direct == metrics.expected_calibration_error(None, probs, digits.y_test)
    assert 0.0 <= direct <= 1.0


@pytest.mark.parametrize("probs, y, bins, error, match", [
    (np.ones((3, 2)), np.zeros(3, int), 15, ValueError, "sum to 1"),
    (np.ones(3) / 3, np.zeros(1, int), 15, ValueError, "shape"),
    (np.full((2, 2), 0.5), np.zeros(3, int), 15, ValueError, "one label per row"),
    (np.full((2, 2), 0.5), np.zeros(2), 15, TypeError, "integer"),
    (np.full((2, 2), 0.5), np.zeros(2, int), 0, ValueError, "bins"),
])
def test_ece_rejects_bad_input(probs, y, bins, error, match):
    with pytest.raises(error, match=match):
        metrics.expected_calibration_error(None, probs, y, bins)


# ------------------------------------------------------------------ PIEs

def test_identical_populations_have_no_pies(trained_mlp, trained_cnn, digits):
    models = [trained_mlp, trained_cnn]
    assert metrics.pruning_identified_exemplars(models, list(models), digits.x_test).size == 0


def test_pies_are_where_the_majority_votes_differ(trained_mlp, trained_cnn, digits):
    x = digits.x_test
    pruned = pruning.prune_weights(trained_mlp, 0.9)
    pies = metrics.pruning_identified_exemplars([trained_mlp], [pruned], x)
    differ = np.flatnonzero(metrics.predict_classes(trained_mlp, x) != metrics.predict_classes(pruned, x))
    assert np.array_equal(pies, differ) and pies.size > 0


def test_modal_labels_break_ties_towards_the_smaller_label(trained_mlp, trained_cnn, digits):
    x = digits.x_test
    a, b = metrics.predict_classes(trained_mlp, x), metrics.predict_classes(trained_cnn, x)
    assert np.array_equal(metrics.modal_labels([trained_mlp, trained_cnn], x), np.minimum(a, b))


def test_pies_reject_empty_populations(trained_mlp, digits):
    with pytest.raises(TypeError, match="non-empty list"):
        metrics.pruning_identified_exemplars([], [trained_mlp], digits.x_test)


# ------------------------------------------------------------------ plots

def test_new_plots_have_titles_and_labels(scan, digits, trained_mlp):
    probs = metrics.predict_proba(trained_mlp, digits.x_test)
    axes = [plots.sensitivity_curves(scan),
            plots.reliability_diagram({"mlp": probs}, digits.y_test)]
    assert all(ax.get_title() and ax.get_xlabel() and ax.get_ylabel() for ax in axes)
    assert len(axes[0].lines) == scan.layer.nunique() + 1    # one line per layer + the dense reference
    assert "ECE" in axes[1].get_legend().get_texts()[1].get_text()
    grid = plots.image_grid(digits.x_test[:5], [str(v) for v in digits.y_test[:5]], ncols=3,
                            title="five digits")
    assert grid.shape == (2, 3) and grid[0, 0].get_title() == str(digits.y_test[0])
    assert grid[0, 0].figure._suptitle.get_text() == "five digits"
    plt.close("all")


def test_image_grid_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        plots.image_grid(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="titles"):
        plots.image_grid(np.zeros((2, 4, 4)), ["only one"])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        plots.image_grid(np.full((2, 4, 4, 3), 1.5))


def test_image_grid_draws_colour_images():
    axes = plots.image_grid(np.random.default_rng(0).random((3, 4, 4, 3)), ncols=2, title="RGB")
    assert axes.shape == (2, 2) and axes[0, 0].images[0].get_array().shape == (4, 4, 3)


# ------------------------------------------------------------------ self-checks

def _ece(probs, y, bins=15):
    return metrics.expected_calibration_error(None, probs, y, bins)


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
        table = metrics.calibration_bins(probs, y, bins).dropna()
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
