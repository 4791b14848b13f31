"""The one place where ``utils`` reads a library's non-public names.

Everything else in ``utils`` uses public tf_keras / tfmot API (``get_config()``,
``get_weights()``, ``tfmot.sparsity.keras.*``). What public API does not offer is collected
here, so that a library upgrade that moves it breaks one file, and the test
``tests/test_keras_internals.py`` (pinned to the installed versions) says so at once.

* ``PRUNING_WRAPPER`` — tfmot's ``PruneLowMagnitude`` wrapper class. ``tfmot.sparsity.keras``
  exports ``prune_low_magnitude`` and ``strip_pruning`` but not the wrapper's class, and
  ``isinstance`` is the only reliable way to tell a wrapped layer from a layer that merely
  has a ``.layer`` attribute (comparing class names as strings is not).
* :func:`tflite_operators` — LiteRT's ``Interpreter._get_ops_details()``: the operators of a
  ``.tflite`` file with their input and output tensor indices. ``get_tensor_details()`` lists
  the tensors but not which operator reads which, and a kernel's sparsity in the file is read
  from the operator that consumes it (:func:`utils.quantization.tflite_kernels`).
"""

from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import (
    PruneLowMagnitude as PRUNING_WRAPPER,
)

__all__ = ["PRUNING_WRAPPER", "tflite_operators"]


def tflite_operators(interpreter):
    """The operators of a LiteRT interpreter's model, in graph order.

    Returns:
        A list of dicts with (at least) ``op_name``, ``inputs`` and ``outputs`` (tensor indices),
        from the non-public ``Interpreter._get_ops_details()`` of ai-edge-litert.
    """
    return interpreter._get_ops_details()
