"""Distances on the Earth, vectorised with NumPy, for every room.

Great-circle distances use the haversine formula on a sphere of the mean Earth radius;
at the distances segwise works with (metres to a few hundred kilometres) the error against
the ellipsoid is below 0.5 %.

Means of longitudes go through :func:`unwrap_lon` and :func:`wrap_lon`: the plain mean of
179.99 and -179.99 is 0, the far side of the Earth, where the mean of the points is 180
(Fiji, Chukotka and the Aleutians straddle the antimeridian).
"""

from __future__ import annotations

import numpy as np

__all__ = ["EARTH_RADIUS_M", "haversine_np", "unwrap_lon", "wrap_lon"]

#: Mean Earth radius (m), IUGG.
EARTH_RADIUS_M = 6_371_008.8


def haversine_np(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray,
                 lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres between points given in degrees (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(1.0, a)))


def wrap_lon(lon: np.ndarray) -> np.ndarray:
    """Bring longitudes beyond ±180 (a mean of unwrapped ones) back into -180..180.

    Values within are returned as they are, bit for bit.
    """
    lon = np.asarray(lon, np.float64)
    return np.where(lon > 180.0, lon - 360.0, np.where(lon < -180.0, lon + 360.0, lon))


def unwrap_lon(lon: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Shift longitudes by 360° to lie within 180° of the first one of their group.

    The mean of a group's unwrapped longitudes, passed through :func:`wrap_lon`, is the
    longitude of its centre also when the group straddles the antimeridian; a group that
    does not is unchanged, bit for bit.

    Parameters
    ----------
    lon : ndarray of float64
        Degrees, -180..180.
    group : ndarray of int
        The group (0 .. ``n_groups`` - 1) of each longitude.
    n_groups : int

    Returns
    -------
    ndarray of float64
    """
    lon = np.asarray(lon, np.float64)
    ref = np.zeros(n_groups, np.float64)
    ref[group[::-1]] = lon[::-1]  # the first longitude of each group wins
    d = lon - ref[group]
    return np.where(d > 180.0, lon - 360.0, np.where(d < -180.0, lon + 360.0, lon))
