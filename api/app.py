"""The FastAPI application: ``create_app(settings)`` wires storage, the job manager and the routers.

At start-up the app applies the database migrations, marks runs interrupted by an earlier stop as
failed, and starts the job manager. At shutdown it kills running workers and marks their runs failed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from api.db import make_engine, make_session_factory, upgrade_database
from api.errors import install_error_handlers
from api.jobs import JobManager
from api.routers import datasets, geo_plans, geo_runs, geo_scenarios, health, plans, proposals, runs, scenarios
from api.settings import Settings

logger = logging.getLogger(__name__)

DESCRIPTION = """Balanced, explainable sales territory plans over HTTP.

Upload accounts and reps as a dataset, describe planning rules in a scenario, start a run, poll it, then
read the plan: summary, assignments (JSON pages or CSV), territories (GeoJSON), metrics and an offline
HTML map. Geographic mode (territories of whole units: counties, ZIP areas, custom polygons) follows the
same steps under /geo: upload a unit layer with its settings, start a run, poll it under /runs, read the plan. Every route except /health and /version needs an API key in the X-API-Key header.
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
    # The middleware added last runs first: the size limit applies before a JSON body is read whole.
    app.add_middleware(DuplicateJsonKeys)
    app.add_middleware(BodySizeLimit, limit=2 * settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES)
    for module in (datasets, scenarios, runs, plans, proposals, geo_scenarios, geo_runs, geo_plans, health):
        app.include_router(module.router)
    return app


class BodySizeLimit:
    """Reject a request body larger than `limit` bytes with 413.

    A declared Content-Length over the limit is rejected before reading. A chunked body is rejected as
    soon as the bytes read pass the limit.
    """

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > self.limit:
            await self._reject(scope, receive, send, declared)
            return

        received = 0
        too_large = False
        response_started = False

        async def counted_receive():
            # Past the limit the app receives a client disconnect, so it stops reading and its response is dropped.
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message) -> None:
            nonlocal response_started
            if too_large and not response_started:
                return
            response_started = True
            await send(message)

        await self.app(scope, counted_receive, guarded_send)
        if too_large and not response_started:
            await self._reject(scope, receive, send, f"more than {self.limit:,}")

    async def _reject(self, scope, receive, send, size: str) -> None:
        logger.info("%s %s rejected (413): body of %s bytes", scope.get("method"), scope.get("path"), size)
        response = JSONResponse({"detail": f"the request body is larger than {self.limit:,} bytes (two files at the "
                                           "upload limit, setting TERRITORY_MAX_UPLOAD_BYTES)"}, status_code=413)
        await response(scope, receive, send)


class DuplicateJsonKeys:
    """Reject a JSON body that gives one key twice in an object with 422.

    JSON parsers keep the last of two equal keys, so {"moves": {"A-1": "R1", "A-1": "R2"}} would drop a
    move without a word. The body is read whole, checked, and passed on unchanged. A body that is not
    valid JSON is left to the route, which returns 422 with the parser's message.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        # FastAPI reads a body as JSON for application/json and for every type ending in +json.
        if not (media_type == b"application/json" or (media_type.startswith(b"application/")
                                                       and media_type.endswith(b"+json"))):
            await self.app(scope, receive, send)
            return
        chunks, message = [], {"more_body": True}
        while message.get("more_body", False):
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
        body = b"".join(chunks)
        repeated = _repeated_key(body)
        if repeated is not None:
            logger.info("%s %s rejected (422): JSON key %r given twice", scope.get("method"), scope.get("path"),
                        repeated)
            key = repeated if len(repeated) <= 200 else f"{repeated[:200]}... ({len(repeated):,} characters)"
            response = JSONResponse({"detail": f"the JSON body gives the key {key!r} twice in one object, and "
                                               "the later value would replace the earlier; give each key once"},
                                    status_code=422)
            await response(scope, receive, send)
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _repeated_key(body: bytes) -> str | None:
    """Return the first key that an object of the JSON `body` gives twice, or None (also for invalid JSON)."""
    found: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict:
        keys = [key for key, _ in items]
        if not found and len(set(keys)) < len(keys):
            found.append(next(key for key in keys if keys.count(key) > 1))
        return dict(items)

    try:
        json.loads(body, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return None
    return found[0] if found else None
