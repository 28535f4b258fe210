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
from optimizer.interrupt import stoppable
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


@dataclass
class _Model:
    """A CP-SAT model over candidate pairs. Accounts with a single pair are constants, not variables."""

    model: cp_model.CpModel
    variables: list[cp_model.IntVar]  # one per free pair
    free: np.ndarray                  # positions (in `pairs`) of the pairs with a variable
    fixed: np.ndarray                 # positions of the pairs of accounts with one pair only


def build_model(instance: Instance, pairs: Pairs, reps: np.ndarray | None = None, moves_elsewhere: int = 0) -> _Model:
    """Build the model over `pairs`, which offer every account at least one rep.

    With `reps`, the model covers a part of the plan only: the accounts of `pairs` and the rules of
    `reps`, whose territories must hold no account outside `pairs`. The rest of the plan is fixed and
    keeps its rules; `moves_elsewhere` counts its moved accounts against max_moves.
    """
    model = cp_model.CpModel()
    n, m = instance.account_count, instance.rep_count
    per_account = np.bincount(pairs.account, minlength=n)
    if reps is None and n and per_account.min() == 0:
        # Every caller offers each account at least one pair; a model without one would drop the account.
        raise ValueError(f"account {int(np.argmin(per_account))} has no candidate pair")
    in_scope = np.ones(m, dtype=bool)
    if reps is not None:
        in_scope[:] = False
        in_scope[reps] = True
    single = per_account[pairs.account] == 1
    free, fixed = np.flatnonzero(~single), np.flatnonzero(single)
    x = [model.new_bool_var(f"x{i}") for i in range(free.size)]
    variable_of = np.full(len(pairs), -1, dtype=np.int64)
    variable_of[free] = np.arange(free.size)

    order = free[np.argsort(pairs.account[free], kind="stable")]
    starts = np.searchsorted(pairs.account[order], np.arange(n + 1))
    for a in np.flatnonzero(per_account > 1):
        model.add_exactly_one(x[i] for i in variable_of[order[starts[a]:starts[a + 1]]])

    rep_order = free[np.argsort(pairs.rep[free], kind="stable")]
    rep_starts = np.searchsorted(pairs.rep[rep_order], np.arange(m + 1))
    fixed_rep = pairs.rep[fixed]
    load = _scaled(instance.pair_load(pairs.account, pairs.rep))
    quantities = [(f"{metric} band", _scaled(band.values)[pairs.account], band.lower, band.upper)
                  for metric, band in instance.bands.items()]
    quantities.append(("capacity", load, np.zeros(m), instance.capacity))
    quantities.append(("max_accounts", np.full(len(pairs), QUANTITY_SCALE), np.zeros(m), instance.max_accounts))
    for name, values, lower, upper in quantities:
        # The single-pair accounts of each rep add a constant to its total.
        constant = np.bincount(fixed_rep, weights=values[fixed], minlength=m).round().astype(np.int64)
        for r in np.flatnonzero(in_scope):
            if name == "max_accounts" and instance.max_accounts[r] == NO_REP:
                continue
            low, high = _lower_limit(lower[r]) - int(constant[r]), _upper_limit(upper[r]) - int(constant[r])
            columns = rep_order[rep_starts[r]:rep_starts[r + 1]]
            if columns.size == 0:
                if low > 0 or high < 0:
                    model.add_bool_or([]).with_name(f"{name} {r} broken by fixed accounts")
                continue
            expression = cp_model.LinearExpr.weighted_sum([x[i] for i in variable_of[columns]],
                                                          values[columns].tolist())
            model.add_linear_constraint(expression, low, high).with_name(f"{name} {r}")

    if instance.max_account_share is not None:
        potential = _scaled(instance.potential)
        fixed_potential = np.bincount(fixed_rep, weights=potential[pairs.account[fixed]], minlength=m)
        for i in concentration_pairs(instance, pairs):
            r = pairs.rep[i]
            columns = rep_order[rep_starts[r]:rep_starts[r + 1]]
            constant = int(fixed_potential[r])
            territory = cp_model.LinearExpr.weighted_sum([x[j] for j in variable_of[columns]],
                                                         potential[pairs.account[columns]].tolist())
            need = math.ceil(potential[pairs.account[i]] / instance.max_account_share) - constant
            constraint = model.add(territory >= need)
            if variable_of[i] >= 0:
                constraint.only_enforce_if(x[variable_of[i]])

    if instance.max_moves is not None:
        owner = instance.current_owner[pairs.account]
        moved = (owner != NO_REP) & (owner != pairs.rep)
        model.add(sum(x[i] for i in variable_of[free[moved[free]]])
                  <= instance.max_moves - int(moved[fixed].sum()) - moves_elsewhere)

    # The fixed pairs' costs enter as the objective's constant, so CP-SAT reports whole-plan objectives.
    model.minimize(cp_model.LinearExpr.weighted_sum(x, pairs.cost[free].tolist()) + int(pairs.cost[fixed].sum()))
    return _Model(model, x, free, fixed)


def solve_cpsat(instance: Instance, pairs: Pairs, *, hint: np.ndarray | None, time_limit_s: float,
                deterministic_limit: float | None, seed: int, workers: int,
                progress: Progress | None = None, deterministic: bool = False, quiet: bool = False,
                reps: np.ndarray | None = None, moves_elsewhere: int = 0) -> CpSatResult:
    """Solve the CP-SAT model; `hint` is a rep index per account (NO_REP where unknown).

    `reps` and `moves_elsewhere` restrict the model to a part of the plan (see ``build_model``). The
    result then contains a rep for the accounts of `pairs` only, and their cost as objective.
    """
    started = time.monotonic()
    built = build_model(instance, pairs, reps, moves_elsewhere)
    model, x = built.model, built.variables
    if hint is not None:
        hinted = (hint[pairs.account[built.free]] == pairs.rep[built.free]).tolist()
        for variable, value in zip(x, hinted, strict=True):
            model.add_hint(variable, value)

    solver = cp_model.CpSolver()
    parameters = solver.parameters
    parameters.max_time_in_seconds = max(0.1, time_limit_s - (time.monotonic() - started))
    if deterministic_limit is not None:
        parameters.max_deterministic_time = deterministic_limit
    parameters.random_seed = seed
    parameters.num_workers = workers
    # Interleaved search makes the parallel search reproducible for a given seed and worker count.
    parameters.interleave_search = deterministic
    parameters.catch_sigint_signal = False     # Ctrl-C goes to optimizer.interrupt, which stops the search
    callback = _ProgressCallback(progress, started)
    with stoppable(solver.stop_search):
        status = solver.solve(model, callback)

    name = STATUS_NAMES.get(status, "unknown")
    rep_of = None
    objective = None
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        chosen = built.free[np.array([solver.boolean_value(v) for v in x], dtype=bool)]
        rep_of = np.full(instance.account_count, NO_REP, dtype=np.int64)
        rep_of[pairs.account[chosen]] = pairs.rep[chosen]
        rep_of[pairs.account[built.fixed]] = pairs.rep[built.fixed]
        objective = int(pairs.cost[chosen].sum() + pairs.cost[built.fixed].sum())
    elapsed = time.monotonic() - started
    log = logger.debug if quiet else logger.info
    bound = solver.best_objective_bound
    log("CP-SAT: %s, objective %s, bound %.1f, %d pairs (%d free), %.1f s (deterministic %.1f)", name, objective,
        bound, len(pairs), built.free.size, elapsed, solver.deterministic_time)
    return CpSatResult(name, rep_of, objective, bound if rep_of is not None else None,
                       elapsed, solver.deterministic_time)
