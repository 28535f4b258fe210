"""The tables and figures of a geographic plan: units.csv, assignments.csv, territory properties, metrics.json.

Every metric of a territory comes with its target and its deviation from it. A banded metric's target is
the band's. Any other metric's target follows the same rule: the total times the territory's share
(its rep's share of capacity_hours with reps, an equal share without).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import geopandas
import numpy as np
import pandas as pd

from optimizer.geo.districts import DistrictPlan
from optimizer.geo.instance import GeoInstance
from optimizer.geo.problem import NO_TERRITORY
from optimizer.geo.unit_values import UnitMetric

UNIT_COLUMNS = ["unit_id", "territory_id", "previous_territory_id", "moved"]
ASSIGNMENT_COLUMNS = ["account_id", "rep_id", "unit_id", "previous_owner", "moved", "tier", "score", "potential",
                      "workload_hours", "located_by"]


def unit_table(instance: GeoInstance, assignment: np.ndarray) -> pd.DataFrame:
    """Return units.csv: each unit's territory, its previous territory, whether it moved, and every metric."""
    ids = np.array(instance.territory_ids, dtype=object)
    current = instance.problem.current
    previous = np.where(current != NO_TERRITORY, ids[np.maximum(current, 0)], None)
    table = pd.DataFrame({
        "unit_id": instance.layer.unit_ids,
        "territory_id": ids[assignment],
        "previous_territory_id": previous,
        "moved": (current != NO_TERRITORY) & (current != assignment),
    })
    for metric in instance.metrics:
        table[metric.name] = whole_or_float(metric.values)
    if "area_km2" not in table:
        table["area_km2"] = instance.graph.area_km2
    table["area_km2"] = table["area_km2"].round(6)
    return table


def whole_or_float(values: np.ndarray) -> np.ndarray:
    """Return counts and other whole-number values as integers, so that files show 12 rather than 12.0."""
    if len(values) and np.all(np.isfinite(values)) and np.all(values == np.round(values)) \
            and np.max(np.abs(values)) < 2**53:
        return values.astype(np.int64)
    return values


def assignment_table(instance: GeoInstance, assignment: np.ndarray) -> pd.DataFrame | None:
    """Return assignments.csv, one row per account in file order: the rep of its unit (empty in no unit)."""
    accounts = instance.accounts
    if accounts is None:
        return None
    ids = np.array(instance.territory_ids, dtype=object)
    unit_index = accounts["unit_index"].to_numpy(np.int64)
    rep_id = np.where(unit_index >= 0, ids[assignment[np.maximum(unit_index, 0)]], None)
    previous = accounts["current_owner"].where(accounts["current_owner"].notna(), None) \
        if instance.reps is not None else pd.Series([None] * len(accounts), dtype=object)
    moved = previous.notna().to_numpy() & pd.notna(rep_id) & (previous.to_numpy() != rep_id)
    return pd.DataFrame({
        "account_id": accounts["account_id"].to_numpy(),
        "rep_id": rep_id,
        "unit_id": accounts["unit_id"].to_numpy(),
        "previous_owner": previous.to_numpy(),
        "moved": moved.astype(bool),
        "tier": accounts["tier"].astype(int).to_numpy(),
        "score": accounts["score"].round(2).to_numpy(),
        "potential": accounts["potential"].astype(float).to_numpy(),
        "workload_hours": accounts["workload_hours"].astype(float).to_numpy(),
        "located_by": accounts["located_by"].to_numpy(),
        "name": accounts["name"].to_numpy(),
        "lat": accounts["lat"].to_numpy(),
        "lon": accounts["lon"].to_numpy(),
    })


def territory_shares(instance: GeoInstance) -> np.ndarray:
    """Return each territory's share of every metric's total: by capacity_hours with reps, else equal."""
    if instance.reps is not None:
        capacity = instance.reps["capacity_hours"].to_numpy(float)
        return capacity / capacity.sum()
    count = len(instance.territory_ids)
    return np.full(count, 1.0 / count)


def metric_targets(instance: GeoInstance, metric: UnitMetric) -> np.ndarray:
    band = instance.band(metric.name)
    if band is not None:
        return band.target
    return metric.values.sum() * territory_shares(instance)


def territory_properties(instance: GeoInstance, assignment: np.ndarray,
                         dissolved: geopandas.GeoDataFrame) -> list[dict[str, Any]]:
    """Return one property mapping per territory: ids, shape measures and each metric's total, target, deviation."""
    count = len(instance.territory_ids)
    current = instance.problem.current
    had = current != NO_TERRITORY
    moved = had & (current != assignment)
    rows = []
    for position, shape in enumerate(dissolved.itertuples(index=False)):
        row: dict[str, Any] = {"territory_id": shape.territory_id}
        if instance.reps is not None:
            rep = instance.reps.iloc[position]
            row.update(rep_id=str(rep["rep_id"]), name=rep["name"] or None, home_unit_id=rep["home_unit_id"])
        row.update(unit_count=int(shape.unit_count), parts=int(shape.parts), area_km2=float(shape.area_km2),
                   perimeter_km=float(shape.perimeter_km), polsby_popper=float(shape.polsby_popper))
        if had.any():
            row["units_moved_in"] = int(np.sum(moved & (assignment == position)))
            row["units_moved_out"] = int(np.sum(moved & (current == position)))
        rows.append(row)

    for metric in instance.metrics:
        totals = np.bincount(assignment, weights=metric.values, minlength=count)
        targets = metric_targets(instance, metric)
        totals = whole_or_float(totals)
        for position, row in enumerate(rows):
            row[metric.name] = totals[position].item()
            row[f"{metric.name}_target"] = float(targets[position])
            row[f"{metric.name}_deviation_pct"] = _deviation_pct(totals[position], targets[position])
    problem = instance.problem
    if problem.capacity is not None and problem.workload is not None:
        hours = np.bincount(assignment, weights=problem.workload, minlength=count)
        for position, row in enumerate(rows):
            capacity = float(problem.capacity[position])
            row["capacity_hours"] = capacity
            row["utilisation"] = float(hours[position] / capacity) if capacity > 0 else None
    return rows


def _deviation_pct(total: float, target: float) -> float | None:
    return float((total - target) / target * 100.0) if target > 0 else None


def metrics_document(instance: GeoInstance, plan: DistrictPlan, properties: list[dict[str, Any]],
                     assignments: pd.DataFrame | None, solver_extra: dict[str, Any]) -> dict[str, Any]:
    """Return the content of metrics.json (see the README's table of outputs)."""
    solver = {**plan.solver_dict(), **solver_extra}
    return {
        "mode": "geographic",
        "name": instance.request.name,
        "solver": solver,
        "summary": _summary(instance, plan, properties, assignments),
        "metrics": _metric_summaries(instance, plan.assignment),
        "territories": properties,
        "disruption": _disruption(instance, plan.assignment, assignments),
        "unit_layer": _layer_report(instance),
        "adjacency": _adjacency_report(instance),
        "accounts_outside_units": list(instance.accounts_outside),
        "accounts_not_located": list(instance.accounts_not_located),
        "skipped_rows": [str(issue) for issue in instance.skipped],
    }


def _summary(instance: GeoInstance, plan: DistrictPlan, properties: list[dict[str, Any]],
             assignments: pd.DataFrame | None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "units": instance.problem.unit_count,
        "territories": len(instance.territory_ids),
        "reps": len(instance.reps) if instance.reps is not None else 0,
        "compactness": instance.problem.compactness,
        "weight": instance.request.weight,
        "priority": instance.request.priority,
        "bands": [band.text() for band in instance.request.bands],
        "territories_in_several_parts": [row["territory_id"] for row in properties if row["parts"] > 1],
        "status": plan.status,
    }
    if assignments is not None:
        summary.update(accounts=len(assignments), assigned=int(assignments["rep_id"].notna().sum()),
                       accounts_outside_units=len(instance.accounts_outside),
                       accounts_not_located=len(instance.accounts_not_located),
                       potential_assigned=float(assignments.loc[assignments["rep_id"].notna(), "potential"].sum()),
                       potential_unassigned=float(assignments.loc[assignments["rep_id"].isna(), "potential"].sum()))
    return summary


def _metric_summaries(instance: GeoInstance, assignment: np.ndarray) -> dict[str, Any]:
    count = len(instance.territory_ids)
    result = {}
    for metric in instance.metrics:
        totals = np.bincount(assignment, weights=metric.values, minlength=count)
        targets = metric_targets(instance, metric)
        scale = np.where(targets > 0, targets, 1.0)
        spec = next((band for band in instance.request.bands if band.metric == metric.name), None)
        result[metric.name] = {
            "unit": metric.unit,
            "source": metric.source,
            "total": float(metric.values.sum()),
            "band": None if spec is None else {"hard": spec.hard, "tolerance": spec.tolerance},
            "min": float(totals.min()),
            "max": float(totals.max()),
            "max_deviation": float(np.max(np.abs(totals - targets) / scale)),
        }
    return result


def _disruption(instance: GeoInstance, assignment: np.ndarray, assignments: pd.DataFrame | None) -> dict[str, Any]:
    current = instance.problem.current
    had = current != NO_TERRITORY
    result: dict[str, Any] = {
        "current_plan": instance.current_source,
        "units_with_territory": int(had.sum()),
        "units_moved": int(np.sum(had & (current != assignment))),
        "move_penalty": instance.problem.move_penalty,
    }
    if assignments is not None and instance.reps is not None:
        owned = assignments["previous_owner"].notna()
        result.update(accounts_with_owner=int(owned.sum()), accounts_moved=int(assignments["moved"].sum()),
                      potential_moved=float(assignments.loc[assignments["moved"], "potential"].sum()))
    return result


def _layer_report(instance: GeoInstance) -> dict[str, Any]:
    report = instance.layer.report
    return {
        "source": report.source,
        "unit_count": report.unit_count,
        "repaired": [dataclasses.asdict(repair) for repair in report.repaired],
        "dropped": [dataclasses.asdict(unit) for unit in report.dropped],
        "overlaps": [dataclasses.asdict(overlap) for overlap in report.overlaps],
        "overlap_km2": report.overlap_km2,
        "gaps": [{"area_km2": gap.area_km2, "unit_ids": list(gap.unit_ids)} for gap in report.gaps],
        "gap_km2": report.gap_km2,
    }


def _adjacency_report(instance: GeoInstance) -> dict[str, Any]:
    report = instance.adjacency
    # The largest component is usually the whole layer, so only the others list their units.
    components = [{"unit_count": component.unit_count,
                   **({"unit_ids": list(component.unit_ids)} if rank > 0 else {})}
                  for rank, component in enumerate(report.components)]
    return {
        "mode": report.mode,
        "snap_km": report.snap_km,
        "edges": len(instance.graph.edges),
        "islands": list(report.islands),
        "components": components,
        "snapped": [dataclasses.asdict(pair) for pair in report.snapped],
        "connectors_added": [list(pair) for pair in report.connectors_added],
        "barriers_removed": [list(pair) for pair in report.barriers_removed],
        "barriers_unused": [list(pair) for pair in report.barriers_unused],
    }
