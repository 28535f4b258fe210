"""Build the demo data set data/demo/accounts.csv and data/demo/reps.csv.

Usage, from the repository root::

    python data/make_demo.py

The demo has 900 synthetic accounts and 10 reps in nine South-Central and South-East US states. The
accounts sit on real ZIP code centroids from the ``zipcodes`` package (version 1.3.0, file
``zips.json.bz2``), and every name is invented. ZIP codes are drawn with a weight equal to the number of
ZIP codes of their city, so big cities get most accounts.

An account's location is given in one of three ways, so that loading the demo runs all of the offline
gazetteer: coordinates (60 %), a postal code alone (25 %, some as ZIP+4) or a city and state (15 %,
with "Saint" and "Fort" written "St." and "Ft.").

The output depends only on the seed, the constants below and the ZIP table, and the same numpy version
rewrites both files byte for byte. NOTE: numpy's compatibility policy (NEP 19) allows the values that
``Generator`` methods draw to change between numpy versions, so another version may draw another demo.

Before writing, the script asserts that the demo leaves room for a plan under the default rules of
``optimizer/scenario.py``. It checks total workload against capacity, the account count against
max_accounts, and whether the Government Services specialist can reach the potential band from
Government Services accounts alone. It scores and tiers accounts with the product's code, so the
project must be installed (``pip install -e .``).
"""

from __future__ import annotations

import argparse
import bz2
import csv
import importlib.resources
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.scenario import SIGNALS, Scenario
from optimizer.scoring import assign_tiers, score_accounts, workload_hours

logger = logging.getLogger(__name__)

SEED = 20240601
ACCOUNT_COUNT = 900
REGION_STATES = ("TX", "OK", "LA", "AR", "MS", "AL", "TN", "GA", "FL")
DEFAULT_OUTPUT_DIR = Path(__file__).resolve().parent / "demo"

# Exact shares of the location methods. The rest of the rows (15 %) give a city and state.
COORDINATE_SHARE = 0.60
POSTAL_CODE_SHARE = 0.25
ZIP_PLUS_4_SHARE = 0.20  # of the postal-code rows
JITTER_MAX_DEGREES = 0.01  # accounts of one ZIP code do not share a single point

NEW_ACCOUNT_SHARE = 0.10  # accounts without a current owner
LOCKED_SHARE = 0.01
RELATIONSHIP_BLANK_SHARE = 0.40  # includes every new account, because a new account has no relationship yet
ENGAGEMENT_BLANK_SHARE = 0.10

# Log-normal potential in USD: median 35,000, so the mean is about 64,000 before clipping.
POTENTIAL_MEDIAN = 35_000.0
POTENTIAL_SIGMA = 1.1
POTENTIAL_MIN, POTENTIAL_MAX = 5_000, 600_000

GOVERNMENT = "Government Services"
# Government Services gets 11 % of the accounts. The specialist's potential band needs about 6.5 % of
# all potential from these accounts alone (0.95 x a capacity share of 6.85 %). A few large accounts
# decide a heavy-tailed total, so an account share near 6.5 % would leave the band to chance.
INDUSTRY_SHARES = {
    "Health": 0.16,
    "Manufacturing": 0.14,
    "Software": 0.14,
    "Logistics": 0.13,
    "Financial Services": 0.13,
    "Construction": 0.12,
    GOVERNMENT: 0.11,
    "Energy": 0.07,
}

# Required slack on each check, so that small changes of the data or rules keep the demo feasible.
WORKLOAD_MAX_SHARE_OF_CAPACITY = 0.80
ACCOUNTS_MAX_SHARE_OF_LIMIT = 0.90
SPECIALIST_POTENTIAL_MARGIN = 1.20


@dataclass(frozen=True)
class RepSpec:
    rep_id: str
    name: str
    city: str
    state: str
    capacity_hours: int
    max_accounts: int
    industries: tuple[str, ...] = ()


REPS = (
    RepSpec("AE-01", "Dana Whitlock", "Dallas", "TX", 1600, 120),
    RepSpec("AE-02", "Marcus Ellery", "Houston", "TX", 1600, 120),
    RepSpec("AE-03", "Priya Raman", "San Antonio", "TX", 1600, 120),
    RepSpec("AE-04", "Colin Brandt", "Oklahoma City", "OK", 1600, 120),
    RepSpec("AE-05", "Renee Fontenot", "New Orleans", "LA", 800, 60),  # half time
    RepSpec("AE-06", "Jamal Okafor", "Atlanta", "GA", 1600, 120),
    RepSpec("AE-07", "Lauren Pike", "Nashville", "TN", 1600, 120),
    RepSpec("AE-08", "Tomas Vidal", "Tampa", "FL", 1600, 120),
    RepSpec("AE-09", "Grace Mbeki", "Miami", "FL", 1600, 120),
    RepSpec("AE-10", "Helen Castillo", "Austin", "TX", 1000, 120, (GOVERNMENT,)),
)

# Invented company names: "<first> <second> <industry suffix>", such as "Magnolia Ridge Logistics".
NAME_FIRST = (
    "Bluebonnet", "Magnolia", "Cypress", "Pecan", "Live Oak", "Red Clay", "Cedar", "Bayou", "Palmetto",
    "Mesquite", "Sweetgum", "Dogwood", "Longleaf", "Sabal", "Willow", "Redbud", "Ironwood", "Sandhill",
    "Blue Heron", "Pelican", "Sycamore", "Hickory", "Prairie", "Gulf Coast", "Riverbend", "Lone Pine",
    "Copperhead", "Saltmarsh", "Juniper", "Tupelo",
)
NAME_SECOND = (
    "Ridge", "Hollow", "Crossing", "Bend", "Point", "Creek", "Landing", "Bluff", "Harbor", "Meadow",
    "Springs", "Valley", "Grove", "Station", "Trail", "Shoals", "Mesa", "Prairie", "Junction", "Fork",
)
NAME_SUFFIXES = {
    "Health": ("Health", "Medical Group", "Clinics", "Care Partners"),
    "Manufacturing": ("Manufacturing", "Fabrication", "Industries", "Works"),
    "Software": ("Software", "Labs", "Systems", "Analytics"),
    "Logistics": ("Logistics", "Freight", "Distribution", "Transport"),
    "Financial Services": ("Capital", "Financial", "Credit Union", "Advisors"),
    "Construction": ("Builders", "Construction", "Contracting", "Structures"),
    GOVERNMENT: ("Public Services", "Civic Solutions", "Government Services", "Municipal Systems"),
    "Energy": ("Energy", "Power", "Solar", "Resources"),
}

ACCOUNT_COLUMNS = (
    "account_id", "name", "lat", "lon", "postal_code", "city", "state", "country", "industry", "potential",
    "intent", "icp_fit", "relationship", "engagement", "current_owner", "locked_owner",
)
REP_COLUMNS = ("rep_id", "name", "lat", "lon", "city", "state", "capacity_hours", "max_accounts", "industries")


def load_zip_points() -> pd.DataFrame:
    """Load the active STANDARD ZIP codes of the region with a known centroid, sorted by ZIP code.

    PO BOX and UNIQUE ZIP codes are left out because they sit on a post office or on one organization.
    """
    raw = (importlib.resources.files("zipcodes") / "zips.json.bz2").read_bytes()
    records = json.loads(bz2.decompress(raw))
    rows = []
    for record in records:
        lat, lon = float(record["lat"]), float(record["long"])
        usable = (
            record["active"]
            and record["zip_code_type"] == "STANDARD"
            and record["state"] in REGION_STATES
            and record["country"] == "US"
            and (lat, lon) != (0.0, 0.0)
        )
        if usable:
            rows.append((record["zip_code"], record["city"], record["state"], lat, lon))
    points = pd.DataFrame(rows, columns=["zip_code", "city", "state", "lat", "lon"])
    return points.sort_values("zip_code", ignore_index=True)


def city_centers(points: pd.DataFrame) -> pd.DataFrame:
    """Return each (city, state) with its ZIP count and the mean of its ZIP centroids.

    The gazetteer of ``optimizer/locate.py`` places a city at the same mean, so an account given by
    city and state is located where this script assumes it is.
    """
    grouped = points.groupby(["city", "state"], sort=True)
    return grouped.agg(zip_count=("zip_code", "size"), lat=("lat", "mean"), lon=("lon", "mean"))


def make_reps(centers: pd.DataFrame) -> pd.DataFrame:
    """Build the rep roster with each home base at the center of the rep's city."""
    rows = []
    for spec in REPS:
        if (spec.city, spec.state) not in centers.index:
            raise ValueError(f"rep {spec.rep_id}: city {spec.city}, {spec.state} is not in the ZIP table")
        center = centers.loc[(spec.city, spec.state)]
        rows.append({
            "rep_id": spec.rep_id,
            "name": spec.name,
            "lat": float(center["lat"]),
            "lon": float(center["lon"]),
            "city": spec.city,
            "state": spec.state,
            "capacity_hours": spec.capacity_hours,
            "max_accounts": spec.max_accounts,
            "industries": ";".join(spec.industries),
        })
    return pd.DataFrame(rows)


def sample_places(rng: np.random.Generator, points: pd.DataFrame, centers: pd.DataFrame) -> pd.DataFrame:
    """Draw one ZIP code per account and choose how the account's location is written.

    Adds the columns method ("coordinates", "postal_code" or "city") and located_lat/located_lon, the point
    the product will locate the account at: the jittered point, the ZIP centroid or the city center.
    """
    zip_count = centers["zip_count"].reindex(pd.MultiIndex.from_frame(points[["city", "state"]])).to_numpy()
    weights = zip_count / zip_count.sum()
    chosen = rng.choice(len(points), size=ACCOUNT_COUNT, replace=True, p=weights)
    places = points.iloc[chosen].reset_index(drop=True)

    coordinate_count = round(COORDINATE_SHARE * ACCOUNT_COUNT)
    postal_count = round(POSTAL_CODE_SHARE * ACCOUNT_COUNT)
    methods = np.array(
        ["coordinates"] * coordinate_count
        + ["postal_code"] * postal_count
        + ["city"] * (ACCOUNT_COUNT - coordinate_count - postal_count)
    )
    places["method"] = rng.permutation(methods)

    # Jitter within a disk of radius JITTER_MAX_DEGREES. The square root spreads points evenly over it.
    radius = JITTER_MAX_DEGREES * np.sqrt(rng.random(ACCOUNT_COUNT))
    angle = rng.random(ACCOUNT_COUNT) * 2.0 * math.pi
    jittered_lat = (places["lat"] + radius * np.sin(angle)).round(6)
    jittered_lon = (places["lon"] + radius * np.cos(angle)).round(6)

    city_index = pd.MultiIndex.from_frame(places[["city", "state"]])
    city_lat = centers["lat"].reindex(city_index).to_numpy()
    city_lon = centers["lon"].reindex(city_index).to_numpy()
    by_coordinates = places["method"] == "coordinates"
    by_city = places["method"] == "city"
    places["located_lat"] = np.where(by_coordinates, jittered_lat, np.where(by_city, city_lat, places["lat"]))
    places["located_lon"] = np.where(by_coordinates, jittered_lon, np.where(by_city, city_lon, places["lon"]))
    return places


def location_cells(rng: np.random.Generator, places: pd.DataFrame) -> pd.DataFrame:
    """Write each account's location as its method gives it, and leave the other location cells blank."""
    by_coordinates = places["method"] == "coordinates"
    by_postal_code = places["method"] == "postal_code"
    by_city = places["method"] == "city"

    plus_4 = rng.random(ACCOUNT_COUNT) < ZIP_PLUS_4_SHARE
    extensions = rng.integers(1, 10_000, size=ACCOUNT_COUNT)
    postal_codes = [
        f"{zip_code}-{extension:04d}" if long_form else zip_code
        for zip_code, extension, long_form in zip(places["zip_code"], extensions, plus_4)
    ]

    cells = pd.DataFrame(index=places.index)
    cells["lat"] = np.where(by_coordinates, places["located_lat"].map(_decimal_6), "")
    cells["lon"] = np.where(by_coordinates, places["located_lon"].map(_decimal_6), "")
    cells["postal_code"] = np.where(by_postal_code, postal_codes, "")
    cells["city"] = np.where(by_city, places["city"].map(abbreviate_city), "")
    cells["state"] = places["state"]
    cells["country"] = "US"
    return cells


def abbreviate_city(city: str) -> str:
    """Write "Saint ..." as "St. ..." and "Fort ..." as "Ft. ...", so loading must expand the abbreviation."""
    for long_form, short_form in (("Saint ", "St. "), ("Fort ", "Ft. ")):
        if city.startswith(long_form):
            return short_form + city[len(long_form):]
    return city


def account_attributes(rng: np.random.Generator) -> pd.DataFrame:
    """Draw the industry, name, potential and signals of every account."""
    # Exact counts per industry, so the Government Services share does not drift with the seed.
    counts = {name: round(share * ACCOUNT_COUNT) for name, share in INDUSTRY_SHARES.items()}
    assert sum(counts.values()) == ACCOUNT_COUNT, f"industry counts {counts} do not add up to {ACCOUNT_COUNT}"
    industry = rng.permutation(np.repeat(list(counts), list(counts.values())))

    names: list[str] = []
    names_used: set[str] = set()
    for account_industry in industry:
        while True:
            name = " ".join((
                str(rng.choice(NAME_FIRST)), str(rng.choice(NAME_SECOND)),
                str(rng.choice(NAME_SUFFIXES[account_industry])),
            ))
            if name not in names_used:
                break
        names_used.add(name)
        names.append(name)

    potential = rng.lognormal(math.log(POTENTIAL_MEDIAN), POTENTIAL_SIGMA, size=ACCOUNT_COUNT)
    potential = np.clip(np.round(potential / 100.0) * 100.0, POTENTIAL_MIN, POTENTIAL_MAX).astype(int)

    attributes = pd.DataFrame({"name": names, "industry": industry, "potential": potential})
    attributes["intent"] = _score_0_100(rng, 2.0, 3.0)
    attributes["icp_fit"] = _score_0_100(rng, 3.0, 2.0)
    attributes["relationship"] = _score_0_100(rng, 2.5, 2.0)
    attributes["engagement"] = _score_0_100(rng, 2.0, 2.0)
    engagement_blank = rng.permutation(ACCOUNT_COUNT) < round(ENGAGEMENT_BLANK_SHARE * ACCOUNT_COUNT)
    attributes.loc[engagement_blank, "engagement"] = ""
    return attributes


def assign_owners(rng: np.random.Generator, accounts: pd.DataFrame, places: pd.DataFrame, reps: pd.DataFrame) -> None:
    """Fill current_owner, locked_owner and the blank relationships in place.

    Last year's owner is the generalist nearest to the account, except for new accounts, which have no
    owner and no relationship. Locks go to the current owner, who is always a generalist, so a lock
    never conflicts with a specialist's industries.
    """
    generalists = reps[reps["industries"] == ""].reset_index(drop=True)
    distance = _haversine_km(
        places["located_lat"].to_numpy()[:, None], places["located_lon"].to_numpy()[:, None],
        generalists["lat"].to_numpy()[None, :], generalists["lon"].to_numpy()[None, :],
    )
    nearest = generalists["rep_id"].to_numpy()[distance.argmin(axis=1)]

    order = rng.permutation(ACCOUNT_COUNT)
    new_count = round(NEW_ACCOUNT_SHARE * ACCOUNT_COUNT)
    locked_count = round(LOCKED_SHARE * ACCOUNT_COUNT)
    new = np.zeros(ACCOUNT_COUNT, dtype=bool)
    new[order[:new_count]] = True
    locked = np.zeros(ACCOUNT_COUNT, dtype=bool)
    locked[order[new_count:new_count + locked_count]] = True

    accounts["current_owner"] = np.where(new, "", nearest)
    accounts["locked_owner"] = np.where(locked, nearest, "")

    # New accounts have no relationship. More owned accounts are blanked until the share is reached.
    owned = np.flatnonzero(~new)
    extra_blank = round(RELATIONSHIP_BLANK_SHARE * ACCOUNT_COUNT) - new_count
    relationship_blank = new.copy()
    relationship_blank[rng.choice(owned, size=extra_blank, replace=False)] = True
    accounts.loc[relationship_blank, "relationship"] = ""


def check_plannable(accounts: pd.DataFrame, reps: pd.DataFrame) -> dict[str, float]:
    """Assert that the demo leaves room for a plan under the default rules, and return the figures checked.

    Accounts are scored, tiered and given workload by the product's own code, with the defaults of
    ``Scenario()``. The checks are quick tests with slack, not a solve, so passing them does not prove
    that a plan exists.
    """
    rules = Scenario()
    numeric = accounts.copy()
    for column in ("potential", *SIGNALS):
        numeric[column] = pd.to_numeric(numeric[column], errors="coerce")
    tiers = assign_tiers(score_accounts(numeric, rules.scoring), rules.tiers)
    hours = workload_hours(tiers, None, rules.tiers)

    workload = float(hours.sum())
    capacity = float(reps["capacity_hours"].sum())
    assert workload <= WORKLOAD_MAX_SHARE_OF_CAPACITY * capacity, (
        f"workload {workload:,.0f} h exceeds {WORKLOAD_MAX_SHARE_OF_CAPACITY:.0%} of the total capacity "
        f"{capacity:,.0f} h; add reps or capacity_hours"
    )

    account_limit = int(reps["max_accounts"].sum())
    assert len(accounts) <= ACCOUNTS_MAX_SHARE_OF_LIMIT * account_limit, (
        f"{len(accounts)} accounts exceed {ACCOUNTS_MAX_SHARE_OF_LIMIT:.0%} of the reps' max_accounts "
        f"total {account_limit}; raise max_accounts"
    )

    # The specialist may take only Government Services accounts, and their potential band needs at
    # least (1 - tolerance) x capacity share x total potential from those accounts.
    specialist = reps[reps["industries"] == GOVERNMENT].iloc[0]
    tolerance = rules.balance.potential
    assert tolerance is not None, "the default rules no longer balance potential; revisit this check"
    total_potential = float(numeric["potential"].sum())
    capacity_share = float(specialist["capacity_hours"]) / capacity
    lower_limit = (1.0 - tolerance) * capacity_share * total_potential
    upper_limit = (1.0 + tolerance) * capacity_share * total_potential
    government = numeric["industry"] == GOVERNMENT
    supply = float(numeric.loc[government, "potential"].sum())
    assert supply >= SPECIALIST_POTENTIAL_MARGIN * lower_limit, (
        f"Government Services accounts hold {supply:,.0f} USD of potential, less than "
        f"{SPECIALIST_POTENTIAL_MARGIN} x the lower limit {lower_limit:,.0f} USD of specialist "
        f"{specialist['rep_id']} (capacity share {capacity_share:.2%}); raise the Government Services "
        "share of accounts or lower the specialist's capacity_hours"
    )

    # A witness territory for the specialist: Government Services accounts in order of potential per
    # workload hour, taken until the lower limit is reached. It must fit inside the band, the
    # specialist's capacity_hours with slack, and max_accounts.
    candidates = pd.DataFrame({"potential": numeric.loc[government, "potential"], "hours": hours[government]})
    candidates = candidates.assign(ratio=candidates["potential"] / candidates["hours"])
    candidates = candidates.sort_values("ratio", ascending=False, kind="stable")
    witness_count = int(np.searchsorted(candidates["potential"].cumsum().to_numpy(), lower_limit) + 1)
    witness = candidates.iloc[:witness_count]
    witness_potential, witness_hours = float(witness["potential"].sum()), float(witness["hours"].sum())
    specialist_capacity = float(specialist["capacity_hours"])
    assert witness_potential <= upper_limit, (
        f"the specialist's witness territory holds {witness_potential:,.0f} USD, above the upper limit "
        f"{upper_limit:,.0f} USD; the band cannot be met this way, so check the potentials"
    )
    assert witness_hours <= WORKLOAD_MAX_SHARE_OF_CAPACITY * specialist_capacity, (
        f"specialist {specialist['rep_id']} needs {witness_hours:,.0f} h of Government Services accounts to "
        f"reach {lower_limit:,.0f} USD, more than {WORKLOAD_MAX_SHARE_OF_CAPACITY:.0%} of capacity_hours "
        f"{specialist_capacity:,.0f}; raise the Government Services share or lower the specialist's capacity"
    )
    assert witness_count <= int(specialist["max_accounts"]), (
        f"specialist {specialist['rep_id']} needs {witness_count} accounts, more than max_accounts "
        f"{specialist['max_accounts']}"
    )
    return {
        "workload_hours": workload,
        "capacity_hours": capacity,
        "account_limit": account_limit,
        "total_potential": total_potential,
        "specialist_capacity_share": capacity_share,
        "specialist_lower_limit": lower_limit,
        "specialist_upper_limit": upper_limit,
        "government_potential": supply,
        "government_accounts": int(government.sum()),
        "witness_accounts": witness_count,
        "witness_potential": witness_potential,
        "witness_hours": witness_hours,
    }


def make_demo() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Build the accounts and reps tables, and return them with the figures of the feasibility checks."""
    rng = np.random.default_rng(SEED)
    points = load_zip_points()
    centers = city_centers(points)
    reps = make_reps(centers)

    places = sample_places(rng, points, centers)
    accounts = pd.concat([location_cells(rng, places), account_attributes(rng)], axis=1)
    accounts.insert(0, "account_id", [f"ACC-{number:04d}" for number in range(1, ACCOUNT_COUNT + 1)])
    assign_owners(rng, accounts, places, reps)

    figures = check_plannable(accounts, reps)
    return accounts[list(ACCOUNT_COLUMNS)], reps[list(REP_COLUMNS)], figures


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write every cell as text with Unix line ends, so that reruns produce identical bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(frame.columns)
        for row in frame.itertuples(index=False):
            writer.writerow(_cell_text(value) for value in row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR,
        help="folder to write accounts.csv and reps.csv to (default: data/demo next to this script)",
    )
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    accounts, reps, figures = make_demo()
    write_csv(accounts, arguments.output_dir / "accounts.csv")
    write_csv(reps, arguments.output_dir / "reps.csv")
    logger.info(
        "Wrote %d accounts and %d reps to %s: potential %s USD, workload %s of %s h, "
        "Government Services potential %s USD against the specialist's lower limit %s USD",
        len(accounts), len(reps), arguments.output_dir, f"{figures['total_potential']:,.0f}",
        f"{figures['workload_hours']:,.0f}", f"{figures['capacity_hours']:,.0f}",
        f"{figures['government_potential']:,.0f}", f"{figures['specialist_lower_limit']:,.0f}",
    )


def _score_0_100(rng: np.random.Generator, a: float, b: float) -> np.ndarray:
    """Draw integer scores from 0 to 100 from a Beta(a, b) distribution."""
    return np.round(rng.beta(a, b, size=ACCOUNT_COUNT) * 100.0).astype(int).astype(object)


def _haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    lat1, lon1, lat2, lon2 = (np.radians(value) for value in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(a))


def _decimal_6(value: float) -> str:
    return f"{value:.6f}"


def _cell_text(value: object) -> str:
    if isinstance(value, float):
        return _decimal_6(value)
    return str(value)


if __name__ == "__main__":
    main()
