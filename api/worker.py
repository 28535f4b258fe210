"""The body of a solve worker process: read the run's dataset, solve, and store the plan in one transaction.

``run_worker`` runs in a spawned process (see api.jobs). It copies solver progress into the run's row.
A geographic run goes to api.geo_worker, which stores a geographic plan in the same way.
It ends the run itself for every outcome it can catch: succeeded (with its plan), infeasible (with
causes) or failed (with the error). If the process dies, the manager ends the run.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.db import make_engine, make_session_factory
from api.errors import api_text, run_status_for
from api.jobs import finish_run
from api.models import Dataset, Plan, PlanAssignment, Run, RunStatus, Scenario
from api.uploads import files_on_disk
from optimizer.errors import InfeasibleError, TerritoryError
from optimizer.inputs import Inputs, load_inputs
from optimizer.outputs import geojson_dict, write_map_html
from optimizer.outputs.geojson import json_safe
from optimizer.pipeline import PlanResult, plan_from_inputs
from optimizer.regions import build_territories
from optimizer.scenario import scenario_from_dict

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 1.0
ASSIGNMENT_FIELDS = ("account_id", "rep_id", "previous_owner", "moved", "tier", "score", "potential",
                     "workload_hours", "distance_km", "located_by", "name", "industry", "lat", "lon")


def run_worker(database_url: str, run_id: int, log_level: int = logging.INFO) -> None:
    """Solve run `run_id` and store its outcome; the entry point of a worker process."""
    logging.basicConfig(level=log_level or logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    try:
        _solve_and_store(sessions, run_id)
    except TerritoryError as error:
        status = run_status_for(error)
        causes = error.causes if isinstance(error, InfeasibleError) else []
        relaxations = error.relaxations if isinstance(error, InfeasibleError) else []
        with sessions.begin() as session:
            finish_run(session, run_id, status, api_text(str(error)), causes=[api_text(cause) for cause in causes],
                       relaxations=[api_text(relaxation) for relaxation in relaxations])
        logger.warning("run %d ended %s: %s", run_id, status.value, str(error).splitlines()[0])
    except Exception as error:  # noqa: BLE001 - any failure must end the run, not leave it running
        logger.exception("run %d failed unexpectedly", run_id)
        with sessions.begin() as session:
            finish_run(session, run_id, RunStatus.failed,
                       f"unexpected failure ({type(error).__name__}: {error}); the server log has the details")
    finally:
        engine.dispose()


def _solve_and_store(sessions: sessionmaker[Session], run_id: int) -> None:
    with sessions() as session:
        geographic = session.get_one(Run, run_id).geo_scenario_id is not None
    if geographic:
        from api.geo_worker import solve_geo_and_store  # it imports this module for ProgressWriter

        solve_geo_and_store(sessions, run_id)
        return

    with sessions() as session:
        run = session.get_one(Run, run_id)
        scenario_row = session.get_one(Scenario, run.scenario_id)
        dataset = session.get_one(Dataset, scenario_row.dataset_id)
        scenario = scenario_from_dict(scenario_row.rules, source=f"scenario {scenario_row.id}")
        scenario = scenario.with_solver(time_limit_s=run.time_limit_s)
        logger.info("run %d: solving scenario %d (%s) on dataset %d, time limit %g s",
                    run_id, scenario_row.id, scenario.name, dataset.id, run.time_limit_s)

        progress = ProgressWriter(sessions, run_id)
        progress.phase("loading")
        inputs = load_dataset(dataset)
    result = plan_from_inputs(inputs, scenario, progress)

    progress.phase("territories")
    territories, map_html = plan_documents(result)

    progress.phase("writing")
    _store_plan(sessions, run_id, scenario_row.id, result, territories, map_html)


def load_dataset(dataset: Dataset) -> Inputs:
    """Validate a stored dataset's files with the library, exactly as at upload."""
    with files_on_disk((dataset.accounts_filename, dataset.accounts_file),
                       (dataset.reps_filename, dataset.reps_file)) as (accounts_path, reps_path):
        return load_inputs(accounts_path, reps_path, account_columns=dataset.account_columns or None,
                           rep_columns=dataset.rep_columns or None, skip_bad_rows=dataset.skip_bad_rows)


def plan_documents(result: PlanResult) -> tuple[dict[str, Any], str]:
    """Build the territories of `result` and return them as GeoJSON with the plan's HTML map."""
    result.territories = build_territories(result.assignments, result.inputs.reps)
    rep_metrics = {row["rep_id"]: {key: value for key, value in row.items() if key not in ("rep_id", "name")}
                   for row in result.metrics["reps"]}
    return geojson_dict(result.territories, rep_metrics, result.inputs.reps), _map_html(result, rep_metrics)


def _map_html(result: PlanResult, rep_metrics: dict[str, dict[str, Any]]) -> str:
    count = len(result.inputs.reps)
    title = f"{result.scenario.name}: {count} {'territory' if count == 1 else 'territories'}"
    with tempfile.TemporaryDirectory(prefix="territory-map-") as folder:
        path = write_map_html(result.territories, result.assignments, result.inputs.reps, rep_metrics,
                              Path(folder) / "map.html", title=title)
        return path.read_text(encoding="utf-8")


def finish_succeeded_run(session: Session, run_id: int, solver: dict[str, Any]) -> bool:
    """Mark a running run succeeded with the solver's figures; return False (rolled back) if it ended meanwhile.

    Updating the run first takes its row lock, so a concurrent cancel waits and then finds it ended.
    """
    if finish_run(session, run_id, RunStatus.succeeded, None, from_statuses=(RunStatus.running.value,),
                  phase="done", objective=solver["objective"], lower_bound=solver["lower_bound"],
                  gap=solver["gap"], elapsed_s=solver["time_s"]):
        return True
    logger.info("run %d was cancelled or ended while solving; its plan is discarded", run_id)
    session.rollback()
    return False


def _store_plan(sessions: sessionmaker[Session], run_id: int, scenario_id: int, result: PlanResult,
                territories: dict[str, Any], map_html: str) -> None:
    """Write the plan, its assignments and the run's success in one transaction."""
    metrics = json_safe(result.metrics)
    solver = metrics["solver"]
    with sessions.begin() as session:
        if not finish_succeeded_run(session, run_id, solver):
            return
        plan = add_plan(session, scenario_id, result.assignments, metrics, territories, map_html, run_id=run_id)
        plan_id, version = plan.id, plan.version
    logger.info("run %d succeeded: plan %d (version %d) with %d assignments, %s, gap %s",
                run_id, plan_id, version, len(result.assignments), solver["status"],
                f"{solver['gap']:.4%}" if solver["gap"] is not None else "unknown")


def add_plan(session: Session, scenario_id: int, assignments, metrics: dict[str, Any], territories: dict[str, Any],
             map_html: str, *, run_id: int | None = None, based_on_plan_id: int | None = None) -> Plan:
    """Add the next version of the scenario's plans with its assignments, in the caller's transaction."""
    # This empty update locks the scenario's row until the transaction ends (the whole database on
    # SQLite), so two plans of one scenario written at once cannot get the same version.
    session.execute(update(Scenario).where(Scenario.id == scenario_id).values(name=Scenario.name))
    version = (session.scalar(select(func.max(Plan.version)).where(Plan.scenario_id == scenario_id)) or 0) + 1
    plan = Plan(run_id=run_id, based_on_plan_id=based_on_plan_id, scenario_id=scenario_id, version=version,
                summary=metrics["summary"], metrics=metrics, territories=json_safe(territories), map_html=map_html)
    session.add(plan)
    session.flush()
    rows = json_safe(assignments[list(ASSIGNMENT_FIELDS)].to_dict("records"))
    session.execute(PlanAssignment.__table__.insert(),
                    [{"plan_id": plan.id, "position": position, **row} for position, row in enumerate(rows)])
    return plan


class ProgressWriter:
    """Progress callback that copies solver events into the run's row.

    An event of a new phase is written at once. Within a phase, writes are at least a second apart and a
    timer writes the latest event that had to wait.
    """

    def __init__(self, sessions: sessionmaker[Session], run_id: int):
        self.sessions = sessions
        self.run_id = run_id
        self.last_write = 0.0
        self.last_phase: str | None = None
        self.lock = threading.RLock()
        self.pending: dict | None = None
        self.timer: threading.Timer | None = None

    def phase(self, name: str) -> None:
        self._write({"phase": name})

    def __call__(self, event: dict) -> None:
        # A new phase is written at once, so that a short solve still shows each step. Within a phase the
        # latest event waits for the interval and is then written by a timer, so the last one is never lost.
        with self.lock:
            wait = PROGRESS_INTERVAL_S - (time.monotonic() - self.last_write)
            if wait > 0 and event.get("phase") == self.last_phase:
                self.pending = event
                if self.timer is None:
                    self.timer = threading.Timer(wait, self._flush)
                    self.timer.daemon = True
                    self.timer.start()
                return
            self.pending = None
            self._write_event(event)

    def _flush(self) -> None:
        with self.lock:
            self.timer = None
            if self.pending is not None:
                event, self.pending = self.pending, None
                self._write_event(event)

    def _write_event(self, event: dict) -> None:
        objective, bound = event.get("objective"), event.get("bound")
        gap = None
        if objective is not None and bound is not None and objective > 0:
            gap = max(0.0, objective - bound) / objective
        values = {"phase": event.get("phase"), "elapsed_s": event.get("elapsed_s"), "objective": objective,
                  "lower_bound": bound, "gap": gap}
        self._write(json_safe(values))

    def _write(self, values: dict[str, Any]) -> None:
        self.last_write = time.monotonic()
        self.last_phase = values.get("phase")
        with self.sessions.begin() as session:
            session.execute(update(Run).where(Run.id == self.run_id, Run.status == RunStatus.running.value)
                            .values(**values))
