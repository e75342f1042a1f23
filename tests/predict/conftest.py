"""Online Retail early features, a small trained assigner and CoIL 2000 rows, once per module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.base import clone

from segwise.io import load_source, name_columns, read_coil_dictionary
from segwise.predict import EarlyWindow, SegmentAssigner, build_dataset, time_split


@pytest.fixture(scope="module")
def retail_data(retail_result: Any) -> Any:
    """Eligible Online Retail customers, first 3 orders, RFM labels 90 days after the window."""
    return build_dataset(retail_result, EarlyWindow(n_orders=3))


@pytest.fixture(scope="module")
def retail_split(retail_data: Any) -> Any:
    return time_split(retail_data.acquired, n_test=300)


@pytest.fixture(scope="module")
def small_assigner() -> SegmentAssigner:
    """The vote, fast: few boosting rounds and trees, two calibration folds."""
    return SegmentAssigner("vote", max_iter=20, learning_rate=0.1, n_estimators=50, cv=2)


@pytest.fixture(scope="module")
def small_grid(small_assigner: SegmentAssigner) -> SegmentAssigner:
    """The default grid model, as fast as ``small_assigner``."""
    return clone(small_assigner).set_params(model="grid")


@pytest.fixture(scope="module")
def heldout_file(retail_split: Any, shared_data: Path, tmp_path_factory: Any) -> Path:
    """Raw Online Retail lines of 150 customers acquired after the cut-off, as a new file."""
    raw = pd.read_parquet(shared_data / "uci-online-retail" / "online_retail.parquet")
    ids = sorted(retail_split.test)[:150]
    keep = raw["CustomerID"].astype("Int64").astype(str).isin(ids)
    path = tmp_path_factory.mktemp("heldout") / "new_customers.parquet"
    raw[keep].to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def coil(shared_data: Path) -> tuple[pa.Table, np.ndarray, Any]:
    """CoIL 2000 training rows named by the dictionary: attributes, CARAVAN, dictionary."""
    folder = shared_data / "coil2000-insurance"
    dictionary = read_coil_dictionary(folder / "dictionary.txt")
    rows = name_columns(load_source(folder / "ticdata2000.txt.gz", "people").table,
                        dictionary).to_pyarrow()
    y = np.asarray(rows.column("CARAVAN").to_pylist(), dtype=float).astype(int)
    return rows.drop_columns(["person_id", "CARAVAN"]), y, dictionary
