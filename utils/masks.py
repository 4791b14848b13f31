"""Magnitude masks: the arithmetic of unstructured pruning, framework-neutral (NumPy only).

A *mask* is a boolean array of a kernel's shape: ``True`` keeps a weight, ``False``
removes it. Everything here works on plain arrays, so the same code serves tf_keras
(:mod:`utils.pruning`), Keras 3 (the appendix "Pruning in Keras 3 without tfmot") and any
other framework whose weights can be read as NumPy arrays.

This module imports nothing but NumPy and :mod:`utils._validate`; in a process that must
not import TensorFlow through ``utils/__init__.py`` it can be loaded on its own (see
``scripts/keras3_pruning.py``).

Source: magnitude pruning, Han et al., *Learning both Weights and Connections for Efficient
Neural Networks*, NeurIPS 2015.
"""

import numpy as np

from ._validate import check_fraction

__all__ = ["check_sparsity", "magnitude_mask", "global_magnitude_masks", "sparsity_per_layer",
           "nonzero_mask", "polynomial_sparsity"]


def check_sparsity(sparsity, name="sparsity"):
    """A sparsity (fraction of weights set to zero) in [0, 1), as a float."""
    return check_fraction(sparsity, name, meaning="the fraction of weights set to zero; "
                                                  "1.0 would remove every weight")


def magnitude_mask(weights, sparsity):
    """Boolean keep-mask that zeroes the ``sparsity`` fraction of smallest-magnitude weights.

    Args:
        weights: array of any shape, e.g. a Conv2D kernel ``(kh, kw, c_in, c_out)``.
        sparsity: fraction in [0, 1) of entries to prune.

    Returns:
        Boolean array, same shape as ``weights``: ``True`` = keep. Exactly
        ``round(sparsity * weights.size)`` entries are ``False``: those with the smallest
        ``|w|``; ties are broken by position (earlier entries are pruned first), so the
        result is deterministic.

    Source: magnitude pruning, Han et al., *Learning both Weights and Connections*, NeurIPS 2015.
    """
    sparsity = check_sparsity(sparsity)
    w = np.asarray(weights)
    if not np.issubdtype(w.dtype, np.number):
        raise TypeError(f"weights must be a numeric array, got dtype {w.dtype}")
    if w.size == 0:
        raise ValueError("weights is empty; there is nothing to prune")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights contains NaN or infinity; check the model's training")
    n_prune = int(round(sparsity * w.size))
    order = np.argsort(np.abs(w).ravel(), kind="stable")  # smallest |w| first, ties by position
    keep = np.ones(w.size, dtype=bool)
    keep[order[:n_prune]] = False
    return keep.reshape(w.shape)


def global_magnitude_masks(kernels, sparsity):
    """One magnitude ranking over all ``kernels`` together; returns one mask per kernel.

    Layers with many small weights lose more than ``sparsity``; layers with large weights
    lose less. The total fraction removed is ``sparsity``.
    """
    kernels = [np.asarray(k) for k in kernels]
    if not kernels:
        raise ValueError("kernels is empty; there is nothing to prune")
    flat = np.concatenate([k.ravel() for k in kernels])
    keep = magnitude_mask(flat, sparsity)
    masks, start = [], 0
    for k in kernels:
        masks.append(keep[start:start + k.size].reshape(k.shape))
        start += k.size
    return masks


def sparsity_per_layer(names, sparsity):
    """Expand a float or a ``{layer_name: sparsity}`` dict into ``{name: sparsity}`` for ``names``.

    Layers a dict does not name get sparsity 0 (they stay dense). A name that is not in
    ``names`` raises ValueError listing the valid ones.
    """
    names = list(names)
    if isinstance(sparsity, dict):
        unknown = sorted(set(sparsity) - set(names))
        if unknown:
            raise ValueError(f"Unknown layer name(s) {unknown}; prunable layers are {names}")
        return {name: check_sparsity(sparsity.get(name, 0.0), f"sparsity[{name!r}]") for name in names}
    value = check_sparsity(sparsity)
    return {name: value for name in names}


def nonzero_mask(weights):
    """The mask of an already-pruned kernel: ``True`` where the weight is non-zero."""
    return np.asarray(weights) != 0


def polynomial_sparsity(step, *, initial_sparsity, final_sparsity, begin_step, end_step, power=3):
    """The sparsity of Zhu & Gupta's polynomial schedule at optimiser step ``step``.

    ``s(t) = s_f + (s_i - s_f) * (1 - (t - t_0) / (t_end - t_0)) ** power``, held at ``s_i``
    before ``begin_step`` and at ``s_f`` after ``end_step`` — the formula behind tfmot's
    ``PolynomialDecay`` (Zhu & Gupta, *To prune, or not to prune*, 2017).
    """
    initial_sparsity = check_sparsity(initial_sparsity, "initial_sparsity")
    final_sparsity = check_sparsity(final_sparsity, "final_sparsity")
    if end_step <= begin_step:
        raise ValueError(f"end_step ({end_step}) must be greater than begin_step ({begin_step})")
    progress = min(max((step - begin_step) / (end_step - begin_step), 0.0), 1.0)
    return final_sparsity + (initial_sparsity - final_sparsity) * (1.0 - progress) ** power
