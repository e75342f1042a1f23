"""Distances on the Earth, vectorised with NumPy, for every room.

Great-circle distances use the haversine formula on a sphere of the mean Earth radius;
at the distances segwise works with (metres to a few hundred kilometres) the error against
the ellipsoid is below 0.5 %.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EARTH_RADIUS_M", "haversine_np"]

#: Mean Earth radius (m), IUGG.
EARTH_RADIUS_M = 6_371_008.8


def haversine_np(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray,
                 lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres between points given in degrees (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(1.0, a)))
