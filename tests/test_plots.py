import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import plots, pruning  # noqa: E402


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
    plt.close("all")


def test_mask_image_rejects_non_2d():
    with pytest.raises(ValueError, match="2-D"):
        plots.mask_image(np.ones((2, 2, 2)))
