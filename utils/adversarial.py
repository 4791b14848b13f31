"""Adversarial examples under an L∞ budget, robust accuracy and adversarial training.

Threat model used throughout (the *white-box* setting of Madry et al., ICLR 2018): the
attacker knows the model and its weights, can compute gradients, and may change every pixel
of an input image by at most ``eps`` (the L∞ budget) while keeping pixel values in the valid
range [0, 1]. Their goal is an *untargeted* misclassification: any wrong class will do.

Loss convention: the attacks maximise Keras's sparse categorical cross-entropy of the
model's outputs. The course's models end in a softmax; a model that outputs logits works too
(``from_logits=None`` detects which from the last layer, see
:func:`utils._core.outputs_logits`; pass ``from_logits=True/False`` to say so). For softmax
outputs ``tf_keras`` computes this loss from the logits cached by the softmax activation, so
the gradient does not vanish for confident predictions (``log(clip(p, 1e-7, 1 - 1e-7))`` of
saturated probabilities would have a zero gradient and *mask* it; a test checks that it
does not).

- :func:`fgsm` — Fast Gradient Sign Method, one step of size ``eps`` (Goodfellow, Shlens,
  Szegedy, *Explaining and Harnessing Adversarial Examples*, ICLR 2015).
- :func:`pgd` — Projected Gradient Descent: random start, ``steps`` sign steps of size
  ``alpha``, each followed by projection back onto the ``eps``-ball and the valid range
  (Madry et al., *Towards Deep Learning Models Resistant to Adversarial Attacks*, ICLR 2018).
- :func:`robust_accuracy` — accuracy on the attacked inputs.
- :func:`adversarial_train` — train on adversarial examples made on the fly (Madry et al.;
  with ``attack="fgsm"`` it is FGSM with a random start, the cheap variant of Wong, Rice and
  Kolter, *Fast is better than free*, ICLR 2020).
- :func:`prune_and_fine_tune` — one-shot magnitude pruning, then fine-tuning with the mask
  fixed, on clean or on adversarial examples: the simplest form of robustness-aware pruning
  (compare Ye et al., ICCV 2019; Sehwag et al., HYDRA, NeurIPS 2020).

Every attack accepts ``samples``: the number of forward passes whose input gradients are
averaged. It is 1 for ordinary (deterministic) models; for a *randomised* model, e.g. one with
stochastic activation pruning (:mod:`utils.sap`), ``samples > 1`` is the *expectation over
transformation* (EOT) attack of Athalye, Carlini and Wagner (ICML 2018).
"""

import numpy as np

from . import keras, tf
from ._core import FixedMask, classification_loss, kernel_masks, outputs_logits, require_model
from ._validate import check_int, check_labels, check_real, check_same_length
from .pruning import prune_weights
from .training import VALIDATION_BATCH_SIZE, check_class_weight, loss_for, train, training_batches

__all__ = ["input_gradient", "fgsm", "pgd_step", "pgd", "robust_accuracy", "adversarial_train",
           "adversarial_train_step", "adversarial_fit", "prune_and_fine_tune", "AdversarialTrainer",
           "ATTACKS"]


# ------------------------------------------------------------------ argument checks
def _check_inputs(x, y=None, clip=(0.0, 1.0)):
    """Inputs in the valid range ``clip`` (never clipped silently) and, if given, one integer label each."""
    x = np.asarray(x, dtype=np.float32)
    low, high = clip
    if x.size and (x.min() < low or x.max() > high):
        raise ValueError(f"inputs must lie in the valid range [{low}, {high}], got values in "
                         f"[{x.min():.3g}, {x.max():.3g}]; scale the images first (they are never clipped "
                         "silently)")
    if y is None:
        return x
    y = check_labels(y)
    check_same_length(x=x, y=y)
    return x, y


def _check_eps(eps, clip=(0.0, 1.0)):
    return check_real(eps, "eps", low=0.0, high=clip[1] - clip[0], meaning="an L∞ budget in pixel units")


def _project(x_adv, x, eps, clip):
    """Back onto the L∞ ball of radius ``eps`` around ``x`` and into the valid range."""
    return tf.clip_by_value(tf.clip_by_value(x_adv, x - eps, x + eps), clip[0], clip[1])


def _batches(n, batch_size):
    return [slice(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]


# ------------------------------------------------------------------ gradients
@tf.function(reduce_retracing=True)
def _one_gradient(model, x, y, from_logits):
    """∇ₓ of the summed cross-entropy for one forward pass (compiled once per model)."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = classification_loss(y, model(x, training=False), from_logits=from_logits)
    return tape.gradient(loss, x)


def _loss_gradient(model, x, y, samples, from_logits):
    """∇ₓ of the summed cross-entropy, averaged over ``samples`` forward passes (tensors in, tensor out)."""
    total = _one_gradient(model, x, y, from_logits)
    for _ in range(samples - 1):  # a randomised model gives a different gradient every pass
        total += _one_gradient(model, x, y, from_logits)
    return total / samples


def input_gradient(model, x, y, *, samples=1, batch_size=512, from_logits=None):
    """Gradient of the cross-entropy loss with respect to the *input* images.

    Args:
        model: a tf_keras classifier with softmax or logits outputs.
        x: images ``(n, h, w, c)`` in [0, 1].
        y: integer labels ``(n,)``.
        samples: forward passes to average over (``> 1`` only matters for randomised models:
            expectation over transformation, Athalye et al., ICML 2018).
        batch_size: examples per gradient computation.
        from_logits: ``None`` detects whether the model outputs logits; ``True``/``False`` says so.

    Returns:
        ``(n, h, w, c)`` float32 array: ∂ loss(model(x_i), y_i) / ∂ x_i for each example.
    """
    from_logits = outputs_logits(model, from_logits)
    x, y = _check_inputs(x, y)
    samples = check_int(samples, "samples", minimum=1)
    grads = [_loss_gradient(model, tf.constant(x[s]), tf.constant(y[s]), samples, from_logits).numpy()
             for s in _batches(len(x), batch_size)]
    return np.concatenate(grads) if grads else np.zeros_like(x)


# ------------------------------------------------------------------ attacks
def fgsm(model, x, y, eps, *, samples=1, clip=(0.0, 1.0), batch_size=512, from_logits=None):
    """Fast Gradient Sign Method (Goodfellow et al., ICLR 2015), untargeted, L∞.

    One step: ``x_adv = clip(x + eps · sign(∇ₓ loss(model(x), y)), 0, 1)``.

    Args:
        model: a tf_keras classifier with softmax or logits outputs.
        x: images ``(n, h, w, c)`` in the range ``clip``.
        y: true integer labels ``(n,)``.
        eps: L∞ budget, e.g. 0.1 = every pixel may move by at most 10 % of the range.
        samples: forward passes averaged per gradient (EOT for randomised models).
        clip: the valid input range.
        from_logits: ``None`` detects whether the model outputs logits; ``True``/``False`` says so.

    Returns:
        ``x_adv`` of the same shape and dtype float32, with ``|x_adv - x| ≤ eps`` everywhere.
    """
    from_logits = outputs_logits(model, from_logits)
    x, y = _check_inputs(x, y, clip)
    eps = _check_eps(eps, clip)
    if eps == 0.0:
        return x.copy()
    grad = input_gradient(model, x, y, samples=samples, batch_size=batch_size, from_logits=from_logits)
    return np.clip(x + eps * np.sign(grad), clip[0], clip[1]).astype(np.float32)


def pgd_step(model, x_adv, x, y, eps, alpha):
    """One PGD iteration (Madry et al., ICLR 2018): a signed-gradient step, then two projections.

    ``x_next = clip_[0,1]( clip_[x-eps, x+eps]( x_adv + alpha · sign(∇ loss(model(x_adv), y)) ) )``

    The gradient is taken at the *current* point ``x_adv``; the projection is onto the L∞ ball
    around the *clean* images ``x`` (not around ``x_adv``), then onto the valid pixel range [0, 1].

    Args:
        model: a tf_keras classifier (softmax or logits outputs).
        x_adv: the current adversarial images ``(n, h, w, c)``, inside the ball and the range.
        x: the clean images ``(n, h, w, c)`` in [0, 1].
        y: true integer labels ``(n,)``.
        eps: L∞ budget; alpha: step size.

    Returns:
        The next iterate, float32, same shape as ``x``.
    """
    x, y = _check_inputs(x, y)
    x_adv = _check_inputs(x_adv)
    gradient = input_gradient(model, x_adv, y)
    stepped = x_adv + alpha * np.sign(gradient)
    return np.clip(np.clip(stepped, x - eps, x + eps), 0.0, 1.0).astype(np.float32)


def _pgd_batch(model, x, y, eps, alpha, steps, random_start, samples, clip, rng, from_logits, step=None):
    if step is not None:  # a pgd_step(model, x_adv, x, y, eps, alpha) function, e.g. a student's
        x_adv = np.clip(x + rng.uniform(-eps, eps, size=x.shape), 0.0, 1.0).astype(np.float32) \
            if random_start else x.copy()
        for _ in range(steps):
            x_adv = np.asarray(step(model, x_adv, x, y, eps, alpha), dtype=np.float32)
        return x_adv
    x = tf.constant(x)
    y = tf.constant(y)
    if random_start:
        start = rng.uniform(-eps, eps, size=x.shape).astype(np.float32)
        x_adv = _project(x + start, x, eps, clip)
    else:
        x_adv = x
    for _ in range(steps):
        grad = _loss_gradient(model, x_adv, y, samples, from_logits)
        x_adv = _project(x_adv + alpha * tf.sign(grad), x, eps, clip)
    return x_adv.numpy()


def _fooled(model, x_adv, y):
    return np.argmax(model(x_adv, training=False).numpy(), axis=1) != y  # argmax: logits or softmax alike


def pgd(model, x, y, eps, *, alpha, steps, random_start=True, restarts=1, samples=1,
        clip=(0.0, 1.0), batch_size=512, seed=0, from_logits=None, step=None):
    """Projected Gradient Descent attack (Madry et al., ICLR 2018), untargeted, L∞.

    Start at a uniformly random point of the ``eps``-ball around ``x`` (if ``random_start``),
    then repeat ``steps`` times: step ``alpha · sign(gradient)`` uphill on the loss, and
    project back onto the ball ``|x_adv - x| ≤ eps`` and the valid range.

    With ``restarts > 1`` the attack is run again from new random starts, and an example
    counts as broken if *any* restart fools the model (the harder, more honest evaluation).

    Args:
        model: a tf_keras classifier with softmax or logits outputs.
        x: images ``(n, h, w, c)`` in the range ``clip``.
        y: true integer labels ``(n,)``.
        eps: L∞ budget.
        alpha: step size (commonly ``2.5 · eps / steps``).
        steps: number of gradient steps (a positive int).
        random_start: start from a random point of the ball (``False``: start at ``x``).
        restarts: independent runs; the first that fools the model is kept per example.
        samples: forward passes averaged per gradient (EOT for randomised models).
        clip: the valid input range.
        seed: seed of the random starts (same seed → same adversarial examples).
        from_logits: ``None`` detects whether the model outputs logits; ``True``/``False`` says so.
        step: optional function ``step(model, x_adv, x, y, eps, alpha) -> x_next`` doing one
            iteration (e.g. :func:`pgd_step`, or a student's version of it); ``None`` uses the
            built-in compiled iteration. A ``step`` works on the range [0, 1] with ``samples=1``.

    Returns:
        ``x_adv``, float32, same shape as ``x``.
    """
    from_logits = outputs_logits(model, from_logits)
    if step is not None:
        if not callable(step):
            raise TypeError("step must be a function step(model, x_adv, x, y, eps, alpha), "
                            f"got {type(step).__name__}")
        if tuple(clip) != (0.0, 1.0) or samples != 1:
            raise ValueError("a custom step works on the range [0, 1] with samples=1")
    x, y = _check_inputs(x, y, clip)
    eps = _check_eps(eps, clip)
    steps = check_int(steps, "steps", minimum=1)
    restarts = check_int(restarts, "restarts", minimum=1)
    samples = check_int(samples, "samples", minimum=1)
    alpha = check_real(alpha, "alpha", low=0.0, low_open=True, meaning="the step size")
    if eps == 0.0:
        return x.copy()
    rng = np.random.default_rng(seed)
    best = x.copy()
    for s in _batches(len(x), batch_size):
        remaining = np.ones(s.stop - s.start, dtype=bool)  # not yet fooled
        for _ in range(restarts):
            idx = np.flatnonzero(remaining)
            if idx.size == 0:
                break
            x_adv = _pgd_batch(model, x[s][idx], y[s][idx], eps, alpha, steps, random_start,
                               samples, clip, rng, from_logits, step)
            best[s.start + idx] = x_adv
            remaining[idx[_fooled(model, x_adv, y[s][idx])]] = False
    return best


ATTACKS = {"fgsm": fgsm, "pgd": pgd}
"""The attacks known by name, to :func:`robust_accuracy` and :func:`utils.audit.security_audit`."""


def robust_accuracy(model, x, y, attack, eps, *, samples=1, eval_samples=1, **attack_kwargs):
    """Accuracy of ``model`` on adversarial examples made by ``attack`` with budget ``eps``.

    Args:
        model: a tf_keras classifier.
        x, y: clean images in [0, 1] and their integer labels.
        attack: ``"fgsm"``, ``"pgd"`` or a function ``attack(model, x, y, eps, **kwargs) -> x_adv``.
        eps: L∞ budget (``0`` gives the clean accuracy).
        samples: forward passes per gradient for the attack (EOT; see :func:`pgd`).
        eval_samples: for a *randomised* model, the accuracy is averaged over this many
            stochastic predictions of the attacked inputs (the expected accuracy over the
            model's randomness). Leave at 1 for deterministic models.
        **attack_kwargs: passed on, e.g. ``alpha=0.025, steps=10, restarts=2``.

    Returns:
        A float in [0, 1].
    """
    require_model(model)
    x, y = _check_inputs(x, y)
    eval_samples = check_int(eval_samples, "eval_samples", minimum=1)
    if isinstance(attack, str):
        if attack not in ATTACKS:
            raise ValueError(f"attack must be one of {sorted(ATTACKS)} or a function, got {attack!r}")
        attack = ATTACKS[attack]
    elif not callable(attack):
        raise TypeError(f"attack must be 'fgsm', 'pgd' or a function, got {type(attack).__name__}")
    if samples != 1:
        attack_kwargs["samples"] = samples
    x_adv = attack(model, x, y, eps, **attack_kwargs)
    correct = [np.mean(~_fooled(model, x_adv, y)) for _ in range(eval_samples)]
    return float(np.mean(correct))


# ------------------------------------------------------------------ adversarial training
class AdversarialTrainer(keras.Model):
    """Wraps a model so that ``fit`` trains it on adversarial examples made for each batch.

    Each training step first perturbs the batch with ``steps`` signed-gradient steps of size
    ``alpha`` inside the ``eps``-ball (from a random start if ``random_start``), then takes
    an ordinary optimiser step on the perturbed batch (Madry et al., ICLR 2018). The wrapped
    model's variables are the ones trained; prediction and validation use clean inputs.

    ``masks`` (``{layer_name: bool array}``, ``True`` = keep) keeps a pruned model pruned: after
    every step the masked-out kernel weights are set back to zero by a
    :class:`utils._core.FixedMask` bound to the wrapped model (the course's one mask-keeping
    mechanism; it runs inside the compiled training step).
    """

    def __init__(self, model, *, eps, alpha, steps, random_start=True, clip=(0.0, 1.0), masks=None,
                 from_logits=None):
        super().__init__(name=f"adversarial_{model.name}")
        self.inner = model
        self.from_logits = outputs_logits(model, from_logits)
        self.eps, self.alpha, self.steps = float(eps), float(alpha), int(steps)
        self.random_start, self.clip = bool(random_start), tuple(float(c) for c in clip)
        self.mask_keeper = None
        if masks:
            self.mask_keeper = FixedMask(masks)
            self.mask_keeper.set_model(model)   # bound to the wrapped model, not to this trainer
            self.mask_keeper.apply()            # checks the masks and builds its variables now

    def call(self, x, training=None):
        return self.inner(x, training=training)

    def perturb(self, x, y):
        """The adversarial version of a batch (graph-friendly, used inside ``train_step``)."""
        x_adv = x
        if self.random_start:
            x_adv = _project(x + tf.random.uniform(tf.shape(x), -self.eps, self.eps), x, self.eps, self.clip)
        for _ in range(self.steps):
            with tf.GradientTape() as tape:
                tape.watch(x_adv)
                loss = classification_loss(y, self.inner(x_adv, training=False), from_logits=self.from_logits)
            x_adv = _project(x_adv + self.alpha * tf.sign(tape.gradient(loss, x_adv)), x, self.eps, self.clip)
        return tf.stop_gradient(x_adv)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)  # weights come from class_weight
        x_adv = self.perturb(x, y)
        with tf.GradientTape() as tape:
            predictions = self.inner(x_adv, training=True)
            loss = self.compiled_loss(y, predictions, sample_weight=sample_weight,
                                      regularization_losses=self.inner.losses)
        variables = self.inner.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        if self.mask_keeper is not None:
            self.mask_keeper.apply()
        self.compiled_metrics.update_state(y, predictions)
        return {metric.name: metric.result() for metric in self.metrics}


def _attack_settings(attack, eps, alpha, steps):
    if attack == "fgsm":  # FGSM with a random start (Wong et al., 2020): one step of 1.25 eps
        return (1.25 * eps if alpha is None else alpha), 1 if steps is None else steps
    if attack == "pgd":
        steps = 7 if steps is None else check_int(steps, "steps", minimum=1)
        return (2.5 * eps / steps if alpha is None else alpha), steps
    raise ValueError(f"attack must be 'fgsm' (with random start) or 'pgd', got {attack!r}")


def adversarial_train(model, data, *, eps, epochs, attack="fgsm", alpha=None, steps=None,
                      random_start=True, batch_size=32, learning_rate=1e-3, augment_shift=0,
                      masks=None, callbacks=(), verbose=0, class_weight=None, from_logits=None):
    """Adversarial training (Madry et al., ICLR 2018): fit ``model`` on attacked batches.

    For every batch, adversarial examples are made against the *current* weights and the
    optimiser step is taken on them. ``attack="fgsm"`` is FGSM from a random start with step
    ``1.25 · eps`` (Wong, Rice, Kolter, ICLR 2020): one extra gradient per step, so about twice
    the cost of ordinary training. ``attack="pgd"`` uses ``steps`` (default 7) steps of size
    ``2.5 · eps / steps``: stronger and ``steps + 1`` times the cost.

    Args:
        model: a tf_keras classifier with softmax or logits outputs (``from_logits=None`` detects
            which; trained in place; it may be wrapped by tfmot for pruning, then pass
            ``callbacks=utils.pruning.pruning_callbacks()``).
        data: a :class:`utils.data.Dataset` with images in [0, 1].
        eps: the L∞ budget the model should resist (train at the budget you will test at).
        epochs: passes over the training set.
        attack, alpha, steps, random_start: the attack used during training (see above).
        masks: optional ``{layer_name: bool array}``; masked-out kernel weights stay zero
            (adversarial fine-tuning of a pruned model).
        batch_size, learning_rate, augment_shift, callbacks, verbose, class_weight: as in
            :func:`utils.training.train` (``class_weight`` weights each adversarial example's loss by
            its class — adversarial training tends to widen the gaps between classes, Xu et al.,
            ICML 2021, and a rare class may need the extra weight).

    Returns:
        The Keras ``History``; ``model`` itself is trained in place.
    """
    require_model(model)
    eps = _check_eps(eps)
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    _check_inputs(data.x_train)
    alpha, steps = _attack_settings(attack, eps, alpha, steps)
    trainer = AdversarialTrainer(model, eps=eps, alpha=alpha, steps=steps, random_start=random_start,
                                 masks=masks, from_logits=from_logits)
    check_class_weight(class_weight, data.y_train)
    trainer.compile(optimizer=keras.optimizers.Adam(learning_rate),
                    loss=loss_for(model, trainer.from_logits), metrics=["accuracy"])
    return trainer.fit(training_batches(data, batch_size, augment_shift), epochs=epochs,
                       validation_data=(data.x_val, data.y_val), callbacks=list(callbacks), verbose=verbose,
                       class_weight=class_weight, validation_batch_size=VALIDATION_BATCH_SIZE)


def adversarial_train_step(model, optimizer, x, y, eps):
    """One step of FGSM adversarial training with a random start (Wong, Rice, Kolter, ICLR 2020).

    1. start at a uniformly random point of the ``eps``-ball around the batch ``x``;
    2. make the adversarial batch against the *current* weights: one :func:`pgd_step` of size
       ``1.25 · eps`` (projected back onto the ball and [0, 1]);
    3. one optimiser step on the mean cross-entropy of the *adversarial* batch (Madry et al.'s
       min-max objective: minimise the loss of the worst case found inside the ball).

    Args:
        model: a tf_keras classifier with softmax outputs, trained in place.
        optimizer: a Keras optimiser, e.g. ``keras.optimizers.Adam(1e-3)``.
        x: a batch of clean images ``(n, h, w, c)`` in [0, 1]; y: its integer labels ``(n,)``.
        eps: the L∞ budget.

    Returns:
        The mean loss on the adversarial batch (a float, before the update).
    """
    x, y = _check_inputs(x, y)
    start = np.clip(x + tf.random.uniform(x.shape, -eps, eps).numpy(), 0.0, 1.0)
    x_adv = pgd_step(model, start, x, y, eps, 1.25 * eps)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, model(x_adv, training=True)))
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    return float(loss)


def adversarial_fit(model, data, *, eps, epochs, train_step=adversarial_train_step, batch_size=32,
                    learning_rate=1e-3, augment_shift=0, masks=None):
    """Adversarial training written as a plain loop over batches that calls ``train_step``.

    The same training as :func:`adversarial_train` with its default FGSM-with-random-start
    attack, but every step is a call to ``train_step(model, optimizer, x, y, eps)`` — e.g.
    :func:`adversarial_train_step` or a student's version of it — so one can see (and replace)
    what a step does. Runs eagerly: slower than the compiled :func:`adversarial_train`.

    Args:
        model: a tf_keras classifier with softmax outputs, trained in place.
        data: a :class:`utils.data.Dataset` with images in [0, 1] (its training split is used).
        eps: the L∞ budget; epochs: passes over the training set.
        train_step: the function doing one step (see above).
        batch_size, learning_rate, augment_shift: as in :func:`utils.training.train` (Adam).
        masks: optional ``{layer_name: bool array}``; after every step the masked-out kernel weights
            are set back to zero (adversarial fine-tuning of a pruned model).

    Returns:
        A list with the mean training loss of each epoch.
    """
    require_model(model)
    eps = _check_eps(eps)
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if not callable(train_step):
        raise TypeError("train_step must be a function (model, optimizer, x, y, eps), "
                        f"got {type(train_step).__name__}")
    _check_inputs(data.x_train)
    keeper = None
    if masks:
        keeper = FixedMask(masks)
        keeper.set_model(model)
        keeper.apply()
    optimizer = keras.optimizers.Adam(learning_rate)
    history = []
    for _ in range(epochs):
        losses = []
        for x, y in training_batches(data, batch_size, augment_shift):
            losses.append(float(train_step(model, optimizer, x.numpy(), y.numpy(), eps)))
            if keeper is not None:
                keeper.apply()
        history.append(float(np.mean(losses)))
    return history


def prune_and_fine_tune(model, data, *, sparsity, epochs, eps=0.0, scope="global", batch_size=32,
                        learning_rate=1e-3, augment_shift=0, verbose=0, train_step=None, **attack_kwargs):
    """One-shot magnitude pruning, then fine-tuning with the mask fixed — clean or adversarial.

    1. :func:`utils.pruning.prune_weights` zeroes the fraction ``sparsity`` of the smallest
       weights (``scope="global"``: one threshold over all kernels, so small layers such as the
       first convolution keep more of their few weights);
    2. the survivors are fine-tuned while the pruned weights stay zero: on clean data if
       ``eps == 0`` (:class:`utils._core.FixedMask`), otherwise by adversarial training at budget
       ``eps`` (:func:`adversarial_train` with ``masks``).

    Pruning an adversarially trained model and fine-tuning it adversarially is the baseline of
    robustness-aware pruning (magnitude pruning + adversarial fine-tuning, as compared in HYDRA,
    Sehwag et al., NeurIPS 2020; Ye et al., ICCV 2019 prune with the adversarial loss in the loop).
    Fine-tuning on clean data instead lets the robustness wash out.

    Args:
        model: a trained tf_keras model; never modified.
        data: a :class:`utils.data.Dataset`.
        sparsity: fraction of kernel weights to remove, in [0, 1).
        epochs: fine-tuning epochs.
        eps: the L∞ budget of adversarial fine-tuning; 0 for clean fine-tuning.
        scope: ``"global"`` or ``"layer"``, as in :func:`utils.pruning.prune_weights`.
        batch_size, learning_rate, augment_shift, verbose: as in :func:`utils.training.train`.
        train_step: for adversarial fine-tuning, an optional ``train_step(model, optimizer, x, y, eps)``
            function (e.g. :func:`adversarial_train_step` or a student's): then the fine-tuning is
            :func:`adversarial_fit` with it instead of the compiled :func:`adversarial_train`.
        **attack_kwargs: ``attack``, ``alpha``, ``steps`` of adversarial fine-tuning.

    Returns:
        The pruned, fine-tuned model (a new object) with exactly ``sparsity`` zeros.
    """
    eps = _check_eps(eps)
    pruned = prune_weights(model, sparsity, scope=scope)
    masks = kernel_masks(pruned)
    if eps == 0.0:
        if attack_kwargs or train_step is not None:
            raise ValueError(f"{sorted(attack_kwargs) or ['train_step']} only apply to adversarial "
                             "fine-tuning (eps > 0)")
        train(pruned, data, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
              augment_shift=augment_shift, callbacks=[FixedMask(masks)], verbose=verbose)
    elif train_step is not None:
        if attack_kwargs or verbose:
            raise ValueError(f"{sorted(attack_kwargs) or ['verbose']} do not apply with a train_step")
        adversarial_fit(pruned, data, eps=eps, epochs=epochs, train_step=train_step, batch_size=batch_size,
                        learning_rate=learning_rate, augment_shift=augment_shift, masks=masks)
    else:
        adversarial_train(pruned, data, eps=eps, epochs=epochs, batch_size=batch_size,
                          learning_rate=learning_rate, augment_shift=augment_shift, masks=masks,
                          verbose=verbose, **attack_kwargs)
    return pruned
