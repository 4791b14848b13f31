"""Verdicts of chapter 9's section on quantization-aware training and sparse inference.

Each function compares measured numbers with a target fixed before the measurement and
prints one ``✔`` / ``✘ NOT MET:`` line per target (:func:`utils.checks.verdict`). The lines
state the targets, not the numbers, so the page shows the same lines on every machine
while the targets hold. No verdict here depends on a time.
"""

import numbers

from ._core import verdict

__all__ = ["pqat_keeps_sparsity", "sparse_file_runs"]


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
        min_loss: plain QAT must be at least this much below ``pruned`` (0.20 = 20 points),
            otherwise there was no loss for PQAT to prevent.

    Prints two verdict lines; returns nothing.
    """
    pruned, qat, pqat = _fraction(pruned, "pruned"), _fraction(qat, "qat"), _fraction(pqat, "pqat")
    tolerance, min_loss = _fraction(tolerance, "tolerance"), _fraction(min_loss, "min_loss")
    verdict(abs(pqat - pruned) <= tolerance,
            f"PQAT keeps the pruned model's kernel sparsity in the int8 file (within "
            f"{100 * tolerance:g} pt)")
    verdict(pruned - qat >= min_loss,
            f"plain QAT loses at least {100 * min_loss:g} pt of that sparsity in the int8 file")


def sparse_file_runs(sparse_tensors, pruned_kernels, runtime, agreement, *, min_agreement=0.99):
    """Is the sparse ``.tflite`` file really sparse, and does XNNPACK run it correctly?

    A verdict on structure only: it says nothing about speed.

    Args:
        sparse_tensors: number of tensors the file stores in the sparse format
            (``len(utils.quantization.tflite_sparse_tensors(file))``).
        pruned_kernels: number of kernels that were pruned (the 1×1 convolutions).
        runtime: what runs the file, ``utils.deploy.tflite_function(file).runtime``.
        agreement: fraction of test inputs on which the file and its Keras model predict the
            same class.
        min_agreement: the least acceptable ``agreement``.

    Prints three verdict lines; returns nothing.
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
    verdict(runtime == "XNNPACK", "LiteRT's XNNPACK delegate accepts the sparse file")
    verdict(agreement >= min_agreement,
            f"the sparse file predicts the class of its Keras model on at least "
            f"{100 * min_agreement:g} % of the test images")
