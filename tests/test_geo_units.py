"""Tests of optimizer.geo.units: reading, repairing and checking unit layers."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import geopandas
import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import GeometryCollection, LineString, MultiPolygon, Point, Polygon, box

from optimizer.errors import InputError
from optimizer.geo.units import (
    geodesic_areas_km2,
    join_at_antimeridian,
    read_units,
    split_at_antimeridian,
    voronoi_units,
)
from optimizer.regions import geodesic_area_km2

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
US_ATLAS = DATA / "us-atlas" / "counties-10m.json"
IOWA_SHAPEFILE = DATA / "redistricting-iowa-counties" / "IA_counties.zip"
GEOD = pyproj.Geod(ellps="WGS84")


def write_units(tmp_path: Path, units: dict[str, shapely.Geometry], name: str = "units.geojson",
                crs: str = "EPSG:4326", id_column: str = "zip") -> Path:
    """Write {unit id: geometry in EPSG:4326} to a file in ``crs`` and return its path."""
    frame = geopandas.GeoDataFrame({id_column: list(units), "name": [f"Unit {key}" for key in units]},
                                   geometry=list(units.values()), crs="EPSG:4326")
    path = tmp_path / name
    frame.to_crs(crs).to_file(path)
    return path


def geometry_of(layer, unit_id: str) -> shapely.Geometry:
    return layer.frame.set_index("unit_id").geometry.loc[unit_id]


# --- reading and ids -----------------------------------------------------------------------------------


def test_geojson_reads_ids_and_attributes(tmp_path):
    path = write_units(tmp_path, {"50001": box(0, 0, 1, 1), "50002": box(1, 0, 2, 1)})

    layer = read_units(path, id_column="zip")

    assert layer.unit_ids == ["50001", "50002"]
    assert list(layer.frame.columns) == ["unit_id", "name", "geometry"]
    assert layer.frame.crs == "EPSG:4326"
    assert layer.report.unit_count == 2
    assert layer.report.repaired == []


def test_default_id_is_column_named_id(tmp_path):
    path = write_units(tmp_path, {"a": box(0, 0, 1, 1), "b": box(1, 0, 2, 1)}, id_column="ID")

    layer = read_units(path)

    assert layer.unit_ids == ["a", "b"]


def test_default_id_is_first_unique_column(tmp_path):
    frame = geopandas.GeoDataFrame({"state": ["IA", "IA"], "fips": ["19001", "19003"]},
                                   geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:4326")
    path = tmp_path / "units.gpkg"
    frame.to_file(path)

    layer = read_units(path)

    assert layer.unit_ids == ["19001", "19003"]
    assert "state" in layer.frame.columns


def test_unknown_id_column_raises(tmp_path):
    path = write_units(tmp_path, {"a": box(0, 0, 1, 1)})

    with pytest.raises(InputError) as caught:
        read_units(path, id_column="geoid")

    assert ("is not a column of the unit layer, whose columns are zip, name; choose one of them as the id column "
            "with --unit-id") in str(caught.value)
    assert "geoid" in str(caught.value)


def test_duplicate_ids_raise_with_rows(tmp_path):
    frame = geopandas.GeoDataFrame({"zip": ["a", "b", "a"]},
                                   geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)], crs="EPSG:4326")
    path = tmp_path / "units.geojson"
    frame.to_file(path)

    with pytest.raises(InputError) as caught:
        read_units(path, id_column="zip")

    assert "'a'" in str(caught.value)
    assert "rows 1, 3" in str(caught.value)


def test_missing_id_raises_with_row(tmp_path):
    frame = geopandas.GeoDataFrame({"zip": ["a", None]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
                                   crs="EPSG:4326")
    path = tmp_path / "units.geojson"
    frame.to_file(path)

    with pytest.raises(InputError) as caught:
        read_units(path, id_column="zip")

    assert "row 2" in str(caught.value)
    assert "is missing" in str(caught.value)


def test_missing_file_raises(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_units(tmp_path / "nowhere.geojson")


def test_unreadable_file_raises(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a map\n", encoding="utf-8")

    with pytest.raises(InputError, match="cannot be read"):
        read_units(path)


def test_binary_file_raises_not_text(tmp_path):
    """GDAL reads any file as CSV, and pandas then fails on bytes that are not UTF-8."""
    path = tmp_path / "garbage.csv"
    path.write_bytes(b"ab,cd\n\xfc\x9d,1\n")

    with pytest.raises(InputError, match=r"garbage.csv: cannot be read as .*: it is binary data, or text that is not UTF-8 \(byte 0xfc\)"):
        read_units(path)


def test_unclosed_ring_names_feature(tmp_path):
    path = tmp_path / "units.geojson"
    path.write_text('{"type": "FeatureCollection", "features": ['
                    '{"type": "Feature", "properties": {"id": "a"}, "geometry": {"type": "Polygon", '
                    '"coordinates": [[[1, 0], [2, 0], [2, 1], [1, 1], [1, 0]]]}}, '
                    '{"type": "Feature", "properties": {"id": "b"}, "geometry": {"type": "Polygon", '
                    '"coordinates": [[[0, 0], [1, 0], [1, 1]]]}}]}', encoding="utf-8")

    with pytest.raises(InputError, match=r"units.geojson: has features whose geometry is invalid \(.*\): "
                                         r"feature\(s\) 2, counted from 1; repair them"):
        read_units(path)


def test_unknown_format_without_driver_advice(tmp_path):
    path = tmp_path / "units.geojson"
    path.write_bytes(b"hello\x00\x01")

    with pytest.raises(InputError) as raised:
        read_units(path)
    assert str(raised.value.issues[0]).endswith("not recognized as being in a supported file format.")


def test_projected_geopackage_read_as_lonlat(tmp_path):
    path = write_units(tmp_path, {"a": box(-93.0, 41.0, -92.0, 42.0)}, name="units.gpkg", crs="EPSG:5070")

    layer = read_units(path)

    assert layer.frame.crs == "EPSG:4326"
    # EPSG:5070 is Albers on NAD83; the round trip moves vertices by far less than 1e-6 degrees.
    minx, miny, maxx, maxy = geometry_of(layer, "a").bounds
    assert minx == pytest.approx(-93.0, abs=1e-6)
    assert maxy == pytest.approx(42.0, abs=1e-6)


def test_layer_without_crs_in_metres_raises():
    frame = geopandas.GeoDataFrame({"id": ["a"]}, geometry=[box(500_000, 4_000_000, 510_000, 4_010_000)])

    with pytest.raises(InputError) as caught:
        read_units(frame)

    assert "has no CRS" in str(caught.value)
    assert "not longitude/latitude" in str(caught.value)


def test_latitude_beyond_90_raises():
    frame = geopandas.GeoDataFrame({"id": ["a", "b"]}, geometry=[box(0, 0, 1, 1), box(0, 89.5, 1, 91)],
                                   crs="EPSG:4326")

    with pytest.raises(InputError) as caught:
        read_units(frame)

    assert "row 2" in str(caught.value)
    assert "outside -90 to 90" in str(caught.value)


def test_shapefile_in_zip(tmp_path):
    shapefile = write_units(tmp_path, {"a": box(0, 0, 1, 1), "b": box(1, 0, 2, 1)}, name="units.shp")
    archive = tmp_path / "units.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for part in tmp_path.glob(f"{shapefile.stem}.*"):
            if part.suffix != ".zip":
                bundle.write(part, part.name)

    layer = read_units(archive, id_column="zip")

    assert layer.unit_ids == ["a", "b"]
    assert geometry_of(layer, "b").equals(box(1, 0, 2, 1))


def test_iowa_shapefile_reads_99_units():
    layer = read_units(IOWA_SHAPEFILE, id_column="GEOID10")

    assert len(layer.frame) == 99
    assert layer.frame["unit_id"].str.match(r"^19\d{3}$").all()
    assert layer.frame.crs == "EPSG:4326"
    assert layer.report.dropped == []
    assert layer.report.overlaps == []
    assert "TOTPOP" in layer.frame.columns


def test_topojson_counties_layer():
    layer = read_units(US_ATLAS, layer="counties")

    assert layer.frame.crs == "EPSG:4326"
    assert len(layer.frame) == 3230
    # Falls Church, VA (51610) is empty in the 10m TopoJSON: quantisation collapsed it.
    assert [dropped.unit_id for dropped in layer.report.dropped] == ["51610"]
    assert layer.frame.geometry.is_valid.all()
    assert len(layer.report.repaired) == 22


def test_topojson_with_several_layers_needs_layer():
    with pytest.raises(InputError) as caught:
        read_units(US_ATLAS)

    assert "counties, states, nation" in str(caught.value)
    assert "layer=" in str(caught.value)


def test_unknown_layer_raises():
    with pytest.raises(InputError, match="'zips' is not a layer"):
        read_units(US_ATLAS, layer="zips")


# --- repairs -------------------------------------------------------------------------------------------


def test_bow_tie_becomes_two_triangles(tmp_path):
    bow_tie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])
    path = write_units(tmp_path, {"bow": bow_tie, "ok": box(3, 0, 4, 1)})

    layer = read_units(path)

    repaired = geometry_of(layer, "bow")
    assert isinstance(repaired, MultiPolygon)
    assert len(repaired.geoms) == 2
    triangles = MultiPolygon([Polygon([(0, 0), (1, 1), (0, 2)]), Polygon([(2, 0), (1, 1), (2, 2)])])
    assert repaired.normalize().equals_exact(triangles.normalize(), tolerance=1e-12)
    assert [repair.unit_id for repair in layer.report.repaired] == ["bow"]
    assert "Self-intersection" in layer.report.repaired[0].problem
    assert "2 polygon part(s)" in layer.report.repaired[0].action


def test_collapsed_hole_is_dropped(tmp_path):
    # The hole's four vertices lie on one line, so it encloses no area.
    with_flat_hole = Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (2, 1), (3, 1), (1, 1)]])
    path = write_units(tmp_path, {"flat": with_flat_hole})

    layer = read_units(path)

    repaired = geometry_of(layer, "flat")
    assert repaired.geom_type == "Polygon"
    assert len(repaired.interiors) == 0
    assert repaired.normalize().equals(box(0, 0, 4, 4).normalize())
    assert "dropped 1 hole(s) without area" in layer.report.repaired[0].action


def test_stray_lines_and_points_dropped():
    mixed = GeometryCollection([box(0, 0, 1, 1), LineString([(1, 1), (3, 3)]), Point(5, 5)])
    frame = geopandas.GeoDataFrame({"id": ["mixed"]}, geometry=[mixed], crs="EPSG:4326")

    layer = read_units(frame)

    assert geometry_of(layer, "mixed").equals(box(0, 0, 1, 1))
    assert layer.report.repaired[0].problem == "a GeometryCollection"


def test_units_without_area_dropped():
    frame = geopandas.GeoDataFrame({"id": ["ok", "empty", "null", "line"]},
                                   geometry=[box(0, 0, 1, 1), Polygon(), None, LineString([(0, 0), (1, 1)])],
                                   crs="EPSG:4326")

    layer = read_units(frame)

    assert layer.unit_ids == ["ok"]
    reasons = {dropped.unit_id: dropped.reason for dropped in layer.report.dropped}
    assert reasons == {"empty": "has an empty geometry", "null": "has no geometry",
                       "line": "is a LineString, which has no area"}


def test_layer_without_any_area_raises():
    frame = geopandas.GeoDataFrame({"id": ["a"]}, geometry=[Point(0, 0)], crs="EPSG:4326")

    with pytest.raises(InputError, match="has no unit with area"):
        read_units(frame)


def test_overlap_counted_once(tmp_path):
    path = write_units(tmp_path, {"b": box(1, 0, 3, 2), "a": box(0, 0, 2, 2)})

    layer = read_units(path)

    overlap_km2 = geodesic_area_km2(box(1, 0, 2, 2))
    assert geometry_of(layer, "a").equals(box(0, 0, 2, 2))
    assert geometry_of(layer, "b").normalize().equals(box(2, 0, 3, 2).normalize())
    assert len(layer.report.overlaps) == 1
    overlap = layer.report.overlaps[0]
    assert (overlap.unit_a, overlap.unit_b) == ("a", "b")
    assert overlap.area_km2 == pytest.approx(overlap_km2, rel=1e-9)
    assert layer.report.overlap_km2 == pytest.approx(overlap_km2, rel=1e-9)
    # Edges are geodesics between vertices, so the union is drawn with the vertices the two units have.
    union = Polygon([(0, 0), (2, 0), (3, 0), (3, 2), (2, 2), (0, 2)])
    assert geodesic_areas_km2(layer.geometries).sum() == pytest.approx(geodesic_area_km2(union), rel=1e-9)


def test_triple_overlap_counted_once():
    # All three cover [1, 2] x [0, 1], and a and b also share [0.5, 1] x [0, 1].
    frame = geopandas.GeoDataFrame({"id": ["c", "b", "a"]},
                                   geometry=[box(1, 0, 3, 1), box(0.5, 0, 2, 1), box(0, 0, 2, 1)], crs="EPSG:4326")

    layer = read_units(frame)

    assert len(layer.report.overlaps) == 3
    # The overlap is [0.5, 2] x [0, 1] with the vertices at x = 1 that the pieces add on both parallels.
    overlap = Polygon([(0.5, 0), (1, 0), (2, 0), (2, 1), (1, 1), (0.5, 1)])
    assert layer.report.overlap_km2 == pytest.approx(geodesic_area_km2(overlap), rel=1e-9)
    # "a" keeps [0, 2], "c" keeps [2, 3], and nothing is left of "b".
    assert layer.unit_ids == ["c", "a"]
    assert geometry_of(layer, "c").normalize().equals(box(2, 0, 3, 1).normalize())
    assert [dropped.unit_id for dropped in layer.report.dropped] == ["b"]
    union = Polygon([(0, 0), (2, 0), (3, 0), (3, 1), (2, 1), (0, 1)])
    assert geodesic_areas_km2(layer.geometries).sum() == pytest.approx(geodesic_area_km2(union), rel=1e-9)


def test_gap_between_units_reported(tmp_path):
    # Eight squares around the empty middle square of a 3 x 3 grid.
    ring = {f"u{x}{y}": box(x, y, x + 1, y + 1) for x in range(3) for y in range(3) if (x, y) != (1, 1)}
    path = write_units(tmp_path, ring)

    layer = read_units(path)

    assert len(layer.report.gaps) == 1
    gap = layer.report.gaps[0]
    assert gap.geometry.normalize().equals(box(1, 1, 2, 2).normalize())
    assert gap.area_km2 == pytest.approx(geodesic_area_km2(box(1, 1, 2, 2)), rel=1e-9)
    assert gap.unit_ids == tuple(sorted(ring))
    assert layer.report.gap_km2 == pytest.approx(gap.area_km2)


def test_hole_inside_one_unit_is_not_gap():
    lake = Polygon([(0, 0), (3, 0), (3, 3), (0, 3)], [[(1, 1), (2, 1), (2, 2), (1, 2)]])
    frame = geopandas.GeoDataFrame({"id": ["lake", "east"]}, geometry=[lake, box(3, 0, 4, 3)], crs="EPSG:4326")

    layer = read_units(frame)

    assert layer.report.gaps == []
    assert len(geometry_of(layer, "lake").interiors) == 1


def test_outline_clips_and_drops_units():
    frame = geopandas.GeoDataFrame({"id": ["in", "across", "out"]},
                                   geometry=[box(0, 0, 1, 1), box(1, 0, 3, 1), box(5, 0, 6, 1)], crs="EPSG:4326")

    layer = read_units(frame, outline=box(0, 0, 2, 1))

    assert layer.unit_ids == ["in", "across"]
    assert geometry_of(layer, "across").normalize().equals(box(1, 0, 2, 1).normalize())
    assert [(dropped.unit_id, dropped.reason) for dropped in layer.report.dropped] == [("out", "lies outside the outline")]


def test_hole_of_outline_is_not_gap():
    outline = Polygon([(0, 0), (3, 0), (3, 3), (0, 3)], [[(1, 1), (2, 1), (2, 2), (1, 2)]])
    grid = {f"u{x}{y}": box(x, y, x + 1, y + 1) for x in range(3) for y in range(3)}
    frame = geopandas.GeoDataFrame({"id": list(grid)}, geometry=list(grid.values()), crs="EPSG:4326")

    layer = read_units(frame, outline=outline)

    assert "u11" not in layer.unit_ids
    assert layer.report.gaps == []


# --- antimeridian --------------------------------------------------------------------------------------


def test_unit_across_antimeridian_is_split(tmp_path):
    across = Polygon([(179.5, 0), (-179.5, 0), (-179.5, 1), (179.5, 1)])
    path = write_units(tmp_path, {"seam": across})

    layer = read_units(path)

    split = geometry_of(layer, "seam")
    expected = MultiPolygon([box(179.5, 0, 180, 1), box(-180, 0, -179.5, 1)])
    assert split.normalize().equals(expected.normalize())
    assert "split into 2 part(s)" in layer.report.repaired[0].action
    # The same shape moved 179.5 degrees west, with the vertices the split adds at the antimeridian.
    moved = Polygon([(0, 0), (0.5, 0), (1, 0), (1, 1), (0.5, 1), (0, 1)])
    assert geodesic_areas_km2(layer.geometries)[0] == pytest.approx(geodesic_area_km2(moved), rel=1e-9)


def test_longitudes_beyond_180_are_split():
    split = split_at_antimeridian(box(179.5, 0, 180.5, 1))

    assert split.normalize().equals(MultiPolygon([box(179.5, 0, 180, 1), box(-180, 0, -179.5, 1)]).normalize())


def test_join_at_antimeridian_rejoins_parts():
    joined = join_at_antimeridian(MultiPolygon([box(179.5, 0, 180, 1), box(-180, 0, -179.5, 1)]))

    assert joined.normalize().equals(box(179.5, 0, 180.5, 1).normalize())


def test_ring_round_pole_raises():
    # A polar cap drawn as a longitude/latitude box is read as it is. A ring that steps round the pole
    # in thirds (120 degrees each) ends 360 degrees from its start, so it has no split.
    cap = Polygon([(-180, 80), (-90, 80), (0, 80), (90, 80), (180, 80), (180, 90), (-180, 90)])
    circling = Polygon([(0, 80), (120, 80), (-120, 80), (0, 80)])
    frame = geopandas.GeoDataFrame({"id": ["cap", "circling"]}, geometry=[cap, circling], crs="EPSG:4326")

    with pytest.raises(InputError) as caught:
        read_units(frame)

    assert "circling" in str(caught.value)
    assert "goes round a pole" in str(caught.value)


# --- Voronoi units -------------------------------------------------------------------------------------


def test_voronoi_one_cell_per_point():
    outline = box(-94.0, 41.0, -92.0, 43.0)
    ids = ["50001", "50002", "50003", "50004"]
    lats = [41.5, 41.5, 42.5, 42.5]
    lons = [-93.5, -92.5, -93.5, -92.5]

    layer = voronoi_units(ids, lats, lons, outline)

    assert layer.unit_ids == ids
    points = shapely.points(lons, lats)
    assert shapely.covers(layer.geometries, points).all()
    # The cells are clipped in a projection to the outline with a vertex every 0.05 degrees, so they
    # cover it to within a millimetre or so (1e-8 degrees), and their areas add up to its area.
    union = shapely.union_all(layer.geometries)
    assert shapely.hausdorff_distance(union, outline) < 1e-7
    outline_km2 = geodesic_area_km2(shapely.segmentize(outline, 0.05))
    assert geodesic_areas_km2(layer.geometries).sum() == pytest.approx(outline_km2, rel=1e-8)
    assert layer.report.overlaps == []
    assert layer.report.gaps == []
    assert layer.report.dropped == []


def test_voronoi_repeated_and_shared_points():
    outline = box(0.0, 0.0, 2.0, 1.0)

    layer = voronoi_units(["b", "b", "c", "a"], [0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 1.5, 1.5], outline)

    # "b" is listed twice at one point; "a" and "c" share a point, so "a" (smaller id) gets the cell.
    assert sorted(layer.unit_ids) == ["a", "b"]
    assert [(dropped.unit_id, dropped.reason) for dropped in layer.report.dropped] == [
        ("c", "has the same location as unit a, which gets the Voronoi cell")]
    assert shapely.covers(geometry_of(layer, "a"), Point(1.5, 0.5))


def test_voronoi_id_at_two_locations_raises():
    with pytest.raises(InputError, match="given at two or more locations"):
        voronoi_units(["a", "a"], [0.5, 0.6], [0.5, 0.5], box(0, 0, 1, 1))


def test_voronoi_invalid_coordinate_raises():
    with pytest.raises(InputError) as caught:
        voronoi_units(["a", "b"], [0.5, 95.0], [0.5, 0.5], box(0, 0, 1, 1))

    assert "row 2, column lat: '95.0'" in str(caught.value)


def test_voronoi_cells_share_exact_borders():
    rng = np.random.default_rng(7)
    angles = rng.uniform(0.0, 2.0 * np.pi, 300)
    radii = 1.5 * np.sqrt(rng.uniform(0.0, 1.0, 300))
    lons, lats = -93.0 + radii * np.cos(angles), 42.0 + radii * np.sin(angles)
    outline = Point(-93.0, 42.0).buffer(1.6)

    layer = voronoi_units([f"p{i}" for i in range(300)], lats, lons, outline)

    assert len(layer.frame) == 300
    assert layer.report.overlaps == []
    assert layer.report.gaps == []
    # Neighbouring cells clipped at the outline keep identical vertices, so no two cells touch at a point only.
    geometries = layer.geometries
    left, right = shapely.STRtree(geometries).query(geometries, predicate="intersects")
    pairs = left < right
    shared = shapely.intersection(shapely.boundary(geometries[left[pairs]]), shapely.boundary(geometries[right[pairs]]))
    assert (shapely.length(shared) > 0).all()


def test_voronoi_without_points_raises():
    with pytest.raises(InputError, match="are empty"):
        voronoi_units([], [], [], box(0, 0, 1, 1))


def test_csv_is_not_a_boundary_layer(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("unit,pop\na,1\nb,2\n")
    with pytest.raises(InputError, match="holds no polygons, so it is not a boundary layer"):
        read_units(path, id_column="unit")


@pytest.mark.parametrize(("ids", "warned"), [([1001, 19001], True), ([19001, 19003], False)])
def test_numeric_ids_warn_only_when_lengths_differ(tmp_path, caplog, ids, warned):
    # 1001 is Autauga County, 01001, with its leading zero lost; 19001 and 19003 have nothing to lose.
    frame = geopandas.GeoDataFrame({"fips": ids}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:4326")
    path = tmp_path / "counties.geojson"
    frame.to_file(path)

    with caplog.at_level(logging.WARNING, logger="optimizer.geo.units"):
        read_units(path, id_column="fips")

    messages = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    expected = [f"{path.name}: the id column fips is numeric and its ids have 4 to 5 digits, so ids written with leading "
                "zeros (FIPS or ZIP codes) may have lost them; store the ids as text to keep them"]
    assert messages == (expected if warned else [])
