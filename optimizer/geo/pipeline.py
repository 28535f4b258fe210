"""The geographic job: from a unit layer (or accounts' ZIP codes) to connected territories and their files.

build the problem (optimizer.geo.instance) -> solve (optimizer.geo.districts) -> check the plan without
the solver -> dissolve the units into territory polygons -> tables, metrics -> files. The files are
units.csv, assignments.csv (with accounts), territories.geojson, metrics.json, map.html and map.png,
written only when the whole job succeeds.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas
import numpy as np
import pandas as pd

from optimizer.errors import InfeasibleError, SolverError
from optimizer.geo.dissolve import dissolve_territories
from optimizer.geo.districts import DistrictPlan, solve_districts
from optimizer.geo.instance import GeoInstance, build_geo_instance
from optimizer.geo.report import (ASSIGNMENT_COLUMNS, assignment_table, metrics_document, territory_properties,
                                  unit_table)
from optimizer.geo.request import GeoRequest
from optimizer.geo.validate import district_plan_problems
from optimizer.outputs import write_map_html, write_map_png
from optimizer.outputs.geojson import geometry_dict, json_safe
from optimizer.pipeline import check_out_dir, write_staged

logger = logging.getLogger(__name__)

# Seconds kept back from the solver for dissolving the territories and writing the files. On a 2-core
# machine the 99 Iowa counties took 1.6 s (dissolving 0.4 s, the two maps 1.2 s). The per-unit share
# is an estimate for larger layers, not a measurement.
OUTPUT_SECONDS = 2.0
OUTPUT_SECONDS_PER_UNIT = 2e-4
# The minimum solver time, however long reading took. The run then takes longer than its limit.
MIN_SOLVE_SECONDS = 1.0

OUTPUT_FILES = ("units.csv", "assignments.csv", "territories.geojson", "metrics.json", "map.html", "map.png")


@dataclass
class GeoPlanResult:
    """A solved, checked geographic plan with everything its files contain."""

    instance: GeoInstance
    plan: DistrictPlan
    units: pd.DataFrame                    # the rows of units.csv
    assignments: pd.DataFrame | None       # the rows of assignments.csv (plus name, lat, lon); None without accounts
    territories: geopandas.GeoDataFrame    # one row per territory: properties and geometry (EPSG:4326)
    metrics: dict[str, Any]                # the content of metrics.json

    @property
    def files(self) -> list[str]:
        return [name for name in OUTPUT_FILES if name != "assignments.csv" or self.assignments is not None]


def plan_geographic(request: GeoRequest, *, started: float | None = None,
                    phase: Any = None) -> GeoPlanResult:
    """Build, solve and check a geographic plan without writing any file.

    The request's time limit covers the whole job from ``started`` (a time.monotonic() value, default
    now). ``phase``, when given, is called with the name of each step (loading, solving, territories).
    Raises InputError or ConfigError for bad input, InfeasibleError from the pre-check, and SolverError
    when no plan inside the hard bands was found in time.
    """
    started = time.monotonic() if started is None else started
    _phase(phase, "loading")
    instance = build_geo_instance(request)

    _phase(phase, "solving")
    solve_s, notes = _solver_time(request, instance, started)
    plan = solve_districts(instance.problem, solve_s, seed=request.seed, workers=request.workers)
    plan.notes.extend(notes)
    _check(instance, plan)

    _phase(phase, "territories")
    return _result(instance, plan, solve_s)


def geo_plan_files(request: GeoRequest, out_dir: str | Path, started: float | None = None) -> GeoPlanResult:
    """Run ``plan_geographic`` and write its files into ``out_dir``, where nothing is written on any error.

    The time limit counts from `started` (a time.monotonic() value; now when None).
    """
    started = time.monotonic() if started is None else started
    check_out_dir(Path(out_dir))
    result = plan_geographic(request, started=started)
    write_geo_outputs(result, Path(out_dir))
    return result


def _phase(callback: Any, name: str) -> None:
    if callback is not None:
        callback(name)


def _solver_time(request: GeoRequest, instance: GeoInstance, started: float) -> tuple[float, list[str]]:
    """Return the solver's share of the time limit: what reading left, less the time kept for the files."""
    spent = time.monotonic() - started
    left = request.time_limit_s - spent - OUTPUT_SECONDS - OUTPUT_SECONDS_PER_UNIT * instance.problem.unit_count
    notes = []
    if left < MIN_SOLVE_SECONDS:
        notes.append(f"the time limit of {request.time_limit_s:g} s left {max(left, 0.0):.1f} s for the solver after "
                     f"reading; the solver was allowed {MIN_SOLVE_SECONDS:g} s instead, so the run may take longer "
                     "than the limit")
        logger.warning(notes[-1])
    solve_s = max(MIN_SOLVE_SECONDS, left)
    logger.info("time limit %g s: %.1f s spent reading, %.1f s left for the solver", request.time_limit_s, spent,
                solve_s)
    return solve_s, notes


def _check(instance: GeoInstance, plan: DistrictPlan) -> None:
    """Raise SolverError for a plan outside its hard bands, or one that breaks a rule the solver must keep."""
    capped = _capacity_cap(instance, plan)
    if plan.status == "bands_infeasible":
        reached = ", ".join(f"{name} {deviation:.2%}" for name, deviation in plan.max_deviation.items())
        bands = ", ".join(band.text() for band in instance.request.bands if band.hard)
        relaxations = ["widen the bands to at least those deviations, or make them soft (NAME=soft) to get the most "
                       "balanced connected plan"]
        if capped:
            relaxations.insert(0, "add rep capacity_hours: the workload_hours band cannot pass it")
        raise InfeasibleError([f"no plan with connected territories meets every band ({bands}){capped}; the "
                               f"smallest largest deviation possible is {reached}"], relaxations)
    if plan.status == "bands_not_met":
        reached = ", ".join(f"{name} {deviation:.2%}" for name, deviation in plan.max_deviation.items())
        bands = ", ".join(band.text() for band in instance.request.bands if band.hard)
        advice = ("Add rep capacity_hours, give a longer time limit, or make the band soft (NAME=soft)" if capped else
                  "Give a longer time limit, wider bands, or soft bands (NAME=soft) to get the most balanced "
                  "connected plan")
        raise SolverError(f"no plan with connected territories inside the bands ({bands}){capped} was found in the "
                          f"time limit; the closest had a largest deviation of {reached}. {advice}")
    problems = district_plan_problems(instance.problem, plan.assignment)
    if problems:
        # The model and the validator disagree: a defect, never a user error. Nothing is written.
        raise SolverError("the solver's plan breaks rules it should keep (please report this):\n  - "
                          + "\n  - ".join(problems[:20]))


def _capacity_cap(instance: GeoInstance, plan: DistrictPlan) -> str:
    """Return a clause for messages when a hard workload_hours band stops at the reps' capacity, else ""."""
    problem = instance.problem
    if problem.capacity is None or problem.workload is None:
        return ""
    band = next((band for band in problem.bands if band.name == "workload_hours" and band.hard), None)
    if band is None or not np.any(np.isclose(band.upper, problem.capacity)):
        return ""
    hours = np.bincount(plan.assignment, weights=problem.workload, minlength=problem.territory_count)
    over = float(np.max(hours - problem.capacity))
    total, capacity = float(problem.workload.sum()), float(problem.capacity.sum())
    clause = (f", where the workload_hours band stops at each rep's capacity_hours ({total:,.1f} hours of workload "
              f"for {capacity:,.1f} hours of capacity, {capacity - total:,.1f} spare)")
    if over > 1e-9:
        clause += f"; the closest plan exceeds a rep's capacity by {over:,.1f} hours"
    return clause


def _result(instance: GeoInstance, plan: DistrictPlan, solve_s: float) -> GeoPlanResult:
    assignment = plan.assignment
    ids = instance.territory_ids
    mapping = dict(zip(instance.layer.unit_ids, (ids[t] for t in assignment.tolist())))
    dissolved = dissolve_territories(instance.layer, mapping, ids, snap_km=instance.request.snap_km)

    properties = territory_properties(instance, assignment, dissolved)
    territories = geopandas.GeoDataFrame(pd.DataFrame(properties), geometry=dissolved.geometry.to_numpy(),
                                         crs=dissolved.crs)
    units = unit_table(instance, assignment)
    assignments = assignment_table(instance, assignment)
    extra = {"time_limit_s": round(solve_s, 3), "run_time_limit_s": instance.request.time_limit_s}
    metrics = json_safe(metrics_document(instance, plan, properties, assignments, extra))
    logger.info("geographic plan: %s, %d territories, largest deviation %s", plan.status, len(ids),
                {name: round(value, 6) for name, value in plan.max_deviation.items()})
    return GeoPlanResult(instance, plan, units, assignments, territories, metrics)


# --- files ---------------------------------------------------------------------------------------------


def territories_geojson(result: GeoPlanResult) -> dict[str, Any]:
    """Return the RFC 7946 FeatureCollection of the territories, one Feature per territory with its properties."""
    features = []
    for row in result.territories.itertuples(index=False):
        properties = {key: value for key, value in row._asdict().items() if key != "geometry"}
        features.append({"type": "Feature", "geometry": geometry_dict(row.geometry),
                         "properties": json_safe(properties)})
    return {"type": "FeatureCollection", "features": features}


def map_layers(result: GeoPlanResult) -> tuple[geopandas.GeoDataFrame, pd.DataFrame, pd.DataFrame]:
    """Return the territories, accounts and rep homes in the shape the account-mode maps draw."""
    instance = result.instance
    territories = result.territories[["territory_id", "area_km2", "geometry"]].rename(
        columns={"territory_id": "rep_id"}).assign(accounts_outside=0)
    if result.assignments is not None:
        accounts = result.assignments
    else:
        accounts = pd.DataFrame({"account_id": pd.Series(dtype=object), "rep_id": pd.Series(dtype=object),
                                 "lat": pd.Series(dtype=float), "lon": pd.Series(dtype=float)})
    if instance.reps is not None:
        homes = instance.reps[["rep_id", "name", "lat", "lon"]]
    else:
        # Territories without reps have no home base, so no home is drawn.
        homes = pd.DataFrame({"rep_id": instance.territory_ids, "name": "", "lat": np.nan, "lon": np.nan})
    return territories, accounts, homes


def map_metrics(result: GeoPlanResult) -> dict[str, dict[str, Any]]:
    """Return the figures shown per territory in the HTML map's table and tooltips."""
    shown = {}
    for row in result.metrics["territories"]:
        figures = {"units": row["unit_count"], "parts": row["parts"]}
        for metric in result.instance.metrics:
            figures[metric.name] = row[metric.name]
            figures[f"{metric.name}_pct_of_target"] = None if row[f"{metric.name}_deviation_pct"] is None else \
                100.0 + row[f"{metric.name}_deviation_pct"]
        shown[row["territory_id"]] = figures
    return shown


def map_title(result: GeoPlanResult) -> str:
    count = len(result.instance.territory_ids)
    return f"{result.instance.request.name}: {count} {'territory' if count == 1 else 'territories'} of whole units"


def write_geo_outputs(result: GeoPlanResult, out_dir: Path) -> None:
    """Write every file of the plan into ``out_dir`` (all or none)."""

    def write_files(staging: Path) -> None:
        result.units.to_csv(staging / "units.csv", index=False)
        if result.assignments is not None:
            result.assignments[ASSIGNMENT_COLUMNS].to_csv(staging / "assignments.csv", index=False)
        (staging / "territories.geojson").write_text(
            json.dumps(territories_geojson(result), allow_nan=False, ensure_ascii=False) + "\n", encoding="utf-8")
        (staging / "metrics.json").write_text(json.dumps(result.metrics, indent=2, allow_nan=False) + "\n",
                                              encoding="utf-8")
        territories, accounts, homes = map_layers(result)
        write_map_html(territories, accounts, homes, map_metrics(result), staging / "map.html",
                       title=map_title(result))
        write_map_png(territories, accounts, homes, staging / "map.png", title=map_title(result))

    write_staged(out_dir, write_files, "plan files")
    logger.info("wrote %s to %s", ", ".join(result.files), out_dir)
