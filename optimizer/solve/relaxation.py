"""LP relaxation of the assignment model (GLOP through OR-Tools' linear solver wrapper).

Formulation, with x[a, r] in [0, 1] for each candidate pair and integer costs c[a, r]:

    minimise    sum c[a, r] x[a, r]
    subject to  sum_r x[a, r] = 1                                   every account placed once
                lower[k, r] <= sum_a value[k, a] x[a, r] <= upper[k, r]   balance band of metric k
                sum_a workload[a] x[a, r] <= capacity[r]
                sum_a x[a, r] <= max_accounts[r]
                sum_b potential[b] x[b, r] >= potential[a] / share x[a, r]   large accounts only
                sum over moved pairs x[a, r] <= max_moves

Its optimum over *all* eligible pairs is a lower bound on every plan's objective; column generation
(``price_out``) makes the optimum over the candidate pairs equal that full optimum.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np
from ortools.linear_solver import pywraplp

from optimizer.instance import NO_REP, Instance
from optimizer.solve.candidates import Duals, Pairs, price_out

logger = logging.getLogger(__name__)

MAX_PRICING_ROUNDS = 60


@dataclass
class Relaxation:
    status: str                 # "optimal", "infeasible" or "time_limit"
    bound: float | None         # LP optimum in integer cost units, valid for the full problem
    pairs: Pairs                # the columns of the final LP
    values: np.ndarray          # x per pair
    duals: Duals | None
    rounds: int
    time_s: float


def concentration_pairs(instance: Instance, pairs: Pairs) -> np.ndarray:
    """Return the pair positions whose account could exceed the share cap of a territory at its lower limit."""
    if instance.max_account_share is None:
        return np.zeros(0, dtype=np.int64)
    lower = instance.bands["potential"].lower if "potential" in instance.bands else np.zeros(instance.rep_count)
    threshold = instance.max_account_share * lower[pairs.rep]
    return np.flatnonzero(instance.potential[pairs.account] > threshold + 1e-9)


class _LinearModel:
    """The LP above, kept open so that priced columns can be added and the LP solved again."""

    def __init__(self, instance: Instance, band_override: dict[str, tuple[np.ndarray, np.ndarray]] | None = None):
        self.instance = instance
        self.solver = pywraplp.Solver.CreateSolver("GLOP")
        solver, inf = self.solver, self.solver.infinity()
        n, m = instance.account_count, instance.rep_count
        self.assign = [solver.Constraint(1.0, 1.0) for _ in range(n)]
        self.band = {}
        for metric, band in instance.bands.items():
            lower, upper = (band_override or {}).get(metric, (band.lower, band.upper))
            self.band[metric] = [solver.Constraint(float(lower[r]), float(upper[r])) for r in range(m)]
        self.capacity = [solver.Constraint(-inf, float(instance.capacity[r])) for r in range(m)]
        self.max_accounts = [solver.Constraint(-inf, float(instance.max_accounts[r]) if instance.max_accounts[r] != NO_REP
                                               else float(n)) for r in range(m)]
        self.concentration: dict[tuple[int, int], pywraplp.Constraint] = {}
        self.max_moves = solver.Constraint(-inf, float(instance.max_moves)) if instance.max_moves is not None else None
        self.variables: list[pywraplp.Variable] = []
        self.columns_of_rep: dict[int, list[tuple[pywraplp.Variable, int]]] = {}
        self.objective = solver.Objective()
        self.objective.SetMinimization()

    def add(self, pairs: Pairs) -> None:
        """Add columns; share rows are created for large accounts and filled with every column of their rep."""
        instance, solver = self.instance, self.solver
        new_columns = []
        for i in range(len(pairs)):
            a, r = int(pairs.account[i]), int(pairs.rep[i])
            x = solver.NumVar(0.0, 1.0, "")
            self.variables.append(x)
            self.columns_of_rep.setdefault(r, []).append((x, a))
            new_columns.append((x, a, r))
            self.objective.SetCoefficient(x, float(pairs.cost[i]))
            self.assign[a].SetCoefficient(x, 1.0)
            for metric, rows in self.band.items():
                rows[r].SetCoefficient(x, float(instance.bands[metric].values[a]))
            self.capacity[r].SetCoefficient(x, float(instance.workload[a]))
            self.max_accounts[r].SetCoefficient(x, 1.0)
            owner = instance.current_owner[a]
            if self.max_moves is not None and owner != NO_REP and owner != r:
                self.max_moves.SetCoefficient(x, 1.0)

        created = set()
        for i in concentration_pairs(instance, pairs):
            key = (int(pairs.account[i]), int(pairs.rep[i]))
            if key in self.concentration:
                continue
            row = solver.Constraint(0.0, solver.infinity())
            for x, a in self.columns_of_rep[key[1]]:
                row.SetCoefficient(x, self._share_coefficient(a, key[0]))
            self.concentration[key] = row
            created.add(key)
        for x, a, r in new_columns:
            for key, row in self.concentration.items():
                if key[1] == r and key not in created:
                    row.SetCoefficient(x, self._share_coefficient(a, key[0]))

    def _share_coefficient(self, account: int, large_account: int) -> float:
        """Coefficient in the row 'territory potential >= potential[large] / share when large is there'."""
        potential = float(self.instance.potential[account])
        if account == large_account:
            return potential - potential / self.instance.max_account_share
        return potential

    def solve(self, time_limit_s: float) -> int:
        self.solver.SetTimeLimit(max(1, int(time_limit_s * 1000)))
        return self.solver.Solve()

    def duals(self) -> Duals:
        def values(rows):
            return np.array([row.dual_value() for row in rows])

        return Duals(
            assignment=values(self.assign),
            band={metric: values(rows) for metric, rows in self.band.items()},
            capacity=values(self.capacity),
            max_accounts=values(self.max_accounts),
            concentration={key: row.dual_value() for key, row in self.concentration.items()},
            max_moves=self.max_moves.dual_value() if self.max_moves is not None else 0.0,
        )


def solve_relaxation(instance: Instance, pairs: Pairs, time_limit_s: float) -> Relaxation:
    """Solve the LP over `pairs`, adding priced columns until none has a negative reduced cost."""
    started = time.monotonic()
    model = _LinearModel(instance)
    in_model = np.zeros((instance.account_count, instance.rep_count), dtype=bool)

    def add(new: Pairs) -> None:
        model.add(new)
        in_model[new.account, new.rep] = True

    add(pairs)
    all_pairs = pairs
    rounds = 0
    while True:
        remaining = time_limit_s - (time.monotonic() - started)
        if remaining <= 0:
            return Relaxation("time_limit", None, all_pairs, np.zeros(len(all_pairs)), None, rounds,
                              time.monotonic() - started)
        status = model.solve(remaining)
        rounds += 1
        if status == pywraplp.Solver.INFEASIBLE:
            return Relaxation("infeasible", None, all_pairs, np.zeros(len(all_pairs)), None, rounds,
                              time.monotonic() - started)
        if status != pywraplp.Solver.OPTIMAL:
            return Relaxation("time_limit", None, all_pairs, np.zeros(len(all_pairs)), None, rounds,
                              time.monotonic() - started)
        duals = model.duals()
        new = price_out(instance, duals, in_model)
        logger.debug("LP round %d: objective %.1f, %d columns, %d priced in", rounds,
                     model.objective.Value(), len(all_pairs), len(new))
        if len(new) == 0 or rounds >= MAX_PRICING_ROUNDS:
            break
        add(new)
        all_pairs = all_pairs.extend(new)

    values = np.array([x.solution_value() for x in model.variables])
    bound = model.objective.Value() if len(new) == 0 else None
    elapsed = time.monotonic() - started
    logger.info("LP relaxation: bound %s (in tenths of the objective unit) after %d round(s), %d columns, "
                "%d fractional accounts, %.1f s", f"{bound:.1f}" if bound is not None else "not proven", rounds, len(all_pairs),
                int(np.unique(all_pairs.account[(values > 1e-6) & (values < 1 - 1e-6)]).size), elapsed)
    return Relaxation("optimal", bound, all_pairs, values, duals, rounds, elapsed)


def narrowest_band(instance: Instance, metric: str, time_limit_s: float = 60.0) -> float | None:
    """Return the smallest tolerance of `metric`'s band that the LP relaxation allows, keeping every other rule.

    Since the LP relaxes whole accounts, a plan needs at least this tolerance. Returns None when the
    other rules are infeasible on their own, or when the LP does not finish in time.
    """
    band = instance.bands[metric]
    free = {metric: (np.full(instance.rep_count, -np.inf), np.full(instance.rep_count, np.inf))}
    model = _LinearModel(instance, band_override=free)
    accounts = np.arange(instance.account_count)
    rows, cols = np.nonzero(instance.eligible_matrix(accounts))
    pairs = Pairs(rows.astype(np.int64), cols.astype(np.int64), np.zeros(len(rows)), np.zeros(len(rows), dtype=np.int64))
    model.add(pairs)

    solver = model.solver
    tolerance = solver.NumVar(0.0, solver.infinity(), "tolerance")
    for r, row in enumerate(model.band[metric]):
        # target - value <= t * target and value - target <= t * target, with value = sum of the row's terms.
        upper = solver.Constraint(-solver.infinity(), float(band.target[r]))
        lower = solver.Constraint(float(band.target[r]), solver.infinity())
        for x, a in model.columns_of_rep.get(r, []):
            upper.SetCoefficient(x, float(band.values[a]))
            lower.SetCoefficient(x, float(band.values[a]))
        upper.SetCoefficient(tolerance, -float(band.target[r]))
        lower.SetCoefficient(tolerance, float(band.target[r]))
    for x in model.variables:
        model.objective.SetCoefficient(x, 0.0)
    model.objective.SetCoefficient(tolerance, 1.0)
    status = model.solve(time_limit_s)
    if status != pywraplp.Solver.OPTIMAL:
        return None
    return float(tolerance.solution_value())


def fewest_moves(instance: Instance, time_limit_s: float = 60.0) -> float | None:
    """Return the fewest accounts that must change owner under every rule but max_moves, in the LP.

    Whole-account plans need at least this many moves. Returns None when the other rules are
    infeasible on their own, or when the LP does not finish in time.
    """
    free = replace(instance, max_moves=None)
    model = _LinearModel(free)
    rows, cols = np.nonzero(free.eligible_matrix(np.arange(free.account_count)))
    owner = free.current_owner[rows]
    moved = ((owner != NO_REP) & (owner != cols)).astype(np.int64)
    model.add(Pairs(rows.astype(np.int64), cols.astype(np.int64), np.zeros(len(rows)), moved))
    if model.solve(time_limit_s) != pywraplp.Solver.OPTIMAL:
        return None
    return float(model.objective.Value())
