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
    unit = next((metrics["solver"].get("objective_unit") for metrics in metrics_list), "")
    measures = [
        Measure("reps", "", lambda m: m["summary"]["reps"]),
        Measure("accounts assigned", "", lambda m: m["summary"]["assigned"]),
        Measure("accounts not located", "", lambda m: m["summary"]["not_located"]),
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
    except (KeyError, TypeError):
        # Metrics written by an older version may lack a section.
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
        missing = [key for key in ("solver", "summary", "balance", "disruption", "reps") if key not in metrics] \
            if isinstance(metrics, dict) else ["solver"]
        if not missing:
            return metrics
        reason = f"has no {missing[0]} section; give the metrics.json that territory plan wrote"
    raise InputError([RowIssue(str(path), None, "", "", reason)], summary="cannot read a plan to compare")


def format_comparison(table: pd.DataFrame) -> str:
    """Return the comparison as a plain-text table; each row's numbers share one number of decimals."""
    names = [column for column in table.columns if column != "unit"]
    cells = {name: [] for name in names}
    for _, row in table.iterrows():
        decimals = _decimals([row[name] for name in names])
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


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _decimals(values: list) -> int:
    """Return the decimals for a row: none for whole numbers, 2 from 1 upwards, 3 below 1."""
    numbers = [float(value) for value in values if _is_number(value)]
    if all(number.is_integer() for number in numbers):
        return 0
    return 2 if max(abs(number) for number in numbers) >= 1 else 3


def _cell(value: object, decimals: int) -> str:
    if _is_number(value):
        return f"{value:,.{decimals}f}"
    if value is None or isinstance(value, float):
        return "-"
    return str(value)


def write_comparison_png(plans: Sequence[tuple[str, dict, geopandas.GeoDataFrame | None]], path: Path) -> Path:
    """Write the plans side by side as a PNG: each plan's territories above each rep's potential against target.

    `plans` are (name, metrics, territories) triples; territories may be None, which leaves the map
    panel empty. A rep has the same colour in every panel. The maps are drawn in one Lambert azimuthal
    equal-area projection centred on the plans' territories, so areas compare truly.
    """
    import geopandas
    from matplotlib.figure import Figure

    rep_ids = sorted({row["rep_id"] for _, metrics, _ in plans for row in metrics["reps"]})
    palette = _palette(len(rep_ids))
    colour = dict(zip(rep_ids, palette, strict=True))
    shapes = [territories for _, _, territories in plans if territories is not None and not territories.empty]
    projection = None
    if shapes:
        union = geopandas.GeoSeries(pd.concat([shape.geometry for shape in shapes]), crs="EPSG:4326")
        west, south, east, north = union.total_bounds
        projection = f"+proj=laea +lat_0={(south + north) / 2:.4f} +lon_0={(west + east) / 2:.4f} +units=km"

    figure = Figure(figsize=(4.2 * len(plans), 6.5), layout="constrained")
    grid = figure.subplots(2, len(plans), squeeze=False, height_ratios=[3, 2])
    for column, (name, metrics, territories) in enumerate(plans):
        map_axes, bar_axes = grid[0][column], grid[1][column]
        map_axes.set_xticks([])
        map_axes.set_yticks([])
        map_axes.set_title(name)
        if territories is not None and not territories.empty and projection is not None:
            drawn = territories.to_crs(projection)
            drawn.plot(ax=map_axes, color=[colour.get(rep, "#cccccc") for rep in drawn["rep_id"]], alpha=0.6,
                       edgecolor="#333333", linewidth=0.5)
            map_axes.set_aspect("equal")
            map_axes.set_ylabel("")
        gap = metrics["solver"].get("gap")
        map_axes.set_xlabel(f"objective {metrics['solver']['objective']:,.0f} {metrics['solver'].get('objective_unit', '')}"
                            f", gap {'-' if gap is None else f'{gap:.2%}'}\n"
                            f"{metrics['disruption']['accounts_moved']:,} accounts moved", fontsize=8)

        rows = [row for row in metrics["reps"] if row.get("potential_pct_of_target") is not None]
        rows.sort(key=lambda row: row["rep_id"])
        bar_axes.bar(range(len(rows)), [row["potential_pct_of_target"] - 100.0 for row in rows],
                     color=[colour[row["rep_id"]] for row in rows])
        band = (metrics["balance"].get("potential") or {}).get("band")
        bar_axes.axhline(0.0, color="#333333", linewidth=0.8)
        if band is not None:
            for level in (-100.0 * band, 100.0 * band):
                bar_axes.axhline(level, color="#333333", linewidth=0.6, linestyle="--")
        bar_axes.set_xticks(range(len(rows)), [row["rep_id"] for row in rows], rotation=90, fontsize=6)
        bar_axes.set_ylabel("potential above or below target, %" if column == 0 else "")
        bar_axes.set_title("dashed: the potential band" if band is not None else "no potential band", fontsize=8)
    # One scale for every balance panel, so that a tighter plan shows shorter bars.
    reach = max([abs(row["potential_pct_of_target"] - 100.0) for _, metrics, _ in plans for row in metrics["reps"]
                 if row.get("potential_pct_of_target") is not None]
                + [100.0 * ((metrics["balance"].get("potential") or {}).get("band") or 0.0) for _, metrics, _ in plans]
                + [1.0])
    for column in range(len(plans)):
        grid[1][column].set_ylim(-1.1 * reach, 1.1 * reach)
    figure.savefig(path, dpi=120, format="png")
    return path


def _palette(count: int) -> list[str]:
    """Return `count` distinct colours, from matplotlib's qualitative maps and then evenly spaced hues."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    base = [to_hex(colour) for colour in colormaps["tab20"].colors]
    if count <= len(base):
        return base[:count]
    hsv = colormaps["hsv"]
    return [to_hex(hsv(index / count)) for index in range(count)]
