"""Hostile inputs and settings at the command line: a result, or one line and exit 1.

The README promises that errors end the run with one line naming the file, the row or
column, and the fix. Each probe here (numbers, dates, ids, config values, memory, the
Spark master) either runs, with every row accounted for, or ends in exactly one line on
stderr; none ends in a traceback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from segwise.cli import app

runner = CliRunner()


def _csv(sample: pd.DataFrame, path: Path, edit: Callable[[pd.DataFrame], None]) -> Path:
    data = sample.head(400).copy()
    edit(data)
    data.to_csv(path, index=False)
    return path


def _parquet(sample: pd.DataFrame, path: Path, edit: Callable[[pd.DataFrame], None]) -> Path:
    data = sample.head(400).assign(
        Quantity=lambda d: d["Quantity"].astype("float64"),
        UnitPrice=lambda d: d["UnitPrice"].astype("float64"),
        InvoiceDate=lambda d: pd.to_datetime(d["InvoiceDate"]),
        CustomerID=lambda d: pd.to_numeric(d["CustomerID"]).astype("float64"),
    )
    edit(data)
    data.to_parquet(path)
    return path


def _set(column: str, value: object, rows: slice = slice(3, 3)) -> Callable[[pd.DataFrame], None]:
    def edit(data: pd.DataFrame) -> None:
        data.loc[rows, column] = value

    return edit


def _day_month(data: pd.DataFrame) -> None:
    ts = pd.to_datetime(data["InvoiceDate"])
    data["InvoiceDate"] = ts.dt.strftime("%d/%m/%Y %H:%M")


def _tz(data: pd.DataFrame) -> None:
    data["InvoiceDate"] = data["InvoiceDate"].dt.tz_localize("America/New_York")


#: name -> (writer, edit, extra arguments, expected exit code, text that must appear,
#: rows quarantined)
PROBES: dict[str, tuple] = {
    "price inf (csv)": (_csv, _set("UnitPrice", "inf"), [], 0, "Customers:", 1),
    "quantity 1e300 (csv)": (_csv, _set("Quantity", "1e300"), [], 0, "Customers:", 1),
    "price Infinity (csv)": (_csv, _set("UnitPrice", "Infinity"), [], 0, "Customers:", 1),
    "quantity -inf (parquet)": (_parquet, _set("Quantity", -np.inf), [], 0, "Customers:", 1),
    "price 1e40 (parquet)": (_parquet, _set("UnitPrice", 1e40), [], 0, "Customers:", 1),
    "fractional id (parquet)": (_parquet, _set("CustomerID", 12346.5), [], 0, "Customers:",
                                1),
    "boolean ids (parquet)": (_parquet, lambda d: d.__setitem__("CustomerID", True), [], 1,
                              "true/false is not an id", 400),
    "day/month ambiguous (csv)": (_csv, _day_month, [], 1, "timestamp_format", 0),
    "dated 2099 (csv)": (_csv, _set("InvoiceDate", "2099-01-01 10:00:00"), [], 0,
                         "Customers:", 1),
    "as-of before the end (csv)": (_csv, _set("InvoiceDate", "2010-12-05 10:00:00",
                                              slice(200, None)),
                                   ["--as-of", "2010-12-02"], 0, "after_as_of", 0),
    "timezone-aware (parquet)": (_parquet, _tz, [], 0, "Customers:", 0),
}


@pytest.mark.parametrize("name", list(PROBES))
def test_data_probes_run_or_end_in_one_line(
    name: str, retail_sample: pd.DataFrame, tmp_path: Path
) -> None:
    write, edit, extra, code, text, n_quarantined = PROBES[name]
    src = write(retail_sample, tmp_path / ("orders.csv" if write is _csv else "orders.parquet"),
                edit)
    result = runner.invoke(app, ["rfm", str(src), "-o", str(tmp_path / "out.parquet"), *extra])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    if code:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and str(src) in lines[0] and text in lines[0], result.stderr
        return
    assert text in result.stdout
    audit = pd.read_csv(tmp_path / "out.audit.csv").set_index("step")["rows"]
    assert audit.sum() == 400 and audit["quarantined"] == n_quarantined
    if name.startswith("as-of"):
        assert audit["after_as_of"] == 200  # the lines dated 5 December


def _one_line(args: list[str]) -> str:
    """Run the CLI; it must fail with exactly one line on stderr, which is returned."""
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.strip().splitlines()
    return line


CONFIG_PROBES = {
    "[rfm]\nas_of = 12\n": "[rfm] as_of = 12: expected a date",
    '[cleaning]\noutlier_max_z = "x"\n': "[cleaning] outlier_max_z",
    '[cleaning]\nnon_product_pattern = "("\n': "[cleaning] non_product_pattern",
    '[read]\ntimestamp_format = "%Q"\n': "[read] timestamp_format",
    '[cleaning]\nduplicates = "no"\n': '[cleaning] duplicates = "no": expected true or',
}


@pytest.mark.parametrize("config", list(CONFIG_PROBES))
def test_config_probes_end_in_one_line_before_any_work(config: str, tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(config)
    missing = tmp_path / "not-read-because-the-config-is-checked-first.csv"
    line = _one_line(["rfm", str(missing), "-o", str(tmp_path / "o.parquet"), "--config",
                      str(cfg)])
    assert str(cfg) in line and CONFIG_PROBES[config] in line


def _out_of_memory_then_rerun(src: Path, limit: str, tmp_path: Path) -> None:
    out = str(tmp_path / "o.parquet")
    line = _one_line(["rfm", str(src), "-o", out, "--memory-limit", limit])
    assert "ran out of memory" in line and "Fix: raise --memory-limit" in line
    suggested = line.split("Fix: raise --memory-limit")[1].split(" to ")[1].split()[0]
    assert suggested.endswith(("MB", "GB")) and int(suggested[:-2]) >= 125
    again = runner.invoke(app, ["rfm", str(src), "-o", out, "--memory-limit", suggested])
    assert again.exit_code == 0, again.output


def test_a_memory_limit_too_small_to_read_says_which_would_do(
    retail_sample: pd.DataFrame, tmp_path: Path
) -> None:
    src = tmp_path / "orders.csv"
    retail_sample.to_csv(src, index=False)
    _out_of_memory_then_rerun(src, "1MB", tmp_path)


@pytest.mark.slow
def test_a_memory_limit_too_small_to_aggregate_says_which_would_do(
    shared_data: Path, tmp_path: Path
) -> None:
    # The whole of Online Retail is read within 20 MB, and then runs out.
    _out_of_memory_then_rerun(shared_data / "uci-online-retail" / "online_retail.parquet",
                              "20MB", tmp_path)


SPARK_MASTERS = {
    "spark://127.0.0.1:9": "cannot reach the Spark master spark://127.0.0.1:9",
    "spark://no-such-host.invalid:7077": "cannot reach the Spark master",
    "sparkk://host:7077": "is not a Spark master URL",
}


@pytest.mark.parametrize("master", list(SPARK_MASTERS))
def test_an_unreachable_spark_master_is_one_line(
    master: str, retail_sample: pd.DataFrame, tmp_path: Path
) -> None:
    src = tmp_path / "orders.csv"
    retail_sample.head(50).to_csv(src, index=False)
    start = time.perf_counter()
    line = _one_line(["rfm", str(src), "-o", str(tmp_path / "o.parquet"), "--engine", "spark",
                      "--spark-master", master])
    assert SPARK_MASTERS[master] in line and "--spark-master" in line
    assert time.perf_counter() - start < 30  # no Spark started, no retries


def test_the_run_prints_customers_in_and_out(retail_sample: pd.DataFrame,
                                             tmp_path: Path) -> None:
    data = retail_sample.head(400).copy()
    # Customer 99999 only returns goods: its line is kept by cleaning, yet it has no output.
    data.loc[7, ["CustomerID", "InvoiceNo", "Quantity"]] = ["99999", "C999999", "-2"]
    src = tmp_path / "orders.csv"
    data.to_csv(src, index=False)
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["rfm", str(src), "-o", str(out)])
    assert result.exit_code == 0, result.output
    n_in = data.loc[data["CustomerID"] != "", "CustomerID"].nunique()
    n_out = len(pd.read_parquet(out))
    assert n_out < n_in
    assert (f"Customers: {n_in:,} in the rows that parsed, {n_out:,} out; "
            f"{n_in - n_out:,} have no row") in " ".join(result.stdout.split())


def test_one_customer_without_a_row_is_one_that_has_none(tmp_path: Path) -> None:
    src = tmp_path / "orders.csv"
    # The third customer's only order is a bad-debt adjustment ("A..."): removed.
    src.write_text("CustomerID,InvoiceNo,InvoiceDate,Quantity,UnitPrice\n"
                   "1,536365,2020-01-01,1,2.5\n2,536366,2020-01-02,1,2.5\n"
                   "3,A536367,2020-01-03,1,2.5\n")
    result = runner.invoke(app, ["rfm", str(src), "-o", str(tmp_path / "out.parquet")])
    assert result.exit_code == 0, result.output
    assert ("Customers: 3 in the rows that parsed, 2 out; 1 has no row"
            in " ".join(result.stdout.split()))
