"""RFM features on real data, and the same table from DuckDB and Spark."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import pandas as pd
import pytest

from segwise._engine import fetch_arrow, fetch_numpy
from segwise.clean import CleaningRules, clean_transactions
from segwise.config import SegwiseConfig
from segwise.features.rfm import RFM_COLUMNS, _with_audit, compute_rfm
from segwise.io import ReadOptions, load_transactions
from segwise.jobs import run_rfm

if TYPE_CHECKING:
    import ibis.expr.types as ir


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


def _fine(sample: pd.DataFrame) -> pd.DataFrame:
    """Online Retail's lines priced per impression: every price divided by 100,000."""
    prices = [str(Decimal(p) / 100_000) for p in sample["UnitPrice"]]
    return sample.assign(UnitPrice=prices)


def _exact_rfm(path: Path) -> pd.DataFrame:
    """Money per customer summed in Python decimals from the kept lines: the oracle."""
    kept = fetch_arrow(clean_transactions(load_transactions(path)).kept.select(
        "customer_id", "quantity", "unit_price", "is_return")).to_pylist()
    money: dict[str, list[Decimal]] = {}
    for line in kept:
        # The shortest text of a parsed double is the file's decimal text.
        value = Decimal(repr(line["quantity"])) * Decimal(repr(line["unit_price"]))
        sums = money.setdefault(line["customer_id"], [Decimal(0), Decimal(0)])
        sums[0] += value
        sums[1] += 0 if line["is_return"] else value
    return pd.DataFrame(
        [(c, float(m), float(g), float(g - m)) for c, (m, g) in money.items()],
        columns=["customer_id", "monetary", "gross_revenue", "returns_value"],
    ).set_index("customer_id")


@pytest.mark.parametrize("prices", ["as sold", "per impression"])
def test_money_is_exact_to_the_places_prices_have(
        prices: str, retail_sample: pd.DataFrame, tmp_path: Path) -> None:
    # Money used to be kept to six places: a price of 0.0000255 became 0.000026, and every
    # customer's revenue drifted by up to 2 %. Online Retail's own prices keep their values.
    path = tmp_path / "lines.csv"
    (retail_sample if prices == "as sold" else _fine(retail_sample)).to_csv(path, index=False)
    result = run_rfm(path)
    got = result.customers.set_index("customer_id")
    want = _exact_rfm(path).loc[got.index]
    for col in want.columns:
        pd.testing.assert_series_equal(got[col], want[col], check_exact=True)
    if prices == "as sold":
        assert got.loc["17850", "monetary"] == 5391.21  # 297 lines, 34 orders
    # Averages keep six significant digits at least (six places made 0.0000375 0.000038).
    aov = got["monetary"] / got["frequency"]
    assert (got["avg_order_value"] - aov).abs().le(aov.abs() * 5e-6).all()


@pytest.mark.spark
def test_spark_keeps_the_places_of_fine_prices_as_duckdb(
        retail_sample: pd.DataFrame, tmp_path: Path) -> None:
    # Spark fits a product of decimals into 38 digits by cutting places: money of 38
    # digits times a count of copies (the audit's duplicates) kept six on Spark alone.
    path = tmp_path / "s.parquet"
    _fine(retail_sample).to_parquet(path, index=False)
    duck = run_rfm(path)
    spark = run_rfm(path, engine="spark")
    pd.testing.assert_frame_equal(duck.customers, spark.customers, check_exact=True)
    pd.testing.assert_frame_equal(duck.audit, spark.audit, check_exact=True)
    assert duck.audit.set_index("step").loc["duplicate_line", "revenue"] == pytest.approx(
        float(sum(Decimal(p) * Decimal(q) for p, q in _copies(_fine(retail_sample)))), rel=1e-12)


def _copies(sample: pd.DataFrame) -> list[tuple[str, str]]:
    """Price and quantity of every line that repeats an earlier one, with a customer id."""
    repeats = sample[sample.duplicated(keep="first") & (sample["CustomerID"] != "")]
    return list(zip(repeats["UnitPrice"], repeats["Quantity"], strict=True))


def test_money_finer_than_twelve_places_is_named(tmp_path: Path) -> None:
    path = tmp_path / "lines.csv"
    path.write_text("InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
                    "1,A,1,2011-01-01 10:00,0.0000000000001,7\n"
                    "2,A,3,2011-01-02 10:00,0.0000125,7\n"
                    "3,A,1,2011-01-03 10:00,2.5,8\n")
    with pytest.warns(UserWarning, match=r"lines.csv: 1 line total\(s\) \(Quantity x UnitPrice\) "
                                         r"need more than 12 decimal places"):
        result = run_rfm(path)
    assert result.customers["monetary"].tolist() == [0.0000375, 2.5]


@pytest.mark.parametrize("recipe", [False, True])
def test_ids_are_parsed_once_per_piece_of_an_order_with_the_same_customers(
        recipe: bool, retail_sample: pd.DataFrame, tmp_path: Path) -> None:
    # A typed source's ids used to be turned into text (and order ids trimmed and tested
    # for prefixes) on every distinct line: 22 M times at 30 M lines. They are parsed
    # once per piece of an order now; ids written apart that parse alike (" 536365 ",
    # "536365.0") still make one order, and an id that is no id is still quarantined.
    sample = retail_sample.assign(
        Quantity=retail_sample["Quantity"].astype("int64"),
        UnitPrice=retail_sample["UnitPrice"].astype("float64"),
        InvoiceDate=pd.to_datetime(retail_sample["InvoiceDate"]),
        CustomerID=pd.to_numeric(retail_sample["CustomerID"]).astype("float64"),
    )
    sample = pd.concat([sample, sample.iloc[:300]], ignore_index=True)  # copies too
    single = sample.index[~sample.duplicated(keep=False)]  # written apart: lines without copies
    invoices = sample["InvoiceNo"].copy()
    invoices[single[::7]] = " " + invoices[single[::7]] + " "
    dotted = invoices[single[3::11]]
    invoices[single[3::11]] = dotted.where(~dotted.str.isdigit(), dotted + ".0")
    written_apart = sample.assign(InvoiceNo=invoices)
    written_apart.loc[5, "CustomerID"] = 17850.5
    rules = (CleaningRules(cancellations="drop", non_product="keep", outliers=False)
             if recipe else CleaningRules())
    tx = load_transactions(_parquet(written_apart, tmp_path / "apart.parquet"))
    cleaned = clean_transactions(tx, rules)
    assert tx.n_quarantined == 1 and cleaned.pieces is not None
    # Above the grouping of lines into pieces, and only there: the ids parsed, order ids
    # tested for prefixes (their first character first).
    pieces, lines = _above_and_below(cleaned.pieces, "HASH_GROUP_BY")
    for parsed in ("customer_id", "order_id", "(order_id >= '0')"):
        assert parsed in pieces and parsed not in lines
    # The lines' own way, one line at a time, finds the same (CSV is read that way).
    by_lines = dataclasses.replace(cleaned, pieces=None)
    keys = ["customer_id", "_reason"]
    got, want = (fetch_arrow(_with_audit(c)).to_pandas().sort_values(keys, ignore_index=True)
                 for c in (cleaned, by_lines))
    pd.testing.assert_frame_equal(got, want)
    assert cleaned.audit_table(fetch_numpy(_with_audit(cleaned))).equals(
        by_lines.audit_table(fetch_numpy(_with_audit(by_lines))))
    # And the customers of ids written alike, but for the line that was quarantined.
    config = SegwiseConfig(cleaning=rules)
    apart = run_rfm(tx.source, config=config).customers.set_index("customer_id")
    alike = run_rfm(_parquet(sample.drop(index=5), tmp_path / "alike.parquet"),
                    config=config).customers.set_index("customer_id")
    pd.testing.assert_frame_equal(apart, alike)


def test_product_ids_are_tested_before_copies_are_grouped_with_the_same_customers(
        retail_sample: pd.DataFrame, tmp_path: Path) -> None:
    # The non-product rule (on by default) parsed and tested the product id of every
    # distinct line, so the grouping of copies kept each line's id as text. A typed
    # source's rows are tested before that grouping now, which keeps a flag instead.
    # Codes written apart (blanks, lower case) are still non-product codes, and a file
    # read with a decimal comma (which failed on its order ids) finds the same customers.
    sample = retail_sample.assign(
        Quantity=retail_sample["Quantity"].astype("int64"),
        UnitPrice=retail_sample["UnitPrice"].astype("float64"),
        InvoiceDate=pd.to_datetime(retail_sample["InvoiceDate"]),
        CustomerID=pd.to_numeric(retail_sample["CustomerID"]).astype("float64"),
    )
    codes = sample["StockCode"].copy()
    codes[::13], codes[5::17], codes[7::19], codes[9::23] = " post ", "m", "  ", "1,5"
    sample = pd.concat([sample.assign(StockCode=codes), sample.iloc[:300]], ignore_index=True)
    tx = load_transactions(_parquet(sample, tmp_path / "codes.parquet"))
    cleaned = clean_transactions(tx)
    assert cleaned.pieces is not None
    # The product id read and tested below the grouping of copies, and only there.
    above, below = _above_and_below(cleaned.pieces, "UNION")
    assert "_src_StockCode" in below and "is_product" in below
    assert "StockCode" not in above
    by_lines = dataclasses.replace(cleaned, pieces=None)
    keys = ["customer_id", "_reason"]
    got, want = (fetch_arrow(_with_audit(c)).to_pandas().sort_values(keys, ignore_index=True)
                 for c in (cleaned, by_lines))
    pd.testing.assert_frame_equal(got, want)
    audit = cleaned.audit()
    assert audit.set_index("step").loc["non_product", "rows"] > len(sample) // 13
    plain = run_rfm(tx.source).customers
    comma = run_rfm(tx.source, config=SegwiseConfig(read=ReadOptions(decimal=","))).customers
    pd.testing.assert_frame_equal(comma, plain)


def _above_and_below(table: ir.Table, operator: str) -> tuple[str, str]:
    """The expressions of DuckDB's plan of a query above its first ``operator``, and below it.

    Read from the top: ``"UNION"`` is the grouping of copies (the union of the rows without
    a copy and the groups of those with copies, :func:`segwise.io.group_copies`);
    ``"HASH_GROUP_BY"`` the query's last grouping.
    """
    (_, plan), = table._find_backend().con.execute(
        "EXPLAIN (FORMAT JSON) " + str(ibis.to_sql(table))).fetchall()
    above: list[str] = []
    node = json.loads(plan)[0]
    while node["name"] != operator:
        above.append(json.dumps(node["extra_info"]))
        node = node["children"][-1]  # a CTE's query is its last child
    return "".join(above), json.dumps(node)


def _parquet(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path, index=False)
    return path
