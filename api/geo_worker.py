"""The body of a geographic run in a worker process: rebuild the request, plan, store the plan in one transaction.

Called by api.worker.run_worker, which ends the run as infeasible or failed for the errors raised here.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.geo import geo_files_on_disk, geo_request
from api.models import GeoFile, GeoPlan, GeoScenario, Run
from api.worker import ProgressWriter, finish_succeeded_run
from optimizer.geo.pipeline import GeoPlanResult, map_layers, map_metrics, map_title, plan_geographic, territories_geojson
from optimizer.geo.report import ASSIGNMENT_COLUMNS
from optimizer.outputs import write_map_html

logger = logging.getLogger(__name__)


def solve_geo_and_store(sessions: sessionmaker[Session], run_id: int) -> None:
    """Plan the run's geographic scenario and store the plan with the run's success."""
    with sessions() as session:
        run = session.get_one(Run, run_id)
        scenario = session.get_one(GeoScenario, run.geo_scenario_id)
        files = {row.role: (row.filename, row.content) for row in
                 session.scalars(select(GeoFile).where(GeoFile.geo_scenario_id == scenario.id))}
        settings = {**scenario.settings, "time_limit_s": run.time_limit_s}
        scenario_id = scenario.id
    logger.info("run %d: planning geographic scenario %d (%s), time limit %g s", run_id, scenario_id,
                settings["name"], settings["time_limit_s"])

    progress = ProgressWriter(sessions, run_id)
    with geo_files_on_disk(files) as paths:
        result = plan_geographic(geo_request(settings, paths), phase=progress.phase)
        documents = _documents(result)
    progress.phase("writing")
    _store_geo_plan(sessions, run_id, scenario_id, result, documents)


def _documents(result: GeoPlanResult) -> dict[str, Any]:
    """Return the plan's files as documents: GeoJSON, CSV text and the HTML map."""
    assignments = None
    if result.assignments is not None:
        assignments = result.assignments[ASSIGNMENT_COLUMNS].to_csv(index=False, lineterminator="\n")
    with tempfile.TemporaryDirectory(prefix="territory-map-") as folder:
        territories, accounts, homes = map_layers(result)
        path = write_map_html(territories, accounts, homes, map_metrics(result), Path(folder) / "map.html",
                              title=map_title(result))
        map_html = path.read_text(encoding="utf-8")
    return {"territories": territories_geojson(result), "units_csv": result.units.to_csv(index=False, lineterminator="\n"),
            "assignments_csv": assignments, "map_html": map_html}


def _store_geo_plan(sessions: sessionmaker[Session], run_id: int, scenario_id: int, result: GeoPlanResult,
                    documents: dict[str, Any]) -> None:
    """Write the plan and the run's success in one transaction. A run cancelled meanwhile keeps no plan."""
    solver = result.metrics["solver"]
    with sessions.begin() as session:
        if not finish_succeeded_run(session, run_id, solver):
            return
        version = (session.scalar(select(func.max(GeoPlan.version)).where(GeoPlan.geo_scenario_id == scenario_id))
                   or 0) + 1
        plan = GeoPlan(run_id=run_id, geo_scenario_id=scenario_id, version=version,
                       summary=result.metrics["summary"], metrics=result.metrics, **documents)
        session.add(plan)
        session.flush()
        plan_id = plan.id
    logger.info("run %d succeeded: geographic plan %d (version %d), %s, %d units in %d territories", run_id, plan_id,
                version, solver["status"], len(result.units), len(result.instance.territory_ids))
