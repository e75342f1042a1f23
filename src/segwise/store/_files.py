"""Write result tables to files: Parquet, CSV, or a DuckDB database of several tables.

Every job and command writes through here, so that every output gets the same handling.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from segwise.exceptions import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from segwise.features import EntityTable

__all__ = ["write_database", "write_entities", "write_table"]


def write_entities(
    entities: EntityTable, out: str | Path, *, tables: Mapping[str, pa.Table] | None = None
) -> list[Path]:
    """Write an entity table, and its audit and quarantine beside it.

    Parameters
    ----------
    entities : EntityTable
        The rows, with their audit and quarantine.
    out : str or Path
        ``.parquet`` or ``.csv`` file for the entities; ``<stem>.audit.csv`` and, if any
        row was quarantined, ``<stem>.quarantine.csv`` go next to it. A ``.duckdb`` file
        instead becomes one database with a table of the entities (named in the plural,
        ``customers``), the further ``tables``, ``audit`` and ``quarantine``, ready for
        SQL and BI tools.
    tables : mapping of str to pyarrow.Table, optional
        Further tables for a database (a segment summary, say); files get none.

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
    written = [write_table(entities.table, out)]
    for name, table in side.items():
        if table is not None and (name == "audit" or table.num_rows):
            written.append(write_table(table, out.with_name(f"{out.stem}.{name}.csv")))
    return written


def write_database(tables: dict[str, pd.DataFrame | pa.Table], path: str | Path) -> Path:
    """Write tables into a DuckDB database file, replacing tables of those names.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame or pyarrow.Table
        Table name to contents.
    path : str or Path
        The ``.duckdb`` file; created if missing.

    Returns
    -------
    Path
        The database file.
    """
    import duckdb

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        for name, df in tables.items():
            con.register("_frame", df)
            # Table names come from segwise's own dict keys, never from the data.
            sql = f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _frame'  # noqa: S608
            con.execute(sql)
            con.unregister("_frame")
    return path


def write_table(df: pd.DataFrame | pa.Table, path: str | Path) -> Path:
    """Write a DataFrame or Arrow table as Parquet or CSV, chosen by the file extension.

    Arrow tables are written without pandas: Parquet by pyarrow (schema metadata, such as
    the RFM reference date, included), CSV by DuckDB (empty fields for missing values,
    as pandas writes them).

    Raises
    ------
    ConfigError
        For any other extension.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".parquet", ".csv"}:
        raise ConfigError(f"{path}: output must end in .parquet, .csv or .duckdb")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not isinstance(df, pa.Table):
        if suffix == ".parquet":
            df.to_parquet(path, index=False)
        else:
            df.to_csv(path, index=False)
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(df, path)
    else:
        import duckdb

        duckdb.from_arrow(df).write_csv(str(path))
    return path
