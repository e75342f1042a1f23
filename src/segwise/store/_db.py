"""The results database: runs written in one transaction, read back by the dashboard and API.

One layer, SQLAlchemy Core, talks to both databases: DuckDB (a file, the default, through
the ``duckdb_engine`` dialect) and PostgreSQL (a URL, through psycopg 3). Every statement is
built by SQLAlchemy with bound parameters; the only identifiers written into SQL are table
and column names, quoted by the dialect. A run is written inside one transaction: a run that
fails or is killed half-way leaves nothing behind, and the earlier runs stay as they were.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from segwise.exceptions import ConfigError, NotFoundError, SegwiseError
from segwise.store._files import check_duckdb_file
from segwise.store._record import RunRecord, SegmentLabels, versions
from segwise.store._schema import (
    AUDIT,
    AUDIT_VALUES,
    ENTITY_COLUMNS,
    ENTITY_VALUES,
    MEMBERSHIPS,
    METADATA,
    MODELS,
    QUARANTINE,
    RUN_TABLES,
    RUNS,
    SCHEMA_VERSION,
    SEGMENT_PROFILES,
    SEGMENTS,
    STORE_INFO,
    arrow_column_type,
    entity_table_name,
)

__all__ = ["NOT_IN_RUN", "Store", "StoreBusyError", "open_store", "store_url"]

#: The segment shown for an entity absent from one of two compared runs.
NOT_IN_RUN = "(not in run)"
#: Rows per INSERT batch outside DuckDB.
_BATCH = 5000
#: PostgreSQL advisory lock held while a transaction creates or alters the store's tables:
#: writers that first meet a fresh store (or a new feature set) at once raced to create
#: the same table, and all but one failed on PostgreSQL's catalog.
_SCHEMA_LOCK = 0x5E6_715E
#: Runs in the order they ran: by start, then by end (runs of one record share a start).
_OLDEST_FIRST = (RUNS.c.started_at, RUNS.c.finished_at, RUNS.c.run_id)
_NEWEST_FIRST = tuple(c.desc() for c in _OLDEST_FIRST)
#: Most rows one page of members may ask for.
MAX_PAGE = 1000


class StoreBusyError(SegwiseError):
    """The store cannot answer now, and may shortly (the server's 503).

    A DuckDB file held by another process (one writer at a time), or a database server
    that cannot be reached or dropped the connection.
    """


def store_url(target: str | Path) -> sa.URL:
    """Return the SQLAlchemy URL of a store: a ``.duckdb`` file or a ``postgresql://`` URL.

    Raises
    ------
    ConfigError
        For anything else.
    """
    text = str(target)
    if text.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        url = sa.make_url(text.replace("postgres://", "postgresql://", 1))
        return url.set(drivername="postgresql+psycopg")
    if text.startswith("duckdb:///"):
        return sa.make_url(text)
    if "://" in text:
        raise ConfigError(f"store {text.split('://')[0]}://...: a store is a .duckdb file or a "
                          "postgresql:// URL")
    path = Path(text)
    if path.suffix.lower() not in (".duckdb", ".db"):
        raise ConfigError(f"store {text}: a store is a .duckdb file or a postgresql:// URL, "
                          f"not {path.suffix or 'a file without a suffix'}. Fix: end the name "
                          "in .duckdb")
    return sa.make_url(f"duckdb:///{path.resolve()}")


def _new_run_id(started: dt.datetime) -> str:
    """Sortable and unique: start time to the second and 6 random hex digits."""
    return f"{started:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def _plain(value: Any) -> Any:
    """Return a JSON-ready value: NaN and infinities become None, dates ISO text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _json_ready(value: Any) -> Any:
    """Nested lists and dicts with every value made :func:`_plain`."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return _plain(value)


def _row(mapping: Any) -> dict[str, Any]:
    return {k: _plain(v) for k, v in dict(mapping).items()}


def _portable(table: pa.Table) -> pa.Table:
    """Cast columns both databases take: decimals to float, anything unusual to text."""
    import pyarrow.compute as pc

    cols = []
    for col in table.columns:
        kind = col.type
        if pa.types.is_decimal(kind):
            col = pc.cast(col, pa.float64())
        elif pa.types.is_dictionary(kind):
            col = pc.cast(col, kind.value_type)
        if isinstance(arrow_column_type(col.type), sa.Text) and not (
                pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            col = pc.cast(col, pa.string())
        cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names)


def _with_run(run_id: str, table: pa.Table) -> pa.Table:
    return table.add_column(0, "run_id", pa.array([run_id] * table.num_rows, pa.string()))


class Store:
    """A results database: DuckDB file or PostgreSQL server.

    Parameters
    ----------
    target : str or Path
        A ``.duckdb`` file (created if missing) or a ``postgresql://user:pass@host/db``
        URL.
    busy_timeout : float, default=10
        Seconds to wait for a DuckDB file another process holds.
    create : bool, default=True
        Create the store where there is none. Without, only an existing store is opened
        (what a reader such as the dashboard wants: a typo in its path, or a database of
        other tables, is refused rather than given a store's tables).

    Raises
    ------
    NotFoundError
        If ``create`` is False and there is no DuckDB file at ``target``.
    ConfigError
        If ``create`` is False and the database holds no store, or the store's schema
        version is not this segwise's.

    Examples
    --------
    >>> store = Store("segwise.duckdb")            # doctest: +SKIP
    >>> run_id = store.write_run(record)           # doctest: +SKIP
    >>> store.segments(run_id, "rule")             # doctest: +SKIP
    """

    def __init__(self, target: str | Path, *, busy_timeout: float = 10.0,
                 create: bool = True) -> None:
        self.url = store_url(target)
        self.busy_timeout = busy_timeout
        self.is_duckdb = self.url.get_backend_name() == "duckdb"
        if self.is_duckdb:
            path = Path(str(self.url.database))
            if not create and not path.is_file():
                raise NotFoundError(
                    f"{path}: no store there. Fix: check the path, or write a run into it "
                    "first (segwise etl project.toml, or --store on a command)")
            check_duckdb_file(path)
            path.parent.mkdir(parents=True, exist_ok=True)
        # DuckDB: one process may hold a file; connect per use so others can take turns.
        pool: dict[str, Any] = ({"poolclass": sa.pool.NullPool} if self.is_duckdb
                                else {"pool_pre_ping": True})
        self.engine = sa.create_engine(self.url, **pool)
        with self._begin() as conn:
            tables = sa.table("tables", sa.column("table_name"), sa.column("table_schema"),
                              schema="information_schema")
            present = set(conn.execute(sa.select(tables.c.table_name).where(
                tables.c.table_schema == sa.func.current_schema())).scalars())
            if not set(METADATA.tables) <= present and self._lock_schema(conn):
                present = set(conn.execute(sa.select(tables.c.table_name).where(
                    tables.c.table_schema == sa.func.current_schema())).scalars())
            if not create and STORE_INFO.name not in present:
                raise ConfigError(
                    f"{self.display_url}: holds no segwise store (no {STORE_INFO.name} "
                    "table). Fix: give the store that segwise etl or --store wrote")
            if not set(METADATA.tables) <= present:
                METADATA.create_all(conn, checkfirst=True)
            found = conn.execute(sa.select(STORE_INFO.c.value).where(
                STORE_INFO.c.key == "schema_version")).scalar()
            if found is None:
                conn.execute(STORE_INFO.insert().values(key="schema_version",
                                                        value=str(SCHEMA_VERSION)))
            elif int(found) != SCHEMA_VERSION:
                raise ConfigError(f"{self.display_url}: store schema version {found}, this "
                                  f"segwise uses {SCHEMA_VERSION}. Fix: use a new store")

    @property
    def display_url(self) -> str:
        """The store's URL with any password hidden."""
        if self.is_duckdb:
            return str(self.url.database)
        return self.url.render_as_string(hide_password=True).replace("+psycopg", "")

    def close(self) -> None:
        """Release the store's connections."""
        self.engine.dispose()

    # ------------------------------------------------------------------ connections

    @contextlib.contextmanager
    def _retry(self, opener: Any) -> Iterator[sa.Connection]:
        """Open a connection, waiting while another process holds a DuckDB file."""
        deadline = time.monotonic() + self.busy_timeout
        with contextlib.ExitStack() as stack:
            while True:
                try:
                    conn = stack.enter_context(opener())
                    break
                except sa.exc.DBAPIError as exc:
                    if not (self.is_duckdb and "lock" in str(exc).lower()):
                        # One line: the server's message spans several.
                        said = " ".join(str(exc.orig).split())
                        if not isinstance(exc, sa.exc.OperationalError):
                            raise SegwiseError(f"{self.display_url}: {said}") from exc
                        said += "" if said.endswith(("?", ".")) else "."
                        if self.is_duckdb:
                            raise SegwiseError(
                                f"{self.display_url}: {said} Fix: use a store file this run "
                                "does not read or hold open already (the source database "
                                "is no store)") from exc
                        # A server that is down or refuses: the dashboard's 503, not 422.
                        raise StoreBusyError(
                            f"{self.display_url}: {said} Fix: check the URL (host, port, "
                            "user, password, database) and that the server accepts "
                            "connections") from exc
                    if time.monotonic() > deadline:
                        raise StoreBusyError(
                            f"{self.display_url}: the DuckDB file is in use by another "
                            "process. Fix: try again when it has finished, or use PostgreSQL "
                            "for a store that several processes use at once") from exc
                    time.sleep(0.05)
            try:
                yield conn
            except sa.exc.DataError as exc:
                # A value the database cannot hold (PostgreSQL text has no NUL character).
                raise ConfigError(f"{self.display_url}: a value cannot be used: "
                                  f"{exc.orig}") from exc
            except sa.exc.OperationalError as exc:
                if self.is_duckdb:
                    raise
                # The server went away mid-statement (restarted, the connection killed):
                # the transaction is lost whole; it was a traceback, or a 500.
                raise StoreBusyError(
                    f"{self.display_url}: the connection to the server was lost ("
                    f"{' '.join(str(exc.orig).split())}); nothing of this transaction was "
                    "kept. Fix: check that the server is up, and try again") from exc

    def _lock_schema(self, conn: sa.Connection) -> bool:
        """Hold the schema lock until the transaction ends; True if one was waited for.

        PostgreSQL only: a DuckDB file has one writer at a time already. What was read
        before must be read again once it is held (another writer may have committed).
        """
        if self.is_duckdb:
            return False
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        return True

    def _begin(self) -> contextlib.AbstractContextManager[sa.Connection]:
        """Open a connection in one transaction: committed at the end, rolled back on error."""
        return self._retry(self.engine.begin)

    def _connect(self) -> contextlib.AbstractContextManager[sa.Connection]:
        return self._retry(self.engine.connect)

    # ------------------------------------------------------------------ writing

    def write_run(self, record: RunRecord) -> str:
        """Write a run: all its tables in one transaction.

        Parameters
        ----------
        record : RunRecord
            What the run produced.

        Returns
        -------
        str
            The new run's id.

        Raises
        ------
        InputError
            If an entity id is missing or repeated (nothing is written).
        """
        run_id = _new_run_id(record.started_at)
        ent = record.entities
        schema = ent.schema if ent is not None else None
        if ent is not None:
            # A repeated id broke the table's key mid-transaction: DuckDB said only
            # "Current transaction is aborted", PostgreSQL a raw UniqueViolation.
            ent.check_unique_ids()
        with self._begin() as conn:
            if ent is not None and schema is not None:
                self._write_entities(conn, run_id, ent)
                if ent.audit_table is not None:
                    self._write_audit(conn, run_id, ent.audit_table)
                if ent.quarantine_table is not None:
                    self._write_quarantine(conn, run_id, ent.quarantine_table)
            for seg in record.segmentations:
                self._write_segmentation(conn, run_id, seg)
            if record.values is not None and record.values.num_rows:
                values = record.values.select(["entity_id", "measure", "value"])
                self._insert(conn, ENTITY_VALUES.name, _with_run(run_id, _portable(values)))
            for card in record.models:
                conn.execute(MODELS.insert().values(
                    run_id=run_id, name=card.name, kind=card.kind,
                    card=json.dumps(card.card, default=str), artifact=card.artifact))
            conn.execute(RUNS.insert().values(
                run_id=run_id,
                started_at=record.started_at,
                finished_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                command=record.command,
                job=record.job,
                kind=schema.kind if schema else None,
                feature_set=schema.name if schema else None,
                entity=schema.entity if schema else None,
                entities=schema.entities if schema else None,
                id_col=schema.id_col if schema else None,
                value_col=schema.value_col if schema else None,
                source=ent.source if ent is not None else record.source,
                fingerprint=ent.fingerprint if ent is not None else record.fingerprint,
                as_of=ent.as_of if ent is not None else None,
                n_entities=ent.n_entities if ent is not None else None,
                config=json.dumps(record.config, default=str, sort_keys=True),
                versions=json.dumps(versions(), sort_keys=True),
            ))
        return run_id

    def _insert(self, conn: sa.Connection, name: str, table: pa.Table) -> None:
        """Append an Arrow table's rows to table ``name`` (same column names)."""
        if not table.num_rows:
            return
        q = conn.dialect.identifier_preparer.quote
        if self.is_duckdb:
            # DuckDB reads the Arrow table directly, inside the same transaction.
            raw = conn.connection.driver_connection
            raw.register("_segwise_rows", table)  # type: ignore[union-attr]
            cols = ", ".join(q(c) for c in table.column_names)
            try:
                raw.execute(  # type: ignore[union-attr]
                    f"INSERT INTO {q(name)} ({cols}) SELECT {cols} FROM _segwise_rows")  # noqa: S608 - quoted identifiers
            finally:
                raw.unregister("_segwise_rows")  # type: ignore[union-attr]
            return
        target = sa.table(name, *(sa.column(c) for c in table.column_names))
        for batch in table.to_batches(_BATCH):
            conn.execute(target.insert(), batch.to_pylist())

    def _write_entities(self, conn: sa.Connection, run_id: str, ent: Any) -> None:
        schema = ent.schema
        name = entity_table_name(schema.name)
        table = _portable(ent.table)
        ids = table.column(schema.id_col).cast(pa.string())
        rest = [c for c in table.column_names if c != schema.id_col]
        clash = {"run_id", "entity_id"} & set(rest)
        if clash:
            raise ConfigError(f"the {schema.name} table has column(s) {', '.join(clash)}, "
                              "which the store reserves")
        table = pa.Table.from_arrays([ids, *(table.column(c) for c in rest)],
                                     names=["entity_id", *rest])
        self._ensure_entity_table(conn, name, table.schema)
        self._insert(conn, name, _with_run(run_id, table))
        features = {f.name: f for f in schema.features}
        rows = []
        for i, col in enumerate(table.column_names):
            f = features.get(col)
            role = ("id" if col == "entity_id" else "segment" if col == schema.segment_col
                    else "value" if col == schema.value_col else "feature" if f else "extra")
            rows.append({
                "run_id": run_id, "position": i, "name": col, "role": role,
                "type": f.type if f else _type_family(table.schema.field(col).type),
                "unit": f.unit if f else "", "description": f.description if f else "",
                "cluster": bool(f and f.cluster),
            })
        conn.execute(ENTITY_COLUMNS.insert(), rows)

    def _ensure_entity_table(self, conn: sa.Connection, name: str, schema: pa.Schema) -> None:
        """Create the feature set's table, or add the columns it lacks (earlier runs: NULL)."""
        cols = sa.table("columns", sa.column("table_name"), sa.column("table_schema"),
                        sa.column("column_name"), schema="information_schema")
        query = sa.select(cols.c.column_name).where(
            cols.c.table_name == name, cols.c.table_schema == sa.func.current_schema())
        have = set(conn.execute(query).scalars())
        wanted = {f.name: arrow_column_type(f.type) for f in schema}
        if not {"run_id", *wanted} <= have and self._lock_schema(conn):
            have = set(conn.execute(query).scalars())
        if not have:
            columns = [sa.Column("run_id", sa.String(40), nullable=False),
                       sa.Column("entity_id", sa.Text, nullable=False)]
            columns += [sa.Column(c, t) for c, t in wanted.items() if c != "entity_id"]
            sa.Table(name, sa.MetaData(), *columns,
                     sa.PrimaryKeyConstraint("run_id", "entity_id")).create(conn)
            return
        q = conn.dialect.identifier_preparer.quote
        for col, kind in wanted.items():
            if col not in have:
                ddl = f"ALTER TABLE {q(name)} ADD COLUMN {q(col)} {kind.compile(conn.dialect)}"
                conn.execute(sa.text(ddl))

    def _write_audit(self, conn: sa.Connection, run_id: str, audit: pa.Table) -> None:
        metrics = [c for c in audit.column_names if c not in ("step", "rows", "description")]
        steps, values = [], []
        for i, r in enumerate(audit.to_pylist()):
            steps.append({"run_id": run_id, "position": i, "step": str(r["step"]),
                          "rows": int(r["rows"]), "description": str(r.get("description") or "")})
            values += [{"run_id": run_id, "position": i, "metric": m,
                        "value": None if r[m] is None else float(r[m])} for m in metrics]
        conn.execute(AUDIT.insert(), steps)
        if values:
            conn.execute(AUDIT_VALUES.insert(), values)

    def _write_quarantine(self, conn: sa.Connection, run_id: str, quarantine: pa.Table) -> None:
        if not quarantine.num_rows:
            return
        raw_cols = [c for c in quarantine.column_names if c not in ("row", "reason")]
        rows = quarantine.to_pylist()
        table = pa.table({
            "run_id": [run_id] * len(rows),
            "position": list(range(len(rows))),
            "row": pa.array([r.get("row") for r in rows], pa.int64()),
            "reason": [str(r["reason"]) for r in rows],
            "raw": [json.dumps({c: r[c] for c in raw_cols}, default=str) for r in rows],
        })
        self._insert(conn, QUARANTINE.name, table)

    def _write_segmentation(self, conn: sa.Connection, run_id: str, seg: SegmentLabels) -> None:
        labels = seg.labels.select(["entity_id", "segment"])
        labels = pa.table({"segmentation": [seg.name] * labels.num_rows,
                           "entity_id": labels.column("entity_id").cast(pa.string()),
                           "segment": labels.column("segment").cast(pa.string())})
        self._insert(conn, MEMBERSHIPS.name, _with_run(run_id, labels))
        # Without a summary the segments are counted from the labels, largest first: a
        # segmentation with members but no segments was listed, and then not found.
        summary = seg.summary if seg.summary is not None else _counted(labels)
        if summary.num_rows:
            rows = []
            for i, r in enumerate(summary.to_pylist()):
                rows.append({
                    "run_id": run_id, "segmentation": seg.name, "position": i,
                    "segment": str(r["segment"]), "size": int(r["size"]),
                    "share": float(r["share"]), "value_share": _plain(r.get("value_share")),
                    "action": str(r.get("action") or ""),
                    "description": str(r.get("description") or ""),
                })
            conn.execute(SEGMENTS.insert(), rows)
        if seg.profile is not None and seg.profile.num_rows:
            prof = seg.profile.select(["segment", "feature", "mean", "median", "z", "lift"])
            prof = prof.add_column(0, "segmentation",
                                   pa.array([seg.name] * prof.num_rows, pa.string()))
            self._insert(conn, SEGMENT_PROFILES.name, _with_run(run_id, _portable(prof)))

    def delete_run(self, run_id: str) -> None:
        """Delete a run and every row it wrote, in one transaction.

        Raises
        ------
        NotFoundError
            If there is no such run.
        """
        with self._begin() as conn:
            run = self._run(conn, run_id)
            for table in RUN_TABLES:
                conn.execute(table.delete().where(table.c.run_id == run_id))
            if run["feature_set"]:
                ent = sa.table(entity_table_name(run["feature_set"]), sa.column("run_id"))
                conn.execute(ent.delete().where(ent.c.run_id == run_id))
            conn.execute(RUNS.delete().where(RUNS.c.run_id == run_id))

    # ------------------------------------------------------------------ runs

    def _run(self, conn: sa.Connection, run_id: str) -> dict[str, Any]:
        row = conn.execute(sa.select(RUNS).where(RUNS.c.run_id == run_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no run {run_id!r} in {self.display_url}")
        out = _row(row)
        out["config"] = _json_ready(json.loads(out["config"]))
        out["versions"] = json.loads(out["versions"])
        return out

    def runs(self, *, limit: int | None = None) -> list[dict[str, Any]]:
        """Every run, newest first (without their config and versions).

        Returns
        -------
        list of dict
            ``run_id``, ``started_at``, ``finished_at``, ``command``, ``job``, ``kind``,
            ``feature_set``, ``entity``, ``entities``, ``source``, ``fingerprint``,
            ``as_of``, ``n_entities``.
        """
        cols = [c for c in RUNS.c if c.name not in ("config", "versions", "id_col",
                                                   "value_col")]
        query = sa.select(*cols).order_by(*_NEWEST_FIRST)
        if limit is not None:
            query = query.limit(limit)
        with self._connect() as conn:
            return [_row(r) for r in conn.execute(query).mappings()]

    def run(self, run_id: str) -> dict[str, Any]:
        """One run's record, with its config and versions.

        Raises
        ------
        NotFoundError
            If there is no such run.
        """
        with self._connect() as conn:
            return self._run(conn, run_id)

    def latest_run_id(self) -> str:
        """Return the newest run that stored entities.

        Raises
        ------
        NotFoundError
            If no run stored any.
        """
        query = (sa.select(RUNS.c.run_id).where(RUNS.c.feature_set.is_not(None))
                 .order_by(*_NEWEST_FIRST).limit(1))
        with self._connect() as conn:
            found = conn.execute(query).scalar()
        if found is None:
            raise NotFoundError(f"{self.display_url} holds no run with entities yet. Fix: run "
                                "`segwise etl` or a command with --store first")
        return str(found)

    def columns(self, run_id: str) -> list[dict[str, Any]]:
        """Return the run's entity columns in order: ``name``, ``role``, ``type``, ``unit``."""
        query = (sa.select(ENTITY_COLUMNS).where(ENTITY_COLUMNS.c.run_id == run_id)
                 .order_by(ENTITY_COLUMNS.c.position))
        with self._connect() as conn:
            return [_row(r) for r in conn.execute(query).mappings()]

    # ------------------------------------------------------------------ segments

    def segmentations(self, run_id: str) -> list[str]:
        """Names of the run's segmentations, ``rule`` first when it has one."""
        query = sa.select(MEMBERSHIPS.c.segmentation).where(
            MEMBERSHIPS.c.run_id == run_id).distinct()
        with self._connect() as conn:
            names = [str(n) for n in conn.execute(query).scalars()]
        return sorted(names, key=lambda n: (n != "rule", n))

    def segments(self, run_id: str, segmentation: str) -> list[dict[str, Any]]:
        """Return the segments of one segmentation of a run, in display order.

        Returns
        -------
        list of dict
            ``segment``, ``size``, ``share``, ``value_share``, ``action``, ``description``.

        Raises
        ------
        NotFoundError
            If there is no such run, or the run has no such segmentation.
        """
        query = (sa.select(SEGMENTS.c.segment, SEGMENTS.c.size, SEGMENTS.c.share,
                           SEGMENTS.c.value_share, SEGMENTS.c.action, SEGMENTS.c.description)
                 .where(SEGMENTS.c.run_id == run_id, SEGMENTS.c.segmentation == segmentation)
                 .order_by(SEGMENTS.c.position))
        with self._connect() as conn:
            rows = [_row(r) for r in conn.execute(query).mappings()]
        if not rows:
            raise self.no_segmentation(run_id, segmentation)  # checks the run first
        return rows

    def no_segmentation(self, run_id: str, segmentation: str) -> NotFoundError:
        """Return the error for a segmentation the run lacks, naming those it has.

        Raises
        ------
        NotFoundError
            If there is no such run (the more useful error).
        """
        self.run(run_id)
        names = self.segmentations(run_id)
        return NotFoundError(f"run {run_id} has no segmentation {segmentation!r}; it has "
                             f"{', '.join(names) or 'none'}")

    def segment(self, run_id: str, segmentation: str, segment: str) -> dict[str, Any]:
        """One segment's summary row.

        Raises
        ------
        NotFoundError
            If the run has no such segment.
        """
        rows = self.segments(run_id, segmentation)
        for row in rows:
            if row["segment"] == segment:
                return row
        # Named as no segmentation is: a name typed in another case or with a space is
        # told from the ones there are.
        raise NotFoundError(f"run {run_id} has no {segmentation} segment {segment!r}; it has "
                            + (", ".join(repr(r["segment"]) for r in rows) or "none"))

    def profile(self, run_id: str, segmentation: str, segment: str) -> list[dict[str, Any]]:
        """Return a segment's profile, features by how much they set it apart (``|z|``)."""
        p = SEGMENT_PROFILES
        query = sa.select(p.c.feature, p.c.mean, p.c.median, p.c.z, p.c.lift).where(
            p.c.run_id == run_id, p.c.segmentation == segmentation, p.c.segment == segment)
        with self._connect() as conn:
            rows = [_row(r) for r in conn.execute(query).mappings()]
        return sorted(rows, key=lambda r: -abs(r["z"] or 0.0))

    def segment_values(self, run_id: str, segmentation: str) -> list[dict[str, Any]]:
        """Per segment and measure (CLV, P(alive), ...): entities, mean and total.

        Returns
        -------
        list of dict
            ``segment``, ``measure``, ``n``, ``mean``, ``total``.
        """
        m, v = MEMBERSHIPS, ENTITY_VALUES
        query = (
            sa.select(m.c.segment, v.c.measure, sa.func.count(v.c.value).label("n"),
                      sa.func.avg(v.c.value).label("mean"), sa.func.sum(v.c.value).label("total"))
            .select_from(m.join(v, sa.and_(m.c.run_id == v.c.run_id,
                                           m.c.entity_id == v.c.entity_id)))
            .where(m.c.run_id == run_id, m.c.segmentation == segmentation)
            .group_by(m.c.segment, v.c.measure).order_by(m.c.segment, v.c.measure)
        )
        with self._connect() as conn:
            return [_row(r) for r in conn.execute(query).mappings()]

    # ------------------------------------------------------------------ entities

    def _entity_query(self, conn: sa.Connection, run_id: str) -> tuple[Any, list[str]]:
        run = self._run(conn, run_id)
        if not run["feature_set"]:
            raise NotFoundError(f"run {run_id} stored no entities")
        cols = [str(c) for c in conn.execute(
            sa.select(ENTITY_COLUMNS.c.name).where(ENTITY_COLUMNS.c.run_id == run_id)
            .order_by(ENTITY_COLUMNS.c.position)).scalars()]
        table = sa.table(entity_table_name(run["feature_set"]), sa.column("run_id"),
                         *(sa.column(c) for c in cols))
        return table, cols

    def _members_select(self, conn: sa.Connection, run_id: str, segmentation: str | None,
                        segment: str | None, search: str | None) -> tuple[Any, Any, list[str]]:
        table, cols = self._entity_query(conn, run_id)
        query = sa.select(*(table.c[c] for c in cols)).where(table.c.run_id == run_id)
        if segmentation is not None and segment is not None:
            m = MEMBERSHIPS
            query = query.join(m, sa.and_(m.c.run_id == table.c.run_id,
                                          m.c.entity_id == table.c.entity_id)).where(
                m.c.segmentation == segmentation, m.c.segment == segment)
        if search:
            pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_") + "%"
            query = query.where(sa.func.lower(table.c.entity_id).like(pattern, escape="\\"))
        return query, table, cols

    def members(
        self,
        run_id: str,
        segmentation: str | None = None,
        segment: str | None = None,
        *,
        search: str | None = None,
        sort: str | None = None,
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> dict[str, Any]:
        """One page of a run's entities, optionally of one segment, searched and sorted.

        Parameters
        ----------
        run_id : str
            The run.
        segmentation, segment : str, optional
            Only the members of this segment.
        search : str, optional
            Only entities whose id contains this text (any case).
        sort : str, optional
            Column to sort by (the entity id when omitted); ties by entity id.
        descending : bool, default=False
            Sort from largest to smallest.
        offset, limit : int
            The page: rows skipped, rows returned (at most :data:`MAX_PAGE`).

        Returns
        -------
        dict
            ``total`` (matching rows), ``columns``, ``rows`` (lists of values).

        Raises
        ------
        ConfigError
            If ``sort`` is not a column of the run, or the page is out of bounds.
        """
        if not 0 < limit <= MAX_PAGE or offset < 0:
            raise ConfigError(f"a page holds 1 to {MAX_PAGE} rows from offset 0 or more")
        with self._connect() as conn:
            query, table, cols = self._members_select(conn, run_id, segmentation, segment,
                                                      search)
            if sort is not None and sort not in cols:
                raise ConfigError(f"cannot sort by {sort!r}; columns: {', '.join(cols)}")
            key = table.c[sort or "entity_id"]
            order = [key.desc() if descending else key.asc(), table.c.entity_id.asc()]
            total = conn.execute(sa.select(sa.func.count()).select_from(
                query.subquery())).scalar_one()
            page = conn.execute(query.order_by(*order).offset(offset).limit(limit))
            rows = [[_plain(v) for v in r] for r in page]
        return {"total": int(total), "columns": cols, "rows": rows}

    def iter_members(
        self, run_id: str, segmentation: str | None = None, segment: str | None = None, *,
        search: str | None = None,
    ) -> tuple[list[str], Iterator[Sequence[Any]]]:
        """Every matching entity, in id order, for a download.

        Returns
        -------
        columns : list of str
        rows : iterator of row tuples
            Streamed in batches; the connection closes when the iterator is exhausted.
        """
        with self._connect() as conn:
            _, _, cols = self._members_select(conn, run_id, segmentation, segment, search)

        def rows() -> Iterator[Sequence[Any]]:
            with self._connect() as conn:
                query, table, _ = self._members_select(conn, run_id, segmentation, segment,
                                                       search)
                result = conn.execution_options(yield_per=2000).execute(
                    query.order_by(table.c.entity_id))
                for row in result:
                    yield [_plain(v) for v in row]

        return cols, rows()

    def entity(self, run_id: str, entity_id: str) -> dict[str, Any]:
        """One entity of a run: its columns, its segments and its measures.

        Returns
        -------
        dict
            ``entity_id``, ``values`` (column to value), ``segments`` (segmentation to
            segment), ``measures`` (measure to value).

        Raises
        ------
        NotFoundError
            If the run has no such entity.
        """
        with self._connect() as conn:
            table, cols = self._entity_query(conn, run_id)
            row = conn.execute(sa.select(*(table.c[c] for c in cols)).where(
                table.c.run_id == run_id, table.c.entity_id == entity_id)).mappings().first()
            if row is None:
                raise NotFoundError(f"run {run_id} has no entity {entity_id!r}")
            m, v = MEMBERSHIPS, ENTITY_VALUES
            segs = conn.execute(sa.select(m.c.segmentation, m.c.segment).where(
                m.c.run_id == run_id, m.c.entity_id == entity_id)).all()
            measures = conn.execute(sa.select(v.c.measure, v.c.value).where(
                v.c.run_id == run_id, v.c.entity_id == entity_id).order_by(v.c.measure)).all()
        return {"entity_id": entity_id, "values": _row(row),
                "segments": {str(s): str(g) for s, g in segs},
                "measures": {str(k): _plain(x) for k, x in measures}}

    def entity_history(self, entity_id: str, *, like: str | None = None
                       ) -> list[dict[str, Any]]:
        """Return an entity's segments in every run that has it, oldest first.

        Parameters
        ----------
        entity_id : str
            The entity.
        like : str, optional
            A run: only runs holding the same kind of entity count (:func:`comparable`).
            Ids are the data's: customer 1001 of order lines and user 1001 of an event log
            are two entities, and one history of both would mix them.

        Returns
        -------
        list of dict
            ``run_id``, ``started_at``, ``command``, ``segmentation``, ``segment``.
        """
        m = MEMBERSHIPS
        query = (sa.select(RUNS.c.run_id, RUNS.c.started_at, RUNS.c.command, m.c.segmentation,
                           m.c.segment)
                 .select_from(m.join(RUNS, RUNS.c.run_id == m.c.run_id))
                 .where(m.c.entity_id == entity_id)
                 .order_by(*_OLDEST_FIRST, m.c.segmentation))
        if like is not None:
            run = self.run(like)
            query = query.where(RUNS.c.kind.is_not_distinct_from(run["kind"]),
                                RUNS.c.entity.is_not_distinct_from(run["entity"]))
        with self._connect() as conn:
            return [_row(r) for r in conn.execute(query).mappings()]

    # ------------------------------------------------------------------ quality, models

    def audit(self, run_id: str) -> list[dict[str, Any]]:
        """Return the run's cleaning audit in order, each step with its further metrics."""
        with self._connect() as conn:
            steps = [_row(r) for r in conn.execute(
                sa.select(AUDIT.c.position, AUDIT.c.step, AUDIT.c.rows, AUDIT.c.description)
                .where(AUDIT.c.run_id == run_id).order_by(AUDIT.c.position)).mappings()]
            values = conn.execute(
                sa.select(AUDIT_VALUES.c.position, AUDIT_VALUES.c.metric, AUDIT_VALUES.c.value)
                .where(AUDIT_VALUES.c.run_id == run_id)).all()
        metrics: dict[int, dict[str, Any]] = {}
        for pos, metric, value in values:
            metrics.setdefault(int(pos), {})[str(metric)] = _plain(value)
        for step in steps:
            step["metrics"] = metrics.get(step.pop("position"), {})
        return steps

    def quarantine(self, run_id: str, *, offset: int = 0, limit: int = 50) -> dict[str, Any]:
        """One page of the run's quarantined rows: ``total`` and ``rows``.

        Each row: ``row`` (1-based input row, or None), ``reason``, ``raw`` (column to text).
        """
        if not 0 < limit <= MAX_PAGE or offset < 0:
            raise ConfigError(f"a page holds 1 to {MAX_PAGE} rows from offset 0 or more")
        q = QUARANTINE
        with self._connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).where(
                q.c.run_id == run_id)).scalar_one()
            rows = conn.execute(sa.select(q.c.row, q.c.reason, q.c.raw).where(
                q.c.run_id == run_id).order_by(q.c.position).offset(offset).limit(limit)).all()
        return {"total": int(total), "rows": [
            {"row": r, "reason": reason, "raw": json.loads(raw)} for r, reason, raw in rows]}

    def models(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """Model cards, newest run first: ``run_id``, ``name``, ``kind``, ``card``.

        Raises
        ------
        NotFoundError
            If ``run_id`` is given and there is no such run.
        """
        query = (sa.select(MODELS.c.run_id, MODELS.c.name, MODELS.c.kind, MODELS.c.card,
                           RUNS.c.started_at)
                 .select_from(MODELS.join(RUNS, RUNS.c.run_id == MODELS.c.run_id))
                 .order_by(*_NEWEST_FIRST, MODELS.c.name))
        if run_id is not None:
            query = query.where(MODELS.c.run_id == run_id)
        with self._connect() as conn:
            rows = [_row(r) for r in conn.execute(query).mappings()]
            if not rows and run_id is not None:
                self._run(conn, run_id)
        for row in rows:
            row["card"] = _json_ready(json.loads(row["card"]))
        return rows

    def model_artifact(self, kind: str) -> tuple[str, str, bytes]:
        """Return the newest stored model file of a kind: run id, model name, bytes.

        Raises
        ------
        NotFoundError
            If no run stored such a model with its file.
        """
        query = (sa.select(MODELS.c.run_id, MODELS.c.name, MODELS.c.artifact)
                 .select_from(MODELS.join(RUNS, RUNS.c.run_id == MODELS.c.run_id))
                 .where(MODELS.c.kind == kind, MODELS.c.artifact.is_not(None))
                 .order_by(*_NEWEST_FIRST).limit(1))
        with self._connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFoundError(f"{self.display_url} holds no {kind} model file")
        return str(row[0]), str(row[1]), bytes(row[2])

    # ------------------------------------------------------------------ comparing runs

    def check_comparable(self, run_a: str, run_b: str) -> None:
        """Refuse two runs whose entities a migration cannot match by id.

        Raises
        ------
        NotFoundError
            If either run does not exist.
        ConfigError
            If the runs hold different entities (customers from orders and users from
            events, say): matched by id, everyone would look gone and new.
        """
        before, after = self.run(run_a), self.run(run_b)
        if not comparable(before, after):
            raise ConfigError(
                f"run {run_a} holds {held(before)} and run {run_b} {held(after)}: a "
                "migration follows the same entities from one run to another. Fix: compare "
                "two runs of one kind")

    def migration(self, run_a: str, run_b: str, segmentation: str = "rule") -> list[dict[str, Any]]:
        """How entities moved between the segments of two runs.

        Entities are matched by id; one present in a single run comes from or goes to
        :data:`NOT_IN_RUN`.

        Returns
        -------
        list of dict
            ``from``, ``to``, ``n``: one row per pair of segments with at least one entity.

        Raises
        ------
        NotFoundError
            If either run does not exist or lacks the segmentation.
        ConfigError
            If the runs hold different entities (customers from orders and users from
            events, say): matched by id, everyone would look gone and new.
        """
        self.check_comparable(run_a, run_b)
        for run_id in (run_a, run_b):
            if segmentation not in self.segmentations(run_id):
                raise self.no_segmentation(run_id, segmentation)
        m = MEMBERSHIPS
        a = sa.select(m.c.entity_id, m.c.segment).where(
            m.c.run_id == run_a, m.c.segmentation == segmentation).subquery("a")
        b = sa.select(m.c.entity_id, m.c.segment).where(
            m.c.run_id == run_b, m.c.segmentation == segmentation).subquery("b")
        src = sa.func.coalesce(a.c.segment, NOT_IN_RUN).label("from")
        dst = sa.func.coalesce(b.c.segment, NOT_IN_RUN).label("to")
        query = (sa.select(src, dst, sa.func.count().label("n"))
                 .select_from(a.join(b, a.c.entity_id == b.c.entity_id, full=True))
                 .group_by(src, dst).order_by(src, dst))
        with self._connect() as conn:
            return [_row(r) for r in conn.execute(query).mappings()]


def _counted(labels: pa.Table) -> pa.Table:
    """Return a summary of segment labels: ``segment``, ``size``, ``share``, largest first."""
    counts = pc.value_counts(labels.column("segment")).to_pylist()
    counts.sort(key=lambda c: (-c["counts"], str(c["values"])))
    n = max(labels.num_rows, 1)
    return pa.table({"segment": pa.array([c["values"] for c in counts], pa.string()),
                     "size": pa.array([c["counts"] for c in counts], pa.int64()),
                     "share": pa.array([c["counts"] / n for c in counts], pa.float64())})


def comparable(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Say whether two runs (records from :meth:`Store.runs`) hold the same kind of entity.

    Only then can a migration match their entities by id.
    """
    return (a["kind"], a["entity"]) == (b["kind"], b["entity"])


def held(run: Mapping[str, Any]) -> str:
    """Name what a run (a record of :meth:`Store.runs`) holds, for messages.

    Its entities and the kind they come from: ``customers from orders``, ``users from
    events``, ``users from pings``; ``people`` alone, where the two are one word.
    """
    entities, kind = run["entities"] or "entities", run["kind"]
    if kind is None:
        return f"{entities} of an unknown kind"
    return entities if kind == entities else f"{entities} from {kind}"


def _type_family(kind: pa.DataType) -> str:
    """Return the declared-type family of an Arrow type (``number``, ``text``, ...)."""
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "number"
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return "timestamp"
    return "text"


def check_store(target: str | Path, *, inputs: Iterable[str | Path | None] = ()) -> None:
    """Check, before any work, that a run can be written into a store.

    A DuckDB file: its folder can be written, an existing file is a DuckDB database and
    none of the run's inputs (nothing is created). A PostgreSQL URL: the server accepts the
    connection.

    Parameters
    ----------
    target : str or Path
        A ``.duckdb`` file or ``postgresql://`` URL.
    inputs : iterable of str or Path or None
        Files the run reads (a DuckDB source is no store of its own results).

    Raises
    ------
    ConfigError
        If the target is not a store, or its file cannot be written or is an input.
    SegwiseError
        If the server refuses the connection.
    """
    from segwise.store._files import check_output

    url = store_url(target)
    if url.get_backend_name() == "duckdb":
        check_output(str(url.database), None, inputs=inputs)
    else:
        Store(target).close()


def open_store(target: str | Path) -> Store:
    """Open (creating if needed) the store at a ``.duckdb`` path or ``postgresql://`` URL."""
    return Store(target)
