"""Connections to the table engines segwise runs its Ibis expressions on.

DuckDB is embedded and the default. Spark is optional (``pip install segwise[spark]``)
and runs the very same expressions, in ``local[*]`` mode or against any master URL.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Literal

import ibis

from segwise.exceptions import ConfigError

if TYPE_CHECKING:
    from ibis.backends.duckdb import Backend as DuckDBBackend
    from ibis.backends.sql import SQLBackend

__all__ = ["ENGINES", "MEMORY_LIMIT_ENV", "Engine", "connect", "duckdb_connection"]

#: Environment variable with DuckDB's memory limit, e.g. ``4GB``.
MEMORY_LIMIT_ENV = "SEGWISE_DUCKDB_MEMORY_LIMIT"

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "spark")


def duckdb_connection(memory_limit: str | None = None) -> DuckDBBackend:
    """Return a fresh in-memory DuckDB backend.

    Parameters
    ----------
    memory_limit : str, optional
        Cap on DuckDB's memory, e.g. ``"4GB"``; above it DuckDB spills to disk. Without
        it, ``SEGWISE_DUCKDB_MEMORY_LIMIT``; without that, DuckDB takes up to 80 % of RAM.

    Returns
    -------
    ibis.backends.duckdb.Backend
        An embedded DuckDB connection; every load gets its own so runs never share state.
    """
    limit = memory_limit or os.environ.get(MEMORY_LIMIT_ENV)
    return ibis.duckdb.connect(memory_limit=limit) if limit else ibis.duckdb.connect()


@functools.cache
def _spark_session(master: str):  # type: ignore[no-untyped-def]  # pyspark is optional
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            "engine 'spark' needs pyspark: install it with `pip install segwise[spark]`"
        ) from exc
    return (
        SparkSession.builder.master(master)
        .appName("segwise")
        .config("spark.ui.enabled", "false")
        # Naive timestamps must round-trip unchanged, whatever the machine's zone.
        .config("spark.sql.session.timeZone", "UTC")
        # Small inputs in local mode: 200 shuffle partitions only add scheduling overhead.
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


def connect(engine: str = "duckdb", *, spark_master: str | None = None) -> SQLBackend:
    """Connect to a table engine.

    Parameters
    ----------
    engine : {"duckdb", "spark"}, default="duckdb"
        Which engine runs the expressions.
    spark_master : str, optional
        Spark master URL; ``local[*]`` when omitted.

    Returns
    -------
    ibis backend
        A connected Ibis backend.
    """
    if engine == "duckdb":
        return duckdb_connection()
    if engine == "spark":
        session = _spark_session(spark_master or "local[*]")
        return ibis.pyspark.connect(session)
    raise ConfigError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
