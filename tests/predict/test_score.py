"""Scoring order lines held in memory: the in-memory path agrees with the general one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from segwise.exceptions import InputError
from segwise.predict import OrderScorer, TrainedAssigner, order_lines_table


@pytest.fixture(scope="module")
def requests(retail_csv: Path) -> dict[str, list[dict[str, Any]]]:
    """The lines of 150 Online Retail customers, as score requests carry them."""
    df = pd.read_csv(retail_csv, nrows=30_000, dtype={"InvoiceNo": str, "StockCode": str,
                                                      "CustomerID": str})
    df = df[df["CustomerID"].notna()]
    out: dict[str, list[dict[str, Any]]] = {}
    for customer, g in list(df.groupby("CustomerID"))[:150]:
        out[customer] = [{"order_id": r.InvoiceNo, "timestamp": pd.Timestamp(r.InvoiceDate),
                          "quantity": r.Quantity, "unit_price": r.UnitPrice,
                          "product_id": r.StockCode, "description": r.Description,
                          "country": r.Country} for r in g.itertuples()]
    return out


def test_in_memory_scoring_equals_the_general_path(assigner_file: Path,
                                                   requests: dict[str, Any]) -> None:
    scorer = OrderScorer(TrainedAssigner.load(assigner_file))
    lines = order_lines_table(requests)
    fast = scorer.score(lines).sort_values("customer_id", ignore_index=True)
    scorer._cleaner = None  # the general path: TrainedAssigner.assign on the cleaned lines
    general = scorer.score(lines).sort_values("customer_id", ignore_index=True)
    pd.testing.assert_frame_equal(fast, general, check_dtype=False)
    # Returns and non-products only leave a customer out; everyone else is scored.
    assert 0.9 * len(requests) < len(fast) <= len(requests)
    assert fast.filter(like="p_").sum(axis=1).to_numpy() == pytest.approx(1.0)


def test_a_batch_scores_each_customer_as_alone(assigner_file: Path,
                                               requests: dict[str, Any]) -> None:
    scorer = OrderScorer(TrainedAssigner.load(assigner_file))
    ids = list(requests)[:20]
    batch = scorer.score(order_lines_table({i: requests[i] for i in ids}))
    as_of = max(line["timestamp"] for i in ids for line in requests[i])
    for customer in ids[:5]:
        alone = scorer.score(order_lines_table({customer: requests[customer]}), as_of=as_of)
        row = batch[batch["customer_id"] == customer].reset_index(drop=True)
        pd.testing.assert_frame_equal(row, alone, check_dtype=False)


def test_records_are_the_frames_rows_as_plain_values(assigner_file: Path,
                                                     requests: dict[str, Any]) -> None:
    scorer = OrderScorer(TrainedAssigner.load(assigner_file))
    lines = order_lines_table(dict(list(requests.items())[:12]))
    records = scorer.score_records(lines)
    assert records == scorer.score(lines).to_dict("records")
    assert {type(v) for r in records for v in r.values()} == {str, float, int, bool}
    # A batch with no purchase left: no rows, in both forms.
    returns = order_lines_table({"r": [{**requests[next(iter(requests))][0], "quantity": -1}]})
    assert scorer.score_records(returns) == []
    assert scorer.score(returns).empty


@pytest.mark.parametrize(("column", "value"), [("quantity", float("nan")),
                                               ("unit_price", float("inf")),
                                               ("order_id", None), ("ts", None)])
def test_lines_without_a_key_time_or_finite_number_are_refused(
        assigner_file: Path, requests: dict[str, Any], column: str, value: Any) -> None:
    scorer = OrderScorer(TrainedAssigner.load(assigner_file))
    lines = order_lines_table(dict(list(requests.items())[:3]))
    values = lines.column(column).to_pylist()
    values[1] = value
    lines = lines.set_column(lines.schema.get_field_index(column), column,
                             pa.array(values, lines.schema.field(column).type))
    with pytest.raises(InputError, match=f"1 line.s. with a missing or non-finite {column}"):
        scorer.score(lines)
