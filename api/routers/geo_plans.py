"""Geographic plans: the territories of whole units written by a geographic run, with their files.

As for account-mode plans, an ae key reads summaries, and of the detail only its own rep's territory:
the territory GeoJSON, units.csv, assignments.csv and the metrics' territory rows default to that rep
and return 403 for another. The map shows every territory, so it is for the planning roles only.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select

from api.deps import AnyCaller, Planner, SessionDep
from api.errors import ApiError, api_text, get_or_404
from api.models import GeoPlan
from api.routers.plans import FORBIDDEN_OTHER_REP, NOT_FOUND, RepFilter, ascii_filename, rep_filter_for
from api.schemas import DATABASE_MAX_ID, GeoPlanPublic

router = APIRouter(prefix="/geo/plans", tags=["geographic"])

GeoPlanId = Annotated[int, Path(ge=1, le=DATABASE_MAX_ID, description="geographic plan id")]


def geo_plan_public(plan: GeoPlan) -> GeoPlanPublic:
    return GeoPlanPublic(id=plan.id, url=f"/geo/plans/{plan.id}", run_id=plan.run_id,
                         geo_scenario_id=plan.geo_scenario_id, version=plan.version, created_at=plan.created_at,
                         summary=plan.summary, solver=_solver_for_api(plan.metrics["solver"]))


@router.get("", response_model=list[GeoPlanPublic], summary="List geographic plans")
def list_geo_plans(
    caller: AnyCaller, session: SessionDep,
    geo_scenario_id: Annotated[int | None, Query(ge=1, le=DATABASE_MAX_ID,
                                                 description="only plans of this geographic scenario")] = None,
) -> list[GeoPlanPublic]:
    query = select(GeoPlan).order_by(GeoPlan.id)
    if geo_scenario_id is not None:
        query = query.where(GeoPlan.geo_scenario_id == geo_scenario_id)
    return [geo_plan_public(plan) for plan in session.scalars(query)]


@router.get("/{plan_id}", response_model=GeoPlanPublic, summary="Get a geographic plan's summary and solver outcome",
            responses=NOT_FOUND)
def get_geo_plan(plan_id: GeoPlanId, caller: AnyCaller, session: SessionDep) -> GeoPlanPublic:
    return geo_plan_public(get_or_404(session, GeoPlan, plan_id, "geographic plan"))


@router.get("/{plan_id}/territories", summary="Get a geographic plan's territories as GeoJSON",
            responses={200: {"content": {"application/geo+json": {}},
                             "description": "RFC 7946 FeatureCollection, one Feature per territory with its metrics"},
                       **NOT_FOUND, **FORBIDDEN_OTHER_REP})
def get_geo_territories(plan_id: GeoPlanId, caller: AnyCaller, session: SessionDep,
                        rep_id: RepFilter = None) -> JSONResponse:
    plan = get_or_404(session, GeoPlan, plan_id, "geographic plan")
    territory_id = rep_filter_for(caller, rep_id)
    collection = plan.territories
    if territory_id is not None:
        features = [feature for feature in collection["features"]
                    if feature["properties"]["territory_id"] == territory_id]
        collection = {**collection, "features": features}
    return JSONResponse(collection, media_type="application/geo+json")


@router.get("/{plan_id}/units.csv", summary="Download a geographic plan's units as CSV",
            response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "the CLI's units.csv"},
                       **NOT_FOUND, **FORBIDDEN_OTHER_REP})
def get_geo_units(plan_id: GeoPlanId, caller: AnyCaller, session: SessionDep, rep_id: RepFilter = None) -> Response:
    plan = get_or_404(session, GeoPlan, plan_id, "geographic plan")
    territory_id = rep_filter_for(caller, rep_id)
    text = _filtered_csv(plan.units_csv, "territory_id", territory_id)
    return _csv_response(text, f"geo-plan-{plan_id}-units{'-' + territory_id if territory_id else ''}.csv")


@router.get("/{plan_id}/assignments.csv", summary="Download a geographic plan's account assignments as CSV",
            response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "the CLI's assignments.csv"},
                       404: {"description": "no such plan, or the plan has no accounts"}, **FORBIDDEN_OTHER_REP})
def get_geo_assignments(plan_id: GeoPlanId, caller: AnyCaller, session: SessionDep,
                        rep_id: RepFilter = None) -> Response:
    plan = get_or_404(session, GeoPlan, plan_id, "geographic plan")
    if plan.assignments_csv is None:
        raise ApiError(404, f"geographic plan {plan_id} was planned without accounts, so it has no assignments")
    rep_id = rep_filter_for(caller, rep_id)
    text = _filtered_csv(plan.assignments_csv, "rep_id", rep_id)
    return _csv_response(text, f"geo-plan-{plan_id}-assignments{'-' + rep_id if rep_id else ''}.csv")


@router.get("/{plan_id}/metrics", summary="Get a geographic plan's metrics",
            responses={200: {"content": {"application/json": {}},
                             "description": "the CLI's metrics.json: solver, summary, metrics, territories, "
                                            "disruption, unit layer and adjacency reports"},
                       **NOT_FOUND})
def get_geo_metrics(plan_id: GeoPlanId, caller: AnyCaller, session: SessionDep) -> JSONResponse:
    metrics = get_or_404(session, GeoPlan, plan_id, "geographic plan").metrics
    own = rep_filter_for(caller, None)
    if own is not None:
        metrics = {**metrics, "territories": [row for row in metrics["territories"] if row["territory_id"] == own]}
    return JSONResponse(metrics)


@router.get("/{plan_id}/map", response_class=HTMLResponse, summary="Get a geographic plan's offline HTML map",
            responses={200: {"content": {"text/html": {}}, "description": "one self-contained HTML file"},
                       **NOT_FOUND})
def get_geo_map(plan_id: GeoPlanId, caller: Planner, session: SessionDep) -> HTMLResponse:
    return HTMLResponse(get_or_404(session, GeoPlan, plan_id, "geographic plan").map_html)


def _filtered_csv(text: str, column: str, value: str | None) -> str:
    """Return the CSV text, keeping only the rows whose `column` equals `value` when one is given."""
    if value is None:
        return text
    reader = csv.DictReader(io.StringIO(text))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=reader.fieldnames or [], lineterminator="\n")
    writer.writeheader()
    writer.writerows(row for row in reader if row[column] == value)
    return buffer.getvalue()


def _csv_response(text: str, name: str) -> Response:
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{ascii_filename(name)}"'})


def _solver_for_api(solver: dict) -> dict:
    """Return the stored solver outcome with its notes naming API fields instead of command-line options."""
    return {**solver, "notes": [api_text(note) for note in solver.get("notes", [])]}
