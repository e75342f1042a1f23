"""Sources, column roles and validation: everything that turns a file into a typed table.

Four kinds of source share the readers, role guessing, ``[columns]`` mapping, quarantine
and error messages: order lines (registered here), and every kind a module registers with
:func:`register_kind`. See ``docs/source-kinds.md`` for adding one.
"""

from segwise.io._convert import Conversion, convert_to_parquet
from segwise.io._events import EVENT_COLUMNS, EVENTS, as_flag
from segwise.io._kinds import Role, SourceKind, get_kind, kinds, register_kind
from segwise.io._orders import ORDERS, STANDARD_COLUMNS, Transactions, load_transactions
from segwise.io._parse import (
    SOURCE_PREFIX,
    as_float,
    as_id,
    as_text,
    is_blank,
    parse_timestamp,
)
from segwise.io._readers import (
    ReadOptions,
    Source,
    detect_format,
    group_copies,
    load_source,
    quarantine_frame,
)
from segwise.io._roles import ColumnRoles, resolve_roles
from segwise.io._tables import Join

__all__ = [
    "EVENTS",
    "EVENT_COLUMNS",
    "ORDERS",
    "SOURCE_PREFIX",
    "STANDARD_COLUMNS",
    "ColumnRoles",
    "Conversion",
    "Join",
    "ReadOptions",
    "Role",
    "Source",
    "SourceKind",
    "Transactions",
    "as_flag",
    "as_float",
    "as_id",
    "as_text",
    "convert_to_parquet",
    "detect_format",
    "get_kind",
    "group_copies",
    "is_blank",
    "kinds",
    "load_source",
    "load_transactions",
    "parse_timestamp",
    "quarantine_frame",
    "register_kind",
    "resolve_roles",
]
