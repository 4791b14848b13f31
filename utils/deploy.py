"""Shipping a model: TensorFlow Lite conversion, quantization, and running it with LiteRT.

The last step of the workflow (chapter 9, Lab 12). A trained, pruned Keras model becomes a
``.tflite`` flatbuffer, a single file of bytes that a phone or a micro-controller runs:

* :func:`to_tflite` strips tfmot's pruning wrappers and converts with
  ``tf.lite.TFLiteConverter``, optionally with **post-training quantization** (8-bit weights,
  or 8-bit weights *and* activations) and with the converter's **sparsity** optimisation,
  which stores pruned tensors in a compressed sparse format;
* :func:`tflite_predict` runs the bytes with the LiteRT interpreter
  (``ai_edge_litert.interpreter.Interpreter``; ``tf.lite.Interpreter`` is deprecated) and
  returns the model's outputs as floats, whatever the model's input/output types;
* :func:`tflite_latency` times it the way :func:`utils.metrics.measure_latency` times a
  Keras model, and :func:`tflite_function` wraps it as a plain callable, so that
  :func:`utils.metrics.compare_latency` can time Keras and LiteRT side by side.

Sources: the TF-MOT guides *Pruning in Keras* (``pruning_with_keras``: gzipped size after
pruning, then after pruning + quantization) and *Pruning for on-device inference with
XNNPACK*; TensorFlow Lite's post-training quantization guide. Integer quantization itself:
Jacob et al., *Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference*, CVPR 2018.
"""

import contextlib
import gzip
import logging
import os
import sys
import warnings

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from . import tf
from ._core import prunable_layers, require_model, stripped
from ._validate import check_choice, check_int
from .metrics import check_runs, summarise_times, time_once

__all__ = ["QUANTIZE_MODES", "to_tflite", "to_int8_tflite", "tflite_function", "tflite_predict",
           "tflite_latency", "tflite_io", "tflite_io_types", "gzipped_bytes", "litert_interpreter",
           "quiet_tflite", "check_tflite_bytes", "layers_to_prune", "release_policy", "quantize"]

QUANTIZE_MODES = (None, "dynamic", "int8")


@contextlib.contextmanager
def quiet_tflite():
    """Hide the converter's and the interpreter's chatter for the duration of a ``with`` block.

    TensorFlow Lite's C++ code writes status lines straight to the process's standard error
    (file descriptor 2), e.g. ``fully_quantize: 0, inference_type: 6, …`` or ``INFO: Created
    TensorFlow Lite XNNPACK delegate for CPU.``; Python's ``sys.stderr`` cannot catch them.
    We point descriptor 2 at ``/dev/null`` inside the block (as ``utils/__init__.py`` does for
    TensorFlow's start-up), ignore the converter's Python ``UserWarning``s (e.g.
    "Statistics for quantized inputs were expected, but not specified"), and raise TensorFlow's
    Python logger to ``ERROR`` (the converter saves a temporary SavedModel and logs
    "INFO:tensorflow:Assets written to: …"). Exceptions are not affected: a failed conversion
    still raises, with its message.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# ------------------------------------------------------------------ conversion

def _representative_dataset(representative, model):
    """Turn an array of example inputs (or a generator function) into the converter's format.

    The converter calls a zero-argument function and iterates over what it returns; each
    item is a list with one input batch per model input (here: one model input).
    """
    if callable(representative):
        return representative  # already a generator function in the converter's format
    x = np.asarray(representative)
    expected = tuple(model.input_shape[1:])
    if not np.issubdtype(x.dtype, np.number):
        raise TypeError(f"representative must be a numeric array of example inputs, got dtype {x.dtype}")
    if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != expected:
        raise ValueError(f"representative must have shape (n, {', '.join(map(str, expected))}) — a batch "
                         f"of example inputs for the model — got shape {x.shape}")
    if len(x) == 0:
        raise ValueError("representative is empty; pass about 100–500 training inputs")
    x = x.astype(np.float32)

    def examples():
        for i in range(len(x)):
            yield [x[i:i + 1]]

    return examples


def to_tflite(model, *, quantize=None, sparse=False, representative=None, integer_io=False):
    """Convert a tf_keras model to TensorFlow Lite flatbuffer bytes.

    Pruning wrappers (``tfmot``'s ``PruneLowMagnitude``) are stripped first
    (:func:`utils.pruning.strip`); the input model is never changed.

    Args:
        model: a tf_keras model (e.g. the stripped or still-wrapped pruned model).
        quantize: post-training quantization —

            * ``None``: float32 weights and arithmetic (4 bytes per weight);
            * ``"dynamic"``: *dynamic-range* quantization: weights stored as int8 (1 byte),
              activations stay float (``tf.lite.Optimize.DEFAULT`` alone, as in the TF-MOT
              guide's "10× smaller" example). Needs no data;
            * ``"int8"``: *full integer* quantization: weights **and** activations int8;
              needs ``representative`` to calibrate the activation ranges.
        sparse: add ``tf.lite.Optimize.EXPERIMENTAL_SPARSITY``: the converter inspects
            each weight tensor and stores sufficiently sparse ones in a compressed sparse
            format (the file shrinks without gzip; kernels that can skip zeros may run faster).
        representative: for ``quantize="int8"`` only. Either

            * an **array of example inputs**, shape ``(n, *input_shape)`` — e.g.
              ``data.x_train[:200]``; they are fed to the converter one at a time; or
            * a **generator function** (zero-argument callable) yielding lists
              ``[input_batch]`` of float32 arrays — the converter's own
              ``representative_dataset`` format.

            Use training (not test) inputs: about 100–500 are enough.
        integer_io: for ``quantize="int8"`` only. ``False`` (default) keeps float32 model
            inputs and outputs (the model quantizes/dequantizes at its edges); ``True`` makes
            them int8, as integer-only accelerators need. :func:`tflite_predict` handles both.

    Returns:
        The ``.tflite`` model as ``bytes`` (write them to a file to ship them).

    Raises:
        TypeError: ``model`` is not a tf_keras model; ``sparse`` or ``integer_io`` is not a bool.
        ValueError: unknown ``quantize``; ``"int8"`` without ``representative``;
            ``representative`` or ``integer_io`` without ``"int8"``; a representative
            array of the wrong shape.
    """
    require_model(model)
    check_choice(quantize, "quantize", QUANTIZE_MODES)   # None = float32
    for name, flag in (("sparse", sparse), ("integer_io", integer_io)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    if quantize == "int8" and representative is None:
        raise ValueError("quantize='int8' needs representative=...: an array of example inputs "
                         "(e.g. data.x_train[:200]) or a generator function, to calibrate the "
                         "activation ranges")
    if quantize != "int8" and representative is not None:
        raise ValueError(f"representative is used only with quantize='int8' (got quantize={quantize!r})")
    if quantize != "int8" and integer_io:
        raise ValueError("integer_io=True needs quantize='int8' (a float model has float inputs)")

    model = stripped(model)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    optimizations = []
    if quantize is not None:
        optimizations.append(tf.lite.Optimize.DEFAULT)
    if sparse:
        optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    converter.optimizations = optimizations
    if quantize == "int8":
        converter.representative_dataset = _representative_dataset(representative, model)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if integer_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    with quiet_tflite():
        return bytes(converter.convert())


def gzipped_bytes(model_bytes):
    """Size in bytes of a ``.tflite`` model (``model_bytes``, from :func:`to_tflite`) after gzip at level 9.

    The TF-MOT guide measures a model the same way (save the file, compress it with a
    standard algorithm, count the bytes): a pruned model's zeros cost nothing on disk only
    once the file is compressed. For a Keras model's weights see
    :func:`utils.metrics.gzipped_size`.
    """
    return len(gzip.compress(check_tflite_bytes(model_bytes), compresslevel=9, mtime=0))


# ------------------------------------------------------------------ running

def check_tflite_bytes(model_bytes):
    """The bytes of a ``.tflite`` model: a flatbuffer whose file identifier (bytes 4–8) is ``TFL3``."""
    if not isinstance(model_bytes, (bytes, bytearray)):
        raise TypeError("model_bytes must be the bytes of a .tflite model (from to_tflite, or "
                        f"open(path, 'rb').read()), got {type(model_bytes).__name__}")
    if len(model_bytes) < 8 or bytes(model_bytes[4:8]) != b"TFL3":
        raise ValueError("model_bytes is not a TensorFlow Lite flatbuffer (its identifier 'TFL3' "
                         "is missing); convert the model with utils.deploy.to_tflite")
    return bytes(model_bytes)


def litert_interpreter(model_bytes, num_threads=None):
    """A LiteRT interpreter for ``model_bytes`` (one input, one output), tensors allocated.

    LiteRT applies its default CPU delegate, XNNPACK, when it can. XNNPACK refuses some
    models that the converter's sparse format produces (for example a quantized
    ``EXPERIMENTAL_SPARSITY`` model: "failed to delegate FULLY_CONNECTED node …", see
    tensorflow/tensorflow#56166); such a model is then run with LiteRT's built-in kernels
    (``OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES``), which read the sparse format.

    Returns:
        ``(interpreter, runtime)`` where ``runtime`` is ``"XNNPACK"`` or ``"built-in kernels"``.
    """
    model_bytes = check_tflite_bytes(model_bytes)
    if num_threads is not None:
        num_threads = check_int(num_threads, "num_threads", minimum=1)
    try:
        with quiet_tflite():
            interpreter = Interpreter(model_content=model_bytes, num_threads=num_threads)
            interpreter.allocate_tensors()
        runtime = "XNNPACK"
    except RuntimeError as error:
        if "XNNPack" not in str(error) and "XNNPACK" not in str(error):
            raise
        with quiet_tflite():
            interpreter = Interpreter(model_content=model_bytes, num_threads=num_threads,
                                      experimental_op_resolver_type=(
                                          OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
            interpreter.allocate_tensors()
        runtime = "built-in kernels"
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"only models with one input and one output are supported, this one has "
                         f"{len(inputs)} inputs and {len(outputs)} outputs")
    return interpreter, runtime


def _quantize(x, detail):
    """Float inputs → the tensor's integer type: ``q = round(x / scale) + zero_point``, saturated."""
    scale, zero_point = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    q = np.round(x / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(detail["dtype"])


def quantize(x, scale, zero_point):
    """Float array → int8: ``round(x / scale) + zero_point``, saturated to [-128, 127] (Lab 12, Ex. 12.4)."""
    return _quantize(np.asarray(x, dtype=np.float32), {"quantization": (scale, zero_point), "dtype": np.int8})


def _dequantize(q, detail):
    """Integer outputs → floats: ``x = scale · (q − zero_point)``."""
    scale, zero_point = detail["quantization"]
    return (scale * (q.astype(np.float32) - zero_point)).astype(np.float32)


def tflite_io(model_bytes):
    """What a ``.tflite`` model takes and gives: element type, shape and quantization of its I/O.

    Returns:
        ``{"input": {...}, "output": {...}}``, each with ``dtype`` (e.g. ``"float32"`` or
        ``"int8"``), ``shape`` (the batch axis is 1 until resized) and ``scale``,
        ``zero_point``: a real value ``x`` is stored as ``q = round(x / scale) + zero_point``
        (``scale = 0`` for a float tensor).
    """
    interpreter, _ = litert_interpreter(model_bytes)

    def describe(detail):
        scale, zero_point = detail["quantization"]
        return {"dtype": np.dtype(detail["dtype"]).name, "shape": tuple(int(d) for d in detail["shape"]),
                "scale": float(scale), "zero_point": int(zero_point)}

    return {"input": describe(interpreter.get_input_details()[0]),
            "output": describe(interpreter.get_output_details()[0])}


def tflite_io_types(model_bytes):
    """The (input, output) element types of a ``.tflite`` model, e.g. ``("float32", "float32")``."""
    io = tflite_io(model_bytes)
    return io["input"]["dtype"], io["output"]["dtype"]


def _check_x(x, detail):
    x = np.asarray(x)
    expected = tuple(int(d) for d in detail["shape_signature"][1:])
    if not np.issubdtype(x.dtype, np.number):
        raise TypeError(f"x must be a numeric array, got dtype {x.dtype}")
    if x.ndim == len(expected) and tuple(x.shape) == expected:
        raise ValueError(f"x must be a batch of shape (n, {', '.join(map(str, expected))}), got one "
                         f"example of shape {x.shape}: add a batch axis with x[None]")
    if x.ndim != len(expected) + 1 or any(e not in (-1, s) for e, s in zip(expected, x.shape[1:])):
        raise ValueError(f"x must have shape (n, {', '.join(map(str, expected))}) for this model, "
                         f"got {x.shape}")
    if len(x) == 0:
        raise ValueError("x is empty")
    return x


def tflite_function(model_bytes, *, num_threads=None):
    """The ``.tflite`` model as a Python callable ``fn(batch) -> float outputs``.

    Each call resizes the interpreter's input to the batch if needed, quantizes the batch
    when the model takes integers, runs the interpreter once and dequantizes integer
    outputs. Use it to time LiteRT beside Keras with :func:`utils.metrics.compare_latency`.

    Args:
        model_bytes: a ``.tflite`` model (bytes), e.g. from :func:`to_tflite`.
        num_threads: CPU threads for the interpreter (``None``: LiteRT's default).

    Returns:
        ``fn(batch)``: ``batch`` an array ``(n, *input_shape)`` → float32 array of outputs.
        ``fn.runtime`` says what runs the model: ``"XNNPACK"`` (LiteRT's default CPU
        delegate) or ``"built-in kernels"`` (for models XNNPACK refuses, e.g. a quantized
        model in the converter's sparse format).
    """
    interpreter, runtime = litert_interpreter(model_bytes, num_threads)
    source = interpreter.get_input_details()[0]
    index = source["index"]

    def run(batch):
        batch = _check_x(batch, source)
        detail = interpreter.get_input_details()[0]
        if tuple(detail["shape"]) != batch.shape:  # resize once per batch shape, not per call
            with quiet_tflite():
                interpreter.resize_tensor_input(index, batch.shape)
                interpreter.allocate_tensors()
            detail = interpreter.get_input_details()[0]
        if np.issubdtype(detail["dtype"], np.integer):
            batch = _quantize(batch.astype(np.float32), detail)
        interpreter.set_tensor(index, batch.astype(detail["dtype"], copy=False))
        interpreter.invoke()
        output = interpreter.get_output_details()[0]
        result = interpreter.get_tensor(output["index"])
        if np.issubdtype(output["dtype"], np.integer):
            return _dequantize(result, output)
        return result

    run.runtime = runtime
    return run


def tflite_predict(model_bytes, x, *, batch_size=256):
    """Run a ``.tflite`` model on ``x`` with LiteRT; returns its float outputs.

    Works for float models and for int8 models with float or int8 inputs/outputs: integer
    inputs are quantized with the input tensor's ``(scale, zero_point)`` and integer outputs
    dequantized with the output tensor's, so the result is always comparable with Keras'
    ``model(x)``.

    Args:
        model_bytes: a ``.tflite`` model (bytes), e.g. from :func:`to_tflite`.
        x: inputs of shape ``(n, *input_shape)``, e.g. ``(360, 28, 28, 1)`` floats in [0, 1].
        batch_size: examples per interpreter call (bounds the memory of intermediate tensors).

    Returns:
        float32 array ``(n, num_outputs)``, e.g. softmax probabilities.
    """
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    run = tflite_function(model_bytes)
    x = np.asarray(x)
    return np.concatenate([run(x[i:i + batch_size]) for i in range(0, max(len(x), 1), batch_size)])


def tflite_latency(model_bytes, x, *, warmup=3, runs=20, num_threads=None):
    """Median wall time of one LiteRT call on the batch ``x``, like :func:`utils.metrics.measure_latency`.

    Args:
        model_bytes: a ``.tflite`` model (bytes).
        x: one input batch, e.g. ``x_test[:1]`` for the one-image-at-a-time latency of a
            device, shape ``(n, *input_shape)``.
        warmup: untimed calls first (at least 1; the first call also resizes the input).
        runs: timed calls.
        num_threads: CPU threads for the interpreter (``None``: LiteRT's default).

    Returns:
        :class:`utils.metrics.Latency` (median and quartiles in ms). The time includes
        quantizing the input and dequantizing the output of an integer-I/O model.
    """
    check_runs(warmup, runs)
    run = tflite_function(model_bytes, num_threads=num_threads)
    x = np.asarray(x)
    for _ in range(warmup):  # the first call also checks x's shape against the model's input
        run(x)
    return summarise_times([time_once(run, x) for _ in range(runs)])



# ------------------------------------------------------------------ the lab's workflow (Lab 12)

def to_int8_tflite(model, calibration_x):
    """Full-integer (int8) ``.tflite`` bytes of ``model`` with float32 inputs and outputs.

    The same as ``to_tflite(model, quantize="int8", representative=calibration_x)``, with the
    signature of Lab 12's Exercise 12.2.
    """
    return to_tflite(model, quantize="int8", representative=calibration_x)


def layers_to_prune(model, min_share):
    """Names of the Dense/Conv layers whose kernel holds at least ``min_share`` of all kernel weights.

    A pruning strategy's *where* (Lab 12, Exercise 12.1): pruning a layer can save at most its share
    of the weights, so small layers are left dense. Biases are not counted; the model's layer order
    is kept.
    """
    require_model(model)
    sizes = {layer.name: int(np.prod(layer.kernel.shape)) for layer in prunable_layers(model)}
    total = sum(sizes.values())
    return [name for name, n in sizes.items() if n / total >= min_share]


def release_policy(measured, limits):
    """Decide ``"release"`` or ``"hold"`` from an audit's measured values and limits fixed in advance.

    A release policy is written *before* the audit is seen (Lab 12, Exercise 12.5), so that the
    numbers cannot bend the rule. Every limit is a pair ``(direction, bound)``: ``("max", b)``
    means the measured value must be at most ``b`` (e.g. an accuracy drop), ``("min", b)`` at
    least ``b`` (e.g. an agreement). A metric that is missing from ``measured`` or not a finite
    number holds the release: what was not measured was not shown to be safe.

    Args:
        measured: ``{metric: value}`` from the audit.
        limits: ``{metric: ("max" | "min", bound)}``.

    Returns:
        ``(decision, reasons)``: ``decision`` is ``"release"`` when every limit is met, else
        ``"hold"``; ``reasons`` lists one sentence per limit that is not met (empty on release).
    """
    reasons = []
    for metric, (direction, bound) in limits.items():
        if direction not in ("max", "min"):
            raise ValueError(f"the limit of {metric!r} must be ('max', bound) or ('min', bound), "
                             f"got {direction!r}")
        value = measured.get(metric)
        if value is None or not np.isfinite(float(value)):
            reasons.append(f"{metric}: not measured ({value!r}), so not shown to be within "
                           f"{direction} {bound}")
        elif direction == "max" and float(value) > bound:
            reasons.append(f"{metric}: {float(value):.4g} is above the limit of {bound}")
        elif direction == "min" and float(value) < bound:
            reasons.append(f"{metric}: {float(value):.4g} is below the limit of {bound}")
    return ("hold" if reasons else "release"), reasons
