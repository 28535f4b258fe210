"""Request and response bodies. ``...Create`` models are what a caller sends, ``...Public`` what the API returns.

Request models reject NaN and infinity, unknown fields, and text with NUL characters (which PostgreSQL
cannot store), so such input gets a 422 rather than reaching the database.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from api.models import RunStatus

DATABASE_MAX_ID = 2**31 - 1  # PostgreSQL integer columns; a larger id can never exist
NO_NUL_PATTERN = r"^[^\x00]*$"

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL_PATTERN)]
Identifier = Annotated[int, Field(ge=1, le=DATABASE_MAX_ID)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Response(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorPublic(_Response):
    detail: Any = Field(description="what went wrong and how to fix it: a message, or a list of validation errors")


class RowIssuePublic(_Response):
    file: str = Field(description="name of the uploaded file")
    row: int | None = Field(description="row in the file as a spreadsheet shows it (header = 1); null for a whole column")
    column: str = Field(description="column of the problem; empty when the whole row is concerned")
    value: str = Field(description="the cell's text as read")
    message: str = Field(description="what is wrong and how to fix it")


class ValidationReport(_Response):
    detail: str = Field(description="summary of the problems; nothing was stored")
    issues: list[RowIssuePublic] = Field(description="every problem found, one per bad cell or column")


class DatasetPublic(_Response):
    id: int = Field(description="dataset id")
    name: str = Field(description="name given at upload")
    created_at: datetime.datetime = Field(description="upload time (UTC)")
    accounts_filename: str = Field(description="file name of the uploaded accounts file")
    reps_filename: str = Field(description="file name of the uploaded reps file")
    account_count: int = Field(description="accounts kept (rows with problems are not counted when skipped)")
    rep_count: int = Field(description="reps in the roster")
    skip_bad_rows: bool = Field(description="whether invalid account rows were dropped instead of rejecting the upload")
    account_columns: dict[str, str] = Field(description="account column map used: {schema_name: header_in_file}")
    rep_columns: dict[str, str] = Field(description="rep column map used: {schema_name: header_in_file}")
    skipped_issues: list[RowIssuePublic] = Field(
        description="problems of the account rows that were dropped; empty unless skip_bad_rows was set")


class ScenarioCreate(_Request):
    name: Name = Field(description="name of the scenario, shown in plan and map titles")
    dataset_id: Identifier = Field(description="dataset whose accounts and reps the scenario plans")
    rules: dict[str, Any] = Field(
        default_factory=dict,
        description="planning rules with the keys of the scenario YAML file (scoring, tiers, balance, objective, "
                    "solver); every key is optional and missing keys take the README's defaults",
        examples=[{"balance": {"potential": 0.05}, "solver": {"time_limit_s": 30}}],
    )


class ScenarioPublic(_Response):
    id: int = Field(description="scenario id")
    name: str = Field(description="name of the scenario")
    dataset_id: int = Field(description="dataset the scenario plans")
    rules: dict[str, Any] = Field(description="the complete planning rules, defaults filled in")
    created_at: datetime.datetime = Field(description="creation time (UTC)")


class RunCreate(_Request):
    scenario_id: Identifier = Field(description="scenario to solve")
    time_limit_s: float | None = Field(
        None, gt=0, description="solver time limit in seconds; default: the scenario's solver.time_limit_s")


class RunProgress(_Response):
    phase: str | None = Field(description="current step: loading, relaxation, search, territories or writing "
                                          "(geographic runs: loading, solving, territories, writing)")
    elapsed_s: float | None = Field(description="seconds since the solve started")
    objective: float | None = Field(description="objective of the best plan found so far (hour-km by default)")
    lower_bound: float | None = Field(description="proven lower bound of the objective so far, same unit")
    gap: float | None = Field(description="(objective - lower_bound) / objective, a fraction; null until both exist")


class RunPublic(_Response):
    id: int = Field(description="run id")
    url: str = Field(description="path of this run's status")
    scenario_id: int | None = Field(description="scenario being solved; null for a geographic run")
    geo_scenario_id: int | None = Field(None, description="geographic scenario being solved; null for an "
                                                          "account-mode run")
    status: RunStatus = Field(description="queued, running, succeeded, failed, infeasible or cancelled")
    time_limit_s: float = Field(description="solver time limit, seconds")
    created_at: datetime.datetime = Field(description="time the run was requested (UTC)")
    started_at: datetime.datetime | None = Field(description="time a worker started it (UTC)")
    finished_at: datetime.datetime | None = Field(description="time it ended (UTC)")
    progress: RunProgress = Field(description="latest progress reported by the solver")
    error: str | None = Field(description="why the run failed, was infeasible or was cancelled")
    causes: list[str] = Field(description="for an infeasible run: each rule that cannot hold, with numbers")
    relaxations: list[str] = Field(description="for an infeasible run: smallest changes found that remove a cause")
    plan_id: int | None = Field(description="plan written by a succeeded run (a geographic plan for a geographic run)")
    plan_url: str | None = Field(description="path of that plan: /plans/ID, or /geo/plans/ID for a geographic run")


class PlanSummary(_Response):
    accounts: int = Field(description="accounts in the plan")
    assigned: int = Field(description="accounts assigned to a rep")
    not_located: int = Field(description="accounts that could not be located and so have no rep")
    potential_assigned: float = Field(description="potential of the assigned accounts, USD")
    potential_not_located: float = Field(description="potential of the accounts not located, USD")
    reps: int = Field(description="reps in the plan")
    skipped_rows: list[str] = Field(description="input problems of account rows dropped at upload")


class SolverPublic(_Response):
    status: str = Field(description="optimal or feasible; \"breaks rules\" for a plan changed by a proposal that was "
                                    "approved although it broke rules")
    objective: float = Field(description="objective of the plan, in objective_unit")
    objective_unit: str = Field(description="unit of objective and lower_bound")
    lower_bound: float | None = Field(description="proven lower bound; null when the LP did not finish")
    gap: float | None = Field(description="(objective - lower_bound) / objective, a fraction")
    time_s: float = Field(description="solve time, seconds; for a plan changed by proposals, that of the original "
                                      "solve, as are time_limit_s, seed and workers")
    time_limit_s: float = Field(description="time limit of the solve, seconds")
    seed: int = Field(description="random seed")
    workers: int = Field(description="search threads")
    version: str = Field(description="OR-Tools version")
    notes: list[str] = Field([], description="remarks of the solver, such as why the bound is weak")


class PlanPublic(_Response):
    id: int = Field(description="plan id")
    url: str = Field(description="path of this plan")
    run_id: int | None = Field(description="run that produced the plan; null for a plan written by approving a "
                                           "proposal")
    based_on_plan_id: int | None = Field(None, description="for a plan written by approving a proposal, the plan "
                                                           "the proposal changed")
    scenario_id: int = Field(description="scenario of the plan")
    version: int = Field(description="1, 2, ... for the plans of one scenario, in the order they were written")
    created_at: datetime.datetime = Field(description="time the plan was written (UTC)")
    summary: PlanSummary = Field(description="accounts, reps and potential covered by the plan")
    solver: SolverPublic = Field(description="solver outcome: status, objective, bound and gap")
    warnings: list[str] = Field([], description="input the plan is unsure of: accounts not located, accounts or "
                                               "reps far from all others, rep industries no account has")


class AssignmentPublic(_Response):
    account_id: str = Field(description="account id as uploaded (case-sensitive)")
    rep_id: str | None = Field(description="rep who owns the account in the plan; null when not located")
    previous_owner: str | None = Field(description="current_owner from the upload")
    moved: bool = Field(description="whether the owner changes against previous_owner")
    tier: int = Field(description="account tier, 1 (highest) to 3")
    score: float = Field(description="account score, 0-100")
    potential: float = Field(description="potential, USD")
    workload_hours: float = Field(description="hours a year the account needs")
    distance_km: float | None = Field(description="geodesic distance from the rep's home base, km")
    located_by: str = Field(description="how the account was located: coordinates, postal_code, city or not_located")
    name: str | None = Field(description="account name")
    industry: str | None = Field(description="account industry")
    lat: float | None = Field(description="latitude, WGS84 degrees")
    lon: float | None = Field(description="longitude, WGS84 degrees")


class AssignmentPage(_Response):
    total: int = Field(description="assignments that match the filter")
    limit: int = Field(description="most items returned")
    offset: int = Field(description="items skipped before the first returned")
    items: list[AssignmentPublic] = Field(description="assignments in the order of the accounts file")


class HealthPublic(_Response):
    status: str = Field(description="ok when the service and its database respond")
    database: str = Field(description="database dialect in use: sqlite or postgresql")


class VersionPublic(_Response):
    version: str = Field(description="version of the territory optimizer package")
    ortools: str = Field(description="OR-Tools version used by the solver")
    api: str = Field(description="version of this HTTP API")



class GeoScenarioPublic(_Response):
    id: int = Field(description="geographic scenario id")
    name: str = Field(description="name of the scenario, shown in map titles")
    created_at: datetime.datetime = Field(description="upload time (UTC)")
    files: dict[str, str] = Field(description="uploaded file name by role: units, accounts, reps, unit_values, current")
    settings: dict[str, Any] = Field(description="the planning settings as sent, in the syntax of `territory "
                                                 "districts` (band population=1%, lock UNIT=REP, ...)")
    report: dict[str, Any] = Field(description="what validation found: units, territory ids, metrics with their "
                                               "units, the unit layer's repairs and the adjacency graph's summary")


class GeoRunCreate(_Request):
    geo_scenario_id: Identifier = Field(description="geographic scenario to solve")
    time_limit_s: float | None = Field(
        None, gt=0, description="seconds for the whole run (reading, solving, territories); default: the "
                                "scenario's time_limit_s")


class GeoSolverPublic(_Response):
    status: str = Field(description="optimal or feasible")
    objective: float = Field(description="compactness plus move charges, in objective_unit")
    objective_unit: str = Field(description="unit of objective and lower_bound, such as unit-km or hour-km")
    lower_bound: float | None = Field(description="proven lower bound; null when none was proven")
    gap: float | None = Field(description="(objective - lower_bound) / objective, a fraction")
    band_violation: float = Field(description="sum of the relative distances outside the hard bands; 0 in a plan")
    max_deviation: dict[str, float] = Field(description="per banded metric, the largest relative deviation from "
                                                        "a territory's target (0.01 = 1 %)")
    time_s: float = Field(description="solve time, seconds")
    time_limit_s: float = Field(description="the solver's share of the run's time limit, seconds")
    run_time_limit_s: float = Field(description="time limit of the whole run, seconds")
    seed: int = Field(description="random seed")
    workers: int = Field(description="search threads")
    version: str = Field(description="OR-Tools version")
    notes: list[str] = Field(description="remarks of the solver, such as why no bound was proven")


class GeoPlanPublic(_Response):
    id: int = Field(description="geographic plan id")
    url: str = Field(description="path of this plan")
    run_id: int = Field(description="run that produced the plan")
    geo_scenario_id: int = Field(description="geographic scenario of the plan")
    version: int = Field(description="1, 2, ... for the plans of one geographic scenario, in the order written")
    created_at: datetime.datetime = Field(description="time the plan was written (UTC)")
    summary: dict[str, Any] = Field(description="units, territories, bands, status, territories in several polygon "
                                                "parts and, with accounts, the accounts assigned and outside units")
    solver: GeoSolverPublic = Field(description="solver outcome: status, objective, bound, gap and deviations")


# Limits of one proposal, whether its moves come as JSON or as a moves file.
MAX_MOVES = 1000
MAX_ID_LENGTH = 200


class ProposalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    moves: dict[Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=NO_NUL_PATTERN)],
                Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=NO_NUL_PATTERN)]] = Field(
        min_length=1, max_length=MAX_MOVES, description="account id -> the rep it should move to",
        examples=[{"ACC-0001": "AE-05", "ACC-0002": "AE-05"}])
    note: str | None = Field(None, max_length=2000, pattern=NO_NUL_PATTERN,
                             description="why the change is asked for; stored with the proposal for sales ops")


class ProposalDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000, pattern=NO_NUL_PATTERN,
                             description="the reason for the decision, stored with the proposal")
    accept_violations: StrictBool = Field(False, description="approve even though the change breaks rules of the "
                                                       "scenario; the new plan lists them as warnings")


class TerritoryFiguresPublic(_Response):
    accounts: int = Field(description="accounts of the territory")
    potential: float = Field(description="potential, USD")
    potential_pct_of_target: float | None = Field(description="potential against the potential band's target, %")
    workload_hours: float = Field(description="workload, hours a year")
    utilisation: float | None = Field(description="workload over capacity, a fraction")
    mean_distance_km: float | None = Field(description="mean geodesic distance from the rep's home base, km")


class TerritoryChangePublic(_Response):
    before: TerritoryFiguresPublic = Field(description="the territory in the plan")
    after: TerritoryFiguresPublic = Field(description="the territory with the proposal applied")


class MovePublic(_Response):
    account_id: str = Field(description="account that changes rep")
    from_rep: str | None = Field(alias="from", description="its rep in the plan; null for an ae key when that is "
                                                            "another rep")
    to_rep: str = Field(alias="to", description="its rep under the proposal")


class ProposalPublic(_Response):
    ok: bool = Field(description="true when the changed plan keeps every rule of the scenario")
    moves: list[MovePublic] = Field(description="the accounts that change rep")
    territories: dict[str, TerritoryChangePublic] = Field(description="each affected rep, before and after")
    violations: list[str] = Field(description="rules the changed plan breaks that the plan kept")
    already_broken: list[str] = Field(description="rules the plan already broke (its scenario changed since, or an "
                                                  "earlier change was approved although it broke them) and the "
                                                  "changed plan still breaks, no further past their limits")
    objective_before: float = Field(description="the plan's objective, in objective_unit")
    objective_after: float = Field(description="the objective with the proposal applied")
    objective_unit: str = Field(description="unit of the objectives, such as hour-km")
    notes: list[str] = Field(description="remarks, such as rules the plan itself no longer keeps")


class ProposalRecordPublic(ProposalPublic):
    id: int = Field(description="proposal id")
    url: str = Field(description="path of this proposal")
    plan_id: int = Field(description="plan the change was asked for")
    status: str = Field(description="pending, approved, rejected or withdrawn")
    note: str | None = Field(description="the requester's reason")
    created_at: datetime.datetime = Field(description="time the proposal was made (UTC)")
    created_by: int | None = Field(description="id of the API key that made it")
    decided_at: datetime.datetime | None = Field(description="time of the approval, rejection or withdrawal (UTC)")
    decided_by: int | None = Field(description="id of the API key that decided")
    decision_note: str | None = Field(description="the reason given with the decision")
    result_plan_id: int | None = Field(description="the plan that approving it wrote: the plan changed by the "
                                                   "moves, a new version of the scenario's plans")
    accepted_violations: list[str] = Field(description="rules the approved plan breaks that sales ops accepted "
                                                       "(accept_violations); empty otherwise")


class ComparedPlanPublic(_Response):
    id: int = Field(description="plan id")
    name: str = Field(description="the plan's column name: its scenario's name and version")
    scenario_id: int = Field(description="scenario of the plan")
    version: int = Field(description="the plan's version within its scenario")


class MeasurePublic(_Response):
    measure: str = Field(description="what is compared, such as 'potential: max deviation from target'")
    unit: str = Field(description="unit of the values, such as '%', 'km' or the objective's unit; empty for counts")
    values: list[float | int | str | None] = Field(description="one value per plan, in the order of plans; null "
                                                               "where a plan has no such figure")


class ComparisonPublic(_Response):
    plans: list[ComparedPlanPublic] = Field(description="the plans compared, in the order requested")
    measures: list[MeasurePublic] = Field(description="one row per measure: cost and gap, balance, workload, travel "
                                                      "and disruption")
