"""Week-time rhythm: each user's activity over 7 days x 4 parts of the day, and its names.

A user's heatmap is the share of their pings in each cell (Monday night ... Sunday
evening). Groups of similar heatmaps (the nodes of a self-organising map) are named by
the part of the week where their mean heatmap most exceeds everyone's.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DAYS", "RHYTHM_DIMENSIONS", "heat_columns", "name_rhythms"]

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_PARTS = ("night", "morning", "afternoon", "evening")


def heat_columns() -> list[str]:
    """Column names of the 28 heatmap shares: ``wt_mon_night`` ... ``wt_sun_evening``."""
    return [f"wt_{d.lower()}_{p}" for d in DAYS for p in _PARTS]


def _cells(days: range | tuple[int, ...], parts: tuple[int, ...]) -> list[int]:
    return [d * 4 + p for d in days for p in parts]


#: Named parts of the week: name -> heatmap cells. A group is named after the one whose
#: share most exceeds everyone's.
RHYTHM_DIMENSIONS: dict[str, list[int]] = {
    "Office hours": _cells(range(5), (1, 2)),
    "Night owls": _cells(range(7), (0,)),
    "Evening out": _cells(range(5), (3,)),
    "Weekend movers": _cells((5, 6), (1, 2, 3)),
}


def name_rhythms(means: np.ndarray, overall: np.ndarray, *, min_lift: float = 1.15
                 ) -> list[str]:
    """Name heatmap groups by the part of the week where they are most over-represented.

    Parameters
    ----------
    means : ndarray of shape (n_groups, 28)
        Mean heatmap of each group (shares summing to 1).
    overall : ndarray of shape (28,)
        Mean heatmap of everyone.
    min_lift : float, default=1.15
        A group whose best ratio to everyone is below this is ``"Steady all week"``.

    Returns
    -------
    list of str
        Unique names: groups sharing their strongest part are told apart by the next
        one ("Office hours, weekend movers"), then by a number.
    """
    ranked = []
    for row in np.atleast_2d(means):
        lifts = {name: row[cells].sum() / max(overall[cells].sum(), 1e-12)
                 for name, cells in RHYTHM_DIMENSIONS.items()}
        order = sorted(lifts, key=lambda k: -lifts[k])
        ranked.append([k for k in order if lifts[k] >= min_lift] or ["Steady all week"])
    first = [r[0] for r in ranked]
    names = []
    for r in ranked:
        name = r[0]
        if first.count(name) > 1 and len(r) > 1:
            name = f"{name}, {r[1].lower()}"
        names.append(name)
    counts = {name: names.count(name) for name in names}
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        seen[name] = seen.get(name, 0) + 1
        if counts[name] > 1:
            names[i] = f"{name} ({seen[name]})"
    return names
