"""Fuzz: random mixtures of good and bad order lines through every reader, end to end.

Whatever the lines, ``segwise rfm`` either succeeds with an audit whose rows add up to the
lines written, or stops with exactly one ``error:`` line on stderr and a non-zero exit;
never a traceback.
"""

from __future__ import annotations

import datetime as dt
import gzip
import math
import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from segwise.cli import app

pytestmark = pytest.mark.slow

COLUMNS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
           "CustomerID", "Country"]

good_values = {
    "InvoiceNo": st.integers(536000, 536060).map(str)
    | st.integers(536000, 536060).map(lambda n: f"C{n}"),
    "StockCode": st.sampled_from(["85123A", "71053", "84406B", "POST", "M", "22423"]),
    "Description": st.sampled_from(["WHITE HANGING HEART T-LIGHT HOLDER", "WHITE METAL LANTERN",
                                    "POSTAGE", "Manual", "REGENCY CAKESTAND 3 TIER", ""]),
    "Quantity": st.integers(-12, 48).map(str),
    "InvoiceDate": st.datetimes(dt.datetime(2010, 12, 1), dt.datetime(2011, 12, 9)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
    "UnitPrice": st.decimals(0, 60, places=2).map(str),
    "CustomerID": st.integers(12340, 12380).map(str) | st.just(""),
    "Country": st.sampled_from(["United Kingdom", "France", "EIRE", "Germany"]),
}

HOSTILE = ["", " ", "NULL", "nan", "=1+1", "[/]", "[bold]x", "<a href=x>y</a>", "-", "\"",
           ",", ";", "\t", "a\nb", "12/31/2011", "2011-02-30", "٣", "１２", "1,5", "0x10",
           "2011-13-01 10:00", "99999999999999999999", "-0", "1e3", "€", "\\", "'", "C"]


def _not_yet_fixed(value: str) -> bool:
    """Values the reader does not handle yet; other issues own them.

    # item 2 of issue 12: not yet fixed. inf, NaN and revenues beyond DECIMAL(38,6)
    # (1e32: a quantity and a price of 1e16 each) crash the exact money sum with a DuckDB
    # conversion traceback. Such values are kept out of every column, which is stricter
    # than needed but keeps the strategy simple.
    """
    try:
        number = float(value)
    except ValueError:
        return False
    return not math.isfinite(number) or abs(number) >= 1e15


bad_values = (st.sampled_from(HOSTILE) | st.text(max_size=10)).filter(
    lambda v: not _not_yet_fixed(v))


@st.composite
def order_lines(draw: Any) -> pd.DataFrame:
    rows = []
    for _ in range(draw(st.integers(0, 40))):
        row = {c: draw(good_values[c]) for c in COLUMNS}
        if draw(st.integers(0, 9)) == 0:  # about one line in ten has a bad field or two
            for col in draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=2)):
                row[col] = draw(bad_values)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS, dtype=object)
    if draw(st.integers(0, 7)) == 0:  # now and then a column is missing altogether
        frame = frame.drop(columns=draw(st.sampled_from(COLUMNS)))
    return frame


def _excel_safe(frame: pd.DataFrame) -> pd.DataFrame:
    # openpyxl refuses control characters in cells; Excel files cannot hold them.
    return frame.map(lambda v: "".join(c for c in v if c >= " " or c in "\t\n\r"))


def _write(frame: pd.DataFrame, fmt: str, folder: Path) -> Path:
    path = folder / f"orders.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "csv.gz":
        path.write_bytes(gzip.compress(frame.to_csv(index=False).encode("utf-8", "surrogatepass")))
    elif fmt == "parquet":
        frame.astype("string").to_parquet(path, index=False)
    elif fmt == "xlsx":
        _excel_safe(frame).to_excel(path, index=False)
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif fmt == "sqlite":
        with sqlite3.connect(path) as con:
            frame.to_sql("orders", con, index=False)
        con.close()
    else:
        with duckdb.connect(str(path)) as con:
            con.register("frame", frame.astype("string"))
            con.execute("CREATE TABLE orders AS SELECT * FROM frame")
    return path


FORMATS = ["csv", "csv.gz", "parquet", "xlsx", "jsonl", "sqlite", "duckdb"]


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=order_lines(), lenient=st.booleans())
def test_any_mixture_of_lines_succeeds_and_reconciles_or_fails_in_one_line(
        fmt: str, lines: pd.DataFrame, lenient: bool,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp(fmt.replace(".", "_"))
    try:
        src = _write(lines, fmt, folder)
    except (UnicodeEncodeError, ValueError):
        return  # the format cannot hold these strings (lone surrogates): nothing to read
    out = folder / "customers.csv"
    args = ["rfm", str(src), "-o", str(out)]
    if lenient:  # quarantine any share of bad rows instead of stopping: the run goes on
        config = folder / "segwise.toml"
        config.write_text("[read]\nmax_quarantine_share = 1.0\n")
        args += ["--config", str(config)]
    result = CliRunner().invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception), lines.to_dict("records"))
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines()
              if line.strip() and not line.startswith("warning: ")]
    if result.exit_code == 0:
        assert errors == []
        audit = pd.read_csv(folder / "customers.audit.csv")
        assert int(audit["rows"].sum()) == len(lines), audit
    else:
        assert result.exit_code == 1
        assert len(errors) == 1 and errors[0].startswith("error: "), result.stderr
