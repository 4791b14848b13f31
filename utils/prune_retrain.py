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

For the lottery ticket hypothesis (Frankle & Carbin, *The Lottery Ticket Hypothesis*,
ICLR 2019): :func:`magnitude_masks` finds the mask of a trained network, :func:`rewind`
puts the surviving weights back to their *original initial values*, and
:func:`reinitialise` gives the same mask fresh random weights — the control experiment.

Every function copies its input model; none changes it.
"""

from . import keras
from ._core import FixedMask, apply_masks, copy_model, kernel_masks, prunable_layers, require_model
from ._validate import check_int
from .masks import check_sparsity, magnitude_mask, sparsity_per_layer
from .pruning import SparsityLog, prune_weights
from .training import train

# SparsityLog is defined in utils.pruning (gradual_prune records into it too) and listed here
# because the three schedules of this module all take one.
__all__ = ["SparsityLog", "one_shot_fine_tune", "iterative_prune", "iterative_sparsities",
           "magnitude_masks", "rewind", "reinitialise"]


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


def iterative_prune(model, data, *, final_sparsity, rounds, epochs, log=None, **train_kwargs):
    """Iterative prune–retrain: ``rounds`` × (magnitude-prune a bit more, retrain with the mask fixed).

    The ``epochs`` are shared out over the rounds as evenly as possible (so the total budget
    equals the other schedules'); every round needs at least one epoch.

    Returns:
        The pruned, retrained model (a new object) at ``final_sparsity``.
    """
    epochs = check_int(epochs, "epochs", minimum=1)
    targets = iterative_sparsities(final_sparsity, rounds)
    if rounds > epochs:
        raise ValueError(f"rounds ({rounds}) must not exceed epochs ({epochs}): each round retrains "
                         "for at least one epoch")
    current = model
    for r, target in enumerate(targets):
        current = prune_weights(current, target)   # zeros of earlier rounds are smallest: they stay
        round_epochs = epochs // rounds + (1 if r < epochs % rounds else 0)
        train(current, data, epochs=round_epochs,
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
