"""The exact column search for plans bound by capacity alone (optimizer/solve/lagrangian.py).

Small random instances are checked against the optimum found by trying every assignment, for each
of the two methods alone and for both together. The Cattrysse instances are checked against their
published optima.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from benchmarks.gap import DATA_FOLDER, GapProblem, engine_instance, read_problem
from optimizer.instance import COST_SCALE
from optimizer.scenario import SolverSettings
from optimizer.solve.candidates import nearest_candidates
from optimizer.errors import InfeasibleError
from optimizer.solve.lagrangian import (
    COVER_CHUNKS_PER_SECOND,
    FIXING_CELLS_PER_SECOND,
    METHODS,
    _columns,
    _knapsack_data,
    applies,
    column_search,
)
from optimizer.solve.relaxation import solve_relaxation
from optimizer.solve.strategy import COLUMN_BOUND, solve
from optimizer.validator import check_plan


def _relaxation(instance):
    """Return the LP relaxation over every pair; its assignment duals start the column search."""
    return solve_relaxation(instance, nearest_candidates(instance, instance.rep_count), 10.0)


def _brute_force(problem: GapProblem, allowed: np.ndarray) -> int | None:
    """Return the minimum cost over every assignment that keeps capacity and `allowed` (reps x jobs), or None."""
    best = None
    for plan in itertools.product(range(problem.agents), repeat=problem.jobs):
        if not all(allowed[r, j] for j, r in enumerate(plan)):
            continue
        used = np.zeros(problem.agents, dtype=np.int64)
        for j, r in enumerate(plan):
            used[r] += problem.resource[r, j]
        if (used > problem.capacity).any():
            continue
        cost = int(sum(problem.cost[r, j] for j, r in enumerate(plan)))
        best = cost if best is None else min(best, cost)
    return best


def _seeded_instances(seed: int, count: int):
    """Yield (problem, instance, relaxation) for `count` random instances of 2-3 agents and 4-6 jobs.

    Instances whose LP over every pair does not reach optimal are left out.
    """
    rng = np.random.default_rng(seed)
    for _ in range(count):
        agents, jobs = int(rng.integers(2, 4)), int(rng.integers(4, 7))
        problem = GapProblem("seeded", rng.integers(0, 21, (agents, jobs)), rng.integers(1, 10, (agents, jobs)),
                             rng.integers(6, 16, agents))
        instance = engine_instance(problem)
        relaxation = _relaxation(instance)
        if relaxation.status == "optimal":
            yield problem, instance, relaxation


@st.composite
def small_problems(draw):
    agents = draw(st.integers(2, 3))
    jobs = draw(st.integers(2, 6))
    cost = np.array(draw(st.lists(st.integers(0, 20), min_size=agents * jobs, max_size=agents * jobs)))
    resource = np.array(draw(st.lists(st.integers(1, 9), min_size=agents * jobs, max_size=agents * jobs)))
    capacity = np.array(draw(st.lists(st.integers(3, 25), min_size=agents, max_size=agents)))
    # Some reps cover one industry only; job j belongs to industry j % 2.
    covers = draw(st.lists(st.sampled_from([None, 0, 1]), min_size=agents, max_size=agents))
    return GapProblem("random", cost.reshape(agents, jobs), resource.reshape(agents, jobs), capacity), covers


@pytest.mark.parametrize("methods", [METHODS, ("fixing",), ("listing",)])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=small_problems())
def test_search_proves_brute_force_optimum(methods, case):
    problem, covers = case
    instance = engine_instance(problem)
    instance.industry = np.arange(problem.jobs) % 2
    instance.industry_names = ["even", "odd"]
    instance.rep_industries = [frozenset() if c is None else frozenset({c}) for c in covers]
    allowed = instance.eligible_matrix(np.arange(problem.jobs)).T
    optimum = _brute_force(problem, allowed)
    assume(optimum is not None)
    relaxation = _relaxation(instance)
    assume(relaxation.status == "optimal")

    result = column_search(instance, relaxation.duals.assignment, time.monotonic() + 30.0, methods=methods)

    assert result.proven
    assert result.objective == optimum * COST_SCALE
    assert result.lower_bound == optimum * COST_SCALE
    assert result.lagrangian_bound <= optimum * COST_SCALE + 1e-6
    assert check_plan(instance, result.rep_of).ok
    assert all(allowed[r, j] for j, r in enumerate(result.rep_of))


def test_levels_prove_valid_bounds():
    """Stop the listing after each level in turn on 600 seeded instances, and check its claims.

    Only instances whose optimum lies one or more levels above the Lagrangian bound, or that have no
    plan, are stopped early.
    """
    stepped = infeasible = 0
    for problem, instance, relaxation in _seeded_instances(1, 600):
        agents, jobs = problem.agents, problem.jobs
        result = column_search(instance, relaxation.duals.assignment, time.monotonic() + 30.0, methods=("listing",))
        optimum = _brute_force(problem, np.ones((agents, jobs), dtype=bool))
        if optimum is None:
            infeasible += 1
            assert result.infeasible and result.rep_of is None
            continue
        assert result.proven and result.objective == optimum * COST_SCALE
        if result.levels == 0:
            continue
        stepped += 1
        for chunks in range(1, result.levels + 2):
            partial = column_search(instance, relaxation.duals.assignment, time.monotonic() + 30.0,
                                    work_seconds=chunks / COVER_CHUNKS_PER_SECOND, methods=("listing",))
            assert partial.lower_bound <= optimum * COST_SCALE
            assert partial.objective is None or partial.objective >= optimum * COST_SCALE
            assert partial.proven == (partial.objective == optimum * COST_SCALE == partial.lower_bound)
            assert not partial.infeasible
    # Among these instances, 18 need at least one level and 27 have no plan.
    assert (stepped, infeasible) == (18, 27)


def test_fixing_stopped_anywhere_proves_valid_bounds():
    """Stop the branch and bound after a growing amount of work on 300 seeded instances, and check its claims.

    Each instance is searched with budgets from 1 knapsack cell upward, doubling, until the search
    settles; every partial result is compared with the brute-force optimum.
    """
    stopped = infeasible = 0
    for problem, instance, relaxation in _seeded_instances(2, 300):
        agents, jobs = problem.agents, problem.jobs
        optimum = _brute_force(problem, np.ones((agents, jobs), dtype=bool))
        cells = 1
        while True:
            partial = column_search(instance, relaxation.duals.assignment, time.monotonic() + 30.0,
                                    work_seconds=cells / FIXING_CELLS_PER_SECOND, methods=("fixing",))
            if optimum is None:
                assert partial.rep_of is None
                assert partial.infeasible or not partial.proven
            else:
                assert not partial.infeasible
                assert partial.lower_bound <= optimum * COST_SCALE
                assert partial.objective is None or partial.objective >= optimum * COST_SCALE
                assert partial.proven == (partial.objective == optimum * COST_SCALE == partial.lower_bound)
            if partial.proven or partial.infeasible:
                break
            stopped += 1
            cells *= 2
        infeasible += optimum is None
    # Among these instances, 19 have no plan; the searches stopped early 2,150 times in all.
    assert (stopped, infeasible) == (2150, 19)


@pytest.mark.parametrize("methods", [("fixing",), ("listing",)])
def test_large_costs_keep_their_only_plan(methods):
    # Costs near 2e9 (2e10 in engine units) and zero starting multipliers: the margin for float
    # rounding must grow with the node's sums, or the only plan, (1, 0, 1), is pruned as too dear.
    cost = np.array([[2163485305, 2163485305, 2163485305], [2163485305, 2163485304, 2163485306]])
    problem = GapProblem("large", cost, np.array([[6, 6, 9], [5, 8, 7]]), np.array([11, 12]))
    result = column_search(engine_instance(problem), np.zeros(3), time.monotonic() + 30.0, methods=methods)
    assert not result.infeasible
    assert result.proven
    assert list(result.rep_of) == [1, 0, 1]
    # The plan (1, 0, 1) costs cost[1, 0] + cost[0, 1] + cost[1, 2].
    assert result.objective == (2163485305 + 2163485305 + 2163485306) * COST_SCALE


def test_two_jobs_one_per_agent():
    # Two jobs of 5 units each and two agents of capacity 6, so each agent takes one job.
    problem = GapProblem("two", np.array([[1, 9], [9, 1]]), np.array([[5, 5], [5, 5]]), np.array([6, 6]))
    instance = engine_instance(problem)
    relaxation = _relaxation(instance)
    result = column_search(instance, relaxation.duals.assignment, time.monotonic() + 10.0)
    assert result.proven and result.objective == 2 * COST_SCALE
    assert list(result.rep_of) == [0, 1]


@pytest.mark.parametrize("name, optimum", [("gap1-0", 261), ("gap4-3", 395)])
def test_engine_proves_cattrysse_optimum(name, optimum):
    problem = read_problem(DATA_FOLDER / "instances" / "cattrysse1994" / name)
    solution = solve(engine_instance(problem), SolverSettings(time_limit_s=20.0))
    report = solution.report
    assert report.status == "optimal"
    assert report.objective == optimum
    assert report.bound_source == COLUMN_BOUND
    assert any(note.startswith("column search: found this plan and proved it optimal") for note in report.notes)


def test_engine_reports_levels_it_proved():
    # d20100's optimum, 6,185, lies about 9 above its Lagrangian bound of about 6,176; at 3 s neither
    # method reaches it, but each level below proven empty raises the bound by one.
    problem = read_problem(DATA_FOLDER / "instances" / "chu1997" / "d20100")
    solution = solve(engine_instance(problem), SolverSettings(time_limit_s=3.0))
    report = solution.report
    assert report.bound_source == COLUMN_BOUND
    assert 6177 <= report.lower_bound <= 6185 <= report.objective
    note = next(note for note in report.notes if note.startswith("column search:"))
    assert note.startswith("column search: proved that ")
    assert "(fixing: time or work limit; listing: time or work limit)" in note


def test_work_limit_is_repeatable():
    # d20100 is not settled within this work, so both methods run, one after the other.
    problem = read_problem(DATA_FOLDER / "instances" / "chu1997" / "d20100")
    instance = engine_instance(problem)
    multipliers = _relaxation(instance).duals.assignment
    first = column_search(instance, multipliers, time.monotonic() + 60.0, work_seconds=1.0)
    second = column_search(instance, multipliers, time.monotonic() + 60.0, work_seconds=1.0)
    assert (first.lower_bound, first.objective, first.levels, first.columns, first.stop) == \
        (second.lower_bound, second.objective, second.levels, second.columns, second.stop)
    assert first.stop == "fixing: time or work limit; listing: time or work limit"
    assert first.columns > 0
    # d20100's optimum is 6,185 (OR-Library); every bound the search proves stays at or below it.
    assert first.lower_bound <= 6185 * COST_SCALE


def test_applies_only_to_capacity_rules():
    problem = read_problem(DATA_FOLDER / "instances" / "cattrysse1994" / "gap1-0")
    instance = engine_instance(problem)
    assert applies(instance) is None
    instance.max_moves = 3
    assert applies(instance) == "rules other than capacity"
    instance.max_moves = None
    instance.max_accounts = np.full(instance.rep_count, 4)
    assert applies(instance) == "account limits"


def test_whole_accounts_that_cannot_pack():
    # Three accounts of 4 hours and two reps of 6 hours: 12 hours fit 12 in total, but each rep takes one.
    problem = GapProblem("three", np.array([[1, 2, 3], [3, 2, 1]]), np.full((2, 3), 4), np.array([6, 6]))
    with pytest.raises(InfeasibleError) as caught:
        solve(engine_instance(problem), SolverSettings(time_limit_s=10.0))
    assert "tried every combination of whole accounts" in caught.value.causes[0]
    assert "the largest, job 0, needs 4.0 hours or more" in caught.value.relaxations[0]
    assert "agent 0 6.0, agent 1 6.0 hours" in caught.value.relaxations[0]


def test_account_that_fits_no_rep():
    # Job 1 needs 6 hours at agent 0 (capacity 5) and 11 at agent 1 (capacity 10). The pre-check
    # compares its smallest hours, 6, with the largest capacity, 10, so only the column search finds it.
    problem = GapProblem("big", np.array([[1, 2], [2, 1]]), np.array([[1, 6], [1, 11]]), np.array([5, 10]))
    with pytest.raises(InfeasibleError) as caught:
        solve(engine_instance(problem), SolverSettings(time_limit_s=10.0))
    assert caught.value.causes == ["account job 1 fits no rep that may take it: it needs more hours than each "
                                   "such rep's capacity (hours needed of capacity: agent 0 6.0 of 5.0, agent 1 "
                                   "11.0 of 10.0)"]


def test_listing_stops_at_node_limit():
    instance = engine_instance(read_problem(DATA_FOLDER / "instances" / "chu1997" / "d05100"))
    cost, weight, capacity = _knapsack_data(instance)
    multipliers = _relaxation(instance).duals.assignment
    columns, reason, nodes = _columns(cost, weight, capacity, multipliers, 50.0, 1e-6, 10**6, 1_000)
    assert columns is None
    assert reason == "time or work limit"
    assert nodes == 1_001
