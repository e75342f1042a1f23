"""BG/NBD: reproduction of Fader, Hardie and Lee (2005), numerics, invariants (shared with
MBG/NBD), bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import approx_fprime
from scipy.special import hyp2f1
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from segwise.clv import BGNBD, MBGNBD, check_rft, simulate_bgnbd
from segwise.clv._bgnbd import likelihood_data

#: Table 1 of Fader, Hardie and Lee (2005): CDNOW 1/10 sample, 39-week calibration.
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


@pytest.fixture(scope="module")
def cdnow_model(cdnow_summary: pd.DataFrame) -> BGNBD:
    s = cdnow_summary
    return BGNBD().fit(s["frequency"], s["recency"], s["T"])


@pytest.fixture(scope="module")
def simulated() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    T = rng.uniform(20, 60, 30_000)
    return simulate_bgnbd(30_000, T, r=0.5, alpha=6.0, a=0.7, b=3.0, random_state=rng)


def test_cdnow_reproduces_published_estimates(cdnow_model: BGNBD) -> None:
    for name, value in PUBLISHED.items():
        assert cdnow_model.params_[name] == pytest.approx(value, rel=0.005), name
    assert cdnow_model.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)
    assert cdnow_model.converged_
    assert cdnow_model.n_customers_ == 2357


def test_cdnow_published_conditional_expectation(cdnow_model: BGNBD) -> None:
    # Fader, Hardie and Lee (2005), section 5: a customer with x = 2, t_x = 30.43 and
    # T = 38.86 is expected to make 1.226 purchases in the next 39 weeks.
    assert cdnow_model.predict_purchases(39, 2, 30.43, 38.86)[0] == pytest.approx(1.226, abs=5e-4)


def test_standard_errors_and_intervals(cdnow_model: BGNBD) -> None:
    table = cdnow_model.summary()
    assert list(table.columns) == ["estimate", "std_error", "lower", "upper"]
    assert (table["std_error"] > 0).all() and np.isfinite(table["std_error"]).all()
    assert (table["lower"] < table["estimate"]).all() and (table["estimate"] < table["upper"]).all()
    # r is tightly determined by 2,357 customers; b much less so (one repeat in three).
    assert table.loc["r", "std_error"] / table.loc["r", "estimate"] < 0.1
    assert table.loc["b", "std_error"] / table.loc["b", "estimate"] > 0.1


def test_gradient_matches_finite_differences(cdnow_summary: pd.DataFrame) -> None:
    s = cdnow_summary
    data = likelihood_data(*check_rft(s["frequency"], s["recency"], s["T"]))
    model = BGNBD()
    params = np.array([0.3, 5.0, 0.7, 2.0])
    analytic = model._neg_log_lik(params, data)[1]
    numeric = approx_fprime(params, lambda p: model._neg_log_lik(p, data)[0], 1e-6)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4)


def test_recovers_simulated_parameters(simulated) -> None:  # type: ignore[no-untyped-def]
    model = BGNBD().fit(*simulated)
    truth = pd.Series({"r": 0.5, "alpha": 6.0, "a": 0.7, "b": 3.0})
    z = (model.params_ - truth) / model.standard_errors_
    assert (z.abs() < 4).all(), z


def test_fit_is_deterministic(simulated) -> None:  # type: ignore[no-untyped-def]
    first, second = BGNBD().fit(*simulated), BGNBD().fit(*simulated)
    pd.testing.assert_series_equal(first.params_, second.params_)


def test_stable_form_matches_direct_form_and_stays_finite(cdnow_model: BGNBD) -> None:
    r, alpha, a, b = cdnow_model.params_
    x = np.array([0, 1, 2, 5, 10, 20])
    t_x = np.array([0.0, 5.0, 30.43, 20.0, 35.0, 38.0])
    T = np.full(6, 38.86)
    t = 39.0
    z = t / (alpha + T + t)
    power = ((alpha + T) / (alpha + T + t)) ** (r + x)
    direct_term = power * hyp2f1(r + x, b + x, a + b + x - 1, z)
    odds = np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
    direct = (a + b + x - 1) / (a - 1) * (1 - direct_term) / (1 + odds)
    np.testing.assert_allclose(cdnow_model.predict_purchases(t, x, t_x, T), direct, rtol=1e-9)
    # A very frequent buyer over a long horizon: the direct form overflows to nan/inf there.
    heavy = cdnow_model.predict_purchases(520.0, [400], [38.8], [38.86])
    assert np.isfinite(heavy).all() and heavy[0] > 400
    with np.errstate(all="ignore"):
        z = 520.0 / (alpha + 38.86 + 520.0)
        naive = (1 - z) ** (r + 400) * hyp2f1(r + 400, b + 400, a + b + 399, z)
    assert not np.isfinite(naive)  # what the stable form avoids


def test_expected_purchases_agree_with_simulation(cdnow_model: BGNBD) -> None:
    r, alpha, a, b = cdnow_model.params_
    x, _, _ = simulate_bgnbd(200_000, 39.0, r=r, alpha=alpha, a=a, b=b, random_state=0)
    se = x.std() / np.sqrt(x.size)
    assert abs(x.mean() - cdnow_model.expected_purchases(39.0)) < 4 * se


def test_expected_purchases_of_new_customer(cdnow_model: BGNBD) -> None:
    # E[X(t)] is the x = 0, T = 0 case of the conditional expectation.
    t = np.array([1.0, 39.0, 78.0])
    np.testing.assert_allclose(
        cdnow_model.expected_purchases(t),
        [cdnow_model.predict_purchases(v, 0, 0, 0)[0] for v in t],
        rtol=1e-12,
    )
    assert cdnow_model.expected_purchases(0.0) == 0.0


def test_p_alive_known_cases(cdnow_model: BGNBD) -> None:
    p = cdnow_model.p_alive([0, 5, 5, 5], [0, 38, 20, 2], [38.86] * 4)
    assert p[0] == 1.0  # no repeat purchase: the model has no chance to lose them yet
    assert 1 > p[1] > p[2] > p[3] > 0  # the longer the silence, the likelier they left


finite = st.floats(0.0, 200.0, allow_nan=False)


@pytest.fixture(scope="module", params=[BGNBD, MBGNBD], ids=["bgnbd", "mbgnbd"])
def either_model(request: pytest.FixtureRequest, cdnow_summary: pd.DataFrame) -> BGNBD:
    s = cdnow_summary
    return request.param().fit(s["frequency"], s["recency"], s["T"])


@settings(max_examples=60, deadline=None)
@given(x=st.integers(0, 300), frac=st.floats(0.0, 1.0), T=st.floats(0.01, 200.0),
       t1=finite, t2=finite)
def test_invariants(
    either_model: BGNBD, x: int, frac: float, T: float, t1: float, t2: float
) -> None:
    t_x = 0.0 if x == 0 else max(frac * T, 1e-3 * T)
    lo, hi = sorted((t1, t2))
    e_lo = either_model.predict_purchases(lo, x, t_x, T)[0]
    e_hi = either_model.predict_purchases(hi, x, t_x, T)[0]
    assert np.isfinite(e_hi) and 0.0 <= e_lo <= e_hi * (1 + 1e-9) + 1e-12
    p = either_model.p_alive(x, t_x, T)[0]
    assert 0.0 <= p <= 1.0
    # More observed time without a purchase never makes a customer likelier to be alive.
    assert either_model.p_alive(x, t_x, T + 10.0)[0] <= p + 1e-12


@pytest.mark.parametrize(
    ("x", "t_x", "T", "match"),
    [
        ([1, 2], [1.0, 3.0], [2.0, 2.0], "recency must lie between 0 and T"),
        ([-1, 2], [0.0, 1.0], [2.0, 2.0], "non-negative integer"),
        ([1.5, 2], [1.0, 1.0], [2.0, 2.0], "non-negative integer"),
        ([0, 2], [1.0, 1.0], [2.0, 2.0], "recency must be 0 when frequency is 0"),
        ([3, 2], [0.0, 1.0], [2.0, 2.0], "recency must be positive"),
        ([1, 2], [1.0, np.nan], [2.0, 2.0], "missing or infinite"),
        ([1, 2], [1.0, 1.0], [2.0], "expected 2 values"),
        ([0, 0], [0.0, 0.0], [-1.0, 2.0], "T must be non-negative"),
    ],
)
def test_bad_summaries_are_rejected(x, t_x, T, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        BGNBD().fit(x, t_x, T)


def test_single_customer_and_no_repeat_buyers() -> None:
    with pytest.raises(ValueError, match="at least 10 customers"):
        BGNBD().fit([3], [10.0], [20.0])
    with pytest.raises(ValueError, match="needs repeat buyers"):
        BGNBD().fit(np.zeros(50), np.zeros(50), np.full(50, 10.0))


def test_estimator_contract(cdnow_model: BGNBD) -> None:
    model = BGNBD(max_iter=50)
    assert model.get_params() == {"max_iter": 50, "tol": 1e-13}
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        model.p_alive([0], [0.0], [1.0])
    assert not hasattr(clone(cdnow_model), "params_")
    with pytest.raises(ValueError, match="non-negative number"):
        cdnow_model.predict_purchases(-1.0, [0], [0.0], [1.0])


def test_simulation_is_reproducible_and_consistent() -> None:
    a = simulate_bgnbd(1000, 30.0, r=0.5, alpha=5.0, a=0.8, b=2.0, random_state=1)
    b = simulate_bgnbd(1000, 30.0, r=0.5, alpha=5.0, a=0.8, b=2.0, random_state=1)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    x, t_x, T = a
    assert ((x == 0) == (t_x == 0)).all() and (t_x <= T).all()


def test_nearly_degenerate_parameters_stay_finite() -> None:
    # Customers who hardly differ drive all four parameters to the thousands, where the
    # hypergeometric function loses precision; the prediction then uses posterior means.
    x, t_x, T = np.array([0, 1, 3]), np.array([0.0, 10.0, 30.0]), np.array([40.0, 40.0, 40.0])
    moderate, huge = BGNBD(), BGNBD()
    moderate.params_ = pd.Series({"r": 200.0, "alpha": 4000.0, "a": 100.0, "b": 400.0})
    huge.params_ = pd.Series({"r": 1.4e5, "alpha": 3.2e6, "a": 6.2e3, "b": 2.9e4})
    for model in (moderate, huge):
        r, alpha, a, b = model.params_
        expected = model.predict_purchases(52.0, x, t_x, T) / model.p_alive(x, t_x, T)
        rate, p = (r + x) / (alpha + T), a / (a + b + x)
        plug_in = -np.expm1(-rate * p * 52.0) / p
        np.testing.assert_allclose(expected, plug_in, rtol=0.02)
    assert np.isfinite(huge.expected_purchases([1.0, 52.0, 520.0])).all()
