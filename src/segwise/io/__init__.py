"""Sources, column roles and validation: everything that turns a file into a typed table."""

from segwise.io._readers import (
    STANDARD_COLUMNS,
    ReadOptions,
    Transactions,
    detect_format,
    load_transactions,
    quarantine_frame,
)
from segwise.io._roles import ROLE_ALIASES, ColumnRoles, resolve_roles

__all__ = [
    "ROLE_ALIASES",
    "STANDARD_COLUMNS",
    "ColumnRoles",
    "ReadOptions",
    "Transactions",
    "detect_format",
    "load_transactions",
    "quarantine_frame",
    "resolve_roles",
]
