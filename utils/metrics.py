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

from . import keras, tf
from ._core import class_probabilities, require_model, stripped
from ._validate import check_int, check_labels, check_same_length

__all__ = ["Latency", "accuracy", "recall_per_class",
           "count_params", "gzipped_size", "compare_latency", "measure_latency",
           "time_once", "summarise_times", "check_runs", "per_class_accuracy", "predict_classes",
           "predict_proba", "modal_labels", "pruning_identified_exemplars", "macs", "flops"]


def _check_xy(x, y):
    """Inputs ``(n, ...)`` and integer labels ``(n,)`` of the same, non-zero length."""
    x, y = np.asarray(x), check_labels(y)
    check_same_length(x=x, y=y)
    return x, y


def predict_proba(model, x, batch_size=512, *, from_logits=None):
    """The model's class probabilities for ``x``, shape ``(n, num_classes)``.

    Works for a model that ends in a softmax and for one that outputs logits (a softmax is
    applied; ``from_logits=None`` detects which, see :func:`utils._core.outputs_logits`).
    Calls the model directly in inference mode, batch by batch (``model.predict`` would
    re-trace a graph for every new model a lab creates).
    """
    return class_probabilities(model, x, from_logits=from_logits, batch_size=batch_size)


def predict_classes(model, x, batch_size=512):
    """Predicted class index for every row of ``x`` (argmax of the model's outputs), shape ``(n,)``.

    The arg-max of logits and of their softmax are the same, so any classifier works.
    """
    require_model(model)
    x = np.asarray(x)
    outputs = [model(x[i:i + batch_size], training=False).numpy() for i in range(0, len(x), batch_size)]
    if not outputs:
        raise ValueError("x is empty: no examples to predict")
    return np.argmax(np.concatenate(outputs), axis=-1)


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
    return recall_per_class(y, predict_classes(model, x), num_classes)


def recall_per_class(y_true, y_pred, num_classes):
    """Recall of every class: of the examples of class ``c``, the share predicted as ``c``.

    Args:
        y_true, y_pred: integer labels ``(n,)``.
        num_classes: the number of classes ``C``.

    Returns:
        float array ``(C,)``; ``nan`` for a class without examples (its recall is undefined).
    """
    y_true, y_pred = check_labels(y_true, "y_true"), check_labels(y_pred, "y_pred")
    check_same_length(y_true=y_true, y_pred=y_pred)
    num_classes = check_int(num_classes, "num_classes", minimum=1)
    recall = np.full(num_classes, np.nan)
    for c in range(num_classes):
        of_class = y_true == c
        if of_class.any():
            recall[c] = np.mean(y_pred[of_class] == c)
    return recall


def count_params(model, nonzero=False):
    """Number of parameters (all weights, biases included); ``nonzero=True`` counts only non-zeros.

    tfmot wrappers are stripped first, so masks and thresholds are not counted.
    """
    weights = stripped(model).get_weights()
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
    buffer = io.BytesIO()
    np.savez(buffer, *stripped(model).get_weights())
    return len(gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0))


@dataclass
class Latency:
    """Wall-clock latency of repeated calls, in milliseconds.

    ``min_ms`` is the fastest call: the least disturbed one, hence the most robust estimate of
    what the computation itself costs on a busy machine (other programs only ever add time).
    """

    median_ms: float
    q1_ms: float
    q3_ms: float
    runs: int
    min_ms: float = float("nan")

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
        model = require_model(fn_or_model)
        return tf.function(lambda batch: model(batch, training=False))
    return fn_or_model


def time_once(fn, x):
    """Milliseconds of one call ``fn(x)``, waiting until the result is really computed."""
    start = time.perf_counter()
    _block(fn(x))
    return (time.perf_counter() - start) * 1000.0


def check_runs(warmup, runs):
    """Untimed ``warmup`` calls and timed ``runs``: both positive ints."""
    return check_int(warmup, "warmup", minimum=1), check_int(runs, "runs", minimum=1)


def summarise_times(times):
    """:class:`Latency` (median, quartiles and minimum) of a list of times in ms."""
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return Latency(float(median), float(q1), float(q3), len(times), float(np.min(times)))


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
    check_runs(warmup, runs)
    fn, x = _as_callable(fn_or_model), tf.convert_to_tensor(x)
    with _no_retracing_warning():
        for _ in range(warmup):
            _block(fn(x))
    return summarise_times([time_once(fn, x) for _ in range(runs)])


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
    check_runs(warmup, runs)
    fns, x = {name: _as_callable(m) for name, m in models.items()}, tf.convert_to_tensor(x)
    with _no_retracing_warning():
        for fn in fns.values():
            for _ in range(warmup):
                _block(fn(x))
    times = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            times[name].append(time_once(fn, x))
    return {name: summarise_times(t) for name, t in times.items()}


def _block(result):
    """Wait for a result to be computed (TensorFlow may return before the work finishes)."""
    if hasattr(result, "numpy"):
        result.numpy()
    return result


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


def _attention_macs(layer):
    """MACs of a ``MultiHeadAttention`` layer, from its public ``get_config()``."""
    config = layer.get_config()
    query, value = config["query_shape"], config["value_shape"]
    key = config["key_shape"] if config["key_shape"] is not None else value
    heads, key_dim = config["num_heads"], config["key_dim"]
    value_dim = config["value_dim"] or key_dim
    out_dim = config["output_shape"] or query[-1]
    out_dim = int(np.prod(out_dim)) if isinstance(out_dim, (tuple, list)) else int(out_dim)
    t_q, t_k = int(np.prod(query[1:-1])), int(np.prod(key[1:-1]))
    projections = (t_q * query[-1] * heads * key_dim + t_k * key[-1] * heads * key_dim
                   + t_k * value[-1] * heads * value_dim)
    attention = t_q * t_k * heads * (key_dim + value_dim)  # scores q·k and the weighted sum of v
    return int(projections + attention + t_q * heads * value_dim * out_dim)


def _layer_macs(layer):
    """Multiply-accumulates of one layer for one example (0 for layers without a kernel)."""
    layers = keras.layers
    if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense, layers.LSTM,
                          layers.MultiHeadAttention)):
        try:
            out = layer.output_shape
        except AttributeError as error:
            raise ValueError(f"macs: layer {layer.name!r} is used more than once; count it by "
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
        return _attention_macs(layer)
    return 0


def macs(model, per_layer=False):
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
    counts = {}
    for layer in stripped(model).layers:
        count = macs(layer, per_layer=False) if hasattr(layer, "layers") else _layer_macs(layer)
        if count:
            counts[layer.name] = count
    return counts if per_layer else int(sum(counts.values()))


flops = macs
"""``flops`` is an alias of :func:`macs`, kept for the labs and chapters written before the rename.

It returns **MACs**, not FLOPs (one MAC = one multiply + one add ≈ 2 FLOPs); see :func:`macs`."""
