"""Unit layers: read, repair and check the polygons that geographic mode assigns as wholes.

A unit layer is a GeoDataFrame in EPSG:4326 with one row per unit: ``unit_id`` (text, unique), the
source's other attributes, and ``geometry``, a valid Polygon or MultiPolygon with no part crossing the
antimeridian (RFC 7946 section 3.1.9). ``read_units`` builds one from a boundary file and
``voronoi_units`` builds one from ZIP points. Every change made to the source is listed in the layer's
report:

* an invalid polygon goes through ``shapely.make_valid`` and keeps only its polygon parts, so a bow-tie
  becomes two triangles, a hole collapsed to zero area disappears, and stray lines and points are dropped;
* a polygon crossing the antimeridian, or with longitudes beyond +-180, is split into parts on either side;
* units without area (null, empty, lines or points) are dropped;
* where two units overlap, the unit with the smaller ``unit_id`` (Python string order) keeps the
  overlap and it is cut out of the other, so unit areas add up to the area covered;
* holes between units (gaps) are reported with their area and neighbouring units, and are not filled.
"""

from __future__ import annotations

import logging
import warnings
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely
import shapely.affinity
from shapely.geometry import MultiPolygon, Polygon, box

from optimizer.errors import InputError, RowIssue
from optimizer.regions import (
    WGS84,
    _voronoi_cells,
    clean_polygonal,
    geodesic_area_km2,
    local_equal_area_crs,
    project_geometry,
)

logger = logging.getLogger(__name__)

_GEOD = pyproj.Geod(ellps="WGS84")
UNIT_ID = "unit_id"
SUPPORTED_FORMATS = "GeoJSON, GeoPackage, Shapefile (.shp, or a .zip holding one) or TopoJSON"

# Gap polygons come from the union of the units, so they share the units' vertices. This distance in
# degrees (about 0.1 mm) only absorbs rounding when their neighbouring units are looked up.
TOUCH_DEGREES = 1e-9

# Outline edges are split into pieces of at most this many degrees before the outline is projected. A
# 0.05 degree chord of a parallel strays at most about 0.3 m from it at mid-latitudes.
OUTLINE_SEGMENT_DEGREES = 0.05

# Voronoi cell vertices are rounded to this grid (metres, in the local projection) before clipping,
# so neighbouring cells clipped at the outline keep identical shared vertices.
VORONOI_GRID_M = 0.001


@dataclass(frozen=True)
class UnitRepair:
    """A change made to one unit's geometry: the problem found and what was done."""

    unit_id: str
    problem: str
    action: str


@dataclass(frozen=True)
class DroppedUnit:
    """A unit left out of the layer because nothing with area was left of it."""

    unit_id: str
    reason: str


@dataclass(frozen=True)
class UnitOverlap:
    """Area (km2) covered by two units. ``unit_a`` has the smaller unit_id and keeps the area."""

    unit_a: str
    unit_b: str
    area_km2: float


@dataclass(frozen=True)
class UnitGap:
    """A hole between units: a polygon (EPSG:4326) covered by no unit, with the units around it."""

    geometry: Polygon
    area_km2: float
    unit_ids: tuple[str, ...]


@dataclass
class UnitLayerReport:
    """Findings and changes from reading a unit layer."""

    source: str
    unit_count: int = 0
    repaired: list[UnitRepair] = field(default_factory=list)
    dropped: list[DroppedUnit] = field(default_factory=list)
    overlaps: list[UnitOverlap] = field(default_factory=list)
    # Area covered by more than one unit, each point counted once however many units cover it.
    overlap_km2: float = 0.0
    gaps: list[UnitGap] = field(default_factory=list)

    @property
    def gap_km2(self) -> float:
        return float(sum(gap.area_km2 for gap in self.gaps))

    def summary(self) -> str:
        """Describe the report in one line, for logs and the command line."""
        return (f"{self.source}: {self.unit_count} units, {len(self.repaired)} repaired, "
                f"{len(self.dropped)} dropped, {len(self.overlaps)} overlapping pairs ({self.overlap_km2:.3f} km2), "
                f"{len(self.gaps)} gaps ({self.gap_km2:.3f} km2)")


@dataclass
class UnitLayer:
    """Units of geographic mode: ``frame`` (EPSG:4326, one row per unit) and the ``report`` on reading it."""

    frame: geopandas.GeoDataFrame
    report: UnitLayerReport

    @property
    def unit_ids(self) -> list[str]:
        return self.frame[UNIT_ID].tolist()

    @property
    def geometries(self) -> np.ndarray:
        return self.frame.geometry.to_numpy()


# --- public entry points -------------------------------------------------------------------------------


def read_units(
    source: str | Path | geopandas.GeoDataFrame,
    id_column: str | None = None,
    layer: str | None = None,
    outline: shapely.Geometry | None = None,
) -> UnitLayer:
    """Read a unit layer from a file or a GeoDataFrame, repair it and report what was changed.

    ``source`` is a GeoJSON, GeoPackage, Shapefile (.shp or a .zip holding one) or TopoJSON file, or a
    GeoDataFrame. ``layer`` names the layer of a file with several (a TopoJSON object such as
    "counties"). A layer without a CRS is read as EPSG:4326 longitude/latitude, and a projected one is
    transformed to EPSG:4326.

    ``id_column`` is the column of unit ids. Without it, the column ``unit_id`` or ``id`` (any case) is used,
    else the first column whose values are all present and unique. Ids are stored as text, and numbers
    lose any ".0".

    ``outline`` (EPSG:4326), when given, clips every unit. Units with no area inside it are dropped, and
    holes of the outline itself are not reported as gaps.

    Raises InputError when the file cannot be read, the id column is missing, an id is missing or
    repeated, a coordinate is out of range, or no unit has area.
    """
    frame, source_name = _read_frame(source, layer)
    frame = _to_wgs84(frame, source_name)
    frame = _with_unit_ids(frame, id_column, source_name)
    clip = _outline_polygon(outline) if outline is not None else None
    return _build_layer(frame, source_name, clip, clip_to_outline=True)


def voronoi_units(
    unit_ids: Sequence[object],
    lat: Sequence[float] | np.ndarray,
    lon: Sequence[float] | np.ndarray,
    outline: shapely.Geometry,
) -> UnitLayer:
    """Build one unit per point (a ZIP centroid, say): its Voronoi cell clipped to ``outline`` (EPSG:4326).

    The cells are drawn in a Lambert azimuthal equal-area projection centred on the points, with the
    Voronoi code of the territory regions. Their vertices are then taken back to longitude/latitude, and
    a cell edge is the straight line between its vertices there. A point listed twice under one id counts
    once. Points sharing a location under different ids give the cell to the smallest id and the others
    are reported as dropped. Raises InputError for a missing id, an invalid coordinate, or one id at two
    locations.
    """
    points = _voronoi_points(unit_ids, lat, lon)
    region_lonlat = _outline_polygon(outline)
    points, dropped = _drop_shared_locations(points)

    crs = local_equal_area_crs(points["lon"].to_numpy(), points["lat"].to_numpy())
    to_local = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)
    xs, ys = to_local.transform(points["lon"].to_numpy(), points["lat"].to_numpy())
    # The outline's edges are straight in longitude/latitude, so they get vertices every
    # OUTLINE_SEGMENT_DEGREES to stay close to that line as chords in the projection.
    region = project_geometry(shapely.segmentize(region_lonlat, OUTLINE_SEGMENT_DEGREES), WGS84, crs)
    cells = _clipped_cells(shapely.points(xs, ys), region)

    for position in np.flatnonzero(shapely.is_empty(cells)):
        dropped.append(DroppedUnit(points["unit_id"].iat[position], "its Voronoi cell lies outside the outline"))
    keep = ~shapely.is_empty(cells)
    frame = geopandas.GeoDataFrame(
        {UNIT_ID: points["unit_id"].to_numpy()[keep]},
        geometry=project_geometry(cells[keep], crs, WGS84),
        crs=WGS84,
    )
    source = f"Voronoi cells of {len(unit_ids)} points"
    return _build_layer(frame, source, region_lonlat, clip_to_outline=False, dropped=dropped)


def split_at_antimeridian(geometry: shapely.Geometry | None) -> Polygon | MultiPolygon | None:
    """Return the polygon parts of ``geometry``, made valid, split into parts with longitudes in [-180, 180].

    A ring whose consecutive vertices lie more than 180 degrees of longitude apart is read as crossing
    the antimeridian the short way (RFC 7946 section 3.1.9), and longitudes beyond +-180 are moved by
    360 degrees. Returns None when nothing with area is left. Raises ValueError for a ring that goes
    round a pole, which has no such split.
    """
    if geometry is None or geometry.is_empty:
        return None
    return _cut_into_longitude_range(clean_polygonal(_unwrap(geometry)))


def join_at_antimeridian(geometry: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    """Move the parts that touch longitude -180 east by 360 degrees when other parts touch +180.

    Parts split at the antimeridian then touch again, so a union joins them and geodesic lengths do not
    count the cut. The result may have longitudes up to 540 and is for measuring, not for output.
    """
    parts = shapely.get_parts(geometry)
    bounds = shapely.bounds(parts)
    west = bounds[:, 0] <= -180.0 + TOUCH_DEGREES
    east = bounds[:, 2] >= 180.0 - TOUCH_DEGREES
    if not (west.any() and east.any()):
        return geometry
    moved = [shapely.affinity.translate(part, xoff=360.0) if at_west else part for part, at_west in zip(parts, west)]
    return clean_polygonal(shapely.union_all(moved))


def geodesic_areas_km2(geometries: np.ndarray) -> np.ndarray:
    """Return the geodesic area in km2 of each longitude/latitude polygon on WGS84 (0 for None or empty).

    Same values as ``regions.geodesic_area_km2``, ring by ring, without building a geometry per unit.
    """
    geometries = np.asarray(geometries, dtype=object)
    areas = np.zeros(len(geometries))
    polygons, owner = shapely.get_parts(geometries, return_index=True)
    rings, ring_polygon = shapely.get_rings(polygons, return_index=True)
    is_exterior = np.ones(len(rings), dtype=bool)
    is_exterior[1:] = ring_polygon[1:] != ring_polygon[:-1]
    coordinates, ring_of = shapely.get_coordinates(rings, return_index=True)
    bounds = np.searchsorted(ring_of, np.arange(len(rings) + 1))
    for ring in range(len(rings)):
        ring_coordinates = coordinates[bounds[ring]:bounds[ring + 1]]
        # pyproj signs the area by ring orientation, so the absolute value is taken and holes subtract it.
        area_m2, _ = _GEOD.polygon_area_perimeter(ring_coordinates[:, 0], ring_coordinates[:, 1])
        sign = 1.0 if is_exterior[ring] else -1.0
        areas[owner[ring_polygon[ring]]] += sign * abs(area_m2)
    return areas / 1e6


# --- reading -------------------------------------------------------------------------------------------


def _gdal_message(error: Exception) -> str:
    """Return GDAL's message without its advice to name a driver, which this tool's users cannot do."""
    return str(error).split("It might help to specify the correct driver", 1)[0].strip().rstrip(";").strip()


def _read_frame(source: str | Path | geopandas.GeoDataFrame, layer: str | None) -> tuple[geopandas.GeoDataFrame, str]:
    if isinstance(source, geopandas.GeoDataFrame):
        return source.copy(), "the unit GeoDataFrame"

    text = str(source)
    name = Path(text).name or text
    # GDAL paths such as zip://x.zip or /vsizip/x.zip/a.shp are passed through without a file check.
    if "://" not in text and not text.startswith("/vsi"):
        path = Path(text)
        if not path.exists():
            raise InputError([RowIssue(text, None, "", "", "does not exist; check the path")],
                             summary="cannot read the unit layer")

    try:
        with warnings.catch_warnings():
            # GDAL guesses the separator of any text file it reads as CSV, and warns when it is unsure.
            warnings.filterwarnings("ignore", message="Selecting .* as CSV field separator")
            layer_names = [str(row[0]) for row in pyogrio.list_layers(text)]
    except pyogrio.errors.DataSourceError as error:
        raise InputError([RowIssue(name, None, "", "", f"cannot be read as {SUPPORTED_FORMATS}: {_gdal_message(error)}")],
                         summary="cannot read the unit layer") from error
    if layer is None and len(layer_names) > 1:
        raise InputError([RowIssue(name, None, "", "", f"has {len(layer_names)} layers ({', '.join(layer_names)}); "
                                                   "pass layer= with the one that holds the units")],
                         summary="cannot read the unit layer")
    if layer is not None and layer not in layer_names:
        raise InputError([RowIssue(name, None, "", layer, f"is not a layer of the file; its layers are "
                                                      f"{', '.join(layer_names)}")],
                         summary="cannot read the unit layer")

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Selecting .* as CSV field separator")
            warnings.filterwarnings("ignore", message="Non closed ring detected")
            frame = geopandas.read_file(text, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as error:
        raise InputError([RowIssue(name, None, "", "", f"cannot be read as {SUPPORTED_FORMATS}: {_gdal_message(error)}")],
                         summary="cannot read the unit layer") from error
    except shapely.errors.GEOSException as error:
        # A ring that is not closed, or too short to be a ring, fails the whole layer. A second read leaves
        # such geometries empty, so the features can be named.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = geopandas.read_file(text, layer=layer, on_invalid="ignore")
        broken = [str(position + 1) for position in np.flatnonzero(frame.geometry.isna().to_numpy())][:10]
        raise InputError([RowIssue(name, None, "", "", f"has features whose geometry is invalid ({error}): feature(s) "
                                                       f"{', '.join(broken)}, counted from 1; repair them in a GIS "
                                                       "tool (close every ring) and read the layer again")],
                         summary="cannot read the unit layer") from None
    except UnicodeDecodeError as error:
        # GDAL opens any file as a CSV table, so bytes that are not text fail only when pandas decodes them.
        raise InputError([RowIssue(name, None, "", "", f"cannot be read as {SUPPORTED_FORMATS}: it is binary "
                                                       f"data, or text that is not UTF-8 (byte "
                                                       f"0x{error.object[error.start]:02x})")],
                         summary="cannot read the unit layer") from error
    if not isinstance(frame, geopandas.GeoDataFrame) or frame.geometry.isna().all():
        # GDAL reads a CSV or a table without geometry as plain rows.
        raise InputError([RowIssue(name, None, "", "", f"holds no polygons, so it is not a boundary layer; give "
                                                       f"{SUPPORTED_FORMATS} with one polygon per unit")],
                         summary="cannot read the unit layer")
    logger.info("read %d features from %s%s", len(frame), text, f" (layer {layer})" if layer else "")
    return frame, name


def _to_wgs84(frame: geopandas.GeoDataFrame, source: str) -> geopandas.GeoDataFrame:
    """Return the frame in EPSG:4326. A frame without a CRS must already be in longitude/latitude."""
    if frame.crs is not None:
        return frame if frame.crs.equals(pyproj.CRS(WGS84)) else frame.to_crs(WGS84)

    # shapely.total_bounds skips missing and empty geometries and is NaN when nothing is left.
    minx, miny, maxx, maxy = shapely.total_bounds(frame.geometry.to_numpy())
    if not np.isnan(minx):
        if minx < -360.0 or maxx > 360.0 or miny < -90.0 or maxy > 90.0:
            raise InputError([RowIssue(source, None, "geometry", "",
                                       f"has no CRS and its coordinates (x {minx:.6g} to {maxx:.6g}, y {miny:.6g} "
                                       f"to {maxy:.6g}) are not longitude/latitude; give the layer its CRS "
                                       "(a .prj file, a GeoPackage or GeoJSON CRS, or GeoDataFrame.set_crs)")],
                             summary="cannot read the unit layer")
    logger.info("%s has no CRS; reading it as EPSG:4326 longitude/latitude", source)
    return frame.set_crs(WGS84)


def _with_unit_ids(frame: geopandas.GeoDataFrame, id_column: str | None, source: str) -> geopandas.GeoDataFrame:
    """Return the frame with a text ``unit_id`` column first, taken from the id column, and a 0..n-1 index."""
    column = _choose_id_column(frame, id_column, source)
    values = frame[column]
    unit_ids = [_id_text(value) for value in values]
    lengths = {len(unit_id) for unit_id in unit_ids if unit_id}
    if pd.api.types.is_numeric_dtype(values) and len(lengths) > 1:
        # Ids of one length (Iowa's 19001 to 19197) cannot have lost a leading zero; mixed lengths may have.
        logger.warning("%s: the id column %s is numeric and its ids have %d to %d digits, so ids written with "
                       "leading zeros (FIPS or ZIP codes) may have lost them; store the ids as text to keep them",
                       source, column, min(lengths), max(lengths))

    issues = [RowIssue(source, row, column, "", "is missing; give every unit an id")
              for row, unit_id in enumerate(unit_ids, start=1) if unit_id == ""]
    rows_by_id: dict[str, list[int]] = defaultdict(list)
    for row, unit_id in enumerate(unit_ids, start=1):
        rows_by_id[unit_id].append(row)
    for unit_id, rows in rows_by_id.items():
        if unit_id != "" and len(rows) > 1:
            issues.append(RowIssue(source, rows[0], column, unit_id,
                                   f"is the id of rows {', '.join(map(str, rows))}; unit ids must be unique, "
                                   "so merge those units or choose another id column"))
    if issues:
        raise InputError(issues, summary=f"{len(issues)} problem(s) with the unit ids of {source}")

    attributes = frame.drop(columns=[column]).reset_index(drop=True)
    attributes.insert(0, UNIT_ID, unit_ids)
    return geopandas.GeoDataFrame(attributes, geometry=frame.geometry.name, crs=frame.crs)


def _choose_id_column(frame: geopandas.GeoDataFrame, id_column: str | None, source: str) -> str:
    columns = [str(column) for column in frame.columns if column != frame.geometry.name]
    if id_column is not None:
        if id_column not in columns:
            raise InputError([RowIssue(source, None, id_column, "", f"is not a column of the unit layer, whose columns "
                                                                f"are {', '.join(columns)}; choose one of them as the "
                                                                "id column with --unit-id")])
        if UNIT_ID in columns and id_column != UNIT_ID:
            raise InputError([RowIssue(source, None, UNIT_ID, "", f"already exists next to the id column {id_column}; "
                                                              f"rename one of them or choose {UNIT_ID} as the id "
                                                              "column")])
        return id_column

    for name in (UNIT_ID, "id"):
        matches = [column for column in columns if column.lower() == name]
        if matches:
            return name if name in matches else matches[0]
    for column in columns:
        values = frame[column]
        if values.notna().all() and values.is_unique and not values.astype(str).str.strip().eq("").any():
            logger.info("%s: using the column %s as unit id (its values are unique); choose another id "
                        "column with --unit-id", source, column)
            return column
    raise InputError([RowIssue(source, None, "", "", f"has no id column: none of its columns ({', '.join(columns)}) "
                                                 "is named unit_id or id or has a unique value in every row; add "
                                                 "one and choose it as the id column (--unit-id on the command "
                                                 "line)")])


def _id_text(value: object) -> str:
    """Return a unit id as text: "" for a missing value, whole numbers without ".0"."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _outline_polygon(outline: shapely.Geometry) -> Polygon | MultiPolygon:
    polygonal = split_at_antimeridian(outline) if isinstance(outline, shapely.Geometry) else None
    if polygonal is None:
        kind = outline.geom_type if isinstance(outline, shapely.Geometry) else type(outline).__name__
        raise InputError([RowIssue("outline", None, "", kind, "has no area; give a Polygon or MultiPolygon "
                                                         "in EPSG:4326 longitude/latitude")])
    return polygonal


# --- building the layer --------------------------------------------------------------------------------


def _build_layer(
    frame: geopandas.GeoDataFrame,
    source: str,
    outline: Polygon | MultiPolygon | None,
    *,
    clip_to_outline: bool,
    dropped: list[DroppedUnit] | None = None,
) -> UnitLayer:
    """Repair, clip and de-overlap the units of ``frame`` (EPSG:4326, with unit_id) and report the gaps."""
    report = UnitLayerReport(source=source, dropped=list(dropped or []))
    unit_ids = frame[UNIT_ID].tolist()

    geometries = _repair_all(unit_ids, frame.geometry.to_numpy(), source, report)
    if outline is not None and clip_to_outline:
        geometries = _clip_to_outline(unit_ids, geometries, outline, report)
    geometries = _resolve_overlaps(unit_ids, geometries, report)

    keep = np.array([geometry is not None for geometry in geometries], dtype=bool)
    if not keep.any():
        raise InputError([RowIssue(source, None, "geometry", "", f"has no unit with area ({len(report.dropped)} "
                                                             "dropped); give a layer of polygons")],
                         summary="cannot use the unit layer")
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name)).loc[keep].reset_index(drop=True)
    result = geopandas.GeoDataFrame(attributes, geometry=list(geometries[keep]), crs=WGS84)

    report.gaps = _find_gaps(result[UNIT_ID].tolist(), result.geometry.to_numpy(), outline)
    report.unit_count = len(result)
    log = logger.warning if report.repaired or report.dropped or report.overlaps or report.gaps else logger.info
    log("%s", report.summary())
    return UnitLayer(frame=result, report=report)


def _repair_all(unit_ids: list[str], geometries: np.ndarray, source: str, report: UnitLayerReport) -> np.ndarray:
    repaired = np.empty(len(geometries), dtype=object)
    issues = []
    for position, (unit_id, geometry) in enumerate(zip(unit_ids, geometries)):
        try:
            repaired[position] = _repair_unit(unit_id, geometry, report)
        except ValueError as error:
            issues.append(RowIssue(source, position + 1, "geometry", unit_id, str(error)))
    if issues:
        raise InputError(issues, summary=f"{len(issues)} unit(s) of {source} have unusable coordinates")
    return repaired


def _repair_unit(unit_id: str, geometry: shapely.Geometry | None, report: UnitLayerReport) -> Polygon | MultiPolygon | None:
    """Return the unit's geometry made valid, polygonal and split at the antimeridian, or None.

    Raises ValueError (turned into a row issue) for latitudes beyond +-90 or a ring round a pole.
    """
    if geometry is None or geometry.is_empty:
        report.dropped.append(DroppedUnit(unit_id, "has no geometry" if geometry is None else "has an empty geometry"))
        return None
    geometry = shapely.force_2d(geometry)
    if geometry.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
        report.dropped.append(DroppedUnit(unit_id, f"is a {geometry.geom_type}, which has no area"))
        return None

    minx, miny, maxx, maxy = geometry.bounds
    if miny < -90.0 or maxy > 90.0:
        raise ValueError(f"has latitudes from {miny:.6g} to {maxy:.6g}, outside -90 to 90; check that the layer's "
                         "CRS is right and that x is longitude")

    problems, actions = [], []
    crossing = minx < -180.0 or maxx > 180.0 or _crosses_antimeridian(geometry)
    if crossing:
        # Longitudes are made continuous first, so that validity is judged on the real shape.
        problems.append(f"crosses the antimeridian or has longitudes beyond +-180 (x {minx:.6g} to {maxx:.6g})")
        geometry = _unwrap(geometry)

    if not geometry.is_valid or geometry.geom_type == "GeometryCollection":
        reason = shapely.is_valid_reason(geometry) if not geometry.is_valid else "a GeometryCollection"
        holes_before = _hole_count(geometry)
        fixed = clean_polygonal(geometry)
        if fixed is None:
            report.dropped.append(DroppedUnit(unit_id, f"is invalid ({reason}) and make_valid leaves no area"
                                              if not geometry.is_valid else "is a GeometryCollection without polygons"))
            return None
        problems.append(f"invalid ({reason})" if not geometry.is_valid else reason)
        actions.append(_describe_make_valid(geometry, fixed, holes_before))
        geometry = fixed

    if crossing:
        geometry = _cut_into_longitude_range(geometry)
        if geometry is None:
            report.dropped.append(DroppedUnit(unit_id, "has no area left after the split at the antimeridian"))
            return None
        actions.append(f"split into {len(shapely.get_parts(geometry))} part(s) with longitudes in [-180, 180]")

    if problems:
        report.repaired.append(UnitRepair(unit_id, "; ".join(problems), "; ".join(actions)))
    return geometry


def _describe_make_valid(before: shapely.Geometry, after: Polygon | MultiPolygon, holes_before: int) -> str:
    parts = len(shapely.get_parts(after))
    action = f"make_valid gave {parts} polygon part(s)"
    dropped_holes = holes_before - _hole_count(after)
    if dropped_holes > 0:
        action += f" and dropped {dropped_holes} hole(s) without area"
    leftovers = [part.geom_type for part in shapely.get_parts(shapely.make_valid(before))
                 if part.geom_type not in ("Polygon", "MultiPolygon")]
    if leftovers:
        action += f"; its parts without area ({', '.join(sorted(set(leftovers)))}) were dropped"
    return action


def _hole_count(geometry: shapely.Geometry) -> int:
    return int(sum(shapely.get_num_interior_rings(part) for part in shapely.get_parts(geometry)
                   if part.geom_type == "Polygon"))


def _clip_to_outline(
    unit_ids: list[str], geometries: np.ndarray, outline: Polygon | MultiPolygon, report: UnitLayerReport
) -> np.ndarray:
    shapely.prepare(outline)
    present = np.array([geometry is not None for geometry in geometries], dtype=bool)
    inside = np.zeros(len(geometries), dtype=bool)
    inside[present] = shapely.covered_by(geometries[present].astype(object), outline)
    clipped = geometries.copy()
    for position in np.flatnonzero(present & ~inside):
        piece = clean_polygonal(shapely.intersection(geometries[position], outline))
        if piece is None:
            report.dropped.append(DroppedUnit(unit_ids[position], "lies outside the outline"))
        clipped[position] = piece
    logger.info("clipped %d of %d units to the outline", int((present & ~inside).sum()), int(present.sum()))
    return clipped


def _resolve_overlaps(unit_ids: list[str], geometries: np.ndarray, report: UnitLayerReport) -> np.ndarray:
    """Cut each overlap out of every unit but the one with the smallest unit_id, and report the overlaps."""
    present = np.flatnonzero([geometry is not None for geometry in geometries])
    if len(present) < 2:
        return geometries
    shapes = geometries[present]
    left, right = shapely.STRtree(shapes).query(shapes, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    # DE-9IM "2********": the interiors share an area, which touching along an edge or corner does not.
    overlapping = shapely.relate_pattern(shapes[left], shapes[right], "2********")
    left, right = present[left[overlapping]], present[right[overlapping]]
    if len(left) == 0:
        return geometries

    pieces = []
    keepers_of: dict[int, list[int]] = defaultdict(list)
    for a, b in zip(left.tolist(), right.tolist()):
        keeper, loser = (a, b) if unit_ids[a] < unit_ids[b] else (b, a)
        piece = clean_polygonal(shapely.intersection(geometries[keeper], geometries[loser]))
        if piece is None:
            continue
        pieces.append(piece)
        keepers_of[loser].append(keeper)
        report.overlaps.append(UnitOverlap(unit_ids[keeper], unit_ids[loser], geodesic_area_km2(piece) or 0.0))

    # The original geometries are subtracted, so each point stays with the smallest unit_id covering it.
    trimmed = geometries.copy()
    for loser, keepers in keepers_of.items():
        cover = shapely.union_all(geometries[keepers].astype(object))
        trimmed[loser] = clean_polygonal(shapely.difference(geometries[loser], cover))
        if trimmed[loser] is None:
            names = ", ".join(sorted(unit_ids[keeper] for keeper in keepers))
            report.dropped.append(DroppedUnit(unit_ids[loser], f"lies entirely under unit(s) {names}, which have "
                                                               "smaller unit ids and keep the overlap"))

    report.overlaps.sort(key=lambda overlap: (overlap.unit_a, overlap.unit_b))
    if pieces:
        report.overlap_km2 = geodesic_area_km2(clean_polygonal(shapely.union_all(pieces))) or 0.0
    return trimmed


def _find_gaps(unit_ids: list[str], geometries: np.ndarray, outline: Polygon | MultiPolygon | None) -> list[UnitGap]:
    """Return the holes of the units' union that border two or more units.

    A hole bordered by one unit is that unit's own hole (a lake), and a hole of the outline is not a gap.
    """
    union = clean_polygonal(shapely.union_all(geometries))
    holes = [Polygon(ring) for polygon in shapely.get_parts(union) for ring in polygon.interiors]
    if not holes:
        return []
    if outline is not None:
        shapely.prepare(outline)
        holes = [hole for hole in holes if outline.covers(hole.point_on_surface())]

    tree = shapely.STRtree(geometries)
    hole_index, unit_index = tree.query(np.array(holes, dtype=object), predicate="dwithin", distance=TOUCH_DEGREES)
    neighbours: dict[int, set[str]] = defaultdict(set)
    for hole, unit in zip(hole_index.tolist(), unit_index.tolist()):
        neighbours[hole].add(unit_ids[unit])

    gaps = [UnitGap(hole, geodesic_area_km2(hole) or 0.0, tuple(sorted(neighbours[position])))
            for position, hole in enumerate(holes) if len(neighbours[position]) >= 2]
    gaps.sort(key=lambda gap: (-gap.area_km2, gap.unit_ids))
    return gaps


# --- antimeridian --------------------------------------------------------------------------------------


def _crosses_antimeridian(geometry: shapely.Geometry) -> bool:
    minx, _, maxx, _ = geometry.bounds
    if maxx - minx <= 180.0:
        return False
    for polygon in _polygons(geometry):
        for ring in [polygon.exterior, *polygon.interiors]:
            longitudes = shapely.get_coordinates(ring)[:, 0]
            if np.any(np.abs(np.diff(longitudes)) > 180.0):
                return True
    return False


def _polygons(geometry: shapely.Geometry) -> list[Polygon]:
    """Return the Polygon parts of a geometry at any depth of nesting, leaving out lines and points."""
    if isinstance(geometry, Polygon):
        return [] if geometry.is_empty else [geometry]
    if geometry.geom_type in ("MultiPolygon", "GeometryCollection"):
        return [polygon for part in shapely.get_parts(geometry) for polygon in _polygons(part)]
    return []


def _unwrap(geometry: shapely.Geometry) -> Polygon | MultiPolygon:
    """Return the polygon parts with continuous longitudes, which may pass +-180. Validity is not checked."""
    polygons = [_unwrap_polygon(polygon) for polygon in _polygons(geometry)]
    if len(polygons) == 1:
        return polygons[0]
    return MultiPolygon(polygons)


def _unwrap_polygon(polygon: Polygon) -> Polygon:
    exterior = _unwrap_ring(shapely.get_coordinates(polygon.exterior))
    centre = exterior[:, 0].mean()
    holes = []
    for ring in polygon.interiors:
        coordinates = _unwrap_ring(shapely.get_coordinates(ring))
        # A hole goes with its exterior: it is moved by whole turns to the exterior's longitudes.
        coordinates[:, 0] += 360.0 * np.round((centre - coordinates[:, 0].mean()) / 360.0)
        holes.append(coordinates)
    return Polygon(exterior, holes)


def _unwrap_ring(coordinates: np.ndarray) -> np.ndarray:
    unwrapped = coordinates.copy()
    unwrapped[:, 0] = np.unwrap(coordinates[:, 0], period=360.0)
    if abs(unwrapped[-1, 0] - unwrapped[0, 0]) > 1e-9:
        raise ValueError("has a ring that goes round a pole, which cannot be split at the antimeridian; "
                         "split the unit at longitudes 0 and 180 yourself")
    return unwrapped


def _cut_into_longitude_range(geometry: Polygon | MultiPolygon | None) -> Polygon | MultiPolygon | None:
    """Cut a valid geometry at every odd multiple of 180 degrees and move each piece into [-180, 180]."""
    if geometry is None:
        return None
    minx, _, maxx, _ = geometry.bounds
    if minx >= -180.0 and maxx <= 180.0:
        return geometry
    pieces = []
    for turn in range(math.floor((minx + 180.0) / 360.0), math.floor((maxx + 180.0) / 360.0) + 1):
        window = box(-180.0 + 360.0 * turn, -90.0, 180.0 + 360.0 * turn, 90.0)
        piece = clean_polygonal(shapely.intersection(geometry, window))
        if piece is not None:
            pieces.extend(shapely.get_parts(shapely.affinity.translate(piece, xoff=-360.0 * turn)))
    if not pieces:
        return None
    return clean_polygonal(MultiPolygon(pieces) if len(pieces) > 1 else pieces[0])


# --- Voronoi units -------------------------------------------------------------------------------------


def _voronoi_points(unit_ids: Sequence[object], lat: Sequence[float] | np.ndarray,
                    lon: Sequence[float] | np.ndarray) -> pd.DataFrame:
    """Return the points as a frame of unit_id, lat, lon, one row per (id, location), after checks."""
    ids = [_id_text(value) for value in unit_ids]
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    if len(ids) == 0:
        raise InputError([RowIssue("Voronoi points", None, "", "", "are empty; give at least one point")])
    if not (len(ids) == len(lat) == len(lon)):
        raise InputError([RowIssue("Voronoi points", None, "", "", f"have {len(ids)} ids, {len(lat)} latitudes and "
                                                               f"{len(lon)} longitudes; give one of each per point")])

    issues = []
    for row, (unit_id, point_lat, point_lon) in enumerate(zip(ids, lat, lon), start=1):
        if unit_id == "":
            issues.append(RowIssue("Voronoi points", row, UNIT_ID, "", "is missing; give every point an id"))
        if not (np.isfinite(point_lat) and -90.0 <= point_lat <= 90.0):
            issues.append(RowIssue("Voronoi points", row, "lat", str(point_lat), "is not a latitude from -90 to 90"))
        if not (np.isfinite(point_lon) and -180.0 <= point_lon <= 180.0):
            issues.append(RowIssue("Voronoi points", row, "lon", str(point_lon), "is not a longitude from -180 to 180"))
    if issues:
        raise InputError(issues, summary=f"{len(issues)} problem(s) in the Voronoi points")

    points = pd.DataFrame({UNIT_ID: ids, "lat": lat, "lon": lon}).drop_duplicates().reset_index(drop=True)
    repeated = points[UNIT_ID][points[UNIT_ID].duplicated()].unique().tolist()
    if repeated:
        issues = [RowIssue("Voronoi points", None, UNIT_ID, unit_id, "is given at two or more locations; give each "
                                                                 "id one point") for unit_id in repeated]
        raise InputError(issues)
    if len(points) < len(ids):
        logger.info("Voronoi points: %d repeated (id, location) rows counted once", len(ids) - len(points))
    return points


def _drop_shared_locations(points: pd.DataFrame) -> tuple[pd.DataFrame, list[DroppedUnit]]:
    """Keep one point per location, the one with the smallest id, and report the others as dropped."""
    ordered = points.sort_values([UNIT_ID], kind="mergesort")
    keeper = ordered.groupby(["lat", "lon"], sort=False)[UNIT_ID].transform("first")
    shared = ordered[ordered[UNIT_ID] != keeper]
    dropped = [DroppedUnit(unit_id, f"has the same location as unit {keeper_id}, which gets the Voronoi cell")
               for unit_id, keeper_id in zip(shared[UNIT_ID], keeper[shared.index])]
    kept_points = points[~points.index.isin(shared.index)].reset_index(drop=True)
    return kept_points, dropped


def _clipped_cells(location_points: np.ndarray, region: shapely.Geometry) -> np.ndarray:
    """Return each location's Voronoi cell clipped to ``region`` (empty when none), rounded to the grid."""
    cells_by_location = _voronoi_cells(location_points, region)
    cells = np.array([cells_by_location.get(position, Polygon()) for position in range(len(location_points))],
                     dtype=object)
    cells = shapely.set_precision(cells, VORONOI_GRID_M)
    # covers(region, cells) rather than within(cells, region): only the first argument's prepared form is used.
    shapely.prepare(region)
    inside = shapely.covers(region, cells)
    cells[~inside] = shapely.intersection(cells[~inside], region, grid_size=VORONOI_GRID_M)
    return np.array([clean_polygonal(cell) or Polygon() for cell in cells], dtype=object)


__all__ = [
    "DroppedUnit",
    "UNIT_ID",
    "UnitGap",
    "UnitLayer",
    "UnitLayerReport",
    "UnitOverlap",
    "UnitRepair",
    "geodesic_areas_km2",
    "join_at_antimeridian",
    "read_units",
    "split_at_antimeridian",
    "voronoi_units",
]
