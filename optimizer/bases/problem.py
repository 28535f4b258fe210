"""The capacitated p-median problem behind home-base planning, with its pre-check and validator.

Points (accounts) each have a demand, candidate sites each have a capacity, and exactly ``count``
sites are opened as bases::

    minimise    sum over (i, s) of weight[i] * distance[i, s] * x[i, s]
    subject to  sum over s of x[i, s] = 1                          every point assigned once
                sum over i of demand[i] * x[i, s] <= capacity[s] * y[s]
                x[i, s] <= y[s]                                    only to an open base
                sum over s of y[s] = count                         exactly `count` bases
                x, y binary

Distances come from a ``DistanceMatrix`` (planar benchmark instances) or a ``DistanceFunction`` over
coordinates (geodesic km in the product). The model code works the same with either.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from optimizer.errors import ConfigError, InfeasibleError

# Points whose candidate sites are ranked per block of rows, so a block of the distance matrix stays
# within about 200 MB for 10,000 sites.
ROW_BLOCK = 2_000
MAX_NAMED_POINTS = 5


class Distances(Protocol):
    """Distances between points and candidate sites."""

    @property
    def point_count(self) -> int: ...

    @property
    def site_count(self) -> int: ...

    def between(self, points: np.ndarray, sites: np.ndarray) -> np.ndarray:
        """Return the distance of each (point, site) pair of the two paired index arrays."""

    def lower_rows(self, points: np.ndarray) -> np.ndarray:
        """Return a (len(points), site_count) array of lower bounds on the distances (may be exact)."""


class DistanceMatrix:
    """Distances given as a full points x sites matrix."""

    def __init__(self, matrix: np.ndarray):
        self.matrix = np.asarray(matrix, dtype=float)
        if self.matrix.ndim != 2 or not np.all(np.isfinite(self.matrix)) or np.any(self.matrix < 0):
            raise ConfigError("the distance matrix must be two-dimensional, finite and non-negative")

    @property
    def point_count(self) -> int:
        return self.matrix.shape[0]

    @property
    def site_count(self) -> int:
        return self.matrix.shape[1]

    def between(self, points: np.ndarray, sites: np.ndarray) -> np.ndarray:
        return self.matrix[points, sites]

    def lower_rows(self, points: np.ndarray) -> np.ndarray:
        return self.matrix[points]


Metric = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


class DistanceFunction:
    """Distances computed on demand from coordinates.

    ``exact(a1, a2, b1, b2)`` returns the distance between points (a1, a2) and (b1, b2), with numpy
    broadcasting. ``lower`` is a cheaper function that never exceeds ``exact`` (``exact`` itself when
    omitted). It ranks candidate sites and prices the pairs left out of the model.
    """

    def __init__(self, points: np.ndarray, sites: np.ndarray, exact: Metric, lower: Metric | None = None):
        self.points = np.asarray(points, dtype=float).reshape(-1, 2)
        self.sites = np.asarray(sites, dtype=float).reshape(-1, 2)
        self.exact = exact
        self.lower = lower or exact

    @property
    def point_count(self) -> int:
        return len(self.points)

    @property
    def site_count(self) -> int:
        return len(self.sites)

    def between(self, points: np.ndarray, sites: np.ndarray) -> np.ndarray:
        a, b = self.points[points], self.sites[sites]
        return np.asarray(self.exact(a[:, 0], a[:, 1], b[:, 0], b[:, 1]), dtype=float)

    def lower_rows(self, points: np.ndarray) -> np.ndarray:
        a = self.points[points]
        return np.asarray(self.lower(a[:, 0, None], a[:, 1, None], self.sites[None, :, 0], self.sites[None, :, 1]),
                          dtype=float)


def euclidean(x1, y1, x2, y2) -> np.ndarray:
    """Return the planar Euclidean distance between paired points (arrays broadcast)."""
    return np.hypot(np.asarray(x2, dtype=float) - x1, np.asarray(y2, dtype=float) - y1)


@dataclass(frozen=True)
class BaseProblem:
    """A capacitated p-median instance.

    ``demand`` and ``capacity`` are integers in one unit (``demand_scale`` of them make one
    ``demand_unit``, e.g. 100 per hour). A pair costs ``weight[i] * distance`` (weight 1 when None).
    The CP-SAT model uses that cost times ``cost_scale``, rounded to an integer.
    """

    demand: np.ndarray
    capacity: np.ndarray
    count: int
    distances: Distances
    weight: np.ndarray | None = None
    cost_scale: float = 1.0
    demand_unit: str = ""
    demand_scale: int = 1
    point_names: Sequence[str] | None = None
    cost_unit: str = ""

    def __post_init__(self) -> None:
        demand = np.asarray(self.demand)
        capacity = np.asarray(self.capacity)
        n, m = self.distances.point_count, self.distances.site_count
        if demand.shape != (n,) or capacity.shape != (m,):
            raise ConfigError(f"demand has shape {demand.shape} and capacity {capacity.shape}, but the distances "
                              f"are between {n} points and {m} sites")
        if not np.issubdtype(demand.dtype, np.integer) or not np.issubdtype(capacity.dtype, np.integer):
            raise ConfigError("demand and capacity must be integer arrays; scale fractional values first")
        if np.any(demand < 0) or np.any(capacity < 0):
            raise ConfigError("demand and capacity must not be negative")
        if self.weight is not None and (np.shape(self.weight) != (n,) or np.any(np.asarray(self.weight) < 0)):
            raise ConfigError(f"weight must give a non-negative number for each of the {n} points")
        if self.cost_scale <= 0:
            raise ConfigError(f"cost_scale must be positive, got {self.cost_scale:g}")
        object.__setattr__(self, "demand", demand.astype(np.int64))
        object.__setattr__(self, "capacity", capacity.astype(np.int64))

    @property
    def point_count(self) -> int:
        return self.distances.point_count

    @property
    def site_count(self) -> int:
        return self.distances.site_count

    def point_weight(self, points: np.ndarray) -> np.ndarray:
        return np.ones(len(points)) if self.weight is None else np.asarray(self.weight, dtype=float)[points]

    def pair_cost(self, points: np.ndarray, sites: np.ndarray) -> np.ndarray:
        """Return weight x distance of paired points and sites, in real units."""
        return self.point_weight(points) * self.distances.between(points, sites)

    def amount(self, value: float) -> str:
        """Format a demand or capacity in display units, e.g. "1,250 hours"."""
        shown = value / self.demand_scale
        text = f"{shown:,.0f}" if float(shown).is_integer() else f"{shown:,.2f}"
        return f"{text} {self.demand_unit}".rstrip()

    def point_name(self, point: int) -> str:
        return str(self.point_names[point]) if self.point_names is not None else f"point {point}"


@dataclass
class BasePlan:
    """A solution: the open sites, each point's site, the objective and what is proven about it."""

    status: str                      # "optimal" only when proven, else "feasible"
    bases: np.ndarray                # open site indices, ascending
    site_of: np.ndarray              # site index per point
    objective: float                 # sum of weight x distance, recomputed in real units
    lower_bound: float | None        # valid for every plan, in the objective's units
    gap: float | None                # (objective - lower_bound) / objective, a fraction
    time_s: float
    seed: int
    workers: int
    lp_time_s: float = 0.0
    deterministic_time: float = 0.0
    candidate_pairs: int = 0
    rounds: int = 0
    bound_source: str = "none"
    notes: list[str] = field(default_factory=list)

    def loads(self, problem: BaseProblem) -> np.ndarray:
        """Return the demand assigned to each open base, in the order of ``bases``."""
        totals = np.bincount(self.site_of, weights=problem.demand, minlength=problem.site_count)
        return totals[self.bases].astype(np.int64)


def check_feasibility(problem: BaseProblem) -> None:
    """Raise InfeasibleError, with the numbers, when no plan can exist whatever the distances."""
    m, count = problem.site_count, problem.count
    if count < 1:
        raise ConfigError(f"the number of bases must be at least 1, got {count}")
    if count > m:
        raise InfeasibleError([f"{count} bases were requested but there are only {m} candidate sites; "
                               f"ask for at most {m} bases, or give more candidate sites"])

    largest = int(problem.capacity.max()) if m else 0
    too_large = np.flatnonzero(problem.demand > largest)
    if too_large.size:
        shown = ", ".join(f"{problem.point_name(i)} ({problem.amount(problem.demand[i])})"
                          for i in too_large[:MAX_NAMED_POINTS])
        more = f" and {too_large.size - MAX_NAMED_POINTS} more" if too_large.size > MAX_NAMED_POINTS else ""
        need = int(problem.demand[too_large].max())
        raise InfeasibleError([f"{too_large.size} point(s) need more than the largest capacity of a base "
                               f"({problem.amount(largest)}): {shown}{more}"],
                              [f"raise the capacity to at least {problem.amount(need)} per base"])

    total = int(problem.demand.sum())
    capacities = np.sort(problem.capacity)[::-1]
    available = int(capacities[:count].sum())
    if total > available:
        uniform = bool(np.all(capacities == capacities[0]))
        held = (f"{count} bases of {problem.amount(capacities[0])} hold only {problem.amount(available)}" if uniform
                else f"the {count} largest capacities add up to only {problem.amount(available)}")
        fixes = []
        enough = int(np.searchsorted(np.cumsum(capacities), total)) + 1
        if enough <= m:
            fixes.append(f"ask for at least {enough} bases")
        if uniform:
            per_base = math.ceil(total / count)
            fixes.append(f"raise the capacity to at least {problem.amount(per_base)} per base")
        raise InfeasibleError([f"total demand is {problem.amount(total)} but {held} "
                               f"({problem.amount(total - available)} short)"], fixes)


def check_base_plan(problem: BaseProblem, bases: np.ndarray, site_of: np.ndarray) -> list[str]:
    """Return every rule the plan breaks (empty when valid), without any solver code."""
    violations = []
    bases = np.asarray(bases)
    site_of = np.asarray(site_of)
    if len(np.unique(bases)) != len(bases) or len(bases) != problem.count:
        violations.append(f"{len(np.unique(bases))} distinct bases are open, expected exactly {problem.count}")
    if bases.size and (bases.min() < 0 or bases.max() >= problem.site_count):
        violations.append(f"a base index is outside 0..{problem.site_count - 1}")
        return violations
    if site_of.shape != (problem.point_count,):
        violations.append(f"{site_of.size} assignments for {problem.point_count} points")
        return violations
    not_open = np.flatnonzero(~np.isin(site_of, bases))
    if not_open.size:
        violations.append(f"{not_open.size} point(s) assigned to a site that is not open, first "
                          f"{problem.point_name(int(not_open[0]))}")
    loads = np.bincount(site_of[site_of >= 0], weights=problem.demand[site_of >= 0], minlength=problem.site_count)
    for site in bases:
        if loads[site] > problem.capacity[site]:
            violations.append(f"base at site {site} carries {problem.amount(loads[site])}, above its capacity "
                              f"{problem.amount(problem.capacity[site])}")
    return violations


def plan_objective(problem: BaseProblem, site_of: np.ndarray) -> float:
    """Return the sum of weight x distance of an assignment, in real units."""
    points = np.arange(problem.point_count)
    return float(problem.pair_cost(points, np.asarray(site_of, dtype=np.int64)).sum())


def rounding_slack(problem: BaseProblem) -> float:
    """Return how far (in CP-SAT cost units) a plan's rounded cost can lie below its exact cost."""
    if isinstance(problem.distances, DistanceMatrix):
        scaled = problem.distances.matrix * problem.cost_scale
        if problem.weight is not None:
            scaled = scaled * np.asarray(problem.weight, dtype=float)[:, None]
        if np.all(scaled == np.rint(scaled)):
            return 0.0
    return 0.5 * problem.point_count


def real_units(problem: BaseProblem, units: float | None) -> float | None:
    if units is None:
        return None
    return max(0.0, (units - rounding_slack(problem)) / problem.cost_scale)
