"""Runs: solves of a scenario in a background worker, with progress, bound and gap while they run.

Geographic runs start at POST /geo/runs and are polled and cancelled here like the others.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import select

from api.deps import JobsDep, Planner, SalesOps, SessionDep, SettingsDep
from api.errors import ApiError, get_or_404
from api.models import GeoPlan, Plan, Run, RunStatus, Scenario, utc_now
from api.schemas import DATABASE_MAX_ID, ErrorPublic, RunCreate, RunProgress, RunPublic

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/runs", tags=["runs"])

RunId = Annotated[int, Path(ge=1, le=DATABASE_MAX_ID, description="run id")]


def run_public(run: Run, plan_id: int | None) -> RunPublic:
    plan_folder = "/geo/plans" if run.geo_scenario_id is not None else "/plans"
    return RunPublic(
        id=run.id, url=f"/runs/{run.id}", scenario_id=run.scenario_id, geo_scenario_id=run.geo_scenario_id,
        status=RunStatus(run.status),
        time_limit_s=run.time_limit_s, created_at=run.created_at, started_at=run.started_at,
        finished_at=run.finished_at,
        progress=RunProgress(phase=run.phase, elapsed_s=run.elapsed_s, objective=run.objective,
                             lower_bound=run.lower_bound, gap=run.gap),
        error=run.error, causes=run.causes or [], relaxations=run.relaxations or [],
        plan_id=plan_id, plan_url=f"{plan_folder}/{plan_id}" if plan_id is not None else None,
    )


def _plan_id(session: SessionDep, run: Run) -> int | None:
    plan = GeoPlan if run.geo_scenario_id is not None else Plan
    return session.scalar(select(plan.id).where(plan.run_id == run.id))


@router.post("", status_code=202, response_model=RunPublic, summary="Start solving a scenario",
             responses={422: {"model": ErrorPublic, "description": "unknown scenario or time limit too long"}})
def create_run(body: RunCreate, caller: Planner, session: SessionDep, settings: SettingsDep, jobs: JobsDep,
               response: Response) -> RunPublic:
    """Queue a solve and return at once; poll the run's url until its status is no longer queued or running."""
    scenario = session.get(Scenario, body.scenario_id)
    if scenario is None:
        raise ApiError(422, f"scenario_id {body.scenario_id} does not exist; create it first (POST /scenarios)")
    time_limit_s = body.time_limit_s or float(scenario.rules["solver"]["time_limit_s"])
    if time_limit_s > settings.max_time_limit_s:
        raise ApiError(422, f"time_limit_s is {time_limit_s:g} s; this server allows at most "
                            f"{settings.max_time_limit_s:g} s (setting TERRITORY_MAX_TIME_LIMIT_S)")
    run = Run(scenario_id=scenario.id, status=RunStatus.queued.value, time_limit_s=time_limit_s,
              created_at=utc_now(), created_by=caller.key_id, causes=[], relaxations=[])
    session.add(run)
    session.commit()
    logger.info("run %d queued: scenario %d, time limit %g s, key %d", run.id, scenario.id, time_limit_s,
                caller.key_id)
    jobs.notify()
    response.headers["Location"] = f"/runs/{run.id}"
    return run_public(run, None)


@router.get("", response_model=list[RunPublic], summary="List runs")
def list_runs(
    caller: Planner, session: SessionDep,
    status: Annotated[RunStatus | None, Query(description="only runs with this status")] = None,
    scenario_id: Annotated[int | None, Query(ge=1, le=DATABASE_MAX_ID, description="only runs of this scenario")] = None,
) -> list[RunPublic]:
    query = select(Run, Plan.id, GeoPlan.id).outerjoin(Plan, Plan.run_id == Run.id) \
        .outerjoin(GeoPlan, GeoPlan.run_id == Run.id).order_by(Run.id)
    if status is not None:
        query = query.where(Run.status == status.value)
    if scenario_id is not None:
        query = query.where(Run.scenario_id == scenario_id)
    return [run_public(run, plan_id if geo_plan_id is None else geo_plan_id)
            for run, plan_id, geo_plan_id in session.execute(query)]


@router.get("/{run_id}", response_model=RunPublic, summary="Get a run's status and progress",
            responses={404: {"model": ErrorPublic}})
def get_run(run_id: RunId, caller: Planner, session: SessionDep) -> RunPublic:
    run = get_or_404(session, Run, run_id, "run")
    return run_public(run, _plan_id(session, run))


@router.post("/{run_id}/cancel", response_model=RunPublic, summary="Cancel a queued or running run",
             responses={404: {"model": ErrorPublic}, 409: {"model": ErrorPublic, "description": "the run has ended"}})
def cancel_run(run_id: RunId, caller: SalesOps, session: SessionDep, jobs: JobsDep) -> RunPublic:
    """Stop the run's worker process; no plan is written for a cancelled run."""
    run = get_or_404(session, Run, run_id, "run")
    cancelled = jobs.cancel(run_id)
    session.commit()  # end the read transaction so that refresh reads what cancel wrote
    if not cancelled:
        session.refresh(run)
        raise ApiError(409, f"run {run_id} has already ended with status {run.status}; nothing to cancel")
    session.refresh(run)
    return run_public(run, None)
