"""``segwise report``: one offline HTML page (or a Markdown / JSON summary) of data and segments."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from segwise.cli._app import (
    AsOfOpt,
    ConfigOpt,
    EngineChoice,
    EngineOpt,
    MasterOpt,
    MemoryOpt,
    OrderLinesArg,
    app,
    console,
    handle_errors,
    run_with_progress,
)

if TYPE_CHECKING:
    from segwise.jobs import JobResult
    from segwise.report import ReportExtras

_STEPS = {
    "explore": "Exploring orders and products",
    "categories": "Learning product categories from descriptions",
    "charts": "Drawing charts",
    "render": "Writing the report",
    "segments": "Clustering customers (k sweep, model comparison, UMAP map)",
    "clv": "Fitting lifetime value models (BG/NBD, Gamma-Gamma)",
}


def write_report_with_progress(result: JobResult, path: Path, *, segments: bool = True,
                               clv: bool = True, extras: ReportExtras | None = None,
                               **kwargs: Any) -> Path:
    """Write the report with a spinner naming the current step, and print where it went.

    ``segments`` and ``clv`` add the learned-segment and lifetime-value sections
    (:func:`segwise.report.learn_extras`) unless ``extras`` are given already; ``kwargs``
    go to :func:`segwise.report.write_report` (``format``, ``currency``, ``source``, ...).
    ``segwise demo``, ``segwise report`` and ``segwise mobility`` use it.
    """
    from segwise.report import learn_extras, write_report

    with console.status("Building the report", spinner="dots") as status:
        def progress(step: str) -> None:
            status.update(_STEPS.get(step, step))

        if extras is None:
            extras = learn_extras(result, segments=segments, clv=clv, progress=progress)
        written = write_report(result, path, extras=extras, progress=progress, **kwargs)
    for note in extras.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    console.print(f"wrote {written} ({written.stat().st_size / 1e6:.1f} MB)")
    return written


class FormatChoice(StrEnum):
    """Report formats the CLI offers."""

    html = "html"
    md = "md"
    json = "json"


@app.command()
@handle_errors
def report(
    input: OrderLinesArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Report file to write "
                                                                "(.html, .md or .json).")],
    format: Annotated[FormatChoice | None, typer.Option(
        "--format", "-f", help="Output format (default: from the file suffix, else html).")
    ] = None,
    currency: Annotated[str | None, typer.Option(
        "--currency", help="Currency code shown on axes and headers, e.g. GBP.")] = None,
    categories: Annotated[int, typer.Option(
        "--categories", min=0, help="Product categories to learn (0: none).")] = 25,
    segments: Annotated[bool, typer.Option(
        "--segments/--no-segments", help="Cluster customers: k curves, model comparison, "
                                         "learned segments, UMAP map.")] = True,
    clv: Annotated[bool, typer.Option(
        "--clv/--no-clv", help="Fit lifetime value models and show value by segment.")] = True,
    config: ConfigOpt = None,
    as_of: AsOfOpt = None,
    engine: EngineOpt = EngineChoice.duckdb,
    spark_master: MasterOpt = None,
    memory_limit: MemoryOpt = None,
) -> None:
    """Write a self-contained report of the data, the cleaning and the segments."""
    result = run_with_progress(
        input, config=config, as_of=as_of, engine=engine, spark_master=spark_master,
        memory_limit=memory_limit,
    )
    write_report_with_progress(
        result,
        output,
        format=format.value if format else None,
        currency=currency,
        source=input.name,
        products=categories > 0,
        n_categories=max(categories, 1),
        segments=segments,
        clv=clv,
    )
