"""Structured pruning: remove whole filters, neurons and attention heads, and N:M sparsity.

Weight pruning (:mod:`utils.pruning`) zeroes single weights. The matrices keep their shapes,
so a dense kernel does exactly as much work as before. *Structured* pruning removes whole
structures instead, and the model that comes out is physically smaller:

* :func:`prune_filters` ranks the filters of every ``Conv2D`` (and the units of every hidden
  ``Dense``) by the L1 norm of their weights (:func:`filter_importance`; Li et al., *Pruning
  Filters for Efficient ConvNets*, ICLR 2017) and builds a new, narrower model. A removed
  filter is one output channel fewer in its layer *and* one input channel fewer in the next
  layer, so the savings compound.
* :func:`remove_filters` is the surgery itself for one layer and the layer after it (Lab 02's
  exercise), and :func:`slim` builds the same smaller model as :func:`prune_filters` pair by pair
  with it (or with a student's version of it, or with randomly chosen filters as a control).
* :func:`prune_attention_heads` removes whole heads of a ``MultiHeadAttention`` layer
  (Michel, Levy & Neubig, *Are Sixteen Heads Really Better than One?*, NeurIPS 2019).
* :func:`n_by_m` imposes *N:M* sparsity with ``tfmot``: at most N non-zero weights in every
  group of M consecutive input channels (2:4 is what NVIDIA Ampere's sparse tensor cores
  run twice as fast; Mishra et al., 2021). :func:`check_n_by_m` verifies the pattern.

Shapes follow Keras: a ``Conv2D`` kernel is ``(kh, kw, c_in, c_out)``, a ``Dense`` kernel
``(n_in, n_out)``; a *filter* is one slice ``kernel[..., j]`` along the last axis.
"""

import numpy as np
import tensorflow_model_optimization as tfmot

from . import keras
from ._core import copy_model, is_pruning_wrapper, require_model, stripped
from ._validate import check_choice, check_fraction, check_int

__all__ = ["filter_l1_norms", "filter_importance", "prune_filters", "remove_filters", "slim",
           "prune_attention_heads", "n_by_m", "n_by_m_layers", "is_n_by_m", "check_n_by_m"]

layers = keras.layers

CRITERIA = ("l1", "l2")
_RATIO = "the fraction of filters to remove"

# Layers that do not mix channels: a channel removed before them is simply absent after them.
_CHANNELWISE = (layers.MaxPooling2D, layers.AveragePooling2D,
                layers.GlobalAveragePooling2D, layers.GlobalMaxPooling2D, layers.ReLU,
                layers.LeakyReLU, layers.ELU, layers.Activation, layers.Dropout,
                layers.SpatialDropout2D, layers.ZeroPadding2D, layers.Cropping2D)
_SUPPORTED = "Conv2D, Dense, BatchNormalization, DepthwiseConv2D, Flatten, pooling, activations, dropout"


def _kernel_layers(model):
    """The ``Conv2D`` and ``Dense`` layers of ``model``, in order."""
    return [layer for layer in model.layers if isinstance(layer, (layers.Conv2D, layers.Dense))]


def _norms(kernel, criterion):
    """L1 or L2 norm of each filter ``kernel[..., j]``: an array of shape ``(c_out,)``."""
    flat = np.asarray(kernel).reshape(-1, kernel.shape[-1])
    if criterion == "l1":
        return np.abs(flat).sum(axis=0)
    return np.sqrt(np.square(flat).sum(axis=0))


def filter_l1_norms(kernel):
    """L1 norm of each filter ``kernel[..., j]`` (Li et al., ICLR 2017): an array of shape ``(c_out,)``.

    Works for a ``Conv2D`` kernel ``(kh, kw, c_in, c_out)`` and a ``Dense`` kernel ``(n_in, n_out)``.
    """
    kernel = np.asarray(kernel)
    return _norms(kernel, "l1")


def filter_importance(model, criterion="l1"):
    """Importance of every filter (``Conv2D``) and neuron (``Dense``): the norm of its weights.

    Li et al. (ICLR 2017) rank the filters of a layer by the sum of absolute weights,
    ``s_j = sum |kernel[..., j]|``: a filter with small weights produces weak feature maps,
    so removing it changes the next layer's input least.

    Args:
        model: a tf_keras model.
        criterion: ``"l1"`` (sum of ``|w|``, the paper's choice) or ``"l2"`` (Euclidean norm).

    Returns:
        dict ``{layer_name: scores}``, one float array of shape ``(filters,)`` or ``(units,)``
        per ``Conv2D`` / ``Dense`` layer, in model order. Biases are not included.
    """
    require_model(model)
    check_choice(criterion, "criterion", CRITERIA)
    scores = {layer.name: _norms(layer.kernel.numpy(), criterion) for layer in _kernel_layers(model)}
    if not scores:
        raise ValueError(f"model {model.name!r} has no Conv2D or Dense layer")
    return scores


# ---------------------------------------------------------------------------------------------
# Filter pruning with physical removal
# ---------------------------------------------------------------------------------------------

def _linear_chain(model):
    """The layers of ``model`` in order, if it is a chain (each layer feeds only the next)."""
    if isinstance(model, keras.Sequential):
        return list(model.layers)
    if not model.inputs:  # a subclassed model has no symbolic inputs (None)
        raise ValueError(f"model {model.name!r} is a subclassed model; prune_filters needs a "
                         "Sequential or functional model")
    chain = [layer for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    previous = model.inputs[0] if len(model.inputs) == 1 else None
    for layer in chain:
        try:
            inputs = layer.input
        except AttributeError as error:  # a layer used several times
            raise ValueError(f"layer {layer.name!r} is used more than once; prune_filters handles "
                             "linear chains only") from error
        if isinstance(inputs, (list, tuple, dict)) or previous is None or inputs is not previous:
            raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) does not simply take "
                             "the previous layer's output (a residual Add, a branch or several "
                             "inputs?); prune_filters handles linear chains only")
        previous = layer.output
    if len(model.outputs) != 1 or model.outputs[0] is not previous:
        raise ValueError(f"model {model.name!r} is not a linear chain of layers")
    return chain


def _ratios(chain, ratio):
    """One removal ratio per prunable layer; the last Conv2D/Dense (the classifier) gets none."""
    kernels = [layer for layer in chain if isinstance(layer, (layers.Conv2D, layers.Dense))]
    if not kernels:
        raise ValueError("the model has no Conv2D or Dense layer to prune")
    last, prunable = kernels[-1].name, [layer.name for layer in kernels[:-1]]
    if isinstance(ratio, dict):
        if last in ratio:
            raise ValueError(f"{last!r} is the classifier (the last Conv2D/Dense layer); its outputs "
                             "are the classes and are never pruned")
        unknown = sorted(set(ratio) - set(prunable))
        if unknown:
            raise ValueError(f"unknown layer name(s) {unknown}; prunable layers are {prunable}")
        return {name: check_fraction(value, f"ratio[{name!r}]", meaning=_RATIO)
                for name, value in ratio.items()}
    value = check_fraction(ratio, "ratio", meaning=_RATIO)
    return {name: value for name in prunable}


def _surviving(layer, ratio, criterion):
    """Sorted indices of the filters of ``layer`` that stay: the largest norms."""
    scores = _norms(layer.kernel.numpy(), criterion)
    n_remove = int(round(ratio * len(scores)))
    if n_remove >= len(scores):
        raise ValueError(f"ratio {ratio} would remove all {len(scores)} filters of {layer.name!r}")
    order = np.argsort(-scores, kind="stable")  # largest first; ties broken by position
    return np.sort(order[:len(scores) - n_remove])


def _flatten_rows(input_shape, kept):
    """Rows of the next Dense kernel that survive a Flatten of ``(h, w, c)`` maps.

    Keras flattens channels-last: element ``(y, x, k)`` lands at ``(y * w + x) * c + k``. The
    surviving channels ``kept`` therefore survive at every spatial position ``p``.
    """
    positions, channels = int(np.prod(input_shape[1:-1])), input_shape[-1]
    return (np.arange(positions)[:, None] * channels + kept[None, :]).ravel()


def _pruned_layer(layer, kept, ratio, criterion):
    """(new config, new weights, kept output channels) of one layer, given the kept inputs."""
    config, weights = layer.get_config(), layer.get_weights()
    if isinstance(layer, (layers.Conv2D, layers.Dense)):
        if isinstance(layer, layers.Conv2D) and (layer.groups != 1 or layer.data_format != "channels_last"):
            raise ValueError(f"layer {layer.name!r}: only channels-last Conv2D with groups=1 is supported")
        kernel = weights[0] if kept is None else np.take(weights[0], kept, axis=-2)
        out = _surviving(layer, ratio, criterion) if ratio else np.arange(kernel.shape[-1])
        config["filters" if isinstance(layer, layers.Conv2D) else "units"] = len(out)
        return config, [kernel[..., out]] + [b[out] for b in weights[1:]], out
    if isinstance(layer, layers.BatchNormalization):
        axis = list(np.atleast_1d(layer.axis))
        if axis not in ([-1], [len(layer.input_shape) - 1]):
            raise ValueError(f"layer {layer.name!r}: BatchNormalization must normalise the last axis")
        return config, [w if kept is None else w[kept] for w in weights], kept
    if isinstance(layer, layers.DepthwiseConv2D):
        if layer.depth_multiplier != 1:
            raise ValueError(f"layer {layer.name!r}: only DepthwiseConv2D with depth_multiplier=1 "
                             "is supported")
        if kept is None:
            return config, weights, kept
        return config, [np.take(weights[0], kept, axis=2)] + [b[kept] for b in weights[1:]], kept
    if isinstance(layer, layers.Flatten):
        if layer.data_format != "channels_last":
            raise ValueError(f"layer {layer.name!r}: only channels-last Flatten is supported")
        return config, weights, None if kept is None else _flatten_rows(layer.input_shape, kept)
    if isinstance(layer, _CHANNELWISE):
        return config, weights, kept
    raise ValueError(f"prune_filters cannot handle layer {layer.name!r} ({type(layer).__name__}); "
                     f"supported: {_SUPPORTED}")


def prune_filters(model, ratio, *, criterion="l1"):
    """Remove the least important filters and neurons; return a new, physically smaller model.

    For every ``Conv2D`` (and every ``Dense`` except the last, the classifier) the fraction
    ``ratio`` of filters / units with the smallest norm (:func:`filter_importance`) is
    removed, and everything downstream that depends on them follows:

    * the matching input channels of the next ``Conv2D`` / ``DepthwiseConv2D``,
    * the matching ``BatchNormalization`` parameters (γ, β, moving mean and variance),
    * the matching rows of a ``Dense`` layer after ``Flatten``: the flattened vector is
      channels-last, so a channel ``k`` occupies rows ``p * c + k`` for every position ``p``.

    The surviving weights are copied unchanged, so a removed filter whose weights (and bias)
    were all zero changes no prediction. Fine-tune afterwards to recover accuracy.

    Args:
        model: a trained tf_keras model that is a linear chain (Sequential, or functional
            without branches) of Conv2D, Dense, BatchNormalization, DepthwiseConv2D, Flatten,
            pooling, activation and dropout layers. It is never modified.
        ratio: fraction in [0, 1) of the filters of every layer to remove, or a dict
            ``{layer_name: ratio}`` (layers not named keep all their filters).
        criterion: ``"l1"`` (Li et al., ICLR 2017) or ``"l2"``.

    Returns:
        A new ``keras.Sequential`` with the same layer names and fewer filters.

    Raises:
        ValueError: a ratio outside [0, 1), an unknown or classifier layer in the dict, or a
            layer / topology it cannot handle (e.g. a residual ``Add``): the message names it.
    """
    require_model(model)
    check_choice(criterion, "criterion", CRITERIA)
    chain = _linear_chain(model)
    wrapped = [layer.name for layer in chain if is_pruning_wrapper(layer)]
    if wrapped:
        raise ValueError(f"layers {wrapped} are wrapped by tfmot; call utils.pruning.strip(model) first")
    ratios = _ratios(chain, ratio)
    kept, new_layers, new_weights = None, [], []
    for layer in chain:
        config, weights, kept = _pruned_layer(layer, kept, ratios.get(layer.name, 0.0), criterion)
        config.pop("batch_input_shape", None)  # the new model gets its own Input
        new_layers.append(type(layer).from_config(config))
        new_weights.append(weights)
    pruned = keras.Sequential([keras.Input(shape=model.input_shape[1:]), *new_layers], name=model.name)
    for layer, weights in zip(new_layers, new_weights):
        layer.set_weights(weights)
    return pruned


def remove_filters(kernel, bias, next_kernel, drop, bn=None):
    """Physically remove filters ``drop`` from a layer and the matching inputs of the next layer.

    Filter ``j`` of a layer is ``kernel[..., j]``; it produces channel ``j``. Removing it means:

    * the layer's kernel loses ``kernel[..., j]`` and its bias loses ``bias[j]``;
    * a ``BatchNormalization`` on those channels loses entry ``j`` of each of its arrays
      (γ, β, moving mean, moving variance);
    * the next layer loses input channel ``j``: axis 2 of a ``Conv2D`` kernel
      ``(kh, kw, c, n)``, row ``j`` of a ``Dense`` kernel ``(c, n)`` — and after a channels-last
      ``Flatten`` of ``(h, w, c)`` maps, rows ``p * c + j`` for every position ``p``
      (a ``Dense`` kernel of ``(h * w * c, n)`` viewed as ``(h * w, c, n)`` loses ``[:, j, :]``).

    Args:
        kernel: ``(kh, kw, c_in, c)`` Conv2D or ``(n_in, c)`` Dense kernel.
        bias: ``(c,)`` or None (a layer without bias).
        next_kernel: the next Conv2D/Dense kernel, ``(kh, kw, c, n)``, ``(c, n)`` or ``(p * c, n)``.
        drop: indices of the filters to remove (any order, no repeats).
        bn: None, or the list of ``(c,)`` arrays of a BatchNormalization between the two layers.

    Returns:
        ``(kernel, bias, next_kernel, bn)``: new arrays (the inputs are not modified), with ``c``
        replaced by ``c - len(drop)``; ``bias`` and ``bn`` stay None when given None.
    """
    kernel, next_kernel = np.asarray(kernel), np.asarray(next_kernel)
    channels = kernel.shape[-1]
    drop = np.asarray(drop, dtype=int).ravel()
    if drop.size and (drop.min() < 0 or drop.max() >= channels or len(set(drop.tolist())) != drop.size):
        raise ValueError(f"drop must hold distinct filter indices in [0, {channels}), got {drop.tolist()}")
    new_kernel = np.delete(kernel, drop, axis=-1)
    new_bias = None if bias is None else np.delete(np.asarray(bias), drop)
    new_bn = None if bn is None else [np.delete(np.asarray(w), drop) for w in bn]
    if next_kernel.ndim == 4:
        new_next = np.delete(next_kernel, drop, axis=2)
    elif next_kernel.ndim == 2 and next_kernel.shape[0] % channels == 0:
        positions = next_kernel.shape[0] // channels  # 1 when the Dense follows directly
        grouped = next_kernel.reshape(positions, channels, next_kernel.shape[1])
        new_next = np.delete(grouped, drop, axis=1).reshape(-1, next_kernel.shape[1])
    else:
        raise ValueError(f"next_kernel of shape {next_kernel.shape} does not take the {channels} "
                         "channels of this layer as its input")
    return new_kernel, new_bias, new_next, new_bn


def _filters_to_drop(layer, ratio, criterion, rng):
    """Sorted indices of the filters of ``layer`` to remove: the smallest norms, or random ones."""
    n_filters = layer.kernel.shape[-1]
    if criterion == "random":
        n_remove = int(round(ratio * n_filters))
        if n_remove >= n_filters:
            raise ValueError(f"ratio {ratio} would remove all {n_filters} filters of {layer.name!r}")
        return np.sort(rng.permutation(n_filters)[:n_remove])
    return np.setdiff1d(np.arange(n_filters), _surviving(layer, ratio, criterion))


def slim(model, ratio, *, remove=remove_filters, criterion="l1", seed=None):
    """:func:`prune_filters`, built one layer pair at a time with ``remove`` (Lab 02's exercise).

    Walks the chain of ``model``: for every ``Conv2D`` / hidden ``Dense`` with a ratio, it
    chooses the filters to drop (smallest L1 norm, as :func:`prune_filters`; or random ones as a
    control) and calls ``remove(kernel, bias, next_kernel, drop, bn=...)`` with the current
    arrays of that layer, of the next ``Conv2D``/``Dense`` and of a ``BatchNormalization`` in
    between. The new layers take their widths from the arrays ``remove`` returns, so the smaller
    model is exactly what ``remove`` built. With the reference :func:`remove_filters` and an
    L-norm criterion the result equals :func:`prune_filters`'.

    Args:
        model: a trained tf_keras linear chain of Conv2D, Dense, BatchNormalization, Flatten,
            pooling, activation and dropout layers (never modified).
        ratio: fraction in [0, 1) of the filters of every prunable layer, or ``{layer: ratio}``.
        remove: a function with the signature of :func:`remove_filters`.
        criterion: ``"l1"``, ``"l2"`` or ``"random"`` (a control: filters drawn at random).
        seed: the random generator's seed for ``criterion="random"``.

    Returns:
        A new ``keras.Sequential`` with the same layer names and fewer filters.
    """
    require_model(model)
    check_choice(criterion, "criterion", (*CRITERIA, "random"))
    chain = _linear_chain(model)
    wrapped = [layer.name for layer in chain if is_pruning_wrapper(layer)]
    if wrapped:
        raise ValueError(f"layers {wrapped} are wrapped by tfmot; call utils.pruning.strip(model) first")
    for layer in chain:
        if not isinstance(layer, (layers.Conv2D, layers.Dense, layers.BatchNormalization,
                                  layers.Flatten, *_CHANNELWISE)):
            raise ValueError(f"slim cannot handle layer {layer.name!r} ({type(layer).__name__}); "
                             "use prune_filters")
    ratios, rng = _ratios(chain, ratio), np.random.default_rng(seed)
    weights = [[np.array(w) for w in layer.get_weights()] for layer in chain]
    kernels = [i for i, layer in enumerate(chain) if isinstance(layer, (layers.Conv2D, layers.Dense))]
    for i, j in zip(kernels, kernels[1:]):
        layer = chain[i]
        if not ratios.get(layer.name, 0.0):
            continue
        norms = [k for k in range(i + 1, j) if isinstance(chain[k], layers.BatchNormalization)]
        if len(norms) > 1:
            raise ValueError(f"more than one BatchNormalization after {layer.name!r}")
        drop = _filters_to_drop(layer, ratios[layer.name], criterion, rng)
        bias = weights[i][1] if layer.use_bias else None
        bn = weights[norms[0]] if norms else None
        kernel, bias, next_kernel, bn = remove(weights[i][0], bias, weights[j][0], drop, bn=bn)
        weights[i] = [np.asarray(kernel)] + ([np.asarray(bias)] if layer.use_bias else [])
        weights[j][0] = np.asarray(next_kernel)
        if norms:
            weights[norms[0]] = [np.asarray(w) for w in bn]
    new_layers = []
    for layer, arrays in zip(chain, weights):
        config = layer.get_config()
        config.pop("batch_input_shape", None)
        if isinstance(layer, (layers.Conv2D, layers.Dense)):
            config["filters" if isinstance(layer, layers.Conv2D) else "units"] = arrays[0].shape[-1]
        new_layers.append(type(layer).from_config(config))
    slimmed = keras.Sequential([keras.Input(shape=model.input_shape[1:]), *new_layers], name=model.name)
    for layer, arrays in zip(new_layers, weights):
        layer.set_weights(arrays)
    return slimmed


# ---------------------------------------------------------------------------------------------
# Attention heads
# ---------------------------------------------------------------------------------------------

def _heads_to_remove(model, heads):
    """Validate ``heads`` and return ``{layer_name: sorted head indices to remove}``."""
    attention = {layer.name: layer for layer in model.layers
                 if isinstance(layer, layers.MultiHeadAttention)}
    if not attention:
        raise ValueError(f"model {model.name!r} has no MultiHeadAttention layer")
    if not isinstance(heads, dict):
        if len(attention) != 1:
            raise TypeError("the model has several attention layers; pass heads as a dict "
                            f"{{layer_name: [head, ...]}} with names from {sorted(attention)}")
        heads = {next(iter(attention)): heads}
    result = {}
    for name, indices in heads.items():
        if name not in attention:
            raise ValueError(f"{name!r} is not a MultiHeadAttention layer; those are {sorted(attention)}")
        num_heads = attention[name].get_config()["num_heads"]
        indices = [check_int(h, f"head index of {name!r}", minimum=0, maximum=num_heads - 1)
                   for h in indices]
        if len(set(indices)) != len(indices):
            raise ValueError(f"head indices of {name!r} must be distinct, got {indices!r}")
        if len(indices) == num_heads:
            raise ValueError(f"removing all {num_heads} heads of {name!r} would leave no attention; "
                             "keep at least one head")
        result[name] = sorted(indices)
    return result


def _slice_heads(weights, new_shapes, keep):
    """Cut each weight of an attention layer down to the kept heads (on its head axis)."""
    sliced = []
    for weight, shape in zip(weights, new_shapes):
        axes = [i for i, (old, new) in enumerate(zip(weight.shape, shape)) if old != new]
        sliced.append(np.take(weight, keep, axis=axes[0]) if axes else weight)
    return sliced


def prune_attention_heads(model, heads):
    """Remove whole heads of ``MultiHeadAttention`` layers; return a new, smaller model.

    A Keras ``MultiHeadAttention`` layer with ``H`` heads stores its projections with an
    explicit head axis: query/key kernels ``(d_model, H, key_dim)``, value kernel
    ``(d_model, H, value_dim)``, their biases ``(H, ·)``, and the output kernel
    ``(H, value_dim, d_model)``. Head ``h`` contributes to the layer's output only through
    ``output_kernel[h]``, so removing head ``h`` means slicing index ``h`` out of the head
    axis of all of them (Michel, Levy & Neubig, NeurIPS 2019). A head whose output kernel
    is zero changes nothing when removed.

    Args:
        model: a tf_keras Sequential or functional model (never modified).
        heads: dict ``{attention_layer_name: [head indices to remove]}``; for a model with one
            attention layer a plain list of indices is accepted.

    Returns:
        A new model with the same layers and names, in which the named attention layers
        have fewer heads; all other weights are copied.
    """
    require_model(model)
    remove = _heads_to_remove(model, heads)

    def clone(layer):
        config = layer.get_config()
        if layer.name in remove:
            config["num_heads"] -= len(remove[layer.name])
        return type(layer).from_config(config)

    pruned = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        new_layer, weights = pruned.get_layer(layer.name), layer.get_weights()
        if layer.name in remove:
            keep = [h for h in range(layer.get_config()["num_heads"]) if h not in remove[layer.name]]
            weights = _slice_heads(weights, [w.shape for w in new_layer.get_weights()], keep)
        new_layer.set_weights(weights)
    return pruned


# ---------------------------------------------------------------------------------------------
# N:M sparsity
# ---------------------------------------------------------------------------------------------

def _check_n_m(n, m):
    """N:M sparsity keeps ``n`` of every ``m`` weights: positive ints with ``n < m``."""
    n, m = check_int(n, "n", minimum=1), check_int(m, "m", minimum=1)
    if n >= m:
        raise ValueError(f"N:M sparsity keeps n of every m weights, so n < m is needed; got {n}:{m}")
    return n, m


def _input_groups(kernel, m):
    """Kernel rearranged to ``(rows, c_in // m, m)``: the groups of ``m`` consecutive input channels."""
    kernel = np.asarray(kernel)
    rows = np.moveaxis(kernel, -1, 0).reshape(-1, kernel.shape[-2])  # (c_out·kh·kw, c_in)
    return rows.reshape(rows.shape[0], -1, m)


def n_by_m_layers(model, m=4):
    """Names of the ``Conv2D`` / ``Dense`` layers that can take an N:M pattern.

    The groups run along the *input-channel* axis (as on NVIDIA GPUs and in ``tfmot``), so
    a layer qualifies when its number of input channels is a multiple of ``m``. A first
    convolution on a grey-scale image (one input channel) never does.
    """
    require_model(model)
    m = check_int(m, "m", minimum=1)
    return [layer.name for layer in _kernel_layers(model) if layer.kernel.shape[-2] % m == 0]


def n_by_m(model, n=2, m=4):
    """Wrap a copy of ``model`` for N:M structured sparsity with ``tfmot``; train it, then strip.

    N:M sparsity keeps at most ``n`` non-zero weights in every group of ``m`` consecutive
    input channels (2:4 = 50 % sparsity in a fixed pattern). ``tfmot`` calls this
    ``sparsity_m_by_n=(zeros, block)``, i.e. ``(m - n, m)``: 2 *zeros* in each block of 4.
    The mask keeps the ``n`` largest ``|w|`` of each group; ``tfmot`` computes it at the first
    training step and then holds it fixed while the remaining weights are fine-tuned.

    Only the layers of :func:`n_by_m_layers` are wrapped (input channels divisible by ``m``);
    the others stay dense.

    Returns:
        The wrapped model. Train it with ``callbacks=utils.pruning.pruning_callbacks()`` (at
        least one step), then call ``utils.pruning.strip`` and :func:`check_n_by_m`.
    """
    n, m = _check_n_m(n, m)
    names = set(n_by_m_layers(model, m))
    if not names:
        raise ValueError(f"no Conv2D/Dense layer of {model.name!r} has a multiple of {m} input channels")

    def wrap(layer):
        if layer.name in names:
            return tfmot.sparsity.keras.prune_low_magnitude(layer, sparsity_m_by_n=(m - n, m))
        return layer

    return keras.models.clone_model(copy_model(model), clone_function=wrap)


def is_n_by_m(kernel, n=2, m=4):
    """``True`` if every group of ``m`` consecutive input channels of ``kernel`` has ≤ ``n`` non-zeros.

    Args:
        kernel: a ``Conv2D`` kernel ``(kh, kw, c_in, c_out)`` or ``Dense`` kernel ``(c_in, c_out)``
            with ``c_in`` divisible by ``m``.
    """
    n, m = _check_n_m(n, m)
    kernel = np.asarray(kernel)
    if kernel.ndim < 2 or kernel.shape[-2] % m:
        raise ValueError(f"the input-channel axis (second to last) of a kernel of shape {kernel.shape} "
                         f"is not a multiple of m={m}")
    return bool(np.all(np.count_nonzero(_input_groups(kernel, m), axis=-1) <= n))


def check_n_by_m(model, n=2, m=4):
    """Verify the N:M pattern on every eligible kernel: ``{layer_name: True/False}``.

    Checks the layers of :func:`n_by_m_layers` (tfmot wrappers are stripped first).
    """
    require_model(model)
    model = stripped(model)
    return {name: is_n_by_m(model.get_layer(name).kernel.numpy(), n, m)
            for name in n_by_m_layers(model, m)}
