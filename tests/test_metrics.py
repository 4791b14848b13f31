import numpy as np
import pytest

from utils import metrics, pruning


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


@pytest.mark.parametrize("y", [np.zeros((3, 2)), np.zeros(2), np.zeros(0)])
def test_accuracy_rejects_mismatched_labels(trained_mlp, digits, y):
    x = digits.x_test[:3] if len(y) != 0 else digits.x_test[:0]
    with pytest.raises(ValueError):
        metrics.accuracy(trained_mlp, x, y)


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


@pytest.mark.parametrize("kwargs", [{"runs": 0}, {"warmup": 0}, {"runs": 2.5}])
def test_latency_rejects_bad_counts(kwargs):
    with pytest.raises(ValueError, match="runs"):
        metrics.measure_latency(lambda x: x, np.zeros(2), **kwargs)


def test_latency_rejects_non_callables():
    with pytest.raises(TypeError, match="callable"):
        metrics.measure_latency(42, np.zeros(2))
    with pytest.raises(TypeError, match="dict"):
        metrics.compare_latency([lambda x: x], np.zeros(2))
