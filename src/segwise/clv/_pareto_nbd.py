"""Pareto/NBD model of repeat purchasing (Schmittlein, Morrison and Colombo 1987).

While active, a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``;
they stay active for an exponential lifetime with rate ``mu ~ Gamma(s, beta)``. Unlike
BG/NBD, a customer can leave at any time, not only just after a purchase, which suits
bases where silent customers are the ones that have left.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, gammaln, hyp2f1
from sklearn.utils.validation import check_is_fitted

from segwise.clv._base import CustomerModel
from segwise.clv._bgnbd import check_identifiable, check_rft

__all__ = ["ParetoNBD"]


def _log_a0(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """``log A0``: the integral of the "left between t_x and T" term, in logs.

    ``A0 = F(t_x) - F(T)`` with ``F(t) = 2F1(A, B; A + 1; z(t)) / (rho + t)**A``, where
    ``A = r + s + x``, ``rho = max(alpha, beta)``, ``z(t) = |alpha - beta| / (rho + t)`` and
    ``B = s + 1`` if ``alpha >= beta`` else ``r + x`` (Fader and Hardie 2005): choosing
    ``rho`` keeps ``z`` in ``[0, 1)``. The hypergeometric function is evaluated through
    Euler's transformation, ``(1 - z)**(1 - B) * 2F1(1, A + 1 - B; A + 1; z)`` in logs, whose
    upper parameters do not both grow with ``x``; the plain form overflows for frequent
    buyers. The difference is taken as ``log F(t_x) + log(1 - F(T) / F(t_x))``.
    """
    big_a = r + s + x
    big_b: float | np.ndarray
    if alpha >= beta:
        rho, big_b = alpha, s + 1.0
    else:
        rho, big_b = beta, r + x
    gap = abs(alpha - beta)

    def log_f(t: np.ndarray) -> np.ndarray:
        z = gap / (rho + t)
        upper_b, lower_c = big_a + 1.0 - big_b, big_a + 1.0
        hyp = hyp2f1(1.0, upper_b, lower_c, z)
        # SciPy gives NaN for a whole-number upper parameter with a large lower one and z
        # near 1 (2F1(1, 2; 105; 0.95), met at the start s = 1 by a buyer of 100+ repeat
        # purchases); the function is smooth in that parameter, so a nudge of a few ulps
        # gives its value.
        lost = np.isnan(hyp) & np.isfinite(z)
        if np.any(lost):
            nudged = np.broadcast_to(upper_b, np.shape(hyp)) * (1.0 + 1e-9)
            hyp = np.where(lost, hyp2f1(1.0, nudged, lower_c, z), hyp)
        log_hyp = (1.0 - big_b) * np.log1p(-z) + np.log(hyp)
        return log_hyp - big_a * np.log(rho + t)

    upper, lower = log_f(t_x), log_f(T)
    with np.errstate(divide="ignore"):
        # recency == T (a purchase on the last day) leaves no time to leave unseen: A0 = 0.
        return upper + np.log(-np.expm1(np.minimum(lower - upper, 0.0)))


class ParetoNBD(CustomerModel):
    """Pareto/NBD model, fitted by maximum likelihood.

    The gradient is taken by central finite differences (the hypergeometric function has
    no cheap parameter derivatives), so fitting costs about nine likelihood evaluations per
    step: fine for bases of up to a few hundred thousand customers; BG/NBD is the fast model.

    Parameters
    ----------
    max_iter : int, default=1000
        Iteration limit of the L-BFGS-B optimiser.
    tol : float, default=1e-13
        Relative tolerance on the mean log-likelihood.

    Attributes
    ----------
    params_ : pandas.Series
        Estimates of ``r``, ``alpha``, ``s`` and ``beta``.
    standard_errors_ : pandas.Series
        Asymptotic standard errors, from the Hessian of the log-likelihood.
    confidence_intervals_ : pandas.DataFrame
        95 % intervals (``lower``, ``upper``), symmetric in log-parameters.
    log_likelihood_ : float
        Log-likelihood at the estimates.
    n_customers_ : int
        Customers the model was fitted to.
    n_iter_ : int
        Optimiser iterations.
    converged_ : bool
        Whether the optimiser reported convergence.

    References
    ----------
    Schmittlein, D. C., Morrison, D. G. and Colombo, R. (1987), "Counting your customers:
    who are they and what will they do next?", Management Science 33(1), 1-24.
    Fader, P. S. and Hardie, B. G. S. (2005), "A note on deriving the Pareto/NBD model and
    related expressions".

    Examples
    --------
    >>> from segwise.clv import ParetoNBD, simulate_bgnbd
    >>> x, t_x, T = simulate_bgnbd(2000, 39.0, r=0.25, alpha=4.0, a=0.8, b=2.5, random_state=0)
    >>> model = ParetoNBD().fit(x, t_x, T)
    >>> sorted(model.params_.index)
    ['alpha', 'beta', 'r', 's']
    """

    _param_names = ("r", "alpha", "s", "beta")
    display_name = "Pareto/NBD"
    _hessian_step = 1e-3  # the gradient is itself a finite difference: keep steps apart

    def fit(self, frequency: Any, recency: Any, T: Any) -> ParetoNBD:
        """Fit the model to a calibration-period summary.

        Parameters
        ----------
        frequency : array-like of shape (n_customers,)
            Repeat purchases.
        recency : array-like of shape (n_customers,)
            Time of the last purchase, measured from the first.
        T : array-like of shape (n_customers,)
            Time from the first purchase to the end of the calibration period.

        Returns
        -------
        ParetoNBD
            The fitted model.

        Raises
        ------
        ValueError
            If the summary is invalid, has fewer than 10 customers or no repeat buyer.
        """
        x, t_x, big_t = check_rft(frequency, recency, T)
        check_identifiable(x, self.display_name)
        self._fit_mle({"x": x, "t_x": t_x, "T": big_t}, x.size)
        return self

    def _initial(self, data: dict[str, np.ndarray]) -> np.ndarray:
        rate = max(float(data["x"].sum() / data["T"].sum()), 1e-6)
        return np.array([1.0, 1.0 / rate, 1.0, float(np.mean(data["T"]))])

    @staticmethod
    def _log_lik(params: np.ndarray, data: dict[str, np.ndarray]) -> float:
        r, alpha, s, beta = params
        x, t_x, big_t = data["x"], data["t_x"], data["T"]
        with np.errstate(invalid="ignore", over="ignore"):
            alive = -(r + x) * np.log(alpha + big_t) - s * np.log(beta + big_t)
            left = np.log(s) - np.log(r + s + x) + _log_a0(r, alpha, s, beta, x, t_x, big_t)
            ll = (
                gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
                + np.logaddexp(alive, left)
            ).sum()
        # NaN where the hypergeometric function gives up (extreme trial parameters): report
        # it as impossible so that the optimiser steps back.
        return float(ll) if np.isfinite(ll) else -np.inf

    def _neg_log_lik(
        self, params: np.ndarray, data: dict[str, np.ndarray]
    ) -> tuple[float, np.ndarray]:
        value = -self._log_lik(params, data)
        grad = np.empty(params.size)
        for j in range(params.size):
            h = 1e-6 * params[j]
            step = np.zeros(params.size)
            step[j] = h
            up, down = self._log_lik(params + step, data), self._log_lik(params - step, data)
            grad[j] = -(up - down) / (2 * h)
        return value, grad

    def _log_odds_dead(self, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
        r, alpha, s, beta = self.params_.to_numpy()
        return (
            np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + big_t)
            + s * np.log(beta + big_t) + _log_a0(r, alpha, s, beta, x, t_x, big_t)
        )

    def p_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """Probability that each customer is still active at the end of calibration.

        Parameters
        ----------
        frequency, recency, T : array-like of shape (n_customers,)
            The calibration summary.

        Returns
        -------
        numpy.ndarray of shape (n_customers,)
            P(alive), in [0, 1].
        """
        check_is_fitted(self, "params_")
        x, t_x, big_t = check_rft(frequency, recency, T)
        return expit(-self._log_odds_dead(x, t_x, big_t))

    def predict_purchases(self, t: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """Predict each customer's expected purchases in the next ``t`` time units.

        Parameters
        ----------
        t : float
            Length of the forecast period, in the summary's time unit; non-negative.
        frequency, recency, T : array-like of shape (n_customers,)
            The calibration summary.

        Returns
        -------
        numpy.ndarray of shape (n_customers,)
            Conditional expected number of purchases.
        """
        check_is_fitted(self, "params_")
        if not (np.isfinite(t) and t >= 0):
            raise ValueError(f"t must be a non-negative number, got {t!r}")
        x, t_x, big_t = check_rft(frequency, recency, T)
        r, alpha, s, beta = self.params_.to_numpy()
        rate = (r + x) / (alpha + big_t)
        alive_time = _mean_lifetime_within(s, beta + big_t, t)
        return rate * alive_time * expit(-self._log_odds_dead(x, t_x, big_t)) + 0.0

    def expected_purchases(self, t: Any) -> np.ndarray:
        """Return the expected repeat purchases of a new customer in their first ``t`` units.

        Parameters
        ----------
        t : float or array-like
            Time since the first purchase; non-negative.

        Returns
        -------
        numpy.ndarray
            ``E[X(t)]``, shaped like ``t``.
        """
        check_is_fitted(self, "params_")
        t = np.asarray(t, dtype="float64")
        if np.any(~np.isfinite(t) | (t < 0)):
            raise ValueError("t must be non-negative")
        r, alpha, s, beta = self.params_.to_numpy()
        return r / alpha * _mean_lifetime_within(s, beta, t) + 0.0


def _mean_lifetime_within(s: float, scale: Any, t: Any) -> np.ndarray:
    """Return the expected time alive in the next ``t`` for ``mu ~ Gamma(s, scale)``.

    ``E[(1 - exp(-mu t)) / mu] = scale / (s - 1) * (1 - (scale / (scale + t))**(s - 1))``,
    written with ``expm1`` so that it stays accurate near ``s = 1``, where it tends to
    ``scale * log(1 + t / scale)``.
    """
    log_ratio = np.log1p(t / scale)
    if abs(s - 1.0) < 1e-8:
        return scale * log_ratio
    return scale * -np.expm1(-(s - 1.0) * log_ratio) / (s - 1.0)
