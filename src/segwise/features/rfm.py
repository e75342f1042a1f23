"""Recency, frequency and monetary features per customer, expressed once in Ibis.

The aggregation runs on whichever engine holds the lines (DuckDB or Spark); only the
per-customer result, one row per customer, comes back, as NumPy arrays, for the derived
columns; pandas only for callers who ask for a DataFrame.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from segwise._engine import fetch_numpy, is_missing, numpy_to_arrow
from segwise._expr import MONEY_PLACES, exact_money, money_sum
from segwise.exceptions import InputError, columns_key, option_key, setting_key
from segwise.features._entity import EntityTable, Feature, FeatureSet, register_feature_set

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd
    import pyarrow as pa

    from segwise.clean import CleanedLines

__all__ = [
    "PANDAS_ATTRS",
    "RFM_COLUMNS",
    "RFM_FEATURES",
    "aggregate_customers",
    "compute_rfm",
    "customer_aggregates",
    "finish_rfm",
    "no_entity_left",
    "order_aggregates",
    "reference_date",
    "rfm_entities",
]


#: Columns of the RFM table, in order.
RFM_COLUMNS: tuple[str, ...] = (
    "customer_id", "recency_days", "frequency", "monetary", "tenure_days",
    "avg_order_value", "first_purchase", "last_purchase", "gross_revenue", "returns_value",
    "n_lines",
)

#: The RFM table's declared columns: R, F and M are clustered; segments are scored on them.
RFM_FEATURES = register_feature_set(FeatureSet(
    name="rfm",
    kind="orders",
    entity="customer",
    id_col="customer_id",
    features=(
        Feature("recency_days", "integer", "days", "days from the last purchase to the "
                "reference date", cluster=True, short="R"),
        Feature("frequency", "integer", "orders", "purchase orders", cluster=True, short="F"),
        Feature("monetary", "number", "currency", "net revenue: purchases less returns",
                cluster=True, short="M"),
        Feature("tenure_days", "integer", "days", "days from the first purchase to the "
                "reference date"),
        Feature("avg_order_value", "number", "currency", "monetary / frequency"),
        Feature("first_purchase", "timestamp", "", "first purchase"),
        Feature("last_purchase", "timestamp", "", "last purchase"),
        Feature("gross_revenue", "number", "currency", "revenue of purchases alone"),
        Feature("returns_value", "number", "currency", "value of returns and cancellations"),
        Feature("n_lines", "integer", "lines", "order lines kept"),
    ),
    value_col="monetary",
    segment_col="segment",
    summary=("recency_days", "frequency", "monetary"),
    profile=("tenure_days", "avg_order_value"),
))

#: Arrow schema metadata key that pandas reads back into ``DataFrame.attrs`` from Parquet.
PANDAS_ATTRS = b"PANDAS_ATTRS"


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
        ``frequency``, ``monetary``, ``gross_revenue``, ``returns_value`` (what returns
        took off the gross revenue), ``n_lines`` and the ``sums``.
    """
    keys = [*by, "customer_id"]
    orders = order_aggregates(lines, [*keys, "order_id"], sums)
    return customer_aggregates(orders, keys, list(sums or ()))


def order_aggregates(
    lines: ir.Table, keys: Sequence[str | ir.Value], sums: Mapping[str, ir.Value] | None = None
) -> ir.Table:
    """Aggregate lines per order (and ``keys``): the first step of :func:`aggregate_customers`.

    Parameters
    ----------
    lines : ibis.Table
        Order lines, as for :func:`aggregate_customers`.
    keys : sequence of str or named ibis expression
        Grouping columns, ``customer_id`` and ``order_id`` among them; more keys (the
        purchase day, say) split an order into pieces that still add up.
    sums : mapping of str to ibis expression, optional
        Further per-line aggregates that add up.

    Returns
    -------
    ibis.Table
        One row per ``keys``: ``first_purchase``, ``last_purchase``, ``frequency`` (1 for
        a purchase order, else 0), ``monetary`` and ``gross_revenue`` (exact decimals),
        ``n_lines`` and the ``sums``.
    """
    purchase = ~lines.is_return
    revenue = exact_money(lines.revenue)
    return lines.group_by(list(keys)).aggregate(
        **dict(sums or {}),
        first_purchase=lines.ts.min(where=purchase),
        last_purchase=lines.ts.max(where=purchase),
        # 1 for a purchase order; COUNT(DISTINCT) would skip a missing order id too.
        frequency=(purchase & lines.order_id.notnull()).any().cast("int64"),
        monetary=revenue.sum(),
        gross_revenue=revenue.sum(where=purchase),
        n_lines=lines.count(),
    )


def _orders_of_pieces(
    pieces: ir.Table, keys: Sequence[str], sums: Mapping[str, ir.Value]
) -> ir.Table:
    """:func:`order_aggregates` from pieces of orders (:attr:`CleanedLines.pieces`).

    A piece's lines are all returns or all purchases, so each aggregate of the lines is
    one of the pieces'.
    """
    purchase = ~pieces.is_return
    return pieces.group_by(list(keys)).aggregate(
        **dict(sums),
        first_purchase=pieces._first.min(where=purchase),
        last_purchase=pieces._last.max(where=purchase),
        frequency=(purchase & pieces.order_id.notnull()).any().cast("int64"),
        monetary=pieces._revenue_once.sum(),
        gross_revenue=pieces._revenue_once.sum(where=purchase),
        n_lines=pieces._distinct.sum(),
    )


def customer_aggregates(
    orders: ir.Table, keys: Sequence[str], sums: Sequence[str] = ()
) -> ir.Table:
    """Sum orders per customer: the second step of :func:`aggregate_customers`.

    Parameters
    ----------
    orders : ibis.Table
        One row per order, as from :func:`order_aggregates`.
    keys : sequence of str
        Grouping columns, ending with ``customer_id``.
    sums : sequence of str, default=()
        Further columns of ``orders`` to sum.

    Returns
    -------
    ibis.Table
        One row per ``keys``, with the columns :func:`aggregate_customers` describes.
    """
    return orders.group_by(list(keys)).aggregate(
        **{name: money_sum(orders[name]) for name in sums},
        first_purchase=orders.first_purchase.min(),
        last_purchase=orders.last_purchase.max(),
        frequency=orders.frequency.sum(),
        monetary=money_sum(orders.monetary),
        gross_revenue=money_sum(orders.gross_revenue),
        # Exact: a difference of the two sums above as doubles would need rounding, and
        # rounding to any fixed number of places cuts money finer than it.
        returns_value=money_sum(orders.gross_revenue.fill_null(0) - orders.monetary),
        n_lines=orders.n_lines.sum(),
    )


def finish_rfm(
    aggregates: Mapping[str, Any], as_of: _dt.date | None = None
) -> dict[str, np.ndarray]:
    """Derive recency, tenure and average order value from :func:`aggregate_customers`.

    Parameters
    ----------
    aggregates : mapping of str to array-like
        One row per customer with the columns :func:`aggregate_customers` returns: a
        DataFrame, or NumPy arrays by name (:func:`segwise._engine.fetch_numpy`).
    as_of : date, optional
        Reference date; :func:`reference_date` when omitted.

    Returns
    -------
    dict of str to ndarray
        The columns of :data:`RFM_COLUMNS`, in order, sorted by ``customer_id``.
        Customers with no purchase order (only returns survived cleaning) are left out.
    """
    frequency = np.nan_to_num(np.asarray(aggregates["frequency"], dtype="float64"))
    buyers = np.flatnonzero(frequency > 0)
    ids = np.asarray(aggregates["customer_id"], dtype=object)[buyers]
    # By id, a missing id (kept only when the customer-id rule is off) last.
    rows = buyers[np.lexsort((ids.astype(str), is_missing(ids)))]

    def column(name: str, dtype: str) -> np.ndarray:
        return np.asarray(aggregates[name])[rows].astype(dtype)

    first = column("first_purchase", "datetime64[ns]")
    last = column("last_purchase", "datetime64[ns]")
    ref = np.datetime64(as_of or reference_date(last), "D")
    monetary = column("monetary", "float64")
    gross = np.nan_to_num(column("gross_revenue", "float64"))
    n_orders = frequency[rows].astype("int64")
    return {
        "customer_id": np.asarray(aggregates["customer_id"], dtype=object)[rows],
        # Whole days from the purchase's day to the reference date.
        "recency_days": (ref - last.astype("datetime64[D]")).astype("int64"),
        "frequency": n_orders,
        "monetary": monetary,
        "tenure_days": (ref - first.astype("datetime64[D]")).astype("int64"),
        "avg_order_value": _round_money(monetary / n_orders),
        "first_purchase": first,
        "last_purchase": last,
        "gross_revenue": gross,
        "returns_value": np.nan_to_num(column("returns_value", "float64")),
        "n_lines": column("n_lines", "int64"),
    }


def _round_money(values: np.ndarray) -> np.ndarray:
    """Round money to six places, or more below 0.1: six significant digits at least.

    Six places would make an average of 0.0000375 (per-impression prices) 0.000038.
    """
    low, high = MONEY_PLACES
    with np.errstate(divide="ignore"):
        magnitude = np.floor(np.log10(np.abs(values)))
    scale = 10.0 ** np.clip(np.nan_to_num(low - 1 - magnitude, posinf=high), low, high)
    return np.rint(values * scale) / scale


def rfm_entities(
    cleaned: CleanedLines, as_of: _dt.date | None = None, *, source: str | None = None
) -> EntityTable:
    """Compute the RFM entity table, and the cleaning audit in the same scan.

    One grouped scan gives both the audit (summed over customers) and the RFM aggregates
    (the kept group), so the lines are read once.

    Parameters
    ----------
    cleaned : CleanedLines
        Output of :func:`segwise.clean.clean_transactions`.
    as_of : date, optional
        Reference date for recency; the day after the last purchase when omitted.
    source : str, optional
        Where the lines came from, for messages; the cleaned lines' source when omitted.

    Returns
    -------
    EntityTable
        One row per customer (:data:`RFM_FEATURES`), with the audit and the number of
        customers among the input lines; the reference date also travels in the Arrow
        schema metadata, which pandas reads back from Parquet into ``DataFrame.attrs``.

    Raises
    ------
    InputError
        If no customer is left after cleaning.
    """
    source = source or cleaned.source
    summary = fetch_numpy(_with_audit(cleaned))
    audit = cleaned.audit_table(summary)
    ids = summary["customer_id"]
    n_input_customers = len(set(ids[~is_missing(ids)]))
    is_kept = is_missing(summary["_reason"])
    kept = {name: values[is_kept] for name, values in summary.items()}
    as_of = as_of or reference_date(kept["last_purchase"])
    rfm = finish_rfm(kept, as_of)
    if not len(rfm["customer_id"]):
        raise no_entity_left(source, audit,
                             as_of=as_of if cleaned.n_after_as_of else None)
    attrs = {PANDAS_ATTRS: json.dumps({"as_of": as_of.isoformat()}).encode()}
    return EntityTable(numpy_to_arrow(rfm, metadata=attrs), RFM_FEATURES, as_of=as_of,
                       source=source, audit_table=audit, n_input_entities=n_input_customers)


def _with_audit(cleaned: CleanedLines) -> ir.Table:
    """:func:`aggregate_customers` of the cleaned lines per ``_reason``, with the audit's sums.

    From the pieces of orders where the lines have them (ids parsed per piece).
    """
    if cleaned.pieces is None:
        return aggregate_customers(cleaned.lines, by=["_reason"], sums=cleaned.audit_metrics())
    sums = cleaned.pieces_audit_metrics()
    orders = _orders_of_pieces(cleaned.pieces, ["_reason", "customer_id", "order_id"], sums)
    return customer_aggregates(orders, ["_reason", "customer_id"], list(sums))


def no_entity_left(source: str | None, audit: pa.Table, *,
                   as_of: _dt.date | None = None, entity: str = "customer",
                   section: str | None = "rfm", check: str | None = "cleaning",
                   ) -> InputError:
    """Return the error of rows that leave no entity (a customer with a purchase, a user).

    Parameters
    ----------
    source : str or None
        Where the lines came from.
    audit : pyarrow.Table
        The cleaning audit (``step``, ``rows``): its non-empty steps say where they went.
    as_of : date, optional
        The as-of date, when rows that parsed were dated after it: the fix is a later one.
    entity : str, default="customer"
        What is left of none: a row of the entity table (any kind's rows, audited alike),
        or the rows themselves.
    section : str or None, default="rfm"
        The config section whose ``as_of`` the fix names beside ``--as-of``; none if None.
    check : str or None, default="cleaning"
        The config section of the rules to check beside the column mapping when no row is
        dated too late (named as the caller gives them); None: the quarantine file.
    """
    steps = audit.to_pylist()
    rules = (f"the rules of {setting_key(check)}" if check is not None
             else "the quarantine file")
    fix = (f"choose a later {option_key('--as-of', section, 'as_of')} than {as_of}: the rows "
           "that parsed are dated after it" if as_of is not None
           else f"check the {columns_key()} mapping and {rules}")
    return InputError(
        f"{source or 'input'}: no {entity} is left after cleaning (see the audit: "
        + ", ".join(f"{s['step']} {s['rows']:,}" for s in steps if s["rows"])
        + f"). Fix: {fix}"
    )


def reference_date(last_purchase: Any) -> _dt.date:
    """Return the default reference date: the day after the last purchase (tomorrow if none)."""
    last = np.asarray(last_purchase, dtype="datetime64[D]")
    last = last[~np.isnat(last)]
    newest = last.max().astype(object) if len(last) else _dt.date.today()
    return newest + _dt.timedelta(days=1)


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
    return rfm_entities(cleaned, as_of).frame
