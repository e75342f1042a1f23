"""Lifetime value from any source: a DataFrame of raw order lines reads like the file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from segwise.clean import clean_transactions
from segwise.clv import btyd_summary, customer_value, value_by_segment
from segwise.exceptions import InputError
from segwise.io import load_transactions


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


def test_value_by_segment_takes_a_polars_frame() -> None:
    frame = pl.DataFrame({"segment": ["a", "a", "b"], "clv": [10.0, 30.0, 5.0],
                          "p_alive": [0.5, 1.0, 0.2]})
    table = value_by_segment(frame).set_index("segment")
    assert table.loc["a", "clv"] == 40.0
    assert table.loc["a", "value_at_risk"] == pytest.approx(5.0)
    assert table.loc["b", "value_at_risk"] == pytest.approx(4.0)
