"""Compiled loops (numba) over users' pings in time order: the parts that cannot be vectorised.

Each kernel walks a flat array of many users' pings, sorted by user and time, with
``starts`` marking where each user begins; every step looks at a ping's neighbours in time,
which NumPy cannot express without quadratic memory. Import this module lazily: loading
numba takes half a second that commands without pings never pay.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from segwise._geo import EARTH_RADIUS_M

__all__ = ["haversine_m", "sequence_codes", "stay_points"]


@njit(cache=True, nogil=True)
def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:  # pragma: no cover
    """Great-circle distance in metres between two points given in degrees."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(min(1.0, a)))


@njit(cache=True, nogil=True)
def _same(a: float, b: float) -> bool:  # pragma: no cover - compiled
    return a == b or (np.isnan(a) and np.isnan(b))


@njit(cache=True, nogil=True)
def sequence_codes(starts: np.ndarray, ts: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                    acc: np.ndarray, cat: np.ndarray, max_speed: float,
                    min_pings: int) -> np.ndarray:  # pragma: no cover - compiled
    flag = np.zeros(len(ts), np.int8)
    kept = np.empty(len(ts), np.int64)
    for u in range(len(starts) - 1):
        a, b = starts[u], starts[u + 1]
        n = 0
        for i in range(a, b):
            if i > a and ts[i] == ts[i - 1]:
                if (lat[i] == lat[i - 1] and lon[i] == lon[i - 1] and _same(acc[i], acc[i - 1])
                        and cat[i] == cat[i - 1]):
                    flag[i] = 1
                else:
                    flag[i] = 2
            else:
                kept[n] = i
                n += 1
        # An isolated jump: too fast both into and out of the ping (ends have one side).
        for k in range(1, n - 1):
            p, i, q = kept[k - 1], kept[k], kept[k + 1]
            v_in = haversine_m(lat[p], lon[p], lat[i], lon[i]) / (ts[i] - ts[p])
            v_out = haversine_m(lat[i], lon[i], lat[q], lon[q]) / (ts[q] - ts[i])
            if v_in > max_speed and v_out > max_speed:
                flag[i] = 3
        left = 0
        for k in range(n):
            if flag[kept[k]] == 0:
                left += 1
        if left < min_pings:
            for k in range(n):
                if flag[kept[k]] == 0:
                    flag[kept[k]] = 4
    return flag


@njit(cache=True, nogil=True)
def _mean_lon(lon: np.ndarray) -> float:  # pragma: no cover - compiled
    """Mean longitude, also of points on both sides of the antimeridian (see _geo)."""
    if lon.max() - lon.min() <= 180.0:
        return lon.mean()
    near = np.where(lon - lon[0] > 180.0, lon - 360.0,
                    np.where(lon - lon[0] < -180.0, lon + 360.0, lon))
    m = near.mean()
    return m - 360.0 if m > 180.0 else (m + 360.0 if m < -180.0 else m)


@njit(cache=True, nogil=True)
def stay_points(starts: np.ndarray, ts: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                max_distance_m: float, min_duration_s: int,
                max_gap_s: int) -> tuple[np.ndarray, ...]:  # pragma: no cover - compiled
    """Stay points (Li et al. 2008): runs of pings within a distance of their first ping.

    From each ping ``i``, the run extends over the following pings while they lie within
    ``max_distance_m`` of ping ``i`` and no gap between consecutive pings exceeds
    ``max_gap_s``; a run lasting at least ``min_duration_s`` (first to last ping) is a stay
    and the search goes on after it, otherwise it goes on from ``i + 1``.

    Returns
    -------
    tuple of ndarray
        Per stay: user index, start and end (seconds), mean latitude and longitude (of
        the points also across the antimeridian), number of pings.
    """
    cap = len(ts) // 2 + 1
    user = np.empty(cap, np.int64)
    start = np.empty(cap, np.int64)
    end = np.empty(cap, np.int64)
    mlat = np.empty(cap, np.float64)
    mlon = np.empty(cap, np.float64)
    count = np.empty(cap, np.int64)
    n = 0
    for u in range(len(starts) - 1):
        i, b = starts[u], starts[u + 1]
        while i < b:
            j = i + 1
            while (j < b and ts[j] - ts[j - 1] <= max_gap_s
                   and haversine_m(lat[i], lon[i], lat[j], lon[j]) <= max_distance_m):
                j += 1
            if ts[j - 1] - ts[i] >= min_duration_s:
                user[n] = u
                start[n] = ts[i]
                end[n] = ts[j - 1]
                mlat[n] = lat[i:j].mean()
                mlon[n] = _mean_lon(lon[i:j])
                count[n] = j - i
                n += 1
                i = j
            else:
                i += 1
    return user[:n], start[:n], end[:n], mlat[:n], mlon[:n], count[:n]
