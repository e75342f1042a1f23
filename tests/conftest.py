"""Fixtures shared by the whole suite: real data from ../shared/data (Online Retail, CDNOW)
and engines."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

SHARED_DATA = Path(
    os.environ.get("SEGWISE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets folder (``../shared/data`` beside the repository)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real datasets not found at {SHARED_DATA}; set SEGWISE_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def retail_csv(shared_data: Path) -> Path:
    """The full UCI Online Retail log as CSV.gz (541,909 lines)."""
    return shared_data / "uci-online-retail" / "online_retail.csv.gz"


@pytest.fixture(scope="session")
def retail_sample(retail_csv: Path) -> pd.DataFrame:
    """The first 5,000 lines of Online Retail, every column as text, as in the file."""
    return pd.read_csv(retail_csv, nrows=5000, dtype=str, keep_default_na=False)


#: Column roles of the CDNOW CSV written by the ``cdnow_csv`` fixture.
CDNOW_COLUMNS = {"customer_id": "customer_id", "timestamp": "date", "amount": "dollars"}


@pytest.fixture(scope="session")
def cdnow_raw(shared_data: Path) -> pd.DataFrame:
    """The authors' 1/10 sample, one row per purchase line, as in the file."""
    return pd.read_csv(
        shared_data / "cdnow" / "CDNOW_sample.txt.gz",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "dollars"],
        dtype={"master_id": str, "customer_id": str, "date": str},
    )


@pytest.fixture(scope="session")
def cdnow_csv(cdnow_raw: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The raw CDNOW lines as a CSV with a header, unaggregated, for load_transactions."""
    path = tmp_path_factory.mktemp("cdnow") / "cdnow_sample.csv"
    cdnow_raw.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def cdnow_columns() -> dict[str, str]:
    """Column roles of the CDNOW CSV."""
    return dict(CDNOW_COLUMNS)


@pytest.fixture(scope="session")
def cdnow_tx(cdnow_csv: Path) -> Any:
    """CDNOW loaded by segwise (DuckDB), every line a purchase."""
    from segwise.io import load_transactions

    return load_transactions(cdnow_csv, columns=CDNOW_COLUMNS)


@pytest.fixture(scope="session")
def spark_available() -> None:
    """Skip nothing: Spark is part of the test install, so its absence is a failure."""
    import pyspark  # noqa: F401


@pytest.fixture(scope="session")
def retail_result(shared_data: Path) -> Any:
    """The default RFM job on the full Online Retail log (Parquet copy), run once per session."""
    from segwise.jobs import run_rfm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return run_rfm(shared_data / "uci-online-retail" / "online_retail.parquet")


@pytest.fixture(scope="session")
def retail_customers(retail_result: Any) -> pd.DataFrame:
    """Online Retail customers (4,333): RFM features, rule-based scores and segment names."""
    customers = retail_result.customers.copy()
    customers.attrs = {}
    return customers
