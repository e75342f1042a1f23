from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segwise.cli import app

runner = CliRunner()


@pytest.mark.parametrize(("name", "extra"), [("report.md", []),
                                             ("summary.txt", ["-f", "json", "--no-segments",
                                                              "--no-clv"])])
def test_report_command_writes_the_format_asked(small_orders: Path, tmp_path: Path, name: str,
                                                extra: list[str]) -> None:
    out = tmp_path / name
    result = runner.invoke(app, ["report", str(small_orders), "-o", str(out), "--categories",
                                 "6", "--currency", "GBP", *extra])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output.replace("\n", "")
    text = out.read_text(encoding="utf-8")
    if extra:
        data = json.loads(text)
        assert data["meta"]["currency"] == "GBP"
        assert data["meta"]["source"] == "orders.parquet"
        keys = [s["key"] for s in data["sections"]]
        assert "categories" in keys
        assert "clusters" not in keys and "value" not in keys
        # The count asked for, whatever else the spend chart shows (Other, non-products).
        categories = next(c for s in data["sections"] for c in s["charts"]
                          if c["key"] == "categories")
        assert categories["reading"].startswith("6 categories were learned")
    else:
        assert text.startswith("# Customer segments")
        assert "Net revenue (GBP)" in text
        assert "## Learned segments" in text and "## Customer lifetime value" in text


def test_report_command_html_by_default(small_orders: Path, tmp_path: Path) -> None:
    out = tmp_path / "r" / "report"
    result = runner.invoke(app, ["report", str(small_orders), "-o", str(out), "--categories",
                                 "0", "--no-segments", "--no-clv"])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("customers", [1, 2, 3])
def test_a_report_of_a_handful_of_customers_says_what_it_leaves_out(
        retail_csv: Path, tmp_path: Path, customers: int) -> None:
    # A first day of trading: the sections that need more customers (learned segments,
    # lifetime value, the map) are left out with a note; the one customer's map crashed.
    import pandas as pd

    lines = pd.read_csv(retail_csv, nrows=5_000, dtype=str).dropna(subset=["CustomerID"])
    first = lines["CustomerID"].drop_duplicates().head(customers)
    path = tmp_path / "few.csv"
    lines[lines["CustomerID"].isin(first)].to_csv(path, index=False)
    out = tmp_path / "few.json"
    result = runner.invoke(app, ["report", str(path), "-o", str(out), "--categories", "0"])
    assert result.exit_code == 0, result.output
    keys = [s["key"] for s in json.loads(out.read_text(encoding="utf-8"))["sections"]]
    assert "segments" in keys and ("embedding" in keys) == (customers >= 3)
    assert "Learned segments are not shown" in result.output or customers >= 3


def test_report_command_reports_bad_input(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    result = runner.invoke(app, ["report", str(missing), "-o", str(tmp_path / "x.html")])
    assert result.exit_code == 1
    assert "nope.csv" in result.output


def test_report_command_takes_the_lifetime_value_settings(small_orders: Path,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["report", str(small_orders), "-o", str(out), "--categories",
                                 "0", "--no-segments", "--no-track", "--horizon", "26w",
                                 "--margin", "0.4", "--discount-rate", "0.08"])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    value = next(s for s in data["sections"] if s["key"] == "value")
    settings = {r["setting"]: r["value"] for r in value["tables"][0]["rows"]}
    assert settings["Horizon"].startswith("26.0 weeks")
    assert settings["Margin"] == "40% of spend (values are profit)"
    assert settings["Discount rate"] == "8.0% a year"
    bad = runner.invoke(app, ["report", str(small_orders), "-o", str(out), "--horizon", "3x"])
    assert bad.exit_code == 2 and "3x" in bad.output  # a bad option value: a usage error
    # So is a job no one registered (it exited 1, as bad data does).
    unknown = runner.invoke(app, ["report", str(small_orders), "-o", str(out), "--job", "rmf"])
    assert unknown.exit_code == 2, unknown.output
    said = " ".join(unknown.output.split())
    assert said.startswith("error: --job: unknown job 'rmf'; registered: ")
    assert "rfm" in said and said.endswith("Fix: name one of them")


def test_counts_of_a_few_customers_are_ticked_in_whole_numbers(retail_csv: Path,
                                                              tmp_path: Path) -> None:
    # Two customers' first orders: the count axes ticked 0.2 customers, and the monthly
    # orders axis, formatted as whole numbers, read 0, 0, 1, 1, 1.
    import pandas as pd

    from segwise.jobs import run_rfm
    from segwise.report import build_report

    lines = pd.read_csv(retail_csv, nrows=5_000, dtype=str).dropna(subset=["CustomerID"])
    orders = lines.groupby("CustomerID")["InvoiceNo"].nunique()
    few = orders[orders <= 2].index[:2]  # four orders at most in all
    path = tmp_path / "few.csv"
    lines[lines["CustomerID"].isin(few)].to_csv(path, index=False)
    report = build_report(run_rfm(path), n_categories=0)
    figures = {c.key: c.figure for c in report.charts}
    whole = {"tickmode": "linear", "tick0": 0, "dtick": 1, "tickformat": ",d"}
    axes = {"monthly": figures["monthly"].layout.yaxis2,
            "weekday_hour": figures["weekday_hour"].data[0].colorbar,
            **{k: figures[k].layout.yaxis for k in ("dist_recency", "dist_frequency",
                                                    "dist_monetary")}}
    for key, axis in axes.items():
        assert {k: axis[k] for k in whole} == whole, key
    # Their readings count what is there: two countries ("the next 1 countries shown bring
    # 16% together"; one gave "the next 0 countries").
    readings = {c.key: c.reading for c in report.charts}
    assert readings["countries"] == "Norway brings 84% of net revenue; Australia brings 16%."
    assert list(figures["countries"].data[0].text) == ["1 customer", "1 customer"]
