"""The people kind: one row per person, an optional id, and any number of attributes.

A person-level table (a population, a customer file) has at most one role, the person's
id; every other column is an attribute and passes through under its own name, typed and
cleaned later by its feature dictionary (:mod:`segwise.io._dictionary`). Files may come
with or without a header (detected) and with any delimiter. Without an id column each row
gets a generated id: its 1-based row in the file.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import ibis

from segwise.io._kinds import Role, SourceKind, register_kind
from segwise.io._parse import SOURCE_PREFIX, as_id, is_blank
from segwise.io._roles import same_names

if TYPE_CHECKING:
    from pathlib import Path

    import ibis.expr.types as ir

    from segwise.io._dictionary import FeatureDictionary
    from segwise.io._readers import ReadOptions
    from segwise.io._roles import ColumnRoles

__all__ = ["PEOPLE", "PERSON_ID", "name_columns"]

_HEADERLESS = re.compile(r"column_(\d+)")

#: The id column of a people table.
PERSON_ID = "person_id"


def _parse(raw: ir.Table, roles: ColumnRoles, read: ReadOptions, path: Path) -> ir.Table:
    """Take the id from its column, or number the rows; attributes pass through as read."""
    if PERSON_ID in roles:
        value = raw[SOURCE_PREFIX + roles[PERSON_ID]]
        reason = ibis.ifelse(is_blank(value), f"{PERSON_ID}: empty", ibis.null("string"))
        return raw.mutate(**{PERSON_ID: as_id(value), "_reason": reason})
    # Text formats number their rows as read; a typed file (Parquet) in scan order.
    row = raw["_row"] if "_row" in raw.columns else ibis.row_number() + 1
    return raw.mutate(**{PERSON_ID: row.cast("int64").cast("string"),
                         "_reason": ibis.null("string")})


#: Person-level tables: an optional id and attributes (every other column).
PEOPLE = register_kind(SourceKind(
    name="people",
    rows="people",
    roles=(
        Role(PERSON_ID, ("personid", "id", "customerid", "clientid", "memberid",
                         "respondentid", "lnr"),
             description="identifies the person; row numbers when absent"),
    ),
    columns={PERSON_ID: "string"},
    parse=_parse,
    timestamp_role=None,
    passthrough=True,
    header=None,
))


def name_columns(table: ir.Table, dictionary: FeatureDictionary) -> ir.Table:
    """Name the columns of a people file as the dictionary names its attributes.

    A file read without a header has attribute columns ``column_1``, ``column_2``, ...;
    each takes the name of the attribute the dictionary declares at that position (or,
    when it declares no positions, in that place of its order). In a file with a header,
    a column whose name is an attribute's written in another Unicode normal form (``Größe``
    with its ``ö`` as ``o`` and a combining diaeresis, as macOS writes names, against the
    dictionary's one character) takes the attribute's. Columns no attribute claims keep
    their names.

    Parameters
    ----------
    table : ibis.Table
        A people table (``person_id`` and attributes).
    dictionary : FeatureDictionary
        The attributes.

    Returns
    -------
    ibis.Table
        The table with its columns named.
    """
    columns = [c for c in table.columns if c != PERSON_ID]
    numbers = [_HEADERLESS.fullmatch(c) for c in columns]
    if not columns or not all(numbers):
        return table.rename(same_names(dictionary.names, columns))
    positions = [int(m.group(1)) for m in numbers if m]
    names = dictionary.column_names(max(positions))
    renames = {names[p - 1]: c for p, c in zip(positions, columns, strict=True)
               if names[p - 1] != c and names[p - 1] not in table.columns}
    return table.rename(renames) if renames else table
