"""Geographic runs: start a solve of a geographic scenario; poll and cancel it under /runs like any run."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response

from api.deps import JobsDep, Planner, SessionDep, SettingsDep
from api.errors import ApiError
from api.models import GeoScenario, Run, RunStatus, utc_now
from api.routers.runs import run_public
from api.schemas import ErrorPublic, GeoRunCreate, RunPublic

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/geo/runs", tags=["geographic"])


@router.post("", status_code=202, response_model=RunPublic, summary="Start solving a geographic scenario",
             responses={422: {"model": ErrorPublic, "description": "unknown geographic scenario or time limit too "
                                                                   "long"}})
def create_geo_run(body: GeoRunCreate, caller: Planner, session: SessionDep, settings: SettingsDep, jobs: JobsDep,
                   response: Response) -> RunPublic:
    """Queue a solve and return at once; poll the run's url (/runs/ID) until it has ended, then read plan_url."""
    scenario = session.get(GeoScenario, body.geo_scenario_id)
    if scenario is None:
        raise ApiError(422, f"geo_scenario_id {body.geo_scenario_id} does not exist; create it first "
                            "(POST /geo/scenarios)")
    time_limit_s = body.time_limit_s or float(scenario.settings.get("time_limit_s", 60.0))
    if time_limit_s > settings.max_time_limit_s:
        raise ApiError(422, f"time_limit_s is {time_limit_s:g} s; this server allows at most "
                            f"{settings.max_time_limit_s:g} s (setting TERRITORY_MAX_TIME_LIMIT_S)")
    run = Run(geo_scenario_id=scenario.id, status=RunStatus.queued.value, time_limit_s=time_limit_s,
              created_at=utc_now(), created_by=caller.key_id, causes=[], relaxations=[])
    session.add(run)
    session.commit()
    logger.info("run %d queued: geographic scenario %d, time limit %g s, key %d", run.id, scenario.id, time_limit_s,
                caller.key_id)
    jobs.notify()
    response.headers["Location"] = f"/runs/{run.id}"
    return run_public(run, None)
