"""Plan metrics on hand-made assignment tables with values checked by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from optimizer.metrics import balance_statistics, compute_metrics, gini
from tests.plan_fixtures import reps_frame


def assignments(rows):
    defaults = {"previous_owner": None, "moved": False, "tier": 3, "score": 50.0, "potential": 0.0,
                "workload_hours": 4.0, "distance_km": 10.0, "located_by": "coordinates"}
    return pd.DataFrame([{**defaults, **row} for row in rows])


def test_gini_of_equal_values_is_zero():
    assert gini(np.array([5.0, 5.0, 5.0])) == 0.0


def test_gini_of_one_holder_of_all():
    # (2 x 4 x 10) / (4 x 10) - 5/4 = 2 - 1.25 = 0.75
    assert gini(np.array([0.0, 0.0, 0.0, 10.0])) == pytest.approx(0.75)


def test_gini_of_zero_total_is_none():
    assert gini(np.array([0.0, 0.0])) is None


def test_balance_statistics_by_hand():
    stats = balance_statistics(np.array([90.0, 110.0]), np.array([100.0, 100.0]))

    assert stats["mean"] == 100.0
    assert stats["cv"] == pytest.approx(0.1)
    assert stats["max_min_ratio"] == pytest.approx(110 / 90)
    assert stats["max_deviation_from_target"] == pytest.approx(0.1)
    assert stats["gini"] == pytest.approx(0.05)


def test_balance_adjusts_for_capacity():
    # A half-time rep at half the potential is exactly balanced.
    stats = balance_statistics(np.array([100.0, 50.0]), np.array([100.0, 50.0]))

    assert stats["cv"] == 0.0
    assert stats["max_deviation_from_target"] == 0.0
    assert stats["max_min_ratio"] == 1.0


def test_mean_adjusted_and_per_rep():
    # Targets 100 and 50 average 75, so the adjusted values are 100 / (4/3) = 75 and 60 / (2/3) = 90.
    stats = balance_statistics(np.array([100.0, 60.0]), np.array([100.0, 50.0]))

    assert stats["mean"] == pytest.approx(82.5)
    assert stats["mean_per_rep"] == 80.0


def test_per_rep_and_disruption():
    table = assignments([
        {"account_id": "a", "rep_id": "R1", "previous_owner": "R1", "potential": 100.0, "tier": 1,
         "workload_hours": 40.0, "distance_km": 5.0},
        {"account_id": "b", "rep_id": "R1", "previous_owner": "R2", "moved": True, "potential": 50.0,
         "distance_km": 15.0},
        {"account_id": "c", "rep_id": "R2", "potential": 150.0, "tier": 2, "workload_hours": 16.0},
        {"account_id": "d", "rep_id": None, "potential": 30.0, "located_by": "not_located", "distance_km": np.nan},
    ])
    reps = reps_frame([{"rep_id": "R1", "capacity_hours": 100.0, "max_accounts": 10},
                       {"rep_id": "R2", "capacity_hours": 100.0}])
    metrics = compute_metrics(table, reps, {"potential": 0.05})
    r1, r2 = metrics["reps"]

    assert r1["potential"] == 150.0
    assert r1["potential_target"] == 150.0
    assert r1["potential_pct_of_target"] == 100.0
    assert r1["workload_hours"] == 44.0
    assert r1["utilisation"] == 0.44
    assert (r1["tier_1"], r1["tier_2"], r1["tier_3"]) == (1, 0, 1)
    assert r1["mean_distance_km"] == 10.0
    assert r1["max_distance_km"] == 15.0
    assert (r1["moved_in"], r1["moved_out"]) == (1, 0)
    assert (r2["moved_in"], r2["moved_out"]) == (0, 1)
    assert r2["max_accounts"] is None
    assert metrics["disruption"] == {"accounts_with_owner": 2, "accounts_moved": 1, "share_moved": 0.5,
                                     "potential_moved": 50.0, "share_of_potential_moved": 1 / 3}
    assert metrics["location"]["not_located_potential"] == 30.0
    assert metrics["location"]["located_potential"] == 300.0
    assert metrics["location"]["not_located_ids"] == ["d"]
    assert metrics["balance"]["potential"]["band"] == 0.05
    assert metrics["balance"]["accounts"]["band"] is None


def test_empty_territory_is_strict_json():
    table = assignments([{"account_id": "a", "rep_id": "R1", "potential": 10.0}])
    reps = reps_frame([{"rep_id": "R1"}, {"rep_id": "R2"}])
    metrics = compute_metrics(table, reps, {})

    text = json.dumps(metrics, allow_nan=False)
    empty = metrics["reps"][1]
    assert empty["empty"] is True
    assert empty["mean_distance_km"] is None
    assert metrics["empty_territories"] == ["R2"]
    assert metrics["balance"]["potential"]["max_min_ratio"] is None
    assert "NaN" not in text
