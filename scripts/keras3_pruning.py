#!/usr/bin/env python
"""Magnitude pruning in Keras 3, without tfmot, exported to LiteRT.

The course's labs use Keras 2 (``tf_keras``), because TensorFlow Model Optimization
(``tfmot``) does not support Keras 3. This program shows that the *idea* of tfmot's
``prune_low_magnitude`` needs no library: a boolean mask per kernel, a schedule that raises
the sparsity step by step, and a callback that puts the zeros back after every optimiser
step. It runs in its own process with Keras 3 (see the appendix "Pruning in Keras 3 without
tfmot"), because one Python process can hold only one of the two Kerases.

What it does, in order:

1. trains the course's seed CNN (rebuilt in Keras 3) on the arrays in ``--data``;
2. prunes every Conv2D and Dense kernel by weight magnitude while training, following
   Zhu & Gupta's polynomial schedule, with :class:`MagnitudePruning` (a Keras callback);
   the masks are computed with ``keras.ops`` and checked against the course's NumPy
   reference ``utils/masks.py:magnitude_mask``;
3. exports the dense and the pruned model as SavedModels (``model.export``), converts them
   to ``.tflite`` with ``tf.lite.TFLiteConverter.from_saved_model`` and runs them with
   LiteRT (``ai_edge_litert``);
4. prints one JSON object on standard output (everything else goes to standard error):
   accuracies, per-layer sparsity in Keras and in the ``.tflite`` file, LiteRT's agreement
   with Keras, file sizes, and the schedule's history.

Usage:
    python scripts/keras3_pruning.py --data digits.npz
    python scripts/keras3_pruning.py --data digits.npz --final-sparsity 0.9 --out /tmp/k3

``--data`` is an ``.npz`` file with the arrays ``x_train, y_train, x_test, y_test``
(images ``(n, height, width, channels)`` as float32 in [0, 1], integer labels), e.g. saved
from ``utils.data.load_dataset("digits")`` by the parent process.
"""

# Keras 3 in this process. Both variables are read once, when TensorFlow and Keras are first
# imported, so they are set before any import below. TF_USE_LEGACY_KERAS=0 overrides the "1"
# that a parent process running the course (``import utils``) passes on to its children.
import os

os.environ["TF_USE_LEGACY_KERAS"] = "0"
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import gzip
import importlib
import json
import pathlib
import sys
import tempfile
import types

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_course_masks():
    """Import the course's ``utils/masks.py`` *without* running ``utils/__init__.py``.

    ``import utils.masks`` would first execute ``utils/__init__.py``, which sets
    ``TF_USE_LEGACY_KERAS=1``, imports TensorFlow with Keras 2 and refuses to run next to
    Keras 3. ``utils/masks.py`` itself needs only NumPy (and ``utils/_validate.py``). So we
    register an empty stand-in package, ``course_neutral``, whose search path is the
    ``utils`` folder, and import ``course_neutral.masks`` from it: Python finds the file
    ``utils/masks.py``, and its relative import ``from ._validate import ...`` resolves to
    ``utils/_validate.py``, while ``utils/__init__.py`` is never executed.
    """
    package = types.ModuleType("course_neutral")
    package.__path__ = [str(ROOT / "utils")]
    sys.modules["course_neutral"] = package
    return importlib.import_module("course_neutral.masks")


masks = load_course_masks()

import keras  # Keras 3
import tensorflow as tf
from keras import layers, ops

# ------------------------------------------------------------------ the model


def seed_cnn(input_shape=(28, 28, 1), num_classes=10):
    """The course's seed CNN (``utils.models.seed_cnn``), layer for layer, in Keras 3."""
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


def prunable_layers(model):
    """The layers whose kernels are pruned: every Conv2D and Dense layer, in order."""
    return [layer for layer in model.layers if isinstance(layer, (layers.Conv2D, layers.Dense))]


# ------------------------------------------------------------------ pruning with keras.ops


def keras_magnitude_mask(kernel, sparsity):
    """Keep-mask of ``kernel`` that removes the ``sparsity`` fraction of smallest ``|w|``.

    The same rule as ``masks.magnitude_mask`` (exactly ``round(sparsity * size)`` weights
    removed, ties broken by position), written with ``keras.ops`` so that it runs on any
    Keras 3 back-end: ``top_k`` of ``-|w|`` finds the positions of the smallest magnitudes
    and ``scatter`` marks them. (TensorFlow's ``top_k`` returns the lower index first among
    equal values, as NumPy's stable sort does; other back-ends may break ties differently.)
    """
    flat = ops.reshape(ops.abs(kernel), (-1,))
    n_prune = int(round(sparsity * int(flat.shape[0])))
    if n_prune == 0:
        return ops.ones_like(kernel, dtype="bool")
    _, smallest = ops.top_k(-flat, k=n_prune)
    pruned = ops.scatter(ops.expand_dims(smallest, 1), ops.ones((n_prune,)), flat.shape)
    return ops.reshape(pruned == 0, ops.shape(kernel))


class MagnitudePruning(keras.callbacks.Callback):
    """Gradual magnitude pruning of every Conv2D/Dense kernel, as a Keras 3 callback.

    * Before a training step that the schedule marks (every ``frequency`` steps from
      ``begin_step`` to ``end_step``), each kernel gets a new mask at the sparsity
      ``masks.polynomial_sparsity(step, ...)`` (Zhu & Gupta), and the mask is applied.
    * After *every* step the masks are applied again: the optimiser has just moved the pruned
      weights away from zero, and multiplying by the mask puts them back.

    Args:
        final_sparsity: a float, or ``{layer_name: sparsity}`` (expanded by
            ``masks.sparsity_per_layer``; layers a dict does not name stay dense).
        begin_step, end_step, frequency, initial_sparsity, power: the schedule.

    After training, ``history`` lists ``(step, scheduled sparsity, measured sparsity)`` for
    every step, and ``matches_numpy`` says whether every ``keras.ops`` mask was identical to
    the NumPy reference ``masks.magnitude_mask``.
    """

    def __init__(self, final_sparsity, *, begin_step, end_step, frequency=10,
                 initial_sparsity=0.0, power=3):
        super().__init__()
        self.final_sparsity = final_sparsity
        self.schedule = dict(initial_sparsity=initial_sparsity, begin_step=begin_step,
                             end_step=end_step, power=power)
        self.frequency = frequency
        self.step, self.history, self.matches_numpy = 0, [], True

    def on_train_begin(self, logs=None):
        self.layers = prunable_layers(self.model)
        self.targets = masks.sparsity_per_layer([layer.name for layer in self.layers],
                                                self.final_sparsity)
        self.masks = {layer.name: ops.ones_like(layer.kernel, dtype="bool") for layer in self.layers}

    def is_update_step(self, step):
        begin, end = self.schedule["begin_step"], self.schedule["end_step"]
        return begin <= step <= end and ((step - begin) % self.frequency == 0 or step == end)

    def on_train_batch_begin(self, batch, logs=None):
        if not self.is_update_step(self.step):
            return
        for layer in self.layers:
            sparsity = masks.polynomial_sparsity(self.step, final_sparsity=self.targets[layer.name],
                                                 **self.schedule)
            mask = keras_magnitude_mask(layer.kernel, sparsity)
            reference = masks.magnitude_mask(ops.convert_to_numpy(layer.kernel), sparsity)
            self.matches_numpy &= bool(np.array_equal(ops.convert_to_numpy(mask), reference))
            self.masks[layer.name] = mask
        self.apply_masks()

    def on_train_batch_end(self, batch, logs=None):
        self.apply_masks()
        self.history.append((self.step, self.scheduled_overall(self.step), overall_sparsity(self.layers)))
        self.step += 1

    def scheduled_overall(self, step):
        """The schedule's sparsity of all pruned kernels together (weighted by their sizes)."""
        sizes = {layer.name: int(np.prod(layer.kernel.shape)) for layer in self.layers}
        zeros = sum(masks.polynomial_sparsity(step, final_sparsity=self.targets[name], **self.schedule)
                    * size for name, size in sizes.items())
        return zeros / sum(sizes.values())

    def apply_masks(self):
        for layer in self.layers:
            layer.kernel.assign(ops.where(self.masks[layer.name], layer.kernel, 0.0))


def overall_sparsity(prunable):
    """Fraction of zeros over all kernels of ``prunable`` layers together."""
    zeros = sum(int(ops.sum(layer.kernel == 0)) for layer in prunable)
    return zeros / sum(int(np.prod(layer.kernel.shape)) for layer in prunable)


def kernel_sparsity(model):
    """``{layer name: fraction of zero kernel weights}``, read with ``masks.nonzero_mask``."""
    return {layer.name: float(1 - masks.nonzero_mask(ops.convert_to_numpy(layer.kernel)).mean())
            for layer in prunable_layers(model)}


# ------------------------------------------------------------------ export to LiteRT


def export_tflite(model, saved_model):
    """Keras 3 model → SavedModel folder ``saved_model`` → ``.tflite`` bytes."""
    model.export(str(saved_model), format="tf_saved_model", verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    return converter.convert()


def tflite_predict(model_bytes, x):
    """Run a float ``.tflite`` model on the batch ``x`` with LiteRT; returns its outputs."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, x.astype(np.float32))
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def tflite_kernel_sparsity(model_bytes, model):
    """``{layer name: fraction of zeros}`` of each prunable kernel, read from the ``.tflite`` file.

    The converter names a kernel tensor after its layer (e.g. ``seed_cnn_1/conv2_1/convolution``
    or ``.../dense1_1/MatMul``) and stores it transposed; we match it by the layer name and
    the number of elements and count its zeros.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_content=model_bytes, experimental_op_resolver_type=(
        OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))  # keep the weights readable
    interpreter.allocate_tensors()
    result = {}
    for layer in prunable_layers(model):
        size = int(np.prod(layer.kernel.shape))
        found = [d for d in interpreter.get_tensor_details()
                 if f"/{layer.name}_" in d["name"] and d["dtype"] == np.float32
                 and len(d["shape"]) >= 2 and int(np.prod(d["shape"])) == size]
        if len(found) != 1:
            raise RuntimeError(f"found {len(found)} kernel tensors for layer {layer.name!r} in the "
                               f".tflite file, expected 1")
        weights = interpreter.get_tensor(found[0]["index"])
        result[layer.name] = float(1 - masks.nonzero_mask(weights).mean())
    return result


# ------------------------------------------------------------------ the experiment


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=pathlib.Path,
                        help=".npz file with x_train, y_train, x_test, y_test")
    parser.add_argument("--out", type=pathlib.Path, default=None,
                        help="folder for the SavedModels and .tflite files (default: a temporary one)")
    parser.add_argument("--final-sparsity", type=float, default=0.8)
    parser.add_argument("--initial-sparsity", type=float, default=0.0)
    parser.add_argument("--power", type=float, default=3.0, help="exponent of the polynomial schedule")
    parser.add_argument("--dense-epochs", type=int, default=8, help="training before pruning")
    parser.add_argument("--prune-epochs", type=int, default=3, help="epochs over which sparsity rises")
    parser.add_argument("--finetune-epochs", type=int, default=2, help="epochs at the final sparsity")
    parser.add_argument("--frequency", type=int, default=10, help="steps between mask updates")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-train", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    masks.check_sparsity(args.final_sparsity, "--final-sparsity")
    masks.check_sparsity(args.initial_sparsity, "--initial-sparsity")
    for name in ("prune_epochs", "frequency", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive int")
    for name in ("dense_epochs", "finetune_epochs"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be a non-negative int")
    if not args.data.is_file():
        parser.error(f"--data: no such file {str(args.data)!r}; expected an .npz file with "
                     f"x_train, y_train, x_test, y_test")
    return args


def load_data(path, max_train=None):
    """The arrays of the ``.npz`` file at ``path``; raises ValueError naming a missing one."""
    with np.load(path) as archive:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(archive.files)
        if missing:
            raise ValueError(f"{path} lacks the array(s) {sorted(missing)}; it has {archive.files}")
        data = {name: archive[name] for name in ("x_train", "y_train", "x_test", "y_test")}
    if max_train is not None:
        data["x_train"], data["y_train"] = data["x_train"][:max_train], data["y_train"][:max_train]
    return data


def accuracy(probabilities, labels):
    return float(np.mean(np.argmax(probabilities, axis=1) == labels))


def run(args):
    data = load_data(args.data, args.max_train)
    keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()
    model = seed_cnn(data["x_train"].shape[1:], int(data["y_train"].max()) + 1)
    # jit_compile=False: XLA compilation ("auto" in Keras 3) costs more than it saves for a
    # model this small on a CPU.
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=False)
    fit = dict(batch_size=args.batch_size, verbose=0)
    model.fit(data["x_train"], data["y_train"], epochs=args.dense_epochs, **fit)
    dense_probabilities = ops.convert_to_numpy(model.predict(data["x_test"], verbose=0))

    out = args.out or pathlib.Path(tempfile.mkdtemp(prefix="keras3_pruning_"))
    out.mkdir(parents=True, exist_ok=True)
    dense_bytes = export_tflite(model, out / "dense_savedmodel")  # before pruning changes it

    steps_per_epoch = int(np.ceil(len(data["x_train"]) / args.batch_size))
    pruning = MagnitudePruning(args.final_sparsity, begin_step=0,
                               end_step=args.prune_epochs * steps_per_epoch - 1,
                               frequency=args.frequency, initial_sparsity=args.initial_sparsity,
                               power=args.power)
    model.fit(data["x_train"], data["y_train"], epochs=args.prune_epochs + args.finetune_epochs,
              callbacks=[pruning], **fit)
    pruned_probabilities = ops.convert_to_numpy(model.predict(data["x_test"], verbose=0))

    pruned_bytes = export_tflite(model, out / "pruned_savedmodel")
    (out / "dense.tflite").write_bytes(dense_bytes)
    (out / "pruned.tflite").write_bytes(pruned_bytes)
    tflite_probabilities = tflite_predict(pruned_bytes, data["x_test"])
    keras_classes = np.argmax(pruned_probabilities, axis=1)

    from ai_edge_litert import __version__ as litert_version
    return {
        "versions": {"keras": keras.__version__, "backend": keras.backend.backend(),
                     "tensorflow": tf.__version__, "ai_edge_litert": litert_version},
        "settings": {k: (str(v) if isinstance(v, pathlib.Path) else v) for k, v in vars(args).items()},
        "n_train": int(len(data["x_train"])), "n_test": int(len(data["x_test"])),
        "steps_per_epoch": steps_per_epoch, "end_step": pruning.schedule["end_step"],
        "dense_accuracy": accuracy(dense_probabilities, data["y_test"]),
        "pruned_accuracy": accuracy(pruned_probabilities, data["y_test"]),
        "tflite_accuracy": accuracy(tflite_probabilities, data["y_test"]),
        "agreement": float(np.mean(np.argmax(tflite_probabilities, axis=1) == keras_classes)),
        "max_abs_difference": float(np.max(np.abs(tflite_probabilities - pruned_probabilities))),
        "keras_ops_mask_equals_numpy": pruning.matches_numpy,
        "kernel_sizes": {layer.name: int(np.prod(layer.kernel.shape)) for layer in prunable_layers(model)},
        "sparsity": kernel_sparsity(model),
        "overall_sparsity": overall_sparsity(prunable_layers(model)),
        "tflite_sparsity": tflite_kernel_sparsity(pruned_bytes, model),
        "sizes": {"dense_tflite": len(dense_bytes), "pruned_tflite": len(pruned_bytes),
                  "dense_tflite_gzip": len(gzip.compress(dense_bytes, 9)),
                  "pruned_tflite_gzip": len(gzip.compress(pruned_bytes, 9))},
        "history": [{"step": s, "scheduled": a, "measured": m} for s, a, m in pruning.history],
    }


def main(argv=None):
    args = parse_args(argv)
    summary = run(args)
    sys.stdout.write(json.dumps(summary) + "\n")  # the only line on standard output


if __name__ == "__main__":
    main()
