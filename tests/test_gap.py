"""Generalized assignment benchmarks: OR-Library gap1-gap4 solved to optimality, the file reader's errors, the CLI.

The instances are read from the shared data folder beside the checkout. The optima are the minimisation
values of best_known.csv in that folder.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.gap import (DATA_FOLDER, GapInputError, KnownRow, check_assignment, read_problem, solve_problem,
                            summary_lines)
from optimizer.solve.lagrangian import compile_search

REPOSITORY = Path(__file__).resolve().parents[1]
CATTRYSSE = DATA_FOLDER / "instances" / "cattrysse1994"
# An upper limit only: the engine stops once its plan meets the lower bound, within a few seconds here.
TIME_LIMIT_S = 10.0

MINIMUM = {
    "gap1-0": 261, "gap1-1": 269, "gap1-2": 256, "gap1-3": 274, "gap1-4": 251,
    "gap2-0": 277, "gap2-1": 269, "gap2-2": 260, "gap2-3": 269, "gap2-4": 267,
    "gap3-0": 438, "gap3-1": 415, "gap3-2": 446, "gap3-3": 430, "gap3-4": 411,
    "gap4-0": 423, "gap4-1": 424, "gap4-2": 426, "gap4-3": 395, "gap4-4": 406,
}
SIZE = {"gap1": (5, 15), "gap2": (5, 20), "gap3": (5, 25), "gap4": (5, 30)}   # agents, jobs


def _recheck(problem, assignment: list[int]) -> tuple[int, list[int]]:
    """Return the objective and each agent's used resource, computed here from the file's matrices."""
    objective = sum(int(problem.cost[agent, job]) for job, agent in enumerate(assignment))
    used = [sum(int(problem.resource[agent, job]) for job, a in enumerate(assignment) if a == agent)
            for agent in range(problem.agents)]
    return objective, used


@pytest.fixture(scope="module", autouse=True)
def compiled_search():
    # In a fresh install the first solve would spend its 10 s compiling the column search.
    compile_search()


@pytest.mark.parametrize("name", sorted(MINIMUM))
def test_gap1_to_gap4_reach_optimum(name):
    problem = read_problem(CATTRYSSE / name)
    assert (problem.agents, problem.jobs) == SIZE[name.split("-")[0]]
    record = solve_problem(problem, TIME_LIMIT_S)

    assignment = record["assignment"]
    assert len(assignment) == problem.jobs
    assert all(0 <= agent < problem.agents for agent in assignment)
    objective, used = _recheck(problem, assignment)
    for agent in range(problem.agents):
        assert used[agent] <= problem.capacity[agent], f"agent {agent} over capacity"
    assert objective == MINIMUM[name]
    assert record["objective"] == MINIMUM[name]
    assert record["lower_bound"] == MINIMUM[name]
    assert record["status"] == "optimal"
    assert record["violations"] == []


# Reading ---------------------------------------------------------------------------------------------


def _write(path: Path, values) -> Path:
    path.write_text(" ".join(str(v) for v in values) + "\n")
    return path


# 2 agents, 3 jobs: costs, resources, capacities.
SMALL = [2, 3, 5, 6, 7, 8, 9, 10, 1, 2, 3, 3, 2, 1, 4, 4]


def test_read_small_instance(tmp_path):
    problem = read_problem(_write(tmp_path / "small.txt", SMALL))
    assert problem.name == "small.txt"
    assert problem.cost.tolist() == [[5, 6, 7], [8, 9, 10]]
    assert problem.resource.tolist() == [[1, 2, 3], [3, 2, 1]]
    assert problem.capacity.tolist() == [4, 4]


def test_read_gzip_without_suffix(tmp_path):
    path = tmp_path / "small"
    path.write_bytes(gzip.compress(" ".join(map(str, SMALL)).encode()))
    assert read_problem(path).cost.tolist() == [[5, 6, 7], [8, 9, 10]]


def test_read_plain_file_named_gz(tmp_path):
    problem = read_problem(_write(tmp_path / "small.gz", SMALL))
    assert problem.name == "small"
    assert problem.capacity.tolist() == [4, 4]


def test_read_multi_problem_file(tmp_path):
    # The original OR-Library gap1 file: the problem count, then the five problems in turn.
    parts = ["5"] + [(CATTRYSSE / f"gap1-{i}").read_text() for i in range(5)]
    path = tmp_path / "gap1"
    path.write_text("\n".join(parts))
    third = read_problem(path, problem=3)
    split = read_problem(CATTRYSSE / "gap1-2")
    assert third.name == "gap1 problem 3"
    assert np.array_equal(third.cost, split.cost)
    assert np.array_equal(third.resource, split.resource)
    assert np.array_equal(third.capacity, split.capacity)


def test_multi_problem_file_needs_problem(tmp_path):
    path = tmp_path / "gap1"
    path.write_text("\n".join(["5"] + [(CATTRYSSE / f"gap1-{i}").read_text() for i in range(5)]))
    with pytest.raises(GapInputError) as error:
        read_problem(path)
    assert str(error.value) == f"{path} contains 5 problems; choose one with --problem 1..5"
    with pytest.raises(GapInputError) as error:
        read_problem(path, problem=6)
    assert str(error.value) == f"--problem 6 is out of range: {path} contains 5 problems"


@pytest.mark.parametrize(("values", "message"), [
    (SMALL[:-1], "expected 2 + 2*m*n + m = 16 integers for m=2 agents and n=3 jobs, found 15"),
    (SMALL + [7], "expected 2 + 2*m*n + m = 16 integers for m=2 agents and n=3 jobs, found 17"),
    (SMALL[:-1] + [-4], "capacity of agent 1 is -4; capacities must be 0 or more"),
    (SMALL[:9] + [-2] + SMALL[10:], "resource of job 1 at agent 0 is -2; resources must be 0 or more"),
    (SMALL[:4] + [-7] + SMALL[5:], "cost of job 2 at agent 0 is -7; costs must be 0 or more"),
    ([2, 3, 5, 6, 7, 8, 9, 10, 1, 2, 5, 3, 2, 6, 4, 4],
     "job 2 fits no agent: its resource exceeds every agent's capacity, the closest being agent 0 with 5 for a "
     "capacity of 4"),
    ([0, 3, 1], "agents m=0 and jobs n=3 must both be at least 1"),
])
def test_read_rejects_bad_values(tmp_path, values, message):
    path = _write(tmp_path / "bad.txt", values)
    with pytest.raises(GapInputError) as error:
        read_problem(path)
    assert str(error.value) == f"{path}: {message}"


def test_read_rejects_non_integer(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("2 3 5 6 7.5 8")
    with pytest.raises(GapInputError) as error:
        read_problem(path)
    assert str(error.value) == f"{path}: token 5 is '7.5', not an integer"


def test_read_rejects_missing_file(tmp_path):
    path = tmp_path / "absent"
    with pytest.raises(GapInputError) as error:
        read_problem(path)
    assert str(error.value) == f"instance file not found: {path}"


def test_read_rejects_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n")
    with pytest.raises(GapInputError) as error:
        read_problem(path)
    assert str(error.value) == f"{path} is empty; expected 'm n', then costs, resources and capacities"


def test_read_rejects_broken_gzip(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(b"2 3 5 6 7")[:12])
    with pytest.raises(GapInputError) as error:
        read_problem(path)
    assert str(error.value).startswith(f"{path} starts with the gzip signature but cannot be decompressed: ")


# Plan check ------------------------------------------------------------------------------------------


def test_check_assignment_finds_violations(tmp_path):
    problem = read_problem(_write(tmp_path / "small.txt", SMALL))
    assert check_assignment(problem, [0, 0, 1]) == ([], 5 + 6 + 10)
    violations, objective = check_assignment(problem, [0, 0, 0])
    assert violations == ["agent 0 uses 6, above its capacity 4"]
    assert objective is None
    assert check_assignment(problem, [0, 1]) == (["the plan has 2 entries for 3 jobs"], None)
    assert check_assignment(problem, [0, 2, 1])[0] == ["job 1 is assigned to 2, not an agent index 0..1"]


# Command line ----------------------------------------------------------------------------------------


def _run_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks.gap", *arguments], cwd=REPOSITORY,
                          capture_output=True, text=True, check=False)


def test_cli_json_output():
    completed = _run_cli(str(CATTRYSSE / "gap1-0"), "--time-limit", str(TIME_LIMIT_S), "--json")
    assert completed.returncode == 0, completed.stderr
    record = json.loads(completed.stdout)
    assert set(record) == {"objective", "assignment", "lower_bound", "time_s", "status", "gap", "agents", "jobs"}
    assert record["objective"] == 261
    assert record["lower_bound"] == 261
    assert record["status"] == "optimal"
    assert record["gap"] == 0.0
    assert (record["agents"], record["jobs"]) == (5, 15)
    assert isinstance(record["time_s"], float)
    problem = read_problem(CATTRYSSE / "gap1-0")
    assert check_assignment(problem, record["assignment"]) == ([], 261)


def test_cli_bad_input_exits_with_one_line(tmp_path):
    path = _write(tmp_path / "bad.txt", SMALL[:-1])
    completed = _run_cli(str(path), "--json")
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr == (f"error: {path}: expected 2 + 2*m*n + m = 16 integers for m=2 agents and n=3 jobs, "
                                "found 15\n")


def test_cli_missing_file_exits_with_one_line(tmp_path):
    completed = _run_cli(str(tmp_path / "absent"))
    assert completed.returncode == 2
    assert completed.stderr == f"error: instance file not found: {tmp_path / 'absent'}\n"


def test_cli_rejects_malformed_setting():
    completed = _run_cli(str(CATTRYSSE / "gap1-0"), "--setting", "free_share")
    assert completed.returncode == 2
    assert completed.stderr == "error: invalid --setting 'free_share'; expected NAME=VALUE, for example free_share=0.3\n"


@pytest.mark.parametrize(("args", "message"), [
    (["--time-limit", "0"], "error: invalid solver setting: time_limit_s: Input should be greater than 0\n"),
    (["--setting", "time_limit_s=5"], "error: give the time limit with --time-limit, not --setting time_limit_s\n"),
    (["--seed", "3000000000"],
     "error: invalid solver setting: seed: Input should be less than or equal to 2147483647\n"),
], ids=["zero-time-limit", "time-limit-as-setting", "seed-too-large"])
def test_cli_rejects_bad_solver_option(args, message):
    completed = _run_cli(str(CATTRYSSE / "gap1-0"), *args)
    assert completed.returncode == 2
    assert completed.stderr == message


# Runner summary --------------------------------------------------------------------------------------


def _listed(name: str, dataset: str, kind: str, best: int) -> KnownRow:
    return KnownRow(Path(name), dataset, name, kind, 5, 100, best, "optimal")


def _solved(objective: int | None, best: int, time_s: float, limit: float, **extra) -> dict:
    gap = (objective - best) / best if objective is not None else None
    return {"objective": objective, "best_known": best, "gap_to_best_known": gap, "time_s": time_s,
            "time_limit_s": limit, "violations": [], **extra}


def test_summary_counts_hits_and_mean_gaps():
    results = [
        (_listed("gap1-0", "cattrysse1994", "C", 261), _solved(261, 261, 0.5, 10.0)),
        (_listed("gap1-1", "cattrysse1994", "C", 269), _solved(270, 269, 10.0, 10.0)),
        (_listed("a05100", "chu1997", "A", 1698), _solved(1698, 1698, 12.0, 10.0)),
        (_listed("c10400", "yagiura2004", "C", 1000), _solved(1010, 1000, 60.0, 60.0)),
        (_listed("c20400", "yagiura2004", "C", 1000), _solved(1000, 1000, 60.0, 60.0)),
        (_listed("d10400", "yagiura2004", "D", 2000), {"error": "no plan", "time_limit_s": 60.0}),
    ]
    assert summary_lines(results) == [
        "gap1-gap12: 1 of 2 at their best known value (proven optimum unless marked open) within the time limit "
        "of 10 s; missed: gap1-1",
        "gapa-gapd (chu1997 a/b/c/d): 0 of 1 at their best known value (proven optimum unless marked open) within "
        "the time limit of 10 s; missed: a05100",
        "Yagiura type C (target <= 1%): mean gap to best known 0.500 % over 2 instances at 60 s each, largest 1.000 %",
        "Yagiura type D: no instance solved; 1 without a checked plan",
        "Yagiura type E (not a target): no instance in best_known.csv",
    ]
