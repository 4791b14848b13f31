"""utils.metrics: accuracy, size, latency, PIEs and the MAC counter (closed forms)."""

import numpy as np
import pytest

from utils import keras, metrics, models, pruning, structured

layers = keras.layers


def test_accuracy_and_per_class(trained_mlp, digits):
    acc = metrics.accuracy(trained_mlp, digits.x_test, digits.y_test)
    per_class = metrics.per_class_accuracy(trained_mlp, digits.x_test, digits.y_test)
    predicted = metrics.predict_classes(trained_mlp, digits.x_test)
    assert acc == pytest.approx(np.mean(predicted == digits.y_test))
    assert per_class.shape == (10,)
    counts = np.bincount(digits.y_test)
    assert acc == pytest.approx(np.sum(per_class * counts) / counts.sum())


def test_per_class_marks_missing_classes_nan(trained_mlp, digits):
    keep = digits.y_test < 5
    result = metrics.per_class_accuracy(trained_mlp, digits.x_test[keep], digits.y_test[keep],
                                        num_classes=10)
    assert np.isnan(result[5:]).all() and not np.isnan(result[:5]).any()


@pytest.mark.parametrize("y, match", [(np.zeros((3, 2), int), "1-D"), (np.zeros(2, int), "same length"),
                                      (np.zeros(0, int), "empty")])
def test_accuracy_rejects_mismatched_labels(trained_mlp, digits, y, match):
    x = digits.x_test[:3] if len(y) != 0 else digits.x_test[:0]
    with pytest.raises(ValueError, match=match):
        metrics.accuracy(trained_mlp, x, y)


def test_accuracy_rejects_float_labels(trained_mlp, digits):
    with pytest.raises(TypeError, match="integer class labels"):
        metrics.accuracy(trained_mlp, digits.x_test[:3], np.zeros(3))


def test_count_params_and_nonzero(trained_mlp):
    total = metrics.count_params(trained_mlp)
    assert total == trained_mlp.count_params()
    pruned = pruning.prune_weights(trained_mlp, 0.5)
    kernels = sum(layer.kernel.numpy().size for layer in pruning.prunable_layers(pruned))
    assert metrics.count_params(pruned) == total
    assert metrics.count_params(pruned, nonzero=True) == pytest.approx(total - kernels / 2, abs=2)


def test_count_params_ignores_pruning_wrappers(trained_mlp):
    wrapped = pruning.prune_low_magnitude(trained_mlp, final_sparsity=0.5, begin_step=0, end_step=10)
    assert metrics.count_params(wrapped) == trained_mlp.count_params()


def test_gzipped_size_shrinks_with_sparsity(trained_mlp):
    sizes = [metrics.gzipped_size(pruning.prune_weights(trained_mlp, s)) for s in (0.0, 0.5, 0.9)]
    assert sizes[0] > sizes[1] > sizes[2]
    assert sizes[2] < sizes[0] / 3
    assert metrics.gzipped_size(trained_mlp) == sizes[0]  # deterministic


def test_measure_latency_reports_median_and_spread(trained_mlp, digits):
    result = metrics.measure_latency(trained_mlp, digits.x_test[:64], warmup=2, runs=5)
    assert result.runs == 5 and result.q1_ms <= result.median_ms <= result.q3_ms
    assert result.iqr_ms >= 0 and "ms" in str(result)


def test_measure_latency_sees_a_slow_function():
    import time

    fast = metrics.measure_latency(lambda x: x, np.zeros(3), warmup=1, runs=3)
    slow = metrics.measure_latency(lambda x: time.sleep(0.01) or x, np.zeros(3), warmup=1, runs=3)
    assert slow.median_ms >= 10 > fast.median_ms


def test_compare_latency_times_every_model(trained_mlp, digits):
    results = metrics.compare_latency({"a": trained_mlp, "b": lambda x: x}, digits.x_test[:32],
                                      warmup=1, runs=4)
    assert set(results) == {"a", "b"} and all(r.runs == 4 for r in results.values())


@pytest.mark.parametrize("kwargs, error, match", [({"runs": 0}, ValueError, "runs"),
                                                  ({"warmup": 0}, ValueError, "warmup"),
                                                  ({"runs": 2.5}, TypeError, "runs")])
def test_latency_rejects_bad_counts(kwargs, error, match):
    with pytest.raises(error, match=match):
        metrics.measure_latency(lambda x: x, np.zeros(2), **kwargs)


def test_latency_rejects_non_callables():
    with pytest.raises(TypeError, match="callable"):
        metrics.measure_latency(42, np.zeros(2))
    with pytest.raises(TypeError, match="dict"):
        metrics.compare_latency([lambda x: x], np.zeros(2))


def test_identical_populations_have_no_pies(trained_mlp, trained_cnn, digits):
    models = [trained_mlp, trained_cnn]
    assert metrics.pruning_identified_exemplars(models, list(models), digits.x_test).size == 0


def test_pies_are_where_the_majority_votes_differ(trained_mlp, trained_cnn, digits):
    x = digits.x_test
    pruned = pruning.prune_weights(trained_mlp, 0.9)
    pies = metrics.pruning_identified_exemplars([trained_mlp], [pruned], x)
    differ = np.flatnonzero(metrics.predict_classes(trained_mlp, x) != metrics.predict_classes(pruned, x))
    assert np.array_equal(pies, differ) and pies.size > 0


def test_modal_labels_break_ties_towards_the_smaller_label(trained_mlp, trained_cnn, digits):
    x = digits.x_test
    a, b = metrics.predict_classes(trained_mlp, x), metrics.predict_classes(trained_cnn, x)
    assert np.array_equal(metrics.modal_labels([trained_mlp, trained_cnn], x), np.minimum(a, b))


def test_pies_reject_empty_populations(trained_mlp, digits):
    with pytest.raises(TypeError, match="non-empty list"):
        metrics.pruning_identified_exemplars([], [trained_mlp], digits.x_test)


# ------------------------------------------------------------------ macs (alias flops)

def test_seed_cnn_macs_by_hand():
    per_layer = metrics.macs(models.seed_cnn(), per_layer=True)
    assert per_layer == {
        "conv1": 26 * 26 * 32 * 3 * 3 * 1,   # 26×26 outputs (valid 3×3 on 28×28)
        "conv2": 11 * 11 * 64 * 3 * 3 * 32,  # after 2×2 pooling: 13×13 → 11×11
        "conv3": 3 * 3 * 64 * 3 * 3 * 64,    # 5×5 → 3×3
        "dense1": 576 * 64,
        "output": 64 * 10,
    }
    assert metrics.macs(models.seed_cnn()) == 2_794_240


def test_removing_half_the_filters_cuts_macs_to_about_a_quarter():
    dense = models.seed_cnn()
    half = structured.prune_filters(dense, 0.5)
    assert metrics.macs(half) == 26 * 26 * 16 * 9 + 11 * 11 * 32 * 9 * 16 + 9 * 32 * 9 * 32 + 288 * 32 + 320
    assert metrics.macs(half) / metrics.macs(dense) < 0.3


def test_zeros_are_counted_and_wrappers_ignored():
    dense = models.lenet_300_100()
    assert metrics.macs(dense) == 784 * 300 + 300 * 100 + 100 * 10
    assert metrics.macs(pruning.prune_weights(dense, 0.9)) == metrics.macs(dense)
    wrapped = pruning.prune_low_magnitude(dense, final_sparsity=0.5, begin_step=0, end_step=10)
    assert metrics.macs(wrapped) == metrics.macs(dense)


def test_depthwise_same_padding_and_sequence_dense():
    model = keras.Sequential([keras.Input((10, 10, 3)),
                              layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="dw"),
                              layers.Conv2D(4, 1, strides=2, name="pw"), layers.GlobalAveragePooling2D(),
                              layers.Dense(5, name="out")])
    assert metrics.macs(model, per_layer=True) == {"dw": 10 * 10 * 3 * 2 * 9, "pw": 5 * 5 * 4 * 6,
                                                    "out": 4 * 5}
    sequence = keras.Sequential([keras.Input((7, 6)), layers.Dense(3, name="d")])
    assert metrics.macs(sequence) == 7 * 6 * 3  # the Dense runs once per step


def test_lstm_and_attention_macs():
    lstm = models.lstm_classifier((24, 11), 4, units=32)
    assert metrics.macs(lstm, per_layer=True)["lstm"] == 24 * 4 * 32 * (11 + 32)
    transformer = models.tiny_transformer((24, 11), 4, d_model=32, num_heads=4, key_dim=8)
    t, d, h, k = 24, 32, 4, 8
    expected = 3 * t * d * h * k + t * t * h * 2 * k + t * h * k * d
    assert metrics.macs(transformer, per_layer=True)["attention"] == expected
    fewer = structured.prune_attention_heads(transformer, [0, 1])
    assert metrics.macs(fewer, per_layer=True)["attention"] == expected // 2


def test_nested_models_are_counted():
    inner = keras.Sequential([keras.Input((4,)), layers.Dense(3)], name="inner")
    outer = keras.Sequential([keras.Input((4,)), inner, layers.Dense(2, name="head")])
    assert metrics.macs(outer, per_layer=True) == {"inner": 12, "head": 6}


def test_flops_is_the_documented_alias_of_macs():
    assert metrics.flops is metrics.macs
    assert "flops" in metrics.__all__ and "macs" in metrics.__all__
    assert metrics.flops(models.lenet_300_100()) == 266_200   # MACs, not 2 × MACs


def test_macs_rejects_non_models():
    with pytest.raises(TypeError, match="tf_keras model"):
        metrics.macs([1, 2, 3])


def test_latency_reports_the_minimum_as_a_robust_estimate():
    from utils.metrics import summarise_times

    result = summarise_times([5.0, 3.0, 9.0, 4.0])
    assert result.min_ms == 3.0 and result.median_ms == 4.5 and result.runs == 4
