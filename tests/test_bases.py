"""Home-base planning (the capacitated p-median): exact optima, infeasible requests, the CLI command."""

from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.cpmp import OC_FOLDER, read_instance, recheck
from optimizer.bases import (BaseProblem, DistanceFunction, DistanceMatrix, check_base_plan, euclidean,
                             plan_objective, solve_bases)
from optimizer.errors import InfeasibleError

OC_OPTIMA = {"pmedcap01": 713, "pmedcap02": 740, "pmedcap03": 751, "pmedcap04": 651, "pmedcap05": 664}


def line_problem(x: list[float], demand: list[int], capacity: int, count: int) -> BaseProblem:
    """Points on a line, each one also a candidate site."""
    positions = np.array(x, dtype=float)
    return BaseProblem(np.array(demand), np.full(len(x), capacity), count,
                       DistanceMatrix(np.abs(positions[:, None] - positions[None, :])))


def test_line_split_sends_far_point_to_far_base():
    # Points at x = 0, 2, 3, 5, 11, 12 with demands 4, 3, 3, 2, 1, 2; two bases of capacity 8.
    # Without capacities the bases sit at 2 and 11 (cost 2 + 0 + 1 + 3 + 0 + 1 = 7), but the left
    # four points need 12 > 8. Sending the x = 0 point (demand 4) right costs 11; any other way to
    # move at least 4 units right costs more (x = 3 and 5: 8 + 6 = 14). The left base at x = 3 then
    # serves x = 2, 3, 5 (load 3 + 3 + 2 = 8, cost 1 + 0 + 2 = 3) and the right base at x = 11
    # serves x = 0, 11, 12 (load 4 + 1 + 2 = 7, cost 11 + 0 + 1 = 12): 3 + 12 = 15, the optimum
    # (every other plan costs at least 16, by enumeration).
    problem = line_problem([0, 2, 3, 5, 11, 12], [4, 3, 3, 2, 1, 2], capacity=8, count=2)

    plan = solve_bases(problem, 10.0)

    assert plan.status == "optimal"
    assert plan.objective == 15.0
    assert plan.bases.tolist() == [2, 4]
    assert plan.site_of.tolist() == [4, 2, 2, 2, 4, 4]
    assert plan.lower_bound == 15.0
    assert plan.gap == 0.0
    assert plan.loads(problem).tolist() == [8, 7]
    assert check_base_plan(problem, plan.bases, plan.site_of) == []


def test_same_seed_same_plan():
    problem = line_problem([0, 2, 3, 5, 11, 12, 20, 21], [4, 3, 3, 2, 1, 2, 3, 3], capacity=8, count=3)

    first = solve_bases(problem, 10.0, seed=3)
    second = solve_bases(problem, 10.0, seed=3)

    assert first.site_of.tolist() == second.site_of.tolist()
    assert first.objective == second.objective


@pytest.mark.parametrize("name", sorted(OC_OPTIMA))
def test_osman_christofides_optimum(name):
    instance = read_instance(OC_FOLDER / f"{name}.txt")
    problem = BaseProblem(instance.demand, instance.capacity, instance.count, DistanceMatrix(instance.distances()))

    plan = solve_bases(problem, 30.0)
    record = {"objective": plan.objective, "medians": plan.bases.tolist(), "assignment": plan.site_of.tolist()}
    violations, objective = recheck(instance, record)

    assert violations == []
    assert objective == OC_OPTIMA[name]
    assert plan.lower_bound is not None
    assert plan.lower_bound <= OC_OPTIMA[name]


def test_total_demand_above_capacity_message():
    problem = line_problem([0, 1, 2], [5, 5, 5], capacity=6, count=2)

    with pytest.raises(InfeasibleError) as caught:
        solve_bases(problem, 5.0)

    assert str(caught.value) == ("The request is infeasible:\n"
                                 "  - total demand is 15 but 2 bases of 6 hold only 12 (3 short)\n"
                                 "Smallest changes found that remove a cause:\n"
                                 "  - ask for at least 3 bases\n"
                                 "  - raise the capacity to at least 8 per base")


def test_demand_above_capacity_message():
    problem = BaseProblem(np.array([7, 1, 1]), np.full(3, 6), 1, DistanceMatrix(np.zeros((3, 3))),
                          demand_unit="hours", point_names=["account A", "account B", "account C"])

    with pytest.raises(InfeasibleError) as caught:
        solve_bases(problem, 5.0)

    assert str(caught.value) == ("The request is infeasible:\n"
                                 "  - 1 point(s) need more than the largest capacity of a base (6 hours): "
                                 "account A (7 hours)\n"
                                 "Smallest changes found that remove a cause:\n"
                                 "  - raise the capacity to at least 7 hours per base")


def test_more_bases_than_sites_message():
    problem = line_problem([0, 1], [1, 1], capacity=6, count=3)

    with pytest.raises(InfeasibleError) as caught:
        solve_bases(problem, 5.0)

    assert caught.value.causes == ["3 bases were requested but there are only 2 candidate sites; ask for at "
                                   "most 2 bases, or give more candidate sites"]


def test_demands_that_fit_only_in_total():
    # 4 + 4 + 4 = 12 fits two bases of 6 in total, but no base can take two points.
    problem = line_problem([0, 1, 2], [4, 4, 4], capacity=6, count=2)

    with pytest.raises(InfeasibleError) as caught:
        solve_bases(problem, 5.0)

    assert caught.value.causes == ["the demands cannot be split among 2 bases without exceeding a capacity, "
                                   "although their total (12) fits"]


def test_distance_function_matches_matrix():
    points = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    sites = np.array([[0.0, 0.0], [6.0, 8.0]])
    function = DistanceFunction(points, sites, euclidean)

    assert function.between(np.array([0, 1, 2]), np.array([1, 1, 0])).tolist() == [10.0, 5.0, 10.0]
    assert function.lower_rows(np.array([1])).tolist() == [[5.0, 5.0]]


def brute_force(problem: BaseProblem) -> float | None:
    """Return the optimum over every set of sites and every assignment, or None when none is feasible."""
    n, m = problem.point_count, problem.site_count
    matrix = problem.distances.matrix
    best = None
    for bases in itertools.combinations(range(m), problem.count):
        for assignment in itertools.product(bases, repeat=n):
            loads = np.bincount(assignment, weights=problem.demand, minlength=m)
            if np.any(loads > problem.capacity):
                continue
            cost = float(sum(matrix[i, s] for i, s in enumerate(assignment)))
            best = cost if best is None else min(best, cost)
    return best


@st.composite
def tiny_problems(draw) -> BaseProblem:
    n = draw(st.integers(2, 5))
    m = draw(st.integers(1, 4))
    count = draw(st.integers(1, m))
    coordinates = st.tuples(st.integers(0, 9), st.integers(0, 9))
    points = np.array(draw(st.lists(coordinates, min_size=n, max_size=n)), dtype=float)
    sites = np.array(draw(st.lists(coordinates, min_size=m, max_size=m)), dtype=float)
    demand = np.array(draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)))
    capacity = np.array(draw(st.lists(st.integers(1, 9), min_size=m, max_size=m)))
    # Distances truncated to integers, so that "optimal" can be proven exactly.
    matrix = np.floor(np.hypot(points[:, None, 0] - sites[None, :, 0], points[:, None, 1] - sites[None, :, 1]))
    return BaseProblem(demand, capacity, count, DistanceMatrix(matrix))


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problems())
def test_tiny_problems_match_brute_force(problem):
    expected = brute_force(problem)

    if expected is None:
        with pytest.raises(InfeasibleError):
            solve_bases(problem, 10.0)
        return
    plan = solve_bases(problem, 10.0)

    assert check_base_plan(problem, plan.bases, plan.site_of) == []
    assert plan_objective(problem, plan.site_of) == plan.objective
    assert plan.objective == expected
    assert plan.status == "optimal"
    assert plan.lower_bound == expected


# ---------------------------------------------------------------------------------------------------
# The command


def territory(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "optimizer.cli", *args], capture_output=True, text=True, check=False)


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as sink:
        writer = csv.DictWriter(sink, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def two_towns(tmp_path) -> Path:
    """Twelve accounts: eight around Dallas, four around Houston, all located by coordinates."""
    towns = [(32.78, -96.80)] * 8 + [(29.76, -95.37)] * 4
    rows = [{"account_id": f"A{k:02d}", "name": f"Account {k}", "lat": f"{lat + 0.01 * (k % 3):.4f}",
             "lon": f"{lon - 0.01 * (k % 4):.4f}", "industry": "Health", "potential": str(10000 * (k + 1))}
            for k, (lat, lon) in enumerate(towns)]
    return write_csv(tmp_path / "accounts.csv", rows)


def test_bases_command_feeds_plan(two_towns, tmp_path):
    out = tmp_path / "bases"
    completed = territory("bases", "--accounts", str(two_towns), "--reps", "2", "--capacity-hours", "200",
                          "--out", str(out), "--time-limit", "20")

    assert completed.returncode == 0, completed.stderr
    assert sorted(path.name for path in out.iterdir()) == [".territory-files", "bases.json", "reps.csv"]
    with (out / "reps.csv").open(newline="", encoding="utf-8") as source:
        reps = list(csv.DictReader(source))
    assert [rep["rep_id"] for rep in reps] == ["REP-01", "REP-02"]
    assert [rep["capacity_hours"] for rep in reps] == ["200.0", "200.0"]
    assert {rep["state"] for rep in reps} == {"TX"}
    summary = json.loads((out / "bases.json").read_text())
    assert summary["objective_unit"] == "hour-km"
    # Scores rank by potential, so A11 is Tier 1 (40 hours) and A07 to A10 are Tier 2 (16 hours):
    # Houston carries 40 + 3 x 16 = 88 hours, Dallas 16 + 7 x 4 = 44; the heavier base comes first.
    assert [base["accounts"] for base in summary["bases"]] == [4, 8]
    assert [base["workload_hours"] for base in summary["bases"]] == [88.0, 44.0]
    assert summary["lower_bound"] <= summary["objective"]

    planned = territory("plan", "--accounts", str(two_towns), "--reps", str(out / "reps.csv"),
                        "--out", str(tmp_path / "plan"), "--time-limit", "20")

    assert planned.returncode == 0, planned.stderr


def test_bases_command_keeps_roster_ids(two_towns, tmp_path):
    roster = write_csv(tmp_path / "roster.csv", [
        {"rep_id": "R1", "name": "Ana", "lat": "30.27", "lon": "-97.74", "capacity_hours": "300"},
        {"rep_id": "R2", "name": "Ben", "lat": "29.42", "lon": "-98.49", "capacity_hours": "60"},
    ])
    out = tmp_path / "bases"
    completed = territory("bases", "--accounts", str(two_towns), "--capacity-from", str(roster), "--out", str(out),
                          "--time-limit", "20")

    assert completed.returncode == 0, completed.stderr
    summary = json.loads((out / "bases.json").read_text())
    # Moving Ana (Austin) to Dallas and Ben (San Antonio) to Houston is shorter, but Ben's 60 hours
    # cannot hold Houston's 88, so Ana takes Houston and Ben Dallas (44 hours).
    assert [(base["rep_id"], base["accounts"]) for base in summary["bases"]] == [("R1", 4), ("R2", 8)]
    assert summary["capacity_hours_per_base"] == 180.0


def test_bases_command_infeasible_exit_code(two_towns, tmp_path):
    out = tmp_path / "bases"
    completed = territory("bases", "--accounts", str(two_towns), "--reps", "2", "--capacity-hours", "20",
                          "--out", str(out), "--time-limit", "10")

    assert completed.returncode == 3
    assert "1 point(s) need more than the largest capacity of a base (20 hours): account A11 (40 hours)" in (
        completed.stderr)
    assert "raise the capacity to at least 40 hours per base" in completed.stderr
    assert not out.exists()


def test_bases_command_needs_count_and_capacity(two_towns, tmp_path):
    completed = territory("bases", "--accounts", str(two_towns), "--reps", "2", "--out", str(tmp_path / "b"))

    assert completed.returncode == 2
    assert completed.stderr == ("error: give --reps K and --capacity-hours H, or a rep roster with "
                                "--capacity-from reps.csv\n")
