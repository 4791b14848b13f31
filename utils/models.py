"""Model builders used throughout the course (all Keras 2 / ``tf_keras``).

Every builder returns a fresh, *uncompiled* ``keras.Model`` whose layers have stable,
readable names (``conv1``, ``dense1``, …) so that per-layer tables and plots line up.
Compile and train with :func:`utils.training.train`.
"""

from . import keras

__all__ = ["seed_cnn", "lenet_300_100", "lenet5", "mlp", "small_cnn"]

layers = keras.layers


def _check_widths(widths, what):
    widths = tuple(widths)
    if not widths or not all(isinstance(w, int) and not isinstance(w, bool) and w > 0
                              for w in widths):
        raise ValueError(f"{what} must be a non-empty sequence of positive ints, got {widths!r}")
    return widths


def seed_cnn(input_shape=(28, 28, 1), num_classes=10):
    """The source document's CNN, layer for layer (93,322 parameters for 28×28×1, 10 classes).

    Conv32-3×3 → MaxPool → Conv64-3×3 → MaxPool → Conv64-3×3 → Flatten → Dense64 → Dense10 (softmax),
    ReLU activations, ``valid`` padding — exactly as in the document's ``models.Sequential`` example.
    """
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(32, (3, 3), activation="relu", name="conv1"),
        layers.MaxPooling2D((2, 2), name="pool1"),
        layers.Conv2D(64, (3, 3), activation="relu", name="conv2"),
        layers.MaxPooling2D((2, 2), name="pool2"),
        layers.Conv2D(64, (3, 3), activation="relu", name="conv3"),
        layers.Flatten(name="flatten"),
        layers.Dense(64, activation="relu", name="dense1"),
        layers.Dense(num_classes, activation="softmax", name="output"),
    ], name="seed_cnn")


def mlp(widths, input_shape=(28, 28, 1), num_classes=10, name="mlp"):
    """A fully connected classifier: Flatten → Dense(w, ReLU) for each w in ``widths`` → softmax.

    Args:
        widths: hidden-layer sizes, e.g. ``(300, 100)``.
    """
    widths = _check_widths(widths, "widths")
    model = keras.Sequential([keras.Input(shape=input_shape), layers.Flatten(name="flatten")],
                             name=name)
    for i, width in enumerate(widths, start=1):
        model.add(layers.Dense(width, activation="relu", name=f"dense{i}"))
    model.add(layers.Dense(num_classes, activation="softmax", name="output"))
    return model


def lenet_300_100(input_shape=(28, 28, 1), num_classes=10):
    """LeNet-300-100: the fully connected net that Han et al. (NeurIPS 2015) pruned 12× (266,610 params)."""
    return mlp((300, 100), input_shape, num_classes, name="lenet_300_100")


def lenet5(input_shape=(28, 28, 1), num_classes=10):
    """LeNet-5 in its common modern form (LeCun et al. 1998 with ReLU and max pooling).

    Conv6-5×5 (same) → MaxPool → Conv16-5×5 → MaxPool → Flatten → Dense120 → Dense84 → softmax.
    (Han et al. 2015 pruned Caffe's variant with 20 and 50 filters and a 500-unit layer.)
    """
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(6, 5, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(16, 5, activation="relu", name="conv2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(120, activation="relu", name="dense1"),
        layers.Dense(84, activation="relu", name="dense2"),
        layers.Dense(num_classes, activation="softmax", name="output"),
    ], name="lenet5")


def small_cnn(widths=(16, 32), input_shape=(28, 28, 1), num_classes=10, batch_norm=True,
              dense=64):
    """A small VGG-style CNN: per width, Conv3×3 (same) → [BatchNorm] → ReLU → MaxPool.

    Then Flatten → Dense(``dense``, ReLU) → softmax (``dense=0`` drops the hidden Dense layer).
    Convenient for structured pruning: every conv layer is followed by the same pattern.

    Args:
        widths: number of filters of each conv block, e.g. ``(16, 32)``.
        batch_norm: insert ``BatchNormalization`` after each convolution.
        dense: units of the hidden fully connected layer, or 0 for none.
    """
    widths = _check_widths(widths, "widths")
    model = keras.Sequential([keras.Input(shape=input_shape)], name="small_cnn")
    for i, width in enumerate(widths, start=1):
        model.add(layers.Conv2D(width, 3, padding="same", use_bias=not batch_norm,
                                name=f"conv{i}"))
        if batch_norm:
            model.add(layers.BatchNormalization(name=f"bn{i}"))
        model.add(layers.ReLU(name=f"relu{i}"))
        model.add(layers.MaxPooling2D(2, name=f"pool{i}"))
    model.add(layers.Flatten(name="flatten"))
    if dense:
        model.add(layers.Dense(dense, activation="relu", name="dense1"))
    model.add(layers.Dense(num_classes, activation="softmax", name="output"))
    return model
