"""The FastAPI application: ``create_app(settings)`` wires storage, the job manager and the routers.

At start-up the app applies the database migrations, marks runs interrupted by an earlier stop as
failed, and starts the job manager. At shutdown it kills running workers and marks their runs failed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from api.db import make_engine, make_session_factory, upgrade_database
from api.errors import install_error_handlers
from api.jobs import JobManager
from api.routers import datasets, health, plans, runs, scenarios
from api.settings import Settings

logger = logging.getLogger(__name__)

DESCRIPTION = """Balanced, explainable sales territory plans over HTTP.

Upload accounts and reps as a dataset, describe planning rules in a scenario, start a run, poll it, then
read the plan: summary, assignments (JSON pages or CSV), territories (GeoJSON), metrics and an offline
HTML map. Every route except /health and /version needs an API key in the X-API-Key header.
"""

# Room for the multipart framing and form fields around the two files.
MULTIPART_OVERHEAD_BYTES = 1_000_000


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    jobs = JobManager(settings, sessions)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upgrade_database(engine)
        jobs.start()
        logger.info("territory service started: database %s, %d worker slot(s), upload limit %d bytes, %d rows",
                    engine.url.render_as_string(hide_password=True), settings.workers, settings.max_upload_bytes,
                    settings.max_rows)
        try:
            yield
        finally:
            jobs.stop()
            engine.dispose()
            logger.info("territory service stopped")

    app = FastAPI(title="Territory optimizer", version=health.API_VERSION, description=DESCRIPTION,
                  lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.jobs = jobs

    install_error_handlers(app)
    app.middleware("http")(_body_limit(2 * settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES))
    for module in (datasets, scenarios, runs, plans, health):
        app.include_router(module.router)
    return app


def _body_limit(limit: int) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """Reject a request whose declared body is larger than two files at the upload limit, before reading it."""

    async def check(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            logger.info("%s %s rejected (413): body of %s bytes", request.method, request.url.path, declared)
            return JSONResponse({"detail": f"the request body is larger than {limit:,} bytes (two files at the "
                                           "upload limit, setting TERRITORY_MAX_UPLOAD_BYTES)"}, status_code=413)
        return await call_next(request)

    return check
