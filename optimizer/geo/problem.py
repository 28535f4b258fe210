"""The districting problem as plain arrays: units with metric values, territories with balance bands.

A plan assigns every unit to exactly one territory. Each territory must be connected in the unit
graph (and contain its rep's home unit when one is given), keep every metric inside its band, and
the objective measures compactness plus the charge for units that leave their current territory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from optimizer.geo.graph import UnitGraph
from optimizer.geodesy import geodesic_km

NO_TERRITORY = -1

# home: each unit's weight times its geodesic distance to the rep's home base.
# centre: each unit's weight times its geodesic distance to the weighted centre of its territory.
# diameter: the largest distance between two units of one territory, over all territories
#   (the distances come from ``distance_matrix``, e.g. shortest paths in a road graph).
Compactness = Literal["home", "centre", "diameter"]
# compactness: inside the bands, minimise compactness plus move charges.
# balance: inside the bands, first minimise the deviation from the targets, then compactness.
# Soft bands are always minimised first, whatever the priority.
Priority = Literal["compactness", "balance"]


@dataclass
class MetricBand:
    """Hard lower and upper limits of one metric per territory, in real units."""

    name: str
    unit: str
    values: np.ndarray   # per unit
    target: np.ndarray   # per territory
    lower: np.ndarray
    upper: np.ndarray
    tolerance: float
    hard: bool = True    # a soft band is never enforced: the search minimises the deviation from its target

    def totals(self, assignment: np.ndarray, territory_count: int) -> np.ndarray:
        return np.bincount(assignment, weights=self.values, minlength=territory_count)


def make_band(name: str, values: np.ndarray, tolerance: float, territory_count: int, unit: str,
              shares: np.ndarray | None = None, hard: bool = True) -> MetricBand:
    """Build the band target x (1 +- tolerance) per territory; the target is the total times each share."""
    values = np.asarray(values, dtype=float)
    if shares is None:
        shares = np.full(territory_count, 1.0 / territory_count)
    target = values.sum() * np.asarray(shares, dtype=float)
    return MetricBand(name, unit, values, target, target * (1 - tolerance), target * (1 + tolerance), tolerance, hard)


@dataclass
class DistrictProblem:
    """Everything the districting solver needs; no geometry types."""

    graph: UnitGraph
    territory_ids: list[str]
    bands: list[MetricBand]
    compactness: Compactness = "centre"
    priority: Priority = "compactness"
    weight: np.ndarray | None = None          # per unit weight of the compactness term; None means 1
    weight_unit: str = "unit-km"
    home_unit: np.ndarray | None = None       # per territory: unit index of the rep's home, or NO_TERRITORY
    home_lat: np.ndarray | None = None        # per territory: the rep's home base (degrees)
    home_lon: np.ndarray | None = None
    current: np.ndarray | None = None         # per unit: territory index in the current plan, or NO_TERRITORY
    locked: np.ndarray | None = None          # per unit: territory the unit must stay in, or NO_TERRITORY
    move_penalty: float = 0.0                 # objective charge per unit that leaves its current territory
    distance_matrix: np.ndarray | None = None  # unit x unit distances for "diameter" (and "centre" if given)
    distance_unit: str = "km"
    capacity: np.ndarray | None = None        # per territory: the rep's capacity_hours, when reps are given
    workload: np.ndarray | None = None        # per unit: workload hours of its accounts, when accounts are given
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n, k = self.unit_count, self.territory_count
        if k < 1:
            raise ValueError("a districting problem needs at least one territory")
        self.weight = np.ones(n) if self.weight is None else np.asarray(self.weight, dtype=float)
        self.home_unit = np.full(k, NO_TERRITORY, dtype=np.int64) if self.home_unit is None else \
            np.asarray(self.home_unit, dtype=np.int64)
        self.current = np.full(n, NO_TERRITORY, dtype=np.int64) if self.current is None else \
            np.asarray(self.current, dtype=np.int64)
        self.locked = np.full(n, NO_TERRITORY, dtype=np.int64) if self.locked is None else \
            np.asarray(self.locked, dtype=np.int64)
        for name, array, size in (("weight", self.weight, n), ("home_unit", self.home_unit, k),
                                  ("current", self.current, n), ("locked", self.locked, n)):
            if len(array) != size:
                raise ValueError(f"{name} has {len(array)} entries; expected {size}")
        for band in self.bands:
            if len(band.values) != n or len(band.lower) != k or len(band.upper) != k:
                raise ValueError(f"band {band.name!r} does not match {n} units and {k} territories")
        if self.compactness == "home" and (self.home_lat is None or self.home_lon is None):
            raise ValueError("compactness 'home' needs every territory's home base (home_lat, home_lon)")
        if self.compactness == "diameter" and self.distance_matrix is None:
            raise ValueError("compactness 'diameter' needs a unit-to-unit distance_matrix")

    @property
    def unit_count(self) -> int:
        return self.graph.unit_count

    @property
    def territory_count(self) -> int:
        return len(self.territory_ids)

    def has_homes(self) -> bool:
        return bool(np.all(self.home_unit != NO_TERRITORY))

    def home_cost(self) -> np.ndarray:
        """Return the unit x territory charge weight x km to each rep's home (compactness "home")."""
        km = geodesic_km(self.graph.lat[:, None], self.graph.lon[:, None], self.home_lat[None, :], self.home_lon[None, :])
        return self.weight[:, None] * km


def territory_centres(problem: DistrictProblem, assignment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the weighted centre (lat, lon in degrees) of each territory, averaged on the unit sphere."""
    lat, lon = np.radians(problem.graph.lat), np.radians(problem.graph.lon)
    xyz = np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    weight = np.where(problem.weight > 0, problem.weight, 1e-9)
    k = problem.territory_count
    sums = np.zeros((k, 3))
    for axis in range(3):
        sums[:, axis] = np.bincount(assignment, weights=weight * xyz[:, axis], minlength=k)
    norm = np.linalg.norm(sums, axis=1)
    norm[norm == 0] = 1.0
    sums /= norm[:, None]
    return np.degrees(np.arcsin(np.clip(sums[:, 2], -1, 1))), np.degrees(np.arctan2(sums[:, 1], sums[:, 0]))


def centre_cost(problem: DistrictProblem, centre_lat: np.ndarray, centre_lon: np.ndarray) -> np.ndarray:
    """Return the unit x territory charge weight x km to each territory's centre."""
    km = geodesic_km(problem.graph.lat[:, None], problem.graph.lon[:, None], centre_lat[None, :], centre_lon[None, :])
    return problem.weight[:, None] * km


def diameters(problem: DistrictProblem, assignment: np.ndarray) -> np.ndarray:
    """Return the largest unit-to-unit distance inside each territory (0 for a single unit)."""
    result = np.zeros(problem.territory_count)
    for t in range(problem.territory_count):
        members = np.flatnonzero(assignment == t)
        if len(members) > 1:
            result[t] = problem.distance_matrix[np.ix_(members, members)].max()
    return result


def compactness_value(problem: DistrictProblem, assignment: np.ndarray) -> float:
    """Return the compactness term of a plan, in ``weight_unit`` (or ``distance_unit`` for "diameter")."""
    if problem.compactness == "diameter":
        return float(diameters(problem, assignment).max())
    if problem.compactness == "home":
        km = geodesic_km(problem.graph.lat, problem.graph.lon, problem.home_lat[assignment], problem.home_lon[assignment])
    else:
        centre_lat, centre_lon = territory_centres(problem, assignment)
        km = geodesic_km(problem.graph.lat, problem.graph.lon, centre_lat[assignment], centre_lon[assignment])
    return float(np.sum(problem.weight * km))


def moved_units(problem: DistrictProblem, assignment: np.ndarray) -> int:
    had_owner = problem.current != NO_TERRITORY
    return int(np.sum(had_owner & (problem.current != assignment)))


def objective_value(problem: DistrictProblem, assignment: np.ndarray) -> float:
    """Return compactness plus the move charge; for "diameter" the move charge is not added."""
    value = compactness_value(problem, assignment)
    if problem.compactness != "diameter":
        value += problem.move_penalty * moved_units(problem, assignment)
    return value


def band_violation(problem: DistrictProblem, assignment: np.ndarray) -> float:
    """Return the sum over territories and hard bands of the distance outside the band, as a share of the target."""
    total = 0.0
    k = problem.territory_count
    for band in problem.bands:
        if not band.hard:
            continue
        sums = band.totals(assignment, k)
        scale = np.where(band.target > 0, band.target, 1.0)
        total += float(np.sum((np.maximum(band.lower - sums, 0) + np.maximum(sums - band.upper, 0)) / scale))
    return total


def max_deviation(problem: DistrictProblem, assignment: np.ndarray) -> dict[str, float]:
    """Return each metric's largest relative deviation from its target over territories (0.01 = 1 %)."""
    k = problem.territory_count
    result = {}
    for band in problem.bands:
        sums = band.totals(assignment, k)
        scale = np.where(band.target > 0, band.target, 1.0)
        result[band.name] = float(np.max(np.abs(sums - band.target) / scale))
    return result


def disconnected_territories(problem: DistrictProblem, assignment: np.ndarray) -> list[int]:
    """Return the territories that are empty or fall apart into more than one piece of the unit graph."""
    broken = []
    for t in range(problem.territory_count):
        members = assignment == t
        if not members.any():
            broken.append(t)
            continue
        count, _ = problem.graph.components(members)
        if count != 1:
            broken.append(t)
    return broken
