"""Solve a planning instance with one full MIP model, as a baseline for the product's solver.

    python -m benchmarks.naive {cpsat,highs} --accounts FILE --reps FILE --time-limit SECONDS
        --result FILE.json --plan FILE.npy [--candidates 8] [--workers 2]

The instance is built as `territory plan` builds it (default Scenario, optimizer.pipeline and
optimizer.instance), over the pairs of optimizer.solve.candidates.nearest_candidates: each account's
nearest eligible reps, its current owner, and each rep's nearest eligible accounts. Both models keep
every hard rule of that instance: each account once, the balance bands, capacity, max_accounts, locks
and industries (through the eligible pairs), the max account share and max_moves when the scenario
sets them. The objective is the sum of the pairs' integer costs, reported divided by COST_SCALE, in
the instance's objective unit.

- cpsat: optimizer.solve.cpsat.build_model, solved once with the given workers, no hint, no work limit.
- highs: the same rows in real units, with the integer limits of build_model (hundredths, lower
  limits rounded up and upper limits rounded down), built from one sparse matrix and solved by HiGHS
  through OR-Tools' model_builder.

The child process writes a JSON result (status, objective, bound, times, peak RSS after building) and
the plan, a rep index per account, as .npy. benchmarks.scale runs it and checks the plan with the
validator. Times: read (load, score, build the instance), candidates, build (the model), solve.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import re
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse
from ortools.linear_solver.python import model_builder_helper
from ortools.sat.python import cp_model

from optimizer.inputs import load_inputs
from optimizer.instance import COST_SCALE, NO_REP, QUANTITY_SCALE, Instance, build_instance
from optimizer.pipeline import prepare_accounts
from optimizer.scenario import Scenario
from optimizer.solve.candidates import Pairs, nearest_candidates
from optimizer.solve.cpsat import STATUS_NAMES, build_model
from optimizer.solve.relaxation import concentration_pairs

logger = logging.getLogger(__name__)

HIGHS_WITH_PLAN = {model_builder_helper.SolveStatus.OPTIMAL: "optimal",
                   model_builder_helper.SolveStatus.FEASIBLE: "feasible"}
HIGHS_REPORT_FIELDS = {"Status": "status", "Primal bound": "primal_bound", "Dual bound": "dual_bound", "Gap": "gap",
                       "Nodes": "nodes"}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load_instance(accounts_path: Path, reps_path: Path) -> Instance:
    """Build the instance exactly as the product does with the default scenario."""
    inputs = load_inputs(accounts_path, reps_path)
    accounts = prepare_accounts(inputs, Scenario())
    return build_instance(accounts, inputs.reps, Scenario())


def solve_with_cpsat(instance: Instance, pairs: Pairs, time_limit_s: float, workers: int) -> dict:
    started = time.monotonic()
    built = build_model(instance, pairs)
    build_s = time.monotonic() - started
    rss_after_build = peak_rss_mb()

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    started = time.monotonic()
    status = solver.solve(built.model)
    solve_s = time.monotonic() - started

    result = {"status": STATUS_NAMES.get(status, "unknown"), "build_s": build_s, "solve_s": solve_s,
              "rss_after_build_mb": rss_after_build, "plan": None, "free_pairs": int(built.free.size)}
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # build_model creates the pair variables first, so variable k of the response is variables[k].
        variables = built.variables
        if variables and (variables[0].index != 0 or variables[-1].index != len(variables) - 1):
            raise RuntimeError("the CP-SAT model's pair variables are not its first variables")
        values = np.asarray(solver.response_proto.solution, dtype=np.int64)[:len(variables)]
        chosen = np.zeros(len(pairs), dtype=bool)
        chosen[built.free[values == 1]] = True
        chosen[built.fixed] = True
        result["plan"] = plan_from_chosen(instance, pairs, chosen)
        # The objective includes the fixed pairs' costs as a constant, so it is the whole plan's.
        result["objective"] = solver.objective_value / COST_SCALE
    if status != cp_model.INFEASIBLE:
        # CP-SAT's bound holds for these pairs only, not for plans that use other pairs.
        result["bound"] = solver.best_objective_bound / COST_SCALE
    return result


def highs_matrix(instance: Instance, pairs: Pairs) -> tuple[scipy.sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Return the constraint matrix and row bounds of the assignment MIP over `pairs`, in real units.

    Limits are those of optimizer.solve.cpsat.build_model: values and limits in hundredths, lower limits
    rounded up and upper limits rounded down, then divided by QUANTITY_SCALE again. Rows of large
    quantities (potential in USD) are divided by a power of ten, which keeps their feasible set, because
    HiGHS warns that row bounds above about 1e6 hurt its numerics.
    """
    n, m = instance.account_count, instance.rep_count
    column = np.arange(len(pairs))
    rows, cols, values = [pairs.account], [column], [np.ones(len(pairs))]
    lower, upper = [np.ones(n)], [np.ones(n)]
    next_row = n

    def scaled(values: np.ndarray) -> np.ndarray:
        return np.rint(np.asarray(values, dtype=float) * QUANTITY_SCALE) / QUANTITY_SCALE

    def lower_limit(limit: np.ndarray) -> np.ndarray:
        return np.ceil(limit * QUANTITY_SCALE - 1e-6) / QUANTITY_SCALE

    def upper_limit(limit: np.ndarray) -> np.ndarray:
        return np.floor(limit * QUANTITY_SCALE + 1e-6) / QUANTITY_SCALE

    for band in instance.bands.values():
        unit = row_unit(band.values)
        rows.append(next_row + pairs.rep)
        cols.append(column)
        values.append(scaled(band.values[pairs.account]) / unit)
        lower.append(lower_limit(band.lower) / unit)
        upper.append(upper_limit(band.upper) / unit)
        next_row += m

    rows.append(next_row + pairs.rep)
    cols.append(column)
    values.append(scaled(instance.pair_load(pairs.account, pairs.rep)))
    lower.append(np.full(m, -np.inf))
    upper.append(upper_limit(instance.capacity))
    next_row += m

    limited = np.flatnonzero(instance.max_accounts != NO_REP)
    if limited.size:
        row_of_rep = np.full(m, -1)
        row_of_rep[limited] = next_row + np.arange(limited.size)
        keep = row_of_rep[pairs.rep] >= 0
        rows.append(row_of_rep[pairs.rep[keep]])
        cols.append(column[keep])
        values.append(np.ones(int(keep.sum())))
        lower.append(np.full(limited.size, -np.inf))
        upper.append(instance.max_accounts[limited].astype(float))
        next_row += limited.size

    if instance.max_account_share is not None:
        # Territory potential >= potential of the account / share, when the account is there.
        potential = np.rint(instance.potential * QUANTITY_SCALE)
        unit = row_unit(instance.potential) * QUANTITY_SCALE
        for i in concentration_pairs(instance, pairs):
            territory = np.flatnonzero(pairs.rep == pairs.rep[i])
            coefficient = potential[pairs.account[territory]] / unit
            need = math.ceil(potential[pairs.account[i]] / instance.max_account_share) / unit
            coefficient[territory == i] -= need
            rows.append(np.full(territory.size, next_row))
            cols.append(territory)
            values.append(coefficient)
            lower.append(np.zeros(1))
            upper.append(np.full(1, np.inf))
            next_row += 1

    if instance.max_moves is not None:
        owner = instance.current_owner[pairs.account]
        moved = np.flatnonzero((owner != NO_REP) & (owner != pairs.rep))
        rows.append(np.full(moved.size, next_row))
        cols.append(moved)
        values.append(np.ones(moved.size))
        lower.append(np.full(1, -np.inf))
        upper.append(np.full(1, float(instance.max_moves)))
        next_row += 1

    matrix = scipy.sparse.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                                     shape=(next_row, len(pairs)))
    return matrix, np.concatenate(lower), np.concatenate(upper)


def row_unit(values: np.ndarray) -> float:
    """Return the power of ten that brings the largest of `values` below 1,000 (1 for smaller values)."""
    largest = float(np.max(np.abs(values), initial=1.0))
    return 10.0 ** max(0, math.floor(math.log10(largest)) - 2)


def parse_highs_report(log: str) -> dict:
    """Return the fields of HiGHS's final "Solving report" (status, primal and dual bound, gap, nodes)."""
    report = {}
    section = log[log.rfind("Solving report"):] if "Solving report" in log else ""
    for line in section.splitlines():
        match = re.match(r"\s+(Status|Primal bound|Dual bound|Gap|Nodes)\s{2,}(.*\S)", line)
        if match and HIGHS_REPORT_FIELDS[match.group(1)] not in report:
            report[HIGHS_REPORT_FIELDS[match.group(1)]] = match.group(2)
    return report


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def solve_with_highs(instance: Instance, pairs: Pairs, time_limit_s: float, log_path: Path) -> dict:
    started = time.monotonic()
    matrix, row_lower, row_upper = highs_matrix(instance, pairs)
    model = model_builder_helper.ModelBuilderHelper()
    model.fill_model_from_sparse_data(np.zeros(len(pairs)), np.ones(len(pairs)), pairs.cost.astype(float),
                                      row_lower, row_upper, matrix)
    for i in range(len(pairs)):
        model.set_var_integrality(i, True)
    build_s = time.monotonic() - started
    rss_after_build = peak_rss_mb()
    logger.info("HiGHS model: %d columns, %d rows, %d nonzeros, built in %.1f s", matrix.shape[1], matrix.shape[0],
                matrix.nnz, build_s)
    del matrix

    solver = model_builder_helper.ModelSolverHelper("highs")
    if not solver.solver_is_supported():
        raise RuntimeError("this OR-Tools build has no HiGHS solver")
    solver.set_time_limit_in_seconds(time_limit_s)
    # NOTE: set_log_callback of OR-Tools 9.15 rejects Python callables (its pybind11 module lacks the
    # std::function conversion), so the log HiGHS writes to standard output is sent to a file instead.
    solver.enable_output(True)
    started = time.monotonic()
    with stdout_to_file(log_path):
        solver.solve(model)
    solve_s = time.monotonic() - started

    report = parse_highs_report(log_path.read_text(encoding="utf-8", errors="replace"))
    status = solver.status()
    # NOTE: OR-Tools 9.15 returns no solution when HiGHS stops on its time limit, even when the log shows
    # that HiGHS found a plan. Only a run that ends optimal gives a plan here.
    stopped = f"HiGHS: {report['status']}" if "status" in report else solver.status_string()
    result = {"status": HIGHS_WITH_PLAN.get(status, f"no plan returned ({stopped})"),
              "build_s": build_s, "solve_s": solve_s, "rss_after_build_mb": rss_after_build, "plan": None,
              "highs_report": report}
    # HiGHS's own dual bound, in integer cost units. OR-Tools 9.15 reports the objective as the bound.
    dual_bound = _number(report.get("dual_bound"))
    result["bound"] = dual_bound / COST_SCALE if dual_bound is not None else None
    primal_bound = _number(report.get("primal_bound"))
    result["log_objective"] = primal_bound / COST_SCALE if primal_bound is not None else None
    if solver.has_solution() and status in HIGHS_WITH_PLAN:
        chosen = np.asarray(solver.variable_values()) > 0.5
        result["plan"] = plan_from_chosen(instance, pairs, chosen)
        result["objective"] = solver.objective_value() / COST_SCALE
    return result


@contextlib.contextmanager
def stdout_to_file(path: Path):
    """Send what the process writes to file descriptor 1, C++ libraries included, to `path`."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with path.open("w", encoding="utf-8") as stream:
            os.dup2(stream.fileno(), 1)
            try:
                yield
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
    finally:
        os.close(saved)


def plan_from_chosen(instance: Instance, pairs: Pairs, chosen: np.ndarray) -> np.ndarray:
    """Return the rep index per account of the chosen pairs (NO_REP where no pair is chosen)."""
    plan = np.full(instance.account_count, NO_REP, dtype=np.int64)
    plan[pairs.account[chosen]] = pairs.rep[chosen]
    return plan


def solve(method: str, instance: Instance, pairs: Pairs, time_limit_s: float, workers: int, highs_log: Path) -> dict:
    """Solve the full model with `method` ("cpsat" or "highs") and return the result, with the plan under "plan"."""
    uncovered = np.flatnonzero(np.bincount(pairs.account, minlength=instance.account_count) == 0)
    if uncovered.size:
        # build_model leaves an account without pairs out of the model instead of making the model infeasible.
        return {"status": f"infeasible: {uncovered.size} account(s) have no eligible rep", "plan": None,
                "build_s": 0.0, "solve_s": 0.0, "rss_after_build_mb": peak_rss_mb(), "bound": None}
    if method == "cpsat":
        return solve_with_cpsat(instance, pairs, time_limit_s, workers)
    result = solve_with_highs(instance, pairs, time_limit_s, highs_log)
    result["highs_log"] = str(highs_log)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.naive", description=__doc__.splitlines()[0])
    parser.add_argument("method", choices=["cpsat", "highs"], help="solver of the full model")
    parser.add_argument("--accounts", required=True, type=Path, help="accounts file")
    parser.add_argument("--reps", required=True, type=Path, help="reps file")
    parser.add_argument("--time-limit", required=True, type=float, help="solver time limit in seconds")
    parser.add_argument("--result", required=True, type=Path, help="JSON file for the result")
    parser.add_argument("--plan", required=True, type=Path, help=".npy file for the plan (rep index per account)")
    parser.add_argument("--candidates", type=int, default=8, help="nearest eligible reps per account (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="CP-SAT search workers (default 2)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    started = time.monotonic()
    instance = load_instance(args.accounts, args.reps)
    read_s = time.monotonic() - started
    started = time.monotonic()
    pairs = nearest_candidates(instance, args.candidates)
    candidates_s = time.monotonic() - started
    logger.info("%s: %d accounts, %d reps, %d pairs", args.method, instance.account_count, instance.rep_count,
                len(pairs))

    result = solve(args.method, instance, pairs, args.time_limit, args.workers,
                   args.result.with_name(args.result.stem + ".highs.log"))

    plan = result.pop("plan")
    if plan is not None:
        np.save(args.plan, plan)
    result.update(method=args.method, has_plan=plan is not None, read_s=read_s, candidates_s=candidates_s,
                  pairs=len(pairs), accounts=instance.account_count, reps=instance.rep_count,
                  time_limit_s=args.time_limit, workers=args.workers if args.method == "cpsat" else None,
                  peak_rss_mb=peak_rss_mb(), objective_unit=instance.objective_unit)
    args.result.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    logger.info("%s: %s, objective %s, bound %s", args.method, result["status"], result.get("objective"),
                result.get("bound"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
