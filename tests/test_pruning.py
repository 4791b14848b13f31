import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import utils
from utils import keras, metrics, models, pruning

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
