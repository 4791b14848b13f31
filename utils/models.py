"""Model builders used throughout the course (all Keras 2 / ``tf_keras``).

Every builder returns a fresh, *uncompiled* ``keras.Model`` whose layers have stable,
readable names (``conv1``, ``dense1``, …) so that per-layer tables and plots line up.
Compile and train with :func:`utils.training.train`.
"""

from . import keras
from ._validate import check_int

__all__ = ["seed_cnn", "lenet_300_100", "lenet5", "mlp", "small_cnn", "tiny_transformer", "lstm_classifier",
           "PositionEmbedding"]

layers = keras.layers


def _check_widths(widths, name="widths"):
    """Layer widths: a non-empty list or tuple of positive ints, e.g. ``(300, 100)``."""
    if not isinstance(widths, (list, tuple)):
        raise TypeError(f"{name} must be a list or tuple of positive ints, e.g. (300, 100), got {widths!r}")
    if not widths:
        raise ValueError(f"{name} must be a non-empty sequence of positive ints, e.g. (300, 100), "
                         f"got {widths!r}")
    return tuple(check_int(w, f"{name}[{i}]", minimum=1) for i, w in enumerate(widths))


def seed_cnn(input_shape=(28, 28, 1), num_classes=10):
    """The source document's CNN, layer for layer (93,322 parameters for 28×28×1, 10 classes).

    Conv32-3×3 → MaxPool → Conv64-3×3 → MaxPool → Conv64-3×3 → Flatten → Dense64 → Dense10 (softmax),
    ReLU activations, ``valid`` padding — exactly as in the document's ``models.Sequential`` example.
    """
    num_classes = check_int(num_classes, "num_classes", minimum=1)
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
    widths = _check_widths(widths)
    num_classes = check_int(num_classes, "num_classes", minimum=1)
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
    num_classes = check_int(num_classes, "num_classes", minimum=1)
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
    widths = _check_widths(widths)
    num_classes = check_int(num_classes, "num_classes", minimum=1)
    dense = check_int(dense, "dense", minimum=0)
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


def _check_sequence_shape(input_shape):
    """The input shape of a sequence model: ``(sequence length, features per step)``, positive ints."""
    if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
        raise ValueError("input_shape must be (sequence length, features per step), e.g. (24, 11), "
                         f"got {input_shape!r}")
    return tuple(check_int(d, f"input_shape[{i}]", minimum=1) for i, d in enumerate(input_shape))


@keras.utils.register_keras_serializable(package="utils")
class PositionEmbedding(layers.Layer):
    """Adds a learned vector to each position of a sequence: ``(n, length, d) → (n, length, d)``.

    Attention by itself ignores order (it treats the sequence as a set); adding one
    trainable vector per position lets the model tell positions apart (Vaswani et al. 2017
    used fixed sinusoids; BERT-style models learn them, as here).
    """

    def build(self, input_shape):
        self.positions = self.add_weight(
            name="positions", shape=tuple(input_shape[1:]),
            initializer=keras.initializers.RandomNormal(stddev=0.1))
        super().build(input_shape)

    def call(self, x):
        return x + self.positions


def tiny_transformer(input_shape=(24, 11), num_classes=4, *, d_model=32, num_heads=4, key_dim=8,
                     ff_units=64):
    """A one-block Transformer encoder classifier, small enough to train on a CPU in seconds.

    Dense ``embed`` (each step's features → ``d_model``) → :class:`PositionEmbedding` →
    ``MultiHeadAttention`` (``attention``: ``num_heads`` heads of size ``key_dim``, self-attention)
    → residual + LayerNorm → feed-forward (``ff1`` ReLU, ``ff2``) → residual + LayerNorm →
    average over positions → Dense softmax (``output``). Post-norm, as in Vaswani et al. (2017).

    Args:
        input_shape: ``(length, features)``, e.g. one-hot symbols ``(24, 11)``.
        num_heads, key_dim: heads of the attention layer and the size of each head's
            query/key/value vectors (``utils.structured.prune_attention_heads`` removes heads).
    """
    input_shape = _check_sequence_shape(input_shape)
    for name, value in (("num_classes", num_classes), ("d_model", d_model), ("num_heads", num_heads),
                        ("key_dim", key_dim), ("ff_units", ff_units)):
        check_int(value, name, minimum=1)
    inputs = keras.Input(shape=input_shape, name="sequence")
    x = layers.Dense(d_model, name="embed")(inputs)
    x = PositionEmbedding(name="position")(x)
    attended = layers.MultiHeadAttention(num_heads, key_dim, name="attention")(x, x)
    x = layers.LayerNormalization(name="norm1")(layers.Add(name="residual1")([x, attended]))
    hidden = layers.Dense(ff_units, activation="relu", name="ff1")(x)
    hidden = layers.Dense(d_model, name="ff2")(hidden)
    x = layers.LayerNormalization(name="norm2")(layers.Add(name="residual2")([x, hidden]))
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="tiny_transformer")


def lstm_classifier(input_shape=(24, 11), num_classes=4, *, units=32):
    """LSTM → Dense softmax: reads a sequence step by step and classifies its final state.

    Args:
        input_shape: ``(length, features)``.
        units: size of the LSTM's hidden and cell state.
    """
    input_shape = _check_sequence_shape(input_shape)
    num_classes = check_int(num_classes, "num_classes", minimum=1)
    units = check_int(units, "units", minimum=1)
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.LSTM(units, name="lstm"),
        layers.Dense(num_classes, activation="softmax", name="output"),
    ], name="lstm_classifier")
