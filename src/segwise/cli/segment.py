"""``segwise segment``: learned behavioural segments, with the choice of k explained."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from segwise.cli._app import (
    AsOfOpt,
    ConfigOpt,
    EngineChoice,
    EngineOpt,
    MasterOpt,
    MemoryOpt,
    app,
    console,
    handle_errors,
    progress,
    run_with_progress,
)

if TYPE_CHECKING:
    import pandas as pd

    from segwise.segment import Segmentation

_STEPS = {
    "sweep": "Sweeping k and scoring every criterion",
    "fit": "Fitting the final model",
    "compare": "Comparing models at the chosen k",
    "profile": "Profiling and naming segments",
    "embed": "Computing 2-D coordinates",
}


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


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
            console.print(f"[yellow]warning:[/] {note}", highlight=False)
    if result.comparison is not None:
        cols = {"model": ("Model", ""), "k": ("k", "d"), "sizes": ("Sizes", ""),
                "noise_share": ("Noise", ".1%"), **scores, "fit_seconds": ("Fit s", ".2f")}
        console.print(_table(result.comparison, "Model comparison", cols))
    p = result.profiles
    cols = {"segment": ("#", "d"), "name": ("Name", ""), "customers": ("Customers", ","),
            "share": ("Share", ".1%")}
    if "revenue_share" in p.columns:
        cols["revenue_share"] = ("Revenue", ".1%")
    for f in result.features:
        cols[f"{f}_median"] = (f"Median {f}", ",.0f")
    cols["distinguishing"] = ("Sets it apart", "")
    console.print(_table(p, "Segment profiles", cols))
    console.print("[b]Recommended actions[/]")
    for row in p.itertuples(index=False):
        console.print(f"  [b]{row.name}[/]: {row.action}", highlight=False)
    if result.crosstab is not None:
        # Rule-based segments as rows: there are more of them than learned segments.
        ct = result.crosstab.T.reset_index()
        ct.columns = [str(c) for c in ct.columns]
        cols = {c: (c, "" if i == 0 else ",") for i, c in enumerate(ct.columns)}
        console.print(_table(ct, "Rule-based RFM segments x learned segments", cols))


@app.command()
@handle_errors
def segment(
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
        "--k", help="Number of segments; swept and recommended when omitted.")] = None,
    k_min: Annotated[int, typer.Option("--k-min", help="Smallest k of the sweep.")] = 2,
    k_max: Annotated[int, typer.Option("--k-max", help="Largest k of the sweep.")] = 10,
    features: Annotated[str, typer.Option(
        "--features", help="Comma-separated feature columns to cluster.")
    ] = "recency_days,frequency,monetary",
    min_share: Annotated[float, typer.Option(
        "--min-share", help="Smallest acceptable segment (share of customers).")] = 0.02,
    embed: Annotated[str, typer.Option(
        "--embed", help="2-D embeddings stored with the assignments: umap,tsne ('' for none).")
    ] = "umap,tsne",
    embed_samples: Annotated[int | None, typer.Option(
        "--embed-samples", help="Customers the embeddings are fitted on (default 2,000); "
                                "the others are placed by their nearest fitted neighbours.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same labels).")
    ] = 0,
    customers: Annotated[bool, typer.Option(
        "--customers", help="INPUT is already one row per customer (.parquet or .csv).")
    ] = False,
    config: ConfigOpt = None,
    as_of: AsOfOpt = None,
    engine: EngineOpt = EngineChoice.duckdb,
    spark_master: MasterOpt = None,
    memory_limit: MemoryOpt = None,
) -> None:
    """Learn customer segments: sweep k, compare models, profile, name and embed them."""
    import pandas as pd

    from segwise.exceptions import InputError

    if customers:
        suffix = input.suffix.lower()
        if suffix not in {".parquet", ".csv"}:
            raise InputError(f"{input}: a customer table must be .parquet or .csv")
        table = pd.read_parquet(input) if suffix == ".parquet" else pd.read_csv(
            input, dtype={"customer_id": str})
    else:

        table = run_with_progress(
            input, config=config, as_of=as_of, engine=engine, spark_master=spark_master,
            memory_limit=memory_limit,
        ).customers
    with progress("Loading the clustering libraries") as say:
        from segwise.segment import MAX_EMBED_SAMPLES, segment_customers

        def show(step: str) -> None:
            name, _, part = step.partition(": ")
            say(_STEPS.get(name, name) + (f": {part}" if part else ""))

        result = segment_customers(
            table, features=_csv(features), n_clusters=k, k_values=range(k_min, k_max + 1),
            algorithm=model, compare=_csv(compare) or None, embed=_csv(embed),
            embed_max_samples=MAX_EMBED_SAMPLES if embed_samples is None else embed_samples,
            min_share=min_share, random_state=seed, progress=show,
        )
    print_segmentation(result)
    if output is not None:
        for path in result.write(output):
            console.print(f"wrote {path}")
