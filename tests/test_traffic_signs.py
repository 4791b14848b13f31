"""Tests for utils.traffic_signs: the generated sign set, occlusion, the GTSRB file loader, the grid."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from utils import data  # noqa: E402
from utils import traffic_signs as ts  # noqa: E402

N = 400


@pytest.fixture(scope="module")
def signs():
    return ts.make_traffic_signs(N, image_size=24, seed=3)


def _all(dataset):
    return (np.concatenate([dataset.x_train, dataset.x_val, dataset.x_test]),
            np.concatenate([dataset.y_train, dataset.y_val, dataset.y_test]))


# ------------------------------------------------------------------ determinism, shapes, ranges
def test_same_seed_same_data_other_seed_other_data(signs):
    again = ts.make_traffic_signs(N, image_size=24, seed=3)
    other = ts.make_traffic_signs(N, image_size=24, seed=4)
    for part in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(signs, part), getattr(again, part))
    assert not np.array_equal(signs.x_train[:50], other.x_train[:50])


def test_shapes_dtypes_and_split_sizes(signs):
    assert signs.name == "traffic_signs"
    assert signs.class_names == ts.CLASS_NAMES and signs.num_classes == 10
    assert signs.input_shape == (24, 24, 3)
    sizes = [len(signs.y_train), len(signs.y_val), len(signs.y_test)]
    assert sum(sizes) == N
    assert sizes[2] == pytest.approx(0.25 * N, abs=1) and sizes[1] == pytest.approx(0.1 * N, abs=1)
    for x, y in ((signs.x_train, signs.y_train), (signs.x_val, signs.y_val), (signs.x_test, signs.y_test)):
        assert x.dtype == np.float32 and x.shape == (len(y), 24, 24, 3)
        assert y.dtype == np.int64
        assert np.array_equal(np.unique(y), np.arange(10))  # stratified: every class in every split


def test_default_size_is_32_pixels():
    assert ts.make_traffic_signs(100).input_shape == (32, 32, 3)


def test_values_lie_in_the_unit_range_and_vary(signs):
    x, _ = _all(signs)
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert 0.2 < x.mean() < 0.8                      # neither black nor white images
    per_image = x.reshape(len(x), -1)
    assert np.all(per_image.std(axis=1) > 0.02)      # every image has some content
    assert len(np.unique(per_image[:, :50], axis=0)) == len(x)  # no two images are identical


def test_class_balance_is_exactly_as_documented(signs):
    _, y = _all(signs)
    np.testing.assert_array_equal(np.bincount(y, minlength=10), ts.class_counts(N))
    counts = ts.class_counts(4000)
    rare = [ts.CLASS_NAMES.index(name) for name in ts.RARE_CLASSES]
    common = [k for k in range(10) if k not in rare]
    assert counts.sum() == 4000
    assert set(counts[common]) == {470, 471} and set(counts[rare]) == {118}  # the module docstring


def test_rare_weight_and_rare_classes_are_respected():
    balanced = ts.class_counts(1000, rare_weight=1.0)
    assert balanced.max() - balanced.min() == 0
    counts = ts.class_counts(2000, rare=("stop",), rare_weight=0.1)
    assert counts[0] == min(counts) and counts[0] == pytest.approx(2000 * 0.1 / 9.1, abs=1)
    assert ts.class_counts(2000, rare=()).tolist() == [200] * 10


def test_split_is_stratified(signs):
    train = np.bincount(signs.y_train, minlength=10) / len(signs.y_train)
    test = np.bincount(signs.y_test, minlength=10) / len(signs.y_test)
    assert np.abs(train - test).max() < 0.02


def test_load_dataset_registry_gives_the_same_data():
    direct = ts.make_traffic_signs(200, image_size=16, seed=1)
    registered = data.load_dataset("traffic_signs", seed=1, n=200, image_size=16)
    np.testing.assert_array_equal(direct.x_test, registered.x_test)
    np.testing.assert_array_equal(direct.y_train, registered.y_train)


def test_classes_are_learnable_from_pixels():
    """A linear model on 8×8 thumbnails is far above chance: the classes really differ."""
    signs = ts.make_traffic_signs(1200, image_size=16, seed=0, occlusion_rate=0.0)
    thumbnails = [x.reshape(len(x), 8, 2, 8, 2, 3).mean(axis=(2, 4)).reshape(len(x), -1)
                  for x in (signs.x_train, signs.x_test)]
    model = LogisticRegression(max_iter=300).fit(thumbnails[0], signs.y_train)
    assert model.score(thumbnails[1], signs.y_test) > 0.5  # chance is about 0.1


def test_occlusion_rate_darkens_part_of_the_images():
    clear = ts.make_traffic_signs(200, image_size=16, occlusion_rate=0.0, seed=2)
    hidden = ts.make_traffic_signs(200, image_size=16, occlusion_rate=1.0, seed=2)
    assert _all(hidden)[0].mean() < _all(clear)[0].mean() - 0.03  # the occluders are dark


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n": 50}, ValueError, r"n must be an int in \[100, inf\), got 50"),
    ({"n": 500.0}, TypeError, "n must be an int"),
    ({"rare": ("stop sign",)}, ValueError, "unknown class name"),
    ({"rare": "stop"}, TypeError, "list of class names"),
    ({"rare_weight": 0}, ValueError, r"rare_weight must be in \(0, 1\].*without images"),
    ({"rare_weight": 1.5}, ValueError, r"rare_weight must be in \(0, 1\]"),
    ({"image_size": 8}, ValueError, r"image_size must be an int in \[16, inf\)"),
    ({"image_size": True}, TypeError, "image_size must be an int"),
    ({"seed": -1}, ValueError, "seed must be a non-negative int"),
    ({"seed": 1.5}, TypeError, "seed must be a non-negative int"),
    ({"occlusion_rate": 1.2}, ValueError, r"occlusion_rate must be in \[0, 1\]"),
    ({"occlusion_rate": "high"}, TypeError, "occlusion_rate must be a number"),
    ({"max_rotation": 90}, ValueError, r"max_rotation must be in \[0, 45\] \(degrees\)"),
    ({"noise": -0.1}, ValueError, "noise must be in"),
    ({"noise": "low"}, TypeError, "noise must be a number"),
    ({"val_fraction": 0.0}, ValueError, r"val_fraction must be in \(0, 1\)"),
    ({"val_fraction": 0.5, "test_fraction": 0.45}, ValueError, "at least 10 % of the data for training"),
])
def test_bad_arguments_raise_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        ts.make_traffic_signs(**{"n": 200, **kwargs})


# ------------------------------------------------------------------ controlled occlusion
def test_occlude_hides_part_of_each_image_and_keeps_the_input(signs):
    x = signs.x_test[:40]
    before = x.copy()
    hidden = ts.occlude(x, offset=0.0, seed=1)
    np.testing.assert_array_equal(x, before)
    assert hidden.shape == x.shape and hidden.dtype == np.float32
    assert hidden.min() >= 0 and hidden.max() <= 1
    changed = np.any(hidden != x, axis=-1).mean(axis=(1, 2))
    assert np.all((changed > 0.35) & (changed < 0.65))   # offset 0: about half of every image
    np.testing.assert_array_equal(hidden, ts.occlude(x, offset=0.0, seed=1))
    less = np.any(ts.occlude(x, offset=0.2, seed=1) != x, axis=-1).mean()
    assert less < changed.mean() - 0.1                     # a larger offset hides less


def test_occlude_rejects_bad_input(signs):
    with pytest.raises(ValueError, match="batch of images"):
        ts.occlude(signs.x_test[0])
    with pytest.raises(ValueError, match="pixel values must lie in .*never clipped"):
        ts.occlude(signs.x_test[:2] * 255)
    with pytest.raises(TypeError, match="float"):
        ts.occlude((signs.x_test[:2] * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="offset"):
        ts.occlude(signs.x_test[:2], offset=0.8)


# ------------------------------------------------------------------ GTSRB files
def _write_gtsrb(root, classes, per_class=3, columns=None):
    """A tiny GTSRB-format tree: root/000NN/GT-000NN.csv plus PPM images with a coloured ROI."""
    columns = columns or ["Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId"]
    for label in classes:
        folder = root / f"{label:05d}"
        folder.mkdir(parents=True)
        lines = [";".join(columns)]
        for i in range(per_class):
            pixels = np.zeros((30, 40, 3), np.uint8)      # black frame around the sign
            pixels[5:25, 10:30] = (200, 10 * label % 256, 50)  # the sign: rows 5–24, columns 10–29
            name = f"{label:05d}_{i:05d}.ppm"
            Image.fromarray(pixels).save(folder / name)
            row = {"Filename": name, "Width": 40, "Height": 30, "Roi.X1": 10, "Roi.Y1": 5, "Roi.X2": 29,
                   "Roi.Y2": 24, "ClassId": label}
            lines.append(";".join(str(row[c]) for c in columns))
        (folder / f"GT-{label:05d}.csv").write_text("\n".join(lines) + "\n")


def test_load_gtsrb_reads_crops_and_names_the_classes(tmp_path):
    _write_gtsrb(tmp_path, classes=(14, 27), per_class=10)
    gtsrb = ts.load_gtsrb(tmp_path, image_size=16, val_fraction=0.2, test_fraction=0.2)
    assert gtsrb.name == "gtsrb" and gtsrb.class_names == ("stop", "pedestrians")
    x, y = _all(gtsrb)
    assert x.shape == (20, 16, 16, 3) and x.dtype == np.float32
    assert np.bincount(y).tolist() == [10, 10]
    # the crop is exactly the ROI: no black frame survives, the sign's colour fills the image
    np.testing.assert_allclose(x[y == 0].mean(axis=(0, 1, 2)), np.array([200, 140, 50]) / 255, atol=1e-4)
    assert np.all(x[..., 0] > 0.7)  # no pixel of the black frame (red = 0) was kept


def test_load_gtsrb_accepts_the_unzipped_parent_folder(tmp_path):
    _write_gtsrb(tmp_path / "Final_Training" / "Images", classes=(0, 1, 2), per_class=10)
    gtsrb = ts.load_gtsrb(str(tmp_path), image_size=8, max_per_class=5, val_fraction=0.2, test_fraction=0.2)
    assert gtsrb.class_names == ts.GTSRB_NAMES[:3]
    assert len(gtsrb.y_train) + len(gtsrb.y_val) + len(gtsrb.y_test) == 15


def test_load_gtsrb_errors_name_the_expected_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ts.load_gtsrb(tmp_path / "missing")
    (tmp_path / "00000").mkdir()
    with pytest.raises(FileNotFoundError, match="GT-00000.csv"):
        ts.load_gtsrb(tmp_path)
    with pytest.raises(TypeError, match="folder path"):
        ts.load_gtsrb(42)


def test_load_gtsrb_rejects_bad_annotations(tmp_path):
    _write_gtsrb(tmp_path / "a", classes=(50,))
    with pytest.raises(ValueError, match="ClassId 50"):
        ts.load_gtsrb(tmp_path / "a")
    _write_gtsrb(tmp_path / "b", classes=(1,), columns=["Filename", "Roi.X1", "Roi.Y1", "Roi.X2", "ClassId"])
    with pytest.raises(ValueError, match="Roi.Y2"):
        ts.load_gtsrb(tmp_path / "b")


def test_gtsrb_has_43_class_names_that_include_ours():
    assert len(ts.GTSRB_NAMES) == 43 and len(set(ts.GTSRB_NAMES)) == 43
    assert set(ts.CLASS_NAMES) <= set(ts.GTSRB_NAMES)  # the synthetic classes are real GTSRB classes


# ------------------------------------------------------------------ display
def test_show_signs_draws_rgb_and_grey_images(signs):
    fig = ts.show_signs(signs.x_test[:5], [ts.CLASS_NAMES[c] for c in signs.y_test[:5]], ncols=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 5 and shown[0].images[0].get_array().shape == (24, 24, 3)
    assert shown[0].get_title() == ts.CLASS_NAMES[signs.y_test[0]]
    plt.close(fig)
    fig = ts.show_signs(signs.x_test[:2, ..., :1])
    assert [ax for ax in fig.axes if ax.images][0].images[0].get_array().ndim == 2
    plt.close(fig)
    with pytest.raises(ValueError, match="titles"):
        ts.show_signs(signs.x_test[:3], ["a"])
    with pytest.raises(ValueError, match="shape"):
        ts.show_signs(np.zeros((2, 4, 4, 2)))
