"""Parse rules shared by every source kind: text, numbers, identifiers and timestamps.

A kind's parser (:attr:`segwise.io.SourceKind.parse`) builds its standard columns from
these expressions, so every kind reads blanks, numbers and dates the same way.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import sys
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops

from segwise._engine import fetch_numpy
from segwise.exceptions import ConfigError, InputError, SegwiseWarning, read_fix

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import ibis.expr.types as ir

    from segwise.io._readers import ReadOptions
    from segwise.io._roles import ColumnRoles

__all__ = [
    "EPOCH",
    "EPOCH_MILLISECONDS_FROM",
    "ISO",
    "MAX_NUMBER",
    "SOURCE_PREFIX",
    "TIMESTAMP_FORMATS",
    "as_float",
    "as_id",
    "as_text",
    "epoch_timestamp",
    "has_id",
    "id_checks",
    "id_passes",
    "is_blank",
    "is_spark",
    "number_checks",
    "parse_timestamp",
    "resolve_timestamp_format",
    "strip_text",
    "timestamp_checks",
    "try_strptime",
]

#: Prefix of source columns in the table a parser receives: engines compare names
#: case-insensitively, so a source column "Quantity" would otherwise collide with the
#: standard "quantity".
SOURCE_PREFIX = "_src_"

#: The layout of timestamps that are numbers of seconds since 1970-01-01 (milliseconds
#: from :data:`EPOCH_MILLISECONDS_FROM` on), as log exports write them.
EPOCH = "epoch"
#: Epoch numbers from this on are milliseconds (10**11 s is the year 5138).
EPOCH_MILLISECONDS_FROM = 10**11
#: Where each unit of epoch numbers starts, and its count per second: milliseconds, and
#: microseconds and nanoseconds (a GA4 export's ``event_timestamp`` is in microseconds).
#: Between 1990 and 2099 the units' ranges are three orders of magnitude apart, so a
#: number's size says its unit.
_EPOCH_UNITS = ((10**17, 10**9), (10**14, 10**6), (EPOCH_MILLISECONDS_FROM, 10**3))
_UNIX = datetime(1970, 1, 1)
#: Epoch numbers are read as times from 1990 to 2099, in seconds or a smaller unit; any
#: other number is no time: ``20240503`` (a day) is not 1970-08-23, nor ``202405031015``
#: (a minute) 1976.
_EPOCH_SECONDS = ((datetime(1990, 1, 1) - _UNIX).total_seconds(),
                  (datetime(2100, 1, 1) - _UNIX).total_seconds())
#: Day numbers read as times: SQLite's Julian day numbers (``julianday()``, a REAL) and
#: Excel's serial days (a spreadsheet's date cell saved as a plain number: ``40513.35``
#: is 2010-12-01 08:24). Those of 1990 to 2099 (Julian 2,447,892.5 to 2,488,069.5, Excel
#: 32,874 to 73,051) are no epoch time of those years in any unit, nor each other, so
#: they are read as days. Each with the day number of 1970-01-01 00:00.
_DAY_NUMBERS = tuple(
    (unix, tuple(unix + s / 86400 for s in _EPOCH_SECONDS)) for unix in (2440587.5, 25569.0)
)

#: The layout of ISO 8601 times in any of their forms, one value to the next: a date and a
#: time (after a ``T`` or a blank; seconds and their fractions optional), then optionally
#: a zone (``Z``, ``+02:00``, ``+0200``, ``+02``, or `` UTC`` as BigQuery exports write
#: it). A zoned time is read as UTC, like a
#: typed zoned timestamp: ``10:00:00+02:00`` is 08:00. A date alone is no time (it would
#: be an event at midnight); a column of dates is read by ``"%Y-%m-%d"``.
ISO = "iso8601"
#: What :data:`ISO` reads (the forms DuckDB's cast and Python's ``fromisoformat`` agree on).
_ISO_PATTERN = (r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
                r"(Z| UTC|[+-]\d{2}(:?\d{2})?)?$")

#: Timestamp layouts tried, in this order, when none is configured; ties go to the first.
#: Whatever the layout, a value in one of the unambiguous layouts, :data:`ISO` and
#: :data:`EPOCH`, is read in it (a log whose tracker changed mixes them).
TIMESTAMP_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S.%f", ISO,
    "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d", "%Y%m%d",
    # Two-digit years, as Excel shows dates by default (12/1/10 8:26), and month names.
    "%m/%d/%y %H:%M", "%m/%d/%y", "%d/%m/%y %H:%M", "%d/%m/%y", "%d.%m.%y %H:%M", "%d.%m.%y",
    "%d %b %Y %H:%M", "%d %b %Y %H:%M:%S", "%d %b %Y", "%d %B %Y", "%d-%b-%Y %H:%M",
    "%d-%b-%Y", "%d-%b-%y", "%b %d %Y %H:%M", "%b %d %Y", "%B %d %Y",
    # Twitter's created_at, and Foursquare's check-in logs (TSMC2014) that took it: an
    # offset, so read as UTC like ISO 8601 with one.
    "%a %b %d %H:%M:%S %z %Y",
    EPOCH,
)


# Ibis knows no try_strptime; DuckDB has it, and text timestamps are parsed in DuckDB.
@ibis.udf.scalar.builtin
def try_strptime(value: str, fmt: str) -> datetime:  # type: ignore[empty-body]
    """DuckDB's ``try_strptime``: NULL where the value does not match the layout."""



# DuckDB (2.0) folds isnan() to false where Parquet min/max statistics exist, because
# writers leave NaN out of them: a NaN in such a file passes isnan() unseen. It does not
# fold isfinite(), which Spark lacks.
@ibis.udf.scalar.builtin(name="isfinite")
def _duckdb_isfinite(value: float) -> bool:  # type: ignore[empty-body]
    """DuckDB's ``isfinite``: false for NaN and for infinities."""


def is_spark(backend: Any) -> bool:
    """Whether an Ibis backend is Spark's."""
    return getattr(backend, "name", "") == "pyspark"


@ibis.udf.scalar.builtin(name="substring")
def _substring(value: str, start: int, length: int) -> str:  # type: ignore[empty-body]
    """Call the engine's ``substring`` (1-based; a negative start counts from the end)."""


def begins_with_digit(text: ir.StringValue) -> ir.BooleanValue:
    """Whether ``text`` begins with an ASCII digit 0-9 (NULL for NULL), on either engine.

    Two comparisons of the whole text, which both engines make byte by byte: text sorts
    from ``"0"`` up to before ``":"`` (the byte after ``"9"``) exactly when its first byte
    is a digit. Half the time of taking the first character (0.13 s against 0.28 s of
    22 M ids).
    """
    return (text >= "0") & (text < ":")


def with_reason(raw: ir.Table, values: Mapping[str, ir.Value],
                reason: ir.StringValue) -> ir.Table:
    """Return ``raw`` with a parser's ``values``, then its ``_reason``, reading them as columns.

    A reason tests what was parsed (a time that read as NULL, a line total out of bounds).
    Built of the same expressions, every test would carry its own copy of the parse, which
    Ibis compiles to SQL and DuckDB plans and runs once a copy: order lines' parse was
    150 KB of SQL, with the time's layout in it 120 times. Here the reason is a second
    projection over the first one's columns: 60 KB, the layout 40 times (those of the
    time's own parse), and the parse of the Online Retail CSV about 0.15 s faster.
    """
    staged = raw.mutate(**values)
    parsed = {value.op(): staged[name].op() for name, value in values.items()
              if not isinstance(value.op(), ops.Field | ops.Literal)}
    return staged.mutate(_reason=reason.op().replace(parsed).to_expr())


def strip_text(text: ir.StringValue) -> ir.StringValue:
    """``text.strip()`` (ASCII whitespace), run only where an edge character could be blank.

    Trimming with a character set costs about four times a test of the first and last
    characters, and almost no value needs it. Every whitespace character sorts at or below
    the space, so a value whose ends sort above it has nothing to trim.
    """
    # Text sorts before "!" exactly when its first byte is at most a space (or it is empty):
    # a comparison, half the time of taking the first character.
    edge = (text < "!") | (_substring(text, -1, 1) <= " ")
    return ibis.ifelse(edge, text.strip(), text)


#: The largest magnitude of a number segwise reads (quantity, price, amount, ...): 10**13.
#: Money is summed as DECIMAL(38, 12) (:data:`segwise._expr.MONEY_TYPE`), which holds 26
#: digits before the point, so sums of up to 10**13 such values cannot overflow, and
#: money of 15 digits before the point holds it; below it a float64 still resolves a
#: thousandth (its spacing at 10**13 is 2**-9), so cents survive the parse. No real line
#: comes near it: the world's yearly output is about 10**14 US dollars.
MAX_NUMBER = 1e13

#: Above 2**53 a float64 no longer holds every integer: a float id there may be rounded.
_MAX_FLOAT_ID = 2.0**53


def _finite(x: ir.FloatingValue) -> ir.BooleanValue:
    """Whether a float is neither NaN nor infinite (NULL for NULL), on either engine."""
    if is_spark(x._find_backend()):
        # Ibis's isinf() compares with CAST('Inf' AS DOUBLE), which Spark does not read.
        return ~x.isnan() & (x.abs() <= sys.float_info.max)
    return _duckdb_isfinite(x)


def _is_nan(x: ir.FloatingValue) -> ir.BooleanValue:
    """Whether a float is NaN, on either engine."""
    if is_spark(x._find_backend()):
        return x.isnan()
    return ~_finite(x) & (x.abs() != float("inf"))


def is_blank(value: ir.Value) -> ir.BooleanValue:
    """Whether a source value is missing: NULL, text that is empty or only blanks, or NaN.

    A NaN in a float column is how pandas writes a missing value.
    """
    if value.type().is_string():
        return value.isnull() | (strip_text(value) == "")
    if value.type().is_floating():
        return value.isnull() | _is_nan(value)
    return value.isnull()


#: The currency signs read past around a number: ``£2.55``, ``-$3``, ``2.55 €``.
CURRENCY_SIGNS = "$£€¥₹"
_CURRENCY_SIGN = f"[{CURRENCY_SIGNS}]"
#: Accounting notation of a negative number, in parentheses with or without its currency
#: sign: ``(2.55)``, ``(£2.55)``, ``£(2.55)``, ``(2.55) €``. Read as ``-`` before what the
#: parentheses hold, their currency sign kept: groups 1 to 3.
_PARENTHESISED = rf"^({_CURRENCY_SIGN}?)\s*\(\s*([^()]*?)\s*\)\s*({_CURRENCY_SIGN}?)$"
#: One currency sign before the number (after its sign) or after it, and the number: the
#: number is groups 1 and 2, or 3. Text with two signs matches neither and stays no number.
_PRICED = (rf"^([+-]?){_CURRENCY_SIGN}\s*([^{CURRENCY_SIGNS}]+?)$"
           rf"|^([^{CURRENCY_SIGNS}]+?)\s*{_CURRENCY_SIGN}$")


def _groups(value: ir.Value, *groups: int) -> str:
    r"""Name regex groups in a replacement, in the engine's syntax: ``$1`` or ``\1``.

    Spark's replacements follow Java's (``$1``), DuckDB's RE2's (``\1``).
    """
    mark = "$" if is_spark(value._find_backend()) else "\\"
    return "".join(f"{mark}{g}" for g in groups)


def _number(value: ir.Value) -> ir.FloatingValue:
    """Read a source value as float64, whatever its size; NULL where text is no number.

    A currency sign at either end of the number is read past (``£2.55`` is 2.55): exports
    of prices often keep it, and the column holds one currency either way. A number in
    parentheses is negative, as finance exports write it (``(2.55)``, ``(£2.55)``,
    ``£(2.55)`` are -2.55).
    """
    if value.type().is_numeric():
        return value.cast("float64")
    text = strip_text(value.cast("string"))
    # Only where the plain number does not read (DuckDB's COALESCE is lazy). Each use of
    # ``text`` repeats its SQL, and this runs for every number column of every row: the
    # rewrites replace the text with the number they find in it, or leave it as it is
    # (no number), so that no test of its form repeats it.
    signed = text.re_replace(_PARENTHESISED, "-" + _groups(value, 1, 2, 3))
    unsigned = signed.re_replace(_PRICED, _groups(value, 1, 2, 3))
    return ibis.coalesce(text.try_cast("float64"), unsigned.try_cast("float64"))


def as_float(value: ir.Value, *, unreadable_as_nan: bool = False) -> ir.FloatingValue:
    """Parse a source value as a float64 number within :data:`MAX_NUMBER`.

    NULL where text is not a number, and where the number is NaN, infinite or larger than
    :data:`MAX_NUMBER` in magnitude: such a value would poison every sum it enters (the
    exact money sums cannot even hold it). :func:`number_checks` says which it was.

    With ``unreadable_as_nan``, a value that is present (not :func:`is_blank`) but not
    such a number becomes NaN instead, so that what reads the result can tell it from a
    blank without another pass over the source.
    """
    x = _number(value)
    ok = _finite(x) & (x.abs() <= MAX_NUMBER)
    if not unreadable_as_nan:
        return ibis.ifelse(ok, x, ibis.null("float64"))
    # Blank is checked only where no number was read: few rows, not every row.
    return ibis.cases((ok, x), (is_blank(value), ibis.null("float64")),
                      else_=ibis.literal(math.nan, "float64"))


def number_checks(
    value: ir.Value, column: str, what: str = "number"
) -> list[tuple[ir.BooleanValue, str]]:
    """Why :func:`as_float` of a source value is NULL, as checks for a parser's reason.

    Parameters
    ----------
    value : ibis value
        The source column (text or numeric).
    column : str
        The source column's name, for the reason.
    what : str, default="number"
        What the column holds (``"quantity"``), for the reason of an empty value.

    Returns
    -------
    list of (condition, reason)
        Not finite (NaN, ``inf``, ``Infinity``), empty, not a number, beyond
        :data:`MAX_NUMBER`; in this order, for :func:`ibis.cases`.
    """
    x = _number(value)
    return [
        # First: a NaN in a float column is blank too, and is refused as not finite.
        (~_finite(x), f"{column}: not a finite number"),
        (is_blank(value), f"{column}: empty {what}"),
        (x.isnull(), f"{column}: not a number"),
        (x.abs() > MAX_NUMBER, f"{column}: beyond ±1e13, the largest number segwise accepts"),
    ]


def as_text(value: ir.Value) -> ir.StringValue:
    """Return a source value as trimmed text; NULL where it is blank."""
    if not value.type().is_string():
        # A number, flag or date written as text is never blank and has nothing to trim.
        return value.cast("string")
    text = strip_text(value)
    return ibis.ifelse(text == "", ibis.null(), text)


def _whole_float(value: ir.Value) -> ir.BooleanValue:
    """Whether a float id is a whole number that a float64 holds exactly."""
    x = value.cast("float64")
    return _finite(x) & (x.abs() < _MAX_FLOAT_ID) & (x == x.floor())


def as_id(value: ir.Value) -> ir.StringValue:
    """Return identifiers as text; ``17850.0`` (a float export of an int id) becomes ``17850``.

    NULL for values that are no id: a fractional, infinite or huge float (``1.5`` must not
    become customer ``2``) and true/false; :func:`id_checks` says which.
    """
    kind = value.type()
    if kind.is_boolean():
        return ibis.null("string")
    if kind.is_floating():
        whole = ibis.ifelse(_whole_float(value), value, ibis.null(kind))
        return whole.cast("int64").cast("string")
    if not kind.is_string():
        return value.cast("string")
    text = as_text(value)
    # Only text with a dot can match; testing for one first skips the regex on most rows.
    return ibis.ifelse(text.contains("."), text.re_replace(r"^(\d+)\.0+$", r"\1"), text)


def has_id(value: ir.Value) -> ir.BooleanValue:
    """Whether a source value holds an id at all (it may still be no valid one).

    ``~is_blank(value)``; for a float on DuckDB written as the tests that hold for most ids,
    since DuckDB does not move a NOT inside: the filter of ids in a scan takes 0.7 of the
    time (0.095 s against 0.137 s at 30 M lines, a scan of the file itself 0.07 s).
    """
    if value.type().is_floating() and not is_spark(value._find_backend()):
        return value.notnull() & (_finite(value) | (value.abs() == float("inf")))
    return ~is_blank(value)


def id_checks(value: ir.Value, column: str) -> list[tuple[ir.BooleanValue, str]]:
    """Why :func:`as_id` of a present source value is NULL, as checks for a parser's reason.

    A missing id is not among them: whether a row without an id is usable is the kind's
    call (order lines count them in the audit).

    Parameters
    ----------
    value : ibis value
        The source id column.
    column : str
        Its name, for the reason.

    Returns
    -------
    list of (condition, reason)
        For true/false columns, and for float columns values that are infinite, fractional
        or beyond 2**53 (where floats skip integers); none for text and integer columns.
    """
    kind = value.type()
    present = ~is_blank(value)
    if kind.is_boolean():
        return [(present, f"{column}: true/false is not an id")]
    if not kind.is_floating():
        return []
    x = value.cast("float64")
    return [
        (present & ~_finite(x), f"{column}: not a finite number, so not an id"),
        (present & (x.abs() >= _MAX_FLOAT_ID),
         f"{column}: too large for an exact id in a float column. Fix: store ids as text"),
        (present & (x != x.floor()), f"{column}: a fractional number is not an id"),
    ]


def id_passes(value: ir.Value) -> ir.BooleanValue:
    """Whether no check of :func:`id_checks` holds, for most values in fewer tests.

    True for text and integer ids; for floats, a missing value or a whole number a float64
    holds exactly (NaN falls to the checks, which find it blank). A guard before the
    checks: it may say false where none holds, never true where one does.
    """
    kind = value.type()
    if kind.is_boolean():
        return value.isnull()
    if not kind.is_floating():
        return ibis.literal(True)
    return value.isnull() | _whole_float(value)


def _sample_strings(value: ir.Value, n: int = 2000, *, distinct: bool = True) -> list[str]:
    """Up to ``n`` of a column's values as text, blanks left out; distinct ones by default.

    ``distinct=False`` takes the first ones read, which Spark finds without a scan of the
    whole column (its distinct values need a shuffle of every row).
    """
    col = strip_text(value.cast("string")).name("v")
    values = col.as_table()
    sample = values.filter(values.v.notnull() & (values.v != ""))
    return [str(v) for v in fetch_numpy((sample.distinct() if distinct else sample).limit(n))["v"]]


def _detect_timestamp_format(values: list[str], path: Path, column: str) -> list[str]:
    """Return the layouts that parse the most sampled values, the earliest listed first.

    Several are returned only when they tie and read some sampled value as different
    times (``01/02/2011`` is 1 February or 2 January): the sample cannot choose.
    """
    best: list[str] = []
    best_ok = -1
    # A layout that fails on more than half the values cannot be chosen: if none reads
    # half, the column is refused whichever read most.
    half = len(values) // 2
    for fmt in TIMESTAMP_FORMATS:
        # Stop counting a layout once it can no longer reach the best count, or half.
        failures, allowed, ok = 0, min(len(values) - max(best_ok, 0), half), 0
        for v in values:
            if _parses(v, fmt):
                ok += 1
            else:
                failures += 1
                if failures > allowed:
                    break
        if ok > best_ok:
            best, best_ok = [fmt], ok
        elif ok == best_ok and 2 * ok >= len(values) and fmt != ISO and any(
                _differ(v, [best[0], fmt]) for v in values):
            # (ISO reads what the ISO-like layouts before it read as the same time.)
            best.append(fmt)
    if values and best_ok < 0.5 * len(values):
        examples = ", ".join(repr(v) for v in itertools.islice(values, 3))
        raise InputError(
            f"{path}: column {column}: cannot recognise the timestamp layout of values such as "
            f"{examples}. Fix: {read_fix({'timestamp_format': '...'})}, e.g. \"%d/%m/%Y %H:%M\""
        )
    return best


def _parses(value: str, fmt: str) -> bool:
    return _read(value, fmt) is not None


def _read(value: str, fmt: str) -> datetime | None:
    if fmt == EPOCH:
        return _read_epoch(value)
    if fmt == ISO:
        return _read_iso(value)
    try:
        return datetime.strptime(value, fmt)
    except ValueError:
        return None


def _read_epoch(value: str) -> datetime | None:
    """Read text of seconds (or a smaller unit) since 1970 as :func:`epoch_timestamp` does."""
    try:
        number = float(value)
    except ValueError:
        return None
    seconds = next((number / per for start, per in _EPOCH_UNITS if abs(number) >= start),
                   number)
    seconds = next(((number - unix) * 86400 for unix, (low, high) in _DAY_NUMBERS
                    if low <= number < high), seconds)
    if not _EPOCH_SECONDS[0] <= seconds < _EPOCH_SECONDS[1]:
        return None
    return _UNIX + timedelta(seconds=round(seconds))


def _read_iso(value: str) -> datetime | None:
    """Read ISO 8601 text as :func:`_iso_timestamp` does: zoned times as UTC."""
    if re.match(_ISO_PATTERN, value) is None:
        return None
    try:
        time = datetime.fromisoformat(value.replace(" UTC", "Z"))
    except ValueError:
        return None
    return time if time.tzinfo is None else time.astimezone(UTC).replace(tzinfo=None)


def _iso_timestamp(text: ir.StringValue) -> ir.TimestampValue:
    """ISO 8601 text (see :data:`ISO`) as a timestamp, zoned times as UTC; NULL otherwise.

    Only text of the pattern is cast: DuckDB's cast alone also reads ``epoch`` and
    ``infinity``, and a cast to a timestamp without zone drops the zone unread.
    """
    zoned = text.try_cast(dt.Timestamp(timezone="UTC")).cast(dt.Timestamp())
    return ibis.ifelse(text.re_search(_ISO_PATTERN), zoned, ibis.null("timestamp"))


def epoch_timestamp(number: ir.FloatingValue, *, bounded: bool = True) -> ir.TimestampValue:
    """Seconds since 1970-01-01 as a timestamp; smaller units from 10**11 on.

    Milliseconds from 10**11, microseconds from 10**14, nanoseconds from 10**17.

    ``bounded`` reads only times from 1990 to 2099 (NULL elsewhere), so that a number
    meaning something else (a day written ``20240503``) is no time, and reads SQLite's
    Julian day numbers and Excel's serial days of those years as days; pings, whose
    clock rule counts a device reset to 0, read any number. The result is naive, like
    every other timestamp: an epoch plus an interval, not a zoned value; to the second.
    """
    size = number.abs()
    seconds = ibis.cases(*((size >= start, number / per) for start, per in _EPOCH_UNITS),
                         else_=number)
    if bounded:
        seconds = ibis.cases(*(((number >= low) & (number < high), (number - unix) * 86400)
                               for unix, (low, high) in _DAY_NUMBERS), else_=seconds)
        inside = (seconds >= _EPOCH_SECONDS[0]) & (seconds < _EPOCH_SECONDS[1])
        seconds = ibis.ifelse(inside, seconds, ibis.null("float64"))
    return ibis.literal(_UNIX, "timestamp") + seconds.round().cast("int64").as_interval("s")


def _epoch_number(value: ir.Value) -> ir.FloatingValue:
    """Read a source value as an epoch number: finite, of any size (nanoseconds pass 10**18).

    Not :func:`as_float`, whose bound (:data:`MAX_NUMBER`) keeps sums exact but would
    refuse every time in micro- or nanoseconds; :func:`epoch_timestamp` bounds the time.
    """
    x = _number(value)
    return ibis.ifelse(_finite(x), x, ibis.null("float64"))


def _differ(value: str, formats: list[str]) -> bool:
    """Whether every layout reads the value, and not all as the same time."""
    readings = [_read(value, f) for f in formats]
    return None not in readings and len(set(readings)) > 1


#: Times with a zone (``09:00:00+02:00``, ``08:00Z``, ``09:00:00 +0200 2014``, `` UTC``),
#: and times at all: what :data:`ZONED` and :data:`ZONELESS` count.
_ZONE_PATTERN = r"\d:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|UTC|GMT|[+-]\d{2}(:?\d{2})?)\b"
_TIME_PATTERN = r"\d:\d{2}"
#: Pseudo-layouts :func:`layout_counts` counts: the values with a time and a zone, and
#: those with a time and none (read as UTC, the zone the others are converted to).
ZONED, ZONELESS = "(zoned)", "(zone-less)"


def layout_counts(value: ir.Value, formats: list[str]) -> ir.Table:
    """How many values of a column each timestamp layout reads: one row, ``n0``, ``n1``...

    :data:`ZONED` and :data:`ZONELESS` count times with a zone and times without one.
    """
    rows = strip_text(value.cast("string")).name("v").as_table()

    def reads(fmt: str) -> ir.BooleanValue:
        if fmt == ZONED:
            return rows.v.re_search(_ZONE_PATTERN)
        if fmt == ZONELESS:
            return rows.v.re_search(_TIME_PATTERN) & ~rows.v.re_search(_ZONE_PATTERN)
        return try_strptime(rows.v, fmt).notnull()

    return rows.aggregate(**{f"n{i}": reads(fmt).sum() for i, fmt in enumerate(formats)})


def _count_layouts(value: ir.Value, formats: list[str]) -> list[int]:
    counts = fetch_numpy(layout_counts(value, formats))
    return [int(counts[f"n{i}"][0]) for i in range(len(formats))]


def _choose_among(ok: list[int], formats: list[str], values: list[str], path: Path,
                  column: str) -> str:
    """Choose between layouts that tie on the sample by how many rows each reads (``ok``).

    A day above 12 anywhere in the file settles day/month against month/day; if none is,
    the layouts read the whole file equally well and differently, and only the user knows.
    """
    winners = [fmt for fmt, n in zip(formats, ok, strict=True) if n == max(ok)]
    example = next((v for v in values if _differ(v, winners)), None)
    if example is None:
        return winners[0]
    readings = "; ".join(f'"{f}" reads it as {_read(example, f):%d %B %Y}' for f in winners)
    fixes = " or ".join(read_fix({"timestamp_format": f}) for f in winners)
    raise InputError(
        f"{path}: column {column}: the timestamp layout is ambiguous: every value reads in "
        f"several layouts (no day above 12 tells day from month), e.g. {example!r}: "
        f"{readings}. Fix: {fixes}"
    )


#: The layout of a day written as digits, and how many first rows of a typed number time
#: column tell it from epoch numbers.
_DIGIT_DAY, _DIGIT_DAY_SAMPLE = "%Y%m%d", 2000


def _digits(value: ir.NumericValue) -> ir.StringValue:
    """Return a typed number's digits as text when it is a whole number (``19970101.0``)."""
    if value.type().is_integer():
        return value.cast("string")
    x = value.cast("float64")
    whole = _finite(x) & (x == x.floor()) & (x.abs() < 1e18)
    return ibis.ifelse(whole, x.cast("int64").cast("string"), ibis.null("string"))


def resolve_timestamp_format(
    src: ir.Table, roles: ColumnRoles, read: ReadOptions, path: Path, *,
    sample: Callable[[str], list[str]] | None = None,
    count: Callable[[str, list[str]], list[int]] | None = None,
) -> ReadOptions:
    """Return ``read`` with the layout of a text timestamp column filled in.

    A typed number column takes ``%Y%m%d`` when most of its first rows are days written
    so (``19970101``, as pandas reads such a column), and stays epoch numbers otherwise.

    The layout is detected once, so that parsing the rows again (distinct rows after
    deduplication) samples nothing. Layouts that tie on the sample (day/month against
    month/day) are decided by counting the whole column; if they still tie, the load
    stops and asks for ``[read] timestamp_format``.

    Parameters
    ----------
    src : ibis.Table
        The source columns, prefixed (only the timestamp column's type is read when
        ``sample`` and ``count`` are given).
    roles : ColumnRoles
        The source's roles.
    read : ReadOptions
        Reader settings; returned as they are when they name a layout.
    path : Path
        The source, for messages.
    sample : callable, optional
        ``sample(column)`` returns up to 2,000 distinct values of a source column as
        text, for sources that can be read only once (a stream); by default they are
        read from ``src``.
    count : callable, optional
        ``count(column, layouts)`` returns how many values of the whole column each
        layout reads, for such sources; by default counted in ``src``.

    Raises
    ------
    InputError
        If no layout reads most values, or two read every value differently.
    """
    role = roles.kind.timestamp_role
    if role is None or role not in roles or read.timestamp_format:
        return read
    value = src[SOURCE_PREFIX + roles[role]]
    column = roles[role]
    if is_spark(src._find_backend()):
        # Spark parses each value in the layouts that read it; times with a zone and without
        # are still read alike, and said so as on DuckDB (a column counted only then).
        if value.type().is_string():
            _warn_mixed_zones(_sample_strings(value, distinct=False),
                              lambda layouts: _count_layouts(value, layouts), path, column)
        return read
    if value.type().is_numeric():
        # Typed numbers are epoch times, or days written as digits when most of the first
        # rows are such days (no epoch time of 1990 to 2099 has eight digits), as a text
        # column's layout is the one most of its values read in. (Floats: pandas reads a
        # column of such days with a blank as float64.)
        rows = _digits(value).name("v").as_table()
        first = (sample(column) if sample is not None else
                 [str(v) for v in fetch_numpy(rows.filter(rows.v.notnull())
                                              .limit(_DIGIT_DAY_SAMPLE))["v"]])
        days = 2 * sum(len(v) == 8 and _parses(v, _DIGIT_DAY) for v in first) > len(first)
        return dataclasses.replace(read, timestamp_format=_DIGIT_DAY) if days else read
    if not value.type().is_string():
        return read
    values = sample(column) if sample is not None else _sample_strings(value)
    formats = _detect_timestamp_format(values, path, column)
    fmt = formats[0]

    def counted(layouts: list[str]) -> list[int]:
        return count(column, layouts) if count is not None else _count_layouts(value, layouts)

    if len(formats) > 1:
        fmt = _choose_among(counted(formats), formats, values, path, column)
    _warn_mixed_zones(values, counted, path, column)
    return dataclasses.replace(read, timestamp_format=fmt)


def _warn_mixed_zones(values: list[str], counted: Callable[[list[str]], list[int]],
                      path: Path, column: str) -> None:
    """Warn of a column whose times are some with a zone and some without.

    The zoned ones are converted to UTC and the others read as they are, as if they were
    UTC: a log whose exporter changed (``09:00:00+02:00`` and ``09:00:00``) had its two
    kinds up to hours apart without a word. Seen in the sample, counted in the column.
    """
    zoned = next((v for v in values if re.search(_ZONE_PATTERN, v)), None)
    plain = next((v for v in values if re.search(_TIME_PATTERN, v)
                  and not re.search(_ZONE_PATTERN, v)), None)
    if zoned is None or plain is None:
        return
    n_zoned, n_plain = counted([ZONED, ZONELESS])
    warnings.warn(
        f"{path}: column {column}: {n_zoned:,} times have a zone (such as {zoned!r}) and "
        f"{n_plain:,} have none (such as {plain!r}); those with one are converted to UTC "
        "and those without are read as if they were UTC, so the two kinds may be hours "
        "apart. Fix: export every time with its zone (or every time in one zone, without "
        "it)", SegwiseWarning, stacklevel=2)


def is_typed_timestamp(kind: dt.DataType) -> bool:
    """Tell a timestamp type, or one Ibis does not know (DuckDB's ``TIMESTAMPTZ_NS``)."""
    if kind.is_timestamp():
        return True
    raw = getattr(kind, "raw_type", None)
    return kind.is_unknown() and raw is not None and raw.sql().upper().startswith("TIMESTAMP")


def parse_timestamp(
    value: ir.Value, read: ReadOptions, path: Path, spark: bool
) -> ir.TimestampValue:
    """Parse a timestamp column: typed dates and timestamps as they are, text by its layout.

    Text uses ``read.timestamp_format``, which :func:`segwise.io.load_source` fills in from
    the data when the config gives none, and where it reads nothing the unambiguous
    layouts (:data:`ISO`, :data:`EPOCH`); ``NULL`` where no layout reads a value.
    Timezone-aware timestamps (as pandas writes them to Parquet) become UTC wall-clock
    time without a zone: both engines' sessions run in UTC, so every machine and engine
    reads the same instant as the same time.
    """
    if is_typed_timestamp(value.type()):
        return value.cast(dt.Timestamp())
    if value.type().is_date():
        return value.cast("timestamp")
    if value.type().is_numeric():
        # Typed numbers (a Parquet or JSON log's epoch column) as :data:`EPOCH` text is;
        # whole numbers in the layout of digits resolve_timestamp_format found (19970101,
        # as pandas reads CDNOW's dates), epoch numbers among them still read.
        epoch = epoch_timestamp(_epoch_number(value))
        if spark or read.timestamp_format in (None, EPOCH, ISO):
            return epoch
        return ibis.coalesce(try_strptime(_digits(value), read.timestamp_format), epoch)
    if spark:
        if read.timestamp_format:
            raise ConfigError(
                f"{path}: with engine spark, Parquet timestamps stored as text must be ISO-8601;"
                " convert the column or load with engine duckdb"
            )
        # Spark's cast reads ISO 8601 in its forms (zones as UTC); epoch numbers as text
        # are read as on DuckDB (Spark's cast to a number trims blanks and reads NaN and
        # infinities, which are no time: a smaller expression than _epoch_number's, whose
        # repeated trims grow Spark's generated code beyond its 64 KB).
        text = value.cast("string")
        return ibis.coalesce(text.try_cast("timestamp"),
                             epoch_timestamp(text.try_cast("float64")))
    text = strip_text(value.cast("string"))
    fmt = read.timestamp_format or TIMESTAMP_FORMATS[0]
    # The engine's cast reads blanks around a number; NaN and infinities are no time of
    # 1990 to 2099 (NULL). One small expression: epoch_timestamp repeats it a dozen times.
    number = value.cast("string").try_cast("float64")
    layouts = {EPOCH: lambda: epoch_timestamp(number), ISO: lambda: _iso_timestamp(text)}
    ts = layouts[fmt]() if fmt in layouts else try_strptime(text, fmt)
    if fmt != EPOCH:
        # Cast only where the layout read nothing: DuckDB computes an expression used
        # several times once for every row, out of the COALESCE that would skip it (a
        # failing cast of each date text: a fifth of parsing a column of them).
        number = ibis.ifelse(ts.isnull(), number, ibis.null("float64"))
    # The unambiguous layouts are read whatever the layout: values are tried in them only
    # where the layout read nothing.
    return ibis.coalesce(ts, *(read_in() for other, read_in in layouts.items() if other != fmt))


def timestamp_checks(
    value: ir.Value, ts: ir.TimestampValue, column: str
) -> list[tuple[ir.BooleanValue, str]]:
    """Why a parsed timestamp is NULL, as checks for a parser's reason.

    Parameters
    ----------
    value : ibis value
        The source column.
    ts : ibis timestamp value
        :func:`parse_timestamp` of it.
    column : str
        The source column's name, for the reason.

    Returns
    -------
    list of (condition, reason)
        Empty, then not a timestamp. Rows dated after the run (or ``[read] latest_date``)
        are quarantined by the loader for every kind with a time column.
    """
    return [
        (is_blank(value), f"{column}: empty timestamp"),
        (ts.isnull(), f"{column}: not a timestamp"),
    ]

