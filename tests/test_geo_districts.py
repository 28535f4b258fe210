"""Districting solver: exact small cases, pre-check messages, bounds and random instances."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.errors import InfeasibleError
from optimizer.geo.districts import solve_districts
from optimizer.geo.graph import EDGE_CONNECTOR, UnitGraph
from optimizer.geo.problem import NO_TERRITORY, DistrictProblem, make_band
from optimizer.geo.validate import district_plan_problems
from tests.geo_fixtures import grid_graph, strip_graph


def territories(plan, count: int) -> list[list[int]]:
    return sorted(sorted(int(u) + 1 for u in np.flatnonzero(plan.assignment == t)) for t in range(count))


def balanced_problem(graph, values, count, tolerance, **options) -> DistrictProblem:
    return DistrictProblem(graph, [f"T{i}" for i in range(count)],
                           [make_band("clients", values, tolerance, count, "clients")], **options)


def solve_valid(problem, time_limit_s=10.0, **options):
    plan = solve_districts(problem, time_limit_s, **options)
    met = plan.status not in ("bands_not_met", "bands_infeasible")
    assert district_plan_problems(problem, plan.assignment, bands_required=met) == []
    return plan


def test_strip_of_six_into_three():
    problem = balanced_problem(strip_graph(6), [12, 8, 10, 10, 6, 14], 3, 0.0, priority="balance")
    plan = solve_valid(problem)
    assert territories(plan, 3) == [[1, 2], [3, 4], [5, 6]]
    assert plan.max_deviation["clients"] == 0.0


def test_strip_of_nine_balances_last_territory():
    values = [40, 6, 4, 46, 4, 42, 4, 4, 50]
    problem = balanced_problem(strip_graph(9), values, 4, 0.10, priority="balance")
    plan = solve_valid(problem)
    assert territories(plan, 4) == [[1, 2, 3], [4, 5], [6, 7, 8], [9]]
    totals = sorted(np.bincount(plan.assignment, weights=values).tolist())
    assert totals == [50, 50, 50, 50]


def test_island_joins_through_connector():
    # Units 1-4 form the mainland strip; unit 5 is an island linked to unit 4 by a ferry.
    graph = UnitGraph([str(i) for i in range(1, 6)], np.zeros(5), np.array([0.0, 0.1, 0.2, 0.3, 0.6]),
                      edges=[(0, 1), (1, 2), (2, 3), (3, 4)], edge_kind=["border"] * 3 + [EDGE_CONNECTOR])
    problem = balanced_problem(graph, [10, 10, 10, 20, 10], 2, 0.0)
    plan = solve_valid(problem)
    assert territories(plan, 2) == [[1, 2, 3], [4, 5]]


def test_island_without_connector_is_explained():
    graph = UnitGraph([str(i) for i in range(1, 6)], np.zeros(5), np.array([0.0, 0.1, 0.2, 0.3, 0.6]),
                      edges=[(0, 1), (1, 2), (2, 3)])
    problem = balanced_problem(graph, [10, 10, 10, 20, 10], 2, 0.0)
    with pytest.raises(InfeasibleError, match="connector edge"):
        solve_districts(problem, 5)


def test_unit_above_every_band_is_explained():
    values = [100, 10, 10, 10, 10, 10]
    problem = DistrictProblem(strip_graph(6), ["A", "B", "C"], [make_band("population", values, 0.05, 3, "people")])
    with pytest.raises(InfeasibleError) as caught:
        solve_districts(problem, 5)
    message = str(caught.value)
    # Target 50 people, upper limit 52.5: unit 1 alone has 100, 100 % above its target.
    assert "unit 1 alone has population 100 people" in message
    assert "upper limit 52.5 people" in message
    assert "100 % above its target" in message


def test_contiguity_blocks_bands_reports_deviation():
    # A star: unit 1 (4 clients) touches the leaves 2-5 (2 clients each), which touch nothing else.
    # Without contiguity {1}, {2,3}, {4,5} hit the target 4 exactly. Connected, two territories
    # are single leaves (2) and the third contains unit 1 and two leaves (8).
    graph = UnitGraph([str(i) for i in range(1, 6)], np.zeros(5), np.arange(5) * 0.1,
                      edges=[(0, 1), (0, 2), (0, 3), (0, 4)])
    problem = balanced_problem(graph, [4, 2, 2, 2, 2], 3, 0.05)
    plan = solve_valid(problem, 5)
    # One model covers the whole star, so CP-SAT proves that no connected plan meets the band.
    assert plan.status == "bands_infeasible"
    assert sorted(np.bincount(plan.assignment, weights=[4, 2, 2, 2, 2]).tolist()) == [2, 2, 8]
    assert plan.max_deviation["clients"] == pytest.approx(1.0)
    assert plan.lower_bound is None


def test_home_mode_optimal_with_bound():
    # A 3 x 4 grid; reps live in the corner units 1 and 12.
    graph = grid_graph(3, 4)
    n, lat, lon = graph.unit_count, graph.lat, graph.lon
    problem = DistrictProblem(graph, ["A", "B"], [make_band("accounts", np.ones(n), 0.0, 2, "accounts")],
                              compactness="home", home_unit=np.array([0, n - 1]),
                              home_lat=lat[[0, n - 1]], home_lon=lon[[0, n - 1]], weight_unit="unit-km")
    plan = solve_valid(problem)
    assert plan.status == "optimal"
    assert plan.lower_bound is not None and plan.lower_bound <= plan.objective + 1e-6
    assert plan.gap is not None and plan.gap <= 1e-6
    assert np.bincount(plan.assignment).tolist() == [6, 6]
    assert plan.assignment[0] == 0
    assert plan.assignment[n - 1] == 1


def test_locked_unit_stays():
    problem = balanced_problem(strip_graph(6), [1, 1, 1, 1, 1, 1], 2, 0.0,
                               locked=np.array([NO_TERRITORY, NO_TERRITORY, NO_TERRITORY, 0, NO_TERRITORY, NO_TERRITORY]))
    plan = solve_valid(problem)
    # Unit 4 must be in territory 0, so territory 0 is {4, 5, 6} or {1..3} can't hold it: {4,5,6}.
    assert plan.assignment[3] == 0
    assert territories(plan, 2) == [[1, 2, 3], [4, 5, 6]]


@st.composite
def grid_instances(draw):
    rows = draw(st.integers(2, 4))
    cols = draw(st.integers(2, 4))
    n = rows * cols
    count = draw(st.integers(2, min(4, n)))
    values = draw(st.lists(st.integers(1, 20), min_size=n, max_size=n))
    tolerance = draw(st.sampled_from([0.0, 0.1, 0.3]))
    return rows, cols, count, values, tolerance


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grid_instances())
def test_random_grids_give_valid_plans(instance):
    rows, cols, count, values, tolerance = instance
    problem = balanced_problem(grid_graph(rows, cols), values, count, tolerance)
    try:
        plan = solve_districts(problem, 3)
    except InfeasibleError:
        # On a connected grid only two checks can reject: a unit above every upper limit, or a band that
        # contains no whole number.
        target = sum(values) / count
        lower, upper = target * (1 - tolerance), target * (1 + tolerance)
        assert max(values) > upper or np.ceil(lower - 1e-9) > np.floor(upper + 1e-9)
        return
    bands_required = plan.status not in ("bands_not_met", "bands_infeasible")
    assert district_plan_problems(problem, plan.assignment, bands_required=bands_required) == []
    assert sorted(set(plan.assignment.tolist())) == list(range(count))


def test_far_apart_locks_give_connected_territory():
    # A 3 x 3 grid whose corner units 1 and 9 are both locked to territory A: the start plan holds them
    # in two pieces, and the search must join them through the units between.
    rows = cols = 3
    edges = [(r * cols + c, r * cols + c + 1) for r in range(rows) for c in range(cols - 1)]
    edges += [(r * cols + c, (r + 1) * cols + c) for r in range(rows - 1) for c in range(cols)]
    graph = UnitGraph([str(i + 1) for i in range(9)], np.repeat(np.arange(rows) * 1.0, cols),
                      np.tile(np.arange(cols) * 1.0, rows), edges=edges)
    values = [10, 20, 30, 40, 50, 60, 70, 80, 90]
    locked = np.full(9, NO_TERRITORY)
    locked[[0, 8]] = 0
    problem = DistrictProblem(graph, ["A", "B", "C"], [make_band("population", values, 0.5, 3, "people")],
                              locked=locked)
    for seed in range(3):
        plan = solve_valid(problem, 5, seed=seed)
        assert plan.assignment[0] == 0
        assert plan.assignment[8] == 0
        assert plan.status in ("optimal", "feasible")


def test_bound_meeting_plan_is_optimal():
    # An 8 x 8 grid with homes in three corners and a band that allows anything: each unit joins its
    # nearest home, which keeps every territory connected, so the LP bound meets the plan. 192 pairs are
    # above the whole-model size, so the neighbourhood search ends the solve, yet the plan is optimal.
    side = 8
    graph = grid_graph(side, side)
    n, lat, lon = graph.unit_count, graph.lat, graph.lon
    homes = np.array([0, side - 1, n - 1])
    problem = DistrictProblem(graph, ["A", "B", "C"], [make_band("accounts", np.ones(n), 1.0, 3, "accounts")],
                              compactness="home", home_unit=homes, home_lat=lat[homes], home_lon=lon[homes],
                              weight_unit="unit-km")

    plan = solve_valid(problem, time_limit_s=10.0)

    assert plan.gap <= 1e-9
    assert plan.status == "optimal"
    assert "the neighbourhood search stopped early at a local optimum" not in plan.notes
