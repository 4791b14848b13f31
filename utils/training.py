"""Training with the course's compile defaults.

The source document compiled its model with ``categorical_crossentropy`` while
its labels were integers; Keras then either fails or silently trains on the wrong
targets. Our labels are integer class indices, so the right loss is
**sparse** categorical cross-entropy.
"""

import numpy as np

from . import keras, tf
from ._core import apply_masks, outputs_logits, require_model
from ._validate import check_int, check_real

__all__ = ["compile_model", "train", "LOSS", "loss_for", "steps_per_epoch", "random_shift",
           "training_batches", "check_class_weight", "VALIDATION_BATCH_SIZE", "train_together"]

# The validation split is only evaluated, never trained on: large batches make that fast (Keras'
# default is 32) and change nothing but the summation order of the reported loss and accuracy.
VALIDATION_BATCH_SIZE = 512

LOSS = "sparse_categorical_crossentropy"  # integer labels, softmax outputs


def loss_for(model, from_logits=None):
    """The training loss for ``model``: sparse categorical cross-entropy of its softmax outputs
    (:data:`LOSS`), or of its logits (``from_logits=True``) for a model that outputs logits
    (``None`` detects which, see :func:`utils._core.outputs_logits`)."""
    if outputs_logits(model, from_logits):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return LOSS


def compile_model(model, *, learning_rate=1e-3, from_logits=None):
    """Compile ``model`` with Adam(``learning_rate``), sparse categorical cross-entropy and accuracy.

    The loss matches the model's outputs: softmax probabilities or logits (see :func:`loss_for`).
    """
    require_model(model)
    learning_rate = check_real(learning_rate, "learning_rate", low=0.0, low_open=True)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=loss_for(model, from_logits), metrics=["accuracy"])
    return model


def steps_per_epoch(data, batch_size):
    """Number of optimiser steps in one epoch over ``data.x_train`` (the last batch may be partial)."""
    return -(-len(data.x_train) // batch_size)


def random_shift(image, max_shift):
    """Shift one image ``(h, w, c)`` by a random whole number of pixels in [-max_shift, max_shift].

    The image is zero-padded by ``max_shift`` on every side and a random ``(h, w)`` window
    is cropped back out, so the content moves but nothing is stretched.
    """
    height, width, channels = image.shape
    padded = tf.pad(image, [[max_shift, max_shift], [max_shift, max_shift], [0, 0]])
    return tf.image.random_crop(padded, (height, width, channels))


def training_batches(data, batch_size, augment_shift):
    """A shuffled ``tf.data`` pipeline over the training set, optionally with random shifts."""
    batches = tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
    batches = batches.shuffle(len(data.x_train), reshuffle_each_iteration=True)
    if augment_shift:
        batches = batches.map(lambda x, y: (random_shift(x, augment_shift), y))
    return batches.batch(batch_size).prefetch(1)


def train(model, data, *, epochs, batch_size=64, callbacks=(), verbose=0, learning_rate=1e-3,
          augment_shift=0, class_weight=None, from_logits=None):
    """Compile ``model`` with the course defaults and fit it on ``data.x_train``.

    Args:
        model: a tf_keras classifier with softmax (or logits) outputs; the loss matches them.
        data: a :class:`utils.data.Dataset`; ``x_val`` / ``y_val`` are used for validation.
        epochs: number of passes over the training set (a positive int).
        batch_size: examples per step.
        callbacks: extra Keras callbacks, e.g. ``tfmot.sparsity.keras.UpdatePruningStep()``.
        verbose: Keras verbosity (0 keeps notebook outputs short).
        learning_rate: Adam's learning rate.
        augment_shift: if > 0, each training image is shifted by up to this many pixels in
            each direction every epoch (data augmentation; images only, ``(h, w, c)``).
        class_weight: optional ``{class index: weight}``; each example's loss is multiplied
            by its class's weight (e.g. :func:`utils.binary.balanced_class_weight` for a rare
            positive class). Every class that occurs in ``y_train`` needs a weight.
        from_logits: ``None`` detects whether the model outputs logits or softmax probabilities;
            ``True``/``False`` says so (see :func:`loss_for`).

    Returns:
        The Keras ``History``. The model is trained in place.

    Note: every call re-compiles, so the optimiser starts fresh (what fine-tuning after
    pruning wants).
    """
    check_int(epochs, "epochs", minimum=1)
    check_int(batch_size, "batch_size", minimum=1)
    check_int(augment_shift, "augment_shift (pixels)", minimum=0)
    if augment_shift and data.x_train.ndim != 4:
        raise ValueError("augment_shift needs image data of shape (n, height, width, channels), "
                         f"got x_train of shape {data.x_train.shape}")
    check_class_weight(class_weight, data.y_train)
    compile_model(model, learning_rate=learning_rate, from_logits=from_logits)
    return model.fit(training_batches(data, batch_size, augment_shift), epochs=epochs,
                     validation_data=(data.x_val, data.y_val), callbacks=list(callbacks),
                     verbose=verbose, class_weight=class_weight, validation_batch_size=VALIDATION_BATCH_SIZE)


def check_class_weight(class_weight, y_train):
    """``class_weight`` is None or maps every training class to a positive number."""
    if class_weight is None:
        return
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be a dict {{class index: weight}}, got "
                        f"{type(class_weight).__name__}")
    missing = sorted(set(np.unique(y_train).tolist()) - set(class_weight))
    if missing:
        raise ValueError(f"class_weight has no weight for the training classes {missing}")
    for c, w in class_weight.items():
        check_real(w, f"class_weight[{c!r}]", low=0.0, low_open=True, meaning="a positive weight")


def train_together(models, data, *, epochs, batch_size=64, learning_rate=1e-3, augment_shift=0, seeds=None,
                   masks=None):
    """Train several independent models side by side, one optimiser step updating all of them.

    Each model is trained as :func:`utils.training.train` trains one model — Adam(``learning_rate``),
    the cross-entropy matching its outputs, shuffled batches of its own training set, optionally
    shifted by up to ``augment_shift`` pixels — but all of them share one compiled step. On a CPU a
    step of a small network costs mostly TensorFlow's per-step overhead, so training k models
    together costs far less than k separate runs. The models share no weights and the loss is the
    sum of their losses, so each model receives exactly the gradient of its own loss: the result is
    that of separate trainings with the same batches.

    Args:
        models: tf_keras classifiers, trained in place.
        data: one :class:`utils.data.Dataset` for all models, or a list with one per model (their
            training sets must have the same length, so that every epoch has the same steps).
        epochs, batch_size, augment_shift: as in :func:`utils.training.train`.
        learning_rate: Adam's learning rate (a float, or a Keras learning-rate schedule of the step).
        seeds: one shuffle seed per model (default 0, 1, …): models with the same seed and the same
            training set see the same batches, epoch after epoch.
        masks: optional list with one entry per model: ``None`` (train every weight) or
            ``{layer_name: bool array}`` (``True`` = keep). Masked-out kernel weights are set to zero
            before training and after every step, as :class:`utils.pruning.FixedMask` does for
            :func:`train`: fine-tuning that keeps a pruned model's zeros at zero.

    Returns:
        ``models``.
    """
    models = list(models)
    for model in models:
        require_model(model)
    check_int(epochs, "epochs", minimum=1)
    check_int(batch_size, "batch_size", minimum=1)
    check_int(augment_shift, "augment_shift (pixels)", minimum=0)
    datasets = list(data) if isinstance(data, (list, tuple)) else [data] * len(models)
    seeds = list(range(len(models))) if seeds is None else list(seeds)
    if not models or len(datasets) != len(models) or len(seeds) != len(models):
        raise ValueError(f"need one dataset and one seed per model: got {len(models)} models, "
                         f"{len(datasets)} datasets and {len(seeds)} seeds")
    masks = [None] * len(models) if masks is None else list(masks)
    if len(masks) != len(models):
        raise ValueError(f"need one mask dict (or None) per model: got {len(models)} models and "
                         f"{len(masks)} masks")
    sizes = {len(each.x_train) for each in datasets}
    if len(sizes) != 1:
        raise ValueError(f"the training sets must have the same length, got {sorted(sizes)}")
    masked = [(model, each) for model, each in zip(models, masks) if each is not None]

    def zero_masked():     # masked-out kernel weights back to zero (apply_masks checks the masks)
        for model, model_masks in masked:
            apply_masks(model, model_masks)

    zero_masked()

    def batches(each, seed):
        pipeline = tf.data.Dataset.from_tensor_slices((each.x_train, each.y_train))
        pipeline = pipeline.shuffle(len(each.x_train), seed=int(seed), reshuffle_each_iteration=True)
        return pipeline.batch(batch_size)

    stream = tf.data.Dataset.zip(tuple(batches(each, seed) for each, seed in zip(datasets, seeds)))
    stream = stream.prefetch(1)
    losses = [keras.losses.SparseCategoricalCrossentropy(from_logits=outputs_logits(model))
              for model in models]
    optimizer = keras.optimizers.Adam(learning_rate)
    variables = [v for model in models for v in model.trainable_variables]
    optimizer.build(variables)     # its slots exist before tracing: the step is traced once, not twice

    @tf.function(input_signature=[stream.element_spec])    # any batch size: traced once, not per shape
    def step(batch):
        with tf.GradientTape() as tape:
            total = tf.add_n([loss(y, model(_shift_batch(x, augment_shift), training=True))
                              for model, loss, (x, y) in zip(models, losses, batch)])
        optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
        zero_masked()

    for _ in range(epochs):
        for batch in stream:
            step(batch)
    return models


def _shift_batch(x, max_shift):
    """Shift every image of the batch ``x`` by its own random whole number of pixels in
    [-max_shift, max_shift] (zero padding), like :func:`utils.training.random_shift`, vectorised."""
    if not max_shift:
        return x
    n, height, width = tf.shape(x)[0], x.shape[1], x.shape[2]
    padded = tf.pad(x, [[0, 0], [max_shift, max_shift], [max_shift, max_shift], [0, 0]])
    rows = tf.random.uniform([n, 1], 0, 2 * max_shift + 1, dtype=tf.int32) + tf.range(height)[None, :]
    cols = tf.random.uniform([n, 1], 0, 2 * max_shift + 1, dtype=tf.int32) + tf.range(width)[None, :]
    return tf.gather(tf.gather(padded, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
