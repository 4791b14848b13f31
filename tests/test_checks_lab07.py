"""Lab 07's self-checks and verdict conditions (utils/checks/lab07.py)."""

import numpy as np
import pytest

from utils import adversarial, checks, keras, tf
from utils.checks import lab07

EPS = 0.1


@pytest.fixture(scope="module")
def batch(digits):
    return digits.x_test[:64], digits.y_test[:64]


def test_exercise_7_2_passes_the_reference(trained_cnn, batch, capsys):
    checks.exercise_7_2(adversarial.pgd_step, trained_cnn, *batch)
    out = capsys.readouterr().out
    assert "✘" not in out and "all checks passed" in out
    assert checks.passed("7.2", adversarial.pgd_step)


def _step(model, x_adv, x, y, eps, alpha, *, at=None, sign=True, ball=True, rng=True, direction=1.0):
    gradient = adversarial.input_gradient(model, x if at == "x" else x_adv, y)
    moved = x_adv + direction * alpha * (np.sign(gradient) if sign else gradient)
    if ball == "around x_adv":
        moved = np.clip(moved, x_adv - eps, x_adv + eps)
    elif ball:
        moved = np.clip(moved, x - eps, x + eps)
    return np.clip(moved, 0, 1) if rng else moved


@pytest.mark.parametrize("mistake, expected", [
    ({"ball": False}, "around the clean image x"),
    ({"ball": "around x_adv"}, "around the clean image x"),
    ({"at": "x"}, "gradient at the clean image x"),
    ({"sign": False}, "raw gradient"),
    ({"direction": -1.0}, "downhill"),
])
def test_exercise_7_2_catches_plausible_mistakes(trained_cnn, batch, capsys, mistake, expected):
    def wrong(model, x_adv, x, y, eps, alpha):
        return _step(model, x_adv, x, y, eps, alpha, **mistake)

    checks.exercise_7_2(wrong, trained_cnn, *batch)
    out = capsys.readouterr().out
    assert "✘" in out and expected in out
    assert not checks.passed("7.2", wrong)


def test_exercise_7_2_needs_the_valid_range(trained_cnn, batch, capsys):
    def unclipped(model, x_adv, x, y, eps, alpha):
        return _step(model, x_adv, x, y, eps, alpha, rng=False)

    checks.exercise_7_2(unclipped, trained_cnn, *batch)
    assert "clip to the valid range" in capsys.readouterr().out


def _train_step(model, optimizer, x, y, eps, *, attack=True, returned="mean"):
    x_adv = x
    if attack:
        start = np.clip(x + tf.random.uniform(x.shape, -eps, eps).numpy(), 0, 1)
        x_adv = adversarial.pgd_step(model, start, x, y, eps, 1.25 * eps)
    with tf.GradientTape() as tape:
        losses = keras.losses.sparse_categorical_crossentropy(y, model(x_adv, training=True))
        loss = tf.reduce_mean(losses)
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    return float(tf.reduce_sum(losses)) if returned == "sum" else float(loss)


def test_exercise_7_3_passes_the_reference_and_a_hand_written_step(trained_cnn, batch, capsys):
    checks.exercise_7_3(adversarial.adversarial_train_step, trained_cnn, *batch)
    checks.exercise_7_3(_train_step, trained_cnn, *batch)
    out = capsys.readouterr().out
    assert "✘" not in out and out.count("all checks passed") == 2


def test_exercise_7_3_catches_clean_training_and_wrong_loss(trained_cnn, batch, capsys):
    checks.exercise_7_3(lambda *a: _train_step(*a, attack=False), trained_cnn, *batch)
    assert "trained on (almost) clean images" in capsys.readouterr().out

    checks.exercise_7_3(lambda *a: _train_step(*a, returned="sum"), trained_cnn, *batch)
    assert "not the sum" in capsys.readouterr().out

    def noise(model, optimizer, x, y, eps):       # random ±eps noise is not an attack
        x_noisy = np.clip(x + eps * np.sign(np.random.default_rng(5).standard_normal(x.shape)), 0, 1)
        with tf.GradientTape() as tape:
            outputs = model(x_noisy, training=True)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, outputs))
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return float(loss)

    checks.exercise_7_3(noise, trained_cnn, *batch)
    assert "less than random ±eps noise" in capsys.readouterr().out

    def no_update(model, optimizer, x, y, eps):
        return 1.0

    checks.exercise_7_3(no_update, trained_cnn, *batch)
    assert "weights did not change" in capsys.readouterr().out


# ------------------------------------------------------------------ verdict conditions
def test_breaks_model():
    assert lab07.breaks_model([0.02, 0.05, 0.1])
    assert not lab07.breaks_model([0.4, 0.35, 0.3])


def test_beats_needs_a_margin_beyond_the_noise():
    assert lab07.beats([0.40, 0.45, 0.50], [0.02, 0.03, 0.02], margin=0.10)
    assert not lab07.beats([0.40, 0.45, 0.50], [0.38, 0.47, 0.45])           # within the noise
    assert not lab07.beats([0.40, 0.45], [0.02, 0.03])                        # too few seeds


def test_not_worse_is_a_one_sided_bound():
    assert lab07.not_worse([0.45, 0.40, 0.48], [0.47, 0.44, 0.46], margin=0.10)
    assert not lab07.not_worse([0.20, 0.25, 0.22], [0.47, 0.44, 0.46], margin=0.10)
    assert not lab07.not_worse([0.45, 0.40], [0.47, 0.44], margin=0.10)
    # the lab's margin (5 pt): the robust 80 % model (−2.8 ± 0.6 pt) passes, its parent (−8.3 ± 1.7 pt) fails
    assert lab07.not_worse([0.48, 0.46, 0.46], [0.50, 0.49, 0.495], margin=0.05)
    assert not lab07.not_worse([0.42, 0.40, 0.41], [0.50, 0.49, 0.495], margin=0.05)


def test_masking_and_budget_conditions():
    grid, falling = [0.05, 0.1, 0.15, 0.2, 0.3], [0.83, 0.48, 0.08, 0.0, 0.0]
    assert lab07.no_masking_symptoms(0.62, 0.48, 0.45, grid, falling)
    assert not lab07.no_masking_symptoms(0.40, 0.48, 0.45, grid, falling)      # FGSM beats PGD
    assert not lab07.no_masking_symptoms(0.62, 0.48, 0.30, grid, falling)      # PGD had not converged
    assert not lab07.no_masking_symptoms(0.62, 0.48, 0.45, grid, [0.8, 0.5, 0.3, 0.4, 0.0])  # rises with ε
    # the lab's saturated model: zero gradients, so every attack reports about its clean accuracy
    assert not lab07.no_masking_symptoms(0.917, 0.908, 0.90, grid, [0.92, 0.91, 0.90, 0.88, 0.85])
    assert not lab07.no_masking_symptoms(0.62, 0.48, 0.45, grid, [0.83, 0.48, 0.3, 0.2, 0.15])  # no floor
    assert lab07.at_most(0.0, 0.10) and not lab07.at_most(0.2, 0.10)
    assert lab07.transfer_exposes_masking(0.025, 0.96)
    assert not lab07.transfer_exposes_masking(0.5, 0.6)
