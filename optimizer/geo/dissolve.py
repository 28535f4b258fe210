"""Territory polygons in geographic mode: the union of each territory's units, with its measures.

A territory's polygon is the union of its units plus the gaps of the unit layer that only its units
border, so a gap reported when the layer was read leaves no sliver inside a territory. With
``snap_km`` > 0, each unit is also snapped onto the territory's other units first, which closes cracks
between them that open to the outside. Gaps that border units of two territories stay open, because
neither territory owns them.

Measures per territory:

* ``parts``: the number of polygons of the union, counted after the parts split at the antimeridian are
  joined again. Units that touch only at a corner stay separate parts.
* ``area_km2`` and ``perimeter_km``: geodesic, on the WGS84 ellipsoid (pyproj.Geod). The perimeter
  includes the rings of holes.
* ``polsby_popper``: 4 * pi * A / P**2, with the area A and perimeter P measured in a Lambert azimuthal
  equal-area projection centred on the territory. It is 1 for a disc and near 0 for a long thin shape.

The geometry is RFC 7946: EPSG:4326, exterior rings counter-clockwise, and a polygon that crosses the
antimeridian split into parts on either side of it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import geopandas
import numpy as np
import pyproj
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient

from optimizer.errors import ConfigError, InputError, RowIssue
from optimizer.geo.units import UnitLayer, join_at_antimeridian, split_at_antimeridian
from optimizer.regions import WGS84, clean_polygonal, local_equal_area_crs, project_geometry

logger = logging.getLogger(__name__)

TERRITORY_COLUMNS = ["territory_id", "unit_count", "parts", "area_km2", "perimeter_km", "polsby_popper", "geometry"]

# Largest length (km) of one degree in any direction on the WGS84 ellipsoid: a degree of latitude at a
# pole. snap_km is turned into degrees with it, so that no snapped vertex moves more than snap_km.
KM_PER_DEGREE_MAX = 111.694

_GEOD = pyproj.Geod(ellps="WGS84")


def dissolve_territories(
    layer: UnitLayer,
    unit_to_territory: Mapping[str, str],
    territory_ids: Sequence[str],
    snap_km: float = 0.0,
) -> geopandas.GeoDataFrame:
    """Build one feature per territory from the units assigned to it.

    ``unit_to_territory`` maps unit_id to territory_id; units missing from it belong to no territory.
    Returns a GeoDataFrame in EPSG:4326 with one row per id in ``territory_ids``, in that order, and the
    columns territory_id, unit_count, parts, area_km2, perimeter_km, polsby_popper and geometry (None,
    with zero measures and a NaN Polsby-Popper score, for a territory without units). Raises InputError
    when the mapping names an unknown unit or territory, or a territory id is listed twice, and
    ConfigError for a negative ``snap_km``.
    """
    if not (snap_km >= 0.0 and math.isfinite(snap_km)):
        raise ConfigError(f"snap_km {snap_km!r} is invalid; give a distance in km of 0 or more")
    territory_ids = [str(territory_id) for territory_id in territory_ids]
    members = _members_by_territory(layer, unit_to_territory, territory_ids)

    rows = []
    for territory_id in territory_ids:
        positions = members[territory_id]
        geometry = _territory_geometry(layer, positions, snap_km) if len(positions) else None
        rows.append({"territory_id": territory_id, "unit_count": len(positions), **_measures(geometry),
                     "geometry": _rfc7946(geometry)})

    territories = geopandas.GeoDataFrame(rows, columns=TERRITORY_COLUMNS, geometry="geometry", crs=WGS84)
    territories = territories.astype({"unit_count": "int64", "parts": "int64"})
    logger.info("dissolved %d units into %d territories (%d without units, %d in more than one part)",
                sum(len(positions) for positions in members.values()), len(territories),
                int((territories["unit_count"] == 0).sum()), int((territories["parts"] > 1).sum()))
    return territories


def _members_by_territory(layer: UnitLayer, unit_to_territory: Mapping[str, str],
                          territory_ids: list[str]) -> dict[str, np.ndarray]:
    """Return the layer positions of each territory's units, after checking every id."""
    issues = []
    seen: set[str] = set()
    for territory_id in territory_ids:
        if territory_id in seen:
            issues.append(RowIssue("territory_ids", None, "", territory_id, "is listed more than once"))
        seen.add(territory_id)

    index_of = {unit_id: position for position, unit_id in enumerate(layer.unit_ids)}
    positions: dict[str, list[int]] = {territory_id: [] for territory_id in territory_ids}
    for unit_id, territory_id in unit_to_territory.items():
        unit_id, territory_id = str(unit_id), str(territory_id)
        if unit_id not in index_of:
            issues.append(RowIssue("unit_to_territory", None, "unit_id", unit_id,
                                   "is not a unit of the layer; check the id or the layer's report of dropped units"))
        elif territory_id not in positions:
            issues.append(RowIssue("unit_to_territory", None, "territory_id", territory_id,
                                   f"(of unit {unit_id}) is not in territory_ids; add it there or fix the mapping"))
        else:
            positions[territory_id].append(index_of[unit_id])
    if issues:
        raise InputError(issues, summary=f"{len(issues)} problem(s) in the territory assignment")

    unassigned = len(index_of) - sum(len(units) for units in positions.values())
    if unassigned:
        logger.info("%d of %d units belong to no territory", unassigned, len(index_of))
    return {territory_id: np.array(sorted(units), dtype=np.int64) for territory_id, units in positions.items()}


def _territory_geometry(layer: UnitLayer, positions: np.ndarray, snap_km: float) -> Polygon | MultiPolygon | None:
    """Return the union of the units at ``positions`` and the gaps they enclose, joined at the antimeridian."""
    geometries = layer.geometries[positions]
    if snap_km > 0.0:
        geometries = _snapped_onto_each_other(geometries, snap_km / KM_PER_DEGREE_MAX)

    member_ids = {layer.unit_ids[position] for position in positions.tolist()}
    enclosed_gaps = [gap.geometry for gap in layer.report.gaps if set(gap.unit_ids) <= member_ids]
    union = clean_polygonal(shapely.union_all(np.concatenate([geometries, np.array(enclosed_gaps, dtype=object)])))
    if union is None:
        return None
    return join_at_antimeridian(union)


def _snapped_onto_each_other(geometries: np.ndarray, tolerance_degrees: float) -> np.ndarray:
    """Snap each unit onto the other units nearer than the tolerance, so narrow cracks between them close.

    shapely.snap moves a unit's vertices onto the others' vertices and inserts their vertices into its
    segments. The result is made valid again, since moving vertices can fold a ring.
    """
    tree = shapely.STRtree(geometries)
    snapped = geometries.copy()
    for position, geometry in enumerate(geometries):
        near = tree.query(geometry, predicate="dwithin", distance=tolerance_degrees)
        near = near[near != position]
        if len(near) == 0:
            continue
        reference = shapely.union_all(geometries[near])
        snapped[position] = clean_polygonal(shapely.snap(geometry, reference, tolerance_degrees)) or geometry
    return snapped


def _measures(geometry: Polygon | MultiPolygon | None) -> dict[str, float | int]:
    if geometry is None:
        return {"parts": 0, "area_km2": 0.0, "perimeter_km": 0.0, "polsby_popper": float("nan")}
    # pyproj signs areas by ring orientation, so exteriors are made counter-clockwise first.
    oriented = MultiPolygon([orient(polygon, sign=1.0) for polygon in shapely.get_parts(geometry)])
    area_m2, perimeter_m = _GEOD.geometry_area_perimeter(oriented)
    return {
        "parts": len(shapely.get_parts(geometry)),
        "area_km2": abs(area_m2) / 1e6,
        "perimeter_km": perimeter_m / 1000.0,
        "polsby_popper": polsby_popper(geometry),
    }


def polsby_popper(geometry: Polygon | MultiPolygon) -> float:
    """Return 4 * pi * A / P**2 in a Lambert azimuthal equal-area projection centred on the geometry."""
    coordinates = shapely.get_coordinates(geometry)
    crs = local_equal_area_crs(coordinates[:, 0], coordinates[:, 1])
    projected = project_geometry(geometry, WGS84, crs)
    perimeter = projected.length
    return 4.0 * math.pi * projected.area / perimeter**2 if perimeter > 0 else float("nan")


def _rfc7946(geometry: Polygon | MultiPolygon | None) -> Polygon | MultiPolygon | None:
    """Return the geometry split at the antimeridian, with exterior rings counter-clockwise."""
    split = split_at_antimeridian(geometry) if geometry is not None else None
    if split is None:
        return None
    return shapely.orient_polygons(split, exterior_cw=False)
