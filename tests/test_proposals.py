"""Proposals: accounts moved by hand, evaluated against every rule without solving again."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import ConfigError, InputError
from optimizer.proposals import evaluate_proposal, plan_from_assignments, read_moves_file
from tests.plan_fixtures import make_instance, make_scenario, point_at

# Four accounts of 100 USD, two per rep; the potential band of +-10 % puts each rep at 180 to 220 USD.
ACCOUNTS = [{"account_id": f"a{k}", "potential": 100.0, "workload_hours": 10.0} for k in range(4)]
REPS = [{"rep_id": "R1", "capacity_hours": 40.0}, {"rep_id": "R2", "capacity_hours": 40.0}]
PLAN = np.array([0, 0, 1, 1])


def instance(**sections):
    return make_instance(ACCOUNTS, REPS, make_scenario(balance={"potential": 0.1}, **sections))


def test_swap_keeps_every_rule():
    result = evaluate_proposal(instance(), PLAN, {"a0": "R2", "a2": "R1"})

    assert result.ok
    assert result.moves == [("a0", "R1", "R2"), ("a2", "R2", "R1")]
    before, after = result.territories["R1"]
    assert (before.accounts, after.accounts) == (2, 2)
    assert (before.potential, after.potential) == (200.0, 200.0)
    assert after.potential_pct_of_target == pytest.approx(100.0)
    assert after.utilisation == pytest.approx(0.5)


def test_one_way_move_breaks_both_bands():
    result = evaluate_proposal(instance(), PLAN, {"a0": "R2"})

    assert not result.ok
    assert result.violations == [
        "rep R1: potential 100.00 USD outside its band [180.00, 220.00]",
        "rep R2: potential 300.00 USD outside its band [180.00, 220.00]",
    ]
    assert result.territories["R2"][1].potential_pct_of_target == pytest.approx(150.0)


def test_objective_change_is_the_distance_moved():
    """Each account costs its workload hours times km: a0 moves from 0 km to 100 km away, +10 x 100."""
    accounts = [{**row, "lat": 40.0, "lon": -100.0} for row in ACCOUNTS]
    far = point_at(100.0, azimuth=90.0)
    reps = [REPS[0], {**REPS[1], "lat": far[0], "lon": far[1]}]
    plan_instance = make_instance(accounts, reps, make_scenario(balance={"potential": None}))
    result = evaluate_proposal(plan_instance, PLAN, {"a0": "R2"})

    assert result.objective_after - result.objective_before == pytest.approx(1000.0, abs=1e-6)


@pytest.mark.parametrize(("moves", "message"), [
    ({"a9": "R2"}, "account 'a9' is not an account of the plan"),
    ({"a0": "R22"}, "rep 'R22' is not in the roster; did you mean 'R2'?"),
    ({"a0": "R1"}, "account a0 already belongs to R1"),
    ({}, "the proposal moves no account"),
])
def test_invalid_proposal_rejected(moves, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        evaluate_proposal(instance(), PLAN, moves)


def test_plan_read_from_assignments(tmp_path):
    path = tmp_path / "assignments.csv"
    path.write_text("account_id,rep_id\na0,R2\na1,R1\na2,R1\na3,R2\n", encoding="utf-8")
    assert plan_from_assignments(instance(), path).tolist() == [1, 0, 0, 1]


def test_plan_missing_account_rejected(tmp_path):
    path = tmp_path / "assignments.csv"
    path.write_text("account_id,rep_id\na0,R2\na1,R1\na2,R9\n", encoding="utf-8")
    with pytest.raises(InputError) as raised:
        plan_from_assignments(instance(), path)

    assert [str(issue) for issue in raised.value.issues] == [
        "assignments.csv, column rep_id: 'R9' assigns account a2 to a rep that the roster does not have",
        "assignments.csv, column account_id: 'a3' is an account of the inputs that the plan does not assign; give "
        "the plan made from these inputs",
    ]


def test_rule_broken_before_is_not_new():
    """Under a 0 % band (target 200 each) the plan, R1 at 300 and R2 at 100, already breaks both bands.
    Moving a0 and a1 to R2 gives R1 100 and R2 300: both still broken, nothing new. Moving a0 alone fixes both."""
    plan = np.array([0, 0, 0, 1])
    tight = make_instance(ACCOUNTS, REPS, make_scenario(balance={"potential": 0.0}))
    result = evaluate_proposal(tight, plan, {"a0": "R2", "a1": "R2"})

    assert result.ok
    assert result.violations == []
    assert result.already_broken == [
        "rep R1: potential 100.00 USD outside its band [200.00, 200.00]",
        "rep R2: potential 300.00 USD outside its band [200.00, 200.00]",
    ]
    assert evaluate_proposal(tight, plan, {"a0": "R2"}).already_broken == []


def test_breach_made_worse_is_new():
    """Under a 0 % band R1 has 300 and R2 100, both 100 off. Giving R1 one more account (R1 400, R2 0) takes
    both further past the band, so both breaches count as new and need consent."""
    plan = np.array([0, 0, 0, 1])
    tight = make_instance(ACCOUNTS, REPS, make_scenario(balance={"potential": 0.0}))
    result = evaluate_proposal(tight, plan, {"a3": "R1"})

    assert result.violations == [
        "rep R1: potential 400.00 USD outside its band [200.00, 200.00]",
        "rep R2: potential 0.00 USD outside its band [200.00, 200.00]",
    ]
    assert result.already_broken == []


def test_account_named_twice_rejected():
    with pytest.raises(ConfigError, match=re.escape("account a0 is named twice (ids are compared without "
                                                    "surrounding spaces)")):
        evaluate_proposal(instance(), PLAN, {"a0": "R2", " a0 ": "R1"})


def test_not_located_account_named_with_reason():
    with pytest.raises(ConfigError, match=re.escape("account z9 could not be located (city 'Nowhere' not found in "
                                                    "TX), so it has no rep in the plan")):
        evaluate_proposal(instance(), PLAN, {" z9 ": "R2"}, not_located={"z9": "city 'Nowhere' not found in TX"})


@pytest.mark.parametrize(("text", "message"), [
    ("", "cannot be read as a plan's assignments.csv"),
    ("account_id,rep_id\na0,R1\na0,R2\na1,R1\na2,R2\na3,R2\n", "'a0' appears more than once"),
    ("account_id,rep_id\na0,R1\na1,R1\na2,R2\na3,R2\nb7,R2\n", "'b7' is assigned by the plan but is not a "
                                                                     "located account of the inputs"),
])
def test_unusable_plan_rejected(tmp_path, text, message):
    path = tmp_path / "assignments.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as raised:
        plan_from_assignments(instance(), path)
    assert message in str(raised.value)


def test_moves_file_read(tmp_path):
    csv_file = tmp_path / "moves.csv"
    csv_file.write_text("account_id;rep_id\na0; R2 \na2;R1\n")
    assert read_moves_file(csv_file) == {"a0": "R2", "a2": "R1"}

    # A byte-order mark, as spreadsheet programs write it, and blank lines are no problem.
    marked = tmp_path / "marked.csv"
    marked.write_bytes("\ufeffaccount_id,rep_id\n\na0,R2\n\n".encode())
    assert read_moves_file(marked) == {"a0": "R2"}

    excel_file = tmp_path / "moves.xlsx"
    pd.DataFrame({"rep_id": ["R2"], "account_id": ["a1"]}).to_excel(excel_file, index=False)
    assert read_moves_file(excel_file) == {"a1": "R2"}


def test_rejected_moves_name_file_row(tmp_path):
    """A move the evaluation rejects is named with its file row; blank lines count, as in the file."""
    path = tmp_path / "moves.csv"
    path.write_text("account_id,rep_id\na0,R2\n\na9,R1\na1,R22\na2,R2\n")
    with pytest.raises(ConfigError) as error:
        evaluate_proposal(instance(), PLAN, read_moves_file(path))
    assert str(error.value).splitlines()[1:] == [
        "  - account 'a9' (moves.csv row 4) is not an account of the plan",
        "  - rep 'R22' (moves.csv row 5) is not in the roster; did you mean 'R2'?",
        "  - account a2 (moves.csv row 6) already belongs to R2",
    ]


@pytest.mark.parametrize(("text", "message"), [
    ("account,rep\na0,R2\n", "moves.csv, column account_id: is missing; a moves file has the columns account_id and "
                              "rep_id"),
    ("account_id,rep_id\na0,R2\na0,R1\n", "moves.csv row 3, column account_id: 'a0' is moved twice"),
    ("account_id,rep_id\na0,\n", "moves.csv row 2, column rep_id: is empty"),
    ("account_id,rep_id\n", "moves.csv: has no moves; give one row per account to move"),
    ("", "moves.csv: is empty; a moves file has a header row with account_id and rep_id"),
    # Blank lines only: the reader cannot tell how the file is split into columns.
    ("\n\n", "moves.csv: cannot be split into columns; save it as CSV (UTF-8) or .xlsx"),
    # Row numbers count blank lines, so that they match the file.
    ("account_id,rep_id\n\na0,R2\n\na1,\n", "moves.csv row 5, column rep_id: is empty"),
    ("account_id,rep_id\na0,R\xe92\n".encode("latin-1"), "moves.csv: is not UTF-8 text; save it as CSV (UTF-8)"),
])
def test_bad_moves_file_named(tmp_path, text, message):
    path = tmp_path / "moves.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(InputError) as error:
        read_moves_file(path)
    assert message in str(error.value)
