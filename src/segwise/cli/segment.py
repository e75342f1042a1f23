"""``segwise segment``: learned behavioural segments, with the choice of k explained."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from segwise.cli._app import (
    AsOfOpt,
    ConfigOpt,
    EngineChoice,
    EngineOpt,
    JobsOpt,
    KeepFormulasOpt,
    MasterOpt,
    MemoryOpt,
    StoreOpt,
    app,
    console,
    handle_errors,
    notice,
    print_actions,
    progress,
    refuse_given,
    run_with_progress,
    save_run,
)

if TYPE_CHECKING:
    import pandas as pd

    from segwise.segment import Segmentation

#: Largest number of segments the command takes (more would not be segments a business uses).
MAX_K = 100
#: Largest --embed-samples: t-SNE and UMAP of a million customers take hours on one thread.
MAX_EMBED_FIT = 1_000_000



class MissingChoice(StrEnum):
    """What ``--missing`` does with a row whose feature is missing."""

    drop = "drop"
    median = "median"
    refuse = "refuse"


_STEPS = {
    "sweep": "Sweeping k and scoring every criterion",
    "fit": "Fitting the final model",
    "compare": "Comparing models at the chosen k",
    "profile": "Profiling and naming segments",
    "embed": "Computing 2-D coordinates",
}


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _feature_names(values: list[str], columns: list[str]) -> list[str]:
    """Return the columns ``--features`` names, each option given once or more.

    A value that is a column of the table as it is names that column (``Spend, total``);
    else it lists names separated by commas, a name with a comma in double quotes
    (``"Spend, total",Income``), as a CSV row. Splitting on every comma made a column
    whose header has one impossible to name.
    """
    import csv

    names: list[str] = []
    for value in values:
        if value in columns:
            names.append(value)
            continue
        for row in csv.reader([value], skipinitialspace=True):
            names += [v.strip() for v in row if v.strip()]
    return names


def _fmt(value: object, spec: str) -> str:
    if isinstance(value, float) and value != value:  # NaN
        return "-"
    if isinstance(value, list):
        return "/".join(str(v) for v in value)
    return format(value, spec) if spec else str(value)


def _table(frame: pd.DataFrame, title: str, columns: dict[str, tuple[str, str]]) -> Table:
    """Build a rich table of the given columns: ``{column: (header, format spec)}``."""
    table = Table(title=title, title_justify="left")
    for header, spec in columns.values():
        table.add_column(header, justify="right" if spec else "left")
    for _, row in frame.iterrows():
        table.add_row(*(_fmt(row[c], spec) for c, (_, spec) in columns.items()))
    return table


#: Most outcome columns (each segment's share of true) the profiles table shows.
_SHOWN_OUTCOMES = 3


def print_segmentation(result: Segmentation) -> None:
    """Print the k sweep and its rationale, the model comparison, profiles and cross-tab."""
    scores = {"silhouette": ("Silhouette", ".3f"), "calinski_harabasz": ("CH", ",.0f"),
              "davies_bouldin": ("DB", ".3f"), "stability": ("Stability", ".2f")}
    if result.sweep is not None:
        sw = result.sweep
        cols = {"k": ("k", "d"), **scores, "inertia": ("Inertia", ",.0f"),
                "explained": ("Explained", ".0%")}
        if sw.table["bic"].notna().any():
            cols["bic"] = ("BIC", ",.0f")
        cols["min_share"] = ("Smallest", ".1%")
        frame = sw.table.assign(k=[f"{k}*" if k == sw.recommended_k else str(k)
                                   for k in sw.table["k"]])
        cols["k"] = ("k", "")
        console.print(_table(frame, f"Choosing k ({sw.algorithm})", cols))
        console.print(sw.rationale, highlight=False)
        for note in sw.warnings:
            notice("warning", note)
    if result.comparison is not None:
        cols = {"model": ("Model", ""), "k": ("k", "d"), "sizes": ("Sizes", ""),
                "noise_share": ("Noise", ".1%"), **scores, "fit_seconds": ("Fit s", ".2f")}
        console.print(_table(result.comparison, "Model comparison", cols))
    p = result.profiles
    cols = {"segment": ("#", "d"), "name": ("Name", ""), "customers": ("Customers", ","),
            "share": ("Share", ".1%")}
    if "revenue_share" in p.columns:
        cols["revenue_share"] = ("Revenue", ".1%")
    # Outcomes (true/false columns not clustered on) stay in a narrow table: they are what
    # a segment is compared by.
    headers = {h for h, _ in cols.values()}
    cols.update({f"{o}_rate": (o if o not in headers else f"{o} (true)", ".1%")
                 for o in result.outcomes[:_SHOWN_OUTCOMES]})
    # So are categories (text columns not clustered on): each segment's most common value
    # and its share, "Returning_Visitor (95%)".
    shown = result.categories[:_SHOWN_OUTCOMES]
    p = p.assign(**{f"{c}_shown": [
        f"{top} ({share:.0%})" if isinstance(top, str) else "-"
        for top, share in zip(p[f"{c}_top"], p[f"{c}_top_share"], strict=True)]
        for c in shown})
    headers = {h for h, _ in cols.values()}
    categories = {f"{c}_shown": (c if c not in headers else f"{c} (most common)", "")
                  for c in shown}
    medians = {f"{f}_median": (f"Median {f}", ",.0f") for f in result.features}
    apart = {"distinguishing": ("Sets it apart", "")}
    # A column a feature squeezes names and numbers to a letter or two ("Hi…"): the
    # medians go, then the categories; the profiles file (written beside the output)
    # keeps them. "Sets it apart" is words: it wraps to the room left.
    layouts = [({**categories, **medians}, None),
               (categories, "Each feature's median is in the profiles file")]
    if shown:
        layouts.append(({}, f"Each feature's median and the most common {', '.join(shown)} "
                            "are in the profiles file"))
    wide = console.options.update_width(10**6)
    words = console.measure(_table(p, "", apart), options=wide).minimum
    for extra, caption in layouts:
        table = _table(p, "Segment profiles", {**cols, **extra, **apart})
        if caption is not None:
            table.caption = f"{caption} (too wide to show here)."
        if console.measure(_table(p, "", {**cols, **extra}), options=wide).maximum \
                + words <= console.width:
            break
    console.print(table)
    print_actions(zip(p["name"], p["action"], strict=True))
    if result.crosstab is not None:
        # Rule-based segments as rows: there are more of them than learned segments.
        ct = result.crosstab.T.reset_index()
        ct.columns = [str(c) for c in ct.columns]
        cols = {c: (c, "" if i == 0 else ",") for i, c in enumerate(ct.columns)}
        console.print(_table(ct, "Rule-based RFM segments x learned segments", cols))


def _notice_missing(result: Segmentation, listed: Path | None) -> None:
    """Say how many rows were left out for a missing feature, or how many values filled."""
    left = result.left_out
    if len(left):
        total = len(result.assignments) + len(left)
        first = left.iloc[0]
        where = (f"listed in {listed}" if listed is not None
                 else "--output lists them beside the assignments")
        notice("note", f"{len(left):,} of {total:,} rows have a missing or infinite feature "
                       f"and are left out (first: {left.columns[0]} {first.iloc[0]}, "
                       f"{first['reason']}); {where}. Fix: fill them in the file, or "
                       "--missing median to fill them with the median")
    if result.imputed:
        impute = result.segmenter.preprocessor_.named_steps["impute"]
        median = dict(zip(result.features, impute.statistics_, strict=True))
        shown = ", ".join(f"{f} {n:,} (median {median[f]:,.6g})"
                          for f, n in result.imputed.items())
        notice("note", f"missing values filled with the median inside the model, which fills "
                       f"new rows the same way: {shown}")


def _refuse_unused(ctx: typer.Context, *, k: int | None, customers: bool, engine: EngineChoice,
                   embed: list[str], output: Path | None, model: str,
                   compare: list[str]) -> None:
    """Refuse the options given that would do nothing with the others given."""
    from segwise.segment import DENSITY_ALGORITHMS

    no_sweep = ("with --k: it steers the sweep that chooses k, and --k skips it. Fix: leave "
                "out --k to sweep, or leave out the sweep's options")
    reasons = dict.fromkeys(("k_min", "k_max", "min_share"), no_sweep) if k is not None else {}
    if model.strip().lower() in DENSITY_ALGORITHMS and not compare:
        reasons.update(dict.fromkeys(("k", "k_min", "k_max", "min_share"), (
            f"with --model {model} and --compare '': a density model finds its own number "
            "of segments, and no model is compared at a k. Fix: leave it out, or compare "
            "models that take k (--compare kmeans,gmm)")))
    if customers:
        # A ready entity table is read whole into memory and clustered there: the options
        # of reading and cleaning order lines have nothing to act on.
        reasons["as_of"] = ("with --customers: the table's features were computed as of its "
                            "own date. Fix: compute the table again as of that date (segwise "
                            "rfm --as-of ...), or give the order lines without --customers")
        lines = ("with --customers: {what} Fix: leave it out, or give the order lines "
                 "without --customers")
        if engine is not EngineChoice.duckdb:
            reasons["engine"] = lines.format(what="an entity table is read into memory and "
                                                  "clustered there; Spark reads order lines.")
        reasons["spark_master"] = lines.format(what="Spark reads order lines, not entity "
                                                    "tables.")
        reasons["memory_limit"] = lines.format(what="it caps DuckDB's work on order lines; "
                                                    "an entity table is read whole into "
                                                    "memory.")
    else:
        reasons["missing"] = ("without --customers: features computed from order lines are "
                              "never missing. Fix: leave it out, or give an entity table "
                              "with --customers")
        reasons["id_col"] = ("without --customers: order lines name their customers in their "
                         "customer column ([columns] customer_id in the config). Fix: leave "
                         "it out, or give an entity table with --customers")
    if not embed:
        reasons["embed_samples"] = ("with --embed '': no embedding is computed. Fix: name "
                                    "the embeddings with --embed, or leave out "
                                    "--embed-samples")
    if output is None:
        reasons["keep_formulas"] = ("without --output: nothing is written. Fix: add --output "
                                    "segments.csv, or leave out --keep-formulas")
    refuse_given(ctx, reasons)


@app.command()
@handle_errors
def segment(
    ctx: typer.Context,
    input: Annotated[Path, typer.Argument(help="Order lines (any format `segwise rfm` reads), "
                                               "or with --customers a per-customer table.")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Assignments to write (.parquet or .csv); profiles, sweep, "
                               "model comparison and cross-tab go beside it.")] = None,
    model: Annotated[str, typer.Option(
        "--model", help="Algorithm of the final segments: kmeans, minibatch_kmeans, gmm, "
                        "ward, hdbscan, dbscan, som.")] = "kmeans",
    compare: Annotated[str, typer.Option(
        "--compare", help="Models compared side by side at the chosen k ('' for none).")
    ] = "kmeans,gmm,ward,hdbscan,som",
    k: Annotated[int | None, typer.Option(
        "--k", min=2, max=MAX_K, help="Number of segments; swept and recommended when "
                                      "omitted.")] = None,
    k_min: Annotated[int, typer.Option("--k-min", min=2, max=MAX_K,
                                       help="Smallest k of the sweep.")] = 2,
    k_max: Annotated[int, typer.Option("--k-max", min=2, max=MAX_K,
                                       help="Largest k of the sweep.")] = 10,
    features: Annotated[list[str] | None, typer.Option(
        "--features", help="Feature columns to cluster, comma-separated (default: the "
                           "table's clustered features, recency_days,frequency,monetary "
                           "for RFM). A column whose name has a comma: the name as it is, "
                           "in double quotes among others ('\"Spend, total\",Income'), or "
                           "one --features per column.")
    ] = None,
    min_share: Annotated[float, typer.Option(
        "--min-share", min=0.0, max=0.5,
        help="Smallest acceptable segment (share of customers, 0 to 0.5).")] = 0.02,
    embed: Annotated[str, typer.Option(
        "--embed", help="2-D embeddings stored with the assignments: umap,tsne ('' for none).")
    ] = "umap,tsne",
    embed_samples: Annotated[int | None, typer.Option(
        "--embed-samples", min=3, max=MAX_EMBED_FIT,
        help="Customers the embeddings are fitted on (default 2,000, at most 1,000,000); "
             "the others are placed by their nearest fitted neighbours.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1,
                                      help="Random seed (same seed, same labels).")] = 0,
    customers: Annotated[bool, typer.Option(
        "--customers", help="INPUT is already an entity table: one row per customer, user, "
                            "person, ... (Parquet, CSV/TSV(.gz), Excel, JSON lines, SQLite "
                            "or DuckDB), such as any segwise command writes.")
    ] = False,
    id_col: Annotated[str | None, typer.Option(
        "--id", help="With --customers, the id column (default: [columns] person_id of "
                     "the config, else one named like an id, else the first column when it "
                     "holds distinct text or whole numbers, else row numbers).")
    ] = None,
    missing: Annotated[MissingChoice | None, typer.Option(
        "--missing", help="With --customers, rows with a missing feature: drop (left out, "
                          "counted, listed in <stem>.left_out.csv), median (filled inside "
                          "the model) or refuse. Default: [segment] missing, else drop.")
    ] = None,
    jobs: JobsOpt = -1,
    config: ConfigOpt = None,
    as_of: AsOfOpt = None,
    engine: EngineOpt = EngineChoice.duckdb,
    spark_master: MasterOpt = None,
    memory_limit: MemoryOpt = None,
    keep_formulas: KeepFormulasOpt = False,
    store: StoreOpt = None,
) -> None:
    """Learn segments of any entity table: sweep k, compare models, profile, name, embed."""
    from segwise.exceptions import UsageError
    from segwise.features import EntityTable
    from segwise.jobs import run_record
    from segwise.segment import (
        MAX_EMBED_SAMPLES,
        Segmentation,
        SegmentSettings,
        segment_customers,
    )
    from segwise.store import TABLE_SUFFIXES, check_output

    if k is None and k_min > k_max:
        raise UsageError(f"--k-min {k_min} is above --k-max {k_max}. Fix: swap them")
    _refuse_unused(ctx, k=k, customers=customers, engine=engine, embed=_csv(embed),
                   output=output, model=model, compare=_csv(compare))
    if output is not None:
        main, *side = Segmentation.output_paths(output)
        check_output(main, TABLE_SUFFIXES, side=side, inputs=[input, config])
    job_result = None
    policy = SegmentSettings().missing
    if customers:
        from segwise.config import load_config

        settings = load_config(config) if config else None
        policy = (missing.value if missing is not None else
                  settings.section("segment").missing if settings else policy)
        if id_col is None and settings is not None:
            # A person-level table's id, as `segwise population` reads one ([columns]).
            id_col = settings.columns.get("person_id")
        table = EntityTable.read(input, read=settings.read if settings else None,
                                 id_col=id_col)
        quarantined = table.quarantine_note()
        for note in [*([f"{quarantined}."] if quarantined else []), *table.notes]:
            notice("note", note)
    else:
        job_result = run_with_progress(
            input, config=config, as_of=as_of, engine=engine, spark_master=spark_master,
            memory_limit=memory_limit,
        )
        table = job_result.entities
    with progress("Starting") as say:

        def show(step: str) -> None:
            name, _, part = step.partition(": ")
            say(_STEPS.get(name, name) + (f": {part}" if part else ""))

        result = segment_customers(
            table, features=_feature_names(features or [], table.table.column_names) or None,
            n_clusters=k,
            k_values=range(k_min, k_max + 1),
            algorithm=model, compare=_csv(compare) or None, embed=_csv(embed),
            embed_max_samples=MAX_EMBED_SAMPLES if embed_samples is None else embed_samples,
            min_share=min_share, random_state=seed, missing=policy, n_jobs=jobs,
            progress=show,
        )
    print_segmentation(result)
    _notice_missing(result, None if output is None else Segmentation.output_paths(output)[-1])
    if output is not None:
        for path in result.write(output, keep_formulas=keep_formulas):
            console.print(f"wrote {path}", highlight=False)
    save_run(store, lambda: run_record(job_result, command="segment", entities=table,
                                       segmentation=result))
