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


def test_exercise_6_2_accepts_the_reference_and_explains_mistakes(context, capsys):
    def no_bias(enc_x, weight, bias, batch_size):
        return [enc_x.enc_matmul_plain(weight[:, k].tolist(), batch_size) for k in range(weight.shape[1])]

    def one_ciphertext(enc_x, weight, bias, batch_size):
        return he.encrypted_dense(enc_x, weight, bias, batch_size)[0]

    def reversed_units(enc_x, weight, bias, batch_size):
        return he.encrypted_dense(enc_x, weight, bias, batch_size)[::-1]

    checks.exercise_6_2(he.encrypted_dense, context)
    assert "all checks passed" in _out(capsys)
    checks.exercise_6_2(no_bias, context)
    assert "bias is missing" in _out(capsys)
    checks.exercise_6_2(one_ciphertext, context)
    assert "*list*" in _out(capsys)
    checks.exercise_6_2(reversed_units, context)
    assert "✘" in _out(capsys)


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
