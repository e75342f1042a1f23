"""Collect the figures, tables and charts of a report from an RFM run and optional extras.

Exploration queries run in Ibis on the engine that holds the cleaned lines and return a
few hundred rows at most; everything per customer comes from the (small) customer table.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segwise.report import _charts as ch
from segwise.report._model import Chart, Figure, Report, Section, Table, format_value
from segwise.report._over_time import WIDE_CHARTS, clv_models_section, over_time_section

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from segwise.jobs import RFMResult

__all__ = ["ReportExtras", "build_report", "learn_extras"]

#: Most customers drawn in the 2-D scatter (a uniform sample beyond), to keep the file light.
MAX_SCATTER_POINTS = 5000


@dataclass
class ReportExtras:
    """Optional inputs; each adds its section when present.

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
        Learned segments: ``customer_id`` and ``segment`` (name or label) per customer; shown
        as sizes and against the RFM segments.
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
    result: RFMResult,
    *,
    segments: bool = True,
    clv: bool = True,
    track: bool = True,
    clv_model: str = "bgnbd",
    random_state: int = 0,
    progress: Callable[[str], None] = _nothing,
) -> ReportExtras:
    """Compute the optional sections' inputs: learned segments, lifetime value, snapshots.

    Parameters
    ----------
    result : RFMResult
        Output of :func:`segwise.jobs.run_rfm`.
    segments : bool, default=True
        Cluster the customers with :func:`segwise.segment.segment_customers` (k sweep,
        model comparison, names, UMAP map; t-SNE is skipped, it is the slow part).
    clv : bool, default=True
        Fit a purchase model and Gamma-Gamma with :func:`segwise.clv.customer_value`.
    track : bool, default=True
        Snapshots, migration and cohorts with :func:`segwise.track.track_customers`, at
        the spacing :func:`segwise.track.auto_every` picks for the purchase span.
    clv_model : str, default="bgnbd"
        Purchase model; ``"auto"`` compares them on a holdout and adds that comparison.
    random_state : int, default=0
        Seed of the clustering and the map.
    progress : callable, optional
        Called with ``"segments"``, ``"clv"`` and ``"track"`` as each starts.

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
            seg = segment_customers(result.customers, embed=("umap",),
                                    random_state=random_state)
            extras = ReportExtras.from_segmentation(seg)
        except SegwiseError as exc:
            extras.notes.append(f"Learned segments are not shown: {exc}")
    if clv:
        progress("clv")
        from segwise.clv import customer_value

        try:
            extras.clv = customer_value(result.cleaned, model=clv_model)
        except SegwiseError as exc:
            extras.notes.append(f"Lifetime value is not shown: {exc}")
    if track:
        progress("track")
        from segwise.track import auto_every, track_customers

        try:
            span = result.customers[["first_purchase", "last_purchase"]]
            every = auto_every(span["first_purchase"].min().date(),
                               span["last_purchase"].max().date())
            extras.track = track_customers(result.cleaned, every=every)
        except SegwiseError as exc:
            extras.notes.append(f"Customers over time are not shown: {exc}")
    return extras


def build_report(
    result: RFMResult,
    extras: ReportExtras | None = None,
    *,
    currency: str | None = None,
    products: bool = True,
    n_categories: int = 25,
    title: str = "Customer segments",
    source: str | None = None,
    random_state: int = 0,
    progress: Callable[[str], None] = _nothing,
) -> Report:
    """Build the report model of an RFM run.

    Parameters
    ----------
    result : RFMResult
        Output of :func:`segwise.jobs.run_rfm`.
    extras : ReportExtras, optional
        Clustering, embedding, CLV and category inputs; their sections appear when given.
    currency : str, optional
        Currency code or symbol for axis titles and headers (``"currency units"`` when
        omitted).
    products : bool, default=True
        Learn product categories when ``extras.categories`` is not given.
    n_categories : int, default=25
        Number of product categories to learn.
    title : str, default="Customer segments"
        Report title.
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
    extras = extras or ReportExtras()
    cur = currency or "currency units"

    return _build(result, result.cleaned.kept, extras, cur=cur, products=products,
                  n_categories=n_categories, title=title, source=source,
                  random_state=random_state, progress=progress)


def _build(result: RFMResult, kept: ir.Table, extras: ReportExtras, *, cur: str,
           products: bool, n_categories: int, title: str, source: str | None,
           random_state: int, progress: Callable[[str], None]) -> Report:
    """Build the report from the kept lines; see :func:`build_report`."""
    customers = result.customers
    summary = result.segment_summary()
    order = [str(s) for s in summary["segment"]]
    progress("explore")
    eda = _explore(kept)

    categories = extras.categories
    spend: pd.DataFrame | None = None
    if categories is None and products:
        progress("categories")
        from segwise.features.products import product_categories

        try:
            categories = product_categories(eda["products"], n_categories=n_categories,
                                            random_state=random_state)
        except ValueError:
            categories = None  # too few products with a description: no category sections
    if categories is not None:
        from segwise.features.products import category_spend

        spend = category_spend(kept, categories)

    progress("charts")
    ov = eda["overview"]
    n_input = int(result.audit["rows"].sum())
    revenue = float(customers["monetary"].sum())
    figures = [
        Figure("customers", "Customers", len(customers)),
        Figure("orders", "Purchase orders", int(ov["orders"])),
        Figure("revenue", f"Net revenue ({cur})", revenue, "money"),
        *([Figure("products", "Products", int(ov["products"]))] if ov["products"] else []),
        *([Figure("countries", "Countries", int(ov["countries"]))] if ov["countries"] else []),
        Figure("segments", "Non-empty segments", int((summary["customers"] > 0).sum())),
    ]
    first, last = pd.Timestamp(ov["first"]), pd.Timestamp(ov["last"])
    meta = {
        "source": source or _source(result),
        "as_of": result.as_of,
        "first_purchase": first.date().isoformat(),
        "last_purchase": last.date().isoformat(),
        "generated": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "currency": cur,
        "input_rows": n_input,
        "segwise_version": _version(),
    }
    subtitle = (f"{meta['source']} · purchases {meta['first_purchase']} to "
                f"{meta['last_purchase']} · recency as of {result.as_of}")

    sections = [
        _overview(result, eda, n_input, cur, meta["source"], extras.notes),
        _cleaning(result, n_input, cur),
        _exploration(customers, eda, spend, cur),
        _rfm_grid(customers),
        _segments(summary, cur),
    ]
    selection = _selection(extras)
    if selection is not None:
        sections.append(selection)
    if extras.clusters is not None:
        sections.append(_clusters(customers, extras.clusters, order))
    sections.append(_profiles(customers, order, extras))
    sections.append(_embedding(customers, order, extras, random_state))
    if spend is not None and len(spend):
        sections.append(_category_mix(customers, spend, order, cur))
    if extras.clv is not None:
        sections.append(_value(customers, extras.clv, order, cur))
    if getattr(extras.clv, "comparison", None) is not None:
        sections.append(clv_models_section(extras.clv.comparison))
    if extras.track is not None:
        sections.append(over_time_section(extras.track, cur))
    report = Report(title=title, subtitle=subtitle, figures=figures, sections=sections, meta=meta)
    for chart in report.charts:
        chart.wide = chart.key in _WIDE
    return report


#: Charts that need the full page width to be read.
_WIDE = frozenset({"monthly", "weekday_hour", "top_products", "k_selection", "clusters_vs_rfm",
                   "profile_heatmap", "profile_learned", "embedding", "category_mix", "value",
                   "segment_shares", *WIDE_CHARTS})


# ---------------------------------------------------------------- exploration queries


def _explore(kept: ir.Table) -> dict[str, Any]:
    """Scan the kept lines twice, per order and per product, and derive the chart tables.

    Orders and products are tens of thousands of rows at most, so the per-chart tables
    come from them in pandas rather than from more scans of the lines.
    """
    from segwise.features.products import product_table

    orders = (
        kept.group_by(["order_id", "customer_id", "country", "is_return"])
        .aggregate(ts=kept.ts.min(), revenue=kept.revenue.sum())
        .to_pandas()
    )
    products = product_table(kept)
    buy = orders[~orders["is_return"].astype(bool)]
    ts = pd.to_datetime(buy["ts"])
    overview = {
        "orders": buy["order_id"].nunique(),
        "products": int(products["product_id"].notna().sum()),
        "countries": orders["country"].nunique(),
        "first": ts.min(),
        "last": ts.max(),
        "revenue": float(orders["revenue"].sum()),
    }
    # Customers whose kept lines are all returns have no purchase to score: the customer
    # table leaves them out, so their (negative) net revenue is shown apart.
    buyers = set(buy["customer_id"])
    only_returns = orders[~orders["customer_id"].isin(buyers)]
    overview["returns_only_customers"] = only_returns["customer_id"].nunique()
    overview["returns_only_revenue"] = float(only_returns["revenue"].sum())
    month = pd.to_datetime(orders["ts"]).dt.to_period("M").dt.to_timestamp()
    monthly = orders.assign(month=month).groupby("month").agg(revenue=("revenue", "sum"))
    monthly["orders"] = buy.assign(month=month).groupby("month")["order_id"].nunique()
    monthly = monthly.fillna({"orders": 0}).reset_index()
    weekday_hour = (
        buy.assign(weekday=ts.dt.weekday, hour=ts.dt.hour)
        .groupby(["weekday", "hour"])["order_id"].nunique().rename("orders").reset_index()
    )
    countries = (
        orders.groupby("country")
        .agg(revenue=("revenue", "sum"), customers=("customer_id", "nunique"))
        .reset_index().sort_values(["revenue", "country"], ascending=[False, True],
                                   ignore_index=True)
    )
    known = products[products["product_id"].notna()]
    top = known.sort_values(["net_revenue", "product_id"], ascending=[False, True]).head(15)
    top_products = top[["product_id", "description", "net_revenue", "customers"]].rename(
        columns={"net_revenue": "revenue"})
    return {"overview": overview, "monthly": monthly, "weekday_hour": weekday_hour,
            "countries": countries, "top_products": top_products, "products": products}


# ---------------------------------------------------------------- sections


def _overview(result: RFMResult, eda: dict[str, Any], n_input: int, cur: str,
              source: str, notes: list[str]) -> Section:
    ov = eda["overview"]
    kept_rows = int(result.audit.loc[result.audit["step"] == "kept", "rows"].sum())
    rows = [
        ("Source", source),
        ("Purchases from", pd.Timestamp(ov["first"]).strftime("%Y-%m-%d %H:%M")),
        ("Purchases to", pd.Timestamp(ov["last"]).strftime("%Y-%m-%d %H:%M")),
        ("Recency measured as of", str(result.as_of)),
        ("Input rows", format_value(n_input, "int")),
        ("Order lines kept", f"{format_value(kept_rows, 'int')} "
                             f"({format_value(kept_rows / max(n_input, 1), 'pct')})"),
        ("Customers", format_value(len(result.customers), "int")),
        ("Purchase orders", format_value(ov["orders"], "int")),
        (f"Net revenue of scored customers ({cur})",
         format_value(result.customers["monetary"].sum(), "money")),
    ]
    # Logs without products or countries (CDNOW) say nothing about them.
    rows += [(label, format_value(ov[key], "int"))
             for label, key in (("Products", "products"), ("Countries", "countries")) if ov[key]]
    if ov["returns_only_customers"]:
        rows.insert(7, ("Customers with returns only (not scored)",
                        f"{format_value(ov['returns_only_customers'], 'int')} "
                        f"({format_value(ov['returns_only_revenue'], 'money')} {cur})"))
    table = Table("dataset", "Dataset", pd.DataFrame(rows, columns=["item", "value"]),
                  headers={"item": "", "value": ""}, wide=False)
    table.reading = " ".join(notes)
    return Section("overview", "Dataset overview",
                   "What was read, over which period, and how much of it is usable.", [table])


def _cleaning(result: RFMResult, n_input: int, cur: str) -> Section:
    audit = result.audit.copy()
    audit["share"] = audit["rows"] / max(n_input, 1)
    audit = audit[["step", "rows", "share", "revenue", "description"]]
    table = Table(
        "audit", "Cleaning audit", audit,
        formats={"rows": "int", "share": "pct", "revenue": "money"},
        headers={"step": "Step", "rows": "Rows", "share": "Share of input",
                 "revenue": f"Revenue ({cur})", "description": "What it means"},
        reading=f"Every one of the {n_input:,} input rows ends in exactly one line of this "
                "table, so the rows sum to the input.",
    )
    removed = audit[(audit["step"] != "kept") & (audit["rows"] > 0)].sort_values(
        "rows", ascending=False)
    blocks: list[Chart | Table] = [table]
    if len(removed):
        top = removed.iloc[0]
        fig = ch.bar_h(removed["step"].str.replace("_", " "), removed["rows"],
                       title="Rows removed by each cleaning rule",
                       x_title="Input rows removed (count)", y_title="Cleaning rule",
                       color=ch.PALETTE[3], hover="%{x:,} rows",
                       text=[format_value(s, "pct") for s in removed["share"]])
        reading = (f"The largest removal is '{str(top['step']).replace('_', ' ')}' with "
                   f"{int(top['rows']):,} rows ({top['share']:.1%} of the input); in all "
                   f"{removed['share'].sum():.1%} of the input rows were set aside.")
        blocks.append(Chart("audit_removed", "Rows removed by each cleaning rule", reading, fig))
    return Section("cleaning", "Cleaning audit",
                   "Which rules removed which rows, and why, before any customer was scored.",
                   blocks)


def _exploration(customers: pd.DataFrame, eda: dict[str, Any], spend: pd.DataFrame | None,
                 cur: str) -> Section:
    blocks: list[Chart | Table] = []
    mon = eda["monthly"]
    if len(mon):
        peak = mon.loc[mon["revenue"].idxmax()]
        reading = (f"Revenue peaks in {pd.Timestamp(peak['month']):%B %Y} at "
                   f"{peak['revenue']:,.0f} {cur}, {peak['revenue'] / mon['revenue'].median():.1f}"
                   f" times the median month; the last month may be partial.")
        blocks.append(Chart("monthly", "Revenue and orders by month", reading,
                            ch.monthly(mon, cur)))
    wh = eda["weekday_hour"]
    if len(wh) and wh["hour"].nunique() == 1:
        # Dates without times: the hour says nothing, show weekdays alone.
        by_day = wh.groupby("weekday")["orders"].sum().reindex(range(7), fill_value=0)
        days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
        reading = (f"{days[int(by_day.idxmax())]} has the most orders and "
                   f"{days[int(by_day.idxmin())]} the fewest ({by_day.min() / by_day.max():.0%}"
                   f" of the busiest day); the data carry dates without times.")
        fig = ch.bar_h(list(days), by_day.to_numpy(), title="Purchase orders by weekday",
                       x_title="Purchase orders (count)", y_title="Weekday",
                       hover="%{x:,} orders")
        blocks.append(Chart("weekday_hour", "Purchase orders by weekday", reading, fig))
    elif len(wh):
        by_day = wh.groupby("weekday")["orders"].sum()
        by_hour = wh.groupby("hour")["orders"].sum()
        days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
        empty = [days[d] for d in range(7) if by_day.get(d, 0) == 0]
        reading = (f"Orders cluster on {days[int(by_day.idxmax())]}s around "
                   f"{int(by_hour.idxmax()):02d}:00"
                   + (f"; there are none on {', '.join(empty)}." if empty else "."))
        blocks.append(Chart("weekday_hour", "Purchase orders by weekday and hour", reading,
                            ch.weekday_hour(wh)))
    co = eda["countries"].head(12)
    if len(co):
        total = eda["countries"]["revenue"].sum()
        lead = co.iloc[0]
        reading = (f"{lead['country']} brings {lead['revenue'] / total:.0%} of net revenue; "
                   f"the next {len(co) - 1} countries shown bring "
                   f"{co['revenue'].iloc[1:].sum() / total:.0%} together.")
        fig = ch.bar_h(co["country"], co["revenue"], title="Net revenue by country (top 12)",
                       x_title=f"Net revenue ({cur}, log scale)", y_title="Country", log=True,
                       hover="%{x:,.0f} " + cur,
                       text=[f"{n:,} customers" for n in co["customers"]])
        blocks.append(Chart("countries", "Net revenue by country (top 12)", reading, fig))
    tp = eda["top_products"]
    if len(tp) >= 2:
        total = float(eda["overview"]["revenue"])
        labels = [f"{d} ({p})" if isinstance(d, str) else str(p)
                  for d, p in zip(tp["description"], tp["product_id"], strict=True)]
        reading = (f"The 15 best-selling products bring {tp['revenue'].sum() / total:.1%} of "
                   f"net revenue; '{str(tp['description'].iloc[0]).strip()}' leads with "
                   f"{tp['revenue'].iloc[0]:,.0f} {cur}.")
        fig = ch.bar_h(labels, tp["revenue"], title="Top 15 products by net revenue",
                       x_title=f"Net revenue ({cur})", y_title="Product (code)",
                       hover="%{x:,.0f} " + cur, color=ch.PALETTE[2])
        blocks.append(Chart("top_products", "Top 15 products by net revenue", reading, fig))
    if spend is not None and len(spend):
        by_cat = spend.groupby("category")["spend"].sum().sort_values(ascending=False)
        share = by_cat / by_cat.sum()
        reading = (f"{len(by_cat)} categories were learned from product descriptions; "
                   f"'{by_cat.index[0]}' is the largest with {share.iloc[0]:.1%} of purchase "
                   f"spend and the top five hold {share.iloc[:5].sum():.0%}.")
        fig = ch.bar_h(list(by_cat.index), by_cat.to_numpy(),
                       title="Purchase spend by product category",
                       x_title=f"Purchase spend, returns excluded ({cur})",
                       y_title="Category (top terms)", hover="%{x:,.0f} " + cur,
                       color=ch.PALETTE[4], text=[format_value(s, "pct") for s in share])
        blocks.append(Chart("categories", "Purchase spend by product category", reading, fig))
    blocks.extend(_distributions(customers, cur))
    return Section("exploration", "Exploring the data",
                   "When, where and what customers buy, and how recency, frequency and "
                   "monetary value are distributed.", blocks)


def _distributions(customers: pd.DataFrame, cur: str) -> list[Chart | Table]:
    r, f, m = customers["recency_days"], customers["frequency"], customers["monetary"]
    out: list[Chart | Table] = []
    out.append(Chart(
        "dist_recency", "Recency: days since last purchase",
        f"Half of the customers bought in the last {r.median():.0f} days and a quarter have "
        f"not bought for more than {r.quantile(0.75):.0f} days.",
        ch.histogram_log(r.to_numpy(), title="Recency: days since last purchase",
                         x_title="Days since last purchase (days)", log=False),
    ))
    one = (f == 1).mean()
    out.append(Chart(
        "dist_frequency", "Frequency: purchase orders per customer",
        f"{one:.0%} of customers ordered once; the median is {f.median():.0f} "
        f"order{'' if f.median() == 1 else 's'} and the busiest customer placed "
        f"{int(f.max()):,}.",
        ch.count_bins(f.to_numpy(), title="Frequency: purchase orders per customer",
                      x_title="Purchase orders per customer (count, widening bins)"),
    ))
    nonpos = int((m <= 0).sum())
    out.append(Chart(
        "dist_monetary", "Monetary: net spend per customer (log scale)",
        f"Median net spend is {m.median():,.0f} {cur}; the top 10% of customers spend over "
        f"{m.quantile(0.9):,.0f} {cur}"
        + (f" ({nonpos:,} customers with zero or negative net spend are not drawn)."
           if nonpos else "."),
        ch.histogram_log(m.to_numpy(), title="Monetary: net spend per customer",
                         x_title=f"Net spend ({cur}, log scale)", log=True,
                         color=ch.PALETTE[2]),
    ))
    return out


def _rfm_grid(customers: pd.DataFrame) -> Section:
    idx, cols = list(range(5, 0, -1)), list(range(1, 6))
    g = customers.groupby(["r_score", "f_score"])
    n = g.size().unstack().reindex(index=idx, columns=cols).fillna(0)
    rev = g["monetary"].apply(lambda s: s.clip(lower=0).sum()).unstack().reindex(
        index=idx, columns=cols).fillna(0)
    rev_share = rev / max(float(rev.to_numpy().sum()), 1e-12)
    top_right = rev_share.loc[[5, 4], [4, 5]].to_numpy().sum()
    top_cust = n.loc[[5, 4], [4, 5]].to_numpy().sum() / max(len(customers), 1)
    busiest = n.stack().idxmax()
    c1 = Chart(
        "grid_customers", "Customers by R and F score",
        f"The most crowded cell is R={busiest[0]}, F={busiest[1]}; the recent, frequent "
        f"corner (R and F of 4-5) holds {top_cust:.0%} of customers.",
        ch.grid_heatmap(n.astype(float), title="Customers by R and F score",
                        z_title="Customers", text_fmt="{:,.0f}",
                        hover="R=%{y}, F=%{x}<br>%{z:,.0f} customers"),
    )
    c2 = Chart(
        "grid_revenue", "Share of revenue by R and F score",
        f"The same corner (R and F of 4-5) brings {top_right:.0%} of revenue from "
        f"{top_cust:.0%} of customers.",
        ch.grid_heatmap(rev_share * 100, title="Share of revenue by R and F score",
                        z_title="Revenue (%)", text_fmt="{:.1f}%", colorscale="Greens",
                        hover="R=%{y}, F=%{x}<br>%{z:.1f}% of revenue"),
    )
    return Section("rfm", "RFM score grid",
                   "Customers scored 1-5 on recency (R) and frequency (F); each cell is one "
                   "R-F combination.", [c1, c2])


def _segments(summary: pd.DataFrame, cur: str) -> Section:
    table = Table(
        "segments", "Segments and recommended actions",
        summary[["segment", "customers", "share", "revenue_share", "median_recency_days",
                 "median_frequency", "median_monetary", "action"]],
        formats={"customers": "int", "share": "pct", "revenue_share": "pct",
                 "median_recency_days": "int", "median_frequency": "num1",
                 "median_monetary": "money"},
        headers={"segment": "Segment", "customers": "Customers", "share": "Share of customers",
                 "revenue_share": "Share of revenue", "median_recency_days": "Median R (days)",
                 "median_frequency": "Median F (orders)",
                 "median_monetary": f"Median M ({cur})", "action": "Recommended action"},
    )
    nz = summary[summary["customers"] > 0]
    best = nz.loc[nz["revenue_share"].idxmax()]
    largest = nz.loc[nz["customers"].idxmax()]
    reading = (f"'{best['segment']}' are {best['share']:.0%} of customers but bring "
               f"{best['revenue_share']:.0%} of revenue; the largest segment is "
               f"'{largest['segment']}' ({largest['share']:.0%} of customers, "
               f"{largest['revenue_share']:.0%} of revenue).")
    chart = Chart("segment_shares", "Share of customers and of revenue by segment", reading,
                  ch.segment_bars(summary))
    return Section("segments", "Segments",
                   "Named RFM segments, how big they are, what they are worth and what to do "
                   "with each.", [table, chart])


_METRIC_TITLES = {
    "silhouette": "Silhouette (higher is better)",
    "calinski_harabasz": "Calinski-Harabasz (higher is better)",
    "davies_bouldin": "Davies-Bouldin (lower is better)",
    "inertia": "Inertia (look for the knee)",
    "stability": "Stability, ARI (higher is better)",
    "bic": "BIC (lower is better)",
}


def _selection(extras: ReportExtras) -> Section | None:
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
    return Section("selection", "Choosing the segmentation",
                   "How many segments the data support, and which clustering model fits best.",
                   blocks)


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


def _clusters(customers: pd.DataFrame, clusters: pd.DataFrame, order: list[str]) -> Section:
    cl = clusters[["customer_id", "segment"]].astype({"customer_id": "string"})
    c = customers[["customer_id", "segment", "monetary"]].astype({"customer_id": "string"})
    j = c.merge(cl, on="customer_id", suffixes=("_rfm", "_learned"))
    sizes = j.groupby("segment_learned").agg(customers=("customer_id", "size"),
                                            revenue=("monetary", lambda s: s.clip(0).sum()))
    sizes["share"] = sizes["customers"] / max(len(j), 1)
    sizes["revenue_share"] = sizes["revenue"] / max(sizes["revenue"].sum(), 1e-12)
    sizes = sizes.sort_values("customers", ascending=False).rename_axis("segment").reset_index()
    table = Table("clusters", "Learned segments", sizes[["segment", "customers", "share",
                                                         "revenue_share"]],
                  formats={"customers": "int", "share": "pct", "revenue_share": "pct"},
                  headers={"segment": "Learned segment", "share": "Share of customers",
                           "revenue_share": "Share of revenue"}, wide=False)
    cross = pd.crosstab(j["segment_learned"], j["segment_rfm"], normalize="index")
    cross = cross.reindex(columns=[s for s in order if s in cross.columns])
    cross = cross.reindex(index=sizes["segment"])
    top = cross.idxmax(axis=1)
    first = sizes["segment"].iloc[0]
    reading = (f"Each row shows where a learned segment's customers sit among the RFM "
               f"segments; the largest, '{first}', is mostly '{top[first]}' "
               f"({cross.loc[first, top[first]]:.0%}).")
    chart = Chart("clusters_vs_rfm", "Learned segments against RFM segments", reading,
                  ch.heatmap(cross * 100, title="Learned segments against RFM segments",
                             x_title="RFM segment", y_title="Learned segment",
                             z_title="Row %", hover="%{y} → %{x}<br>%{z:.0f}% of the row",
                             text=np.vectorize(lambda v: f"{v:.0f}%")(cross.to_numpy() * 100),
                             colorscale="Blues", zmid=None))
    return Section("clusters", "Learned segments",
                   "Segments found by clustering, compared with the rule-based RFM segments.",
                   [table, chart])


_PROFILE_FEATURES = {
    "recency_days": "Recency (days)",
    "frequency": "Frequency (orders)",
    "monetary": "Monetary (net spend)",
    "avg_order_value": "Average order value",
    "tenure_days": "Tenure (days)",
}


def _profiles(customers: pd.DataFrame, order: list[str], extras: ReportExtras) -> Section:
    data = customers.copy()
    data["customer_id"] = data["customer_id"].astype(str)
    feats = dict(_PROFILE_FEATURES)
    if extras.clv is not None:
        data = data.merge(_clv_frame(extras.clv), on="customer_id", how="left")
        for c, label in (("p_alive", "P(alive)"), ("clv", "Predicted CLV")):
            if c in data:
                feats[c] = label
    feats = {c: v for c, v in feats.items() if c in data}
    charts = [_profile_chart(data, data["segment"].astype(str), order, feats,
                             "profile_heatmap", "RFM segment profiles")]
    if extras.clusters is not None:
        learned = data[["customer_id"]].merge(
            extras.clusters[["customer_id", "segment"]].astype(str), on="customer_id",
            how="left")["segment"]
        sizes = learned.value_counts()
        charts.append(_profile_chart(data, learned, list(sizes.index), feats,
                                     "profile_learned", "Learned segment profiles"))
    return Section("profiles", "Segment profiles",
                   "How each segment differs from the average customer.", list(charts))


def _profile_chart(data: pd.DataFrame, labels: pd.Series, order: list[str],
                   feats: dict[str, str], key: str, title: str) -> Chart:
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
    means.columns = [feats[c] for c in means.columns]
    hi = means["Monetary (net spend)"].idxmax() if "Monetary (net spend)" in means else None
    reading = ("Red cells are above the average customer, blue below (colour: z-score of the "
               "segment mean on a log scale; text: segment median)"
               + (f"; '{hi}' stands out on monetary value." if hi else "."))
    return Chart(key, f"{title} (z-scores)", reading,
                 ch.heatmap(means.round(2), title=f"{title} (z-scores, text = median)",
                            x_title="Feature", y_title="Segment", z_title="z-score",
                            hover="%{y}<br>%{x}: z = %{z:.2f}", text=text))


def _short(value: float, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if column == "p_alive":
        return f"{value:.2f}"
    if abs(value) >= 10_000:
        return f"{value / 1000:,.0f}k"
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:,.1f}"


def _embedding(customers: pd.DataFrame, order: list[str], extras: ReportExtras,
               random_state: int) -> Section:
    emb = extras.embedding
    if emb is not None:
        pts = emb[["customer_id", "x", "y"] + (["segment"] if "segment" in emb else [])].copy()
        pts["customer_id"] = pts["customer_id"].astype(str)
        if "segment" not in pts:
            seg = customers[["customer_id", "segment"]].astype({"customer_id": str})
            pts = pts.merge(seg, on="customer_id", how="left")
        method = extras.embedding_method
        seg_order = order if set(pts["segment"].dropna().astype(str)) <= set(order) else sorted(
            pts["segment"].dropna().astype(str).unique())
    else:
        pts = _pca_rfm(customers)
        method = "PCA of scaled log R, F, M"
        seg_order = order
    pts["segment"] = pts["segment"].astype(str)
    n_all = len(pts)
    if n_all > MAX_SCATTER_POINTS:
        pts = pts.sample(MAX_SCATTER_POINTS, random_state=random_state)
    sample_note = (f" ({MAX_SCATTER_POINTS:,} of {n_all:,} customers, sampled uniformly)"
                   if n_all > MAX_SCATTER_POINTS else "")
    title = f"Customers in two dimensions ({method})"
    reading = ("Each dot is a customer placed so that similar customers sit close together; "
               "well-separated colours mean distinct segments" + sample_note + ".")
    chart = Chart("embedding", title, reading,
                  ch.scatter_2d(pts, seg_order, title=title, x_title=f"{method} dimension 1",
                                y_title=f"{method} dimension 2"))
    return Section("embedding", "Segment map", "All customers on one map, coloured by segment.",
                   [chart])


def _pca_rfm(customers: pd.DataFrame) -> pd.DataFrame:
    """2-D PCA of standardised signed-log recency, frequency and monetary value."""
    x = customers[["recency_days", "frequency", "monetary"]].to_numpy(dtype=float)
    x = np.sign(x) * np.log1p(np.abs(x))
    x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    _, _, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    xy = x @ vt[:2].T
    return pd.DataFrame({"customer_id": customers["customer_id"].astype(str).to_numpy(),
                         "x": xy[:, 0], "y": xy[:, 1],
                         "segment": customers["segment"].astype(str).to_numpy()})


def _category_mix(customers: pd.DataFrame, spend: pd.DataFrame, order: list[str],
                  cur: str) -> Section:
    seg = customers[["customer_id", "segment"]].astype({"customer_id": str})
    s = spend.astype({"customer_id": str}).merge(seg, on="customer_id")
    mix = s.pivot_table(index="segment", columns="category", values="spend", aggfunc="sum",
                        fill_value=0.0)
    cats = s.groupby("category")["spend"].sum().sort_values(ascending=False).index
    mix = mix.reindex(index=[x for x in order if x in mix.index], columns=cats)
    share = mix.div(mix.sum(axis=1), axis=0)
    overall = mix.sum() / mix.to_numpy().sum()
    # Tilts of tiny segments are noise: look only at segments with 2% of customers or more.
    sizes = customers["segment"].astype(str).value_counts()
    big = [x for x in share.index if sizes.get(x, 0) >= 0.02 * len(customers)] or list(
        share.index)
    lift = share.loc[big] / overall
    best = lift.stack().idxmax()
    reading = (f"Each row is a segment's purchase spend split by category (rows sum to 100%); "
               f"the strongest tilt is '{best[0]}' towards '{best[1]}' "
               f"({share.loc[best]:.1%} of its spend against {overall[best[1]]:.1%} overall).")
    chart = Chart("category_mix", "Category mix by segment", reading,
                  ch.heatmap(share * 100, title="Category mix by segment (% of segment spend)",
                             x_title="Product category (top terms)", y_title="Segment",
                             z_title="% of spend", hover="%{y}<br>%{x}: %{z:.1f}% of spend",
                             colorscale="Purples", zmid=None, height=560,
                             text=np.vectorize(lambda v: f"{v:.0f}")(share.to_numpy() * 100)))
    table = Table("category_overall", "Product categories",
                  pd.DataFrame({"category": overall.index, "spend": mix.sum().to_numpy(),
                                "share": overall.to_numpy()}),
                  formats={"spend": "money", "share": "pct"},
                  headers={"category": "Category (top terms)",
                           "spend": f"Purchase spend ({cur})", "share": "Share of spend"},
                  reading="Categories are learned from product descriptions (TF-IDF + NMF) "
                          "and named by their top terms.", wide=False)
    return Section("categories", "Interests: product categories by segment",
                   "What each segment buys, as shares of its purchase spend by category.",
                   [chart, table])


def _clv_frame(clv: Any) -> pd.DataFrame:
    frame = getattr(clv, "customers", clv)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("extras.clv must be a DataFrame or a CLVResult")
    frame = frame.reset_index() if "customer_id" not in frame.columns else frame
    cols = [c for c in ("customer_id", "expected_purchases", "p_alive", "clv") if c in frame]
    return frame[cols].astype({"customer_id": str})


def _value(customers: pd.DataFrame, clv: Any, order: list[str], cur: str) -> Section:
    from segwise.clv import value_by_segment

    c = customers[["customer_id", "segment"]].astype({"customer_id": str})
    j = c.merge(_clv_frame(clv), on="customer_id", how="left")
    vbs = value_by_segment(j)
    vbs["segment"] = vbs["segment"].astype(str)
    cols = ["segment", "n_customers", "share_customers", "clv", "share_clv", "mean_clv",
            "mean_p_alive", "value_at_risk", "share_value_at_risk"]
    table = Table(
        "value", "Predicted value by segment", vbs[cols],
        formats={"n_customers": "int", "share_customers": "pct", "clv": "money",
                 "share_clv": "pct", "mean_clv": "money", "mean_p_alive": "num2",
                 "value_at_risk": "money", "share_value_at_risk": "pct"},
        headers={"segment": "Segment", "n_customers": "Customers",
                 "share_customers": "Share of customers", "clv": f"Predicted CLV ({cur})",
                 "share_clv": "Share of CLV", "mean_clv": f"Mean CLV ({cur})",
                 "mean_p_alive": "Mean P(alive)", "value_at_risk": f"Value at risk ({cur})",
                 "share_value_at_risk": "Share of value at risk"},
    )
    top = vbs.iloc[0]
    risk = vbs.loc[vbs["value_at_risk"].idxmax()]
    reading = (f"'{top['segment']}' hold {top['share_clv']:.0%} of predicted lifetime value; "
               f"the most value at risk (customers who may be gone) is in '{risk['segment']}'.")
    table.reading = reading
    vs = vbs.set_index("segment").reindex([s for s in order if s in set(vbs["segment"])])
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_bar(x=vs.index, y=vs["clv"] - vs["value_at_risk"], name="Expected from active",
                marker_color=ch.PALETTE[2], hovertemplate="%{x}<br>%{y:,.0f} " + cur
                + "<extra></extra>")
    fig.add_bar(x=vs.index, y=vs["value_at_risk"], name="At risk (1 − P(alive))",
                marker_color=ch.PALETTE[3], hovertemplate="%{x}<br>%{y:,.0f} " + cur
                + " at risk<extra></extra>")
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="Segment", tickangle=-30)
    fig.update_yaxes(title_text=f"Predicted lifetime value ({cur})")
    ch.style(fig, "Predicted lifetime value by segment", height=400, legend=True)
    chart = Chart("value", "Predicted lifetime value by segment", reading, fig)
    return Section("value", "Customer lifetime value",
                   "Predicted future value per segment (BG/NBD + Gamma-Gamma) and how much of "
                   "it is at risk.", [table, chart])


def _source(result: RFMResult) -> str:
    src = result.customers.attrs.get("source") or getattr(result, "source", None)
    if src:
        return str(src)
    return "order lines"


def _version() -> str:
    try:
        return version("segwise")
    except PackageNotFoundError:
        return "unknown"
