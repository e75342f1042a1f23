"""Compose a report from a job's result and optional extras, section by section.

Sections every source kind shares are defined here; a kind registers its own (see
:func:`segwise.report.register_sections`). Everything per entity comes from the (small)
entity table; a kind's own sections may query its cleaned rows on their engine.
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segwise._frames import is_table, to_pandas
from segwise.io import kinds
from segwise.report import _charts as ch
from segwise.report._action import recommendation_section
from segwise.report._model import Chart, Figure, Format, Report, Section, Table, format_value
from segwise.report._registry import (
    ReportContext,
    extras_for,
    register_sections,
    sections_for,
)

if TYPE_CHECKING:
    from segwise.features import Feature
    from segwise.jobs import JobResult

__all__ = ["ReportExtras", "build_report", "check_currency", "clv_frame", "learn_extras"]

#: Most customers drawn in the 2-D scatter (a uniform sample beyond), to keep the file light.
MAX_SCATTER_POINTS = 5000


@dataclass
class ReportExtras:
    """Optional inputs; each adds its section when present.

    Every table may be a pandas or polars DataFrame, an Arrow table or an Ibis table.

    Parameters
    ----------
    categories : pandas.DataFrame, optional
        Product categories, as returned by
        :func:`segwise.features.products.product_categories` (``product_id``, ``category_id``,
        ``category``). Computed by :func:`build_report` when omitted and ``products=True``.
    k_sweep : pandas.DataFrame, optional
        One row per candidate number of clusters: column ``k`` and numeric score columns
        (e.g. ``silhouette``, ``calinski_harabasz``, ``davies_bouldin``, ``inertia``,
        ``stability``); each score is drawn against ``k``.
    chosen_k : int, optional
        The chosen ``k``, marked on the curves.
    k_rationale : str, optional
        Why that ``k`` was chosen, in a sentence or two.
    model_comparison : pandas.DataFrame, optional
        One row per model (algorithm) with its scores; shown as a table.
    clusters : pandas.DataFrame, optional
        Learned segments: ``customer_id`` and ``segment`` (name or label) per customer, and
        optionally the segment's recommended ``action``; shown as sizes (with the actions)
        and against the RFM segments.
    embedding : pandas.DataFrame, optional
        2-D coordinates per customer: ``customer_id``, ``x``, ``y`` and optionally
        ``segment`` (else the RFM segment is used). A PCA of scaled log R, F, M is drawn
        when omitted.
    embedding_method : str, default="UMAP"
        How ``embedding`` was made, for the axis titles.
    clv : pandas.DataFrame or CLVResult, optional
        Per-customer value: ``customer_id``, ``clv``, ``p_alive`` (and optionally
        ``expected_purchases``), e.g. ``segwise.clv.customer_value(...).customers``. A
        ``CLVResult`` of ``model="auto"`` adds the model comparison section.
    track : TrackResult, optional
        Snapshots, migration and cohorts (:func:`segwise.track.track_customers`): the
        "Over time" section.
    notes : list of str
        Why a section is missing (e.g. too few repeat buyers for CLV), for the reader.
    """

    categories: pd.DataFrame | None = None
    k_sweep: pd.DataFrame | None = None
    chosen_k: int | None = None
    k_rationale: str | None = None
    model_comparison: pd.DataFrame | None = None
    clusters: pd.DataFrame | None = None
    embedding: pd.DataFrame | None = None
    embedding_method: str = "UMAP"
    clv: Any = None
    track: Any = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Tables may come from any library (polars, Arrow, Ibis); the sections read pandas.
        for name in ("categories", "k_sweep", "model_comparison", "clusters", "embedding"):
            if getattr(self, name) is not None:
                setattr(self, name, to_pandas(getattr(self, name)))
        if is_table(self.clv):
            self.clv = to_pandas(self.clv)

    @classmethod
    def from_segmentation(cls, segmentation: Any, *, clv: Any = None,
                          categories: pd.DataFrame | None = None) -> ReportExtras:
        """Take the report's inputs from :func:`segwise.segment.segment_customers`.

        Parameters
        ----------
        segmentation : segwise.segment.Segmentation
            Assignments (with ``segment_name`` and UMAP or t-SNE coordinates), the k sweep
            and the model comparison.
        clv : pandas.DataFrame or CLVResult, optional
            Per-customer value, e.g. ``segwise.clv.customer_value(...)``.
        categories : pandas.DataFrame, optional
            Product categories.

        Returns
        -------
        ReportExtras
            Inputs of the selection, learned-segment, map, value and category sections.
        """
        a = segmentation.assignments
        id_col = "customer_id" if "customer_id" in a else a.columns[0]
        name_col = "segment_name" if "segment_name" in a else "segment"
        clusters = pd.DataFrame({"customer_id": a[id_col].astype(str),
                                 "segment": a[name_col].astype(str)})
        p = segmentation.profiles
        if name_col == "segment_name" and {"name", "action"} <= set(p.columns):
            clusters["action"] = clusters["segment"].map(
                dict(zip(p["name"].astype(str), p["action"].astype(str), strict=True)))
        embedding, method = None, "UMAP"
        for prefix, label in (("umap", "UMAP"), ("tsne", "t-SNE")):
            if f"{prefix}_x" in a and a[f"{prefix}_x"].notna().any():
                embedding = pd.DataFrame({"customer_id": clusters["customer_id"],
                                          "x": a[f"{prefix}_x"], "y": a[f"{prefix}_y"],
                                          "segment": clusters["segment"]}).dropna()
                method = label
                break
        sweep = segmentation.sweep
        comparison = segmentation.comparison
        return cls(
            categories=categories,
            k_sweep=None if sweep is None else sweep.table,
            chosen_k=None if sweep is None else int(sweep.recommended_k),
            k_rationale=None if sweep is None else sweep.rationale,
            model_comparison=comparison,
            clusters=clusters,
            embedding=embedding,
            embedding_method=method,
            clv=clv,
        )



def _nothing(step: str) -> None:
    """Default progress callback."""


def learn_extras(
    result: JobResult,
    *,
    segments: bool = True,
    random_state: int = 0,
    progress: Callable[[str], None] = _nothing,
    **options: Any,
) -> ReportExtras:
    """Compute the optional sections' inputs: learned segments and the kind's own extras.

    Parameters
    ----------
    result : JobResult
        Output of a job (:func:`segwise.jobs.run_job`).
    segments : bool, default=True
        Cluster the entities with :func:`segwise.segment.segment_customers` (k sweep,
        model comparison, names, UMAP map; t-SNE is skipped, it is the slow part).
    random_state : int, default=0
        Seed of the clustering and the map.
    progress : callable, optional
        Called with ``"segments"`` and each extra's name as it starts.
    **options
        Switches and settings of the extras the result's kind registered
        (:func:`segwise.report.register_extra`): each is on unless its name is set to False
        (``clv=False`` skips lifetime value for order lines); other options go to every
        extra's learner (``clv_model="auto"`` for order lines).

    Returns
    -------
    ReportExtras
        The inputs that could be computed; a step that fails on this data (too few
        customers, too few repeat buyers) leaves its sections out and says why in
        ``notes``.
    """
    from segwise.exceptions import SegwiseError

    extras = ReportExtras()
    if segments:
        progress("segments")
        from segwise.segment import segment_customers

        try:
            seg = segment_customers(result.entities, embed=("umap",),
                                    random_state=random_state)
            extras = ReportExtras.from_segmentation(seg)
        except SegwiseError as exc:
            extras.notes.append(f"Learned segments are not shown: {exc}")
    for name, (learn, what, _) in extras_for(result.entities.kind).items():
        if options.get(name, True) is False:
            continue
        progress(name)
        try:
            learn(result, extras, options)
        except SegwiseError as exc:
            extras.notes.append(f"{what} is not shown: {exc}")
    return extras


def check_currency(currency: str | None) -> None:
    """Refuse a currency that is not a short code or symbol (``GBP``, ``€``, ``US$``).

    The currency is written into chart titles and hover templates, so it may hold only
    letters, digits, currency signs, dots and spaces: never markup.

    Raises
    ------
    ConfigError
        For anything else, or more than 12 characters.
    """
    from segwise.exceptions import ConfigError

    if currency is None:
        return
    if not (0 < len(currency) <= 12 and all(
            c.isalnum() or c in " ." or unicodedata.category(c) == "Sc" for c in currency)):
        raise ConfigError(
            f"currency {currency!r}: use a code or symbol such as GBP, € or US$ (up to 12 "
            "letters, digits, currency signs, dots or spaces)"
        )


def build_report(
    result: JobResult,
    extras: ReportExtras | None = None,
    *,
    currency: str | None = None,
    products: bool = True,
    n_categories: int = 25,
    title: str | None = None,
    source: str | None = None,
    random_state: int = 0,
    progress: Callable[[str], None] = _nothing,
) -> Report:
    """Build the report model of a job's result.

    The sections shared by every kind (overview, cleaning audit, named segments, learned
    segments, profiles, map) come with the sections registered for the result's source
    kind, in their registered order.

    Parameters
    ----------
    result : JobResult
        Output of a job, e.g. :func:`segwise.jobs.run_rfm`.
    extras : ReportExtras, optional
        Clustering, embedding, lifetime value and category inputs; their sections appear
        when given.
    currency : str, optional
        Currency code or symbol for axis titles and headers (``"currency units"`` when
        omitted); see :func:`check_currency`.
    products : bool, default=True
        Learn product categories (order lines) when ``extras.categories`` is not given.
    n_categories : int, default=25
        Number of product categories to learn.
    title : str, optional
        Report title; by default the entities' segments: "Customer segments" for order
        lines, "User segments" for events and pings, "Person segments" for people.
    source : str, optional
        Name of the input shown in the report (its file name, say).
    random_state : int, default=0
        Seed of the category model and of the scatter sample.
    progress : callable, optional
        Called with the name of each step as it starts (``explore``, ``categories``,
        ``charts``).

    Returns
    -------
    Report
        Sections of charts and tables, ready for :func:`segwise.report.render`.
    """
    check_currency(currency)
    entities = result.entities
    ctx = ReportContext(
        result=result, extras=extras or ReportExtras(), currency=currency or "currency units",
        source=source or entities.source or entities.schema.name, products=products,
        n_categories=n_categories, random_state=random_state, progress=progress,
    )
    n_input = int(result.audit_table.column("rows").to_numpy().sum())
    ctx.meta = {
        "source": ctx.source,
        "kind": entities.kind,
        "as_of": result.as_of,
        "generated": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "currency": ctx.currency,
        "input_rows": n_input,
        "segwise_version": _version(),
    }
    if entities.fingerprint:
        ctx.meta["source_fingerprint"] = entities.fingerprint
    ctx.subtitle = f"{ctx.source} · {entities.n_entities:,} {entities.schema.entities}" + (
        f" · as of {result.as_of}" if result.as_of else "")
    prepare, builders = sections_for(entities.kind)
    if prepare is not None:
        prepare(ctx)
    if ctx.summary is not None:
        ctx.figures.append(Figure("segments", "Non-empty segments",
                                  int((ctx.summary[entities.schema.entities] > 0).sum())))
    progress("charts")
    sections = [s for _, build in builders if (s := build(ctx)) is not None]
    title = title or f"{entities.schema.entity.capitalize()} segments"
    report = Report(title=title, subtitle=ctx.subtitle, figures=ctx.figures, sections=sections,
                    meta=ctx.meta)
    for chart in report.charts:
        chart.wide = chart.wide or chart.key in _WIDE
    return report


#: Shared charts that need the full page width to be read.
_WIDE = frozenset({"k_selection", "clusters_vs_rfm", "profile_heatmap", "profile_learned",
                   "embedding", "segment_shares"})


def _feature_label(feature: Feature, currency: str) -> str:
    """``Recency (days)``: a feature's name in words, with its unit."""
    name = feature.name.replace("_", " ")
    name = name[:-5] if name.endswith(" days") and feature.unit == "days" else name
    unit = currency if feature.unit == "currency" else feature.unit
    return f"{name.capitalize()} ({unit})" if unit else name.capitalize()


# ---------------------------------------------------------------- shared sections


def _overview(ctx: ReportContext) -> Section:
    entities = ctx.entities
    audit = ctx.result.audit
    n_input = int(audit["rows"].sum())
    kept_rows = int(audit.loc[audit["step"] == "kept", "rows"].sum())
    rows_noun = kinds()[entities.kind].rows if entities.kind in kinds() else "rows"
    rows = [
        ("Source", ctx.source),
        *ctx.overview_before,
        ("Input rows", format_value(n_input, "int")),
        (f"{rows_noun.capitalize()} kept", f"{format_value(kept_rows, 'int')} "
                                           f"({format_value(kept_rows / max(n_input, 1), 'pct')})"),
        (entities.schema.entities.capitalize(), format_value(entities.n_entities, "int")),
        *ctx.overview_after,
    ]
    table = Table("dataset", "Dataset", pd.DataFrame(rows, columns=["item", "value"]),
                  headers={"item": "", "value": ""}, wide=False)
    table.reading = " ".join(ctx.extras.notes)
    return Section("overview", "Dataset overview",
                   "What was read, over which period, and how much of it is usable.", [table])


def _cleaning(ctx: ReportContext) -> Section:
    audit = ctx.result.audit.copy()
    n_input = int(audit["rows"].sum())
    audit["share"] = audit["rows"] / max(n_input, 1)
    metrics = [c for c in audit.columns if c not in ("step", "rows", "share", "description")]
    audit = audit[["step", "rows", "share", *metrics, "description"]]
    table = Table(
        "audit", "Cleaning audit", audit,
        formats={"rows": "int", "share": "pct", **dict.fromkeys(metrics, "money")},
        headers={"step": "Step", "rows": "Rows", "share": "Share of input",
                 **{m: f"{m.replace('_', ' ').capitalize()} ({ctx.currency})" for m in metrics},
                 "description": "What it means"},
        reading=" ".join([f"Every one of the {n_input:,} input rows ends in exactly one line "
                          "of this table, so the rows sum to the input.",
                          *ctx.cleaning_notes]),
    )
    removed = audit[(audit["step"] != "kept") & (audit["rows"] > 0)].sort_values(
        "rows", ascending=False)
    blocks: list[Chart | Table] = [table]
    if len(removed):
        top = removed.iloc[0]
        fig = ch.bar_h(removed["step"].str.replace("_", " "), removed["rows"],
                       title="Rows removed by each cleaning rule",
                       x_title="Input rows removed (count)", y_title="Cleaning rule",
                       color=ch.PALETTE[3], hover="%{x:,} rows", counts=True,
                       text=[format_value(s, "pct") for s in removed["share"]])
        reading = (f"The largest removal is '{str(top['step']).replace('_', ' ')}' with "
                   f"{int(top['rows']):,} rows ({top['share']:.1%} of the input); in all "
                   f"{removed['share'].sum():.1%} of the input rows were set aside.")
        blocks.append(Chart("audit_removed", "Rows removed by each cleaning rule", reading, fig))
    return Section("cleaning", "Cleaning audit",
                   "Which rules removed which rows, and why, before any customer was scored.",
                   blocks)


def _segments(ctx: ReportContext) -> Section | None:
    summary = ctx.summary
    if summary is None:
        return None
    schema, cur = ctx.entities.schema, ctx.currency
    who = schema.entities
    value = ["revenue_share"] if "revenue_share" in summary else []
    medians = {c: schema.feature(c.removeprefix("median_")) for c in summary.columns
               if c.startswith("median_")}
    formats: dict[str, Format] = {who: "int", "share": "pct", "revenue_share": "pct"}
    headers = {"segment": "Segment", who: who.capitalize(), "share": f"Share of {who}",
               "revenue_share": "Share of revenue", "action": "Recommended action"}
    for col, feature in medians.items():
        unit = cur if feature.unit == "currency" else feature.unit
        formats[col] = "money" if feature.unit == "currency" else (
            "int" if feature.unit == "days" else "num1")
        headers[col] = (f"Median {feature.short or feature.name.replace('_', ' ')}"
                        + (f" ({unit})" if unit else ""))
    table = Table("segments", "Segments and recommended actions",
                  summary[["segment", who, "share", *value, *medians, "action"]],
                  formats=formats, headers=headers)
    nz = summary[summary[who] > 0]
    largest = nz.loc[nz[who].idxmax()]
    blocks: list[Chart | Table] = [table]
    if value:
        best = nz.loc[nz["revenue_share"].idxmax()]
        reading = (f"'{best['segment']}' are {best['share']:.0%} of {who} but bring "
                   f"{best['revenue_share']:.0%} of revenue; the largest segment is "
                   f"'{largest['segment']}' ({largest['share']:.0%} of {who}, "
                   f"{largest['revenue_share']:.0%} of revenue).")
        blocks.append(Chart("segment_shares", f"Share of {who} and of revenue by segment",
                            reading, ch.segment_bars(summary, who)))
    else:
        table.reading = (f"The largest segment is '{largest['segment']}' "
                         f"({largest['share']:.0%} of {who}).")
    return Section("segments", "Segments",
                   f"Named {schema.name.upper()} segments, how big they are"
                   + (", what they are worth" if value else "")
                   + " and what to do with each.", blocks)



_METRIC_TITLES = {
    "silhouette": "Silhouette (higher is better)",
    "calinski_harabasz": "Calinski-Harabasz (higher is better)",
    "davies_bouldin": "Davies-Bouldin (lower is better)",
    "inertia": "Inertia (look for the knee)",
    "stability": "Stability, ARI (higher is better)",
    "bic": "BIC (lower is better)",
}


def _selection(ctx: ReportContext) -> Section | None:
    extras = ctx.extras
    blocks: list[Chart | Table] = []
    sweep = extras.k_sweep
    if sweep is not None and "k" in sweep and len(sweep):
        sweep = sweep.sort_values("k")
        numeric = [c for c in sweep.columns if c != "k" and pd.api.types.is_numeric_dtype(
            sweep[c]) and not pd.api.types.is_bool_dtype(sweep[c]) and sweep[c].notna().any()]
        # The known selection criteria when the sweep has them; otherwise every score.
        metrics = [c for c in _METRIC_TITLES if c in numeric] or numeric
        if metrics:
            ks = f"k = {int(sweep['k'].min())} to {int(sweep['k'].max())}"
            chosen = (f"k = {extras.chosen_k} was chosen (dotted line)"
                      if extras.chosen_k is not None else "no k was marked as chosen")
            reading = f"Scores of each criterion for {ks}; {chosen}."
            blocks.append(Chart("k_selection", "Choosing the number of segments k", reading,
                                ch.lines_by_k(sweep, metrics, chosen_k=extras.chosen_k,
                                              titles=_METRIC_TITLES)))
            table = _frame_table("k_sweep", "Scores by number of clusters", sweep)
            table.reading = extras.k_rationale or ""
            blocks.append(table)
    mc = extras.model_comparison
    if mc is not None and len(mc):
        blocks.append(_frame_table("model_comparison", "Model comparison", mc))
    if not blocks:
        return None
    return Section("selection", "Appendix: choosing the learned segmentation",
                   "How many segments the data support, and which clustering model fits best "
                   "(the detail behind the learned segments).", blocks)


def _frame_table(key: str, title: str, frame: pd.DataFrame) -> Table:
    """Wrap an arbitrary small frame as a table, numbers with sensible decimals."""
    frame = frame.reset_index(drop=True).dropna(axis=1, how="all").copy()
    for col in frame.columns:
        if frame[col].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
            frame[col] = frame[col].map(lambda v: " / ".join(f"{x:,}" for x in v))
    formats: dict[str, Any] = {}
    for c in frame.columns:
        s = frame[c]
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            continue
        if pd.api.types.is_integer_dtype(s):
            formats[str(c)] = "int"
        else:
            big = s.abs().max() if s.notna().any() else 0
            formats[str(c)] = "int" if big >= 1000 else "num2"
    frame.columns = [str(c) for c in frame.columns]
    return Table(key, title, frame, formats=formats)


def _clusters(ctx: ReportContext) -> Section | None:
    clusters = ctx.extras.clusters
    if clusters is None:
        return None
    schema, order = ctx.entities.schema, ctx.order
    who, rule = schema.entities, schema.segment_col
    cl = clusters[["customer_id", "segment"]].astype({"customer_id": "string"}).rename(
        columns={"segment": "segment_learned"})
    keep = [c for c in dict.fromkeys([schema.id_col, rule, schema.value_col]) if c]
    c = ctx.frame[[k for k in keep if k in ctx.frame]].rename(
        columns={schema.id_col: "customer_id", rule or "": "segment_rfm",
                 schema.value_col or "": "_value"}).astype({"customer_id": "string"})
    j = c.merge(cl, on="customer_id")
    sizes = j.groupby("segment_learned").agg(entities=("customer_id", "size"))
    sizes["share"] = sizes["entities"] / max(len(j), 1)
    shown = ["segment", "entities", "share"]
    if "_value" in j:
        sizes["revenue"] = j.groupby("segment_learned")["_value"].apply(lambda s: s.clip(0).sum())
        sizes["revenue_share"] = sizes["revenue"] / max(sizes["revenue"].sum(), 1e-12)
        shown.append("revenue_share")
    if "action" in clusters:
        sizes["action"] = clusters.groupby("segment")["action"].first()
        shown.append("action")
    sizes = sizes.sort_values("entities", ascending=False).rename_axis("segment").reset_index()
    sizes = sizes.rename(columns={"entities": who})
    shown = [who if s == "entities" else s for s in shown]
    table = Table("clusters", "Learned segments", sizes[shown],
                  formats={who: "int", "share": "pct", "revenue_share": "pct"},
                  headers={"segment": "Learned segment", who: who.capitalize(),
                           "share": f"Share of {who}", "revenue_share": "Share of revenue",
                           "action": "Recommended action"},
                  wide=False)
    if "segment_rfm" not in j:
        return Section("clusters", "Learned segments", "Segments found by clustering.", [table])
    cross = pd.crosstab(j["segment_learned"], j["segment_rfm"], normalize="index")
    cross = cross.reindex(columns=[s for s in order if s in cross.columns])
    cross = cross.reindex(index=sizes["segment"])
    top = cross.idxmax(axis=1)
    first = sizes["segment"].iloc[0]
    name = schema.name.upper()
    reading = (f"Each row shows where a learned segment's {who} sit among the {name} "
               f"segments; the largest, '{first}', is mostly '{top[first]}' "
               f"({cross.loc[first, top[first]]:.0%}).")
    chart = Chart("clusters_vs_rfm", f"Learned segments against {name} segments", reading,
                  ch.heatmap(cross * 100, title=f"Learned segments against {name} segments",
                             x_title=f"{name} segment", y_title="Learned segment",
                             z_title="Row %", hover="%{y} → %{x}<br>%{z:.0f}% of the row",
                             text=np.vectorize(lambda v: f"{v:.0f}%")(cross.to_numpy() * 100),
                             colorscale="Blues", zmid=None))
    return Section("clusters", "Learned segments",
                   f"Segments found by clustering, compared with the rule-based {name} "
                   "segments.", [table, chart])



def _profiles(ctx: ReportContext) -> Section | None:
    schema, extras = ctx.entities.schema, ctx.extras
    data = ctx.frame.rename(columns={schema.id_col: "customer_id"})
    feats = {c: _feature_label(schema.feature(c), ctx.currency)
             for c in dict.fromkeys([*schema.summary_features, *schema.cluster_features,
                                     *schema.profile])}
    if extras.clv is not None:
        data = data.merge(clv_frame(extras.clv), on="customer_id", how="left")
        for c, label in (("p_alive", "P(alive)"), ("clv", "Predicted CLV")):
            if c in data:
                feats[c] = label
    feats = {c: v for c, v in feats.items() if c in data}
    value = _feature_label(schema.feature(schema.value_col), ctx.currency) \
        if schema.value_col else None
    charts = []
    if schema.segment_col is not None and schema.segment_col in data:
        charts.append(_profile_chart(data, data[schema.segment_col].astype(str), ctx.order,
                                     feats, "profile_heatmap",
                                     f"{schema.name.upper()} segment profiles", value))
    if extras.clusters is not None:
        learned = data[["customer_id"]].merge(
            extras.clusters[["customer_id", "segment"]].astype(str), on="customer_id",
            how="left")["segment"]
        sizes = learned.value_counts()
        charts.append(_profile_chart(data, learned, list(sizes.index), feats,
                                     "profile_learned", "Learned segment profiles", value))
    if not charts:
        return None
    return Section("profiles", "Segment profiles",
                   f"How each segment differs from the average {schema.entity}.", list(charts))


def _profile_chart(data: pd.DataFrame, labels: pd.Series, order: list[str],
                   feats: dict[str, str], key: str, title: str, value: str | None) -> Chart:
    """Z-score heatmap of segment means, with segment medians written in the cells."""
    # z-scores of segment means on a signed log scale: heavy tails would otherwise let one
    # large customer decide a segment's colour.
    logged = pd.DataFrame({c: np.sign(data[c]) * np.log1p(data[c].abs().astype(float))
                           for c in feats})
    z = (logged - logged.mean()) / logged.std(ddof=0).replace(0, 1)
    z["segment"] = labels.to_numpy()
    present = set(z["segment"].dropna())
    means = z.groupby("segment")[list(feats)].mean().reindex([s for s in order if s in present])
    medians = data.groupby(labels.to_numpy())[list(feats)].median().reindex(means.index)
    text = np.array([[_short(v, c) for v, c in zip(row, feats, strict=True)]
                     for row in medians.to_numpy()])
    # The colour range comes from segments big enough to matter (1 % of the entities, at
    # least 10): a segment of one customer sits far out and would wash out every other
    # cell. Its cell shows the end colour; its text still gives the median.
    sizes = labels.value_counts()
    big = [s for s in means.index if sizes.get(s, 0) >= max(10, 0.01 * len(labels))]
    spread = float(np.nanmax(np.abs(means.loc[big].to_numpy()))) if big else np.nan
    means.columns = [feats[c] for c in means.columns]
    hi = means[value].idxmax() if value in means else None
    reading = ("Red cells are above the average, blue below (colour: z-score of the "
               "segment mean on a log scale; text: segment median)"
               + (f"; '{hi}' stands out on {str(value).lower()}." if hi else "."))
    return Chart(key, f"{title} (z-scores)", reading,
                 ch.heatmap(means.round(2), title=f"{title} (z-scores, text = median)",
                            x_title="Feature", y_title="Segment", z_title="z-score",
                            hover="%{y}<br>%{x}: z = %{z:.2f}", text=text,
                            zmax=spread if np.isfinite(spread) and spread > 0 else None))


def _short(value: float, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if column == "p_alive":
        return f"{value:.2f}"
    if abs(value) >= 10_000:
        return f"{value / 1000:,.0f}k"
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:,.1f}"


def _embedding(ctx: ReportContext) -> Section | None:
    schema, extras = ctx.entities.schema, ctx.extras
    customers = ctx.frame.rename(columns={schema.id_col: "customer_id"})
    # Colour by the named segments, else by the learned ones.
    if schema.segment_col is not None and schema.segment_col in customers:
        labels = customers[["customer_id", schema.segment_col]].rename(
            columns={schema.segment_col: "segment"})
        order = ctx.order
    elif extras.clusters is not None:
        labels = extras.clusters[["customer_id", "segment"]].astype(str)
        order = list(labels["segment"].value_counts().index)
    else:
        labels, order = None, ["all"]
    emb = extras.embedding
    if emb is not None:
        pts = emb[["customer_id", "x", "y"] + (["segment"] if "segment" in emb else [])].copy()
        pts["customer_id"] = pts["customer_id"].astype(str)
        method = extras.embedding_method
    else:
        features = schema.cluster_features
        if len(features) < 2 or len(customers) < 3:  # no map of one or two dots
            return None
        pts = _pca(customers, features)
        short = ", ".join(schema.feature(f).short or f.replace("_", " ") for f in features)
        method = f"PCA of scaled log {short}"
    if "segment" not in pts:
        pts = pts.merge(labels, on="customer_id", how="left") if labels is not None \
            else pts.assign(segment="all")
    found = set(pts["segment"].dropna().astype(str))
    seg_order = order if found <= set(order) else sorted(found)
    pts["segment"] = pts["segment"].astype(str)
    n_all = len(pts)
    if n_all > MAX_SCATTER_POINTS:
        pts = pts.sample(MAX_SCATTER_POINTS, random_state=ctx.random_state)
    who = schema.entities
    sample_note = (f" ({MAX_SCATTER_POINTS:,} of {n_all:,} {who}, sampled uniformly)"
                   if n_all > MAX_SCATTER_POINTS else "")
    title = f"{who.capitalize()} in two dimensions ({method})"
    reading = (f"Each dot is a {schema.entity} placed so that similar {who} sit close "
               "together; well-separated colours mean distinct segments" + sample_note + ".")
    chart = Chart("embedding", title, reading,
                  ch.scatter_2d(pts, seg_order, title=title, x_title=f"{method} dimension 1",
                                y_title=f"{method} dimension 2"))
    return Section("embedding", "Segment map", f"All {who} on one map, coloured by segment.",
                   [chart])


def _pca(customers: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """2-D PCA of the standardised signed-log features."""
    x = customers[features].to_numpy(dtype=float)
    x = np.sign(x) * np.log1p(np.abs(x))
    x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    _, _, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    xy = x @ vt[:2].T
    return pd.DataFrame({"customer_id": customers["customer_id"].astype(str).to_numpy(),
                         "x": xy[:, 0], "y": xy[:, 1]})


def clv_frame(clv: Any) -> pd.DataFrame:
    """Per-customer value of a CLV result or frame: ``customer_id`` (text) and its values.

    Parameters
    ----------
    clv : pandas.DataFrame or CLVResult
        ``customer_id`` (column or index), ``expected_purchases``, ``p_alive``, ``clv``.

    Returns
    -------
    pandas.DataFrame
        The columns present of those four; without ``p_alive`` when the result's fit is
        degenerate (``CLVResult.degenerate``), as it is then near 1 for everyone.
    """
    frame = getattr(clv, "customers", clv)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("extras.clv must be a DataFrame or a CLVResult")
    frame = frame.reset_index() if "customer_id" not in frame.columns else frame
    cols = [c for c in ("customer_id", "expected_purchases", "p_alive", "clv") if c in frame
            and not (c == "p_alive" and getattr(clv, "degenerate", None))]
    return frame[cols].astype({"customer_id": str})


def _version() -> str:
    try:
        return version("segwise")
    except PackageNotFoundError:
        return "unknown"



def _campaign(ctx: ReportContext) -> Section | None:
    """Show the financial effect of targeting the segments, for every kind with segments."""
    from segwise.profile import campaign_effect

    schema, extras = ctx.entities.schema, ctx.extras
    frame = ctx.frame
    if schema.segment_col is not None and schema.segment_col in frame:
        labels, what = frame[schema.segment_col].astype(str), f"{schema.name.upper()} segments"
    elif extras.clusters is not None:
        labels = frame[[schema.id_col]].rename(columns={schema.id_col: "customer_id"}).merge(
            extras.clusters[["customer_id", "segment"]].astype(str), on="customer_id",
            how="left")["segment"].fillna("Not segmented")
        what = "learned segments"
    else:
        return None
    settings = ctx.result.config.section("campaign")
    responses = (frame[settings.response_col].astype(float)
                 if settings.response_col and settings.response_col in frame else None)
    values = frame[schema.value_col] if schema.value_col else None
    effect = campaign_effect(labels.to_numpy(), settings, responses=responses, values=values,
                             currency=ctx.currency, entities=schema.entities)
    cur, who = ctx.currency, schema.entities
    seg = effect.segments
    table = Table(
        "campaign_segments", "Campaign plan by segment", seg,
        formats={"entities": "int", "response_rate": "pct", "value_per_response": "money",
                 "profit_per_contact": "num2", "contacted": "int", "responses": "num1",
                 "revenue": "money", "cost": "money", "profit": "money"},
        headers={"segment": "Segment", "entities": who.capitalize(),
                 "response_rate": "Response rate", "rate_source": "Rate from",
                 "value_per_response": f"Value per response ({cur})",
                 "profit_per_contact": f"Profit per contact ({cur})",
                 "contacted": "Contacted (targeted)", "responses": "Expected responses",
                 "revenue": f"Revenue ({cur})", "cost": f"Cost ({cur})",
                 "profit": f"Profit ({cur})"})
    comp = effect.comparison.rename_axis("campaign").reset_index()
    diff = effect.comparison.loc["difference"]
    reading = (f"With the same budget, aiming at the {what} earns "
               f"{format_value(diff['profit'], 'money')} {cur} more than contacting {who} at "
               f"random (range {format_value(diff['profit_low'], 'money')} to "
               f"{format_value(diff['profit_high'], 'money')} {cur} when every assumed rate "
               "and value is moved down or up).")
    summary = Table(
        "campaign", "Targeted against untargeted campaign", comp,
        formats={"contacts": "int", "responses": "num1", "revenue": "money", "cost": "money",
                 "profit": "money", "roi": "pct", "profit_low": "money",
                 "profit_high": "money"},
        headers={"campaign": "Campaign", "contacts": "Contacts", "responses": "Responses",
                 "revenue": f"Revenue ({cur})", "cost": f"Cost ({cur})",
                 "profit": f"Profit ({cur})", "roi": "Return on cost",
                 "profit_low": f"Profit, low case ({cur})",
                 "profit_high": f"Profit, high case ({cur})"},
        reading=reading)
    assumptions = Table("campaign_assumptions", "Assumptions",
                        pd.DataFrame({"assumption": effect.assumptions}),
                        headers={"assumption": ""},
                        reading="Set them in the [campaign] section of the config file.")
    return Section("campaign", "What targeting is worth",
                   f"A campaign aimed at the {what} against an untargeted one of the same "
                   "budget, with the assumptions behind it.", [summary, table, assumptions])


register_sections(None, [
    (5, "recommendation", recommendation_section),
    (10, "overview", _overview),
    (20, "cleaning", _cleaning),
    (50, "segments", _segments),
    (200, "selection", _selection),
    (70, "clusters", _clusters),
    (80, "profiles", _profiles),
    (90, "embedding", _embedding),
    (96, "campaign", _campaign),
])
