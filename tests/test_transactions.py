"""Tests of the generated "transactions" dataset (utils.transactions)."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from utils import data
from utils.transactions import (
    CLASS_NAMES,
    MERCHANTS,
    NUMERIC_FEATURES,
    RAW_FEATURES,
    TransactionsDataset,
    make_transactions,
)

SPLITS = ("train", "val", "test")


@pytest.fixture(scope="module")
def transactions():
    return make_transactions(20_000, fraud_rate=0.015, seed=0)


def _parts(ds, split):
    return (getattr(ds, f"x_{split}"), getattr(ds, f"y_{split}"), getattr(ds, f"customer_{split}"),
            getattr(ds, f"raw_{split}"))


def test_shapes_dtypes_and_names(transactions):
    ds = transactions
    assert isinstance(ds, TransactionsDataset) and isinstance(ds, data.Dataset)
    assert ds.input_shape == (14,) and ds.num_classes == 2
    assert ds.class_names == CLASS_NAMES == ("legitimate", "fraud")
    assert ds.feature_names[:5] == NUMERIC_FEATURES and ds.feature_names[5] == "card_present"
    assert ds.feature_names[6:] == tuple(f"merchant={m}" for m in MERCHANTS)
    assert ds.raw_feature_names == RAW_FEATURES
    total = 0
    for split in SPLITS:
        x, y, customers, raw = _parts(ds, split)
        assert x.dtype == np.float32 and y.dtype == np.int64 and customers.dtype == np.int64
        assert x.shape == (len(y), 14) and len(customers) == len(y) == len(raw)
        assert list(raw.columns) == list(RAW_FEATURES)
        assert np.isfinite(x).all()
        total += len(y)
    assert total == 20_000
    assert "transactions" in repr(ds) and "training customers" in repr(ds)


def test_split_is_about_70_10_20_and_by_customer(transactions):
    ds = transactions
    sizes = np.array([len(ds.y_train), len(ds.y_val), len(ds.y_test)]) / 20_000
    np.testing.assert_allclose(sizes, [0.7, 0.1, 0.2], atol=0.03)
    sets = [set(np.unique(getattr(ds, f"customer_{s}")).tolist()) for s in SPLITS]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2]), "a customer is in two splits"
    assert len(sets[0]) > 1000  # many customers, several transactions each
    counts = np.bincount(ds.customer_train)
    assert counts[counts > 0].mean() > 3


def test_split_fractions_are_configurable():
    ds = make_transactions(10_000, fraud_rate=0.02, val_fraction=0.2, test_fraction=0.3, seed=2)
    customers = [len(np.unique(getattr(ds, f"customer_{s}"))) for s in SPLITS]
    np.testing.assert_allclose(np.array(customers) / sum(customers), [0.5, 0.2, 0.3], atol=0.02)


def test_class_balance_is_as_documented():
    for rate in (0.01, 0.02):
        ds = make_transactions(30_000, fraud_rate=rate, seed=1)
        frauds = sum(int(getattr(ds, f"y_{s}").sum()) for s in SPLITS)
        assert frauds == round(30_000 * rate)  # exactly round(n * fraud_rate) in total
        for split in SPLITS:
            share = getattr(ds, f"y_{split}").mean()
            assert abs(share - rate) < 0.35 * rate, (split, share)  # close, split by customer


def test_encoded_value_ranges(transactions):
    ds = transactions
    numeric = ds.x_train[:, :5]
    np.testing.assert_allclose(numeric.mean(axis=0), 0.0, atol=1e-4)   # standardised on train
    np.testing.assert_allclose(numeric.std(axis=0), 1.0, atol=1e-3)
    for split in SPLITS:
        x = getattr(ds, f"x_{split}")
        assert set(np.unique(x[:, 5]).tolist()) <= {0.0, 1.0}           # card present, not rescaled
        one_hot = x[:, 6:]
        assert set(np.unique(one_hot).tolist()) <= {0.0, 1.0}
        np.testing.assert_array_equal(one_hot.sum(axis=1), 1.0)         # exactly one merchant
    # hour_sin / hour_cos lie on a circle before standardisation: undo it and check
    raw = ds.raw_train
    angle = 2 * np.pi * raw["hour"].to_numpy() / 24
    sin_std = (np.sin(angle) - np.sin(angle).mean()) / np.sin(angle).std()
    np.testing.assert_allclose(ds.x_train[:, 1], sin_std, atol=1e-4)


def test_raw_values_are_plausible_transactions(transactions):
    raw = pd.concat([transactions.raw_train, transactions.raw_val, transactions.raw_test])
    assert list(raw.columns) == list(RAW_FEATURES)
    cents = raw["amount"].to_numpy() * 100
    np.testing.assert_allclose(cents, np.round(cents), atol=1e-6)  # euros and cents
    assert raw["amount"].min() >= 0.01
    assert 20 < raw["amount"].median() < 80                # a typical purchase: tens of euros
    assert set(raw["merchant"]) == set(MERCHANTS)          # every category occurs
    assert set(raw["card_present"].unique()) == {0, 1}     # both in-shop and card-not-present
    assert raw["velocity_24h"].dtype == np.int64 and raw["velocity_24h"].max() > 0
    online = raw["merchant"] == "online retail"
    assert (raw.loc[online, "card_present"] == 0).all()  # nobody is present at an online shop


def test_fraud_differs_in_distribution_as_documented(transactions):
    raw, y = transactions.raw_train, transactions.y_train
    fraud, legit = raw[y == 1], raw[y == 0]
    far = lambda frame: frame["distance_km"].gt(50).mean()  # noqa: E731
    assert far(fraud) > 5 * far(legit)                       # opportunistic fraud: far from home
    assert frame_share(fraud["distance_km"] < 20) > 0.3      # local frauds and mimicry: near home
    assert fraud["velocity_24h"].mean() > legit["velocity_24h"].mean() + 1
    assert fraud["card_present"].mean() < legit["card_present"].mean() / 2
    night = lambda frame: frame["hour"].lt(6).mean()  # noqa: E731
    assert night(fraud) > 2 * night(legit)
    assert (fraud["amount"] <= 5).mean() > 0.1     # card tests: small amounts that look harmless


def frame_share(mask):
    return float(np.mean(mask))


def test_deterministic_per_seed():
    a, b, c = (make_transactions(2_000, fraud_rate=0.02, seed=s) for s in (3, 3, 4))
    for split in SPLITS:
        for left, right in zip(_parts(a, split)[:3], _parts(b, split)[:3]):
            np.testing.assert_array_equal(left, right)
        pd.testing.assert_frame_equal(a.raw_test, b.raw_test)
    assert not np.array_equal(a.x_train[:50], c.x_train[:50])


def test_registered_in_load_dataset():
    ds = data.load_dataset("transactions", n=2_000, fraud_rate=0.02, seed=5)
    direct = make_transactions(2_000, fraud_rate=0.02, seed=5)
    np.testing.assert_array_equal(ds.x_test, direct.x_test)
    assert ds.name == "transactions"


def test_replace_keeps_working():
    ds = make_transactions(2_000, fraud_rate=0.02)
    keep = ds.y_train == 1
    small = dataclasses.replace(ds, x_train=ds.x_train[keep], y_train=ds.y_train[keep])
    assert small.y_train.all() and small.input_shape == (14,)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n": 100}, ValueError, r"n must be an int in \[200, inf\), got 100"),
    ({"n": 5000.0}, TypeError, "n must be an int"),
    ({"fraud_rate": 0.0}, ValueError, r"fraud_rate must be in \(0, 0.5\) \(the share of fraudulent"),
    ({"fraud_rate": 0.7}, ValueError, r"fraud_rate must be in \(0, 0.5\)"),
    ({"fraud_rate": "1%"}, TypeError, "fraud_rate must be a number"),
    ({"n": 500, "fraud_rate": 0.01}, ValueError, "too few"),
    ({"n_customers": 5}, ValueError, r"n_customers must be an int in \[10, 2000\]"),
    ({"n_customers": 20.0}, TypeError, "n_customers must be an int"),
    ({"seed": 1.5}, TypeError, "seed must be a non-negative int"),
    ({"seed": -1}, ValueError, "seed must be a non-negative int"),
    ({"val_fraction": 0.0}, ValueError, r"val_fraction must be in \(0, 1\)"),
    ({"val_fraction": True}, TypeError, "val_fraction must be a number"),
    ({"val_fraction": 0.5, "test_fraction": 0.45}, ValueError, "at least 10 %"),
])
def test_bad_arguments_are_explained(kwargs, error, match):
    kwargs = {"n": 2_000, **kwargs}
    with pytest.raises(error, match=match):
        make_transactions(**kwargs)
