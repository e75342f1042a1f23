"""``segwise propensity train`` and ``score``: who will respond to a campaign."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from segwise.cli._app import (
    ConfigOpt,
    KeepFormulasOpt,
    MemoryOpt,
    StoreOpt,
    app,
    check_keep_formulas,
    console,
    handle_errors,
    new_app,
    notice,
    print_audit,
    progress,
    refuse_given,
    save_run,
)
from segwise.cli.population import PeopleArg, _csv

if TYPE_CHECKING:
    import pandas as pd

    from segwise.jobs import PropensityResult

propensity_app = new_app(
    help="Rank people by their likelihood to respond to a campaign, from their attributes.",
)
app.add_typer(propensity_app, name="propensity")

_STEPS = {
    "load": "Reading people",
    "clean": "Typing attributes by the dictionary",
    "features": "Collecting people",
    "validate": "Comparing models on folds of the training table",
    "fit": "Fitting the default model on every row",
    "reasons": "Working out reasons",
    "score": "Scoring",
    "charts": "Drawing charts",
    "render": "Writing the report",
}

#: Largest mailing size the options accept.
MAX_PEOPLE = 100_000_000

DictionaryOpt = Annotated[Path | None, typer.Option(
    "--dictionary", "-d", help="Feature dictionary: segwise CSV/TOML (docs/people.md) or a "
                               "CoIL dictionary.txt; types are inferred without one.")]


class Missing(StrEnum):
    """What a missing model column means when scoring."""

    error = "error"
    missing = "missing"


def print_validation(result: PropensityResult) -> None:
    """Print the comparison, the rule and its outcome, importance and the segments."""
    v = result.trained.validation
    assert v is not None  # noqa: S101 - set by training
    share = v.settings["mail_share"]
    cap, lift = f"captured_{share * 100:g}", f"lift_{share * 100:g}"
    sampled = v.settings.get("sampled_from")
    title = (f"Cross-validated on {v.settings['folds']} folds of the training table "
             f"({v.settings['rows']:,} people, {v.settings['responders']:,} responders"
             + (f", a stratified sample of {sampled:,}" if sampled else "") + ")")
    table = Table(title=title, title_justify="left")
    for header in ("Model", "ROC AUC", "Avg precision", "Brier", f"Top {share:.0%}",
                   "Lift", f"Top {v.settings['top_n']:,}"):
        table.add_column(header, justify="left" if header == "Model" else "right")
    for name, row in v.summary.iterrows():
        label = f"{name} (default)" if name == v.choice.chosen else str(name)
        table.add_row(label, f"{row['roc_auc']:.3f}", f"{row['average_precision']:.3f}",
                      f"{row['brier']:.3f}", f"{row[cap]:.1%} ± {row[f'{cap}_sd']:.1%}"
                      if row["role"] != "baseline" or row.get(f"{cap}_sd") == row.get(
                          f"{cap}_sd") else f"{row[cap]:.1%}", f"{row[lift]:.2f}",
                      f"{row['responders_top_n']:,.1f}")
    console.print(table)
    console.print(v.choice.text, highlight=False)
    if not v.importance.empty:
        imp = Table(title="Permutation importance on held-out folds (drop in average "
                          "precision), top 10", title_justify="left")
        for header in ("Attribute", "What", "Importance", "SD"):
            imp.add_column(header, justify="right" if header in ("Importance", "SD")
                           else "left")
        for row in v.importance.head(10).to_dict("records"):
            imp.add_row(row["attribute"], row["description"], f"{row['importance']:.4f}",
                        f"{row['sd']:.4f}")
        console.print(imp)
    print_audit(result.audit_table)


def print_encoding(encoding: pd.DataFrame, what: str) -> None:
    """Print one line per column that encoding could not fully use."""
    odd = encoding[encoding[["unseen_code", "not_a_number"]].fillna(0).gt(0).any(axis=1)
                   | (encoding["status"] != "used")]
    for row in odd.to_dict("records"):
        text = (f"{int(row['unseen_code']):,} undeclared code(s), "
                f"{int(row['not_a_number']):,} non-number(s), encoded as missing"
                if row["status"] == "used"
                else f"{row['status']}: {row['note']}")
        notice(f"{what}, {row['column']}", text)


@propensity_app.command("train")
@handle_errors
def train(
    ctx: typer.Context,
    table: PeopleArg,
    target: Annotated[str, typer.Option("--target", "-t", help="Column saying whether each "
                                                               "person responded.")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Model file to write (.skops); comparison only when "
                               "omitted.")] = None,
    dictionary: DictionaryOpt = None,
    positive: Annotated[str | None, typer.Option(
        "--positive", help="Target value meaning 'responded' (default: 1, true, yes or y "
                           "when the column holds such a pair).")] = None,
    exclude: Annotated[str, typer.Option(
        "--exclude", help="Attributes never used, comma-separated; shell patterns such as "
                          "'P*' match several.")] = "",
    models: Annotated[str, typer.Option(
        "--models", help="Candidates, comma-separated: logistic, naive_bayes, hgb, "
                         "xgboost, random_forest.")] = "",
    imbalance: Annotated[str, typer.Option(
        "--imbalance", help="Imbalance handlings compared, comma-separated: none, weights, "
                            "smote.")] = "",
    folds: Annotated[int, typer.Option("--folds", min=2, max=20,
                                       help="Stratified folds of the comparison.")] = 5,
    repeats: Annotated[int, typer.Option("--repeats", min=1, max=10,
                                         help="Times the folds are drawn.")] = 1,
    mail_share: Annotated[float, typer.Option(
        "--mail-share", min=0.001, max=0.999,
        help="Share of the list a campaign mails: the default is chosen on the responders "
             "captured there.")] = 0.2,
    top_n: Annotated[int | None, typer.Option(
        "--top-n", min=1, max=MAX_PEOPLE, help="Mailing size reported on the out-of-fold scores "
                               "(default: the mail share of the rows).")] = None,
    segments: Annotated[bool, typer.Option(
        "--segments/--no-segments", help="Compare the population segments as a baseline "
                                         "and as a feature ([people] settings).")] = True,
    k: Annotated[int | None, typer.Option(
        "--k", min=2, max=50, help="Number of population segments; swept when omitted.")
    ] = None,
    importance: Annotated[bool, typer.Option(
        "--importance/--no-importance", help="Permutation importance on held-out folds.")
    ] = True,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Also write the report (.html, .md or .json).")] = None,
    jobs: Annotated[int, typer.Option(
        "--jobs", "-j", min=-1, max=256, help="Processes comparing candidates at once "
                                              "(-1: one per core).")] = 1,
    config: ConfigOpt = None,
    memory_limit: MemoryOpt = None,
    store: StoreOpt = None,
) -> None:
    """Compare models on folds of TABLE only, choose the default by the rule, save it."""
    from segwise.config import load_config
    from segwise.jobs import run_propensity
    from segwise.report import report_format
    from segwise.store import check_output

    if output is not None:
        check_output(output, (".skops",), inputs=[table, dictionary, config])
    if report is not None:
        report_format(report)
        check_output(report, None, inputs=[table, dictionary, config])
    if not segments:
        refuse_given(ctx, {"k": "with --no-segments: no population segments are made. Fix: "
                                "leave out --no-segments, or --k"})
    cfg = load_config(config, memory_limit=memory_limit, kind="people")
    with progress("Starting") as say:
        def step(name: str) -> None:
            say(_STEPS.get(name, name))

        result = run_propensity(
            table, target, dictionary=dictionary, config=cfg, positive=positive,
            exclude=_csv(exclude), models=_csv(models) or None,
            imbalance=_csv(imbalance) or None, folds=folds, repeats=repeats,
            mail_share=mail_share, top_n=top_n, segments=segments, n_segments=k,
            importance=importance, n_jobs=jobs, progress=step)
        written = []
        if output is not None:
            written.append(result.trained.save(output))
        if report is not None:
            from segwise.report import write_report

            written.append(write_report(result, report, source=table.name,
                                        title="Who will respond", progress=step))
    print_validation(result)
    others = {v: n for v, n in result.target_values.items() if v != result.positive}
    if len(others) > 1:  # a pair is what the target should hold; say what else was read
        notice(f"{table.name}, {target}", f"{result.positive!r} read as responded "
               f"({result.target_values[result.positive]:,} rows), every other value as did "
               "not: " + ", ".join(f"{v!r} ({n:,})" for v, n in list(others.items())[:8])
               + (", ..." if len(others) > 8 else ""))
    print_encoding(result.encoding, table.name)
    for path in written:
        console.print(f"wrote {path}", highlight=False)
    save_run(store, result.run_record)


@propensity_app.command("score")
@handle_errors
def score(
    ctx: typer.Context,
    model: Annotated[Path, typer.Argument(help="Model file from `segwise propensity train`.")],
    table: PeopleArg,
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Scores to write (.parquet or .csv): person_id, score, rank, "
                               "reasons.")],
    top: Annotated[int | None, typer.Option(
        "--top", min=1, max=MAX_PEOPLE,
        help="Keep only the N highest-scored people (a mailing list).")
    ] = None,
    reasons: Annotated[int, typer.Option("--reasons", min=0, max=20,
                                         help="Reasons per person.")] = 3,
    dictionary: DictionaryOpt = None,
    missing_columns: Annotated[Missing, typer.Option(
        "--missing-columns", help="A column the model uses and the table lacks: an error, "
                                  "or missing for every row (imputed).")] = Missing.error,
    config: ConfigOpt = None,
    memory_limit: MemoryOpt = None,
    keep_formulas: KeepFormulasOpt = False,
    store: StoreOpt = None,
) -> None:
    """Score TABLE with a saved model: score, rank and the top reasons per person."""
    from segwise.config import load_config
    from segwise.jobs import score_propensity
    from segwise.store import TABLE_SUFFIXES, check_output, write_table

    check_output(output, TABLE_SUFFIXES, inputs=[model, table, dictionary, config])
    check_keep_formulas(ctx, output)
    cfg = load_config(config, memory_limit=memory_limit, kind="people")
    with progress("Starting") as say:
        result = score_propensity(model, table, config=cfg, dictionary=dictionary, top=top,
                                  reasons=reasons, missing_columns=missing_columns.value,
                                  progress=lambda step: say(_STEPS.get(step, step)))
        write_table(result.scores, output, keep_formulas=keep_formulas)
    meta = result.model.metadata
    console.print(f"{result.n_scored:,} people scored with {meta.get('model', 'the model')} "
                  f"(trained on {meta.get('source', '?')}, target {meta.get('target', '?')})"
                  + (f"; the top {len(result.scores):,} written." if top else "."),
                  highlight=False)
    print_encoding(result.encoding, table.name)
    print_audit(result.audit)
    console.print(f"wrote {output}", highlight=False)
    save_run(store, lambda: result.run_record(table))
