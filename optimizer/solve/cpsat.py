"""CP-SAT model of the assignment over a set of candidate pairs.

Same rules as the LP relaxation, in integers: hours and currency in hundredths (rounded so that an
integer-feasible plan is feasible in real units), one Boolean per (account, rep) pair.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from optimizer.instance import NO_REP, QUANTITY_SCALE, Instance
from optimizer.solve.candidates import Pairs
from optimizer.solve.relaxation import concentration_pairs

logger = logging.getLogger(__name__)

Progress = Callable[[dict], None]
STATUS_NAMES = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible", cp_model.INFEASIBLE: "infeasible",
                cp_model.MODEL_INVALID: "model_invalid", cp_model.UNKNOWN: "unknown"}


def _lower_limit(value: float) -> int:
    return math.ceil(value * QUANTITY_SCALE - 1e-6)


def _upper_limit(value: float) -> int:
    return math.floor(value * QUANTITY_SCALE + 1e-6)


def _scaled(values: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(values, dtype=float) * QUANTITY_SCALE).astype(np.int64)


@dataclass
class CpSatResult:
    status: str
    rep_of: np.ndarray | None   # rep index per account, or None without a solution
    objective: int | None
    bound: float | None         # CP-SAT's bound over these pairs only
    time_s: float
    deterministic_time: float


class _ProgressCallback(cp_model.CpSolverSolutionCallback):
    def __init__(self, report: Progress | None, started: float):
        super().__init__()
        self.report, self.started, self.solutions = report, started, 0

    def on_solution_callback(self) -> None:
        self.solutions += 1
        if self.report is not None:
            self.report({"phase": "search", "elapsed_s": time.monotonic() - self.started,
                         "objective": self.objective_value, "bound": self.best_objective_bound,
                         "solutions": self.solutions})


def build_model(instance: Instance, pairs: Pairs) -> tuple[cp_model.CpModel, list[cp_model.IntVar]]:
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{i}") for i in range(len(pairs))]
    order = np.argsort(pairs.account, kind="stable")
    starts = np.searchsorted(pairs.account[order], np.arange(instance.account_count + 1))
    for a in range(instance.account_count):
        model.add_exactly_one(x[i] for i in order[starts[a]:starts[a + 1]])

    by_rep = [np.flatnonzero(pairs.rep == r) for r in range(instance.rep_count)]
    workload = _scaled(instance.workload)
    for r, columns in enumerate(by_rep):
        accounts = pairs.account[columns]
        terms = [x[i] for i in columns]
        for metric, band in instance.bands.items():
            values = _scaled(band.values[accounts])
            model.add(sum(int(v) * t for v, t in zip(values, terms, strict=True))
                      >= _lower_limit(band.lower[r])).with_name(f"{metric} lower {r}")
            model.add(sum(int(v) * t for v, t in zip(values, terms, strict=True))
                      <= _upper_limit(band.upper[r])).with_name(f"{metric} upper {r}")
        model.add(sum(int(w) * t for w, t in zip(workload[accounts], terms, strict=True))
                  <= _upper_limit(instance.capacity[r]))
        if instance.max_accounts[r] != NO_REP:
            model.add(sum(terms) <= int(instance.max_accounts[r]))

    if instance.max_account_share is not None:
        potential = _scaled(instance.potential)
        for i in concentration_pairs(instance, pairs):
            columns = by_rep[pairs.rep[i]]
            territory = sum(int(potential[pairs.account[j]]) * x[j] for j in columns)
            need = math.ceil(potential[pairs.account[i]] / instance.max_account_share)
            model.add(territory >= need).only_enforce_if(x[i])

    if instance.max_moves is not None:
        owner = instance.current_owner[pairs.account]
        moved = np.flatnonzero((owner != NO_REP) & (owner != pairs.rep))
        model.add(sum(x[i] for i in moved) <= instance.max_moves)

    model.minimize(sum(int(c) * xi for c, xi in zip(pairs.cost, x, strict=True)))
    return model, x


def solve_cpsat(instance: Instance, pairs: Pairs, *, hint: np.ndarray | None, time_limit_s: float,
                deterministic_limit: float | None, seed: int, workers: int,
                progress: Progress | None = None, deterministic: bool = False, quiet: bool = False) -> CpSatResult:
    """Solve the CP-SAT model; `hint` is a rep index per account (NO_REP where unknown)."""
    started = time.monotonic()
    model, x = build_model(instance, pairs)
    if hint is not None:
        for i in range(len(pairs)):
            model.add_hint(x[i], bool(hint[pairs.account[i]] == pairs.rep[i]))

    solver = cp_model.CpSolver()
    parameters = solver.parameters
    parameters.max_time_in_seconds = max(0.1, time_limit_s - (time.monotonic() - started))
    if deterministic_limit is not None:
        parameters.max_deterministic_time = deterministic_limit
    parameters.random_seed = seed
    parameters.num_workers = workers
    # Interleaved search makes the parallel search reproducible for a given seed and worker count.
    parameters.interleave_search = deterministic
    callback = _ProgressCallback(progress, started)
    status = solver.solve(model, callback)

    name = STATUS_NAMES.get(status, "unknown")
    rep_of = None
    objective = None
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        chosen = np.array([solver.boolean_value(v) for v in x], dtype=bool)
        rep_of = np.full(instance.account_count, NO_REP, dtype=np.int64)
        rep_of[pairs.account[chosen]] = pairs.rep[chosen]
        objective = int(round(solver.objective_value))
    elapsed = time.monotonic() - started
    log = logger.debug if quiet else logger.info
    log("CP-SAT: %s, objective %s, bound %.1f, %d columns, %.1f s (deterministic %.1f)", name, objective,
                solver.best_objective_bound, len(pairs), elapsed, solver.deterministic_time)
    return CpSatResult(name, rep_of, objective, solver.best_objective_bound if rep_of is not None else None,
                       elapsed, solver.deterministic_time)
