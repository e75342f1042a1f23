"""The events kind's report sections: sessions per day, the funnel, the RFE grid, the story.

Registered with :func:`segwise.report.register_sections` for the ``events`` kind when a
report of an RFE result is built; the report's shared sections know nothing of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from segwise._engine import fetch_numpy
from segwise.features.rfe import session_table
from segwise.report import (
    Chart,
    Figure,
    ReportContext,
    Section,
    Table,
    format_value,
    register_sections,
)
from segwise.report import charts as ch

if TYPE_CHECKING:
    from segwise.jobs.rfe import RFEResult

__all__: list[str] = []


def _prepare(ctx: ReportContext) -> None:
    """Query the kept events once for the header, the sessions per day and the funnel."""
    result: RFEResult = ctx.result  # type: ignore[assignment]
    kept = result.cleaned.counted
    ctx.progress("explore")
    sessions = session_table(kept, gap_minutes=result.config.section("sessions").gap_minutes,
                             given=result.cleaned.has("session_id"))
    per_day = sessions.group_by(day=sessions.start.date()).aggregate(
        sessions=sessions.count(), users=sessions.user_id.nunique()).order_by("day")
    ctx.cache["per_day"] = pd.DataFrame(fetch_numpy(per_day))
    funnel = kept.group_by("event").aggregate(
        events=kept._n.sum(), users=kept.user_id.nunique(),
        clicks=ibis.ifelse(kept.is_click, kept._n, 0).sum(),
        conversions=ibis.ifelse(kept.is_conversion, kept._n, 0).sum())
    ctx.cache["funnel"] = pd.DataFrame(fetch_numpy(funnel)).sort_values(
        ["events", "event"], ascending=[False, True], ignore_index=True)
    users = ctx.frame
    f = ctx.cache["funnel"]
    n_events, n_clicks = int(f["events"].sum()), int(f["clicks"].sum())
    ctx.figures[:0] = [
        Figure("users", "Users", len(users)),
        Figure("events", "Events", n_events),
        Figure("sessions", "Sessions", int(users["sessions"].sum())),
        Figure("clicks", "Clicks", n_clicks),
        Figure("ctr", "Click-through rate", n_clicks / max(n_events, 1), "pct"),
    ]
    first, last = pd.Timestamp(users["first_seen"].min()), pd.Timestamp(users["last_seen"].max())
    ctx.subtitle = (f"{ctx.source} · events {first:%Y-%m-%d} to {last:%Y-%m-%d} · "
                    f"recency as of {result.as_of}")
    ctx.overview_before += [("Events from", f"{first:%Y-%m-%d %H:%M}"),
                            ("Events to", f"{last:%Y-%m-%d %H:%M}"),
                            ("Recency measured as of", str(result.as_of))]
    ctx.overview_after += [("Sessions", format_value(users["sessions"].sum(), "int")),
                           ("Clicks", format_value(n_clicks, "int"))]


def _activity(ctx: ReportContext) -> Section | None:
    """Sessions per day, and the funnel of event types with clicks and conversions."""
    blocks: list[Chart | Table] = []
    days = ctx.cache["per_day"]
    if len(days):
        peak = days.loc[days["sessions"].idxmax()]
        fig = go.Figure()
        fig.add_bar(x=days["day"], y=days["sessions"], name="Sessions",
                    marker_color=ch.PALETTE[0],
                    hovertemplate="%{x|%a %d %b}<br>%{y:,} sessions<extra></extra>")
        fig.add_scatter(x=days["day"], y=days["users"], name="Users", mode="lines+markers",
                        line={"color": ch.PALETTE[1], "width": 2},
                        hovertemplate="%{x|%a %d %b}<br>%{y:,} users<extra></extra>")
        fig.update_xaxes(title_text="Day")
        fig.update_yaxes(title_text="Sessions started, users active (count)",
                         rangemode="tozero")
        ch.style(fig, "Sessions per day", legend=True)
        reading = (f"{days['sessions'].median():,.0f} sessions start on a median day; the "
                   f"busiest, {pd.Timestamp(peak['day']):%a %d %b %Y}, has "
                   f"{int(peak['sessions']):,}.")
        blocks.append(Chart("sessions_per_day", "Sessions per day", reading, fig, wide=True))
    f = ctx.cache["funnel"]
    steps = [(f"{e} events", int(n)) for e, n in zip(f["event"], f["events"], strict=True)]
    clicks, conversions = int(f["clicks"].sum()), int(f["conversions"].sum())
    steps += [("clicks", clicks)] + ([("conversions", conversions)] if conversions else [])
    total = max(steps[0][1], 1) if steps else 1
    fig = ch.bar_h([s for s, _ in steps], [n for _, n in steps],
                   title="Funnel: events by type, clicks and conversions",
                   x_title="Events (count, log scale)", y_title="Step", log=True,
                   hover="%{x:,}", text=[format_value(n / total, "pct") for _, n in steps])
    reading = (f"Of {sum(f['events']):,} events, {clicks:,} were clicks "
               f"({clicks / max(int(f['events'].sum()), 1):.2%})"
               + (f" and {conversions:,} conversions." if conversions else "."))
    blocks.append(Chart("funnel", "Funnel of event types", reading, fig))
    return Section("activity", "Activity", "When users come, and what they do once there.",
                   blocks)


def _rfe_grid(ctx: ReportContext) -> Section:
    users = ctx.frame
    idx, cols = list(range(5, 0, -1)), list(range(1, 6))
    n = users.groupby(["r_score", "f_score"]).size().unstack().reindex(
        index=idx, columns=cols).fillna(0)
    e = users.groupby(["r_score", "f_score"])["e_score"].mean().unstack().reindex(
        index=idx, columns=cols)
    r_col, f_col, e_col = ctx.result.artifacts["score_columns"]
    busiest = n.stack().idxmax()
    corner = n.loc[[5, 4], [4, 5]].to_numpy().sum() / max(len(users), 1)
    text = np.array([[f"{int(c):,}" + (f"<br>E {v:.1f}" if np.isfinite(v) else "")
                      for c, v in zip(nr, er, strict=True)]
                     for nr, er in zip(n.to_numpy(), e.to_numpy(), strict=True)], dtype=object)
    fig = ch.heatmap(n, title="Users by R and F score (text: mean E score)",
                     x_title=f"F score: {f_col.replace('_', ' ')} (1 = fewest, 5 = most)",
                     y_title=f"R score: {r_col.replace('_', ' ')} (5 = most recent)",
                     z_title="Users", hover="R=%{y}, F=%{x}<br>%{z:,.0f} users", text=text,
                     colorscale="Blues", zmid=None, height=420)
    reading = (f"The most crowded cell is R={busiest[0]}, F={busiest[1]}; recent and frequent "
               f"users (R and F of 4-5) are {corner:.0%} of all. E scores "
               f"{e_col.replace('_', ' ')}.")
    return Section("rfe", "RFE score grid",
                   f"Users scored 1-5 on recency ({r_col}), frequency ({f_col}) and "
                   f"engagement ({e_col}); segments are cells of R and the mean of F and E.",
                   [Chart("rfe_grid", "Users by R and F score", reading, fig)])


def _story(ctx: ReportContext) -> Section:
    result: RFEResult = ctx.result  # type: ignore[assignment]
    reach = result.reach_table().to_pandas()
    table = Table(
        "reach", "How to reach each segment", reach,
        formats={"users": "int", "share": "pct", "click_share": "pct",
                 "conversion_share": "pct", "median_ctr": "pct"},
        headers={"segment": "Segment", "users": "Users", "share": "Share of users",
                 "click_share": "Share of clicks", "conversion_share": "Share of conversions",
                 "median_ctr": "Median CTR (smoothed)", "active_when": "Most active",
                 "device": "Top device", "category": "Top category", "action": "What to do"},
    )
    table.reading = _story_text(reach)
    return Section("story", "Segment story",
                   "Who is loyal, who can be converted, how to reach each segment, and who "
                   "is not worth the spend.", [table])


def _story_text(reach: pd.DataFrame) -> str:
    """Answer the four questions in sentences, from the reach table."""
    row = {s: r for s, r in zip(reach["segment"], reach.to_dict("records"), strict=True)}
    parts = []

    def share(names: tuple[str, ...], col: str) -> float:
        return float(sum(row[n][col] for n in names if n in row))

    loyal = ("Loyal", "Engaged regulars")
    parts.append(f"Loyal: {share(loyal, 'share'):.0%} of users (Loyal, Engaged regulars) "
                 f"bring {share(loyal, 'click_share'):.0%} of clicks.")
    if "Convertible" in row:
        c = row["Convertible"]
        parts.append(f"Convertible: {c['share']:.0%} of users are recent and browsing but "
                     f"bring {c['click_share']:.0%} of clicks; reach them {c['active_when']} "
                     f"on device {c['device']} in category {c['category']}.")
    waste = ("Dormant", "Not worth the spend")
    parts.append(f"Not worth the spend: {share(waste, 'share'):.0%} of users (Dormant, Not "
                 f"worth the spend) bring {share(waste, 'click_share'):.0%} of clicks.")
    return " ".join(parts)


register_sections("events", [
    (30, "activity", _activity),
    (40, "rfe", _rfe_grid),
    (55, "story", _story),
], prepare=_prepare)
