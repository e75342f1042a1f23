"""People tables: any format, header or none, any delimiter, an id column or none."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segwise.exceptions import InputError
from segwise.io import PERSON_ID, ReadOptions, infer_dictionary, load_source


def _frame(source: object) -> pd.DataFrame:
    return source.table.to_pandas()  # type: ignore[attr-defined]


def test_coil_has_no_header_and_no_id(shared_data: Path) -> None:
    source = load_source(shared_data / "coil2000-insurance" / "ticdata2000.txt.gz", "people")
    assert source.n_input == 5822 and source.n_quarantined == 0
    frame = _frame(source)
    assert list(frame.columns[:3]) == [PERSON_ID, "column_1", "column_2"]
    assert frame.shape == (5822, 87)
    # Ids are the 1-based rows of the file; the first line is data, not a header.
    assert frame[PERSON_ID].tolist()[:3] == ["1", "2", "3"]
    assert frame["column_1"].tolist()[:3] == ["33", "37", "37"]
    assert frame[PERSON_ID].is_unique


def test_adult_comma_space_separated_without_header(shared_data: Path) -> None:
    source = load_source(shared_data / "uci-adult" / "adult.data.gz", "people")
    frame = _frame(source)
    assert source.n_input == 32561 and len(frame) == 32561
    assert frame.shape[1] == 16
    first = frame.iloc[0]
    assert first["column_1"] == "39" and first["column_2"].strip() == "State-gov"


def test_customer_personality_takes_its_id_column(shared_data: Path) -> None:
    source = load_source(shared_data / "kaggle-customer-personality"
                         / "marketing_campaign.csv.gz", "people")
    assert source.roles[PERSON_ID] == "ID"
    frame = _frame(source)
    assert len(frame) == 2240 and "ID" not in frame.columns
    assert frame[PERSON_ID].iloc[0] == "5524" and frame["Income"].iloc[0] == "58138"


def test_header_setting_overrides_detection(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("age;region\n31;N\n45;S\n")
    detected = _frame(load_source(path, "people"))
    assert list(detected.columns) == [PERSON_ID, "age", "region"] and len(detected) == 2
    forced = _frame(load_source(path, "people", read=ReadOptions(header=False)))
    assert list(forced.columns) == [PERSON_ID, "column_1", "column_2"]
    assert forced["column_1"].tolist() == ["age", "31", "45"]


def test_unreadable_lines_keep_their_row_without_a_header(tmp_path: Path) -> None:
    lines = [f"{i},{i % 3}" for i in range(1, 60)]
    lines[9] = "10,1,extra,fields"
    path = tmp_path / "p.csv"
    path.write_text("\n".join(lines) + "\n")
    source = load_source(path, "people", read=ReadOptions(header=False))
    assert source.n_input == 59
    assert source.quarantine_table.column("row").to_pylist() == [10]
    frame = _frame(source)
    assert len(frame) == 58 and "10" not in set(frame[PERSON_ID])
    # Rows after the bad line keep their own number as their id.
    assert frame.loc[frame["column_1"] == "11", PERSON_ID].item() == "11"


def test_blank_ids_are_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("person_id,age\nA,30\n,41\n  ,50\nD,60\n")
    source = load_source(path, "people", read=ReadOptions(max_quarantine_share=1.0))
    assert source.quarantine_table.column("reason").to_pylist() == ["person_id: empty"] * 2
    assert _frame(source)[PERSON_ID].tolist() == ["A", "D"]


@pytest.mark.parametrize("with_id", [True, False])
def test_a_spreadsheets_blank_rows_are_said_kept_out_and_do_not_stop_a_small_file(
        shared_data: Path, tmp_path: Path, with_id: bool) -> None:
    # A spreadsheet's export of a customer file ends in rows of bare delimiters (;;;;).
    # With an id column they were quarantined as "person_id: empty" and their share
    # stopped a small file; without one they were kept as people with no value at all.
    frame = pd.read_csv(shared_data / "kaggle-customer-personality" / "marketing_campaign.csv.gz",
                        sep="\t", nrows=30)
    if not with_id:
        frame = frame.drop(columns="ID")
    path = tmp_path / "customers.csv"
    blank = ";" * (frame.shape[1] - 1)
    path.write_text(frame.to_csv(sep=";", index=False, lineterminator="\r\n")
                    + "\r\n".join([blank, " " + blank, blank]) + "\r\n")
    source = load_source(path, "people")
    assert source.n_input == 33 and source.table.count().execute() == 30
    assert source.quarantine_table.column("reason").to_pylist() == [
        "blank row: no value in any column read"] * 3
    assert source.quarantine_table.column("row").to_pylist() == [31, 32, 33]
    # A blank id beside attributes is no blank row: it counts against the share.
    path.write_text(frame.head(3).to_csv(sep=";", index=False).replace("\n5524;", "\n;")
                    + f"{blank}\n{blank}\n")
    if with_id:
        with pytest.raises(InputError, match=r"1 of 3 rows \(33%; 2 blank rows aside\) cannot "
                           r"be parsed; row 1: person_id: empty"):
            load_source(path, "people")
    else:
        assert load_source(path, "people").table.count().execute() == 3
    # Blank rows alone: a file without rows, not people to learn nothing from.
    path.write_text(frame.head(0).to_csv(sep=";", index=False) + f"{blank}\n{blank}\n")
    with pytest.raises(InputError, match="the file has no rows but 2 blank ones"):
        load_source(path, "people")
    # A typed file's row of nulls is a blank row too.
    pq.write_table(pa.table({"age": [31, None, 45], "band": ["x", None, "y"]}),
                   tmp_path / "p.parquet")
    source = load_source(tmp_path / "p.parquet", "people")
    assert _frame(source)["age"].tolist() == [31, 45] and source.n_quarantined == 1


@pytest.mark.parametrize("name", ["_n", "_reason"])
def test_a_column_named_like_the_loaders_own_is_refused_in_one_line(
        shared_data: Path, tmp_path: Path, name: str) -> None:
    # A people file with a column "_n" (an export's row counter) crashed with Ibis's
    # "Duplicate column name '_n'": the loader's count of the rows a row stands for.
    frame = pd.read_csv(shared_data / "kaggle-customer-personality" / "marketing_campaign.csv.gz",
                        sep="\t", nrows=30)
    frame.insert(1, name, range(1, 31))
    path = tmp_path / "customers.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match=rf"^{path}: column '{name}' has the name of a column "
                       r"segwise adds \(" + name + r"\)\. Fix: rename it"):
        load_source(path, "people")


def test_typed_files_without_id_number_rows_in_file_order(tmp_path: Path) -> None:
    table = pa.table({"age": list(range(100, 0, -1)), "band": ["x", "y"] * 50})
    path = tmp_path / "p.parquet"
    pq.write_table(table, path, row_group_size=7)
    frame = _frame(load_source(path, "people"))
    assert frame[PERSON_ID].tolist() == [str(i) for i in range(1, 101)]
    assert frame["age"].tolist() == list(range(100, 0, -1))


def test_excel_without_header(tmp_path: Path) -> None:
    path = tmp_path / "p.xlsx"
    pd.DataFrame([[1, "a"], [2, "b"]]).to_excel(path, header=False, index=False)
    frame = _frame(load_source(path, "people", read=ReadOptions(header=False)))
    assert list(frame.columns) == [PERSON_ID, "column_1", "column_2"]
    assert frame["column_2"].tolist() == ["a", "b"]


def test_orders_still_expect_a_header(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("1,2010-12-01 08:26:00,A,3,2.5,17850\n2,2010-12-01 08:27:00,B,1,1.0,17850\n")
    with pytest.raises(InputError, match="required column"):
        load_source(path, "orders")


def test_inferred_types_on_adult_say_why(shared_data: Path) -> None:
    source = load_source(shared_data / "uci-adult" / "adult.data.gz", "people")
    columns = [c for c in source.table.columns if c != PERSON_ID]
    inferred = infer_dictionary(source.table, columns)
    assert inferred.inferred
    assert inferred["column_1"].type == "numeric"          # age, 73 values
    assert inferred["column_2"].type == "categorical"      # workclass
    assert inferred["column_2"].missing == ("?",)
    assert "'?' read as unknown" in inferred["column_2"].note
    assert inferred["column_10"].type == "binary"          # sex
    assert set(inferred["column_10"].labels) == {"Female", "Male"}
    assert inferred["column_5"].type == "numeric"          # education-num: 16 levels
    table = inferred.table().to_pandas()
    assert len(table) == 15 and table["note"].str.startswith("inferred").all()


def test_inference_sets_aside_identifier_like_text(shared_data: Path) -> None:
    source = load_source(shared_data / "kaggle-customer-personality"
                         / "marketing_campaign.csv.gz", "people")
    inferred = infer_dictionary(source.table, [c for c in source.table.columns
                                               if c != PERSON_ID])
    assert "Dt_Customer" not in inferred
    assert dict(inferred.skipped)["Dt_Customer"].startswith("text with 663 distinct values")
    assert inferred["Kidhome"].type == "ordinal" and inferred["Response"].type == "binary"
    assert inferred["Marital_Status"].type == "categorical"
    assert set(inferred["Marital_Status"].labels) >= {"YOLO", "Absurd", "Alone"}
    rows = inferred.table().to_pandas()
    assert rows.loc[rows["attribute"] == "Dt_Customer", "type"].item() == "not used"


def test_a_column_blank_in_the_rows_sampled_only_is_read_from_the_rest(
        shared_data: Path, tmp_path: Path) -> None:
    # Customer Personality with the response recorded for the last 800 people only (those
    # mailed last), read with a sample of the first 1,000 rows: 'Response' and 'Income'
    # were 'blank in every row sampled', and not used; so the response could not be named
    # as the target, and every income was left out.
    frame = pd.read_csv(shared_data / "kaggle-customer-personality"
                        / "marketing_campaign.csv.gz", sep="\t", dtype=str)
    frame.loc[:len(frame) - 801, ["Response", "Income"]] = None
    frame["Never"] = None
    path = tmp_path / "late.csv"
    frame.to_csv(path, index=False)
    source = load_source(path, "people")
    inferred = infer_dictionary(source.table, ["Kidhome", "Response", "Income", "Never"],
                                sample_rows=1000)
    assert inferred["Response"].type == "binary" and inferred["Income"].type == "numeric"
    assert inferred["Response"].note == ("inferred binary: numbers, 2 distinct values (from "
                                         "the rows that have a value: blank in the first "
                                         "1,000)")
    assert inferred["Kidhome"].type == "ordinal"
    assert inferred.names == ["Kidhome", "Response", "Income"]
    assert dict(inferred.skipped) == {"Never": "blank in every row"}


def test_infinities_and_overflowing_numbers_are_unknown_not_a_crash(tmp_path: Path) -> None:
    """Exports write a division by zero as inf; 1e400 overflows a double."""
    path = tmp_path / "p.csv"
    income = ["52000", "inf", "-Infinity", "1e400", "61000.5", "1e300", "48000"] * 5
    pd.DataFrame({"id": range(35), "income": income, "kids": ["0", "1", "2", "inf", "1",
                                                               "0", "2"] * 5}).to_csv(
        path, index=False)
    source = load_source(path, "people")
    inferred = infer_dictionary(source.table, ["income", "kids"])
    assert inferred["income"].type == "numeric"
    assert inferred["income"].missing == ("-Infinity", "inf")
    assert inferred["kids"].type == "ordinal" and inferred["kids"].missing == ("inf",)


def test_amounts_in_accounting_or_currency_notation_are_inferred_and_typed_as_numbers(
        tmp_path: Path) -> None:
    # A balance written "(2.55)" or "£3.10" was text to the inference: a categorical of
    # its values, or a column left out; a declared numeric attribute read it already.
    from segwise._engine import fetch_arrow
    from segwise.clean import clean_people
    from segwise.config import SegwiseConfig

    balance = ["(2.55)", "£3.10", "12.5", "(£1200)", "7", "£(4)", "40", "1e2", "-3 €"] * 6
    flag = ["(1)", "£1"] * 27  # two amounts, not the codes of a binary
    path = tmp_path / "p.csv"
    pd.DataFrame({"id": range(len(balance)), "balance": balance, "flag": flag}).to_csv(
        path, index=False)
    source = load_source(path, "people")
    inferred = infer_dictionary(source.table, ["balance", "flag"])
    assert [inferred[c].type for c in ("balance", "flag")] == ["numeric", "numeric"]
    rows = fetch_arrow(clean_people(source, SegwiseConfig()).rows).to_pandas()
    rows = rows.sort_values(PERSON_ID, key=lambda ids: ids.astype(int))
    assert rows["balance"].tolist()[:9] == [-2.55, 3.1, 12.5, -1200, 7, -4, 40, 100, -3]
    assert rows["flag"].tolist()[:2] == [-1, 1]


def test_a_line_in_another_encoding_is_quarantined_with_the_fix(tmp_path: Path) -> None:
    # The sniffer that tells a header from data skips the line; the read quarantines it.
    # The file is UTF-8 (an accent of its own on line 10); line 6 is in Latin-1.
    lines = ["id,education,age"] + [f"{i},Graduate,{20 + i}" for i in range(1, 40)]
    lines[10] = "10,Graduación,30"
    data = "\n".join(lines).encode("utf-8") + b"\n"
    path = tmp_path / "p.csv"
    path.write_bytes(data.replace(b"6,Graduate,26", "6,Graduación,26".encode("latin-1")))
    source = load_source(path, "people")
    assert source.n_input == 39
    reasons = source.quarantine_table.column("reason").to_pylist()
    assert len(reasons) == 1 and 'pass read=ReadOptions(encoding="latin-1")' in reasons[0]
    assert sorted(_frame(source)[PERSON_ID], key=int) == [str(i) for i in range(1, 40) if i != 6]


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_spark_counts_values_that_are_not_numbers_as_duckdb_does(
        spark_available: None, shared_data: Path, tmp_path: Path, fmt: str) -> None:
    # A value that is no number is typed NaN, a blank NULL: Spark's results came back
    # through pandas, where the two are one, and "abc" was counted as blank there.
    # Accounting and currency notation ("(2.55)", "£3") are numbers on both engines.
    from segwise.jobs import run_population

    source = shared_data / "uci-wholesale-customers" / "wholesale_customers_data.csv.gz"
    frame = pd.read_csv(source, dtype=str)
    frame.insert(0, "customer_id", [f"c{i}" for i in range(len(frame))])
    frame.loc[:6, "Fresh"] = ["abc", "inf", "12e99", "1,5", "(2.55)", "£3", "(£1200)"]
    frame.loc[7:9, "Fresh"] = ""
    frame.loc[:2, "Channel"] = ["x", "", "7"]  # a code that is no number, a blank, unseen
    population = tmp_path / f"population.{fmt}"
    if fmt == "csv":
        frame.to_csv(population, index=False)
    else:
        frame.to_parquet(population, index=False)
    dictionary = tmp_path / "dictionary.csv"
    dictionary.write_text("attribute,type,code,label\nChannel,categorical,1,Horeca\n"
                          "Channel,,2,Retail\n" + "".join(
                              f"{c},numeric,,\n" for c in ["Fresh", "Milk", "Grocery",
                                                          "Frozen", "Detergents_Paper"]))
    counts = ["blank", "missing_code", "unseen_code", "not_a_number"]
    audits = {}
    for engine in ("duckdb", "spark"):
        result = run_population(population, population, dictionary=dictionary,
                                n_clusters=2, engine=engine)
        audits[engine] = (result.column_audit.set_index("column")[counts],
                          result.customer_projection.audit.set_index("column")[counts])
    for spark, duck in zip(audits["spark"], audits["duckdb"], strict=True):
        pd.testing.assert_frame_equal(spark, duck)
    audit = audits["duckdb"][0]
    assert audit.loc["Fresh", counts].tolist() == [3, 0, 0, 4]  # abc, inf, 12e99, 1,5
    assert audit.loc["Channel", ["blank", "unseen_code"]].tolist() == [1, 2]
