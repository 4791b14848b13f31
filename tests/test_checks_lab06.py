"""Lab 06's self-checks and verdict conditions (utils/checks/lab06.py)."""

import numpy as np
import pytest

from utils import checks, he
from utils.checks import lab06
from utils.he import ts


@pytest.fixture(scope="module")
def context():
    return he.make_context()


def _out(capsys):
    return capsys.readouterr().out


def test_exercise_6_1_accepts_the_reference_and_explains_mistakes(context, capsys):
    def no_bias(ctx, x, weight, bias):
        return ts.ckks_vector(ctx, x.tolist()).mm(weight.tolist())

    def plaintext(ctx, x, weight, bias):
        return x @ weight + bias

    checks.exercise_6_1(he.encrypted_layer, context)
    assert "all checks passed" in _out(capsys)
    checks.exercise_6_1(no_bias, context)
    assert "bias is missing" in _out(capsys)
    checks.exercise_6_1(plaintext, context)
    assert "plaintext numbers" in _out(capsys)


def test_exercise_6_1_never_prints_the_answer(context, capsys):
    def wrong(ctx, x, weight, bias):
        return ts.ckks_vector(ctx, (2 * x).tolist()).mm(weight.tolist()) + bias.tolist()

    checks.exercise_6_1(wrong, context)
    out = _out(capsys)
    assert "✘" in out and ".mm(" not in out and "tolist" not in out


def _rotate(slots, column, batch, direction=-1, steps=None, reverse=False):
    """Variants of rotate-and-sum: direction, number of steps, order of the shifts."""
    plain = np.zeros(len(slots))
    plain[:len(column) * batch] = np.repeat(column, batch)
    shifts = [len(column) * batch // 2 ** (k + 1) for k in range(int(np.log2(len(column))))]
    shifts = shifts[::-1] if reverse else shifts
    result = slots * plain
    for shift in shifts[:steps]:
        result = result + np.roll(result, direction * shift)
    return result, len(shifts[:steps])


def test_exercise_6_2_accepts_the_reference_and_explains_mistakes(context, capsys):
    def shortcut(slots, column, batch):  # right first slots, but not what the server computes
        out = np.zeros(len(slots))
        out[:batch] = slots[:len(column) * batch].reshape(len(column), batch).T @ column
        return out, int(np.log2(len(column)))

    def in_place(slots, column, batch):
        result, count = he.rotate_and_sum(slots, column, batch)
        slots *= 0
        return result, count

    checks.exercise_6_2(he.rotate_and_sum, context)
    assert "all checks passed" in _out(capsys)
    checks.exercise_6_2(lambda s, c, b: _rotate(s, c, b, reverse=True), context)  # rotations commute
    assert "all checks passed" in _out(capsys)
    checks.exercise_6_2(lambda s, c, b: _rotate(s, c, b, direction=+1), context)
    assert "wrong way" in _out(capsys)
    checks.exercise_6_2(lambda s, c, b: _rotate(s, c, b, steps=-1), context)
    assert "step is missing" in _out(capsys)
    checks.exercise_6_2(lambda s, c, b: (_rotate(s, c, b)[0], 1 + _rotate(s, c, b)[1]), context)
    assert "rotations: count" in _out(capsys)
    checks.exercise_6_2(lambda s, c, b: (_rotate(s, c, b)[0][:b], 3), context)
    assert "not only the first B" in _out(capsys)
    checks.exercise_6_2(lambda s, c, b: _rotate(s, np.ones_like(c), b), context)
    assert "✘" in _out(capsys)
    checks.exercise_6_2(shortcut, context)
    assert "the others are not" in _out(capsys)
    checks.exercise_6_2(in_place, context)
    assert "work on a copy" in _out(capsys)
    checks.exercise_6_2(lambda s, c, b: _rotate(s, c, b)[0], context)
    assert "return (slots, rotations)" in _out(capsys)


def test_exercise_6_2_never_prints_the_answer(context, capsys):
    checks.exercise_6_2(lambda s, c, b: _rotate(s, c, b, direction=+1), context)
    out = _out(capsys)
    assert "✘" in out and "np.roll" not in out and "np.repeat" not in out


def test_rotate_and_sum_matches_tenseal_and_plaintext(context):
    rng = np.random.default_rng(0)
    x, column = rng.random((32, 64)), rng.normal(size=64)
    enc = he.encrypt_batch(context, x)
    slots = np.zeros(he.slot_count(context))
    slots[:64 * 32] = np.asarray(enc.decrypt())[:64 * 32]
    result, rotations = he.rotate_and_sum(slots, column, 32)
    assert rotations == 6
    np.testing.assert_allclose(result[:32], x @ column, atol=1e-3)
    tenseal = np.asarray(enc.enc_matmul_plain(column.tolist(), 32).decrypt())[:32]
    np.testing.assert_allclose(result[:32], tenseal, atol=1e-2)
    with pytest.raises(ValueError, match="power-of-two"):
        he.rotate_and_sum(slots, column[:63], 32)


def test_exercise_6_3_accepts_the_reference_and_explains_mistakes(context, capsys):
    def no_square(weights, enc_x, batch_size, dense):
        w = he.padded(weights)
        hidden = ts.CKKSVector.pack_vectors(dense(enc_x, w.w1, w.b1, batch_size))
        return dense(hidden, w.w2, w.b2, batch_size)

    def unpadded(weights, enc_x, batch_size, dense):
        hidden = ts.CKKSVector.pack_vectors(dense(enc_x, np.r_[weights.w1, np.zeros((3, 6))], weights.b1,
                                                  batch_size))
        hidden.square_()
        return dense(hidden, weights.w2, weights.b2, batch_size)

    def not_done(weights, enc_x, batch_size, dense):
        raise NotImplementedError("Exercise 6.3")

    checks.exercise_6_3(he.encrypted_forward, context)
    assert "all checks passed" in _out(capsys)
    checks.exercise_6_3(no_square, context)
    assert "activation is missing" in _out(capsys)
    checks.exercise_6_3(unpadded, context)
    assert "✘" in _out(capsys)
    checks.exercise_6_3(not_done, context)
    assert "not done yet" in _out(capsys)


def test_predictions_agree():
    assert lab06.predictions_agree(1.0) and lab06.predictions_agree(0.98)
    assert not lab06.predictions_agree(0.9)
    assert not lab06.predictions_agree(float("nan"))


def test_pruned_keeps_accuracy():
    assert lab06.pruned_keeps_accuracy([0.97, 0.96, 0.97], [0.965, 0.96, 0.96])
    assert not lab06.pruned_keeps_accuracy([0.97, 0.96, 0.97], [0.93, 0.94, 0.95])   # drops 3 pt
    assert not lab06.pruned_keeps_accuracy([0.97, 0.96], [0.97, 0.96])               # too few seeds
    assert not lab06.pruned_keeps_accuracy([0.97, 0.96, 0.97], [0.99, 0.90, 0.99])   # noise too large
