"""Segment profiles and the cross-tab against rule-based RFM segments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segwise.exceptions import ConfigError
from segwise.profile import crosstab_segments, distinguishing_features, profile_segments
from segwise.segment import Segmenter

RFM = ["recency_days", "frequency", "monetary"]
FEATURES = [*RFM, "tenure_days", "avg_order_value"]


@pytest.fixture(scope="module")
def labels(retail_customers: pd.DataFrame) -> np.ndarray:
    return Segmenter(4, random_state=0).fit_predict(retail_customers[RFM])


@pytest.fixture(scope="module")
def profiles(retail_customers: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    return profile_segments(retail_customers, labels, features=FEATURES)


def test_sizes_and_shares_add_up(profiles: pd.DataFrame, retail_customers) -> None:
    assert profiles["segment"].tolist() == [0, 1, 2, 3]
    assert profiles["customers"].sum() == len(retail_customers)
    assert profiles["share"].sum() == pytest.approx(1.0)
    assert profiles["revenue_share"].sum() == pytest.approx(1.0)
    assert profiles["revenue"].sum() == pytest.approx(retail_customers["monetary"].sum())


def test_statistics_match_the_customers(
    profiles: pd.DataFrame, retail_customers: pd.DataFrame, labels: np.ndarray
) -> None:
    money = retail_customers["monetary"]
    top = profiles.iloc[-1]
    assert top["monetary_mean"] == pytest.approx(money[labels == 3].mean())
    assert top["monetary_median"] == pytest.approx(money[labels == 3].median())
    assert top["monetary_lift"] == pytest.approx(money[labels == 3].mean() / money.mean())
    # Canonical order by monetary: the z-scores of money rise with the label, the top
    # segment buys most often and most recently, and the bottom one the reverse.
    assert np.all(np.diff(profiles["monetary_z"]) > 0)
    assert top["frequency_z"] > 0.5 > -0.5 > profiles.iloc[0]["frequency_z"]
    assert top["recency_days_z"] < 0 < profiles.iloc[0]["recency_days_z"]
    # The z-scores of a feature, weighted by segment size, average to zero.
    assert np.average(profiles["frequency_z"], weights=profiles["customers"]) == pytest.approx(
        0.0, abs=1e-9
    )


def test_lift_is_given_for_amounts_only(shared_data: Path) -> None:
    # Wholesale's spend, and the same as z-scores of its logs (a table a data scientist
    # has already standardised): the lift of a mean near zero was 66,099 and -333,228,
    # shown on the dashboard's segment pages as if a segment bought that many times more.
    spend = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz").iloc[:, 2:]
    logs = np.log1p(spend)
    scored = ((logs - logs.mean()) / logs.std()).round(4)
    labels = Segmenter(3, random_state=0).fit_predict(spend)
    raw = profile_segments(spend, labels, value_col=None)
    assert raw["Fresh_lift"].tolist() == pytest.approx(
        [spend["Fresh"][labels == s].mean() / spend["Fresh"].mean() for s in range(3)])
    z = profile_segments(scored, labels, value_col=None)
    assert z[[f"{f}_lift" for f in spend.columns]].isna().all().all()
    assert z["Fresh_z"].tolist() == pytest.approx(raw["Fresh_z"].tolist(), abs=0.05)
    # Net spend below zero for a few customers (returns) is still an amount.
    net = spend[["Fresh"]].astype(float)
    net.iloc[:5, 0] = -100.0
    assert profile_segments(net, labels, value_col=None)["Fresh_lift"].notna().all()


def test_distinguishing_features(profiles: pd.DataFrame) -> None:
    top = profiles.iloc[-1]["distinguishing"]
    assert "frequency" in top and "monetary" in top and "+" in top
    z = pd.DataFrame({"a": [2.0, 0.1], "b": [-0.5, 0.0]}, index=[0, 1])
    found = distinguishing_features(z, top=2)
    assert found[0] == [("a", 2.0), ("b", -0.5)]
    assert found[1] == []  # nothing sets segment 1 apart


def test_noise_is_profiled_as_its_own_segment(retail_customers: pd.DataFrame) -> None:
    labels = np.where(np.arange(len(retail_customers)) % 50 == 0, -1,
                      (retail_customers["frequency"] > 2).astype(int))
    prof = profile_segments(retail_customers, labels, features=RFM)
    assert prof["segment"].tolist() == [-1, 0, 1]


def test_mismatched_labels_are_refused(retail_customers: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="must match"):
        profile_segments(retail_customers, [0, 1, 2], features=RFM)
    with pytest.raises(ConfigError, match="lacks"):
        profile_segments(retail_customers, np.zeros(len(retail_customers)), features=["nope"])


def test_crosstab_against_rule_based_segments(
    retail_customers: pd.DataFrame, labels: np.ndarray
) -> None:
    ct = crosstab_segments(labels, retail_customers["segment"])
    assert int(ct.loc["All", "All"]) == len(retail_customers)
    assert set(ct.columns) - {"All"} == set(retail_customers["segment"].unique())
    # The learned top segment is mostly the rule-based "Champions".
    shares = crosstab_segments(labels, retail_customers["segment"], normalize="index")
    assert shares.loc[3].idxmax() == "Champions"
    assert shares.sum(axis=1).to_numpy() == pytest.approx(1.0)
