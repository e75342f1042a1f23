"""The segwise report: one offline HTML page (or Markdown / JSON summary) of data and segments.

Build the model once with :func:`build_report`, render it with :func:`render`, or do both
with :func:`write_report`::

    from segwise.jobs import run_rfm
    from segwise.report import write_report

    write_report(run_rfm("orders.csv"), "report.html", currency="GBP")

Sections shared by every source kind come with those a kind registers
(:func:`register_sections`). Optional sections (clustering, embedding, CLV, categories)
appear when their inputs are given as :class:`ReportExtras`.

Names load on first use: the charting libraries are not imported by a job that only
registers its report sections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segwise._lazy import lazy_getattr
from segwise.report._registry import (
    ReportContext,
    SectionBuilder,
    extras_for,
    register_extra,
    register_sections,
    register_sections_module,
)

if TYPE_CHECKING:
    from segwise.report import _charts as charts
    from segwise.report._build import (
        MAX_SCATTER_POINTS,
        ReportExtras,
        build_report,
        check_currency,
        clv_frame,
        learn_extras,
    )
    from segwise.report._model import (
        Chart,
        Download,
        Figure,
        Report,
        Section,
        Table,
        format_value,
    )
    from segwise.report._render import (
        FORMATS,
        render,
        render_html,
        render_json,
        render_markdown,
        report_format,
        write_report,
    )

_LAZY = {
    "MAX_SCATTER_POINTS": "_build",
    "ReportExtras": "_build",
    "build_report": "_build",
    "check_currency": "_build",
    "clv_frame": "_build",
    "learn_extras": "_build",
    "Chart": "_model",
    "Download": "_model",
    "Figure": "_model",
    "Report": "_model",
    "Section": "_model",
    "Table": "_model",
    "format_value": "_model",
    "FORMATS": "_render",
    "render": "_render",
    "render_html": "_render",
    "render_json": "_render",
    "render_markdown": "_render",
    "report_format": "_render",
    "write_report": "_render",
}

__all__ = [
    "FORMATS",
    "MAX_SCATTER_POINTS",
    "Chart",
    "Download",
    "Figure",
    "Report",
    "ReportContext",
    "ReportExtras",
    "Section",
    "SectionBuilder",
    "Table",
    "build_report",
    "charts",
    "check_currency",
    "clv_frame",
    "extras_for",
    "format_value",
    "learn_extras",
    "register_extra",
    "register_sections",
    "register_sections_module",
    "render",
    "render_html",
    "render_json",
    "render_markdown",
    "report_format",
    "write_report",
]


__getattr__ = lazy_getattr(__name__, _LAZY, globals(), modules={"charts": "_charts"})
