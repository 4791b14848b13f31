"""Dynamic pruning: masks that change during training, or per input at run time.

The field's definitions (the source document muddles them):

* **Static** pruning fixes the pruned structure once — before training (a random sparse
  mask, a lottery ticket) or after it (one-shot, gradual or iterative magnitude pruning
  followed by fine-tuning). The mask never changes afterwards.
* **Dynamic** pruning lets the structure change

  - *during training*: dynamic sparse training keeps the number of weights fixed but
    moves them — it drops weak connections and grows new ones elsewhere. SET
    (Mocanu et al., *Nature Communications* 2018) regrows at random positions; RigL
    (Evci et al., ICML 2020) regrows where the dense gradient is largest;
    :class:`DynamicSparseTraining` implements both as a Keras callback;
  - *per input, at inference*: run-time channel gating keeps, for each input, only the
    channels that matter for *that* input, as in Feature Boosting and Suppression
    (Gao et al., ICLR 2019) or Runtime Neural Pruning (Lin et al., NeurIPS 2017);
    :class:`TopKChannelGate` and :func:`gate_channels` implement a simple version.

Masks are plain NumPy boolean arrays, one per kernel, in a dict keyed by layer name:
``{"dense1": array of shape (784, 300), ...}``; ``True`` = the weight is active (kept).
Only the kernels of ``Dense`` / ``Conv`` layers are masked, as in :mod:`utils.pruning`.
"""

import math

import numpy as np
import pandas as pd

from . import keras, tf
from ._core import (
    FixedMask,
    apply_masks,
    classification_loss,
    copy_model,
    kernel_masks,
    mask_sparsity,
    outputs_logits,
    prunable_layers,
    require_model,
)
from ._validate import check_choice, check_fraction, check_int
from .masks import sparsity_per_layer
from .metrics import accuracy

# FixedMask, apply_masks and mask_sparsity live in utils._core (one mask-keeping mechanism for
# the whole course); they are listed here because dynamic sparse training builds on them.
masks_from_weights = kernel_masks
"""The masks a pruned model already has (``True`` = non-zero weight): :func:`utils._core.kernel_masks`."""

__all__ = [
    "random_masks", "masks_from_weights", "apply_masks", "mask_sparsity",
    "cosine_drop_fraction", "drop_and_grow", "FixedMask", "DynamicSparseTraining",
    "top_k_gate", "TopKChannelGate", "gate_channels", "channel_usage", "gating_sweep",
    "class_dependence", "shuffled_usage",
]


# ----------------------------------------------------------------------------- masks

def random_masks(model, sparsity, *, seed=0):
    """Random keep-masks with an exact sparsity: the starting point of sparse training.

    Args:
        model: a tf_keras model.
        sparsity: fraction in [0, 1) of each kernel's weights to switch off, or a dict
            ``{layer_name: sparsity}`` (layers not named stay dense).
        seed: seed of the NumPy random generator (same seed → same masks).

    Returns:
        dict ``{layer_name: bool array of the kernel's shape}``; in each kernel exactly
        ``round(sparsity * size)`` entries are ``False``, at uniformly random positions.
        (This is the "uniform" sparsity distribution; SET and RigL also describe
        Erdős–Rényi variants that give small layers more weights.)
    """
    names = [layer.name for layer in prunable_layers(model)]
    if not names:
        raise ValueError(f"model {model.name!r} has no Dense or Conv layers to mask")
    targets = sparsity_per_layer(names, sparsity)
    rng = np.random.default_rng(seed)
    masks = {}
    for layer in prunable_layers(model):
        size = int(np.prod(layer.kernel.shape))
        keep = np.ones(size, dtype=bool)
        keep[rng.choice(size, int(round(targets[layer.name] * size)), replace=False)] = False
        masks[layer.name] = keep.reshape(layer.kernel.shape)
    return masks


# ------------------------------------------------------------- drop and grow (NumPy)

def cosine_drop_fraction(step, *, initial, end_step):
    """RigL's update schedule: the fraction of active weights replaced at ``step``.

    ``f(t) = initial / 2 * (1 + cos(pi * t / end_step))`` for ``t <= end_step``, and 0
    afterwards (Evci et al., ICML 2020, eq. 1): many connections move early in training,
    few near the end, none after ``end_step`` so the final mask can settle.
    """
    initial = check_fraction(initial, "initial drop fraction", low_open=True)
    check_int(end_step, "end_step", minimum=1)
    if step > end_step:
        return 0.0
    return initial / 2 * (1 + math.cos(math.pi * step / end_step))


def drop_and_grow(weights, mask, n, grow_scores):
    """One dynamic-sparse-training update of one kernel: move ``n`` connections.

    1. **Drop** the ``n`` *active* weights of smallest ``|weight|`` (magnitude pruning).
    2. **Grow** ``n`` connections among the positions that were *inactive before this
       update*, those with the largest ``grow_scores``: random numbers for SET,
       ``|dense gradient|`` for RigL. A just-dropped weight is never regrown at once.

    Args:
        weights: the kernel, any shape.
        mask: bool array of the same shape, ``True`` = active.
        n: number of connections to move (a non-negative int, at most the number of
            active and of inactive positions).
        grow_scores: array of the same shape; larger = grow first.

    Returns:
        The new mask (a new array). It has exactly as many active entries as ``mask``.
        Ties are broken by position, so the update is deterministic.
    """
    weights, mask, grow_scores = np.asarray(weights), np.asarray(mask), np.asarray(grow_scores)
    if mask.dtype != bool:
        raise TypeError(f"mask must be a boolean array, got dtype {mask.dtype}")
    if weights.shape != mask.shape or grow_scores.shape != mask.shape:
        raise ValueError(f"weights {weights.shape}, mask {mask.shape} and grow_scores "
                         f"{grow_scores.shape} must have the same shape")
    active, inactive = np.flatnonzero(mask), np.flatnonzero(~mask)
    n = check_int(n, "n", minimum=0)
    if n > min(active.size, inactive.size):
        raise ValueError(f"cannot move {n} connections: the kernel has {active.size} active and "
                         f"{inactive.size} inactive positions")
    new = mask.ravel().copy()
    by_magnitude = active[np.argsort(np.abs(weights.ravel()[active]), kind="stable")]
    new[by_magnitude[:n]] = False                                   # drop the weakest
    by_score = inactive[np.argsort(-grow_scores.ravel()[inactive], kind="stable")]
    new[by_score[:n]] = True                                        # grow the most promising
    return new.reshape(mask.shape)


# ------------------------------------------------------------------------- callbacks

class DynamicSparseTraining(FixedMask):
    """Dynamic sparse training (SET / RigL) as a Keras callback: constant sparsity, moving mask.

    Every ``update_every`` optimiser steps, before ``end_step``, each masked kernel

    1. drops the fraction ``f(t)`` of its active weights with the smallest magnitude, and
    2. grows the same number of connections at positions that were inactive:

       * ``method="set"`` — at random positions (Mocanu et al., *Nature Communications* 2018:
         Sparse Evolutionary Training);
       * ``method="rigl"`` — where ``|∂loss/∂w|`` of the *dense* gradient is largest
         (Evci et al., *Rigging the Lottery*, ICML 2020). The gradient is computed with
         ``tf.GradientTape`` on a random batch of ``gradient_data`` — the masked-out weights
         are zero, but their gradient is not, and it says where a new connection would
         reduce the loss fastest.

    Grown weights start at **zero** (RigL's choice; it leaves the network's function
    unchanged at the moment of the update, and training then moves them). The SET paper
    initialised new weights randomly instead. The fraction follows RigL's cosine schedule
    :func:`cosine_drop_fraction`, starting at ``drop_fraction`` (SET used a constant
    fraction; the cosine decay lets the mask settle by the end). Between updates the
    mask is fixed and enforced after every step, exactly as in :class:`FixedMask`.

    Args:
        masks: the initial masks, e.g. ``random_masks(model, 0.9)``.
        method: ``"set"`` or ``"rigl"``.
        update_every: steps between mask updates (RigL's ΔT).
        end_step: no updates after this step (RigL used 75 % of training).
        drop_fraction: initial fraction of each kernel's active weights to move, in (0, 1)
            (RigL and SET used 0.3). It must not exceed what the inactive positions can take:
            ``drop_fraction * density <= sparsity`` in every kernel.
        gradient_data: ``(x, y)`` arrays for RigL's gradient (integer labels, softmax model);
            required for ``"rigl"``, unused by ``"set"``.
        gradient_batch_size: examples per gradient batch (RigL).
        seed: seed for the random regrowth (SET) and the gradient batches (RigL).
        from_logits: for RigL's loss: ``None`` detects whether the model outputs logits.
        update: the one-kernel update ``update(weights, mask, n, grow_scores) -> new mask``;
            default :func:`drop_and_grow` (Lab 03 passes the student's version). Its result is
            checked: a bool array of the kernel's shape with the same number of active weights.

    Attributes:
        updates: a list with one dict per kernel and update:
            ``{"step", "layer", "fraction", "moved"}``.

    Note: Adam's running averages are kept for every position, so a regrown weight's first
    step uses the gradient history of that position — a detail the papers (which used
    momentum SGD) handle slightly differently.
    """

    def __init__(self, masks, *, method, update_every, end_step, drop_fraction=0.3,
                 gradient_data=None, gradient_batch_size=256, seed=0, from_logits=None,
                 update=None):
        super().__init__(masks)
        if update is not None and not callable(update):
            raise TypeError(f"update must be a function like drop_and_grow, got {type(update).__name__}")
        self.update = drop_and_grow if update is None else update
        check_choice(method, "method ('set': random regrowth, 'rigl': gradient regrowth)", ("set", "rigl"))
        for name, value in (("update_every", update_every), ("end_step", end_step),
                            ("gradient_batch_size", gradient_batch_size)):
            check_int(value, name, minimum=1)
        self.drop_fraction = check_fraction(drop_fraction, "drop_fraction", low_open=True)
        for name, mask in self.masks.items():
            density = mask.mean()
            if self.drop_fraction * density > 1 - density + 1e-12:
                raise ValueError(
                    f"drop_fraction={drop_fraction} is too large for {name!r}: it would move "
                    f"{self.drop_fraction * density:.0%} of the kernel, but only {1 - density:.0%} "
                    "of the positions are free to grow into. Use a smaller drop_fraction "
                    "or a sparser mask.")
        if method == "rigl":
            if gradient_data is None:
                raise ValueError("method='rigl' needs gradient_data=(x, y) to compute the dense gradient")
            x, y = gradient_data
            if len(x) != len(y) or len(x) == 0:
                raise ValueError(f"gradient_data must be two non-empty arrays of equal length, "
                                 f"got {len(x)} and {len(y)}")
        self.method, self.update_every, self.end_step = method, int(update_every), int(end_step)
        self.gradient_data, self.gradient_batch_size = gradient_data, int(gradient_batch_size)
        self.rng = np.random.default_rng(seed)
        self.from_logits = from_logits
        self.updates = []

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)   # step += 1, re-apply the masks
        if self.step % self.update_every == 0 and self.step < self.end_step:
            self.update_masks()

    def _dense_gradients(self, layers):
        """``|∂loss/∂kernel|`` for each layer on a random batch of ``gradient_data``."""
        x, y = self.gradient_data
        pick = self.rng.choice(len(x), min(self.gradient_batch_size, len(x)), replace=False)
        kernels = [layer.kernel for layer in layers]
        from_logits = outputs_logits(self.model, self.from_logits)
        with tf.GradientTape() as tape:
            loss = classification_loss(y[pick], self.model(x[pick], training=True), from_logits=from_logits,
                                       reduction="mean")
        return [np.abs(g.numpy()) for g in tape.gradient(loss, kernels)]

    def update_masks(self):
        """Drop and regrow in every masked kernel now (called every ``update_every`` steps)."""
        fraction = cosine_drop_fraction(self.step, initial=self.drop_fraction, end_step=self.end_step)
        layers = [self.model.get_layer(name) for name in self.masks]
        if self.method == "rigl":
            scores = self._dense_gradients(layers)
        else:
            scores = [self.rng.random(layer.kernel.shape) for layer in layers]
        for layer, score in zip(layers, scores):
            mask = self.masks[layer.name]
            n = int(round(fraction * np.count_nonzero(mask)))
            new = np.asarray(self.update(layer.kernel.numpy(), mask.copy(), n, score))
            if new.shape != mask.shape or new.dtype != bool or new.sum() != mask.sum():
                raise ValueError(f"the drop-and-grow update returned a mask of shape {new.shape}, dtype "
                                 f"{new.dtype} with {int(new.sum())} active weights for {layer.name!r}; "
                                 f"expected a bool array of shape {mask.shape} with {int(mask.sum())}")
            self.masks[layer.name] = new
            self.updates.append({"step": self.step, "layer": layer.name, "fraction": fraction, "moved": n})
        if getattr(self, "_prepared_for", None) is self.model:
            self.load_masks()
        self.apply()  # dropped weights become zero; grown ones are zero already


# ------------------------------------------------------------ run-time channel gating

def top_k_gate(activations, k):
    """NumPy top-k channel gate: keep each input's ``k`` channels of largest mean ``|activation|``.

    ``activations`` has shape ``(n, height, width, channels)``; the saliency of a channel for one
    input is its mean magnitude over height and width, ties go to the lower channel index (as in
    ``tf.math.top_k``). Returns a new array of the same shape with the other channels set to zero.
    This is the reference of Lab 03's Exercise 3.3; :class:`TopKChannelGate` runs it (or a student's
    version of it) inside a Keras model when given ``gate=``.
    """
    activations = np.asarray(activations)
    saliency = np.abs(activations).mean(axis=(1, 2))                      # (n, channels)
    top = np.argsort(-saliency, axis=1, kind="stable")[:, :k]             # (n, k)
    gate = np.zeros_like(saliency)
    np.put_along_axis(gate, top, 1.0, axis=1)
    return activations * gate[:, np.newaxis, np.newaxis, :]


class TopKChannelGate(keras.layers.Layer):
    """Per-input channel gating: keep each input's ``k`` most active channels, zero the rest.

    For an activation ``x`` of shape ``(batch, height, width, channels)`` the saliency of
    channel ``c`` for input ``i`` is its mean magnitude ``mean_{h,w} |x[i, h, w, c]|``; the
    ``k`` channels of largest saliency pass unchanged and the others are set to zero.
    Different inputs keep different channels — the mask is *dynamic*.

    This follows the spirit of Feature Boosting and Suppression (Gao et al., ICLR 2019),
    with one honest difference: FBS *predicts* the saliency from the layer's input with a
    small learned layer, so the suppressed channels need never be computed. Here the
    saliency is measured on the finished activation, so every channel is computed and
    then zeroed — the gate shows *how many* channels an input could skip, but it saves no
    time by itself. Real savings need the gate before the convolution and kernels that skip
    the gated channels.

    Args:
        k: channels kept per input (1 ≤ k ≤ channels).
        gate: optional NumPy function ``gate(activations, k) -> gated activations`` (for example
            :func:`top_k_gate` or a student's version) that decides the gate instead of the built-in
            TensorFlow ranking; it runs through ``tf.numpy_function``, and the gradient flows through
            the channels it kept, as for ``x * gate``.
    """

    def __init__(self, k, gate=None, **kwargs):
        super().__init__(**kwargs)
        self.k = check_int(k, "k (channels kept per input)", minimum=1)
        self.gate_fn = gate

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"TopKChannelGate needs 4-D activations (batch, h, w, channels), "
                             f"got shape {tuple(input_shape)}")
        if self.k > input_shape[-1]:
            raise ValueError(f"k={self.k} exceeds the layer's {input_shape[-1]} channels")
        super().build(input_shape)

    def call(self, x):
        if self.gate_fn is not None:
            return self._call_numpy(x)
        saliency = tf.reduce_mean(tf.abs(x), axis=[1, 2])                 # (batch, channels)
        top = tf.math.top_k(saliency, k=self.k).indices                   # (batch, k)
        gate = tf.reduce_sum(tf.one_hot(top, tf.shape(x)[-1], dtype=x.dtype), axis=1)
        return x * gate[:, tf.newaxis, tf.newaxis, :]

    def _call_numpy(self, x):
        k, fn = self.k, self.gate_fn

        def run(a):
            return np.asarray(fn(a, k), dtype=a.dtype)

        @tf.custom_gradient
        def gated(a):
            y = tf.numpy_function(run, [a], a.dtype)
            y.set_shape(a.shape)
            kept = tf.cast(tf.reduce_any(tf.not_equal(y, 0), axis=[1, 2], keepdims=True), a.dtype)

            def grad(upstream):
                return upstream * kept        # d(x * gate)/dx = gate, for the channels the gate kept
            return y, grad
        return gated(x)

    def get_config(self):
        return {**super().get_config(), "k": self.k}


def gate_channels(model, after, k, *, name="gate", gate=None):
    """A copy of a ``Sequential`` CNN with a :class:`TopKChannelGate` inserted after layer ``after``.

    Args:
        model: a ``keras.Sequential`` model (never modified; its weights are copied).
        after: name of the layer whose output is gated, e.g. ``"relu2"`` or ``"conv2"``.
            Gate *after* the non-linearity, so that the saliency is the activation the next
            layer actually sees.
        k: channels kept per input.
        name: the gate layer's name.
        gate: optional NumPy gate function for :class:`TopKChannelGate` (default: its TensorFlow ranking).

    Returns:
        A new ``Sequential`` model: the same layers and weights, plus the gate.
    """
    require_model(model)
    if not isinstance(model, keras.Sequential):
        raise TypeError(f"gate_channels needs a keras.Sequential model, got {type(model).__name__}")
    names = [layer.name for layer in model.layers]
    if after not in names:
        raise ValueError(f"no layer named {after!r}; the model's layers are {names}")
    clone = copy_model(model)
    gated = keras.Sequential(name=f"{model.name}_gated")
    gated.add(keras.Input(shape=model.input_shape[1:]))
    for layer in clone.layers:
        gated.add(layer)
        if layer.name == after:
            gated.add(TopKChannelGate(k, gate=gate, name=name))
    return gated


def channel_usage(gated, x, *, gate="gate", batch_size=512):
    """Which channels each input uses at the gate: bool array ``(n, channels)``.

    A channel counts as *used* by an input when any of its gated activations is non-zero.
    Besides the gated-off channels, a ReLU channel can also be entirely zero on its own,
    so an input may use fewer than ``k`` channels.
    """
    require_model(gated, "gated")
    probe = keras.Model(gated.inputs, gated.get_layer(gate).output)
    outputs = [probe(x[i:i + batch_size], training=False).numpy() for i in range(0, len(x), batch_size)]
    return np.any(np.concatenate(outputs) != 0, axis=(1, 2))


def gating_sweep(model, after, ks, x, y, *, gate=None):
    """Accuracy and skipped channels of run-time gating for several ``k``.

    Args:
        model: a trained ``Sequential`` CNN.
        after: the gated layer (see :func:`gate_channels`).
        ks: channel counts to keep per input, e.g. ``[32, 24, 16, 8]``.
        x, y: evaluation inputs and integer labels.
        gate: optional NumPy gate function (see :class:`TopKChannelGate`).

    Returns:
        ``pandas.DataFrame`` with one row per ``k``: ``k``, ``skipped`` (mean fraction of
        the layer's channels an input does not use, see :func:`channel_usage`) and
        ``accuracy``.
    """
    rows = []
    for k in ks:
        gated = gate_channels(model, after, k, gate=gate)
        rows.append({"k": k, "skipped": 1.0 - float(channel_usage(gated, x).mean()),
                     "accuracy": accuracy(gated, x, y)})
    return pd.DataFrame(rows)


def class_dependence(usage, y):
    """How much a gate's channel choices depend on the class: the share of the variance of
    channel usage that the class explains (η², averaged over the channels that vary).

    For channel ``j`` with usage ``u_ij ∈ {0, 1}`` over inputs ``i``, η²_j is the variance of
    the per-class means of ``u_ij`` (weighted by the class sizes) divided by the variance of
    ``u_ij``: 1 when the class decides whether the channel is used, close to 0 when the choice
    is unrelated to the class. A gate that draws its ``k`` channels at random scores about
    ``(classes - 1) / inputs``, by chance alone. Channels used by every input or by none
    (variance 0) are left out.

    Args:
        usage: bool array ``(inputs, channels)``, e.g. from :func:`channel_usage`.
        y: integer class labels ``(inputs,)``.

    Returns:
        The mean η² over the varying channels, a float in [0, 1] (``nan`` if none varies).
    """
    usage = np.asarray(usage, dtype=float)
    y = np.asarray(y)
    if usage.ndim != 2 or y.shape != (len(usage),):
        raise ValueError(f"need usage (inputs, channels) and one label per input, got shapes "
                         f"{usage.shape} and {y.shape}")
    total = usage.var(axis=0)                                   # (channels,)
    classes, counts = np.unique(y, return_counts=True)
    class_means = np.stack([usage[y == c].mean(axis=0) for c in classes])    # (classes, channels)
    between = (counts[:, None] * (class_means - usage.mean(axis=0)) ** 2).sum(axis=0) / len(y)
    varying = total > 0
    return float(np.mean(between[varying] / total[varying])) if varying.any() else float("nan")


def shuffled_usage(usage, *, seed=0):
    """The control for :func:`class_dependence`: a gate that ignores the input's content.

    Every input keeps as many channels as in ``usage``, but which ones is drawn at random
    (each input's row is permuted independently), so the per-input count of used channels is
    unchanged while any link between the class and the choice is cut.

    Args:
        usage: bool array ``(inputs, channels)``.
        seed: seed of the random permutations.

    Returns:
        A new bool array of the same shape.
    """
    usage = np.asarray(usage, dtype=bool)
    if usage.ndim != 2:
        raise ValueError(f"usage must be (inputs, channels), got shape {usage.shape}")
    rng = np.random.default_rng(seed)
    return np.stack([row[rng.permutation(len(row))] for row in usage])
