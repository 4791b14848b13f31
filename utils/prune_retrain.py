"""Static pruning schedules with retraining, at an equal epoch budget, and lottery tickets.

Three ways to reach the same final sparsity ``s`` with the same number of training epochs
``E`` (Lab 03 compares them):

* :func:`one_shot_fine_tune` — prune to ``s`` at once (magnitude, layer by layer), then
  fine-tune for ``E`` epochs with the mask fixed (Han et al., NeurIPS 2015, with one round).
* :func:`utils.pruning.gradual_prune` — ``tfmot``'s polynomial schedule (Zhu & Gupta, 2017): the
  sparsity rises smoothly from 0 to ``s`` while the network trains, then stays at ``s``
  (pass ``log=`` a :class:`SparsityLog` to record it like the other two).
* :func:`iterative_prune` — ``R`` rounds of *prune, then retrain with the mask fixed*; each
  round removes the same fraction of the remaining weights, so the sparsity after round
  ``r`` is ``1 - (1 - s)^(r/R)`` (Han et al., NeurIPS 2015; Frankle & Carbin, ICLR 2019).

All of them are *static* pruning: once training ends, the mask is fixed for good.

Lab 04's references for its exercises live here too (the student's versions drive the lab once
their self-checks pass): :func:`layer_sensitivity` (one layer's sensitivity scan),
:func:`sensitivity_table` (the scan of every layer, with any such function),
:func:`allocate_ratios` (per-layer sparsities under a global budget, one drop threshold),
:func:`find_pies` (pruning identified exemplars from predicted labels) and :func:`ece`.

For the lottery ticket hypothesis (Frankle & Carbin, *The Lottery Ticket Hypothesis*,
ICLR 2019): :func:`magnitude_masks` finds the mask of a trained network, :func:`rewind`
puts the surviving weights back to their *original initial values*, and
:func:`reinitialise` gives the same mask fresh random weights — the control experiment.

Every function copies its input model; none changes it.
"""

import numpy as np
import pandas as pd

from . import keras
from ._core import FixedMask, apply_masks, copy_model, kernel_masks, prunable_layers, require_model
from ._validate import check_int
from .calibration import expected_calibration_error
from .masks import check_sparsity, magnitude_mask, sparsity_per_layer
from .metrics import accuracy
from .pruning import SparsityLog, prune_weights
from .training import train

# SparsityLog is defined in utils.pruning (gradual_prune records into it too) and listed here
# because the three schedules of this module all take one.
__all__ = ["SparsityLog", "one_shot_fine_tune", "iterative_prune", "iterative_sparsities",
           "magnitude_masks", "rewind", "reinitialise",
           "layer_sensitivity", "sensitivity_table", "allocate_ratios", "find_pies", "ece",
           "worst_class_excess", "class_blind_excess"]


def _callbacks(log, *others):
    return list(others) + ([log] if log is not None else [])


def one_shot_fine_tune(model, data, *, sparsity, epochs, log=None, **train_kwargs):
    """Prune once to ``sparsity`` (layer-wise magnitude), then fine-tune with the mask fixed.

    Args:
        model: a trained tf_keras model (not modified).
        data: a :class:`utils.data.Dataset`.
        sparsity: final fraction of zeros in every kernel, in [0, 1).
        epochs: fine-tuning epochs.
        log: an optional :class:`SparsityLog`.
        **train_kwargs: passed to :func:`utils.training.train` (``batch_size``,
            ``learning_rate``, ``augment_shift``, ``verbose``).

    Returns:
        The pruned, fine-tuned model (a new object) with exactly the one-shot mask.
    """
    pruned = prune_weights(model, sparsity)
    train(pruned, data, epochs=check_int(epochs, "epochs", minimum=1),
          callbacks=_callbacks(log, FixedMask(kernel_masks(pruned))), **train_kwargs)
    return pruned


def iterative_sparsities(final_sparsity, rounds):
    """Sparsity after each of ``rounds`` rounds when every round removes the same share of the survivors.

    ``s_r = 1 - (1 - s)^(r / R)``; e.g. 0.9 in 3 rounds → 0.536, 0.785, 0.9.
    """
    rounds = check_int(rounds, "rounds", minimum=1)
    final_sparsity = check_sparsity(final_sparsity, "final_sparsity")
    return [1.0 - (1.0 - final_sparsity) ** (r / rounds) for r in range(1, rounds + 1)]


def iterative_prune(model, data, *, final_sparsity, rounds, epochs, log=None, round_epochs=None,
                    sparsities=None, **train_kwargs):
    """Iterative prune–retrain: ``rounds`` × (magnitude-prune a bit more, retrain with the mask fixed).

    By default the ``epochs`` are shared out over the rounds as evenly as possible (so the total
    budget equals the other schedules'); every round needs at least one epoch.

    Args:
        round_epochs: optional list, one number of retraining epochs per round, summing to
            ``epochs`` — e.g. ``[1, 1, 1, 5]``: prune in the first half, then recover at the final
            sparsity for as long as a gradual schedule does (a *fair* schedule, Lab 03).
        sparsities: optional list of the sparsity after each round (e.g. the student's
            ``iterative_sparsities(final_sparsity, rounds)``); default :func:`iterative_sparsities`.
            It must have ``rounds`` entries and end at ``final_sparsity``.

    Returns:
        The pruned, retrained model (a new object) at ``final_sparsity``.
    """
    epochs = check_int(epochs, "epochs", minimum=1)
    targets = (iterative_sparsities(final_sparsity, rounds) if sparsities is None
               else [float(s) for s in sparsities])
    if len(targets) != rounds or abs(targets[-1] - final_sparsity) > 1e-9:
        raise ValueError(f"sparsities {targets} must have {rounds} entries and end at {final_sparsity}")
    if round_epochs is None:
        if rounds > epochs:
            raise ValueError(f"rounds ({rounds}) must not exceed epochs ({epochs}): each round retrains "
                             "for at least one epoch")
        round_epochs = [epochs // rounds + (1 if r < epochs % rounds else 0) for r in range(rounds)]
    round_epochs = [check_int(e, "each round's epochs", minimum=1) for e in round_epochs]
    if len(round_epochs) != rounds or sum(round_epochs) != epochs:
        raise ValueError(f"round_epochs {round_epochs} must have {rounds} entries summing to epochs={epochs}")
    current = model
    for target, n_epochs in zip(targets, round_epochs):
        current = prune_weights(current, target)   # zeros of earlier rounds are smallest: they stay
        train(current, data, epochs=n_epochs,
              callbacks=_callbacks(log, FixedMask(kernel_masks(current))), **train_kwargs)
    return current


# ------------------------------------------------------------------ lottery tickets

def magnitude_masks(model, sparsity):
    """Keep-masks of the largest-magnitude weights of each kernel of a (trained) model.

    Args:
        sparsity: a float in [0, 1), or a dict ``{layer_name: sparsity}`` (others stay dense).

    Returns:
        dict ``{layer_name: bool array}`` (see :func:`utils.pruning.magnitude_mask`).
    """
    layers = prunable_layers(model)
    targets = sparsity_per_layer([layer.name for layer in layers], sparsity)
    return {layer.name: magnitude_mask(layer.kernel.numpy(), targets[layer.name]) for layer in layers}


def rewind(model, initial_weights, masks):
    """The lottery-ticket candidate: ``model``'s architecture, its *original initial* weights, masked.

    Args:
        model: the trained model (only its architecture is used).
        initial_weights: ``model.get_weights()`` saved *before* training (the initialisation).
        masks: masks found on the trained model, e.g. ``magnitude_masks(trained, 0.8)``.

    Returns:
        A new model whose surviving weights equal their values at initialisation and whose
        pruned weights are zero. Train it with ``callbacks=[FixedMask(masks)]``.
    """
    ticket = copy_model(model)
    ticket.set_weights(initial_weights)
    return apply_masks(ticket, masks)


def reinitialise(model, masks):
    """The control: the same architecture and mask, but *fresh* random initial weights.

    Uses the layers' own initialisers (``keras.models.clone_model``); call
    ``utils.set_seed(...)`` first for a reproducible draw.
    """
    require_model(model)
    fresh = keras.models.clone_model(model)
    return apply_masks(fresh, masks)


# ------------------------------------------------- Lab 04: sensitivity, allocation, PIEs, ECE

def layer_sensitivity(model, layer_name, sparsities, x, y):
    """Accuracy on ``(x, y)`` with only ``layer_name``'s kernel magnitude-pruned, one value per sparsity.

    Each sparsity prunes the *original* kernel (not an already pruned one); every other layer stays
    dense; ``model`` is never modified (a copy is pruned). Same numbers as
    :func:`utils.pruning.sensitivity_scan` for that layer.

    Returns:
        list of accuracies in [0, 1], in the order of ``sparsities``.
    """
    require_model(model)
    work = copy_model(model)
    kernel = work.get_layer(layer_name).kernel
    original = kernel.numpy()
    result = []
    for s in sparsities:
        kernel.assign(original * magnitude_mask(original, check_sparsity(s, "each sparsity")))
        result.append(accuracy(work, x, y))
    return result


def sensitivity_table(model, x, y, sparsities, *, measure=layer_sensitivity):
    """The sensitivity scan of every prunable layer as a tidy table, using ``measure`` for each layer.

    Args:
        measure: ``measure(model, layer_name, sparsities, x, y) -> list of accuracies`` — the
            student's ``layer_sensitivity`` or :func:`layer_sensitivity`.

    Returns:
        DataFrame with the columns of :func:`utils.pruning.sensitivity_scan`: ``layer``,
        ``weights``, ``sparsity``, ``accuracy``, ``drop`` (dense accuracy − accuracy), and
        ``attrs["dense_accuracy"]``.
    """
    require_model(model)
    dense_accuracy = accuracy(model, x, y)
    rows = []
    for layer in prunable_layers(model):
        accuracies = list(measure(model, layer.name, list(sparsities), x, y))
        if len(accuracies) != len(sparsities):
            raise ValueError(f"measure returned {len(accuracies)} accuracies for "
                             f"{len(sparsities)} sparsities")
        for s, a in zip(sparsities, accuracies):
            rows.append({"layer": layer.name, "weights": int(np.prod(layer.kernel.shape)),
                         "sparsity": float(s), "accuracy": float(a), "drop": dense_accuracy - float(a)})
    table = pd.DataFrame(rows)
    table.attrs["dense_accuracy"] = dense_accuracy
    return table


def _allocation(curves, threshold):
    """Each layer's last scanned sparsity before its drop first exceeds ``threshold`` (0 if at once)."""
    ratios = {}
    for name, (sparsities, drops) in curves.items():
        best = 0.0
        for s, d in zip(sparsities, drops):
            if d > threshold:
                break
            best = s
        ratios[name] = best
    return ratios


def allocate_ratios(scan, budget):
    """Per-layer sparsities that meet a global ``budget`` exactly, sparing the sensitive layers.

    One accuracy-drop threshold ``t`` for all layers: each layer gets the highest scanned sparsity
    reached before its ``drop`` first exceeds ``t``. Raising ``t`` through the scan's drop values
    raises the size-weighted global sparsity ``Σ s_l n_l / Σ n_l`` step by step; at the first
    threshold whose allocation reaches the budget, the result blends it with the allocation of the
    previous threshold, ``(1 − λ)·below + λ·above``, with ``λ`` chosen so the budget is met exactly.
    (A discrete version of :func:`utils.pruning.sensitivity_guided_ratios`, which interpolates.)

    Args:
        scan: a table like :func:`utils.pruning.sensitivity_scan`'s (``layer``, ``weights``,
            ``sparsity``, ``drop``).
        budget: the global sparsity, in [0, 1).

    Returns:
        dict ``{layer_name: sparsity}`` in scan order.

    Raises:
        ValueError: if even the highest scanned sparsities do not reach the budget.
    """
    budget = check_sparsity(budget, "budget")
    curves, sizes = {}, {}
    for name, rows in scan.groupby("layer", sort=False):
        rows = rows.sort_values("sparsity", kind="stable")
        curves[name] = (rows.sparsity.to_numpy(float), rows["drop"].to_numpy(float))
        sizes[name] = int(rows.weights.iloc[0])
    total = sum(sizes.values())

    def weighted(ratios):
        return sum(ratios[name] * sizes[name] for name in sizes) / total

    below = {name: 0.0 for name in curves}
    for threshold in np.unique(scan["drop"].to_numpy(float)):
        above = _allocation(curves, threshold)
        if weighted(above) >= budget:
            gap = weighted(above) - weighted(below)
            mix = 1.0 if gap <= 0 else (budget - weighted(below)) / gap
            return {name: (1 - mix) * below[name] + mix * above[name] for name in curves}
        below = above
    raise ValueError(f"budget {budget:.3f} is out of reach: with every layer at its highest scanned "
                     f"sparsity the global sparsity is {weighted(below):.3f}; scan higher sparsities")


def find_pies(dense_predictions, pruned_predictions):
    """Pruning identified exemplars from predicted labels: where the two majority votes differ.

    Args:
        dense_predictions, pruned_predictions: int arrays ``(models, inputs)`` of predicted labels.

    Returns:
        int array of the input indices whose modal labels differ (ties → the smaller label), as
        :func:`utils.metrics.pruning_identified_exemplars` computes from the models.
    """
    def modal(predictions):
        return np.array([np.bincount(votes).argmax() for votes in np.asarray(predictions).T])
    return np.flatnonzero(modal(dense_predictions) != modal(pruned_predictions))


def worst_class_excess(y, reference_predictions, predictions, num_classes):
    """How much further the worst class falls than the whole test set: worst drop − overall drop.

    Args:
        y: true labels ``(n,)``; reference_predictions, predictions: predicted labels ``(n,)`` of the
            reference (dense) model and of the model compared with it.
        num_classes: the number of classes ``C`` (every class must occur in ``y``).

    Returns:
        The largest per-class accuracy drop minus the overall accuracy drop, in [0, 1] units (0 when
        every class lost the same share; the overall drop weights classes by their size).
    """
    y, reference_predictions, predictions = (np.asarray(a) for a in (y, reference_predictions, predictions))
    per_class = np.array([np.mean(reference_predictions[y == c] == c) - np.mean(predictions[y == c] == c)
                          for c in range(num_classes)])
    overall = np.mean(reference_predictions == y) - np.mean(predictions == y)
    return float(per_class.max() - overall)


def class_blind_excess(y, reference_predictions, lost, num_classes, *, gained=0, draws=50, seed=0):
    """The control for :func:`worst_class_excess`: damage that ignores the class.

    ``lost`` of the reference model's correct predictions are made wrong and ``gained`` of its wrong
    ones are made right, each drawn uniformly at random whatever their class, and the worst-class
    excess of that changed copy is averaged over ``draws`` draws. Give it the compared model's own
    counts (answers it got wrong that the reference got right, and the reverse): a model with the same
    churn spread evenly across classes scores about this much by chance alone (the worst of ``C``
    noisy per-class drops lies above their average), so a pruned model *concentrates* its damage only
    if its excess is larger.

    Args:
        y, reference_predictions: true and reference-predicted labels ``(n,)``.
        lost: correct reference answers the compared model got wrong (≥ 0, at most the correct ones).
        num_classes: ``C``.
        gained: wrong reference answers the compared model got right (≥ 0, at most the wrong ones).
        draws, seed: the number of random draws and their seed.

    Returns:
        The mean worst-class excess of the class-blind changes, in [0, 1] units.
    """
    y, reference_predictions = np.asarray(y), np.asarray(reference_predictions)
    correct = np.flatnonzero(reference_predictions == y)
    wrong = np.flatnonzero(reference_predictions != y)
    if not 0 <= lost <= len(correct):
        raise ValueError(f"lost must be between 0 and the {len(correct)} correct predictions, got {lost}")
    if not 0 <= gained <= len(wrong):
        raise ValueError(f"gained must be between 0 and the {len(wrong)} wrong predictions, got {gained}")
    rng = np.random.default_rng(seed)
    excesses = []
    for _ in range(draws):
        changed = reference_predictions.copy()
        hit = rng.choice(correct, size=int(lost), replace=False)
        changed[hit] = (y[hit] + 1) % num_classes          # any wrong label: only right/wrong counts
        fixed = rng.choice(wrong, size=int(gained), replace=False)
        changed[fixed] = y[fixed]
        excesses.append(worst_class_excess(y, reference_predictions, changed, num_classes))
    return float(np.mean(excesses))


def ece(probs, y, bins=15):
    """Expected calibration error of predicted probabilities ``(n, classes)``:
    :func:`utils.calibration.expected_calibration_error` with ``model=None``."""
    return expected_calibration_error(None, probs, y, bins)
