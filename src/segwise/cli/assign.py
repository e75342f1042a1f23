"""``segwise assigner train`` and ``segwise assign``: segments for new customers."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from segwise.cli._app import (
    JobsOpt,
    KeepFormulasOpt,
    StoreOpt,
    app,
    check_keep_formulas,
    console,
    handle_errors,
    new_app,
    notice,
    notice_quarantine,
    progress,
    read_day,
    refuse_given,
    save_run,
)

if TYPE_CHECKING:
    from segwise.predict import AssignerReport

assigner_app = new_app(
    help="Train a classifier that puts new customers into a segment from their first orders.",
)
#: Longest span in days any day-count option takes (ten years).
MAX_DAYS = 3650
app.add_typer(assigner_app, name="assigner")


class ModelChoice(StrEnum):
    """Classifiers the CLI offers."""

    grid = "grid"
    vote = "vote"
    hgb = "hgb"
    random_forest = "random_forest"
    logistic = "logistic"


class LabelChoice(StrEnum):
    """Where the training labels come from."""

    rfm = "rfm"
    cluster = "cluster"


class LabelDate(StrEnum):
    """When the RFM segment that is the label is taken."""

    horizon = "horizon"
    full_history = "full-history"


class ClassWeight(StrEnum):
    """Class weighting of every model."""

    sqrt_balanced = "sqrt-balanced"
    balanced = "balanced"
    none = "none"


class Calibration(StrEnum):
    """Probability calibration of the chosen model."""

    none = "none"
    isotonic = "isotonic"
    sigmoid = "sigmoid"


ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML config (columns, read, cleaning, ...).")
]


def print_report(report: AssignerReport, window: str) -> None:
    """Print the comparison table, per-segment scores, confusion matrix and importance."""
    console.print(
        f"Window: {window}. Cut-off {report.cutoff.date()}: {report.n_train:,} customers "
        f"acquired before train, {report.n_test:,} acquired on or after are the new customers."
    )
    if report.merged:
        console.print(f"Too rare to learn, merged into Other: {', '.join(report.merged)}")
    if not report.validation.empty:
        val = Table(title="Validation on the training customers only (rolling time folds, "
                    "macro-F1)", title_justify="left")
        folds = [c for c in report.validation.columns if c.startswith("fold_")]
        val.add_column("Model")
        for col in (*folds, "mean", "pooled", "accuracy"):
            val.add_column(col.replace("_", " "), justify="right")
        for name, row in report.validation.iterrows():
            val.add_row(str(name), *(f"{row[c]:.3f}" for c in folds),
                        f"{row['mean_macro_f1']:.3f}", f"{row['pooled_macro_f1']:.3f}",
                        f"{row['accuracy']:.3f}")
        console.print(val)
    if report.caveat is not None:
        notice("not meaningful", "the held-out evaluation on new customers says nothing "
               f"about the model: {report.caveat}.")
        return
    table = Table(title="Held-out evaluation on new customers", title_justify="left")
    for col in ("Model", "Accuracy", "Macro-F1", "Log loss"):
        table.add_column(col, justify="left" if col == "Model" else "right")
    for name, row in report.table.iterrows():
        ll = "" if row["log_loss"] != row["log_loss"] else f"{row['log_loss']:.3f}"
        table.add_row(str(name), f"{row['accuracy']:.3f}", f"{row['macro_f1']:.3f}", ll)
    console.print(table)
    for name, gap in report.gaps.iterrows():
        console.print(
            f"{report.chosen} vs {str(name).removeprefix('baseline: ')}: macro-F1 "
            f"{gap['gap']:+.3f} (95 % paired-bootstrap interval {gap['lower']:+.3f} "
            f"to {gap['upper']:+.3f})"
        )
    seg = Table(title=f"Per segment ({report.chosen})", title_justify="left")
    for col in ("Segment", "Precision", "Recall", "F1", "Support"):
        seg.add_column(col, justify="left" if col == "Segment" else "right")
    for name, row in report.per_segment.iterrows():
        seg.add_row(str(name), f"{row['precision']:.2f}", f"{row['recall']:.2f}",
                    f"{row['f1']:.2f}", f"{int(row['support'])}")
    console.print(seg)
    conf = Table(title="Confusion matrix (rows: true, columns: predicted)", title_justify="left")
    conf.add_column("")
    short = [str(c)[:10] for c in report.confusion.columns]
    for c in short:
        conf.add_column(c, justify="right")
    for name, row in report.confusion.iterrows():
        conf.add_row(str(name), *(str(int(v)) for v in row))
    console.print(conf)
    imp = Table(title="Permutation importance (drop in macro-F1), top 10", title_justify="left")
    for col in ("Feature", "Mean", "SD"):
        imp.add_column(col, justify="left" if col == "Feature" else "right")
    for name, row in report.importance.head(10).iterrows():
        imp.add_row(str(name), f"{row['importance_mean']:.4f}", f"{row['importance_sd']:.4f}")
    console.print(imp)


@assigner_app.command("train")
@handle_errors
def train(
    ctx: typer.Context,
    input: Annotated[Path, typer.Argument(help="Order lines of mature customers.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Model file to write (.skops); "
                                                         "evaluation only when omitted.")
    ] = None,
    orders: Annotated[int | None, typer.Option("--orders", "-n", min=1, max=1000,
                                               help="Use the first N orders.")] = 3,
    days: Annotated[int | None, typer.Option("--days", "-d", min=1, max=MAX_DAYS,
                                             help="Use the first D days.")] = None,
    cutoff: Annotated[
        dt.date | None,
        typer.Option("--cutoff", parser=read_day, metavar="YYYY-MM-DD",
                     help="Acquisition cut-off (YYYY-MM-DD); chosen from --test-size if omitted."),
    ] = None,
    test_size: Annotated[int, typer.Option("--test-size", min=1, max=10_000_000,
                                           help="New customers to test on.")] = 300,
    min_history: Annotated[int, typer.Option(
        "--min-history", min=0, max=MAX_DAYS,
        help="Days of history after the first purchase a customer needs "
        "(full-history and cluster labels).")] = 90,
    model: Annotated[ModelChoice, typer.Option(
        "--model", help="Classifier (vote: mean of hgb, random forest and logistic; grid: "
        "the vote learning the segments' R x FM score cells).")] = ModelChoice.grid,
    class_weight: Annotated[ClassWeight, typer.Option(
        "--class-weight", help="Weight rare segments up: by the square root of the inverse "
        "frequency, by the inverse frequency, or not.")] = ClassWeight.sqrt_balanced,
    smote: Annotated[bool, typer.Option("--smote/--no-smote",
                                        help="Oversample rare segments with SMOTE.")] = False,
    calibration: Annotated[Calibration, typer.Option(
        "--calibration", help="Calibrate the chosen model's probabilities.")] = Calibration.none,
    compare: Annotated[bool, typer.Option("--compare/--no-compare",
                                          help="Also evaluate the other models.")] = True,
    horizon: Annotated[int, typer.Option("--horizon", min=0, max=MAX_DAYS,
                                         help="Days after the window the segment is for "
                                         "(label date and default).")] = 90,
    labels: Annotated[LabelChoice, typer.Option(
        "--labels", help="Training labels: rule-based RFM segments or learned clusters.")] = (
        LabelChoice.rfm
    ),
    label_date: Annotated[LabelDate | None, typer.Option(
        "--label-date", help="When the RFM segment that is the label is taken: --horizon "
        "days after the window (default for rfm) or from the full history (always for "
        "cluster).")] = None,
    categories: Annotated[bool, typer.Option(
        "--categories/--no-categories",
        help="Add the window's spend share per learned product category.")] = False,
    validate: Annotated[bool, typer.Option(
        "--validate/--no-validate",
        help="Also score the models on rolling time folds of the training customers "
        "(how the default was chosen; slower).")] = False,
    jobs: JobsOpt = -1,
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Train on known customers, evaluate on customers acquired after a cut-off, save."""
    from segwise.config import load_config
    from segwise.jobs import run_rfm
    from segwise.predict import EarlyWindow, cluster_labels, default_candidates, train_assigner
    from segwise.store import check_output

    if output is not None:
        check_output(output, (".skops",), inputs=[input, config])
    reasons = {}
    if cutoff is not None:
        reasons["test_size"] = ("with --cutoff: the customers acquired on or after the "
                                "cut-off are the test. Fix: leave out --test-size, or --cutoff "
                                "to have one chosen for that many new customers")
    if labels is LabelChoice.cluster:
        reasons["label_date"] = ("with --labels cluster: cluster labels are always taken "
                                 "from the full history. Fix: leave out --label-date")
    elif label_date is not LabelDate.full_history:
        reasons["min_history"] = ("with --labels rfm and --label-date horizon (the default): "
                                  "the label is the segment --horizon days after the window. "
                                  "Fix: add --label-date full-history, or leave out "
                                  "--min-history")
    refuse_given(ctx, reasons)

    window = EarlyWindow(n_orders=orders, n_days=days)
    steps = {"features": "Computing early features", "evaluate": "Evaluating on new customers",
             "validate": "Validating on the training customers' time folds",
             "fit": "Fitting the final model"}
    with progress("Reading and cleaning") as say:
        result = run_rfm(input, config=load_config(config))
        target = None
        label_when = None if label_date is None else label_date.value.replace("-", "_")
        if labels is LabelChoice.cluster:
            say("Learning cluster segments for the labels")
            target = cluster_labels(result)
        trained, report, _ = train_assigner(
            result,
            window=window,
            labels=target,
            label=label_when,
            label_name=labels.value,
            cutoff=cutoff,
            n_test=test_size,
            min_history_days=min_history,
            candidates=default_candidates(
                model.value, smote=smote, compare=compare,
                class_weight=None if class_weight is ClassWeight.none
                else class_weight.value.replace("-", "_"),
                calibration=None if calibration is Calibration.none else calibration.value,
            ),
            horizon_days=horizon,
            # Without a model to keep (a file, or a store that serves it), the model fitted
            # for the evaluation is enough.
            refit=output is not None or store is not None,
            product_categories=categories,
            validate=validate,
            n_jobs=jobs,
            progress=lambda step: say(steps[step] if step in steps else str(step)),
        )
    what = (f"RFM segment {horizon} days after the window" if trained.label == "horizon"
            else f"{labels.value} segment at the reference date")
    print_report(report, f"{window.describe()}; label: {what}")
    if output is not None:
        path = trained.save(output)
        console.print(f"wrote {path}", highlight=False)
    if store is not None:
        from segwise.jobs import model_record

        save_run(store, lambda: model_record(trained, result, command="assigner train"))


@app.command()
@handle_errors
def assign(
    ctx: typer.Context,
    model: Annotated[Path, typer.Argument(help="Model file from `segwise assigner train`.")],
    input: Annotated[Path, typer.Argument(help="Order lines of the new customers.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Assignments to write "
                                                                "(.parquet or .csv).")],
    horizon: Annotated[int | None, typer.Option(
        "--horizon", min=0, max=MAX_DAYS, help="Days after the window the segment is for "
        "(the model's; only full-history models take another).")] = None,
    score_incomplete: Annotated[bool, typer.Option(
        "--score-incomplete/--skip-incomplete",
        help="Also score customers whose window is not complete yet.")] = False,
    config: ConfigOpt = None,
    keep_formulas: KeepFormulasOpt = False,
    store: StoreOpt = None,
) -> None:
    """Assign new customers to a segment, with a probability per segment."""
    from segwise.clean import clean_transactions
    from segwise.config import load_config
    from segwise.io import load_transactions
    from segwise.predict import TrainedAssigner
    from segwise.store import TABLE_SUFFIXES, check_output, write_table

    check_output(output, TABLE_SUFFIXES, inputs=[model, input, config])
    check_keep_formulas(ctx, output)
    trained = TrainedAssigner.load(model)
    cfg = load_config(config)
    with progress("Reading and cleaning") as say:
        tx = load_transactions(input, columns=cfg.columns, read=cfg.read,
                               memory_limit=cfg.memory_limit)
        cleaned = clean_transactions(tx, cfg.cleaning)
        kept = cleaned.kept
        # Customers whose every line the cleaning removed (returns, cancellations) have no
        # purchase to judge: they are not in the assignments, and are counted here.
        known = tx.table.filter(tx.table.customer_id.notnull())
        n_seen = int(known.customer_id.nunique().to_pyarrow().as_py())
        say("Assigning segments")
        out = trained.assign(kept, horizon_days=horizon,
                             incomplete="score" if score_incomplete else "skip")
        audit = cleaned.audit().set_index("step")["rows"]
    write_table(out, output, keep_formulas=keep_formulas)
    notice_quarantine(tx.quarantine_table, tx.n_input)
    w = trained.window
    n_over = int((out["window_complete"] & (out["orders_used"] == w.n_orders)).sum()) if (
        w.n_orders) else 0
    n_inc = int((~out["window_complete"]).sum())
    console.print(f"{len(out):,} customers; window: {w.describe()}; segment for "
                  f"{horizon if horizon is not None else trained.horizon_days} days after it.")
    if w.n_orders:
        console.print(f"Customers with more than {w.n_orders} orders are judged on their first "
                      f"{w.n_orders} only ({n_over:,} reached {w.n_orders}).")
    # Every line is accounted for: kept, or left out for a reason (lines without a
    # customer id are no customer of the new file).
    gone = ", ".join(f"{int(n):,} {step.replace('_', ' ')}" for step, n in audit.items()
                     if step != "kept" and n)
    console.print(f"Order lines: {tx.n_input:,} read, {int(audit.get('kept', 0)):,} kept"
                  + (f"; left out: {gone}." if gone else "."), highlight=False)
    n_gone = max(n_seen - len(out), 0)
    unassigned = n_gone + (0 if score_incomplete else n_inc)
    console.print(f"Left unassigned: {unassigned:,} of {n_seen:,} new customers "
                  f"({unassigned / max(n_seen, 1):.1%}).", highlight=False)
    if n_gone:
        console.print(f"  {n_gone:,} have no purchase left after cleaning (returns or "
                      "cancellations only): nothing to judge them on.", highlight=False)
    if n_inc:
        console.print(f"  {n_inc:,} have an incomplete window (fewer orders or days than "
                      f"{w.describe()}): "
                      + ("scored anyway (less reliable)." if score_incomplete
                         else "left unassigned (use --score-incomplete to score them)."),
                      highlight=False)
    counts = out["segment"].value_counts()
    for seg, n in counts.items():
        console.print(f"  {seg}: {n:,}", highlight=False)
    console.print(f"wrote {output}", highlight=False)
    if store is not None:
        from segwise.jobs import assignment_record

        save_run(store, lambda: assignment_record(out, source=input, model=model))
