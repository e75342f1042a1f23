"""Report sections of a response model: comparison, gains, calibration, drivers, reasons.

Registered for the ``people`` kind; each reads a :class:`~segwise.jobs.PropensityResult`
and shows nothing for other people reports. The figures are all cross-validated on the
training table: the comparison that chose the default (and the rule that did), the gains
and calibration of out-of-fold scores, permutation importance on held-out folds, the
population segments as a baseline and as a feature, and the reasons for the people ranked
highest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from segwise.predict import calibration_table, gains_table, metric_name
from segwise.report import Chart, Figure, ReportContext, Section, Table, register_sections
from segwise.report import charts as ch

if TYPE_CHECKING:
    from segwise.jobs import PropensityResult

__all__: list[str] = []


def _result(ctx: ReportContext) -> PropensityResult | None:
    from segwise.jobs import PropensityResult

    return ctx.result if isinstance(ctx.result, PropensityResult) else None


def _prepare(ctx: ReportContext) -> None:
    r = _result(ctx)
    if r is None:
        return
    v = r.trained.validation
    assert v is not None  # noqa: S101 - a trained result always has it
    chosen = v.summary.loc[v.choice.chosen]
    share = v.settings["mail_share"]
    ctx.figures[:0] = [
        Figure("people", "People", v.settings["rows"]),
        Figure("responders", "Responders", v.settings["responders"]),
        Figure("auc", "ROC AUC (cross-validated)", chosen["roc_auc"], "num2"),
        Figure("captured", f"Responders in the top {share:.0%}",
               chosen[metric_name("captured", share)], "pct"),
    ]
    ctx.subtitle = (f"Who will respond: {r.target} = {r.positive} · default model "
                    f"{v.choice.chosen}, chosen on {v.settings['folds']} folds of the "
                    "training table")
    ctx.overview_after += [
        ("Target", f"{r.target} (responded: {r.positive})"),
        ("Response rate", f"{v.settings['responders'] / max(v.settings['rows'], 1):.2%}"),
        ("Default model", v.choice.chosen),
        ("Attributes used", f"{len(r.trained.model.encoder_.attributes_):,}"),
    ]


def _comparison(ctx: ReportContext) -> Section | None:
    r = _result(ctx)
    if r is None:
        return None
    v = r.trained.validation
    assert v is not None  # noqa: S101
    share = v.settings["mail_share"]
    cap, lift = metric_name("captured", share), metric_name("lift", share)
    shown = v.summary.reset_index()[["name", "role", "roc_auc", "roc_auc_sd",
                                     "average_precision", "brier", cap, f"{cap}_sd", lift,
                                     "responders_top_n"]]
    shown.insert(2, "default", np.where(shown["name"] == v.choice.chosen, "default", ""))
    sampled = v.settings.get("sampled_from")
    note = (f" Validated on a stratified sample of {v.settings['rows']:,} of the "
            f"{sampled:,} rows." if sampled else "")
    table = Table(
        "propensity_comparison", "Cross-validated comparison", shown,
        formats={"roc_auc": "num2", "roc_auc_sd": "num2", "average_precision": "num2",
                 "brier": "num2", cap: "pct", f"{cap}_sd": "pct", lift: "num2",
                 "responders_top_n": "num1"},
        headers={"roc_auc": "ROC AUC", "roc_auc_sd": "SD", "average_precision":
                 "Average precision", "brier": "Brier", cap: f"Captured, top {share:.0%}",
                 f"{cap}_sd": "SD", lift: f"Lift, top {share:.0%}",
                 "responders_top_n": f"Responders, top {v.settings['top_n']:,}"},
        reading=v.choice.text + note)
    choice = v.choice.table.reset_index()
    rule = Table("propensity_choice", "How the default was chosen", choice,
                 formats={"mean": "pct", "gap": "pct", "se": "pct", "order": "int"},
                 headers={"mean": f"Captured, top {share:.0%} (mean)", "gap": "Short of best",
                          "se": "Standard error", "as_good": "As good as the best",
                          "order": "Simplicity"},
                 reading="Figures of the training table's validation folds only: the choice "
                         "was recorded with the model before any held-out table was scored.")
    return Section("propensity_comparison", "Which model, and why",
                   f"Every candidate fitted and scored on the same {v.settings['folds']} "
                   "stratified folds of the training table: ROC AUC, average precision and "
                   "the Brier score over all people, and what a mailing of the top "
                   f"{share:.0%} would reach.", [table, rule])


def _gains(ctx: ReportContext) -> Section | None:
    r = _result(ctx)
    if r is None:
        return None
    v = r.trained.validation
    assert v is not None  # noqa: S101
    y = v.oof["y"].to_numpy()
    names = list(dict.fromkeys([v.choice.chosen, v.choice.best,
                                *[n for n in v.summary.index if n.startswith("baseline: mail "
                                                                             "the")]]))
    fig = go.Figure()
    for i, name in enumerate(names):
        g = gains_table(y, v.oof[name].to_numpy())
        fig.add_scatter(x=g["mailed"] * 100, y=g["captured"] * 100, mode="lines", name=name,
                        line={"color": ch.PALETTE[i % len(ch.PALETTE)]},
                        hovertemplate="top %{x:.0f}%: %{y:.1f}% of responders<extra></extra>")
    fig.add_scatter(x=[0, 100], y=[0, 100], mode="lines", name="mail at random",
                    line={"color": "#999", "dash": "dot"})
    fig.update_xaxes(title_text="People mailed, highest scores first (%)")
    fig.update_yaxes(title_text="Responders reached (%)")
    share = v.settings["mail_share"]
    cap = v.summary.loc[v.choice.chosen, metric_name("captured", share)]
    gains_reading = (f"Mailing the top {share:.0%} by the default's out-of-fold score reaches "
                     f"{cap:.0%} of the responders, {cap / share:.1f} times what a random "
                     f"{share:.0%} would.")
    cal = calibration_table(y, v.oof[v.choice.chosen].to_numpy())
    cfig = go.Figure()
    cfig.add_scatter(x=cal["predicted"], y=cal["observed"], mode="lines+markers",
                     name=v.choice.chosen, line={"color": ch.PALETTE[0]},
                     customdata=cal[["people"]].to_numpy(),
                     hovertemplate="predicted %{x:.3f}, observed %{y:.3f} "
                                   "(%{customdata[0]} people)<extra></extra>")
    top = float(max(cal["predicted"].max(), cal["observed"].max()))
    cfig.add_scatter(x=[0, top], y=[0, top], mode="lines", name="perfectly calibrated",
                     line={"color": "#999", "dash": "dot"})
    cfig.update_xaxes(title_text="Predicted probability (mean of the bin)")
    cfig.update_yaxes(title_text="Observed response rate")
    over = float((cal["predicted"] - cal["observed"]).mean())
    cal_reading = ("Ten bins of equal size by out-of-fold score. " + (
        "Probabilities run above the observed rates: class weights and SMOTE raise them on "
        "purpose, which changes the ranking, not who is on top; read the score as a rank."
        if over > 0.02 else "Predicted and observed rates agree closely: the score can be "
                            "read as a probability."))
    return Section("propensity_gains", "How many responders a mailing reaches",
                   "Out-of-fold scores of the training table (each person scored by a model "
                   "that never saw them).",
                   [Chart("gains", "Cumulative gains", gains_reading,
                          ch.style(fig, "Cumulative gains", legend=True)),
                    Chart("calibration", "Calibration", cal_reading,
                          ch.style(cfig, "Calibration", legend=True))])


def _importance(ctx: ReportContext) -> Section | None:
    r = _result(ctx)
    if r is None:
        return None
    v = r.trained.validation
    if v is None or v.importance.empty:
        return None
    top = v.importance.head(20)
    fig = ch.bar_h(top["description"].where(top["description"] != "", top["attribute"]),
                   top["importance"].to_list(), title="Permutation importance",
                   x_title="Drop in average precision when shuffled", y_title="Attribute",
                   hover="%{x:.4f}")
    first = top.iloc[0]
    reading = (f"Shuffling {first['description']} ({first['attribute']}) on held-out folds "
               f"costs the most average precision ({first['importance']:.3f}); attributes "
               "near zero add little the others do not already carry.")
    return Section("propensity_importance", "What drives the score",
                   "Permutation importance of the default model, on the validation folds.",
                   [Chart("importance", "Permutation importance", reading, fig, wide=True),
                    Table("importance_table", "Permutation importance", v.importance.head(40),
                          formats={"importance": "num2", "sd": "num2"})])


def _reasons(ctx: ReportContext) -> Section | None:
    r = _result(ctx)
    if r is None or r.reasons is None or r.reasons.empty:
        return None
    shown = r.reasons[[c for c in r.reasons.columns if not c.startswith("effect_")]]
    return Section("propensity_reasons", "Why someone ranks high",
                   "The people ranked highest by their out-of-fold score, and the attributes "
                   "that raise the final model's score for them most, in the dictionary's "
                   "words.",
                   [Table("reasons", "Top-ranked people and their reasons", shown,
                          formats={"cv_score": "num2", "score": "num2", "responded": "int"},
                          headers={"cv_score": "Out-of-fold score",
                                   "score": "Final model's score"})])


def _segments(ctx: ReportContext) -> Section | None:
    r = _result(ctx)
    if r is None:
        return None
    v = r.trained.validation
    if v is None or v.segments.empty:
        return None
    share = v.settings["mail_share"]
    cap = metric_name("captured", share)
    names = [n for n in v.summary.index if n == v.choice.chosen or "segment" in n]
    compare = v.summary.loc[names, ["roc_auc", cap, "responders_top_n"]].reset_index()
    seg = v.segments.copy()
    seg.insert(1, "name", np.where(seg["segment"] >= 0, [f"Segment {s + 1}"
                                                        for s in seg["segment"]],
                                   "Too sparse to place"))
    seg = seg[seg["people"] > 0]
    model_cap = float(v.summary.loc[v.choice.chosen, cap])
    base = [n for n in names if n.startswith("baseline")]
    reading = (f"At the same mailing size (the top {share:.0%}), the default reaches "
               f"{model_cap:.0%} of the responders" + (
                   f"; mailing the most over-represented segments first reaches "
                   f"{float(v.summary.loc[base[0], cap]):.0%}." if base else "."))
    return Section("propensity_segments", "Segments meet the model",
                   "The population analysis's segments, learned on the training table, used "
                   "as a campaign (mail the segments with the most responders per person "
                   "first) and as a feature of the default model.",
                   [Table("segment_comparison", "The model against the segments", compare,
                          formats={"roc_auc": "num2", cap: "pct", "responders_top_n": "num1"},
                          headers={"roc_auc": "ROC AUC", cap: f"Captured, top {share:.0%}",
                                   "responders_top_n": f"Responders, top "
                                                       f"{v.settings['top_n']:,}"},
                          reading=reading),
                    Table("segment_rates", "Responders per segment", pd.DataFrame(seg),
                          formats={"people": "int", "responders": "int", "rate": "pct",
                                   "ratio": "num2"},
                          reading="Ratio: the segment's response rate over the table's "
                                  "(above 1: over-represented among responders).")])


register_sections("people", [
    (31, "propensity_comparison", _comparison),
    (32, "propensity_gains", _gains),
    (33, "propensity_importance", _importance),
    (34, "propensity_reasons", _reasons),
    (35, "propensity_segments", _segments),
], prepare=_prepare)
