"""Tests for utils.energy: the first-order inference-energy estimate (Horowitz, ISSCC 2014)."""

import numpy as np
import pytest

from utils import energy, keras
from utils.models import lenet_300_100, seed_cnn
from utils.pruning import prune_weights


def tiny_dense():
    """Dense(3) on 4 inputs: 12 kernel weights, 3 biases, 12 MACs per example."""
    return keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, name="fc")])


def tiny_conv():
    """Conv 3x3, 2 filters, on a 5x5x1 image ('valid'): output 3x3x2, 18 weights used 9 times."""
    return keras.Sequential([keras.Input(shape=(5, 5, 1)), keras.layers.Conv2D(2, 3, name="conv")])


def test_horowitz_numbers_are_the_published_45nm_values():
    assert energy.operation_energy_pj("fp32_add") == 0.9
    assert energy.operation_energy_pj("fp32_mult") == 3.7
    assert energy.operation_energy_pj("sram_read") == 5.0
    assert energy.operation_energy_pj("dram_read") == 640.0
    assert energy.mac_energy_pj() == pytest.approx(4.6)


def test_table_is_read_only():
    with pytest.raises(TypeError):
        energy.HOROWITZ_45NM_PJ["dram_read"] = 1.0


def test_unknown_operation_is_rejected():
    with pytest.raises(ValueError, match="operation must be one of .*'dram_read'.* got 'int8_add'"):
        energy.operation_energy_pj("int8_add")


def test_storage_words_dense_and_with_indices():
    assert energy.storage_words(100) == 100
    assert energy.storage_words(100, index_bits=8) == pytest.approx(125.0)
    assert energy.storage_words(64, index_bits=0, value_bits=16) == pytest.approx(32.0)
    assert energy.storage_words(0, index_bits=5) == 0


@pytest.mark.parametrize("kwargs", [{"index_bits": -1}, {"value_bits": 0}])
def test_storage_words_rejects_bad_bits(kwargs):
    with pytest.raises(ValueError, match="bits must be a"):
        energy.storage_words(10, **kwargs)


@pytest.mark.parametrize("kwargs", [{"index_bits": 2.5}, {"value_bits": True}, {"index_bits": "8"}])
def test_storage_words_rejects_bits_that_are_not_ints(kwargs):
    with pytest.raises(TypeError, match="bits must be a .*int"):
        energy.storage_words(10, **kwargs)


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_counts_must_be_non_negative_and_finite(bad):
    with pytest.raises(ValueError):
        energy.storage_words(bad)
    with pytest.raises(ValueError):
        energy.memory_energy_pj(bad)
    with pytest.raises(ValueError):
        energy.compute_energy_pj(bad)


def test_counts_must_be_numbers():
    with pytest.raises(TypeError, match="n_macs must be a number"):
        energy.compute_energy_pj("12")
    with pytest.raises(TypeError, match="n_words must be a number"):
        energy.memory_energy_pj(True)
    with pytest.raises(TypeError, match="n_values must be a number"):
        energy.storage_words(None)


def test_memory_and_compute_energy():
    assert energy.memory_energy_pj(10, "dram") == pytest.approx(6400.0)
    assert energy.memory_energy_pj(10, "sram") == pytest.approx(50.0)
    assert energy.compute_energy_pj(1000) == pytest.approx(4600.0)
    with pytest.raises(ValueError, match="memory"):
        energy.memory_energy_pj(10, "flash")


def test_layer_costs_dense_layer():
    costs = energy.layer_costs(tiny_dense())
    row = costs.iloc[0]
    assert (row.layer, row.weights, row.biases, row.uses, row.macs) == ("fc", 12, 3, 1, 12)


def test_layer_costs_conv_layer_reuses_each_weight_at_every_output_position():
    costs = energy.layer_costs(tiny_conv())
    row = costs.iloc[0]
    assert row.weights == 3 * 3 * 1 * 2
    assert row.uses == 3 * 3
    assert row.macs == 18 * 9


def test_nonzero_macs_follow_the_zeros():
    model = tiny_conv()
    kernel = model.get_layer("conv").kernel
    values = np.ones(kernel.shape, np.float32)
    values[0, 0, 0, :] = 0.0  # 2 of 18 weights are zero
    kernel.assign(values)
    row = energy.layer_costs(model).iloc[0]
    assert row.nonzero == 16
    assert row.nonzero_macs == 16 * 9
    assert row.macs == 18 * 9  # a dense kernel still does them all


def test_seed_cnn_mac_count_matches_hand_count():
    # conv1 26*26*9*32 + conv2 11*11*9*32*64 + conv3 3*3*9*64*64 + dense 576*64 + output 64*10
    expected = 194_688 + 2_230_272 + 331_776 + 36_864 + 640
    costs = energy.layer_costs(seed_cnn())
    assert int(costs.macs.sum()) == expected
    assert int(costs.weights.sum() + costs.biases.sum()) == 93_322


def test_dense_estimate_by_hand():
    est = energy.estimate_inference_energy(tiny_dense(), kernel="dense", memory="dram")
    assert est.weight_words == 15
    assert est.macs == 12
    assert est.memory_pj == pytest.approx(15 * 640.0)
    assert est.compute_pj == pytest.approx(12 * 4.6)
    assert est.total_pj == pytest.approx(15 * 640.0 + 12 * 4.6)
    assert est.total_uj == pytest.approx(est.total_pj / 1e6)


def test_sparse_estimate_counts_indices_and_skips_zero_macs():
    model = tiny_dense()
    kernel = model.get_layer("fc").kernel
    values = np.zeros(kernel.shape, np.float32)
    values[0, :] = 1.0  # 3 of 12 weights survive
    kernel.assign(values)
    est = energy.estimate_inference_energy(model, kernel="sparse", index_bits=8, memory="sram")
    assert est.weight_words == pytest.approx(3 * 40 / 32 + 3)  # values+indices, dense biases
    assert est.macs == 3
    assert est.memory_pj == pytest.approx(est.weight_words * 5.0)


def test_pruning_lowers_sparse_but_not_dense_estimate():
    model = seed_cnn()
    pruned = prune_weights(model, 0.9)
    dense = energy.estimate_inference_energy(model, kernel="dense")
    zeros_in_dense_kernel = energy.estimate_inference_energy(pruned, kernel="dense")
    sparse = energy.estimate_inference_energy(pruned, kernel="sparse", index_bits=8)
    assert zeros_in_dense_kernel.total_pj == pytest.approx(dense.total_pj)
    assert sparse.total_pj < 0.2 * dense.total_pj
    assert sparse.macs == pytest.approx(0.1 * dense.macs, rel=0.01)


def test_estimate_rejects_bad_arguments():
    model = tiny_dense()
    with pytest.raises(ValueError, match="kernel"):
        energy.estimate_inference_energy(model, kernel="csr")
    with pytest.raises(ValueError, match="index_bits"):
        energy.estimate_inference_energy(model, kernel="sparse", index_bits=-3)
    with pytest.raises(TypeError, match="index_bits"):
        energy.estimate_inference_energy(model, kernel="sparse", index_bits=8.0)
    with pytest.raises(ValueError, match="memory must be one of"):
        energy.estimate_inference_energy(model, memory="hbm")
    with pytest.raises(TypeError, match="tf_keras"):
        energy.estimate_inference_energy("not a model")


def test_model_without_prunable_layers_is_rejected():
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.ReLU()])
    with pytest.raises(ValueError, match="no Dense or Conv"):
        energy.layer_costs(model)


def test_lenet_300_100_worked_example_of_the_book():
    """The numbers of the energy exercise in book/03_applications_challenges.md."""
    model = lenet_300_100()
    dense = energy.estimate_inference_energy(model, kernel="dense", memory="dram")
    assert dense.weight_words == 266_610
    assert dense.macs == 266_200
    assert dense.total_uj == pytest.approx(171.85, abs=0.01)
    sparse = energy.estimate_inference_energy(prune_weights(model, 0.92), kernel="sparse",
                                              index_bits=5, memory="dram")
    assert sparse.macs == 21_296
    assert sparse.weight_words == pytest.approx(21_296 * 37 / 32 + 410)
    assert sparse.total_uj == pytest.approx(16.12, abs=0.01)
