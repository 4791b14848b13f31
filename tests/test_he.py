"""Tests for utils.he: encrypted inference of a square-activation MLP with TenSEAL (CKKS)."""

import os
import pathlib
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import utils
from utils import he
from utils.he import ts

# Agreement tolerance between encrypted and plaintext logits. CKKS is approximate: with a scale of
# 2**32 the error after four levels is around 1e-3 .. 1e-2 for logits of size ~10.
LOGIT_TOLERANCE = 0.05


@pytest.fixture(scope="module")
def context():
    return he.make_context()


def _random_weights(hidden, inputs=64, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    return he.MLPWeights(rng.normal(0, 0.15, (inputs, hidden)), rng.normal(0, 0.1, hidden),
                         rng.normal(0, 0.3, (hidden, classes)), rng.normal(0, 0.1, classes))


def test_encrypted_and_plaintext_predictions_agree(context):
    weights = _random_weights(32)
    x = np.random.default_rng(1).random((12, 64))
    run = he.encrypted_mlp_predict(weights, x, context, batch_size=8)  # two batches, the last partial
    expected = he.plaintext_logits(weights, x)
    assert run.logits.shape == (12, 10) and run.n == 12
    assert np.max(np.abs(run.logits - expected)) < LOGIT_TOLERANCE
    assert np.array_equal(run.predictions, expected.argmax(axis=1))
    assert run.input_bytes > 100_000 and run.output_bytes > 100_000 and run.seconds_per_sample > 0


def test_widths_that_are_not_powers_of_two_are_padded(context):
    weights = _random_weights(20, inputs=50, classes=3)
    x = np.random.default_rng(2).random((5, 50))
    run = he.encrypted_mlp_predict(weights, x, context, batch_size=5)
    assert np.max(np.abs(run.logits - he.plaintext_logits(weights, x))) < LOGIT_TOLERANCE


def test_narrower_mlp_costs_less(context):
    x = np.random.default_rng(3).random((16, 64))
    cpu = {}
    for hidden in (64, 16):
        enc_x = ts.ckks_vector_from(he.public_context(context), he.encrypt_batch(context, x).serialize())
        start = time.process_time()
        he.encrypted_forward(_random_weights(hidden), enc_x, 16)
        cpu[hidden] = time.process_time() - start
    assert cpu[16] < 0.6 * cpu[64]  # cost ∝ hidden units: expect about 1/4


def test_zero_weights_do_not_make_it_cheaper(context):
    """Under this packing a zero weight costs as much as any other (HE-PEx's point)."""
    dense = _random_weights(32)
    sparse = he.MLPWeights(dense.w1 * (np.random.default_rng(4).random(dense.w1.shape) > 0.9), dense.b1,
                           dense.w2, dense.b2)
    enc_x = he.encrypt_batch(context, np.random.default_rng(5).random((8, 64)))
    cpu = {}
    for name, weights in (("dense", dense), ("sparse", sparse), ("dense again", dense)):
        start = time.process_time()
        he.encrypted_dense(enc_x, weights.w1, weights.b1, 8)
        cpu[name] = time.process_time() - start
    assert cpu["sparse"] > 0.7 * min(cpu["dense"], cpu["dense again"])


def test_server_context_cannot_decrypt(context):
    server = he.public_context(context)
    assert context.is_private() and not server.is_private()
    enc = ts.ckks_vector_from(server, he.encrypt_batch(context, np.ones((2, 64))).serialize())
    with pytest.raises(ValueError):
        enc.decrypt()
    with pytest.raises(ValueError, match="private"):
        he.encrypted_mlp_predict(_random_weights(8), np.ones((2, 64)), server)


def test_ciphertext_bytes_after_tensorflow_is_loaded(context):
    """TenSEAL's serialization must not crash next to TensorFlow's protobuf (see the import in utils.he)."""
    enc = he.encrypt_batch(context, np.ones((4, 64)))
    assert he.ciphertext_bytes(enc) == len(enc.serialize()) > 100_000
    assert he.ciphertext_bytes([enc, enc]) == 2 * he.ciphertext_bytes(enc)


def test_serialization_survives_in_a_fresh_process_that_loaded_tensorflow_first(tmp_path):
    """The crash this guards against is a segmentation fault, so it is tested in a child process.

    The child loads TensorFlow (through ``import utils``) before TenSEAL, as every lab does, and
    serializes a ciphertext; a protobuf clash would kill it with SIGSEGV (return code -11).
    """
    code = textwrap.dedent("""
        import sys
        import numpy as np
        import utils
        assert "tensorflow" in sys.modules and "tenseal" not in sys.modules
        from utils import he
        print(len(he.encrypt_batch(he.make_context(), np.ones((2, 64))).serialize()))
    """)
    root = pathlib.Path(utils.__file__).resolve().parent.parent
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                           cwd=str(tmp_path), env={**os.environ, "PYTHONPATH": str(root)})
    assert child.returncode == 0, child.stderr[-2000:]
    assert int(child.stdout.strip().splitlines()[-1]) > 100_000


def test_bad_batches_are_refused(context):
    weights = _random_weights(128)
    assert he.max_batch_size(weights) == 32 and he.slot_count(context) == 4096
    with pytest.raises(ValueError, match="batch_size must be at most 32 .* 4096 slots"):
        he.encrypted_mlp_predict(weights, np.ones((40, 64)), context, batch_size=40)
    with pytest.raises(TypeError, match="batch_size must be a positive int"):
        he.encrypted_mlp_predict(weights, np.ones((4, 64)), context, batch_size=8.0)
    with pytest.raises(ValueError, match="shape"):
        he.encrypted_mlp_predict(weights, np.ones((4, 60)), context)
    with pytest.raises(ValueError, match="slots"):
        he.encrypt_batch(context, np.ones((65, 64)))
    with pytest.raises(TypeError, match="MLPWeights"):
        he.encrypted_mlp_predict({"w1": 1}, np.ones((4, 64)), context)


def test_prune_hidden_units_keeps_the_largest_and_shrinks_the_matrices():
    weights = _random_weights(8, inputs=5, classes=3)
    weights.w1[:, 2] *= 10                     # unit 2 becomes the most important
    weights.w1[:, 5] *= 0.01                   # unit 5 the least
    pruned = he.prune_hidden_units(weights, 4)
    assert pruned.w1.shape == (5, 4) and pruned.b1.shape == (4,) and pruned.w2.shape == (4, 3)
    kept = np.sort(np.argsort(-he.hidden_unit_importance(weights))[:4])
    assert 2 in kept and 5 not in kept
    np.testing.assert_array_equal(pruned.w1, weights.w1[:, kept])
    np.testing.assert_array_equal(pruned.w2, weights.w2[kept])
    x = np.random.default_rng(0).random((3, 5))
    full_hidden = (x @ weights.w1 + weights.b1) ** 2
    np.testing.assert_allclose((x @ pruned.w1 + pruned.b1) ** 2, full_hidden[:, kept])
    for keep in (0, 9):
        with pytest.raises(ValueError, match=r"keep must be an int in \[1, 8\]"):
            he.prune_hidden_units(weights, keep)
    for keep in (2.5, True):
        with pytest.raises(TypeError, match="keep must be an int"):
            he.prune_hidden_units(weights, keep)


def test_keras_square_mlp_round_trip_matches_the_numpy_forward():
    data = he.load_digits_8x8()
    assert data.x_train.shape[1:] == (64,) and data.x_train.max() == 1.0 and len(data.y_test) == 360
    assert (len(data.y_train), len(data.y_val)) == (1257, 180)   # the splits of load_dataset("digits")
    utils.set_seed(0)
    model = he.square_mlp(16)
    weights = he.mlp_weights(model)
    logits = he.plaintext_logits(weights, data.x_test[:5])
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    np.testing.assert_allclose(model(data.x_test[:5]).numpy(), softmax, rtol=1e-4, atol=1e-6)
    copy = he.square_mlp_from_weights(he.prune_hidden_units(weights, 8))
    assert he.mlp_weights(copy).hidden == 8
    with pytest.raises(ValueError, match="hidden must be a positive int"):
        he.square_mlp(0)
    with pytest.raises(TypeError, match="hidden must be a positive int"):
        he.square_mlp(16.0)
    with pytest.raises(ValueError, match="w1"):
        he.MLPWeights(np.ones((4, 3)), np.ones(2), np.ones((3, 2)), np.ones(2))


def test_encrypted_layer_matches_plaintext(context):
    rng = np.random.default_rng(3)
    x, weight, bias = rng.random(16), rng.normal(0, 0.5, (16, 4)), rng.normal(0, 0.5, 4)
    result = he.encrypted_layer(context, x, weight, bias)
    assert isinstance(result, ts.CKKSVector)
    np.testing.assert_allclose(result.decrypt(), x @ weight + bias, atol=1e-3)


def test_padded_weights_compute_the_same_network():
    weights = _random_weights(6, inputs=5, classes=3)
    big = he.padded(weights)
    assert big.w1.shape == (8, 8) and big.w2.shape == (8, 3)
    x = np.random.default_rng(0).random((3, 5))
    padded_x = np.c_[x, np.zeros((3, 3))]
    np.testing.assert_allclose(he.plaintext_logits(big, padded_x), he.plaintext_logits(weights, x))
    with pytest.raises(TypeError, match="MLPWeights"):
        he.padded(np.ones((4, 4)))


def test_encrypted_mlp_predict_runs_the_forward_and_dense_it_is_given(context):
    weights = _random_weights(8, inputs=16, classes=3)
    x = np.random.default_rng(1).random((4, 16))
    calls = []

    def dense(enc_x, weight, bias, batch_size):
        calls.append(weight.shape)
        return he.encrypted_dense(enc_x, weight, bias, batch_size)

    def forward(w, enc_x, batch_size, dense_fn):
        calls.append("forward")
        return he.encrypted_forward(w, enc_x, batch_size, dense_fn)

    run = he.encrypted_mlp_predict(weights, x, context, batch_size=4, forward=forward, dense=dense)
    assert calls == ["forward", (16, 8), (8, 3)]
    np.testing.assert_allclose(run.logits, he.plaintext_logits(weights, x), atol=LOGIT_TOLERANCE)
