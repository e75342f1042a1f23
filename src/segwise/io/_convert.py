"""One-pass conversion of a source to a directory of Parquet files (``segwise convert``).

A large SQLite log is read once, with its relation applied and only the columns that play
a role for the kind, and written as Parquet parts that Spark (or DuckDB) then reads in
parallel as often as needed. The rows keep their row number in the main table (``_row``)
and why their join failed (``_join_reason``), so that loading the Parquet quarantines
exactly the rows loading the database would.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from segwise._engine import duckdb_connection, fetch_scalar, sql_text
from segwise.exceptions import ConfigError, InputError, UsageError, read_key
from segwise.io._compressed import COMPRESSIONS
from segwise.io._kinds import SourceKind, get_kind
from segwise.io._readers import _FORMATS, ReadOptions, _check_file
from segwise.io._roles import resolve_roles
from segwise.io._tables import DATABASE_FORMATS, JOIN_PREFIX, JOIN_REASON, Database, join_reason

__all__ = ["Conversion", "convert_to_parquet"]

#: Target size of one Parquet part; Spark reads the parts in parallel.
PART_BYTES = "128MB"


@dataclass(frozen=True)
class Conversion:
    """What a conversion wrote.

    Attributes
    ----------
    path : Path
        The directory of Parquet parts.
    rows : int
        Rows written (every row of the main table).
    files : int
        Parquet parts.
    seconds : float
        Wall time of the conversion.
    """

    path: Path
    rows: int
    files: int
    seconds: float


def _check_replaceable(out: Path, tmp: Path) -> Path | None:
    """Refuse an output that replacing would destroy more than an earlier conversion.

    The directory is replaced: only a new one, or one holding nothing but Parquet parts,
    may be (``-o .`` once deleted the folder with the database and the config in it).
    ``tmp``, where the parts are written first, must be creatable beside it (else DuckDB's
    failure was reported as the database's). Returns the outermost folder created for a
    new output's parents (None if none was), to be removed again if the conversion fails.
    """
    if out.is_file() or (out.exists() and not out.is_dir()):
        raise ConfigError(f"{out}: is a file; convert writes a folder of Parquet parts. Fix: "
                          "name a new folder, e.g. -o parts/")
    created = None
    if not out.is_dir():
        missing = [p for p in out.absolute().parents if not p.exists()]
        parent = missing[-1].parent if missing else out.absolute().parent
        if not parent.is_dir():
            raise ConfigError(f"{out}: cannot create its folder, {parent} is a file. Fix: "
                              "name a folder outside it, e.g. -o parts/")
        created = missing[-1] if missing else None
    try:  # DuckDB creates the folder, not its parents
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        tmp.rmdir()
    except OSError as exc:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise ConfigError(f"{out}: cannot write its folder in {out.parent.absolute()} "
                          f"({exc.strerror or exc}). Fix: choose a folder you can write "
                          "to") from exc
    if not out.is_dir():
        return created
    others = sorted(p.name for p in out.iterdir()
                    if not (p.is_file() and p.suffix.lower() == ".parquet"))
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise ConfigError(
            f"{out}: holds more than Parquet parts ({shown}), and convert replaces the "
            "folder, which would delete them. Fix: name a new or empty folder, or one an "
            "earlier convert wrote"
        )
    return None


def _check_some_row_joins(database: Database, duck: Any, parts: Path, n: int) -> None:
    """Refuse a conversion none of whose rows survives the relation.

    Loading such parts would only quarantine every row: the relation is wrong (keys that
    match nothing, an empty joined table). Only then are the keys read again, to name the
    join that matched nothing (:meth:`Database.check_matches`).
    """
    if not database.joins or not n:
        return
    rows = duck.read_parquet(str(parts / "*.parquet"))
    if fetch_scalar(rows.count(where=rows[JOIN_REASON].isnull())):
        return
    markers = [f"{JOIN_PREFIX}{i}" for i in range(len(database.joins))]
    database.read_rows(duck, [], lambda view: (
        "CREATE OR REPLACE TEMP TABLE segwise_matches AS SELECT "  # noqa: S608
        + ", ".join(f"max({m}) AS {m}" for m in markers) + f" FROM {view}"))
    database.check_matches(duck.table("segwise_matches"), n, nothing="nothing was written")
    raise InputError(
        f"{database.path}: every row of {database.table} matches several rows of a table "
        f"{read_key('join')} joins; nothing was written. Fix: join on keys unique in the "
        "joined tables (on takes a list for several keys)")


def convert_to_parquet(
    source: str | Path,
    out: str | Path,
    kind: str | SourceKind = "events",
    *,
    columns: Mapping[str, str] | None = None,
    read: ReadOptions | None = None,
    memory_limit: str | None = None,
) -> Conversion:
    """Convert a database's rows (its relation applied) to a directory of Parquet parts.

    Parameters
    ----------
    source : str or Path
        A SQLite or DuckDB database (``read.table`` and ``read.join`` say what to read).
    out : str or Path
        The directory to write; replaced if it exists and holds only Parquet parts.
    kind : str or SourceKind, default="events"
        The source kind: only the columns that play one of its roles are written (every
        column for kinds that keep the others).
    columns : mapping of role to column name, optional
        Explicit column roles, as for :func:`segwise.io.load_source`.
    read : ReadOptions, optional
        Reader settings (table, join).
    memory_limit : str, optional
        Cap on DuckDB's memory.

    Returns
    -------
    Conversion
        Where, how many rows and parts, how long.

    Raises
    ------
    InputError
        If the source is not a database or cannot be read, its table has no rows, or no
        row survives the relation (nothing is written then).
    UsageError
        If ``out``'s suffix names a file format other than Parquet (``parts.csv``).
    ConfigError
        If ``out`` is a file, or a folder holding anything but Parquet parts (replacing
        it would delete them: the database itself, with ``-o .``).
    """
    started = time.perf_counter()
    spec = get_kind(kind)
    read = read or ReadOptions()
    path, out = Path(source), Path(out)
    suffix = out.suffix.lower()
    if suffix in COMPRESSIONS or _FORMATS.get(suffix, "parquet") != "parquet":
        # -o parts.csv wrote a folder of that name holding Parquet parts.
        raise UsageError(f"{out}: convert writes a folder of Parquet parts, not a {suffix} "
                         f"file. Fix: name a folder, e.g. -o {out.with_suffix('').name}/ or "
                         f"-o {out.with_suffix('.parquet').name}")
    fmt = _check_file(path, spec)
    if fmt not in DATABASE_FORMATS:
        raise InputError(f"{path}: convert reads SQLite or DuckDB databases, not {fmt}. Fix: "
                         f"give the {fmt} file to segwise's commands directly, unconverted")
    database = Database(path, fmt, read.table, read.join)
    roles = resolve_roles(database.columns, columns, source=path, kind=spec)
    wanted = list(dict.fromkeys(roles.values()))
    if spec.passthrough:
        wanted += [c for c in database.columns if c not in wanted]
    database.check_has_rows(spec.rows, nothing="nothing was written")
    # Written beside the output and moved there once complete and checked: a conversion
    # that fails leaves no folder, and an earlier conversion in its place.
    tmp = out.with_name(f".{out.name}.segwise-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    created = _check_replaceable(out, tmp)
    duck = duckdb_connection(memory_limit)

    def copy(view: str) -> str:
        rows = duck.table(view)
        reason = join_reason(rows, read.join)
        markers = [c for c in rows.columns if c.startswith(JOIN_PREFIX)]
        rows = rows.mutate(**{JOIN_REASON: reason}) if reason is not None else rows
        return (f"COPY ({duck.compile(rows.drop(*markers))}) TO '{sql_text(tmp)}' "
                f"(FORMAT parquet, FILE_SIZE_BYTES '{PART_BYTES}', ROW_GROUP_SIZE 1000000)")

    try:
        database.read_rows(duck, wanted, copy)
        if tmp.is_file():  # a single part: DuckDB wrote a file where a directory was asked
            part = tmp.with_name(tmp.name + ".part")
            tmp.rename(part)
            tmp.mkdir()
            part.rename(tmp / "part-0.parquet")
        parts = sorted(tmp.glob("*.parquet"))
        n = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
        _check_some_row_joins(database, duck, tmp, n)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return Conversion(out, n, len(parts), time.perf_counter() - started)
