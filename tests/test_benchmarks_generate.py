"""The synthetic instance generator: same seed same bytes, the product's schema, exact counts, capacity
that fits, and a plan the validator accepts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import generate
from optimizer.geodesy import geodesic_km, spherical_km
from optimizer.inputs import load_inputs
from optimizer.instance import build_instance
from optimizer.pipeline import plan_from_inputs, prepare_accounts
from optimizer.scenario import Scenario
from optimizer.validator import check_plan

ACCOUNTS, REPS, SEED = 2000, 20, 7


def write(out: Path, accounts: int = ACCOUNTS, reps: int = REPS, seed: int = SEED) -> tuple[Path, Path]:
    assert generate.main(["--accounts", str(accounts), "--reps", str(reps), "--seed", str(seed), "--out", str(out)]) == 0
    return out / "accounts.csv", out / "reps.csv"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    return write(tmp_path_factory.mktemp("instance"))


@pytest.fixture(scope="module")
def inputs(files):
    return load_inputs(*files)


def test_same_seed_same_bytes(files, tmp_path):
    again = write(tmp_path / "again")

    assert again[0].read_bytes() == files[0].read_bytes()
    assert again[1].read_bytes() == files[1].read_bytes()


def test_other_seed_other_accounts(files, tmp_path):
    other = write(tmp_path / "other", seed=SEED + 1)

    assert other[0].read_bytes() != files[0].read_bytes()


def test_files_have_scenario_columns(files):
    accounts = pd.read_csv(files[0], dtype=str, keep_default_na=False)
    reps = pd.read_csv(files[1], dtype=str, keep_default_na=False)

    assert list(accounts.columns) == generate.ACCOUNT_HEADER
    assert list(reps.columns) == generate.REP_HEADER
    assert accounts["postal_code"].str.fullmatch(r"\d{5}").all()


def test_product_reads_every_row(inputs):
    assert len(inputs.accounts) == ACCOUNTS
    assert len(inputs.reps) == REPS
    assert inputs.skipped == []
    assert set(inputs.accounts["located_by"]) == {"coordinates"}
    assert set(inputs.signal_columns) == {"intent", "icp_fit"}


def test_default_workload_by_hand():
    # 300 accounts: 30 in Tier 1 (40 h), 90 in Tier 2 (16 h), 180 in Tier 3 (4 h).
    assert generate.default_workload_hours(300) == 30 * 40 + 90 * 16 + 180 * 4 == 3360
    assert generate.default_workload_hours(ACCOUNTS) == 200 * 40 + 600 * 16 + 1200 * 4 == 22400


def test_capacity_fits_workload(inputs):
    accounts = prepare_accounts(inputs, Scenario())
    workload = accounts["workload_hours"].sum()
    capacity = inputs.reps["capacity_hours"].sum()

    assert workload == 22400
    # 1.35 x 22,400 = 30,240 hours; each rep's capacity is rounded to whole hours.
    assert abs(capacity - 30240) <= REPS / 2


def test_max_accounts_from_capacity_share(inputs):
    reps = inputs.reps
    share = reps["capacity_hours"] / reps["capacity_hours"].sum()
    expected = np.ceil(1.5 * ACCOUNTS * share - 1e-9).astype(int)

    assert reps["max_accounts"].tolist() == expected.tolist()
    assert reps["max_accounts"].sum() >= 1.5 * ACCOUNTS


def test_two_specialists_last(inputs):
    industries = inputs.reps["industries"].tolist()

    assert industries[-2:] == [("Government Services",), ("Government Services",)]
    assert all(covered == () for covered in industries[:-2])


def test_potential_rounded_and_clipped(inputs):
    potential = inputs.accounts["potential"]

    assert (potential % 100 == 0).all()
    assert potential.min() >= 5_000
    assert potential.max() <= 900_000


def test_accounts_near_their_zcta_point(inputs):
    places = generate.load_places(generate.DEFAULT_DATA)
    site = np.searchsorted(places.code, inputs.accounts["postal_code"].to_numpy(dtype=str))
    offset = geodesic_km(inputs.accounts["lat"], inputs.accounts["lon"], places.lat[site], places.lon[site])

    assert (places.code[site] == inputs.accounts["postal_code"].to_numpy(dtype=str)).all()
    # Coordinates are written with 6 decimals, about 0.1 m.
    assert offset.max() <= generate.MAX_JITTER_KM + 0.001


def test_owner_is_nearest_generalist(inputs):
    accounts, reps = inputs.accounts, inputs.reps
    generalists = reps[reps["industries"].map(len) == 0]
    owned = accounts[accounts["current_owner"].notna()]
    distance = spherical_km(owned["lat"].to_numpy()[:, None], owned["lon"].to_numpy()[:, None],
                            generalists["lat"].to_numpy()[None, :], generalists["lon"].to_numpy()[None, :])
    nearest = generalists["rep_id"].to_numpy()[np.argmin(distance, axis=1)]

    assert (owned["current_owner"].to_numpy() == nearest).all()
    assert 0.05 * ACCOUNTS < ACCOUNTS - len(owned) < 0.09 * ACCOUNTS


def test_locks_keep_current_owner(inputs):
    locked = inputs.accounts[inputs.accounts["locked_owner"].notna()]

    assert (locked["locked_owner"] == locked["current_owner"]).all()
    assert 0.002 * ACCOUNTS < len(locked) < 0.02 * ACCOUNTS


def test_product_plan_passes_validator(inputs):
    scenario = Scenario().with_solver(time_limit_s=3.0)
    result = plan_from_inputs(inputs, scenario)
    instance = build_instance(prepare_accounts(inputs, scenario), inputs.reps, scenario)

    rep_index = {rep_id: r for r, rep_id in enumerate(instance.rep_ids)}
    by_account = dict(zip(result.assignments["account_id"], result.assignments["rep_id"], strict=True))
    plan = np.array([rep_index[by_account[account_id]] for account_id in instance.account_ids])

    assert result.assignments["rep_id"].notna().sum() == ACCOUNTS
    assert check_plan(instance, plan).violations == []


def test_hilbert_order_one_by_hand():
    cells = generate.hilbert_index(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 0]), 1)

    assert cells.tolist() == [0, 1, 2, 3]


def test_hilbert_steps_to_neighbours():
    x, y = (grid.ravel() for grid in np.meshgrid(np.arange(8), np.arange(8)))
    order = np.argsort(generate.hilbert_index(x, y, 3))

    assert sorted(generate.hilbert_index(x, y, 3).tolist()) == list(range(64))
    assert (np.abs(np.diff(x[order])) + np.abs(np.diff(y[order])) == 1).all()


def test_rep_sites_distinct_when_one_place_dominates():
    places = generate.load_places(generate.DEFAULT_DATA)
    # One account has all the potential, so every target falls in its place before the shift.
    accounts = pd.DataFrame({"postal_code": [places.code[100]], "potential": [1000.0]})

    sites = generate.pick_rep_sites(places, accounts, 5, np.random.default_rng(0))

    assert len(set(sites.tolist())) == 5


@pytest.mark.parametrize("argument, value, message", [
    ("--accounts", "0", "0 is not positive"),
    ("--reps", "-3", "-3 is not positive"),
    ("--accounts", "ten", "'ten' is not a whole number"),
    ("--seed", "-1", "-1 is negative"),
])
def test_bad_argument_one_line(argument, value, message, tmp_path, capsys):
    arguments = {"--accounts": "10", "--reps": "2", "--seed": "1", "--out": str(tmp_path)}
    arguments[argument] = value

    with pytest.raises(SystemExit) as stopped:
        generate.main([item for pair in arguments.items() for item in pair])

    error = capsys.readouterr().err
    assert stopped.value.code == 2
    assert error.count("\n") == 1
    assert message in error


def test_out_is_file_one_line(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("not a folder")

    code = generate.main(["--accounts", "10", "--reps", "2", "--out", str(target)])

    error = capsys.readouterr().err
    assert code == 2
    assert error.count("\n") == 1
    assert "is a file" in error


def test_too_many_reps_one_line(tmp_path, capsys):
    code = generate.main(["--accounts", "10", "--reps", "40000", "--out", str(tmp_path)])

    error = capsys.readouterr().err
    assert code == 2
    assert error.count("\n") == 1
    assert "populated ZCTAs" in error
