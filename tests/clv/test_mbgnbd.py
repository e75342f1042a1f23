"""MBG/NBD: reproduction of the published CDNOW estimates, numerics, invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime
from scipy.special import hyp2f1
from sklearn.base import clone

from segwise.clv import BGNBD, MBGNBD, check_rft, simulate_bgnbd

#: MBG/NBD on the CDNOW 1/10 sample, 39-week calibration: Batislam, Denizel and Filiztekin
#: (2007) as reproduced by BTYDplus (Platzer) and lifetimes' ModifiedBetaGeoFitter.
PUBLISHED = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}


@pytest.fixture(scope="module")
def cdnow_model(cdnow_summary: pd.DataFrame) -> MBGNBD:
    s = cdnow_summary
    return MBGNBD().fit(s["frequency"], s["recency"], s["T"])


def test_cdnow_reproduces_published_estimates(cdnow_model: MBGNBD) -> None:
    for name, value in PUBLISHED.items():
        assert cdnow_model.params_[name] == pytest.approx(value, rel=0.005), name
    assert cdnow_model.converged_ and cdnow_model.n_customers_ == 2357
    # One parameter more of freedom than BG/NBD at the same count: the fit is no worse.
    assert cdnow_model.log_likelihood_ == pytest.approx(-9582.14, abs=0.05)
    assert (cdnow_model.standard_errors_ > 0).all()
    assert cdnow_model.display_name == "MBG/NBD"


def test_gradient_matches_finite_differences(cdnow_summary: pd.DataFrame) -> None:
    s = cdnow_summary
    data = MBGNBD._likelihood_data(*check_rft(s["frequency"], s["recency"], s["T"]))
    model = MBGNBD()
    params = np.array([0.3, 5.0, 0.7, 2.0])
    analytic = model._neg_log_lik(params, data)[1]
    numeric = approx_fprime(params, lambda p: model._neg_log_lik(p, data)[0], 1e-6)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4)


def test_conditional_expectation_matches_the_direct_form(cdnow_model: MBGNBD) -> None:
    # Batislam et al. (2007), equation (10), written directly; fine at moderate frequencies.
    r, alpha, a, b = cdnow_model.params_
    x = np.array([0, 1, 2, 5, 10])
    t_x = np.array([0.0, 5.0, 30.43, 20.0, 35.0])
    T = np.full(5, 38.86)
    t = 39.0
    z = t / (alpha + T + t)
    term = ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x + 1, a + b + x, z)
    odds = a / (b + x) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    direct = (a + b + x) / (a - 1) * (1 - term) / (1 + odds)
    np.testing.assert_allclose(cdnow_model.predict_purchases(t, x, t_x, T), direct, rtol=1e-9)
    heavy = cdnow_model.predict_purchases(520.0, [400], [38.8], [38.86])
    assert np.isfinite(heavy).all() and heavy[0] > 400


def test_one_time_buyers_are_no_longer_certainly_alive(cdnow_model: MBGNBD) -> None:
    r, alpha, a, b = cdnow_model.params_
    T = np.array([1.0, 10.0, 38.86])
    p = cdnow_model.p_alive([0, 0, 0], [0.0, 0.0, 0.0], T)
    np.testing.assert_allclose(p, 1 / (1 + a / b * ((alpha + T) / alpha) ** r), rtol=1e-12)
    assert 1 > p[0] > p[1] > p[2] > 0
    bg = BGNBD().fit(*simulate_bgnbd(2000, 39.0, r=0.25, alpha=4.0, a=0.8, b=2.5,
                                     random_state=0))
    assert bg.p_alive([0], [0.0], [38.86])[0] == 1.0  # what MBG/NBD changes


def test_expected_purchases_agree_with_simulation(cdnow_model: MBGNBD) -> None:
    r, alpha, a, b = cdnow_model.params_
    x, _, _ = simulate_bgnbd(300_000, 39.0, r=r, alpha=alpha, a=a, b=b, modified=True,
                             random_state=0)
    se = x.std() / np.sqrt(x.size)
    assert abs(x.mean() - cdnow_model.expected_purchases(39.0)) < 4 * se
    # E[X(t)] is the x = 0, T = 0 case of the conditional expectation.
    t = np.array([1.0, 39.0, 78.0])
    np.testing.assert_allclose(cdnow_model.expected_purchases(t),
                               [cdnow_model.predict_purchases(v, 0, 0, 0)[0] for v in t],
                               rtol=1e-12)


def test_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(3)
    T = rng.uniform(20, 60, 30_000)
    sim = simulate_bgnbd(30_000, T, r=0.5, alpha=6.0, a=0.7, b=3.0, modified=True,
                         random_state=rng)
    model = MBGNBD().fit(*sim)
    truth = pd.Series({"r": 0.5, "alpha": 6.0, "a": 0.7, "b": 3.0})
    z = (model.params_ - truth) / model.standard_errors_
    assert (z.abs() < 4).all(), z


def test_bad_input_and_contract(cdnow_model: MBGNBD) -> None:
    with pytest.raises(ValueError, match="MBG/NBD needs at least 10 customers"):
        MBGNBD().fit([3], [10.0], [20.0])
    with pytest.raises(ValueError, match="recency must lie between 0 and T"):
        MBGNBD().fit([1, 2], [1.0, 3.0], [2.0, 2.0])
    assert clone(MBGNBD(max_iter=5)).get_params() == {"max_iter": 5, "tol": 1e-13}
    assert not hasattr(clone(cdnow_model), "params_")
