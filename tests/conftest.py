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
