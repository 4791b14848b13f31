"""Tests for utils.privacy: membership inference, DP-SGD and the privacy accountant."""

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import utils
from utils import keras, metrics, models, privacy, tf, training


def _small_mlp(seed=0):
    utils.set_seed(seed)
    return models.mlp((16,))


def _flat(grads):
    return np.concatenate([np.reshape(g, (g.shape[0], -1)) for g in grads], axis=1)


# ------------------------------------------------------------------ clipping and noise

def test_clipping_bounds_every_examples_whole_gradient(digits):
    model = _small_mlp()
    x, y = digits.x_train[:12], digits.y_train[:12]
    per_example = privacy.per_example_gradients(model, tf.constant(x), tf.constant(y))
    raw = _flat([g.numpy() for g in per_example])
    clip = 0.5 * float(np.median(np.linalg.norm(raw, axis=1)))  # some examples above, some below
    clipped, norms = privacy.clip_gradients(per_example, clip)
    clipped = _flat([g.numpy() for g in clipped])
    new_norms = np.linalg.norm(clipped, axis=1)
    assert np.allclose(norms.numpy(), np.linalg.norm(raw, axis=1), rtol=1e-4)
    assert np.all(new_norms <= clip * (1 + 1e-5))
    small = np.linalg.norm(raw, axis=1) <= clip
    assert np.allclose(clipped[small], raw[small])            # short gradients untouched
    cosine = np.sum(clipped * raw, axis=1) / (new_norms * np.linalg.norm(raw, axis=1))
    assert np.allclose(cosine, 1.0, atol=1e-5)                # direction kept


def test_one_example_changes_the_clipped_sum_by_at_most_the_clip_norm(digits):
    model = _small_mlp()
    x, y = digits.x_train[:10], digits.y_train[:10]
    clip = 0.1
    full = privacy.privatize(privacy.per_example_gradients(model, tf.constant(x), tf.constant(y)),
                             l2_norm_clip=clip, noise_multiplier=0.0, expected_batch_size=1.0)
    without = privacy.privatize(privacy.per_example_gradients(model, tf.constant(x[1:]), tf.constant(y[1:])),
                                l2_norm_clip=clip, noise_multiplier=0.0, expected_batch_size=1.0)
    difference = np.concatenate([(a - b).numpy().ravel() for a, b in zip(full, without)])
    assert np.linalg.norm(difference) <= clip * (1 + 1e-5)


def test_noise_has_standard_deviation_sigma_times_clip_over_batch():
    shapes = [(300, 100), (100,)]
    per_example = [tf.zeros((4,) + s) for s in shapes]  # all-zero gradients: the output is pure noise
    generator = tf.random.Generator.from_seed(1)
    noisy = privacy.privatize(per_example, l2_norm_clip=0.5, noise_multiplier=2.0, expected_batch_size=4.0,
                              generator=generator)
    values = np.concatenate([g.numpy().ravel() for g in noisy])
    expected = 2.0 * 0.5 / 4.0
    assert len(noisy) == 2 and noisy[0].shape == shapes[0]
    assert abs(values.std() - expected) < 0.02 * expected       # 30,100 samples: sd error ~0.4 %
    assert abs(values.mean()) < 5 * expected / math.sqrt(values.size)


def test_dp_step_without_noise_and_clipping_is_plain_sgd(digits):
    x, y = digits.x_train[:16], digits.y_train[:16]
    dp_model = _small_mlp()
    sgd_model = keras.models.clone_model(dp_model)
    sgd_model.set_weights(dp_model.get_weights())
    privacy.dp_sgd_step(dp_model, keras.optimizers.SGD(0.5), x, y, l2_norm_clip=None, noise_multiplier=0.0,
                        expected_batch_size=len(x))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, sgd_model(x, training=True)))
    grads = tape.gradient(loss, sgd_model.trainable_variables)
    keras.optimizers.SGD(0.5).apply_gradients(zip(grads, sgd_model.trainable_variables))
    for a, b in zip(dp_model.get_weights(), sgd_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_noise_is_fresh_at_every_step(digits):
    """Independent noise: the weights' random walk grows like the square root of the steps."""
    x, y = digits.x_train[:20], digits.y_train[:20]
    spreads = []
    for epochs in (1, 4):
        model = _small_mlp()
        before = np.concatenate([w.ravel() for w in model.get_weights()])
        privacy.dp_sgd_train(model, (x, y), l2_norm_clip=1.0, noise_multiplier=1000.0, batch_size=5,
                             epochs=epochs, learning_rate=1.0)
        spreads.append(np.std(np.concatenate([w.ravel() for w in model.get_weights()]) - before))
    assert spreads[0] == pytest.approx(1000.0 / 5 * 2, rel=0.05)   # 4 steps of std 200
    assert spreads[1] / spreads[0] == pytest.approx(2.0, rel=0.05)  # 16 steps: twice the spread


def test_dp_sgd_train_learns_and_reports_its_run(digits):
    model = _small_mlp()
    log = privacy.dp_sgd_train(model, digits, l2_norm_clip=1.0, noise_multiplier=0.5, batch_size=64,
                               epochs=3, learning_rate=0.5)
    assert log.n == len(digits.y_train) and log.steps == privacy.dp_steps(log.n, 64, 3)
    assert log.sample_rate == pytest.approx(64 / log.n)
    assert np.mean(log.losses[-5:]) < np.mean(log.losses[:5])
    accuracy = np.mean(np.argmax(model(digits.x_test).numpy(), 1) == digits.y_test)
    assert accuracy > 0.5


def test_dp_sgd_train_prints_no_autograph_warning(digits, capfd):
    """Both step functions are traced without AutoGraph: no "could not transform" warning in a notebook."""
    data = (digits.x_train[:60], digits.y_train[:60])
    privacy.dp_sgd_train(_small_mlp(), data, l2_norm_clip=1.0, noise_multiplier=1.0, batch_size=20, epochs=1)
    privacy.dp_sgd_train(_small_mlp(), data, l2_norm_clip=1.0, noise_multiplier=1.0, batch_size=20, epochs=1,
                         gradient_fn=privacy.dp_sgd_gradient, freeze_zeros=True)
    captured = capfd.readouterr()
    assert "AutoGraph" not in captured.out + captured.err


def test_freeze_zeros_keeps_pruned_weights_at_zero(digits):
    model = _small_mlp()
    kernel = model.get_layer("dense1").kernel
    kernel.assign(kernel * tf.cast(tf.random.uniform(kernel.shape) > 0.7, kernel.dtype))
    zeros = kernel.numpy() == 0
    privacy.dp_sgd_train(model, (digits.x_train[:200], digits.y_train[:200]), l2_norm_clip=1.0,
                         noise_multiplier=1.0, batch_size=20, epochs=1, freeze_zeros=True)
    assert np.all(model.get_layer("dense1").kernel.numpy()[zeros] == 0)


def test_dp_sgd_refuses_batch_norm(digits):
    with pytest.raises(ValueError, match="BatchNormalization"):
        privacy.dp_sgd_train(models.small_cnn((4,), batch_norm=True),
                             (digits.x_train[:20], digits.y_train[:20]),
                             l2_norm_clip=1.0, noise_multiplier=1.0, batch_size=5, epochs=1)


@pytest.mark.parametrize("kwargs, error", [
    (dict(l2_norm_clip=0.0), ValueError), (dict(l2_norm_clip=None), ValueError),
    (dict(noise_multiplier=-1.0), ValueError), (dict(batch_size=0), ValueError),
    (dict(batch_size=10_000), ValueError), (dict(epochs=0), ValueError),
    (dict(sampling="random"), ValueError), (dict(optimizer="rmsprop"), ValueError),
    (dict(noise_multiplier="1"), TypeError), (dict(l2_norm_clip=math.inf), ValueError),
    (dict(batch_size=2.5), TypeError), (dict(epochs=True), TypeError), (dict(optimizer=3), TypeError),
])
def test_dp_sgd_train_rejects_bad_arguments(digits, kwargs, error):
    arguments = dict(l2_norm_clip=1.0, noise_multiplier=1.0, batch_size=10, epochs=1)
    arguments.update(kwargs)
    with pytest.raises(error):
        privacy.dp_sgd_train(_small_mlp(), (digits.x_train[:50], digits.y_train[:50]), **arguments)


# ------------------------------------------------------------------ accountant

def test_epsilon_falls_with_noise_and_grows_with_epochs():
    by_noise = [privacy.dp_epsilon(600, 60, sigma, 10, 1e-5) for sigma in (0.8, 1.0, 1.5, 3.0)]
    by_epochs = [privacy.dp_epsilon(600, 60, 1.0, epochs, 1e-5) for epochs in (1, 5, 10, 30)]
    assert all(a > b for a, b in zip(by_noise, by_noise[1:]))
    assert all(a < b for a, b in zip(by_epochs, by_epochs[1:]))
    assert 5.0 < privacy.dp_epsilon(600, 60, 1.0, 10, 1e-5) < 10.0
    assert privacy.dp_epsilon(600, 60, 0.0, 10, 1e-5) == math.inf


def test_epsilon_grows_when_delta_shrinks():
    assert privacy.dp_epsilon(1000, 100, 1.0, 5, 1e-7) > privacy.dp_epsilon(1000, 100, 1.0, 5, 1e-3)


@pytest.mark.parametrize("args", [(0, 10, 1.0, 1, 1e-5), (100, 200, 1.0, 1, 1e-5), (100, 10, -1.0, 1, 1e-5),
                                  (100, 10, 1.0, 0, 1e-5), (100, 10, 1.0, 1, 0.0), (100, 10, 1.0, 1, 1.5)])
def test_epsilon_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        privacy.dp_epsilon(*args)


@pytest.mark.parametrize("args", [
    (100.0, 10, 1.0, 1, 1e-5), (100, True, 1.0, 1, 1e-5), (100, 10, "1", 1, 1e-5),
    (100, 10, 1.0, 1.5, 1e-5), (100, 10, 1.0, 1, None)])
def test_epsilon_rejects_arguments_of_the_wrong_type(args):
    with pytest.raises(TypeError):
        privacy.dp_epsilon(*args)


# ------------------------------------------------------------------ membership inference

def test_attack_is_chance_on_data_the_model_never_saw(digits, trained_mlp):
    unseen_x = np.concatenate([digits.x_val, digits.x_test])
    unseen_y = np.concatenate([digits.y_val, digits.y_test])
    rng = np.random.default_rng(0)
    order = rng.permutation(len(unseen_y))
    a, b = order[:270], order[270:540]
    for method in ("loss", "confidence"):
        result = privacy.membership_inference(trained_mlp, (unseen_x[a], unseen_y[a]),
                                              (unseen_x[b], unseen_y[b]), method=method)
        assert abs(result.auc - 0.5) < 0.08, result


def test_attack_finds_memorised_random_labels(digits):
    rng = np.random.default_rng(0)
    x = digits.x_train[:128]
    y = rng.integers(0, 10, 128)
    members, non_members = (x[:64], y[:64]), (x[64:], y[64:])
    utils.set_seed(0)
    model = models.mlp((128,))
    training.compile_model(model, learning_rate=3e-3)
    model.fit(members[0], members[1], epochs=150, batch_size=16, verbose=0)
    result = privacy.membership_inference(model, members, non_members)
    assert result.auc > 0.95 and result.advantage > 0.8
    assert result.fpr[0] == 0 and result.fpr[-1] == 1 and np.all(np.diff(result.fpr) >= 0)


def test_roc_summaries_on_known_scores():
    members = np.arange(100, 200, dtype=float)            # 100 members, scores 100..199
    non_members = np.r_[np.arange(0, 99, dtype=float), 150.0]  # 99 below every member, one at 150
    result = privacy._roc_summary(members, non_members, "loss")
    assert result.tpr_at_1_fpr == pytest.approx(1.0)      # threshold 100: FPR 1/100, TPR 1
    assert result.advantage == pytest.approx(0.99)
    assert result.auc == pytest.approx(1 - 50.5 / 10_000)  # 50 members below the outlier, 1 tie (counts ½)
    strict = privacy._roc_summary(members, np.r_[np.arange(0, 98.0), 150.0, 160.0], "loss")
    assert strict.tpr_at_1_fpr == pytest.approx(0.49)      # FPR <= 1 %: only 160 may pass; TPR = 49/100


def test_auc_standard_error():
    assert privacy.auc_standard_error(0.5, 100, 100) == pytest.approx(0.041, abs=0.001)
    assert privacy.auc_standard_error(0.5, 600, 600) < privacy.auc_standard_error(0.5, 100, 100)
    assert privacy.auc_standard_error(1.0, 50, 50) == 0.0
    with pytest.raises(ValueError, match="auc"):
        privacy.auc_standard_error(1.2, 10, 10)
    with pytest.raises(ValueError, match="n_members must be a positive int"):
        privacy.auc_standard_error(0.5, 0, 10)
    with pytest.raises(TypeError, match="n_non_members"):
        privacy.auc_standard_error(0.5, 10, 10.0)


def _saturating(kind):
    """``softmax(60 x_0, 0)`` built four ways: the float32 softmax of every one rounds to 1.0."""
    inputs = keras.Input((2,))
    if kind == "sequential":
        model = keras.Sequential([inputs, keras.layers.Dense(2, activation="softmax")])
    elif kind == "functional":
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    elif kind == "softmax layer":
        model = keras.Sequential([inputs, keras.layers.Dense(2), keras.layers.Softmax()])
    else:  # "logits": the model outputs the logits themselves
        model = keras.Sequential([inputs, keras.layers.Dense(2)])
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][0]
    dense.set_weights([np.array([[60.0, 0.0], [0.0, 0.0]]), np.zeros(2)])
    return model


@pytest.mark.parametrize("kind", ["sequential", "functional", "softmax layer", "logits"])
def test_scores_stay_distinct_when_float32_softmax_saturates(kind):
    model = _saturating(kind)
    x = np.array([[1.0, 0.0], [1.2, 0.0], [1.5, 0.0]], np.float32)
    y = np.zeros(3, np.int64)
    assert np.all(metrics.predict_proba(model, x)[:, 0] == 1.0)   # float32 says: loss exactly 0 for all three
    scores = privacy.membership_scores(model, x, y)        # -loss = -log(1 + e^{-60 x})
    assert np.all(np.diff(scores) > 0)
    # a softmax Dense layer is recomputed in float64; logits made by a float32 layer carry ~1e-6 error
    rtol = 1e-5 if kind in ("logits", "softmax layer") else 1e-6
    np.testing.assert_allclose(scores, -np.exp(-60 * x[:, 0].astype(float)), rtol=rtol)


def test_per_class_table(digits, trained_mlp):
    members = (digits.x_train[:200], digits.y_train[:200])
    non_members = (digits.x_test[:200], digits.y_test[:200])
    table = privacy.membership_inference_per_class(trained_mlp, members, non_members)
    assert list(table.columns) == ["class", "members", "non_members", "auc", "advantage"]
    assert len(table) == 10 and table.members.sum() == 200
    scores_in = privacy.membership_scores(trained_mlp, *members)
    scores_out = privacy.membership_scores(trained_mlp, *non_members)
    for c in range(10):   # each row is scikit-learn's AUC on that class's scores alone
        s_in, s_out = scores_in[members[1] == c], scores_out[non_members[1] == c]
        assert table.members[c] == len(s_in) and table.non_members[c] == len(s_out)
        expected = roc_auc_score(np.r_[np.ones(len(s_in)), np.zeros(len(s_out))], np.r_[s_in, s_out])
        assert table.auc[c] == pytest.approx(expected)
    tiny = privacy.membership_inference_per_class(trained_mlp, (members[0][:3], np.array([0, 0, 1])),
                                                  (non_members[0][:3], np.array([0, 0, 1])), num_classes=3)
    assert not np.isnan(tiny.auc[0]) and np.isnan(tiny.auc[1]) and np.isnan(tiny.auc[2])   # < 2 examples


def test_membership_inference_rejects_bad_arguments(digits, trained_mlp):
    pair = (digits.x_test[:10], digits.y_test[:10])
    with pytest.raises(ValueError, match="method"):
        privacy.membership_inference(trained_mlp, pair, pair, method="entropy")
    with pytest.raises(ValueError, match="same length"):
        privacy.membership_inference(trained_mlp, (digits.x_test[:10], digits.y_test[:9]), pair)
    with pytest.raises(TypeError, match="integer class labels"):
        privacy.membership_inference(trained_mlp, (digits.x_test[:10], digits.y_test[:10] * 1.0), pair)
    with pytest.raises(TypeError, match="pair"):
        privacy.membership_inference(trained_mlp, digits.x_test[:10], pair)
    with pytest.raises(ValueError, match="labels in"):
        privacy.membership_inference(trained_mlp, (digits.x_test[:10], digits.y_test[:10] + 10), pair)
    with pytest.raises(ValueError, match="empty"):
        privacy.membership_inference(trained_mlp, (digits.x_test[:0], digits.y_test[:0]), pair)
    with pytest.raises(ValueError, match="num_classes"):
        privacy.membership_inference_per_class(trained_mlp, pair, pair, num_classes=3)
    # a model that outputs logits, declared to output probabilities: refused, with the fix
    linear = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(ValueError, match="pass from_logits=True"):
        privacy.membership_inference(linear, pair, pair, from_logits=False)


# ------------------------------------------------------------------ Lab 05 self-checks


def test_loss_threshold_roc_matches_sklearn():
    rng = np.random.default_rng(0)
    members, non_members = rng.exponential(0.5, 40), rng.exponential(1.0, 50)
    fpr, tpr, auc = privacy.loss_threshold_roc(members, non_members)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert auc == pytest.approx(roc_auc_score(np.r_[np.ones(40), np.zeros(50)], -np.r_[members, non_members]))
    assert privacy.loss_threshold_roc([0.1, 0.5, 0.5], [0.5, 0.9])[2] == pytest.approx(5 / 6)  # ties count ½
    with pytest.raises(ValueError, match="at least one"):
        privacy.loss_threshold_roc([], [0.1])


def test_membership_inference_with_a_given_roc_gives_the_same_summaries(digits, trained_mlp):
    members = (digits.x_train[:60], digits.y_train[:60])
    non_members = (digits.x_test[:60], digits.y_test[:60])
    default = privacy.membership_inference(trained_mlp, members, non_members)
    given = privacy.membership_inference(trained_mlp, members, non_members, roc=privacy.loss_threshold_roc)
    assert given.auc == pytest.approx(default.auc)
    assert given.advantage == pytest.approx(default.advantage)
    assert given.tpr_at_1_fpr == pytest.approx(default.tpr_at_1_fpr)
    table = privacy.membership_inference_per_class(trained_mlp, members, non_members,
                                                   roc=privacy.loss_threshold_roc)
    np.testing.assert_allclose(table.auc, privacy.membership_inference_per_class(trained_mlp, members,
                                                                                 non_members).auc)


def test_dp_sgd_gradient_is_privatize_with_the_noise_given():
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(6, 3, 2)).astype(np.float32), rng.normal(size=(6, 2)).astype(np.float32)]
    noise = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    before = [g.copy() for g in grads]
    got = privacy.dp_sgd_gradient(grads, noise, 1.0, 0.7, 4.0)
    assert all(np.array_equal(a, b) for a, b in zip(grads, before))
    clipped, _ = privacy.clip_gradients([tf.constant(g) for g in grads], 1.0)
    for g, c, z in zip(got, clipped, noise):
        np.testing.assert_allclose(g, (np.sum(c.numpy(), axis=0) + 0.7 * z) / 4.0, rtol=1e-5, atol=1e-6)


def test_dp_sgd_train_with_a_numpy_gradient_fn_learns_and_is_reproducible(digits):
    data = (digits.x_train[:200], digits.y_train[:200])
    runs = []
    for _ in range(2):
        model = _small_mlp()
        log = privacy.dp_sgd_train(model, data, l2_norm_clip=1.0, noise_multiplier=0.5, batch_size=40,
                                   epochs=3, learning_rate=0.5, seed=3, gradient_fn=privacy.dp_sgd_gradient)
        runs.append([w.copy() for w in model.get_weights()])
    assert log.steps == 15 and log.losses[-1] < log.losses[0]
    assert all(np.array_equal(a, b) for a, b in zip(*runs))
    calls = []

    def no_noise(per_example, noise, c, sigma, b):
        calls.append(len(per_example))
        return privacy.dp_sgd_gradient(per_example, [0 * z for z in noise], c, sigma, b)

    model = _small_mlp()
    privacy.dp_sgd_train(model, data, l2_norm_clip=1.0, noise_multiplier=0.5, batch_size=40, epochs=1,
                         gradient_fn=no_noise, freeze_zeros=True)
    assert len(calls) == 5
