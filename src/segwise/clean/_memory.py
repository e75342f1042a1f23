"""The order-line rules on a few lines held in memory: what a server scores per request.

An engine's fixed cost per statement (binding and planning, about 2 ms on DuckDB, which
binds a statement again on every run, prepared or not) is most of a request's cost, and a
request holds a few dozen lines. :class:`LineCleaner` applies the rules of
:func:`~segwise.clean.clean_transactions` to such lines in Python and keeps the same
lines, with the same flags and exact money:

- the non-product expression is matched by the engine, once per product code, and
  remembered: the rule means DuckDB's (RE2) expression, so no second reading of it;
- money is :func:`~segwise._expr.exact_money` as DuckDB computes it: ``round(x, p)``
  rounds the double's exact value, halves away from zero, to the nearest double (at the
  fewest places ``p``, six to twelve, that hold it to a billionth of itself); the cast
  to ``DECIMAL(38, p)`` rounds that double times ``10^p``, halves away from zero.

``tests/clean/test_memory.py`` compares the kept lines with the engine's on generated
lines under every rule setting.
"""

from __future__ import annotations

import decimal
import functools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from segwise._expr import MONEY_PLACES, MONEY_TOLERANCE
from segwise.clean._rules import CleaningRules, _non_product_regex, upper_character

__all__ = ["KEPT_COLUMNS", "LineCleaner", "exact_money_value"]

#: The columns :meth:`LineCleaner.kept` returns.
KEPT_COLUMNS: tuple[str, ...] = ("customer_id", "order_id", "ts", "quantity", "revenue_exact",
                                 "unit_price_exact", "product_id", "country", "is_return")
#: The line columns read, in the order copies are compared.
_LINE_COLUMNS = ("customer_id", "order_id", "ts", "quantity", "unit_price", "revenue",
                 "product_id", "description", "country")
_ROUND = decimal.Context(prec=100, rounding=decimal.ROUND_HALF_UP)
_PLACES = {p: decimal.Decimal(10) ** -p for p in range(MONEY_PLACES[0], MONEY_PLACES[1] + 1)}


@functools.lru_cache(maxsize=1 << 16)
def exact_money_value(x: float) -> decimal.Decimal:
    """Return :func:`~segwise._expr.exact_money` of one value, as DuckDB computes it.

    Remembered: prices and line totals repeat, and the exact rounding costs ~10 us.
    """
    low, high = MONEY_PLACES
    places = next((p for p in range(low, high)
                   if abs(_round(x, p) - x) <= abs(x) * MONEY_TOLERANCE), high)
    scaled = _round(x, places) * 10.0**places
    whole = math.floor(abs(scaled))
    whole += abs(scaled) - whole >= 0.5
    return decimal.Decimal(int(math.copysign(whole, scaled))).scaleb(-places, _ROUND)


def _round(x: float, places: int) -> float:
    """DuckDB's ``round(x, places)``: the double's exact value, halves away from zero."""
    return float(decimal.Decimal(x).quantize(_PLACES[places], context=_ROUND))


class LineCleaner:
    """The order-line cleaning rules, applied to lines in memory.

    Parameters
    ----------
    rules : CleaningRules
        The rules; the outlier rule must be off (its threshold is relative to a whole
        file).
    con : duckdb.DuckDBPyConnection
        Matches product codes against the non-product expression.
    max_codes : int, default=100_000
        Product codes remembered; beyond, the memory starts again.

    Raises
    ------
    ValueError
        If the outlier rule is on.
    """

    def __init__(self, rules: CleaningRules, con: Any, *, max_codes: int = 100_000) -> None:
        if rules.outliers:
            raise ValueError("the outlier rule needs a whole file; turn it off")
        self.rules = rules
        self._con = con
        self._pattern = _non_product_regex(rules)
        self._non_product: dict[str, bool] = {}
        self._max_codes = max_codes

    def kept(self, lines: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
        """Return the lines no rule removes, with ``is_return`` and exact money.

        Parameters
        ----------
        lines : mapping of str to sequence
            Columns of :data:`segwise.io.STANDARD_COLUMNS`; customer, order, time,
            quantity and unit price never missing, numbers finite.

        Returns
        -------
        dict of str to list
            :data:`KEPT_COLUMNS`: one copy of each repeated line, money as decimals.
        """
        rules = self.rules
        rows: Any = zip(*(lines[c] for c in _LINE_COLUMNS), strict=True)
        if rules.duplicates:
            rows = dict.fromkeys(rows)
        non_product = self._non_products(lines["product_id"])
        returns = rules.cancellations != "keep"
        out: dict[str, list[Any]] = {c: [] for c in KEPT_COLUMNS}
        for customer, order, ts, quantity, price, revenue, product, _, country in rows:
            if ((customer is None and rules.missing_customer_id)
                    or (rules.bad_debt_adjustments
                        and _prefixed_number(order, rules.adjustment_prefixes))):
                continue
            is_return = returns and (quantity < 0
                                     or _prefixed_number(order, rules.cancellation_prefixes))
            if ((is_return and rules.cancellations == "drop")
                    or (rules.non_product == "drop" and non_product.get(product, False))
                    or (rules.zero_quantity and quantity == 0)
                    or (rules.non_positive_price and price <= 0)):
                continue
            for col, value in zip(KEPT_COLUMNS, (
                    customer, order, ts, quantity, exact_money_value(revenue),
                    exact_money_value(price), product, country, is_return), strict=True):
                out[col].append(value)
        return out

    def _non_products(self, products: Sequence[str | None]) -> dict[str, bool]:
        """Whether each product code is a non-product, from memory or the engine."""
        if self._pattern is None:
            return {}
        unseen = list({p for p in products if p is not None and p not in self._non_product})
        if unseen:
            if len(self._non_product) + len(unseen) > self._max_codes:
                self._non_product.clear()
            self._non_product.update(self._con.execute(
                "SELECT id, COALESCE(regexp_matches(id, $pattern), false) "
                "FROM (SELECT unnest($ids::VARCHAR[]) AS id)",
                {"ids": unseen, "pattern": self._pattern}).fetchall())
        return self._non_product


def _prefixed_number(value: str, prefixes: tuple[str, ...]) -> bool:
    """Whether ``UPPER(value)`` is a prefix followed by digits only, as DuckDB tests it.

    DuckDB upper-cases character by character (``ß`` becomes ``ẞ``; Python's ``upper``
    makes it ``SS``), so each character is compared with its one-character upper case
    (:func:`segwise.clean._rules.upper_character`).
    """
    return any(len(value) > len(p)
               and all(upper_character(c) == q for c, q in zip(value, p, strict=False))
               and _DIGITS.fullmatch(value, len(p)) is not None
               for p in prefixes)


#: What follows a cancellation's or an adjustment's prefix (ASCII digits, as RE2's [0-9]).
_DIGITS = re.compile("[0-9]+")
