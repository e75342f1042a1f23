"""Segment migration between snapshots: flows, matrices, sizes over time, the biggest moves.

Between an earlier snapshot ``A`` and a later one ``B`` every customer is counted once:
present in both, they flow from their segment at ``A`` to their segment at ``B``; present
at ``B`` only, they come from the row :data:`NEW`; present at ``A`` only (possible with a
trailing window), they go to the column :data:`GONE`. So a matrix's row sums are the
segment sizes at ``A`` (plus the new customers) and its column sums those at ``B`` (plus
the gone ones).

Revenue is carried two ways: ``revenue_before``, what the movers had spent up to ``A``
(their net spend in the snapshot, the value at stake), and ``revenue_between``, what they
spent from ``A`` to ``B``: the difference of their spend to date, so known only when the
snapshots hold the whole history (with a trailing window it is NaN).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from segwise.exceptions import ConfigError

__all__ = [
    "FLOW_COLUMNS",
    "GONE",
    "NEW",
    "biggest_flows",
    "describe_flows",
    "flows",
    "migration_matrix",
    "segment_sizes",
]

#: Row of the customers absent from the earlier snapshot.
NEW = "(new)"
#: Column of the customers absent from the later snapshot.
GONE = "(gone)"
#: Columns of :func:`flows`.
FLOW_COLUMNS: tuple[str, ...] = (
    "from_snapshot", "to_snapshot", "from_segment", "to_segment", "customers",
    "share_of_from", "revenue_before", "revenue_between",
)
_VALUES = ("customers", "share_of_from", "revenue_before", "revenue_between")


def _pair(
    snapshots: pd.DataFrame, before: Any, after: Any, segment_col: str, cumulative: bool
) -> pd.DataFrame:
    """Join two snapshots' customers side by side (outer join), new and gone labelled."""
    stamps = {pd.Timestamp(before), pd.Timestamp(after)}
    present = set(snapshots["snapshot"].unique())
    missing = sorted(str(s.date()) for s in stamps - present)
    if missing:
        raise ConfigError(f"no snapshot at {', '.join(missing)}: the snapshots are "
                          f"{', '.join(str(pd.Timestamp(s).date()) for s in sorted(present))}")
    if pd.Timestamp(before) >= pd.Timestamp(after):
        # Backwards, the customers acquired between the two would be counted as gone.
        raise ConfigError(
            f"migration from {_day(before)} to {_day(after)}: the first snapshot must be the "
            f"earlier. Fix: ({_day(after)!r}, {_day(before)!r})"
            if pd.Timestamp(before) > pd.Timestamp(after) else
            f"migration from {_day(before)} to itself: give two different snapshots"
        )
    cols = ["customer_id", segment_col, "monetary"]
    a = snapshots.loc[snapshots["snapshot"] == pd.Timestamp(before), cols]
    b = snapshots.loc[snapshots["snapshot"] == pd.Timestamp(after), cols]
    j = a.merge(b, on="customer_id", how="outer", suffixes=("_a", "_b"), indicator=True)
    j["from_segment"] = j[f"{segment_col}_a"].astype("object").where(j["_merge"] != "right_only",
                                                                    NEW)
    j["to_segment"] = j[f"{segment_col}_b"].astype("object").where(j["_merge"] != "left_only",
                                                                  GONE)
    spent_a, spent_b = j["monetary_a"].fillna(0.0), j["monetary_b"].fillna(0.0)
    j["revenue_before"] = spent_a
    # Spend to date at B less spend to date at A; two trailing windows cover different
    # spans, and their difference is no spend at all.
    between = np.where(j["_merge"] == "left_only", 0.0, spent_b - spent_a)
    j["revenue_between"] = between if cumulative else np.nan
    return j


def flows(
    snapshots: pd.DataFrame,
    *,
    segment_col: str = "segment",
    pairs: Sequence[tuple[Any, Any]] | None = None,
    cumulative: bool = True,
) -> pd.DataFrame:
    """Every flow between consecutive snapshots (or the given pairs), stays included.

    Parameters
    ----------
    snapshots : pandas.DataFrame
        Long table with ``snapshot``, ``customer_id``, ``monetary`` and ``segment_col``.
    segment_col : str, default="segment"
        Segment column (RFM segment, or a learned one).
    pairs : sequence of (date, date), optional
        Snapshot pairs; consecutive snapshots when omitted.
    cumulative : bool, default=True
        Whether each snapshot holds the whole history before its date (False for a
        trailing window: ``revenue_between`` is then NaN).

    Returns
    -------
    pandas.DataFrame
        One row per pair and (from, to) segments with customers: the columns of
        :data:`FLOW_COLUMNS`. ``share_of_from`` is the share of the from-segment's
        customers (of the new customers, for :data:`NEW`).
    """
    dates = sorted(snapshots["snapshot"].unique())
    if pairs is None:
        pairs = list(itertools.pairwise(dates))
    parts = []
    for before, after in pairs:
        j = _pair(snapshots, before, after, segment_col, cumulative)
        g = j.groupby(["from_segment", "to_segment"], sort=False).agg(
            customers=("customer_id", "size"),
            revenue_before=("revenue_before", "sum"),
            revenue_between=("revenue_between", lambda v: v.sum(min_count=1)),
        ).reset_index()
        row_total = g.groupby("from_segment")["customers"].transform("sum")
        g["share_of_from"] = g["customers"] / row_total
        g.insert(0, "from_snapshot", pd.Timestamp(before))
        g.insert(1, "to_snapshot", pd.Timestamp(after))
        parts.append(g)
    out = pd.concat(parts, ignore_index=True)[list(FLOW_COLUMNS)]
    return out.sort_values(["from_snapshot", "customers"], ascending=[True, False],
                           kind="stable", ignore_index=True)


def migration_matrix(
    snapshots: pd.DataFrame,
    before: Any,
    after: Any,
    *,
    value: str = "customers",
    segment_col: str = "segment",
    order: Sequence[str] | None = None,
    cumulative: bool = True,
) -> pd.DataFrame:
    """Return the migration matrix between two snapshots.

    Parameters
    ----------
    snapshots : pandas.DataFrame
        Long table of snapshots.
    before, after : date
        The earlier and the later snapshot.
    value : {"customers", "share_of_from", "revenue_before", "revenue_between"}
        What the cells hold: customers, the share of the row's customers, or revenue.
    segment_col : str, default="segment"
        Segment column.
    order : sequence of str, optional
        Segment order of rows and columns (every segment of either snapshot is shown;
        unlisted ones follow in name order).
    cumulative : bool, default=True
        See :func:`flows`.

    Returns
    -------
    pandas.DataFrame
        Rows: segments at ``before`` then :data:`NEW`; columns: segments at ``after``
        then :data:`GONE`. Empty cells are 0. Every customer is counted in one cell.
    """
    if value not in _VALUES:
        raise ConfigError(f"value {value!r}: choose one of {', '.join(_VALUES)}")
    f = flows(snapshots, segment_col=segment_col, pairs=[(before, after)],
              cumulative=cumulative)
    seen = [s for s in pd.unique(pd.concat([f["from_segment"], f["to_segment"]]))
            if s not in (NEW, GONE)]
    listed = [s for s in (order or []) if s in seen]
    segments = listed + sorted(set(seen) - set(listed), key=str)
    matrix = f.pivot_table(index="from_segment", columns="to_segment", values=value,
                           aggfunc="sum", fill_value=0)
    matrix = matrix.reindex(index=[*segments, NEW], columns=[*segments, GONE], fill_value=0)
    matrix.index.name, matrix.columns.name = f"segment at {_day(before)}", f"at {_day(after)}"
    return matrix


def segment_sizes(
    snapshots: pd.DataFrame, *, segment_col: str = "segment", order: Sequence[str] | None = None
) -> pd.DataFrame:
    """Count customers and revenue per segment at every snapshot.

    Parameters
    ----------
    snapshots : pandas.DataFrame
        Long table of snapshots.
    segment_col : str, default="segment"
        Segment column.
    order : sequence of str, optional
        Segment order; every listed segment gets a row at every snapshot, empty or not.

    Returns
    -------
    pandas.DataFrame
        One row per snapshot and segment: ``snapshot``, ``segment``, ``customers``,
        ``share`` (of the snapshot's customers), ``revenue`` (net spend to date) and
        ``revenue_share`` (of the positive spend, as in the RFM segment table).
    """
    s = snapshots.assign(_positive=snapshots["monetary"].clip(lower=0))
    g = s.groupby(["snapshot", segment_col]).agg(
        customers=("customer_id", "size"), revenue=("monetary", "sum"),
        positive=("_positive", "sum"))
    segments = list(order or []) + sorted(set(s[segment_col]) - set(order or []), key=str)
    full = pd.MultiIndex.from_product([sorted(s["snapshot"].unique()), segments],
                                      names=["snapshot", "segment"])
    g = g.rename_axis(["snapshot", "segment"]).reindex(full, fill_value=0)
    totals = g.groupby(level="snapshot")[["customers", "positive"]].transform("sum")
    g["share"] = g["customers"] / totals["customers"]
    g["revenue_share"] = g["positive"] / totals["positive"].where(totals["positive"] > 0)
    g["customers"] = g["customers"].astype("int64")
    return g.reset_index()[["snapshot", "segment", "customers", "share", "revenue",
                            "revenue_share"]]


def biggest_flows(
    flow_table: pd.DataFrame, n: int = 3, *, pair: tuple[Any, Any] | None = None
) -> pd.DataFrame:
    """Return the moves between two named segments that carried the most revenue.

    Parameters
    ----------
    flow_table : pandas.DataFrame
        Output of :func:`flows`.
    n : int, default=3
        How many.
    pair : (date, date), optional
        The snapshot pair; the last one when omitted (the most recent moves are the ones a
        business can still act on).

    Returns
    -------
    pandas.DataFrame
        Up to ``n`` rows of ``flow_table``, segment changes only (no stays, no new or gone
        customers), by decreasing ``revenue_before`` (then customers).
    """
    if pair is None:
        last = flow_table["from_snapshot"].max()
        pair = (last, flow_table.loc[flow_table["from_snapshot"] == last, "to_snapshot"].max())
    f = flow_table[(flow_table["from_snapshot"] == pd.Timestamp(pair[0]))
                   & (flow_table["to_snapshot"] == pd.Timestamp(pair[1]))]
    moves = f[(f["from_segment"] != f["to_segment"]) & ~f["from_segment"].isin([NEW, GONE])
              & ~f["to_segment"].isin([NEW, GONE])]
    return moves.sort_values(["revenue_before", "customers"], ascending=False,
                             kind="stable").head(n).reset_index(drop=True)


def describe_flows(top: pd.DataFrame, currency: str | None = None) -> str:
    """Name the biggest flows in a sentence.

    Parameters
    ----------
    top : pandas.DataFrame
        Output of :func:`biggest_flows`.
    currency : str, optional
        Currency code put before amounts (``GBP 410k``).

    Returns
    -------
    str
        E.g. "From 2011-07-01 to 2011-10-01, 312 customers went from Loyal to At Risk; they
        had spent GBP 410k by 2011-07-01 and GBP 3k since. ..."; a plain statement when no
        customer changed segment.
    """
    if top.empty:
        return "No customer changed segment between the snapshots."
    first = top.iloc[0]
    parts = [
        f"{row.customers:,} customer{'s' if row.customers != 1 else ''} went from "
        f"{row.from_segment} to {row.to_segment}; they had spent "
        f"{_money(row.revenue_before, currency)} by {_day(row.from_snapshot)}"
        + ("" if pd.isna(row.revenue_between)
           else f" and {_money(row.revenue_between, currency)} since")
        for row in top.itertuples(index=False)
    ]
    return (f"From {_day(first['from_snapshot'])} to {_day(first['to_snapshot'])}, "
            + ". ".join(parts) + ".")


def _day(value: Any) -> str:
    """ISO day of a date, Timestamp or datetime64."""
    return str(pd.Timestamp(value).date())


def _money(value: float, currency: str | None) -> str:
    """``GBP 410k``, ``GBP 1.2m``, ``GBP 950``: amounts as people say them."""
    size = abs(value)
    if size >= 1e6:
        text = f"{value / 1e6:,.1f}m"
    elif size >= 1e4:
        text = f"{value / 1e3:,.0f}k"
    elif size >= 1e3:
        text = f"{value / 1e3:,.1f}k"
    else:
        text = f"{value:,.0f}"
    return f"{currency} {text}" if currency else text
