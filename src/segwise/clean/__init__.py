"""Cleaning rules for order lines, each switchable, with an audit that reconciles."""

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
    "CleanedLines",
    "CleaningRules",
    "clean_transactions",
]
