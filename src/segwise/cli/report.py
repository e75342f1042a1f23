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
    StoreOpt,
    app,
    console,
    handle_errors,
    notice,
    progress,
    refuse_given,
    run_with_progress,
    save_run,
)
from segwise.cli.clv import DiscountRateOpt, HorizonOpt, MarginOpt

if TYPE_CHECKING:
    from segwise.jobs import JobResult
    from segwise.report import ReportExtras
    from segwise.store import RunRecord

_STEPS = {
    "explore": "Exploring orders and products",
    "categories": "Learning product categories from descriptions",
    "charts": "Drawing charts",
    "render": "Writing the report",
    "segments": "Clustering customers (k sweep, model comparison, UMAP map)",
    "clv": "Fitting lifetime value models",
    "track": "Snapshots, migration and cohorts",
}


def write_report_with_progress(result: JobResult, path: Path, *, segments: bool = True,
                               clv: bool = True, track: bool = True, clv_model: str = "bgnbd",
                               clv_settings: dict[str, Any] | None = None,
                               extras: ReportExtras | None = None, store: str | None = None,
                               command: str = "report", job: str | None = None,
                               **kwargs: Any) -> Path:
    """Write the report with a spinner naming the current step, and print where it went.

    ``segments``, ``clv`` and ``track`` add the learned-segment, lifetime-value and "Over
    time" sections, ``clv_model`` picks the purchase model and ``clv_settings`` holds
    ``clv_horizon``, ``clv_margin`` and ``clv_discount_rate``
    (:func:`segwise.report.learn_extras`), unless ``extras`` are given already; ``kwargs``
    go to :func:`segwise.report.write_report` (``format``, ``currency``, ``source``, ...).
    ``segwise demo``, ``segwise report`` and ``segwise mobility`` use it. With ``store``,
    the result, the learned segments and the lifetime values are also written there as one
    run of ``command`` and ``job``.
    """
    from segwise.report import learn_extras, write_report

    with progress("Building the report") as say:
        def step(name: str) -> None:
            say(_STEPS.get(name, name))

        if extras is None:
            extras = learn_extras(result, segments=segments, clv=clv, track=track,
                                  clv_model=clv_model, progress=step,
                                  **(clv_settings or {}))
        written = write_report(result, path, extras=extras, progress=step, **kwargs)
    for note in extras.notes:
        notice("note", note)
    console.print(f"wrote {written} ({written.stat().st_size / 1e6:.1f} MB)", highlight=False)

    def record() -> RunRecord:
        from segwise.jobs import named_labels, run_record

        clusters = extras.clusters
        learned = [] if clusters is None else [named_labels(
            result.entities, "learned", clusters["customer_id"], clusters["segment"],
            actions=clusters.drop_duplicates("segment").set_index("segment")["action"].to_dict()
            if "action" in clusters else None)]
        return run_record(result, command=command, job=job, clv=extras.clv,
                          segmentations=learned)

    save_run(store, record)
    return written


class FormatChoice(StrEnum):
    """Report formats the CLI offers."""

    html = "html"
    md = "md"
    json = "json"


_CLV_OPTIONS = ("clv", "clv_model", "horizon", "margin", "discount_rate")


def _refuse_unused(ctx: typer.Context, *, job: str, clv: bool) -> None:
    """Refuse the options given that the report of ``job`` (or ``--no-clv``) never uses."""
    from segwise.exceptions import ConfigError, UsageError
    from segwise.jobs import get_job
    from segwise.report import extras_for

    try:
        spec = get_job(job)
    except ConfigError as exc:  # an option's value: a usage error (2), not bad data (1)
        raise UsageError(f"--job: {exc}. Fix: name one of them") from None
    extras = extras_for(spec.kind)
    other = (f"with --job {job}: its report ({spec.kind}) has no {{what}}. Fix: leave it out, "
             "or report order lines with --job rfm")
    reasons = {}
    if "clv" not in extras:
        reasons.update(dict.fromkeys(_CLV_OPTIONS, other.format(what="lifetime value")))
    elif not clv:
        reasons.update(dict.fromkeys(_CLV_OPTIONS[1:], "with --no-clv: no lifetime value is "
                                     "fitted. Fix: leave out --no-clv, or the CLV options"))
    if "track" not in extras:
        reasons["track"] = other.format(what="snapshots over time")
    if spec.kind != get_job("rfm").kind:
        reasons["categories"] = other.format(what="products to learn categories of")
    refuse_given(ctx, reasons)


@app.command()
@handle_errors
def report(
    ctx: typer.Context,
    input: Annotated[Path, typer.Argument(
        help="The --job's source: order lines for rfm, events for rfe, pings for mobility; "
             "CSV (also .gz, .bz2, .xz, .zip), Parquet, Excel, JSON lines, SQLite or DuckDB "
             "file.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Report file to write "
                                                                "(.html, .md or .json).")],
    format: Annotated[FormatChoice | None, typer.Option(
        "--format", "-f", help="Output format (default: from the file suffix: .html, .md or "
                               ".json, none for html; another is refused).")
    ] = None,
    currency: Annotated[str | None, typer.Option(
        "--currency", help="Currency code shown on axes and headers, e.g. GBP.")] = None,
    categories: Annotated[int, typer.Option(
        "--categories", min=0, max=200, help="Product categories to learn (0: none).")] = 25,
    segments: Annotated[bool, typer.Option(
        "--segments/--no-segments", help="Cluster customers: k curves, model comparison, "
                                         "learned segments, UMAP map.")] = True,
    clv: Annotated[bool, typer.Option(
        "--clv/--no-clv", help="Fit lifetime value models and show value by segment.")] = True,
    clv_model: Annotated[str, typer.Option(
        "--clv-model", help="Purchase model: bgnbd, mbgnbd, pareto_nbd, bgbb, or auto (all "
                            "compared on a holdout, shown in the report).")] = "bgnbd",
    horizon: HorizonOpt = "12m",
    margin: MarginOpt = 1.0,
    discount_rate: DiscountRateOpt = 0.10,
    track: Annotated[bool, typer.Option(
        "--track/--no-track", help="Snapshots over time: segment sizes, migration, cohorts."
    )] = True,
    config: ConfigOpt = None,
    as_of: AsOfOpt = None,
    engine: EngineOpt = EngineChoice.duckdb,
    spark_master: MasterOpt = None,
    memory_limit: MemoryOpt = None,
    job: Annotated[str, typer.Option(
        "--job", help="The job whose result is reported: rfm (order lines), rfe "
                      "(events), mobility (pings), or any other registered job; the input is "
                      "that job's source.")] = "rfm",
    store: StoreOpt = None,
) -> None:
    """Write a self-contained report of the data, the cleaning and the segments."""
    from segwise.clv import PURCHASE_MODELS
    from segwise.exceptions import ConfigError
    from segwise.report import check_currency, report_format
    from segwise.store import check_output

    if clv_model not in (*PURCHASE_MODELS, "auto"):  # a typo fails before any reading
        raise ConfigError(f"--clv-model {clv_model!r}: choose one of "
                          f"{', '.join(PURCHASE_MODELS)}, auto")
    # The suffix picks the format, unless --format names it: .pdf was HTML without a word.
    report_format(output, format.value if format else None)
    check_output(output, None, inputs=[input, config])
    check_currency(currency)
    _refuse_unused(ctx, job=job, clv=clv)
    result = run_with_progress(
        input, job=job, config=config, as_of=as_of, engine=engine, spark_master=spark_master,
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
        store=store,
        job=job,
        track=track,
        clv_model=clv_model,
        clv_settings={"clv_horizon": horizon, "clv_margin": margin,
                      "clv_discount_rate": discount_rate},
    )
