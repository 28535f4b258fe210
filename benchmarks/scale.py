"""Compare the product's solver with full CP-SAT and HiGHS models on generated instances of growing size.

    python -m benchmarks.scale [--sizes 5000x50,20000x100,100000x300,200000x500]
        [--time-limits 60,60,300,600] [--seed 1] [--work DIR] [--only ours,cpsat,highs]

For each size ACCOUNTSxREPS the runner generates an instance with benchmarks.generate. Instances are
kept in WORK/instances and reused, so delete that folder after changing the generator. Each method
then runs as a separate process, timed from outside, with its peak RSS read from the kernel (wait4)
for that process alone:

- ours: `territory plan --time-limit T`, as a user runs it; objective, bound and gap from metrics.json.
- cpsat, highs: benchmarks.naive, one full model over each account's 8 nearest eligible reps, its owner
  and each rep's nearest accounts, with the same time limit for the solve alone. Reading the input and
  building the model come on top and are reported as "model build".

Every plan is checked with optimizer.validator.check_plan against the instance that the runner builds
itself from the same files. The objective column is the same for every method: the plan's integer
pair costs (optimizer.solve.candidates.Pairs) divided by COST_SCALE, in the instance's objective unit.
The bounds differ in scope. Ours is the bound metrics.json reports, proven over every eligible pair, so it
holds for every plan. The CP-SAT and HiGHS bounds hold only for plans within their candidate pairs.

Prints one markdown table and merges the results into WORK/results.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import ortools
import pandas as pd

from benchmarks import generate
from benchmarks.naive import load_instance
from optimizer.instance import COST_SCALE, NO_REP, Instance
from optimizer.solve.candidates import Pairs
from optimizer.validator import check_plan

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("ours", "cpsat", "highs")
DEFAULT_SIZES = "5000x50,20000x100,100000x300,200000x500"
DEFAULT_TIME_LIMITS = "60,60,300,600"
POLL_S = 0.2
# `territory plan` exit codes other than 0 (see optimizer.cli).
PLAN_EXIT_CODES = {1: "failed (exit code 1)", 2: "invalid input (exit code 2)", 3: "infeasible (exit code 3)",
                   4: "no plan in time (exit code 4)"}


@dataclass(frozen=True)
class Size:
    accounts: int
    reps: int

    @property
    def label(self) -> str:
        return f"{self.accounts}x{self.reps}"


@dataclass
class ChildRun:
    exit_code: int | None   # None when the process was killed
    wall_s: float
    peak_rss_mb: float
    killed: bool
    log: Path


def run_child(command: list[str], log: Path, timeout_s: float, memory_limit_mb: int) -> ChildRun:
    """Run `command` with its output in `log`, killing it after `timeout_s`, and return its wall time and peak RSS.

    With memory_limit_mb > 0 the child's address space is capped (RLIMIT_AS), so a model that grows
    too large fails in its own process instead of starving the machine.
    """
    limit_bytes = memory_limit_mb * 1024 * 1024 if memory_limit_mb > 0 else None

    def cap_memory() -> None:
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    logger.info("running %s", " ".join(command[1:]))
    with log.open("w", encoding="utf-8") as stream:
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT, cwd=ROOT, preexec_fn=cap_memory)
        killed = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if not killed and time.monotonic() - started > timeout_s:
                logger.warning("killing process %d after %.0f s", process.pid, timeout_s)
                process.kill()
                killed = True
            time.sleep(POLL_S)
        wall_s = time.monotonic() - started
    exit_code = os.waitstatus_to_exitcode(status)
    process.returncode = exit_code  # wait4 reaped the process, so Popen must not wait for it again
    return ChildRun(None if killed else exit_code, wall_s, usage.ru_maxrss / 1024.0, killed, log)


def prepare_instance(work: Path, size: Size, seed: int, places: generate.Places | None) -> tuple[Path, Path, float | None]:
    """Return the instance's files, generating them unless WORK/instances contains them already.

    The third value is the generation time in seconds, or None when the files were reused.
    """
    folder = work / "instances" / f"{size.label}-seed{seed}"
    accounts, reps = folder / "accounts.csv", folder / "reps.csv"
    if accounts.is_file() and reps.is_file():
        logger.info("%s: reusing %s", size.label, folder)
        return accounts, reps, None
    started = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    frames = generate.generate(size.accounts, size.reps, seed, places=places)
    generate.write_instance(folder, *frames)
    seconds = time.monotonic() - started
    logger.info("%s: generated in %.1f s", size.label, seconds)
    return accounts, reps, seconds


def plan_summary(instance: Instance, plan: np.ndarray) -> dict:
    """Return the validator's verdict and the plan's objective in integer cost units / COST_SCALE."""
    check = check_plan(instance, plan)
    summary = {"violations": len(check.violations), "first_violations": check.violations[:5],
               "validator_objective": check.objective}
    if np.all(plan != NO_REP):
        cost = Pairs.build(instance, np.arange(instance.account_count), plan).cost
        summary["objective"] = int(cost.sum()) / COST_SCALE
    return summary


def run_ours(instance: Instance, accounts: Path, reps: Path, run_dir: Path, time_limit: float, grace_s: float,
             memory_limit_mb: int) -> dict:
    out = run_dir / "ours"
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "optimizer.cli", "plan", "--accounts", str(accounts), "--reps", str(reps),
               "--out", str(out), "--time-limit", str(time_limit)]
    child = run_child(command, run_dir / "ours.log", time_limit + grace_s, memory_limit_mb)
    record = child_record(child)
    if child.exit_code != 0:
        record["status"] = "killed" if child.killed else PLAN_EXIT_CODES.get(child.exit_code,
                                                                               f"exit code {child.exit_code}")
        record["message"] = log_tail(child.log)
        return record

    solver = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["solver"]
    assignments = pd.read_csv(out / "assignments.csv", dtype={"account_id": str, "rep_id": str})
    rep_index = {rep_id: r for r, rep_id in enumerate(instance.rep_ids)}
    by_account = dict(zip(assignments["account_id"], assignments["rep_id"], strict=True))
    plan = np.array([rep_index.get(by_account.get(account_id), NO_REP) for account_id in instance.account_ids],
                    dtype=np.int64)
    record.update(status=solver["status"], solve_s=solver["time_s"], lp_s=solver["lp_time_s"],
                  bound=solver["lower_bound"], solver_objective=solver["objective"], bound_source=solver["bound_source"],
                  has_plan=True)
    record.update(plan_summary(instance, plan))
    return record


def run_naive(method: str, instance: Instance, accounts: Path, reps: Path, run_dir: Path, time_limit: float,
              grace_s: float, memory_limit_mb: int) -> dict:
    result_path, plan_path = run_dir / f"{method}.json", run_dir / f"{method}.npy"
    for stale in (result_path, plan_path):
        stale.unlink(missing_ok=True)
    command = [sys.executable, "-m", "benchmarks.naive", method, "--accounts", str(accounts), "--reps", str(reps),
               "--time-limit", str(time_limit), "--result", str(result_path), "--plan", str(plan_path)]
    child = run_child(command, run_dir / f"{method}.log", time_limit + grace_s, memory_limit_mb)
    record = child_record(child)
    if child.exit_code != 0 or not result_path.is_file():
        record["status"] = "killed" if child.killed else f"exit code {child.exit_code}"
        record["message"] = log_tail(child.log)
        return record

    result = json.loads(result_path.read_text(encoding="utf-8"))
    record.update(status=result["status"], solve_s=result["solve_s"], read_s=result["read_s"],
                  build_s=result["candidates_s"] + result["build_s"], bound=result.get("bound"),
                  solver_objective=result.get("objective"), pairs=result["pairs"], has_plan=result["has_plan"],
                  rss_after_build_mb=result["rss_after_build_mb"])
    if method == "highs":
        record["highs_report"] = result.get("highs_report")
        record["log_objective"] = result.get("log_objective")
    if result["has_plan"]:
        record.update(plan_summary(instance, np.load(plan_path)))
    return record


def child_record(child: ChildRun) -> dict:
    return {"wall_s": round(child.wall_s, 1), "peak_rss_mb": round(child.peak_rss_mb), "exit_code": child.exit_code,
            "killed": child.killed, "log": str(child.log), "load_average": os.getloadavg()[0]}


def log_tail(log: Path, lines: int = 5) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def gap(record: dict) -> float | None:
    objective, bound = record.get("objective"), record.get("bound")
    if objective is None or bound is None or objective <= 0:
        return None
    return max(0.0, (objective - bound) / objective)


def merge_results(path: Path, records: list[dict]) -> None:
    """Write `records` into the JSON list at `path`, replacing entries of the same size, seed, limit and method."""
    existing = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    keys = {(r["size"], r["seed"], r["time_limit_s"], r["method"]) for r in records}
    kept = [r for r in existing if (r["size"], r["seed"], r["time_limit_s"], r["method"]) not in keys]
    path.write_text(json.dumps(kept + records, indent=2) + "\n", encoding="utf-8")


def markdown_table(records: list[dict]) -> str:
    header = ["size", "method", "time limit", "wall", "model build", "solve", "peak RSS", "objective", "lower bound",
              "gap", "validator"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for record in records:
        if record.get("has_plan"):
            verdict = "no violation" if record["violations"] == 0 else f"{record['violations']} violation(s)"
        else:
            verdict = "no plan"
        objective = _number(record.get("objective"))
        if objective == "-" and record.get("log_objective") is not None:
            objective = f"({_number(record['log_objective'])} in HiGHS log)"
        bound = _number(record.get("bound"))
        if record["method"] != "ours" and bound != "-":
            bound += " (pairs only)"
        row = [record["size"], record["method"], f"{record['time_limit_s']:g} s", f"{record['wall_s']:.1f} s",
               _seconds(record.get("build_s")), _seconds(record.get("solve_s")), f"{record['peak_rss_mb']:,} MB",
               objective, bound, f"{gap(record):.2%}" if gap(record) is not None else "-",
               verdict if record.get("exit_code") == 0 else record["status"]]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


TABLE_NOTES = """\
- objective: the plan's integer pair costs / COST_SCALE, in the instance's objective unit, the same for every method.
- lower bound: ours is proven over every eligible pair, so it holds for every plan. A "(pairs only)" bound comes
  from CP-SAT or HiGHS over their candidate pairs and holds only for plans within those pairs.
- "in HiGHS log": OR-Tools 9.15 returns no solution when HiGHS stops on its time limit; the figure is the best
  plan HiGHS reports in its log, which cannot be checked by the validator.
- model build: candidate pairs plus the model; wall also includes reading and scoring the input."""


def _number(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else "-"


def _seconds(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "-"


def parse_sizes(text: str) -> list[Size]:
    sizes = []
    for item in text.split(","):
        accounts, sep, reps = item.strip().lower().partition("x")
        if not sep or not accounts.isdigit() or not reps.isdigit() or int(accounts) < 1 or int(reps) < 1:
            raise argparse.ArgumentTypeError(f"{item!r} is not ACCOUNTSxREPS with two positive whole numbers, "
                                             "such as 5000x50")
        sizes.append(Size(int(accounts), int(reps)))
    return sizes


def parse_time_limits(text: str) -> list[float]:
    try:
        limits = [float(item) for item in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of seconds") from None
    if any(not limit > 0 for limit in limits):
        raise argparse.ArgumentTypeError(f"{text!r} has a time limit that is not positive")
    return limits


def parse_methods(text: str) -> list[str]:
    methods = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [method for method in methods if method not in METHODS]
    if unknown or not methods:
        raise argparse.ArgumentTypeError(f"{text!r} names no method or an unknown one; choose from {', '.join(METHODS)}")
    return methods


def default_memory_limit_mb() -> int:
    """Half of the machine's physical memory, in MB."""
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 / 1024 / 1024)


def build_parser() -> argparse.ArgumentParser:
    parser = generate.OneLineParser(prog="python -m benchmarks.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES),
                        help=f"comma-separated ACCOUNTSxREPS (default {DEFAULT_SIZES})")
    parser.add_argument("--time-limits", type=parse_time_limits, default=parse_time_limits(DEFAULT_TIME_LIMITS),
                        help="solver time limit in seconds per size, or one for all sizes "
                             f"(default {DEFAULT_TIME_LIMITS})")
    parser.add_argument("--seed", type=generate.non_negative_int, default=1, help="generator seed (default 1)")
    parser.add_argument("--work", type=Path, default=Path("out/scale"),
                        help="folder for instances, plans, logs and results.json (default out/scale)")
    parser.add_argument("--only", type=parse_methods, default=list(METHODS),
                        help="comma-separated methods to run: ours, cpsat, highs (default all)")
    parser.add_argument("--grace", type=float, default=1800.0,
                        help="seconds a method may run past its time limit (reading, building) before it is "
                             "killed (default 1800)")
    parser.add_argument("--memory-limit-mb", type=int, default=default_memory_limit_mb(),
                        help="address-space limit of each method's process in MB, 0 for none "
                             "(default half of the machine's memory)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if len(args.time_limits) == 1:
        args.time_limits = args.time_limits * len(args.sizes)
    if len(args.time_limits) != len(args.sizes):
        parser.error(f"--time-limits gives {len(args.time_limits)} values for {len(args.sizes)} sizes; "
                     "give one per size or one for all")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    work = args.work.resolve()
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        parser.error(f"cannot create the work folder {work}: {error.strerror}")

    places = None
    records = []
    for size, time_limit in zip(args.sizes, args.time_limits, strict=True):
        if places is None and not (work / "instances" / f"{size.label}-seed{args.seed}" / "reps.csv").is_file():
            places = generate.load_places(generate.DEFAULT_DATA)
        accounts, reps, generation_s = prepare_instance(work, size, args.seed, places)
        started = time.monotonic()
        instance = load_instance(accounts, reps)
        logger.info("%s: instance for the validator built in %.1f s", size.label, time.monotonic() - started)
        run_dir = work / "runs" / f"{size.label}-seed{args.seed}-t{time_limit:g}"
        run_dir.mkdir(parents=True, exist_ok=True)

        for method in args.only:
            if method == "ours":
                record = run_ours(instance, accounts, reps, run_dir, time_limit, args.grace, args.memory_limit_mb)
            else:
                record = run_naive(method, instance, accounts, reps, run_dir, time_limit, args.grace,
                                   args.memory_limit_mb)
            record.update(size=size.label, seed=args.seed, method=method, time_limit_s=time_limit,
                          generation_s=generation_s, gap=gap(record))
            logger.info("%s %s: %s, wall %.1f s, peak RSS %d MB, objective %s, bound %s", size.label, method,
                        record["status"], record["wall_s"], record["peak_rss_mb"], record.get("objective"),
                        record.get("bound"))
            record["machine"] = machine()
            records.append(record)
            merge_results(work / "results.json", [record])

    print(markdown_table(records))
    print()
    print(TABLE_NOTES)
    return 0


def machine() -> dict:
    """Describe the machine and the code measured: versions, commit and uncommitted changes to optimizer/."""
    def git(*arguments: str) -> str:
        completed = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=False)
        return completed.stdout.strip() if completed.returncode == 0 else ""

    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "ortools": ortools.__version__, "numpy": np.__version__, "commit": git("rev-parse", "HEAD"),
            "optimizer_changes": git("status", "--porcelain", "--", "optimizer").splitlines()}


if __name__ == "__main__":
    sys.exit(main())
