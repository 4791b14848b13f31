"""Lab 02's self-checks pass the references, explain common mistakes, and every verdict can fail."""

import numpy as np

from utils import checks, metrics, structured
from utils.checks import lab02


def _out(capsys):
    return capsys.readouterr().out


def test_references_pass(trained_cnn, capsys):
    checks.exercise_2_1(metrics.macs, trained_cnn)
    checks.exercise_2_2(structured.filter_l1_norms, trained_cnn)
    checks.exercise_2_3(structured.remove_filters, trained_cnn)
    out = _out(capsys)
    assert "✘" not in out and out.count("all checks passed") == 3


def test_2_1_catches_one_mac_per_weight(trained_cnn, capsys):
    def per_weight(model):
        return sum(int(np.prod(layer.kernel.shape)) for layer in model.layers if hasattr(layer, "kernel"))

    checks.exercise_2_1(per_weight, trained_cnn)
    assert "once per OUTPUT POSITION" in _out(capsys)


def test_2_2_explains_common_mistakes(trained_cnn, capsys):
    checks.exercise_2_2(lambda k: np.abs(k).sum(axis=(0, 1, 3)), trained_cnn)
    assert "sum over every axis except the last" in _out(capsys)
    checks.exercise_2_2(lambda k: np.asarray(k).reshape(-1, k.shape[-1]).sum(axis=0), trained_cnn)
    assert "absolute values" in _out(capsys)


def test_2_3_catches_the_wrong_axis(trained_cnn, capsys):
    def wrong_axis(kernel, bias, next_kernel, drop, bn=None):
        return (np.delete(kernel, drop, axis=-1), np.delete(bias, drop), np.delete(next_kernel, drop, axis=3),
                bn)

    checks.exercise_2_3(wrong_axis, trained_cnn)
    assert "axis 2" in _out(capsys)


def test_2_3_catches_a_channels_first_flatten(trained_cnn, capsys):
    def channels_first(kernel, bias, next_kernel, drop, bn=None):
        new_kernel, new_bias, new_next, new_bn = structured.remove_filters(kernel, bias, next_kernel, drop,
                                                                           bn)
        next_kernel, channels = np.asarray(next_kernel), kernel.shape[-1]
        if next_kernel.ndim == 2 and next_kernel.shape[0] != channels:
            n_out = next_kernel.shape[1]
            new_next = np.delete(next_kernel.reshape(channels, -1, n_out), drop, axis=0).reshape(-1, n_out)
        return new_kernel, new_bias, new_next, new_bn

    checks.exercise_2_3(channels_first, trained_cnn)
    assert "flattened channels-first" in _out(capsys)


def test_2_3_catches_a_forgotten_batchnorm(trained_cnn, capsys):
    def no_bn(kernel, bias, next_kernel, drop, bn=None):
        return structured.remove_filters(kernel, bias, next_kernel, drop)[:3] + (bn,)

    checks.exercise_2_3(no_bn, trained_cnn)
    assert "✘ with bn=[γ, β, mean, variance]" in _out(capsys)


def test_unfinished_stub_gets_a_reminder(trained_cnn, capsys):
    def stub(*args, **kwargs):
        raise NotImplementedError("Exercise 2.3: replace this line with your code")

    assert checks.exercise_2_3(stub, trained_cnn) is None
    assert "not done yet" in _out(capsys)


def test_pattern_holds():
    assert lab02.pattern_holds({"conv2": True, "dense1": True})
    assert not lab02.pattern_holds({"conv2": True, "dense1": False})
    assert not lab02.pattern_holds({})


def test_shared_conditions_can_fail():
    assert lab02.fraction_at_most(0.27, 1.0, 0.35) and not lab02.fraction_at_most(0.4, 1.0, 0.35)
    assert lab02.mean_drop_at_most(0.983, [0.98, 0.978, 0.981], 0.015)
    assert not lab02.mean_drop_at_most(0.983, [0.95, 0.96, 0.955], 0.015)
    assert lab02.beats_beyond_noise([0.98] * 5, [0.90, 0.85, 0.88, 0.91, 0.86])
    assert not lab02.beats_beyond_noise([0.98] * 5, [0.99, 0.97, 0.98, 0.99, 0.985])
    assert lab02.accuracy_at_least(0.98, 0.97) and not lab02.accuracy_at_least(0.9, 0.97)


def test_all_lists_only_the_exercises():
    assert lab02.__all__ == ["exercise_2_1", "exercise_2_2", "exercise_2_3"]


def test_drop_within_dense_after_fine_tuning():
    assert lab02.drop_within(0.983, [0.976, 0.972, 0.978], 0.015)
    assert not lab02.drop_within(0.983, [0.558, 0.558, 0.558], 0.015)       # the un-fine-tuned control


def test_drop_a_fraction_of_control():
    random_draws = [0.70, 0.66, 0.69, 0.71, 0.68]                  # drop about 29 pt
    assert lab02.drop_a_fraction_of_control(0.98, 0.953, random_draws, 0.2)       # 2.7 pt ≤ 0.2 · 28
    assert not lab02.drop_a_fraction_of_control(0.98, 0.90, random_draws, 0.2)    # 8 pt: too much
    assert not lab02.drop_a_fraction_of_control(0.98, 0.979, [0.98, 0.985, 0.975], 0.2)  # no control cost
    assert not lab02.drop_a_fraction_of_control(0.98, 0.97, [0.5, 0.6], 0.2)      # fewer than 3 draws
