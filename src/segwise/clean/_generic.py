"""Cleaning rules for any source kind: exact copies, then rules in order, with an audit.

A kind's cleaning is a list of :class:`Rule` objects, each an Ibis condition that names the
rows it removes; :func:`clean_rows` applies them in order (the first that matches a row
removes it) after merging exact copies, and the audit reconciles every input row:
quarantined + copies + removed by each rule + kept = rows read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis

from segwise._engine import fetch_numpy
from segwise.clean._audit import build_audit, loader_steps
from segwise.exceptions import ConfigError
from segwise.io import group_copies
from segwise.io._readers import counts_repr

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import numpy as np
    import pyarrow as pa

    from segwise.io import Source

__all__ = ["CleanedRows", "Rule", "clean_rows"]

#: Audit step of the rows that are exact copies of another row.
DUPLICATE_STEP = "duplicate_row"


@dataclass(frozen=True)
class Rule:
    """One cleaning rule: the rows it removes, and why.

    Parameters
    ----------
    name : str
        The audit step (``"end_before_start"``).
    description : str
        What the rule removes, in words, for the audit.
    removes : callable
        ``removes(table)`` returns a boolean Ibis expression, true for rows the rule
        removes; NULL counts as false.
    """

    name: str
    description: str
    removes: Callable[[ir.Table], ir.BooleanValue]


@dataclass
class CleanedRows:
    """Rows after cleaning, with the audit of what each rule removed.

    Attributes
    ----------
    rows : ibis.Table
        Every distinct row (without deduplication: every row, or every row the loader
        stored counted) with ``_n`` (how many input rows it stands for) and ``_reason``
        (the rule that removed it, NULL when kept).
    n_input : int
        Rows in the source, quarantined ones included.
    n_quarantined : int
        Rows the loader quarantined.
    rules : tuple of Rule
        The rules applied, in order.
    deduplicated : bool
        Whether exact copies were merged (their extra copies are the audit's
        ``duplicate_row`` step).
    n_after_as_of : int or None
        Rows the loader left out as dated after the as-of date; None for a kind that does
        not date its rows.
    grouped : bool
        Whether the loader stored rows equal in every column once, counted (the source's
        :attr:`~segwise.io.Source.counted`): each row of :attr:`rows` is distinct
        already, and grouping them again on some columns gains little.
    source : str or None
        Where the rows came from (the file), for messages.
    """

    rows: ir.Table
    n_input: int
    n_quarantined: int
    rules: tuple[Rule, ...]
    deduplicated: bool
    n_after_as_of: int | None = None
    grouped: bool = False
    source: str | None = None

    def __repr__(self) -> str:
        # The dataclass repr printed the rows' expression, screen after screen.
        rules = ", ".join(r.name for r in self.rules) or "none"
        return counts_repr(self, self.source, f"rules: {rules}"
                           + ("; exact copies merged" if self.deduplicated else ""))

    @property
    def kept(self) -> ir.Table:
        """Kept rows, one per distinct row, without the bookkeeping columns."""
        return self.rows.filter(self.rows._reason.isnull()).drop("_reason", "_n")

    @property
    def counted(self) -> ir.Table:
        """Kept rows with ``_n``: how many input rows each stands for.

        One per row kept when exact copies were merged; without merging, a source loaded
        ``counted`` (see :func:`segwise.io.load_source`) stores rows equal in every
        column once, and whatever counts rows sums ``_n`` instead.
        """
        kept = self.rows.filter(self.rows._reason.isnull()).drop("_reason")
        return kept.mutate(_n=ibis.literal(1, "int64")) if self.deduplicated else kept

    def audit_table(self, counts: Mapping[str, np.ndarray] | None = None) -> pa.Table:
        """Rows that ended at each step, reconciling to the input row count.

        Parameters
        ----------
        counts : mapping of str to ndarray, optional
            Per ``_reason`` (None where kept): ``rows`` (the sum of ``_n``) and
            ``distinct`` (rows of :attr:`rows`), as counted by a caller that fetched
            :attr:`rows` anyway (one run of the deduplication); queried when omitted.

        Returns
        -------
        pyarrow.Table
            ``step`` (``quarantined``, ``after_as_of`` for a kind that dates its rows,
            ``duplicate_row`` when deduplicating, each rule, ``kept``), ``rows`` and
            ``description``; ``rows`` sums to :attr:`n_input`.
        """
        if counts is None:
            t = self.rows
            counts = fetch_numpy(t.group_by("_reason").aggregate(rows=t._n.sum(),
                                                                 distinct=t.count()))
        rows, descriptions = loader_steps(self.n_quarantined, self.n_after_as_of or 0,
                                          dated=self.n_after_as_of is not None)
        if self.deduplicated:
            copies = counts["rows"].astype("float64") - counts["distinct"].astype("float64")
            rows[DUPLICATE_STEP] = int(math.fsum(copies))
            descriptions[DUPLICATE_STEP] = "exact copy of another row (one copy kept)"
        for rule in self.rules:
            rows[rule.name] = 0
            descriptions[rule.name] = rule.description
        rows["kept"] = 0
        descriptions["kept"] = "kept"
        counted = counts["distinct"] if self.deduplicated else counts["rows"]
        for reason, n in zip(counts["_reason"], counted, strict=True):
            rows["kept" if reason is None else str(reason)] += int(n)
        return build_audit(rows, descriptions, self.n_input)


def clean_rows(
    source: Source, rules: Sequence[Rule] = (), *, duplicates: bool = True
) -> CleanedRows:
    """Apply cleaning rules to a loaded source of any kind.

    Parameters
    ----------
    source : Source
        Output of :func:`segwise.io.load_source`.
    rules : sequence of Rule, default=()
        Rules in the order they apply; the first that matches a row removes it.
    duplicates : bool, default=True
        Merge rows identical in every column first, keeping one copy.

    Returns
    -------
    CleanedRows
        Lazy flagged rows and the audit.

    Raises
    ------
    ConfigError
        If two rules share a name, or a rule is named like a fixed audit step.
    """
    names = [r.name for r in rules]
    fixed = {"quarantined", "after_as_of", "kept", DUPLICATE_STEP}
    if len(set(names)) != len(names) or fixed & set(names):
        raise ConfigError(
            f"cleaning rules need distinct names other than {', '.join(sorted(fixed))}; "
            f"got {', '.join(names)}"
        )
    t = source.table
    if duplicates:
        rows = group_copies(t, [])
    else:
        rows = t if "_n" in t.columns else t.mutate(_n=ibis.literal(1, "int64"))
    checks = [(r.removes(rows).fill_null(False), r.name) for r in rules]
    reason = ibis.cases(*checks, else_=ibis.null("string")) if checks else ibis.null("string")
    return CleanedRows(
        rows.mutate(_reason=reason), source.n_input, source.n_quarantined, tuple(rules),
        duplicates, source.n_after_as_of if source.kind.time_column is not None else None,
        grouped=source.counted, source=source.source,
    )

