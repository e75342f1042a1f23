"""BTYD summary built by segwise from raw transactions."""

from __future__ import annotations

import datetime as dt
import warnings

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segwise.clv import Period, btyd_summary, occasion_counts, parse_horizon
from segwise.exceptions import ConfigError, InputError


def _tx(rows: list[tuple[str, str, float]]) -> ibis.Table:
    frame = pd.DataFrame(rows, columns=["customer_id", "ts", "revenue"])
    frame["ts"] = pd.to_datetime(frame["ts"], format="ISO8601")
    return ibis.memtable(frame)


def _pandas_summary(raw: pd.DataFrame, end: str) -> pd.DataFrame:
    """The Fader-Hardie convention written independently in pandas."""
    raw = raw.assign(date=pd.to_datetime(raw["date"], format="%Y%m%d"))
    occ = raw.groupby(["customer_id", "date"], as_index=False)["dollars"].sum()
    cal = occ[occ["date"] <= pd.Timestamp(end)]
    first = cal.groupby("customer_id")["date"].transform("min")
    g = cal.groupby("customer_id")
    repeat = cal[cal["date"] > first].groupby("customer_id")["dollars"].mean()
    out = pd.DataFrame({
        "frequency": g.size() - 1,
        "recency": (g["date"].max() - g["date"].min()).dt.days / 7,
        "T": (pd.Timestamp(end) - g["date"].min()).dt.days / 7,
    })
    out["monetary_value"] = repeat.reindex(out.index).fillna(0.0)
    return out.sort_index()


def test_cdnow_summary_counts(cdnow_summary: pd.DataFrame) -> None:
    s = cdnow_summary
    assert len(s) == 2357
    assert (s["frequency"] > 0).sum() == 946  # the repeat buyers of Fader and Hardie (2013)
    assert s["frequency"].sum() == 2457
    assert s["customer_id"].is_unique
    # A customer who first bought on 1997-01-01 has T = 272 days = 38.86 weeks.
    assert s["T"].max() == pytest.approx(272 / 7)
    assert (s["recency"] <= s["T"]).all()
    assert ((s["frequency"] == 0) == (s["recency"] == 0)).all()
    period = Period.from_attrs(s.attrs)
    assert period == Period(dt.date(1997, 9, 30), dt.date(1998, 6, 30), "W")
    assert period.holdout_duration == pytest.approx(39.0)
    assert s.attrs["n_excluded"] == 0


def test_cdnow_summary_matches_independent_pandas(
    cdnow_summary: pd.DataFrame, cdnow_raw: pd.DataFrame
) -> None:
    expected = _pandas_summary(cdnow_raw, "1997-09-30")
    got = cdnow_summary.set_index("customer_id")[expected.columns]
    pd.testing.assert_frame_equal(got, expected, check_names=False, check_dtype=False)


def test_cdnow_holdout_counts(cdnow_summary: pd.DataFrame, cdnow_raw: pd.DataFrame) -> None:
    dates = pd.to_datetime(cdnow_raw["date"], format="%Y%m%d")
    later = cdnow_raw.assign(date=dates)[dates > pd.Timestamp("1997-09-30")]
    expected = later.groupby("customer_id")["date"].nunique()
    got = cdnow_summary.set_index("customer_id")["frequency_holdout"]
    assert got.sum() == expected.sum()
    assert (got.reindex(expected.index) == expected).all()


def test_same_day_orders_are_one_occasion_and_returns_are_ignored() -> None:
    t = _tx([
        ("a", "2020-01-01 09:00", 10.0), ("a", "2020-01-01 17:00", 5.0),
        ("a", "2020-01-08 10:00", 20.0), ("a", "2020-01-08 11:00", 4.0),
        ("b", "2020-01-04 10:00", 7.0),
    ])
    s = btyd_summary(t, calibration_end="2020-01-15", unit="D").set_index("customer_id")
    assert s.loc["a", "frequency"] == 1
    assert s.loc["a", "recency"] == 7.0
    assert s.loc["a", "T"] == 14.0
    assert s.loc["a", "monetary_value"] == 24.0  # the repeat day's total, not the first day's
    assert s.loc["b", "frequency"] == 0
    assert s.loc["b", "monetary_value"] == 0.0
    frame = t.to_pandas().assign(is_return=[False, False, False, True, False])
    s2 = btyd_summary(ibis.memtable(frame), calibration_end="2020-01-15", unit="D")
    assert s2.set_index("customer_id").loc["a", "monetary_value"] == 20.0


def test_unit_scales_time_only(cdnow_tx) -> None:  # type: ignore[no-untyped-def]
    days = btyd_summary(cdnow_tx, calibration_end="1997-09-30", unit="D")
    weeks = btyd_summary(cdnow_tx, calibration_end="1997-09-30", unit="W")
    np.testing.assert_allclose(days["T"], 7 * weeks["T"])
    np.testing.assert_allclose(days["recency"], 7 * weeks["recency"])
    assert (days["frequency"] == weeks["frequency"]).all()


def test_customer_buying_only_after_calibration_is_excluded() -> None:
    t = _tx([
        ("a", "2020-01-01", 10.0), ("a", "2020-02-01", 10.0),
        ("late", "2020-03-01", 10.0), ("late", "2020-03-05", 10.0),
    ])
    s = btyd_summary(t, calibration_end="2020-02-15")
    assert list(s["customer_id"]) == ["a"]
    assert s.attrs["n_excluded"] == 1
    assert s.attrs["holdout_end"] == "2020-03-05"


def test_default_calibration_end_is_last_purchase_day() -> None:
    t = _tx([("a", "2020-01-01", 1.0), ("b", "2020-01-10 23:59", 1.0)])
    s = btyd_summary(t, unit="D")
    assert s.attrs["calibration_end"] == "2020-01-10"
    assert s.attrs["holdout_end"] is None
    assert "frequency_holdout" not in s
    assert s.set_index("customer_id").loc["b", "T"] == 0.0


def test_bad_periods_and_units() -> None:
    t = _tx([("a", "2020-01-01", 1.0), ("a", "2020-02-01", 1.0)])
    with pytest.raises(InputError, match="no customer bought on or before"):
        btyd_summary(t, calibration_end="2019-12-31")
    with pytest.raises(ConfigError, match="must come after"):
        btyd_summary(t, calibration_end="2020-01-15", holdout_end="2020-01-10")
    with pytest.raises(ConfigError, match="unknown time unit"):
        btyd_summary(t, unit="fortnight")
    with pytest.raises(ConfigError, match="not a date"):
        btyd_summary(t, calibration_end="end of January")
    with pytest.raises(InputError, match="no purchase lines"):
        btyd_summary(t.filter(t.revenue < 0))


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [("12m", "W", 365.25 / 7), ("52w", "W", 52.0), ("90d", "D", 90.0), ("1y", "M", 12.0),
     ("6M", "M", 6.0), (39, "W", 39.0), ("1.5y", "D", 547.875)],
)
def test_parse_horizon(text: str | float, unit: str, expected: float) -> None:
    assert parse_horizon(text, unit) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["12", "twelve months", "-3m", "0w", 0, "12q"])
def test_parse_horizon_rejects(text: str | float) -> None:
    with pytest.raises(ConfigError):
        parse_horizon(text)


@pytest.mark.slow
@pytest.mark.spark
def test_spark_summary_equals_duckdb(  # type: ignore[no-untyped-def]
    cdnow_csv, cdnow_columns, cdnow_summary, cdnow_tx, spark_available
) -> None:
    from segwise.io import load_transactions

    tx = load_transactions(cdnow_csv, columns=cdnow_columns, engine="spark")
    spark = btyd_summary(tx, calibration_end="1997-09-30")
    pd.testing.assert_frame_equal(spark, cdnow_summary, check_dtype=False)
    assert spark.attrs == cdnow_summary.attrs
    duck_daily = occasion_counts(cdnow_tx, cdnow_summary)
    pd.testing.assert_frame_equal(occasion_counts(tx, spark), duck_daily, check_dtype=False)
    assert duck_daily["repeat_purchases"].sum() == 2457 + 1882  # calibration + holdout
    weeks = {engine: btyd_summary(t, calibration_end="1997-09-30", discrete=True)
             for engine, t in (("spark", tx), ("duckdb", cdnow_tx))}
    pd.testing.assert_frame_equal(weeks["spark"], weeks["duckdb"], check_dtype=False)


_day = st.integers(0, 120)
_line = st.tuples(st.sampled_from(["a", "b", "c", "d"]), _day, st.integers(0, 23),
                  st.floats(0.5, 500.0))


@settings(max_examples=25, deadline=None)
@given(lines=st.lists(_line, min_size=1, max_size=40), end=st.integers(0, 120))
def test_summary_invariants_on_random_logs(
    lines: list[tuple[str, int, int, float]], end: int
) -> None:
    base = pd.Timestamp("2021-01-01")
    rows = [(c, str(base + pd.Timedelta(days=d, hours=h)), v) for c, d, h, v in lines]
    cal_end = (base + pd.Timedelta(days=end)).date()
    first_days = {}
    for c, d, _, _ in lines:
        first_days[c] = min(d, first_days.get(c, d))
    if all(d > end for d in first_days.values()):
        with pytest.raises(InputError):
            btyd_summary(_tx(rows), calibration_end=cal_end, unit="D")
        return
    s = btyd_summary(_tx(rows), calibration_end=cal_end, unit="D").set_index("customer_id")
    assert s.attrs["n_excluded"] == sum(d > end for d in first_days.values())
    for c, row in s.iterrows():
        days = sorted({d for cc, d, _, _ in lines if cc == c and d <= end})
        assert row["frequency"] == len(days) - 1
        assert row["recency"] == days[-1] - days[0]
        assert row["T"] == end - days[0]
        later = {d for cc, d, _, _ in lines if cc == c and d > end}
        if "frequency_holdout" in s:
            assert row["frequency_holdout"] == len(later)
        repeat = [v for cc, d, _, v in lines if cc == c and days[0] < d <= end]
        expected = sum(repeat) / (len(days) - 1) if len(days) > 1 else 0.0
        assert row["monetary_value"] == pytest.approx(expected)


def _cdnow_lines(raw: pd.DataFrame) -> pd.DataFrame:
    """CDNOW's raw lines as ``customer_id``, ``ts``, ``revenue``."""
    return pd.DataFrame({"customer_id": raw["customer_id"],
                         "ts": pd.to_datetime(raw["date"], format="%Y%m%d"),
                         "revenue": raw["dollars"].astype("float64")})


def test_a_calibration_end_long_after_the_log_is_said(cdnow_tx) -> None:  # type: ignore[no-untyped-def]
    # CDNOW ends on 1998-06-30: half a year more would be read as half a year of silence.
    with pytest.warns(UserWarning, match=r"calibration_end 1999-01-01 is 185 days after the "
                                         r"log's last line \(1998-06-30\).*Fix:"):
        btyd_summary(cdnow_tx, calibration_end="1999-01-01")
    with pytest.warns(UserWarning, match=r"holdout_end 1998-09-30 is 92 days after"):
        btyd_summary(cdnow_tx, calibration_end="1997-09-30", holdout_end="1998-09-30")
    with warnings.catch_warnings():  # a log that ends a few days after its last sale
        warnings.simplefilter("error", UserWarning)
        btyd_summary(cdnow_tx, calibration_end="1998-07-05")


def test_a_day_with_only_a_refund_is_no_repeat_purchase(cdnow_raw: pd.DataFrame) -> None:
    # CDNOW with every purchase after a customer's first day turned into an unflagged
    # refund (a raw log's negative line): nobody bought again.
    lines = _cdnow_lines(cdnow_raw)
    later = lines["ts"] > lines.groupby("customer_id")["ts"].transform("min")
    lines.loc[later, "revenue"] *= -1
    with warnings.catch_warnings():  # the refunds show that the log runs to 1998-06-30
        warnings.simplefilter("error", UserWarning)
        s = btyd_summary(ibis.memtable(lines), calibration_end="1997-09-30",
                         holdout_end="1998-06-30", unit="W")
    assert (s["frequency"] == 0).all() and (s["frequency_holdout"] == 0).all()
    assert (s["recency"] == 0).all()
    cal = later & (lines["ts"] <= pd.Timestamp("1997-09-30"))
    assert s["returns"].sum() == pytest.approx(lines.loc[cal, "revenue"].sum())
