"""Maximum-likelihood machinery shared by the customer-base models.

Each model supplies a vectorised log-likelihood with its analytic gradient in the natural
parameters; this base fits it in log-parameter space (parameters stay positive, the problem is
better scaled) with L-BFGS-B from a fixed start, so fits are deterministic, and derives
standard errors from the Hessian of the log-likelihood at the optimum.
"""

from __future__ import annotations

import warnings
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import optimize
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from segwise.exceptions import FitWarning

__all__ = ["CustomerModel", "PurchaseModel", "as_vector"]

_Z95 = 1.959963984540054
#: Largest gradient of the mean log-likelihood (in log-parameters) taken as zero when the
#: line search stops: rounding noise in the summed likelihood reaches about 1e-8 on Online
#: Retail.
_GRADIENT_NOISE = 1e-6
#: A parameter beyond this has run toward a limit of the model (log-parameters are bounded
#: at +-30, 1e13): no customer base measures one so large.
_HUGE = 1e6


def as_vector(values: Any, name: str, n: int | None = None) -> np.ndarray:
    """Return ``values`` as a finite float64 vector, with a clear error otherwise.

    Parameters
    ----------
    values : array-like
        One value per customer.
    name : str
        Argument name, for the error message.
    n : int, optional
        Expected length.

    Returns
    -------
    numpy.ndarray of shape (n_customers,)
        The values.
    """
    try:
        arr = np.asarray(values, dtype="float64")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected numbers ({exc})") from exc
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d array, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name}: expected {n} values, got {arr.shape[0]}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name}: {int(bad.sum())} value(s) are missing or infinite")
    return arr



def _and(items: list[str]) -> str:
    """Join words as a reader would: "a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"

class PurchaseModel(Protocol):
    """What every purchase model offers (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB).

    Each takes a summary's three columns, ``frequency``, ``recency`` and ``T`` (``T`` is
    the number of opportunities for the discrete-time BG/BB).
    """

    display_name: str
    params_: pd.Series
    log_likelihood_: float
    converged_: bool

    def fit(self, frequency: Any, recency: Any, T: Any, /) -> Any:
        """Fit the model to a calibration summary."""

    def predict_purchases(self, t: Any, frequency: Any, recency: Any, T: Any, /) -> np.ndarray:
        """Return the expected purchases of each customer over the next ``t`` units."""

    def p_alive(self, frequency: Any, recency: Any, T: Any, /) -> np.ndarray:
        """Return the probability that each customer is still active."""

    def expected_purchases(self, t: Any, /) -> np.ndarray:
        """Return the expected repeat purchases of a new customer in their first ``t`` units."""

    def summary(self) -> pd.DataFrame:
        """Return the estimates, standard errors and intervals."""


class CustomerModel(BaseEstimator):
    """Base of the maximum-likelihood customer-base models (not used directly).

    Subclasses define ``_param_names``, ``_neg_log_lik(params, data)`` returning the negative
    log-likelihood summed over customers and its gradient in the natural parameters, and a
    ``fit`` that validates the data and calls :meth:`_fit_mle`.
    """

    _param_names: tuple[str, ...] = ()
    #: The model's name in tables and messages.
    display_name = ""
    _hessian_step = 1e-5  # step in log-parameters for the Hessian's central differences

    def __init__(self, *, max_iter: int = 1000, tol: float = 1e-13) -> None:
        self.max_iter = max_iter
        self.tol = tol

    def _neg_log_lik(
        self, params: np.ndarray, data: dict[str, np.ndarray]
    ) -> tuple[float, np.ndarray]:
        raise NotImplementedError  # pragma: no cover - abstract

    def _initial(self, data: dict[str, np.ndarray]) -> np.ndarray:
        return np.ones(len(self._param_names))

    def _not_converged(self, res: optimize.OptimizeResult) -> str:
        """Say where the optimiser stopped and what that means, not only its status."""
        status = str(res.message).strip().rstrip(":").strip() or "no reason given"
        note = self._at_limit(res.x)
        return (
            f"{self._name()} did not converge (the optimiser stopped after {res.nit} "
            f"iteration(s): {status}) at {self._where(res.x)}: the estimates may not be the "
            "best fit" + (f"; {note}" if note else "")
        )

    def _name(self) -> str:
        return self.display_name or type(self).__name__

    def _where(self, log_params: np.ndarray) -> str:
        return ", ".join(f"{k} {v:.4g}" for k, v in zip(self._param_names, np.exp(log_params),
                                                          strict=True))

    def _at_limit(self, log_params: np.ndarray) -> str:
        """Which parameters ran past a million (a limit the data do not measure), or ''."""
        huge = [k for k, v in zip(self._param_names, np.exp(log_params), strict=True)
                if v > _HUGE]
        return (f"{_and(huge)} ran past a million, a limit of the model that the data push "
                "toward and do not measure" if huge else "")

    def _fit_mle(self, data: dict[str, np.ndarray], n_customers: int) -> None:
        """Maximise the likelihood; set ``params_``, ``standard_errors_`` and friends."""
        scale = 1.0 / n_customers  # mean log-likelihood: tolerances independent of n

        def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(log_params)
            value, grad = self._neg_log_lik(params, data)
            if not (np.isfinite(value) and np.all(np.isfinite(grad))):
                # Outside the region where the likelihood can be evaluated: the line search
                # backs off.
                return np.inf, np.zeros_like(log_params)
            return value * scale, grad * params * scale

        start = np.log(self._initial(data))
        res = optimize.minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            # log-parameters beyond +-30 mean a degenerate fit; the bound keeps exp() finite
            bounds=[(-30.0, 30.0)] * len(start),
            options={"maxiter": self.max_iter, "ftol": self.tol, "gtol": 1e-9},
        )
        # The line search gives up where the mean log-likelihood only moves in its last
        # digits; the gradient is then rounding noise (~1e-8 on Online Retail, where about
        # 1 in 30 inputs differing by 1e-15 ended so). That is the optimum, not a failure.
        if not np.isfinite(res.fun):
            # The likelihood could not be evaluated even at the start: the optimiser never
            # moved, and its "success" would pass the start off as the estimates.
            raise ValueError(
                f"{self._name()}: the log-likelihood cannot be evaluated for these customers "
                "(a numerical failure at the starting values); try another model (BG/NBD is "
                "the default)"
            )
        converged = bool(res.success) or bool(
            np.isfinite(res.fun) and np.max(np.abs(res.jac)) < _GRADIENT_NOISE
        )
        if not converged:
            warnings.warn(self._not_converged(res), ConvergenceWarning, stacklevel=3)
        elif note := self._at_limit(res.x):
            # Converged on the way to a limit: the optimiser stops where the likelihood
            # no longer moves, so the estimates say nothing but which way the data push.
            warnings.warn(f"{self._name()} fit at {self._where(res.x)}: {note}", FitWarning,
                          stacklevel=3)
        params = np.exp(res.x)
        self.params_ = pd.Series(params, index=list(self._param_names), name="estimate")
        self.log_likelihood_ = -float(self._neg_log_lik(params, data)[0])
        self.n_customers_ = n_customers
        self.n_iter_ = int(res.nit)
        self.converged_ = converged
        self._set_standard_errors(res.x, objective, n_customers)

    def _set_standard_errors(self, log_params: np.ndarray, objective: Any, n: int) -> None:
        # Hessian of the summed negative log-likelihood in log-parameters, by central
        # differences of the analytic gradient. At the optimum the gradient vanishes, so the
        # delta method gives the natural-parameter standard errors as params * se(log params).
        k = log_params.size
        hess = np.empty((k, k))
        for j in range(k):
            h = self._hessian_step * max(1.0, abs(log_params[j]))
            step = np.zeros(k)
            step[j] = h
            upper, lower = objective(log_params + step)[1], objective(log_params - step)[1]
            hess[:, j] = (upper - lower) / (2 * h)
        hess = 0.5 * (hess + hess.T) * n
        try:
            variances = np.diag(np.linalg.inv(hess))
        except np.linalg.LinAlgError:
            variances = np.full(k, np.nan)
        # A negative variance means the optimum is on a boundary (e.g. a -> 0): no valid SE.
        se_log = np.sqrt(np.where(variances > 0, variances, np.nan))
        if not np.all(np.isfinite(se_log)):
            warnings.warn(
                f"{self._name()}: the Hessian is singular or not positive definite at "
                "the optimum; standard errors are NaN (too few customers or repeat buyers?)",
                FitWarning,
                stacklevel=4,
            )
        params = np.exp(log_params)
        names = list(self._param_names)
        self.standard_errors_ = pd.Series(params * se_log, index=names, name="std_error")
        # Intervals on the log scale, mapped back: always positive, like the parameters.
        with np.errstate(over="ignore"):
            self.confidence_intervals_ = pd.DataFrame(
                {
                    "lower": params * np.exp(-_Z95 * se_log),
                    "upper": params * np.exp(_Z95 * se_log),
                },
                index=names,
            )

    def summary(self) -> pd.DataFrame:
        """Return the estimates with standard errors and 95 % confidence intervals.

        Returns
        -------
        pandas.DataFrame
            One row per parameter: ``estimate``, ``std_error``, ``lower``, ``upper``.
        """
        check_is_fitted(self, "params_")
        return pd.concat([self.params_, self.standard_errors_, self.confidence_intervals_], axis=1)
