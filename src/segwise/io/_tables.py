"""Database sources: one table of a SQLite or DuckDB file, or several joined by a relation.

A relation is declared in the config (``[read] join``): the rows of ``table`` each take the
columns of one row of every joined table with equal key columns, as the search stream of an
ad log takes user, date and device from the search that showed the ad. The database is
never loaded into memory:

* DuckDB files are attached read-only and queried where they lie;
* SQLite files are read by DuckDB through the ADBC SQLite driver (Arrow batches streamed
  into the engine; DuckDB's own SQLite extension would have to be downloaded at run time,
  and no wheel of it matches DuckDB 2; a thread reads the next batches ahead), only the
  columns of the roles read, in their own types, or every value as text where a column
  mixes types, so that SQLite's per-value types can never stop a read: a value that is
  not what its column should hold is quarantined by the kind's parse rules like a CSV
  field;
* on Spark, SQLite tables are read through JDBC (the xerial driver, see
  :func:`segwise._engine.sqlite_jdbc_jar`) in parallel ranges of their ``rowid``, and
  joined by Spark.

A row whose key matches no row of a joined table, or several, is kept with a marker so
that the loader quarantines it with the reason; a relation that matches no row at all is
refused with one line.
"""

from __future__ import annotations

import contextlib
import queue
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from segwise._engine import SQLITE_JDBC_ENV, sqlite_jdbc_jar
from segwise._settings import toml_text
from segwise.exceptions import ConfigError, InputError, read_fix, read_key
from segwise.io._roles import _norm

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    import ibis.expr.types as ir
    import pyarrow as pa

__all__ = [
    "DATABASE_FORMATS",
    "JOIN_PREFIX",
    "JOIN_REASON",
    "PARSED_PREFIX",
    "Database",
    "Join",
    "join_fix",
    "join_reason",
]

#: Formats read as databases of tables.
DATABASE_FORMATS = frozenset({"sqlite", "duckdb"})
#: Prefix of the columns that count the rows a joined table matched (one per join).
JOIN_PREFIX = "_joined_"
#: Prefix of a joined table's column computed in that table, before the join (see
#: :meth:`Database.read_rows`): once a row of it, not once a row of the main table.
PARSED_PREFIX = "_parsed_"
#: Views of the joined tables' rows where columns are computed before the join.
_JOINED_VIEW = "segwise_joined_"
#: Column of converted rows (``segwise convert``) saying why a row's join failed.
JOIN_REASON = "_join_reason"
#: Rows per Arrow batch streamed from SQLite.
_BATCH_ROWS = 65_536
#: Row numbers of a table without ``rowid`` (a view), in the order it is read.
_ROW_NUMBER = "row_number() OVER ()"


@dataclass(frozen=True)
class Join:
    """A table joined to the rows read: each row takes the columns of its one match.

    Parameters
    ----------
    table : str
        The joined table.
    on : tuple of str
        Key columns, named alike in the rows read (the main table, or a table joined
        before) and in ``table``.
    """

    table: str
    on: tuple[str, ...]

    #: How a join is written in a config file, for messages.
    TOML_FORM: ClassVar[str] = '{table = "...", on = "key column"}'

    @classmethod
    def parse(cls, value: Any) -> Join:
        """Build a join from a config value: ``{table = "SearchInfo", on = "SearchID"}``.

        Raises
        ------
        ConfigError
            If the value is not a table name with key columns.
        """
        if isinstance(value, Join):
            return value
        table = value.get("table") if isinstance(value, dict) else value
        on = value.get("on") if isinstance(value, dict) else None
        fits = {"table": table if isinstance(table, str) and table else "...",
                "on": on if isinstance(on, str) and on else "key column"}
        fix = f"Fix: {read_fix({'join': [fits]})} ({_SEVERAL_KEYS} for several keys)"
        given = f"{read_key('join')}: {toml_text(value)}"
        if not isinstance(value, dict):
            raise ConfigError(f"{given} is not a table name with key columns. {fix}")
        keys_given = set(value)
        if keys_given != {"table", "on"}:
            lacks = sorted({"table", "on"} - keys_given)
            extra = sorted(keys_given - {"table", "on"})
            said = "; ".join(([f"lacks {' and '.join(lacks)}"] if lacks else [])
                             + ([f"has unknown key(s) {', '.join(extra)}"] if extra else []))
            raise ConfigError(f"{given} {said}. {fix}")
        keys = (on,) if isinstance(on, str) else tuple(on) if isinstance(on, list) else ()
        if not isinstance(table, str) or not table or not keys or not all(
                isinstance(k, str) and k for k in keys):
            raise ConfigError(f"{given} needs a table name and key column names. {fix}")
        return cls(table, keys)


#: How a join names several key columns, in words that fit a config file and Python alike.
_SEVERAL_KEYS = "on takes a list"

#: A joined row's reasons, the keys and the joined table filled in: its key matched no row
#: of the table, or several.
_NO_MATCH = "{keys}: no row of {table} matches"
_SEVERAL_MATCH = "{keys}: several rows of {table} match"


def join_fix(reason: str) -> str | None:
    """Return the fix for rows quarantined with ``reason`` where a join gave it, else None.

    Too many such rows is no parse error (delimiter, encoding): the relation is declared
    on keys that are not unique in the joined table, or that it lacks. Read from the
    reason alone, so that Parquet parts ``segwise convert`` wrote get it too.
    """
    for form, fix in (
        (_SEVERAL_MATCH, "Fix: join {table} on keys unique in it ({several} for several keys), "
                         "or remove its duplicate rows"),
        (_NO_MATCH, "Fix: check that {table} holds every {keys} of the main table and that "
                    "{join} names the right table and key"),
    ):
        pattern = re.escape(form).replace(r"\{keys\}", "(?P<keys>.+)").replace(
            r"\{table\}", "(?P<table>.+)")
        if match := re.fullmatch(pattern, reason):
            return fix.format(**match.groupdict(), several=_SEVERAL_KEYS,
                              join=read_key("join"))
    return None


def join_reason(table: ir.Table, joins: Sequence[Join]) -> ir.StringValue | None:
    """Why a joined row is quarantined: its key matched no row or several; else NULL.

    Parameters
    ----------
    table : ibis.Table
        Rows with the ``_joined_<i>`` counts :class:`Database` adds, and the key columns
        (as source columns, prefixed or not).
    joins : sequence of Join
        The relation's joins, in order.

    Returns
    -------
    ibis string expression or None
        ``None`` when there is no join.
    """
    import ibis

    checks = []
    for i, join in enumerate(joins):
        n = table[f"{JOIN_PREFIX}{i}"]
        keys = " and ".join(join.on)
        checks += [(n.isnull(), _NO_MATCH.format(keys=keys, table=join.table)),
                   (n > 1, _SEVERAL_MATCH.format(keys=keys, table=join.table))]
    if not checks:
        return None
    return ibis.cases(*checks, else_=ibis.null("string"))


class Database:
    """A database file's main table, and the tables a relation joins to it.

    Opening it checks the tables and keys and lists the columns, reading no rows.

    Parameters
    ----------
    path : Path
        The SQLite or DuckDB file.
    fmt : {"sqlite", "duckdb"}
        Its format.
    table : str, optional
        The main table; the only table when omitted.
    joins : sequence of Join, default=()
        Tables joined to it.

    Raises
    ------
    InputError
        If the file is not a database, is locked or damaged, or lacks a table or key.
    """

    def __init__(self, path: Path, fmt: str, table: str | None,
                 joins: Sequence[Join] = ()) -> None:
        self.path, self.fmt, self.joins = path, fmt, tuple(joins)
        tables = self._tables()
        self.table = _pick_table(path, list(tables), table, bool(self.joins))
        known = list(tables[self.table])
        #: Source column name -> (table, column in that table).
        self._origin = {c: (self.table, c) for c in known}
        for i, join in enumerate(self.joins):
            if join.table == self.table or join.table in (j.table for j in self.joins[:i]):
                raise ConfigError(
                    f"{path}: {read_key('join')} names table {join.table} "
                    + ("as a join to itself" if join.table == self.table else "twice")
                    + ": each table's columns join once. Fix: one join per table other than "
                    f"{read_key('table')} ({_SEVERAL_KEYS} for several keys)"
                )
            if join.table not in tables:
                raise InputError(
                    f"{path}: {read_key('join')} names table {join.table!r}, which "
                    "the database "
                    f"lacks (tables: {', '.join(tables)}). Fix: correct the table name"
                )
            cols = tables[join.table]
            for key in join.on:
                if key not in self._origin or key not in cols:
                    raise InputError(self._missing_key(join, key, list(cols), i))
            for col in cols:
                if col in join.on:
                    continue
                name = col if col not in self._origin else f"{join.table}_{col}"
                self._origin[name] = (join.table, col)
        #: Per join, whether its keys are unique in the joined table by a declared
        #: constraint (primary key, unique index): then no row can match several.
        self._unique = self._unique_joins()
        #: Per table read, the name of its ``rowid`` (``_rowid_`` or ``oid`` where a
        #: column is named rowid), or None: a view (or a SQLite table WITHOUT ROWID) has
        #: none, and its rows are numbered as read.
        self._rowids = {t: self._rowid_name(t, tables[t]) for t in self._tables_used()}

    def _missing_key(self, join: Join, key: str, cols: list[str], i: int) -> str:
        """Say which side of join ``i`` lacks ``key``, and what it has instead."""
        if key in self._origin:
            side, has = join.table, cols
        else:
            side = " joined with ".join([self.table, *(j.table for j in self.joins[:i])])
            has = list(self._origin)
        same = [c for c in has if _norm(c) == _norm(key)]
        both = [c for c in self._origin if c in cols]
        hint = (f"; did you mean {same[0]!r}? (case and spaces matter)" if same
                else f" (columns both have: {', '.join(both)})" if both
                else " (the tables have no column in common)")
        return (f"{self.path}: {read_key('join')}: {join.table} on {key!r}: {side} "
                f"has no column "
                f"{key!r}{hint}. Fix: name a column both tables have")

    @property
    def columns(self) -> list[str]:
        """Every source column: the main table's, then each joined table's but its keys.

        A joined column named like an earlier one is called ``<table>_<column>``.
        """
        return list(self._origin)

    # ------------------------------------------------------------------ reading

    def sample(self, duck: Any, column: str, n: int = 2000) -> list[str]:
        """Up to ``n`` distinct values of a source column, as trimmed non-empty text.

        Read from the column's own table, not the joined rows: from SQLite in blocks of
        ``rowid`` spread over the table (the first rows where there is no ``rowid``),
        from a DuckDB file (attached by :meth:`read_rows`) through ``duck``.

        Parameters
        ----------
        duck : ibis DuckDB backend
            The connection reading the rows.
        column : str
            A source column (see :attr:`columns`).
        n : int, default=2000
            How many values at most (as many as a timestamp layout is detected from).
        """
        table, col = self._origin[column]
        t, c = self._refs[table], _quote(col)
        if self.fmt == "duckdb":
            rows = duck.con.execute(
                f"SELECT DISTINCT {c} FROM segwise_src.{t} WHERE {c} IS NOT NULL LIMIT ?",  # noqa: S608
                [n]).fetchall()
        else:
            rows = self._sqlite_sample(table, col, n)
        values = (str(v).strip() for (v,) in rows)
        return list(dict.fromkeys(v for v in values if v))[:n]

    def column_query(self, duck: Any, column: str,
                     statement: Callable[[str], str]) -> list[tuple[Any, ...]]:
        """Run one query over every value of a source column, read from its own table.

        Parameters
        ----------
        duck : ibis DuckDB backend
            The connection reading the rows (the DuckDB file attached by :meth:`read_rows`).
        column : str
            A source column (see :attr:`columns`).
        statement : callable
            ``statement(view)`` returns the SQL to run over a view with one column, ``v``,
            the values as text.

        Returns
        -------
        list of tuples
            The query's rows.
        """
        table, col = self._origin[column]
        con = duck.con
        opened: list[Any] = []
        if self.fmt == "duckdb":
            relation = f"segwise_src.{self._refs[table]}"
        else:
            relation = "segwise_sqlite_values"
            con.register(relation, self._sqlite_stream(table, [col], with_rowid=False,
                                                       text=True, opened=opened))
        try:
            con.execute(f"CREATE OR REPLACE TEMP VIEW segwise_values AS SELECT "  # noqa: S608
                        f"CAST({_quote(col)} AS VARCHAR) AS v FROM {relation}")
            rows: list[tuple[Any, ...]] = con.execute(statement("segwise_values")).fetchall()
            return rows
        except Exception as exc:
            raise self._error(exc) from exc
        finally:
            con.execute("DROP VIEW IF EXISTS segwise_values")
            if opened:
                con.unregister(relation)
            _close(opened)

    def _sqlite_sample(self, table: str, column: str, n: int) -> list[tuple[Any]]:
        """Values of a SQLite column from 20 blocks of ``rowid`` spread over the table.

        A table without ``rowid`` (a view) gives its first values.
        """
        blocks = 20
        t, c = _quote(table), _quote(column)
        sql = f"SELECT {c} FROM {t} WHERE {c} IS NOT NULL"  # noqa: S608
        try:
            with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as con:
                rowid = self._rowids[table]
                if rowid is None:
                    return con.execute(f"{sql} LIMIT ?", [n]).fetchall()
                low, high = _rowid_range(con, t, rowid)
                rows: list[tuple[Any]] = []
                for i in range(blocks if low is not None else 0):
                    start = low + (high - low) * i // blocks
                    rows += con.execute(f"{sql} AND {rowid} >= ? ORDER BY {rowid} LIMIT ?",
                                        [start, -(-n // blocks)]).fetchall()
                return rows
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def read_rows(self, duck: Any, columns: Sequence[str],
                  statement: Callable[[str], str], *,
                  before_join: Callable[[str], Mapping[str, Callable[[ir.Value], ir.Value]]]
                  | None = None) -> None:
        """Run one statement over the rows (a temporary view, readable once).

        SQLite values are read in their own types, which is fastest; a column holding
        values of several types stops the driver, and then the rows are read again with
        every value as text (parsed and quarantined like a CSV field).

        Parameters
        ----------
        duck : ibis DuckDB backend
            The connection.
        columns : sequence of str
            Source columns to read.
        statement : callable
            ``statement(view)`` returns the SQL to run over the view.
        before_join : callable, optional
            ``before_join(view)``, called with the view before ``statement``, returns
            ``{column: function}``: each such column of a joined table also comes as
            ``PARSED_PREFIX + column``, ``function(value)`` computed in its own table
            before the join, once a row of that table (a search's date parsed once, not
            once for each of its impressions). Columns of the main table are left out.

        Raises
        ------
        InputError
            If the database cannot be read (locked, damaged).
        """
        columns = self._with_keys(columns)
        for text in (False, True) if self.fmt == "sqlite" else (False,):
            try:
                with self._duckdb_view(duck, columns, text=text,
                                       before_join=before_join) as view:
                    duck.con.execute(statement(view))
                return
            except (InputError, ConfigError):  # said of the rows (a timestamp layout)
                raise
            except Exception as exc:
                if not text and "type mismatch" in str(exc).lower():
                    continue
                raise self._error(exc) from exc

    @contextlib.contextmanager
    def _duckdb_view(
        self, duck: Any, columns: Sequence[str], *, text: bool,
        before_join: Callable[[str], Mapping[str, Callable[[ir.Value], ir.Value]]] | None = None,
    ) -> Iterator[str]:
        """Create the temporary view ``segwise_rows`` of the rows for a ``with`` block.

        With ``before_join``, see :meth:`read_rows`: the view is created again with the
        columns it asks for.

        Whatever fails on the way (a table the driver cannot read), the streams opened
        so far are closed and unregistered.
        """
        con = duck.con
        opened: list[Any] = []
        relations: dict[str, str] = {}
        optimizers = con.execute("SELECT current_setting('disabled_optimizers')").fetchall()[0][0]
        try:
            if self.fmt == "duckdb":
                con.execute("ATTACH IF NOT EXISTS ? AS segwise_src (READ_ONLY)",
                            [str(self.path)])
                relations = {t: f"segwise_src.{self._refs[t]}" for t in self._tables_used()}
                row = "rowid + 1"
                if self._rowids[self.table] is None:
                    relations[self.table] = (f"(SELECT {_ROW_NUMBER} AS _rowid, * "  # noqa: S608
                                             f"FROM {relations[self.table]})")
                    row = "_rowid"
            else:
                for i, name in enumerate(self._tables_used()):
                    view = f"segwise_sqlite_{i}"
                    con.register(view, self._sqlite_stream(
                        name, self._read_columns(name, columns), with_rowid=name == self.table,
                        text=text, opened=opened))
                    relations[name] = view
                row = "_rowid"
            # DuckDB knows no row count of a stream, and may hash the main table (the many
            # rows) to probe it with the joined one: several times the memory and ~10 %
            # more time. Each joined table (at most one row per key) is hashed as the
            # query says.
            if self.fmt == "sqlite" and self.joins:
                con.execute("SET disabled_optimizers = ?",
                            [",".join(filter(None, [optimizers, "build_side_probe_side"]))])
            view = "segwise_rows"
            con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS "
                        + self._join_sql(relations, columns, row))
            derived = {c: f for c, f in (before_join(view) if before_join else {}).items()
                       if c in columns and self._origin[c][0] != self.table
                       and PARSED_PREFIX + c not in self._origin}
            if derived:
                con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS "
                            + self._join_sql(relations, columns, row, duck, derived))
            yield view
        finally:
            con.execute("SET disabled_optimizers = ?", [optimizers])
            con.execute("DROP VIEW IF EXISTS segwise_rows")
            for i in range(len(self.joins)):
                con.execute(f"DROP VIEW IF EXISTS {_JOINED_VIEW}{i}")
            for name in relations.values():
                if name.startswith("segwise_sqlite_"):
                    con.unregister(name)
            _close(opened)

    def to_spark(self, session: Any, columns: Sequence[str]) -> Any:
        """Read the rows into a Spark DataFrame through JDBC: ``_row``, columns, join counts.

        Raises
        ------
        ConfigError
            If no SQLite JDBC driver is installed.
        """
        from pyspark.sql import functions as F

        if sqlite_jdbc_jar() is None:
            raise ConfigError(
                f"{self.path}: engine spark reads SQLite through the xerial JDBC driver, which "
                "is not installed. Fix: apt-get install libxerial-sqlite-jdbc-java (or set "
                f"{SQLITE_JDBC_ENV}), or run `segwise convert` to Parquet first"
            )
        columns = self._with_keys(columns)
        frames = {}
        for name in self._tables_used():
            cols = self._read_columns(name, columns)
            frames[name] = self._jdbc(session, name, cols, with_rowid=name == self.table)
        frame = frames[self.table].withColumnRenamed("_rowid", "_row")
        for i, join in enumerate(self.joins):
            other = frames[join.table]
            renamed = {col: out for out, (t, col) in self._origin.items()
                       if t == join.table and out in columns and col not in join.on}
            agg = [F.first(col).alias(out) for col, out in renamed.items()]
            grouped = other.groupBy(*join.on).agg(F.count(F.lit(1)).alias(f"{JOIN_PREFIX}{i}"),
                                                   *agg)
            frame = frame.join(grouped, on=list(join.on), how="left")
        # Read SQLite once: every later query (counts, quarantine, audit, features)
        # scans the persisted rows, not the database again.
        from pyspark import StorageLevel

        return frame.persist(StorageLevel.MEMORY_AND_DISK)

    # ------------------------------------------------------------------ helpers

    def _tables(self) -> dict[str, list[str]]:
        """Table name -> column names, read from the schema; sets :attr:`_refs`.

        A DuckDB table outside the ``main`` schema (dbt writes models to schemas of their
        own) is named ``schema.table``, as in ``[read] table = "analytics.events"``.
        """

        def sqlite_columns(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
            names = [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name")]
            return [("main", n, r[1]) for n in names
                    for r in con.execute(f"PRAGMA table_info({_quote(n)})")]

        rows = self._catalog(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "ORDER BY table_schema <> 'main', table_schema, table_name, ordinal_position",
            sqlite_columns)
        tables: dict[str, list[str]] = {}
        #: Table name -> its quoted reference in SQL (schema included).
        self._refs: dict[str, str] = {}
        for schema, table, column in rows:
            name = _schema_name(schema, table)
            self._refs[name] = (_quote(table) if name == table
                                else f"{_quote(schema)}.{_quote(table)}")
            tables.setdefault(name, []).append(column)
        return tables

    def _unique_joins(self) -> tuple[bool, ...]:
        """Per join, whether a primary key or unique index makes its keys unique."""
        if not self.joins:
            return ()
        rows = self._catalog(
            "SELECT schema_name, table_name, constraint_column_names FROM duckdb_constraints() "
            "WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE')",
            lambda con: [("main", t, cols) for t in {j.table for j in self.joins}
                         for cols in _sqlite_unique(con, t)])
        rows = [(_schema_name(schema, table), cols) for schema, table, cols in rows]
        return tuple(any(set(cols) <= set(join.on) for table, cols in rows if table == join.table)
                     for join in self.joins)

    def _catalog(self, duckdb_sql: str,
                 sqlite_rows: Callable[[sqlite3.Connection], list[tuple[Any, ...]]],
                 ) -> list[tuple[Any, ...]]:
        """Rows read from the file's schema: ``duckdb_sql``, or ``sqlite_rows(connection)``."""
        try:
            if self.fmt == "duckdb":
                import duckdb

                with duckdb.connect(str(self.path), read_only=True) as con:
                    return con.execute(duckdb_sql).fetchall()
            with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as con:
                return sqlite_rows(con)
        except Exception as exc:
            raise self._error(exc) from exc

    def _with_keys(self, columns: Sequence[str]) -> list[str]:
        """Return ``columns`` and every join's key columns (a later join may need them)."""
        return list(dict.fromkeys([*columns, *(k for j in self.joins for k in j.on)]))

    def _tables_used(self) -> list[str]:
        """Return the main table and every joined table (each read to count its matches)."""
        return [self.table, *dict.fromkeys(j.table for j in self.joins)]

    def _read_columns(self, table: str, columns: Sequence[str]) -> list[str]:
        """Columns of ``table`` to read: those asked for, and the keys of the joins."""
        provided = {k for j in self.joins for k in j.on if self._origin[k][0] == table}
        wanted = [col for out, (t, col) in self._origin.items()
                  if t == table and (out in columns or out in provided)]
        own_keys = [k for j in self.joins if j.table == table for k in j.on]
        return list(dict.fromkeys([*own_keys, *wanted]))

    def _join_sql(self, relations: dict[str, str], columns: Sequence[str], row: str,
                  duck: Any = None,
                  derived: Mapping[str, Callable[[ir.Value], ir.Value]] | None = None) -> str:
        """Return the SELECT of ``raw``: each joined table grouped on its keys, left-joined.

        ``derived`` columns of a joined table (see :meth:`read_rows`) are computed, by
        ``duck``, over its grouped rows, so that they follow the values joined.
        """
        select = [f"m.{row} AS _row"]
        select += [f"m.{_quote(c)} AS {_quote(c)}" for c in columns
                   if self._origin[c][0] == self.table]
        joins = []
        for i, join in enumerate(self.joins):
            alias = f"j{i}"
            outs = {out: col for out, (t, col) in self._origin.items()
                    if t == join.table and out in columns and col not in join.on}
            keys = ", ".join(_quote(k) for k in join.on)
            if self._unique[i]:  # at most one row per key: no grouping needed
                values = "".join(f", {_quote(col)}" for col in outs.values())
                grouped = (f"(SELECT {keys}, 1 AS {JOIN_PREFIX}{i}{values} "  # noqa: S608
                           f"FROM {relations[join.table]})")
            else:
                values = "".join(f", any_value({_quote(col)}) AS {_quote(col)}"
                                 for col in outs.values())
                grouped = (f"(SELECT {keys}, count(*) AS {JOIN_PREFIX}{i}{values} "  # noqa: S608
                           f"FROM {relations[join.table]} GROUP BY {keys})")
            mine = {PARSED_PREFIX + out: f for out, f in (derived or {}).items() if out in outs}
            if mine:
                duck.con.execute(f"CREATE OR REPLACE TEMP VIEW {_JOINED_VIEW}{i} AS "
                                 + grouped[1:-1])
                rows = duck.table(f"{_JOINED_VIEW}{i}")
                computed = rows.mutate(**{name: f(rows[outs[name.removeprefix(PARSED_PREFIX)]])
                                          for name, f in mine.items()})
                grouped = f"({duck.compile(computed)})"
            where = " AND ".join(f"{alias}.{_quote(k)} = {self._key_side(k, i)}"
                                 for k in join.on)
            joins.append(f"LEFT JOIN {grouped} AS {alias} ON {where}")
            select.append(f"{alias}.{JOIN_PREFIX}{i}")
            select += [f"{alias}.{_quote(col)} AS {_quote(out)}" for out, col in outs.items()]
            select += [f"{alias}.{_quote(name)}" for name in mine]
        return (f"SELECT {', '.join(select)} FROM {relations[self.table]} AS m "  # noqa: S608
                + " ".join(joins))

    def _key_side(self, key: str, before: int) -> str:
        """Where a join's key comes from: the main table, or an earlier join."""
        table = self._origin[key][0]
        if table == self.table:
            return f"m.{_quote(key)}"
        index = next(i for i, j in enumerate(self.joins[:before]) if j.table == table)
        return f"j{index}.{_quote(key)}"

    def _sqlite_stream(self, table: str, columns: Sequence[str], *, with_rowid: bool,
                       text: bool, opened: list[Any]) -> pa.RecordBatchReader:
        """Stream a SQLite table's columns through the ADBC driver (as text if ``text``).

        A column the driver types as text from its first rows (text, or integers and
        text mixed) is cast to text by SQLite itself: the driver writes a real number it
        meets in a text column as ``%e``, six digits after the point (1234.5678 as
        ``1.234568e+03``; a Julian day ``julianday()`` wrote, to the whole day), where
        SQLite's text keeps every digit (``1234.5678``).

        The connection and cursor are appended to ``opened``, to be closed by the caller
        once the stream is read.
        """
        import adbc_driver_sqlite.dbapi as adbc
        import pyarrow as pa

        def select(as_text: Sequence[str]) -> str:
            cols = [f"CAST({_quote(c)} AS TEXT) AS {_quote(c)}" if c in as_text
                    else _quote(c) for c in columns]
            if with_rowid:
                cols.insert(0, f"{self._rowids[table] or _ROW_NUMBER} AS _rowid")
            return f"SELECT {', '.join(cols)} FROM {_quote(table)}"  # noqa: S608 - quoted

        try:
            con = adbc.connect(f"file:{self.path}?mode=ro")
            opened.append(con)
            as_text = list(columns) if text else []
            while True:
                cur = con.cursor()
                opened.append(cur)
                cur.adbc_statement.set_options(
                    **{"adbc.sqlite.query.batch_rows": str(_BATCH_ROWS)})
                cur.execute(select(as_text))
                reader = cur.fetch_record_batch()
                typed_text = [c for c in columns if c not in as_text and (
                    pa.types.is_string(reader.schema.field(c).type)
                    or pa.types.is_large_string(reader.schema.field(c).type))]
                if not typed_text:
                    break
                reader.close()
                cur.close()
                opened.remove(cur)
                as_text += typed_text
            ahead = _ReadAhead(reader)
            opened.append(ahead)
            return ahead.reader
        except Exception as exc:
            raise self._error(exc) from exc

    def _jdbc(self, session: Any, table: str, columns: Sequence[str], *,
              with_rowid: bool) -> Any:
        """Read a SQLite table's columns as text into Spark, in parallel ranges of rowid.

        A table without ``rowid`` (a view) is read in one range, its rows numbered as
        read: ranges of a number computed in each query would not be the same rows.
        """
        rowid = self._rowids[table]
        cols = [f"CAST({_quote(c)} AS TEXT) AS {_quote(c)}" for c in columns]
        cols.insert(0, f"{rowid or _ROW_NUMBER} AS _rowid")
        query = f"(SELECT {', '.join(cols)} FROM {_quote(table)}) AS t"  # noqa: S608
        schema = ", ".join(["_rowid LONG", *(f"`{c}` STRING" for c in columns)])
        reader = (session.read.format("jdbc")
                  .option("url", f"jdbc:sqlite:{self.path}")
                  .option("driver", "org.sqlite.JDBC")
                  .option("dbtable", query)
                  .option("customSchema", schema)
                  .option("fetchsize", 10_000))
        if rowid is not None:
            with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as con:
                low, high = _rowid_range(con, _quote(table), rowid)
            parts = max(1, min(64, ((high or 0) - (low or 0)) // 1_000_000 + 1))
            reader = (reader.option("partitionColumn", "_rowid")
                      .option("lowerBound", int(low or 0))
                      .option("upperBound", int(high or 0) + 1)
                      .option("numPartitions", int(parts)))
        frame = reader.load()
        return frame if with_rowid else frame.drop("_rowid")

    def check_matches(self, raw: ir.Table, n: int, *, nothing: str = "") -> None:
        """Refuse a relation that matches no row at all: a wrong key, not bad rows.

        ``nothing`` says what therefore did not happen (``"nothing was written"``),
        before the fix.

        Raises
        ------
        InputError
            Naming the tables and keys of the join that matched nothing.
        """
        from segwise._engine import fetch_scalar

        said = f"; {nothing}" if nothing else ""
        joined = read_key("join")
        for i, join in enumerate(self.joins):
            if n and fetch_scalar(raw[f"{JOIN_PREFIX}{i}"].count()) == 0:
                if not self._has_rows(join.table):
                    raise InputError(
                        f"{self.path}: table {join.table}, which {joined} joins on "
                        f"{', '.join(join.on)}, has no rows, so no row of {self.table} can be "
                        f"used{said}. Fix: export its rows too, or drop it from {joined}"
                    )
                raise InputError(
                    f"{self.path}: no row of {self.table} matches a row of {join.table} on "
                    f"{', '.join(join.on)}{said}. Fix: check {joined} (the key columns "
                    "must hold the same values in both tables)"
                )

    def check_has_rows(self, rows: str, *, nothing: str = "") -> None:
        """Refuse a main table that holds no row (read at its first row only).

        Parameters
        ----------
        rows : str
            What a row is (``"events"``), for the fix.
        nothing : str, default=""
            What therefore did not happen, said before the fix (``"nothing was written"``).

        Raises
        ------
        InputError
            Naming the empty table.
        """
        if not self._has_rows(self.table):
            raise InputError(f"{self.path}: table {self.table} has no rows"
                             + (f"; {nothing}" if nothing else "")
                             + f". Fix: set {read_key('table')} to the table that holds the "
                             f"{rows}, "
                             "or export the rows too")

    def _rowid_name(self, table: str, columns: Sequence[str]) -> str | None:
        """Return the name a table's ``rowid`` is read by, or None when it has none.

        A view, or a SQLite table WITHOUT ROWID, has none; a column named ``rowid`` hides
        it, and SQLite's other names for it (``_rowid_``, ``oid``) are used, or none
        (DuckDB has only ``rowid``).
        """
        taken = {c.lower() for c in columns}
        if self.fmt == "duckdb":
            sql = f"SELECT rowid FROM {self._refs[table]} LIMIT 0"  # noqa: S608
            try:
                self._catalog(sql, lambda con: [])
            except InputError:  # a view has no rowid column
                return None
            return None if "rowid" in taken else "rowid"
        if not self._catalog("", lambda con: [(_sqlite_has_rowid(con, table),)])[0][0]:
            return None
        return next((n for n in ("rowid", "_rowid_", "oid") if n not in taken), None)

    def _has_rows(self, table: str) -> bool:
        """Whether a table of the file holds a row (read at its first row only)."""
        sql = f"SELECT count(*) FROM (SELECT 1 FROM {self._refs[table]} LIMIT 1)"  # noqa: S608

        def rows(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return con.execute(sql).fetchall()

        return self._catalog(sql, rows) != [(0,)]

    def _error(self, exc: BaseException) -> InputError:
        """One line for a database that cannot be read: locked, damaged, not a database."""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        low = text.lower()
        # SQLite says "database is locked"; DuckDB "Could not set lock on file ...:
        # Conflicting lock is held in <program>" while another process has it open.
        if "locked" in low or "busy" in low or "conflicting lock" in low:
            fix = ("another program is writing to it. Fix: wait until it finishes, or read "
                   "a copy of the file")
        elif any(word in low for word in (
                "not a database", "malformed", "corrupt", "not a valid", "file is not",
                "could not read enough bytes", "checksum")):
            fix = (f"the file is damaged or not a {self.fmt} database. Fix: check it (for "
                   "SQLite: sqlite3 FILE 'PRAGMA integrity_check') or export it again")
        else:
            fix = "Fix: check that the file is a readable database"
        return InputError(f"{self.path}: cannot read the {self.fmt} database: {text}; {fix}")


class _ReadAhead:
    """Read a stream's next batches in a thread while the engine works on the current one.

    DuckDB scans a Python Arrow stream on one thread, which would otherwise alternate
    between waiting for SQLite (the ADBC driver releases the GIL while it reads) and
    joining, parsing and storing the batch it got: on two cores the read of the next
    batches now overlaps that work. Batches keep their order. :meth:`close` stops the
    thread and waits for it, so that the cursor is never closed while being read.

    Parameters
    ----------
    source : pyarrow.RecordBatchReader
        The driver's stream.
    depth : int, default=4
        Batches read ahead at most (memory: ``depth`` x :data:`_BATCH_ROWS` rows).
    """

    _END = object()

    def __init__(self, source: pa.RecordBatchReader, depth: int = 4) -> None:
        import pyarrow as pa

        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, args=(source,), daemon=True,
                                        name="segwise-sqlite-read")
        self._thread.start()
        self.reader = pa.RecordBatchReader.from_batches(source.schema, self._batches())

    def _produce(self, source: pa.RecordBatchReader) -> None:
        item: Any = self._END
        try:
            for batch in source:
                if not self._put(batch):
                    return
        except BaseException as exc:  # handed to the reading thread, raised there
            item = exc
        self._put(item)

    def _put(self, item: Any) -> bool:
        """Queue ``item`` unless stopped first; return whether it was queued."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _batches(self) -> Iterator[pa.RecordBatch]:
        while True:
            try:
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                if self._stop.is_set():  # closed: read no further
                    return
                continue
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop reading ahead and wait for the thread to let go of the stream."""
        self._stop.set()
        self._thread.join()


def _pick_table(path: Path, names: list[str], table: str | None, joined: bool) -> str:
    if not names:
        raise InputError(f"{path}: the database holds no table. Fix: check that it is the "
                         "right file, or export the tables again")
    if table is not None:
        if table not in names:
            raise InputError(
                f"{path}: no table {table!r} (tables: {', '.join(names)}). "
                f"Fix: set {read_key('table')} to one of them"
            )
        return table
    if len(names) != 1 or joined:
        raise InputError(
            f"{path}: {len(names)} tables ({', '.join(names)}); "
            f"Fix: name the one to read: {read_fix({'table': '...'})}"
        )
    return names[0]


def _sqlite_unique(con: sqlite3.Connection, table: str) -> list[list[str]]:
    """Column sets a SQLite table declares unique: its primary key, its unique indexes.

    An ``INTEGER PRIMARY KEY`` is the ``rowid`` and has no index; a partial index or one
    on an expression guarantees nothing for the join.
    """
    info = con.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
    key = [name for _, name, _, _, _, pk in sorted(info, key=lambda r: r[5]) if pk]
    sets = [key] if key else []
    for _, index, unique, _, partial in con.execute(f"PRAGMA index_list({_quote(table)})"):
        if unique and not partial:
            cols = [r[2] for r in con.execute(f"PRAGMA index_info({_quote(index)})")]
            if cols and None not in cols:
                sets.append(cols)
    return sets


def _sqlite_has_rowid(con: sqlite3.Connection, table: str) -> bool:
    """Whether a SQLite table has a ``rowid``: not a view, nor a table WITHOUT ROWID.

    Asked of the schema: some SQLite builds let a view's ``rowid`` be selected (all
    NULL), others refuse it, so trying it says nothing.
    """
    row = con.execute("SELECT type, sql FROM sqlite_master WHERE name = ?", [table]).fetchone()
    if row is None or row[0] != "table":
        return False
    return "WITHOUTROWID" not in "".join((row[1] or "").upper().split())


def _rowid_range(con: sqlite3.Connection, table: str, rowid: str) -> tuple[Any, Any]:
    """Return the smallest and largest ``rowid`` of a (quoted) table: two index look-ups.

    Asked together in one ``SELECT``, SQLite scans the whole table for them (0.3 s for
    3.6 M searches); each in its own subquery reads one end of the table's b-tree.
    ``rowid`` is the name it is read by (see :meth:`Database._rowid_name`).
    """
    row = con.execute(f"SELECT (SELECT min({rowid}) FROM {table}), "  # noqa: S608
                      f"(SELECT max({rowid}) FROM {table})").fetchone()
    return row[0], row[1]


def _schema_name(schema: str, table: str) -> str:
    """Return a table's name in messages and ``[read]``: ``schema.table`` outside ``main``."""
    return table if schema == "main" else f"{schema}.{table}"


def _quote(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _close(opened: list[Any]) -> None:
    """Close the streams' cursors, then their connections (see ``_sqlite_stream``)."""
    for handle in reversed(opened):
        with contextlib.suppress(Exception):
            handle.close()
