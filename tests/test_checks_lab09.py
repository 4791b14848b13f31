"""The Lab 09 self-checks accept right answers and explain the typical wrong ones."""

import numpy as np
import pytest

from utils import checks as check
from utils import patch


def recall_right(y_true, y_pred, num_classes):
    return np.array([np.mean(y_pred[y_true == c] == c) if np.any(y_true == c) else np.nan
                     for c in range(num_classes)])


def recall_as_precision(y_true, y_pred, num_classes):
    return np.array([np.mean(y_true[y_pred == c] == c) if np.any(y_pred == c) else np.nan
                     for c in range(num_classes)])


def recall_zero_for_absent(y_true, y_pred, num_classes):
    return np.nan_to_num(recall_right(y_true, y_pred, num_classes))


def recall_too_short(y_true, y_pred, num_classes):
    return recall_right(y_true, y_pred, int(y_true.max()) + 1)


def not_done(*args):
    raise NotImplementedError("Exercise 9.1: replace this line with your code")


@pytest.fixture
def labels():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, 100)
    y_pred = np.where(rng.random(100) < 0.7, y_true, rng.integers(0, 5, 100))
    return y_true, y_pred


def test_exercise_9_1_passes_a_right_answer(capsys, labels):
    check.exercise_9_1(recall_right, *labels, 5)
    out = capsys.readouterr().out
    assert "✘" not in out and "all checks passed" in out and "matches the reference" in out


@pytest.mark.parametrize("wrong, hint", [
    (recall_as_precision, "precision"),
    (recall_zero_for_absent, "undefined"),
    (recall_too_short, "shape (4,)"),
])
def test_exercise_9_1_explains_typical_mistakes(capsys, labels, wrong, hint):
    check.exercise_9_1(wrong, *labels, 5)
    out = capsys.readouterr().out
    assert "✘" in out and hint in out


def test_exercise_9_1_is_gentle_with_a_stub(capsys):
    check.exercise_9_1(not_done)
    assert "not done yet" in capsys.readouterr().out


@pytest.fixture
def images():
    return np.random.default_rng(1).uniform(size=(10, 24, 24, 3)).astype(np.float32)


def test_exercise_9_2_passes_a_right_answer(capsys, images):
    check.exercise_9_2(lambda x, s, m: x * (1 - m) + s * m, images)
    out = capsys.readouterr().out
    assert "✘" not in out and "all checks passed" in out
    check.exercise_9_2(patch.apply_patch, images)
    assert "✘" not in capsys.readouterr().out


def _in_place(x, s, m):
    x *= 1 - m
    x += s * m
    return x


@pytest.mark.parametrize("wrong, hint", [
    (lambda x, s, m: x * m + s * (1 - m), "wrong way round"),
    (lambda x, s, m: x + s * m, "not added"),
    (_in_place, "in place"),
    (lambda x, s, m: (x * (1 - m) + s * m)[0], "expected shape"),
])
def test_exercise_9_2_explains_typical_mistakes(capsys, images, wrong, hint):
    check.exercise_9_2(wrong, images)
    out = capsys.readouterr().out
    assert "✘" in out and hint in out


# ------------------------------------------------------------------ Exercise 9.3: the sticker step
def _grad(model, x, y, sticker, mask):
    from utils import adversarial
    return adversarial.input_gradient(model, patch.apply_patch(x, sticker, mask), y).sum(axis=0)


def step_descent(model, x, y, sticker, mask, step_size):
    return np.clip(sticker - step_size * np.sign(_grad(model, x, y, sticker, mask)) * mask, 0, 1)


def step_unsigned(model, x, y, sticker, mask, step_size):
    return np.clip(sticker + step_size * _grad(model, x, y, sticker, mask) * mask, 0, 1)


def step_unmasked(model, x, y, sticker, mask, step_size):
    return np.clip(sticker + step_size * np.sign(_grad(model, x, y, sticker, mask)), 0, 1)


def step_unclipped(model, x, y, sticker, mask, step_size):
    return sticker + step_size * np.sign(_grad(model, x, y, sticker, mask)) * mask


def step_per_image(model, x, y, sticker, mask, step_size):
    from utils import adversarial
    grads = adversarial.input_gradient(model, patch.apply_patch(x, sticker, mask), y)
    return np.clip(sticker + step_size * np.sign(grads) * mask, 0, 1)


def step_clean_images(model, x, y, sticker, mask, step_size):
    from utils import adversarial
    grad = adversarial.input_gradient(model, x, y).sum(axis=0)
    return np.clip(sticker + step_size * np.sign(grad) * mask, 0, 1)


def step_in_place(model, x, y, sticker, mask, step_size):
    sticker += step_size * np.sign(_grad(model, x, y, sticker, mask)) * mask
    np.clip(sticker, 0, 1, out=sticker)
    return sticker


def test_exercise_9_3_passes_the_reference(capsys):
    check.exercise_9_3(patch.sticker_step)
    out = capsys.readouterr().out
    assert "✘" not in out and "all checks passed" in out


@pytest.mark.parametrize("wrong, hint", [
    (step_descent, "descent"),
    (step_unsigned, "sign of the summed gradient"),
    (step_unmasked, "multiply the step by the mask"),
    (step_unclipped, "clip the new sticker"),
    (step_per_image, "sum over axis 0"),
    (step_clean_images, "clean images"),
    (step_in_place, "in place"),
])
def test_exercise_9_3_explains_typical_mistakes(capsys, wrong, hint):
    check.exercise_9_3(wrong)
    out = capsys.readouterr().out
    assert "✘" in out and hint in out


def test_exercise_9_3_is_gentle_with_a_stub(capsys):
    check.exercise_9_3(not_done)
    assert "not done yet" in capsys.readouterr().out


# ------------------------------------------------------------------ verdict conditions
def test_fraction_at_most():
    assert check.lab09.fraction_at_most(1.0e6, 5.9e6, 0.25)
    assert not check.lab09.fraction_at_most(1.6e6, 5.9e6, 0.25)


def test_drop_within():
    assert check.lab09.drop_within(0.98, [0.975, 0.97, 0.972], 0.03)
    assert not check.lab09.drop_within(0.98, [0.93, 0.94, 0.95], 0.03)
    assert not check.lab09.drop_within(0.98, [0.975, 0.97], 0.03)     # too few seeds


def test_beats_beyond_noise():
    assert check.lab09.beats_beyond_noise([0.78, 0.75, 0.80], [0.41, 0.45, 0.40], 0.10)
    assert not check.lab09.beats_beyond_noise([0.50, 0.45, 0.52], [0.41, 0.45, 0.40], 0.10)


def test_not_worse_by():
    assert check.lab09.not_worse_by([0.86, 0.88, 0.87], [0.97, 0.98, 0.97], 0.15)
    assert not check.lab09.not_worse_by([0.80, 0.78, 0.82], [0.97, 0.98, 0.97], 0.15)
    assert not check.lab09.not_worse_by([0.90, 0.90], [0.90, 0.90], 0.15)   # fewer than 3 seeds


def test_mean_at_most():
    assert check.lab09.mean_at_most([0.05, 0.045, 0.065], 0.10)
    assert not check.lab09.mean_at_most([0.32, 0.12, 0.19], 0.10)     # the null arm's drops
    assert not check.lab09.mean_at_most([0.02, 0.03], 0.10)            # fewer than 3 seeds
