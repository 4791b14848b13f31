"""Recalibration by temperature scaling (Guo et al., *On Calibration of Modern Neural Networks*, ICML 2017).

A classifier is *calibrated* when its confidence matches its accuracy: among the predictions
made with 80 % confidence, 80 % are right (measure it with
:func:`expected_calibration_error` and draw it with
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

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp, softmax

from . import keras, tf
from ._core import class_probabilities, copy_model, outputs_logits, require_model
from ._validate import check_fraction, check_int, check_labels, check_probabilities, check_real

__all__ = ["calibration_bins", "expected_calibration_error", "fit_temperature", "fit_temperature_to_probs",
           "temperature_scaled",
           "apply_temperature", "temperature_nll", "ece_interval", "TemperatureScaling", "FLOOR",
           "T_RANGE"]

FLOOR = float(np.finfo(np.float32).tiny)  # smallest positive normal float32 (~1.2e-38)
T_RANGE = (0.01, 100.0)                   # the search interval of fit_temperature


# ------------------------------------------------------------------ checks

def _check_temperature(temperature):
    return check_real(temperature, "temperature", low=0.0, low_open=True)


def _log_probabilities(probs):
    """``log p`` in float64, with ``p`` floored at :data:`FLOOR` so that ``log 0`` cannot occur."""
    return np.log(np.maximum(probs, FLOOR))


# ------------------------------------------------------------------ measuring calibration

def calibration_bins(probs, y, bins=15):
    """Confidence vs accuracy in equal-width confidence bins (the data of a reliability diagram).

    The *confidence* of a prediction is its top probability ``max_k p_k``; the prediction is
    the arg-max. Bin ``m`` (1-based) holds the predictions with confidence in
    ``((m - 1)/bins, m/bins]``, as in Guo et al., *On Calibration of Modern Neural Networks*,
    ICML 2017.

    Args:
        probs: predicted probabilities, shape ``(n, num_classes)``, rows summing to 1.
        y: true labels, shape ``(n,)``.
        bins: number of equal-width bins over (0, 1].

    Returns:
        ``pandas.DataFrame`` with one row per bin: ``lower``, ``upper`` (the bin's edges),
        ``count`` (predictions in it), ``confidence`` (their mean confidence) and ``accuracy``
        (the fraction of them that are right); the last two are ``nan`` for an empty bin.
    """
    probs = check_probabilities(probs)
    y = check_labels(y, n=len(probs), num_classes=probs.shape[1])
    bins = check_int(bins, "bins", minimum=1)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    # ceil(c * bins) - 1 puts c in ((m-1)/M, m/M]; c = 0 would give -1, so clip it into bin 0
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    rows = []
    for m in range(bins):
        members = index == m
        count = int(members.sum())
        rows.append({"lower": m / bins, "upper": (m + 1) / bins, "count": count,
                     "confidence": confidence[members].mean() if count else np.nan,
                     "accuracy": correct[members].mean() if count else np.nan})
    return pd.DataFrame(rows)


def expected_calibration_error(model, x, y, bins=15, *, from_logits=None):
    """Expected calibration error (ECE): how far confidence is from accuracy, on average.

    ``ECE = sum_m (|B_m| / n) * |accuracy(B_m) - confidence(B_m)|`` over ``bins`` equal-width
    confidence bins ``B_m`` (Guo et al., *On Calibration of Modern Neural Networks*, ICML 2017;
    see :func:`calibration_bins`). 0 means perfectly calibrated: among the predictions made
    with 80 % confidence, 80 % are right. An over-confident model has ECE > 0.

    Args:
        model: a tf_keras classifier (softmax or logits outputs, see ``from_logits``), or
            ``None`` when ``x`` already holds predicted probabilities of shape
            ``(n, num_classes)`` (e.g. from :func:`utils.metrics.predict_proba`).
        x: inputs ``(n, ...)`` for the model, or the probabilities when ``model`` is ``None``.
        y: true labels, shape ``(n,)``.
        bins: number of equal-width confidence bins (Guo et al. use 15).
        from_logits: ``None`` detects whether the model outputs logits (then a softmax is
            applied first); ``True``/``False`` says so.

    Returns:
        ECE as a fraction in [0, 1] (multiply by 100 for percentage points).
    """
    probs = x if model is None else class_probabilities(model, x, from_logits=from_logits)
    table = calibration_bins(probs, y, bins)
    used = table[table["count"] > 0]
    gaps = np.abs(used["accuracy"] - used["confidence"])
    return float(np.sum(used["count"] * gaps) / table["count"].sum())


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
    probs = check_probabilities(probs)
    return softmax(_log_probabilities(probs) / temperature, axis=1)


def temperature_nll(probs, y, temperature):
    """Mean negative log-likelihood of the labels ``y`` under ``apply_temperature(probs, T)``.

    ``NLL(T) = mean_i [ logsumexp_k(log p_ik / T) - log p_iy_i / T ]`` — the quantity
    :func:`fit_temperature` minimises. Written in ``beta = 1/T`` it is a log-sum-exp of linear
    functions minus a linear function, hence **convex in 1/T**: it has at most one minimum.
    """
    temperature = _check_temperature(temperature)
    probs = check_probabilities(probs)
    y = check_labels(y, n=len(probs), num_classes=probs.shape[1])
    scaled = _log_probabilities(probs) / temperature
    return float(np.mean(logsumexp(scaled, axis=1) - scaled[np.arange(len(y)), y]))


# ------------------------------------------------------------------ fitting on a model

def fit_temperature(model, x_val, y_val, *, from_logits=None):
    """The temperature ``T`` that minimises the validation NLL of ``softmax(log p / T)``.

    Guo et al. (ICML 2017), section 4.2: fit one scalar ``T`` on the *validation* set — never on
    the test set, whose job is to measure the result — by minimising the negative
    log-likelihood. The NLL is convex in ``1/T`` (see :func:`temperature_nll`), so a bounded 1-D
    search (Brent's method over ``1/T``) finds the minimum; ``T`` is searched in
    :data:`T_RANGE`.

    Args:
        model: a tf_keras classifier (e.g. a pruned, fine-tuned model) with softmax or logits
            outputs (``from_logits=None`` detects which), or ``None`` when ``x_val`` already
            holds its predicted probabilities ``(n, num_classes)`` (as in
            :func:`expected_calibration_error`).
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
    x_val = np.asarray(x_val)
    if len(x_val) == 0:
        raise ValueError("x_val is empty; fit_temperature needs validation examples")
    probs = check_probabilities(x_val if model is None
                                else class_probabilities(model, x_val, from_logits=from_logits))
    y_val = check_labels(y_val, "y_val", n=len(probs), num_classes=probs.shape[1])
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


def fit_temperature_to_probs(probs, y):
    """The temperature fitted on stored probabilities: ``fit_temperature(None, probs, y)``.

    The same fit with the signature of Lab 11's Exercise 11.3, ``fit_temperature(probs, y) -> T``,
    so that the lab can run either the student's function or this one.
    """
    return fit_temperature(None, probs, y)


# ------------------------------------------------------------------ how noisy is an ECE?

def ece_interval(probs, y, *, bins=15, resamples=1000, level=0.9, seed=0):
    """A bootstrap interval for the expected calibration error of ``probs`` on labels ``y``.

    The test examples are resampled with replacement ``resamples`` times and the ECE
    (:func:`expected_calibration_error`) is recomputed each time; the interval
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
    probs = check_probabilities(probs)
    y = check_labels(y, n=len(probs), num_classes=probs.shape[1])
    resamples = check_int(resamples, "resamples", minimum=1)
    level = check_fraction(level, "level", low_open=True, meaning="the interval's coverage, e.g. 0.9")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        sample = rng.integers(0, len(y), len(y))
        values.append(expected_calibration_error(None, probs[sample], y[sample], bins))
    low, high = np.percentile(values, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


# ------------------------------------------------------------------ the recalibrated model

class TemperatureScaling(keras.layers.Layer):
    """A layer with no weights that recalibrates a classifier's output with temperature ``T``.

    Probabilities in (``from_logits=False``): ``softmax(log p / T)`` out. Logits in
    (``from_logits=True``): ``z / T`` out, still logits. Used by :func:`temperature_scaled` for
    models whose last layer is not a ``Dense`` layer.
    """

    def __init__(self, temperature, from_logits=False, **kwargs):
        super().__init__(**kwargs)
        self.temperature = _check_temperature(temperature)
        self.from_logits = bool(from_logits)
        self.outputs_logits = self.from_logits   # read by utils._core.outputs_logits

    def call(self, outputs):
        if self.from_logits:
            return outputs / self.temperature
        log_p = tf.math.log(tf.maximum(outputs, FLOOR))
        return tf.nn.softmax(log_p / self.temperature, axis=-1)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature, "from_logits": self.from_logits}


def temperature_scaled(model, temperature, *, from_logits=None):
    """A new model that outputs ``softmax(z / T)``: ``model`` recalibrated with temperature ``T``.

    When the last layer is a ``Dense`` layer with a softmax activation (every classifier in
    this course) or a linear one (a model that outputs logits), the temperature is **folded
    into that layer**: its kernel and bias are divided by ``T``, which divides its logits
    ``z = W h + b`` by ``T``; a logits model keeps outputting logits, now ``z / T``. The result has exactly
    the architecture, number of (non-zero) parameters and speed of the original — a
    recalibrated pruned model stays as sparse as it was. Otherwise a weightless
    :class:`TemperatureScaling` layer is appended after the model's output.

    Args:
        model: a tf_keras classifier with softmax or logits outputs (never modified; the new
            model shares no variables with it); ``from_logits=None`` detects which.
        temperature: ``T > 0``, usually from :func:`fit_temperature`; ``T = 1`` gives a copy.

    Returns:
        A tf_keras model with the same input; its predicted classes equal ``model``'s, its
        probabilities are recalibrated. Use it with :mod:`utils.metrics` like any model.
    """
    logits = outputs_logits(require_model(model), from_logits)
    temperature = _check_temperature(temperature)
    scaled = copy_model(model)
    last = scaled.layers[-1]
    if isinstance(last, keras.layers.Dense):  # softmax or linear: outputs_logits accepted it
        kernel, bias = last.get_weights() if last.use_bias else (last.get_weights()[0], None)
        last.set_weights([kernel / temperature] + ([] if bias is None else [bias / temperature]))
        return scaled
    if len(scaled.outputs) != 1:
        raise ValueError(f"temperature_scaled needs a model with one softmax output, {model.name!r} has "
                         f"{len(scaled.outputs)}")
    outputs = TemperatureScaling(temperature, from_logits=logits, name="temperature")(scaled.outputs[0])
    return keras.Model(scaled.inputs, outputs, name=f"{model.name}_T")
