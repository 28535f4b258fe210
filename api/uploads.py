"""Validating uploaded accounts and reps files with the library and storing them as a dataset.

Used by the datasets router and by the demo loader. A dataset is stored only when load_inputs accepts
it (with skip_bad_rows, when every problem is in account rows that it could drop).
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import UploadFile
from sqlalchemy.orm import Session

from api.errors import ApiError, issue_dict
from api.models import Dataset, utc_now
from optimizer.inputs import check_column_maps, load_inputs, read_table
from optimizer.pipeline import check_not_empty

logger = logging.getLogger(__name__)

_UNSAFE_FILENAME = re.compile(r"[\x00-\x1f/\\]")


@dataclass
class Upload:
    """One dataset upload as received: the two files and how to read them."""

    name: str
    accounts_filename: str
    accounts: bytes
    reps_filename: str
    reps: bytes
    account_columns: dict[str, str] = field(default_factory=dict)
    rep_columns: dict[str, str] = field(default_factory=dict)
    skip_bad_rows: bool = False


async def read_limited(file: UploadFile, what: str, limit: int) -> bytes:
    """Return an uploaded file's content; raise ApiError(413) when it is larger than `limit` bytes."""
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise ApiError(413, f"the {what} file is larger than the upload limit of {limit:,} bytes "
                            "(setting TERRITORY_MAX_UPLOAD_BYTES)")
    return content


def safe_filename(filename: str | None, default: str) -> str:
    """Keep the base name and extension of an uploaded file (the extension selects the format)."""
    base = _UNSAFE_FILENAME.sub("_", (filename or "").replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    return base[-200:] if base else default


def parse_column_map(values: list[str], field_name: str) -> dict[str, str]:
    """Turn NAME=HEADER form values into {NAME: HEADER}, raising a 422 for any other shape."""
    mapping: dict[str, str] = {}
    for value in values:
        name, separator, header = value.partition("=")
        if not separator or not name.strip() or not header.strip():
            raise ApiError(422, f"{field_name} {value!r} is not NAME=HEADER; send for example "
                                f"{field_name}=account_id=Customer ID")
        mapping[name.strip()] = header.strip()
    return mapping


@contextmanager
def files_on_disk(accounts: tuple[str, bytes], reps: tuple[str, bytes]) -> Iterator[tuple[Path, Path]]:
    """Write (file name, content) pairs into a temporary folder and yield the accounts and reps paths.

    The library reads files by path. The folder is removed afterwards.
    """
    with tempfile.TemporaryDirectory(prefix="territory-files-") as folder:
        paths = []
        for kind, (name, content) in (("accounts", accounts), ("reps", reps)):
            path = Path(folder) / kind / name
            path.parent.mkdir()
            path.write_bytes(content)
            paths.append(path)
        yield paths[0], paths[1]


def validate_and_store(session: Session, upload: Upload, max_rows: int) -> Dataset:
    """Validate `upload` with the library and add it as a dataset; raise InputError or ApiError(422) if invalid."""
    check_column_maps(upload.account_columns or None, upload.rep_columns or None)
    with files_on_disk((upload.accounts_filename, upload.accounts),
                       (upload.reps_filename, upload.reps)) as (accounts_path, reps_path):
        for path, column_map in ((accounts_path, upload.account_columns), (reps_path, upload.rep_columns)):
            rows = len(read_table(path, column_map=column_map or None))
            if rows > max_rows:
                raise ApiError(422, f"{path.name} has {rows:,} data rows; the limit is {max_rows:,} rows per file "
                                    "(setting TERRITORY_MAX_ROWS)")
        inputs = load_inputs(accounts_path, reps_path, account_columns=upload.account_columns or None,
                             rep_columns=upload.rep_columns or None, skip_bad_rows=upload.skip_bad_rows)
        check_not_empty(inputs)

    dataset = Dataset(
        name=upload.name, created_at=utc_now(),
        accounts_filename=upload.accounts_filename, reps_filename=upload.reps_filename,
        accounts_file=upload.accounts, reps_file=upload.reps,
        account_columns=upload.account_columns, rep_columns=upload.rep_columns, skip_bad_rows=upload.skip_bad_rows,
        account_count=len(inputs.accounts), rep_count=len(inputs.reps),
        skipped_issues=[issue_dict(issue) for issue in inputs.skipped],
        rep_ids=[str(rep_id) for rep_id in inputs.reps["rep_id"]],
    )
    session.add(dataset)
    session.flush()
    logger.info("stored dataset %d (%s): %d accounts, %d reps, %d skipped problem(s)", dataset.id, dataset.name,
                dataset.account_count, dataset.rep_count, len(inputs.skipped))
    return dataset
