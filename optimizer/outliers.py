"""Warnings about accounts and reps that lie far from the rest of the plan.

Coordinates with a flipped sign or with latitude and longitude swapped are still valid coordinates,
so the readers accept them. A US account at longitude +97 lands in China, and the plan then gives it
to whichever rep costs least, at a distance of about 11,000 km. The check here names each account
whose nearest rep is far, and each rep whose nearest account is far. It also tries the usual typing
errors on each such point, and the warning names the first correction that brings it close to the others.

"Far" is relative to the plan itself: more than FAR_FACTOR times the median distance from an
account to its nearest rep, and never less than FAR_MIN_KM. The median stays put when a few points
are wrong, where a high percentile of a small plan would follow them. Distances are geodesic
km (WGS84). A warning never stops the plan: an account in Hawaii served from the mainland is real.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from optimizer.geodesy import geodesic_km

logger = logging.getLogger(__name__)

FAR_FACTOR = 10.0
FAR_MIN_KM = 1_000.0
# Each kind of point names at most this many in full; the rest are counted.
NAMED_POINTS = 5


@dataclass(frozen=True)
class _Fix:
    """One usual typing error in a coordinate pair, and how the warning describes its correction."""

    lat: float
    lon: float
    text: str


def location_warnings(account_ids, account_lat, account_lon, rep_ids, rep_lat, rep_lon) -> list[str]:
    """Return one warning per account or rep that lies far from every point of the other kind.

    Accounts without coordinates (NaN) are ignored. The result is empty when there is no located
    account or no rep.
    """
    account_lat, account_lon = np.asarray(account_lat, dtype=float), np.asarray(account_lon, dtype=float)
    rep_lat, rep_lon = np.asarray(rep_lat, dtype=float), np.asarray(rep_lon, dtype=float)
    located = np.flatnonzero(np.isfinite(account_lat) & np.isfinite(account_lon))
    if located.size == 0 or rep_lat.size == 0:
        return []
    account_ids = [str(account_ids[k]) for k in located]
    account_lat, account_lon = account_lat[located], account_lon[located]
    rep_ids = [str(rep_id) for rep_id in rep_ids]

    account_tree, rep_tree = _tree(account_lat, account_lon), _tree(rep_lat, rep_lon)
    nearest_rep_km, nearest_rep = _nearest(rep_tree, rep_lat, rep_lon, account_lat, account_lon)
    median_km = float(np.median(nearest_rep_km))
    limit = max(FAR_MIN_KM, FAR_FACTOR * median_km)
    nearest_account_km, _ = _nearest(account_tree, account_lat, account_lon, rep_lat, rep_lon)
    context = f"half of the accounts lie within {median_km:,.0f} km of a rep"

    warnings = _warnings("account", account_ids, account_lat, account_lon, nearest_rep_km, limit, context,
                         lambda k: f"its nearest rep, {rep_ids[nearest_rep[k]]}",
                         "rep", rep_tree, rep_lat, rep_lon)
    warnings += _warnings("rep", rep_ids, rep_lat, rep_lon, nearest_account_km, limit, context,
                          lambda k: "its nearest account",
                          "account", account_tree, account_lat, account_lon)
    # A rep based on a wrong account (as `territory bases` may suggest) lies next to it, so the accounts
    # are also checked against each other. Those named above are not named twice.
    named = nearest_rep_km > limit
    warnings += _isolated(account_ids, account_lat, account_lon, account_tree, named)
    # The caller shows the warnings (metrics.json, the command's report), so the log keeps them at info.
    for warning in warnings:
        logger.info(warning)
    return warnings


def isolated_account_warnings(account_ids, account_lat, account_lon) -> list[str]:
    """Return one warning per account that lies far from every other account (for plans without reps yet)."""
    account_lat, account_lon = np.asarray(account_lat, dtype=float), np.asarray(account_lon, dtype=float)
    located = np.flatnonzero(np.isfinite(account_lat) & np.isfinite(account_lon))
    account_ids = [str(account_ids[k]) for k in located]
    account_lat, account_lon = account_lat[located], account_lon[located]
    warnings = _isolated(account_ids, account_lat, account_lon, _tree(account_lat, account_lon),
                         np.zeros(len(located), dtype=bool))
    for warning in warnings:
        logger.info(warning)
    return warnings


def _isolated(ids, lat, lon, tree: cKDTree, skip: np.ndarray) -> list[str]:
    """Return the warnings of the accounts, other than those in `skip`, far from every other account."""
    if len(ids) < 2:
        return []
    _, index = tree.query(_unit_vectors(lat, lon), k=2)
    # The first neighbour of each point is normally the point itself; a duplicate location may come first.
    other = np.where(index[:, 0] == np.arange(len(ids)), index[:, 1], index[:, 0])
    distance_km = geodesic_km(lat, lon, lat[other], lon[other])
    median_km = float(np.median(distance_km))
    limit = max(FAR_MIN_KM, FAR_FACTOR * median_km)
    distance_km = np.where(skip, 0.0, distance_km)
    return _warnings("account", ids, lat, lon, distance_km, limit,
                     f"half of the accounts lie within {median_km:,.0f} km of another account",
                     lambda k: f"its nearest other account, {ids[other[k]]}", "account", tree, lat, lon)


def _warnings(kind, ids, lat, lon, distance_km, limit, context, nearest_text, other_kind, other_tree, other_lat,
              other_lon) -> list[str]:
    """Return the warnings of the points of one kind that lie more than `limit` km from every other point."""
    far = np.flatnonzero(distance_km > limit)
    far = far[np.argsort(-distance_km[far], kind="stable")]
    warnings = []
    for k in far[:NAMED_POINTS]:
        text = (f"{kind} {ids[k]} at ({lat[k]:.4f}, {lon[k]:.4f}) lies {distance_km[k]:,.0f} km from "
                f"{nearest_text(k)}, while {context}")
        fix = _likely_fix(lat[k], lon[k], limit, other_tree, other_lat, other_lon)
        if fix is not None:
            fixed_km = _nearest(other_tree, other_lat, other_lon, np.array([fix.lat]), np.array([fix.lon]))[0][0]
            text += f"; {fix.text} it would lie {fixed_km:,.0f} km from the nearest {other_kind}"
        warnings.append(text + "; check its coordinates")
    if far.size > NAMED_POINTS:
        warnings.append(f"{far.size - NAMED_POINTS:,} more {kind}s lie more than {limit:,.0f} km from the nearest "
                        f"{other_kind}")
    return warnings


def _likely_fix(lat: float, lon: float, limit: float, tree: cKDTree, other_lat, other_lon) -> _Fix | None:
    """Return the first usual typing error whose correction brings the point within `limit` km."""
    fixes = [_Fix(lat, -lon, f"with longitude {-lon:.4f} instead of {lon:.4f}"),
             _Fix(-lat, lon, f"with latitude {-lat:.4f} instead of {lat:.4f}"),
             _Fix(lon, lat, "with latitude and longitude swapped"),
             _Fix(-lon, lat, f"with latitude {-lon:.4f} and longitude {lat:.4f}"),
             _Fix(lon, -lat, f"with latitude {lon:.4f} and longitude {-lat:.4f}")]
    for fix in fixes:
        if fix.lon == lon and fix.lat == lat or not -90.0 <= fix.lat <= 90.0:
            continue
        distance, _ = _nearest(tree, other_lat, other_lon, np.array([fix.lat]), np.array([fix.lon]))
        if distance[0] <= limit:
            return fix
    return None


def _tree(lat: np.ndarray, lon: np.ndarray) -> cKDTree:
    return cKDTree(_unit_vectors(lat, lon))


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def _nearest(tree: cKDTree, tree_lat, tree_lon, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return, for each point, the geodesic km to its nearest tree point and that point's index.

    The tree ranks by chord length on the unit sphere, which orders points as the great circle does.
    Geodesic and great-circle distances differ by under 0.6 %, so near ties may pick either point.
    """
    _, index = tree.query(_unit_vectors(lat, lon), k=1)
    index = np.asarray(index, dtype=np.int64)
    return geodesic_km(lat, lon, tree_lat[index], tree_lon[index]), index

