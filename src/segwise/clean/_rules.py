"""Cleaning rules for order lines, applied in a fixed order, with an audit that reconciles.

Every input row ends in exactly one place: quarantined by the loader, removed by the
first rule that matches it, or kept. Duplicates are found by grouping identical lines
(no window, no sort), so the result never depends on row order.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import string
import warnings
from dataclasses import dataclass, field
from re import _constants as re_constants  # type: ignore[attr-defined]
from re import _parser as re_parser  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Literal

import ibis
import numpy as np

from segwise._engine import duckdb_error, fetch_numpy, is_missing
from segwise._expr import exact_money, money_sum
from segwise.clean._audit import build_audit, loader_steps
from segwise.exceptions import ConfigError, SegwiseWarning, setting_named
from segwise.io._parse import begins_with_digit
from segwise.io._readers import counts_repr

if TYPE_CHECKING:
    from collections.abc import Mapping

    import ibis.expr.types as ir
    import pandas as pd
    import pyarrow as pa

    from segwise.io import IdTest, Transactions

__all__ = [
    "DEFAULT_NON_PRODUCT_CODES",
    "RULES",
    "CleanedLines",
    "CleaningRules",
    "clean_transactions",
]

#: Stock codes that are not merchandise in retail exports such as UCI Online Retail:
#: postage, carriage, manual adjustments, discounts, samples, fees, charity commission.
DEFAULT_NON_PRODUCT_CODES: tuple[str, ...] = (
    "POST", "DOT", "C2", "M", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK",
)

#: Rules in the order they are applied, with the text the audit prints for each.
RULES: dict[str, str] = {
    "missing_customer_id": "no customer id: the line cannot be attributed to anyone",
    "duplicate_line": "exact copy of another line (one copy kept)",
    "bad_debt_adjustment": "bad-debt adjustment, an accounting entry, not a sale",
    "cancellation": "cancellation or return line (cancellations = 'drop')",
    "non_product": "non-product code (postage, fees, manual, discount, ...)",
    "zero_quantity": "quantity is zero",
    "non_positive_price": "unit price is zero or negative",
    "extreme_outlier": "extreme quantity (robust z-score of log quantity above threshold)",
}

#: Audit step of kept lines whose customer has no purchase order among the kept lines
#: (only returns of earlier orders, or purchases without an order id): they reach no
#: customer row, so they are not counted as kept.
NO_PURCHASE = "no_purchase"


@dataclass(frozen=True)
class CleaningRules:
    r"""Which cleaning rules run, and their parameters.

    Parameters
    ----------
    missing_customer_id : bool, default=True
        Remove lines without a customer id.
    duplicates : bool, default=True
        Remove exact duplicate lines, keeping one copy: lines identical in the source file,
        in every column that plays a role (see
        :meth:`segwise.io.Transactions.distinct_lines`).
    bad_debt_adjustments : bool, default=True
        Remove lines whose order id is one of ``adjustment_prefixes`` followed by digits
        only (Online Retail's ``A563185``).
    adjustment_prefixes : tuple of str, default=("A",)
        Order-id prefixes of bad-debt adjustments; ids and prefixes are compared in upper
        case. An id that only begins with the letter (``AB-1234``, a UUID) is an order.
    cancellations : {"net", "drop", "keep"}, default="net"
        ``"net"`` keeps cancellation and return lines so that they reduce the customer's
        monetary value, but never count them as orders; ``"drop"`` removes them (the
        common tutorial cleaning); ``"keep"`` treats them as ordinary lines.
    cancellation_prefixes : tuple of str, default=("C",)
        Order-id prefixes of cancellations, followed by digits only (``C536379``; not
        Superstore's ``CA-2016-152156`` or a UUID), compared in upper case as above;
        negative quantities are returns too.
    non_product : {"drop", "keep"}, default="drop"
        Whether lines with a non-product code leave the customer table as well as the
        product analytics (they always leave the product analytics).
    non_product_codes : tuple of str
        Codes treated as non-product, compared case-insensitively.
    non_product_pattern : str, default=r"^gift_\\d+_\\d+$"
        Regular expression of further non-product codes (gift vouchers).
    zero_quantity : bool, default=True
        Remove lines with quantity 0.
    non_positive_price : bool, default=True
        Remove lines whose unit price is zero or negative.
    outliers : bool, default=True
        Remove lines whose absolute quantity is extreme.
    outlier_max_z : float, default=8.0
        Threshold on the robust z-score ``(log|q| - median) / (1.4826 * MAD)``, with median
        and MAD taken over the purchase lines that survive the earlier rules (every copy
        of a repeated line counted). On Online Retail, 8 removes only the 80,995- and
        74,215-unit orders and their reversals.
    """

    missing_customer_id: bool = True
    duplicates: bool = True
    bad_debt_adjustments: bool = True
    adjustment_prefixes: tuple[str, ...] = ("A",)
    cancellations: Literal["net", "drop", "keep"] = "net"
    cancellation_prefixes: tuple[str, ...] = ("C",)
    non_product: Literal["drop", "keep"] = "drop"
    non_product_codes: tuple[str, ...] = DEFAULT_NON_PRODUCT_CODES
    non_product_pattern: str = r"^gift_\d+_\d+$"
    zero_quantity: bool = True
    non_positive_price: bool = True
    outliers: bool = True
    outlier_max_z: float = 8.0

    def __post_init__(self) -> None:
        for name in ("adjustment_prefixes", "cancellation_prefixes"):
            prefixes = getattr(self, name)
            if "" in prefixes:
                raise ConfigError(f"{setting_named('cleaning', name, list(prefixes))}: an empty "
                                  "prefix would make every order id of digits one. Fix: remove "
                                  "it (an empty list turns the rule off)")
            # Ids are compared in capitals: "c" is the C of C536379.
            object.__setattr__(self, name, tuple(dict.fromkeys(
                "".join(map(upper_character, p)) for p in prefixes)))
        if self.cancellations not in ("net", "drop", "keep"):
            raise ConfigError(f"{setting_named('cleaning', 'cancellations', self.cancellations)}"
                              ": use 'net', 'drop' or 'keep'")
        if self.non_product not in ("drop", "keep"):
            raise ConfigError(f"{setting_named('cleaning', 'non_product', self.non_product)}: "
                              "use 'drop' or 'keep'")
        if not self.outlier_max_z > 0:
            raise ConfigError(f"{setting_named('cleaning', 'outlier_max_z', self.outlier_max_z)}"
                              ": must be positive")
        if self.non_product_pattern:
            # DuckDB's RE2 is the stricter dialect: what it accepts, Spark's Java accepts.
            error = duckdb_error("SELECT regexp_matches('', ?)", [self.non_product_pattern])
            if error is not None:
                raise ConfigError(
                    f"{setting_named('cleaning', 'non_product_pattern', self.non_product_pattern)}"
                    f" is not a regular expression: {error}"
                )


@dataclass
class CleanedLines:
    """Order lines after cleaning, with the audit of what each rule removed.

    Attributes
    ----------
    lines : ibis.Table
        Every distinct input line with ``_n`` (how many input rows it stands for),
        ``_reason`` (the rule that removed it, NULL when kept), ``is_return`` and
        ``is_product``; when both the customer-id and the duplicate rules are on, only
        lines with a customer id (see ``unattributed``).
    n_input : int
        Rows in the source, quarantined ones included.
    n_quarantined : int
        Rows the loader quarantined.
    rules : CleaningRules
        The rules applied.
    outlier_stats : dict
        Median and MAD of log quantity used by the outlier rule, and
        ``max_abs_quantity``, the absolute quantity above which a line is extreme (no
        line is when there is no spread to measure against); empty when the rule is off.
    unattributed : ibis.Table or None
        Input lines without a customer id, not deduplicated, when they are kept out of
        ``lines``: the first rule removes them and the audit counts them as rows, so
        they need neither deduplication nor flags.
    n_after_as_of : int
        Rows the loader left out as dated after the as-of date.
    source : str, optional
        Where the lines came from, for messages.
    unattributed_totals : tuple of (int, float), optional
        Rows and revenue of ``unattributed`` when the loader counted them in its scan
        (:meth:`segwise.io.Transactions.unattributed_totals`); queried otherwise.
    pieces : ibis.Table, optional
        ``lines`` summed per source customer id, source order id, ``_reason`` and
        ``is_return`` (:meth:`segwise.io.Transactions.order_pieces`), for sources read as
        typed columns with an order id, when ``lines`` hold only lines with a customer
        id: ``customer_id``, ``order_id``, ``_reason``, ``is_return``, the sums of
        :meth:`audit_metrics` but ``_returns``, and ``_first`` and ``_last`` (the earliest
        and latest ``ts``). Their ids are parsed once per piece, not per line; two
        pieces may hold one order (source ids that parse alike).
    """

    lines: ir.Table
    n_input: int
    n_quarantined: int
    rules: CleaningRules
    outlier_stats: dict[str, float] = field(default_factory=dict)
    unattributed: ir.Table | None = None
    n_after_as_of: int = 0
    source: str | None = None
    unattributed_totals: tuple[int, float] | None = None
    pieces: ir.Table | None = None

    def __repr__(self) -> str:
        # The dataclass repr printed the lines' expression, screen after screen.
        return counts_repr(self, self.source)

    @property
    def kept(self) -> ir.Table:
        """Kept lines, one row each, with the standard columns plus flags."""
        return self.lines.filter(self.lines._reason.isnull()).drop("_reason", "_n")

    def audit_metrics(self) -> dict[str, ir.Value]:
        """Return the aggregates :meth:`audit` needs, for any grouping by ``_reason``.

        They let a caller fold the audit into a query it runs anyway (one scan of the data).
        """
        t = self.lines
        return {**_copy_sums(t), "_returns": t.is_return.cast("int64").sum()}

    def pieces_audit_metrics(self) -> dict[str, ir.Value]:
        """:meth:`audit_metrics` summed from :attr:`pieces`, for any grouping by ``_reason``."""
        p = self.pieces
        if p is None:
            raise ValueError("these cleaned lines have no pieces")
        return {**{name: p[name].sum() for name in _copy_sums(self.lines)},
                "_returns": ibis.ifelse(p.is_return, p._distinct, 0).sum()}

    @functools.cached_property
    def _unattributed_totals(self) -> tuple[int, float]:
        """Rows and revenue of :attr:`unattributed` (zero without it)."""
        if self.unattributed is None:
            return 0, 0.0
        if self.unattributed_totals is not None:
            return self.unattributed_totals
        u = self.unattributed
        revenue = money_sum(exact_money(u.revenue)).fill_null(0.0)
        totals = fetch_numpy(u.aggregate(rows=u.count(), revenue=revenue))
        return int(totals["rows"][0]), float(totals["revenue"][0])

    def audit(self, by_reason: Mapping[str, np.ndarray] | None = None) -> pd.DataFrame:
        """Rows and revenue removed by each rule, reconciling to the input row count.

        Parameters
        ----------
        by_reason : mapping of str to ndarray, optional
            The :meth:`audit_metrics` already computed grouped by ``_reason`` and
            ``customer_id`` (further grouping keys are summed over), with ``frequency``
            (purchase orders), as from :func:`segwise._engine.fetch_numpy` (``_reason``
            None where kept); queried when omitted.

        Returns
        -------
        pandas.DataFrame
            One row per step (``quarantined``, ``after_as_of``, each rule,
            ``no_purchase``, ``kept``) with ``rows``, ``revenue`` (sum of quantity x
            price; unknown for quarantined rows and rows after the as-of date) and
            ``description``. ``rows`` sums to ``n_input``. Kept lines of customers with
            no purchase order count under ``no_purchase``: they reach no customer row.
        """
        return self.audit_table(by_reason).to_pandas()

    def audit_table(self, by_reason: Mapping[str, np.ndarray] | None = None) -> pa.Table:
        """:meth:`audit` as an Arrow table (no pandas needed)."""
        if by_reason is None:
            t = self.lines
            by_reason = fetch_numpy(t.group_by(["_reason", "customer_id"]).aggregate(
                **self.audit_metrics(),
                frequency=(~t.is_return & t.order_id.notnull()).any().cast("int64"),
            ))
        metrics = list(self.audit_metrics())
        reasons = np.asarray(by_reason["_reason"], dtype=object).copy()
        buyers = np.nan_to_num(np.asarray(by_reason["frequency"], dtype="float64")) > 0
        reasons[is_missing(reasons) & ~buyers] = NO_PURCHASE
        stats: dict[str, dict[str, float]] = {}
        for reason in set(reasons):
            group = np.equal(reasons, reason)
            # fsum: a correctly rounded sum, whatever order the engine returned the rows in.
            stats[reason or "kept"] = {
                name.lstrip("_"): math.fsum(by_reason[name][group].astype("float64"))
                for name in metrics
            }
        first, first_descriptions = loader_steps(self.n_quarantined, self.n_after_as_of)
        rows = {**first, **dict.fromkeys([*RULES, NO_PURCHASE, "kept"], 0)}
        revenue: dict[str, float] = dict.fromkeys(rows, 0.0)
        rows["missing_customer_id"], revenue["missing_customer_id"] = self._unattributed_totals
        for reason, rec in stats.items():
            if reason == "missing_customer_id" or not self.rules.duplicates:
                rows[str(reason)] += int(rec["rows"])
                revenue[str(reason)] += float(rec["revenue_once"] + rec["revenue_copies"])
                continue
            # All but one copy of a repeated line went to the duplicate rule, which runs
            # before every rule except the customer-id one.
            rows[str(reason)] += int(rec["distinct"])
            revenue[str(reason)] += float(rec["revenue_once"])
            rows["duplicate_line"] += int(rec["rows"] - rec["distinct"])
            revenue["duplicate_line"] += float(rec["revenue_copies"])
        revenue.update(dict.fromkeys(first, float("nan")))
        kept_returns = int(stats.get("kept", {}).get("returns", 0))
        descriptions = {
            **first_descriptions,
            **RULES,
            NO_PURCHASE: "kept lines of customers with no purchase order among them (only "
                         "returns of earlier orders): no customer row",
            "kept": f"kept ({kept_returns:,} of them returns netted against purchases)"
            if self.rules.cancellations == "net"
            else "kept",
        }
        return build_audit(rows, descriptions, self.n_input, {"revenue": revenue})


def upper_character(c: str) -> str:
    """DuckDB's ``UPPER`` of one character: always one character (its simple case mapping).

    Python's where that is one character; else the title case where that is (``ᾀ`` is
    ``ᾈ``), ``ẞ`` for ``ß``, and the character itself (``ŉ``): DuckDB's answer for every
    code point (checked against DuckDB 2.0 over all of Unicode).
    """
    for u in (c.upper(), c.title()):
        if len(u) == 1:
            return u
    return "ẞ" if c == "ß" else c


def _prefixed_number(order_id: ir.StringValue, digit: ir.BooleanValue | None = None, *,
                     prefixes: tuple[str, ...]) -> ir.BooleanValue:
    """Whether an order id in capitals is one of ``prefixes`` followed by digits only (``C536379``).

    Ids that only begin with the letter are orders: Superstore's ``CA-2016-152156``, a
    UUID's ``c3f2...`` or ``a0e1...``. The digits are tested only on ids with a prefix.
    When no prefix begins with a digit, ids that do (most: ``536365``) are none, tested
    before anything is put in capitals (a third of the test's time on 22 M lines).
    ``digit``: whether the id begins with a digit, where the caller knows it cheaper
    (an :data:`segwise.io.IdTest`'s second argument); tested of ``order_id`` otherwise.
    """
    value = order_id.upper()
    cond = ibis.literal(False)
    for prefix in prefixes:
        cond |= ibis.ifelse(value.startswith(prefix),
                            value.substr(len(prefix)).re_search("^[0-9]+$"), False)
    cond = cond.fill_null(False)
    if any(prefix[:1] in string.digits for prefix in prefixes):
        return cond
    return ibis.ifelse(begins_with_digit(order_id) if digit is None else digit, False, cond)


def clean_transactions(tx: Transactions, rules: CleaningRules | None = None) -> CleanedLines:
    """Apply the cleaning rules to a loaded transaction log.

    Parameters
    ----------
    tx : Transactions
        Output of :func:`segwise.io.load_transactions`.
    rules : CleaningRules, optional
        Rules to apply; the defaults otherwise.

    Returns
    -------
    CleanedLines
        Lazy flagged lines and the audit.
    """
    rules = rules or CleaningRules()
    rounded = tx.money_warning()
    if rounded is not None:
        warnings.warn(rounded, SegwiseWarning, stacklevel=2)
    t = tx.table
    unattributed = unattributed_totals = None
    attributed_only = rules.duplicates and rules.missing_customer_id
    if attributed_only:
        # Lines without a customer id leave at the first rule, where the audit counts
        # rows, not distinct lines: only lines with an id pay for deduplication.
        unattributed = tx.unattributed_lines()
        unattributed_totals = tx.unattributed_totals()
        t = tx.attributed_lines()
    if rules.duplicates:
        lines = tx.distinct_lines(attributed_only=attributed_only)
    else:
        lines = t.mutate(_n=ibis.literal(1, "int64"))
    # When only lines with a customer id were kept, the id's test never matches; left out,
    # it does not turn every id into text (the outlier statistics read no id at all).
    flagging = dataclasses.replace(rules, missing_customer_id=False) if attributed_only else rules
    # The statistics count every copy of a repeated line, which spares them a second
    # deduplication; robust statistics barely move for ~1 % of copies (on Online Retail
    # not at all). The ids' tests are taken of the source values, which spares most lines
    # the parse of their ids (ids that begin with a digit pass without one).
    stats = {}
    if rules.outliers:
        population = tx.tested_lines(_id_tests(rules), with_id=True if attributed_only else None)
        stats = _outlier_stats(_flag(population, flagging), rules.outlier_max_z)

    def flag_lines(lines: ir.Table) -> ir.Table:
        return _flag_outliers(_flag_lines(lines, flagging), stats)

    # The non-product rule, where it removes lines, is taken of the source rows before
    # their copies are grouped: the grouping then keeps a flag, not a text column, and no
    # product id is parsed per distinct line (1-1.5 s of CPU at 30 M lines).
    product_test = _id_tests(rules)["is_product"][1] if rules.non_product == "drop" else None
    pieces = (tx.order_pieces(flag_lines, _piece_sums, product_test) if attributed_only
              else None)
    return CleanedLines(_flag_orders(flag_lines(lines), flagging), tx.n_input,
                        tx.n_quarantined, rules, stats, unattributed, tx.n_after_as_of,
                        tx.source, unattributed_totals,
                        None if pieces is None else _flag_orders(pieces, flagging))


def _copy_sums(t: ir.Table) -> dict[str, ir.Value]:
    """Rows, distinct lines and revenue of lines with ``_n`` (see :meth:`CleanedLines.audit`)."""
    revenue = exact_money(t.revenue)
    return {
        "_rows": t._n.sum(),
        "_distinct": t.count(),
        "_revenue_once": revenue.sum(),
        # Only repeated lines (about 1 in 100) pay for the decimal product. The count
        # as ten digits: Spark cuts places off a product of more than 38 digits.
        "_revenue_copies": ibis.ifelse(
            t._n > 1, revenue * (t._n - 1).cast("decimal(10, 0)"), 0).sum(),
    }


def _piece_sums(t: ir.Table) -> dict[str, ir.Value]:
    """Return the sums of a piece of lines (see :attr:`CleanedLines.pieces`)."""
    return {**_copy_sums(t), "_first": t.ts.min(), "_last": t.ts.max()}


def _flag(t: ir.Table, rules: CleaningRules) -> ir.Table:
    """Add ``is_return``, ``is_product`` and ``_reason`` (the first rule that matches)."""
    return _flag_orders(_flag_lines(t, rules), rules)


def _flag_lines(t: ir.Table, rules: CleaningRules) -> ir.Table:
    """Add the flags of what a line holds alone: no customer id, no order id read.

    ``is_return`` for a negative quantity, ``is_product`` (kept where the lines have it
    already, :func:`_is_product` of their source rows), and ``_reason`` the first rule of
    the lines' own that matches (cancellation, non-product, zero quantity, price).
    :func:`_flag_orders` adds the rules of the ids: together they are :func:`_flag`.
    """
    is_product = (t.is_product if "is_product" in t.columns
                  else _is_product(t.product_id, rules=rules))
    t = t.mutate(
        is_return=t.quantity < 0 if rules.cancellations != "keep" else ibis.literal(False),
        is_product=is_product,
    )
    checks: list[tuple[ir.BooleanValue, str]] = []
    if rules.cancellations == "drop":
        checks.append((t.is_return, "cancellation"))
    if rules.non_product == "drop":
        checks.append((~t.is_product, "non_product"))
    if rules.zero_quantity:
        checks.append((t.quantity == 0, "zero_quantity"))
    if rules.non_positive_price:
        checks.append((t.unit_price <= 0, "non_positive_price"))
    return t.mutate(_reason=_first_reason(checks))


def _id_tests(rules: CleaningRules) -> dict[str, tuple[str, IdTest]]:
    """Return the rules' tests of ids by the column of their answer: role tested and test.

    For :meth:`segwise.io.Transactions.tested_lines`; :func:`_flag_lines` and
    :func:`_flag_orders` read an answer from its column where the lines have one.
    """
    return {
        "is_product": ("product_id", functools.partial(_is_product, rules=rules)),
        "_adjustment": ("order_id", functools.partial(_prefixed_number,
                                                      prefixes=rules.adjustment_prefixes)),
        "_cancelled": ("order_id", functools.partial(_prefixed_number,
                                                     prefixes=rules.cancellation_prefixes)),
    }


def _is_product(product_id: ir.StringValue, digit: ir.BooleanValue | None = None, *,
                rules: CleaningRules) -> ir.BooleanValue:
    """Whether a product id is merchandise: not a non-product code or pattern.

    Most product ids begin with a digit (``85123A``) and no default code or pattern does:
    when none can, ids beginning with one are merchandise without the regular expression
    (a sixth of its time at 30 M lines, where the regex is the costliest test of a line).
    ``digit`` as in :func:`_prefixed_number`.
    """
    pattern = _non_product_regex(rules)
    if not pattern:
        return ibis.literal(True)
    found = product_id.re_search(pattern)
    if _no_match_begins_with_a_digit(rules):
        found = ibis.ifelse(begins_with_digit(product_id) if digit is None else digit,
                            False, found)
    return ~found.fill_null(False)


def _no_match_begins_with_a_digit(rules: CleaningRules) -> bool:
    """Whether no non-product code or pattern matches an id that begins with a digit 0-9.

    A code can if it begins with one. The pattern is known not to only when it begins with
    ``^`` and a character other than a digit, taken once, outside multi-line mode (the
    parse of Python's ``re``, whose syntax DuckDB's and Spark's share for this); any other
    pattern, or one Python does not read, is taken to be able to.
    """
    if any(code[:1] in string.digits for code in rules.non_product_codes):
        return False
    if not rules.non_product_pattern:
        return True
    try:
        parsed = re_parser.parse(rules.non_product_pattern)
    except (re.error, RecursionError, OverflowError):
        return False
    if parsed.state.flags & re.MULTILINE or len(parsed) < 2:
        return False
    (at, where), (literal, char) = parsed[0], parsed[1]
    return (at is re_constants.AT and where in (re_constants.AT_BEGINNING,
                                                 re_constants.AT_BEGINNING_STRING)
            and literal is re_constants.LITERAL and chr(char) not in string.digits)


def _flag_orders(t: ir.Table, rules: CleaningRules) -> ir.Table:
    """Apply the rules of the ids to lines (or pieces of orders) :func:`_flag_lines` flagged.

    The customer-id and bad-debt rules, and cancellations by order id, come before
    every rule of the lines', so a line's reason is the ids' when they have one: the
    same first match as all the rules in their order. The order id's tests are read
    from their columns of :func:`_id_tests` where the lines have them.
    """
    tests = _id_tests(rules)

    def prefixed(column: str) -> ir.BooleanValue:
        return t[column] if column in t.columns else tests[column][1](t.order_id, None)

    checks: list[tuple[ir.BooleanValue, str]] = []
    if rules.missing_customer_id:
        checks.append((t.customer_id.isnull(), "missing_customer_id"))
    if rules.bad_debt_adjustments:
        checks.append((prefixed("_adjustment"), "bad_debt_adjustment"))
    is_return = t.is_return
    if rules.cancellations != "keep":
        is_return = is_return | prefixed("_cancelled")
    if rules.cancellations == "drop":
        checks.append((is_return, "cancellation"))
    if not checks:
        return t.mutate(is_return=is_return)
    return t.mutate(is_return=is_return, _reason=ibis.coalesce(_first_reason(checks), t._reason))


def _first_reason(checks: list[tuple[ir.BooleanValue, str]]) -> ir.StringValue:
    """Return the reason of the first check that holds, NULL when none does."""
    return ibis.cases(*checks, else_=ibis.null("string")) if checks else ibis.null("string")


def _non_product_regex(rules: CleaningRules) -> str | None:
    """One regular expression for the non-product codes (any case) and pattern.

    The loader has trimmed product ids already. One expression, not an ``IN`` list:
    DuckDB plans ``IN`` as a join, which it keeps even when no later step reads
    ``is_product``, and a regex it drops.
    """
    parts = []
    if rules.non_product_codes:
        codes = "|".join(_escape(c) for c in rules.non_product_codes)
        parts.append(f"^(?i:{codes})$")
    if rules.non_product_pattern:
        parts.append("(?:" + rules.non_product_pattern + ")")
    return "|".join(parts) or None


def _escape(code: str) -> str:
    r"""Escape a code for RE2 (DuckDB) and Java (Spark) alike: ``\x{hex}`` for symbols."""
    return "".join(c if c.isalnum() else f"\\x{{{ord(c):x}}}" for c in code)


def _weighted_median(values: np.ndarray, counts: np.ndarray) -> float:
    """Median of ``values`` repeated ``counts`` times, halfway between the middle two."""
    order = np.argsort(values, kind="stable")
    values, cum = values[order], np.cumsum(counts[order])
    total = int(cum[-1])
    lower = values[np.searchsorted(cum, (total - 1) // 2, side="right")]
    upper = values[np.searchsorted(cum, total // 2, side="right")]
    return float((lower + upper) / 2)


def _outlier_stats(population: ir.Table, max_z: float) -> dict[str, float]:
    """Median and MAD of log |quantity| of the purchase lines no earlier rule removed.

    And the robust z-score's threshold ``max_z`` taken back to a quantity once:
    ``max_abs_quantity``, ``exp(median + max_z * 1.4826 * MAD)``, where there is a spread
    (a nonzero MAD). A line's z-score is above ``max_z`` exactly when its absolute
    quantity is above it (but for a quantity within a rounding of it): one comparison
    per line, not a logarithm (0.15 s of CPU at 30 M lines), the same on every engine.
    Empty when there is no such line.
    """
    base = population.filter(population._reason.isnull() & (population.quantity > 0))
    # Median and MAD come from the small quantity -> lines histogram: one grouped scan, and
    # exact arithmetic in NumPy, so every engine finds the same threshold.
    hist = fetch_numpy(base.group_by("quantity").aggregate(n=base.count()))
    if not len(hist["n"]):
        return {}
    log_q = np.log(hist["quantity"].astype("float64"))
    counts = hist["n"].astype("int64")
    median = _weighted_median(log_q, counts)
    mad = _weighted_median(np.abs(log_q - median), counts)
    stats = {"median_log_quantity": median, "mad_log_quantity": mad}
    if mad:
        # No quantity reaches 1e13 (the parse's bound), let alone exp(709), where exp ends.
        stats["max_abs_quantity"] = math.exp(min(median + max_z * 1.4826 * mad, 709.0))
    return stats


def _flag_outliers(t: ir.Table, stats: dict[str, float]) -> ir.Table:
    """Flag lines whose log |quantity| lies more than ``max_z`` robust SDs from the median.

    ``stats`` from :func:`_outlier_stats` (``max_abs_quantity``); no line is flagged
    without them, or when over half the lines share one quantity (no spread to measure
    against). Only lines no rule of :func:`_flag_lines` removed are flagged: the rule
    comes after every other.
    """
    if "max_abs_quantity" not in stats:
        return t
    outlier = t._reason.isnull() & (t.quantity.abs() > stats["max_abs_quantity"])
    return t.mutate(_reason=ibis.ifelse(outlier, "extreme_outlier", t._reason))
