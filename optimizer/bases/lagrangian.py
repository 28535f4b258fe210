"""Lagrangian lower bound of the capacitated p-median, for problems too large for the LP.

Relaxing "every point assigned once" with multipliers u leaves one fractional knapsack per site:
open site s is worth v[s] = min over 0 <= x <= 1 of sum_i (c[i, s] - u[i]) x[i], subject to
sum_i demand[i] x[i] <= capacity[s]. Then L(u) = sum_i u[i] + the `count` smallest v[s] is a lower
bound on every plan for any u, and its maximum over u equals the LP bound with the x <= y links.
Subgradient steps move u towards that maximum. Costs are dense (points x sites) in memory.

NOTE: on the 900-account demo (786 sites, 10 bases) the bound stays about a third below the best plan
after 60 s. The steps converge slowly there; how far the LP bound itself lies below the optimum is
not known.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from optimizer.bases.problem import ROW_BLOCK, BaseProblem

logger = logging.getLogger(__name__)

MAX_ITERATIONS = 2_000
STEP_HALVING_AFTER = 30      # iterations without a better bound before the step factor halves
MIN_STEP_FACTOR = 1e-3


@dataclass
class LagrangianBound:
    bound: float | None          # in real cost units (weight x distance), valid for every plan
    sites: np.ndarray            # the `count` sites chosen at the best multipliers
    opening: np.ndarray          # per site, how often it was among the chosen (a score for starts)
    iterations: int
    time_s: float


def dense_costs(problem: BaseProblem) -> np.ndarray:
    """Return the points x sites matrix of weight x distance (exact distances)."""
    n, m = problem.point_count, problem.site_count
    costs = np.empty((n, m))
    sites = np.arange(m)
    for start in range(0, n, max(1, ROW_BLOCK * 1000 // max(m, 1))):
        block = np.arange(start, min(n, start + max(1, ROW_BLOCK * 1000 // max(m, 1))))
        distance = problem.distances.between(np.repeat(block, m), np.tile(sites, len(block))).reshape(len(block), m)
        costs[block] = distance * problem.point_weight(block)[:, None]
    return costs


def _site_values(costs: np.ndarray, u: np.ndarray, demand: np.ndarray,
                 capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Solve each site's fractional knapsack; return v per site and the chosen (point, site, x) triples."""
    reduced = costs - u[:, None]
    points, sites = np.nonzero(reduced < 0)
    values = reduced[points, sites]
    weight = demand[points].astype(float)
    # Points without demand come first (they cost no capacity), then by value per unit of demand.
    ratio = np.where(weight > 0, values / np.maximum(weight, 1e-12), -np.inf)
    order = np.lexsort((ratio, sites))
    points, sites, values, weight = points[order], sites[order], values[order], weight[order]
    starts = np.searchsorted(sites, np.arange(costs.shape[1] + 1))
    filled = np.cumsum(weight)
    before = filled - weight - np.repeat(np.concatenate([[0.0], filled])[starts[:-1]], np.diff(starts))
    room = capacity[sites] - before
    x = np.clip(np.where(weight > 0, room / np.maximum(weight, 1e-12), 1.0), 0.0, 1.0)
    v = np.bincount(sites, weights=values * x, minlength=costs.shape[1])
    return v, points, sites, x


def lagrangian_bound(problem: BaseProblem, costs: np.ndarray, site_of: np.ndarray,
                     time_limit_s: float) -> LagrangianBound:
    """Run subgradient steps for at most `time_limit_s`, starting from each point's cost in the plan `site_of`."""
    started = time.monotonic()
    n, m = costs.shape
    count = problem.count
    demand = problem.demand
    capacity = problem.capacity.astype(float)
    u = costs[np.arange(n), site_of].copy()
    upper_bound = float(u.sum())
    best, best_sites = None, np.zeros(0, dtype=np.int64)
    opening = np.zeros(m)
    factor, stale, iterations = 1.0, 0, 0
    while iterations < MAX_ITERATIONS and time.monotonic() - started < time_limit_s and factor > MIN_STEP_FACTOR:
        iterations += 1
        v, points, sites, x = _site_values(costs, u, demand, capacity)
        chosen = np.argsort(v, kind="stable")[:count]
        value = float(u.sum() + v[chosen].sum())
        opening[chosen] += 1
        if best is None or value > best + 1e-9:
            best, best_sites, stale = value, np.sort(chosen), 0
        else:
            stale += 1
            if stale >= STEP_HALVING_AFTER:
                factor, stale = factor / 2, 0
        open_mask = np.isin(sites, chosen)
        assigned = np.bincount(points[open_mask], weights=x[open_mask], minlength=n)
        gradient = 1.0 - assigned
        norm = float(gradient @ gradient)
        if norm < 1e-12:
            break   # a zero subgradient: no step can raise the bound
        u = u + factor * max(upper_bound - value, 1e-9 * max(1.0, abs(upper_bound))) / norm * gradient
    elapsed = time.monotonic() - started
    logger.info("Lagrangian bound %.1f after %d iterations, %.1f s", best if best is not None else float("nan"),
                iterations, elapsed)
    return LagrangianBound(best, best_sites, opening, iterations, elapsed)
