"""The dashboard in headless Chromium, served by uvicorn on 127.0.0.1, on both databases."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import quote

import pytest

from ..conftest import FIRST_CHART_THROWS, FORMULA_ID, SCRIPT_DESCRIPTION, SCRIPT_ID

pytestmark = pytest.mark.slow


class _Tab:
    """A page that records every request and every console error or warning."""

    def __init__(self, browser: Any, base: str, *, script: str | None = None) -> None:
        self.base = base
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 900},
                                     accept_downloads=True)
        if script is not None:
            self.page.add_init_script(script)
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.problems.append(f"{m.type}: {m.text}")
                     if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))

    def open(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == 200, path
        self.page.wait_for_selector("body[data-charts-drawn=true]", timeout=60_000)
        return self.page

    def outside(self) -> list[str]:
        """Requests that left this server."""
        return [u for u in self.requests
                if not u.startswith((self.base + "/", "data:", "about:", "blob:"))]


def _segment_of(served: dict[str, Any], entity: str) -> str:
    store = served["store"]
    return str(store.entity(store.latest_run_id(), entity)["segments"]["rule"])


def test_every_page_loads_and_draws_its_charts(browser: Any, live_server: str,
                                               served: dict[str, Any]) -> None:
    tab = _Tab(browser, live_server)
    first, second = served["runs"]
    paths = {
        "/docs": 0,  # the API reference: it loaded Swagger UI from a CDN, and was blank
        "/": 2,  # shares and lifetime value
        "/?segmentation=learned": 2,
        "/segments/rule/Champions": 1,
        f"/entities/{quote(SCRIPT_ID, safe='')}": 0,
        "/quality": 1,
        "/models": 1,  # the assigner's held-out macro-F1
        f"/runs?a={first}&b={second}": 2,  # migration matrix and Sankey
    }
    for path, n_charts in paths.items():
        page = tab.open(path)
        charts = page.query_selector_all(".chart")
        assert len(charts) == n_charts, path
        for div in charts:
            key = div.get_attribute("data-key")
            assert div.get_attribute("data-drawn") == "true", (path, key)
            assert div.query_selector(".main-svg") is not None, (path, key)
            marks = div.query_selector_all(".bars path, .heatmaplayer image, .sankey-node, "
                                           ".hm, .sankey-link")
            assert marks, (path, key)
    page.hover(".chart")
    assert tab.problems == []
    assert tab.requests and tab.outside() == []
    tab.page.close()


def test_members_table_pages_sorts_searches_and_downloads(browser: Any, live_server: str,
                                                          served: dict[str, Any]) -> None:
    tab = _Tab(browser, live_server)
    store = served["store"]
    run = store.latest_run_id()
    biggest = max(store.segments(run, "rule"), key=lambda s: s["size"])
    page = tab.open(f"/segments/rule/{quote(biggest['segment'], safe='')}")

    def ids() -> list[str]:
        return [a.inner_text() for a in page.query_selector_all(
            "table[data-key=members] tr td:first-child a")]

    first_page = ids()
    assert len(first_page) == 25
    # One line per member however long a text cell (the action) is, and the wide table
    # scrolls in its own box instead of widening the page.
    heights = page.evaluate("[...document.querySelectorAll('table[data-key=members] tr')]"
                            ".map(r => r.getBoundingClientRect().height)")
    assert max(heights[1:]) <= 1.5 * heights[0], heights
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.click("a[rel=next]")
    page.wait_for_selector("body[data-charts-drawn=true]")
    second_page = ids()
    assert len(second_page) == 25 and not set(first_page) & set(second_page)
    assert sorted(first_page + second_page) == first_page + second_page  # id order
    # Sort by monetary value, largest first, through the form.
    page.select_option("select[name=sort]", "monetary")
    page.check("input[name=desc]")
    page.click("#member-search button")
    page.wait_for_selector("body[data-charts-drawn=true]")
    top = store.members(run, "rule", biggest["segment"], sort="monetary", descending=True,
                        limit=25)
    assert ids() == [r[0] for r in top["rows"]]
    # Search: the customer whose id is a script tag is found, and shown as text.
    page = tab.open(f"/segments/rule/{quote(_segment_of(served, SCRIPT_ID), safe='')}")
    page.fill("input[name=q]", "pwned")
    page.click("#member-search button")
    page.wait_for_selector("body[data-charts-drawn=true]")
    assert ids() == [SCRIPT_ID]
    assert page.evaluate("window.__pwned") is None
    # The CSV download: every member, formulas neutralised.
    page = tab.open(f"/segments/rule/{quote(_segment_of(served, FORMULA_ID), safe='')}")
    with page.expect_download() as info:
        page.click("#csv-download")
    rows = list(csv.reader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
    segment = store.segment(run, "rule", _segment_of(served, FORMULA_ID))
    assert len(rows) == segment["size"] + 1
    assert "'" + FORMULA_ID in [r[0] for r in rows]
    assert tab.problems == [] and tab.outside() == []
    tab.page.close()


def test_a_description_with_a_script_shows_as_text(browser: Any, live_server: str) -> None:
    tab = _Tab(browser, live_server)
    page = tab.open("/quality")
    cell = page.locator("table[data-key=quarantine] td", has_text="window.__pwned=2")
    assert SCRIPT_DESCRIPTION in cell.inner_text()
    page = tab.open(f"/entities/{quote(SCRIPT_ID, safe='')}")
    assert SCRIPT_ID in page.locator("h1").inner_text()
    assert page.evaluate("window.__pwned") is None
    assert tab.problems == [] and tab.outside() == []
    tab.page.close()


def test_a_chart_that_fails_to_draw_says_so_and_the_rest_draw(browser: Any, live_server: str,
                                                             served: dict[str, Any]) -> None:
    # One figure plotly.js threw on stopped the page's script: no later chart was drawn
    # and the page never said it had finished.
    first, second = served["runs"]
    tab = _Tab(browser, live_server, script=FIRST_CHART_THROWS)
    page = tab.open(f"/runs?a={first}&b={second}")
    failed, drawn = page.query_selector_all(".chart")
    assert failed.get_attribute("data-failed") == "true"
    assert "could not be drawn (a figure plotly.js cannot draw)" in failed.inner_text()
    assert drawn.get_attribute("data-drawn") == "true"
    assert drawn.query_selector(".sankey-link") is not None
    assert [p for p in tab.problems if "could not be drawn" not in p] == []
    tab.page.close()


def test_compare_offers_only_other_runs_of_the_same_kind(browser: Any, live_server: str,
                                                        served: dict[str, Any]) -> None:
    # With no earlier run of its kind, Before showed the newest run, After's own: Compare
    # compared a run with itself.
    first, second = served["runs"]
    tab = _Tab(browser, live_server)
    page = tab.open(f"/runs?b={first}")
    before = page.locator("#compare select[name=a]")
    assert [o.get_attribute("value") for o in before.locator("option").all()] == ["", second]
    assert "No run before" in page.locator("[data-key=migration-note]").inner_text()
    before.select_option(second)
    page.click("#compare button")
    page.wait_for_selector("body[data-charts-drawn=true]")
    assert page.url.split("?")[1].startswith(f"a={second}&b={first}")
    assert page.locator("table[data-key=migration]").count() == 1
    # Another After: Before goes back to the newest run of its kind before it.
    page.locator("#compare select[name=b]").select_option(second)
    assert before.input_value() == ""
    page.click("#compare button")
    page.wait_for_selector("body[data-charts-drawn=true]")
    assert page.locator("table[data-key=migration]").count() == 1
    assert before.input_value() == ""   # the default, first, is chosen
    assert tab.problems == []
    tab.page.close()
