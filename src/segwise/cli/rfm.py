"""``segwise rfm`` and ``segwise demo``: transactions to named RFM segments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from segwise.cli._app import (
    AsOfOpt,
    ConfigOpt,
    EngineChoice,
    EngineOpt,
    KeepFormulasOpt,
    MasterOpt,
    MemoryOpt,
    OrderLinesArg,
    StoreOpt,
    app,
    console,
    handle_errors,
    print_result,
    run_with_progress,
    save_run,
)


@app.command()
@handle_errors
def rfm(
    input: OrderLinesArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Customer table to write "
                                                                "(.parquet, .csv or .duckdb).")],
    config: ConfigOpt = None,
    as_of: AsOfOpt = None,
    engine: EngineOpt = EngineChoice.duckdb,
    spark_master: MasterOpt = None,
    memory_limit: MemoryOpt = None,
    keep_formulas: KeepFormulasOpt = False,
    store: StoreOpt = None,
) -> None:
    """Compute recency, frequency, monetary value, scores and named segments per customer."""
    from segwise.jobs import RFMResult, run_record
    from segwise.store import TABLE_SUFFIXES, check_output

    main, *side = RFMResult.output_paths(output)
    check_output(main, (*TABLE_SUFFIXES, ".duckdb"), side=side, inputs=[input, config])
    result = run_with_progress(
        input, config=config, as_of=as_of, engine=engine, spark_master=spark_master,
        memory_limit=memory_limit,
    )
    print_result(result)
    for path in result.write(output, keep_formulas=keep_formulas):
        console.print(f"wrote {path}", highlight=False)
    save_run(store, lambda: run_record(result, command="rfm", job="rfm"))


@app.command()
@handle_errors
def demo(
    output_dir: Annotated[Path, typer.Option("--output-dir", "-d", help="Where to write "
                                                                        "results.")] = Path(
        "segwise-demo"
    ),
    report: Annotated[bool, typer.Option(
        "--report/--no-report",
        help="Also write report.html with learned segments and lifetime value.")] = True,
) -> None:
    """Run the whole job on the bundled UCI Online Retail log: segments, audit, report, store.

    Ends by printing the command that opens the dashboard on the demo's database.
    """
    from segwise.cli.report import write_report_with_progress
    from segwise.datasets import online_retail_path
    from segwise.jobs import RFMResult, run_record
    from segwise.store import check_output

    main, *side = RFMResult.output_paths(output_dir / "customers.parquet")
    check_output(main, None, side=[*side, output_dir / "report.html"])
    source = online_retail_path()
    console.print(f"Bundled data: UCI Online Retail (CC BY 4.0), {source.name}")
    result = run_with_progress(source)
    print_result(result)
    for path in result.write(main):
        console.print(f"wrote {path}", highlight=False)
    store = str(output_dir / "segwise.duckdb")
    if report:
        write_report_with_progress(
            result, output_dir / "report.html", currency="GBP",
            source="UCI Online Retail (bundled)", store=store, command="demo", job="rfm",
        )
    else:
        save_run(store, lambda: run_record(result, command="demo", job="rfm"))
    console.print(Text.assemble("Open the dashboard: ", (f"segwise serve {store}", "bold")),
                  highlight=False, soft_wrap=True)
