"""The synthetic ping generator: loads as pings and has the advertised structure and quirks."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

gen = SimpleNamespace(**runpy.run_path(
    str(Path(__file__).resolve().parents[2] / "benchmarks" / "generate_pings.py")))


def test_generated_pings_look_like_a_week_of_real_people(tmp_path: Path) -> None:
    out, truth = tmp_path / "p.parquet", tmp_path / "t.parquet"
    gen.generate(out, 300, 150_000, seed=1, chunk_users=120, truth=truth)
    # Parquet stores second timestamps as milliseconds; names and kinds are as declared.
    assert pq.ParquetFile(out).schema_arrow.names == gen.SCHEMA.names
    p = pd.read_parquet(out)
    t = pd.read_parquet(truth)
    assert 0.85 * 150_000 < len(p) < 1.15 * 150_000 and p["subscriber"].nunique() == 300
    assert len(t) == 300 and 0.65 < t["work_lat"].notna().mean() < 0.85
    # Fewer pings at night than by day; weekends present; four weeks from a Monday.
    hour = p["event_time"].dt.hour
    assert (hour < 5).mean() < 0.1 < ((hour >= 9) & (hour < 17)).mean()
    assert p["event_time"].min() >= pd.Timestamp(gen.START) and \
        p["event_time"].max() < pd.Timestamp(gen.START) + pd.Timedelta(days=gen.DAYS)
    assert 0.15 < (p["event_time"].dt.weekday >= 5).mean() < 0.45
    # Quirks: exact duplicates, null island, jumps far away.
    assert p.duplicated().sum() > 0
    assert ((p["latitude"] == 0) & (p["longitude"] == 0)).sum() >= 1
    home = t.set_index("subscriber" if "subscriber" in t else "user_id")
    night = p[(hour >= 1) & (hour < 5)].join(home, on="subscriber")
    d = np.hypot(night["latitude"] - night["home_lat"],
                 (night["longitude"] - night["home_lon"]) * 0.61) * 111_320
    # At night, people are home (save the night workers and the noise).
    assert (d < 200).mean() > 0.8
    # The same seed gives the same file.
    again = tmp_path / "q.parquet"
    gen.generate(again, 300, 150_000, seed=1, chunk_users=120)
    pd.testing.assert_frame_equal(p, pd.read_parquet(again))
