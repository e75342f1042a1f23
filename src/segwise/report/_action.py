"""The report's first section: the segmentation to act on, its lists, the value curve.

One segmentation is recommended (the named, rule-based one or the learned one) by a
declared rule; each of its segments comes with a customer list to download (CSV embedded
in the page, formula-safe by :func:`segwise.store.csv_lines`), and a revenue
concentration (Pareto) curve shows how few customers bring most of the value.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from segwise.report import _charts as ch
from segwise.report._model import Chart, Download, Section, Table

if TYPE_CHECKING:
    from segwise.report._registry import ReportContext

__all__ = ["MAX_LISTED", "RECOMMENDATION_RULE", "explained_share", "recommendation_section"]

#: Most entities whose lists are embedded in the page (beyond, the page would grow too
#: heavy: the lists are then left to ``segwise rfm -o`` and the store).
MAX_LISTED = 200_000
#: How much more of the spread the learned segments must explain to be preferred.
_MARGIN = 0.05
#: The rule that picks the segmentation, in words.
RECOMMENDATION_RULE = (
    "the named segments are recommended, as each comes with an action, unless the learned "
    "segments explain at least 5 points more of the spread of the clustered features "
    "(signed-log, standardised; between-segment share of variance, R²) with no more "
    "segments"
)
#: Points of the Pareto curve drawn at most.
_CURVE_POINTS = 400


def explained_share(features: pd.DataFrame, labels: pd.Series) -> float:
    """Share of the variance of signed-log, standardised features explained by a labelling.

    Parameters
    ----------
    features : pandas.DataFrame of shape (n_entities, n_features)
        Numeric features.
    labels : pandas.Series of shape (n_entities,)
        Segment of each entity (missing labels form one group).

    Returns
    -------
    float
        R² between 0 and 1: ``1 - within-segment sum of squares / total sum of squares``.
    """
    x = features.to_numpy(dtype="float64")
    x = np.sign(x) * np.log1p(np.abs(x))
    spread = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    total = float((x**2).sum())
    if total == 0:
        return 0.0
    frame = pd.DataFrame(x).assign(_g=labels.astype(str).fillna("(none)").to_numpy())
    means = frame.groupby("_g").transform("mean").to_numpy()
    return 1.0 - float(((x - means) ** 2).sum()) / total


def _slug(name: str) -> str:
    """Return a file name's stem for a segment's member list.

    Letters and digits of any script are kept (Cyrillic or Arabic names all became
    'segment'), runs of anything else become a dash, and the stem is cut at 60 characters
    (a long name made a name too long for some file systems).
    """
    return re.sub(r"[\W_]+", "-", name).lower()[:60].strip("-") or "segment"


def _downloads(frame: pd.DataFrame, labels: pd.Series, order: list[str],
               columns: list[str]) -> list[Download]:
    """One formula-safe CSV per segment, in ``order``, as data URLs."""
    from segwise.store import csv_lines

    out = []
    for i, segment in enumerate(order):
        part = frame.loc[labels.to_numpy() == segment, columns]
        if part.empty:
            continue
        rows = part.astype(object).where(part.notna(), None).itertuples(index=False, name=None)
        text = "".join(csv_lines(columns, rows))
        out.append(Download(label=segment, filename=f"{i + 1:02d}-{_slug(segment)}.csv",
                            href="data:text/csv;charset=utf-8," + urllib.parse.quote(text),
                            count=len(part)))
    return out


def _pareto_chart(values: pd.Series, who: str, cur: str) -> Chart | None:
    v = np.sort(values.clip(lower=0).to_numpy(dtype="float64"))[::-1]
    total = v.sum()
    if len(v) < 2 or total <= 0:
        return None
    share_who = np.arange(1, len(v) + 1) / len(v)
    share_value = np.cumsum(v) / total
    step = max(1, len(v) // _CURVE_POINTS)
    keep = np.unique(np.r_[np.arange(0, len(v), step), len(v) - 1])
    top20 = share_value[max(int(np.ceil(0.2 * len(v))) - 1, 0)]
    half = share_who[int(np.searchsorted(share_value, 0.5))]
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_scatter(x=np.r_[0.0, share_who[keep] * 100], y=np.r_[0.0, share_value[keep] * 100],
                    mode="lines", name=f"{who.capitalize()} by value", fill="tozeroy",
                    line={"color": ch.PALETTE[0], "width": 2},
                    hovertemplate="top %{x:.1f}% of " + who + "<br>%{y:.1f}% of value"
                                  "<extra></extra>")
    fig.add_scatter(x=[0, 100], y=[0, 100], mode="lines", name="Equal shares",
                    line={"color": "#888", "dash": "dot"}, hoverinfo="skip")
    fig.update_xaxes(title_text=f"Share of {who}, highest value first (%)", ticksuffix="%",
                     range=[0, 100])
    fig.update_yaxes(title_text=f"Cumulative share of value ({cur}, %)", ticksuffix="%",
                     range=[0, 100])
    title = "Revenue concentration (Pareto curve)"
    ch.style(fig, title, height=380)
    reading = (f"The top 20% of {who} bring {top20:.0%} of the value, and half of it comes "
               f"from the top {half:.1%}.")
    return Chart("pareto", title, reading, fig)


def recommendation_section(ctx: ReportContext) -> Section | None:
    """Build the section that says which segmentation to act on, with its member lists.

    Parameters
    ----------
    ctx : ReportContext
        The report's context (entities, named summary, learned segments, lifetime value).

    Returns
    -------
    Section or None
        Keyed ``recommendation``; ``None`` when there is no segmentation at all.
    """
    from segwise.report._build import clv_frame

    schema, extras, frame = ctx.entities.schema, ctx.extras, ctx.frame
    who, id_col = schema.entities, schema.id_col
    named = (frame[schema.segment_col].astype(str)
             if ctx.summary is not None and schema.segment_col in frame else None)
    learned = None
    if extras.clusters is not None:
        lookup = extras.clusters.astype({"customer_id": str}).set_index("customer_id")["segment"]
        learned = frame[id_col].map(lookup.astype(str))
        if learned.isna().all():
            learned = None
    if named is None and learned is None:
        return None
    feats = [c for c in schema.cluster_features if c in frame]
    scores = {}
    if named is not None and learned is not None and feats:
        scores = {"named": explained_share(frame[feats], named),
                  "learned": explained_share(frame[feats], learned)}
    name = schema.name.upper()
    if named is not None and learned is not None:
        k_named, k_learned = named.nunique(), learned.nunique()
        use_learned = bool(scores) and (scores["learned"] >= scores["named"] + _MARGIN
                                        and k_learned <= k_named)
        figures = (f" (R² {scores['learned']:.2f} with {k_learned} learned segments against "
                   f"{scores['named']:.2f} with {k_named} {name} segments)" if scores else "")
        reason = ((f"The learned segments are recommended: they explain clearly more of how "
                   f"{who} differ" if use_learned else
                   f"The {name} segments are recommended: each comes with an action, and the "
                   f"learned segments do not explain clearly more of how {who} differ")
                  + figures + f". Rule: {RECOMMENDATION_RULE}.")
    else:
        use_learned = named is None
        reason = (f"The {'learned' if use_learned else name} segments are the only "
                  "segmentation computed for this report.")
    labels = learned if use_learned else named
    assert labels is not None  # noqa: S101 - one of the two exists
    sizes = labels.value_counts()
    order = ctx.order if not use_learned else [str(s) for s in sizes.index]
    order = [s for s in order if s in sizes.index]
    table = pd.DataFrame({"segment": order, "entities": [int(sizes[s]) for s in order]})
    table["share"] = table["entities"] / max(len(labels), 1)
    formats = {"entities": "int", "share": "pct"}
    headers = {"segment": "Segment", "entities": who.capitalize(), "share": f"Share of {who}"}
    value = schema.value_col if schema.value_col in frame else None
    if value is not None:
        money = frame[value].clip(lower=0)
        by = money.groupby(labels.to_numpy()).sum()
        table["value_share"] = [by.get(s, 0.0) / max(money.sum(), 1e-12) for s in order]
        formats["value_share"] = "pct"
        headers["value_share"] = "Share of value"
    if not use_learned and ctx.summary is not None and "action" in ctx.summary:
        actions = ctx.summary.set_index(ctx.summary["segment"].astype(str))["action"]
        table["action"] = [actions.get(s, "") for s in order]
        headers["action"] = "Recommended action"
    listed = frame[[id_col]].rename(columns={id_col: "customer_id"}).assign(
        segment=labels.to_numpy())
    if named is not None and learned is not None:
        listed["other_segmentation"] = (named if use_learned else learned).to_numpy()
    for c in dict.fromkeys([*schema.summary_features, *([value] if value else [])]):
        if c in frame:
            listed[c] = frame[c].to_numpy()
    if extras.clv is not None:
        listed = listed.merge(clv_frame(extras.clv), on="customer_id", how="left")
    block = Table("recommended", "Recommended segments", table, formats=formats,  # type: ignore[arg-type]
                  headers=headers, reading=reason)
    if len(listed) <= MAX_LISTED:
        block.downloads = _downloads(listed, listed["segment"], order, list(listed.columns))
    else:
        block.reading += (f" The {len(listed):,} {who} are too many to embed their lists "
                          "here: write them with segwise rfm -o.")
    blocks: list[Chart | Table] = [block]
    if value is not None and (pareto := _pareto_chart(frame[value], who, ctx.currency)):
        blocks.append(pareto)
    return Section("recommendation", "Recommended segmentation",
                   f"The segments to act on, a list of the {who} in each to download (CSV), "
                   "and how concentrated the value is.", blocks)
