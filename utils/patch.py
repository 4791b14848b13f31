"""Sticker (patch) attacks: adversarial examples an attacker could print and glue on a sign.

An L∞ attack (:mod:`utils.adversarial`) changes *every* pixel a little; an attacker on the
street cannot do that. They can put **stickers** on the sign: a few small regions whose
colours they choose freely. Eykholt et al. (*Robust Physical-World Attacks on Deep Learning
Visual Classification*, CVPR 2018) made a road-sign classifier misread a stop sign with black
and white stickers whose positions were fixed by a mask and whose content was optimised over
many photos of the sign (distances, angles, lighting), so that one physical sticker works for
all of them. Brown et al. (*Adversarial Patch*, 2017) did the same with one large, printable
patch.

Threat model here: the attacker knows the model (white-box), chooses the pixel values inside
a fixed ``mask`` (any value in [0, 1]: no L∞ budget there), and changes nothing outside it.

- :func:`sticker_mask` — where the stickers go: rectangles given as fractions of the image.
- :func:`apply_patch` — paste sticker content into images through the mask.
- :func:`sticker_step` — one step of the sticker optimiser: the signed gradient of the loss
  summed over the images, under the mask, clipped to [0, 1].
- :func:`universal_sticker` — **one** sticker for a whole set of images (the physical case:
  the images play the role of Eykholt et al.'s photos under varying conditions), optimised
  by repeated :func:`sticker_step` (untargeted, or towards a ``target`` class).
- :func:`sticker_attack` — a different sticker for every image (the worst case; not
  physically realistic, since a sticker cannot change with each photo).

The images are assumed to show the sign roughly centred (as in :mod:`utils.traffic_signs`), so a
mask fixed in image coordinates lands on the sign; a real attack fixes it on the sign itself.
"""

import numbers

import numpy as np

from ._core import outputs_logits
from ._validate import check_images, check_int, check_labels, check_real
from .adversarial import input_gradient

__all__ = ["STICKERS", "sticker_mask", "apply_patch", "sticker_step", "universal_sticker", "sticker_attack"]

# Two strips above and below the centre, like the black-and-white stickers of Eykholt et al.;
# (top, left, height, width) as fractions of the image's height and width. About 7 % of the image.
STICKERS = ((0.28, 0.30, 0.09, 0.40), (0.63, 0.30, 0.09, 0.40))


def _check_mask(mask, x):
    mask = np.asarray(mask, dtype=np.float32)
    if mask.shape != (*x.shape[1:3], 1):
        raise ValueError(f"mask must have shape (height, width, 1) = {(*x.shape[1:3], 1)} to match the "
                         f"images, got {mask.shape}; make it with sticker_mask(x.shape[1:])")
    if not np.all((mask == 0) | (mask == 1)) or not mask.any():
        raise ValueError("mask must hold 0 (untouched) and 1 (sticker), with at least one 1")
    return mask


def _check_steps(steps, step_size):
    steps = check_int(steps, "steps", minimum=1)
    step_size = check_real(step_size, "step_size", low=0.0, high=1.0, low_open=True, meaning="pixel units")
    return steps, step_size


def sticker_mask(image_shape, boxes=STICKERS):
    """A 0/1 mask of the sticker regions.

    Args:
        image_shape: ``(height, width)`` or ``(height, width, channels)``.
        boxes: rectangles ``(top, left, height, width)``, each a fraction of the image's height
            (top, height) or width (left, width) in [0, 1]; the default is two horizontal
            strips, :data:`STICKERS`. Pixels whose centre falls inside a box are covered.

    Returns:
        float32 array ``(height, width, 1)``: 1 under a sticker, 0 elsewhere (it broadcasts
        over the colour channels).
    """
    if len(image_shape) not in (2, 3):
        raise ValueError(f"image_shape must be (height, width[, channels]), got {image_shape!r}")
    height, width = (int(d) for d in image_shape[:2])
    boxes = [tuple(box) for box in boxes]
    if not boxes:
        raise ValueError("boxes is empty: give at least one (top, left, height, width) rectangle")
    rows = (np.arange(height) + 0.5) / height
    cols = (np.arange(width) + 0.5) / width
    mask = np.zeros((height, width, 1), np.float32)
    for box in boxes:
        if len(box) != 4 or not all(isinstance(v, numbers.Real) and 0 <= v <= 1 for v in box):
            raise ValueError("each box must be (top, left, height, width) with fractions in [0, 1], "
                             f"got {box!r}")
        top, left, box_height, box_width = box
        inside_rows = (rows >= top) & (rows < top + box_height)
        inside_cols = (cols >= left) & (cols < left + box_width)
        mask[inside_rows[:, None] & inside_cols[None, :], 0] = 1.0
    if not mask.any():
        raise ValueError(f"the boxes {boxes} cover no pixel of a {height}×{width} image; make them larger")
    return mask


def apply_patch(x, patch, mask):
    """Images with the sticker content pasted in: ``x · (1 - mask) + patch · mask``.

    Args:
        x: images ``(n, height, width, channels)`` in [0, 1].
        patch: sticker content, ``(height, width, channels)`` (the same for every image) or
            ``(n, height, width, channels)`` (one per image), in [0, 1]; only its values under
            the mask matter.
        mask: ``(height, width, 1)`` of 0 and 1, from :func:`sticker_mask`.

    Returns:
        A new float32 array of the shape of ``x``.
    """
    x = check_images(x)   # float32 (n, height, width, channels) in [0, 1]
    mask = _check_mask(mask, x)
    patch = np.asarray(patch, dtype=np.float32)
    if patch.shape not in (x.shape[1:], x.shape):
        raise ValueError(f"patch must have shape {x.shape[1:]} (one sticker for all) or {x.shape} "
                         f"(one per image), got {patch.shape}")
    if patch.min() < 0.0 or patch.max() > 1.0:
        raise ValueError(f"patch values must lie in [0, 1] (printable colours), got "
                         f"[{patch.min():.3g}, {patch.max():.3g}]")
    return (x * (1 - mask) + patch * mask).astype(np.float32)


def _gradient(model, x, y, target, from_logits):
    """∇ₓ of the loss to *increase*: the true class's loss, or minus the target's loss."""
    if target is None:
        return input_gradient(model, x, y, from_logits=from_logits)
    return -input_gradient(model, x, np.full(len(x), target, dtype=np.int64), from_logits=from_logits)


def _check_target(target, model):
    if target is None:
        return None
    classes = int(model.output_shape[-1])
    return check_int(target, "target (None for untargeted, or a class index)", minimum=0, maximum=classes - 1)


def sticker_step(model, x, y, sticker, mask, step_size, *, from_logits=None):
    """One step of the universal-sticker optimiser (untargeted): a new, stronger sticker.

    ``sticker + step_size · sign(Σᵢ ∇ₓ loss(model(paste(xᵢ)), yᵢ)) · mask``, clipped to [0, 1]:
    paste the sticker into every image, take each image's input gradient of the loss, add them
    up over the images (one sticker must fool all of them), keep only the pixels under the mask
    and move each of them by ``step_size`` in the direction of its sign (gradient *ascent*).

    Args:
        model: a tf_keras classifier with softmax or logits outputs.
        x: images ``(n, height, width, channels)`` in [0, 1]; y: their true labels ``(n,)``.
        sticker: the current sticker ``(height, width, channels)`` in [0, 1].
        mask: ``(height, width, 1)`` from :func:`sticker_mask`.
        step_size: change of a sticker pixel, in (0, 1].
        from_logits: ``None`` detects whether the model outputs logits; ``True``/``False`` says so.

    Returns:
        The new sticker, float32 ``(height, width, channels)`` in [0, 1]; equal to ``sticker``
        outside the mask. ``sticker`` itself is not modified.
    """
    from_logits = outputs_logits(model, from_logits)
    x = check_images(x)
    mask = _check_mask(mask, x)
    y = check_labels(y, n=len(x))
    _, step_size = _check_steps(1, step_size)
    sticker = np.asarray(sticker, dtype=np.float32)
    if sticker.shape != x.shape[1:]:
        raise ValueError(f"sticker must have the shape of one image {x.shape[1:]}, got {sticker.shape}")
    grad = _gradient(model, apply_patch(x, sticker, mask), y, None, from_logits).sum(axis=0)
    return np.clip(sticker + step_size * np.sign(grad) * mask, 0.0, 1.0).astype(np.float32)


def universal_sticker(model, x, y, mask, *, steps=40, step_size=0.05, target=None, seed=0, from_logits=None,
                      step=None):
    """One sticker that fools the model on as many of the images ``x`` as possible.

    Starting from random colours, repeat ``steps`` times: paste the sticker into every image,
    compute the gradient of the loss with respect to the sticker's pixels — the sum, over the
    images, of each image's input gradient under the mask — and move every sticker pixel by
    ``step_size`` in the direction of its sign, staying in [0, 1]. Untargeted (``target=None``):
    increase the loss of the true labels ``y``. Targeted: decrease the loss of class
    ``target`` (e.g. a stop sign read as a speed limit, as in Eykholt et al., CVPR 2018).

    Because one sticker must work for images that differ in pose, scale, lighting and blur, it
    is an *expectation over transformations* attack (Athalye et al., ICML 2018) in the way of
    Eykholt et al.'s RP2.

    Args:
        model: a tf_keras classifier with softmax or logits outputs.
        x: images ``(n, height, width, channels)`` in [0, 1] (e.g. all test images of one class).
        y: their true labels ``(n,)``.
        mask: ``(height, width, 1)`` from :func:`sticker_mask`.
        steps: gradient steps.
        step_size: change of a sticker pixel per step, in (0, 1].
        target: ``None`` or the class the images should be read as.
        seed: seed of the random starting colours.
        from_logits: ``None`` detects whether the model outputs logits (the loss is computed
            from them); ``True``/``False`` says so.
        step: ``None`` (use :func:`sticker_step`) or your own function with its signature
            ``step(model, x, y, sticker, mask, step_size) -> new sticker``; untargeted only.

    Returns:
        The sticker: float32 ``(height, width, channels)`` in [0, 1], zero outside the mask.
        Apply it with :func:`apply_patch`.
    """
    from_logits = outputs_logits(model, from_logits)
    x = check_images(x)   # float32 (n, height, width, channels) in [0, 1]
    mask = _check_mask(mask, x)
    y = check_labels(y, n=len(x))
    steps, step_size = _check_steps(steps, step_size)
    target = _check_target(target, model)
    if step is not None and (not callable(step) or target is not None):
        raise ValueError("step must be a function step(model, x, y, sticker, mask, step_size), and works "
                         "only for untargeted stickers (target=None)")
    rng = np.random.default_rng(seed)
    sticker = rng.uniform(0, 1, size=x.shape[1:]).astype(np.float32) * mask
    for _ in range(steps):
        if step is not None:
            sticker = np.asarray(step(model, x, y, sticker, mask, step_size), dtype=np.float32)
            continue
        grad = _gradient(model, apply_patch(x, sticker, mask), y, target, from_logits).sum(axis=0)
        sticker = np.clip(sticker + step_size * np.sign(grad) * mask, 0.0, 1.0).astype(np.float32)
    return sticker


def sticker_attack(model, x, y, mask, *, steps=40, step_size=0.05, seed=0, from_logits=None):
    """A separate sticker for every image (the white-box worst case), untargeted.

    The same signed-gradient ascent as :func:`universal_sticker`, but each image's sticker
    follows only its own gradient — like PGD whose ε-ball is replaced by "anything under the
    mask". Physically unrealistic (the sticker would have to change with every photo), so it
    bounds what any sticker of that size and place could do.

    Args:
        model, x, y, mask, steps, step_size, seed, from_logits: as in :func:`universal_sticker`.

    Returns:
        The attacked images ``x_adv``: float32, the shape of ``x``, equal to ``x`` outside the mask.
    """
    from_logits = outputs_logits(model, from_logits)
    x = check_images(x)   # float32 (n, height, width, channels) in [0, 1]
    mask = _check_mask(mask, x)
    y = check_labels(y, n=len(x))
    steps, step_size = _check_steps(steps, step_size)
    rng = np.random.default_rng(seed)
    stickers = rng.uniform(0, 1, size=x.shape).astype(np.float32) * mask
    for _ in range(steps):
        grad = _gradient(model, apply_patch(x, stickers, mask), y, None, from_logits)
        stickers = np.clip(stickers + step_size * np.sign(grad) * mask, 0.0, 1.0).astype(np.float32)
    return apply_patch(x, stickers, mask)
