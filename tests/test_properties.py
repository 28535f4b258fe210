"""Property tests: on small random instances the solver agrees with brute force.

Every plan the solver returns passes the validator; its lower bound never exceeds the true optimum;
a plan reported optimal has the optimal cost; and a request reported infeasible has no valid plan.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from optimizer.errors import InfeasibleError
from optimizer.instance import COST_SCALE
from optimizer.solve.candidates import Pairs, cheapest_pair_bound, nearest_candidates
from optimizer.solve.groups import improve_by_groups
from optimizer.solve.relaxation import _LinearModel, solve_relaxation
from optimizer.solve.strategy import solve
from optimizer.validator import check_plan
from tests.plan_fixtures import make_instance, make_scenario


@st.composite
def small_requests(draw):
    rep_count = draw(st.integers(2, 3))
    account_count = draw(st.integers(2, 7))
    reps = []
    for r in range(rep_count):
        reps.append({
            "rep_id": f"R{r}",
            "lat": draw(st.floats(39.0, 41.0)), "lon": draw(st.floats(-101.0, -99.0)),
            "capacity_hours": float(draw(st.integers(4, 40))),
            "max_accounts": draw(st.one_of(st.none(), st.integers(1, account_count))),
            "industries": draw(st.sampled_from([(), (), ("A",)])),
        })
    accounts = []
    for a in range(account_count):
        accounts.append({
            "account_id": f"a{a}",
            "lat": draw(st.floats(39.0, 41.0)), "lon": draw(st.floats(-101.0, -99.0)),
            "potential": float(draw(st.integers(0, 100))),
            "workload_hours": draw(st.integers(1, 30)) / 2.0,
            "industry": draw(st.sampled_from(["A", "B"])),
            "current_owner": draw(st.one_of(st.none(), st.sampled_from([rep["rep_id"] for rep in reps]))),
        })
    band = draw(st.sampled_from([None, 0.1, 0.3, 0.6]))
    share = draw(st.sampled_from([None, None, 0.7]))
    max_moves = draw(st.sampled_from([None, None, 1]))
    scenario = make_scenario(balance={"potential": band, "max_account_share": share},
                             objective={"max_moves": max_moves}, solver={"time_limit_s": 10.0, "workers": 1})
    return accounts, reps, scenario


def pair_costs(instance):
    """Return the integer cost of every (account, rep) pair as an accounts x reps matrix."""
    costs = np.zeros((instance.account_count, instance.rep_count), dtype=np.int64)
    for r in range(instance.rep_count):
        accounts = np.arange(instance.account_count)
        reps = np.full(instance.account_count, r)
        distance = instance.pair_distance_km(accounts, reps)
        costs[:, r] = np.rint(instance.pair_cost(accounts, reps, distance) * COST_SCALE)
    return costs


def valid_plans(instance):
    """Yield every assignment the validator accepts."""
    for plan in itertools.product(range(instance.rep_count), repeat=instance.account_count):
        plan = np.array(plan)
        if check_plan(instance, plan).ok:
            yield plan


def brute_force(instance):
    """Return (best integer cost, plan, pair costs) over every valid assignment; cost and plan None if none."""
    best_cost, best_plan = None, None
    costs = pair_costs(instance)
    for plan in valid_plans(instance):
        cost = int(costs[np.arange(instance.account_count), plan].sum())
        if best_cost is None or cost < best_cost:
            best_cost, best_plan = cost, plan
    return best_cost, best_plan, costs


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_requests())
def test_solver_matches_brute_force(request):
    accounts, reps, scenario = request
    instance = make_instance(accounts, reps, scenario)
    optimum, _, costs = brute_force(instance)

    try:
        solution = solve(instance, scenario.solver)
    except InfeasibleError:
        assert optimum is None, f"reported infeasible, but a plan of cost {optimum} exists"
        return

    assert optimum is not None, "returned a plan where brute force finds none"
    assert check_plan(instance, solution.rep_of).violations == []
    cost = int(costs[np.arange(instance.account_count), solution.rep_of].sum())
    bound = solution.report.lower_bound
    assert bound is not None
    assert bound * COST_SCALE <= optimum + 1e-6
    assert cost >= optimum
    if solution.report.status == "optimal":
        assert cost == optimum


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_requests(), st.integers(1, 3))
def test_early_bounds_never_exceed_optimum(request, candidates):
    """The Lagrangian bound of every pricing round, and the cheapest-pair bound, stay below the optimum."""
    accounts, reps, scenario = request
    instance = make_instance(accounts, reps, scenario)
    optimum, _, _ = brute_force(instance)
    if optimum is None:
        return
    assert cheapest_pair_bound(instance) <= optimum

    # One round only, over few candidates: pricing has not converged, yet the bound must hold.
    relaxation = solve_relaxation(instance, nearest_candidates(instance, candidates), 10.0, max_rounds=1)
    assert relaxation.status in ("optimal", "time_limit")
    assert relaxation.bound is not None
    assert relaxation.bound <= optimum + 1e-6


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_requests())
def test_warm_pricing_reaches_full_lp_optimum(request):
    """Pricing rounds add columns, and share rows of large accounts, to one GLOP model that starts each
    round from the last basis. Started from each account's nearest rep only, they must end at the
    optimum of the LP over every eligible pair, solved from scratch."""
    accounts, reps, scenario = request
    instance = make_instance(accounts, reps, scenario)
    eligible = instance.eligible_matrix(np.arange(instance.account_count))
    # An account no rep may take is the pre-check's to report; the relaxation assumes none.
    assume(eligible.any(axis=1).all())
    full = _LinearModel(instance)
    rows, cols = np.nonzero(eligible)
    full.add(Pairs.build(instance, rows, cols))
    status = full.solve(10.0)

    relaxation = solve_relaxation(instance, nearest_candidates(instance, 1), 10.0)
    if status == "infeasible":
        assert relaxation.status == "infeasible"
        return
    assert status == "optimal"
    assert relaxation.status == "optimal"
    optimum = full.objective_value
    assert optimum * (1 - 1e-4) - 1e-3 <= relaxation.bound <= optimum + 1e-3


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_requests())
def test_group_search_reaches_optimum_from_worst_plan(request):
    """With at most 3 reps one group covers every rep, so the search must end at the optimum."""
    accounts, reps, scenario = request
    instance = make_instance(accounts, reps, scenario)
    costs = pair_costs(instance)
    plans = [(int(costs[np.arange(instance.account_count), plan].sum()), plan) for plan in valid_plans(instance)]
    if not plans:
        return
    optimum = min(cost for cost, _ in plans)
    worst_cost, worst = max(plans, key=lambda item: item[0])

    result = improve_by_groups(instance, worst, nearest_candidates(instance, 3), deadline=time.monotonic() + 20,
                               seed=0, workers=1, work_limit=None)

    assert check_plan(instance, result.rep_of).violations == []
    assert result.objective == int(costs[np.arange(instance.account_count), result.rep_of].sum())
    assert result.objective <= worst_cost
    assert result.objective == optimum
