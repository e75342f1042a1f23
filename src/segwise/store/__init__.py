"""Where results go: files (Parquet, CSV), and a database of runs (DuckDB or PostgreSQL).

:class:`Store` writes any job's :class:`RunRecord` in one transaction and reads it back for
the dashboard and the API; the file writers serve the commands' ``-o`` outputs.
"""

from segwise.store._csv import csv_lines, neutralise_formula
from segwise.store._db import NOT_IN_RUN, Store, StoreBusyError, open_store, store_url
from segwise.store._files import write_database, write_entities, write_table
from segwise.store._record import ModelCard, RunRecord, SegmentLabels, versions

__all__ = [
    "NOT_IN_RUN",
    "ModelCard",
    "RunRecord",
    "SegmentLabels",
    "Store",
    "StoreBusyError",
    "csv_lines",
    "neutralise_formula",
    "open_store",
    "store_url",
    "versions",
    "write_database",
    "write_entities",
    "write_table",
]
