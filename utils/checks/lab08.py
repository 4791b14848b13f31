"""Self-checks for Lab 08 (backdoors and defensive pruning)."""

import numpy as np

from .. import backdoor
from ._core import self_check

__all__ = ["exercise_8_1"]


@self_check("Exercise 8.1 (rank channels by activity on clean data)")
def exercise_8_1(report, dormant_channels, model, clean_x, layer):
    """Check ``dormant_channels(model, clean_x, layer, ratio) -> indices`` (most dormant first)."""
    activity = backdoor.channel_activity(model, clean_x, layer)
    channels = len(activity)
    chosen = np.asarray(dormant_channels(model, clean_x, layer, 0.25)).ravel()
    expected = int(round(0.25 * channels))
    if not report.check(len(chosen) == expected, f"ratio 0.25 of {channels} channels selects {expected}",
                        f"you selected {len(chosen)} channels, expected "
                        f"round(0.25 × {channels}) = {expected}"):
        return
    valid = (np.issubdtype(chosen.dtype, np.integer) and chosen.min() >= 0 and chosen.max() < channels
             and len(set(chosen.tolist())) == len(chosen))
    if not report.check(valid,
                        "they are distinct channel indices",
                        f"return distinct integer channel indices in 0…{channels - 1}, "
                        f"got {chosen[:8].tolist()}…"):
        return
    reference = backdoor.dormant_channels(model, clean_x, layer, 0.25)
    report.check(set(chosen.tolist()) == set(reference.tolist()),
                 "they are the channels with the lowest mean activation on clean data",
                 "these are not the least active channels. Average the layer's post-ReLU output over images "
                 "AND spatial positions (axes 0, 1, 2) to get one number per channel, then take the smallest "
                 "(np.argsort). Did you sort in decreasing order, or average over the channel axis?")
    report.check(np.all(np.diff(activity[chosen]) >= -1e-7), "they are ordered from most to least dormant",
                 "return them in increasing order of activity (most dormant first), as np.argsort gives")
    none = np.asarray(dormant_channels(model, clean_x, layer, 0.0)).ravel()
    report.check(len(none) == 0, "ratio 0 selects no channel",
                 f"ratio 0 should select nothing, got {len(none)}")
