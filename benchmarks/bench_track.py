"""Time monthly snapshots (`segwise track`) against one RFM run (`segwise rfm`), in one run.

The claim: the snapshots read the order lines once, however many dates there are, so
twelve monthly snapshots of a log cost little more than one RFM run on it (the target:
under 3x). Both run on the same Parquet file of synthetic order lines
(``generate_orders.py``, 2010-12-01 to 2011-12-09, so ``--every month`` gives 13
snapshots: the first of every month of 2011 and the day after the last purchase), with
the default cleaning rules, each in a fresh process, rounds interleaved so that a change
in the machine's load hits both alike. Reported per tool: the whole process (``segwise
rfm FILE -o OUT`` and ``segwise track FILE --every month -o OUT``, reading, cleaning,
scoring, printing and writing included) and the work inside a process (``run_rfm`` and
``run_track``), medians of the rounds.

Usage::

    python benchmarks/bench_track.py --lines 10_000_000 --repeat 3
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

from bench_rfm import measure  # noqa: E402 - the benchmark scripts sit side by side


def _worker(tool: str, path: str) -> dict[str, float]:
    import warnings

    warnings.simplefilter("ignore", UserWarning)  # collapsed quantile bins, expected here
    t0 = time.perf_counter()
    if tool == "rfm":
        from segwise.jobs import run_rfm

        customers = run_rfm(path).customers_table.num_rows
        return {"work": time.perf_counter() - t0, "customers": customers, "snapshots": 1}
    from segwise.jobs import run_track

    result = run_track(path, every="month")
    last = result.snapshots[result.snapshots["snapshot"] == result.snapshots["snapshot"].max()]
    return {"work": time.perf_counter() - t0, "customers": len(last),
            "snapshots": len(result.dates), "rows": len(result.snapshots)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, metavar=("TOOL", "PATH"), help=argparse.SUPPRESS)
    ap.add_argument("--lines", type=lambda s: int(s.replace("_", "")), default=10_000_000)
    ap.add_argument("--data", type=Path, help="Parquet file (generated when missing)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(_worker(*args.worker)))
        return

    print(f"# segwise track benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM, "
          f"load average {os.getloadavg()[0]:.1f}; Python {platform.python_version()}")
    path = args.data or HERE / "data" / f"orders_{args.lines}_s{args.seed}.parquet"
    if not path.exists():
        from generate_orders import generate

        t0 = time.perf_counter()
        generate(path, args.lines, seed=args.seed)
        print(f"generated {path} in {time.perf_counter() - t0:.0f} s")
    exe = Path(sys.executable).with_name("segwise")
    me = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    commands = {
        "segwise rfm (command)": lambda tmp: [str(exe), "rfm", str(path), "-o",
                                              f"{tmp}/rfm.parquet"],
        "segwise track --every month (command)": lambda tmp: [
            str(exe), "track", str(path), "--every", "month", "-o", f"{tmp}/track.parquet"],
        "run_rfm (work)": lambda tmp: [*me, "rfm", str(path)],
        "run_track, every month (work)": lambda tmp: [*me, "track", str(path)],
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for name, cmd in commands.items():
                runs[name].append(measure(cmd(tmp)))
    print(f"\n## {path.name} ({args.lines:,} lines), median of {args.repeat} interleaved rounds")
    print(f"{'run':40} {'seconds':>8} {'peak RSS':>10}  each")
    med = {}
    for name, rs in runs.items():
        key = "work" if "work" in rs[0] else "process"
        med[name] = statistics.median(r[key] for r in rs)
        peak = statistics.median(r["peak_mb"] for r in rs)
        each = ", ".join(f"{r[key]:.2f}" for r in rs)
        print(f"{name:40} {med[name]:8.2f} {peak:8,.0f} MB  {each}")
    track = runs["run_track, every month (work)"][0]
    print(f"\nsnapshots: {track['snapshots']:.0f} ({track['rows']:,.0f} customer rows; "
          f"{track['customers']:,.0f} customers at the last, "
          f"{runs['run_rfm (work)'][0]['customers']:,.0f} in the RFM run)")
    command = med["segwise track --every month (command)"] / med["segwise rfm (command)"]
    work = med["run_track, every month (work)"] / med["run_rfm (work)"]
    print(f"track / rfm: {command:.2f}x as commands, {work:.2f}x as work "
          f"(target: under 3x) -> {'met' if max(command, work) < 3 else 'NOT met'}")


if __name__ == "__main__":
    main()
