"""Plans: the solved assignment of a run, with its territories, metrics and map.

An ae key reads plan summaries and metrics, but of the detail only its own rep's. Assignments, the CSV
and the territory GeoJSON default to that rep and return 403 for another rep. The map shows every
territory, so it is for the planning roles only. In metrics an ae key gets the plan-wide statistics and
only its own row of ``reps``.
"""

from __future__ import annotations

import csv
import io
import logging
from typing import Annotated

import tempfile
from pathlib import Path as FilePath

import geopandas
from fastapi import APIRouter, HTTPException, Path, Query, Response
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.auth import Caller
from api.deps import AnyCaller, Planner, SessionDep
from api.errors import ApiError, api_text, get_or_404
from api.models import Plan, PlanAssignment, Role, Scenario
from api.schemas import DATABASE_MAX_ID, NO_NUL_PATTERN, AssignmentPage, ComparisonPublic, ErrorPublic, PlanPublic
from optimizer.compare import MAX_COMPARED, MIN_COMPARED, compare_metrics, comparison_rows, write_comparison_png
from optimizer.pipeline import ASSIGNMENT_COLUMNS, visible_to_rep

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/plans", tags=["plans"])

PlanId = Annotated[int, Path(ge=1, le=DATABASE_MAX_ID, description="plan id")]
RepFilter = Annotated[str | None, Query(max_length=200, pattern=NO_NUL_PATTERN,
                                        description="only this rep's accounts (case-sensitive); an ae key may "
                                                    "give only its own rep, and defaults to it")]
NOT_FOUND = {404: {"model": ErrorPublic}}
FORBIDDEN_OTHER_REP = {403: {"model": ErrorPublic, "description": "an ae key asked for another rep"}}


def warnings_for(caller: Caller, metrics: dict) -> list[str]:
    """Return the plan's warnings as `caller` may read them: an ae key gets those about its own rep or no rep."""
    warnings = metrics.get("warnings", [])
    if caller.role is not Role.ae:
        return warnings
    rep_ids = [row["rep_id"] for row in metrics["reps"]]
    own = [warning for warning in warnings if visible_to_rep(warning, caller.rep_id, rep_ids)]
    if len(own) < len(warnings):
        own.append(f"{len(warnings) - len(own)} more warning(s) about other territories; sales ops see them")
    return own


def plan_public(plan: Plan, caller: Caller) -> PlanPublic:
    return PlanPublic(id=plan.id, url=f"/plans/{plan.id}", run_id=plan.run_id, based_on_plan_id=plan.based_on_plan_id,
                      scenario_id=plan.scenario_id,
                      version=plan.version, created_at=plan.created_at, summary=plan.summary,
                      solver={**plan.metrics["solver"], "notes": [api_text(note) for note in plan.metrics["solver"].get("notes", [])]},
                      warnings=[api_text(warning) for warning in warnings_for(caller, plan.metrics)])


def _get_plan(session: Session, plan_id: int) -> Plan:
    plan = get_or_404(session, Plan, plan_id, "plan")
    return plan


def rep_filter_for(caller: Caller, rep_id: str | None) -> str | None:
    """Return the rep filter in force, which for an ae key is always its own rep."""
    if caller.role is not Role.ae:
        return rep_id
    if rep_id is not None and rep_id != caller.rep_id:
        raise HTTPException(403, f"an ae key may read only its own rep's detail ({caller.rep_id}), not {rep_id}")
    return caller.rep_id


@router.get("", response_model=list[PlanPublic], summary="List plans")
def list_plans(
    caller: AnyCaller, session: SessionDep,
    scenario_id: Annotated[int | None, Query(ge=1, le=DATABASE_MAX_ID, description="only plans of this scenario")] = None,
) -> list[PlanPublic]:
    query = select(Plan).order_by(Plan.id)
    if scenario_id is not None:
        query = query.where(Plan.scenario_id == scenario_id)
    return [plan_public(plan, caller) for plan in session.scalars(query)]


ComparedIds = Annotated[list[Annotated[int, Field(ge=1, le=DATABASE_MAX_ID)]],
                        Query(min_length=MIN_COMPARED, max_length=MAX_COMPARED, alias="plan_id",
                              description=f"the plans to compare, {MIN_COMPARED} to {MAX_COMPARED}: repeat plan_id")]


def _compared(session: Session, plan_ids: list[int]) -> list[tuple[Plan, str]]:
    """Return the plans of `plan_ids` in order, each with its column name, or raise 404 for a missing one."""
    if len(set(plan_ids)) < len(plan_ids):
        raise ApiError(422, f"plan_id {next(i for i in plan_ids if plan_ids.count(i) > 1)} is given twice; give "
                            "each plan once")
    plans = [_get_plan(session, plan_id) for plan_id in plan_ids]
    names = {scenario.id: scenario.name for scenario in session.scalars(
        select(Scenario).where(Scenario.id.in_({plan.scenario_id for plan in plans})))}
    return [(plan, f"{names[plan.scenario_id]} v{plan.version} (plan {plan.id})") for plan in plans]


@router.get("/compare", response_model=ComparisonPublic, summary="Compare plans side by side",
            responses={**NOT_FOUND, 422: {"model": ErrorPublic, "description": "fewer than 2 plans, or one twice"}})
def compare_plans(caller: Planner, session: SessionDep, plan_ids: ComparedIds) -> dict:
    """Return the figures leadership weighs between what-if plans, one row per measure with its unit."""
    plans = _compared(session, plan_ids)
    table = compare_metrics([(name, plan.metrics) for plan, name in plans])
    return {"plans": [{"id": plan.id, "name": name, "scenario_id": plan.scenario_id, "version": plan.version}
                      for plan, name in plans],
            "measures": comparison_rows(table)}


@router.get("/compare.png", response_class=Response, summary="Draw plans side by side as a PNG",
            responses={200: {"content": {"image/png": {}}, "description": "each plan's territories above each "
                                                                        "rep's potential against its target"},
                       **NOT_FOUND})
def compare_plans_png(caller: Planner, session: SessionDep, plan_ids: ComparedIds) -> Response:
    panels = []
    for plan, name in _compared(session, plan_ids):
        features = plan.territories.get("features") or []
        territories = (geopandas.GeoDataFrame.from_features(features, crs="EPSG:4326") if features else None)
        panels.append((name, plan.metrics, territories))
    with tempfile.TemporaryDirectory(prefix="territory-compare-") as folder:
        content = write_comparison_png(panels, FilePath(folder) / "comparison.png").read_bytes()
    return Response(content, media_type="image/png")


@router.get("/{plan_id}", response_model=PlanPublic, summary="Get a plan's summary and solver outcome",
            responses=NOT_FOUND)
def get_plan(plan_id: PlanId, caller: AnyCaller, session: SessionDep) -> PlanPublic:
    return plan_public(_get_plan(session, plan_id), caller)


@router.get("/{plan_id}/assignments", response_model=AssignmentPage, summary="List a plan's assignments, paged",
            responses={**NOT_FOUND, **FORBIDDEN_OTHER_REP})
def list_assignments(
    plan_id: PlanId, caller: AnyCaller, session: SessionDep, rep_id: RepFilter = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="maximum number of assignments to return")] = 100,
    offset: Annotated[int, Query(ge=0, le=DATABASE_MAX_ID, description="assignments to skip")] = 0,
) -> AssignmentPage:
    _get_plan(session, plan_id)
    rep_id = rep_filter_for(caller, rep_id)
    query = select(PlanAssignment).where(PlanAssignment.plan_id == plan_id)
    if rep_id is not None:
        query = query.where(PlanAssignment.rep_id == rep_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(query.order_by(PlanAssignment.position).limit(limit).offset(offset)).all()
    return AssignmentPage(total=total, limit=limit, offset=offset, items=items)


@router.get("/{plan_id}/assignments.csv", summary="Download a plan's assignments as CSV",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "columns of the CLI's assignments.csv"},
                       **NOT_FOUND, **FORBIDDEN_OTHER_REP})
def assignments_csv(plan_id: PlanId, caller: AnyCaller, session: SessionDep, rep_id: RepFilter = None) -> StreamingResponse:
    """Write the assignments with the columns of the CLI's assignments.csv, one row per account in file order."""
    _get_plan(session, plan_id)
    rep_id = rep_filter_for(caller, rep_id)
    query = select(*(getattr(PlanAssignment, column) for column in ASSIGNMENT_COLUMNS)) \
        .where(PlanAssignment.plan_id == plan_id).order_by(PlanAssignment.position)
    if rep_id is not None:
        query = query.where(PlanAssignment.rep_id == rep_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ASSIGNMENT_COLUMNS)
    for row in session.execute(query):
        writer.writerow(["" if value is None else value for value in row])
    name = f"plan-{plan_id}-assignments{'-' + rep_id if rep_id else ''}.csv"
    return StreamingResponse(iter([buffer.getvalue()]), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{ascii_filename(name)}"'})


def ascii_filename(text: str) -> str:
    return "".join(character if (character.isascii() and character.isalnum()) or character in "-_." else "_"
                   for character in text)


@router.get("/{plan_id}/territories", summary="Get a plan's territories as GeoJSON",
            responses={200: {"content": {"application/geo+json": {}},
                             "description": "RFC 7946 FeatureCollection, one Feature per rep with its metrics"},
                       **NOT_FOUND, **FORBIDDEN_OTHER_REP})
def get_territories(plan_id: PlanId, caller: AnyCaller, session: SessionDep, rep_id: RepFilter = None) -> JSONResponse:
    plan = _get_plan(session, plan_id)
    rep_id = rep_filter_for(caller, rep_id)
    collection = plan.territories
    if rep_id is not None:
        features = [feature for feature in collection["features"] if feature["properties"]["rep_id"] == rep_id]
        collection = {**collection, "features": features}
    return JSONResponse(collection, media_type="application/geo+json")


@router.get("/{plan_id}/metrics", summary="Get a plan's metrics",
            responses={200: {"content": {"application/json": {}},
                             "description": "the CLI's metrics.json: per rep, balance, disruption, location, "
                                            "solver and summary; missing values are null"},
                       **NOT_FOUND})
def get_metrics(plan_id: PlanId, caller: AnyCaller, session: SessionDep) -> JSONResponse:
    metrics = _get_plan(session, plan_id).metrics
    if caller.role is Role.ae:
        metrics = {**metrics, "reps": [row for row in metrics["reps"] if row["rep_id"] == caller.rep_id],
                   "warnings": warnings_for(caller, metrics)}
    return JSONResponse(metrics)


@router.get("/{plan_id}/map", response_class=HTMLResponse, summary="Get a plan's offline HTML map",
            responses={200: {"content": {"text/html": {}}, "description": "one self-contained HTML file"},
                       **NOT_FOUND})
def get_map(plan_id: PlanId, caller: Planner, session: SessionDep) -> HTMLResponse:
    return HTMLResponse(_get_plan(session, plan_id).map_html)
