"""The self-checks must pass right answers, catch wrong ones and explain why."""

import numpy as np
import tensorflow_model_optimization as tfmot

from utils import checks, pruning


def test_exercise_1_1_passes_the_reference(capsys):
    checks.exercise_1_1(pruning.magnitude_mask)
    out = capsys.readouterr().out
    assert "✘" not in out and "all checks passed" in out


def test_exercise_1_1_explains_an_off_by_one_threshold(capsys):
    def strict_threshold(w, s):
        w = np.abs(np.asarray(w))
        return w > np.sort(w.ravel())[int(s * w.size)]

    checks.exercise_1_1(strict_threshold)
    out = capsys.readouterr().out
    assert "✘ 3 of 10 weights should be pruned, you pruned 4" in out


def test_exercise_1_1_catches_signed_ranking(capsys):
    def signed(w, s):
        w = np.asarray(w)
        keep = np.ones(w.size, bool)
        keep[np.argsort(w.ravel(), kind="stable")[: round(s * w.size)]] = False
        return keep.reshape(w.shape)

    checks.exercise_1_1(signed)
    assert "rank by absolute value" in capsys.readouterr().out


def test_unfinished_exercise_gets_a_reminder_not_a_traceback(capsys):
    def stub(w, s):
        raise NotImplementedError("Exercise 1.1: replace this line with your code")

    assert checks.exercise_1_1(stub) is None
    assert "not done yet" in capsys.readouterr().out


def test_crashing_student_code_is_reported(capsys):
    checks.exercise_1_1(lambda w, s: 1 / 0)
    assert "✘ your function raised ZeroDivisionError" in capsys.readouterr().out


def test_exercise_1_2_reference_passes_and_in_place_pruning_fails(trained_mlp, capsys):
    checks.exercise_1_2(lambda m, s: pruning.prune_weights(m, s), trained_mlp)
    assert "✘" not in capsys.readouterr().out

    copy = pruning.copy_model(trained_mlp)

    def in_place(model, s):
        for layer in pruning.prunable_layers(model):
            layer.kernel.assign(layer.kernel * pruning.magnitude_mask(layer.kernel.numpy(), s))
        return model

    checks.exercise_1_2(in_place, copy)
    out = capsys.readouterr().out
    assert "✘ returned the same object" in out and "original model's weights changed" in out


def test_exercise_1_4_warns_about_shared_layers(trained_mlp, capsys):
    def raw_tfmot(model, final_sparsity, end_step):
        schedule = tfmot.sparsity.keras.PolynomialDecay(0.0, final_sparsity, 0, end_step)
        return tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)

    checks.exercise_1_4(raw_tfmot, trained_mlp)
    out = capsys.readouterr().out
    assert "shares its layers" in out and "copy_model" in out

    def reference(model, final_sparsity, end_step):
        return pruning.prune_low_magnitude(model, final_sparsity=final_sparsity, begin_step=0,
                                           end_step=end_step)

    checks.exercise_1_4(reference, trained_mlp)
    assert "✘" not in capsys.readouterr().out


def test_exercise_1_4_catches_the_documents_threshold_call(trained_mlp, capsys):
    checks.exercise_1_4(lambda m, s, e: tfmot.sparsity.keras.prune_low_magnitude(
        pruning.copy_model(m), threshold=0.25), trained_mlp)
    assert "✘ schedule is ConstantSparsity" in capsys.readouterr().out


def test_verdict_prints_one_tick_or_not_met_line(capsys):
    from utils import checks

    checks.verdict(True, "accuracy ≥ 97 %")
    checks.verdict(False, "size ≤ 1/3")
    assert capsys.readouterr().out == "✔ accuracy ≥ 97 %\n✘ NOT MET: size ≤ 1/3\n"
