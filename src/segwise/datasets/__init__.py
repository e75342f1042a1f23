"""Datasets bundled with segwise, so that the main job runs with no other input.

``online_retail.parquet``: UCI Online Retail (Chen, Sain & Guo 2012; donor Dr Daqing Chen,
London South Bank University), CC BY 4.0. See ``datasets/data/ATTRIBUTION.md``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pandas as pd

__all__ = ["load_online_retail", "online_retail_path"]


def online_retail_path() -> Path:
    """Path of the bundled UCI Online Retail log (541,909 order lines, Parquet).

    Returns
    -------
    pathlib.Path
        A file inside the installed package.
    """
    return Path(str(files("segwise.datasets").joinpath("data/online_retail.parquet")))


def load_online_retail() -> pd.DataFrame:
    """Load the bundled UCI Online Retail log as it is, uncleaned.

    Returns
    -------
    pandas.DataFrame
        541,909 rows with the UCI columns InvoiceNo, StockCode, Description, Quantity,
        InvoiceDate, UnitPrice, CustomerID, Country.
    """
    return pd.read_parquet(online_retail_path())
