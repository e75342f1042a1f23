"""Load test of ``POST /score`` on loopback: a fixed request rate for a fixed time.

Starts ``segwise serve`` on 127.0.0.1 (an empty store, the given assigner model) in its own
process, then sends new customers' first orders (real Online Retail customers, their first
three orders) at a constant rate from an asyncio loop, open-loop: each request is due at
its scheduled time whether or not earlier ones have answered, and its latency is measured
from that time, so a slow server cannot hide its queue (no coordinated omission). The loop
stops by itself after ``--duration`` seconds; every request has a timeout, and the script
reports how many were sent, answered 200, answered otherwise, or failed.

Baseline, measured in the same run: one customer scored alone, in process, with the same
library call the server batches (``OrderScorer.score``).

Only 127.0.0.1 is ever contacted.

    python benchmarks/score_load.py --model assigner.skops --rate 200 --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HOST = "127.0.0.1"
TOKEN = "load-test-token"  # noqa: S105 - the throw-away server's


def payloads(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` score requests: real customers' lines of their first three orders."""
    import pandas as pd

    from segwise.datasets import online_retail_path

    raw = pd.read_parquet(online_retail_path())
    raw = raw[raw["CustomerID"].notna() & (raw["Quantity"] > 0)]
    raw = raw.assign(customer=raw["CustomerID"].astype("int64").astype(str))
    first = raw.groupby(["customer", "InvoiceNo"], as_index=False)["InvoiceDate"].min()
    first["rank"] = first.groupby("customer")["InvoiceDate"].rank(method="first")
    keep = first[first["rank"] <= 3][["customer", "InvoiceNo"]]
    lines = raw.merge(keep, on=["customer", "InvoiceNo"])
    rng = np.random.default_rng(seed)
    customers = rng.choice(lines["customer"].unique(), size=n, replace=True)
    by_customer = {c: g for c, g in lines.groupby("customer")}
    out = []
    for i, c in enumerate(customers):
        g = by_customer[c]
        out.append({"customer_id": f"load-{i}", "orders": [
            {"order_id": str(r.InvoiceNo), "timestamp": r.InvoiceDate.isoformat(),
             "product_id": str(r.StockCode), "quantity": float(r.Quantity),
             "unit_price": float(r.UnitPrice), "country": str(r.Country)}
            for r in g.itertuples()]})
    return out


def baseline(model: Path, requests: list[dict[str, Any]], repeats: int = 20) -> float:
    """Median seconds to score one customer alone, in process."""
    from segwise.predict import OrderScorer, TrainedAssigner, order_lines_table
    from segwise.web import ScoreRequest

    scorer = OrderScorer(TrainedAssigner.load(model))
    times = []
    for request in requests[:repeats]:
        req = ScoreRequest.model_validate(request)
        table = order_lines_table({req.customer_id: [o.model_dump() for o in req.orders]})
        start = time.perf_counter()
        scorer.score(table)
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:])


def cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by a process and its children (Linux ``/proc``; else NaN)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        pids = [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
        for p in pids:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    except (OSError, ValueError):
        return float("nan")
    return total


def start_server(model: Path, store: Path, options: tuple[str, ...] = ()
                 ) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SEGWISE_TOKEN": TOKEN}
    proc = subprocess.Popen(  # noqa: S603 - this interpreter, segwise's own CLI
        [sys.executable, "-m", "segwise", "serve", str(store), "--host", HOST,
         "--port", str(port), "--model", str(model), *options], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, port


async def wait_ready(base: str, timeout: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(base + "/openapi.json")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("the server did not start")


async def load(base: str, requests: list[dict[str, Any]], rate: float, duration: float,
               timeout: float, connections: int = 64) -> dict[str, Any]:
    """Send ``rate`` requests per second for ``duration`` seconds; collect the outcomes.

    A minimal HTTP/1.1 client on asyncio streams, over ``connections`` kept-alive
    connections: a request due while every connection is busy waits for one, and that
    wait counts in its latency (open loop, as wrk2 measures). The bodies are encoded
    before the clock starts. httpx was the bottleneck here: its pool looks through every
    waiting request each time a connection frees, and with the load generator on the
    server's two cores it spent ~13 ms of CPU per request (1,000 requests in 5 s kept it
    busy for 30-40 s) while the server idled.
    """
    import json

    host, port = base.removeprefix("http://").split(":")
    bodies = [json.dumps(r).encode() for r in requests]
    heads = [(f"POST /score HTTP/1.1\r\nHost: {host}:{port}\r\n"
              f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(b)}\r\n\r\n").encode() for b in bodies]
    n = int(rate * duration)
    latencies: list[float] = []
    timeline: list[float] = []  # when each answered request was due, from the start
    statuses: dict[int, int] = {}
    failures: list[str] = []
    due_queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    t0 = time.perf_counter() + 0.5

    async def schedule() -> None:
        for i in range(n):
            due = t0 + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            due_queue.put_nowait((i, due))
        for _ in range(connections):
            due_queue.put_nowait(None)

    async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       i: int) -> int:
        k = i % len(bodies)
        writer.write(heads[k] + bodies[k])
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        return status

    async def connection() -> None:
        reader = writer = None
        while (item := await due_queue.get()) is not None:
            i, due = item
            try:
                if reader is None or writer is None:
                    reader, writer = await asyncio.open_connection(host, int(port))
                status = await asyncio.wait_for(exchange(reader, writer, i), timeout)
            except (OSError, TimeoutError, ValueError, IndexError,
                    asyncio.IncompleteReadError) as exc:
                failures.append(type(exc).__name__)
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            latencies.append(time.perf_counter() - due)
            timeline.append(due - t0)
            statuses[status] = statuses.get(status, 0) + 1
        if writer is not None:
            writer.close()

    await asyncio.gather(schedule(), *(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - t0
    return {"sent": n, "elapsed": elapsed, "latencies": latencies, "timeline": timeline,
            "statuses": statuses, "failures": failures}


def tail(latencies_ms: np.ndarray, due_s: np.ndarray, *, slowest: int = 5,
         warmup_s: float = 5.0) -> list[str]:
    """Say where the latency tail lies in the run: when its slowest requests were due.

    The percentiles say how slow the tail is, not when: the slowest requests' due times,
    and p99 and max with the first ``warmup_s`` seconds apart, tell a warm-up (the first
    batches: product codes DuckDB has not matched yet) from stalls spread over the run.
    """
    order = np.argsort(latencies_ms)[::-1][:slowest]
    lines = ["  slowest: " + ", ".join(f"{latencies_ms[i]:.0f} ms due at {due_s[i]:.1f} s"
                                       for i in order)]
    for name, part in (("first", due_s < warmup_s), ("after", due_s >= warmup_s)):
        if part.any():
            lines.append(f"  {name} {warmup_s:g} s: {int(part.sum()):,} answered, p99 "
                         f"{np.percentile(latencies_ms[part], 99):.0f} ms, max "
                         f"{latencies_ms[part].max():.0f} ms")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="assigner model (.skops)")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--scoring", choices=("thread", "process"), default="process",
                        help="where the server scores: a worker process (segwise serve's "
                             "default) or a thread of its own (--scoring-thread)")
    args = parser.parse_args()
    if not 0 < args.rate <= 2000 or not 0 < args.duration <= 600:
        raise SystemExit("rate must be in (0, 2000] and duration in (0, 600] seconds")
    warnings.simplefilter("ignore")
    requests = payloads(2000)
    alone = baseline(args.model, requests)
    print(f"baseline measured: {alone * 1000:.0f} ms; starting the server", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        from segwise.store import Store

        store = Path(tmp) / "empty.duckdb"
        Store(store).close()  # serve opens only an existing store
        options = (f"--scoring-{args.scoring}",)
        proc, port = start_server(args.model, store, options)
        try:
            base = f"http://{HOST}:{port}"
            asyncio.run(wait_ready(base))
            server0, sender0, load0 = cpu_seconds(proc.pid), time.process_time(), os.getloadavg()
            result = asyncio.run(load(base, requests, args.rate, args.duration, args.timeout))
            server_cpu = cpu_seconds(proc.pid) - server0
            sender_cpu = time.process_time() - sender0
            load1 = os.getloadavg()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    lat = np.array(result["latencies"]) * 1000
    ok = result["statuses"].get(200, 0)
    print(f"POST /score at {args.rate:.0f} req/s for {args.duration:.0f} s on {HOST} "
          f"({os.cpu_count()} cores, load generator on the same machine), scoring in "
          f"{'a thread' if args.scoring == 'thread' else 'a worker process'}")
    print(f"  sent {result['sent']:,}; answered 200: {ok:,}; other statuses: "
          f"{ {k: v for k, v in result['statuses'].items() if k != 200} }; failed (no "
          f"answer): {len(result['failures']):,}")
    print(f"  achieved {ok / result['elapsed']:.1f} answered req/s over {result['elapsed']:.1f} s")
    if len(lat):
        print(f"  latency ms from scheduled send: p50 {np.percentile(lat, 50):.0f}, "
              f"p90 {np.percentile(lat, 90):.0f}, p99 {np.percentile(lat, 99):.0f}, "
              f"max {lat.max():.0f}")
        print("\n".join(tail(lat, np.array(result["timeline"]))))
    print(f"  CPU seconds during the load: server (with its scoring worker) {server_cpu:.1f}, "
          f"load generator {sender_cpu:.1f}, over {result['elapsed']:.1f} s on "
          f"{os.cpu_count()} cores; machine load average {load0[0]:.1f} before, "
          f"{load1[0]:.1f} after")
    answered = sum(result["statuses"].values())
    if answered:
        print(f"  server CPU per answered request: {server_cpu / answered * 1000:.1f} ms")
    if len(lat):
        print(f"  baseline, one customer scored alone in process: {alone * 1000:.0f} ms "
              f"(p99 / baseline = {np.percentile(lat, 99) / (alone * 1000):.1f})")


if __name__ == "__main__":
    main()
