"""Horizon labels: the RFM segment H days after the window, from lines before that date only."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import ibis
import numpy as np
import pandas as pd
import pytest

from segwise.exceptions import ConfigError
from segwise.predict import (
    EarlyWindow,
    build_dataset,
    early_features,
    horizon_dates,
    horizon_labels,
    rfm_as_of,
)
from segwise.segment.rfm import assign_segments, score_with_edges

T0 = dt.datetime(2011, 1, 3, 9, 0)
EDGES = {
    "recency_days": np.array([15.0, 33.0, 72.0, 180.0]),
    "frequency": np.array([1.0, 2.0, 3.0, 5.0]),
    "monetary": np.array([240.0, 466.0, 904.0, 1995.0]),
}


def kept(rows: list[tuple]) -> pd.DataFrame:
    """Kept lines from (customer, order, days after T0, revenue, is_return)."""
    df = pd.DataFrame(rows, columns=["customer_id", "order_id", "day", "revenue", "is_return"])
    df["ts"] = T0 + pd.to_timedelta(df.pop("day"), unit="D")
    df["quantity"] = np.where(df["is_return"], -1.0, 1.0)
    df["unit_price"] = df["revenue"].abs()
    df["revenue"] = df["revenue"].astype("float64")
    df["product_id"] = "p1"
    df["country"] = "UK"
    return df


def history() -> list[tuple]:
    """A: 3 orders on days 0, 10, 30 then one on day 50; B: 3 orders on days 0, 1, 2."""
    return [
        ("A", "a1", 0, 100.0, False),
        ("A", "a2", 10, 100.0, False),
        ("A", "a3", 30.5, 100.0, False),
        ("A", "a4", 50, 300.0, False),
        ("A", "ar", 60, -50.0, True),
        ("B", "b1", 0, 10.0, False),
        ("B", "b2", 1, 10.0, False),
        ("B", "b3", 2, 10.0, False),
    ]


def labels_of(rows: list[tuple], horizon: int = 60) -> pd.DataFrame:
    return horizon_labels(ibis.memtable(kept(rows)), EarlyWindow(n_orders=3), horizon, EDGES)


def test_label_date_and_rfm_as_of_it():
    got = labels_of(history())
    # A's window closes on day 30 (its 3rd order): label date is that day + 60, midnight.
    assert got.loc["A", "label_date"] == pd.Timestamp(T0.date()) + pd.Timedelta(days=90)
    assert got.loc["B", "label_date"] == pd.Timestamp(T0.date()) + pd.Timedelta(days=62)
    # A bought again on day 50 and returned 50 on day 60: both before the label date.
    assert got.loc["A", ["recency_days", "frequency", "monetary"]].tolist() == [40, 4, 550.0]
    assert got.loc["B", ["recency_days", "frequency", "monetary"]].tolist() == [60, 3, 30.0]
    # Scored on the given edges and named with the default map.
    assert got.loc["A", ["r_score", "f_score", "m_score"]].tolist() == [3, 4, 3]
    # B: 60 days quiet (R 3), 3 orders (F 3), 30 spent (M 1): R FM "32".
    assert got.loc["B", ["r_score", "f_score", "m_score"]].tolist() == [3, 3, 1]
    assert got.loc["B", "segment"] == "About to Sleep"


def test_orders_on_or_after_the_label_date_never_change_the_label():
    base = labels_of(history())
    day90 = 90  # A's label date, midnight: an order that day is already too late
    future = [
        ("A", "a5", day90, 99999.0, False),
        ("A", "a6", day90 + 0.9, 5.0, False),
        ("A", "a7", day90 + 200, 7.0, False),
        ("A", "ar2", day90 + 1, -99999.0, True),
        ("B", "b4", 62, 1e6, False),
    ]
    pd.testing.assert_frame_equal(labels_of(history() + future), base)
    # Control: one order the day before A's label date does change A's label.
    changed = labels_of([*history(), ("A", "a8", day90 - 0.5, 5000.0, False)])
    assert changed.loc["A", "frequency"] == 5 and changed.loc["A", "recency_days"] == 1
    pd.testing.assert_series_equal(changed.loc["B"], base.loc["B"])


def test_open_windows_have_no_label_and_horizon_is_checked():
    rows = [("C", "c1", 0, 10.0, False), ("C", "c2", 5, 10.0, False), *history()]
    got = labels_of(rows)
    assert "C" not in got.index  # 2 orders: the 3-order window never closed
    days = horizon_labels(ibis.memtable(kept(rows)), EarlyWindow(n_days=7), 10, EDGES)
    # A day window closes 7 days after the first purchase, whatever the orders.
    assert days.loc["C", "label_date"] == pd.Timestamp(T0.date()) + pd.Timedelta(days=17)
    with pytest.raises(ConfigError, match="horizon_days"):
        horizon_dates(ibis.memtable(kept(rows)), EarlyWindow(), -1)


def test_rfm_as_of_the_reference_date_is_the_full_history_rfm(retail_result):
    c = retail_result.customers.set_index("customer_id")
    dates = ibis.memtable(pd.DataFrame(
        {"customer_id": c.index, "label_date": pd.Timestamp(retail_result.as_of)}
    ))
    got = rfm_as_of(retail_result.cleaned.kept, dates)
    assert got.index.equals(c.index)
    for col in ("recency_days", "frequency", "monetary"):
        np.testing.assert_array_equal(got[col].to_numpy(), c[col].to_numpy())
    scores = score_with_edges(got, retail_result.bin_edges)
    named = assign_segments(scores, retail_result.config.segments)
    assert (named["segment"] == c["segment"]).all()


def test_horizon_reaching_the_reference_date_gives_the_full_history_label(retail_result):
    kept_lines = retail_result.cleaned.kept
    as_of = pd.Timestamp(retail_result.as_of)
    early = early_features(kept_lines, EarlyWindow(), as_of=as_of.to_pydatetime())
    early = early[early["window_complete"]].set_index("customer_id")
    full = retail_result.customers.set_index("customer_id")["segment"]
    # For each of a few horizons, the customers whose window end + H is the reference date.
    gap = (as_of - early["window_end"].dt.normalize()).dt.days
    for horizon in (30, 100, 200):
        ids = gap.index[gap == horizon]
        assert len(ids) > 0
        got = horizon_labels(kept_lines, EarlyWindow(), horizon, retail_result.bin_edges,
                             retail_result.config.segments)
        assert (got.loc[ids, "label_date"] == as_of).all()
        pd.testing.assert_series_equal(got.loc[ids, "segment"], full.loc[ids],
                                       check_names=False)


def test_dataset_eligibility_and_constant_horizon(retail_result):
    horizon = 120
    data = build_dataset(retail_result, horizon_days=horizon)
    assert data.label == "horizon" and data.horizon_days == horizon
    early = early_features(retail_result.cleaned.kept, EarlyWindow(),
                           as_of=pd.Timestamp(retail_result.as_of).to_pydatetime())
    early = early.set_index("customer_id")
    label_date = early["window_end"].dt.normalize() + pd.Timedelta(days=horizon)
    eligible = early.index[early["window_complete"] & (label_date <= data.as_of)]
    assert data.X.index.equals(eligible)  # exactly those observed H days after the window
    assert (data.X["horizon_days"] == horizon).all()
    # The rules baseline: nothing more after the window, as of window end + H.
    assert (data.rules == data.X["rules_segment"]).all()
    labels = horizon_labels(retail_result.cleaned.kept, EarlyWindow(), horizon,
                            retail_result.bin_edges, retail_result.config.segments)
    assert (data.y == labels.loc[data.X.index, "segment"]).all()
    # Nobody bought before their first window order: frequency at the label date >= 3.
    assert (labels.loc[data.X.index, "frequency"] >= 3).all()
    # A longer horizon leaves fewer customers observed long enough.
    assert len(build_dataset(retail_result, horizon_days=180).X) < len(data.X)
    full = build_dataset(retail_result, label="full_history")
    assert full.label == "full_history" and full.horizon_days is None
    assert full.X["horizon_days"].nunique() > 100


def test_no_line_on_or_after_the_label_date_is_read(retail_result):
    """Cut every customer's history at their label date: features and labels stay the same."""
    data = build_dataset(retail_result)
    kept_lines = retail_result.cleaned.kept
    joined = kept_lines.join(horizon_dates(kept_lines, EarlyWindow(), 90), "customer_id")
    cut = joined.filter(joined.ts < joined.label_date).drop("label_date")
    assert cut.count().execute() < kept_lines.count().execute()  # something was cut
    r = retail_result
    truncated = SimpleNamespace(
        cleaned=SimpleNamespace(kept=cut), as_of=r.as_of, bin_edges=r.bin_edges,
        scorer=r.scorer, config=r.config, customers=r.customers,
    )
    again = build_dataset(truncated)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(again.X, data.X)
    pd.testing.assert_series_equal(again.y, data.y)


def test_label_options_are_checked(retail_result):
    with pytest.raises(ConfigError, match="label must be"):
        build_dataset(retail_result, label="tomorrow")
    some = retail_result.customers.set_index("customer_id")["segment"]
    with pytest.raises(ConfigError, match="custom labels"):
        build_dataset(retail_result, labels=some, label="horizon")


@pytest.mark.slow
@pytest.mark.spark
def test_spark_gives_the_same_labels(spark_available):
    from segwise._engine import connect

    rows = history() + [("D", f"d{i}", 3 * i, 20.0 + i, False) for i in range(6)]
    df = kept(rows)
    duck = horizon_labels(ibis.memtable(df), EarlyWindow(), 20, EDGES)
    spark_backend = connect("spark")
    # A temporary view: nothing is written to the Spark warehouse.
    spark_backend._session.createDataFrame(df).createOrReplaceTempView("horizon_label_lines")
    table = spark_backend.table("horizon_label_lines")
    spark = horizon_labels(table, EarlyWindow(), 20, EDGES)
    pd.testing.assert_frame_equal(spark, duck, check_dtype=False)
