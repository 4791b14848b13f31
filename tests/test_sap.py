"""utils.sap: stochastic activation pruning (Dhillon et al., ICLR 2018), the layer and the model."""

import numpy as np
import pytest

import utils
from utils import adversarial, keras, metrics, sap


# ------------------------------------------------------------------ stochastic activation pruning
@pytest.mark.parametrize("exact", [False, True])
def test_sap_is_unbiased_and_random(exact):
    layer = sap.StochasticActivationPruning(fraction=0.5, exact=exact)
    h = np.array([[0.0, 0.1, 0.5, 1.0, 2.0, 0.0, 0.3, 4.0]], dtype=np.float32)
    utils.set_seed(0)
    draws = np.stack([layer(np.repeat(h, 500, axis=0)).numpy() for _ in range(4)]).reshape(-1, 8)
    assert np.all(draws[:, h[0] == 0] == 0)                   # zeros are never revived
    kept = draws != 0
    assert 0 < kept.mean() < 1 and not np.all(kept == kept[0])   # random, and really prunes
    np.testing.assert_allclose(draws.mean(axis=0), h[0], rtol=0.08, atol=0.02)   # E[output] = h
    p = h[0] / h[0].sum()
    expected_keep = 1 - (1 - p) ** 4                           # r = 0.5 · 8 = 4 draws
    np.testing.assert_allclose(kept.mean(axis=0), expected_keep, atol=0.03)
    np.testing.assert_allclose(sap.sap_keep_probability(p, 4.0).numpy(), expected_keep, rtol=1e-5)


@pytest.mark.parametrize("exact", [False, True])
def test_sap_edge_cases(exact):
    layer = sap.StochasticActivationPruning(fraction=1.0, exact=exact)
    zeros = np.zeros((2, 3, 3, 2), dtype=np.float32)
    out = layer(zeros).numpy()
    assert out.shape == zeros.shape and np.all(out == 0) and np.all(np.isfinite(out))
    x = (0.5 + 0.5 * np.random.default_rng(0).random((4, 5, 5, 3))).astype(np.float32)
    np.testing.assert_array_equal(layer(x, training=True).numpy(), x)   # a test-time defence
    many = sap.StochasticActivationPruning(fraction=50.0, exact=exact)(x).numpy()  # many draws: keep ~all
    assert np.mean(many != 0) > 0.99
    assert 0 < sap.expected_keep_fraction(x.reshape(4, -1), 1.0) < 1
    for bad, error in ((0, ValueError), (-1.0, ValueError), ("1", TypeError), (True, TypeError)):
        with pytest.raises(error, match="fraction"):
            sap.StochasticActivationPruning(fraction=bad)


def test_stochastic_activation_pruning_model(trained_cnn, digits):
    protected = sap.stochastic_activation_pruning(trained_cnn, fraction=2.0)
    names = [layer.name for layer in protected.layers]
    assert names.count("sap_conv1") == 1 and "sap_dense1" in names and "sap_output" not in names
    assert names.index("sap_conv2") == names.index("conv2") + 1
    x, y = digits.x_test[:200], digits.y_test[:200]
    a, b = protected(x).numpy(), protected(x).numpy()
    assert not np.allclose(a, b)                                  # stochastic
    # it is a copy: the original is untouched and deterministic
    np.testing.assert_array_equal(trained_cnn(x).numpy(), trained_cnn(x).numpy())
    clean = metrics.accuracy(trained_cnn, x, y)
    # unbiased pruning with many draws costs little clean accuracy (expected over 5 random passes)
    assert adversarial.robust_accuracy(protected, x, y, "fgsm", 0.0, eval_samples=5) > clean - 0.1
    only = sap.stochastic_activation_pruning(trained_cnn, after=["dense1"], exact=True)
    assert [layer.name for layer in only.layers if layer.name.startswith("sap")] == ["sap_dense1"]
    assert only.get_layer("sap_dense1").get_config()["exact"] is True


def test_stochastic_activation_pruning_bad_input(trained_cnn):
    with pytest.raises(ValueError, match="no layer"):
        sap.stochastic_activation_pruning(trained_cnn, after=["conv7"])
    inputs = keras.Input((4,))
    functional = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    with pytest.raises(ValueError, match="Sequential"):
        sap.stochastic_activation_pruning(functional)
    with pytest.raises(TypeError):
        sap.stochastic_activation_pruning("model")
