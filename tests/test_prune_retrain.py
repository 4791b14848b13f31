"""Static schedules at an equal budget (one-shot, gradual, iterative) and lottery-ticket helpers."""

import numpy as np
import pytest

import utils
from utils import dynamic, models, pruning, training
from utils import prune_retrain as pr


def test_iterative_sparsities_remove_equal_shares():
    np.testing.assert_allclose(pr.iterative_sparsities(0.9, 3), 1 - 0.1 ** (np.arange(1, 4) / 3))
    assert pr.iterative_sparsities(0.5, 1) == [0.5]
    with pytest.raises(ValueError):
        pr.iterative_sparsities(1.0, 3)
    with pytest.raises(ValueError):
        pr.iterative_sparsities(0.9, 0)


def _per_layer_sparsity(model):
    return {row.layer: row.sparsity for row in pruning.sparsity_report(model).itertuples()}


def test_one_shot_fine_tune_keeps_the_one_shot_mask(tiny_trained, tiny_data):
    before = [w.copy() for w in tiny_trained.get_weights()]
    log = pr.SparsityLog()
    pruned = pr.one_shot_fine_tune(tiny_trained, tiny_data, sparsity=0.8, epochs=2, batch_size=32, log=log)
    expected = dynamic.masks_from_weights(pruning.prune_weights(tiny_trained, 0.8))
    np.testing.assert_array_equal(dynamic.masks_from_weights(pruned)["dense1"], expected["dense1"])
    assert all(np.array_equal(a, b) for a, b in zip(before, tiny_trained.get_weights()))
    frame = log.frame()
    assert list(frame.epoch) == [1, 2] and np.allclose(frame.sparsity, 0.8, atol=0.005)
    assert frame.val_accuracy.between(0, 1).all()


def test_iterative_prune_steps_through_the_rounds(tiny_trained, tiny_data):
    log = pr.SparsityLog()
    pruned = pr.iterative_prune(tiny_trained, tiny_data, final_sparsity=0.9, rounds=3, epochs=4,
                                batch_size=32, log=log)
    assert all(abs(s - 0.9) <= 0.005 for s in _per_layer_sparsity(pruned).values())
    sparsity = log.frame().sparsity.to_numpy()        # epochs shared 2 + 1 + 1
    np.testing.assert_allclose(sparsity, [0.536, 0.536, 0.785, 0.9], atol=0.005)
    with pytest.raises(ValueError, match="rounds"):
        pr.iterative_prune(tiny_trained, tiny_data, final_sparsity=0.9, rounds=5, epochs=4)


def test_schedules_reject_bad_epochs(tiny_trained, tiny_data):
    with pytest.raises(ValueError, match="epochs"):
        pr.one_shot_fine_tune(tiny_trained, tiny_data, sparsity=0.5, epochs=0)


def test_rewind_and_reinitialise(tiny_data):
    utils.set_seed(0)
    model = models.mlp((24,))
    initial = [w.copy() for w in model.get_weights()]
    training.train(model, tiny_data, epochs=1, batch_size=32)
    masks = pr.magnitude_masks(model, 0.75)
    assert masks["dense1"].mean() == pytest.approx(0.25, abs=0.01)
    output_kernel = model.get_layer("output").kernel.numpy()
    np.testing.assert_array_equal(masks["output"], pruning.magnitude_mask(output_kernel, 0.75))
    ticket = pr.rewind(model, initial, masks)
    kernel = ticket.get_layer("dense1").kernel.numpy()
    np.testing.assert_array_equal(kernel, initial[0] * masks["dense1"])     # original init, masked
    np.testing.assert_array_equal(ticket.get_layer("dense1").bias.numpy(), initial[1])
    assert ticket is not model and not np.array_equal(model.get_layer("dense1").kernel.numpy(), kernel)
    fresh = pr.reinitialise(model, masks)
    fresh_kernel = fresh.get_layer("dense1").kernel.numpy()
    assert not fresh_kernel[~masks["dense1"]].any()
    assert not np.allclose(fresh_kernel[masks["dense1"]], initial[0][masks["dense1"]])
    assert pr.magnitude_masks(model, {"output": 0.5})["dense1"].all()
    with pytest.raises(ValueError, match="Unknown layer"):
        pr.magnitude_masks(model, {"dense9": 0.5})


def test_iterative_prune_with_a_fair_schedule_and_given_sparsities(tiny_trained, tiny_data):
    log = pr.SparsityLog()
    pruned = pr.iterative_prune(tiny_trained, tiny_data, final_sparsity=0.9, rounds=2, epochs=4,
                                round_epochs=[1, 3], sparsities=[0.6, 0.9], batch_size=32, log=log)
    np.testing.assert_allclose(log.frame().sparsity.to_numpy(), [0.6, 0.9, 0.9, 0.9], atol=0.005)
    assert all(abs(s - 0.9) <= 0.005 for s in _per_layer_sparsity(pruned).values())
    with pytest.raises(ValueError, match="round_epochs"):
        pr.iterative_prune(tiny_trained, tiny_data, final_sparsity=0.9, rounds=2, epochs=4,
                           round_epochs=[1, 2])
    with pytest.raises(ValueError, match="end at"):
        pr.iterative_prune(tiny_trained, tiny_data, final_sparsity=0.9, rounds=2, epochs=4,
                           sparsities=[0.5, 0.8])


def test_layer_sensitivity_and_table_match_the_scan(tiny_trained, tiny_data):
    x, y = tiny_data.x_val, tiny_data.y_val
    before = [w.copy() for w in tiny_trained.get_weights()]
    reference = pruning.sensitivity_scan(tiny_trained, (x, y), [0.5, 0.9])
    assert pr.layer_sensitivity(tiny_trained, "dense1", [0.5, 0.9], x, y) == \
        reference[reference.layer == "dense1"].accuracy.tolist()
    assert all(np.array_equal(a, b) for a, b in zip(before, tiny_trained.get_weights()))
    table = pr.sensitivity_table(tiny_trained, x, y, [0.5, 0.9])
    np.testing.assert_allclose(table["drop"], reference["drop"])
    assert list(table.layer) == list(reference.layer)
    assert table.attrs["dense_accuracy"] == reference.attrs["dense_accuracy"]
    with pytest.raises(ValueError, match="accuracies"):
        pr.sensitivity_table(tiny_trained, x, y, [0.5, 0.9], measure=lambda *args: [0.5])


def test_find_pies_and_ece():
    dense = np.array([[1, 2, 3], [1, 2, 3], [1, 0, 3]])
    pruned = np.array([[1, 7, 3], [1, 7, 3], [0, 2, 3]])
    assert pr.find_pies(dense, pruned).tolist() == [1]
    assert pr.find_pies(dense, dense).size == 0
    probs = np.tile([0.9, 0.1], (10, 1))
    assert abs(pr.ece(probs, np.array([0] * 5 + [1] * 5)) - 0.4) < 1e-9


def test_worst_class_excess_and_its_class_blind_control():
    y = np.repeat(np.arange(4), 50)                       # 4 classes, 50 images each
    dense = y.copy()                                      # a perfect reference
    concentrated = y.copy()
    concentrated[:20] = 1                                 # 20 errors, all in class 0
    assert pr.worst_class_excess(y, dense, concentrated, 4) == pytest.approx(0.4 - 0.1)
    assert pr.worst_class_excess(y, dense, dense, 4) == 0.0
    blind = pr.class_blind_excess(y, dense, 20, 4, draws=200)
    assert 0.0 < blind < 0.15                             # spread evenly, the worst class is a little above
    with pytest.raises(ValueError, match="correct predictions"):
        pr.class_blind_excess(y, dense, 201, 4)
    imperfect = y.copy()
    imperfect[::10] = (y[::10] + 1) % 4                  # 20 wrong answers to gain back
    churn = pr.class_blind_excess(y, imperfect, 20, 4, gained=10, draws=200)
    assert churn > 0.0
    with pytest.raises(ValueError, match="wrong predictions"):
        pr.class_blind_excess(y, imperfect, 0, 4, gained=21)
