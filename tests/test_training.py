import dataclasses

import numpy as np
import pytest

import utils
from utils import data, models, pruning, training


def test_train_learns_digits(digits):
    utils.set_seed(0)
    model = models.mlp((32,))
    history = training.train(model, digits, epochs=3)
    assert model.loss == "sparse_categorical_crossentropy"
    assert history.history["val_accuracy"][-1] > 0.8


def test_train_with_shift_augmentation_runs(digits):
    utils.set_seed(0)
    model = models.mlp((16,))
    history = training.train(model, digits, epochs=1, augment_shift=2)
    assert len(history.history["loss"]) == 1


def test_random_shift_moves_but_keeps_the_digit(digits):
    utils.set_seed(0)
    image = digits.x_train[0]
    shifted = training.random_shift(image, 2).numpy()
    assert shifted.shape == image.shape
    # the digit sits inside a 4-pixel empty border, so a shift of ≤ 2 loses nothing
    assert np.isclose(shifted.sum(), image.sum(), rtol=1e-5)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"epochs": 0}, ValueError, "epochs"), ({"epochs": 1.5}, TypeError, "epochs"),
    ({"epochs": 1, "batch_size": 0}, ValueError, "batch_size"),
    ({"epochs": 1, "augment_shift": -1}, ValueError, "augment_shift"),
    ({"epochs": 1, "learning_rate": 0}, ValueError, "learning_rate"),
])
def test_bad_arguments_are_rejected(digits, kwargs, error, match):
    with pytest.raises(error, match=match):
        training.train(models.mlp((4,)), digits, **kwargs)


def test_augment_needs_images():
    flat = data.Dataset(*(np.zeros((10, 5), np.float32), np.zeros(10, np.int64)) * 3,
                        class_names=("a",), name="flat")
    with pytest.raises(ValueError, match="image data"):
        training.train(models.mlp((4,), input_shape=(5,), num_classes=1), flat, epochs=1,
                       augment_shift=1)


def test_steps_per_epoch_counts_the_partial_batch(digits):
    assert training.steps_per_epoch(digits, 64) == int(np.ceil(1257 / 64))


def test_train_together_trains_each_model_as_if_alone(digits):
    digits = dataclasses.replace(digits, x_train=digits.x_train[:128], y_train=digits.y_train[:128])
    def fresh(seed):
        utils.set_seed(seed)
        return models.seed_cnn(digits.input_shape, digits.num_classes)
    alone, first, second = fresh(0), fresh(0), fresh(1)
    before = [w.copy() for w in first.get_weights()]
    utils.set_seed(0)
    training.train_together([alone], digits, epochs=2, batch_size=32, seeds=[5])
    utils.set_seed(0)
    training.train_together([first, second], [digits, digits], epochs=2, batch_size=32, seeds=[5, 6])
    assert any(not np.allclose(a, b) for a, b in zip(before, first.get_weights()))   # trained in place
    for a, b in zip(alone.get_weights(), first.get_weights()):                      # unaffected by `second`
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_train_together_shifts_and_rejects_mismatched_inputs(digits):
    x = np.random.default_rng(0).random((5, 6, 6, 1)).astype("float32")
    shifted = training._shift_batch(utils.tf.constant(x), 2).numpy()
    assert shifted.shape == x.shape
    for image, moved in zip(x, shifted):       # each image is a translate of its original, zero-padded
        padded = np.pad(image, ((2, 2), (2, 2), (0, 0)))
        assert any(np.array_equal(padded[r:r + 6, c:c + 6], moved) for r in range(5) for c in range(5))
    model = models.seed_cnn(digits.input_shape, digits.num_classes)
    with pytest.raises(ValueError, match="one dataset and one seed per model"):
        training.train_together([model], [digits, digits], epochs=1)


def test_train_together_keeps_masked_weights_at_zero(digits):
    digits = dataclasses.replace(digits, x_train=digits.x_train[:128], y_train=digits.y_train[:128])
    utils.set_seed(0)
    sparse, dense = (models.mlp((16,), digits.input_shape, digits.num_classes) for _ in range(2))
    rng = np.random.default_rng(0)
    masks = {layer.name: rng.random(layer.kernel.shape) < 0.3 for layer in pruning.prunable_layers(sparse)}
    before = [w.copy() for w in sparse.get_weights()]
    training.train_together([sparse, dense], digits, epochs=2, batch_size=32, masks=[masks, None])
    for name, mask in masks.items():
        kernel = sparse.get_layer(name).kernel.numpy()
        assert np.all(kernel[~mask] == 0.0)                    # zeroed before training, kept at zero
        assert np.count_nonzero(kernel[mask]) == mask.sum()    # the kept weights still train
    assert any(not np.allclose(a, b) for a, b in zip(before, sparse.get_weights()))
    assert np.count_nonzero(dense.get_layer(next(iter(masks))).kernel.numpy() == 0.0) == 0   # unmasked model
    with pytest.raises(ValueError, match="one mask dict"):
        training.train_together([sparse, dense], digits, epochs=1, masks=[masks])
    with pytest.raises(ValueError, match="prunable layers"):
        training.train_together([sparse], digits, epochs=1, masks=[{"nope": masks[next(iter(masks))]}])

