"""Time ``segwise rfe`` on an Avito-shaped SQLite log against a hand-written DuckDB query.

Every measurement runs in its own fresh process (``measure`` from ``bench_rfm.py``:
wall time, peak RSS from GNU time, the worker's own ``work`` time after imports, and its
``cpu`` time, all threads, which a busy shared machine disturbs less than wall time; for
Spark, the Python driver's only):

* ``duckdb-sql``: one hand-written DuckDB query over the same SQLite file: the stream
  joined to its searches and users, sessions by a 30-minute gap with window functions,
  per-user recency, clicks, sessions, searches, active days, categories and the modes of
  hour of week, device and category. DuckDB reads the SQLite tables the way segwise does
  (Arrow batches from the ADBC SQLite driver: DuckDB's own SQLite extension cannot be
  installed without a download, and no wheel of it matches DuckDB 2), native types;
* ``segwise``: ``run_rfe`` with ``[events] deduplicate = false`` (the query merges no
  copies), scores, named segments and the reach table included;
* ``segwise-default``: ``run_rfe`` with the default cleaning (exact copies merged);
* ``convert``: ``segwise convert`` of the same relation to Parquet parts (one pass);
* ``spark-jdbc``: ``run_rfe`` on Spark ``local[*]`` reading SQLite through JDBC;
* ``spark-parquet``: ``run_rfe`` on Spark reading the converted Parquet.

The script checks that every tool finds the same users, events, clicks and sessions.
``--before SRC`` also runs ``segwise`` from another source tree (its ``src/``, for
example a ``git archive`` of main), as ``segwise (before)`` in the same rounds.

Usage::

    python benchmarks/bench_rfe.py --impressions 2_000_000
    flock /tmp/segwise-heavy.lock python benchmarks/bench_rfe.py --impressions 200_000_000 \\
        --memory-limit 4GB        # the issue's ~20 GB database
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_rfm import measure  # noqa: E402 - the shared process timer

AS_OF = "2015-05-21"
CONFIG = """
[read]
table = "trainSearchStream"
join = [{{ table = "SearchInfo", on = "SearchID" }}, {{ table = "UserInfo", on = "UserID" }}]
[columns]
device = "UserDeviceID"
[rfe]
as_of = "{as_of}"
[events]
deduplicate = {dedup}
"""

# What an analyst would write for the same per-user table.
HANDWRITTEN_SQL = """
WITH e AS (
    SELECT i.UserID AS user_id, strptime(i.SearchDate, '%Y-%m-%d %H:%M:%S.%f') AS ts,
           s.SearchID AS search_id, coalesce(s.IsClick, 0) = 1 AS click,
           i.CategoryID AS category, u.UserDeviceID AS device
    FROM stream s JOIN info i USING (SearchID) LEFT JOIN users u ON u.UserID = i.UserID
), w AS (
    SELECT *, epoch(ts) - lag(epoch(ts)) OVER win AS gap,
           search_id IS DISTINCT FROM lag(search_id) OVER win AS new_search
    FROM e WINDOW win AS (PARTITION BY user_id ORDER BY ts, search_id)
)
SELECT user_id,
       date_diff('day', max(ts)::DATE, DATE '{as_of}') AS recency_days,
       date_diff('day', max(ts) FILTER (click)::DATE, DATE '{as_of}') AS click_recency_days,
       count(*) AS events, count(*) FILTER (click) AS clicks,
       count(*) FILTER (gap IS NULL OR gap > 1800) AS sessions,
       sum(CASE WHEN gap <= 1800 THEN gap ELSE 0 END) AS session_seconds,
       count(*) FILTER (new_search) AS searches,
       count(DISTINCT ts::DATE) AS active_days, count(DISTINCT category) AS categories,
       mode(isodow(ts) * 24 - 24 + hour(ts)) AS active_hour_of_week,
       mode(device) AS device, mode(category) AS category
FROM w GROUP BY user_id
"""


#: Open ADBC connections and cursors: a stream closes with its connection.
_OPEN: list[object] = []


def _stream(path: str, sql: str) -> object:
    import adbc_driver_sqlite.dbapi as adbc

    con = adbc.connect(f"file:{path}?mode=ro")
    cur = con.cursor()
    cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": "65536"})
    cur.execute(sql)
    _OPEN.extend((con, cur))
    return cur.fetch_record_batch()


def _totals(users: object) -> dict[str, int]:
    import duckdb

    row = duckdb.sql("SELECT count(*), sum(events), sum(clicks), sum(sessions) "
                     "FROM users").fetchall()[0]
    return dict(zip(("users", "events", "clicks", "sessions"), map(int, row), strict=True))


def _worker_duckdb(path: str) -> dict[str, float]:
    import duckdb

    t0, c0 = time.perf_counter(), time.process_time()
    con = duckdb.connect()
    limit = os.environ.get("SEGWISE_DUCKDB_MEMORY_LIMIT")
    if limit:
        con.execute(f"SET memory_limit = '{limit}'")
    con.register("stream", _stream(path, "SELECT SearchID, IsClick FROM trainSearchStream"))
    con.register("info", _stream(path, "SELECT SearchID, UserID, SearchDate, CategoryID "
                                       "FROM SearchInfo"))
    con.register("users", _stream(path, "SELECT UserID, UserDeviceID FROM UserInfo"))
    users = con.sql(HANDWRITTEN_SQL.format(as_of=AS_OF)).arrow()
    work, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"work": work, "cpu": cpu, **_totals(users)}


def _worker_segwise(path: str, engine: str, dedup: bool) -> dict[str, float]:
    import warnings

    from segwise.config import load_config
    from segwise.jobs import run_rfe

    t0, c0 = time.perf_counter(), time.process_time()
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as fh:
        fh.write(CONFIG.format(as_of=AS_OF, dedup=str(dedup).lower()))
    config = load_config(fh.name, kind="events")
    if Path(path).is_dir():  # converted Parquet: the relation is applied already
        import dataclasses

        config = dataclasses.replace(config, read=dataclasses.replace(
            config.read, table=None, join=()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = run_rfe(path, config=config, engine=engine)
    result.reach_table()
    work, cpu = time.perf_counter() - t0, time.process_time() - c0
    users = result.users_table.select(["events", "clicks", "sessions"])
    return {"work": work, "cpu": cpu, **_totals(users)}


def _worker_convert(path: str) -> dict[str, float]:
    from segwise.config import load_config
    from segwise.io import convert_to_parquet

    t0 = time.perf_counter()
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as fh:
        fh.write(CONFIG.format(as_of=AS_OF, dedup="false"))
    config = load_config(fh.name, kind="events")
    done = convert_to_parquet(path, _parquet_dir(Path(path)), "events", columns=config.columns,
                              read=config.read)
    return {"work": time.perf_counter() - t0, "rows": done.rows, "files": done.files}


def _parquet_dir(path: Path) -> Path:
    return path.with_suffix(".parquet.d")


WORKERS = {
    "duckdb-sql": _worker_duckdb,
    "segwise": lambda p: _worker_segwise(p, "duckdb", dedup=False),
    "segwise-default": lambda p: _worker_segwise(p, "duckdb", dedup=True),
    "convert": _worker_convert,
    "spark-jdbc": lambda p: _worker_segwise(p, "spark", dedup=False),
    "spark-parquet": lambda p: _worker_segwise(str(_parquet_dir(Path(p))), "spark",
                                               dedup=False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impressions", type=lambda s: int(s.replace("_", "")),
                        default=2_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, help="an existing Avito-shaped database")
    parser.add_argument("--tools", default=",".join(WORKERS))
    parser.add_argument("--memory-limit", help="DuckDB memory_limit for every tool, e.g. 4GB")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; medians reported")
    parser.add_argument("--before", type=Path, help="another source tree (its src/) "
                        "whose segwise also runs, interleaved, as 'segwise (before)'")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        tool, path = args.worker
        print(json.dumps(WORKERS[tool](path)))
        return
    if args.memory_limit:
        os.environ["SEGWISE_DUCKDB_MEMORY_LIMIT"] = args.memory_limit
    path = args.data or HERE / "data" / f"avito_{args.impressions}_s{args.seed}.sqlite"
    if not path.exists():
        from generate_avito import generate

        t0 = time.perf_counter()
        generate(path, args.impressions, seed=args.seed)
        print(f"generated {path} in {time.perf_counter() - t0:.0f} s")
    print(f"# {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"{path.stat().st_size / 2**30:.2f} GiB SQLite, memory limit "
          f"{args.memory_limit or 'none'}")
    runs: dict[str, list[dict[str, float]]] = {}
    tools = args.tools.split(",")
    if args.before is not None:  # just before the current code, in each round
        tools.insert(tools.index("segwise") if "segwise" in tools else len(tools),
                     "segwise (before)")
    for round_ in range(args.repeat):  # tools take turns, so load changes hit them alike
        for tool in tools:
            env = (dict(os.environ, PYTHONPATH=str(args.before.resolve()))
                   if tool == "segwise (before)" else None)
            r = measure([sys.executable, str(Path(__file__).resolve()), "--worker",
                         tool.removesuffix(" (before)"), str(path)], env=env)
            runs.setdefault(tool, []).append(r)
            extra = ", ".join(f"{k} {int(r[k]):,}" for k in (
                "users", "events", "clicks", "sessions", "rows", "files") if k in r)
            print(f"[{round_ + 1}] {tool:16s} process {r['process']:8.1f} s  work "
                  f"{r.get('work', 0):8.1f} s  cpu {r.get('cpu', 0):8.1f} s  peak "
                  f"{r['peak_mb']:8,.0f} MB  {extra}", flush=True)
    results = {tool: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
               for tool, rs in runs.items()}
    if args.repeat > 1:
        print(f"medians of {args.repeat} rounds:")
        for tool, r in results.items():
            print(f"  {tool:16s} process {r['process']:8.1f} s  work {r.get('work', 0):8.1f} s"
                  f"  cpu {r.get('cpu', 0):8.1f} s  peak {r['peak_mb']:8,.0f} MB")
    base = results.get("duckdb-sql")
    for tool, r in results.items():
        if base and tool != "duckdb-sql" and "users" in r:
            same = all(r[k] == base[k] for k in ("users", "events", "clicks", "sessions"))
            print(f"{tool} / duckdb-sql: {r['work'] / base['work']:.2f}x work, "
                  f"{r['cpu'] / base['cpu']:.2f}x cpu, "
                  f"{r['process'] / base['process']:.2f}x process, "
                  f"{r['peak_mb'] / base['peak_mb']:.2f}x peak; same totals: {same}")
    if "convert" in results and "spark-parquet" in results and "spark-jdbc" in results:
        c, p, j = results["convert"], results["spark-parquet"], results["spark-jdbc"]
        print(f"Spark: JDBC {j['process']:.1f} s against convert {c['process']:.1f} s + "
              f"Parquet {p['process']:.1f} s = {c['process'] + p['process']:.1f} s")


if __name__ == "__main__":
    main()
