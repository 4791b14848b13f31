"""scripts/keras3_pruning.py: magnitude pruning in Keras 3, run in its own process.

The script must run with Keras 3 while this test process holds Keras 2 (tf_keras), so every
test starts a fresh Python process. Nothing here imports torch or Keras 3.
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "keras3_pruning.py"


def keras3_env():
    """The environment of a Keras 3 child process (the parent's says TF_USE_LEGACY_KERAS=1)."""
    return {**os.environ, "TF_USE_LEGACY_KERAS": "0", "KERAS_BACKEND": "tensorflow"}


@pytest.fixture(scope="module")
def tiny_run(digits, tmp_path_factory):
    """Run the script once on 128 training and 64 test images, 1 + 1 + 1 epochs, 50 % sparsity."""
    folder = tmp_path_factory.mktemp("keras3")
    data = folder / "digits.npz"
    np.savez(data, x_train=digits.x_train[:128], y_train=digits.y_train[:128],
             x_test=digits.x_test[:64], y_test=digits.y_test[:64])
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--data", str(data), "--out", str(folder / "out"),
         "--final-sparsity", "0.5", "--dense-epochs", "1", "--prune-epochs", "1",
         "--finetune-epochs", "1", "--frequency", "1", "--batch-size", "32"],
        env=keras3_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), folder / "out"


def test_runs_with_keras3(tiny_run):
    summary, _ = tiny_run
    assert summary["versions"]["keras"].startswith("3.")
    assert summary["versions"]["backend"] == "tensorflow"
    assert summary["n_train"] == 128 and summary["n_test"] == 64


def test_sparsity_reaches_the_target(tiny_run):
    summary, _ = tiny_run
    for layer, sparsity in summary["sparsity"].items():
        size = summary["kernel_sizes"][layer]
        assert abs(sparsity - 0.5) <= 1 / size + 1e-9, (layer, sparsity)  # round(0.5 * size) zeros
    assert summary["history"][-1]["scheduled"] == pytest.approx(0.5)
    assert summary["overall_sparsity"] == pytest.approx(0.5, abs=1e-3)


def test_schedule_rises_and_measured_follows(tiny_run):
    summary, _ = tiny_run
    scheduled = [h["scheduled"] for h in summary["history"]]
    measured = [h["measured"] for h in summary["history"]]
    assert scheduled[0] == 0.0
    assert all(b >= a for a, b in zip(scheduled, scheduled[1:]))
    # with --frequency 1 the masks follow the schedule at every step (to rounding)
    assert max(abs(s - m) for s, m in zip(scheduled, measured)) < 1e-3


def test_keras_ops_mask_matches_numpy_reference(tiny_run):
    summary, _ = tiny_run
    assert summary["keras_ops_mask_equals_numpy"] is True


def test_zeros_survive_export(tiny_run):
    summary, folder = tiny_run
    assert summary["tflite_sparsity"] == summary["sparsity"]
    assert (folder / "pruned.tflite").stat().st_size == summary["sizes"]["pruned_tflite"]
    assert summary["sizes"]["pruned_tflite_gzip"] < summary["sizes"]["dense_tflite_gzip"]


def test_litert_agrees_with_keras(tiny_run):
    summary, _ = tiny_run
    assert summary["agreement"] >= 0.98
    assert summary["max_abs_difference"] < 1e-4


def test_mask_loader_does_not_import_tensorflow():
    """load_course_masks() (taken from the script's source) loads utils/masks.py without utils/__init__."""
    program = textwrap.dedent(f"""
        import ast, importlib, pathlib, sys, types
        source = pathlib.Path({str(SCRIPT)!r}).read_text()
        function = next(node for node in ast.parse(source).body
                        if isinstance(node, ast.FunctionDef) and node.name == "load_course_masks")
        namespace = {{"importlib": importlib, "sys": sys, "types": types,
                      "ROOT": pathlib.Path({str(ROOT)!r})}}
        exec(compile(ast.Module([function], []), "keras3_pruning.py", "exec"), namespace)
        masks = namespace["load_course_masks"]()
        keep = masks.magnitude_mask([[0.1, -2.0], [0.3, 4.0]], 0.5)
        print(keep.tolist(), "tensorflow" in sys.modules, "utils" in sys.modules,
              "tf_keras" in sys.modules, "TF_USE_LEGACY_KERAS" in __import__("os").environ)
    """)
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    result = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.split() == ["[[False,", "True],", "[False,", "True]]",
                                     "False", "False", "False", "False"]
