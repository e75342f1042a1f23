"""Engine connections."""

from __future__ import annotations

import pytest

from segwise._engine import MEMORY_LIMIT_ENV, connect, duckdb_connection
from segwise.exceptions import ConfigError


def test_duckdb_memory_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    def limit() -> str:
        con = duckdb_connection().con
        return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]

    default = limit()
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1GB")
    assert limit() == "953.6 MiB" != default


def test_unknown_engine() -> None:
    with pytest.raises(ConfigError, match="unknown engine 'polars'"):
        connect("polars")
