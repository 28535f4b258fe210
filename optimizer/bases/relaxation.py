"""LP relaxation of the capacitated p-median (GLOP), with pricing of the pairs left out.

The LP contains each point's candidate pairs. After each solve every other (point, site) pair is priced
with the duals, and pairs with a negative reduced cost join the LP. Its bound comes from the duals
(``dual_bound``), so it is valid for the full problem even when pricing or GLOP stopped early.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp

from optimizer.bases.problem import ROW_BLOCK, BaseProblem
from optimizer.interrupt import stoppable

logger = logging.getLogger(__name__)

MAX_PRICING_ROUNDS = 30
NEW_PAIRS_PER_POINT = 5     # most negative reduced costs added per point and round
REDUCED_COST_TOLERANCE = 1e-6


@dataclass
class Pairs:
    """Candidate (point, site) pairs with their cost in CP-SAT units: weight x distance x cost_scale,
    rounded to an integer (kept as float for numpy arithmetic)."""

    point: np.ndarray
    site: np.ndarray
    cost: np.ndarray

    def __len__(self) -> int:
        return len(self.point)

    @staticmethod
    def build(problem: BaseProblem, point: np.ndarray, site: np.ndarray) -> Pairs:
        point, site = np.asarray(point, dtype=np.int64), np.asarray(site, dtype=np.int64)
        return Pairs(point, site, np.rint(problem.pair_cost(point, site) * problem.cost_scale))

    def extend(self, other: Pairs) -> Pairs:
        return Pairs(np.concatenate([self.point, other.point]), np.concatenate([self.site, other.site]),
                     np.concatenate([self.cost, other.cost]))

    def keys(self, site_count: int) -> np.ndarray:
        return self.point * site_count + self.site


def unique_pairs(pairs: Pairs, site_count: int) -> Pairs:
    _, first = np.unique(pairs.keys(site_count), return_index=True)
    return Pairs(pairs.point[first], pairs.site[first], pairs.cost[first])


def nearest_pairs(problem: BaseProblem, per_point: int) -> Pairs:
    """Return each point's `per_point` nearest sites (by the lower distance bound) as pairs."""
    m = problem.site_count
    k = min(per_point, m)
    points, sites = [], []
    for start in range(0, problem.point_count, ROW_BLOCK):
        block = np.arange(start, min(start + ROW_BLOCK, problem.point_count))
        rows = problem.distances.lower_rows(block)
        nearest = np.argpartition(rows, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m), (len(block), 1))
        points.append(np.repeat(block, k))
        sites.append(nearest.ravel())
    return Pairs.build(problem, np.concatenate(points), np.concatenate(sites))


def hub_sites(problem: BaseProblem, hub_count: int) -> np.ndarray:
    """Return `hub_count` sites spread over the points by demand and distance, in the order chosen.

    Farthest-point sampling: each next hub is the nearest site to the point with the largest
    demand x distance to its nearest hub so far. The first `count` hubs make a start plan's bases.
    """
    n, m = problem.point_count, problem.site_count
    hub_count = min(hub_count, m)
    points = np.arange(n)
    weight = problem.demand.astype(float) + 1.0
    hubs: list[int] = []
    nearest = np.full(n, np.inf)
    target = int(np.argmax(weight))
    while len(hubs) < hub_count:
        row = problem.distances.lower_rows(np.array([target]))[0]
        row[hubs] = np.inf
        hub = int(np.argmin(row))
        hubs.append(hub)
        nearest = np.minimum(nearest, problem.distances.between(points, np.full(n, hub)))
        target = int(np.argmax(weight * nearest))
    return np.array(hubs, dtype=np.int64)


def hub_pairs(problem: BaseProblem, hubs: np.ndarray) -> Pairs:
    """Return pairs from every point to every hub.

    Each point's nearest sites alone can make the LP infeasible when bases are few and far apart,
    because every point needs an open site among its candidates. With pairs to the hubs too, every
    point can reach any base opened at a hub, and the LP is feasible whenever the total demand fits.
    """
    n = problem.point_count
    return Pairs.build(problem, np.repeat(np.arange(n), len(hubs)), np.tile(hubs, n))


@dataclass
class Duals:
    assign: np.ndarray      # per point, free
    capacity: np.ndarray    # per site, <= 0 (row: load - capacity * y <= 0)
    link: np.ndarray        # per pair, <= 0 (row: x - y <= 0)
    count: float            # the row sum of y = count


@dataclass
class Relaxation:
    status: str                 # "optimal", "infeasible" or "time_limit"
    bound: float | None         # in CP-SAT cost units, valid for every plan
    pairs: Pairs
    x: np.ndarray               # LP value per pair
    y: np.ndarray               # LP value per site
    duals: Duals | None
    rounds: int
    time_s: float
    model: LinearModel | None = None


class LinearModel:
    """The LP, kept open so that priced pairs can be appended and the LP solved again."""

    def __init__(self, problem: BaseProblem):
        self.problem = problem
        solver = pywraplp.Solver.CreateSolver("GLOP")
        self.solver = solver
        n, m = problem.point_count, problem.site_count
        self.y = [solver.NumVar(0.0, 1.0, "") for _ in range(m)]
        self.assign = [solver.Constraint(1.0, 1.0) for _ in range(n)]
        self.capacity = [solver.Constraint(-solver.infinity(), 0.0) for _ in range(m)]
        for s in range(m):
            self.capacity[s].SetCoefficient(self.y[s], -float(problem.capacity[s]))
        self.count = solver.Constraint(float(problem.count), float(problem.count))
        for variable in self.y:
            self.count.SetCoefficient(variable, 1.0)
        self.x: list[pywraplp.Variable] = []
        self.link: list[pywraplp.Constraint] = []
        self.pairs = Pairs(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
        self.objective = solver.Objective()

    def add(self, pairs: Pairs) -> None:
        solver, demand = self.solver, self.problem.demand
        for i, s, c in zip(pairs.point.tolist(), pairs.site.tolist(), pairs.cost.tolist(), strict=True):
            x = solver.NumVar(0.0, 1.0, "")
            self.objective.SetCoefficient(x, c)
            self.assign[i].SetCoefficient(x, 1.0)
            self.capacity[s].SetCoefficient(x, float(demand[i]))
            link = solver.Constraint(-solver.infinity(), 0.0)
            link.SetCoefficient(x, 1.0)
            link.SetCoefficient(self.y[s], -1.0)
            self.x.append(x)
            self.link.append(link)
        self.pairs = self.pairs.extend(pairs)

    def solve(self, time_limit_s: float) -> str:
        self.objective.SetMinimization()
        self.solver.SetTimeLimit(max(100, int(time_limit_s * 1000)))
        with stoppable(self.solver.InterruptSolve):
            status = self.solver.Solve()
        if status == pywraplp.Solver.OPTIMAL:
            return "optimal"
        if status == pywraplp.Solver.INFEASIBLE:
            return "infeasible"
        return "time_limit"

    def fix_sites(self, opened: np.ndarray, closed: np.ndarray) -> None:
        """Bound y to 1 at `opened` and to 0 at `closed`; every other site is free in [0, 1]."""
        for s, variable in enumerate(self.y):
            variable.SetBounds(0.0, 1.0)
        for s in opened.tolist():
            self.y[s].SetBounds(1.0, 1.0)
        for s in closed.tolist():
            self.y[s].SetBounds(0.0, 0.0)

    def site_values(self) -> np.ndarray:
        return np.array([variable.solution_value() for variable in self.y])

    def duals(self) -> Duals:
        return Duals(np.array([row.dual_value() for row in self.assign]),
                     np.minimum(0.0, [row.dual_value() for row in self.capacity]),
                     np.minimum(0.0, [row.dual_value() for row in self.link]),
                     self.count.dual_value())


def dual_bound(problem: BaseProblem, duals: Duals, pairs: Pairs) -> tuple[float, Pairs]:
    """Return a lower bound on every plan's cost (CP-SAT units) from any duals of the right sign,
    and the pairs outside `pairs` whose reduced cost is negative (at most NEW_PAIRS_PER_POINT a point).

    For every z feasible in the LP over all pairs, cost(z) >= duals . right-hand side + the sum of
    min(0, reduced cost) over all columns, since each column lies in [0, 1]. A pair outside `pairs`
    has no link row, so its reduced cost is priced with the lower distance bound, which keeps it low.
    """
    n, m = problem.point_count, problem.site_count
    demand = problem.demand.astype(float)
    reduced = pairs.cost - duals.assign[pairs.point] - demand[pairs.point] * duals.capacity[pairs.site] - duals.link
    link_sum = np.bincount(pairs.site, weights=duals.link, minlength=m)
    reduced_y = problem.capacity * duals.capacity + link_sum - duals.count
    bound = duals.assign.sum() + duals.count * problem.count
    bound += np.minimum(0.0, reduced).sum() + np.minimum(0.0, reduced_y).sum()

    present = np.zeros(0, dtype=np.int64) if len(pairs) == 0 else np.unique(pairs.keys(m))
    new_points, new_sites = [], []
    for start in range(0, n, ROW_BLOCK):
        block = np.arange(start, min(start + ROW_BLOCK, n))
        # Rounding is monotone, so the rounded lower distance never exceeds a pair's rounded cost.
        cost = np.rint(problem.distances.lower_rows(block) * problem.point_weight(block)[:, None] * problem.cost_scale)
        rows = cost - duals.assign[block, None] - demand[block, None] * duals.capacity[None, :]
        keys = block[:, None] * m + np.arange(m)[None, :]
        absent = ~np.isin(keys, present)
        negative = absent & (rows < -REDUCED_COST_TOLERANCE)
        bound += np.where(negative, rows, 0.0).sum()
        if negative.any():
            masked = np.where(negative, rows, np.inf)
            take = min(NEW_PAIRS_PER_POINT, m)
            if take < m:
                best = np.argpartition(masked, take - 1, axis=1)[:, :take]
            else:
                best = np.tile(np.arange(m), (len(block), 1))
            chosen = np.isfinite(np.take_along_axis(masked, best, axis=1))
            new_points.append(np.repeat(block, best.shape[1])[chosen.ravel()])
            new_sites.append(best.ravel()[chosen.ravel()])
    if new_points:
        new = Pairs.build(problem, np.concatenate(new_points), np.concatenate(new_sites))
        # The exact distance may be above the lower bound, so keep only pairs still negative.
        exact = new.cost - duals.assign[new.point] - demand[new.point] * duals.capacity[new.site]
        keep = exact < -REDUCED_COST_TOLERANCE
        new = Pairs(new.point[keep], new.site[keep], new.cost[keep])
    else:
        new = Pairs(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
    return float(bound), new


def solve_relaxation(problem: BaseProblem, pairs: Pairs, time_limit_s: float) -> Relaxation:
    """Solve the LP over `pairs`, adding priced pairs until none has a negative reduced cost."""
    started = time.monotonic()
    deadline = started + time_limit_s
    model = LinearModel(problem)
    model.add(pairs)
    logger.info("LP relaxation: %d points, %d sites, %d pairs", problem.point_count, problem.site_count, len(pairs))
    bound, duals, status, rounds = None, None, "time_limit", 0
    while rounds < MAX_PRICING_ROUNDS:
        rounds += 1
        status = model.solve(deadline - time.monotonic())
        if status != "optimal":
            break
        duals = model.duals()
        # The bound of the last duals, not the best of all rounds: the proof step fixes pairs by
        # reduced costs, which is valid only with the duals that gave the bound.
        bound, new = dual_bound(problem, duals, model.pairs)
        if len(new) == 0 or time.monotonic() >= deadline:
            break
        logger.debug("pricing round %d: %d new pairs, bound %.1f", rounds, len(new), bound)
        model.add(new)

    x, y = np.zeros(len(model.pairs)), np.zeros(problem.site_count)
    if status == "optimal":
        x = np.array([variable.solution_value() for variable in model.x])
        y = np.array([variable.solution_value() for variable in model.y])
    elapsed = time.monotonic() - started
    logger.info("LP relaxation %s after %d round(s): bound %s, %d pairs, %.1f s", status, rounds,
                f"{bound:.1f}" if bound is not None else "none", len(model.pairs), elapsed)
    return Relaxation(status, bound, model.pairs, x, y, duals, rounds, elapsed, model)
