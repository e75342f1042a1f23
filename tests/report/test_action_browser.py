"""The recommended segmentation in headless Chromium: each segment's customer list
downloads as formula-safe CSV, and no legend is clipped or drawn over the axis labels,
even with long segment names."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from segwise.config import SegwiseConfig
from segwise.jobs import run_rfm
from segwise.report import build_report, write_report
from segwise.segment.rfm import DEFAULT_ACTIONS, DEFAULT_SEGMENT_MAP, SegmentMap

from ..conftest import FORMULA_ID

pytestmark = pytest.mark.slow

LONG = "Champions: recent, frequent and big spenders who deserve a personal thank-you"
FORMULA_SEGMENT = "=Loyal customers who buy often"


@pytest.fixture(scope="module")
def long_names(retail_sample: pd.DataFrame, tmp_path_factory: Any) -> tuple[Any, Path]:
    """A report of the sample whose segments have long (and formula-like) names."""
    df = retail_sample.copy()
    first = df["CustomerID"].replace("", pd.NA).dropna().iloc[0]
    df["CustomerID"] = df["CustomerID"].replace({first: FORMULA_ID})
    folder = tmp_path_factory.mktemp("long_names")
    src = folder / "orders.csv"
    df.to_csv(src, index=False)
    rename = {"Champions": LONG, "Loyal": FORMULA_SEGMENT,
              "Potential Loyalist": "Potential loyalists who bought twice in the last months"}
    segments = SegmentMap(
        patterns={rename.get(k, k): v for k, v in DEFAULT_SEGMENT_MAP.items()},
        actions={rename.get(k, k): v for k, v in DEFAULT_ACTIONS.items()})
    result = run_rfm(src, config=SegwiseConfig(segments=segments))
    assert {LONG, FORMULA_SEGMENT} <= set(result.customers["segment"])
    report = build_report(result, currency="GBP", products=False)
    return result, write_report(report, folder / "report.html")


def _open(browser: Any, html: Path) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page.goto(html.as_uri())
    page.wait_for_selector("body[data-charts-drawn=true]", timeout=60_000)
    return page


def test_a_segments_customer_list_downloads(browser: Any, long_names: tuple[Any, Path],
                                            tmp_path: Path) -> None:
    result, html = long_names
    customers = result.customers.astype({"customer_id": str})
    page = _open(browser, html)
    links = page.query_selector_all("#table-recommended a.download")
    assert [a.get_attribute("data-segment") for a in links] == [
        s for s in result.segment_summary()["segment"].astype(str)
        if (customers["segment"] == s).any()]
    for segment in (LONG, FORMULA_SEGMENT):
        with page.expect_download() as info:
            page.click(f'#table-recommended a.download[data-segment="{segment}"]')
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        listed = pd.read_csv(io.StringIO(path.read_text(encoding="utf-8")), dtype=str)
        members = customers[customers["segment"] == segment]
        # Formula-like text is neutralised for spreadsheets; the rest is as in the data.
        shown = {("'" + c) if c == FORMULA_ID else c for c in members["customer_id"]}
        assert set(listed["customer_id"]) == shown
        assert len(listed) == len(members)
        expected = ("'" + segment) if segment.startswith("=") else segment
        assert set(listed["segment"]) == {expected}
        assert listed["monetary"].astype(float).sum() == pytest.approx(
            members["monetary"].sum())
    assert FORMULA_ID in set(customers["customer_id"])
    page.close()


def test_no_legend_is_clipped(browser: Any, long_names: tuple[Any, Path]) -> None:
    _, html = long_names
    page = _open(browser, html)
    found = page.evaluate("""() => {
      const box = e => e.getBoundingClientRect();
      const meets = (a, b) => a.right > b.left + 1 && a.left < b.right - 1
                              && a.bottom > b.top + 1 && a.top < b.bottom - 1;
      return Array.from(document.querySelectorAll('.sw-chart')).map(div => {
        const legend = div.querySelector('.legend');
        if (!legend) return null;
        const svg = box(div.querySelector('.main-svg'));
        const l = box(legend);
        const texts = Array.from(legend.querySelectorAll('.legendtext')).map(box);
        const labels = Array.from(div.querySelectorAll('.xtick text, .g-xtitle text,'
                                                       + ' .gtitle')).map(box);
        return {key: div.dataset.key, entries: texts.length,
                inside: [l, ...texts].every(r => r.left >= svg.left - 1
                  && r.right <= svg.right + 1 && r.top >= svg.top - 1
                  && r.bottom <= svg.bottom + 1),
                overlaps: labels.some(r => meets(r, l))};
      }).filter(x => x !== null);
    }""")
    assert {f["key"] for f in found} >= {"embedding", "segment_shares", "monthly"}
    embedding = next(f for f in found if f["key"] == "embedding")
    assert embedding["entries"] >= 3  # the long names are in this legend
    bad = [f for f in found if not f["inside"] or f["overlaps"]]
    assert bad == []
    page.close()


def test_long_segment_names_leave_every_chart_its_plot(browser: Any,
                                                       long_names: tuple[Any, Path],
                                                       tmp_path: Path) -> None:
    # 80-character segment names under vertical bars (shares) and along a
    # heatmap's columns (learned against RFM segments) left the plot a strip 64 px high,
    # with names cut off at the figure's edge.
    from segwise.report import learn_extras

    result, _ = long_names
    extras = learn_extras(result, clv=False, track=False)
    html = write_report(build_report(result, extras, currency="GBP", products=False),
                        tmp_path / "report.html")
    page = _open(browser, html)
    found = page.evaluate("""() => Array.from(document.querySelectorAll('.sw-chart'))
      .map(div => {
        const svg = div.querySelector('.main-svg').getBoundingClientRect();
        const plot = div.querySelector('.nsewdrag');
        const cut = Array.from(div.querySelectorAll('.xtick text, .ytick text'))
          .map(e => e.getBoundingClientRect())
          .filter(r => r.left < svg.left - 1 || r.right > svg.right + 1
                       || r.top < svg.top - 1 || r.bottom > svg.bottom + 1).length;
        return {key: div.dataset.key, cut: cut,
                plot: plot ? plot.getBoundingClientRect().height : null};
      })""")
    keys = {f["key"] for f in found}
    assert {"segment_shares", "clusters_vs_rfm"} <= keys
    squeezed = [f for f in found if (f["plot"] is not None and f["plot"] < 150) or f["cut"]]
    assert squeezed == []
    page.close()


def test_a_heatmap_of_long_segment_names_keeps_its_cells(browser: Any, tmp_path: Path) -> None:
    # Learned segments against 11 RFM segments renamed at length: the slanted names took
    # the figure's height and left the cells a strip 64 px high, names cut off below.
    from segwise.report._charts import heatmap

    names = [f"{LONG} ({i})" for i in range(11)]
    cross = pd.DataFrame(np.eye(3, 11) * 100, index=["Low", "Mid", "High"], columns=names)
    fig = heatmap(cross, title="Learned segments against RFM segments", x_title="RFM segment",
                  y_title="Learned segment", z_title="Row %", hover="%{z:.0f}%")
    html = tmp_path / "heatmap.html"
    fig.write_html(html, include_plotlyjs=True, full_html=True)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(html.as_uri())
    page.wait_for_selector(".heatmaplayer")
    svg = page.query_selector(".main-svg").bounding_box()
    assert page.query_selector(".nsewdrag").bounding_box()["height"] >= 150
    for tick in page.query_selector_all(".xtick text"):
        box = tick.bounding_box()
        assert box["y"] + box["height"] <= svg["y"] + svg["height"] + 1
    page.close()
