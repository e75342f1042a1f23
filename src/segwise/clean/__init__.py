"""Cleaning rules per source kind, each switchable, with an audit that reconciles.

Order lines have their own rules (:func:`clean_transactions`); any other kind lists its
rules as :class:`Rule` objects for :func:`clean_rows`. Both report the same audit: every
input row ends in exactly one step.
"""

from segwise.clean._audit import build_audit
from segwise.clean._events import CleanedEvents, EventCleaning, clean_events
from segwise.clean._generic import CleanedRows, Rule, clean_rows
from segwise.clean._rules import (
    DEFAULT_NON_PRODUCT_CODES,
    RULES,
    CleanedLines,
    CleaningRules,
    clean_transactions,
)

__all__ = [
    "DEFAULT_NON_PRODUCT_CODES",
    "RULES",
    "CleanedEvents",
    "CleanedLines",
    "CleanedRows",
    "CleaningRules",
    "EventCleaning",
    "Rule",
    "build_audit",
    "clean_events",
    "clean_rows",
    "clean_transactions",
]
