"""Early-behaviour features: what a customer did in their first orders, and nothing after.

The window of a customer is their first ``n_orders`` purchase orders, their first
``n_days`` days, or both (the first ``n_orders`` orders that fall within the first
``n_days`` days). Orders are ranked per customer by the time they start (ties broken by
order id), so the window never depends on row order. A return or cancellation line
counts when it happened before the window closed:

* the window closes at the start of the ``n_orders``-th order when the customer reached it
  (within ``n_days`` when that is set);
* otherwise at ``first purchase + n_days`` when ``n_days`` is set;
* otherwise (fewer than ``n_orders`` orders so far, no day limit) at the last order seen,
  and the window is *incomplete*: the customer has not yet shown ``n_orders`` orders.

Everything is aggregated in Ibis on the engine holding the lines; one row per customer
comes back to pandas.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd

from segwise._expr import MONEY_PLACES, exact_money
from segwise.exceptions import ConfigError

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = [
    "EARLY_TABLE_COLUMNS",
    "FEATURE_COLUMNS",
    "META_COLUMNS",
    "EarlyWindow",
    "early_feature_columns",
    "early_features",
    "early_lines",
    "early_rows",
    "early_table",
    "finish_early_features",
    "money_lines",
]

#: Numeric early-behaviour features, in model order (``country`` comes last).
NUMERIC_FEATURES: tuple[str, ...] = (
    "n_orders",
    "n_lines",
    "n_products",
    "net_spend",
    "gross_spend",
    "returns_value",
    "n_return_lines",
    "avg_order_value",
    "max_order_value",
    "first_order_value",
    "avg_lines_per_order",
    "avg_units_per_order",
    "avg_unit_price",
    "bulk_line_share",
    "span_days",
    "mean_gap_days",
    "min_gap_days",
    "max_gap_days",
    "mean_order_hour",
    "morning_order_share",
    "weekend_order_share",
)
#: Every model feature: the numeric ones and the categorical ``country``.
FEATURE_COLUMNS: tuple[str, ...] = (*NUMERIC_FEATURES, "country")
#: Columns describing the window rather than behaviour; never model input.
META_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "first_purchase",
    "window_end",
    "window_complete",
)
#: Lines of one order of at least this many units count as a bulk (wholesale) line.
BULK_QUANTITY = 12


@dataclass(frozen=True)
class EarlyWindow:
    """Which part of a customer's history the early features may see.

    Parameters
    ----------
    n_orders : int or None, default=3
        The first ``n_orders`` purchase orders (returns are never orders).
    n_days : int or None, default=None
        Orders that start within ``n_days`` days of the first purchase.

    Raises
    ------
    ConfigError
        If neither limit is set or one is not a positive integer.
    """

    n_orders: int | None = 3
    n_days: int | None = None

    def __post_init__(self) -> None:
        if self.n_orders is None and self.n_days is None:
            raise ConfigError("the early window needs n_orders, n_days or both")
        for name in ("n_orders", "n_days"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")

    def describe(self) -> str:
        """Say the window in words, e.g. ``first 3 orders within 90 days``."""
        parts = []
        if self.n_orders is not None:
            parts.append(f"first {self.n_orders} order{'s' * (self.n_orders != 1)}")
        if self.n_days is not None:
            parts.append(
                ("within " if parts else "first ") + f"{self.n_days} day{'s' * (self.n_days != 1)}"
            )
        return " ".join(parts)

    def to_dict(self) -> dict[str, int | None]:
        """Return the window as plain JSON-ready values."""
        return {"n_orders": self.n_orders, "n_days": self.n_days}


def _orders(kept: ir.Table) -> ir.Table:
    """One row per purchase order with its start time and rank within the customer."""
    purchases = kept.filter(~kept.is_return)
    orders = purchases.group_by(["customer_id", "order_id"]).aggregate(
        order_start=purchases.ts.min()
    )
    w = ibis.window(group_by=orders.customer_id, order_by=[orders.order_start, orders.order_id])
    return orders.mutate(
        order_rank=ibis.row_number().over(w) + 1,  # Ibis numbers rows from 0
        first_purchase=orders.order_start.min().over(ibis.window(group_by=orders.customer_id)),
    )


def early_lines(kept: ir.Table, window: EarlyWindow) -> tuple[ir.Table, ir.Table]:
    """Select the lines a customer's early window may see.

    Parameters
    ----------
    kept : ibis.Table
        Kept order lines (``CleanedLines.kept``): ``customer_id``, ``order_id``, ``ts``,
        ``quantity``, ``unit_price``, ``revenue``, ``product_id``, ``country``,
        ``is_return``.
    window : EarlyWindow
        The window.

    Returns
    -------
    lines : ibis.Table
        Kept lines inside the window (purchase lines of window orders, and return lines
        before the window closed) with ``order_rank`` (NULL for returns).
    bounds : ibis.Table
        One row per customer: ``first_purchase``, ``last_order`` (start of the last window
        order), ``n_orders`` and ``window_close`` (NULL while still open with no day limit).
    """
    orders = _orders(kept)
    inside = ibis.literal(True)
    if window.n_orders is not None:
        inside &= orders.order_rank <= window.n_orders
    if window.n_days is not None:
        inside &= orders.order_start < orders.first_purchase + ibis.interval(days=window.n_days)
    chosen = orders.filter(inside)
    bounds = chosen.group_by("customer_id").aggregate(
        first_purchase=chosen.first_purchase.min(),
        last_order=chosen.order_start.max(),
        n_orders=chosen.order_id.count(),
    )
    reached = (
        bounds.n_orders >= window.n_orders if window.n_orders is not None else ibis.literal(False)
    )
    by_days = (
        bounds.first_purchase + ibis.interval(days=window.n_days)
        if window.n_days is not None
        else ibis.null("timestamp")
    )
    bounds = bounds.mutate(
        window_close=ibis.ifelse(reached, bounds.last_order, by_days.cast("timestamp"))
    )
    purchase_lines = kept.filter(~kept.is_return).join(
        chosen.select("customer_id", "order_id", "order_rank"), ["customer_id", "order_id"]
    )
    # An open window (no day limit, too few orders) sees returns up to its last order.
    close = bounds.window_close.fill_null(bounds.last_order)
    returns = kept.filter(kept.is_return)
    return_lines = returns.join(
        bounds.select("customer_id", close=close), "customer_id"
    ).filter(lambda t: t.ts <= t.close)
    return_lines = return_lines.drop("close").mutate(order_rank=ibis.null("int64"))
    lines = purchase_lines.union(return_lines.select(*purchase_lines.columns))
    return lines, bounds


def _aggregates(lines: ir.Table) -> dict[str, Any]:
    purchase = ~lines.is_return
    revenue = exact_money(lines.revenue)
    return {
        "n_lines": lines.count(where=purchase),
        "n_products": lines.product_id.nunique(where=purchase),
        "gross_spend": revenue.sum(where=purchase),
        "net_spend": revenue.sum(),
        "n_return_lines": lines.count(where=lines.is_return),
        "units": lines.quantity.sum(where=purchase),
        # An exact sum: a floating mean depends on the order the engine adds rows in.
        "unit_price_sum": exact_money(lines.unit_price).sum(where=purchase),
        "bulk_lines": lines.count(where=purchase & (lines.quantity >= BULK_QUANTITY)),
        # The first order's country: customers rarely change it, and min() is deterministic.
        "country": lines.country.min(where=lines.order_rank == 1),
    }


def _order_table(lines: ir.Table) -> ir.Table:
    """One row per window order: value, start, gap since the previous order, hour, weekday."""
    purchases = lines.filter(~lines.is_return)
    per_order = purchases.group_by(["customer_id", "order_id", "order_rank"]).aggregate(
        value=exact_money(purchases.revenue).sum(),
        start=purchases.ts.min(),
    )
    w = ibis.window(group_by=per_order.customer_id, order_by=per_order.order_rank)
    gap_s = per_order.start.epoch_seconds() - per_order.start.epoch_seconds().lag().over(w)
    hour = per_order.start.hour()
    return per_order.mutate(
        gap_days=gap_s / 86400.0, hour=hour, dow=per_order.start.day_of_week.index()
    )


def early_features(
    kept: ir.Table,
    window: EarlyWindow | None = None,
    *,
    as_of: dt.datetime | None = None,
    categories: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Early-behaviour features per customer from their first orders or days only.

    Parameters
    ----------
    kept : ibis.Table
        Kept order lines (``CleanedLines.kept``).
    window : EarlyWindow, optional
        The window; the first 3 orders when omitted.
    as_of : datetime, optional
        End of the observation (to tell whether a day window has closed); the last
        timestamp in ``kept`` when omitted.
    categories : pandas.DataFrame, optional
        Product categories (``product_id``, ``category_id``), e.g. from
        :func:`segwise.features.products.product_categories`: adds ``cat_<id>`` columns,
        each the category's share of the window's gross purchase spend (0 when none).

    Returns
    -------
    pandas.DataFrame
        One row per customer with at least one purchase order, sorted by ``customer_id``:
        :data:`META_COLUMNS` and :data:`FEATURE_COLUMNS`. Money is in the input's currency,
        gaps and spans in days, hours 0 to 23. ``window_complete`` is true when the window
        has closed: ``n_orders`` orders reached, or ``n_days`` elapsed before ``as_of``.
        Customers whose window is incomplete have seen fewer orders than a complete window
        would, so a model trained on complete windows should not be trusted on them.
    """
    window = window or EarlyWindow()
    df = early_table(kept, window).to_pandas()
    if as_of is None:
        last = kept.ts.max().execute()
        as_of = pd.Timestamp(last).to_pydatetime() if last is not None else dt.datetime.now()
    out = finish_early_features(df, window, pd.Timestamp(as_of))
    if categories is not None:
        out = _with_category_shares(out, early_lines(kept, window)[0], categories)
    return out


def early_table(kept: ir.Table, window: EarlyWindow) -> ir.Table:
    """Build the lazy aggregation behind :func:`early_features`, one row per customer.

    Its rows, collected, become the features with :func:`finish_early_features`. A server
    that scores many small batches compiles it once and runs it on each batch.

    Parameters
    ----------
    kept : ibis.Table
        Kept order lines.
    window : EarlyWindow
        The window.

    Returns
    -------
    ibis.Table
        Per customer: the window's bounds and the raw aggregates.
    """
    lines, bounds = early_lines(kept, window)
    per_customer = lines.group_by("customer_id").aggregate(**_aggregates(lines))
    orders = _order_table(lines)
    per_order = orders.group_by("customer_id").aggregate(
        max_order_value=orders.value.max(),
        first_order_value=orders.value.max(where=orders.order_rank == 1),
        mean_gap_days=orders.gap_days.mean(),
        min_gap_days=orders.gap_days.min(),
        max_gap_days=orders.gap_days.max(),
        mean_order_hour=orders.hour.mean(),
        morning_order_share=(orders.hour < 12).cast("float64").mean(),
        weekend_order_share=(orders.dow >= 5).cast("float64").mean(),
    )
    return bounds.join(per_customer, "customer_id").join(per_order, "customer_id")


#: The columns of :func:`early_table`, in its order (what :func:`early_feature_columns` takes).
EARLY_TABLE_COLUMNS: tuple[str, ...] = (
    "customer_id", "first_purchase", "last_order", "n_orders", "window_close", "n_lines",
    "n_products", "gross_spend", "net_spend", "n_return_lines", "units", "unit_price_sum",
    "bulk_lines", "country", "max_order_value", "first_order_value", "mean_gap_days",
    "min_gap_days", "max_gap_days", "mean_order_hour", "morning_order_share",
    "weekend_order_share",
)
_EPOCH = dt.datetime(1970, 1, 1)
_MICROSECOND = dt.timedelta(microseconds=1)


def money_lines(kept: ir.Table) -> ir.Table:
    """Kept lines with their revenue and unit price as the exact money :func:`early_table` sums.

    What :func:`early_rows` takes, collected: ``revenue_exact`` and ``unit_price_exact``
    (decimals, see :func:`~segwise._expr.exact_money`), so that both round money alike.
    """
    return kept.mutate(revenue_exact=exact_money(kept.revenue),
                       unit_price_exact=exact_money(kept.unit_price))


def early_rows(kept: Mapping[str, Sequence[Any]], window: EarlyWindow) -> dict[str, np.ndarray]:
    """:func:`early_table`'s rows for a few customers' kept lines held in memory.

    A server scores a handful of customers per call; on an engine, binding and planning
    :func:`early_table` costs ten times running it (DuckDB binds a statement again on
    every run, prepared or not). This walks each customer's lines in Python instead and
    gives the same values: the same window (orders ranked by start, then order id), the
    engine's exact money summed exactly, the same counts, extremes and means.
    ``tests/predict/test_online.py`` compares the two on generated lines and on Online
    Retail customers. (``units`` is a floating sum, added in line order: the engine's
    for whole quantities.)

    Parameters
    ----------
    kept : mapping of str to sequence
        :func:`money_lines` collected: ``customer_id``, ``order_id``, ``ts`` (datetimes),
        ``quantity``, ``revenue_exact``, ``unit_price_exact``, ``product_id``,
        ``country`` and ``is_return``.
    window : EarlyWindow
        The window.

    Returns
    -------
    dict of str to ndarray
        :data:`EARLY_TABLE_COLUMNS`, one row per customer with a purchase, in customer id
        order: times ``datetime64[us]`` (a window still open: NaT), money float64 (the
        decimal sum's nearest double), the rest objects.
    """
    lines: dict[Any, list[int]] = {}
    for i, customer in enumerate(kept["customer_id"]):
        lines.setdefault(customer, []).append(i)
    # Money in units of its last place (Python integers): exact sums, as the engine's.
    kept = {**kept, **{c: [_money_units(v) for v in kept[c]]
                       for c in ("revenue_exact", "unit_price_exact")}}
    out: dict[str, list[Any]] = {c: [] for c in EARLY_TABLE_COLUMNS}
    for customer in sorted(lines):
        row = _early_row(kept, lines[customer], window)
        if row is not None:
            for col, value in zip(EARLY_TABLE_COLUMNS, (customer, *row), strict=True):
                out[col].append(value)
    times = {"first_purchase", "last_order", "window_close"}
    money = {"gross_spend", "net_spend", "unit_price_sum", "max_order_value",
             "first_order_value"}
    return {c: np.array(v, dtype="datetime64[us]" if c in times else
                        "float64" if c in money else object) for c, v in out.items()}


def _early_row(kept: Mapping[str, Sequence[Any]], idx: list[int], window: EarlyWindow
               ) -> tuple[Any, ...] | None:
    """One customer's :func:`early_table` values (without the id); None without a purchase."""
    order, ts, is_return = kept["order_id"], kept["ts"], kept["is_return"]
    starts: dict[Any, dt.datetime] = {}
    for i in idx:
        if not is_return[i]:
            starts[order[i]] = min(starts.get(order[i], ts[i]), ts[i])
    if not starts:
        return None
    chosen = sorted(starts, key=lambda o: (starts[o], o))[:window.n_orders]
    first = starts[chosen[0]]
    if window.n_days is not None:
        chosen = [o for o in chosen if starts[o] < first + dt.timedelta(days=window.n_days)]
    rank = {o: k for k, o in enumerate(chosen, start=1)}
    last = starts[chosen[-1]]
    by_days = first + dt.timedelta(days=window.n_days) if window.n_days is not None else None
    close = last if window.n_orders is not None and len(chosen) >= window.n_orders else by_days
    bought = [i for i in idx if not is_return[i] and order[i] in rank]
    returned = [i for i in idx if is_return[i] and ts[i] <= (close or last)]
    revenue = kept["revenue_exact"]
    value = dict.fromkeys(chosen, 0)
    for i in bought:
        value[order[i]] += revenue[i]
    gross = sum(revenue[i] for i in bought)
    countries = [kept["country"][i] for i in bought
                 if rank[order[i]] == 1 and kept["country"][i] is not None]
    epoch = [(starts[o] - _EPOCH) / _MICROSECOND / 1e6 for o in chosen]
    gaps = [(b - a) / 86400.0 for a, b in itertools.pairwise(epoch)]
    hours = [starts[o].hour for o in chosen]
    quantity = kept["quantity"]
    return (
        first, last, len(chosen), close, len(bought),
        len({kept["product_id"][i] for i in bought} - {None}),
        gross / _MONEY_UNIT, (gross + sum(revenue[i] for i in returned)) / _MONEY_UNIT,
        len(returned),
        sum(quantity[i] for i in bought),
        sum(kept["unit_price_exact"][i] for i in bought) / _MONEY_UNIT,
        sum(quantity[i] >= BULK_QUANTITY for i in bought), min(countries, default=None),
        max(value.values()) / _MONEY_UNIT, value[chosen[0]] / _MONEY_UNIT,
        sum(gaps) / len(gaps) if gaps else None, min(gaps, default=None),
        max(gaps, default=None), sum(hours) / len(hours),
        sum(h < 12 for h in hours) / len(hours),
        sum(starts[o].weekday() >= 5 for o in chosen) / len(chosen),
    )


#: Money's last place (see :data:`segwise._expr.MONEY_TYPE`) in units: 10^12.
_MONEY_UNIT = 10**MONEY_PLACES[1]


_WIDE = decimal.Context(prec=80)  # DECIMAL(38, 12) and more, never rounded


@functools.lru_cache(maxsize=1 << 16)
def _money_units(value: decimal.Decimal) -> int:
    """Return an exact money decimal as an integer count of its last place (10^-12)."""
    return int(value.scaleb(MONEY_PLACES[1], _WIDE))


def _with_category_shares(
    out: pd.DataFrame, lines: ir.Table, categories: pd.DataFrame
) -> pd.DataFrame:
    """Join each customer's window spend share per product category (``cat_<id>``)."""
    from segwise.features.products import NON_PRODUCT_ID, category_spend

    if "category" not in categories:  # only ids travel with a saved model
        categories = categories.assign(category=categories["category_id"].astype(str))
    long = category_spend(lines, categories)
    long = long[long["category_id"] != NON_PRODUCT_ID]
    ids = sorted(int(c) for c in set(categories["category_id"]) if c != NON_PRODUCT_ID)
    wide = long.pivot_table(index="customer_id", columns="category_id", values="spend",
                            aggfunc="sum").reindex(columns=ids).fillna(0.0)
    shares = wide.div(wide.sum(axis=1).where(lambda s: s > 0), axis=0)
    shares.columns = [f"cat_{c}" for c in ids]
    attrs = out.attrs
    out = out.join(shares, on="customer_id")
    out[list(shares.columns)] = out[list(shares.columns)].fillna(0.0).astype("float64")
    out.attrs = attrs
    return out


def finish_early_features(df: pd.DataFrame, window: EarlyWindow,
                          as_of: pd.Timestamp) -> pd.DataFrame:
    """Turn :func:`early_table`'s rows into the features: ratios, completeness, dtypes.

    Parameters
    ----------
    df : pandas.DataFrame
        The collected rows of :func:`early_table`.
    window : EarlyWindow
        The window.
    as_of : pandas.Timestamp
        End of observation.

    Returns
    -------
    pandas.DataFrame
        As :func:`early_features` (without category shares); dtypes fixed so that every
        engine agrees.
    """
    df = df.sort_values("customer_id", ignore_index=True)
    rows = {c: df[c].to_numpy() for c in df.columns}
    for col in ("first_purchase", "last_order", "window_close"):
        rows[col] = pd.to_datetime(df[col]).to_numpy()
    out = pd.DataFrame(early_feature_columns(rows, window, as_of.to_datetime64()))
    out.attrs["window"] = window.to_dict()
    out.attrs["as_of"] = as_of.isoformat()
    return out


def early_feature_columns(rows: Mapping[str, np.ndarray], window: EarlyWindow,
                          as_of: np.datetime64) -> dict[str, np.ndarray]:
    """:func:`finish_early_features` on column arrays: what a server's few rows need.

    Parameters
    ----------
    rows : mapping of str to ndarray
        :func:`early_table`'s columns, in ``customer_id`` order; times as ``datetime64``,
        exact money as decimals or floats.
    window : EarlyWindow
        The window.
    as_of : numpy.datetime64
        End of observation.

    Returns
    -------
    dict of str to ndarray
        :data:`META_COLUMNS` then :data:`FEATURE_COLUMNS`: numeric features float64,
        ``country`` objects (``"Unknown"`` when missing), ``window_complete`` bool.
    """
    def f64(col: str) -> np.ndarray:
        # Decimals one by one (float() is correctly rounded), as pandas' astype does.
        return np.asarray(rows[col]).astype("float64")

    first, last, close = (np.asarray(rows[c]) for c in ("first_purchase", "last_order",
                                                         "window_close"))
    # Counts are never missing; int64 whatever the engine handed back (numpy or nullable).
    n_orders = np.asarray(rows["n_orders"], dtype="int64")
    n = n_orders.astype("float64")
    n_lines = np.asarray(rows["n_lines"], dtype="int64")
    gross, net = f64("gross_spend"), f64("net_spend")
    out: dict[str, np.ndarray] = {
        "n_orders": n, "n_lines": n_lines, "n_products": rows["n_products"],
        "net_spend": net, "gross_spend": gross,
        "returns_value": np.round(gross - net, 6),
        "n_return_lines": rows["n_return_lines"],
        "avg_order_value": np.round(gross / n, 6),
        "max_order_value": f64("max_order_value"),
        "first_order_value": f64("first_order_value"),
        "avg_lines_per_order": n_lines.astype("float64") / n,
        "avg_units_per_order": f64("units") / n,
        "avg_unit_price": np.round(f64("unit_price_sum") / np.maximum(n_lines, 1), 6),
        "bulk_line_share": f64("bulk_lines") / np.maximum(n_lines, 1),
        "span_days": (last - first) / np.timedelta64(1, "s") / 86400.0,
    }
    # One order has no gap: 0 keeps the column finite for every model.
    for col in ("mean_gap_days", "min_gap_days", "max_gap_days"):
        gap = f64(col)
        out[col] = np.where(np.isnan(gap), 0.0, gap)
    for col in ("mean_order_hour", "morning_order_share", "weekend_order_share"):
        out[col] = rows[col]
    reached = (n_orders >= window.n_orders if window.n_orders is not None
               else np.zeros(len(n), dtype=bool))
    elapsed = (first + np.timedelta64(window.n_days, "D") <= as_of if window.n_days is not None
               else np.zeros(len(n), dtype=bool))
    complete = np.asarray(reached | elapsed, dtype=bool)
    country = np.asarray(rows["country"], dtype=object)
    missing = np.asarray([c is None or c != c for c in country.tolist()], dtype=bool)
    meta = {"customer_id": np.asarray(rows["customer_id"], dtype=object),
            "first_purchase": first, "window_end": np.where(complete, close, last),
            "window_complete": complete}
    return {**meta, **{c: np.asarray(out[c], dtype="float64") for c in NUMERIC_FEATURES},
            "country": np.where(missing, "Unknown", country).astype(object)}


def feature_dtypes(df: pd.DataFrame) -> dict[str, str]:
    """Column -> dtype name of the model features in ``df`` (the feature schema)."""
    return {c: str(df[c].dtype) for c in df.columns if c not in META_COLUMNS}
