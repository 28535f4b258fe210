"""Files written from a plan: territory GeoJSON, an offline HTML map and a static PNG map."""

from optimizer.outputs.geojson import geojson_dict, write_territories_geojson
from optimizer.outputs.mapview import rep_colours, write_map_html, write_map_png

__all__ = ["geojson_dict", "rep_colours", "write_map_html", "write_map_png", "write_territories_geojson"]
