"""Databases with several tables: relations, and the bad inputs they bring."""

from __future__ import annotations

import re
import sqlite3
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from segwise.exceptions import ConfigError, InputError, SegwiseWarning
from segwise.io import Join, ReadOptions, convert_to_parquet, load_source
from segwise.io._tables import _ReadAhead


def _log(path: Path, *, dates: list[str] | None = None, orphan: bool = False) -> Path:
    """A search stream (impressions) and its search info, in two SQLite tables."""
    dates = dates or ["2015-05-01 10:00:00.0", "2015-05-01 10:02:00.0",
                      "2015-05-02 18:30:00.0", "2015-05-03 09:00:00.0"]
    info = pd.DataFrame({"SearchID": [1, 2, 3, 4], "UserID": [10, 10, 11, 12],
                         "SearchDate": dates, "CategoryID": [5, 5, 7, 5]})
    stream = pd.DataFrame({"SearchID": [1, 1, 2, 3, 3, 4] + ([99] if orphan else []),
                           "AdID": [100, 101, 100, 102, 103, 100] + ([104] if orphan else []),
                           "IsClick": [0, 1, None, 0, 0, 1] + ([0] if orphan else [])})
    with sqlite3.connect(path) as con:
        info.to_sql("SearchInfo", con, index=False)
        stream.to_sql("SearchStream", con, index=False)
    return path


RELATION = ReadOptions(table="SearchStream", join=(Join("SearchInfo", ("SearchID",)),))
#: The same, accepting any share of quarantined rows (the logs here are tiny).
LENIENT = ReadOptions(table="SearchStream", join=RELATION.join, max_quarantine_share=1.0)


def test_a_relation_joins_the_tables(tmp_path: Path) -> None:
    source = load_source(_log(tmp_path / "log.sqlite"), "events", read=RELATION)
    rows = source.table.order_by(["user_id", "ts", "object_id"]).to_pandas()
    assert source.n_input == 6 and source.n_quarantined == 0
    # Keys stored as integers stay integers (search ids too: sessions order them as text).
    assert rows["user_id"].tolist() == [10, 10, 10, 11, 11, 12]
    assert rows["search_id"].tolist() == [1, 1, 2, 3, 3, 4]
    assert rows["is_click"].tolist() == [False, True, False, False, False, True]
    assert rows["category"].tolist() == [5, 5, 5, 7, 7, 5]
    assert source.roles.search_id == "SearchID" and source.roles.user_id == "UserID"


def test_the_relation_comes_from_the_config(tmp_path: Path) -> None:
    from segwise.config import load_config

    cfg = tmp_path / "c.toml"
    cfg.write_text('[read]\ntable = "SearchStream"\n'
                   'join = [{table = "SearchInfo", on = "SearchID"}]\n')
    read = load_config(cfg, kind="events").read
    assert read.join == (Join("SearchInfo", ("SearchID",)),)
    cfg.write_text('[read]\njoin = [{table = "SearchInfo"}]\n')
    with pytest.raises(ConfigError, match="join"):
        load_config(cfg, kind="events")


def test_rows_without_a_match_are_quarantined(tmp_path: Path) -> None:
    source = load_source(_log(tmp_path / "log.sqlite", orphan=True), "events", read=LENIENT)
    q = source.quarantine
    assert source.n_input == 7 and len(q) == 1
    assert q["reason"].tolist() == ["SearchID: no row of SearchInfo matches"]
    assert q["row"].tolist() == [7] and q["AdID"].tolist() == ["104"]


def test_several_matches_are_quarantined_not_multiplied(tmp_path: Path) -> None:
    path = _log(tmp_path / "log.sqlite")
    with sqlite3.connect(path) as con:
        con.execute("INSERT INTO SearchInfo VALUES (4, 13, '2015-05-03 09:00:00.0', 5)")
    source = load_source(path, "events", read=LENIENT)
    assert source.n_input == 6
    assert source.quarantine["reason"].tolist() == ["SearchID: several rows of SearchInfo match"]


def test_too_many_rows_a_join_quarantines_name_the_join_to_fix(tmp_path: Path) -> None:
    # The advice was the parse's (delimiter, encoding, decimal): no help for a join on a
    # key the joined table repeats or lacks, read from the database or its Parquet parts.
    path = _log(tmp_path / "log.sqlite", orphan=True)
    with sqlite3.connect(path) as con:
        con.execute("INSERT INTO SearchInfo VALUES (1, 13, '2015-05-03 09:00:00.0', 5)")
    with pytest.raises(InputError, match=r"row 1: SearchID: several rows of SearchInfo match "
                                         r"\(value '1'\)\. Fix: join SearchInfo on keys unique "
                                         r"in it .*or remove its duplicate rows; raise") as error:
        load_source(path, "events", read=RELATION)
    assert "delimiter" not in str(error.value)
    parts = convert_to_parquet(path, tmp_path / "parts", read=RELATION).path
    with pytest.raises(InputError, match=r"several rows of SearchInfo match .* Fix: join "
                                        r"SearchInfo on keys unique in it"):
        load_source(parts, "events")
    with sqlite3.connect(path) as con:
        con.execute("DELETE FROM SearchInfo WHERE SearchID = 1")
    with pytest.raises(InputError, match=r"SearchID: no row of SearchInfo matches .* Fix: "
                                         r"check that SearchInfo holds every SearchID"):
        load_source(path, "events", read=RELATION)


def test_a_relation_that_joins_nothing_is_one_clear_line(tmp_path: Path) -> None:
    path = _log(tmp_path / "log.sqlite")
    with sqlite3.connect(path) as con:
        con.execute("UPDATE SearchInfo SET SearchID = SearchID + 1000")
    with pytest.raises(InputError, match="no row of SearchStream matches a row of SearchInfo "
                                         "on SearchID") as err:
        load_source(path, "events", read=RELATION)
    assert "\n" not in str(err.value)
    # convert says so too, instead of writing parts whose every row is quarantined, and
    # leaves no folder (nor the parents it made).
    with pytest.raises(InputError, match="no row of SearchStream matches a row of SearchInfo "
                                         "on SearchID; nothing was written"):
        convert_to_parquet(path, tmp_path / "new" / "parts", read=RELATION)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.sqlite"]


@pytest.mark.parametrize("suffix", [".sqlite", ".duckdb"])
def test_a_database_without_tables_or_bytes_is_one_line(tmp_path: Path, suffix: str) -> None:
    # A database whose tables were dropped said "0 tables (none); Fix: name the one to
    # read"; convert of a 0-byte file said the same, where loading it says it is empty.
    path = tmp_path / f"log{suffix}"
    if suffix == ".duckdb":
        duckdb.connect(str(path)).close()
    else:
        with sqlite3.connect(path) as con:
            con.execute("CREATE TABLE t (x)")
            con.execute("DROP TABLE t")
    says = r"log\.\w+: the database holds no table\. Fix: check that it is the right file"
    with pytest.raises(InputError, match=says):
        load_source(path, "events")
    with pytest.raises(InputError, match=says):
        convert_to_parquet(path, tmp_path / "parts")
    empty = tmp_path / f"empty{suffix}"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"the file is empty\. Fix: export the events again"):
        convert_to_parquet(empty, tmp_path / "parts")
    assert not (tmp_path / "parts").exists()


def test_a_failed_conversion_keeps_the_earlier_one(tmp_path: Path) -> None:
    path = _log(tmp_path / "log.sqlite")
    parts = tmp_path / "parts"
    assert convert_to_parquet(path, parts, read=RELATION).rows == 6
    before = pd.read_parquet(parts)
    with sqlite3.connect(path) as con:
        con.execute("INSERT INTO SearchInfo SELECT * FROM SearchInfo")  # every key twice
    with pytest.raises(InputError, match=r"every row of SearchStream matches several rows of a "
                       r"table read=ReadOptions\(join=\.\.\.\) joins; nothing was written\. "
                       r"Fix: join on keys unique in the joined tables \(on takes a list"):
        convert_to_parquet(path, parts, read=RELATION)
    pd.testing.assert_frame_equal(pd.read_parquet(parts), before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.sqlite", "parts"]


@pytest.mark.parametrize(("table", "match"), [
    # Called from Python, the join is named as given there, not in config words.
    ("SearchInfo", r"table SearchInfo, which read=ReadOptions\(join=\.\.\.\) joins on SearchID, "
                   r"has no rows.*Fix: export its rows too, or drop it from "
                   r"read=ReadOptions\(join=\.\.\.\)"),
    ("SearchStream", r"table SearchStream has no rows\. Fix: set read=ReadOptions\(table=\.\.\.\) "
                     r"to the table "
                     r"that holds the events"),
])
@pytest.mark.parametrize("suffix", [".sqlite", ".duckdb"])
def test_an_empty_table_is_named_not_blamed_on_the_keys(tmp_path: Path, suffix: str, table: str,
                                                        match: str) -> None:
    # An export that wrote a table's schema but none of its rows: the user is told which
    # table is empty, not that the keys match nothing or that a CSV header has no rows.
    path = _searches(tmp_path / f"log{suffix}", ["2015-05-01 10:00:00", "2015-05-02 10:00:00"])
    if suffix == ".duckdb":
        with duckdb.connect(str(path)) as con:
            con.execute(f"DELETE FROM {table}")  # noqa: S608 - a test table name
    else:
        with sqlite3.connect(path) as con:
            con.execute(f"DELETE FROM {table}")  # noqa: S608 - a test table name
    with pytest.raises(InputError, match=match) as err:
        load_source(path, "events", read=RELATION)
    assert "\n" not in str(err.value)
    # convert writes no empty Parquet: the same line, nothing written, no folder left.
    with pytest.raises(InputError, match=match.replace(
            r"has no rows\.", r"has no rows; nothing was written\.")) as err:
        convert_to_parquet(path, tmp_path / "parts", read=RELATION)
    assert "; nothing was written. Fix" in str(err.value)
    assert not (tmp_path / "parts").exists()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize(("read", "match"), [
    (ReadOptions(table="Impressions"), "no table 'Impressions'"),
    (ReadOptions(table="SearchStream", join=(Join("Searches", ("SearchID",)),)),
     r"read=ReadOptions\(join=\.\.\.\) names table 'Searches'"),
    (ReadOptions(table="SearchStream", join=(Join("SearchInfo", ("SearchId",)),)),
     r"SearchStream has no column 'SearchId'; did you mean 'SearchID'\?"),
    (ReadOptions(table="SearchStream", join=(Join("SearchInfo", ("AdID",)),)),
     r"SearchInfo has no column 'AdID' \(columns both have: SearchID\)"),
    (ReadOptions(join=(Join("SearchInfo", ("SearchID",)),)), "name the one to read"),
])
def test_missing_tables_and_keys_are_named(tmp_path: Path, read: ReadOptions,
                                           match: str) -> None:
    with pytest.raises(InputError, match=match):
        load_source(_log(tmp_path / "log.sqlite"), "events", read=read)


@pytest.mark.parametrize(("joins", "match"), [
    ((Join("SearchInfo", ("SearchID",)), Join("SearchInfo", ("SearchID",))), "twice"),
    ((Join("SearchStream", ("SearchID",)),), "as a join to itself"),
])
@pytest.mark.parametrize("suffix", [".sqlite", ".duckdb"])
def test_a_table_joined_twice_is_one_clear_line(tmp_path: Path, suffix: str,
                                                joins: tuple[Join, ...], match: str) -> None:
    # Once, on SQLite: "cannot read the sqlite database: ... This RecordBatchReader has
    # already been consumed ... Fix: check that the file is a readable database".
    path = _searches(tmp_path / f"log{suffix}", ["2015-05-01 10:00:00"])
    with pytest.raises(ConfigError, match=rf"ReadOptions\(join=\.\.\.\) names table .* {match}: "
                       r"each table's columns join once\. Fix: one join per table other than "
                       r"read=ReadOptions\(table=\.\.\.\)") as err:
        load_source(path, "events", read=ReadOptions(table="SearchStream", join=joins))
    assert "\n" not in str(err.value)


def test_join_needs_a_database(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("user,time\na,2024-01-01 10:00:00\n")
    with pytest.raises(ConfigError, match=r"read=ReadOptions\(join=\.\.\.\) needs a SQLite or "
                       "DuckDB database"):
        load_source(path, "events", read=RELATION)


def test_mixed_timestamp_layouts_are_counted_or_refused(tmp_path: Path) -> None:
    mixed = ["2015-05-01 10:00:00.0", "01.05.2015 10:02", "2015-05-02 18:30:00.0",
             "2015-05-03 09:00:00.0"]
    path = _log(tmp_path / "log.sqlite", dates=mixed)
    source = load_source(path, "events", read=LENIENT)
    assert source.n_input == 6 and source.n_quarantined == 1
    assert source.quarantine["reason"].tolist() == ["SearchDate: not a timestamp"]
    with pytest.raises(InputError, match=r"1 of 6 rows \(17%\) cannot be parsed"):
        load_source(path, "events", read=RELATION)


def test_a_locked_database_is_one_clear_line(tmp_path: Path) -> None:
    path = _log(tmp_path / "log.sqlite")
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("PRAGMA locking_mode = EXCLUSIVE")
    writer.execute("BEGIN EXCLUSIVE")
    writer.execute("INSERT INTO SearchInfo VALUES (5, 13, '2015-05-04 09:00:00.0', 5)")
    try:
        with pytest.raises(InputError, match=r"locked.*another program is writing"):
            load_source(path, "events", read=RELATION)
    finally:
        threading.Thread(target=writer.rollback).run()
        writer.close()
    assert load_source(path, "events", read=RELATION).n_input == 6


def test_a_duckdb_file_another_program_holds_is_one_clear_line(tmp_path: Path) -> None:
    # DuckDB locks a file a process opened for writing: once "Could not set lock on file
    # ... Fix: check that the file is a readable database", as if it were damaged.
    import subprocess
    import sys

    path = _searches(tmp_path / "log.duckdb", ["2015-05-01 10:00:00"])
    holder = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
         "print('open', flush=True); sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        with pytest.raises(InputError, match=r"lock.*another program is writing to it\. "
                                             r"Fix: wait until it finishes") as err:
            load_source(path, "events", read=RELATION)
        assert "\n" not in str(err.value)
    finally:
        holder.communicate("")
    assert load_source(path, "events", read=RELATION).n_input == 1


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_database_is_one_clear_line(tmp_path: Path, damage: str) -> None:
    path = _log(tmp_path / "log.sqlite")
    data = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"this is not a database at all" * 100)
    else:
        # Keep the header and schema page, lose the pages holding the rows.
        path.write_bytes(data[:4096] + b"\x00" * 4096)
    with pytest.raises(InputError, match="damaged or not a sqlite database") as err:
        load_source(path, "events", read=RELATION)
    assert "\n" not in str(err.value)


def test_a_truncated_duckdb_file_is_damaged(tmp_path: Path) -> None:
    # Once "Could not read enough bytes ... Fix: check that the file is a readable database".
    path = _searches(tmp_path / "log.duckdb", ["2015-05-01 10:00:00"])
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(InputError, match="damaged or not a duckdb database") as err:
        load_source(path, "events", read=RELATION)
    assert "\n" not in str(err.value)


def _copy_to_duckdb(sqlite: Path, path: Path) -> duckdb.DuckDBPyConnection:
    """Copy the log's two tables into the DuckDB database ``path``; return it open."""
    con = duckdb.connect(str(path))
    with sqlite3.connect(sqlite) as src:
        for table in ("SearchInfo", "SearchStream"):
            frame = pd.read_sql_query(f"SELECT * FROM {table}", src)  # noqa: S608
            con.register("f", frame)
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM f")  # noqa: S608
            con.unregister("f")
    return con


def test_duckdb_databases_join_in_place(tmp_path: Path) -> None:
    path = tmp_path / "log.duckdb"
    sqlite = _log(tmp_path / "log.sqlite")
    _copy_to_duckdb(sqlite, path).close()
    a = load_source(path, "events", read=RELATION).table.order_by(["ts", "object_id"])
    b = load_source(sqlite, "events", read=RELATION).table.order_by(["ts", "object_id"])
    pd.testing.assert_frame_equal(a.to_pandas(), b.to_pandas())


def _no_rowid(path: Path, shape: str) -> Path:
    """The log's impressions as a view, or a table WITHOUT ROWID, named ``Impressions``.

    An orphan impression is quarantined, to check the rows' numbers.
    """
    sqlite = _log(path.with_suffix(".sqlite"), orphan=True)
    view = ("CREATE VIEW Impressions AS SELECT SearchID, AdID, IsClick "
            "FROM SearchStream WHERE AdID >= 0")
    if path.suffix == ".duckdb":
        with _copy_to_duckdb(sqlite, path) as con:
            con.execute(view)
        return path
    with sqlite3.connect(path) as con:
        if shape == "view":
            con.execute(view)
        else:
            con.execute("CREATE TABLE Impressions (SearchID INTEGER, AdID INTEGER, "
                        "IsClick INTEGER, PRIMARY KEY (SearchID, AdID)) WITHOUT ROWID")
            con.execute("INSERT INTO Impressions SELECT SearchID, AdID, IsClick "
                        "FROM SearchStream")
    return path


@pytest.mark.parametrize(("suffix", "shape"), [
    (".sqlite", "view"), (".sqlite", "without rowid"), (".duckdb", "view")])
def test_a_view_or_a_table_without_rowid_is_read_and_converted(
        tmp_path: Path, suffix: str, shape: str) -> None:
    # A view has no rowid to number rows by ("no such column: rowid" stopped the read):
    # its rows are numbered as read, and load, quarantine and convert work as for a table.
    path = _no_rowid(tmp_path / f"log{suffix}", shape)
    read = ReadOptions(table="Impressions", join=RELATION.join, max_quarantine_share=1.0)
    source = load_source(path, "events", read=read)
    want = load_source(tmp_path / "log.sqlite", "events", read=LENIENT)
    order = ["user_id", "ts", "object_id"]
    pd.testing.assert_frame_equal(source.table.order_by(order).to_pandas(),
                                  want.table.order_by(order).to_pandas())
    assert source.n_input == 7
    assert source.quarantine["reason"].tolist() == ["SearchID: no row of SearchInfo matches"]
    assert 1 <= source.quarantine["row"].iloc[0] <= 7
    assert convert_to_parquet(path, tmp_path / "parts", read=read).rows == 7


@pytest.mark.parametrize("suffix", [".sqlite", ".duckdb"])
def test_a_column_named_rowid_does_not_number_the_rows(tmp_path: Path, suffix: str) -> None:
    # SELECT rowid read the column (text here): the read stopped ("unsupported operand
    # type(s) for -: 'str' and 'str'"), or numbered rows by the column's values.
    rows = [("x", "a", "2024-03-04 10:00:00"), ("x", "a", "2024-03-04 10:01:00"),
            (None, "b", "oops"), ("7", "b", "2024-03-04 10:02:00")]
    path = tmp_path / f"log{suffix}"
    create = "CREATE TABLE ev (rowid VARCHAR, user_id VARCHAR, timestamp VARCHAR)"
    if suffix == ".duckdb":
        with duckdb.connect(str(path)) as con:
            con.execute(create)
            con.executemany("INSERT INTO ev VALUES (?, ?, ?)", rows)
    else:
        with sqlite3.connect(path) as con:
            con.execute(create)
            con.executemany("INSERT INTO ev VALUES (?, ?, ?)", rows)
    source = load_source(path, "events", read=ReadOptions(max_quarantine_share=1.0))
    assert source.n_input == 4
    assert source.quarantine["row"].tolist() == [3]
    assert source.quarantine["reason"].tolist() == ["timestamp: not a timestamp"]


@pytest.mark.slow
@pytest.mark.spark
def test_spark_reads_a_view_through_jdbc(spark_available: None, tmp_path: Path) -> None:
    path = _no_rowid(tmp_path / "log.sqlite", "view")
    read = ReadOptions(table="Impressions", join=RELATION.join, max_quarantine_share=1.0)
    spark = load_source(path, "events", read=read, engine="spark")
    duck = load_source(path, "events", read=read)
    order = ["user_id", "ts", "object_id"]
    # Spark reads SQLite as text: ids are compared as text.
    pd.testing.assert_frame_equal(spark.table.order_by(order).to_pandas().astype(str),
                                  duck.table.order_by(order).to_pandas().astype(str))
    assert spark.quarantine["reason"].tolist() == duck.quarantine["reason"].tolist()


def test_duckdb_tables_in_a_schema_are_named_schema_dot_table(tmp_path: Path) -> None:
    # dbt writes models to schemas of their own: "Table with name events does not exist"
    # stopped the read of a table it listed.
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA analytics")
        con.execute("CREATE TABLE analytics.events AS SELECT * FROM (VALUES "
                    "('a', TIMESTAMP '2024-03-04 10:00:00', 1), "
                    "('a', TIMESTAMP '2024-03-04 10:05:00', 2), "
                    "('b', TIMESTAMP '2024-03-04 11:00:00', 9)) AS t(user_id, ts, sid)")
        con.execute("CREATE TABLE analytics.sessions (sid INTEGER PRIMARY KEY, device VARCHAR)")
        con.execute("INSERT INTO analytics.sessions VALUES (1, 'ios'), (2, 'web')")
        con.execute("CREATE TABLE other (x INTEGER)")
    with pytest.raises(InputError, match=r"3 tables \(other, analytics\.events, "
                                         r"analytics\.sessions\)"):
        load_source(path, "events")
    read = ReadOptions(table="analytics.events", max_quarantine_share=1.0,
                       join=(Join("analytics.sessions", ("sid",)),))
    source = load_source(path, "events", read=read)
    assert source.table.order_by("ts").device.execute().tolist() == ["ios", "web"]
    assert source.quarantine["reason"].tolist() == [
        "sid: no row of analytics.sessions matches"]
    assert convert_to_parquet(path, tmp_path / "parts", read=read).rows == 3


def test_a_column_of_mixed_types_is_read_as_text_and_quarantined(tmp_path: Path) -> None:
    path = _log(tmp_path / "log.sqlite")
    with sqlite3.connect(path) as con:  # SQLite keeps the text in an INTEGER column
        con.execute("UPDATE SearchStream SET IsClick = 'oops' WHERE rowid = 5")
    source = load_source(path, "events", read=LENIENT)
    assert source.n_input == 6
    assert source.quarantine["reason"].tolist() == ["IsClick: not a yes/no flag"]
    assert source.quarantine["IsClick"].tolist() == ["oops"]
    clicks = source.table.is_click.sum().to_pyarrow().as_py()
    assert clicks == 2


def test_real_numbers_in_a_column_read_as_text_keep_every_digit(tmp_path: Path) -> None:
    # The driver typed a column text from its first rows and wrote the real numbers it
    # met there as %e: a Julian day to the whole day (10:00 read as midnight, or the next
    # day), a category 7.25 as "7.250000e+00".
    path = tmp_path / "log.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE ev (user_id, ts, category)")
        con.executemany("INSERT INTO ev VALUES (?, ?, ?)", [
            ("a", "2024-03-04 10:00:00", "cars"),
            ("a", 2460374.0 + 1 / 24, 7.25),               # 2024-03-04 13:00
            ("b", 2460374.0 + 20.5 / 24, 1234.5678)])       # 2024-03-05 08:30
    rows = load_source(path, "events").table.order_by("ts").to_pandas()
    assert rows["ts"].tolist() == [pd.Timestamp("2024-03-04 10:00"),
                                   pd.Timestamp("2024-03-04 13:00"),
                                   pd.Timestamp("2024-03-05 08:30")]
    assert rows["category"].tolist() == ["cars", "7.25", "1234.5678"]


def test_a_join_may_use_a_key_that_plays_no_role(tmp_path: Path) -> None:
    path = _log(tmp_path / "log.sqlite")
    with sqlite3.connect(path) as con:
        con.execute("ALTER TABLE SearchInfo ADD COLUMN DeviceKey INTEGER")
        con.execute("UPDATE SearchInfo SET DeviceKey = SearchID % 2")
        con.execute("CREATE TABLE Devices (DeviceKey INTEGER, DeviceName TEXT)")
        con.execute("INSERT INTO Devices VALUES (0, 'phone'), (1, 'desktop')")
    read = ReadOptions(table="SearchStream", join=(
        Join("SearchInfo", ("SearchID",)), Join("Devices", ("DeviceKey",))))
    source = load_source(path, "events", columns={"device": "DeviceName"}, read=read)
    rows = source.table.order_by(["ts", "object_id"]).to_pandas()
    assert rows["device"].tolist() == ["desktop", "desktop", "phone", "desktop", "desktop",
                                       "phone"]



def _keyed(path: Path, table: str, *statements: str) -> Path:
    """Rebuild SearchInfo as ``table`` (a CREATE TABLE), then run ``statements``."""
    with sqlite3.connect(path) as con:
        con.execute("ALTER TABLE SearchInfo RENAME TO old")
        con.execute(table)
        con.execute("INSERT INTO SearchInfo SELECT * FROM old")
        con.execute("DROP TABLE old")
        for statement in statements:
            con.execute(statement)
    return path


_COLUMNS = "UserID INTEGER, SearchDate TEXT, CategoryID INTEGER"
_PLAIN = f"CREATE TABLE SearchInfo (SearchID INTEGER, {_COLUMNS})"


@pytest.mark.parametrize("declared", [
    (f"CREATE TABLE SearchInfo (SearchID INTEGER PRIMARY KEY, {_COLUMNS})",),
    (_PLAIN, "CREATE UNIQUE INDEX by_search ON SearchInfo (SearchID)"),
], ids=["primary key", "unique index"])
def test_keys_declared_unique_join_the_same_rows(tmp_path: Path,
                                                 declared: tuple[str, ...]) -> None:
    # Such a join skips the grouping that counts matches: same rows, same quarantine.
    plain = load_source(_log(tmp_path / "a.sqlite", orphan=True), "events", read=LENIENT)
    keyed = load_source(_keyed(_log(tmp_path / "b.sqlite", orphan=True), *declared),
                        "events", read=LENIENT)
    order = ["ts", "object_id"]
    pd.testing.assert_frame_equal(keyed.table.order_by(order).to_pandas(),
                                  plain.table.order_by(order).to_pandas())
    pd.testing.assert_frame_equal(keyed.quarantine, plain.quarantine)
    assert keyed.n_quarantined == 1


@pytest.mark.parametrize("declared", [
    (f"CREATE TABLE SearchInfo (SearchID INTEGER, {_COLUMNS}, PRIMARY KEY (SearchID, UserID))",),
    (_PLAIN, "CREATE UNIQUE INDEX by_search ON SearchInfo (SearchID) WHERE UserID < 13"),
], ids=["key of two columns", "partial index"])
def test_keys_not_unique_for_the_join_still_count_matches(tmp_path: Path,
                                                          declared: tuple[str, ...]) -> None:
    path = _keyed(_log(tmp_path / "log.sqlite"), *declared,
                  "INSERT INTO SearchInfo VALUES (4, 13, '2015-05-03 09:00:00.0', 5)")
    source = load_source(path, "events", read=LENIENT)
    assert source.quarantine["reason"].tolist() == ["SearchID: several rows of SearchInfo match"]


@pytest.mark.parametrize("declared", [(), (
    f"CREATE TABLE SearchInfo (SearchID INTEGER PRIMARY KEY, {_COLUMNS})",)],
    ids=["keys grouped", "primary key"])
def test_a_joined_tables_timestamp_is_parsed_in_that_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, declared: tuple[str, ...]) -> None:
    # A search's date was parsed once for each of its impressions, after the join; it is
    # parsed once a search, before it, and read as before: the same rows, reasons,
    # quarantined values and rows after the as-of day as with the date in the main table.
    from segwise.io._tables import Database

    statements: list[str] = []
    read_rows = Database.read_rows

    def spy(self: Database, duck: Any, columns: Any, statement: Any, **kw: Any) -> None:
        def recorded(view: str) -> str:
            statements.append(statement(view))
            return statements[-1]

        read_rows(self, duck, columns, recorded, **kw)

    monkeypatch.setattr(Database, "read_rows", spy)
    dates = ["2015-05-01 10:00:00.0", "never", " 2015-05-02 18:30:00.0 ",
             "2015-05-09 09:00:00.0"]
    joined = _log(tmp_path / "joined.sqlite", dates=dates, orphan=True)
    if declared:
        _keyed(joined, *declared)
    main = _log(tmp_path / "main.sqlite", dates=dates, orphan=True)
    with sqlite3.connect(main) as con:  # the date moved to the main table
        con.execute("ALTER TABLE SearchStream ADD COLUMN SearchDate TEXT")
        con.execute("UPDATE SearchStream SET SearchDate = (SELECT i.SearchDate FROM "
                    "SearchInfo AS i WHERE i.SearchID = SearchStream.SearchID)")
        con.execute("ALTER TABLE SearchInfo DROP COLUMN SearchDate")
    as_of = pd.Timestamp("2015-05-05").date()
    got, want = (load_source(path, "events", read=LENIENT, as_of=as_of)
                 for path in (joined, main))
    assert "strptime" not in statements[0].lower()
    assert "strptime" in statements[1].lower()
    order = ["ts", "object_id"]
    pd.testing.assert_frame_equal(got.table.order_by(order).to_pandas(),
                                  want.table.order_by(order).to_pandas())
    pd.testing.assert_frame_equal(got.quarantine, want.quarantine)
    assert got.quarantine["reason"].tolist() == ["SearchDate: not a timestamp",
                                                 "SearchID: no row of SearchInfo matches"]
    assert got.quarantine["SearchDate"].iloc[0] == "never"  # as written
    assert (got.n_input, got.n_after_as_of) == (want.n_input, want.n_after_as_of) == (7, 1)


def _searches(path: Path, dates: list[str]) -> Path:
    """Searches on the given dates and one impression each, in SQLite or a DuckDB file."""
    info = pd.DataFrame({"SearchID": range(len(dates)),
                         "UserID": [i % 97 for i in range(len(dates))], "SearchDate": dates})
    stream = pd.DataFrame({"SearchID": range(len(dates)), "AdID": 1, "IsClick": 0})
    if path.suffix == ".duckdb":
        with duckdb.connect(str(path)) as con:
            con.execute("CREATE TABLE SearchInfo AS SELECT * FROM info")
            con.execute("CREATE TABLE SearchStream AS SELECT * FROM stream")
        return path
    with sqlite3.connect(path) as con:
        info.to_sql("SearchInfo", con, index=False)
        stream.to_sql("SearchStream", con, index=False)
    return path


def test_the_timestamp_layout_is_sampled_over_the_whole_table(tmp_path: Path) -> None:
    # The first 3,000 of 10,000 searches use another layout: a sample of the first rows
    # would choose it and quarantine the 7,000 others.
    minutes = pd.date_range("2015-05-01", periods=10_000, freq="min")
    dates = [t.strftime("%d.%m.%Y %H:%M") for t in minutes[:3000]] + [
        t.strftime("%Y-%m-%d %H:%M:%S.0") for t in minutes[3000:]]
    source = load_source(_searches(tmp_path / "log.sqlite", dates), "events", read=LENIENT)
    assert source.n_input == 10_000 and source.n_quarantined == 3000
    assert set(source.quarantine["reason"]) == {"SearchDate: not a timestamp"}


@pytest.mark.parametrize("last", ["25/12/2015 10:00", None])
@pytest.mark.parametrize("suffix", [".sqlite", ".duckdb"])
def test_day_month_ties_are_decided_by_the_whole_column(tmp_path: Path, suffix: str,
                                                        last: str | None) -> None:
    # 12,000 searches, every day 12 or less, so the sample cannot tell day/month from
    # month/day; one day above 12 in a row the sample does not read settles it.
    stamps = [pd.Timestamp(2015, 1 + i % 12, 1 + (i // 12) % 12, 8 + i % 9, i % 60)
              for i in range(12_000)]
    dates = [t.strftime("%d/%m/%Y %H:%M") for t in stamps]
    if last is not None:
        dates[-1] = last
    path = _searches(tmp_path / f"log{suffix}", dates)
    if last is None:
        with pytest.raises(InputError, match=r"column SearchDate: the timestamp layout is ambiguous"
                                             r".*timestamp_format=\"%m/%d/%Y %H:%M\"\) or "
                                             r"pass read=ReadOptions\(timestamp_format="
                                             r"\"%d/%m/%Y %H:%M"):
            load_source(path, "events", read=RELATION)
        return
    source = load_source(path, "events", read=RELATION)
    assert source.n_input == 12_000 and source.n_quarantined == 0
    assert source.table.ts.max().execute() == pd.Timestamp("2015-12-25 10:00")
    assert source.table.ts.day().max().execute() == 25


def test_searches_after_the_as_of_day_are_left_out_and_counted(tmp_path: Path) -> None:
    source = load_source(_log(tmp_path / "log.sqlite"), "events", read=RELATION,
                         as_of=pd.Timestamp("2015-05-01").date())
    # The searches of 2 and 3 May (three impressions) are after the as-of day.
    assert source.n_input == 6 and source.n_quarantined == 0 and source.n_after_as_of == 3
    assert source.table.count().execute() == 3


def _batches(n: int) -> list[pa.RecordBatch]:
    return [pa.record_batch({"i": [i, i]}) for i in range(n)]


def test_batches_read_ahead_arrive_in_order() -> None:
    source = pa.RecordBatchReader.from_batches(pa.schema({"i": pa.int64()}), _batches(50))
    ahead = _ReadAhead(source, depth=3)
    assert ahead.reader.read_all().column("i").to_pylist() == [i for i in range(50)
                                                                for _ in range(2)]
    ahead.close()


def test_a_stream_left_half_read_lets_go_of_its_source() -> None:
    read = []

    def produce() -> Iterator[pa.RecordBatch]:
        for batch in _batches(1000):
            read.append(batch)
            yield batch

    ahead = _ReadAhead(pa.RecordBatchReader.from_batches(pa.schema({"i": pa.int64()}),
                                                         produce()), depth=2)
    assert ahead.reader.read_next_batch().column("i").to_pylist() == [0, 0]
    ahead.close()  # returns: the thread stopped, a few batches ahead at most
    assert len(read) <= 5
    assert not any(t.name == "segwise-sqlite-read" for t in threading.enumerate())


def test_an_error_while_reading_ahead_reaches_the_reader() -> None:
    def produce() -> Iterator[pa.RecordBatch]:
        yield from _batches(3)
        raise ValueError("type mismatch in column 2")

    ahead = _ReadAhead(pa.RecordBatchReader.from_batches(pa.schema({"i": pa.int64()}),
                                                         produce()))
    with pytest.raises(Exception, match="type mismatch"):
        ahead.reader.read_all()
    ahead.close()


def test_only_the_roles_used_are_read_parsed_and_checked(tmp_path: Path) -> None:
    path = _log(tmp_path / "log.sqlite")
    with sqlite3.connect(path) as con:
        con.execute("UPDATE SearchStream SET IsClick = 'oops' WHERE rowid = 5")
        con.execute("UPDATE SearchInfo SET SearchDate = 'never' WHERE SearchID = 4")
    every = load_source(path, "events", read=LENIENT)
    assert sorted(every.quarantine["reason"]) == ["IsClick: not a yes/no flag",
                                                  "SearchDate: not a timestamp"]
    used = load_source(path, "events", read=LENIENT, uses={"search_id", "category"})
    # The required roles are read anyway: the bad date is still quarantined.
    assert set(used.roles) == {"user_id", "timestamp", "search_id", "category"}
    assert used.quarantine["reason"].tolist() == ["SearchDate: not a timestamp"]
    assert list(used.quarantine.columns) == ["row", "reason", "UserID", "SearchDate",
                                             "SearchID", "CategoryID"]
    assert used.n_input == every.n_input == 6
    kept = used.table.to_pandas()
    assert len(kept) == 5 and kept["object_id"].isna().all()
    assert not kept["is_click"].any()  # no click flag read: no clicks
    # A [columns] entry is checked whether or not it is used.
    with pytest.raises(ConfigError, match="no such column"):
        load_source(path, "events", read=LENIENT, uses={"search_id"},
                    columns={"object_id": "AdId"})


def test_a_stream_read_after_it_was_closed_ends() -> None:
    source = pa.RecordBatchReader.from_batches(pa.schema({"i": pa.int64()}), _batches(100))
    ahead = _ReadAhead(source, depth=1)
    ahead.close()
    assert ahead.reader.read_all().num_rows <= 4  # at most what was read ahead; no hang


def test_a_database_larger_than_memory_is_stored_compressed_on_disk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from segwise import _engine
    from segwise.io import _readers

    path = _log(tmp_path / "log.sqlite", orphan=True)
    backend = _engine.duckdb_connection("2GiB")
    assert _engine.row_store(backend, 2**30) is None
    assert _engine.row_store(backend, 2**30 + 1) == ("segwise_rows", "main")
    in_memory = load_source(path, "events", read=LENIENT)
    # As if the file were larger than the memory limit: the same rows, stored on disk.
    monkeypatch.setattr(_readers, "row_store",
                        lambda duck, size: _engine.row_store(duck, 10**15))
    on_disk = load_source(path, "events", read=LENIENT)
    con = on_disk.backend.con
    (folder,) = {Path(f).parent for (f,) in con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = 'segwise_rows'").fetchall()}
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = "
                       "'segwise_rows'").fetchall() == [(1,)]
    key = ["user_id", "ts", "object_id"]
    pd.testing.assert_frame_equal(on_disk.table.order_by(key).to_pandas(),
                                  in_memory.table.order_by(key).to_pandas())
    pd.testing.assert_frame_equal(on_disk.quarantine, in_memory.quarantine)
    assert on_disk.n_input == in_memory.n_input == 7
    assert folder.is_dir()
    del on_disk, con
    gc.collect()
    assert not folder.exists()


@pytest.mark.parametrize("suffix", [".sqlite", ".duckdb"])
def test_a_log_whose_trackers_write_times_differently_reads_every_time(
        tmp_path: Path, suffix: str) -> None:
    # One searches table written by several trackers: ISO 8601 with a blank or a T,
    # fractions, a zone (read as UTC), epoch seconds and milliseconds and a Julian day
    # (SQLite's julianday()) stored as numbers. Each is one instant; none may be
    # quarantined for its layout. A date alone (no time: an event at midnight would be
    # invented) and a day-first date are still refused.
    dates: list[Any] = ["2015-05-01 10:00:00", "2015-05-01T10:00:00Z",
                        "2015-05-01T12:00:00.000+02:00", "2015-05-01 05:00-0500",
                        1430474400, 1430474400000, 2457143.9166666665,
                        "2015-05-01", "01.05.2015 10:00"]
    dates += ["2015-05-02 11:00:00"] * 12  # the majority layout
    if suffix == ".duckdb":  # a DuckDB column has one type: the numbers as text
        dates = [str(d) for d in dates]
    path = _searches(tmp_path / f"log{suffix}", dates)
    source = load_source(path, "events", read=LENIENT)
    assert source.n_input == 21 and source.n_quarantined == 2
    assert source.quarantine["row"].tolist() == [8, 9]
    assert set(source.quarantine["reason"]) == {"SearchDate: not a timestamp"}
    t = source.table
    times = t.order_by(t.search_id.cast("int64")).ts.execute().tolist()
    assert times[:7] == [pd.Timestamp("2015-05-01 10:00")] * 7


def test_a_column_of_zoned_iso_times_is_read_as_utc(tmp_path: Path) -> None:
    # Every value has a zone: no strptime layout reads one, which once refused the column.
    stamps = pd.date_range("2015-05-01 23:30", periods=30, freq="7min", tz="Europe/Moscow")
    path = _searches(tmp_path / "log.sqlite", [t.isoformat() for t in stamps])
    source = load_source(path, "events", read=RELATION)
    assert source.n_quarantined == 0
    t = source.table
    got = t.order_by(t.search_id.cast("int64")).ts.execute().tolist()
    assert got == list(stamps.tz_convert("UTC").tz_localize(None))


@pytest.mark.parametrize("suffix", [".sqlite", ".duckdb", ".csv"])
def test_times_some_zoned_and_some_not_are_counted_in_a_warning(tmp_path: Path,
                                                                suffix: str) -> None:
    # An exporter that changed: 40 searches at Moscow times with their offset, 60 without.
    # The zoned ones were converted to UTC and the others read as UTC too, three hours
    # apart, without a word.
    stamps = pd.date_range("2015-05-01 09:00", periods=100, freq="17min", tz="Europe/Moscow")
    dates = [t.isoformat() for t in stamps[:40]] + [
        t.strftime("%Y-%m-%d %H:%M:%S") for t in stamps[40:]]
    if suffix == ".csv":
        path = tmp_path / "searches.csv"
        pd.DataFrame({"SearchID": range(100), "UserID": [i % 7 for i in range(100)],
                      "SearchDate": dates}).to_csv(path, index=False)
        read = ReadOptions()
    else:
        path, read = _searches(tmp_path / f"log{suffix}", dates), RELATION
    with pytest.warns(SegwiseWarning) as caught:
        source = load_source(path, "events", read=read)
    said = [str(w.message) for w in caught if "zone" in str(w.message)]
    assert said == [
        f"{path}: column SearchDate: 40 times have a zone (such as "
        f"'{dates[0]}') and 60 have none (such as '{dates[40]}'); those with one are "
        "converted to UTC and those without are read as if they were UTC, so the two kinds "
        "may be hours apart. Fix: export every time with its zone (or every time in one zone, "
        "without it)"], said
    assert source.n_quarantined == 0
    # One kind alone, zoned or not, is no mixture: nothing said.
    with warnings.catch_warnings():
        warnings.simplefilter("error", SegwiseWarning)
        for kind in (dates[:40], dates[40:]):
            load_source(_searches(tmp_path / f"one{len(kind)}.sqlite", kind), "events",
                        read=RELATION)


@pytest.mark.slow
@pytest.mark.spark
def test_spark_says_times_some_zoned_and_some_not_as_duckdb_does(spark_available: None,
                                                                  tmp_path: Path) -> None:
    # Spark reads SQLite through JDBC and parses times where they lie, without the layout
    # detection that saw the mixture: it read both kinds as DuckDB does and said nothing.
    stamps = pd.date_range("2015-05-01 09:00", periods=100, freq="17min", tz="Europe/Moscow")
    dates = [t.isoformat() for t in stamps[:40]] + [
        t.strftime("%Y-%m-%d %H:%M:%S") for t in stamps[40:]]
    path = _searches(tmp_path / "log.sqlite", dates)
    got = {}
    for engine in ("duckdb", "spark"):
        with pytest.warns(SegwiseWarning) as caught:
            source = load_source(path, "events", read=RELATION, engine=engine)
        said = [str(w.message) for w in caught if "zone" in str(w.message)]
        assert len(said) == 1 and re.match(
            rf"{re.escape(str(path))}: column SearchDate: 40 times have a zone \(such as "
            r"'2015-05-01T\d\d:\d\d:00\+03:00'\) and 60 have none \(such as '2015-05-0\d "
            r"\d\d:\d\d:00'\); those with one are converted to UTC and those without are "
            "read as if they were UTC", said[0]), said
        t = source.table
        got[engine] = t.order_by(t.search_id.cast("int64")).ts.execute().tolist()
    assert got["spark"] == got["duckdb"]


def test_a_database_or_parquet_file_is_read_by_its_content_not_its_suffix(
        tmp_path: Path) -> None:
    # A SQLite database named .duckdb made DuckDB try to download its SQLite extension; a
    # DuckDB database named .db (a common name) was read as SQLite; Parquet named .csv
    # was parsed as text.
    sqlite_log = _log(tmp_path / "log.sqlite")
    as_duckdb = tmp_path / "log.duckdb"
    as_duckdb.write_bytes(sqlite_log.read_bytes())
    source = load_source(as_duckdb, "events", read=RELATION)
    assert source.n_input == 6 and source.n_quarantined == 0
    frame = load_source(sqlite_log, "events", read=RELATION).table.to_pandas()
    duck = tmp_path / "events.db"
    with duckdb.connect(str(duck)) as con:
        con.register("frame", frame)
        con.execute("CREATE TABLE events AS SELECT * FROM frame")
    assert load_source(duck, "events").n_input == 6
    parquet = tmp_path / "events.csv"
    frame.to_parquet(parquet)
    assert load_source(parquet, "events").n_input == 6
