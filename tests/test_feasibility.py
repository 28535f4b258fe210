"""The pre-check names each cause of infeasibility with its numbers, and the smallest repair."""

from __future__ import annotations

import time

import pytest

from benchmarks import generate
from optimizer.errors import InfeasibleError
from optimizer.feasibility import check_feasibility
from optimizer.inputs import load_inputs
from optimizer.instance import build_instance
from optimizer.pipeline import prepare_accounts
from optimizer.solve import strategy
from optimizer.solve.strategy import solve
from tests.plan_fixtures import make_instance, make_scenario

TWO_REPS = [{"rep_id": "R1"}, {"rep_id": "R2"}]


def causes_of(accounts, reps, **sections):
    instance = make_instance(accounts, reps, make_scenario(**sections))
    with pytest.raises(InfeasibleError) as caught:
        check_feasibility(instance)
    return caught.value


def test_total_workload_above_capacity():
    accounts = [{"account_id": f"a{i}", "workload_hours": 30.0} for i in range(3)]
    reps = [{"rep_id": "R1", "capacity_hours": 40.0}, {"rep_id": "R2", "capacity_hours": 40.0}]
    error = causes_of(accounts, reps, balance={"potential": None})

    assert error.causes == ["total workload is 90 hours but the reps' total capacity is 80 hours (10 hours short)"]
    assert error.relaxations == ["add at least 10 hours of rep capacity, or lower the hours per tier"]


def test_more_accounts_than_max_accounts():
    accounts = [{"account_id": f"a{i}"} for i in range(5)]
    reps = [{"rep_id": "R1", "max_accounts": 2}, {"rep_id": "R2", "max_accounts": 2}]
    error = causes_of(accounts, reps, balance={"potential": None})

    assert error.causes == ["5 located accounts but the reps' max_accounts add up to 4"]
    assert error.relaxations == ["raise max_accounts by 1 in total"]


def test_industry_workload_above_its_reps_capacity():
    accounts = [{"account_id": "g1", "industry": "Gov", "workload_hours": 50.0},
                {"account_id": "h1", "industry": "Health", "workload_hours": 5.0}]
    reps = [{"rep_id": "gov", "industries": ("Gov",), "capacity_hours": 40.0},
            {"rep_id": "health", "industries": ("Health",), "capacity_hours": 100.0}]
    error = causes_of(accounts, reps, balance={"potential": None})

    assert error.causes == ["industry Gov needs 50 hours but the reps allowed to take it have 40 hours of capacity",
                            "account g1 alone needs 50 hours, more than the capacity of every rep allowed to take "
                            "it (largest: rep gov, 40 hours)"]


def test_account_with_no_allowed_rep():
    accounts = [{"account_id": "x1", "industry": "Mining", "potential": 500.0}]
    reps = [{"rep_id": "gov", "industries": ("Gov",)}]
    error = causes_of(accounts, reps, balance={"potential": None})

    assert error.causes[0] == "account x1 (Mining, potential 500 USD) has no rep allowed to take it"


def test_locks_overfill_a_rep():
    accounts = [{"account_id": f"a{i}", "workload_hours": 10.0, "locked_owner": "R1"} for i in range(3)]
    accounts.append({"account_id": "b0", "workload_hours": 10.0})
    reps = [{"rep_id": "R1", "capacity_hours": 25.0, "max_accounts": 2}, {"rep_id": "R2", "capacity_hours": 100.0}]
    error = causes_of(accounts, reps, balance={"potential": None})

    assert error.causes == ["rep R1 has 3 locked accounts needing 30 hours, more than the capacity of 25 hours",
                            "rep R1 has 3 locked accounts, more than max_accounts 2"]


def test_locked_potential_above_band_names_band():
    accounts = [{"account_id": "key", "potential": 90.0, "locked_owner": "R1"},
                {"account_id": "a1", "potential": 10.0}, {"account_id": "a2", "potential": 20.0},
                {"account_id": "a3", "potential": 20.0}]
    error = causes_of(accounts, TWO_REPS, balance={"potential": 0.05})

    # Total 140, target 70 each, upper limit 73.5: the locked 90 alone is above it.
    assert error.causes == ["rep R1's locked accounts hold 90 USD of potential, above the upper limit of 73.5 "
                            "(target 70 +-5 %)",
                            "account key alone has 90 USD of potential, above the upper limit of every rep "
                            "allowed to take it (largest: rep R1, 73.5)"]
    assert error.relaxations == ["widen the potential band to at least +-28.58 %, or unlock some of rep R1's accounts",
                                 "widen the potential band to at least +-28.58 %"]


def test_specialists_without_enough_potential():
    accounts = [{"account_id": "g1", "industry": "Gov", "potential": 50.0}]
    accounts += [{"account_id": f"h{i}", "industry": "Health", "potential": 50.0} for i in range(5)]
    reps = [{"rep_id": "gov", "industries": ("Gov",), "capacity_hours": 1000.0},
            {"rep_id": "any", "capacity_hours": 1000.0}]
    error = causes_of(accounts, reps, balance={"potential": 0.05})

    # Target 150 each; the Gov rep needs at least 142.5 but Gov accounts hold 50. At 212.77 hours of
    # 1,212.77 its target falls to 52.63 and its lower limit to 50.
    assert error.causes == ["reps gov take only Gov; their lower potential limits add up to 142.5 USD but those "
                            "accounts hold 50 USD in total"]
    assert error.relaxations == ["widen the potential band to at least +-66.67 % (now +-5 %), or cut those reps' "
                                 "capacity_hours to at most 212.77 hours in total (now 1,000)"]


def test_lp_infeasible_reports_narrowest_band():
    # Potentials 10, 10, 10, 70 for two reps: the best split is 70 / 30 around a target of 50 (+-40 %).
    accounts = [{"account_id": f"a{i}", "potential": p} for i, p in enumerate((10.0, 10.0, 10.0, 70.0))]
    instance = make_instance(accounts, TWO_REPS, make_scenario(balance={"potential": 0.3, "accounts": 0.0}))
    with pytest.raises(InfeasibleError) as caught:
        solve(instance, make_scenario().solver)

    assert caught.value.relaxations == ["widen the potential band to at least +-40 %"]


def test_feasible_request_passes():
    accounts = [{"account_id": f"a{i}", "potential": 10.0} for i in range(4)]
    instance = make_instance(accounts, TWO_REPS, make_scenario())
    check_feasibility(instance)


def test_unsettled_explanation_says_so(tmp_path, monkeypatch):
    """An explaining LP cut short by the time limit is named as not settled, and its rule is not cleared.

    20,000 generated accounts need about 1,118 moves in the LP (the pre-check's bound is 863), and that
    LP over every eligible pair takes over a minute, so half a second cannot settle it."""
    accounts, reps = generate.write_instance(tmp_path, *generate.generate(20_000, 100, 7))
    scenario = make_scenario(objective={"max_moves": 863})
    inputs = load_inputs(accounts, reps)
    instance = build_instance(prepare_accounts(inputs, scenario), inputs.reps, scenario)
    monkeypatch.setattr(strategy, "EXPLAIN_MIN_SECONDS", 0.5)
    causes, relaxations = strategy._explain_lp_infeasible(instance, deadline=time.monotonic())

    assert causes[1:] == [
        "whether the potential band of +-5 % is too narrow was not settled within the time limit; a longer "
        "--time-limit gives that figure",
        "whether max_moves 863 is too low was not settled within the time limit; a longer --time-limit gives "
        "that figure",
    ]
    assert relaxations == []
