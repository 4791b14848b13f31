"""Quantization that keeps a pruned model's zeros, and sparse kernels that XNNPACK can run.

Two questions that follow export (chapter 9, section "Quantization-aware training and sparse
inference"):

* **Does quantization keep the sparsity?** Post-training quantization (PTQ, in
  :func:`utils.deploy.to_tflite`) rounds each weight once, so a zero stays a zero.
  *Quantization-aware training* (QAT) fine-tunes the model with simulated 8-bit rounding
  ("fake quantization", Jacob et al., CVPR 2018), and an ordinary optimiser moves the pruned
  weights away from zero. tfmot's *pruning-preserving* QAT (PQAT) multiplies each kernel by
  its sparsity mask before the simulated rounding, so the zeros stay zeros.
  :func:`quantize_aware_model` and :func:`quantization_aware_train` build and train both;
  :func:`kernel_sparsity` (Keras) and :func:`tflite_kernels` (a ``.tflite`` file) measure
  what survives.
* **Does the sparse format run faster?** XNNPACK, LiteRT's default CPU delegate, has
  sparse kernels for MobileNet-like networks (Elsen et al., *Fast Sparse ConvNets*, CVPR
  2020). :func:`mobilenet_style` builds such a network from code, :func:`prune_for_xnnpack`
  prunes its 1×1 convolutions with ``tfmot.sparsity.keras.PruneForLatencyOnXNNPack``,
  :func:`tflite_sparse_tensors` lists the tensors stored in the sparse format, and
  :func:`predicted_speedup` says what counting multiply-accumulates predicts.

Sources: the TF-MOT guides *Pruning preserving quantization aware training (PQAT) Keras
example* and *Pruning for on-device inference with XNNPACK*; the XNNPACK delegate's README
(section "Sparse Inference") in the TensorFlow repository.
"""

import dataclasses
import platform

import numpy as np
import pandas as pd
import tensorflow_model_optimization as tfmot
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from . import keras
from ._core import outputs_logits, require_model, stripped, unwrap
from ._keras_internals import tflite_operators
from ._validate import check_int, check_real
from .deploy import check_tflite_bytes
from .metrics import macs
from .pruning import copy_model, pruning_callbacks, strip
from .training import compile_model, steps_per_epoch, train

__all__ = [
    "quantize_aware_model", "quantization_aware_train", "kernel_sparsity", "tflite_kernels",
    "tflite_kernel_sparsity", "tflite_sparse_tensors", "three_channels", "mobilenet_style",
    "prune_for_xnnpack", "predicted_speedup", "cpu_has_avx",
]

KERNEL_TYPES = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D)
KERNEL_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def _check_bool(value, name):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return value


def _kernel(layer):
    """``(name, kernel array)`` of a Dense/Conv layer, looking through tfmot's wrappers; else ``None``.

    A ``QuantizeWrapper`` replaces its inner layer's ``kernel`` attribute by the fake-quantized
    tensor while it builds, so the trained float variable is looked up among its weights.
    """
    if isinstance(layer, tfmot.quantization.keras.QuantizeWrapper):
        if not isinstance(layer.layer, KERNEL_TYPES):
            return None
        variables = [w for w in layer.weights if w.name.split("/")[-1] == "kernel:0"]
        return (layer.layer.name, variables[0].numpy()) if variables else None
    inner = unwrap(layer)
    return (inner.name, inner.kernel.numpy()) if isinstance(inner, KERNEL_TYPES) else None


# ------------------------------------------------------------------ quantization-aware training

def quantize_aware_model(model, *, preserve_sparsity):
    """A copy of ``model`` prepared for quantization-aware training with tfmot.

    Args:
        model: a tf_keras model, typically pruned (pruning wrappers are stripped first). It is
            never changed: tfmot wraps a copy (:func:`utils.pruning.copy_model`).
        preserve_sparsity: ``False`` — plain QAT, ``tfmot.quantization.keras.quantize_model``;
            ``True`` — pruning-preserving QAT (PQAT):
            ``quantize_apply(quantize_annotate_model(model), Default8BitPrunePreserveQuantizeScheme())``
            from ``tfmot.quantization.keras.collab_opts`` (also exported under its older name
            ``tfmot.experimental.combine``). Its weight quantizer records the mask of non-zero
            weights when it is built and multiplies the kernel by it before each simulated
            rounding, so the zeros get no gradient and stay zero.

    Returns:
        A new tf_keras model whose Conv/Dense layers are wrapped in ``QuantizeWrapperV2``;
        train it (e.g. with :func:`quantization_aware_train`), then convert it with
        :func:`utils.deploy.to_tflite` (``quantize="int8"``).
    """
    require_model(model)
    _check_bool(preserve_sparsity, "preserve_sparsity")
    base = copy_model(stripped(model))
    quantization = tfmot.quantization.keras
    if not preserve_sparsity:
        return quantization.quantize_model(base)
    scheme = quantization.collab_opts.Default8BitPrunePreserveQuantizeScheme()
    return quantization.quantize_apply(quantization.quantize_annotate_model(base), scheme)


def quantization_aware_train(model, data, *, preserve_sparsity, epochs, batch_size=32,
                             learning_rate=1e-4, verbose=0):
    """Fine-tune a copy of ``model`` with simulated 8-bit rounding (QAT or PQAT).

    Args:
        model: a trained (usually pruned) tf_keras model; never changed.
        data: a :class:`utils.data.Dataset`.
        preserve_sparsity: ``True`` for pruning-preserving QAT, ``False`` for plain QAT
            (see :func:`quantize_aware_model`).
        epochs: fine-tuning epochs (a positive int; one or two are typical).
        batch_size, learning_rate, verbose: as in :func:`utils.training.train`. The default
            learning rate is a tenth of the course's training rate, as usual for fine-tuning.

    Returns:
        The trained quantization-aware model (a new object).
    """
    check_int(epochs, "epochs", minimum=1)
    check_int(batch_size, "batch_size", minimum=1)
    quantized = quantize_aware_model(model, preserve_sparsity=preserve_sparsity)
    # tfmot's QuantizeWrapper hides the last layer's activation, so the loss is chosen from
    # the source model's outputs (softmax probabilities or logits).
    compile_model(quantized, learning_rate=learning_rate, from_logits=outputs_logits(model))
    quantized.fit(data.x_train, data.y_train, epochs=epochs, batch_size=batch_size, shuffle=True,
                  validation_data=(data.x_val, data.y_val), verbose=verbose)
    return quantized


def kernel_sparsity(model, *, per_layer=False):
    """Fraction of zeros in the kernels of ``model``'s Dense and Conv layers.

    Works on plain, pruning-wrapped and quantization-aware models: tfmot's wrappers are looked
    through, and the layer's float ``kernel`` variable is read (for a QAT model, the weights
    that its simulated rounding quantizes). Depthwise kernels, biases and BatchNorm parameters
    are not counted.

    Args:
        model: a tf_keras model.
        per_layer: also return the fraction for each layer.

    Returns:
        ``float`` in [0, 1] over all kernels together, or with ``per_layer=True`` a dict
        ``{layer name: fraction}`` with the total under ``"total"``.
    """
    require_model(model)
    zeros, sizes = {}, {}
    for layer in model.layers:
        found = _kernel(layer)
        if found is not None:
            name, kernel = found
            zeros[name], sizes[name] = int(np.count_nonzero(kernel == 0)), kernel.size
    if not sizes:
        raise ValueError(f"model {model.name!r} has no Dense or Conv layers with a kernel")
    total = sum(zeros.values()) / sum(sizes.values())
    if not per_layer:
        return float(total)
    return {**{name: zeros[name] / sizes[name] for name in sizes}, "total": float(total)}


# ------------------------------------------------------------------ reading a .tflite file

def _litert_interpreter(model_bytes):
    """A LiteRT interpreter with the built-in kernels only, every tensor kept readable.

    XNNPACK is left out on purpose: it would replace the operators, and the weights of the
    sparse format are decoded (by the ``DENSIFY`` operator) only by the built-in kernels.
    """
    interpreter = Interpreter(model_content=check_tflite_bytes(model_bytes),
                              experimental_preserve_all_tensors=True,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    return interpreter


def tflite_kernels(model_bytes):
    """The weight tensors of a ``.tflite`` file's convolutions and fully connected layers.

    Reads the weights back from the file with LiteRT: the second input of every
    ``CONV_2D``, ``DEPTHWISE_CONV_2D`` and ``FULLY_CONNECTED`` operator. In an int8 file they
    are the int8 integers ``q`` (a zero weight is ``q = 0``: weights are quantized
    symmetrically). A kernel stored in the sparse format reaches its operator through a
    ``DENSIFY`` operator; the file is run once on a zero input so that the decoded kernel
    can be read.

    The operator list comes from :func:`utils._keras_internals.tflite_operators` (LiteRT's
    non-public ``Interpreter._get_ops_details()``, the only way its Python API exposes which
    tensor feeds which operator).

    Args:
        model_bytes: a ``.tflite`` model (bytes), e.g. from :func:`utils.deploy.to_tflite`.

    Returns:
        ``pandas.DataFrame``, one row per kernel in graph order, with columns ``op``,
        ``tensor`` (name in the file), ``shape``, ``dtype``, ``weights``, ``zeros``,
        ``sparsity`` and ``stored`` (``"sparse format"`` or ``"dense"``).
    """
    interpreter = _litert_interpreter(model_bytes)
    ops = tflite_operators(interpreter)
    producer = {int(out): op["op_name"] for op in ops for out in op["outputs"]}
    if "DENSIFY" in producer.values():  # decoded kernels exist only once the graph has run
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
        interpreter.invoke()
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    rows = []
    for op in ops:
        if op["op_name"] not in KERNEL_OPS:
            continue
        index = int(op["inputs"][1])
        kernel = interpreter.get_tensor(index)
        sparse = producer.get(index) == "DENSIFY" or bool(details[index]["sparsity_parameters"])
        zeros = int(np.count_nonzero(kernel == 0))
        rows.append({"op": op["op_name"], "tensor": details[index]["name"],
                     "shape": tuple(int(s) for s in kernel.shape), "dtype": np.dtype(kernel.dtype).name,
                     "weights": int(kernel.size), "zeros": zeros, "sparsity": zeros / kernel.size,
                     "stored": "sparse format" if sparse else "dense"})
    if not rows:
        raise ValueError("the .tflite file has no CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED operator")
    return pd.DataFrame(rows)


def tflite_kernel_sparsity(model_bytes, *, ops=("CONV_2D", "FULLY_CONNECTED")):
    """Fraction of zeros over the kernels of the given operator types in a ``.tflite`` file.

    The default counts what :func:`kernel_sparsity` counts in Keras: Conv2D and Dense kernels,
    not depthwise ones. See :func:`tflite_kernels` for the per-tensor table.
    """
    if isinstance(ops, str) or not all(op in KERNEL_OPS for op in ops):
        raise ValueError(f"ops must be a tuple of operator names from {KERNEL_OPS}, got {ops!r}")
    table = tflite_kernels(model_bytes)
    table = table[table.op.isin(ops)]
    if table.empty:
        raise ValueError(f"the .tflite file has no {ops} operator")
    return float(table.zeros.sum() / table.weights.sum())


def tflite_sparse_tensors(model_bytes):
    """The tensors a ``.tflite`` file stores in the sparse format (the converter's ``EXPERIMENTAL_SPARSITY``).

    LiteRT reports them through ``get_tensor_details()``: their ``sparsity_parameters`` are
    not empty. The file holds only the non-zero values plus index arrays per dimension
    (``dim_metadata``), in a compressed-sparse-row-like layout.

    Returns:
        ``pandas.DataFrame``, one row per sparse tensor, with columns ``tensor`` (name),
        ``shape`` (the dense shape), ``dtype``, ``stored_values`` (values kept in the file),
        ``density`` (``stored_values`` / dense size) and ``block_map`` (empty for element-wise
        sparsity). No rows when the file has no sparse tensor.
    """
    interpreter = _litert_interpreter(model_bytes)
    rows = []
    for detail in interpreter.get_tensor_details():
        sparsity = detail["sparsity_parameters"]
        if not sparsity:
            continue
        shape = tuple(int(s) for s in detail["shape"])
        stored = int(interpreter.get_tensor(detail["index"]).size)
        rows.append({"tensor": detail["name"], "shape": shape, "dtype": np.dtype(detail["dtype"]).name,
                     "stored_values": stored, "density": stored / int(np.prod(shape)),
                     "block_map": tuple(int(b) for b in sparsity.get("block_map", ()))})
    columns = ["tensor", "shape", "dtype", "stored_values", "density", "block_map"]
    return pd.DataFrame(rows, columns=columns)


# ------------------------------------------------------------------ a MobileNet-style network

def three_channels(data):
    """The same :class:`utils.data.Dataset` with every grey image repeated into 3 channels.

    XNNPACK's sparse path begins with a 3×3 convolution over exactly **3** input channels
    (an RGB image), so a grey data set is copied into R, G and B.

    Args:
        data: a Dataset of images ``(n, h, w, 1)``.

    Returns:
        A new Dataset with images ``(n, h, w, 3)``; labels and class names unchanged.
    """
    if not dataclasses.is_dataclass(data) or not hasattr(data, "x_train"):
        raise TypeError(f"data must be a utils.data.Dataset, got {type(data).__name__}")
    if data.x_train.ndim != 4 or data.x_train.shape[-1] != 1:
        raise ValueError(f"data must hold grey images of shape (n, h, w, 1), got x_train of shape "
                         f"{data.x_train.shape}")
    rgb = {name: np.repeat(getattr(data, name), 3, axis=-1) for name in ("x_train", "x_val", "x_test")}
    return dataclasses.replace(data, **rgb, name=f"{data.name} (3 channels)")


def _check_blocks(blocks):
    if isinstance(blocks, (str, bytes)) or not hasattr(blocks, "__iter__"):
        raise TypeError(f"blocks must be a sequence of (filters, stride) pairs, got {blocks!r}")
    blocks = list(blocks)
    if not blocks:
        raise ValueError("blocks is empty; give at least one (filters, stride) pair, e.g. [(32, 1)]")
    for block in blocks:
        if not isinstance(block, (tuple, list)) or len(block) != 2:
            raise TypeError(f"each block must be a (filters, stride) pair, got {block!r}")
        check_int(block[0], "filters of a block", minimum=1)
        if block[1] not in (1, 2) or isinstance(block[1], bool):
            raise ValueError(f"the stride of a block must be 1 or 2, got {block[1]!r}")
    return blocks


def mobilenet_style(input_shape=(28, 28, 3), num_classes=10, *, stem_filters=16,
                    blocks=((32, 1), (64, 2), (64, 1), (128, 2), (128, 1)), bn_momentum=0.9):
    """A small MobileNet-v1-style classifier whose layout XNNPACK's sparse kernels accept.

    Built from code, no downloaded weights (Howard et al., 2017, depthwise separable
    convolutions). The layout follows the TF-MOT guide *Pruning for on-device inference with
    XNNPACK* and the XNNPACK README's rules for a sparse subgraph:

    * stem: ``ZeroPadding2D(1)`` → ``Conv2D`` 3×3, stride 2, ``valid`` padding, over the 3
      input channels → BatchNorm → ReLU;
    * per block ``(filters, stride)``: a 3×3 ``DepthwiseConv2D`` (stride 1 ``same``, or stride 2
      after ``ZeroPadding2D(1)``) → BatchNorm → ReLU → a **1×1** ``Conv2D`` with ``filters``
      outputs → BatchNorm → ReLU;
    * head: ``GlobalAveragePooling2D(keepdims=True)`` (the converter's ``MEAN``, where the
      sparse subgraph ends) → ``Flatten`` → ``Dense`` softmax.

    The 1×1 convolutions hold most of the multiply-accumulates; they are what
    :func:`prune_for_xnnpack` prunes. The network is fully convolutional up to the pooling,
    so the same weights fit any input size: build it again with a larger ``input_shape`` and
    copy the weights over (``set_weights``).

    Args:
        input_shape: ``(height, width, 3)``; both sides at least 8.
        num_classes: outputs of the softmax.
        stem_filters: output channels of the stem convolution.
        blocks: ``(filters, stride)`` per depthwise-separable block; stride 1 or 2.
        bn_momentum: BatchNorm moving-average momentum (0.9 settles within a few short epochs;
            Keras' default 0.99 needs hundreds of steps).

    Returns:
        An uncompiled functional tf_keras model named ``"mobilenet_style"``.
    """
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise TypeError(f"input_shape must be a (height, width, channels) tuple, got {input_shape!r}")
    height, width, channels = (check_int(v, "each entry of input_shape", minimum=1) for v in input_shape)
    if channels != 3:
        raise ValueError(f"input_shape must have 3 channels: XNNPACK's sparse path starts with a 3×3 "
                         f"stride-2 convolution over 3 input channels; got {channels}. "
                         "Use utils.quantization.three_channels(data) for grey images.")
    if min(height, width) < 8:
        raise ValueError(f"input images must be at least 8×8, got {height}×{width}")
    check_int(num_classes, "num_classes", minimum=2)
    check_int(stem_filters, "stem_filters", minimum=1)
    blocks = _check_blocks(blocks)
    check_real(bn_momentum, "bn_momentum", low=0.0, high=1.0, high_open=True)

    layers = keras.layers

    def bn_relu(x):
        return layers.ReLU()(layers.BatchNormalization(momentum=bn_momentum)(x))

    inputs = keras.Input(shape=(height, width, channels))
    x = layers.ZeroPadding2D(1)(inputs)
    x = bn_relu(layers.Conv2D(stem_filters, 3, strides=2, padding="valid", use_bias=False, name="stem")(x))
    for i, (filters, stride) in enumerate(blocks, start=1):
        if stride == 1:
            x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"dw{i}")(x)
        else:
            x = layers.ZeroPadding2D(1)(x)
            x = layers.DepthwiseConv2D(3, strides=2, padding="valid", use_bias=False, name=f"dw{i}")(x)
        x = bn_relu(x)
        x = bn_relu(layers.Conv2D(filters, 1, use_bias=False, name=f"pw{i}")(x))
    x = layers.GlobalAveragePooling2D(keepdims=True)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="output")(layers.Flatten()(x))
    return keras.Model(inputs, outputs, name="mobilenet_style")


def prune_for_xnnpack(model, data, *, epochs, initial_sparsity=0.25, final_sparsity=0.75,
                      prune_fraction=0.5, batch_size=32, learning_rate=1e-3, verbose=0):
    """Prune the 1×1 convolutions of a MobileNet-style model for XNNPACK's sparse kernels.

    The TF-MOT guide's recipe: ``tfmot.sparsity.keras.prune_low_magnitude`` with
    ``pruning_policy=tfmot.sparsity.keras.PruneForLatencyOnXNNPack()`` and a
    ``PolynomialDecay`` schedule from 25 % to 75 % sparsity. The policy first checks that the
    whole model fits XNNPACK's sparse subgraph (it raises ``ValueError`` naming the first
    layer that does not) and then wraps only the 1×1 ``Conv2D`` layers. XNNPACK uses its
    sparse kernels only when at least 2/3 of those weights are zero, hence the 75 % target.

    Args:
        model: a trained tf_keras model, e.g. from :func:`mobilenet_style`; never changed.
        data: a :class:`utils.data.Dataset` with 3-channel images.
        epochs: training epochs in all; the sparsity rises during the first
            ``prune_fraction`` of them (masks updated once per epoch), the rest fine-tunes.
        initial_sparsity, final_sparsity: the schedule's ends, ``0 <= initial <= final < 1``.
        prune_fraction: share of the epochs during which the sparsity rises, in (0, 1].
        batch_size, learning_rate, verbose: as in :func:`utils.training.train`.

    Returns:
        The stripped, pruned model (a new object).
    """
    require_model(model)
    check_int(epochs, "epochs", minimum=1)
    final = check_real(final_sparsity, "final_sparsity", low=0.0, high=1.0, high_open=True)
    initial = check_real(initial_sparsity, "initial_sparsity", low=0.0, high=final)
    fraction = check_real(prune_fraction, "prune_fraction", low=0.0, high=1.0, low_open=True)
    steps = steps_per_epoch(data, batch_size)
    end_step = max(1, int(epochs * fraction)) * steps  # a whole number of epochs: masks change once per epoch
    schedule = tfmot.sparsity.keras.PolynomialDecay(initial_sparsity=initial, final_sparsity=final,
                                                    begin_step=0, end_step=end_step, frequency=steps)
    wrapped = tfmot.sparsity.keras.prune_low_magnitude(
        copy_model(model), pruning_schedule=schedule,
        pruning_policy=tfmot.sparsity.keras.PruneForLatencyOnXNNPack())
    train(wrapped, data, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
          callbacks=pruning_callbacks(), verbose=verbose)
    return strip(wrapped)


def predicted_speedup(model):
    """The speed-up that counting multiply-accumulates (MACs) predicts for a pruned model.

    Only the zeros of the **1×1 convolutions** can be skipped by XNNPACK's sparse kernels;
    every other layer runs dense. With ``M`` the model's MACs (:func:`utils.metrics.macs`)
    and ``M_i``, ``s_i`` the MACs and kernel sparsity of each 1×1 convolution,

        predicted speed-up = M / (M − Σ_i s_i · M_i).

    It ignores memory traffic, the cost of reading sparse indices and the change of data
    layout (NHWC → NCHW) that sparse inference needs, so it is an upper bound on what the
    arithmetic allows, not a forecast of the clock.

    Returns:
        ``float`` ≥ 1.
    """
    require_model(model)
    model = stripped(model)
    per_layer = macs(model, per_layer=True)
    saved = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D) and tuple(layer.kernel_size) == (1, 1):
            kernel = layer.kernel.numpy()
            saved += float(np.mean(kernel == 0)) * per_layer[layer.name]
    total = float(sum(per_layer.values()))
    return total / (total - saved)


def cpu_has_avx():
    """Whether this machine's CPU reports the AVX instruction set.

    XNNPACK's source (at the time of writing, December 2026, ``xnn_is_chw_compatible_config`` in
    https://github.com/google/XNNPACK/blob/master/src/xnnpack/hardware-config.h; the function
    may move between versions) turns its sparse (NCHW) kernels **off** on x86 processors
    with AVX: "Sparse microkernels on x86 currently target only SSE, and on processors with
    AVX ISA dense inference is expected to be faster than sparse." On such a machine a sparse
    file runs with the dense kernels.

    Returns:
        ``True`` or ``False`` on x86 Linux (read from ``/proc/cpuinfo``). ``None`` in two cases:
        the processor is not x86 (e.g. ARM, where the sparse kernels are on), or it is x86 but
        its flags cannot be read (an OS without ``/proc/cpuinfo``, e.g. Windows or macOS), so
        which kernels run is unknown.
    """
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            flags = next((line.split(":", 1)[1].split() for line in info if line.startswith("flags")), None)
    except OSError:
        return None
    return None if flags is None else "avx" in flags
