"""Capacitated p-median benchmarks: Osman-Christofides (OR-Library pmedcap1) and Lorena-Senne SJC.

    python -m benchmarks.cpmp INSTANCE --time-limit SECONDS [--json]
    python -m benchmarks.cpmp --all [--family oc|sjc] --time-limit SECONDS

INSTANCE is a file or a name (pmedcap01, SJC3a) looked up in the ``shared/data`` folder beside the
checkout. Distances follow each family's published optima: Osman-Christofides values are sums of
Euclidean distances truncated to integers, SJC values sums of real-valued Euclidean distances. The
known optima are read from the PROVENANCE.md file of each data folder. Every solution is checked
again here, with code that shares nothing with the solver: capacity, exactly p medians, every point
assigned once, the objective recomputed.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
OC_FOLDER = DATA / "cpmp-osman-christofides"
SJC_FOLDER = DATA / "cpmp-lorena-senne" / "sjc"
SJC_COST_SCALE = 1000   # CP-SAT costs in thousandths of a distance unit


@dataclass
class Instance:
    name: str
    family: str          # "oc" or "sjc"
    xy: np.ndarray       # (n, 2) coordinates
    demand: np.ndarray   # (n,) integers
    capacity: np.ndarray  # (n,) capacity of each point as a median
    count: int           # p
    optimum: float | None

    def distances(self) -> np.ndarray:
        return instance_distances(self.family, self.xy)


def instance_distances(family: str, xy: np.ndarray) -> np.ndarray:
    """Return the family's distance matrix: truncated Euclidean for "oc", real Euclidean for "sjc"."""
    dx = xy[:, None, 0] - xy[None, :, 0]
    dy = xy[:, None, 1] - xy[None, :, 1]
    if family == "oc":
        squares = (dx * dx + dy * dy).astype(np.int64)
        return np.vectorize(math.isqrt)(squares).astype(float)   # exact floor of the square root
    return np.hypot(dx, dy)


def known_optima() -> dict[str, float]:
    """Read the optima tables of both PROVENANCE.md files (instance name -> value)."""
    optima = {}
    oc_text = (OC_FOLDER / "PROVENANCE.md").read_text()
    sjc_text = (SJC_FOLDER.parent / "PROVENANCE.md").read_text()
    oc_rows = re.findall(r"^\| (pmedcap\d\d) \| \d+ \| \d+ \| \d+ \| (\d+) \|", oc_text, re.MULTILINE)
    sjc_rows = re.findall(r"^\| (SJC\w+) \| ([\d.]+)[^|]*\|", sjc_text, re.MULTILINE)
    for name, value in oc_rows + sjc_rows:
        optima[name] = float(value)
    return optima


def read_instance(path: Path) -> Instance:
    """Read an OR-Library pmedcap file or a Lorena-Senne .dat file."""
    tokens = path.read_text().split()
    optimum = known_optima().get(path.stem)
    if path.stem.startswith("pmedcap"):
        listed, n, count, capacity = float(tokens[1]), int(tokens[2]), int(tokens[3]), int(tokens[4])
        rows = np.array(tokens[5:5 + 4 * n], dtype=float).reshape(n, 4)
        if optimum is not None and optimum != listed:
            raise ValueError(f"{path.name}: the file lists {listed:g} but PROVENANCE.md {optimum:g}")
        return Instance(path.stem, "oc", rows[:, 1:3], rows[:, 3].astype(np.int64), np.full(n, capacity, np.int64),
                        count, optimum if optimum is not None else listed)
    n, count = int(tokens[0]), int(tokens[1])
    rows = np.array(tokens[2:2 + 4 * n], dtype=float).reshape(n, 4)
    return Instance(path.stem, "sjc", rows[:, :2], rows[:, 3].astype(np.int64), rows[:, 2].astype(np.int64), count,
                    optimum)


def instance_path(name: str) -> Path:
    path = Path(name)
    if path.is_file():
        return path
    for candidate in (OC_FOLDER / f"{name}.txt", SJC_FOLDER / f"{name}.dat"):
        if candidate.is_file():
            return candidate
    raise SystemExit(f"error: no instance {name!r}: give a file, or a name such as pmedcap01 or SJC1")


def family_paths(family: str | None) -> list[Path]:
    paths = []
    if family in (None, "oc"):
        paths += sorted(OC_FOLDER.glob("pmedcap*.txt"))
    if family in (None, "sjc"):
        paths += sorted(SJC_FOLDER.glob("SJC*.dat"))
    return paths


def solve_instance(instance: Instance, time_limit: float, seed: int = 0, workers: int = 2) -> dict:
    """Solve one instance; return the JSON record (0-based indices)."""
    from optimizer.bases import BaseProblem, DistanceMatrix, solve_bases

    problem = BaseProblem(instance.demand, instance.capacity, instance.count, DistanceMatrix(instance.distances()),
                          cost_scale=1 if instance.family == "oc" else SJC_COST_SCALE)
    started = time.monotonic()
    plan = solve_bases(problem, time_limit, seed=seed, workers=workers)
    return {
        "objective": plan.objective,
        "medians": [int(s) for s in plan.bases],
        "assignment": [int(s) for s in plan.site_of],
        "lower_bound": plan.lower_bound,
        "time_s": round(time.monotonic() - started, 3),
        "status": plan.status,
    }


def recheck(instance: Instance, record: dict) -> tuple[list[str], float]:
    """Check a record against the instance with plain Python; return the violations and the objective."""
    violations = []
    medians, assignment = record["medians"], record["assignment"]
    n = len(instance.demand)
    if len(set(medians)) != instance.count or len(medians) != instance.count:
        violations.append(f"{len(set(medians))} distinct medians, expected {instance.count}")
    if len(assignment) != n:
        violations.append(f"{len(assignment)} assignments for {n} points")
    load: dict[int, int] = {}
    objective = 0.0
    for point, median in enumerate(assignment):
        if median not in medians:
            violations.append(f"point {point} goes to {median}, not a median")
            continue
        load[median] = load.get(median, 0) + int(instance.demand[point])
        dx = int(instance.xy[point, 0] - instance.xy[median, 0])
        dy = int(instance.xy[point, 1] - instance.xy[median, 1])
        objective += math.isqrt(dx * dx + dy * dy) if instance.family == "oc" else math.hypot(dx, dy)
    for median, total in load.items():
        if total > instance.capacity[median]:
            violations.append(f"median {median} carries {total}, capacity {instance.capacity[median]}")
    if abs(objective - record["objective"]) > 1e-6 * max(1.0, objective):
        violations.append(f"objective {record['objective']} but recomputed {objective}")
    return violations, objective


def run_all(family: str | None, time_limit: float, seed: int, workers: int) -> int:
    rows = ["| instance | n | p | objective | known optimum | gap to optimum | lower bound | status | time (s) "
            "| check |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    failures = 0
    print("\n".join(rows), flush=True)
    for path in family_paths(family):
        instance = read_instance(path)
        record = solve_instance(instance, time_limit, seed, workers)
        violations, objective = recheck(instance, record)
        failures += bool(violations)
        optimum = instance.optimum
        gap = f"{(objective - optimum) / optimum:.3%}" if optimum else "-"
        digits = 0 if instance.family == "oc" else 2
        bound = f"{record['lower_bound']:,.{digits}f}" if record["lower_bound"] is not None else "none"
        known = f"{optimum:,.{digits}f}" if optimum is not None else "-"
        check = "ok" if not violations else "; ".join(violations[:3])
        row = (f"| {instance.name} | {len(instance.demand)} | {instance.count} | {objective:,.{digits}f} | {known} | "
               f"{gap} | {bound} | {record['status']} | {record['time_s']:.1f} | {check} |")
        print(row, flush=True)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("instance", nargs="?", help="instance file or name (pmedcap01 ... pmedcap20, SJC1 ... SJC4b)")
    parser.add_argument("--all", action="store_true", help="run every instance of --family and print a table")
    parser.add_argument("--family", choices=["oc", "sjc"], help="Osman-Christofides or SJC (default both)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per instance (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, default=2, help="solver threads (default 2)")
    parser.add_argument("--json", action="store_true", help="print the solution as JSON")
    parser.add_argument("--debug", action="store_true", help="log the solver's steps")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.debug else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s")
    if args.all:
        return run_all(args.family, args.time_limit, args.seed, args.workers)
    if not args.instance:
        parser.error("give an INSTANCE or --all")
    instance = read_instance(instance_path(args.instance))
    record = solve_instance(instance, args.time_limit, args.seed, args.workers)
    violations, objective = recheck(instance, record)
    if args.json:
        print(json.dumps({key: record[key] for key in ("objective", "medians", "assignment", "lower_bound", "time_s")}))
    else:
        print(f"{instance.name}: objective {objective:,.3f}, optimum {instance.optimum}, lower bound "
              f"{record['lower_bound']}, {record['status']}, {record['time_s']:.1f} s")
    if violations:
        print("check failed: " + "; ".join(violations), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
