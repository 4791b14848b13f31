"""Self-checks for Lab 06 (homomorphic encryption)."""

import numpy as np

from .. import he, stats
from ..he import ts
from ._core import self_check

__all__ = ["exercise_6_1", "exercise_6_2", "exercise_6_3"]

TOLERANCE = 1e-2  # CKKS is approximate; one layer at scale 2**32 is accurate to about 1e-6


def _decrypted(result, size):
    return np.asarray(result.decrypt(), dtype=np.float64)[:size]


@self_check("Exercise 6.1 (one encrypted layer)")
def exercise_6_1(report, encrypted_first_layer, context):
    """Check ``encrypted_first_layer(context, x, weight, bias) -> CKKSVector`` of ``x @ weight + bias``."""
    rng = np.random.default_rng(0)
    x = rng.random(16)
    weight = rng.normal(0, 0.5, (16, 4))
    bias = rng.normal(0, 0.5, 4)
    result = encrypted_first_layer(context, x, weight, bias)
    if isinstance(result, (np.ndarray, list)):
        report.fail("you returned plaintext numbers: return the *encrypted* result (a tenseal CKKSVector); "
                    "the server must never see x or the result in the clear")
        return
    if not report.check(isinstance(result, ts.CKKSVector), "returns an encrypted CKKSVector",
                        f"returned {type(result).__name__}; encrypt x into a CKKS vector first and "
                        "compute on the ciphertext"):
        return
    values = np.asarray(result.decrypt())
    expected = x @ weight + bias
    if not report.check(values.shape == (4,), "one value per output unit (4)",
                        f"the decrypted result has {values.size} values, expected 4: a vector of 16 inputs "
                        "times a (16, 4) matrix gives 4 outputs (TenSEAL's vector–matrix product)"):
        return
    if np.allclose(values, x @ weight, atol=TOLERANCE):
        report.fail("the bias is missing: add it to the encrypted product")
        return
    report.check(np.allclose(values, expected, atol=TOLERANCE),
                 f"decrypts to x @ weight + bias (within {TOLERANCE})",
                 f"decrypted {np.round(values, 3).tolist()}, expected {np.round(expected, 3).tolist()}: "
                 "check the orientation of the product (x is a row vector, weight is (inputs, units))")


def _packed_case(context):
    """A packed batch of 4 images × 8 features, a (8, 3) layer and its plaintext answer."""
    rng = np.random.default_rng(1)
    x = rng.random((4, 8))
    weight = rng.normal(0, 0.5, (8, 3))
    bias = rng.normal(0, 0.5, 3)
    return he.encrypt_batch(context, x), x, weight, bias


@self_check("Exercise 6.2 (encrypted dense layer on a packed batch)")
def exercise_6_2(report, encrypted_dense, context):
    """Check ``encrypted_dense(enc_x, weight, bias, batch_size) -> list of CKKSVector``, one per unit."""
    enc_x, x, weight, bias = _packed_case(context)
    result = encrypted_dense(enc_x, weight, bias, 4)
    if isinstance(result, ts.CKKSVector):
        report.fail("you returned one ciphertext; return a *list* with one ciphertext per output unit "
                    "(unit k's ciphertext holds that unit for every image of the batch)")
        return
    if not report.check(isinstance(result, (list, tuple)) and len(result) == 3,
                        "returns a list of 3 ciphertexts (one per output unit)",
                        f"returned {type(result).__name__}; "
                        "loop over the columns of weight, one encrypted dot product per output unit"):
        return
    if not report.check(all(isinstance(r, ts.CKKSVector) for r in result), "every unit stays encrypted",
                        "every entry must be a tenseal CKKSVector computed from enc_x: the server never "
                        "decrypts"):
        return
    values = np.stack([_decrypted(r, 4) for r in result], axis=1)
    expected = x @ weight + bias
    if np.allclose(values, x @ weight, atol=TOLERANCE):
        report.fail("the bias is missing: add bias[k] to unit k's encrypted result")
        return
    swapped = ((x @ weight + bias[::-1]), (x @ weight)[:, ::-1] + bias)
    if any(np.allclose(values, wrong, atol=TOLERANCE) for wrong in swapped):
        report.fail("the units come out in the wrong order: unit k uses column k of weight and bias[k]")
        return
    report.check(np.allclose(values, expected, atol=TOLERANCE),
                 f"slot b of unit k decrypts to (x @ weight + bias)[b, k] for all 4 images (± {TOLERANCE})",
                 f"decrypted {np.round(values, 3).tolist()}, expected {np.round(expected, 3).tolist()}. "
                 "In the "
                 "packed layout slot j·B + b holds feature j of image b: unit k's dot product multiplies "
                 "by column k (each weight repeated for the B images) and sums the features by "
                 "rotate-and-sum; TenSEAL's method for this layout is the one paired with "
                 "ts.enc_matmul_encoding")


def _forward_case():
    """A tiny network with widths that are NOT powers of two (5 inputs, 6 hidden units, 3 classes)."""
    rng = np.random.default_rng(2)
    weights = he.MLPWeights(rng.normal(0, 0.4, (5, 6)), rng.normal(0, 0.2, 6), rng.normal(0, 0.4, (6, 3)),
                            rng.normal(0, 0.2, 3))
    return weights, rng.random((4, 5))


@self_check("Exercise 6.3 (the encrypted network, server side)")
def exercise_6_3(report, encrypted_forward, context, dense=he.encrypted_dense):
    """Check ``encrypted_forward(weights, enc_x, batch_size, dense) -> list of CKKSVector``, one per class."""
    weights, x = _forward_case()
    enc_x = he.encrypt_batch(context, x)
    outputs = encrypted_forward(weights, enc_x, 4, dense)
    if not report.check(isinstance(outputs, (list, tuple)) and len(outputs) == 3
                        and all(isinstance(o, ts.CKKSVector) for o in outputs),
                        "returns one ciphertext per class (3)",
                        "return the list that the second layer produces: one encrypted logit per class, "
                        "each holding all B images"):
        return
    logits = np.stack([_decrypted(o, 4) for o in outputs], axis=1)
    expected = he.plaintext_logits(weights, x)
    linear = (x @ weights.w1 + weights.b1) @ weights.w2 + weights.b2
    if np.allclose(logits, linear, atol=TOLERANCE):
        report.fail("the activation is missing: square the packed hidden layer before the second layer "
                    "(x² is the network's activation; CKKS can only add and multiply)")
        return
    no_bias = ((x @ weights.w1) ** 2) @ weights.w2 + weights.b2
    if np.allclose(logits, no_bias, atol=TOLERANCE):
        report.fail("the first layer's bias is missing")
        return
    report.check(np.allclose(logits, expected, atol=5 * TOLERANCE),
                 "decrypted logits equal the plaintext network's ((x @ w1 + b1)² @ w2 + b2)",
                 f"decrypted {np.round(logits, 3).tolist()}, expected {np.round(expected, 3).tolist()}. "
                 "With 6 hidden units the hidden layer must be padded to 8 (a power of two, as "
                 "rotate-and-sum halves the vector at each step) before it is packed into one ciphertext; "
                 "he.padded pads the weights")


# ------------------------------------------------------------------------------------------ verdicts

def predictions_agree(agreement, *, target=0.98):
    """Encrypted and plaintext predictions agree on at least ``target`` of the encrypted images."""
    return bool(np.isfinite(agreement) and agreement >= target)


def pruned_keeps_accuracy(wide_accuracies, narrow_accuracies, *, margin=0.02):
    """Non-inferiority, paired by seed: the narrow model's mean accuracy drop + its s.e. is ≤ ``margin``.

    Needs ≥ 3 seeds; ``wide_accuracies[i]`` and ``narrow_accuracies[i]`` come from the same seed.
    """
    drop = stats.paired_difference(wide_accuracies, narrow_accuracies)
    return bool(drop.n >= stats.MIN_SEEDS and drop.mean + drop.se <= margin)
