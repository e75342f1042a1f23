"""Real per-customer tables for the clustering tests (UCI Online Retail, 4,333 customers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

RFM = ["recency_days", "frequency", "monetary"]


@pytest.fixture(scope="session")
def retail_rfm(retail_customers: pd.DataFrame) -> pd.DataFrame:
    """The RFM triple of every Online Retail customer."""
    return retail_customers[RFM].astype("float64")


@pytest.fixture(scope="session")
def retail_small(retail_customers: pd.DataFrame) -> pd.DataFrame:
    """A fixed random 600 customers, for the tests that refit many times."""
    rng = np.random.default_rng(7)
    idx = np.sort(rng.choice(len(retail_customers), 600, replace=False))
    return retail_customers.iloc[idx].reset_index(drop=True)
