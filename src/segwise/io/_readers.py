"""Read a transaction log from any supported file into a typed Ibis table.

Parsing happens in Ibis expressions, so a value that cannot be parsed is never dropped:
its row is quarantined with the source row number and a reason naming the column.
Lines too malformed to split into columns (wrong field count, invalid UTF-8) are taken
from DuckDB's CSV reject tables and quarantined the same way.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pyarrow as pa

from segwise._engine import connect, duckdb_connection, fetch_arrow, fetch_numpy, fetch_scalar
from segwise.exceptions import ConfigError, InputError
from segwise.io._compressed import check_compressed
from segwise.io._roles import ColumnRoles, resolve_roles

if TYPE_CHECKING:
    from collections.abc import Mapping

    import ibis.expr.types as ir
    import pandas as pd

__all__ = [
    "STANDARD_COLUMNS",
    "ReadOptions",
    "Transactions",
    "detect_format",
    "load_transactions",
    "quarantine_frame",
]

#: Columns of the typed transaction table every later step works on.
STANDARD_COLUMNS: dict[str, str] = {
    "customer_id": "string",
    "order_id": "string",
    "ts": "timestamp",
    "quantity": "float64",
    "unit_price": "float64",
    "revenue": "float64",
    "product_id": "string",
    "description": "string",
    "country": "string",
}

#: Timestamp layouts tried, in this order, when none is configured; ties go to the first.
TIMESTAMP_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d",
    "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d", "%Y%m%d",
)

_FORMATS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel", ".jsonl": "json", ".ndjson": "json",
    ".json": "json", ".sqlite": "sqlite", ".sqlite3": "sqlite", ".db": "sqlite",
    ".duckdb": "duckdb",
}


@dataclass(frozen=True)
class ReadOptions:
    """How to read a source file; every field is optional.

    Parameters
    ----------
    delimiter : str, optional
        CSV field separator; sniffed when omitted.
    encoding : str, optional
        CSV text encoding (``utf-8``, ``latin-1``, ``utf-16``); UTF-8 when omitted.
    sheet : str or int, optional
        Excel sheet name or index; the first sheet when omitted.
    table : str, optional
        Table to read from a SQLite or DuckDB database file.
    timestamp_format : str, optional
        strptime layout of the timestamp column; detected from the data when omitted.
    max_quarantine_share : float, default=0.05
        Above this share of quarantined rows the load stops with an error instead,
        because so many bad rows mean a wrong setting (delimiter, encoding, layout).
    """

    delimiter: str | None = None
    encoding: str | None = None
    sheet: str | int | None = None
    table: str | None = None
    timestamp_format: str | None = None
    max_quarantine_share: float = 0.05


@dataclass
class Transactions:
    """A loaded, typed transaction log.

    Attributes
    ----------
    table : ibis.Table
        Rows that parsed, with the columns of :data:`STANDARD_COLUMNS` (lazy).
    quarantine_table : pyarrow.Table
        Rows that did not parse: ``row`` (1-based data row, null where the format has
        no row order), ``reason``, and the raw values; :attr:`quarantine` as pandas.
    n_input : int
        Rows read from the source, quarantined ones included.
    source : str
        Where the rows came from.
    roles : ColumnRoles
        Which source column played which role.
    backend : ibis backend
        The engine holding ``table``.
    source_rows : ibis.Table or None
        For sources read as typed columns (Parquet): every source row, the columns that
        play a role renamed with a ``_src_`` prefix. ``None`` for text sources, which are
        parsed once into ``table`` instead.
    parser : callable or None
        Turns a table of prefixed source columns into the standard columns plus
        ``_reason`` (NULL when the row parses); set together with ``source_rows``.
    """

    table: ir.Table
    quarantine_table: pa.Table
    n_input: int
    source: str
    roles: ColumnRoles
    backend: Any = field(repr=False)
    source_rows: ir.Table | None = field(default=None, repr=False)
    parser: Callable[[ir.Table], ir.Table] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if (self.source_rows is None) != (self.parser is None):
            raise ValueError("Transactions: give source_rows and parser together, or neither")

    @functools.cached_property
    def quarantine(self) -> pd.DataFrame:
        """:attr:`quarantine_table` as pandas (see :func:`quarantine_frame`)."""
        return quarantine_frame(self.quarantine_table)

    @property
    def n_quarantined(self) -> int:
        """Number of quarantined rows."""
        return int(self.quarantine_table.num_rows)

    def distinct_lines(self, *, attributed_only: bool = True) -> ir.Table:
        """Distinct lines of :attr:`table`, each with ``_n``: how many input rows it stands for.

        Lines are exact duplicates when they are identical in the source: every column
        that plays a role holds the same value (columns without a role are not read).
        For sources read as typed columns (Parquet) the source rows are grouped before
        they are parsed, and only the distinct rows are parsed: typed source columns make
        smaller grouping keys than parsed text, and the engine can drop rows without a
        customer id while it reads the file. Text sources (CSV, JSON, Excel, SQLite),
        parsed once on loading, are grouped on their parsed columns.

        Parameters
        ----------
        attributed_only : bool, default=True
            Keep only lines with a customer id.

        Returns
        -------
        ibis.Table
            The columns of :data:`STANDARD_COLUMNS` and ``_n`` (int64); ``_n`` sums to the
            number of parsed rows (with a customer id if ``attributed_only``).
        """
        rows = self._lines(with_id=True if attributed_only else None)
        if self.parser is None:
            return _group_copies(rows.select(*STANDARD_COLUMNS), list(_COPY_KEYS))
        keys = [_SRC + col for role, col in self.roles.items() if role in _COPY_KEYS]
        distinct = _group_copies(rows, list(dict.fromkeys(keys)))
        return self.parser(distinct).select(*STANDARD_COLUMNS, "_n")

    def attributed_lines(self) -> ir.Table:
        """Lines of :attr:`table` with a customer id, copies not merged.

        Returns
        -------
        ibis.Table
            The columns of :data:`STANDARD_COLUMNS`.
        """
        return self._parsed(self._lines(with_id=True))

    def unattributed_lines(self) -> ir.Table:
        """Lines of :attr:`table` without a customer id, copies not merged.

        Returns
        -------
        ibis.Table
            The columns of :data:`STANDARD_COLUMNS`.
        """
        return self._parsed(self._lines(with_id=False))

    def _parsed(self, rows: ir.Table) -> ir.Table:
        """Return the standard columns of rows from :meth:`_lines`."""
        if self.parser is not None:
            rows = self.parser(rows)
        return rows.select(*STANDARD_COLUMNS)

    def _lines(self, with_id: bool | None) -> ir.Table:
        """Rows that parse, with a customer id, without one, or all (``None``).

        For typed sources these are source rows (prefixed source columns) to parse; the id
        is tested on the source column, which engines can do while reading the file,
        before any id is turned into text.
        """
        if self.source_rows is None or self.parser is None:
            t = self.table
            if with_id is None:
                return t
            return t.filter(t.customer_id.notnull() if with_id else t.customer_id.isnull())
        src = self.source_rows
        parsed = self.parser(src)
        usable = parsed._reason.isnull()
        if with_id is not None:
            has_id = _has_id(src[_SRC + self.roles.customer_id])
            usable &= has_id if with_id else ~has_id
        return parsed.filter(usable).select(*src.columns)


#: Roles whose columns group copies exactly; the other columns are compared by hash.
_COPY_KEYS = ("customer_id", "order_id")


def _group_copies(rows: ir.Table, keys: list[str]) -> ir.Table:
    """One row per distinct row of ``rows``, with ``_n``: how many rows it stands for.

    On DuckDB the rows are grouped on ``keys`` (customer and order) plus two 64-bit
    hashes of the other columns, taken in opposite orders, instead of on every column:
    wide text keys (descriptions) make grouping about twice as slow. Two different lines
    of one order are merged only if both hashes collide, about 2**-128 per pair (in
    100 M lines, fewer than 10**-29 expected false merges). Spark's ``hash`` has 32 bits, so
    Spark groups on every column.
    """
    rest = [c for c in rows.columns if c not in keys]
    if not rest or _is_spark(rows._find_backend()):
        return rows.group_by(rows.columns).aggregate(_n=rows.count())
    forward = ibis.struct({c: rows[c] for c in rest})
    backward = ibis.struct({c: rows[c] for c in reversed(rest)})
    grouped = rows.group_by(
        *keys, _h1=_hash(forward, forward.type()), _h2=_hash(backward, backward.type())
    ).aggregate(_n=rows.count(), **{c: rows[c].arbitrary() for c in rest})
    return grouped.select(*rows.columns, "_n")


def _hash(value: ir.StructValue, kind: dt.DataType) -> ir.IntegerValue:
    """DuckDB's 64-bit ``hash`` (Ibis's own ``hash()`` adds a slow cast to signed)."""
    fn = ibis.udf.scalar.builtin(
        lambda value: None, name="hash", signature=((kind,), dt.uint64)
    )
    return fn(value)


def detect_format(path: Path) -> str:
    """Return the reader for a path from its suffixes (``.csv.gz`` reads as CSV)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in {".gz", ".zst", ".bz2"}:
        suffixes = suffixes[:-1]
    fmt = _FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise InputError(
            f"{path}: unknown file type {''.join(path.suffixes) or '(no suffix)'}; "
            f"use one of {', '.join(sorted(_FORMATS))} (optionally .gz)"
        )
    return fmt


# Ibis knows no try_strptime; DuckDB has it, and parsing always happens in DuckDB.
@ibis.udf.scalar.builtin
def try_strptime(value: str, fmt: str) -> datetime:  # type: ignore[empty-body]
    """DuckDB's ``try_strptime``: NULL where the value does not match the layout."""


def load_transactions(
    source: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    read: ReadOptions | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    memory_limit: str | None = None,
) -> Transactions:
    """Load a transaction log into a typed table, quarantining rows that do not parse.

    Parameters
    ----------
    source : str or Path
        CSV/TSV (optionally gzip-compressed), Parquet, Excel, JSON lines, SQLite or DuckDB file.
    columns : mapping of role to column name, optional
        Explicit column roles; the rest are recognised from common names.
    read : ReadOptions, optional
        Reader settings.
    engine : {"duckdb", "spark"}, default="duckdb"
        Engine that will hold the table for later steps.
    spark_master : str, optional
        Spark master URL when ``engine="spark"``.
    memory_limit : str, optional
        Cap on DuckDB's memory, e.g. ``"4GB"`` (see :func:`segwise._engine.duckdb_connection`).

    Returns
    -------
    Transactions
        The typed table, the quarantined rows and the input count.

    Raises
    ------
    InputError
        If the file is missing, empty, unreadable, lacks a required column, or has too
        many rows that do not parse.
    """
    read = read or ReadOptions()
    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: no such file. Fix: check the path")
    if path.is_dir() or path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty. Fix: export the order lines again")
    fmt = detect_format(path)
    check_compressed(path)
    if engine == "spark" and fmt == "parquet":
        # Spark reads Parquet itself, so large files never pass through this process.
        backend = connect("spark", spark_master=spark_master)
        raw = backend.read_parquet(str(path))
        rejects = None
    else:
        duck = duckdb_connection(memory_limit)
        raw, rejects = _read_raw(duck, path, fmt, read)
        backend = duck
    roles = resolve_roles([c for c in raw.columns if c != "_row"], columns, source=path)
    # Source columns keep a prefix: engines compare names case-insensitively, so a source
    # column "Quantity" would otherwise collide with the standard "quantity".
    src = raw.select(
        *(["_row"] if "_row" in raw.columns else []),
        **{_SRC + col: col for col in dict.fromkeys(col for _, col in roles.items())},
    )
    read = _resolve_timestamp_format(src, roles, read, path)
    parser = functools.partial(_parse, roles=roles, read=read, path=path)
    parsed = parser(src)
    bad = parsed.filter(parsed._reason.notnull())
    typed = "_row" not in raw.columns
    if not typed:
        # The file was read into DuckDB anyway: keep the parsed rows so that later queries
        # do not parse every timestamp again. The source columns stay in `raw`, and only
        # the quarantine, a few rows, fetches them back.
        parsed = backend.create_table(
            f"parsed_{id(parsed)}", parsed.select("_row", *STANDARD_COLUMNS, "_reason"),
            temp=True,
        )
        bad = parsed.filter(parsed._reason.notnull()).select("_row", "_reason").join(
            src, "_row"
        )
    quarantine = _quarantine_table(bad, roles, rejects)
    n_input = int(fetch_scalar(raw.count()))
    n_input += int(fetch_scalar(rejects.count())) if rejects is not None else 0
    if n_input == 0:
        raise InputError(f"{path}: the file has a header but no rows. Fix: export the rows too")
    _check_quarantine_share(quarantine, n_input, read, path, roles)
    table = parsed.filter(parsed._reason.isnull()).select(*STANDARD_COLUMNS)
    if not _is_spark(backend):
        # A view, not an expression: a query that reads the lines twice (say, those with
        # and without a customer id) then reads them twice, where Ibis would otherwise
        # write a WITH clause that DuckDB materialises in full.
        table = backend.create_view(f"tx_{id(table):x}", table, overwrite=True)
    if engine == "spark" and backend is not None and not _is_spark(backend):
        backend = connect("spark", spark_master=spark_master)
        table = _to_spark(backend, table)
    return Transactions(
        table, quarantine, n_input, str(path), roles, backend,
        source_rows=src if typed else None, parser=parser if typed else None,
    )


def _to_spark(backend: Any, table: ir.Table) -> ir.Table:
    """Hand a table parsed in DuckDB to Spark as a temporary view."""
    name = f"segwise_tx_{id(table):x}"
    frame = table.to_pandas()  # Spark loads pandas anyway
    backend._session.createDataFrame(frame, schema=_spark_schema(table)).createOrReplaceTempView(
        name
    )
    return backend.table(name)


def _spark_schema(table: ir.Table) -> str:
    kinds = {"string": "string", "timestamp": "timestamp", "float64": "double"}
    return ", ".join(f"{c} {kinds[t]}" for c, t in STANDARD_COLUMNS.items() if c in table.columns)


def _is_spark(backend: Any) -> bool:
    return getattr(backend, "name", "") == "pyspark"


def _read_raw(
    duck: Any, path: Path, fmt: str, read: ReadOptions
) -> tuple[ir.Table, ir.Table | None]:
    """Read the file into DuckDB with a 1-based ``_row`` column; return it and CSV rejects."""
    con: duckdb.DuckDBPyConnection = duck.con
    try:
        if fmt == "csv":
            return _read_csv(duck, path, read)
        if fmt == "parquet":
            return duck.read_parquet(str(path)), None
        if fmt == "json":
            con.execute(
                "CREATE TEMP TABLE raw AS SELECT row_number() OVER () AS _row, * "
                "FROM read_json(?, format='auto')",
                [str(path)],
            )
        elif fmt == "excel":
            import pandas as pd

            frame = pd.read_excel(path, sheet_name=read.sheet or 0, dtype=object)
            _register_frame(con, frame)
        elif fmt == "sqlite":
            _register_frame(con, _read_sqlite(path, read.table))
        else:
            _register_frame(con, _read_duckdb_file(path, read.table))
    except (duckdb.Error, ValueError, OSError, sqlite3.Error) as exc:
        raise InputError(f"{path}: cannot read the file as {fmt}: {_first_line(exc)}") from exc
    return duck.table("raw"), None


def _register_frame(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> None:
    import pandas as pd

    frame = frame.copy()
    # Mixed-type object columns (Excel cells) are read as text and parsed like CSV fields.
    for col in frame.columns[frame.dtypes == "object"]:
        frame[col] = frame[col].map(lambda v: None if pd.isna(v) else str(v))
    frame.insert(0, "_row", range(1, len(frame) + 1))
    con.register("raw_frame", frame)
    con.execute("CREATE TEMP TABLE raw AS SELECT * FROM raw_frame")
    con.unregister("raw_frame")


_CSV_BUFFER_BYTES = 4 * 2**20


def _read_csv(duck: Any, path: Path, read: ReadOptions) -> tuple[ir.Table, ir.Table | None]:
    con: duckdb.DuckDBPyConnection = duck.con
    # A 4 MB buffer (default 32 MB) keeps DuckDB from decompressing most of a gzip file
    # just to sniff its dialect.
    opts = ["header=true", "all_varchar=true", "store_rejects=true", "null_padding=false",
            f"buffer_size={_CSV_BUFFER_BYTES}"]
    params: list[Any] = [str(path)]
    if read.delimiter:
        opts.append("delim=?")
        params.append(read.delimiter)
    if read.encoding:
        opts.append("encoding=?")
        params.append(read.encoding)
    # Only fixed option names are formatted in; every value is a parameter.
    options = ", ".join(opts)
    sql = f"CREATE TEMP TABLE raw_csv AS SELECT * FROM read_csv(?, {options})"  # noqa: S608
    try:
        con.execute(sql, params)
    except duckdb.Error as exc:
        raise InputError(
            f"{path}: cannot read the file as CSV: {_first_line(exc)}. "
            "Fix: check [read] delimiter and encoding in the config"
        ) from exc
    # DuckDB counts file lines from 1 with the header as line 1; rows count data lines.
    # An encoding error on any line suggests the fix on every line.
    hint = "" if read.encoding else "; set [read] encoding = \"latin-1\" if the file is not UTF-8"
    con.execute(
        "CREATE TEMP TABLE csv_rejects AS "
        "SELECT row, reason || CASE WHEN bool_or(regexp_matches(reason, 'ENCODING|UNICODE')) "
        "OVER () THEN $hint ELSE '' END AS reason, raw_line FROM ("
        "SELECT (line - 1)::BIGINT AS row, 'unreadable line (' || left(string_agg(DISTINCT "
        "error_type || ': ' || error_message, '; '), 200) || ')' AS reason, "
        "any_value(csv_line) AS raw_line FROM reject_errors GROUP BY line) ORDER BY row",
        {"hint": hint},
    )
    rejected = con.sql("SELECT row FROM csv_rejects ORDER BY row").fetchnumpy()["row"]
    _number_rows(con, rejected if len(rejected) else None)
    return duck.table("raw"), duck.table("csv_rejects") if len(rejected) else None


def _number_rows(con: duckdb.DuckDBPyConnection, rejected: np.ndarray | None) -> None:
    """Create the view ``raw``: the rows of ``raw_csv`` with their 1-based row in the file.

    The table keeps the file's order (DuckDB preserves insertion order), so its rowid
    numbers the rows read; ``row_number()`` would do the same in a single-threaded pass
    over the data (a third of the read time). Rows after a rejected line move down by the
    number of rejected lines before them, so that quarantined rows of both kinds carry
    their row in the file.
    """
    names = [r[0].lower() for r in con.execute("DESCRIBE raw_csv").fetchall()]
    index = "row_number() OVER ()" if "rowid" in names else "rowid + 1"  # a column named rowid
    if rejected is None:
        con.execute(f"CREATE TEMP VIEW raw AS SELECT {index} AS _row, * FROM raw_csv")  # noqa: S608
        return
    # The m-th rejected row r_m (ascending) shifts every read row from index r_m - m + 1 on;
    # consecutive rejected rows share a start, where the last (largest) shift counts.
    start = rejected - np.arange(len(rejected))
    last = np.append(start[1:] != start[:-1], True)
    shifts = {"start": start[last], "shift": np.flatnonzero(last) + 1}
    con.register("raw_shift_frame", shifts)
    con.execute("CREATE TEMP TABLE raw_shift AS SELECT * FROM raw_shift_frame")
    con.unregister("raw_shift_frame")
    con.execute(
        f"CREATE TEMP VIEW raw AS SELECT r._i + coalesce(s.shift, 0) AS _row, r.* EXCLUDE (_i) "  # noqa: S608
        f"FROM (SELECT {index} AS _i, * FROM raw_csv) AS r "
        "ASOF LEFT JOIN raw_shift AS s ON r._i >= s.start"
    )


def _read_sqlite(path: Path, table: str | None) -> pd.DataFrame:
    import pandas as pd

    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        name = _pick_table(path, names, table)
        quoted = '"' + name.replace('"', '""') + '"'
        return pd.read_sql_query(f"SELECT * FROM {quoted}", con)  # noqa: S608 - quoted identifier


def _read_duckdb_file(path: Path, table: str | None) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        query = "SELECT table_name FROM information_schema.tables"
        names = [r[0] for r in con.execute(query).fetchall()]
        name = _pick_table(path, names, table)
        return con.table(name).df()


def _pick_table(path: Path, names: list[str], table: str | None) -> str:
    if table is not None:
        if table not in names:
            raise InputError(
                f"{path}: no table {table!r} (tables: {', '.join(names) or 'none'}). "
                "Fix: set [read] table to one of them"
            )
        return table
    if len(names) != 1:
        raise InputError(
            f"{path}: {len(names)} tables ({', '.join(names) or 'none'}); "
            "Fix: name the one to read with [read] table = \"...\""
        )
    return names[0]


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# Ibis turns a negative start into LENGTH() arithmetic; DuckDB and Spark both read a
# negative start as counted from the end, which is several times faster.
@ibis.udf.scalar.builtin(name="substring")
def _substring(value: str, start: int, length: int) -> str:  # type: ignore[empty-body]
    """Call the engine's ``substring`` (1-based; a negative start counts from the end)."""


def _strip(text: ir.StringValue) -> ir.StringValue:
    """``text.strip()`` (ASCII whitespace), run only where an edge character could be blank.

    Trimming with a character set costs about four times a test of the first and last
    characters, and almost no value needs it. Every whitespace character sorts at or below
    the space, so a value whose ends sort above it has nothing to trim.
    """
    edge = (_substring(text, 1, 1) <= " ") | (_substring(text, -1, 1) <= " ")
    return ibis.ifelse(edge, text.strip(), text)


def _blank(value: ir.Value) -> ir.BooleanValue:
    if value.type().is_string():
        return value.isnull() | (_strip(value) == "")
    return value.isnull()


def _as_float(value: ir.Value) -> ir.FloatingValue:
    if value.type().is_numeric():
        return value.cast("float64")
    return _strip(value.cast("string")).try_cast("float64")


def _as_text(value: ir.Value) -> ir.StringValue:
    text = _strip(value.cast("string"))
    return ibis.ifelse(text == "", ibis.null(), text)


def _as_id(value: ir.Value) -> ir.StringValue:
    """Return identifiers as text; ``17850.0`` (a float export of an int id) becomes ``17850``."""
    if value.type().is_floating():
        return value.cast("int64").cast("string")
    text = _as_text(value)
    # Only text with a dot can match; testing for one first skips the regex on most rows.
    return ibis.ifelse(text.contains("."), text.re_replace(r"^(\d+)\.0+$", r"\1"), text)


def _has_id(value: ir.Value) -> ir.BooleanValue:
    """Whether :func:`_as_id` gives a non-NULL id, without building the id."""
    return ~_blank(value)


def _sample_strings(value: ir.Value, n: int = 2000) -> list[str]:
    col = _strip(value.cast("string")).name("v")
    values = col.as_table()
    sample = values.filter(values.v.notnull() & (values.v != "")).distinct().limit(n)
    return [str(v) for v in fetch_numpy(sample)["v"]]


def _detect_timestamp_format(values: list[str], path: Path, column: str) -> str:
    best, best_ok = TIMESTAMP_FORMATS[0], -1
    for fmt in TIMESTAMP_FORMATS:
        ok = sum(1 for v in values if _parses(v, fmt))
        if ok > best_ok:
            best, best_ok = fmt, ok
        if best_ok == len(values):
            break  # no later layout can do better, and ties go to the first
    if values and best_ok < 0.5 * len(values):
        examples = ", ".join(repr(v) for v in itertools.islice(values, 3))
        raise InputError(
            f"{path}: column {column}: cannot recognise the timestamp layout of values such as "
            f"{examples}. Fix: set [read] timestamp_format, e.g. \"%d/%m/%Y %H:%M\""
        )
    return best


def _parses(value: str, fmt: str) -> bool:
    try:
        datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


_SRC = "_src_"


def _resolve_timestamp_format(
    src: ir.Table, roles: ColumnRoles, read: ReadOptions, path: Path
) -> ReadOptions:
    """Return ``read`` with the layout of a text timestamp column filled in.

    The layout is detected once, so that parsing the rows again (distinct rows after
    deduplication) samples nothing.
    """
    value = src[_SRC + roles.timestamp]
    if not value.type().is_string() or _is_spark(src._find_backend()):
        return read
    if read.timestamp_format:
        return read
    fmt = _detect_timestamp_format(_sample_strings(value), path, _SRC + roles.timestamp)
    return dataclasses.replace(read, timestamp_format=fmt)


def _parse_timestamp(
    value: ir.Value, read: ReadOptions, path: Path, spark: bool
) -> ir.TimestampValue:
    if value.type().is_timestamp():
        return value.cast(dt.Timestamp())
    if value.type().is_date():
        return value.cast("timestamp")
    if spark:
        if read.timestamp_format:
            raise ConfigError(
                f"{path}: with engine spark, Parquet timestamps stored as text must be ISO-8601;"
                " convert the column or load with engine duckdb"
            )
        return value.cast("string").try_cast("timestamp")
    # load_transactions detected the layout when none was configured.
    fmt = read.timestamp_format or TIMESTAMP_FORMATS[0]
    return try_strptime(_strip(value.cast("string")), fmt)


def _parse(raw: ir.Table, roles: ColumnRoles, read: ReadOptions, path: Path) -> ir.Table:
    """Typed standard columns plus ``_reason``: why the row cannot be used, else NULL.

    ``raw`` holds the source columns with the ``_src_`` prefix; its other columns are
    passed through.
    """
    spark = _is_spark(raw._find_backend())
    r = {role: _SRC + col for role, col in roles.items()}
    ts = _parse_timestamp(raw[r["timestamp"]], read, path, spark)
    quantity = _as_float(raw[r["quantity"]]) if "quantity" in r else ibis.literal(1.0)
    name = dict(roles.items())
    checks: list[tuple[ir.BooleanValue, str]] = [
        (_blank(raw[r["timestamp"]]), f"{name['timestamp']}: empty timestamp"),
        (ts.isnull(), f"{name['timestamp']}: not a timestamp"),
    ]
    if "quantity" in r:
        checks += [
            (_blank(raw[r["quantity"]]), f"{name['quantity']}: empty quantity"),
            (quantity.isnull(), f"{name['quantity']}: not a number"),
        ]
    if "amount" in r:
        revenue = _as_float(raw[r["amount"]])
        unit_price = ibis.ifelse(quantity == 0, revenue, revenue / quantity.abs())
        checks += [
            (_blank(raw[r["amount"]]), f"{name['amount']}: empty amount"),
            (revenue.isnull(), f"{name['amount']}: not a number"),
        ]
    else:
        unit_price = _as_float(raw[r["unit_price"]])
        revenue = quantity * unit_price
        checks += [
            (_blank(raw[r["unit_price"]]), f"{name['unit_price']}: empty price"),
            (unit_price.isnull(), f"{name['unit_price']}: not a number"),
        ]
    customer = _as_id(raw[r["customer_id"]])
    order = _as_id(raw[r["order_id"]]) if "order_id" in r else None
    if order is None:
        # Purchase-occasion convention: one order per customer and timestamp.
        order = customer.concat("@", ts.cast("string"))
    reason = ibis.cases(*checks, else_=ibis.null("string"))
    optional = {
        name: _as_text(raw[r[name]]) if name in r else ibis.null("string")
        for name in ("product_id", "description", "country")
    }
    return raw.mutate(
        customer_id=customer,
        order_id=order,
        ts=ts,
        quantity=quantity,
        unit_price=unit_price,
        revenue=revenue,
        **optional,
        _reason=reason,
    )


def _quarantine_table(bad: ir.Table, roles: ColumnRoles, rejects: ir.Table | None) -> pa.Table:
    """Return the rows that did not parse, as text, and the CSV rejects, ordered by row."""
    source_cols = list(dict.fromkeys(col for _, col in roles.items()))
    if "_row" not in bad.columns:  # no row order in the format (Parquet), so no CSV rejects
        return fetch_arrow(bad.select(
            row=ibis.null("int64"), reason=bad._reason,
            **{col: bad[_SRC + col].cast("string") for col in source_cols},
        ))
    table = bad.select(
        row=bad._row.cast("int64"), reason=bad._reason,
        **{col: bad[_SRC + col].cast("string") for col in source_cols},
    )
    if rejects is not None:
        text = ibis.null("string")
        table = table.mutate(raw_line=text).union(
            rejects.mutate(**{col: text for col in source_cols}).select(*table.columns, "raw_line")
        )
    return fetch_arrow(table.order_by("row"))


def quarantine_frame(table: pa.Table) -> pd.DataFrame:
    """Return a quarantine table as pandas: ``row`` nullable ``Int64``, raw values as text.

    Parameters
    ----------
    table : pyarrow.Table
        :attr:`Transactions.quarantine_table`.

    Returns
    -------
    pandas.DataFrame
        The same rows and columns.
    """
    frame = table.to_pandas()
    frame["row"] = frame["row"].astype("Int64")
    for col in frame.columns.difference(["row", "reason", "raw_line"], sort=False):
        frame[col] = frame[col].astype("string")
    return frame


def _check_quarantine_share(
    quarantine: pa.Table, n_input: int, read: ReadOptions, path: Path, roles: ColumnRoles
) -> None:
    share = quarantine.num_rows / n_input
    if share <= read.max_quarantine_share:
        return
    first = quarantine.slice(0, 1).to_pylist()[0]
    where = f"row {first['row']}" if first["row"] is not None else "first bad row"
    raise InputError(
        f"{path}: {quarantine.num_rows:,} of {n_input:,} rows ({share:.0%}) cannot be parsed; "
        f"{where}: {first['reason']}. Fix: check [read] delimiter, encoding and "
        f"timestamp_format, or the [columns] mapping (now {dict(roles.items())}); "
        "raise [read] max_quarantine_share to accept them"
    )
