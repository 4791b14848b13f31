"""Lab 12: the self-checks of the LiteRT run (12.3) and the release policy (12.5), the new references
in utils.deploy, and the verdict conditions. The checks of 12.1, 12.2 and 12.4 are in tests/test_deploy.py."""

import math

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from utils import checks as check
from utils import deploy, models, pruning
from utils.checks import lab12


@pytest.fixture(scope="module")
def int8_file(trained_mlp, digits):
    return deploy.to_int8_tflite(trained_mlp, digits.x_train[:30])


def litert_right(model_bytes, x):
    """A right answer as the LiteRT documentation writes it: resize, allocate, set, invoke, get."""
    interpreter = Interpreter(model_content=model_bytes)
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(source["index"], np.asarray(x).shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(source["index"], np.asarray(x, np.float32))
    interpreter.invoke()
    return interpreter.get_tensor(target["index"]).astype(np.float32)


def litert_first_only(model_bytes, x):
    """Weak: runs the file as converted (batch of 1), so only the first image is predicted."""
    interpreter = Interpreter(model_content=model_bytes)
    interpreter.allocate_tensors()
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.set_tensor(source["index"], np.asarray(x[:1], np.float32))
    interpreter.invoke()
    return interpreter.get_tensor(target["index"])


def test_check_12_3_accepts_the_documented_interpreter_and_the_reference(int8_file, digits, capsys):
    for fn in (litert_right, deploy.tflite_predict):
        check.exercise_12_3(fn, int8_file, digits.x_test[:9])
        out = capsys.readouterr().out
        assert "✘" not in out and "all checks passed" in out, out
        assert check.passed("12.3", fn)


def test_check_12_3_explains_the_batch_of_one_and_wrong_outputs(int8_file, digits, capsys):
    check.exercise_12_3(litert_first_only, int8_file, digits.x_test[:9])
    assert "first input only" in capsys.readouterr().out
    check.exercise_12_3(lambda b, x: litert_right(b, x) * 0.5, int8_file, digits.x_test[:9])
    out = capsys.readouterr().out
    assert "✘ the outputs differ" in out


def test_to_int8_tflite_and_layers_to_prune(trained_mlp, digits):
    blob = deploy.to_int8_tflite(trained_mlp, digits.x_train[:20])
    assert deploy.tflite_io_types(blob) == ("float32", "float32")
    assert lab12._activation_scales(blob) >= 3
    assert deploy.layers_to_prune(models.seed_cnn(), 0.05) == ["conv2", "conv3", "dense1"]
    assert deploy.layers_to_prune(models.seed_cnn(), 0.3) == ["conv3", "dense1"]


LIMITS = {"accuracy drop (pt)": ("max", 1.5), "agreement with Keras (%)": ("min", 99.0)}


def test_release_policy_reference():
    assert deploy.release_policy({"accuracy drop (pt)": -0.3, "agreement with Keras (%)": 100.0}, LIMITS) == \
        ("release", [])
    worse = {"accuracy drop (pt)": 4.0, "agreement with Keras (%)": 98.0}
    decision, reasons = deploy.release_policy(worse, LIMITS)
    assert decision == "hold" and len(reasons) == 2
    decision, reasons = deploy.release_policy({"accuracy drop (pt)": math.nan}, LIMITS)
    assert decision == "hold" and "not measured" in reasons[0] and "agreement" in reasons[1]
    with pytest.raises(ValueError, match="max"):
        deploy.release_policy({"x": 1.0}, {"x": ("below", 2.0)})


def _policy_wrong_direction(measured, limits):
    reasons = [m for m, (d, b) in limits.items() if measured.get(m, math.nan) > b]  # ignores "min"
    return ("hold" if reasons else "release"), reasons


def _policy_strict(measured, limits):
    reasons = [m for m, (d, b) in limits.items()
               if not (measured[m] < b if d == "max" else measured[m] > b)]
    return ("hold" if reasons else "release"), reasons


def _policy_crashes_on_missing(measured, limits):
    reasons = [m for m, (d, b) in limits.items() if (measured[m] > b if d == "max" else measured[m] < b)]
    return ("hold" if reasons else "release"), reasons


def _policy_ignores_nan(measured, limits):
    reasons = [m for m, (d, b) in limits.items()
               if m in measured and (measured[m] > b if d == "max" else measured[m] < b)]
    return ("hold" if reasons else "release"), reasons


@pytest.mark.parametrize("wrong, hint", [
    (_policy_wrong_direction, "hold"),
    (_policy_strict, "exactly at their limits"),
    (_policy_crashes_on_missing, "made your function raise KeyError"),
    (_policy_ignores_nan, "not measured"),
    (lambda measured, limits: "release", "return a pair"),
])
def test_check_12_5_explains_wrong_policies(wrong, hint, capsys):
    check.exercise_12_5(wrong)
    out = capsys.readouterr().out
    assert "✘" in out and hint in out, out
    assert not check.passed("12.5", wrong)


def test_check_12_5_passes_the_reference(capsys):
    check.exercise_12_5(deploy.release_policy)
    out = capsys.readouterr().out
    assert "✘" not in out and "all checks passed" in out, out


def test_verdict_conditions():
    assert lab12.at_least(0.9806, 0.97) and not lab12.at_least(0.95, 0.97)
    assert lab12.at_most(0.068, 0.1) and not lab12.at_most(0.195, 0.1)
    per_layer = {"conv1": 0.0, "conv2": 0.9, "dense1": 0.901, "output": 0.0}
    assert lab12.sparsity_on_target(per_layer, ["conv2", "dense1"], 0.9)
    assert not lab12.sparsity_on_target(dict(per_layer, conv2=0.8), ["conv2", "dense1"], 0.9)
    assert not lab12.sparsity_on_target(dict(per_layer, conv1=0.5), ["conv2", "dense1"], 0.9)
    assert lab12.decided("hold", "hold") and not lab12.decided("release", "hold")
    # the PGD limit binds only off the floor: the old audit (ε = 0.1, dense at 10.8 %) fails with a 5 pt limit
    assert lab12.limit_can_bind(45.0, 10.0) and not lab12.limit_can_bind(10.8, 5.0)


def test_one_shot_pruning_of_a_copy_leaves_the_model(trained_mlp):
    before = [w.copy() for w in trained_mlp.get_weights()]
    pruning.prune_weights(trained_mlp, 0.98)
    assert all(np.array_equal(a, b) for a, b in zip(before, trained_mlp.get_weights()))


def test_quantize_reference_rounds_and_saturates():
    q = deploy.quantize(np.array([0.0, 0.2, 1.0, 2.0, -1.0]), 1 / 255, -128)
    assert q.dtype == np.int8 and q.tolist() == [-128, -77, 127, 127, -128]
