"""RFM features on real data, and the same table from DuckDB and Spark."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from segwise.clean import clean_transactions
from segwise.features.rfm import RFM_COLUMNS, compute_rfm
from segwise.io import load_transactions
from segwise.jobs import run_rfm


@pytest.fixture(scope="module")
def retail_rfm(retail_csv: Path) -> pd.DataFrame:
    return compute_rfm(clean_transactions(load_transactions(retail_csv)))


@pytest.mark.slow
def test_online_retail_rfm_values(retail_rfm: pd.DataFrame) -> None:
    assert list(retail_rfm.columns) == list(RFM_COLUMNS)
    assert len(retail_rfm) == 4_333
    assert retail_rfm["customer_id"].is_unique
    assert retail_rfm.attrs["as_of"] == "2011-12-10"  # day after the last purchase
    c = retail_rfm.set_index("customer_id").loc["12347"]
    # Customer 12347: 7 invoices, 2010-12-07 .. 2011-12-07, GBP 4,310.00, no returns.
    assert (c["frequency"], c["recency_days"], c["tenure_days"]) == (7, 3, 368)
    assert c["monetary"] == pytest.approx(4310.00)
    assert c["avg_order_value"] == pytest.approx(4310.00 / 7)
    # 12346's only order (74,215 units) and its reversal are extreme outliers: gone.
    assert "12346" not in set(retail_rfm["customer_id"])
    assert (retail_rfm["recency_days"] >= 1).all()
    assert (retail_rfm["tenure_days"] >= retail_rfm["recency_days"]).all()
    pd.testing.assert_series_equal(
        retail_rfm["returns_value"],
        (retail_rfm["gross_revenue"] - retail_rfm["monetary"]).round(6),
        check_names=False,
    )


def test_as_of_date_sets_recency(retail_sample: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    retail_sample.to_csv(path, index=False)
    cleaned = clean_transactions(load_transactions(path))
    rfm = compute_rfm(cleaned, as_of=dt.date(2011, 1, 1))
    last = pd.to_datetime(rfm["last_purchase"]).dt.normalize()
    assert (rfm["recency_days"] == (pd.Timestamp("2011-01-01") - last).dt.days).all()


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.parametrize("name", ["online_retail.csv.gz", "online_retail.parquet"])
def test_duckdb_and_spark_give_identical_tables(name: str, shared_data: Path) -> None:
    source = shared_data / "uci-online-retail" / name
    duck = run_rfm(source)
    spark = run_rfm(source, engine="spark")
    pd.testing.assert_frame_equal(duck.customers, spark.customers, check_exact=True)
    pd.testing.assert_frame_equal(duck.audit, spark.audit, check_exact=True)
    assert len(duck.customers) == 4_333


@pytest.mark.spark
@pytest.mark.parametrize("as_of", [dt.date(2010, 12, 1), dt.date(2012, 1, 1)])
def test_spark_counts_rows_after_the_as_of_date_as_duckdb(
    as_of: dt.date, retail_sample: pd.DataFrame, tmp_path: Path
) -> None:
    # Typed rows are counted in the loader's one scan: with no row after the date (2012),
    # a count that Spark answers with a SUM over nothing must still be 0, not missing.
    path = tmp_path / "s.parquet"
    retail_sample.to_parquet(path, index=False)
    duck = run_rfm(path, as_of=as_of)
    spark = run_rfm(path, as_of=as_of, engine="spark")
    pd.testing.assert_frame_equal(duck.customers, spark.customers, check_exact=True)
    pd.testing.assert_frame_equal(duck.audit, spark.audit, check_exact=True)
    after = duck.audit.set_index("step").loc["after_as_of", "rows"]
    assert (after > 0) == (as_of.year == 2010)
