"""Distances on the WGS84 ellipsoid, in km.

``geodesic_km`` is exact (pyproj.Geod, Karney's algorithm) and is what plans report. ``spherical_km``
is a fast great-circle distance used only to rank candidate reps and to price columns; on WGS84 it
differs from the geodesic distance by less than 0.6 %, so ``SPHERICAL_LOWER_FACTOR`` times it is a
lower bound on the geodesic distance.
"""

from __future__ import annotations

import numpy as np
from pyproj import Geod

WGS84 = Geod(ellps="WGS84")
MEAN_EARTH_RADIUS_KM = 6371.0088
SPHERICAL_LOWER_FACTOR = 0.99


def geodesic_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Return the geodesic distance in km between paired points (arrays broadcast to one shape)."""
    lat1, lon1, lat2, lon2 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lat1, lon1, lat2, lon2)))
    if lat1.size == 0:
        return np.zeros(lat1.shape)
    _, _, metres = WGS84.inv(lon1.ravel(), lat1.ravel(), lon2.ravel(), lat2.ravel())
    return (np.asarray(metres) / 1000.0).reshape(lat1.shape)


def spherical_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Return the great-circle (haversine) distance in km on a sphere of the mean Earth radius."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    half_dphi = (phi2 - phi1) / 2.0
    half_dlambda = np.radians(np.asarray(lon2) - np.asarray(lon1)) / 2.0
    h = np.sin(half_dphi) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(half_dlambda) ** 2
    return 2.0 * MEAN_EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
