"""`territory bases`: suggest home bases for k reps from an account list.

read and validate the accounts -> score, tier and workload (as `territory plan` does) -> candidate
sites -> capacitated p-median over geodesic km weighted by workload hours -> reps.csv in the reps
schema of `territory plan`, and bases.json with the objective (hour-km), bound, gap and each base's load.

With a roster (``roster``), the roster's reps keep their ids, names, capacity, max_accounts and
industries, and only their home bases move. Each rep is paired with one base. The pairing has the
least total relocation km among those in which every rep's capacity covers its base's workload.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import ortools
import pandas as pd
from ortools.graph.python import linear_sum_assignment

from optimizer.bases.problem import BasePlan, BaseProblem, DistanceFunction
from optimizer.bases.search import Progress, solve_bases
from optimizer.bases.sites import candidate_sites
from optimizer.errors import ConfigError, InputError, RowIssue
from optimizer.geodesy import SPHERICAL_LOWER_FACTOR, geodesic_km, spherical_km
from optimizer.inputs import Inputs, load_accounts, load_inputs
from optimizer.outliers import isolated_account_warnings
from optimizer.pipeline import check_not_empty, check_out_dir, prepare_accounts, write_staged
from optimizer.scenario import Scenario, SolverSettings

logger = logging.getLogger(__name__)

HOURS_SCALE = 100      # demand and capacity in hundredths of an hour
COST_SCALE = 10        # CP-SAT costs in tenths of an hour-km
DEFAULT_MAX_SITES = 2_000
REP_COLUMNS = ["rep_id", "name", "lat", "lon", "postal_code", "city", "state", "capacity_hours", "max_accounts",
               "industries"]


@dataclass
class BaseRequest:
    """Request of `territory bases`: how many bases, their capacity, the candidate sites."""

    count: int | None = None               # required without a roster; the roster's size with one
    capacity_hours: float | None = None    # required without a roster; the roster's mean with one
    roster: Path | None = None             # reps file whose reps are moved to the bases
    sites: str = "accounts"                # "accounts" or "zip"
    max_sites: int = DEFAULT_MAX_SITES


@dataclass
class BasesResult:
    reps: pd.DataFrame                     # the rows of reps.csv
    summary: dict                          # the content of bases.json
    plan: BasePlan
    notes: list[str] = field(default_factory=list)


def suggest_bases(accounts_path: str | Path, request: BaseRequest, scenario: Scenario, *,
                  account_columns: dict[str, str] | None = None, rep_columns: dict[str, str] | None = None,
                  skip_bad_rows: bool = False, progress: Progress | None = None) -> BasesResult:
    """Read the accounts, choose the bases and return the reps table and summary (nothing written)."""
    inputs = _read(accounts_path, request, account_columns, rep_columns, skip_bad_rows)
    count, capacity_hours = _count_and_capacity(request, inputs.reps)
    accounts = prepare_accounts(inputs, scenario)
    located = accounts[accounts["lat"].notna() & accounts["lon"].notna()].reset_index(drop=True)

    sites = candidate_sites(located, request.sites, request.max_sites)
    problem = _problem(located, sites, count, capacity_hours)
    settings = scenario.solver
    plan = solve_bases(problem, settings.time_limit_s, seed=settings.seed, workers=settings.workers,
                       progress=progress)

    bases = _base_table(problem, plan, located, sites, capacity_hours)
    reps, notes = _reps_table(bases, inputs.reps if request.roster else None, capacity_hours)
    summary = _summary(plan, bases, reps, accounts, located, request, sites, capacity_hours, settings)
    owners = set(accounts["current_owner"].dropna()) | set(accounts["locked_owner"].dropna())
    missing = sorted(owners - set(reps["rep_id"]))
    if missing:
        notes.append(f"the accounts name {len(missing)} owner(s) that are not rep ids of reps.csv (first "
                     f"{missing[0]!r}); `territory plan` rejects those, so give the roster with --capacity-from, "
                     "or clear current_owner and locked_owner")
    notes += isolated_account_warnings(located["account_id"].to_numpy(), located["lat"].to_numpy(),
                                       located["lon"].to_numpy())
    summary["notes"] = notes
    return BasesResult(reps, summary, plan, notes)


def bases_files(accounts_path: str | Path, request: BaseRequest, scenario: Scenario, out_dir: str | Path,
                **options) -> BasesResult:
    """Run `suggest_bases` and write reps.csv and bases.json into `out_dir`; on any error nothing is written."""
    check_out_dir(Path(out_dir))
    result = suggest_bases(accounts_path, request, scenario, **options)
    write_bases(result, Path(out_dir))
    return result


def write_bases(result: BasesResult, out_dir: Path) -> None:
    """Write reps.csv and bases.json into `out_dir` (both or neither)."""

    def write_files(staging: Path) -> None:
        result.reps[REP_COLUMNS].to_csv(staging / "reps.csv", index=False)
        (staging / "bases.json").write_text(json.dumps(result.summary, indent=2, allow_nan=False) + "\n",
                                            encoding="utf-8")

    write_staged(out_dir, write_files, "files")
    logger.info("wrote reps.csv and bases.json to %s", out_dir)


# ---------------------------------------------------------------------------------------------------
# Reading


def _read(accounts_path: str | Path, request: BaseRequest, account_columns: dict[str, str] | None,
          rep_columns: dict[str, str] | None, skip_bad_rows: bool) -> Inputs:
    if request.roster is not None:
        inputs = load_inputs(accounts_path, request.roster, account_columns=account_columns, rep_columns=rep_columns,
                             skip_bad_rows=skip_bad_rows)
        check_not_empty(inputs)
        return inputs
    inputs = _read_accounts_only(Path(accounts_path), account_columns, skip_bad_rows)
    name = Path(accounts_path).name
    if len(inputs.accounts) == 0:
        why = "every row was skipped as invalid" if inputs.skipped else "the file has no data rows"
        raise InputError([RowIssue(name, None, "", "", f"has no accounts to place bases for ({why})")])
    if inputs.accounts["lat"].isna().all():
        raise InputError([RowIssue(name, None, "", "", f"none of the {len(inputs.accounts):,} accounts could be "
                                   "located; give lat and lon, US postal codes, or city and state")])
    return inputs


def _read_accounts_only(path: Path, account_columns: dict[str, str] | None, skip_bad_rows: bool) -> Inputs:
    """Read and validate an account list without a reps file; owner columns are kept unchecked."""
    return load_accounts(path, account_columns=account_columns, skip_bad_rows=skip_bad_rows)


def _count_and_capacity(request: BaseRequest, roster: pd.DataFrame) -> tuple[int, float]:
    if request.roster is None:
        if request.count is None or request.capacity_hours is None:
            raise ConfigError("give the number of bases (--reps K) and either --capacity-hours H or "
                              "--capacity-from reps.csv")
        count, capacity = request.count, request.capacity_hours
    else:
        count = len(roster)
        if request.count is not None and request.count != count:
            raise ConfigError(f"--reps {request.count} does not match the {count} reps of {request.roster.name}; "
                              "leave --reps out to place every rep of the roster")
        # NOTE: with unequal capacities every base is planned at the mean. The pairing then gives the
        # heavier bases to the larger capacities where it can, and `territory plan` enforces each rep's own.
        capacity = request.capacity_hours if request.capacity_hours is not None else float(
            roster["capacity_hours"].mean())
    if count < 1:
        raise ConfigError(f"--reps must be at least 1, got {count}")
    if not math.isfinite(capacity) or capacity <= 0:
        raise ConfigError(f"--capacity-hours must be a positive number of hours a year, got {capacity:g}")
    return count, capacity


# ---------------------------------------------------------------------------------------------------
# Model


def _problem(located: pd.DataFrame, sites: pd.DataFrame, count: int, capacity_hours: float) -> BaseProblem:
    hours = located["workload_hours"].to_numpy(float)
    # Demand rounds up and capacity down, so a plan feasible in hundredths of an hour is feasible in hours.
    demand = np.ceil(hours * HOURS_SCALE - 1e-6).astype(np.int64)
    capacity = np.full(len(sites), math.floor(capacity_hours * HOURS_SCALE + 1e-6), dtype=np.int64)
    distances = DistanceFunction(located[["lat", "lon"]].to_numpy(float), sites[["lat", "lon"]].to_numpy(float),
                                 exact=geodesic_km, lower=_spherical_lower_km)
    return BaseProblem(demand, capacity, count, distances, weight=hours, cost_scale=COST_SCALE,
                       demand_unit="hours", demand_scale=HOURS_SCALE,
                       point_names=[f"account {account_id}" for account_id in located["account_id"]],
                       cost_unit="hour-km")


def _spherical_lower_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    return SPHERICAL_LOWER_FACTOR * spherical_km(lat1, lon1, lat2, lon2)


def _base_table(problem: BaseProblem, plan: BasePlan, located: pd.DataFrame, sites: pd.DataFrame,
                capacity_hours: float) -> pd.DataFrame:
    """Return one row per base: site, location, load and distances of its accounts."""
    points = np.arange(problem.point_count)
    distance_km = problem.distances.between(points, plan.site_of) if len(points) else np.zeros(0)
    hours = located["workload_hours"].to_numpy(float)
    rows = []
    for site in plan.bases:
        members = plan.site_of == site
        rows.append({
            "site": int(site), "lat": float(sites.at[site, "lat"]), "lon": float(sites.at[site, "lon"]),
            "postal_code": sites.at[site, "postal_code"], "city": sites.at[site, "city"],
            "state": sites.at[site, "state"], "accounts": int(members.sum()),
            "workload_hours": round(float(hours[members].sum()), 2),
            "utilisation": round(float(hours[members].sum()) / capacity_hours, 4),
            "hour_km": round(float((hours[members] * distance_km[members]).sum()), 1),
            "mean_distance_km": round(float(distance_km[members].mean()), 1) if members.any() else None,
            "max_distance_km": round(float(distance_km[members].max()), 1) if members.any() else None,
        })
    # Heaviest base first, so rep numbers follow the size of their territory.
    return pd.DataFrame(rows).sort_values(["workload_hours", "site"], ascending=[False, True],
                                          kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------
# Reps


def _reps_table(bases: pd.DataFrame, roster: pd.DataFrame | None,
                capacity_hours: float) -> tuple[pd.DataFrame, list[str]]:
    notes: list[str] = []
    if roster is None:
        width = max(2, len(str(len(bases))))
        reps = pd.DataFrame({
            "rep_id": [f"REP-{k + 1:0{width}d}" for k in range(len(bases))],
            "name": [f"New rep {k + 1} near {city}, {state}" for k, (city, state)
                     in enumerate(zip(bases["city"], bases["state"], strict=True))],
            "capacity_hours": capacity_hours, "max_accounts": None, "industries": "",
        })
    else:
        order, notes = _pair_roster(bases, roster)
        chosen = roster.iloc[order].reset_index(drop=True)
        reps = pd.DataFrame({
            "rep_id": chosen["rep_id"], "name": chosen["name"], "capacity_hours": chosen["capacity_hours"],
            "max_accounts": chosen["max_accounts"].astype(object),
            "industries": [";".join(industries) for industries in chosen["industries"]],
            "previous_lat": chosen["lat"], "previous_lon": chosen["lon"],
        })
    for column in ("lat", "lon", "postal_code", "city", "state", "workload_hours", "accounts"):
        reps[column] = bases[column].to_numpy()
    reps["lat"], reps["lon"] = reps["lat"].round(6), reps["lon"].round(6)
    return reps, notes


def _pair_roster(bases: pd.DataFrame, roster: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Return, per base, the roster row of its rep: least total relocation km among the pairings in
    which every rep's capacity covers its base's workload, else by capacity order."""
    count = len(bases)
    home_lat, home_lon = roster["lat"].to_numpy(float), roster["lon"].to_numpy(float)
    base_lat, base_lon = bases["lat"].to_numpy(float), bases["lon"].to_numpy(float)
    moves = geodesic_km(np.repeat(home_lat, count), np.repeat(home_lon, count), np.tile(base_lat, count),
                        np.tile(base_lon, count))
    moves = moves.reshape(count, count)
    capacity = roster["capacity_hours"].to_numpy(float)
    load = bases["workload_hours"].to_numpy(float)
    assignment = linear_sum_assignment.SimpleLinearSumAssignment()
    for rep in range(count):
        for base in range(count):
            if capacity[rep] + 1e-9 >= load[base]:
                assignment.add_arc_with_cost(rep, base, int(round(moves[rep, base] * 1000)))
    if assignment.num_arcs() and assignment.solve() == assignment.OPTIMAL:
        order = np.zeros(count, dtype=np.int64)
        for rep in range(count):
            order[assignment.right_mate(rep)] = rep
        return order, []
    # No pairing fits every rep: the largest capacity takes the heaviest base, and so on down.
    order = np.argsort(-capacity, kind="stable")
    over = [f"{roster['rep_id'].iloc[rep]} ({load[base]:,.0f} of {capacity[rep]:,.0f} hours)"
            for base, rep in enumerate(order) if load[base] > capacity[rep] + 1e-9]
    note = ("no pairing of reps and bases keeps every rep within capacity; paired by capacity, these reps' "
            f"bases carry more than their capacity: {', '.join(over)}; `territory plan` then moves accounts")
    logger.warning(note)
    return order, [note]


def _summary(plan: BasePlan, bases: pd.DataFrame, reps: pd.DataFrame, accounts: pd.DataFrame, located: pd.DataFrame,
             request: BaseRequest, sites: pd.DataFrame, capacity_hours: float, settings: SolverSettings) -> dict:
    per_base = []
    for rep, base in zip(reps.to_dict("records"), bases.to_dict("records"), strict=True):
        per_base.append({
            "rep_id": rep["rep_id"], "name": rep["name"], "lat": base["lat"], "lon": base["lon"],
            "postal_code": base["postal_code"], "city": base["city"], "state": base["state"],
            "capacity_hours": float(rep["capacity_hours"]), "accounts": base["accounts"],
            "workload_hours": base["workload_hours"],
            "utilisation": round(base["workload_hours"] / float(rep["capacity_hours"]), 4),
            "hour_km": base["hour_km"], "mean_distance_km": base["mean_distance_km"],
            "max_distance_km": base["max_distance_km"],
        })
    return {
        "objective": round(plan.objective, 1), "objective_unit": "hour-km",
        "lower_bound": round(plan.lower_bound, 1) if plan.lower_bound is not None else None,
        "gap": round(plan.gap, 6) if plan.gap is not None else None,
        "status": plan.status, "bound_source": plan.bound_source,
        "time_s": round(plan.time_s, 3), "time_limit_s": settings.time_limit_s, "seed": plan.seed,
        "workers": plan.workers, "version": ortools.__version__,
        "solver": "OR-Tools CP-SAT + " + ("Lagrangian bound" if plan.bound_source == "lagrangian" else "GLOP"),
        "bases": per_base,
        "capacity_hours_per_base": capacity_hours,
        "accounts": {"total": len(accounts), "located": len(located), "not_located": len(accounts) - len(located),
                     "workload_hours": round(float(located["workload_hours"].sum()), 2)},
        "candidate_sites": {"kind": request.sites, "count": len(sites), "max_sites": request.max_sites},
        "distance": "geodesic km on WGS84, weighted by each account's workload hours",
    }


def format_bases_report(summary: dict) -> str:
    """Return the per-base table and the solver line as plain text."""
    header = (f"{'rep':<10} {'base':<28} {'accounts':>8} {'hours':>8} {'util':>6} {'mean km':>8} {'max km':>8}")
    lines = [header, "-" * len(header)]
    for base in summary["bases"]:
        place = f"{base['city']}, {base['state']}"[:28]
        mean_km = f"{base['mean_distance_km']:.0f}" if base["mean_distance_km"] is not None else "-"
        max_km = f"{base['max_distance_km']:.0f}" if base["max_distance_km"] is not None else "-"
        lines.append(f"{base['rep_id']:<10} {place:<28} {base['accounts']:>8} {base['workload_hours']:>8,.0f} "
                     f"{base['utilisation']:>6.0%} {mean_km:>8} {max_km:>8}")
    bound = f"{summary['lower_bound']:,.0f}" if summary["lower_bound"] is not None else "none"
    gap = f"{summary['gap']:.3%}" if summary["gap"] is not None else "unknown (no bound)"
    accounts = summary["accounts"]
    lines += [
        "",
        f"accounts: {accounts['total']:,} ({accounts['located']:,} located, {accounts['not_located']:,} not located "
        f"and left out), {accounts['workload_hours']:,.0f} workload hours",
        f"solver: {summary['status']}, objective {summary['objective']:,.0f} hour-km, lower bound {bound}, gap {gap}, "
        f"{summary['time_s']:.1f} s, seed {summary['seed']}, {summary['workers']} workers, "
        f"OR-Tools {summary['version']}",
    ]
    return "\n".join(lines)
