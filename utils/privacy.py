"""Privacy: membership inference attacks and differentially private training (DP-SGD).

Three tools, each small enough to read in one sitting:

* :func:`membership_inference` — the attacker's view. Given a trained model, a set of
  examples that *were* in its training set (members) and a set that were not
  (non-members), score every example ("how member-like is it?") and measure how well
  the score separates the two sets: ROC AUC, the membership advantage max(TPR − FPR) of
  Yeom et al. (IEEE CSF 2018), and the true-positive rate at 1 % false positives that
  Carlini et al. (IEEE S&P 2022) ask attacks to report. The per-class variant
  (:func:`membership_inference_per_class`) shows which classes leak most, the effect
  Yuan & Zhang (USENIX Security 2022) found to grow with pruning.
* :func:`dp_sgd_train` — DP-SGD (Abadi et al., ACM CCS 2016) written out: Poisson-sampled
  batches, per-example gradients, each clipped to L2 norm ``l2_norm_clip``, Gaussian noise
  of standard deviation ``noise_multiplier * l2_norm_clip`` added to their sum, divided by
  the expected batch size, applied by an ordinary optimiser. (``tensorflow-privacy``, which
  implements the same thing, pins TensorFlow ≤ 2.15 and cannot be installed next to the
  TensorFlow this course uses.)
* :func:`dp_epsilon` — the privacy guarantee (ε at a given δ) that this training run has,
  computed with Google's ``dp_accounting`` Rényi-DP accountant for Poisson-sampled
  Gaussian steps.

All models are tf_keras classifiers with integer labels. They may end in a softmax (every
model of the course) or output logits (the common ``from_logits=True`` Keras setup):
``from_logits=None`` detects which from the last layer (:func:`utils._core.outputs_logits`),
``from_logits=True/False`` says so.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from dp_accounting import dp_event
from dp_accounting.rdp import rdp_privacy_accountant
from sklearn.metrics import roc_auc_score, roc_curve

from . import keras, tf
from ._core import classification_loss, outputs_logits, unwrap
from ._validate import (
    check_choice,
    check_int,
    check_labels,
    check_probabilities,
    check_real,
    check_same_length,
)

__all__ = [
    "MembershipResult", "membership_scores", "membership_inference", "membership_inference_per_class",
    "auc_standard_error", "loss_threshold_roc",
    "per_example_gradients", "clip_gradients", "privatize", "dp_sgd_gradient", "dp_sgd_step", "dp_sgd_train",
    "DPTrainingLog", "dp_steps", "dp_epsilon", "RDP_ORDERS",
]

# ---------------------------------------------------------------------------------------------
# Membership inference
# ---------------------------------------------------------------------------------------------

METHODS = ("loss", "confidence")


def _as_pair(pair, name):
    """Validate an ``(x, y)`` pair of examples and integer labels."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"{name} must be an (x, y) pair of arrays, got {type(pair).__name__}")
    x, y = np.asarray(pair[0]), check_labels(pair[1], f"{name}: y")
    if len(y) == 0 and len(x) == 0:
        raise ValueError(f"{name} is empty; the attack needs examples to score")
    check_same_length(**{f"{name}: x": x, f"{name}: y": y})
    return x, y


def _batched(fn, x, batch_size=512):
    return np.concatenate([np.asarray(fn(x[i:i + batch_size])) for i in range(0, len(x), batch_size)])


def _features_before(model, last):
    """A function ``batch -> the input of the last layer`` (Sequential or functional models), or ``None``."""
    if isinstance(model, keras.Sequential):
        def before_last(batch):
            for layer in model.layers[:-1]:
                batch = layer(batch, training=False)
            return batch
        return before_last
    try:
        probe = keras.Model(model.inputs, last.input)
    except (AttributeError, ValueError):  # a layer used twice, a nested model: no single input
        return None
    return lambda batch: probe(batch, training=False)


def _softmax_logits(model, x):
    """The logits before the softmax output layer, recomputed in float64, or ``None`` if we cannot.

    Works when the last layer is ``Dense(..., activation="softmax")`` (all the course's
    classifiers: its kernel and bias are applied in float64) or a softmax ``Activation`` /
    ``Softmax`` layer after the layer that makes the logits.
    """
    last = model.layers[-1]
    inner = unwrap(last)
    activation = getattr(getattr(inner, "activation", None), "__name__", "")
    is_dense = isinstance(inner, keras.layers.Dense) and inner is last and activation == "softmax"
    is_softmax_layer = isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and activation == "softmax")
    if not (is_dense or is_softmax_layer):
        return None
    before_last = _features_before(model, last)
    if before_last is None:
        return None
    features = _batched(lambda b: np.asarray(before_last(b), dtype=np.float64), x)
    if is_dense:
        kernel = inner.kernel.numpy().astype(np.float64)
        bias = inner.bias.numpy().astype(np.float64) if inner.use_bias else 0.0
        return features @ kernel + bias
    return features


def _float64_logits(model, x, from_logits):
    """Logits of ``model`` for ``x`` in float64, shape ``(n, num_classes)``, for either kind of model.

    A model that outputs logits: its outputs, cast to float64. A softmax model: the logits it
    feeds its softmax, recomputed in float64 (:func:`_softmax_logits`); if its structure does
    not allow that, the log of its (checked) probabilities.
    """
    if from_logits:
        return _batched(lambda b: model(b, training=False).numpy(), x).astype(np.float64)
    logits = _softmax_logits(model, x)
    if logits is None:  # not a softmax-output model we can open up: fall back to its probabilities
        logits = np.log(np.maximum(_probabilities(model, x), 1e-300))
    return logits


def _log_softmax_at(logits, index):
    """``log softmax(logits)[i, index[i]]`` for every row, accurate even when it is -1e-30.

    ``log p_k = -log(1 + sum_{c != k} exp(z_c - z_k))``; when ``z_k`` is the largest logit, the
    sum is tiny and ``log1p`` keeps it (subtracting a log-sum-exp from ``z_k`` would round it to 0).
    """
    rows = np.arange(len(index))
    d = logits - logits[rows, index][:, None]
    d[rows, index] = -np.inf
    top = d.max(axis=1)
    safe = np.where(top < 0, 0.0, top)
    rest = np.exp(d - safe[:, None]).sum(axis=1)          # sum_{c != k} exp(d_c - safe)
    return np.where(top < 0, -np.log1p(rest), -(safe + np.log(np.exp(-safe) + rest)))


def _probabilities(model, x):
    """Softmax outputs of ``model`` on ``x``, as float64, checked to be probabilities."""
    probs = _batched(lambda b: model(b, training=False).numpy(), x)
    try:
        return check_probabilities(probs, "the model's outputs")
    except ValueError as error:
        raise ValueError(f"membership inference treats {model.name!r} as a softmax model "
                         f"(from_logits=False), but {error}. If the model outputs logits, pass "
                         "from_logits=True") from error


def membership_scores(model, x, y, *, method="loss", from_logits=None):
    """The attacker's score for each example: higher means "more likely a training member".

    Args:
        model: a tf_keras classifier with softmax or logits outputs.
        x: inputs, shape ``(n, ...)``; y: integer labels, shape ``(n,)``.
        method: ``"loss"`` — minus the cross-entropy loss, ``log p_y`` (the loss-threshold
            attack of Yeom et al., 2018: training examples have lower loss); ``"confidence"`` —
            the log of the model's highest probability, ``log max_c p_c``, which does not even
            need the label (the confidence-threshold attack in the spirit of Shokri et al., 2017,
            and Salem et al., 2019). Thresholding the *true-label* probability ``p_y`` would
            rank examples exactly like the loss, so it is not offered separately.
        from_logits: ``None`` detects whether the model outputs logits; ``True``/``False`` says so.

    Returns:
        float64 array of shape ``(n,)``.

    Precision matters here. A well-trained model is so confident on most examples that its
    float32 softmax rounds ``p`` to exactly 1.0, and members and non-members would tie at
    loss 0. We assume the attacker receives full-precision scores, as many prediction APIs
    return: the logits are taken in float64 (a softmax model's output layer is recomputed in
    float64; a logits model's outputs are the logits) and ``log p`` is taken with ``log1p``
    (the same reason Carlini et al., 2022, work with logit-scaled confidences).
    """
    from_logits = outputs_logits(model, from_logits)
    check_choice(method, "method", METHODS)
    x, y = _as_pair((x, y), "examples")
    logits = _float64_logits(model, x, from_logits)
    check_labels(y, "y", num_classes=logits.shape[1])
    index = y if method == "loss" else logits.argmax(axis=1)
    return _log_softmax_at(logits, index)


@dataclass
class MembershipResult:
    """The outcome of a membership inference attack (all rates are fractions in [0, 1]).

    Attributes:
        auc: area under the ROC curve; 0.5 = guessing, 1.0 = perfect separation.
        advantage: ``max over thresholds of TPR - FPR`` (Yeom et al.'s membership advantage;
            equivalently 2 × (best balanced attack accuracy) − 1).
        tpr_at_1_fpr: the highest TPR among thresholds whose FPR ≤ 1 % (Carlini et al.).
        fpr, tpr, thresholds: the ROC curve (``sklearn.metrics.roc_curve``), for plotting.
        member_scores, non_member_scores: the attack scores (higher = "member").
        method: ``"loss"`` or ``"confidence"``.
    """

    auc: float
    advantage: float
    tpr_at_1_fpr: float
    fpr: np.ndarray = field(repr=False)
    tpr: np.ndarray = field(repr=False)
    thresholds: np.ndarray = field(repr=False)
    member_scores: np.ndarray = field(repr=False)
    non_member_scores: np.ndarray = field(repr=False)
    method: str = "loss"

    def __str__(self):
        return (f"{self.method} attack: AUC {self.auc:.3f}, advantage {self.advantage:.3f}, "
                f"TPR at 1% FPR {self.tpr_at_1_fpr:.1%}")


def loss_threshold_roc(member_losses, non_member_losses):
    """The ROC curve and AUC of the loss-threshold attack "member if loss <= t", over every threshold t.

    For each threshold the true-positive rate is the fraction of members with loss ``<= t`` and the
    false-positive rate the fraction of non-members with loss ``<= t`` (Yeom et al., 2018). Every
    distinct loss value is one threshold (tied examples move together), and the curve starts at
    ``(0, 0)``; the AUC is the trapezoid area under it, equal to ``sklearn.metrics.roc_auc_score``.

    Args:
        member_losses, non_member_losses: 1-D arrays of per-example losses.

    Returns:
        ``(fpr, tpr, auc)``: two 1-D float arrays of equal length and a float.
    """
    member_losses = np.asarray(member_losses, dtype=np.float64).ravel()
    non_member_losses = np.asarray(non_member_losses, dtype=np.float64).ravel()
    if len(member_losses) == 0 or len(non_member_losses) == 0:
        raise ValueError("loss_threshold_roc needs at least one member and one non-member loss")
    labels = np.r_[np.ones(len(member_losses)), np.zeros(len(non_member_losses))]
    fpr, tpr, _ = roc_curve(labels, -np.r_[member_losses, non_member_losses], drop_intermediate=False)
    return fpr, tpr, float(np.trapezoid(tpr, fpr))


def _roc_summary(member_scores, non_member_scores, method, roc=None):
    """Summaries of the ROC curve; ``roc(member_losses, non_member_losses) -> (fpr, tpr, auc)`` if given."""
    if roc is not None:  # e.g. a student's loss_threshold_roc: it thresholds losses, i.e. minus the scores
        fpr, tpr, auc = roc(-np.asarray(member_scores), -np.asarray(non_member_scores))
        fpr, tpr = np.asarray(fpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64)
        thresholds = np.full(len(fpr), np.nan)
    else:
        labels = np.r_[np.ones(len(member_scores)), np.zeros(len(non_member_scores))]
        fpr, tpr, thresholds = roc_curve(labels, np.r_[member_scores, non_member_scores])
        auc = roc_auc_score(labels, np.r_[member_scores, non_member_scores])
    low_fpr = tpr[fpr <= 0.01]
    return MembershipResult(
        auc=float(auc), advantage=float(np.max(tpr - fpr)),
        tpr_at_1_fpr=float(low_fpr.max()) if len(low_fpr) else 0.0,
        fpr=fpr, tpr=tpr, thresholds=thresholds,
        member_scores=member_scores, non_member_scores=non_member_scores, method=method)


def membership_inference(model, members, non_members, *, method="loss", from_logits=None, roc=None):
    """Run a threshold membership inference attack and measure how well it works.

    Threat model: the attacker can query the model (black box) and sees its output
    probabilities for an example and, for ``method="loss"``, knows the example's label. They
    want to decide whether the example was in the training set. The attack picks a threshold
    on the score of :func:`membership_scores`; here we sweep every threshold and report the
    whole ROC curve and three summaries of it.

    Args:
        model: a tf_keras classifier with softmax or logits outputs.
        members: ``(x, y)`` — examples the model was trained on.
        non_members: ``(x, y)`` — examples from the same distribution that it never saw.
            Use as many as there are members (a balanced evaluation): the ROC summaries do not
            depend on the ratio, but an attack *accuracy* would.
        method: ``"loss"`` or ``"confidence"`` (see :func:`membership_scores`).
        from_logits: ``None`` detects whether the model outputs logits; ``True``/``False`` says so.
        roc: the function that turns the two groups' losses (minus the scores) into
            ``(fpr, tpr, auc)``; default ``sklearn.metrics.roc_curve``. Lab 05 passes the student's
            :func:`loss_threshold_roc` here (``thresholds`` is then all ``nan``).

    Returns:
        :class:`MembershipResult` with ``auc``, ``advantage`` and ``tpr_at_1_fpr`` (and the ROC
        curve). References: Shokri et al., IEEE S&P 2017; Yeom et al., IEEE CSF 2018;
        Carlini et al., IEEE S&P 2022.
    """
    x_in, y_in = _as_pair(members, "members")
    x_out, y_out = _as_pair(non_members, "non_members")
    options = dict(method=method, from_logits=outputs_logits(model, from_logits))
    return _roc_summary(membership_scores(model, x_in, y_in, **options),
                        membership_scores(model, x_out, y_out, **options), method, roc)


def auc_standard_error(auc, n_members, n_non_members):
    """Standard error of an AUC estimated from ``n_members`` and ``n_non_members`` examples.

    The Hanley & McNeil (Radiology, 1982) approximation. With 100 members and 100 non-members an
    AUC near 0.5 is uncertain by about ±0.04: differences smaller than that are noise.
    """
    auc = check_real(auc, "auc", low=0.0, high=1.0)
    n1 = check_int(n_members, "n_members", minimum=1)
    n2 = check_int(n_non_members, "n_non_members", minimum=1)
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    variance = (auc * (1 - auc) + (n1 - 1) * (q1 - auc ** 2) + (n2 - 1) * (q2 - auc ** 2)) / (n1 * n2)
    return float(np.sqrt(max(variance, 0.0)))


def membership_inference_per_class(model, members, non_members, *, method="loss", num_classes=None,
                                   from_logits=None, roc=None):
    """:func:`membership_inference` restricted to each true class in turn.

    Yuan & Zhang (USENIX Security 2022) found that pruning makes the attack's success more
    *uneven* across classes; this table shows it. Classes with fewer than 2 members or
    2 non-members get ``nan``. ``method``, ``from_logits`` and ``roc`` as in :func:`membership_inference`;
    ``num_classes`` defaults to the largest label + 1.

    Returns:
        ``pandas.DataFrame`` with one row per class: ``class``, ``members``, ``non_members``,
        ``auc``, ``advantage``.
    """
    x_in, y_in = _as_pair(members, "members")
    x_out, y_out = _as_pair(non_members, "non_members")
    from_logits = outputs_logits(model, from_logits)
    scores_in = membership_scores(model, x_in, y_in, method=method, from_logits=from_logits)
    scores_out = membership_scores(model, x_out, y_out, method=method, from_logits=from_logits)
    largest = int(max(y_in.max(), y_out.max()))
    num_classes = largest + 1 if num_classes is None else check_int(num_classes, "num_classes",
                                                                     minimum=largest + 1)
    rows = []
    for c in range(num_classes):
        s_in, s_out = scores_in[y_in == c], scores_out[y_out == c]
        row = {"class": c, "members": len(s_in), "non_members": len(s_out), "auc": np.nan,
               "advantage": np.nan}
        if len(s_in) >= 2 and len(s_out) >= 2:
            result = _roc_summary(s_in, s_out, method, roc)
            row.update(auc=result.auc, advantage=result.advantage)
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# DP-SGD
# ---------------------------------------------------------------------------------------------

def _check_positive(value, name, *, allow_zero=False):
    """A finite real number ``> 0`` (or ``>= 0`` with ``allow_zero``), as a float."""
    return check_real(value, name, low=0.0, low_open=not allow_zero)


def per_example_gradients(model, x, y, *, from_logits=None):
    """The gradient of each example's loss, computed for all examples at once.

    ``tf.vectorized_map`` runs the single-example gradient computation for every row of
    ``x`` in parallel (it vectorises the loop instead of running it ``n`` times).

    Args:
        model: a tf_keras classifier with softmax or logits outputs.
        x: a batch of inputs, shape ``(n, ...)``; y: integer labels, shape ``(n,)``.
        from_logits: ``None`` detects whether the model outputs logits; ``True``/``False`` says so.

    Returns:
        A list with one tensor per trainable variable ``v`` of shape ``(n, *v.shape)``.
    """
    from_logits = outputs_logits(model, from_logits)
    variables = model.trainable_variables

    def one_example(example):
        xi, yi = example
        with tf.GradientTape() as tape:
            loss = classification_loss(yi[None], model(xi[None], training=True), from_logits=from_logits)
        return tape.gradient(loss, variables)

    return tf.vectorized_map(one_example, (x, y))


def clip_gradients(per_example, l2_norm_clip):
    """Scale each example's gradient down so that its L2 norm is at most ``l2_norm_clip``.

    The norm is taken over *all* variables together (the whole gradient vector of one
    example), as in Abadi et al. (2016): ``g_i ← g_i / max(1, ‖g_i‖₂ / C)``. Gradients already
    shorter than ``C`` are unchanged. ``l2_norm_clip=None`` means no clipping.

    Args:
        per_example: list of tensors ``(n, *v.shape)`` from :func:`per_example_gradients`.

    Returns:
        ``(clipped, norms)``: the clipped list and the ``(n,)`` norms before clipping.
    """
    n = tf.shape(per_example[0])[0]
    squares = [tf.reduce_sum(tf.reshape(tf.square(g), (n, -1)), axis=1) for g in per_example]
    norms = tf.sqrt(tf.add_n(squares))
    if l2_norm_clip is None:
        return list(per_example), norms
    factors = 1.0 / tf.maximum(1.0, norms / l2_norm_clip)
    clipped = [g * tf.reshape(factors, [-1] + [1] * (len(g.shape) - 1)) for g in per_example]
    return clipped, norms


def privatize(per_example, *, l2_norm_clip, noise_multiplier, expected_batch_size, generator=None):
    """The DP-SGD gradient: clip each example, sum, add Gaussian noise, divide.

    ``g̃ = (Σ_i clip(g_i, C) + N(0, σ²C² I)) / B`` where ``B`` is the *expected* batch size
    ``q·n`` of Poisson sampling (dividing by the actual size would reveal it).

    Args:
        per_example: list of tensors ``(n, *v.shape)``.
        l2_norm_clip: the clipping norm ``C`` (``None``: no clipping; only allowed with
            ``noise_multiplier == 0``, i.e. no privacy).
        noise_multiplier: ``σ``; the noise standard deviation is ``σ·C``.
        expected_batch_size: ``B``.
        generator: a ``tf.random.Generator`` for the noise (its state lives outside any
            ``tf.function``, so every step draws fresh noise); default: ``tf.random.normal``.

    Returns:
        A list of tensors with the variables' shapes: the noisy average gradient.
    """
    clipped, _ = clip_gradients(per_example, l2_norm_clip)
    stddev = 0.0 if noise_multiplier == 0 else noise_multiplier * l2_norm_clip
    normal = generator.normal if generator is not None else tf.random.normal
    result = []
    for g in clipped:
        total = tf.reduce_sum(g, axis=0)
        if stddev > 0:
            total += normal(tf.shape(total), stddev=stddev, dtype=total.dtype)
        result.append(total / expected_batch_size)
    return result


def dp_sgd_gradient(per_example_grads, noise, l2_norm_clip, noise_multiplier, expected_batch_size):
    """One DP-SGD gradient in NumPy, with the noise given: ``(Σ_i clip(g_i, C) + σ·C·z) / B``.

    The same computation as :func:`privatize`, written with arrays, and with the standard normal
    draws ``z`` passed in (so that two implementations fed the same ``z`` agree exactly):

    1. clip every example's *whole* gradient (all variables together) to L2 norm ``C``:
       ``g_i ← g_i · min(1, C / ‖g_i‖₂)``;
    2. sum the clipped gradients over the examples;
    3. add the noise ``σ·C·z`` (one draw per coordinate, added once to the sum);
    4. divide by the *expected* batch size ``B`` (not the actual one, which Poisson sampling varies).

    Args:
        per_example_grads: list with one array per variable, shape ``(n, *variable_shape)``.
        noise: list of standard normal arrays ``z``, one per variable, shape ``variable_shape``.
        l2_norm_clip: ``C`` (> 0); noise_multiplier: ``σ`` (≥ 0); expected_batch_size: ``B`` (> 0).

    Returns:
        A list with one float64 array per variable, shape ``variable_shape``. The inputs are not modified.
    """
    grads = [np.asarray(g, dtype=np.float64) for g in per_example_grads]
    n = grads[0].shape[0]
    norms = np.sqrt(sum(np.sum(np.reshape(g, (n, -1)) ** 2, axis=1) for g in grads))
    factors = np.minimum(1.0, l2_norm_clip / np.maximum(norms, 1e-12))
    return [(np.sum(g * factors.reshape((n,) + (1,) * (g.ndim - 1)), axis=0)
             + noise_multiplier * l2_norm_clip * np.asarray(z, dtype=np.float64)) / expected_batch_size
            for g, z in zip(grads, noise)]


def _check_dp_arguments(l2_norm_clip, noise_multiplier):
    noise_multiplier = _check_positive(noise_multiplier, "noise_multiplier", allow_zero=True)
    if l2_norm_clip is None:
        if noise_multiplier > 0:
            raise ValueError("l2_norm_clip=None (no clipping) only makes sense without noise: the noise "
                             "scale is noise_multiplier * l2_norm_clip, and without clipping one example "
                             "can change the sum without bound, so no noise gives privacy")
        return None, noise_multiplier
    return _check_positive(l2_norm_clip, "l2_norm_clip"), noise_multiplier


def dp_sgd_step(model, optimizer, x, y, *, l2_norm_clip, noise_multiplier, expected_batch_size,
                generator=None, from_logits=None):
    """One DP-SGD update of ``model`` on the batch ``(x, y)``; returns the mean loss of the batch.

    With ``noise_multiplier=0``, ``l2_norm_clip=None`` and ``expected_batch_size=len(x)`` this is
    exactly one step of ordinary mini-batch SGD on the mean loss. ``from_logits``: ``None``
    detects whether the model outputs logits; ``True``/``False`` says so.
    """
    from_logits = outputs_logits(model, from_logits)
    l2_norm_clip, noise_multiplier = _check_dp_arguments(l2_norm_clip, noise_multiplier)
    x = tf.convert_to_tensor(x)
    y = tf.convert_to_tensor(y)
    grads = privatize(per_example_gradients(model, x, y, from_logits=from_logits), l2_norm_clip=l2_norm_clip,
                      noise_multiplier=noise_multiplier, expected_batch_size=expected_batch_size,
                      generator=generator)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return float(classification_loss(y, model(x, training=False), from_logits=from_logits, reduction="mean"))


@dataclass
class DPTrainingLog:
    """What a DP-SGD run did — everything the accountant needs, and the training losses."""

    n: int
    batch_size: int
    sample_rate: float
    noise_multiplier: float
    l2_norm_clip: float
    epochs: int
    steps: int
    sampling: str
    losses: list = field(repr=False, default_factory=list)


def dp_steps(n, batch_size, epochs):
    """Number of DP-SGD steps for ``epochs`` passes: ``ceil(epochs · n / batch_size)``."""
    epochs, n = check_int(epochs, "epochs", minimum=1), check_int(n, "n", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    return int(math.ceil(epochs * n / batch_size))


def _training_arrays(data):
    if hasattr(data, "x_train") and hasattr(data, "y_train"):
        return np.asarray(data.x_train), np.asarray(data.y_train)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return _as_pair(data, "data")
    raise TypeError("data must be a utils.data.Dataset (its training split is used) or an (x, y) pair, "
                    f"got {type(data).__name__}")


def _make_optimizer(optimizer, learning_rate):
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return optimizer
    if optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate)
    if optimizer == "adam":
        return keras.optimizers.Adam(learning_rate)
    if not isinstance(optimizer, str):
        raise TypeError("optimizer must be 'sgd', 'adam' or a keras optimizer, "
                        f"got {type(optimizer).__name__}")
    raise ValueError(f"optimizer must be 'sgd', 'adam' or a keras optimizer, got {optimizer!r}")


def dp_sgd_train(model, data, *, l2_norm_clip, noise_multiplier, batch_size, epochs, learning_rate=0.1,
                 optimizer="sgd", sampling="poisson", freeze_zeros=False, seed=0, from_logits=None,
                 gradient_fn=None):
    """Train ``model`` in place with DP-SGD (Abadi et al., *Deep Learning with Differential Privacy*, 2016).

    Each step:

    1. **sample** a batch: with ``sampling="poisson"`` every training example joins
       independently with probability ``q = batch_size / n`` (so the batch size varies around
       ``batch_size``) — exactly what :func:`dp_epsilon`'s accountant assumes;
    2. compute **per-example gradients** (:func:`per_example_gradients`);
    3. **clip** each example's whole gradient to L2 norm ``l2_norm_clip`` (:func:`clip_gradients`);
    4. **sum**, add **Gaussian noise** ``N(0, (noise_multiplier · l2_norm_clip)²)`` to every
       coordinate, divide by ``batch_size`` (:func:`privatize`);
    5. apply the result with an ordinary optimiser. SGD is the textbook choice; Adam works too,
       because anything computed from the noisy gradient alone is post-processing and keeps
       the DP guarantee.

    ``sampling="shuffle"`` instead cuts a shuffled training set into fixed-size batches, the
    common practice in code. Then the accountant's Poisson assumption does not hold and the ε
    it reports is, strictly, not a proven guarantee for the run — use it only for comparisons.

    Args:
        model: a tf_keras classifier with softmax or logits outputs and no BatchNormalization (a
            small one: per-example gradients cost memory proportional to batch size × parameters).
        data: a :class:`utils.data.Dataset` (training split) or an ``(x, y)`` pair — the private data.
        l2_norm_clip: the clipping norm ``C`` (> 0).
        noise_multiplier: ``σ`` (≥ 0; 0 means no privacy at all).
        batch_size: the *expected* batch size ``q·n``.
        epochs: passes over the data; the run makes :func:`dp_steps` ``(n, batch_size, epochs)`` steps.
        learning_rate, optimizer: ``"sgd"`` (default), ``"adam"`` or a keras optimizer instance.
        freeze_zeros: if True, weights that are exactly zero at the start stay zero (masks are
            re-applied after every step) — for fine-tuning a pruned model.
        seed: seeds the batch sampling and the noise.
        from_logits: ``None`` detects whether the model outputs logits (the loss is computed
            from them); ``True``/``False`` says so.
        gradient_fn: steps 3–4 written in NumPy, with the signature of :func:`dp_sgd_gradient`
            (Lab 05 passes the student's function). ``None`` runs :func:`privatize` in TensorFlow.
            With a ``gradient_fn`` the noise ``z`` is drawn with NumPy from ``seed``, so two correct
            functions give the same run.

    Returns:
        :class:`DPTrainingLog` (pass its fields to :func:`dp_epsilon`).
    """
    from_logits = outputs_logits(model, from_logits)
    batch_norm = [layer.name for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if batch_norm:
        raise ValueError(f"DP-SGD cannot train BatchNormalization layers ({batch_norm}): batch statistics "
                         "mix examples, so one example's influence is no longer bounded by clipping. Use a "
                         "model without BatchNorm (e.g. utils.models.mlp, or small_cnn(batch_norm=False))")
    l2_norm_clip, noise_multiplier = _check_dp_arguments(l2_norm_clip, noise_multiplier)
    if l2_norm_clip is None:
        raise ValueError("dp_sgd_train needs a positive l2_norm_clip (clipping bounds each example's "
                         "influence); for a plain, non-private run use utils.training.train")
    check_choice(sampling, "sampling", ("poisson", "shuffle"))
    x, y = _training_arrays(data)
    n = len(y)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if batch_size > n:
        raise ValueError(f"batch_size ({batch_size}) cannot exceed the number of training examples ({n})")
    steps = dp_steps(n, batch_size, epochs)
    opt = _make_optimizer(optimizer, learning_rate)
    variables = model.trainable_variables
    masks = [tf.cast(tf.not_equal(v, 0), v.dtype) for v in variables] if freeze_zeros else None
    rng = np.random.default_rng(seed)                 # the batch sampling
    generator = tf.random.Generator.from_seed(seed)  # the noise: a fresh draw at every step
    x_all, y_all = tf.convert_to_tensor(x), tf.convert_to_tensor(y)

    # Batch sizes vary with Poisson sampling: reduce_retracing traces once for all. autograph=False: the step
    # has no tensor-dependent Python control flow to convert (its `if`/`for` run on Python values at trace
    # time), and converting a closure re-reads this file's source, which can fail ("AutoGraph could not
    # transform ... closure mismatch") and print a warning into the caller's notebook.
    @tf.function(reduce_retracing=True, autograph=False)
    def step(xb, yb):
        grads = privatize(per_example_gradients(model, xb, yb, from_logits=from_logits),
                          l2_norm_clip=l2_norm_clip, noise_multiplier=noise_multiplier,
                          expected_batch_size=float(batch_size), generator=generator)
        opt.apply_gradients(zip(grads, variables))
        if masks is not None:
            for v, m in zip(variables, masks):
                v.assign(v * m)
        return classification_loss(yb, model(xb, training=False), from_logits=from_logits, reduction="mean")

    if gradient_fn is not None:
        step = _numpy_step(model, opt, masks, gradient_fn, l2_norm_clip, noise_multiplier, batch_size,
                           np.random.default_rng([seed, 1]), from_logits)

    losses, order, position = [], rng.permutation(n), 0
    for _ in range(steps):
        if sampling == "poisson":
            index = np.flatnonzero(rng.random(n) < batch_size / n)  # each example joins with prob. q
        else:
            if position + batch_size > n:
                order, position = rng.permutation(n), 0
            index, position = order[position:position + batch_size], position + batch_size
        loss = step(tf.gather(x_all, index), tf.gather(y_all, index))
        if len(index):  # an empty Poisson batch still makes a (pure-noise) update
            losses.append(float(loss))
    return DPTrainingLog(n=n, batch_size=batch_size, sample_rate=batch_size / n,
                         noise_multiplier=noise_multiplier, l2_norm_clip=l2_norm_clip, epochs=int(epochs),
                         steps=steps, sampling=sampling, losses=losses)


def _numpy_step(model, opt, masks, gradient_fn, l2_norm_clip, noise_multiplier, batch_size, noise_rng,
                from_logits):
    """A DP-SGD step whose clipping, noise and averaging are ``gradient_fn`` (NumPy), for dp_sgd_train."""
    variables = model.trainable_variables

    @tf.function(reduce_retracing=True, autograph=False)  # as in dp_sgd_train: nothing to convert
    def gradients(xb, yb):
        return per_example_gradients(model, xb, yb, from_logits=from_logits)

    def step(xb, yb):
        per_example = [g.numpy() for g in gradients(xb, yb)]
        noise = [noise_rng.standard_normal(tuple(v.shape)) for v in variables]
        grads = gradient_fn(per_example, noise, l2_norm_clip, noise_multiplier, float(batch_size))
        opt.apply_gradients([(tf.convert_to_tensor(np.asarray(g), dtype=v.dtype), v)
                             for g, v in zip(grads, variables)])
        if masks is not None:
            for v, m in zip(variables, masks):
                v.assign(v * m)
        return classification_loss(yb, model(xb, training=False), from_logits=from_logits, reduction="mean")

    return step


# ---------------------------------------------------------------------------------------------
# Privacy accounting
# ---------------------------------------------------------------------------------------------

# Rényi orders at which the accountant evaluates the privacy loss; ε is the best bound over them.
# Every order gives a valid bound. Orders below 2 are left out: for them dp_accounting's series
# does not always converge at sampling rates like ours (it then skips the order with a warning),
# and they only matter for ε < 1.
RDP_ORDERS = tuple([2 + x / 4 for x in range(0, 33)] + list(range(11, 33)) + [40, 48, 64, 96, 128, 256, 512])


def dp_epsilon(n, batch_size, noise_multiplier, epochs, delta):
    """ε of (ε, δ)-differential privacy for a DP-SGD run, from the RDP accountant of ``dp_accounting``.

    The run is modelled as ``dp_steps(n, batch_size, epochs)`` compositions of a
    **Poisson-sampled Gaussian mechanism**: each step includes every example independently
    with probability ``q = batch_size / n`` and adds Gaussian noise with ``noise_multiplier``
    ``σ`` (relative to the clipping norm). This is the sampling :func:`dp_sgd_train` uses with
    ``sampling="poisson"``. Training on shuffled fixed-size batches (the common practice) is a
    different mechanism; the number this function returns is then only an approximation.
    The neighbouring relation is add-or-remove-one-example.

    Args:
        n: number of training examples.
        batch_size: expected batch size (``q = batch_size / n``).
        noise_multiplier: ``σ`` (> 0; ``σ = 0`` gives ``ε = inf``: no privacy).
        epochs: passes over the data (a positive int).
        delta: target δ in (0, 1); choose it well below ``1/n`` (e.g. 1e-5).

    Returns:
        ε as a float (smaller is more private).

    References: Abadi et al., CCS 2016 (moments accountant); Mironov, *Rényi Differential
    Privacy*, CSF 2017; the dp_accounting library (github.com/google/differential-privacy).
    """
    steps = dp_steps(n, batch_size, epochs)
    if batch_size > n:
        raise ValueError(f"batch_size ({batch_size}) cannot exceed n ({n})")
    noise_multiplier = _check_positive(noise_multiplier, "noise_multiplier", allow_zero=True)
    delta = check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True,
                       meaning="choose it well below 1/n, e.g. 1e-5")
    if noise_multiplier == 0:
        return math.inf
    event = dp_event.PoissonSampledDpEvent(batch_size / n, dp_event.GaussianDpEvent(noise_multiplier))
    accountant = rdp_privacy_accountant.RdpAccountant(list(RDP_ORDERS))
    accountant.compose(dp_event.SelfComposedDpEvent(event, steps))
    return float(accountant.get_epsilon(delta))
