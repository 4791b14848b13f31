"""Measuring a model: accuracy, size and speed.

Size is measured the way the TF-MOT pruning guide does: a pruned model is the
same size as a dense one when stored naively (a zero is still a 32-bit float), so
we compress the weights and count the bytes (:func:`gzipped_size`). Speed is
measured, not assumed (:func:`measure_latency`): zeros in a dense kernel do not
make a dense matrix multiply faster.
"""

import gzip
import io
import time
from dataclasses import dataclass

import numpy as np

from . import _require_model, tf

__all__ = ["Latency", "accuracy", "count_params", "gzipped_size", "compare_latency", "measure_latency",
           "per_class_accuracy", "predict_classes", "predict_proba"]


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
