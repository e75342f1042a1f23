"""The report leads to action: one recommended segmentation with its customer lists, the
revenue concentration, customers lost in cleaning, and colour scales one customer cannot
wash out."""

from __future__ import annotations

import io
import json
import urllib.parse
from typing import Any

import numpy as np
import pandas as pd
import pytest

from segwise.report import ReportExtras, build_report, render
from segwise.report._action import explained_share


def test_explained_share_is_r2_of_the_labelling() -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": np.r_[rng.normal(0, 1, 200), rng.normal(50, 1, 200)]})
    split = pd.Series(["low"] * 200 + ["high"] * 200)
    assert explained_share(x, split) > 0.9
    assert explained_share(x, pd.Series(["all"] * 400)) == pytest.approx(0.0)
    assert explained_share(x, pd.Series(rng.permutation(split.to_numpy()))) < 0.05


def _csv(href: str) -> pd.DataFrame:
    text = urllib.parse.unquote(href.removeprefix("data:text/csv;charset=utf-8,"))
    return pd.read_csv(io.StringIO(text), dtype={"customer_id": str})


def test_recommended_segments_come_first_with_their_lists(small_result: Any) -> None:
    report = build_report(small_result, products=False)
    assert report.sections[0].key == "recommendation"
    table = report.table("recommended")
    customers = small_result.customers.astype({"customer_id": str})
    assert table.frame["entities"].sum() == len(customers)
    assert "the only segmentation computed" in table.reading
    assert table.frame["value_share"].sum() == pytest.approx(1.0)
    assert (table.frame["action"] != "").all()
    # One list per segment, holding exactly its customers and their values.
    assert [d.label for d in table.downloads] == list(table.frame["segment"])
    for download in table.downloads:
        listed = _csv(download.href)
        members = customers[customers["segment"] == download.label]
        assert download.count == len(listed) == len(members)
        assert set(listed["customer_id"]) == set(members["customer_id"])
        assert listed["monetary"].sum() == pytest.approx(members["monetary"].sum())
    data = json.loads(render(report, "json"))
    assert data["sections"][0]["tables"][0]["downloads"][0]["rows"] == table.downloads[0].count
    assert "Member lists (in the HTML report): 01-" in render(report, "md")


def test_pareto_curve_matches_the_customers(small_result: Any) -> None:
    report = build_report(small_result, products=False)
    chart = next(c for c in report.charts if c.key == "pareto")
    m = np.sort(small_result.customers["monetary"].clip(lower=0).to_numpy())[::-1]
    top20 = m[: int(np.ceil(0.2 * len(m)))].sum() / m.sum()
    assert f"The top 20% of customers bring {top20:.0%} of the value" in chart.reading
    curve = chart.figure.data[0]
    assert curve.y[0] == 0 and curve.y[-1] == pytest.approx(100)
    assert np.all(np.diff(curve.y) >= -1e-9)


def test_learned_segments_are_recommended_only_when_clearly_better(small_result: Any) -> None:
    c = small_result.customers
    # Learned labels that are the named segments merged in two: they explain less.
    coarse = np.where(c["segment"].isin(["Champions", "Loyal"]), "Best", "Rest")
    extras = ReportExtras(clusters=pd.DataFrame({"customer_id": c["customer_id"],
                                                 "segment": coarse}))
    table = build_report(small_result, extras, products=False).table("recommended")
    assert table.reading.startswith("The RFM segments are recommended")
    assert "Rule: the named segments are recommended" in table.reading
    # Labels that follow the clustered features closely, with fewer segments: learned wins.
    from sklearn.cluster import KMeans

    f = np.log1p(c[["recency_days", "frequency", "monetary"]].clip(lower=0))
    km = KMeans(10, n_init=4, random_state=0).fit((f - f.mean()) / f.std())
    sharp = pd.Series([f"Group {i}" for i in km.labels_])
    extras = ReportExtras(clusters=pd.DataFrame({"customer_id": c["customer_id"],
                                                 "segment": sharp}))
    table = build_report(small_result, extras, products=False).table("recommended")
    assert table.reading.startswith("The learned segments are recommended"), table.reading
    assert set(table.frame["segment"]) == set(sharp)
    assert "action" not in table.frame


def test_customers_lost_in_cleaning_are_counted(small_result: Any) -> None:
    report = build_report(small_result, products=False)
    lines = small_result.cleaned.lines
    frame = lines.filter(lines.customer_id.notnull()).to_pandas()
    kept = frame.groupby("customer_id")["_reason"].apply(lambda r: r.isna().any())
    lost = int((~kept).sum())
    assert lost > 0
    overview = dict(report.table("dataset").frame.to_numpy().tolist())
    assert overview["Customers lost in cleaning (every line removed)"] == f"{lost:,}"
    assert f"{lost:,} of the {len(kept):,} customers in the input" in report.table(
        "audit").reading


def test_one_customer_segment_does_not_set_the_colour_scale(small_result: Any) -> None:
    c = small_result.customers
    biggest = c["monetary"].idxmax()
    learned = np.where(c["f_score"] >= 3, "Regulars", "Occasional").astype(object)
    learned[c.index.get_loc(biggest)] = "The whale"
    extras = ReportExtras(clusters=pd.DataFrame({"customer_id": c["customer_id"],
                                                 "segment": learned}))
    report = build_report(small_result, extras, products=False)
    chart = next(ch for ch in report.charts if ch.key == "profile_learned")
    heat = chart.figure.data[0]
    z = np.asarray(heat.z, dtype=float)
    rows = list(heat.y)
    whale = np.abs(z[rows.index("The whale")]).max()
    others = np.abs(np.delete(z, rows.index("The whale"), axis=0)).max()
    assert whale > others  # the lone customer sits far out ...
    assert heat.zmax == pytest.approx(others, abs=0.01)
    assert heat.zmin == pytest.approx(-others, abs=0.01)


def test_member_list_files_are_named_after_segments_in_any_script() -> None:
    # A segment map in Russian or Arabic named every list NN-segment.csv; a long name made
    # a file name past what some file systems take; a slash or quote must not survive.
    from segwise.report._action import _downloads

    order = ["Клиенты VIP", "عملاء دائمون", "Champions/VIP: \"best\" 🎉", "x" * 300, "🎉"]
    frame = pd.DataFrame({"customer_id": [str(i) for i in range(5)], "monetary": 1.0})
    names = [d.filename for d in _downloads(frame, pd.Series(order), order,
                                            ["customer_id", "monetary"])]
    assert names == ["01-клиенты-vip.csv", "02-عملاء-دائمون.csv", "03-champions-vip-best.csv",
                     f"04-{'x' * 60}.csv", "05-segment.csv"]
