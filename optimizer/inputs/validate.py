"""Validating and locating the accounts and reps files: from text cells to canonical frames.

load_inputs reads both files, checks every cell, locates the rows with the offline gazetteer and
raises one InputError that lists every problem of both files. With ``skip_bad_rows=True`` it drops
the account rows with problems and returns them in ``Inputs.skipped``. Problems in the reps file are
never skipped, because one missing rep changes every territory.

Rules that are a choice rather than a format:

- Ids are case-sensitive: "A-1" and "a-1" are two accounts. An id that appears in several rows is
  one problem, reported on its first row and naming all rows. With skip_bad_rows, every row of that
  id is dropped, because no row of the duplicate is known to be the right one.
- potential accepts a currency symbol ($, EUR sign, pound sign) at either end and commas between
  groups of three digits, so "$1,200" is 1200. No other column accepts them.
- Location: a row with both lat and lon uses them. Giving only one of them is an error. A row with
  neither is located by postal code, then by city and state (see optimizer.locate). A row whose
  postal code or city is not found is "not_located", which is an error for a rep but not for an
  account. A row that gives no location at all (lat, lon, postal code and city all blank) is an
  error, reported on the postal_code column (or city, or lat, when the file has no postal_code).
- Coordinates at (0, 0) are an error. So are coordinates that lie outside the row's country but
  inside it with lat and lon exchanged. That check needs country extents from the gazetteer, so it
  only runs for the US and its territories.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from optimizer import locate
from optimizer.errors import InputError, RowIssue
from optimizer.inputs.postal import normalize_postal_code
from optimizer.inputs.read import ROW_ISSUES_ATTR, SHEET_ATTR, read_table

logger = logging.getLogger(__name__)

SIGNAL_COLUMNS = ("intent", "icp_fit", "relationship", "engagement")
ACCOUNT_COLUMNS = (
    "account_id", "name", "lat", "lon", "postal_code", "city", "state", "country", "industry", "potential",
    *SIGNAL_COLUMNS, "current_owner", "locked_owner", "workload_hours", "located_by", "location_note", "row",
)
REP_COLUMNS = (
    "rep_id", "name", "lat", "lon", "postal_code", "city", "state", "country", "capacity_hours",
    "max_accounts", "industries", "located_by", "location_note", "row",
)
_LOCATION_COLUMNS = ("lat", "lon", "postal_code", "city")
# Columns the reader adds itself; no input column maps onto them.
_DERIVED_COLUMNS = ("located_by", "location_note", "row")
_KNOWN_IDS_SHOWN = 5


@dataclass
class Inputs:
    """Validated and located accounts and reps, ready for scoring.

    ``skipped`` lists every problem of the account rows that were dropped (only with skip_bad_rows),
    and ``signal_columns`` names the signals that the accounts file has as columns.
    """

    accounts: pd.DataFrame
    reps: pd.DataFrame
    skipped: list[RowIssue] = field(default_factory=list)
    signal_columns: tuple[str, ...] = ()


def load_inputs(
    accounts_path: str | Path,
    reps_path: str | Path,
    *,
    account_columns: dict[str, str] | None = None,
    rep_columns: dict[str, str] | None = None,
    skip_bad_rows: bool = False,
    gazetteer: locate.Gazetteer | None = None,
) -> Inputs:
    """Read, validate and locate the accounts and reps files.

    Column maps are {canonical_name: header_in_file}. Raises InputError listing every problem of both
    files, unless skip_bad_rows is set and all problems are in account rows.
    """
    gazetteer = gazetteer or locate.default_gazetteer()
    accounts_file, reps_file = Path(accounts_path).name, Path(reps_path).name
    account_table, rep_table = _read_tables(accounts_path, account_columns, reps_path, rep_columns)

    reps, rep_issues = _validate_reps(rep_table, reps_file, gazetteer)
    rep_industries = _first_by_id(reps, "rep_id", "industries")
    accounts, account_issues = _validate_accounts(account_table, accounts_file, reps_file, rep_industries, gazetteer)

    if rep_issues.issues and skip_bad_rows:
        summary = f"{len(rep_issues.issues)} problem(s) in {reps_file}; skip_bad_rows skips only account rows, so fix the reps file"
        raise InputError(rep_issues.issues, _with_row_meaning(summary, rep_table, reps_file))
    if rep_issues.issues or (account_issues.issues and not skip_bad_rows):
        # The reps file's problems come first: a missing or duplicated rep id also breaks every account
        # row that names that rep, and those follow-on problems must not hide their cause.
        issues = rep_issues.issues + account_issues.issues
        summary = f"{len(issues)} problem(s) in {accounts_file} and {reps_file}"
        raise InputError(issues, _with_row_meaning(_with_row_meaning(summary, account_table, accounts_file), rep_table, reps_file),
                         skippable=not rep_issues.issues)

    if account_issues.issues:
        logger.warning("Skipped %d account row(s) of %s with %d problem(s)", len(account_issues.bad_rows), accounts_file, len(account_issues.issues))
    kept = accounts[~accounts["row"].isin(account_issues.bad_rows)].reset_index(drop=True)
    signals = tuple(column for column in SIGNAL_COLUMNS if column in account_table.columns)
    logger.info("Loaded %d accounts and %d reps", len(kept), len(reps))
    return Inputs(kept, reps, account_issues.issues, signals)


def load_accounts(
    accounts_path: str | Path,
    *,
    account_columns: dict[str, str] | None = None,
    skip_bad_rows: bool = False,
    gazetteer: locate.Gazetteer | None = None,
) -> Inputs:
    """Read, validate and locate an accounts file without a rep roster; ``Inputs.reps`` is empty.

    The owner columns (current_owner, locked_owner) are kept as text but not checked, because they
    name reps of a roster not given here. Raises InputError as load_inputs does.
    """
    path = Path(accounts_path)
    check_column_maps(account_columns, None)
    table = read_table(path, column_map=account_columns)
    issues = _column_issues(table, path.name, "account")
    if issues:
        raise InputError(issues, f"{len(issues)} problem(s) with the columns of {path.name}")
    owner_columns = [column for column in ("current_owner", "locked_owner") if column in table.columns]
    accounts, found = _validate_accounts(table.drop(columns=owner_columns), path.name, "", {},
                                         gazetteer or locate.default_gazetteer())
    for column in owner_columns:
        accounts[column] = [value.strip() or None for value in table[column].tolist()]
    if found.issues and not skip_bad_rows:
        raise InputError(found.issues, _with_row_meaning(f"{len(found.issues)} problem(s) in {path.name}", table,
                                                         path.name))
    kept = accounts[~accounts["row"].isin(found.bad_rows)].reset_index(drop=True)
    signals = tuple(column for column in SIGNAL_COLUMNS if column in table.columns)
    logger.info("Loaded %d accounts without a rep roster", len(kept))
    return Inputs(kept, pd.DataFrame(), found.issues, signals)


def load_reps(
    reps_path: str | Path,
    *,
    rep_columns: dict[str, str] | None = None,
    gazetteer: locate.Gazetteer | None = None,
) -> pd.DataFrame:
    """Read, validate and locate a reps file without accounts; raise InputError listing every problem."""
    path = Path(reps_path)
    table = read_table(path, column_map=rep_columns)
    issues = _column_issues(table, path.name, "rep")
    if issues:
        raise InputError(issues, f"{len(issues)} problem(s) with the columns of {path.name}")
    reps, found = _validate_reps(table, path.name, gazetteer or locate.default_gazetteer())
    if found.issues:
        raise InputError(found.issues, _with_row_meaning(f"{len(found.issues)} problem(s) in {path.name}", table,
                                                         path.name))
    logger.info("Loaded %d reps", len(reps))
    return reps


class _IssueList:
    """Problems of one file, and the source rows they make unusable."""

    def __init__(self, file: str):
        self.file = file
        self.issues: list[RowIssue] = []
        self.bad_rows: set[int] = set()
        self.bad_location_rows: set[int] = set()  # rows whose location cells are invalid

    def add(self, row: int, column: str, value: str, message: str, *, rows: list[int] | None = None) -> None:
        self.issues.append(RowIssue(self.file, row, column, value, message))
        self.bad_rows.update(rows or [row])


def _read_tables(
    accounts_path: str | Path, account_columns: Mapping[str, str] | None,
    reps_path: str | Path, rep_columns: Mapping[str, str] | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read both files and check their columns, raising one InputError for the problems of both."""
    issues: list[RowIssue] = []
    tables = []
    for path, column_map, kind in ((accounts_path, account_columns, "account"), (reps_path, rep_columns, "rep")):
        unknown = _mapping_issues(column_map, kind)
        if unknown:
            # Each unknown name is reported once, here, and not again as a header the file lacks.
            issues += unknown
            column_map = {name: header for name, header in column_map.items() if name in _schema(kind)}
        try:
            table = read_table(path, column_map=column_map)
        except InputError as error:
            issues += error.issues
            tables.append(pd.DataFrame())
            continue
        issues += _column_issues(table, Path(path).name, kind)
        tables.append(table)
    if issues:
        raise InputError(issues, f"{len(issues)} problem(s) with the input files or their columns")
    return tables[0], tables[1]


def _schema(kind: str) -> list[str]:
    """Return the columns an input file of `kind` ("account" or "rep") may have."""
    return [column for column in (ACCOUNT_COLUMNS if kind == "account" else REP_COLUMNS)
            if column not in _DERIVED_COLUMNS]


def check_column_maps(account_columns: Mapping[str, str] | None, rep_columns: Mapping[str, str] | None) -> None:
    """Raise InputError when a column map names a column outside the account or rep schema."""
    issues = _mapping_issues(account_columns, "account") + _mapping_issues(rep_columns, "rep")
    if issues:
        raise InputError(issues, f"{len(issues)} problem(s) with the column names given")


def _mapping_issues(column_map: Mapping[str, str] | None, kind: str) -> list[RowIssue]:
    """Return an issue for each mapped name that is not a column of the schema of `kind`."""
    schema = _schema(kind)
    issues = []
    for name in column_map or {}:
        if name in schema:
            continue
        close = difflib.get_close_matches(name, schema, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        issues.append(RowIssue(f"--{kind}-column {name}={column_map[name]}", None, "", "",
                               f"{name!r} is not a column of the {kind} schema; {hint}the columns are "
                               f"{', '.join(schema)}"))
    return issues


def _column_issues(table: pd.DataFrame, file: str, kind: str) -> list[RowIssue]:
    columns = [column for column in table.columns if column != "row"]
    found = ", ".join(columns) or "none"
    if table.attrs.get(SHEET_ATTR):
        found += f" in {table.attrs[SHEET_ATTR]}"
    required = ("account_id", "potential") if kind == "account" else ("rep_id", "capacity_hours")
    issues = [
        RowIssue(file, None, name, "", f"is a required column but is missing (columns found: {found}); if the file names it differently, map it with --{kind}-column {name}=HEADER")
        for name in required
        if name not in columns
    ]
    if not any(name in columns for name in _LOCATION_COLUMNS):
        issues.append(RowIssue(file, None, "lat, lon", "", f"no location columns (columns found: {found}); give lat and lon, postal_code, or city and state, or map them with --{kind}-column"))
    for present, absent in (("lat", "lon"), ("lon", "lat")):
        if present in columns and absent not in columns:
            issues.append(RowIssue(file, None, absent, "", f"is missing although {present} is given; give both columns, or map them with --{kind}-column {absent}=HEADER"))
    return issues


def _with_row_meaning(summary: str, table: pd.DataFrame, file: str) -> str:
    """Add what row numbers mean for formats without spreadsheet rows."""
    suffix = Path(file).suffix.lower()
    if suffix in (".geojson", ".json"):
        return f"{summary} (row numbers of {file} are feature numbers, counted from 1)"
    if suffix == ".parquet":
        return f"{summary} (row numbers of {file} are record numbers, counted from 1)"
    return summary


def _first_by_id(frame: pd.DataFrame, id_column: str, value_column: str) -> dict[str, object]:
    values: dict[str, object] = {}
    for identifier, value in zip(frame[id_column], frame[value_column]):
        if identifier:
            values.setdefault(identifier, value)
    return values


# ---------------------------------------------------------------------------------------------------
# Cells


class _Row:
    """The cells of one source row, with checks that record problems instead of raising."""

    def __init__(self, cells: Mapping[str, object], issues: _IssueList):
        self.cells = cells
        self.source_row = int(cells["row"])  # type: ignore[call-overload]
        self.issues = issues

    def text(self, column: str) -> str:
        value = self.cells.get(column)
        return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()

    def optional(self, column: str) -> str | None:
        return self.text(column) or None

    def error(self, column: str, value: str, message: str) -> None:
        self.issues.add(self.source_row, column, value, message)

    def number(self, column: str, what: str, *, required: bool = False, minimum: float | None = None,
               above: float | None = None, maximum: float | None = None, money: bool = False) -> float:
        """Parse a numeric cell; return NaN when it is blank or invalid (an invalid one is recorded)."""
        text = self.text(column)
        if text == "":
            if required:
                self.error(column, "", f"is blank; give {what}")
            return math.nan
        value = _parse_money(text) if money else _parse_decimal(text)
        if value is None:
            self.error(column, text, f"is not a number; give {what}")
        elif minimum == 0 and value < 0:
            self.error(column, text, f"is negative; give {what}")
        elif above is not None and value <= above:
            self.error(column, text, f"is not greater than {above:g}; give {what}")
        elif maximum is not None and value > maximum:
            self.error(column, text, f"is greater than {maximum:g}; give {what}")
        else:
            return value
        return math.nan


_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_CURRENCY_SYMBOLS = "$\u20ac\u00a3"


def _parse_decimal(text: str) -> float | None:
    """Return the value of a plain decimal number, or None (also for inf, nan and 1_000)."""
    return float(text) if _DECIMAL.fullmatch(text) else None


def _parse_money(text: str) -> float | None:
    """Like _parse_decimal, but also accept a currency symbol at either end and 1,234 grouping."""
    stripped = text.strip(_CURRENCY_SYMBOLS + " ")
    if _THOUSANDS.fullmatch(stripped):
        stripped = stripped.replace(",", "")
    return _parse_decimal(stripped)


# ---------------------------------------------------------------------------------------------------
# Location cells, shared by accounts and reps


def _location_cells(row: _Row, gazetteer: locate.Gazetteer, columns: list[str]) -> dict[str, object]:
    """Check country, postal code and coordinates, and return the canonical location fields."""
    issue_count = len(row.issues.issues)
    country = _check_country(row)
    postal_code = _check_postal_code(row, country)
    lat, lon = _check_coordinates(row, country, gazetteer)
    city, state = row.optional("city"), row.optional("state")

    gives_nothing = not any(row.text(column) for column in _LOCATION_COLUMNS)
    if gives_nothing and row.source_row not in row.issues.bad_location_rows:
        column = next((name for name in ("postal_code", "city") if name in columns), "lat")
        row.error(column, "", "is blank, and the row has no coordinates, postal code or city; give lat and lon, a postal code, or city and state")
    if len(row.issues.issues) > issue_count:
        row.issues.bad_location_rows.add(row.source_row)
    return {"lat": lat, "lon": lon, "postal_code": postal_code, "city": city, "state": state, "country": country or "US"}


def _check_country(row: _Row) -> str | None:
    """Return the upper-case country code ("US" when blank), or None when invalid."""
    text = row.text("country")
    if text == "":
        return "US"
    if not re.fullmatch(r"[A-Za-z]{2}", text):
        row.error("country", text, "is not a two-letter ISO 3166-1 country code; give one such as US or CA")
        return None
    return text.upper()


def _check_postal_code(row: _Row, country: str | None) -> str | None:
    text = row.text("postal_code")
    if text == "" or country is None:
        return text or None
    try:
        return normalize_postal_code(text, country)
    except ValueError as error:
        row.error("postal_code", text, str(error))
        return None


def _check_coordinates(row: _Row, country: str | None, gazetteer: locate.Gazetteer) -> tuple[float, float]:
    """Return (lat, lon), or NaNs when both are blank or they are invalid (an invalid pair is recorded)."""
    nan = math.nan
    lat_text, lon_text = row.text("lat"), row.text("lon")
    if lat_text == "" and lon_text == "":
        return nan, nan
    for blank, given in (("lat", "lon"), ("lon", "lat")):
        if row.text(blank) == "":
            row.error(blank, "", f"is blank but {given} is given; give both lat and lon, or neither to locate the row by postal code or city")
            return nan, nan

    lat, lon = _parse_decimal(lat_text), _parse_decimal(lon_text)
    for column, text, value in (("lat", lat_text, lat), ("lon", lon_text, lon)):
        if value is None:
            row.error(column, text, "is not a number; give decimal degrees, such as 42.36 for lat or -71.06 for lon")
    if lat is None or lon is None:
        return nan, nan

    pair = f"{lat_text}, {lon_text}"
    if lat == 0 and lon == 0:
        row.error("lat, lon", pair, "is (0, 0), which is almost always a missing value rather than a place; give the real coordinates, or leave lat and lon blank to locate the row by postal code or city")
        return nan, nan
    boxes = gazetteer.country_boxes(country) if country else []
    if boxes and not _inside(lat, lon, boxes) and _inside(lon, lat, boxes):
        row.error("lat, lon", pair, f"look swapped: the point lies outside {country}, but inside it with latitude and longitude exchanged; swap the lat and lon values")
        return nan, nan
    if abs(lat) > 90:
        row.error("lat", lat_text, "is outside -90 to 90; give latitude in decimal degrees")
    if abs(lon) > 180:
        row.error("lon", lon_text, "is outside -180 to 180; give longitude in decimal degrees")
    if abs(lat) > 90 or abs(lon) > 180:
        return nan, nan
    return lat, lon


def _inside(lat: float, lon: float, boxes: list[locate.Box]) -> bool:
    return any(min_lat <= lat <= max_lat and min_lon <= lon <= max_lon for min_lat, min_lon, max_lat, max_lon in boxes)


def _check_duplicate_ids(frame: pd.DataFrame, id_column: str, issues: _IssueList, what: str) -> None:
    rows_by_id: dict[str, list[int]] = {}
    for identifier, row in zip(frame[id_column], frame["row"]):
        if identifier:
            rows_by_id.setdefault(identifier, []).append(int(row))
    for identifier, rows in rows_by_id.items():
        if len(rows) > 1:
            listed = ", ".join(map(str, rows[:-1])) + f" and {rows[-1]}"
            issues.add(rows[0], id_column, identifier, f"appears in rows {listed}; give each {what} its own id", rows=rows)


def _add_read_issues(table: pd.DataFrame, issues: _IssueList) -> None:
    """Add the row problems found while reading (a GeoJSON geometry that is not a Point)."""
    for issue in table.attrs.get(ROW_ISSUES_ATTR, []):
        issues.add(issue.row, issue.column, issue.value, issue.message)
        if issue.column == "geometry":
            issues.bad_location_rows.add(issue.row)


def _sort_issues(issues: _IssueList) -> None:
    issues.issues.sort(key=lambda issue: issue.row if issue.row is not None else 0)


# ---------------------------------------------------------------------------------------------------
# Reps


def _validate_reps(table: pd.DataFrame, file: str, gazetteer: locate.Gazetteer) -> tuple[pd.DataFrame, _IssueList]:
    issues = _IssueList(file)
    columns = list(table.columns)
    _add_read_issues(table, issues)
    records = [_rep_record(_Row(cells, issues), gazetteer, columns) for cells in table.to_dict("records")]

    reps = locate.locate_rows(_frame(records, REP_COLUMNS), gazetteer)
    _check_duplicate_ids(reps, "rep_id", issues, "rep")
    for rep in reps[reps["located_by"] == "not_located"].itertuples():
        if int(rep.row) not in issues.bad_location_rows:  # an invalid location cell is reported already
            column = "city" if rep.city else "postal_code"
            value = (rep.city if rep.city else rep.postal_code) or ""
            issues.add(int(rep.row), column, str(value), f"does not locate the rep ({rep.location_note}); give lat and lon, or a US postal code or city and state that the offline gazetteer knows")
    _sort_issues(issues)
    return reps, issues


def _rep_record(row: _Row, gazetteer: locate.Gazetteer, columns: list[str]) -> dict[str, object]:
    rep_id = row.text("rep_id")
    if rep_id == "":
        row.error("rep_id", "", "is blank; give every rep an id")
    record: dict[str, object] = {"rep_id": rep_id, "name": row.text("name")}
    record.update(_location_cells(row, gazetteer, columns))
    record["capacity_hours"] = row.number("capacity_hours", "the rep's selling hours a year, a number greater than 0", required=True, above=0)
    record["max_accounts"] = _max_accounts(row)
    record["industries"] = tuple(item.strip() for item in row.text("industries").split(";") if item.strip())
    record["row"] = row.source_row
    return record


def _max_accounts(row: _Row) -> int | None:
    what = "a whole number of at least 1, or leave the cell blank for no limit"
    value = row.number("max_accounts", what, minimum=0)
    if math.isnan(value):
        return None
    if not value.is_integer():
        row.error("max_accounts", row.text("max_accounts"), f"is not a whole number; give {what}")
        return None
    if value < 1:
        row.error("max_accounts", row.text("max_accounts"), f"is less than 1; give {what}")
        return None
    return int(value)


# ---------------------------------------------------------------------------------------------------
# Accounts


def _validate_accounts(
    table: pd.DataFrame, file: str, reps_file: str, rep_industries: Mapping[str, object], gazetteer: locate.Gazetteer,
) -> tuple[pd.DataFrame, _IssueList]:
    issues = _IssueList(file)
    columns = list(table.columns)
    signals = [column for column in SIGNAL_COLUMNS if column in columns]
    _add_read_issues(table, issues)
    records = [_account_record(_Row(cells, issues), gazetteer, columns, signals) for cells in table.to_dict("records")]

    canonical = [column for column in ACCOUNT_COLUMNS if column not in SIGNAL_COLUMNS or column in signals]
    accounts = locate.locate_rows(_frame(records, tuple(canonical)), gazetteer)
    _check_duplicate_ids(accounts, "account_id", issues, "account")
    _check_owners(accounts, issues, reps_file, rep_industries)
    _sort_issues(issues)

    attributes = [column for column in columns if column not in canonical]
    accounts = pd.concat([accounts, table[attributes].reset_index(drop=True)], axis=1)
    return accounts, issues


def _account_record(row: _Row, gazetteer: locate.Gazetteer, columns: list[str], signals: list[str]) -> dict[str, object]:
    account_id = row.text("account_id")
    if account_id == "":
        row.error("account_id", "", "is blank; give every account an id")
    record: dict[str, object] = {"account_id": account_id, "name": row.text("name")}
    record.update(_location_cells(row, gazetteer, columns))
    record["industry"] = row.text("industry")
    record["potential"] = row.number("potential", "the account's potential as a number >= 0, such as 125000", required=True, minimum=0, money=True)
    for signal in signals:
        record[signal] = row.number(signal, "a score from 0 to 100, or leave the cell blank", minimum=0, maximum=100)
    record["current_owner"] = row.optional("current_owner")
    record["locked_owner"] = row.optional("locked_owner")
    record["workload_hours"] = row.number("workload_hours", "hours a year as a number >= 0, or leave the cell blank", minimum=0)
    record["row"] = row.source_row
    return record


def _check_owners(accounts: pd.DataFrame, issues: _IssueList, reps_file: str, rep_industries: Mapping[str, object]) -> None:
    """Check that owners name known reps and that a lock goes to a rep who covers the industry."""
    for account in accounts.itertuples():
        for column, fix in (("current_owner", "leave the cell blank"), ("locked_owner", "remove the lock")):
            owner = getattr(account, column)
            if owner is not None and owner not in rep_industries:
                message = f"is not a rep_id in {reps_file}; {_known_ids_hint(owner, list(rep_industries))}; fix the id or {fix}"
                issues.add(int(account.row), column, owner, message)

        covered = rep_industries.get(account.locked_owner) if account.locked_owner else None
        if covered and account.industry not in covered:  # an empty tuple means the rep covers any industry
            industry = f"its industry {account.industry!r}" if account.industry else "an account without industry"
            message = (
                f"locks the account to a rep who covers only {'; '.join(covered)}, not {industry}; "  # type: ignore[arg-type]
                "lock it to a rep who covers it, or add the industry to that rep's industries"
            )
            issues.add(int(account.row), "locked_owner", account.locked_owner, message)


def _known_ids_hint(owner: str, rep_ids: list[str]) -> str:
    same_but_case = [rep_id for rep_id in rep_ids if rep_id.casefold() == owner.casefold()]
    if same_but_case:
        return f"did you mean {same_but_case[0]!r}? rep ids are case-sensitive"
    shown = ", ".join(repr(rep_id) for rep_id in rep_ids[:_KNOWN_IDS_SHOWN])
    more = f" and {len(rep_ids) - _KNOWN_IDS_SHOWN} more" if len(rep_ids) > _KNOWN_IDS_SHOWN else ""
    return f"known rep ids include {shown}{more}" if rep_ids else "the reps file has no rep ids"


def _frame(records: list[dict[str, object]], columns: tuple[str, ...]) -> pd.DataFrame:
    """Build a canonical frame: floats stay float, optional text keeps None (object columns)."""
    data = {}
    for column in columns:
        values = [record.get(column) for record in records]
        if column in ("lat", "lon", "potential", "capacity_hours", "workload_hours", *SIGNAL_COLUMNS):
            data[column] = pd.Series(values, dtype=float)
        elif column == "row":
            data[column] = pd.Series(values, dtype="int64")
        else:
            data[column] = pd.Series(values, dtype=object)
    return pd.DataFrame(data, columns=list(columns))
