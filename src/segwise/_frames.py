"""Tables in memory, whichever library holds them: one conversion for every entry point.

segwise's entry points take a file path or a table in memory: a pandas or polars
DataFrame (or polars LazyFrame), an Arrow table, record batch or stream, an Ibis table,
or any object that exports the Arrow C stream interface (``__arrow_c_stream__``). This
module tells the two apart, names a table for messages ("pandas DataFrame"), and turns
one into Arrow or pandas. Nothing here imports polars: its tables are read through the
Arrow interface, so it stays an optional dependency.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, TypeAlias

import pyarrow as pa

from segwise._engine import _duckdb_relation
from segwise.exceptions import InputError

if TYPE_CHECKING:
    from pathlib import Path

    import ibis.expr.types as ir
    import pandas as pd

__all__ = [
    "DataSource",
    "is_path",
    "is_table",
    "source_name",
    "table_label",
    "to_arrow",
    "to_arrow_stream",
    "to_pandas",
]

#: What an entry point reads: a file path, or a table in memory (see the module docstring).
DataSource: TypeAlias = "str | Path | pd.DataFrame | pa.Table | ir.Table | Any"

#: Names of tables in messages, by the top-level package of their type.
_LABELS = {"pandas": "pandas DataFrame", "polars": "polars DataFrame",
           "pyarrow": "Arrow table", "ibis": "Ibis table", "duckdb": "DuckDB relation"}


#: (package, type name) of the tables read without the Arrow interface, or before it.
_TABLE_TYPES = frozenset({("pandas", "DataFrame"), ("polars", "DataFrame"),
                          ("polars", "LazyFrame"), ("ibis", "Table")})


def is_path(source: Any) -> bool:
    """Whether ``source`` names a file (a ``str`` or an ``os.PathLike``)."""
    return isinstance(source, str | os.PathLike)


def _library(obj: Any) -> str:
    return type(obj).__module__.partition(".")[0]


def is_table(source: Any) -> bool:
    """Whether ``source`` is a table in memory that :func:`to_arrow_stream` can read."""
    return (_library(source), type(source).__name__) in _TABLE_TYPES or isinstance(
        source, pa.Table | pa.RecordBatch | pa.RecordBatchReader) or hasattr(
        source, "__arrow_c_stream__")


def table_label(source: Any) -> str:
    """Name a table in memory for messages and records: ``"pandas DataFrame"``."""
    return _LABELS.get(_library(source), type(source).__name__)


def source_name(source: Any) -> str:
    """Name a source for messages and records: a file's path, or a table's type."""
    return str(source) if is_path(source) else table_label(source)


def to_arrow_stream(source: Any) -> pa.Table | pa.RecordBatchReader:
    """Return a table in memory as Arrow: a table, or a stream of batches (Ibis).

    An Ibis table is streamed from its engine, never collected whole into this process.
    A pandas index with a name (``df.set_index("CustomerID")``) becomes a column again;
    an unnamed one (a row number) is dropped. Columns that pandas numbers 0, 1, ...
    (``read_csv(header=None)``) are named as a headerless file's: ``column_1``, ...
    An object column of mixed types (numbers and text, as spreadsheets give) is read as
    text, to be parsed like a CSV field.

    Parameters
    ----------
    source : table in memory
        See the module docstring.

    Returns
    -------
    pyarrow.Table or pyarrow.RecordBatchReader
        The rows.

    Raises
    ------
    InputError
        If ``source`` is no table segwise can read, or pandas cannot give it to Arrow.
    """
    import ibis.expr.types as ir

    library = _library(source)
    if isinstance(source, pa.Table | pa.RecordBatchReader):
        return _plain(source)
    if isinstance(source, pa.RecordBatch):
        return _plain(pa.Table.from_batches([source]))
    if isinstance(source, ir.Table):
        rel = _duckdb_relation(source, use_default=True)
        return source.to_pyarrow_batches() if rel is None else rel.to_arrow_reader()
    if library == "pandas" and type(source).__name__ == "DataFrame":
        return _plain(_from_pandas(source))
    if library == "polars" and type(source).__name__ == "LazyFrame":
        source = source.collect()
    if hasattr(source, "__arrow_c_stream__"):
        return _plain(pa.RecordBatchReader.from_stream(source))
    raise InputError(
        f"cannot read a {type(source).__name__}. Fix: give a file path, a pandas or polars "
        "DataFrame, an Arrow table or an Ibis table"
    )


def to_arrow(source: Any) -> pa.Table:
    """Return a table in memory as one Arrow table (see :func:`to_arrow_stream`)."""
    data = to_arrow_stream(source)
    return data.read_all() if isinstance(data, pa.RecordBatchReader) else data


def to_pandas(source: Any) -> pd.DataFrame:
    """Return a table in memory as pandas; a pandas DataFrame is returned as it is."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source
    return to_arrow(source).to_pandas()


def _from_pandas(frame: pd.DataFrame) -> pa.Table:
    import pandas as pd

    if isinstance(frame.columns, pd.MultiIndex):  # groupby().agg() of several functions
        raise InputError(
            f"pandas DataFrame: its column names have {frame.columns.nlevels} levels (such "
            f"as {frame.columns[0]!r}); segwise reads one name per column. Fix: flatten "
            "them first: df.columns = ['_'.join(map(str, c)) for c in df.columns]")
    columns = frame.columns
    if pd.api.types.is_integer_dtype(columns) and columns.tolist() == list(range(len(columns))):
        # Numbered by pandas (read_csv(header=None), DataFrame(array)): named as segwise's
        # readers name a headerless file's columns, so that a dictionary's positions and
        # a config's column_3 apply alike.
        frame = frame.set_axis([f"column_{i + 1}" for i in range(len(columns))], axis=1)
    # An index that is also a column (set_index("CustomerID", drop=False)) is that column.
    twins = [n for n in frame.index.names if n is not None and n in frame.columns]
    for name in twins:
        if not frame.index.get_level_values(name).equals(pd.Index(frame[name])):
            raise InputError(f"pandas DataFrame: the index {name} and the column {name} hold "
                             "different values. Fix: rename one of them")
    if twins:
        frame = frame.reset_index(level=twins, drop=True)
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    frame = frame.rename(columns=str)
    repeated = frame.columns[frame.columns.duplicated()].unique().tolist()
    if repeated:
        raise InputError(f"pandas DataFrame: column name(s) {', '.join(repeated)} appear "
                         "more than once. Fix: rename the columns")
    # A period reaches Arrow as its ordinal (days since 1970, say), which reads as no
    # date at all: it is the time it starts. Sparse columns (get_dummies(sparse=True))
    # Arrow refuses: their values. Intervals (pd.cut's bins) read as a CSV writes them.
    plain = {c: _plain_pandas(frame[c]) for c in frame.columns}
    frame = frame.assign(**{c: v for c, v in plain.items() if v is not None})
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        frame = frame.copy()
        for col in frame.columns[frame.dtypes == "object"]:
            frame[col] = frame[col].map(lambda v: None if pd.isna(v) else str(v))
    for col in frame.columns:  # one column Arrow cannot read, named (complex numbers)
        try:
            pa.Array.from_pandas(frame[col])
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise InputError(f"pandas DataFrame: column {col} ({frame[col].dtype}) cannot be "
                             f"read ({str(exc).splitlines()[0]}). Fix: convert it to numbers, "
                             "text or times, or drop it") from None
    return pa.Table.from_pandas(frame, preserve_index=False)


def _plain_pandas(column: pd.Series) -> pd.Series | None:
    """Return a column Arrow would misread or refuse as one it reads, else None."""
    import pandas as pd

    kind = column.dtype
    if isinstance(kind, pd.PeriodDtype):
        return column.dt.to_timestamp()
    if isinstance(kind, pd.SparseDtype):
        return column.sparse.to_dense()
    if isinstance(kind, pd.CategoricalDtype):
        kind = kind.categories.dtype
    if isinstance(kind, pd.IntervalDtype | pd.PeriodDtype):  # categories of bins
        return column.astype(object).map(lambda v: None if pd.isna(v) else str(v))
    return None


#: View types (polars exports text as ``string_view``) and the plain types Arrow's compute
#: functions and pandas all take.
_PLAIN = {pa.string_view(): pa.string(), pa.binary_view(): pa.binary()}


def _plain_type(kind: pa.DataType) -> pa.DataType:
    """Return the type DuckDB and Arrow's compute functions take for ``kind``.

    Besides views (inside a polars Enum's dictionary, a list or a record too): half
    floats (``float16``, as memory-saving notebooks downcast prices) as ``float32``, and
    256-bit decimals as 128-bit ones, or as floats beyond 38 digits; DuckDB read neither
    ("Unsupported Internal Arrow Type").
    """
    if pa.types.is_dictionary(kind):
        return pa.dictionary(kind.index_type, _plain_type(kind.value_type), kind.ordered)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        item = kind.value_field.with_type(_plain_type(kind.value_type))
        return pa.list_(item) if pa.types.is_list(kind) else pa.large_list(item)
    if pa.types.is_struct(kind):
        return pa.struct([f.with_type(_plain_type(f.type)) for f in kind])
    if pa.types.is_float16(kind):
        return pa.float32()
    if pa.types.is_decimal256(kind):
        return (pa.decimal128(kind.precision, kind.scale) if kind.precision <= 38
                else pa.float64())
    return _PLAIN.get(kind, kind)


def _plain(data: pa.Table | pa.RecordBatchReader) -> pa.Table | pa.RecordBatchReader:
    schema = data.schema
    if all(_plain_type(f.type) == f.type for f in schema):
        return data
    return data.cast(pa.schema([f.with_type(_plain_type(f.type)) for f in schema]))
