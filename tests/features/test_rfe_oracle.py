"""RFE's per-user aggregates against a plain pandas reading of the same events.

The features group the events at one time (and search, category, device) before the
sessions window: an oracle that walks each user's events one by one must agree, ties and
pauses of exactly the gap included, with session ids (reused after long pauses, as per-day
counters are) and without; searches are runs of integer search ids in that order (ids
tied in time in numeric order, "10" after "9"; events without an id first), and the most
frequent hour, device and category take ties to the smallest (devices and categories as
text).
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from segwise.features.rfe import rfe_aggregates

GAP = 30 * 60

events = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2", "u3"]),
        # Minutes over two days, a pause of exactly the gap and ties likely.
        st.sampled_from([0, 1, 1, 2, 30, 31, 32, 61, 62, 95, 600, 1439, 1440, 1441, 2000]),
        st.sampled_from(["view", "click", "purchase", "search"]),
        st.sampled_from([None, "cars", "flats"]),
        st.sampled_from([None, "ios", "web"]),
        st.sampled_from([None, "1", "2"]),
        st.sampled_from([None, 9, 10, 10, 11]),
    ),
    min_size=1, max_size=40,
)


def _oracle(frame: pd.DataFrame, given: bool) -> pd.DataFrame:
    rows = {}
    for user, e in frame.groupby("user_id"):
        # Walk the events by session id (when given) and time: a new session where the
        # id changes or the user paused longer than the gap.
        key = e["session_id"].fillna("") if given else pd.Series("", index=e.index)
        order = np.lexsort((e["ts"].to_numpy(), key.to_numpy()))
        ts = e["ts"].to_numpy("datetime64[s]").astype(np.int64)[order]
        ids = key.to_numpy()[order]
        gaps = np.diff(ts)
        cut = (gaps > GAP) | (ids[1:] != ids[:-1])
        search = e["search_id"]
        walk = np.lexsort((search.fillna(0).to_numpy(), search.notna().to_numpy(),
                           e["ts"].to_numpy(), key.to_numpy()))
        runs = search.astype(object).where(search.notna(), None).to_numpy()[walk]
        how = (e["ts"].dt.dayofweek * 24 + e["ts"].dt.hour).rename("how")
        rows[user] = {
            "searches": 1 + sum(a != b for a, b in zip(runs[1:], runs[:-1], strict=True)),
            "active_hour_of_week": _mode(how),
            "device": _mode(e["device"].dropna().astype(str)),
            "category": _mode(e["category"].dropna().astype(str)),
            "categories": e["category"].nunique(),
            "events": len(e),
            "clicks": int((e["event"] == "click").sum()),
            "conversions": int((e["event"] == "purchase").sum()),
            "sessions": 1 + int(cut.sum()),
            "session_seconds": int(gaps[~cut].sum()),
            "active_days": e["ts"].dt.date.nunique(),
            "first_seen": e["ts"].min(),
            "last_seen": e["ts"].max(),
        }
    return pd.DataFrame.from_dict(rows, orient="index").sort_index()


def _mode(values: pd.Series) -> object:
    """The most frequent value, ties to the smallest; None without values."""
    counts = values.value_counts()
    return min(counts.index[counts == counts.max()]) if len(counts) else None


@settings(max_examples=60, deadline=None)
@given(events, st.booleans(), st.booleans())
# Searches 9 and 10 at one time, then 9 again: three runs in numeric order (two as text).
@example([("u1", 0, "view", None, "web", None, 10), ("u1", 0, "view", None, "ios", None, 9),
          ("u1", 1, "view", None, None, None, 9)], False, True)
def test_aggregates_match_a_walk_over_the_events(rows: list[tuple], given: bool,
                                                 int_devices: bool) -> None:
    start = pd.Timestamp("2024-03-04 00:00:00")
    frame = pd.DataFrame(rows, columns=["user_id", "minute", "event", "category", "device",
                                        "session_id", "search_id"])
    frame["ts"] = start + pd.to_timedelta(frame.pop("minute"), unit="min")
    if int_devices:  # as a database stores them: 40 ties with 5 as "40" < "5" does
        frame["device"] = frame["device"].map({"ios": 5, "web": 40}).astype("Int64")
    frame = frame.assign(search_id=frame["search_id"].astype("Int64"), object_id=None,
                         page=None,
                         is_click=frame["event"] == "click",
                         is_conversion=frame["event"] == "purchase")
    frame = frame.astype({c: "object" for c in (
        "session_id", "object_id", "page", "category") + (
        () if int_devices else ("device",))})
    # Rows equal in every column stored once with their count, ``_n`` (as the loader
    # stores a database's rows), give the same, grouped again or read as they are.
    counted = frame.groupby(list(frame.columns), dropna=False).size().reset_index(name="_n")
    counted = counted.astype(frame.dtypes.to_dict()).replace({np.nan: None})
    want = _oracle(frame, given)
    for table, group in ((frame, True), (counted, False)):
        got = rfe_aggregates(ibis.memtable(table), gap_minutes=GAP / 60, given_sessions=given,
                             searches=True, group=group).to_pandas()
        got = got.set_index("user_id").sort_index()
        # A user without categories has no row to join: missing, 0 in the entity table.
        got["categories"] = got["categories"].astype(float).fillna(0).astype(int)
        for column in want.columns:
            assert got[column].tolist() == want[column].tolist(), (column, group)
