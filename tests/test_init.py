import subprocess
import sys
import textwrap

import numpy as np
import pytest

import utils
from utils import keras
from utils._core import require_model


def test_keras_is_tf_keras():
    import tensorflow as tf
    import tf_keras

    assert keras is tf_keras
    assert tf.keras.Model is tf_keras.Model


def _random_draws():
    layer = keras.layers.Dense(4)
    layer.build((None, 3))
    return layer.kernel.numpy(), np.random.rand(3)  # noqa: NPY002  (set_seed must seed the legacy global RNG too)


def test_set_seed_makes_weights_and_numpy_reproducible():
    utils.set_seed(3)
    kernel_a, numpy_a = _random_draws()
    utils.set_seed(3)
    kernel_b, numpy_b = _random_draws()
    utils.set_seed(4)
    kernel_c, _ = _random_draws()
    np.testing.assert_array_equal(kernel_a, kernel_b)
    np.testing.assert_array_equal(numpy_a, numpy_b)
    assert not np.array_equal(kernel_a, kernel_c)


@pytest.mark.parametrize("bad", [1.5, "0", True, None])
def test_set_seed_rejects_seeds_of_the_wrong_type(bad):
    with pytest.raises(TypeError, match="non-negative int"):
        utils.set_seed(bad)


def test_set_seed_rejects_negative_seeds():
    with pytest.raises(ValueError, match="non-negative int"):
        utils.set_seed(-1)


def _run(code, env_extra):
    import os

    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, cwd=str(utils.__path__[0] + "/.."), timeout=300)


def test_keras3_already_loaded_gives_clear_error():
    result = _run("""
        import tensorflow as tf
        tf.keras.Model   # binds tf.keras to Keras 3 (TF_USE_LEGACY_KERAS is unset)
        import utils
    """, {})
    assert result.returncode != 0
    assert "KerasVersionError" in result.stderr
    assert "restart the kernel" in result.stderr.lower()
    assert "import utils" in result.stderr


def test_legacy_keras_disabled_by_user_gives_clear_error():
    result = _run("import utils", {"TF_USE_LEGACY_KERAS": "0"})
    assert result.returncode != 0
    assert "TF_USE_LEGACY_KERAS" in result.stderr and "KerasVersionError" in result.stderr


def test_import_order_tensorflow_first_is_fine_if_keras_untouched():
    result = _run("""
        import tensorflow
        import utils
        print(utils.keras.__name__)
    """, {})
    assert result.returncode == 0, result.stderr
    assert "tf_keras" in result.stdout


def test_require_model_rejects_non_models():
    with pytest.raises(TypeError, match="tf_keras model"):
        require_model("not a model")
