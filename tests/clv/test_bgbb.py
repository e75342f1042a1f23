"""BG/BB: reproduction of Fader, Hardie and Shang (2010), predictions, the discrete summary."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime
from sklearn.base import clone

from segwise.clv import (
    BGBB,
    btyd_summary,
    check_discrete,
    compare_purchase_models,
    customer_value,
    simulate_bgbb,
)
from segwise.clv._bgbb import _terms

#: Table 1 of Fader, Hardie and Shang (2010): the 1995 cohort of 11,104 donors to a
#: non-profit, six yearly opportunities after the first donation; (x, t_x, donors).
DONATIONS = [
    (0, 0, 3464), (1, 1, 1091), (1, 2, 277), (1, 3, 129), (1, 4, 78), (1, 5, 119),
    (1, 6, 129), (2, 2, 613), (2, 3, 255), (2, 4, 155), (2, 5, 173), (2, 6, 234),
    (3, 3, 322), (3, 4, 181), (3, 5, 225), (3, 6, 357), (4, 4, 240), (4, 5, 284),
    (4, 6, 512), (5, 5, 335), (5, 6, 728), (6, 6, 1203),
]
#: Their maximum-likelihood estimates and log-likelihood.
PUBLISHED = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}


def _donors() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = np.array(DONATIONS, dtype=float)
    counts = table[:, 2].astype(int)
    return np.repeat(table[:, 0], counts), np.repeat(table[:, 1], counts), np.full(
        counts.sum(), 6.0)


@pytest.fixture(scope="module")
def donations_model() -> BGBB:
    return BGBB().fit(*_donors())


def _paths(n: int, horizon: int, params: pd.Series, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Opportunities with a transaction (n x horizon) and the last opportunity alive."""
    rng = np.random.default_rng(seed)
    p = rng.beta(params["alpha"], params["beta"], n)
    life = np.minimum(rng.geometric(rng.beta(params["gamma"], params["delta"], n)) - 1, horizon)
    buys = (rng.random((n, horizon)) < p[:, None]) & (np.arange(1, horizon + 1) <= life[:, None])
    return buys, life


def test_donations_reproduce_published_estimates(donations_model: BGBB) -> None:
    for name, value in PUBLISHED.items():
        assert donations_model.params_[name] == pytest.approx(value, rel=0.005), name
    assert donations_model.log_likelihood_ == pytest.approx(-33225.6, abs=0.1)
    assert donations_model.converged_ and donations_model.n_customers_ == 11104
    assert (donations_model.standard_errors_ > 0).all()


def test_gradient_matches_finite_differences() -> None:
    x, t_x, n = _donors()
    patterns, counts = np.unique(np.stack([x, t_x, n], axis=1), axis=0, return_counts=True)
    data, model = _terms(patterns, counts), BGBB()
    params = np.array([1.0, 0.8, 0.6, 2.5])
    numeric = approx_fprime(params, lambda p: model._neg_log_lik(p, data)[0], 1e-6)
    np.testing.assert_allclose(model._neg_log_lik(params, data)[1], numeric, rtol=1e-4)


def test_predictions_agree_with_simulated_donors(donations_model: BGBB) -> None:
    # Six observed opportunities, five more to forecast: per calibration pattern, the mean
    # of simulated future donations and the share still alive match the closed forms.
    buys, life = _paths(600_000, 11, donations_model.params_, seed=0)
    cal = buys[:, :6]
    x = cal.sum(axis=1)
    t_x = np.where(x > 0, 6 - np.argmax(cal[:, ::-1], axis=1), 0)
    future, alive = buys[:, 6:].sum(axis=1), life >= 7
    for px, pt in [(0, 0), (1, 1), (2, 3), (3, 6), (6, 6)]:
        sel = (x == px) & (t_x == pt)
        predicted = donations_model.predict_purchases(5, px, pt, 6)[0]
        se = future[sel].std() / np.sqrt(sel.sum())
        assert abs(future[sel].mean() - predicted) < 4 * se + 1e-3, (px, pt)
        p_alive = donations_model.p_alive(px, pt, 6)[0]
        assert abs(alive[sel].mean() - p_alive) < 4 * np.sqrt(p_alive * (1 - p_alive) / sel.sum())
    np.testing.assert_allclose(donations_model.expected_purchases(11), buys.sum(axis=1).mean(),
                               rtol=0.01)
    assert donations_model.expected_purchases(0) == 0.0
    # A started opportunity counts: 4.2 periods are 5 opportunities.
    assert donations_model.predict_purchases(4.2, 3, 6, 6)[0] == pytest.approx(
        donations_model.predict_purchases(5, 3, 6, 6)[0])


def test_gamma_one_limit_is_continuous(donations_model: BGBB) -> None:
    model = clone(donations_model)
    near, at = clone(model), clone(model)
    near.params_ = donations_model.params_.copy()
    near.params_["gamma"] = 1.0 + 1e-5
    at.params_ = near.params_.copy()
    at.params_["gamma"] = 1.0
    args = (5, [0, 2, 6], [0, 3, 6], [6, 6, 6])
    np.testing.assert_allclose(at.predict_purchases(*args), near.predict_purchases(*args),
                               rtol=1e-4)


def test_simulation_summaries_are_consistent() -> None:
    x, t_x, n = simulate_bgbb(5000, 8, alpha=1.2, beta=0.75, gamma=0.66, delta=2.8,
                              random_state=1)
    check_discrete(x, t_x, n)
    model = BGBB().fit(x, t_x, n)
    truth = pd.Series(PUBLISHED)
    z = (model.params_ - truth) / model.standard_errors_
    assert (z.abs() < 4).all(), z


@pytest.mark.parametrize(
    ("x", "t_x", "n", "match"),
    [
        ([1, 2], [1.5, 3.0], [6.0, 6.0], "whole opportunities"),
        ([3, 2], [2.0, 3.0], [6.0, 6.0], "frequency cannot exceed recency"),
        ([1, 2], [7.0, 3.0], [6.0, 6.0], "recency must lie between 0 and T"),
    ],
)
def test_bad_summaries_are_rejected(x, t_x, n, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        BGBB().fit(x, t_x, n)


def _yearly_log(seed: int = 0) -> tuple[ibis.Table, np.ndarray]:
    """Donors who give at most once a year: first gift in June 2010, ten yearly chances."""
    buys, _ = _paths(3000, 10, pd.Series(PUBLISHED), seed=seed)
    rng = np.random.default_rng(seed)
    first = pd.Timestamp("2010-06-01") + pd.to_timedelta(rng.integers(0, 30, 3000), unit="D")
    rows = [(f"d{i:04d}", first[i], 25.0) for i in range(3000)]
    for i, k in zip(*np.nonzero(buys), strict=True):
        day = first[i] + pd.Timedelta(days=round((k + 1) * 365.25))
        rows.append((f"d{i:04d}", day, float(rng.gamma(5.0, 6.0))))
    frame = pd.DataFrame(rows, columns=["customer_id", "ts", "revenue"])
    return ibis.memtable(frame), buys


def test_discrete_summary_counts_periods() -> None:
    lines, buys = _yearly_log()
    s = btyd_summary(lines, calibration_end="2016-07-15", holdout_end="2020-07-15", unit="Y",
                     discrete=True)
    cal = buys[:, :6]
    x = cal.sum(axis=1)
    np.testing.assert_array_equal(s["frequency"], x)
    np.testing.assert_array_equal(s["recency"], np.where(x > 0, 6 - np.argmax(cal[:, ::-1], 1), 0))
    assert (s["T"] == 6).all() and s.attrs["discrete"] is True
    np.testing.assert_array_equal(s["frequency_holdout"], buys[:, 6:].sum(axis=1))
    # One gift a year: the continuous summary counts the same purchases.
    c = btyd_summary(lines, calibration_end="2016-07-15", holdout_end="2020-07-15", unit="Y")
    np.testing.assert_array_equal(c["frequency"], s["frequency"])
    assert (c["recency"] != s["recency"]).any()  # days / 365.25 against whole years


def test_bgbb_is_compared_on_discrete_data() -> None:
    lines, _ = _yearly_log(seed=1)
    comparison = compare_purchase_models(lines, calibration_end="2016-07-15",
                                         holdout_end="2020-07-15", unit="Y")
    table = comparison.table.set_index("model")
    assert (table["status"] == "fitted").all(), table["note"]
    # Data drawn from BG/BB: the discrete model is at least as good per customer.
    assert table.loc["bgbb", "mae"] < table.loc[["bgnbd", "mbgnbd", "pareto_nbd"], "mae"].min()
    assert comparison.chosen == "bgbb" and "BG/BB was chosen" in comparison.reason
    assert comparison.summaries["bgbb"].attrs["discrete"] is True


def test_bgbb_value_says_when_its_periods_are_not_purchases() -> None:
    lines, _ = _yearly_log(seed=2)
    once = customer_value(lines, calibration_end="2016-07-15", unit="Y", model="bgbb")
    assert not any("periods with a purchase" in note for note in once.notes)
    # Forty donors also gave ten days after their first gift: two purchases in one year,
    # one period with a purchase. The forecast counts years with a gift, and said nothing.
    frame = lines.to_pandas()
    extra = frame.groupby("customer_id").head(1).head(40).assign(
        ts=lambda d: d["ts"] + pd.Timedelta(days=10))
    twice = ibis.memtable(pd.concat([frame, extra], ignore_index=True))
    result = customer_value(twice, calibration_end="2016-07-15", unit="Y", model="bgbb")
    said = [note for note in result.notes if "periods with a purchase" in note]
    assert said == [
        "BG/BB counts periods with a purchase, not purchases, and 40 customers bought on two "
        "days or more of one period: expected_purchases is the number of periods (Y) in which "
        "they will buy, expected_avg_value their spend per such period. Fix: to forecast "
        "purchases, a shorter unit (one purchase at most per period) or a continuous-time "
        "model (bgnbd, mbgnbd, pareto_nbd)"]
