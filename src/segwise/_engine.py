"""Connections to the table engines segwise runs its Ibis expressions on, and their results.

DuckDB is embedded and the default. Spark is optional (``pip install segwise[spark]``)
and runs the very same expressions, in ``local[*]`` mode or against any master URL.
Results come back as Arrow tables or NumPy arrays (:func:`fetch_arrow`,
:func:`fetch_numpy`), never through pandas: on Spark neither, where pandas would make a
NaN and a missing value one.
"""

from __future__ import annotations

import functools
import math
import os
import re
import secrets
import shutil
import socket
import sys
import tempfile
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import ibis
import numpy as np

from segwise._lazy import defer_package_init
from segwise._proc import HOST, remove_if_gone
from segwise.exceptions import ConfigError, SegwiseError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa
    from ibis.backends.duckdb import Backend as DuckDBBackend
    from ibis.backends.sql import SQLBackend

# Ibis's compilers package imports the compilers of twenty SQL dialects (0.15 s of a 2 s
# `segwise rfm`); a run uses DuckDB's, or Spark's.
defer_package_init("ibis.backends.sql.compilers")

__all__ = [
    "ENGINES",
    "MEMORY_LIMIT_ENV",
    "Engine",
    "arrow_to_csv",
    "arrow_to_numpy",
    "check_memory_limit",
    "check_spark_master",
    "connect",
    "duckdb_connection",
    "duckdb_error",
    "engine_error",
    "fetch_arrow",
    "fetch_numpy",
    "fetch_scalar",
    "is_missing",
    "materialize",
    "numpy_to_arrow",
    "sqlite_jdbc_jar",
]

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
    if memory_limit:
        limit: str | None = check_memory_limit(memory_limit, "memory_limit")
    elif os.environ.get(MEMORY_LIMIT_ENV):
        limit = check_memory_limit(os.environ[MEMORY_LIMIT_ENV], MEMORY_LIMIT_ENV)
    else:
        limit = None
    backend = ibis.duckdb.connect(memory_limit=limit) if limit else ibis.duckdb.connect()
    # What DuckDB spills past its memory limit goes to a folder of this connection's own
    # in the system's temporary folder (TMPDIR), not to `.tmp` in the working directory,
    # which DuckDB would leave behind. DuckDB creates it at the first spill; it is removed
    # with the connection.
    parent = Path(tempfile.gettempdir())
    _remove_dead_spill_folders(parent)
    folder = parent / f"{_SPILL}-{HOST}-{os.getpid()}-{secrets.token_hex(8)}"
    weakref.finalize(backend, shutil.rmtree, folder, ignore_errors=True)
    backend.con.execute(f"SET temp_directory = '{sql_text(folder)}'")
    # Memory a query freed is handed back to the system in the background; otherwise it
    # stays resident until DuckDB's next query, which after a job's last fetch never
    # comes (1.6 GB held through training on a million people x 360 columns).
    backend.con.execute("SET allocator_background_threads = true")
    return backend


#: Name of a connection's spill folder, before its machine, process and a random part.
_SPILL = "segwise-duckdb"


@functools.cache
def _remove_dead_spill_folders(parent: Path) -> None:
    """Remove spill folders of this machine's processes that are gone (once a process).

    A connection's folder is removed with it, but not by a process that was killed.
    """
    remove_if_gone(parent, re.compile(rf"{_SPILL}-{HOST}-(\d+)-[0-9a-f]+"),
                   functools.partial(shutil.rmtree, ignore_errors=True))


def row_store(backend: DuckDBBackend, size: int) -> tuple[str, str] | None:
    """Where to keep about ``size`` bytes of rows parsed from a file: memory or a disk file.

    Rows kept in DuckDB's memory are stored uncompressed (about 70 bytes a row of an
    event log, more than the SQLite file they came from); past the memory limit DuckDB
    writes them to its temporary folder as they are, and reads them back for every query
    (200 M events: about 15 GB spilled). Rows from a file larger than half the memory
    limit go instead into a DuckDB database file in the connection's spill folder (see
    :func:`duckdb_connection`), where they are stored compressed as they are written
    (several times smaller) and read back a block at a time; the folder is removed when
    the connection goes.

    Parameters
    ----------
    backend : ibis DuckDB backend
        The job's connection.
    size : int
        Bytes of the file the rows come from.

    Returns
    -------
    tuple of (str, str) or None
        The catalog and schema to create the table in (for ``ibis`` ``database=``), or
        None for a temporary table in memory.
    """
    ((limit,),) = backend.con.execute("SELECT current_setting('memory_limit')").fetchall()
    if size <= _bytes(str(limit)) / 2:
        return None
    name = "segwise_rows"
    ((attached,),) = backend.con.execute(
        "SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [name]).fetchall()
    if not attached:
        # In the connection's spill folder (see duckdb_connection), removed with it.
        ((folder,),) = backend.con.execute(
            "SELECT current_setting('temp_directory')").fetchall()
        Path(folder).mkdir(exist_ok=True)
        path = Path(folder) / f"{name}.duckdb"
        backend.con.execute(f"ATTACH '{sql_text(path)}' AS {name}")
    return name, "main"


def file_signature(path: Path) -> str | None:
    """Return the format a file's first bytes name: ``sqlite``, ``duckdb`` or ``parquet``.

    Whatever the file's suffix says: a DuckDB database named ``.db``, a SQLite one named
    ``.duckdb``, a Parquet file named ``.csv`` each have a signature of their own. None
    for files without one (text, Excel's zip).
    """
    with path.open("rb") as fh:
        head = fh.read(16)
    if head.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if head[8:12] == b"DUCK":
        return "duckdb"
    if head.startswith(b"PAR1"):
        return "parquet"
    return None


def sql_text(text: str | os.PathLike[str]) -> str:
    """``text`` (or a path) for a single-quoted SQL literal."""
    return str(text).replace("'", "''")


#: Sizes DuckDB's ``memory_limit`` accepts, e.g. ``4GB``, ``4 GiB``, ``512MB``.
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10,
          "mib": 2**20, "gib": 2**30, "tib": 2**40}


def check_memory_limit(limit: object, where: str) -> str:
    """Return a DuckDB memory size such as ``"4GB"``, stripped; raise naming ``where`` if not.

    Raises
    ------
    ConfigError
        If ``limit`` is not a size DuckDB understands.
    """
    if not (isinstance(limit, str) and _SIZE.fullmatch(limit.strip())):
        raise ConfigError(f'{where} = {limit!r} is not a size; write e.g. "4GB" or "512MB"')
    return limit.strip()


def _bytes(size: str) -> float:
    """Bytes in a size such as ``4GB`` or ``976.5 KiB`` (DuckDB's units: KB = 1000 B)."""
    match = _SIZE.fullmatch(size.strip())
    if match is None:
        raise ValueError(size)
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


#: DuckDB's rule of thumb: at least 125 MB of memory per thread (its performance guide).
MEMORY_PER_THREAD = 125 * 10**6


def _out_of_memory(message: str) -> ConfigError:
    """Return the one-line error for DuckDB out of memory, with a limit that would do."""
    used = re.search(r"\(([\d.]+ ?\w+)/([\d.]+ ?\w+) used\)", message)
    threads = os.cpu_count() or 1
    floor = MEMORY_PER_THREAD * threads
    limit = _bytes(used.group(2)) if used else None
    need = max(2 * limit, floor) if limit else floor
    # Round up to whole megabytes (whole gigabytes above 1 GB), a figure to write down.
    unit, name = (10**9, "GB") if need >= 10**9 else (10**6, "MB")
    suggestion = f"{math.ceil(need / unit)}{name}"
    within = f" within its limit of {used.group(2)}" if used else ""
    return ConfigError(
        f"DuckDB ran out of memory{within}. Fix: raise --memory-limit (or [engine] "
        f"memory_limit, or {MEMORY_LIMIT_ENV}) to {suggestion} or more: DuckDB needs about "
        f"125 MB per thread and runs {threads} here, and spills to disk beyond the limit; "
        "or leave the limit out to let it use 80 % of RAM"
    )


def engine_error(exc: BaseException) -> SegwiseError | None:
    """Return the one-line error for an engine failure a user can fix, else None.

    DuckDB running out of memory under a memory limit becomes a
    :class:`~segwise.exceptions.ConfigError` that names a limit that would do.

    Parameters
    ----------
    exc : BaseException
        What an engine raised.

    Returns
    -------
    SegwiseError or None
        The error to raise instead, or None if ``exc`` is not such a failure.
    """
    duckdb = sys.modules.get("duckdb")
    if duckdb is not None and isinstance(exc, duckdb.OutOfMemoryException):
        return _out_of_memory(str(exc))
    return None


def duckdb_error(sql: str, params: list[Any]) -> str | None:
    """Run a constant query on the bridge connection: the first line of its error, or None.

    Checks that DuckDB accepts a value (a regular expression, a timestamp layout) before
    any data is read.
    """
    import duckdb

    try:
        _bridge().cursor().execute(sql, params).fetchall()
    except duckdb.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


#: Spark master URLs: local mode, a standalone cluster (several masters for high
#: availability), YARN, Kubernetes or Mesos.
_MASTER = re.compile(
    r"local(\[(\*|\d+)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]|yarn"
    r"|spark://[^/\s]+|mesos://[^/\s]+|k8s://\S+"
)


def check_spark_master(master: str, *, timeout: float = 5.0) -> None:
    """Refuse a Spark master URL that is malformed, or whose host does not answer.

    Starting Spark against a master that cannot be reached prints hundreds of lines of
    Java logs before it fails; a TCP connection to the master's port, tried first, fails
    in one line.

    Parameters
    ----------
    master : str
        The URL (``local[*]``, ``spark://host:7077``, ``yarn``, ``k8s://https://host:443``).
    timeout : float, default=5.0
        Seconds to wait for each host.

    Raises
    ------
    ConfigError
        If the URL is not a Spark master URL, or no host in it accepts a connection.
    """
    fix = ("Fix: start the master, correct --spark-master, or leave it out to run Spark "
           "on this machine (local[*])")
    if not _MASTER.fullmatch(master):
        raise ConfigError(
            f"--spark-master {master!r} is not a Spark master URL; write local[*], "
            "spark://host:7077, yarn or k8s://https://host:443"
        )
    scheme, _, rest = master.partition("://")
    if scheme not in {"spark", "mesos", "k8s"}:
        return  # local mode starts here; YARN finds its manager from its own config
    if scheme == "k8s":
        rest = rest.split("://", 1)[-1]
    default = {"spark": 7077, "mesos": 5050, "k8s": 443}[scheme]
    reasons = []
    for address in rest.split("/", 1)[0].split(","):
        host, _, port = address.rpartition(":") if ":" in address else (address, "", "")
        try:
            socket.create_connection((host, int(port or default)), timeout=timeout).close()
        except (OSError, ValueError) as exc:
            reasons.append(f"{address}: {getattr(exc, 'strerror', None) or exc}")
        else:
            return
    raise ConfigError(f"cannot reach the Spark master {master} ({'; '.join(reasons)}). {fix}")


#: Environment variable naming the SQLite JDBC driver's jar for Spark.
SQLITE_JDBC_ENV = "SEGWISE_SQLITE_JDBC_JAR"
#: Where Debian's ``libxerial-sqlite-jdbc-java`` puts the driver (the project's setup
#: installs it).
_DEBIAN_SQLITE_JAR = "/usr/share/java/sqlite-jdbc.jar"


def sqlite_jdbc_jar() -> str | None:
    """Path of the SQLite JDBC driver's jar for Spark, if one is installed.

    ``SEGWISE_SQLITE_JDBC_JAR`` when set, else Debian's ``libxerial-sqlite-jdbc-java``.
    """
    named = os.environ.get(SQLITE_JDBC_ENV)
    if named:
        return named
    return _DEBIAN_SQLITE_JAR if os.path.exists(_DEBIAN_SQLITE_JAR) else None


@functools.cache
def _spark_session(master: str):  # type: ignore[no-untyped-def]  # pyspark is optional
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            "engine 'spark' needs pyspark: install it with `pip install segwise[spark]`"
        ) from exc
    check_spark_master(master)
    builder = SparkSession.builder
    jar = sqlite_jdbc_jar()
    if jar is not None:  # SQLite sources are read through JDBC
        builder = builder.config("spark.jars", jar)
    # Python workers (applyInPandas) must run this interpreter, which has segwise; the
    # session's spark.pyspark.python setting does not reach local workers, this does.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        builder.master(master)
        .appName("segwise")
        .config("spark.ui.enabled", "false")
        # Naive timestamps must round-trip unchanged, whatever the machine's zone.
        .config("spark.sql.session.timeZone", "UTC")
        # Small inputs in local mode: 200 shuffle partitions only add scheduling overhead.
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Spark refuses nanosecond Parquet timestamps (pandas' default); read as integers,
        # the loader turns them into timestamps (segwise.io's Spark Parquet reader).
        .config("spark.sql.legacy.parquet.nanosAsLong", "true")
        .config("spark.ui.showConsoleProgress", "false")
    )
    try:
        return builder.getOrCreate()
    except Exception as exc:  # py4j and JVM errors have no common base
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"Spark did not start with master {master}: {first}. Fix: check "
                          "--spark-master and that Java 17 is installed") from exc


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


# Results come back from the engine as Arrow tables (public results) or NumPy arrays (for
# arithmetic). On DuckDB neither route touches pandas: pyarrow's own NumPy conversions,
# Ibis's result converters and Arrow arrays built from Python values all import pandas, a
# third of a second that a command-line run otherwise never pays. DuckDB's NumPy fetch and
# its scans of NumPy arrays do not.


def _duckdb_relation(expr: ir.Expr, *, use_default: bool = False) -> Any | None:
    """Return the DuckDB relation of ``expr``, with Ibis's column types; None off DuckDB.

    With ``use_default``, an expression of memtables alone runs on Ibis's default backend.
    """
    backend = expr._find_backend(use_default=use_default)
    if getattr(backend, "name", "") != "duckdb":
        return None
    if use_default:
        backend._run_pre_execute_hooks(expr)  # registers the memtables
    rel = backend.con.sql(backend.compile(expr))
    # DuckDB widens some results (a sum of BIGINT is a HUGEINT); Ibis's types are the
    # contract, and a HUGEINT would come back from NumPy as a float.
    wide = {name for name, kind in zip(rel.columns, rel.types, strict=True)
            if str(kind) == "HUGEINT"}
    if wide:
        quoted = {c: '"' + c.replace('"', '""') + '"' for c in rel.columns}
        rel = rel.project(", ".join(
            f"CAST({q} AS BIGINT) AS {q}" if c in wide else q for c, q in quoted.items()
        ))
    return rel


def fetch_arrow(expr: ir.Table) -> pa.Table:
    """Run a table expression and return its rows as an Arrow table of the expression's schema.

    Parameters
    ----------
    expr : ibis.Table
        The expression, on any engine.

    Returns
    -------
    pyarrow.Table
        The rows.
    """
    rel = _duckdb_relation(expr)
    if rel is None:
        return _spark_arrow(expr)
    table, schema = rel.to_arrow_table(), expr.schema().to_pyarrow()
    # A cast loads pyarrow.compute (60 ms); DuckDB's types are nearly always Ibis's already.
    return table if table.schema.equals(schema) else table.cast(schema)


def fetch_numpy(expr: ir.Table) -> dict[str, np.ndarray]:
    """Run a table expression and return its columns as NumPy arrays.

    Missing values are None in text columns, NaN in numbers (integer columns with a
    missing value become float) and NaT in timestamps.

    Parameters
    ----------
    expr : ibis.Table
        The expression, on any engine.

    Returns
    -------
    dict of str to ndarray
        One array per column, in the expression's order.
    """
    rel = _duckdb_relation(expr)
    if rel is None:
        return arrow_to_numpy(_spark_arrow(expr))
    return {c: _plain(v) for c, v in rel.fetchnumpy().items()}


def _spark_arrow(expr: ir.Expr) -> pa.Table:
    """Run an expression on Spark; return its rows as Arrow, of the expression's schema.

    Ibis's own Spark results come through pandas, where a NaN and a missing value are one:
    both come back missing. Spark's Arrow collection (``toArrow``) keeps them apart, as
    DuckDB does, and gives the very types :func:`fetch_arrow` gives on DuckDB.
    """
    backend = expr._find_backend()
    table = expr.as_table()
    backend._run_pre_execute_hooks(table)  # registers the memtables
    schema = table.schema().to_pyarrow()
    rows = backend._session.sql(backend.compile(table)).toArrow()
    return rows.rename_columns(schema.names).cast(schema)


def _plain(values: np.ndarray) -> np.ndarray:
    """Return ``values`` without a mask: missing values as None, NaN or NaT."""
    if not isinstance(values, np.ma.MaskedArray):
        return values
    mask = np.ma.getmaskarray(values)
    data = np.asarray(values.data)
    if not mask.any():
        return data
    kind = data.dtype.kind
    data = data.astype("float64" if kind in "iub" else data.dtype if kind in "fMm" else object)
    data[mask] = {"M": np.datetime64("NaT"), "m": np.timedelta64("NaT")}.get(
        kind, None if data.dtype == object else np.nan
    )
    return data


def materialize(expr: ir.Table, name: str) -> ir.Table:
    """Compute a table expression once and return the stored result, for repeated reads.

    A temporary table on DuckDB (dropped with the connection; Ibis's ``cache()`` would try
    to drop it on garbage collection with a statement this DuckDB rejects), a cached
    DataFrame on Spark.

    Parameters
    ----------
    expr : ibis.Table
        The expression.
    name : str
        Prefix of the stored table's name.

    Returns
    -------
    ibis.Table
        A table over the stored rows.
    """
    backend = expr._find_backend()
    if getattr(backend, "name", "") == "duckdb":
        return backend.create_table(f"{name}_{id(expr)}", expr, temp=True)
    return expr.cache()


def is_missing(values: np.ndarray) -> np.ndarray:
    """Return where an object array from :func:`fetch_numpy` holds None (missing text)."""
    return np.equal(values, cast(Any, None))


def fetch_scalar(expr: ir.Scalar) -> Any:
    """Run a scalar expression and return its value as a Python object."""
    rel = _duckdb_relation(expr)
    if rel is None:
        column = _spark_arrow(expr).column(0)
        return column[0].as_py() if len(column) else None
    rows = rel.fetchall()
    return rows[0][0] if rows else None


@functools.cache
def _bridge() -> Any:
    import duckdb

    return duckdb.connect()


def numpy_to_arrow(
    columns: Mapping[str, np.ndarray], metadata: Mapping[bytes, bytes] | None = None
) -> pa.Table:
    """Build an Arrow table from NumPy arrays (object arrays of text; None and NaN missing).

    Parameters
    ----------
    columns : mapping of str to ndarray
        Equal-length arrays.
    metadata : mapping of bytes to bytes, optional
        Schema metadata.

    Returns
    -------
    pyarrow.Table
        The columns, in order.
    """
    con = _bridge().cursor()
    con.register("_columns", dict(columns))
    table = con.sql("SELECT * FROM _columns").to_arrow_table()
    con.unregister("_columns")
    return table.replace_schema_metadata(dict(metadata)) if metadata else table


def arrow_to_csv(table: pa.Table, path: str) -> None:
    """Write an Arrow table as CSV with DuckDB's writer (header, RFC 4180 quoting).

    It runs on the bridge connection, which the run opens anyway: DuckDB's default
    connection would be one more database to start (20-60 ms).
    """
    _bridge().cursor().from_arrow(table).write_csv(path)


def arrow_to_numpy(table: pa.Table) -> dict[str, np.ndarray]:
    """Return the columns of an Arrow table as NumPy arrays, missing values as in fetch_numpy."""
    con = _bridge().cursor()
    return {c: _plain(v) for c, v in con.from_arrow(table).fetchnumpy().items()}
