"""Tests of optimizer.geo.dissolve: one polygon per territory with parts, area, perimeter and compactness."""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas
import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from optimizer.errors import ConfigError, InputError
from optimizer.geo.dissolve import dissolve_territories
from optimizer.geo.units import geodesic_areas_km2, read_units
from optimizer.regions import geodesic_area_km2

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
IOWA_SHAPEFILE = DATA / "redistricting-iowa-counties" / "IA_counties.zip"
GEOD = pyproj.Geod(ellps="WGS84")


def read_layer(tmp_path: Path, units: dict[str, shapely.Geometry]):
    """Write {unit id: geometry} as a GeoJSON file and read it back as a unit layer."""
    frame = geopandas.GeoDataFrame({"unit_id": list(units)}, geometry=list(units.values()), crs="EPSG:4326")
    path = tmp_path / "units.geojson"
    frame.to_file(path)
    return read_units(path)


def row_of(territories: geopandas.GeoDataFrame, territory_id: str):
    return territories.set_index("territory_id").loc[territory_id]


def geodesic_perimeter_km(polygon: Polygon) -> float:
    return GEOD.geometry_area_perimeter(polygon)[1] / 1000.0


def test_two_squares_make_one_part(tmp_path):
    layer = read_layer(tmp_path, {"a": box(0, 0, 1, 1), "b": box(1, 0, 2, 1)})

    territories = dissolve_territories(layer, {"a": "T1", "b": "T1"}, ["T1"])

    territory = row_of(territories, "T1")
    # The union keeps the shared corners (1, 0) and (1, 1) as vertices, and edges are geodesics between vertices.
    union = Polygon([(0, 0), (1, 0), (2, 0), (2, 1), (1, 1), (0, 1)])
    assert territory["unit_count"] == 2
    assert territory["parts"] == 1
    assert territory["area_km2"] == pytest.approx(geodesic_area_km2(union), rel=1e-12)
    assert territory["perimeter_km"] == pytest.approx(geodesic_perimeter_km(union), rel=1e-12)
    assert territory["geometry"].normalize().equals(union.normalize())
    # A 2 x 1 rectangle scores 4 * pi * 2 / 6**2 = 0.698; near the equator degrees are nearly square.
    assert territory["polsby_popper"] == pytest.approx(4 * math.pi * 2 / 36, rel=0.01)


def test_polsby_popper_of_square_in_equal_area_projection(tmp_path):
    layer = read_layer(tmp_path, {"a": box(-93.5, 41.5, -93.0, 42.0)})

    territories = dissolve_territories(layer, {"a": "T1"}, ["T1"])

    # At 41.75 N a degree of longitude is 0.746 of a degree of latitude, so the cell is a 0.373 x 0.5
    # rectangle in local units: 4 * pi * 0.1865 / (2 * 0.873)**2 = 0.769.
    assert row_of(territories, "T1")["polsby_popper"] == pytest.approx(0.769, abs=0.002)


def test_corner_touching_units_are_two_parts(tmp_path):
    layer = read_layer(tmp_path, {"a": box(0, 0, 1, 1), "b": box(1, 1, 2, 2)})

    territories = dissolve_territories(layer, {"a": "T1", "b": "T1"}, ["T1"])

    assert row_of(territories, "T1")["parts"] == 2


def test_gap_inside_territory_is_filled(tmp_path):
    ring = {f"u{x}{y}": box(x, y, x + 1, y + 1) for x in range(3) for y in range(3) if (x, y) != (1, 1)}
    layer = read_layer(tmp_path, ring)
    assert len(layer.report.gaps) == 1

    territories = dissolve_territories(layer, {unit_id: "T1" for unit_id in ring}, ["T1"])

    geometry = row_of(territories, "T1")["geometry"]
    assert geometry.geom_type == "Polygon"
    assert len(geometry.interiors) == 0
    assert shapely.covers(geometry, box(1, 1, 2, 2))
    assert row_of(territories, "T1")["area_km2"] == pytest.approx(geodesic_area_km2(geometry), rel=1e-12)


def test_gap_between_two_territories_stays_open(tmp_path):
    ring = {f"u{x}{y}": box(x, y, x + 1, y + 1) for x in range(3) for y in range(3) if (x, y) != (1, 1)}
    layer = read_layer(tmp_path, ring)
    assignment = {unit_id: ("West" if unit_id.startswith("u0") else "East") for unit_id in ring}

    territories = dissolve_territories(layer, assignment, ["West", "East"])

    west, east = row_of(territories, "West")["geometry"], row_of(territories, "East")["geometry"]
    assert west.normalize().equals(box(0, 0, 1, 3).normalize())
    assert not east.intersects(box(1.1, 1.1, 1.9, 1.9))
    assert territories["area_km2"].sum() == pytest.approx(geodesic_areas_km2(layer.geometries).sum(), rel=1e-9)


def test_lake_inside_unit_stays_a_hole(tmp_path):
    lake = Polygon([(0, 0), (3, 0), (3, 3), (0, 3)], [[(1, 1), (2, 1), (2, 2), (1, 2)]])
    layer = read_layer(tmp_path, {"lake": lake, "east": box(3, 0, 4, 3)})

    territories = dissolve_territories(layer, {"lake": "T1", "east": "T1"}, ["T1"])

    assert len(row_of(territories, "T1")["geometry"].interiors) == 1


def test_snap_closes_crack_between_units(tmp_path):
    # The crack between a and b is 0.0005 degrees (56 m) wide and open at both ends.
    layer = read_layer(tmp_path, {"a": box(0, 0, 1, 1), "b": box(1.0005, 0, 2, 1)})

    plain = dissolve_territories(layer, {"a": "T1", "b": "T1"}, ["T1"])
    snapped = dissolve_territories(layer, {"a": "T1", "b": "T1"}, ["T1"], snap_km=0.1)

    assert row_of(plain, "T1")["parts"] == 2
    assert row_of(snapped, "T1")["parts"] == 1
    union = Polygon([(0, 0), (1.0005, 0), (2, 0), (2, 1), (1.0005, 1), (0, 1)])
    assert row_of(snapped, "T1")["geometry"].normalize().equals(union.normalize())


def test_territory_across_antimeridian_is_split(tmp_path):
    across = Polygon([(179.5, 0), (-179.5, 0), (-179.5, 1), (179.5, 1)])
    layer = read_layer(tmp_path, {"seam": across, "east": box(-179.5, 0, -179, 1)})

    territories = dissolve_territories(layer, {"seam": "Pacific", "east": "Pacific"}, ["Pacific"])

    territory = row_of(territories, "Pacific")
    geometry = territory["geometry"]
    assert isinstance(geometry, MultiPolygon)
    assert geometry.normalize().equals(MultiPolygon([box(179.5, 0, 180, 1), box(-180, 0, -179, 1)]).normalize())
    assert territory["parts"] == 1
    # The same shape 179.5 degrees west, with the vertices its units have; the cut at 180 is not perimeter.
    moved = Polygon([(0, 0), (0.5, 0), (1, 0), (1.5, 0), (1.5, 1), (1, 1), (0.5, 1), (0, 1)])
    assert territory["area_km2"] == pytest.approx(geodesic_area_km2(moved), rel=1e-9)
    assert territory["perimeter_km"] == pytest.approx(geodesic_perimeter_km(moved), rel=1e-9)


def test_geojson_output_follows_rfc7946(tmp_path):
    across = Polygon([(179.5, 0), (-179.5, 0), (-179.5, 1), (179.5, 1)])
    layer = read_layer(tmp_path, {"seam": across, "west": box(178, 0, 179.5, 1)})
    territories = dissolve_territories(layer, {"seam": "Pacific", "west": "Pacific"}, ["Pacific"])
    path = tmp_path / "territories.geojson"

    territories.to_file(path, driver="GeoJSON")

    feature = json.loads(path.read_text(encoding="utf-8"))["features"][0]
    assert feature["geometry"]["type"] == "MultiPolygon"
    for polygon in feature["geometry"]["coordinates"]:
        exterior = np.array(polygon[0])
        assert (np.abs(exterior[:, 0]) <= 180.0).all()
        # A positive shoelace sum means counter-clockwise.
        x, y = exterior[:, 0], exterior[:, 1]
        assert np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]) > 0


def test_territory_without_units(tmp_path):
    layer = read_layer(tmp_path, {"a": box(0, 0, 1, 1)})

    territories = dissolve_territories(layer, {"a": "T1"}, ["T1", "T2"])

    empty = row_of(territories, "T2")
    assert empty["geometry"] is None
    assert empty["unit_count"] == 0
    assert empty["parts"] == 0
    assert empty["area_km2"] == 0.0
    assert math.isnan(empty["polsby_popper"])
    assert territories["territory_id"].tolist() == ["T1", "T2"]


def test_unknown_unit_or_territory_raises(tmp_path):
    layer = read_layer(tmp_path, {"a": box(0, 0, 1, 1), "b": box(1, 0, 2, 1)})

    with pytest.raises(InputError) as caught:
        dissolve_territories(layer, {"a": "T1", "zz": "T1", "b": "T9"}, ["T1", "T1"])

    message = str(caught.value)
    assert "'zz' is not a unit of the layer" in message
    assert "'T9' (of unit b) is not in territory_ids" in message
    assert "'T1' is listed more than once" in message


def test_negative_snap_raises(tmp_path):
    layer = read_layer(tmp_path, {"a": box(0, 0, 1, 1)})

    with pytest.raises(ConfigError):
        dissolve_territories(layer, {"a": "T1"}, ["T1"], snap_km=-0.5)


def test_iowa_congressional_districts():
    layer = read_units(IOWA_SHAPEFILE, id_column="GEOID10")
    assignment = dict(zip(layer.frame["unit_id"], layer.frame["CD"].astype(str)))

    territories = dissolve_territories(layer, assignment, ["1", "2", "3", "4"])

    assert territories["unit_count"].tolist() == [20, 24, 16, 39]
    assert territories["parts"].tolist() == [1, 1, 1, 1]
    assert territories["area_km2"].sum() == pytest.approx(geodesic_areas_km2(layer.geometries).sum(), rel=1e-9)
    assert territories["polsby_popper"].between(0.2, 0.8).all()
    assert all(len(geometry.interiors) == 0 for geometry in territories.geometry)
