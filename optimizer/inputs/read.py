"""Reading input tables (CSV, Excel, Parquet, GeoJSON) into frames of text cells.

Every cell is read as text, so that a postal code such as 02116 never passes through a number and
loses its leading zero. Numbers that a format stores as numbers (Excel, Parquet, GeoJSON) are written
back without a spurious ``.0``: an Excel cell 2116 or 2116.0 becomes "2116". Blank cells become "".

The returned frame has one extra int column ``row`` that gives the row's place in the file, as the
user sees it:

- CSV and Excel: the spreadsheet row, so the header is row 1 and the first data row is row 2.
  Blank rows are dropped, but they still count.
- Parquet: the 1-based record number.
- GeoJSON: the 1-based feature number. Point geometries become the columns lat and lon (they replace
  properties of those names), and a null geometry leaves both blank. Any other geometry is an
  error of that row, which read_table does not raise. It stores a RowIssue in
  ``frame.attrs["row_issues"]``, where load_inputs picks it up with the other row errors.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from optimizer.errors import InputError, RowIssue

logger = logging.getLogger(__name__)

SUPPORTED_FORMATS = "CSV (.csv, .txt), Excel (.xlsx), Parquet (.parquet), GeoJSON (.geojson, .json)"
ROW_ISSUES_ATTR = "row_issues"
# Frame attribute naming the sheet read, set only for workbooks with several sheets.
SHEET_ATTR = "sheet"


def read_table(path: str | Path, *, column_map: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read a table file into a frame of text cells with a ``row`` column of source row numbers.

    ``column_map`` renames columns, as {canonical_name: header_in_file}. Raises InputError when the
    format is not supported, the file cannot be parsed, a mapped header is missing, or two columns
    end up with the same name.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    row_issues: list[RowIssue] = []
    if not path.is_file():
        problem = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise InputError([RowIssue(str(path), None, "", "", f"{problem}; check the path")],
                         summary="cannot read the input")
    if suffix in (".csv", ".txt"):
        header, rows = _read_csv(path)
    elif suffix == ".xlsx":
        header, rows, sheet = _read_excel(path)
    elif suffix == ".parquet":
        header, rows = _read_parquet(path)
    elif suffix in (".geojson", ".json"):
        header, rows, row_issues = _read_geojson(path)
    else:
        shown = suffix or "(no extension)"
        raise InputError([RowIssue(path.name, None, "", "", f"has an unsupported format {shown}; use {SUPPORTED_FORMATS}")])

    header = _apply_column_map(path.name, list(header), column_map or {})
    frame = pd.DataFrame([cells for _, cells in rows], columns=header, dtype=str)
    frame["row"] = pd.Series([number for number, _ in rows], index=frame.index, dtype="int64")
    frame.attrs[ROW_ISSUES_ATTR] = row_issues
    if suffix == ".xlsx" and sheet:
        frame.attrs[SHEET_ATTR] = sheet
    logger.info("Read %d rows and %d columns from %s", len(frame), len(header), path)
    return frame


Rows = list[tuple[int, list[str]]]


def _read_csv(path: Path) -> tuple[list[str], Rows]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            records = list(csv.reader(stream))
    except UnicodeDecodeError as error:
        raise InputError([RowIssue(path.name, None, "", "", f"is not UTF-8 text ({error.reason} at byte {error.start}); save it as CSV UTF-8")]) from error
    except csv.Error as error:
        raise InputError([RowIssue(path.name, None, "", "", f"is not a valid CSV file: {error}")]) from error
    _check_separator(path.name, records)
    return _rows_from_records(path.name, [(number, record) for number, record in enumerate(records, start=1)])


# Separators that spreadsheet programs write instead of commas, with their names in messages.
_OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _check_separator(name: str, records: list[list[str]]) -> None:
    """Raise InputError when the header is one cell that another separator splits into columns.

    Spreadsheets set to a European locale save "CSV" with semicolons, and often decimal commas too.
    Read with commas, each row then has a varying count of cells, so every message would mislead.
    """
    if not records:
        return
    # A header name may itself hold a comma ("potential (USD, 2025)"), so the whole line is compared.
    header = ",".join(records[0])
    for separator, plural in _OTHER_SEPARATORS.items():
        if header.count(separator) >= 1 and header.count(separator) >= len(records[0]):
            columns = header.count(separator) + 1
            raise InputError([RowIssue(name, None, "", "", (
                f"has its {columns} header names separated by {plural}, not commas; save it as CSV UTF-8 with "
                "commas (Excel: File > Save As > CSV UTF-8, with the list separator set to a comma), or give the "
                "workbook as .xlsx"))])


def _read_excel(path: Path) -> tuple[list[str], Rows, str]:
    """Return the header and rows of the workbook's first sheet, and a description of that sheet when
    the workbook has several (empty otherwise)."""
    import openpyxl  # imported here because it is slow to import and only Excel input needs it

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises zipfile, KeyError and XML errors for broken files
        raise InputError([RowIssue(path.name, None, "", "", f"cannot be opened as an Excel workbook: {error}")]) from error
    try:
        sheet = workbook.worksheets[0]
        records = [
            (number, [_cell_text(value) for value in values])
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
        ]
    finally:
        workbook.close()
    described = ""
    if len(workbook.worksheets) > 1:
        described = (f"sheet {sheet.title!r}, the first of {len(workbook.worksheets)}; only the first sheet is read, "
                     "so if the table is on another sheet, move it to the first")
        logger.info("%s: read %s", path.name, described)
    return *_rows_from_records(path.name, records), described


def _read_parquet(path: Path) -> tuple[list[str], Rows]:
    import pyarrow.parquet as parquet

    try:
        table = parquet.read_table(path)
    except Exception as error:  # pyarrow raises ArrowInvalid, OSError and others for broken files
        raise InputError([RowIssue(path.name, None, "", "", f"cannot be read as Parquet: {error}")]) from error
    header = [str(name) for name in table.column_names]
    columns = [[_cell_text(value) for value in column.to_pylist()] for column in table.columns]
    rows = [(index + 1, [column[index] for column in columns]) for index in range(table.num_rows)]
    return header, rows


def _read_geojson(path: Path) -> tuple[list[str], Rows, list[RowIssue]]:
    try:
        # Numbers are kept as their literal text, so a ZIP code 02116 written as 2116 stays "2116".
        document = json.loads(path.read_text(encoding="utf-8-sig"), parse_float=str, parse_int=str)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError([RowIssue(path.name, None, "", "", f"is not valid JSON: {error}")]) from error
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection" or not isinstance(document.get("features"), list):
        raise InputError([RowIssue(path.name, None, "", "", "is not a GeoJSON FeatureCollection; give an object with \"type\": \"FeatureCollection\" and a \"features\" list")])

    records: list[dict[str, str]] = []
    issues: list[RowIssue] = []
    for number, feature in enumerate(document["features"], start=1):
        cells, issue = _feature_cells(path.name, number, feature)
        records.append(cells)
        if issue:
            issues.append(issue)

    header = list(dict.fromkeys(name for cells in records for name in cells))
    rows = [(number, [cells.get(name, "") for name in header]) for number, cells in enumerate(records, start=1)]
    return header, rows, issues


def _feature_cells(file: str, number: int, feature: object) -> tuple[dict[str, str], RowIssue | None]:
    if not isinstance(feature, dict):
        return {}, RowIssue(file, number, "geometry", "", "is not a GeoJSON Feature object; give each feature a geometry and properties")
    properties = feature.get("properties") or {}
    cells = {str(name): _cell_text(value) for name, value in properties.items()} if isinstance(properties, dict) else {}
    geometry = feature.get("geometry")
    if geometry is None:
        cells.update(lat="", lon="")
        return cells, None

    kind = geometry.get("type") if isinstance(geometry, dict) else None
    coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if kind != "Point":
        cells.update(lat="", lon="")
        return cells, RowIssue(file, number, "geometry", str(kind), "is not a Point geometry; give each account or rep as a Point [lon, lat], or a null geometry to locate it by postal code or city")
    if not isinstance(coordinates, list) or len(coordinates) < 2:
        cells.update(lat="", lon="")
        return cells, RowIssue(file, number, "geometry", json.dumps(coordinates), "is not a valid Point; give its coordinates as [lon, lat]")
    cells.update(lon=_cell_text(coordinates[0]), lat=_cell_text(coordinates[1]))  # GeoJSON order is lon, lat
    return cells, None


def _rows_from_records(file: str, records: Iterable[tuple[int, Sequence[str]]]) -> tuple[list[str], Rows]:
    """Split numbered records into a header (the first non-blank record) and the non-blank data rows."""
    non_blank = [(number, record) for number, record in records if any(cell.strip() for cell in record)]
    if not non_blank:
        raise InputError([RowIssue(file, None, "", "", "has no header row; the first row must name the columns")])

    (_, header), data = non_blank[0], non_blank[1:]
    header = _drop_trailing_blank_headers(header)
    rows: Rows = []
    too_long = []
    for number, record in data:
        cells = list(record[: len(header)]) + [""] * (len(header) - len(record))
        if any(cell.strip() for cell in record[len(header) :]):
            too_long.append(RowIssue(file, number, "", "", f"has {len(record)} cells but the header has {len(header)} columns; remove the extra cells or name their columns"))
        rows.append((number, cells))
    if too_long:
        raise InputError(too_long)
    return [cell.strip() for cell in header], rows


def _drop_trailing_blank_headers(header: list[str]) -> list[str]:
    """Drop blank header cells at the end, which spreadsheets leave after a deleted column."""
    while header and not header[-1].strip():
        header = header[:-1]
    return header


def _apply_column_map(file: str, header: list[str], column_map: Mapping[str, str]) -> list[str]:
    issues = []
    renamed = list(header)
    for canonical, source in column_map.items():
        if source not in header:
            found = ", ".join(repr(name) for name in header)
            issues.append(RowIssue(file, None, canonical, source, f"is mapped to {canonical} but no column has that header; columns found: {found}"))
        elif canonical != source and canonical in header:
            issues.append(RowIssue(file, None, canonical, source, f"is mapped to {canonical}, but the file also has a column {canonical}; remove one of them or drop the mapping"))
        else:
            renamed[header.index(source)] = canonical

    blank = [index + 1 for index, name in enumerate(renamed) if not name]
    if blank:
        issues.append(RowIssue(file, None, "", "", f"has a blank header in column(s) {', '.join(map(str, blank))}; name every column that has data"))
    duplicates = sorted({name for name in renamed if name and renamed.count(name) > 1})
    for name in duplicates:
        issues.append(RowIssue(file, None, name, "", "appears twice in the header; give each column its own name"))
    if "row" in renamed:
        issues.append(RowIssue(file, None, "row", "", "is reserved for the source row number; rename that column"))
    if issues:
        raise InputError(issues)
    return renamed


def _cell_text(value: object) -> str:
    """Return the text of a cell as the user typed it: no '.0' on whole numbers, '' for empty cells."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer() and abs(value) < 2**53:  # above 2**53 a float skips integers
            return str(int(value))
        return repr(value)  # the shortest text that reads back as the same float
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
