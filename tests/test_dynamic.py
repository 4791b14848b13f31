"""Dynamic pruning: masks, drop-and-grow, the SET/RigL callback, the fixed-mask baseline, channel gating."""

import math

import numpy as np
import pytest

import utils
from utils import _core, dynamic, keras, models, pruning, tf, training
from utils.data import Dataset


@pytest.fixture(scope="module")
def tiny_data(digits):
    """The first 256 training images (fast), with the real validation split."""
    return Dataset(digits.x_train[:256], digits.y_train[:256], digits.x_val, digits.y_val,
                   digits.x_test, digits.y_test, digits.class_names, "digits-tiny")


def _kernels(model):
    return {layer.name: layer.kernel.numpy() for layer in pruning.prunable_layers(model)}


# ------------------------------------------------------------------------------ masks

def test_random_masks_have_the_exact_sparsity_and_depend_on_the_seed():
    model = models.mlp((30,))
    masks = dynamic.random_masks(model, 0.9, seed=1)
    assert set(masks) == {"dense1", "output"}
    for name, kernel in _kernels(model).items():
        assert masks[name].shape == kernel.shape and masks[name].dtype == bool
        assert np.count_nonzero(~masks[name]) == round(0.9 * kernel.size)
    again = dynamic.random_masks(model, 0.9, seed=1)
    other = dynamic.random_masks(model, 0.9, seed=2)
    assert np.array_equal(masks["dense1"], again["dense1"])
    assert not np.array_equal(masks["dense1"], other["dense1"])
    assert dynamic.mask_sparsity(masks) == pytest.approx(0.9, abs=1e-3)


def test_random_masks_per_layer_dict_keeps_unnamed_layers_dense():
    masks = dynamic.random_masks(models.mlp((30,)), {"dense1": 0.5})
    assert masks["output"].all() and np.mean(masks["dense1"]) == pytest.approx(0.5, abs=1e-3)


@pytest.mark.parametrize("sparsity, error", [(1.0, ValueError), (-0.1, ValueError), ("0.5", TypeError),
                                             (True, TypeError), (float("nan"), ValueError),
                                             ({"nope": 0.5}, ValueError)])
def test_random_masks_reject_bad_sparsity(sparsity, error):
    with pytest.raises(error):
        dynamic.random_masks(models.mlp((8,)), sparsity)


def test_apply_masks_zeroes_exactly_the_masked_weights():
    model = models.mlp((12,))
    before = _kernels(model)
    masks = dynamic.random_masks(model, 0.5)
    dynamic.apply_masks(model, masks)
    after = _kernels(model)
    for name in masks:
        np.testing.assert_array_equal(after[name], before[name] * masks[name])
    assert dynamic.masks_from_weights(model)["dense1"].sum() == masks["dense1"].sum()


def test_apply_masks_rejects_wrong_names_and_shapes():
    model = models.mlp((12,))
    with pytest.raises(ValueError, match="prunable layers"):
        dynamic.apply_masks(model, {"conv9": np.ones((2, 2), bool)})
    with pytest.raises(ValueError, match="shape"):
        dynamic.apply_masks(model, {"dense1": np.ones((3, 3), bool)})
    with pytest.raises(TypeError):
        dynamic.apply_masks(model, {})


# -------------------------------------------------------------------- drop and grow

def test_drop_and_grow_keeps_the_count_and_moves_the_right_weights():
    weights = np.array([0.0, 0.9, -0.1, 0.0, 0.5, 0.0, -0.3, 0.0])
    mask = np.array([False, True, True, False, True, False, True, False])
    scores = np.array([0.1, 9.0, 9.0, 0.7, 9.0, 0.2, 9.0, 0.9])  # large scores on active ones are ignored
    new = dynamic.drop_and_grow(weights, mask, 2, scores)
    assert new.sum() == mask.sum()
    # dropped: the two smallest active |w| (-0.1 at 2, -0.3 at 6); grown: best inactive scores (7, 3)
    np.testing.assert_array_equal(np.flatnonzero(new), [1, 3, 4, 7])
    assert not mask[[3, 7]].any()                      # grown only where it was inactive
    np.testing.assert_array_equal(mask, [False, True, True, False, True, False, True, False])  # not modified


def test_drop_and_grow_never_regrows_a_just_dropped_weight():
    weights = np.array([0.01, 0.02, 5.0, 0.0, 0.0])
    mask = np.array([True, True, True, False, False])
    scores = np.array([100.0, 100.0, 0.0, 1.0, 2.0])   # the dropped positions score highest
    new = dynamic.drop_and_grow(weights, mask, 2, scores)
    np.testing.assert_array_equal(new, [False, False, True, True, True])


def test_drop_and_grow_zero_moves_changes_nothing_and_bad_input_raises():
    w, m = np.ones((3, 4)), np.eye(3, 4, dtype=bool)
    np.testing.assert_array_equal(dynamic.drop_and_grow(w, m, 0, np.zeros((3, 4))), m)
    with pytest.raises(ValueError, match="cannot move"):
        dynamic.drop_and_grow(w, m, 4, np.zeros((3, 4)))       # only 3 active
    with pytest.raises(ValueError, match="same shape"):
        dynamic.drop_and_grow(w, m, 1, np.zeros(12))
    with pytest.raises(TypeError, match="boolean"):
        dynamic.drop_and_grow(w, m.astype(int), 1, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="non-negative int"):
        dynamic.drop_and_grow(w, m, -1, np.zeros((3, 4)))


def test_cosine_drop_fraction_follows_rigl_schedule():
    f = dynamic.cosine_drop_fraction
    assert f(0, initial=0.3, end_step=100) == pytest.approx(0.3)
    assert f(50, initial=0.3, end_step=100) == pytest.approx(0.15)
    assert f(100, initial=0.3, end_step=100) == pytest.approx(0.0, abs=1e-12)
    assert f(101, initial=0.3, end_step=100) == 0.0
    values = [f(t, initial=0.3, end_step=100) for t in range(0, 101, 10)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert f(25, initial=0.3, end_step=100) == pytest.approx(0.15 * (1 + math.cos(math.pi / 4)))
    with pytest.raises(ValueError):
        f(0, initial=0.0, end_step=100)
    with pytest.raises(ValueError):
        f(0, initial=0.3, end_step=0)


# ------------------------------------------------------------------------ callbacks

class _Snapshots(keras.callbacks.Callback):
    """Records the DST callback's masks and the model's kernels after every batch."""

    def __init__(self, dst):
        super().__init__()
        self.dst, self.masks, self.kernels = dst, [], []

    def on_train_batch_end(self, batch, logs=None):
        self.masks.append({k: v.copy() for k, v in self.dst.masks.items()})
        self.kernels.append(_kernels(self.model))


def _train_with(callback, model, data, epochs=2):
    snapshots = _Snapshots(callback)
    training.train(model, data, epochs=epochs, batch_size=32, callbacks=[callback, snapshots])
    return snapshots


@pytest.mark.parametrize("method", ["set", "rigl"])
def test_dst_keeps_sparsity_constant_and_moves_weights(method, tiny_data):
    utils.set_seed(0)
    model = models.mlp((32,))
    masks = dynamic.random_masks(model, 0.9, seed=0)
    counts = {name: int(m.sum()) for name, m in masks.items()}
    dst = dynamic.DynamicSparseTraining(masks, method=method, update_every=4, end_step=13,
                                        gradient_data=(tiny_data.x_train, tiny_data.y_train))
    snaps = _train_with(dst, model, tiny_data)          # 2 epochs × 8 steps = 16 steps
    assert [u["step"] for u in dst.updates if u["layer"] == "dense1"] == [4, 8, 12]
    for mask_set, kernels in zip(snaps.masks, snaps.kernels):
        for name, mask in mask_set.items():
            assert int(mask.sum()) == counts[name]                      # exact, every step
            assert not kernels[name][~mask].any()                       # masked weights are zero
    assert all(u["moved"] > 0 for u in dst.updates if u["layer"] == "dense1")
    assert not np.array_equal(dst.masks["dense1"], masks["dense1"])     # the mask did move
    assert dynamic.mask_sparsity(dst.masks) == pytest.approx(dynamic.mask_sparsity(masks))
    # after end_step the mask is frozen
    assert all(np.array_equal(m["dense1"], snaps.masks[12]["dense1"]) for m in snaps.masks[12:])


def test_dst_update_moves_the_scheduled_number_and_grows_at_inactive_positions(tiny_data):
    for method in ("set", "rigl"):
        utils.set_seed(0)
        model = models.mlp((32,))
        dynamic.apply_masks(model, dynamic.random_masks(model, 0.8, seed=3))
        dst = dynamic.DynamicSparseTraining(dynamic.random_masks(model, 0.8, seed=3), method=method,
                                            update_every=1, end_step=10, drop_fraction=0.3,
                                            gradient_data=(tiny_data.x_train, tiny_data.y_train))
        dst.set_model(model)
        dst.step = 0
        before = {k: v.copy() for k, v in dst.masks.items()}
        dst.update_masks()                                   # at step 0: fraction 0.3
        for name, old in before.items():
            new = dst.masks[name]
            grown, dropped = new & ~old, old & ~new
            assert grown.sum() == dropped.sum() == round(0.3 * old.sum())
            assert not (grown & old).any()                   # only previously inactive positions
            kernel = model.get_layer(name).kernel.numpy()
            assert not kernel[grown].any()                   # regrown weights start at zero
            assert not kernel[~new].any()                    # dropped weights are zeroed


def test_rigl_grows_where_the_gradient_is_largest(tiny_data):
    utils.set_seed(0)
    model = models.mlp((16,))
    masks = dynamic.random_masks(model, 0.9, seed=0)
    dynamic.apply_masks(model, masks)
    dst = dynamic.DynamicSparseTraining(masks, method="rigl", update_every=1, end_step=5,
                                        gradient_data=(tiny_data.x_train, tiny_data.y_train),
                                        gradient_batch_size=len(tiny_data.x_train))
    dst.set_model(model)
    gradient = dst._dense_gradients([model.get_layer("output")])[0]
    old = masks["output"].copy()
    dst.update_masks()
    grown = dst.masks["output"] & ~old
    candidates = gradient[~old]
    # every grown position's |gradient| is at least as large as every non-grown candidate's
    assert gradient[grown].min() >= candidates[~grown[~old]].max()


def test_set_regrowth_is_spread_at_random(tiny_data):
    utils.set_seed(0)
    model = models.mlp((32,))
    masks = dynamic.random_masks(model, 0.9, seed=0)
    dst = dynamic.DynamicSparseTraining(masks, method="set", update_every=1, end_step=5, seed=0)
    dst.set_model(model)
    dynamic.apply_masks(model, masks)
    dst.update_masks()
    grown = dst.masks["dense1"] & ~masks["dense1"]
    rows = grown.sum(axis=1)                       # per input pixel; random growth reaches many
    assert np.count_nonzero(rows) > 0.2 * len(rows)


def test_fixed_mask_never_changes(tiny_data):
    utils.set_seed(0)
    model = models.mlp((32,))
    masks = dynamic.random_masks(model, 0.9, seed=0)
    fixed = dynamic.FixedMask(masks)
    snaps = _train_with(fixed, model, tiny_data)
    for mask_set, kernels in zip(snaps.masks, snaps.kernels):
        for name, mask in masks.items():
            np.testing.assert_array_equal(mask_set[name], mask)
            assert not kernels[name][~mask].any()
    assert fixed.step == 16 and fixed.sparsity() == pytest.approx(0.9, abs=1e-3)
    assert not any(isinstance(f, _core.SlowCallbackFilter)           # the warning filter is removed again
                   for f in utils.tf.get_logger().filters)
    # the model learned something despite the zeros
    assert np.count_nonzero(_kernels(model)["dense1"]) == masks["dense1"].sum()


def test_callbacks_reject_bad_arguments(tiny_data):
    masks = dynamic.random_masks(models.mlp((8,)), 0.9)
    data = (tiny_data.x_train, tiny_data.y_train)
    ok = dict(method="set", update_every=10, end_step=100)
    with pytest.raises(ValueError, match="'set'"):
        dynamic.DynamicSparseTraining(masks, **{**ok, "method": "random"})
    with pytest.raises(ValueError, match="gradient_data"):
        dynamic.DynamicSparseTraining(masks, **{**ok, "method": "rigl"})
    with pytest.raises(ValueError, match="update_every"):
        dynamic.DynamicSparseTraining(masks, **{**ok, "update_every": 0})
    with pytest.raises(TypeError, match="end_step"):
        dynamic.DynamicSparseTraining(masks, **{**ok, "end_step": 2.5})
    with pytest.raises(ValueError, match="drop_fraction"):
        dynamic.DynamicSparseTraining(masks, **ok, drop_fraction=1.0)
    with pytest.raises(ValueError, match="too large"):     # 50 % dense: moving 0.3×… fine; 10 % sparse: not
        dynamic.DynamicSparseTraining(dynamic.random_masks(models.mlp((8,)), 0.1), **ok, drop_fraction=0.5)
    with pytest.raises(ValueError, match="equal length"):
        dynamic.DynamicSparseTraining(masks, **{**ok, "method": "rigl"}, gradient_data=(data[0], data[1][:3]))
    with pytest.raises(TypeError, match="boolean"):
        dynamic.FixedMask({"dense1": np.ones((784, 8))})
    with pytest.raises(TypeError, match="non-empty dict"):
        dynamic.FixedMask([])
    wrong = dynamic.FixedMask({"dense7": np.ones((3, 3), bool)})
    with pytest.raises(ValueError, match="prunable layers"):
        training.train(models.mlp((8,)), tiny_data, epochs=1, callbacks=[wrong])


# --------------------------------------------------------------------- channel gating

@pytest.fixture(scope="module")
def small_trained_cnn(digits):
    utils.set_seed(0)
    model = models.small_cnn((8, 16), batch_norm=False, dense=0)
    training.train(model, digits, epochs=2)
    return model


def test_gate_keeps_exactly_the_top_k_channels_per_input():
    x = np.zeros((2, 2, 2, 4), np.float32)
    x[0, ..., 0], x[0, ..., 1], x[0, ..., 2], x[0, ..., 3] = 1.0, 3.0, 2.0, 0.5
    x[1, ..., 0], x[1, ..., 1], x[1, ..., 2], x[1, ..., 3] = 4.0, -0.1, 0.2, 5.0   # |·| is the saliency
    y = dynamic.TopKChannelGate(2)(x).numpy()
    kept = np.any(y != 0, axis=(1, 2))
    np.testing.assert_array_equal(kept, [[False, True, True, False], [True, False, False, True]])
    np.testing.assert_array_equal(y[0, ..., 1], x[0, ..., 1])       # kept channels pass unchanged
    np.testing.assert_array_equal(dynamic.TopKChannelGate(4)(x).numpy(), x)


def test_gate_rejects_bad_k_and_shapes():
    with pytest.raises(ValueError, match="positive int"):
        dynamic.TopKChannelGate(0)
    with pytest.raises(ValueError, match="exceeds"):
        dynamic.TopKChannelGate(5)(np.zeros((1, 2, 2, 4), np.float32))
    with pytest.raises(ValueError, match="4-D"):
        dynamic.TopKChannelGate(2)(np.zeros((1, 4), np.float32))


def test_gate_channels_copies_and_gating_sweep_reports(small_trained_cnn, digits):
    model = small_trained_cnn
    before = [w.copy() for w in model.get_weights()]
    gated = dynamic.gate_channels(model, "relu2", 4)
    assert [layer.name for layer in gated.layers].index("gate") == \
        [layer.name for layer in model.layers].index("relu2") + 1
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert not any(g is m for g in gated.layers for m in model.layers)   # independent copy
    usage = dynamic.channel_usage(gated, digits.x_test[:50])
    assert usage.shape == (50, 16) and usage.sum(axis=1).max() <= 4
    full = dynamic.gate_channels(model, "relu2", 16)
    np.testing.assert_allclose(full(digits.x_test[:20]).numpy(), model(digits.x_test[:20]).numpy(),
                               rtol=1e-5, atol=1e-6)
    table = dynamic.gating_sweep(model, "relu2", [16, 8, 2], digits.x_test, digits.y_test)
    assert list(table.k) == [16, 8, 2]
    assert table.skipped.iloc[1] >= 0.5 and table.skipped.iloc[2] >= 0.875
    assert table.skipped.is_monotonic_increasing
    assert table.accuracy.iloc[0] > table.accuracy.iloc[2]


def test_gate_channels_rejects_bad_input(small_trained_cnn):
    with pytest.raises(ValueError, match="no layer named"):
        dynamic.gate_channels(small_trained_cnn, "relu9", 2)
    with pytest.raises(TypeError, match="Sequential"):
        inputs = keras.Input((28, 28, 1))
        dynamic.gate_channels(keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs)), "conv", 1)
    with pytest.raises(ValueError, match="exceeds"):
        dynamic.gate_channels(small_trained_cnn, "relu2", 17)


def test_a_custom_update_drives_the_mask_and_is_checked(tiny_data):
    """Lab 03 passes the student's drop_and_grow as ``update=``: it is called, and a bad result is refused."""
    utils.set_seed(0)
    model = models.mlp((16,))
    masks = dynamic.random_masks(model, 0.9, seed=0)
    dynamic.apply_masks(model, masks)
    calls = []

    def spy(weights, mask, n, scores):
        calls.append(n)
        return dynamic.drop_and_grow(weights, mask, n, scores)

    dst = dynamic.DynamicSparseTraining(masks, method="set", update_every=1, end_step=5, update=spy)
    dst.set_model(model)
    dst.update_masks()
    assert len(calls) == 2 and all(n > 0 for n in calls)          # one call per kernel

    def loses_weights(weights, mask, n, scores):
        return np.zeros_like(mask)

    bad = dynamic.DynamicSparseTraining(dynamic.random_masks(model, 0.9, seed=0), method="set",
                                        update_every=1, end_step=5, update=loses_weights)
    bad.set_model(model)
    with pytest.raises(ValueError, match="active weights"):
        bad.update_masks()
    with pytest.raises(TypeError, match="update"):
        dynamic.DynamicSparseTraining(masks, method="set", update_every=1, end_step=5, update="drop")


def test_top_k_gate_numpy_reference_matches_the_layer_and_drives_it():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 4, 6)).astype(np.float32)
    expected = dynamic.TopKChannelGate(2)(x).numpy()
    np.testing.assert_allclose(dynamic.top_k_gate(x, 2), expected)
    calls = []

    def spy(a, k):
        calls.append(k)
        return dynamic.top_k_gate(a, k)

    layer = dynamic.TopKChannelGate(2, gate=spy)
    np.testing.assert_allclose(layer(x).numpy(), expected)
    assert calls == [2]
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.reduce_sum(layer(xt))
    grad = tape.gradient(y, xt).numpy()
    kept = np.any(expected != 0, axis=(1, 2), keepdims=True)
    np.testing.assert_array_equal(grad, np.broadcast_to(kept, x.shape).astype(np.float32))


def test_class_dependence_separates_a_class_driven_gate_from_a_shuffled_one():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(5), 40)                       # 5 classes, 40 inputs each
    by_class = np.zeros((200, 10), bool)
    for c in range(5):
        by_class[y == c, 2 * c:2 * c + 2] = True          # each class uses its own two channels
    assert dynamic.class_dependence(by_class, y) == pytest.approx(1.0)
    shuffled = dynamic.shuffled_usage(by_class, seed=1)
    assert np.array_equal(shuffled.sum(axis=1), by_class.sum(axis=1))   # same count per input
    assert dynamic.class_dependence(shuffled, y) < 0.1    # chance level, about (5 - 1) / 200
    noisy = by_class ^ (rng.random(by_class.shape) < 0.1)
    assert 0.3 < dynamic.class_dependence(noisy, y) < 1.0
    with pytest.raises(ValueError, match="one label per input"):
        dynamic.class_dependence(by_class, y[:10])
