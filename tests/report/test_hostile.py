"""Hostile text in the data (countries, products, customer ids, segment names) reaches every
report format as text: never a live link, image or script in HTML charts or Markdown."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from segwise.config import SegwiseConfig
from segwise.exceptions import ConfigError
from segwise.jobs import run_rfm
from segwise.report import build_report, render_html, render_markdown, write_report
from segwise.segment.rfm import DEFAULT_ACTIONS, DEFAULT_SEGMENT_MAP, SegmentMap

LINK = '<a href="https://evil.example/">United Kingdom</a>'
IMAGE = '<img src=x onerror="document.title=\'owned\'">'
MD_LINK = "[free gift](https://evil.example/)"
SEGMENT = "<b>Champions</b> & co"


@pytest.fixture(scope="module")
def hostile_report(retail_sample: pd.DataFrame, tmp_path_factory: Any) -> Any:
    df = retail_sample.copy()
    df["Country"] = df["Country"].replace({"United Kingdom": LINK})
    top = df["StockCode"].value_counts().index[:2]
    df.loc[df["StockCode"] == top[0], "Description"] = IMAGE
    df.loc[df["StockCode"] == top[1], "Description"] = MD_LINK
    first = df["CustomerID"].replace("", pd.NA).dropna().iloc[0]
    df["CustomerID"] = df["CustomerID"].replace({first: "<script>x</script>"})
    folder = tmp_path_factory.mktemp("hostile")
    src = folder / "orders.csv"
    df.to_csv(src, index=False)
    # A segment named and described by the user (config), with markup in both.
    rename = {"Champions": SEGMENT}
    segments = SegmentMap(
        patterns={rename.get(k, k): v for k, v in DEFAULT_SEGMENT_MAP.items()},
        actions={rename.get(k, k): v for k, v in DEFAULT_ACTIONS.items()}
        | {SEGMENT: f"{MD_LINK} {IMAGE}"})
    result = run_rfm(src, config=SegwiseConfig(segments=segments))
    assert SEGMENT in set(result.customers["segment"])
    return build_report(result, currency="GBP", n_categories=4, source="orders<b>.csv")


def _chart_json(html: str) -> list[Any]:
    blobs = re.findall(r'<script type="application/json" id="[^"]+-data">(.*?)</script>', html,
                       flags=re.S)
    return [json.loads(b) for b in blobs]


def _strings(obj: Any, key: str | None = None) -> Any:
    if isinstance(obj, str):
        yield key, obj
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v, key)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _strings(v, k)


def test_chart_data_is_escaped_for_plotly(hostile_report: Any) -> None:
    figures = _chart_json(render_html(hostile_report))
    assert len(figures) == len(hostile_report.charts)
    strings = [(k, s) for f in figures for k, s in _strings(f)]
    # Markup is only in segwise's own templates; every other string is text.
    raw = [(k, s) for k, s in strings if "<" in s and k not in {"hovertemplate", "texttemplate"}]
    assert raw == []
    text = " ".join(s for _, s in strings)
    assert "&lt;a href=\"https://evil.example/\"&gt;United Kingdom&lt;/a&gt;" in text
    assert "&lt;b&gt;Champions&lt;/b&gt; &amp; co" in text
    templates = [s for k, s in strings if k in {"hovertemplate", "texttemplate"}]
    assert not any("evil" in t or "Champions" in t for t in templates)


def test_markdown_shows_hostile_text_as_text(hostile_report: Any) -> None:
    md = render_markdown(hostile_report)
    # No character that Markdown reads as HTML, an entity or a link is left unescaped.
    assert re.findall(r"(?<!\\)[<>&\[\]]", md) == []
    assert "\\<a href=\"https://evil.example/\"\\>United Kingdom\\</a\\>" in md
    assert "\\[free gift\\](https://evil.example/)" in md
    assert "\\<b\\>Champions\\</b\\> \\& co" in md
    assert "orders\\<b\\>.csv" in md


def test_html_tables_and_text_are_escaped(hostile_report: Any) -> None:
    html = render_html(hostile_report)
    body = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    assert "<b>Champions" not in body and "<a href=\"https://evil" not in body
    assert "&lt;b&gt;Champions&lt;/b&gt; &amp; co" in body


def test_the_currency_cannot_carry_markup(hostile_report: Any, retail_sample: pd.DataFrame,
                                          tmp_path: Path) -> None:
    src = tmp_path / "o.csv"
    retail_sample.head(500).to_csv(src, index=False)
    result = run_rfm(src)
    for bad in ("<b>GBP</b>", "%{x}", "GBP & more", "a" * 13, ""):
        with pytest.raises(ConfigError, match="use a code or symbol"):
            build_report(result, currency=bad, products=False)
    build_report(result, currency="US$", products=False)
    build_report(result, currency="€", products=False)


@pytest.mark.slow
def test_hostile_labels_draw_as_text_in_a_browser(browser: Any, hostile_report: Any,
                                                  tmp_path: Path) -> None:
    html = write_report(hostile_report, tmp_path / "r.html")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(html.as_uri())
    page.wait_for_selector("body[data-charts-drawn=true]", timeout=60_000)
    assert page.eval_on_selector_all('a[href*="evil.example"]', "els => els.length") == 0
    assert page.eval_on_selector_all(".sw-chart img", "els => els.length") == 0
    assert page.title() != "owned" and dialogs == []
    labels = page.eval_on_selector_all(".sw-chart svg text", "els => els.map(e => e.textContent)")
    assert LINK in labels  # the country's tick label, drawn as its text
    page.close()
