"""The bottom layer of ``utils``: models, prunable layers, tfmot wrappers, masks, classifier outputs.

Every other module builds on these few definitions, so each idea exists exactly once:

* :func:`require_model` — the one check that an argument is a tf_keras model;
* :func:`prunable_layers`, :func:`is_pruning_wrapper`, :func:`strip`, :func:`stripped` —
  which layers carry prunable kernels, and tfmot's wrappers around them;
* :func:`copy_model` — an independent copy (``clone_model`` alone resets the weights);
* :func:`kernel_masks`, :func:`apply_masks`, :class:`FixedMask` — the masks of a pruned
  model and the **one** mechanism that keeps pruned weights at zero while training;
* :func:`outputs_logits`, :func:`class_probabilities`, :func:`classification_loss` — whether
  a classifier ends in a softmax or outputs logits, so that attacks and metrics are right
  for both kinds of model.

This module imports only TensorFlow/tf_keras, tfmot and the framework-neutral modules
:mod:`utils._validate`, :mod:`utils.masks` and :mod:`utils._keras_internals`.
"""

import logging

import numpy as np
import tensorflow_model_optimization as tfmot

from . import keras, tf
from ._keras_internals import PRUNING_WRAPPER
from .masks import nonzero_mask

__all__ = [
    "PRUNABLE_TYPES", "require_model", "is_pruning_wrapper", "unwrap", "prunable_layers", "copy_model",
    "strip", "stripped", "kernel_masks", "check_masks", "apply_masks", "mask_sparsity", "FixedMask",
    "SlowCallbackFilter", "outputs_logits", "class_probabilities", "classification_loss",
]

PRUNABLE_TYPES = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D)


# ------------------------------------------------------------------ models and layers

def require_model(model, name="model"):
    """Raise TypeError unless ``model`` is a tf_keras (Keras 2) model; return it."""
    if not isinstance(model, keras.Model):
        kind = type(model).__module__ + "." + type(model).__name__
        hint = ""
        if kind.startswith("keras."):
            hint = (" It looks like a Keras 3 model; build it with `from utils import keras` "
                    "(tf_keras) instead of `import keras`.")
        raise TypeError(f"{name} must be a tf_keras model (utils.keras.Model), got {kind}.{hint}")
    return model


def is_pruning_wrapper(layer):
    """``True`` if ``layer`` is tfmot's pruning wrapper (made by ``prune_low_magnitude``)."""
    return isinstance(layer, PRUNING_WRAPPER)


def unwrap(layer):
    """The layer inside a tfmot pruning wrapper, or ``layer`` itself."""
    return layer.layer if is_pruning_wrapper(layer) else layer


def prunable_layers(model):
    """The layers whose kernels are pruned: ``Dense`` and ``Conv1D/2D`` (inside tfmot wrappers too)."""
    require_model(model)
    return [unwrap(layer) for layer in model.layers if isinstance(unwrap(layer), PRUNABLE_TYPES)]


def copy_model(model):
    """An independent copy of ``model``: same architecture and weights, no shared variables.

    ``keras.models.clone_model`` alone gives *freshly initialised* weights (the source
    document's bug); the weights are copied explicitly.
    """
    require_model(model)
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def strip(model):
    """Remove tfmot's pruning wrappers (``tfmot.sparsity.keras.strip_pruning``) for export.

    The returned model has the original architecture and the sparse weights; its size on
    disk shrinks only after compression (see :func:`utils.metrics.gzipped_size`).
    """
    require_model(model)
    return tfmot.sparsity.keras.strip_pruning(model)


def stripped(model):
    """``model`` without tfmot pruning wrappers: :func:`strip` if it has any, else ``model`` itself."""
    require_model(model)
    return strip(model) if any(is_pruning_wrapper(layer) for layer in model.layers) else model


# ------------------------------------------------------------------ masks

def kernel_masks(model):
    """The masks a pruned model already has: ``{layer_name: bool array}``, ``True`` = non-zero weight."""
    return {layer.name: nonzero_mask(layer.kernel.numpy()) for layer in prunable_layers(model)}


def check_masks(model, masks):
    """Check ``masks`` against ``model``'s prunable kernels; return ``{name: layer}`` for the masked ones."""
    if not isinstance(masks, dict) or not masks:
        raise TypeError("masks must be a non-empty dict {layer_name: boolean array}")
    layers = {layer.name: layer for layer in prunable_layers(model)}
    for name, mask in masks.items():
        if name not in layers:
            raise ValueError(f"masks has layer {name!r}, but the model's prunable layers are {list(layers)}")
        if np.asarray(mask).dtype != bool:
            raise TypeError(f"mask for {name!r} must be boolean (True = keep), "
                            f"got dtype {np.asarray(mask).dtype}")
        shape = tuple(layers[name].kernel.shape)
        if np.shape(mask) != shape:
            raise ValueError(f"mask for {name!r} has shape {np.shape(mask)}, its kernel has shape {shape}")
    return {name: layers[name] for name in masks}


def apply_masks(model, masks):
    """Zero the masked-out kernel weights of ``model`` in place (``kernel *= mask``); return ``model``."""
    layers = check_masks(require_model(model), masks)
    for name, mask in masks.items():
        kernel = layers[name].kernel
        kernel.assign(kernel * tf.cast(mask, kernel.dtype))
    return model


def mask_sparsity(masks):
    """Fraction of ``False`` (switched-off) entries over all masks together."""
    total = sum(np.size(m) for m in masks.values())
    return float(sum(np.size(m) - np.count_nonzero(m) for m in masks.values()) / total)


class SlowCallbackFilter(logging.Filter):
    """Hide Keras' "callback is slow compared to the batch time" warning — and only it.

    A small model's training step takes a few milliseconds, so on a busy machine the mask
    callback can take about as long and Keras warns. The warning is harmless here (the
    callback is needed for correctness).
    """

    def filter(self, record):
        return "slow compared to the batch time" not in record.getMessage()


_QUIET = SlowCallbackFilter()


class FixedMask(keras.callbacks.Callback):
    """Train with sparse kernels whose mask never changes: the pruned weights stay at zero.

    Before training and after every optimiser step the masked-out weights are set back to
    zero, so the optimiser can never revive them. This is the *retrain* step of Han et al.
    (NeurIPS 2015) and the one mask-keeping mechanism of the course: fine-tuning a pruned
    model (:func:`utils.pruning.fine_tune`), adversarial fine-tuning
    (:func:`utils.adversarial.prune_and_fine_tune`), training a random sparse network or a
    lottery ticket (:mod:`utils.prune_retrain`) and dynamic sparse training
    (:class:`utils.dynamic.DynamicSparseTraining`, which moves the mask) all use it.

    Args:
        masks: dict ``{layer_name: bool array}`` (``True`` = keep), one per masked kernel,
            e.g. ``kernel_masks(pruned_model)``.

    Note: the optimiser still computes updates for the zeroed weights (they are discarded);
    that costs time but keeps the model an ordinary dense Keras model. Real sparse training
    would skip them.
    """

    def __init__(self, masks):
        super().__init__()
        if not isinstance(masks, dict) or not masks:
            raise TypeError("masks must be a non-empty dict {layer_name: boolean array}")
        for name, mask in masks.items():
            if np.asarray(mask).dtype != bool:
                raise TypeError(f"mask for {name!r} must be boolean (True = keep), "
                                f"got dtype {np.asarray(mask).dtype}")
        self.masks = {name: np.array(mask, dtype=bool) for name, mask in masks.items()}
        self.step = 0

    def _prepare(self):
        """Check the masks against the model; keep them as TF variables for a fast, compiled update."""
        layers = check_masks(self.model, self.masks)
        self._kernels = [layers[name].kernel for name in self.masks]
        self._mask_variables = [tf.Variable(tf.zeros_like(kernel), trainable=False)
                                for kernel in self._kernels]
        self._multiply = tf.function(self._multiply_kernels)   # traced once, then cheap per step
        self._prepared_for = self.model
        self.load_masks()

    def load_masks(self):
        """Copy the NumPy masks into the TF variables (call after changing ``self.masks``)."""
        for variable, mask in zip(self._mask_variables, self.masks.values()):
            variable.assign(tf.cast(mask, variable.dtype))

    def _multiply_kernels(self):
        for kernel, mask in zip(self._kernels, self._mask_variables):
            kernel.assign(kernel * mask)

    def apply(self):
        """Zero the masked-out weights of every masked kernel now (``kernel *= mask``)."""
        if getattr(self, "_prepared_for", None) is not self.model:
            self._prepare()
        self._multiply()

    def on_train_begin(self, logs=None):
        self._prepare()
        self.apply()
        tf.get_logger().addFilter(_QUIET)

    def on_train_end(self, logs=None):
        tf.get_logger().removeFilter(_QUIET)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self.apply()

    def sparsity(self):
        """Fraction of masked-out weights over all masked kernels."""
        return mask_sparsity(self.masks)


# ------------------------------------------------------------------ classifier outputs

def _activation_name(layer):
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None) if activation is not None else None


def outputs_logits(model, from_logits=None):
    """Whether ``model``'s outputs are logits (``True``) or softmax probabilities (``False``).

    The course's models end in ``Dense(..., activation="softmax")``; many Keras models instead
    output logits and train with ``from_logits=True``. Attacks, membership inference and
    calibration must know which, or they silently compute the wrong loss.

    Args:
        model: a tf_keras classifier.
        from_logits: ``None`` to detect it from the last layer, or ``True``/``False`` to say so.

    Detection: a last layer with a softmax activation (or a ``Softmax`` layer) → probabilities;
    a last layer with a linear activation → logits; a layer with a boolean attribute
    ``outputs_logits`` (e.g. :class:`utils.calibration.TemperatureScaling`) says which itself.
    Anything else (a sigmoid, a custom layer) raises ValueError asking for ``from_logits=``.
    """
    require_model(model)
    if from_logits is not None:
        if not isinstance(from_logits, bool):
            raise TypeError(f"from_logits must be None, True or False, got {from_logits!r}")
        return from_logits
    last = unwrap(model.layers[-1])
    while hasattr(last, "layers") and last.layers:   # a nested model: look at its last layer
        last = unwrap(last.layers[-1])
    declared = getattr(last, "outputs_logits", None)   # a layer may say what it outputs
    if isinstance(declared, bool):
        return declared
    if isinstance(last, keras.layers.Softmax) or _activation_name(last) == "softmax":
        return False
    if _activation_name(last) == "linear":
        return True
    raise ValueError(f"cannot tell whether {model.name!r} outputs logits or probabilities: its last "
                     f"layer {last.name!r} ({type(last).__name__}, activation "
                     f"{_activation_name(last)!r}) is neither softmax nor linear. Pass from_logits=True "
                     "(logits) or from_logits=False (softmax probabilities).")


def class_probabilities(model, x, *, from_logits=None, batch_size=512):
    """Class probabilities of ``model`` for ``x``, shape ``(n, num_classes)``, for either kind of model.

    Calls the model in inference mode, batch by batch (``model.predict`` would re-trace a
    graph for every new model a lab creates), and applies a softmax when the model outputs
    logits (see :func:`outputs_logits`).
    """
    logits = outputs_logits(model, from_logits)
    x = np.asarray(x)
    outputs = [model(x[i:i + batch_size], training=False) for i in range(0, len(x), batch_size)]
    if not outputs:
        raise ValueError("x is empty: no examples to predict")
    outputs = tf.concat(outputs, axis=0)
    if logits:
        return tf.nn.softmax(outputs).numpy()
    probs = outputs.numpy()
    if probs.ndim != 2 or np.any(probs < -1e-6) or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(f"the outputs of {model.name!r} are not class probabilities (rows must be "
                         "non-negative and sum to 1); if the model outputs logits, pass from_logits=True")
    return probs


def classification_loss(y, outputs, *, from_logits, reduction="sum"):
    """Sparse categorical cross-entropy of integer labels ``y`` and the model's ``outputs`` (a tensor).

    ``from_logits`` must match the model (see :func:`outputs_logits`); ``reduction`` is
    ``"sum"``, ``"mean"`` or ``"none"`` (one loss per example).
    """
    losses = keras.losses.sparse_categorical_crossentropy(y, outputs, from_logits=from_logits)
    if reduction == "none":
        return losses
    if reduction == "sum":
        return tf.reduce_sum(losses)
    if reduction == "mean":
        return tf.reduce_mean(losses)
    raise ValueError(f"reduction must be 'sum', 'mean' or 'none', got {reduction!r}")
