"""Early features of lines in memory (what a server scores) equal the engine's, exactly."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from segwise.clean import CleaningRules, clean_transactions
from segwise.io import load_transactions
from segwise.predict import EarlyWindow
from segwise.predict._features import EARLY_TABLE_COLUMNS, early_rows, early_table, money_lines

T0 = dt.datetime(2011, 3, 4, 8, 0)
COLUMNS = ["customer_id", "order_id", "ts", "quantity", "unit_price", "product_id", "country",
           "is_return"]


def _plain(value: Any) -> Any:
    """A value as plain Python: decimals as their nearest float, NaT as None."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else value.astype("datetime64[us]").item()
    if isinstance(value, float) and value != value:
        return None
    return value


def both(kept: ibis.Table, window: EarlyWindow) -> tuple[dict[str, list], dict[str, list]]:
    """:func:`early_table` run by DuckDB, and :func:`early_rows` of the same lines."""
    engine = early_table(kept, window).to_pyarrow().sort_by("customer_id").to_pydict()
    collected = money_lines(kept).to_pyarrow().to_pydict()
    memory = early_rows(collected, window)
    return ({c: [_plain(v) for v in engine[c]] for c in EARLY_TABLE_COLUMNS},
            {c: [_plain(v) for v in memory[c].tolist()] for c in EARLY_TABLE_COLUMNS})


line = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from(["10", "9", "C10", "11", "x", "C2"]),
    # Few distinct times, 13 hours apart over two weeks: orders that start together,
    # returns at the window's close, gaps across days, weekends and mornings.
    st.integers(0, 24).map(lambda k: T0 + dt.timedelta(hours=13 * k, microseconds=k % 3)),
    st.integers(-20, 40).filter(bool),
    st.decimals("0.001", "80", places=4).map(float),
    st.sampled_from(["p1", "p2", "p3", None]),
    st.sampled_from(["UK", "France", None]),
)
windows = st.sampled_from([EarlyWindow(3), EarlyWindow(1), EarlyWindow(2, 7),
                           EarlyWindow(None, 10), EarlyWindow(5, 30), EarlyWindow(3, 1)])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(line, min_size=1, max_size=25), window=windows)
# Two orders starting together, the later id listed first: the window takes the lower id.
@example(rows=[("a", "9", T0, 1, 2.5, "p1", "UK"), ("a", "10", T0, 3, 1.0, "p2", "France")],
         window=EarlyWindow(1))
def test_lines_in_memory_give_the_engines_rows(rows: list[tuple], window: EarlyWindow) -> None:
    df = pd.DataFrame([(*r, r[3] < 0 or r[1].startswith("C")) for r in rows], columns=COLUMNS)
    df["revenue"] = df["quantity"].astype("float64") * df["unit_price"]
    df["quantity"] = df["quantity"].astype("float64")
    engine, memory = both(ibis.memtable(df), window)
    assert memory == engine


@pytest.fixture(scope="module")
def retail_kept(retail_csv: Path) -> ibis.Table:
    """Kept lines of the first 40,000 Online Retail lines (a few hundred customers)."""
    frame = pd.read_csv(retail_csv, nrows=40_000, dtype=str, keep_default_na=False)
    tx = load_transactions(frame)
    return clean_transactions(tx, CleaningRules(outliers=False)).kept


@pytest.mark.parametrize("window", [EarlyWindow(3), EarlyWindow(2, 30), EarlyWindow(None, 60)])
def test_online_retail_customers_give_the_engines_rows(retail_kept: ibis.Table,
                                                        window: EarlyWindow) -> None:
    engine, memory = both(retail_kept, window)
    assert len(engine["customer_id"]) > 300
    assert memory == engine
