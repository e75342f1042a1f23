"""Acquisition cohorts: retention and revenue per customer by age, and their segment mix.

A customer's cohort is the calendar month (or quarter, or year) of their first purchase
order. Their age in a later period is the number of periods since; they are *active* at an
age when they placed a purchase order in that period. Revenue is net (returns reduce it)
and divided by the cohort's size, so "revenue per customer" is per acquired customer,
active or not. Returns booked before a customer's first purchase in the log (of orders
bought before it began) count at age 0, so that every cohort's revenue adds up to its
customers' net spend.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis
import pandas as pd

from segwise._engine import fetch_numpy
from segwise._expr import money_sum
from segwise.exceptions import ConfigError

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["COHORT_PERIODS", "Cohorts", "cohorts"]

#: Cohort periods and their length in months.
COHORT_PERIODS: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}


def _index(day: ir.DateValue, period: str) -> ir.IntegerValue:
    """Calendar period number of a day (months, quarters or years since year 0)."""
    if period == "month":
        return day.year() * 12 + day.month() - 1
    if period == "quarter":
        return day.year() * 4 + day.quarter() - 1
    return day.year()


def _start(index: int, period: str) -> _dt.date:
    """First day of a period number."""
    month = index * COHORT_PERIODS[period]
    return _dt.date(month // 12, month % 12 + 1, 1)


def _label(start: _dt.date, period: str) -> str:
    if period == "month":
        return f"{start:%Y-%m}"
    if period == "quarter":
        return f"{start.year}Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


@dataclass
class Cohorts:
    """Acquisition cohorts of a customer base.

    Attributes
    ----------
    activity : pandas.DataFrame
        One row per cohort and age (every age the data cover, active customers or not):
        ``cohort`` (label, e.g. ``2011-01``), ``cohort_start`` (date), ``age`` (periods
        since acquisition), ``customers`` (cohort size), ``active``, ``retention``
        (active / customers), ``revenue``, ``revenue_per_customer``,
        ``cumulative_revenue_per_customer`` and ``partial`` (the period is not over at
        the end of the data).
    customers : pandas.DataFrame
        ``customer_id`` and ``cohort`` of every customer with a purchase order.
    period : str
        ``month``, ``quarter`` or ``year``.
    end : date
        Purchases before this day count.
    """

    activity: pd.DataFrame
    customers: pd.DataFrame
    period: str
    end: _dt.date

    def triangle(self, value: str = "retention") -> pd.DataFrame:
        """Return one value as a cohort (rows) by age (columns) triangle.

        Parameters
        ----------
        value : str, default="retention"
            A numeric column of :attr:`activity` (``retention``, ``active``,
            ``revenue_per_customer``, ``cumulative_revenue_per_customer``, ...).

        Returns
        -------
        pandas.DataFrame
            Rows in cohort order, columns ``0 .. max age``; NaN where a cohort is not
            that old yet.
        """
        if value not in self.activity.columns or value in ("cohort", "cohort_start"):
            raise ConfigError(f"value {value!r}: choose a numeric column of the activity table")
        return self.activity.pivot(index="cohort", columns="age", values=value).reindex(
            self.activity["cohort"].drop_duplicates())

    def mix(self, segments: pd.DataFrame, *, segment_col: str = "segment",
            normalize: bool = True) -> pd.DataFrame:
        """Segment mix of each cohort in a snapshot.

        Parameters
        ----------
        segments : pandas.DataFrame
            ``customer_id`` and ``segment_col`` (one snapshot, typically the last).
        segment_col : str, default="segment"
            Segment column.
        normalize : bool, default=True
            Shares of each cohort's customers (rows sum to 1) rather than counts.

        Returns
        -------
        pandas.DataFrame
            Cohorts (rows) by segments (columns); customers of the snapshot without a
            cohort cannot occur (both come from the same purchases).
        """
        j = self.customers.merge(segments[["customer_id", segment_col]], on="customer_id")
        table = pd.crosstab(j["cohort"], j[segment_col], normalize="index" if normalize else False)
        order = [c for c in self.activity["cohort"].drop_duplicates() if c in table.index]
        return table.reindex(order)


def cohorts(pieces: ir.Table, *, period: str = "month", end: _dt.date) -> Cohorts:
    """Acquisition cohorts from the kept order pieces, in one grouped query.

    Parameters
    ----------
    pieces : ibis.Table
        Kept order pieces (:func:`segwise.track.order_pieces`).
    period : {"month", "quarter", "year"}, default="month"
        Cohort and age period.
    end : date
        Purchases before this day count (the last snapshot's date).

    Returns
    -------
    Cohorts
        Activity by cohort and age, and every customer's cohort.
    """
    if period not in COHORT_PERIODS:
        raise ConfigError(f"cohort period {period!r}: choose one of {', '.join(COHORT_PERIODS)}")
    t = pieces.filter(pieces.day < ibis.literal(end))
    t = t.mutate(p=_index(t.day, period))
    per = t.group_by(["customer_id", "p"]).aggregate(
        active=t.frequency.max(), revenue=money_sum(t.monetary)
    )
    firsts = per.filter(per.active > 0).group_by("customer_id").aggregate(cohort=per.p.min())
    j = per.join(firsts, "customer_id")
    j = j.mutate(age=ibis.greatest(j.p - j.cohort, 0))
    cells = j.group_by(["cohort", "age"]).aggregate(
        active=(j.active > 0).cast("int64").sum(), revenue=j.revenue.sum()
    )
    sizes = fetch_numpy(firsts.group_by("cohort").aggregate(customers=firsts.count()))
    got = pd.DataFrame(fetch_numpy(cells))
    members = pd.DataFrame(fetch_numpy(firsts))

    last_index = _python_index(end - _dt.timedelta(days=1), period)
    size = pd.Series(sizes["customers"], index=sizes["cohort"]).sort_index()
    grid = pd.DataFrame(
        [(c, a) for c in size.index for a in range(int(last_index - c) + 1)],
        columns=["cohort", "age"],
    )
    act = grid.merge(got, on=["cohort", "age"], how="left").fillna({"active": 0, "revenue": 0.0})
    act["customers"] = act["cohort"].map(size).astype("int64")
    act["active"] = act["active"].astype("int64")
    act["retention"] = act["active"] / act["customers"]
    act["revenue"] = act["revenue"].astype("float64")
    act["revenue_per_customer"] = act["revenue"] / act["customers"]
    act["cumulative_revenue_per_customer"] = act.groupby("cohort")["revenue_per_customer"].cumsum()
    partial = end != _start(last_index + 1, period)
    act["partial"] = partial & (act["cohort"] + act["age"] == last_index)
    starts = {int(c): _start(int(c), period) for c in size.index}
    act["cohort_start"] = act["cohort"].map(starts)
    act["cohort"] = act["cohort_start"].map(lambda d: _label(d, period))
    members["cohort"] = members["cohort"].map(lambda c: _label(_start(int(c), period), period))
    columns = ["cohort", "cohort_start", "age", "customers", "active", "retention", "revenue",
               "revenue_per_customer", "cumulative_revenue_per_customer", "partial"]
    return Cohorts(activity=act[columns], customers=members[["customer_id", "cohort"]],
                   period=period, end=end)


def _python_index(day: _dt.date, period: str) -> int:
    """:func:`_index` for one Python date."""
    if period == "month":
        return day.year * 12 + day.month - 1
    if period == "quarter":
        return day.year * 4 + (day.month - 1) // 3
    return day.year
