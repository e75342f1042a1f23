"""The "Over time" section and the CLV model comparison, from real results."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import pytest

from segwise.clv import compare_purchase_models
from segwise.report import ReportExtras, build_report, render
from segwise.report._over_time import clv_models_section, over_time_section
from segwise.track import track_customers


def _checked(section: Any) -> None:
    """What the report promises of every chart: a title, axis titles, a short reading."""
    for chart in section.charts:
        layout = chart.figure.layout
        assert layout.title.text, chart.key
        assert chart.reading.endswith("."), chart.key
        assert len(re.findall(r"[.;:] [A-Z']", chart.reading)) <= 1, chart.reading
        assert layout.xaxis.title.text and layout.yaxis.title.text, chart.key


@pytest.mark.slow
def test_over_time_section_on_online_retail(retail_result: Any) -> None:
    track = track_customers(retail_result.cleaned, every="quarter")
    section = over_time_section(track, "GBP")
    _checked(section)
    assert [b.key for b in section.blocks] == [
        "sizes_over_time", "migration_sankey", "biggest_flows", "migration_matrix",
        "cohort_retention", "cohort_mix", "cohort_revenue"]
    assert "5 snapshots (2011-01-01, 2011-04-01, 2011-07-01, 2011-10-01, 2011-12-10" in (
        section.intro)
    flows = section.tables[0]
    assert flows.reading.startswith("From 2011-10-01 to 2011-12-10, 177 customers went from "
                                    "Loyal to Champions; they had spent GBP 438k")
    sankey = section.charts[1].figure.data[0]
    # The flows out of the first column are the customers of the first snapshot, plus the
    # customers new by the second.
    first = [i for i, x in enumerate(sankey.node.x) if x == min(sankey.node.x)]
    assert sum(v for s, v in zip(sankey.link.source, sankey.link.value, strict=True)
               if s in first) == 2131
    matrix = section.tables[1].frame.set_index("segment at 2011-10-01")
    assert matrix.to_numpy().sum() == 4333
    assert "60% of the 2010Q4 cohort" in section.charts[2].reading


def test_clv_model_comparison_section(cdnow_tx: Any, small_result: Any) -> None:
    comparison = compare_purchase_models(cdnow_tx, calibration_end="1997-09-30")
    section = clv_models_section(comparison)
    _checked(section)
    table = section.tables[0].frame
    assert list(table["label"]) == ["BG/NBD", "MBG/NBD", "Pareto/NBD", "BG/BB"]
    assert section.tables[0].reading == comparison.reason
    lines = section.charts[0].figure.data
    assert [t.name for t in lines] == ["Actual", "BG/NBD", "MBG/NBD", "Pareto/NBD"]
    # Any CLV result that carries a comparison gets the section in the report.
    customers = small_result.customers[["customer_id"]].assign(clv=1.0, p_alive=0.5)
    clv = SimpleNamespace(customers=customers, comparison=comparison)
    report = build_report(small_result, ReportExtras(clv=clv), products=False)
    assert [s.key for s in report.sections][-2:] == ["value", "clv_models"]
    data = json.loads(render(report, "json"))
    rows = data["sections"][-1]["tables"][0]["rows"]
    assert [r["label"] for r in rows if r["chosen"]] == [
        comparison.table.set_index("model").loc[comparison.chosen, "label"]]
    assert "## Which lifetime-value model to trust" in render(report, "md")
