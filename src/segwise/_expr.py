"""Small Ibis expression helpers shared by several steps."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["exact_money", "money_sum"]


def exact_money(value: ir.NumericValue) -> ir.NumericValue:
    """Money as a fixed-point decimal, so that sums are exact and every engine agrees.

    Floating-point sums depend on the order rows are added in, which differs between
    engines and runs; decimal sums do not.
    """
    return value.round(6).cast("decimal(38, 6)")


def money_sum(value: ir.NumericColumn, where: ir.BooleanValue | None = None) -> ir.FloatingScalar:
    """Sum money, exactly when it is a decimal (see :func:`exact_money`), as float64.

    DuckDB and Spark both round a decimal to the nearest double (checked below 2**53
    millionths), so the engines still agree, and results need not convert decimal objects
    one by one.
    """
    total = value.sum(where=where)
    return total.cast("float64") if total.type().is_decimal() else total
