"""Candidate home-base sites: the accounts' own locations, or ZIP centroids near them.

Both kinds are capped to the `max_sites` sites carrying the most workload (an account location
carries its accounts' hours, a ZIP centroid the hours of the accounts nearest to it), so the model
stays small for large account lists. Each site is named after the city and state of its nearest
ZIP centroid in the offline gazetteer (the ``zipcodes`` package's table, as ``optimizer.locate``).
"""

from __future__ import annotations

import bz2
import functools
import importlib.resources
import json
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.errors import ConfigError
from optimizer.geodesy import spherical_km
from optimizer.locate import STATE_CODES

logger = logging.getLogger(__name__)

SITE_KINDS = ("accounts", "zip")
# Points matched to their nearest ZIP centroid per block: one block of distances is about 26 MB, and
# the spherical formula keeps a few such arrays alive at once.
NEAREST_BLOCK = 100


@dataclass(frozen=True)
class ZipCentroids:
    """Active standard US ZIP codes with their centroid, primary city and state."""

    zip_code: np.ndarray
    city: np.ndarray
    state: np.ndarray
    lat: np.ndarray
    lon: np.ndarray


@functools.lru_cache(maxsize=1)
def zip_centroids() -> ZipCentroids:
    """Load the ZIP table of the installed ``zipcodes`` package (PO box and unique ZIPs left out)."""
    raw = (importlib.resources.files("zipcodes") / "zips.json.bz2").read_bytes()
    states = set(STATE_CODES.values())
    rows = []
    for record in json.loads(bz2.decompress(raw)):
        if not record.get("active") or record.get("zip_code_type") != "STANDARD" or record.get("state") not in states:
            continue
        try:
            lat, lon = float(record["lat"]), float(record["long"])
        except (KeyError, TypeError, ValueError):
            continue
        if (lat, lon) != (0.0, 0.0):
            rows.append((str(record["zip_code"]), str(record["city"]), str(record["state"]), lat, lon))
    columns = list(zip(*rows, strict=True))
    return ZipCentroids(np.array(columns[0]), np.array(columns[1]), np.array(columns[2]),
                        np.array(columns[3], dtype=float), np.array(columns[4], dtype=float))


def nearest_zip(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Return the index (into ``zip_centroids()``) of the ZIP centroid nearest to each point."""
    table = zip_centroids()
    nearest = np.zeros(len(lat), dtype=np.int64)
    for start in range(0, len(lat), NEAREST_BLOCK):
        block = slice(start, start + NEAREST_BLOCK)
        distance = spherical_km(np.asarray(lat[block])[:, None], np.asarray(lon[block])[:, None],
                                table.lat[None, :], table.lon[None, :])
        nearest[block] = np.argmin(distance, axis=1)
    return nearest


def candidate_sites(accounts: pd.DataFrame, kind: str, max_sites: int) -> pd.DataFrame:
    """Return candidate sites with lat, lon, postal_code (ZIP sites only), city, state and workload_hours.

    `accounts` are located accounts with lat, lon and workload_hours. Sites come heaviest first;
    ties keep the order in which the accounts list them.
    """
    if kind not in SITE_KINDS:
        raise ConfigError(f"--sites must be one of {', '.join(SITE_KINDS)}, got {kind!r}")
    if max_sites < 1:
        raise ConfigError(f"--max-sites must be at least 1, got {max_sites}")
    table = zip_centroids()
    lat, lon = accounts["lat"].to_numpy(float), accounts["lon"].to_numpy(float)
    hours = accounts["workload_hours"].to_numpy(float)
    if kind == "zip":
        zips = nearest_zip(lat, lon)
        frame = pd.DataFrame({"zip": zips, "hours": hours})
        weights = frame.groupby("zip", sort=False)["hours"].sum()
        chosen = weights.sort_values(ascending=False, kind="stable").index.to_numpy()[:max_sites]
        sites = pd.DataFrame({"lat": table.lat[chosen], "lon": table.lon[chosen], "postal_code": table.zip_code[chosen],
                              "city": table.city[chosen], "state": table.state[chosen],
                              "workload_hours": weights.loc[chosen].to_numpy()})
    else:
        frame = pd.DataFrame({"lat": lat, "lon": lon, "hours": hours})
        weights = frame.groupby(["lat", "lon"], sort=False)["hours"].sum()
        ordered = weights.sort_values(ascending=False, kind="stable").iloc[:max_sites]
        site_lat = ordered.index.get_level_values("lat").to_numpy(float)
        site_lon = ordered.index.get_level_values("lon").to_numpy(float)
        named = nearest_zip(site_lat, site_lon)
        sites = pd.DataFrame({"lat": site_lat, "lon": site_lon, "postal_code": None,
                              "city": table.city[named], "state": table.state[named],
                              "workload_hours": ordered.to_numpy()})
    logger.info("%d candidate sites (%s)", len(sites), kind)
    return sites.reset_index(drop=True)
