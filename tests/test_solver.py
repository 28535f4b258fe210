"""Tiny instances with hand-checked results, through the whole solve and the validator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimizer.errors import InfeasibleError
from optimizer.inputs import load_inputs
from optimizer.instance import COST_SCALE, build_instance
from optimizer.pipeline import industry_warnings, plan_from_inputs, prepare_accounts
from optimizer.solve.candidates import Pairs, price
from optimizer.solve.relaxation import _LinearModel, solve_relaxation
from optimizer.solve.strategy import SEARCHED_BOUND, solve
from optimizer.validator import check_plan
from tests.plan_fixtures import HOME, accounts_frame, make_inputs, make_instance, make_scenario, point_at, reps_frame


def solve_inputs(accounts, reps, scenario):
    result = plan_from_inputs(make_inputs(accounts, reps), scenario)
    rep_of = np.array([result.instance.rep_ids.index(r) for r in result.assignments["rep_id"]])
    check = check_plan(result.instance, rep_of)
    assert check.violations == []
    return result


def territory(result, rep_id):
    rows = result.assignments[result.assignments["rep_id"] == rep_id]
    return sorted(rows["account_id"])


def potential_of(result, rep_id):
    return next(row["potential"] for row in result.metrics["reps"] if row["rep_id"] == rep_id)


def test_locked_key_account_counts_in_balance():
    accounts = [{"account_id": "key", "potential": 50.0, "locked_owner": "R1"}]
    accounts += [{"account_id": f"a{v}", "potential": float(v)} for v in (30, 25, 20, 15, 10)]
    reps = [{"rep_id": "R1"}, {"rep_id": "R2"}]
    result = solve_inputs(accounts, reps, make_scenario())

    assert potential_of(result, "R1") == 75.0
    assert potential_of(result, "R2") == 75.0
    assert "key" in territory(result, "R1")


def test_fractional_hours_fill_capacity_exactly():
    accounts = [{"account_id": f"a{i}", "workload_hours": hours} for i, hours in enumerate((1.4, 1.4, 1.4, 1.3))]
    reps = [{"rep_id": "R1", "capacity_hours": 2.8}, {"rep_id": "R2", "capacity_hours": 2.8}]
    result = solve_inputs(accounts, reps, make_scenario(balance={"potential": None}))

    counts = {row["rep_id"]: row["accounts"] for row in result.metrics["reps"]}
    assert counts == {"R1": 2, "R2": 2}
    hours = sorted(row["workload_hours"] for row in result.metrics["reps"])
    assert hours == [2.7, 2.8]


def _distance_case(max_accounts):
    # Accounts lie on the way from the near rep to the far one, so each is 100 - 2 x km nearer the first.
    far = point_at(100.0, azimuth=90.0)
    places = {km: point_at(km, azimuth=90.0) for km in range(1, 7)}
    accounts = [{"account_id": f"a{km}", "lat": lat, "lon": lon, "workload_hours": 1.0}
                for km, (lat, lon) in places.items()]
    reps = [{"rep_id": "near", "lat": HOME[0], "lon": HOME[1], "max_accounts": max_accounts},
            {"rep_id": "far", "lat": far[0], "lon": far[1], "max_accounts": max_accounts}]
    return solve_inputs(accounts, reps, make_scenario(balance={"potential": None}))


def test_nearest_accounts_go_to_nearest_rep():
    result = _distance_case(max_accounts=4)

    assert territory(result, "near") == ["a1", "a2", "a3", "a4"]
    assert territory(result, "far") == ["a5", "a6"]
    assert result.metrics["empty_territories"] == []


def test_uncapped_rep_left_empty_is_flagged():
    result = _distance_case(max_accounts=None)

    assert territory(result, "near") == [f"a{km}" for km in range(1, 7)]
    far = next(row for row in result.metrics["reps"] if row["rep_id"] == "far")
    assert result.metrics["empty_territories"] == ["far"]
    assert far["empty"] is True
    assert far["mean_distance_km"] is None
    assert far["utilisation"] == 0.0
    assert result.metrics["balance"]["potential"]["max_min_ratio"] is None


def test_distances_are_geodesic_km():
    result = _distance_case(max_accounts=4)

    distances = dict(zip(result.assignments["account_id"], result.assignments["distance_km"], strict=True))
    assert distances["a1"] == pytest.approx(1.0, abs=1e-3)
    assert distances["a4"] == pytest.approx(4.0, abs=1e-3)


def test_bound_allows_for_cost_rounding():
    """Each account costs 1.06 hour-km, 11 tenths once rounded: the integer bound 3.3 lies above the real
    cost 3.18, so the stated bound subtracts half a tenth per account: 3.3 - 0.15 = 3.15."""
    site = point_at(1.06)
    accounts = [{"account_id": f"a{k}", "lat": site[0], "lon": site[1], "workload_hours": 1.0} for k in range(3)]
    result = solve_inputs(accounts, [{"rep_id": "R1"}], make_scenario(balance={"potential": None}))
    report = result.solver

    assert report.objective == pytest.approx(3.18)
    assert report.lower_bound == pytest.approx(3.15)
    assert report.gap == pytest.approx(0.03 / 3.18)
    assert report.status == "optimal"
    assert report.notes[0] == ("optimal for pair costs rounded to 1/10 hour-km; the lower bound allows for that "
                               "rounding, up to 0.05 hour-km per account")


def test_misspelt_rep_industry_warned():
    accounts = [{"account_id": "h1", "industry": "Health"}, {"account_id": "g1", "industry": "Government"}]
    reps = [{"rep_id": "R1", "industries": ("Helth", "Government")}, {"rep_id": "R2"}]
    result = solve_inputs(accounts, reps, make_scenario(balance={"potential": None}))

    assert result.metrics["warnings"] == ["rep R1 covers industry 'Helth', which no account has; did you mean 'Health'?"]
    assert territory(result, "R2") == ["h1"]


def test_misspelt_industry_named_when_infeasible():
    """R1 may take only Government accounts, so the potential band cannot hold; the typo is named beside it."""
    accounts = [{"account_id": "h1", "industry": "Health"}, {"account_id": "h2", "industry": "Health"}]
    reps = [{"rep_id": "R1", "industries": ("Helth",)}, {"rep_id": "R2"}]
    with pytest.raises(InfeasibleError) as raised:
        solve_inputs(accounts, reps, make_scenario())

    assert raised.value.causes[-1] == "rep R1 covers industry 'Helth', which no account has; did you mean 'Health'?"


def test_unrelated_industry_typo_not_a_cause():
    """The capacity shortfall concerns every rep, not R2's misspelt industry, so the typo stays a warning."""
    accounts = [{"account_id": f"h{k}", "industry": "Health", "workload_hours": 10.0} for k in range(4)]
    reps = [{"rep_id": "R1", "capacity_hours": 10.0}, {"rep_id": "R2", "capacity_hours": 10.0,
                                                       "industries": ("Health", "Helth")}]
    with pytest.raises(InfeasibleError) as raised:
        solve_inputs(accounts, reps, make_scenario(balance={"potential": None}))

    assert not any("Helth" in cause for cause in raised.value.causes)


def test_industry_warnings_named_then_counted():
    accounts = accounts_frame([{"account_id": "a1", "industry": "Health"}])
    reps = reps_frame([{"rep_id": f"R{k}", "industries": (f"Other {k}", "Helth")} for k in range(4)])
    warnings = industry_warnings(accounts, reps)

    assert len(warnings) == 6
    assert warnings[0] == "rep R0 covers industry 'Other 0', which no account has (industry names must match exactly)"
    assert warnings[1] == "rep R0 covers industry 'Helth', which no account has; did you mean 'Health'?"
    assert warnings[5] == "3 more rep industries match no account's industry"


def test_move_penalty_keeps_current_owner():
    # Two reps at the same home base: only the move penalty decides, so no account moves.
    accounts = [{"account_id": f"a{i}", "current_owner": owner} for i, owner in enumerate(["R1", "R1", "R2", "R2"])]
    reps = [{"rep_id": "R1"}, {"rep_id": "R2"}]
    result = solve_inputs(accounts, reps, make_scenario())

    assert result.metrics["disruption"]["accounts_moved"] == 0
    assert territory(result, "R1") == ["a0", "a1"]


def test_max_moves_caps_disruption():
    # R1 owns all four accounts; balance forces two to move, and max_moves 1 cannot allow it.
    accounts = [{"account_id": f"a{i}", "current_owner": "R1"} for i in range(4)]
    reps = [{"rep_id": "R1"}, {"rep_id": "R2"}]
    with pytest.raises(InfeasibleError):
        solve_inputs(accounts, reps, make_scenario(objective={"max_moves": 1}))

    result = solve_inputs(accounts, reps, make_scenario(objective={"max_moves": 2}))
    assert result.metrics["disruption"]["accounts_moved"] == 2


def test_industry_specialist_takes_only_its_industry():
    accounts = [{"account_id": "g1", "industry": "Government", "potential": 100.0},
                {"account_id": "h1", "industry": "Health", "potential": 100.0},
                {"account_id": "h2", "industry": "Health", "potential": 100.0},
                {"account_id": "g2", "industry": "Government", "potential": 100.0}]
    reps = [{"rep_id": "gov", "industries": ("Government",)}, {"rep_id": "any"}]
    result = solve_inputs(accounts, reps, make_scenario())

    assert territory(result, "gov") == ["g1", "g2"]


def test_account_share_cap_moves_big_account():
    # 90 alone in a territory of 90+10 is 90 % of it. With a 60 % cap it needs a territory of at least 150.
    accounts = [{"account_id": "big", "potential": 90.0}] + [
        {"account_id": f"s{i}", "potential": 10.0} for i in range(6)]
    reps = [{"rep_id": "R1"}, {"rep_id": "R2"}]
    result = solve_inputs(accounts, reps, make_scenario(balance={"potential": None, "max_account_share": 0.6}))

    big_rep = result.assignments.set_index("account_id").loc["big", "rep_id"]
    assert len(territory(result, big_rep)) >= 4


def test_solver_report_is_complete():
    accounts = [{"account_id": f"a{i}", "potential": float(10 + i)} for i in range(8)]
    reps = [{"rep_id": "R1"}, {"rep_id": "R2"}]
    result = solve_inputs(accounts, reps, make_scenario(balance={"potential": 0.2}, solver={"seed": 3, "workers": 1,
                                                                                            "time_limit_s": 10}))

    solver = result.metrics["solver"]
    assert solver["status"] == "optimal"
    assert solver["gap"] == 0.0
    assert solver["lower_bound"] == pytest.approx(solver["objective"], abs=0.1)
    assert solver["seed"] == 3
    assert solver["workers"] == 1
    assert solver["version"] == "9.15.6755"


def test_same_seed_gives_same_plan():
    rng = np.random.default_rng(7)
    accounts = [{"account_id": f"a{i}", "potential": float(rng.integers(10, 100)),
                 "lat": 40 + rng.uniform(-2, 2), "lon": -100 + rng.uniform(-2, 2), "workload_hours": 2.0}
                for i in range(60)]
    reps = [{"rep_id": f"R{i}", "lat": 40 + i * 0.5 - 1, "lon": -100.0} for i in range(5)]
    scenario = make_scenario(balance={"potential": 0.1})
    first = solve_inputs(accounts, reps, scenario)
    second = solve_inputs(accounts, reps, scenario)

    assert first.assignments["rep_id"].tolist() == second.assignments["rep_id"].tolist()


def test_bound_uses_exact_cost_of_screened_pair():
    """Pricing screens pairs with a cheap lower bound on their cost. A pair that the screen lets through
    but whose exact reduced cost is not negative must count at that exact value in the Lagrangian
    bound: here the second rep is exactly as far as the first, so the bound equals the LP optimum."""
    accounts = [{"account_id": "a", "lat": point_at(100.0, 0.0)[0], "lon": point_at(100.0, 0.0)[1]}]
    reps = [{"rep_id": "R1"}, {"rep_id": "R2"}]
    instance = make_instance(accounts, reps, make_scenario(balance={"potential": None}))
    model = _LinearModel(instance)
    model.add(Pairs.build(instance, np.array([0]), np.array([0])))
    assert model.solve(10.0) == "optimal"
    cost = float(model.pairs.cost[0])
    assert model.objective_value == pytest.approx(cost)

    in_model = np.array([[True, False]])
    new, smallest = price(instance, model.duals(), model.pairs, in_model)
    screened = np.floor(instance.pair_cost_lower_bound(np.array([0]), np.array([1]))[0] * COST_SCALE)
    assert screened < cost                        # the screen lets the second pair through
    assert len(new) == 0                          # but its exact reduced cost is zero
    assert smallest[0] == pytest.approx(0.0, abs=1e-6)
    assert model.row_term() + smallest.sum() == pytest.approx(cost)


def test_priced_moves_keep_lp_optimum():
    """Six accounts owned by R1 sit next to R2, 300 km away, and pricing starts from the owners' pairs
    only. Each round adds moved pairs to the LP's row of moved pairs, which has no limit when max_moves
    is unset, so the priced LP must end at the LP over every pair: every account with R2."""
    far = point_at(300.0, 90.0)
    accounts = [{"account_id": f"a{i}", "lat": point_at(1.0 + i, 0.0, far)[0], "lon": point_at(1.0 + i, 0.0, far)[1],
                 "current_owner": "R1"} for i in range(6)]
    reps = [{"rep_id": "R1"}, {"rep_id": "R2", "lat": far[0], "lon": far[1]}]
    instance = make_instance(accounts, reps, make_scenario(balance={"potential": None}))
    assert instance.max_moves is None
    everything = np.arange(6)
    full = _LinearModel(instance)
    full.add(Pairs.build(instance, np.repeat(everything, 2), np.tile([0, 1], 6)))
    assert full.solve(10.0) == "optimal"
    with_r2 = Pairs.build(instance, everything, np.ones(6, dtype=np.int64))
    assert full.objective_value == pytest.approx(float(with_r2.cost.sum()))

    relaxation = solve_relaxation(instance, Pairs.build(instance, everything, np.zeros(6, dtype=np.int64)), 10.0)
    assert relaxation.status == "optimal"
    assert relaxation.bound == pytest.approx(full.objective_value)
    assert relaxation.values[relaxation.pairs.rep == 1].sum() == pytest.approx(6.0)


def test_searched_bound_survives_group_search():
    """On the demo data the first search settles and proves a bound above the LP's. The group search
    then runs to the deadline, and that bound must still be reported."""
    demo = Path(__file__).resolve().parents[1] / "data" / "demo"
    scenario = make_scenario(solver={"time_limit_s": 30.0})
    inputs = load_inputs(demo / "accounts.csv", demo / "reps.csv")
    instance = build_instance(prepare_accounts(inputs, scenario), inputs.reps, scenario)
    solution = solve(instance, scenario.solver)
    report = solution.report
    assert check_plan(instance, solution.rep_of).violations == []
    assert report.bound_source == SEARCHED_BOUND
    assert report.time_s > 0.9 * report.time_limit_s      # the groups ran to the deadline
    assert report.lower_bound <= report.objective


def test_whole_costs_need_no_rounding_slack():
    """Without a distance term every pair costs 0 or the move penalty, 1000 hour-km: nothing is rounded, so the
    bound is the integer bound itself. Both accounts belong to R1 and the band moves one of them."""
    accounts = [{"account_id": f"a{k}", "current_owner": "R1", "potential": 100.0} for k in range(2)]
    reps = [{"rep_id": "R1"}, {"rep_id": "R2"}]
    result = solve_inputs(accounts, reps, make_scenario(objective={"distance_weight": "none",
                                                                   "moved_potential_penalty": 0.0}))

    assert result.solver.objective == 1000.0
    assert result.solver.lower_bound == 1000.0
    assert result.solver.gap == 0.0
    assert result.solver.notes == []
