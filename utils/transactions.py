"""Synthetic card transactions for the financial-risk case study (Lab 10, chapter 7).

Real card-transaction data are confidential, and the few public sets are anonymised beyond
recognition (the widely used European card data of Dal Pozzolo et al., 2015, ships only
28 PCA components besides the time and the amount). This module *generates* transactions
instead: deterministic from a seed, offline, with named features a student can reason about,
and with a customer id per transaction so that the privacy lab can ask "was this customer's
data used for training?".

The generative story
--------------------
**Customers.** Each of ``n_customers`` customers gets a stable profile:

* a spending level ``μ`` (log-euros, normal around log 40 €): typical amounts differ
  tenfold between customers;
* a preferred time of day (normal around 14:00, spread 2.5 h);
* shopping habits: a Dirichlet draw around the population's merchant mix;
* a card-present propensity (Beta(8, 3), about 73 % of purchases in a shop);
* a home radius (log-normal around 5 km) and an activity level (Gamma(2), so a few
  customers make many transactions and many make few).

**Legitimate transactions** of a customer: merchant category from their habits; amount
``exp(μ + category offset + N(0, 0.6²))`` (log-normal: heavy-tailed, as real amounts are);
hour around their preferred time (spread 3.5 h, wrapped around midnight); distance from home
exponential with their radius, except 3 % "trips" (log-normal around 300 km); velocity (the
number of the card's other transactions in the previous 24 h) Poisson with a mean that grows
with activity; card present with their propensity (never for online retail).

**Fraudulent transactions** — a stolen card or card number used by someone else — are a
fixed share ``fraud_rate`` of all transactions, each on the card of a random customer
(weighted by activity). They differ *in distribution*, not in kind, so every fraud pattern
also occurs in some legitimate purchases. The merchant is drawn from a fraud mix (mostly
online retail, electronics, travel and cash withdrawals); the rest depends on the fraudster:

* **Opportunistic fraud** (60 %): the amount is usually above the victim's typical one
  (``exp(μ + N(1, 0.9²))``), but a quarter are 1–5 € "card tests" that look like nothing;
  half happen at night (around 03:00), half at any time; 70 % far from home (log-normal
  around 80 km), 30 % close (a skimmed card used locally); in bursts (velocity
  ``1 + Poisson(2.5)``); card present 20 % of the time.
* **Mimicry** (40 %, account takeover by someone who knows the victim's habits): amount,
  hour, distance and card presence are drawn like the victim's own purchases (the amount
  raised by about a third); only the merchant mix and a small burst (velocity + Poisson(1))
  give it away. Most of these are hard to catch from six features — as in practice, where
  some fraud is only found when the customer disputes the payment.

Encoding
--------
``x`` has one row per transaction and these float32 columns (``feature_names``):

* ``log_amount`` = log(1 + amount), ``hour_sin`` / ``hour_cos`` (the hour on a circle, so that
  23:00 and 01:00 are neighbours), ``log_distance`` = log(1 + km), ``velocity_24h`` — these five
  numeric columns are **standardised** with the mean and standard deviation of the *training*
  split (no information from validation or test customers leaks into the scaling);
* ``card_present`` — 0 or 1, not rescaled;
* ``merchant=<category>`` — the merchant category **one-hot encoded**: one 0/1 column per
  category, exactly one of them 1 (a category has no order, so it must not be one number).

The raw, human-readable values are kept as DataFrames (``raw_train`` …, columns
``raw_feature_names``: amount in €, hour in [0, 24), merchant name, distance in km, velocity,
card present), and ``customer_train`` … hold each row's customer id.

Splits are **by customer**: by default 70 / 10 / 20 % of the customers (shuffled with
``seed``) form train / validation / test, so no customer appears in two splits. The fraud share of each
split is therefore close to ``fraud_rate`` but not exactly equal to it.

What is realistic, and what is not
----------------------------------
Realistic: heavy-tailed amounts that depend on the customer; frauds concentrated in a few
merchant categories, at night, far from home, in bursts, card-not-present; overlap between
the classes (card tests, local frauds, mimicry, legitimate trips abroad), so no rule is
perfect and a long tail of frauds is learnable only by memorising examples; several records
per customer, as in a bank's history.

Not realistic: transactions are drawn independently given the customer (no timeline: the
velocity is drawn, not counted from earlier rows); profiles never change and there is no
seasonality or drift; fraudsters do not adapt to the model; labels are perfect and immediate
(real labels come from chargebacks, weeks later, and miss undetected fraud); only six
features (real systems use hundreds, many of them aggregates of the customer's history).
And the default ``fraud_rate`` of 1.5 % is far higher than in practice — Dal Pozzolo et al.'s
public set has 0.17 % — so that a small test split still holds enough frauds to measure
recall; expect real precision at a given recall to be lower.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._validate import check_int, check_real
from .dataset import Dataset, check_split_fractions

__all__ = ["make_transactions", "TransactionsDataset", "MERCHANTS", "RAW_FEATURES", "NUMERIC_FEATURES",
           "CLASS_NAMES"]

CLASS_NAMES = ("legitimate", "fraud")
MERCHANTS = ("grocery", "restaurant", "fuel", "online retail", "electronics", "travel", "entertainment",
             "cash withdrawal")
RAW_FEATURES = ("amount", "hour", "merchant", "distance_km", "velocity_24h", "card_present")
NUMERIC_FEATURES = ("log_amount", "hour_sin", "hour_cos", "log_distance", "velocity_24h")

# Population shares of the merchant categories among legitimate and fraudulent transactions,
# how much more (log-euros) a purchase there costs than the customer's typical one, and how
# often it is made with the card present (online retail: never).
_LEGIT_MIX = np.array([0.28, 0.20, 0.12, 0.18, 0.04, 0.04, 0.09, 0.05])
_FRAUD_MIX = np.array([0.04, 0.04, 0.04, 0.35, 0.20, 0.12, 0.09, 0.12])
_AMOUNT_OFFSET = np.array([0.0, -0.2, 0.1, 0.2, 1.2, 1.5, -0.1, 0.5])
_PRESENT_FACTOR = np.array([1.0, 1.0, 1.0, 0.0, 0.8, 0.5, 0.9, 1.0])
_MIMIC_SHARE = 0.4   # share of frauds that imitate the victim's own habits


@dataclass(repr=False)
class TransactionsDataset(Dataset):
    """A :class:`utils.data.Dataset` of transactions, with customer ids and raw features.

    Extra attributes (one entry per row of the matching ``x_*`` array):
        customer_train, customer_val, customer_test: int64 customer ids; each customer
            occurs in one split only.
        raw_train, raw_val, raw_test: ``pandas.DataFrame`` with the raw features
            ``RAW_FEATURES`` (amount in €, hour in [0, 24), merchant name, distance in km,
            velocity, card present 0/1).
        feature_names: names of the columns of ``x_*`` (after encoding).
        raw_feature_names: ``RAW_FEATURES``.

    ``dataclasses.replace(ds, x_train=..., y_train=...)`` keeps the old ``customer_train`` and
    ``raw_train``; replace them too if you select rows.
    """

    customer_train: np.ndarray
    customer_val: np.ndarray
    customer_test: np.ndarray
    raw_train: pd.DataFrame
    raw_val: pd.DataFrame
    raw_test: pd.DataFrame
    feature_names: tuple
    raw_feature_names: tuple = RAW_FEATURES

    def __repr__(self):
        return super().__repr__()[:-1] + f", {len(np.unique(self.customer_train))} training customers)"


def _check_args(n, fraud_rate, n_customers, seed):
    """The generator's arguments; return ``(n, fraud_rate, n_customers, seed)`` with the default filled in."""
    n = check_int(n, "n", minimum=200)
    fraud_rate = check_real(fraud_rate, "fraud_rate", low=0.0, high=0.5, low_open=True, high_open=True,
                            meaning="the share of fraudulent transactions, e.g. 0.015")
    if round(fraud_rate * n) < 10:
        raise ValueError(f"n * fraud_rate = {n * fraud_rate:.1f} frauds is too few; need at least 10 "
                         "(raise n or fraud_rate)")
    if n_customers is None:
        n_customers = max(10, n // 8)
    n_customers = check_int(n_customers, "n_customers", minimum=10, maximum=n)
    return n, fraud_rate, n_customers, check_int(seed, "seed", minimum=0)


def _customers(rng, n_customers):
    """Stable profiles, one row per customer (see the module docstring)."""
    return {
        "mu": rng.normal(np.log(40.0), 0.5, n_customers),
        "hour": rng.normal(14.0, 2.5, n_customers),
        "habits": rng.dirichlet(30.0 * _LEGIT_MIX, n_customers),
        "present": rng.beta(8.0, 3.0, n_customers),
        "radius": rng.lognormal(np.log(5.0), 0.5, n_customers),
        "activity": rng.gamma(2.0, 1.0, n_customers),
    }


def _pick_categories(rng, probabilities):
    """One category per row of ``probabilities`` (n, k) — inverse-CDF sampling, vectorised."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return (u > cumulative).sum(axis=1)


def _legitimate(rng, profile, who):
    m = len(who)
    category = _pick_categories(rng, profile["habits"][who])
    amount = np.exp(profile["mu"][who] + _AMOUNT_OFFSET[category] + rng.normal(0.0, 0.6, m))
    hour = np.mod(profile["hour"][who] + rng.normal(0.0, 3.5, m), 24.0)
    trip = rng.random(m) < 0.03
    distance = np.where(trip, rng.lognormal(np.log(300.0), 1.0, m),
                        profile["radius"][who] * rng.exponential(1.0, m))
    velocity = rng.poisson(0.5 + 0.4 * profile["activity"][who])
    present = rng.random(m) < profile["present"][who] * _PRESENT_FACTOR[category]
    return category, amount, hour, distance, velocity, present


def _fraudulent(rng, profile, who):
    m = len(who)
    category = _pick_categories(rng, np.tile(_FRAUD_MIX, (m, 1)))
    card_test = rng.random(m) < 0.25
    amount = np.where(card_test, rng.uniform(1.0, 5.0, m),
                      np.exp(profile["mu"][who] + rng.normal(1.0, 0.9, m)))
    night = rng.random(m) < 0.5
    hour = np.where(night, np.mod(rng.normal(3.0, 2.0, m), 24.0), rng.uniform(0.0, 24.0, m))
    far = rng.random(m) < 0.7
    distance = np.where(far, rng.lognormal(np.log(80.0), 1.2, m),
                        profile["radius"][who] * rng.exponential(1.0, m))
    velocity = 1 + rng.poisson(2.5, m)
    present = (rng.random(m) < 0.2) & (_PRESENT_FACTOR[category] > 0)
    # Mimicry: the fraudster uses the card as its owner would — only the merchant mix and a
    # small burst of activity give it away.
    mimic = rng.random(m) < _MIMIC_SHARE
    own = _legitimate(rng, profile, who)
    category = np.where(mimic, _pick_categories(rng, np.tile(_FRAUD_MIX, (m, 1))), category)
    amount = np.where(mimic, own[1] * np.exp(rng.normal(0.3, 0.3, m)), amount)
    hour = np.where(mimic, own[2], hour)
    distance = np.where(mimic, own[3], distance)
    velocity = np.where(mimic, own[4] + rng.poisson(1.0, m), velocity)
    present = np.where(mimic, own[5] & (rng.random(m) < 0.5) & (_PRESENT_FACTOR[category] > 0), present)
    return category, amount, hour, distance, velocity, present


def _encode(raw):
    """Raw DataFrame → (numeric block (n, 5) float64, card_present (n, 1), one-hot merchant (n, 8))."""
    angle = 2 * np.pi * raw["hour"].to_numpy() / 24.0
    numeric = np.column_stack([np.log1p(raw["amount"].to_numpy()), np.sin(angle), np.cos(angle),
                               np.log1p(raw["distance_km"].to_numpy()), raw["velocity_24h"].to_numpy()])
    present = raw["card_present"].to_numpy()[:, None].astype(np.float64)
    codes = pd.Categorical(raw["merchant"], categories=MERCHANTS).codes
    one_hot = np.eye(len(MERCHANTS))[codes]
    return numeric, present, one_hot


def make_transactions(n=80_000, *, fraud_rate=0.015, n_customers=None, val_fraction=0.1, test_fraction=0.2,
                      seed=0):
    """Generate the ``"transactions"`` dataset: imbalanced card transactions with customer ids.

    See the module docstring for the generative story, the encoding and what is (not) realistic.

    Args:
        n: number of transactions (at least 200, and at least 10 frauds). The default gives
            about 1,200 frauds, some 240 of them in the test split.
        fraud_rate: share of fraudulent transactions, in (0, 0.5); exactly
            ``round(n * fraud_rate)`` transactions are fraud.
        n_customers: number of customers (default ``n // 8``: eight transactions each on average).
        val_fraction, test_fraction: shares of the *customers* whose transactions form the
            validation and test splits (the rest is for training).
        seed: seed of the generator and of the split; the same seed gives the same data.

    Returns:
        A :class:`TransactionsDataset`: float32 ``x`` of shape ``(n_split, 14)`` (five
        standardised numeric columns, ``card_present``, eight one-hot merchant columns),
        int64 ``y`` (0 = legitimate, 1 = fraud), ``class_names == ("legitimate", "fraud")``,
        plus customer ids and raw features per split.
    """
    n, fraud_rate, n_customers, seed = _check_args(n, fraud_rate, n_customers, seed)
    val_fraction, test_fraction = check_split_fractions(val_fraction, test_fraction)
    rng = np.random.default_rng(seed)
    profile = _customers(rng, n_customers)
    n_fraud = int(round(n * fraud_rate))
    weights = profile["activity"] / profile["activity"].sum()
    who = rng.choice(n_customers, size=n, p=weights)        # whose card each transaction is on
    is_fraud = np.zeros(n, bool)
    is_fraud[rng.choice(n, size=n_fraud, replace=False)] = True

    columns = [np.empty(n, dtype) for dtype in (np.int64, float, float, float, np.int64, bool)]
    generated = (_legitimate(rng, profile, who[~is_fraud]), _fraudulent(rng, profile, who[is_fraud]))
    for mask, values in zip((~is_fraud, is_fraud), generated):
        for column, value in zip(columns, values):
            column[mask] = value
    category, amount, hour, distance, velocity, present = columns
    raw = pd.DataFrame({"amount": np.maximum(np.round(amount, 2), 0.01), "hour": hour,
                        "merchant": np.asarray(MERCHANTS)[category], "distance_km": distance,
                        "velocity_24h": velocity, "card_present": present.astype(np.int64)})
    y = is_fraud.astype(np.int64)

    # Split by customer (not by transaction): by default 70 / 10 / 20 % of the customers.
    order = rng.permutation(n_customers)
    cut1 = int(round((1 - val_fraction - test_fraction) * n_customers))
    cut2 = int(round((1 - test_fraction) * n_customers))
    split_of = np.empty(n_customers, np.int64)
    split_of[order[:cut1]], split_of[order[cut1:cut2]], split_of[order[cut2:]] = 0, 1, 2
    rows = [np.flatnonzero(split_of[who] == s) for s in range(3)]

    numeric, present_col, one_hot = _encode(raw)
    mean, std = numeric[rows[0]].mean(axis=0), numeric[rows[0]].std(axis=0)
    x = np.column_stack([(numeric - mean) / std, present_col, one_hot]).astype(np.float32)
    names = NUMERIC_FEATURES + ("card_present",) + tuple(f"merchant={m}" for m in MERCHANTS)
    parts = []
    for r in rows:
        parts += [x[r], y[r]]
    return TransactionsDataset(
        *parts, class_names=CLASS_NAMES, name="transactions",
        customer_train=who[rows[0]], customer_val=who[rows[1]], customer_test=who[rows[2]],
        raw_train=raw.iloc[rows[0]].reset_index(drop=True), raw_val=raw.iloc[rows[1]].reset_index(drop=True),
        raw_test=raw.iloc[rows[2]].reset_index(drop=True), feature_names=names)
