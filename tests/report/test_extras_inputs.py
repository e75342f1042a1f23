"""The report's optional inputs take tables of any library."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pyarrow as pa

from segwise.report import ReportExtras


def test_extras_read_polars_and_arrow_tables_as_pandas() -> None:
    clusters = pl.DataFrame({"customer_id": ["1", "2"], "segment": ["Loyal", "New"]})
    clv = pa.table({"customer_id": ["1", "2"], "clv": [12.5, 3.0], "p_alive": [0.9, 0.4]})
    extras = ReportExtras(clusters=clusters, clv=clv,
                          k_sweep=pl.DataFrame({"k": [2, 3], "silhouette": [0.4, 0.5]}))
    assert isinstance(extras.clusters, pd.DataFrame) and isinstance(extras.clv, pd.DataFrame)
    assert extras.clusters["segment"].tolist() == ["Loyal", "New"]
    assert extras.clv.set_index("customer_id")["clv"].to_dict() == {"1": 12.5, "2": 3.0}
    assert extras.k_sweep["k"].tolist() == [2, 3]
    assert extras.embedding is None and extras.categories is None
