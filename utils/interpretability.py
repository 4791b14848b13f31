"""What a pruned network still looks at: surviving input connections.

Han et al. (*Learning both Weights and Connections*, NeurIPS 2015, Figure 4) showed that
after pruning LeNet-300-100 on MNIST, the first layer keeps its connections to the centre of
the image, where the digits are written, and drops those to the empty border. Counting the
surviving weights of each input pixel (:func:`input_connections`) reproduces that picture.

One caveat shapes the experiment. A pixel that is zero in every training image never sends
a gradient to its weights: they keep their random initial values, and magnitude pruning
cannot tell them from useful weights. Han et al. trained with an L2 penalty (weight
decay), which pulls such unused weights towards zero so that magnitude pruning removes them
first. :func:`add_l2_penalty` adds that penalty to any model.
"""

import numpy as np

from . import keras, tf
from ._core import prunable_layers, require_model
from ._validate import check_real

__all__ = ["add_l2_penalty", "input_connections"]


def add_l2_penalty(model, l2):
    """Add ``l2 * sum(kernel ** 2)`` for every Dense/Conv kernel to the model's training loss.

    Args:
        model: a tf_keras model (modified in place and returned).
        l2: the penalty strength, a finite number >= 0 (e.g. ``1e-4``).

    Returns:
        ``model``, with one extra loss per prunable layer (see ``model.losses``). Train it with
        :func:`utils.training.train`, which compiles the model, so the penalty is included.

    Note: the penalty lives on this model object only. :func:`utils.pruning.copy_model`
    (and so :func:`utils.pruning.gradual_prune`) builds a fresh copy without it.
    """
    require_model(model)
    l2 = check_real(l2, "l2", low=0.0, meaning="the strength of the L2 penalty, e.g. 1e-4")
    layers = prunable_layers(model)
    if not layers:
        raise ValueError(f"Model {model.name!r} has no Dense or Conv layers to regularise")
    for layer in layers:
        model.add_loss(lambda layer=layer: l2 * tf.reduce_sum(tf.square(layer.kernel)))
    return model


def input_connections(model, layer=None):
    """Number of non-zero weights leaving each input feature into the first Dense layer.

    Args:
        model: a tf_keras model whose input is flattened straight into a Dense layer, e.g.
            :func:`utils.models.lenet_300_100` (input ``(28, 28, 1)``).
        layer: name of that Dense layer; default: the model's first Dense layer.

    Returns:
        int array with the model's input shape without the batch axis, e.g. ``(28, 28, 1)``:
        entry ``[i, j, c]`` counts the surviving connections of input pixel ``(i, j, c)``
        (between 0 and the layer's number of units).
    """
    require_model(model)
    if layer is None:
        dense = [lay for lay in model.layers if isinstance(lay, keras.layers.Dense)]
        if not dense:
            raise ValueError(f"Model {model.name!r} has no Dense layer")
        target = dense[0]
    else:
        target = model.get_layer(layer)
        if not isinstance(target, keras.layers.Dense):
            raise ValueError(f"Layer {layer!r} is a {type(target).__name__}, not a Dense layer")
    input_shape = tuple(model.input_shape[1:])
    kernel = target.kernel.numpy()
    if kernel.shape[0] != int(np.prod(input_shape)):
        raise ValueError(f"Layer {target.name!r} has {kernel.shape[0]} inputs, but the model input "
                         f"{input_shape} has {int(np.prod(input_shape))} features; it must read the "
                         "flattened input directly")
    return np.count_nonzero(kernel, axis=1).reshape(input_shape)
