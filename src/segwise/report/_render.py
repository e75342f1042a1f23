"""Render a :class:`Report` as one offline HTML file, as Markdown or as JSON.

The HTML inlines plotly.js once and draws each figure from its JSON with ``Plotly.newPlot``;
it loads nothing from the network (no CDN, no MathJax, no web fonts, no maps).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from segwise.exceptions import ConfigError, UsageError

if TYPE_CHECKING:
    from segwise.jobs import JobResult
    from segwise.report._build import ReportExtras
    from segwise.report._model import Report, Table

__all__ = ["FORMATS", "render", "render_html", "render_json", "render_markdown", "report_format",
           "write_report"]

ReportFormat = Literal["html", "md", "json"]
#: Output formats and the file suffix each is inferred from.
FORMATS: dict[str, ReportFormat] = {".html": "html", ".htm": "html", ".md": "md",
                                    ".markdown": "md", ".json": "json"}

#: Plotly config of every chart: no logo, no link to the plotly cloud, responsive width.
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "showLink": False,
                 "modeBarButtonsToRemove": ["sendDataToCloud", "lasso2d", "select2d"]}


@functools.cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("segwise.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _script_json(obj: Any) -> str:
    """JSON safe to place inside a ``<script>`` element."""
    text = obj if isinstance(obj, str) else json.dumps(obj)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


#: Plotly attributes whose strings are segwise's own templates (``%{y}<br>...``): their
#: markup is meant, and no data is ever pasted into them (values come in through
#: ``%{...}`` from the escaped data).
_PLOTLY_TEMPLATES = frozenset({"hovertemplate", "texttemplate"})


def _plotly_text(text: str) -> str:
    """Escape text for plotly, which renders a subset of HTML (links included) in labels.

    Plotly turns ``&lt;``, ``&gt;`` and ``&amp;`` back into the characters when it draws,
    so the text shows as it is and no tag in it is ever interpreted.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plotly_safe(figure: Any, key: str | None = None) -> Any:
    """Escape every string of a plotly figure's JSON except segwise's own templates.

    Category labels, trace names, hover data, titles: every string that may come from the
    data (a country, a product, a segment name) is drawn as text, never as markup.

    Parameters
    ----------
    figure : dict, list or scalar
        A figure as plain JSON (``json.loads(fig.to_json())``), or a part of one.
    key : str, optional
        The attribute holding ``figure``.

    Returns
    -------
    Same type as ``figure``
        A copy with strings escaped by :func:`_plotly_text`.
    """
    if isinstance(figure, str):
        return figure if key in _PLOTLY_TEMPLATES else _plotly_text(figure)
    if isinstance(figure, list):
        return [plotly_safe(v, key) for v in figure]
    if isinstance(figure, dict):
        return {k: plotly_safe(v, k) for k, v in figure.items()}
    return figure


def render_html(report: Report) -> str:
    """Render the report as one self-contained HTML page.

    Parameters
    ----------
    report : Report
        The report model.

    Returns
    -------
    str
        The page: plotly.js inlined once, every figure as JSON drawn on load.
    """
    from markupsafe import Markup
    from plotly.offline import get_plotlyjs

    charts = []
    for i, chart in enumerate(report.charts):
        charts.append({"dom_id": f"chart-{i}-{chart.key}", "key": chart.key,
                       "json": Markup(_script_json(  # noqa: S704 - escaped JSON
                           plotly_safe(json.loads(chart.figure.to_json()))))})
    ids = {c["key"]: c for c in charts}
    template = _environment().get_template("report.html.j2")
    return str(template.render(
        report=report,
        chart_ids=ids,
        plotlyjs=Markup(get_plotlyjs()),  # noqa: S704 - the plotly package's own bundle
        config=Markup(_script_json(PLOTLY_CONFIG)),  # noqa: S704
        is_table=lambda block: hasattr(block, "frame"),
    ))


#: Characters Markdown would read as HTML, an entity, a link or image, a code span or a
#: table cell border; backslash-escaped, they show as themselves.
_MD_SPECIAL = re.compile(r"([\\`\[\]<>&|])")


def _md_cell(text: str) -> str:
    """Escape text for Markdown: shown as it is, never as HTML, a link or a new cell."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def _md_table(table: Table) -> list[str]:
    headers = [table.header(c) or " " for c in table.columns]
    out = ["| " + " | ".join(_md_cell(h) for h in headers) + " |",
           "|" + "|".join("---:" if table.formats.get(c) else "---" for c in table.columns)
           + "|"]
    out += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in table.rows_text()]
    return out


def render_markdown(report: Report) -> str:
    """Render the report's figures, tables and chart readings as Markdown.

    Parameters
    ----------
    report : Report
        The report model.

    Returns
    -------
    str
        A Markdown summary (no charts; each chart is listed with its reading).
    """
    md = _md_cell
    lines = [f"# {md(report.title)}", "", f"_{md(report.subtitle)}_", "", "## Key figures", "",
             "| Figure | Value |", "|---|---:|"]
    lines += [f"| {md(f.label)} | {md(f.text)} |" for f in report.figures]
    for section in report.sections:
        lines += ["", f"## {md(section.title)}", ""]
        if section.intro:
            lines += [md(section.intro), ""]
        for block in section.blocks:
            if hasattr(block, "frame"):
                lines += [f"### {md(block.title)}", "",
                          *_md_table(block)]  # type: ignore[arg-type]
                if block.reading:
                    lines += ["", f"_{md(block.reading)}_"]
                downloads = getattr(block, "downloads", [])
                if downloads:
                    lines += ["", "Member lists (in the HTML report): " + ", ".join(
                        f"{md(d.filename)} ({d.count:,})" for d in downloads)]
                lines.append("")
            else:
                lines += [f"- **{md(block.title)}**: {md(block.reading)}", ""]
    lines += ["", f"_Generated by segwise {md(report.meta.get('segwise_version', ''))} on "
                  f"{md(report.meta.get('generated', ''))}._", ""]
    return "\n".join(lines)


def render_json(report: Report) -> str:
    """Render the report's figures, tables and chart readings as JSON.

    Parameters
    ----------
    report : Report
        The report model.

    Returns
    -------
    str
        Indented JSON of :meth:`Report.to_dict` (raw numbers; ``text`` fields carry the
        values as the HTML shows them).
    """
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n"


_RENDERERS: dict[str, Callable[[Report], str]] = {
    "html": render_html, "md": render_markdown, "json": render_json,
}


def render(report: Report, format: ReportFormat = "html") -> str:
    """Render the report in one of the formats ``html``, ``md`` or ``json``.

    Raises
    ------
    ConfigError
        For an unknown format.
    """
    try:
        return _RENDERERS[format](report)
    except KeyError:
        raise ConfigError(f"report format {format!r}: use 'html', 'md' or 'json'") from None


def report_format(path: str | Path, format: str | None = None) -> ReportFormat:
    """Return the format a report written to ``path`` is in: ``format``, else the suffix's.

    A name without a suffix is HTML.

    Raises
    ------
    ConfigError
        If ``format`` is none of ``html``, ``md`` and ``json``.
    UsageError
        Without ``format``, if the suffix names none (``report.pdf`` was written as HTML
        without a word): commands check it before any work.
    """
    if format is not None:
        if format not in _RENDERERS:
            raise ConfigError(f"report format {format!r}: use 'html', 'md' or 'json'")
        return cast("ReportFormat", format)
    path = Path(path)
    if not path.suffix:
        return "html"
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(
            f"{path}: a report is written as HTML (.html), Markdown (.md) or JSON (.json), "
            f"not {path.suffix}. Fix: end the name in .html, .md or .json")
    return fmt


def write_report(
    result: JobResult | Report,
    path: str | Path,
    *,
    format: ReportFormat | None = None,
    extras: ReportExtras | None = None,
    **build: Any,
) -> Path:
    """Build (unless given a built report) and write a report file.

    Parameters
    ----------
    result : JobResult or Report
        A job's result (the report is built with :func:`build_report`) or a built report.
    path : str or Path
        File to write, atomically (:func:`segwise.store.write_text`); parent folders are
        created.
    format : {"html", "md", "json"}, optional
        Output format; else that of the suffix of ``path`` (``.html``, ``.md``, ``.json``,
        none: HTML; :func:`report_format`, which refuses another).
    extras : ReportExtras, optional
        Optional sections' inputs (clustering, embedding, CLV, categories).
    **build
        Further keyword arguments of :func:`build_report` (``currency``, ``source``,
        ``progress``, ``products``, ...).

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> from segwise.jobs import run_rfm  # doctest: +SKIP
    >>> write_report(run_rfm("orders.csv"), "report.html", currency="GBP")  # doctest: +SKIP
    """
    from segwise.report._build import build_report
    from segwise.report._model import Report

    path = Path(path)
    fmt = report_format(path, format)
    report = result if isinstance(result, Report) else build_report(result, extras, **build)
    progress = build.get("progress")
    if progress is not None:
        progress("render")
    from segwise.store import write_text

    return write_text(render(report, fmt), path)
