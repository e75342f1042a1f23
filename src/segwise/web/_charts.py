"""Plotly figures of the dashboard, as plain JSON (drawn by plotly.js in the page).

Figures are dictionaries, not ``plotly.graph_objects``: the server never imports plotly's
Python package, and a page's JSON twin carries the very figure the page draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["bar_chart", "chart", "grouped_bars", "heatmap", "sankey"]

_FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}


def _layout(title: str, x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title}, "font": _FONT, "height": 360,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 110},
        "xaxis": {"title": {"text": x_title}, "automargin": True},
        "yaxis": {"title": {"text": y_title}, "automargin": True},
        **extra,
    }


def chart(key: str, title: str, figure: dict[str, Any], summary: str) -> dict[str, Any]:
    """Describe a chart: its key, title, figure and a sentence saying what it shows."""
    return {"key": key, "title": title, "figure": figure, "summary": summary}


def _bars(title: str, data: list[dict[str, Any]], n: int, *, value_title: str,
          percent: bool, **extra: Any) -> dict[str, Any]:
    """Lay out horizontal bars: one row per label, the first on top.

    The figure is as tall as its rows need and the labels (segment names, long or many)
    take the room they need: vertical bars squeezed 40 long names under a strip of plot.
    The labels carry no axis title, which plotly drew over the longest of them.
    """
    layout = _layout(title, value_title, "", height=max(300, 26 * n * len(data) + 150),
                     **extra)
    layout["margin"] = {"l": 60, "r": 20, "t": 70 if len(data) > 1 else 50, "b": 60}
    layout["yaxis"]["autorange"] = "reversed"
    if percent:
        layout["xaxis"]["tickformat"] = ".0%"
    return {"data": data, "layout": layout}


def bar_chart(key: str, title: str, labels: Sequence[Any], values: Sequence[Any], *,
              value_title: str, summary: str, percent: bool = False) -> dict[str, Any]:
    """Draw one series of horizontal bars (``percent``: values are shares of 1)."""
    trace = {"type": "bar", "x": list(values), "y": [str(v) for v in labels],
             "orientation": "h"}
    return chart(key, title, _bars(title, [trace], len(labels), value_title=value_title,
                                   percent=percent), summary)


def grouped_bars(key: str, title: str, labels: Sequence[Any],
                 series: Mapping[str, Sequence[Any]], *, value_title: str, summary: str,
                 percent: bool = False) -> dict[str, Any]:
    """Draw several series of horizontal bars side by side, a legend naming each."""
    data = [{"type": "bar", "name": name, "x": list(xs), "y": [str(v) for v in labels],
             "orientation": "h"} for name, xs in series.items()]
    return chart(key, title, _bars(title, data, len(labels), value_title=value_title,
                                   percent=percent, barmode="group",
                                   legend={"orientation": "h", "x": 0, "y": 1,
                                           "yanchor": "bottom", "traceorder": "normal"}),
                 summary)


def heatmap(key: str, title: str, rows: Sequence[str], cols: Sequence[str],
            values: Sequence[Sequence[float]], *, x_title: str, y_title: str,
            summary: str) -> dict[str, Any]:
    """Draw a matrix of counts, each cell labelled."""
    trace = {"type": "heatmap", "x": list(cols), "y": list(rows), "z": [list(r) for r in values],
             "colorscale": "Blues", "texttemplate": "%{z}", "hoverongaps": False}
    layout = _layout(title, x_title, y_title, height=max(360, 40 * len(rows) + 160),
                     yaxis={"title": {"text": y_title}, "automargin": True,
                            "autorange": "reversed"})
    return chart(key, title, {"data": [trace], "layout": layout}, summary)


def sankey(key: str, title: str, flows: Sequence[dict[str, Any]], *,
           summary: str) -> dict[str, Any]:
    """Flows ``from`` → ``to`` of ``n`` entities; sources left, targets right."""
    left = list(dict.fromkeys(f["from"] for f in flows))
    right = list(dict.fromkeys(f["to"] for f in flows))
    labels = [f"{s} (before)" for s in left] + [f"{s} (after)" for s in right]
    trace = {
        "type": "sankey", "arrangement": "snap",
        "node": {"label": labels, "pad": 12, "thickness": 14},
        "link": {"source": [left.index(f["from"]) for f in flows],
                 "target": [len(left) + right.index(f["to"]) for f in flows],
                 "value": [f["n"] for f in flows]},
    }
    layout = {"title": {"text": title}, "font": _FONT, "height": 520,
              "margin": {"l": 20, "r": 20, "t": 50, "b": 20}}
    return chart(key, title, {"data": [trace], "layout": layout}, summary)
