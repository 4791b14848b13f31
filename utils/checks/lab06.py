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


def _rotation_case(context, features, batch, n_slots, seed):
    """A packed batch as TenSEAL holds it: the ciphertext's slots (decrypted, zero-padded to ``n_slots``),
    a weight column, and TenSEAL's own enc_matmul_plain result on that ciphertext, decrypted."""
    rng = np.random.default_rng(seed)
    x = rng.random((batch, features))
    column = rng.normal(0, 0.5, features)
    enc_x = he.encrypt_batch(context, x)
    slots = np.zeros(n_slots)
    slots[:features * batch] = _decrypted(enc_x, features * batch)
    tenseal = _decrypted(enc_x.enc_matmul_plain(column.tolist(), batch), batch)
    return x, column, slots, tenseal


def _variant(slots, column, batch, *, direction=-1, steps=None):
    """Rotate-and-sum with a chosen rotation direction and number of steps (plausible mistakes)."""
    plain = np.zeros(len(slots))
    plain[:len(column) * batch] = np.repeat(column, batch)
    result, shift = slots * plain, len(column) * batch // 2
    for _ in range(int(np.log2(len(column))) if steps is None else steps):
        result, shift = result + np.roll(result, direction * shift), shift // 2
    return result


@self_check("Exercise 6.2 (rotate-and-sum on the packed slots)")
def exercise_6_2(report, rotate_and_sum, context):
    """Check ``rotate_and_sum(slots, column, batch_size) -> (slots, rotations)`` against TenSEAL."""
    cases = ((8, 4, 64, 1), (16, 2, 128, 2))  # (d', B, slots, seed): the slots beyond d'·B hold zeros
    for features, batch, n_slots, seed in cases:
        x, column, slots, tenseal = _rotation_case(context, features, batch, n_slots, seed)
        given = slots.copy()
        out = rotate_and_sum(given, column.copy(), batch)
        if not report.check(isinstance(out, (tuple, list)) and len(out) == 2,
                            "returns a pair: the slot vector and the number of rotations",
                            f"returned {type(out).__name__}; return (slots, rotations)"):
            return
        result, count = np.asarray(out[0], dtype=np.float64).ravel(), out[1]
        if not report.check(result.shape == slots.shape,
                            "returns the whole slot vector, as long as the input",
                            f"got {result.size} slots for an input of {slots.size}: the server's "
                            "ciphertext keeps all its slots; return every one of them, not only the first B"):
            return
        if not report.check(np.array_equal(given, slots), "the input slots are not modified",
                            "your function changed the slot vector it was given: work on a copy"):
            return
        expected = x @ column
        if not np.allclose(result[:batch], expected, atol=TOLERANCE):
            first = result[:batch]
            if np.allclose(_variant(slots, column, batch, direction=+1)[:batch], first, atol=TOLERANCE):
                report.fail("the rotations go the wrong way: a rotation by s brings the content of slot "
                            "i + s to slot i (the upper half folds onto the lower half), and it is cyclic "
                            "over ALL slots")
            elif any(np.allclose(_variant(slots, column, batch, steps=k)[:batch], first, atol=TOLERANCE)
                     for k in range(int(np.log2(features)))):
                report.fail("a rotate-and-add step is missing: keep halving the shift until it is B, so that "
                            "all d' features of an image are summed into its slot")
            else:
                report.fail(f"with d' = {features}, B = {batch}: slot b should hold image b's dot product "
                            "with the column. Multiply slot j·B + b by weight j (each weight repeated for "
                            "the B images, zeros beyond), then fold the upper half of the features onto the "
                            "lower half at every step")
            return
        if not report.check(np.allclose(result[:batch], tenseal, atol=TOLERANCE),
                            f"d' = {features}, B = {batch}: slot b decrypts like TenSEAL's enc_matmul_plain "
                            f"on the same ciphertext, and equals x @ column (± {TOLERANCE})",
                            "your first B slots equal x @ column but not TenSEAL's decrypted result"):
            return
        if not report.check(np.allclose(result, he.rotate_and_sum(slots, column, batch)[0], atol=1e-9),
                            "every other slot holds what the ciphertext holds after the last step",
                            "the first B slots are right but the others are not what the server's ciphertext "
                            "holds: compute the result the way the server must, on the whole vector — "
                            "one multiplication, then rotations of the whole vector, each followed by an "
                            "addition"):
            return
        if not report.check(isinstance(count, (int, np.integer)) and int(count) == int(np.log2(features)),
                            "counts one rotation per rotate-and-add step",
                            f"with d' = {features} features you returned {count!r} rotations: count each "
                            "rotation the server performs (an int)"):
            return


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
