"""JSON as exports have it: nested records, and lines among the records that are not JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from segwise.exceptions import InputError
from segwise.io import ReadOptions, load_transactions

ORDER = ["customer_id", "order_id", "product_id", "ts", "quantity", "unit_price"]


@pytest.fixture(scope="module")
def records(retail_sample: pd.DataFrame) -> list[dict[str, str]]:
    """300 Online Retail lines with a customer id, as JSON records."""
    rows = retail_sample[retail_sample["CustomerID"] != ""].head(300)
    return rows.to_dict(orient="records")


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _rows(path: Path) -> pd.DataFrame:
    return load_transactions(path).table.order_by(ORDER).to_pandas()


def test_lines_that_are_not_records_are_quarantined_with_their_row(
        records: list[dict[str, str]], tmp_path: Path) -> None:
    # A write cut short, a log line and a bare array among the records: DuckDB stopped at
    # the first ("Malformed JSON ... line 51") and nothing was read.
    good = [json.dumps(r) for r in records]
    lines = [*good[:50], '{"InvoiceNo": "536365", "StockCo', *good[50:120],
             "2011-01-04 10:00:03 ERROR exporter restarted", *good[120:], "[1, 2]", ""]
    tx = load_transactions(_write_lines(tmp_path / "orders.jsonl", lines))
    assert tx.n_input == 303 and tx.n_quarantined == 3
    q = tx.quarantine
    assert q["row"].tolist() == [51, 122, 303]
    assert q["reason"].str.startswith("unreadable line (").all()
    assert "a JSON list, not an object" in q["reason"].iloc[2]
    assert q["raw_line"].iloc[1] == "2011-01-04 10:00:03 ERROR exporter restarted"
    # The records kept are those of the file without the three lines.
    clean = _write_lines(tmp_path / "clean.jsonl", good)
    pd.testing.assert_frame_equal(tx.table.order_by(ORDER).to_pandas(), _rows(clean))


def test_nested_records_are_read_by_the_paths_of_their_fields(
        records: list[dict[str, str]], tmp_path: Path) -> None:
    # An API export nests the order and the customer: "order.id" and "customer.id" are
    # names the roles recognise (it stopped: "required column for timestamp not found").
    nested = [{"order": {"id": r["InvoiceNo"], "date": r["InvoiceDate"]},
               "customer": {"id": r["CustomerID"], "address": {"country": r["Country"]}},
               "line": {"sku": r["StockCode"], "qty": r["Quantity"]},
               "UnitPrice": r["UnitPrice"]} for r in records]
    path = _write_lines(tmp_path / "nested.jsonl", [json.dumps(r) for r in nested])
    tx = load_transactions(path, columns={"product_id": "line.sku", "quantity": "line.qty",
                                          "country": "customer.address.country"})
    assert dict(tx.roles.items())["customer_id"] == "customer.id"
    flat = _write_lines(tmp_path / "flat.jsonl", [json.dumps(r) for r in records])
    got = tx.table.order_by(ORDER).to_pandas()
    want = _rows(flat)
    pd.testing.assert_frame_equal(got.drop(columns="description"),
                                  want.drop(columns="description"))


def test_a_file_of_no_record_is_one_line(tmp_path: Path) -> None:
    path = _write_lines(tmp_path / "log.jsonl", ["starting export", "{broken"])
    with pytest.raises(InputError, match=r"log\.jsonl: no line is a JSON object \(line 1: "
                                         r"not JSON: .*\)\. Fix: export one JSON object"):
        load_transactions(path)


def test_a_malformed_array_names_the_line(records: list[dict[str, str]],
                                          tmp_path: Path) -> None:
    text = json.dumps(records[:20], indent=1)
    path = tmp_path / "orders.json"
    path.write_text(text.replace("},\n {", "},\n {oops\n {", 1), encoding="utf-8")
    with pytest.raises(InputError, match=r"orders\.json: not valid JSON at line 12, column 3: "
                                         r"Expecting property name .*\. Fix: repair the file"):
        load_transactions(path)


def test_a_field_of_mixed_types_reads_its_text_without_quotes(tmp_path: Path) -> None:
    # Category 5 in one record and "cars" in the next: DuckDB types the field JSON, whose
    # text kept the quotes ('"cars"', and '"5"' apart from 5).
    from segwise.io import load_source

    rows = [{"user_id": "a", "ts": "2024-03-04 10:00:00", "category": 5, "event": "view"},
            {"user_id": "a", "ts": "2024-03-04 10:01:00", "category": "5", "event": "click"},
            {"user_id": "b", "ts": "2024-03-04 10:02:00", "category": "cars",
             "event": {"name": "view"}},
            {"user_id": "b", "ts": "2024-03-04 10:03:00", "category": None, "event": "click"}]
    path = _write_lines(tmp_path / "events.jsonl", [json.dumps(r) for r in rows])
    got = load_source(path, "events").table.order_by("ts").to_pandas()
    assert got["category"].tolist() == ["5", "5", "cars", None]
    assert got["is_click"].tolist() == [False, True, False, True]


def test_a_field_whose_type_changes_after_the_first_records_is_read(tmp_path: Path) -> None:
    # DuckDB detects types from the first records: "cars" after 30,000 category ids
    # stopped the read with a cast error.
    from segwise.io import load_source

    lines = [json.dumps({"user_id": i % 50, "ts": "2024-03-04 10:00:00", "category": 5})
             for i in range(30_000)]
    lines.append(json.dumps({"user_id": "x", "ts": "2024-03-04 10:00:00",
                             "category": "cars"}))
    source = load_source(_write_lines(tmp_path / "events.jsonl", lines), "events")
    assert source.n_input == 30_001 and source.n_quarantined == 0
    counts = source.table.category.value_counts().to_pandas()
    assert dict(zip(counts["category"], counts["category_count"], strict=True)) == {
        "5": 30_000, "cars": 1}


@pytest.mark.parametrize("layout", ["lines", "array"])
def test_a_record_that_names_a_field_twice_is_quarantined(tmp_path: Path, layout: str) -> None:
    # DuckDB refused the whole file ("has duplicate key"; in an array, with its raw error
    # and no fix); the record is one bad row, quarantined with its row like a line cut
    # short, and the others are read.
    from segwise.io import load_source

    rows = [{"user_id": "u1", "ts": f"2024-03-04 10:0{i}:00", "event": "view"}
            for i in range(5)]
    twice = ('{"user_id": "u1", "ts": "2024-03-04 10:09:00",\n  "event": "view",\n'
             '  "event": "click"}')
    if layout == "lines":
        path = tmp_path / "events.jsonl"
        texts = [json.dumps(r) for r in rows]
        texts.insert(2, twice.replace("\n", ""))
        _write_lines(path, texts)
    else:  # an array as exports write it, a record over several lines
        path = tmp_path / "events.json"
        texts = [json.dumps(r, indent=2) for r in rows]
        texts.insert(2, twice)
        path.write_text("[\n" + ",\n".join(texts) + "\n]\n", encoding="utf-8")
    source = load_source(path, "events", read=ReadOptions(max_quarantine_share=0.5))
    assert source.n_input == 6 and source.n_quarantined == 1
    assert source.quarantine["row"].tolist() == [3]
    what = "line" if layout == "lines" else "record"
    assert source.quarantine["reason"].tolist() == [
        f"unreadable {what} (field event given twice)"]
    assert source.quarantine["raw_line"].str.contains('"event": "click"').all()
    got = source.table.order_by("ts").to_pandas()
    assert got["ts"].dt.minute.tolist() == list(range(5))
    # Beyond the share of bad rows, one line names the row, the field and the fix.
    with pytest.raises(InputError) as err:
        load_source(path, "events")
    message = str(err.value)
    assert message.startswith(f"{path}: 1 of 6 rows (17%) cannot be parsed; row 3: "
                              f"unreadable {what} (field event given twice)")
    assert "Fix: export each record with each field once;" in message


def test_an_array_of_no_record_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    path.write_text('[{"a": 1, "a": 2}, {"b": 1, "b": 2}]', encoding="utf-8")
    with pytest.raises(InputError, match=r"orders\.json: no record is a JSON object \(record "
                                         r"1: field a given twice\)\. Fix: export one JSON"):
        load_transactions(path)
