"""The parse rules every kind shares: numbers, ids and dates that must not corrupt a result.

Each test here failed before the rules existed: a non-finite or huge number crashed the
money sum, a fractional id was rounded into another customer, a day/month file was read as
month/day without a word, one line dated 2099 moved every recency, an as-of date before
the end of the data counted later purchases, and timezone-aware Parquet was refused.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from pathlib import Path
from typing import Any

import duckdb
import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from segwise._engine import fetch_numpy, fetch_scalar
from segwise.exceptions import InputError
from segwise.io import ReadOptions, load_transactions
from segwise.io._kinds import get_kind
from segwise.io._parse import (
    SOURCE_PREFIX,
    as_float,
    has_id,
    id_checks,
    id_passes,
    is_blank,
    number_checks,
    parse_timestamp,
)
from segwise.io._readers import NAN_PREFIX, _floats_as_text
from segwise.io._roles import resolve_roles
from segwise.jobs import run_rfm

BAD_NUMBERS = ["inf", "-inf", "NaN", "Infinity", "1e40", "1e300"]


def _rfm(path: Path, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # few customers: collapsing score bins
        return run_rfm(path, **kwargs)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Order lines as a typed export holds them: floats, timestamps, float customer ids."""
    return frame.assign(
        Quantity=frame["Quantity"].astype("float64"),
        UnitPrice=frame["UnitPrice"].astype("float64"),
        InvoiceDate=pd.to_datetime(frame["InvoiceDate"]),
        CustomerID=pd.to_numeric(frame["CustomerID"]).astype("float64"),
    )


def _write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Write with NaN kept as NaN (pandas' own writer stores it as null)."""
    columns = {c: pa.array(frame[c].to_numpy(), from_pandas=False)
               if frame[c].dtype == "float64" else pa.array(frame[c]) for c in frame.columns}
    pq.write_table(pa.table(columns), path)
    return path


@pytest.fixture(scope="module")
def lines(retail_sample: pd.DataFrame) -> pd.DataFrame:
    """300 lines of Online Retail with a customer id, as text."""
    return retail_sample[retail_sample["CustomerID"] != ""].head(300).reset_index(drop=True)


# --- numbers -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def customers_without_line_7(lines: pd.DataFrame,
                             tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The customers of the lines without line 7, which the number tests spoil."""
    path = tmp_path_factory.mktemp("without") / "without.parquet"
    return _rfm(_write_parquet(_typed(lines.drop(index=7)), path)).customers


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("column", ["Quantity", "UnitPrice"])
@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_non_finite_and_huge_numbers_are_quarantined_with_a_reason(
    lines: pd.DataFrame, customers_without_line_7: pd.DataFrame, tmp_path: Path, fmt: str,
    column: str, value: str
) -> None:
    data = lines.copy()
    data.loc[7, column] = value
    if fmt == "csv":
        path = tmp_path / "orders.csv"
        data.to_csv(path, index=False)
    else:  # a float column: the value is a float there (NaN, inf, 1e40), not text
        path = _write_parquet(_typed(data), tmp_path / "orders.parquet")
    result = _rfm(path)
    reasons = result.quarantine["reason"].tolist()
    assert len(reasons) == 1 and reasons[0].startswith(f"{column}: ")
    assert ("finite" if value.lstrip("-").lower() in {"inf", "nan", "infinity"}
            else "beyond") in reasons[0]
    audit = result.audit.set_index("step")["rows"]
    assert audit.sum() == len(lines) and audit["quarantined"] == 1
    # Every other line counts exactly as in the file without the bad one.
    pd.testing.assert_frame_equal(result.customers, customers_without_line_7)


@pytest.mark.parametrize(("fmt", "engine"), [
    ("csv", "duckdb"), ("parquet", "duckdb"),
    pytest.param("parquet", "spark", marks=pytest.mark.spark),
])
def test_prices_with_a_currency_sign_are_read_past_it(
        lines: pd.DataFrame, tmp_path: Path, fmt: str, engine: str) -> None:
    # "£2.55" refused every line of the file ("not a number"), and so did the accounting
    # notation of negatives that finance exports write, "(2.55)".
    signs = ["£{}", "{} €", "${}", "{}$", "¥ {}"]
    data = lines.assign(UnitPrice=[signs[i % len(signs)].format(p)
                                   for i, p in enumerate(lines["UnitPrice"])])
    negative = {4: "-£{}", 6: "({})", 7: "(£{})", 8: "£({})", 9: "( {} € )", 10: "({}) €",
                11: "$ ({})"}
    for row, form in negative.items():
        data.loc[row, "UnitPrice"] = form.format(lines.loc[row, "UnitPrice"])
    refused = {5: "£2.55£", 12: "(2.55", 13: "2.55)", 14: "-(2.55)", 15: "(£2.55 €)",
               16: "((2.55))"}
    for row, value in refused.items():
        data.loc[row, "UnitPrice"] = value
    path = tmp_path / f"orders.{fmt}"
    if fmt == "csv":
        data.to_csv(path, index=False)
    else:  # text columns of a typed file
        data.to_parquet(path, index=False)
    tx = load_transactions(path, engine=engine)
    assert tx.quarantine["reason"].tolist() == ["UnitPrice: not a number"] * len(refused)
    assert sorted(tx.quarantine["UnitPrice"]) == sorted(refused.values())
    want = pd.to_numeric(lines["UnitPrice"]).drop(index=list(refused))
    want[list(negative)] = -want[list(negative)]
    got = fetch_numpy(tx.attributed_lines().select("unit_price"))["unit_price"]
    assert sorted(got.tolist()) == sorted(want.tolist())


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_accounting_negatives_are_read_in_the_number_columns_of_every_kind(
        tmp_path: Path, engine: str) -> None:
    # The parse rules are shared: a refund's amount, a southern latitude and a ping's
    # accuracy in a finance export's notation were quarantined as not numbers.
    from segwise.io import load_source

    amounts = tmp_path / "amounts.parquet"
    pd.DataFrame({"customer": ["1", "1", "2"], "amount": ["10", "(2.50)", "£(1,000.00)"],
                  "date": ["2011-01-01", "2011-01-02", "2011-01-03"]}).to_parquet(amounts)
    tx = load_transactions(amounts, engine=engine, read=ReadOptions(thousands=","))
    assert sorted(fetch_numpy(tx.table.select("revenue"))["revenue"]) == [-1000, -2.5, 10]
    pings = tmp_path / "pings.parquet"
    pd.DataFrame({"uid": ["a", "a"], "ts": ["2024-03-04 08:00:00", "2024-03-04 08:05:00"],
                  "lat": ["(33.87)", "(33.86)"], "lon": ["151.21", "151.2"],
                  "accuracy": ["5", "(5)"]}).to_parquet(pings)
    got = fetch_numpy(load_source(pings, "pings", engine=engine).table.order_by("timestamp"))
    assert [got[c].tolist() for c in ("lat", "lon", "accuracy")] == [
        [-33.87, -33.86], [151.21, 151.2], [5, -5]]  # (the cleaning refuses -5)


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_event_flags_read_yes_no_and_amounts_not_negatives(tmp_path: Path,
                                                           engine: str) -> None:
    # A flag of "(1)" read as -1, so as a click: a negative number says neither yes nor no.
    from segwise.io import load_source

    flags = ["yes", "No", "TRUE", "f", "1.0", " 0 ", "$12.50", "", "(1)", "-1", "1,0", "maybe"]
    bought = [1, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0]  # stored as integers
    path = tmp_path / "clicks.parquet"
    pd.DataFrame({"user": [str(i) for i in range(len(flags))], "clicked": flags,
                  "purchased": bought, "ts": "2024-03-04 08:00:00"}).to_parquet(path)
    source = load_source(path, "events", engine=engine,
                         read=ReadOptions(max_quarantine_share=1.0))
    got = fetch_numpy(source.table.select("user_id", "is_click", "is_conversion"))
    assert dict(zip(got["user_id"].tolist(), got["is_click"].tolist(), strict=True)) == {
        "0": True, "1": False, "2": True, "3": False, "4": True, "5": False, "6": True}
    assert got["is_conversion"].tolist().count(True) == 1
    assert source.quarantine[["clicked", "reason"]].values.tolist() == [
        ["", "purchased: not a yes/no flag"], ["(1)", "clicked: not a yes/no flag"],
        ["-1", "clicked: not a yes/no flag"], ["1,0", "clicked: not a yes/no flag"],
        ["maybe", "clicked: not a yes/no flag"]]


def test_a_line_total_beyond_the_bound_is_quarantined(lines: pd.DataFrame,
                                                      tmp_path: Path) -> None:
    data = lines.copy()
    data.loc[3, ["Quantity", "UnitPrice"]] = ["1e7", "1e7"]  # each fine, product 1e14
    path = tmp_path / "orders.csv"
    data.to_csv(path, index=False)
    (reason,) = load_transactions(path).quarantine["reason"]
    assert reason.startswith("Quantity x UnitPrice: line total beyond")


def test_amount_logs_quarantine_non_finite_amounts(tmp_path: Path) -> None:
    path = tmp_path / "amounts.csv"
    path.write_text("customer,date,amount\n1,2011-01-01,10\n1,2011-01-02,inf\n"
                    "2,2011-01-02,-1e300\n2,2011-01-03,5\n")
    tx = load_transactions(path, read=ReadOptions(max_quarantine_share=1))
    assert tx.quarantine["reason"].tolist() == ["amount: not a finite number",
                                                "amount: beyond ±1e13, the largest number "
                                                "segwise accepts"]


# --- ids ---------------------------------------------------------------------------------


def test_fractional_float_ids_are_quarantined_not_rounded(lines: pd.DataFrame,
                                                          tmp_path: Path) -> None:
    data = _typed(lines)
    data.loc[0:2, "CustomerID"] = 1.5
    data.loc[3:5, "CustomerID"] = 2.0
    data.loc[6, "CustomerID"] = np.inf
    data.loc[7, "CustomerID"] = np.nan  # pandas' missing value: no customer id
    result = _rfm(_write_parquet(data, tmp_path / "ids.parquet"))
    reasons = result.quarantine["reason"].value_counts().to_dict()
    assert reasons == {"CustomerID: a fractional number is not an id": 3,
                       "CustomerID: not a finite number, so not an id": 1}
    ids = set(result.customers["customer_id"])
    assert "2" in ids and not {"1", "1.5"} & ids
    assert result.audit.set_index("step").loc["missing_customer_id", "rows"] == 1


@pytest.mark.parametrize("values", [
    [1.0, np.nan, None, np.inf, -np.inf, 0.0, -0.0, 2.5, 1e300],
    [1.0, np.nan, None, 3.0],  # min/max statistics without the NaN, nothing infinite
    [np.nan, np.nan],
])
def test_has_id_is_the_negation_of_is_blank_in_parquet_files(values: list[float | None],
                                                             tmp_path: Path) -> None:
    # has_id is written for speed on DuckDB floats (the test that holds first); it must
    # still say what ~is_blank says, in files whose statistics leave NaN out.
    path = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"x": pa.array(values, pa.float64()),
                             "t": pa.array([None if v is None else str(v) for v in values])}),
                   path)
    t = ibis.duckdb.connect().read_parquet(path)
    got = t.select(has_x=has_id(t.x), blank_x=is_blank(t.x), has_t=has_id(t.t),
                   blank_t=is_blank(t.t)).to_pyarrow().to_pydict()
    assert got["has_x"] == [not b for b in got["blank_x"]]
    assert got["has_x"] == [v is not None and not math.isnan(v) for v in values]
    assert got["has_t"] == [not b for b in got["blank_t"]]


_FLOATS = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([1.5, 2.0**53, 2.0**54, -(2.0**53) + 1, 1e13, -1e13, 1e13 + 2]))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.tuples(_FLOATS, st.one_of(st.none(), st.text("1e3.,-+ iNfa$",
                                                                          max_size=6))),
                       min_size=1, max_size=20))
def test_the_parse_guard_passes_no_value_a_check_refuses(
    values: list[tuple[float | None, str | None]], tmp_path: Path
) -> None:
    # The order-line parse lets rows whose values all parse skip the checks (ids that
    # id_passes passes, numbers as_float reads): a guard, which must never pass a value
    # that some check would quarantine, in Parquet files whose statistics leave NaN out.
    path = tmp_path / "values.parquet"
    pq.write_table(pa.table({"x": pa.array([x for x, _ in values], pa.float64()),
                             "t": pa.array([t for _, t in values], pa.string())}), path)
    t = ibis.duckdb.connect().read_parquet(path)
    checks = {"id_x": (id_passes(t.x), id_checks(t.x, "x")),
              "id_t": (id_passes(t.t), id_checks(t.t, "t")),
              "number_x": (as_float(t.x).notnull(), number_checks(t.x, "x")),
              "number_t": (as_float(t.t).notnull(), number_checks(t.t, "t"))}
    # Each in a CASE, as the parse writes them: a later test may fail on a value an earlier
    # one settles (a float too large for an integer), which a CASE never evaluates.
    got = t.select(**{f"{name}_passes": ibis.ifelse(passes, True, False)
                      for name, (passes, _) in checks.items()},
                   **{f"{name}_refused": ibis.cases(*cs, else_=ibis.null("string")).notnull()
                      if cs else ibis.literal(False) for name, (_, cs) in checks.items()}
                   ).to_pyarrow().to_pydict()
    for name in checks:
        assert not any(p and r for p, r in zip(got[f"{name}_passes"], got[f"{name}_refused"],
                                               strict=True)), name
    # And it passes the values no check refuses (it would save nothing otherwise).
    assert got["number_x_passes"] == [not r for r in got["number_x_refused"]]


def test_boolean_ids_are_refused(lines: pd.DataFrame, tmp_path: Path) -> None:
    data = _typed(lines).assign(CustomerID=lambda d: d.index % 2 == 0)
    path = _write_parquet(data, tmp_path / "bool.parquet")
    with pytest.raises(InputError, match="CustomerID: true/false is not an id"):
        _rfm(path)
    tx = load_transactions(path, read=ReadOptions(max_quarantine_share=1))
    assert tx.n_quarantined == len(lines) and tx.table.count().execute() == 0
    assert set(tx.quarantine["reason"]) == {"CustomerID: true/false is not an id"}


# --- dates -------------------------------------------------------------------------------


def _dates(lines: pd.DataFrame, days: list[int], layout: str) -> pd.DataFrame:
    ts = pd.to_datetime(lines["InvoiceDate"])
    return lines.assign(InvoiceDate=[t.replace(day=d).strftime(layout)
                                     for t, d in zip(ts, days, strict=True)])


def test_day_month_ambiguity_stops_and_asks_for_the_layout(lines: pd.DataFrame,
                                                          tmp_path: Path) -> None:
    days = [1 + i % 12 for i in range(len(lines))]
    path = tmp_path / "dm.csv"
    _dates(lines, days, "%d/%m/%Y %H:%M").to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        load_transactions(path)
    message = str(err.value)
    assert str(path) in message and "InvoiceDate" in message and "ambiguous" in message
    assert '"%d/%m/%Y %H:%M"' in message and '"%m/%d/%Y %H:%M"' in message
    tx = load_transactions(path, read=ReadOptions(timestamp_format="%d/%m/%Y %H:%M"))
    assert sorted(tx.table.ts.day().execute().unique()) == list(range(1, 13))


def test_one_day_above_12_anywhere_settles_the_layout(lines: pd.DataFrame,
                                                      tmp_path: Path) -> None:
    # 3,000 distinct ambiguous timestamps (more than the sample) and one that is not.
    base = pd.concat([lines] * 10, ignore_index=True)
    stamps = [dt.datetime(2011, 1 + i % 12, 1 + (i // 12) % 12, 8 + i % 9, i % 60)
              for i in range(len(base))]
    base["InvoiceDate"] = [s.strftime("%d/%m/%Y %H:%M") for s in stamps]
    base.loc[len(base) - 1, "InvoiceDate"] = "25/12/2011 10:00"
    path = tmp_path / "dm.csv"
    base.to_csv(path, index=False)
    tx = load_transactions(path)
    assert tx.n_quarantined == 0
    assert tx.table.ts.max().execute() == pd.Timestamp("2011-12-25 10:00")
    assert tx.table.ts.month().nunique().execute() == 12


@pytest.mark.parametrize("layout", [
    "%m/%d/%y %H:%M",  # Excel's default display: 12/1/10 8:26
    "%d/%m/%y", "%d.%m.%y %H:%M", "%d %b %Y %H:%M", "%d-%b-%y", "%b %d %Y", "%d %B %Y",
])
def test_two_digit_years_and_month_names_are_recognised(
        layout: str, retail_sample: pd.DataFrame, tmp_path: Path) -> None:
    # They stopped the load ("cannot recognise the timestamp layout"), suggesting a
    # layout that did not read them either. A day above 12 settles day and month.
    stamps = [dt.datetime(2010 + i % 2, 1 + i % 12, 1 + i % 28, 8 + i % 9, i % 60)
              for i in range(len(retail_sample))]
    data = retail_sample.assign(InvoiceDate=[t.strftime(layout) for t in stamps])
    path = tmp_path / "dates.csv"
    data.to_csv(path, index=False)
    tx = load_transactions(path)
    assert tx.n_quarantined == 0
    got = tx.table.order_by("ts").ts.execute()
    want = sorted(dt.datetime.strptime(t.strftime(layout), layout) for t in stamps)
    assert got.tolist() == want


def test_a_line_from_the_future_is_quarantined(lines: pd.DataFrame, tmp_path: Path) -> None:
    data = lines.copy()
    data.loc[9, "InvoiceDate"] = "2099-01-01 10:00:00"
    path = tmp_path / "future.csv"
    data.to_csv(path, index=False)
    result = _rfm(path)
    (reason,) = result.quarantine["reason"]
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    assert reason.startswith(f"InvoiceDate: dated after {tomorrow.isoformat()}")
    last = pd.to_datetime(lines["InvoiceDate"]).drop(index=9).max().date()
    assert result.as_of == last + dt.timedelta(days=1)



def test_a_declared_latest_date_replaces_the_runs_date(retail_sample: pd.DataFrame,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    retail_sample.to_csv(path, index=False)
    read = ReadOptions(latest_date=dt.date(2010, 12, 1), max_quarantine_share=1)
    bounded = load_transactions(path, read=read)
    later = pd.to_datetime(retail_sample["InvoiceDate"]).dt.date > dt.date(2010, 12, 1)
    assert bounded.n_quarantined == later.sum() == 1892
    assert bounded.quarantine["reason"].str.startswith(
        "InvoiceDate: dated after 2010-12-01 (read=ReadOptions(latest_date=...))").all()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_lines_after_the_as_of_date_are_left_out_and_counted(
    retail_sample: pd.DataFrame, tmp_path: Path, fmt: str
) -> None:
    ts = pd.to_datetime(retail_sample["InvoiceDate"])
    as_of = dt.date(2010, 12, 1)  # the sample's lines are from 1 and 2 December
    path = tmp_path / f"orders.{fmt}"
    if fmt == "csv":
        retail_sample.to_csv(path, index=False)
    else:
        retail_sample.assign(InvoiceDate=ts).to_parquet(path)
    result = _rfm(path, as_of=as_of)
    audit = result.audit.set_index("step")["rows"]
    later = int((ts.dt.date > as_of).sum())
    assert audit["after_as_of"] == later > 0 and audit.sum() == len(retail_sample)
    assert (result.customers["recency_days"] >= 0).all()
    assert (result.customers["last_purchase"].dt.date <= as_of).all()
    # The same customers as a file that stops on the as-of date.
    earlier = tmp_path / "earlier.csv"
    retail_sample[ts.dt.date <= as_of].to_csv(earlier, index=False)
    pd.testing.assert_frame_equal(result.customers, _rfm(earlier, as_of=as_of).customers)


@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York", "Asia/Kolkata"])
def test_timezone_aware_parquet_is_read_as_utc(lines: pd.DataFrame, tmp_path: Path,
                                               zone: str) -> None:
    local = pd.to_datetime(lines["InvoiceDate"]).dt.tz_localize(zone)
    path = tmp_path / "tz.parquet"
    _typed(lines).assign(InvoiceDate=local).to_parquet(path)  # pandas writes ns, with zone
    tx = load_transactions(path)
    assert tx.n_quarantined == 0
    got = tx.table.select("ts").to_pandas()["ts"].sort_values(ignore_index=True)
    want = local.dt.tz_convert("UTC").dt.tz_localize(None).sort_values(ignore_index=True)
    pd.testing.assert_series_equal(got, want, check_names=False, check_dtype=False)


def test_rows_are_tested_again_only_where_the_loader_found_some_that_fail(
    lines: pd.DataFrame, tmp_path: Path
) -> None:
    # The loader's scan counts the rows that do not parse; when there are none, the rows
    # of every kind and the cleaner's queries leave the per-row test out (at 30 M lines,
    # a second of CPU; 15 % of `segwise mobility` on 2 M pings).
    clean = load_transactions(_write_parquet(_typed(lines), tmp_path / "clean.parquet"))
    spoilt = _typed(lines)
    spoilt.loc[2, "Quantity"] = np.inf
    bad = load_transactions(_write_parquet(spoilt, tmp_path / "bad.parquet"))
    assert (clean.n_quarantined, bad.n_quarantined) == (0, 1)
    for tx, tested in ((clean, False), (bad, True)):
        for table in (tx.table, tx.distinct_lines(), tx.attributed_lines()):
            con = table._find_backend().con
            (_, plan), = con.execute("EXPLAIN " + str(ibis.to_sql(table))).fetchall()
            assert ("not a finite number" in plan) is tested
    counts = [int(fetch_scalar(tx.distinct_lines()._n.sum())) for tx in (clean, bad)]
    assert counts == [len(lines), len(lines) - 1]
    assert fetch_scalar(bad.attributed_lines().count()) == len(lines) - 1


# --- both engines ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.spark
def test_spark_quarantines_what_duckdb_quarantines(
    spark_available: None, lines: pd.DataFrame, tmp_path: Path
) -> None:
    data = _typed(lines)
    data.loc[1, "UnitPrice"] = np.nan  # Spark kept it and dropped its revenue
    data.loc[2, "Quantity"] = np.inf
    data.loc[3, "UnitPrice"] = 1e40
    data.loc[4, "CustomerID"] = 1.5
    data.loc[5, "CustomerID"] = -np.inf
    data.loc[6, "CustomerID"] = 1e20
    data.loc[7, "Quantity"] = 2e13
    data["InvoiceDate"] = data["InvoiceDate"].dt.tz_localize("America/New_York")
    path = _write_parquet(data, tmp_path / "bad.parquet")
    duck, spark = _rfm(path), _rfm(path, engine="spark")
    # The same rows and values: floats written alike (Spark would say Infinity and 1.0E20).
    pd.testing.assert_frame_equal(*(r.quarantine.sort_values("reason", ignore_index=True)
                                    for r in (spark, duck)))
    assert len(duck.quarantine) == 7
    bad = duck.quarantine.set_index("reason")
    assert bad.loc["UnitPrice: not a finite number", "UnitPrice"] == "nan"
    assert bad.loc["Quantity: not a finite number", "Quantity"] == "inf"
    assert set(bad["CustomerID"]) >= {"-inf", "1e+20", "1.5", "17850.0"}
    assert bad.filter(like="Quantity: beyond", axis=0)["Quantity"].tolist() == ["20000000000000.0"]
    pd.testing.assert_frame_equal(spark.audit, duck.audit)
    pd.testing.assert_frame_equal(spark.customers, duck.customers)


def test_a_database_quarantines_zoned_timestamps_as_parquet_does(
    lines: pd.DataFrame, tmp_path: Path
) -> None:
    # The same rows from a DuckDB database file and from Parquet: the same quarantine,
    # a zoned timestamp written as UTC wall-clock time (DuckDB's cast would add "+00").
    data = _typed(lines)
    data.loc[2, "Quantity"] = np.inf
    data["InvoiceDate"] = data["InvoiceDate"].dt.tz_localize("America/New_York")
    parquet = _write_parquet(data, tmp_path / "bad.parquet")
    database = tmp_path / "bad.duckdb"
    with duckdb.connect(str(database)) as con:
        zoned = "SELECT * REPLACE (InvoiceDate::TIMESTAMPTZ AS InvoiceDate) FROM read_parquet(?)"
        con.execute(f"CREATE TABLE lines AS {zoned}", [str(parquet)])
        assert con.sql("SELECT typeof(InvoiceDate) FROM lines LIMIT 1").fetchall() == [
            ("TIMESTAMP WITH TIME ZONE",)]
    from_parquet, from_database = (load_transactions(p).quarantine for p in (parquet, database))
    assert len(from_parquet) == 1
    want = str(data.loc[2, "InvoiceDate"].tz_convert("UTC").tz_localize(None))
    assert from_database.loc[0, "InvoiceDate"] == want
    pd.testing.assert_frame_equal(from_database.drop(columns="row"),
                                  from_parquet.drop(columns="row"))


@given(st.lists(st.floats(width=64) | st.none(), min_size=1, max_size=20),
       st.lists(st.floats(width=32) | st.none(), min_size=1, max_size=20))
@settings(max_examples=60, deadline=None)
# DuckDB writes this 32-bit float with all its digits, not the shorter 1048576.8.
@example(doubles=[None], singles=[1048576.75])
def test_quarantined_floats_are_written_as_duckdb_writes_them(
    doubles: list[float | None], singles: list[float | None]
) -> None:
    # The text of a float in the quarantine is made in Python, so that every engine's
    # quarantine says the same; DuckDB's own cast is the oracle.
    nan = [v is not None and math.isnan(v) for v in doubles]
    fetched = pa.table({"d": pa.array(doubles, pa.float64()),
                        NAN_PREFIX + "d": pa.array(nan)})
    assert _floats_as_text(fetched).column_names == ["d"]
    con = duckdb.connect()
    for values, sql_type in ((doubles, "DOUBLE"), (singles, "REAL")):
        arrow = pa.array(values, pa.float64() if sql_type == "DOUBLE" else pa.float32())
        flags = pa.array([v is not None and math.isnan(v) for v in values])
        got = _floats_as_text(pa.table({"v": arrow, NAN_PREFIX + "v": flags}))["v"].to_pylist()
        con.register("t", pa.table({"v": arrow}))
        want = [r[0] for r in con.execute("SELECT CAST(v AS VARCHAR) FROM t").fetchall()]
        assert got == [w if w is None or w.lstrip("-") != "nan" else "nan" for w in want]


_ISO_TIMES = st.datetimes(min_value=dt.datetime(1995, 1, 1), max_value=dt.datetime(2090, 1, 1))
_OFFSETS = st.none() | st.just(dt.timedelta(0)) | st.integers(-14 * 60, 14 * 60).map(
    lambda m: dt.timedelta(minutes=m))


def _iso_text(time: dt.datetime, offset: dt.timedelta | None, sep: str, seconds: str,
              zone: str) -> str:
    """``time`` written in one ISO 8601 form; ``offset`` after it, in the form ``zone``."""
    text = time.strftime(f"%Y-%m-%d{sep}%H:%M")
    if seconds != "none":
        text += time.strftime(":%S") + (f".{time.microsecond:06d}" if seconds == "fraction"
                                        else "")
    if offset is None:
        return text
    if offset == dt.timedelta(0) and zone in ("Z", "utc"):
        return text + ("Z" if zone == "Z" else " UTC")  # " UTC": BigQuery's text export
    minutes = int(offset.total_seconds()) // 60
    sign, (hours, rest) = "+" if minutes >= 0 else "-", divmod(abs(minutes), 60)
    if zone == "Z" and rest == 0:  # hours alone
        return f"{text}{sign}{hours:02d}"
    return text + (f"{sign}{hours:02d}:{rest:02d}" if zone == "colon"
                   else f"{sign}{hours:02d}{rest:02d}")


@given(st.lists(st.tuples(_ISO_TIMES, _OFFSETS, st.sampled_from("T "),
                          st.sampled_from(["none", "whole", "fraction"]),
                          st.sampled_from(["colon", "Z", "basic", "utc"])), min_size=1,
                max_size=12))
@settings(max_examples=40, deadline=None)
def test_iso_times_in_any_form_read_as_the_same_utc_instant(values: list[Any]) -> None:
    # A log whose trackers write ISO 8601 differently (a T or a blank, fractions, zones):
    # every value is read whatever layout the column was given, a zoned one as UTC.
    from segwise._engine import duckdb_connection
    from segwise.io import parse_timestamp

    texts = [_iso_text(*v) for v in values]
    want = []
    for time, offset, _, seconds, _ in values:
        kept = {"none": time.replace(second=0, microsecond=0),
                "whole": time.replace(microsecond=0), "fraction": time}[seconds]
        want.append(kept - (offset or dt.timedelta(0)))
    con = duckdb_connection()
    con.con.register("iso", pa.table({"v": texts}))
    table = con.table("iso")
    layouts = ("%Y-%m-%d %H:%M:%S", "%d/%m/%Y", "epoch", "iso8601")
    got = table.select(**{
        f"ts{i}": parse_timestamp(table.v, ReadOptions(timestamp_format=layout), Path("x"),
                                  False) for i, layout in enumerate(layouts)}).to_pyarrow()
    for i, layout in enumerate(layouts):
        assert got[f"ts{i}"].to_pylist() == want, (layout, texts)


@pytest.mark.parametrize("layout", ["%Y-%m-%d %H:%M:%S.%f", "iso8601"])
def test_text_times_are_cast_to_numbers_only_where_the_layout_read_nothing(
        layout: str) -> None:
    # A date's text is also tried as an epoch number where the layout reads nothing.
    # DuckDB computes an expression used several times once for every row, before the
    # COALESCE that would skip it: every date text was cast to a number, and failed (a
    # fifth of the parse of a date column). Same times either way, the epoch one too.
    from segwise._engine import duckdb_connection
    from segwise.io import parse_timestamp

    con = duckdb_connection()
    texts = ["2015-05-18 19:54:42.0", " 2015-05-18 19:54:42.0 ", "1431978882", "never", None]
    con.con.register("dates", pa.table({"v": pa.array(texts, pa.string())}))
    table = con.table("dates")
    ts = parse_timestamp(table.v, ReadOptions(timestamp_format=layout), Path("x"), False)
    query = table.select(ts=ts, bad=ts.isnull())
    read = dt.datetime(2015, 5, 18, 19, 54, 42)
    assert query.to_pyarrow()["ts"].to_pylist() == [read, read, read, None, None]

    def projections(node: dict[str, Any]) -> list[str]:
        found = node.get("extra_info", {}).get("Projections", [])
        return ([found] if isinstance(found, str) else found) + [
            p for child in node.get("children", []) for p in projections(child)]

    import json

    ((_, plan),) = con.con.execute(f"EXPLAIN (FORMAT json) {con.compile(query)}").fetchall()
    computed = [p for node in json.loads(plan) for p in projections(node)]
    assert any("TRY_CAST" in p for p in computed)
    assert not [p for p in computed if p.startswith("TRY_CAST")], computed


@given(st.lists(st.integers(int(pd.Timestamp("1990-01-01").timestamp()),
                            int(pd.Timestamp("2099-12-31").timestamp())), min_size=1,
                max_size=10),
       st.sampled_from([1, 10**3, 10**6, 10**9, 0, -1]), st.booleans())
@settings(max_examples=30, deadline=None)
def test_epoch_numbers_in_any_unit_read_as_the_same_time(seconds: list[int], per: int,
                                                         as_text: bool) -> None:
    # Seconds, milliseconds, microseconds (a GA4 export's event_timestamp), nanoseconds,
    # SQLite's Julian day numbers (per = 0) and Excel's serial days (per = -1: a date
    # cell saved as a number): between 1990 and 2099 their ranges are apart, so the size
    # says the unit. Micro- and nanoseconds were once refused as numbers beyond 1e13,
    # Julian days as times of January 1970, serial days as no time.
    from segwise._engine import duckdb_connection
    from segwise.io import parse_timestamp

    days = {0: 2440587.5, -1: 25569.0}  # the day number of 1970-01-01
    numbers: list[Any] = [s * per if per > 0 else s / 86400 + days[per] for s in seconds]
    con = duckdb_connection()
    con.con.register("epochs", pa.table({"v": [repr(n) for n in numbers] if as_text
                                         else pa.array(numbers, pa.int64() if per > 0
                                                       else pa.float64())}))
    table = con.table("epochs")
    read = ReadOptions(timestamp_format="epoch" if as_text else None)
    got = table.select(ts=parse_timestamp(table.v, read, Path("x"), False)).to_pyarrow()
    want = [dt.datetime(1970, 1, 1) + dt.timedelta(seconds=s) for s in seconds]
    assert got["ts"].to_pylist() == want


def test_excel_serial_days_read_as_the_times_they_show(lines: pd.DataFrame,
                                                      tmp_path: Path) -> None:
    # A CSV saved from a spreadsheet whose date cells lost their format: 40513.350694 is
    # 2010-12-01 08:25. It was refused ("cannot recognise the timestamp layout"), with a
    # fix no strptime layout could follow.
    shown = pd.to_datetime(lines["InvoiceDate"])
    serial = (shown - pd.Timestamp("1899-12-30")) / pd.Timedelta(days=1)
    path = tmp_path / "from_excel.csv"
    lines.assign(InvoiceDate=serial.map("{:.6f}".format)).to_csv(path, index=False)
    text = tmp_path / "text.csv"
    lines.to_csv(text, index=False)
    pd.testing.assert_frame_equal(_rfm(path).customers, _rfm(text).customers)


@pytest.mark.slow
@pytest.mark.spark
def test_spark_reads_text_times_of_any_form_as_duckdb_does(spark_available: None,
                                                           tmp_path: Path) -> None:
    # A Parquet log with its times as text in several forms, one an epoch number: Spark
    # once quarantined the number, which DuckDB reads.
    from segwise.io import load_source

    times = ["2024-03-01T23:50:00Z", "2024-03-02 00:10:00", "2024-03-02T02:20:00+02:00",
             "2024-03-01 10:00:00 UTC", "1709287200", "2024-03-01 11:00:00+0200", "NaN"]
    path = tmp_path / "log.parquet"
    pd.DataFrame({"user_id": [f"u{i}" for i in range(len(times))], "timestamp": times,
                  "event": "view"}).to_parquet(path)
    read = ReadOptions(max_quarantine_share=1.0)
    got = {}
    for engine in ("duckdb", "spark"):
        source = load_source(path, "events", read=read, engine=engine)
        assert source.quarantine["reason"].tolist() == ["timestamp: not a timestamp"]
        got[engine] = source.table.to_pandas().set_index("user_id")["ts"].sort_index()
    pd.testing.assert_series_equal(got["spark"], got["duckdb"], check_dtype=False)
    assert got["duckdb"]["u4"] == pd.Timestamp("2024-03-01 10:00")


@pytest.mark.parametrize(("kind", "columns"), [
    ("orders", ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                "UnitPrice", "CustomerID", "Country"]),
    ("events", ["user_id", "timestamp", "event", "session_id", "item_id", "category"]),
    ("pings", ["user_id", "timestamp", "lat", "lon", "accuracy"]),
])
def test_a_parse_reads_its_time_once_however_often_its_reason_tests_it(
    kind: str, columns: list[str]
) -> None:
    # The reason tests what was parsed (a time that read as NULL, one after the run).
    # Built of the parse's own expressions, each test carried a copy of it: order lines'
    # parse compiled to 150 KB of SQL, the time's layout in it 120 times, each copy
    # compiled, planned and run.
    spec = get_kind(kind)
    roles = resolve_roles(columns, source="rows.csv", kind=spec)
    raw = ibis.duckdb.connect().create_table(
        "raw", schema=ibis.schema({SOURCE_PREFIX + c: "string" for c in columns}))
    layout = "%d/%m/%Y %H:%M"
    read = ReadOptions(timestamp_format=layout)
    parsed = spec.parse(raw, roles, read, Path("rows.csv"))
    assert spec.timestamp_role is not None
    time = raw[SOURCE_PREFIX + roles[spec.timestamp_role]]
    once = ibis.to_sql(raw.select(ts=parse_timestamp(time, read, Path("rows.csv"), spark=False)),
                       dialect="duckdb").count(layout)
    assert once > 0
    assert ibis.to_sql(parsed, dialect="duckdb").count(layout) == once
