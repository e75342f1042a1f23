"""Small Ibis expression helpers shared by several steps."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["MONEY_PLACES", "MONEY_TOLERANCE", "MONEY_TYPE", "exact_money", "money_rounded",
           "money_sum"]

#: The fewest and the most decimal places money keeps.
MONEY_PLACES = (6, 12)
#: The largest share of itself a money value may lose to its places (a billionth).
MONEY_TOLERANCE = 1e-9
#: Exact money: twelve places, and fifteen digits before the point (lines are below
#: 10^13, :data:`segwise.io.MAX_NUMBER`). Not 38 digits: Spark fits a product of decimals
#: into 38 digits by cutting places, so 38-digit money times a count would keep six.
MONEY_TYPE = dt.Decimal(27, 12)
#: Each number of places as a type object: a type written as text is parsed on every cast.
_AT_PLACES = {p: dt.Decimal(38, p) for p in range(MONEY_PLACES[0], MONEY_PLACES[1] + 1)}


def exact_money(value: ir.NumericValue) -> ir.NumericValue:
    """Money as a fixed-point decimal, so that sums are exact and every engine agrees.

    Floating-point sums depend on the order rows are added in, which differs between
    engines and runs; decimal sums do not. Each value keeps the fewest places, six to
    twelve (:data:`MONEY_PLACES`), that hold it to a billionth of itself: a price of
    0.0000125 (per impression, per gram) keeps its seven, where six places would make it
    0.000013 and every total built from it 4 % too high. A value that needs more than six
    is below 500, so the value times 10^places is an exact double and both engines make
    the same decimal of it. Beyond twelve places a value is rounded
    (:func:`money_rounded`).
    """
    low, high = MONEY_PLACES

    def kept(places: int) -> ir.NumericValue:
        # Cast at its own places first: an exact double times 10^places; widening is exact.
        return value.round(places).cast(_AT_PLACES[places]).cast(MONEY_TYPE)

    return ibis.cases(*((_holds(value, p), kept(p)) for p in range(low, high)),
                      else_=kept(high))


def money_rounded(value: ir.NumericValue) -> ir.BooleanValue:
    """Whether :func:`exact_money` rounds ``value`` by more than a billionth of itself.

    Twelve places round by at most 5e-13, within a billionth of any value from 5e-4 up:
    only smaller values are tested (the loader counts this on every line), and only
    they pay for the rounding: engines evaluate a ``CASE`` branch only on its rows, not
    the other side of an ``AND`` (0.3 s of CPU at 30 M lines).
    """
    return ibis.ifelse(value.abs() < 1e-3, ~_holds(value, MONEY_PLACES[1]), False)


def _holds(value: ir.NumericValue, places: int) -> ir.BooleanValue:
    """Whether ``places`` decimal places hold ``value`` to :data:`MONEY_TOLERANCE` of itself."""
    return (value.round(places) - value).abs() <= value.abs() * MONEY_TOLERANCE


def money_sum(value: ir.NumericColumn, where: ir.BooleanValue | None = None) -> ir.FloatingScalar:
    """Sum money, exactly when it is a decimal (see :func:`exact_money`), as float64.

    DuckDB and Spark both round a decimal to the nearest double (checked below 2**53
    millionths), so the engines still agree, and results need not convert decimal objects
    one by one.
    """
    total = value.sum(where=where)
    return total.cast("float64") if total.type().is_decimal() else total
