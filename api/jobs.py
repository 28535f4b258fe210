"""Background solves: one worker process per run, started, watched and ended by a JobManager thread.

A run's life in the runs table:

    queued --(manager starts a worker)--> running --(worker's final transaction)--> succeeded | failed | infeasible
       \\--------------------(cancel)--------------------> cancelled   (the worker process is killed)

Every change of status is a conditional UPDATE (``WHERE status IN (...)``), so a cancel and a worker's
final transaction cannot both win. The worker writes its plan and the run's final status in one
transaction (api.worker). When the process dies first, the database rolls that transaction back and the
manager marks the run failed. At start-up, runs still "running" from an earlier server process are marked
failed and queued runs are started again. The manager assumes it is the only one serving its database:
run one server process per database.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.models import ACTIVE_RUN_STATUSES, Run, RunStatus, utc_now
from api.settings import Settings

logger = logging.getLogger(__name__)

# Workers are spawned, not forked: a fork would copy the server's threads, event loop and database connections.
_CONTEXT = multiprocessing.get_context("spawn")
KILL_WAIT_S = 5.0


@dataclass
class _Worker:
    run_id: int
    process: BaseProcess
    deadline: float  # time.monotonic() after which the worker is killed


def finish_run(session: Session, run_id: int, status: RunStatus, error: str | None = None, *,
               from_statuses: tuple[str, ...] = ACTIVE_RUN_STATUSES, **values: object) -> bool:
    """Set the final status of a run still in one of `from_statuses`; return whether it was changed."""
    result = session.execute(
        update(Run).where(Run.id == run_id, Run.status.in_(from_statuses))
        .values(status=status.value, error=error, finished_at=utc_now(), **values)
    )
    return result.rowcount == 1


class JobManager:
    """Start queued runs in worker processes, at most ``settings.workers`` at a time."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]):
        self.settings = settings
        self.sessions = sessions
        self._workers: dict[int, _Worker] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("the job manager is already running")
        self._stopping.clear()
        self.recover_interrupted_runs()
        self._thread = threading.Thread(target=self._loop, name="territory-jobs", daemon=True)
        self._thread.start()
        logger.info("job manager started with %d worker slot(s)", self.settings.workers)

    def stop(self) -> None:
        """Kill every worker and mark its run failed; queued runs stay queued for the next start."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            workers = list(self._workers.values())
            self._workers.clear()
        for worker in workers:
            _kill(worker.process)
            with self.sessions.begin() as session:
                if finish_run(session, worker.run_id, RunStatus.failed,
                              "the server stopped before the run finished; start the run again"):
                    logger.warning("run %d failed: the server stopped during its solve", worker.run_id)
        logger.info("job manager stopped")

    def notify(self) -> None:
        """Wake the manager to look for queued runs now."""
        self._wake.set()

    def recover_interrupted_runs(self) -> None:
        with self.sessions.begin() as session:
            running = session.scalars(select(Run.id).where(Run.status == RunStatus.running.value)).all()
            for run_id in running:
                finish_run(session, run_id, RunStatus.failed,
                           "the server stopped before the run finished; start the run again",
                           from_statuses=(RunStatus.running.value,))
                logger.warning("run %d failed: it was running when the server stopped", run_id)
            queued = session.scalars(select(Run.id).where(Run.status == RunStatus.queued.value)).all()
        if queued:
            logger.info("%d queued run(s) from before the restart will start: %s", len(queued), list(queued))

    def cancel(self, run_id: int) -> bool:
        """Cancel a queued or running run and kill its worker; return False when the run had already ended."""
        with self.sessions.begin() as session:
            cancelled = finish_run(session, run_id, RunStatus.cancelled, "cancelled on request")
        if not cancelled:
            return False
        with self._lock:
            worker = self._workers.pop(run_id, None)
        if worker is not None:
            _kill(worker.process)
        logger.info("run %d cancelled%s", run_id, f"; worker {worker.process.pid} killed" if worker else "")
        return True

    def worker_pid(self, run_id: int) -> int | None:
        with self._lock:
            worker = self._workers.get(run_id)
        return worker.process.pid if worker else None

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._reap_workers()
                self._start_queued_runs()
            except Exception:  # noqa: BLE001 - the manager must outlive a database hiccup
                logger.exception("job manager pass failed; trying again in %.1f s", self.settings.poll_interval_s)
            self._wake.wait(self.settings.poll_interval_s)
            self._wake.clear()

    def _reap_workers(self) -> None:
        now = time.monotonic()
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            if worker.process.is_alive() and now <= worker.deadline:
                continue
            if worker.process.is_alive():
                _kill(worker.process)
                reason = (f"timed out: the worker ran {self.settings.run_grace_s:g} s past the time limit "
                          "and was killed")
            else:
                worker.process.join()
                reason = _exit_reason(worker.process.exitcode)
            with self._lock:
                self._workers.pop(worker.run_id, None)
            with self.sessions.begin() as session:
                # Only a run the worker left active changes here; a worker that ended normally set the status.
                if finish_run(session, worker.run_id, RunStatus.failed, reason):
                    logger.error("run %d failed: %s", worker.run_id, reason)

    def _start_queued_runs(self) -> None:
        with self._lock:
            free = self.settings.workers - len(self._workers)
        if free <= 0 or self._stopping.is_set():
            return
        with self.sessions() as session:
            queued = session.execute(
                select(Run.id, Run.time_limit_s).where(Run.status == RunStatus.queued.value).order_by(Run.id).limit(free)
            ).all()
        for run_id, time_limit_s in queued:
            self._start_worker(run_id, time_limit_s)

    def _start_worker(self, run_id: int, time_limit_s: float) -> None:
        from api.worker import run_worker

        with self.sessions.begin() as session:
            claimed = session.execute(
                update(Run).where(Run.id == run_id, Run.status == RunStatus.queued.value)
                .values(status=RunStatus.running.value, started_at=utc_now(), phase="starting")
            ).rowcount == 1
        if not claimed:
            return  # cancelled between the query and now
        process = _CONTEXT.Process(target=run_worker, args=(self.settings.database_url, run_id, logging.getLogger().level),
                                   name=f"territory-run-{run_id}", daemon=True)
        process.start()
        deadline = time.monotonic() + time_limit_s + self.settings.run_grace_s
        with self._lock:
            self._workers[run_id] = _Worker(run_id, process, deadline)
        with self.sessions.begin() as session:
            session.execute(update(Run).where(Run.id == run_id).values(worker_pid=process.pid))
        logger.info("run %d started in worker process %d (time limit %g s)", run_id, process.pid, time_limit_s)


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"the solve worker was killed by {name} before it wrote a plan; no plan was stored"
    return f"the solve worker exited with code {exitcode} before it wrote a plan; no plan was stored"


def _kill(process: BaseProcess) -> None:
    """Stop a worker: SIGTERM, then SIGKILL if it is still alive after KILL_WAIT_S."""
    if not process.is_alive():
        process.join()
        return
    process.terminate()
    process.join(KILL_WAIT_S)
    if process.is_alive() and process.pid is not None:
        os.kill(process.pid, signal.SIGKILL)
        process.join()
