"""Territory maps: a self-contained offline HTML map (inline SVG) and a static PNG map.

Both maps draw in the same Lambert azimuthal equal-area projection centred on the data, in km, with the
same colour per rep: territory polygons, account dots in their rep's colour (grey when unassigned) and rep
home bases as black-edged diamonds. Accounts without a location cannot be drawn and are only counted.
The light background is the US land outline, so it is missing for data outside the US.

The HTML map needs no network: no tile server, no external script, style or font. Its small inline script
adds mouse-wheel zoom, drag pan, double-click reset, hover tooltips and legend-row highlighting.
"""

from __future__ import annotations

import colorsys
import html
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas
import numpy as np
import pandas as pd
import pyproj
import shapely
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.polygon import orient

from optimizer.regions import WGS84, data_centre, load_us_outline, local_equal_area_crs, project_geometry

logger = logging.getLogger(__name__)

UNASSIGNED_COLOUR = "#9e9e9e"
PNG_DPI = 150
PNG_LEGEND_MAX_REPS = 20
# Screen sizes (px) of the HTML markers; the script keeps them constant while zooming.
DOT_RADIUS_PX = 3.5
HOME_SIZE_PX = 9.0
# Nominal SVG width (px) used for marker sizes before the script measures the real one.
NOMINAL_WIDTH_PX = 900.0
# Longest edge (degrees) of the US outline before projection. A 0.25 degree piece of the 49th parallel
# strays about 7 m from the parallel in a projection centred on the contiguous US.
OUTLINE_SEGMENT_DEGREES = 0.25


# --- colours --------------------------------------------------------------------------------------------


def rep_colours(territories: geopandas.GeoDataFrame, reps: pd.DataFrame) -> dict[str, str]:
    """Give every rep a distinct "#rrggbb" colour, keeping neighbouring territories far apart in colour.

    The palette contains colours far apart from each other (see ``palette``). Reps are coloured greedily,
    most neighbours first. Each rep takes the free colour farthest (CIELAB distance) from the colours of
    its already coloured neighbours. Two territories are neighbours when their polygons touch or overlap.
    """
    rep_ids = [str(rep_id) for rep_id in reps["rep_id"]]
    candidates = palette(len(rep_ids))
    lab = {colour: _hex_to_lab(colour) for colour in candidates}
    neighbours = _territory_neighbours(territories, rep_ids)

    order = sorted(rep_ids, key=lambda rep_id: (-len(neighbours[rep_id]), rep_ids.index(rep_id)))
    colours: dict[str, str] = {}
    free = list(candidates)
    for rep_id in order:
        used = [lab[colours[other]] for other in neighbours[rep_id] if other in colours]
        if used:
            best = max(free, key=lambda colour: min(_lab_distance(lab[colour], other) for other in used))
        else:
            best = free[0]
        colours[rep_id] = best
        free.remove(best)
    return colours


def palette(count: int) -> list[str]:
    """Pick ``count`` colours far apart in CIELAB by farthest-point sampling of a fixed candidate grid."""
    candidates = []
    for hue_step in range(36):
        for lightness, saturation in ((0.42, 0.80), (0.58, 0.70), (0.32, 0.65), (0.70, 0.60)):
            red, green, blue = colorsys.hls_to_rgb(hue_step / 36.0, lightness, saturation)
            candidates.append(f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}")
    lab = [_hex_to_lab(colour) for colour in candidates]

    chosen = [0]
    nearest = [_lab_distance(lab[0], other) for other in lab]
    while len(chosen) < min(count, len(candidates)):
        index = max(range(len(candidates)), key=lambda i: nearest[i])
        chosen.append(index)
        nearest = [min(nearest[i], _lab_distance(lab[index], lab[i])) for i in range(len(candidates))]
    colours = [candidates[index] for index in chosen]
    # NOTE: beyond 144 reps the candidate grid runs out and colours repeat.
    return [colours[index % len(colours)] for index in range(count)]


def _hex_to_lab(colour: str) -> tuple[float, float, float]:
    """Convert an sRGB hex colour to CIELAB (D65 white point)."""
    channels = [int(colour[offset:offset + 2], 16) / 255.0 for offset in (1, 3, 5)]
    red, green, blue = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    x = (0.4124 * red + 0.3576 * green + 0.1805 * blue) / 0.95047
    y = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    z = (0.0193 * red + 0.1192 * green + 0.9505 * blue) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def _lab_distance(first: tuple[float, float, float], second: tuple[float, float, float]) -> float:
    return math.dist(first, second)


def _territory_neighbours(territories: geopandas.GeoDataFrame, rep_ids: list[str]) -> dict[str, set[str]]:
    neighbours: dict[str, set[str]] = {rep_id: set() for rep_id in rep_ids}
    drawn = territories[territories.geometry.notna() & territories["rep_id"].astype(str).isin(rep_ids)]
    geometries = drawn.geometry.to_numpy()
    ids = drawn["rep_id"].astype(str).to_numpy()
    first, second = shapely.STRtree(geometries).query(geometries, predicate="intersects")
    for i, j in zip(first.tolist(), second.tolist()):
        if i != j:
            neighbours[ids[i]].add(ids[j])
    return neighbours


# --- shared scene ---------------------------------------------------------------------------------------


@dataclass
class _Scene:
    """Everything both maps draw, projected to km in one equal-area CRS (y up)."""

    crs_label: str
    extent: tuple[float, float, float, float]
    territories: list[tuple[str, Polygon | MultiPolygon]]
    accounts: pd.DataFrame
    homes: pd.DataFrame
    land: Polygon | MultiPolygon | None
    colours: dict[str, str]
    rep_names: dict[str, str]
    not_located: int
    unassigned: int


def _build_scene(territories: geopandas.GeoDataFrame, assignments: pd.DataFrame, reps: pd.DataFrame) -> _Scene:
    territories = territories.to_crs(WGS84)
    located = assignments[np.isfinite(assignments["lat"].astype(float)) & np.isfinite(assignments["lon"].astype(float))]
    homes = reps[np.isfinite(reps["lat"].astype(float)) & np.isfinite(reps["lon"].astype(float))]

    lons = np.concatenate([located["lon"].to_numpy(float), homes["lon"].to_numpy(float)])
    lats = np.concatenate([located["lat"].to_numpy(float), homes["lat"].to_numpy(float)])
    if len(lons) == 0 and territories.geometry.notna().any():
        centroid = territories.geometry.dropna().union_all().representative_point()
        lons, lats = np.array([centroid.x]), np.array([centroid.y])
    if len(lons) == 0:
        lons, lats = np.array([-98.5]), np.array([39.5])  # an empty map, centred on the contiguous US
    centre_lon, centre_lat = data_centre(lons, lats)
    crs = local_equal_area_crs(lons, lats)
    to_km = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)

    def project_km(geometry: shapely.Geometry) -> shapely.Geometry:
        return shapely.transform(project_geometry(geometry, WGS84, crs), lambda coordinates: coordinates / 1000.0)

    drawn = [(str(row.rep_id), project_km(row.geometry)) for row in territories.itertuples() if row.geometry is not None]
    account_x, account_y = to_km.transform(located["lon"].to_numpy(float), located["lat"].to_numpy(float))
    home_x, home_y = to_km.transform(homes["lon"].to_numpy(float), homes["lat"].to_numpy(float))
    accounts = located.assign(x_km=np.asarray(account_x) / 1000.0, y_km=np.asarray(account_y) / 1000.0)
    homes = homes.assign(x_km=np.asarray(home_x) / 1000.0, y_km=np.asarray(home_y) / 1000.0)

    extent = _extent(drawn, accounts, homes)
    # The land is cut a little beyond the view so that zooming out does not show the cut at once.
    pad = 0.5 * max(extent[2] - extent[0], extent[3] - extent[1])
    land_view = box(extent[0] - pad, extent[1] - pad, extent[2] + pad, extent[3] + pad)
    # The outline's long straight edges, such as the 49th parallel, get vertices every OUTLINE_SEGMENT_DEGREES
    # so that they bend with the projection as the territories' borders do.
    land = project_km(shapely.segmentize(load_us_outline(), OUTLINE_SEGMENT_DEGREES)).intersection(land_view)
    return _Scene(
        crs_label=f"Lambert azimuthal equal-area centred on latitude {centre_lat:.2f}, longitude {centre_lon:.2f} (km)",
        extent=extent,
        territories=drawn,
        accounts=accounts,
        homes=homes,
        land=None if land.is_empty else land,
        colours=rep_colours(territories, reps),
        rep_names=dict(zip(reps["rep_id"].astype(str), reps["name"].astype(str))) if "name" in reps else {},
        not_located=len(assignments) - len(located),
        unassigned=int(located["rep_id"].isna().sum()),
    )


def _extent(
    territories: list[tuple[str, shapely.Geometry]], accounts: pd.DataFrame, homes: pd.DataFrame
) -> tuple[float, float, float, float]:
    """Return (min x, min y, max x, max y) in km around everything drawn, with a 4 % margin."""
    xs = list(accounts["x_km"]) + list(homes["x_km"])
    ys = list(accounts["y_km"]) + list(homes["y_km"])
    for _rep_id, geometry in territories:
        min_x, min_y, max_x, max_y = geometry.bounds
        xs += [min_x, max_x]
        ys += [min_y, max_y]
    if not xs:
        return (-100.0, -100.0, 100.0, 100.0)
    min_x, max_x, min_y, max_y = min(xs), max(xs), min(ys), max(ys)
    margin = 0.04 * max(max_x - min_x, max_y - min_y, 20.0)
    return (min_x - margin, min_y - margin, max_x + margin, max_y + margin)


def _rep_colour(scene: _Scene, rep_id: Any) -> str:
    if rep_id is None or (isinstance(rep_id, float) and math.isnan(rep_id)):
        return UNASSIGNED_COLOUR
    return scene.colours.get(str(rep_id), UNASSIGNED_COLOUR)


def _format_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return str(value)


_UNIT_SUFFIXES = {"_km2": "km2", "_km": "km", "_hours": "hours", "_usd": "USD"}


def _label(key: str) -> str:
    """Return a column label for a metric key, naming the unit where the key implies one."""
    for suffix, unit in _UNIT_SUFFIXES.items():
        if key.endswith(suffix):
            return f"{key[: -len(suffix)].replace('_', ' ')} ({unit})"
    if "_pct_of_" in key:
        measure, reference = key.split("_pct_of_", 1)
        return f"{measure.replace('_', ' ')} (% of {reference.replace('_', ' ')})"
    if key.startswith("potential"):
        return f"{key.replace('_', ' ')} (USD)"
    return key.replace("_", " ")


# --- HTML -----------------------------------------------------------------------------------------------


def write_map_html(
    territories: geopandas.GeoDataFrame,
    assignments: pd.DataFrame,
    reps: pd.DataFrame,
    rep_metrics: dict[str, dict[str, Any]],
    path: str | Path,
    *,
    title: str,
) -> Path:
    """Write one offline HTML file with the territory map, a per-rep metrics table and tooltips."""
    path = Path(path)
    scene = _build_scene(territories, assignments, reps)
    area_by_rep = {str(row.rep_id): row for row in territories.itertuples()}
    metric_keys = list(dict.fromkeys(key for metrics in rep_metrics.values() for key in metrics))

    svg = _svg(scene, area_by_rep, rep_metrics)
    table = _legend_table(scene, reps, area_by_rep, rep_metrics, metric_keys)
    drawn_accounts = len(scene.accounts)
    summary = (
        f"{len(reps)} reps, {drawn_accounts + scene.not_located} accounts: {drawn_accounts} drawn "
        f"({scene.unassigned} of them unassigned, in grey), {scene.not_located} not located and not drawn."
    )
    document = _HTML_TEMPLATE.format(
        title=html.escape(title),
        summary=html.escape(summary),
        projection=html.escape(scene.crs_label),
        svg=svg,
        table=table,
        style=_STYLE,
        script=_SCRIPT.replace("DOT_RADIUS_PX", str(DOT_RADIUS_PX)).replace("HOME_SIZE_PX", str(HOME_SIZE_PX)),
    )
    path.write_text(document, encoding="utf-8")
    logger.info("wrote HTML map of %d territories and %d accounts to %s", len(scene.territories), drawn_accounts, path)
    return path


def _svg(scene: _Scene, area_by_rep: dict[str, Any], rep_metrics: dict[str, dict[str, Any]]) -> str:
    min_x, min_y, max_x, max_y = scene.extent
    width, height = max_x - min_x, max_y - min_y
    unit = width / NOMINAL_WIDTH_PX  # km per screen pixel before the script measures the real size
    # Sub-pixel simplification keeps the file small; y is negated because SVG's y axis points down.
    tolerance = width / 4000.0
    parts = [
        f'<svg id="map" viewBox="{min_x:.2f} {-max_y:.2f} {width:.2f} {height:.2f}" '
        f'preserveAspectRatio="xMidYMid meet" role="img" aria-label="territory map">'
    ]

    if scene.land is not None:
        parts.append(f'<path class="land" d="{_svg_path(scene.land.simplify(tolerance))}"/>')

    parts.append('<g id="territories">')
    for rep_id, geometry in scene.territories:
        tip = _territory_tip(rep_id, scene, area_by_rep.get(rep_id), rep_metrics.get(rep_id, {}))
        parts.append(
            f'<path class="territory" data-rep="{html.escape(rep_id)}" data-tip="{tip}" '
            f'fill="{_rep_colour(scene, rep_id)}" d="{_svg_path(geometry.simplify(tolerance))}"/>'
        )
    parts.append("</g>")

    parts.append('<g id="accounts">')
    for account in scene.accounts.itertuples():
        rep_id = account.rep_id if pd.notna(account.rep_id) else None
        parts.append(
            f'<circle class="account" data-rep="{html.escape(str(rep_id or ""))}" data-tip="{_account_tip(account, scene)}" '
            f'cx="{account.x_km:.2f}" cy="{-account.y_km:.2f}" r="{DOT_RADIUS_PX * unit:.3f}" '
            f'fill="{_rep_colour(scene, rep_id)}"/>'
        )
    parts.append("</g>")

    parts.append('<g id="homes">')
    for home in scene.homes.itertuples():
        rep_id = str(home.rep_id)
        tip = _tip_text([f"home base of rep {rep_id}", scene.rep_names.get(rep_id, "")])
        parts.append(
            f'<g class="home" data-rep="{html.escape(rep_id)}" data-tip="{tip}" '
            f'transform="translate({home.x_km:.2f} {-home.y_km:.2f})">'
            f'<path class="home-mark" transform="scale({HOME_SIZE_PX * unit:.3f})" d="M0 -1 L1 0 L0 1 L-1 0 Z" '
            f'fill="{_rep_colour(scene, rep_id)}"/></g>'
        )
    parts.append("</g></svg>")
    return "\n".join(parts)


def _svg_path(geometry: shapely.Geometry) -> str:
    """Return SVG path data for polygons in km with y negated; holes render through fill-rule evenodd."""
    commands = []
    for polygon in shapely.get_parts(geometry):
        if not isinstance(polygon, Polygon) or polygon.is_empty:
            continue
        for ring in [polygon.exterior, *polygon.interiors]:
            coordinates = np.asarray(ring.coords)[:-1]
            points = " ".join(f"{x:.2f} {-y:.2f}" for x, y in coordinates)
            commands.append(f"M{points}Z")
    return "".join(commands)


def _tip_text(lines: list[str]) -> str:
    """Return tooltip lines escaped for an HTML attribute, joined by encoded newlines."""
    return "&#10;".join(html.escape(line, quote=True) for line in lines if line)


def _account_tip(account: Any, scene: _Scene) -> str:
    rep_id = account.rep_id if pd.notna(account.rep_id) else None
    rep = f"rep {rep_id} ({scene.rep_names.get(str(rep_id), '')})" if rep_id is not None else "unassigned"
    potential = getattr(account, "potential", None)
    lines = [
        str(getattr(account, "name", "")),
        f"account {account.account_id}",
        rep,
        f"tier {_format_value(getattr(account, 'tier', None))}",
        f"potential {_format_value(potential)} USD",
    ]
    return _tip_text(lines)


def _territory_tip(rep_id: str, scene: _Scene, territory: Any, metrics: dict[str, Any]) -> str:
    lines = [f"rep {rep_id} ({scene.rep_names.get(rep_id, '')})"]
    if territory is not None:
        lines.append(f"area (km2): {_format_value(territory.area_km2)}")
        lines.append(f"accounts outside: {_format_value(territory.accounts_outside)}")
    lines += [f"{_label(key)}: {_format_value(value)}" for key, value in metrics.items()]
    return _tip_text(lines)


def _legend_table(
    scene: _Scene,
    reps: pd.DataFrame,
    area_by_rep: dict[str, Any],
    rep_metrics: dict[str, dict[str, Any]],
    metric_keys: list[str],
) -> str:
    headers = ["", "rep", "name", "area (km2)", "accounts outside", *(_label(key) for key in metric_keys)]
    rows = ["<thead><tr>" + "".join(f"<th>{html.escape(header)}</th>" for header in headers) + "</tr></thead><tbody>"]
    for rep_id in reps["rep_id"].astype(str):
        territory = area_by_rep.get(rep_id)
        metrics = rep_metrics.get(rep_id, {})
        cells = [
            f'<span class="swatch" style="background:{_rep_colour(scene, rep_id)}"></span>',
            html.escape(rep_id),
            html.escape(scene.rep_names.get(rep_id, "")),
            _format_value(getattr(territory, "area_km2", None)),
            _format_value(getattr(territory, "accounts_outside", None)),
            *(html.escape(_format_value(metrics.get(key))) for key in metric_keys),
        ]
        rows.append(f'<tr data-rep="{html.escape(rep_id)}">' + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    rows.append("</tbody>")
    return '<table id="legend">' + "\n".join(rows) + "</table>"


_HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<header><h1>{title}</h1><p>{summary}</p></header>
<main>
<section id="map-panel">
{svg}
<p class="hint">Scroll to zoom, drag to pan, double-click to reset. Projection: {projection}.</p>
</section>
<section id="table-panel">
{table}
</section>
</main>
<div id="tooltip" hidden></div>
<script>{script}</script>
</body>
</html>
"""

_STYLE = """
body { margin: 0; font: 13px/1.35 system-ui, sans-serif; color: #222; background: #fff; }
header { padding: 8px 16px; border-bottom: 1px solid #ddd; }
header h1 { font-size: 18px; margin: 0 0 4px; }
header p { margin: 0; color: #555; }
main { display: flex; flex-wrap: wrap; gap: 12px; padding: 12px 16px; }
#map-panel { flex: 3 1 600px; min-width: 320px; }
#table-panel { flex: 2 1 360px; overflow: auto; max-height: 82vh; }
#map { width: 100%; height: 72vh; background: #dce8f2; border: 1px solid #bbb; cursor: grab; touch-action: none; }
#map.dragging { cursor: grabbing; }
.land { fill: #f3f1ea; stroke: #b9b3a4; stroke-width: 1px; vector-effect: non-scaling-stroke; }
.territory { fill-opacity: 0.38; fill-rule: evenodd; stroke: #333; stroke-width: 1px; vector-effect: non-scaling-stroke; }
.account { stroke: #fff; stroke-width: 0.6px; vector-effect: non-scaling-stroke; }
.home-mark { stroke: #000; stroke-width: 1.5px; vector-effect: non-scaling-stroke; }
#map.focus .territory:not(.highlight) { fill-opacity: 0.08; }
#map.focus .account:not(.highlight) { opacity: 0.25; }
.territory.highlight { fill-opacity: 0.6; stroke-width: 2px; }
.hint { color: #666; margin: 4px 0 0; }
#legend { border-collapse: collapse; white-space: nowrap; }
#legend th, #legend td { border-bottom: 1px solid #e3e3e3; padding: 3px 6px; text-align: right; }
#legend th:nth-child(-n+3), #legend td:nth-child(-n+3) { text-align: left; }
#legend thead th { position: sticky; top: 0; background: #f7f7f7; }
#legend tbody tr:hover { background: #fff6d5; }
.swatch { display: inline-block; width: 14px; height: 14px; border: 1px solid #555; vertical-align: middle; }
#tooltip { position: fixed; pointer-events: none; background: rgba(255, 255, 255, 0.96); border: 1px solid #888;
  padding: 4px 7px; white-space: pre-line; max-width: 340px; box-shadow: 0 1px 4px rgba(0, 0, 0, 0.25); }
"""

# The view box is the zoom state: wheel zoom scales it around the cursor, drag shifts it. After every
# change, marker sizes are reset so that dots and home diamonds keep their size in screen pixels.
_SCRIPT = """
(function () {
  "use strict";
  const svg = document.getElementById("map");
  const tooltip = document.getElementById("tooltip");
  const dots = Array.from(svg.querySelectorAll(".account"));
  const homeMarks = Array.from(svg.querySelectorAll(".home-mark"));
  const box = svg.viewBox.baseVal;
  const initial = { x: box.x, y: box.y, w: box.width, h: box.height };
  let view = Object.assign({}, initial);
  let drag = null;

  function unitsPerPixel() {
    const matrix = svg.getScreenCTM();
    return matrix && matrix.a ? 1 / matrix.a : view.w / 900;
  }

  function apply() {
    svg.setAttribute("viewBox", view.x + " " + view.y + " " + view.w + " " + view.h);
    const unit = unitsPerPixel();
    const radius = (DOT_RADIUS_PX * unit).toPrecision(4);
    const scale = "scale(" + (HOME_SIZE_PX * unit).toPrecision(4) + ")";
    dots.forEach(function (dot) { dot.setAttribute("r", radius); });
    homeMarks.forEach(function (mark) { mark.setAttribute("transform", scale); });
  }

  function toMap(event) {
    const point = svg.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    return point.matrixTransform(svg.getScreenCTM().inverse());
  }

  svg.addEventListener("wheel", function (event) {
    event.preventDefault();
    const anchor = toMap(event);
    const step = Math.max(-100, Math.min(100, event.deltaY));
    let factor = Math.exp(step * 0.002);
    factor = Math.max(initial.w / 500 / view.w, Math.min(factor, initial.w * 4 / view.w));
    view = { x: anchor.x - (anchor.x - view.x) * factor, y: anchor.y - (anchor.y - view.y) * factor,
             w: view.w * factor, h: view.h * factor };
    apply();
  }, { passive: false });

  svg.addEventListener("pointerdown", function (event) {
    drag = { x: event.clientX, y: event.clientY, view: Object.assign({}, view), unit: unitsPerPixel() };
    svg.setPointerCapture(event.pointerId);
    svg.classList.add("dragging");
    tooltip.hidden = true;
  });
  svg.addEventListener("pointermove", function (event) {
    if (!drag) { return; }
    view.x = drag.view.x - (event.clientX - drag.x) * drag.unit;
    view.y = drag.view.y - (event.clientY - drag.y) * drag.unit;
    apply();
  });
  function endDrag() { drag = null; svg.classList.remove("dragging"); }
  svg.addEventListener("pointerup", endDrag);
  svg.addEventListener("pointercancel", endDrag);
  svg.addEventListener("dblclick", function () { view = Object.assign({}, initial); apply(); });

  svg.addEventListener("mousemove", function (event) {
    const target = event.target.closest("[data-tip]");
    if (drag || !target) { tooltip.hidden = true; return; }
    tooltip.textContent = target.getAttribute("data-tip");
    tooltip.hidden = false;
    tooltip.style.left = Math.min(event.clientX + 14, window.innerWidth - tooltip.offsetWidth - 4) + "px";
    tooltip.style.top = Math.min(event.clientY + 14, window.innerHeight - tooltip.offsetHeight - 4) + "px";
  });
  svg.addEventListener("mouseleave", function () { tooltip.hidden = true; });

  document.querySelectorAll("#legend tbody tr").forEach(function (row) {
    const rep = row.getAttribute("data-rep");
    const members = Array.from(svg.querySelectorAll("[data-rep]")).filter(function (element) {
      return element.getAttribute("data-rep") === rep;
    });
    row.addEventListener("mouseenter", function () {
      svg.classList.add("focus");
      members.forEach(function (element) { element.classList.add("highlight"); });
    });
    row.addEventListener("mouseleave", function () {
      svg.classList.remove("focus");
      members.forEach(function (element) { element.classList.remove("highlight"); });
    });
  });

  window.addEventListener("resize", apply);
  apply();
})();
"""


# --- PNG ------------------------------------------------------------------------------------------------


def write_map_png(
    territories: geopandas.GeoDataFrame,
    assignments: pd.DataFrame,
    reps: pd.DataFrame,
    path: str | Path,
    *,
    title: str,
) -> Path:
    """Write a static PNG map at 150 dpi, with a legend when there are at most 20 reps."""
    path = Path(path)
    scene = _build_scene(territories, assignments, reps)
    # A Figure without pyplot draws through the Agg canvas and never opens a window or changes the backend.
    figure = Figure(figsize=(11, 8.5), layout="constrained")
    axes = figure.add_subplot()
    axes.set_facecolor("#dce8f2")

    # add_artist does not update the data limits from every curve of the path, as add_patch does. That
    # update took seconds for a hundred territories, and the limits are set from the scene's extent below.
    if scene.land is not None:
        axes.add_artist(PathPatch(_mpl_path(scene.land), facecolor="#f3f1ea", edgecolor="#b9b3a4", linewidth=0.5))
    for rep_id, geometry in scene.territories:
        colour = _rep_colour(scene, rep_id)
        axes.add_artist(PathPatch(_mpl_path(geometry), facecolor=to_rgba(colour, 0.38),
                                  edgecolor="#333333", linewidth=0.6))

    accounts = scene.accounts
    if not accounts.empty:
        colours = [_rep_colour(scene, rep_id if pd.notna(rep_id) else None) for rep_id in accounts["rep_id"]]
        axes.scatter(accounts["x_km"], accounts["y_km"], s=9, c=colours, edgecolors="white", linewidths=0.3, zorder=3)
    if not scene.homes.empty:
        home_colours = [_rep_colour(scene, rep_id) for rep_id in scene.homes["rep_id"]]
        axes.scatter(scene.homes["x_km"], scene.homes["y_km"], s=90, marker="D", c=home_colours,
                     edgecolors="black", linewidths=1.0, zorder=4)

    min_x, min_y, max_x, max_y = scene.extent
    axes.set_xlim(min_x, max_x)
    axes.set_ylim(min_y, max_y)
    axes.set_aspect("equal")
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(title)
    axes.set_xlabel(f"{scene.crs_label}. {scene.not_located} accounts not located (not drawn).", fontsize=8)
    _add_png_legend(axes, scene, reps)

    figure.savefig(path, dpi=PNG_DPI, format="png", bbox_inches="tight", pad_inches=0.2)
    logger.info("wrote PNG map of %d territories to %s", len(scene.territories), path)
    return path


def _add_png_legend(axes: Any, scene: _Scene, reps: pd.DataFrame) -> None:
    if len(reps) > PNG_LEGEND_MAX_REPS:
        return
    handles = [
        Patch(facecolor=_rep_colour(scene, rep_id), edgecolor="#333333",
              label=f"{rep_id} {scene.rep_names.get(str(rep_id), '')}".strip())
        for rep_id in reps["rep_id"].astype(str)
    ]
    if not scene.homes.empty:
        handles.append(Line2D([], [], marker="D", linestyle="", markerfacecolor="white", markeredgecolor="black",
                              label="rep home base"))
    if scene.unassigned:
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor=UNASSIGNED_COLOUR,
                              markeredgecolor="white", label="unassigned account"))
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def _mpl_path(geometry: shapely.Geometry) -> MplPath:
    """Convert polygons to one matplotlib path; holes cut out because their rings run the other way."""
    vertices: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    for polygon in shapely.get_parts(geometry):
        if not isinstance(polygon, Polygon) or polygon.is_empty:
            continue
        oriented = orient(polygon, sign=1.0)
        for ring in [oriented.exterior, *oriented.interiors]:
            ring_vertices = np.asarray(ring.coords)[:, :2]
            ring_codes = np.full(len(ring_vertices), MplPath.LINETO, dtype=np.uint8)
            ring_codes[0] = MplPath.MOVETO
            ring_codes[-1] = MplPath.CLOSEPOLY
            vertices.append(ring_vertices)
            codes.append(ring_codes)
    if not vertices:
        return MplPath(np.zeros((0, 2)))
    return MplPath(np.concatenate(vertices), np.concatenate(codes))
