"""utils.masks: the framework-neutral mask arithmetic (NumPy only)."""

import subprocess
import sys

import numpy as np
import pytest

from utils import masks


def test_magnitude_mask_removes_the_smallest_and_breaks_ties_by_position():
    w = np.array([[0.5, -0.1], [0.1, 2.0]])
    np.testing.assert_array_equal(masks.magnitude_mask(w, 0.5), [[True, False], [False, True]])
    np.testing.assert_array_equal(masks.magnitude_mask([1.0, 1.0, 1.0, 1.0], 0.5), [False, False, True, True])


def test_global_masks_rank_all_kernels_together():
    small, large = np.full((2, 2), 0.1), np.full((3,), 5.0)
    got = masks.global_magnitude_masks([small, large], 4 / 7)
    assert not got[0].any() and got[1].all()            # the small kernel loses everything
    with pytest.raises(ValueError, match="empty"):
        masks.global_magnitude_masks([], 0.5)


def test_sparsity_per_layer():
    assert masks.sparsity_per_layer(["a", "b"], 0.5) == {"a": 0.5, "b": 0.5}
    assert masks.sparsity_per_layer(["a", "b"], {"b": 0.9}) == {"a": 0.0, "b": 0.9}
    with pytest.raises(ValueError, match=r"Unknown layer name\(s\) \['c'\]"):
        masks.sparsity_per_layer(["a"], {"c": 0.5})
    with pytest.raises(TypeError, match="sparsity"):
        masks.sparsity_per_layer(["a"], "0.5")


def test_polynomial_sparsity_is_zhu_and_gupta_cubic():
    kw = dict(initial_sparsity=0.0, final_sparsity=0.8, begin_step=10, end_step=110)
    assert masks.polynomial_sparsity(0, **kw) == 0.0
    assert masks.polynomial_sparsity(60, **kw) == pytest.approx(0.8 * (1 - 0.5 ** 3))
    assert masks.polynomial_sparsity(500, **kw) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="end_step"):
        masks.polynomial_sparsity(0, initial_sparsity=0, final_sparsity=0.5, begin_step=5, end_step=5)


def test_nonzero_mask():
    np.testing.assert_array_equal(masks.nonzero_mask([0.0, -1.0, 0.0, 2.0]), [False, True, False, True])


def test_masks_load_without_tensorflow():
    """Framework-neutral for real: loading utils/masks.py does not pull TensorFlow in."""
    code = (
        "import importlib, sys, types, pathlib\n"
        "pkg = types.ModuleType('neutral'); pkg.__path__ = [str(pathlib.Path('utils').resolve())]\n"
        "sys.modules['neutral'] = pkg\n"
        "m = importlib.import_module('neutral.masks')\n"
        "print(int(m.magnitude_mask([3.0, 1.0, 2.0], 1 / 3).sum()), 'tensorflow' in sys.modules)\n"
    )
    root = __import__("pathlib").Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "False"]
