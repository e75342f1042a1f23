"""``segwise track`` in-process: files written, what it prints, errors before any reading."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from segwise.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def retail_parquet(shared_data: Path) -> Path:
    return shared_data / "uci-online-retail" / "online_retail.parquet"


@pytest.mark.slow
def test_track_quarterly_on_online_retail(retail_parquet: Path, tmp_path: Path) -> None:
    out = tmp_path / "track.parquet"
    result = runner.invoke(app, ["track", str(retail_parquet), "--every", "quarter", "-o",
                                 str(out), "--currency", "GBP"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Customers per segment at each snapshot" in result.output
    assert "177 customers went from Loyal to Champions" in result.output
    assert "Retention by cohort and age" in result.output
    snaps = pd.read_parquet(out)
    assert snaps.groupby("snapshot").size().tolist() == [884, 2131, 2957, 3612, 4333]
    flows = pd.read_csv(tmp_path / "track.migration.csv")
    assert (flows["from_segment"] == "(new)").any()
    # Every customer of a later snapshot appears once in the flows into it.
    into = flows.groupby("to_snapshot")["customers"].sum()
    assert into.tolist() == [2131, 2957, 3612, 4333]
    cohorts = pd.read_csv(tmp_path / "track.cohorts.csv")
    assert cohorts.drop_duplicates("cohort")["customers"].sum() == 4333
    assert pd.read_csv(tmp_path / "track.audit.csv")["rows"].sum() == 541_909
    for name in ("sizes", "cohort_mix"):
        assert (tmp_path / f"track.{name}.csv").exists()


@pytest.mark.slow
def test_track_to_a_database_with_learned_segments(
    retail_parquet: Path, tmp_path: Path
) -> None:
    out = tmp_path / "track.duckdb"
    result = runner.invoke(app, ["track", str(retail_parquet), "--every", "year",
                                 "--learned", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(out), read_only=True) as con:
        tables = {row[0] for row in con.sql("SHOW TABLES").fetchall()}
        assert {"snapshots", "sizes", "migration", "cohorts", "cohort_mix", "learned",
                "audit"} <= tables
        assert con.execute("SELECT count(DISTINCT learned_segment) FROM snapshots").fetchall() == [
            (3,)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dates", "2011-13-01"], "'2011-13-01' is not a day of the calendar"),
        (["--dates", "2011-06-01T10:00"], "has a time of day or a time zone after the day"),
        (["--dates", "01/06/2011"], "day/month or month/day"),
        (["--window", "soon"], "'soon' is not a length of time above 0 with a unit"),
        (["--window", "0d"], "'0d' is not a length of time above 0 with a unit"),
        # 99999999999y overflowed DuckDB's day arithmetic: a traceback after the scan.
        (["--window", "99999999999y"], "'99999999999y' is over 100 years, longer than any "
                                       "history. Fix: leave out --window"),
        (["--every", "week"], "Invalid value"),
    ],
)
def test_bad_options_fail_before_reading(args: list[str], message: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"  # never read: the options fail first
    result = runner.invoke(app, ["track", str(missing), "-o", str(tmp_path / "o.parquet"),
                                 *args])
    assert result.exit_code == 2  # a bad option value
    assert message in " ".join(result.output.split())


def test_a_warning_is_printed_as_text_not_markup(tmp_path: Path) -> None:
    # One-time buyers only: every snapshot's frequency bins collapse, which is warned
    # about; the console prints text as it is, so markup showed as "[yellow]warning:[/]".
    lines = ["InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID"]
    lines += [f"{1000 + i},A,2,2011-{1 + i % 10:02d}-{1 + i % 27:02d} 10:00:00,3.5,{i}"
              for i in range(300)]
    path = tmp_path / "once.csv"
    path.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["track", str(path), "-o", str(tmp_path / "t.parquet"),
                                 "--every", "month"])
    assert result.exit_code == 0, result.output
    assert "warning: quantile bins collapse" in result.output
    assert "[yellow]" not in result.output and "[/]" not in result.output


def test_a_snapshot_as_of_a_day_is_rfm_as_of_the_day_before(
    cdnow_csv: Path, cdnow_columns: dict[str, str], tmp_path: Path
) -> None:
    # `rfm --as-of D` includes day D; a track snapshot as of D holds the days before it.
    # Both are documented, and the printed table says which; this pins the relation the
    # docs state: the snapshot as of D is `rfm --as-of` the day before, recency + 1 day.
    config = tmp_path / "cdnow.toml"
    config.write_text("[columns]\n" + "".join(f'{k} = "{v}"\n' for k, v in
                                              cdnow_columns.items()))
    common = ["-c", str(config)]
    result = runner.invoke(app, ["track", str(cdnow_csv), "--dates", "1997-03-01,1997-06-01",
                                 "-o", str(tmp_path / "t.csv"), *common])
    assert result.exit_code == 0, result.output
    assert "at each snapshot (purchases before each date," in " ".join(result.output.split())
    snaps = pd.read_csv(tmp_path / "t.csv", dtype={"customer_id": str})
    snap = snaps[snaps["snapshot"].str.startswith("1997-03-01")].set_index("customer_id")
    rfm = {}
    for day in ("1997-02-28", "1997-03-01"):
        out = tmp_path / f"rfm-{day}.csv"
        done = runner.invoke(app, ["rfm", str(cdnow_csv), "--as-of", day, "-o", str(out),
                                   *common])
        assert done.exit_code == 0, done.output
        rfm[day] = pd.read_csv(out, dtype={"customer_id": str}).set_index("customer_id")
    before = rfm["1997-02-28"].loc[snap.index]
    assert len(snap) == len(rfm["1997-02-28"]) == 1631 < len(rfm["1997-03-01"]) == 1657
    assert (snap["segment"] == before["segment"]).all()
    assert (snap["recency_days"] == before["recency_days"] + 1).all()


def test_a_long_log_prints_the_tables_a_terminal_can_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Four years by month: 48 snapshots and 48 cohort ages. Every column of both tables
    # was printed, squeezed to nothing (a grid of empty cells on a 100-column terminal);
    # now the latest snapshots and the first ages that fit are shown, and the title says so.
    monkeypatch.setenv("COLUMNS", "100")
    lines = ["InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID"]
    lines += [f"{1000 + i},A,2,{2016 + (i // 12) % 4}-{1 + i % 12:02d}-{1 + i % 27:02d} "
              f"10:00:00,3.5,{i % 150}" for i in range(1200)]
    path = tmp_path / "years.csv"
    path.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["track", str(path), "-o", str(tmp_path / "t.csv"),
                                 "--every", "month"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "(last 6 of 48 snapshots; the files hold all)" in text
    assert "(first 17 of 48 ages; the files hold all)" in text
    sizes = text.split("Customers per segment")[1].split("Migration")[0]
    assert "2019-12-01 ┃ 2019-12-28 ┃" in sizes and "2019-07-01" not in sizes
    assert max(len(row) for row in result.output.splitlines() if row[:1] in "┏│└") <= 100
    assert pd.read_csv(tmp_path / "t.sizes.csv")["snapshot"].nunique() == 48


@pytest.mark.parametrize("target", ["orders.csv", "orders.cohorts.csv", "orders.txt"])
def test_an_output_that_cannot_be_written_fails_before_work(
    retail_sample: pd.DataFrame, tmp_path: Path, target: str
) -> None:
    # '-o' at the input overwrote Online Retail's lines with the snapshots; a side file
    # at the input, or a bad suffix, failed only after every snapshot was scored.
    src = tmp_path / ("orders.cohorts.csv" if target == "orders.cohorts.csv" else "orders.csv")
    retail_sample.to_csv(src, index=False)
    before = src.read_bytes()
    out = tmp_path / ("orders.parquet" if target == "orders.cohorts.csv" else target)
    result = runner.invoke(app, ["track", str(src), "-o", str(out),
                                 "--dates", "2010-12-02,2010-12-03"])
    # A suffix no command writes is a usage error (exit 2), as everywhere; the input
    # itself, or a side file at it, is an error of the run (exit 1).
    assert result.exit_code == (2 if target == "orders.txt" else 1), result.output
    assert "Fix:" in result.output and "Customers per segment" not in result.output
    assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [src.name]


def test_lines_that_cleaning_removes_entirely_are_said_as_rfm_says_them(
        tmp_path: Path) -> None:
    # Online Retail's bad-debt adjustments only (invoices A...): track said 'no purchase
    # order to track. Fix: check the input and the cleaning', naming neither the file nor
    # where the lines went; rfm names both.
    path = tmp_path / "adjustments.csv"
    path.write_text("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,"
                    "CustomerID,Country\n"
                    + "".join(f"A56393{i},B,Adjust bad debt,1,2011-0{1 + i}-12 14:5{i}:00,"
                              f"11062.06,1{i},United Kingdom\n" for i in range(3)))
    said = []
    for command in ("rfm", "track"):
        result = runner.invoke(app, [command, str(path), "-o", str(tmp_path / "o.parquet")])
        assert result.exit_code == 1, result.output
        said.append(result.stderr.strip())
    assert said[0] == said[1] == (
        f"error: {path}: no customer is left after cleaning (see the audit: "
        "bad_debt_adjustment 3). Fix: check the [columns] mapping and the rules of [cleaning]")


def test_a_snapshot_its_window_empties_is_skipped_by_the_printed_migration(
        tmp_path: Path) -> None:
    # Purchases in January, March and April; with a 30-day window the snapshot of
    # 2024-03-01 (February's window) holds nobody. The sizes were printed, then the
    # command stopped on the migration between the last two dates: 'no snapshot at
    # 2024-03-01', as the warning promised it would go from the snapshot before to after.
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,order_id,date,quantity,price\n"
                    "a,1,2024-01-05,1,10\na,2,2024-04-05,1,10\nb,3,2024-01-10,2,5\n"
                    "c,4,2024-04-02,1,7\nd,5,2024-03-20,1,4\n")
    result = runner.invoke(app, ["track", str(path), "-o", str(tmp_path / "t.csv"),
                                 "--dates", "2024-02-01,2024-03-01,2024-05-01",
                                 "--window", "30d"])
    assert result.exit_code == 0, result.output
    assert "snapshots hold no customer" in result.output
    assert "Migration from 2024-02-01 to 2024-05-01" in " ".join(result.output.split())
    assert sorted(pd.read_csv(tmp_path / "t.csv")["snapshot"].unique()) == [
        "2024-02-01", "2024-05-01"]
