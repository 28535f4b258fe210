"""Plans side by side: the figures leadership weighs between what-if scenarios.

Each plan is read from its metrics.json (the CLI's plan folder or the API's stored metrics). The
comparison has one row per measure and one column per plan: headcount, cost and its proven gap,
balance of every metric, workload, travel and disruption. Every row carries its unit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from optimizer.errors import InputError, RowIssue

# Plans compared at once: the picture has one panel per plan, PANELS_PER_ROW to a row.
MIN_COMPARED, MAX_COMPARED = 2, 8
PANELS_PER_ROW = 4

if TYPE_CHECKING:
    import geopandas


@dataclass(frozen=True)
class Measure:
    """One row of the comparison: its label, unit and how to read it from a plan's metrics."""

    label: str
    unit: str
    value: Callable[[dict], float | int | str | None]


def _reps(metrics: dict, key: str, pick: Callable) -> float | None:
    values = [row[key] for row in metrics["reps"] if row.get(key) is not None]
    return pick(values) if values else None


def _measures(metrics_list: Sequence[dict]) -> list[Measure]:
    """Return the measures, with one balance row set per metric that any of the plans reports."""
    units = {metrics["solver"].get("objective_unit") for metrics in metrics_list}
    # Objectives of different units (distance weighted by workload or by potential) do not compare.
    unit = units.pop() if len(units) == 1 else "differs: see objective unit"
    measures = [
        Measure("reps", "", lambda m: m["summary"]["reps"]),
        Measure("accounts assigned", "", lambda m: m["summary"]["assigned"]),
        Measure("accounts not located", "", lambda m: m["summary"]["not_located"]),
        Measure("objective unit", "", lambda m: m["solver"].get("objective_unit")),
        Measure("objective", unit, lambda m: m["solver"]["objective"]),
        Measure("lower bound", unit, lambda m: m["solver"].get("lower_bound")),
        Measure("gap", "%", lambda m: _percent(m["solver"].get("gap"))),
        Measure("solver status", "", lambda m: m["solver"]["status"]),
    ]
    metrics_names = []
    for metrics in metrics_list:
        metrics_names += [name for name in metrics["balance"] if name not in metrics_names]
    for name in metrics_names:
        measures += [
            Measure(f"{name}: band", "+-%", partial(_balance, name=name, key="band", scale=100.0)),
            Measure(f"{name}: max deviation from target", "%",
                    partial(_balance, name=name, key="max_deviation_from_target", scale=100.0)),
            Measure(f"{name}: coefficient of variation", "", partial(_balance, name=name, key="cv")),
            Measure(f"{name}: Gini", "", partial(_balance, name=name, key="gini")),
        ]
    measures += [
        Measure("utilisation, lowest rep", "%", lambda m: _percent(_reps(m, "utilisation", min))),
        Measure("utilisation, highest rep", "%", lambda m: _percent(_reps(m, "utilisation", max))),
        Measure("mean distance, farthest territory", "km", lambda m: _reps(m, "mean_distance_km", max)),
        Measure("longest distance to an account", "km", lambda m: _reps(m, "max_distance_km", max)),
        Measure("accounts moved", "", lambda m: m["disruption"]["accounts_moved"]),
        Measure("accounts moved, share of owned", "%", lambda m: _percent(m["disruption"]["share_moved"])),
        Measure("potential moved", "USD", lambda m: m["disruption"]["potential_moved"]),
        Measure("empty territories", "", lambda m: len(m.get("empty_territories", []))),
    ]
    return measures


def _balance(metrics: dict, name: str, key: str, scale: float = 1.0) -> float | None:
    value = (metrics["balance"].get(name) or {}).get(key)
    return None if value is None else scale * value


def _percent(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def compare_metrics(plans: Sequence[tuple[str, dict]]) -> pd.DataFrame:
    """Return the comparison of `plans` ((name, metrics.json content) pairs) as a table.

    The index is the measure, the columns are "unit" and then one column per plan name, in order.
    A measure that a plan lacks (a band it does not have) is empty for that plan.
    """
    names = [name for name, _ in plans]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"plan names must differ; {repeated[0]!r} is given more than once")
    measures = _measures([metrics for _, metrics in plans])
    rows = {measure.label: {"unit": measure.unit, **{name: _read(measure, metrics) for name, metrics in plans}}
            for measure in measures}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["unit", *names])
    table.index.name = "measure"
    return table


def comparison_rows(table: pd.DataFrame) -> list[dict]:
    """Return the comparison as JSON-ready rows: measure, unit and one value per plan (null where missing)."""
    names = [column for column in table.columns if column != "unit"]
    return [{"measure": measure, "unit": row["unit"], "values": [_plain(row[name]) for name in names]}
            for measure, row in table.iterrows()]


def _plain(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    # numpy numbers become Python numbers, which json can write.
    return value.item() if hasattr(value, "item") else value


def _read(measure: Measure, metrics: dict) -> float | int | str | None:
    try:
        value = measure.value(metrics)
    except (KeyError, TypeError, ValueError, AttributeError):
        # Metrics written by an older version may lack a section or hold another kind of value.
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_plan_metrics(folder: Path) -> dict:
    """Return the metrics.json of the plan folder `folder`, or raise InputError naming the problem."""
    path = folder / "metrics.json" if folder.is_dir() else folder
    if not folder.exists():
        raise InputError([RowIssue(str(folder), None, "", "", "does not exist; give a folder that territory plan "
                                                              "wrote")], summary="cannot read a plan to compare")
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        reason = "is missing; give a folder that territory plan wrote"
    except (OSError, UnicodeDecodeError, ValueError) as error:
        reason = f"cannot be read as a plan's metrics.json ({type(error).__name__}: {error})"
    else:
        problem = _shape_problem(metrics)
        if problem is None:
            return metrics
        reason = f"{problem}; give the metrics.json that territory plan wrote"
    raise InputError([RowIssue(str(path), None, "", "", reason)], summary="cannot read a plan to compare")


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _shape_problem(metrics: object) -> str | None:
    """Return what keeps `metrics` from being a plan's metrics.json as the comparison reads it, or None."""
    if not isinstance(metrics, dict):
        return "is not a JSON object"
    for key, kind in (("solver", dict), ("summary", dict), ("balance", dict), ("disruption", dict), ("reps", list)):
        if not isinstance(metrics.get(key), kind):
            return f"has no {key} section" if key not in metrics else f"has a {key} section of the wrong kind"
    if not _number(metrics["solver"].get("objective")):
        return "has no numeric solver objective"
    for row in metrics["reps"]:
        if not isinstance(row, dict) or not isinstance(row.get("rep_id"), str):
            return "has a reps entry without a rep_id"
        for key in ("potential_pct_of_target", "utilisation", "mean_distance_km", "max_distance_km"):
            if row.get(key) is not None and not _number(row[key]):
                return f"has a non-numeric {key} for rep {row['rep_id']}"
    if any(not isinstance(entry, dict) for entry in metrics["balance"].values()):
        return "has a balance entry that is not an object"
    return None


def format_comparison(table: pd.DataFrame) -> str:
    """Return the comparison as a plain-text table; each row's numbers share one number of decimals."""
    names = [column for column in table.columns if column != "unit"]
    cells = {name: [] for name in names}
    for _, row in table.iterrows():
        # Percentages always show 2 decimals, so that a column of them lines up.
        decimals = 2 if row["unit"] in ("%", "+-%") else _decimals([row[name] for name in names])
        for name in names:
            cells[name].append(_cell(row[name], decimals))
    labels = [f"{measure} ({unit})" if unit else measure for measure, unit in zip(table.index, table["unit"],
                                                                                  strict=True)]
    label_width = max(len(label) for label in labels)
    widths = {name: max(len(name), *(len(cell) for cell in cells[name])) for name in names}
    header = f"{'':<{label_width}}  " + "  ".join(f"{name:>{widths[name]}}" for name in names)
    lines = [header, "-" * len(header)]
    for row, label in enumerate(labels):
        lines.append(f"{label:<{label_width}}  " + "  ".join(f"{cells[name][row]:>{widths[name]}}" for name in names))
    return "\n".join(lines)


def _decimals(values: list) -> int:
    """Return the decimals for a row: none for whole numbers, 2 from 1 upwards, 3 below 1."""
    numbers = [float(value) for value in values if _number(value)]
    if all(number.is_integer() for number in numbers):
        return 0
    return 2 if max(abs(number) for number in numbers) >= 1 else 3


def _cell(value: object, decimals: int) -> str:
    if _number(value):
        return f"{value:,.{decimals}f}"
    if value is None or isinstance(value, float):
        return "-"
    return str(value)


def write_comparison_png(plans: Sequence[tuple[str, dict, geopandas.GeoDataFrame | None]], path: Path) -> Path:
    """Write the plans side by side as a PNG: each plan's territories above each rep's potential against target.

    `plans` are (name, metrics, territories) triples; territories may be None, which leaves the map
    panel empty. A rep has the same colour and the same bar position in every panel, and the bars share
    one scale. The maps are drawn in one Lambert azimuthal equal-area projection centred on the plans'
    territories, so areas compare truly. Panels wrap after PANELS_PER_ROW plans.
    """
    import geopandas
    from matplotlib.figure import Figure

    from optimizer.outputs.mapview import palette, rep_colours

    rep_ids = sorted({row["rep_id"] for _, metrics, _ in plans for row in metrics["reps"]})
    position = {rep_id: index for index, rep_id in enumerate(rep_ids)}
    shapes = [territories for _, _, territories in plans if territories is not None and not territories.empty]
    # Colours far apart for neighbouring territories of the first plan drawn, and the same in every panel.
    colour = (rep_colours(shapes[0], pd.DataFrame({"rep_id": rep_ids})) if shapes
              else dict(zip(rep_ids, palette(len(rep_ids)), strict=True)))
    projection = None
    if shapes:
        union = geopandas.GeoSeries(pd.concat([shape.geometry for shape in shapes]), crs="EPSG:4326")
        west, south, east, north = union.total_bounds
        projection = f"+proj=laea +lat_0={(south + north) / 2:.4f} +lon_0={(west + east) / 2:.4f} +units=km"

    columns = min(len(plans), PANELS_PER_ROW)
    rows = math.ceil(len(plans) / columns)
    figure = Figure(figsize=(4.2 * columns, 6.5 * rows), layout="constrained")
    grid = figure.subplots(2 * rows, columns, squeeze=False, height_ratios=[3, 2] * rows)
    for axes in grid.flat:
        axes.set_visible(False)
    reach = 1.0
    for index, (name, metrics, territories) in enumerate(plans):
        map_axes, bar_axes = grid[2 * (index // columns)][index % columns], grid[2 * (index // columns) + 1][index % columns]
        map_axes.set_visible(True)
        bar_axes.set_visible(True)
        _draw_map(map_axes, name, metrics, territories, projection, colour)
        reach = max(reach, _draw_balance(bar_axes, metrics, colour, position, first=index % columns == 0))
    # One scale for every balance panel, so that a tighter plan shows shorter bars.
    for axes in grid[1::2].flat:
        axes.set_ylim(-1.1 * reach, 1.1 * reach)
        axes.set_xlim(-0.6, len(rep_ids) - 0.4)
    figure.savefig(path, dpi=120, format="png")
    return path


def _draw_map(axes, name: str, metrics: dict, territories, projection: str | None, colour: dict[str, str]) -> None:
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(name)
    if territories is not None and not territories.empty and projection is not None:
        drawn = territories.to_crs(projection)
        drawn.plot(ax=axes, color=[colour.get(rep, "#cccccc") for rep in drawn["rep_id"]], alpha=0.6,
                   edgecolor="#333333", linewidth=0.5)
        axes.set_aspect("equal")
        axes.set_ylabel("")
    solver = metrics["solver"]
    gap = solver.get("gap")
    if gap is not None:
        gap_text = f"gap {gap:.2%}"
    elif solver.get("status") == "breaks rules":
        gap_text = "no gap: the plan breaks rules"
    else:
        gap_text = "no gap: no lower bound"
    moved = (metrics.get("disruption") or {}).get("accounts_moved")
    axes.set_xlabel(f"objective {solver['objective']:,.0f} {solver.get('objective_unit', '')}, {gap_text}\n"
                    f"{'-' if moved is None else f'{moved:,}'} accounts moved", fontsize=8)


def _draw_balance(axes, metrics: dict, colour: dict[str, str], position: dict[str, int], first: bool) -> float:
    """Draw a bar per rep of its potential above or below target; return the largest distance from 0 drawn."""
    rows = [row for row in metrics["reps"] if row.get("potential_pct_of_target") is not None]
    deviation = [row["potential_pct_of_target"] - 100.0 for row in rows]
    axes.bar([position[row["rep_id"]] for row in rows], deviation, color=[colour[row["rep_id"]] for row in rows],
             alpha=0.75, edgecolor="#333333", linewidth=0.5)
    band = (metrics["balance"].get("potential") or {}).get("band")
    axes.axhline(0.0, color="#333333", linewidth=0.8)
    if band is not None:
        for level in (-100.0 * band, 100.0 * band):
            axes.axhline(level, color="#333333", linewidth=0.6, linestyle="--")
    axes.set_xticks(sorted(position.values()), sorted(position, key=position.get), rotation=90, fontsize=6)
    axes.set_ylabel("potential above or below target, %" if first else "")
    axes.set_title("dashed: the potential band" if band is not None else "no potential band", fontsize=8)
    return max([abs(value) for value in deviation] + [100.0 * (band or 0.0)])
