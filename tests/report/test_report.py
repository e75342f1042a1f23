from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from segwise.report import format_value

from ._html import read_page

pytestmark = pytest.mark.slow


def test_report_tells_the_whole_story(retail_report: Any) -> None:
    keys = [s.key for s in retail_report.sections]
    assert keys == ["recommendation", "overview", "cleaning", "exploration", "rfm",
                    "segments", "clusters", "profiles", "embedding", "categories", "campaign",
                    "value", "clv_models", "over_time", "selection"]
    charts = {c.key for c in retail_report.charts}
    assert {"audit_removed", "monthly", "weekday_hour", "countries", "top_products",
            "categories", "dist_recency", "dist_frequency", "dist_monetary", "grid_customers",
            "grid_revenue", "segment_shares", "k_selection", "clusters_vs_rfm",
            "profile_heatmap", "profile_learned", "embedding", "category_mix", "value",
            "sizes_over_time", "migration_sankey", "cohort_retention", "cohort_mix"} <= charts
    for chart in retail_report.charts:
        layout = chart.figure.layout
        assert layout.title.text, chart.key
        assert chart.reading.endswith("."), chart.key
        assert len(re.findall(r"[.;:] [A-Z']", chart.reading)) <= 1, chart.reading
        axes = [a for a in (layout.xaxis, layout.yaxis) if a is not None]
        assert all(a.title.text for a in axes), chart.key


def test_degenerate_lifetime_value_is_said_and_not_ranked(retail_report: Any) -> None:
    """Online Retail: BG/NBD finds no dropout (a -> 0); the report says so in words."""
    section = retail_report.section("value")
    settings = retail_report.table("value_settings")
    assert settings.reading.startswith("The BG/NBD fit is degenerate")
    assert "not shown or ranked" in settings.reading
    table = retail_report.table("value")
    assert not {"value_at_risk", "share_value_at_risk", "mean_p_alive"} & set(table.columns)
    assert "value at risk is not shown" in table.reading
    assert [t.name for t in section.charts[0].figure.data] == ["Predicted lifetime value"]
    # P(alive) is near 1 for everyone: it is not drawn in the profiles either.
    heatmap = next(c for c in retail_report.charts if c.key == "profile_heatmap")
    assert "P(alive)" not in heatmap.figure.data[0].x
    assert "Predicted CLV" in heatmap.figure.data[0].x
    # The holdout check of the model is shown.
    assert "was checked on the holdout" in retail_report.table("clv_models").reading


def test_report_figures_match_the_run(retail_report: Any, retail_result: Any) -> None:
    figures = {f.key: f.value for f in retail_report.figures}
    customers = retail_result.customers
    assert figures["customers"] == len(customers) == 4333
    assert figures["revenue"] == pytest.approx(customers["monetary"].sum())
    assert figures["countries"] == 37
    monthly = next(c for c in retail_report.charts if c.key == "monthly").figure
    # Revenue by month, summed, is the net revenue of every kept line: the scored
    # customers' (the audit's kept step) plus that of the customers with returns only (its
    # no_purchase step), shown in the overview.
    audit = retail_result.audit.set_index("step")["revenue"]
    kept, no_purchase = audit["kept"], audit["no_purchase"]
    assert kept == pytest.approx(customers["monetary"].sum(), rel=1e-9)
    assert sum(monthly.data[0].y) == pytest.approx(kept + no_purchase, rel=1e-9)
    overview = dict(retail_report.table("dataset").frame.to_numpy().tolist())
    n, value = overview["Customers with returns only (not scored)"].split(" ", 1)
    assert value == f"({no_purchase:,.0f} GBP)" and no_purchase < 0
    assert int(n.replace(",", "")) > 0
    grid = next(c for c in retail_report.charts if c.key == "grid_customers").figure
    assert sum(map(sum, grid.data[0].z)) == len(customers)


def test_html_is_offline_and_light(retail_files: dict[str, Path]) -> None:
    html = retail_files["html"].read_text(encoding="utf-8")
    size = retail_files["html"].stat().st_size
    assert size < 10_000_000
    assert html.count("plotly.js v") == 1  # the bundle's banner: inlined exactly once
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", html)
    from plotly.offline import get_plotlyjs

    # Outside plotly's own bundle (which names its CDN for maps we never draw), the page
    # names no web address at all: figures, styles and text are all inline.
    ours = html.replace(get_plotlyjs(), "")
    assert len(ours) < len(html) - 3_000_000
    assert re.findall(r"https?://[^\s\"'<]+", ours) == []


def test_the_three_formats_carry_the_same_figures(retail_files: dict[str, Path],
                                                  retail_result: Any) -> None:
    tables, cards = read_page(retail_files["html"].read_text(encoding="utf-8"))
    md = retail_files["md"].read_text(encoding="utf-8")
    data = json.loads(retail_files["json"].read_text(encoding="utf-8"))
    summary = retail_result.segment_summary()

    # Key figures: JSON raw value, its text, the HTML card and the Markdown line agree.
    for key, fig in data["figures"].items():
        assert cards[key] == fig["text"]
        assert f"| {fig['label']} | {fig['text']} |" in md
    assert data["figures"]["customers"]["value"] == len(retail_result.customers)

    json_tables = {t["key"]: t for s in data["sections"] for t in s["tables"]}
    # Segment sizes and revenue shares.
    seg_json = json_tables["segments"]["rows"]
    assert [r["segment"] for r in seg_json] == list(summary["segment"])
    assert [r["customers"] for r in seg_json] == list(summary["customers"])
    assert [r["revenue_share"] for r in seg_json] == pytest.approx(
        list(summary["revenue_share"]))
    html_rows = {r[0]: r for r in tables["segments"][1:]}
    for r in seg_json:
        cells = [r["segment"], format_value(r["customers"], "int"),
                 format_value(r["share"], "pct"), format_value(r["revenue_share"], "pct")]
        assert html_rows[r["segment"]][:4] == cells
        assert "| " + " | ".join(cells) + " |" in md
    # Audit rows.
    audit_json = json_tables["audit"]["rows"]
    assert [r["rows"] for r in audit_json] == list(retail_result.audit["rows"])
    assert sum(r["rows"] for r in audit_json) == 541_909
    html_audit = {r[0]: r[1] for r in tables["audit"][1:]}
    for r in audit_json:
        text = format_value(r["rows"], "int")
        assert html_audit[r["step"]] == text
        assert f"| {r['step']} | {text} |" in md
    # Every chart is listed with the same reading in Markdown and JSON.
    for s in data["sections"]:
        for c in s["charts"]:
            assert f"- **{c['title']}**: {c['reading']}" in md
