"""Recency-frequency summary in the buy-till-you-die (BTYD) convention, built in Ibis.

Per customer, over a calibration period that ends on a given day (inclusive):

- ``frequency`` (``x``): repeat purchase occasions, i.e. distinct purchase days after the first
  (periods with a purchase for discrete-time models);
- ``recency`` (``t_x``): time from the first to the last purchase day;
- ``T``: time from the first purchase day to the end of calibration;
- ``monetary_value``: mean value of the repeat occasions (0 when ``frequency`` is 0).

As in Fader, Hardie and Lee (2005), time is measured in days and expressed in the chosen
unit (``"W"``: days / 7), and all orders of one customer on one day are one purchase
occasion whose value is the sum of its lines. The aggregation runs on the engine that
holds the lines (DuckDB or Spark); only one row per customer comes back to pandas.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd

from segwise._expr import exact_money, money_sum
from segwise._time import UNITS, parse_horizon, to_date, unit_days
from segwise.exceptions import ConfigError, InputError, SegwiseWarning

if TYPE_CHECKING:
    from collections.abc import Mapping

    import ibis.expr.types as ir

    from segwise.io import ReadOptions

__all__ = [
    "SUMMARY_COLUMNS",
    "UNITS",
    "Period",
    "btyd_summary",
    "occasion_counts",
    "order_lines",
    "parse_horizon",
    "purchase_lines",
    "purchase_span",
    "to_date",
    "unit_days",
]

#: Columns of :func:`btyd_summary`, in order (holdout columns only when there is a holdout).
SUMMARY_COLUMNS: tuple[str, ...] = (
    "customer_id", "frequency", "recency", "T", "monetary_value", "net_spend", "returns",
    "first_purchase", "last_purchase", "frequency_holdout", "monetary_value_holdout",
)

@dataclass(frozen=True)
class Period:
    """The calibration and holdout periods of a summary.

    Attributes
    ----------
    calibration_end : datetime.date
        Last day of the calibration period (inclusive).
    holdout_end : datetime.date or None
        Last day of the holdout period (inclusive); ``None`` when there is no holdout.
    unit : str
        Model time unit (``"D"``, ``"W"``, ``"M"``).
    """

    calibration_end: _dt.date
    holdout_end: _dt.date | None
    unit: str

    def to_attrs(self) -> dict[str, str | None]:
        """Return the period as JSON-serialisable ``DataFrame.attrs`` entries (Parquet-safe)."""
        hold = None if self.holdout_end is None else self.holdout_end.isoformat()
        return {
            "calibration_end": self.calibration_end.isoformat(),
            "holdout_end": hold,
            "unit": self.unit,
        }

    @classmethod
    def from_attrs(cls, attrs: Mapping[Any, Any]) -> Period:
        """Read the period back from the ``attrs`` of a :func:`btyd_summary` frame.

        Parameters
        ----------
        attrs : mapping
            ``DataFrame.attrs`` of a summary.

        Returns
        -------
        Period
            The period.
        """
        if "calibration_end" not in attrs or "unit" not in attrs:
            raise InputError("the table has no BTYD period: build it with btyd_summary")
        hold = attrs.get("holdout_end")
        return cls(
            to_date(attrs["calibration_end"], "calibration_end"),
            None if hold is None else to_date(hold, "holdout_end"),
            str(attrs["unit"]),
        )

    @property
    def holdout_duration(self) -> float:
        """Length of the holdout period in model units (0 when there is none)."""
        if self.holdout_end is None:
            return 0.0
        return (self.holdout_end - self.calibration_end).days / unit_days(self.unit)


def order_source(source: Any, columns: Mapping[str, str] | None = None,
                 read: ReadOptions | None = None) -> Any:
    """Return a source of order lines the CLV functions read, loading raw ones.

    Cleaned lines, a loaded log and (without ``columns``) an Ibis table with
    ``customer_id``, ``ts`` and ``revenue`` are returned as they are. Anything else (an
    order-line file, or a pandas or polars DataFrame, Arrow or Ibis table of raw order
    lines) is loaded and cleaned with the default settings, through the role checks,
    quarantine and audit of :func:`segwise.io.load_transactions` and
    :func:`segwise.clean.clean_transactions`.

    Parameters
    ----------
    source : CleanedLines, Transactions, ibis.Table, str, Path or table in memory
        The order lines.
    columns : mapping of role to column name, optional
        The raw lines' column for each role their names do not reveal
        (``{"customer_id": "cust", "timestamp": "ts"}``), as ``[columns]`` in a config.
    read : ReadOptions, optional
        How the raw lines' file is read (delimiter, ``decimal``, ...), as ``[read]`` in a
        config.

    Returns
    -------
    CleanedLines, Transactions or ibis.Table
        What :func:`order_lines` takes.

    Raises
    ------
    ConfigError
        If ``columns`` or ``read`` is given with lines already loaded or cleaned.
    """
    from segwise.clean import clean_transactions
    from segwise.io import load_transactions, refuse_read_options

    if hasattr(source, "kept") or hasattr(source, "distinct_lines"):
        refuse_read_options(source, columns, read)
        return source
    if not columns and read is None and isinstance(source, ibis.expr.types.Table) and (
            {"customer_id", "ts", "revenue"} <= set(source.columns)):
        return source
    return clean_transactions(load_transactions(source, columns=columns, read=read))


def order_lines(source: Any) -> ir.Table:
    """Return every line of a transaction source, purchases and returns, as an Ibis table.

    Parameters
    ----------
    source : CleanedLines, Transactions or ibis.Table
        Cleaned lines (their kept lines are used), a loaded log, or a table with
        ``customer_id``, ``ts`` and ``revenue`` (and optionally ``is_return``).

    Returns
    -------
    ibis.Table
        The lines, with ``customer_id``, ``ts`` and ``revenue`` among their columns.
    """
    table = source.kept if hasattr(source, "kept") else getattr(source, "table", source)
    if not isinstance(table, ibis.expr.types.Table):
        raise ConfigError(
            f"expected CleanedLines, Transactions or an Ibis table, got {type(source).__name__}"
        )
    missing = {"customer_id", "ts", "revenue"} - set(table.columns)
    if missing:
        raise InputError(f"the order lines lack the column(s) {', '.join(sorted(missing))}")
    return table


def purchase_lines(source: Any) -> ir.Table:
    """Return the purchase lines of a transaction source as an Ibis table.

    Parameters
    ----------
    source : CleanedLines, Transactions or ibis.Table
        Cleaned lines (their kept lines are used), a loaded log (every line is a purchase),
        or a table with ``customer_id``, ``ts`` and ``revenue`` (and optionally ``is_return``).

    Returns
    -------
    ibis.Table
        Lines with ``customer_id``, ``ts`` and ``revenue`` that are purchases, not returns:
        neither flagged ``is_return`` nor of negative value (a refund in a raw log has no
        flag; :func:`btyd_summary` counts both kinds as returns).
    """
    table = order_lines(source)
    # Returns are netted in RFM's monetary value but are never purchase occasions (a day
    # with only a refund is no repeat purchase); the spend model describes what a
    # purchase is worth, so they stay out of it too.
    refund = table.revenue < 0
    if "is_return" in table.columns:
        refund |= table.is_return
    return table.filter(~refund.fill_null(False)).select("customer_id", "ts", "revenue")


def _occasions(lines: ir.Table, periods: tuple[_dt.date, float] | None = None) -> ir.Table:
    """One row per customer and purchase occasion, with the occasion's total value.

    An occasion is a purchase day (``slot`` is the day). With ``periods = (end, days)``
    it is a period of ``days`` with a purchase instead: periods are numbered from the one
    that ends on ``end`` (0; earlier ones -1, -2, ...; later ones 1, 2, ...), ``slot`` is
    that number, and ``day`` / ``last_day`` are the period's first and last purchase days.
    Values are exact decimal sums (see :func:`segwise._expr.exact_money`): a
    floating-point sum depends on the order the engine adds rows in, which differs between
    runs, and the spend model's fit must not.
    """
    days = (
        lines.filter(lines.customer_id.notnull() & lines.ts.notnull())
        .mutate(day=lines.ts.date())
        .group_by(["customer_id", "day"])
        .aggregate(value=lambda t: exact_money(t.revenue).sum())
    )
    if periods is None:
        return days.mutate(last_day=days.day, slot=days.day)
    end, length = periods
    slotted = days.mutate(slot=(days.day.delta(ibis.literal(end), unit="day") / length).ceil())
    return slotted.group_by(["customer_id", "slot"]).aggregate(
        day=slotted.day.min(), last_day=slotted.day.max(), value=slotted.value.sum()
    )


def purchase_span(source: Any, *, columns: Mapping[str, str] | None = None,
                  read: ReadOptions | None = None) -> tuple[_dt.date, _dt.date]:
    """Return the first and last purchase days of a transaction source.

    Parameters
    ----------
    source : CleanedLines, Transactions, ibis.Table, str, Path or table in memory
        The order lines; see :func:`order_source`.
    columns : mapping of role to column name, optional
        Raw lines' columns by role, for names segwise does not recognise.
    read : ReadOptions, optional
        How a file of raw lines is read.

    Returns
    -------
    tuple of date
        The first and the last day with a purchase of a known customer.

    Raises
    ------
    InputError
        If there is no purchase.
    """
    lines = purchase_lines(order_source(source, columns, read))
    known = lines.filter(lines.customer_id.notnull() & lines.ts.notnull())
    day = known.ts.date()
    bounds = known.aggregate(first=day.min(), last=day.max()).to_pandas().iloc[0]
    if pd.isna(bounds["last"]):
        raise InputError("no purchase lines to summarise. Fix: check the input and the cleaning")
    return pd.Timestamp(bounds["first"]).date(), pd.Timestamp(bounds["last"]).date()


#: Days a calibration or holdout end may follow the log's last purchase unremarked (or one
#: time unit, if longer).
_QUIET_DAYS = 7


def _check_log_end(
    source: Any, last_purchase: _dt.date, cal_end: _dt.date, hold_end: _dt.date | None,
    days_per_unit: float,
) -> None:
    """Warn when the calibration or holdout end lies well past the log's last line.

    A log often ends a few days after its last sale; a longer silence is a date typo or a
    log cut short, and the models would read it as customers who stopped buying.
    """
    quiet = max(_QUIET_DAYS, days_per_unit)
    ends = {"calibration_end": cal_end, "holdout_end": hold_end}
    late = {k: d for k, d in ends.items() if d is not None and (d - last_purchase).days > quiet}
    if not late:
        return
    lines = order_lines(source)  # returns after the last purchase still show the log ran on
    known = lines.filter(lines.customer_id.notnull() & lines.ts.notnull())
    log_end = pd.Timestamp(known.aggregate(last=known.ts.max()).to_pandas()["last"].iloc[0]).date()
    for name, day in late.items():
        if (day - log_end).days > quiet:
            warnings.warn(
                f"{name} {day} is {(day - log_end).days} days after the log's last line "
                f"({log_end}): the models read those days as days without purchases. "
                f"Fix: if the log ends on {log_end}, choose {name} on or before it",
                SegwiseWarning,
                stacklevel=3,
            )


def btyd_summary(
    source: Any,
    *,
    calibration_end: Any = None,
    holdout_end: Any = None,
    unit: str = "W",
    discrete: bool = False,
    columns: Mapping[str, str] | None = None,
    read: ReadOptions | None = None,
) -> pd.DataFrame:
    """Summarise a transaction log per customer in the BTYD convention.

    Parameters
    ----------
    source : CleanedLines, Transactions, ibis.Table, str, Path or table in memory
        The order lines; see :func:`order_source`.
    calibration_end : date or str, optional
        Last day of the calibration period (inclusive). The last purchase day when omitted.
    holdout_end : date or str, optional
        Last day of the holdout period (inclusive). When omitted and purchases follow the
        calibration period, the last purchase day; no holdout otherwise.
    unit : {"D", "W", "M", "Q", "Y"}, default="W"
        Time unit of ``recency`` and ``T``.
    discrete : bool, default=False
        Count in whole periods of ``unit`` (transaction opportunities), for
        discrete-time models such as :class:`~segwise.clv.BGBB`: periods are laid back to
        back from the calibration end (the last calibration period ends on it), an
        occasion is a period with a purchase, ``recency`` and ``T`` are whole periods
        from the first purchase's period, and the holdout counts its periods with a
        purchase.

    columns : mapping of role to column name, optional
        Raw lines' columns by role, for names segwise does not recognise (see
        :func:`order_source`).
    read : ReadOptions, optional
        How a file of raw lines is read (``ReadOptions(decimal=",")``; see
        :func:`order_source`).

    Returns
    -------
    pandas.DataFrame
        One row per customer with a purchase on or before ``calibration_end``, sorted by
        ``customer_id``: ``customer_id``, ``frequency`` (int), ``recency``, ``T``,
        ``monetary_value``, ``net_spend`` (the customer's purchases less their returns up
        to the calibration end), ``returns`` (the value of those returns, 0 or below:
        lines flagged ``is_return`` and lines of negative value), ``first_purchase``,
        ``last_purchase`` (dates as Timestamps), and with a holdout ``frequency_holdout``
        and ``monetary_value_holdout`` (mean value of the holdout occasions, 0 when none).
        ``df.attrs`` holds the period as ISO dates (``calibration_end``, ``holdout_end``,
        ``unit``; read it back with :meth:`Period.from_attrs`), ``discrete``, and
        ``n_excluded``: customers whose first purchase follows the calibration period.
        They are left out, because the models describe customers from their first
        purchase on and those have none in the calibration period.

    Raises
    ------
    InputError
        If no customer bought in the calibration period.
    ConfigError
        If the dates or the unit are invalid.
    """
    days_per_unit = unit_days(unit)
    source = order_source(source, columns, read)
    lines = purchase_lines(source)
    occ = _occasions(lines)
    data_start, data_end = purchase_span(lines)
    cal_end = data_end if calibration_end is None else to_date(calibration_end, "calibration_end")
    hold_end: _dt.date | None = data_end if data_end > cal_end else None
    if holdout_end is not None:
        hold_end = to_date(holdout_end, "holdout_end")
        if hold_end <= cal_end:
            raise ConfigError(
                f"holdout_end {hold_end} must come after calibration_end {cal_end}"
            )
    _check_log_end(source, data_end, cal_end, hold_end, days_per_unit)
    if discrete:
        occ = _occasions(lines, (cal_end, days_per_unit))

    cal = occ.filter(occ.day <= ibis.literal(cal_end))
    firsts = cal.group_by("customer_id").aggregate(first_slot=cal.slot.min())
    joined = cal.join(firsts, "customer_id")
    repeat = joined.slot > joined.first_slot
    per_customer = joined.group_by("customer_id").aggregate(
        first_purchase=joined.day.min(),
        last_purchase=joined.last_day.max(),
        first_slot=joined.first_slot.min(),
        last_slot=joined.slot.max(),
        frequency=repeat.cast("int64").sum(),
        repeat_value=money_sum(joined.value, where=repeat),
    )
    spend = order_lines(source)
    spend = spend.filter(spend.customer_id.notnull() & (spend.ts.date() <= ibis.literal(cal_end)))
    money = exact_money(spend.revenue)
    returned = money < 0
    if "is_return" in spend.columns:
        returned |= spend.is_return
    net = spend.group_by("customer_id").aggregate(
        net_spend=money_sum(money), returns=money_sum(money, where=returned)
    )
    per_customer = per_customer.left_join(net, "customer_id").drop("customer_id_right")
    if hold_end is not None:
        hold = occ.filter(
            (occ.day > ibis.literal(cal_end)) & (occ.day <= ibis.literal(hold_end))
        )
        hold_agg = hold.group_by("customer_id").aggregate(
            frequency_holdout=hold.count(), holdout_value=money_sum(hold.value)
        )
        per_customer = per_customer.left_join(hold_agg, "customer_id").drop("customer_id_right")
    # Customers whose every purchase follows the calibration period.
    later = occ.group_by("customer_id").aggregate(first_day=occ.day.min())
    n_excluded = later.filter(later.first_day > ibis.literal(cal_end)).count()

    df = per_customer.to_pandas()
    if df.empty:
        raise InputError(
            f"no customer bought on or before calibration_end {cal_end} (purchases run "
            f"{data_start} .. {data_end}). "
            "Fix: choose a later calibration end"
        )
    df["first_purchase"] = pd.to_datetime(df["first_purchase"])
    df["last_purchase"] = pd.to_datetime(df["last_purchase"])
    df["frequency"] = df["frequency"].astype("float64").fillna(0).astype("int64")
    if discrete:
        first_slot = df["first_slot"].astype("float64")
        df["recency"] = df["last_slot"].astype("float64") - first_slot
        df["T"] = -first_slot  # the last calibration period is number 0
    else:
        end = pd.Timestamp(cal_end)
        df["recency"] = (df["last_purchase"] - df["first_purchase"]).dt.days / days_per_unit
        df["T"] = (end - df["first_purchase"]).dt.days / days_per_unit
    value = df["repeat_value"].astype("float64").fillna(0.0)
    df["monetary_value"] = np.where(df["frequency"] > 0, value / df["frequency"].clip(lower=1), 0.0)
    df["net_spend"] = df["net_spend"].astype("float64").fillna(0.0)
    df["returns"] = df["returns"].astype("float64").fillna(0.0)
    out_columns = list(SUMMARY_COLUMNS)
    if hold_end is not None:
        hold_n = df["frequency_holdout"].astype("float64").fillna(0)
        df["frequency_holdout"] = hold_n.astype("int64")
        hv = df["holdout_value"].astype("float64").fillna(0.0)
        df["monetary_value_holdout"] = np.where(
            df["frequency_holdout"] > 0, hv / df["frequency_holdout"].clip(lower=1), 0.0
        )
    else:
        out_columns = [c for c in out_columns if not c.endswith("_holdout")]
    df = df.sort_values("customer_id", ignore_index=True)[out_columns]
    df.attrs.update(Period(cal_end, hold_end, unit.upper()).to_attrs())
    df.attrs["discrete"] = discrete
    df.attrs["n_excluded"] = int(n_excluded.to_pandas())
    return df


def occasion_counts(source: Any, summary: pd.DataFrame) -> pd.DataFrame:
    """Daily repeat purchase occasions of the summary's customers, for tracking plots.

    Parameters
    ----------
    source : CleanedLines, Transactions or ibis.Table
        The order lines the summary was built from.
    summary : pandas.DataFrame
        Output of :func:`btyd_summary`.

    Returns
    -------
    pandas.DataFrame
        ``day`` (Timestamp) and ``repeat_purchases`` (int): occasions after each customer's
        first purchase, up to the end of the holdout (or calibration) period, per day.
    """
    period = Period.from_attrs(summary.attrs)
    last = period.holdout_end or period.calibration_end
    occ = _occasions(purchase_lines(order_source(source)))
    firsts = occ.group_by("customer_id").aggregate(first_day=occ.day.min())
    joined = occ.join(firsts, "customer_id")
    cohort = joined.filter(
        (joined.first_day <= ibis.literal(period.calibration_end))
        & (joined.day > joined.first_day)
        & (joined.day <= ibis.literal(last))
    )
    daily = cohort.group_by("day").aggregate(repeat_purchases=cohort.count()).to_pandas()
    daily["day"] = pd.to_datetime(daily["day"])
    daily["repeat_purchases"] = daily["repeat_purchases"].astype("int64")
    return daily.sort_values("day", ignore_index=True)
