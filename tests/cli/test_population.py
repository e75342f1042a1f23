"""``segwise population`` in-process: the comparison printed, the folder and report written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from segwise.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def personality(shared_data: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> tuple[Path, Path]:
    source = shared_data / "kaggle-customer-personality" / "marketing_campaign.csv.gz"
    frame = pd.read_csv(source, sep="\t")
    path = tmp_path_factory.mktemp("cp") / "responders.tsv"
    frame[frame["Response"] == 1].to_csv(path, sep="\t", index=False)
    return source, path


@pytest.mark.slow
def test_population_prints_and_writes_the_comparison(personality: tuple[Path, Path],
                                                     tmp_path: Path) -> None:
    population, customers = personality
    out = tmp_path / "out"
    result = runner.invoke(app, ["population", str(population), str(customers), "-o", str(out),
                                 "--exclude", "Response,AcceptedCmp*", "--k", "4",
                                 "--seed", "1"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Population against customers" in result.output
    assert "Segments in words" in result.output and "Customer rows" in result.output
    comparison = pd.read_csv(out / "comparison.csv")
    assert comparison["segment"].ge(0).sum() == 4
    assert comparison["population"].sum() == 2240 and comparison["customers"].sum() == 334
    assert comparison["verdict"].isin({"over", "under", "neither"}).all()
    audit = pd.read_csv(out / "audit.csv")
    assert audit.groupby("table")["rows"].sum().to_dict() == {"customers": 334,
                                                              "population": 2240}
    html = (out / "report.html").read_text()
    for title in ("Which segments are your customers?", "Principal components",
                  "Columns and missing values", "The segments in words", "Feature relevance"):
        assert title in html
    from plotly.offline import get_plotlyjs

    ours = html.replace(get_plotlyjs(), "")          # plotly.js is embedded once, offline
    assert len(ours) < len(html) and re.findall(r"https?://[^\s\"'<]+", ours) == []
    dictionary = (out / "dictionary.toml").read_text()
    assert "inferred" in dictionary and "[attributes.Income]" in dictionary


def test_population_refuses_a_file_as_output_folder(personality: tuple[Path, Path],
                                                    tmp_path: Path) -> None:
    population, customers = personality
    result = runner.invoke(app, ["population", str(population), str(customers),
                                 "-o", str(tmp_path / "x.parquet"), "--k", "2",
                                 "--no-report", "--exclude", "Response"])
    assert result.exit_code == 1
    assert "writes a folder of files" in result.output


def test_population_json_report(personality: tuple[Path, Path], tmp_path: Path) -> None:
    from segwise.jobs import run_population
    from segwise.report import write_report

    population, customers = personality
    result = run_population(population, customers, n_clusters=3)
    path = write_report(result, tmp_path / "r.json", extras=result.report_extras())
    data = json.loads(path.read_text())
    keys = [s["key"] for s in data["sections"]]
    assert keys.index("comparison") > keys.index("pca") > keys.index("columns")
    assert "selection" not in keys                      # k was given: no sweep to show
    comparison = next(s for s in data["sections"] if s["key"] == "comparison")
    rows = comparison["tables"][0]["rows"]
    assert sum(r["customers"] for r in rows) == 334
    assert data["figures"]["segments"]["value"] == 3
