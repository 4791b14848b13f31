"""utils._core: models, prunable layers, wrappers, masks, the mask-keeping callback, classifier outputs."""

import numpy as np
import pytest

import utils
from utils import _core, keras, pruning, training


def _mlp(activation="softmax"):
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu", name="hidden"),
                             keras.layers.Dense(3, activation=activation, name="out")])


def test_require_model_names_keras3_as_the_likely_cause():
    assert _core.require_model(_mlp()) is not None
    with pytest.raises(TypeError, match="tf_keras model"):
        _core.require_model([1, 2])


def test_prunable_layers_see_through_tfmot_wrappers():
    model = _mlp()
    wrapped = pruning.prune_low_magnitude(model, final_sparsity=0.5, begin_step=0, end_step=2)
    assert [layer.name for layer in _core.prunable_layers(model)] == ["hidden", "out"]
    assert [layer.name for layer in _core.prunable_layers(wrapped)] == ["hidden", "out"]
    assert _core.stripped(model) is model
    assert not any(_core.is_pruning_wrapper(layer) for layer in _core.stripped(wrapped).layers)


def test_copy_model_copies_weights_and_shares_no_variable():
    model = _mlp()
    clone = _core.copy_model(model)
    for a, b in zip(model.get_weights(), clone.get_weights()):
        np.testing.assert_array_equal(a, b)
    clone.layers[0].kernel.assign(np.zeros((6, 5)))
    assert np.abs(model.layers[0].kernel.numpy()).sum() > 0


def test_masks_round_trip_and_bad_masks_are_named():
    model = pruning.prune_weights(_mlp(), 0.6)
    masks = _core.kernel_masks(model)
    assert _core.mask_sparsity(masks) == pytest.approx(0.6, abs=0.05)
    fresh = _mlp()
    _core.apply_masks(fresh, masks)
    np.testing.assert_array_equal(_core.kernel_masks(fresh)["hidden"], masks["hidden"])
    with pytest.raises(ValueError, match="prunable layers are"):
        _core.apply_masks(fresh, {"nope": masks["hidden"]})
    with pytest.raises(ValueError, match="has shape"):
        _core.apply_masks(fresh, {"hidden": masks["out"]})
    with pytest.raises(TypeError, match="boolean"):
        _core.apply_masks(fresh, {"hidden": masks["hidden"].astype(float)})


def test_fixed_mask_keeps_pruned_weights_at_zero_while_training(digits):
    utils.set_seed(0)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(16, activation="relu", name="hidden"),
                              keras.layers.Dense(10, activation="softmax", name="out")])
    pruned = pruning.prune_weights(model, 0.7)
    masks = _core.kernel_masks(pruned)
    training.train(pruned, digits, epochs=1, callbacks=[_core.FixedMask(masks)])
    np.testing.assert_array_equal(_core.kernel_masks(pruned)["hidden"], masks["hidden"])
    # the control: without the callback the optimiser revives the zeros
    unmasked = pruning.prune_weights(model, 0.7)
    training.train(unmasked, digits, epochs=1)
    assert _core.kernel_masks(unmasked)["hidden"].mean() > masks["hidden"].mean() + 0.2


@pytest.mark.parametrize("activation, expected", [("softmax", False), ("linear", True)])
def test_outputs_logits_detects_the_last_layer(activation, expected):
    assert _core.outputs_logits(_mlp(activation)) is expected
    assert _core.outputs_logits(_mlp(activation), from_logits=not expected) is (not expected)


def test_outputs_logits_refuses_to_guess():
    with pytest.raises(ValueError, match="from_logits=True"):
        _core.outputs_logits(_mlp("sigmoid"))
    with pytest.raises(TypeError, match="from_logits"):
        _core.outputs_logits(_mlp(), from_logits="yes")
    separate = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3), keras.layers.Softmax()])
    assert _core.outputs_logits(separate) is False


def test_class_probabilities_agree_for_softmax_and_logits_twins():
    softmax_model, logits_model = _mlp("softmax"), _mlp("linear")
    logits_model.set_weights(softmax_model.get_weights())
    x = np.random.default_rng(0).normal(size=(7, 6)).astype("float32")
    np.testing.assert_allclose(_core.class_probabilities(softmax_model, x),
                               _core.class_probabilities(logits_model, x), atol=1e-6)
    with pytest.raises(ValueError, match="empty"):
        _core.class_probabilities(softmax_model, x[:0])


def test_classification_loss_matches_for_both_kinds():
    logits = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]], "float32")
    probs = utils.tf.nn.softmax(logits)
    y = np.array([0, 1])
    expected = -np.log(probs.numpy()[[0, 1], y])
    np.testing.assert_allclose(_core.classification_loss(y, logits, from_logits=True, reduction="none"),
                               expected, rtol=1e-5)
    summed = float(_core.classification_loss(y, probs, from_logits=False))
    assert summed == pytest.approx(expected.sum(), rel=1e-5)
    with pytest.raises(ValueError, match="reduction"):
        _core.classification_loss(y, logits, from_logits=True, reduction="max")
