"""SIGKILL at any point of a run leaves every previous output byte for byte, or the new one.

Each trial starts ``segwise rfm`` over a folder holding the outputs of an earlier run (with
another reference date, so old and new differ) and kills it with SIGKILL: at random times,
and at the first sign of writing in the folder (the moment a plain write would leave a
truncated file). Afterwards each output must be exactly the old file or exactly the file an
uninterrupted run writes; only hidden temporary files may be left beside them.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

_SEGWISE = "import sys; from segwise.cli import main; sys.argv[0] = 'segwise'; main()"


def _start(src: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our interpreter and code
        [sys.executable, "-c", _SEGWISE, "rfm", str(src), "-o", str(out), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _run(src: Path, out: Path, *extra: str) -> None:
    proc = _start(src, out, *extra)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()


def _state(folder: Path) -> dict[str, tuple[int, int]]:
    state = {}
    for entry in os.scandir(folder):
        if entry.name.startswith(".segwise-probe-"):  # the check that the folder is writable
            continue
        try:
            st = entry.stat()
        except FileNotFoundError:  # renamed away while listed
            continue
        state[entry.name] = (st.st_size, st.st_mtime_ns)
    return state


def _kill_at_first_write(proc: subprocess.Popen[bytes], folder: Path) -> None:
    before = _state(folder)
    while proc.poll() is None and _state(folder) == before:
        time.sleep(0.0005)
    proc.send_signal(signal.SIGKILL)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}


@pytest.fixture(scope="module")
def orders(retail_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100,000 Online Retail lines, two of them unparseable (so a quarantine is written)."""
    df = pd.read_csv(retail_csv, nrows=100_000, dtype=str, keep_default_na=False)
    df.loc[10, "InvoiceDate"] = "not a date"
    df.loc[20, "Quantity"] = "many"
    path = tmp_path_factory.mktemp("kill") / "orders.csv"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("name", ["customers.csv", "customers.duckdb"])
def test_sigkill_leaves_previous_outputs_intact(orders: Path, tmp_path: Path, name: str) -> None:
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    _run(orders, old_dir / name, "--as-of", "2011-06-30")
    t0 = time.perf_counter()
    _run(orders, new_dir / name)
    duration = time.perf_counter() - t0
    old, new = _files(old_dir), _files(new_dir)
    assert set(old) == set(new) and old[name] != new[name]  # the quarantine is the same

    def new_database(path: Path) -> bool:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute("SELECT max(recency_days) FROM customers").fetchone() == (
                duckdb.connect(str(new_dir / name), read_only=True)
                .execute("SELECT max(recency_days) FROM customers").fetchone())

    rng = random.Random(12)
    # Random moments over the whole run, denser near the end, where the writing is; and
    # kills at the first change in the folder.
    delays = sorted(rng.uniform(0.3, 1.05) * duration for _ in range(4))
    trials: list[float | None] = [*delays, None, None]
    outcomes = []
    for i, delay in enumerate(trials):
        trial = tmp_path / f"trial{i}"
        shutil.copytree(old_dir, trial)
        proc = _start(orders, trial / name)
        if delay is None:
            _kill_at_first_write(proc, trial)
        else:
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=300)
        now = _files(trial)
        assert set(now) == set(old), (delay, sorted(now))
        for f, data in now.items():
            if data == old[f]:
                outcomes.append("old")
            elif name.endswith(".duckdb"):
                assert new_database(trial / f), (delay, f)
                outcomes.append("new")
            else:
                assert data == new[f], (delay, f, "neither the old file nor the new one")
                outcomes.append("new")
        leftovers = [p.name for p in trial.iterdir() if p.name.startswith(".")]
        assert all(n.endswith((".tmp", ".tmp.wal")) for n in leftovers), leftovers
    assert "old" in outcomes
