"""Geographic scenarios: a unit layer (or accounts whose ZIP codes become units) with the planning settings.

The form fields take the values of the options of `territory districts`, in the same syntax. The
library checks the files and settings at upload, so a mistake gets 422 with the command's message.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select

from api.deps import Planner, SalesOps, SessionDep, SettingsDep
from api.errors import ApiError, get_or_404
from api.geo import GeoUpload, validate_and_store_geo
from api.models import GeoFile, GeoScenario, Run
from api.schemas import DATABASE_MAX_ID, NO_NUL_PATTERN, ErrorPublic, GeoScenarioPublic, ValidationReport
from api.uploads import read_limited, safe_filename

router = APIRouter(prefix="/geo/scenarios", tags=["geographic"])

GeoScenarioId = Annotated[int, Path(ge=1, le=DATABASE_MAX_ID, description="geographic scenario id")]
DEFAULT_FILENAMES = {"units": "units.geojson", "accounts": "accounts.csv", "reps": "reps.csv",
                     "unit_values": "unit_values.csv", "current": "current.csv"}


ShortText = Annotated[str | None, Form(max_length=200, pattern=NO_NUL_PATTERN,
                                       description="name, shown in map titles; default: the unit file's name")]
ColumnName = Annotated[str | None, Form(max_length=200, pattern=NO_NUL_PATTERN,
                                        description="id column of the unit layer, also the key of unit_values and "
                                                    "current (default: unit_id or id)")]
LayerName = Annotated[str | None, Form(max_length=200, pattern=NO_NUL_PATTERN,
                                       description="layer of the unit file that contains the units")]
Bands = Annotated[list[str], Form(description="balance band NAME=TOLERANCE% (hard) or NAME=soft; repeat the field "
                                              "for several")]
Metrics = Annotated[list[str], Form(description="metric taken from a column, NAME=COLUMN or NAME=COLUMN:UNIT; "
                                                "repeat the field for several")]
UnitPairs = Annotated[list[str], Form(description="two unit ids UNIT_A:UNIT_B; repeat the field for several")]
Locks = Annotated[list[str], Form(description="a unit kept in a territory, UNIT=REP (a territory id T1..Tk "
                                              "without reps); repeat the field for several")]
ColumnMaps = Annotated[list[str], Form(description="NAME=HEADER: read schema column NAME from the file's column "
                                                   "HEADER; repeat the field for several")]


def geo_scenario_public(session: SessionDep, scenario: GeoScenario) -> GeoScenarioPublic:
    files = dict(session.execute(select(GeoFile.role, GeoFile.filename)
                                 .where(GeoFile.geo_scenario_id == scenario.id).order_by(GeoFile.id)).all())
    return GeoScenarioPublic(id=scenario.id, name=scenario.name, created_at=scenario.created_at, files=files,
                             settings=scenario.settings, report=scenario.report)


@router.post(
    "", status_code=201, response_model=GeoScenarioPublic, summary="Upload a unit layer and geographic settings",
    responses={413: {"model": ErrorPublic, "description": "a file is larger than the upload limit"},
               422: {"model": ValidationReport, "description": "invalid files or settings: the message of "
                                                               "`territory districts`, nothing stored"}},
)
async def create_geo_scenario(
    caller: SalesOps, session: SessionDep, settings: SettingsDep, response: Response,
    units: Annotated[UploadFile | None, File(description="unit layer: GeoJSON, GeoPackage, zipped Shapefile or "
                                                         "TopoJSON; without it the accounts' ZIP codes become "
                                                         "units")] = None,
    accounts: Annotated[UploadFile | None, File(description="accounts file, as for datasets")] = None,
    reps: Annotated[UploadFile | None, File(description="reps file: one territory per rep; or give "
                                                        "territories")] = None,
    unit_values: Annotated[UploadFile | None, File(description="table of values keyed by unit id")] = None,
    current: Annotated[UploadFile | None, File(description="current plan: unit_id and territory_id (or "
                                                           "rep_id)")] = None,
    name: ShortText = None,
    territories: Annotated[int | None, Form(ge=1, le=10_000, description="number of territories without reps")] = None,
    band: Bands = [],  # noqa: B006 - FastAPI copies defaults per request
    metric: Metrics = [],  # noqa: B006
    unit_id: ColumnName = None,
    layer: LayerName = None,
    priority: Annotated[Literal["compactness", "balance"], Form(description="what comes first inside the hard "
                                                                            "bands")] = "compactness",
    weight: Annotated[str, Form(max_length=200, pattern=NO_NUL_PATTERN,
                                description="metric weighting each unit's distance; units counts each once")] = "units",
    adjacency: Annotated[Literal["rook", "queen"], Form(description="queen makes units touching at a corner "
                                                                   "neighbours")] = "rook",
    snap_km: Annotated[float, Form(ge=0, le=1000, allow_inf_nan=False,
                                   description="units closer than this many km are neighbours")] = 0.0,
    connector: UnitPairs = [],  # noqa: B006
    barrier: UnitPairs = [],  # noqa: B006
    lock: Locks = [],  # noqa: B006
    move_penalty: Annotated[float, Form(ge=0, allow_inf_nan=False, description="objective charge per unit that "
                                                                               "leaves its current territory")] = 0.0,
    time_limit_s: Annotated[float, Form(gt=0, allow_inf_nan=False, description="default seconds of a run, reading "
                                                                               "and writing included")] = 60.0,
    seed: Annotated[int, Form(ge=0, le=2**31 - 1, description="solver random seed")] = 0,
    workers: Annotated[int, Form(ge=1, le=16, description="solver threads")] = 2,
    account_column: ColumnMaps = [],  # noqa: B006
    rep_column: ColumnMaps = [],  # noqa: B006
    skip_bad_rows: Annotated[bool, Form(description="drop invalid account rows instead of rejecting")] = False,
) -> GeoScenarioPublic:
    """Check the files and settings as `territory districts` does, and store them for the runs to read again."""
    files = {}
    for role, upload in (("units", units), ("accounts", accounts), ("reps", reps), ("unit_values", unit_values),
                         ("current", current)):
        if upload is not None:
            files[role] = (safe_filename(upload.filename, DEFAULT_FILENAMES[role]),
                           await read_limited(upload, role, settings.max_upload_bytes))
    scenario_name = (name or "").strip() or files.get("units", ("geographic plan",))[0]
    form = {"name": scenario_name, "territories": territories, "band": band, "metric": metric, "unit_id": unit_id,
            "layer": layer, "priority": priority, "weight": weight, "adjacency": adjacency, "snap_km": snap_km,
            "connector": connector, "barrier": barrier, "lock": lock, "move_penalty": move_penalty,
            "time_limit_s": time_limit_s, "seed": seed, "workers": workers, "account_column": account_column,
            "rep_column": rep_column, "skip_bad_rows": skip_bad_rows}
    upload = GeoUpload(name=scenario_name, files=files, settings=form)
    # Reading the layer and building its graph takes seconds for thousands of units, so off the event loop.
    scenario = await run_in_threadpool(validate_and_store_geo, session, upload, settings, caller.key_id)
    session.commit()
    response.headers["Location"] = f"/geo/scenarios/{scenario.id}"
    return geo_scenario_public(session, scenario)


@router.get("", response_model=list[GeoScenarioPublic], summary="List geographic scenarios")
def list_geo_scenarios(caller: Planner, session: SessionDep) -> list[GeoScenarioPublic]:
    return [geo_scenario_public(session, scenario)
            for scenario in session.scalars(select(GeoScenario).order_by(GeoScenario.id))]


@router.get("/{geo_scenario_id}", response_model=GeoScenarioPublic, summary="Get a geographic scenario",
            responses={404: {"model": ErrorPublic}})
def get_geo_scenario(geo_scenario_id: GeoScenarioId, caller: Planner, session: SessionDep) -> GeoScenarioPublic:
    return geo_scenario_public(session, get_or_404(session, GeoScenario, geo_scenario_id, "geographic scenario"))


@router.delete("/{geo_scenario_id}", status_code=204, summary="Delete a geographic scenario that has no runs",
               responses={404: {"model": ErrorPublic}, 409: {"model": ErrorPublic}})
def delete_geo_scenario(geo_scenario_id: GeoScenarioId, caller: SalesOps, session: SessionDep) -> None:
    scenario = get_or_404(session, GeoScenario, geo_scenario_id, "geographic scenario")
    runs = session.scalar(select(func.count()).select_from(Run).where(Run.geo_scenario_id == geo_scenario_id))
    if runs:
        raise ApiError(409, f"geographic scenario {geo_scenario_id} has {runs} run(s); its plans depend on it, so it "
                            "is kept")
    session.delete(scenario)
    session.commit()
