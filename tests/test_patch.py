"""Tests for utils.patch: sticker masks, pasting, universal and per-image sticker attacks."""

import numpy as np
import pytest

from utils import metrics, patch


@pytest.fixture(scope="module")
def batch(digits):
    return digits.x_test[:64], digits.y_test[:64]


@pytest.fixture(scope="module")
def mask():
    # two strips over the middle of a 28×28 digit, where the strokes are
    return patch.sticker_mask((28, 28), boxes=((0.3, 0.25, 0.12, 0.5), (0.6, 0.25, 0.12, 0.5)))


# ------------------------------------------------------------------ masks and pasting
def test_sticker_mask_covers_the_boxes():
    mask = patch.sticker_mask((20, 10, 3), boxes=((0.0, 0.0, 0.5, 0.5),))
    assert mask.shape == (20, 10, 1) and mask.dtype == np.float32
    assert set(np.unique(mask)) == {0.0, 1.0}
    assert mask[:10, :5].all() and not mask[10:].any() and not mask[:, 5:].any()
    default = patch.sticker_mask((32, 32))
    assert 0.06 < default.mean() < 0.08  # the default two strips cover about 7 % of the image


@pytest.mark.parametrize("boxes, message", [
    ((), "boxes is empty"),
    (((0.1, 0.1, 0.2),), "each box must be"),
    (((0.1, 0.1, 1.5, 0.2),), "each box must be"),
    (((0.5, 0.5, 0.001, 0.001),), "cover no pixel"),
])
def test_sticker_mask_rejects_bad_boxes(boxes, message):
    with pytest.raises(ValueError, match=message):
        patch.sticker_mask((28, 28), boxes=boxes)


def test_apply_patch_changes_only_the_masked_pixels(batch, mask):
    x, _ = batch
    sticker = np.full((28, 28, 1), 0.5, np.float32)
    pasted = patch.apply_patch(x, sticker, mask)
    inside = mask[..., 0] == 1
    np.testing.assert_array_equal(pasted[:, ~inside], x[:, ~inside])
    assert np.all(pasted[:, inside] == 0.5)
    per_image = np.random.default_rng(0).uniform(size=x.shape).astype(np.float32)
    pasted = patch.apply_patch(x, per_image, mask)
    np.testing.assert_array_equal(pasted[:, inside], per_image[:, inside])


def test_apply_patch_rejects_bad_input(batch, mask):
    x, _ = batch
    with pytest.raises(ValueError, match="patch must have shape"):
        patch.apply_patch(x, np.zeros((10, 10, 1)), mask)
    with pytest.raises(ValueError, match="printable"):
        patch.apply_patch(x, np.full((28, 28, 1), 2.0), mask)
    with pytest.raises(ValueError, match="mask must have shape"):
        patch.apply_patch(x, np.zeros((28, 28, 1)), mask[..., 0])
    with pytest.raises(ValueError, match="0 .untouched. and 1"):
        patch.apply_patch(x, np.zeros((28, 28, 1)), mask * 0.5)
    with pytest.raises(ValueError, match=r"pixel values must lie in \[0.0, 1.0\]"):
        patch.apply_patch(x * 255, np.zeros((28, 28, 1)), mask)


# ------------------------------------------------------------------ attacks
def test_universal_sticker_fools_the_model_far_more_than_a_random_one(trained_cnn, batch, mask):
    x, y = batch
    sticker = patch.universal_sticker(trained_cnn, x, y, mask, steps=15, step_size=0.1)
    assert sticker.shape == (28, 28, 1) and sticker.min() >= 0 and sticker.max() <= 1
    assert not sticker[mask == 0].any()  # nothing outside the mask
    random_sticker = np.random.default_rng(1).uniform(size=(28, 28, 1)).astype(np.float32)
    attacked = metrics.accuracy(trained_cnn, patch.apply_patch(x, sticker, mask), y)
    randomly = metrics.accuracy(trained_cnn, patch.apply_patch(x, random_sticker, mask), y)
    assert attacked < randomly - 0.2
    np.testing.assert_array_equal(sticker, patch.universal_sticker(trained_cnn, x, y, mask, steps=15,
                                                                   step_size=0.1))


def test_targeted_sticker_sends_images_to_the_target(trained_cnn, batch, mask):
    x, y = batch
    keep = y != 3
    sticker = patch.universal_sticker(trained_cnn, x[keep], y[keep], mask, steps=15, step_size=0.1, target=3)
    predicted = metrics.predict_classes(trained_cnn, patch.apply_patch(x[keep], sticker, mask))
    before = metrics.predict_classes(trained_cnn, x[keep])
    assert np.mean(predicted == 3) > np.mean(before == 3) + 0.3


def test_per_image_stickers_are_at_least_as_strong_as_one_for_all(trained_cnn, batch, mask):
    x, y = batch
    x_adv = patch.sticker_attack(trained_cnn, x, y, mask, steps=15, step_size=0.1)
    np.testing.assert_array_equal(x_adv[:, mask[..., 0] == 0], x[:, mask[..., 0] == 0])
    sticker = patch.universal_sticker(trained_cnn, x, y, mask, steps=15, step_size=0.1)
    universal = metrics.accuracy(trained_cnn, patch.apply_patch(x, sticker, mask), y)
    assert metrics.accuracy(trained_cnn, x_adv, y) <= universal + 0.02


@pytest.mark.parametrize("kwargs, error, message", [
    ({"steps": 0}, ValueError, "steps must be a positive int"),
    ({"steps": 2.0}, TypeError, "steps must be a positive int"),
    ({"steps": True}, TypeError, "steps must be a positive int"),
    ({"step_size": 0}, ValueError, "step_size"),
    ({"step_size": 2}, ValueError, "step_size"),
    ({"step_size": "0.1"}, TypeError, "step_size"),
    ({"target": 10}, ValueError, r"target \(None for untargeted.* must be an int in \[0, 9\]"),
    ({"target": 1.0}, TypeError, "target"),
    ({"from_logits": "no"}, TypeError, "from_logits"),
])
def test_attack_arguments_are_checked(trained_cnn, batch, mask, kwargs, error, message):
    x, y = batch
    with pytest.raises(error, match=message):
        patch.universal_sticker(trained_cnn, x, y, mask, **kwargs)


def test_attacks_check_model_and_labels(trained_cnn, batch, mask):
    x, y = batch
    with pytest.raises(TypeError, match="tf_keras model"):
        patch.sticker_attack(lambda z: z, x, y, mask)
    with pytest.raises(ValueError, match="one label per example"):
        patch.sticker_attack(trained_cnn, x, y[:3], mask)
    with pytest.raises(TypeError, match="integer"):
        patch.universal_sticker(trained_cnn, x, y.astype(float), mask)
    with pytest.raises(TypeError, match="float pixel values"):
        patch.sticker_attack(trained_cnn, (x * 255).astype(np.uint8), y, mask)


# ------------------------------------------------------------------ one optimiser step (Lab 09's exercise)
def test_sticker_step_moves_only_masked_pixels_by_the_step(trained_cnn, batch, mask):
    x, y = batch
    start = (np.full(x.shape[1:], 0.5, np.float32) * mask).astype(np.float32)
    new = patch.sticker_step(trained_cnn, x, y, start, mask, 0.1)
    assert new.shape == start.shape and new.min() >= 0 and new.max() <= 1
    assert np.array_equal(new[mask[..., 0] == 0], start[mask[..., 0] == 0])
    moved = np.abs(new - start)[mask[..., 0] == 1]
    assert np.allclose(moved[moved > 0], 0.1, atol=1e-6) and (moved > 0).mean() > 0.5
    with pytest.raises(ValueError, match="shape of one image"):
        patch.sticker_step(trained_cnn, x, y, start[:5], mask, 0.1)


def test_universal_sticker_with_a_step_function_equals_the_default(trained_cnn, batch, mask):
    x, y = batch
    default = patch.universal_sticker(trained_cnn, x, y, mask, steps=3)
    mine = patch.universal_sticker(trained_cnn, x, y, mask, steps=3,
                                   step=lambda m, xs, ys, s, k, a: patch.sticker_step(m, xs, ys, s, k, a))
    assert np.allclose(default, mine)
    with pytest.raises(ValueError, match="untargeted"):
        patch.universal_sticker(trained_cnn, x, y, mask, steps=1, target=1, step=patch.sticker_step)
