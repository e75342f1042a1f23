"""Plain-language names and actions derived from segment profiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwise.profile import NOISE_NAME, name_segments, profile_segments
from segwise.segment import Segmenter

RFM = ["recency_days", "frequency", "monetary"]


def _profile(rows: list[dict[str, float]]) -> pd.DataFrame:
    out = []
    for i, r in enumerate(rows):
        out.append({"segment": r.get("segment", i), "recency_days_z": r["R"],
                    "frequency_z": r["F"], "monetary_z": r["M"],
                    "frequency_median": r.get("f_med", 3), "monetary_mean": r.get("m", i),
                    **({"tenure_days_z": r["T"]} if "T" in r else {})})
    return pd.DataFrame(out)


def test_rules_give_the_expected_names() -> None:
    prof = _profile([
        {"R": -1.2, "F": 1.5, "M": 1.4},                   # recent, frequent, big
        {"R": 1.1, "F": -0.9, "M": -0.9, "f_med": 1},      # lapsed, bought once
        {"R": -0.7, "F": -0.4, "M": -0.4, "T": -1.0},      # recent, short tenure
        {"R": 0.9, "F": 1.0, "M": 0.3},                    # lapsed but was frequent
        {"R": 0.0, "F": 0.1, "M": -0.1},                   # average
        {"segment": -1, "R": 0.0, "F": 3.0, "M": 3.0},     # noise
    ])
    names = name_segments(prof).set_index("segment")["name"]
    assert names[0] == "High-value loyal"
    assert names[1] == "Lapsed one-timers"
    assert names[2] == "New customers"
    assert names[3] == "At-risk high-value"
    assert names[4] == "Mid-value regulars"
    assert names[-1] == NOISE_NAME[0]


def test_shared_names_are_told_apart_by_value() -> None:
    prof = _profile([
        {"R": 1.2, "F": -0.8, "M": -0.9, "f_med": 1, "m": 50.0},
        {"R": 1.0, "F": -0.7, "M": -0.6, "f_med": 1, "m": 90.0},
    ])
    names = name_segments(prof)["name"].tolist()
    assert names == ["Lapsed one-timers (lower value)", "Lapsed one-timers (higher value)"]


def test_shared_names_without_a_value_are_told_apart_by_a_feature() -> None:
    # Mobility users have no value: two "High office share" segments were "(lower value)"
    # and "(higher value)", in the order of their numbers.
    prof = pd.DataFrame({"segment": [0, 1, 2], "office_share_z": [1.5, 1.4, -0.2],
                         "radius_km_z": [0.3, -0.2, 0.1], "commute_km_z": [0.1, 0.0, 0.9]})
    names = name_segments(prof)["name"].tolist()
    assert names == ["High office share (higher radius km)",
                     "High office share (lower radius km)", "High commute km"]


def test_custom_rules_and_generic_names() -> None:
    prof = _profile([{"R": -1.0, "F": 1.0, "M": 1.0}])
    rules = [{"when": {"R": {"recent"}}, "name": "Fans", "action": "Thank them."}]
    assert name_segments(prof, rules=rules)["name"].tolist() == ["Fans"]
    other = pd.DataFrame({"segment": [0, 1], "basket_size_z": [1.2, -1.0],
                          "visits_z": [-0.8, 0.1]})
    names = name_segments(other)["name"].tolist()
    assert names == ["High basket size, low visits", "Low basket size"]
    # Column names keep their own case (Customer Personality's MntWines, Wholesale's Fresh).
    camel = other.rename(columns={"basket_size_z": "MntWines_z", "visits_z": "NumVisits_z"})
    assert name_segments(camel)["name"].tolist() == ["High MntWines, low NumVisits",
                                                     "Low MntWines"]


def test_names_on_online_retail(retail_customers: pd.DataFrame) -> None:
    labels = Segmenter(4, random_state=0).fit_predict(retail_customers[RFM])
    prof = profile_segments(retail_customers, labels,
                            features=[*RFM, "tenure_days", "avg_order_value"])
    names = name_segments(prof)
    assert names["name"].is_unique
    assert names["name"].iloc[-1] == "High-value loyal"     # the top segment by value
    assert names["name"].iloc[0] == "Lapsed one-timers"     # the bottom one
    assert "New customers" in set(names["name"])            # short tenure, recent
    assert names["action"].str.len().gt(10).all()
    with pytest.raises(KeyError):
        name_segments(prof.drop(columns="segment"))
    assert np.all(names["segment"].to_numpy() == prof["segment"].to_numpy())
