"""The order-line rules on lines in memory keep what the engine keeps, with its money."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from segwise._engine import duckdb_connection, fetch_scalar
from segwise._expr import exact_money
from segwise.clean import CleaningRules, clean_transactions
from segwise.clean._memory import KEPT_COLUMNS, LineCleaner, exact_money_value
from segwise.io import STANDARD_COLUMNS, load_transactions
from segwise.predict._features import money_lines

T0 = dt.datetime(2011, 5, 2, 9, 30)
RULES = [CleaningRules(outliers=False),
         CleaningRules(outliers=False, cancellations="drop", non_product="keep"),
         CleaningRules(outliers=False, zero_quantity=False),
         CleaningRules(outliers=False, cancellations="keep", duplicates=False,
                       zero_quantity=False, non_positive_price=False),
         CleaningRules(outliers=False, bad_debt_adjustments=False,
                       cancellation_prefixes=("c", "R"), non_product_codes=("post", "X'1"),
                       non_product_pattern=r"^\d{3}$")]


def engine_kept(frame: pd.DataFrame, rules: CleaningRules) -> list[tuple]:
    kept = clean_transactions(load_transactions(frame), rules).kept
    rows = money_lines(kept).select(*KEPT_COLUMNS).to_pyarrow().to_pylist()
    return sorted((tuple(r.values()) for r in rows), key=repr)


def memory_kept(frame: pd.DataFrame, rules: CleaningRules) -> list[tuple]:
    """The same lines as the engine reads them (parsed by the loader), cleaned in memory."""
    lines = load_transactions(frame).table.select(*STANDARD_COLUMNS).to_pyarrow().to_pydict()
    kept = LineCleaner(rules, duckdb.connect()).kept(lines)
    return sorted(zip(*(kept[c] for c in KEPT_COLUMNS), strict=True), key=repr)


line = st.fixed_dictionaries({
    "CustomerID": st.sampled_from(["12346", "17850"]),
    "InvoiceNo": st.sampled_from(["536365", "C536379", "c536380", "A563185", "R1", "ß536",
                                  "536366",
                                  # Orders that only begin with a prefix's letter.
                                  "CA-2016-152156", "a0e1f2c3", "C12a", "C", "C\u0663"]),
    "InvoiceDate": st.integers(0, 6).map(lambda k: T0 + dt.timedelta(hours=11 * k)),
    "Quantity": st.integers(-3, 30),
    "UnitPrice": st.sampled_from([0.0, -1.5, 2.55, 0.85, 1.0000005, 3.3333333, 18.0]),
    "StockCode": st.sampled_from(["85123A", "POST", "post", "gift_0001_20", "123", "X'1",
                                  "BANK CHARGES", ""]),
    "Description": st.sampled_from(["WHITE HANGING HEART", "Postage", ""]),
    "Country": st.sampled_from(["United Kingdom", "France", ""]),
})


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(line, min_size=1, max_size=20).map(lambda r: r + r[: len(r) // 3]),
       rules=st.sampled_from(RULES))
# DuckDB upper-cases "ß" to itself: the order is not an "S..." cancellation.
@example(rows=[{"CustomerID": "1", "InvoiceNo": "ßx", "InvoiceDate": T0, "Quantity": 2,
                "UnitPrice": 1.0, "StockCode": "p", "Description": "d", "Country": "UK"}],
         rules=CleaningRules(outliers=False, cancellation_prefixes=("S",)))
# A zero quantity kept is not a return.
@example(rows=[{"CustomerID": "1", "InvoiceNo": "7", "InvoiceDate": T0, "Quantity": 0,
                "UnitPrice": 1.0, "StockCode": "p", "Description": "d", "Country": "UK"}],
         rules=CleaningRules(outliers=False, zero_quantity=False))
def test_lines_in_memory_keep_what_the_engine_keeps(rows: list[dict[str, Any]],
                                                     rules: CleaningRules) -> None:
    frame = pd.DataFrame(rows).astype(str)
    assert memory_kept(frame, rules) == engine_kept(frame, rules)


@pytest.mark.parametrize("x", [5e-07, 5779828.7029845, 2.0000025, 1.0000005, -8541563.7174595,
                               0.0078125, -0.0000005, 1e13 / 3, 0.0,
                               # Finer than millionths: per-impression and per-gram prices.
                               0.0000125, 0.00000375, -0.0000004, 3 * 0.0000125, 1 / 3,
                               0.1 / 7, 499.99999999, 1e-13, 2.5e-13])
def test_exact_money_is_duckdbs(x: float) -> None:
    con = duckdb_connection()
    con.con.execute("CREATE TABLE v AS SELECT $x::DOUBLE AS x", {"x": x})
    t = con.table("v")
    assert exact_money_value(x) == fetch_scalar(exact_money(t.x).max())


def test_the_outlier_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="outlier"):
        LineCleaner(CleaningRules(), duckdb.connect())


def test_product_codes_are_matched_once(monkeypatch: pytest.MonkeyPatch) -> None:
    con = duckdb.connect()
    cleaner = LineCleaner(CleaningRules(outliers=False), con, max_codes=3)
    lines = {"customer_id": ["a"] * 3, "order_id": ["1"] * 3, "ts": [T0] * 3,
             "quantity": [1.0, 2.0, 3.0], "unit_price": [1.0] * 3, "revenue": [1.0, 2.0, 3.0],
             "product_id": ["POST", "85123A", None], "description": [None] * 3,
             "country": [None] * 3}
    assert cleaner.kept(lines)["product_id"] == ["85123A", None]
    calls: list[Any] = []
    monkeypatch.setattr(cleaner, "_con", type("Con", (), {"execute": lambda *a: calls.append(a)}))
    assert cleaner.kept(lines)["product_id"] == ["85123A", None]
    assert calls == []
