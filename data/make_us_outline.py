"""Build data/us_outline.geojson, a simplified outline of US land, from the us-atlas nation TopoJSON.

Usage, from the repository root, with ``nation-10m.json`` taken from the npm package us-atlas 3.0.1::

    python data/make_us_outline.py path/to/nation-10m.json data/us_outline.geojson

The TopoJSON decoder below is written for this file only: it reads one quantized topology (``transform``
present, delta-encoded arcs) and the Polygon/MultiPolygon geometries of one object. Points, lines and
unquantized topologies are rejected with an error instead of being half-supported.

The outline is simplified with shapely's Douglas-Peucker (topology preserving) at ``--tolerance`` degrees
and written as an RFC 7946 FeatureCollection: one Feature, longitude/latitude rounded to ``--digits`` decimals,
exterior rings counter-clockwise.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.geometry.polygon import orient

logger = logging.getLogger(__name__)

# 0.01 degree is about 1.1 km north-south; it keeps islands of a few km2 and the file near 150 KB.
DEFAULT_TOLERANCE_DEG = 0.01
DEFAULT_DIGITS = 4


def decode_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    """Decode the quantized, delta-encoded arcs of a topology into longitude/latitude points."""
    transform = topology.get("transform")
    if transform is None:
        raise ValueError("the topology has no 'transform' member; only quantized TopoJSON is supported")
    scale_x, scale_y = transform["scale"]
    shift_x, shift_y = transform["translate"]

    arcs = []
    for encoded in topology["arcs"]:
        x = y = 0
        points = []
        # Each position after the first is an offset from the previous one, in quantized integer units.
        for dx, dy in encoded:
            x += dx
            y += dy
            points.append((x * scale_x + shift_x, y * scale_y + shift_y))
        arcs.append(points)
    return arcs


def build_ring(arc_indexes: list[int], arcs: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    """Join the arcs of one ring; a negative index ``~i`` means arc ``i`` traversed backwards."""
    ring: list[tuple[float, float]] = []
    for index in arc_indexes:
        points = arcs[~index][::-1] if index < 0 else arcs[index]
        # Consecutive arcs share their end and start point, so the shared point is written once.
        ring.extend(points if not ring else points[1:])
    return ring


def build_polygon(rings: list[list[int]], arcs: list[list[tuple[float, float]]]) -> Polygon:
    exterior, *holes = (build_ring(ring, arcs) for ring in rings)
    return Polygon(exterior, holes)


def decode_object(topology: dict, name: str) -> shapely.Geometry:
    """Decode the named object into one valid (Multi)Polygon in longitude/latitude."""
    if name not in topology["objects"]:
        raise ValueError(f"object {name!r} not found; the topology has {sorted(topology['objects'])}")
    arcs = decode_arcs(topology)
    item = topology["objects"][name]
    geometries = item["geometries"] if item["type"] == "GeometryCollection" else [item]

    polygons = []
    for geometry in geometries:
        if geometry["type"] == "Polygon":
            polygons.append(build_polygon(geometry["arcs"], arcs))
        elif geometry["type"] == "MultiPolygon":
            polygons.extend(build_polygon(rings, arcs) for rings in geometry["arcs"])
        else:
            raise ValueError(f"geometry type {geometry['type']!r} is not supported; expected Polygon or MultiPolygon")

    return shapely.make_valid(MultiPolygon(polygons))


def keep_polygons(geometry: shapely.Geometry) -> MultiPolygon:
    """Drop the line and point parts that make_valid can leave in a GeometryCollection."""
    parts = shapely.get_parts(geometry)
    polygons = []
    for part in parts:
        if isinstance(part, Polygon):
            polygons.append(part)
        elif isinstance(part, MultiPolygon):
            polygons.extend(part.geoms)
    return MultiPolygon([polygon for polygon in polygons if not polygon.is_empty])


def round_coordinates(value, digits: int):
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], float):
            return [round(coordinate, digits) for coordinate in value]
        return [round_coordinates(item, digits) for item in value]
    return value


def make_outline(source: Path, tolerance_deg: float, digits: int) -> dict:
    topology = json.loads(source.read_text(encoding="utf-8"))
    land = keep_polygons(decode_object(topology, "nation"))

    simplified = keep_polygons(shapely.make_valid(land.simplify(tolerance_deg, preserve_topology=True)))
    oriented = MultiPolygon([orient(polygon, sign=1.0) for polygon in simplified.geoms])
    geometry = mapping(oriented)
    geometry["coordinates"] = round_coordinates(geometry["coordinates"], digits)

    logger.info(
        "outline: %d polygons before, %d after simplifying at %s degrees",
        len(land.geoms), len(oriented.geoms), tolerance_deg,
    )
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "name": "United States (land)",
                    "source": "us-atlas 3.0.1 nation-10m.json (U.S. Census Bureau cartographic boundaries 2017)",
                    "simplify_tolerance_deg": tolerance_deg,
                },
                "geometry": geometry,
            }
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="path of the us-atlas nation-10m.json TopoJSON file")
    parser.add_argument("target", type=Path, help="path of the GeoJSON file to write")
    parser.add_argument(
        "--tolerance", type=float, default=DEFAULT_TOLERANCE_DEG,
        help=f"simplification tolerance in degrees (default {DEFAULT_TOLERANCE_DEG})",
    )
    parser.add_argument(
        "--digits", type=int, default=DEFAULT_DIGITS,
        help=f"decimals kept in longitude/latitude (default {DEFAULT_DIGITS}, about 11 m)",
    )
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    collection = make_outline(arguments.source, arguments.tolerance, arguments.digits)
    arguments.target.write_text(json.dumps(collection, separators=(",", ":")) + "\n", encoding="utf-8")
    logger.info("wrote %s (%d bytes)", arguments.target, arguments.target.stat().st_size)


if __name__ == "__main__":
    main()
