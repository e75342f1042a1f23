"""``segwise track``: RFM snapshots over time, segment migration and acquisition cohorts."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from segwise.cli._app import (
    ConfigOpt,
    EngineChoice,
    EngineOpt,
    MasterOpt,
    MemoryOpt,
    OrderLinesArg,
    StoreOpt,
    app,
    check_engine_options,
    console,
    handle_errors,
    progress,
    read_days,
    refuse_given,
    save_run,
)
from segwise.cli.clv import check_window, said_after

if TYPE_CHECKING:
    import pandas as pd

    from segwise.track import TrackResult

_STEPS = {
    "load": "Reading and parsing order lines",
    "clean": "Applying cleaning rules",
    "aggregate": "Aggregating orders (one scan)",
    "snapshots": "Scoring every snapshot",
    "learned": "Clustering every snapshot and matching the segments",
    "cohorts": "Building acquisition cohorts",
}


class Every(StrEnum):
    """Snapshot spacings the CLI offers."""

    month = "month"
    quarter = "quarter"
    year = "year"


class EdgesChoice(StrEnum):
    """Score edges across snapshots."""

    refit = "refit"
    fixed = "fixed"


def _grid(frame: pd.DataFrame, title: str, fmt: str) -> Table:
    """Build a rich table of a small labelled grid (index as the first column)."""
    table = Table(title=title, title_justify="left")
    table.add_column(str(frame.index.name or ""), justify="left")
    for col in frame.columns:
        table.add_column(str(col), justify="right")
    for label, row in frame.iterrows():
        table.add_row(str(label), *("" if v != v else format(v, fmt) for v in row))
    return table


def _fitted_grid(frame: pd.DataFrame, title: str, fmt: str, *, keep: str, what: str) -> Table:
    """Build a grid of the columns the terminal shows whole: those at the ``keep`` end.

    A long log has dozens of snapshots or cohort ages; a table of all of them squeezes
    every column to nothing. The title says how many are shown; the files hold all.
    """
    from rich.measure import Measurement

    n = len(frame.columns)

    def grid(shown: int) -> Table:
        part = frame.iloc[:, n - shown:] if keep == "last" else frame.iloc[:, :shown]
        note = "" if shown == n else f" ({keep} {shown} of {n} {what}; the files hold all)"
        return _grid(part, title + note, fmt)

    def fits(shown: int) -> bool:
        natural = Measurement.get(console, console.options.update_width(10**6), grid(shown))
        return natural.maximum <= console.width

    if fits(n):
        return grid(n)
    low, high = 2, n - 1  # the most columns that fit, found by halving (two at least)
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if fits(mid) else (low, mid - 1)
    return grid(low)


def print_track(result: TrackResult, currency: str | None = None) -> None:
    """Print segment sizes over time, the last migration matrix, its biggest flows, cohorts."""
    sizes = result.sizes().pivot(index="segment", columns="snapshot", values="customers")
    sizes = sizes.reindex([s for s in result.segment_order if s in sizes.index])
    sizes.columns = [str(c.date()) for c in sizes.columns]
    sizes.loc["All customers"] = sizes.sum()
    sizes.index.name = "Segment"
    how = "each snapshot's own quintiles" if result.edges == "refit" else "the first snapshot's"
    console.print(_fitted_grid(sizes, f"Customers per segment at each snapshot (purchases "
                                      f"before each date, scored on {how})", ",.0f",
                               keep="last", what="snapshots"))
    before, after = result.dates[-2], result.dates[-1]
    matrix = result.migration()
    matrix.index.name = f"{before} \\ {after}"
    console.print(_grid(matrix, f"Migration from {before} to {after} (customers; rows: "
                                "segment before, columns: after)", ",.0f"))
    console.print(result.headline(currency), highlight=False)
    retention = result.cohorts.triangle("retention")
    retention.index.name = f"Cohort ({result.cohorts.period})"
    retention.columns = [str(c) for c in retention.columns]
    console.print(_fitted_grid(retention * 100, "Retention by cohort and age (% of the cohort "
                                                "buying in each period; age 0 = acquisition)",
                               ".0f", keep="first", what="ages"))


@app.command()
@handle_errors
def track(
    ctx: typer.Context,
    input: OrderLinesArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Snapshot table to write "
                                                                "(.parquet, .csv or .duckdb).")],
    every: Annotated[Every, typer.Option(
        "--every", help="Snapshot spacing: calendar months, quarters or years, and the day "
                        "after the last purchase.")] = Every.quarter,
    dates: Annotated[tuple | None, typer.Option(
        "--dates", parser=read_days, metavar="YYYY-MM-DD,...",
        help="Explicit as-of dates instead, comma-separated YYYY-MM-DD (whole days: a "
             "snapshot as of a day holds the purchases before it, as `segwise rfm --as-of` "
             "the day before would; rfm's --as-of includes its day).")] = None,
    edges: Annotated[EdgesChoice, typer.Option(
        "--edges", help="refit: score each snapshot on its own quintiles (default: F and M "
                        "accumulate, so fixed edges drift); fixed: on the first snapshot's."
    )] = EdgesChoice.refit,
    window: Annotated[str | None, typer.Option(
        "--window", callback=check_window,
        help="Trailing window of history per snapshot, e.g. 365d or 12m (default: all "
             "history).")] = None,
    cohorts: Annotated[Every | None, typer.Option(
        "--cohorts", help="Cohort period (default: as --every).")] = None,
    learned: Annotated[int, typer.Option(
        "--learned", min=0, max=100, help="Also cluster every snapshot into K learned segments, "
                                 "matched across snapshots (0: none).")] = 0,
    currency: Annotated[str | None, typer.Option(
        "--currency", help="Currency code for amounts, e.g. GBP.")] = None,
    config: ConfigOpt = None,
    engine: EngineOpt = EngineChoice.duckdb,
    spark_master: MasterOpt = None,
    memory_limit: MemoryOpt = None,
    store: StoreOpt = None,
) -> None:
    """Track customers over time: RFM snapshots, segment migration and cohorts.

    Reads the order lines once, scores RFM segments at every snapshot date, and writes the
    snapshots (one row per snapshot and customer) to OUTPUT, with segment sizes, every
    migration flow (new and gone customers included, revenue carried), acquisition cohorts
    and the cleaning audit beside it. With --store, every snapshot is also stored as a run
    of its own, so the dashboard shows the migration between any two.
    """
    from segwise.config import load_config
    from segwise.features import source_fingerprint
    from segwise.jobs import run_track, track_records
    from segwise.store import TABLE_SUFFIXES, check_output
    from segwise.track import TrackResult

    # Typos, and outputs that cannot be written or would overwrite the input, fail now.
    main, *side = TrackResult.output_paths(output)
    check_output(main, (*TABLE_SUFFIXES, ".duckdb"), side=side, inputs=[input, config])
    check_engine_options(engine, spark_master)
    if dates is not None:
        refuse_given(ctx, {"every": "with --dates: the dates are the snapshots (and cohorts are "
                                    "months unless --cohorts says otherwise). Fix: "
                                    "leave out --every, or --dates"})
    with said_after(), progress("Starting") as say:
        settings = load_config(config, memory_limit=memory_limit)
        result = run_track(
            input,
            config=settings,
            every=every.value,
            dates=list(dates) if dates else None,
            edges=edges.value,
            window=window,
            cohort_period=cohorts.value if cohorts else None,
            learned=learned or None,
            engine=str(engine),
            spark_master=spark_master,
            progress=lambda step: say(_STEPS.get(step, step)),
        )
    print_track(result, currency)
    for path in result.write(output):
        console.print(f"wrote {path}")
    save_run(store, lambda: track_records(result, config=settings, source=str(input),
                                          fingerprint=source_fingerprint(input)))
