"""Where results go: files, a database of runs, and model files, all written safely.

The file writers (Parquet, CSV, DuckDB, reports) write atomically and check outputs
before any work; :class:`Store` writes any job's :class:`RunRecord` into a DuckDB or
PostgreSQL database in one transaction and reads it back for the dashboard and the API;
model files are saved and loaded through one checked loader (:func:`load_model`).
"""

from typing import TYPE_CHECKING

from segwise._lazy import lazy_getattr
from segwise.store._csv import csv_lines, neutralise_formula
from segwise.store._files import (
    TABLE_SUFFIXES,
    atomic_path,
    beside,
    check_output,
    entity_output_paths,
    neutralise_formulas,
    write_bytes,
    write_database,
    write_entities,
    write_table,
    write_tables,
    write_text,
)
from segwise.store._models import ModelFormat, check_types, load_model, save_model
from segwise.store._record import ModelCard, RunRecord, SegmentLabels, versions

if TYPE_CHECKING:
    from segwise.store._db import (
        NOT_IN_RUN,
        Store,
        StoreBusyError,
        check_store,
        open_store,
        store_url,
    )

# The database of runs needs SQLAlchemy (a quarter of a second to import), which commands
# that only write files never use: it loads on first use.
__getattr__ = lazy_getattr(__name__, dict.fromkeys(
    ("NOT_IN_RUN", "Store", "StoreBusyError", "check_store", "open_store", "store_url"),
    "_db"), globals())

__all__ = [
    "NOT_IN_RUN",
    "TABLE_SUFFIXES",
    "ModelCard",
    "ModelFormat",
    "RunRecord",
    "SegmentLabels",
    "Store",
    "StoreBusyError",
    "atomic_path",
    "beside",
    "check_output",
    "check_store",
    "check_types",
    "csv_lines",
    "entity_output_paths",
    "load_model",
    "neutralise_formula",
    "neutralise_formulas",
    "open_store",
    "save_model",
    "store_url",
    "versions",
    "write_bytes",
    "write_database",
    "write_entities",
    "write_table",
    "write_tables",
    "write_text",
]
