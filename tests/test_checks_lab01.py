"""Lab 01's self-checks catch plausible wrong answers, and every verdict condition can fail."""

import numpy as np

from utils import checks, pruning, training
from utils.checks import lab01


def _out(capsys):
    return capsys.readouterr().out


def test_1_2_rejects_a_random_mask_with_the_right_number_of_zeros(trained_mlp, capsys):
    def random_mask(model, sparsity):
        copy, rng = pruning.copy_model(model), np.random.default_rng(0)
        for layer in pruning.prunable_layers(copy):
            kernel = layer.kernel.numpy()
            keep = np.ones(kernel.size, bool)
            keep[rng.permutation(kernel.size)[:round(sparsity * kernel.size)]] = False
            layer.kernel.assign(kernel * keep.reshape(kernel.shape))
        return copy

    checks.exercise_1_2(random_mask, trained_mlp)
    out = _out(capsys)
    assert "kernel sparsity 80.0%" in out and "The right number of zeros is not enough" in out


def test_1_3_passes_the_reference(trained_mlp, digits, capsys):
    checks.exercise_1_3(pruning.fine_tune, trained_mlp, digits)
    out = _out(capsys)
    assert "✘" not in out and "all checks passed" in out


def _masks(model):
    return [(layer, layer.kernel.numpy() != 0) for layer in pruning.prunable_layers(model)]


def test_1_3_catches_masks_applied_only_at_the_end(trained_mlp, digits, capsys):
    def at_the_end(model, data, *, epochs, batch_size=32, learning_rate=1e-3, augment_shift=0, callbacks=()):
        tuned = pruning.copy_model(model)
        masks = _masks(tuned)
        training.train(tuned, data, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                       callbacks=callbacks)
        for layer, mask in masks:
            layer.kernel.assign(layer.kernel * mask)
        return tuned

    checks.exercise_1_3(at_the_end, trained_mlp, digits)
    assert "re-apply the masks after EACH step" in _out(capsys)


def test_1_3_catches_plain_training_and_ignored_callbacks(trained_mlp, digits, capsys):
    def plain(model, data, *, epochs, batch_size=32, learning_rate=1e-3, augment_shift=0, callbacks=()):
        tuned = pruning.copy_model(model)
        training.train(tuned, data, epochs=epochs, batch_size=batch_size, callbacks=callbacks)
        return tuned

    checks.exercise_1_3(plain, trained_mlp, digits)
    assert "the optimiser revives them" in _out(capsys)

    def no_callbacks(model, data, *, epochs, batch_size=32, learning_rate=1e-3, augment_shift=0,
                     callbacks=()):
        return pruning.fine_tune(model, data, epochs=epochs, batch_size=batch_size)

    checks.exercise_1_3(no_callbacks, trained_mlp, digits)
    assert "the callback passed in saw 0 training steps" in _out(capsys)


def test_1_3_catches_training_the_input_in_place(trained_mlp, digits, capsys):
    def in_place(model, data, *, epochs, batch_size=32, learning_rate=1e-3, augment_shift=0, callbacks=()):
        training.train(model, data, epochs=epochs, batch_size=batch_size, callbacks=callbacks)
        return model

    checks.exercise_1_3(in_place, trained_mlp, digits)  # the check prunes its own copy first
    assert "returned the input model itself" in _out(capsys)


def test_accuracy_at_least():
    assert lab01.accuracy_at_least(0.975, 0.97)
    assert not lab01.accuracy_at_least(0.96, 0.97)


def test_kernels_at_target():
    assert lab01.kernels_at_target([0.8, 0.801, 0.7995], 0.8)
    assert not lab01.kernels_at_target([0.8, 0.79], 0.8)
    assert not lab01.kernels_at_target([], 0.8)


def test_mean_drop_at_most():
    assert lab01.mean_drop_at_most(0.98, [0.97, 0.975, 0.965], 0.02)
    assert not lab01.mean_drop_at_most(0.98, [0.95, 0.96, 0.955], 0.02)


def test_beats_beyond_noise():
    assert lab01.beats_beyond_noise([0.95, 0.96, 0.94], [0.13, 0.13, 0.13], margin=0.2)
    assert not lab01.beats_beyond_noise([0.95, 0.96, 0.94], [0.13, 0.13, 0.13], margin=0.9)
    assert not lab01.beats_beyond_noise([0.95, 0.90, 0.97], [0.94, 0.95, 0.93])
    assert not lab01.beats_beyond_noise([0.95, 0.96], [0.90, 0.91])  # two seeds are not enough


def test_fraction_at_most():
    assert lab01.fraction_at_most(100, 337, 1 / 3)
    assert not lab01.fraction_at_most(120, 337, 1 / 3)


def test_all_lists_only_the_exercises():
    assert lab01.__all__ == ["exercise_1_1", "exercise_1_2", "exercise_1_3", "exercise_1_4"]


def test_drop_within_and_near_dense_and_sparse():
    assert lab01.drop_within(0.983, [0.981, 0.978, 0.983], 0.01)
    assert not lab01.drop_within(0.983, [0.97, 0.965, 0.968], 0.01)          # 1.5 pt below dense
    assert not lab01.drop_within(0.983, [0.99, 0.95, 0.99], 0.01)            # mean ok, but the s.e. is large
    assert not lab01.drop_within(0.983, [0.98, 0.98], 0.01)                  # two seeds are not enough
    assert lab01.near_dense_and_sparse(0.983, [0.981, 0.978, 0.983], True, 0.01)
    assert not lab01.near_dense_and_sparse(0.983, [0.981, 0.978, 0.983], False, 0.01)   # zeros revived
    assert not lab01.near_dense_and_sparse(0.983, [0.16, 0.16, 0.16], True, 0.01)       # no fine-tuning
