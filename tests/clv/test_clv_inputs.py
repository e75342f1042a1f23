"""Lifetime value from any source: a DataFrame of raw order lines reads like the file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from segwise.clean import clean_transactions
from segwise.clv import btyd_summary, customer_value, purchase_span, value_by_segment
from segwise.exceptions import ConfigError, InputError
from segwise.io import ReadOptions, load_transactions


@pytest.fixture(scope="module")
def cdnow_frame(cdnow_raw: pd.DataFrame) -> pd.DataFrame:
    """CDNOW's lines as a notebook holds them: common column names, dates as text."""
    return cdnow_raw.rename(columns={"dollars": "amount"})[["customer_id", "date", "amount"]]


def test_customer_value_of_a_dataframe_matches_the_file(
    cdnow_frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "cdnow.csv"
    cdnow_frame.to_csv(path, index=False)
    from_file = customer_value(clean_transactions(load_transactions(path)),
                               calibration_end="1997-09-30", horizon="39w")
    from_frame = customer_value(pl.from_pandas(cdnow_frame), calibration_end="1997-09-30",
                                horizon="39w")
    pd.testing.assert_frame_equal(from_frame.customers, from_file.customers)
    # Cleaned: lines of no value are dropped (the audit counts them), and with them the
    # customers who bought nothing else.
    paid = cdnow_frame[cdnow_frame["amount"] > 0]
    assert len(from_frame.customers) == paid["customer_id"].nunique()
    # Indexed by customer id: one customer's value, looked up by id.
    by_id = from_frame.by_customer
    assert by_id.index.name == "customer_id" and by_id.index.is_unique
    first = from_frame.customers.iloc[0]
    assert by_id.loc[first["customer_id"], "clv"] == first["clv"]
    # The summary alone takes the DataFrame too.
    summary = btyd_summary(cdnow_frame, calibration_end="1997-09-30")
    pd.testing.assert_frame_equal(summary, btyd_summary(
        clean_transactions(load_transactions(path)), calibration_end="1997-09-30"))


def test_raw_lines_go_through_the_role_checks(cdnow_raw: pd.DataFrame) -> None:
    with pytest.raises(InputError, match=r"^pandas DataFrame: required column for "
                                         r"quantity and unit_price \(or amount\)"):
        customer_value(cdnow_raw[["customer_id", "date", "dollars"]])


def test_raw_lines_named_otherwise_are_mapped_with_columns(cdnow_frame: pd.DataFrame) -> None:
    # The fix named only a config file, which customer_value cannot read: it had no way
    # at all to map a frame whose names segwise does not recognise.
    frame = cdnow_frame.rename(columns={"customer_id": "cust", "date": "when", "amount": "paid"})
    with pytest.raises(InputError) as err:
        customer_value(frame, calibration_end="1997-09-30", horizon="39w")
    assert str(err.value).endswith(
        'Fix: rename the column, or pass columns={"customer_id": "...", "timestamp": "...", '
        '"quantity": "...", "unit_price": "..."}')
    mapped = customer_value(frame, calibration_end="1997-09-30", horizon="39w",
                            columns={"customer_id": "cust", "timestamp": "when",
                                     "amount": "paid"})
    named = customer_value(cdnow_frame, calibration_end="1997-09-30", horizon="39w")
    pd.testing.assert_frame_equal(mapped.customers, named.customers)
    # Shown in a notebook: the counts and settings, not the customers table and notes.
    assert repr(named) == (
        f"CLVResult({len(named.customers):,} customers, model=BGNBD, calibration_end="
        f"1997-09-30, holdout_end=1998-06-30, horizon=39 W, total clv="
        f"{named.customers['clv'].sum():,.2f}, {len(named.notes)} note(s))")
    # Lines already loaded have no raw columns left to map.
    with pytest.raises(ConfigError, match=r"already loaded \(CleanedLines\)\. Fix: pass the raw"):
        customer_value(clean_transactions(load_transactions(frame, columns={
            "customer_id": "cust", "timestamp": "when", "amount": "paid"})),
            columns={"customer_id": "cust"})


def test_a_file_read_otherwise_is_read_with_read(cdnow_frame: pd.DataFrame,
                                                 tmp_path: Path) -> None:
    # CDNOW as a European spreadsheet writes it (12,77): the fix said read=ReadOptions(
    # decimal=","), which customer_value did not take (a TypeError when followed).
    path = tmp_path / "cdnow_eu.csv"
    cdnow_frame.to_csv(path, index=False, sep=";", decimal=",")
    with pytest.raises(InputError) as err:
        customer_value(path, calibration_end="1997-09-30", horizon="39w")
    assert 'Fix: pass read=ReadOptions(decimal=",")' in str(err.value)
    eu = customer_value(path, calibration_end="1997-09-30", horizon="39w",
                        read=ReadOptions(decimal=","))
    named = customer_value(cdnow_frame, calibration_end="1997-09-30", horizon="39w")
    pd.testing.assert_frame_equal(eu.customers, named.customers)
    pd.testing.assert_frame_equal(
        btyd_summary(path, calibration_end="1997-09-30", read=ReadOptions(decimal=",")),
        btyd_summary(cdnow_frame, calibration_end="1997-09-30"))
    assert purchase_span(path, read=ReadOptions(decimal=",")) == purchase_span(cdnow_frame)
    renamed = cdnow_frame.rename(columns={"customer_id": "cust"})
    with pytest.raises(InputError, match=r'pass columns=\{"customer_id": "\.\.\."\}'):
        purchase_span(renamed)
    assert purchase_span(renamed, columns={"customer_id": "cust"}) == purchase_span(
        cdnow_frame)
    with pytest.raises(ConfigError, match=r"^read= says how raw order lines are read, but "
                                          r"these are already loaded \(CleanedLines\)"):
        btyd_summary(clean_transactions(load_transactions(cdnow_frame)),
                     read=ReadOptions(decimal=","))


def test_a_frame_in_segwise_own_names_reads_like_the_ibis_table(
    cdnow_frame: pd.DataFrame,
) -> None:
    # customer_id, ts, revenue: what cleaned lines hold. An Ibis table of them was taken
    # as it is, the same pandas frame refused for want of a timestamp.
    own = cdnow_frame.rename(columns={"date": "ts", "amount": "revenue"})
    own["ts"] = pd.to_datetime(own["ts"], format="%Y%m%d")
    value = customer_value(own, calibration_end="1997-09-30", horizon="39w")
    named = customer_value(cdnow_frame, calibration_end="1997-09-30", horizon="39w")
    pd.testing.assert_frame_equal(value.customers, named.customers)


def test_value_by_segment_takes_a_polars_frame() -> None:
    frame = pl.DataFrame({"segment": ["a", "a", "b"], "clv": [10.0, 30.0, 5.0],
                          "p_alive": [0.5, 1.0, 0.2]})
    table = value_by_segment(frame).set_index("segment")
    assert table.loc["a", "clv"] == 40.0
    assert table.loc["a", "value_at_risk"] == pytest.approx(5.0)
    assert table.loc["b", "value_at_risk"] == pytest.approx(4.0)
