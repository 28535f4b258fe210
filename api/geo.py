"""Geographic scenarios in the service: check uploaded files and settings with the library, store them, and
turn them back into a GeoRequest for each run.

The settings are stored as the caller sent them (bands as population=1%, locks as UNIT=REP, ...) and go
through the parsers of optimizer.geo.request at upload and at every run, so a mistake gets the message
`territory districts` gives.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from api.errors import ApiError
from api.models import GeoFile, GeoScenario, utc_now
from api.settings import Settings
from api.uploads import parse_column_map
from optimizer.geo.instance import GeoInstance, build_geo_instance
from optimizer.geo.request import GeoRequest, parse_band, parse_locks, parse_metric, parse_unit_pair
from optimizer.inputs import read_table
from optimizer.scenario import Scenario, scenario_from_dict

logger = logging.getLogger(__name__)

FILE_ROLES = ("units", "accounts", "reps", "unit_values", "current")
TABLE_ROLES = ("accounts", "reps", "unit_values", "current")   # read as tables, so their rows are counted


@dataclass
class GeoUpload:
    """One geographic scenario as received: its files by role, (file name, content), and its settings."""

    name: str
    files: dict[str, tuple[str, bytes]]
    settings: dict[str, Any]


@contextmanager
def geo_files_on_disk(files: dict[str, tuple[str, bytes]]) -> Iterator[dict[str, Path]]:
    """Write each (file name, content) into a temporary folder of its own and yield the paths by role.

    The library reads files by path, and the extension selects the format. The folder is removed afterwards.
    """
    with tempfile.TemporaryDirectory(prefix="territory-geo-") as folder:
        paths = {}
        for role, (name, content) in files.items():
            path = Path(folder) / role / name
            path.parent.mkdir()
            path.write_bytes(content)
            paths[role] = path
        yield paths


def geo_request(settings: dict[str, Any], paths: dict[str, Path]) -> GeoRequest:
    """Build the GeoRequest of stored settings and files, or raise ConfigError as `territory districts` does."""
    rules = settings.get("rules") or {}
    scenario = scenario_from_dict({**rules, "name": settings["name"]}, source="rules") if rules else Scenario()
    request = GeoRequest(
        units=paths.get("units"), layer=settings.get("layer"), unit_id=settings.get("unit_id"),
        unit_values=paths.get("unit_values"),
        metrics=[parse_metric(text, "metric") for text in settings.get("metric", [])],
        accounts=paths.get("accounts"), reps=paths.get("reps"), territories=settings.get("territories"),
        bands=[parse_band(text, "band") for text in settings.get("band", [])],
        priority=settings.get("priority", "compactness"), weight=settings.get("weight", "units"),
        adjacency=settings.get("adjacency", "rook"), snap_km=settings.get("snap_km", 0.0),
        connectors=[parse_unit_pair(text, "connector") for text in settings.get("connector", [])],
        barriers=[parse_unit_pair(text, "barrier") for text in settings.get("barrier", [])],
        locks=parse_locks(settings.get("lock", []), "lock"), current=paths.get("current"),
        move_penalty=settings.get("move_penalty", 0.0), time_limit_s=settings.get("time_limit_s", 60.0),
        seed=settings.get("seed", 0), workers=settings.get("workers", 2), scenario=scenario,
        account_columns=parse_column_map(settings.get("account_column", []), "account_column") or None,
        rep_columns=parse_column_map(settings.get("rep_column", []), "rep_column") or None,
        skip_bad_rows=settings.get("skip_bad_rows", False), name=settings["name"],
    )
    request.check()
    return request


def validate_and_store_geo(session: Session, upload: GeoUpload, settings: Settings,
                           created_by: int | None) -> GeoScenario:
    """Check the upload with the library and add it as a geographic scenario.

    Raises InputError or ConfigError (422) for files or settings the library rejects, and ApiError(422)
    for a table or layer above the row limit or a time limit above the server's.
    """
    time_limit_s = upload.settings.get("time_limit_s", 60.0)
    if time_limit_s > settings.max_time_limit_s:
        raise ApiError(422, f"time_limit_s is {time_limit_s:g} s; this server allows at most "
                            f"{settings.max_time_limit_s:g} s (setting TERRITORY_MAX_TIME_LIMIT_S)")
    with geo_files_on_disk(upload.files) as paths:
        for role in TABLE_ROLES:
            if role in paths:
                _check_rows(len(read_table(paths[role])), paths[role].name, settings.max_rows)
        request = geo_request(upload.settings, paths)
        instance = build_geo_instance(request)
    _check_rows(instance.problem.unit_count, f"the unit layer {upload.files.get('units', ('ZIP units',))[0]}",
                settings.max_rows, kind="units")

    scenario = GeoScenario(name=upload.name, created_at=utc_now(), created_by=created_by, settings=upload.settings,
                           report=validation_report(instance))
    session.add(scenario)
    session.flush()
    for role, (filename, content) in upload.files.items():
        session.add(GeoFile(geo_scenario_id=scenario.id, role=role, filename=filename, content=content))
    logger.info("stored geographic scenario %d (%s): %d units, %d territories, files %s", scenario.id, scenario.name,
                instance.problem.unit_count, len(instance.territory_ids), ", ".join(sorted(upload.files)))
    return scenario


def _check_rows(count: int, name: str, limit: int, kind: str = "data rows") -> None:
    if count > limit:
        raise ApiError(422, f"{name} has {count:,} {kind}; the limit is {limit:,} per file (setting TERRITORY_MAX_ROWS)")


def validation_report(instance: GeoInstance) -> dict[str, Any]:
    """Return what checking the upload found: units, territories, metrics, and the layer and graph summaries."""
    report: dict[str, Any] = {
        "units": instance.problem.unit_count,
        "territories": list(instance.territory_ids),
        "metrics": {metric.name: metric.unit for metric in instance.metrics},
        "unit_layer": instance.layer.report.summary(),
        "adjacency": instance.adjacency.summary(),
    }
    if instance.accounts is not None:
        report.update(accounts=len(instance.accounts), accounts_outside_units=len(instance.accounts_outside),
                      accounts_not_located=len(instance.accounts_not_located))
    return report
