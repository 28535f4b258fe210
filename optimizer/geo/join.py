"""Accounts into units: each located account joins exactly one unit of the layer.

Rule: an account joins the unit whose closed polygon (interior and boundary) covers its point. When
several do, because the point lies on a shared border or on a vertex shared by several units, the unit
with the smallest ``unit_id`` in Python string order wins. The rule depends only on the point and the
unit ids, so every run and every row order gives the same join. Longitude 180 and -180 are the same
meridian, so a point on it is matched against units on both sides.

Accounts that no unit covers, and accounts without a location, are listed in the result, never dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from optimizer.errors import InputError, RowIssue
from optimizer.geo.units import UNIT_ID, UnitLayer

logger = logging.getLogger(__name__)

ACCOUNT_COLUMNS = ("account_id", "lat", "lon")


@dataclass
class JoinResult:
    """The unit of every account.

    ``accounts`` is the input frame, in input order, with two columns added: ``unit_id`` (None when the
    account is in no unit or has no location) and ``unit_index``, the unit's row in the layer frame
    (-1 when none).
    """

    accounts: pd.DataFrame
    outside: list[str] = field(default_factory=list)
    not_located: list[str] = field(default_factory=list)

    @property
    def outside_count(self) -> int:
        return len(self.outside)

    @property
    def unit_index(self) -> np.ndarray:
        return self.accounts["unit_index"].to_numpy(dtype=np.int64)


def join_accounts(accounts: pd.DataFrame, layer: UnitLayer, kind: str = "account") -> JoinResult:
    """Put each account (account_id, lat, lon) into one unit of ``layer``; see the module rule for ties.

    Accounts with a missing latitude or longitude are listed in ``not_located``; accounts located
    outside every unit in ``outside``. ``kind`` names the points in the log ("rep" for home bases). Raises InputError for a missing column or a coordinate out of
    range (latitude beyond +-90, longitude beyond +-180).
    """
    _check_accounts(accounts)
    lat = pd.to_numeric(accounts["lat"], errors="coerce").to_numpy(dtype=float)
    lon = pd.to_numeric(accounts["lon"], errors="coerce").to_numpy(dtype=float)
    located = np.isfinite(lat) & np.isfinite(lon)

    unit_index = np.full(len(accounts), -1, dtype=np.int64)
    rows = np.flatnonzero(located)
    unit_index[rows] = _covering_unit(lat[rows], lon[rows], layer)

    result = accounts.copy()
    unit_ids = np.array(layer.unit_ids, dtype=object)
    # An object column keeps None for "no unit"; a string column would turn it into NaN.
    joined_ids = np.where(unit_index >= 0, unit_ids[np.maximum(unit_index, 0)], None)
    result[UNIT_ID] = pd.Series(joined_ids, index=result.index, dtype=object)
    result["unit_index"] = unit_index

    account_ids = accounts["account_id"].astype(str).to_numpy()
    outside = account_ids[located & (unit_index < 0)].tolist()
    not_located = account_ids[~located].tolist()
    if outside:
        preview = ", ".join(outside[:10]) + (", ..." if len(outside) > 10 else "")
        logger.warning("%d of %d located %ss lie in no unit of the layer: %s", len(outside), len(rows), kind, preview)
    logger.info("joined %d %ss to %d units (%d outside every unit, %d without a location)",
                len(rows) - len(outside), kind, len(np.unique(unit_index[unit_index >= 0])), len(outside), len(not_located))
    return JoinResult(accounts=result, outside=outside, not_located=not_located)


def _check_accounts(accounts: pd.DataFrame) -> None:
    missing = [column for column in ACCOUNT_COLUMNS if column not in accounts.columns]
    if missing:
        raise InputError([RowIssue("accounts", None, column, "", f"is missing; the columns found are "
                                                              f"{list(map(str, accounts.columns))}") for column in missing])

    issues = []
    for column, limit in (("lat", 90.0), ("lon", 180.0)):
        values = pd.to_numeric(accounts[column], errors="coerce")
        unreadable = values.isna() & accounts[column].notna() & (accounts[column].astype(str).str.strip() != "")
        out_of_range = values.abs() > limit
        for position in np.flatnonzero(unreadable.to_numpy() | out_of_range.to_numpy()):
            issues.append(RowIssue("accounts", position + 1, column, str(accounts[column].iat[position]),
                                   f"is not a number from -{limit:g} to {limit:g}; fix the coordinate or leave it "
                                   "blank to report the account as not located"))
    if issues:
        raise InputError(issues, summary=f"{len(issues)} account coordinate(s) are invalid")


def _covering_unit(lat: np.ndarray, lon: np.ndarray, layer: UnitLayer) -> np.ndarray:
    """Return, per point, the position of the covering unit with the smallest unit_id, or -1."""
    points = shapely.points(lon, lat)
    # The tree contains the points and the units are the queries, because shapely prepares the query
    # geometries. Each unit is then prepared once and tested against the points in its bounding box.
    unit_index, point_index = shapely.STRtree(points).query(layer.geometries, predicate="covers")

    # The antimeridian: a point at longitude +-180 is also looked up at the opposite sign.
    on_seam = np.flatnonzero(np.abs(lon) == 180.0)
    if len(on_seam):
        mirrored = shapely.points(-lon[on_seam], lat[on_seam])
        seam_unit, seam_point = shapely.STRtree(mirrored).query(layer.geometries, predicate="covers")
        point_index = np.concatenate([point_index, on_seam[seam_point]])
        unit_index = np.concatenate([unit_index, seam_unit])

    # The rank of each unit in unit_id order; the smallest rank per point wins.
    rank = np.empty(len(layer.frame), dtype=np.int64)
    rank[np.argsort(np.array(layer.unit_ids, dtype=str), kind="stable")] = np.arange(len(layer.frame))
    best_rank = np.full(len(points), np.iinfo(np.int64).max)
    np.minimum.at(best_rank, point_index, rank[unit_index])

    by_rank = np.argsort(rank)
    found = best_rank < np.iinfo(np.int64).max
    covering = np.full(len(points), -1, dtype=np.int64)
    covering[found] = by_rank[best_rank[found]]
    return covering
