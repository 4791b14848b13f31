"""Measuring a model: accuracy, size and speed.

Size is measured the way the TF-MOT pruning guide does: a pruned model is the
same size as a dense one when stored naively (a zero is still a 32-bit float), so
we compress the weights and count the bytes (:func:`gzipped_size`). Speed is
measured, not assumed (:func:`measure_latency`): zeros in a dense kernel do not
make a dense matrix multiply faster.
"""

import contextlib
import gzip
import io
import logging
import time
from dataclasses import dataclass

import numpy as np

from . import _require_model, tf

__all__ = ["Latency", "accuracy", "count_params", "gzipped_size", "compare_latency", "measure_latency",
           "per_class_accuracy", "predict_classes", "predict_proba",
           "calibration_bins", "expected_calibration_error", "modal_labels",
           "pruning_identified_exemplars"]


def _check_xy(x, y):
    x, y = np.asarray(x), np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of integer class labels, got shape {y.shape}")
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if len(y) == 0:
        raise ValueError("x and y are empty")
    return x, y


def predict_proba(model, x, batch_size=512):
    """The model's output probabilities for ``x``, shape ``(n, num_classes)``.

    Calls the model directly in inference mode, batch by batch (``model.predict`` would
    re-trace a graph for every new model a lab creates).
    """
    _require_model(model)
    outputs = [model(x[i:i + batch_size], training=False).numpy()
               for i in range(0, len(x), batch_size)]
    return np.concatenate(outputs)


def predict_classes(model, x, batch_size=512):
    """Predicted class index for every row of ``x`` (argmax of the model's outputs), shape ``(n,)``."""
    return np.argmax(predict_proba(model, x, batch_size), axis=-1)


def accuracy(model, x, y):
    """Top-1 accuracy in [0, 1] of ``model`` on inputs ``x`` ``(n, ...)`` and labels ``y`` ``(n,)``."""
    x, y = _check_xy(x, y)
    return float(np.mean(predict_classes(model, x) == y))


def per_class_accuracy(model, x, y, num_classes=None):
    """Accuracy on each class separately (recall per class).

    Returns:
        float array of shape ``(num_classes,)``; ``nan`` for a class with no examples.
    """
    x, y = _check_xy(x, y)
    num_classes = int(y.max()) + 1 if num_classes is None else num_classes
    predicted = predict_classes(model, x)
    result = np.full(num_classes, np.nan)
    for c in range(num_classes):
        in_class = y == c
        if in_class.any():
            result[c] = np.mean(predicted[in_class] == c)
    return result


def _stripped(model):
    """``model`` without tfmot pruning wrappers (a no-op for ordinary models)."""
    if any(type(layer).__name__ == "PruneLowMagnitude" for layer in model.layers):
        from .pruning import strip
        return strip(model)
    return model


def count_params(model, nonzero=False):
    """Number of parameters (all weights, biases included); ``nonzero=True`` counts only non-zeros.

    tfmot wrappers are stripped first, so masks and thresholds are not counted.
    """
    _require_model(model)
    weights = _stripped(model).get_weights()
    if nonzero:
        return int(sum(np.count_nonzero(w) for w in weights))
    return int(sum(w.size for w in weights))


def gzipped_size(model):
    """Bytes of the model's weights after stripping, saving and gzip compression.

    The weights are written as an uncompressed NumPy ``.npz`` archive (float32 arrays)
    and compressed with gzip at level 9. This follows the TF-MOT guide's method
    (save, then compress with a standard algorithm): runs of zeros compress well, so
    sparsity shows up as a smaller file.
    """
    _require_model(model)
    buffer = io.BytesIO()
    np.savez(buffer, *_stripped(model).get_weights())
    return len(gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0))


@dataclass
class Latency:
    """Wall-clock latency of repeated calls, in milliseconds."""

    median_ms: float
    q1_ms: float
    q3_ms: float
    runs: int

    @property
    def iqr_ms(self):
        """Inter-quartile range: the spread of the middle half of the runs."""
        return self.q3_ms - self.q1_ms

    def __str__(self):
        return f"{self.median_ms:.2f} ms (IQR {self.iqr_ms:.2f} ms, {self.runs} runs)"


class _RetracingFilter(logging.Filter):
    """Hide TensorFlow's "triggered tf.function retracing" warning while models are timed.

    Each model timed gets its own ``tf.function``, traced once before the timed calls; when five or
    more are traced in a row TensorFlow suspects a bug and warns. Here the traces are intended and
    happen outside the timed calls, so the warning is hidden — and only it.
    """

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def _no_retracing_warning():
    quiet = _RetracingFilter()
    tf.get_logger().addFilter(quiet)
    try:
        yield
    finally:
        tf.get_logger().removeFilter(quiet)


def _as_callable(fn_or_model):
    """A Keras model becomes a compiled ``tf.function`` in inference mode; callables pass through."""
    if not callable(fn_or_model):
        raise TypeError(f"expected a model or a callable, got {type(fn_or_model).__name__}")
    if hasattr(fn_or_model, "layers"):
        model = _require_model(fn_or_model)
        return tf.function(lambda batch: model(batch, training=False))
    return fn_or_model


def _time_once(fn, x):
    start = time.perf_counter()
    _block(fn(x))
    return (time.perf_counter() - start) * 1000.0


def _check_runs(warmup, runs):
    if not isinstance(runs, int) or runs < 1 or not isinstance(warmup, int) or warmup < 1:
        raise ValueError(f"need runs >= 1 and warmup >= 1, got runs={runs}, warmup={warmup}")


def _summarise(times):
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return Latency(float(median), float(q1), float(q3), len(times))


def measure_latency(fn_or_model, x, *, warmup=3, runs=20):
    """Median wall time of ``fn_or_model(x)`` over ``runs`` calls after ``warmup`` calls.

    Args:
        fn_or_model: a Keras model (called through a compiled ``tf.function`` in inference
            mode, so Python overhead is not measured) or any callable taking ``x``.
        x: one input batch, e.g. shape ``(256, 28, 28, 1)``.
        warmup: untimed calls made first (at least 1: graph tracing, caches, thread pools).
        runs: timed calls.

    Returns:
        :class:`Latency` with the median and the quartiles in ms.
    """
    _check_runs(warmup, runs)
    fn, x = _as_callable(fn_or_model), tf.convert_to_tensor(x)
    with _no_retracing_warning():
        for _ in range(warmup):
            _block(fn(x))
    return _summarise([_time_once(fn, x) for _ in range(runs)])


def compare_latency(models, x, *, warmup=3, runs=20):
    """Latency of several models on the same batch, measured fairly.

    The models are timed in turn, one call each per round (round-robin), so that slow
    drifts of the machine (frequency scaling, other processes) affect all of them alike.

    Args:
        models: dict ``{name: model or callable}``.
        x: one input batch.

    Returns:
        dict ``{name: Latency}``.
    """
    if not isinstance(models, dict) or not models:
        raise TypeError("models must be a non-empty dict {name: model}")
    _check_runs(warmup, runs)
    fns, x = {name: _as_callable(m) for name, m in models.items()}, tf.convert_to_tensor(x)
    with _no_retracing_warning():
        for fn in fns.values():
            for _ in range(warmup):
                _block(fn(x))
    times = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            times[name].append(_time_once(fn, x))
    return {name: _summarise(t) for name, t in times.items()}


def _block(result):
    """Wait for a result to be computed (TensorFlow may return before the work finishes)."""
    if hasattr(result, "numpy"):
        result.numpy()
    return result


# ------------------------------------------------------------------ calibration

def _check_probabilities(probs, y):
    probs, y = np.asarray(probs, dtype=float), np.asarray(y)
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise ValueError("probabilities must have shape (n, num_classes) with num_classes >= 2, "
                         f"got shape {probs.shape}")
    if y.ndim != 1 or len(y) != len(probs):
        raise ValueError(f"y must be a 1-D array with one label per row of the probabilities "
                         f"({len(probs)}), got shape {y.shape}")
    if len(y) == 0:
        raise ValueError("no examples: the probabilities and y are empty")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    if np.any(probs < -1e-6) or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("each row of the probabilities must be non-negative and sum to 1 "
                         "(pass softmax outputs, not logits)")
    return probs, y


def _check_bins(bins):
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive int, got {bins!r}")
    return bins


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
    import pandas as pd

    probs, y = _check_probabilities(probs, y)
    bins = _check_bins(bins)
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


def expected_calibration_error(model, x, y, bins=15):
    """Expected calibration error (ECE): how far confidence is from accuracy, on average.

    ``ECE = sum_m (|B_m| / n) * |accuracy(B_m) - confidence(B_m)|`` over ``bins`` equal-width
    confidence bins ``B_m`` (Guo et al., *On Calibration of Modern Neural Networks*, ICML 2017;
    see :func:`calibration_bins`). 0 means perfectly calibrated: among the predictions made
    with 80 % confidence, 80 % are right. An over-confident model has ECE > 0.

    Args:
        model: a tf_keras model, or ``None`` when ``x`` already holds predicted probabilities
            of shape ``(n, num_classes)`` (e.g. from :func:`predict_proba`).
        x: inputs ``(n, ...)`` for the model, or the probabilities when ``model`` is ``None``.
        y: true labels, shape ``(n,)``.
        bins: number of equal-width confidence bins (Guo et al. use 15).

    Returns:
        ECE as a fraction in [0, 1] (multiply by 100 for percentage points).
    """
    probs = x if model is None else predict_proba(model, np.asarray(x))
    table = calibration_bins(probs, y, bins)
    used = table[table["count"] > 0]
    gaps = np.abs(used["accuracy"] - used["confidence"])
    return float(np.sum(used["count"] * gaps) / table["count"].sum())


# ------------------------------------------------------- pruning identified exemplars

def modal_labels(models, x):
    """The majority vote of a population of models: the most frequent predicted label per input.

    Args:
        models: a non-empty list of tf_keras models (e.g. the same architecture trained
            from different seeds).
        x: inputs, shape ``(n, ...)``.

    Returns:
        int array of shape ``(n,)``. A tie is broken towards the smallest label, so the
        result is deterministic.
    """
    if isinstance(models, dict):
        models = list(models.values())
    if not isinstance(models, (list, tuple)) or not models:
        raise TypeError("models must be a non-empty list of tf_keras models")
    votes = np.stack([predict_classes(model, x) for model in models])  # (k, n)
    num_classes = int(votes.max()) + 1
    counts = np.stack([np.sum(votes == c, axis=0) for c in range(num_classes)])  # (classes, n)
    return np.argmax(counts, axis=0)  # argmax takes the first (smallest) label on ties


def pruning_identified_exemplars(dense_models, pruned_models, x):
    """Indices of the *pruning identified exemplars* (PIEs) of Hooker et al.

    An input is a PIE when the modal (majority-vote) label of the population of pruned
    models differs from the modal label of the population of dense models (Hooker,
    Courville, Clark, Dauphin, Frome, *What Do Compressed Deep Neural Networks Forget?*,
    arXiv:1911.05248). The true label plays no part in the definition. Hooker et al. find
    that PIEs are over-represented among atypical, ambiguous or mislabelled images, and that
    both kinds of model are much less accurate on them.

    Args:
        dense_models: list of dense models (different seeds; at least one).
        pruned_models: list of pruned models (e.g. each dense model pruned; at least one).
        x: inputs, shape ``(n, ...)``.

    Returns:
        Sorted int array of indices into ``x`` (empty if the two votes agree everywhere).
    """
    dense_vote = modal_labels(dense_models, x)
    pruned_vote = modal_labels(pruned_models, x)
    return np.flatnonzero(dense_vote != pruned_vote)


def _layer_macs(layer):
    """Multiply-accumulates of one layer for one example (0 for layers without a kernel)."""
    from . import keras

    layers = keras.layers
    if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense, layers.LSTM,
                          layers.MultiHeadAttention)):
        try:
            out = layer.output_shape
        except AttributeError as error:
            raise ValueError(f"flops: layer {layer.name!r} is used more than once; count it by "
                             "hand") from error
    if isinstance(layer, layers.DepthwiseConv2D):  # (kh, kw, c_in, multiplier): one filter per channel
        return int(np.prod(out[1:-1])) * int(np.prod(layer.depthwise_kernel.shape))
    if isinstance(layer, layers.Conv2D):  # each output value: kh·kw·c_in/groups products
        kh, kw, c_in, c_out = layer.kernel.shape
        return int(np.prod(out[1:-1])) * c_out * kh * kw * c_in
    if isinstance(layer, layers.Dense):  # acts on the last axis; other axes (e.g. time) repeat it
        return int(np.prod(out[1:-1])) * int(np.prod(layer.kernel.shape))
    if isinstance(layer, layers.LSTM):  # 4 gates, each from the input and the previous state
        cell = layer.cell
        return layer.input_shape[1] * int(np.prod(cell.kernel.shape) + np.prod(cell.recurrent_kernel.shape))
    if isinstance(layer, layers.MultiHeadAttention):
        query, value = layer._query_shape, layer._value_shape
        key = layer._key_shape if layer._key_shape is not None else value
        t_q, t_k = int(np.prod(query[1:-1])), int(np.prod(key[1:-1]))
        heads, key_dim = layer._query_dense.kernel.shape[1:]
        value_dim = layer._value_dense.kernel.shape[-1]
        projections = (t_q * query[-1] * heads * key_dim + t_k * key[-1] * heads * key_dim
                       + t_k * value[-1] * heads * value_dim)
        attention = t_q * t_k * heads * (key_dim + value_dim)  # scores q·k and the weighted sum of v
        return int(projections + attention + t_q * int(np.prod(layer._output_dense.kernel.shape)))
    return 0


def flops(model, per_layer=False):
    """Multiply-accumulate operations (MACs) of one forward pass, for **one** example.

    Counted layers, each with the formula in its comment in the source:

    * ``Conv2D``: ``h_out · w_out · c_out · kh · kw · c_in``;
    * ``DepthwiseConv2D``: ``h_out · w_out · kh · kw · c_in · multiplier``;
    * ``Dense``: ``n_in · n_out`` (times the other axes of a sequence input, e.g. its length);
    * ``LSTM``: ``steps · 4 · units · (n_in + units)``;
    * ``MultiHeadAttention``: the query/key/value/output projections plus the attention
      products ``t_q · t_k · heads · (key_dim + value_dim)``.

    Biases, activations, pooling, normalisation and softmax are not counted: they cost one
    operation per value, not per weight, and are small next to the products. Zeros in a
    kernel are counted like any other weight: a dense kernel multiplies them anyway.

    Note: one MAC is one multiplication plus one addition. Many papers (and tools) report
    FLOPs as 2 × MACs, others call MACs "FLOPs"; check which before comparing numbers.

    Args:
        model: a built tf_keras model (tfmot wrappers are stripped first).
        per_layer: return ``{layer_name: MACs}`` for the counted layers instead of the total.

    Returns:
        int: total MACs per example (or the dict).
    """
    _require_model(model)
    counts = {}
    for layer in _stripped(model).layers:
        macs = flops(layer, per_layer=False) if hasattr(layer, "layers") else _layer_macs(layer)
        if macs:
            counts[layer.name] = macs
    return counts if per_layer else int(sum(counts.values()))
