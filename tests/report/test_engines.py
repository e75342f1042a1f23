from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from segwise.report import build_report


@pytest.mark.slow
@pytest.mark.spark
def test_spark_report_matches_duckdb(spark_available: None, small_orders: Path,
                                     small_result: Any) -> None:
    from segwise.jobs import run_rfm

    spark = build_report(run_rfm(small_orders, engine="spark"), n_categories=6)
    duck = build_report(small_result, n_categories=6)
    assert [(f.key, f.text) for f in spark.figures] == [(f.key, f.text) for f in duck.figures]
    assert [s.key for s in spark.sections] == [s.key for s in duck.sections]
    for key in ("dataset", "audit", "segments"):
        pd.testing.assert_frame_equal(spark.table(key).frame, duck.table(key).frame)
    a, b = spark.table("category_overall").frame, duck.table("category_overall").frame
    assert a["category"].tolist() == b["category"].tolist()
    assert a["spend"].to_numpy() == pytest.approx(b["spend"].to_numpy(), rel=1e-9)
