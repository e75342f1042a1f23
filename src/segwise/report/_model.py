"""The report model: sections of charts and tables that every output format renders.

HTML, Markdown and JSON are all rendered from one :class:`Report`, and every number a
reader sees is formatted by :func:`format_value`, so the formats cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["Chart", "Download", "Figure", "Report", "Section", "Table", "format_value"]

#: How a number is shown: count, percentage, money, decimals, or as it is.
Format = Literal["int", "pct", "money", "num1", "num2", "text"]


def format_value(value: Any, fmt: Format = "text") -> str:
    """Format one value for display; the single formatter of every report format.

    Parameters
    ----------
    value : object
        A number, string, date or missing value.
    fmt : {"int", "pct", "money", "num1", "num2", "text"}, default="text"
        ``int`` 12,345; ``pct`` 12.3%; ``money`` 12,345 (the currency is in the header;
        below one, three significant digits: 0.0000375);
        ``num1``/``num2`` one or two decimals; ``text`` as it is.

    Returns
    -------
    str
        The display text; empty for a missing value.

    Examples
    --------
    >>> format_value(0.1234, "pct"), format_value(12345.6, "money"), format_value(None)
    ('12.3%', '12,346', '')
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value is pd.NaT:
        return ""
    if fmt == "int":
        return f"{float(value):,.0f}"
    if fmt == "pct":
        return f"{float(value):.1%}"
    if fmt == "money":
        money = float(value)
        if 0 < abs(money) < 1:
            # Fractions of a unit (prices per impression, per gram) would all show as 0.
            places = 2 - math.floor(math.log10(abs(money)))
            return f"{money:.{places}f}".rstrip("0").rstrip(".")
        return f"{money:,.0f}"
    if fmt == "num1":
        return f"{float(value):,.1f}"
    if fmt == "num2":
        return f"{float(value):,.2f}"
    return str(value)


def _plain(value: Any) -> Any:
    """Return a JSON-ready version of a scalar (NumPy and pandas types, NaN as None)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@dataclass
class Figure:
    """One key figure shown as a card: a label, a value and its format."""

    key: str
    label: str
    value: Any
    fmt: Format = "int"

    @property
    def text(self) -> str:
        """The formatted value."""
        return format_value(self.value, self.fmt)


@dataclass
class Chart:
    """A plotly figure with its title and a one-sentence reading of what it shows."""

    key: str
    title: str
    reading: str
    figure: go.Figure = field(repr=False)
    wide: bool = False


@dataclass
class Download:
    """A file the reader can save from the page: a segment's customer list, say."""

    label: str
    filename: str
    href: str = field(repr=False)
    count: int = 0


@dataclass
class Table:
    """A small table: raw values, per-column display formats and headers.

    ``downloads`` are files offered under the table (in HTML only; the other formats list
    their names and sizes).
    """

    key: str
    title: str
    frame: pd.DataFrame = field(repr=False)
    formats: dict[str, Format] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    reading: str = ""
    wide: bool = True
    downloads: list[Download] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        """Column names in display order."""
        return [str(c) for c in self.frame.columns]

    def header(self, column: str) -> str:
        """Return the display header of a column."""
        return self.headers.get(column, column.replace("_", " ").capitalize())

    def cell(self, value: Any, column: str) -> str:
        """Return the display text of one cell; ``-`` for a missing number."""
        fmt = self.formats.get(column, "text")
        text = format_value(value, fmt)
        return "-" if fmt != "text" and not text else text

    def rows_text(self) -> list[list[str]]:
        """All rows as display text."""
        cols = self.columns
        return [
            [self.cell(v, c) for v, c in zip(row, cols, strict=True)]
            for row in self.frame.itertuples(index=False, name=None)
        ]

    def records(self) -> list[dict[str, Any]]:
        """All rows as JSON-ready dicts of raw values."""
        return [
            {c: _plain(v) for c, v in zip(self.columns, row, strict=True)}
            for row in self.frame.itertuples(index=False, name=None)
        ]


@dataclass
class Section:
    """A titled part of the report with a short introduction and its blocks."""

    key: str
    title: str
    intro: str = ""
    blocks: list[Chart | Table] = field(default_factory=list)

    @property
    def charts(self) -> list[Chart]:
        """The charts of the section."""
        return [b for b in self.blocks if isinstance(b, Chart)]

    @property
    def tables(self) -> list[Table]:
        """The tables of the section."""
        return [b for b in self.blocks if isinstance(b, Table)]


@dataclass
class Report:
    """Everything a report shows, independent of the output format.

    Attributes
    ----------
    title : str
        Report title.
    subtitle : str
        Source and period in words.
    figures : list of Figure
        Key figures shown at the top.
    sections : list of Section
        The sections in reading order; optional ones are absent when their input was.
    meta : dict
        Source, as-of date, generation time, currency, segwise version.
    """

    title: str
    subtitle: str
    figures: list[Figure]
    sections: list[Section]
    meta: dict[str, Any] = field(default_factory=dict)

    def section(self, key: str) -> Section:
        """Return the section with this key.

        Raises
        ------
        KeyError
            If the report has no such section.
        """
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(key)

    def table(self, key: str) -> Table:
        """Return the table with this key, in whichever section it is.

        Raises
        ------
        KeyError
            If the report has no such table.
        """
        for s in self.sections:
            for t in s.tables:
                if t.key == key:
                    return t
        raise KeyError(key)

    @property
    def charts(self) -> list[Chart]:
        """Every chart in reading order."""
        return [c for s in self.sections for c in s.charts]

    def to_dict(self) -> dict[str, Any]:
        """Return the figures, tables and chart readings as JSON-ready data."""
        return {
            "title": self.title,
            "subtitle": self.subtitle,
            "meta": {k: _plain(v) for k, v in self.meta.items()},
            "figures": {f.key: {"label": f.label, "value": _plain(f.value), "text": f.text}
                        for f in self.figures},
            "sections": [
                {
                    "key": s.key,
                    "title": s.title,
                    "intro": s.intro,
                    "charts": [{"key": c.key, "title": c.title, "reading": c.reading}
                               for c in s.charts],
                    "tables": [{"key": t.key, "title": t.title, "reading": t.reading,
                                "columns": t.columns, "rows": t.records(),
                                **({"downloads": [{"label": d.label, "filename": d.filename,
                                                   "rows": d.count} for d in t.downloads]}
                                   if t.downloads else {})}
                               for t in s.tables],
                }
                for s in self.sections
            ],
        }
