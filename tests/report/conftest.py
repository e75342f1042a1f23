"""Fixtures of the report tests: the Online Retail report (``retail_result`` comes from the
suite's conftest), its rendered files and a small sample (the browser is the suite's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def retail_report(retail_result: Any) -> Any:
    """The whole Online Retail report: categories, learned segments, UMAP map and CLV."""
    from segwise.report import build_report, learn_extras

    extras = learn_extras(retail_result)
    return build_report(retail_result, extras, currency="GBP", source="online_retail.parquet")


@pytest.fixture(scope="session")
def retail_files(retail_report: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The Online Retail report written as HTML, Markdown and JSON."""
    from segwise.report import write_report

    out = tmp_path_factory.mktemp("report")
    return {fmt: write_report(retail_report, out / f"report.{fmt}") for fmt in ("html", "md",
                                                                                 "json")}


@pytest.fixture(scope="session")
def small_orders(retail_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 40,000 Online Retail lines as a Parquet file: fast end-to-end runs."""
    df = pd.read_csv(retail_csv, nrows=40_000, dtype={"InvoiceNo": str, "StockCode": str})
    path = tmp_path_factory.mktemp("small") / "orders.parquet"
    df.to_parquet(path, index=False)
    return path


@pytest.fixture(scope="session")
def small_result(small_orders: Path) -> Any:
    """The RFM run on the 40,000-line sample."""
    from segwise.jobs import run_rfm

    return run_rfm(small_orders)
