"""The `territory` command as a user runs it: a separate process, real files, exit codes and messages."""

from __future__ import annotations

import csv
import json
import shutil
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = Path(__file__).resolve().parents[2] / "shared" / "data" / "scenarios" / "inc5000-2014"
ASSIGNMENT_COLUMNS = ["account_id", "rep_id", "previous_owner", "moved", "tier", "score", "potential",
                      "workload_hours", "distance_km", "located_by"]


def territory(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "optimizer.cli", *args], capture_output=True, text=True,
                          check=False, cwd=cwd)


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as source:
        return list(csv.DictReader(source))


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as sink:
        writer = csv.DictWriter(sink, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def small_files(tmp_path):
    accounts = [
        {"account_id": "A1", "name": "North", "lat": "32.78", "lon": "-96.80", "postal_code": "", "city": "",
         "state": "", "industry": "Health", "potential": "120000", "current_owner": "R1"},
        {"account_id": "a1", "name": "Lower-case id", "lat": "", "lon": "", "postal_code": "75201", "city": "",
         "state": "", "industry": "Health", "potential": "80000", "current_owner": "R2"},
        {"account_id": "A2", "name": "By city", "lat": "", "lon": "", "postal_code": "", "city": "Ft. Worth",
         "state": "TX", "industry": "Energy", "potential": "100000", "current_owner": ""},
        {"account_id": "A3", "name": "Houston", "lat": "29.76", "lon": "-95.37", "postal_code": "", "city": "",
         "state": "", "industry": "Energy", "potential": "100000", "current_owner": "R2"},
        {"account_id": "A4", "name": "Nowhere", "lat": "", "lon": "", "postal_code": "", "city": "Atlantis",
         "state": "TX", "industry": "Energy", "potential": "5000", "current_owner": ""},
    ]
    reps = [{"rep_id": "R1", "name": "Dallas", "lat": "32.78", "lon": "-96.80", "capacity_hours": "1600",
             "max_accounts": "", "industries": ""},
            {"rep_id": "R2", "name": "Houston", "lat": "29.76", "lon": "-95.37", "capacity_hours": "1600",
             "max_accounts": "", "industries": ""}]
    return write_csv(tmp_path / "accounts.csv", accounts), write_csv(tmp_path / "reps.csv", reps)


def test_plan_writes_every_file(small_files, tmp_path):
    accounts, reps = small_files
    out = tmp_path / "plan"
    completed = territory("plan", "--accounts", str(accounts), "--reps", str(reps), "--out", str(out),
                          "--time-limit", "10")

    assert completed.returncode == 0, completed.stderr
    assert sorted(path.name for path in out.iterdir()) == [".territory-files", "assignments.csv", "map.html",
                                                           "map.png", "metrics.json", "territories.geojson"]
    table = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    assert list(table.columns) == ASSIGNMENT_COLUMNS
    assert table["account_id"].tolist() == ["A1", "a1", "A2", "A3", "A4"]
    assert table.set_index("account_id").loc["A4", "rep_id"] == ""
    assert table.set_index("account_id").loc["A4", "located_by"] == "not_located"
    assert table.set_index("account_id").loc["A2", "located_by"] == "city"

    metrics = json.loads((out / "metrics.json").read_text(), parse_constant=pytest.fail)
    assert set(metrics["solver"]) >= {"status", "objective", "lower_bound", "gap", "time_s", "seed", "workers",
                                      "version"}
    assert metrics["summary"]["potential_not_located"] == 5000.0
    features = json.loads((out / "territories.geojson").read_text())["features"]
    assert [feature["properties"]["rep_id"] for feature in features] == ["R1", "R2"]
    assert "potential USD" in completed.stdout
    assert "5,000 USD in accounts not located" in completed.stdout


def test_repeatable_same_seed_same_file(small_files, tmp_path):
    accounts, reps = small_files
    for name in ("first", "second"):
        completed = territory("plan", "--accounts", str(accounts), "--reps", str(reps), "--out",
                              str(tmp_path / name), "--seed", "5", "--workers", "2", "--time-limit", "10",
                              "--repeatable")
        assert completed.returncode == 0, completed.stderr

    assert (tmp_path / "first" / "assignments.csv").read_bytes() == (tmp_path / "second" / "assignments.csv").read_bytes()


@pytest.mark.parametrize(("change", "code", "message"), [
    ({"potential": "-5"}, 2, "potential: '-5'"),
    ({"current_owner": "R9"}, 2, "current_owner: 'R9'"),
    ({"lat": "0", "lon": "0"}, 2, "(0, 0)"),
], ids=["negative-potential", "unknown-owner", "zero-coordinates"])
def test_bad_row_stops_without_writing(small_files, tmp_path, change, code, message):
    accounts, reps = small_files
    rows = read_csv(accounts)
    rows[0].update(change)
    write_csv(accounts, rows)
    out = tmp_path / "plan"
    completed = territory("plan", "--accounts", str(accounts), "--reps", str(reps), "--out", str(out))

    assert completed.returncode == code
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not out.exists()


def test_failed_run_keeps_old_plan(small_files, tmp_path):
    accounts, reps = small_files
    out = tmp_path / "plan"
    out.mkdir()
    (out / "assignments.csv").write_text("old plan\n")
    rows = read_csv(reps)
    for row in rows:
        row["capacity_hours"] = "1"
    write_csv(reps, rows)
    completed = territory("plan", "--accounts", str(accounts), "--reps", str(reps), "--out", str(out))

    assert completed.returncode == 3
    assert "total workload is" in completed.stderr
    assert (out / "assignments.csv").read_text() == "old plan\n"
    assert sorted(path.name for path in out.iterdir()) == ["assignments.csv"]


@pytest.mark.parametrize(("args", "message"), [
    (["--time-limit", "0"], "--time-limit must be a positive number of seconds, got 0"),
    (["--workers", "0"], "--workers must be at least 1, got 0"),
    (["--account-column", "account_id"], "--account-column 'account_id' is not NAME=HEADER"),
    (["--seed", "3000000000"], "solver.seed: Input should be less than or equal to 2147483647"),
], ids=["time-limit", "workers", "column-map", "seed-too-large"])
def test_bad_option_message(small_files, tmp_path, args, message):
    accounts, reps = small_files
    completed = territory("plan", "--accounts", str(accounts), "--reps", str(reps), "--out", str(tmp_path / "o"),
                          *args)

    assert completed.returncode == 2
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr


def test_out_naming_current_folder_rejected(small_files, tmp_path):
    accounts, reps = small_files
    work = tmp_path / "work"
    work.mkdir()
    completed = territory("plan", "--accounts", str(accounts), "--reps", str(reps), "--out", "", cwd=work)

    assert completed.returncode == 2
    assert "--out '.' names no folder of its own" in completed.stderr
    assert list(work.iterdir()) == []


def test_missing_file_message(tmp_path):
    completed = territory("plan", "--accounts", str(tmp_path / "none.csv"), "--reps", str(tmp_path / "r.csv"),
                          "--out", str(tmp_path / "o"))

    assert completed.returncode == 2
    assert "none.csv" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_demo_runs(tmp_path):
    completed = territory("demo", "--out", str(tmp_path / "demo"), "--time-limit", "15", cwd=tmp_path)

    assert completed.returncode == 0, completed.stderr
    metrics = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert metrics["summary"]["accounts"] == 900
    assert metrics["location"]["located"] == 900
    assert metrics["solver"]["gap"] is not None


def test_inc5000_plan_end_to_end(tmp_path):
    out = tmp_path / "plan"
    completed = territory("plan", "--accounts", str(SCENARIO / "accounts.csv"), "--reps", str(SCENARIO / "reps.csv"),
                          "--out", str(out), "--time-limit", "30")

    assert completed.returncode == 0, completed.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["location"]["located_share"] >= 0.995
    assert metrics["summary"]["assigned"] == metrics["location"]["located"]
    assert metrics["balance"]["potential"]["max_deviation_from_target"] <= 0.05 + 1e-9
    assert metrics["solver"]["gap"] is not None
    assert metrics["solver"]["lower_bound"] <= metrics["solver"]["objective"]


@pytest.mark.parametrize(("column", "value", "cause"), [
    ("capacity_hours", lambda row: f"{float(row['capacity_hours']) * 40000 / 77600:.4f}",
     "total workload is 55,920 hours but the reps' total capacity is 40,000 hours (15,920 hours short)"),
    ("capacity_hours", lambda row: "1600" if row["industries"] else row["capacity_hours"],
     "reps AE-49, AE-50 take only Government Services; their lower potential limits add up to 28,478,379 USD "
     "but those accounts hold 26,176,500 USD in total"),
], ids=["capacity-40000", "specialists-1600"])
def test_inc5000_infeasible_variants(tmp_path, column, value, cause):
    rows = read_csv(SCENARIO / "reps.csv")
    for row in rows:
        row[column] = value(row)
    reps = write_csv(tmp_path / "reps.csv", rows)
    completed = territory("plan", "--accounts", str(SCENARIO / "accounts.csv"), "--reps", str(reps),
                          "--out", str(tmp_path / "plan"))

    assert completed.returncode == 3
    assert cause in completed.stderr
    assert "Traceback" not in completed.stderr


def test_skipped_rows_are_listed(small_files, tmp_path):
    accounts, reps = small_files
    rows = read_csv(accounts)
    rows[1]["potential"] = "lots"
    write_csv(accounts, rows)
    # Without row 3 the accounts cannot balance within +-5 %, so the band is widened.
    config = tmp_path / "wide.yaml"
    config.write_text("balance:\n  potential: 0.5\n")
    out = tmp_path / "plan"
    completed = territory("plan", "--accounts", str(accounts), "--reps", str(reps), "--out", str(out),
                          "--skip-bad-rows", "--config", str(config), "--time-limit", "10")

    assert completed.returncode == 0, completed.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["summary"]["skipped_rows"]) == 1
    assert metrics["summary"]["skipped_rows"][0].startswith("accounts.csv row 3, column potential: 'lots'")
    table = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    assert "a1" not in table["account_id"].tolist()
    assert "skipped rows: 1" in completed.stdout


def test_boundary_layer_draws_territories(small_files, tmp_path):
    # A north square (Dallas, Fort Worth) and a south square (Houston). Balance gives R1 both Dallas
    # accounts and R2 Fort Worth and Houston; each unit goes to the rep with most potential in it.
    accounts, reps = small_files
    squares = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"unit": "north"},
         "geometry": {"type": "Polygon", "coordinates": [[[-99, 31.5], [-94, 31.5], [-94, 34], [-99, 34], [-99, 31.5]]]}},
        {"type": "Feature", "properties": {"unit": "south"},
         "geometry": {"type": "Polygon", "coordinates": [[[-99, 28], [-94, 28], [-94, 31.5], [-99, 31.5], [-99, 28]]]}},
    ]}
    layer = tmp_path / "units.geojson"
    layer.write_text(json.dumps(squares))
    out = tmp_path / "plan"
    completed = territory("plan", "--accounts", str(accounts), "--reps", str(reps), "--out", str(out),
                          "--boundaries", str(layer), "--time-limit", "10")

    assert completed.returncode == 0, completed.stderr
    features = json.loads((out / "territories.geojson").read_text())["features"]
    shapes = {feature["properties"]["rep_id"]: feature["geometry"] for feature in features}
    assert shapes["R1"]["type"] == "Polygon"
    assert sorted(point[1] for point in shapes["R1"]["coordinates"][0])[0] == 31.5
    assert shapes["R2"]["type"] == "Polygon"
    assert sorted(point[1] for point in shapes["R2"]["coordinates"][0])[0] == 28


def test_config_not_utf8_is_invalid_input(small_files, tmp_path):
    accounts, reps = small_files
    config = tmp_path / "latin1.yaml"
    config.write_bytes("balance:\n  potential: 0.1 # marge \xe9largie\n".encode("latin-1"))
    out = tmp_path / "plan"
    completed = territory("plan", "--accounts", str(accounts), "--reps", str(reps), "--out", str(out),
                          "--config", str(config))

    assert completed.returncode == 2
    assert f"scenario file {config} is not UTF-8 text (the byte at offset 34 is 0xe9); save it as UTF-8" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not out.exists()


def plan_with_cell(small_files, tmp_path, row: int, column: str, value: str) -> tuple[subprocess.CompletedProcess, Path]:
    """Plan the small files with one account cell changed; return the finished process and the output folder."""
    accounts, _ = small_files
    rows = read_csv(accounts)
    rows[row][column] = value
    write_csv(accounts, rows)
    return plan_small(small_files, tmp_path)


def plan_small(small_files, tmp_path) -> tuple[subprocess.CompletedProcess, Path]:
    """Plan the small files in 10 s; return the finished process and the output folder."""
    accounts, reps = small_files
    out = tmp_path / "plan"
    completed = territory("plan", "--accounts", str(accounts), "--reps", str(reps), "--out", str(out),
                          "--time-limit", "10")
    return completed, out


def plan_for_a3(small_files, tmp_path) -> tuple[Path, pd.Series, str]:
    """Plan the small files; return the plan folder, the rep of each account, and a rep A3 does not have."""
    planned, out = plan_small(small_files, tmp_path)
    assert planned.returncode == 0, planned.stderr
    owner = pd.read_csv(out / "assignments.csv", dtype=str).set_index("account_id")["rep_id"]
    return out, owner, "R1" if owner["A3"] == "R2" else "R2"


def test_flipped_longitude_warned(small_files, tmp_path):
    """An account typed at longitude +95.37 is planned, and the report names it with the likely fix."""
    completed, out = plan_with_cell(small_files, tmp_path, 3, "lon", "95.37")

    assert completed.returncode == 0, completed.stderr
    warning = ("account A3 at (29.7600, 95.3700) lies 12,965 km from its nearest rep, R1, while half of the "
               "accounts lie within 25 km of a rep; with longitude -95.3700 instead of 95.3700 it would lie 0 km "
               "from the nearest rep; check its coordinates if it does not belong there")
    assert f"warning: {warning}" in completed.stdout
    assert json.loads((out / "metrics.json").read_text())["warnings"] == [
        "1 account could not be located and is left out of the plan: A4 (city 'Atlantis' not found in TX); "
        "assignments.csv marks it not_located",
        warning,
    ]


def test_out_inside_file_is_invalid_input(small_files, tmp_path):
    accounts, reps = small_files
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder\n")
    completed = territory("plan", "--accounts", str(accounts), "--reps", str(reps), "--out", str(blocker / "plan"))

    assert completed.returncode == 2
    assert completed.stderr.strip() == (f"error: --out {blocker / 'plan'} lies inside {blocker}, which is a file, "
                                        "not a folder; give a folder for the plan's files")
    assert blocker.read_text() == "not a folder\n"


def test_coordinates_far_from_postal_code_warned(small_files, tmp_path):
    """A1 gives Dallas coordinates and the Boston ZIP code 02115: the coordinates are used and the conflict named."""
    completed, out = plan_with_cell(small_files, tmp_path, 0, "postal_code", "02115")

    assert completed.returncode == 0, completed.stderr
    warnings = json.loads((out / "metrics.json").read_text())["warnings"]
    assert warnings[1] == ("1 account lies more than 100 km from its own postal code, and the coordinates were "
                           "used: A1 (2,494 km from the centre of 02115); check which of the two is right")
    table = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False).set_index("account_id")
    assert table.loc["A1", "located_by"] == "coordinates"


def test_propose_reports_broken_band(small_files, tmp_path):
    """Giving Houston's account to the Dallas rep breaks the +-5 % potential band: exit 3 and the verdict."""
    accounts, reps = small_files
    out, owner, other = plan_for_a3(small_files, tmp_path)

    completed = territory("propose", "--accounts", str(accounts), "--reps", str(reps), "--plan", str(out),
                          "--move", f"A3={other}", "--json")

    assert completed.returncode == 3, completed.stderr
    result = json.loads(completed.stdout)
    assert result["moves"] == [{"account_id": "A3", "from": owner["A3"], "to": other}]
    assert result["ok"] is False
    assert all("outside its band" in violation for violation in result["violations"])
    assert len(result["violations"]) == 2


def test_propose_into_closed_pipe_is_quiet(small_files, tmp_path):
    """A reader that stops early (`| head`) closes the pipe: the command ends with 141, as SIGPIPE would, and
    prints no error."""
    accounts, reps = small_files
    planned, out = plan_small(small_files, tmp_path)
    assert planned.returncode == 0, planned.stderr
    read_end, write_end = os.pipe()
    process = subprocess.Popen([sys.executable, "-m", "optimizer.cli", "propose", "--accounts", str(accounts),
                                "--reps", str(reps), "--plan", str(out), "--move", "A1=R2"],
                               stdout=write_end, stderr=subprocess.PIPE)
    os.close(write_end)
    os.close(read_end)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 141
    assert stderr == b""


def test_propose_out_writes_changed_plan(small_files, tmp_path):
    """--out writes the changed plan only with consent when it breaks rules; its files carry the breach."""
    accounts, reps = small_files
    out, owner, other = plan_for_a3(small_files, tmp_path)
    changed = tmp_path / "changed"
    command = ["propose", "--accounts", str(accounts), "--reps", str(reps), "--plan", str(out), "--move", f"A3={other}",
               "--out", str(changed)]

    blocked = territory(*command)
    assert blocked.returncode == 3
    assert "not written: the change breaks 2 rule(s); add --accept-violations" in blocked.stderr
    assert not changed.exists()

    accepted = territory(*command, "--accept-violations")
    assert accepted.returncode == 0, accepted.stderr
    assert sorted(path.name for path in changed.iterdir() if not path.name.startswith(".")) == [
        "assignments.csv", "map.html", "map.png", "metrics.json", "territories.geojson"]
    after = pd.read_csv(changed / "assignments.csv", dtype=str).set_index("account_id")["rep_id"]
    assert after.to_dict() == {**owner.to_dict(), "A3": other}
    solved = json.loads((out / "metrics.json").read_text())["solver"]
    metrics = json.loads((changed / "metrics.json").read_text())
    assert metrics["solver"]["lower_bound"] == solved["lower_bound"]
    assert metrics["solver"]["objective"] > solved["objective"]
    # The bound holds for plans that keep every rule, so a plan that breaks one states no gap.
    assert metrics["solver"]["status"] == "breaks rules"
    assert metrics["solver"]["gap"] is None
    breaches = [warning for warning in metrics["warnings"] if "although it breaks this rule" in warning]
    assert len(breaches) == 2
    assert all("outside its band" in warning for warning in breaches)


def test_compare_plan_and_changed_plan(small_files, tmp_path):
    """A plan and the same plan with one account moved: the table, the JSON and the written files agree."""
    accounts, reps = small_files
    out, owner, other = plan_for_a3(small_files, tmp_path)
    changed = tmp_path / "changed"
    proposed = territory("propose", "--accounts", str(accounts), "--reps", str(reps), "--plan", str(out), "--move",
                         f"A3={other}", "--out", str(changed), "--accept-violations")
    assert proposed.returncode == 0, proposed.stderr

    compared = territory("compare", str(out), str(changed), "--name", "solved", "--name", "swap", "--json")
    assert compared.returncode == 0, compared.stderr
    result = json.loads(compared.stdout)
    values = {row["measure"]: row["values"] for row in result["measures"]}
    solved = json.loads((out / "metrics.json").read_text())
    swapped = json.loads((changed / "metrics.json").read_text())
    assert result["plans"] == ["solved", "swap"]
    assert values["objective"] == [solved["solver"]["objective"], swapped["solver"]["objective"]]
    assert values["lower bound"] == [solved["solver"]["lower_bound"]] * 2
    assert values["accounts moved"] == [solved["disruption"]["accounts_moved"],
                                        swapped["disruption"]["accounts_moved"]]

    written = territory("compare", str(out), str(changed), "--out", str(tmp_path / "compared"))
    assert written.returncode == 0, written.stderr
    assert "objective (hour-km)" in written.stdout
    csv_rows = pd.read_csv(tmp_path / "compared" / "comparison.csv", index_col="measure")
    assert list(csv_rows.columns) == ["unit", "plan", "changed"]
    assert (tmp_path / "compared" / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_bad_input_is_one_message(small_files, tmp_path):
    planned, out = plan_small(small_files, tmp_path)
    assert planned.returncode == 0, planned.stderr

    names = territory("compare", str(out), str(out), "--name", "only one")
    assert names.returncode == 2
    assert names.stderr.strip() == ("error: --name is given 1 time(s) for 2 plan(s); give one name per plan, in the "
                                    "same order, or none")
    assert territory("compare", str(out)).stderr.strip() == "error: compare takes 2 to 8 plan folders, not 1"
    twice = territory("compare", str(out), str(tmp_path / "." / "plan"), "--name", "a", "--name", "b")
    assert twice.returncode == 2
    assert twice.stderr.strip() == f"error: the plan in {out.resolve()} is given twice; give each plan once"
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    same_name = territory("compare", str(out), str(copy), "--name", "a", "--name", "a")
    assert same_name.stderr.strip() == "error: --name 'a' is given twice; give each plan a name of its own"
    into_plan = territory("compare", str(out), str(copy), "--out", str(copy))
    assert into_plan.returncode == 2
    assert "is one of the plans compared, and writing there would remove its files" in into_plan.stderr
    assert (copy / "assignments.csv").exists()
    missing = territory("compare", str(out), str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert f"{tmp_path / 'nowhere'}: does not exist; give a folder that territory plan wrote" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_propose_out_needs_metrics(small_files, tmp_path):
    accounts, reps = small_files
    planned, out = plan_small(small_files, tmp_path)
    assert planned.returncode == 0, planned.stderr
    (out / "metrics.json").unlink()
    completed = territory("propose", "--accounts", str(accounts), "--reps", str(reps), "--plan", str(out),
                          "--move", "A1=R2", "--out", str(tmp_path / "changed"))

    assert completed.returncode == 2
    assert "metrics.json" in completed.stderr
    assert "is missing; --out needs the folder that territory plan wrote" in completed.stderr
    assert "Traceback" not in completed.stderr

    (out / "metrics.json").write_text('{"solver": {"objective": 10.0, "lower_bound": "abc"}}')
    text_bound = territory("propose", "--accounts", str(accounts), "--reps", str(reps), "--plan", str(out),
                           "--move", "A1=R2", "--out", str(tmp_path / "changed"))
    assert text_bound.returncode == 2
    assert "has no solver section with a numeric objective and lower_bound" in text_bound.stderr

    (out / "metrics.json").write_text('{"solver": {"objective": 10.0, "lower_bound": NaN}}')
    not_a_number = territory("propose", "--accounts", str(accounts), "--reps", str(reps), "--plan", str(out),
                             "--move", "A1=R2", "--out", str(tmp_path / "changed"))
    assert not_a_number.returncode == 2
    assert "has no solver section with a numeric objective and lower_bound" in not_a_number.stderr

    into_plan = territory("propose", "--accounts", str(accounts), "--reps", str(reps), "--plan", str(out),
                          "--move", "A1=R2", "--out", str(out))
    assert into_plan.returncode == 2
    assert "is the folder of the plan the change applies to, and writing there would replace that plan" \
        in into_plan.stderr

    nowhere = territory("propose", "--accounts", str(accounts), "--reps", str(reps), "--plan",
                        str(tmp_path / "nowhere"), "--move", "A1=R2", "--out", str(tmp_path / "changed"))
    assert nowhere.returncode == 2
    assert f"{tmp_path / 'nowhere'}: does not exist; give the folder that territory plan wrote" in nowhere.stderr
    assert not (tmp_path / "changed").exists()


def test_propose_moves_file(small_files, tmp_path):
    """Moves from a file and from --move apply together; a file and --move naming one account is refused."""
    accounts, reps = small_files
    out, owner, other = plan_for_a3(small_files, tmp_path)
    moves = tmp_path / "moves.csv"
    moves.write_text(f"account_id,rep_id\nA3,{other}\n")
    second = "A1" if owner["A1"] != other else "A2"

    completed = territory("propose", "--accounts", str(accounts), "--reps", str(reps), "--plan", str(out),
                          "--moves-file", str(moves), "--move", f"{second}={other}", "--json")
    assert completed.returncode in (0, 3), completed.stderr
    assert {move["account_id"] for move in json.loads(completed.stdout)["moves"]} == {"A3", second}

    twice = territory("propose", "--accounts", str(accounts), "--reps", str(reps), "--plan", str(out),
                      "--moves-file", str(moves), "--move", f"A3={owner['A3']}")
    assert twice.returncode == 2
    assert "--move names account A3 twice, or one that --moves-file names" in twice.stderr

    moves.write_text(f"account_id,rep_id\nA3,{other}\nA33,{other}\n")
    not_in_plan = territory("propose", "--accounts", str(accounts), "--reps", str(reps), "--plan", str(out),
                        "--moves-file", str(moves))
    assert not_in_plan.returncode == 2
    assert "account 'A33' (moves.csv row 3) is not an account of the plan; did you mean" in not_in_plan.stderr


@pytest.mark.parametrize("move", ["A3", "A3=R1=R2", "=R1"])
def test_propose_bad_move_is_invalid_input(small_files, tmp_path, move):
    accounts, reps = small_files
    completed = territory("propose", "--accounts", str(accounts), "--reps", str(reps), "--plan", str(tmp_path),
                          "--move", move)

    assert completed.returncode == 2
    assert completed.stderr.strip() == (f"error: --move {move!r} is not ACCOUNT=REP; write for example "
                                        "--move ACC-017=AE-02")


def test_band_of_five_is_invalid_input(small_files, tmp_path):
    """A bare 5 would mean +-500 %; the run stops with both readings instead of planning a loose band."""
    accounts, reps = small_files
    config = tmp_path / "five.yaml"
    config.write_text("balance:\n  potential: 5\n")
    out = tmp_path / "plan"
    completed = territory("plan", "--accounts", str(accounts), "--reps", str(reps), "--out", str(out),
                          "--config", str(config))

    assert completed.returncode == 2
    assert 'balance.potential: 5 would mean +-500 %' in completed.stderr
    assert 'write 0.05 or "5%" for +-5 %' in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not out.exists()


def test_ctrl_c_stops_search_and_writes_nothing(tmp_path):
    """Ctrl-C while CP-SAT searches stops the run with exit code 130 and no files, long before the
    120 s limit. Before, CP-SAT caught the signal itself, so the run went on and wrote its plan."""
    demo = ROOT / "data" / "demo"
    out = tmp_path / "plan"
    process = subprocess.Popen([sys.executable, "-m", "optimizer.cli", "plan", "--accounts", str(demo / "accounts.csv"),
                                "--reps", str(demo / "reps.csv"), "--time-limit", "120", "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "best plan" in line:
            break
    process.send_signal(signal.SIGINT)
    try:
        rest, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the run went on for 30 s after Ctrl-C:\n" + "".join(lines))
    assert any("best plan" in line for line in lines)
    assert process.returncode == 130
    assert rest.strip().endswith("interrupted; no files were written")
    assert not out.exists() or list(out.iterdir()) == []
