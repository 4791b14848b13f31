"""Seeds and noise floors: the statistics a lab needs before it says "A beats B".

A comparison measured on one seed and a few hundred test images is mostly noise (one image of 360
is 0.28 pt). Labs therefore repeat each arm over several seeds (≥ 3) and certify a difference only
when its mean exceeds its standard error, i.e. when it is larger than the seed-to-seed noise of
the difference itself; the lab prints mean ± s.e. next to the verdict.

    >>> gap = paired_difference([0.95, 0.96, 0.94], [0.90, 0.92, 0.91])
    >>> print(gap)                      # doctest: +SKIP
    +0.040 ± 0.006 (3 seeds)
    >>> gap.exceeds_noise()
    True
"""

from dataclasses import dataclass

import numpy as np

from . import i18n
from ._validate import check_int, check_real

__all__ = ["MeanSE", "mean_se", "paired_difference", "MIN_SEEDS"]

MIN_SEEDS = 3  # the fewest seeds a comparative verdict may rest on (issue 13, design "Verdicts")


@dataclass(frozen=True)
class MeanSE:
    """The mean of ``n`` per-seed values and its standard error ``se`` = sample s.d. / √n."""

    mean: float
    se: float
    n: int

    def exceeds_noise(self, margin=0.0, *, min_seeds=MIN_SEEDS):
        """True when ``mean - margin`` is larger than one standard error and ``n ≥ min_seeds``.

        ``margin`` is a practical threshold in the same unit (e.g. 0.01 = 1 pt of accuracy).
        """
        check_real(margin, "margin")
        check_int(min_seeds, "min_seeds", minimum=2)
        return self.n >= min_seeds and self.mean - margin > self.se

    def noise_label(self):
        """In words, how far the mean is from zero in standard errors — for takeaway sentences.

        One s.e. is the course's bar for a verdict; with three seeds a gap of 1–2 s.e. clears it
        but is weak evidence, and the label says so rather than calling it "beyond the noise".
        """
        if self.se == 0:
            return i18n.text("the same on every seed" if self.mean == 0 else "no spread over the seeds")
        t = abs(self.mean) / self.se
        if t <= 1:
            return i18n.text(f"{t:.2f} s.e. from zero: within the seed noise")
        if t < 2:   # two decimals: 1.02 must not read as "1.0 s.e. … beyond one s.e."
            return i18n.text(f"{t:.2f} s.e. from zero: beyond one s.e., weak evidence with {self.n} seeds")
        return i18n.text(f"{t:.1f} s.e. from zero: beyond the seed noise")

    def format(self, scale=1.0, unit="", digits=1):
        """``"+4.0 ± 0.6 pt (3 seeds)"`` with values multiplied by ``scale``."""
        sign = "+" if self.mean * scale >= 0 else ""
        return (f"{sign}{self.mean * scale:.{digits}f} ± {self.se * scale:.{digits}f}{unit} "
                + i18n.text(f"({self.n} seeds)"))

    def __str__(self):
        return self.format(digits=3)


def mean_se(values):
    """Mean and standard error of per-seed values.

    Args:
        values: 1-D sequence of at least 2 finite numbers (one per seed).

    Returns:
        MeanSE(mean, se, n) with se = std(values, ddof=1) / sqrt(n).
    """
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size < 2:
        raise ValueError(f"mean_se needs a 1-D sequence of ≥ 2 per-seed values, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"mean_se got a non-finite value in {array.tolist()}")
    return MeanSE(float(array.mean()), float(array.std(ddof=1) / np.sqrt(array.size)), int(array.size))


def paired_difference(a, b):
    """Mean ± s.e. of ``a[i] - b[i]``: arm A minus arm B, seed by seed (same seed, same data split).

    Pairing removes what both arms share on one seed (the initialisation, the data order), so the
    standard error is that of the difference itself.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError("paired_difference needs one value per seed in both arms; "
                         f"got {a.shape} and {b.shape}")
    return mean_se(a - b)
