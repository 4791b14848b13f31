"""Verdicts of chapter 9's section on quantization-aware training and sparse inference.

Each function compares measured numbers with a target fixed before the measurement and
prints one ``✔`` / ``✘ NOT MET:`` line per target (:func:`utils.checks.verdict`). The lines
state the targets, not the numbers, so the page shows the same lines on every machine
while the targets hold. No verdict here depends on a time.

Not every line is a result. A line that starts with "precondition" checks that the
demonstration has something to show; a line that starts with "sanity check" holds for any
correct export and would catch a broken pipeline, not confirm the section's claim.
"""

import numbers

from ._core import verdict

__all__ = ["pqat_keeps_sparsity", "sparse_kernels_stored"]


def _fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a fraction in [0, 1], got {value!r} ({type(value).__name__})")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1] (e.g. 0.8 for 80 %), got {value!r}")
    return float(value)


def pqat_keeps_sparsity(pruned, qat, pqat, *, tolerance=0.01, min_loss=0.20):
    """Does pruning-preserving QAT keep the sparsity that plain QAT loses?

    Args:
        pruned: kernel sparsity of the pruned model's int8 file (post-training quantization),
            a fraction in [0, 1].
        qat: kernel sparsity of the int8 file after plain quantization-aware training.
        pqat: kernel sparsity of the int8 file after pruning-preserving QAT.
        tolerance: PQAT may differ from ``pruned`` by at most this much (0.01 = 1 point).
        min_loss: plain QAT must be at least this much below ``pruned`` (0.20 = 20 points).
            This is a precondition of the demonstration, not a result: without such a loss
            there is nothing for PQAT to prevent.

    Prints one verdict line and one precondition line; returns nothing.
    """
    pruned, qat, pqat = _fraction(pruned, "pruned"), _fraction(qat, "qat"), _fraction(pqat, "pqat")
    tolerance, min_loss = _fraction(tolerance, "tolerance"), _fraction(min_loss, "min_loss")
    verdict(abs(pqat - pruned) <= tolerance,
            f"PQAT keeps the pruned model's kernel sparsity in the int8 file (within "
            f"{100 * tolerance:g} pt)")
    verdict(pruned - qat >= min_loss,
            f"precondition (there is a loss to prevent): plain QAT loses at least "
            f"{100 * min_loss:g} pt of that sparsity in the int8 file")


def sparse_kernels_stored(sparse_tensors, pruned_kernels, runtime, agreement, *, min_agreement=0.99):
    """Does the ``.tflite`` file store every pruned kernel in the sparse format?

    The verdict is structural and says nothing about speed. Two sanity checks follow it.
    They hold for *any* correct float32 export, sparse or not, so they can catch a broken
    pipeline but cannot confirm anything about sparsity: ``runtime == "XNNPACK"`` only means
    that LiteRT applied the XNNPACK delegate when it loaded the file (it falls back to its
    built-in kernels for a file the delegate refuses, see :func:`utils.deploy.litert_interpreter`),
    and a float32 file computes what its Keras model computes up to rounding.

    Args:
        sparse_tensors: number of tensors the file stores in the sparse format
            (``len(utils.quantization.tflite_sparse_tensors(file))``).
        pruned_kernels: number of kernels that were pruned (the 1×1 convolutions).
        runtime: what runs the file, ``utils.deploy.tflite_function(file).runtime``.
        agreement: fraction of test inputs on which the file and its Keras model predict the
            same class.
        min_agreement: the least acceptable ``agreement``.

    Prints one verdict line and two sanity-check lines; returns nothing.
    """
    for name, value in (("sparse_tensors", sparse_tensors), ("pruned_kernels", pruned_kernels)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise TypeError(f"{name} must be a non-negative int (a count of tensors), got {value!r}")
    if pruned_kernels == 0:
        raise ValueError("pruned_kernels is 0: nothing was pruned, so there is nothing to check")
    if not isinstance(runtime, str):
        raise TypeError(f"runtime must be a string such as 'XNNPACK', got {runtime!r}")
    agreement = _fraction(agreement, "agreement")
    min_agreement = _fraction(min_agreement, "min_agreement")
    verdict(sparse_tensors >= pruned_kernels,
            "every pruned 1×1 kernel is stored in the sparse format in the .tflite file")
    verdict(runtime == "XNNPACK",
            "sanity check (true of any float32 export of this model): LiteRT loaded the file with the "
            "XNNPACK delegate")
    verdict(agreement >= min_agreement,
            f"sanity check (true of any correct float32 export): the file predicts the class of its "
            f"Keras model on at least {100 * min_agreement:g} % of the test images")
