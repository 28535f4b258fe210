"""Benchmark the main job on the Inc. 5000 (2014) scenario and its two infeasible variants.

    python -m benchmarks.inc5000 [--scenario DIR] [--time-limit SECONDS] [--out DIR]

Runs `territory plan` as a user would (a separate process, timed from outside), then checks the plan
it wrote: every located account assigned once, the validator's verdict, location coverage, the gap.
The variants cut total capacity to 40,000 hours, and give the two Government Services specialists
1,600 hours each; both must end with exit code 3 and a message naming the cause.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

DEFAULT_SCENARIO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scenarios" / "inc5000-2014"


def run_plan(accounts: Path, reps: Path, out: Path, time_limit: float) -> tuple[int, float, str]:
    """Run `territory plan`; return exit code, wall time in seconds and stderr."""
    command = [sys.executable, "-m", "optimizer.cli", "plan", "--accounts", str(accounts), "--reps", str(reps),
               "--out", str(out), "--time-limit", str(time_limit)]
    started = time.monotonic()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    return completed.returncode, time.monotonic() - started, completed.stderr


def check_written_plan(accounts_path: Path, reps_path: Path, out: Path) -> dict:
    """Re-read the plan's files and check them against the input, independently of the run."""
    from optimizer.inputs import load_inputs
    from optimizer.instance import build_instance
    from optimizer.pipeline import prepare_accounts
    from optimizer.scenario import Scenario
    from optimizer.validator import check_plan

    assignments = pd.read_csv(out / "assignments.csv", dtype={"account_id": str, "rep_id": str})
    metrics = json.loads((out / "metrics.json").read_text())
    inputs = load_inputs(accounts_path, reps_path)
    scenario = Scenario()
    accounts = prepare_accounts(inputs, scenario)
    instance = build_instance(accounts, inputs.reps, scenario)

    by_id = dict(zip(assignments["account_id"], assignments["rep_id"], strict=True))
    rep_index = {rep_id: i for i, rep_id in enumerate(instance.rep_ids)}
    rep_of = np.array([rep_index.get(by_id.get(account_id), -1) for account_id in instance.account_ids])
    check = check_plan(instance, rep_of)
    return {
        "accounts": len(assignments),
        "duplicate_ids_in_plan": int(assignments["account_id"].duplicated().sum()),
        "located_share": metrics["location"]["located_share"],
        "assigned": int(assignments["rep_id"].notna().sum()),
        "located": instance.account_count,
        "violations": check.violations,
        "solver": metrics["solver"],
        "max_potential_deviation": metrics["balance"]["potential"]["max_deviation_from_target"],
        "accounts_moved": metrics["disruption"]["accounts_moved"],
    }


def write_variant(reps_path: Path, target: Path, change) -> Path:
    with reps_path.open(newline="", encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    change(rows)
    with target.open("w", newline="", encoding="utf-8") as sink:
        writer = csv.DictWriter(sink, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return target


def cut_capacity(rows: list[dict], total: float = 40_000.0) -> None:
    current = sum(float(row["capacity_hours"]) for row in rows)
    for row in rows:
        row["capacity_hours"] = f"{float(row['capacity_hours']) * total / current:.2f}"


def full_time_specialists(rows: list[dict]) -> None:
    for row in rows:
        if row["industries"]:
            row["capacity_hours"] = "1600"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO, help="folder with accounts.csv, reps.csv")
    parser.add_argument("--time-limit", type=float, default=120.0, help="solver time limit in seconds")
    parser.add_argument("--out", type=Path, help="folder for the plan's files (default: a temporary folder)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    accounts, reps = args.scenario / "accounts.csv", args.scenario / "reps.csv"

    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch) / "plan"
        code, seconds, stderr = run_plan(accounts, reps, out, args.time_limit)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        report = {"exit_code": code, "wall_s": round(seconds, 1), "peak_rss_mb": round(peak_mb)}
        if code == 0:
            report.update(check_written_plan(accounts, reps, out))
        else:
            report["stderr"] = stderr
        print(json.dumps(report, indent=2))

        for name, change in (("capacity cut to 40,000 hours", cut_capacity),
                             ("Government Services specialists at 1,600 hours", full_time_specialists)):
            variant = write_variant(reps, Path(scratch) / "reps_variant.csv", change)
            code, seconds, stderr = run_plan(accounts, variant, Path(scratch) / "variant", args.time_limit)
            print(f"\n{name}: exit code {code} after {seconds:.1f} s\n{stderr.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
