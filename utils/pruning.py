"""Weight (unstructured) pruning: from-scratch magnitude masks and thin wrappers over ``tfmot``.

Two ways to prune the same thing:

* **One-shot, by hand** — :func:`magnitude_mask` and :func:`prune_weights` zero the
  fraction ``sparsity`` of smallest-magnitude weights of each kernel (Han et al.,
  NeurIPS 2015) in a copy of a trained model. No retraining.
* **Gradual, with tfmot** — :func:`prune_low_magnitude` wraps a model with
  ``tfmot.sparsity.keras.prune_low_magnitude`` and a ``PolynomialDecay`` schedule
  (Zhu & Gupta, 2017): sparsity rises as ``s_f + (s_i - s_f)(1 - t)^3`` while the
  model keeps training, then :func:`strip` removes the wrappers for export.

Only *kernels* (the weight matrices of ``Dense`` and the filters of ``Conv``
layers) are pruned, as in ``tfmot``; biases and BatchNorm parameters are a tiny
fraction of the parameters and are left dense.
"""

import numpy as np
import pandas as pd
import tensorflow_model_optimization as tfmot

from . import keras
from ._core import FixedMask, copy_model, kernel_masks, prunable_layers, require_model, strip
from ._validate import check_fraction, check_int
from .masks import check_sparsity, global_magnitude_masks, magnitude_mask, sparsity_per_layer
from .metrics import accuracy
from .training import steps_per_epoch, train

__all__ = [
    "magnitude_mask", "prune_weights", "prunable_layers", "sparsity_report",
    "global_sparsity", "prune_low_magnitude", "pruning_callbacks", "strip", "copy_model",
    "SparsityLog", "gradual_prune", "sensitivity_scan", "sensitivity_guided_ratios", "fine_tune",
]

# magnitude_mask (utils.masks), prunable_layers, copy_model and strip (utils._core) are defined
# once, below this module, and re-exported here because this is where students look for them.

def prune_weights(model, sparsity, *, scope="layer"):
    """One-shot magnitude pruning of a trained model, without retraining.

    Args:
        model: a trained tf_keras model (never modified).
        sparsity: fraction in [0, 1) of kernel weights to zero. With ``scope="layer"`` it may
            also be a dict ``{layer_name: sparsity}``; layers not named stay dense.
        scope: ``"layer"`` — every kernel loses the same fraction (its own smallest weights);
            ``"global"`` — one threshold for all kernels together, so layers with many small
            weights lose more.

    Returns:
        A new model with the same architecture whose kernels are sparse.
    """
    require_model(model)
    if scope not in ("layer", "global"):
        raise ValueError(f"scope must be 'layer' or 'global', got {scope!r}")
    if scope == "global" and isinstance(sparsity, dict):
        raise TypeError("With scope='global' the sparsity must be one number, not a dict")
    pruned = copy_model(model)
    layers = prunable_layers(pruned)
    kernels = [layer.kernel.numpy() for layer in layers]
    if scope == "global":
        masks = global_magnitude_masks(kernels, sparsity)
    else:
        targets = sparsity_per_layer([layer.name for layer in layers], sparsity)
        masks = [magnitude_mask(k, targets[layer.name]) for layer, k in zip(layers, kernels)]
    for layer, kernel, mask in zip(layers, kernels, masks):
        layer.kernel.assign(kernel * mask)
    return pruned


def sparsity_report(model):
    """Per-layer table of the pruned kernels.

    Returns:
        A ``pandas.DataFrame`` with one row per prunable layer and columns
        ``layer``, ``shape``, ``weights`` (kernel size), ``zeros`` and ``sparsity``
        (fraction of zeros), plus a final ``total`` row.
    """
    rows = []
    for layer in prunable_layers(model):
        kernel = layer.kernel.numpy()
        zeros = int(np.count_nonzero(kernel == 0))
        rows.append({"layer": layer.name, "shape": tuple(kernel.shape), "weights": kernel.size,
                     "zeros": zeros, "sparsity": zeros / kernel.size})
    if not rows:
        raise ValueError(f"Model {model.name!r} has no Dense or Conv layers to report on")
    table = pd.DataFrame(rows)
    total = {"layer": "total", "shape": "", "weights": table.weights.sum(),
             "zeros": table.zeros.sum()}
    total["sparsity"] = total["zeros"] / total["weights"]
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def global_sparsity(model):
    """Fraction of zeros over all prunable kernels of ``model`` (biases not counted)."""
    report = sparsity_report(model)
    return float(report.iloc[-1]["sparsity"])


def prune_low_magnitude(model, *, final_sparsity, begin_step, end_step, initial_sparsity=0.0,
                        frequency=100):
    """Wrap ``model`` for gradual magnitude pruning with tfmot and a polynomial schedule.

    A thin wrapper over ``tfmot.sparsity.keras.prune_low_magnitude`` with
    ``tfmot.sparsity.keras.PolynomialDecay(initial_sparsity, final_sparsity, begin_step,
    end_step, power=3, frequency)`` (Zhu & Gupta, *To prune, or not to prune*, 2017).

    Unlike calling tfmot directly, the input model is **copied first**: tfmot wraps the
    original layer objects, so training the wrapped model would silently change the
    model you passed in.

    Args:
        model: a tf_keras model (Sequential or functional).
        final_sparsity: target fraction of zeros in [0, 1) for every prunable kernel.
        begin_step, end_step: optimiser steps at which pruning starts and reaches the target.
        initial_sparsity: sparsity applied at ``begin_step``.
        frequency: masks are recomputed every ``frequency`` steps.

    Returns:
        The wrapped model. Train it with ``callbacks=pruning_callbacks()`` (that is,
        ``tfmot.sparsity.keras.UpdatePruningStep()``), then call :func:`strip`.
    """
    require_model(model)
    final_sparsity = check_sparsity(final_sparsity, "final_sparsity")
    initial_sparsity = check_sparsity(initial_sparsity, "initial_sparsity")
    if initial_sparsity > final_sparsity:
        raise ValueError(f"initial_sparsity ({initial_sparsity}) must not exceed "
                         f"final_sparsity ({final_sparsity})")
    begin_step = check_int(begin_step, "begin_step", minimum=0)
    end_step = check_int(end_step, "end_step", minimum=0)
    frequency = check_int(frequency, "frequency", minimum=1)
    if end_step <= begin_step:
        raise ValueError(f"end_step ({end_step}) must be greater than begin_step ({begin_step})")
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=initial_sparsity, final_sparsity=final_sparsity,
        begin_step=int(begin_step), end_step=int(end_step), power=3, frequency=int(frequency))
    return tfmot.sparsity.keras.prune_low_magnitude(copy_model(model), pruning_schedule=schedule)


def pruning_callbacks():
    """The callbacks a tfmot-wrapped model needs during ``fit``: ``[UpdatePruningStep()]``."""
    return [tfmot.sparsity.keras.UpdatePruningStep()]


class SparsityLog(keras.callbacks.Callback):
    """Records the kernel sparsity and the validation accuracy after every epoch.

    Pass the same log to several training runs (as :func:`utils.prune_retrain.iterative_prune`
    does) and the epochs are numbered continuously. ``log.frame()`` returns a DataFrame with
    columns ``epoch`` (1, 2, …), ``sparsity`` (fraction of zeros over all kernels) and
    ``val_accuracy``.
    """

    def __init__(self):
        super().__init__()
        self.rows = []

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append({"epoch": len(self.rows) + 1, "sparsity": global_sparsity(self.model),
                          "val_accuracy": (logs or {}).get("val_accuracy")})

    def frame(self):
        return pd.DataFrame(self.rows, columns=["epoch", "sparsity", "val_accuracy"])


def _pruning_end_step(steps, epochs, prune_fraction, frequency):
    """The last step of the sparsity ramp, on a mask update (tfmot updates only every ``frequency`` steps).

    An end step between two updates would leave the model short of its target, so it is
    rounded down to a whole number of updates.
    """
    end_step = max(1, int(steps * epochs * prune_fraction)) // frequency * frequency
    if end_step == 0:
        raise ValueError(f"frequency={frequency} leaves no mask update within the pruning phase "
                         f"({steps * epochs * prune_fraction:.0f} steps); use a smaller frequency")
    return end_step


def gradual_prune(model, data, *, final_sparsity, epochs, batch_size=32, prune_fraction=0.5,
                  learning_rate=1e-3, frequency=None, augment_shift=0, verbose=0, log=False):
    """Gradual magnitude pruning with fine-tuning, start to finish; returns the stripped model.

    The recipe (Zhu & Gupta, 2017): wrap a copy of ``model`` with :func:`prune_low_magnitude`,
    let the sparsity rise from 0 to ``final_sparsity`` along the cubic schedule during the
    first ``prune_fraction`` of the ``epochs``, keep fine-tuning at the final sparsity for
    the rest, then :func:`strip` the wrappers.

    Args:
        model: a trained tf_keras model (never modified).
        data: a :class:`utils.data.Dataset`.
        final_sparsity: target fraction of zeros in every prunable kernel, in [0, 1).
        epochs: total training epochs (pruning + recovery).
        prune_fraction: share of the training during which the sparsity ramps up, in (0, 1].
        frequency: steps between mask updates; default once per epoch. The ramp ends on an
            update, so the target is always reached.
        batch_size, learning_rate, augment_shift, verbose: as in :func:`utils.training.train`.
        log: ``False`` (default); ``True`` to also return the per-epoch :class:`SparsityLog`
            frame; or a :class:`SparsityLog` to record into (epochs numbered on from its rows).

    Returns:
        The stripped, sparse model (a new object); with ``log=True`` the pair
        ``(model, DataFrame)`` with columns ``epoch``, ``sparsity``, ``val_accuracy``.
    """
    epochs = check_int(epochs, "epochs", minimum=1)
    prune_fraction = check_fraction(prune_fraction, "prune_fraction", low_open=True, high_open=False,
                                    meaning="the share of the epochs during which the sparsity ramps up")
    if not isinstance(log, (bool, SparsityLog)):
        raise TypeError(f"log must be True, False or a SparsityLog, got {log!r}")
    steps = steps_per_epoch(data, batch_size)
    frequency = steps if frequency is None else check_int(frequency, "frequency", minimum=1)
    end_step = _pruning_end_step(steps, epochs, prune_fraction, frequency)
    wrapped = prune_low_magnitude(model, final_sparsity=final_sparsity, begin_step=0,
                                  end_step=end_step, frequency=frequency)
    recorder = SparsityLog() if log is True else (log or None)
    callbacks = pruning_callbacks() + ([recorder] if recorder is not None else [])
    train(wrapped, data, epochs=epochs, batch_size=batch_size, callbacks=callbacks,
          learning_rate=learning_rate, augment_shift=augment_shift, verbose=verbose)
    pruned = strip(wrapped)
    return (pruned, recorder.frame()) if log is True else pruned


# ------------------------------------------------------------------ layer sensitivity

def _eval_split(data):
    """``(x, y)`` from a Dataset (its validation split) or from an ``(x, y)`` pair."""
    if hasattr(data, "x_val") and hasattr(data, "y_val"):
        return data.x_val, data.y_val
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return data
    raise TypeError("data must be a utils.data.Dataset (its validation split is used) or an (x, y) "
                    f"pair of arrays, got {type(data).__name__}")


def sensitivity_scan(model, data, sparsities, layers=None):
    """Accuracy when **only one layer** is pruned, for every layer and every sparsity.

    This is the per-layer sensitivity analysis of Han et al. (NeurIPS 2015, Fig. 6) and of
    MIT 6.5940's pruning lab: for each prunable layer in turn, zero the ``s`` fraction of
    its smallest-magnitude kernel weights (:func:`magnitude_mask`), leave every other layer
    dense, and measure the accuracy. No retraining. A layer whose curve falls early is
    *sensitive* and should be pruned less.

    Args:
        model: a trained tf_keras model. It is never modified (the scan works on a copy and
            restores each kernel after pruning it).
        data: a :class:`utils.data.Dataset` — the **validation** split is used, so that
            choices made from the scan do not peek at the test set — or an ``(x, y)`` pair.
        sparsities: sparsities to try, each in [0, 1), e.g. ``[0.5, 0.7, 0.8, 0.9, 0.95]``.
        layers: names of the layers to scan; default every prunable (Dense/Conv) layer.

    Returns:
        A tidy ``pandas.DataFrame``, one row per (layer, sparsity), in layer order, with columns

        * ``layer`` — layer name;
        * ``weights`` — number of weights in its kernel;
        * ``sparsity`` — fraction of that kernel set to zero;
        * ``accuracy`` — accuracy in [0, 1] with only that layer pruned;
        * ``drop`` — ``dense_accuracy - accuracy`` (a fraction; negative if pruning helped).

        ``scan.attrs["dense_accuracy"]`` holds the unpruned model's accuracy on the same data.
    """
    require_model(model)
    x, y = _eval_split(data)
    sparsities = [check_sparsity(s, "each sparsity") for s in sparsities]
    if not sparsities:
        raise ValueError("sparsities is empty; pass e.g. [0.5, 0.7, 0.9]")
    work = copy_model(model)
    by_name = {layer.name: layer for layer in prunable_layers(work)}
    if not by_name:
        raise ValueError(f"Model {model.name!r} has no Dense or Conv layers to scan")
    if layers is None:
        layers = list(by_name)
    if isinstance(layers, str):
        raise TypeError("layers must be a list of layer names, e.g. ['conv1'], not a single string")
    unknown = [name for name in layers if name not in by_name]
    if unknown:
        raise ValueError(f"Unknown layer name(s) {unknown}; prunable layers are {list(by_name)}")

    dense_accuracy = accuracy(work, x, y)
    rows = []
    for name in layers:
        kernel = by_name[name].kernel
        original = kernel.numpy()
        for s in sparsities:
            kernel.assign(original * magnitude_mask(original, s))
            acc = accuracy(work, x, y)
            rows.append({"layer": name, "weights": original.size, "sparsity": s,
                         "accuracy": acc, "drop": dense_accuracy - acc})
        kernel.assign(original)  # restore: only one layer is pruned at a time
    scan = pd.DataFrame(rows)
    scan.attrs["dense_accuracy"] = dense_accuracy
    return scan


def _sparsity_at_drop(sparsities, drops, threshold):
    """Largest sparsity whose (monotone, interpolated) accuracy drop stays ≤ ``threshold``.

    The curve starts at (0, 0) — no pruning, no drop — and is made non-decreasing with a
    running maximum (a scan is noisy; pruning more never really helps). Between scanned
    points the drop is interpolated linearly. Never extrapolates past the last sparsity.
    """
    s = np.concatenate([[0.0], sparsities])
    d = np.maximum.accumulate(np.concatenate([[0.0], drops]))
    if threshold < 0:
        return 0.0
    best = 0.0
    for i in range(1, len(s)):
        if d[i] <= threshold:
            best = s[i]
            continue
        if d[i - 1] <= threshold:  # the threshold is crossed inside this segment
            best = s[i - 1] + (threshold - d[i - 1]) / (d[i] - d[i - 1]) * (s[i] - s[i - 1])
        break
    return float(best)


def _weighted(ratios, sizes):
    return sum(ratios[name] * sizes[name] for name in sizes) / sum(sizes.values())


def sensitivity_guided_ratios(scan, budget, *, iterations=60):
    """Per-layer sparsities that meet a global budget while sparing the sensitive layers.

    The algorithm (one common accuracy-drop threshold for all layers):

    1. For a threshold ``t``, give each layer the largest sparsity whose accuracy drop in
       the scan stays ≤ ``t`` (:func:`sensitivity_scan`'s ``drop`` column, made
       non-decreasing and interpolated linearly between the scanned sparsities; a layer is
       never pruned beyond the highest sparsity scanned). A sensitive layer, whose
       accuracy falls early, gets a low sparsity; a robust one a high sparsity.
    2. The global sparsity — the per-layer sparsities weighted by each kernel's number of
       weights — grows with ``t``. Bisect ``t`` until the global sparsity meets ``budget``.
    3. The global sparsity can jump at a threshold (where a layer's curve is flat). The
       final ratios are therefore the mix ``(1 - λ)·below + λ·above`` of the allocations
       just below and just above the budget, with ``λ`` chosen so that the weighted
       sparsity equals ``budget`` exactly (to 1e-9).

    Because each kernel is pruned to ``round(s * n)`` weights, the sparsity of a model pruned
    with these ratios (``prune_weights(model, ratios)``) matches ``budget`` to within half a
    weight per layer — far below 0.1 percentage point for the course's models.

    Each layer is judged on its own, as in Han et al. (NeurIPS 2015) and MIT 6.5940's lab;
    the damage of pruning several layers together is usually larger than the sum of the
    single-layer drops, so fine-tune afterwards.

    Args:
        scan: the DataFrame returned by :func:`sensitivity_scan`.
        budget: the global sparsity to reach, in [0, 1).
        iterations: bisection steps (60 halvings resolve the threshold to float precision).

    Returns:
        dict ``{layer_name: sparsity}`` for every layer in the scan, in scan order.

    Raises:
        ValueError: if the budget cannot be met without pruning some layer beyond the
            highest sparsity in the scan (scan higher sparsities), or if ``scan`` lacks
            the columns of :func:`sensitivity_scan`.
    """
    if not isinstance(scan, pd.DataFrame):
        raise TypeError(f"scan must be the DataFrame returned by sensitivity_scan, got {type(scan).__name__}")
    missing = {"layer", "weights", "sparsity", "drop"} - set(scan.columns)
    if missing:
        raise ValueError(f"scan lacks column(s) {sorted(missing)}; pass the result of sensitivity_scan")
    if scan.empty:
        raise ValueError("scan is empty")
    budget = check_sparsity(budget, "budget")
    curves, sizes = {}, {}
    for name, rows in scan.groupby("layer", sort=False):
        rows = rows.sort_values("sparsity")
        curves[name] = (rows.sparsity.to_numpy(float), rows["drop"].to_numpy(float))
        sizes[name] = int(rows.weights.iloc[0])

    def allocate(threshold):
        return {name: _sparsity_at_drop(s, d, threshold) for name, (s, d) in curves.items()}

    low, high = -1.0, float(max(np.max(d) for _, d in curves.values()))
    most = allocate(high)
    if _weighted(most, sizes) < budget - 1e-12:
        raise ValueError(f"budget {budget:.3f} is out of reach: even with every layer at the highest "
                         f"sparsity scanned the global sparsity is {_weighted(most, sizes):.3f}. "
                         "Scan higher sparsities.")
    for _ in range(iterations):  # invariant: allocate(low) < budget <= allocate(high)
        middle = (low + high) / 2
        if _weighted(allocate(middle), sizes) < budget:
            low = middle
        else:
            high = middle
    below, above = allocate(low), allocate(high)
    w_below, w_above = _weighted(below, sizes), _weighted(above, sizes)
    mix = 1.0 if w_above - w_below < 1e-15 else (budget - w_below) / (w_above - w_below)
    return {name: (1 - mix) * below[name] + mix * above[name] for name in curves}


# ------------------------------------------------------------------ recovery

def fine_tune(model, data, *, epochs, batch_size=32, learning_rate=1e-3, augment_shift=0,
              callbacks=(), verbose=0, class_weight=None):
    """Recover a pruned model's accuracy by retraining it with its zeros kept at zero.

    This is the *retrain* step of Han et al. (*Learning both Weights and Connections*,
    NeurIPS 2015): the pruned connections stay removed (every zero kernel weight is reset
    to zero after each optimiser step) while the surviving weights adapt to their missing
    neighbours. The sparsity therefore never changes.

    Args:
        model: a pruned tf_keras model, e.g. from :func:`prune_weights` (never modified).
        data: a :class:`utils.data.Dataset`.
        epochs: fine-tuning epochs (a positive int).
        batch_size, learning_rate, augment_shift, callbacks, verbose, class_weight: as in
            :func:`utils.training.train`; the optimiser starts fresh at every call.

    Returns:
        The fine-tuned model (a new object) with exactly the input's zeros. Keras keeps the
        run's per-epoch log in ``tuned.history.history`` (``loss``, ``accuracy``,
        ``val_loss``, ``val_accuracy``).
    """
    tuned = copy_model(model)
    if not prunable_layers(tuned):
        raise ValueError(f"Model {model.name!r} has no Dense or Conv layers to fine-tune")
    train(tuned, data, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
          augment_shift=augment_shift, callbacks=[FixedMask(kernel_masks(tuned)), *callbacks],
          verbose=verbose, class_weight=class_weight)
    return tuned
