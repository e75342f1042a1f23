"""Recency, frequency and monetary features per customer, expressed once in Ibis.

The aggregation runs on whichever engine holds the lines (DuckDB or Spark); only the
per-customer result, one row per customer, comes back to pandas for the derived columns.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from segwise._expr import exact_money

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from segwise.clean import CleanedLines

__all__ = ["RFM_COLUMNS", "aggregate_customers", "compute_rfm", "finish_rfm"]


#: Columns of the RFM table, in order.
RFM_COLUMNS: tuple[str, ...] = (
    "customer_id", "recency_days", "frequency", "monetary", "tenure_days",
    "avg_order_value", "first_purchase", "last_purchase", "gross_revenue", "returns_value",
    "n_lines",
)


def aggregate_customers(
    lines: ir.Table, by: Sequence[str] = (), sums: Mapping[str, ir.Value] | None = None
) -> ir.Table:
    """Per-customer aggregates of order lines, for :func:`finish_rfm`.

    Returns and cancellations (``is_return``) reduce ``monetary`` but are never orders,
    so ``frequency`` counts distinct purchase orders and the dates are purchase dates.
    Lines are aggregated per order first and then per customer: two plain groupings
    instead of a ``COUNT(DISTINCT order_id)``, which engines answer with a second pass
    over every line.

    Parameters
    ----------
    lines : ibis.Table
        Order lines with ``customer_id``, ``order_id``, ``ts``, ``revenue`` and
        ``is_return``.
    by : sequence of str, default=()
        Further grouping columns, before ``customer_id``.
    sums : mapping of str to ibis expression, optional
        Further per-line aggregates that add up (sums, counts), computed in the same
        scan and summed per customer.

    Returns
    -------
    ibis.Table
        One row per ``by`` + ``customer_id`` with ``first_purchase``, ``last_purchase``,
        ``frequency``, ``monetary``, ``gross_revenue``, ``n_lines`` and the ``sums``.
    """
    sums = dict(sums or {})
    purchase = ~lines.is_return
    revenue = exact_money(lines.revenue)
    keys = [*by, "customer_id"]
    orders = lines.group_by([*keys, "order_id"]).aggregate(
        **sums,
        first_purchase=lines.ts.min(where=purchase),
        last_purchase=lines.ts.max(where=purchase),
        # 1 for a purchase order; COUNT(DISTINCT) would skip a missing order id too.
        frequency=(purchase & lines.order_id.notnull()).any().cast("int64"),
        monetary=revenue.sum(),
        gross_revenue=revenue.sum(where=purchase),
        n_lines=lines.count(),
    )
    return orders.group_by(keys).aggregate(
        **{name: _total(orders[name]) for name in sums},
        first_purchase=orders.first_purchase.min(),
        last_purchase=orders.last_purchase.max(),
        frequency=orders.frequency.sum(),
        monetary=_total(orders.monetary),
        gross_revenue=_total(orders.gross_revenue),
        n_lines=orders.n_lines.sum(),
    )


def _total(column: ir.Column) -> ir.Value:
    """Sum; an exact decimal sum comes back as float64.

    DuckDB and Spark both round a decimal to the nearest double (checked below 2**53
    millionths), so the engines still agree, and pandas need not convert decimal
    objects one by one.
    """
    total = column.sum()
    return total.cast("float64") if total.type().is_decimal() else total


def finish_rfm(aggregates: pd.DataFrame, as_of: _dt.date | None = None) -> pd.DataFrame:
    """Derive recency, tenure and average order value from :func:`aggregate_customers`.

    Parameters
    ----------
    aggregates : pandas.DataFrame
        One row per customer with the columns :func:`aggregate_customers` returns.
    as_of : date, optional
        Reference date; the day after the last purchase when omitted.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`RFM_COLUMNS`, sorted by ``customer_id``. Customers with no
        purchase order (only returns survived cleaning) are left out.
        ``df.attrs["as_of"]`` holds the reference date as an ISO string.
    """
    df = aggregates[aggregates["frequency"].fillna(0) > 0].copy()
    df["first_purchase"] = pd.to_datetime(df["first_purchase"])
    df["last_purchase"] = pd.to_datetime(df["last_purchase"])
    if as_of is None:
        last = df["last_purchase"].max()
        as_of = (last.date() if pd.notna(last) else _dt.date.today()) + _dt.timedelta(days=1)
    ref = pd.Timestamp(as_of)
    df["recency_days"] = (ref - df["last_purchase"].dt.normalize()).dt.days.astype("int64")
    df["tenure_days"] = (ref - df["first_purchase"].dt.normalize()).dt.days.astype("int64")
    df["frequency"] = df["frequency"].astype("int64")
    df["n_lines"] = df["n_lines"].astype("int64")
    df["monetary"] = df["monetary"].astype("float64")
    df["gross_revenue"] = df["gross_revenue"].fillna(0.0).astype("float64")
    df["returns_value"] = (df["gross_revenue"] - df["monetary"]).round(6)
    df["avg_order_value"] = np.round(df["monetary"] / df["frequency"], 6)
    df = df.sort_values("customer_id", ignore_index=True)
    df.attrs["as_of"] = as_of.isoformat()  # a string: attrs travel into Parquet metadata as JSON
    return df[list(RFM_COLUMNS)]


def compute_rfm(cleaned: CleanedLines, as_of: _dt.date | None = None) -> pd.DataFrame:
    """Compute the RFM table from cleaned order lines.

    Parameters
    ----------
    cleaned : CleanedLines
        Output of :func:`segwise.clean.clean_transactions`.
    as_of : date, optional
        Reference date for recency; the day after the last purchase when omitted.

    Returns
    -------
    pandas.DataFrame
        One row per customer: see :data:`RFM_COLUMNS`. ``df.attrs["as_of"]`` holds the date
        (ISO string).
    """
    return finish_rfm(aggregate_customers(cleaned.kept).to_pandas(), as_of)
