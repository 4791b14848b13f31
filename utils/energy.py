"""A first-order *estimate* of the energy of one inference, from operation and memory counts.

Why an estimate: energy depends on the chip, the memory system, the data layout and the
software. What we can do on a laptop is count what a network must do — read its weights,
multiply and add — and price each event with published per-operation energies. The
numbers below are the 45 nm CMOS (0.9 V) figures of

    M. Horowitz, "Computing's energy problem (and what we can do about it)",
    ISSCC 2014 (Digest of Technical Papers, pp. 10-14),

in the 32-bit form that Han et al. (*Learning both Weights and Connections*, NeurIPS 2015,
Figure 1) tabulated from it:

==================================  ===========
operation (32 bit)                  energy (pJ)
==================================  ===========
floating-point add                  0.9
floating-point multiply             3.7
SRAM read (8 KB cache)              5
DRAM read                           640
==================================  ===========

The model, kept deliberately simple so that a student can redo it by hand:

* every stored weight word is read **once** per inference from one memory (DRAM or SRAM);
* every multiply-accumulate (MAC) costs one 32-bit float multiply plus one add;
* activations, biases' additions, pooling, control logic, leakage and index decoding are
  **not** counted.

A pruned model stored in a sparse format keeps only its non-zero weights, but each one needs
an *index* that says where it belongs, so a sparse entry costs ``value_bits + index_bits``.
Han et al. report 5-bit relative indices for fully connected layers and 8-bit ones for
convolutions. A sparse *kernel* (software or hardware that skips zeros) also skips the MACs of
pruned weights; a dense kernel reads and multiplies the zeros like any other number.
"""

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from ._core import prunable_layers, stripped
from ._validate import check_choice, check_int, check_real

__all__ = ["HOROWITZ_45NM_PJ", "WORD_BITS", "EnergyEstimate", "operation_energy_pj",
           "mac_energy_pj", "storage_words", "memory_energy_pj", "compute_energy_pj",
           "layer_costs", "estimate_inference_energy"]

#: Energy per 32-bit operation in picojoules (pJ), 45 nm CMOS, 0.9 V (Horowitz, ISSCC 2014).
HOROWITZ_45NM_PJ = MappingProxyType({
    "fp32_add": 0.9,
    "fp32_mult": 3.7,
    "sram_read": 5.0,    # 32-bit read from an 8 KB SRAM
    "dram_read": 640.0,  # 32-bit read from off-chip DRAM
})

#: Bits in one memory word; the energies above are per 32-bit access.
WORD_BITS = 32

_MEMORIES = {"dram": "dram_read", "sram": "sram_read"}
_KERNELS = ("dense", "sparse")


def operation_energy_pj(name):
    """Energy of one 32-bit operation, in pJ, from :data:`HOROWITZ_45NM_PJ`.

    Args:
        name: one of ``"fp32_add"``, ``"fp32_mult"``, ``"sram_read"``, ``"dram_read"``.
    """
    return HOROWITZ_45NM_PJ[check_choice(name, "operation", sorted(HOROWITZ_45NM_PJ))]


def mac_energy_pj():
    """Energy of one 32-bit floating-point multiply-accumulate: multiply + add = 4.6 pJ."""
    return operation_energy_pj("fp32_mult") + operation_energy_pj("fp32_add")


def storage_words(n_values, *, index_bits=0, value_bits=WORD_BITS):
    """Number of 32-bit memory words needed to store ``n_values`` numbers.

    Args:
        n_values: how many numbers are stored (e.g. the non-zero weights of a sparse layer).
        index_bits: bits of position information stored with each value (0 for a dense
            array, where the position is implicit; e.g. 5 or 8 for relative indices).
        value_bits: bits per value (32 for float32).

    Returns:
        ``n_values * (value_bits + index_bits) / 32`` as a float. Example: 100 non-zeros with
        8-bit indices need 125 words — 25 % more than their values alone.
    """
    n_values = check_real(n_values, "n_values", low=0.0)
    index_bits = check_int(index_bits, "index_bits", minimum=0)
    value_bits = check_int(value_bits, "value_bits", minimum=1)
    return n_values * (value_bits + index_bits) / WORD_BITS


def memory_energy_pj(n_words, memory="dram"):
    """Energy in pJ to read ``n_words`` 32-bit words once from ``memory`` ("dram" or "sram")."""
    n_words = check_real(n_words, "n_words", low=0.0)
    check_choice(memory, "memory", tuple(_MEMORIES))
    return n_words * operation_energy_pj(_MEMORIES[memory])


def compute_energy_pj(n_macs):
    """Energy in pJ of ``n_macs`` 32-bit floating-point multiply-accumulates (4.6 pJ each)."""
    return check_real(n_macs, "n_macs", low=0.0) * mac_energy_pj()


def layer_costs(model):
    """What one inference (one example) costs each Dense/Conv layer, in counts.

    Returns:
        A ``pandas.DataFrame`` with one row per layer and the columns
        ``layer``; ``weights`` (kernel entries); ``nonzero`` (non-zero kernel entries);
        ``biases``; ``uses`` (how many times each kernel weight is used per example: 1 for a
        Dense layer on a vector, ``out_h * out_w`` for a Conv2D layer);
        ``macs`` (``weights * uses``, what a dense kernel computes) and
        ``nonzero_macs`` (``nonzero * uses``, what a zero-skipping kernel computes).
    """
    rows = []
    for layer in prunable_layers(stripped(model)):  # tfmot wrappers are stripped first
        kernel = layer.kernel.numpy()
        out_shape = layer.output_shape
        if isinstance(out_shape, list):  # a layer called more than once
            raise ValueError(f"Layer {layer.name!r} has several outputs; cannot count its MACs")
        uses = int(np.prod(out_shape[1:-1])) if len(out_shape) > 2 else 1
        nonzero = int(np.count_nonzero(kernel))
        biases = int(layer.bias.shape[0]) if getattr(layer, "bias", None) is not None else 0
        rows.append({"layer": layer.name, "weights": int(kernel.size), "nonzero": nonzero,
                     "biases": biases, "uses": uses, "macs": int(kernel.size) * uses,
                     "nonzero_macs": nonzero * uses})
    if not rows:
        raise ValueError(f"Model {model.name!r} has no Dense or Conv layers to count")
    return pd.DataFrame(rows)


@dataclass
class EnergyEstimate:
    """A first-order energy estimate of one inference (see the module docstring).

    Attributes:
        weight_words: 32-bit words of parameters read from memory (indices included).
        macs: multiply-accumulates executed.
        memory_pj: energy of the weight reads, in pJ.
        compute_pj: energy of the MACs, in pJ.
    """

    weight_words: float
    macs: int
    memory_pj: float
    compute_pj: float

    @property
    def total_pj(self):
        """Memory plus compute energy, in pJ."""
        return self.memory_pj + self.compute_pj

    @property
    def total_uj(self):
        """Memory plus compute energy, in microjoules (1 µJ = 10⁶ pJ)."""
        return self.total_pj / 1e6


def estimate_inference_energy(model, *, kernel="dense", memory="dram", index_bits=8):
    """Estimate the energy (pJ) of one inference of ``model`` — an estimate, not a measurement.

    Args:
        model: a tf_keras model (tfmot wrappers are stripped first).
        kernel: ``"dense"`` — weights stored as full arrays and every MAC executed, zeros
            included (what TensorFlow's ordinary kernels do); ``"sparse"`` — only non-zero
            kernel weights stored, each with an ``index_bits``-bit index, and only their MACs
            executed (a zero-skipping sparse kernel or accelerator). Biases stay dense.
        memory: where the weights are read from: ``"dram"`` (640 pJ per 32-bit word) or
            ``"sram"`` (5 pJ, only realistic if the whole model fits on chip).
        index_bits: bits of index per non-zero weight for ``kernel="sparse"``.

    Returns:
        :class:`EnergyEstimate`. Sources: Horowitz (ISSCC 2014) for the energies; Han et al.
        (NeurIPS 2015) for the sparse-storage model.
    """
    check_choice(kernel, "kernel", _KERNELS)
    check_choice(memory, "memory", tuple(_MEMORIES))
    index_bits = check_int(index_bits, "index_bits", minimum=0)
    costs = layer_costs(model)
    biases = int(costs.biases.sum())
    if kernel == "dense":
        words = storage_words(int(costs.weights.sum()) + biases)
        macs = int(costs.macs.sum())
    else:
        words = storage_words(int(costs.nonzero.sum()), index_bits=index_bits) + biases
        macs = int(costs.nonzero_macs.sum())
    return EnergyEstimate(weight_words=words, macs=macs,
                          memory_pj=memory_energy_pj(words, memory),
                          compute_pj=compute_energy_pj(macs))
