"""Self-checks for Lab 06 (homomorphic encryption)."""

import numpy as np

from ..he import ts
from ._core import self_check

__all__ = ["exercise_6_1"]

TOLERANCE = 1e-2  # CKKS is approximate; one layer at scale 2**32 is accurate to about 1e-6


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
                        f"returned {type(result).__name__}; encrypt x with ts.ckks_vector(context, x) and "
                        "compute on the ciphertext"):
        return
    values = np.asarray(result.decrypt())
    expected = x @ weight + bias
    if not report.check(values.shape == (4,), "one value per output unit (4)",
                        f"the decrypted result has {values.size} values, expected 4: multiply the encrypted "
                        "vector by the (16, 4) weight matrix with .mm(weight)"):
        return
    if np.allclose(values, x @ weight, atol=TOLERANCE):
        report.fail("the bias is missing: add it to the encrypted product (enc + bias)")
        return
    report.check(np.allclose(values, expected, atol=TOLERANCE),
                 f"decrypts to x @ weight + bias (within {TOLERANCE})",
                 f"decrypted {np.round(values, 3).tolist()}, expected {np.round(expected, 3).tolist()}: "
                 "compute enc_x.mm(weight.tolist()) + bias.tolist()")
