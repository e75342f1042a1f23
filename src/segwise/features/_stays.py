"""Stays and stable locations of users, from pings sorted by user and time.

One block holds many users' pings as flat arrays; everything here works on whole blocks
at once. The compiled sequence rules and stay points (:mod:`segwise._kernels`) walk each
user's pings once; DBSCAN with the haversine metric groups each user's stays into stable
locations; time spent at a location in recurring weekly windows (nights, working hours,
weekends, parts of the day) is measured exactly with a cumulative weekly clock.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from segwise._geo import EARTH_RADIUS_M, haversine_np, unwrap_lon, wrap_lon

if TYPE_CHECKING:
    from segwise.clean import PingRules
    from segwise.features.pings import MobilitySettings

__all__ = [
    "PARTS",
    "Block",
    "BlockResult",
    "dbscan_haversine",
    "location_table",
    "order_ties",
    "process_block",
    "week_hours",
    "weekly_overlap",
]

#: Parts of the day, in the order of the heatmap's columns.
PARTS = ("night", "morning", "afternoon", "evening")
#: 1970-01-01 was a Thursday: hours to add so that hour 0 of the week is Monday 00:00.
_MONDAY_OFFSET_H = 3 * 24


def week_hours(days: tuple[int, ...], start: int, end: int) -> np.ndarray:
    """Return a mask of the 168 hours of the week (Monday 00:00 first).

    Parameters
    ----------
    days : tuple of int
        Days (0 Monday ... 6 Sunday) on which the window opens.
    start, end : int
        Hours of the day; a window with ``end <= start`` runs past midnight into the
        next day (22 to 6 is a night).

    Returns
    -------
    ndarray of float64, shape (168,)
        1 for hours inside the window.
    """
    mask = np.zeros(168)
    for d in days:
        hours = range(start, end) if end > start else range(start, end + 24)
        for h in hours:
            mask[(d * 24 + h) % 168] = 1.0
    return mask


def weekly_overlap(start: np.ndarray, end: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Hours of each interval that fall into a recurring weekly window.

    Exact at any resolution: the overlap is ``F(end) - F(start)`` for the cumulative
    window clock ``F(t)`` (hours of window up to local time ``t``).

    Parameters
    ----------
    start, end : ndarray of int64
        Interval bounds, local seconds since 1970.
    mask : ndarray of shape (168,)
        The window (:func:`week_hours`).

    Returns
    -------
    ndarray of float64
        Hours inside the window.
    """
    cum = np.concatenate([[0.0], np.cumsum(mask)])

    def clock(t: np.ndarray) -> np.ndarray:
        h = t / 3600.0 + _MONDAY_OFFSET_H
        weeks = np.floor(h / 168.0)
        within = h - weeks * 168.0
        hour = np.minimum(within.astype(np.int64), 167)
        return weeks * cum[-1] + cum[hour] + (within - hour) * mask[hour]

    return clock(np.asarray(end, np.float64)) - clock(np.asarray(start, np.float64))


def day_part_cells(ts: np.ndarray, parts_of_day: tuple[int, ...]) -> np.ndarray:
    """Heatmap cell of each local time: weekday (0 Monday) × 4 + part of the day."""
    hours = ts // 3600 + _MONDAY_OFFSET_H
    weekday = (hours // 24) % 7
    hour = hours % 24
    part = np.searchsorted(np.asarray(parts_of_day[1:]), hour, side="right")
    return weekday * len(PARTS) + part


def _category_codes(category: np.ndarray) -> np.ndarray:
    """Rank of each category in text order, missing ones last (as SQL's ORDER BY)."""
    missing = np.array([c is None for c in category], bool)
    code = np.full(len(category), -1, np.int64)
    code[~missing] = np.unique(category[~missing].astype(str), return_inverse=True)[1]
    code[missing] = code.max(initial=-1) + 1
    return code


def order_ties(user: np.ndarray, ts: np.ndarray, lat: np.ndarray, lon: np.ndarray,
               accuracy: np.ndarray, category: np.ndarray | None = None) -> np.ndarray:
    """Order pings sorted by user and time completely: ties by position, accuracy, category.

    Parameters
    ----------
    user, ts : ndarray of int64
        Sorted together (by user, then time); pings of one user at one instant in any
        order.
    lat, lon, accuracy : ndarray of float64
        Missing accuracies (NaN) last.
    category : ndarray of object, optional
        Missing categories (None) last.

    Returns
    -------
    ndarray of int64
        The permutation that sorts by user, time, latitude, longitude, accuracy and
        category; only the rows of tied (user, time) runs move.
    """
    order = np.arange(len(ts))
    same = (user[1:] == user[:-1]) & (ts[1:] == ts[:-1])
    if not same.any():
        return order
    tied = np.zeros(len(ts), bool)
    tied[1:] |= same
    tied[:-1] |= same
    rows = np.flatnonzero(tied)
    run = np.cumsum(~np.r_[False, same][rows])
    keys = [accuracy[rows], lon[rows], lat[rows], run]
    if category is not None:
        keys.insert(0, _category_codes(category[rows]))
    order[rows] = rows[np.lexsort(keys)]
    return order


@dataclass
class Block:
    """Pings of several users as flat arrays, sorted by user and time.

    Attributes
    ----------
    users : ndarray of object
        User ids, one per user, in order.
    starts : ndarray of int64, shape (n_users + 1,)
        Where each user's pings begin.
    ts : ndarray of int64
        Local seconds since 1970.
    lat, lon, accuracy : ndarray of float64
    category : ndarray of object or None
        Venue categories of check-ins.
    """

    users: np.ndarray
    starts: np.ndarray
    ts: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    accuracy: np.ndarray
    category: np.ndarray | None = None

    @classmethod
    def from_columns(cls, user: np.ndarray, ts: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                     accuracy: np.ndarray | None = None,
                     category: np.ndarray | None = None) -> Block:
        """Sort pings of any order into a block (by user, time, position, accuracy)."""
        n = len(ts)
        accuracy = np.full(n, np.nan) if accuracy is None else np.asarray(accuracy, np.float64)
        users, code = np.unique(np.asarray(user, dtype=object).astype(str), return_inverse=True)
        cat_code = (np.zeros(n, np.int64) if category is None
                    else np.unique(np.asarray(category, dtype=object).astype(str),
                                   return_inverse=True)[1])
        acc_key = np.where(np.isnan(accuracy), np.inf, accuracy)
        order = np.lexsort((cat_code, acc_key, lon, lat, ts, code))
        starts = np.searchsorted(code[order], np.arange(len(users) + 1))
        return cls(users, starts.astype(np.int64), np.asarray(ts, np.int64)[order],
                   np.asarray(lat, np.float64)[order], np.asarray(lon, np.float64)[order],
                   accuracy[order],
                   None if category is None else np.asarray(category, dtype=object)[order])


@dataclass
class BlockResult:
    """What one block's users gave: per-user counts, stays, and rule counts."""

    users: dict[str, np.ndarray]
    stays: dict[str, np.ndarray]
    flags: dict[str, int]
    categories: dict[str, np.ndarray] = field(default_factory=dict)


def process_block(block: Block, rules: PingRules, settings: MobilitySettings,
                  checkins: bool, offset: int = 0) -> BlockResult:
    """Sequence rules, heatmap counts, stays and their stable locations for one block.

    Parameters
    ----------
    block : Block
        Pings sorted by user and time.
    rules : PingRules
        Cleaning settings (speeds, duplicates, minimum pings).
    settings : MobilitySettings
        Stay and location settings.
    checkins : bool
        Treat each ping as a visit (check-ins) instead of detecting stays.
    offset : int, default=0
        Number of the block's first user among all users (users are numbered in order).

    Returns
    -------
    BlockResult
        ``users``: user number and id, kept pings, first and last ping, active days, 28
        heatmap counts; ``stays``: user number, start, end, latitude, longitude, pings,
        location (-1: no stable location); ``categories``: user number, category, count;
        ``flags``: pings each sequence rule removed.
    """
    from segwise._kernels import stay_points
    from segwise.clean import sequence_flags
    from segwise.clean._pings import SEQUENCE_CODES

    cat = block.category
    cat_code = (np.zeros(len(block.ts), np.int64) if cat is None
                else np.unique(cat.astype(str), return_inverse=True)[1])
    codes = sequence_flags(block.starts, block.ts, block.lat, block.lon, block.accuracy,
                           cat_code, rules)
    counts = np.bincount(codes, minlength=len(SEQUENCE_CODES) + 1)
    flags = {name: int(counts[c]) for name, c in SEQUENCE_CODES.items()}
    keep = codes == 0
    owner = np.repeat(np.arange(len(block.users)), np.diff(block.starts))[keep]
    ts, lat, lon = block.ts[keep], block.lat[keep], block.lon[keep]
    n_users = len(block.users)
    starts = np.searchsorted(owner, np.arange(n_users + 1)).astype(np.int64)
    pings = np.diff(starts)
    has = pings > 0
    heat = np.bincount(owner * 28 + day_part_cells(ts, settings.parts_of_day),
                       minlength=n_users * 28).reshape(n_users, 28)
    day = ts // 86_400
    new_day = np.ones(len(ts), bool)
    new_day[1:] = (day[1:] != day[:-1]) | (owner[1:] != owner[:-1])
    users = {
        "user": offset + np.flatnonzero(has),
        "user_id": block.users[has],
        "pings": pings[has],
        "first": ts[starts[:-1][has]],
        "last": ts[starts[1:][has] - 1],
        "active_days": np.bincount(owner[new_day], minlength=n_users)[has],
        "heat": heat[has],
    }
    if checkins:
        u = owner
        s_start = ts
        s_end = ts + int(settings.checkin_minutes * 60)
        s_lat, s_lon, s_n = lat, lon, np.ones(len(ts), np.int64)
    else:
        u, s_start, s_end, s_lat, s_lon, s_n = stay_points(
            starts, ts, lat, lon, float(settings.stay_distance_m),
            int(settings.stay_minutes * 60), int(settings.max_gap_hours * 3600))
    # A stay of several whole days counts one visit a day: someone who never leaves home
    # in the data (a device at rest, one cell tower) has a home, not one lone stay.
    days = np.maximum((s_end - s_start) // 86_400, 1)
    location = dbscan_haversine(u, s_lat, s_lon, eps_m=settings.location_eps_m,
                                min_samples=settings.location_min_visits, weight=days)
    stays = {"user": offset + u, "start": s_start, "end": s_end, "lat": s_lat,
             "lon": s_lon, "pings": s_n, "location": location}
    categories: dict[str, np.ndarray] = {}
    if cat is not None:
        names, code = np.unique(cat[keep].astype(str), return_inverse=True)
        pair, n = np.unique(owner * len(names) + code, return_counts=True)
        categories = {"user": offset + pair // len(names),
                      "category": names[pair % len(names)].astype(object), "n": n}
    return BlockResult(users, stays, flags, categories)


def dbscan_haversine(user: np.ndarray, lat: np.ndarray, lon: np.ndarray, *, eps_m: float,
                     min_samples: int, weight: np.ndarray | None = None) -> np.ndarray:
    """DBSCAN of each user's points with the haversine (great-circle) metric, many users at once.

    Neighbourhoods are great-circle discs of ``eps_m``. They are found with a k-d tree
    over the points as unit vectors: the chord between two points is a monotone function
    of their great-circle distance (``chord = 2 sin(d / 2R)``), so a chord radius of
    ``2 sin(eps / 2R)`` gives exactly the neighbours a haversine ball tree gives (the
    tests compare with scikit-learn's ``DBSCAN(metric="haversine",
    algorithm="ball_tree")``), some twenty times faster. One tree holds many users'
    points; neighbours of another user are dropped, so the clusters are each user's own.
    Core points have at least ``min_samples`` neighbours (themselves included); clusters
    are the connected groups of core points; a border point joins the cluster of its
    nearest core neighbour (DBSCAN leaves that choice open; the nearest one does not
    depend on the order of the rows).

    Parameters
    ----------
    user : ndarray of int64
        Owner of each point, sorted.
    lat, lon : ndarray of float64
        Degrees.
    eps_m : float
        Neighbourhood radius in metres.
    min_samples : int
        Points a neighbourhood needs for its centre to be a core point.
    weight : ndarray of int, optional
        How many points each one counts for (scikit-learn's ``sample_weight``); 1 each
        when omitted.

    Returns
    -------
    ndarray of int64
        Cluster of each point, numbered 0, 1, ... within each user by first appearance;
        -1 for noise.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(user)
    labels = np.full(n, -1, np.int64)
    if n == 0:
        return labels
    p, q = np.radians(lat), np.radians(lon)
    P = np.column_stack([np.cos(p) * np.cos(q), np.cos(p) * np.sin(q), np.sin(p)])
    chord_eps = 2 * np.sin(eps_m / (2 * EARTH_RADIUS_M))
    # Chunks of users keep the neighbour lists of crowded places from growing together.
    bounds = np.append(np.searchsorted(user, np.unique(user)[:: max(1, 5000)]), n)
    for a, b in itertools.pairwise(bounds):
        pairs = cKDTree(P[a:b]).query_pairs(chord_eps, output_type="ndarray")
        pairs = pairs[user[a:b][pairs[:, 0]] == user[a:b][pairs[:, 1]]]
        own = np.arange(b - a)
        rows = np.concatenate([pairs[:, 0], pairs[:, 1], own])
        cols = np.concatenate([pairs[:, 1], pairs[:, 0], own])
        w = None if weight is None else weight[a:b][cols]
        core = np.bincount(rows, w, minlength=b - a) >= min_samples
        both = core[rows] & core[cols]
        graph = coo_matrix((np.ones(both.sum()), (rows[both], cols[both])),
                           shape=(b - a, b - a))
        _, comp = connected_components(graph, directed=False)
        local = np.where(core, comp, -1)
        # Border points: the cluster of the nearest core neighbour.
        edge = ~core[rows] & core[cols]
        if edge.any():
            r, c = rows[edge], cols[edge]
            d = np.linalg.norm(P[a:b][r] - P[a:b][c], axis=1)
            order = np.lexsort((c, d, r))
            r, c = r[order], c[order]
            first = np.ones(len(r), bool)
            first[1:] = r[1:] != r[:-1]
            local[r[first]] = comp[c[first]]
        labels[a:b] = local
    return _renumber(user, labels)


def _renumber(user: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Renumber each user's clusters 0, 1, ... by first appearance; noise stays -1."""
    out = np.full(len(labels), -1, np.int64)
    clustered = np.flatnonzero(labels >= 0)
    if not len(clustered):
        return out
    key = user[clustered].astype(np.int64) * (labels.max() + 1) + labels[clustered]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    # Rank of each cluster's first point within its user.
    order = np.argsort(first, kind="stable")
    rank_of = np.empty(len(first), np.int64)
    owners = user[clustered][first[order]]
    starts = np.r_[0, np.flatnonzero(owners[1:] != owners[:-1]) + 1]
    within = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank_of[order] = within
    out[clustered] = rank_of[inverse]
    return out


def location_table(stays: dict[str, np.ndarray], settings: MobilitySettings) -> dict[str, Any]:
    """Stable locations from stays: visits, dwell, shares of windows, home and work.

    Parameters
    ----------
    stays : dict of ndarray
        ``user`` (row of the user, 0 .. n_users - 1), ``start``, ``end``, ``lat``,
        ``lon``, ``location`` (from :func:`process_block`).
    settings : MobilitySettings
        Windows and labelling rules.

    Returns
    -------
    dict of ndarray
        One entry per stable location, sorted by user and location: ``user``,
        ``location``, ``lat``, ``lon`` (mean of its stays), ``visits``, ``days``,
        ``dwell_h``, ``night_share``, ``work_share``, ``weekend_share`` (of the user's
        stay hours in that window spent there), ``<part>_share`` for each part of the day,
        and ``label`` (``home``, ``work`` or ``other``).
    """
    start, end = stays["start"], stays["end"]
    windows = _windows(settings)
    hours = {name: weekly_overlap(start, end, mask) for name, mask in windows.items()}
    hours["dwell"] = (end - start) / 3600.0
    user_code = stays["user"]
    n_users = int(user_code.max(initial=-1)) + 1
    # The user's stay hours in each window, stable location or not.
    totals = {k: np.bincount(user_code, v, minlength=n_users) for k, v in hours.items()}
    at = stays["location"] >= 0
    key = user_code[at] * (stays["location"].max(initial=0) + 1) + stays["location"][at]
    loc_keys, idx = np.unique(key, return_inverse=True)
    n_loc = len(loc_keys)
    owner = loc_keys // (stays["location"].max(initial=0) + 1)

    def per_location(values: np.ndarray) -> np.ndarray:
        return np.bincount(idx, values[at], minlength=n_loc)

    visits = np.bincount(idx, minlength=n_loc)
    out: dict[str, Any] = {
        "user": owner.astype(np.int64),
        "location": (loc_keys % (stays["location"].max(initial=0) + 1)).astype(np.int64),
        "lat": per_location(stays["lat"]) / np.maximum(visits, 1),
        "lon": wrap_lon(np.bincount(idx, unwrap_lon(stays["lon"][at], idx, n_loc),
                                    minlength=n_loc) / np.maximum(visits, 1)),
        "visits": visits.astype(np.int64),
        "days": _distinct_days(idx, start[at] // 86_400, n_loc),
        "dwell_h": per_location(hours["dwell"]),
    }
    night_start, night_end = settings.night_hours
    work_start, work_end = settings.work_hours
    out["nights"] = _window_days(idx, start[at], end[at], n_loc, night_start, night_end,
                                 range(7))
    out["workdays"] = _window_days(idx, start[at], end[at], n_loc, work_start, work_end,
                                   range(5))
    for name in windows:
        with np.errstate(invalid="ignore", divide="ignore"):
            share = per_location(hours[name]) / totals[name][owner]
        out[f"{name}_share"] = np.nan_to_num(share)
        out[f"_{name}_h"] = per_location(hours[name])
    out["label"] = _label(out, owner, n_users, settings)
    return out


def _windows(settings: MobilitySettings) -> dict[str, np.ndarray]:
    """Return the recurring windows whose time is measured at each location."""
    every = tuple(range(7))
    night_start, night_end = settings.night_hours
    work_start, work_end = settings.work_hours
    bounds = [*settings.parts_of_day, 24]
    windows = {
        "night": week_hours(every, night_start, night_end),
        "work": week_hours(tuple(range(5)), work_start, work_end),
        "weekend": week_hours((5, 6), 0, 24),
    }
    for part, lo, hi in zip(PARTS, bounds[:-1], bounds[1:], strict=True):
        windows[part] = week_hours(every, lo, hi)
    return windows


def _window_days(idx: np.ndarray, start: np.ndarray, end: np.ndarray, n: int,
                 from_h: int, to_h: int, days: range) -> np.ndarray:
    """Count the distinct days on which a location's stays overlap a daily window.

    Nights count by the day they begin.
    """
    length = ((to_h - from_h) % 24 or 24) * 3600
    s = start - from_h * 3600
    e = end - from_h * 3600
    first = np.floor_divide(s - length, 86_400) + 1
    last = np.floor_divide(e - 1, 86_400)
    count = np.maximum(last - first + 1, 0)
    owner = np.repeat(np.arange(len(s)), count)
    k = first[owner] + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
    # 1970-01-01 was a Thursday (weekday 3).
    keep = np.isin((k + 3) % 7, list(days))
    return _distinct_days(idx[owner][keep], k[keep], n)


def _distinct_days(idx: np.ndarray, day: np.ndarray, n: int) -> np.ndarray:
    pairs = np.unique(np.column_stack([idx, day]), axis=0)
    return np.bincount(pairs[:, 0], minlength=n).astype(np.int64) if len(pairs) else \
        np.zeros(n, np.int64)


def _label(loc: dict[str, Any], owner: np.ndarray, n_users: int,
           settings: MobilitySettings) -> np.ndarray:
    """Label each location home, work, home+work or other.

    ``home``: most nights (with a minimum share of the user's night hours); ``work``:
    most weekday working days elsewhere (minimum share and distinct days); ``home+work``:
    home, when no other place qualifies and home itself holds the working hours (people
    who work where they live: on a campus, at home).
    """
    label = np.full(len(owner), "other", dtype=object)
    # Distinct nights and working days first, hours break ties: a few very long stays
    # (a logger left on at the office overnight) must not outweigh many ordinary nights.
    home = _argmax_per_user(owner, loc["nights"] + loc["night_share"] * 0.999,
                            loc["night_share"] >= settings.home_min_night_share, n_users)
    label[home[home >= 0]] = "home"
    # Days with a visit, or working days spent there (one stay of a week at home is five).
    days = np.maximum(loc["days"], loc["workdays"])
    works = (loc["work_share"] >= settings.work_min_share) & (days >= settings.work_min_days)
    work = _argmax_per_user(owner, loc["workdays"] + loc["work_share"] * 0.999,
                            works & (label != "home"), n_users)
    label[work[work >= 0]] = "work"
    at_home = (home >= 0) & (work < 0)
    rows = home[at_home]
    label[rows[works[rows]]] = "home+work"
    return label


def _argmax_per_user(owner: np.ndarray, value: np.ndarray, eligible: np.ndarray,
                     n_users: int) -> np.ndarray:
    """Row of each user's largest eligible value (-1 where none is eligible or positive)."""
    ok = eligible & (value > 0)
    rows = np.flatnonzero(ok)
    best = np.full(n_users, -1, np.int64)
    if len(rows):
        order = rows[np.lexsort((rows, -value[rows], owner[rows]))]
        first = np.ones(len(order), bool)
        first[1:] = owner[order][1:] != owner[order][:-1]
        best[owner[order][first]] = order[first]
    return best


def distance_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray,
                lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in kilometres (NaN where a point is missing)."""
    return haversine_np(lat1, lon1, lat2, lon2) / 1000.0
