"""Datasets: uploaded accounts and reps files, validated by the library before anything is stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select

from api.deps import Planner, SalesOps, SessionDep, SettingsDep
from api.errors import ApiError, get_or_404
from api.models import Dataset, Scenario
from api.schemas import DATABASE_MAX_ID, NO_NUL_PATTERN, DatasetPublic, ErrorPublic, ValidationReport
from api.uploads import Upload, parse_column_map, read_limited, safe_filename, validate_and_store

router = APIRouter(prefix="/datasets", tags=["datasets"])

DatasetId = Annotated[int, Path(ge=1, le=DATABASE_MAX_ID, description="dataset id")]
ColumnMap = Annotated[list[str], Form(description="NAME=HEADER: read schema column NAME from the file's column "
                                                  "HEADER (repeat the field for several columns)")]


@router.post(
    "", status_code=201, response_model=DatasetPublic,
    summary="Upload and validate accounts and reps",
    responses={413: {"model": ErrorPublic, "description": "a file is larger than the upload limit"},
               422: {"model": ValidationReport, "description": "invalid input: every problem, nothing stored"}},
)
async def create_dataset(
    caller: SalesOps, session: SessionDep, settings: SettingsDep, response: Response,
    accounts: Annotated[UploadFile, File(description="accounts file: .csv, .xlsx, .parquet or .geojson (points)")],
    reps: Annotated[UploadFile, File(description="reps file: .csv, .xlsx, .parquet or .geojson (points)")],
    name: Annotated[str | None, Form(max_length=200, pattern=NO_NUL_PATTERN,
                                     description="dataset name; default: the accounts file name")] = None,
    skip_bad_rows: Annotated[bool, Form(description="drop invalid account rows and list them instead of rejecting "
                                                    "the upload; problems in the reps file always reject it")] = False,
    account_column: ColumnMap = [],  # noqa: B006 - FastAPI copies defaults per request
    rep_column: ColumnMap = [],  # noqa: B006
) -> Dataset:
    """Validate both files with the same rules as `territory plan`. When any row is invalid the response is
    422 with every problem and nothing is stored, unless skip_bad_rows is set and all problems are in
    account rows: then the dataset is stored without those rows and lists them in skipped_issues."""
    accounts_filename = safe_filename(accounts.filename, "accounts.csv")
    upload = Upload(
        name=(name or "").strip() or accounts_filename,
        accounts_filename=accounts_filename,
        accounts=await read_limited(accounts, "accounts", settings.max_upload_bytes),
        reps_filename=safe_filename(reps.filename, "reps.csv"),
        reps=await read_limited(reps, "reps", settings.max_upload_bytes),
        account_columns=parse_column_map(account_column, "account_column"),
        rep_columns=parse_column_map(rep_column, "rep_column"),
        skip_bad_rows=skip_bad_rows,
    )
    # Validation locates every row in the gazetteer: seconds for thousands of rows, so off the event loop.
    dataset = await run_in_threadpool(validate_and_store, session, upload, settings.max_rows)
    session.commit()
    response.headers["Location"] = f"/datasets/{dataset.id}"
    return dataset


@router.get("", response_model=list[DatasetPublic], summary="List datasets")
def list_datasets(caller: Planner, session: SessionDep) -> list[Dataset]:
    return list(session.scalars(select(Dataset).order_by(Dataset.id)))


@router.get("/{dataset_id}", response_model=DatasetPublic, summary="Get a dataset and its validation report",
            responses={404: {"model": ErrorPublic}})
def get_dataset(dataset_id: DatasetId, caller: Planner, session: SessionDep) -> Dataset:
    dataset = get_or_404(session, Dataset, dataset_id, "dataset")
    return dataset


@router.delete("/{dataset_id}", status_code=204, summary="Delete a dataset that no scenario uses",
               responses={404: {"model": ErrorPublic}, 409: {"model": ErrorPublic}})
def delete_dataset(dataset_id: DatasetId, caller: SalesOps, session: SessionDep) -> None:
    dataset = get_or_404(session, Dataset, dataset_id, "dataset")
    used_by = session.scalar(select(func.count()).select_from(Scenario).where(Scenario.dataset_id == dataset_id))
    if used_by:
        raise ApiError(409, f"dataset {dataset_id} is used by {used_by} scenario(s); delete them first")
    session.delete(dataset)
    session.commit()
