"""Static pruning schedules with retraining, at an equal epoch budget, and lottery tickets.

Three ways to reach the same final sparsity ``s`` with the same number of training epochs
``E`` (Lab 03 compares them):

* :func:`one_shot_fine_tune` — prune to ``s`` at once (magnitude, layer by layer), then
  fine-tune for ``E`` epochs with the mask fixed (Han et al., NeurIPS 2015, with one round).
* :func:`gradual` — ``tfmot``'s polynomial schedule (Zhu & Gupta, 2017): the sparsity rises
  smoothly from 0 to ``s`` while the network trains, then stays at ``s``.
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

import numbers

import pandas as pd

from . import _require_model, keras
from .dynamic import FixedMask, apply_masks, masks_from_weights
from .pruning import (
    copy_model,
    global_sparsity,
    magnitude_mask,
    prunable_layers,
    prune_low_magnitude,
    prune_weights,
    pruning_callbacks,
    strip,
)
from .training import steps_per_epoch, train

__all__ = ["SparsityLog", "one_shot_fine_tune", "gradual", "iterative_prune", "iterative_sparsities",
           "magnitude_masks", "rewind", "reinitialise"]


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


class SparsityLog(keras.callbacks.Callback):
    """Records the kernel sparsity and the validation accuracy after every epoch.

    Pass the same log to several ``train`` calls (as :func:`iterative_prune` does) and the
    epochs are numbered continuously. ``log.frame()`` returns a DataFrame with columns
    ``epoch`` (1, 2, …), ``sparsity`` (fraction of zeros over all kernels) and
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
    train(pruned, data, epochs=_positive_int(epochs, "epochs"),
          callbacks=_callbacks(log, FixedMask(masks_from_weights(pruned))), **train_kwargs)
    return pruned


def gradual(model, data, *, final_sparsity, epochs, prune_fraction=0.5, frequency=None, log=None,
            batch_size=32, **train_kwargs):
    """Gradual (polynomial) magnitude pruning with ``tfmot`` — :func:`utils.pruning.gradual_prune` with a log.

    The sparsity rises along the cubic schedule from 0 to ``final_sparsity`` during the first
    ``prune_fraction`` of the ``epochs`` (mask updated every ``frequency`` steps, default 1/4
    epoch); the remaining epochs fine-tune at the final sparsity.

    Returns:
        The stripped, sparse model (a new object).
    """
    epochs = _positive_int(epochs, "epochs")
    if not 0.0 < prune_fraction <= 1.0:
        raise ValueError(f"prune_fraction must be in (0, 1], got {prune_fraction!r}")
    steps = steps_per_epoch(data, batch_size)
    frequency = frequency or max(1, steps // 4)
    # tfmot updates the masks only every `frequency` steps: end on an update, or the target is missed
    end_step = max(1, int(steps * epochs * prune_fraction)) // frequency * frequency
    if end_step == 0:
        raise ValueError(f"frequency={frequency} leaves no mask update within the pruning phase; "
                         "use a smaller frequency")
    wrapped = prune_low_magnitude(model, final_sparsity=final_sparsity, begin_step=0, end_step=end_step,
                                  frequency=frequency)
    train(wrapped, data, epochs=epochs, batch_size=batch_size,
          callbacks=_callbacks(log, *pruning_callbacks()), **train_kwargs)
    return strip(wrapped)


def iterative_sparsities(final_sparsity, rounds):
    """Sparsity after each of ``rounds`` rounds when every round removes the same share of the survivors.

    ``s_r = 1 - (1 - s)^(r / R)``; e.g. 0.9 in 3 rounds → 0.536, 0.785, 0.9.
    """
    rounds = _positive_int(rounds, "rounds")
    if isinstance(final_sparsity, bool) or not isinstance(final_sparsity, numbers.Real) \
            or not 0.0 <= final_sparsity < 1.0:
        raise ValueError(f"final_sparsity must be in [0, 1), got {final_sparsity!r}")
    return [1.0 - (1.0 - final_sparsity) ** (r / rounds) for r in range(1, rounds + 1)]


def iterative_prune(model, data, *, final_sparsity, rounds, epochs, log=None, **train_kwargs):
    """Iterative prune–retrain: ``rounds`` × (magnitude-prune a bit more, retrain with the mask fixed).

    The ``epochs`` are shared out over the rounds as evenly as possible (so the total budget
    equals the other schedules'); every round needs at least one epoch.

    Returns:
        The pruned, retrained model (a new object) at ``final_sparsity``.
    """
    epochs = _positive_int(epochs, "epochs")
    targets = iterative_sparsities(final_sparsity, rounds)
    if rounds > epochs:
        raise ValueError(f"rounds ({rounds}) must not exceed epochs ({epochs}): each round retrains "
                         "for at least one epoch")
    current = model
    for r, target in enumerate(targets):
        current = prune_weights(current, target)   # zeros of earlier rounds are smallest: they stay
        round_epochs = epochs // rounds + (1 if r < epochs % rounds else 0)
        train(current, data, epochs=round_epochs,
              callbacks=_callbacks(log, FixedMask(masks_from_weights(current))), **train_kwargs)
    return current


# ------------------------------------------------------------------ lottery tickets

def magnitude_masks(model, sparsity):
    """Keep-masks of the largest-magnitude weights of each kernel of a (trained) model.

    Args:
        sparsity: a float in [0, 1), or a dict ``{layer_name: sparsity}`` (others stay dense).

    Returns:
        dict ``{layer_name: bool array}`` (see :func:`utils.pruning.magnitude_mask`).
    """
    _require_model(model)
    layers = prunable_layers(model)
    names = [layer.name for layer in layers]
    if isinstance(sparsity, dict):
        unknown = sorted(set(sparsity) - set(names))
        if unknown:
            raise ValueError(f"unknown layer name(s) {unknown}; prunable layers are {names}")
    return {layer.name: magnitude_mask(layer.kernel.numpy(),
                                       sparsity.get(layer.name, 0.0) if isinstance(sparsity, dict)
                                       else sparsity)
            for layer in layers}


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
    _require_model(model)
    fresh = keras.models.clone_model(model)
    return apply_masks(fresh, masks)
