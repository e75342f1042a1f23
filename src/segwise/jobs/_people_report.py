"""The people kind's report sections: columns, sparse rows, relevance, PCA, customers.

Columns and missingness, the sparse-row comparison, feature relevance, the principal
components, the population-versus-customers comparison and the segment descriptions.
Registered for the ``people`` kind when a report of one is built; the shared sections
(overview, cleaning audit, choosing k, the map) come with them. Every section reads a
:class:`~segwise.jobs.PopulationResult`; a plain ``people`` job result has none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go

from segwise.report import Chart, Figure, ReportContext, Section, Table, register_sections
from segwise.report import charts as ch

if TYPE_CHECKING:
    from segwise.jobs import PopulationResult

__all__: list[str] = []

#: Rows of long tables shown in the report (the files written carry all of them).
MAX_ROWS = 30
_VERDICT_COLOURS = {"over": ch.PALETTE[2], "under": ch.PALETTE[3], "neither": ch.PALETTE[9]}


def _result(ctx: ReportContext) -> PopulationResult | None:
    from segwise.jobs import PopulationResult

    return ctx.result if isinstance(ctx.result, PopulationResult) else None


def _prepare(ctx: ReportContext) -> None:
    r = _result(ctx)
    if r is None:
        return
    table = r.comparison.table
    placed = table[table["segment"] >= 0]
    ctx.figures[:0] = [
        Figure("population", "Population", r.entities.n_entities),
        Figure("customers", "Customers", r.customers.n_entities),
        Figure("segments", "Segments", len(placed)),
        Figure("over", "Over-represented", int((placed["verdict"] == "over").sum())),
        Figure("under", "Under-represented", int((placed["verdict"] == "under").sum())),
    ]
    customers = r.customers.source or "customers"
    ctx.subtitle = (f"{ctx.source} (population) against {customers} (customers) · "
                    f"{len(placed)} demographic segments")
    dictionary = r.dictionary
    ctx.overview_after += [
        ("Customers file", customers),
        ("Customers", f"{r.customers.n_entities:,}"),
        ("Dictionary", "inferred from the population (see the column audit)"
         if dictionary.inferred else (dictionary.source or "given")),
        ("Attributes used", f"{len(r.fit.encoder.attributes_):,}"),
        ("Principal components kept", f"{r.fit.pca.n_components_:,}"),
    ]


def _columns(ctx: ReportContext) -> Section | None:
    r = _result(ctx)
    if r is None:
        return None
    encoder = r.fit.encoder
    steps = Table("column_steps", "Columns: from the file to the model", r.column_steps,
                  formats={"columns": "int"},
                  reading="Each block reconciles: the steps of a block add up to its first "
                          "line.")
    shares = pd.Series(encoder.column_missing_).sort_values(ascending=False)
    threshold = encoder.column_threshold_
    fig = go.Figure(go.Histogram(x=shares * 100, nbinsx=40, marker_color=ch.PALETTE[0],
                                 hovertemplate="%{x}% missing: %{y} attributes<extra></extra>"))
    fig.add_vline(x=threshold * 100, line_dash="dot", line_color=ch.PALETTE[3],
                  annotation_text=f"threshold {threshold:.0%}")
    fig.update_xaxes(title_text="Share of rows missing the attribute (%)")
    fig.update_yaxes(title_text="Attributes (count)")
    over = shares[shares > threshold]
    reading = (f"Attributes missing in more than {threshold:.0%} of rows (the threshold, the "
               "median share plus three scaled median absolute deviations, at least "
               f"{encoder.threshold_floor:.0%}) are dropped: {len(over)} of {len(shares)}"
               + (f", the most missing {over.index[0]} ({over.iloc[0]:.0%})." if len(over)
                  else "."))
    blocks: list[Chart | Table] = [
        steps, Chart("column_missing", "Missing values per attribute", reading,
                     ch.style(fig, "Missing values per attribute")),
    ]
    rows = encoder.row_missing_
    row_fig = go.Figure(go.Histogram(x=rows * 100, nbinsx=40, marker_color=ch.PALETTE[5],
                                     hovertemplate="%{x}%: %{y} rows<extra></extra>"))
    row_fig.add_vline(x=encoder.row_threshold_ * 100, line_dash="dot",
                      line_color=ch.PALETTE[3],
                      annotation_text=f"threshold {encoder.row_threshold_:.0%}")
    row_fig.update_xaxes(title_text="Share of the attributes used that a row misses (%)")
    row_fig.update_yaxes(title_text="People (count)")
    sparse = int((rows > encoder.row_threshold_).sum())
    blocks.append(Chart(
        "row_missing", "Missing attributes per person",
        f"{sparse:,} of {len(rows):,} people ({sparse / max(len(rows), 1):.1%}) miss more than "
        f"{encoder.row_threshold_:.0%} of the attributes: too sparse to place, counted on "
        "their own line.", ch.style(row_fig, "Missing attributes per person")))
    audit = r.column_audit
    shown = audit[audit["status"] != "used"].head(MAX_ROWS)
    if len(shown):
        blocks.append(Table("columns_dropped", "Columns not used, and why",
                            shown[["column", "type", "status", "missing_share", "note"]],
                            formats={"missing_share": "pct"}))
    unseen = r.customer_projection.audit
    unseen = unseen[unseen[["unseen_code", "not_a_number"]].fillna(0).gt(0).any(axis=1)
                    | (unseen["status"] != "used")]
    if len(unseen):
        blocks.append(Table(
            "customer_encoding", "Customers: values the model could not use",
            unseen[["column", "status", "unseen_code", "not_a_number", "missing_share",
                    "note"]].head(MAX_ROWS),
            formats={"unseen_code": "int", "not_a_number": "int", "missing_share": "pct"},
            reading="Codes the dictionary does not declare and values that are not numbers "
                    "were encoded as missing and imputed; columns listed as unknown were not "
                    "used."))
    return Section("columns", "Columns and missing values",
                   "Which attributes were used, which were dropped and why, and how complete "
                   "each person's row is.", blocks)


def _customer_rows(ctx: ReportContext) -> Section | None:
    r = _result(ctx)
    if r is None:
        return None
    audit = r.customer_audit_table.to_pandas()
    audit["share"] = audit["rows"] / max(int(audit["rows"].sum()), 1)
    return Section("customer_rows", "Customers: rows", "Every row of the customer file, "
                   "accounted for like the population's.", [Table(
                       "customer_audit", "Customer rows", audit[["step", "rows", "share",
                                                                 "description"]],
                       formats={"rows": "int", "share": "pct"},
                       reading="The rows add up to the customer file's rows.")])


def _subsets(ctx: ReportContext) -> Section | None:
    r = _result(ctx)
    if r is None or r.fit.subsets is None:
        return None
    s = r.fit.subsets.copy()
    tested = s[s["test"] != ""].assign(_abs=lambda f: f["effect"].abs()).sort_values(
        "_abs", ascending=False)
    top = tested.head(20)
    fig = ch.bar_h([f"{f}" for f in top["feature"]], top["effect"].to_list(),
                   title="Sparse rows against the rest: effect size per feature",
                   x_title="Effect size (rank-biserial r or Cramér's V)", y_title="Feature",
                   color=ch.PALETTE[4], hover="%{x:.2f}")
    fig.add_vline(x=0.1, line_dash="dot", line_color="#888")
    fig.add_vline(x=-0.1, line_dash="dot", line_color="#888")
    differs = int((s["verdict"] == "differs").sum())
    reading = (f"{differs} of {len(tested)} features differ with at least a small effect "
               "(|effect| >= 0.1, dotted lines) between the people too sparse to place and "
               "the rest: " + ("leaving the sparse rows out shifts the picture on those "
                               "features; read the segments with that in mind."
                               if differs else "leaving them out is unlikely to bias the "
                                               "segments."))
    table = Table("subsets", "Placed against too-sparse rows, feature by feature",
                  s.drop(columns=["statistic"]).head(MAX_ROWS),
                  formats={"n_dense": "int", "n_sparse": "int", "mean_dense": "num2",
                           "mean_sparse": "num2", "p_value": "num2", "p_adjusted": "num2",
                           "effect": "num2"},
                  headers={"n_dense": "Values (placed)", "n_sparse": "Values (sparse)",
                           "p_adjusted": "p (Holm)"})
    return Section("subsets", "Does leaving out the sparse rows bias the result?",
                   "Each feature compared between the rows placed and the rows too sparse "
                   "to place: Mann-Whitney U with the rank-biserial r for numbers, "
                   "chi-square with Cramér's V for codes.",
                   [Chart("subset_effects", "Sparse rows against the rest", reading, fig,
                          wide=True), table])


def _relevance(ctx: ReportContext) -> Section | None:
    r = _result(ctx)
    if r is None:
        return None
    rel = r.fit.relevance
    select = r.fit.pipeline.named_steps["select"]
    kept = rel[rel["status"] == "kept"].head(20)
    fig = ch.bar_h(kept["description"].where(kept["description"] != "", kept["feature"]),
                   kept["importance"].to_list(),
                   title="Most relevant encoded features (real against shuffled rows)",
                   x_title="Forest importance", y_title="Feature", hover="%{x:.3f}")
    reading = (f"A forest tells real rows from column-shuffled ones with out-of-bag accuracy "
               f"{select.oob_score_:.0%} (50% would mean no structure); the features it "
               "leans on most carry the structure segments are made of.")
    blocks: list[Chart | Table] = [Chart("relevance", "Feature relevance", reading, fig,
                                         wide=True)]
    pairs = pd.DataFrame(select.dropped_pairs_)
    if len(pairs):
        blocks.append(Table("dropped_pairs", "Columns dropped for correlation",
                            pairs.head(MAX_ROWS), formats={"correlation": "num2"},
                            reading=f"{len(pairs)} column(s) dropped: each was correlated "
                                    "with a kept column beyond the maximum."))
    return Section("relevance", "Feature relevance",
                   "Near-constant and redundant encoded columns out; the rest ranked by an "
                   "unsupervised random forest and by their spread.", blocks)


def _pca(ctx: ReportContext) -> Section | None:
    r = _result(ctx)
    if r is None:
        return None
    var = r.fit.variance
    kept = int(r.fit.pca.n_components_)
    shown = var.head(max(kept + 10, 30))
    fig = go.Figure()
    fig.add_bar(x=shown["component"], y=shown["explained"] * 100, name="Explained (%)",
                marker_color=[ch.PALETTE[0] if c <= kept else "#bbb"
                              for c in shown["component"]],
                hovertemplate="component %{x}: %{y:.1f}%<extra></extra>")
    fig.add_scatter(x=shown["component"], y=shown["cumulative"] * 100, name="Cumulative (%)",
                    mode="lines+markers", line={"color": ch.PALETTE[1]}, yaxis="y2",
                    hovertemplate="first %{x}: %{y:.1f}%<extra></extra>")
    fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "range": [0, 100],
                              "title": {"text": "Cumulative variance (%)"}})
    fig.update_xaxes(title_text="Principal component")
    fig.update_yaxes(title_text="Variance explained (%)")
    needed = r.fit.needed
    reading = ("Components needed: " + ", ".join(f"{n} for {s:.0%}" for s, n in needed.items())
               + f" of the variance; {kept} kept (coloured), explaining "
                 f"{var['cumulative'].iloc[kept - 1]:.0%}.")
    comps = r.fit.components
    reading_table = comps[comps["component"] <= 5].assign(
        weight=lambda f: f["weight"].round(3))[["component", "explained", "side", "rank",
                                                  "description", "feature", "weight"]]
    return Section("pca", "Principal components",
                   "How much of the variance each component carries, and what the first "
                   "components are made of, in the dictionary's words.",
                   [Chart("scree", "Variance explained by each component", reading,
                          ch.style(fig, "Variance explained by each component", legend=True),
                          wide=True),
                    Table("components", "What the first components are", reading_table,
                          formats={"explained": "pct", "weight": "num2"},
                          reading="Each component's largest positive and negative "
                                  "weights: people high on the component have more of the "
                                  "positive features and less of the negative ones.")])


def _comparison(ctx: ReportContext) -> Section | None:
    r = _result(ctx)
    if r is None:
        return None
    cmp = r.comparison
    t = cmp.table
    fig = go.Figure()
    fig.add_bar(x=t["name"], y=t["population_share"] * 100, name="Population (%)",
                marker_color=ch.PALETTE[5], hovertemplate="%{x}: %{y:.1f}% of the "
                                                          "population<extra></extra>")
    fig.add_bar(x=t["name"], y=t["customer_share"] * 100, name="Customers (%)",
                marker_color=ch.PALETTE[0], hovertemplate="%{x}: %{y:.1f}% of customers"
                                                          "<extra></extra>")
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="Segment")
    fig.update_yaxes(title_text="Share (%)", ticksuffix="%")
    ratio = go.Figure(go.Scatter(
        x=t["ratio"], y=t["name"], mode="markers",
        marker={"size": 11, "color": [_VERDICT_COLOURS[v] for v in t["verdict"]]},
        error_x={"type": "data", "symmetric": False,
                 "array": (t["ratio_high"] - t["ratio"]).to_list(),
                 "arrayminus": (t["ratio"] - t["ratio_low"]).to_list()},
        customdata=t[["verdict"]].to_numpy(),
        hovertemplate="%{y}: %{x:.2f}x (%{customdata[0]})<extra></extra>"))
    ratio.add_vline(x=1, line_dash="dot", line_color="#888")
    ratio.update_xaxes(title_text=f"Customer share / population share ({cmp.level:.0%} "
                                  "interval)", type="log")
    ratio.update_yaxes(title_text="Segment", autorange="reversed")
    shown = t[["name", "population", "population_share", "customers", "customer_share",
               "ratio", "verdict", "expected_customers"]].copy()
    shown.insert(6, "interval", [cmp.interval_text(lo, hi)
                                 for lo, hi in zip(t["ratio_low"], t["ratio_high"], strict=True)])
    shown.insert(8, "expected_range", [f"{lo:,.0f} to {hi:,.0f}" for lo, hi in zip(
        t["expected_low"], t["expected_high"], strict=True)])
    table = Table("comparison", "Population against customers", shown,
        formats={"population": "int", "population_share": "pct", "customers": "int",
                 "customer_share": "pct", "ratio": "num2", "expected_customers": "int"},
        headers={"interval": f"{cmp.level:.0%} interval",
                 "expected_customers": "Expected customers if mailed",
                 "expected_range": "Expected, interval"},
        reading=f"Expected customers if mailed = people in the segment x base rate "
                f"({cmp.base_rate:.2%}) x ratio. The last line counts the people too sparse "
                "to place.")
    return Section("comparison", "Which segments are your customers?",
                   "Each segment's share of the population and of the customers; a ratio "
                   "above 1 means over-represented among customers (the people to target), "
                   "below 1 under-represented. Verdicts need the whole interval on one side "
                   "of 1.",
                   [Chart("population_vs_customers", "Population and customers by segment",
                          cmp.summary(), ch.style(fig, "Population and customers by segment",
                                                  height=420, legend=True), wide=True),
                    Chart("ratio", "Over- and under-representation",
                          "Green: over-represented, red: under-represented, grey: neither "
                          "(the interval crosses 1).",
                          ch.style(ratio, "Customer share / population share",
                                   height=max(320, 40 * len(t) + 120))),
                    table])


def _descriptions(ctx: ReportContext) -> Section | None:
    r = _result(ctx)
    if r is None:
        return None
    t = r.comparison.table
    frame = t[t["segment"] >= 0][["name", "verdict", "ratio", "population_share",
                                   "customer_share", "description"]]
    return Section("segment_descriptions", "The segments in words",
                   "What sets each segment apart from the population (the attributes "
                   "furthest from the population mean, in the dictionary's words).",
                   [Table("segment_descriptions", "Segment descriptions", frame,
                          formats={"ratio": "num2", "population_share": "pct",
                                   "customer_share": "pct"})])


register_sections("people", [
    (21, "customer_rows", _customer_rows),
    (22, "columns", _columns),
    (24, "subsets", _subsets),
    (30, "relevance", _relevance),
    (40, "pca", _pca),
    (72, "comparison", _comparison),
    (76, "segment_descriptions", _descriptions),
], prepare=_prepare)

