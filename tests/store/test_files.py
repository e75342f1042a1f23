"""Result files: atomic writes, checks before work, spreadsheet-safe CSV."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from segwise.exceptions import ConfigError, UsageError
from segwise.store import (
    atomic_path,
    check_output,
    neutralise_formulas,
    write_database,
    write_table,
    write_tables,
    write_text,
)


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ----------------------------------------------------------------- atomic writes


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    out = tmp_path / "c.parquet"
    write_table(pa.table({"a": [1, 2]}), out)
    before = out.read_bytes()
    unwritable = pd.DataFrame({"a": [object(), object()]})  # pyarrow cannot convert it
    with pytest.raises(pa.ArrowInvalid):
        write_table(unwritable, out)
    assert out.read_bytes() == before
    assert _listing(tmp_path) == ["c.parquet"]


def test_files_written_together_are_renamed_together(tmp_path):
    main, side = tmp_path / "c.csv", tmp_path / "c.audit.csv"
    write_tables({main: pa.table({"a": [1]}), side: pa.table({"b": [2]})})
    before = {p: p.read_bytes() for p in (main, side)}
    with pytest.raises(pa.ArrowInvalid):
        write_tables({main: pa.table({"a": [3]}), side: pd.DataFrame({"b": [object()]}),
                      tmp_path / "c.parquet": pd.DataFrame({"b": [object()]})})
    assert {p: p.read_bytes() for p in (main, side)} == before  # the first is not replaced
    assert _listing(tmp_path) == ["c.audit.csv", "c.csv"]


def test_an_exception_in_the_block_removes_the_temporary(tmp_path):
    out = tmp_path / "r.html"
    out.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_text("half")
        assert tmp.parent == tmp_path and tmp.name.startswith(".r.html.")
        raise RuntimeError("killed")
    assert out.read_text() == "old"
    assert _listing(tmp_path) == ["r.html"]


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "users.parquet"
    # A writer killed with SIGKILL runs no cleanup: its temporary (and a DuckDB log) stay.
    killed = subprocess.run(  # noqa: S603 - our interpreter and code
        [sys.executable, "-c", "import os, sys\n"
         "from segwise.store import atomic_path\n"
         f"with atomic_path({str(out)!r}) as tmp:\n"
         "    tmp.write_bytes(b'half'); open(f'{tmp}.wal', 'w').close()\n"
         "    print(tmp.name, flush=True); os.kill(os.getpid(), 9)\n"],
        capture_output=True, text=True, check=False)
    assert killed.returncode == -9
    orphan = killed.stdout.strip()
    assert sorted(_listing(tmp_path)) == sorted([orphan, f"{orphan}.wal"])
    # A writer still running (this process) keeps its temporary; another file's stays too.
    with atomic_path(tmp_path / "other.csv") as other:
        other.write_text("x")
        with atomic_path(out) as live:
            live.write_bytes(b"x")
        with atomic_path(out) as busy:
            busy.write_bytes(b"y")
            write_table(pa.table({"a": [1]}), out)
            assert busy.name in _listing(tmp_path) and other.name in _listing(tmp_path)
    assert _listing(tmp_path) == ["other.csv", "users.parquet"]


def test_missing_folders_are_created(tmp_path):
    out = write_text("x", tmp_path / "a" / "b" / "r.md")
    assert out.read_text() == "x"


def test_a_database_keeps_its_other_tables(tmp_path):
    db = tmp_path / "o.duckdb"
    write_database({"customers": pa.table({"a": [1]}), "mine": pa.table({"m": [7]})}, db)
    write_database({"customers": pa.table({"a": [2, 3]})}, db)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT sum(a) FROM customers").fetchone() == (5,)
        assert con.execute("SELECT m FROM mine").fetchone() == (7,)
    assert _listing(tmp_path) == ["o.duckdb"]


_WRITER = """
import sys
import pyarrow as pa
from segwise.store import write_table
n, path = int(sys.argv[1]), sys.argv[2]
table = pa.table({"writer": [n] * 200_000, "i": range(200_000)})
for _ in range(15):
    write_table(table, path)
"""


def test_concurrent_writers_never_leave_a_corrupt_file(tmp_path):
    """Two processes rewrite one file while it is read: every read is a whole version."""
    out = tmp_path / "c.parquet"
    write_table(pa.table({"writer": [0] * 200_000, "i": range(200_000)}), out)
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(n), str(out)])  # noqa: S603
               for n in (1, 2)]
    seen = set()
    while any(w.poll() is None for w in writers):
        t = pq.read_table(out)  # a partial file would not parse, or have fewer rows
        assert t.num_rows == 200_000
        seen.update(t.column("writer").unique().to_pylist())
        time.sleep(0.002)
    assert [w.returncode for w in writers] == [0, 0]
    assert pq.read_table(out).column("writer").unique().to_pylist()[0] in {1, 2}
    assert seen <= {0, 1, 2}
    assert _listing(tmp_path) == ["c.parquet"]


# ----------------------------------------------------------------- checks before work


def test_the_suffix_is_checked(tmp_path):
    with pytest.raises(UsageError, match=r"o\.xlsx: the output must end in \.parquet or \.csv, "
                                         r"not \.xlsx\. Fix: change its suffix"):
        check_output(tmp_path / "o.xlsx", (".parquet", ".csv"))
    assert check_output(tmp_path / "O.CSV", (".parquet", ".csv")) == tmp_path / "O.CSV"


def test_an_output_that_is_an_input_is_refused(tmp_path):
    src = tmp_path / "orders.csv"
    src.write_text("a\n1\n")
    link = tmp_path / "link.csv"
    link.symlink_to(src)
    hard = tmp_path / "hard.csv"
    os.link(src, hard)
    for out in (src, link, hard, tmp_path / "." / "orders.csv"):
        with pytest.raises(ConfigError, match="is also an input of this run"):
            check_output(out, (".csv",), inputs=[src])
    # A side file can be the input too: orders.csv -> orders.audit.csv.
    with pytest.raises(ConfigError, match=r"orders\.csv: is also an input"):
        check_output(tmp_path / "orders.parquet", (".parquet",), side=[src], inputs=[None, src])


def test_folders_that_cannot_hold_the_output_are_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=r"cannot create the output folder, .*file is a file"):
        check_output(blocker / "sub" / "o.csv", (".csv",))
    with pytest.raises(ConfigError, match="is a folder"):
        check_output(tmp_path, None)
    check_output(tmp_path / "new" / "deeper" / "o.csv", (".csv",))
    assert not (tmp_path / "new").exists()  # checked, not created


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder no file can be created in, even by root (who ignores permission bits)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").touch()
    except OSError:
        yield folder
    else:  # root: a read-only kernel folder instead
        (folder / "probe").unlink()
        sys_folder = Path("/sys/kernel")
        try:
            (sys_folder / "segwise-probe").touch()
        except OSError:
            yield sys_folder
        else:  # pragma: no cover - no such folder on this machine
            pytest.skip("no read-only folder available")
    folder.chmod(0o755)


def test_a_read_only_folder_is_refused(read_only_folder):
    with pytest.raises(ConfigError, match="cannot write in this folder") as info:
        check_output(read_only_folder / "o.csv", (".csv",))
    assert "\n" not in str(info.value)


def test_an_existing_file_that_is_not_a_duckdb_database_is_refused(tmp_path):
    db = tmp_path / "o.duckdb"
    db.write_text("customer_id,segment\n1,Champions\n")
    with pytest.raises(ConfigError, match="exists and is not a DuckDB database"):
        check_output(db, (".duckdb",))
    with pytest.raises(ConfigError, match="exists and is not a DuckDB database"):
        write_database({"t": pa.table({"a": [1]})}, db)
    assert db.read_text().startswith("customer_id")
    db.write_bytes(b"")  # empty: nothing to keep
    check_output(db, (".duckdb",))
    write_database({"t": pa.table({"a": [1]})}, db)
    check_output(db, (".duckdb",))
    Path(f"{db}.wal").write_bytes(b"log")
    with pytest.raises(ConfigError, match="write-ahead log"):
        check_output(db, (".duckdb",))


# ----------------------------------------------------------------- spreadsheet formulas

RISKY = ["=1+1", "+SUM(A1:A9)", "-2+3+cmd|' /C calc'!A0", "@SUM(1)", "\t=1", "\r=1",
         " =HYPERLINK(\"http://x\")", "-x", "+", "=", "-1-1", "--5"]
SAFE = ["-5", "-12.5", "+3e4", "-.5", " -7 ", "a=b", "ab", "", "5-1", "x@y.com", "1e5"]


def test_text_cells_that_would_run_are_neutralised_numbers_are_not():
    table = pa.table({"text": RISKY + SAFE + [None],
                      "number": pa.array([-1.5] * (len(RISKY) + len(SAFE) + 1))})
    out = neutralise_formulas(table)
    assert out.column("text").to_pylist() == ["'" + v for v in RISKY] + SAFE + [None]
    assert out.column("number") == table.column("number")
    frame = pd.DataFrame({"text": RISKY + SAFE + [None], "cat": pd.Categorical(
        ["=1"] * (len(RISKY) + len(SAFE) + 1)), "n": -1})
    out_frame = neutralise_formulas(frame)
    assert out_frame["text"].tolist() == ["'" + v for v in RISKY] + SAFE + [None]
    assert set(out_frame["cat"]) == {"'=1"}
    assert (out_frame["n"] == -1).all()
    assert frame["text"].iloc[0] == "=1+1"  # the caller's frame is left alone


@given(st.text(max_size=12))
def test_neutralising_is_reversible_and_leaves_no_live_formula(value):
    [arrow] = neutralise_formulas(pa.table({"v": [value]})).column("v").to_pylist()
    [pandas] = neutralise_formulas(pd.DataFrame({"v": [value]}))["v"].tolist()
    assert arrow == pandas
    assert arrow in (value, "'" + value)
    first = arrow.lstrip(" \t\r\n")[:1]
    if first in {"=", "+", "-", "@"} or arrow[:1] in {"\t", "\r"}:
        float(arrow)  # only a plain number may start like a formula


@pytest.mark.parametrize("kind", ["arrow", "pandas"])
def test_csv_files_are_spreadsheet_safe_unless_kept(tmp_path, kind):
    data = {"customer_id": ["=HYPERLINK(\"http://evil\")", "-5", "c"], "m": [-1.0, 2.0, 3.0]}
    table = pa.table(data) if kind == "arrow" else pd.DataFrame(data)
    safe = pd.read_csv(write_table(table, tmp_path / "s.csv"), dtype={"customer_id": str})
    assert safe["customer_id"].tolist() == ["'=HYPERLINK(\"http://evil\")", "-5", "c"]
    assert safe["m"].tolist() == [-1.0, 2.0, 3.0]
    raw = pd.read_csv(write_table(table, tmp_path / "r.csv", keep_formulas=True),
                      dtype={"customer_id": str})
    assert raw["customer_id"].tolist() == data["customer_id"]
    parquet = pq.read_table(write_table(table, tmp_path / "p.parquet"))
    assert parquet.column("customer_id").to_pylist() == data["customer_id"]  # typed: as is


def test_os_errors_surface_with_the_file_and_reason(tmp_path, monkeypatch):
    from segwise.store import _files

    def full(df, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(_files, "_write_parquet", full)
    out = tmp_path / "c.parquet"
    with pytest.raises(OSError, match="No space left on device"):
        write_table(pa.table({"a": [1]}), out)
    assert _listing(tmp_path) == []
