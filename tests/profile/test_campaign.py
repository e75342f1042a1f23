"""The financial-effect model: budgets, the targeted plan, measured rates, invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segwise.exceptions import ConfigError
from segwise.profile import CampaignSettings, campaign_effect


def test_the_targeted_plan_takes_the_best_segments_first() -> None:
    labels = np.repeat(["A", "B", "C"], [100, 300, 600])
    s = CampaignSettings(response_rates={"A": 0.1, "B": 0.03, "C": 0.005},
                         value_per_response=50.0, contact_cost=1.0, budget_share=0.2)
    effect = campaign_effect(labels, s)
    seg = effect.segments.set_index("segment")
    # 200 contacts: all of A (profit 4 per contact), then 100 of B (0.5); C loses money.
    assert seg["contacted"].to_dict() == {"A": 100, "B": 100, "C": 0}
    c = effect.comparison
    assert c.loc["targeted", "profit"] == pytest.approx(100 * 4 + 100 * 0.5)
    mean_rate = (100 * 0.1 + 300 * 0.03 + 600 * 0.005) / 1000
    assert c.loc["untargeted", "profit"] == pytest.approx(200 * (mean_rate * 50 - 1))
    assert effect.gain == pytest.approx(450 - 200 * (mean_rate * 50 - 1))
    assert c.loc["difference", "profit_low"] <= effect.gain <= c.loc["difference",
                                                                     "profit_high"]
    assert any("Budget: 200" in a for a in effect.assumptions)


def test_equal_rates_gain_nothing_from_targeting() -> None:
    labels = np.repeat(["A", "B"], [50, 50])
    effect = campaign_effect(labels, CampaignSettings(value_per_response=100.0))
    assert effect.gain == pytest.approx(0.0)


def test_measured_rates_replace_the_prior() -> None:
    labels = np.repeat(["A", "B"], [1000, 1000])
    responses = np.r_[np.ones(100), np.zeros(900), np.ones(10), np.zeros(990)]
    effect = campaign_effect(labels, CampaignSettings(prior_weight=0.0), responses=responses)
    seg = effect.segments.set_index("segment")
    assert seg.loc["A", "response_rate"] == pytest.approx(0.1)
    assert seg.loc["B", "response_rate"] == pytest.approx(0.01)
    assert set(seg["rate_source"]) == {"measured"}
    assert any("measured from 2,000" in a for a in effect.assumptions)


def test_value_share_prices_a_response_by_the_segment_value() -> None:
    labels = np.array(["rich"] * 10 + ["poor"] * 10)
    values = np.r_[np.full(10, 5000.0), np.full(10, 50.0)]
    effect = campaign_effect(labels, CampaignSettings(value_share=0.1), values=values)
    seg = effect.segments.set_index("segment")
    assert seg.loc["rich", "value_per_response"] == pytest.approx(500.0)
    assert seg.loc["poor", "value_per_response"] == pytest.approx(5.0)


def test_bad_settings_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"\[campaign\] response_rates.A = 2"):
        CampaignSettings(response_rates={"A": 2})
    with pytest.raises(ConfigError, match="contact_cost"):
        CampaignSettings(contact_cost=0)
    with pytest.raises(ConfigError, match="3 responses for 2 entities"):
        campaign_effect(["a", "b"], responses=[1, 0, 1])


@pytest.mark.parametrize(("key", "value", "shown"), [
    ("budget", -3.0, "budget = -3.0"), ("value_per_response", -5.0, "value_per_response = -5"),
    ("values", {"A": -1.0}, "values.A = -1"), ("values", {"A": float("inf")}, "values.A = inf"),
    ("value_share", -0.1, "value_share = -0.1"), ("prior_weight", -1.0, "prior_weight = -1")])
def test_negative_money_and_weights_are_refused(key: str, value: object, shown: str) -> None:
    # A negative budget "spent" 3 units by contacting nobody and called that a gain of 3.
    with pytest.raises(ConfigError, match=rf"^\[campaign\] {shown}.*: a finite number >= 0"):
        CampaignSettings(**{key: value})


def test_zero_rates_and_values_plan_no_contact() -> None:
    labels = np.repeat(["A", "B"], [30, 10])
    for s in (CampaignSettings(response_rate=0.0), CampaignSettings(value_per_response=0.0)):
        effect = campaign_effect(labels, s)
        assert effect.segments["contacted"].sum() == 0
        assert effect.comparison.loc["targeted", "profit"] == 0
        assert effect.comparison.loc["untargeted", "profit"] == pytest.approx(-8.0)


def test_settings_for_segments_that_do_not_exist_are_named() -> None:
    s = CampaignSettings(response_rates={"A": 0.1, "Nigth owls": 0.5}, values={"Zed": 5.0})
    effect = campaign_effect(np.repeat(["A", "B"], [30, 10]), s)
    text = "\n".join(effect.assumptions)
    assert "response_rates names the segment (1 named)" in text
    assert "values names the segment (0 named)" in text
    assert "response_rates names 1 segment(s) that this segmentation does not have" in text
    assert "'Nigth owls' (the segments: 'A', 'B')" in text
    assert "values names 1 segment(s)" in text and "'Zed'" in text


def test_a_segment_nobody_was_contacted_in_keeps_its_prior_without_weight() -> None:
    labels = np.repeat(["A", "B"], [10, 10])
    responses = np.r_[np.ones(5), np.zeros(5), np.full(10, np.nan)]
    effect = campaign_effect(labels, CampaignSettings(prior_weight=0.0, response_rate=0.03),
                             responses=responses)
    seg = effect.segments.set_index("segment")
    assert seg.loc["A", "response_rate"] == pytest.approx(0.5)
    assert seg.loc["B", "response_rate"] == pytest.approx(0.03)
    assert np.isfinite(effect.comparison["profit"]).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 500), st.floats(0, 0.3), st.floats(1, 200)),
                min_size=1, max_size=6),
       st.floats(0.05, 1.0), st.floats(0.1, 5.0))
def test_targeting_never_earns_less_than_random_contact(segments: list, share: float,
                                                        cost: float) -> None:
    labels = np.repeat([f"s{i}" for i in range(len(segments))], [n for n, _, _ in segments])
    s = CampaignSettings(response_rates={f"s{i}": r for i, (_, r, _) in enumerate(segments)},
                         values={f"s{i}": v for i, (_, _, v) in enumerate(segments)},
                         contact_cost=cost, budget_share=share)
    effect = campaign_effect(labels, s)
    c = effect.comparison
    assert c.loc["targeted", "cost"] <= c.loc["untargeted", "cost"] + 1e-6
    assert effect.gain >= -1e-6
    assert effect.segments["contacted"].sum() <= len(labels)
