"""The mobility report in headless Chromium: maps, heatmaps and the SOM draw, offline."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest

from .test_browser import _open

pytestmark = pytest.mark.slow

GENERATOR = Path(__file__).resolve().parents[2] / "benchmarks" / "generate_pings.py"


def test_the_mobility_report_draws_offline(browser: Any, tmp_path: Path) -> None:
    from segwise.jobs import run_mobility, segment_users
    from segwise.report import write_report

    gen = runpy.run_path(str(GENERATOR))
    pings = gen["generate"](tmp_path / "pings.parquet", 300, 150_000, seed=2)
    result = run_mobility(pings)
    plan = segment_users(result, embed=("umap",))
    html = write_report(result, tmp_path / "report.html", extras=plan.extras)
    requests: list[str] = []
    problems: list[str] = []
    page = _open(browser, html, requests, problems)
    keys = {d.get_attribute("data-key") for d in page.query_selector_all(".sw-chart")
            if d.get_attribute("data-drawn") == "true"}
    assert {"home_cells", "dense_areas", "week_heat", "som_umatrix", "som_nodes",
            "part_places"} <= keys
    page.mouse.wheel(0, 40_000)
    page.wait_for_timeout(300)
    page.close()
    outside = [u for u in requests if not u.startswith(("file://", "data:", "about:", "blob:"))]
    assert outside == [] and problems == []
