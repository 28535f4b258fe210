"""Tests of reading and validating the accounts and reps files (optimizer.inputs)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer.errors import InputError
from optimizer.inputs import load_inputs, normalize_postal_code, read_table

REPS_CSV = """rep_id,name,lat,lon,capacity_hours,max_accounts,industries
R1,Rep One,40.7566,-73.9801,1600,160,
R2,Rep Two,41.8668,-87.673,1200,,Government Services
"""

ACCOUNT_HEADER = "account_id,lat,lon,postal_code,city,state,country,industry,potential,intent,workload_hours,current_owner,locked_owner"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def load(directory: Path, accounts: str, reps: str = REPS_CSV, **options):
    return load_inputs(write(directory, "accounts.csv", accounts), write(directory, "reps.csv", reps), **options)


def issues_of(directory: Path, accounts: str, reps: str = REPS_CSV, **options) -> list[str]:
    with pytest.raises(InputError) as raised:
        load(directory, accounts, reps, **options)
    return [str(issue) for issue in raised.value.issues]


def account_row(**cells: str) -> str:
    """Return the accounts file with one data row; unnamed cells are blank, potential defaults to 100."""
    cells = {"account_id": "A1", "postal_code": "02116", "potential": "100", **cells}
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(ACCOUNT_HEADER.split(","))
    writer.writerow([cells.get(name, "") for name in ACCOUNT_HEADER.split(",")])
    return stream.getvalue()


# ---------------------------------------------------------------------------------------------------
# One problem per row, with the exact message


ROW_CASES = [
    pytest.param({"account_id": ""}, "accounts.csv row 2, column account_id: is blank; give every account an id", id="blank-id"),
    pytest.param({"potential": ""}, "accounts.csv row 2, column potential: is blank; give the account's potential as a number >= 0, such as 125000", id="potential-blank"),
    pytest.param({"potential": "-5"}, "accounts.csv row 2, column potential: '-5' is negative; give the account's potential as a number >= 0, such as 125000", id="potential-negative"),
    pytest.param({"potential": "abc"}, "accounts.csv row 2, column potential: 'abc' is not a number; give the account's potential as a number >= 0, such as 125000", id="potential-text"),
    pytest.param({"potential": "1,2"}, "accounts.csv row 2, column potential: '1,2' is not a number; give the account's potential as a number >= 0, such as 125000", id="potential-decimal-comma"),
    pytest.param({"potential": "inf"}, "accounts.csv row 2, column potential: 'inf' is not a number; give the account's potential as a number >= 0, such as 125000", id="potential-infinite"),
    pytest.param({"intent": "101"}, "accounts.csv row 2, column intent: '101' is greater than 100; give a score from 0 to 100, or leave the cell blank", id="signal-above-100"),
    pytest.param({"intent": "-1"}, "accounts.csv row 2, column intent: '-1' is negative; give a score from 0 to 100, or leave the cell blank", id="signal-negative"),
    pytest.param({"workload_hours": "-2"}, "accounts.csv row 2, column workload_hours: '-2' is negative; give hours a year as a number >= 0, or leave the cell blank", id="workload-negative"),
    pytest.param({"lat": "42.36"}, "accounts.csv row 2, column lon: is blank but lat is given; give both lat and lon, or neither to locate the row by postal code or city", id="lon-blank"),
    pytest.param({"lon": "-71.06"}, "accounts.csv row 2, column lat: is blank but lon is given; give both lat and lon, or neither to locate the row by postal code or city", id="lat-blank"),
    pytest.param({"lat": "north", "lon": "-71.06"}, "accounts.csv row 2, column lat: 'north' is not a number; give decimal degrees, such as 42.36 for lat or -71.06 for lon", id="lat-text"),
    pytest.param({"lat": "0", "lon": "0.0"}, "accounts.csv row 2, column lat, lon: '0, 0.0' is (0, 0), which is almost always a missing value rather than a place; give the real coordinates, or leave lat and lon blank to locate the row by postal code or city", id="zero-zero"),
    pytest.param({"lat": "95", "lon": "10"}, "accounts.csv row 2, column lat: '95' is outside -90 to 90; give latitude in decimal degrees", id="lat-out-of-range"),
    pytest.param({"lat": "10", "lon": "200"}, "accounts.csv row 2, column lon: '200' is outside -180 to 180; give longitude in decimal degrees", id="lon-out-of-range"),
    pytest.param({"lat": "-71.06", "lon": "42.36"}, "accounts.csv row 2, column lat, lon: '-71.06, 42.36' look swapped: the point lies outside US, but inside it with latitude and longitude exchanged; swap the lat and lon values", id="swapped"),
    pytest.param({"lat": "-97", "lon": "30"}, "accounts.csv row 2, column lat, lon: '-97, 30' look swapped: the point lies outside US, but inside it with latitude and longitude exchanged; swap the lat and lon values", id="swapped-and-out-of-range"),
    pytest.param({"postal_code": "1234567"}, "accounts.csv row 2, column postal_code: '1234567' is not a US ZIP code; give 5 digits (such as 02116) or ZIP+4 (such as 02116-1234)", id="zip-seven-digits"),
    pytest.param({"postal_code": "ABCDE"}, "accounts.csv row 2, column postal_code: 'ABCDE' is not a US ZIP code; give 5 digits (such as 02116) or ZIP+4 (such as 02116-1234)", id="zip-letters"),
    pytest.param({"postal_code": "02116-12"}, "accounts.csv row 2, column postal_code: '02116-12' has an invalid ZIP+4 suffix '12'; the part after the hyphen must be 4 digits, as in 02116-1234", id="zip-plus-4-short"),
    pytest.param({"postal_code": "00000"}, "accounts.csv row 2, column postal_code: '00000' is not a US ZIP code, because no ZIP code is 00000", id="zip-zeros"),
    pytest.param({"postal_code": ""}, "accounts.csv row 2, column postal_code: is blank, and the row has no coordinates, postal code or city; give lat and lon, a postal code, or city and state", id="no-location"),
    pytest.param({"postal_code": "M5V 2X", "country": "CA"}, "accounts.csv row 2, column postal_code: 'M5V 2X' is not a Canadian postal code; give the form A1A 1A1, such as M5V 2T6", id="canadian-short"),
    pytest.param({"country": "USA"}, "accounts.csv row 2, column country: 'USA' is not a two-letter ISO 3166-1 country code; give one such as US or CA", id="country-three-letters"),
    pytest.param({"current_owner": "R9"}, "accounts.csv row 2, column current_owner: 'R9' is not a rep_id in reps.csv; known rep ids include 'R1', 'R2'; fix the id or leave the cell blank", id="unknown-owner"),
    pytest.param({"locked_owner": "r1"}, "accounts.csv row 2, column locked_owner: 'r1' is not a rep_id in reps.csv; did you mean 'R1'? rep ids are case-sensitive; fix the id or remove the lock", id="lock-wrong-case"),
    pytest.param({"locked_owner": "R2", "industry": "Health"}, "accounts.csv row 2, column locked_owner: 'R2' locks the account to a rep who covers only Government Services, not its industry 'Health'; lock it to a rep who covers it, or add the industry to that rep's industries", id="lock-industry-not-covered"),
    pytest.param({"locked_owner": "R2"}, "accounts.csv row 2, column locked_owner: 'R2' locks the account to a rep who covers only Government Services, not an account without industry; lock it to a rep who covers it, or add the industry to that rep's industries", id="lock-blank-industry"),
]


@pytest.mark.parametrize(("cells", "expected"), ROW_CASES)
def test_account_row_problem_message(tmp_path, cells, expected):
    assert issues_of(tmp_path, account_row(**cells)) == [expected]


@pytest.mark.parametrize(
    ("cells", "column", "expected"),
    [
        pytest.param({"potential": "$1,200"}, "potential", 1200.0, id="potential-currency"),
        pytest.param({"potential": "0"}, "potential", 0.0, id="potential-zero"),
        pytest.param({"intent": "100"}, "intent", 100.0, id="signal-max"),
        pytest.param({"intent": ""}, "intent", math.nan, id="signal-blank"),
        pytest.param({"workload_hours": "12.5"}, "workload_hours", 12.5, id="workload-fraction"),
        pytest.param({"locked_owner": "R2", "industry": "Government Services"}, "locked_owner", "R2", id="lock-covered-industry"),
        pytest.param({"locked_owner": "R1", "industry": "Health"}, "locked_owner", "R1", id="lock-generalist"),
        pytest.param({"current_owner": " R1 "}, "current_owner", "R1", id="owner-stripped"),
        pytest.param({"current_owner": ""}, "current_owner", None, id="owner-blank"),
        pytest.param({"country": "us"}, "country", "US", id="country-upper-case"),
    ],
)
def test_account_valid_cell(tmp_path, cells, column, expected):
    value = load(tmp_path, account_row(**cells)).accounts.loc[0, column]
    if isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(value)
    else:
        assert value == expected


@pytest.mark.parametrize(
    ("cell", "country", "expected", "located_by"),
    [
        ("2116", "US", "02116", "postal_code"),
        ("2116.0", "US", "02116", "postal_code"),
        ("02116-1234", "", "02116", "postal_code"),
        ("501", "US", "00501", "postal_code"),
        ("021161234", "US", "02116", "postal_code"),
        ("M5V 2T6", "CA", "M5V 2T6", "not_located"),
        ("m5v2t6", "CA", "M5V 2T6", "not_located"),
        (" SW1A 1AA ", "GB", "SW1A 1AA", "not_located"),
    ],
)
def test_postal_code_normalized_in_accounts(tmp_path, cell, country, expected, located_by):
    accounts = load(tmp_path, account_row(postal_code=cell, country=country)).accounts
    assert accounts.loc[0, "postal_code"] == expected
    assert accounts.loc[0, "located_by"] == located_by


def test_postal_code_located_at_zip_centroid(tmp_path):
    account = load(tmp_path, account_row(postal_code="2116")).accounts.iloc[0]
    assert (account["lat"], account["lon"]) == (42.3506, -71.0769)
    assert account["location_note"] == ""


def test_non_us_account_note(tmp_path):
    account = load(tmp_path, account_row(postal_code="M5V 2T6", country="CA")).accounts.iloc[0]
    assert math.isnan(account["lat"])
    assert account["location_note"] == "no offline gazetteer for country CA; give lat and lon to locate the row"


def test_blank_postal_code_with_city(tmp_path):
    account = load(tmp_path, account_row(postal_code="", city="Boston", state="MA")).accounts.iloc[0]
    assert account["postal_code"] is None
    assert account["located_by"] == "city"


def test_unknown_city_is_not_located(tmp_path):
    account = load(tmp_path, account_row(postal_code="", city="Nowhereville", state="MA")).accounts.iloc[0]
    assert account["located_by"] == "not_located"
    assert account["location_note"] == "city 'Nowhereville' not found in MA"


def test_unknown_zip_falls_back_to_city(tmp_path):
    account = load(tmp_path, account_row(postal_code="99999", city="Boston", state="MA")).accounts.iloc[0]
    assert account["located_by"] == "city"
    assert account["location_note"] == "postal code '99999' not found in the gazetteer"


def test_coordinates_kept(tmp_path):
    account = load(tmp_path, account_row(lat="42.36", lon="-71.06")).accounts.iloc[0]
    assert (account["lat"], account["lon"], account["located_by"]) == (42.36, -71.06, "coordinates")


def test_coordinates_abroad_not_swapped(tmp_path):
    account = load(tmp_path, account_row(lat="48.85", lon="2.35", country="FR", postal_code="75001")).accounts.iloc[0]
    assert account["located_by"] == "coordinates"


# ---------------------------------------------------------------------------------------------------
# Ids, several rows and several files


def test_ids_differing_by_case_are_two_accounts(tmp_path):
    text = "account_id,postal_code,potential\nA-1,02116,1\na-1,02116,2\n"
    accounts = load(tmp_path, text).accounts
    assert list(accounts["account_id"]) == ["A-1", "a-1"]


def test_duplicate_account_id_names_both_rows(tmp_path):
    text = "account_id,postal_code,potential\nA-1,02116,1\nB-1,02116,1\nA-1,02116,2\n"
    assert issues_of(tmp_path, text) == ["accounts.csv row 2, column account_id: 'A-1' appears in rows 2 and 4; give each account its own id"]


def test_account_id_three_times(tmp_path):
    text = "account_id,postal_code,potential\nA-1,02116,1\nA-1,02116,1\n\nA-1,02116,2\n"
    assert issues_of(tmp_path, text) == ["accounts.csv row 2, column account_id: 'A-1' appears in rows 2, 3 and 5; give each account its own id"]


def test_every_problem_listed(tmp_path):
    text = "account_id,postal_code,potential\nA-1,ABCDE,1\nB-1,02116,-1\n"
    reps = "rep_id,lat,lon,capacity_hours\nR1,40.7,-74.0,0\n"
    assert issues_of(tmp_path, text, reps) == [
        "reps.csv row 2, column capacity_hours: '0' is not greater than 0; give the rep's selling hours a year, a number greater than 0",
        "accounts.csv row 2, column postal_code: 'ABCDE' is not a US ZIP code; give 5 digits (such as 02116) or ZIP+4 (such as 02116-1234)",
        "accounts.csv row 3, column potential: '-1' is negative; give the account's potential as a number >= 0, such as 125000",
    ]


def test_skip_bad_rows_keeps_the_rest(tmp_path):
    text = "account_id,postal_code,potential\nA-1,ABCDE,1\nB-1,02116,5\nA-2,02116,x\nC-1,02116,7\nC-1,02116,8\n"
    inputs = load(tmp_path, text, skip_bad_rows=True)
    assert list(inputs.accounts["account_id"]) == ["B-1"]
    assert list(inputs.accounts["row"]) == [3]
    assert [str(issue) for issue in inputs.skipped] == [
        "accounts.csv row 2, column postal_code: 'ABCDE' is not a US ZIP code; give 5 digits (such as 02116) or ZIP+4 (such as 02116-1234)",
        "accounts.csv row 4, column potential: 'x' is not a number; give the account's potential as a number >= 0, such as 125000",
        "accounts.csv row 5, column account_id: 'C-1' appears in rows 5 and 6; give each account its own id",
    ]


def test_skip_bad_rows_never_skips_reps(tmp_path):
    reps = "rep_id,lat,lon,capacity_hours\nR1,40.7,-74.0,\n"
    with pytest.raises(InputError) as raised:
        load(tmp_path, account_row(potential="x"), reps, skip_bad_rows=True)
    assert str(raised.value).splitlines() == [
        "1 problem(s) in reps.csv; skip_bad_rows skips only account rows, so fix the reps file:",
        "  - reps.csv row 2, column capacity_hours: is blank; give the rep's selling hours a year, a number greater than 0",
    ]


def test_missing_required_column(tmp_path):
    text = "Customer ID,postal_code\nA-1,02116\n"
    assert issues_of(tmp_path, text) == [
        "accounts.csv, column account_id: is a required column but is missing (columns found: Customer ID, postal_code); if the file names it differently, map it with --account-column account_id=HEADER",
        "accounts.csv, column potential: is a required column but is missing (columns found: Customer ID, postal_code); if the file names it differently, map it with --account-column potential=HEADER",
    ]


def test_missing_rep_location_columns(tmp_path):
    reps = "rep_id,capacity_hours,lat\nR1,100,40\n"
    assert issues_of(tmp_path, account_row(), reps) == [
        "reps.csv, column lon: is missing although lat is given; give both columns, or map them with --rep-column lon=HEADER",
    ]


def test_column_map_renames(tmp_path):
    text = "Customer ID,ZIP,Value\nA-1,2116,10\n"
    inputs = load(tmp_path, text, account_columns={"account_id": "Customer ID", "postal_code": "ZIP", "potential": "Value"})
    assert list(inputs.accounts.columns[:3]) == ["account_id", "name", "lat"]
    assert inputs.accounts.loc[0, "postal_code"] == "02116"


def test_column_map_to_missing_header(tmp_path):
    assert issues_of(tmp_path, account_row(), account_columns={"account_id": "Customer ID"})[0] == (
        "accounts.csv, column account_id: 'Customer ID' is mapped to account_id but no column has that header; "
        "columns found: 'account_id', 'lat', 'lon', 'postal_code', 'city', 'state', 'country', 'industry', "
        "'potential', 'intent', 'workload_hours', 'current_owner', 'locked_owner'"
    )


def test_column_map_to_unknown_name(tmp_path):
    issues = issues_of(tmp_path, account_row(), rep_columns={"capacity": "Hours"})
    assert issues == [
        "--rep-column capacity=Hours: 'capacity' is not a column of the rep schema; did you mean 'capacity_hours'? "
        "the columns are rep_id, name, lat, lon, postal_code, city, state, country, capacity_hours, max_accounts, "
        "industries"
    ]


@pytest.mark.parametrize(("separator", "plural"), [(";", "semicolons"), ("\t", "tabs")])
def test_other_separator_one_message(tmp_path, separator, plural):
    text = separator.join(["account_id", "postal_code", "potential"]) + "\n" + separator.join(["A1", "02116", "1,5"]) + "\n"
    assert issues_of(tmp_path, text) == [
        f"accounts.csv: has its 3 header names separated by {plural}, not commas; save it as CSV UTF-8 with commas "
        "(Excel: File > Save As > CSV UTF-8, with the list separator set to a comma), or give the workbook as .xlsx"
    ]


def test_second_sheet_named_when_columns_missing(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.title = "Cover"
    workbook.active.append(["note"])
    workbook.create_sheet("Accounts").append(["account_id", "postal_code", "potential"])
    workbook.save(tmp_path / "accounts.xlsx")
    with pytest.raises(InputError) as raised:
        load_inputs(tmp_path / "accounts.xlsx", write(tmp_path, "reps.csv", REPS_CSV))

    assert str(raised.value.issues[0]) == (
        "accounts.xlsx, column account_id: is a required column but is missing (columns found: note in sheet "
        "'Cover', the first of 2; only the first sheet is read, so if the table is on another sheet, move it to the "
        "first); if the file names it differently, map it with --account-column account_id=HEADER")


def test_semicolons_with_comma_in_header_name(tmp_path):
    text = "account_id;postal_code;potential (USD, 2025)\nA1;02116;100\n"
    assert issues_of(tmp_path, text)[0].startswith(
        "accounts.csv: has its 3 header names separated by semicolons, not commas;")


def test_unsupported_format(tmp_path):
    with pytest.raises(InputError) as raised:
        read_table(write(tmp_path, "accounts.xls", "x"))
    assert [str(issue) for issue in raised.value.issues] == [
        "accounts.xls: has an unsupported format .xls; use CSV (.csv, .txt), Excel (.xlsx), Parquet (.parquet), GeoJSON (.geojson, .json)"
    ]


def test_attributes_kept_after_canonical(tmp_path):
    text = "segment,account_id,postal_code,potential\n Enterprise ,A-1,02116,10\n"
    inputs = load(tmp_path, text)
    assert list(inputs.accounts.columns)[-2:] == ["row", "segment"]
    assert inputs.accounts.loc[0, "segment"] == " Enterprise "
    assert inputs.signal_columns == ()


def test_signal_columns_present(tmp_path):
    inputs = load(tmp_path, "account_id,postal_code,potential,engagement,intent\nA-1,02116,1,5,6\n")
    assert inputs.signal_columns == ("intent", "engagement")
    assert "relationship" not in inputs.accounts.columns


# ---------------------------------------------------------------------------------------------------
# Reps


REP_HEADER = "rep_id,name,lat,lon,postal_code,city,state,capacity_hours,max_accounts,industries"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("R1,,40.7,-74.0,,,,0,,", "reps.csv row 2, column capacity_hours: '0' is not greater than 0; give the rep's selling hours a year, a number greater than 0", id="capacity-zero"),
        pytest.param("R1,,40.7,-74.0,,,,100,12.5,", "reps.csv row 2, column max_accounts: '12.5' is not a whole number; give a whole number of at least 1, or leave the cell blank for no limit", id="max-accounts-fraction"),
        pytest.param("R1,,40.7,-74.0,,,,100,0,", "reps.csv row 2, column max_accounts: '0' is less than 1; give a whole number of at least 1, or leave the cell blank for no limit", id="max-accounts-zero"),
        pytest.param(",,40.7,-74.0,,,,100,,", "reps.csv row 2, column rep_id: is blank; give every rep an id", id="blank-id"),
        pytest.param("R1,,,,,Nowhereville,MA,100,,", "reps.csv row 2, column city: 'Nowhereville' does not locate the rep (city 'Nowhereville' not found in MA); give lat and lon, or a US postal code or city and state that the offline gazetteer knows", id="not-located"),
        pytest.param("R1,,,,99999,,,100,,", "reps.csv row 2, column postal_code: '99999' does not locate the rep (postal code '99999' not found in the gazetteer); give lat and lon, or a US postal code or city and state that the offline gazetteer knows", id="postal-code-not-found"),
    ],
)
def test_rep_row_problem_message(tmp_path, line, expected):
    reps = REP_HEADER + "\n" + line + "\n"
    assert issues_of(tmp_path, "account_id,postal_code,potential\nA-1,02116,1\n", reps) == [expected]


def test_duplicate_rep_id(tmp_path):
    reps = "rep_id,lat,lon,capacity_hours\nR1,40.7,-74.0,100\nR1,41.8,-87.6,100\n"
    assert issues_of(tmp_path, account_row(), reps) == ["reps.csv row 2, column rep_id: 'R1' appears in rows 2 and 3; give each rep its own id"]


def test_rep_fields(tmp_path):
    reps = REP_HEADER + "\nR1,Ann,,,10001,,,1600,160.0, Health ; Government Services;\nR2,Bob,,,,St. Louis,MO,800,,\n"
    frame = load(tmp_path, account_row(), reps).reps
    assert list(frame.columns) == ["rep_id", "name", "lat", "lon", "postal_code", "city", "state", "country", "capacity_hours", "max_accounts", "industries", "located_by", "location_note", "row"]
    assert frame.loc[0, "max_accounts"] == 160
    assert frame.loc[0, "industries"] == ("Health", "Government Services")
    assert frame.loc[0, "located_by"] == "postal_code"
    assert frame.loc[1, "max_accounts"] is None
    assert frame.loc[1, "industries"] == ()
    assert frame.loc[1, "located_by"] == "city"
    assert frame.loc[1, "location_note"] == "city 'St. Louis' matched as 'Saint Louis'"


# ---------------------------------------------------------------------------------------------------
# Formats


def write_reps(directory: Path) -> Path:
    return write(directory, "reps.csv", REPS_CSV)


def test_excel_round_trip(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["account_id", "postal_code", "potential", "lat", "lon"])
    sheet.append(["A-1", 2116, 1200, None, None])
    sheet.append(["A-2", 2116.0, 1200.5, 42.36, -71.06])
    sheet.append([])
    sheet.append(["A-3", "02116", -3, None, None])
    path = tmp_path / "accounts.xlsx"
    workbook.save(path)

    table = read_table(path)
    assert list(table["postal_code"]) == ["2116", "2116", "02116"]
    assert list(table["potential"]) == ["1200", "1200.5", "-3"]
    assert list(table["row"]) == [2, 3, 5]
    with pytest.raises(InputError) as raised:
        load_inputs(path, write_reps(tmp_path))
    assert [str(issue) for issue in raised.value.issues] == [
        "accounts.xlsx row 5, column potential: '-3' is negative; give the account's potential as a number >= 0, such as 125000"
    ]


def test_parquet_round_trip(tmp_path):
    table = pa.table({
        "account_id": ["A-1", "A-2", "A-3"],
        "postal_code": [2116.0, 501.0, None],
        "potential": [10, 20, None],
        "city": [None, None, "Boston"],
        "state": [None, None, "MA"],
    })
    path = tmp_path / "accounts.parquet"
    pq.write_table(table, path)

    assert list(read_table(path)["postal_code"]) == ["2116", "501", ""]
    with pytest.raises(InputError) as raised:
        load_inputs(path, write_reps(tmp_path))
    assert str(raised.value).splitlines() == [
        "1 problem(s) in accounts.parquet and reps.csv (row numbers of accounts.parquet are record numbers, counted from 1):",
        "  - accounts.parquet row 3, column potential: is blank; give the account's potential as a number >= 0, such as 125000",
    ]


def test_parquet_valid_rows(tmp_path):
    path = tmp_path / "accounts.parquet"
    pq.write_table(pa.table({"account_id": ["A-1", "A-2"], "postal_code": [2116, 501], "potential": [10.0, 0.25]}), path)
    accounts = load_inputs(path, write_reps(tmp_path)).accounts
    assert list(accounts["postal_code"]) == ["02116", "00501"]
    assert list(accounts["potential"]) == [10.0, 0.25]
    assert list(accounts["row"]) == [1, 2]


def feature(geometry, **properties):
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def test_geojson_round_trip(tmp_path):
    document = {
        "type": "FeatureCollection",
        "features": [
            feature({"type": "Point", "coordinates": [-71.06, 42.36]}, account_id="A-1", potential=10),
            feature(None, account_id="A-2", postal_code=2116, potential=5),
            feature({"type": "Polygon", "coordinates": []}, account_id="A-3", potential=1),
        ],
    }
    path = tmp_path / "accounts.geojson"
    path.write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(InputError) as raised:
        load_inputs(path, write_reps(tmp_path))
    assert str(raised.value).splitlines() == [
        "1 problem(s) in accounts.geojson and reps.csv (row numbers of accounts.geojson are feature numbers, counted from 1):",
        "  - accounts.geojson row 3, column geometry: 'Polygon' is not a Point geometry; give each account or rep as a Point [lon, lat], or a null geometry to locate it by postal code or city",
    ]

    inputs = load_inputs(path, write_reps(tmp_path), skip_bad_rows=True)
    assert list(inputs.accounts["account_id"]) == ["A-1", "A-2"]
    assert (inputs.accounts.loc[0, "lat"], inputs.accounts.loc[0, "lon"]) == (42.36, -71.06)
    assert inputs.accounts.loc[1, "postal_code"] == "02116"
    assert inputs.accounts.loc[1, "located_by"] == "postal_code"


def test_csv_blank_rows_keep_numbers(tmp_path):
    table = read_table(write(tmp_path, "accounts.txt", "\ufeffaccount_id,potential\n\nA-1,1\n,\nA-2,2\n"))
    assert list(table["row"]) == [3, 5]
    assert list(table["account_id"]) == ["A-1", "A-2"]


def test_csv_extra_cells_rejected(tmp_path):
    with pytest.raises(InputError) as raised:
        read_table(write(tmp_path, "accounts.csv", "account_id,potential\nA-1,1,oops\n"))
    assert [str(issue) for issue in raised.value.issues] == [
        "accounts.csv row 2: has 3 cells but the header has 2 columns; remove the extra cells or name their columns"
    ]


# ---------------------------------------------------------------------------------------------------
# normalize_postal_code


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [("2116", "US", "02116"), ("2116.0", "US", "02116"), ("02116-1234", "US", "02116"), ("501", "", "00501"),
     ("00901", "PR", "00901"), ("M5V 2T6", "CA", "M5V 2T6"), ("m5v-2t6", "ca", "M5V 2T6"), ("  1010 ", "AT", "1010")],
)
def test_normalize_postal_code_valid(value, country, expected):
    assert normalize_postal_code(value, country) == expected


@pytest.mark.parametrize(
    ("value", "country", "reason"),
    [
        ("1234567", "US", "is not a US ZIP code; give 5 digits (such as 02116) or ZIP+4 (such as 02116-1234)"),
        ("ABCDE", "US", "is not a US ZIP code; give 5 digits (such as 02116) or ZIP+4 (such as 02116-1234)"),
        ("", "US", "is blank; give a postal code"),
        ("02116-ABCD", "US", "has an invalid ZIP+4 suffix 'ABCD'; the part after the hyphen must be 4 digits, as in 02116-1234"),
        ("D5V 2T6", "CA", "is not a Canadian postal code; give the form A1A 1A1, such as M5V 2T6"),
        ("2116", "CA", "is not a Canadian postal code; give the form A1A 1A1, such as M5V 2T6"),
    ],
)
def test_normalize_postal_code_invalid(value, country, reason):
    with pytest.raises(ValueError) as raised:
        normalize_postal_code(value, country)
    assert str(raised.value) == reason


@given(number=st.integers(min_value=1, max_value=99999), plus_four=st.integers(min_value=0, max_value=9999))
def test_normalize_postal_code_property(number, plus_four):
    padded = f"{number:05d}"
    for text in (str(number), f"{number}.0", f"{float(number)}", padded, f"{padded}-{plus_four:04d}", f"{number}-{plus_four:04d}"):
        assert normalize_postal_code(text, "US") == padded


def test_reps_file_problem_listed_before_followers(tmp_path):
    """R2's id typed as "R1 " duplicates R1 once trimmed, so every account owned by R2 names an unknown
    rep. The reps file's problem must come first, and the hint must not offer --skip-bad-rows."""
    reps = REPS_CSV.replace("R2,Rep Two", "R1 ,Rep Two")
    rows = [ACCOUNT_HEADER] + [f"A{i},40.7,-74.0,,,,,,100,,,R2," for i in range(60)]
    with pytest.raises(InputError) as raised:
        load(tmp_path, "\n".join(rows) + "\n", reps)
    issues = [str(issue) for issue in raised.value.issues]
    assert len(issues) == 61
    assert issues[0] == "reps.csv row 2, column rep_id: 'R1' appears in rows 2 and 3; give each rep its own id"
    assert issues[1] == ("accounts.csv row 2, column current_owner: 'R2' is not a rep_id in reps.csv; known rep ids "
                         "include 'R1'; fix the id or leave the cell blank")
    message = str(raised.value)
    assert message.endswith("  ... and 11 more; fix the reps file first: account rows that name its reps may be fine once it is")
    assert "--skip-bad-rows" not in message
