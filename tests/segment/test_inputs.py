"""segment_customers and EntityTable take any table: every library's, or a file of one."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from segwise._frames import table_label
from segwise.exceptions import InputError, SegwiseNote, SegwiseWarning
from segwise.features import EntityTable
from segwise.segment import segment_customers

MAKERS: dict[str, Callable[[pd.DataFrame, Path], Any]] = {
    "polars": lambda df, _: pl.from_pandas(df),
    "arrow": lambda df, _: pa.Table.from_pandas(df, preserve_index=False),
    "ibis": lambda df, _: ibis.memtable(df),
    "parquet path": lambda df, tmp: _written(df, tmp / "customers.parquet"),
    "csv path as str": lambda df, tmp: str(_written(df, tmp / "customers.csv")),
    "messy csv.gz": lambda df, tmp: _messy(df, tmp / "customers.csv.gz"),
    "excel": lambda df, tmp: _written(df, tmp / "customers.xlsx"),
    "json lines": lambda df, tmp: _written(df, tmp / "customers.jsonl"),
}


def _messy(frame: pd.DataFrame, path: Path) -> Path:
    """A spreadsheet export: semicolons, a BOM, CRLF and LF line endings mixed, gzip."""
    import gzip

    text = frame.to_csv(index=False, sep=";").replace("\n", "\r\n", len(frame) // 2)
    path.write_bytes(gzip.compress(b"\xef\xbb\xbf" + text.encode()))
    return path


def _fresh_share(wholesale: pd.DataFrame) -> pd.Series:
    """Each Wholesale client's spend on fresh food as a share of their whole spend."""
    spend = wholesale[["Fresh", "Milk", "Grocery", "Frozen", "Detergents_Paper", "Delicassen"]]
    return wholesale["Fresh"] / spend.sum(axis=1)


def _written(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".xlsx":
        frame.to_excel(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, date_format="iso")
    else:
        frame.to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def reference(retail_small: pd.DataFrame) -> pd.DataFrame:
    return segment_customers(retail_small, n_clusters=3, compare=None, embed=()).assignments


@pytest.mark.parametrize("make", MAKERS.values(), ids=MAKERS.keys())
def test_every_table_segments_like_the_pandas_frame(
    make: Callable[[pd.DataFrame, Path], Any], retail_small: pd.DataFrame,
    reference: pd.DataFrame, tmp_path: Path,
) -> None:
    seg = segment_customers(make(retail_small, tmp_path), n_clusters=3, compare=None, embed=())
    got = seg.assignments
    assert got["customer_id"].astype(str).tolist() == reference["customer_id"].tolist()
    assert got["segment"].tolist() == reference["segment"].tolist()
    assert got["segment_name"].tolist() == reference["segment_name"].tolist()
    assert seg.features == ["recency_days", "frequency", "monetary"]


def test_entity_table_from_any_table(retail_small: pd.DataFrame) -> None:
    for data in (pl.from_pandas(retail_small), ibis.memtable(retail_small),
                 retail_small.set_index("customer_id")):
        entities = EntityTable.from_frame(data, source="notebook")
        assert entities.schema.name == "rfm"  # the registered declaration, by its columns
        assert entities.n_entities == 600
        assert entities.table.column("customer_id").to_pylist() == (
            retail_small["customer_id"].tolist())


def test_a_frame_s_id_is_chosen_as_a_file_s_is(shared_data: Path) -> None:
    # EntityTable.from_frame took the first column as the id whatever it held: Wholesale
    # in memory was refused ("Channel 2 appears on several rows"), which its file segments.
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    entities = EntityTable.from_frame(frame)
    assert entities.id_col == "row" and entities.n_entities == 440
    assert "Channel" in entities.schema.cluster_features
    assert entities.notes and entities.notes[0].startswith(
        "no id column: none is named like one (id, customer_id, ...) and the first, Channel, "
        "repeats values; rows are numbered from 1")
    # An average spend first (unique by chance) is no id; a client number named so is.
    frame.insert(0, "avg_spend", frame["Fresh"] / 7 + np.arange(440) / 1000)
    frame.insert(1, "client_id", [f"C{i:03d}" for i in range(440)])
    entities = EntityTable.from_frame(frame)
    assert entities.id_col == "client_id" and "avg_spend" in entities.schema.cluster_features
    assert EntityTable.from_frame(frame, id_col="client_id").notes == ()


@pytest.mark.parametrize("source", ["s3://shop/exports/customers.csv", "./customers.csv"])
def test_a_frame_s_messages_name_its_source_as_given(shared_data: Path, source: str) -> None:
    # The label went through Path(...) to choose the id: "s3://shop/..." was named
    # "s3:/shop/..." and "./customers.csv" "customers.csv" in the refusal.
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    frame.insert(0, "customer_id", [f"C{i:03d}" for i in range(440)])
    frame.insert(1, "Customer ID", range(440))
    with pytest.raises(InputError) as caught:
        EntityTable.from_frame(frame, source=source)
    assert str(caught.value).startswith(f"{source}: columns 'customer_id' and 'Customer ID' "
                                        "could each be the person_id")


@pytest.mark.parametrize("given", ["frame", "csv", "parquet", "segment_customers"])
def test_the_fix_of_an_ambiguous_id_names_the_keyword_the_caller_has(
        shared_data: Path, tmp_path: Path, given: str) -> None:
    # The fix said columns={"person_id": "customer_id"}, which neither from_frame, read
    # nor segment_customers takes: following it was a TypeError. Now it names id_col=,
    # and following it works.
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    frame.insert(0, "customer_id", [f"C{i:03d}" for i in range(440)])
    frame.insert(1, "Customer ID", range(440))
    data: Any = frame
    if given in ("csv", "parquet"):
        data = _written(frame, tmp_path / f"customers.{given}")
    call: Callable[..., Any] = {
        "frame": EntityTable.from_frame, "csv": EntityTable.read, "parquet": EntityTable.read,
        "segment_customers": partial(segment_customers, n_clusters=3, compare=None, embed=()),
    }[given]
    with pytest.raises(InputError) as caught:
        call(data)
    assert str(caught.value).endswith('Fix: rename or drop the others, or pass '
                                      'id_col="customer_id"'), caught.value
    done = call(data, id_col="customer_id")
    ids = (done.table.column("customer_id").to_pylist() if isinstance(done, EntityTable)
           else done.assignments["customer_id"].tolist())
    assert ids[:2] == ["C000", "C001"] and len(ids) == 440


#: A table in memory as notebooks hold Wholesale Customers after ``pd.read_csv``.
NOTEBOOK_TABLES: dict[str, Callable[[pd.DataFrame], Any]] = {
    "pandas": lambda df: df,
    "pandas nullable": lambda df: df.convert_dtypes(),
    "pandas pyarrow": lambda df: df.convert_dtypes(dtype_backend="pyarrow"),
    "pandas categories": lambda df: df.astype({"Channel": "category", "Region": "category"}),
    "pandas text": lambda df: df.astype(str),
    "polars": pl.from_pandas,
    "arrow chunked": lambda df: pa.concat_tables(
        [pa.Table.from_pandas(df.iloc[i:i + 100], preserve_index=False)
         for i in range(0, len(df), 100)]),
    "ibis": ibis.memtable,
}


@pytest.fixture(scope="module")
def wholesale_from_file(shared_data: Path) -> Any:
    path = shared_data / "uci-wholesale-customers" / "wholesale_customers_data.csv.gz"
    with pytest.warns(SegwiseWarning):
        return segment_customers(path, n_clusters=3, compare=None, embed=())


@pytest.mark.parametrize("make", NOTEBOOK_TABLES.values(), ids=NOTEBOOK_TABLES.keys())
def test_a_table_in_memory_segments_as_its_file(
        shared_data: Path, wholesale_from_file: Any, make: Callable[[pd.DataFrame], Any]) -> None:
    # segment_customers(pd.read_csv(wholesale)) was refused ("no feature column
    # 'recency_days', 'frequency', 'monetary'"): a table in memory was taken for RFM
    # customers, while the file segmented on its numbers; a category column was an Arrow
    # traceback (count_distinct has no kernel for a dictionary).
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    source = make(frame)
    with pytest.warns(SegwiseWarning, match=rf"^{table_label(source)}: no id column: .* the "
                                            r"first, Channel, repeats values"):
        seg = segment_customers(source, n_clusters=3, compare=None, embed=())
    assert seg.features == wholesale_from_file.features
    pd.testing.assert_frame_equal(seg.assignments, wholesale_from_file.assignments)


def test_a_notebook_s_frame_is_read_as_a_file_is(shared_data: Path) -> None:
    # What a file read gives a DataFrame got too: an id by its name (an index included),
    # numbers written as text with 'n/a' among them, a spreadsheet's total row, repeated
    # ids refused; column names that are numbers (years) named as text.
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz").head(60)
    frame.index = pd.Index([f"W{i:03d}" for i in range(60)], name="client_id")
    frame["Milk"] = frame["Milk"].astype(object).where(frame.index != "W003", "n/a")
    total = frame.drop(columns="Milk").sum(numeric_only=True).rename("Total")
    spreadsheet = pd.concat([frame, total.to_frame().T.rename_axis("client_id")])
    with pytest.warns(SegwiseWarning) as said:
        seg = segment_customers(spreadsheet, features=["Fresh", "Milk", "Grocery"],
                                n_clusters=3, compare=None, embed=())
    notes = [str(w.message) for w in said]
    assert "pandas DataFrame: Milk: 1 value read as missing ('n/a' 1)" in notes
    assert any(n.startswith("pandas DataFrame: left out 1 summary row at the foot of the "
                            "table") for n in notes)
    assert seg.assignments["client_id"].tolist()[:2] == ["W000", "W001"]
    assert seg.left_out["client_id"].tolist() == ["W003"]
    assert len(seg.assignments) == 59  # 60 clients but the one without Milk; no total
    # A polars Enum and a list of text (string views inside): Arrow errors.
    tiers = pl.from_pandas(frame.drop(columns="Milk").reset_index()).with_columns(
        tier=pl.lit("gold").cast(pl.Enum(["gold", "silver"])), tags=pl.lit(["new", "web"]))
    by_tier = segment_customers(tiers, n_clusters=3, compare=None, embed=())
    assert not {"tier", "tags"} & set(by_tier.features)
    assert by_tier.assignments["client_id"].tolist()[:1] == ["W000"]
    years = frame.reset_index(drop=True).drop(columns="Milk")
    years.columns = range(2015, 2015 + years.shape[1])
    by_year = segment_customers(years, features=[2017, 2018], n_clusters=3, compare=None,
                                embed=())
    assert by_year.features == ["2017", "2018"]
    with pytest.raises(InputError, match=r"^pandas DataFrame: client_id 'W000' appears on "
                                         r"several rows \(2\)"):
        segment_customers(pd.concat([frame, frame.head(1)]), n_clusters=3, embed=())


def test_flags_with_gaps_come_back_as_nullable_booleans(tmp_path: Path) -> None:
    # A true/false column with a blank came back as an object column of True, False and
    # None, which no test of a flag (pandas' is_bool_dtype) recognises.
    path = tmp_path / "flags.csv"
    path.write_text("id,spend,flag\nA,1.5,true\nB,2.5,\nC,3.5,false\n")
    for source in (path, pd.read_csv(path)):
        frame = EntityTable.read(source).frame
        assert str(frame["flag"].dtype) == "boolean"
        assert frame["flag"].tolist() == [True, pd.NA, False]


@pytest.mark.parametrize("suffix", ["csv.gz", "parquet", "xlsx", "jsonl"])
def test_a_table_without_an_id_column_numbers_its_rows(shared_data: Path, tmp_path: Path,
                                                       suffix: str) -> None:
    # UCI Wholesale Customers: 440 clients, no id; its first column (Channel) repeats.
    # As Parquet the first column was taken as the id whatever it held: refused there
    # ("Channel 2 appears on several rows") and segmented as CSV.
    path = shared_data / "uci-wholesale-customers" / "wholesale_customers_data.csv.gz"
    if suffix != "csv.gz":
        path = _written(pd.read_csv(path), tmp_path / f"wholesale.{suffix}")
    entities = EntityTable.read(path)
    assert entities.id_col == "row" and entities.n_entities == 440
    assert entities.table.column("row").to_pylist()[:3] == ["1", "2", "3"]
    assert entities.table.column("Fresh").type == pa.int64()
    assert entities.schema.cluster_features == [
        "Channel", "Region", "Fresh", "Milk", "Grocery", "Frozen", "Detergents_Paper",
        "Delicassen"]
    seg = segment_customers(entities, n_clusters=3, compare=None, embed=())
    assert len(seg.assignments) == 440
    # A column of the table named row (a spreadsheet's line numbers, say) stays a column:
    # the rows were numbered under the same name, and Arrow refused the table (a
    # traceback: 'Field "row" exists 2 times in schema').
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    frame.insert(2, "row", np.arange(100, 540))
    entities = EntityTable.read(_written(frame, tmp_path / f"rows.{suffix.removesuffix('.gz')}"))
    assert entities.id_col == "row_number"
    assert entities.table.column("row").to_pylist()[:2] == [100, 101]
    assert "in a column 'row_number'" in entities.notes[0]


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_the_id_column_is_found_by_its_name_in_every_format(shared_data: Path, tmp_path: Path,
                                                            suffix: str) -> None:
    # Wholesale with a client id after its spend columns: the id by its name, not the
    # first column (Channel, which repeats), in Parquet as in CSV.
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    frame["Client ID"] = [f"W{i:04d}" for i in range(len(frame))]
    entities = EntityTable.read(_written(frame, tmp_path / f"wholesale.{suffix}"))
    assert entities.id_col == "Client ID" and entities.n_entities == 440
    assert entities.table.column("Client ID").to_pylist()[:2] == ["W0000", "W0001"]
    assert "Client ID" not in entities.schema.cluster_features
    assert "Channel" in entities.schema.cluster_features


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_first_column_that_is_a_measure_or_a_date_is_not_taken_as_the_id(
        shared_data: Path, tmp_path: Path, suffix: str) -> None:
    # Wholesale with each client's share of fresh food first: its values are distinct, so
    # it was taken as the id and silently left out of the segments (first-column
    # dates likewise). Numbers with decimals and dates are what a customer has, not who.
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    shares = {"fresh_share": _fresh_share(frame).round(6),
              "first_order": pd.Series(pd.Timestamp("2010-01-01")
                                             + pd.to_timedelta(frame.index, "D"))}
    for first, values in shares.items():
        assert values.is_unique
        table = _written(pd.concat([values.rename(first), frame], axis=1),
                         tmp_path / f"wholesale.{suffix}")
        entities = EntityTable.read(table)
        assert entities.id_col == "row" and entities.n_entities == 440
        assert entities.notes[0].startswith(f"no id column: none is named like one (id, "
                                            f"customer_id, ...) and the first, {first}, ")
        assert entities.notes[0].endswith("Fix: name the id column with id_col=")
        if first == "fresh_share":
            assert "holds numbers with decimals" in entities.notes[0]
            assert "fresh_share" in entities.schema.cluster_features
    # Text or whole numbers first, distinct: the id, and a note says which column it took;
    # whole numbers stored as floats (1000.0, as pandas writes a column that had a gap) too.
    frame.insert(0, "Kundennr", np.arange(1000, 1440).astype(float if suffix == "parquet"
                                                           else int))
    entities = EntityTable.read(_written(frame, tmp_path / f"numbered.{suffix}"))
    assert entities.id_col == "Kundennr"
    assert entities.table.column("Kundennr").to_pylist()[:2] == (
        [1000.0, 1001.0] if suffix == "parquet" else ["1000", "1001"])
    assert entities.notes == ("id column: Kundennr, the first column (no column is named "
                              "like an id, and its values are distinct). Fix: name another "
                              "with id_col=",)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_the_id_column_can_be_named(shared_data: Path, tmp_path: Path, suffix: str) -> None:
    # A customer number after Wholesale's first column (Channel, which repeats), under a
    # name no rule knows: it was clustered as an amount, and nothing could name it.
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    frame.insert(1, "Kundennr", np.arange(1000, 1440))
    path = _written(frame, tmp_path / f"numbered.{suffix}")
    entities = EntityTable.read(path, id_col="Kundennr")
    assert entities.id_col == "Kundennr" and entities.notes == ()
    assert "Kundennr" not in entities.schema.cluster_features
    assert "Channel" in entities.schema.cluster_features
    seg = segment_customers(path, id_col="Kundennr", n_clusters=3, compare=None, embed=())
    assert seg.assignments["Kundennr"].astype(str).tolist()[:2] == ["1000", "1001"]
    with pytest.raises(InputError, match=r"numbered\.\w+: no column 'Kundenr' to take as the "
                                         r"id \(columns: Channel, Kundennr, Region, "):
        EntityTable.read(path, id_col="Kundenr")
    with pytest.raises(InputError, match=r"Channel .* appears on several rows"):
        EntityTable.read(path, id_col="Channel")


PERSONALITY = ("kaggle-customer-personality", "marketing_campaign.csv.gz")
#: Spellings of a missing value as exports write them (the last a blank cell).
SPELLINGS = ("n/a", "NA", "N/A", "null", "-", "nan", "#N/A", " ")


@pytest.mark.parametrize("suffix", ["csv", "tsv.gz", "xlsx", "jsonl", "parquet"])
def test_missing_value_spellings_in_a_number_column_are_read_as_missing(
        shared_data: Path, tmp_path: Path, suffix: str) -> None:
    # Customer Personality with its 24 blank incomes written as n/a, NA, null, ...: one
    # such value made Income a text column, left out of the features with a note that
    # named only the column (and Excel blanked 'n/a' in text columns too). Parquet
    # (an export's text column) kept Income as text where the CSV read numbers.
    frame = pd.read_csv(shared_data.joinpath(*PERSONALITY), sep="\t")
    blank = frame["Income"].isna()
    frame = frame.astype({"Income": str if suffix == "parquet" else object,
                          "Marital_Status": object})
    frame.loc[blank, "Income"] = [SPELLINGS[i % len(SPELLINGS)] for i in range(blank.sum())]
    frame.loc[0, "Marital_Status"] = "n/a"  # in a column of text, a value like any other
    path = tmp_path / f"customers.{suffix}"
    if suffix == "tsv.gz":
        frame.to_csv(path, sep="\t", index=False)
    else:
        _written(frame, path)
    entities = EntityTable.read(path)
    income = entities.table.column("Income")
    assert income.type == pa.float64() and income.null_count == 24
    assert income.to_pylist()[:2] == [58138.0, 46344.0]
    assert "Income" in entities.schema.cluster_features
    assert entities.table.column("Marital_Status").to_pylist()[:2] == ["n/a", "Single"]
    # Excel keeps '#N/A' as an error cell, which reads as empty.
    written = [s for s in SPELLINGS[:-1] if suffix != "xlsx" or s != "#N/A"]
    counts = ", ".join(f"{s!r} 3" for s in sorted(written))
    assert entities.notes == (
        f"Income: {3 * len(written)} values read as missing ({counts})",)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_missing_spelling_does_not_hide_numbers_in_another_notation(
        shared_data: Path, tmp_path: Path, suffix: str) -> None:
    # Wholesale's Fresh written 12,669 with one 'n/a': the notation check saw a value that
    # was no number and let the column drop out as text.
    from segwise.io import ReadOptions

    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    frame["Fresh"] = frame["Fresh"].map(lambda v: f"{v:,}").astype(object)
    frame.loc[3, "Fresh"] = "n/a"
    path = _written(frame, tmp_path / f"wholesale.{suffix}")
    with pytest.raises(InputError, match=r"column 'Fresh' reads as text \('12,669'\): .*"
                                         r"or pass read=ReadOptions\(thousands=\",\"\)$"):
        EntityTable.read(path)
    fresh = EntityTable.read(path, read=ReadOptions(thousands=",")).table.column("Fresh")
    assert fresh.null_count == 1 and fresh.to_pylist()[:3] == [12669, 7057, 6353]
    # The fix the error gives works from segment_customers, for the file and the frame:
    # it took no read= (a TypeError for the fix as written).
    for source in (path, frame):
        seg = segment_customers(source, read=ReadOptions(thousands=","), n_clusters=3,
                                compare=None, embed=())
        assert "Fresh" in seg.features and len(seg.left_out) == 1


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_money_and_percentages_with_their_signs_are_numbers(
        shared_data: Path, tmp_path: Path, suffix: str) -> None:
    # A spreadsheet's export of Wholesale with currency- and percent-formatted cells
    # ($12,669.00, 12 669,00 €, (214.00 €) for a credit, 37.1%): the columns dropped out
    # of the segments as text, even with [read] thousands and decimal set.
    from segwise.io import ReadOptions

    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    share = (100 * _fresh_share(frame)).round(1)
    written = frame.astype({"Fresh": object, "Delicassen": object})
    written["Fresh"] = [f"${v:,.2f}" for v in frame["Fresh"]]
    written["Delicassen"] = [f"{v} €" for v in frame["Delicassen"]]
    written.loc[7, "Delicassen"] = "n/a"
    written["fresh_share"] = [f"{v}%" for v in share]
    written.loc[0, "fresh_share"] = "0"  # a plain number among percentages
    path = _written(written, tmp_path / f"export.{suffix}")
    with pytest.raises(InputError, match=r"column 'Fresh' reads as text \('12,669.00'\): .*"
                                         r"Fix: pass read=ReadOptions\(thousands=\",\"\)$"):
        EntityTable.read(path)
    entities = EntityTable.read(path, read=ReadOptions(thousands=","))
    table = entities.table
    assert table.column("Fresh").to_pylist() == frame["Fresh"].tolist()
    assert table.column("Delicassen").to_pylist()[6:9] == [frame["Delicassen"][6], None,
                                                           frame["Delicassen"][8]]
    assert table.column("fresh_share").to_pylist()[1:] == share.tolist()[1:]
    assert table.column("fresh_share").to_pylist()[0] == 0
    assert {"Fresh", "Delicassen", "fresh_share"} <= set(entities.schema.cluster_features)
    assert entities.notes[1:] == (
        "Fresh: numbers written with a currency sign read as numbers ('$12669.00' as "
        "12669.00)",
        "Delicassen: numbers written with a currency sign read as numbers ('1338 €' as 1338)",
        "Delicassen: 1 value read as missing ('n/a' 1)",
        "fresh_share: numbers written with a percent sign read as numbers ('21.2%' as 21.2)")
    # Decimal commas, and a credit in accounting parentheses: negative.
    written = frame.astype({"Milk": object})
    written["Milk"] = [f"{v:.2f} €".replace(".", ",") for v in frame["Milk"]]
    written.loc[5, "Milk"] = "(214,00 €)"
    path = _written(written, tmp_path / f"credits.{suffix}")
    milk = EntityTable.read(path, read=ReadOptions(decimal=",")).table.column("Milk")
    assert milk.to_pylist()[4:7] == [frame["Milk"][4], -214.0, frame["Milk"][6]]


def test_rows_with_a_missing_feature_are_left_out_filled_or_refused(
        shared_data: Path) -> None:
    # Customer Personality: 24 of 2,240 incomes are blank, and the run stopped.
    path = shared_data.joinpath(*PERSONALITY)
    entities = EntityTable.read(path)
    blank = entities.frame.loc[entities.frame["Income"].isna(), "ID"].tolist()
    features = ["Income", "MntWines", "MntMeatProducts", "Recency"]

    def run(missing: str) -> Any:
        return segment_customers(entities, features=features, n_clusters=3, compare=None,
                                 embed=(), missing=missing)

    dropped = run("drop")  # the default
    assert dropped.assignments["ID"].tolist() == segment_customers(
        entities, features=features, n_clusters=3, compare=None, embed=(),
    ).assignments["ID"].tolist()
    left = dropped.left_out
    assert len(dropped.assignments) + len(left) == 2240
    assert left["ID"].tolist() == blank and set(left["reason"]) == {"Income: missing"}
    assert left.columns.tolist() == ["ID", "reason", *features]
    assert left["MntWines"].dtype == "int64"  # the values as read, not as floats
    assert not dropped.imputed

    filled = run("median")
    assert len(filled.assignments) == 2240 and filled.left_out.empty
    assert filled.imputed == {"Income": 24}
    # The medians are part of the fitted model: a new customer without an income is
    # placed with the same median, as the 24 were.
    median = entities.frame["Income"].median()
    imputer = filled.segmenter.preprocessor_.named_steps["impute"]
    assert imputer.statistics_[0] == median == 51381.5
    rows = entities.frame[features].astype("float64")
    new = filled.segmenter.predict(rows[rows["Income"].isna()])
    assert new.tolist() == filled.assignments.loc[rows["Income"].isna(), "segment"].tolist()
    same = filled.segmenter.predict(rows.fillna({"Income": median}))
    assert same.tolist() == filled.assignments["segment"].tolist()

    with pytest.raises(InputError, match=rf"{path}: 24 row\(s\) have missing or infinite "
                                         r"values in Income \(ID 1994, 5255, 7281, \.\.\.\)\. "
                                         r"Fix: leave those rows out \(--missing drop\)"):
        run("refuse")


def test_an_infinite_feature_is_left_out_or_refused(retail_small: pd.DataFrame,
                                                    tmp_path: Path) -> None:
    # A division by zero in a typed table: no median stands in for it.
    frame = retail_small.copy()
    frame.loc[[3, 7], "monetary"] = [np.inf, np.nan]
    path = _written(frame, tmp_path / "customers.parquet")
    seg = segment_customers(path, n_clusters=3, compare=None, embed=())
    assert seg.left_out["reason"].tolist() == ["monetary: infinite", "monetary: missing"]
    assert seg.left_out["customer_id"].tolist() == frame.loc[[3, 7], "customer_id"].tolist()
    assert len(seg.assignments) == 598
    with pytest.raises(InputError, match=rf"{path}: 1 row\(s\) have infinite values in "
                                         rf"monetary \(customer_id "):
        segment_customers(path, n_clusters=3, compare=None, embed=(), missing="median")
    frame["monetary"] = np.nan
    with pytest.raises(InputError, match=r"feature column\(s\) monetary are missing in every "
                                         r"row.*Fix: leave them out of the features"):
        segment_customers(frame, n_clusters=3, compare=None, embed=(), missing="median")


def test_features_that_are_the_id_text_or_dates_are_refused(shared_data: Path) -> None:
    # Kaggle Customer Personality: ID, Education is text, Dt_Customer a date as text.
    path = shared_data / "kaggle-customer-personality" / "marketing_campaign.csv.gz"
    entities = EntityTable.read(path)
    for features, message in (
            (["ID", "Recency"], r"feature column 'ID' is the id column.*Fix: leave it out"),
            (["Education", "Recency"], r"feature column 'Education' is not a number column "
                                       r"\(ID 5524 has 'Graduation'\)\. Fix: leave it out"),
            (["Dt_Customer", "Recency"], r"feature column 'Dt_Customer' is not a number "
                                         r"column \(ID 5524 has '04-09-2012'\)")):
        with pytest.raises(Exception, match=rf"marketing_campaign\.csv\.gz: {message}"):
            segment_customers(entities, features=features, n_clusters=3, compare=None,
                              embed=())
    frame = entities.frame.assign(joined=pd.to_datetime(entities.frame["Dt_Customer"],
                                                        format="%d-%m-%Y"))
    with pytest.raises(Exception, match=r"'joined' is not a number column \(ID 5524 has "
                                        r"'2012-09-04 00:00:00'\)"):
        segment_customers(frame, id_col="ID", features=["joined", "Recency"], n_clusters=3,
                          compare=None, embed=())
    # A column named twice is one feature, not a doubled weight.
    twice = segment_customers(entities, features=["Recency", "MntWines", "Recency"],
                              n_clusters=3, compare=None, embed=())
    once = segment_customers(entities, features=["Recency", "MntWines"], n_clusters=3,
                             compare=None, embed=())
    assert twice.features == ["Recency", "MntWines"]
    assert twice.assignments["segment"].tolist() == once.assignments["segment"].tolist()


def test_huge_values_are_read_and_segmented(shared_data: Path, tmp_path: Path) -> None:
    # UCI Wholesale Customers with Fresh blown up to 1e300 for every 50th client: a whole
    # float too large for int64 stays a float, and the skew test does not overflow.
    source = shared_data / "uci-wholesale-customers" / "wholesale_customers_data.csv.gz"
    frame = pd.read_csv(source)
    frame["Fresh"] = frame["Fresh"].astype("float64")
    frame.loc[::50, "Fresh"] *= 1e300
    path = tmp_path / "customers.csv"
    frame.to_csv(path, index=False)
    entities = EntityTable.read(path)
    assert entities.table.column("Fresh").type == pa.float64()
    assert entities.table.column("Fresh").to_pylist()[0] == pytest.approx(12669e300)
    seg = segment_customers(entities, features=["Fresh", "Milk"], n_clusters=3,
                            compare=None, embed=())
    huge = seg.assignments["segment"].to_numpy()[::50]
    assert len(set(huge)) == 1  # the nine blown-up clients are a segment of their own
    assert (seg.assignments["segment"] == huge[0]).sum() == 9


@pytest.mark.parametrize(("algorithm", "found"), [("hdbscan", "no segment"),
                                                  ("dbscan", "one segment")])
def test_a_density_model_finding_no_segments_is_one_line(shared_data: Path, algorithm: str,
                                                         found: str) -> None:
    # 20 Wholesale clients: too sparse for a dense group. Every customer came back as
    # "Unusual customers" (HDBSCAN) or as one segment (DBSCAN), exit 0.
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz").head(20)
    with pytest.raises(Exception, match=rf"^pandas DataFrame: {algorithm} found {found} among "
                                        r"20 customers "
                                        r"\(\d+ set aside as noise\).*Fix: choose a model "
                                        "that takes k"):
        segment_customers(frame, features=["Fresh", "Milk", "Grocery"], algorithm=algorithm,
                          k_values=range(2, 4), compare=None, embed=())


def test_a_feature_of_one_value_is_said(shared_data: Path, tmp_path: Path) -> None:
    # Customer Personality's Z_CostContact (3) and Z_Revenue (11) are the same for every
    # customer: clustered, they weighed nothing and the profiles listed them as features.
    frame = pd.read_csv(shared_data / "kaggle-customer-personality"
                        / "marketing_campaign.csv.gz", sep="\t")
    columns = ["MntWines", "MntMeatProducts", "Recency", "Z_CostContact", "Z_Revenue"]
    with pytest.warns(UserWarning, match=r"Z_CostContact = 3, Z_Revenue = 11: the same for "
                                         r"all 2,240 customers, so no segment differs by "
                                         r"them\. Fix: leave them out of the features"):
        segment_customers(frame, features=columns, id_col="ID", n_clusters=3, compare=None,
                          embed=())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        segment_customers(frame, features=columns[:3], id_col="ID", n_clusters=3,
                          compare=None, embed=())
    assert not [w for w in caught if "the same for all" in str(w.message)]


def test_a_feature_of_one_value_in_a_jobs_own_set_gets_a_fix_the_user_can_follow(
        retail_customers: pd.DataFrame) -> None:
    # `segwise rfm` clusters its own features; "leave it out of the features" asked for
    # what the command has no option for.
    one_order = retail_customers.assign(frequency=1)
    with pytest.warns(UserWarning, match=r"frequency = 1: the same for all 4,333 customers, "
                                         r"so no segment differs by it\. It weighs nothing "
                                         r"in the segments\. Fix: to cluster on other "
                                         r"features, write the customers table \(-o\) and "
                                         r"run segwise segment --features on it$"):
        segment_customers(one_order, n_clusters=3, compare=None, embed=())


def test_a_density_model_compared_with_nothing_sweeps_no_k(shared_data: Path) -> None:
    # HDBSCAN finds its own number of segments: with nothing compared at a k, the sweep
    # ran all the same, printed a 'Recommended k' no model used, and cost the most time.
    path = shared_data / "uci-wholesale-customers" / "wholesale_customers_data.csv.gz"
    steps: list[str] = []
    seg = segment_customers(EntityTable.read(path), algorithm="hdbscan", compare=None,
                            embed=(), progress=steps.append)
    assert seg.sweep is None and not [s for s in steps if s.startswith("sweep")]
    assert len(seg.assignments) == 440
    # Compared with kmeans, the k of the comparison is swept as before.
    seg = segment_customers(EntityTable.read(path), algorithm="hdbscan", compare=["kmeans"],
                            embed=(), k_values=range(2, 4))
    assert seg.sweep is not None


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_written_table_s_text_features_of_numbers_stay_text(tmp_path: Path,
                                                              suffix: str) -> None:
    # An rfe table whose categories (and devices) are numeric ids, "3" and "17", written
    # and read back: typed as numbers, they were refused as "column category is int64,
    # declared text".
    from segwise.features import feature_sets

    schema = feature_sets()["rfe"]
    rng = np.random.default_rng(0)
    columns: dict[str, Any] = {schema.id_col: [f"u{i}" for i in range(20)]}
    for f in schema.features:
        columns[f.name] = {"text": [str(v) for v in rng.integers(1, 30, 20)],
                           "timestamp": [pd.Timestamp("2024-01-01")] * 20,
                           "integer": rng.integers(0, 9, 20)}.get(f.type, rng.random(20))
    path = _written(pd.DataFrame(columns), tmp_path / f"rfe.{suffix}")
    entities = EntityTable.read(path)
    assert entities.schema is schema
    assert entities.table.column("category").to_pylist() == columns["category"]
    assert entities.table.column("clicks").type == pa.int64()


def test_a_table_of_flags_is_told_how_to_cluster_them(tmp_path: Path) -> None:
    # Purchases per category as TRUE/FALSE (a survey's or a one-hot export): "no numeric
    # column", with a fix to name features, as if there were none to name.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.random((60, 3)) < 0.3, columns=["wine", "meat", "web"])
    frame.insert(0, "customer_id", [f"c{i}" for i in range(60)])
    path = _written(frame, tmp_path / "flags.csv")
    with pytest.raises(InputError, match=r"flags\.csv: no numeric column to segment on .*Fix: "
                                         r'name them with features=\("wine", "meat", "web"\)'):
        segment_customers(path, embed=())
    seg = segment_customers(path, features=["wine", "meat", "web"], n_clusters=3,
                            compare=None, embed=())
    assert len(seg.assignments) == 60


def test_a_job_that_clusters_on_none_of_its_features_says_so(shared_data: Path,
                                                            tmp_path: Path) -> None:
    # The people job keeps attributes in their own units and codes, none declared to
    # cluster on: `segwise report --job people` noted "no numeric column to segment on
    # (columns: ..., Income, MntWines, ...)", listing the numbers it said were not there.
    from segwise.jobs import run_job

    frame = pd.read_csv(shared_data / "kaggle-customer-personality"
                        / "marketing_campaign.csv.gz", sep="\t", nrows=200)
    people = run_job("people", _written(frame, tmp_path / "people.csv")).entities
    with pytest.raises(InputError) as info:
        segment_customers(people, embed=())
    said = str(info.value)
    assert said.startswith(f"{tmp_path / 'people.csv'}: the people features are not "
                           "clustered as they are (none is declared to cluster on; its "
                           "numbers: Year_Birth, Income, Recency, MntWines, ")
    assert "no numeric column" not in said
    assert said.endswith("Fix: name the features to cluster on with features=")
    # As the fix says, with the features named (the same rows as a table, too).
    assert segment_customers(people, features=["Income", "MntWines"], n_clusters=3,
                             compare=None, embed=()).segmenter.n_clusters_ == 3
    seg = segment_customers(tmp_path / "people.csv", features=["Income", "MntWines"],
                            n_clusters=3, compare=None, embed=(), missing="drop")
    assert len(seg.assignments) == frame["Income"].notna().sum()


def test_repeated_ids_say_how_many_and_what_the_rows_look_like(shared_data: Path,
                                                               tmp_path: Path) -> None:
    # Order lines given as an entity table, and a customer exported twice: both were
    # "appears on several rows. Fix: aggregate the rows first", with no word that the
    # first is what segwise aggregates itself.
    lines = pd.read_csv(shared_data / "uci-online-retail" / "online_retail.csv.gz",
                        nrows=3000, dtype=str).dropna(subset=["CustomerID"])
    with pytest.raises(InputError, match=r"CustomerID '17850' appears on several rows "
                                         r"\(\d+\); \d+ other id\(s\) repeat too; .*Fix: they "
                                         r"look like order lines or events.*without "
                                         r"--customers"):
        EntityTable.read(_written(lines, tmp_path / "lines.csv"))
    people = pd.read_csv(shared_data.joinpath(*PERSONALITY), sep="\t")
    twice = pd.concat([people, people.iloc[[5]]])
    with pytest.raises(InputError, match=r"ID '7446' appears on several rows \(2\); an entity "
                                         r"table has one row per entity\. Fix: remove the "
                                         r"repeated rows, or aggregate them first"):
        EntityTable.read(_written(twice, tmp_path / "twice.csv"))



def test_a_file_segmented_by_path_says_what_reading_changed(shared_data: Path,
                                                            tmp_path: Path) -> None:
    # segment_customers("customers.csv") read the file and dropped its notes and its
    # quarantine: rows without an id left out, 'n/a' read as missing, the id chosen, all
    # in silence (the CLI, which reads the table itself, said them).
    frame = pd.read_csv(shared_data.joinpath(*PERSONALITY), sep="\t")
    frame = frame.astype({"ID": object, "Income": object})
    blank = frame["Income"].isna()
    frame.loc[blank, "Income"] = "n/a"
    frame.loc[frame.index[~blank][[3, 10]], "ID"] = ""
    path = _written(frame, tmp_path / "customers.csv")
    with pytest.warns(SegwiseWarning) as caught:
        seg = segment_customers(path, features=["Income", "MntWines"], n_clusters=3,
                                compare=None, embed=())
    said = [str(w.message) for w in caught]
    assert f"{path}: 2 of 2,240 rows could not be parsed and are left out (first: row 4, " \
           "ID: empty)" in said
    assert f"{path}: Income: 24 values read as missing ('n/a' 24)" in said
    assert len(seg.assignments) + len(seg.left_out) == 2238


@pytest.mark.parametrize("given", ["pandas", "path", "entity table"])
def test_columns_left_out_as_not_numbers_are_named_from_python(shared_data: Path,
                                                              given: str) -> None:
    # The CLI named the columns segwise does not cluster (text, dates, flags); from Python
    # segment_customers said nothing: Customer Personality's Education and Marital_Status
    # dropped out in silence. One note for both, as a SegwiseNote (a SegwiseWarning).
    path = shared_data.joinpath(*PERSONALITY)
    data = {"pandas": lambda: pd.read_csv(path, sep="\t"), "path": lambda: path,
            "entity table": lambda: EntityTable.read(path)}[given]()
    source = "pandas DataFrame" if given == "pandas" else str(path)
    with pytest.warns(SegwiseWarning) as caught:
        segment_customers(data, n_clusters=3, compare=None, embed=())
    notes = [w for w in caught if "not clustered" in str(w.message)]
    assert [w.category for w in notes] == [SegwiseNote]
    assert [str(w.message) for w in notes] == [
        f"{source}: not clustered (not number columns): Education, Marital_Status "
        "(categories: each segment's most common value and its share are in the profiles), "
        "Dt_Customer (text). Fix: name the columns to cluster with features="]
    with warnings.catch_warnings(record=True) as named:
        warnings.simplefilter("always")
        segment_customers(data, features=["Income", "MntWines"], n_clusters=3,
                          compare=None, embed=())
    assert not [w for w in named if "not clustered" in str(w.message)]


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_spreadsheet_s_total_and_average_rows_are_no_customers(
        shared_data: Path, tmp_path: Path, suffix: str) -> None:
    # Wholesale exported from a sheet with a Total and an Average row under the clients
    # (codes left blank there): the total was segmented as the largest client, and it
    # doubled every mean of the profiles.
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    frame.insert(0, "Client", [f"W{i:03d}" for i in range(len(frame))])
    spend = list(frame.columns[3:])
    foot = pd.DataFrame({"Client": ["Total", "Average"],
                         **{c: [frame[c].sum(), round(frame[c].mean(), 2)] for c in spend}})
    path = _written(pd.concat([frame, foot], ignore_index=True),
                    tmp_path / f"sheet.{suffix}")
    entities = EntityTable.read(path)
    assert entities.n_entities == 440
    assert entities.table.column("Client").to_pylist()[-1] == "W439"
    assert entities.notes[-1] == (
        "left out 2 summary rows at the foot of the table, as a spreadsheet adds them: "
        "Client 'Total' (row 441: each number its column's total over the rows above); "
        "Client 'Average' (row 442: each number its column's average over the rows above)")
    seg = segment_customers(entities, features=spend, n_clusters=3, compare=None, embed=())
    assert seg.profiles["customers"].sum() == 440
    weighted = (seg.profiles["Fresh_mean"] * seg.profiles["customers"]).sum() / 440
    assert weighted == pytest.approx(frame["Fresh"].mean())
    # Rows that only look alike are customers: the largest client is no total.
    entities = EntityTable.read(_written(frame, tmp_path / f"plain.{suffix}"))
    assert entities.n_entities == 440 and not any("summary" in n for n in entities.notes)
