from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from segwise.exceptions import UsageError
from segwise.report import (
    Chart,
    Figure,
    Report,
    Section,
    Table,
    format_value,
    render,
    report_format,
    write_report,
)


@pytest.mark.parametrize(
    ("value", "fmt", "text"),
    [
        (4338, "int", "4,338"),
        (np.int64(12), "int", "12"),
        (0.6593, "pct", "65.9%"),
        (8269400.4, "money", "8,269,400"),
        (0.4, "money", "0.4"),  # money below one unit used to show as 0
        (0.0000375, "money", "0.0000375"),
        (-0.3456, "money", "-0.346"),
        (0.99996, "money", "1"),
        (0.0, "money", "0"),
        (2.25, "num1", "2.2"),
        (2.256, "num2", "2.26"),
        (float("nan"), "pct", ""),
        (None, "int", ""),
        (pd.NaT, "text", ""),
        (pd.NA, "int", ""),  # a nullable integer's missing value
        ("Champions", "text", "Champions"),
    ],
)
def test_format_value(value: object, fmt: str, text: str) -> None:
    assert format_value(value, fmt) == text  # type: ignore[arg-type]


def _tiny_report() -> Report:
    table = Table("t", "A table", pd.DataFrame({"name": ["a|b", "c"], "n": [1200, 3],
                                                "share": [0.25, np.nan]}),
                  formats={"n": "int", "share": "pct"}, headers={"n": "Count"})
    chart = Chart("c", "A chart", "It goes up.", go.Figure(go.Bar(x=[1, 2], y=[3, 4])))
    return Report("Title <script>", "sub", [Figure("customers", "Customers", 1200)],
                  [Section("s", "Section", "intro", [table, chart])], meta={"as_of": "2011"})


@pytest.mark.parametrize("name", ["report.pdf", "report.txt", "report.docx"])
def test_a_report_is_written_in_a_format_its_name_says_or_refused(tmp_path, name) -> None:
    # write_report(result, "report.pdf") wrote HTML under the name .pdf without a word.
    with pytest.raises(UsageError, match=r"a report is written as HTML \(\.html\), Markdown "
                                         r"\(\.md\) or JSON \(\.json\), not \.\w+\. Fix: "):
        write_report(_tiny_report(), tmp_path / name)
    assert not (tmp_path / name).exists()
    # A format named outright is written under any name; a known suffix picks its own.
    assert write_report(_tiny_report(), tmp_path / name, format="md").read_text(
        ).startswith("# Title")
    assert report_format(tmp_path / "r.HTM") == report_format(tmp_path / "r") == "html"
    assert report_format(tmp_path / "r.markdown") == "md"


def test_json_carries_raw_values_and_text() -> None:
    data = json.loads(render(_tiny_report(), "json"))
    assert data["figures"]["customers"] == {"label": "Customers", "value": 1200,
                                            "text": "1,200"}
    rows = data["sections"][0]["tables"][0]["rows"]
    assert rows == [{"name": "a|b", "n": 1200, "share": 0.25},
                    {"name": "c", "n": 3, "share": None}]
    assert data["sections"][0]["charts"] == [{"key": "c", "title": "A chart",
                                              "reading": "It goes up."}]


def test_markdown_escapes_pipes_and_formats_numbers() -> None:
    md = render(_tiny_report(), "md")
    assert "| a\\|b | 1,200 | 25.0% |" in md
    assert "| c | 3 | - |" in md  # a missing number is a dash, not an empty cell
    assert "| Name | Count | Share |" in md
    assert "- **A chart**: It goes up." in md


def test_html_escapes_text_and_embeds_one_plotly() -> None:
    html = render(_tiny_report(), "html")
    assert "Title &lt;script&gt;" in html
    assert html.count("Plotly.newPlot(") == 1
    assert "<td class=\"num\">1,200</td>" in html
    # The bundle is inlined once: its licence banner appears once, and no script is loaded.
    assert html.count("plotly.js v") == 1
    assert "<script src" not in html and "<link" not in html


def test_unknown_format_is_a_config_error() -> None:
    from segwise.exceptions import ConfigError

    with pytest.raises(ConfigError, match="'pdf'"):
        render(_tiny_report(), "pdf")  # type: ignore[arg-type]
