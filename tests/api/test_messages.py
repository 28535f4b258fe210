"""Library messages over HTTP: command-line options named as the API's fields, quoted values left alone."""

from __future__ import annotations

import pytest

from api.errors import api_text


@pytest.mark.parametrize(("text", "expected"), [
    ("map it with --account-column account_id=HEADER", "map it with account_column account_id=HEADER"),
    ("give a longer --time-limit or wider balance bands", "give a longer time_limit_s or wider balance bands"),
    ("such as --band workload_hours=10%", "such as band workload_hours=10%"),
    ("choose one of them as the id column with --unit-id", "choose one of them as the id column with unit_id"),
    ("'--vacant' is not a rep_id", "'--vacant' is not a rep_id"),
    ("'--band' is quoted", "'--band' is quoted"),
    ("value --none stays", "value --none stays"),
    ("--band-width is no option", "--band-width is no option"),
])
def test_options_become_fields(text, expected):
    assert api_text(text) == expected
