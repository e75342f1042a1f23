"""Engine connections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from segwise._engine import (
    MEMORY_LIMIT_ENV,
    arrow_to_numpy,
    connect,
    duckdb_connection,
    fetch_arrow,
    fetch_numpy,
    fetch_scalar,
    numpy_to_arrow,
)
from segwise.config import load_config
from segwise.exceptions import ConfigError
from segwise.io._readers import _to_spark
from segwise.jobs import run_rfm


def test_duckdb_memory_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    def limit() -> str:
        con = duckdb_connection().con
        return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]

    default = limit()
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1GB")
    assert limit() == "953.6 MiB" != default


def test_freed_memory_goes_back_to_the_system_between_queries() -> None:
    # Without the allocator's background threads, what the last query of a job freed
    # stays resident through everything after it (1.6 GB through a propensity training).
    con = duckdb_connection().con
    setting = "SELECT current_setting('allocator_background_threads')"
    assert con.execute(setting).fetchall()[0][0] is True


def test_spills_go_to_a_folder_of_their_own_removed_with_the_connection(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc
    import os

    # Not `.tmp` in the working directory, which DuckDB leaves behind.
    monkeypatch.chdir(tmp_path)
    backend = duckdb_connection("64MB")
    con = backend.con
    folder = Path(con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0])
    assert folder.name.startswith("segwise-duckdb-")
    # Made at the first spill only: a process killed before leaves nothing behind.
    assert not folder.exists()
    # A sort larger than the limit spills there.
    con.execute("CREATE TEMP TABLE big AS SELECT range AS i, md5(range::TEXT) AS s "
                "FROM range(3000000)")
    assert con.execute("SELECT count(*) FROM (SELECT * FROM big ORDER BY s)").fetchall() \
        == [(3_000_000,)]
    assert con.execute("SELECT max(temporary_storage_bytes) FROM duckdb_memory()"
                       ).fetchall()[0][0] > 0
    assert os.listdir(folder)
    assert not (tmp_path / ".tmp").exists()
    del backend, con
    gc.collect()
    assert not folder.exists()


def test_spill_folders_of_killed_processes_are_removed_by_the_next(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import subprocess
    import sys
    import tempfile

    from segwise._proc import HOST

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folders = {name: tmp_path / f"segwise-duckdb-{name}-0123abcd"
               for name in (f"{HOST}-{gone.pid}", f"{HOST}-{os.getpid()}", f"elsewhere-{gone.pid}")}
    for folder in folders.values():
        (folder / "spill").mkdir(parents=True)
        (folder / "spill" / "block.tmp").write_bytes(b"x")
    backend = duckdb_connection()
    assert not folders[f"{HOST}-{gone.pid}"].exists()  # killed: nobody else would remove it
    assert folders[f"{HOST}-{os.getpid()}"].exists()  # a process that still runs
    assert folders[f"elsewhere-{gone.pid}"].exists()  # another machine's process
    folder = backend.con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
    assert Path(folder).parent == tmp_path


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


def test_results_match_ibis_own_conversion() -> None:
    # Ibis's to_pandas is the oracle; segwise fetches through DuckDB to skip pandas.
    backend = duckdb_connection()
    backend.con.execute(
        "CREATE TABLE t AS SELECT range AS i, range % 3 AS g, "
        "CASE WHEN range % 4 = 0 THEN NULL ELSE 'x' || range END AS s, "
        "CASE WHEN range % 5 = 0 THEN NULL ELSE range * 1.5 END AS f, "
        "TIMESTAMP '2011-01-01' + INTERVAL (range) HOUR AS ts FROM range(50)"
    )
    t = backend.table("t")
    expr = t.group_by("g").aggregate(
        total=t.i.sum(), n=t.count(), last=t.ts.max(), some=t.s.max(), f=t.f.sum()
    ).order_by("g")
    got = fetch_numpy(expr)
    want = expr.to_pandas()
    assert got["total"].dtype == np.int64  # a BIGINT sum is a HUGEINT in DuckDB
    for col in want.columns:
        pd.testing.assert_series_equal(pd.Series(got[col], name=col), want[col], check_dtype=False)
    assert fetch_arrow(expr).schema.equals(expr.schema().to_pyarrow())
    assert fetch_scalar(t.i.sum()) == 1225 and fetch_scalar(t.count()) == 50
    rows = fetch_numpy(t.order_by("i"))
    assert rows["s"][0] is None and rows["s"][1] == "x1"
    assert np.isnan(rows["f"][0]) and rows["f"][1] == 1.5


def test_numpy_and_arrow_round_trip() -> None:
    cols = {
        "id": np.array(["a", None, "c"], dtype=object),
        "n": np.array([1, 2, 3], dtype="int64"),
        "x": np.array([0.5, np.nan, 2.0]),
        "ts": np.array(["2011-01-01T10:00", "NaT", "2011-01-02"], dtype="datetime64[ns]"),
    }
    table = numpy_to_arrow(cols, metadata={b"k": b"v"})
    assert table.schema.metadata == {b"k": b"v"}
    assert table.column("x").null_count == 1  # NaN is missing
    back = arrow_to_numpy(table)
    assert list(back["id"]) == ["a", None, "c"]
    np.testing.assert_array_equal(back["n"], cols["n"])
    np.testing.assert_array_equal(back["x"], cols["x"])
    np.testing.assert_array_equal(back["ts"], cols["ts"])


#: One row with a number, one with NaN, one missing, in every column type segwise fetches.
_NAN_AND_NULL = (
    "SELECT * FROM (VALUES (1, 1.5, 'a', TIMESTAMP '2011-12-09 12:50:00.5', DATE '2011-12-09', "
    "CAST(2.55 AS DECIMAL(38, 6))), (2, CAST('NaN' AS DOUBLE), NULL, NULL, NULL, NULL), "
    "(3, NULL, 'c', TIMESTAMP '2010-12-01 08:26:00', DATE '2010-12-01', "
    "CAST(0.000001 AS DECIMAL(38, 6)))) AS v(k, x, s, ts, d, price)"
)


@pytest.mark.spark
def test_spark_keeps_nan_apart_from_missing_as_duckdb_does() -> None:
    # Ibis fetches Spark results through pandas, where NaN and missing are one: a NaN came
    # back missing on Spark and NaN on DuckDB, from the same rows.
    duck = duckdb_connection()
    duck.con.execute(f"CREATE TABLE t AS {_NAN_AND_NULL}")
    spark = connect("spark")
    spark._session.sql(_NAN_AND_NULL).createOrReplaceTempView("segwise_nan_and_null")
    tables = {"duckdb": duck.table("t"), "spark": spark.table("segwise_nan_and_null")}
    got = {name: _nan_as_text(fetch_arrow(t.order_by("k"))) for name, t in tables.items()}
    assert got["spark"] == got["duckdb"]
    assert got["spark"]["x"] == [1.5, "NaN", None]
    arrays = {name: fetch_numpy(t.order_by("k")) for name, t in tables.items()}
    for col, want in arrays["duckdb"].items():
        assert arrays["spark"][col].dtype == want.dtype, col
        np.testing.assert_array_equal(arrays["spark"][col], want)
    for name, t in tables.items():
        assert fetch_scalar(t.filter(t.k == 3).x.max()) is None, name
        assert np.isnan(fetch_scalar(t.filter(t.k == 2).x.max())), name
    # A table parsed in DuckDB and handed to Spark keeps its NaN too.
    handed = _to_spark(spark, tables["duckdb"])
    assert _nan_as_text(fetch_arrow(handed.order_by("k"))) == got["duckdb"]


def _nan_as_text(table: pa.Table) -> dict[str, list[object]]:
    """The table's schema and columns, NaN as "NaN" (NaN equals nothing, None is missing)."""
    columns = {c: [v if v == v else "NaN" for v in table.column(c).to_pylist()]
               for c in table.column_names}
    return {"schema": str(table.schema), **columns}
