"""Lab 08's self-checks and verdict conditions (utils/checks/lab08.py)."""

import numpy as np
import pytest

import utils
from utils import backdoor, checks, metrics, models, training
from utils.checks import lab08


@pytest.fixture(scope="module")
def backdoored(digits):
    utils.set_seed(0)
    model = models.seed_cnn()
    training.train(model, backdoor.poison(digits, target=0, rate=0.1), epochs=4)
    return model


def _reference_asr(model, x, target, y):
    return backdoor.attack_success_rate(model, x, target, y=y)


def test_exercise_8_1_passes_the_reference(backdoored, digits, capsys):
    checks.exercise_8_1(_reference_asr, backdoored, digits.x_test, digits.y_test, 0)
    out = capsys.readouterr().out
    assert "✘" not in out and "all checks passed" in out


@pytest.mark.parametrize("mistake, expected", [
    ("no trigger", "did not stamp the trigger"),
    ("target kept", "prove nothing, leave them out"),
    ("percent", "not a percentage"),
])
def test_exercise_8_1_explains_common_mistakes(backdoored, digits, capsys, mistake, expected):
    def wrong(model, x, target, y):
        if mistake == "no trigger":
            return float(np.mean(metrics.predict_classes(model, x[y != target]) == target))
        if mistake == "target kept":
            return float(np.mean(metrics.predict_classes(model, backdoor.add_trigger(x)) == target))
        return 100 * _reference_asr(model, x, target, y)

    checks.exercise_8_1(wrong, backdoored, digits.x_test, digits.y_test, 0)
    out = capsys.readouterr().out
    assert "✘" in out and expected in out


def test_exercise_8_3_passes_the_reference(trained_cnn, digits, capsys):
    checks.exercise_8_3(backdoor.fine_prune_with_stopping_rule, trained_cnn, digits.x_val, digits.y_val,
                        "conv3")
    out = capsys.readouterr().out
    assert "✘" not in out and "all checks passed" in out


def _rule(model, x_val, y_val, layer, max_drop, step, fine_tune, *, relative=False, overshoot=False,
          tune=True, active=False):
    """Plausible wrong versions of the loop."""
    activity = backdoor.channel_activity(model, x_val, layer)
    order = np.argsort(-activity if active else activity, kind="stable")
    base = metrics.accuracy(model, x_val, y_val)
    keep, previous = 0, base
    for count in range(step, len(order), step):
        acc = metrics.accuracy(backdoor.remove_channels(model, layer, order[:count]), x_val, y_val)
        if (previous if relative else base) - acc > max_drop:
            if overshoot:
                keep = count
            break
        keep, previous = count, acc
    pruned = backdoor.remove_channels(model, layer, order[:keep])
    if tune:
        fine_tune(pruned)
    return pruned, order[:keep]


@pytest.mark.parametrize("mistake, expected", [
    ({"overshoot": True}, "BEFORE the first one"),
    ({"active": True}, "not the most dormant"),
    ({"tune": False}, "fine_tune was called 0 time"),
])
def test_exercise_8_3_catches_plausible_mistakes(trained_cnn, digits, capsys, mistake, expected):
    def wrong(*args):
        return _rule(*args, **mistake)

    checks.exercise_8_3(wrong, trained_cnn, digits.x_val, digits.y_val, "conv3")
    out = capsys.readouterr().out
    assert "✘" in out and expected in out


def test_lab08_verdict_conditions_pass_and_fail():
    assert lab08.at_least([0.95, 1.0, 0.9], 0.9) and not lab08.at_least([0.5, 0.6, 0.7], 0.9)
    assert lab08.beats([1.0, 1.0, 1.0], [0.13, 0.24, 0.04], margin=0.5)
    assert not lab08.beats([0.28, 0.37, 0.12], [0.15, 0.45, 0.10])              # within the noise
    assert not lab08.beats([1.0, 1.0], [0.1, 0.2], margin=0.5)                   # too few seeds
    assert lab08.not_worse([0.97, 0.97, 0.975], [0.975, 0.967, 0.967], margin=0.03)
    assert not lab08.not_worse([0.90, 0.91, 0.92], [0.975, 0.967, 0.967], margin=0.03)
    # SAP, paired over seeds: the adaptive attack's accuracy vs the naive attack's and the undefended model's
    assert lab08.adaptive_attack_wins([0.03, 0.05, 0.02], [0.41, 0.38, 0.45])
    assert not lab08.adaptive_attack_wins([0.35, 0.30, 0.40], [0.41, 0.38, 0.45])   # less than 20 pt
    assert not lab08.adaptive_attack_wins([0.03, 0.05], [0.41, 0.38])               # too few seeds
    assert lab08.close_to_undefended([0.03, 0.05, 0.02], [0.05, 0.04, 0.03])
    assert not lab08.close_to_undefended([0.30, 0.25, 0.28], [0.05, 0.04, 0.03])
    assert not lab08.close_to_undefended([0.03, 0.05], [0.05, 0.04])
    # pruning alone, clean accuracy paired by seed: dormant vs most active channels (probe: 8-epoch models)
    assert lab08.beats([0.886, 0.875, 0.861], [0.758, 0.636, 0.725])
    assert not lab08.beats([0.886, 0.875, 0.861], [0.853, 0.922, 0.897])          # vs random: no



def test_lab08_section_3_verdicts_pass_and_fail():
    # pruning + fine-tuning vs fine-tuning alone, ASR paired by seed (values like the lab's run)
    fine_tuning_alone, fine_pruning = [0.45, 0.30, 0.43], [0.19, 0.16, 0.19]
    assert lab08.beats(fine_tuning_alone, fine_pruning)
    assert not lab08.beats(fine_tuning_alone, [0.99, 1.0, 1.0])          # a loop that never fine-tunes
    assert not lab08.beats(fine_tuning_alone, [0.40, 0.38, 0.35])        # within the noise
    # Fine-Pruning's clean-accuracy cost: a bound the repair must meet, pruning without repair does not
    backdoored = [0.975, 0.967, 0.964]
    assert lab08.not_worse([0.969, 0.958, 0.962], backdoored, margin=0.03)
    assert not lab08.not_worse([0.933, 0.944, 0.942], backdoored, margin=0.03)


def test_lab08_pruning_then_fine_tuning_wins_pass_and_fail():
    fine_tuning_alone = [0.45, 0.30, 0.43]
    assert lab08.pruning_then_fine_tuning_wins(fine_tuning_alone, [0.19, 0.16, 0.19], [0.25, 0.20, 0.27],
                                               [0.10, 0.12, 0.15])
    assert not lab08.pruning_then_fine_tuning_wins(fine_tuning_alone, [0.99, 1.0, 1.0], [0.25, 0.20, 0.27],
                                                   [0.30, 0.32, 0.35])       # one arm never fine-tuned
    assert not lab08.pruning_then_fine_tuning_wins([0.45, 0.30], [0.1, 0.1], [0.1, 0.1], [0.1, 0.1])  # 2 runs
