"""Generalized assignment (GAP) benchmarks, solved through the product's own engine.

    python -m benchmarks.gap INSTANCE [--problem K] --time-limit SECONDS [--json]
    python -m benchmarks.gap --all [--family orlib|chu|yagiura] [--time-limit SECONDS]

``--setting NAME=VALUE`` passes any other SolverSettings field to the engine, such as free_share=0.3.

INSTANCE is a file in the OR-Library GAP format, plain or gzip-compressed (recognised by its first
two bytes, whatever the file name). It is a stream of whitespace-separated integers::

    m n                  agents, jobs
    c[i][j]              cost of job j at agent i (m rows of n values)
    a[i][j]              resource job j uses at agent i (m rows of n values)
    b[i]                 capacity of agent i

The original OR-Library files gap1 ... gap12 contain several problems after a first token that counts
them. ``--problem K`` picks the K-th, counted from 1 as OR-Library does: c515-1 is problem 1 of gap1,
and the split file gap1-0 of the data folder is that same problem.

Agents become reps and jobs become accounts of an ``optimizer.instance.Instance`` with no geography
and no balance bands. Its ``load_matrix`` contains the resources and its ``cost_matrix`` the costs.
Every plan is checked again here with plain Python that shares no code with the engine: each job
assigned once, every capacity kept, the objective recomputed from the file's integers. Exit codes
for one instance: 0 plan checked, 1 the recheck failed, 2 invalid input or setting, 3 infeasible,
4 no plan within the time limit.

``--all`` runs the instances listed in best_known.csv of the data folder beside the checkout and
prints a markdown table with summary lines. It exits with 1 when an instance ends without a plan
that passes the recheck (missing file, no plan, failed check). Minimisation values only:
``min_best_ub`` is the best known objective, and ``min_status`` is "optimal" when that value is a
proven optimum.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import logging
import math
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

DATA_FOLDER = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gap-orlib-yagiura"
GZIP_MAGIC = b"\x1f\x8b"

# --family name -> dataset column of best_known.csv, and the default time limit in seconds.
FAMILIES = {"orlib": "cattrysse1994", "chu": "chu1997", "yagiura": "yagiura2004"}
DEFAULT_TIME_LIMIT_S = {"cattrysse1994": 10.0, "chu1997": 10.0, "yagiura2004": 60.0}
TARGET_MEAN_GAP = 0.01   # Yagiura types C and D: mean gap to best known at most 1 %

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_NO_PLAN = 0, 1, 2, 3, 4


class GapInputError(ValueError):
    """An instance file that cannot be read as a GAP instance. The message names the file and the fault."""


@dataclass
class GapProblem:
    """One GAP instance as the file's integers, with cost and resource as agents x jobs matrices."""

    name: str
    cost: np.ndarray
    resource: np.ndarray
    capacity: np.ndarray

    @property
    def agents(self) -> int:
        return self.cost.shape[0]

    @property
    def jobs(self) -> int:
        return self.cost.shape[1]


# Reading -------------------------------------------------------------------------------------------


def read_problem(path: Path, problem: int | None = None) -> GapProblem:
    """Read one GAP instance from `path`. `problem`, counted from 1, picks one of a multi-problem file.

    Raises GapInputError with a one-line message for a missing or unreadable file, a token that is not
    an integer, a wrong token count, a negative capacity, resource or cost, and a job that fits no agent.
    """
    path = Path(path)
    values = _read_integers(path)
    blocks = _split_problems(values, path)
    if problem is None and len(blocks) > 1:
        raise GapInputError(f"{path} contains {len(blocks)} problems; choose one with --problem 1..{len(blocks)}")
    index = 1 if problem is None else problem
    if not 1 <= index <= len(blocks):
        count = f"{len(blocks)} problem" + ("s" if len(blocks) > 1 else "")
        raise GapInputError(f"--problem {index} is out of range: {path} contains {count}")
    name = path.name.removesuffix(".gz")
    if len(blocks) > 1:
        name = f"{name} problem {index}"
    return _build_problem(name, blocks[index - 1], path)


def _read_integers(path: Path) -> list[int]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise GapInputError(f"instance file not found: {path}") from None
    except OSError as error:
        raise GapInputError(f"cannot read instance file {path}: {error.strerror}") from None
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise GapInputError(f"{path} starts with the gzip signature but cannot be decompressed: {error}") from None
    tokens = raw.split()
    if not tokens:
        raise GapInputError(f"{path} is empty; expected 'm n', then costs, resources and capacities")
    values = []
    for position, token in enumerate(tokens, start=1):
        try:
            values.append(int(token))
        except ValueError:
            shown = token[:20].decode("utf-8", errors="replace")
            raise GapInputError(f"{path}: token {position} is {shown!r}, not an integer") from None
    return values


def _instance_size(agents: int, jobs: int) -> int:
    """Return the number of integers of one instance: m, n, two m x n matrices and m capacities."""
    return 2 + 2 * agents * jobs + agents


def _split_problems(values: list[int], path: Path) -> list[list[int]]:
    """Return the integers of each problem in the file: one instance, or a count followed by instances."""
    if len(values) < 2:
        raise GapInputError(f"{path} contains a single integer; expected at least 'm n'")
    agents, jobs = values[0], values[1]
    if agents >= 1 and jobs >= 1 and len(values) == _instance_size(agents, jobs):
        return [values]
    blocks = _split_multi_problem(values)
    if blocks is not None:
        return blocks
    if agents < 1 or jobs < 1:
        raise GapInputError(f"{path}: agents m={agents} and jobs n={jobs} must both be at least 1")
    raise GapInputError(f"{path}: expected 2 + 2*m*n + m = {_instance_size(agents, jobs)} integers for m={agents} "
                        f"agents and n={jobs} jobs, found {len(values)}")


def _split_multi_problem(values: list[int]) -> list[list[int]] | None:
    """Return the problems of an OR-Library multi-problem file, or None when `values` is not one."""
    count, position, blocks = values[0], 1, []
    if count < 1:
        return None
    for _ in range(count):
        if position + 2 > len(values):
            return None
        agents, jobs = values[position], values[position + 1]
        if agents < 1 or jobs < 1:
            return None
        end = position + _instance_size(agents, jobs)
        if end > len(values):
            return None
        blocks.append(values[position:end])
        position = end
    return blocks if position == len(values) else None


def _build_problem(name: str, values: list[int], path: Path) -> GapProblem:
    """Turn one problem's integers into a GapProblem, rejecting values the engine cannot take."""
    agents, jobs = values[0], values[1]
    matrix_size = agents * jobs
    cost = np.array(values[2:2 + matrix_size], dtype=np.int64).reshape(agents, jobs)
    resource = np.array(values[2 + matrix_size:2 + 2 * matrix_size], dtype=np.int64).reshape(agents, jobs)
    capacity = np.array(values[2 + 2 * matrix_size:], dtype=np.int64)

    negative = np.flatnonzero(capacity < 0)
    if negative.size:
        i = int(negative[0])
        raise GapInputError(f"{path}: capacity of agent {i} is {capacity[i]}; capacities must be 0 or more")
    for label, matrix in (("resource", resource), ("cost", cost)):
        if (matrix < 0).any():
            i, j = (int(k) for k in np.argwhere(matrix < 0)[0])
            raise GapInputError(f"{path}: {label} of job {j} at agent {i} is {matrix[i, j]}; "
                                f"{label}s must be 0 or more")

    fits = resource <= capacity[:, None]
    stuck = np.flatnonzero(~fits.any(axis=0))
    if stuck.size:
        j = int(stuck[0])
        closest = int(np.argmin(resource[:, j] - capacity))
        others = f" ({stuck.size} such jobs)" if stuck.size > 1 else ""
        raise GapInputError(f"{path}: job {j} fits no agent: its resource exceeds every agent's capacity, "
                            f"the closest being agent {closest} with {resource[closest, j]} for a capacity of "
                            f"{capacity[closest]}{others}")
    return GapProblem(name, cost, resource, capacity)


# Solving and checking -----------------------------------------------------------------------------


def engine_instance(problem: GapProblem):
    """Return the engine's Instance for `problem`: jobs are accounts, agents are reps, nothing else applies."""
    from optimizer.instance import NO_REP, Instance

    m, n = problem.agents, problem.jobs
    load = problem.resource.T.astype(float)
    return Instance(
        account_ids=[f"job {j}" for j in range(n)],
        rep_ids=[f"agent {i}" for i in range(m)],
        account_lat=np.zeros(n), account_lon=np.zeros(n), rep_lat=np.zeros(m), rep_lon=np.zeros(m),
        potential=np.zeros(n),
        # With a load_matrix the pre-checks read workload as each account's smallest load over reps.
        workload=load.min(axis=1),
        tier=np.ones(n, dtype=np.int64),
        industry=np.full(n, -1, dtype=np.int64), industry_names=[], rep_industries=[frozenset()] * m,
        current_owner=np.full(n, NO_REP, dtype=np.int64), locked_owner=np.full(n, NO_REP, dtype=np.int64),
        capacity=problem.capacity.astype(float), max_accounts=np.full(m, NO_REP, dtype=np.int64),
        bands={}, max_account_share=None, max_moves=None,
        distance_weight=np.zeros(n), distance_unit="km (not weighted)", move_penalty=np.zeros(n),
        objective_unit="cost",
        load_matrix=load, cost_matrix=problem.cost.T.astype(float),
    )


def check_assignment(problem: GapProblem, assignment: list[int]) -> tuple[list[str], int | None]:
    """Check a plan against the file's integers; return the violations and the recomputed objective.

    Plain Python on purpose, so that nothing is shared with the engine or its validator.
    """
    if len(assignment) != problem.jobs:
        return [f"the plan has {len(assignment)} entries for {problem.jobs} jobs"], None
    violations = []
    used = [0] * problem.agents
    objective = 0
    for job, agent in enumerate(assignment):
        if not isinstance(agent, int) or not 0 <= agent < problem.agents:
            violations.append(f"job {job} is assigned to {agent!r}, not an agent index 0..{problem.agents - 1}")
            continue
        used[agent] += int(problem.resource[agent, job])
        objective += int(problem.cost[agent, job])
    for agent, total in enumerate(used):
        if total > problem.capacity[agent]:
            violations.append(f"agent {agent} uses {total}, above its capacity {problem.capacity[agent]}")
    return violations, (objective if not violations else None)


def solve_problem(problem: GapProblem, time_limit_s: float, **settings) -> dict:
    """Solve `problem` through ``optimizer.solve.strategy.solve`` and return the checked record.

    `settings` are further SolverSettings fields (seed, workers, free_share, ...). The record contains
    the objective recomputed from the file, the 0-based agent per job, the lower bound rounded up to an
    integer (valid because every cost is an integer), the wall time and the recheck's violations.
    """
    from optimizer.instance import COST_SCALE
    from optimizer.scenario import SolverSettings
    from optimizer.solve.strategy import solve

    instance = engine_instance(problem)
    solver_settings = SolverSettings(time_limit_s=time_limit_s, **settings)
    started = time.monotonic()
    solution = solve(instance, solver_settings)
    elapsed = time.monotonic() - started

    assignment = [int(agent) for agent in solution.rep_of]
    violations, objective = check_assignment(problem, assignment)
    report = solution.report
    if objective is not None and report.objective != objective:
        violations.append(f"the engine reports objective {report.objective} (integer cost scale {COST_SCALE}) "
                          f"but the plan's costs add up to {objective}")
    lower_bound = math.ceil(report.lower_bound - 1e-6) if report.lower_bound is not None else None
    gap = None
    if objective is not None and lower_bound is not None:
        gap = (objective - lower_bound) / objective if objective > 0 else 0.0
    return {
        "objective": objective,
        "assignment": assignment,
        "lower_bound": lower_bound,
        "time_s": round(elapsed, 3),
        "status": "optimal" if gap == 0.0 else "feasible",
        "gap": gap,
        "engine_objective": report.objective,
        "engine_lower_bound": report.lower_bound,
        "bound_source": report.bound_source,
        "agents": problem.agents,
        "jobs": problem.jobs,
        "violations": violations,
    }


# Runner over the data folder ------------------------------------------------------------------------


@dataclass
class KnownRow:
    """One row of best_known.csv: instance file, family, type and the best known minimum."""

    path: Path
    dataset: str
    name: str
    kind: str
    agents: int
    jobs: int
    best: int
    status: str   # "optimal" or "open"


def read_best_known(folder: Path) -> list[KnownRow]:
    with (folder / "best_known.csv").open(newline="", encoding="utf-8") as source:
        return [KnownRow(folder / row["file"], row["dataset"], row["name"], row["type"], int(row["agents"]),
                         int(row["jobs"]), int(row["min_best_ub"]), row["min_status"])
                for row in csv.DictReader(source)]


def _listing_key(row: KnownRow) -> tuple:
    """Order gap1-0 .. gap12-4 by file and problem number, the other families by type, jobs and agents."""
    head, _, tail = row.name.partition("-")
    number = int(head.removeprefix("gap")) if row.dataset == "cattrysse1994" else 0
    return (row.dataset, number, tail, row.kind, row.jobs, row.agents, row.name)


def _percent(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f} %"


def run_all(folder: Path, family: str | None, time_limit_s: float | None, settings: dict, as_json: bool) -> int:
    """Solve every instance of best_known.csv (or of one family), print a table and summary lines."""
    try:
        rows = read_best_known(folder)
    except (OSError, KeyError, ValueError) as error:
        print(f"error: cannot read {folder / 'best_known.csv'}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if family is not None:
        rows = [row for row in rows if row.dataset == FAMILIES[family]]
    rows.sort(key=_listing_key)

    header = ("| instance | agents x jobs | objective | best known | gap to best known | lower bound | proven gap "
              "| time (s) | check |")
    if not as_json:
        print(header)
        print("|" + " --- |" * 9, flush=True)
    results = []
    for row in rows:
        limit = time_limit_s if time_limit_s is not None else DEFAULT_TIME_LIMIT_S[row.dataset]
        record = _run_one(row, limit, settings)
        results.append((row, record))
        if not as_json:
            print(_table_line(row, record), flush=True)

    failed = [row.name for row, record in results if "error" in record or record["violations"]]
    if as_json:
        print(json.dumps([{key: value for key, value in record.items() if key != "assignment"}
                          for _, record in results], indent=1))
    else:
        print()
        for line in summary_lines(results):
            print(line)
    return EXIT_CHECK_FAILED if failed else EXIT_OK


def _run_one(row: KnownRow, time_limit_s: float, settings: dict) -> dict:
    """Solve one listed instance. An error becomes a record with an "error" entry and the run goes on."""
    from optimizer.errors import InfeasibleError, SolverError

    base = {"name": row.name, "dataset": row.dataset, "type": row.kind, "best_known": row.best,
            "best_known_status": row.status, "time_limit_s": time_limit_s}
    try:
        problem = read_problem(row.path)
        record = solve_problem(problem, time_limit_s, **settings)
    except (GapInputError, InfeasibleError, SolverError) as error:
        logger.error("%s: %s", row.name, error)
        return {**base, "error": str(error).splitlines()[0]}
    objective = record["objective"]
    record["gap_to_best_known"] = (objective - row.best) / row.best if objective is not None else None
    return {**base, **record}


def _table_line(row: KnownRow, record: dict) -> str:
    size = f"{row.agents} x {row.jobs}"
    best = f"{row.best}" + ("" if row.status == "optimal" else " (open)")
    if "error" in record:
        return f"| {row.name} | {size} | - | {best} | - | - | - | - | {record['error']} |"
    check = "ok" if not record["violations"] else "; ".join(record["violations"][:2])
    bound = record["lower_bound"] if record["lower_bound"] is not None else "none"
    return (f"| {row.name} | {size} | {record['objective']} | {best} | {_percent(record['gap_to_best_known'])} | "
            f"{bound} | {_percent(record['gap'])} | {record['time_s']:.1f} | {check} |")


def _hits_best_known(record: dict) -> bool:
    # The engine may pass its time limit by a fraction of a second while it ends the search; 1 s is allowed.
    return ("error" not in record and not record["violations"] and record["objective"] is not None
            and record["objective"] <= record["best_known"] and record["time_s"] <= record["time_limit_s"] + 1.0)


def summary_lines(results: list[tuple[KnownRow, dict]]) -> list[str]:
    """Return the summary lines: optima hit per OR-Library family, mean gaps per Yagiura type."""
    lines = []
    for dataset, label in (("cattrysse1994", "gap1-gap12"), ("chu1997", "gapa-gapd (chu1997 a/b/c/d)")):
        chosen = [(row, record) for row, record in results if row.dataset == dataset]
        if not chosen:
            continue
        hits = [row.name for row, record in chosen if _hits_best_known(record)]
        misses = [row.name for row, record in chosen if not _hits_best_known(record)]
        limits = sorted({record["time_limit_s"] for _, record in chosen})
        line = (f"{label}: {len(hits)} of {len(chosen)} at their best known value (proven optimum unless marked "
                f"open) within the time limit of {', '.join(f'{limit:g}' for limit in limits)} s")
        if misses:
            line += "; missed: " + ", ".join(misses)
        lines.append(line)
    yagiura = [(row, record) for row, record in results if row.dataset == "yagiura2004"]
    if not yagiura:
        return lines
    for kind in ("C", "D", "E"):
        chosen = [record for row, record in yagiura if row.kind == kind]
        if not chosen:
            if kind == "E":
                lines.append("Yagiura type E (not a target): no instance in best_known.csv")
            continue
        gaps = [record["gap_to_best_known"] for record in chosen
                if "error" not in record and record.get("gap_to_best_known") is not None]
        failed = len(chosen) - len(gaps)
        limits = sorted({record["time_limit_s"] for record in chosen})
        mean = sum(gaps) / len(gaps) if gaps else None
        target = " (not a target)" if kind == "E" else f" (target <= {TARGET_MEAN_GAP:.0%})"
        line = (f"Yagiura type {kind}{target}: mean gap to best known {_percent(mean, 3)} over {len(gaps)} "
                f"instances at {', '.join(f'{limit:g}' for limit in limits)} s each, largest {_percent(max(gaps), 3)}"
                if gaps else f"Yagiura type {kind}: no instance solved")
        if failed:
            line += f"; {failed} without a checked plan"
        lines.append(line)
    return lines


# Command line ---------------------------------------------------------------------------------------


def _settings_from(args: argparse.Namespace) -> dict:
    """Return the SolverSettings fields given on the command line; raise GapInputError for an invalid one."""
    from pydantic import ValidationError

    from optimizer.scenario import SolverSettings

    settings = {"seed": args.seed, "workers": args.workers}
    for item in args.setting:
        name, separator, value = item.partition("=")
        if not separator or not name:
            raise GapInputError(f"invalid --setting {item!r}; expected NAME=VALUE, for example free_share=0.3")
        if name.strip() == "time_limit_s":
            raise GapInputError("give the time limit with --time-limit, not --setting time_limit_s")
        settings[name.strip()] = value.strip()
    try:
        validated = SolverSettings(time_limit_s=args.time_limit if args.time_limit is not None else 10.0, **settings)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors())
        raise GapInputError(f"invalid solver setting: {problems}") from None
    # Values parsed by SolverSettings, so that "0.3" reaches the engine as a number.
    return {name: getattr(validated, name) for name in settings}


def _solve_one(args: argparse.Namespace, settings: dict) -> int:
    from optimizer.errors import InfeasibleError, SolverError

    try:
        problem = read_problem(Path(args.instance), args.problem)
    except GapInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    time_limit = args.time_limit if args.time_limit is not None else 10.0
    try:
        record = solve_problem(problem, time_limit, **settings)
    except InfeasibleError as error:
        print(f"infeasible: {'; '.join(error.causes)}", file=sys.stderr)
        return EXIT_INFEASIBLE
    except SolverError as error:
        print(f"no plan: {error}", file=sys.stderr)
        return EXIT_NO_PLAN
    if record["violations"]:
        print("error: the plan fails the recheck: " + "; ".join(record["violations"]), file=sys.stderr)
        return EXIT_CHECK_FAILED
    if args.json:
        print(json.dumps({key: record[key] for key in ("objective", "assignment", "lower_bound", "time_s", "status",
                                                       "gap", "agents", "jobs")}))
    else:
        print(f"{problem.name}: {problem.agents} agents x {problem.jobs} jobs, objective {record['objective']}, "
              f"lower bound {record['lower_bound']}, proven gap {_percent(record['gap'])}, {record['time_s']:.1f} s")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("instance", nargs="?", help="GAP instance file (OR-Library format, plain or gzip)")
    parser.add_argument("--problem", type=int, help="problem number, from 1, in a multi-problem OR-Library file")
    parser.add_argument("--all", action="store_true", help="run the instances of best_known.csv and print a table")
    parser.add_argument("--family", choices=sorted(FAMILIES), help="with --all: only gap1-gap12 (orlib), "
                        "gapa-gapd (chu) or the larger Yagiura instances (yagiura)")
    parser.add_argument("--data", type=Path, default=DATA_FOLDER, help=f"with --all: data folder (default {DATA_FOLDER})")
    parser.add_argument("--time-limit", type=float, help="seconds per instance (default 10; with --all 10 for "
                        "gap1-gap12 and gapa-gapd, 60 for Yagiura)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, default=2, help="search threads (default 2)")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="any other field of optimizer.scenario.SolverSettings, such as free_share=0.3 "
                        "(repeatable; engine defaults otherwise)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text or a table")
    parser.add_argument("--debug", action="store_true", help="log the engine's steps")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.debug else logging.WARNING, format="%(asctime)s %(name)s: %(message)s")

    if args.all and (args.instance or args.problem):
        parser.error("--all takes no INSTANCE or --problem")
    if not args.all and not args.instance:
        parser.error("give an INSTANCE file or --all")
    try:
        settings = _settings_from(args)
    except GapInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.all:
        return run_all(args.data, args.family, args.time_limit, settings, args.json)
    return _solve_one(args, settings)


if __name__ == "__main__":
    sys.exit(main())
