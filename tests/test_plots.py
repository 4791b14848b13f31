"""Tests for utils.plots: every figure is labelled and draws what its data says."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from utils import metrics, plots, pruning  # noqa: E402
from utils.calibration import expected_calibration_error  # noqa: E402
from utils.masks import polynomial_sparsity  # noqa: E402


def _labelled(ax):
    return bool(ax.get_title()) and bool(ax.get_xlabel()) and bool(ax.get_ylabel())


def test_every_plot_has_title_and_axis_labels(trained_mlp):
    pruned = pruning.prune_weights(trained_mlp, 0.8)
    axes = [
        plots.weight_histogram(trained_mlp, pruned),
        plots.sparsity_per_layer({"dense": trained_mlp, "pruned": pruned}),
        plots.tradeoff_curve({"a": ([50, 80], [90, 80])}, reference=95),
        plots.schedule_curve(0.0, 0.9, 0, 100),
        plots.mask_image(np.eye(4, dtype=bool)),
    ]
    assert all(_labelled(ax) for ax in axes)
    plt.close("all")


def test_weight_histogram_shows_the_zero_spike(trained_mlp):
    ax = plots.weight_histogram(trained_mlp, pruning.prune_weights(trained_mlp, 0.9))
    assert "90% zeros" in ax.get_legend().get_texts()[1].get_text()
    plt.close("all")


def test_schedule_curve_follows_zhu_gupta():
    ax = plots.schedule_curve(0.0, 0.8, 10, 110)
    steps, values = ax.lines[0].get_data()
    assert values[steps == 5][0] == 0.0
    assert values[steps == 110][0] == pytest.approx(80.0)
    assert values[steps == 60][0] == pytest.approx(80 * (1 - 0.5 ** 3))
    expected = [100 * polynomial_sparsity(t, initial_sparsity=0.0, final_sparsity=0.8, begin_step=10,
                                          end_step=110) for t in steps[steps >= 10]]
    np.testing.assert_allclose(values[steps >= 10], expected)   # the same formula as utils.masks
    plt.close("all")


def test_schedule_curve_rejects_bad_steps():
    with pytest.raises(ValueError, match="end_step"):
        plots.schedule_curve(0.0, 0.8, 50, 50)
    with pytest.raises(TypeError, match="end_step must be a positive int"):
        plots.schedule_curve(0.0, 0.8, 0, 100.0)
    with pytest.raises(ValueError, match="final_sparsity"):
        plots.schedule_curve(0.0, 1.2, 0, 100)
    plt.close("all")


def test_sensitivity_curves_draw_one_line_per_layer_and_the_dense_reference():
    scan = pd.DataFrame({"layer": ["a", "a", "b", "b"], "sparsity": [0.5, 0.0, 0.0, 0.5],
                         "accuracy": [0.8, 0.9, 0.9, 0.6], "weights": [100, 100, 20, 20]})
    scan.attrs["dense_accuracy"] = 0.9
    ax = plots.sensitivity_curves(scan)
    assert _labelled(ax)
    a, b, dense = ax.lines
    np.testing.assert_allclose(a.get_data()[0], [0, 50])     # sorted by sparsity
    np.testing.assert_allclose(a.get_data()[1], [90, 80])
    assert "100 weights" in a.get_label() and np.allclose(dense.get_data()[1], 90)
    plt.close("all")


def test_reliability_diagram_reports_each_models_ece():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    probs = rng.dirichlet(np.ones(3), 300)
    ax = plots.reliability_diagram({"model": probs}, y, bins=5)
    assert _labelled(ax)
    ece = expected_calibration_error(None, probs, y, 5)
    assert f"ECE {100 * ece:.1f} pt" in ax.get_legend().get_texts()[1].get_text()
    plt.close("all")


def test_image_grid_lays_out_images_and_checks_its_input():
    axes = plots.image_grid(np.zeros((5, 4, 4)), ["a", "b", "c", "d", "e"], ncols=2)
    assert axes.shape == (3, 2) and sum(bool(ax.images) for ax in axes.ravel()) == 5
    assert axes[0, 1].get_title() == "b"
    with pytest.raises(TypeError, match="ncols must be a positive int"):
        plots.image_grid(np.zeros((2, 4, 4)), ncols=1.5)
    with pytest.raises(ValueError, match="never clipped"):
        plots.image_grid(np.full((2, 4, 4, 3), 2.0))
    plt.close("all")


def test_weight_histogram_checks_bins(trained_mlp):
    with pytest.raises(ValueError, match="bins must be an int in"):
        plots.weight_histogram(trained_mlp, trained_mlp, bins=1)
    plt.close("all")


def test_mask_image_rejects_non_2d():
    with pytest.raises(ValueError, match="2-D"):
        plots.mask_image(np.ones((2, 2, 2)))


def test_new_plots_have_titles_and_labels(scan, digits, trained_mlp):
    probs = metrics.predict_proba(trained_mlp, digits.x_test)
    axes = [plots.sensitivity_curves(scan),
            plots.reliability_diagram({"mlp": probs}, digits.y_test)]
    assert all(ax.get_title() and ax.get_xlabel() and ax.get_ylabel() for ax in axes)
    assert len(axes[0].lines) == scan.layer.nunique() + 1    # one line per layer + the dense reference
    assert "ECE" in axes[1].get_legend().get_texts()[1].get_text()
    grid = plots.image_grid(digits.x_test[:5], [str(v) for v in digits.y_test[:5]], ncols=3,
                            title="five digits")
    assert grid.shape == (2, 3) and grid[0, 0].get_title() == str(digits.y_test[0])
    assert grid[0, 0].figure._suptitle.get_text() == "five digits"
    plt.close("all")


def test_image_grid_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        plots.image_grid(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="titles"):
        plots.image_grid(np.zeros((2, 4, 4)), ["only one"])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        plots.image_grid(np.full((2, 4, 4, 3), 1.5))


def test_image_grid_draws_colour_images():
    axes = plots.image_grid(np.random.default_rng(0).random((3, 4, 4, 3)), ncols=2, title="RGB")
    assert axes.shape == (2, 2) and axes[0, 0].images[0].get_array().shape == (4, 4, 3)
