"""Read a source of any kind from any supported file into a typed Ibis table.

The readers (CSV, Parquet, Excel, JSON lines, SQLite, DuckDB) are shared by every source
kind; the kind (:class:`segwise.io.SourceKind`) says which roles to find and how to parse
them. Parsing happens in Ibis expressions, so a value that cannot be parsed is never dropped:
its row is quarantined with the source row number and a reason naming the column.
Lines too malformed to split into columns (wrong field count, invalid UTF-8) are taken
from DuckDB's CSV reject tables and quarantined the same way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import operator
import re
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import numpy as np
import pyarrow as pa

from segwise._engine import (
    ENGINES,
    connect,
    duckdb_connection,
    duckdb_error,
    engine_error,
    fetch_arrow,
    fetch_scalar,
    file_signature,
    row_store,
)
from segwise._frames import DataSource, is_path, table_label
from segwise.exceptions import (
    ConfigError,
    InputError,
    SegwiseWarning,
    columns_key,
    read_fix,
    read_key,
    read_setting,
)
from segwise.io._compressed import (
    COMPRESSIONS,
    PYTHON_COMPRESSIONS,
    checking_compressed,
    inner_name,
)
from segwise.io._json import read_json_rows
from segwise.io._kinds import SourceKind, get_kind
from segwise.io._memory import read_table
from segwise.io._parse import (
    SOURCE_PREFIX,
    is_blank,
    is_spark,
    is_typed_timestamp,
    layout_counts,
    parse_timestamp,
    resolve_timestamp_format,
)
from segwise.io._roles import ColumnRoles, resolve_roles
from segwise.io._tables import (
    DATABASE_FORMATS,
    JOIN_PREFIX,
    JOIN_REASON,
    PARSED_PREFIX,
    Database,
    Join,
    join_fix,
    join_reason,
)
from segwise.io._text import (
    BLANKS,
    bom_codec,
    check_codec,
    duckdb_encoding,
    guess_delimiter,
    guess_title_lines,
    head_lines,
    localise_number,
    localise_numbers,
    number_hint,
    one_byte_codec,
    write_normalised,
)

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    import ibis.expr.types as ir
    import pandas as pd

__all__ = [
    "ReadOptions",
    "Source",
    "detect_format",
    "group_copies",
    "load_source",
    "quarantine_frame",
]

_FORMATS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".data": "csv", ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel", ".jsonl": "json", ".ndjson": "json",
    ".json": "json", ".sqlite": "sqlite", ".sqlite3": "sqlite", ".db": "sqlite",
    ".duckdb": "duckdb",
}

#: Files of known layouts segwise does not read as they are: what they are, how to convert.
_CONVERT = {
    ".plt": ("GeoLife trajectories (.plt), which have no user column",
             "convert the folder above Data/ (or the archive) to pings with "
             "segwise.datasets.geolife_pings(folder, 'pings.parquet') and read that"),
}
#: The first line of those files, for one renamed (``.csv``, ``.txt``): its suffix above.
_CONVERT_FIRST_LINES = {"Geolife trajectory": ".plt"}
#: Suffixes of tar archives: many files, where segwise reads one table.
_TAR_SUFFIXES = (".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst")

#: Compressions read, per format: text files any; JSON those DuckDB reads; others none.
_COMPRESSIONS_READ = {"csv": COMPRESSIONS, "json": (".gz", ".zst")}

#: Thousands separators ``[read] thousands`` accepts (the last two: no-break spaces).
_THOUSANDS = (".", ",", " ", "'", "\u00a0", "\u202f")


@dataclass(frozen=True)
class ReadOptions:
    """How to read a source file; every field is optional.

    Parameters
    ----------
    delimiter : str, optional
        CSV field separator; sniffed when omitted. ``" "`` reads columns separated by runs
        of spaces and tabs (blanks at the start and end of a line ignored), as in CDNOW.
    encoding : str, optional
        CSV text encoding (``utf-8``, ``latin-1``, ``cp1252``, ``utf-16``, any that Python
        knows); UTF-8 when omitted, or UTF-16/32 when the file starts with their byte-order
        mark. Line endings may be LF, CRLF or CR, mixed in any way.
    header : bool, optional
        Whether the first line of a CSV file (the first row of an Excel sheet) names the
        columns. When omitted, the kind decides (:attr:`SourceKind.header`): order lines
        expect a header, people files have it detected.
    skip_rows : int, default=0
        Lines above the table in a CSV file (a title, an export date), or rows above it
        in an Excel sheet, left unread: the header (or the first row) is the next one.
    names : tuple of str, default=()
        Column names, one per column: of a file without a header (``header = false``), or
        replacing the header's. Without a header and without names, columns are called
        ``column_1``, ``column_2``, ...
    decimal : {".", ","}, default="."
        Decimal separator of numbers written as text.
    thousands : str, optional
        Thousands separator of numbers written as text (``"."``, ``","``, ``" "``, ``"'"``);
        numbers have none when omitted.
    sheet : str or int, optional
        Excel sheet name or 0-based index; the first sheet when omitted.
    table : str, optional
        Table to read from a SQLite or DuckDB database file.
    join : tuple of Join, default=()
        Tables of the same database joined to ``table``, many rows to one, on key columns
        named alike: ``join = [{table = "SearchInfo", on = "SearchID"}]`` in a config
        file. A row whose key matches no row of a joined table, or several, is quarantined.
    timestamp_format : str, optional
        strptime layout of text timestamps; detected from the data when omitted.
    max_quarantine_share : float, default=0.05
        Above this share of quarantined rows the load stops with an error instead,
        because so many bad rows mean a wrong setting (delimiter, encoding, layout).
    latest_date : date, optional
        The last day a row may be dated (in a kind's time column): rows dated later are
        quarantined. The day after the run's date when omitted (a day of slack for
        sources kept in a time zone ahead of this machine's): a row from the future is
        a typing or clock error, and would move every recency.

    Raises
    ------
    ConfigError
        If the timestamp layout is not one DuckDB reads, or the share is not in [0, 1].
    """

    delimiter: str | None = None
    encoding: str | None = None
    header: bool | None = None
    skip_rows: int = 0
    names: tuple[str, ...] = ()
    decimal: str = "."
    thousands: str | None = None
    sheet: str | int | None = None
    table: str | None = None
    join: tuple[Join, ...] = ()
    timestamp_format: str | None = None
    max_quarantine_share: float = 0.05
    latest_date: date | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.max_quarantine_share <= 1:
            raise ConfigError(f"{read_setting('max_quarantine_share', self.max_quarantine_share)}"
                              ": expected a share between 0 and 1")
        if self.timestamp_format is not None:
            error = duckdb_error("SELECT try_strptime('', ?)", [self.timestamp_format])
            if error is not None:
                raise ConfigError(f"{read_setting('timestamp_format', self.timestamp_format)}: "
                                  f"{error}. Fix: use strptime codes such as %Y-%m-%d %H:%M")
        object.__setattr__(self, "join", tuple(Join.parse(j) for j in self.join))
        object.__setattr__(self, "names", tuple(self.names))
        if self.delimiter == "":
            raise ConfigError(f"{read_setting('delimiter', '')} is empty; write e.g. \";\" or "
                              "\" \" (blanks)")
        if self.encoding is not None:
            check_codec(self.encoding)
        if isinstance(self.skip_rows, bool) or not isinstance(self.skip_rows, int) or (
                self.skip_rows < 0):
            raise ConfigError(f"{read_setting('skip_rows', self.skip_rows)} is not a number of "
                              "lines (0 or more)")
        if self.header is not None and not isinstance(self.header, bool):
            raise ConfigError(f"{read_setting('header', self.header)} is not true or false")
        if (not all(isinstance(n, str) and n.strip() for n in self.names)
                or len(set(self.names)) != len(self.names)):
            raise ConfigError(f"{read_setting('names', self.names)}: give each column a "
                              "different, non-empty name")
        if self.decimal not in (".", ","):
            raise ConfigError(f"{read_setting('decimal', self.decimal)} is not \".\" or \",\"")
        if self.thousands is not None and (
                self.thousands not in _THOUSANDS or self.thousands == self.decimal):
            raise ConfigError(
                f"{read_setting('thousands', self.thousands)} is not one of "
                f"{', '.join(repr(t) for t in _THOUSANDS if t != self.decimal)} "
                f"(with decimal = {self.decimal!r})"
            )

    def latest(self) -> date:
        """:attr:`latest_date`, or the day after today when it is not set."""
        return self.latest_date or date.today() + timedelta(days=1)


@dataclass
class Source:
    """A loaded, typed source table of one kind.

    Attributes
    ----------
    table : ibis.Table
        Rows that parsed, with the kind's standard columns (and, for a kind that keeps
        them, every column no role claims), lazy. Loaded ``counted`` (see
        :func:`load_source`), it may also have ``_n``: how many rows each row stands for.
    quarantine_table : pyarrow.Table
        Rows that did not parse: ``row`` (1-based data row, null where the format has
        no row order), ``reason``, and the raw values; :attr:`quarantine` as pandas.
    n_input : int
        Rows read from the source, quarantined ones included.
    source : str
        Where the rows came from.
    roles : ColumnRoles
        Which source column played which role (of the roles read, see
        :func:`load_source`'s ``uses``); ``roles.kind`` is the source kind.
    backend : ibis backend
        The engine holding ``table``.
    source_rows : ibis.Table or None
        For sources read as typed columns (Parquet): every source row, the columns that
        play a role renamed with the ``_src_`` prefix. ``None`` for text sources, which are
        parsed once into ``table`` instead.
    parser : callable or None
        Turns a table of prefixed source columns into the standard columns plus
        ``_reason`` (NULL when the row parses); set together with ``source_rows``.
    as_of : date or None
        Rows dated after this day were left out (not quarantined: they are valid, only
        later than the run looks).
    n_after_as_of : int
        How many rows that was.
    totals : dict of str to value
        The kind's :attr:`~segwise.io.SourceKind.totals` over the rows, computed in the
        loader's scan (empty for a kind without them).
    counted : bool
        Whether the loader stored rows equal in every column read once, with ``_n`` (see
        :func:`load_source`'s ``counted``): whatever counts rows sums ``_n``.
    """

    table: ir.Table
    quarantine_table: pa.Table
    n_input: int
    source: str
    roles: ColumnRoles
    backend: Any = field(repr=False)
    source_rows: ir.Table | None = field(default=None, repr=False)
    parser: Callable[[ir.Table], ir.Table] | None = field(default=None, repr=False)
    as_of: date | None = None
    n_after_as_of: int = 0
    totals: dict[str, Any] = field(default_factory=dict)
    counted: bool = False

    def __repr__(self) -> str:
        # The dataclass repr printed the table's expression and the quarantine in full.
        return counts_repr(self, self.source,
                           f"kind {self.kind.name!r} x {len(self.table.columns)} columns")

    def __post_init__(self) -> None:
        if (self.source_rows is None) != (self.parser is None):
            raise ValueError(f"{type(self).__name__}: give source_rows and parser together, "
                             "or neither")

    @property
    def kind(self) -> SourceKind:
        """The source kind."""
        return self.roles.kind

    @functools.cached_property
    def quarantine(self) -> pd.DataFrame:
        """:attr:`quarantine_table` as pandas (see :func:`quarantine_frame`)."""
        return quarantine_frame(self.quarantine_table)

    @property
    def n_quarantined(self) -> int:
        """Number of quarantined rows."""
        return int(self.quarantine_table.num_rows)



def counts_repr(rows: Any, source: str | None, *more: str) -> str:
    """Say in one line what a loaded or cleaned object holds, by counts known without a query.

    ``Transactions(source='retail.csv'; rows in 541,909, quarantined 12, ...)``: what a
    notebook shows, as the results of jobs do, where a dataclass printed its tables'
    expressions screen after screen. ``rows`` has ``n_input`` and ``n_quarantined``, and
    may have ``n_after_as_of``; ``more`` follows the counts.
    """
    after = getattr(rows, "n_after_as_of", None)
    said = [f"rows in {rows.n_input:,}", f"quarantined {rows.n_quarantined:,}",
            *([f"after_as_of {after:,}"] if after else []), *more]
    where = f"source={source!r}; " if source is not None else ""
    return f"{type(rows).__name__}({where}{', '.join(said)})"


def group_copies(rows: ir.Table, keys: list[str],
                 derived: Mapping[str, Callable[[ir.Table], ir.Value]] | None = None, *,
                 read_again: bool = False, telling: Collection[str] | None = None) -> ir.Table:
    """One row per distinct row of ``rows``, with ``_n``: how many rows it stands for.

    On DuckDB the rows are grouped on ``keys`` (for order lines customer and order) plus
    two 64-bit hashes of the other columns, taken in opposite orders, instead of on every
    column: wide text keys (descriptions) make grouping about twice as slow. Two different
    rows with equal keys are merged only if both hashes collide, about 2**-128 per pair (in
    100 M lines, fewer than 10**-29 expected false merges). Spark's ``hash`` has 32 bits, so
    Spark groups on every column. Rows that already have ``_n`` (a source loaded
    ``counted``) add theirs up. ``derived`` columns, each computed by a function of the
    rows (equal in copies), are added last, taken from any row of a group and left out of
    the hashes.

    With ``read_again`` (rows that are cheap to read twice: source columns, or a stored
    table, not rows parsed on the way), copies are found in two phases: the first hash
    alone is counted, a row whose hash no other row has is a group of its own (1 row, or
    its own ``_n``), and only the rows of repeated hashes are grouped as above; the groups
    are the same. Most rows have no copy, and they no longer pass through the wide grouping
    (at 30 M generated lines, 22.6 M rows and 0.35 M repeated hashes). ``telling``: the
    columns that tell most rows apart (of order lines: time, quantity, price, product), the
    only ones the first hash reads; a copy agrees in them too, so a row alone in them is
    alone, and rows that agree in them alone are compared on every column as above. The
    rows without a copy are then read without the others (long descriptions).
    """
    derived = dict(derived or {})
    rest = [c for c in rows.columns if c != "_n" and c not in keys]
    columns = [*(c for c in rows.columns if c != "_n"), *derived]
    backend = rows._find_backend()

    def add(t: ir.Table) -> ir.Table:
        return t.mutate(**{name: fn(t) for name, fn in derived.items()})

    if not rest or is_spark(backend):
        every = add(rows)
        return every.group_by(columns).aggregate(_n=_rows_of(every))

    def hashed(t: ir.Table, order: list[str]) -> ir.IntegerValue:
        value = ibis.struct({c: t[c] for c in order})
        return _hash(value, value.type())

    def grouped(t: ir.Table) -> ir.Table:
        return t.group_by(*keys, _h1=hashed(t, rest), _h2=hashed(t, rest[::-1])).aggregate(
            _n=_rows_of(t), **{c: t[c].arbitrary() for c in [*rest, *derived]}
        ).select(*columns, "_n")

    if not read_again:
        return grouped(add(rows))
    # A view, not an expression: each phase reads the rows anew, where a relation that
    # several parts of a query read would be written as a WITH clause, which DuckDB
    # materialises in full (2.8 GB more at 30 M lines, for no less CPU).
    first = [c for c in rest if telling is None or c in telling] or rest
    # 32 bits of the first hash: it only picks the rows the second phase compares, so a
    # collision costs a row in that phase, never a wrong group (at 22.6 M rows about 0.1 M
    # more rows there; the sort of half-width keys saves more, and a fifth of the memory).
    rows = backend.create_view(ibis.util.gen_name("copies"), rows.mutate(
        _h1=(hashed(rows, first) % 2**32).cast("uint32")))
    # Repeated hashes found by sorting them, each next to the one before: at 22.6 M rows
    # half the time and CPU of counting them in a hash table (every hash its own group).
    before = rows.select("_h1", _before=rows._h1.lag().over(order_by=rows._h1))
    repeated = before.filter(before._h1 == before._before).select("_h1").distinct()
    alone = add(rows.anti_join(repeated, "_h1"))
    alone = alone.select(*columns, _n=alone._n if "_n" in alone.columns
                         else ibis.literal(1, "int64"))
    # The repeated hashes are counted once for both joins: read through a view of them
    # in one, they are a relation that two read, which Ibis writes as a WITH clause.
    copies = rows.semi_join(repeated.view(), "_h1").drop("_h1")
    return alone.union(grouped(add(copies)))


def _rows_of(rows: ir.Table) -> ir.IntegerScalar:
    """How many rows ``rows`` stand for: their ``_n`` summed (a counted source), or counted."""
    return rows._n.sum() if "_n" in rows.columns else rows.count()


def _hash(value: ir.StructValue, kind: dt.DataType) -> ir.IntegerValue:
    """DuckDB's 64-bit ``hash`` (Ibis's own ``hash()`` adds a slow cast to signed)."""
    fn = ibis.udf.scalar.builtin(
        lambda value: None, name="hash", signature=((kind,), dt.uint64)
    )
    return fn(value)


def detect_format(path: Path) -> str:
    """Return the reader for a path from its suffixes (``.csv.gz`` reads as CSV).

    A directory of Parquet files reads as one Parquet source.
    """
    if path.is_dir() and any(path.glob("**/*.parquet")):
        return "parquet"
    compression = path.suffix.lower() if path.suffix.lower() in COMPRESSIONS else None
    inner = Path(inner_name(path)) if compression and path.is_file() else path.with_suffix("")
    suffix = (inner if compression else path).suffix.lower()
    fmt = _FORMATS.get(suffix)
    if fmt is None and suffix in _CONVERT:
        what, fix = _CONVERT[suffix]
        raise InputError(f"{path}: {what}. Fix: {fix}")
    if fmt is None and path.name.lower().endswith(_TAR_SUFFIXES):
        raise InputError(_tar_message(path))
    if fmt is None:
        raise InputError(
            f"{path}: unknown file type {''.join(path.suffixes) or '(no suffix)'}"
            f"{f' (it holds {inner.name})' if compression == '.zip' else ''}; use one of "
            f"{', '.join(sorted(_FORMATS))}, optionally compressed ({', '.join(COMPRESSIONS)};"
            " a .zip of one file)"
        )
    if not compression and path.is_file():
        # What the first bytes say wins: a DuckDB database named .db, a SQLite one named
        # .duckdb (which DuckDB would try to read by downloading an extension).
        fmt = file_signature(path) or fmt
    read = _COMPRESSIONS_READ.get(fmt, ())
    if compression and compression not in read:
        raise InputError(f"{path}: {fmt} data compressed as {compression} are not read. Fix: "
                         "decompress the file first"
                         + (f", or compress it as {' or '.join(read)}" if read else ""))
    return fmt


def load_source(
    source: DataSource,
    kind: str | SourceKind,
    *,
    columns: Mapping[str, str] | None = None,
    read: ReadOptions | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    memory_limit: str | None = None,
    as_of: date | str | None = None,
    uses: Collection[str] | None = None,
    counted: bool = False,
) -> Source:
    """Load a source of any kind into a typed table, quarantining rows that do not parse.

    For a kind with a time column, rows dated after ``read.latest()`` (the day after the
    run, unless ``[read] latest_date`` says otherwise) are quarantined, and rows dated
    after ``as_of`` are left out and counted (:attr:`Source.n_after_as_of`).

    Parameters
    ----------
    source : str, Path or table in memory
        CSV/TSV (optionally gzip-compressed), Parquet, Excel, JSON lines, SQLite or DuckDB
        file; or a pandas or polars DataFrame, Arrow table or Ibis table, read like a file
        (its rows numbered in its order; typed columns stay typed, text is parsed) and
        named by its type in messages and the record (``"pandas DataFrame"``).
    kind : str or SourceKind
        The source kind (``"orders"``, or any kind passed to :func:`register_kind`).
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
    as_of : date or str, optional
        Leave out rows dated after this day (a job's reference date): a line after it
        would count in recency and frequency as if it had already happened. Text is a
        day written ``YYYY-MM-DD``.
    uses : collection of str, optional
        The roles the caller reads (a job's, see :attr:`segwise.jobs.Job.uses`); the
        kind's required roles are always read. A column found for another role is
        treated like a column no role claims: not read from a database, not parsed, not
        checked (a bad value in it quarantines nothing), and left out of the table (its
        standard column is NULL) and of the quarantine; a kind that keeps the columns no
        role claims does not keep it either. Every role when omitted.
    counted : bool, default=False
        Allow rows equal in every column read to be stored once, with ``_n`` in
        :attr:`Source.table`: how many rows each stands for (every reader of the table
        then weights by it). Rows of a database read into DuckDB are so stored (10 M
        impressions of an ad log are 3.65 M distinct rows once the ad is not read);
        other sources have no ``_n``. Quarantined rows are never merged, and kinds with
        :attr:`~SourceKind.totals` are never counted.

    Returns
    -------
    Source
        The typed table, the quarantined rows and the input count (of the kind's
        ``source_class``).

    Raises
    ------
    InputError
        If the file is missing, empty, unreadable, lacks a required column, or has too
        many rows that do not parse.
    """
    spec = get_kind(kind)
    if engine not in ENGINES:  # anything else ran on DuckDB without a word
        raise ConfigError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if as_of is not None and type(as_of) is not date:
        from segwise._time import to_date

        as_of = to_date(as_of, "as_of")
    # A table in memory is named by what holds it ("pandas DataFrame") in every message.
    path = Path(source if is_path(source) else table_label(source))
    used = None if uses is None else frozenset(uses)
    if not is_path(source):
        return _load(source, spec, path, "table", columns, read or ReadOptions(), engine,
                     spark_master, memory_limit, as_of, used, counted)
    fmt = _check_file(path, spec)
    with checking_compressed(path):
        return _load(source, spec, path, fmt, columns, read or ReadOptions(), engine,
                     spark_master, memory_limit, as_of, used, counted)


def _load(
    source: DataSource, spec: SourceKind, path: Path, fmt: str,
    columns: Mapping[str, str] | None, read: ReadOptions, engine: str,
    spark_master: str | None, memory_limit: str | None, as_of: date | None,
    uses: frozenset[str] | None, counted: bool,
) -> Source:
    """:func:`load_source` once the file is known to exist (``fmt``: its reader)."""
    if read.header is None and spec.header is not None:
        read = dataclasses.replace(read, header=spec.header)
    if read.join and fmt not in DATABASE_FORMATS:
        raise ConfigError(f"{path}: {read_key('join')} needs a SQLite or DuckDB database, "
                          f"not {fmt}")
    rejects = None
    src: ir.Table | None = None
    parser: _Parser
    if fmt in DATABASE_FORMATS:
        database = Database(path, fmt, read.table, read.join)
        found = resolve_roles(database.columns, columns, source=path, kind=spec)
        others, roles = _others(database.columns, found, spec, path), _used(found, uses)
        if engine != "spark" or fmt != "sqlite":
            backend = duckdb_connection(memory_limit)
            parsed, bad, n_input, parser = _read_database(
                backend, database, _Parser(spec, roles, read, path, read.latest(), as_of), others,
                counted=counted and spec.totals is None)
            quarantine = _quarantine_table(bad, roles, None)
            if quarantine.num_rows == n_input:  # a join that matched nothing: one line
                database.check_matches(bad, n_input)
        else:
            backend = connect("spark", spark_master=spark_master)
            name = f"segwise_db_{id(database):x}"
            database.to_spark(backend._session, [*roles.values(), *others]) \
                .createOrReplaceTempView(name)
            raw = backend.table(name)
            n_input = int(fetch_scalar(raw.count()))
            database.check_matches(raw, n_input)
            src = _prefixed(raw, roles, others)
    else:
        if engine == "spark" and fmt == "parquet":
            # Spark reads Parquet itself, so large files never pass through this process.
            backend = connect("spark", spark_master=spark_master)
            raw = _read_spark_parquet(backend, path)
        elif fmt == "table":
            backend = duckdb_connection(memory_limit)
            raw = read_table(backend, source, str(path))
        else:
            backend = duckdb_connection(memory_limit)
            raw, rejects = _read_raw(backend, path, fmt, read)
        raw = _flattened(raw)
        names = [c for c in raw.columns if c not in ("_row", JOIN_REASON)]
        try:
            found = resolve_roles(names, columns, source=path, kind=spec,
                                  renames=fmt not in ("csv", "excel"))
        except InputError as exc:
            raise InputError(_roles_not_found(raw, fmt, read, path, spec, columns, str(exc))
                             ) from exc
        others, roles = _others(names, found, spec, path), _used(found, uses)
        src = _prefixed(raw, roles, others)
    # Sources read as typed columns (Parquet) and sources on Spark are parsed where they
    # lie; text read into DuckDB is parsed once, below.
    typed = src is not None and ("_row" not in src.columns or is_spark(backend))
    if src is not None:
        parser = _Parser(spec, roles, resolve_timestamp_format(src, roles, read, path), path,
                         read.latest(), as_of)
        parsed = _parse(src, parser, read.join)
        if typed:
            # One scan of the source for everything the loader counts: typed rows are
            # parsed where they lie, so each further query would read and parse them all.
            quarantine, totals = _scan_typed(parsed, roles, _totals(parsed, spec, parser, roles))
            n_input = int(totals.pop("_n_input"))
        else:
            n_input = int(fetch_scalar(raw.count()))
            # The file was read into DuckDB anyway: keep the parsed rows so that later
            # queries do not parse every timestamp again. The source columns stay in
            # `raw`, and only the quarantine, a few rows, fetches them back.
            rows = parsed.select("_row", *spec.columns, *others, "_reason")
            constants = _constants(rows)
            parsed = _with_constants(backend.create_table(
                f"parsed_{id(parsed)}", rows.drop(*constants), temp=True), constants, rows)
            bad = parsed.filter(_quarantined(parsed._reason)).select("_row", "_reason").join(
                src.drop(*others), "_row"
            )
            quarantine = _quarantine_table(bad, roles, rejects)
    if not typed:
        # The parsed rows are a table in DuckDB here: a scan of it is cheap.
        totals = _fetch_totals(parsed, _totals(parsed, spec, parser, roles))
    n_input += int(fetch_scalar(rejects.count())) if rejects is not None else 0
    if n_input == 0 and fmt in DATABASE_FORMATS:
        database.check_has_rows(spec.rows)
    if n_input == 0:
        raise InputError(f"{path}: the file has a header but no rows. Fix: export the rows too")
    quarantine = _blank_rows_said(quarantine, roles)
    _check_quarantine_share(quarantine, n_input, read, path, roles)
    _warn_other_notation(quarantine, read, path, roles)
    n_after_as_of = int(totals.pop(AFTER_AS_OF, 0))
    weight = ["_n"] if "_n" in parsed.columns else []
    table = rows_that_parse(parsed, len(quarantine), n_after_as_of).select(
        *spec.columns, *others, *weight)
    if not is_spark(backend):
        # A view, not an expression: a query that reads the rows twice (say, those with
        # and without a customer id) then reads them twice, where Ibis would otherwise
        # write a WITH clause that DuckDB materialises in full.
        table = backend.create_view(f"tx_{id(table):x}", table, overwrite=True)
    if engine == "spark" and backend is not None and not is_spark(backend):
        backend = connect("spark", spark_master=spark_master)
        table = _to_spark(backend, table)
    # Sources read as typed columns (Parquet) and sources on Spark are parsed where they
    # lie, and keep their source rows for kinds that work on them (deduplication).
    result: Source = (spec.source_class or Source)(
        table, quarantine, n_input, str(path), roles, backend,
        source_rows=src if typed else None, parser=parser if typed else None,
        as_of=as_of, n_after_as_of=n_after_as_of, totals=totals, counted=bool(weight),
    )
    return result


def rows_that_parse(parsed: ir.Table, n_quarantined: int, n_after_as_of: int) -> ir.Table:
    """Return the rows of ``parsed`` that parse and are not after the as-of date.

    When the loader counted no row of either kind, every row is returned untested: the
    test (a dozen checks a row) is then left out of every query that reads them.
    """
    if n_quarantined or n_after_as_of:
        return parsed.filter(parsed._reason.isnull())
    return parsed


def _used(roles: ColumnRoles, uses: frozenset[str] | None) -> ColumnRoles:
    """Return the roles a caller ``uses`` and the required ones (all when ``uses`` is None).

    Resolved first from every column, so that a wrong ``[columns]`` entry is refused
    whether or not the job reads it, and the remaining roles keep the columns they had.
    """
    if uses is None:
        return roles
    kind = roles.kind
    return ColumnRoles({r: c for r, c in roles.items() if r in uses or kind.role(r).required},
                       kind)


def _totals(
    parsed: ir.Table, spec: SourceKind, parser: _Parser, roles: ColumnRoles
) -> dict[str, ir.Scalar]:
    """Return what the loader counts over the parsed rows besides the quarantine.

    Rows after the as-of date (when there is one) under :data:`AFTER_AS_OF`, and the
    kind's :attr:`~SourceKind.totals` over the rows that parse.
    """
    totals = dict(spec.totals(parsed, roles)) if spec.totals is not None else {}
    if parser.as_of_end is not None:
        # Never NULL: Spark counts with a SUM, NULL when every row's test is NULL.
        after = (parsed._reason == AFTER_AS_OF).fill_null(False)
        totals[AFTER_AS_OF] = (parsed._n.sum(where=after).fill_null(0)
                               if "_n" in parsed.columns else parsed.count(where=after))
    return totals


def _fetch_totals(parsed: ir.Table, totals: dict[str, ir.Scalar]) -> dict[str, Any]:
    """Compute :func:`_totals` in one query (none when there are none)."""
    if not totals:
        return {}
    return fetch_arrow(parsed.aggregate(**totals)).to_pylist()[0]


def _scan_typed(
    parsed: ir.Table, roles: ColumnRoles, totals: dict[str, ir.Scalar]
) -> tuple[pa.Table, dict[str, Any]]:
    """Return the quarantine, the row count (``_n_input``) and ``totals``: one scan of the rows.

    The rows that do not parse are counted in that scan and fetched by a second one
    only when there are some: that one reads every column (descriptions too) as text.
    """
    bad = _quarantined(parsed._reason)
    counts = fetch_arrow(parsed.aggregate(
        _n_input=parsed.count(), _n_bad=parsed.count(where=bad), **totals
    )).to_pylist()[0]
    source_cols = list(dict.fromkeys(col for _, col in roles.items()))
    rows = parsed.filter(bad)
    # No row order in a typed source (Parquet): no row numbers.
    quarantine = rows.select(
        row=ibis.null("int64"), reason=rows._reason,
        **_as_text(rows, source_cols),
    )
    if not counts.pop("_n_bad"):
        # Not `Schema.empty_table()`: it imports pandas (0.15 s a command never needs).
        empty = pa.Table.from_batches([], schema=quarantine.schema().to_pyarrow())
        return _floats_as_text(empty), counts
    return _floats_as_text(fetch_arrow(quarantine)), counts


def _as_text(rows: ir.Table, source_cols: list[str]) -> dict[str, ir.Value]:
    """Return the source columns of quarantined rows as text, but floats as they are.

    Engines write floats differently (DuckDB ``inf`` and ``1e+20``, Spark ``Infinity``
    and ``1.0E20``), so :func:`_floats_as_text` writes them, once fetched; Spark's rows
    reach Python through pandas, where NaN becomes missing, so a float column comes with
    a flag of its NaNs. Timestamps with a zone are written as UTC wall-clock time, as
    they are parsed (DuckDB would add ``+00``, Spark nothing).
    """
    columns: dict[str, ir.Value] = {}
    for col in source_cols:
        value = rows[SOURCE_PREFIX + col]
        kind = value.type()
        if kind.is_floating():
            columns |= {col: value, NAN_PREFIX + col: value.isnan().fill_null(False)}
        else:
            columns[col] = source_text(value)
    return columns


def source_text(value: ir.Value) -> ir.StringValue:
    """Return a source value as the quarantine writes it, for any column but floats.

    The engine's text, but a timestamp with a zone as UTC wall-clock time, as it is
    parsed (DuckDB would add ``+00``, Spark nothing). Floats: :func:`_as_text`.
    """
    if is_typed_timestamp(value.type()):
        return value.cast(dt.Timestamp()).cast("string")
    return value.cast("string")


#: Prefix of the NaN flags of a quarantine's float columns (see :func:`_as_text`).
NAN_PREFIX = SOURCE_PREFIX + "nan:"


def _floats_as_text(table: pa.Table) -> pa.Table:
    """Write a fetched quarantine's float columns as text, as DuckDB and Python do.

    The shortest text that reads back as the same number, in Python's ``repr`` layout
    (``17850.0``, ``1e+20``, ``inf``, ``nan``), which is also DuckDB's. A 32-bit float is
    written by DuckDB's own cast, once fetched: its digits follow no rule Python has
    (``0.1``, not ``0.10000000149011612``, yet ``1048576.75``, not the shorter
    ``1048576.8``).
    """
    for name in [n for n in table.column_names if n.startswith(NAN_PREFIX)]:
        col = name.removeprefix(NAN_PREFIX)
        values, nan = table[col], table[name].to_pylist()
        if values.type == pa.float32():
            with duckdb.connect() as con:
                con.register("floats", pa.table({"v": values}))
                written = [r[0] for r in
                           con.execute("SELECT CAST(v AS VARCHAR) FROM floats").fetchall()]
        else:
            written = [None if v is None else repr(v) for v in values.to_pylist()]
        text = ["nan" if is_nan else v for v, is_nan in zip(written, nan, strict=True)]
        # An empty column is not converted from a list: that imports pandas (0.15 s).
        written_text = pa.array(text, pa.string()) if text else pa.nulls(0, pa.string())
        table = table.set_column(table.column_names.index(col), col,
                                 written_text).drop_columns([name])
    return table


def _others(names: list[str], roles: ColumnRoles, kind: SourceKind, path: Path) -> list[str]:
    """Source columns no role claims that the kind keeps (passthrough kinds only)."""
    claimed = set(roles.values())
    others = [c for c in names if c not in claimed] if kind.passthrough else []
    _check_no_clash(others, kind, path)
    return others


def _prefixed(raw: ir.Table, roles: ColumnRoles, others: list[str]) -> ir.Table:
    """Select what a parser reads: ``_row``, kept columns, markers, prefixed role columns."""
    markers = [c for c in raw.columns
               if c.startswith((JOIN_PREFIX, PARSED_PREFIX)) or c == JOIN_REASON]
    return raw.select(
        *(["_row"] if "_row" in raw.columns else []),
        *others,
        *markers,
        **{SOURCE_PREFIX + col: col for col in dict.fromkeys(roles.values())},
    )


def _parse(src: ir.Table, parser: _Parser, joins: tuple[Join, ...]) -> ir.Table:
    """Parse the rows; a row whose join failed is quarantined for that first.

    A kind that keeps the columns no role claims (people) may have no required role, or
    none at all: its blank rows are told here, where those columns are at hand, and
    quarantined as :data:`BLANK_ROW` (a person with no value was kept, or a blank id
    counted against the share). Other kinds' are told on the fetched quarantine
    (:func:`_blank_rows_said`), so that their parse stays as it is.
    """
    parsed = parser(src)
    # Rows converted from a database (`segwise convert`) carry why their join failed.
    unmatched = src[JOIN_REASON] if JOIN_REASON in src.columns else join_reason(src, joins)
    if unmatched is not None:
        parsed = parsed.mutate(_reason=unmatched.fill_null(parsed._reason))
    read = [c for c in src.columns if c != "_row"
            and not c.startswith((JOIN_PREFIX, PARSED_PREFIX)) and c != JOIN_REASON]
    if parser.kind.passthrough and read:
        blank = functools.reduce(operator.and_, (is_blank(src[c]) for c in read))
        parsed = parsed.mutate(_reason=ibis.ifelse(blank, BLANK_ROW, parsed._reason))
    return parsed


def _read_database(
    duck: Any, database: Database, parser: _Parser, others: list[str], *,
    counted: bool = False,
) -> tuple[ir.Table, ir.Table, int, _Parser]:
    """Read, join and parse a database's rows into one DuckDB table, in one pass.

    The database is streamed once, straight into the parsed rows: the timestamp layout
    is detected from a sample of its column's table first (and, where day/month and
    month/day tie on the sample, by counting that column's table). Rows that do not
    parse keep their row number, join counts and source values as text, in one list
    column (``_bad``, NULL on every other row), so that the quarantine needs no second
    read and the rows kept carry nothing extra.

    With ``counted``, rows that parse and are equal in every column read are stored
    once, with ``_n``: how many rows they stand for (see :func:`load_source`); rows
    quarantined stay one a row (``_n`` 1), each with its own values and reason.

    Returns
    -------
    tuple of (ibis.Table, ibis.Table, int, _Parser)
        The parsed rows (standard columns, ``others``, ``_reason``, ``_bad``, and
        ``_n`` when ``counted``); the rows quarantined, as :func:`_quarantine_table`
        and :meth:`Database.check_matches` read them; the number of rows read; the
        parser with the layout it used.
    """
    name = f"parsed_{id(database):x}"
    roles, read = parser.roles, parser.read
    role_columns = list(dict.fromkeys(roles.values()))
    markers = [f"{JOIN_PREFIX}{i}" for i in range(len(read.join))]
    keep = ["_row", *markers, *(SOURCE_PREFIX + c for c in role_columns)]
    used = [parser]
    #: The rows' columns, and those that hold one literal on every row (not stored).
    shape: dict[str, Any] = {}

    def count(column: str, formats: list[str]) -> list[int]:
        def statement(view: str) -> str:
            return str(duck.compile(layout_counts(ibis.table({"v": "string"}, name=view).v,
                                                  formats)))

        (row,) = database.column_query(duck, column, statement)
        return [int(n) for n in row]

    def before_join(view: str) -> dict[str, Callable[[ir.Value], ir.Value]]:
        # The timestamp's layout, from a sample of its own table; a timestamp of a joined
        # table (a search's date) is then parsed there, once a row of that table.
        src = _prefixed(duck.table(view), roles, others)
        resolved = resolve_timestamp_format(
            src, roles, read, parser.path, sample=lambda col: database.sample(duck, col),
            count=count)
        used[0] = dataclasses.replace(parser, read=resolved)
        column = _timestamp_column(roles)
        return {} if column is None else {column: used[0].timestamp}

    def create(view: str) -> str:
        src = _prefixed(duck.table(view), roles, others)
        parsed = _parsed_before(_parse(src, used[0], read.join), src, used[0])
        values = ibis.array([source_text(src[c]) for c in keep])
        rows = parsed.select(*parser.kind.columns, *others, "_reason",
                             _bad=ibis.ifelse(_quarantined(parsed._reason), values,
                                              ibis.null(values.type())))
        shape.update(rows=rows, constants=_constants(rows))
        stored = rows.drop(*shape["constants"])
        if counted:
            stored = _counted(stored)
        into = "TEMP TABLE " + name if store is None else f"TABLE {'.'.join(store)}.{name}"
        return f"CREATE OR REPLACE {into} AS {duck.compile(stored)}"

    # A database larger than memory allows is stored compressed on disk, not spilled.
    store = row_store(duck, database.path.stat().st_size)
    database.read_rows(duck, [*role_columns, *others], create, before_join=before_join)
    rows = shape["rows"].mutate(_n=ibis.literal(1, "int64")) if counted else shape["rows"]
    table = _with_constants(duck.table(name, database=store), shape["constants"], rows)
    b = table.filter(_quarantined(table._reason))
    bad = b.select(_row=b._bad[0].cast("int64"), _reason=b._reason,
                   **{m: b._bad[1 + i].cast("int64") for i, m in enumerate(markers)},
                   **{c: b._bad[i] for i, c in enumerate(keep) if i > len(markers)})
    n_input = table._n.sum() if counted else table.count()
    return table, bad, int(fetch_scalar(n_input)), used[0]


def _timestamp_column(roles: ColumnRoles) -> str | None:
    """Return the source column of the kind's timestamp role, or None."""
    role = roles.kind.timestamp_role
    return roles[role] if role is not None and role in roles else None


def _parsed_before(parsed: ir.Table, src: ir.Table, parser: _Parser) -> ir.Table:
    """Return ``parsed`` reading the timestamp from the column parsed before the join.

    The parse of the timestamp column (:meth:`_Parser.timestamp`) is replaced wherever
    it occurs by the column :meth:`Database.read_rows` computed with it in the column's
    own table (``PARSED_PREFIX + column``): the same values, once a row of that table.
    """
    column = _timestamp_column(parser.roles)
    if column is None or PARSED_PREFIX + column not in src.columns:
        return parsed
    local = parser.localised(src)
    ts = parser.timestamp(local[SOURCE_PREFIX + column], localised=True)
    return parsed.op().replace({ts.op(): local[PARSED_PREFIX + column].op()}).to_expr()


def _counted(rows: ir.Table) -> ir.Table:
    """Rows equal in every column stored once, with ``_n``: how many rows each stands for.

    Quarantined rows are never merged: their ``_bad``, grouped on with the rest, starts
    with their row number, so each keeps its own values for the quarantine (a key, not
    an aggregate: a count alone is the cheapest grouping). An event log's impressions of
    one search share the user, the time, the search, the category and the device: 10 M
    impressions stand as 3.65 M rows, which are written, and read by each later query,
    once.
    """
    return rows.group_by(rows.columns).aggregate(_n=rows.count())


def _constants(rows: ir.Table) -> dict[str, ir.Scalar]:
    """Columns of ``rows`` that are one literal on every row: a role the source lacks.

    Such a column is not stored with the parsed rows (10 M copies of ``"impression"``
    or NULL cost memory and time to write) but put back by :func:`_with_constants`.
    """
    constants = {}
    for name in rows.columns:
        node = rows[name].op()
        while isinstance(node, ops.Field) and isinstance(node.rel, ops.Project):
            node = node.rel.values[node.name]
        if isinstance(node, ops.Literal):
            constants[name] = node.to_expr()
    return constants


def _with_constants(stored: ir.Table, constants: dict[str, ir.Scalar],
                    rows: ir.Table) -> ir.Table:
    """Return the stored rows with their :func:`_constants` put back, as ``rows``."""
    return stored.mutate(**constants).select(*rows.columns) if constants else stored


#: The ``_reason`` of rows dated after the as-of date: left out, not quarantined.
AFTER_AS_OF = "after_as_of"


def _quarantined(reason: ir.StringValue) -> ir.BooleanValue:
    """Whether a row's ``_reason`` quarantines it (rows after the as-of date are not)."""
    return reason.notnull() & (reason != AFTER_AS_OF)


def _check_file(path: Path, spec: SourceKind) -> str:
    """Return the reader of a source file that exists and is not empty.

    A compressed file's data is checked beside the read (:func:`checking_compressed`).
    """
    if not path.exists():
        raise InputError(f"{path}: no such file. Fix: check the path")
    if path.is_dir() and not any(path.glob("**/*.parquet")):
        inside = {f.suffix.lower() for f in path.glob("**/*") if f.is_file()}
        what, fix = next((_CONVERT[s] for s in sorted(inside) if s in _CONVERT),
                         ("", "give a file, or a folder of Parquet files (read as one table)"))
        raise InputError(f"{path}: a folder without .parquet files{', of ' + what if what else ''}"
                         f". Fix: {fix}")
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty. Fix: export the {spec.rows} again")
    return detect_format(path)


@dataclass(frozen=True)
class _Parser:
    """The kind's parser bound to one source's roles, reader settings and path.

    For a kind with a time column it also dates rows: later than ``latest`` is a reason
    to quarantine, later than ``as_of`` the :data:`AFTER_AS_OF` mark. Both bounds are
    fixed once per load, so that parsing again (after deduplication) gives the same rows.
    """

    kind: SourceKind
    roles: ColumnRoles
    read: ReadOptions
    path: Path
    latest: date
    as_of: date | None = None

    @property
    def as_of_end(self) -> datetime | None:
        """The first instant after the as-of day, or None."""
        return None if self.as_of is None else _day_after(self.as_of)

    def localised(self, source_columns: ir.Table) -> ir.Table:
        """Return the prefixed source columns with text numbers in the file's notation read."""
        roles = [c for c in source_columns.columns if c.startswith(SOURCE_PREFIX)]
        return localise_numbers(source_columns, roles, self.read.decimal, self.read.thousands)

    def localised_value(self, value: ir.Value) -> ir.Value:
        """Return one source column's values as :meth:`localised` reads them."""
        return localise_number(value, self.read.decimal, self.read.thousands)

    def timestamp(self, value: ir.Value, *, localised: bool = False) -> ir.TimestampValue:
        """Parse a source timestamp column (DuckDB) as the kind's parse does.

        ``localised``: ``value`` is read in the file's notation already (:meth:`localised`).
        """
        value = value if localised else self.localised_value(value)
        return parse_timestamp(value, self.read, self.path, spark=False)

    def __call__(self, source_columns: ir.Table) -> ir.Table:
        # Numbers are read in the file's notation here, so that the quarantine and
        # copies of rows keep the values as written.
        parsed = self.kind.parse(self.localised(source_columns), self.roles, self.read, self.path)
        column = self.kind.time_column
        if column is None:
            return parsed
        ts = parsed[column]
        role = self.kind.timestamp_role
        label = self.roles[role] if role is not None and role in self.roles else column
        bound = (read_key("latest_date") if self.read.latest_date is not None
                 else f"the day after this run; {read_key('latest_date')} moves it")
        checks = [(ts >= _day_after(self.latest),
                   f"{label}: dated after {self.latest.isoformat()} ({bound})")]
        if self.as_of_end is not None:
            checks.append((ts >= self.as_of_end, AFTER_AS_OF))
        late = ibis.cases(*checks, else_=ibis.null("string"))
        return parsed.mutate(_reason=ibis.coalesce(parsed._reason, late))


def _day_after(day: date) -> datetime:
    """Midnight at the end of ``day``: the first instant dated after it."""
    return datetime.combine(day + timedelta(days=1), time.min)


def _tar_message(path: Path) -> str:
    """Say what a tar archive holds and how to read it: segwise reads one table a file.

    An archive of a known layout to convert (GeoLife's ``.plt``) names the converter;
    its first members are enough to tell.
    """
    import tarfile

    suffixes: set[str] = set()
    with contextlib.suppress(tarfile.TarError, OSError, EOFError):
        with tarfile.open(path) as archive:
            for member in itertools.islice(archive, 200):
                if member.isfile():
                    suffixes.add(Path(member.name).suffix.lower())
    what, fix = next(((f", of {_CONVERT[s][0]}", _CONVERT[s][1])
                      for s in sorted(suffixes) if s in _CONVERT),
                     ("", "unpack it and give the table file (or a folder of Parquet files, "
                          "read as one table)"))
    return f"{path}: a tar archive{what}; segwise reads one table per file. Fix: {fix}"


def _roles_not_found(
    raw: ir.Table, fmt: str, read: ReadOptions, path: Path, kind: SourceKind,
    columns: Mapping[str, str] | None, message: str,
) -> str:
    """Say why a file whose roles were not found was likely read wrong, else ``message``.

    A CSV whose table starts below a few lines of title has them to skip; one read as one
    column has another delimiter; an Excel workbook whose first sheet has no roles (a
    cover sheet) may have them on another sheet.
    """
    names = [c for c in raw.columns if c != "_row"]
    lines = head_lines(path, read.encoding) if fmt == "csv" and not read.skip_rows else []
    known = _CONVERT_FIRST_LINES.get(lines[0].strip()) if lines else None
    if known is not None:  # a .plt renamed .csv
        what, fix = _CONVERT[known]
        return f"{path}: {what}. Fix: {fix}"
    title = guess_title_lines(lines, read.delimiter)
    if title is not None:
        skip = title[0]
        return (f"{path}: the table starts on line {skip + 1}, below {skip} line"
                f"{'s' if skip != 1 else ''} of title ({lines[0][:80]!r}"
                f"{', ...' if skip > 1 else ''}). Fix: {read_fix({'skip_rows': skip})}")
    if fmt == "csv" and len(names) == 1:
        line = names[0]
        if read.header is False:
            first = fetch_arrow(raw.select(names[0]).limit(1)).column(0).to_pylist()
            line = first[0] if first and first[0] is not None else ""
        delimiter = guess_delimiter(line, read.delimiter)
        if delimiter is None:
            return message
        return (f"{path}: one column found, {line[:100]!r}: wrong delimiter? "
                f"Fix: {read_fix({'delimiter': delimiter})}")
    if fmt != "excel" or read.sheet is not None:
        return message
    import pandas as pd

    with pd.ExcelFile(path) as book:
        sheets = [str(name) for name in book.sheet_names]
        fits = []
        for sheet in sheets[1:]:
            header = book.parse(sheet, nrows=0, header=None if read.header is False else 0)
            try:
                resolve_roles([str(c) for c in header.columns], columns, source=path, kind=kind)
            except (InputError, ConfigError):
                continue
            fits.append(sheet)
    if len(sheets) < 2:
        return message
    if not fits:
        return (f"{message}; or, if the {kind.rows} are on another sheet of the workbook "
                f"({_sheet_list(sheets)}), set {read_key('sheet')}")
    return (f"{path}: the first sheet, {sheets[0]!r}, holds no {kind.rows} (columns found: "
            f"{', '.join(names[:10]) or 'none'}); the workbook has {_sheet_list(sheets)}. "
            f"Fix: {read_fix({'sheet': fits[0]})}")


def _check_no_clash(others: list[str], kind: SourceKind, path: Path) -> None:
    """Refuse a kept source column whose name engines would confuse with a standard one.

    Or with the loader's own: ``_reason``, and ``_n`` (rows a row stands for), which a
    people file's column of that name broke with a traceback (or whose values every
    count would have summed).
    """
    standard = {c.lower(): c for c in kind.columns}
    for col in others:
        if col.lower() in standard or col.startswith(SOURCE_PREFIX) or col in ("_reason", "_n"):
            raise InputError(
                f"{path}: column {col!r} has the name of a column segwise adds "
                f"({standard.get(col.lower(), col)}). Fix: rename it, or map it to its "
                f"role in {columns_key()}"
            )


@ibis.udf.scalar.builtin(name="timestamp_micros")
def _timestamp_micros(value: int) -> datetime:  # type: ignore[empty-body]
    """Spark's ``timestamp_micros``: microseconds since the epoch as a timestamp."""


def _read_spark_parquet(backend: Any, path: Path) -> ir.Table:
    """Read Parquet on Spark, nanosecond timestamps (pandas writes them) included.

    Spark reads those as integers (``spark.sql.legacy.parquet.nanosAsLong``); they become
    timestamps at microsecond precision, UTC wall-clock time as on DuckDB.
    """
    import pyarrow.parquet as pq

    # A directory is a Parquet dataset (`segwise convert` writes one): its parts share a schema.
    first = next(iter(sorted(path.glob("**/*.parquet")))) if path.is_dir() else path
    try:
        schema = pq.read_schema(first)
        raw = backend.read_parquet(str(path))
    except Exception as exc:  # pyarrow's and Spark's errors share no base class
        raise InputError(f"{path}: cannot read the file as parquet: {_first_line(exc)}") from exc
    nanos = [f.name for f in schema
             if pa.types.is_timestamp(f.type) and f.type.unit == "ns" and f.name in raw.columns]
    if not nanos:
        return raw
    return raw.mutate(**{c: _timestamp_micros(raw[c] // 1000) for c in nanos})


def _to_spark(backend: Any, table: ir.Table) -> ir.Table:
    """Hand a table parsed in DuckDB to Spark as a temporary view.

    As Arrow: through pandas, a NaN would reach Spark as a missing value.
    """
    name = f"segwise_tx_{id(table):x}"
    backend._session.createDataFrame(fetch_arrow(table), schema=_spark_schema(table)
                                     ).createOrReplaceTempView(name)
    return backend.table(name)


def _spark_schema(table: ir.Table) -> str:
    """Return a Spark DDL schema of the table's Ibis types (names back-quoted)."""
    from ibis.backends.sql.datatypes import PySparkType

    return ", ".join(
        f"`{c}` {PySparkType.to_string(t)}" for c, t in table.schema().items()
    )


def _read_raw(
    duck: Any, path: Path, fmt: str, read: ReadOptions
) -> tuple[ir.Table, ir.Table | None]:
    """Read the file into DuckDB with a 1-based ``_row`` column; return it and CSV rejects."""
    con: duckdb.DuckDBPyConnection = duck.con
    if (read.header is False or read.names or read.skip_rows) and fmt not in ("csv", "excel"):
        raise ConfigError(f"{path}: {read_key('header', 'names', 'skip_rows')} apply to CSV "
                          f"and Excel files, not {fmt}; leave them out")
    try:
        if fmt == "csv":
            raw, rejects = _read_csv(duck, path, read)
            return _apply_names(raw, read, path), rejects
        if fmt == "parquet":
            # A directory is a Parquet dataset (`segwise convert` writes one).
            return duck.read_parquet(str(path / "**" / "*.parquet") if path.is_dir()
                                     else str(path)), None
        if fmt == "json":
            rejected = read_json_rows(con, path)
            _number_rows(con, rejected)
            return duck.table("raw"), duck.table("json_rejects") if rejected is not None else None
        if fmt == "excel":
            _register_frame(con, _read_excel(path, read))
            return _apply_names(duck.table("raw"), read, path), None
        raise ValueError(f"no reader for {fmt}")  # pragma: no cover - databases apart
    except (duckdb.Error, ValueError, OSError) as exc:
        raise engine_error(exc) or InputError(
            f"{path}: cannot read the file as {fmt}: {_first_line(exc)}"
        ) from exc


def _flattened(raw: ir.Table) -> ir.Table:
    """Return ``raw`` with every nested field a column named by its path, JSON as text.

    A record's fields (a Parquet or JSON ``device`` record of ``category`` and
    ``operating_system``, as GA4's BigQuery export has) become the columns
    ``device.category``, ``device.operating_system``: names the roles recognise, where
    the record itself would be taken for the device and read as its text. A field of
    mixed types, which DuckDB types JSON (5 in one JSON record, "cars" in the next), is
    read as text without JSON's quotes ("cars" is cars, "5" is 5). The same expression
    on DuckDB and Spark; a table with neither is returned as it is.
    """
    columns: dict[str, ir.Value] = {}

    def walk(value: ir.Value, name: str) -> None:
        kind = value.type()
        if kind.is_struct():
            for field_name in kind.names:
                walk(value[field_name], f"{name}.{field_name}")
        elif kind.is_json():
            columns[name] = ibis.coalesce(value.str, value.cast("string"))
        else:
            columns[name] = value.name(name)

    for name in raw.columns:
        walk(raw[name], name)
    if list(columns) == raw.columns and not any(raw[c].type().is_json() for c in raw.columns):
        return raw
    return raw.select(**columns)


def _read_excel(path: Path, read: ReadOptions) -> pd.DataFrame:
    """Read one sheet, every cell as it is; columns ``column_1``, ... without a header.

    Only an empty cell is missing: pandas' own list (``NA``, ``n/a``, ``null``, ...) would
    blank those words in a column of text too, where they are values (``NA``, North
    America); the parse rules decide what a column's text means, as for CSV.
    """
    import pandas as pd

    sheet = read.sheet if read.sheet is not None else 0
    try:
        frame = pd.read_excel(path, sheet_name=sheet, dtype=object, skiprows=read.skip_rows,
                              header=None if read.header is False else 0,
                              keep_default_na=False, na_values=[""])
    except ImportError as exc:  # a format whose reader is not installed
        raise InputError(f"{path}: cannot read this Excel format ({_first_line(exc)}). "
                         "Fix: save the workbook as .xlsx or CSV") from exc
    except (ValueError, IndexError) as exc:
        if read.sheet is None or not re.search("not found|invalid|out of range", str(exc)):
            raise
        with pd.ExcelFile(path) as book:
            sheets = [str(name) for name in book.sheet_names]
        raise InputError(
            f"{path}: no sheet {read.sheet!r}; the workbook has {_sheet_list(sheets)}. "
            f"Fix: set {read_key('sheet')} to one of them"
        ) from exc
    except Exception as exc:  # a damaged workbook: each format's reader has its own errors
        raise InputError(
            f"{path}: cannot read the workbook ({type(exc).__name__}: {_first_line(exc)}). "
            "Fix: check that it opens in a spreadsheet program, or save it again as .xlsx "
            "or CSV") from exc
    if read.header is False:
        frame.columns = _headerless_names(frame.shape[1])
    elif not read.names:
        # pandas reads the second ``Income`` as ``Income.1``; DuckDB would rename a second
        # ``income`` later. Only such a header is read again, its first line.
        names = [str(c) for c in frame.columns]
        if len({n.lower() for n in names}) < len(names) or _renamed_alike(names, "."):
            first = pd.read_excel(path, sheet_name=sheet, dtype=object, skiprows=read.skip_rows,
                                  header=None, nrows=1, keep_default_na=False, na_values=[""])
            _refuse_names_alike([None if pd.isna(v) else str(v) for v in first.iloc[0]]
                                if len(first) else [], path)
    return frame


def _sheet_list(sheets: list[str]) -> str:
    """Name the sheets of a workbook for a message: ``2 sheets: 'Cover', 'Orders'``."""
    return f"{len(sheets)} sheet{'s' if len(sheets) != 1 else ''}: " + ", ".join(
        repr(s) for s in sheets)


def _apply_names(raw: ir.Table, read: ReadOptions, path: Path) -> ir.Table:
    """Rename the columns read to ``[read] names``, which must name each of them."""
    if not read.names:
        return raw
    found = [c for c in raw.columns if c != "_row"]
    if len(found) != len(read.names):
        first = fetch_arrow(raw.select(*found).limit(1)).to_pylist()
        values = list(first[0].values()) if first else found
        raise InputError(
            f"{path}: {read_key('names')} gives {len(read.names)} names, but the file has "
            f"{len(found)} columns (first row: {', '.join(repr(v) for v in values[:12])}). "
            "Fix: give one name per column"
        )
    return raw.rename(dict(zip(read.names, found, strict=True)))


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
    bom = None if read.encoding else bom_codec(path)
    native = duckdb_encoding(read.encoding) if read.encoding else None
    encoding = read.encoding or bom
    # DuckDB reads gzip and zstd itself; the other compressions are read in Python.
    python_only = path.suffix.lower() in PYTHON_COMPRESSIONS
    if read.delimiter == BLANKS or bom or (read.encoding and not native) or python_only:
        header = _read_normalised(con, path, read, encoding)
    else:
        try:
            header = _read_csv_file(con, path, path, read, read.delimiter, native)
        except _NamesAlike:
            raise
        except InputError:
            # A mix of CRLF and LF line endings stops DuckDB's sniffer or its parser.
            # A file DuckDB cannot read for another reason fails again, with that reason.
            for table in ("reject_errors", "reject_scans"):
                con.execute(f"DROP TABLE IF EXISTS {table}")
            header = _read_normalised(con, path, read, encoding)
    if not read.encoding and not bom and _encoding_errors(con):
        codec = one_byte_codec(path)
        if codec is not None:
            # Not UTF-8 anywhere: read it whole in its one-byte encoding, where every line
            # with an accent (all of a country's, say) would otherwise be quarantined.
            for table in ("raw_csv", "reject_errors", "reject_scans"):
                con.execute(f"DROP TABLE IF EXISTS {table}")
            warnings.warn(f"{path}: the file is not UTF-8; read as {codec}. Set "
                          f"{read_key('encoding')} if it is another", SegwiseWarning,
                          stacklevel=2)
            return _read_csv(duck, path, dataclasses.replace(read, encoding=codec))
    if not header:
        _rename_headerless(con)
    # DuckDB counts file lines from 1, the header included; rows count data lines.
    # An encoding error on any line suggests the fix on every line.
    hint = "" if read.encoding else (f"; {read_fix({'encoding': 'latin-1'})} if the file is "
                                     "not UTF-8")
    con.execute(
        "CREATE TEMP TABLE csv_rejects AS "
        "SELECT row, reason || CASE WHEN bool_or(regexp_matches(reason, 'ENCODING|UNICODE')) "
        "OVER () THEN $hint ELSE '' END AS reason, raw_line FROM ("
        "SELECT (line - $skip)::BIGINT AS row, 'unreadable line (' || left(string_agg(DISTINCT "
        "error_type || ': ' || error_message, '; '), 200) || ')' AS reason, "
        "any_value(csv_line) AS raw_line FROM reject_errors GROUP BY line) ORDER BY row",
        {"hint": hint, "skip": read.skip_rows + (1 if header else 0)},
    )
    rejected = con.sql("SELECT row FROM csv_rejects ORDER BY row").fetchnumpy()["row"]
    _number_rows(con, rejected if len(rejected) else None)
    return duck.table("raw"), duck.table("csv_rejects") if len(rejected) else None


def _encoding_errors(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether DuckDB rejected a line of the CSV it read for its encoding."""
    rows = con.execute("SELECT count(*) FROM reject_errors WHERE error_type = 'INVALID ENCODING'"
                       ).fetchall()
    return bool(rows[0][0])


def _read_normalised(
    con: duckdb.DuckDBPyConnection, path: Path, read: ReadOptions, encoding: str | None
) -> bool:
    """Read a UTF-8, LF-only copy of the file (tab-separated for ``delimiter = " "``).

    Returns whether it has a header line, as :func:`_read_csv_file`.
    """
    blanks = read.delimiter == BLANKS
    with tempfile.TemporaryDirectory(prefix="segwise-read-") as tmp:
        copy = Path(tmp) / "normalised.csv"
        write_normalised(path, copy, encoding=encoding, blanks=blanks)
        # DuckDB reads the copy into a table before the folder goes.
        return _read_csv_file(con, copy, path, read, "\t" if blanks else read.delimiter,
                              None)


def _read_csv_file(
    con: duckdb.DuckDBPyConnection, file: Path, path: Path, read: ReadOptions,
    delimiter: str | None, encoding: str | None,
) -> bool:
    """Create ``raw_csv`` from ``file`` (``path``, or a copy of it), every column as text.

    Returns whether the file has a header line: ``[read] header``, else what DuckDB's
    sniffer finds.
    """
    # A 4 MB buffer (default 32 MB) keeps DuckDB from decompressing most of a gzip file
    # just to sniff its dialect.
    opts = ["header=?", "all_varchar=true", "store_rejects=true", "null_padding=false",
            f"buffer_size={_CSV_BUFFER_BYTES}"]
    dialect, values = _dialect(delimiter, encoding, read.skip_rows)
    header = read.header
    if header is None:
        header = _sniff_header(con, file, path, dialect, values)
    opts += dialect
    params: list[Any] = [str(file), header, *values]
    # Only fixed option names are formatted in; every value is a parameter.
    options = ", ".join(opts)
    sql = f"CREATE TEMP TABLE raw_csv AS SELECT * FROM read_csv(?, {options})"  # noqa: S608
    try:
        con.execute(sql, params)
    except duckdb.Error as exc:
        raise _csv_error(exc, file, path) from exc
    if header and not read.names:  # names given replace the header's
        _check_unique_names(con, file, path, options, params)
    return header


def _check_unique_names(con: duckdb.DuckDBPyConnection, file: Path, path: Path, options: str,
                        params: list[Any]) -> None:
    """Refuse a header that names two columns alike (in any case).

    DuckDB reads the second ``Income`` as ``Income_1`` (``income_1`` for ``income``): a
    role or attribute would then read one of them, unsaid, and a message name a column
    the file does not have. Only a header DuckDB renamed so is read again, its first line.
    """
    names = [d[0] for d in con.execute("SELECT * FROM raw_csv LIMIT 0").description]
    if not _renamed_alike(names, "_"):
        return
    sql = f"SELECT * FROM read_csv(?, {options.replace('header=?', 'header=false')}) LIMIT 1"  # noqa: S608
    row = con.execute(sql, [params[0], *params[2:]]).fetchall()
    _refuse_names_alike([None if v is None else str(v) for v in row[0]] if row else [], path)


def _renamed_alike(names: list[str], separator: str) -> bool:
    """Whether a reader renamed a repeated header name: ``name`` and ``name<separator>1``.

    DuckDB writes the second ``income`` (or ``Income``) as ``income_1``, pandas the second
    ``Income`` as ``Income.1``; the names are compared in any case, as DuckDB does. A
    column truly named so is told apart by :func:`_refuse_names_alike` on the header line.
    """
    lowered = {n.lower() for n in names}
    pattern = re.compile(rf"(.+){re.escape(separator)}\d+")
    return any((m := pattern.fullmatch(n)) is not None and m.group(1).lower() in lowered
               for n in names)


def _refuse_names_alike(header: list[str | None], path: Path) -> None:
    """Refuse a header line (its cells as read) naming two columns alike, in any case."""
    seen: dict[str, int] = {}
    for at, cell in enumerate(header, 1):
        name = (cell or "").strip()
        if not name:  # blank header cells are named by position
            continue
        if name.lower() in seen:
            before = (header[seen[name.lower()] - 1] or "").strip()
            named = repr(before) if before == name else f"{before!r} and {name!r}"
            raise _NamesAlike(
                f"{path}: columns {seen[name.lower()]} and {at} of the header are named "
                f"{named}, and a column must be told by its name. Fix: rename one of them, "
                f"or name every column with {read_key('names')}")
        seen[name.lower()] = at


class _NamesAlike(InputError):
    """A header naming two columns alike: no other way of reading the file mends it."""


def _csv_error(exc: duckdb.Error, file: Path, path: Path) -> Exception:
    """DuckDB's CSV error as one line naming the user's file (not a normalised copy)."""
    reason = _first_line(exc).replace(str(file), str(path))
    return engine_error(exc) or InputError(
        f"{path}: cannot read the file as CSV: {reason}. "
        f"Fix: check {read_key('delimiter', 'encoding')}"
    )


def _dialect(delimiter: str | None, encoding: str | None,
             skip: int) -> tuple[list[str], list[Any]]:
    """Return the CSV options (delimiter, encoding, lines to skip) that are set, and values."""
    # Unset, DuckDB's own sniffer decides, as it always has.
    opts: list[str] = ["skip=?"] if skip else []
    params: list[Any] = [skip] if skip else []
    if delimiter:
        opts.append("delim=?")
        params.append(delimiter)
    if encoding:
        opts.append("encoding=?")
        params.append(encoding)
    return opts, params


def _sniff_header(con: duckdb.DuckDBPyConnection, file: Path, path: Path, dialect: list[str],
                  values: list[Any]) -> bool:
    """Whether DuckDB's sniffer finds a header line (its first line typed unlike the rest).

    Lines it cannot read (invalid UTF-8, a wrong field count) are skipped while sniffing:
    the read itself quarantines them with their reason.
    """
    # The read's buffer: with DuckDB's default (32 MB) the sniffer decompresses that much
    # of a gzip file (most of Online Retail, 0.3 s) to look at its first rows.
    options = ", ".join([*dialect, "all_varchar=false", "ignore_errors=true",
                         f"buffer_size={_CSV_BUFFER_BYTES}"])
    sql = f"SELECT HasHeader FROM sniff_csv(?, {options})"  # noqa: S608
    try:
        rows = con.execute(sql, [str(file), *values]).fetchall()
    except duckdb.Error as exc:
        raise _csv_error(exc, file, path) from exc
    return bool(rows[0][0]) if rows else True


def _headerless_names(n: int) -> list[str]:
    """Names of the columns of a file without a header: ``column_1`` ... ``column_n``."""
    return [f"column_{i}" for i in range(1, n + 1)]


def _rename_headerless(con: duckdb.DuckDBPyConnection) -> None:
    """Rename DuckDB's ``column0``... of a headerless CSV to ``column_1``... (1-based)."""
    names = [r[0] for r in con.execute("DESCRIBE raw_csv").fetchall()]
    for old, new in zip(names, _headerless_names(len(names)), strict=True):
        quoted = '"' + old.replace('"', '""') + '"'
        con.execute(f"ALTER TABLE raw_csv RENAME COLUMN {quoted} TO {new}")


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


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# Ibis turns a negative start into LENGTH() arithmetic; DuckDB and Spark both read a
# negative start as counted from the end, which is several times faster.
def _quarantine_table(bad: ir.Table, roles: ColumnRoles, rejects: ir.Table | None) -> pa.Table:
    """Return the rows that did not parse, as text, and the CSV rejects, ordered by row.

    For sources with row numbers; :func:`_scan_typed` fetches those of typed sources.
    """
    source_cols = list(dict.fromkeys(col for _, col in roles.items()))
    table = bad.select(
        row=bad._row.cast("int64"), reason=bad._reason,
        **_as_text(bad, source_cols),
    )
    if rejects is not None:
        table = table.mutate(raw_line=ibis.null("string")).union(rejects.mutate(
            **{col: ibis.null(table[col].type()) for col in table.columns
               if col not in ("row", "reason")}
        ).select(*table.columns, "raw_line"))
    return _floats_as_text(fetch_arrow(table.order_by("row")))


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


def _warn_other_notation(
    quarantine: pa.Table, read: ReadOptions, path: Path, roles: ColumnRoles
) -> None:
    """Warn, a line per column, when quarantined numbers are numbers in another notation.

    A few quantities of ``"1,200"`` among plain ones are quarantined under the refusal's
    share: the largest orders left out, with nothing but the quarantine file to say why.
    """
    if not quarantine.num_rows:
        return
    reasons = quarantine.column("reason").to_pylist()
    for column in dict.fromkeys(roles.values()):
        if column not in quarantine.column_names:
            continue
        bad = [v for r, v in zip(reasons, quarantine.column(column).to_pylist(), strict=True)
               if r == f"{column}: not a number"]
        hint, value = next(((h, v) for v in dict.fromkeys(bad)
                            if (h := number_hint(v, read.decimal, read.thousands))),
                           (None, None))
        if hint is not None:
            rows = "1 row" if len(bad) == 1 else f"{len(bad):,} rows"
            warnings.warn(f"{path}: {rows} quarantined, {column}: not a number "
                          f"(e.g. {value!r}). Likely cause: {hint}", SegwiseWarning, stacklevel=3)


#: The reason of a quarantined row with no value in any column read.
BLANK_ROW = "blank row: no value in any column read"


#: What each kind of quarantine reason means, for the note of rows left out: the test of
#: a reason, and what rows with it are.
_REASON_MEANINGS: tuple[tuple[Callable[[str], bool], str], ...] = (
    (lambda r: r == BLANK_ROW, "are blank (no value in any column read)"),
    (lambda r: join_fix(r) is not None, "match no row of a joined table, or several"),
    (lambda r: ": dated after " in r, "are dated after the latest date read"),
    (lambda r: True, "could not be parsed"),
)


def quarantine_note(quarantine: pa.Table | None, n_input: int, what: str = "rows"
                    ) -> str | None:
    """Say how many rows were quarantined, of how many read, and what each reason means.

    ``2 of 440 rows could not be parsed and are left out (first: row 6, customer_id:
    empty)``; with reasons of several kinds, each kind's count and first row:
    ``5 of 443 rows are left out: 2 could not be parsed (first: ...); 3 are blank (no
    value in any column read; first: row 441)``. Blank rows were said to be rows that
    "could not be parsed", which they are not.

    Parameters
    ----------
    quarantine : pyarrow.Table or None
        The quarantine (``row``, ``reason``, raw values).
    n_input : int
        Rows read, the quarantined ones included.
    what : str, default="rows"
        What a row is (``"lines"``).

    Returns
    -------
    str or None
        None when nothing was quarantined.
    """
    if quarantine is None or not quarantine.num_rows:
        return None
    kinds: dict[str, list[tuple[Any, str]]] = {}
    for row, reason in zip(quarantine["row"].to_pylist(), quarantine["reason"].to_pylist(),
                           strict=True):
        meaning = next(m for test, m in _REASON_MEANINGS if test(str(reason)))
        kinds.setdefault(meaning, []).append((row, str(reason)))

    def first(meaning: str) -> str:
        row, reason = kinds[meaning][0]
        where = f"row {row}" if row is not None else ""
        said = where if reason == BLANK_ROW else ", ".join(filter(None, [where, reason]))
        return f"first: {said}" if said else ""

    total = f"{quarantine.num_rows:,} of {n_input:,} {what}"
    if len(kinds) == 1:
        (meaning,) = kinds
        aside = first(meaning)
        return f"{total} {meaning} and are left out" + (f" ({aside})" if aside else "")
    parts = []
    for meaning, rows in kinds.items():
        aside = first(meaning)
        if aside and meaning.endswith(")"):  # "(no value in any column read; first: ...)"
            parts.append(f"{len(rows):,} {meaning[:-1]}; {aside})")
        else:
            parts.append(f"{len(rows):,} {meaning}" + (f" ({aside})" if aside else ""))
    return f"{total} are left out: " + "; ".join(parts)


def _blank_rows_said(quarantine: pa.Table, roles: ColumnRoles) -> pa.Table:
    """Give quarantined rows with no value in any column read :data:`BLANK_ROW` as reason.

    A spreadsheet's export ends in rows of bare delimiters (``;;;``): they were said to
    lack the first required value ("empty customer id") and counted against
    ``[read] max_quarantine_share``, which stopped a small file. They stay in the
    quarantine (rows in = kept + quarantined), said for what they are. Python, not
    ``pyarrow.compute``, whose kernels here import pandas: the quarantine is a few rows.
    """
    columns = list(dict.fromkeys(col for _, col in roles.items()))
    if not quarantine.num_rows or not columns or roles.kind.passthrough:
        # A kind that keeps the columns no role claims (people's attributes) does not
        # quarantine their values, and has its blank rows told by :func:`_parse`.
        return quarantine
    values = [quarantine[c].to_pylist() for c in columns]
    if "raw_line" in quarantine.column_names:  # unreadable lines are no blank rows
        values.append(quarantine["raw_line"].to_pylist())
    blank = [all(v is None or not str(v).strip() for v in row) for row in zip(*values, strict=True)]
    if not any(blank):
        return quarantine
    reasons = [BLANK_ROW if b else r
               for b, r in zip(blank, quarantine["reason"].to_pylist(), strict=True)]
    return quarantine.set_column(quarantine.column_names.index("reason"), "reason",
                                 pa.array(reasons, pa.string()))


def _check_quarantine_share(
    quarantine: pa.Table, n_input: int, read: ReadOptions, path: Path, roles: ColumnRoles
) -> None:
    if quarantine.num_rows == n_input and all(
            r == BLANK_ROW for r in quarantine["reason"].to_pylist()):
        # Only a spreadsheet's empty rows: a file without rows, whatever the share.
        raise InputError(f"{path}: the file has no rows but {n_input:,} blank ones. Fix: "
                         f"export the {roles.kind.rows} too")
    if quarantine.num_rows <= read.max_quarantine_share * n_input:
        return  # within the share, and so without the blank rows too
    # Blank rows are no data that failed to parse: they do not count against the share.
    data = [r != BLANK_ROW for r in quarantine["reason"].to_pylist()]
    n_blank = len(data) - sum(data)
    if n_blank:
        quarantine = quarantine.filter(pa.array(data))
        n_input -= n_blank
    share = quarantine.num_rows / n_input if n_input else 0.0
    if share <= read.max_quarantine_share:
        return
    first = quarantine.slice(0, 1).to_pylist()[0]
    where = f"row {first['row']}" if first["row"] is not None else "first bad row"
    reason = str(first["reason"])
    # Reasons start with the source column at fault: "UnitPrice: not a number".
    column = next((c for c in dict(roles.items()).values() if reason.startswith(f"{c}: ")), None)
    value = first.get("raw_line") if column is None else first.get(column)
    shown = f" (value {str(value)[:100]!r})" if value is not None else ""
    fix = number_hint(value, read.decimal, read.thousands) if column is not None else None
    if fix:
        advice = f"Likely cause: {fix}"
    elif joined := join_fix(reason):
        advice = joined
    elif reason.endswith(" given twice)"):  # a JSON record naming a field twice
        advice = "Fix: export each record with each field once"
    else:
        advice = (f"Fix: check {read_key('delimiter', 'encoding', 'decimal', 'timestamp_format')}"
                  f", or the {columns_key()} mapping (now {dict(roles.items())})")
    aside = f"; {n_blank:,} blank rows aside" if n_blank else ""
    raise InputError(
        f"{path}: {quarantine.num_rows:,} of {n_input:,} rows ({share:.0%}{aside}) cannot be "
        f"parsed; {where}: {reason}{shown}. {advice}; raise "
        f"{read_key('max_quarantine_share')} to accept them"
    )
