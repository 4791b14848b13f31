import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import utils
from utils import _core, keras, metrics, models, pruning

SCANNED = [0.5, 0.8, 0.95]  # the sparsities of the `scan` fixture (conftest.py)
finite = st.floats(-10, 10, allow_nan=False, width=32)
weight_arrays = arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 4)),
                       elements=finite)
sparsities = st.floats(0.0, 0.99)


# ------------------------------------------------------------ magnitude_mask (property tests)

@given(weight_arrays, sparsities)
def test_mask_prunes_exactly_round_s_times_n(w, s):
    mask = pruning.magnitude_mask(w, s)
    assert mask.shape == w.shape and mask.dtype == bool
    assert np.sum(~mask) == round(s * w.size)


@given(weight_arrays, sparsities)
def test_mask_keeps_the_largest_magnitudes(w, s):
    mask = pruning.magnitude_mask(w, s)
    if mask.any() and (~mask).any():
        assert np.abs(w[mask]).min() >= np.abs(w[~mask]).max()


@given(weight_arrays, sparsities, sparsities)
def test_mask_is_monotone_in_sparsity(w, s1, s2):
    low, high = sorted((s1, s2))
    kept_high = pruning.magnitude_mask(w, high)
    kept_low = pruning.magnitude_mask(w, low)
    assert np.all(kept_low | ~kept_high)  # everything kept at high sparsity is kept at low


@given(weight_arrays, sparsities)
@settings(max_examples=60)
def test_mask_is_idempotent(w, s):
    mask = pruning.magnitude_mask(w, s)
    np.testing.assert_array_equal(pruning.magnitude_mask(w * mask, s), mask)


def test_zero_sparsity_keeps_everything_and_ties_are_deterministic():
    assert pruning.magnitude_mask(np.ones(5), 0.0).all()
    np.testing.assert_array_equal(pruning.magnitude_mask(np.ones(4), 0.5), [False, False, True, True])


@pytest.mark.parametrize("s", [-0.1, 1.0, 1.5, float("nan")])
def test_mask_rejects_sparsity_outside_0_1(s):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        pruning.magnitude_mask(np.ones(4), s)


@pytest.mark.parametrize("weights, s, error", [
    (np.ones(4), "0.5", TypeError), (np.ones(4), True, TypeError), (np.array([]), 0.5, ValueError),
    (np.array([1.0, np.nan]), 0.5, ValueError), (np.array(["a", "b"]), 0.5, TypeError),
])
def test_mask_rejects_bad_input(weights, s, error):
    with pytest.raises(error):
        pruning.magnitude_mask(weights, s)


# ------------------------------------------------------------ prune_weights

def test_prune_weights_returns_new_model_and_leaves_input_alone(trained_mlp):
    before = [w.copy() for w in trained_mlp.get_weights()]
    pruned = pruning.prune_weights(trained_mlp, 0.7)
    assert pruned is not trained_mlp
    for a, b in zip(before, trained_mlp.get_weights()):
        np.testing.assert_array_equal(a, b)
    report = pruning.sparsity_report(pruned)
    assert np.allclose(report.sparsity[:-1], 0.7, atol=0.005)
    for layer, original in zip(pruning.prunable_layers(pruned), pruning.prunable_layers(trained_mlp)):
        np.testing.assert_array_equal(layer.bias.numpy(), original.bias.numpy())


def test_global_scope_hits_the_global_target_with_uneven_layers(trained_mlp):
    pruned = pruning.prune_weights(trained_mlp, 0.8, scope="global")
    report = pruning.sparsity_report(pruned)
    assert abs(pruning.global_sparsity(pruned) - 0.8) < 1e-3
    assert report.sparsity[:-1].std() > 0.01  # layers end up with different sparsities


def test_per_layer_dict(trained_mlp):
    pruned = pruning.prune_weights(trained_mlp, {"dense1": 0.5})
    report = pruning.sparsity_report(pruned).set_index("layer")
    assert abs(report.loc["dense1", "sparsity"] - 0.5) < 1e-3
    assert report.loc["output", "sparsity"] < 0.01


@pytest.mark.parametrize("kwargs, error, match", [
    ({"sparsity": 0.5, "scope": "row"}, ValueError, "scope"),
    ({"sparsity": {"nope": 0.5}}, ValueError, "Unknown layer"),
    ({"sparsity": {"dense1": 0.5}, "scope": "global"}, TypeError, "one number"),
    ({"sparsity": 1.0}, ValueError, r"\[0, 1\)"),
])
def test_prune_weights_rejects_bad_arguments(trained_mlp, kwargs, error, match):
    with pytest.raises(error, match=match):
        pruning.prune_weights(trained_mlp, **kwargs)


def test_prune_weights_rejects_non_models():
    with pytest.raises(TypeError, match="tf_keras"):
        pruning.prune_weights(np.ones((3, 3)), 0.5)


def test_pruning_hurts_more_at_higher_sparsity(trained_mlp, digits):
    accs = [metrics.accuracy(pruning.prune_weights(trained_mlp, s), digits.x_test, digits.y_test)
            for s in (0.0, 0.5, 0.98)]
    assert accs[0] >= accs[1] - 0.02 and accs[1] > accs[2]


# ------------------------------------------------------------ tfmot wrappers

def test_prune_low_magnitude_copies_the_model_and_follows_the_schedule(digits):
    utils.set_seed(0)
    model = models.mlp((32,))
    before = [w.copy() for w in model.get_weights()]
    wrapped = pruning.prune_low_magnitude(model, final_sparsity=0.75, begin_step=0, end_step=20,
                                          frequency=5)
    assert all(getattr(w, "layer", None) is not m for w in wrapped.layers for m in model.layers)
    schedule = wrapped.layers[1].pruning_schedule.get_config()
    assert schedule["class_name"] == "PolynomialDecay" and schedule["config"]["power"] == 3
    from utils import training

    training.train(wrapped, digits, epochs=2, callbacks=pruning.pruning_callbacks())
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # the input model is untouched
    stripped = pruning.strip(wrapped)
    assert not any(type(layer).__name__ == "PruneLowMagnitude" for layer in stripped.layers)
    assert np.allclose(pruning.sparsity_report(stripped).sparsity[:-1], 0.75, atol=0.005)


@pytest.mark.parametrize("kwargs, match", [
    ({"final_sparsity": 1.2, "begin_step": 0, "end_step": 10}, "final_sparsity"),
    ({"final_sparsity": 0.5, "begin_step": 10, "end_step": 10}, "end_step"),
    ({"final_sparsity": 0.5, "begin_step": -1, "end_step": 10}, "begin_step"),
    ({"final_sparsity": 0.5, "begin_step": 0, "end_step": 10, "initial_sparsity": 0.6}, "initial"),
    ({"final_sparsity": 0.5, "begin_step": 0, "end_step": 10, "frequency": 0}, "frequency"),
])
def test_prune_low_magnitude_rejects_bad_schedules(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pruning.prune_low_magnitude(models.mlp((4,)), **kwargs)


def test_gradual_prune_reaches_target_and_keeps_accuracy(trained_mlp, digits):
    utils.set_seed(0)
    pruned = pruning.gradual_prune(trained_mlp, digits, final_sparsity=0.8, epochs=4)
    assert abs(pruning.global_sparsity(pruned) - 0.8) < 0.005
    dense_acc = metrics.accuracy(trained_mlp, digits.x_test, digits.y_test)
    assert metrics.accuracy(pruned, digits.x_test, digits.y_test) > dense_acc - 0.05


def test_gradual_prune_rejects_bad_fraction(trained_mlp, digits):
    with pytest.raises(ValueError, match="prune_fraction"):
        pruning.gradual_prune(trained_mlp, digits, final_sparsity=0.5, epochs=1, prune_fraction=0)


def test_sparsity_report_needs_prunable_layers():
    model = keras.Sequential([keras.Input((4,)), keras.layers.ReLU()])
    with pytest.raises(ValueError, match="no Dense or Conv"):
        pruning.sparsity_report(model)


def test_gradual_prune_reaches_target_when_steps_do_not_divide_evenly(trained_mlp, digits):
    """20 steps per epoch, 5 epochs, ramp over half: end_step 50 is rounded to the update at 40."""
    utils.set_seed(0)
    pruned = pruning.gradual_prune(trained_mlp, digits, final_sparsity=0.9, epochs=5, batch_size=64)
    assert abs(pruning.global_sparsity(pruned) - 0.9) < 0.005


def test_gradual_prune_rejects_a_frequency_with_no_update(trained_mlp, digits):
    with pytest.raises(ValueError, match="frequency"):
        pruning.gradual_prune(trained_mlp, digits, final_sparsity=0.5, epochs=1, frequency=1000)


def test_gradual_reaches_the_target_and_logs_a_rising_sparsity(tiny_trained, tiny_data):
    log = pruning.SparsityLog()
    pruned = pruning.gradual_prune(tiny_trained, tiny_data, final_sparsity=0.8, epochs=4, frequency=2,
                                   log=log)
    assert all(abs(s - 0.8) <= 0.005 for s in pruning.sparsity_report(pruned).sparsity)
    sparsity = log.frame().sparsity.to_numpy()
    assert np.all(np.diff(sparsity) >= -1e-9) and sparsity[0] < 0.8
    assert sparsity[-1] == pytest.approx(0.8, abs=0.005)
    assert not any(_core.is_pruning_wrapper(layer) for layer in pruned.layers)
    again, frame = pruning.gradual_prune(tiny_trained, tiny_data, final_sparsity=0.8, epochs=2, log=True)
    assert list(frame.epoch) == [1, 2] and frame.sparsity.iloc[-1] == pytest.approx(0.8, abs=0.005)
    assert pruning.global_sparsity(again) == pytest.approx(0.8, abs=0.005)


def test_gradual_prune_rejects_bad_schedules(tiny_trained, tiny_data):
    with pytest.raises(ValueError, match="prune_fraction"):
        pruning.gradual_prune(tiny_trained, tiny_data, final_sparsity=0.5, epochs=2, prune_fraction=0)
    with pytest.raises(ValueError, match="frequency"):
        pruning.gradual_prune(tiny_trained, tiny_data, final_sparsity=0.5, epochs=1, frequency=100)
    with pytest.raises(TypeError, match="log"):
        pruning.gradual_prune(tiny_trained, tiny_data, final_sparsity=0.5, epochs=1, log="yes")


def test_scan_is_a_tidy_table_with_one_row_per_layer_and_sparsity(scan, trained_mlp):
    names = [layer.name for layer in pruning.prunable_layers(trained_mlp)]
    assert list(scan.columns) == ["layer", "weights", "sparsity", "accuracy", "drop"]
    assert len(scan) == len(names) * len(SCANNED)
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
