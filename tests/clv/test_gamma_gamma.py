"""Gamma-Gamma: reproduction of Fader and Hardie (2013), shrinkage, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import approx_fprime
from sklearn.exceptions import ConvergenceWarning

from segwise.clv import MAX_SPEND_CORRELATION, GammaGamma, btyd_summary
from segwise.exceptions import FitWarning

#: Fader and Hardie (2013): the 946 repeat buyers of the CDNOW 1/10 sample.
PUBLISHED = {"p": 6.25, "q": 3.74, "gamma": 15.44}


@pytest.fixture(scope="module")
def cdnow_model(cdnow_summary: pd.DataFrame) -> GammaGamma:
    return GammaGamma().fit(cdnow_summary["frequency"], cdnow_summary["monetary_value"])


def test_cdnow_reproduces_published_estimates(cdnow_model: GammaGamma) -> None:
    for name, value in PUBLISHED.items():
        assert cdnow_model.params_[name] == pytest.approx(value, rel=0.005), name
    assert cdnow_model.n_customers_ == 946
    assert cdnow_model.converged_
    assert (cdnow_model.standard_errors_ > 0).all()


def test_gradient_matches_finite_differences(cdnow_summary: pd.DataFrame) -> None:
    rep = cdnow_summary[cdnow_summary["frequency"] > 0]
    x, m = rep["frequency"].to_numpy(float), rep["monetary_value"].to_numpy()
    data = {"x": x, "m": m, "log_m": np.log(m), "log_x": np.log(x)}
    model = GammaGamma()
    params = np.array([5.0, 3.0, 12.0])
    analytic = model._neg_log_lik(params, data)[1]
    numeric = approx_fprime(params, lambda p: model._neg_log_lik(p, data)[0], 1e-6)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4)


def test_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    x = rng.integers(1, 12, n)
    nu = rng.gamma(4.0, 1 / 20.0, n)  # q = 4, gamma = 20
    m = rng.gamma(6.0 * x, 1 / (nu * x))  # mean of x Gamma(p=6, nu) values
    model = GammaGamma().fit(x, m)
    truth = pd.Series({"p": 6.0, "q": 4.0, "gamma": 20.0})
    z = (model.params_ - truth) / model.standard_errors_
    assert (z.abs() < 4).all(), z


@settings(max_examples=50, deadline=None)
@given(x=st.integers(0, 500), m=st.floats(0.01, 1e4))
def test_expected_value_shrinks_between_population_and_own_mean(
    cdnow_model: GammaGamma, x: int, m: float
) -> None:
    value = cdnow_model.expected_average_value(x, m)[0]
    pop = cdnow_model.population_mean()
    if x == 0:
        assert value == pytest.approx(pop)
    else:
        lo, hi = sorted((pop, m))
        assert lo * (1 - 1e-9) <= value <= hi * (1 + 1e-9)


def test_more_transactions_means_more_weight_on_own_mean(cdnow_model: GammaGamma) -> None:
    values = cdnow_model.expected_average_value([1, 5, 50], [200.0] * 3)
    assert values[0] < values[1] < values[2] < 200.0


def test_bad_spend_is_rejected() -> None:
    x = np.array([1, 2, 3] * 5)
    with pytest.raises(ValueError, match="mean spend <= 0"):
        GammaGamma().fit(x, np.r_[0.0, np.full(14, 10.0)])
    with pytest.raises(ValueError, match="mean spend <= 0"):
        GammaGamma().fit(x, np.r_[-5.0, np.full(14, 10.0)])
    with pytest.raises(ValueError, match="at least 10 repeat buyers"):
        GammaGamma().fit([1, 0, 0], [10.0, 0.0, 0.0])
    # Zero-spend customers without repeat purchases are fine: they carry no spend information.
    rng = np.random.default_rng(0)
    spend = rng.gamma(5.0, 4.0, 40)
    model = GammaGamma().fit(np.r_[0, np.tile(x, 8)[:40]], np.r_[0.0, spend])
    assert model.n_customers_ == 40


def test_infinite_mean_spend_is_an_error(cdnow_model: GammaGamma) -> None:
    model = GammaGamma()
    model.params_ = pd.Series({"p": 2.0, "q": 0.8, "gamma": 10.0})
    with pytest.raises(ValueError, match="mean spend is infinite"):
        model.expected_average_value([1], [10.0])
    assert model.population_mean() == float("inf")
    with pytest.raises(ValueError, match="mean spend < 0"):
        cdnow_model.expected_average_value([2], [-1.0])
    assert cdnow_model.expected_average_value([2], [0.0])[0] > 0  # free orders: shrunk to 0


@pytest.mark.slow
def test_online_retail_fit_converges_whatever_the_last_digits(retail_rfm) -> None:  # type: ignore[no-untyped-def]
    # The line search used to stop at the optimum, flagged as a failure, for about 1 in 30
    # inputs differing from Online Retail's spends by 1e-15.
    summary = btyd_summary(retail_rfm.cleaned)
    x, m = summary["frequency"].to_numpy(), summary["monetary_value"].to_numpy()
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    fits = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(m))
        noisy = m * (1 + rng.normal(0, 1e-15, len(m)))
        fits.append(GammaGamma().fit(x[order], noisy[order]))
    assert all(f.converged_ for f in fits)
    params = np.array([f.params_.to_numpy() for f in fits])
    assert np.abs(params / params[0] - 1).max() < 1e-4


def test_summary_is_identical_run_to_run(retail_rfm) -> None:  # type: ignore[no-untyped-def]
    # Spend values are exact decimal sums, so the engine's order of addition cannot move them.
    first, second = btyd_summary(retail_rfm.cleaned), btyd_summary(retail_rfm.cleaned)
    pd.testing.assert_frame_equal(first, second, check_exact=True)


def test_a_fit_that_does_not_converge_says_where_it_stopped(cdnow_summary: pd.DataFrame) -> None:
    # The warning read "GammaGamma did not converge: ABNORMAL: " (scipy's status, nothing
    # after it). It names the model, the iterations and the parameters where it stopped.
    x, m = cdnow_summary["frequency"], cdnow_summary["monetary_value"]
    with pytest.warns(ConvergenceWarning, match=r"^Gamma-Gamma did not converge \(the "
                      r"optimiser stopped after 2 iteration\(s\): [A-Z].+\) at p [\d.e+]+, "
                      r"q [\d.e+]+, gamma [\d.e+]+: the estimates may not be the best fit$"):
        model = GammaGamma(max_iter=2).fit(x, m)
    assert not model.converged_


def test_a_fit_that_runs_toward_a_limit_says_so() -> None:
    # Every repeat purchase worth exactly 10: spend varies neither within nor between
    # customers, and the likelihood grows without end as p and q do. Whether the optimiser
    # stops there as converged (scipy 1.16 on) or gives up, the fit says which parameters
    # ran off, and the expected spend is still the one value there is.
    rng = np.random.default_rng(0)
    with pytest.warns(UserWarning, match=r"^Gamma-Gamma (fit|did not converge).* at p "
                      r"[\d.e+]+, q [\d.e+]+, gamma [\d.e+]+:.*\bq ran past a million, a "
                      r"limit of the model that the data push toward and do not measure$"):
        model = GammaGamma().fit(rng.integers(1, 10, 500), np.full(500, 10.0))
    assert model.expected_average_value(3, 10.0) == pytest.approx(10.0, rel=1e-3)


def test_spend_that_depends_on_frequency_is_said(cdnow_model: GammaGamma) -> None:
    # The model's assumption, checked as lifetimes' users are told to: CDNOW's repeat
    # buyers spend about the same per purchase however often they buy.
    assert 0 < cdnow_model.spend_correlation_ < MAX_SPEND_CORRELATION
    rng = np.random.default_rng(5)
    x = rng.integers(1, 12, 2_000)
    nu = rng.gamma(4.0, 1 / 20.0, x.size)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)
        independent = GammaGamma().fit(x, rng.gamma(6.0 * x, 1 / (nu * x)))
    assert abs(independent.spend_correlation_) < 0.1
    # Wholesale buyers who come back often and buy in bulk: spend per purchase grows with
    # the purchases, and the model would shrink them toward the mean.
    bulk = rng.gamma(6.0 * x, 1 / (nu * x)) * x
    with pytest.warns(FitWarning, match=r"buy more often spend more per purchase \(Spearman "
                      r"correlation \+0\.[5-9]"):
        model = GammaGamma().fit(x, bulk)
    assert model.spend_correlation_ > 0.5
    with pytest.warns(FitWarning, match="spend less per purchase"):
        GammaGamma().fit(x, rng.gamma(6.0 * x, 1 / (nu * x)) / x)
    # One frequency for all: no correlation to speak of.
    assert np.isnan(GammaGamma().fit(np.ones(50), rng.gamma(2.0, 10.0, 50)).spend_correlation_)
