"""The private library names ``utils`` reads (utils/_keras_internals.py), pinned to the installed versions."""

import importlib.metadata

import utils
from utils import _core, _keras_internals, keras, pruning


def test_pinned_versions():
    # If a version changes, re-check every name in utils/_keras_internals.py, then update the pins here.
    assert importlib.metadata.version("tensorflow-model-optimization") == "0.8.1"
    assert importlib.metadata.version("tf-keras") == "2.21.0"


def test_pruning_wrapper_is_what_prune_low_magnitude_makes():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d")])
    wrapped = pruning.prune_low_magnitude(model, final_sparsity=0.5, begin_step=0, end_step=2)
    assert isinstance(wrapped.layers[0], _keras_internals.PRUNING_WRAPPER)
    assert _core.is_pruning_wrapper(wrapped.layers[0])
    assert not _core.is_pruning_wrapper(model.layers[0])
    assert _core.unwrap(wrapped.layers[0]).name == "d"
    assert not any(_core.is_pruning_wrapper(layer) for layer in utils.pruning.strip(wrapped).layers)
