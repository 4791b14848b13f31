"""Self-checks and verdict conditions for Lab 01 (weight pruning)."""

import numpy as np
import tensorflow_model_optimization as tfmot

from .. import keras
from ..dataset import Dataset
from ..pruning import prune_weights
from ._conditions import beats as beats_beyond_noise  # noqa: F401 (verdict conditions used as check.lab01.<name>)
from ._conditions import drop_within, fraction_at_most  # noqa: F401
from ._core import self_check

__all__ = ["exercise_1_1", "exercise_1_2", "exercise_1_3", "exercise_1_4"]


@self_check("Exercise 1.1 (magnitude_mask)")
def exercise_1_1(report, magnitude_mask):
    """Check a student's ``magnitude_mask(weights, sparsity) -> bool keep-mask``."""
    w = np.array([0.5, -0.1, 0.3, -0.7, 0.05, 0.9, -0.2, 0.0, 0.6, -0.4])
    mask = np.asarray(magnitude_mask(w, 0.3))
    if not report.check(mask.shape == w.shape, "mask has the weights' shape",
                        f"mask has shape {mask.shape}, expected {w.shape}: return one entry per "
                        "weight (reshape to weights.shape)"):
        return
    report.check(mask.dtype == bool, "mask is boolean (True = keep)",
                 f"mask has dtype {mask.dtype}; return a boolean array, e.g. `np.abs(w) > t`")
    zeroed = int(np.sum(~mask.astype(bool)))
    if not report.check(zeroed == 3, "sparsity 0.3 of 10 weights prunes exactly 3",
                        f"3 of 10 weights should be pruned, you pruned {zeroed}. Prune exactly "
                        "round(sparsity * w.size) entries — a threshold with > vs >= can be off by one."):
        return
    expected = np.abs(w) > 0.1
    report.check(np.array_equal(mask.astype(bool), expected),
                 "the pruned weights are those of smallest |w| (0.0, 0.05, -0.1)",
                 f"you pruned positions {np.flatnonzero(~mask.astype(bool)).tolist()}, expected "
                 f"{np.flatnonzero(~expected).tolist()}: rank by absolute value np.abs(w), not by w.")
    kernel = np.arange(24, dtype=float).reshape(2, 3, 4) - 11.5
    mask_3d = np.asarray(magnitude_mask(kernel, 0.5))
    report.check(mask_3d.shape == kernel.shape and int(np.sum(~mask_3d.astype(bool))) == 12,
                 "works on a 3-D kernel (12 of 24 pruned)",
                 "on a (2, 3, 4) kernel at sparsity 0.5 the mask should have that shape and 12 "
                 "False entries; flatten with .ravel() and reshape back")
    ties = np.ones(8)
    mask_ties = np.asarray(magnitude_mask(ties, 0.25))
    report.check(int(np.sum(~mask_ties.astype(bool))) == 2,
                 "equal weights (ties): still exactly 2 of 8 pruned",
                 f"with 8 equal weights and sparsity 0.25 exactly 2 must be pruned, you pruned "
                 f"{int(np.sum(~mask_ties.astype(bool)))}. A threshold cannot split ties; use the "
                 "positions from np.argsort instead.")
    report.check(bool(np.all(np.asarray(magnitude_mask(w, 0.0)))), "sparsity 0 keeps everything",
                 "sparsity 0 must keep every weight")


def _kernel_layers(model):
    return [layer for layer in model.layers if hasattr(layer, "kernel")]


@self_check("Exercise 1.2 (one-shot layer-wise pruning)")
def exercise_1_2(report, prune_layerwise, model):
    """Check ``prune_layerwise(model, sparsity) -> new model`` on a trained ``model``."""
    before = [w.copy() for w in model.get_weights()]
    pruned = prune_layerwise(model, 0.8)
    report.check(isinstance(pruned, keras.Model), "returns a Keras model",
                 f"returned {type(pruned).__name__}; return the pruned copy of the model")
    if not isinstance(pruned, keras.Model):
        return
    report.check(pruned is not model, "returns a new model",
                 "returned the same object; build a copy (clone_model + set_weights) and prune that")
    unchanged = all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    report.check(unchanged, "the original model is untouched",
                 "the original model's weights changed: prune a copy, never the input")
    for layer, original in zip(_kernel_layers(pruned), _kernel_layers(model)):
        kernel, weights = layer.kernel.numpy(), np.abs(original.kernel.numpy())
        sparsity = float(np.mean(kernel == 0))
        if not report.check(abs(sparsity - 0.8) <= 0.005, f"{layer.name}: kernel sparsity {sparsity:.1%}",
                            f"{layer.name}: kernel sparsity is {sparsity:.1%}, expected 80% — prune every "
                            "Dense/Conv kernel with its own mask"):
            continue
        pruned_w, kept_w = weights[kernel == 0], weights[kernel != 0]
        report.check(pruned_w.max() <= kept_w.min() + 1e-12,
                     f"{layer.name}: the zeroed weights are its smallest |w|",
                     f"{layer.name}: you zeroed a weight of |w| = {pruned_w.max():.3g} but kept one of "
                     f"|w| = {kept_w.min():.3g}. The right number of zeros is not enough: magnitude "
                     "pruning removes the weights of smallest magnitude, layer by layer")
    biases_kept = all(np.array_equal(layer.bias.numpy(), original.bias.numpy())
                      for layer, original in zip(_kernel_layers(pruned), _kernel_layers(model)))
    report.check(biases_kept, "biases are left dense", "biases changed: prune only the kernels")


def _small_subset(data, n=128):
    """The first ``n`` training examples of ``data`` (validation and test splits unchanged)."""
    return Dataset(data.x_train[:n], data.y_train[:n], data.x_val, data.y_val, data.x_test,
                   data.y_test, data.class_names, f"{data.name}[:{n}]")


class _Spy(keras.callbacks.Callback):
    """Records, before every optimiser step but the first, the largest |w| at pruned positions."""

    def __init__(self, masks):
        super().__init__()
        self.masks, self.revived, self.calls = masks, [], 0

    def on_train_batch_begin(self, batch, logs=None):
        self.calls += 1
        if self.calls > 1:
            self.revived.append(max(float(np.abs(self.model.get_layer(name).kernel.numpy()[~mask]).max())
                                    for name, mask in self.masks.items()))


@self_check("Exercise 1.3 (fine-tuning that keeps the zeros)")
def exercise_1_3(report, fine_tune_masked, model, data):
    """Check ``fine_tune_masked(model, data, *, epochs, batch_size, learning_rate, augment_shift,
    callbacks)`` on a one-shot pruned copy of ``model`` and 128 training images of ``data``."""
    pruned = prune_weights(model, 0.8)
    before = [w.copy() for w in pruned.get_weights()]
    masks = {layer.name: layer.kernel.numpy() != 0 for layer in _kernel_layers(pruned)}
    spy = _Spy(masks)
    tuned = fine_tune_masked(pruned, _small_subset(data), epochs=1, batch_size=32, learning_rate=1e-3,
                             augment_shift=0, callbacks=[spy])
    if not report.check(isinstance(tuned, keras.Model), "returns a Keras model",
                        f"returned {type(tuned).__name__}; return the fine-tuned copy of the model"):
        return
    report.check(tuned is not pruned, "returns a new model",
                 "returned the input model itself: fine-tune a copy (utils.pruning.copy_model)")
    report.check(all(np.array_equal(a, b) for a, b in zip(before, pruned.get_weights())),
                 "the input model is untouched",
                 "the input model's weights changed: copy it first, then train the copy")
    if not report.check(spy.calls >= 4, "trains 4 steps (128 images, batch 32) and passes `callbacks` on",
                        f"the callback passed in saw {spy.calls} training steps, expected 4: train with "
                        "training.train(..., callbacks=[your mask callback, *callbacks])"):
        return
    layers = {layer.name: layer for layer in _kernel_layers(tuned)}
    final = {name: layers[name].kernel.numpy() for name in masks}
    zero_now = all(np.all(final[name][~mask] == 0) for name, mask in masks.items())
    report.check(zero_now, "after fine-tuning every pruned weight is still exactly zero",
                 "some pruned weights are non-zero after fine-tuning: the optimiser revives them. "
                 "Multiply each kernel by its mask after every optimiser step")
    revived = max(spy.revived) if spy.revived else 0.0
    report.check(revived == 0.0,
                 "the pruned weights are zero before every optimiser step, not only at the end",
                 f"between steps a pruned weight reached |w| = {revived:.2g}: re-apply the masks after "
                 "EACH step (a callback's on_train_batch_end), not once after training")
    changed = any(not np.array_equal(final[name][mask], pruned.get_layer(name).kernel.numpy()[mask])
                  for name, mask in masks.items())
    report.check(changed, "the surviving weights were trained",
                 "no surviving weight changed: did you train the copy?")
    kept_now = all(np.all(final[name][mask] != 0) for name, mask in masks.items())
    report.check(kept_now, "no surviving weight was zeroed (the masks come from the pruned model's zeros)",
                 "some weights that survived pruning are zero now: build the masks from the pruned "
                 "model's kernels (kernel != 0) before training")


@self_check("Exercise 1.4 (the real tfmot API)")
def exercise_1_4(report, make_prunable, model):
    """Check ``make_prunable(model, final_sparsity, end_step)`` returns a tfmot-wrapped model."""
    wrapped = make_prunable(model, 0.8, 200)
    report.check(isinstance(wrapped, keras.Model), "returns a Keras model",
                 f"returned {type(wrapped).__name__}; return the result of prune_low_magnitude")
    if not isinstance(wrapped, keras.Model):
        return
    kernels = [layer for layer in wrapped.layers
               if isinstance(getattr(layer, "layer", None), (keras.layers.Dense, keras.layers.Conv2D))]
    report.check(len(kernels) == len(_kernel_layers(model)), "every Dense/Conv2D layer is wrapped",
                 "not every Dense/Conv2D layer is wrapped: pass the whole model to "
                 "tfmot.sparsity.keras.prune_low_magnitude")
    if not kernels:
        return
    schedule = kernels[0].pruning_schedule
    if not report.check(isinstance(schedule, tfmot.sparsity.keras.PolynomialDecay),
                        "schedule is PolynomialDecay (Zhu & Gupta)",
                        f"schedule is {type(schedule).__name__}; use tfmot.sparsity.keras.PolynomialDecay"):
        return
    config = schedule.get_config()["config"]
    report.check(abs(config["final_sparsity"] - 0.8) < 1e-9 and config["end_step"] == 200,
                 "final_sparsity=0.8 and end_step=200 as asked",
                 f"got final_sparsity={config['final_sparsity']}, end_step={config['end_step']}: "
                 "pass the function's arguments through to PolynomialDecay")
    shared = any(getattr(layer, "layer", None) is original
                 for layer in wrapped.layers for original in model.layers)
    report.check(not shared, "the wrapped model does not share layers with the original",
                 "the wrapped model shares its layers with the original model, so training it "
                 "would change the original too. Wrap a copy: utils.pruning.copy_model(model)")


# ------------------------------------------------------------------ verdict conditions


def accuracy_at_least(accuracy, target):
    """The dense baseline is good enough to prune: ``accuracy ≥ target`` (fractions)."""
    return float(accuracy) >= target


def kernels_at_target(sparsities, target, tolerance=0.005):
    """Every kernel's sparsity is within ``tolerance`` of ``target`` (fractions)."""
    sparsities = np.atleast_1d(np.asarray(sparsities, dtype=float))
    return sparsities.size > 0 and bool(np.all(np.abs(sparsities - target) <= tolerance))


def mean_drop_at_most(dense_accuracy, accuracies, max_drop):
    """The mean accuracy over seeds is at most ``max_drop`` below the dense model's (fractions)."""
    return float(dense_accuracy) - float(np.mean(accuracies)) <= max_drop


def near_dense_and_sparse(dense_accuracy, accuracies, zeros_kept, max_drop):
    """:func:`drop_within` holds and ``zeros_kept`` is True: every weight zeroed by pruning is still exactly
    zero after fine-tuning (on every seed)."""
    return bool(zeros_kept) and drop_within(dense_accuracy, accuracies, max_drop)
