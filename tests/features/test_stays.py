"""Stays, stable locations, week windows, settlements: against plain references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN

from segwise._geo import EARTH_RADIUS_M, haversine_np
from segwise._kernels import stay_points
from segwise.features._places import grid_cells, settlement_levels
from segwise.features._stays import dbscan_haversine, order_ties, week_hours, weekly_overlap
from segwise.features.pings import MobilitySettings


def _stays_reference(ts: list[int], lat: list[float], lon: list[float], dist: float,
                     dur: int, gap: int) -> list[tuple[int, int, int]]:
    """Li et al.'s stay points, written out plainly for one user."""
    out, i, n = [], 0, len(ts)
    while i < n:
        j = i + 1
        while (j < n and ts[j] - ts[j - 1] <= gap
               and haversine_np(lat[i], lon[i], lat[j], lon[j]) <= dist):
            j += 1
        if ts[j - 1] - ts[i] >= dur:
            out.append((ts[i], ts[j - 1], j - i))
            i = j
        else:
            i += 1
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(60, 3600), st.sampled_from([0, 1, 2]),
                          st.floats(-1, 1)), min_size=1, max_size=60))
def test_stay_points_match_the_plain_algorithm(steps: list[tuple[int, int, float]]) -> None:
    places = [(52.52, 13.40), (52.53, 13.42), (52.40, 13.06)]
    ts = np.cumsum([s for s, _, _ in steps]).astype(np.int64)
    lat = np.array([places[p][0] + 0.0005 * j for _, p, j in steps])
    lon = np.array([places[p][1] for _, p, _ in steps])
    got = stay_points(np.array([0, len(ts)]), ts, lat, lon, 200.0, 1200, 7200)
    want = _stays_reference(ts.tolist(), lat.tolist(), lon.tolist(), 200.0, 1200, 7200)
    assert list(zip(got[1].tolist(), got[2].tolist(), got[5].tolist(), strict=True)) == want


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3), st.floats(0, 1),
                          st.floats(0, 1), st.sampled_from([1, 1, 1, 2, 5])),
                min_size=1, max_size=80),
       st.integers(1, 4), st.booleans())
def test_dbscan_per_user_matches_scikit_learn(points: list[tuple[int, int, float, float, int]],
                                              min_samples: int, weighted: bool) -> None:
    centres = [(52.52, 13.40), (52.5205, 13.4003), (52.40, 13.06), (52.60, 13.20)]
    points = sorted(points)
    user = np.array([p[0] for p in points], dtype=np.int64)
    lat = np.array([centres[p[1]][0] + 0.002 * p[2] for p in points])
    lon = np.array([centres[p[1]][1] + 0.002 * p[3] for p in points])
    # Weights: a stay of several whole days counts one visit a day.
    weight = np.array([p[4] for p in points]) if weighted else None
    eps = 150.0
    got = dbscan_haversine(user, lat, lon, eps_m=eps, min_samples=min_samples, weight=weight)
    for u in np.unique(user):
        mine = user == u
        X = np.radians(np.column_stack([lat[mine], lon[mine]]))
        ref = DBSCAN(eps=eps / EARTH_RADIUS_M, min_samples=min_samples, metric="haversine",
                     algorithm="ball_tree").fit(
            X, sample_weight=None if weight is None else weight[mine])
        core = np.zeros(mine.sum(), bool)
        core[ref.core_sample_indices_] = True
        mine_got, ref_labels = got[mine], ref.labels_
        # Noise is the same, and the core points are partitioned alike.
        assert np.array_equal(mine_got < 0, ref_labels < 0)
        pairs = {(a, b) for a, b in zip(mine_got[core], ref_labels[core], strict=True)}
        assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})
        # Clusters are numbered by first appearance within the user.
        seen = [x for x in dict.fromkeys(mine_got.tolist()) if x >= 0]
        assert seen == list(range(len(seen)))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 3 * 7 * 86_400), st.integers(0, 4 * 86_400),
       st.sampled_from([((0, 1, 2, 3, 4, 5, 6), 22, 6), ((0, 1, 2, 3, 4), 9, 17),
                        ((5, 6), 0, 24)]))
def test_weekly_overlap_counts_the_window_minute_by_minute(start: int, length: int,
                                                           window: tuple) -> None:
    days, a, b = window
    mask = week_hours(days, a, b)
    t0 = 1_709_510_400 + start  # from Monday 2024-03-04 00:00
    got = weekly_overlap(np.array([t0]), np.array([t0 + length]), mask)[0]
    minutes = np.arange(t0, t0 + length, 60)
    hour_of_week = (minutes // 3600 + 72) % 168
    want = mask[hour_of_week].sum() / 60
    assert got == pytest.approx(want, abs=1 / 60 + 1e-9)


def test_grid_cells_are_about_the_size_asked() -> None:
    rng = np.random.default_rng(0)
    lat = rng.uniform(-60, 60, 2000)
    lon = rng.uniform(-179, 179, 2000)
    _, clat, clon = grid_cells(lat, lon, 500.0)
    # A point is at most half a cell's diagonal from its cell's centre.
    assert haversine_np(lat, lon, clat, clon).max() <= 500 * np.sqrt(2) / 2 * 1.01


def test_grid_cells_by_the_antimeridian_have_centres_in_range() -> None:
    # The last column of a row is narrower than the others; its centre was past 180.
    lat = np.linspace(-60, 60, 241)
    lon = np.full(len(lat), 179.99999)
    _, clat, clon = grid_cells(lat, lon, 500.0)
    assert (np.abs(clon) <= 180).all()
    assert haversine_np(lat, lon, clat, clon).max() <= 500 * np.sqrt(2) / 2 * 1.01


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(60, 1800), st.floats(-1, 1), st.floats(-1, 1)),
                min_size=2, max_size=40),
       st.floats(-180, 180))
def test_stay_centres_turn_with_the_earth(steps: list[tuple[int, float, float]],
                                          turn: float) -> None:
    # One place, pings up to 100 m around it, turned to any longitude: across the
    # antimeridian the stay's centre is where its pings are, not on the far side.
    ts = np.cumsum([s for s, _, _ in steps]).astype(np.int64)
    lat = np.array([-16.8 + 0.0009 * a for _, a, _ in steps])
    lon = np.array([0.0009 * b for _, _, b in steps])
    turned = (lon + turn + 180.0) % 360.0 - 180.0
    args = (np.array([0, len(ts)]), ts, lat)
    want = stay_points(*args, lon, 300.0, 60, 7200)
    got = stay_points(*args, turned, 300.0, 60, 7200)
    assert len(got[0]) == len(want[0]) >= 1
    assert haversine_np(got[3], got[4], want[3], want[4] + turn).max() < 0.01
    assert (np.abs(got[4]) <= 180).all()


def test_settlement_levels_from_the_gazetteer() -> None:
    s = MobilitySettings()
    lat = np.array([52.520, 52.400, 52.754, 52.180, -60.0])
    lon = np.array([13.405, 13.060, 13.237, 12.900, -40.0])
    level, place = settlement_levels(lat, lon, s)
    assert level.tolist()[:3] == ["city", "city", "town"]  # Berlin, Potsdam, Oranienburg
    assert place[0] == "Berlin" and level[-1] == "outside" and place[-1] is None


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3), st.sampled_from([1.0, 2.0]),
                          st.sampled_from([-1.0, 0.5]), st.sampled_from([np.nan, 5.0, 10.0]),
                          st.sampled_from([None, "bar", "cafe"])), max_size=40),
       st.randoms(use_true_random=False))
@settings(max_examples=150, deadline=None)
def test_order_ties_completes_a_sort_by_user_and_time(rows: list[tuple], rnd) -> None:
    """Pings sorted by (user, time) only, ties shuffled: order_ties gives the full SQL order."""
    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    # Within each (user, time), any order, as an engine sorting on those alone gives.
    rnd.shuffle(rows)
    rows.sort(key=lambda r: (r[0], r[1]))
    user, ts, lat, lon, acc = (np.array([r[i] for r in rows], dtype=np.float64 if i > 1
                                        else np.int64) for i in range(5))
    cat = np.array([r[5] for r in rows], dtype=object)
    got = order_ties(user, ts, lat, lon, acc, cat)
    # SQL's ORDER BY user, ts, lat, lon, accuracy, category: missing values last.
    expected = sorted(rows, key=lambda r: (r[0], r[1], r[2], r[3], np.isnan(r[4]),
                                           0.0 if np.isnan(r[4]) else r[4], r[5] is None,
                                           r[5] or ""))
    key = [(u, t, a, b, "nan" if np.isnan(c) else c, d) for u, t, a, b, c, d in rows]
    want = [(u, t, a, b, "nan" if np.isnan(c) else c, d) for u, t, a, b, c, d in expected]
    assert [key[i] for i in got] == want
    assert sorted(got) == list(range(len(rows)))
    without = order_ties(user, ts, lat, lon, acc)
    assert [key[i][:5] for i in without] == [w[:5] for w in sorted(
        want, key=lambda r: (r[0], r[1], r[2], r[3], r[4] == "nan",
                             0.0 if r[4] == "nan" else r[4]))]


#: Settings and values out of their range: each was taken, and gave a traceback (a SOM of
#: 0 x 0 nodes), NaN cells (cell_m = 0) or silently odd places (a 30th hour, no visits).
_OUT_OF_RANGE = {
    "stay_distance_m": [0.0, -5.0], "stay_minutes": [0.0], "max_gap_hours": [-1.0],
    "checkin_minutes": [0.0], "location_eps_m": [0.0], "cell_m": [0.0],
    "settlement_cell_m": [-1.0], "place_radius_km": [0.0], "poi_radius_m": [-1.0],
    "location_min_visits": [0], "work_min_days": [0], "min_cell_users": [0],
    "settlement_min_users": [0], "block_pings": [0], "rhythm_groups": [0],
    "home_min_night_share": [1.5, -0.1], "work_min_share": [2.0],
    "parts_of_day": [[0, 6, 12, 25]], "night_hours": [[22, 30]], "work_hours": [[-1, 17]],
    "som_shape": [[0, 0], [6, 1000]], "h3_resolution": [16], "interest_groups": [-1],
    "gazetteer_min_population": [2000], "n_jobs": [0],
}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([(k, v) for k, vs in _OUT_OF_RANGE.items() for v in vs]))
def test_mobility_settings_out_of_range_are_refused(case: tuple[str, object]) -> None:
    import re

    from segwise._settings import build_section
    from segwise.exceptions import ConfigError

    key, value = case
    with pytest.raises(ConfigError, match=rf"^\[mobility\] {key} = {re.escape(repr(value))}"
                                          r"(\.0)?: must be "):
        build_section(MobilitySettings, {key: value}, "mobility")
    # The defaults, and the edges of every range, are taken.
    build_section(MobilitySettings, {"parts_of_day": [0, 6, 12, 23], "night_hours": [0, 24],
                                     "som_shape": [1, 1], "home_min_night_share": 0.0,
                                     "work_min_share": 1.0, "interest_groups": 0,
                                     "h3_resolution": 15}, "mobility")


@pytest.mark.parametrize(("given_zone", "fix"), [
    ("Europe/Berln", 'timezone = "Europe/Berlin"'),
    ("america/new york", 'timezone = "America/New_York"'),
    ("Shanghai", 'timezone = "Asia/Shanghai"'),
    # An offset: IANA's fixed zones are named with the sign the other way.
    ("GMT+8", 'timezone = "Etc/GMT-8" (IANA names UTC+8 with the sign the other way'),
    ("UTC-05:00", 'timezone = "Etc/GMT+5"'),
    ("Mars/Olympus", 'timezone = "Europe/Berlin" (Region/City, as IANA names it)'),
])
def test_an_unknown_time_zone_is_one_line_with_the_zone_meant(given_zone: str,
                                                                fix: str) -> None:
    # It said only "not an IANA time zone such as Europe/Berlin", whatever was meant.
    import re

    from segwise._settings import build_section
    from segwise.exceptions import ConfigError

    with pytest.raises(ConfigError) as caught:
        build_section(MobilitySettings, {"timezone": given_zone}, "mobility")
    assert re.match(rf"\[mobility\] timezone = \"{re.escape(given_zone)}\": not an IANA time "
                    rf"zone\. Fix: {re.escape(fix)}", str(caught.value)), str(caught.value)
    assert "\n" not in str(caught.value)
    # From Python, the setting is named as Python wrote it, not in a config file's words.
    with pytest.raises(ConfigError, match=rf"^MobilitySettings\(timezone=\"{re.escape(given_zone)}"
                                          r"\"\): not an IANA time zone"):
        MobilitySettings(timezone=given_zone)
