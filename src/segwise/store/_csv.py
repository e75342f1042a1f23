"""CSV for spreadsheets: cells that a spreadsheet would run as a formula are neutralised.

A customer id or product description such as ``=HYPERLINK(...)`` comes from a user's file;
opened in a spreadsheet it would run. Text cells starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return get a leading apostrophe (the OWASP advice), which spreadsheets
show as text. Numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

__all__ = ["csv_lines", "neutralise_formula"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: Any) -> Any:
    """Return a text value a spreadsheet shows as text; other values unchanged.

    Examples
    --------
    >>> neutralise_formula("=1+1")
    "'=1+1"
    >>> neutralise_formula(-3.5)
    -3.5
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_lines(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """Yield a CSV file line by line, header first, every text cell neutralised.

    Parameters
    ----------
    columns : sequence of str
        The header.
    rows : iterable of sequences
        The rows; ``None`` is written as an empty field.

    Yields
    ------
    str
        One CSV line, CRLF terminated.
    """
    buf = io.StringIO()
    writer = csv.writer(buf)

    def line(values: Sequence[Any]) -> str:
        writer.writerow(["" if v is None else neutralise_formula(v) for v in values])
        text = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return text

    yield line(columns)
    for row in rows:
        yield line(row)
