"""The segwise report: one offline HTML page (or Markdown / JSON summary) of data and segments.

Build the model once with :func:`build_report`, render it with :func:`render`, or do both
with :func:`write_report`::

    from segwise.jobs import run_rfm
    from segwise.report import write_report

    write_report(run_rfm("orders.csv"), "report.html", currency="GBP")

Optional sections (clustering, embedding, CLV, categories) appear when their inputs are
given as :class:`ReportExtras`.
"""

from segwise.report._build import (
    MAX_SCATTER_POINTS,
    ReportExtras,
    build_report,
    check_currency,
    learn_extras,
)
from segwise.report._model import Chart, Figure, Report, Section, Table, format_value
from segwise.report._render import (
    FORMATS,
    render,
    render_html,
    render_json,
    render_markdown,
    write_report,
)

__all__ = [
    "FORMATS",
    "MAX_SCATTER_POINTS",
    "Chart",
    "Figure",
    "Report",
    "ReportExtras",
    "Section",
    "Table",
    "build_report",
    "check_currency",
    "format_value",
    "learn_extras",
    "render",
    "render_html",
    "render_json",
    "render_markdown",
    "write_report",
]
