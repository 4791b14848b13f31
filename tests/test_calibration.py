import numpy as np
import pytest

from utils import calibration, keras, metrics, pruning


def _overconfident(n=4000, seed=0):
    """Probabilities of a 2-class predictor that is right 75 % of the time but claims ~95 %."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    correct = rng.random(n) < 0.75
    predicted = np.where(correct, y, 1 - y)
    top = rng.uniform(0.9, 0.99, n)
    probs = np.empty((n, 2))
    probs[np.arange(n), predicted] = top
    probs[np.arange(n), 1 - predicted] = 1 - top
    return probs, y


def _probability_model(num_classes):
    """A model whose output is its input: lets a test feed chosen probabilities through Keras.

    Its last layer is linear, so the calls say ``from_logits=False``: these outputs are probabilities.
    """
    inputs = keras.Input(shape=(num_classes,))
    outputs = keras.layers.Activation("linear", name="identity")(inputs)
    return keras.Model(inputs, outputs)


def test_apply_temperature_one_is_identity_and_keeps_argmax():
    probs, _ = _overconfident(200)
    assert np.allclose(calibration.apply_temperature(probs, 1.0), probs, atol=1e-12)
    for t in (0.3, 2.0, 10.0):
        scaled = calibration.apply_temperature(probs, t)
        assert np.allclose(scaled.sum(axis=1), 1.0)
        assert np.array_equal(scaled.argmax(axis=1), probs.argmax(axis=1))
    soft = calibration.apply_temperature(probs, 3.0).max(axis=1)
    assert np.all(soft < probs.max(axis=1))  # T > 1 lowers every confidence


def test_apply_temperature_matches_softmax_of_logits():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 4, (50, 3))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = np.exp(logits / 2.5) / np.exp(logits / 2.5).sum(axis=1, keepdims=True)
    assert np.allclose(calibration.apply_temperature(probs, 2.5), expected, atol=1e-12)


def test_apply_temperature_survives_exact_zeros():
    probs = np.array([[1.0, 0.0], [0.0, 1.0]])
    scaled = calibration.apply_temperature(probs, 2.0)
    assert np.all(np.isfinite(scaled)) and np.allclose(scaled.sum(axis=1), 1.0)
    assert np.array_equal(scaled.argmax(axis=1), [0, 1])
    assert np.isfinite(calibration.temperature_nll(probs, np.array([1, 1]), 2.0))


def test_fit_temperature_softens_an_overconfident_model_and_lowers_ece():
    probs, y = _overconfident()
    model = _probability_model(2)
    t = calibration.fit_temperature(model, probs.astype("float32"), y, from_logits=False)
    assert t > 1.5
    before = calibration.expected_calibration_error(None, probs, y)
    after = calibration.expected_calibration_error(None, calibration.apply_temperature(probs, t), y)
    assert before > 0.15 and after < before / 3
    # it really is the minimum of the NLL
    best = calibration.temperature_nll(probs, y, t)
    assert best <= calibration.temperature_nll(probs, y, t * 1.1)
    assert best <= calibration.temperature_nll(probs, y, t / 1.1)


def test_fit_temperature_sharpens_an_underconfident_model():
    rng = np.random.default_rng(2)
    n = 3000
    y = rng.integers(0, 2, n)
    correct = rng.random(n) < 0.95
    predicted = np.where(correct, y, 1 - y)
    probs = np.full((n, 2), 0.4)
    probs[np.arange(n), predicted] = 0.6                # right 95 % of the time, claims 60 %
    t = calibration.fit_temperature(_probability_model(2), probs.astype("float32"), y, from_logits=False)
    assert t < 1


def test_fit_temperature_is_near_one_for_a_calibrated_model():
    rng = np.random.default_rng(3)
    n = 20000
    y = rng.integers(0, 2, n)
    top = rng.uniform(0.55, 0.99, n)
    correct = rng.random(n) < top                       # right exactly as often as confident
    predicted = np.where(correct, y, 1 - y)
    probs = np.empty((n, 2))
    probs[np.arange(n), predicted] = top
    probs[np.arange(n), 1 - predicted] = 1 - top
    t = calibration.fit_temperature(_probability_model(2), probs.astype("float32"), y, from_logits=False)
    assert t == pytest.approx(1.0, abs=0.08)


def test_temperature_scaled_model_folds_t_into_the_last_layer(trained_mlp, digits):
    x, y = digits.x_val, digits.y_val
    t = 2.5
    scaled = calibration.temperature_scaled(trained_mlp, t)
    assert isinstance(scaled, keras.Model) and len(scaled.layers) == len(trained_mlp.layers)
    expected = calibration.apply_temperature(metrics.predict_proba(trained_mlp, x), t)
    assert np.allclose(metrics.predict_proba(scaled, x), expected, atol=1e-5)
    assert metrics.accuracy(scaled, x, y) == metrics.accuracy(trained_mlp, x, y)
    # the original is untouched and shares nothing
    before = [w.copy() for w in trained_mlp.get_weights()]
    scaled.layers[-1].kernel.assign(scaled.layers[-1].kernel * 0)
    assert all(np.array_equal(a, b) for a, b in zip(before, trained_mlp.get_weights()))


def test_temperature_one_model_is_an_exact_copy(trained_mlp, digits):
    same = calibration.temperature_scaled(trained_mlp, 1.0)
    assert np.allclose(metrics.predict_proba(same, digits.x_test),
                       metrics.predict_proba(trained_mlp, digits.x_test), atol=1e-7)


def test_temperature_scaled_keeps_a_pruned_model_sparse(trained_mlp):
    pruned = pruning.prune_weights(trained_mlp, 0.8)
    scaled = calibration.temperature_scaled(pruned, 3.0)
    assert metrics.count_params(scaled, nonzero=True) == metrics.count_params(pruned, nonzero=True)
    assert pruning.global_sparsity(scaled) == pytest.approx(pruning.global_sparsity(pruned))


def test_temperature_scaled_appends_a_layer_when_softmax_is_separate(digits):
    inputs = keras.Input(shape=(28, 28, 1))
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(10)(h)
    outputs = keras.layers.Activation("softmax")(h)
    model = keras.Model(inputs, outputs)
    scaled = calibration.temperature_scaled(model, 2.0)
    assert scaled.layers[-1].name == "temperature" and metrics.count_params(scaled) == model.count_params()
    x = digits.x_test[:32]
    expected = calibration.apply_temperature(metrics.predict_proba(model, x), 2.0)
    assert np.allclose(metrics.predict_proba(scaled, x), expected, atol=1e-5)


def test_recalibrating_a_trained_model_lowers_validation_nll(trained_mlp, digits):
    x, y = digits.x_val, digits.y_val
    t = calibration.fit_temperature(trained_mlp, x, y)
    probs = metrics.predict_proba(trained_mlp, x)
    assert calibration.temperature_nll(probs, y, t) <= calibration.temperature_nll(probs, y, 1.0) + 1e-9


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_bad_temperatures_are_rejected(trained_mlp, bad):
    with pytest.raises(ValueError, match="temperature"):
        calibration.temperature_scaled(trained_mlp, bad)
    with pytest.raises(ValueError, match="temperature"):
        calibration.apply_temperature(np.array([[0.5, 0.5]]), bad)


@pytest.mark.parametrize("bad", ["2", None, True])
def test_non_numeric_temperature_is_a_type_error(bad):
    with pytest.raises(TypeError, match="temperature"):
        calibration.apply_temperature(np.array([[0.5, 0.5]]), bad)


def test_logits_instead_of_probabilities_are_rejected():
    with pytest.raises(ValueError, match="softmax"):
        calibration.apply_temperature(np.array([[2.0, -1.0]]), 2.0)
    with pytest.raises(ValueError, match="shape"):
        calibration.apply_temperature(np.array([0.3, 0.7]), 2.0)


def test_fit_temperature_rejects_bad_inputs(trained_mlp, digits):
    x, y = digits.x_val, digits.y_val
    with pytest.raises(TypeError, match="tf_keras"):
        calibration.fit_temperature("model", x, y)
    with pytest.raises(ValueError, match="one label per example"):
        calibration.fit_temperature(trained_mlp, x, y[:-1])
    with pytest.raises(TypeError, match="integer"):
        calibration.fit_temperature(trained_mlp, x, y.astype(float))
    with pytest.raises(ValueError, match="labels in"):
        calibration.fit_temperature(trained_mlp, x, y + 10)
    with pytest.raises(ValueError, match="empty"):
        calibration.fit_temperature(trained_mlp, x[:0], y[:0])
    with pytest.raises(TypeError, match="from_logits"):
        calibration.fit_temperature(trained_mlp, x, y, from_logits="yes")


def test_fit_temperature_explains_an_all_correct_validation_set():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]], dtype="float32")
    with pytest.raises(ValueError, match="correctly"):
        calibration.fit_temperature(_probability_model(2), probs, np.array([0, 1, 0]), from_logits=False)


def test_fit_temperature_explains_an_uninformative_model():
    probs = np.tile(np.array([[0.8, 0.2]], dtype="float32"), (20, 1))
    y = np.array([1] * 19 + [0])                        # confidently wrong 19 times out of 20
    with pytest.raises(ValueError, match="edge of the search range"):
        calibration.fit_temperature(_probability_model(2), probs, y, from_logits=False)


def test_fit_temperature_accepts_probabilities_directly(trained_mlp, digits):
    probs = metrics.predict_proba(trained_mlp, digits.x_val)
    from_model = calibration.fit_temperature(trained_mlp, digits.x_val, digits.y_val)
    from_probs = calibration.fit_temperature(None, probs, digits.y_val)
    assert from_probs == pytest.approx(from_model, rel=1e-6)


def test_ece_interval_contains_the_ece_and_shrinks_with_more_data():
    probs, y = _overconfident(4000)
    ece = calibration.expected_calibration_error(None, probs, y)
    low, high = calibration.ece_interval(probs, y, resamples=200)
    assert low <= ece <= high and high - low < 0.05
    small_low, small_high = calibration.ece_interval(probs[:100], y[:100], resamples=200)
    assert small_high - small_low > 2 * (high - low)
    assert calibration.ece_interval(probs, y, resamples=50, seed=3) == \
        calibration.ece_interval(probs, y, resamples=50, seed=3)


@pytest.mark.parametrize("kwargs, error", [({"resamples": 0}, ValueError), ({"level": 1.0}, ValueError),
                                           ({"level": 90}, ValueError), ({"resamples": 2.5}, TypeError)])
def test_ece_interval_rejects_bad_options(kwargs, error):
    probs, y = _overconfident(50)
    with pytest.raises(error, match=next(iter(kwargs))):
        calibration.ece_interval(probs, y, **kwargs)


def test_layer_config_round_trip():
    layer = calibration.TemperatureScaling(1.7)
    again = calibration.TemperatureScaling.from_config(layer.get_config())
    assert again.temperature == pytest.approx(1.7)


# ------------------------------------------------------------------ Lab 11's self-checks

def _run_check(check, fn, capsys):
    check(fn)
    return capsys.readouterr().out


def _summary_right(y, scores, threshold):
    flagged, positive = scores >= threshold, y == 1
    return (np.sum(flagged & positive) / positive.sum(), np.sum(~flagged & ~positive) / (~positive).sum(),
            int(np.sum(~flagged & positive)))


def _nll_right(probs, y, temperature):
    from scipy.special import logsumexp
    scaled = np.log(np.maximum(probs, calibration.FLOOR)) / temperature
    return float(np.mean(logsumexp(scaled, axis=1) - scaled[np.arange(len(y)), y]))


def _threshold_right(y, scores, target):
    positives = np.sort(scores[y == 1])[::-1]
    return positives[int(np.ceil(target * len(positives))) - 1]


def test_lab11_checks_pass_right_answers(capsys):
    from utils import checks
    for check, fn in ((checks.exercise_11_1, _summary_right), (checks.exercise_11_2, _nll_right),
                      (checks.exercise_11_3, calibration.fit_temperature_to_probs),
                      (checks.exercise_11_4, _threshold_right)):
        out = _run_check(check, fn, capsys)
        assert "✘" not in out and "all checks passed" in out, out


@pytest.mark.parametrize("wrong, hint", [
    (lambda y, s, t: tuple(100 * v for v in _summary_right(y, s, t)[:2]) + (_summary_right(y, s, t)[2],),
     "not percentages"),
    (lambda y, s, t: _summary_right(y, s, t)[1::-1] + (_summary_right(y, s, t)[2],), "swapped"),
    (lambda y, s, t: _summary_right(y, s, t + 1e-9), "exactly equal"),
])
def test_lab11_check_1_explains_mistakes(capsys, wrong, hint):
    from utils import checks
    out = _run_check(checks.exercise_11_1, wrong, capsys)
    assert "✘" in out and hint in out, out


@pytest.mark.parametrize("wrong, hint", [
    (lambda p, y, t: _nll_right(p, y, 1 / t), "multiplied"),
    (lambda p, y, t: _nll_right(p, y, t) * len(y), "mean"),
    (lambda p, y, t: float(np.mean(-np.log(
        np.exp(np.log(p) / t) / np.exp(np.log(p) / t).sum(1, keepdims=True))[np.arange(len(y)), y])),
     "floor the probabilities"),
])
def test_lab11_check_2_explains_mistakes(capsys, wrong, hint):
    from utils import checks
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _run_check(checks.exercise_11_2, wrong, capsys)
    assert "✘" in out and hint in out, out


@pytest.mark.parametrize("wrong, hint", [
    (lambda y, s, t: np.sort(s)[::-1][int(np.ceil(t * len(s))) - 1], "only the malignant"),
    (lambda y, s, t: np.sort(s[y == 1])[::-1][int(np.floor(t * (y == 1).sum())) - 2], "lower it"),
    (lambda y, s, t: _threshold_right(y, s, t) - 0.01, "the highest"),
])
def test_lab11_check_4_explains_mistakes(capsys, wrong, hint):
    from utils import checks
    out = _run_check(checks.exercise_11_4, wrong, capsys)
    assert "✘" in out and hint in out, out


def test_lab11_checks_are_gentle_with_stubs(capsys):
    from utils import checks

    def stub(*args):
        raise NotImplementedError("Exercise 11.1: replace this line with your code")
    out = _run_check(checks.exercise_11_1, stub, capsys)
    assert "not done yet" in out and "✘" not in out


def _calibrated(n=50_000, seed=0):
    """A toy predictor that is right exactly as often as it is confident."""
    rng = np.random.default_rng(seed)
    confidence = rng.uniform(0.4, 1.0, n)   # always above the runners-up, (1 - c) / 2 <= 0.3
    y = rng.integers(0, 3, n)
    right = rng.uniform(size=n) < confidence
    predicted = np.where(right, y, (y + 1) % 3)
    probs = np.full((n, 3), 0.0)
    probs[np.arange(n), predicted] = confidence
    probs[np.arange(n), (predicted + 1) % 3] = (1 - confidence) / 2
    probs[np.arange(n), (predicted + 2) % 3] = (1 - confidence) / 2
    return probs, y


def test_ece_of_a_calibrated_predictor_is_about_zero():
    probs, y = _calibrated()
    assert calibration.expected_calibration_error(None, probs, y) < 0.01


def test_ece_of_an_over_confident_predictor_is_its_gap():
    probs = np.tile([0.99, 0.01], (100, 1))
    y = np.array([0] * 70 + [1] * 30)           # 99 % confident, 70 % right
    assert calibration.expected_calibration_error(None, probs, y) == pytest.approx(0.29)


def test_calibration_bins_follow_guo_et_al():
    probs = np.array([[0.6, 0.4], [0.61, 0.39], [1.0, 0.0], [0.5, 0.5]])
    y = np.array([0, 1, 0, 0])
    table = calibration.calibration_bins(probs, y, bins=5)
    assert table["count"].tolist() == [0, 0, 2, 1, 1]   # 0.5, 0.6 ∈ (0.4, 0.6]; 0.61 ∈ (0.6, 0.8]
    assert table.loc[2, "confidence"] == pytest.approx(0.55) and table.loc[2, "accuracy"] == 1.0
    assert table.loc[3, "accuracy"] == 0.0 and np.isnan(table.loc[0, "accuracy"])
    expected = (2 * abs(1.0 - 0.55) + 1 * abs(0.0 - 0.61) + 1 * abs(1.0 - 1.0)) / 4
    assert calibration.expected_calibration_error(None, probs, y, bins=5) == pytest.approx(expected)


def test_ece_of_a_model_equals_ece_of_its_probabilities(trained_mlp, digits):
    probs = metrics.predict_proba(trained_mlp, digits.x_test)
    direct = calibration.expected_calibration_error(trained_mlp, digits.x_test, digits.y_test)
    assert direct == calibration.expected_calibration_error(None, probs, digits.y_test)
    assert 0.0 <= direct <= 1.0


@pytest.mark.parametrize("probs, y, bins, error, match", [
    (np.ones((3, 2)), np.zeros(3, int), 15, ValueError, "sum to 1"),
    (np.ones(3) / 3, np.zeros(1, int), 15, ValueError, "shape"),
    (np.full((2, 2), 0.5), np.zeros(3, int), 15, ValueError, "one label per example"),
    (np.full((2, 2), 0.5), np.zeros(2), 15, TypeError, "integer"),
    (np.full((2, 2), 0.5), np.zeros(2, int), 0, ValueError, "bins"),
])
def test_ece_rejects_bad_input(probs, y, bins, error, match):
    with pytest.raises(error, match=match):
        calibration.expected_calibration_error(None, probs, y, bins)
