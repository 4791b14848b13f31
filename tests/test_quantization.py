"""utils.quantization: QAT and pruning-preserving QAT, reading kernels back from .tflite files,
and the MobileNet-style model for XNNPACK's sparse inference. Small models, a few steps each."""

import numpy as np
import pytest

import utils
from utils import deploy, keras, metrics, pruning
from utils import quantization as quant
from utils.data import Dataset
from utils.models import seed_cnn


def _random_images(channels, size=12, n=96, seed=0):
    """A tiny 3-class data set whose class is the brightest third of the image (learnable)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.random((n, size, size, channels), dtype=np.float32) * 0.3
    for i, label in enumerate(y):
        x[i, :, 4 * label:4 * label + 4] += 0.7
    parts = (x[:64], y[:64], x[64:80], y[64:80], x[80:], y[80:])
    return Dataset(*parts, class_names=("left", "middle", "right"), name="stripes")


@pytest.fixture(scope="module")
def grey():
    return _random_images(channels=1)


@pytest.fixture(scope="module")
def pruned_small(grey):
    """A small CNN with half of every kernel's weights set to zero."""
    utils.set_seed(0)
    layers = keras.layers
    model = keras.Sequential([keras.Input((12, 12, 1)), layers.Conv2D(8, 3, activation="relu", name="conv"),
                              layers.Flatten(), layers.Dense(3, activation="softmax", name="dense")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(grey.x_train, grey.y_train, epochs=1, verbose=0)
    return pruning.prune_weights(model, 0.5)


@pytest.fixture(scope="module")
def trained_qat(pruned_small, grey):
    """Plain QAT and PQAT after one epoch at a high learning rate (moves every free weight)."""
    utils.set_seed(0)
    qat = quant.quantization_aware_train(pruned_small, grey, preserve_sparsity=False, epochs=1,
                                         batch_size=8, learning_rate=1e-2)
    utils.set_seed(0)
    pqat = quant.quantization_aware_train(pruned_small, grey, preserve_sparsity=True, epochs=1,
                                          batch_size=8, learning_rate=1e-2)
    return qat, pqat


# ------------------------------------------------------------------ QAT and PQAT

def test_plain_qat_loses_the_zeros_and_pqat_keeps_them(pruned_small, trained_qat):
    qat, pqat = trained_qat
    sparsity = quant.kernel_sparsity(pruned_small)
    assert sparsity == pytest.approx(0.5, abs=0.01)
    assert quant.kernel_sparsity(pqat) == pytest.approx(sparsity, abs=1e-9)
    assert quant.kernel_sparsity(qat) < sparsity - 0.3


def test_pqat_keeps_exactly_the_same_zeros(pruned_small, trained_qat):
    _, pqat = trained_qat
    before = quant.kernel_sparsity(pruned_small, per_layer=True)
    after = quant.kernel_sparsity(pqat, per_layer=True)
    assert before == after and len(after) == 3   # two kernels and the total


def test_qat_works_on_a_copy(pruned_small, trained_qat):
    before = [w.copy() for w in pruned_small.get_weights()]
    quant.quantize_aware_model(pruned_small, preserve_sparsity=True)
    assert all(np.array_equal(a, b) for a, b in zip(before, pruned_small.get_weights()))


def test_quantize_aware_model_wraps_the_layers(pruned_small):
    import tensorflow_model_optimization as tfmot

    wrapper = tfmot.quantization.keras.QuantizeWrapper
    for preserve in (False, True):
        model = quant.quantize_aware_model(pruned_small, preserve_sparsity=preserve)
        wrapped = [layer for layer in model.layers if isinstance(layer, wrapper)]
        assert len(wrapped) >= 2


def test_int8_file_kernels_match_the_keras_zeros(pruned_small, grey):
    blob = deploy.to_tflite(pruned_small, quantize="int8", representative=grey.x_train[:16])
    table = quant.tflite_kernels(blob)
    assert list(table.op) == ["CONV_2D", "FULLY_CONNECTED"]
    assert set(table.dtype) == {"int8"} and set(table.stored) == {"dense"}
    keras_sparsity = quant.kernel_sparsity(pruned_small, per_layer=True)
    # a zero weight is the integer 0; a tiny non-zero weight may also round to 0
    for row, name in zip(table.itertuples(), ("conv", "dense")):
        assert keras_sparsity[name] <= row.sparsity <= keras_sparsity[name] + 0.1
    total = quant.tflite_kernel_sparsity(blob)
    assert total == pytest.approx(table.zeros.sum() / table.weights.sum())
    assert quant.tflite_sparse_tensors(blob).empty


# ------------------------------------------------------------------ MobileNet-style model, XNNPACK

@pytest.fixture(scope="module")
def rgb(grey):
    return quant.three_channels(grey)


@pytest.fixture(scope="module")
def tiny_mobile(rgb):
    utils.set_seed(0)
    model = quant.mobilenet_style(rgb.input_shape, 3, stem_filters=4, blocks=((8, 1), (16, 2)))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(rgb.x_train, rgb.y_train, epochs=1, verbose=0)
    return model


def test_three_channels_copies_the_grey_image(grey, rgb):
    assert rgb.x_train.shape == grey.x_train.shape[:-1] + (3,)
    for channel in range(3):
        np.testing.assert_array_equal(rgb.x_test[..., channel], grey.x_test[..., 0])
    np.testing.assert_array_equal(rgb.y_train, grey.y_train)
    assert grey.x_train.shape[-1] == 1  # the original is unchanged


def test_mobilenet_style_layout(tiny_mobile):
    names = [layer.name for layer in tiny_mobile.layers]
    assert {"stem", "dw1", "pw1", "dw2", "pw2", "output"} <= set(names)
    assert tiny_mobile.layers[1].__class__.__name__ == "ZeroPadding2D"
    assert tuple(tiny_mobile.get_layer("pw2").kernel.shape) == (1, 1, 8, 16)
    assert tiny_mobile.output_shape == (None, 3)


def test_prune_for_xnnpack_prunes_only_the_1x1_convolutions(tiny_mobile, rgb):
    sparse = quant.prune_for_xnnpack(tiny_mobile, rgb, epochs=2, batch_size=16)
    per_layer = quant.kernel_sparsity(sparse, per_layer=True)
    assert per_layer["pw1"] == pytest.approx(0.75, abs=0.02)
    assert per_layer["pw2"] == pytest.approx(0.75, abs=0.02)
    assert per_layer["stem"] == 0 and per_layer["output"] == 0
    assert quant.kernel_sparsity(tiny_mobile) == 0  # the input model is not changed

    # the MAC-predicted speed-up: only the 1x1 convolutions' zeros are skipped
    macs = metrics.flops(sparse, per_layer=True)
    saved = 0.75 * (macs["pw1"] + macs["pw2"])
    total = sum(macs.values())
    assert quant.predicted_speedup(sparse) == pytest.approx(total / (total - saved), rel=0.03)
    assert quant.predicted_speedup(tiny_mobile) == pytest.approx(1.0)

    # the sparse float file: one sparse tensor per pruned kernel, run by XNNPACK, same outputs
    blob = deploy.to_tflite(sparse, sparse=True)
    tensors = quant.tflite_sparse_tensors(blob)
    assert len(tensors) == 2
    assert tensors.density.max() <= 0.27
    table = quant.tflite_kernels(blob)
    pointwise = table[table.stored == "sparse format"]
    assert len(pointwise) == 2
    assert pointwise.sparsity.min() == pytest.approx(0.75, abs=0.02)
    run = deploy.tflite_function(blob)
    assert run.runtime == "XNNPACK"
    np.testing.assert_allclose(run(rgb.x_test), sparse(rgb.x_test, training=False).numpy(), atol=1e-4)


def test_the_policy_refuses_the_document_cnn(grey):
    with pytest.raises(ValueError, match="Conv2D 3x3"):
        quant.prune_for_xnnpack(seed_cnn(), grey, epochs=1)


def test_cpu_has_avx_is_a_bool_or_unknown():
    assert quant.cpu_has_avx() in (True, False, None)


# ------------------------------------------------------------------ bad input

def test_bad_input_is_named(pruned_small, grey, rgb, tiny_mobile):
    with pytest.raises(TypeError, match="tf_keras model"):
        quant.quantize_aware_model("model", preserve_sparsity=True)
    with pytest.raises(TypeError, match="preserve_sparsity"):
        quant.quantize_aware_model(pruned_small, preserve_sparsity="yes")
    with pytest.raises(ValueError, match="epochs"):
        quant.quantization_aware_train(pruned_small, grey, preserve_sparsity=True, epochs=0)
    with pytest.raises(TypeError, match="tf_keras model"):
        quant.kernel_sparsity([1, 2])
    with pytest.raises(TypeError, match="bytes"):
        quant.tflite_kernels("model.tflite")
    with pytest.raises(ValueError, match="TFL3"):
        quant.tflite_sparse_tensors(b"not a flatbuffer at all")
    with pytest.raises(ValueError, match="ops"):
        quant.tflite_kernel_sparsity(b"", ops="CONV_2D")
    with pytest.raises(ValueError, match="3 channels"):
        quant.mobilenet_style((28, 28, 1))
    with pytest.raises(ValueError, match="at least 8"):
        quant.mobilenet_style((4, 4, 3))
    with pytest.raises(ValueError, match="stride"):
        quant.mobilenet_style(blocks=((8, 3),))
    with pytest.raises(TypeError, match="pair"):
        quant.mobilenet_style(blocks=(8, 16))
    with pytest.raises(ValueError, match="empty"):
        quant.mobilenet_style(blocks=())
    with pytest.raises(TypeError, match="input_shape"):
        quant.mobilenet_style(28)
    with pytest.raises(TypeError, match="Dataset"):
        quant.three_channels((grey.x_train, grey.y_train))
    with pytest.raises(ValueError, match=r"\(n, h, w, 1\)"):
        quant.three_channels(rgb)
    with pytest.raises(ValueError, match="initial_sparsity"):
        quant.prune_for_xnnpack(tiny_mobile, rgb, epochs=1, initial_sparsity=0.8, final_sparsity=0.75)
    with pytest.raises(ValueError, match="final_sparsity"):
        quant.prune_for_xnnpack(tiny_mobile, rgb, epochs=1, final_sparsity=1.0)
