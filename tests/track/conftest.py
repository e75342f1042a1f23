"""Fixtures of the track tests: Online Retail tracked quarterly, and small logs on DuckDB."""

from __future__ import annotations

import warnings
from typing import Any

import ibis.expr.types as ir
import pandas as pd
import pytest

from segwise._engine import duckdb_connection, materialize
from segwise.track import TrackResult, order_pieces, track_customers


def duck_lines(frame: pd.DataFrame) -> ir.Table:
    """Order lines (customer_id, order_id, ts, revenue, is_return) as a DuckDB table."""
    con = duckdb_connection()
    con.con.register("lines", frame)
    return con.table("lines")


def duck_pieces(frame: pd.DataFrame) -> ir.Table:
    """The stored order pieces of a small log, as track_customers makes them."""
    return materialize(order_pieces(duck_lines(frame)), "pieces")


@pytest.fixture(scope="session")
def retail_track(retail_result: Any) -> TrackResult:
    """Online Retail tracked quarterly across 2011 (snapshots 2011-01-01 .. 2011-12-10)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return track_customers(retail_result.cleaned, every="quarter")
