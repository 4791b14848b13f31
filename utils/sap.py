"""Stochastic activation pruning (SAP): a randomised defence, and a lesson in how to break one.

Dhillon et al., *Stochastic Activation Pruning for Robust Adversarial Defense*, ICLR 2018,
proposed to prune activations *at random at inference time*. In every layer where it is
applied, with ``h`` the layer's (flattened) activations for one input:

1. form the distribution ``p_j = |h_j| / Σ_k |h_k|`` (large activations are likely to be drawn);
2. draw ``r`` indices from it *with replacement*;
3. keep the drawn activations and zero the others (an activation is kept with probability
   ``1 - (1 - p_j)^r``);
4. rescale each kept activation by ``1 / (1 - (1 - p_j)^r)``, the inverse of its probability of
   being kept, so that the layer's output is unbiased: ``E[output] = h``.

The number of draws ``r`` is given as a ``fraction`` of the layer's number of activations
(``fraction=1.0``: as many draws as activations). Because the pruning is random, a gradient taken
through one forward pass points in a noisy direction, and attacks that use it look weak.

Athalye, Carlini and Wagner (*Obfuscated Gradients Give a False Sense of Security*, ICML 2018)
showed that SAP's robustness largely disappears against an attacker who knows about the
randomness and averages the gradient over many passes — *expectation over transformation*
(EOT): ``utils.adversarial.pgd(..., samples=k)``.

This module is the course's ``dynamic.stochastic_activation_pruning``: pruning that changes per
input at run time.
"""

import numpy as np

from . import keras, tf
from ._core import copy_model, require_model
from ._validate import check_real

__all__ = ["StochasticActivationPruning", "stochastic_activation_pruning", "sap_keep_probability",
           "expected_keep_fraction"]


_DRAWS = "draws per activation; it may exceed 1"


def sap_keep_probability(p, draws):
    """Probability ``1 - (1 - p)^draws`` that an activation with sampling probability ``p`` is kept.

    Computed as ``-expm1(draws · log1p(-p))``, which stays accurate for tiny ``p``.
    """
    return -tf.math.expm1(draws * tf.math.log1p(-p))


@keras.utils.register_keras_serializable(package="utils")
class StochasticActivationPruning(keras.layers.Layer):
    """SAP layer (Dhillon et al., ICLR 2018): keep activations drawn ∝ |a|, rescale the survivors.

    Input: any tensor ``(batch, ...)``; each example is treated separately, all its activations
    (every position and channel of a feature map) form one distribution. Output: same shape.

    Args:
        fraction: number of draws ``r`` as a fraction of the activations per example
            (``r = max(1, round(fraction · d))``); more draws keep more activations.
        exact: ``True`` draws ``r`` indices with replacement, as in the paper's algorithm.
            ``False`` (default) keeps each activation independently with the same probability
            ``1 - (1 - p_j)^r``. Both keep every activation with exactly that probability and
            both are unbiased; the default only drops the weak negative correlation between the
            decisions (the draws share one budget ``r``) and is many times faster on a CPU
            (one uniform number per activation instead of ``r`` categorical draws).

    SAP is a *test-time* defence applied to a trained model: with ``training=True`` the layer
    passes its input through unchanged. At inference every call draws a new random mask.
    """

    def __init__(self, fraction=1.0, exact=False, **kwargs):
        super().__init__(**kwargs)
        self.fraction = check_real(fraction, "fraction", low=0.0, low_open=True, meaning=_DRAWS)
        if not isinstance(exact, bool):
            raise TypeError(f"exact must be True or False, got {exact!r}")
        self.exact = exact

    def call(self, inputs, training=None):
        if training:
            return inputs
        shape = tf.shape(inputs)
        flat = tf.reshape(inputs, (shape[0], -1))
        size = tf.shape(flat)[1]
        draws = tf.maximum(1, tf.cast(tf.round(self.fraction * tf.cast(size, tf.float32)), tf.int32))

        magnitude = tf.abs(flat)
        p = magnitude / tf.maximum(tf.reduce_sum(magnitude, axis=1, keepdims=True), 1e-12)
        keep_probability = sap_keep_probability(p, tf.cast(draws, flat.dtype))
        kept = self._drawn(p, draws) if self.exact else self._kept_independently(keep_probability)
        pruned = tf.where(kept, flat / tf.maximum(keep_probability, 1e-12), tf.zeros_like(flat))
        return tf.reshape(pruned, shape)

    @staticmethod
    def _kept_independently(keep_probability):
        """Keep each activation independently with its exact marginal probability (fast, O(d))."""
        return tf.random.uniform(tf.shape(keep_probability)) < keep_probability

    @staticmethod
    def _drawn(p, draws):
        """Draw ``draws`` indices per row with replacement from ``p``; True where drawn at least once."""
        batch = tf.shape(p)[0]
        # exact zeros get a huge negative logit: never drawn, unless a whole row is zero
        drawn = tf.random.categorical(tf.math.log(tf.maximum(p, 1e-30)), draws, dtype=tf.int32)
        rows = tf.repeat(tf.range(batch), draws)
        positions = tf.stack([rows, tf.reshape(drawn, (-1,))], axis=1)
        counts = tf.scatter_nd(positions, tf.ones_like(rows, dtype=p.dtype), tf.shape(p))
        return counts > 0

    def get_config(self):
        return {**super().get_config(), "fraction": self.fraction, "exact": self.exact}


def _default_sap_layers(model):
    """Names of the hidden layers that end in a ReLU (SAP acts on post-activation values)."""
    names = []
    for layer in model.layers[:-1]:
        activation = getattr(layer, "activation", None)
        if isinstance(layer, keras.layers.ReLU) or activation is keras.activations.relu:
            names.append(layer.name)
    return names


def stochastic_activation_pruning(model, *, after=None, fraction=1.0, exact=False):
    """A copy of a ``Sequential`` model with a :class:`StochasticActivationPruning` layer after some layers.

    Args:
        model: a trained tf_keras ``Sequential`` classifier (not modified; the copy has its own weights).
        after: names of the layers to follow with SAP; default every hidden layer whose output
            is a ReLU (Dhillon et al. prune the post-activation values of every layer).
        fraction, exact: see :class:`StochasticActivationPruning`.

    Returns:
        A new ``Sequential`` model whose predictions are random: call it several times (or use
        ``utils.adversarial.robust_accuracy(..., eval_samples=k)``) to average over the randomness.
    """
    require_model(model)
    if not isinstance(model, keras.Sequential):
        raise ValueError(f"stochastic_activation_pruning needs a keras.Sequential model, got "
                         f"{type(model).__name__} {model.name!r}")
    names = [layer.name for layer in model.layers]
    after = _default_sap_layers(model) if after is None else list(after)
    unknown = [name for name in after if name not in names]
    if unknown:
        raise ValueError(f"no layer named {unknown} in {model.name!r}; its layers are {names}")
    if not after:
        raise ValueError(f"{model.name!r} has no hidden ReLU layer; name the layers with after=[...]")

    copy = copy_model(model)
    sap = keras.Sequential([keras.Input(shape=model.input_shape[1:])], name=f"{model.name}_sap")
    for layer in copy.layers:
        sap.add(layer)
        if layer.name in after:
            sap.add(StochasticActivationPruning(fraction, exact, name=f"sap_{layer.name}"))
    return sap


def expected_keep_fraction(x, fraction=1.0):
    """Mean share of non-zero activations SAP keeps for activations ``x`` ``(n, d)``, in expectation.

    Useful to relate ``fraction`` to how sparse the pruned activations are:
    ``Σ_j 1{h_j ≠ 0} (1 - (1 - p_j)^r) / d`` averaged over examples.
    """
    fraction = check_real(fraction, "fraction", low=0.0, low_open=True, meaning=_DRAWS)
    x = np.abs(np.asarray(x, dtype=np.float64)).reshape(len(x), -1)
    p = x / np.maximum(x.sum(axis=1, keepdims=True), 1e-12)
    draws = max(1, round(fraction * x.shape[1]))
    return float(np.mean(-np.expm1(draws * np.log1p(-p))))
