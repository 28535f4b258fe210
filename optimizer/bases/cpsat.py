"""CP-SAT models of the capacitated p-median and its sub-problems, and helpers shared by the search.

One model serves every use: the points of some pairs are assigned, CP-SAT may open up to a number
of free sites, and fixed sites are open already with some capacity left. The full problem has every
site free; a start plan's assignment has every base fixed; a neighbourhood has some of each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from optimizer.bases.problem import BaseProblem
from optimizer.bases.relaxation import Pairs
from optimizer.interrupt import stoppable

Progress = Callable[[dict], None]


@dataclass
class Plan:
    """A complete assignment during the search, with its cost as CP-SAT counts it."""

    site_of: np.ndarray          # site per point
    cost: int                    # in CP-SAT cost units


@dataclass
class SubResult:
    """Outcome of one CP-SAT call over a sub-problem."""

    status: str
    site_of: dict[int, int] | None     # point -> site for the points of the sub-problem
    cost: int | None
    bound: float | None
    work: float


def solve_sub_problem(problem: BaseProblem, pairs: Pairs, free_sites: np.ndarray, open_count: int,
               fixed_sites: np.ndarray, residual: np.ndarray, hint: dict[int, int] | None, work_limit: float,
               seed: int, workers: int, deadline: float, interleave: bool = False) -> SubResult:
    """Assign the points of `pairs`, opening at most `open_count` of `free_sites`; `fixed_sites` are
    open already and have `residual` capacity left."""
    model = cp_model.CpModel()
    x = [model.new_bool_var("") for _ in range(len(pairs))]
    free_index = {int(s): k for k, s in enumerate(free_sites)}
    fixed_index = {int(s): k for k, s in enumerate(fixed_sites)}
    y = [model.new_bool_var("") for _ in free_sites]
    model.add(sum(y) <= open_count)

    by_point: dict[int, list[int]] = {}
    for k, i in enumerate(pairs.point.tolist()):
        by_point.setdefault(i, []).append(k)
    for columns in by_point.values():
        model.add_exactly_one(x[k] for k in columns)

    demand = problem.demand
    by_site: dict[int, list[int]] = {}
    for k, s in enumerate(pairs.site.tolist()):
        by_site.setdefault(s, []).append(k)
    for s, columns in by_site.items():
        load = sum(int(demand[pairs.point[k]]) * x[k] for k in columns)
        if s in free_index:
            open_site = y[free_index[s]]
            model.add(load <= int(problem.capacity[s]) * open_site)
            for k in columns:
                model.add(x[k] <= open_site)
        else:
            model.add(load <= int(residual[fixed_index[s]]))
    model.minimize(sum(int(c) * v for c, v in zip(np.rint(pairs.cost).astype(np.int64).tolist(), x, strict=True)))

    if hint is not None:
        hinted_open = {site for site in hint.values()}
        for k, (i, s) in enumerate(zip(pairs.point.tolist(), pairs.site.tolist(), strict=True)):
            model.add_hint(x[k], hint.get(i) == s)
        for s, k in free_index.items():
            model.add_hint(y[k], s in hinted_open)

    solver = cp_model.CpSolver()
    solver.parameters.max_deterministic_time = work_limit
    solver.parameters.max_time_in_seconds = max(0.05, deadline - time.monotonic())
    solver.parameters.random_seed = seed % 2**31   # CP-SAT takes a 32-bit seed; rounds add to the given one
    solver.parameters.num_workers = workers
    solver.parameters.interleave_search = interleave
    # Presolve would turn each x <= y into a clause, which CP-SAT leaves out of its LP relaxation
    # (see the module docstring).
    solver.parameters.cp_model_presolve = False
    solver.parameters.catch_sigint_signal = False     # Ctrl-C goes to optimizer.interrupt
    with stoppable(solver.stop_search):
        status = solver.solve(model)
    names = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible", cp_model.INFEASIBLE: "infeasible"}
    name = names.get(status, "unknown")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return SubResult(name, None, None, None, solver.deterministic_time)
    chosen = np.array([solver.boolean_value(v) for v in x], dtype=bool)
    site_of = dict(zip(pairs.point[chosen].tolist(), pairs.site[chosen].tolist(), strict=True))
    return SubResult(name, site_of, int(round(solver.objective_value)), solver.best_objective_bound,
                      solver.deterministic_time)


def plan_cost(pairs: Pairs, site_count: int, site_of: np.ndarray) -> int:
    """Return the CP-SAT cost of a plan whose pairs are all in `pairs`."""
    lookup = dict(zip(pairs.keys(site_count).tolist(), np.rint(pairs.cost).astype(np.int64).tolist(), strict=True))
    keys = np.arange(len(site_of)) * site_count + site_of
    return int(sum(lookup[k] for k in keys.tolist()))


def sub_cost(pairs: Pairs, assignment: dict[int, int]) -> int:
    lookup = {(i, s): c for i, s, c in zip(pairs.point.tolist(), pairs.site.tolist(),
                                          np.rint(pairs.cost).astype(np.int64).tolist(), strict=True)}
    return int(sum(lookup[(i, s)] for i, s in assignment.items()))


def rank_within_point(pairs: Pairs, score: np.ndarray | None = None) -> np.ndarray:
    """Return each pair's place (0 = lowest) among the pairs of its point, by `score` (default the cost)."""
    order = np.lexsort((pairs.site, pairs.cost, pairs.cost if score is None else score, pairs.point))
    first = np.searchsorted(pairs.point[order], pairs.point[order], side="left")
    rank = np.empty(len(pairs), dtype=np.int64)
    rank[order] = np.arange(len(pairs)) - first
    return rank


def report_progress(progress: Progress | None, phase: str, started: float, objective: float | None,
            bound: float | None) -> None:
    if progress is not None:
        progress({"phase": phase, "elapsed_s": time.monotonic() - started, "objective": objective, "bound": bound})
