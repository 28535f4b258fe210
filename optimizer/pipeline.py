"""The main job: from an account list and a rep roster to a validated plan with its files.

read and validate -> locate -> score and tier -> workload -> build the instance -> pre-check ->
solve -> validate without the solver -> metrics -> territory polygons -> files.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas
import numpy as np
import pandas as pd

from optimizer import locate
from optimizer.errors import ConfigError, InfeasibleError, InputError, RowIssue, SolverError
from optimizer.geodesy import geodesic_km
from optimizer.inputs import Inputs, load_inputs
from optimizer.instance import Instance, build_instance
from optimizer.metrics import compute_metrics
from optimizer.outliers import location_warnings
from optimizer.outputs import write_map_html, write_map_png, write_territories_geojson
from optimizer.regions import build_territories
from optimizer.scenario import Scenario
from optimizer.scoring import assign_tiers, score_accounts, workload_hours
from optimizer.solve.cpsat import Progress
from optimizer.solve.strategy import SolverReport, solve
from optimizer.validator import check_plan

logger = logging.getLogger(__name__)

# Seconds kept back from the solver for checking the plan and writing its files, and the least the
# solver gets however long loading took. On an idle 2 vCPU AMD EPYC, checking and writing took up to
# 4.3 s for 20,000 accounts, 16.6 s for 100,000 and 27.5 s for 200,000 (see docs/benchmarks.md). The
# values below keep 20 % to 40 % more.
OUTPUT_SECONDS = 2.5
OUTPUT_SECONDS_PER_ACCOUNT = 1.8e-4
# Lists the files of the last run written into an output folder (see write_staged).
MANIFEST = ".territory-files"
MIN_SOLVE_SECONDS = 5.0
# Warnings name at most this many accounts and count the rest.
NAMED_ACCOUNTS = 5
# Coordinates farther than this from the account's own ZIP centroid are named; rural ZIP areas span
# a few tens of km.
POSTAL_CONFLICT_KM = 100.0
# Repeatable runs count loading by this estimate instead of the clock, so their work limit depends on
# the input alone (about 3 s for 20,000 accounts with coordinates on a 2-core machine).
LOAD_SECONDS = 2.0
LOAD_SECONDS_PER_ACCOUNT = 1e-4

ASSIGNMENT_COLUMNS = ["account_id", "rep_id", "previous_owner", "moved", "tier", "score", "potential",
                      "workload_hours", "distance_km", "located_by"]


@dataclass
class PlanResult:
    """A solved, validated plan with everything the outputs need."""

    scenario: Scenario
    inputs: Inputs
    instance: Instance
    assignments: pd.DataFrame    # one row per account, ASSIGNMENT_COLUMNS first, then name, industry, lat, lon
    metrics: dict
    solver: SolverReport | None  # None for a plan changed by hand (an approved proposal)
    territories: geopandas.GeoDataFrame | None = None


def prepare_accounts(inputs: Inputs, scenario: Scenario) -> pd.DataFrame:
    """Return the accounts with score, tier and workload_hours added."""
    accounts = inputs.accounts.copy()
    accounts["score"] = score_accounts(accounts, scenario.scoring)
    accounts["tier"] = assign_tiers(accounts["score"], scenario.tiers)
    overrides = accounts["workload_hours"] if "workload_hours" in accounts else None
    accounts["workload_hours"] = workload_hours(accounts["tier"], overrides, scenario.tiers)
    return accounts


def plan_from_inputs(inputs: Inputs, scenario: Scenario, progress: Progress | None = None, *,
                     started: float | None = None) -> PlanResult:
    """Score, solve and check a plan for already loaded inputs.

    With `started` (a time.monotonic() value), the scenario's time limit covers the whole job from
    then on: the solver gets what is left after loading, less an estimate of the time to write the
    plan's files.
    """
    check_not_empty(inputs)
    accounts = prepare_accounts(inputs, scenario)
    industries = _industry_findings(accounts, inputs.reps)
    warnings = input_warnings(accounts, inputs.reps, industries)
    instance = build_instance(accounts, inputs.reps, scenario)
    settings = scenario.solver
    notes = []
    if started is not None:
        spent = time.monotonic() - started
        if settings.repeatable:
            # The solver's budget, and so its work limit, must not depend on how fast loading went.
            spent = LOAD_SECONDS + LOAD_SECONDS_PER_ACCOUNT * len(accounts)
        left = settings.time_limit_s - spent - OUTPUT_SECONDS - OUTPUT_SECONDS_PER_ACCOUNT * len(accounts)
        if left < MIN_SOLVE_SECONDS:
            notes.append(f"the time limit of {settings.time_limit_s:g} s left {max(left, 0.0):.1f} s for the solver "
                         f"after loading; the solver was allowed {MIN_SOLVE_SECONDS:g} s instead, so the run may take "
                         "longer than the limit")
            logger.warning(notes[-1])
        settings = settings.model_copy(update={"time_limit_s": max(MIN_SOLVE_SECONDS, left)})
        logger.info("time limit %g s: %.1f s spent loading, %.1f s left for the solver", scenario.solver.time_limit_s,
                    spent, settings.time_limit_s)
    try:
        solution = solve(instance, settings, progress)
    except InfeasibleError as error:
        # A misspelt industry often makes a specialist's band unreachable; name it beside the cause.
        related = [warning for rep_id, warning in industries
                   if rep_id is not None and any(names_rep(cause, rep_id) for cause in error.causes)]
        raise InfeasibleError(error.causes + related, error.relaxations) from None
    solution.report.notes.extend(notes)

    check = check_plan(instance, solution.rep_of)
    if not check.ok:
        # The model and the validator disagree: a defect, never a user error. Nothing is written.
        raise SolverError("the solver's plan breaks rules it should keep (please report this):\n  - "
                          + "\n  - ".join(check.violations[:20]))

    solver = solution.report.as_dict()
    # The limit the run was given; the solver's own share of it is time_limit_s.
    solver["run_time_limit_s"] = scenario.solver.time_limit_s
    assignments, metrics = plan_tables(inputs, scenario, accounts, instance, solution.rep_of, solver, warnings)
    return PlanResult(scenario, inputs, instance, assignments, metrics, solution.report)


def plan_tables(inputs: Inputs, scenario: Scenario, accounts: pd.DataFrame, instance: Instance, rep_of: np.ndarray,
                solver: dict, warnings: list[str]) -> tuple[pd.DataFrame, dict]:
    """Return the assignments table and metrics.json of the plan `rep_of`, with `solver` as its solver section.

    `warnings` are the input warnings found before solving; the far-point warnings are added here.
    """
    assignments = _assignment_table(accounts, instance, rep_of)
    metrics = compute_metrics(assignments, inputs.reps, scenario.balance.bands())
    metrics["solver"] = solver
    metrics["summary"] = _summary(assignments, metrics, inputs)
    metrics["warnings"] = warnings + location_warnings(accounts["account_id"].to_numpy(), accounts["lat"].to_numpy(),
                                            accounts["lon"].to_numpy(), inputs.reps["rep_id"].to_numpy(),
                                            inputs.reps["lat"].to_numpy(), inputs.reps["lon"].to_numpy())
    return assignments, metrics


def input_warnings(accounts: pd.DataFrame, reps: pd.DataFrame,
                   industries: list[tuple[str | None, str]] | None = None) -> list[str]:
    """Return the warnings about the inputs found before solving; `industries` are findings already made."""
    if industries is None:
        industries = _industry_findings(accounts, reps)
    return unlocated_warnings(accounts) + postal_code_warnings(accounts) + [warning for _, warning in industries]


def unlocated_warnings(accounts: pd.DataFrame) -> list[str]:
    """Return one warning that names the accounts left out of the plan because they could not be located."""
    missing = not_located_reasons(accounts)
    if not missing:
        return []
    named = [f"{account_id} ({note or 'no coordinates, postal code or city'})"
             for account_id, note in list(missing.items())[:NAMED_ACCOUNTS]]
    more = f" and {len(missing) - NAMED_ACCOUNTS:,} more" if len(missing) > NAMED_ACCOUNTS else ""
    if len(missing) == 1:
        head, tail = "1 account could not be located and is left out of the plan", "marks it not_located"
    else:
        head = f"{len(missing):,} accounts could not be located and are left out of the plan"
        tail = "marks them not_located"
    warning = f"{head}: {', '.join(named)}{more}; assignments.csv {tail}"
    logger.info(warning)
    return [warning]


def postal_code_warnings(accounts: pd.DataFrame) -> list[str]:
    """Return one warning naming the accounts whose coordinates lie far from their own postal code.

    Coordinates win over a postal code, so a row that gives both, with one of them wrong, is planned
    at its coordinates without a word. Rows more than POSTAL_CONFLICT_KM from the ZIP centroid are named.
    """
    if not {"located_by", "postal_code"} <= set(accounts.columns):
        return []
    with_code = accounts[(accounts["located_by"] == "coordinates") & accounts["postal_code"].notna()]
    if with_code.empty:
        return []
    gazetteer = locate.default_gazetteer()
    countries = with_code["country"].fillna("US") if "country" in with_code else pd.Series("US", index=with_code.index)
    pairs = list(zip(with_code["postal_code"].astype(str), countries.astype(str), strict=True))
    # Many accounts share a postal code, so each distinct code is looked up once.
    lookup = {pair: gazetteer.by_postal_code(*pair) for pair in set(pairs)}
    centres = [lookup[pair] for pair in pairs]
    known = np.array([centre is not None for centre in centres])
    if not known.any():
        return []
    with_code = with_code[known]
    centre = np.array([centre for centre in centres if centre is not None], dtype=float)
    distance = geodesic_km(with_code["lat"].to_numpy(float), with_code["lon"].to_numpy(float), centre[:, 0], centre[:, 1])
    far = np.flatnonzero(distance > POSTAL_CONFLICT_KM)
    if far.size == 0:
        return []
    named = [f"{with_code['account_id'].iat[k]} ({distance[k]:,.0f} km from the centre of {with_code['postal_code'].iat[k]})"
             for k in far[:NAMED_ACCOUNTS]]
    more = f" and {far.size - NAMED_ACCOUNTS:,} more" if far.size > NAMED_ACCOUNTS else ""
    subject = f"{far.size:,} accounts lie" if far.size > 1 else "1 account lies"
    warning = (f"{subject} more than {POSTAL_CONFLICT_KM:g} km from {'their' if far.size > 1 else 'its'} own postal "
               "code, and the coordinates were used: "
               f"{', '.join(named)}{more}; check which of the two is right")
    logger.info(warning)
    return [warning]


def industry_warnings(accounts: pd.DataFrame, reps: pd.DataFrame) -> list[str]:
    """Return a warning for each rep industry that no account has, with the closest account industry.

    The first NAMED_ACCOUNTS such (rep, industry) pairs are named and the rest counted, and each unknown
    name is matched once, so a roster with thousands of stray names stays quick.
    """
    return [warning for _, warning in _industry_findings(accounts, reps)]


def _industry_findings(accounts: pd.DataFrame, reps: pd.DataFrame) -> list[tuple[str | None, str]]:
    """Return the industry warnings, each with the rep it names (None for the line that counts the rest)."""
    if "industries" not in reps:
        return []
    names = accounts["industry"].fillna("") if "industry" in accounts else []
    known = {str(value) for value in names if str(value)}
    choices = sorted(known)
    hints: dict[str, str] = {}
    findings: list[tuple[str | None, str]] = []
    unmatched = 0
    for rep_id, covered in zip(reps["rep_id"], reps["industries"], strict=True):
        for name in covered:
            if name in known:
                continue
            unmatched += 1
            if len(findings) == NAMED_ACCOUNTS:
                continue
            if name not in hints:
                close = difflib.get_close_matches(name, choices, n=1)
                hints[name] = f"; did you mean {close[0]!r}?" if close else " (industry names must match exactly)"
            findings.append((str(rep_id), f"rep {rep_id} covers industry {name!r}, which no account has{hints[name]}"))
    if unmatched > len(findings):
        findings.append((None, f"{unmatched - len(findings):,} more rep industries match no account's industry"))
    for _, warning in findings:
        logger.info(warning)
    return findings


def names_rep(text: str, rep_id: str) -> bool:
    """Return whether `text` names `rep_id` as a whole word (R1 is not named by R10)."""
    return re.search(rf"(?<![\w-]){re.escape(rep_id)}(?![\w-])", text) is not None


def visible_to_rep(text: str, rep_id: str, rep_ids: list[str]) -> bool:
    """Return whether `text` may be shown to the rep `rep_id`: it names that rep, or no rep of `rep_ids`."""
    return names_rep(text, rep_id) or not any(names_rep(text, other) for other in rep_ids)


def not_located_reasons(accounts: pd.DataFrame) -> dict[str, str]:
    """Return {account id: why it could not be located} for the accounts without coordinates."""
    missing = accounts[accounts["lat"].isna() | accounts["lon"].isna()]
    notes = missing["location_note"] if "location_note" in missing else pd.Series("", index=missing.index)
    return {str(account_id): str(note or "") for account_id, note in zip(missing["account_id"], notes, strict=True)}


def check_not_empty(inputs: Inputs) -> None:
    """Raise InputError when there is nothing to plan: no reps, no accounts, or no located account."""
    if len(inputs.reps) == 0:
        raise InputError([RowIssue("reps", None, "", "", "has no rep rows; give at least one rep")])
    if len(inputs.accounts) == 0:
        why = "every row was skipped as invalid" if inputs.skipped else "the file has no data rows"
        raise InputError([RowIssue("accounts", None, "", "", f"has no accounts to plan ({why})")])
    if inputs.accounts["lat"].isna().all():
        raise InputError([RowIssue("accounts", None, "", "", f"none of the {len(inputs.accounts):,} accounts could be "
                                   "located; give lat and lon, US postal codes, or city and state")])


def check_out_dir(out_dir: Path, contents: str = "the plan's files") -> None:
    """Raise ConfigError when `out_dir` cannot receive `contents`, before any work is done."""
    if not str(out_dir).strip() or str(out_dir) == ".":
        raise ConfigError(f"--out {str(out_dir)!r} names no folder of its own; give a folder for {contents}, "
                          "such as --out plan/")
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir} is a file; give a folder for {contents}")
    parent = out_dir.parent
    blocking = next((folder for folder in reversed(out_dir.parents) if folder.exists() and not folder.is_dir()), None)
    if blocking is not None:
        raise ConfigError(f"--out {out_dir} lies inside {blocking}, which is a file, not a folder; give a folder "
                          f"for {contents}")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create the folder {parent} for {contents}: {error.strerror}") from None
    if not os.access(parent, os.W_OK | os.X_OK) or (out_dir.exists() and not os.access(out_dir, os.W_OK | os.X_OK)):
        raise ConfigError(f"cannot write into {out_dir}; give a folder you may write to")


def plan_files(accounts_path: str | Path, reps_path: str | Path, scenario: Scenario, out_dir: str | Path, *,
               account_columns: dict[str, str] | None = None, rep_columns: dict[str, str] | None = None,
               skip_bad_rows: bool = False, boundaries: str | Path | None = None,
               progress: Progress | None = None, started: float | None = None) -> PlanResult:
    """Run the main job and write its files into `out_dir`; on any error nothing is written there.

    The scenario's time limit covers the whole job, reading and writing included, from `started` (a
    time.monotonic() value; now when None).
    """
    started = time.monotonic() if started is None else started
    check_out_dir(Path(out_dir))
    inputs = load_inputs(accounts_path, reps_path, account_columns=account_columns, rep_columns=rep_columns,
                         skip_bad_rows=skip_bad_rows)
    result = plan_from_inputs(inputs, scenario, progress, started=started)
    result.territories = build_territories(result.assignments, inputs.reps, boundaries=boundaries)
    write_outputs(result, Path(out_dir))
    return result


def _assignment_table(accounts: pd.DataFrame, instance: Instance, rep_of: np.ndarray) -> pd.DataFrame:
    located = accounts["lat"].notna() & accounts["lon"].notna()
    rep_id = pd.Series([None] * len(accounts), index=accounts.index, dtype=object)
    rep_id[located] = [instance.rep_ids[r] for r in rep_of]
    distance = pd.Series(np.nan, index=accounts.index)
    distance[located] = instance.pair_distance_km(np.arange(instance.account_count), rep_of)
    previous = accounts["current_owner"].where(accounts["current_owner"].notna(), None)
    moved = previous.notna() & rep_id.notna() & (previous != rep_id)
    table = pd.DataFrame({
        "account_id": accounts["account_id"],
        "rep_id": rep_id,
        "previous_owner": previous,
        "moved": moved.astype(bool),
        "tier": accounts["tier"].astype(int),
        "score": accounts["score"].round(2),
        "potential": accounts["potential"].astype(float),
        "workload_hours": accounts["workload_hours"].astype(float),
        "distance_km": distance.round(3),
        "located_by": accounts["located_by"],
        "name": accounts["name"],
        "industry": accounts["industry"],
        "lat": accounts["lat"],
        "lon": accounts["lon"],
    })
    return table.reset_index(drop=True)


def _summary(assignments: pd.DataFrame, metrics: dict, inputs: Inputs) -> dict:
    location = metrics["location"]
    return {
        "accounts": len(assignments),
        "assigned": int(assignments["rep_id"].notna().sum()),
        "not_located": location["by_method"]["not_located"],
        "potential_assigned": location["located_potential"],
        "potential_not_located": location["not_located_potential"],
        "reps": len(inputs.reps),
        "skipped_rows": [str(issue) for issue in inputs.skipped],
    }


def write_staged(out_dir: Path, write_files, what: str) -> None:
    """Call `write_files(folder)` on a fresh folder beside `out_dir`, then move its files into `out_dir`,
    so that a failure half-way leaves `out_dir` as it was. `what` names the files in error messages.

    The folder's MANIFEST file lists the files the last run wrote. Those that this run does not write
    are removed, so the folder never mixes two plans; files no run of this product wrote are kept."""
    check_out_dir(out_dir)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    except OSError as error:
        raise ConfigError(f"cannot write {what} next to {out_dir}: {error.strerror}") from None
    try:
        write_files(staging)
        out_dir.mkdir(exist_ok=True)
        written = sorted(path.name for path in staging.iterdir())
        (staging / MANIFEST).write_text("".join(f"{name}\n" for name in written), encoding="utf-8")
        earlier = _manifest(out_dir)
        for path in sorted(staging.iterdir()):
            os.replace(path, out_dir / path.name)
        for name in earlier - set(written):
            if (out_dir / name).is_file():
                (out_dir / name).unlink()
    except OSError as error:
        raise ConfigError(f"cannot write {what} to {out_dir}: {error.strerror or error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _manifest(out_dir: Path) -> set[str]:
    """Return the file names an earlier run listed in `out_dir`'s MANIFEST, or none without one."""
    try:
        lines = (out_dir / MANIFEST).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return set()
    # Only plain names inside the folder: a manifest edited by hand cannot remove files elsewhere.
    return {line for line in lines if line and line == Path(line).name and line not in (MANIFEST, ".", "..")}


def write_outputs(result: PlanResult, out_dir: Path) -> None:
    """Write every output file of the plan into `out_dir` (all or none)."""

    def write_files(staging: Path) -> None:
        rep_metrics = {row["rep_id"]: {key: value for key, value in row.items() if key not in ("rep_id", "name")}
                       for row in result.metrics["reps"]}
        result.assignments[ASSIGNMENT_COLUMNS].to_csv(staging / "assignments.csv", index=False)
        (staging / "metrics.json").write_text(json.dumps(result.metrics, indent=2, allow_nan=False) + "\n",
                                              encoding="utf-8")
        write_territories_geojson(result.territories, rep_metrics, result.inputs.reps, staging / "territories.geojson")
        count = len(result.inputs.reps)
        title = f"{result.scenario.name}: {count} {'territory' if count == 1 else 'territories'}"
        write_map_html(result.territories, result.assignments, result.inputs.reps, rep_metrics,
                       staging / "map.html", title=title)
        write_map_png(result.territories, result.assignments, result.inputs.reps, staging / "map.png", title=title)

    write_staged(out_dir, write_files, "plan files")
    logger.info("wrote plan files to %s", out_dir)

