"""Real customers for the profile tests (UCI Online Retail, 4,333 customers).

The same fixture as in tests/segment/conftest.py; it belongs in tests/conftest.py once
the lead hoists it there.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def retail_customers(shared_data: Path) -> pd.DataFrame:
    """Online Retail customers: RFM features, rule-based scores and segment names."""
    from segwise.pipeline import run_rfm

    customers = run_rfm(shared_data / "uci-online-retail" / "online_retail.parquet").customers
    customers.attrs = {}
    return customers
