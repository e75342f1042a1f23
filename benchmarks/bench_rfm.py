"""Time segwise RFM against a hand-written DuckDB query and idiomatic pandas, in one run.

Every measurement runs in its own fresh Python process, so that its wall time includes
nothing left over from another and its peak memory (max RSS, from ``wait4``) is its own.
Each process reports two times: ``process`` (the whole process: interpreter, imports, work)
and ``work`` (timed inside the process, after the imports).

Tools, all on the same Parquet file of synthetic order lines (see ``generate_orders.py``):

* ``segwise``: :func:`segwise.jobs.run_rfm` with cleaning rules matching the hand-written
  query (customer id present, duplicates removed, no cancellations, quantity > 0,
  price > 0; non-product codes kept, no outlier rule), scores and segments included;
* ``segwise-default``: the same with segwise's default cleaning rules (cancellations netted,
  non-product codes dropped, outliers flagged, full audit);
* ``duckdb-sql``: one hand-written DuckDB SQL query doing the same cleaning and RFM;
* ``pandas``: ``read_parquet`` + ``drop_duplicates`` + boolean filters + ``groupby.agg``.

Then the whole ``segwise rfm`` command on the Online Retail CSV.gz is timed several times,
next to two baselines measured in the same run: a bare ``python -c "import duckdb, pandas"``
and a process running the hand-written DuckDB query on the same CSV.gz.

Usage::

    python benchmarks/bench_rfm.py --lines 10_000_000           # quick run (~10 min here)
    python benchmarks/bench_rfm.py --lines 100_000_000 --pandas-max-lines 0 --cli-runs 0
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ONLINE_RETAIL_CSV = Path("/work/shared/data/uci-online-retail/online_retail.csv.gz")
AS_OF = "2011-12-10"

# The hand-written query: what an analyst would write for the same cleaning and RFM.
HANDWRITTEN_SQL = """
WITH lines AS (
    SELECT DISTINCT * FROM {source}
)
SELECT
    CustomerID AS customer_id,
    date_diff('day', max(InvoiceDate)::DATE, DATE '{as_of}') AS recency_days,
    count(DISTINCT InvoiceNo) AS frequency,
    sum(Quantity * UnitPrice) AS monetary
FROM lines
WHERE CustomerID IS NOT NULL
  AND NOT starts_with(InvoiceNo, 'C')
  AND NOT starts_with(InvoiceNo, 'A')
  AND Quantity > 0
  AND UnitPrice > 0
GROUP BY CustomerID
"""


# --- workers: each runs in a fresh process and prints one JSON line -------------------------

def _limit_memory(con: object) -> None:
    """Apply ``--memory-limit`` (passed down in the environment) to a DuckDB connection."""
    limit = os.environ.get("BENCH_DUCKDB_MEMORY_LIMIT")
    if limit:
        con.execute(f"SET memory_limit = '{limit}'")  # type: ignore[attr-defined]


def _worker_segwise(path: str, default_rules: bool) -> dict[str, float]:
    from segwise.clean import CleaningRules
    from segwise.config import SegwiseConfig
    from segwise.jobs import run_rfm

    limit = os.environ.get("BENCH_DUCKDB_MEMORY_LIMIT")
    if limit:
        os.environ["SEGWISE_DUCKDB_MEMORY_LIMIT"] = limit

    t0 = time.perf_counter()
    rules = CleaningRules() if default_rules else CleaningRules(
        cancellations="drop", non_product="keep", outliers=False
    )
    result = run_rfm(path, config=SegwiseConfig(cleaning=rules),
                     as_of=dt.date.fromisoformat(AS_OF))
    c = result.customers
    return {"work": time.perf_counter() - t0, "customers": len(c),
            "monetary": float(c["monetary"].sum()), "frequency": int(c["frequency"].sum())}


def _worker_duckdb(path: str) -> dict[str, float]:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect()
    _limit_memory(con)
    source = (f"read_csv('{path}', header=true)" if ".csv" in path
              else f"read_parquet('{path}')")
    c = con.sql(HANDWRITTEN_SQL.format(source=source, as_of=AS_OF)).df()
    return {"work": time.perf_counter() - t0, "customers": len(c),
            "monetary": float(c["monetary"].sum()), "frequency": int(c["frequency"].sum())}


def _worker_pandas(path: str) -> dict[str, float]:
    import pandas as pd

    t0 = time.perf_counter()
    df = pd.read_parquet(path).drop_duplicates()
    df = df[
        df["CustomerID"].notna()
        & ~df["InvoiceNo"].str.startswith(("C", "A"))
        & (df["Quantity"] > 0)
        & (df["UnitPrice"] > 0)
    ]
    df = df.assign(revenue=df["Quantity"] * df["UnitPrice"])
    c = df.groupby("CustomerID").agg(
        last=("InvoiceDate", "max"), frequency=("InvoiceNo", "nunique"),
        monetary=("revenue", "sum"),
    )
    c["recency_days"] = (pd.Timestamp(AS_OF) - c["last"].dt.normalize()).dt.days
    return {"work": time.perf_counter() - t0, "customers": len(c),
            "monetary": float(c["monetary"].sum()), "frequency": int(c["frequency"].sum())}


def _worker_import() -> dict[str, float]:
    t0 = time.perf_counter()
    import duckdb  # noqa: F401
    import pandas  # noqa: F401

    return {"work": time.perf_counter() - t0}


WORKERS = {
    "segwise": lambda p: _worker_segwise(p, default_rules=False),
    "segwise-default": lambda p: _worker_segwise(p, default_rules=True),
    "duckdb-sql": _worker_duckdb,
    "pandas": _worker_pandas,
    "import": lambda p: _worker_import(),
}


# --- the parent: runs each measurement in a child and collects wall time and max RSS ----------

def measure(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``cmd`` (in ``env``); return its wall time, peak RSS, CPU and workers' JSON line.

    Peak RSS and CPU seconds (user + system, ``cpu``; of the process and the children
    it waited for) come from GNU time, a small process of its own: the ``ru_maxrss`` a
    parent gets from ``wait4`` can include the parent's own memory copied at fork. On a
    shared machine CPU seconds move much less with the load than wall time.
    """
    timed = (["/usr/bin/time", "-f", "cpu_s=%U+%S maxrss_kb=%M", *cmd]
             if Path("/usr/bin/time").exists() else cmd)
    t0 = time.perf_counter()
    # Our own interpreter and scripts, never user input.
    proc = subprocess.run(timed, capture_output=True, check=False, env=env)  # noqa: S603
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr.decode()[-2000:]}")
    err = proc.stderr.decode().strip().splitlines()
    timing = dict(f.split("=") for f in err[-1].split()) if err and err[-1].startswith(
        "cpu_s=") else {}
    rss_kb = float(timing.get("maxrss_kb", "nan"))
    cpu = sum(float(x) for x in timing["cpu_s"].split("+")) if timing else float("nan")
    result: dict[str, float] = {"process": wall, "peak_mb": rss_kb / 1024, "cpu": cpu}
    lines = proc.stdout.decode().strip().splitlines()
    if lines and lines[-1].startswith("{"):
        result |= json.loads(lines[-1])
    return result


def run_worker(tool: str, path: Path) -> dict[str, float]:
    return measure([sys.executable, str(Path(__file__).resolve()), "--worker", tool, str(path)])


def _fmt(r: dict[str, float]) -> str:
    work = f"{r['work']:8.2f} s" if "work" in r else " " * 10
    return f"{r['process']:8.2f} s {work} {r['peak_mb']:9,.0f} MB"


def bench_tables(path: Path, n_lines: int, tools: list[str], repeat: int) -> dict[str, dict]:
    print(f"\n## RFM on {path.name} ({n_lines:,} lines), median of {repeat}")
    print(f"{'tool':18} {'process':>10} {'work':>10} {'peak RSS':>12}  customers  check")
    # Rounds interleave the tools, so that a change in the machine's load hits them alike.
    runs: dict[str, list[dict[str, float]]] = {tool: [] for tool in tools}
    for _ in range(repeat):
        for tool in tools:
            runs[tool].append(run_worker(tool, path))
    results: dict[str, dict] = {}
    for tool in tools:
        med = {k: statistics.median(r[k] for r in runs[tool]) for k in runs[tool][0]}
        results[tool] = med
        check = f"{med.get('monetary', float('nan')):,.2f} / {med.get('frequency', 0):,.0f}"
        print(f"{tool:18} {_fmt(med)}  {med.get('customers', 0):9,.0f}  {check}", flush=True)
        if repeat > 1:
            print(f"{'':18} work each: " + ", ".join(f"{r['work']:.2f}" for r in runs[tool]))
    if "segwise" in results and "duckdb-sql" in results:
        s, h = results["segwise"], results["duckdb-sql"]
        print(f"segwise / hand-written DuckDB: work {s['work'] / h['work']:.2f}x, "
              f"process {s['process'] / h['process']:.2f}x, "
              f"peak memory {s['peak_mb'] / h['peak_mb']:.2f}x")
        same = (s["customers"] == h["customers"] and s["frequency"] == h["frequency"]
                and abs(s["monetary"] - h["monetary"]) <= 1e-6 * abs(h["monetary"]) + 0.01)
        print("same customers, orders and revenue as the hand-written query:", same)
    return results


def bench_cli(runs: int) -> dict[str, float]:
    print(f"\n## `segwise rfm` on {ONLINE_RETAIL_CSV.name}, whole process, median of {runs}")
    exe = Path(sys.executable).with_name("segwise")
    with tempfile.TemporaryDirectory() as tmp:
        cli = [measure([str(exe), "rfm", str(ONLINE_RETAIL_CSV), "-o", f"{tmp}/c.parquet"])
               for _ in range(runs)]
    base = [run_worker("import", ONLINE_RETAIL_CSV) for _ in range(runs)]
    hand = [run_worker("duckdb-sql", ONLINE_RETAIL_CSV) for _ in range(runs)]
    out = {}
    for name, rs in (("segwise rfm (CLI)", cli), ("import duckdb, pandas", base),
                     ("hand-written DuckDB", hand)):
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        out[name] = med
        each = ", ".join(f"{r['process']:.2f}" for r in rs)
        print(f"{name:22} {_fmt(med)}   (each: {each})")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, metavar=("TOOL", "PATH"), help=argparse.SUPPRESS)
    ap.add_argument("--lines", type=lambda s: int(s.replace("_", "")), default=10_000_000)
    ap.add_argument("--data", type=Path, help="Parquet file (generated when missing)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tools", default="segwise,duckdb-sql,segwise-default,pandas")
    ap.add_argument("--pandas-max-lines", type=int, default=20_000_000,
                    help="skip pandas above this many lines (it holds everything in memory)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--cli-runs", type=int, default=5, help="0 skips the CLI timing")
    ap.add_argument("--memory-limit", help="DuckDB memory_limit for both segwise and the "
                    "hand-written query, e.g. 4GB (DuckDB's default: 80%% of RAM)")
    args = ap.parse_args()
    if args.worker:
        tool, path = args.worker
        print(json.dumps(WORKERS[tool](path)))
        return

    print(f"# segwise RFM benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM, "
          f"load average {os.getloadavg()[0]:.1f}; Python {platform.python_version()}")
    if args.memory_limit:
        os.environ["BENCH_DUCKDB_MEMORY_LIMIT"] = args.memory_limit
        print(f"DuckDB memory_limit = {args.memory_limit}")
    tools = [t for t in args.tools.split(",") if t]
    if args.lines > args.pandas_max_lines and "pandas" in tools:
        tools.remove("pandas")
        print(f"(pandas skipped above {args.pandas_max_lines:,} lines)")
    if tools:
        path = args.data or HERE / "data" / f"orders_{args.lines}_s{args.seed}.parquet"
        if not path.exists():
            sys.path.insert(0, str(HERE))
            from generate_orders import generate

            t0 = time.perf_counter()
            generate(path, args.lines, seed=args.seed)
            print(f"generated {path} in {time.perf_counter() - t0:.0f} s")
        bench_tables(path, args.lines, tools, args.repeat)
    if args.cli_runs and ONLINE_RETAIL_CSV.exists():
        bench_cli(args.cli_runs)


if __name__ == "__main__":
    main()
