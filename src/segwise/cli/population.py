"""``segwise population``: demographic segments of a population, and which are your customers."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from segwise.clean import MAX_SEGMENTS
from segwise.cli._app import (
    ConfigOpt,
    KeepFormulasOpt,
    MemoryOpt,
    StoreOpt,
    app,
    console,
    handle_errors,
    notice,
    print_audit,
    progress,
    refuse_given,
    save_run,
)

if TYPE_CHECKING:
    from segwise.jobs import PopulationResult


_STEPS = {
    "population load": "Reading the population",
    "population clean": "Typing the population's attributes by the dictionary",
    "population features": "Collecting the population",
    "customers load": "Reading the customers",
    "customers clean": "Typing the customers' attributes",
    "customers features": "Collecting the customers",
    "encode": "Encoding, ranking features, PCA (fitted on the population)",
    "sweep": "Sweeping k and scoring every criterion",
    "cluster": "Fitting the segments",
    "project": "Projecting the customers onto the population's segments",
    "compare": "Comparing the population and the customers",
    "charts": "Drawing charts",
    "render": "Writing the report",
}

PeopleArg = Annotated[Path, typer.Argument(
    help="Person-level file: CSV/TSV(.gz), Parquet, Excel, JSON lines, SQLite or DuckDB; "
         "header or none, an id column or none.")]


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def print_comparison(result: PopulationResult) -> None:
    """Print the comparison table, its reading, the segments in words and the audits."""
    cmp = result.comparison
    table = Table(title="Population against customers", title_justify="left")
    for header, justify in (("Segment", "left"), ("Population", "right"),
                            ("Share", "right"), ("Customers", "right"), ("Share", "right"),
                            ("Ratio", "right"), (f"{cmp.level:.0%} interval", "right"),
                            ("Verdict", "left"), ("Expected if mailed", "right")):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for row in cmp.table.to_dict("records"):
        colour = {"over": "green", "under": "red"}.get(row["verdict"], "")
        verdict = Text(row["verdict"], style=colour)
        table.add_row(row["name"], f"{row['population']:,}", f"{row['population_share']:.1%}",
                      f"{row['customers']:,}", f"{row['customer_share']:.1%}",
                      "-" if math.isnan(row["ratio"]) else f"{row['ratio']:.2f}",
                      cmp.interval_text(row["ratio_low"], row["ratio_high"]),
                      verdict, f"{row['expected_customers']:,.0f}")
    console.print(table)
    console.print(cmp.summary(), highlight=False)
    console.print(Text("Segments in words", style="bold"))
    for row in result.segments.to_dict("records"):
        console.print(Text.assemble("  ", (row["name"], "bold"), f": {row['description']}"),
                      highlight=False)
    sparse = cmp.table[cmp.table["segment"] < 0]
    if len(sparse):
        row = sparse.iloc[0]
        console.print(f"{int(row['customers']):,} customers and {int(row['population']):,} "
                      "people of the population were too sparse to place: counted on their "
                      "own line above.", highlight=False)
    steps = Table(title="Columns", title_justify="left")
    for header in ("Stage", "Step", "Columns", "What"):
        steps.add_column(header, justify="right" if header == "Columns" else "left")
    for row in result.column_steps.to_dict("records"):
        steps.add_row(row["stage"], row["step"], f"{row['columns']:,}", row["description"])
    console.print(steps)
    for name, audit in (("population", result.column_audit),
                        ("customers", result.customer_projection.audit)):
        # Counts are missing on rows that have none (the id): not odd for that.
        odd = audit[["unseen_code", "not_a_number"]].fillna(0).gt(0).any(axis=1)
        if name == "customers":  # the population's columns not used are in the steps above
            odd |= audit["status"] != "used"
        for row in audit[odd].to_dict("records"):
            what = (f"{int(row['unseen_code']):,} undeclared code(s), "
                    f"{int(row['not_a_number']):,} "
                    "non-number(s), encoded as missing" if row["status"] == "used"
                    else row["note"])
            notice(f"{name}, {row['column']}", what)
    # A dictionary may cover several files; which of its attributes this one lacks is
    # said by name, once (the steps above only count them).
    absent = result.column_audit.loc[result.column_audit["status"] == "not in the data",
                                     "column"].tolist()
    if absent:
        notice("population", f"{len(absent):,} attribute(s) of the dictionary not in the file, "
                             f"not used: {', '.join(absent[:8])}"
                             f"{f' and {len(absent) - 8:,} more' if len(absent) > 8 else ''} "
                             "(columns.csv)")
    console.print(Text("Population rows", style="bold"))
    print_audit(result.audit_table)
    console.print(Text("Customer rows", style="bold"))
    print_audit(result.customer_audit_table)


@app.command()
@handle_errors
def population(
    ctx: typer.Context,
    population: PeopleArg,
    customers: PeopleArg,
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Folder to write: assignments.parquet, comparison.csv, the "
                               "audits, the analyses and report.html.")],
    dictionary: Annotated[Path | None, typer.Option(
        "--dictionary", "-d", help="Feature dictionary: segwise CSV/TOML (docs/people.md) or "
                                   "a CoIL dictionary.txt; types are inferred without one.")
    ] = None,
    exclude: Annotated[str, typer.Option(
        "--exclude", help="Attributes never used, comma-separated; shell patterns such as "
                          "'P*' match several.")] = "",
    k: Annotated[int | None, typer.Option(
        "--k", min=2, max=MAX_SEGMENTS, help="Number of segments; swept and recommended when "
                                      "omitted.")] = None,
    k_min: Annotated[int | None, typer.Option("--k-min", min=2, max=MAX_SEGMENTS,
                                              help="Smallest k of the sweep.")] = None,
    k_max: Annotated[int | None, typer.Option("--k-max", min=2, max=MAX_SEGMENTS,
                                              help="Largest k of the sweep.")] = None,
    pca_variance: Annotated[float | None, typer.Option(
        "--pca-variance", min=0.01, max=1.0,
        help="Share of the variance the kept components explain (default 0.8).")] = None,
    top_n: Annotated[int | None, typer.Option(
        "--top-n", min=0, max=1_000_000,
        help="Keep only the N most relevant encoded features (0: all).")] = None,
    base_rate: Annotated[float | None, typer.Option(
        "--base-rate", min=0.0, max=0.99,
        help="Share of a mailed population expected to become customers "
             "(default: customers / population).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, max=2**32 - 1,
                                             help="Random seed.")] = None,
    report: Annotated[bool, typer.Option(
        "--report/--no-report", help="Write report.html into the folder.")] = True,
    config: ConfigOpt = None,
    memory_limit: MemoryOpt = None,
    keep_formulas: KeepFormulasOpt = False,
    store: StoreOpt = None,
) -> None:
    """Segment a population by its demographics and show which segments are your customers."""
    from segwise.config import load_config
    from segwise.jobs import PopulationResult, run_population
    from segwise.store import check_output

    main, *side = PopulationResult.output_paths(output)
    check_output(main, None, side=[*side, *([output / "report.html"] if report else [])],
                 inputs=[population, customers, dictionary, config])
    if k is not None:
        refuse_given(ctx, dict.fromkeys(("k_min", "k_max"), (
            "with --k: it bounds the sweep that chooses k, and --k skips it. Fix: leave out "
            "--k to sweep, or leave out the sweep's bounds")))
    cfg = load_config(config, memory_limit=memory_limit, kind="people")
    changes: dict[str, Any] = {
        "exclude": _csv(exclude) or None, "k_min": k_min, "k_max": k_max,
        "pca_variance": pca_variance, "top_n": top_n, "base_rate": base_rate,
        "random_state": seed,
    }
    settings = cfg.section("people")
    settings = dataclasses.replace(settings, **{k: v for k, v in changes.items()
                                                if v is not None})
    cfg = dataclasses.replace(cfg, sections={**cfg.sections, "people": settings})
    with progress("Starting") as say:
        def step(name: str) -> None:
            say(_STEPS.get(name, name))

        result = run_population(population, customers, dictionary=dictionary, config=cfg,
                                n_clusters=k, progress=step)
        written = result.write(output, keep_formulas=keep_formulas)
        if report:
            from segwise.report import write_report

            written.append(write_report(result, output / "report.html",
                                        extras=result.report_extras(), source=population.name,
                                        title="Population and customers", progress=step))
    print_comparison(result)
    for path in written:
        console.print(f"wrote {path}")
    save_run(store, result.run_record)

