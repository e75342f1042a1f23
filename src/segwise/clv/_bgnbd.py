"""BG/NBD model of repeat purchasing (Fader, Hardie and Lee 2005).

While active, a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``;
after each repeat purchase they drop out for good with probability ``p ~ Beta(a, b)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1
from sklearn.utils.validation import check_is_fitted

from segwise.clv._base import CustomerModel, as_vector

__all__ = [
    "BGNBD",
    "MIN_CUSTOMERS",
    "check_identifiable",
    "check_rft",
    "likelihood_data",
    "simulate_bgnbd",
]

#: Fewest customers a four-parameter model is fitted to; fewer cannot identify it.
MIN_CUSTOMERS = 10


def check_rft(
    frequency: Any, recency: Any, T: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a (frequency, recency, T) summary and return it as float arrays.

    Parameters
    ----------
    frequency : array-like of shape (n_customers,)
        Repeat purchases in the calibration period (non-negative integers).
    recency : array-like of shape (n_customers,)
        Time from the first to the last purchase, ``0 <= recency <= T``; 0 when
        ``frequency`` is 0 and positive otherwise.
    T : array-like of shape (n_customers,)
        Time from the first purchase to the end of the calibration period, non-negative.
        A customer who first bought on the last calibration day has ``T = 0``: they add
        nothing to the likelihood and are predicted as a new customer.

    Returns
    -------
    tuple of numpy.ndarray
        ``frequency``, ``recency`` and ``T``.
    """
    x = as_vector(frequency, "frequency")
    t_x = as_vector(recency, "recency", x.size)
    big_t = as_vector(T, "T", x.size)
    checks = [
        ((x < 0) | (x != np.round(x)), "frequency must be a non-negative integer"),
        (big_t < 0, "T must be non-negative (first purchase after the calibration end?)"),
        ((t_x < 0) | (t_x > big_t * (1 + 1e-12)), "recency must lie between 0 and T"),
        ((x == 0) & (t_x != 0), "recency must be 0 when frequency is 0"),
        ((x > 0) & (t_x == 0), "recency must be positive when frequency is positive"),
    ]
    for bad, message in checks:
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{message}: {int(bad.sum())} customer(s), the first at index {first}")
    return x, t_x, big_t


def check_identifiable(x: np.ndarray, model: str) -> None:
    """Raise unless a summary can identify a four-parameter purchase model.

    Parameters
    ----------
    x : numpy.ndarray
        Repeat purchases per customer.
    model : str
        The model's name, for the message.

    Raises
    ------
    ValueError
        With fewer than :data:`MIN_CUSTOMERS` customers, or without a repeat buyer.
    """
    if x.size < MIN_CUSTOMERS:
        raise ValueError(
            f"{model} needs at least {MIN_CUSTOMERS} customers to estimate 4 parameters, "
            f"got {x.size}"
        )
    if not (x > 0).any():
        raise ValueError(
            f"{model} needs repeat buyers: none of the {x.size} customers came back after "
            "their first purchase in the calibration period (a customer's orders on one "
            "day, or in one period, are one purchase)"
        )


def likelihood_data(x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> dict[str, np.ndarray]:
    """Arrange a validated summary for :meth:`BGNBD._neg_log_lik`.

    Parameters
    ----------
    x, t_x, big_t : numpy.ndarray
        Frequency, recency and T, as returned by :func:`check_rft`.

    Returns
    -------
    dict of str to numpy.ndarray
        Distinct frequencies and their counts, T of the one-time buyers, and the repeat
        buyers' arrays with the index of their frequency among the distinct ones.
    """
    ux, cx = np.unique(x, return_counts=True)
    rep = x > 0
    ux1, inv1 = np.unique(x[rep], return_inverse=True)
    return {
        "ux": ux, "cx": cx.astype("float64"), "T0": big_t[~rep], "T_sum": np.array(big_t.sum()),
        "x1": x[rep], "t_x1": t_x[rep], "T1": big_t[rep], "ux1": ux1, "inv1": inv1,
    }


class BGNBD(CustomerModel):
    """Beta-geometric/NBD model, fitted by maximum likelihood.

    Parameters
    ----------
    max_iter : int, default=1000
        Iteration limit of the L-BFGS-B optimiser.
    tol : float, default=1e-13
        Relative tolerance on the mean log-likelihood.

    Attributes
    ----------
    params_ : pandas.Series
        Estimates of ``r``, ``alpha``, ``a`` and ``b``.
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

    See Also
    --------
    GammaGamma : The spend model that completes the value of a customer.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005), "Counting your customers the easy
    way: an alternative to the Pareto/NBD model", Marketing Science 24(2), 275-284.

    Examples
    --------
    >>> from segwise.clv import BGNBD, simulate_bgnbd
    >>> x, t_x, T = simulate_bgnbd(2000, 39.0, r=0.25, alpha=4.0, a=0.8, b=2.5, random_state=0)
    >>> model = BGNBD().fit(x, t_x, T)
    >>> sorted(model.params_.index)
    ['a', 'alpha', 'b', 'r']
    """

    _param_names = ("r", "alpha", "a", "b")
    display_name = "BG/NBD"
    #: Shift of ``b`` in the expectations: MBG/NBD's extra chance to drop out at the first
    #: purchase makes its posterior of the dropout probability that of BG/NBD with ``b + 1``.
    _b_shift = 0.0

    def fit(self, frequency: Any, recency: Any, T: Any) -> BGNBD:
        """Fit the model to a calibration-period summary.

        Parameters
        ----------
        frequency : array-like of shape (n_customers,)
            Repeat purchases (distinct purchase periods after the first).
        recency : array-like of shape (n_customers,)
            Time of the last purchase, measured from the first.
        T : array-like of shape (n_customers,)
            Time from the first purchase to the end of the calibration period.

        Returns
        -------
        BGNBD
            The fitted model.

        Raises
        ------
        ValueError
            If the summary is invalid (see :func:`check_rft`), has fewer than
            :data:`MIN_CUSTOMERS` customers, or no repeat buyer.
        """
        x, t_x, big_t = check_rft(frequency, recency, T)
        check_identifiable(x, self.display_name)
        self._fit_mle(self._likelihood_data(x, t_x, big_t), x.size)
        return self

    @staticmethod
    def _likelihood_data(
        x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
    ) -> dict[str, np.ndarray]:
        return likelihood_data(x, t_x, big_t)

    def _initial(self, data: dict[str, np.ndarray]) -> np.ndarray:
        # Gamma mean r / alpha matched to the observed purchase rate; a, b at a neutral start.
        rate = max(float(data["ux"] @ data["cx"] / data["T_sum"]), 1e-6)
        return np.array([1.0, 1.0 / rate, 1.0, 1.0])

    def _neg_log_lik(
        self, params: np.ndarray, data: dict[str, np.ndarray]
    ) -> tuple[float, np.ndarray]:
        r, alpha, a, b = params
        # Terms that depend on x alone are evaluated once per distinct frequency and
        # weighted by its count: the special functions never touch the per-customer arrays.
        ux, cx = data["ux"], data["cx"]
        n = cx.sum()
        # B(a, b + x) / B(a, b) through betaln, which stays accurate when b is huge (a ridge
        # the optimiser can wander along when there is little dropout); gammaln differences
        # of numbers near 1e14 would turn into noise there.
        ll = (
            cx @ (gammaln(r + ux) + betaln(a, b + ux))
            + n * (r * np.log(alpha) - gammaln(r) - betaln(a, b))
        )
        psi_abx = digamma(a + b + ux)
        d_r = cx @ digamma(r + ux) + n * (np.log(alpha) - digamma(r))
        d_alpha = n * r / alpha
        d_a = cx @ (digamma(a + b) - psi_abx)
        d_b = cx @ (digamma(a + b) + digamma(b + ux) - digamma(b) - psi_abx)
        # Customers without repeat purchases: only the "still alive" term, (alpha+T)^-r.
        log_at0 = np.log(alpha + data["T0"])
        ll -= r * log_at0.sum()
        d_r -= log_at0.sum()
        d_alpha -= r * (1.0 / (alpha + data["T0"])).sum()
        # Repeat buyers: alive term a3 and "left after the last purchase" term a4, mixed.
        x, t_x, big_t = data["x1"], data["t_x1"], data["T1"]
        rx = r + x
        log_at, log_atx = np.log(alpha + big_t), np.log(alpha + t_x)
        log_bx1 = np.log(b + data["ux1"] - 1.0)[data["inv1"]]
        a3 = -rx * log_at
        diff = np.log(a) - log_bx1 - rx * log_atx - a3  # a4 - a3
        ll += (a3 + np.logaddexp(0.0, diff)).sum()
        w4 = expit(diff)  # posterior weight of a4; a3's is 1 - w4
        w3 = expit(-diff)
        d_r -= (w3 * log_at + w4 * log_atx).sum()
        d_alpha -= (rx * (w3 / (alpha + big_t) + w4 / (alpha + t_x))).sum()
        d_a += w4.sum() / a
        d_b -= (w4 / (b + x - 1.0)).sum()
        return -float(ll), -np.array([d_r, d_alpha, d_a, d_b])

    def _log_odds_dead(self, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
        r, alpha, a, b = self.params_.to_numpy()
        with np.errstate(divide="ignore"):
            odds = (
                np.log(a) - np.log(np.where(x > 0, b + x - 1.0, 1.0))
                + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
            )
        return np.where(x > 0, odds, -np.inf)

    def p_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """Probability that each customer is still active at the end of calibration.

        Computed as a logistic function of the log-odds, so it never overflows.

        Parameters
        ----------
        frequency, recency, T : array-like of shape (n_customers,)
            The calibration summary.

        Returns
        -------
        numpy.ndarray of shape (n_customers,)
            P(alive), in [0, 1]; exactly 1 for customers without a repeat purchase.
        """
        check_is_fitted(self, "params_")
        x, t_x, big_t = check_rft(frequency, recency, T)
        return expit(-self._log_odds_dead(x, t_x, big_t))

    def predict_purchases(self, t: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """Predict each customer's expected purchases in the next ``t`` time units.

        Implements equation (10) of Fader, Hardie and Lee (2005); see :func:`_decay` for how
        its Gauss hypergeometric factor is kept finite for frequent buyers.

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
        r, alpha, a, b = self.params_.to_numpy()
        expected_if_alive = _expected_if_alive(r, alpha + big_t, a, b + self._b_shift, x, t)
        # + 0.0 turns the -0.0 of t = 0 (a negative factor times 0) into 0.0
        return expected_if_alive * expit(-self._log_odds_dead(x, t_x, big_t)) + 0.0

    def expected_purchases(self, t: Any) -> np.ndarray:
        """Return the expected repeat purchases of a new customer in their first ``t`` units.

        Equation (7) of Fader, Hardie and Lee (2005), evaluated like
        :meth:`predict_purchases`.

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
        r, alpha, a, b = self.params_.to_numpy()
        zero = np.zeros(1)
        # Alive after the first purchase: certain under BG/NBD, b / (a + b) under MBG/NBD.
        alive = expit(-self._log_odds_dead(zero, zero, zero))[0]
        return alive * _expected_if_alive(r, alpha, a, b + self._b_shift, np.zeros_like(t), t) + 0.0


def _expected_if_alive(
    r: float, scale: Any, a: float, b: float, x: np.ndarray, t: Any
) -> np.ndarray:
    """Return the expected purchases in ``t`` of a customer alive now, given the posterior.

    The closed form of Fader, Hardie and Lee (2005). When the fitted mixing distributions
    are nearly degenerate (parameters in the thousands, as when customers hardly differ),
    the hypergeometric function loses all precision; the posteriors are then so
    concentrated that their means give the answer, ``(1 - exp(-lambda p t)) / p``, which is
    used wherever the closed form leaves its bounds ``[0, t E[lambda]]``.
    """
    with np.errstate(all="ignore"):
        closed = (a + b + x - 1.0) / (a - 1.0) * (1.0 - _decay(r, a, b, x, scale, t))
        rate = (r + x) / scale  # posterior mean purchase rate while alive
        p = a / (a + b + x)  # posterior mean dropout probability
        plug_in = -np.expm1(-rate * p * t) / p
        ok = np.isfinite(closed) & (closed >= -1e-9) & (closed <= rate * t * (1 + 1e-9) + 1e-12)
    return np.where(ok, closed, plug_in)


def _decay(r: float, a: float, b: float, x: Any, scale: Any, t: Any) -> np.ndarray:
    """``(scale / (scale + t))**(r + x) * 2F1(r + x, b + x; a + b + x - 1; t / (scale + t))``.

    The factor of the BG/NBD expectations, written directly, multiplies a power that
    underflows by a series that overflows once ``r + x`` is large (frequent buyers, long
    horizons), giving 0 * inf = nan. Euler's transformation
    ``2F1(A, B; C; z) = (1 - z)**(C - A - B) * 2F1(C - A, C - B; C; z)`` turns it into
    ``(1 - z)**(a - 1) * 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z)``: the upper parameters
    no longer grow with ``x``, so the series converges fast and stays finite for every
    customer, and the power is of the small exponent ``a - 1``.
    """
    z = t / (scale + t)
    return np.exp((a - 1.0) * np.log1p(-z)) * hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)


def simulate_bgnbd(
    n_customers: int,
    T: Any,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    modified: bool = False,
    random_state: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw calibration summaries from the BG/NBD (or MBG/NBD) generative process.

    Parameters
    ----------
    n_customers : int
        Number of customers.
    T : float or array-like of shape (n_customers,)
        Observation time of each customer since their first purchase.
    r, alpha, a, b : float
        Model parameters.
    modified : bool, default=False
        Simulate MBG/NBD instead: the customer may also leave right after the first
        purchase.
    random_state : int or numpy.random.Generator, optional
        Seed or generator.

    Returns
    -------
    tuple of numpy.ndarray
        ``frequency``, ``recency`` and ``T``.
    """
    rng = np.random.default_rng(random_state)
    big_t = np.broadcast_to(np.asarray(T, dtype="float64"), (n_customers,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n_customers)
    p = rng.beta(a, b, n_customers)
    # Purchases while alive form a Poisson process; the customer leaves after a
    # Geometric(p) number of repeat purchases. Given n arrivals in (0, T], the k-th
    # arrival time is T times the k-th order statistic of n uniforms, i.e. Beta(k, n-k+1).
    # Under MBG/NBD the first purchase is a dropout opportunity too: one repeat fewer.
    arrivals = rng.poisson(lam * big_t)
    lifetime = rng.geometric(np.clip(p, 1e-12, 1.0)) - int(modified)
    x = np.minimum(arrivals, lifetime)
    t_x = np.zeros(n_customers)
    rep = x > 0
    t_x[rep] = big_t[rep] * rng.beta(x[rep], arrivals[rep] - x[rep] + 1)
    return x.astype("int64"), t_x, big_t
