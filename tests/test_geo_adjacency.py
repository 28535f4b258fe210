"""Tests of optimizer.geo.adjacency: rook and queen adjacency, snapping, connectors, barriers, real counties."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import geopandas
import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import Polygon, box

from optimizer.errors import ConfigError, InputError
from optimizer.geo.adjacency import build_graph, geodesic_lengths_km
from optimizer.geo.graph import EDGE_BORDER, EDGE_CONNECTOR, EDGE_CORNER
from optimizer.geo.units import read_units
from optimizer.regions import geodesic_area_km2

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
US_ATLAS = DATA / "us-atlas" / "counties-10m.json"
IOWA_SHAPEFILE = DATA / "redistricting-iowa-counties" / "IA_counties.zip"
CENSUS_ADJACENCY_2010 = DATA / "us-county-adjacency" / "county_adjacency2010.txt.gz"
GEOD = pyproj.Geod(ellps="WGS84")


def read_layer(tmp_path: Path, units: dict[str, shapely.Geometry]):
    """Write {unit id: geometry} as a GeoJSON file and read it back as a unit layer."""
    frame = geopandas.GeoDataFrame({"unit_id": list(units)}, geometry=list(units.values()), crs="EPSG:4326")
    path = tmp_path / "units.geojson"
    frame.to_file(path)
    return read_units(path)


def edge_set(graph) -> dict[tuple[str, str], tuple[str, float]]:
    """Return {(unit a, unit b): (edge kind, shared km)} with each pair in sorted id order."""
    edges = {}
    for (i, j), kind, shared_km in zip(graph.edges.tolist(), graph.edge_kind, graph.shared_km.tolist()):
        pair = tuple(sorted((graph.unit_ids[i], graph.unit_ids[j])))
        edges[pair] = (kind, shared_km)
    return edges


def meridian_km(lon: float, lat_from: float, lat_to: float) -> float:
    return GEOD.line_length([lon, lon], [lat_from, lat_to]) / 1000.0


def census_iowa_pairs() -> set[tuple[str, str]]:
    """Return the Iowa county pairs of the Census 2010 county adjacency file, self-pairs left out.

    The file is tab separated without a header: county name, county FIPS, neighbour name, neighbour
    FIPS, with the first two fields filled only on the first line of each county's block.
    """
    pairs = set()
    county = ""
    with gzip.open(CENSUS_ADJACENCY_2010, "rt", encoding="latin-1") as stream:
        for row in csv.reader(stream, delimiter="\t"):
            county = row[1] or county
            neighbour = row[3]
            if county != neighbour and county.startswith("19") and neighbour.startswith("19"):
                pairs.add(tuple(sorted((county, neighbour))))
    return pairs


@pytest.fixture(scope="module")
def iowa_atlas():
    counties = geopandas.read_file(US_ATLAS, layer="counties")
    return read_units(counties[counties["id"].str.startswith("19")])


# --- rook and queen ------------------------------------------------------------------------------------


def test_square_and_rectangle_share_meridian_segment(tmp_path):
    layer = read_layer(tmp_path, {"square": box(0, 0, 2, 2), "rectangle": box(2, 0.5, 3, 1.5)})

    graph, report = build_graph(layer)

    # The shared boundary is the meridian at longitude 2 from latitude 0.5 to 1.5: about 110.6 km.
    assert edge_set(graph) == {("rectangle", "square"): (EDGE_BORDER, pytest.approx(meridian_km(2, 0.5, 1.5),
                                                                                     rel=1e-12))}
    assert meridian_km(2, 0.5, 1.5) == pytest.approx(110.575, abs=0.001)
    assert report.islands == []


def test_corner_touch_not_rook_adjacent(tmp_path):
    layer = read_layer(tmp_path, {"a": box(0, 0, 1, 1), "b": box(1, 1, 2, 2)})

    graph, report = build_graph(layer, mode="rook")

    assert len(graph.edges) == 0
    assert report.islands == ["a", "b"]


def test_corner_touch_is_queen_corner(tmp_path):
    layer = read_layer(tmp_path, {"a": box(0, 0, 1, 1), "b": box(1, 1, 2, 2)})

    graph, report = build_graph(layer, mode="queen")

    assert edge_set(graph) == {("a", "b"): (EDGE_CORNER, 0.0)}
    assert report.islands == []


def test_grid_of_four_rook_and_queen(tmp_path):
    grid = {f"u{x}{y}": box(x, y, x + 1, y + 1) for x in range(2) for y in range(2)}
    layer = read_layer(tmp_path, grid)

    rook, _ = build_graph(layer)
    queen, _ = build_graph(layer, mode="queen")

    assert set(edge_set(rook)) == {("u00", "u01"), ("u00", "u10"), ("u01", "u11"), ("u10", "u11")}
    assert {pair for pair, (kind, _) in edge_set(queen).items() if kind == EDGE_CORNER} == {
        ("u00", "u11"), ("u01", "u10")}


def test_unknown_mode_raises(tmp_path):
    layer = read_layer(tmp_path, {"a": box(0, 0, 1, 1)})

    with pytest.raises(ConfigError, match="'bishop' is not supported"):
        build_graph(layer, mode="bishop")


def test_negative_snap_raises(tmp_path):
    layer = read_layer(tmp_path, {"a": box(0, 0, 1, 1)})

    with pytest.raises(ConfigError, match="snap_km -1"):
        build_graph(layer, snap_km=-1)


# --- snapping ------------------------------------------------------------------------------------------


def test_snapping_joins_units_across_narrow_gap(tmp_path):
    # 0.001 degrees of longitude at the equator is 111.3 m.
    layer = read_layer(tmp_path, {"square": box(0, 0, 2, 2), "rectangle": box(2.001, 0.5, 3, 1.5)})

    unsnapped, _ = build_graph(layer)
    snapped, report = build_graph(layer, snap_km=0.2)
    too_narrow, _ = build_graph(layer, snap_km=0.1)

    assert len(unsnapped.edges) == 0
    assert len(too_narrow.edges) == 0
    # The snapped line is the rectangle's west edge, taken through the projection and back (under 1 mm off).
    assert edge_set(snapped) == {("rectangle", "square"): (EDGE_BORDER, pytest.approx(meridian_km(2.001, 0.5, 1.5),
                                                                                       rel=1e-8))}
    assert len(report.snapped) == 1
    assert (report.snapped[0].unit_a, report.snapped[0].unit_b) == ("square", "rectangle")
    assert report.snapped[0].gap_km == pytest.approx(0.1113, rel=0.01)


def test_snapping_keeps_near_corner_a_corner(tmp_path):
    # The corners are about 79 m apart (0.0005 degrees both ways).
    layer = read_layer(tmp_path, {"a": box(0, 0, 1, 1), "b": box(1.0005, 1.0005, 2, 2)})

    rook, rook_report = build_graph(layer, snap_km=0.2)
    queen, queen_report = build_graph(layer, mode="queen", snap_km=0.2)

    assert len(rook.edges) == 0
    assert rook_report.snapped == []
    assert edge_set(queen) == {("a", "b"): (EDGE_CORNER, 0.0)}
    assert [(pair.unit_a, pair.unit_b) for pair in queen_report.snapped] == [("a", "b")]


# --- islands, connectors and barriers ------------------------------------------------------------------


def test_island_reported_and_connector_joins_it(tmp_path):
    units = {"main-1": box(0, 0, 1, 1), "main-2": box(1, 0, 2, 1), "island": box(3, 0, 3.5, 0.5)}
    layer = read_layer(tmp_path, units)

    graph, report = build_graph(layer)
    ferried, ferried_report = build_graph(layer, connectors=[("island", "main-2")])

    assert report.islands == ["island"]
    assert [component.unit_count for component in report.components] == [2, 1]
    assert report.components[1].unit_ids == ("island",)
    assert edge_set(ferried)[("island", "main-2")] == (EDGE_CONNECTOR, 0.0)
    assert ferried_report.islands == []
    assert [component.unit_count for component in ferried_report.components] == [3]
    assert ferried_report.connectors_added == [("main-2", "island")]


def test_connector_between_neighbours_keeps_border(tmp_path):
    layer = read_layer(tmp_path, {"a": box(0, 0, 1, 1), "b": box(1, 0, 2, 1)})

    graph, report = build_graph(layer, connectors=[("a", "b")])

    assert edge_set(graph)[("a", "b")][0] == EDGE_BORDER
    assert report.connectors_added == []


def test_barrier_removes_edge(tmp_path):
    layer = read_layer(tmp_path, {"west": box(0, 0, 1, 1), "middle": box(1, 0, 2, 1), "east": box(2, 0, 3, 1)})

    graph, report = build_graph(layer, barriers=[("middle", "east")])

    assert set(edge_set(graph)) == {("middle", "west")}
    assert report.barriers_removed == [("middle", "east")]
    assert [component.unit_ids for component in report.components] == [("west", "middle"), ("east",)]


def test_barrier_between_non_neighbours_is_reported(tmp_path):
    layer = read_layer(tmp_path, {"west": box(0, 0, 1, 1), "middle": box(1, 0, 2, 1), "east": box(2, 0, 3, 1)})

    graph, report = build_graph(layer, barriers=[("west", "east")])

    assert len(graph.edges) == 2
    assert report.barriers_unused == [("west", "east")]


def test_unknown_unit_in_connectors_raises(tmp_path):
    layer = read_layer(tmp_path, {"a": box(0, 0, 1, 1), "b": box(3, 0, 4, 1)})

    with pytest.raises(InputError) as caught:
        build_graph(layer, connectors=[("a", "zz")])

    assert "connectors row 1, column unit_b: 'zz' is not a unit id" in str(caught.value)


def test_unknown_unit_in_barriers_raises(tmp_path):
    layer = read_layer(tmp_path, {"a": box(0, 0, 1, 1), "b": box(1, 0, 2, 1)})

    with pytest.raises(InputError) as caught:
        build_graph(layer, barriers=[("b", "a"), ("x", "a")])

    assert "barriers row 2, column unit_a: 'x' is not a unit id" in str(caught.value)


def test_pair_as_connector_and_barrier_raises(tmp_path):
    layer = read_layer(tmp_path, {"a": box(0, 0, 1, 1), "b": box(3, 0, 4, 1)})

    with pytest.raises(InputError, match="is also a barrier"):
        build_graph(layer, connectors=[("a", "b")], barriers=[("b", "a")])


# --- points, areas and the antimeridian ----------------------------------------------------------------


def test_unit_points_inside_and_areas_geodesic(tmp_path):
    # A U shape: its centroid lies in the notch, outside the unit.
    u_shape = Polygon([(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3)])
    layer = read_layer(tmp_path, {"u": u_shape, "square": box(3, 0, 4, 1)})

    graph, _ = build_graph(layer)

    points = shapely.points(graph.lon, graph.lat)
    assert shapely.covers(layer.geometries, points).all()
    assert (graph.lon[1], graph.lat[1]) == pytest.approx((3.5, 0.5), abs=1e-3)
    assert graph.area_km2 == pytest.approx([geodesic_area_km2(u_shape), geodesic_area_km2(box(3, 0, 4, 1))],
                                           rel=1e-12)


def test_neighbours_across_antimeridian(tmp_path):
    layer = read_layer(tmp_path, {"west": box(179, 0, 180, 1), "east": box(-180, 0.25, -179, 1.25)})

    graph, report = build_graph(layer)

    assert edge_set(graph) == {("east", "west"): (EDGE_BORDER, pytest.approx(meridian_km(180, 0.25, 1), rel=1e-12))}
    assert report.islands == []


def test_unit_split_at_antimeridian_is_one_node(tmp_path):
    across = Polygon([(179.5, 0), (-179.5, 0), (-179.5, 1), (179.5, 1)])
    layer = read_layer(tmp_path, {"seam": across, "west": box(179, 0, 179.5, 1), "east": box(-179.5, 0, -179, 1)})

    graph, report = build_graph(layer)

    assert set(edge_set(graph)) == {("seam", "west"), ("east", "seam")}
    assert [component.unit_count for component in report.components] == [3]
    assert shapely.covers(layer.geometries[0], shapely.points(graph.lon[0], graph.lat[0]))


def test_geodesic_lengths_of_nested_collections():
    line = shapely.LineString([(2, 0.5), (2, 1.5)])
    nested = shapely.GeometryCollection([shapely.MultiLineString([line.coords]), shapely.Point(0, 0)])

    lengths = geodesic_lengths_km(np.array([line, nested, shapely.Point(1, 1), None], dtype=object))

    assert lengths == pytest.approx([meridian_km(2, 0.5, 1.5), meridian_km(2, 0.5, 1.5), 0.0, 0.0], rel=1e-12)


# --- real counties -------------------------------------------------------------------------------------


def test_iowa_counties_graph_connected(iowa_atlas):
    graph, report = build_graph(iowa_atlas)

    assert graph.unit_count == 99
    assert [component.unit_count for component in report.components] == [99]
    assert report.islands == []
    assert (graph.shared_km > 0).all()


def test_iowa_adjacency_matches_census(iowa_atlas):
    census = census_iowa_pairs()

    rook, _ = build_graph(iowa_atlas, mode="rook")
    queen, _ = build_graph(iowa_atlas, mode="queen")

    # The Census file counts counties that meet at a point as adjacent, so it agrees with queen
    # adjacency on all 294 Iowa pairs. Rook adjacency finds 222 of them, and the other 72 are the corners
    # of Iowa's county grid.
    rook_pairs, queen_pairs = set(edge_set(rook)), set(edge_set(queen))
    assert len(census) == 294
    assert queen_pairs == census
    assert rook_pairs <= census
    assert len(rook_pairs) == 222
    corner_pairs = {pair for pair, (kind, _) in edge_set(queen).items() if kind == EDGE_CORNER}
    assert census - rook_pairs == corner_pairs


def test_iowa_shapefile_same_adjacency_as_us_atlas(iowa_atlas):
    shapefile = read_units(IOWA_SHAPEFILE, id_column="GEOID10")

    from_shapefile, _ = build_graph(shapefile)
    from_atlas, _ = build_graph(iowa_atlas)

    assert set(edge_set(from_shapefile)) == set(edge_set(from_atlas))
