"""Fixtures of the job tests: synthetic pings from the benchmark generator, with the truth."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "generate_pings.py"


def load_generator() -> Any:
    """The ping generator of ``benchmarks/`` (its functions and constants)."""
    return SimpleNamespace(**runpy.run_path(str(_PATH)))


@pytest.fixture(scope="session")
def synthetic_pings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """400 users, about 240,000 pings over four weeks; their true homes and work places;
    and points of interest of four categories around the region."""
    gen = load_generator()
    out = tmp_path_factory.mktemp("pings")
    pings, truth = out / "pings.parquet", out / "truth.parquet"
    gen.generate(pings, 400, 240_000, seed=3, chunk_users=150, truth=truth)
    rng = np.random.default_rng(5)
    n = 30_000
    lat = rng.normal(52.52, 0.12, n)
    lon = rng.normal(13.40, 0.2, n)
    # Food downtown, parks to the west, shops to the east, sport everywhere.
    category = np.where(rng.random(n) < 0.25, "Sport",
                        np.where(np.hypot(lat - 52.52, (lon - 13.40) * 0.6) < 0.05, "Food",
                                 np.where(lon < 13.40, "Park", "Shop")))
    pois = out / "pois.csv"
    pd.DataFrame({"name": [f"poi {i}" for i in range(n)], "type": category,
                  "lat": lat.round(6), "lng": lon.round(6)}).to_csv(pois, index=False)
    return {"pings": pings, "truth": truth, "pois": pois}
