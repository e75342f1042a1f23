"""``segwise rfm`` and ``segwise demo``: transactions to named RFM segments."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
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
    app,
    console,
    handle_errors,
    print_actions,
    run_with_progress,
)

if TYPE_CHECKING:
    from segwise.jobs import RFMResult


def print_result(result: RFMResult) -> None:
    """Print the segment table, the recommended actions and the cleaning audit."""
    # Arrow rows, not DataFrames: the command never needs to import pandas.
    summary = result.segment_summary_table().to_pylist()
    seg = Table(title=f"RFM segments (as of {result.as_of})", title_justify="left")
    for col in ("Segment", "Customers", "Share", "Revenue share", "Median R (days)",
                "Median F", "Median M"):
        seg.add_column(col, justify="left" if col == "Segment" else "right")
    for row in summary:
        seg.add_row(
            row["segment"], f"{row['customers']:,}", f"{row['share']:.1%}",
            f"{row['revenue_share']:.1%}", _num(row["median_recency_days"]),
            _num(row["median_frequency"]), _num(row["median_monetary"], 2),
        )
    console.print(seg)
    print_actions((row["segment"], row["action"]) for row in summary)
    audit = Table(title="Cleaning audit", title_justify="left")
    for col in ("Step", "Rows", "Revenue", "What"):
        audit.add_column(col, justify="right" if col in ("Rows", "Revenue") else "left")
    steps = result.audit_table.to_pylist()
    for row in steps:
        audit.add_row(row["step"], f"{row['rows']:,}", _num(row["revenue"], 2),
                      row["description"])
    audit.add_row(Text("input", style="bold"), Text(f"{sum(r['rows'] for r in steps):,}",
                                                    style="bold"), "", "rows read")
    console.print(audit)


def _num(value: float | None, digits: int = 0) -> str:
    # Missing (an empty segment's median, quarantined revenue) prints empty.
    return "" if value is None or value != value else f"{value:,.{digits}f}"


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
) -> None:
    """Compute recency, frequency, monetary value, scores and named segments per customer."""
    from segwise.jobs import RFMResult
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
    """Run the whole job on the bundled UCI Online Retail log: segments, audit, report."""
    from segwise.cli.report import write_report_with_progress
    from segwise.datasets import online_retail_path
    from segwise.jobs import RFMResult
    from segwise.store import check_output

    main, *side = RFMResult.output_paths(output_dir / "customers.parquet")
    check_output(main, None, side=[*side, output_dir / "report.html"])
    source = online_retail_path()
    console.print(f"Bundled data: UCI Online Retail (CC BY 4.0), {source.name}")
    result = run_with_progress(source)
    print_result(result)
    for path in result.write(main):
        console.print(f"wrote {path}", highlight=False)
    if report:
        write_report_with_progress(
            result, output_dir / "report.html", currency="GBP",
            source="UCI Online Retail (bundled)",
        )
