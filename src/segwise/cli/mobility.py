"""``segwise mobility``: location pings to per-user places, rhythm, interests and segments."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from segwise.cli._app import (
    ConfigOpt,
    EngineChoice,
    EngineOpt,
    KeepFormulasOpt,
    MasterOpt,
    MemoryOpt,
    StoreOpt,
    app,
    console,
    handle_errors,
    print_result,
    progress,
    read_day,
    run_with_progress,
    save_run,
)


@app.command()
@handle_errors
def mobility(
    input: Annotated[Path, typer.Argument(
        help="Pings (user, timestamp, lat, lon, optional accuracy and category): CSV(.gz), "
             "Parquet, Excel, JSON lines, SQLite or DuckDB file.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="User table to write "
                                                                "(.parquet, .csv or .duckdb).")],
    pois: Annotated[Path | None, typer.Option(
        "--pois", help="Points of interest (category, lat, lon, optional name) for "
                       "interests.")] = None,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Also write the report (.html, .md or .json).")] = None,
    segments: Annotated[bool, typer.Option(
        "--segments/--no-segments", help="Learn high-level segments (k chosen by several "
                                         "criteria) and the campaign table.")] = True,
    config: ConfigOpt = None,
    as_of: Annotated[dt.date | None, typer.Option(
        "--as-of", parser=read_day, metavar="YYYY-MM-DD",
        help="Last day of pings to use, a whole day: later pings are left out and counted "
             "(after_as_of in the audit).")] = None,
    engine: EngineOpt = EngineChoice.duckdb,
    spark_master: MasterOpt = None,
    memory_limit: MemoryOpt = None,
    keep_formulas: KeepFormulasOpt = False,
    store: StoreOpt = None,
) -> None:
    """Find stable locations, settlements, week-time rhythm, interests and segments per user.

    Writes the users (one row each; home and work as coarse cells), OUTPUT's audit
    (<out>.audit.csv) and stable locations (<out>.locations.parquet, coarse cells), and
    with segments each user's segment (<out>.assignments.csv), their profiles
    (<out>.segments.csv) and the targeted campaign against an untargeted one
    (<out>.campaign.csv).
    """
    from segwise.jobs import run_record
    from segwise.jobs.mobility import MobilityResult, UserSegments, with_pois_option
    from segwise.report import report_format
    from segwise.store import TABLE_SUFFIXES, check_output

    main, *side = MobilityResult.output_paths(output)
    if report is not None:
        report_format(report)
    check_output(main, (*TABLE_SUFFIXES, ".duckdb"),
                 side=[*side, *UserSegments.output_paths(output), *([report] if report else [])],
                 inputs=[input, config, pois])
    result = run_with_progress(
        input, job="mobility", config=config, as_of=as_of, engine=engine,
        spark_master=spark_master,
        memory_limit=memory_limit, adjust=with_pois_option(pois),
    )
    print_result(result)
    plan = None
    if segments:
        from segwise.exceptions import InputError
        from segwise.jobs.mobility import segment_users

        # Before anything is written: users that cannot be segmented (too few, all
        # alike) stop the run with no user table left behind as if it had succeeded.
        try:
            with progress("Learning segments"):
                plan = segment_users(result, embed=("umap",) if report else ())
        except InputError as exc:
            raise InputError(f"{exc}; or add --no-segments to write the users alone"
                             ) from None
        console.print(plan.summary_text(), highlight=False, markup=False)
    written = result.write(output, keep_formulas=keep_formulas)
    if plan is not None:
        written += plan.write(output, keep_formulas=keep_formulas)
        if report:
            from segwise.cli.report import write_report_with_progress

            write_report_with_progress(result, report, extras=plan.extras, source=input.name)
    elif report:
        from segwise.cli.report import write_report_with_progress

        write_report_with_progress(result, report, segments=False, source=input.name)
    for path in written:
        console.print(f"wrote {path}", highlight=False)
    save_run(store, lambda: run_record(result, command="mobility", job="mobility",
                                       segmentation=None if plan is None else plan.segmentation))
