"""Territory polygons: turn a plan's account assignment into one polygon per rep.

Two ways to draw a territory:

* **Boundary layer** (geographic units such as ZIP areas or counties). Each located account joins the unit
  polygon that covers its point. Each unit goes to the rep holding the most potential (USD) in it, ties to
  the lower rep_id, and a territory is the union of its units. Units without assigned accounts belong to no
  territory.
* **Voronoi cells** (no boundary layer). Each distinct account location gets the cell of the points closer
  to it than to any other location, computed in a local Lambert azimuthal equal-area projection. The cells
  are clipped to a buffer of ``CLIP_BUFFER_KM`` around account locations and rep home bases. When every
  point lies in the US, the US land outline clips them too (see ``_land_clip``).

Every geometry returned is a valid Polygon or MultiPolygon in EPSG:4326, or None when a rep has no area.
Areas are geodesic, on the WGS84 ellipsoid.
"""

from __future__ import annotations

import functools
import json
import math
import logging
from pathlib import Path

import geopandas
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry import MultiPoint, MultiPolygon, Polygon, shape
from shapely.geometry.polygon import orient

logger = logging.getLogger(__name__)

WGS84 = "EPSG:4326"
US_OUTLINE_PATH = Path(__file__).resolve().parent.parent / "data" / "us_outline.geojson"

# Voronoi cells are clipped to this distance (km) around account locations and rep home bases. 75 km is
# about an hour's drive, so a territory reaches a little beyond its outermost accounts but not across a sea.
# NOTE: the buffer is drawn in the local equal-area projection, whose distances are off by a few percent
# far (over about 1,500 km) from the projection centre.
CLIP_BUFFER_KM = 75.0

# A point within this distance (km) of the US outline counts as "in the US". The slack covers ZIP
# centroids on small islands that the simplified outline lost: the farthest in the zipcodes 1.3.0 package
# is Monhegan, ME (04852), 10.4 km off. Such an account's own cell is clipped away, so it counts as outside.
US_OUTLINE_SLACK_KM = 25.0

# Many coastal ZIP centroids (Corpus Christi, TX 78478; Grand Isle, LA 70358) lie just off the simplified
# outline, so a disc of this radius (km) around each account location is kept as land.
OFFSHORE_KEEP_KM = 5.0

# Polygon edges are split into pieces of at most this length (m) before leaving the projection, so that a
# straight edge in the projection stays close to the same edge drawn straight in longitude/latitude.
MAX_SEGMENT_M = 10_000.0
# Absolute tolerance (m2) of the area check on the overlay that joins a territory's clipped cells.
AREA_CHECK_M2 = 100.0
# Segments per quarter circle of the clip discs (shapely's default): a disc is a 32-sided polygon.
DISC_QUADRANT_SEGMENTS = 8

_GEOD = pyproj.Geod(ellps="WGS84")


def build_territories(
    assignments: pd.DataFrame,
    reps: pd.DataFrame,
    *,
    boundaries: str | Path | geopandas.GeoDataFrame | None = None,
    outline: shapely.Geometry | None = None,
) -> geopandas.GeoDataFrame:
    """Build one territory polygon per rep from an account assignment.

    ``assignments`` needs account_id, rep_id (None when unassigned), potential (USD), lat and lon (NaN when
    not located). ``reps`` needs rep_id, lat and lon. ``boundaries`` is a unit layer (a GeoDataFrame, or
    the path of a GeoJSON, GeoPackage or Shapefile in any CRS) and selects the boundary-layer method. When
    it is None, Voronoi cells are used and ``outline`` (EPSG:4326) replaces the default clip to US land.

    Returns a GeoDataFrame in EPSG:4326 with one row per rep, in ``reps`` order, and the columns:

    * rep_id;
    * geometry: Polygon or MultiPolygon, None when the rep has no area;
    * area_km2: geodesic area in km2, None when the rep has no area;
    * accounts_outside: the rep's located accounts whose point the polygon does not cover (inside or on
      the edge). A point on a shared edge is thus inside both neighbours. Accounts without a location
      are not counted.

    Raises ValueError when a column is missing or an account names a rep_id missing from ``reps``.
    """
    rep_ids = _validate_inputs(assignments, reps)
    accounts = _assigned_located_accounts(assignments)

    if boundaries is not None:
        geometries = _territories_from_boundaries(accounts, _read_boundaries(boundaries))
    else:
        geometries = _territories_from_voronoi(accounts, reps, outline)

    rows = []
    by_rep = dict(tuple(accounts.groupby("rep_id", sort=False)))
    for rep_id in rep_ids:
        geometry = clean_polygonal(geometries.get(rep_id))
        rows.append(
            {
                "rep_id": rep_id,
                "geometry": geometry,
                "area_km2": geodesic_area_km2(geometry),
                "accounts_outside": _count_accounts_outside(geometry, by_rep.get(rep_id, accounts.iloc[:0])),
            }
        )

    territories = geopandas.GeoDataFrame(rows, columns=["rep_id", "geometry", "area_km2", "accounts_outside"],
                                         geometry="geometry", crs=WGS84)
    # A rep without area gets None, not NaN, as the docstring promises.
    territories["area_km2"] = pd.Series([row["area_km2"] for row in rows], index=territories.index, dtype=object)
    territories["accounts_outside"] = territories["accounts_outside"].astype(int)
    logger.info(
        "built %d territories (%d without area, %d accounts outside their territory)",
        len(territories), int(territories.geometry.isna().sum()), int(territories["accounts_outside"].sum()),
    )
    return territories


def clean_polygonal(geometry: shapely.Geometry | None) -> Polygon | MultiPolygon | None:
    """Return ``geometry`` repaired and reduced to its polygon parts, or None when nothing with area is left.

    make_valid can return a GeometryCollection that mixes polygons with lines and points, and the lines
    and points carry no area, so they are dropped.
    """
    if geometry is None or geometry.is_empty:
        return None
    repaired = shapely.make_valid(geometry)

    polygons: list[Polygon] = []
    for part in shapely.get_parts(repaired):
        if isinstance(part, Polygon) and not part.is_empty:
            polygons.append(part)
        elif isinstance(part, MultiPolygon):
            polygons.extend(polygon for polygon in part.geoms if not polygon.is_empty)
        elif part.geom_type == "GeometryCollection":
            cleaned = clean_polygonal(part)
            if cleaned is not None:
                polygons.extend(shapely.get_parts(cleaned))

    if not polygons:
        return None
    if len(polygons) == 1:
        return polygons[0]
    return MultiPolygon(polygons)


def geodesic_area_km2(geometry: Polygon | MultiPolygon | None) -> float | None:
    """Return the area in km2 of a longitude/latitude polygon on the WGS84 ellipsoid, or None for None."""
    if geometry is None:
        return None
    # pyproj signs the area by ring orientation, so exteriors are made counter-clockwise first.
    parts = [orient(polygon, sign=1.0) for polygon in shapely.get_parts(geometry)]
    area_m2, _perimeter_m = _GEOD.geometry_area_perimeter(MultiPolygon(parts))
    return abs(area_m2) / 1e6


def data_centre(lons: np.ndarray, lats: np.ndarray) -> tuple[float, float]:
    """Return the (longitude, latitude) centre of points: their mean as unit vectors on the sphere.

    Averaging vectors instead of degrees keeps points on both sides of the antimeridian from pulling the
    centre to longitude 0.
    """
    lon_rad = np.radians(np.asarray(lons, dtype=float))
    lat_rad = np.radians(np.asarray(lats, dtype=float))
    x = np.mean(np.cos(lat_rad) * np.cos(lon_rad))
    y = np.mean(np.cos(lat_rad) * np.sin(lon_rad))
    z = np.mean(np.sin(lat_rad))
    return float(np.degrees(np.arctan2(y, x))), float(np.degrees(np.arctan2(z, np.hypot(x, y))))


def local_equal_area_crs(lons: np.ndarray, lats: np.ndarray) -> pyproj.CRS:
    """Return a Lambert azimuthal equal-area CRS in metres, centred on the points (see ``data_centre``)."""
    lon_0, lat_0 = data_centre(lons, lats)
    return pyproj.CRS.from_proj4(
        f"+proj=laea +lat_0={lat_0:.6f} +lon_0={lon_0:.6f} +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
    )


def project_geometry(geometry: shapely.Geometry, source: pyproj.CRS | str, target: pyproj.CRS | str) -> shapely.Geometry:
    """Transform every vertex of ``geometry`` between two CRSs (x = longitude or easting)."""
    transformer = _transformer(source, target)

    def transform(coordinates: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coordinates[:, 0], coordinates[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geometry, transform)


def project_points(x: np.ndarray, y: np.ndarray, source: pyproj.CRS | str,
                   target: pyproj.CRS | str) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays between two CRSs (x = longitude or easting)."""
    return _transformer(source, target).transform(x, y)


@functools.lru_cache(maxsize=16)
def _transformer(source: pyproj.CRS | str, target: pyproj.CRS | str) -> pyproj.Transformer:
    # Building a transformer takes about 14 ms; a map projects one geometry per territory.
    return pyproj.Transformer.from_crs(source, target, always_xy=True)


@functools.cache
def load_us_outline() -> Polygon | MultiPolygon:
    """Load the simplified US land outline (EPSG:4326) shipped in data/us_outline.geojson."""
    collection = json.loads(US_OUTLINE_PATH.read_text(encoding="utf-8"))
    parts = [shape(feature["geometry"]) for feature in collection["features"]]
    outline = clean_polygonal(shapely.union_all(parts))
    if outline is None:
        raise ValueError(f"{US_OUTLINE_PATH} contains no polygon; rebuild it with data/make_us_outline.py")
    return outline


def _validate_inputs(assignments: pd.DataFrame, reps: pd.DataFrame) -> list[str]:
    missing = [column for column in ("account_id", "rep_id", "potential", "lat", "lon") if column not in assignments]
    if missing:
        raise ValueError(f"assignments is missing the column(s) {missing}; found {list(assignments.columns)}")
    missing = [column for column in ("rep_id", "lat", "lon") if column not in reps]
    if missing:
        raise ValueError(f"reps is missing the column(s) {missing}; found {list(reps.columns)}")

    rep_ids = [str(rep_id) for rep_id in reps["rep_id"]]
    duplicates = sorted({rep_id for rep_id in rep_ids if rep_ids.count(rep_id) > 1})
    if duplicates:
        raise ValueError(f"reps lists the rep_id(s) {duplicates} more than once; each rep needs one row")

    assigned = assignments["rep_id"].dropna().astype(str)
    unknown = sorted(set(assigned) - set(rep_ids))
    if unknown:
        raise ValueError(
            f"rep_id(s) {unknown[:10]} in assignments not found in reps; add those reps or fix the assignments"
        )
    return rep_ids


def _assigned_located_accounts(assignments: pd.DataFrame) -> pd.DataFrame:
    """Return the accounts that have both a rep and a location, with potential as float (NaN read as 0)."""
    located = np.isfinite(assignments["lat"].astype(float)) & np.isfinite(assignments["lon"].astype(float))
    accounts = assignments.loc[located & assignments["rep_id"].notna(), ["account_id", "rep_id", "potential", "lat", "lon"]]
    accounts = accounts.reset_index(drop=True)
    accounts["rep_id"] = accounts["rep_id"].astype(str)
    accounts["potential"] = pd.to_numeric(accounts["potential"], errors="coerce").fillna(0.0).astype(float)
    accounts["lat"] = accounts["lat"].astype(float)
    accounts["lon"] = accounts["lon"].astype(float)

    null_island = int(((accounts["lat"] == 0.0) & (accounts["lon"] == 0.0)).sum())
    if null_island:
        logger.warning("%d accounts are located at latitude 0, longitude 0, a usual placeholder for a failed "
                       "geocode; their territory will reach into the Gulf of Guinea", null_island)
    return accounts


def _owner_by_potential(accounts: pd.DataFrame, key: str) -> pd.Series:
    """Return, per value of ``key``, the rep with the most potential there; ties go to the lower rep_id."""
    totals = accounts.groupby([key, "rep_id"], sort=False)["potential"].sum().reset_index()
    totals = totals.sort_values([key, "potential", "rep_id"], ascending=[True, False, True], kind="mergesort")
    return totals.drop_duplicates(key, keep="first").set_index(key)["rep_id"]


def _count_accounts_outside(geometry: Polygon | MultiPolygon | None, accounts: pd.DataFrame) -> int:
    if accounts.empty:
        return 0
    if geometry is None:
        return len(accounts)
    points = shapely.points(accounts["lon"].to_numpy(), accounts["lat"].to_numpy())
    return int((~shapely.covers(geometry, points)).sum())


# --- boundary layer -------------------------------------------------------------------------------------


def _read_boundaries(boundaries: str | Path | geopandas.GeoDataFrame) -> geopandas.GeoDataFrame:
    """Read a unit layer and return its valid polygons in EPSG:4326, one row per unit, in file order."""
    if isinstance(boundaries, geopandas.GeoDataFrame):
        layer = boundaries.copy()
        source = "the boundary GeoDataFrame"
    else:
        layer = geopandas.read_file(boundaries)
        source = str(boundaries)

    if layer.crs is None:
        # GeoJSON (RFC 7946) and TopoJSON files often carry no CRS; both are longitude/latitude in practice.
        logger.warning("%s has no CRS; reading it as EPSG:4326 longitude/latitude", source)
        layer = layer.set_crs(WGS84)
    layer = layer.to_crs(WGS84)

    geometries = [clean_polygonal(geometry) for geometry in layer.geometry]
    units = geopandas.GeoDataFrame({"geometry": geometries}, geometry="geometry", crs=WGS84)
    dropped = int(units.geometry.isna().sum())
    if dropped:
        logger.warning("%s: %d of %d units have no polygon area and are ignored", source, dropped, len(units))
    return units[units.geometry.notna()].reset_index(drop=True)


def _territories_from_boundaries(accounts: pd.DataFrame, units: geopandas.GeoDataFrame) -> dict[str, shapely.Geometry]:
    """Give each unit to the rep with the most potential in it and union each rep's units.

    A point on an edge shared by several units joins the unit that comes first in the boundary layer's row
    order. The rule depends only on the file, so the same inputs always give the same territories.
    """
    if accounts.empty or units.empty:
        return {}
    points = shapely.points(accounts["lon"].to_numpy(), accounts["lat"].to_numpy())
    # "intersects" is true for a point inside a polygon or on its edge ("within" would miss edge points).
    account_index, unit_index = units.sindex.query(points, predicate="intersects")
    pairs = pd.DataFrame({"account": account_index, "unit": unit_index}).sort_values(["account", "unit"])
    first_unit = pairs.drop_duplicates("account", keep="first").set_index("account")["unit"]

    joined = accounts.assign(unit=first_unit.reindex(range(len(accounts))).to_numpy())
    outside = int(joined["unit"].isna().sum())
    if outside:
        logger.warning("%d located accounts lie in no unit of the boundary layer", outside)
    joined = joined.dropna(subset=["unit"]).astype({"unit": int})

    owners = _owner_by_potential(joined, "unit")
    logger.info("boundary layer: %d units, %d with accounts, %d unassigned",
                len(units), len(owners), len(units) - len(owners))
    geometries = {}
    for rep_id, rep_units in owners.groupby(owners, sort=False):
        geometries[rep_id] = shapely.union_all(units.geometry.iloc[rep_units.index.to_numpy()].to_numpy())
    return geometries


# --- Voronoi cells --------------------------------------------------------------------------------------


def _territories_from_voronoi(
    accounts: pd.DataFrame, reps: pd.DataFrame, outline: shapely.Geometry | None
) -> dict[str, shapely.Geometry]:
    """Give each distinct account location its Voronoi cell and union each rep's cells.

    A location shared by accounts of several reps goes to the rep with the most potential there (ties:
    lower rep_id). The other reps' accounts at that location then lie outside their territory.
    """
    if accounts.empty:
        return {}
    locations = accounts.groupby(["lon", "lat"], sort=True).size().reset_index()[["lon", "lat"]]
    location_keys = pd.MultiIndex.from_frame(locations)
    accounts = accounts.assign(location=location_keys.get_indexer(pd.MultiIndex.from_frame(accounts[["lon", "lat"]])))
    owners = _owner_by_potential(accounts, "location")

    homes = reps.loc[np.isfinite(reps["lat"].astype(float)) & np.isfinite(reps["lon"].astype(float)), ["lon", "lat"]]
    all_lons = np.concatenate([locations["lon"].to_numpy(), homes["lon"].to_numpy(dtype=float)])
    all_lats = np.concatenate([locations["lat"].to_numpy(), homes["lat"].to_numpy(dtype=float)])
    crs = local_equal_area_crs(all_lons, all_lats)
    to_local = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)
    xs, ys = to_local.transform(all_lons, all_lats)
    location_points = shapely.points(xs[: len(locations)], ys[: len(locations)])
    reach = CLIP_BUFFER_KM * 1000.0
    home_discs = shapely.buffer(shapely.points(xs[len(locations):], ys[len(locations):]), reach,
                                quad_segs=DISC_QUADRANT_SEGMENTS)

    land = _land_clip(shapely.points(xs, ys), location_points, crs, outline)
    extent = shapely.box(xs.min() - reach, ys.min() - reach, xs.max() + reach, ys.max() + reach)
    cells = _voronoi_cells(location_points, extent)
    far = _reaching_beyond(cells, location_points, reach)
    # Only the cells that reach beyond their own location's disc need clipping, and within such a
    # cell only its own disc and the home discs count, so these discs suffice.
    far_discs = shapely.buffer(location_points[sorted(far)], reach, quad_segs=DISC_QUADRANT_SEGMENTS)
    reach_region = shapely.union_all(np.concatenate([far_discs, home_discs]))
    shapely.prepare(reach_region)
    if land is not None:
        shapely.prepare(land)
    geometries, area_m2 = {}, 0.0
    for rep_id, rep_locations in owners.groupby(owners, sort=False):
        located = [location for location in rep_locations.index if location in cells]
        if not located:
            continue
        clipped = _clipped_cells([cells[location] for location in located if location not in far],
                                 [cells[location] for location in located if location in far], reach_region)
        if clipped is None:
            logger.info("territory of %s: the overlay areas do not add up, so it is clipped to the union of its "
                        "own discs instead", rep_id)
            cell_union = shapely.coverage_union_all([cells[location] for location in located])
            discs = shapely.buffer(location_points[located], reach, quad_segs=DISC_QUADRANT_SEGMENTS)
            clipped = cell_union.intersection(shapely.union_all(np.concatenate([discs, home_discs])))
        if land is not None:
            clipped = clipped.intersection(land)
        if clipped.is_empty:
            continue
        area_m2 += clipped.area
        densified = _densified(clipped, MAX_SEGMENT_M)
        # NOTE: a territory crossing the antimeridian (western Aleutians) is not split there, so its
        # longitudes jump from +180 to -180 and the polygon comes out wrong in EPSG:4326.
        geometries[rep_id] = project_geometry(densified, crs, WGS84)
    logger.info("Voronoi: %d accounts at %d distinct locations, territories of %.0f km2 in all",
                len(accounts), len(locations), area_m2 / 1e6)
    return geometries


def _clipped_cells(inside: list[shapely.Geometry], reaching: list[shapely.Geometry],
                   reach_region: shapely.Geometry) -> shapely.Geometry | None:
    """Return the union of the cells `inside` their own disc and of the cells `reaching` beyond it,
    clipped to `reach_region`; None when the areas show that an overlay went wrong.

    The two parts meet only on cell edges, whose points the clip keeps where they lie within the
    discs, so their union keeps their summed area. GEOS 3.14 has lost whole parts in overlays of nearly
    coincident edges, which the clip can leave where a disc's sides cross such an edge.
    """
    # Voronoi cells tile the plane, so a coverage union joins them fast.
    inner = shapely.coverage_union_all(inside) if inside else Polygon()
    outer = shapely.coverage_union_all(reaching).intersection(reach_region) if reaching else Polygon()
    if inner.is_empty or outer.is_empty:
        return outer if inner.is_empty else inner
    clipped = inner.union(outer)
    expected = inner.area + outer.area
    if not math.isclose(clipped.area, expected, rel_tol=1e-7, abs_tol=AREA_CHECK_M2):
        return None
    return clipped


def _reaching_beyond(cells: dict[int, shapely.Geometry], location_points: np.ndarray, reach: float) -> set[int]:
    """Return the locations whose cell reaches farther than `reach` from them.

    A point of a location's cell lies within `reach` of some account location only if it lies within
    it of the cell's own location, the nearest one. So the other cells lie inside the union of every
    location's disc and need no clipping.
    """
    if not cells:
        return set()
    keys = np.fromiter(cells, dtype=np.int64, count=len(cells))
    polygons = np.array([cells[key] for key in keys], dtype=object)
    coordinates, owner = shapely.get_coordinates(polygons, return_index=True)
    centres = shapely.get_coordinates(location_points[keys])
    distance = np.hypot(coordinates[:, 0] - centres[owner, 0], coordinates[:, 1] - centres[owner, 1])
    farthest = np.zeros(len(keys))
    np.maximum.at(farthest, owner, distance)
    # A convex cell whose corners all lie within the disc polygon's inscribed circle lies inside it.
    inscribed = reach * np.cos(np.pi / (4 * DISC_QUADRANT_SEGMENTS))
    return {int(key) for key in keys[farthest > inscribed]}


def _densified(geometry: shapely.Geometry, max_segment: float) -> Polygon | MultiPolygon:
    """Return the polygon parts of `geometry` with points added so that no edge is longer than `max_segment`.

    Each ring is densified on its own. shapely.segmentize on a whole polygon also repairs the result,
    and on a valid territory with holes, whose densified edges crossed by a rounding error, that repair
    left almost nothing (GEOS 3.14). A crossing left here is repaired after the projection.
    """
    polygons = []
    for part in shapely.get_parts(geometry):
        pieces = part.geoms if isinstance(part, MultiPolygon) else [part]
        for polygon in pieces:
            if isinstance(polygon, Polygon) and not polygon.is_empty:
                polygons.append(Polygon(shapely.segmentize(polygon.exterior, max_segment),
                                        [shapely.segmentize(ring, max_segment) for ring in polygon.interiors]))
    return polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)


def _land_clip(
    points: np.ndarray, location_points: np.ndarray, crs: pyproj.CRS, outline: shapely.Geometry | None
) -> shapely.Geometry | None:
    """Return the outline (in ``crs``) that clips the Voronoi cells besides the discs, or None for none.

    A given ``outline`` always clips them. Without one, the US outline clips them only when every point
    (account locations and home bases) is within ``US_OUTLINE_SLACK_KM`` of US land, so data abroad
    keeps the plain discs. The US outline is first widened by ``OFFSHORE_KEEP_KM`` discs around the
    account locations that lie off it.
    """
    if outline is not None:
        return project_geometry(outline, WGS84, crs)

    us_land = project_geometry(load_us_outline(), WGS84, crs)
    shapely.prepare(us_land)
    if not bool(np.all(shapely.dwithin(us_land, points, US_OUTLINE_SLACK_KM * 1000.0))):
        logger.info("some points lie outside the US; Voronoi cells are clipped to the %g km discs only",
                    CLIP_BUFFER_KM)
        return None

    offshore = location_points[~shapely.contains(us_land, location_points)]
    if len(offshore):
        us_land = shapely.union_all([us_land, *shapely.buffer(offshore, OFFSHORE_KEEP_KM * 1000.0)])
    return us_land


def _voronoi_cells(location_points: np.ndarray, region: shapely.Geometry) -> dict[int, shapely.Geometry]:
    """Return each location's Voronoi cell, keyed by location position. The cells reach at least as far
    as ``region``; the caller clips them to their discs.

    shapely does not promise to return cells in input order, so each cell is matched to the location
    point that lies inside it.
    """
    if len(location_points) == 1:
        return {0: region}

    diagram = shapely.voronoi_polygons(MultiPoint(list(location_points)), extend_to=region)
    raw_cells = shapely.get_parts(diagram)
    point_index, cell_index = shapely.STRtree(raw_cells).query(location_points, predicate="within")

    cells = {}
    for location, cell in zip(point_index.tolist(), cell_index.tolist()):
        cells[location] = raw_cells[cell]
    unmatched = len(location_points) - len(cells)
    if unmatched:
        # NOTE: not observed so far. It would take two distinct locations that coincide after projection.
        logger.warning("%d account locations got no Voronoi cell; their accounts count as outside", unmatched)
    return cells
