"""Generate a synthetic planning instance on real US population points.

    python -m benchmarks.generate --accounts N --reps M --seed S --out DIR [--data DIR]

Writes DIR/accounts.csv and DIR/reps.csv in the input schema of `territory plan`: the columns of the
Inc. 5000 (2014) scenario, plus lat, lon and postal_code, so that every row is located by its
coordinates and no city lookup is needed. The same arguments give byte-identical files (with the same
numpy and pyproj versions).

How each part is drawn (all from one numpy Generator seeded with S):

- Account locations: 2010 ZCTA internal points (Census gazetteer), drawn with probability
  proportional to the ZCTA's 2010 population. Only the 50 states and DC are used. Puerto Rico is left
  out because a rep base there would not be plausible. Each account is then moved in a random
  direction by a geodesic offset of at most 2 km, and at most a quarter of the radius of a disc with
  the ZCTA's land area. Accounts in one ZCTA therefore do not coincide, but stay near its internal
  point. postal_code is the ZCTA code, and city and state come from the ZIP centroid table.
- potential: revenue and head count from a correlated log-normal (log revenue mean 16.4, sd 1.3; log
  employees mean 4.1, sd 1.3; correlation 0.7, close to the Inc. 5000 2014 list), then the scenario's
  rule 0.03 x revenue^0.85 + 600 x employees, rounded to 100 USD and clipped to [5,000, 900,000].
- industry: 24 names with skewed shares, from 14 % down to 1 %, close to the Inc. 5000 2014 list.
  icp_fit is 80, 50 or 20 by industry group. intent is the percentile (0-100) of a log-normal growth
  rate.
- Rep bases: ZCTA internal points, by systematic sampling along a Hilbert curve. The ZCTAs are put
  in curve order, each weighted by the potential of the accounts drawn there, and the bases are the
  ZCTAs at M equally spaced points of the cumulative weight (one random start). Each base then
  stands for about 1/M of the potential around it, so rep density follows account potential and the
  nearest-rep territories (the current owners) are roughly balanced. Drawing bases independently by
  population gave some reps 15 times their share of the potential. Weighted k-means puts centres
  between metros, in small towns, and costs N x M distances per iteration.
- Specialists: with at least 10 reps, max(2, round(0.8 x g x M)) reps (the last rep ids) cover only
  Government Services, whose share of the total potential is g. Together they get 0.6 x g of the
  total capacity, so their lower potential limits (95 % of a capacity-weighted target) need about
  57 % of that industry's potential.
- capacity_hours: the total is 1.35 times the workload of the default scenario rules (tiers of 10 % /
  30 % / 60 % of the accounts at 40 / 16 / 4 hours, so 11.2 hours per account on average). About 4 %
  of the generalists work half time. Capacities are whole hours.
- max_accounts: 1.5 times the rep's capacity share of the accounts, rounded up.
- current_owner: the nearest generalist by great-circle distance for about 93 % of the accounts,
  blank for the others. locked_owner: about 1 % of the owned accounts, locked to their owner.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import functools
import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.geodesy import WGS84
from optimizer.scenario import TierRules

logger = logging.getLogger(__name__)

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ZCTA_GAZETTEER = Path("us-zcta-2010") / "Gaz_zcta_national.txt.gz"
ZCTA_POPULATION = Path("us-zcta-2010") / "rural_urban.txt.gz"
ZIP_CENTROIDS = Path("us-zip-centroids") / "zips.json.bz2"

ACCOUNT_HEADER = ["account_id", "name", "lat", "lon", "postal_code", "city", "state", "country", "industry",
                  "annual_revenue", "employees", "growth_rate", "potential", "intent", "icp_fit",
                  "current_owner", "locked_owner"]
REP_HEADER = ["rep_id", "name", "lat", "lon", "postal_code", "city", "state", "capacity_hours", "max_accounts",
              "industries"]

# (industry, relative share in percent, icp_fit). Shares are close to those of the Inc. 5000 2014 list.
INDUSTRIES = [
    ("IT Services", 14.0, 80), ("Business Products & Services", 10.0, 50), ("Advertising & Marketing", 9.0, 50),
    ("Health", 7.0, 80), ("Software", 7.0, 80), ("Financial Services", 5.0, 80), ("Manufacturing", 5.0, 50),
    ("Government Services", 4.5, 50), ("Consumer Products & Services", 4.0, 20), ("Retail", 4.0, 20),
    ("Human Resources", 4.0, 50), ("Construction", 3.5, 20), ("Logistics & Transportation", 3.0, 50),
    ("Food & Beverage", 2.5, 20), ("Telecommunications", 2.5, 80), ("Energy", 2.0, 50), ("Real Estate", 2.0, 20),
    ("Education", 1.5, 50), ("Engineering", 1.5, 50), ("Security", 1.5, 80), ("Travel & Hospitality", 1.2, 20),
    ("Media", 1.1, 50), ("Insurance", 1.0, 80), ("Environmental Services", 1.0, 20),
]
SPECIALIST_INDUSTRY = "Government Services"

CAPACITY_RATIO = 1.35           # total capacity / total workload of the default tier rules
SPECIALIST_POTENTIAL_SHARE = 0.6  # share of their industry's potential that the specialists' targets add up to
HALF_TIME_SHARE = 0.04          # share of the generalists who work half time
MAX_ACCOUNTS_RATIO = 1.5        # max_accounts / the rep's capacity share of the accounts
UNOWNED_SHARE = 0.07
LOCKED_SHARE = 0.01
MAX_JITTER_KM = 2.0
HILBERT_ORDER = 16
OWNER_CHUNK = 20_000

NAME_FIRST = ["Acme", "Apex", "Beacon", "Blue", "Bright", "Cedar", "Clear", "Coastal", "Crest", "Delta",
              "Eagle", "Echo", "First", "Granite", "Harbor", "Iron", "Keystone", "Liberty", "Maple", "Meridian",
              "North", "Oak", "Pioneer", "Prairie", "Redwood", "Silver", "Summit", "Union", "Valley", "Vista"]
NAME_SECOND = ["Analytics", "Brands", "Capital", "Dynamics", "Foods", "Health", "Industries", "Labs", "Logistics",
               "Media", "Networks", "Partners", "Solutions", "Systems", "Works"]
NAME_SUFFIX = ["Inc.", "LLC", "Corp.", "Group", "Co."]


class UsageError(Exception):
    """An invalid argument or an unusable folder, reported as one line without a traceback."""


@dataclass
class Places:
    """Populated ZCTAs of the 50 states and DC: code, internal point, land area, population, city, state."""

    code: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    land_m2: np.ndarray
    population: np.ndarray
    city: np.ndarray
    state: np.ndarray

    def __len__(self) -> int:
        return len(self.code)


@functools.lru_cache(maxsize=2)
def load_places(data_dir: Path) -> Places:
    """Read the ZCTA gazetteer, its population table and the ZIP centroid table (for city and state).

    The result is cached per folder, so callers must not change its arrays.
    """
    for relative in (ZCTA_GAZETTEER, ZCTA_POPULATION, ZIP_CENTROIDS):
        if not (data_dir / relative).is_file():
            raise UsageError(f"data file {data_dir / relative} not found; give the shared data folder with --data")
    gazetteer = pd.read_csv(data_dir / ZCTA_GAZETTEER, sep="\t", dtype={"GEOID": str})
    gazetteer.columns = [column.strip() for column in gazetteer.columns]
    gazetteer = gazetteer.dropna(subset=["GEOID"])
    population = pd.read_csv(data_dir / ZCTA_POPULATION, sep="\t", dtype={"ZCTA5": str},
                             usecols=["ZCTA5", "urban_rural-population-total_population"])
    population.columns = ["GEOID", "population"]
    table = gazetteer.merge(population, on="GEOID", how="inner")

    records = json.loads(bz2.decompress((data_dir / ZIP_CENTROIDS).read_bytes()))
    city = {record["zip_code"]: record["city"] for record in records}
    state = {record["zip_code"]: record["state"] for record in records}

    # ZCTA codes below 01000 are Puerto Rico's.
    keep = (table["population"] > 0) & (table["GEOID"] >= "01000")
    table = table[keep].sort_values("GEOID").reset_index(drop=True)
    codes = table["GEOID"].to_numpy(dtype=str)
    return Places(
        code=codes,
        lat=table["INTPTLAT"].to_numpy(dtype=float),
        lon=table["INTPTLONG"].to_numpy(dtype=float),
        land_m2=table["ALAND"].to_numpy(dtype=float),
        population=table["population"].to_numpy(dtype=float),
        city=np.array([city.get(code, "") for code in codes], dtype=object),
        state=np.array([state.get(code, "") for code in codes], dtype=object),
    )


def default_workload_hours(account_count: int) -> float:
    """Return the total workload the default tier rules give `account_count` accounts.

    Quantile tiers take round(10 % x n) accounts for Tier 1 and round(40 % x n) for Tiers 1 and 2, as
    optimizer.scoring.assign_tiers counts them.
    """
    rules = TierRules()
    tier_1 = int(round(rules.tier_1_share * account_count))
    tier_12 = int(round((rules.tier_1_share + rules.tier_2_share) * account_count))
    return (rules.hours[1] * tier_1 + rules.hours[2] * (tier_12 - tier_1)
            + rules.hours[3] * (account_count - tier_12))


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Return points as unit vectors (n x 3). A larger dot product means a shorter great-circle distance."""
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def hilbert_index(x: np.ndarray, y: np.ndarray, order: int) -> np.ndarray:
    """Return the position of each cell (x, y), integers in [0, 2**order), along a Hilbert curve."""
    side = 1 << order
    x, y = x.astype(np.int64), y.astype(np.int64)
    position = np.zeros(len(x), dtype=np.int64)
    step = side >> 1
    while step > 0:
        in_right = (x & step) > 0
        in_top = (y & step) > 0
        position += step * step * ((3 * in_right.astype(np.int64)) ^ in_top.astype(np.int64))
        # Rotate the quadrant so that the curve inside it starts and ends next to its neighbouring quadrants.
        mirror = ~in_top & in_right
        x = np.where(mirror, side - 1 - x, x)
        y = np.where(mirror, side - 1 - y, y)
        x, y = np.where(in_top, x, y), np.where(in_top, y, x)
        step >>= 1
    return position


def pick_rep_sites(places: Places, accounts: pd.DataFrame, rep_count: int, rng: np.random.Generator) -> np.ndarray:
    """Return indices of `rep_count` distinct places, by systematic sampling of account potential along a
    Hilbert curve, so that each rep base stands for about 1/rep_count of the potential nearby."""
    if rep_count > len(places):
        raise UsageError(f"--reps {rep_count} is more than the {len(places):,} populated ZCTAs that can hold a rep "
                         "base; give fewer reps")
    site_of_account = np.searchsorted(places.code, accounts["postal_code"].to_numpy(dtype=str))
    weight = np.bincount(site_of_account, weights=accounts["potential"].to_numpy(dtype=float), minlength=len(places))

    # Longitude shrunk by the cosine of 38 degrees (mid-latitude of the contiguous states), so that curve
    # cells are roughly square on the ground.
    x = (places.lon - places.lon.min()) * math.cos(math.radians(38.0))
    y = places.lat - places.lat.min()
    scale = (2 ** HILBERT_ORDER - 1) / max(x.max(), y.max())
    along = np.argsort(hilbert_index(np.rint(x * scale), np.rint(y * scale), HILBERT_ORDER), kind="stable")

    cumulative = np.cumsum(weight[along])
    targets = (rng.random() + np.arange(rep_count)) / rep_count * cumulative[-1]
    position = np.searchsorted(cumulative, targets)
    # A place heavy enough to catch two targets gives its second rep to the next places along the curve.
    steps = np.arange(rep_count)
    position = np.maximum.accumulate(position - steps) + steps
    position = np.minimum(position, len(places) - rep_count + steps)
    return along[position]


def nearest_rep(account_vectors: np.ndarray, rep_vectors: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Return, per account, the rep among `candidates` nearest by great-circle distance."""
    nearest = np.empty(len(account_vectors), dtype=np.int64)
    for start in range(0, len(account_vectors), OWNER_CHUNK):
        block = account_vectors[start:start + OWNER_CHUNK] @ rep_vectors[candidates].T
        nearest[start:start + OWNER_CHUNK] = candidates[np.argmax(block, axis=1)]
    return nearest


def draw_accounts(places: Places, account_count: int, rng: np.random.Generator) -> pd.DataFrame:
    """Draw the accounts' places, offsets, firmographics, industries and signals (no owners yet)."""
    site = rng.choice(len(places), size=account_count, p=places.population / places.population.sum())
    radius_km = np.minimum(MAX_JITTER_KM, 0.25 * np.sqrt(places.land_m2[site] / math.pi) / 1000.0)
    distance_m = radius_km * np.sqrt(rng.random(account_count)) * 1000.0
    azimuth = rng.random(account_count) * 360.0 - 180.0
    lon, lat, _ = WGS84.fwd(places.lon[site], places.lat[site], azimuth, distance_m)

    z_revenue = rng.standard_normal(account_count)
    z_other = rng.standard_normal(account_count)
    log_revenue = 16.4 + 1.3 * z_revenue
    log_employees = 4.1 + 1.3 * (0.7 * z_revenue + math.sqrt(1 - 0.7 ** 2) * z_other)
    revenue = np.maximum(100_000.0, np.round(np.exp(log_revenue), -5))
    employees = np.maximum(1.0, np.round(np.exp(log_employees)))
    potential = np.clip(np.round((0.03 * revenue ** 0.85 + 600.0 * employees) / 100.0) * 100.0, 5_000.0, 900_000.0)

    growth = np.exp(rng.normal(0.6, 1.0, account_count))
    rank = np.empty(account_count)
    rank[np.argsort(growth, kind="stable")] = np.arange(1, account_count + 1)
    intent = np.rint(100.0 * rank / account_count).astype(np.int64)

    names, shares, fits = zip(*INDUSTRIES, strict=True)
    industry = rng.choice(len(names), size=account_count, p=np.array(shares) / sum(shares))

    first = rng.integers(len(NAME_FIRST), size=account_count)
    second = rng.integers(len(NAME_SECOND), size=account_count)
    suffix = rng.integers(len(NAME_SUFFIX), size=account_count)
    width = max(6, len(str(account_count)))
    return pd.DataFrame({
        "account_id": [f"SYN-{i:0{width}d}" for i in range(1, account_count + 1)],
        "name": [f"{NAME_FIRST[a]} {NAME_SECOND[b]} {NAME_SUFFIX[c]}" for a, b, c in zip(first, second, suffix)],
        "lat": np.asarray(lat, dtype=float),
        "lon": np.asarray(lon, dtype=float),
        "postal_code": places.code[site],
        "city": places.city[site],
        "state": places.state[site],
        "country": "US",
        "industry": np.array(names, dtype=object)[industry],
        "annual_revenue": revenue.astype(np.int64),
        "employees": employees.astype(np.int64),
        "growth_rate": np.round(growth, 2),
        "potential": potential.astype(np.int64),
        "intent": intent,
        "icp_fit": np.array(fits, dtype=np.int64)[industry],
    })


def specialist_count(rep_count: int, industry_share: float) -> int:
    if rep_count < 10:
        return 0
    return max(2, int(round(0.8 * industry_share * rep_count)))


def draw_reps(places: Places, accounts: pd.DataFrame, rep_count: int, rng: np.random.Generator) -> pd.DataFrame:
    """Place the reps, size their capacities and max_accounts, and mark the specialists."""
    # Ids in random order, so that the last ids (the specialists) are not all at the end of the curve.
    sites = rng.permutation(pick_rep_sites(places, accounts, rep_count, rng))
    potential = accounts["potential"].to_numpy(dtype=float)
    industry_share = float(potential[accounts["industry"].to_numpy() == SPECIALIST_INDUSTRY].sum() / potential.sum())
    specialists = specialist_count(rep_count, industry_share)
    generalists = rep_count - specialists

    total_capacity = CAPACITY_RATIO * default_workload_hours(len(accounts))
    specialist_total = SPECIALIST_POTENTIAL_SHARE * industry_share * total_capacity if specialists else 0.0
    half_time = np.zeros(rep_count, dtype=bool)
    half_time_count = int(round(HALF_TIME_SHARE * generalists))
    if half_time_count:
        half_time[rng.choice(generalists, size=half_time_count, replace=False)] = True
    full = (total_capacity - specialist_total) / (generalists - half_time_count / 2.0)
    capacity = np.where(half_time, full / 2.0, full)
    capacity[generalists:] = specialist_total / max(specialists, 1)
    capacity = np.maximum(1.0, np.rint(capacity))
    max_accounts = np.ceil(MAX_ACCOUNTS_RATIO * len(accounts) * capacity / capacity.sum() - 1e-9).astype(np.int64)

    width = max(2, len(str(rep_count)))
    industries = np.where(np.arange(rep_count) >= generalists, SPECIALIST_INDUSTRY, "")
    logger.info("reps: %d generalists (%d half time), %d %s specialists, capacity %.0f hours for %.0f hours of work",
                generalists, half_time_count, specialists, SPECIALIST_INDUSTRY, capacity.sum(),
                default_workload_hours(len(accounts)))
    return pd.DataFrame({
        "rep_id": [f"AE-{i:0{width}d}" for i in range(1, rep_count + 1)],
        "name": [f"Rep {i:0{width}d}" for i in range(1, rep_count + 1)],
        "lat": places.lat[sites],
        "lon": places.lon[sites],
        "postal_code": places.code[sites],
        "city": places.city[sites],
        "state": places.state[sites],
        "capacity_hours": capacity.astype(np.int64),
        "max_accounts": max_accounts,
        "industries": industries,
    })


def assign_owners(accounts: pd.DataFrame, reps: pd.DataFrame, rng: np.random.Generator) -> None:
    """Add current_owner (nearest generalist, blank for some) and locked_owner (a few owned accounts)."""
    generalists = np.flatnonzero(reps["industries"].to_numpy() == "")
    rep_ids = reps["rep_id"].to_numpy(dtype=object)
    if generalists.size == 0:
        accounts["current_owner"] = ""
        accounts["locked_owner"] = ""
        return
    nearest = nearest_rep(unit_vectors(accounts["lat"].to_numpy(), accounts["lon"].to_numpy()),
                          unit_vectors(reps["lat"].to_numpy(), reps["lon"].to_numpy()), generalists)
    owned = rng.random(len(accounts)) >= UNOWNED_SHARE
    locked = owned & (rng.random(len(accounts)) < LOCKED_SHARE)
    accounts["current_owner"] = np.where(owned, rep_ids[nearest], "")
    accounts["locked_owner"] = np.where(locked, rep_ids[nearest], "")


def generate(account_count: int, rep_count: int, seed: int, data_dir: Path = DEFAULT_DATA,
             places: Places | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (accounts, reps) frames with the columns of ACCOUNT_HEADER and REP_HEADER."""
    places = places if places is not None else load_places(data_dir)
    rng = np.random.default_rng(seed)
    accounts = draw_accounts(places, account_count, rng)
    reps = draw_reps(places, accounts, rep_count, rng)
    assign_owners(accounts, reps, rng)
    if account_count < 20 * rep_count:
        logger.warning("only %.1f accounts per rep, so the default +-5 %% potential band may allow no plan",
                       account_count / rep_count)
    return accounts[ACCOUNT_HEADER], reps[REP_HEADER]


def _text_columns(frame: pd.DataFrame, decimals: dict[str, int]) -> list[list[str]]:
    """Return the frame's columns as text, with a fixed number of decimals for the floats in `decimals`."""
    columns = []
    for name in frame.columns:
        values = frame[name].to_numpy()
        if name in decimals:
            columns.append([f"{value:.{decimals[name]}f}" for value in values])
        else:
            columns.append([str(value) for value in values])
    return columns


def write_csv(frame: pd.DataFrame, path: Path, decimals: dict[str, int]) -> None:
    """Write the frame as UTF-8 CSV with LF line ends, through a temporary file replaced at the end."""
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(frame.columns)
        writer.writerows(zip(*_text_columns(frame, decimals), strict=True))
    os.replace(partial, path)


def write_instance(out_dir: Path, accounts: pd.DataFrame, reps: pd.DataFrame) -> tuple[Path, Path]:
    accounts_path, reps_path = out_dir / "accounts.csv", out_dir / "reps.csv"
    write_csv(accounts, accounts_path, {"lat": 6, "lon": 6, "growth_rate": 2})
    write_csv(reps, reps_path, {"lat": 6, "lon": 6})
    return accounts_path, reps_path


def prepare_out_dir(out_dir: Path) -> None:
    """Create `out_dir` if needed; raise UsageError when it is a file or not writable."""
    if str(out_dir) == ".":
        raise UsageError("--out names no folder of its own; give a folder for accounts.csv and reps.csv")
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file; give a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create the folder {out_dir}: {error.strerror}") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write into {out_dir}; give a folder you may write to")


class OneLineParser(argparse.ArgumentParser):
    """Argument parser that reports a bad argument on one line and exits with code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not positive; give a whole number of at least 1")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative; give a whole number of at least 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m benchmarks.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", required=True, type=positive_int, help="number of accounts")
    parser.add_argument("--reps", required=True, type=positive_int, help="number of reps")
    parser.add_argument("--seed", type=non_negative_int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", required=True, type=Path, help="folder for accounts.csv and reps.csv")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"shared data folder with us-zcta-2010 and us-zip-centroids (default {DEFAULT_DATA})")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.monotonic()
    try:
        prepare_out_dir(args.out)
        accounts, reps = generate(args.accounts, args.reps, args.seed, args.data)
        accounts_path, reps_path = write_instance(args.out, accounts, reps)
    except UsageError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"{parser.prog}: error: cannot write into {args.out}: {error.strerror or error}", file=sys.stderr)
        return 2
    print(f"wrote {accounts_path} ({len(accounts):,} accounts) and {reps_path} ({len(reps):,} reps) "
          f"in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
