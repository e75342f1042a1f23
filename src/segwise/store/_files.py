"""Write result files: tables (Parquet, CSV), DuckDB databases, text and bytes.

Every job and command writes through here, so that every output gets the same guarantees:

* **Atomic.** Each file is written to a temporary name in its own folder
  (``.<name>.<host>-<pid>-<random>.tmp``), flushed to disk, and renamed onto its name
  (:func:`atomic_path`). A run killed at any point leaves the previous file byte for byte
  (and a hidden temporary file beside it, which the next write of that file on the same
  machine removes once its process is gone), and two runs writing the same file leave one
  complete version, never a mixture. Files written together (a table and its side
  tables) are all written first and renamed at the end, the main file last.
* **Checked first.** :func:`check_output` refuses, before any work, an output with the
  wrong suffix, one that is also an input, one in a folder that cannot be written, and an
  existing ``.duckdb`` file that is not a DuckDB database.
* **Safe CSV.** Text cells that a spreadsheet would run as a formula (starting with
  ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, and not a plain number) are
  prefixed with ``'`` (:func:`neutralise_formulas`), unless the caller asks for raw text.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from segwise._engine import file_signature
from segwise._proc import HOST, remove_if_gone
from segwise.exceptions import ConfigError, UsageError
from segwise.store._csv import FORMULA, NUMBER, neutralise_formula

if TYPE_CHECKING:
    import pandas as pd

    from segwise.features import EntityTable

__all__ = [
    "TABLE_SUFFIXES",
    "atomic_path",
    "beside",
    "check_output",
    "entity_output_paths",
    "neutralise_formulas",
    "write_bytes",
    "write_database",
    "write_entities",
    "write_table",
    "write_tables",
    "write_text",
]

#: Suffixes :func:`write_table` writes.
TABLE_SUFFIXES = (".parquet", ".csv")


def beside(out: str | Path, suffix: str) -> Path:
    """Return the side file ``<stem><suffix>`` beside ``out`` (``a.parquet``: ``a.audit.csv``)."""
    out = Path(out)
    return out.with_name(out.stem + suffix)


# ----------------------------------------------------------------- checks before work


def check_output(
    path: str | Path,
    suffixes: Collection[str] | None,
    *,
    side: Iterable[str | Path] = (),
    inputs: Iterable[str | Path | None] = (),
) -> Path:
    """Check, before any work, that an output and its side files can be written.

    Parameters
    ----------
    path : str or Path
        The output file.
    suffixes : collection of str or None
        Suffixes the output may have (lower case, with the dot); ``None`` for any.
    side : iterable of str or Path
        Side files written with it (``<stem>.audit.csv``, ...).
    inputs : iterable of str or Path or None
        Files the run reads; no output may be one of them (``None`` entries are skipped).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    UsageError
        If the suffix is not one of ``suffixes`` (a command's usage error: exit status 2).
    ConfigError
        If an output is a folder or one of the inputs, its folder cannot be created or
        written, or an existing ``.duckdb`` output is not a DuckDB database.
    """
    path = Path(path)
    outputs = [path, *map(Path, side)]
    read = {_identity(Path(p)) for p in inputs if p is not None and Path(p).exists()}
    for out in outputs:
        if out.is_dir():
            raise ConfigError(f"{out}: is a folder. Fix: give a file name for the output")
        if out.exists() and _identity(out) in read:
            raise ConfigError(
                f"{out}: is also an input of this run, and writing it would destroy it. "
                "Fix: choose another output name"
            )
    if suffixes is not None and path.suffix.lower() not in suffixes:
        *rest, last = suffixes
        listed = f"{', '.join(rest)} or {last}" if rest else last
        raise UsageError(f"{path}: the output must end in {listed}, not "
                         f"{path.suffix or 'no suffix'}. Fix: change its suffix")
    for out in outputs:
        if out.suffix.lower() == ".duckdb":
            _check_database_target(out)
    _check_folder(path.parent)
    return path


def _identity(path: Path) -> tuple[int, int]:
    """Return the file's (device, inode): links and other spellings of a path compare equal."""
    st = path.stat()
    return st.st_dev, st.st_ino


def _check_folder(folder: Path) -> None:
    """Check that ``folder`` exists or can be created, and that files can be created in it."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(
            f"{folder}: cannot create the output folder, {existing} is a file. "
            "Fix: choose another output folder"
        )
    try:
        # Permission bits do not tell (root, read-only mounts, ACLs): try it.
        probe = existing / f".segwise-probe-{secrets.token_hex(6)}.tmp"
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"{existing}: cannot write in this folder ({exc.strerror or exc}). "
            "Fix: choose a folder you can write to"
        ) from exc


def check_duckdb_file(path: Path) -> None:
    """Refuse an existing file that is not a DuckDB database (DuckDB's error had no fix)."""
    if not path.is_file() or path.stat().st_size == 0:
        return  # nothing to keep
    if file_signature(path) != "duckdb":
        raise ConfigError(
            f"{path}: exists and is not a DuckDB database; segwise adds tables to a database "
            "and will not replace another kind of file. Fix: choose another name or remove it"
        )


def _check_database_target(path: Path) -> None:
    """Refuse an existing file that DuckDB cannot open, before anything replaces it."""
    check_duckdb_file(path)
    if Path(f"{path}.wal").exists():
        raise ConfigError(
            f"{path}: the database has a write-ahead log ({path.name}.wal): it is open in "
            "another program or was not closed cleanly. Fix: close it, or open and close it "
            "once with duckdb"
        )


# ----------------------------------------------------------------- atomic writing


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    Write the whole file to the yielded path. When the block ends without an exception
    the file is flushed to disk and renamed onto ``path`` in one step (``os.replace``), so
    readers see the previous file or the new one, never a part. When the block raises,
    the temporary file is removed and ``path`` is untouched. Missing parent folders are
    created.

    Parameters
    ----------
    path : str or Path
        The final file.

    Yields
    ------
    Path
        Where to write: ``.<name>.<host>-<pid>-<random hex>.tmp`` in the same folder (the
        same file system, so the rename is atomic). Temporary files of ``path`` left by
        killed processes of this machine are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(path)
    tmp = path.with_name(f".{path.name}.{HOST}-{os.getpid()}-{secrets.token_hex(6)}.tmp")
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent)
    except OSError as exc:
        # Name the file the user asked for, not its temporary name.
        if exc.filename is not None and Path(exc.filename) == tmp:
            exc.filename = str(path)
        raise
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)  # a DuckDB database's log


def _remove_orphans(path: Path) -> None:
    """Remove temporary files of ``path`` whose writer, a process of this machine, is gone."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.{HOST}-(\d+)-[0-9a-f]+\.tmp(\.wal)?")
    remove_if_gone(path.parent, pattern, lambda orphan: orphan.unlink(missing_ok=True))


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a folder; the rename still holds
        if not path.is_dir():
            raise
    finally:
        os.close(fd)


def write_bytes(data: bytes, path: str | Path) -> Path:
    """Write bytes to a file atomically (see :func:`atomic_path`); return the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def write_text(text: str, path: str | Path) -> Path:
    """Write UTF-8 text to a file atomically (see :func:`atomic_path`); return the path."""
    return write_bytes(text.encode("utf-8"), path)


# ----------------------------------------------------------------- spreadsheet formulas

def _escape_array(values: pa.ChunkedArray) -> pa.ChunkedArray:
    import pyarrow.compute as pc

    # Options only, no Python scalars: converting one would import pandas, which the rfm
    # command never needs. A null stays null (its condition is null too).
    risky = pc.and_(pc.match_substring_regex(values, FORMULA),
                    pc.invert(pc.match_substring_regex(values, NUMBER)))
    quoted = pc.utf8_replace_slice(values, start=0, stop=0, replacement="'")
    return pc.if_else(risky, quoted, values)


def neutralise_formulas(table: pd.DataFrame | pa.Table) -> pd.DataFrame | pa.Table:
    """Prefix with ``'`` every text cell a spreadsheet would run as a formula.

    A text cell is risky when it starts (after blanks) with ``=``, ``+``, ``-`` or ``@``,
    or starts with a tab or a carriage return, and is not a plain number: ``-12.5`` stays
    as it is (a spreadsheet reads it as the number), ``=HYPERLINK(...)`` and
    ``-2+3+cmd|' /C calc'!A0`` become ``'=HYPERLINK(...)`` and ``'-2+3+cmd|...``, which
    spreadsheets show as text. Numeric, date and boolean columns are never changed.

    Parameters
    ----------
    table : pandas.DataFrame or pyarrow.Table
        The table about to be written as CSV.

    Returns
    -------
    pandas.DataFrame or pyarrow.Table
        A copy with risky text cells prefixed (the same object when none is).
    """
    if isinstance(table, pa.Table):
        for i, field in enumerate(table.schema):
            if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
                table = table.set_column(i, field, _escape_array(table.column(i)))
        return table
    text = [c for c in table.columns
            if table[c].dtype == object or str(table[c].dtype) in {"string", "category"}]
    if not text:
        return table
    table = table.copy()
    for col in text:
        values = table[col]
        if str(values.dtype) == "category":
            values = values.cat.rename_categories(
                [neutralise_formula(c) for c in values.cat.categories])
        else:
            values = values.map(neutralise_formula, na_action="ignore")
        table[col] = values
    return table


# ----------------------------------------------------------------- tables and databases


def write_database(tables: Mapping[str, pd.DataFrame | pa.Table], path: str | Path) -> Path:
    """Write tables into a DuckDB database file, replacing tables of those names.

    The database is copied to a temporary file, the tables are written there and the copy
    is renamed onto ``path`` (see :func:`atomic_path`): other tables are kept, and a run
    killed half way leaves the previous database as it was.

    Parameters
    ----------
    tables : mapping of str to pandas.DataFrame or pyarrow.Table
        Table name to contents.
    path : str or Path
        The ``.duckdb`` file; created if missing.

    Returns
    -------
    Path
        The database file.

    Raises
    ------
    ConfigError
        If ``path`` exists and is not a DuckDB database.
    """
    import duckdb

    path = Path(path)
    _check_database_target(path)
    with atomic_path(path) as tmp:
        if path.is_file() and path.stat().st_size:
            shutil.copyfile(path, tmp)
        with duckdb.connect(str(tmp)) as con:
            for name, df in tables.items():
                con.register("_frame", df)
                # Table names come from segwise's own dict keys, never from the data.
                sql = f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _frame'  # noqa: S608
                con.execute(sql)
                con.unregister("_frame")
    return path


def write_tables(
    tables: Mapping[Path, pd.DataFrame | pa.Table], *, keep_formulas: bool = False
) -> list[Path]:
    """Write several tables, each as Parquet or CSV by its suffix, renamed into place together.

    Every file is written to its temporary name first; only when all are written are they
    renamed, in reverse order, so the first (main) file appears last.

    Parameters
    ----------
    tables : mapping of Path to pandas.DataFrame or pyarrow.Table
        Output file to contents. Arrow tables are written without pandas: Parquet by
        pyarrow (schema metadata, such as the RFM reference date, included), CSV by
        DuckDB (empty fields for missing values, as pandas writes them).
    keep_formulas : bool, default=False
        Write CSV text cells as they are; by default cells a spreadsheet would run as a
        formula are neutralised (:func:`neutralise_formulas`).

    Returns
    -------
    list of Path
        The files written, in the order given.

    Raises
    ------
    ConfigError
        For a suffix other than ``.parquet`` or ``.csv``; nothing is written then.
    """
    paths = [Path(p) for p in tables]
    for path in paths:
        if path.suffix.lower() not in TABLE_SUFFIXES:
            raise ConfigError(f"{path}: output must end in .parquet, .csv or .duckdb")
    with contextlib.ExitStack() as stack:
        for path, df in zip(paths, tables.values(), strict=True):
            tmp = stack.enter_context(atomic_path(path))
            if path.suffix.lower() == ".csv":
                _write_csv(df if keep_formulas else neutralise_formulas(df), tmp)
            else:
                _write_parquet(df, tmp)
    return paths


def write_table(
    df: pd.DataFrame | pa.Table, path: str | Path, *, keep_formulas: bool = False
) -> Path:
    """Write a DataFrame or Arrow table as Parquet or CSV, chosen by the file extension.

    The file is written atomically; see :func:`write_tables` for the parameters.

    Raises
    ------
    ConfigError
        For any other extension.
    """
    return write_tables({Path(path): df}, keep_formulas=keep_formulas)[0]


def _write_parquet(df: pd.DataFrame | pa.Table, path: Path) -> None:
    if isinstance(df, pa.Table):
        import pyarrow.parquet as pq

        pq.write_table(df, path)
    else:
        df.to_parquet(path, index=False)


def _write_csv(df: pd.DataFrame | pa.Table, path: Path) -> None:
    if isinstance(df, pa.Table):
        from segwise._engine import arrow_to_csv

        arrow_to_csv(df, str(path))
    else:
        df.to_csv(path, index=False)


# ----------------------------------------------------------------- entity tables


def entity_output_paths(out: str | Path) -> list[Path]:
    """Every file :func:`write_entities` may write for ``out``, the main one first.

    A ``.duckdb`` output is one file; a table gets ``<stem>.audit.csv`` and
    ``<stem>.quarantine.csv`` beside it (the latter only when rows were quarantined).
    """
    out = Path(out)
    if out.suffix.lower() == ".duckdb":
        return [out]
    return [out, beside(out, ".audit.csv"), beside(out, ".quarantine.csv")]


def write_entities(
    entities: EntityTable,
    out: str | Path,
    *,
    tables: Mapping[str, pa.Table] | None = None,
    keep_formulas: bool = False,
) -> list[Path]:
    """Write an entity table, and its audit and quarantine beside it, all atomically.

    Parameters
    ----------
    entities : EntityTable
        The rows, with their audit and quarantine.
    out : str or Path
        ``.parquet`` or ``.csv`` file for the entities; ``<stem>.audit.csv`` and, if any
        row was quarantined, ``<stem>.quarantine.csv`` go next to it (see
        :func:`entity_output_paths`; without quarantined rows, an earlier run's
        quarantine file there is removed). A ``.duckdb`` file instead becomes one database with
        a table of the entities (named in the plural, ``customers``), the further
        ``tables``, ``audit`` and ``quarantine``, ready for SQL and BI tools.
    tables : mapping of str to pyarrow.Table, optional
        Further tables for a database (a segment summary, say); files get none.
    keep_formulas : bool, default=False
        Write CSV text as it is; by default text a spreadsheet would run as a formula is
        neutralised (:func:`neutralise_formulas`).

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(out)
    side = {"audit": entities.audit_table, "quarantine": entities.quarantine_table}
    if out.suffix.lower() == ".duckdb":
        named = {entities.schema.entities: entities.table, **(tables or {})}
        named.update({name: t for name, t in side.items() if t is not None})
        return [write_database(named, out)]
    main, audit, quarantine = entity_output_paths(out)
    files: dict[Path, pa.Table] = {main: entities.table}
    if entities.audit_table is not None:
        files[audit] = entities.audit_table
    if entities.quarantine_table is not None and entities.quarantine_table.num_rows:
        files[quarantine] = entities.quarantine_table
    written = write_tables(files, keep_formulas=keep_formulas)
    if quarantine not in files:
        # An earlier run's quarantine beside this run's table would read as this run's.
        quarantine.unlink(missing_ok=True)
    return written
