"""Figures the book and the labs reuse. Every figure has a title and labelled axes.

Each function draws on ``ax`` (a Matplotlib Axes; a new figure is made when it is
``None``) and returns the Axes, so that cells can combine panels.
"""

import matplotlib.pyplot as plt
import numpy as np

from .pruning import prunable_layers, sparsity_report

__all__ = ["weight_histogram", "sparsity_per_layer", "tradeoff_curve", "schedule_curve",
           "mask_image"]


def _axes(ax, figsize=(6, 3.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _all_kernel_values(model):
    return np.concatenate([layer.kernel.numpy().ravel() for layer in prunable_layers(model)])


def weight_histogram(before, after, *, ax=None, bins=101, title="Kernel weights before and after pruning"):
    """Overlaid histograms of all kernel weights of two models (e.g. dense vs pruned).

    Pruned weights pile up in a spike at zero and leave a gap around it: magnitude pruning
    removes the small weights. The y-axis is logarithmic so the spike does not hide the rest.
    """
    ax = _axes(ax)
    w_before, w_after = _all_kernel_values(before), _all_kernel_values(after)
    edges = np.linspace(min(w_before.min(), w_after.min()), max(w_before.max(), w_after.max()), bins)
    ax.hist(w_before, bins=edges, alpha=0.6, label=f"{before.name} (dense)")
    ax.hist(w_after, bins=edges, alpha=0.6, label=f"{after.name} ({np.mean(w_after == 0):.0%} zeros)")
    ax.set_yscale("log")
    ax.set(title=title, xlabel="weight value", ylabel="number of weights (log scale)")
    ax.legend()
    return ax


def sparsity_per_layer(models, *, ax=None, title="Sparsity of each pruned kernel"):
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
    ax.set(title=title, xlabel="layer", ylabel="zeros in kernel (%)", ylim=(0, 100))
    ax.legend()
    return ax


def tradeoff_curve(curves, *, ax=None, xlabel="sparsity (%)", ylabel="test accuracy (%)",
                   title="Accuracy vs sparsity", reference=None):
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
    return ax


def schedule_curve(initial_sparsity, final_sparsity, begin_step, end_step, *, power=3, ax=None,
                   title="Polynomial sparsity schedule (Zhu & Gupta, 2017)"):
    """Plot the target sparsity ``s(t) = s_f + (s_i - s_f)(1 - (t - t0)/(t1 - t0))^power``.

    ``t0 = begin_step``, ``t1 = end_step``; before ``t0`` nothing is pruned, after ``t1``
    the sparsity stays at ``s_f``. This is the schedule of ``tfmot``'s ``PolynomialDecay``.
    """
    ax = _axes(ax)
    steps = np.arange(0, int(end_step * 1.25) + 1)
    progress = np.clip((steps - begin_step) / (end_step - begin_step), 0, 1)
    sparsity = final_sparsity + (initial_sparsity - final_sparsity) * (1 - progress) ** power
    sparsity[steps < begin_step] = 0.0
    ax.plot(steps, 100 * sparsity)
    ax.set(title=title, xlabel="training step", ylabel="target sparsity (%)")
    ax.grid(alpha=0.3)
    return ax


def mask_image(mask, *, ax=None, title="Kept (white) and pruned (black) weights", xlabel="output unit",
               ylabel="input"):
    """Show a 2-D keep-mask as a black-and-white image."""
    ax = _axes(ax, figsize=(5, 4))
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask_image needs a 2-D mask, got shape {mask.shape}")
    ax.imshow(mask, cmap="gray", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax
