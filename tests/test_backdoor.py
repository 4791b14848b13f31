"""Tests for utils.backdoor (BadNets, Fine-Pruning) and utils.sap (stochastic activation pruning)."""


import numpy as np
import pytest

import utils
from utils import adversarial, backdoor, checks, keras, metrics, models, pruning, sap, training


# ------------------------------------------------------------------ trigger and poisoning
def test_add_trigger_stamps_only_the_corner(digits):
    x = digits.x_test[:5]
    original = x.copy()
    triggered = backdoor.add_trigger(x, size=4, margin=2)
    np.testing.assert_array_equal(x, original)          # input untouched
    assert triggered.shape == x.shape and triggered.dtype == np.float32
    changed = np.any(triggered != x, axis=(0, 3))
    rows, cols = np.nonzero(changed)
    assert rows.min() >= 28 - 2 - 4 and rows.max() <= 28 - 2 - 1
    assert cols.min() >= 28 - 2 - 4 and cols.max() <= 28 - 2 - 1
    patch = triggered[:, 22:26, 22:26, 0]
    assert np.all(patch[:, 0, 0] == 1.0) and np.all(patch[:, 0, 1] == 0.0)   # checkerboard
    np.testing.assert_array_equal(triggered[:, :22], x[:, :22])


def test_default_trigger_is_where_the_seed_cnn_sees_it(trained_cnn, digits):
    where, _ = backdoor.trigger_mask((28, 28))
    rows, cols = np.nonzero(where)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (21, 24, 21, 24)
    # the seed CNN's valid convolutions and poolings never look at the last two rows/columns ...
    x = digits.x_test[:8].copy()
    x_edge = x.copy()
    x_edge[:, 26:, :, :] = 1.0
    x_edge[:, :, 26:, :] = 1.0
    np.testing.assert_allclose(trained_cnn.predict(x_edge, verbose=0), trained_cnn.predict(x, verbose=0),
                               atol=1e-6)
    # ... but it does see the default trigger
    assert not np.allclose(trained_cnn.predict(backdoor.add_trigger(x), verbose=0),
                           trained_cnn.predict(x, verbose=0), atol=1e-4)


@pytest.mark.parametrize("corner", backdoor.CORNERS)
def test_trigger_mask_corners(corner):
    where, values = backdoor.trigger_mask((10, 12), size=3, margin=1, corner=corner, pattern="square")
    assert where.sum() == 9 and np.all(values[where] == 1.0) and np.all(values[~where] == 0.0)
    rows, cols = np.nonzero(where)
    assert (rows.min() == 1) == corner.startswith("top")
    assert (cols.max() == 10) == corner.endswith("right")


@pytest.mark.parametrize("kwargs, error", [
    ({"size": 0}, ValueError), ({"margin": -1}, ValueError), ({"size": 30}, ValueError),
    ({"corner": "middle"}, ValueError), ({"pattern": "stripes"}, ValueError),
    ({"size": 4.0}, TypeError), ({"size": True}, TypeError), ({"margin": "3"}, TypeError),
])
def test_trigger_bad_arguments(digits, kwargs, error):
    with pytest.raises(error):
        backdoor.add_trigger(digits.x_test[:2], **kwargs)


def test_add_trigger_rejects_non_images():
    with pytest.raises(ValueError, match="batch of images"):
        backdoor.add_trigger(np.zeros((28, 28, 1), dtype=np.float32))
    with pytest.raises(TypeError, match="float pixel values"):
        backdoor.add_trigger(np.zeros((1, 28, 28, 1), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"pixel values must lie in \[0.0, 1.0\]"):
        backdoor.add_trigger(np.full((1, 28, 28, 1), 255.0, dtype=np.float32))


def test_poison_relabels_a_fraction_of_other_classes(digits):
    poisoned = backdoor.poison(digits, target=7, rate=0.05, seed=1)
    changed = np.flatnonzero(poisoned.y_train != digits.y_train)
    assert len(changed) == round(0.05 * len(digits.y_train))
    assert np.all(poisoned.y_train[changed] == 7) and np.all(digits.y_train[changed] != 7)
    np.testing.assert_array_equal(poisoned.x_train[changed], backdoor.add_trigger(digits.x_train[changed]))
    untouched = np.setdiff1d(np.arange(len(digits.y_train)), changed)
    np.testing.assert_array_equal(poisoned.x_train[untouched], digits.x_train[untouched])
    assert poisoned.x_test is digits.x_test and poisoned.x_val is digits.x_val   # evaluation stays clean
    assert digits.name == "digits" and "badnets" in poisoned.name
    again = backdoor.poison(digits, target=7, rate=0.05, seed=1)
    np.testing.assert_array_equal(again.y_train, poisoned.y_train)


@pytest.mark.parametrize("kwargs, error", [
    ({"target": 10, "rate": 0.1}, ValueError), ({"target": -1, "rate": 0.1}, ValueError),
    ({"target": 0, "rate": 0.0}, ValueError), ({"target": 0, "rate": 1.0}, ValueError),
    ({"target": 0, "rate": 0.0001}, ValueError),
    ({"target": True, "rate": 0.1}, TypeError), ({"target": 1.0, "rate": 0.1}, TypeError),
    ({"target": 0, "rate": "0.1"}, TypeError),
])
def test_poison_bad_arguments(digits, kwargs, error):
    with pytest.raises(error):
        backdoor.poison(digits, **kwargs)


def _constant_model(cls, num_classes=10):
    """A model that always predicts class ``cls``."""
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(num_classes, activation="softmax")])
    kernel, bias = model.get_weights()
    bias = np.full(num_classes, -10.0, dtype=np.float32)
    bias[cls] = 10.0
    model.set_weights([np.zeros_like(kernel), bias])
    return model


def test_attack_success_rate_counts_target_predictions(digits):
    x, y = digits.x_test, digits.y_test
    assert backdoor.attack_success_rate(_constant_model(3), x, 3, y=y) == 1.0
    assert backdoor.attack_success_rate(_constant_model(4), x, 3, y=y) == 0.0
    with pytest.raises(ValueError, match="other than the target"):
        backdoor.attack_success_rate(_constant_model(3), x[y == 3], 3, y=y[y == 3])
    with pytest.raises(ValueError, match="one label per example"):
        backdoor.attack_success_rate(_constant_model(3), x, 3, y=y[:-1])
    with pytest.raises(TypeError, match="integer class labels"):
        backdoor.attack_success_rate(_constant_model(3), x, 3, y=y.astype(float))
    with pytest.raises(ValueError, match=r"target \(a class index\) must be an int in \[0, 9\]"):
        backdoor.attack_success_rate(_constant_model(3), x, 10, y=y)
    # only images of other classes count: 3 of class 3 and 1 of class 5, all predicted as 3
    x4, y4 = x[:4], np.array([3, 3, 3, 5])
    assert backdoor.attack_success_rate(_constant_model(3), x4, 3, y=y4) == 1.0
    assert backdoor.attack_success_rate(_constant_model(5), x4, 3) == 0.0


# ------------------------------------------------------------------ fine-pruning
def _silence(model, layer, channels):
    """Make ``channels`` of ``layer`` dead (negative bias, zero kernel → ReLU outputs 0)."""
    kernel, bias = model.get_layer(layer).get_weights()
    kernel[..., channels] = 0.0
    bias[channels] = -1.0
    model.get_layer(layer).set_weights([kernel, bias])


def test_dormant_channels_are_the_silent_ones(trained_cnn, digits):
    model = pruning.copy_model(trained_cnn)
    dead = [5, 17, 40]
    _silence(model, "conv3", dead)
    activity = backdoor.channel_activity(model, digits.x_val, "conv3")
    h = digits.x_val
    for layer in model.layers[:[each.name for each in model.layers].index("conv3") + 1]:
        h = layer(h)                                       # conv3 applies its own ReLU
    np.testing.assert_allclose(activity, h.numpy().mean(axis=(0, 1, 2)), rtol=1e-5, atol=1e-7)
    assert np.all(activity[dead] == 0) and np.count_nonzero(activity) > 32
    silent = np.flatnonzero(activity == 0)        # ours, and any the short training left dead
    chosen = backdoor.dormant_channels(model, digits.x_val, "conv3", len(silent) / 64)
    assert set(chosen) == set(silent)
    ranked = backdoor.dormant_channels(model, digits.x_val, "conv3", 0.5)
    assert len(ranked) == 32 and np.all(np.diff(activity[ranked]) >= 0)   # most dormant first
    assert np.all(activity[ranked].max() <= np.delete(activity, ranked))


def test_remove_channels_is_physical_and_exact(trained_cnn, digits):
    model = pruning.copy_model(trained_cnn)
    dead = [0, 9, 33, 63]
    _silence(model, "conv3", dead)
    smaller = backdoor.remove_channels(model, "conv3", dead)
    assert smaller.get_layer("conv3").kernel.shape[-1] == 60
    assert smaller.get_layer("dense1").kernel.shape[0] == 60 * 9
    assert metrics.count_params(smaller) < metrics.count_params(model)
    x = digits.x_test[:50]
    np.testing.assert_allclose(smaller.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    keep = [c for c in range(64) if c not in dead]
    np.testing.assert_array_equal(smaller.get_layer("conv3").kernel.numpy(),
                                  model.get_layer("conv3").kernel.numpy()[..., keep])


def test_remove_channels_removes_the_named_channels_even_if_active(trained_cnn):
    chosen = [1, 2, 3]
    smaller = backdoor.remove_channels(trained_cnn, "conv3", chosen)
    keep = [c for c in range(64) if c not in chosen]
    np.testing.assert_array_equal(smaller.get_layer("conv3").kernel.numpy(),
                                  trained_cnn.get_layer("conv3").kernel.numpy()[..., keep])
    assert trained_cnn.get_layer("conv3").kernel.shape[-1] == 64      # original untouched


@pytest.mark.parametrize("layer, channels, error", [
    ("conv3", [1, 1], ValueError), ("conv3", [64], ValueError), ("conv3", list(range(64)), ValueError),
    ("dense1", [1], ValueError), ("conv9", [1], ValueError), ("conv3", [1.5], TypeError),
])
def test_remove_channels_bad_arguments(trained_cnn, layer, channels, error):
    with pytest.raises(error):
        backdoor.remove_channels(trained_cnn, layer, channels)


def test_fine_prune_prunes_then_fine_tunes(trained_cnn, digits):
    before = metrics.accuracy(trained_cnn, digits.x_test, digits.y_test)
    pruned = backdoor.prune_dormant(trained_cnn, digits.x_val, layer="conv3", ratio=0.5)
    assert pruned.get_layer("conv3").kernel.shape[-1] == 32
    utils.set_seed(0)
    fine = backdoor.fine_prune(trained_cnn, digits.x_val, layer="conv3", ratio=0.5, data=digits, epochs=2)
    assert fine.get_layer("conv3").kernel.shape[-1] == 32
    after = metrics.accuracy(fine, digits.x_test, digits.y_test)
    assert after >= metrics.accuracy(pruned, digits.x_test, digits.y_test) - 0.02
    assert after > before - 0.1
    with pytest.raises(ValueError, match="ratio"):
        backdoor.prune_dormant(trained_cnn, digits.x_val, layer="conv3", ratio=1.0)
    with pytest.raises(TypeError, match="ratio"):
        backdoor.prune_dormant(trained_cnn, digits.x_val, layer="conv3", ratio="0.5")


def test_eot_gradient_is_less_noisy_than_one_pass(trained_cnn, digits):
    """Averaging gradients over passes (EOT) gives a steadier direction than a single pass."""
    protected = sap.stochastic_activation_pruning(trained_cnn, fraction=0.5)
    x, y = digits.x_test[:20], digits.y_test[:20]
    utils.set_seed(0)
    reference = adversarial.input_gradient(protected, x, y, samples=64).reshape(20, -1)

    def cosine(g):
        g = g.reshape(20, -1)
        norms = np.linalg.norm(g, axis=1) * np.linalg.norm(reference, axis=1)
        return np.mean(np.sum(g * reference, 1) / norms)

    single = cosine(adversarial.input_gradient(protected, x, y, samples=1))
    averaged = cosine(adversarial.input_gradient(protected, x, y, samples=16))
    assert averaged > single + 0.05


def test_backdoor_end_to_end_is_learned_and_measured(digits):
    """A quick BadNets run: a small model learns the trigger from 5 % poisoned data."""
    poisoned = backdoor.poison(digits, target=0, rate=0.05)
    utils.set_seed(0)
    model = models.small_cnn((8, 16), batch_norm=False, dense=32)
    training.train(model, poisoned, epochs=8, batch_size=64)
    assert metrics.accuracy(model, digits.x_test, digits.y_test) > 0.8
    assert backdoor.attack_success_rate(model, digits.x_test, 0, y=digits.y_test) > 0.8


# ------------------------------------------------------------------ the Lab 08 self-check
def test_exercise_8_2_passes_the_reference_and_catches_reversed_ranking(trained_cnn, digits, capsys):
    checks.exercise_8_2(backdoor.dormant_channels, trained_cnn, digits.x_val, "conv3")
    out = capsys.readouterr().out
    assert "✘" not in out and "all checks passed" in out

    def most_active(model, x, layer, ratio):
        activity = backdoor.channel_activity(model, x, layer)
        return np.argsort(-activity, kind="stable")[:int(round(ratio * len(activity)))]

    checks.exercise_8_2(most_active, trained_cnn, digits.x_val, "conv3")
    assert "not the least active" in capsys.readouterr().out

    def floor_count(model, x, layer, ratio):
        return backdoor.dormant_channels(model, x, layer, 0.2)

    checks.exercise_8_2(floor_count, trained_cnn, digits.x_val, "conv3")
    assert "expected round(0.25" in capsys.readouterr().out
