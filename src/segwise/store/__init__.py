"""Where results go: tables, text, databases and model files, all written atomically."""

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

__all__ = [
    "TABLE_SUFFIXES",
    "ModelFormat",
    "atomic_path",
    "beside",
    "check_output",
    "check_types",
    "entity_output_paths",
    "load_model",
    "neutralise_formulas",
    "save_model",
    "write_bytes",
    "write_database",
    "write_entities",
    "write_table",
    "write_tables",
    "write_text",
]
