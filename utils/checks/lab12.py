"""Self-checks and verdict conditions for Lab 12 (from the document's example to a shipped model).

The exercises: 12.1 which layers to prune, 12.2 the int8 conversion and 12.3 running the file with
LiteRT (the lab's mechanism: conversion plus the Keras ↔ LiteRT agreement check), 12.4 quantizing
inputs, 12.5 the release policy written before the audit. Verdict conditions are functions of the
measured values (sizes in bytes, accuracies, the policy's decision), each with a passing and a failing
unit test; none of them reads a wall-clock time.
"""

import copy
import inspect
import math

import numpy as np

from ..deploy import litert_interpreter, quiet_tflite, tflite_io_types, tflite_predict
from ..metrics import predict_classes
from ..models import lenet5, mlp, seed_cnn
from ..pruning import prunable_layers
from ._core import StudentError, self_check

__all__ = ["exercise_12_1", "exercise_12_2", "exercise_12_3", "exercise_12_4", "exercise_12_5"]


# ------------------------------------------------------------------ verdict conditions

def at_least(value, target):
    """A measured value (e.g. the dense model's test accuracy) reaches its target."""
    return float(value) >= float(target)


def at_most(value, limit):
    """A measured value (e.g. an accuracy drop in pt, a size ratio) stays within its limit."""
    return float(value) <= float(limit)


def sparsity_on_target(per_layer, pruned_layers, target, *, tolerance=0.005, dense_limit=0.01):
    """Each pruned kernel is within ``tolerance`` of ``target`` sparsity and every other kernel is dense.

    ``per_layer``: ``{layer name: fraction of zeros}``; ``pruned_layers``: the names meant to be pruned.
    """
    pruned = [abs(per_layer[name] - target) <= tolerance for name in pruned_layers]
    others = [per_layer[name] <= dense_limit for name in per_layer if name not in pruned_layers]
    return bool(pruned) and all(pruned) and all(others)


def decided(decision, expected):
    """The release policy returned the ``expected`` decision ("release" or "hold")."""
    return decision == expected


def limit_can_bind(reference_accuracy, drop_limit, factor=3.0):
    """True if the reference model's robust accuracy (%) is at least ``factor`` × the allowed drop (pt).

    Near the 0 % floor a drop limit cannot bind: a model at 10 % can lose at most 10 pt whatever happens to
    it. Well above the floor, a candidate that loses more than the limit is visible.
    """
    return float(reference_accuracy) >= factor * float(drop_limit)


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


@self_check("Exercise 12.3 (running the file with LiteRT)")
def exercise_12_3(report, litert_predict, model_bytes, x):
    """Check ``litert_predict(model_bytes, x) -> float outputs (n, classes)`` against utils.deploy."""
    try:
        source = inspect.getsource(litert_predict)
    except (OSError, TypeError):
        source = ""
    if "tf.lite.Interpreter" in source:
        report.fail("tf.lite.Interpreter is deprecated: use ai_edge_litert.interpreter.Interpreter "
                    "(the LiteRT package), as the LiteRT documentation does")
        return
    x = np.asarray(x)
    expected = tflite_predict(model_bytes, x)
    with quiet_tflite():  # the interpreter's own log lines are not the student's output
        result = litert_predict(model_bytes, x)
    result = np.asarray(result)
    if not report.check(result.shape == expected.shape,
                        f"returns one row of outputs per input: shape {expected.shape}",
                        f"returned shape {result.shape}, expected {expected.shape}. Resize the input tensor "
                        "to the batch (interpreter.resize_tensor_input, then allocate_tensors) or run the "
                        "inputs one at a time and stack the outputs"):
        if result.shape[:1] == (1,):
            report.fail("you returned the outputs of the first input only: the file was converted with a "
                        "batch of 1, so resize its input to len(x) before allocate_tensors")
        return
    report.check(np.issubdtype(result.dtype, np.floating), "returns floats (probabilities)",
                 f"returned {result.dtype}: return the output tensor as floats")
    report.check(np.allclose(result, expected, atol=1e-5),
                 "the outputs equal LiteRT's for the same file (largest difference "
                 f"{np.abs(result.astype(float) - expected).max():.1e})",
                 "the outputs differ from LiteRT's on the same file: set the input tensor with "
                 "interpreter.set_tensor(input_details['index'], batch), call invoke(), then read "
                 "interpreter.get_tensor(output_details['index'])")
    with quiet_tflite():
        single = np.asarray(litert_predict(model_bytes, x[:1]))
    report.check(single.shape == expected[:1].shape and np.allclose(single, expected[:1], atol=1e-5),
                 "works on a batch of one image too",
                 f"on a batch of one image you returned shape {single.shape}: the function must work for "
                 "any batch size")


def _good_audit(limits):
    """Measured values that meet every limit with room to spare."""
    return {metric: (0.5 * bound if direction == "max" else bound + 0.5) for metric, (direction, bound)
            in limits.items()}


POLICY_LIMITS = {"accuracy drop (pt)": ("max", 1.5), "membership AUC": ("max", 0.55),
                 "agreement with Keras (%)": ("min", 99.0)}


@self_check("Exercise 12.5 (a release policy written before the audit)")
def exercise_12_5(report, release_policy_fn):
    """Check ``release_policy(measured, limits) -> ("release" | "hold", [reasons])``."""
    limits = copy.deepcopy(POLICY_LIMITS)
    good = _good_audit(limits)
    kept = (copy.deepcopy(good), copy.deepcopy(limits))
    result = release_policy_fn(good, limits)
    if (good, limits) != kept:
        report.fail("your function changed the measured values or the limits it was given; only read them")
        return
    pair = isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], (list, tuple))
    if not report.check(pair,
                        "returns (decision, reasons)",
                        f"returned {result!r}: return a pair, e.g. ('hold', ['accuracy drop (pt): …'])"):
        return
    if not report.check(result[0] == "release" and len(result[1]) == 0,
                        "an audit within every limit: 'release', no reasons",
                        f"an audit within every limit gave {result!r}; expected ('release', [])"):
        return
    at_bound = {metric: bound for metric, (_, bound) in limits.items()}
    decision = release_policy_fn(at_bound, limits)[0]
    if not report.check(decision == "release",
                        "a value exactly at its limit is allowed ('at most' / 'at least')",
                        f"values exactly at their limits gave {decision!r}: a limit ('max', b) means the "
                        "value may be at most b, so b itself passes"):
        return
    for metric, (direction, bound) in limits.items():
        worse = dict(good, **{metric: 1.5 * bound if direction == "max" else bound - 1})
        better = dict(good, **{metric: 0.2 * bound if direction == "max" else bound + 0.8})
        decision, reasons = release_policy_fn(worse, limits)
        if not report.check(decision == "hold" and any(metric in str(r) for r in reasons),
                            f"{metric} beyond its limit ({direction} {bound}): 'hold', and a reason names it",
                            f"{metric} = {worse[metric]} with limit ({direction!r}, {bound}) gave "
                            f"{(decision, list(reasons))!r}: hold, with a reason that names the metric. "
                            + ("max: the value must be <= bound" if direction == "max"
                               else "min: the value must be >= bound")):
            return
        if release_policy_fn(better, limits)[0] != "release":
            report.fail(f"{metric} = {better[metric]} is well within ({direction!r}, {bound}) but you held "
                        "the "
                        "release: check the direction of the comparison")
            return
    for missing_value, what in ((None, "missing"), (math.nan, "NaN")):
        audit = dict(good)
        if missing_value is None:
            audit.pop("membership AUC")
        else:
            audit["membership AUC"] = missing_value
        try:
            decision, reasons = release_policy_fn(audit, limits)
        except StudentError as error:
            report.fail(f"a {what} metric made your function raise {error}: hold the release instead, with "
                        "a reason ('not measured')")
            return
        if not report.check(decision == "hold" and any("membership AUC" in str(r) for r in reasons),
                            f"a {what} metric holds the release (not measured is not shown safe)",
                            f"with the membership AUC {what} you returned {(decision, list(reasons))!r}: "
                            "what was not measured was not shown to be safe, so hold, with a reason"):
            return


@self_check("Exercise 12.4 (quantize float inputs to int8)")
def exercise_12_4(report, quantize):
    """Check ``quantize(x, scale, zero_point) -> int8 array`` (affine quantization with saturation)."""
    scale, zero_point = 1 / 255, -128
    x = np.array([0.0, 1 / 255, 0.5 / 255 + 0.3 / 255, 0.2, 1.0], np.float32)
    q = np.asarray(quantize(x, scale, zero_point))
    if not report.check(q.shape == x.shape, "keeps the input's shape",
                        f"returned shape {q.shape} for input shape {x.shape}"):
        return
    report.check(q.dtype == np.int8, "returns int8",
                 f"returns {q.dtype}: the codes are 8-bit signed integers, and the array must say so")
    expected = [-128, -127, -127, -77, 127]
    truncated = np.clip(np.floor(x / scale) + zero_point, -128, 127).astype(int).tolist()
    if q.astype(int).tolist() == truncated:
        report.fail("x = 0.8·scale became 0 steps instead of 1: the code is the NEAREST step, "
                    "not the one below (truncating biases every value downwards)")
        return
    report.check(q.astype(int).tolist() == expected,
                 "each value maps to its nearest int8 code: 0 → -128, 0.2 → -77, 1.0 → 127",
                 f"expected {expected}, got {q.astype(int).tolist()}: a code q stands for the real value "
                 "scale · (q − zero_point); invert that map")
    wide = np.asarray(quantize(np.array([-1.0, 2.0], np.float32), scale, zero_point)).astype(int).tolist()
    report.check(wide == [-128, 127], "values outside the range saturate at -128 and 127",
                 f"-1.0 and 2.0 should saturate to [-128, 127], got {wide}: a value beyond the "
                 "representable range takes the nearest end of the range (an 8-bit integer that "
                 "overflows wraps around instead: 255 becomes -1)")
    batch = np.full((2, 3, 3, 1), 0.5, np.float32)
    report.check(np.asarray(quantize(batch, 0.01, 0)).shape == batch.shape,
                 "works on an image batch (2, 3, 3, 1)",
                 "fails on an image batch: the map applies to every element on its own, whatever the shape")
