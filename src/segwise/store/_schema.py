"""The store's tables: a fixed schema for every kind, and one wide entity table per feature set.

Every row carries the ``run_id`` of the run that wrote it, so runs accumulate side by side
and any two can be compared. Nothing here names a kind's columns: entity tables are keyed
by run and entity id, and named after their feature set (``entities_rfm``,
``entities_sessions``); their columns are the feature set's, recorded per run in
``entity_columns`` so that readers can label and format them without knowing the kind.
Variable shapes (a kind's audit metrics, CLV measures, segment profiles) are stored long,
one value per row.
"""

from __future__ import annotations

import re

import pyarrow as pa
import sqlalchemy as sa

from segwise.exceptions import ConfigError

__all__ = ["METADATA", "SCHEMA_VERSION", "TABLES", "arrow_column_type", "entity_table_name"]

#: Bumped when a fixed table changes shape; recorded in ``segwise_store``.
SCHEMA_VERSION = 1

METADATA = sa.MetaData()


def _run_id() -> sa.Column[str]:
    return sa.Column("run_id", sa.String(40), nullable=False)


#: One row per run: what ran, on what input, with which settings and versions.
RUNS = sa.Table(
    "runs", METADATA,
    sa.Column("run_id", sa.String(40), primary_key=True),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=False),
    sa.Column("command", sa.String(64), nullable=False),
    sa.Column("job", sa.String(64)),
    sa.Column("kind", sa.String(64)),
    sa.Column("feature_set", sa.String(64)),
    sa.Column("entity", sa.String(64)),
    sa.Column("entities", sa.String(64)),
    sa.Column("id_col", sa.Text),
    sa.Column("value_col", sa.Text),
    sa.Column("source", sa.Text),
    sa.Column("fingerprint", sa.String(80)),
    sa.Column("as_of", sa.Date),
    sa.Column("n_entities", sa.BigInteger),
    sa.Column("config", sa.Text, nullable=False),    # JSON
    sa.Column("versions", sa.Text, nullable=False),  # JSON
)
#: The declared columns of a run's entity table, in order, with their role.
ENTITY_COLUMNS = sa.Table(
    "entity_columns", METADATA, _run_id(),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # id, feature, value, segment, extra
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("cluster", sa.Boolean, nullable=False),
    sa.PrimaryKeyConstraint("run_id", "position"),
)
#: Which segment each entity is in, per segmentation (``rule``, ``learned``, ...).
MEMBERSHIPS = sa.Table(
    "memberships", METADATA, _run_id(),
    sa.Column("segmentation", sa.String(32), nullable=False),
    sa.Column("entity_id", sa.Text, nullable=False),
    sa.Column("segment", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("run_id", "segmentation", "entity_id"),
)
#: One row per segment: size, shares, action and what sets it apart.
SEGMENTS = sa.Table(
    "segments", METADATA, _run_id(),
    sa.Column("segmentation", sa.String(32), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("segment", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("share", sa.Float(53), nullable=False),
    sa.Column("value_share", sa.Float(53)),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("run_id", "segmentation", "segment"),
)
#: Segment profiles, long: one row per segment and feature.
SEGMENT_PROFILES = sa.Table(
    "segment_profiles", METADATA, _run_id(),
    sa.Column("segmentation", sa.String(32), nullable=False),
    sa.Column("segment", sa.Text, nullable=False),
    sa.Column("feature", sa.Text, nullable=False),
    sa.Column("mean", sa.Float(53)),
    sa.Column("median", sa.Float(53)),
    sa.Column("z", sa.Float(53)),
    sa.Column("lift", sa.Float(53)),
    sa.PrimaryKeyConstraint("run_id", "segmentation", "segment", "feature"),
)
#: Per-entity measures beyond the features, long: CLV, P(alive), probabilities.
ENTITY_VALUES = sa.Table(
    "entity_values", METADATA, _run_id(),
    sa.Column("entity_id", sa.Text, nullable=False),
    sa.Column("measure", sa.String(64), nullable=False),
    sa.Column("value", sa.Float(53)),
    sa.PrimaryKeyConstraint("run_id", "entity_id", "measure"),
)
#: The cleaning audit: rows per step (they sum to the input), in order.
AUDIT = sa.Table(
    "audit", METADATA, _run_id(),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("step", sa.Text, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("run_id", "position"),
)
#: A kind's further audit figures (revenue per step, say), long.
AUDIT_VALUES = sa.Table(
    "audit_values", METADATA, _run_id(),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("metric", sa.Text, nullable=False),
    sa.Column("value", sa.Float(53)),
    sa.PrimaryKeyConstraint("run_id", "position", "metric"),
)
#: Input rows that could not be parsed: row number, reason, the raw values as JSON.
QUARANTINE = sa.Table(
    "quarantine", METADATA, _run_id(),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("row", sa.BigInteger),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw", sa.Text, nullable=False),  # JSON
    sa.PrimaryKeyConstraint("run_id", "position"),
)
#: Models a run trained or used: a card (metadata and evaluation, JSON) and the file.
MODELS = sa.Table(
    "models", METADATA, _run_id(),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("card", sa.Text, nullable=False),  # JSON
    sa.Column("artifact", sa.LargeBinary),
    sa.PrimaryKeyConstraint("run_id", "name"),
)
#: The store's own record: schema version.
STORE_INFO = sa.Table(
    "segwise_store", METADATA,
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

#: The fixed tables by name.
TABLES = {t.name: t for t in METADATA.sorted_tables}
#: Tables holding rows of runs, children first (deleting a run goes through them).
RUN_TABLES = (ENTITY_COLUMNS, MEMBERSHIPS, SEGMENTS, SEGMENT_PROFILES, ENTITY_VALUES,
              AUDIT, AUDIT_VALUES, QUARANTINE, MODELS)

_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")


def entity_table_name(feature_set: str) -> str:
    """Return the wide table of a feature set's entities: ``entities_<feature set>``.

    Raises
    ------
    ConfigError
        If the feature set's name is not a plain lower-case identifier.
    """
    if not _NAME.fullmatch(feature_set):
        raise ConfigError(
            f"feature set {feature_set!r}: a stored feature set needs a lower-case name of "
            "letters, digits and underscores"
        )
    return f"entities_{feature_set}"


def arrow_column_type(kind: pa.DataType) -> sa.types.TypeEngine:
    """Return the SQL type of a column of Arrow type ``kind`` (text for anything unusual)."""
    if pa.types.is_boolean(kind):
        return sa.Boolean()
    if pa.types.is_integer(kind):
        return sa.BigInteger()
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return sa.Float(53)
    if pa.types.is_timestamp(kind):
        return sa.DateTime()
    if pa.types.is_date(kind):
        return sa.Date()
    return sa.Text()
