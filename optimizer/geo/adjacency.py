"""The unit adjacency graph: which units border which, and how long their shared boundary is.

Rules:

* **rook** (the default): two units are adjacent when their boundaries share a line of positive length.
  Units that touch only at points are not adjacent.
* **queen**: units that touch only at points are adjacent too, with edge kind "corner" and shared_km 0.
* **snapping** (``snap_km`` > 0): units that do not share a line but lie less than ``snap_km`` apart are
  snapped. Each unit's vertices are snapped in turn onto the other unit, as ``shapely.snap`` does, and
  the longer of the two shared boundaries that result counts. Two units whose corners nearly touch stay
  corner neighbours, because snapping joins their corners at one point.
* ``shared_km`` is geodesic: pyproj.Geod on the WGS84 ellipsoid (Karney's algorithm), with each boundary
  segment taken as the geodesic between its two vertices.
* Units on either side of the antimeridian border each other across it (the unit layer stores them split
  at longitude +-180).
* Connectors (a bridge or ferry) add an edge of kind "connector" between units that do not touch, and
  barriers (a river or mountain range) remove an edge.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyproj
import shapely
import shapely.affinity

from optimizer.errors import ConfigError, InputError, RowIssue
from optimizer.geo.graph import EDGE_BORDER, EDGE_CONNECTOR, EDGE_CORNER, UnitGraph
from optimizer.geo.units import TOUCH_DEGREES, UnitLayer, geodesic_areas_km2
from optimizer.regions import WGS84, local_equal_area_crs, project_geometry

logger = logging.getLogger(__name__)

MODES = ("rook", "queen")
_GEOD = pyproj.Geod(ellps="WGS84")

# Smallest length (km) of one degree on the WGS84 ellipsoid: a degree of latitude at the equator. With
# the cosine of the latitude it bounds a distance in degrees from below, to find snapping candidates.
KM_PER_DEGREE_MIN = 110.574

# Before snapping, unit edges are split into pieces of at most this many degrees (about 1.1 km), so that
# in the projection they stray from the longitude/latitude edge by millimetres, not metres.
SNAP_SEGMENT_DEGREES = 0.01


@dataclass(frozen=True)
class SnappedPair:
    """Two units made adjacent by snapping: the gap between them and the shared length after snapping."""

    unit_a: str
    unit_b: str
    gap_km: float
    shared_km: float


@dataclass(frozen=True)
class GraphComponent:
    """A connected part of the graph: its units, in layer order."""

    unit_ids: tuple[str, ...]

    @property
    def unit_count(self) -> int:
        return len(self.unit_ids)


@dataclass
class AdjacencyReport:
    """Findings of building the graph: islands, connected components, snapped pairs, connectors and barriers."""

    mode: str
    snap_km: float
    islands: list[str] = field(default_factory=list)
    # Largest first; ties in the order of their first unit in the layer.
    components: list[GraphComponent] = field(default_factory=list)
    snapped: list[SnappedPair] = field(default_factory=list)
    connectors_added: list[tuple[str, str]] = field(default_factory=list)
    barriers_removed: list[tuple[str, str]] = field(default_factory=list)
    # Barriers between units that were not adjacent anyway, so nothing was removed.
    barriers_unused: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """Describe the report in one line, for logs and the command line."""
        sizes = ", ".join(str(component.unit_count) for component in self.components[:5])
        more = ", ..." if len(self.components) > 5 else ""
        return (f"{self.mode} adjacency: {len(self.components)} connected component(s) of {sizes}{more} units, "
                f"{len(self.islands)} island(s), {len(self.snapped)} pair(s) snapped within {self.snap_km:g} km, "
                f"{len(self.connectors_added)} connector(s) added, {len(self.barriers_removed)} barrier(s) applied")


def build_graph(
    layer: UnitLayer,
    mode: str = "rook",
    snap_km: float = 0.0,
    connectors: Iterable[tuple[str, str]] = (),
    barriers: Iterable[tuple[str, str]] = (),
) -> tuple[UnitGraph, AdjacencyReport]:
    """Build the adjacency graph of a unit layer, with a representative point and area per unit.

    Units keep the layer's order. A unit's point is its centroid when the unit covers it, else
    ``point_on_surface``; its area is geodesic, in km2. Raises ConfigError for an unknown mode or a
    negative ``snap_km``, and InputError when a connector or barrier names an unknown unit, joins a unit
    to itself, or is given as both.
    """
    if mode not in MODES:
        raise ConfigError(f"adjacency mode {mode!r} is not supported; use one of {', '.join(MODES)}")
    if not (snap_km >= 0.0 and math.isfinite(snap_km)):
        raise ConfigError(f"snap_km {snap_km!r} is invalid; give a distance in km of 0 or more")
    started = time.perf_counter()
    unit_ids = layer.unit_ids
    index_of = {unit_id: position for position, unit_id in enumerate(unit_ids)}
    connector_pairs = _validated_pairs("connectors", connectors, index_of)
    barrier_pairs = _validated_pairs("barriers", barriers, index_of)
    both = sorted(set(connector_pairs) & set(barrier_pairs))
    if both:
        raise InputError([RowIssue("connectors", None, "", f"{unit_ids[i]}-{unit_ids[j]}", "is also a barrier; "
                                   "remove it from one of the two lists") for i, j in both])

    geometries = layer.geometries
    contacts = _contacts(geometries)
    report = AdjacencyReport(mode=mode, snap_km=snap_km)
    if snap_km > 0.0:
        contacts.update(_snapped_contacts(geometries, unit_ids, contacts, snap_km, report))

    edges: dict[tuple[int, int], tuple[float, str]] = {}
    for pair, shared_km in contacts.items():
        if shared_km > 0.0:
            edges[pair] = (shared_km, EDGE_BORDER)
        elif mode == "queen":
            edges[pair] = (0.0, EDGE_CORNER)
    _apply_barriers(edges, barrier_pairs, unit_ids, report)
    _apply_connectors(edges, connector_pairs, unit_ids, report)

    graph = _unit_graph(unit_ids, geometries, edges)
    _describe_components(graph, report)
    logger.info("%s; %d units, %d edges, built in %.2f s", report.summary(), graph.unit_count, len(graph.edges),
                time.perf_counter() - started)
    return graph, report


# --- contacts ------------------------------------------------------------------------------------------


def _contacts(geometries: np.ndarray) -> dict[tuple[int, int], float]:
    """Return {(i, j): shared boundary length in km} for every pair of units that touch (i < j).

    A pair touching only at points has length 0. Units touching longitude -180 are also compared as
    copies moved east by 360 degrees, so that neighbours across the antimeridian are found.
    """
    shapes, owners, is_copy = _with_antimeridian_copies(geometries)
    left, right = shapely.STRtree(shapes).query(shapes, predicate="intersects")
    keep = (left < right) & (owners[left] != owners[right]) & ~(is_copy[left] & is_copy[right])
    left, right = left[keep], right[keep]

    boundaries = shapely.boundary(shapes)
    shared = shapely.intersection(boundaries[left], boundaries[right])
    lengths = geodesic_lengths_km(shared)

    contacts: dict[tuple[int, int], float] = {}
    for a, b, length in zip(owners[left].tolist(), owners[right].tolist(), lengths.tolist()):
        pair = (a, b) if a < b else (b, a)
        contacts[pair] = contacts.get(pair, 0.0) + length
    return contacts


def _with_antimeridian_copies(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the geometries plus, for each unit touching longitude -180, its parts there moved east by 360.

    Also returns the owning unit of every geometry and whether it is such a copy.
    """
    count = len(geometries)
    west = shapely.bounds(geometries)[:, 0] <= -180.0 + TOUCH_DEGREES
    copies, copy_owners = [], []
    for position in np.flatnonzero(west):
        parts = shapely.get_parts(geometries[position])
        at_seam = parts[shapely.bounds(parts)[:, 0] <= -180.0 + TOUCH_DEGREES]
        copies.append(shapely.affinity.translate(shapely.union_all(at_seam), xoff=360.0))
        copy_owners.append(position)
    shapes = np.concatenate([geometries, np.array(copies, dtype=object)]) if copies else geometries
    owners = np.concatenate([np.arange(count), np.array(copy_owners, dtype=np.int64)])
    is_copy = np.concatenate([np.zeros(count, dtype=bool), np.ones(len(copies), dtype=bool)])
    return shapes, owners, is_copy


def geodesic_lengths_km(geometries: np.ndarray) -> np.ndarray:
    """Return the geodesic length in km of the lines in each geometry (points and polygons count 0).

    Coordinates are longitude/latitude on WGS84. Each segment is the geodesic between its vertices.
    """
    geometries = np.asarray(geometries, dtype=object)
    lengths = np.zeros(len(geometries))
    if len(geometries) == 0:
        return lengths
    parts, owner = shapely.get_parts(geometries, return_index=True)
    # Collections can nest multi-part geometries, so parts are split until none has parts of its own.
    while True:
        nested = shapely.get_type_id(parts) >= 4
        if not nested.any():
            break
        inner, inner_owner = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], inner])
        owner = np.concatenate([owner[~nested], owner[nested][inner_owner]])
    lines = shapely.get_type_id(parts) == 1
    parts, owner = parts[lines], owner[lines]
    if len(parts) == 0:
        return lengths

    coordinates, line = shapely.get_coordinates(parts, return_index=True)
    same_line = line[1:] == line[:-1]
    start, end = coordinates[:-1][same_line], coordinates[1:][same_line]
    _, _, metres = _GEOD.inv(start[:, 0], start[:, 1], end[:, 0], end[:, 1])
    per_line = np.bincount(line[:-1][same_line], weights=np.asarray(metres), minlength=len(parts))
    return np.bincount(owner, weights=per_line, minlength=len(geometries)) / 1000.0


# --- snapping ------------------------------------------------------------------------------------------


def _snapped_contacts(
    geometries: np.ndarray,
    unit_ids: list[str],
    contacts: dict[tuple[int, int], float],
    snap_km: float,
    report: AdjacencyReport,
) -> dict[tuple[int, int], float]:
    """Return {(i, j): shared km after snapping} for the pairs without a shared line that lie within snap_km.

    Gaps are measured in one Lambert azimuthal equal-area projection centred on the layer.
    NOTE: its scale is off by up to about 2 % at 2,500 km from the centre, so for a continental layer
    the snapping distance is that much off too. The shared lengths are geodesic all the same.
    """
    candidates = _snapping_candidates(geometries, snap_km)
    candidates = [pair for pair in candidates if contacts.get(pair, 0.0) == 0.0]
    if not candidates:
        return {}
    left = np.array([a for a, _ in candidates], dtype=np.int64)
    right = np.array([b for _, b in candidates], dtype=np.int64)

    involved = np.unique(np.concatenate([left, right]))
    crs = _layer_crs(geometries[involved])
    projected = np.empty(len(geometries), dtype=object)
    # Edges are straight in longitude/latitude, and short pieces keep them close to that line in the projection.
    densified = shapely.segmentize(geometries[involved], SNAP_SEGMENT_DEGREES)
    projected[involved] = project_geometry(densified, WGS84, crs)
    snap_m = snap_km * 1000.0
    gap_m = shapely.distance(projected[left], projected[right])
    near = gap_m < snap_m
    left, right, gap_m = left[near], right[near], gap_m[near]
    if len(left) == 0:
        return {}

    # Each unit of a pair is snapped onto the other in turn, because shapely.snap moves only the
    # vertices of its first geometry and inserts the other's vertices into its own segments.
    boundaries = shapely.boundary(projected[left]), shapely.boundary(projected[right])
    one_way = shapely.intersection(shapely.boundary(shapely.snap(projected[left], projected[right], snap_m)),
                                   boundaries[1])
    other_way = shapely.intersection(shapely.boundary(shapely.snap(projected[right], projected[left], snap_m)),
                                     boundaries[0])
    shared_km = np.maximum(geodesic_lengths_km(project_geometry(one_way, crs, WGS84)),
                           geodesic_lengths_km(project_geometry(other_way, crs, WGS84)))

    # A pair is listed when snapping gives it an edge it did not have: a shared line, or in queen mode a
    # point contact between units that did not touch.
    snapped: dict[tuple[int, int], float] = {}
    for a, b, gap, length in zip(left.tolist(), right.tolist(), gap_m.tolist(), shared_km.tolist()):
        gains_edge = length > 0.0 or (report.mode == "queen" and (a, b) not in contacts)
        if gains_edge:
            snapped[(a, b)] = length
            report.snapped.append(SnappedPair(unit_ids[a], unit_ids[b], gap / 1000.0, length))
    logger.info("snapping within %g km: %d candidate pairs, %d within the distance, %d gained an edge",
                snap_km, len(candidates), len(left), len(snapped))
    return snapped


def _snapping_candidates(geometries: np.ndarray, snap_km: float) -> list[tuple[int, int]]:
    """Return the pairs (i < j) whose distance in degrees could be under snap_km on the ground."""
    max_abs_lat = min(89.0, float(np.max(np.abs(shapely.bounds(geometries)[:, [1, 3]]))))
    km_per_degree = KM_PER_DEGREE_MIN * math.cos(math.radians(max_abs_lat))
    distance_degrees = 1.01 * snap_km / km_per_degree
    left, right = shapely.STRtree(geometries).query(geometries, predicate="dwithin", distance=distance_degrees)
    keep = left < right
    return list(zip(left[keep].tolist(), right[keep].tolist()))


def _layer_crs(geometries: np.ndarray) -> pyproj.CRS:
    coordinates = shapely.get_coordinates(shapely.centroid(geometries))
    return local_equal_area_crs(coordinates[:, 0], coordinates[:, 1])


# --- connectors and barriers ---------------------------------------------------------------------------


def _validated_pairs(name: str, pairs: Iterable[tuple[str, str]], index_of: dict[str, int]) -> list[tuple[int, int]]:
    """Return the pairs as sorted index pairs, or raise InputError naming every unknown or invalid entry."""
    issues, result = [], []
    for row, pair in enumerate(pairs, start=1):
        try:
            unit_a, unit_b = (str(unit_id) for unit_id in pair)
        except ValueError:
            issues.append(RowIssue(name, row, "", str(pair), "is not a pair of unit ids; give (unit_a, unit_b)"))
            continue
        for column, unit_id in (("unit_a", unit_a), ("unit_b", unit_b)):
            if unit_id not in index_of:
                issues.append(RowIssue(name, row, column, unit_id, "is not a unit id of the layer; check the id "
                                                                   "or the id column the layer was read with"))
        if unit_a == unit_b:
            issues.append(RowIssue(name, row, "unit_b", unit_b, "is the same unit as unit_a; give two different units"))
        elif unit_a in index_of and unit_b in index_of:
            i, j = index_of[unit_a], index_of[unit_b]
            result.append((min(i, j), max(i, j)))
    if issues:
        raise InputError(issues, summary=f"{len(issues)} problem(s) in the {name}")
    return list(dict.fromkeys(result))


def _apply_barriers(edges: dict[tuple[int, int], tuple[float, str]], barriers: list[tuple[int, int]],
                    unit_ids: list[str], report: AdjacencyReport) -> None:
    for pair in barriers:
        names = (unit_ids[pair[0]], unit_ids[pair[1]])
        if edges.pop(pair, None) is None:
            logger.warning("barrier %s-%s: the units are not adjacent, so it removes nothing", *names)
            report.barriers_unused.append(names)
        else:
            report.barriers_removed.append(names)


def _apply_connectors(edges: dict[tuple[int, int], tuple[float, str]], connectors: list[tuple[int, int]],
                      unit_ids: list[str], report: AdjacencyReport) -> None:
    for pair in connectors:
        names = (unit_ids[pair[0]], unit_ids[pair[1]])
        if pair in edges:
            logger.info("connector %s-%s: the units are adjacent already (%s), so the edge is kept as it is",
                        *names, edges[pair][1])
            continue
        edges[pair] = (0.0, EDGE_CONNECTOR)
        report.connectors_added.append(names)


# --- the graph -----------------------------------------------------------------------------------------


def _unit_graph(unit_ids: list[str], geometries: np.ndarray, edges: dict[tuple[int, int], tuple[float, str]]) -> UnitGraph:
    points = representative_points(geometries)
    pairs = sorted(edges)
    return UnitGraph(
        unit_ids=list(unit_ids),
        lat=shapely.get_y(points),
        lon=shapely.get_x(points),
        edges=np.array(pairs, dtype=np.int64).reshape(-1, 2),
        shared_km=np.array([edges[pair][0] for pair in pairs], dtype=float),
        edge_kind=[edges[pair][1] for pair in pairs],
        area_km2=geodesic_areas_km2(geometries),
    )


def representative_points(geometries: np.ndarray) -> np.ndarray:
    """Return a point inside each unit: the centroid when the unit covers it, else ``point_on_surface``."""
    centroids = shapely.centroid(geometries)
    inside = shapely.covers(geometries, centroids)
    points = centroids.copy()
    points[~inside] = shapely.point_on_surface(geometries[~inside])
    return points


def _describe_components(graph: UnitGraph, report: AdjacencyReport) -> None:
    count, labels = graph.components()
    members: list[list[str]] = [[] for _ in range(count)]
    for unit_id, label in zip(graph.unit_ids, labels.tolist()):
        members[label].append(unit_id)
    components = [GraphComponent(tuple(units)) for units in members]
    # The components come numbered by their first unit, so a stable sort keeps that order among ties.
    report.components = sorted(components, key=lambda component: -component.unit_count)
    report.islands = [graph.unit_ids[position] for position in graph.islands()]
    if report.islands:
        preview = ", ".join(report.islands[:10]) + (", ..." if len(report.islands) > 10 else "")
        logger.warning("%d unit(s) have no neighbour: %s; add connectors to join them", len(report.islands), preview)
