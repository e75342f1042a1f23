"""Cleaning rules per source kind, each switchable, with an audit that reconciles.

Order lines have their own rules (:func:`clean_transactions`); any other kind lists its
rules as :class:`Rule` objects for :func:`clean_rows`. Both report the same audit: every
input row ends in exactly one step.
"""

from segwise.clean._audit import build_audit, loader_steps
from segwise.clean._events import CleanedEvents, EventCleaning, clean_events
from segwise.clean._generic import CleanedRows, Rule, clean_rows
from segwise.clean._people import (
    MAX_SEGMENTS,
    REPEATED_ID,
    CleanedPeople,
    PeopleSettings,
    clean_people,
    compare_subsets,
    type_attributes,
)
from segwise.clean._pings import CleanedPings, PingRules, clean_pings, sequence_flags
from segwise.clean._rules import (
    DEFAULT_NON_PRODUCT_CODES,
    RULES,
    CleanedLines,
    CleaningRules,
    clean_transactions,
)

__all__ = [
    "DEFAULT_NON_PRODUCT_CODES",
    "MAX_SEGMENTS",
    "REPEATED_ID",
    "RULES",
    "CleanedEvents",
    "CleanedLines",
    "CleanedPeople",
    "CleanedPings",
    "CleanedRows",
    "CleaningRules",
    "EventCleaning",
    "PeopleSettings",
    "PingRules",
    "Rule",
    "build_audit",
    "clean_events",
    "clean_people",
    "clean_pings",
    "clean_rows",
    "clean_transactions",
    "compare_subsets",
    "loader_steps",
    "sequence_flags",
    "type_attributes",
]
