"""The results database on DuckDB and on a real PostgreSQL server: what goes in comes out."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from segwise.exceptions import ConfigError, NotFoundError, SegwiseError
from segwise.features import EntityTable, Feature, FeatureSet
from segwise.store import NOT_IN_RUN, RunRecord, SegmentLabels, Store, store_url

from ..conftest import FORMULA_ID, SCRIPT_ID


def _ids(record: Any) -> list[str]:
    ent = record.entities
    return [str(v) for v in ent.table.column(ent.id_col).to_pylist()]


def test_a_run_round_trips(store_target: str, hostile_record: Any) -> None:
    store = Store(store_target)
    run_id = store.write_run(hostile_record)
    ent = hostile_record.entities
    run = store.run(run_id)
    assert run["command"] == "etl" and run["kind"] == "orders" and run["feature_set"] == "rfm"
    assert run["n_entities"] == ent.n_entities
    assert run["fingerprint"] == ent.fingerprint and run["fingerprint"].startswith("sha256:")
    assert run["versions"]["segwise"] and run["versions"]["python"]
    assert run["config"]["cleaning"]["cancellations"] == "net"
    assert [r["run_id"] for r in store.runs()] == [run_id]
    assert store.latest_run_id() == run_id
    assert store.segmentations(run_id) == ["rule", "learned"]
    for name in ("rule", "learned"):
        segments = store.segments(run_id, name)
        assert sum(s["size"] for s in segments) == ent.n_entities
        assert sum(s["share"] for s in segments) == pytest.approx(1.0)
        assert sum(s["value_share"] for s in segments) == pytest.approx(1.0)
    # Every customer, once, and their columns as written.
    page = store.members(run_id, limit=1000)
    assert page["total"] == ent.n_entities
    assert page["columns"] == ["entity_id", *[c for c in ent.table.column_names
                                              if c != ent.id_col]]
    assert set(_ids(hostile_record)) >= {SCRIPT_ID, FORMULA_ID}
    one = store.entity(run_id, SCRIPT_ID)
    row = ent.table.filter(pa.compute.equal(ent.table.column(ent.id_col), SCRIPT_ID)).to_pylist()[0]
    assert one["values"]["monetary"] == pytest.approx(row["monetary"])
    assert one["segments"]["rule"] == row["segment"]
    # P(alive) is left out of a fit on a boundary (near 1 for everyone), and said why.
    [card] = [m.card for m in hostile_record.models if m.name == "clv"]
    # The card says the calibration period in words and ISO dates, not as a Python repr.
    assert dt.date.fromisoformat(card["calibration_end"]) and card["time_unit"] == "weeks"
    assert not any("Period(" in str(v) or "datetime." in str(v) for v in card.values())
    alive = set() if card["degenerate"] else {"p_alive"}
    assert set(one["measures"]) == {"clv", "expected_purchases", *alive}
    # The audit reconciles to the input, and the quarantined line is kept with its text.
    audit = store.audit(run_id)
    assert sum(s["rows"] for s in audit) == 20_004
    quarantine = store.quarantine(run_id)
    assert quarantine["total"] == 1
    assert "<script>" in quarantine["rows"][0]["raw"]["Description"]
    kinds = {m["kind"] for m in store.models(run_id)}
    assert kinds == {"clustering", "clv"}


def test_members_page_sort_and_search_agree_with_the_table(store_target: str,
                                                          hostile_record: Any) -> None:
    store = Store(store_target)
    run_id = store.write_run(hostile_record)
    table = hostile_record.entities.table
    champions = table.filter(pa.compute.equal(table.column("segment"), "Champions"))
    monetary = sorted(champions.column("monetary").to_pylist(), reverse=True)
    pages = [store.members(run_id, "rule", "Champions", sort="monetary", descending=True,
                           offset=o, limit=10) for o in range(0, champions.num_rows, 10)]
    got = [r[pages[0]["columns"].index("monetary")] for p in pages for r in p["rows"]]
    assert pages[0]["total"] == champions.num_rows
    assert got == pytest.approx(monetary)
    hits = store.members(run_id, search="SCRIPT>", limit=50)
    assert [r[0] for r in hits["rows"]] == [SCRIPT_ID]
    # Search text is data, never SQL or a pattern.
    for text in ("%", "' OR 1=1 --", "\\"):
        assert store.members(run_id, search=text, limit=5)["total"] == 0
    assert [r[0] for r in store.members(run_id, search="_", limit=5)["rows"]] == [SCRIPT_ID]
    try:  # PostgreSQL text holds no NUL: a clear error there, no match in DuckDB
        assert store.members(run_id, search="\x00")["total"] == 0
    except ConfigError as exc:
        assert store.url.get_backend_name() == "postgresql" and "NUL" in str(exc)
    with pytest.raises(ConfigError, match="cannot sort"):
        store.members(run_id, sort="monetary; DROP TABLE runs")
    with pytest.raises(ConfigError):
        store.members(run_id, limit=0)


def test_migration_between_runs(store_target: str, hostile_record: Any) -> None:
    store = Store(store_target)
    first = store.write_run(hostile_record)
    # The second run: the same customers but one, and everyone "Champions".
    ent = hostile_record.entities
    dropped = ent.table.slice(1)
    labels = pa.table({"entity_id": dropped.column(ent.id_col).cast(pa.string()),
                       "segment": pa.array(["Champions"] * dropped.num_rows)})
    second = store.write_run(RunRecord(
        command="rfm", entities=ent.with_table(dropped),
        segmentations=[SegmentLabels("rule", labels)]))
    flows = store.migration(first, second)
    assert sum(f["n"] for f in flows) == ent.n_entities
    assert {f["to"] for f in flows} == {"Champions", NOT_IN_RUN}
    assert [f["n"] for f in flows if f["to"] == NOT_IN_RUN] == [1]
    history = store.entity_history(str(ent.table.column(ent.id_col)[1]))
    assert [h["run_id"] for h in history if h["segmentation"] == "rule"] == [first, second]
    with pytest.raises(NotFoundError):
        store.migration(first, "no-such-run")


def test_runs_of_two_kinds_are_named_by_their_entities_and_kind(store_target: str,
                                                                hostile_record: Any) -> None:
    # A people run was said to hold "people of people", a mobility run "users of pings".
    from segwise.features.pings import MOBILITY
    from segwise.features.rfe import RFE_FEATURES
    from segwise.features.rfm import RFM_FEATURES
    from segwise.store._db import held

    ids = _ids(hostile_record)[:20]
    table = pa.table({"person_id": ids, "age": list(range(20))})
    people = FeatureSet(name="test_people", kind="people", entity="person", plural="people",
                        id_col="person_id",  # as the population job declares them
                        features=(Feature("age", "integer", "years", cluster=True),))
    assert [held({"kind": f.kind, "entities": f.entities})
            for f in (RFM_FEATURES, RFE_FEATURES, people, MOBILITY)] == [
        "customers from orders", "users from events", "people", "users from pings"]
    store = Store(store_target)
    first = store.write_run(hostile_record)
    second = store.write_run(RunRecord(
        command="population", entities=EntityTable(table, people), segmentations=[
            SegmentLabels("rule", pa.table({"entity_id": ids, "segment": ["a"] * 20}))]))
    with pytest.raises(ConfigError, match=rf"^run {first} holds customers from orders and "
                       rf"run {second} people: a migration"):
        store.check_comparable(first, second)


def test_delete_run_removes_every_row(store_target: str, hostile_record: Any) -> None:
    store = Store(store_target)
    keep = store.write_run(hostile_record)
    gone = store.write_run(hostile_record)
    store.delete_run(gone)
    assert [r["run_id"] for r in store.runs()] == [keep]
    with pytest.raises(NotFoundError):
        store.entity(gone, SCRIPT_ID)
    assert store.members(keep, limit=1)["total"] == hostile_record.entities.n_entities
    with pytest.raises(NotFoundError):
        store.delete_run(gone)


def test_a_failed_run_leaves_nothing(store_target: str, hostile_record: Any) -> None:
    store = Store(store_target)
    keep = store.write_run(hostile_record)
    bad = SegmentLabels("rule", pa.table({"entity_id": ["a"], "segment": ["x"]}),
                        summary=pa.table({"segment": ["x"]}))  # no size: fails mid-write
    record = RunRecord(command="rfm", entities=hostile_record.entities, segmentations=[bad])
    with pytest.raises(KeyError):
        store.write_run(record)
    assert [r["run_id"] for r in store.runs()] == [keep]
    assert store.members(keep, limit=1)["total"] == hostile_record.entities.n_entities


def test_an_entity_table_with_a_repeated_id_is_refused_whole(store_target: str) -> None:
    # The table's key broke mid-transaction: DuckDB said only "Current transaction is
    # aborted (please ROLLBACK)", PostgreSQL a raw UniqueViolation.
    from segwise.exceptions import InputError

    schema = FeatureSet(name="visits", kind="test", entity="visitor", id_col="visitor",
                        features=(Feature("visits", "integer", "visits", "Visits."),))
    table = pa.table({"visitor": ["ü-1", "b", "ü-1"], "visits": [3, 1, 4]})
    store = Store(store_target)
    with pytest.raises(InputError, match="visitor 'ü-1' appears on several rows"):
        store.write_run(RunRecord(command="x", entities=EntityTable(table, schema)))
    assert store.runs() == []


# A writer killed in the middle of a run: the test runs it in another process and kills it
# (SIGKILL, nothing cleans up) after its first table went in.
_WRITER = textwrap.dedent("""
    import os, pickle, sys, time
    from segwise.store import Store
    from segwise.store import _db

    target, record_file, signal_file = sys.argv[1:]
    record = pickle.load(open(record_file, "rb"))
    store = Store(target)
    original = _db.Store._insert

    def slow_insert(self, conn, name, table):
        original(self, conn, name, table)
        with open(signal_file + ".part", "w") as fh:  # whole, or not there at all
            fh.write(name)
        os.replace(signal_file + ".part", signal_file)
        time.sleep(600)

    _db.Store._insert = slow_insert
    store.write_run(record)
""")


def test_a_killed_run_leaves_the_previous_runs_intact(store_target: str, hostile_record: Any,
                                                      tmp_path: Path) -> None:
    import pickle

    store = Store(store_target)
    keep = store.write_run(hostile_record)
    before = {name: store.members(keep, limit=1)["total"] for name in ("all",)}
    store.close()
    record_file = tmp_path / "record.pkl"
    record_file.write_bytes(pickle.dumps(hostile_record))
    signal_file = tmp_path / "inserted"
    writer = [sys.executable, "-c", _WRITER, store_target, str(record_file), str(signal_file)]
    proc = subprocess.Popen(writer, env={**os.environ})  # noqa: S603 - our own script
    try:
        deadline = time.monotonic() + 120
        while not signal_file.exists():
            assert proc.poll() is None, "the writer ended before it wrote anything"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert signal_file.read_text() == "entities_rfm"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    store = Store(store_target)
    assert [r["run_id"] for r in store.runs()] == [keep]
    assert {"all": store.members(keep, limit=1)["total"]} == before
    # No row of the killed run anywhere: every table holds exactly the kept run's rows.
    assert store.members(keep, limit=1)["total"] == hostile_record.entities.n_entities
    run_ids = {r["run_id"] for r in store.runs()}
    assert run_ids == {keep}
    again = store.write_run(hostile_record)
    assert len(store.runs()) == 2 and again != keep


USERS = FeatureSet(
    name="test_users", kind="events", entity="user", id_col="user_id",
    features=(Feature("sessions", "integer", "sessions", cluster=True),
              Feature("minutes", "number", "minutes", cluster=True),
              Feature("country", "text")),
    value_col="minutes",
)


def test_any_kind_of_entity_table_is_stored(store_target: str) -> None:
    rng = np.random.default_rng(0)
    n = 300
    table = pa.table({
        "user_id": [f"u{i:04d}" for i in range(n)],
        "sessions": rng.poisson(5, n).astype("int64"),
        "minutes": rng.gamma(2.0, 30.0, n),
        "country": rng.choice(["DE", "FR"], n),
    })
    users = EntityTable(table, USERS, as_of=dt.date(2024, 1, 31), source="events.parquet")
    segments = np.where(table.column("sessions").to_numpy() > 5, "busy", "quiet")
    labels = pa.table({"entity_id": table.column("user_id"), "segment": segments})
    store = Store(store_target)
    run_id = store.write_run(RunRecord(command="sessions", entities=users,
                                       segmentations=[SegmentLabels("rule", labels)]))
    run = store.run(run_id)
    assert (run["kind"], run["entity"], run["entities"]) == ("events", "user", "users")
    assert {c["name"]: c["role"] for c in store.columns(run_id)} == {
        "entity_id": "id", "sessions": "feature", "minutes": "value", "country": "feature"}
    busy = store.members(run_id, "rule", "busy", sort="minutes", descending=True, limit=1000)
    assert busy["total"] == int((segments == "busy").sum())
    # Labels stored without a summary: the segments are counted from them, largest first
    # (the segmentation was listed, and then "run X has no segmentation 'rule'; it has rule").
    counted = store.segments(run_id, "rule")
    sizes = {s: int((segments == s).sum()) for s in ("busy", "quiet")}
    assert [(s["segment"], s["size"]) for s in counted] == sorted(
        sizes.items(), key=lambda kv: -kv[1])
    assert sum(s["share"] for s in counted) == pytest.approx(1.0)
    assert store.segment(run_id, "rule", "quiet")["size"] == sizes["quiet"]
    top = max(m for m, s in zip(table.column("minutes").to_pylist(), segments, strict=True)
              if s == "busy")
    assert busy["rows"][0][busy["columns"].index("minutes")] == pytest.approx(top)
    assert store.entity(run_id, "u0007")["values"]["country"] in ("DE", "FR")


def test_a_duckdb_file_held_open_is_not_blamed_on_a_url(tmp_path: Path) -> None:
    # `segwise rfm shop.duckdb --store shop.duckdb`: the source database, attached for
    # reading, could not be opened as the store, and the fix was a PostgreSQL one.
    import duckdb

    path = tmp_path / "shop.duckdb"
    Store(path).close()
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{path}' AS segwise_src (READ_ONLY)")
        with pytest.raises(SegwiseError) as caught:
            Store(path, busy_timeout=0.1)
    said = str(caught.value)
    assert said.startswith(f"{path}: ") and "already attached" in said
    assert "Fix: use a store file this run does not read or hold open already" in said
    assert "URL" not in said


def test_writers_meeting_a_fresh_postgresql_store_at_once_all_write(
        postgres_url: str, hostile_record: Any) -> None:
    # Several processes writing their first run into a new database (the case a
    # PostgreSQL store is for) raced to create the same tables: all but one failed on
    # PostgreSQL's catalog (a raw UniqueViolation on pg_type), their runs lost.
    import threading

    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def write() -> None:
        try:
            start.wait()
            Store(postgres_url).write_run(hostile_record)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write) for _ in range(4)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    assert errors == []
    store = Store(postgres_url)
    runs = store.runs()
    assert len(runs) == 4
    assert {store.members(r["run_id"], limit=1)["total"] for r in runs} == {
        hostile_record.entities.n_entities}


def test_a_server_lost_mid_run_keeps_nothing_and_says_so(
        postgres_url: str, hostile_record: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The server dropped the connection in the middle of a run (restarted, or the
    # connection killed): a raw OperationalError, a traceback. Now one line, the store's
    # 503 in the dashboard, and no part of the run.
    import sqlalchemy as sa

    from segwise.store import StoreBusyError, _db

    store = Store(postgres_url)
    keep = store.write_run(hostile_record)
    original = _db.Store._insert

    def insert_then_lose(self: Any, conn: Any, name: str, table: Any) -> None:
        original(self, conn, name, table)
        conn.execute(sa.text("SELECT pg_terminate_backend(pg_backend_pid())"))

    monkeypatch.setattr(_db.Store, "_insert", insert_then_lose)
    with pytest.raises(StoreBusyError) as caught:
        store.write_run(hostile_record)
    said = str(caught.value)
    assert said.startswith(f"{store.display_url}: the connection to the server was lost (")
    assert "nothing of this transaction was kept. Fix: check that the server is up" in said
    monkeypatch.undo()
    assert [r["run_id"] for r in store.runs()] == [keep]
    # A server that cannot be reached is the same kind of error (the dashboard's 503).
    store.engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/x")
    with pytest.raises(StoreBusyError, match="Fix: check the URL"):
        store.runs()


def test_store_urls() -> None:
    assert store_url("postgresql://u:p@h/db").drivername == "postgresql+psycopg"
    assert store_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert str(store_url("x/y.duckdb")).startswith("duckdb:///")
    for bad in ("mysql://h/db", "results.parquet"):
        with pytest.raises(ConfigError, match="duckdb file or a postgresql"):
            store_url(bad)


def test_the_password_never_shows(postgres_server: str) -> None:
    url = postgres_server.replace("segwise@", "segwise:s3cret@") + "/postgres"
    assert "s3cret" not in Store(url).display_url
