"""Territories as an RFC 7946 GeoJSON FeatureCollection.

RFC 7946 fixes the details that this module enforces: WGS84 longitude/latitude with no "crs" member,
exterior rings counter-clockwise and holes clockwise. Coordinates are rounded to 6 decimals (about 0.1 m),
and the output is strict JSON, so NaN and infinity become null.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import geopandas
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.geometry.polygon import orient

logger = logging.getLogger(__name__)

COORDINATE_DECIMALS = 6


def geojson_dict(
    territories: geopandas.GeoDataFrame, rep_metrics: dict[str, dict[str, Any]], reps: pd.DataFrame
) -> dict[str, Any]:
    """Build the FeatureCollection of territories: one Feature per rep in ``reps`` order.

    Properties are rep_id, name, area_km2, accounts_outside, then every key of ``rep_metrics[rep_id]``
    copied as it is. A metric key that repeats one of the first four is skipped with a warning. A rep
    without area gets ``"geometry": null``.
    """
    territories = _to_wgs84(territories)
    territory_by_rep = {str(row.rep_id): row for row in territories.itertuples(index=False)}
    names = dict(zip(reps["rep_id"].astype(str), reps["name"])) if "name" in reps else {}

    features = []
    for rep_id in reps["rep_id"].astype(str):
        territory = territory_by_rep.get(rep_id)
        geometry = getattr(territory, "geometry", None)
        properties: dict[str, Any] = {
            "rep_id": rep_id,
            "name": names.get(rep_id),
            "area_km2": getattr(territory, "area_km2", None),
            "accounts_outside": getattr(territory, "accounts_outside", 0),
        }
        for key, value in rep_metrics.get(rep_id, {}).items():
            if key in properties:
                logger.warning("rep %s: metric %r has the name of a fixed property and is not copied", rep_id, key)
                continue
            properties[key] = value
        features.append({"type": "Feature", "geometry": geometry_dict(geometry), "properties": json_safe(properties)})

    missing = sorted(set(territory_by_rep) - set(reps["rep_id"].astype(str)))
    if missing:
        logger.warning("territories of rep_id(s) %s are not in reps and are left out of the GeoJSON", missing)
    return {"type": "FeatureCollection", "features": features}


def write_territories_geojson(
    territories: geopandas.GeoDataFrame,
    rep_metrics: dict[str, dict[str, Any]],
    reps: pd.DataFrame,
    path: str | Path,
) -> Path:
    """Write the territories' FeatureCollection (see ``geojson_dict``) as UTF-8 and return the path."""
    path = Path(path)
    collection = geojson_dict(territories, rep_metrics, reps)
    path.write_text(json.dumps(collection, allow_nan=False, ensure_ascii=False) + "\n", encoding="utf-8")
    logger.info("wrote %d territories to %s", len(collection["features"]), path)
    return path


def geometry_dict(geometry: shapely.Geometry | None) -> dict[str, Any] | None:
    """Return a (Multi)Polygon as an RFC 7946 geometry object, or None for a missing or empty geometry."""
    if geometry is None or geometry.is_empty:
        return None
    if isinstance(geometry, Polygon):
        oriented: Polygon | MultiPolygon = orient(geometry, sign=1.0)
    elif isinstance(geometry, MultiPolygon):
        oriented = MultiPolygon([orient(polygon, sign=1.0) for polygon in geometry.geoms])
    else:
        raise ValueError(f"territory geometry must be a Polygon or MultiPolygon, got {geometry.geom_type}")
    geometry_object = mapping(oriented)
    return {"type": geometry_object["type"], "coordinates": _round_coordinates(geometry_object["coordinates"])}


def json_safe(value: Any) -> Any:
    """Convert numpy scalars and containers to plain Python, with NaN, infinity and pandas NA as None."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return value


def _round_coordinates(coordinates: Any) -> Any:
    if isinstance(coordinates[0], (int, float)):
        return [round(float(coordinate), COORDINATE_DECIMALS) for coordinate in coordinates[:2]]
    return [_round_coordinates(item) for item in coordinates]


def _to_wgs84(territories: geopandas.GeoDataFrame) -> geopandas.GeoDataFrame:
    if territories.crs is None:
        raise ValueError("territories have no CRS; expected EPSG:4326 longitude/latitude from build_territories")
    if territories.crs.to_epsg() != 4326:
        logger.info("reprojecting territories from %s to EPSG:4326 for GeoJSON", territories.crs)
        return territories.to_crs("EPSG:4326")
    return territories
