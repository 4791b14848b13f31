"""Lab 03's self-checks pass the reference implementations and explain typical mistakes."""

import numpy as np

from utils import checks, dynamic
from utils import prune_retrain as pr


def _out(capsys):
    return capsys.readouterr().out


def _top_k_gate(x, k):
    return dynamic.TopKChannelGate(k)(np.asarray(x, np.float32)).numpy()


def test_references_pass(capsys):
    checks.exercise_3_1(pr.iterative_sparsities)
    checks.exercise_3_2(dynamic.drop_and_grow)
    checks.exercise_3_3(_top_k_gate)
    out = _out(capsys)
    assert "✘" not in out and out.count("all checks passed") == 3


def test_3_1_catches_linear_steps(capsys):
    checks.exercise_3_1(lambda s, r: [s * (i + 1) / r for i in range(r)])
    out = _out(capsys)
    assert "Equal steps of sparsity" in out and "same fraction q" in out


def test_3_2_catches_regrowing_the_dropped_and_signed_ranking(capsys):
    def after_drop(weights, mask, n, scores):
        new = mask.copy().ravel()
        active = np.flatnonzero(new)
        new[active[np.argsort(np.abs(weights.ravel()[active]), kind="stable")[:n]]] = False
        free = np.flatnonzero(~new)
        new[free[np.argsort(-scores.ravel()[free], kind="stable")[:n]]] = True
        return new.reshape(mask.shape)

    checks.exercise_3_2(after_drop)
    assert "from the *old* mask's inactive entries" in _out(capsys)

    def in_place(weights, mask, n, scores):
        new = dynamic.drop_and_grow(weights, mask, n, scores)
        mask[:] = new
        return new

    checks.exercise_3_2(in_place)
    assert "work on a copy" in _out(capsys)


def test_3_3_catches_batch_ranking_and_signed_saliency(capsys):
    def over_batch(x, k):
        saliency = np.abs(x).mean(axis=(0, 1, 2))
        keep = np.zeros(x.shape[-1])
        keep[np.argsort(-saliency)[:k]] = 1
        return x * keep

    checks.exercise_3_3(over_batch)
    assert "not over the batch" in _out(capsys)

    def signed(x, k):
        saliency = x.mean(axis=(1, 2))
        top = np.argsort(-saliency, axis=1)[:, :k]
        gate = np.zeros_like(saliency)
        np.put_along_axis(gate, top, 1.0, axis=1)
        return x * gate[:, None, None, :]

    checks.exercise_3_3(signed)
    assert "use np.abs" in _out(capsys)


def test_stubs_get_a_reminder(capsys):
    def stub(*args):
        raise NotImplementedError("Exercise 3.2: replace this line with your code")

    assert checks.exercise_3_2(stub) is None
    assert "not done yet" in _out(capsys)


# ------------------------------------------------------------------ verdict conditions

def test_beats_needs_a_gap_larger_than_its_standard_error():
    assert checks.lab03.beats([0.92, 0.93, 0.94], [0.90, 0.90, 0.91])
    assert not checks.lab03.beats([0.92, 0.89, 0.94], [0.90, 0.91, 0.91])   # gap within its s.e.
    assert not checks.lab03.beats([0.92, 0.93], [0.90, 0.90])               # two seeds are too few
    assert not checks.lab03.beats([0.90, 0.90, 0.91], [0.92, 0.93, 0.94])   # the other way round


def test_cost_within_adds_the_standard_error():
    assert checks.lab03.cost_within([0.97, 0.96, 0.97], [0.96, 0.955, 0.96])
    assert not checks.lab03.cost_within([0.97, 0.96, 0.97], [0.94, 0.95, 0.93])   # 3 pt cost
    assert not checks.lab03.cost_within([0.97, 0.96, 0.97], [0.97, 0.96, 0.92])   # mean 1.7, s.e. too large
    assert not checks.lab03.cost_within([0.97, 0.96], [0.97, 0.96])              # two seeds are too few

