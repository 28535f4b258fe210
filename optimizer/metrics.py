"""Balance, workload, distance and disruption metrics of a plan, computed from its assignment table.

Every value is JSON-safe: a quantity that does not exist (the mean distance of an empty territory,
a ratio over zero) is None, never NaN or infinity, and an empty territory carries ``empty: true``.
Balance statistics compare reps after dividing each rep's value by its capacity share, so a half-time
rep at half the potential counts as balanced.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# metric -> (assignment column summed, or None to count accounts; key in the per-rep rows; unit)
BALANCED_METRICS = {
    "potential": ("potential", "potential", "USD"),
    "workload": ("workload_hours", "workload_hours", "hours"),
    "accounts": (None, "accounts", "accounts"),
    "tier_1": ("tier_1", "tier_1", "Tier-1 accounts"),
}


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def gini(values: np.ndarray) -> float | None:
    """Gini coefficient of non-negative values (0 = all equal); None for no values or a zero total."""
    values = np.sort(np.asarray(values, dtype=float))
    if values.size == 0 or values.sum() <= 0:
        return None
    ranks = np.arange(1, values.size + 1)
    return float((2 * (ranks * values).sum()) / (values.size * values.sum()) - (values.size + 1) / values.size)


def balance_statistics(values: np.ndarray, targets: np.ndarray) -> dict:
    """Mean, CV, Gini, max/min ratio and largest deviation from target of one metric across reps.

    Mean, CV, Gini and the ratio are over capacity-adjusted values: each rep's value divided by its
    target relative to the mean target, so a rep with twice the average capacity counts half its value.
    mean_per_rep is the plain mean of the values.
    """
    values, targets = np.asarray(values, dtype=float), np.asarray(targets, dtype=float)
    share = targets / targets.mean() if targets.size and targets.mean() > 0 else np.ones_like(targets)
    adjusted = np.divide(values, share, out=np.zeros_like(values), where=share > 0)
    mean = adjusted.mean() if adjusted.size else None
    deviation = np.divide(values - targets, targets, out=np.zeros_like(values), where=targets > 0)
    return {
        "mean": _number(mean),
        "mean_per_rep": _number(values.mean()) if values.size else None,
        "cv": _number(adjusted.std() / mean) if mean else None,
        "gini": _number(gini(adjusted)),
        "max_min_ratio": _number(adjusted.max() / adjusted.min()) if adjusted.size and adjusted.min() > 0 else None,
        "max_deviation_from_target": _number(np.abs(deviation).max()) if deviation.size else None,
    }


def compute_metrics(assignments: pd.DataFrame, reps: pd.DataFrame, tolerances: dict[str, float]) -> dict:
    """Return {"reps": [...], "balance": {...}, "disruption": {...}, "location": {...}} for a plan.

    `assignments` has one row per account (rep_id None when not located); `tolerances` are the balance
    bands in force, reported next to each metric.
    """
    located = assignments[assignments["rep_id"].notna()].copy()
    located["tier_1"] = (located["tier"] == 1).astype(int)
    capacity = reps["capacity_hours"].to_numpy(dtype=float)
    share = capacity / capacity.sum() if capacity.sum() > 0 else np.full(len(capacity), 1 / max(len(capacity), 1))

    per_rep = _per_rep(located, reps, share)
    balance = {}
    for metric, (column, key, unit) in BALANCED_METRICS.items():
        values = np.array([row[key] for row in per_rep], dtype=float)
        total = located[column].sum() if column else len(located)
        stats = balance_statistics(values, total * share)
        balance[metric] = {"unit": unit, "band": tolerances.get(metric), **stats}

    return {
        "reps": per_rep,
        "balance": balance,
        "disruption": _disruption(assignments),
        "location": _location(assignments),
        "empty_territories": [row["rep_id"] for row in per_rep if row["empty"]],
    }


def _per_rep(located: pd.DataFrame, reps: pd.DataFrame, share: np.ndarray) -> list[dict]:
    total_potential = float(located["potential"].sum())
    groups = dict(tuple(located.groupby("rep_id", sort=False)))
    moved = located[located["moved"]]
    moved_in = moved.groupby("rep_id").size()
    moved_out = moved.groupby("previous_owner").size()
    rows = []
    for position, rep in enumerate(reps.itertuples(index=False)):
        mine = groups.get(rep.rep_id, located.iloc[0:0])
        target = total_potential * share[position]
        potential = float(mine["potential"].sum())
        hours = float(mine["workload_hours"].sum())
        distance = mine["distance_km"].to_numpy(dtype=float)
        max_accounts = None if pd.isna(rep.max_accounts) else int(rep.max_accounts)
        rows.append({
            "rep_id": rep.rep_id,
            "name": rep.name,
            "potential": round(potential, 2),
            "potential_target": round(target, 2),
            "potential_pct_of_target": _number(100 * potential / target) if target > 0 else None,
            "workload_hours": round(hours, 2),
            "capacity_hours": float(rep.capacity_hours),
            "utilisation": _number(hours / rep.capacity_hours) if rep.capacity_hours > 0 else None,
            "accounts": len(mine),
            "max_accounts": max_accounts,
            "tier_1": int((mine["tier"] == 1).sum()),
            "tier_2": int((mine["tier"] == 2).sum()),
            "tier_3": int((mine["tier"] == 3).sum()),
            "mean_distance_km": _number(distance.mean()) if distance.size else None,
            "max_distance_km": _number(distance.max()) if distance.size else None,
            "moved_in": int(moved_in.get(rep.rep_id, 0)),
            "moved_out": int(moved_out.get(rep.rep_id, 0)),
            "empty": len(mine) == 0,
        })
    return rows


def _disruption(assignments: pd.DataFrame) -> dict:
    owned = assignments[assignments["previous_owner"].notna() & assignments["rep_id"].notna()]
    moved = owned[owned["moved"]]
    return {
        "accounts_with_owner": len(owned),
        "accounts_moved": len(moved),
        "share_moved": _number(len(moved) / len(owned)) if len(owned) else None,
        "potential_moved": round(float(moved["potential"].sum()), 2),
        "share_of_potential_moved": _number(moved["potential"].sum() / owned["potential"].sum())
        if owned["potential"].sum() > 0 else None,
    }


def _location(assignments: pd.DataFrame) -> dict:
    counts = assignments["located_by"].value_counts()
    not_located = assignments[assignments["located_by"] == "not_located"]
    total = len(assignments)
    return {
        "accounts": total,
        "located": int(total - len(not_located)),
        "located_share": _number((total - len(not_located)) / total) if total else None,
        "by_method": {method: int(counts.get(method, 0)) for method in ("coordinates", "postal_code", "city",
                                                                         "not_located")},
        "not_located_potential": round(float(not_located["potential"].sum()), 2),
        "located_potential": round(float(assignments["potential"].sum() - not_located["potential"].sum()), 2),
        "not_located_ids": not_located["account_id"].astype(str).tolist(),
    }
