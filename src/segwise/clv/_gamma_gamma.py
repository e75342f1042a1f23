"""Gamma-Gamma model of spend per transaction (Fader and Hardie 2013).

A customer's transaction values are Gamma(p, nu) around their own mean ``p / nu``, and
``nu ~ Gamma(q, gamma)`` across customers. The model is fitted to the mean value ``m_x`` of
the ``x`` repeat transactions of each repeat buyer, and assumes spend is independent of the
purchase process.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.special import digamma, gammaln
from scipy.stats import spearmanr
from sklearn.utils.validation import check_is_fitted

from segwise.clv._base import CustomerModel, as_vector
from segwise.exceptions import FitWarning

__all__ = ["MAX_SPEND_CORRELATION", "MIN_REPEAT_BUYERS", "GammaGamma"]

#: Fewest repeat buyers a three-parameter spend model is fitted to.
MIN_REPEAT_BUYERS = 10
#: Rank correlation between repeat purchases and mean spend per purchase, among the repeat
#: buyers, from which the model's independence assumption is said not to hold (0.3, a
#: moderate correlation; CDNOW 0.20, Online Retail 0.17).
MAX_SPEND_CORRELATION = 0.3


def _check_spend(
    frequency: Any, monetary_value: Any, *, allow_zero: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    x = as_vector(frequency, "frequency")
    m = as_vector(monetary_value, "monetary_value", x.size)
    if ((x < 0) | (x != np.round(x))).any():
        raise ValueError("frequency must be a non-negative integer")
    bad = (x > 0) & ((m < 0) if allow_zero else (m <= 0))
    if bad.any():
        sign = "< 0" if allow_zero else "<= 0"
        raise ValueError(
            f"monetary_value must be positive for repeat buyers: {int(bad.sum())} customer(s) "
            f"with frequency > 0 have a mean spend {sign}, the first at index "
            f"{int(np.flatnonzero(bad)[0])}; leave them out of the fit (free orders or "
            "returns larger than purchases cannot come from a Gamma spend distribution)"
        )
    return x, m


class GammaGamma(CustomerModel):
    """Gamma-Gamma spend model, fitted by maximum likelihood to repeat buyers.

    Parameters
    ----------
    max_iter : int, default=1000
        Iteration limit of the L-BFGS-B optimiser.
    tol : float, default=1e-13
        Relative tolerance on the mean log-likelihood.

    Attributes
    ----------
    params_ : pandas.Series
        Estimates of ``p``, ``q`` and ``gamma``.
    standard_errors_ : pandas.Series
        Asymptotic standard errors, from the Hessian of the log-likelihood.
    confidence_intervals_ : pandas.DataFrame
        95 % intervals (``lower``, ``upper``), symmetric in log-parameters.
    log_likelihood_ : float
        Log-likelihood at the estimates.
    n_customers_ : int
        Repeat buyers the model was fitted to.
    n_iter_ : int
        Optimiser iterations.
    converged_ : bool
        Whether the optimiser reported convergence.
    spend_correlation_ : float
        Spearman correlation between repeat purchases and mean spend per purchase among
        the repeat buyers (NaN when either is the same for all). The model assumes spend
        does not depend on how often a customer buys; from
        :data:`MAX_SPEND_CORRELATION` on, ``fit`` warns (``FitWarning``).

    References
    ----------
    Fader, P. S. and Hardie, B. G. S. (2013), "The Gamma-Gamma model of monetary value".

    Examples
    --------
    >>> import numpy as np
    >>> from segwise.clv import GammaGamma
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(1, 10, 500)
    >>> nu = rng.gamma(4.0, 1 / 20.0, 500)
    >>> m = rng.gamma(6.0 * x, 1 / (nu * x))
    >>> model = GammaGamma().fit(x, m)
    >>> list(model.params_.index)
    ['p', 'q', 'gamma']
    """

    _param_names = ("p", "q", "gamma")
    display_name = "Gamma-Gamma"

    def fit(self, frequency: Any, monetary_value: Any) -> GammaGamma:
        """Fit the model to the repeat buyers of a calibration summary.

        Parameters
        ----------
        frequency : array-like of shape (n_customers,)
            Repeat purchases; customers with 0 carry no spend information and are skipped.
        monetary_value : array-like of shape (n_customers,)
            Mean value of each customer's repeat purchases; positive where frequency > 0.

        Returns
        -------
        GammaGamma
            The fitted model.

        Raises
        ------
        ValueError
            If a repeat buyer's mean spend is not positive, or there are fewer than
            :data:`MIN_REPEAT_BUYERS` repeat buyers.
        """
        x, m = _check_spend(frequency, monetary_value)
        rep = x > 0
        if rep.sum() < MIN_REPEAT_BUYERS:
            raise ValueError(
                f"Gamma-Gamma needs at least {MIN_REPEAT_BUYERS} repeat buyers, got "
                f"{int(rep.sum())}"
            )
        data = {"x": x[rep], "m": m[rep]}
        data["log_m"], data["log_x"] = np.log(data["m"]), np.log(data["x"])
        self._fit_mle(data, int(rep.sum()))
        self.spend_correlation_ = _rank_correlation(data["x"], data["m"])
        if abs(self.spend_correlation_) >= MAX_SPEND_CORRELATION:
            more, over = (("more", "over") if self.spend_correlation_ > 0
                          else ("less", "under"))
            warnings.warn(
                "Gamma-Gamma assumes a customer's spend per purchase does not depend on how "
                f"often they buy, but among the {int(rep.sum()):,} repeat buyers those who "
                f"buy more often spend {more} per purchase (Spearman correlation "
                f"{self.spend_correlation_:+.2f}): customers with few or no repeat "
                f"purchases are valued near the population mean spend, which {over}states "
                "theirs. Check monetary_value by frequency before relying on expected spend "
                "and CLV",
                FitWarning,
                stacklevel=2,
            )
        return self

    def _initial(self, data: dict[str, np.ndarray]) -> np.ndarray:
        # p = q = 2 puts the population mean p * gamma / (q - 1) at the observed mean spend.
        return np.array([2.0, 2.0, float(np.mean(data["m"]))])

    def _neg_log_lik(
        self, params: np.ndarray, data: dict[str, np.ndarray]
    ) -> tuple[float, np.ndarray]:
        p, q, gamma = params
        x, m, log_m, log_x = data["x"], data["m"], data["log_m"], data["log_x"]
        px = p * x
        log_total = np.log(x * m + gamma)
        ll = (
            gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma)
            + (px - 1.0) * log_m + px * log_x - (px + q) * log_total
        )
        psi_pxq = digamma(px + q)
        d_p = x * (psi_pxq - digamma(px) + log_m + log_x - log_total)
        d_q = psi_pxq - digamma(q) + np.log(gamma) - log_total
        d_gamma = q / gamma - (px + q) / (x * m + gamma)
        return -float(ll.sum()), -np.array([d_p.sum(), d_q.sum(), d_gamma.sum()])

    def expected_average_value(self, frequency: Any, monetary_value: Any) -> np.ndarray:
        """Predict the expected value of each customer's future transactions.

        ``E[M | x, m_x] = p (gamma + x m_x) / (p x + q - 1)``: a weighted average of the
        population mean ``p gamma / (q - 1)`` and the customer's own mean ``m_x``. Customers
        without repeat purchases get the population mean.

        Parameters
        ----------
        frequency : array-like of shape (n_customers,)
            Repeat purchases.
        monetary_value : array-like of shape (n_customers,)
            Mean value of the repeat purchases (ignored where frequency is 0). A mean of 0
            (free repeat orders) is accepted and pulls the estimate toward 0.

        Returns
        -------
        numpy.ndarray of shape (n_customers,)
            Expected spend per transaction.

        Raises
        ------
        ValueError
            If ``q <= 1``: the population mean spend is then infinite.
        """
        check_is_fitted(self, "params_")
        x, m = _check_spend(frequency, monetary_value, allow_zero=True)
        p, q, gamma = self.params_.to_numpy()
        if q <= 1.0:
            raise ValueError(
                f"Gamma-Gamma q = {q:.3g} <= 1: the mean spend is infinite, so no expected "
                "value can be given (a few huge orders dominate: cap them first)"
            )
        m = np.where(x > 0, m, 0.0)
        return p * (gamma + x * m) / (p * x + q - 1.0)

    def population_mean(self) -> float:
        """Mean spend per transaction across the population, ``p gamma / (q - 1)``.

        Returns
        -------
        float
            The mean (infinite when ``q <= 1``).
        """
        check_is_fitted(self, "params_")
        p, q, gamma = self.params_.to_numpy()
        return float(p * gamma / (q - 1.0)) if q > 1.0 else float("inf")


def _rank_correlation(x: np.ndarray, m: np.ndarray) -> float:
    """Spearman correlation of ``x`` and ``m``; NaN when either is constant."""
    if np.ptp(x) == 0 or np.ptp(m) == 0:
        return float("nan")
    return float(spearmanr(x, m).statistic)
