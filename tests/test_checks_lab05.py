"""Lab 05's self-checks and verdict conditions (utils/checks/lab05.py)."""

import numpy as np

from utils import checks, privacy
from utils.checks import lab05


def _run(capsys, check, fn):
    check(fn)
    return capsys.readouterr().out


def test_exercises_5_1_and_5_2_accept_right_and_reject_wrong_answers(capsys):
    def loss_right(model, x, y):
        probs = model(x).numpy().astype(float)
        return -np.log(probs[np.arange(len(y)), y])

    def loss_summed(model, x, y):
        return -np.log(model(x).numpy().astype(float)).sum(axis=1)

    assert "all checks passed" in _run(capsys, checks.exercise_5_1, loss_right)
    assert "all classes" in _run(capsys, checks.exercise_5_1, loss_summed)

    def roc_reversed(m, n):
        fpr, tpr, auc = privacy.loss_threshold_roc(m, n)
        return fpr, tpr, 1 - auc

    assert "all checks passed" in _run(capsys, checks.exercise_5_2, privacy.loss_threshold_roc)
    assert "1 − the right one" in _run(capsys, checks.exercise_5_2, roc_reversed)


def _clip(grads, c):
    n = grads[0].shape[0]
    norms = np.sqrt(sum(np.sum(np.reshape(g, (n, -1)) ** 2, axis=1) for g in grads))
    f = np.minimum(1.0, c / norms)
    return [g * f.reshape((n,) + (1,) * (g.ndim - 1)) for g in grads]


def test_exercise_5_3_accepts_the_reference(capsys):
    assert "all checks passed" in _run(capsys, checks.exercise_5_3, privacy.dp_sgd_gradient)


def test_exercise_5_3_explains_common_mistakes(capsys):
    def per_variable(grads, noise, c, sigma, b):
        out = []
        for g, z in zip(grads, noise):
            norms = np.linalg.norm(np.reshape(g, (g.shape[0], -1)), axis=1)
            clipped = g * np.minimum(1.0, c / norms).reshape((-1,) + (1,) * (g.ndim - 1))
            out.append((clipped.sum(axis=0) + sigma * c * z) / b)
        return out

    def actual_size(grads, noise, c, sigma, b):
        return [(g.sum(axis=0) + sigma * c * z) / len(g) for g, z in zip(_clip(grads, c), noise)]

    def noise_sigma_only(grads, noise, c, sigma, b):
        return [(g.sum(axis=0) + sigma * z) / b for g, z in zip(_clip(grads, c), noise)]

    def noise_per_example(grads, noise, c, sigma, b):
        return [(g.sum(axis=0) + len(g) * sigma * c * z) / b for g, z in zip(_clip(grads, c), noise)]

    def noise_not_averaged(grads, noise, c, sigma, b):
        return [g.sum(axis=0) / b + sigma * c * z for g, z in zip(_clip(grads, c), noise)]

    def no_clipping(grads, noise, c, sigma, b):
        return [(g.sum(axis=0) + sigma * c * z) / b for g, z in zip(grads, noise)]

    def in_place(grads, noise, c, sigma, b):
        for z in noise:
            z *= sigma * c
        return [(g.sum(axis=0) + z) / b for g, z in zip(_clip(grads, c), noise)]

    def not_done(grads, noise, c, sigma, b):
        raise NotImplementedError("Exercise 5.3")

    expected = {per_variable: "separately", actual_size: "expected* batch size", noise_sigma_only: "σ·C",
                noise_per_example: "once per example", noise_not_averaged: "not divided by B",
                no_clipping: "no clipping", in_place: "in place", not_done: "not done yet"}
    for fn, message in expected.items():
        out = _run(capsys, checks.exercise_5_3, fn)
        assert message in out, (fn.__name__, out)
        assert "all checks passed" not in out


def test_attack_leaks():
    chance = privacy.auc_standard_error(0.5, 100, 100)     # about 0.041
    assert lab05.attack_leaks(0.668, chance)               # 4 s.e. above chance
    assert not lab05.attack_leaks(0.56, chance)            # 1.5 s.e.: could be a guessing attack
    assert lab05.attack_leaks(0.56, privacy.auc_standard_error(0.5, 1000, 1000))  # same AUC, 10x the data
    assert not lab05.attack_leaks(0.45, chance)            # below chance
    assert not lab05.attack_leaks(float("nan"), chance)


def test_dp_lowers_leak():
    assert lab05.dp_lowers_leak([0.67, 0.64, 0.66], [0.63, 0.60, 0.52])
    assert not lab05.dp_lowers_leak([0.53, 0.54, 0.53], [0.53, 0.54, 0.53])  # baseline vs itself
    assert not lab05.dp_lowers_leak([0.67, 0.64, 0.66], [0.70, 0.55, 0.69])       # within the noise
    assert not lab05.dp_lowers_leak([0.67, 0.64], [0.60, 0.57])                   # too few seeds


def test_lowers_leak():
    # the equal-utility control below the fully trained model; DP-SGD against the control
    assert lab05.lowers_leak([0.65, 0.66, 0.64], [0.53, 0.55, 0.52])
    assert not lab05.lowers_leak([0.53, 0.55, 0.52], [0.58, 0.60, 0.55])   # DP above the control
    assert not lab05.lowers_leak([0.56, 0.55, 0.52], [0.58, 0.51, 0.55])   # within the noise
    assert not lab05.lowers_leak([0.65, 0.66], [0.53, 0.55])               # too few seeds
