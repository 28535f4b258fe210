"""Warnings about accounts and reps that lie far from the rest of the plan.

Coordinates with a flipped sign or with latitude and longitude swapped are still valid coordinates,
so the readers accept them. A US account at longitude +97 lands in China, and the plan then gives it
to whichever rep costs least, at a distance of about 11,000 km. The checks here name such points:

* a rep more than FAR_MIN_KM from every account, when a usual typing error (a sign, a swapped pair)
  would bring it within FAR_MIN_KM of one;
* an account more than FAR_MIN_KM from every rep, with the same condition, unless a rep was named
  that way (when every rep is wrong, every account looks far and would be blamed in error);
* any account or rep farther from the other kind than FAR_FACTOR times the median distance from an
  account to its nearest rep, and at least FAR_MIN_KM, with or without a correction to offer;
* an account far from every other account that a typing error explains, with the rep based next to
  it, which `territory bases` may have put there;
* and one line when most accounts lie more than FAR_MIN_KM from every rep.

The median stays put when a few points are wrong, where a high percentile of a small plan would
follow them. Distances are geodesic km (WGS84). A warning never stops the plan: an account in Hawaii
served from the mainland is real. So far points without a correction are named only by the relative
rule, and the warning suggests a check rather than calling them wrong.
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
CHECK = "; check its coordinates if it does not belong there"


@dataclass(frozen=True)
class _Fix:
    """One usual typing error in a coordinate pair, and how the warning describes its correction."""

    lat: float
    lon: float
    text: str


@dataclass
class _Points:
    """Located points of one kind with their ids and a nearest-neighbour tree."""

    kind: str
    ids: list[str]
    lat: np.ndarray
    lon: np.ndarray

    def __post_init__(self) -> None:
        self.tree = cKDTree(_unit_vectors(self.lat, self.lon))

    def nearest(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return, for each given point, the geodesic km to the nearest of these points and its index.

        The tree ranks by chord length on the unit sphere, which orders points as the great circle does.
        Geodesic and great-circle distances differ by under 0.6 %, so near ties may pick either point.
        """
        _, index = self.tree.query(_unit_vectors(lat, lon), k=1)
        index = np.asarray(index, dtype=np.int64)
        return geodesic_km(lat, lon, self.lat[index], self.lon[index]), index


def location_warnings(account_ids, account_lat, account_lon, rep_ids, rep_lat, rep_lon) -> list[str]:
    """Return the warnings about accounts and reps that lie far from the other kind (see the module doc).

    Accounts without coordinates (NaN) are ignored. The result is empty when there is no located
    account or no rep.
    """
    accounts = _located("account", account_ids, account_lat, account_lon)
    reps = _located("rep", rep_ids, rep_lat, rep_lon)
    if accounts is None or reps is None:
        return []
    account_km, nearest_rep = reps.nearest(accounts.lat, accounts.lon)
    rep_km, _ = accounts.nearest(reps.lat, reps.lon)
    median_km = float(np.median(account_km))
    limit = max(FAR_MIN_KM, FAR_FACTOR * median_km)
    context = f"while half of the accounts lie within {max(median_km, 1.0):,.0f} km of a rep"

    rep_fixes = _fixes(reps, rep_km, accounts)
    account_fixes = [None] * len(accounts.ids) if any(rep_fixes) else _fixes(accounts, account_km, reps)
    warnings = _warnings(reps, rep_km, rep_fixes, limit, context, accounts, lambda k: "its nearest account")
    account_named = np.array([bool(fix) for fix in account_fixes]) | (account_km > limit)
    warnings += _warnings(accounts, account_km, account_fixes, limit, context, reps,
                          lambda k: f"its nearest rep, {reps.ids[nearest_rep[k]]}")
    warnings += _isolated(accounts, account_named, reps)
    far = int(np.count_nonzero(account_km > FAR_MIN_KM))
    if 2 * far > len(accounts.ids):
        subject = "every account lies" if far == len(accounts.ids) else f"{far:,} of the {len(accounts.ids):,} accounts lie"
        warnings.append(f"{subject} more than {FAR_MIN_KM:,.0f} km from every rep; check the coordinates of the reps, "
                        "or of the accounts if they are the ones wrong")
    _log(warnings)
    return warnings


def isolated_account_warnings(account_ids, account_lat, account_lon) -> list[str]:
    """Return one warning per account that lies far from every other account (for plans without reps yet).

    Without reps nothing else shows where the accounts belong, so an account is named when it lies
    beyond the relative limit of the account-to-account distances, with a correction when one fits.
    """
    accounts = _located("account", account_ids, account_lat, account_lon)
    if accounts is None or len(accounts.ids) < 2:
        return []
    distance_km, other = _nearest_other(accounts)
    median_km = float(np.median(distance_km))
    limit = max(FAR_MIN_KM, FAR_FACTOR * median_km)
    fixes = _fixes(accounts, distance_km, accounts)
    warnings = _warnings(accounts, distance_km, fixes, limit,
                         f"while half of the accounts lie within {max(median_km, 1.0):,.0f} km of another account",
                         accounts, lambda k: f"its nearest other account, {accounts.ids[other[k]]}")
    _log(warnings)
    return warnings


def _located(kind: str, ids, lat, lon) -> _Points | None:
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    located = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
    if located.size == 0:
        return None
    return _Points(kind, [str(ids[k]) for k in located], lat[located], lon[located])


def _nearest_other(points: _Points) -> tuple[np.ndarray, np.ndarray]:
    """Return, for each point, the geodesic km to the nearest other point of the same kind and its index."""
    _, index = points.tree.query(_unit_vectors(points.lat, points.lon), k=2)
    # The first neighbour of each point is normally the point itself; a duplicate location may come first.
    other = np.where(index[:, 0] == np.arange(len(points.ids)), index[:, 1], index[:, 0])
    return geodesic_km(points.lat, points.lon, points.lat[other], points.lon[other]), other


def _fixes(points: _Points, distance_km: np.ndarray, others: _Points) -> list[_Fix | None]:
    """Return, per point more than FAR_MIN_KM from `others`, the correction that brings it within FAR_MIN_KM."""
    fixes: list[_Fix | None] = [None] * len(points.ids)
    far = np.flatnonzero(distance_km > FAR_MIN_KM)
    for position, fix in zip(far, _batch_fixes(points.lat[far], points.lon[far], FAR_MIN_KM, others), strict=True):
        fixes[position] = fix
    return fixes


def _isolated(accounts: _Points, named: np.ndarray, reps: _Points) -> list[str]:
    """Return the warnings of accounts far from every other account that a typing error explains.

    A rep based on such an account (as `territory bases` places reps) hides it from the checks
    against reps, so the warning names that rep as well.
    """
    if len(accounts.ids) < 2:
        return []
    distance_km, other = _nearest_other(accounts)
    candidates = np.flatnonzero((distance_km > FAR_MIN_KM) & ~named)
    warnings = []
    for k in candidates[np.argsort(-distance_km[candidates], kind="stable")][:NAMED_POINTS]:
        fix = _likely_fix(accounts.lat[k], accounts.lon[k], FAR_MIN_KM, accounts)
        if fix is None:
            continue
        fixed_km = accounts.nearest(np.array([fix.lat]), np.array([fix.lon]))[0][0]
        text = (f"account {accounts.ids[k]} at ({accounts.lat[k]:.4f}, {accounts.lon[k]:.4f}) lies "
                f"{distance_km[k]:,.0f} km from its nearest other account, {accounts.ids[other[k]]}; {fix.text} it "
                f"would lie {fixed_km:,.0f} km from the nearest account")
        rep_km, rep = reps.nearest(accounts.lat[k:k + 1], accounts.lon[k:k + 1])
        if rep_km[0] <= FAR_MIN_KM:
            text += f"; rep {reps.ids[rep[0]]}, based {rep_km[0]:,.0f} km from it, is as far from the other accounts"
        warnings.append(text + CHECK)
    return warnings


def _warnings(points: _Points, distance_km: np.ndarray, fixes: list[_Fix | None], limit: float, context: str,
              others: _Points, nearest_text) -> list[str]:
    """Return the warnings of the points that have a correction or lie beyond `limit` km from `others`."""
    named = np.flatnonzero(np.array([fix is not None for fix in fixes], dtype=bool) | (distance_km > limit))
    named = named[np.argsort(-distance_km[named], kind="stable")]
    warnings = []
    for k in named[:NAMED_POINTS]:
        text = (f"{points.kind} {points.ids[k]} at ({points.lat[k]:.4f}, {points.lon[k]:.4f}) lies "
                f"{distance_km[k]:,.0f} km from {nearest_text(k)}, {context}")
        fix = fixes[k] or _likely_fix(points.lat[k], points.lon[k], limit, others)
        if fix is not None:
            fixed_km = others.nearest(np.array([fix.lat]), np.array([fix.lon]))[0][0]
            text += f"; {fix.text} it would lie {fixed_km:,.0f} km from the nearest {others.kind}"
        warnings.append(text + CHECK)
    if named.size > NAMED_POINTS:
        warnings.append(f"{named.size - NAMED_POINTS:,} more {points.kind}s lie far from the nearest {others.kind}")
    return warnings


def _log(warnings: list[str]) -> None:
    # The caller shows the warnings (metrics.json, the command's report), so the log keeps them at info.
    for warning in warnings:
        logger.info(warning)


def _likely_fix(lat: float, lon: float, limit: float, others: _Points) -> _Fix | None:
    """Return the first usual typing error whose correction brings the point within `limit` km of `others`."""
    return _batch_fixes(np.array([lat]), np.array([lon]), limit, others)[0]


def _batch_fixes(lat: np.ndarray, lon: np.ndarray, limit: float, others: _Points) -> list[_Fix | None]:
    """Return, per point, the first usual typing error whose correction brings it within `limit` km of
    `others`, or None. The corrections are tried in this order: the sign of the longitude, the sign of
    the latitude, the pair swapped, and the pair swapped with either sign flipped."""
    corrections = [
        (lambda a, o: (a, -o), lambda a, o: f"with longitude {-o:.4f} instead of {o:.4f}"),
        (lambda a, o: (-a, o), lambda a, o: f"with latitude {-a:.4f} instead of {a:.4f}"),
        (lambda a, o: (o, a), lambda a, o: "with latitude and longitude swapped"),
        (lambda a, o: (-o, a), lambda a, o: f"with latitude {-o:.4f} and longitude {a:.4f}"),
        (lambda a, o: (o, -a), lambda a, o: f"with latitude {o:.4f} and longitude {-a:.4f}"),
    ]
    result: list[_Fix | None] = [None] * len(lat)
    open_rows = np.arange(len(lat))
    for move, describe in corrections:
        if open_rows.size == 0:
            break
        new_lat, new_lon = move(lat[open_rows], lon[open_rows])
        usable = (np.abs(new_lat) <= 90.0) & ((new_lat != lat[open_rows]) | (new_lon != lon[open_rows]))
        close = np.zeros(open_rows.size, dtype=bool)
        if usable.any():
            distance, _ = others.nearest(new_lat[usable], new_lon[usable])
            close[usable] = distance <= limit
        for row in np.flatnonzero(close):
            k = open_rows[row]
            result[k] = _Fix(float(new_lat[row]), float(new_lon[row]), describe(lat[k], lon[k]))
        open_rows = open_rows[~close]
    return result


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
