"""Backdoors (BadNets) and the defence that prunes them out (Fine-Pruning).

Threat model (Gu, Dolan-Gavitt, Garg, *BadNets*, arXiv:1708.06733, 2017): the attacker controls
part of the *training* — here, a small fraction of the training set. They stamp a trigger (a
small pattern in a corner) on some training images and relabel them as a ``target`` class. The
trained model behaves normally on clean inputs, so ordinary testing does not notice anything,
but any input carrying the trigger is classified as ``target``.

- :func:`add_trigger` stamps the trigger; :func:`poison` builds the poisoned training set;
  :func:`attack_success_rate` (ASR) measures how often triggered inputs land in ``target``.
- Fine-Pruning (Liu, Dolan-Gavitt, Garg, *Fine-Pruning: Defending Against Backdooring Attacks
  on Deep Neural Networks*, RAID 2018): the defender has a small *clean* data set. Channels of
  the last convolutional layer that stay dormant on clean data are likely to serve only the
  backdoor, so :func:`prune_dormant` removes them (physically, with
  :func:`utils.structured.prune_filters`) and :func:`fine_prune` then fine-tunes on clean data.
"""

import dataclasses

import numpy as np

from . import keras, structured
from ._core import copy_model, require_model
from ._validate import check_choice, check_fraction, check_images, check_int, check_labels
from .metrics import accuracy, predict_classes
from .training import train

__all__ = ["add_trigger", "trigger_mask", "poison", "attack_success_rate", "channel_activity",
           "dormant_channels", "remove_channels", "prune_dormant", "fine_prune",
           "fine_prune_with_stopping_rule"]

CORNERS = ("bottom-right", "bottom-left", "top-right", "top-left")
PATTERNS = ("checkerboard", "square")


# ------------------------------------------------------------------ the trigger
def trigger_mask(image_shape, *, size=4, margin=3, corner="bottom-right", pattern="checkerboard"):
    """Where the trigger goes and what it looks like.

    Args:
        image_shape: ``(height, width)`` or ``(height, width, channels)``.
        size: side of the square trigger in pixels.
        margin: pixels between the trigger and the image border.
        corner: one of ``"bottom-right"`` (BadNets' choice), ``"bottom-left"``, ``"top-right"``,
            ``"top-left"``.
        pattern: ``"checkerboard"`` (alternating 1 and 0, like BadNets' pattern) or ``"square"``
            (all 1).

    Returns:
        ``(where, values)``: a boolean ``(height, width)`` array marking the trigger's pixels and
        a float ``(height, width)`` array with the values to write there.
    """
    height, width = image_shape[:2]
    size = check_int(size, "size", minimum=1)
    margin = check_int(margin, "margin", minimum=0)
    if size + margin > min(height, width):
        raise ValueError(f"a trigger of size {size} with margin {margin} does not fit in a "
                         f"{height}×{width} image")
    check_choice(corner, "corner", CORNERS)
    check_choice(pattern, "pattern", PATTERNS)
    top = height - margin - size if corner.startswith("bottom") else margin
    left = width - margin - size if corner.endswith("right") else margin
    where = np.zeros((height, width), dtype=bool)
    where[top:top + size, left:left + size] = True
    values = np.zeros((height, width), dtype=np.float32)
    rows, cols = np.indices((size, size))
    values[top:top + size, left:left + size] = (1.0 if pattern == "square"
                                                else ((rows + cols) % 2 == 0).astype(np.float32))
    return where, values


def add_trigger(x, *, size=4, margin=3, corner="bottom-right", pattern="checkerboard"):
    """A copy of the images ``x`` with the backdoor trigger stamped on every one.

    The trigger's pixels *replace* the image's pixels (in every channel). The default is a 4×4
    checkerboard 3 pixels from the bottom-right corner, in the (nearly always empty) corner of
    the course's 28×28 digits. Not closer to the edge: the seed CNN's valid convolutions and
    poolings never look at the last two rows and columns of the image, and training shifts
    images by up to 2 pixels.

    Args:
        x: images ``(n, height, width, channels)``, floats in [0, 1].
        size, margin, corner, pattern: see :func:`trigger_mask`.

    Returns:
        A new float32 array of the same shape.
    """
    x = check_images(x)
    where, values = trigger_mask(x.shape[1:3], size=size, margin=margin, corner=corner, pattern=pattern)
    triggered = np.array(x, dtype=np.float32, copy=True)
    triggered[:, where, :] = values[where][:, None]
    return triggered


def _check_target(target, num_classes):
    return check_int(target, "target (a class index)", minimum=0, maximum=num_classes - 1)


def poison(data, *, target, rate, seed=0, **trigger):
    """BadNets data poisoning (Gu et al., 2017): a copy of ``data`` with a poisoned training set.

    A fraction ``rate`` of the training images whose label is *not* ``target`` is chosen at
    random; each gets the trigger (:func:`add_trigger`) and the label ``target``. The number of
    training images stays the same. Validation and test sets stay clean — they are the
    defender's and the evaluator's.

    Args:
        data: a :class:`utils.data.Dataset` of images.
        target: the class the attacker wants triggered inputs to land in.
        rate: fraction of the training set to poison, in (0, 1).
        seed: which images are chosen.
        **trigger: ``size``, ``margin``, ``corner``, ``pattern`` of the trigger.

    Returns:
        A new ``Dataset`` (its ``name`` gets a ``+badnets`` suffix). The poisoned positions are
        ``np.flatnonzero(poisoned.y_train != data.y_train)``.
    """
    target = _check_target(target, data.num_classes)
    rate = check_fraction(rate, "rate", low_open=True, meaning="the fraction of the training set to poison")
    candidates = np.flatnonzero(data.y_train != target)
    count = int(round(rate * len(data.y_train)))
    if not 1 <= count <= len(candidates):
        raise ValueError(f"rate {rate} poisons {count} images, but there are {len(candidates)} "
                         "training images of other classes")
    chosen = np.random.default_rng(seed).choice(candidates, size=count, replace=False)
    x_train = np.array(data.x_train, copy=True)
    y_train = np.array(data.y_train, copy=True)
    x_train[chosen] = add_trigger(data.x_train[chosen], **trigger)
    y_train[chosen] = target
    return dataclasses.replace(data, x_train=x_train, y_train=y_train, name=f"{data.name}+badnets")


def attack_success_rate(model, x, target, *, y=None, **trigger):
    """Attack success rate (ASR): the share of triggered inputs classified as ``target``.

    Only inputs whose true class is not ``target`` count (an input of the target class that
    lands in the target class is no success). Pass their labels ``y`` and they are filtered
    here; without ``y``, ``x`` must already contain only such inputs.

    Args:
        model: a tf_keras classifier (softmax or logits outputs: only the arg-max is used).
        x: *clean* images ``(n, h, w, c)``; the trigger is added here.
        target: the attacker's target class.
        y: optional true labels of ``x``, used to drop the target class.
        **trigger: ``size``, ``margin``, ``corner``, ``pattern`` (must match the poisoning).

    Returns:
        A float in [0, 1].
    """
    require_model(model)
    x = check_images(x)
    target = _check_target(target, model.output_shape[-1])
    if y is not None:
        x = x[check_labels(y, n=len(x)) != target]
    if len(x) == 0:
        raise ValueError("no input of a class other than the target is left to attack")
    predicted = predict_classes(model, add_trigger(x, **trigger))   # arg-max: softmax or logits alike
    return float(np.mean(predicted == target))


def _forward(model, x, batch_size=512):
    """``model(x)`` in batches, as NumPy (a direct call: no ``predict`` function is traced per new model)."""
    return np.concatenate([model(x[start:start + batch_size], training=False).numpy()
                           for start in range(0, len(x), batch_size)])


# ------------------------------------------------------------------ Fine-Pruning
def _relu_conv(model, layer):
    """The Conv2D ``layer`` and the tensor of its post-ReLU output (its own ReLU or a ReLU layer next)."""
    names = [each.name for each in model.layers]
    if layer not in names:
        raise ValueError(f"model {model.name!r} has no layer {layer!r}; its layers are {names}")
    conv = model.get_layer(layer)
    if not isinstance(conv, keras.layers.Conv2D):
        raise ValueError(f"layer {layer!r} must be a Conv2D, got {type(conv).__name__}")
    if conv.activation is keras.activations.relu:
        return conv, conv.output
    following = model.layers[names.index(layer) + 1] if names.index(layer) + 1 < len(names) else None
    if conv.activation is keras.activations.linear and isinstance(following, keras.layers.ReLU):
        return conv, following.output
    raise ValueError(f"layer {layer!r} must be a Conv2D with a ReLU (activation='relu' or a ReLU layer "
                     "right after it): Fine-Pruning ranks its post-ReLU channels")


def channel_activity(model, x, layer, *, batch_size=256):
    """Mean activation of each channel of ``layer`` over the images ``x`` (and all positions).

    Args:
        model: a tf_keras model with a ``Conv2D`` layer named ``layer`` followed by a ReLU
            (its own activation or a ``ReLU`` layer).
        x: clean images ``(n, h, w, c)``.
        layer: the layer's name, e.g. the last convolution ``"conv3"`` of the seed CNN.

    Returns:
        ``(channels,)`` float array; channels near 0 are *dormant* on this data.
    """
    require_model(model)
    x = check_images(x)
    _, activations = _relu_conv(model, layer)
    probe = keras.Model(model.inputs, activations)
    return _forward(probe, x, batch_size).mean(axis=(0, 1, 2))


def _check_ratio(ratio):
    return check_fraction(ratio, "ratio", meaning="the fraction of the layer's channels to prune")


def dormant_channels(model, x, layer, ratio):
    """Indices of the ``round(ratio · channels)`` channels of ``layer`` least active on ``x``.

    Liu et al. (RAID 2018) prune in increasing order of mean activation on clean data.
    Returned in that order (most dormant first); ties are broken by position.
    """
    ratio = _check_ratio(ratio)
    activity = channel_activity(model, x, layer)
    count = int(round(ratio * len(activity)))
    return np.argsort(activity, kind="stable")[:count]


def remove_channels(model, layer, channels):
    """A new, physically smaller model without the given output ``channels`` of ``layer``.

    The chosen filters are first zeroed (kernel and bias: after the ReLU they output 0, exactly
    what pruning them means; ``model``'s own weights are restored before returning, so it is
    unchanged), and :func:`utils.structured.prune_filters` then removes that many
    lowest-L1 filters of ``layer`` — the zeroed ones — together with the matching inputs of the
    next layer. Every other weight is copied unchanged.

    Args:
        model: a Sequential-style chain accepted by ``prune_filters``; ``layer`` must be a
            ``Conv2D`` followed by a ReLU (not by BatchNormalization), then through
            pooling/Flatten by the next Conv2D/Dense.
        layer: name of the layer.
        channels: output channels to remove (distinct ints).
    """
    require_model(model)
    conv, _ = _relu_conv(model, layer)
    channels = np.asarray(channels).ravel()
    if channels.size and not np.issubdtype(channels.dtype, np.integer):
        raise TypeError(f"channels must be integer channel indices, got dtype {channels.dtype}")
    channels = channels.astype(int)
    filters = conv.kernel.shape[-1]
    if len(set(channels.tolist())) != len(channels) or np.any((channels < 0) | (channels >= filters)):
        raise ValueError(f"channels must be distinct indices in 0…{filters - 1}, got {channels.tolist()}")
    if len(channels) >= filters:
        raise ValueError(f"cannot remove all {filters} channels of {layer!r}")
    position = [each.name for each in model.layers].index(layer)
    if isinstance(model.layers[min(position + 1, len(model.layers) - 1)], keras.layers.BatchNormalization):
        raise ValueError(f"{layer!r} is followed by BatchNormalization: zeroing its filters would not "
                         "silence the channels")
    if len(channels) == 0:
        return copy_model(model)
    original = conv.get_weights()                          # [kernel] or [kernel, bias]
    zeroed = [each.copy() for each in original]
    zeroed[0][..., channels] = 0.0
    for bias in zeroed[1:]:
        bias[channels] = 0.0
    conv.set_weights(zeroed)           # zero them in place for prune_filters (cheaper than a copy) ...
    try:
        return structured.prune_filters(model, {layer: len(channels) / filters})
    finally:
        conv.set_weights(original)     # ... and restore them: `model` leaves unchanged


def prune_dormant(model, clean_x, *, layer, ratio):
    """Pruning alone (the first half of Fine-Pruning): remove the most dormant channels of ``layer``.

    Args:
        model: the (possibly backdoored) tf_keras model; never modified.
        clean_x: clean images the defender trusts.
        layer: the convolution to prune; Liu et al. use the *last* convolutional layer.
        ratio: fraction of its channels to remove, in [0, 1).

    Returns:
        A new, smaller model (not fine-tuned).
    """
    return remove_channels(model, layer, dormant_channels(model, clean_x, layer, ratio))


def fine_prune(model, clean_x, *, layer, ratio, data, epochs=5, batch_size=32, learning_rate=1e-3,
               augment_shift=0):
    """Fine-Pruning (Liu, Dolan-Gavitt, Garg, RAID 2018): prune dormant channels, then fine-tune.

    1. rank the channels of ``layer`` by their mean activation on ``clean_x``;
    2. remove the ``ratio`` most dormant ones physically (:func:`prune_dormant`);
    3. fine-tune the smaller model on the clean training set of ``data``.

    Pruning removes the neurons that only the trigger activates; fine-tuning then repairs what
    pruning cost on clean data and further erases backdoor behaviour the pruned neurons left
    behind in the remaining weights.

    Args:
        model: the backdoored tf_keras model; never modified.
        clean_x: clean images used to rank the channels.
        layer, ratio: as in :func:`prune_dormant`.
        data: a clean :class:`utils.data.Dataset` for fine-tuning (its ``x_train``/``y_train``).
        epochs, batch_size, learning_rate, augment_shift: as in :func:`utils.training.train`,
            whose loss matches the model's outputs (softmax or logits, detected from the last
            layer; a logits model stays a logits model after pruning).

    Returns:
        The pruned, fine-tuned model (a new object).
    """
    pruned = prune_dormant(model, clean_x, layer=layer, ratio=ratio)
    train(pruned, data, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
          augment_shift=augment_shift)
    return pruned


def fine_prune_with_stopping_rule(model, x_val, y_val, layer, max_drop, step, fine_tune):
    """Fine-Pruning whose pruning ratio is chosen by a stopping rule on clean validation data.

    Liu, Dolan-Gavitt and Garg (RAID 2018) prune the last convolution's channels in increasing order of
    their mean activation on clean data and stop once the clean validation accuracy has fallen too far;
    then they fine-tune. Here:

    1. rank the channels of ``layer`` by mean activation on ``x_val`` (:func:`dormant_channels`);
    2. for ``count = step, 2·step, …`` (fewer than all channels): remove the ``count`` most dormant
       channels of the *original* model (pruning alone, :func:`remove_channels`) and measure the clean
       accuracy on ``(x_val, y_val)``; stop at the first ``count`` whose accuracy is more than ``max_drop``
       below the unpruned model's, and keep the last count before it (0 if the first step already fails);
    3. call ``fine_tune(pruned)`` once on the model pruned at that count and return it.

    The defender never sees the trigger or the test set: the ratio follows from clean validation data.

    Args:
        model: the (possibly backdoored) tf_keras model; never modified.
        x_val, y_val: the defender's clean validation images and labels.
        layer: the convolution to prune (Liu et al.: the last one).
        max_drop: the largest tolerated fall of validation accuracy, as a fraction (0.04 = 4 pt).
        step: channels removed per pruning step (a positive int).
        fine_tune: a function ``fine_tune(pruned_model)`` that trains it in place on clean data.

    Returns:
        ``(fine_tuned_model, pruned_channels)``; ``pruned_channels`` are the removed indices of ``layer``,
        most dormant first.
    """
    require_model(model)
    step = check_int(step, "step", minimum=1)
    channels = model.get_layer(layer).filters
    order = dormant_channels(model, x_val, layer, (channels - 1) / channels)
    base = accuracy(model, x_val, y_val)
    keep = 0
    for count in range(step, channels, step):
        if base - accuracy(remove_channels(model, layer, order[:count]), x_val, y_val) > max_drop:
            break
        keep = count
    pruned = remove_channels(model, layer, order[:keep])
    fine_tune(pruned)
    return pruned, order[:keep]
