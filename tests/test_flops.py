"""metrics.flops: multiply-accumulates per example, checked against closed forms."""

import pytest

from utils import keras, metrics, models, pruning, structured

layers = keras.layers


def test_seed_cnn_macs_by_hand():
    per_layer = metrics.flops(models.seed_cnn(), per_layer=True)
    assert per_layer == {
        "conv1": 26 * 26 * 32 * 3 * 3 * 1,   # 26×26 outputs (valid 3×3 on 28×28)
        "conv2": 11 * 11 * 64 * 3 * 3 * 32,  # after 2×2 pooling: 13×13 → 11×11
        "conv3": 3 * 3 * 64 * 3 * 3 * 64,    # 5×5 → 3×3
        "dense1": 576 * 64,
        "output": 64 * 10,
    }
    assert metrics.flops(models.seed_cnn()) == 2_794_240


def test_removing_half_the_filters_cuts_macs_to_about_a_quarter():
    dense = models.seed_cnn()
    half = structured.prune_filters(dense, 0.5)
    assert metrics.flops(half) == 26 * 26 * 16 * 9 + 11 * 11 * 32 * 9 * 16 + 9 * 32 * 9 * 32 + 288 * 32 + 320
    assert metrics.flops(half) / metrics.flops(dense) < 0.3


def test_zeros_are_counted_and_wrappers_ignored():
    dense = models.lenet_300_100()
    assert metrics.flops(dense) == 784 * 300 + 300 * 100 + 100 * 10
    assert metrics.flops(pruning.prune_weights(dense, 0.9)) == metrics.flops(dense)
    wrapped = pruning.prune_low_magnitude(dense, final_sparsity=0.5, begin_step=0, end_step=10)
    assert metrics.flops(wrapped) == metrics.flops(dense)


def test_depthwise_same_padding_and_sequence_dense():
    model = keras.Sequential([keras.Input((10, 10, 3)),
                              layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="dw"),
                              layers.Conv2D(4, 1, strides=2, name="pw"), layers.GlobalAveragePooling2D(),
                              layers.Dense(5, name="out")])
    assert metrics.flops(model, per_layer=True) == {"dw": 10 * 10 * 3 * 2 * 9, "pw": 5 * 5 * 4 * 6,
                                                    "out": 4 * 5}
    sequence = keras.Sequential([keras.Input((7, 6)), layers.Dense(3, name="d")])
    assert metrics.flops(sequence) == 7 * 6 * 3  # the Dense runs once per step


def test_lstm_and_attention_macs():
    lstm = models.lstm_classifier((24, 11), 4, units=32)
    assert metrics.flops(lstm, per_layer=True)["lstm"] == 24 * 4 * 32 * (11 + 32)
    transformer = models.tiny_transformer((24, 11), 4, d_model=32, num_heads=4, key_dim=8)
    t, d, h, k = 24, 32, 4, 8
    expected = 3 * t * d * h * k + t * t * h * 2 * k + t * h * k * d
    assert metrics.flops(transformer, per_layer=True)["attention"] == expected
    fewer = structured.prune_attention_heads(transformer, [0, 1])
    assert metrics.flops(fewer, per_layer=True)["attention"] == expected // 2


def test_nested_models_are_counted():
    inner = keras.Sequential([keras.Input((4,)), layers.Dense(3)], name="inner")
    outer = keras.Sequential([keras.Input((4,)), inner, layers.Dense(2, name="head")])
    assert metrics.flops(outer, per_layer=True) == {"inner": 12, "head": 6}


def test_flops_rejects_non_models():
    with pytest.raises(TypeError):
        metrics.flops([1, 2, 3])
