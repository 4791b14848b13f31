"""Verdict conditions that several labs share: one implementation each, imported by ``labNN.py``.

Every comparative condition pairs values by seed (``utils.stats``) and needs at least
``stats.MIN_SEEDS`` of them; values and margins are in the same unit (0.01 = 1 pt for accuracies).
"""

import numpy as np

from .. import stats


def beats(a, b, margin=0.0):
    """A beats B: the paired mean of ``a - b`` exceeds ``margin`` by more than its standard error."""
    return stats.paired_difference(a, b).exceeds_noise(margin)


def not_worse(a, b, margin):
    """A is not worse than B by more than ``margin``: paired mean of ``b - a`` plus its s.e. ≤ ``margin``."""
    gap = stats.paired_difference(b, a)
    return gap.n >= stats.MIN_SEEDS and gap.mean + gap.se <= margin


def drop_within(reference, values, max_drop):
    """The mean drop of ``values`` below one ``reference`` value, plus its s.e., is at most ``max_drop``."""
    drops = stats.mean_se(float(reference) - np.asarray(values, dtype=float))
    return drops.n >= stats.MIN_SEEDS and drops.mean + drops.se <= max_drop


def fraction_at_most(value, reference, fraction):
    """``value`` is at most ``fraction`` of ``reference`` (MACs, bytes, parameters: deterministic)."""
    return float(value) <= fraction * float(reference)
