"""BG/BB model of repeat transactions in discrete time (Fader, Hardie and Shang 2010).

Time comes as a sequence of transaction opportunities (a yearly fund drive, a weekly
issue, a monthly bill). While active, a customer transacts at each opportunity with
probability ``p ~ Beta(alpha, beta)``; before each opportunity they leave for good with
probability ``theta ~ Beta(gamma, delta)``. A customer is summarised by ``x``, the
opportunities after the first with a transaction, ``t_x``, the opportunity of the last one
(0 without any), and ``n``, the opportunities observed after the first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import betaln, digamma, gammaln, logsumexp, softmax
from sklearn.utils.validation import check_is_fitted

from segwise.clv._base import CustomerModel
from segwise.clv._bgnbd import check_identifiable, check_rft

__all__ = ["BGBB", "check_discrete", "simulate_bgbb"]


def check_discrete(
    frequency: Any, recency: Any, n_periods: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a discrete-time summary (whole opportunities) and return it as float arrays.

    Parameters
    ----------
    frequency : array-like of shape (n_customers,)
        Opportunities after the first with a transaction, ``0 <= x <= n``.
    recency : array-like of shape (n_customers,)
        Opportunity of the last transaction, ``x <= t_x <= n``; 0 when ``x`` is 0.
    n_periods : array-like of shape (n_customers,)
        Opportunities observed after the first transaction.

    Returns
    -------
    tuple of numpy.ndarray
        ``frequency``, ``recency`` and ``n_periods``.
    """
    x, t_x, n = check_rft(frequency, recency, n_periods)
    checks = [
        ((t_x != np.round(t_x)) | (n != np.round(n)),
         "recency and n_periods must be whole opportunities (a discrete-time summary)"),
        (x > t_x, "frequency cannot exceed recency: each opportunity holds one transaction"),
    ]
    for bad, message in checks:
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{message}: {int(bad.sum())} customer(s), the first at index {first}")
    return x, t_x, n


def _periods(t: Any) -> np.ndarray:
    """Whole future opportunities in ``t`` periods (a started period counts)."""
    t = np.asarray(t, dtype="float64")
    if np.any(~np.isfinite(t) | (t < 0)):
        raise ValueError("t must be a non-negative number of periods")
    return np.ceil(t - 1e-9)


class BGBB(CustomerModel):
    """Beta-geometric/beta-binomial model, fitted by maximum likelihood.

    The likelihood, its analytic gradient and the predictions are evaluated once per
    distinct ``(x, t_x, n)`` pattern and weighted by its count: discrete-time bases have
    few patterns (at most ``(n + 1)(n + 2) / 2``), so a million customers fit as fast as a
    thousand.

    Parameters
    ----------
    max_iter : int, default=1000
        Iteration limit of the L-BFGS-B optimiser.
    tol : float, default=1e-13
        Relative tolerance on the mean log-likelihood.

    Attributes
    ----------
    params_ : pandas.Series
        Estimates of ``alpha``, ``beta`` (transaction probability) and ``gamma``, ``delta``
        (dropout probability).
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
    Fader, P. S., Hardie, B. G. S. and Shang, J. (2010), "Customer-base analysis in a
    discrete-time noncontractual setting", Marketing Science 29(6), 1086-1108.

    Examples
    --------
    >>> from segwise.clv import BGBB, simulate_bgbb
    >>> x, t_x, n = simulate_bgbb(3000, 6, alpha=1.2, beta=0.75, gamma=0.66, delta=2.8,
    ...                           random_state=0)
    >>> model = BGBB().fit(x, t_x, n)
    >>> list(model.params_.index)
    ['alpha', 'beta', 'gamma', 'delta']
    """

    _param_names = ("alpha", "beta", "gamma", "delta")
    display_name = "BG/BB"

    def fit(self, frequency: Any, recency: Any, n_periods: Any) -> BGBB:
        """Fit the model to a discrete-time calibration summary.

        Parameters
        ----------
        frequency : array-like of shape (n_customers,)
            Repeat transactions: opportunities after the first with a transaction.
        recency : array-like of shape (n_customers,)
            Opportunity of the last transaction (0 without a repeat transaction).
        n_periods : array-like of shape (n_customers,)
            Opportunities observed after the first transaction.

        Returns
        -------
        BGBB
            The fitted model.

        Raises
        ------
        ValueError
            If the summary is invalid (see :func:`check_discrete`), has fewer than 10
            customers, or no repeat buyer.
        """
        x, t_x, n = check_discrete(frequency, recency, n_periods)
        check_identifiable(x, self.display_name)
        patterns, counts = np.unique(np.stack([x, t_x, n], axis=1), axis=0, return_counts=True)
        self._fit_mle(_terms(patterns, counts), x.size)
        return self

    def _initial(self, data: dict[str, np.ndarray]) -> np.ndarray:
        return np.ones(4)

    def _neg_log_lik(
        self, params: np.ndarray, data: dict[str, np.ndarray]
    ) -> tuple[float, np.ndarray]:
        alpha, beta, gamma, delta = params
        m, g, d, valid, x, w = (data[k] for k in ("m", "g", "d", "valid", "x", "w"))
        # Each term: B(alpha + x, beta + m) / B(alpha, beta) * B(gamma + g, delta + d) /
        # B(gamma, delta); the customer's likelihood is the sum of their valid terms.
        log_terms = np.where(
            valid,
            betaln(alpha + x, beta + m) - betaln(alpha, beta)
            + betaln(gamma + g, delta + d) - betaln(gamma, delta),
            -np.inf,
        )
        ll = logsumexp(log_terms, axis=1)
        weights = softmax(log_terms, axis=1)  # each term's share of the customer's likelihood
        psi_ab, psi_gd = digamma(alpha + beta), digamma(gamma + delta)
        psi_abxm = digamma(alpha + beta + x + m)
        psi_gdgd = digamma(gamma + delta + g + d)
        parts = [
            digamma(alpha + x) - psi_abxm - digamma(alpha) + psi_ab,
            digamma(beta + m) - psi_abxm - digamma(beta) + psi_ab,
            digamma(gamma + g) - psi_gdgd - digamma(gamma) + psi_gd,
            digamma(delta + d) - psi_gdgd - digamma(delta) + psi_gd,
        ]
        grad = np.array([w @ np.where(valid, weights * part, 0.0).sum(axis=1) for part in parts])
        return -float(w @ ll), -grad

    def _log_likelihood(self, x: np.ndarray, t_x: np.ndarray, n: np.ndarray) -> np.ndarray:
        data = _terms(np.stack([x, t_x, n], axis=1), np.ones(x.size))
        alpha, beta, gamma, delta = self.params_.to_numpy()
        log_terms = np.where(
            data["valid"],
            betaln(alpha + data["x"], beta + data["m"]) - betaln(alpha, beta)
            + betaln(gamma + data["g"], delta + data["d"]) - betaln(gamma, delta),
            -np.inf,
        )
        return logsumexp(log_terms, axis=1)

    def p_alive(self, frequency: Any, recency: Any, n_periods: Any) -> np.ndarray:
        """Probability that each customer is still active at the next opportunity.

        Equation (11) of Fader, Hardie and Shang (2010), in logs.

        Parameters
        ----------
        frequency, recency, n_periods : array-like of shape (n_customers,)
            The discrete-time calibration summary.

        Returns
        -------
        numpy.ndarray of shape (n_customers,)
            P(alive), in [0, 1].
        """
        check_is_fitted(self, "params_")
        x, t_x, n = check_discrete(frequency, recency, n_periods)
        alpha, beta, gamma, delta = self.params_.to_numpy()
        log_alive = (
            betaln(alpha + x, beta + n - x) - betaln(alpha, beta)
            + betaln(gamma, delta + n + 1.0) - betaln(gamma, delta)
        )
        return np.exp(log_alive - self._log_likelihood(x, t_x, n))

    def predict_purchases(self, t: Any, frequency: Any, recency: Any, n_periods: Any) -> np.ndarray:
        """Predict each customer's expected transactions at the next ``t`` opportunities.

        Equation (13) of Fader, Hardie and Shang (2010).

        Parameters
        ----------
        t : float or array-like
            Future opportunities; a started opportunity counts (``ceil``), so that a
            forecast over 38.5 weekly periods covers 39 opportunities.
        frequency, recency, n_periods : array-like of shape (n_customers,)
            The discrete-time calibration summary.

        Returns
        -------
        numpy.ndarray of shape (n_customers,)
            Conditional expected number of transactions.
        """
        check_is_fitted(self, "params_")
        steps = _periods(t)
        x, t_x, n = check_discrete(frequency, recency, n_periods)
        alpha, beta, gamma, delta = self.params_.to_numpy()
        log_front = (
            betaln(alpha + x + 1.0, beta + n - x) - betaln(alpha, beta)
            - self._log_likelihood(x, t_x, n)
        )
        return np.exp(log_front) * _alive_opportunities(gamma, delta, n, steps) + 0.0

    def expected_purchases(self, t: Any) -> np.ndarray:
        """Return a new customer's expected repeat transactions at their next ``t`` opportunities.

        Equation (7) of Fader, Hardie and Shang (2010).

        Parameters
        ----------
        t : float or array-like
            Opportunities since the first transaction (a started one counts).

        Returns
        -------
        numpy.ndarray
            ``E[X(t)]``, shaped like ``t``.
        """
        check_is_fitted(self, "params_")
        steps = _periods(t)
        alpha, beta, gamma, delta = self.params_.to_numpy()
        return alpha / (alpha + beta) * _alive_opportunities(gamma, delta, 0.0, steps) + 0.0


def _terms(patterns: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Lay out the likelihood's terms per pattern as a padded matrix.

    Term 0 is "alive through all ``n`` opportunities" (``m = n - x``, ``g = 0``,
    ``d = n``); term ``1 + i`` is "last transaction at ``t_x``, alive for ``i`` more
    opportunities, then gone" (``m = t_x - x + i``, ``g = 1``, ``d = t_x + i``) for
    ``i < n - t_x``.
    """
    x, t_x, n = (patterns[:, j][:, None] for j in range(3))
    width = int((n - t_x).max(initial=0)) + 1
    i = np.arange(width - 1)[None, :]
    alive = np.zeros((len(patterns), 1), dtype=bool)
    first = np.concatenate([~alive, np.broadcast_to(i < n - t_x, (len(patterns), width - 1))],
                           axis=1)
    m = np.concatenate([n - x, np.broadcast_to(t_x - x + i, (len(patterns), width - 1))], axis=1)
    d = np.concatenate([n, np.broadcast_to(t_x + i, (len(patterns), width - 1))], axis=1)
    g = np.concatenate([np.zeros((len(patterns), 1)), np.ones((len(patterns), width - 1))],
                       axis=1)
    return {"m": m.astype("float64"), "g": g, "d": d.astype("float64"), "valid": first,
            "x": x.astype("float64"), "w": np.asarray(counts, dtype="float64")}


def _alive_opportunities(gamma: float, delta: float, n: Any, steps: Any) -> np.ndarray:
    """Return the expected opportunities ``n + 1 .. n + steps`` a customer alive at ``n`` sees.

    ``delta / (gamma - 1) * Gamma(gamma + delta) / Gamma(1 + delta) * [Gamma(1 + delta + n) /
    Gamma(gamma + delta + n) - Gamma(1 + delta + n + steps) / Gamma(gamma + delta + n +
    steps)]``, with the gamma-function ratios taken in logs and the limit at ``gamma = 1``
    (digamma differences) where the division would lose every digit.
    """
    n = np.asarray(n, dtype="float64")

    def log_ratio(k: Any) -> Any:
        return (gammaln(gamma + delta) - gammaln(1.0 + delta) + gammaln(1.0 + delta + k)
                - gammaln(gamma + delta + k))

    if abs(gamma - 1.0) < 1e-6:
        return delta * (digamma(1.0 + delta + n + steps) - digamma(1.0 + delta + n))
    now = log_ratio(n)
    later = log_ratio(n + steps)
    return delta / (gamma - 1.0) * np.exp(now) * -np.expm1(later - now)


def simulate_bgbb(
    n_customers: int,
    n_periods: Any,
    *,
    alpha: float,
    beta: float,
    gamma: float,
    delta: float,
    random_state: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw discrete-time summaries from the BG/BB generative process.

    Parameters
    ----------
    n_customers : int
        Number of customers.
    n_periods : int or array-like of shape (n_customers,)
        Opportunities observed after each customer's first transaction.
    alpha, beta, gamma, delta : float
        Model parameters.
    random_state : int or numpy.random.Generator, optional
        Seed or generator.

    Returns
    -------
    tuple of numpy.ndarray
        ``frequency``, ``recency`` and ``n_periods``.
    """
    rng = np.random.default_rng(random_state)
    n = np.broadcast_to(np.asarray(n_periods, dtype="int64"), (n_customers,)).copy()
    p = rng.beta(alpha, beta, n_customers)
    theta = rng.beta(gamma, delta, n_customers)
    # Alive for the first `life` opportunities (geometric dropout before each), and
    # transacting at each of them with probability p.
    life = np.minimum(rng.geometric(np.clip(theta, 1e-12, 1.0)) - 1, n)
    horizon = int(n.max(initial=0))
    buys = (rng.random((n_customers, horizon)) < p[:, None]) & (
        np.arange(1, horizon + 1)[None, :] <= life[:, None]
    )
    x = buys.sum(axis=1)
    last = np.where(x > 0, horizon - np.argmax(buys[:, ::-1], axis=1), 0)
    return x.astype("int64"), last.astype("float64"), n.astype("float64")
