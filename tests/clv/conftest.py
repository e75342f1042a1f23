"""Fixtures of the CLV tests: the CDNOW 1/10 cohort as raw transactions, and Online Retail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from segwise.clv import CLVResult, btyd_summary, customer_value
from segwise.io import Transactions, load_transactions

#: Column roles of the CDNOW CSV written by the ``cdnow_csv`` fixture.
CDNOW_COLUMNS = {"customer_id": "customer_id", "timestamp": "date", "amount": "dollars"}
CDNOW_CALIBRATION_END = "1997-09-30"  # week 39 of the cohort (Fader, Hardie and Lee 2005)


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
def cdnow_tx(cdnow_csv: Path) -> Transactions:
    """CDNOW loaded by segwise (DuckDB)."""
    return load_transactions(cdnow_csv, columns=CDNOW_COLUMNS)


@pytest.fixture(scope="session")
def cdnow_summary(cdnow_tx: Transactions) -> pd.DataFrame:
    """BTYD summary of CDNOW, weeks, calibration to week 39, holdout to week 78."""
    return btyd_summary(cdnow_tx, calibration_end=CDNOW_CALIBRATION_END, unit="W")


@pytest.fixture(scope="session")
def cdnow_result(cdnow_tx: Transactions) -> CLVResult:
    """Both models fitted to CDNOW, valued over the 39-week holdout."""
    return customer_value(cdnow_tx, calibration_end=CDNOW_CALIBRATION_END, horizon="39w")


@pytest.fixture(scope="session")
def retail_rfm(retail_result: Any) -> Any:
    """The RFM job on the full Online Retail log (customers with named segments)."""
    return retail_result
