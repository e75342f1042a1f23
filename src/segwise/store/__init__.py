"""Where results go: files (Parquet, CSV) and databases."""

from segwise.store._files import write_database, write_entities, write_table

__all__ = ["write_database", "write_entities", "write_table"]
