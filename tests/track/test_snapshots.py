"""Snapshots: their dates, and every snapshot equal to RFM computed from the lines alone."""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from segwise._engine import fetch_numpy
from segwise.exceptions import ConfigError, InputError
from segwise.features.rfm import aggregate_customers, finish_rfm
from segwise.jobs import run_rfm, run_track
from segwise.track import TrackResult, snapshot_dates, track_customers, track_pieces

from .conftest import duck_pieces

D = dt.date


@pytest.mark.parametrize(
    ("every", "expected"),
    [
        ("quarter", [D(2011, 1, 1), D(2011, 4, 1), D(2011, 7, 1), D(2011, 10, 1), D(2011, 12, 10)]),
        ("year", [D(2011, 1, 1), D(2011, 12, 10)]),
        ("month", [D(2011, m, 1) for m in range(1, 13)] + [D(2011, 12, 10)]),
    ],
)
def test_calendar_snapshot_dates(every: str, expected: list[dt.date]) -> None:
    # Online Retail's span: the first of every period after the first purchase day, and
    # the day after the last purchase (RFM's default as-of date).
    assert snapshot_dates(D(2010, 12, 1), D(2011, 12, 9), every) == expected


def test_snapshot_dates_edge_cases() -> None:
    # A first purchase on a boundary: that boundary's snapshot would be empty.
    assert snapshot_dates(D(2011, 1, 1), D(2011, 6, 30), "quarter") == [
        D(2011, 4, 1), D(2011, 7, 1)]
    # The day after the last purchase is a boundary: not listed twice.
    assert snapshot_dates(D(2011, 1, 5), D(2011, 6, 30), "quarter")[-2:] == [
        D(2011, 4, 1), D(2011, 7, 1)]
    assert snapshot_dates(D(2011, 1, 5), D(2011, 6, 30), dates=["2011-05-01", "2011-03-01",
                                                                "2011-05-01"]) == [
        D(2011, 3, 1), D(2011, 5, 1)]
    with pytest.raises(ConfigError, match="not after the first purchase day"):
        snapshot_dates(D(2011, 1, 5), D(2011, 6, 30), dates=["2011-01-05", "2011-03-01"])
    with pytest.raises(ConfigError, match=r"migration needs two\. Fix: choose a shorter"):
        snapshot_dates(D(2011, 1, 5), D(2011, 2, 20), "year")
    # No spacing is shorter than a month, and given dates have none: the fix is the dates.
    for every, dates in (("month", None), (None, ["2011-02-01", "2011-02-01"])):
        with pytest.raises(ConfigError, match="Fix: give two or more distinct dates"):
            snapshot_dates(D(2011, 1, 5), D(2011, 1, 20), every, dates=dates)
    with pytest.raises(ConfigError, match="every 'week'"):
        snapshot_dates(D(2011, 1, 5), D(2011, 6, 30), "week")
    # Text dates are whole days, YYYY-MM-DD: a time of day was dropped, 03/01 read as March.
    for text, says in (("2011-03-01T10:00", "has a time of day"),
                       ("03/01/2011", "day/month or month/day"),
                       ("2011-02-30", "is not a day of the calendar")):
        with pytest.raises(ConfigError, match=f"snapshot date '{text}' .*{says}"):
            snapshot_dates(D(2011, 1, 5), D(2011, 6, 30), dates=[text, "2011-05-01"])


@pytest.mark.slow
def test_every_snapshot_is_rfm_of_the_lines_before_it(
    retail_result: Any, retail_track: TrackResult
) -> None:
    # Computed independently, line by line: the kept lines before each date, aggregated
    # by the RFM job's own function, with recency to that date.
    kept = retail_result.cleaned.kept
    assert retail_track.dates[-1] == D(2011, 12, 10)
    for date in retail_track.dates:
        lines = kept.filter(kept.ts < pd.Timestamp(date))
        expected = pd.DataFrame(finish_rfm(fetch_numpy(aggregate_customers(lines)), date))
        got = retail_track.snapshots[retail_track.snapshots["snapshot"] == pd.Timestamp(date)]
        got = got[expected.columns].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    sizes = retail_track.snapshots.groupby("snapshot").size()
    assert list(sizes) == [884, 2131, 2957, 3612, 4333]


@pytest.mark.slow
def test_run_track_folds_the_audit_into_its_scan(retail_result: Any, shared_data: Any) -> None:
    path = shared_data / "uci-online-retail" / "online_retail.parquet"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = run_track(path, every="year")
        rfm = run_rfm(path)
    pd.testing.assert_frame_equal(result.audit_table.to_pandas(), rfm.audit, check_dtype=False)
    last = result.snapshots[result.snapshots["snapshot"] == pd.Timestamp(rfm.as_of)]
    cols = [c for c in rfm.customers.columns if c in last.columns]
    pd.testing.assert_frame_equal(last[cols].reset_index(drop=True), rfm.customers[cols],
                                  check_dtype=False)
    # A notebook shows one line of counts, not every customer of every snapshot.
    d = result.dates
    assert repr(result) == (f"TrackResult({len(d)} snapshots from {d[0]} to {d[-1]}, "
                            f"{len(result.snapshots):,} customer rows, edges='refit', "
                            "window_days=None)")


@pytest.mark.slow
def test_fixed_edges_drift_where_refitted_ones_do_not(
    retail_result: Any, retail_track: TrackResult
) -> None:
    # Why refit is the default: frequency and monetary value accumulate, so on the first
    # snapshot's edges the share of top frequency scores climbs with the calendar.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fixed = track_customers(retail_result.cleaned, every="quarter", edges="fixed")
    first = retail_track.bin_edges[retail_track.dates[0]]
    assert all(np.array_equal(e["frequency"], first["frequency"])
               for e in fixed.bin_edges.values())
    top_fixed = fixed.snapshots.groupby("snapshot")["f_score"].apply(lambda s: (s == 5).mean())
    top_refit = retail_track.snapshots.groupby("snapshot")["f_score"].apply(
        lambda s: (s == 5).mean())
    # On Online Retail: 10 % at the first snapshot, 46 % at the last; refitted, at most a
    # fifth (ties in frequency keep it below), 20 % at the last.
    assert top_fixed.iloc[-1] > 3 * top_fixed.iloc[0]
    assert top_refit.max() <= 0.21
    assert top_fixed.iloc[-1] > 2 * top_refit.iloc[-1]


@pytest.mark.slow
def test_trailing_window(retail_result: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = track_customers(retail_result.cleaned, every="quarter", window="90d")
    s = result.snapshots
    # Only the last 90 days count: tenure never exceeds them, and customers come and go.
    assert (s["tenure_days"] <= 90).all()
    flows = result.flows()
    assert (flows["to_segment"] == "(gone)").any() and (flows["from_segment"] == "(new)").any()
    # Two windows cover different spans: what was spent between them is not known.
    assert flows["revenue_between"].isna().all()
    assert " since" not in result.headline() and "had spent" in result.headline()


@pytest.mark.slow
@pytest.mark.spark
def test_spark_snapshots_equal_duckdb(
    retail_sample: pd.DataFrame, tmp_path: Any, spark_available: None
) -> None:
    src = tmp_path / "orders.csv"
    retail_sample.to_csv(src, index=False)
    dates = ["2010-12-02", "2010-12-03", "2010-12-06"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        duck = run_track(src, dates=dates)
        spark = run_track(src, dates=dates, engine="spark")
    pd.testing.assert_frame_equal(spark.snapshots, duck.snapshots, check_dtype=False)
    pd.testing.assert_frame_equal(spark.cohorts.activity, duck.cohorts.activity,
                                  check_dtype=False)
    pd.testing.assert_frame_equal(spark.audit_table.to_pandas(), duck.audit_table.to_pandas(),
                                  check_dtype=False)
    assert duck.snapshots.groupby("snapshot").size().is_monotonic_increasing


def _cdnow_pieces(cdnow_raw: pd.DataFrame) -> Any:
    """CDNOW's raw lines (one order each) as stored order pieces."""
    return duck_pieces(pd.DataFrame({
        "customer_id": cdnow_raw["customer_id"], "order_id": cdnow_raw.index.astype(str),
        "ts": pd.to_datetime(cdnow_raw["date"], format="%Y%m%d"),
        "revenue": cdnow_raw["dollars"].astype("float64"), "is_return": False}))


def test_fixed_edges_from_a_thin_first_snapshot_are_said(cdnow_raw: pd.DataFrame) -> None:
    # CDNOW's first snapshot a day after the cohort opens holds 18 customers; their
    # quintiles would score all 2,357 a year later.
    pieces = _cdnow_pieces(cdnow_raw)
    with pytest.warns(UserWarning, match=r"fixed edges come from the first snapshot "
                                         r"\(1997-01-02: 18 customers, against 2,357 at "
                                         r"1998-01-01\).*Fix:"):
        track_pieces(pieces, dates=["1997-01-02", "1998-01-01"], edges="fixed")
    with warnings.catch_warnings(record=True) as caught:  # after the cohort closed: all there
        warnings.simplefilter("always", UserWarning)
        track_pieces(pieces, dates=["1997-04-01", "1998-01-01"], edges="fixed")
        track_pieces(pieces, dates=["1997-01-02", "1998-01-01"])  # refit: nothing to say
    assert not [w for w in caught if "fixed edges" in str(w.message)]


def test_months_without_a_purchase_are_said(cdnow_raw: pd.DataFrame) -> None:
    # CDNOW with March and April 1997 cut out, as an export that lost two months: the
    # snapshots of April and May were those of March, aged, and nothing said so.
    dates = pd.to_datetime(cdnow_raw["date"], format="%Y%m%d")
    gap = cdnow_raw[~dates.between("1997-03-01", "1997-04-30")]
    with pytest.warns(UserWarning, match=r"no purchase at all from 1997-03-01 to 1997-04-30 "
                                         r"\(2 of 17 periods between snapshots\)"):
        track_pieces(_cdnow_pieces(gap), every="month")
    with warnings.catch_warnings(record=True) as caught:  # the whole log: every month bought
        warnings.simplefilter("always", UserWarning)
        track_pieces(_cdnow_pieces(cdnow_raw), every="month")
    assert not [w for w in caught if "no purchase at all" in str(w.message)]
    # With a trailing window the snapshots after the gap hold nobody: they were left out of
    # the sizes and the migration jumped over them without a word.
    with pytest.warns(UserWarning, match=r"^2 of 18 snapshots hold no customer, as nobody "
                                         r"bought in their trailing window: 1997-04-01, "
                                         r"1997-05-01\. They are left out"):
        result = track_pieces(_cdnow_pieces(gap), every="month", window="30d")
    assert "1997-04-01" not in set(result.sizes()["snapshot"].astype(str))


def test_snapshots_a_window_empties_are_left_out_of_the_dates(cdnow_raw: pd.DataFrame) -> None:
    # CDNOW without March and April 1997, a 30-day window: the snapshot of 1997-05-01
    # (April's window) holds nobody. It stayed in `dates`, so the default migration, the
    # one the command prints, asked for it and stopped ('no snapshot at 1997-05-01'); and
    # February's purchases were said not to exist ('no purchase at all from 1997-02-01'),
    # as the check read the windowed snapshots rather than the log.
    dates = pd.to_datetime(cdnow_raw["date"], format="%Y%m%d")
    pieces = _cdnow_pieces(cdnow_raw[~dates.between("1997-03-01", "1997-04-30")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        result = track_pieces(pieces, dates=["1997-02-01", "1997-05-01", "1997-07-01"],
                              window="30d")
    said = [str(w.message) for w in caught]
    assert not [m for m in said if "no purchase at all" in m]
    assert [m for m in said if m.startswith("1 of 3 snapshots hold no customer")]
    assert result.dates == [dt.date(1997, 2, 1), dt.date(1997, 7, 1)]
    matrix = result.migration()      # the last two snapshots: February's and July's
    n_feb, n_jul = result.snapshots.groupby("snapshot").size().tolist()
    assert matrix.drop(index="(new)").to_numpy().sum() == n_feb
    assert matrix.drop(columns="(gone)").to_numpy().sum() == n_jul
    # Fewer than two snapshots left to migrate between: one line naming the window, where
    # it said 'no customer bought before any snapshot date. Fix: give later dates'.
    with pytest.raises(InputError, match=r"^with a trailing window of 30 days, 0 of the 2 "
                                         r"snapshots hold a customer: migration needs two\. "
                                         r"Fix: a longer window"):
        track_pieces(pieces, dates=["1997-04-01", "1997-05-01"], window="30d")
    with pytest.raises(InputError, match=r"1 of the 2 snapshots hold a customer \(1997-02-01\)"):
        track_pieces(pieces, dates=["1997-02-01", "1997-05-01"], window="30d")


def test_a_window_under_a_day_or_over_a_century_is_refused(cdnow_raw: pd.DataFrame) -> None:
    # '0.4d' is above 0 but rounds to no whole day: every snapshot would be empty, and the
    # error blamed the dates.
    with pytest.raises(ConfigError, match=r"window '0\.4d' is under a day\. Fix: give 1d"):
        track_pieces(_cdnow_pieces(cdnow_raw), every="quarter", window="0.4d")
    # Billions of days overflowed DuckDB's day arithmetic (a ConversionException); a window
    # over a century is longer than any history.
    with pytest.raises(ConfigError, match=r"window '99999999999y': over 100 years.*Fix: a "
                                          r"window of at most 100y"):
        track_pieces(_cdnow_pieces(cdnow_raw), every="quarter", window="99999999999y")


def test_raw_lines_given_to_track_customers_are_told_the_job_that_takes_them(
        cdnow_raw: pd.DataFrame) -> None:
    # A DataFrame of order lines, as run_rfm and customer_value take: an AttributeError
    # traceback ('DataFrame' object has no attribute 'kept').
    with pytest.raises(InputError, match=r"^track_customers takes cleaned order lines "
                                         r"\(RFMResult\.cleaned\), not a pandas DataFrame\. "
                                         r"Fix: .*segwise\.jobs\.run_track\(source"):
        track_customers(cdnow_raw, every="quarter")
