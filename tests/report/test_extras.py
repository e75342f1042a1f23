"""Optional sections: absent without their inputs, drawn when given (synthetic or real)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from segwise.report import ReportExtras, build_report, render


def test_optional_sections_are_absent_without_inputs(small_result: Any) -> None:
    report = build_report(small_result, products=False)
    keys = [s.key for s in report.sections]
    assert keys == ["recommendation", "overview", "cleaning", "exploration", "rfm",
                    "segments", "profiles", "embedding", "campaign"]
    assert "categories" not in {c.key for c in report.charts}
    # Without an embedding, the map is a PCA of R, F and M, said so in its title.
    assert "PCA" in report.section("embedding").charts[0].title


@pytest.fixture(scope="module")
def synthetic_extras(small_result: Any) -> ReportExtras:
    c = small_result.customers
    rng = np.random.default_rng(0)
    ks = np.arange(2, 9)
    sweep = pd.DataFrame({"k": ks, "silhouette": 0.5 - 0.03 * ks,
                          "davies_bouldin": 0.8 + 0.05 * ks, "inertia": 1000 / ks,
                          "is_knee": ks == 4})
    comparison = pd.DataFrame({"algorithm": ["kmeans", "gmm"], "k": [4, 4],
                               "silhouette": [0.41, 0.37]})
    learned = np.where(c["f_score"] >= 4, "Frequent buyers", "Occasional buyers")
    clusters = pd.DataFrame({"customer_id": c["customer_id"], "segment": learned})
    embedding = pd.DataFrame({"customer_id": c["customer_id"],
                              "x": rng.normal(size=len(c)), "y": rng.normal(size=len(c))})
    clv = pd.DataFrame({"customer_id": c["customer_id"], "clv": c["monetary"].clip(0) * 0.5,
                        "p_alive": np.linspace(0.1, 0.9, len(c))})
    return ReportExtras(k_sweep=sweep, chosen_k=4, k_rationale="the knee of inertia.",
                        model_comparison=comparison, clusters=clusters, embedding=embedding,
                        embedding_method="UMAP", clv=clv)


def test_optional_sections_render_when_given(small_result: Any,
                                             synthetic_extras: ReportExtras) -> None:
    report = build_report(small_result, synthetic_extras, products=False)
    keys = [s.key for s in report.sections]
    assert keys == ["recommendation", "overview", "cleaning", "exploration", "rfm",
                    "segments", "clusters", "profiles", "embedding", "campaign", "value",
                    "selection"]
    k_chart = report.section("selection").charts[0]
    # One panel per numeric score (the boolean knee flag is not a score).
    assert {t.name for t in k_chart.figure.data} == {
        "Silhouette (higher is better)", "Davies-Bouldin (lower is better)",
        "Inertia (look for the knee)"}
    assert "k = 4 was chosen" in k_chart.reading
    assert report.table("k_sweep").reading == "the knee of inertia."
    assert report.table("model_comparison").frame["algorithm"].tolist() == ["kmeans", "gmm"]
    sizes = report.table("clusters").frame
    assert sizes["customers"].sum() == len(small_result.customers)
    assert set(sizes["segment"]) == {"Frequent buyers", "Occasional buyers"}
    emb = report.section("embedding").charts[0]
    assert "UMAP" in emb.title
    assert sum(len(t.x) for t in emb.figure.data) == len(small_result.customers)
    value = report.table("value").frame
    assert value["n_customers"].sum() == len(small_result.customers)
    assert value["clv"].sum() == pytest.approx(synthetic_extras.clv["clv"].sum())
    assert "Predicted CLV" in report.section("profiles").charts[0].figure.data[0].x
    data = json.loads(render(report, "json"))
    assert [s["key"] for s in data["sections"]] == keys
    md = render(report, "md")
    assert "## Appendix: choosing the learned segmentation" in md
    assert "## Customer lifetime value" in md


def test_scatter_is_sampled_beyond_the_limit(small_result: Any, monkeypatch: Any) -> None:
    from segwise.report import _build

    monkeypatch.setattr(_build, "MAX_SCATTER_POINTS", 200)
    report = build_report(small_result, products=False)
    chart = report.section("embedding").charts[0]
    assert sum(len(t.x) for t in chart.figure.data) == 200
    assert f"200 of {len(small_result.customers):,} customers" in chart.reading


@pytest.mark.slow
def test_real_customer_value_section(small_result: Any) -> None:
    from segwise.clv import customer_value

    clv = customer_value(small_result.cleaned)
    report = build_report(small_result, ReportExtras(clv=clv), products=False)
    table = report.table("value").frame
    assert table["n_customers"].sum() == len(small_result.customers)
    assert table["clv"].sum() == pytest.approx(
        clv.customers.set_index("customer_id")["clv"]
        .reindex(small_result.customers["customer_id"]).sum())


@pytest.mark.slow
def test_sections_from_a_real_segmentation(small_result: Any) -> None:
    from segwise.segment import segment_customers

    seg = segment_customers(small_result.customers, k_values=range(2, 6),
                            compare=("kmeans", "gmm"), embed=("umap",), random_state=0)
    extras = ReportExtras.from_segmentation(seg)
    assert extras.chosen_k == seg.sweep.recommended_k
    report = build_report(small_result, extras, products=False)
    assert {"selection", "clusters"} <= {s.key for s in report.sections}
    names = set(seg.assignments["segment_name"].astype(str))
    assert set(report.table("clusters").frame["segment"]) == names
    assert report.table("model_comparison").frame["model"].tolist() == ["kmeans", "gmm"]
    emb = report.section("embedding").charts[0]
    assert "UMAP" in emb.title
    assert {t.name for t in emb.figure.data} == names
    assert [c.key for c in report.section("profiles").charts] == ["profile_heatmap",
                                                                  "profile_learned"]
    assert report.table("k_sweep").reading == seg.sweep.rationale


def test_a_failing_model_leaves_a_note_not_an_error(small_result: Any, monkeypatch: Any) -> None:
    import segwise.clv
    from segwise.exceptions import InputError
    from segwise.report import learn_extras

    def too_few(*args: Any, **kwargs: Any) -> None:
        raise InputError("only 3 repeat buyers")

    monkeypatch.setattr(segwise.clv, "customer_value", too_few)
    extras = learn_extras(small_result, segments=False, track=False)
    assert extras.clv is None
    assert extras.notes == ["Lifetime value is not shown: only 3 repeat buyers"]
    report = build_report(small_result, extras, products=False)
    assert "value" not in {s.key for s in report.sections}
    assert report.table("dataset").reading == extras.notes[0]


def test_a_log_without_products_times_or_countries(shared_data: Any, tmp_path: Any) -> None:
    """CDNOW: dates only, no product, no country; the report says only what it can."""
    from segwise.jobs import run_rfm

    raw = pd.read_csv(shared_data / "cdnow" / "CDNOW_master.txt.gz", sep=r"\s+",
                      dtype={"customer_id": str})
    path = tmp_path / "cdnow.csv"
    raw.rename(columns={"date": "timestamp", "number_of_cds": "quantity",
                        "dollar_value": "amount"}).to_csv(path, index=False)
    report = build_report(run_rfm(path))
    assert [f.key for f in report.figures] == ["customers", "orders", "revenue", "segments"]
    charts = {c.key: c for c in report.charts}
    assert "top_products" not in charts and "countries" not in charts
    assert "categories" not in {s.key for s in report.sections}
    weekday = charts["weekday_hour"]
    assert weekday.title == "Purchase orders by weekday"
    assert "dates without times" in weekday.reading
    assert sum(weekday.figure.data[0].x) == report.figures[1].value
    assert "median is 1 order and" in charts["dist_frequency"].reading
    render(report, "html")


@pytest.mark.slow
def test_cdnow_value_states_its_settings_and_holdout(shared_data: Any, tmp_path: Any) -> None:
    """CDNOW: the value section says how it was computed; the holdout check is shown."""
    from segwise.jobs import run_rfm
    from segwise.report import learn_extras

    raw = pd.read_csv(shared_data / "cdnow" / "CDNOW_master.txt.gz", sep=r"\s+", header=None,
                      names=["customer_id", "timestamp", "quantity", "amount"],
                      dtype={"customer_id": str, "timestamp": str})
    path = tmp_path / "cdnow.csv"
    raw.to_csv(path, index=False)
    result = run_rfm(path)
    extras = learn_extras(result, segments=False, track=False, clv_horizon="39w",
                          clv_margin=0.25, clv_discount_rate=0.05)
    report = build_report(result, extras, products=False)
    settings = dict(report.table("value_settings").frame.to_numpy().tolist())
    assert settings["Horizon"].startswith("39.0 weeks")
    assert settings["Margin"] == "25% of spend (values are profit)"
    assert settings["Discount rate"] == "5.0% a year"
    # BG/NBD is not degenerate on CDNOW: value at risk is ranked, and the one-time buyers'
    # P(alive) = 1 is explained where P(alive) is shown.
    assert "value_at_risk" in report.table("value").columns
    assert "P(alive) = 1 by construction" in report.table("value_settings").reading
    keys = [s.key for s in report.sections]
    assert keys[-2:] == ["value", "clv_models"]
    holdout = report.table("clv_holdout").frame.set_index("frequency")
    assert holdout.loc["all", "n_customers"] == holdout.drop("all")["n_customers"].sum()
    assert holdout.loc["all", "actual"] > 0
    assert "was checked on the holdout" in report.table("clv_models").reading
    md = render(report, "md")
    assert "## How far to trust the lifetime values" in md and "39.0 weeks" in md
