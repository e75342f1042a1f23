"""Engine connections."""

from __future__ import annotations

from pathlib import Path

import pytest

from segwise._engine import MEMORY_LIMIT_ENV, connect, duckdb_connection
from segwise.config import load_config
from segwise.exceptions import ConfigError
from segwise.pipeline import run_rfm


def test_duckdb_memory_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    def limit() -> str:
        con = duckdb_connection().con
        return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]

    default = limit()
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1GB")
    assert limit() == "953.6 MiB" != default


def test_memory_limit_from_the_config_reaches_the_connection(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[engine]\nmemory_limit = "512MB"\n')
    lines = tmp_path / "lines.csv"
    lines.write_text(
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
        "1,A,2,2011-01-03 10:00,1.5,7\n"
    )
    result = run_rfm(lines, config=load_config(config))
    con = result.cleaned.lines._find_backend().con
    assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == "488.2 MiB"
    assert len(result.customers) == 1


def test_unknown_engine() -> None:
    with pytest.raises(ConfigError, match="unknown engine 'polars'"):
        connect("polars")
