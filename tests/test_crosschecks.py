"""Cross-checks: the course's from-scratch code against independent libraries no one here wrote.

Each test computes one quantity twice, once with :mod:`utils` and once with a library:

* FGSM and PGD — the Adversarial Robustness Toolbox (ART, IBM; Nicolae et al., 2018),
  ``TensorFlowV2Classifier`` wrapping the *same* tf_keras model;
* membership-inference AUC — scikit-learn's ``roc_auc_score`` on scores recomputed here;
* MACs — TensorFlow's own graph profiler (``tf.compat.v1.profiler``);
* temperature scaling — scikit-learn's ``CalibratedClassifierCV(method="temperature")``;
* the DP-SGD ε — dp_accounting's privacy-loss-distribution (PLD) accountant.

The models are tiny and trained for a few seconds on a subset of the digits data, so that the
whole file runs in well under a minute on two CPU cores. Every comparison is deterministic.
"""

import collections
import warnings

import numpy as np
import pytest
from scipy.special import log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import roc_auc_score

import utils
from utils import adversarial, calibration, keras, models, privacy, tf
from utils import metrics as metrics_module

macs = getattr(metrics_module, "macs", metrics_module.flops)  # ``flops`` is the old name of ``macs``

NUM_CLASSES = 10
INPUT_SHAPE = (28, 28, 1)


# ------------------------------------------------------------------ shared models

def _cnn(activation):
    return keras.Sequential([
        keras.layers.Input(INPUT_SHAPE),
        keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(NUM_CLASSES, activation=activation),
    ], name=f"cnn_{activation or 'logits'}")


@pytest.fixture(scope="module")
def softmax_cnn(digits):
    """A small CNN ending in softmax, over-fitted to 400 training digits (members for the attack)."""
    utils.set_seed(0)
    model = _cnn("softmax")
    model.compile(keras.optimizers.Adam(0.005), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(digits.x_train[:400], digits.y_train[:400], epochs=25, batch_size=50, verbose=0)
    return model


@pytest.fixture(scope="module")
def briefly_trained_cnn(digits):
    """The same CNN after only 2 epochs: accurate, but not yet so confident that float32 loses gradients."""
    utils.set_seed(0)
    model = _cnn("softmax")
    model.compile(keras.optimizers.Adam(0.005), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(digits.x_train[:400], digits.y_train[:400], epochs=2, batch_size=50, verbose=0)
    return model


def _as_logits(model):
    """The same network with a linear last layer: it outputs the logits of ``model``."""
    twin = _cnn(None)
    twin.set_weights(model.get_weights())
    return twin


@pytest.fixture(scope="module")
def both_kinds(softmax_cnn, briefly_trained_cnn):
    """Each model as the course builds it (softmax outputs) and as Keras users often do (logits)."""
    return {(name, kind): model if kind == "softmax" else _as_logits(model)
            for name, model in [("overfit", softmax_cnn), ("brief", briefly_trained_cnn)]
            for kind in ("softmax", "logits")}


@pytest.fixture(params=["softmax", "logits"])
def classifier(request, both_kinds):
    """The over-fitted CNN, with softmax or with logits outputs."""
    return both_kinds["overfit", request.param]


@pytest.fixture(params=["softmax", "logits"])
def brief_classifier(request, both_kinds):
    """The briefly trained CNN, with softmax or with logits outputs."""
    return both_kinds["brief", request.param]


def _is_logits(model):
    return model.layers[-1].activation is keras.activations.linear


def _logits64(model, x):
    """Logits in float64: the last layer's inputs (float32) times its kernel, plus its bias, in float64."""
    features = keras.Model(model.inputs, model.layers[-1].input)(x, training=False).numpy()
    kernel, bias = (w.astype(np.float64) for w in model.layers[-1].get_weights())
    return features.astype(np.float64) @ kernel + bias


# ------------------------------------------------------------------ attacks vs ART

def _art():
    """ART's attacks and TensorFlow wrapper, imported without ART's warning that PyTorch is missing."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PyTorch not found")
        from art.attacks import evasion
        from art.estimators.classification import TensorFlowV2Classifier
    return evasion, TensorFlowV2Classifier


def _art_classifier(model):
    """ART's wrapper around the same tf_keras model, with the loss that matches its outputs."""
    _, TensorFlowV2Classifier = _art()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=_is_logits(model))
    return TensorFlowV2Classifier(model, nb_classes=NUM_CLASSES, input_shape=INPUT_SHAPE, loss_object=loss,
                                  clip_values=(0.0, 1.0))


def _robust_accuracy(model, x_adv, y):
    return float(np.mean(np.argmax(model.predict(x_adv, verbose=0), axis=1) == y))


def _art_fgsm(model, x, y, eps):
    evasion, _ = _art()
    attack = evasion.FastGradientMethod(_art_classifier(model), norm=np.inf, eps=eps, batch_size=512)
    return attack.generate(x, y=y)


@pytest.mark.parametrize("eps", [0.05, 0.15])
def test_fgsm_equals_art_fast_gradient_method(brief_classifier, digits, eps):
    """Ours and ART's FGSM are the same function: clip(x + eps·sign(∇ₓ loss), 0, 1), image for image.

    ART averages the loss over the batch and we sum it; that rescales the gradient by 1/n, which
    cannot change its sign in exact arithmetic and, on this moderately confident model, does not
    in float32 either: the adversarial images agree exactly, pixel for pixel (for when rounding
    does flip a sign, see the next test).
    """
    x, y = digits.x_test[:200], digits.y_test[:200]
    ours = adversarial.fgsm(brief_classifier, x, y, eps)
    theirs = _art_fgsm(brief_classifier, x, y, eps)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    assert np.abs(ours - x).max() > 0  # the attack moved the images (not a vacuous comparison)


def test_fgsm_matches_art_on_an_overconfident_model_up_to_float32_noise(classifier, digits):
    """On a model whose typical loss is ~1e-6, a few pixels' gradient sign is float32 noise.

    There ``p_y - 1`` is of the order of float32's resolution, and on some pixels the gradient
    is a near-cancelling sum of terms whose float32 result has no reliable sign. ART's mean
    (a factor 1/n) and our sum round differently, and about 0.1 % of the pixels come out with
    the opposite sign. (Measured while writing this test, against the same network run in
    float64: the float32 gradient's sign is wrong on ~0.3 % of the pixels for ours and ~0.35 %
    for ART's; of the 156 pixels where the two disagree, ours is wrong on 54 and ART's on 102.
    Rounding noise, not a difference in the method.)
    Everywhere else the images are identical, and each differing pixel differs by a sign flip.
    """
    x, y, eps = digits.x_test[:200], digits.y_test[:200], 0.05
    ours, theirs = adversarial.fgsm(classifier, x, y, eps), _art_fgsm(classifier, x, y, eps)
    differ = np.abs(ours - theirs) > 1e-6
    assert differ.mean() < 0.005, f"{differ.mean():.3%} of the pixels differ"
    step_ours, step_theirs = (ours - x)[differ], (theirs - x)[differ]
    assert np.all(step_ours * step_theirs <= 1e-12)  # opposite signs (or one side clipped / zero)


@pytest.mark.parametrize("random_start", [False, True], ids=["from_x", "random_start"])
def test_pgd_at_least_as_strong_as_art(brief_classifier, digits, random_start):
    """Our PGD's robust accuracy is within 2 points of ART's ProjectedGradientDescent, or lower.

    Same budget, step size, number of steps and L∞ norm. Without a random start both attacks
    are deterministic and should reach the same images (up to float rounding); with one, each
    draws its own start, so only the accuracies are comparable.
    """
    x, y = digits.x_test[:200], digits.y_test[:200]
    eps, alpha, steps = 0.1, 0.025, 10
    classifier = brief_classifier
    ours = adversarial.pgd(classifier, x, y, eps, alpha=alpha, steps=steps, random_start=random_start, seed=0)
    np.random.seed(0)  # noqa: NPY002 -- ART draws its random start from NumPy's global generator
    evasion, _ = _art()
    art = evasion.ProjectedGradientDescent(_art_classifier(classifier), norm=np.inf, eps=eps, eps_step=alpha,
                                           max_iter=steps, num_random_init=int(random_start), batch_size=512,
                                           verbose=False)
    theirs = art.generate(x, y=y)
    ours_acc, art_acc = _robust_accuracy(classifier, ours, y), _robust_accuracy(classifier, theirs, y)
    assert ours_acc <= art_acc + 0.02, f"our PGD leaves {ours_acc:.3f} accuracy, ART's {art_acc:.3f}"
    assert ours_acc < _robust_accuracy(classifier, x, y) - 0.2  # the attack bites: not a vacuous comparison
    assert np.abs(ours - x).max() <= eps + 1e-6 and np.abs(theirs - x).max() <= eps + 1e-6


# ------------------------------------------------------------------ membership AUC vs scikit-learn

@pytest.mark.parametrize("method", ["loss", "confidence"])
def test_membership_auc_equals_sklearn_roc_auc(classifier, digits, method):
    """The attack's AUC equals ``roc_auc_score`` of scores recomputed here from the logits.

    Scores (see ``utils.privacy.membership_scores``): ``log p_y`` for the loss attack,
    ``log max_c p_c`` for the confidence attack, both from the float64 log-softmax of the logits.
    """
    members = digits.x_train[:200], digits.y_train[:200]      # the model was trained on these
    non_members = digits.x_test[:200], digits.y_test[:200]
    result = privacy.membership_inference(classifier, members, non_members, method=method)

    def scores(x, y):
        # The attacker sees full-precision scores: a logits model's own (float32) outputs, or for a
        # softmax model its logits recomputed in float64 (float32 probabilities of 1.0 would tie).
        logits = (classifier.predict(x, verbose=0).astype(np.float64) if _is_logits(classifier)
                  else _logits64(classifier, x))
        log_p = log_softmax(logits, axis=1)
        return log_p[np.arange(len(y)), y] if method == "loss" else log_p.max(axis=1)

    s_in, s_out = scores(*members), scores(*non_members)
    np.testing.assert_allclose(result.member_scores, s_in, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(result.non_member_scores, s_out, rtol=1e-9, atol=1e-15)
    expected = roc_auc_score(np.r_[np.ones(len(s_in)), np.zeros(len(s_out))], np.r_[s_in, s_out])
    assert result.auc == pytest.approx(expected, abs=1e-12)
    assert abs(result.auc - 0.5) > 0.03  # the over-fitted model leaks: not the trivial AUC of 0.5


# ------------------------------------------------------------------ MACs vs TensorFlow's profiler

_PRODUCT_OPS = ("Conv2D", "DepthwiseConv2dNative", "MatMul")


def _mobile_block():
    """A MobileNet-style model: a stem, then depthwise (multiplier 1 and 2, stride 1 and 2) + pointwise."""
    layers = keras.layers
    return keras.Sequential([
        layers.Input((32, 32, 3)),
        layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False), layers.ReLU(),
        layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2), layers.ReLU(),
        layers.Conv2D(32, 1, activation="relu"),
        layers.DepthwiseConv2D(3, strides=2), layers.Conv2D(64, 1, activation="relu"),
        layers.GlobalAveragePooling2D(), layers.Dense(10, activation="softmax"),
    ], name="mobile_block")


def _profiled_float_ops(model):
    """``{op type: float_ops}`` that ``tf.compat.v1.profiler`` counts for one forward pass of one example."""
    spec = tf.TensorSpec((1, *model.input_shape[1:]), tf.float32)  # batch 1: every shape is static
    graph = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    root = tf.compat.v1.profiler.profile(graph, cmd="scope", options=options)
    by_type, stack = collections.Counter(), list(root.children)
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        by_type[graph.get_operation_by_name(node.name).type] += node.float_ops
    assert sum(by_type.values()) == root.total_float_ops
    return by_type


@pytest.mark.parametrize("build", [models.seed_cnn, models.lenet_300_100, models.lenet5, _mobile_block],
                         ids=["seed_cnn", "lenet_300_100", "lenet5", "mobile_block"])
def test_macs_match_tensorflow_profiler(build):
    """2 × our MACs = the profiler's float operations of the convolutions and matrix products.

    The profiler counts 2 FLOPs per multiply-accumulate in ``Conv2D``, ``DepthwiseConv2dNative``
    and ``MatMul``; these must equal 2 × MACs exactly. It also counts one FLOP per output value
    of ``BiasAdd``, per pooled input of ``MaxPool``/``Mean``, and a few per ``Softmax`` output,
    which our count leaves out on purpose (one operation per value, not per weight; ReLU and
    batch normalisation it does not count either). Those are at most about 2 % of the total for
    these models (a kernel of k·k·c_in weights per output value), hence the 5 % tolerance on the total.
    """
    model = build()
    by_type = _profiled_float_ops(model)
    ours = 2 * macs(model)
    assert ours == sum(by_type[op] for op in _PRODUCT_OPS), dict(by_type)
    total = sum(by_type.values())
    assert ours <= total <= 1.05 * ours, dict(by_type)


# ------------------------------------------------------------------ temperature vs scikit-learn

class _Precomputed(ClassifierMixin, BaseEstimator):
    """A 'classifier' whose decision function returns its input: lets scikit-learn calibrate given logits."""

    def fit(self, X, y=None):
        self.classes_ = np.arange(NUM_CLASSES)
        return self

    def decision_function(self, X):
        return np.asarray(X)

    def predict(self, X):
        return np.asarray(X).argmax(axis=1)


def test_fitted_temperature_matches_sklearn(classifier, digits):
    """``fit_temperature`` finds the same T as scikit-learn's temperature scaling (version >= 1.8).

    scikit-learn fits β = 1/T, the *inverse* temperature (``calibrators[0].beta_``), by minimising
    the multinomial NLL of ``softmax(β z)`` over log β; we minimise the same NLL over 1/T. The NLL
    is convex in β, so both must find the same minimum. scikit-learn gets the logits z here
    (through ``decision_function``); ours sees the model itself (softmax or logits).
    """
    x_val, y_val = digits.x_val, digits.y_val
    ours = calibration.fit_temperature(classifier, x_val, y_val)
    frozen = FrozenEstimator(_Precomputed().fit(None))  # "prefit": never refitted, only calibrated
    sk = CalibratedClassifierCV(frozen, method="temperature").fit(_logits64(classifier, x_val), y_val)
    theirs = 1.0 / float(sk.calibrated_classifiers_[0].calibrators[0].beta_)
    assert ours == pytest.approx(theirs, rel=1e-3)
    assert abs(ours - 1.0) > 0.05  # the model is mis-calibrated: T = 1 would not pass by accident


# ------------------------------------------------------------------ ε vs the PLD accountant

@pytest.mark.parametrize("n, batch_size, noise_multiplier, epochs, delta", [
    (60_000, 256, 1.1, 15, 1e-5),   # Abadi et al. (2016)'s MNIST setting, fewer epochs
    (1_437, 64, 1.0, 10, 1e-5),     # the digits training set
    (10_000, 100, 2.0, 20, 1e-5),   # strong noise
])
def test_rdp_epsilon_bounds_pld_epsilon(n, batch_size, noise_multiplier, epochs, delta):
    """The RDP ε is an upper bound, so it is ≥ the (tighter) PLD ε of the same mechanism, but not far above.

    Both account for ``dp_steps`` compositions of the Poisson-sampled Gaussian mechanism with
    sampling rate ``batch_size / n``, add-or-remove-one neighbours. The PLD accountant
    (Koskela et al., 2020; dp_accounting's ``PLDAccountant``, pessimistic discretisation) is
    nearly exact; converting RDP to (ε, δ) loses a little, typically 5-20 %.
    """
    from dp_accounting import dp_event
    from dp_accounting.pld import pld_privacy_accountant

    ours = privacy.dp_epsilon(n, batch_size, noise_multiplier, epochs, delta)
    accountant = pld_privacy_accountant.PLDAccountant()
    event = dp_event.PoissonSampledDpEvent(batch_size / n, dp_event.GaussianDpEvent(noise_multiplier))
    accountant.compose(event, privacy.dp_steps(n, batch_size, epochs))
    pld = accountant.get_epsilon(delta)
    assert pld <= ours <= 1.5 * pld, f"RDP ε {ours:.4f}, PLD ε {pld:.4f}"
