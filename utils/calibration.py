"""Recalibration by temperature scaling (Guo et al., *On Calibration of Modern Neural Networks*, ICML 2017).

A classifier is *calibrated* when its confidence matches its accuracy: among the predictions
made with 80 % confidence, 80 % are right (measure it with
:func:`utils.metrics.expected_calibration_error` and draw it with
:func:`utils.plots.reliability_diagram`). Training, pruning and fine-tuning all change
calibration, usually towards over-confidence.

**Temperature scaling** is the simplest fix that works well in Guo et al.'s comparison. It
divides the logits ``z`` by one number ``T > 0`` before the softmax:

    q = softmax(z / T)

``T > 1`` softens the probabilities (less confident), ``T < 1`` sharpens them, ``T = 1`` changes
nothing. ``T`` is fitted on held-out *validation* data by minimising the negative
log-likelihood (NLL); the model's weights stay as they are. Dividing every logit by the same
positive number never changes which class is largest, so **the predicted classes — and the
accuracy — are unchanged**; only the confidence moves.

The course's models output softmax *probabilities* ``p``, not logits. That is no obstacle:
``log p = z - logsumexp(z)``, and the softmax ignores a constant added to every logit, so

    softmax(log p / T) = softmax(z / T).

The one numerical trap is ``log 0``: a very confident float32 softmax can return exactly 0 for
the other class. We floor probabilities at the smallest positive normal float32 number
(``FLOOR``, about 1.2e-38, so ``log p >= -87.3``) before taking the logarithm; only
probabilities that float32 could not represent anyway are affected.

The functions:

* :func:`fit_temperature` — the fitted ``T`` for a model on validation data;
* :func:`temperature_scaled` — a new tf_keras model that outputs the recalibrated
  probabilities (use it like any other model with :mod:`utils.metrics`);
* :func:`apply_temperature` — the same recalibration on an array of probabilities;
* :func:`ece_interval` — how uncertain a measured ECE is (a bootstrap interval): on a test
  set of a hundred examples, two ECEs a point apart are usually indistinguishable.
"""

import numbers

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp, softmax

from . import _require_model, keras, tf

__all__ = ["fit_temperature", "temperature_scaled", "apply_temperature", "temperature_nll",
           "ece_interval", "TemperatureScaling", "FLOOR", "T_RANGE"]

FLOOR = float(np.finfo(np.float32).tiny)  # smallest positive normal float32 (~1.2e-38)
T_RANGE = (0.01, 100.0)                   # the search interval of fit_temperature


# ------------------------------------------------------------------ checks

def _check_temperature(temperature):
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise TypeError(f"temperature must be a positive number, got {type(temperature).__name__}")
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    return float(temperature)


def _check_probabilities(probs):
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] < 2 or len(probs) == 0:
        raise ValueError("probabilities must have shape (n, num_classes) with n >= 1 and num_classes >= 2, "
                         f"got shape {probs.shape}")
    if not np.all(np.isfinite(probs)) or np.any(probs < -1e-6) \
            or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("each row of the probabilities must be non-negative and sum to 1: temperature "
                         "scaling here expects a model with softmax outputs (not logits)")
    return probs


def _check_labels(y, n, num_classes):
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"y must be a 1-D array with one label per example ({n}), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(f"labels must be in [0, {num_classes - 1}] for {num_classes} classes, "
                         f"got range [{y.min()}, {y.max()}]")
    return y


def _log_probabilities(probs):
    """``log p`` in float64, with ``p`` floored at :data:`FLOOR` so that ``log 0`` cannot occur."""
    return np.log(np.maximum(probs, FLOOR))


# ------------------------------------------------------------------ the maths on arrays

def apply_temperature(probs, temperature):
    """Recalibrate probabilities: ``softmax(log p / T)`` row by row.

    Args:
        probs: softmax outputs, shape ``(n, num_classes)``, rows summing to 1.
        temperature: ``T > 0``; ``T = 1`` returns the probabilities unchanged.

    Returns:
        float64 array of shape ``(n, num_classes)``; the arg-max of every row is unchanged.
    """
    temperature = _check_temperature(temperature)
    probs = _check_probabilities(probs)
    return softmax(_log_probabilities(probs) / temperature, axis=1)


def temperature_nll(probs, y, temperature):
    """Mean negative log-likelihood of the labels ``y`` under ``apply_temperature(probs, T)``.

    ``NLL(T) = mean_i [ logsumexp_k(log p_ik / T) - log p_iy_i / T ]`` — the quantity
    :func:`fit_temperature` minimises. Written in ``beta = 1/T`` it is a log-sum-exp of linear
    functions minus a linear function, hence **convex in 1/T**: it has at most one minimum.
    """
    temperature = _check_temperature(temperature)
    probs = _check_probabilities(probs)
    y = _check_labels(y, len(probs), probs.shape[1])
    scaled = _log_probabilities(probs) / temperature
    return float(np.mean(logsumexp(scaled, axis=1) - scaled[np.arange(len(y)), y]))


# ------------------------------------------------------------------ fitting on a model

def fit_temperature(model, x_val, y_val):
    """The temperature ``T`` that minimises the validation NLL of ``softmax(log p / T)``.

    Guo et al. (ICML 2017), section 4.2: fit one scalar ``T`` on the *validation* set — never on
    the test set, whose job is to measure the result — by minimising the negative
    log-likelihood. The NLL is convex in ``1/T`` (see :func:`temperature_nll`), so a bounded 1-D
    search (Brent's method over ``1/T``) finds the minimum; ``T`` is searched in
    :data:`T_RANGE`.

    Args:
        model: a tf_keras classifier with softmax outputs (e.g. a pruned, fine-tuned model),
            or ``None`` when ``x_val`` already holds its predicted probabilities
            ``(n, num_classes)`` (as in :func:`utils.metrics.expected_calibration_error`).
        x_val: validation inputs, shape ``(n, ...)`` (or the probabilities, see ``model``).
        y_val: validation labels, integer array of shape ``(n,)``.

    Returns:
        ``T`` as a float: ``> 1`` for an over-confident model (it softens the probabilities),
        ``< 1`` for an under-confident one.

    Raises:
        ValueError: if the model classifies *every* validation example correctly. Then the NLL
            keeps falling as ``T → 0`` (sharper is always better when nothing is wrong) and has
            no minimum: the validation set is too small or too easy to fit a temperature on.
            Also if the best ``T`` lies at the edge of :data:`T_RANGE`.
    """
    from .metrics import predict_proba

    x_val = np.asarray(x_val)
    if len(x_val) == 0:
        raise ValueError("x_val is empty; fit_temperature needs validation examples")
    probs = _check_probabilities(x_val if model is None else predict_proba(_require_model(model), x_val))
    y_val = _check_labels(y_val, len(probs), probs.shape[1])
    if np.all(probs.argmax(axis=1) == y_val):
        raise ValueError(f"the model classifies all {len(y_val)} validation examples correctly, so the NLL "
                         "keeps falling as T -> 0 and no temperature minimises it; fit T on a larger or "
                         "harder held-out set that contains some of the model's mistakes")
    log_p = _log_probabilities(probs)
    rows = np.arange(len(y_val))

    def nll(beta):  # beta = 1 / T
        return float(np.mean(logsumexp(beta * log_p, axis=1) - beta * log_p[rows, y_val]))

    low, high = 1.0 / T_RANGE[1], 1.0 / T_RANGE[0]
    beta = minimize_scalar(nll, bounds=(low, high), method="bounded",
                           options={"xatol": 1e-6}).x
    if beta <= low * 1.01 or beta >= high * 0.99:
        raise ValueError(f"the best temperature lies at the edge of the search range {T_RANGE} "
                         f"(T = {1 / beta:.3g}): the model's confidence carries almost no information on "
                         "this validation set (or it is wrong almost everywhere); check the model and the "
                         "labels")
    return float(1.0 / beta)


# ------------------------------------------------------------------ how noisy is an ECE?

def ece_interval(probs, y, *, bins=15, resamples=1000, level=0.9, seed=0):
    """A bootstrap interval for the expected calibration error of ``probs`` on labels ``y``.

    The test examples are resampled with replacement ``resamples`` times and the ECE
    (:func:`utils.metrics.expected_calibration_error`) is recomputed each time; the interval
    holds the central ``level`` share of those values (the percentile bootstrap, Efron &
    Tibshirani, *An Introduction to the Bootstrap*, 1993). It shows how much the ECE would move
    with another test set of the same size. It is only approximate: the ECE of a small sample
    is biased upwards (a few examples per bin never match their confidence exactly), so treat
    the interval as a measure of spread, not as exact coverage.

    Args:
        probs: predicted probabilities, shape ``(n, num_classes)``.
        y: true labels, shape ``(n,)``.
        bins: confidence bins of the ECE.
        resamples: number of bootstrap samples (a positive int).
        level: the interval's nominal coverage, in (0, 1).
        seed: seed of the resampling.

    Returns:
        ``(low, high)`` as floats.
    """
    from .metrics import expected_calibration_error

    probs = _check_probabilities(probs)
    y = _check_labels(y, len(probs), probs.shape[1])
    if isinstance(resamples, bool) or not isinstance(resamples, numbers.Integral) or resamples < 1:
        raise ValueError(f"resamples must be a positive int, got {resamples!r}")
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ValueError(f"level must be a number in (0, 1), e.g. 0.9, got {level!r}")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        sample = rng.integers(0, len(y), len(y))
        values.append(expected_calibration_error(None, probs[sample], y[sample], bins))
    low, high = np.percentile(values, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


# ------------------------------------------------------------------ the recalibrated model

class TemperatureScaling(keras.layers.Layer):
    """A layer with no weights: probabilities in, ``softmax(log p / T)`` out.

    Used by :func:`temperature_scaled` for models whose last layer is not a softmax ``Dense``.
    """

    def __init__(self, temperature, **kwargs):
        super().__init__(**kwargs)
        self.temperature = _check_temperature(temperature)

    def call(self, probs):
        log_p = tf.math.log(tf.maximum(probs, FLOOR))
        return tf.nn.softmax(log_p / self.temperature, axis=-1)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


def _is_softmax_dense(layer):
    return (isinstance(layer, keras.layers.Dense)
            and getattr(layer.activation, "__name__", "") == "softmax")


def temperature_scaled(model, temperature):
    """A new model that outputs ``softmax(z / T)``: ``model`` recalibrated with temperature ``T``.

    When the last layer is a ``Dense`` layer with a softmax activation (every classifier in
    this course), the temperature is **folded into that layer**: its kernel and bias are
    divided by ``T``, which divides its logits ``z = W h + b`` by ``T``. The result has exactly
    the architecture, number of (non-zero) parameters and speed of the original — a
    recalibrated pruned model stays as sparse as it was. Otherwise a weightless
    :class:`TemperatureScaling` layer is appended after the model's softmax output.

    Args:
        model: a tf_keras classifier with softmax outputs (never modified; the new model shares
            no variables with it).
        temperature: ``T > 0``, usually from :func:`fit_temperature`; ``T = 1`` gives a copy.

    Returns:
        A tf_keras model with the same input; its predicted classes equal ``model``'s, its
        probabilities are recalibrated. Use it with :mod:`utils.metrics` like any model.
    """
    from .pruning import copy_model

    _require_model(model)
    temperature = _check_temperature(temperature)
    scaled = copy_model(model)
    last = scaled.layers[-1]
    if _is_softmax_dense(last):
        kernel, bias = last.get_weights() if last.use_bias else (last.get_weights()[0], None)
        last.set_weights([kernel / temperature] + ([] if bias is None else [bias / temperature]))
        return scaled
    if len(scaled.outputs) != 1:
        raise ValueError(f"temperature_scaled needs a model with one softmax output, {model.name!r} has "
                         f"{len(scaled.outputs)}")
    outputs = TemperatureScaling(temperature, name="temperature")(scaled.outputs[0])
    return keras.Model(scaled.inputs, outputs, name=f"{model.name}_T")
