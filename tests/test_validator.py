"""The validator finds each broken rule in hand-made plans."""

from __future__ import annotations

import numpy as np

from optimizer.validator import check_plan
from tests.plan_fixtures import make_instance, make_scenario

REPS = [{"rep_id": "R1", "capacity_hours": 10.0, "max_accounts": 2},
        {"rep_id": "R2", "capacity_hours": 10.0, "industries": ("Gov",)}]


def instance_for(accounts, **sections):
    return make_instance(accounts, REPS, make_scenario(**sections))


def test_valid_plan_has_no_violations():
    accounts = [{"account_id": "a", "industry": "Gov", "workload_hours": 5.0},
                {"account_id": "b", "workload_hours": 5.0}]
    check = check_plan(instance_for(accounts, balance={"potential": None}), np.array([1, 0]))

    assert check.ok


def test_each_broken_rule_is_named():
    accounts = [{"account_id": "a", "workload_hours": 6.0, "locked_owner": "R1"},
                {"account_id": "b", "workload_hours": 6.0},
                {"account_id": "c", "workload_hours": 1.0, "industry": "Health"}]
    instance = instance_for(accounts, balance={"potential": None})
    check = check_plan(instance, np.array([1, 0, 1]))

    assert check.violations == [
        "account a is in an industry rep R2 does not cover",
        "account a is locked to R1 but assigned to R2",
        "account c is in an industry rep R2 does not cover",
    ]
    check = check_plan(instance, np.array([0, 0, 0]))
    assert check.violations == ["rep R1: workload 13.00 hours above capacity 10.00",
                                "rep R1: 3 accounts above max_accounts 2"]


def test_band_and_share_and_moves():
    accounts = [{"account_id": "a", "potential": 80.0, "industry": "Gov", "current_owner": "R2", "workload_hours": 1.0},
                {"account_id": "b", "potential": 20.0, "current_owner": "R1", "workload_hours": 1.0}]
    instance = instance_for(accounts, balance={"potential": 0.1, "max_account_share": 0.9},
                            objective={"max_moves": 0})
    check = check_plan(instance, np.array([0, 0]))

    assert check.violations == [
        "rep R1: potential 100.00 USD outside its band [45.00, 55.00]",
        "rep R2: potential 0.00 USD outside its band [45.00, 55.00]",
        "accounts changing owner: 1, above max_moves 0",
    ]


def test_unassigned_account_is_reported():
    accounts = [{"account_id": "a"}, {"account_id": "b"}]
    check = check_plan(instance_for(accounts, balance={"potential": None}), np.array([0, -1]))

    assert check.violations == ["account b has no rep"]


def test_objective_recomputed_in_real_units():
    accounts = [{"account_id": "a", "workload_hours": 2.0, "current_owner": "R2"}]
    instance = instance_for(accounts, balance={"potential": None}, objective={"move_penalty": 7.0,
                                                                              "moved_potential_penalty": 0.0})
    check = check_plan(instance, np.array([0]))

    # Same place as both reps: distance 0, so the objective is the move penalty alone.
    assert check.objective == 7.0
