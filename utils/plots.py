"""Figures the book and the labs reuse. Every figure has a title and labelled axes.

Each function draws on ``ax`` (a Matplotlib Axes; a new figure is made when it is
``None``) and returns the Axes, so that cells can combine panels.

Each takes ``language`` ("en" or "zh_CN"; default: the one set by ``utils.set_language``): the
title, the axis labels and the legend are drawn in it (``utils.i18n``). Numbers stay as they are.
"""

import matplotlib.pyplot as plt
import numpy as np

from . import i18n
from ._core import prunable_layers
from ._validate import check_int
from .calibration import calibration_bins, expected_calibration_error
from .masks import polynomial_sparsity
from .pruning import sparsity_report

__all__ = ["weight_histogram", "sparsity_per_layer", "tradeoff_curve", "schedule_curve",
           "mask_image", "sensitivity_curves", "reliability_diagram", "image_grid"]


def _axes(ax, figsize=(6, 3.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _localise(ax, language):
    """Put the words drawn on ``ax`` (title, axis labels, legend) into ``language``; returns ``ax``."""
    if (language or i18n.language()) == "en":
        return ax
    for text in (ax.title, ax.xaxis.label, ax.yaxis.label):
        text.set_text(i18n.text(text.get_text(), language))
    legend = ax.get_legend()
    for text in legend.get_texts() if legend else []:
        text.set_text(i18n.text(text.get_text(), language))
    return ax


def _all_kernel_values(model):
    return np.concatenate([layer.kernel.numpy().ravel() for layer in prunable_layers(model)])


def weight_histogram(before, after, *, ax=None, bins=101, title="Kernel weights before and after pruning",
                     language=None):
    """Overlaid histograms of all kernel weights of two models (e.g. dense vs pruned).

    Pruned weights pile up in a spike at zero and leave a gap around it: magnitude pruning
    removes the small weights. The y-axis is logarithmic so the spike does not hide the rest.
    """
    bins = check_int(bins, "bins", minimum=2)
    ax = _axes(ax)
    w_before, w_after = _all_kernel_values(before), _all_kernel_values(after)
    edges = np.linspace(min(w_before.min(), w_after.min()), max(w_before.max(), w_after.max()), bins)
    ax.hist(w_before, bins=edges, alpha=0.6, label=f"{before.name} (dense)")
    ax.hist(w_after, bins=edges, alpha=0.6, label=f"{after.name} ({np.mean(w_after == 0):.0%} zeros)")
    ax.set_yscale("log")
    ax.set(title=title, xlabel="weight value", ylabel="number of weights (log scale)")
    ax.legend()
    return _localise(ax, language)


def sparsity_per_layer(models, *, ax=None, title="Sparsity of each pruned kernel", language=None):
    """Grouped bars of the fraction of zeros in each layer's kernel, for one or more models.

    Args:
        models: a model, or a dict ``{label: model}``.
    """
    ax = _axes(ax)
    models = models if isinstance(models, dict) else {models.name: models}
    width = 0.8 / len(models)
    for i, (label, model) in enumerate(models.items()):
        report = sparsity_report(model).iloc[:-1]  # drop the total row
        positions = np.arange(len(report)) + i * width
        ax.bar(positions, 100 * report.sparsity, width=width, label=label)
    ax.set_xticks(np.arange(len(report)) + 0.4 - width / 2, report.layer)
    ax.set(title=title, xlabel="layer", ylabel="zeros in kernel (%)", ylim=(0, 119))
    ax.legend(loc="upper center", ncol=len(models), frameon=False)
    return _localise(ax, language)


def tradeoff_curve(curves, *, ax=None, xlabel="sparsity (%)", ylabel="test accuracy (%)",
                   title="Accuracy vs sparsity", reference=None, language=None):
    """Line plot of one or more trade-off curves.

    Args:
        curves: dict ``{label: (xs, ys)}``; values are plotted as given (pass percentages).
        reference: optional y value drawn as a dashed horizontal line (e.g. dense accuracy).
    """
    ax = _axes(ax)
    for label, (xs, ys) in curves.items():
        ax.plot(xs, ys, marker="o", label=label)
    if reference is not None:
        ax.axhline(reference, linestyle="--", color="gray", label="dense")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    return _localise(ax, language)


def schedule_curve(initial_sparsity, final_sparsity, begin_step, end_step, *, power=3, ax=None,
                   title="Polynomial sparsity schedule (Zhu & Gupta, 2017)", language=None):
    """Plot the target sparsity ``s(t) = s_f + (s_i - s_f)(1 - (t - t0)/(t1 - t0))^power``.

    ``t0 = begin_step``, ``t1 = end_step``; before ``t0`` nothing is pruned, after ``t1``
    the sparsity stays at ``s_f``. This is the schedule of ``tfmot``'s ``PolynomialDecay``
    (:func:`utils.masks.polynomial_sparsity`).
    """
    begin_step = check_int(begin_step, "begin_step", minimum=0)
    end_step = check_int(end_step, "end_step", minimum=1)
    steps = np.arange(0, int(end_step * 1.25) + 1)
    schedule = {"initial_sparsity": initial_sparsity, "final_sparsity": final_sparsity,
                "begin_step": begin_step, "end_step": end_step, "power": power}
    sparsity = np.array([polynomial_sparsity(t, **schedule) if t >= begin_step else 0.0 for t in steps])
    ax = _axes(ax)
    ax.plot(steps, 100 * sparsity)
    ax.set(title=title, xlabel="training step", ylabel="target sparsity (%)")
    ax.grid(alpha=0.3)
    return _localise(ax, language)


def mask_image(mask, *, ax=None, title="Kept (white) and pruned (black) weights", xlabel="output unit",
               ylabel="input", language=None):
    """Show a 2-D keep-mask as a black-and-white image."""
    ax = _axes(ax, figsize=(5, 4))
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask_image needs a 2-D mask, got shape {mask.shape}")
    ax.imshow(mask, cmap="gray", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return _localise(ax, language)


def sensitivity_curves(scan, *, ax=None, title="Sensitivity scan: only one layer pruned at a time",
                       language=None):
    """Accuracy vs sparsity, one line per layer, from :func:`utils.pruning.sensitivity_scan`.

    The dense model's accuracy (``scan.attrs["dense_accuracy"]``) is the dashed line. A
    layer whose line falls early is sensitive; prune it less.
    """
    ax = _axes(ax, figsize=(7, 4))
    for name, rows in scan.groupby("layer", sort=False):
        rows = rows.sort_values("sparsity")
        ax.plot(100 * rows.sparsity, 100 * rows.accuracy, marker="o",
                label=f"{name} ({int(rows.weights.iloc[0]):,} weights)")
    if "dense_accuracy" in scan.attrs:
        ax.axhline(100 * scan.attrs["dense_accuracy"], linestyle="--", color="gray", label="dense")
    ax.set(title=title, xlabel="sparsity of that layer (%)", ylabel="accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _localise(ax, language)


def reliability_diagram(probabilities, y, *, bins=15, ax=None, min_count=1,
                        title="Reliability diagram", language=None):
    """Accuracy against confidence in equal-width bins, for one or more models.

    A perfectly calibrated model lies on the diagonal; points *below* it are over-confident
    (the model is right less often than it claims). Guo et al., ICML 2017.

    Args:
        probabilities: dict ``{label: probs}`` with ``probs`` of shape ``(n, num_classes)``.
        y: true labels ``(n,)``.
        bins: number of confidence bins.
        min_count: bins with fewer predictions are not drawn (their accuracy is too noisy).

    The legend gives each model's ECE (see :func:`utils.calibration.expected_calibration_error`).
    """

    ax = _axes(ax, figsize=(5, 4.5))
    ax.plot([0, 100], [0, 100], linestyle="--", color="gray", label="perfect calibration")
    for label, probs in probabilities.items():
        table = calibration_bins(probs, y, bins)
        table = table[table["count"] >= min_count]
        ece = expected_calibration_error(None, probs, y, bins)
        ax.plot(100 * table.confidence, 100 * table.accuracy, marker="o",
                label=f"{label} (ECE {100 * ece:.1f} pt)")
    ax.set(title=title, xlabel="confidence: top predicted probability (%)",
           ylabel="accuracy in the bin (%)", xlim=(0, 101), ylim=(0, 101))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")  # below the diagonal at high confidence: rarely used
    return _localise(ax, language)


def image_grid(images, titles=None, *, ncols=8, title="Images", cmap="gray", size=1.3, language=None):
    """Show images in a grid with a small title over each one.

    Args:
        images: greyscale ``(n, height, width)`` or ``(n, height, width, 1)``, or colour
            ``(n, height, width, 3)`` with values in [0, 1].
        titles: optional list of ``n`` strings (e.g. ``"true 3 · dense 3 · pruned 5"``).
        ncols: images per row.
        title: the figure's title.
        cmap: colour map of greyscale images (ignored for colour images).
        size: inches per image.

    Returns:
        The array of Axes (one per cell of the grid; unused cells are blank).
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    colour = images.ndim == 4 and images.shape[-1] == 3
    if not (images.ndim == 3 or colour) or len(images) == 0:
        raise ValueError("images must have shape (n, height, width[, 1 or 3]) with n >= 1, "
                         f"got {images.shape}")
    if colour and (images.min() < 0 or images.max() > 1):
        raise ValueError("colour images must have values in [0, 1] (they are never clipped silently), "
                         f"got [{images.min():.3g}, {images.max():.3g}]")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(titles)} titles for {len(images)} images")
    ncols = min(check_int(ncols, "ncols", minimum=1), len(images))
    nrows = -(-len(images) // ncols)
    lines = 1 + max((str(t).count("\n") for t in titles), default=0) if titles is not None else 0
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.2 * lines + 0.2) * nrows + 0.4),
                             squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < len(images):
            if colour:
                ax.imshow(images[i], interpolation="nearest")
            else:
                ax.imshow(images[i], cmap=cmap)
            if titles is not None:
                ax.set_title(i18n.text(str(titles[i]), language), fontsize=7)
    fig.suptitle(i18n.text(title, language))
    fig.tight_layout()
    return axes
