"""Tests for utils.interpretability: L2 penalty and surviving input connections."""

import numpy as np
import pytest

from utils import interpretability, keras
from utils.models import lenet_300_100, seed_cnn
from utils.pruning import copy_model


def test_input_connections_counts_surviving_weights_per_pixel():
    model = lenet_300_100()
    kernel = model.get_layer("dense1").kernel
    values = np.ones(kernel.shape, np.float32)
    values[0, :] = 0.0          # pixel (0, 0): no connection left
    values[29, :100] = 0.0      # pixel (1, 1): 200 of 300 left
    kernel.assign(values)
    counts = interpretability.input_connections(model)
    assert counts.shape == (28, 28, 1)
    assert counts[0, 0, 0] == 0
    assert counts[1, 1, 0] == 200
    assert counts[5, 5, 0] == 300
    assert counts.sum() == 784 * 300 - 300 - 100


def test_input_connections_rejects_wrong_layers():
    model = lenet_300_100()
    with pytest.raises(ValueError, match="not a Dense"):
        interpretability.input_connections(model, layer="flatten")
    with pytest.raises(ValueError, match="flattened input"):
        interpretability.input_connections(model, layer="dense2")
    with pytest.raises(ValueError, match="flattened input"):
        interpretability.input_connections(seed_cnn())  # its Dense layer reads conv features


def test_add_l2_penalty_adds_one_loss_per_kernel():
    model = interpretability.add_l2_penalty(lenet_300_100(), 1e-4)
    assert len(model.losses) == 3
    kernel = model.get_layer("dense1").kernel.numpy()
    expected = 1e-4 * float(np.sum(kernel.astype(np.float64) ** 2))
    assert float(model.losses[0]) == pytest.approx(expected, rel=1e-4)


def test_copy_does_not_carry_the_penalty():
    model = interpretability.add_l2_penalty(lenet_300_100(), 1e-4)
    assert len(copy_model(model).losses) == 0


@pytest.mark.parametrize("bad", [-1e-4, float("nan"), float("inf")])
def test_add_l2_penalty_rejects_bad_strength(bad):
    with pytest.raises(ValueError, match="l2 must be in"):
        interpretability.add_l2_penalty(lenet_300_100(), bad)


@pytest.mark.parametrize("bad", ["0.1", True, None])
def test_add_l2_penalty_rejects_a_strength_that_is_not_a_number(bad):
    with pytest.raises(TypeError, match="l2 must be a number"):
        interpretability.add_l2_penalty(lenet_300_100(), bad)


def test_add_l2_penalty_needs_a_prunable_layer():
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.ReLU()])
    with pytest.raises(ValueError, match="no Dense or Conv"):
        interpretability.add_l2_penalty(model, 1e-4)
