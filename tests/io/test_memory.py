"""Tables in memory as sources: every library's table reads like the file of the same rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from segwise._frames import is_table, table_label, to_arrow, to_pandas
from segwise.exceptions import ConfigError, InputError
from segwise.io import (
    Transactions,
    load_source,
    load_transactions,
    name_columns,
    read_coil_dictionary,
)
from segwise.jobs import run_rfm


def _canonical(tx: Transactions) -> pd.DataFrame:
    df = tx.table.to_pandas()
    return df.sort_values(list(df.columns), ignore_index=True)


@pytest.fixture(scope="module")
def typed_sample(retail_sample: pd.DataFrame) -> pd.DataFrame:
    """2,000 Online Retail lines with the types a notebook has: numbers and datetimes."""
    sample = retail_sample.head(2000)
    return sample.assign(
        Quantity=sample["Quantity"].astype("int64"),
        UnitPrice=sample["UnitPrice"].astype("float64"),
        InvoiceDate=pd.to_datetime(sample["InvoiceDate"]),
        CustomerID=sample["CustomerID"].replace("", None),
    )


@pytest.fixture(scope="module")
def from_file(typed_sample: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("memory") / "sample.parquet"
    typed_sample.to_parquet(path, index=False)
    return load_transactions(path)


TABLES: dict[str, Callable[[pd.DataFrame], Any]] = {
    "pandas DataFrame": lambda df: df,
    "polars DataFrame": pl.from_pandas,
    "polars LazyFrame": lambda df: pl.from_pandas(df).lazy(),
    "Arrow table": lambda df: pa.Table.from_pandas(df, preserve_index=False),
    "Arrow record batch": lambda df: pa.RecordBatch.from_pandas(df, preserve_index=False),
    "Ibis memtable": ibis.memtable,
    "Ibis table on DuckDB": lambda df: _duckdb_table(df),
}


def _duckdb_table(frame: pd.DataFrame) -> Any:
    """A table of another DuckDB database than the job's, as a user's Ibis session has."""
    con = ibis.duckdb.connect()
    con.con.register("frame", frame)
    con.con.execute("CREATE TABLE orders AS SELECT * FROM frame")
    return con.table("orders").filter(ibis._.Quantity.notnull())


@pytest.mark.parametrize("make", TABLES.values(), ids=TABLES.keys())
def test_every_table_in_memory_loads_like_the_file(
    make: Callable[[pd.DataFrame], Any], typed_sample: pd.DataFrame, from_file: Any
) -> None:
    source = make(typed_sample)
    assert is_table(source)
    tx = load_transactions(source)
    assert tx.n_input == from_file.n_input == 2000
    assert tx.n_quarantined == 0
    assert tx.source == table_label(source)
    assert tx.roles == from_file.roles
    pd.testing.assert_frame_equal(_canonical(tx), _canonical(from_file))


def test_text_columns_parse_and_bad_rows_are_quarantined_with_their_row(
    retail_sample: pd.DataFrame,
) -> None:
    # Text as it comes from a CSV read with dtype=str: parsed like CSV fields.
    frame = retail_sample.head(1000).copy()
    frame.loc[10, "InvoiceDate"] = "yesterday"
    frame.loc[20, "Quantity"] = "six"
    tx = load_transactions(frame)
    assert tx.source == "pandas DataFrame"
    assert tx.n_input == 1000 and tx.n_quarantined == 2
    q = tx.quarantine
    assert q["row"].tolist() == [11, 21]  # 1-based rows of the table, in its order
    assert q["reason"].tolist() == ["InvoiceDate: not a timestamp", "Quantity: not a number"]
    assert q.loc[1, "Quantity"] == "six"


def test_a_job_on_a_dataframe_reconciles_and_matches_the_file(
    typed_sample: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "sample.parquet"
    typed_sample.to_parquet(path, index=False)
    frame = typed_sample.copy()
    frame["UnitPrice"] = frame["UnitPrice"].astype(object)
    frame.loc[3, "UnitPrice"] = "n/a"  # a mixed column: numbers and text
    in_memory, on_disk = run_rfm(frame), run_rfm(path)
    audit = in_memory.audit.set_index("step")["rows"]
    assert audit.sum() == 2000  # rows in = kept + every rejection step
    assert audit["quarantined"] == 1
    assert in_memory.quarantine.loc[0, "row"] == 4
    assert in_memory.entities.source == "pandas DataFrame"
    assert in_memory.entities.fingerprint is None  # no file to identify
    assert on_disk.entities.fingerprint is not None
    # The quarantined line belongs to a customer who bought other lines too, or not.
    mine = in_memory.customers.set_index("customer_id")
    theirs = on_disk.customers.set_index("customer_id")
    line = typed_sample.loc[3]
    changed = str(line["CustomerID"]) if line["CustomerID"] else None
    same = [c for c in theirs.index if c != changed]
    pd.testing.assert_frame_equal(mine.loc[same, ["frequency", "monetary", "recency_days"]],
                                  theirs.loc[same, ["frequency", "monetary", "recency_days"]])


def test_pandas_dtypes_of_a_notebook_load_like_plain_ones(
    typed_sample: pd.DataFrame, from_file: Any
) -> None:
    # A period column reached the reader as its ordinal ('21274'): every row was refused.
    minutes = typed_sample["InvoiceDate"].dt.to_period("min")
    dtypes = typed_sample.assign(
        InvoiceDate=minutes,
        Quantity=typed_sample["Quantity"].astype("Int64"),
        UnitPrice=typed_sample["UnitPrice"].astype("Float64"),
        Country=typed_sample["Country"].astype("category"),
    ).set_index("InvoiceDate")  # a PeriodIndex, named: a column too
    tx = load_transactions(dtypes)
    assert tx.n_input == 2000 and tx.n_quarantined == 0
    pd.testing.assert_frame_equal(_canonical(tx), _canonical(from_file))
    # A month is the time it starts.
    months = load_transactions(typed_sample.assign(
        InvoiceDate=typed_sample["InvoiceDate"].dt.to_period("M")))
    assert set(months.table.ts.execute()) == {pd.Timestamp("2010-12-01")}


def test_sparse_binned_and_unreadable_columns_of_a_notebook(
    typed_sample: pd.DataFrame, from_file: Any
) -> None:
    # get_dummies(sparse=True)'s columns and pd.cut's bins were Arrow tracebacks ("Sparse
    # pandas data (column Quantity) not supported"); a column Arrow cannot hold is named.
    frame = typed_sample.assign(
        Quantity=pd.arrays.SparseArray(typed_sample["Quantity"].to_numpy(), fill_value=0),
        band=pd.cut(typed_sample["UnitPrice"], 3))
    tx = load_transactions(frame)
    assert tx.n_input == 2000 and tx.n_quarantined == 0
    pd.testing.assert_frame_equal(_canonical(tx), _canonical(from_file))
    with pytest.raises(InputError, match=r"^pandas DataFrame: column z \(complex128\) cannot "
                                         r"be read \(.*\)\. Fix: convert it to numbers, text or "
                                         r"times, or drop it$"):
        load_transactions(typed_sample.assign(z=typed_sample["UnitPrice"].astype(complex)))


def test_half_floats_and_wide_decimals_load_like_plain_numbers(
    typed_sample: pd.DataFrame, from_file: Any
) -> None:
    # A notebook's memory-saving downcast (float16, as Kaggle's reduce_mem_usage makes) and
    # a warehouse's 256-bit decimals (BigQuery's BIGNUMERIC): DuckDB's traceback,
    # "Unsupported Internal Arrow Type".
    assert typed_sample["Quantity"].abs().max() <= 2048  # whole numbers float16 holds
    half = typed_sample.assign(Quantity=typed_sample["Quantity"].astype("float16"))
    table = pa.Table.from_pandas(typed_sample, preserve_index=False)
    prices = pa.array([Decimal(str(v)) for v in typed_sample["UnitPrice"]],
                      pa.decimal256(20, 3))
    wide = table.set_column(table.column_names.index("UnitPrice"), "UnitPrice", prices)
    wider = wide.cast(wide.schema.set(wide.column_names.index("UnitPrice"),
                                      pa.field("UnitPrice", pa.decimal256(60, 3))))
    for source in (half, pl.from_pandas(half), wide, wider):
        tx = load_transactions(source)
        assert tx.n_input == 2000 and tx.n_quarantined == 0
        pd.testing.assert_frame_equal(_canonical(tx), _canonical(from_file))


def test_columns_pandas_numbers_are_named_as_a_headerless_file_s(
    shared_data: Path, tmp_path: Path
) -> None:
    # CoIL read with header=None: its columns 0..85 became '0'..'85', which no dictionary
    # position named ("none of the 86 dictionary attributes is a column", and a fix for
    # a file's header), while the same file's were column_1..column_86.
    folder = shared_data / "coil2000-insurance"
    frame = pd.read_csv(folder / "ticdata2000.txt.gz", sep="\t", header=None, nrows=300)
    path = tmp_path / "coil.tsv"
    frame.to_csv(path, sep="\t", header=False, index=False)
    in_memory = load_source(frame, "people")
    assert in_memory.table.columns == load_source(path, "people").table.columns
    named = name_columns(in_memory.table, read_coil_dictionary(folder / "dictionary.txt"))
    assert named.columns[:3] == ("person_id", "MOSTYPE", "MAANTHUI")
    # Order lines of a headerless export are mapped as the file's columns are.
    lines = pd.DataFrame([["536365", "2010-12-01 08:26", "17850", 6, 2.55]])
    tx = load_transactions(lines, columns={"order_id": "column_1", "timestamp": "column_2",
                                           "customer_id": "column_3", "quantity": "column_4",
                                           "unit_price": "column_5"})
    assert tx.n_input == 1 and tx.n_quarantined == 0


def test_a_named_index_is_a_column_and_an_unnamed_one_is_not(
    typed_sample: pd.DataFrame,
) -> None:
    indexed = typed_sample.set_index("CustomerID")
    assert load_transactions(indexed).roles.customer_id == "CustomerID"
    # Indexed by a column it keeps (drop=False): pandas' "cannot insert CustomerID, already
    # exists" traceback.
    kept = typed_sample.set_index(["CustomerID", "InvoiceDate"], drop=False)
    pd.testing.assert_frame_equal(_canonical(load_transactions(kept)),
                                  _canonical(load_transactions(typed_sample)))
    other = typed_sample.set_index("CustomerID", drop=False).assign(CustomerID="12345")
    with pytest.raises(InputError, match=r"^pandas DataFrame: the index CustomerID and the "
                                         r"column CustomerID hold different values\. Fix"):
        load_transactions(other)
    shuffled = typed_sample.sample(frac=1.0, random_state=0)  # an index of row labels
    assert to_arrow(shuffled).column_names == list(typed_sample.columns)
    tx = load_transactions(shuffled)
    assert tx.quarantine.empty and tx.n_input == 2000


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (pd.DataFrame({"CustomerID": ["1"], "Price": [1.0]}),
         r"^pandas DataFrame: required column for timestamp, quantity"),
        (pd.DataFrame({"CustomerID": [], "InvoiceDate": [], "Amount": []}),
         r"^pandas DataFrame: the table has no rows"),
        (pl.DataFrame({"_row": [1], "CustomerID": ["1"]}),
         r"^polars DataFrame: column '_row' has the name of a column segwise adds"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]),
         r"^pandas DataFrame: column name\(s\) a appear more than once"),
        (42, r"^cannot read a int\. Fix: give a file path, a pandas or polars DataFrame"),
        # groupby().agg() of two functions: its names were tuples no role matched.
        (pd.DataFrame({"CustomerID": ["1", "1"], "Quantity": [2, 3]}).groupby(
            "CustomerID").agg({"Quantity": ["sum", "count"]}),
         r"^pandas DataFrame: its column names have 2 levels \(such as \('Quantity', 'sum'\)"
         r"\); segwise reads one name per column\. Fix: flatten them first: df\.columns = "),
    ],
)
def test_bad_tables_get_one_line_naming_the_table(source: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_transactions(source)


def test_a_config_mapping_names_the_table(typed_sample: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match=r"^pandas DataFrame: columns= maps customer_id"):
        load_transactions(typed_sample, columns={"customer_id": "Client"})


def test_to_pandas_keeps_a_pandas_frame_and_converts_the_others(
    typed_sample: pd.DataFrame,
) -> None:
    assert to_pandas(typed_sample) is typed_sample
    for make in TABLES.values():
        frame = to_pandas(make(typed_sample.head(50)))
        assert list(frame.columns) == list(typed_sample.columns)
        assert frame["Quantity"].tolist() == typed_sample["Quantity"].head(50).tolist()


def test_a_notebook_s_as_of_text_and_a_wrong_engine(typed_sample: pd.DataFrame) -> None:
    # as_of="2010-12-03" ended in "can only concatenate str (not timedelta) to str", and
    # engine="sqlite" ran on DuckDB without a word.
    by_text = run_rfm(typed_sample, as_of="2010-12-03")
    by_date = run_rfm(typed_sample, as_of=dt.date(2010, 12, 3))
    assert by_text.as_of == dt.date(2010, 12, 3)
    pd.testing.assert_frame_equal(by_text.customers, by_date.customers)
    assert load_source(typed_sample, "orders", as_of="2010-12-01").n_after_as_of == (
        typed_sample["InvoiceDate"] >= pd.Timestamp("2010-12-02")).sum()
    with pytest.raises(ConfigError, match=r"^as_of '3/12/2010' is not a date written as"):
        run_rfm(typed_sample, as_of="3/12/2010")
    # A number was nanoseconds since 1970 to pandas: every line after 1970-01-01.
    with pytest.raises(ConfigError, match=r"^as_of 20101203 is a number, not a date\. Fix: "
                                          r"write it as YYYY-MM-DD, e\.g\. '2010-12-03'$"):
        run_rfm(typed_sample, as_of=20101203)
    with pytest.raises(ConfigError, match=r"^unknown engine 'sqlite': choose one of duckdb, spark"):
        run_rfm(typed_sample, engine="sqlite")


def test_results_show_their_counts_in_a_notebook(typed_sample: pd.DataFrame) -> None:
    # Their repr printed every column of every table: screens of Arrow dumps.
    from segwise.segment import segment_customers

    result = run_rfm(typed_sample)
    n = len(result.customers)
    segments = result.customers["segment"].nunique()
    kept = result.audit.set_index("step").loc["kept", "rows"]
    assert repr(result) == (
        f"RFMResult({n:,} customer(s), {segments} segments from 'pandas DataFrame', "
        f"as_of={result.as_of}; rows in 2,000, kept {kept:,}, quarantined 0)")
    assert repr(result.entities) == (
        f"EntityTable('rfm', {n:,} customer(s) x {len(result.customers.columns)} columns, "
        f"source='pandas DataFrame', as_of={result.as_of})")
    seg = segment_customers(result.entities, n_clusters=2, compare=None, embed=(), random_state=0)
    shown = repr(seg)
    assert shown.startswith(f"Segmentation(k=2, {n:,} rows segmented, 0 left out, "
                            "features=['recency_days', 'frequency', 'monetary'], segments={")
    assert "\n" not in shown and len(shown) < 300
    # The loaded and cleaned rows of every kind printed their tables' expressions.
    from segwise.clean import clean_events, clean_transactions

    source = load_source(typed_sample, "orders", as_of="2010-11-30")
    after = source.n_after_as_of
    assert after > 0
    assert repr(source) == (f"Transactions(source='pandas DataFrame'; rows in 2,000, "
                            f"quarantined 0, after_as_of {after:,}, kind 'orders' x 9 columns)")
    assert repr(clean_transactions(source)) == (
        f"CleanedLines(source='pandas DataFrame'; rows in 2,000, quarantined 0, "
        f"after_as_of {after:,})")
    events = pd.DataFrame({"user_id": ["u1", "u2"], "event": ["view", "search"],
                           "timestamp": pd.to_datetime(["2024-03-04 09:00", "2024-03-05 10:00"])})
    assert repr(clean_events(load_source(events, "events"))) == (
        "CleanedEvents(source='pandas DataFrame'; rows in 2, quarantined 0, "
        "rules: clock_error; exact copies merged)")
    # People's cleaned rows had no source to show (only events' kept one).
    from segwise.clean import clean_people
    from segwise.config import SegwiseConfig

    people = pd.DataFrame({"person_id": ["p1", "p2", "p3"], "age": [31, 45, 52]})
    assert repr(clean_people(load_source(people, "people"), SegwiseConfig())) == (
        "CleanedPeople(source='pandas DataFrame'; rows in 3, quarantined 0, "
        "rules: repeated_id; exact copies merged)")


def test_segwise_warnings_can_be_filtered_as_segwise_s(typed_sample: pd.DataFrame) -> None:
    # They were plain UserWarnings: silencing segwise silenced every library's warnings.
    import warnings

    from segwise.exceptions import SegwiseWarning

    with pytest.warns(SegwiseWarning, match="quantile bins collapse"):
        run_rfm(typed_sample.head(40))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=SegwiseWarning)
        with pytest.raises(SegwiseWarning, match="quantile bins collapse"):
            run_rfm(typed_sample.head(40))
