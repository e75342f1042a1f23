"""The mobility job end to end at scale: time, peak memory, and Spark against DuckDB.

Generates pings with ``generate_pings.py`` when the file is missing, then runs, each in a
fresh process so that peak memory is the run's own:

1. ``segwise mobility PINGS -o OUT`` (DuckDB, all stages: cleaning, stays, stable
   locations, settlements, dense areas, SOM, segments, the campaign table), timed, with
   its peak resident memory (``ru_maxrss`` of the child);
2. with ``--spark-users N``: the same job on the first N users with ``--engine duckdb``
   and ``--engine spark``, and a comparison of their stable locations and user tables
   (they must be equal); N at least the number of users runs Spark on the whole file and
   compares it with the run of step 1;
3. with ``--baseline-src DIR``: the same job with segwise imported from ``DIR`` (the
   ``src`` folder of another checkout, e.g. ``git archive main src | tar -x -C /tmp/base``)
   on the same file, the ratio of the two times, and whether users, stable locations and
   segments are identical.

Usage::

    python benchmarks/bench_mobility.py --users 100_000 --pings 100_000_000 \
        --memory-limit 4GB --spark-users 2000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Run a command; return its wall seconds and its output."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return seconds, proc.stdout


_STAGES = """
import json, resource, sys, time
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
# The child's own peak: DuckDB's memory is in this process.
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps({"stages_s": marks, "peak_rss_gib": round(peak, 2),
                  "users": len(e), "stays": int(e["stays"].sum()),
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
                   help="also compare Spark with DuckDB on the first N users (0: skip; "
                        "the number of users or more: the whole file, against the run above)")
    p.add_argument("--spark-driver-memory", default="4g",
                   help="the Spark driver's heap (local mode: the executors' too)")
    p.add_argument("--baseline-src", type=Path, default=None,
                   help="also run segwise imported from this src/ folder, for the ratio")
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
    seconds, stdout = _run([PYTHON, "-c", _STAGES, str(pings), str(out), "duckdb"], env)
    figures = json.loads(stdout.strip().splitlines()[-1])
    print(f"end to end (DuckDB): {seconds:,.0f} s wall, peak RSS "
          f"{figures['peak_rss_gib']:.2f} GiB; {args.pings / seconds:,.0f} pings/s")
    print(json.dumps(figures, indent=1))
    if args.baseline_src:
        base = args.data / "out" / "baseline" / "users.parquet"
        env_base = {**env, "PYTHONPATH": str(args.baseline_src.resolve())}
        s, stdout = _run([PYTHON, "-c", _STAGES, str(pings), str(base), "duckdb"], env_base)
        before = json.loads(stdout.strip().splitlines()[-1])
        print(f"baseline ({args.baseline_src}): {s:,.0f} s wall, peak RSS "
              f"{before['peak_rss_gib']:.2f} GiB; this checkout is {s / seconds:.2f}x as fast")
        for name in ("users.parquet", "users.locations.parquet", "users.assignments.csv"):
            same = _same(out.with_name(name), base.with_name(name))
            print(f"  {name}: {'identical' if same else 'DIFFERENT'} to the baseline's")
    if args.spark_users:
        import duckdb

        whole = args.spark_users >= args.users
        compare = pings if whole else args.data / f"pings_first_{args.spark_users}.parquet"
        if not whole:
            duckdb.sql(f"""COPY (SELECT * FROM '{pings}' WHERE subscriber IN (
                SELECT DISTINCT subscriber FROM '{pings}' ORDER BY subscriber
                LIMIT {args.spark_users})) TO '{compare}' (FORMAT parquet)""")
        # The Spark driver holds the collected stays (about 6 M rows at 100 M pings).
        env_spark = {**env, "PYSPARK_SUBMIT_ARGS":
                     f"--driver-memory {args.spark_driver_memory} pyspark-shell"}
        runs = {"duckdb": out} if whole else {}
        for engine in ("duckdb", "spark"):
            if engine in runs:
                continue
            o = args.data / "out" / engine / "users.parquet"
            s, stdout = _run([PYTHON, "-c", _STAGES, str(compare), str(o), engine],
                             env_spark if engine == "spark" else env)
            runs[engine] = o
            stages = json.loads(stdout.strip().splitlines()[-1])["stages_s"]
            print(f"{engine} on {'all' if whole else 'the first'} {args.spark_users:,} users: "
                  f"{s:,.0f} s; stages {stages}")
        for name in ("users.locations.parquet", "users.parquet"):
            a = duckdb.sql(f"SELECT * FROM '{runs['duckdb'].with_name(name)}' ORDER BY ALL")
            b = duckdb.sql(f"SELECT * FROM '{runs['spark'].with_name(name)}' ORDER BY ALL")
            rows_a, rows_b = a.fetchall(), b.fetchall()
            print(f"{name}: {len(rows_a):,} rows (DuckDB) and {len(rows_b):,} (Spark); "
                  f"identical: {rows_a == rows_b}")


def _same(a: Path, b: Path) -> bool:
    """Whether two output files hold the same rows in the same order."""
    import duckdb

    return duckdb.sql(f"SELECT * FROM '{a}'").fetchall() == \
        duckdb.sql(f"SELECT * FROM '{b}'").fetchall()


if __name__ == "__main__":
    main()
