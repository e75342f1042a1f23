"""CSV for spreadsheets: cells that a spreadsheet would run as a formula are neutralised.

A customer id or product description such as ``=HYPERLINK(...)`` comes from a user's file;
opened in a spreadsheet it would run. Text cells starting with ``=``, ``+``, ``-``, ``@``
(after blanks), a tab or a carriage return get a leading apostrophe (the OWASP advice),
which spreadsheets show as text, unless they are plain numbers such as ``-12.5``. Every
CSV segwise writes follows this one rule: the file writers
(:func:`segwise.store.neutralise_formulas`) and the dashboard's downloads (:func:`csv_lines`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

__all__ = ["FORMULA", "NUMBER", "csv_lines", "neutralise_formula"]

#: A cell a spreadsheet may run as a formula: a trigger character first (after blanks),
#: or a tab or carriage return first.
FORMULA = r"^[ \t\r\n]*[=+\-@]|^[\t\r]"
#: ... unless it is a plain number such as -12.5 or +3e4, which a spreadsheet reads as one.
NUMBER = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
_FORMULA_RE = re.compile(FORMULA)
_NUMBER_RE = re.compile(NUMBER)


def neutralise_formula(value: Any) -> Any:
    """Return a text value a spreadsheet shows as text; other values unchanged.

    Examples
    --------
    >>> neutralise_formula("=1+1")
    "'=1+1"
    >>> neutralise_formula(-3.5)
    -3.5
    >>> neutralise_formula("-3.5")
    '-3.5'
    """
    if isinstance(value, str) and _FORMULA_RE.search(value) and not _NUMBER_RE.match(value):
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
