"""Tables in memory as a source: the rows a file reader would give, numbered like a file's.

A DataFrame, Arrow table or Ibis table is copied into the job's DuckDB connection as the
temporary table ``raw`` with ``_row`` (1-based, in the table's order), the shape every file
reader produces, so that role guessing, parsing, the quarantine and the audit are the
ones files get (:func:`segwise.io.load_source`). Typed columns stay typed (a datetime
column is no text to parse); text columns are parsed like CSV fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from segwise._frames import to_arrow_stream
from segwise.exceptions import InputError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import ibis.expr.types as ir

__all__ = ["read_table"]


def read_table(duck: Any, source: Any, name: str) -> ir.Table:
    """Copy a table in memory into DuckDB's temporary table ``raw``, rows numbered.

    Parameters
    ----------
    duck : ibis DuckDB backend
        The job's connection.
    source : table in memory
        See :mod:`segwise._frames`.
    name : str
        The table's name in messages (``"pandas DataFrame"``).

    Returns
    -------
    ibis.Table
        ``_row`` and the table's columns.

    Raises
    ------
    InputError
        If the table has no columns or no rows, or a column named ``_row``.
    """
    data = to_arrow_stream(source)
    if "_row" in data.schema.names:
        raise InputError(f"{name}: column '_row' has the name of a column segwise adds. "
                         "Fix: rename it")
    if not data.schema.names:
        raise InputError(f"{name}: the table has no columns")
    duck.con.register("segwise_memory", _numbered(data))
    try:
        duck.con.execute("CREATE TEMP TABLE raw AS SELECT * FROM segwise_memory")
    finally:
        duck.con.unregister("segwise_memory")
    raw = duck.table("raw")
    if duck.con.execute("SELECT count(*) FROM raw").fetchall()[0][0] == 0:
        raise InputError(f"{name}: the table has no rows. Fix: pass the rows too")
    return raw


def _numbered(data: pa.Table | pa.RecordBatchReader) -> pa.RecordBatchReader:
    """Stream the batches with ``_row`` in front, counting on from batch to batch."""
    schema = pa.schema([pa.field("_row", pa.int64()), *data.schema])
    batches = data.to_batches() if isinstance(data, pa.Table) else data

    def numbered() -> Iterator[pa.RecordBatch]:
        start = 1
        for batch in batches:
            rows = pa.array(range(start, start + batch.num_rows), pa.int64())
            start += batch.num_rows
            yield pa.RecordBatch.from_arrays([rows, *batch.columns], schema=schema)

    return pa.RecordBatchReader.from_batches(schema, numbered())
