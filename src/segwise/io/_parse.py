"""Parse rules shared by every source kind: text, numbers, identifiers and timestamps.

A kind's parser (:attr:`segwise.io.SourceKind.parse`) builds its standard columns from
these expressions, so every kind reads blanks, numbers and dates the same way.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt

from segwise._engine import fetch_numpy
from segwise.exceptions import ConfigError, InputError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from segwise.io._readers import ReadOptions
    from segwise.io._roles import ColumnRoles

__all__ = [
    "SOURCE_PREFIX",
    "TIMESTAMP_FORMATS",
    "as_float",
    "as_id",
    "as_text",
    "has_id",
    "is_blank",
    "is_spark",
    "parse_timestamp",
    "resolve_timestamp_format",
    "strip_text",
    "try_strptime",
]

#: Prefix of source columns in the table a parser receives: engines compare names
#: case-insensitively, so a source column "Quantity" would otherwise collide with the
#: standard "quantity".
SOURCE_PREFIX = "_src_"

#: Timestamp layouts tried, in this order, when none is configured; ties go to the first.
TIMESTAMP_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S.%f",
    "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d", "%Y%m%d",
)


# Ibis knows no try_strptime; DuckDB has it, and text timestamps are parsed in DuckDB.
@ibis.udf.scalar.builtin
def try_strptime(value: str, fmt: str) -> datetime:  # type: ignore[empty-body]
    """DuckDB's ``try_strptime``: NULL where the value does not match the layout."""



def is_spark(backend: Any) -> bool:
    """Whether an Ibis backend is Spark's."""
    return getattr(backend, "name", "") == "pyspark"


@ibis.udf.scalar.builtin(name="substring")
def _substring(value: str, start: int, length: int) -> str:  # type: ignore[empty-body]
    """Call the engine's ``substring`` (1-based; a negative start counts from the end)."""


def strip_text(text: ir.StringValue) -> ir.StringValue:
    """``text.strip()`` (ASCII whitespace), run only where an edge character could be blank.

    Trimming with a character set costs about four times a test of the first and last
    characters, and almost no value needs it. Every whitespace character sorts at or below
    the space, so a value whose ends sort above it has nothing to trim.
    """
    edge = (_substring(text, 1, 1) <= " ") | (_substring(text, -1, 1) <= " ")
    return ibis.ifelse(edge, text.strip(), text)


def is_blank(value: ir.Value) -> ir.BooleanValue:
    """Whether a source value is missing: NULL, or text that is empty or only blanks."""
    if value.type().is_string():
        return value.isnull() | (strip_text(value) == "")
    return value.isnull()


def as_float(value: ir.Value) -> ir.FloatingValue:
    """Parse a source value as a float64 number; NULL where text is not a number."""
    if value.type().is_numeric():
        return value.cast("float64")
    return strip_text(value.cast("string")).try_cast("float64")


def as_text(value: ir.Value) -> ir.StringValue:
    """Return a source value as trimmed text; NULL where it is blank."""
    text = strip_text(value.cast("string"))
    return ibis.ifelse(text == "", ibis.null(), text)


def as_id(value: ir.Value) -> ir.StringValue:
    """Return identifiers as text; ``17850.0`` (a float export of an int id) becomes ``17850``."""
    if value.type().is_floating():
        return value.cast("int64").cast("string")
    text = as_text(value)
    # Only text with a dot can match; testing for one first skips the regex on most rows.
    return ibis.ifelse(text.contains("."), text.re_replace(r"^(\d+)\.0+$", r"\1"), text)


def has_id(value: ir.Value) -> ir.BooleanValue:
    """Whether :func:`as_id` gives a non-NULL id, without building the id."""
    return ~is_blank(value)


def _sample_strings(value: ir.Value, n: int = 2000) -> list[str]:
    col = strip_text(value.cast("string")).name("v")
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




def resolve_timestamp_format(
    src: ir.Table, roles: ColumnRoles, read: ReadOptions, path: Path
) -> ReadOptions:
    """Return ``read`` with the layout of a text timestamp column filled in.

    The layout is detected once, so that parsing the rows again (distinct rows after
    deduplication) samples nothing.
    """
    role = roles.kind.timestamp_role
    if role is None or role not in roles or read.timestamp_format:
        return read
    value = src[SOURCE_PREFIX + roles[role]]
    if not value.type().is_string() or is_spark(src._find_backend()):
        return read
    fmt = _detect_timestamp_format(_sample_strings(value), path, SOURCE_PREFIX + roles[role])
    return dataclasses.replace(read, timestamp_format=fmt)


def parse_timestamp(
    value: ir.Value, read: ReadOptions, path: Path, spark: bool
) -> ir.TimestampValue:
    """Parse a timestamp column: typed dates and timestamps as they are, text by its layout.

    Text uses ``read.timestamp_format``, which :func:`segwise.io.load_source` fills in from
    the data when the config gives none; ``NULL`` where a value does not match.
    """
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
    fmt = read.timestamp_format or TIMESTAMP_FORMATS[0]
    return try_strptime(strip_text(value.cast("string")), fmt)

