"""The report's "Over time" section (snapshots, migration, cohorts) and its CLV model table.

Each function takes a finished result (:class:`segwise.track.TrackResult`,
:class:`segwise.clv.ModelComparison`) and returns a :class:`Section`; nothing here reads
order lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from segwise.report import _charts as ch
from segwise.report._model import Chart, Section, Table

if TYPE_CHECKING:
    from segwise.clv import ModelComparison
    from segwise.track import TrackResult

__all__ = ["WIDE_CHARTS", "clv_models_section", "over_time_section"]

#: Charts of these sections that need the full page width.
WIDE_CHARTS = frozenset({"sizes_over_time", "migration_sankey", "cohort_retention",
                         "cohort_mix", "clv_models_tracking"})


def _day(value: Any) -> str:
    return str(pd.Timestamp(value).date())


def _colours(names: list[str]) -> dict[str, str]:
    return {n: ch.SEGMENT_PALETTE[i % len(ch.SEGMENT_PALETTE)] for i, n in enumerate(names)}


def _cell_text(frame: pd.DataFrame, fmt: str) -> np.ndarray:
    """Cell labels of a heatmap: each value formatted, empty where it is missing."""
    return np.array([["" if pd.isna(v) else fmt.format(v) for v in row]
                     for row in frame.to_numpy(dtype=float)])


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _sizes_chart(track: TrackResult, cur: str) -> Chart:
    sizes = track.sizes()
    grid = sizes.pivot(index="snapshot", columns="segment", values="customers")
    order = [s for s in track.segment_order if s in grid.columns]
    colours = _colours(track.segment_order)
    fig = go.Figure()
    for seg in order:
        fig.add_scatter(x=[_day(d) for d in grid.index], y=grid[seg], name=seg, mode="lines",
                        stackgroup="customers", line={"width": 0.8, "color": colours[seg]},
                        hovertemplate=f"{seg}<br>%{{x}}: %{{y:,}} customers<extra></extra>")
    fig.update_xaxes(title_text="Snapshot (as-of date)", type="category")
    fig.update_yaxes(title_text="Customers (count, stacked)")
    ch.style(fig, "Customers per segment at each snapshot", height=420, legend=True)
    first, last = grid.iloc[0], grid.iloc[-1]
    gainer = (last - first).idxmax()
    largest = ("is" if last.idxmax() == gainer
               else f"'{last.idxmax()}' is")
    reading = (f"The base grew from {int(first.sum()):,} to {int(last.sum()):,} customers; "
               f"'{gainer}' gained the most ({int(first[gainer]):,} to {int(last[gainer]):,})"
               f" and {largest} the largest segment at {_day(grid.index[-1])}.")
    return Chart("sizes_over_time", "Customers per segment at each snapshot", reading, fig)


def _sankey_chart(track: TrackResult) -> Chart:
    flows = track.flows()
    dates = [pd.Timestamp(d) for d in track.dates]
    order = {s: i for i, s in enumerate([*track.segment_order, "(new)", "(gone)"])}
    colours = {**_colours(track.segment_order), "(new)": "#9E9E9E", "(gone)": "#616161"}
    nodes: dict[tuple[int, str], int] = {}
    # A node is a segment at a snapshot, as big as the flows out of it (or into it, at the
    # last snapshot); new customers enter from a node in the earlier column, gone ones
    # leave to one in the later column.
    out_of = flows.groupby([flows["from_snapshot"].map(dates.index).rename("col"),
                            flows["from_segment"].rename("segment")])["customers"].sum()
    into = flows.groupby([flows["to_snapshot"].map(dates.index).rename("col"),
                          flows["to_segment"].rename("segment")])["customers"].sum()
    ends = pd.concat([out_of, into], axis=1).max(axis=1).rename("n").reset_index()
    ends["rank"] = ends["segment"].map(order)
    ends = ends.sort_values(["col", "rank"], ignore_index=True)
    xs: list[float] = []
    ys: list[float] = []
    labels: list[str] = []
    node_colours: list[str] = []
    hover: list[str] = []
    for col, part in ends.groupby("col"):
        total = part["n"].sum()
        top = 0.0
        for row in part.itertuples():
            nodes[(int(col), str(row.segment))] = len(labels)
            xs.append(0.01 + 0.98 * int(col) / max(len(dates) - 1, 1))
            ys.append(min(max((top + row.n / 2) / total, 0.01), 0.99))
            top += row.n
            labels.append(str(row.segment))
            node_colours.append(colours.get(str(row.segment), "#9E9E9E"))
            hover.append(_day(dates[int(col)]))
    source = [nodes[(dates.index(a), s)] for a, s in zip(flows["from_snapshot"],
                                                           flows["from_segment"], strict=True)]
    target = [nodes[(dates.index(b), s)] for b, s in zip(flows["to_snapshot"],
                                                         flows["to_segment"], strict=True)]
    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node={"label": labels, "x": xs, "y": ys, "color": node_colours, "pad": 6,
              "thickness": 12, "customdata": hover,
              "hovertemplate": "%{label} at %{customdata}<br>%{value:,} customers"
                               "<extra></extra>"},
        link={"source": source, "target": target, "value": flows["customers"].tolist(),
              "color": [_rgba(colours.get(s, "#9E9E9E"), 0.35) for s in flows["from_segment"]],
              "hovertemplate": "%{source.label} → %{target.label}<br>%{value:,} customers"
                               "<extra></extra>"},
    ))
    for i, d in enumerate(dates):
        fig.add_annotation(x=0.01 + 0.98 * i / max(len(dates) - 1, 1), y=1.06, xref="paper",
                           yref="paper", text=_day(d), showarrow=False, font={"size": 11})
    # No cartesian axes are drawn; their titles still say what the two directions mean.
    fig.update_xaxes(title_text="Snapshot (as-of date), left to right", visible=False)
    fig.update_yaxes(title_text="Segments, band height = customers", visible=False)
    ch.style(fig, "How customers moved between segments", height=620)
    fig.update_layout(margin={"t": 80})
    stays = flows[flows["from_segment"] == flows["to_segment"]]["customers"].sum()
    known = flows[~flows["from_segment"].isin(["(new)"])]["customers"].sum()
    reading = (f"Each band is a group of customers moving from one segment (left) to the next "
               f"snapshot's (right); {stays / max(known, 1):.0%} of the customers present at "
               "consecutive snapshots stayed in their segment.")
    return Chart("migration_sankey", "How customers moved between segments", reading, fig)


def _flows_table(track: TrackResult, cur: str) -> Table:
    top = track.biggest_flows(5)
    frame = top.assign(from_snapshot=top["from_snapshot"].map(_day),
                       to_snapshot=top["to_snapshot"].map(_day))
    return Table(
        "biggest_flows", "Biggest moves between segments (last two snapshots)",
        frame[["from_segment", "to_segment", "customers", "share_of_from", "revenue_before",
               "revenue_between", "from_snapshot", "to_snapshot"]],
        formats={"customers": "int", "share_of_from": "pct", "revenue_before": "money",
                 "revenue_between": "money"},
        headers={"from_segment": "From", "to_segment": "To", "customers": "Customers",
                 "share_of_from": "Share of the 'from' segment",
                 "revenue_before": f"Spent up to then ({cur})",
                 "revenue_between": f"Spent since ({cur})", "from_snapshot": "Snapshot",
                 "to_snapshot": "Next snapshot"},
        reading=track.headline(cur if cur != "currency units" else None),
    )


def _matrix_table(track: TrackResult) -> Table:
    matrix = track.migration()
    frame = matrix.reset_index()
    frame.columns = [str(c) for c in frame.columns]
    first = frame.columns[0]
    return Table(
        "migration_matrix",
        f"Migration from {_day(track.dates[-2])} (rows) to {_day(track.dates[-1])} (columns)",
        frame, formats={c: "int" for c in frame.columns[1:]}, headers={first: "Segment"},
        reading="Each customer of either snapshot is counted once: rows sum to the earlier "
                "snapshot's segment sizes, '(new)' customers first bought in between and "
                "'(gone)' ones are missing from the later snapshot.",
    )


def _cohort_charts(track: TrackResult, cur: str) -> list[Chart | Table]:
    c = track.cohorts
    # Age 0 is 100 % by definition: left out, so the colours show the ages that differ.
    retention = c.triangle("retention").drop(columns=0)
    if retention.empty or retention.shape[1] == 0:
        return []
    text = _cell_text(retention, "{:.0%}")
    second = retention[1].dropna()
    best, worst = second.idxmax(), second.idxmin()
    period = c.period
    reading = (f"Share of each {period}'s new customers who bought again in each later "
               f"{period}; {second[best]:.0%} of the {best} cohort bought in the {period} "
               f"after their first purchase, against {second[worst]:.0%} of the {worst} "
               "cohort.")
    blocks: list[Chart | Table] = [Chart(
        "cohort_retention", "Retention by acquisition cohort", reading,
        ch.heatmap(retention * 100, title=f"Retention by acquisition cohort (% buying in each "
                                          f"{period} after the one they were acquired in)",
                   x_title=f"Age ({period}s after the acquisition {period})",
                   y_title=f"Acquisition cohort ({period})", z_title="% active",
                   hover="cohort %{y}, age %{x}<br>%{z:.0f}% bought", text=text,
                   colorscale="Blues", zmid=None),
    )]
    last = track.snapshots[track.snapshots["snapshot"] == pd.Timestamp(track.dates[-1])]
    mix = c.mix(last)
    mix = mix[[s for s in track.segment_order if s in mix.columns]]
    top = mix.idxmax(axis=1)
    reading = (f"Where each cohort's customers sit at {_day(track.dates[-1])} (rows sum to "
               f"100%); the oldest cohort, {mix.index[0]}, is mostly '{top.iloc[0]}' and the "
               f"newest, {mix.index[-1]}, mostly '{top.iloc[-1]}'.")
    blocks.append(Chart(
        "cohort_mix", "Segment mix of each cohort", reading,
        ch.heatmap(mix * 100, title=f"Segment mix of each cohort at {_day(track.dates[-1])}",
                   x_title="Segment", y_title=f"Acquisition cohort ({period})",
                   z_title="% of cohort", hover="cohort %{y}<br>%{x}: %{z:.0f}%",
                   text=_cell_text(mix * 100, "{:.0f}"),
                   colorscale="Purples", zmid=None),
    ))
    revenue = c.triangle("cumulative_revenue_per_customer").round(2)
    revenue.columns = [f"age {a}" for a in revenue.columns]
    blocks.append(Table(
        "cohort_revenue", f"Cumulative revenue per acquired customer ({cur})",
        revenue.reset_index(), formats={col: "money" for col in revenue.columns},
        headers={"cohort": "Cohort"},
        reading="Net revenue per customer acquired, summed from the acquisition period on; "
                "the last column of each row may be a period still under way.",
    ))
    return blocks


def over_time_section(track: TrackResult, cur: str) -> Section:
    """Build the "Over time" section: sizes, Sankey, biggest moves, migration, cohorts.

    Parameters
    ----------
    track : TrackResult
        Snapshots, flows and cohorts (:func:`segwise.track.track_customers`).
    cur : str
        Currency label for headers.

    Returns
    -------
    Section
        Keyed ``over_time``.
    """
    how = ("scored on each snapshot's own quintiles" if track.edges == "refit"
           else "scored on the first snapshot's quintiles")
    blocks: list[Chart | Table] = [_sizes_chart(track, cur), _sankey_chart(track),
                                   _flows_table(track, cur), _matrix_table(track)]
    blocks += _cohort_charts(track, cur)
    dates = ", ".join(_day(d) for d in track.dates)
    return Section(
        "over_time", "Over time",
        f"RFM segments at {len(track.dates)} snapshots ({dates}; each holds everything "
        f"bought before its date, {how}), how customers moved between them, and how "
        "acquisition cohorts behave.", blocks)


def clv_models_section(comparison: ModelComparison,
                       by_frequency: pd.DataFrame | None = None) -> Section:
    """Build the CLV model comparison: the holdout table, its tracking plot and deciles.

    Parameters
    ----------
    comparison : ModelComparison
        From :func:`segwise.clv.compare_purchase_models` (or ``customer_value(model="auto")``).
    by_frequency : pandas.DataFrame, optional
        :func:`segwise.clv.calibration_holdout` of the chosen model: holdout purchases per
        customer by calibration frequency, shown as a table when given.

    Returns
    -------
    Section
        Keyed ``clv_models``.
    """
    t = comparison.table
    single = len(t) == 1
    table = Table(
        "clv_models", "The purchase model on the holdout" if single
        else "Purchase models compared on the holdout",
        t[["label", "status", "mae", "rmse", "bias", "predicted", "actual", "aggregate_error",
           "decile_error", *([] if single else ["rank", "chosen"]), "note"]],
        formats={"mae": "num2", "rmse": "num2", "bias": "num2", "predicted": "int",
                 "actual": "int", "aggregate_error": "pct", "decile_error": "num2",
                 "rank": "num2"},
        headers={"label": "Model", "status": "Status", "mae": "MAE per customer",
                 "rmse": "RMSE per customer", "bias": "Bias per customer",
                 "predicted": "Predicted purchases", "actual": "Actual purchases",
                 "aggregate_error": "Aggregate error", "decile_error": "Decile error",
                 "rank": "Mean rank", "chosen": "Chosen", "note": "Note"},
        reading=comparison.reason,
    )
    track = comparison.tracking
    labels = t.set_index("model")["label"]
    fig = go.Figure()
    first = track[track["model"] == track["model"].iloc[0]]
    fig.add_scatter(x=first["date"], y=first["actual"], name="Actual", mode="lines",
                    line={"color": "#000000", "width": 2.5},
                    hovertemplate="%{x|%Y-%m-%d}<br>%{y:,} actual<extra></extra>")
    for i, (model, part) in enumerate(track.groupby("model", sort=False)):
        fig.add_scatter(x=part["date"], y=part["predicted"], name=labels[model], mode="lines",
                        line={"color": ch.PALETTE[i % len(ch.PALETTE)], "dash": "dash"},
                        hovertemplate="%{x|%Y-%m-%d}<br>%{y:,.0f} " + labels[model]
                        + "<extra></extra>")
    start = pd.Timestamp(comparison.period.calibration_end)
    fig.add_vline(x=start.timestamp() * 1000, line_dash="dot", line_color="#888")
    fig.update_xaxes(title_text="Date (end of each period)")
    fig.update_yaxes(title_text="Cumulative repeat purchases (count)")
    ch.style(fig, "Cumulative repeat purchases: actual and each model", height=420, legend=True)
    chosen = labels[comparison.chosen]
    last = track.groupby("model").last()
    reading = (f"Right of the dotted line is the holdout the models never saw; "
               f"{chosen} ends at {last.loc[comparison.chosen, 'predicted']:,.0f} repeat "
               f"purchases against {int(last['actual'].iloc[0]):,} actual.")
    chart = Chart("clv_models_tracking", "Cumulative repeat purchases: actual and each model",
                  reading, fig)
    blocks: list[Chart | Table] = [table, chart]
    p = comparison.period
    if by_frequency is not None:
        blocks.insert(1, Table(
            "clv_holdout", f"Holdout purchases per customer by calibration frequency ({chosen})",
            by_frequency, formats={"n_customers": "int", "actual": "num2", "predicted": "num2"},
            headers={"frequency": "Repeat purchases to " + str(p.calibration_end),
                     "n_customers": "Customers", "actual": "Actual per customer",
                     "predicted": "Predicted per customer"},
            reading=f"Customers grouped by their repeat purchases up to {p.calibration_end}; "
                    f"each row sets the purchases they made from then to {p.holdout_end} "
                    "against the forecast.", wide=False))
    return Section(
        "clv_models", "How far to trust the lifetime values" if single
        else "Which lifetime-value model to trust",
        ("The purchase model fitted to an earlier calibration period and checked on the "
         "purchases that followed (calibration and holdout); the values above learn from "
         "every purchase." if single else
         "Every purchase model fitted to the calibration period and compared on the "
         "purchases that followed."), blocks)
