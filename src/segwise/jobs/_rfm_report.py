"""The order-line kind's report sections: exploration, the RFM grid, categories, value.

Registered with :func:`segwise.report.register_sections` for the ``orders`` kind when the
RFM job is imported; the report's shared sections know nothing of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segwise.report import (
    Chart,
    Figure,
    ReportContext,
    ReportExtras,
    Section,
    Table,
    clv_frame,
    format_value,
    register_extra,
    register_sections,
)
from segwise.report import charts as ch
from segwise.report._over_time import WIDE_CHARTS, clv_models_section, over_time_section

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from segwise.jobs import JobResult

__all__: list[str] = []

#: Charts of these sections that need the full page width to be read.
_WIDE = frozenset({"monthly", "weekday_hour", "top_products", "category_mix", "value",
                   *WIDE_CHARTS})


def _prepare(ctx: ReportContext) -> None:
    """Explore the kept lines once; set the header figures, subtitle and dataset rows."""
    kept = ctx.result.cleaned.kept
    ctx.progress("explore")
    eda = _explore(kept)
    ctx.cache["eda"] = eda
    categories = ctx.extras.categories
    spend: pd.DataFrame | None = None
    if categories is None and ctx.products:
        ctx.progress("categories")
        from segwise.features.products import product_categories

        try:
            categories = product_categories(eda["products"], n_categories=ctx.n_categories,
                                            random_state=ctx.random_state)
        except ValueError:
            categories = None  # too few products with a description: no category sections
    if categories is not None:
        from segwise.features.products import category_spend

        spend = category_spend(kept, categories)
        # Topics learned (each with its top terms): the number asked for, spent on or not.
        ctx.cache["n_learned"] = sum(1 for t in categories.attrs.get("terms", {}).values() if t)
    ctx.cache["spend"] = spend
    customers, cur = ctx.frame, ctx.currency
    ov = eda["overview"]
    summary = ctx.summary
    assert summary is not None  # noqa: S101 - the RFM job always names segments
    ctx.figures[:0] = [
        Figure("customers", "Customers", len(customers)),
        Figure("orders", "Purchase orders", int(ov["orders"])),
        Figure("revenue", f"Net revenue ({cur})", float(customers["monetary"].sum()), "money"),
        *([Figure("products", "Products", int(ov["products"]))] if ov["products"] else []),
        *([Figure("countries", "Countries", int(ov["countries"]))] if ov["countries"] else []),
    ]
    first, last = pd.Timestamp(ov["first"]), pd.Timestamp(ov["last"])
    ctx.meta.update(first_purchase=first.date().isoformat(),
                    last_purchase=last.date().isoformat())
    ctx.subtitle = (f"{ctx.source} · purchases {ctx.meta['first_purchase']} to "
                    f"{ctx.meta['last_purchase']} · recency as of {ctx.result.as_of}")
    ctx.overview_before += [
        ("Purchases from", first.strftime("%Y-%m-%d %H:%M")),
        ("Purchases to", last.strftime("%Y-%m-%d %H:%M")),
        ("Recency measured as of", str(ctx.result.as_of)),
    ]
    lost = _lost_customers(ctx.result.cleaned.lines)
    ctx.overview_after.append(("Customers lost in cleaning (every line removed)",
                               format_value(lost["customers"], "int")))
    if lost["customers"]:
        reasons = ", ".join(f"{n:,} {r.replace('_', ' ')}" for r, n in lost["reasons"].items())
        ctx.cleaning_notes.append(
            f"{lost['customers']:,} of the {lost['seen']:,} customers in the input "
            f"({lost['customers'] / max(lost['seen'], 1):.1%}) lost every line in cleaning "
            f"and are in no segment (by the rule that removed most of their rows: {reasons}).")
    if ov["returns_only_customers"]:
        ctx.overview_after.append((
            "Customers with returns only (not scored)",
            f"{format_value(ov['returns_only_customers'], 'int')} "
            f"({format_value(ov['returns_only_revenue'], 'money')} {cur})"))
    ctx.overview_after += [
        ("Purchase orders", format_value(ov["orders"], "int")),
        (f"Net revenue of scored customers ({cur})",
         format_value(customers["monetary"].sum(), "money")),
    ]
    # Logs without products or countries (CDNOW) say nothing about them.
    ctx.overview_after += [(label, format_value(ov[key], "int"))
                           for label, key in (("Products", "products"),
                                              ("Countries", "countries")) if ov[key]]


def _lost_customers(lines: ir.Table) -> dict[str, Any]:
    """Count the customers with an id in the input whose every line the cleaning removed.

    Returns the customers seen, those lost, and the lost ones counted by the rule that
    removed most of their input rows.
    """
    known = lines.filter(lines.customer_id.notnull())
    per = known.group_by(["customer_id", "_reason"]).aggregate(rows=known._n.sum())
    frame = per.to_pandas()
    kept = set(frame.loc[frame["_reason"].isna(), "customer_id"])
    removed = frame[frame["_reason"].notna() & ~frame["customer_id"].isin(kept)]
    top = removed.sort_values(["customer_id", "rows", "_reason"],
                              ascending=[True, False, True]).drop_duplicates("customer_id")
    reasons = top["_reason"].value_counts()
    return {"seen": int(frame["customer_id"].nunique()), "customers": len(top),
            "reasons": {str(r): int(n) for r, n in reasons.items()}}


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


def _exploration(ctx: ReportContext) -> Section:
    customers, eda, spend, cur = ctx.frame, ctx.cache["eda"], ctx.cache["spend"], ctx.currency
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
        rest = co["revenue"].iloc[1:].sum() / total
        reading = (f"All net revenue comes from {lead['country']}, the only country." if
                   len(co) == 1 else
                   f"{lead['country']} brings {lead['revenue'] / total:.0%} of net revenue; "
                   + (f"{co['country'].iloc[1]} brings {rest:.0%}." if len(co) == 2 else
                      f"the next {len(co) - 1} countries shown bring {rest:.0%} together."))
        fig = ch.bar_h(co["country"], co["revenue"], title="Net revenue by country (top 12)",
                       x_title=f"Net revenue ({cur}, log scale)", y_title="Country", log=True,
                       hover="%{x:,.0f} " + cur,
                       text=[f"{n:,} customer{'s' if n != 1 else ''}" for n in co["customers"]])
        blocks.append(Chart("countries", "Net revenue by country (top 12)", reading, fig))
    tp = eda["top_products"]
    if len(tp) >= 2:
        total = float(eda["overview"]["revenue"])
        labels = [f"{d} ({p})" if isinstance(d, str) else str(p)
                  for d, p in zip(tp["description"], tp["product_id"], strict=True)]
        reading = (f"The {len(tp)} best-selling products bring "
                   f"{tp['revenue'].sum() / total:.1%} of "
                   f"net revenue; '{str(tp['description'].iloc[0]).strip()}' leads with "
                   f"{tp['revenue'].iloc[0]:,.0f} {cur}.")
        fig = ch.bar_h(labels, tp["revenue"], title="Top 15 products by net revenue",
                       x_title=f"Net revenue ({cur})", y_title="Product (code)",
                       hover="%{x:,.0f} " + cur, color=ch.PALETTE[2])
        blocks.append(Chart("top_products", "Top 15 products by net revenue", reading, fig))
    if spend is not None and len(spend):
        from segwise.features.products import NON_PRODUCT, OTHER

        by_cat = spend.groupby("category")["spend"].sum().sort_values(ascending=False)
        share = by_cat / by_cat.sum()
        # The categories asked for, learned; 'Other' and non-product lines are not among them.
        extra = [f"'{c}'" for c in (OTHER, NON_PRODUCT) if c in by_cat.index]
        learned = ctx.cache.get("n_learned") or len(by_cat) - len(extra)
        reading = (f"{learned} categories were learned from product descriptions"
                   + (f" ({' and '.join(extra)} shown besides)" if extra else "")
                   + f"; '{by_cat.index[0]}' is the largest with {share.iloc[0]:.1%} of "
                   f"purchase spend and the top five hold {share.iloc[:5].sum():.0%}.")
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


def _rfm_grid(ctx: ReportContext) -> Section:
    customers = ctx.frame
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


def _category_mix(ctx: ReportContext) -> Section | None:
    spend = ctx.cache["spend"]
    if spend is None or not len(spend):
        return None
    customers, order, cur = ctx.frame, ctx.order, ctx.currency
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


def _value(ctx: ReportContext) -> Section | None:
    from segwise.clv import value_by_segment

    clv = ctx.extras.clv
    if clv is None:
        return None
    customers, order, cur = ctx.frame, ctx.order, ctx.currency

    c = customers[["customer_id", "segment"]].astype({"customer_id": str})
    j = c.merge(clv_frame(clv), on="customer_id", how="left")
    # clv_frame leaves P(alive) out of a degenerate fit: nothing at risk is then ranked.
    at_risk = "p_alive" in j
    vbs = value_by_segment(j, p_alive_col="p_alive" if at_risk else None)
    vbs["segment"] = vbs["segment"].astype(str)
    cols = [c for c in ("segment", "n_customers", "share_customers", "clv", "share_clv",
                        "mean_clv", "mean_p_alive", "value_at_risk", "share_value_at_risk")
            if c in vbs]
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
    reading = f"'{top['segment']}' hold {top['share_clv']:.0%} of predicted lifetime value"
    if at_risk:
        risk = vbs.loc[vbs["value_at_risk"].idxmax()]
        reading += (f"; the most value at risk (customers who may be gone) is in "
                    f"'{risk['segment']}'.")
    else:
        reading += "; value at risk is not shown: the fit finds no dropout (see above)."
    table.reading = reading
    vs = vbs.set_index("segment").reindex([s for s in order if s in set(vbs["segment"])])
    import plotly.graph_objects as go

    fig = go.Figure()  # horizontal: a segment's name beside its bar, however long
    names = [str(v) for v in vs.index]
    if at_risk:
        fig.add_bar(y=names, x=vs["clv"] - vs["value_at_risk"], name="Expected from active",
                    orientation="h", marker_color=ch.PALETTE[2],
                    hovertemplate="%{y}<br>%{x:,.0f} " + cur + "<extra></extra>")
        fig.add_bar(y=names, x=vs["value_at_risk"], name="At risk (1 − P(alive))",
                    orientation="h", marker_color=ch.PALETTE[3],
                    hovertemplate="%{y}<br>%{x:,.0f} " + cur + " at risk<extra></extra>")
    else:
        fig.add_bar(y=names, x=vs["clv"], name="Predicted lifetime value", orientation="h",
                    marker_color=ch.PALETTE[2],
                    hovertemplate="%{y}<br>%{x:,.0f} " + cur + "<extra></extra>")
    fig.update_layout(barmode="stack", legend={"traceorder": "normal"})
    fig.update_yaxes(title_text="Segment", autorange="reversed", automargin=True)
    fig.update_xaxes(title_text=f"Predicted lifetime value ({cur})")
    ch.style(fig, "Predicted lifetime value by segment", height=max(400, 26 * len(vs) + 140),
             legend=at_risk)
    chart = Chart("value", "Predicted lifetime value by segment", reading, fig)
    blocks: list[Chart | Table] = [table, chart]
    name = "a purchase model + Gamma-Gamma"
    if hasattr(clv, "settings"):
        name = f"{clv.purchase_model.display_name} + Gamma-Gamma"
        notes = "".join(f" {n}" for n in clv.notes)
        blocks.insert(0, Table(
            "value_settings", "How the value was computed",
            pd.DataFrame(clv.settings(), columns=["setting", "value"]),
            headers={"setting": "", "value": ""}, reading=notes.strip(), wide=False))
    return Section("value", "Customer lifetime value",
                   f"Predicted future value per segment ({name})"
                   + (" and how much of it is at risk." if at_risk else "."), blocks)



def _learn_clv(result: JobResult, extras: ReportExtras, options: Mapping[str, Any]) -> None:
    """Fit a purchase model and Gamma-Gamma on the cleaned lines, checked on a holdout.

    Options: ``clv_model``, ``clv_horizon``, ``clv_margin``, ``clv_discount_rate`` (the
    arguments of :func:`segwise.clv.customer_value`).
    """
    from segwise.clv import customer_value

    extras.clv = customer_value(
        result.cleaned, model=options.get("clv_model", "bgnbd"),
        horizon=options.get("clv_horizon", "12m"), margin=options.get("clv_margin", 1.0),
        discount_rate=options.get("clv_discount_rate", 0.10), holdout_check=True)


def _learn_track(result: JobResult, extras: ReportExtras, options: Mapping[str, Any]) -> None:
    """Snapshots, migration and cohorts at the spacing the purchase span suggests."""
    from segwise.track import auto_every, track_customers

    span = result.entities.frame[["first_purchase", "last_purchase"]]
    every = auto_every(span["first_purchase"].min().date(), span["last_purchase"].max().date())
    extras.track = track_customers(result.cleaned, every=every)


def _clv_models(ctx: ReportContext) -> Section | None:
    comparison = getattr(ctx.extras.clv, "comparison", None)
    if comparison is None:
        return None
    from segwise.clv import calibration_holdout

    c = comparison
    by_frequency = calibration_holdout(c.models[c.chosen], c.summaries[c.chosen])
    return clv_models_section(comparison, by_frequency)


def _over_time(ctx: ReportContext) -> Section | None:
    track = ctx.extras.track
    return None if track is None else over_time_section(track, ctx.currency)


def _wide(build: Any) -> Any:
    """Mark the charts of a section builder that need the full page width."""
    def wrapped(ctx: ReportContext) -> Section | None:
        section = build(ctx)
        for chart in section.charts if section is not None else []:
            chart.wide = chart.wide or chart.key in _WIDE
        return section

    return wrapped


register_sections("orders", [
    (30, "exploration", _wide(_exploration)),
    (40, "rfm", _rfm_grid),
    (95, "categories", _wide(_category_mix)),
    (97, "value", _wide(_value)),
    (98, "clv_models", _wide(_clv_models)),
    (99, "over_time", _wide(_over_time)),
], prepare=_prepare)
register_extra("orders", "clv", _learn_clv, what="Lifetime value",
               label="Fitting lifetime value models (BG/NBD, Gamma-Gamma)")
register_extra("orders", "track", _learn_track, what="Customers over time",
               label="Snapshots, migration and cohorts")
