"""Migration between snapshots: reconciliation (a property), new and gone, the biggest flows."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segwise.exceptions import ConfigError, InputError
from segwise.track import GONE, NEW, TrackResult, describe_flows, track_pieces

from .conftest import duck_pieces

START = pd.Timestamp("2020-01-01")

line = st.tuples(
    st.integers(0, 14),  # customer
    st.integers(0, 24),  # order within the customer
    st.integers(0, 400),  # day
    st.floats(1.0, 500.0, allow_nan=False),  # value
    st.booleans(),  # a return of that order's value?
)


def _log(rows: list[tuple[int, int, int, float, bool]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["c", "o", "day", "value", "ret"])
    return pd.DataFrame({
        "customer_id": "c" + frame["c"].astype(str),
        # A return is its own order, as cancellations are in Online Retail.
        "order_id": np.where(frame["ret"], "R", "O") + frame["c"].astype(str) + "-"
        + frame["o"].astype(str),
        "ts": START + pd.to_timedelta(frame["day"], unit="D"),
        "revenue": np.where(frame["ret"], -0.5, 1.0) * frame["value"],
        "is_return": frame["ret"],
    })


def _track(frame: pd.DataFrame, **kwargs: object) -> TrackResult | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            return track_pieces(duck_pieces(frame), **kwargs)  # type: ignore[arg-type]
        except ConfigError:  # fewer than two snapshots in the span drawn
            return None
        except InputError:  # only returns were drawn: nobody to track
            assert not (frame["revenue"] > 0).any()
            return None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(line, min_size=1, max_size=120), window=st.sampled_from([None, "60d"]))
def test_migration_rows_and_columns_reconcile_with_the_snapshots(
    rows: list[tuple[int, int, int, float, bool]], window: str | None
) -> None:
    result = _track(_log(rows), every="month", window=window)
    if result is None:
        return
    s = result.snapshots
    for before, after in zip(result.dates[:-1], result.dates[1:], strict=True):
        a = s[s["snapshot"] == pd.Timestamp(before)]
        b = s[s["snapshot"] == pd.Timestamp(after)]
        if a.empty or b.empty:
            continue
        counts = result.migration(before, after)
        sizes_a = a["segment"].value_counts()
        sizes_b = b["segment"].value_counts()
        # Row sums are the earlier snapshot's segment sizes, column sums the later one's.
        rows_ = counts.drop(index=NEW).sum(axis=1)
        cols = counts.drop(columns=GONE).sum(axis=0)
        assert rows_[rows_ > 0].sort_index().to_dict() == sizes_a.sort_index().to_dict()
        assert cols[cols > 0].sort_index().to_dict() == sizes_b.sort_index().to_dict()
        # Every customer of either snapshot is counted exactly once.
        assert counts.to_numpy().sum() == len(set(a["customer_id"]) | set(b["customer_id"]))
        assert counts.loc[NEW].sum() == len(set(b["customer_id"]) - set(a["customer_id"]))
        assert counts[GONE].sum() == len(set(a["customer_id"]) - set(b["customer_id"]))
        # Revenue carried: row sums are the earlier snapshot's revenue by segment.
        revenue = result.migration(before, after, value="revenue_before").drop(index=NEW)
        expected = a.groupby("segment")["monetary"].sum()
        got = revenue.sum(axis=1).loc[expected.index]
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-6)
        shares = result.migration(before, after, value="share_of_from")
        nonzero = counts.sum(axis=1) > 0
        np.testing.assert_allclose(shares[nonzero].sum(axis=1), 1.0)
        if window is None:  # the whole history: nobody leaves a snapshot
            assert counts[GONE].sum() == 0


@pytest.mark.slow
def test_online_retail_quarterly_migration(retail_track: TrackResult) -> None:
    dates = [str(d) for d in retail_track.dates]
    assert dates == ["2011-01-01", "2011-04-01", "2011-07-01", "2011-10-01", "2011-12-10"]
    sizes = retail_track.sizes()
    for before, after in zip(retail_track.dates[:-1], retail_track.dates[1:], strict=True):
        m = retail_track.migration(before, after)
        at = sizes[sizes["snapshot"] == pd.Timestamp(before)].set_index("segment")["customers"]
        assert (m.drop(index=NEW).sum(axis=1) == at.reindex(m.index[:-1])).all()
        assert m[GONE].sum() == 0  # the whole history: a customer never leaves the base
    last = retail_track.migration()
    assert last.loc[NEW].sum() == 4333 - 3612  # first bought in Q4 2011
    assert last.loc["Champions", "Champions"] == 498


@pytest.mark.slow
def test_biggest_flows_are_named_with_revenue(retail_track: TrackResult) -> None:
    top = retail_track.biggest_flows(3)
    assert len(top) == 3
    assert (top["from_segment"] != top["to_segment"]).all()
    assert top["revenue_before"].is_monotonic_decreasing
    first = top.iloc[0]
    assert (first["from_segment"], first["to_segment"], first["customers"]) == (
        "Loyal", "Champions", 177)
    assert first["revenue_before"] == pytest.approx(438_329.92, abs=0.01)
    sentence = retail_track.headline("GBP")
    assert sentence.startswith("From 2011-10-01 to 2011-12-10, 177 customers went from Loyal "
                               "to Champions; they had spent GBP 438k by 2011-10-01")
    assert sentence.count("went from") == 3
    # Loyal customers slipping to At Risk, as the example has it.
    assert "143 customers went from Loyal to At Risk" in sentence


@pytest.mark.slow
def test_sizes_over_time(retail_track: TrackResult) -> None:
    sizes = retail_track.sizes()
    assert len(sizes) == 5 * 11  # every segment at every snapshot, empty or not
    per = sizes.groupby("snapshot")
    np.testing.assert_allclose(per["share"].sum(), 1.0)
    np.testing.assert_allclose(per["revenue_share"].sum(), 1.0)
    assert list(per["customers"].sum()) == [884, 2131, 2957, 3612, 4333]


def test_describe_flows_without_moves() -> None:
    empty = pd.DataFrame(columns=["from_snapshot", "to_snapshot", "from_segment",
                                  "to_segment", "customers", "revenue_before",
                                  "revenue_between"])
    assert describe_flows(empty) == "No customer changed segment between the snapshots."
    one = pd.DataFrame([{
        "from_snapshot": dt.date(2011, 7, 1), "to_snapshot": dt.date(2011, 10, 1),
        "from_segment": "Loyal", "to_segment": "At Risk", "customers": 1,
        "revenue_before": 1_234_567.0, "revenue_between": 950.0}])
    assert describe_flows(one, "EUR") == (
        "From 2011-07-01 to 2011-10-01, 1 customer went from Loyal to At Risk; they had spent "
        "EUR 1.2m by 2011-07-01 and EUR 950 since.")


@pytest.mark.slow
def test_bad_pairs_and_values(retail_track: TrackResult) -> None:
    with pytest.raises(ConfigError, match="no snapshot at 2011-02-01"):
        retail_track.migration("2011-02-01", "2011-04-01")
    with pytest.raises(ConfigError, match="value 'dollars'"):
        retail_track.migration(value="dollars")
    # Backwards, the 721 customers acquired between the two were counted as (gone) and
    # the matrix was returned without a word; the same snapshot twice is no migration.
    with pytest.raises(ConfigError, match=r"the first snapshot must be the earlier\. "
                                          r"Fix: \('2011-10-01', '2011-12-10'\)"):
        retail_track.migration("2011-12-10", "2011-10-01")
    with pytest.raises(ConfigError, match="from 2011-10-01 to itself"):
        retail_track.migration("2011-10-01", "2011-10-01")
