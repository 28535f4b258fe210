"""Account score, tier and workload.

Score rule: each signal is on a 0-100 scale (potential becomes its percentile rank among all accounts,
because potential is heavy-tailed), and an account's score is the weighted mean of the signals it has.
A signal whose column is absent, or whose cell is blank for one account, drops out of that account's
mean, and the remaining weights are divided by their own sum. A missing signal therefore neither counts
as zero nor as average; the account is scored on what is known about it.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from optimizer.scenario import SIGNALS, ScoringRules, TierRules

logger = logging.getLogger(__name__)


def score_accounts(accounts: pd.DataFrame, rules: ScoringRules) -> pd.Series:
    """Return the score (0-100) of every account."""
    potential_pct = accounts["potential"].rank(pct=True, method="average") * 100.0
    columns = {"potential": potential_pct}
    for signal in SIGNALS:
        if signal in accounts.columns:
            columns[signal] = pd.to_numeric(accounts[signal], errors="coerce")

    values = pd.DataFrame(columns, index=accounts.index)
    weights = pd.Series({name: getattr(rules, name) for name in values.columns})
    known = values.notna()
    weight_known = known.mul(weights, axis=1).sum(axis=1)
    weighted = values.fillna(0.0).mul(weights, axis=1).sum(axis=1)

    # An account whose known signals all have weight 0 falls back to its potential percentile.
    score = np.where(weight_known > 0, weighted / weight_known.where(weight_known > 0, 1.0), potential_pct)
    missing = [signal for signal in SIGNALS if signal not in accounts.columns]
    if missing:
        logger.info("signals absent from the account list, left out of the score: %s", ", ".join(missing))
    return pd.Series(np.round(score, 6), index=accounts.index, name="score")


def assign_tiers(scores: pd.Series, rules: TierRules) -> pd.Series:
    """Return the tier (1-3) of every account.

    Quantile tiers rank accounts by score, best first; ties keep input order, so the same input always
    gives the same tiers. Tier 1 takes round(tier_1_share x n) accounts and Tiers 1 and 2 together take
    round((tier_1_share + tier_2_share) x n).
    """
    if rules.method == "threshold":
        tiers = np.where(scores >= rules.tier_1_min_score, 1, np.where(scores >= rules.tier_2_min_score, 2, 3))
        return pd.Series(tiers, index=scores.index, name="tier")

    count = len(scores)
    order = np.argsort(-scores.to_numpy(), kind="stable")
    tier_1_count = int(round(rules.tier_1_share * count))
    tier_12_count = int(round((rules.tier_1_share + rules.tier_2_share) * count))
    tiers = np.full(count, 3, dtype=int)
    tiers[order[:tier_12_count]] = 2
    tiers[order[:tier_1_count]] = 1
    return pd.Series(tiers, index=scores.index, name="tier")


def workload_hours(tiers: pd.Series, overrides: pd.Series | None, rules: TierRules) -> pd.Series:
    """Return hours a year per account: the tier's coverage hours unless the account gives its own."""
    hours = tiers.map(rules.hours).astype(float)
    if overrides is not None:
        given = pd.to_numeric(overrides, errors="coerce")
        hours = given.where(given.notna(), hours)
    return hours.rename("workload_hours")
