"""Tests for utils.deploy: TFLite conversion, quantization, sparsity and LiteRT inference."""

import os

import numpy as np
import pytest

import utils
from utils import checks, deploy, metrics, models, pruning
from utils._core import is_pruning_wrapper
from utils.metrics import Latency


@pytest.fixture(scope="module")
def float_bytes(trained_mlp):
    return deploy.to_tflite(trained_mlp)


@pytest.fixture(scope="module")
def int8_bytes(trained_mlp, digits):
    return deploy.to_tflite(trained_mlp, quantize="int8", representative=digits.x_train[:100])


@pytest.fixture(scope="module")
def pruned_mlp(trained_mlp):
    return pruning.prune_weights(trained_mlp, 0.9)


def test_float_tflite_matches_keras_to_float_precision(trained_mlp, float_bytes, digits):
    x = digits.x_test[:100]
    assert float_bytes[4:8] == b"TFL3"
    assert deploy.tflite_io_types(float_bytes) == ("float32", "float32")
    expected = metrics.predict_proba(trained_mlp, x)
    np.testing.assert_allclose(deploy.tflite_predict(float_bytes, x), expected, atol=1e-5)


def test_batching_does_not_change_predictions(float_bytes, digits):
    x = digits.x_test[:37]
    whole = deploy.tflite_predict(float_bytes, x, batch_size=64)
    np.testing.assert_allclose(deploy.tflite_predict(float_bytes, x, batch_size=5), whole, atol=1e-6)
    assert whole.shape == (37, 10)


def test_int8_is_about_four_times_smaller_and_agrees(trained_mlp, float_bytes, int8_bytes, digits):
    assert len(int8_bytes) < len(float_bytes) / 3
    assert deploy.tflite_io_types(int8_bytes) == ("float32", "float32")  # float I/O by default
    probs = deploy.tflite_predict(int8_bytes, digits.x_test)
    keras_classes = metrics.predict_classes(trained_mlp, digits.x_test)
    assert np.mean(probs.argmax(1) == keras_classes) >= 0.95
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=0.05)  # still (quantized) softmax outputs
    keras_acc = metrics.accuracy(trained_mlp, digits.x_test, digits.y_test)
    assert abs(np.mean(probs.argmax(1) == digits.y_test) - keras_acc) <= 0.03


def test_int8_with_integer_io_is_quantized_and_dequantized(trained_mlp, int8_bytes, digits):
    b = deploy.to_tflite(trained_mlp, quantize="int8", representative=digits.x_train[:100], integer_io=True)
    assert deploy.tflite_io_types(b) == ("int8", "int8")
    io = deploy.tflite_io(b)
    assert io["input"]["shape"] == (1, 28, 28, 1)
    # pixels in [0, 1] on 256 int8 steps: 0 ↦ -128, 1 ↦ 127, one step = 1/255
    assert io["input"]["zero_point"] == -128 and io["input"]["scale"] == pytest.approx(1 / 255)
    # softmax outputs in [0, 1): TFLite fixes their scale at 1/256 with zero point -128
    assert io["output"]["zero_point"] == -128 and io["output"]["scale"] == pytest.approx(1 / 256)
    x = digits.x_test[:120]
    with_int_io = deploy.tflite_predict(b, x)
    with_float_io = deploy.tflite_predict(int8_bytes, x)
    assert with_int_io.dtype == np.float32 and with_int_io.min() >= 0.0
    np.testing.assert_allclose(with_int_io, with_float_io, atol=2 / 256)  # one or two quantization steps
    assert np.mean(with_int_io.argmax(1) == with_float_io.argmax(1)) >= 0.97


def test_dynamic_range_quantization_keeps_float_activations(trained_mlp, float_bytes, digits):
    b = deploy.to_tflite(trained_mlp, quantize="dynamic")
    assert len(b) < len(float_bytes) / 3
    x = digits.x_test[:100]
    np.testing.assert_allclose(deploy.tflite_predict(b, x), metrics.predict_proba(trained_mlp, x), atol=0.05)


def test_representative_may_be_a_generator_function(trained_mlp, int8_bytes, digits):
    def examples():
        for i in range(100):
            yield [digits.x_train[i:i + 1]]

    b = deploy.to_tflite(trained_mlp, quantize="int8", representative=examples)
    x = digits.x_test[:100]
    from_generator, from_array = deploy.tflite_predict(b, x), deploy.tflite_predict(int8_bytes, x)
    assert np.mean(from_generator.argmax(1) == from_array.argmax(1)) >= 0.98


def test_sparse_flag_shrinks_a_pruned_model_and_keeps_its_predictions(pruned_mlp, digits):
    dense_format = deploy.to_tflite(pruned_mlp)
    sparse_format = deploy.to_tflite(pruned_mlp, sparse=True)
    assert len(sparse_format) < 0.5 * len(dense_format)
    x = digits.x_test[:100]
    np.testing.assert_allclose(deploy.tflite_predict(sparse_format, x),
                               metrics.predict_proba(pruned_mlp, x), atol=1e-5)


def test_sparse_int8_model_runs_with_builtin_kernels(pruned_mlp, digits):
    b = deploy.to_tflite(pruned_mlp, quantize="int8", representative=digits.x_train[:100], sparse=True)
    plain = deploy.to_tflite(pruned_mlp, quantize="int8", representative=digits.x_train[:100])
    assert len(b) < len(plain)
    run = deploy.tflite_function(b)
    assert run.runtime == "built-in kernels"   # XNNPACK refuses this sparse format (tensorflow#56166)
    x = digits.x_test[:100]
    assert np.mean(run(x).argmax(1) == deploy.tflite_predict(plain, x).argmax(1)) >= 0.97


def test_float_model_runs_on_xnnpack(float_bytes):
    assert deploy.tflite_function(float_bytes).runtime == "XNNPACK"


def test_pruning_wrappers_are_stripped_before_conversion(trained_mlp, digits):
    wrapped = pruning.prune_low_magnitude(trained_mlp, final_sparsity=0.5, begin_step=0, end_step=10)
    b = deploy.to_tflite(wrapped)
    x = digits.x_test[:50]
    np.testing.assert_allclose(deploy.tflite_predict(b, x),
                               metrics.predict_proba(pruning.strip(wrapped), x), atol=1e-5)
    assert not any(is_pruning_wrapper(layer) for layer in trained_mlp.layers)  # the input is untouched
    assert any(is_pruning_wrapper(layer) for layer in wrapped.layers)


def test_conversion_and_inference_leave_stderr_clean(trained_mlp, digits, capfd, caplog):
    logger = utils.tf.get_logger()
    level = logger.level
    logger.setLevel("INFO")  # as after some tfmot calls: "INFO:tensorflow:Assets written to: …"
    try:
        with caplog.at_level("INFO"):
            b = deploy.to_tflite(trained_mlp, quantize="int8", representative=digits.x_train[:20])
            deploy.tflite_predict(b, digits.x_test[:10])
    finally:
        logger.setLevel(level)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
    assert not [r for r in caplog.records if r.name == "tensorflow"]


def test_quiet_tflite_hides_native_stderr_only_inside_the_block(capfd):
    with deploy.quiet_tflite():
        os.write(2, b"native chatter\n")
    os.write(2, b"after the block\n")
    assert capfd.readouterr().err == "after the block\n"
    with pytest.raises(RuntimeError, match="still raised"), deploy.quiet_tflite():
        raise RuntimeError("still raised")


def test_litert_interpreter_has_one_input_and_one_output(float_bytes):
    interpreter, runtime = deploy.litert_interpreter(float_bytes)
    assert runtime == "XNNPACK"
    assert [tuple(d["shape"]) for d in interpreter.get_input_details()] == [(1, 28, 28, 1)]
    assert [tuple(d["shape"]) for d in interpreter.get_output_details()] == [(1, 10)]


def test_gzipped_bytes_of_a_sparse_model_is_smaller(trained_mlp, pruned_mlp):
    dense, sparse = deploy.to_tflite(trained_mlp), deploy.to_tflite(pruned_mlp)
    assert len(dense) == len(sparse)  # zeros are still stored as 4-byte floats
    assert deploy.gzipped_bytes(sparse) < 0.5 * deploy.gzipped_bytes(dense)
    assert deploy.gzipped_bytes(dense) < len(dense)


def test_tflite_latency_returns_a_latency(float_bytes, digits):
    latency = deploy.tflite_latency(float_bytes, digits.x_test[:1], warmup=1, runs=5)
    assert isinstance(latency, Latency) and latency.runs == 5
    assert 0 < latency.q1_ms <= latency.median_ms <= latency.q3_ms


def test_tflite_function_works_with_compare_latency(trained_mlp, float_bytes, digits):
    result = metrics.compare_latency({"keras": trained_mlp, "litert": deploy.tflite_function(float_bytes)},
                                     digits.x_test[:1], warmup=1, runs=3)
    assert set(result) == {"keras", "litert"} and result["litert"].median_ms > 0


# ------------------------------------------------------------------ bad input

def test_unknown_quantize_mode_is_a_value_error(trained_mlp):
    with pytest.raises(ValueError, match="quantize must be one of"):
        deploy.to_tflite(trained_mlp, quantize="int4")


def test_int8_without_representative_is_a_value_error(trained_mlp):
    with pytest.raises(ValueError, match="representative"):
        deploy.to_tflite(trained_mlp, quantize="int8")


def test_representative_or_integer_io_without_int8_are_value_errors(trained_mlp, digits):
    with pytest.raises(ValueError, match="only with quantize='int8'"):
        deploy.to_tflite(trained_mlp, quantize="dynamic", representative=digits.x_train[:10])
    with pytest.raises(ValueError, match="integer_io"):
        deploy.to_tflite(trained_mlp, integer_io=True)


def test_representative_of_the_wrong_shape_is_a_value_error(trained_mlp):
    with pytest.raises(ValueError, match=r"shape \(n, 28, 28, 1\)"):
        deploy.to_tflite(trained_mlp, quantize="int8", representative=np.zeros((10, 8, 8)))
    with pytest.raises(ValueError, match="empty"):
        deploy.to_tflite(trained_mlp, quantize="int8", representative=np.zeros((0, 28, 28, 1)))


def test_non_model_is_a_type_error():
    with pytest.raises(TypeError, match="tf_keras model"):
        deploy.to_tflite("model.h5")
    with pytest.raises(TypeError, match="sparse must be True or False"):
        deploy.to_tflite(models.mlp((4,)), sparse="yes")
    with pytest.raises(TypeError, match="integer_io must be True or False"):
        deploy.to_tflite(models.mlp((4,)), integer_io=1)


def test_bad_x_shape_is_a_value_error(float_bytes, digits):
    with pytest.raises(ValueError, match=r"shape \(n, 28, 28, 1\)"):
        deploy.tflite_predict(float_bytes, np.zeros((3, 8, 8, 1), np.float32))
    with pytest.raises(ValueError, match=r"x\[None\]"):
        deploy.tflite_predict(float_bytes, digits.x_test[0])
    with pytest.raises(TypeError, match="numeric"):
        deploy.tflite_predict(float_bytes, np.array([["a"]]))
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        deploy.tflite_predict(float_bytes, digits.x_test[:2], batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be a positive int"):
        deploy.tflite_predict(float_bytes, digits.x_test[:2], batch_size=True)
    with pytest.raises(TypeError, match="num_threads must be a positive int"):
        deploy.tflite_function(float_bytes, num_threads=2.0)


def test_bad_model_bytes_are_errors(digits):
    with pytest.raises(TypeError, match="bytes of a .tflite model"):
        deploy.tflite_predict("model.tflite", digits.x_test[:2])
    with pytest.raises(ValueError, match="TFL3"):
        deploy.tflite_predict(b"not a model at all", digits.x_test[:2])


def test_bad_latency_arguments_are_errors(float_bytes, digits):
    with pytest.raises(ValueError, match="runs must be a positive int"):
        deploy.tflite_latency(float_bytes, digits.x_test[:1], runs=0)
    with pytest.raises(TypeError, match="warmup must be a positive int"):
        deploy.tflite_latency(float_bytes, digits.x_test[:1], warmup=1.5)
    with pytest.raises(ValueError, match="shape"):
        deploy.tflite_latency(float_bytes, np.zeros((1, 5)), runs=2)


def test_quantize_dequantize_round_trip():
    detail = {"quantization": (1 / 255, -128), "dtype": np.int8}
    x = np.array([0.0, 0.2, 1.0, 2.0, -1.0], np.float32)
    q = deploy._quantize(x, detail)
    assert q.dtype == np.int8
    assert q.tolist() == [-128, -77, 127, 127, -128]  # 0.2 · 255 = 51 steps; 2.0 and -1.0 saturate
    np.testing.assert_allclose(deploy._dequantize(q, detail)[:3], x[:3], atol=0.5 / 255)


# ------------------------------------------------------------------ Lab 12 self-checks

def _kernel_share_names(model, min_share):
    sizes = {layer.name: layer.kernel.shape.num_elements() for layer in pruning.prunable_layers(model)}
    total = sum(sizes.values())
    return [name for name, n in sizes.items() if n / total >= min_share]


def test_check_12_1_passes_the_reference_and_catches_biases(capsys):
    model = models.seed_cnn()
    checks.exercise_12_1(_kernel_share_names, model)
    out = capsys.readouterr().out
    assert "✘" not in out and "all checks passed" in out
    checks.exercise_12_1(lambda m, s: [layer.name for layer in m.layers], model)
    out = capsys.readouterr().out
    assert "✘ min_share=0.05 on seed_cnn: expected ['conv2', 'conv3', 'dense1']" in out


def test_check_12_2_accepts_full_integer_and_explains_dynamic_range(trained_mlp, digits, capsys):
    x = digits.x_train[:30]
    reference = lambda m, xs: deploy.to_tflite(m, quantize="int8", representative=xs)  # noqa: E731
    checks.exercise_12_2(reference, trained_mlp, x)
    out = capsys.readouterr()
    assert "✘" not in out.out and "all checks passed" in out.out and out.err == ""
    checks.exercise_12_2(lambda m, xs: deploy.to_tflite(m, quantize="dynamic"), trained_mlp, x)
    assert "only the weights are int8" in capsys.readouterr().out
    checks.exercise_12_2(lambda m, xs: "model.tflite", trained_mlp, x)
    assert "✘ returned str" in capsys.readouterr().out


def test_check_12_4_passes_the_reference_and_catches_truncation_and_wrapping(capsys):
    def reference(x, scale, zero_point):
        return np.clip(np.round(np.asarray(x) / scale) + zero_point, -128, 127).astype(np.int8)

    checks.exercise_12_4(reference)
    out = capsys.readouterr().out
    assert "✘" not in out and "all checks passed" in out
    checks.exercise_12_4(lambda x, s, z: np.clip(np.floor(np.asarray(x) / s) + z, -128, 127).astype(np.int8))
    assert "the code is the NEAREST step" in capsys.readouterr().out
    checks.exercise_12_4(lambda x, s, z: (np.round(np.asarray(x) / s) + z).astype(np.int8))
    assert "saturate" in capsys.readouterr().out
    checks.exercise_12_4(lambda x, s, z: (_ for _ in ()).throw(NotImplementedError()))
    assert "not done yet" in capsys.readouterr().out
