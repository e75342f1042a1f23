"""Loading order lines from every supported format, and every kind of bad input."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import duckdb
import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segwise.exceptions import ConfigError, InputError
from segwise.io import (
    STANDARD_COLUMNS,
    ReadOptions,
    Transactions,
    group_copies,
    load_transactions,
)


def _canonical(tx: Transactions) -> pd.DataFrame:
    df = tx.table.to_pandas()
    return df.sort_values(list(df.columns), ignore_index=True)


@pytest.fixture(scope="module")
def reference(
    retail_sample: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> pd.DataFrame:
    path = tmp_path_factory.mktemp("ref") / "sample.csv"
    retail_sample.head(800).to_csv(path, index=False)
    return _canonical(load_transactions(path))


def test_csv_sample_types_and_values(retail_sample: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    retail_sample.to_csv(path, index=False)
    tx = load_transactions(path)
    assert tx.n_input == 5000
    assert tx.n_quarantined == 0
    assert tx.roles.customer_id == "CustomerID" and tx.roles.order_id == "InvoiceNo"
    df = tx.table.to_pandas()
    assert list(df.columns) == list(STANDARD_COLUMNS)
    first = df.iloc[0]
    # 536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850
    assert first["order_id"] == "536365" and first["customer_id"] == "17850"
    assert first["ts"] == pd.Timestamp("2010-12-01 08:26:00")
    assert first["quantity"] == 6 and first["unit_price"] == 2.55
    assert first["revenue"] == pytest.approx(15.3)


@pytest.mark.parametrize(
    "fmt", ["csv.gz", "tsv", "semicolon.csv", "parquet", "xlsx", "jsonl", "sqlite", "duckdb"]
)
def test_every_format_loads_the_same_rows(
    fmt: str, retail_sample: pd.DataFrame, reference: pd.DataFrame, tmp_path: Path
) -> None:
    sample = retail_sample.head(800)
    path = tmp_path / f"orders.{fmt}"
    typed = sample.assign(
        Quantity=sample["Quantity"].astype("int64"),
        UnitPrice=sample["UnitPrice"].astype("float64"),
        InvoiceDate=pd.to_datetime(sample["InvoiceDate"]),
    )
    if fmt == "csv.gz":
        with gzip.open(path, "wt") as fh:
            sample.to_csv(fh, index=False)
    elif fmt == "tsv":
        sample.to_csv(path, index=False, sep="\t")
    elif fmt == "semicolon.csv":
        sample.to_csv(path, index=False, sep=";")
    elif fmt == "parquet":
        typed.to_parquet(path)
    elif fmt == "xlsx":
        typed.to_excel(path, index=False)
    elif fmt == "jsonl":
        sample.to_json(path, orient="records", lines=True)
    elif fmt == "sqlite":
        with sqlite3.connect(path) as con:
            typed.to_sql("orders", con, index=False)
    else:
        with duckdb.connect(str(path)) as con:
            con.register("t", typed)
            con.execute("CREATE TABLE orders AS SELECT * FROM t")
    tx = load_transactions(path)
    assert tx.n_input == 800 and tx.n_quarantined == 0
    pd.testing.assert_frame_equal(_canonical(tx), reference, check_dtype=False)


def test_online_retail_ii_names_are_recognised(retail_sample: pd.DataFrame, tmp_path: Path) -> None:
    renamed = retail_sample.head(100).rename(
        columns={"InvoiceNo": "Invoice", "CustomerID": "Customer ID", "UnitPrice": "Price"}
    )
    path = tmp_path / "ii.csv"
    renamed.to_csv(path, index=False)
    tx = load_transactions(path)
    assert (tx.roles.order_id, tx.roles.customer_id, tx.roles.unit_price) == (
        "Invoice",
        "Customer ID",
        "Price",
    )
    assert tx.table.count().execute() == 100


def test_float_customer_ids_lose_their_decimal(retail_sample: pd.DataFrame, tmp_path: Path) -> None:
    df = retail_sample.head(10).copy()
    df["CustomerID"] = df["CustomerID"] + ".0"
    path = tmp_path / "f.csv"
    df.to_csv(path, index=False)
    assert set(load_transactions(path).table.customer_id.to_pandas()) == {"17850", "13047"}


def test_missing_required_column_names_file_column_and_fix(
    retail_sample: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "nocust.csv"
    retail_sample.head(5).drop(columns="CustomerID").to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        load_transactions(path)
    msg = str(err.value)
    # Called from Python: the fix is the argument, not a config file.
    assert msg.endswith('Fix: rename the column, or pass columns={"customer_id": "..."}')
    assert str(path) in msg and "config file" not in msg


def test_columns_named_alike_are_not_guessed_between(tmp_path: Path) -> None:
    # The first was taken silently, the other's values left out: the ids of one export
    # and the reference numbers of another are not the same customers.
    header = "Customer ID,InvoiceDate,InvoiceNo,Quantity,UnitPrice,customer_id"
    columns = "'Customer ID' and 'customer_id'"  # names alike but for case and punctuation
    path = tmp_path / "dup.csv"
    path.write_text(f"{header}\n17850,2010-12-01 08:26:00,536365,6,2.55,99\n")
    with pytest.raises(InputError) as err:
        load_transactions(path)
    first = columns.split("'")[1]
    assert str(err.value) == (
        f"{path}: columns {columns} could each be the customer_id (names alike). Fix: "
        f'rename or drop the others, or pass columns={{"customer_id": "{first}"}}')
    # Mapping one decides.
    tx = load_transactions(path, columns={"customer_id": first})
    assert tx.table.customer_id.execute().tolist() == ["17850"]


@pytest.mark.parametrize("fmt", ["csv", "gz-crlf-lf", "bom", "xlsx"])
def test_a_header_naming_two_columns_alike_is_refused(tmp_path: Path, fmt: str) -> None:
    # DuckDB read the second CustomerID as CustomerID_1 (pandas, in a workbook, as
    # CustomerID.1); a people file's second Income became an attribute of its own, and
    # messages named columns the file does not have.
    header = ["CustomerID", "InvoiceDate", "InvoiceNo", "Quantity", "UnitPrice", "customerid"]
    rows = [["17850", "2010-12-01 08:26:00", "536365", "6", "2.55", "99"]] * 3
    path = tmp_path / ("dup.xlsx" if fmt == "xlsx" else "dup.csv.gz" if fmt.startswith("gz")
                       else "dup.csv")
    lines = [",".join(r) for r in [header, *rows]]
    if fmt == "xlsx":
        pd.DataFrame(rows, columns=[*header[:5], "CustomerID"]).to_excel(path, index=False)
    elif fmt == "csv":
        path.write_text("\n".join(lines) + "\n")
    elif fmt == "bom":
        path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n")
    else:
        path.write_bytes(gzip.compress("\r\n".join(lines[:2]).encode() + b"\r\n"
                                       + "\n".join(lines[2:]).encode() + b"\n"))
    named = "'CustomerID'" if fmt == "xlsx" else "'CustomerID' and 'customerid'"
    with pytest.raises(InputError) as err:
        load_transactions(path)
    assert str(err.value) == (
        f"{path}: columns 1 and 6 of the header are named {named}, and a column must be told "
        "by its name. Fix: rename one of them, or name every column with "
        "read=ReadOptions(names=...)")
    # Names given for every column mend it; a header whose name_1 is its own is read.
    names = ReadOptions(names=("customer_id", "date", "invoice", "quantity", "price", "ref"))
    assert load_transactions(path, read=names).table.count().execute() == 3
    # It is guessed too: a CSV or Excel reader never renames (it refuses), so CustomerID_1
    # was no repeat of CustomerID, yet it stopped the guess as one.
    own = [*header[:5], "CustomerID_1"]
    if fmt == "csv":
        path.write_text("\n".join(lines).replace("customerid", "CustomerID_1", 1) + "\n")
    elif fmt == "xlsx":
        pd.DataFrame(rows, columns=own).to_excel(path, index=False)
    if fmt in ("csv", "xlsx"):
        tx = load_transactions(path)
        assert tx.roles["customer_id"] == "CustomerID" and tx.table.count().execute() == 3
    if fmt != "csv":
        return
    # A Parquet file (or a table in memory) may still repeat a name, read as name_1.
    table = pa.table([pa.array(r) for r in zip(*rows, strict=True)], names=[*header[:5],
                                                                             "CustomerID"])
    pq.write_table(table, tmp_path / "dup.parquet")
    with pytest.raises(InputError, match=r"columns 'CustomerID' and 'CustomerID_1' could each be "
                       r"the customer_id \(names alike, or one name given twice and read as "
                       r"name_1\)"):
        load_transactions(tmp_path / "dup.parquet")


@pytest.mark.parametrize("kind", ["orders", "events"])
def test_a_spreadsheets_blank_rows_are_said_and_do_not_stop_a_small_file(
        tmp_path: Path, kind: str) -> None:
    # An export ending in rows of bare delimiters (;;;;;) had them quarantined as "empty
    # customer id", and in a small file their share stopped the run with advice about
    # delimiters and encodings.
    from segwise.io import load_source

    header, rows = {
        "orders": ("InvoiceNo;StockCode;Quantity;InvoiceDate;UnitPrice;CustomerID",
                   ["536365;A;6;2010-12-01 08:26;2.55;17850",
                    "536366;B;2;2010-12-02 08:26;3.10;17851"]),
        "events": ("user_id;timestamp;event;clicked;category;device",
                   ["u1;2024-03-04 09:00;search;0;cars;web", "u2;2024-03-05 10:00;view;1;;"]),
    }[kind]
    path = tmp_path / "export.csv"
    path.write_text("\r\n".join([header, *rows, ";;;;;", " ; ;;;;", ";;;;;"]) + "\r\n")
    source = load_source(path, kind)
    assert source.n_input == 5 and source.table.count().execute() == 2
    reasons = source.quarantine_table["reason"].to_pylist()
    assert reasons == ["blank row: no value in any column read"] * 3
    # A row with a value where a role reads it is what it was, and counts.
    path.write_text("\n".join([header, *rows, ";;;;;", ";;;;;", ";;;;;web"]) + "\n")
    source = load_source(path, kind, read=ReadOptions(max_quarantine_share=0.5))
    reasons = source.quarantine_table["reason"].to_pylist()
    assert reasons[:2] == ["blank row: no value in any column read"] * 2
    assert reasons[2] != reasons[0] and source.n_input == 5
    # Data rows that do not parse still stop a file past the share, blank rows aside.
    path.write_text("\n".join([header, rows[0], rows[1].replace("2010", "20x0")
                               .replace("2024", "20x4"), ";;;;;", ";;;;;"]) + "\n")
    with pytest.raises(InputError, match=r"1 of 2 rows \(50%; 2 blank rows aside\) cannot "
                       r"be parsed; row 2: .*: not a timestamp"):
        load_source(path, kind)
    # Blank rows alone are a file without rows, whatever the share (no customer was left
    # after cleaning, or a people file had no attribute to read).
    path.write_text("\n".join([header, ";;;;;", ";;;;;", ";;;;;"]) + "\n")
    for share in (0.05, 1.0):
        with pytest.raises(InputError, match=r"export\.csv: the file has no rows but 3 blank "
                           rf"ones\. Fix: export the {source.kind.rows} too"):
            load_source(path, kind, read=ReadOptions(max_quarantine_share=share))


def test_explicit_mapping_to_a_column_that_does_not_exist(
    retail_sample: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "s.csv"
    retail_sample.head(5).to_csv(path, index=False)
    with pytest.raises(ConfigError, match=r"'Kunde', but .*Fix: map customer_id to one of them"):
        load_transactions(path, columns={"customer_id": "Kunde"})
    # A near miss (case, a blank, a typo) is named.
    for near in ("customer id", "CustomerId", "CustmerID"):
        with pytest.raises(ConfigError, match=r'columns= maps customer_id to .* Fix: pass '
                                              r'columns=\{"customer_id": "CustomerID"\}$'):
            load_transactions(path, columns={"customer_id": near})
    with pytest.raises(ConfigError, match=r"valid roles are .*Fix: use one of them"):
        load_transactions(path, columns={"customer": "CustomerID"})


def test_a_mapping_names_its_column_in_any_unicode_normal_form(
    retail_sample: pd.DataFrame, tmp_path: Path
) -> None:
    # "Kündennr" typed in a config (one character for ü) and a header macOS wrote (u and a
    # combining diaeresis) look alike: the error named the column as its own fix.
    import unicodedata

    path = tmp_path / "s.csv"
    composed = "Kündennr"
    retail_sample.head(5).rename(columns={
        "CustomerID": unicodedata.normalize("NFD", composed)}).to_csv(path, index=False)
    tx = load_transactions(path, columns={"customer_id": composed})
    assert sorted(tx.table.customer_id.execute().unique()) == sorted(
        retail_sample.head(5)["CustomerID"].dropna().astype(int).astype(str).unique())


def test_bad_dates_and_numbers_are_quarantined_with_row_and_reason(
    retail_sample: pd.DataFrame, tmp_path: Path
) -> None:
    df = retail_sample.head(1000).copy()
    df.loc[9, "InvoiceDate"] = "not a date"
    df.loc[19, "Quantity"] = "six"
    df.loc[29, "UnitPrice"] = ""
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    tx = load_transactions(path)
    assert tx.n_input == 1000
    assert tx.n_quarantined == 3
    assert tx.table.count().execute() + tx.n_quarantined == tx.n_input
    q = tx.quarantine.set_index("row")
    assert list(q.index) == [10, 20, 30]  # 1-based data rows
    assert "InvoiceDate" in q.loc[10, "reason"] and q.loc[10, "InvoiceDate"] == "not a date"
    assert "Quantity" in q.loc[20, "reason"] and q.loc[20, "Quantity"] == "six"
    assert "UnitPrice" in q.loc[30, "reason"]


def test_rows_keep_their_number_in_a_large_file_with_unreadable_lines(
    retail_sample: pd.DataFrame, tmp_path: Path
) -> None:
    # 200,000 rows (~17 MB): DuckDB reads it in parallel chunks, and rows after the two
    # unreadable lines must still carry their row in the file.
    df = pd.concat([retail_sample] * 40, ignore_index=True)
    df.loc[149_999, "InvoiceDate"] = "not a date"
    df.loc[199_998, "Quantity"] = "six"
    lines = df.to_csv(index=False).splitlines()
    for row in (50_000, 50_001):  # data row r is line r of the text (line 0 is the header)
        lines[row] += ",an extra field"
    path = tmp_path / "large.csv"
    path.write_text("\n".join(lines) + "\n")
    tx = load_transactions(path)
    q = tx.quarantine.set_index("row")
    assert list(q.index) == [50_000, 50_001, 150_000, 199_999]
    assert q.loc[150_000, "InvoiceDate"] == "not a date"
    assert q.loc[199_999, "Quantity"] == "six"
    assert q.loc[50_001, "reason"].startswith("unreadable line")
    assert tx.table.count().execute() + tx.n_quarantined == tx.n_input == 200_000


def test_a_column_named_rowid_does_not_number_the_rows(
    retail_sample: pd.DataFrame, tmp_path: Path
) -> None:
    df = retail_sample.head(50).copy()
    df.insert(0, "RowID", [f"r{i}" for i in range(100, 150)])  # an export's own row ids
    df.loc[2, "InvoiceDate"] = "not a date"
    path = tmp_path / "rowid.csv"
    df.to_csv(path, index=False)
    q = load_transactions(path).quarantine
    assert q["row"].tolist() == [3]


def test_mostly_unparseable_file_stops_with_an_error(
    retail_sample: pd.DataFrame, tmp_path: Path
) -> None:
    df = retail_sample.head(100).copy()
    df.loc[:30, "Quantity"] = "n/a"
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"31 of 100 rows .* row 1: Quantity"):
        load_transactions(path)
    tx = load_transactions(path, read=ReadOptions(max_quarantine_share=0.5))
    assert tx.n_quarantined == 31


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_transactions(path)


def test_header_only_file(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n")
    with pytest.raises(InputError, match="no rows"):
        load_transactions(path)


def test_missing_file_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_transactions(tmp_path / "nope.csv")
    odd = tmp_path / "orders.xml"
    odd.write_text("<x/>")
    with pytest.raises(InputError, match="unknown file type"):
        load_transactions(odd)


def test_a_file_whose_only_non_ascii_byte_is_latin1_is_read_as_one_byte_text(
    retail_sample: pd.DataFrame, tmp_path: Path
) -> None:
    # No UTF-8 character anywhere: the file is in a one-byte encoding, read whole (it used
    # to lose the row to the quarantine; a UTF-8 file with a damaged byte still does, see
    # tests/io/test_text.py).
    text = retail_sample.head(200).to_csv(index=False)
    lines = text.splitlines(keepends=True)
    # Line 6 of the file (data row 5) gets a Latin-1 e-acute in its description.
    bad = lines[5].replace("WHITE", "CAF\xe9 WHITE", 1).encode("latin-1")
    raw = (
        b"".join(line.encode() for line in lines[:5])
        + bad
        + b"".join(line.encode() for line in lines[6:])
    )
    path = tmp_path / "latin.csv"
    path.write_bytes(raw)
    with pytest.warns(UserWarning, match="latin.csv: the file is not UTF-8; read as cp1252"):
        tx = load_transactions(path)
    assert tx.n_input == 200 and tx.n_quarantined == 0
    assert tx.table.filter(tx.table.description.contains("CAF\xe9 WHITE")).count().execute() == 1
    # As with the encoding set.
    fixed = load_transactions(path, read=ReadOptions(encoding="latin-1"))
    assert fixed.n_quarantined == 0
    assert fixed.table.count().execute() == 200


def test_wrong_delimiter_gives_a_clear_error(retail_sample: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    retail_sample.head(50).to_csv(path, index=False, sep=";")
    with pytest.raises(InputError) as err:
        load_transactions(path, read=ReadOptions(delimiter=","))
    # The line read as one column, and the delimiter it has.
    assert str(err.value) == (
        f"{path}: one column found, 'InvoiceNo;StockCode;Description;Quantity;InvoiceDate;"
        "UnitPrice;CustomerID;Country': wrong delimiter? Fix: pass "
        "read=ReadOptions(delimiter=\";\")"
    )


def test_unrecognisable_timestamps_ask_for_a_format(
    retail_sample: pd.DataFrame, tmp_path: Path
) -> None:
    df = retail_sample.head(20).copy()
    df["InvoiceDate"] = "week " + df.index.astype(str)
    path = tmp_path / "weird.csv"
    df.to_csv(path, index=False)
    with pytest.raises(InputError, match="timestamp_format"):
        load_transactions(path)


@pytest.mark.parametrize(
    ("layout", "fmt"),
    [
        ("%m/%d/%Y %H:%M", None),
        ("%d.%m.%Y %H:%M", None),
        ("%Y%m%d", None),
        ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M"),
    ],
)
def test_timestamp_layouts(
    layout: str, fmt: str | None, retail_sample: pd.DataFrame, tmp_path: Path
) -> None:
    df = retail_sample.iloc[::50].copy()
    # Days after the 12th: with none, day/month and month/day cannot be told apart.
    ts = pd.to_datetime(df["InvoiceDate"]) + pd.Timedelta(days=12)
    df["InvoiceDate"] = ts.dt.strftime(layout)
    path = tmp_path / "layout.csv"
    df.to_csv(path, index=False)
    tx = load_transactions(path, read=ReadOptions(timestamp_format=fmt))
    got = tx.table.select("ts").to_pandas()["ts"]
    want = pd.to_datetime(ts.dt.strftime(layout), format=layout)
    assert sorted(got) == sorted(want)


@pytest.mark.parametrize("unit", [1, 1000])
def test_timestamps_written_as_epoch_numbers(unit: int, retail_sample: pd.DataFrame,
                                             tmp_path: Path) -> None:
    """Log exports write seconds (or milliseconds) since 1970 as text: read as such."""
    df = retail_sample.iloc[::50].copy()
    ts = pd.to_datetime(df["InvoiceDate"])
    df["InvoiceDate"] = (ts.astype("int64") // 10**9 * unit).astype(str)
    # A YYYYMMDD day and a tiny number are no epoch times: quarantined, not 1970.
    df.iloc[0, df.columns.get_loc("InvoiceDate")] = "20110104"
    df.iloc[1, df.columns.get_loc("InvoiceDate")] = "17"
    path = tmp_path / "epoch.csv"
    df.to_csv(path, index=False)
    tx = load_transactions(path)
    assert tx.n_quarantined == 2
    assert set(tx.quarantine["reason"]) == {"InvoiceDate: not a timestamp"}
    got = tx.table.select("ts").to_pandas()["ts"]
    assert sorted(got) == sorted(ts.iloc[2:])
    # The same numbers typed (a Parquet log's int64 column) read alike.
    typed = tmp_path / "epoch.parquet"
    df.assign(InvoiceDate=pd.to_numeric(df["InvoiceDate"])).to_parquet(typed, index=False)
    again = load_transactions(typed)
    assert again.n_quarantined == 2
    assert sorted(again.table.select("ts").to_pandas()["ts"]) == sorted(ts.iloc[2:])


def test_days_written_as_whole_numbers_read_as_the_same_text_does(
        cdnow_raw: pd.DataFrame, cdnow_tx: Transactions, cdnow_columns: dict[str, str],
        tmp_path: Path) -> None:
    # CDNOW as pandas reads it: its dates an int64 column (19970101). Typed numbers were
    # read only as epoch seconds (1970), so every row was refused, in memory and as
    # Parquet, while the CSV's text read as days.
    import polars as pl

    raw = cdnow_raw.assign(date=cdnow_raw["date"].astype("int64"))
    raw.loc[3, "date"] = 17  # no day and no time of 1990 to 2099: quarantined, as text is
    raw.loc[4, "date"] = 854755200  # an epoch number among the days: 1997-02-01
    path = tmp_path / "cdnow.parquet"
    raw.to_parquet(path, index=False)
    days = pd.to_datetime(cdnow_raw["date"], format="%Y%m%d")
    assert len(cdnow_tx.table.to_pandas()) == len(days)  # the CSV's text: every row a day
    want = sorted(days.mask(days.index == 4, pd.Timestamp("1997-02-01")).drop(index=3))
    # A blank among them, and pandas reads the column as float64.
    floats = raw.astype({"date": "float64"})
    for source in (raw, pl.from_pandas(raw), path, floats):
        tx = load_transactions(source, columns=cdnow_columns)
        assert tx.quarantine["reason"].tolist() == ["date: not a timestamp"]
        assert sorted(tx.table.select("ts").to_pandas()["ts"]) == want


def test_sqlite_with_several_tables_needs_a_table_name(
    tmp_path: Path, retail_sample: pd.DataFrame
) -> None:
    path = tmp_path / "two.sqlite"
    with sqlite3.connect(path) as con:
        retail_sample.head(10).to_sql("a", con, index=False)
        retail_sample.head(10).to_sql("b", con, index=False)
    with pytest.raises(InputError, match="table"):
        load_transactions(path)
    assert load_transactions(path, read=ReadOptions(table="b")).n_input == 10


def test_amount_only_logs(tmp_path: Path) -> None:
    path = tmp_path / "cdnow.csv"
    path.write_text(
        "customer_id,date,number_of_cds,dollar_value\n"
        "00001,19970101,1,11.77\n00002,19970112,1,12.00\n00002,19970112,5,77.00\n"
    )
    tx = load_transactions(path, columns={"quantity": "number_of_cds"})
    df = tx.table.to_pandas().sort_values("revenue", ignore_index=True)
    assert list(df["revenue"]) == [11.77, 12.0, 77.0]
    assert list(df["unit_price"]) == [11.77, 12.0, 15.4]
    # No order id: one order per customer and timestamp (a purchase occasion).
    assert df["order_id"].nunique() == 2


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_distinct_lines_count_copies_of_source_rows(fmt: str, tmp_path: Path) -> None:
    rows = pd.DataFrame(
        {
            "InvoiceNo": ["1", "1", "1", "2", "2", "3", "4", "4"],
            "InvoiceDate": pd.to_datetime(
                ["2011-01-03 10:00"] * 3 + ["2011-01-04 10:00"] * 2 + [None]
                + ["2011-01-05 10:00"] * 2
            ),
            "Quantity": [6, 6, 6, 2, 2, 1, 3, 3],
            "UnitPrice": [2.5] * 8,
            "CustomerID": ["7", "7", "7", "8", "8", "9", None, None],
            # A column without a role is never read, so it cannot tell copies apart.
            "Note": list("abcdefgh"),
        }
    )
    path = tmp_path / f"lines.{fmt}"
    if fmt == "parquet":
        rows.to_parquet(path)
    else:
        rows.to_csv(path, index=False)
    tx = load_transactions(path, read=ReadOptions(max_quarantine_share=0.5))
    assert tx.n_quarantined == 1
    attributed = tx.distinct_lines().to_pandas()
    assert list(attributed.columns) == [*STANDARD_COLUMNS, "_n"]
    counts = attributed.set_index("order_id")["_n"].to_dict()
    assert counts == {"1": 3, "2": 2}
    every = tx.distinct_lines(attributed_only=False).to_pandas()
    assert every.set_index("order_id")["_n"].to_dict() == {"1": 3, "2": 2, "4": 2}
    # Parsed rows (attributed or not) and quarantined rows make up the input.
    assert every["_n"].sum() + tx.n_quarantined == tx.n_input == 8
    unattributed = tx.unattributed_lines().to_pandas()
    assert int(tx.attributed_lines().count().execute()) == attributed["_n"].sum()
    assert list(unattributed.columns) == list(STANDARD_COLUMNS)
    assert unattributed["order_id"].tolist() == ["4", "4"]
    # The loader counted them in its own scan, as the cleaning audit reads them.
    assert tx.unattributed_totals() == (2, 15.0)
    assert attributed["_n"].sum() + len(unattributed) == every["_n"].sum()
    # The distinct lines are the parsed lines, whichever side of parsing grouped them.
    parsed = tx.table.filter(tx.table.customer_id.notnull()).distinct().to_pandas()
    pd.testing.assert_frame_equal(
        attributed.drop(columns="_n").sort_values("order_id", ignore_index=True),
        parsed.sort_values("order_id", ignore_index=True),
    )


# Lines drawn from a few values each, so that most pairs of one order differ in one column.
_near_copies = st.lists(
    st.tuples(
        st.sampled_from(["1", "2"]),  # InvoiceNo
        st.sampled_from(["A", "B"]),  # StockCode
        st.sampled_from(["x", "y", None]),  # Description
        st.sampled_from([1, 2, -1]),  # Quantity
        st.sampled_from(["2011-01-03 10:00", "2011-01-03 11:00"]),  # InvoiceDate
        st.sampled_from([1.0, 2.5]),  # UnitPrice
        st.sampled_from(["7", "8"]),  # CustomerID
        st.sampled_from(["UK", "FR"]),  # Country
    ),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=_near_copies, fmt=st.sampled_from(["parquet", "csv"]))
def test_distinct_lines_merge_exact_copies_only(
    rows: list[tuple], fmt: str, tmp_path: Path
) -> None:
    names = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
             "CustomerID", "Country"]
    frame = pd.DataFrame(rows, columns=names)
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    path = tmp_path / f"near.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    distinct = load_transactions(path).distinct_lines().to_pandas()
    expected = frame.groupby(names, dropna=False).size()
    assert len(distinct) == len(expected)
    assert sorted(distinct["_n"]) == sorted(expected)


# Rows drawn from a few values each: many exact copies, and many rows equal in every column
# but a key (another customer, the same line), which share the first hash and are told apart
# in the second phase. ``_n``: a source loaded counted.
_rows_with_copies = st.lists(
    st.tuples(
        st.sampled_from(["7", "8", None]),  # customer: a key
        st.sampled_from([1.0, 2.5, None]),  # a column hashed
        st.sampled_from(["x", "y", None]),  # another
        st.integers(1, 3),  # _n
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=40, deadline=None)
@given(rows=_rows_with_copies, keyed=st.booleans(), counted=st.booleans(),
       phases=st.booleans(), telling=st.sampled_from([None, ["price"], ["text"], []]))
def test_group_copies_finds_the_groups_of_grouping_on_every_column(
    rows: list[tuple], keyed: bool, counted: bool, phases: bool, telling: list[str] | None
) -> None:
    frame = pd.DataFrame(rows, columns=["customer", "price", "text", "_n"])
    if not counted:
        frame = frame.drop(columns="_n")
    types = {"customer": "string", "price": "float64", "text": "string", "_n": "int64"}
    table = ibis.duckdb.connect().create_view("rows", ibis.memtable(
        frame, schema={c: types[c] for c in frame.columns}))
    frame["shout"] = frame["text"].str.upper()  # derived: equal in copies
    # telling: the first phase hashes only these columns (rows equal in them are compared
    # on every column in the second).
    got = group_copies(table, ["customer"] if keyed else [], {"shout": lambda t: t.text.upper()},
                       read_again=phases, telling=telling).to_pandas()
    columns = ["customer", "price", "text", "shout"]
    # The oracle: every column a key, no hash.
    want = frame.groupby(columns, dropna=False, as_index=False).agg(
        _n=("_n", "sum") if counted else ("customer", "size"))
    got, want = (f.sort_values(columns, ignore_index=True).astype(object) for f in (got, want))
    pd.testing.assert_frame_equal(got.where(got.notna(), None), want.where(want.notna(), None))


def _plan_nodes(table: ibis.Table) -> list[dict]:
    """Return every node of DuckDB's plan of a query (EXPLAIN's JSON), in no order."""
    (_, plan), = table._find_backend().con.execute(
        "EXPLAIN (FORMAT JSON) " + str(ibis.to_sql(table))).fetchall()
    nodes, stack = [], json.loads(plan)
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node["children"])
    return nodes


def test_copies_are_grouped_in_two_phases_each_taken_once(
    retail_sample: pd.DataFrame, tmp_path: Path
) -> None:
    """Only rows whose first hash repeats reach the grouping on keys and both hashes.

    Each phase reads the file anew: no relation is stored whole for the two to share.
    """
    sample = retail_sample.assign(
        Quantity=pd.to_numeric(retail_sample["Quantity"]),
        UnitPrice=pd.to_numeric(retail_sample["UnitPrice"]),
        CustomerID=pd.to_numeric(retail_sample["CustomerID"]).astype("float64"),
    )
    path = tmp_path / "copies.parquet"
    pd.concat([sample, sample.iloc[::5]], ignore_index=True).to_parquet(path, index=False)
    lines = load_transactions(path).distinct_lines()
    nodes = _plan_nodes(lines)
    groupings = [n for n in nodes if n["name"] == "HASH_GROUP_BY"]
    joins = sorted(n["extra_info"]["Join Type"] for n in nodes if n["name"] == "HASH_JOIN")
    assert joins == ["ANTI", "SEMI"]
    assert sum(n["name"] == "READ_PARQUET" for n in nodes) == 3
    # Where no later step reads descriptions (RFM does not), they are read only for the
    # rows whose time, quantity, price and product repeat: the first hash leaves them out.
    scans = [json.dumps(n["extra_info"]) for n in _plan_nodes(lines.drop("description"))
             if n["name"] == "READ_PARQUET"]
    assert len(scans) == 3 and sum("Description" in scan for scan in scans) == 1
    # The one relation stored: the repeated hashes, which both joins read, ...
    (stored,) = (n for n in nodes if n["name"] == "CTE")
    names, node = [], stored["children"][0]
    while node["children"]:
        names.append(node["name"])
        node = node["children"][0]
    # ... found by sorting the first hash once (not once per join that reads it), each
    # next to the one before, not by counting every hash in a hash table.
    assert [n for n in names if n != "PROJECTION"][:3] == ["HASH_GROUP_BY", "FILTER", "WINDOW"]
    (window,) = (n for n in nodes if n["name"] == "WINDOW")
    assert "lag(_h1, 1" in json.dumps(window["extra_info"])
    assert not [g for g in groupings if g["extra_info"]["Groups"] == "#0"
                and "count_star()" in str(g["extra_info"].get("Aggregates"))]
    # ... and the wide grouping (customer, order, two hashes) fed by the semi join.
    (wide,) = (g for g in groupings if len(g["extra_info"]["Groups"]) == 4)
    node = wide["children"][0]
    while node["name"] == "PROJECTION":
        (node,) = node["children"]
    assert node["extra_info"].get("Join Type") == "SEMI"
    doubled = pd.read_parquet(path)
    attributed = doubled[doubled["CustomerID"].notna()]
    got = lines.to_pandas()
    assert got["_n"].sum() == len(attributed)
    assert len(got) == len(attributed.drop_duplicates())
