"""Shared fixtures: small models trained once per test session."""

import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import utils  # noqa: E402
from utils import data, models, training  # noqa: E402
from utils.data import Dataset  # noqa: E402


@pytest.fixture(scope="session")
def digits():
    return data.load_dataset("digits")


@pytest.fixture(scope="session")
def trained_mlp(digits):
    """A small MLP trained for a few epochs on digits (about 95 % accurate)."""
    utils.set_seed(0)
    model = models.mlp((64,))
    training.train(model, digits, epochs=8)
    return model


@pytest.fixture(scope="session")
def trained_cnn(digits):
    """The seed CNN trained briefly on digits."""
    utils.set_seed(0)
    model = models.seed_cnn()
    training.train(model, digits, epochs=3)
    return model


@pytest.fixture(scope="session")
def tiny_data(digits):
    """The first 256 training digits (validation and test splits unchanged)."""
    return Dataset(digits.x_train[:256], digits.y_train[:256], digits.x_val, digits.y_val,
                   digits.x_test, digits.y_test, digits.class_names, "digits-tiny")


@pytest.fixture(scope="session")
def tiny_trained(tiny_data):
    utils.set_seed(0)
    model = models.mlp((24,))
    training.train(model, tiny_data, epochs=2, batch_size=32)
    return model


@pytest.fixture(scope="session")
def scan(trained_mlp, digits):
    """The sensitivity scan of the trained MLP at 50, 80 and 95 % sparsity."""
    from utils import pruning

    return pruning.sensitivity_scan(trained_mlp, digits, [0.5, 0.8, 0.95])
