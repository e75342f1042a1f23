"""The Online Retail report in headless Chromium: it draws every chart, offline."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from ..conftest import FIRST_CHART_THROWS

pytestmark = pytest.mark.slow

README_SHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "report.png"


def _open(browser: Any, html: Path, requests: list[str], problems: list[str], *,
          script: str | None = None) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    if script is not None:
        page.add_init_script(script)
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.goto(html.as_uri())
    page.wait_for_selector("body[data-charts-drawn=true]", timeout=60_000)
    return page


def test_every_chart_draws_without_errors(browser: Any, retail_files: dict[str, Path],
                                         retail_report: Any, tmp_path: Path) -> None:
    requests: list[str] = []
    problems: list[str] = []
    page = _open(browser, retail_files["html"], requests, problems)
    charts = page.query_selector_all(".sw-chart")
    assert len(charts) == len(retail_report.charts)
    for div in charts:
        assert div.get_attribute("data-drawn") == "true", div.get_attribute("data-key")
        assert div.query_selector(".main-svg") is not None, div.get_attribute("data-key")
        # Drawn means marks on the plot: bars, points, heatmap images, lines or flows.
        marks = div.query_selector_all(".point, .bars path, .heatmaplayer image, .scatter "
                                       "path.js-line, .heatmaplayer .hm, .sankey-link")
        assert marks, div.get_attribute("data-key")
    assert problems == []
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    if os.environ.get("SEGWISE_UPDATE_DOCS_IMG") == "1":
        # Refresh the docs' picture of the RFM grid: the report at a glance.
        page.query_selector("#rfm").screenshot(path=str(tmp_path / "rfm.png"))
        shutil.copyfile(tmp_path / "rfm.png", README_SHOT)
    page.close()


def test_a_chart_that_fails_to_draw_says_so_and_the_rest_draw(
        browser: Any, retail_files: dict[str, Path], retail_report: Any) -> None:
    # One figure plotly.js threw on stopped the page's script: no later chart was drawn
    # and the page never said it had finished.
    problems: list[str] = []
    page = _open(browser, retail_files["html"], [], problems, script=FIRST_CHART_THROWS)
    first, *rest = page.query_selector_all(".sw-chart")
    assert len(rest) == len(retail_report.charts) - 1 > 0
    assert first.get_attribute("data-failed") == "true"
    assert "could not be drawn (a figure plotly.js cannot draw)" in first.inner_text()
    assert all(div.get_attribute("data-drawn") == "true" for div in rest)
    assert [p for p in problems if "could not be drawn" not in p] == []
    page.close()


def test_no_request_leaves_the_page(browser: Any, retail_files: dict[str, Path]) -> None:
    requests: list[str] = []
    problems: list[str] = []
    page = _open(browser, retail_files["html"], requests, problems)
    # Hover a chart and scroll to the end: interactions must not fetch anything either.
    page.hover(".sw-chart")
    page.mouse.wheel(0, 20_000)
    page.wait_for_timeout(300)
    page.close()
    assert requests, "the page load itself should be recorded"
    outside = [u for u in requests if not u.startswith(("file://", "data:", "about:", "blob:"))]
    assert outside == []
    # A blocked request would show as a console error (the page's CSP refuses all origins).
    assert problems == []
