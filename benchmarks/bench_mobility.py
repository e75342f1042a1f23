"""The mobility job end to end at scale: time, peak memory, and Spark against DuckDB.

Generates pings with ``generate_pings.py`` when the file is missing, then runs, each in a
fresh process so that peak memory is the run's own:

1. ``segwise mobility PINGS -o OUT`` (DuckDB, all stages: cleaning, stays, stable
   locations, settlements, dense areas, SOM, segments, the campaign table), timed, with
   its peak resident memory (``ru_maxrss`` of the child);
2. with ``--spark-users N``: the same job on the first N users with ``--engine duckdb``
   and ``--engine spark``, and a comparison of their stable locations (they must be equal).

Usage::

    python benchmarks/bench_mobility.py --users 100_000 --pings 100_000_000 \
        --memory-limit 4GB --spark-users 2000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command; return wall seconds, peak RSS of the child (GiB) and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    # ru_maxrss of children is the largest child so far: report it only when it grew.
    return seconds, max(peak, before) / 2**20, proc.stdout


_STAGES = """
import json, sys, time
from pathlib import Path
t0 = time.perf_counter(); marks = {}
def progress(step):
    marks[step] = round(time.perf_counter() - t0, 1)
from segwise.jobs import run_mobility, segment_users
result = run_mobility(sys.argv[1], engine=sys.argv[3], progress=progress)
marks["segments"] = round(time.perf_counter() - t0, 1)
plan = segment_users(result)
marks["write"] = round(time.perf_counter() - t0, 1)
out = Path(sys.argv[2])
result.write(out); plan.write(out)
marks["done"] = round(time.perf_counter() - t0, 1)
e = result.entities.frame
print(json.dumps({"stages_s": marks, "users": len(e), "stays": int(e["stays"].sum()),
                  "locations": result.locations_table.num_rows,
                  "home_found": float(e["home_found"].mean()),
                  "work_found": float(e["work_found"].mean()),
                  "kept": int(result.audit.loc[result.audit.step == "kept", "rows"].sum())}))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--pings", type=int, default=10_000_000)
    p.add_argument("--data", type=Path, default=HERE / "data")
    p.add_argument("--memory-limit", default="4GB", help="DuckDB's cap (SEGWISE_DUCKDB_...)")
    p.add_argument("--spark-users", type=int, default=0,
                   help="also compare Spark with DuckDB on the first N users (0: skip)")
    args = p.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    pings = args.data / f"pings_{args.users}u_{args.pings}.parquet"
    if not pings.exists():
        t = time.perf_counter()
        subprocess.run([PYTHON, str(HERE / "generate_pings.py"), "--users", str(args.users),  # noqa: S603
                        "--pings", str(args.pings), "--out", str(pings)], check=True)
        print(f"generated {pings.name} in {time.perf_counter() - t:.0f} s")
    env = {**os.environ, "SEGWISE_DUCKDB_MEMORY_LIMIT": args.memory_limit}
    out = args.data / "out" / "users.parquet"
    seconds, peak, stdout = _run([PYTHON, "-c", _STAGES, str(pings), str(out), "duckdb"], env)
    figures = json.loads(stdout.strip().splitlines()[-1])
    print(f"end to end (DuckDB): {seconds:,.0f} s wall, peak RSS {peak:.2f} GiB; "
          f"{args.pings / seconds:,.0f} pings/s")
    print(json.dumps(figures, indent=1))
    if args.spark_users:
        compare = args.data / f"pings_first_{args.spark_users}.parquet"
        import duckdb

        duckdb.sql(f"""COPY (SELECT * FROM '{pings}' WHERE subscriber IN (
            SELECT DISTINCT subscriber FROM '{pings}' ORDER BY subscriber
            LIMIT {args.spark_users})) TO '{compare}' (FORMAT parquet)""")
        runs = {}
        for engine in ("duckdb", "spark"):
            o = args.data / "out" / engine / "users.parquet"
            s, _, _ = _run([PYTHON, "-c", _STAGES, str(compare), str(o), engine], env)
            runs[engine] = o.with_name("users.locations.parquet")
            print(f"{engine} on the first {args.spark_users:,} users: {s:,.0f} s")
        key = "ORDER BY user_id, location"
        a = duckdb.sql(f"SELECT * FROM '{runs['duckdb']}' {key}").fetchall()
        b = duckdb.sql(f"SELECT * FROM '{runs['spark']}' {key}").fetchall()
        print(f"stable locations: {len(a):,} (DuckDB) and {len(b):,} (Spark); identical: "
              f"{a == b}")


if __name__ == "__main__":
    main()
