"""Self-checks and verdict conditions for Lab 08 (backdoors and defensive pruning)."""

import numpy as np

from .. import backdoor
from ..metrics import predict_classes
from ._conditions import beats, not_worse  # noqa: F401 (verdict conditions used as check.lab08.<name>)
from ._core import self_check

__all__ = ["exercise_8_1", "exercise_8_2", "exercise_8_3"]


@self_check("Exercise 8.1 (attack success rate)")
def exercise_8_1(report, attack_success_rate, model, x, y, target):
    """Check ``attack_success_rate(model, x, target, y) -> float`` against the reference."""
    x, y = np.asarray(x[:200]), np.asarray(y[:200])
    kept = x.copy()
    value = attack_success_rate(model, x, target, y)
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = float("nan")
    if not report.check(0.0 <= value <= 1.0, "the ASR is a number in [0, 1]",
                        f"return a fraction in [0, 1] (not a percentage, not an array), got {value!r}"):
        return
    report.check(np.array_equal(x, kept), "the clean images are untouched",
                 "your function changed x in place: the defender's test images must stay clean; stamp a copy")
    reference = backdoor.attack_success_rate(model, x, target, y=y)
    others = y != target
    wrong = {
        "you did not stamp the trigger: the ASR is measured on TRIGGERED images":
            float(np.mean(predict_classes(model, x[others]) == target)),
        "you counted images whose true class is the target: they prove nothing, leave them out":
            float(np.mean(predict_classes(model, backdoor.add_trigger(x)) == target)),
        "you measured accuracy on triggered images; the ASR is the share predicted as the TARGET class":
            float(np.mean(predict_classes(model, backdoor.add_trigger(x[others])) == y[others])),
    }
    hint = next((message for message, v in wrong.items()
                 if abs(v - value) < 1e-9 and abs(v - reference) > 1e-9),
                "the ASR is the share of triggered images of the other classes that the model assigns to "
                "the target")
    report.check(abs(value - reference) < 1e-9,
                 f"it matches the reference ({reference:.1%} on 200 test images)",
                 f"you return {value:.1%}, the reference {reference:.1%}: {hint}")


@self_check("Exercise 8.2 (rank channels by activity on clean data)")
def exercise_8_2(report, dormant_channels, model, clean_x, layer):
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
                 "AND spatial positions to get one number per channel, then take the smallest. Did you sort "
                 "in decreasing order, or average over the channel axis?")
    report.check(np.all(np.diff(activity[chosen]) >= -1e-7), "they are ordered from most to least dormant",
                 "return them in increasing order of activity (most dormant first), as np.argsort gives")
    none = np.asarray(dormant_channels(model, clean_x, layer, 0.0)).ravel()
    report.check(len(none) == 0, "ratio 0 selects no channel",
                 f"ratio 0 should select nothing, got {len(none)}")


class _Recorder:
    """A ``fine_tune`` stand-in that records what it was given and trains nothing (keeps the check fast)."""

    def __init__(self):
        self.calls = []

    def __call__(self, model):
        self.calls.append(model)


def _run(fine_prune, model, x_val, y_val, layer, max_drop, step):
    recorder = _Recorder()
    result = fine_prune(model, x_val, y_val, layer, max_drop, step, recorder)
    pruned, channels = result
    return pruned, np.asarray(channels).ravel(), recorder.calls


@self_check("Exercise 8.3 (Fine-Pruning with a stopping rule)")
def exercise_8_3(report, fine_prune, model, x_val, y_val, layer):
    """Check ``fine_prune(model, x_val, y_val, layer, max_drop, step, fine_tune) -> (model, channels)``."""
    before = [w.copy() for w in model.get_weights()]
    filters = model.get_layer(layer).filters
    pruned, channels, calls = _run(fine_prune, model, x_val, y_val, layer, 0.04, 4)
    if not report.check(len(calls) == 1 and calls[0] is pruned,
                        "fine_tune is called once, on the pruned model you return",
                        f"fine_tune was called {len(calls)} time(s)"
                        + ("" if len(calls) != 1 else ", but not on the model you return")
                        + ": prune first, then call fine_tune(pruned) once and return that model"):
        return
    report.check(all(np.array_equal(a, b) for a, b in zip(before, model.get_weights())),
                 "the original model is untouched", "your function changed the original model's weights: "
                 "prune a copy (backdoor.remove_channels returns a new model)")
    ref_pruned, ref_channels = backdoor.fine_prune_with_stopping_rule(model, x_val, y_val, layer, 0.04, 4,
                                                                      lambda m: None)
    report.check(pruned.get_layer(layer).filters == filters - len(channels),
                 f"the returned model lacks exactly the {len(channels)} channels you report",
                 f"the returned model has {pruned.get_layer(layer).filters} filters in {layer}, expected "
                 f"{filters} − {len(channels)}: return the channels you removed")
    report.check(len(channels) == len(ref_channels),
                 f"the stopping rule keeps {len(ref_channels)} pruned channels at max_drop = 4 pt, step 4",
                 f"you pruned {len(channels)} channels, the rule gives {len(ref_channels)}. Compare every "
                 "step with the UNPRUNED model's validation accuracy, prune the original model (not the "
                 "previous step's) and keep the last count BEFORE the first one that falls more than "
                 "max_drop")
    report.check(set(channels.tolist()) == set(ref_channels.tolist()),
                 "the pruned channels are the most dormant ones",
                 "these are not the most dormant channels: rank them with your dormant_channels "
                 "(Exercise 8.2)")
    _, none, _ = _run(fine_prune, model, x_val, y_val, layer, -1.0, 4)
    report.check(len(none) == 0, "if even the first step fails the rule, nothing is pruned",
                 f"with max_drop = −1 no step can pass, but you pruned {len(none)} channels")
    _, most, _ = _run(fine_prune, model, x_val, y_val, layer, 2.0, 16)
    largest = (filters - 1) // 16 * 16
    report.check(len(most) == largest,
                 f"a rule that never stops prunes in steps up to {largest} of {filters} channels, never all",
                 f"with max_drop = 2 (never stops) and step 16 you pruned {len(most)} channels, expected "
                 f"{largest}: try count = step, 2·step, … while count < the number of channels")


# ------------------------------------------------------------------ verdict conditions
def at_least(value, floor):
    """True if ``value`` ≥ ``floor`` (e.g. mean ASR of the backdoored models ≥ 90 %)."""
    return float(np.mean(value)) >= floor


def adaptive_attack_wins(adaptive, naive, margin=0.2):
    """Paired by seed: the adaptive attack's robust accuracy lies more than ``margin`` below the naive
    attack's."""
    return beats(naive, adaptive, margin)


def close_to_undefended(adaptive, undefended, margin=0.1):
    """Paired by seed: under the adaptive attack the defended model beats no defence by at most ``margin``
    (mean + s.e., ≥ 3 seeds)."""
    return not_worse(undefended, adaptive, margin)


def pruning_then_fine_tuning_wins(fine_tuning_alone, *pruned_and_fine_tuned):
    """Paired by seed: the ASR after pruning + fine-tuning, averaged over the channel choices (dormant,
    random, most active), lies below fine-tuning alone's beyond the noise (mean − s.e. > 0, ≥ 3 seeds)."""
    return beats(fine_tuning_alone, np.mean(np.asarray(pruned_and_fine_tuned, dtype=float), axis=0))
