"""``segwise rfe`` and ``segwise convert``: event logs to named RFE segments per user."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from segwise.cli._app import (
    AsOfOpt,
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
    run_with_progress,
    save_run,
)

EventsArg = Annotated[
    Path | None,
    typer.Argument(help="Event log: CSV(.gz), Parquet (file or directory), JSON lines, "
                        "SQLite or DuckDB database (tables and relation in the config). "
                        "Omitted: the bundled Avito-shaped sample."),
]


@app.command()
@handle_errors
def rfe(
    output: Annotated[Path, typer.Option("--output", "-o", help="User table to write "
                                                                "(.parquet, .csv or .duckdb).")],
    input: EventsArg = None,
    config: ConfigOpt = None,
    as_of: AsOfOpt = None,
    engine: EngineOpt = EngineChoice.duckdb,
    spark_master: MasterOpt = None,
    memory_limit: MemoryOpt = None,
    keep_formulas: KeepFormulasOpt = False,
    store: StoreOpt = None,
) -> None:
    """Recency, frequency, engagement, scores, named segments and how to reach them per user."""
    from segwise.jobs import JobResult, run_record
    from segwise.store import TABLE_SUFFIXES, check_output

    main, *side = JobResult.output_paths(output)
    check_output(main, (*TABLE_SUFFIXES, ".duckdb"), side=side, inputs=[input, config])
    if input is None:
        from segwise.datasets import avito_sample_config_path, avito_sample_path

        input = avito_sample_path()
        config = config or avito_sample_config_path()
        console.print("Bundled data: a generated Avito-shaped ad-click log (549 users)")
    result = run_with_progress(
        input, job="rfe", config=config, as_of=as_of, engine=engine,
        spark_master=spark_master, memory_limit=memory_limit,
    )
    print_result(result)
    reach = Table(title="How to reach each segment", title_justify="left")
    for header in ("Segment", "Users", "Clicks", "Median CTR", "Active", "Device",
                   "Category"):
        reach.add_column(header, justify="left" if header in (
            "Segment", "Active", "Device", "Category") else "right")
    for row in result.reach_table().to_pylist():
        reach.add_row(row["segment"], f"{row['users']:,}", f"{row['click_share']:.1%}",
                      f"{row['median_ctr']:.2%}", row["active_when"] or "",
                      row["device"] or "", row["category"] or "")
    console.print(reach)
    for path in result.write(output, keep_formulas=keep_formulas):
        console.print(f"wrote {path}", highlight=False)
    save_run(store, lambda: run_record(result, command="rfe", job="rfe"))


@app.command()
@handle_errors
def convert(
    input: Annotated[Path, typer.Argument(help="SQLite or DuckDB database.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory of Parquet parts "
                                                                "to write (replaced).")],
    config: ConfigOpt = None,
    kind: Annotated[str, typer.Option("--kind", help="Source kind whose columns are "
                                                     "written.")] = "events",
    memory_limit: MemoryOpt = None,
) -> None:
    """Convert a database's rows, its relation applied, to Parquet in one pass (for Spark)."""
    from segwise.config import load_config
    from segwise.io import convert_to_parquet

    cfg = load_config(config, memory_limit=memory_limit, kind=kind)
    with progress("Converting to Parquet"):
        done = convert_to_parquet(input, output, kind, columns=cfg.columns, read=cfg.read,
                                  memory_limit=cfg.memory_limit)
    console.print(f"wrote {done.path}: {done.rows:,} rows in {done.files} Parquet part(s), "
                  f"{done.seconds:.1f} s")
