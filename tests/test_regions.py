"""Tests of optimizer.regions: territory polygons from a boundary layer or from Voronoi cells."""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import random
from pathlib import Path

import geopandas
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
import zipcodes
from shapely.geometry import GeometryCollection, LineString, Point, Polygon, box

from optimizer import regions
from optimizer.regions import (
    CLIP_BUFFER_KM,
    MAX_SEGMENT_M,
    _densified,
    build_territories,
    clean_polygonal,
    geodesic_area_km2,
    load_us_outline,
    local_equal_area_crs,
    project_geometry,
)

GEOD = pyproj.Geod(ellps="WGS84")
REPO = Path(__file__).resolve().parent.parent


def make_accounts(rows: list[tuple[str, str | None, float, float, float]]) -> pd.DataFrame:
    """Build an assignments frame from (account_id, rep_id, potential, lon, lat) rows."""
    return pd.DataFrame(
        [
            {"account_id": account_id, "rep_id": rep_id, "potential": potential, "lon": lon, "lat": lat}
            for account_id, rep_id, potential, lon, lat in rows
        ]
    )


def make_reps(rep_ids: list[str], lon: float = float("nan"), lat: float = float("nan")) -> pd.DataFrame:
    return pd.DataFrame({"rep_id": rep_ids, "name": [f"Rep {rep_id}" for rep_id in rep_ids], "lon": lon, "lat": lat})


def write_layer(tmp_path: Path, squares: list[Polygon], crs: str = "EPSG:4326") -> Path:
    layer = geopandas.GeoDataFrame({"unit": [f"U{i}" for i in range(len(squares))]}, geometry=squares, crs="EPSG:4326")
    path = tmp_path / "units.geojson"
    layer.to_crs(crs).to_file(path, driver="GeoJSON")
    return path


def territory(territories: geopandas.GeoDataFrame, rep_id: str):
    return territories.set_index("rep_id").loc[rep_id]


def geod_area_km2(polygon: Polygon) -> float:
    return abs(GEOD.geometry_area_perimeter(polygon)[0]) / 1e6


def assert_same_area(actual, expected, tolerance: float = 1e-9) -> None:
    assert actual is not None
    assert actual.symmetric_difference(expected).area < tolerance


# A 3 x 2 grid of 1-degree squares; U4 (the right column, bottom) never gets an account.
A, B, C, D, E = box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 1, 2), box(1, 1, 2, 2), box(2, 0, 3, 1)


# --- boundary layer -------------------------------------------------------------------------------------


def test_boundary_units_go_to_most_potential(tmp_path):
    path = write_layer(tmp_path, [A, B, C, D, E])
    accounts = make_accounts([
        ("a1", "r1", 10.0, 0.5, 0.5),   # A
        ("a2", "r1", 10.0, 0.5, 1.5),   # C
        ("a3", "r2", 10.0, 1.5, 0.5),   # B
        ("a4", "r2", 5.0, 1.5, 1.5),    # D: r2 has 5 USD of potential here
        ("a5", "r1", 3.0, 1.6, 1.6),    # D: r1 holds only 3 USD, so D goes to r2
    ])
    territories = build_territories(accounts, make_reps(["r1", "r2"]), boundaries=path)

    r1, r2 = territory(territories, "r1"), territory(territories, "r2")
    assert_same_area(r1.geometry, box(0, 0, 1, 2))
    assert_same_area(r2.geometry, box(1, 0, 2, 2))
    assert r1.area_km2 == pytest.approx(geod_area_km2(box(0, 0, 1, 2)), rel=1e-9)
    assert r2.area_km2 == pytest.approx(geod_area_km2(box(1, 0, 2, 2)), rel=1e-9)
    assert r1.accounts_outside == 1
    assert r2.accounts_outside == 0
    assert territories.crs.to_epsg() == 4326


def test_boundary_unit_without_accounts_unassigned(tmp_path):
    path = write_layer(tmp_path, [A, B, C, D, E])
    accounts = make_accounts([("a1", "r1", 1.0, 0.5, 0.5), ("a2", "r2", 1.0, 1.5, 0.5)])
    territories = build_territories(accounts, make_reps(["r1", "r2"]), boundaries=path)

    union = shapely.union_all(territories.geometry.dropna().to_numpy())
    assert union.intersection(E).area == 0.0
    assert union.intersection(C).area == 0.0


def test_boundary_border_point_joins_first_unit(tmp_path):
    # a1 lies on the edge shared by A and B; the rule gives it to the unit that comes first in the layer.
    accounts = make_accounts([("a1", "r1", 10.0, 1.0, 0.5), ("a2", "r2", 1.0, 1.5, 0.5)])
    reps = make_reps(["r1", "r2"])

    a_first = build_territories(accounts, reps, boundaries=write_layer(tmp_path, [A, B]))
    assert_same_area(territory(a_first, "r1").geometry, A)
    assert_same_area(territory(a_first, "r2").geometry, B)

    b_first = build_territories(accounts, reps, boundaries=write_layer(tmp_path, [B, A]))
    assert_same_area(territory(b_first, "r1").geometry, B)
    assert territory(b_first, "r2").geometry is None


def test_boundary_tie_goes_to_lower_rep_id(tmp_path):
    accounts = make_accounts([("a1", "r2", 7.0, 0.4, 0.5), ("a2", "r1", 7.0, 0.6, 0.5)])
    territories = build_territories(accounts, make_reps(["r2", "r1"]), boundaries=write_layer(tmp_path, [A]))

    assert list(territories["rep_id"]) == ["r2", "r1"]
    assert_same_area(territory(territories, "r1").geometry, A)
    assert territory(territories, "r2").geometry is None
    assert territory(territories, "r2").area_km2 is None
    # The point of a1 is inside A, which r1 owns, so it is not inside r2's (empty) territory.
    assert territory(territories, "r2").accounts_outside == 1


def test_boundary_layer_reprojected(tmp_path):
    path = write_layer(tmp_path, [A, B], crs="EPSG:3857")
    accounts = make_accounts([("a1", "r1", 1.0, 0.5, 0.5), ("a2", "r2", 1.0, 1.5, 0.5)])
    territories = build_territories(accounts, make_reps(["r1", "r2"]), boundaries=path)

    assert territories.crs.to_epsg() == 4326
    assert_same_area(territory(territories, "r1").geometry, A, tolerance=1e-9)
    assert_same_area(territory(territories, "r2").geometry, B, tolerance=1e-9)


def test_boundary_geodataframe_and_account_outside_layer():
    layer = geopandas.GeoDataFrame(geometry=[A], crs="EPSG:4326")
    accounts = make_accounts([("a1", "r1", 1.0, 0.5, 0.5), ("a2", "r1", 1.0, 5.0, 5.0)])
    territories = build_territories(accounts, make_reps(["r1"]), boundaries=layer)

    assert_same_area(territory(territories, "r1").geometry, A)
    assert territory(territories, "r1").accounts_outside == 1


# --- Voronoi cells --------------------------------------------------------------------------------------


def assert_no_overlap(territories: geopandas.GeoDataFrame, relative: float = 1e-9) -> None:
    geometries = territories.geometry.dropna().to_list()
    for first, second in itertools.combinations(geometries, 2):
        smaller = min(first.area, second.area)
        assert first.intersection(second).area < relative * smaller


def test_voronoi_square_corners_two_reps():
    accounts = make_accounts([
        ("w_south", "r1", 1.0, -100.0, 40.0),
        ("w_north", "r1", 1.0, -100.0, 41.0),
        ("e_south", "r2", 1.0, -99.0, 40.0),
        ("e_north", "r2", 1.0, -99.0, 41.0),
    ])
    territories = build_territories(accounts, make_reps(["r1", "r2"]))

    for rep_id in ("r1", "r2"):
        geometry = territory(territories, rep_id).geometry
        assert geometry.is_valid
        assert geometry.geom_type in ("Polygon", "MultiPolygon")
        for row in accounts.itertuples():
            assert geometry.contains(Point(row.lon, row.lat)) == (row.rep_id == rep_id)
    assert list(territories["accounts_outside"]) == [0, 0]
    assert_no_overlap(territories)
    # The split runs halfway between the two columns of accounts.
    assert territory(territories, "r1").geometry.bounds[2] == pytest.approx(-99.5, abs=0.05)


def test_voronoi_colocated_accounts_count_outside():
    accounts = make_accounts([
        ("a1", "r1", 10.0, -95.0, 38.0),
        ("a2", "r2", 4.0, -95.0, 38.0),   # same point as a1 but less potential: outside r2's territory
        ("a3", "r2", 1.0, -94.0, 38.0),
    ])
    territories = build_territories(accounts, make_reps(["r1", "r2"]))

    assert territory(territories, "r1").geometry.contains(Point(-95.0, 38.0))
    assert territory(territories, "r1").accounts_outside == 0
    assert territory(territories, "r2").accounts_outside == 1


def test_voronoi_colocated_tie_lower_rep_id():
    accounts = make_accounts([("a1", "r2", 5.0, -95.0, 38.0), ("a2", "r1", 5.0, -95.0, 38.0)])
    territories = build_territories(accounts, make_reps(["r1", "r2"]))

    assert territory(territories, "r1").geometry is not None
    assert territory(territories, "r2").geometry is None
    assert territory(territories, "r2").accounts_outside == 1


def test_voronoi_rep_without_accounts_has_no_area():
    accounts = make_accounts([("a1", "r1", 1.0, -95.0, 38.0), ("a2", "r1", 1.0, -94.0, 38.0)])
    reps = make_reps(["r1", "idle"], lon=-96.0, lat=38.0)
    territories = build_territories(accounts, reps)

    idle = territory(territories, "idle")
    assert idle.geometry is None
    assert idle.area_km2 is None
    assert idle.accounts_outside == 0


def test_voronoi_no_located_accounts():
    accounts = make_accounts([("a1", "r1", 1.0, float("nan"), float("nan")), ("a2", None, 1.0, -95.0, 38.0)])
    territories = build_territories(accounts, make_reps(["r1"]))

    assert territories.geometry.isna().all()
    assert list(territories["accounts_outside"]) == [0]


def test_voronoi_single_location_gets_whole_disc():
    # One inland point: the region is the 75 km disc (a 32-gon), whole because it lies inside the US.
    accounts = make_accounts([("a1", "r1", 1.0, -100.0, 40.0), ("a2", "r1", 2.0, -100.0, 40.0)])
    territories = build_territories(accounts, make_reps(["r1"], lon=-100.0, lat=40.0))

    radius_km = CLIP_BUFFER_KM
    polygon_area_km2 = 16 * math.sin(2 * math.pi / 32) * radius_km**2
    assert territory(territories, "r1").area_km2 == pytest.approx(polygon_area_km2, rel=1e-3)


def test_voronoi_coast_clipped_to_us_land():
    # Miami: east of it lies the Atlantic, so the US outline removes a large part of the disc.
    accounts = make_accounts([("a1", "r1", 1.0, -80.19, 25.76)])
    territories = build_territories(accounts, make_reps(["r1"]))

    disc_km2 = 16 * math.sin(2 * math.pi / 32) * CLIP_BUFFER_KM**2
    assert territory(territories, "r1").area_km2 < 0.8 * disc_km2
    assert territory(territories, "r1").accounts_outside == 0


def test_voronoi_outside_us_keeps_buffer():
    accounts = make_accounts([("a1", "r1", 1.0, 10.0, 50.0), ("a2", "r2", 1.0, 11.0, 50.0)])
    territories = build_territories(accounts, make_reps(["r1", "r2"]))

    crs = local_equal_area_crs(np.array([10.0, 11.0]), np.array([50.0, 50.0]))
    centres = project_geometry(shapely.MultiPoint([(10.0, 50.0), (11.0, 50.0)]), "EPSG:4326", crs)
    expected_km2 = shapely.union_all(shapely.buffer(shapely.get_parts(centres), CLIP_BUFFER_KM * 1000)).area / 1e6
    assert territories["area_km2"].sum() == pytest.approx(expected_km2, rel=1e-3)


def test_voronoi_home_disc_keeps_cell_parts():
    """Outside the US the cells are clipped to the discs around accounts and home bases only.

    The accounts lie 4 degrees of longitude apart (about 290 km), so their cells reach beyond their own
    discs, and the home base halfway between keeps the parts of both cells within its disc.
    """
    accounts = make_accounts([("a1", "r1", 1.0, 10.0, 50.0), ("a2", "r2", 1.0, 14.0, 50.0)])
    reps = pd.DataFrame({"rep_id": ["r1", "r2"], "lon": [12.0, float("nan")], "lat": [50.0, float("nan")]})
    territories = build_territories(accounts, reps)

    crs = local_equal_area_crs(np.array([10.0, 14.0, 12.0]), np.array([50.0, 50.0, 50.0]))
    centres = project_geometry(shapely.MultiPoint([(10.0, 50.0), (14.0, 50.0), (12.0, 50.0)]), "EPSG:4326", crs)
    discs = shapely.buffer(shapely.get_parts(centres), CLIP_BUFFER_KM * 1000)
    union_km2 = shapely.union_all(discs).area / 1e6
    # Each rep gets its own disc and the half of the home disc on its side: half of the union.
    assert territory(territories, "r1").area_km2 == pytest.approx(union_km2 / 2, rel=1e-3)
    assert territory(territories, "r2").area_km2 == pytest.approx(union_km2 / 2, rel=1e-3)
    # Without the home base, the two discs alone.
    alone = build_territories(accounts, make_reps(["r1", "r2"]))
    own_km2 = shapely.union_all(discs[:2]).area / 1e6
    assert alone["area_km2"].sum() == pytest.approx(own_km2, rel=1e-3)


def test_voronoi_clip_matches_union_of_discs():
    """Three accounts abroad, one rep: the territory is the union of their discs.

    An earlier way of clipping, which cut each cell's part beyond its disc and joined the cut parts,
    gave 67,841 km2 here: the overlay of nearly coincident edges lost parts of the cut.
    """
    points = [(9.611, 49.796), (9.007, 49.961), (9.845, 51.05)]
    accounts = make_accounts([(f"a{k}", "r1", 1.0, lon, lat) for k, (lon, lat) in enumerate(points)])
    territories = build_territories(accounts, make_reps(["r1"]))

    crs = local_equal_area_crs(np.array([lon for lon, _ in points]), np.array([lat for _, lat in points]))
    centres = project_geometry(shapely.MultiPoint(points), "EPSG:4326", crs)
    union_km2 = shapely.union_all(shapely.buffer(shapely.get_parts(centres), CLIP_BUFFER_KM * 1000)).area / 1e6
    assert territory(territories, "r1").area_km2 == pytest.approx(union_km2, rel=1e-3)


def test_voronoi_overlay_fallback_same_territories(monkeypatch):
    """When the overlay's area check fails, the territory is clipped to the union of its own discs,
    which gives the same polygons."""
    accounts = make_accounts([("a1", "r1", 1.0, 10.0, 50.0), ("a2", "r1", 1.0, 10.5, 50.2),
                              ("a3", "r2", 1.0, 14.0, 50.0)])
    reps = pd.DataFrame({"rep_id": ["r1", "r2"], "lon": [12.0, float("nan")], "lat": [50.0, float("nan")]})
    usual = build_territories(accounts, reps)
    monkeypatch.setattr(regions, "_clipped_cells", lambda inside, reaching, region: None)
    fallback = build_territories(accounts, reps)

    for rep_id in ("r1", "r2"):
        assert territory(fallback, rep_id).area_km2 == pytest.approx(territory(usual, rep_id).area_km2, rel=1e-6)
        assert territory(fallback, rep_id).geometry.symmetric_difference(
            territory(usual, rep_id).geometry).area < 1e-6 * territory(usual, rep_id).geometry.area


def test_densified_keeps_territory_with_holes():
    """A clipped territory (local equal-area metres, from a 20,000-account plan) whose densified edges
    cross by a rounding error. With GEOS 3.14, shapely.segmentize on the whole polygon left almost no
    area. Densified ring by ring, it keeps its area."""
    polygon = shapely.from_wkb(bytes.fromhex((REPO / "tests" / "data" / "territory_with_holes.wkb.hex").read_text()))
    assert polygon.is_valid

    densified = _densified(polygon, MAX_SEGMENT_M)

    assert len(densified.interiors) == len(polygon.interiors) == 8
    assert densified.area == pytest.approx(polygon.area, rel=1e-12)
    assert shapely.get_num_coordinates(densified) > shapely.get_num_coordinates(polygon)
    # The densified edges cross by a rounding error, and the repair after the projection keeps the area.
    assert clean_polygonal(densified).area == pytest.approx(polygon.area, rel=1e-9)
    longest = max(np.hypot(*np.diff(shapely.get_coordinates(ring), axis=0).T).max()
                  for ring in [densified.exterior, *densified.interiors])
    assert longest <= MAX_SEGMENT_M


def test_voronoi_given_outline_clips():
    outline = box(-101.0, 39.0, -99.5, 41.0)
    accounts = make_accounts([("a1", "r1", 1.0, -100.5, 40.0), ("a2", "r2", 1.0, -99.7, 40.0)])
    territories = build_territories(accounts, make_reps(["r1", "r2"]), outline=outline)

    union = shapely.union_all(territories.geometry.dropna().to_numpy())
    assert union.difference(outline.buffer(1e-6)).is_empty
    assert_no_overlap(territories)


def test_voronoi_collinear_locations():
    # Points on the centre meridian of the projection are collinear there.
    accounts = make_accounts([
        ("a1", "r1", 1.0, -100.0, 39.0),
        ("a2", "r2", 1.0, -100.0, 40.0),
        ("a3", "r3", 1.0, -100.0, 41.0),
    ])
    territories = build_territories(accounts, make_reps(["r1", "r2", "r3"]))

    for row in accounts.itertuples():
        geometry = territory(territories, row.rep_id).geometry
        assert geometry.is_valid
        assert geometry.contains(Point(row.lon, row.lat))
    assert list(territories["accounts_outside"]) == [0, 0, 0]
    assert_no_overlap(territories)


def test_unknown_rep_id_rejected():
    accounts = make_accounts([("a1", "ghost", 1.0, -100.0, 40.0)])
    with pytest.raises(ValueError, match="ghost"):
        build_territories(accounts, make_reps(["r1"]))


def test_voronoi_zip_centroids_no_overlap():
    rng = random.Random(20240501)
    centroids = [
        (float(record["long"]), float(record["lat"]))
        for record in zipcodes.list_all()
        if record["zip_code_type"] == "STANDARD" and record["state"] not in ("AK", "HI", "PR")
        # The package stores a few ZIP codes at latitude 0, longitude 0 when their centroid is unknown.
        and float(record["lat"]) != 0.0
    ]
    points = rng.sample(centroids, 300)
    homes = rng.sample(points, 5)
    rep_ids = [f"rep{i}" for i in range(5)]

    rows = []
    for index, (lon, lat) in enumerate(points):
        nearest = min(range(5), key=lambda i: (homes[i][0] - lon) ** 2 + (homes[i][1] - lat) ** 2)
        rows.append((f"z{index}", rep_ids[nearest], rng.uniform(1e3, 1e6), lon, lat))
    accounts = make_accounts(rows)
    reps = pd.DataFrame({"rep_id": rep_ids, "lon": [h[0] for h in homes], "lat": [h[1] for h in homes]})
    territories = build_territories(accounts, reps)

    assert territories.geometry.notna().all()
    assert territories.geometry.is_valid.all()
    assert set(territories.geom_type) <= {"Polygon", "MultiPolygon"}
    assert_no_overlap(territories, relative=1e-6)
    assert territories["accounts_outside"].sum() == 0


# --- helpers --------------------------------------------------------------------------------------------


def test_clean_polygonal_drops_lines_and_empties():
    square = box(0, 0, 1, 1)
    assert clean_polygonal(GeometryCollection([square, LineString([(2, 2), (3, 3)])])).equals(square)
    assert clean_polygonal(LineString([(0, 0), (1, 1)])) is None
    assert clean_polygonal(Polygon()) is None
    assert clean_polygonal(None) is None

    bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    repaired = clean_polygonal(bowtie)
    assert repaired.is_valid
    assert repaired.area == pytest.approx(2.0)


def test_geodesic_area_one_degree_cell():
    # A 1 x 1 degree cell at the equator covers about 12,309 km2 on the WGS84 ellipsoid.
    assert geodesic_area_km2(box(0, 0, 1, 1)) == pytest.approx(12308.778, abs=0.01)
    clockwise = Polygon([(0, 0), (0, 1), (1, 1), (1, 0)])
    assert geodesic_area_km2(clockwise) == pytest.approx(12308.778, abs=0.01)
    assert geodesic_area_km2(None) is None


def test_us_outline_contains_cities():
    outline = load_us_outline()
    assert outline.is_valid
    for lon, lat in [(-87.63, 41.88), (-157.86, 21.31), (-149.90, 61.22), (-66.10, 18.45)]:
        assert outline.contains(Point(lon, lat)), (lon, lat)
    for lon, lat in [(-79.38, 43.65), (-99.13, 19.43), (-0.13, 51.51)]:
        assert not outline.contains(Point(lon, lat)), (lon, lat)
    assert (REPO / "data" / "us_outline.geojson").stat().st_size < 300_000


def test_topojson_decoder_delta_arcs():
    spec = importlib.util.spec_from_file_location("make_us_outline", REPO / "data" / "make_us_outline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Arc 0 walks three sides of a 2 x 1 rectangle in delta-encoded quantized steps; arc 1 closes it.
    # The second polygon runs arc 1 backwards (~1) and then arc 0 backwards (~0): the same ring reversed.
    topology = {
        "type": "Topology",
        "transform": {"scale": [0.5, 0.25], "translate": [10.0, 20.0]},
        "objects": {"land": {"type": "GeometryCollection", "geometries": [
            {"type": "Polygon", "arcs": [[0, 1]]},
        ]}},
        "arcs": [[[0, 0], [4, 0], [0, 4], [-4, 0]], [[0, 4], [0, -4]]],
    }
    land = module.decode_object(json.loads(json.dumps(topology)), "land")
    assert_same_area(land, box(10.0, 20.0, 12.0, 21.0))

    topology["objects"]["land"]["geometries"] = [{"type": "Polygon", "arcs": [[~1, ~0]]}]
    assert_same_area(module.decode_object(topology, "land"), box(10.0, 20.0, 12.0, 21.0))
