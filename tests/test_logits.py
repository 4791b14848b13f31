"""Logits or probabilities, everywhere (issue 15, item 5).

Every public function of ``utils`` that takes a classifier must give the same answer for a
model that ends in a softmax and for its *logits twin*: the same weights, but a linear last
layer (the common ``from_logits=True`` Keras setup). The two compute the same function, so any
difference is a function that treats logits as probabilities (or the reverse) — the silent
wrong answer of the issue. A model whose last layer is neither softmax nor linear must be
refused with a clear error that names ``from_logits``, and work once ``from_logits`` is given.

The models are tiny and the arrays small, so that the whole file runs in well under a minute.
"""

import numpy as np
import pytest

import utils
from utils import (
    adversarial,
    audit,
    backdoor,
    binary,
    calibration,
    data,
    dynamic,
    keras,
    metrics,
    patch,
    privacy,
    tf,
    training,
)
from utils._core import copy_model, outputs_logits

EPS = 0.1


# ------------------------------------------------------------------ the models

def logits_twin(model):
    """The same Sequential model with a linear last layer: it outputs the logits of ``model``."""
    config = model.get_config()
    config["layers"][-1]["config"]["activation"] = "linear"
    twin = keras.Sequential.from_config(config)
    twin.set_weights(model.get_weights())
    return twin


def lambda_softmax(model):
    """``model``'s function again, its softmax hidden in a Lambda layer: the kind cannot be detected."""
    twin = logits_twin(model)
    return keras.Sequential([keras.Input(model.input_shape[1:]), *twin.layers,
                             keras.layers.Lambda(tf.nn.softmax, name="hidden_softmax")])


def sigmoid_model(outputs=10):
    utils.set_seed(1)
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(outputs, activation="sigmoid", name="output")])


def tiny_cnn():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
        keras.layers.MaxPooling2D(4, name="pool"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(10, activation="softmax", name="output"),
    ])


@pytest.fixture(scope="module")
def small(digits):
    """600 training, 200 validation and 200 test digits."""
    return data.Dataset(digits.x_train[:600], digits.y_train[:600], digits.x_val[:200], digits.y_val[:200],
                        digits.x_test[:200], digits.y_test[:200], digits.class_names, "digits-small")


@pytest.fixture(scope="module")
def softmax_cnn(small):
    utils.set_seed(0)
    model = tiny_cnn()
    training.train(model, small, epochs=5, batch_size=32, learning_rate=3e-3)
    return model


@pytest.fixture(scope="module")
def twin(softmax_cnn):
    return logits_twin(softmax_cnn)


@pytest.fixture(scope="module")
def batch(small):
    return small.x_test[:64], small.y_test[:64]


@pytest.fixture(scope="module")
def tiny(small):
    """128 training, 64 validation examples: enough for a few training steps to compare."""
    return data.Dataset(small.x_train[:128], small.y_train[:128], small.x_val[:64], small.y_val[:64],
                        small.x_test[:64], small.y_test[:64], small.class_names, "digits-tiny")


@pytest.fixture(scope="module")
def mlps():
    """An untrained softmax MLP and its logits twin, for the training comparisons (no accuracy needed)."""
    utils.set_seed(0)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(10, activation="softmax", name="output")])
    return model, logits_twin(model)


def test_the_twins_are_two_kinds_of_the_same_function(softmax_cnn, twin, batch):
    x, y = batch
    assert outputs_logits(softmax_cnn) is False and outputs_logits(twin) is True
    np.testing.assert_allclose(tf.nn.softmax(twin(x)).numpy(), softmax_cnn(x).numpy(), atol=1e-6)
    assert 0.6 < metrics.accuracy(softmax_cnn, x, y) < 1.0   # trained, with mistakes for calibration


# ------------------------------------------------------------------ metrics

def test_metrics(softmax_cnn, twin, small):
    x, y = small.x_test, small.y_test
    np.testing.assert_allclose(metrics.predict_proba(twin, x), metrics.predict_proba(softmax_cnn, x),
                               atol=1e-6)
    np.testing.assert_array_equal(metrics.predict_classes(twin, x), metrics.predict_classes(softmax_cnn, x))
    assert metrics.accuracy(twin, x, y) == metrics.accuracy(softmax_cnn, x, y)
    np.testing.assert_array_equal(metrics.per_class_accuracy(twin, x, y, 10),
                                  metrics.per_class_accuracy(softmax_cnn, x, y, 10))


# ------------------------------------------------------------------ attacks

def test_input_gradient_fgsm_pgd_robust_accuracy(softmax_cnn, twin, batch):
    x, y = batch
    np.testing.assert_allclose(adversarial.input_gradient(twin, x, y),
                               adversarial.input_gradient(softmax_cnn, x, y), rtol=1e-4, atol=1e-7)
    fgsm = adversarial.fgsm(softmax_cnn, x, y, EPS)
    np.testing.assert_array_equal(adversarial.fgsm(twin, x, y, EPS), fgsm)
    pgd = dict(alpha=0.04, steps=3)
    np.testing.assert_allclose(adversarial.pgd(twin, x, y, EPS, **pgd),
                               adversarial.pgd(softmax_cnn, x, y, EPS, **pgd), atol=1e-6)
    for attack, kwargs in (("fgsm", {}), ("pgd", pgd)):
        assert adversarial.robust_accuracy(twin, x, y, attack, EPS, **kwargs) == \
            adversarial.robust_accuracy(softmax_cnn, x, y, attack, EPS, **kwargs)
    # the control: logits treated as probabilities give a different, useless attack
    wrong = adversarial.fgsm(twin, x, y, EPS, from_logits=False)
    assert np.mean(wrong != fgsm) > 0.05


def test_adversarial_train(mlps, tiny):
    trained = []
    for model in map(copy_model, mlps):
        utils.set_seed(0)
        adversarial.adversarial_train(model, tiny, eps=EPS, epochs=1, random_start=False, batch_size=32)
        trained.append(model)
    for a, b in zip(*(model.get_weights() for model in trained)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert not np.allclose(trained[0].get_weights()[-1], mlps[0].get_weights()[-1])   # it did train


# ------------------------------------------------------------------ calibration

def test_calibration(softmax_cnn, twin, small):
    x, y = small.x_val, small.y_val
    assert calibration.expected_calibration_error(twin, x, y) == pytest.approx(
        calibration.expected_calibration_error(softmax_cnn, x, y), abs=1e-6)
    temperature = calibration.fit_temperature(softmax_cnn, x, y)
    assert calibration.fit_temperature(twin, x, y) == pytest.approx(temperature, rel=1e-4)
    scaled, scaled_twin = (calibration.temperature_scaled(m, temperature) for m in (softmax_cnn, twin))
    assert outputs_logits(scaled_twin) is True      # a logits model stays a logits model: z / T
    np.testing.assert_allclose(scaled_twin(x).numpy(), twin(x).numpy() / temperature, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(metrics.predict_proba(scaled_twin, x), metrics.predict_proba(scaled, x),
                               atol=1e-6)


# ------------------------------------------------------------------ privacy

def test_membership_inference(softmax_cnn, twin, small):
    members = (small.x_train[:100], small.y_train[:100])
    non_members = (small.x_val[:100], small.y_val[:100])
    for method in ("loss", "confidence"):
        np.testing.assert_allclose(privacy.membership_scores(twin, *members, method=method),
                                   privacy.membership_scores(softmax_cnn, *members, method=method),
                                   rtol=1e-5, atol=1e-9)
        result = privacy.membership_inference(softmax_cnn, members, non_members, method=method)
        assert privacy.membership_inference(twin, members, non_members, method=method).auc == \
            pytest.approx(result.auc, abs=1e-9)
    table = privacy.membership_inference_per_class(softmax_cnn, members, non_members)
    np.testing.assert_allclose(privacy.membership_inference_per_class(twin, members, non_members).to_numpy(),
                               table.to_numpy(), atol=1e-9)
    # the control: logits declared to be probabilities are refused, not silently used
    with pytest.raises(ValueError, match="pass from_logits=True"):
        privacy.membership_scores(twin, *members, from_logits=False)


def test_membership_scores_of_a_saturated_logits_model_keep_float64_precision():
    twin = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    twin.layers[-1].set_weights([np.array([[60.0, 0.0], [0.0, 0.0]]), np.zeros(2)])
    x = np.array([[1.0, 0.0], [1.2, 0.0], [1.5, 0.0]], np.float32)
    scores = privacy.membership_scores(twin, x, np.zeros(3, np.int64))   # -loss = -log(1 + e^{-60 x})
    assert np.all(np.diff(scores) > 0)      # float32 probabilities would all round to 1: loss 0
    np.testing.assert_allclose(scores, -np.exp(-60 * x[:, 0].astype(float)), rtol=1e-5)   # float32 logits


def test_per_example_gradients_and_dp_sgd(mlps, tiny):
    x, y = tf.constant(tiny.x_train[:16]), tf.constant(tiny.y_train[:16])
    expected = privacy.per_example_gradients(mlps[0], x, y)
    for a, b in zip(expected, privacy.per_example_gradients(mlps[1], x, y)):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-6)
    trained, losses = [], []
    for model in map(copy_model, mlps):
        log = privacy.dp_sgd_train(model, (tiny.x_train, tiny.y_train), l2_norm_clip=1.0,
                                   noise_multiplier=1.0, batch_size=32, epochs=1, learning_rate=0.1,
                                   sampling="shuffle")   # fixed batch shapes: one trace, a fast test
        trained.append(model)
        losses.append(log.losses)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)
    for a, b in zip(*(model.get_weights() for model in trained)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    step = [privacy.dp_sgd_step(copy_model(m), keras.optimizers.SGD(0.1), x, y, l2_norm_clip=1.0,
                                noise_multiplier=0.0, expected_batch_size=16) for m in mlps]
    assert step[1] == pytest.approx(step[0], rel=1e-5)


# ------------------------------------------------------------------ the audit

def test_security_audit_with_models_of_either_kind(softmax_cnn, twin, small):
    membership = ((small.x_train[:64], small.y_train[:64]), (small.x_val[:64], small.y_val[:64]))
    options = dict(membership=membership, max_examples=32, pgd_steps=2, latency_runs=2)
    for reference, candidate in ((softmax_cnn, twin), (twin, softmax_cnn)):
        report = audit.security_audit(reference, candidate, small, **options)
        table = report.table().drop(index="median latency (ms)")
        np.testing.assert_allclose(table["change"], 0.0, atol=1e-6)
    explicit = audit.security_audit(softmax_cnn, twin, small, from_logits=(False, True), **options)
    np.testing.assert_allclose(explicit.table().drop(index="median latency (ms)")["change"], 0.0, atol=1e-6)
    # the control: both declared softmax, so the twin's logits would be read as probabilities: refused
    with pytest.raises(ValueError, match="logits"):
        audit.security_audit(softmax_cnn, twin, small, from_logits=False, **options)


# ------------------------------------------------------------------ two-class scores

def test_positive_scores():
    utils.set_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    x = np.random.default_rng(0).normal(size=(50, 5)).astype(np.float32)
    expected = binary.positive_scores(model, x)
    np.testing.assert_allclose(binary.positive_scores(logits_twin(model), x), expected, atol=1e-6)
    np.testing.assert_allclose(binary.positive_scores(lambda_softmax(model), x, from_logits=False), expected,
                               atol=1e-6)
    assert expected.std() > 0.01      # not a constant model


# ------------------------------------------------------------------ stickers

def test_sticker_attacks(softmax_cnn, twin, batch):
    x, y = batch
    mask = patch.sticker_mask((28, 28), boxes=((0.3, 0.25, 0.12, 0.5),))
    for kwargs in ({}, {"target": 3}):
        np.testing.assert_array_equal(patch.universal_sticker(twin, x, y, mask, steps=3, **kwargs),
                                      patch.universal_sticker(softmax_cnn, x, y, mask, steps=3, **kwargs))
    np.testing.assert_array_equal(patch.sticker_attack(twin, x, y, mask, steps=3),
                                  patch.sticker_attack(softmax_cnn, x, y, mask, steps=3))


# ------------------------------------------------------------------ backdoors

def test_backdoor_functions(softmax_cnn, twin, small, tiny):
    x, y = small.x_test, small.y_test
    asr = backdoor.attack_success_rate(softmax_cnn, x, 0, y=y)
    assert backdoor.attack_success_rate(twin, x, 0, y=y) == asr
    np.testing.assert_array_equal(backdoor.channel_activity(twin, x, "conv"),
                                  backdoor.channel_activity(softmax_cnn, x, "conv"))
    tuned = []
    for model in (softmax_cnn, twin):
        utils.set_seed(0)
        tuned.append(backdoor.fine_prune(model, tiny.x_val, layer="conv", ratio=0.25, data=tiny, epochs=1))
    assert outputs_logits(tuned[0]) is False and outputs_logits(tuned[1]) is True   # each keeps its kind
    for a, b in zip(*(model.get_weights() for model in tuned)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ training

def test_train(mlps, tiny):
    trained = []
    for model in map(copy_model, mlps):
        utils.set_seed(0)
        training.train(model, tiny, epochs=1, batch_size=32)
        trained.append(model)
    for a, b in zip(*(model.get_weights() for model in trained)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_rigl_regrows_at_the_same_positions(softmax_cnn, twin, small):
    masks = []
    for model in (copy_model(softmax_cnn), copy_model(twin)):
        callback = dynamic.DynamicSparseTraining(
            dynamic.random_masks(model, 0.5, seed=0), method="rigl", update_every=1, end_step=10,
            gradient_data=(small.x_train[:128], small.y_train[:128]), gradient_batch_size=64, seed=0)
        callback.set_model(model)
        callback.update_masks()
        masks.append(callback.masks)
    for name in masks[0]:
        np.testing.assert_array_equal(masks[1][name], masks[0][name])


# ------------------------------------------------------------------ a last layer of unknown kind

def _refusals(small):
    x, y = small.x_test[:16], small.y_test[:16]
    pair = (x, y)
    mask = patch.sticker_mask((28, 28))
    return {
        "fgsm": lambda m: adversarial.fgsm(m, x, y, EPS),
        "pgd": lambda m: adversarial.pgd(m, x, y, EPS, alpha=0.05, steps=1),
        "input_gradient": lambda m: adversarial.input_gradient(m, x, y),
        "robust_accuracy": lambda m: adversarial.robust_accuracy(m, x, y, "fgsm", EPS),
        "adversarial_train": lambda m: adversarial.adversarial_train(m, small, eps=EPS, epochs=1),
        "predict_proba": lambda m: metrics.predict_proba(m, x),
        "expected_calibration_error": lambda m: calibration.expected_calibration_error(m, x, y),
        "fit_temperature": lambda m: calibration.fit_temperature(m, x, y),
        "temperature_scaled": lambda m: calibration.temperature_scaled(m, 2.0),
        "membership_scores": lambda m: privacy.membership_scores(m, x, y),
        "membership_inference": lambda m: privacy.membership_inference(m, pair, pair),
        "membership_inference_per_class": lambda m: privacy.membership_inference_per_class(m, pair, pair),
        "per_example_gradients": lambda m: privacy.per_example_gradients(m, x, y),
        "dp_sgd_train": lambda m: privacy.dp_sgd_train(m, pair, l2_norm_clip=1.0, noise_multiplier=1.0,
                                                       batch_size=4, epochs=1),
        "security_audit": lambda m: audit.security_audit(m, m, pair, latency_runs=1),
        "universal_sticker": lambda m: patch.universal_sticker(m, x, y, mask, steps=1),
        "sticker_attack": lambda m: patch.sticker_attack(m, x, y, mask, steps=1),
        "train": lambda m: training.train(m, small, epochs=1),
    }


REFUSING = ("fgsm", "pgd", "input_gradient", "robust_accuracy", "adversarial_train", "predict_proba",
            "expected_calibration_error", "fit_temperature", "temperature_scaled", "membership_scores",
            "membership_inference", "membership_inference_per_class", "per_example_gradients", "dp_sgd_train",
            "security_audit", "universal_sticker", "sticker_attack", "train")


@pytest.mark.parametrize("name", REFUSING)
def test_a_sigmoid_output_is_refused_with_a_clear_error(small, name):
    model = sigmoid_model()
    with pytest.raises(ValueError, match="from_logits=True.*from_logits=False"):
        _refusals(small)[name](model)


def test_a_sigmoid_two_class_model_is_refused_by_positive_scores():
    with pytest.raises(ValueError, match="from_logits"):
        binary.positive_scores(sigmoid_model(2), np.zeros((3, 28, 28, 1), np.float32))


def test_argmax_functions_need_no_kind(softmax_cnn, small):
    """Predicted classes, accuracy and the backdoor's success rate use only the arg-max: any model works."""
    hidden = lambda_softmax(softmax_cnn)
    x, y = small.x_test, small.y_test
    np.testing.assert_array_equal(metrics.predict_classes(hidden, x), metrics.predict_classes(softmax_cnn, x))
    assert metrics.accuracy(hidden, x, y) == metrics.accuracy(softmax_cnn, x, y)
    asr = backdoor.attack_success_rate(softmax_cnn, x, 0, y=y)
    assert backdoor.attack_success_rate(hidden, x, 0, y=y) == asr


def test_an_undetectable_softmax_works_once_from_logits_is_given(softmax_cnn, small, batch):
    hidden = lambda_softmax(softmax_cnn)
    x, y = batch
    with pytest.raises(ValueError, match="from_logits"):
        adversarial.fgsm(hidden, x, y, EPS)
    np.testing.assert_array_equal(adversarial.fgsm(hidden, x, y, EPS, from_logits=False),
                                  adversarial.fgsm(softmax_cnn, x, y, EPS))
    members, non_members = (small.x_train[:100], small.y_train[:100]), (small.x_val[:100], small.y_val[:100])
    assert privacy.membership_inference(hidden, members, non_members, from_logits=False).auc == pytest.approx(
        privacy.membership_inference(softmax_cnn, members, non_members).auc, abs=0.01)
    assert calibration.expected_calibration_error(hidden, small.x_val, small.y_val, from_logits=False) == \
        pytest.approx(calibration.expected_calibration_error(softmax_cnn, small.x_val, small.y_val), abs=1e-6)
    assert calibration.fit_temperature(hidden, small.x_val, small.y_val, from_logits=False) == pytest.approx(
        calibration.fit_temperature(softmax_cnn, small.x_val, small.y_val), rel=1e-3)
    mask = patch.sticker_mask((28, 28))
    np.testing.assert_array_equal(patch.universal_sticker(hidden, x, y, mask, steps=2, from_logits=False),
                                  patch.universal_sticker(softmax_cnn, x, y, mask, steps=2))
    report = audit.security_audit(softmax_cnn, hidden, small, attacks=("fgsm",), max_examples=32,
                                  latency_runs=1, from_logits=False)
    np.testing.assert_allclose(report.table().drop(index="median latency (ms)")["change"], 0.0, atol=1e-6)
