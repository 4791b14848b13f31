"""Self-checks for Lab 12 (from the document's example to a shipped model)."""

import numpy as np

from ..deploy import litert_interpreter, quiet_tflite, tflite_io_types, tflite_predict
from ..metrics import predict_classes
from ..models import lenet5, mlp, seed_cnn
from ..pruning import prunable_layers
from ._core import self_check

__all__ = ["exercise_12_1", "exercise_12_2", "exercise_12_3"]


def _shares(model, with_bias=False):
    """``{layer name: share of all kernel weights}`` (optionally counting biases too)."""
    sizes = {}
    for layer in prunable_layers(model):
        sizes[layer.name] = int(np.prod(layer.kernel.shape))
        if with_bias and getattr(layer, "bias", None) is not None:
            sizes[layer.name] += int(np.prod(layer.bias.shape))
    total = sum(sizes.values())
    return {name: n / total for name, n in sizes.items()}


def _expected(model, min_share, with_bias=False):
    return [name for name, share in _shares(model, with_bias).items() if share >= min_share]


@self_check("Exercise 12.1 (which layers to prune)")
def exercise_12_1(report, layers_to_prune, model):
    """Check ``layers_to_prune(model, min_share) -> [layer names]`` on the lab's dense model and others."""
    before = [w.copy() for w in model.get_weights()]
    chosen = layers_to_prune(model, 0.05)
    if not report.check(isinstance(chosen, (list, tuple)) and all(isinstance(n, str) for n in chosen),
                        "returns a list of layer names",
                        f"returned {type(chosen).__name__}: return a list of names, "
                        "e.g. ['conv2', 'dense1']"):
        return
    expected = _expected(model, 0.05)
    if list(chosen) == _expected(model, 0.05, with_bias=True) and list(chosen) != expected:
        report.fail("you counted the biases; the share is about the *kernel* weights only (layer.kernel), "
                    "which is what tfmot prunes")
        return
    if sorted(chosen) == sorted(expected) and list(chosen) != expected:
        report.fail(f"right layers, wrong order: keep the model's layer order, {expected}")
        return
    report.check(list(chosen) == expected,
                 f"min_share=0.05 on {model.name}: {expected}",
                 f"min_share=0.05 on {model.name}: expected {expected}, got {list(chosen)}. A layer's share "
                 "is its kernel's number of weights divided by the total over all Dense/Conv kernels; "
                 "keep it when share >= min_share.")
    for other, share in ((seed_cnn(), 0.3), (lenet5(), 0.05), (mlp((64, 32)), 0.2)):
        wanted = _expected(other, share)
        got = list(layers_to_prune(other, share))
        report.check(got == wanted, f"min_share={share} on {other.name}: {wanted}",
                     f"min_share={share} on {other.name}: expected {wanted}, got {got}")
    unchanged = all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    report.check(unchanged, "the model is untouched", "the model's weights changed: only read the kernels")


def _activation_scales(model_bytes):
    """Number of int8 tensors with a per-tensor scale: quantized *activations* (none in a float model)."""
    interpreter, _ = litert_interpreter(model_bytes)
    return sum(1 for d in interpreter.get_tensor_details()
               if np.dtype(d["dtype"]) == np.int8 and d["quantization"][0] > 0)


@self_check("Exercise 12.2 (full-integer conversion)")
def exercise_12_2(report, to_int8_tflite, model, calibration_x):
    """Check ``to_int8_tflite(model, calibration_x) -> bytes`` of a full-integer model with float I/O."""
    with quiet_tflite():  # the converter's own log lines are not the student's output
        result = to_int8_tflite(model, calibration_x)
    if not report.check(isinstance(result, (bytes, bytearray)), "returns bytes",
                        f"returned {type(result).__name__}: return converter.convert(), the model's bytes"):
        return
    if not report.check(bytes(result[4:8]) == b"TFL3", "the bytes are a TFLite flatbuffer",
                        "the bytes are not a .tflite model; return what converter.convert() gives"):
        return
    io_types = tflite_io_types(bytes(result))
    report.check(io_types == ("float32", "float32"), "inputs and outputs stay float32",
                 f"inputs/outputs are {io_types}; for this exercise leave inference_input_type and "
                 "inference_output_type at their float defaults")
    activations = _activation_scales(bytes(result))
    if not report.check(activations >= 3, "activations are int8 too (full-integer quantization)",
                        "only the weights are int8 (dynamic-range quantization): set "
                        "converter.representative_dataset to a generator function that yields "
                        "[x[i:i + 1]] for the calibration inputs, so the converter can measure the "
                        "activation ranges"):
        return
    x = np.asarray(calibration_x)[:100]
    agree = float(np.mean(tflite_predict(bytes(result), x).argmax(1) == predict_classes(model, x)))
    report.check(agree >= 0.95, f"agrees with the Keras model on {agree:.0%} of the calibration inputs",
                 f"agrees with the Keras model on only {agree:.0%} of the calibration inputs: calibrate "
                 "with real, float32 inputs in the model's range (not random noise or uint8 pixels)")


@self_check("Exercise 12.3 (quantize float inputs to int8)")
def exercise_12_3(report, quantize):
    """Check ``quantize(x, scale, zero_point) -> int8 array`` (affine quantization with saturation)."""
    scale, zero_point = 1 / 255, -128
    x = np.array([0.0, 1 / 255, 0.5 / 255 + 0.3 / 255, 0.2, 1.0], np.float32)
    q = np.asarray(quantize(x, scale, zero_point))
    if not report.check(q.shape == x.shape, "keeps the input's shape",
                        f"returned shape {q.shape} for input shape {x.shape}"):
        return
    report.check(q.dtype == np.int8, "returns int8", f"returns {q.dtype}; finish with .astype(np.int8)")
    expected = [-128, -127, -127, -77, 127]
    truncated = np.clip(np.floor(x / scale) + zero_point, -128, 127).astype(int).tolist()
    if q.astype(int).tolist() == truncated:
        report.fail("x = 0.8·scale became 0 steps instead of 1: round to the nearest step (np.round), "
                    "do not truncate")
        return
    report.check(q.astype(int).tolist() == expected,
                 "q = round(x / scale) + zero_point: 0 → -128, 0.2 → -77, 1.0 → 127",
                 f"expected {expected}, got {q.astype(int).tolist()}: q = round(x / scale) + zero_point")
    wide = np.asarray(quantize(np.array([-1.0, 2.0], np.float32), scale, zero_point)).astype(int).tolist()
    report.check(wide == [-128, 127], "values outside the range saturate at -128 and 127",
                 f"-1.0 and 2.0 should saturate to [-128, 127], got {wide}: clip to [-128, 127] *before* "
                 "casting (a cast alone wraps around: 255 becomes -1)")
    batch = np.full((2, 3, 3, 1), 0.5, np.float32)
    report.check(np.asarray(quantize(batch, 0.01, 0)).shape == batch.shape,
                 "works on an image batch (2, 3, 3, 1)",
                 "fails on an image batch: use NumPy element-wise operations")
