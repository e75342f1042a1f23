"""Small Ibis expression helpers shared by several steps."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["exact_money"]


def exact_money(value: ir.NumericValue) -> ir.NumericValue:
    """Money as a fixed-point decimal, so that sums are exact and every engine agrees.

    Floating-point sums depend on the order rows are added in, which differs between
    engines and runs; decimal sums do not.
    """
    return value.round(6).cast("decimal(38, 6)")
