"""Plotly figures of the report, each from a small, already aggregated table.

Every figure gets a title, labelled axes with units and the same light style. Nothing here
touches order lines: the builder aggregates first, so the HTML stays small.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = [
    "PALETTE",
    "SEGMENT_PALETTE",
    "bar_h",
    "count_bins",
    "count_ticks",
    "grid_heatmap",
    "heatmap",
    "histogram_log",
    "lines_by_k",
    "monthly",
    "scatter_2d",
    "segment_bars",
    "style",
    "weekday_hour",
]

#: Qualitative colours for segments, distinguishable and print-safe (Okabe-Ito first).
PALETTE: tuple[str, ...] = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
    "#000000", "#8C564B", "#7F7F7F", "#BCBD22", "#17BECF", "#9467BD", "#AEC7E8",
)
#: Segment colours: neighbours in the list contrast strongly, so the first few segments
#: (the usual 3-6 learned ones) are easy to tell apart.
SEGMENT_PALETTE: tuple[str, ...] = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442",
    "#8C564B", "#7F7F7F", "#BCBD22", "#17BECF", "#9467BD", "#AEC7E8",
)
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def style(fig: go.Figure, title: str, *, height: int = 380, legend: bool = False) -> go.Figure:
    """Apply the report's common layout: title, font, margins, white background.

    A legend sits between the title and the plot, where nothing else is drawn: below the
    plot it met the x-axis labels (long segment names, slanted) and was cut off. The top
    margin grows with the legend's rows (plotly's automargin), and the title stays pinned
    to the top of the figure.
    """
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15},
               "yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 12}},
        template="plotly_white",
        font={"family": _FONT, "size": 12, "color": "#222"},
        height=height,
        margin={"l": 70, "r": 20, "t": 78 if legend else 50, "b": 55, "autoexpand": True},
        showlegend=legend,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0,
                "xanchor": "left"},
        hoverlabel={"font": {"family": _FONT}},
    )
    return fig


def count_ticks(top: float) -> dict[str, Any]:
    """Return axis (or colour bar) settings for counts up to ``top``: whole numbers only.

    Plotly's automatic ticks below 6 fall on halves and fifths (0.2 customers), and a
    whole-number format then repeats labels (0, 0, 1, 1, 1): a few customers, a first
    month of orders or a filtered export get one tick per unit instead.
    """
    if 0 < top < 6:
        return {"tickmode": "linear", "tick0": 0, "dtick": 1, "tickformat": ",d"}
    return {"tickformat": ",d"}


def monthly(df: pd.DataFrame, currency: str) -> go.Figure:
    """Revenue bars and purchase orders line by month (columns month, revenue, orders)."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(x=df["month"], y=df["revenue"], name=f"Net revenue ({currency})",
                marker_color=PALETTE[0], opacity=0.85,
                hovertemplate="%{x|%b %Y}<br>%{y:,.0f} " + currency + "<extra></extra>")
    fig.add_scatter(x=df["month"], y=df["orders"], name="Purchase orders", mode="lines+markers",
                    line={"color": PALETTE[1], "width": 2.5}, secondary_y=True,
                    hovertemplate="%{x|%b %Y}<br>%{y:,} orders<extra></extra>")
    fig.update_xaxes(title_text="Month", dtick="M1", tickformat="%b\n%Y")
    fig.update_yaxes(title_text=f"Net revenue ({currency})", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title_text="Purchase orders (count)", secondary_y=True, showgrid=False,
                     rangemode="tozero",
                     **{"tickmode": "auto", "nticks": 6} | count_ticks(df["orders"].max()))
    return style(fig, "Revenue and orders by month", legend=True)


def weekday_hour(df: pd.DataFrame) -> go.Figure:
    """Heatmap of purchase orders by weekday and hour (columns weekday 0-6, hour, orders)."""
    hours = list(range(int(df["hour"].min()), int(df["hour"].max()) + 1)) if len(df) else []
    grid = (df.pivot_table(index="weekday", columns="hour", values="orders", aggfunc="sum")
            .reindex(index=range(7), columns=hours))
    fig = go.Figure(go.Heatmap(
        z=grid.to_numpy(dtype=float), x=[f"{h:02d}:00" for h in hours], y=list(_WEEKDAYS),
        colorscale="Blues", hoverongaps=False,
        colorbar={"title": {"text": "Orders"},
                  **count_ticks(np.nanmax(grid.to_numpy(dtype=float), initial=0))},
        hovertemplate="%{y} %{x}<br>%{z:,.0f} orders<extra></extra>",
    ))
    fig.update_xaxes(title_text="Hour of day (local time of the data)")
    fig.update_yaxes(title_text="Weekday", autorange="reversed")
    return style(fig, "Purchase orders by weekday and hour")


def bar_h(labels: Sequence[str], values: Sequence[float], *, title: str, x_title: str,
          y_title: str, color: str = PALETTE[0], hover: str = "%{x:,.0f}",
          text: Sequence[str] | None = None, log: bool = False,
          counts: bool = False) -> go.Figure:
    """Draw horizontal bars, first label on top.

    ``log`` makes the value axis logarithmic; ``counts`` ticks it in whole numbers.
    """
    fig = go.Figure(go.Bar(
        x=list(values), y=list(labels), orientation="h", marker_color=color,
        text=list(text) if text is not None else None, textposition="auto",
        hovertemplate="%{y}<br>" + hover + "<extra></extra>",
    ))
    ticks = ({"dtick": 1} if log else count_ticks(max(values, default=0)) if counts
             else {})
    fig.update_xaxes(title_text=x_title, type="log" if log else "linear", **ticks)
    fig.update_yaxes(title_text=y_title, autorange="reversed", automargin=True)
    return style(fig, title, height=max(320, 24 * len(labels) + 110))


def histogram_log(values: np.ndarray, *, title: str, x_title: str, log: bool,
                  color: str = PALETTE[0], bins: int = 40,
                  entities: str = "customers") -> go.Figure:
    """Histogram of ``entities``, binned on a log scale when ``log`` (values must be > 0)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if log:
        v = v[v > 0]
        edges = np.geomspace(v.min(), v.max() * 1.0001, bins + 1) if len(v) else np.array([1, 2])
    else:
        edges = np.histogram_bin_edges(v, bins=bins) if len(v) else np.array([0, 1])
    counts, edges = np.histogram(v, bins=edges)
    centres = np.sqrt(edges[:-1] * edges[1:]) if log else (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(go.Bar(
        x=centres, y=counts, width=np.diff(edges), marker_color=color,
        marker_line={"width": 0.5, "color": "white"},
        customdata=np.stack([edges[:-1], edges[1:]], axis=1),
        hovertemplate="%{customdata[0]:,.1f} – %{customdata[1]:,.1f}<br>"
                      "%{y:,} " + entities + "<extra></extra>",
    ))
    fig.update_xaxes(title_text=x_title, type="log" if log else "linear",
                     dtick=1 if log else None)
    fig.update_yaxes(title_text=f"{entities.capitalize()} (count)",
                     **count_ticks(counts.max(initial=0)))
    return style(fig, title, height=330)


def count_bins(values: np.ndarray, *, title: str, x_title: str,
               color: str = PALETTE[1]) -> go.Figure:
    """Draw customers per count bin (1, 2, ..., 5, 6-7, 8-10, ...): a readable scale for counts."""
    v = np.asarray(values, dtype=float)
    starts = [1, 2, 3, 4, 5, 6, 8, 11, 16, 21, 31, 51, 101, 201, 501]
    edges: list[float] = [float(e) for e in starts if e <= max(v.max(initial=1), 1)]
    edges.append(np.inf)
    labels = []
    for lo, hi in itertools.pairwise(edges):
        labels.append(f"{lo:.0f}+" if not np.isfinite(hi) else f"{lo:.0f}" if hi - lo == 1
                      else f"{lo:.0f}-{hi - 1:.0f}")
    counts, _ = np.histogram(v, bins=np.asarray(edges, dtype=float))
    fig = go.Figure(go.Bar(x=labels, y=counts, marker_color=color,
                           hovertemplate="%{x}: %{y:,} customers<extra></extra>"))
    fig.update_xaxes(title_text=x_title, type="category")
    fig.update_yaxes(title_text="Customers (count)", **count_ticks(counts.max(initial=0)))
    return style(fig, title, height=330)


def grid_heatmap(grid: pd.DataFrame, *, title: str, z_title: str, hover: str,
                 text_fmt: str, colorscale: str = "Blues") -> go.Figure:
    """R score (rows) against F score (columns) grid with the value written in each cell."""
    z = grid.to_numpy(dtype=float)
    fig = go.Figure(go.Heatmap(
        z=z, x=[str(c) for c in grid.columns], y=[str(i) for i in grid.index],
        colorscale=colorscale, colorbar={"title": {"text": z_title}},
        text=[[text_fmt.format(v) if np.isfinite(v) else "" for v in row] for row in z],
        texttemplate="%{text}", hovertemplate=hover + "<extra></extra>",
    ))
    fig.update_xaxes(title_text="F score (1 = fewest orders, 5 = most)", type="category")
    fig.update_yaxes(title_text="R score (1 = longest ago, 5 = most recent)", type="category",
                     autorange="reversed")
    return style(fig, title, height=400)


def heatmap(frame: pd.DataFrame, *, title: str, x_title: str, y_title: str, z_title: str,
            hover: str, text: np.ndarray | None = None, colorscale: str = "RdBu",
            zmid: float | None = 0.0, height: int | None = None,
            zmax: float | None = None) -> go.Figure:
    """General heatmap of a small frame (rows on y, columns on x).

    ``zmax`` caps the colour scale (at ``zmid - zmax`` to ``zmid + zmax`` around a
    midpoint, else 0 to ``zmax``): cells beyond show the end colour, so one extreme cell
    does not wash out all the others.
    """
    kwargs: dict[str, Any] = {}
    if text is not None:
        kwargs = {"text": text, "texttemplate": "%{text}"}
    if zmax is not None:
        low = 0.0 if zmid is None else zmid - zmax
        kwargs.update(zmin=low, zmax=zmax if zmid is None else zmid + zmax)
        zmid = None  # plotly ignores zmid when both ends are set
    fig = go.Figure(go.Heatmap(
        z=frame.to_numpy(dtype=float), x=[str(c) for c in frame.columns],
        y=[str(i) for i in frame.index], colorscale=colorscale, zmid=zmid,
        reversescale=colorscale == "RdBu", colorbar={"title": {"text": z_title}},
        hovertemplate=hover + "<extra></extra>", **kwargs,
    ))
    # Slanted column names (segments, categories) take height of their own: without it,
    # 80-character segment names left the cells a strip 64 px high and cut names off.
    longest = max((len(str(c)) for c in frame.columns), default=0)
    slant = frame.shape[1] > 6 or longest > 14
    fig.update_xaxes(title_text=x_title, tickangle=-35 if slant else 0, automargin=True)
    fig.update_yaxes(title_text=y_title, autorange="reversed", automargin=True)
    names = int(4 * max(0, longest - 12)) if slant else 0
    return style(fig, title, height=(height or max(360, 30 * frame.shape[0] + 170)) + names)


def segment_bars(df: pd.DataFrame, who: str = "customers") -> go.Figure:
    """Draw the share of entities against the share of revenue per segment.

    ``df`` has columns ``segment``, ``share`` and ``revenue_share``; ``who`` names the
    entities in the plural. Bars are horizontal, one row per segment, first on top: the
    names, however long or many, sit beside their bars (slanted under vertical bars,
    80-character names left the bars a strip 64 px high).
    """
    names = df["segment"].astype(str)
    fig = go.Figure()
    fig.add_bar(y=names, x=df["share"] * 100, name=f"{who.capitalize()} (%)",
                orientation="h", marker_color=PALETTE[5],
                hovertemplate="%{y}<br>%{x:.1f}% of " + who + "<extra></extra>")
    fig.add_bar(y=names, x=df["revenue_share"] * 100, name="Revenue (%)", orientation="h",
                marker_color=PALETTE[0],
                hovertemplate="%{y}<br>%{x:.1f}% of revenue<extra></extra>")
    fig.update_layout(barmode="group", legend={"traceorder": "normal"})
    fig.update_xaxes(title_text="Share (%)", ticksuffix="%")
    fig.update_yaxes(title_text="Segment", autorange="reversed", automargin=True)
    return style(fig, f"Share of {who} and of revenue by segment",
                 height=max(400, 34 * len(df) + 140), legend=True)


def scatter_2d(df: pd.DataFrame, order: Sequence[str], *, title: str, x_title: str,
               y_title: str) -> go.Figure:
    """Draw customers in two dimensions, one trace per segment.

    ``df`` has columns ``x``, ``y``, ``segment`` and ``customer_id``.
    """
    fig = go.Figure()
    for i, seg in enumerate(order):
        part = df[df["segment"] == seg]
        if part.empty:
            continue
        fig.add_scatter(
            x=part["x"].round(3), y=part["y"].round(3), mode="markers", name=str(seg),
            marker={"size": 5, "opacity": 0.7,
                    "color": SEGMENT_PALETTE[i % len(SEGMENT_PALETTE)]},
            customdata=part["customer_id"],
            # The segment comes in as the trace's name: nothing from the data is pasted
            # into a template (plotly would read its markup).
            hovertemplate="customer %{customdata}<br>%{fullData.name}<extra></extra>",
        )
    fig.update_xaxes(title_text=x_title, zeroline=False)
    fig.update_yaxes(title_text=y_title, zeroline=False)
    fig = style(fig, title, height=520, legend=True)
    fig.update_layout(legend={"orientation": "v", "x": 1.02, "y": 1, "yanchor": "top"},
                      margin={"r": 160})
    return fig


def lines_by_k(df: pd.DataFrame, metrics: Sequence[str], *, chosen_k: int | None,
               titles: dict[str, str]) -> go.Figure:
    """Small multiples: each selection metric against the number of clusters k."""
    n = len(metrics)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[titles.get(m, m) for m in metrics],
                        horizontal_spacing=0.08, vertical_spacing=0.22)
    for i, m in enumerate(metrics):
        r, c = divmod(i, cols)
        fig.add_scatter(x=df["k"], y=df[m], mode="lines+markers", name=titles.get(m, m),
                        line={"color": PALETTE[i % len(PALETTE)]}, row=r + 1, col=c + 1,
                        hovertemplate="k=%{x}<br>%{y:.3f}<extra></extra>")
        if chosen_k is not None:
            fig.add_vline(x=chosen_k, line_dash="dot", line_color="#888", row=r + 1, col=c + 1)
        fig.update_xaxes(title_text="Number of clusters k", row=r + 1, col=c + 1, dtick=1)
        fig.update_yaxes(title_text="Score", row=r + 1, col=c + 1)
    fig = style(fig, "Choosing the number of segments k", height=300 * rows + 90)
    fig.update_layout(margin={"t": 90})
    return fig
