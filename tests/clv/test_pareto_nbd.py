"""Pareto/NBD: reproduction of the published CDNOW fit and the stable A0 term."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from segwise.clv import ParetoNBD, customer_value
from segwise.clv._pareto_nbd import _log_a0
from segwise.exceptions import ConfigError

#: Pareto/NBD on the CDNOW 1/10 sample, 39-week calibration, as published alongside
#: BG/NBD (Fader, Hardie and Lee 2005): r = 0.55, alpha = 10.58, s = 0.61, beta = 11.67,
#: log-likelihood -9595.0.
PUBLISHED = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}


@pytest.fixture(scope="module")
def cdnow_model(cdnow_summary: pd.DataFrame) -> ParetoNBD:
    s = cdnow_summary
    return ParetoNBD().fit(s["frequency"], s["recency"], s["T"])


def test_cdnow_reproduces_published_estimates(cdnow_model: ParetoNBD) -> None:
    for name, value in PUBLISHED.items():
        assert round(cdnow_model.params_[name], 2) == value, name
    assert cdnow_model.log_likelihood_ == pytest.approx(-9595.0, abs=0.05)
    assert (cdnow_model.standard_errors_ > 0).all()


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize(("x", "t_x", "T"), [(0, 0.0, 38.86), (2, 30.43, 38.86), (1, 1.0, 30.0),
                                             (60, 20.0, 38.0), (3, 38.86, 38.86)])
def test_a0_matches_quadrature(x: int, t_x: float, T: float, swap: bool) -> None:
    r, alpha, s, beta = 0.55, 10.58, 0.61, 11.67
    if swap:
        alpha, beta = beta, alpha
    exact = (r + s + x) * integrate.quad(
        lambda y: (alpha + y) ** -(r + x) * (beta + y) ** -(s + 1), t_x, T,
        epsabs=0, epsrel=1e-12,
    )[0]
    got = np.exp(_log_a0(r, alpha, s, beta, np.array([x]), np.array([t_x]), np.array([T])))[0]
    assert got == pytest.approx(exact, rel=1e-8, abs=1e-300)


def test_expected_purchases_agree_with_simulation(cdnow_model: ParetoNBD) -> None:
    rng = np.random.default_rng(5)
    r, alpha, s, beta = cdnow_model.params_
    n, T = 200_000, 39.0
    lam, mu = rng.gamma(r, 1 / alpha, n), rng.gamma(s, 1 / beta, n)
    x = rng.poisson(lam * np.minimum(rng.exponential(1 / mu), T))
    se = x.std() / np.sqrt(n)
    assert abs(x.mean() - cdnow_model.expected_purchases(T)) < 4 * se


@settings(max_examples=40, deadline=None)
@given(x=st.integers(0, 200), frac=st.floats(0.0, 1.0), T=st.floats(0.5, 150.0),
       t=st.floats(0.0, 200.0))
def test_invariants(cdnow_model: ParetoNBD, x: int, frac: float, T: float, t: float) -> None:
    t_x = 0.0 if x == 0 else max(frac * T, 1e-3 * T)
    p = cdnow_model.p_alive(x, t_x, T)[0]
    assert 0.0 <= p <= 1.0
    e = cdnow_model.predict_purchases(t, x, t_x, T)[0]
    assert np.isfinite(e) and 0.0 <= e <= cdnow_model.predict_purchases(t + 10, x, t_x, T)[0]


def test_customer_value_with_pareto_nbd(cdnow_tx) -> None:  # type: ignore[no-untyped-def]
    result = customer_value(cdnow_tx, calibration_end="1997-09-30", horizon="39w",
                            model="pareto_nbd")
    assert isinstance(result.purchase_model, ParetoNBD)
    assert result.parameters()["model"].iloc[0] == "Pareto/NBD"
    assert result.customers["clv"].notna().all()
    with pytest.raises(ConfigError, match="model 'pnbd'"):
        customer_value(cdnow_tx, model="pnbd")


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="at least 10 customers"):
        ParetoNBD().fit([1], [1.0], [2.0])
    with pytest.raises(ValueError, match="needs repeat buyers"):
        ParetoNBD().fit(np.zeros(20), np.zeros(20), np.full(20, 5.0))


def _assert_a0_exact(r: float, alpha: float, s: float, beta: float, x: int, t_x: float,
                     T: float) -> None:
    got = _log_a0(r, alpha, s, beta, np.array([x]), np.array([t_x]), np.array([T]))[0]
    # Quadrature of the integrand scaled by exp(-got), so that it is of order one.
    exact = integrate.quad(
        lambda y: np.exp(np.log(r + s + x) - (r + x) * np.log(alpha + y)
                         - (s + 1) * np.log(beta + y) - got),
        t_x, T, epsabs=0, epsrel=1e-11, limit=500,
    )[0]
    assert np.log(exact) == pytest.approx(0.0, abs=1e-7), (r, alpha, s, beta, x, t_x, T)


def test_a0_matches_quadrature_over_wide_parameter_ranges() -> None:
    rng = np.random.default_rng(11)
    for _ in range(40):
        r, alpha, s, beta = np.exp(rng.uniform(-3, 5, 4))
        T = rng.uniform(1, 100)
        x = int(rng.integers(0, 300))
        t_x = 0.0 if x == 0 else rng.uniform(0, T)
        _assert_a0_exact(r, alpha, s, beta, x, t_x, T)


@pytest.mark.parametrize("s", [1.0, 2.0])
def test_a0_of_a_daily_buyer_at_a_whole_number_s(s: float) -> None:
    # The fit starts at s = 1. For a base of 20,000 mostly one-time buyers (alpha = 3226,
    # beta = 50 there) a customer who bought on 300 days needs 2F1(1, 2; 303; 0.97), which
    # SciPy gives as NaN: the fit stopped at once and returned the starting values as
    # converged estimates, with a log-likelihood of -inf.
    _assert_a0_exact(1.0, 3225.8, s, 50.0, 300, 20.0, 50.0)
    _assert_a0_exact(1.0, 3225.8, s, 50.0, 120, 0.5, 17.0)


def test_a_likelihood_that_cannot_be_evaluated_is_an_error_not_a_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import segwise.clv._pareto_nbd as pnbd

    monkeypatch.setattr(pnbd, "hyp2f1", lambda *args: np.full(np.shape(args[-1]), np.nan))
    x = np.array([0.0, 1, 2, 0, 3, 1, 0, 2, 5, 1, 0, 4])
    with pytest.raises(ValueError, match="Pareto/NBD: the log-likelihood cannot be evaluated"):
        ParetoNBD().fit(x, np.where(x > 0, 8.0, 0.0), np.full(x.size, 10.0))
