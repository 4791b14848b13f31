"""Chapter 9.1's verdicts pass on good measurements and fail, visibly, on bad ones."""

import pytest

from utils.checks import ch09


def lines(capsys):
    return capsys.readouterr().out.strip().splitlines()


def test_pqat_verdict_passes_when_pqat_keeps_and_qat_loses(capsys):
    ch09.pqat_keeps_sparsity(pruned=0.80, qat=0.50, pqat=0.80)
    out = lines(capsys)
    assert len(out) == 2 and all(line.startswith("✔") for line in out)


def test_pqat_verdict_fails_when_pqat_loses_sparsity(capsys):
    ch09.pqat_keeps_sparsity(pruned=0.80, qat=0.50, pqat=0.75)
    first, second = lines(capsys)
    assert first.startswith("✘ NOT MET") and "PQAT" in first
    assert second.startswith("✔")


def test_pqat_verdict_fails_when_plain_qat_loses_nothing(capsys):
    ch09.pqat_keeps_sparsity(pruned=0.80, qat=0.79, pqat=0.80)
    first, second = lines(capsys)
    assert first.startswith("✔")
    assert second.startswith("✘ NOT MET") and "plain QAT" in second


def test_pqat_verdict_labels_the_qat_loss_as_a_precondition(capsys):
    ch09.pqat_keeps_sparsity(pruned=0.80, qat=0.50, pqat=0.80)
    first, second = lines(capsys)
    assert "precondition" not in first
    assert second.startswith("✔ precondition")


def test_pqat_verdict_states_targets_not_numbers(capsys):
    ch09.pqat_keeps_sparsity(pruned=0.80, qat=0.50, pqat=0.80)
    first_run = lines(capsys)
    ch09.pqat_keeps_sparsity(pruned=0.70, qat=0.20, pqat=0.705)
    assert lines(capsys) == first_run


def test_pqat_verdict_rejects_bad_input():
    with pytest.raises(TypeError, match="pruned"):
        ch09.pqat_keeps_sparsity(pruned="80 %", qat=0.5, pqat=0.8)
    with pytest.raises(ValueError, match="fraction"):
        ch09.pqat_keeps_sparsity(pruned=80, qat=50, pqat=80)
    with pytest.raises(TypeError, match="qat"):
        ch09.pqat_keeps_sparsity(pruned=0.8, qat=True, pqat=0.8)


def test_sparse_verdict_passes(capsys):
    ch09.sparse_kernels_stored(5, 5, "XNNPACK", 1.0)
    out = lines(capsys)
    assert len(out) == 3 and all(line.startswith("✔") for line in out)


def test_sparse_verdict_fails_when_a_kernel_is_stored_dense(capsys):
    ch09.sparse_kernels_stored(4, 5, "XNNPACK", 1.0)
    first, *sanity = lines(capsys)
    assert first.startswith("✘ NOT MET") and "sparse format" in first
    assert all(line.startswith("✔ sanity check") for line in sanity)


def test_sparse_sanity_checks_fail_on_each_fault_and_say_what_they_are(capsys):
    ch09.sparse_kernels_stored(5, 5, "built-in kernels", 0.9)
    first, *sanity = lines(capsys)
    assert first.startswith("✔") and "sanity" not in first
    assert len(sanity) == 2
    assert all(line.startswith("✘ NOT MET: sanity check") for line in sanity)


def test_sparse_verdict_rejects_bad_input():
    with pytest.raises(TypeError, match="sparse_tensors"):
        ch09.sparse_kernels_stored(2.5, 5, "XNNPACK", 1.0)
    with pytest.raises(ValueError, match="nothing was pruned"):
        ch09.sparse_kernels_stored(0, 0, "XNNPACK", 1.0)
    with pytest.raises(TypeError, match="runtime"):
        ch09.sparse_kernels_stored(5, 5, None, 1.0)
    with pytest.raises(ValueError, match="agreement"):
        ch09.sparse_kernels_stored(5, 5, "XNNPACK", 99.0)
