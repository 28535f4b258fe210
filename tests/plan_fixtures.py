"""Small hand-made accounts and reps for solver tests, as the frames load_inputs returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyproj import Geod

from optimizer.instance import Instance, build_instance
from optimizer.pipeline import prepare_accounts
from optimizer.inputs import Inputs
from optimizer.scenario import Scenario, scenario_from_dict

GEOD = Geod(ellps="WGS84")
HOME = (40.0, -100.0)


def point_at(km: float, azimuth: float = 270.0, origin: tuple[float, float] = HOME) -> tuple[float, float]:
    """Return (lat, lon) `km` kilometres from `origin` along `azimuth` degrees (geodesic)."""
    lon, lat, _ = GEOD.fwd(origin[1], origin[0], azimuth, km * 1000.0)
    return float(lat), float(lon)


def accounts_frame(rows: list[dict]) -> pd.DataFrame:
    """Accounts with defaults: located by coordinates at HOME, no owner, no lock, no industry."""
    defaults = {"name": "", "lat": HOME[0], "lon": HOME[1], "industry": "", "potential": 100.0,
                "current_owner": None, "locked_owner": None, "workload_hours": np.nan,
                "located_by": "coordinates"}
    frame = pd.DataFrame([{**defaults, **row} for row in rows])
    frame["row"] = np.arange(2, len(frame) + 2)
    return frame


def reps_frame(rows: list[dict]) -> pd.DataFrame:
    defaults = {"name": "", "lat": HOME[0], "lon": HOME[1], "capacity_hours": 1600.0, "max_accounts": None,
                "industries": ()}
    frame = pd.DataFrame([{**defaults, **row} for row in rows])
    frame["name"] = [name or rep_id for name, rep_id in zip(frame["name"], frame["rep_id"], strict=True)]
    frame["row"] = np.arange(2, len(frame) + 2)
    return frame


def make_inputs(accounts: list[dict], reps: list[dict]) -> Inputs:
    return Inputs(accounts=accounts_frame(accounts), reps=reps_frame(reps), skipped=[], signal_columns=())


def make_scenario(**sections) -> Scenario:
    """Scenario with a short time limit; keyword arguments are sections, e.g. balance={"potential": None}."""
    data = {"solver": {"time_limit_s": 20.0}, **sections}
    return scenario_from_dict(data)


def make_instance(accounts: list[dict], reps: list[dict], scenario: Scenario) -> Instance:
    inputs = make_inputs(accounts, reps)
    return build_instance(prepare_accounts(inputs, scenario), inputs.reps, scenario)
