"""Text files as people have them: any line endings, byte-order marks, encodings, blanks.

DuckDB reads CSV fast but strictly: a file whose lines end in a mix of CRLF and LF (an LF
header above CRLF rows, a file appended to on another system) stops its dialect sniffer or
its parser, it knows three encodings, and it cannot take runs of blanks as one separator
(CDNOW). Such a file is rewritten once, streaming, into a temporary copy that DuckDB reads
as usual: UTF-8, LF line endings, no byte-order marks, and for blank-separated files tabs
between fields. The rewrite keeps every line a line, so row numbers and DuckDB's reject
tables refer to the user's file; bytes that do not decode are carried over as they are, so
their lines are quarantined as unreadable, as in a file read directly.

Numbers written with a decimal comma or thousands separators are read through
:func:`localise_numbers`; :func:`number_hint` names that cause when such values do not
parse.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import ibis

from segwise.exceptions import ConfigError, read_fix, read_setting
from segwise.io._compressed import decompressed
from segwise.io._parse import CURRENCY_SIGNS

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = [
    "BLANKS",
    "OTHER_NOTATION",
    "bom_codec",
    "check_codec",
    "duckdb_encoding",
    "guess_delimiter",
    "localise_number",
    "localise_numbers",
    "number_hint",
    "one_byte_codec",
    "toml_string",
    "write_normalised",
]

#: A number in another notation than the plain one (12,669; 1.234,5; 3,5): a regular
#: expression that pyarrow and DuckDB both read.
OTHER_NOTATION = r"^\s*[+-]?(\d{1,3}([,.' ]\d{3})+([.,]\d+)?|\d+,\d+)\s*$"

#: ``[read] delimiter`` value for columns separated by runs of spaces and tabs.
BLANKS = " "

#: Encodings DuckDB's CSV reader decodes itself: Python's codec name to DuckDB's.
_DUCKDB_CODECS = {"utf-8": "utf-8", "iso8859-1": "latin-1", "utf-16": "utf-16"}

#: Byte-order marks and the codec each implies (UTF-32 first: its LE mark starts like UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)

_CHUNK_CHARS = 4 * 2**20
_EDGE_BLANKS = re.compile(r"^[ \t]+|[ \t]+$", re.MULTILINE)
_INNER_BLANKS = re.compile(r"[ \t]+")
#: A field of a blank-separated line: a quoted value (blanks inside kept), or a run of non-blanks.
_FIELD = re.compile(r'"(?:[^"]|"")*"|[^ \t]+')


def check_codec(encoding: str) -> str:
    """Return Python's name of a text encoding (``"latin-1"`` gives ``"iso8859-1"``).

    Raises
    ------
    ConfigError
        If Python knows no such encoding.
    """
    try:
        return codecs.lookup(encoding).name
    except LookupError as exc:
        raise ConfigError(
            f"{read_setting('encoding', encoding)} is not a known text encoding; "
            'write e.g. "utf-8", "latin-1", "cp1252" or "utf-16"'
        ) from exc


def duckdb_encoding(encoding: str) -> str | None:
    """DuckDB's name for ``encoding``; ``None`` where DuckDB's CSV reader cannot decode it."""
    return _DUCKDB_CODECS.get(check_codec(encoding))


def bom_codec(path: Path) -> str | None:
    """Return the codec a UTF-16 or UTF-32 byte-order mark at the start of the file implies.

    A UTF-8 mark needs nothing: DuckDB skips it.
    """
    with decompressed(path) as fh:
        head = fh.read(4)
    return next((codec for bom, codec in _BOMS if head.startswith(bom)), None)


#: A UTF-8 character of two to four bytes (RFC 3629's well-formed sequences).
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}"
    rb"|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
#: Bytes Windows-1252 leaves undefined.
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")


def one_byte_codec(path: Path) -> str | None:
    """Return the one-byte encoding of a file that is not UTF-8, or None if it is UTF-8.

    A file with bytes that are not UTF-8 and not one UTF-8 character of several bytes was
    written in a one-byte encoding (Excel on Windows writes Windows-1252): ``cp1252``
    where that decodes every byte, else ``latin-1``. A file that has such characters is
    UTF-8 with some damaged bytes: None.
    """
    undefined = False
    with decompressed(path) as fh:
        tail = b""
        while chunk := fh.read(_CHUNK_CHARS):
            # A character may straddle two chunks: keep the last three bytes for the next.
            data, tail = tail + chunk, (tail + chunk)[-3:]
            if _UTF8_MULTIBYTE.search(data):
                return None
            undefined = undefined or bool(_CP1252_UNDEFINED.search(data))
    return "latin-1" if undefined else "cp1252"


def write_normalised(source: Path, dest: Path, *, encoding: str | None, blanks: bool) -> None:
    """Copy a text file as UTF-8 with LF line endings and no byte-order marks.

    Parameters
    ----------
    source : Path
        The user's file, optionally compressed (:func:`~segwise.io._compressed.open_binary`).
    dest : Path
        Where to write the copy.
    encoding : str, optional
        The source's encoding; UTF-8 (a leading byte-order mark skipped) when omitted.
    blanks : bool
        Fields are separated by runs of spaces and tabs: write one tab between fields
        instead, and drop blanks at the start and end of each line. A quoted field keeps
        the blanks inside it.
    """
    codec = check_codec(encoding) if encoding else "utf-8"
    if codec == "utf-8":
        codec = "utf-8-sig"
    carry = ""
    # newline=None reads CRLF, CR and LF alike as "\n"; undecodable bytes pass through.
    with (decompressed(source) as raw,
          io.TextIOWrapper(raw, encoding=codec, errors="surrogateescape", newline=None) as text,
          dest.open("w", encoding="utf-8", errors="surrogateescape", newline="") as out):
        while chunk := text.read(_CHUNK_CHARS):
            chunk = chunk.replace("\ufeff", "")
            if not blanks:
                out.write(chunk)
                continue
            lines, _, rest = (carry + chunk).rpartition("\n")
            carry = rest
            if lines:
                out.write(_tab_separated(lines) + "\n")
        if carry:
            out.write(_tab_separated(carry))


def _tab_separated(lines: str) -> str:
    """Blank-separated lines (no final newline) with one tab between fields."""
    if '"' not in lines:
        return _INNER_BLANKS.sub("\t", _EDGE_BLANKS.sub("", lines))
    return "\n".join("\t".join(_FIELD.findall(line)) for line in lines.split("\n"))


def guess_delimiter(line: str, configured: str | None) -> str | None:
    """Return the separator that a line read as one column most likely uses, else ``None``.

    Parameters
    ----------
    line : str
        The one field a line was read as (a header, or a first row).
    configured : str, optional
        The ``[read] delimiter`` the file was read with; never suggested again.
    """
    counts = {d: line.strip().count(d) for d in (";", "\t", "|", ",", BLANKS)}
    counts.pop(configured or "", None)
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else None


def head_lines(path: Path, encoding: str | None, n: int = 30) -> list[str]:
    """Return the first ``n`` lines of a text file, decoded (bad bytes replaced)."""
    codec = check_codec(encoding) if encoding else bom_codec(path) or "utf-8-sig"
    with (decompressed(path) as raw,
          io.TextIOWrapper(raw, encoding=codec, errors="replace", newline=None) as text):
        return [line.rstrip("\n") for _, line in zip(range(n), text, strict=False)]


def guess_title_lines(lines: list[str], configured: str | None) -> tuple[int, str] | None:
    """Find lines above a CSV table (a title, an export date): how many, and the delimiter.

    The table is the longest run of lines to the end of ``lines`` that split into the
    same number (two or more) of fields; the lines above it split into fewer. Returns
    ``None`` when the table starts on the first line or none is found, and when every
    line splits alike on some delimiter: that is the table's own, and another that splits
    only the rows (the decimal commas of a semicolon file) finds no title.

    Parameters
    ----------
    lines : list of str
        The first lines of the file.
    configured : str, optional
        The ``[read] delimiter``; the only one tried when set.
    """
    rows = [(i, line) for i, line in enumerate(lines) if line.strip()]
    if len(rows) < 3:
        return None
    best: tuple[int, str] | None = None
    for delimiter in (configured,) if configured else (",", ";", "\t", "|"):
        counts = [len(next(csv.reader([line], delimiter=delimiter), [])) for _, line in rows]
        width = counts[-1]
        start = len(counts)
        while start > 0 and counts[start - 1] == width:
            start -= 1
        if width >= 2 and start == 0:
            return None
        if width < 2 or len(counts) - start < 2 or max(counts[:start]) >= width:
            continue
        skip = rows[start][0]
        if best is None or skip < best[0]:
            best = (skip, delimiter)
    return best


def toml_string(value: str) -> str:
    """``value`` quoted as a TOML basic string (for the fix a message suggests)."""
    return json.dumps(value)


def localise_numbers(table: ir.Table, columns: list[str], decimal: str,
                     thousands: str | None) -> ir.Table:
    """Rewrite text numbers such as ``1.234,56`` in the given columns as ``1234.56``.

    Only a value that is wholly a number in the given notation changes: digits in groups
    of three between thousands separators, at most one decimal separator, an optional
    sign, blanks around, and a currency sign or accounting parentheses around it as the
    parse reads them (``€ 1.234,56``, ``(2,55 €)``). Dates such as ``01.12.2010`` and any
    other text stay as they are.

    Parameters
    ----------
    table : ibis.Table
        Source rows.
    columns : list of str
        The columns to rewrite; those that are not text are left alone.
    decimal : {".", ","}
        The decimal separator.
    thousands : str, optional
        The thousands separator, if numbers have one.
    """
    changed = {}
    for name in columns:
        value = table[name]
        local = localise_number(value, decimal, thousands)
        if local is not value:
            changed[name] = local
    return table.mutate(**changed) if changed else table


def localise_number(value: ir.Value, decimal: str, thousands: str | None) -> ir.Value:
    """:func:`localise_numbers` of one value: ``value`` itself where nothing is rewritten."""
    if (decimal == "." and thousands is None) or not value.type().is_string():
        return value
    t, d = (re.escape(thousands) if thousands else None), re.escape(decimal)
    whole = rf"\d{{1,3}}(?:{t}\d{{3}})+|\d*" if t else r"\d*"
    # What the parse reads around a number (its currency sign, accounting parentheses)
    # may stand around it here; the parse refuses them where they stand wrongly.
    pattern = rf"^[\s+\-({CURRENCY_SIGNS}]*(?:{whole})(?:{d}\d*)?[\s){CURRENCY_SIGNS}]*$"
    plain = value.replace(thousands, "") if thousands else value
    if decimal != ".":
        plain = plain.replace(decimal, ".")
    return ibis.ifelse(value.re_search(pattern), plain, value)


_DECIMAL_COMMA = re.compile(r"\s*[+-]?(\d{1,3}(\.\d{3})+|\d*),\d+\s*")
_THOUSANDS_COMMA = re.compile(r"\s*[+-]?\d{1,3}(,\d{3})+(\.\d+)?\s*")
_THOUSANDS_DOT = re.compile(r"\s*[+-]?\d{1,3}(\.\d{3})+(,\d+)?\s*")
#: A currency sign or accounting parentheses around a number, and the blanks beside them.
_AROUND_NUMBER = re.compile(rf"\s*[(){CURRENCY_SIGNS}]\s*")


def number_hint(value: str | None, decimal: str, thousands: str | None) -> str | None:
    """Return the likely cause and its fix when ``value`` is a number in another notation.

    ``2,55`` read with ``decimal = "."`` gives ``numbers written with a decimal comma? Fix:
    set [read] decimal = ","``; a value that is no number in any notation gives ``None``.

    Parameters
    ----------
    value : str or None
        A raw value that did not parse.
    decimal : str
        The ``[read] decimal`` it was read with.
    thousands : str or None
        The ``[read] thousands`` it was read with.
    """
    if value is None:
        return None
    value = _AROUND_NUMBER.sub("", value)
    comma_decimal = _DECIMAL_COMMA.fullmatch(value) or _THOUSANDS_DOT.fullmatch(value)
    if comma_decimal and _THOUSANDS_COMMA.fullmatch(value):  # 1,234
        return ("a decimal comma or a thousands separator? "
                f"Fix: {read_fix({'decimal': ','})} or {read_fix({'thousands': ','})}")
    if comma_decimal:
        settings = {s: v for s, v, needed in (("decimal", ",", decimal != ","),
                                              ("thousands", ".", "." in value and thousands != "."))
                    if needed}
        return (f"numbers written with a decimal comma? Fix: {read_fix(settings)}"
                if settings else None)
    if _THOUSANDS_COMMA.fullmatch(value) and thousands != ",":
        return f"numbers with thousands separators? Fix: {read_fix({'thousands': ','})}"
    return None
