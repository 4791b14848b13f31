"""Shared code for the course *Pruning Neural Networks: Efficiency and Security*.

Every notebook and chapter starts with ``import utils``. Importing this package

1. sets ``TF_USE_LEGACY_KERAS=1`` *before* TensorFlow is imported, so that
   ``tf.keras`` is Keras 2 (the ``tf_keras`` package). TensorFlow Model
   Optimization (``tfmot``) only works with Keras 2; with Keras 3 its pruning
   wrappers fail with confusing errors.
2. exports ``keras`` (the ``tf_keras`` module) so that notebooks build models
   with exactly the Keras that ``tfmot`` expects: ``from utils import keras``.
3. provides :func:`set_seed` for reproducible runs.

If TensorFlow was already imported with Keras 3 (for example because a cell ran
``import tensorflow as tf; tf.keras`` before ``import utils``), importing this
package raises :class:`KerasVersionError` with instructions.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# Hide TensorFlow's C++ start-up chatter (CUDA probes on CPU-only machines).
# Python exceptions are not affected; set the variable yourself to see the logs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__all__ = ["keras", "set_seed", "set_language", "KerasVersionError", "tf"]


class KerasVersionError(ImportError):
    """Raised when TensorFlow is already bound to Keras 3 and ``tfmot`` cannot work."""


_FIX = (
    "The course needs Keras 2 (the `tf_keras` package), but TensorFlow in this "
    "process already uses Keras 3. To fix it: restart the kernel (Kernel → Restart) "
    "and run `import utils` before any `import tensorflow` / `import keras`, or set "
    "the environment variable TF_USE_LEGACY_KERAS=1 before starting Python. "
)

if os.environ.get("TF_USE_LEGACY_KERAS") not in ("1", "true", "True"):
    raise KerasVersionError(
        _FIX + f"(TF_USE_LEGACY_KERAS is set to {os.environ['TF_USE_LEGACY_KERAS']!r}.)"
    )



def _import_tensorflow_quietly():
    """Import TensorFlow with its native start-up messages hidden.

    TensorFlow's C++ runtime writes a few lines (oneDNN, CUDA probes) to the process's
    standard error *before* its logging is configured, so ``TF_CPP_MIN_LOG_LEVEL`` cannot
    hide them; in a notebook they would show up as a red block under the setup cell.
    We point file descriptor 2 at ``/dev/null`` for the duration of the import only.
    Python exceptions are unaffected and still reach you.
    """
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow


tf = _import_tensorflow_quietly()
import tf_keras as keras

from ._validate import check_int
from .i18n import set_language  # noqa: E402 (the language of messages and figure labels: "en" or "zh_CN")

if tf.keras.Model is not keras.Model:
    raise KerasVersionError(_FIX + "(`tf.keras` is not `tf_keras` in this process.)")


def set_seed(seed=0):
    """Make a run reproducible: seed Python, NumPy and TensorFlow, and make TF ops deterministic.

    Args:
        seed: a non-negative integer.

    Calls ``keras.utils.set_random_seed`` (Python ``random``, NumPy and TensorFlow)
    and ``tf.config.experimental.enable_op_determinism()``. On the same machine and
    library versions, a notebook then gives the same numbers every run; across CPU
    types tiny floating-point differences remain.
    """
    check_int(seed, "seed", minimum=0)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
