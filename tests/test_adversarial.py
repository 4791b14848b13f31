"""Tests for utils.adversarial: FGSM, PGD, robust accuracy, adversarial training."""

import numpy as np
import pytest

import utils
from utils import adversarial, metrics, models, pruning

EPS = 0.1


@pytest.fixture(scope="module")
def batch(digits):
    return digits.x_test[:64], digits.y_test[:64]


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
@pytest.mark.parametrize("eps", [0.03, 0.1, 0.3])
def test_perturbation_within_budget_and_valid_range(trained_cnn, batch, attack, eps):
    x, y = batch
    kwargs = {"alpha": eps / 4, "steps": 5} if attack == "pgd" else {}
    x_adv = adversarial.ATTACKS[attack](trained_cnn, x, y, eps, **kwargs)
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32
    assert np.max(np.abs(x_adv - x)) <= eps + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert np.max(np.abs(x_adv - x)) > 0.5 * eps  # the budget is actually used
    assert not np.shares_memory(x_adv, x)


def test_fgsm_is_one_signed_step(trained_cnn, batch):
    x, y = batch
    grad = adversarial.input_gradient(trained_cnn, x, y)
    expected = np.clip(x + EPS * np.sign(grad), 0, 1)
    np.testing.assert_allclose(adversarial.fgsm(trained_cnn, x, y, EPS), expected, atol=1e-6)


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_eps_zero_changes_nothing(trained_cnn, batch, attack):
    x, y = batch
    kwargs = {"alpha": 0.01, "steps": 3} if attack == "pgd" else {}
    np.testing.assert_array_equal(adversarial.ATTACKS[attack](trained_cnn, x, y, 0.0, **kwargs), x)
    clean = metrics.accuracy(trained_cnn, x, y)
    assert adversarial.robust_accuracy(trained_cnn, x, y, attack, 0.0, **kwargs) == pytest.approx(clean)


def test_gradient_is_not_masked_on_confident_predictions(trained_cnn, digits):
    """A log(clip(p)) loss would give exactly zero gradients for p ≈ 1; the logits path does not."""
    x, y = digits.x_test[:128], digits.y_test[:128]
    confident = metrics.predict_proba(trained_cnn, x).max(axis=1) > 0.999
    assert confident.any()
    grad = adversarial.input_gradient(trained_cnn, x[confident], y[confident])
    assert np.all(np.abs(grad).reshape(len(grad), -1).max(axis=1) > 0)


def test_pgd_at_least_as_strong_as_fgsm(trained_cnn, digits):
    x, y = digits.x_test[:200], digits.y_test[:200]
    clean = metrics.accuracy(trained_cnn, x, y)
    fgsm_acc = adversarial.robust_accuracy(trained_cnn, x, y, "fgsm", EPS)
    pgd_acc = adversarial.robust_accuracy(trained_cnn, x, y, "pgd", EPS, alpha=EPS / 4, steps=10)
    assert fgsm_acc < clean
    assert pgd_acc <= fgsm_acc


def test_restarts_never_weaken_pgd(trained_cnn, digits):
    x, y = digits.x_test[:200], digits.y_test[:200]
    one = adversarial.robust_accuracy(trained_cnn, x, y, "pgd", 0.05, alpha=0.01, steps=5, seed=3)
    three = adversarial.robust_accuracy(trained_cnn, x, y, "pgd", 0.05, alpha=0.01, steps=5, seed=3,
                                        restarts=3)
    assert three <= one


def test_pgd_is_reproducible_with_a_seed(trained_cnn, batch):
    x, y = batch
    a = adversarial.pgd(trained_cnn, x, y, EPS, alpha=0.02, steps=3, seed=7)
    b = adversarial.pgd(trained_cnn, x, y, EPS, alpha=0.02, steps=3, seed=7)
    np.testing.assert_array_equal(a, b)


def test_attacks_work_on_a_pruned_stripped_model(trained_cnn, digits):
    utils.set_seed(0)
    sparse = pruning.gradual_prune(trained_cnn, digits, final_sparsity=0.8, epochs=2, batch_size=64,
                                   frequency=5)
    assert pruning.global_sparsity(sparse) == pytest.approx(0.8, abs=0.01)
    x, y = digits.x_test[:128], digits.y_test[:128]
    clean = metrics.accuracy(sparse, x, y)
    pgd_acc = adversarial.robust_accuracy(sparse, x, y, "pgd", EPS, alpha=EPS / 4, steps=10)
    fgsm_acc = adversarial.robust_accuracy(sparse, x, y, "fgsm", EPS)
    assert clean > 0.5
    assert pgd_acc < clean - 0.2
    assert fgsm_acc < clean


def test_robust_accuracy_accepts_a_function(trained_cnn, batch):
    x, y = batch

    def identity_attack(model, x, y, eps):
        return x

    assert adversarial.robust_accuracy(trained_cnn, x, y, identity_attack, EPS) == pytest.approx(
        metrics.accuracy(trained_cnn, x, y))


def test_samples_average_is_a_no_op_for_a_deterministic_model(trained_cnn, batch):
    x, y = batch
    np.testing.assert_allclose(adversarial.input_gradient(trained_cnn, x, y, samples=3),
                               adversarial.input_gradient(trained_cnn, x, y), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("call, error", [
    (lambda m, x, y: adversarial.fgsm(m, x * 2 + 0.5, y, EPS), ValueError),      # outside [0, 1]
    (lambda m, x, y: adversarial.fgsm(m, x, y, -0.1), ValueError),               # negative budget
    (lambda m, x, y: adversarial.fgsm(m, x, y, "0.1"), TypeError),
    (lambda m, x, y: adversarial.fgsm(m, x, y[:-1], EPS), ValueError),            # one label short
    (lambda m, x, y: adversarial.fgsm(m, x, y.astype(float), EPS), TypeError),
    (lambda m, x, y: adversarial.pgd(m, x, y, EPS, alpha=0, steps=3), ValueError),
    (lambda m, x, y: adversarial.pgd(m, x, y, EPS, alpha=0.01, steps=0), ValueError),
    (lambda m, x, y: adversarial.robust_accuracy(m, x, y, "cw", EPS), ValueError),
    (lambda m, x, y: adversarial.fgsm("model", x, y, EPS), TypeError),
])
def test_bad_input_is_rejected(trained_cnn, batch, call, error):
    x, y = batch
    with pytest.raises(error):
        call(trained_cnn, x, y)


def test_adversarial_training_buys_robustness(trained_mlp, digits):
    """Adversarial fine-tuning of a trained MLP: it resists FGSM much better than before."""
    x, y = digits.x_test, digits.y_test
    robust = pruning.copy_model(trained_mlp)
    utils.set_seed(0)
    history = adversarial.adversarial_train(robust, digits, eps=EPS, epochs=6, batch_size=64)
    assert len(history.history["loss"]) == 6
    assert metrics.accuracy(robust, x, y) > 0.7
    assert (adversarial.robust_accuracy(robust, x, y, "fgsm", EPS)
            > adversarial.robust_accuracy(trained_mlp, x, y, "fgsm", EPS) + 0.15)


def test_adversarial_train_options(digits):
    model = models.mlp((16,))
    before = [w.copy() for w in model.get_weights()]
    adversarial.adversarial_train(model, digits, eps=EPS, epochs=1, attack="pgd", steps=2, batch_size=128)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    with pytest.raises(ValueError, match="fgsm"):
        adversarial.adversarial_train(model, digits, eps=EPS, epochs=1, attack="deepfool")
    with pytest.raises(ValueError):
        adversarial.adversarial_train(model, digits, eps=2.0, epochs=1)


@pytest.mark.parametrize("eps", [0.0, EPS])
def test_prune_and_fine_tune_keeps_the_mask(trained_mlp, digits, eps):
    before = [w.copy() for w in trained_mlp.get_weights()]
    one_shot = pruning.prune_weights(trained_mlp, 0.7, scope="global")
    utils.set_seed(0)
    sparse = adversarial.prune_and_fine_tune(trained_mlp, digits, sparsity=0.7, epochs=2, eps=eps,
                                             batch_size=128)
    assert all(np.array_equal(a, b) for a, b in zip(before, trained_mlp.get_weights()))
    assert pruning.global_sparsity(sparse) == pytest.approx(0.7, abs=0.002)
    for layer in pruning.prunable_layers(sparse):      # same zeros as the one-shot mask: nothing regrew
        expected = one_shot.get_layer(layer.name).kernel.numpy() == 0
        np.testing.assert_array_equal(layer.kernel.numpy() == 0, expected)
    changed = any(not np.array_equal(a, b) for a, b in zip(one_shot.get_weights(), sparse.get_weights()))
    assert changed                                      # it was fine-tuned
    assert metrics.accuracy(sparse, digits.x_test, digits.y_test) > 0.8


def test_prune_and_fine_tune_rejects_attack_options_without_eps(trained_mlp, digits):
    with pytest.raises(ValueError, match="adversarial"):
        adversarial.prune_and_fine_tune(trained_mlp, digits, sparsity=0.5, epochs=1, attack="pgd")


# ------------------------------------------------------------------ the Lab 07 self-check
def test_exercise_7_1_passes_the_reference(trained_cnn, batch, capsys):
    from utils import checks

    checks.exercise_7_1(adversarial.fgsm, trained_cnn, *batch)
    out = capsys.readouterr().out
    assert "✘" not in out and "all checks passed" in out


def test_exercise_7_1_catches_common_mistakes(trained_cnn, batch, capsys):
    from utils import checks

    def downhill(model, x, y, eps):       # the sign of the step is wrong
        return np.clip(x - eps * np.sign(adversarial.input_gradient(model, x, y)), 0, 1)

    def raw_gradient(model, x, y, eps):   # eps · gradient instead of eps · sign(gradient)
        return np.clip(x + eps * adversarial.input_gradient(model, x, y), 0, 1)

    def unclipped(model, x, y, eps):
        return x + eps * np.sign(adversarial.input_gradient(model, x, y))

    checks.exercise_7_1(downhill, trained_cnn, *batch)
    assert "uphill" in capsys.readouterr().out
    checks.exercise_7_1(raw_gradient, trained_cnn, *batch)
    assert "✘ only" in capsys.readouterr().out
    checks.exercise_7_1(unclipped, trained_cnn, *batch)
    assert "clip to [0, 1]" in capsys.readouterr().out

    def stub(model, x, y, eps):
        raise NotImplementedError("Exercise 7.1: replace this line with your code")

    checks.exercise_7_1(stub, trained_cnn, *batch)
    assert "not done yet" in capsys.readouterr().out


def test_adversarial_train_applies_class_weights(digits):
    """Tiny class weights scale the loss to almost nothing, so Adam's steps (m / (√v + ε)) vanish."""
    with pytest.raises(ValueError, match="positive"):
        adversarial.adversarial_train(models.mlp((8,)), digits, eps=0.1, epochs=1,
                                      class_weight={c: 0.0 for c in range(10)})
    moved = {}
    for label, weights in (("tiny", {c: 1e-30 for c in range(10)}), ("none", None)):
        utils.set_seed(0)
        model = models.mlp((8,))
        before = model.get_weights()
        adversarial.adversarial_train(model, digits, eps=0.1, epochs=1, class_weight=weights)
        moved[label] = max(np.abs(a - b).max() for a, b in zip(model.get_weights(), before))
    assert moved["tiny"] < 1e-6 < 1e-3 < moved["none"]


# ------------------------------------------------------------------ one PGD iteration, one training step
def test_pgd_step_is_a_signed_step_projected_on_ball_and_range(trained_cnn, batch):
    x, y = batch
    x_adv = adversarial.fgsm(trained_cnn, x, y, EPS)                 # on the ball's surface
    grad = adversarial.input_gradient(trained_cnn, x_adv, y)
    expected = np.clip(np.clip(x_adv + 0.04 * np.sign(grad), x - EPS, x + EPS), 0, 1)
    result = adversarial.pgd_step(trained_cnn, x_adv, x, y, EPS, 0.04)
    np.testing.assert_allclose(result, expected, atol=1e-6)
    assert np.max(np.abs(result - x)) <= EPS + 1e-6 and result.min() >= 0 and result.max() <= 1


def test_pgd_with_the_reference_step_matches_the_built_in_iteration(trained_cnn, batch):
    x, y = batch
    built_in = adversarial.pgd(trained_cnn, x, y, EPS, alpha=0.025, steps=5)
    stepped = adversarial.pgd(trained_cnn, x, y, EPS, alpha=0.025, steps=5, step=adversarial.pgd_step)
    assert np.mean(np.abs(built_in - stepped) < 1e-4) > 0.99
    with pytest.raises(ValueError, match="range"):
        adversarial.pgd(trained_cnn, x, y, EPS, alpha=0.025, steps=5, step=adversarial.pgd_step, samples=2)
    with pytest.raises(TypeError, match="step"):
        adversarial.pgd(trained_cnn, x, y, EPS, alpha=0.025, steps=5, step="pgd")


def test_adversarial_train_step_trains_on_the_attacked_batch(trained_cnn, batch):
    x, y = batch
    model = pruning.copy_model(trained_cnn)
    before = [w.copy() for w in model.get_weights()]
    loss = adversarial.adversarial_train_step(model, utils.keras.optimizers.Adam(1e-3), x, y, EPS)
    clean = float(np.mean(utils.keras.losses.sparse_categorical_crossentropy(y, trained_cnn(x)).numpy()))
    assert np.isfinite(loss) and loss > clean                        # the adversarial batch is harder
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_adversarial_fit_keeps_masks_and_raises_robustness(trained_cnn, digits, batch):
    x, y = batch
    pruned = pruning.prune_weights(trained_cnn, 0.5)
    masks = utils._core.kernel_masks(pruned)
    utils.set_seed(0)
    history = adversarial.adversarial_fit(pruned, digits, eps=EPS, epochs=1, masks=masks)
    assert len(history) == 1 and np.isfinite(history[0])
    for name, mask in masks.items():
        assert np.all(pruned.get_layer(name).kernel.numpy()[~mask] == 0)
    with pytest.raises(TypeError, match="train_step"):
        adversarial.adversarial_fit(pruned, digits, eps=EPS, epochs=1, train_step=None)


def test_prune_and_fine_tune_accepts_a_train_step(trained_mlp, digits):
    tuned = adversarial.prune_and_fine_tune(trained_mlp, digits, sparsity=0.5, epochs=1, eps=EPS,
                                            train_step=adversarial.adversarial_train_step)
    assert pruning.global_sparsity(tuned) == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ValueError, match="train_step"):
        adversarial.prune_and_fine_tune(trained_mlp, digits, sparsity=0.5, epochs=1,
                                        train_step=adversarial.adversarial_train_step)
