"""The synthetic order-line generator: loads through segwise and has the advertised quirks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import generate_orders as gen  # loaded by conftest.py from benchmarks/
from segwise.clean import CleaningRules, clean_transactions
from segwise.io import load_transactions

N = 200_000


@pytest.fixture(scope="module")
def orders_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Small chunks so that the chunked writing is exercised.
    return gen.generate(tmp_path_factory.mktemp("gen") / "orders.parquet", N, seed=7,
                        chunk_lines=60_000)


@pytest.fixture(scope="module")
def orders(orders_path: Path) -> pd.DataFrame:
    return pd.read_parquet(orders_path)


def test_exact_size_schema_and_chunks(orders_path: Path, orders: pd.DataFrame) -> None:
    f = pq.ParquetFile(orders_path)
    assert f.schema_arrow.remove_metadata().equals(gen.SCHEMA)
    assert f.metadata.num_rows == N == len(orders)
    assert f.metadata.num_row_groups >= 4  # written chunk by chunk


def test_deterministic_with_seed(orders_path: Path, orders: pd.DataFrame,
                                 tmp_path: Path) -> None:
    again = pd.read_parquet(gen.generate(tmp_path / "a.parquet", N, seed=7, chunk_lines=60_000))
    pd.testing.assert_frame_equal(orders, again)
    other = pd.read_parquet(gen.generate(tmp_path / "b.parquet", N, seed=8, chunk_lines=60_000))
    assert not orders.equals(other)


def test_cancellations_are_c_prefixed_negative_and_refer_to_earlier_purchases(
    orders: pd.DataFrame,
) -> None:
    cancel = orders["InvoiceNo"].str.startswith("C")
    assert 0.015 < cancel.mean() < 0.025
    assert (orders.loc[cancel, "Quantity"] < 0).all()
    assert (orders.loc[~cancel, "Quantity"] > 0).all()
    c = orders[cancel]
    assert c["CustomerID"].notna().all()
    # Each cancelled line reverses an earlier purchase of the same customer and product.
    bought = orders[~cancel].groupby(["CustomerID", "StockCode"])["InvoiceDate"].min()
    first = bought.reindex(pd.MultiIndex.from_frame(c[["CustomerID", "StockCode"]])).to_numpy()
    assert (first <= c["InvoiceDate"].to_numpy()).all()


def test_missing_ids_duplicates_and_non_product_codes(orders: pd.DataFrame) -> None:
    assert 0.20 < orders["CustomerID"].isna().mean() < 0.30
    # Missing ids come by whole invoice, as in the UCI log.
    per_invoice = orders.groupby("InvoiceNo")["CustomerID"].agg(lambda s: s.isna().mean())
    assert per_invoice.isin([0.0, 1.0]).all()
    assert 0.005 < orders.duplicated().mean() < 0.03
    codes = set(orders["StockCode"])
    assert {"POST", "DOT", "M"} <= codes
    assert (orders["UnitPrice"] == 0).any()
    assert orders["Quantity"].quantile(0.999) < 200 < 5_000 <= orders["Quantity"].max()


def test_heavy_tailed_customer_activity(orders: pd.DataFrame) -> None:
    buys = orders[orders["CustomerID"].notna() & ~orders["InvoiceNo"].str.startswith("C")]
    per_customer = buys.groupby("CustomerID")["InvoiceNo"].nunique()
    assert per_customer.median() <= 4
    assert per_customer.max() > 20 * per_customer.median()
    # The top 10 % of customers hold far more than 10 % of the lines.
    lines = buys.groupby("CustomerID").size().sort_values(ascending=False)
    assert lines.iloc[: len(lines) // 10].sum() / lines.sum() > 0.35
    # A product catalogue with Zipf popularity: the top 1 % of codes hold > 5 % of lines.
    top = orders["StockCode"].value_counts()
    assert top.iloc[: max(1, len(top) // 100)].sum() / len(orders) > 0.05


def test_seasonality(orders: pd.DataFrame) -> None:
    ts = orders["InvoiceDate"]
    assert ts.min() >= pd.Timestamp("2010-12-01") and ts.max() < pd.Timestamp("2011-12-10")
    month = ts[ts >= pd.Timestamp("2011-01-01")].dt.month.value_counts()
    assert month.idxmax() == 11
    assert month[11] > 1.8 * month[2]
    assert (ts.dt.dayofweek == 5).sum() == 0  # closed on Saturdays, like the UCI shop
    hour = ts.dt.hour
    assert ((hour >= 9) & (hour <= 16)).mean() > 0.8


def test_loads_and_cleans_through_segwise(orders_path: Path, orders: pd.DataFrame) -> None:
    tx = load_transactions(orders_path)
    assert tx.n_input == N
    assert tx.n_quarantined == 0
    audit = clean_transactions(tx, CleaningRules()).audit().set_index("step")["rows"]
    assert audit.sum() == N
    assert audit["missing_customer_id"] == orders["CustomerID"].isna().sum()
    identified = orders[orders["CustomerID"].notna()]
    assert audit["duplicate_line"] == identified.duplicated().sum()
    assert audit["non_product"] > 0
    assert audit["non_positive_price"] > 0
    assert audit["kept"] > 0.6 * N
    assert np.isclose(audit["kept"] / N, 0.72, atol=0.05)
