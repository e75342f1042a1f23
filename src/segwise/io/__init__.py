"""Sources, column roles and validation: everything that turns a file into a typed table.

Four kinds of source share the readers, role guessing, ``[columns]`` mapping, quarantine
and error messages: order lines (registered here), and every kind a module registers with
:func:`register_kind`. See ``docs/source-kinds.md`` for adding one.
"""

from segwise.io._convert import Conversion, convert_to_parquet
from segwise.io._dictionary import (
    ATTRIBUTE_TYPES,
    MISSING_TOKENS,
    Attribute,
    FeatureDictionary,
    InferredDictionary,
    Part,
    canonical_code,
    infer_dictionary,
    read_coil_dictionary,
    read_dictionary,
)
from segwise.io._events import CLICK_EVENTS, CONVERSION_EVENTS, EVENT_COLUMNS, EVENTS, as_flag
from segwise.io._kinds import Role, SourceKind, get_kind, kinds, register_kind
from segwise.io._orders import (
    ORDERS,
    STANDARD_COLUMNS,
    IdTest,
    Transactions,
    load_transactions,
    refuse_read_options,
)
from segwise.io._parse import (
    MAX_NUMBER,
    SOURCE_PREFIX,
    as_float,
    as_id,
    as_text,
    id_checks,
    is_blank,
    number_checks,
    parse_timestamp,
    timestamp_checks,
)
from segwise.io._people import PEOPLE, PERSON_ID, name_columns
from segwise.io._pings import PINGS, POIS
from segwise.io._readers import (
    ReadOptions,
    Source,
    detect_format,
    group_copies,
    load_source,
    quarantine_frame,
    quarantine_note,
)
from segwise.io._roles import ColumnRoles, resolve_roles
from segwise.io._tables import Join

__all__ = [
    "ATTRIBUTE_TYPES",
    "CLICK_EVENTS",
    "CONVERSION_EVENTS",
    "EVENTS",
    "EVENT_COLUMNS",
    "MAX_NUMBER",
    "MISSING_TOKENS",
    "ORDERS",
    "PEOPLE",
    "PERSON_ID",
    "PINGS",
    "POIS",
    "SOURCE_PREFIX",
    "STANDARD_COLUMNS",
    "Attribute",
    "ColumnRoles",
    "Conversion",
    "FeatureDictionary",
    "IdTest",
    "InferredDictionary",
    "Join",
    "Part",
    "ReadOptions",
    "Role",
    "Source",
    "SourceKind",
    "Transactions",
    "as_flag",
    "as_float",
    "as_id",
    "as_text",
    "canonical_code",
    "convert_to_parquet",
    "detect_format",
    "get_kind",
    "group_copies",
    "id_checks",
    "infer_dictionary",
    "is_blank",
    "kinds",
    "load_source",
    "load_transactions",
    "name_columns",
    "number_checks",
    "parse_timestamp",
    "quarantine_frame",
    "quarantine_note",
    "read_coil_dictionary",
    "read_dictionary",
    "refuse_read_options",
    "register_kind",
    "resolve_roles",
    "timestamp_checks",
]
