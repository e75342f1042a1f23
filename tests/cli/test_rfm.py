"""The CLI in-process: rfm, demo, errors, help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import typer.main
from typer.testing import CliRunner

from segwise.cli import app

runner = CliRunner()


def test_every_command_has_help() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    group = typer.main.get_command(app)
    commands = group.commands  # type: ignore[attr-defined]
    assert {"rfm", "demo"} <= set(commands)
    for name, command in commands.items():
        assert command.help, f"command {name} has no help text"
        assert runner.invoke(app, [name, "--help"]).exit_code == 0


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_rfm_writes_customers_and_audit(
    retail_sample: pd.DataFrame, tmp_path: Path, suffix: str
) -> None:
    src = tmp_path / "orders.csv"
    retail_sample.to_csv(src, index=False)
    out = tmp_path / f"customers{suffix}"
    result = runner.invoke(app, ["rfm", str(src), "-o", str(out), "--as-of", "2010-12-10"])
    assert result.exit_code == 0, result.output
    assert "Champions" in result.output and "Cleaning audit" in result.output
    customers = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert {"customer_id", "segment", "action", "r_score"} <= set(customers.columns)
    assert customers["segment"].notna().all()
    audit = pd.read_csv(tmp_path / "customers.audit.csv")
    assert audit["rows"].sum() == 5000


@pytest.mark.parametrize("command", ["rfm", "report"])
def test_an_as_of_date_before_every_line_says_to_choose_a_later_one(
    command: str, retail_sample: pd.DataFrame, tmp_path: Path
) -> None:
    # It used to send the user to the [columns] mapping and the cleaning rules.
    src = tmp_path / "orders.csv"
    retail_sample.to_csv(src, index=False)
    out = tmp_path / ("c.parquet" if command == "rfm" else "r.html")
    result = runner.invoke(app, [command, str(src), "-o", str(out), "--as-of", "2009-01-01"])
    assert result.exit_code == 1
    assert result.output.split() == (
        f"error: {src}: no customer is left after cleaning (see the audit: after_as_of "
        "5,000). Fix: choose a later --as-of (or [rfm] as_of) than 2009-01-01: the rows "
        "that parsed are dated after it").split()
    assert not out.exists()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_rfm_command_runs_without_pandas_or_other_sql_dialects(
    retail_sample: pd.DataFrame, tmp_path: Path, fmt: str
) -> None:
    # Importing pandas takes about a sixth of the command's run time (benchmarks/README.md),
    # so every step of `segwise rfm` on DuckDB works without it, the quarantine included:
    # of a text file with bad lines, and the empty one of typed columns, with a day given.
    src = tmp_path / f"orders.{fmt}"
    if fmt == "csv":
        lines = retail_sample.to_csv(index=False).splitlines()
        lines[5] = lines[5].replace("2010", "20x0", 1)  # a bad timestamp
        lines.insert(9, "one,field,too,few")  # an unreadable line
        src.write_text("\n".join(lines) + "\n")
    else:
        retail_sample.to_parquet(src)
    out = tmp_path / "customers.parquet"
    code = (
        "import sys\nfrom segwise.cli import main\n"
        f"sys.argv = ['segwise', 'rfm', {str(src)!r}, '-o', {str(out)!r},"
        " '--as-of', '2011-12-10']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pandas'))\n"
        "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules\n"
        "             if m.startswith('ibis.backends.sql.compilers.')))\n"
    )
    # Our own interpreter and code, no user input.
    run = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert run.stdout.splitlines()[-2] == "[]", run.stdout
    # Nor the SQL compilers of Ibis's other dialects (segwise._lazy.defer_package_init).
    assert run.stdout.splitlines()[-1] == "['_compat', 'base', 'duckdb']", run.stdout
    if fmt == "csv":
        quarantine = pd.read_csv(tmp_path / "customers.quarantine.csv")
        assert sorted(quarantine["row"]) == [5, 9]
    assert len(pd.read_parquet(out)) > 100


def test_rfm_error_is_one_line_and_exit_1(tmp_path: Path) -> None:
    empty = tmp_path / "e.csv"
    empty.write_text("")
    result = runner.invoke(app, ["rfm", str(empty), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "empty" in lines[0]


def test_bad_output_extension(retail_sample: pd.DataFrame, tmp_path: Path) -> None:
    src = tmp_path / "orders.csv"
    retail_sample.head(100).to_csv(src, index=False)
    result = runner.invoke(app, ["rfm", str(src), "-o", str(tmp_path / "o.xlsx")])
    assert result.exit_code == 2 and ".parquet, .csv or .duckdb, not .xlsx" in result.output


def test_quarantine_file_is_written(retail_sample: pd.DataFrame, tmp_path: Path) -> None:
    df = retail_sample.head(200).copy()
    df.loc[3, "InvoiceDate"] = "yesterday"
    src = tmp_path / "orders.csv"
    df.to_csv(src, index=False)
    result = runner.invoke(app, ["rfm", str(src), "-o", str(tmp_path / "c.parquet")])
    assert result.exit_code == 0, result.output
    q = pd.read_csv(tmp_path / "c.quarantine.csv")
    assert q["row"].tolist() == [4] and q["InvoiceDate"].tolist() == ["yesterday"]
    # Fixed and run again: no quarantine, and the old file does not stay to mislead.
    retail_sample.head(200).to_csv(src, index=False)
    result = runner.invoke(app, ["rfm", str(src), "-o", str(tmp_path / "c.parquet")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.audit.csv", "c.parquet",
                                                         "orders.csv"]


@pytest.mark.slow
def test_demo_runs_the_whole_job_on_bundled_data(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    customers = pd.read_parquet(tmp_path / "customers.parquet")
    assert len(customers) == 4_333
    assert "541,909" in result.output
    report = tmp_path / "report.html"
    assert 0 < report.stat().st_size < 10e6
    html = report.read_text(encoding="utf-8")
    assert "Champions" in html and "lifetime value" in html.lower()
    # The demo's database, and the command that opens the dashboard on it, last.
    from segwise.store import Store

    store = Store(tmp_path / "segwise.duckdb")
    run = store.run(store.latest_run_id())
    assert run["command"] == "demo" and run["n_entities"] == 4_333
    assert run["job"] == "rfm"  # as without the report; the dashboard's header named none
    assert store.segmentations(run["run_id"]) == ["rule", "learned"]
    # Each learned segment has its recommended action, in the store and in the report.
    learned = store.segments(run["run_id"], "learned")
    assert learned and all(s["action"] for s in learned), learned
    assert "Recommended action" in html and learned[0]["action"] in html
    assert result.output.strip().splitlines()[-1] == (
        f"Open the dashboard: segwise serve {tmp_path / 'segwise.duckdb'}")


def test_rfm_into_a_duckdb_database(retail_sample: pd.DataFrame, tmp_path: Path) -> None:
    src = tmp_path / "orders.csv"
    retail_sample.to_csv(src, index=False)
    db = tmp_path / "segwise.duckdb"
    result = runner.invoke(app, ["rfm", str(src), "-o", str(db)])
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(db), read_only=True) as con:
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        assert tables == {"customers", "segments", "audit", "quarantine"}
        n_customers = con.execute("SELECT count(*) FROM customers").fetchone()
        seg_total = con.execute("SELECT sum(customers) FROM segments").fetchone()
        audit_total = con.execute("SELECT sum(rows) FROM audit").fetchone()
    assert n_customers == seg_total
    assert audit_total == (5000,)


def test_memory_limit_option_reaches_duckdb(
    retail_sample: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import segwise.io._readers as readers

    seen: list[str | None] = []
    connect = readers.duckdb_connection

    def spy(memory_limit: str | None = None) -> object:
        seen.append(memory_limit)
        return connect(memory_limit)

    monkeypatch.setattr(readers, "duckdb_connection", spy)
    src = tmp_path / "orders.csv"
    retail_sample.head(500).to_csv(src, index=False)
    args = ["rfm", str(src), "-o", str(tmp_path / "o.parquet")]
    result = runner.invoke(app, [*args, "--memory-limit", " 512MB "])
    assert result.exit_code == 0, result.output
    assert seen == ["512MB"]
    bad = runner.invoke(app, [*args, "--memory-limit", "lots"])
    assert bad.exit_code == 1
    assert "--memory-limit = 'lots' is not a size" in bad.output


def test_a_missing_column_role_is_fixed_the_way_segwise_was_called(
    retail_sample: pd.DataFrame, tmp_path: Path
) -> None:
    # Every caller was sent to a config file, which a notebook's functions never read.
    from segwise.config import SegwiseConfig
    from segwise.exceptions import InputError
    from segwise.io import load_transactions
    from segwise.jobs import run_rfm

    frame = retail_sample.rename(columns={"CustomerID": "Kunde"})
    src = tmp_path / "orders.csv"
    frame.to_csv(src, index=False)
    found = ", ".join(frame.columns)
    cli = runner.invoke(app, ["rfm", str(src), "-o", str(tmp_path / "c.parquet")])
    assert cli.exit_code == 1
    assert " ".join(cli.output.split()) == (
        f"error: {src}: required column for customer_id not found (columns found: {found}). "
        'Fix: rename the column, or map it in a config file: [columns] customer_id = "..."')
    with pytest.raises(InputError) as job:
        run_rfm(frame)
    assert str(job.value).endswith('Fix: rename the column, or pass '
                                   'config=SegwiseConfig(columns={"customer_id": "..."})')
    with pytest.raises(InputError) as loader:
        load_transactions(src)
    assert str(loader.value).endswith(
        'Fix: rename the column, or pass columns={"customer_id": "..."}')
    # Each fix works as it is written.
    mapped = run_rfm(frame, config=SegwiseConfig(columns={"customer_id": "Kunde"}))
    pd.testing.assert_frame_equal(mapped.customers, run_rfm(retail_sample).customers)
    assert load_transactions(src, columns={"customer_id": "Kunde"}).n_input == len(frame)
