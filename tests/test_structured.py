"""Structured pruning: filter removal, head removal, N:M sparsity, and the sequence task."""

import numpy as np
import pytest
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_utils

import utils
from utils import data, keras, models, pruning, structured, training

layers = keras.layers
RNG = np.random.default_rng(0)
X_IMAGES = RNG.random((16, 28, 28, 1), dtype=np.float32)


def _predict(model, x):
    return model(x, training=False).numpy()


def _seed_cnn_params(a, b, c, d, classes=10):
    """Closed-form parameter count of seed_cnn with a, b, c filters and d hidden units."""
    return (9 * 1 * a + a) + (9 * a * b + b) + (9 * b * c + c) + (3 * 3 * c * d + d) + (d * classes + classes)


def _random_weights(model, seed=0):
    """Give every weight a random non-zero value (BatchNorm variances positive)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if isinstance(layer, layers.BatchNormalization):
            weights = [rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in weights]
        else:
            weights = [rng.normal(0, 0.2, w.shape).astype(np.float32) for w in weights]
        layer.set_weights(weights)
    return model


def _zero_filters(model, drop):
    """Zero the filters ``drop[name]`` of each layer (kernel, bias, and the BatchNorm after it)."""
    previous = None
    for layer in model.layers:
        if layer.name in drop:
            weights = layer.get_weights()
            weights[0][..., drop[layer.name]] = 0.0
            if len(weights) > 1:
                weights[1][drop[layer.name]] = 0.0
            layer.set_weights(weights)
            previous = layer.name
        elif isinstance(layer, layers.BatchNormalization) and previous in drop:
            gamma, beta, mean, variance = layer.get_weights()
            gamma[drop[previous]], beta[drop[previous]] = 0.0, 0.0
            layer.set_weights([gamma, beta, mean, variance])
        elif hasattr(layer, "kernel"):
            previous = None
    return model


# --- filter_importance ----------------------------------------------------------------------

def test_filter_importance_l1_and_l2_by_hand():
    model = keras.Sequential([keras.Input((4, 4, 2)), layers.Conv2D(3, 2, name="conv"),
                              layers.Flatten(), layers.Dense(2, name="out")])
    kernel = np.zeros((2, 2, 2, 3), np.float32)
    kernel[..., 0] = -1.0                       # 8 weights of |1|: L1 8, L2 sqrt(8)
    kernel[0, 0, 0, 1], kernel[1, 1, 1, 1] = 3.0, -4.0  # L1 7, L2 5
    model.get_layer("conv").set_weights([kernel, np.ones(3, np.float32)])
    l1 = structured.filter_importance(model)
    l2 = structured.filter_importance(model, criterion="l2")
    assert list(l1) == ["conv", "out"]
    np.testing.assert_allclose(l1["conv"], [8.0, 7.0, 0.0])
    np.testing.assert_allclose(l2["conv"], [np.sqrt(8.0), 5.0, 0.0], rtol=1e-6)
    assert l1["out"].shape == (2,)


def test_filter_importance_rejects_unknown_criterion():
    with pytest.raises(ValueError, match=r"criterion must be one of \('l1', 'l2'\), got 'taylor'"):
        structured.filter_importance(models.seed_cnn(), criterion="taylor")


# --- prune_filters ---------------------------------------------------------------------------

def test_removing_zero_filters_keeps_predictions_seed_cnn():
    model = _random_weights(models.seed_cnn())
    drop = {"conv1": [0, 5, 7, 31], "conv2": list(range(0, 64, 4)), "conv3": list(range(32)),
            "dense1": [1, 2, 3, 60]}
    _zero_filters(model, drop)
    ratios = {name: len(ids) / layer_size
              for (name, ids), layer_size in zip(drop.items(), (32, 64, 64, 64))}
    pruned = structured.prune_filters(model, ratios)
    np.testing.assert_allclose(_predict(pruned, X_IMAGES), _predict(model, X_IMAGES), atol=1e-5)
    widths = [pruned.get_layer(n).kernel.shape[-1] for n in ("conv1", "conv2", "conv3", "dense1")]
    assert widths == [28, 48, 32, 60]
    assert pruned.count_params() == _seed_cnn_params(28, 48, 32, 60)


def test_removing_zero_filters_keeps_predictions_with_batchnorm():
    model = _random_weights(models.small_cnn((8, 12), batch_norm=True, dense=16))
    _zero_filters(model, {"conv1": [2, 3, 6], "conv2": [0, 11, 5], "dense1": [4, 9, 10, 15]})
    pruned = structured.prune_filters(model, {"conv1": 3 / 8, "conv2": 0.25, "dense1": 0.25})
    np.testing.assert_allclose(_predict(pruned, X_IMAGES), _predict(model, X_IMAGES), atol=1e-5)
    assert pruned.get_layer("bn1").get_weights()[0].shape == (5,)
    assert pruned.get_layer("bn2").get_weights()[0].shape == (9,)


def test_pruned_model_equals_original_with_those_filters_zeroed():
    """With non-zero weights everywhere: the smallest-L1 filters go, the rest are copied exactly."""
    model = _random_weights(models.seed_cnn(), seed=3)
    pruned = structured.prune_filters(model, 0.5)
    scores = structured.filter_importance(model)
    drop = {name: np.argsort(-scores[name], kind="stable")[len(scores[name]) // 2:]
            for name in ("conv1", "conv2", "conv3", "dense1")}
    zeroed = _zero_filters(pruning.copy_model(model), drop)
    np.testing.assert_allclose(_predict(pruned, X_IMAGES), _predict(zeroed, X_IMAGES), atol=1e-5)


@pytest.mark.parametrize("ratio, widths", [(0.0, (32, 64, 64, 64)), (0.25, (24, 48, 48, 48)),
                                           (0.5, (16, 32, 32, 32)), (0.75, (8, 16, 16, 16))])
def test_parameter_counts_match_the_closed_form(ratio, widths):
    pruned = structured.prune_filters(models.seed_cnn(), ratio)
    assert pruned.count_params() == _seed_cnn_params(*widths)
    assert pruned.get_layer("output").units == 10  # the classifier is never pruned


def test_functional_chain_and_l2_criterion():
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(10, activation="softmax", name="output")(x)
    model = _random_weights(keras.Model(inputs, outputs))
    _zero_filters(model, {"conv1": [1, 4]})
    pruned = structured.prune_filters(model, 0.25, criterion="l2")
    assert pruned.get_layer("conv1").filters == 6
    np.testing.assert_allclose(_predict(pruned, X_IMAGES), _predict(model, X_IMAGES), atol=1e-5)


def test_depthwise_conv_follows_the_removed_channels():
    model = keras.Sequential([keras.Input((12, 12, 1)), layers.Conv2D(8, 3, name="conv1"),
                              layers.DepthwiseConv2D(3, name="dw"), layers.ReLU(name="relu"),
                              layers.Flatten(name="flatten"), layers.Dense(3, name="output")])
    _random_weights(model)
    _zero_filters(model, {"conv1": [0, 7]})
    dw = model.get_layer("dw").get_weights()
    dw[1][[0, 7]] = 0.0  # a zero channel stays zero through the depthwise filter only without bias
    model.get_layer("dw").set_weights(dw)
    pruned = structured.prune_filters(model, {"conv1": 0.25})
    assert pruned.get_layer("dw").depthwise_kernel.shape == (3, 3, 6, 1)
    x = X_IMAGES[:4, :12, :12]
    np.testing.assert_allclose(_predict(pruned, x), _predict(model, x), atol=1e-5)


def test_prune_filters_never_mutates_its_input():
    model = _random_weights(models.small_cnn((8, 12)))
    before = [w.copy() for w in model.get_weights()]
    structured.prune_filters(model, 0.5)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert model.get_layer("conv1").filters == 8


def test_a_dict_prunes_only_the_named_layers():
    pruned = structured.prune_filters(models.seed_cnn(), {"conv2": 0.5})
    assert [pruned.get_layer(n).kernel.shape[-1] for n in ("conv1", "conv2", "conv3", "dense1")] == [
        32, 32, 64, 64]


@pytest.mark.parametrize("ratio, error, match", [
    (1.0, ValueError, r"ratio must be in \[0, 1\) \(the fraction of filters to remove\), got 1.0"),
    (-0.1, ValueError, r"ratio must be in \[0, 1\)"),
    (True, TypeError, "ratio must be a number"),
    ("half", TypeError, "ratio must be a number"),
    ({"conv9": 0.5}, ValueError, r"unknown layer name\(s\) \['conv9'\]"),
    ({"conv1": 1.5}, ValueError, r"ratio\['conv1'\] must be in"),
])
def test_bad_ratios_are_rejected(ratio, error, match):
    with pytest.raises(error, match=match):
        structured.prune_filters(models.seed_cnn(), ratio)


def test_the_classifier_is_never_pruned():
    with pytest.raises(ValueError, match="'output' is the classifier"):
        structured.prune_filters(models.seed_cnn(), {"output": 0.5})


def test_a_ratio_that_empties_a_layer_names_it():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(2, name="tiny"), layers.Dense(3)])
    with pytest.raises(ValueError, match="all 2 filters of 'tiny'"):
        structured.prune_filters(model, 0.8)


def test_residual_add_is_rejected_by_name():
    inputs = keras.Input((8, 8, 4))
    x = layers.Conv2D(4, 3, padding="same", name="conv1")(inputs)
    x = layers.Add(name="skip")([x, inputs])
    outputs = layers.Dense(2, name="output")(layers.Flatten()(x))
    with pytest.raises(ValueError, match="'skip'"):
        structured.prune_filters(keras.Model(inputs, outputs), 0.5)


def test_unsupported_layer_is_rejected_by_name():
    with pytest.raises(ValueError, match="'lstm'.*LSTM"):
        structured.prune_filters(models.lstm_classifier(), 0.5)


def test_subclassed_models_are_rejected():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__(name="custom")
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    model = Subclassed()
    model(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="'custom' is a subclassed model"):
        structured.prune_filters(model, 0.5)


def test_non_models_are_rejected():
    with pytest.raises(TypeError, match="tf_keras model"):
        structured.prune_filters("seed_cnn", 0.5)


# --- attention heads ---------------------------------------------------------------------------

X_SEQ = RNG.random((8, 24, 11), dtype=np.float32)


def _attention_variable(layer, path):
    """A weight of a MultiHeadAttention layer by its public name, e.g. ``"query/kernel"``."""
    (variable,) = [w for w in layer.weights if w.name.endswith(f"/{path}:0")]
    return variable


def _zero_head_outputs(model, heads, layer="attention"):
    output_kernel = _attention_variable(model.get_layer(layer), "attention_output/kernel")
    kernel = output_kernel.numpy()   # (heads, value_dim, d_model)
    kernel[heads] = 0.0
    output_kernel.assign(kernel)
    return model


def test_removing_heads_with_zero_output_keeps_predictions():
    utils.set_seed(0)
    model = _zero_head_outputs(models.tiny_transformer(num_heads=4, key_dim=8), [0, 2])
    pruned = structured.prune_attention_heads(model, {"attention": [0, 2]})
    assert pruned.get_layer("attention").get_config()["num_heads"] == 2
    np.testing.assert_allclose(_predict(pruned, X_SEQ), _predict(model, X_SEQ), atol=1e-5)


def test_removing_a_live_head_changes_predictions_and_params_follow_the_formula():
    utils.set_seed(0)
    d_model, key_dim = 32, 8
    model = models.tiny_transformer(d_model=d_model, num_heads=4, key_dim=key_dim)
    pruned = structured.prune_attention_heads(model, [1])  # a list is fine with one attention layer
    per_head = 3 * (d_model * key_dim + key_dim) + key_dim * d_model  # q, k, v (+ biases), output
    assert model.count_params() - pruned.count_params() == per_head
    assert np.abs(_predict(pruned, X_SEQ) - _predict(model, X_SEQ)).max() > 1e-4
    kept = [0, 2, 3]
    query = [_attention_variable(m.get_layer("attention"), "query/kernel").numpy() for m in (pruned, model)]
    np.testing.assert_array_equal(query[0], query[1][:, kept])   # (d_model, heads, key_dim)
    assert model.get_layer("attention").get_config()["num_heads"] == 4  # the input is not modified


@pytest.mark.parametrize("heads, error, match", [
    ({"attention": [0, 1, 2, 3]}, ValueError, "at least one head"),
    ({"attention": [4]}, ValueError, r"head index of 'attention' must be an int in \[0, 3\], got 4"),
    ({"attention": [1, 1]}, ValueError, "distinct"),
    ({"ff1": [0]}, ValueError, "not a MultiHeadAttention"),
    ({"attention": [0.5]}, TypeError, "must be an int"),
    ({"attention": [True]}, TypeError, "must be an int"),
])
def test_bad_heads_are_rejected(heads, error, match):
    with pytest.raises(error, match=match):
        structured.prune_attention_heads(models.tiny_transformer(), heads)


def test_head_pruning_needs_an_attention_layer():
    with pytest.raises(ValueError, match="no MultiHeadAttention"):
        structured.prune_attention_heads(models.seed_cnn(), [0])


# --- N:M sparsity ------------------------------------------------------------------------------

def test_is_n_by_m_on_hand_made_kernels():
    good = np.array([[1, 0, 2, 0], [0, 3, 0, 4]], np.float32).T  # Dense (c_in=4, c_out=2)
    assert structured.is_n_by_m(good, 2, 4)
    bad = good.copy()
    bad[1, 0] = 5.0  # three non-zeros among the 4 inputs of output 0
    assert not structured.is_n_by_m(bad, 2, 4)
    conv = np.zeros((3, 3, 8, 2), np.float32)
    conv[:, :, ::2] = 1.0  # inputs 0, 2, 4, 6: two of every four
    assert structured.is_n_by_m(conv, 2, 4) and not structured.is_n_by_m(conv, 1, 4)
    with pytest.raises(ValueError, match="multiple of m=4"):
        structured.is_n_by_m(np.ones((3, 2)), 2, 4)
    with pytest.raises(ValueError, match="n < m"):
        structured.is_n_by_m(good, 4, 4)
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        structured.is_n_by_m(good, 0, 4)
    with pytest.raises(TypeError, match="m must be a positive int"):
        structured.is_n_by_m(good, 2, 4.0)
    with pytest.raises(TypeError, match="n must be a positive int"):
        structured.check_n_by_m(models.seed_cnn(), n=True)


def test_n_by_m_with_tfmot_gives_exactly_two_of_four(digits):
    utils.set_seed(0)
    model = models.seed_cnn()
    assert structured.n_by_m_layers(model) == ["conv2", "conv3", "dense1", "output"]  # conv1 has 1 input
    wrapped = structured.n_by_m(model, 2, 4)
    training.train(wrapped, digits, epochs=1, callbacks=pruning.pruning_callbacks())
    sparse = pruning.strip(wrapped)
    assert structured.check_n_by_m(sparse) == {name: True for name in ("conv2", "conv3", "dense1", "output")}
    report = pruning.sparsity_report(sparse).set_index("layer")
    assert report.loc["conv1", "sparsity"] == 0.0
    assert report.loc["conv2", "sparsity"] == pytest.approx(0.5, abs=1e-3)
    assert np.count_nonzero(model.get_layer("conv2").kernel.numpy() == 0) == 0  # the input is untouched
    for name in ("conv2", "dense1"):  # our checker agrees with tfmot's own
        kernel = sparse.get_layer(name).kernel
        assert bool(pruning_utils.is_pruned_m_by_n(kernel, (2, 4))) == structured.is_n_by_m(kernel.numpy())


def test_wrapped_models_must_be_stripped_first():
    wrapped = pruning.prune_low_magnitude(models.seed_cnn(), final_sparsity=0.5, begin_step=0, end_step=10)
    with pytest.raises(ValueError, match="strip"):
        structured.prune_filters(wrapped, 0.5)


def test_n_by_m_fails_clearly_without_eligible_layers():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="multiple of 4"):
        structured.n_by_m(model)


# --- tfmot on a recurrent layer ---------------------------------------------------------------

def test_tfmot_prunes_the_lstm_kernels():
    """tfmot's registry knows LSTM: kernel and recurrent kernel are pruned, the bias is not."""
    utils.set_seed(0)
    seqs = data.load_dataset("sequences", n=400, length=8)
    model = models.lstm_classifier(seqs.input_shape, seqs.num_classes, units=8)
    sparse = pruning.gradual_prune(model, seqs, final_sparsity=0.5, epochs=2, batch_size=64)
    cell = sparse.get_layer("lstm").cell
    assert np.mean(cell.kernel.numpy() == 0) == pytest.approx(0.5, abs=0.01)
    assert np.mean(cell.recurrent_kernel.numpy() == 0) == pytest.approx(0.5, abs=0.01)
    assert np.count_nonzero(cell.bias.numpy() == 0) < cell.bias.shape[0]


# --- remove_filters and slim: the surgery one layer pair at a time ----------------------------

def test_remove_filters_slices_conv_bias_bn_and_the_next_conv():
    rng = np.random.default_rng(0)
    kernel, bias, nxt = rng.normal(size=(3, 3, 2, 5)), rng.normal(size=5), rng.normal(size=(3, 3, 5, 4))
    bn = [rng.normal(size=5) for _ in range(4)]
    new_kernel, new_bias, new_next, new_bn = structured.remove_filters(kernel, bias, nxt, [3, 1], bn=bn)
    keep = [0, 2, 4]
    np.testing.assert_array_equal(new_kernel, kernel[..., keep])
    np.testing.assert_array_equal(new_bias, bias[keep])
    np.testing.assert_array_equal(new_next, nxt[:, :, keep])
    assert all(np.array_equal(a, w[keep]) for a, w in zip(new_bn, bn))
    assert structured.remove_filters(kernel, None, nxt, [1])[1] is None
    assert structured.remove_filters(kernel, bias, nxt, [1])[3] is None


def test_remove_filters_follows_a_channels_last_flatten():
    rng = np.random.default_rng(1)
    kernel, nxt = rng.normal(size=(3, 3, 2, 5)), rng.normal(size=(4 * 5, 3))
    _, _, new_next, _ = structured.remove_filters(kernel, np.zeros(5), nxt, [1, 3])
    np.testing.assert_array_equal(new_next, nxt.reshape(4, 5, 3)[:, [0, 2, 4]].reshape(12, 3))


def test_remove_filters_rejects_bad_indices_and_shapes():
    kernel = np.ones((3, 3, 2, 5))
    with pytest.raises(ValueError, match="distinct filter indices"):
        structured.remove_filters(kernel, np.ones(5), np.ones((3, 3, 5, 4)), [1, 1])
    with pytest.raises(ValueError, match="does not take the 5 channels"):
        structured.remove_filters(kernel, np.ones(5), np.ones((7, 4)), [1])


@pytest.mark.parametrize("ratio", [0.25, 0.5, {"conv3": 0.5}])
def test_slim_equals_prune_filters(trained_cnn, ratio):
    x = np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32)
    reference, slimmed = structured.prune_filters(trained_cnn, ratio), structured.slim(trained_cnn, ratio)
    assert [w.shape for w in slimmed.get_weights()] == [w.shape for w in reference.get_weights()]
    np.testing.assert_allclose(slimmed(x).numpy(), reference(x).numpy(), atol=1e-6)


def test_slim_handles_batchnorm_and_random_choice():
    utils.set_seed(0)
    layers = utils.keras.layers
    model = utils.keras.Sequential([
        utils.keras.Input((8, 8, 1)), layers.Conv2D(6, 3, name="c1"), layers.BatchNormalization(name="bn"),
        layers.ReLU(), layers.Conv2D(4, 3, name="c2"), layers.Flatten(), layers.Dense(3, name="out")])
    x = np.random.default_rng(0).random((4, 8, 8, 1), dtype=np.float32)
    bn = model.get_layer("bn")
    bn.set_weights([w + np.arange(6) for w in bn.get_weights()])
    np.testing.assert_allclose(structured.slim(model, 0.5)(x).numpy(),
                               structured.prune_filters(model, 0.5)(x).numpy(), atol=1e-5)
    first = structured.slim(model, 0.5, criterion="random", seed=1)
    assert first.get_layer("c1").filters == 3 and first.get_layer("bn").gamma.shape == (3,)
    again = structured.slim(model, 0.5, criterion="random", seed=1)
    np.testing.assert_array_equal(first.get_layer("c1").kernel.numpy(), again.get_layer("c1").kernel.numpy())


def test_slim_builds_what_remove_returns(trained_cnn):
    def wrong_width(kernel, bias, next_kernel, drop, bn=None):
        return kernel, bias, next_kernel, bn  # removes nothing: the widths stay

    kept = structured.slim(trained_cnn, {"conv1": 0.5}, remove=wrong_width)
    assert kept.get_layer("conv1").filters == 32


def test_filter_l1_norms_of_a_dense_kernel():
    np.testing.assert_allclose(structured.filter_l1_norms(np.array([[1.0, -2.0], [-3.0, 0.5]])), [4.0, 2.5])
