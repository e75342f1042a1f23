"""Comparing two tables' segment distributions: shares, ratios, intervals, verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segwise.exceptions import ConfigError
from segwise.profile import compare_populations, describe_segments, segment_means


def _labels(counts: dict[int, int]) -> np.ndarray:
    return np.repeat(list(counts), list(counts.values()))


def test_shares_ratio_interval_and_verdicts() -> None:
    population = _labels({0: 5000, 1: 3000, 2: 1500, -1: 500})
    customers = _labels({0: 125, 1: 300, 2: 70, -1: 5})
    cmp = compare_populations(population, customers)
    t = cmp.table.set_index("segment")
    assert list(t.index) == [0, 1, 2, -1]           # the rows not placed last
    assert t.loc[-1, "name"] == "Not placed" and t.loc[0, "name"] == "Segment 1"
    assert t["population_share"].sum() == pytest.approx(1) and t["customer_share"].sum() == (
        pytest.approx(1))
    assert t.loc[1, "ratio"] == pytest.approx((300 / 500) / (3000 / 10000))
    # Katz's interval for a ratio of proportions, by hand for segment 1.
    se = np.sqrt(1 / 300 - 1 / 500 + 1 / 3000 - 1 / 10000)
    assert t.loc[1, "ratio_low"] == pytest.approx(2.0 * np.exp(-1.959964 * se), rel=1e-5)
    assert t.loc[1, "ratio_high"] == pytest.approx(2.0 * np.exp(1.959964 * se), rel=1e-5)
    assert t.loc[1, "verdict"] == "over" and t.loc[0, "verdict"] == "under"
    # 14 % of customers against 15 % of the population: the interval crosses 1.
    assert t.loc[2, "ratio_low"] < 1 < t.loc[2, "ratio_high"]
    assert t.loc[2, "verdict"] == "neither"
    # Base rate: customers / population; expected customers = count x rate x ratio.
    assert cmp.base_rate == pytest.approx(0.05)
    assert t.loc[1, "expected_customers"] == pytest.approx(300)
    assert "Segment 2 (2.00x)" in cmp.summary() and "Segment 1" in cmp.summary()


def test_small_segments_are_neither_and_zero_counts_stay_finite() -> None:
    population = _labels({0: 9000, 1: 1000, 2: 20})
    customers = _labels({0: 90, 1: 11})
    t = compare_populations(population, customers, level=0.9).table.set_index("segment")
    assert t.loc[2, "customers"] == 0 and t.loc[2, "ratio"] == 0
    assert t.loc[2, "ratio_low"] == 0 and 1 < t.loc[2, "ratio_high"] < np.inf
    assert t.loc[2, "verdict"] == "neither"           # 0 of 101 is no evidence of absence
    assert t.loc[1, "verdict"] == "neither"


def test_customers_in_a_segment_the_population_lacks() -> None:
    # Nobody of the population too sparse to place: the ratio was inf, written 'inf' in
    # comparison.csv and said 'infx' in the summary. No share to divide by: no ratio, no
    # upper bound, missing.
    cmp = compare_populations(_labels({0: 1000}), _labels({0: 90, -1: 10}))
    sparse = cmp.table.set_index("segment").loc[-1]
    assert np.isnan(sparse["ratio"]) and np.isnan(sparse["ratio_high"])
    assert sparse["ratio_low"] > 1 and sparse["verdict"] == "over"
    assert sparse["expected_customers"] == 0
    assert "Not placed (no one of the population)" in cmp.summary()
    assert "inf" not in cmp.summary() and "nan" not in cmp.summary()
    assert cmp.ratio_text(sparse["ratio"], sparse["ratio_low"], sparse["ratio_high"]) == (
        f"no one of the population ({sparse['ratio_low']:.2f} or more)")
    assert ",,over," in cmp.table.to_csv(index=False)  # written empty


def test_a_given_base_rate_and_names() -> None:
    t = compare_populations(_labels({0: 800, 1: 200}), _labels({0: 50, 1: 50}),
                            base_rate=0.02, names={0: "Urban", 1: "Rural"},
                            descriptions={0: "in town", 1: "in the country"}).table
    assert list(t["name"]) == ["Urban", "Rural"] and list(t["description"]) == [
        "in town", "in the country"]
    assert t.loc[1, "expected_customers"] == pytest.approx(200 * 0.02 * 2.5)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least one row"):
        compare_populations([], [0])
    with pytest.raises(ConfigError, match="level"):
        compare_populations([0], [0], level=1.5)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-1, 4), min_size=1, max_size=300),
       st.lists(st.integers(-1, 4), min_size=1, max_size=100), st.randoms())
def test_row_order_never_changes_the_table(pop: list[int], cust: list[int],
                                           rnd: object) -> None:
    a = compare_populations(pop, cust).table
    shuffled_pop, shuffled_cust = list(pop), list(cust)
    rnd.shuffle(shuffled_pop)  # type: ignore[attr-defined]
    rnd.shuffle(shuffled_cust)  # type: ignore[attr-defined]
    pd.testing.assert_frame_equal(a, compare_populations(shuffled_pop, shuffled_cust).table)
    # A ratio exactly where someone of the population is in the segment, inside its interval.
    defined = a["population"] > 0
    assert a["ratio"].notna().eq(defined).all() and a["ratio_high"].notna().eq(defined).all()
    assert ((a["ratio_low"] <= a["ratio"] + 1e-12) & (a["ratio"] <= a["ratio_high"] + 1e-12)
            )[defined].all()
    assert set(a["verdict"]) <= {"over", "under", "neither"}
    # With the population's own rate, a segment's expected customers are its customers.
    assert (a["expected_customers"][defined] == a["customers"][defined]).all()


def test_segments_are_described_by_their_furthest_features() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    labels = np.repeat([0, 1], n // 2)
    urban = np.where(labels == 0, rng.random(n) < 0.8, rng.random(n) < 0.1).astype(float)
    age = np.where(labels == 0, rng.normal(2, 0.5, n), rng.normal(5, 0.5, n))
    noise = rng.normal(0, 1, n)
    values = np.column_stack([urban, age, noise])
    values[::50, 1] = np.nan
    means, overall, sd = segment_means(values, np.r_[labels[:-1], -1])
    out = describe_segments(
        means, overall, sd, ["REGION=urban", "AGE", "NOISE"],
        describe={"REGION=urban": "Region: urban", "AGE": "Age class",
                  "NOISE": "Noise"}.__getitem__,
        kinds={"REGION=urban": "share", "AGE": "number", "NOISE": "number"},
        value_text=lambda f, v: {2: "30-45", 5: "over 60"}.get(round(v), ""), top=2)
    first, second = out.iloc[0], out.iloc[1]
    assert first["description"] == ("Age class lower: 2.01 (about '30-45') against 3.5 in the "
                                    "population; Region: urban 79% (population 44%)")
    assert "Noise" not in first["description"] + second["description"]
    assert second["features"] == "AGE +0.9 sd, REGION=urban -0.7 sd"
