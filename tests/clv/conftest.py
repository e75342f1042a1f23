"""Fixtures of the CLV tests: CDNOW summaries and fits (its lines come from the suite's
conftest), and Online Retail."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from segwise.clv import CLVResult, btyd_summary, customer_value
from segwise.io import Transactions

CDNOW_CALIBRATION_END = "1997-09-30"  # week 39 of the cohort (Fader, Hardie and Lee 2005)


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
