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
(``price``) brings the optimum over the candidate pairs to that full optimum, and every round's
duals give a Lagrangian lower bound on the way. The rounds add their columns to one GLOP model, so
each round starts from the previous round's basis.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from google.protobuf.message import DecodeError
from ortools.linear_solver import linear_solver_pb2, pywraplp
from ortools.linear_solver.python import model_builder_helper
from scipy import sparse

from optimizer.errors import SolverError
from optimizer.instance import NO_REP, Instance
from optimizer.interrupt import stoppable
from optimizer.solve.candidates import Duals, Pairs, price

logger = logging.getLogger(__name__)

MAX_PRICING_ROUNDS = 60
# GLOP settings. The dual simplex solved the Inc. 5000 assignment LP from scratch in 0.5 s, the primal
# in 1.7 s. On the narrowest-band LP (a free tolerance column) the primal took 7 s, and the dual did
# not finish in 100 s.
DUAL_SIMPLEX = "use_dual_simplex: true"
PRIMAL_SIMPLEX = "use_dual_simplex: false"
# The pricing rounds keep one GLOP model and add columns to it, so each round starts from the last
# basis. Presolve is off so that GLOP can reuse that basis. On 100,000 accounts x 300 reps the first
# round took 23 s this way (30 s with presolve), and the three later ones 9 to 13 s each instead of 32 s.
WARM_DUAL_SIMPLEX = "use_dual_simplex: true use_preprocessing: false"
# Pricing stops once the Lagrangian bound is this close (relative) to the LP over the pairs so far. On
# 20,000 accounts x 100 reps, 1e-4 saved one of five rounds (5 s) and left the bound 0.0015 % lower.
BOUND_TOLERANCE = 1e-4
# Total scaled violation below which the first phase counts the limits as met.
PHASE_ONE_TOLERANCE = 1e-9


@dataclass
class Relaxation:
    status: str                 # "optimal", "infeasible" or "time_limit"
    bound: float | None         # lower bound on every plan in integer cost units (the LP optimum once converged)
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
    """The LP above as one sparse matrix. ``solve`` solves it from scratch by GLOP's dual simplex. The
    pricing rounds use ``_WarmSolver`` instead, which keeps GLOP's basis from round to round.

    Columns are kept as arrays so that priced columns can be appended and the LP solved again. The
    matrix is built with numpy and handed to the solver in one call, so building stays fast with
    millions of columns. Extra columns and rows (``extra_columns``, ``extra_rows``) let the callers
    below add a tolerance variable and its rows.
    """

    def __init__(self, instance: Instance, band_override: dict[str, tuple[np.ndarray, np.ndarray]] | None = None):
        self.instance = instance
        n, m = instance.account_count, instance.rep_count
        self.band_limits = {metric: (band_override or {}).get(metric, (band.lower, band.upper))
                            for metric, band in instance.bands.items()}
        # Row layout: accounts, then per metric one row per rep, capacity, max_accounts, max_moves,
        # then one share row per (large account, rep) pair met so far.
        self.band_offset = {}
        offset = n
        for metric in instance.bands:
            self.band_offset[metric] = offset
            offset += m
        self.capacity_offset = offset
        self.max_accounts_offset = offset + m
        self.max_moves_row = offset + 2 * m
        self.fixed_rows = self.max_moves_row + 1
        self.concentration: list[tuple[int, int]] = []
        self.pairs = Pairs(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0),
                           np.zeros(0, dtype=np.int64))
        self.objective_value = 0.0
        self.values = np.zeros(0)
        self.row_duals = np.zeros(0)

    def add(self, pairs: Pairs) -> None:
        """Append columns; share rows are created for large accounts the new columns bring in."""
        self.pairs = self.pairs.extend(pairs)
        known = set(self.concentration)
        for i in concentration_pairs(self.instance, pairs):
            key = (int(pairs.account[i]), int(pairs.rep[i]))
            if key not in known:
                known.add(key)
                self.concentration.append(key)

    def matrix(self) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
        """Return the constraint matrix (rows x columns) with its row lower and upper limits."""
        instance, pairs = self.instance, self.pairs
        n, m, count = instance.account_count, instance.rep_count, len(pairs)
        column = np.arange(count)
        rows, cols, coefficients = [pairs.account], [column], [np.ones(count)]
        lower, upper = [np.ones(n)], [np.ones(n)]
        for metric, band in instance.bands.items():
            rows.append(self.band_offset[metric] + pairs.rep)
            cols.append(column)
            coefficients.append(band.values[pairs.account].astype(float))
            low, high = self.band_limits[metric]
            lower.append(np.asarray(low, dtype=float))
            upper.append(np.asarray(high, dtype=float))
        rows += [self.capacity_offset + pairs.rep, self.max_accounts_offset + pairs.rep]
        cols += [column, column]
        coefficients += [instance.pair_load(pairs.account, pairs.rep).astype(float), np.ones(count)]
        lower += [np.full(m, -np.inf), np.full(m, -np.inf)]
        upper += [instance.capacity.astype(float),
                  np.where(instance.max_accounts == NO_REP, float(n), instance.max_accounts).astype(float)]
        owner = instance.current_owner[pairs.account]
        moved = np.flatnonzero((owner != NO_REP) & (owner != pairs.rep))
        rows.append(np.full(moved.size, self.max_moves_row))
        cols.append(moved)
        coefficients.append(np.ones(moved.size))
        lower.append(np.array([-np.inf]))
        upper.append(np.array([float(instance.max_moves) if instance.max_moves is not None else np.inf]))

        if self.concentration:
            share = instance.max_account_share
            by_rep = np.argsort(pairs.rep, kind="stable")
            starts = np.searchsorted(pairs.rep[by_rep], np.arange(m + 1))
            for k, (large, r) in enumerate(self.concentration):
                # territory potential - potential[large] / share * x[large, r] >= 0
                members = by_rep[starts[r]:starts[r + 1]]
                values = instance.potential[pairs.account[members]].astype(float)
                values = np.where(pairs.account[members] == large, values - instance.potential[large] / share, values)
                rows.append(np.full(members.size, self.fixed_rows + k))
                cols.append(members)
                coefficients.append(values)
            lower.append(np.zeros(len(self.concentration)))
            upper.append(np.full(len(self.concentration), np.inf))

        shape = (self.fixed_rows + len(self.concentration), count)
        matrix = sparse.csr_matrix((np.concatenate(coefficients), (np.concatenate(rows), np.concatenate(cols))),
                                   shape=shape)
        return matrix, np.concatenate(lower), np.concatenate(upper)

    def solve(self, time_limit_s: float, extra_columns: sparse.spmatrix | None = None,
              extra_rows: tuple[sparse.spmatrix, np.ndarray, np.ndarray] | None = None,
              objective: np.ndarray | None = None, parameters: str = DUAL_SIMPLEX, elastic: bool = False) -> str:
        """Solve the LP; return "optimal", "infeasible" or "time_limit".

        `extra_columns` (rows x k) are non-negative, unbounded variables appended after the pairs;
        `extra_rows` (matrix over all columns, lower, upper) are appended below. `objective` replaces
        the pair costs (one entry per column, extra columns included).

        With `elastic`, every limit row but the accounts' may be violated, pairs cost nothing, and the LP
        minimises the total violation, each row's divided by its limit. This is the relaxation's first
        phase. It is always feasible, and its duals tell which pairs would reduce the violation.
        """
        matrix, lower, upper = self.matrix()
        if elastic:
            n, rows = self.instance.account_count, matrix.shape[0]
            size = np.maximum(1.0, np.maximum(np.abs(np.where(np.isfinite(lower), lower, 0.0)),
                                              np.abs(np.where(np.isfinite(upper), upper, 0.0))))
            below = np.flatnonzero(np.isfinite(lower[n:])) + n    # may need raising
            above = np.flatnonzero(np.isfinite(upper[n:])) + n    # may need lowering
            k = below.size + above.size
            extra_columns = sparse.csr_matrix(
                (np.concatenate([np.ones(below.size), -np.ones(above.size)]),
                 (np.concatenate([below, above]), np.arange(k))), shape=(rows, k))
            objective = np.concatenate([np.zeros(matrix.shape[1]), 1.0 / size[below], 1.0 / size[above]])
        count = matrix.shape[1]
        # x <= 1 follows from the account rows, but stating it lets the dual simplex flip bounds: without
        # it each round on 20,000 accounts took 40 s instead of 5 s.
        column_lower, column_upper = np.zeros(count), np.ones(count)
        if extra_columns is not None:
            matrix = sparse.hstack([matrix, extra_columns], format="csr")
            k = extra_columns.shape[1]
            column_lower = np.concatenate([column_lower, np.zeros(k)])
            column_upper = np.concatenate([column_upper, np.full(k, np.inf)])
        if extra_rows is not None:
            rows, row_lower, row_upper = extra_rows
            matrix = sparse.vstack([matrix, rows], format="csr")
            lower, upper = np.concatenate([lower, row_lower]), np.concatenate([upper, row_upper])
        if not elastic and extra_rows is None:
            self.row_lower, self.row_upper = lower, upper
        cost = self.pairs.cost.astype(float) if objective is None else objective
        if cost.size < matrix.shape[1]:
            cost = np.concatenate([cost, np.zeros(matrix.shape[1] - cost.size)])

        builder = model_builder_helper.ModelBuilderHelper()
        builder.fill_model_from_sparse_data(column_lower, column_upper, cost, lower, upper, matrix.tocsr())
        solver = model_builder_helper.ModelSolverHelper("glop")
        solver.set_solver_specific_parameters(parameters)
        solver.set_time_limit_in_seconds(max(0.5, time_limit_s))
        with stoppable(solver.interrupt_solve):
            solver.solve(builder)
        status = solver.status()
        if status == model_builder_helper.SolveStatus.OPTIMAL:
            self.objective_value = solver.objective_value()
            self.all_values = solver.variable_values()
            self.values = self.all_values[:len(self.pairs)]
            self.row_duals = solver.dual_values()
            return "optimal"
        if status == model_builder_helper.SolveStatus.INFEASIBLE:
            return "infeasible"
        if status not in (model_builder_helper.SolveStatus.NOT_SOLVED,
                          model_builder_helper.SolveStatus.ABNORMAL,
                          model_builder_helper.SolveStatus.CANCELLED_BY_USER):
            logger.info("GLOP ended with status %s", status)
        return "time_limit"

    def row_term(self) -> float:
        """Return the sum over rows of dual x the row limit it presses on (lower limit for a positive dual).

        Duals whose limit is infinite (solver noise) count as zero, which keeps the bound valid.
        """
        y = self.row_duals
        limit = np.where(y > 0, self.row_lower, self.row_upper)
        return float(np.sum(np.where(np.isfinite(limit), y * np.where(np.isfinite(limit), limit, 0.0), 0.0)))

    def duals(self) -> Duals:
        y, n, m = self.row_duals, self.instance.account_count, self.instance.rep_count
        return Duals(
            assignment=y[:n].copy(),
            band={metric: y[offset:offset + m].copy() for metric, offset in self.band_offset.items()},
            capacity=y[self.capacity_offset:self.capacity_offset + m].copy(),
            max_accounts=y[self.max_accounts_offset:self.max_accounts_offset + m].copy(),
            concentration={key: float(y[self.fixed_rows + k]) for k, key in enumerate(self.concentration)},
            max_moves=float(y[self.max_moves_row]),
        )


class _WarmSolver:
    """One GLOP model of `_LinearModel` that grows with it, so every solve starts from the previous basis.

    The first solve loads the whole matrix through a model file (one call instead of a Python call per
    coefficient). Later solves append the rows and columns the model gained since: the rows and their
    limits never change once made, so only new ones need adding.
    """

    def __init__(self, model: _LinearModel):
        self.model = model
        self.solver: pywraplp.Solver | None = None
        self.rows = 0
        self.columns = 0
        self.free_rows = np.zeros(0, dtype=np.int64)
        self.from_scratch = False     # set when the warm model cannot be used; every solve is then from scratch

    def solve(self, time_limit_s: float) -> str:
        """Solve the LP of the model's columns so far; return "optimal", "infeasible" or "time_limit".

        A warm-started solve that GLOP ends as infeasible or abnormal is repeated from scratch, so the
        warm model never decides more than a from-scratch solve would.
        """
        model = self.model
        if self.from_scratch:
            return model.solve(time_limit_s)
        started = time.monotonic()
        matrix, lower, upper = model.matrix()
        cost = model.pairs.cost.astype(float)
        first = self.solver is None
        try:
            if first:
                self._load(matrix, lower, upper, cost)
            else:
                self._extend(matrix.tocsc(), lower, upper, cost)
        except OSError as error:
            logger.warning("could not write the LP's model file in the temporary folder (%s); the pricing "
                           "rounds solve from scratch instead, which is slower", error)
            self.from_scratch = True
            return model.solve(time_limit_s - (time.monotonic() - started))
        solver = self.solver
        solver.SetSolverSpecificParametersAsString(WARM_DUAL_SIMPLEX)
        solver.SetTimeLimit(max(500, int((time_limit_s - (time.monotonic() - started)) * 1000)))
        with stoppable(solver.InterruptSolve):
            status = solver.Solve()
        if status == pywraplp.Solver.OPTIMAL:
            response = linear_solver_pb2.MPSolutionResponse()
            solver.FillSolutionResponseProto(response)
            model.row_lower, model.row_upper = lower, upper
            model.objective_value = response.objective_value
            model.all_values = model.values = np.asarray(response.variable_value, dtype=float)
            model.row_duals = np.asarray(response.dual_value, dtype=float)
            return "optimal"
        if status == pywraplp.Solver.INFEASIBLE and first:
            return "infeasible"
        if status in (pywraplp.Solver.INFEASIBLE, pywraplp.Solver.ABNORMAL):
            logger.info("warm-started GLOP ended %s; solving the LP again from scratch",
                        "infeasible" if status == pywraplp.Solver.INFEASIBLE else "abnormally")
            return model.solve(time_limit_s - (time.monotonic() - started))
        return "time_limit"

    def _load(self, matrix: sparse.csr_matrix, lower: np.ndarray, upper: np.ndarray, cost: np.ndarray) -> None:
        count = matrix.shape[1]
        # LoadModelFromProto drops rows without limits (max_moves unset, say), which would shift every
        # later row. Such a row gets an upper limit above its largest activity instead; _extend raises it.
        self.free_rows = np.flatnonzero(~np.isfinite(lower) & ~np.isfinite(upper))
        upper = upper.copy()
        upper[self.free_rows] = _largest_activity(matrix, self.free_rows)
        builder = model_builder_helper.ModelBuilderHelper()
        builder.fill_model_from_sparse_data(np.zeros(count), np.ones(count), cost, lower, upper, matrix)
        proto = linear_solver_pb2.MPModelProto()
        with tempfile.TemporaryDirectory(prefix="territory-lp-") as folder:
            path = Path(folder) / "model.pb"
            if not builder.write_model_to_proto_file(str(path)):
                raise OSError(f"OR-Tools could not write {path}")
            try:
                proto.ParseFromString(path.read_bytes())
            except DecodeError as error:
                # A full disk leaves a cut-off file, which reads as a broken model.
                raise OSError(f"{path} is incomplete ({error})") from None
        solver = pywraplp.Solver.CreateSolver("GLOP")
        error = solver.LoadModelFromProto(proto)
        if error:
            raise SolverError(f"GLOP rejected the relaxation's model (please report this): {error}")
        if solver.NumConstraints() != matrix.shape[0] or solver.NumVariables() != count:
            raise SolverError(f"GLOP loaded {solver.NumConstraints()} rows and {solver.NumVariables()} columns of "
                              f"the relaxation's {matrix.shape[0]} and {count} (please report this)")
        self.solver, self.rows, self.columns = solver, matrix.shape[0], count

    def _extend(self, matrix: sparse.csc_matrix, lower: np.ndarray, upper: np.ndarray, cost: np.ndarray) -> None:
        solver = self.solver
        constraints = solver.constraints()
        if matrix.shape[0] > self.rows:
            # New rows (share rows of large accounts) over the columns the model had before.
            variables = solver.variables()
            rows = matrix[self.rows:, :self.columns].tocsr()
            for k in range(rows.shape[0]):
                constraint = solver.RowConstraint(float(lower[self.rows + k]), float(upper[self.rows + k]), "")
                for position in range(rows.indptr[k], rows.indptr[k + 1]):
                    constraint.SetCoefficient(variables[rows.indices[position]], float(rows.data[position]))
                constraints.append(constraint)
        objective = solver.Objective()
        for column in range(self.columns, matrix.shape[1]):
            variable = solver.NumVar(0.0, 1.0, "")
            objective.SetCoefficient(variable, float(cost[column]))
            for position in range(matrix.indptr[column], matrix.indptr[column + 1]):
                constraints[matrix.indices[position]].SetCoefficient(variable, float(matrix.data[position]))
        self.rows, self.columns = matrix.shape[0], matrix.shape[1]
        # New columns raise what a row without limits can reach, so its stand-in limit rises with them.
        for row, limit in zip(self.free_rows, _largest_activity(matrix, self.free_rows), strict=True):
            constraints[row].SetUb(float(limit))


def _largest_activity(matrix: sparse.spmatrix, rows: np.ndarray) -> np.ndarray:
    """Return, for each of `rows`, one more than the sum of its absolute coefficients: more than the row
    can reach with every column between 0 and 1."""
    if rows.size == 0:
        return np.zeros(0)
    return np.asarray(abs(matrix[rows]).sum(axis=1)).ravel() + 1.0


def solve_relaxation(instance: Instance, pairs: Pairs, time_limit_s: float, *,
                     max_rounds: int = MAX_PRICING_ROUNDS) -> Relaxation:
    """Solve the LP over `pairs`, adding priced columns until none has a negative reduced cost.

    Every round gives a lower bound valid for all plans (the Lagrangian bound of ``price``), so a
    relaxation cut short by the time limit still bounds the plan. Pricing stops when that bound is
    within BOUND_TOLERANCE of the LP over the pairs so far.

    When the LP over the pairs so far is infeasible, a first phase minimises the violation of the
    limits and prices in the pairs that reduce it. If no pair can, the full LP is infeasible too:
    pruning candidates never hides a feasible plan.
    """
    started = time.monotonic()
    model = _LinearModel(instance)
    warm = _WarmSolver(model)
    in_model = np.zeros((instance.account_count, instance.rep_count), dtype=bool)

    def add(new: Pairs) -> None:
        model.add(new)
        in_model[new.account, new.rep] = True

    add(pairs)
    rounds = 0
    best = None  # (bound, duals, pairs, values) of the round with the largest bound
    converged = False
    while not converged:
        remaining = time_limit_s - (time.monotonic() - started)
        status = warm.solve(remaining) if remaining > 0 else "time_limit"
        rounds += 1
        if status == "infeasible":
            status = _first_phase(instance, model, add, in_model, started, time_limit_s)
            if status == "feasible":
                continue
        if status != "optimal":
            if status == "infeasible" or best is None:
                return Relaxation(status, None, model.pairs, np.zeros(len(model.pairs)), None, rounds,
                                  time.monotonic() - started)
            break
        duals = model.duals()
        new, smallest = price(instance, duals, model.pairs, in_model)
        duals.floor = smallest
        bound = model.row_term() + float(smallest.sum())
        if best is None or bound >= best[0]:   # on a tie the later round, whose LP has more columns
            best = (bound, duals, model.pairs, model.values)
        converged = len(new) == 0 or model.objective_value - bound <= BOUND_TOLERANCE * abs(model.objective_value)
        logger.debug("LP round %d: objective %.1f, bound %.1f, %d columns, %d priced in", rounds,
                     model.objective_value, bound, len(model.pairs), len(new))
        if not converged and rounds < max_rounds:
            add(new)
        else:
            break

    bound, duals, all_pairs, values = best
    elapsed = time.monotonic() - started
    logger.info("LP relaxation: bound %.1f (in tenths of the objective unit) after %d round(s)%s, %d columns, "
                "%d fractional accounts, %.1f s", bound, rounds, "" if converged else " (stopped early)",
                len(all_pairs), int(np.unique(all_pairs.account[(values > 1e-6) & (values < 1 - 1e-6)]).size),
                elapsed)
    return Relaxation("optimal" if converged else "time_limit", bound, all_pairs, values, duals, rounds, elapsed)


def _first_phase(instance: Instance, model: _LinearModel, add, in_model: np.ndarray, started: float,
                 time_limit_s: float) -> str:
    """Price in pairs that reduce the limits' violation until none is left, and return "feasible".

    Returns "infeasible" when no pair can reduce the violation, and "time_limit" when time runs out.
    """
    while True:
        remaining = time_limit_s - (time.monotonic() - started)
        if remaining <= 0 or model.solve(remaining, elastic=True, parameters=PRIMAL_SIMPLEX) != "optimal":
            return "time_limit"
        if model.objective_value <= PHASE_ONE_TOLERANCE:
            logger.info("LP: the pairs so far admit a solution after the first phase (%d columns)", len(model.pairs))
            return "feasible"
        new, _ = price(instance, model.duals(), model.pairs, in_model, phase_one=True)
        logger.info("LP first phase: scaled violation %.6f, %d pairs priced in", model.objective_value, len(new))
        if len(new) == 0:
            return "infeasible"
        add(new)


def narrowest_band(instance: Instance, metric: str, time_limit_s: float = 60.0) -> tuple[str, float | None]:
    """Return the smallest tolerance of `metric`'s band that the LP relaxation allows, keeping every other rule.

    Since the LP relaxes whole accounts, a plan needs at least this tolerance. Returns the LP's status
    ("optimal", "infeasible" when the other rules fail on their own, or "time_limit") and the
    tolerance, which is None unless the status is "optimal".
    """
    band = instance.bands[metric]
    free = {metric: (np.full(instance.rep_count, -np.inf), np.full(instance.rep_count, np.inf))}
    model = _LinearModel(instance, band_override=free)
    model.add(_eligible_pairs(instance))
    count, m = len(model.pairs), instance.rep_count
    # For each rep r: value_r - t * target_r <= target_r and value_r + t * target_r >= target_r.
    member = sparse.csr_matrix((band.values[model.pairs.account].astype(float),
                                (model.pairs.rep, np.arange(count))), shape=(m, count + 1))
    tolerance = sparse.csr_matrix((band.target.astype(float), (np.arange(m), np.full(m, count))), shape=(m, count + 1))
    rows = sparse.vstack([member - tolerance, member + tolerance], format="csr")
    target = band.target.astype(float)
    extra_rows = (rows, np.concatenate([np.full(m, -np.inf), target]), np.concatenate([target, np.full(m, np.inf)]))
    extra_column = sparse.csr_matrix((model.fixed_rows + len(model.concentration), 1))
    objective = np.concatenate([np.zeros(count), [1.0]])
    status = model.solve(time_limit_s, extra_columns=extra_column, extra_rows=extra_rows, objective=objective,
                         parameters=PRIMAL_SIMPLEX)
    return status, float(model.all_values[count]) if status == "optimal" else None


def fewest_moves(instance: Instance, time_limit_s: float = 60.0) -> tuple[str, float | None]:
    """Return the fewest accounts that must change owner under every rule but max_moves, in the LP.

    Whole-account plans need at least this many moves. Returns the LP's status and that number, as
    ``narrowest_band`` does.
    """
    free = replace(instance, max_moves=None)
    model = _LinearModel(free)

    def moved_cost(account: np.ndarray, rep: np.ndarray) -> np.ndarray:
        owner = free.current_owner[account]
        return ((owner != NO_REP) & (owner != rep)).astype(np.int64)

    model.add(_eligible_pairs(free, moved_cost))
    status = model.solve(time_limit_s, parameters=PRIMAL_SIMPLEX)
    return status, float(model.objective_value) if status == "optimal" else None


def _eligible_pairs(instance: Instance, cost=None) -> Pairs:
    """Return every eligible pair with no distance, costing `cost(account, rep)` (zero by default)."""
    rows, cols = np.nonzero(instance.eligible_matrix(np.arange(instance.account_count)))
    rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    values = cost(rows, cols) if cost is not None else np.zeros(len(rows), dtype=np.int64)
    return Pairs(rows, cols, np.zeros(len(rows)), values)
