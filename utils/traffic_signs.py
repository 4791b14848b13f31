"""Synthetic traffic signs (generated, seeded, offline) and an optional GTSRB loader.

:func:`make_traffic_signs` draws small RGB photographs of ten sign classes. Each class is a
combination of a **shape** (octagon, circle, triangle, diamond), a **colour scheme** (red,
white, blue, yellow, black) and a **glyph** (letters, digits, an arrow, a bar, a pictogram):

====  ===================  ==========================================================
 id   name                 appearance
====  ===================  ==========================================================
 0    stop                 red octagon, thin white rim, white "STOP"
 1    yield                white triangle pointing down, wide red border
 2    speed limit 30       white disc, red ring, black "30"
 3    speed limit 50       white disc, red ring, black "50"
 4    speed limit 80       white disc, red ring, black "80"
 5    no entry             red disc, white horizontal bar            (rare by default)
 6    priority road        yellow diamond, white border
 7    ahead only           blue disc, white arrow pointing up
 8    general caution      white triangle pointing up, red border, black "!"
 9    pedestrians          white triangle pointing up, red border, black walker  (rare)
====  ===================  ==========================================================

Every image is rendered at twice its final resolution and averaged down (anti-aliasing), in
this order: a background (a sky-to-ground gradient with low-frequency blotches), often a
grey pole, the sign, sometimes an **occluder**, then **lighting** (brightness 0.45–1.25 and a
colour cast), **blur** and sensor **noise**. The sign's pose varies: **rotation** up to
``max_rotation`` degrees, **scale** (radius 30–42 % of the image side), a horizontal
foreshortening of up to 20 % (viewing angle) and a shift of the centre by up to 6 % of the
image side.

**Class balance.** The counts are exact and documented by :func:`class_counts`: every class
has weight 1 except the ``rare`` classes, which have weight ``rare_weight`` (default 0.25), and
the ``n`` images are shared in proportion to the weights (largest remainders get the leftover
images). With the defaults, ``n = 4000`` gives 470 or 471 images of each common class and 118
of each rare one, "no entry" and "pedestrians". Real data is imbalanced in the same way: GTSRB (Stallkamp
et al., *Neural Networks* 2012) has about ten times more "speed limit 50" than "pedestrians"
images.

**What is realistic.** The classes are told apart by the same cues as real signs — shape
and colour separate the families, and only a small glyph separates the three speed limits, and
"pedestrians" from "general caution" — the hardest distinctions, as in GTSRB, where one of
those look-alikes ("pedestrians") is also rare. The nuisances (pose, scale, viewpoint, blur,
dusk-to-glare lighting, noise, partial occlusion, clutter in the background) and the rare
classes are the ones that make real sign recognition hard.

**What is not.** The signs are flat, perfectly coloured cartoons: no reflections, fading,
dirt, stickers, motion blur along a direction, JPEG artefacts, night-time headlight glare or
weather; the backgrounds contain no other signs, cars or text; the occluder is a straight-edged
blob; every sign is roughly centred (a real system first *detects* signs and crops them, with
errors). Accuracy on this set therefore says nothing about accuracy on real roads; the set is
for *comparing* models (dense vs pruned, standard vs robust) under controlled conditions.

:func:`load_gtsrb` reads the real German Traffic Sign Recognition Benchmark from files the user
downloaded (it is never called by default and never downloads anything); :func:`occlude` adds
a controlled occluder to existing images; :func:`show_signs` draws a grid of RGB images.
"""

import csv
import os

import numpy as np
from PIL import Image

from ._validate import check_fraction, check_images, check_int, check_real
from .dataset import Dataset, check_split_fractions, stratified_split
from .plots import image_grid

__all__ = ["CLASS_NAMES", "RARE_CLASSES", "GTSRB_NAMES", "class_counts", "make_traffic_signs",
           "occlude", "load_gtsrb", "show_signs"]

CLASS_NAMES = ("stop", "yield", "speed limit 30", "speed limit 50", "speed limit 80", "no entry",
               "priority road", "ahead only", "general caution", "pedestrians")
RARE_CLASSES = ("no entry", "pedestrians")

# Colours in linear RGB, [0, 1].
_RED, _WHITE, _BLACK = (0.80, 0.08, 0.10), (0.95, 0.95, 0.93), (0.08, 0.08, 0.10)
_BLUE, _YELLOW = (0.08, 0.28, 0.72), (0.98, 0.78, 0.08)

# Glyphs: '#' = ink. Each glyph is stretched over its box in the sign's own coordinates.
_GLYPHS = {
    "STOP": ("###.###.###.###",
             "#....#..#.#.#.#",
             "###..#..#.#.###",
             "..#..#..#.#.#..",
             "###..#..###.#.."),
    "30": ("###.###", "..#.#.#", "###.#.#", "..#.#.#", "###.###"),
    "50": ("###.###", "#...#.#", "###.#.#", "..#.#.#", "###.###"),
    "80": ("###.###", "#.#.#.#", "###.#.#", "#.#.#.#", "###.###"),
    "bar": ("#",),
    "up": ("..#..", ".###.", "#####", "..#..", "..#..", "..#.."),
    "!": ("#", "#", "#", "#", ".", "#"),
    "walker": ("..#..", "..#..", ".###.", "#.#.#", "..#..", ".#.#.", "#...#"),
}

# name: (shape, rim colour, rim width, face colour, glyph, glyph colour, glyph box u0, u1, v0, v1)
# The sign's own coordinates (u, v) run from -1 to 1 across it, v upwards; a shape's "distance"
# d(u, v) is < 1 inside it; the rim is the band 1 - width < d < 1.
_SPECS = {
    "stop": ("octagon", _WHITE, 0.07, _RED, "STOP", _WHITE, -0.78, 0.78, -0.26, 0.26),
    "yield": ("triangle-down", _RED, 0.34, _WHITE, None, None, 0, 0, 0, 0),
    "speed limit 30": ("circle", _RED, 0.2, _WHITE, "30", _BLACK, -0.58, 0.58, -0.44, 0.44),
    "speed limit 50": ("circle", _RED, 0.2, _WHITE, "50", _BLACK, -0.58, 0.58, -0.44, 0.44),
    "speed limit 80": ("circle", _RED, 0.2, _WHITE, "80", _BLACK, -0.58, 0.58, -0.44, 0.44),
    "no entry": ("circle", _RED, 0.0, _RED, "bar", _WHITE, -0.66, 0.66, -0.17, 0.17),
    "priority road": ("diamond", _WHITE, 0.28, _YELLOW, None, None, 0, 0, 0, 0),
    "ahead only": ("circle", _BLUE, 0.0, _BLUE, "up", _WHITE, -0.42, 0.42, -0.62, 0.62),
    "general caution": ("triangle-up", _RED, 0.26, _WHITE, "!", _BLACK, -0.11, 0.11, -0.66, 0.36),
    "pedestrians": ("triangle-up", _RED, 0.26, _WHITE, "walker", _BLACK, -0.42, 0.42, -0.66, 0.36),
}

GTSRB_NAMES = (
    "speed limit 20", "speed limit 30", "speed limit 50", "speed limit 60", "speed limit 70",
    "speed limit 80", "end of speed limit 80", "speed limit 100", "speed limit 120", "no passing",
    "no passing for vehicles over 3.5 t", "right-of-way at the next intersection", "priority road",
    "yield", "stop", "no vehicles", "vehicles over 3.5 t prohibited", "no entry", "general caution",
    "dangerous curve to the left", "dangerous curve to the right", "double curve", "bumpy road",
    "slippery road", "road narrows on the right", "road work", "traffic signals", "pedestrians",
    "children crossing", "bicycles crossing", "beware of ice/snow", "wild animals crossing",
    "end of all speed and passing limits", "turn right ahead", "turn left ahead", "ahead only",
    "go straight or right", "go straight or left", "keep right", "keep left", "roundabout mandatory",
    "end of no passing", "end of no passing by vehicles over 3.5 t",
)


# ------------------------------------------------------------------ argument checks
def _check_rare(rare):
    """The names of the rare classes: a sequence of names from :data:`CLASS_NAMES`."""
    if isinstance(rare, str):
        raise TypeError(f"rare must be a list of class names, e.g. ['no entry'], not the string {rare!r}")
    rare = tuple(rare)
    unknown = [name for name in rare if name not in CLASS_NAMES]
    if unknown:
        raise ValueError(f"unknown class name(s) {unknown} in rare; the classes are {list(CLASS_NAMES)}")
    return rare


# ------------------------------------------------------------------ class balance
def class_counts(n, *, rare=RARE_CLASSES, rare_weight=0.25):
    """Exact number of images of each class in a set of ``n`` (the documented class balance).

    Every class has weight 1, the classes in ``rare`` weight ``rare_weight``; class ``k`` gets
    ``n · w_k / sum(w)`` images rounded down, and the images left over go one each to the
    classes with the largest remainders (ties: the lower class index first).

    Args:
        n: total number of images (at least 10 per class of weight 1).
        rare: names of the rare classes (from :data:`CLASS_NAMES`).
        rare_weight: their weight relative to a common class, in (0, 1].

    Returns:
        int64 array of shape ``(10,)`` that sums to ``n``; every entry is at least 1.
    """
    n = check_int(n, "n", minimum=10 * len(CLASS_NAMES))
    rare = _check_rare(rare)
    rare_weight = check_fraction(rare_weight, "rare_weight", low_open=True, high_open=False,
                                 meaning="a rare class's frequency relative to a common one; "
                                         "0 would leave it without images")
    weights = np.array([rare_weight if name in rare else 1.0 for name in CLASS_NAMES])
    exact = n * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    order = np.lexsort((np.arange(len(exact)), -(exact - counts)))  # largest remainder, then index
    counts[order[:n - counts.sum()]] += 1
    if counts.min() < 1:
        raise ValueError(f"n = {n} is too small for rare_weight = {rare_weight}: a rare class would be empty")
    return counts


# ------------------------------------------------------------------ rendering
def _shape_distance(shape, u, v):
    """A distance-like field: < 1 inside the shape, growing outwards (u, v in sign coordinates)."""
    if shape == "circle":
        return np.sqrt(u * u + v * v)
    if shape == "octagon":  # a regular octagon with apothem 1
        return np.maximum(np.maximum(np.abs(u), np.abs(v)), (np.abs(u) + np.abs(v)) / np.sqrt(2))
    if shape == "diamond":
        return (np.abs(u) + np.abs(v)) / 1.1
    # equilateral triangles with their vertices 1.35 from the centre: edges at distance 0.675
    sign = 1.0 if shape == "triangle-up" else -1.0
    edges = [(0.0, -sign), (np.sqrt(3) / 2, sign / 2), (-np.sqrt(3) / 2, sign / 2)]
    (au, av), (bu, bv), (cu, cv) = edges
    w = v - sign * 0.12
    return np.maximum(np.maximum(au * u + av * w, bu * u + bv * w), cu * u + cv * w) / 0.675


def _glyph_mask(glyph, u, v, box):
    """Boolean mask of the glyph's ink, the glyph stretched over ``box = (u0, u1, v0, v1)``."""
    rows = np.array([[c == "#" for c in line] for line in _GLYPHS[glyph]])
    u0, u1, v0, v1 = box
    col = np.floor((u - u0) / (u1 - u0) * rows.shape[1]).astype(int)
    row = np.floor((v1 - v) / (v1 - v0) * rows.shape[0]).astype(int)  # row 0 at the top
    inside = (col >= 0) & (col < rows.shape[1]) & (row >= 0) & (row < rows.shape[0])
    return inside & rows[np.clip(row, 0, rows.shape[0] - 1), np.clip(col, 0, rows.shape[1] - 1)]


def _upsample_matrix(size, cells):
    """``(size, cells)`` matrix of linear interpolation from ``cells`` samples to ``size`` pixels."""
    position = np.clip((np.arange(size) + 0.5) / size * cells - 0.5, 0, cells - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, cells - 1)
    matrix = np.zeros((size, cells), np.float32)
    np.add.at(matrix, (np.arange(size), low), 1 - (position - low))
    np.add.at(matrix, (np.arange(size), high), position - low)
    return matrix


def _background(rng, m, size):
    """``(m, size, size, 3)`` backgrounds: sky-to-ground gradient plus low-frequency blotches."""
    sky = rng.uniform([0.35, 0.45, 0.55], [0.85, 0.90, 0.98], size=(m, 3)).astype(np.float32)
    ground = rng.uniform([0.15, 0.18, 0.10], [0.55, 0.55, 0.45], size=(m, 3)).astype(np.float32)
    horizon = rng.uniform(0.3, 0.8, size=m).astype(np.float32)
    y = (np.arange(size, dtype=np.float32) + 0.5) / size
    t = 1.0 / (1.0 + np.exp(-(y[None, :] - horizon[:, None]) * 12.0))  # (m, size): 0 sky → 1 ground
    t = t[:, :, None, None]
    gradient = sky[:, None, None, :] * (1 - t) + ground[:, None, None, :] * t  # (m, size, 1, 3)
    light, hue = rng.normal(0.0, 0.10, size=(m, 4, 4, 1)), rng.normal(0.0, 0.03, size=(m, 4, 4, 3))
    cells = (light + hue).astype(np.float32)
    up = _upsample_matrix(size, 4)
    blotches = np.einsum("ij,mjkc,lk->milc", up, cells, up, optimize=True)  # bilinear 4×4 → size×size
    return gradient + blotches


def _render_class(name, m, size, rng, *, max_rotation, occlusion_rate):
    """Render ``m`` images of one class at ``size`` pixels (the caller supersamples)."""
    shape, rim, rim_width, face, glyph, glyph_colour, *box = _SPECS[name]
    image = _background(rng, m, size)
    centre = (size / 2 + rng.uniform(-0.06, 0.06, size=(m, 2)) * size).astype(np.float32)
    radius = (rng.uniform(0.30, 0.42, size=m) * size).astype(np.float32)
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation, size=m)).astype(np.float32)
    squash = rng.uniform(0.8, 1.0, size=m).astype(np.float32)  # viewing the sign slightly from the side
    pix = np.arange(size, dtype=np.float32) + 0.5
    dx = pix[None, None, :] - centre[:, 0, None, None]  # (m, 1, size)
    dy = pix[None, :, None] - centre[:, 1, None, None]  # (m, size, 1)
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    u = (cos * dx + sin * dy) / (radius * squash)[:, None, None]
    v = -(-sin * dx + cos * dy) / radius[:, None, None]

    # a grey pole below the sign (in 70 % of the images)
    pole = (np.abs(dx) < 0.05 * size) & (dy > 0) & (rng.random(m) < 0.7)[:, None, None]
    grey = rng.uniform(0.35, 0.6, size=(m, 1, 1, 1)).astype(np.float32)
    np.copyto(image, np.broadcast_to(grey, image.shape), where=pole[..., None])

    def paint(where, colour):
        jitter = rng.uniform(0.92, 1.08, size=(m, 1, 1, 3))
        colour = np.clip(np.asarray(colour)[None, None, None, :] * jitter, 0.0, 1.0).astype(np.float32)
        np.copyto(image, np.broadcast_to(colour, image.shape), where=where[..., None])

    distance = _shape_distance(shape, u, v)
    paint(distance < 1.0, rim)
    paint(distance < 1.0 - rim_width, face)
    if glyph is not None:
        paint((distance < 1.0) & _glyph_mask(glyph, u, v, box), glyph_colour)

    # partial occlusion: everything beyond a straight edge that cuts into the sign
    occluded = rng.random(m) < occlusion_rate
    phi = rng.uniform(0, 2 * np.pi, size=m)
    offset = rng.uniform(0.2, 0.6, size=m) * radius
    beyond = (np.cos(phi)[:, None, None] * dx + np.sin(phi)[:, None, None] * dy) > offset[:, None, None]
    shade = rng.uniform([0.05, 0.12, 0.03], [0.35, 0.40, 0.30], size=(m, 1, 1, 3)).astype(np.float32)
    hidden = np.flatnonzero(occluded)
    texture = rng.standard_normal(size=(len(hidden), *image.shape[1:3], 1), dtype=np.float32) * 0.05
    blob = beyond[hidden][..., None]
    image[hidden] = np.where(blob, np.clip(shade[hidden] + texture, 0, 1), image[hidden])
    return image


def _binomial_blur(images):
    """One pass of the separable [1, 2, 1] / 4 filter over the last two axes (edges repeated)."""
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    rows = (padded[:, :, :-2] + 2 * padded[:, :, 1:-1] + padded[:, :, 2:]) / 4
    return (rows[..., :-2] + 2 * rows[..., 1:-1] + rows[..., 2:]) / 4


def _camera(images, rng, noise):
    """Lighting, blur and sensor noise, image by image; result clipped to the valid range."""
    m = len(images)
    brightness = rng.uniform(0.45, 1.25, size=(m, 1, 1, 1)).astype(np.float32)
    cast = rng.uniform(0.9, 1.1, size=(m, 3, 1, 1)).astype(np.float32)
    images = np.ascontiguousarray(images.transpose(0, 3, 1, 2)) * (brightness * cast)  # channels first
    blur = rng.uniform(0.0, 1.5, size=m).astype(np.float32)  # 0–1.5 passes of the binomial filter, blended
    once = _binomial_blur(images)
    twice = _binomial_blur(once)
    first, second = np.clip(blur, 0, 1)[:, None, None, None], np.clip(blur - 1, 0, 1)[:, None, None, None]
    images = (1 - first) * images + first * ((1 - second) * once + second * twice)
    sigma = rng.uniform(0.0, noise, size=(m, 1, 1, 1)).astype(np.float32)
    images += rng.standard_normal(size=images.shape, dtype=np.float32) * sigma
    return np.clip(images, 0.0, 1.0).transpose(0, 2, 3, 1).astype(np.float32)  # back to channels last


def _downsample(images):
    """Average each 2×2 block of pixels: ``(m, 2h, 2w, c) → (m, h, w, c)``."""
    return (images[:, 0::2, 0::2] + images[:, 1::2, 0::2] + images[:, 0::2, 1::2] + images[:, 1::2, 1::2]) / 4


def make_traffic_signs(n=4000, *, image_size=32, seed=0, rare=RARE_CLASSES, rare_weight=0.25,
                       occlusion_rate=0.15, max_rotation=15.0, noise=0.04, val_fraction=0.1,
                       test_fraction=0.25):
    """Generate the ``"traffic_signs"`` dataset: RGB photos of 10 sign classes (see the module doc).

    The generative story of one image: pick its class (the counts are fixed by
    :func:`class_counts`), draw a background, maybe a pole, the sign at a random pose, maybe an
    occluder (probability ``occlusion_rate``), then lighting, blur and noise. Everything is
    drawn from one NumPy generator seeded with ``seed``: the same arguments give the same
    arrays, bit for bit.

    Args:
        n: total number of images (at least 100).
        image_size: side of the square images in pixels (at least 16; 24 or 32 suit a CPU).
        seed: seed of the generator and of the stratified split.
        rare: names of the classes that are rare (default ``("no entry", "pedestrians")``).
        rare_weight: frequency of a rare class relative to a common one, in (0, 1].
        occlusion_rate: fraction of images in which an occluder hides part of the sign, in [0, 1].
        max_rotation: largest in-plane rotation of a sign, in degrees (0–45).
        noise: largest standard deviation of the Gaussian sensor noise (0–0.2).
        val_fraction, test_fraction: sizes of the validation and test splits (stratified).

    Returns:
        A :class:`utils.data.Dataset` named ``"traffic_signs"``: float32 images of shape
        ``(·, image_size, image_size, 3)`` with values in [0, 1], int64 labels in 0…9 and
        ``class_names = CLASS_NAMES``.
    """
    counts = class_counts(n, rare=rare, rare_weight=rare_weight)
    size = check_int(image_size, "image_size", minimum=16)
    seed = check_int(seed, "seed", minimum=0)
    occlusion_rate = check_fraction(occlusion_rate, "occlusion_rate", high_open=False)
    max_rotation = check_real(max_rotation, "max_rotation", low=0.0, high=45.0, meaning="degrees")
    noise = check_real(noise, "noise", low=0.0, high=0.2, meaning="the largest noise standard deviation")
    check_split_fractions(val_fraction, test_fraction)  # before the rendering, not after it
    rng = np.random.default_rng(seed)
    big = 2 * size  # render at twice the resolution, then average 2×2 blocks (anti-aliasing)
    images, labels = [], []
    for label, (name, count) in enumerate(zip(CLASS_NAMES, counts)):
        hires = _render_class(name, int(count), big, rng, max_rotation=max_rotation,
                              occlusion_rate=occlusion_rate)
        images.append(_downsample(hires))
        labels.append(np.full(count, label, dtype=np.int64))
    x = _camera(np.concatenate(images), rng, noise)
    y = np.concatenate(labels)
    order = rng.permutation(len(y))
    parts = stratified_split(x[order], y[order], val_fraction=val_fraction, test_fraction=test_fraction,
                             seed=seed)
    return Dataset(*parts, class_names=CLASS_NAMES, name="traffic_signs")


# ------------------------------------------------------------------ controlled occlusion
def occlude(x, *, offset=0.12, seed=0):
    """A copy of the images with a dark occluder over part of the centre (where the sign is).

    For each image a random direction ``φ`` is drawn; every pixel whose position, seen from the
    image centre, lies more than ``offset · image side`` along ``φ`` is painted a dark, textured
    colour (a hedge, a pole, the back of a truck). With the default ``offset = 0.12`` and a sign
    of radius about 36 % of the image side, the occluder hides roughly a third of the sign.

    Args:
        x: images ``(n, height, width, channels)``, floats in [0, 1].
        offset: distance of the occluder's edge from the centre, in units of the image side,
            in [-0.5, 0.5] (0 hides half the image, negative values more).
        seed: seed of the directions and colours (the same seed gives the same occluders).

    Returns:
        A new float32 array of the same shape; ``x`` is not modified.
    """
    x = check_images(x, "x", channels=(1, 3))
    offset = check_real(offset, "offset", low=-0.5, high=0.5, meaning="in units of the image side")
    seed = check_int(seed, "seed", minimum=0)
    n, height, width, channels = x.shape
    rng = np.random.default_rng(seed)
    phi = rng.uniform(0, 2 * np.pi, size=n)
    dy = (np.arange(height) + 0.5 - height / 2)[None, :, None]
    dx = (np.arange(width) + 0.5 - width / 2)[None, None, :]
    beyond = np.cos(phi)[:, None, None] * dx + np.sin(phi)[:, None, None] * dy > offset * max(height, width)
    shade = rng.uniform(0.05, 0.35, size=(n, 1, 1, channels))
    texture = rng.normal(0.0, 0.05, size=(*x.shape[:3], 1))  # brightness texture, the same in every channel
    return np.where(beyond[..., None], np.clip(shade + texture, 0, 1), x).astype(np.float32)


# ------------------------------------------------------------------ the real data set
def _read_ppm_or_image(path):
    with Image.open(path) as image:
        return image.convert("RGB")


def load_gtsrb(path, *, image_size=32, seed=0, val_fraction=0.1, test_fraction=0.2, max_per_class=None):
    """Load the real GTSRB training images from a folder you downloaded (never downloads anything).

    The German Traffic Sign Recognition Benchmark (Stallkamp, Schlipsing, Salmen, Igel,
    *Man vs. computer: Benchmarking machine learning algorithms for traffic sign recognition*,
    Neural Networks 32, 2012) has 43 classes and about 39,000 training images, 15–250 pixels
    wide. Download ``GTSRB_Final_Training_Images.zip`` from the benchmark's site and unzip it.
    This function expects its layout::

        path/00000/GT-00000.csv, path/00000/00000_00000.ppm, …   (one folder per class)

    (``path`` may also be the folder above: ``GTSRB/Final_Training/Images``.) Each ``GT-*.csv``
    is semicolon-separated with the columns ``Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;
    ClassId``. Every image is cropped to its region of interest (the sign), resized to
    ``image_size`` × ``image_size`` and scaled to [0, 1]; the images are then split, stratified,
    into train / validation / test. (GTSRB's own test set is a separate download.)

    Args:
        path: the folder described above.
        image_size: side of the output images in pixels.
        seed: seed of the split (and of the subsample with ``max_per_class``).
        val_fraction, test_fraction: sizes of the validation and test splits.
        max_per_class: keep at most this many images per class (random subsample), or None.

    Returns:
        A :class:`utils.data.Dataset` named ``"gtsrb"`` with images ``(·, image_size,
        image_size, 3)`` and ``class_names`` from :data:`GTSRB_NAMES` for the classes found.

    Raises:
        FileNotFoundError: ``path`` does not exist or holds no ``GT-*.csv`` annotation file.
        ValueError: an annotation file lacks a column or names a class outside 0…42.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a folder path (str or os.PathLike), got {type(path).__name__}")
    size = check_int(image_size, "image_size", minimum=8)
    seed = check_int(seed, "seed", minimum=0)
    check_split_fractions(val_fraction, test_fraction)  # before reading thousands of files
    if max_per_class is not None:
        max_per_class = check_int(max_per_class, "max_per_class", minimum=1)
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"GTSRB folder {path!r} does not exist; download and unzip "
                                "GTSRB_Final_Training_Images.zip, then pass .../GTSRB/Final_Training/Images")
    if os.path.isdir(os.path.join(path, "Final_Training", "Images")):
        path = os.path.join(path, "Final_Training", "Images")
    folders = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))
    annotations = [os.path.join(path, folder, name) for folder in folders
                   for name in sorted(os.listdir(os.path.join(path, folder)))
                   if name.startswith("GT-") and name.endswith(".csv")]
    if not annotations:
        raise FileNotFoundError(f"no GT-*.csv annotation file in the class folders of {path!r}; expected "
                                "path/00000/GT-00000.csv, path/00001/GT-00001.csv, …")
    needed = {"Filename", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId"}
    images, labels = [], []
    for annotation in annotations:
        with open(annotation, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter=";"))
        if rows and not needed <= set(rows[0]):
            raise ValueError(f"{annotation} lacks the column(s) {sorted(needed - set(rows[0]))}")
        for row in rows:
            label = int(row["ClassId"])
            if not 0 <= label < len(GTSRB_NAMES):
                raise ValueError(f"{annotation}: ClassId {label} is outside 0…{len(GTSRB_NAMES) - 1}")
            box = tuple(int(row[k]) for k in ("Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2"))
            image = _read_ppm_or_image(os.path.join(os.path.dirname(annotation), row["Filename"]))
            # the ROI's corners are inclusive pixel indices
            crop = image.crop((box[0], box[1], box[2] + 1, box[3] + 1)).resize((size, size), Image.BILINEAR)
            images.append(np.asarray(crop, dtype=np.float32) / 255.0)
            labels.append(label)
    x, y = np.stack(images), np.asarray(labels, dtype=np.int64)
    if max_per_class is not None:
        rng = np.random.default_rng(seed)
        keep = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:max_per_class] for c in np.unique(y)])
        x, y = x[np.sort(keep)], y[np.sort(keep)]
    present = np.unique(y)
    y = np.searchsorted(present, y).astype(np.int64)  # classes renumbered 0… in GTSRB order
    parts = stratified_split(x, y, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    return Dataset(*parts, class_names=tuple(GTSRB_NAMES[c] for c in present), name="gtsrb")


# ------------------------------------------------------------------ display
def show_signs(images, titles=None, *, ncols=8, title="Traffic signs", size=1.2):
    """Show traffic signs in a grid (:func:`utils.plots.image_grid`, which also draws RGB).

    Args:
        images: array ``(n, height, width, 3)`` (or greyscale), values in [0, 1].
        titles: optional list of ``n`` strings.

    Returns:
        The figure.
    """
    return image_grid(images, titles, ncols=ncols, title=title, size=size).flat[0].figure
