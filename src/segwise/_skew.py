"""Signed logarithms for heavy-tailed features, shared by clustering and profiles."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["SkewedLog", "signed_log1p"]


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log1p(|x|)``: compresses heavy tails and keeps zero and negative values.

    Net spend can be zero or negative after returns, so a plain ``log1p`` would fail there.
    """
    return np.sign(x) * np.log1p(np.abs(x))


class SkewedLog(TransformerMixin, BaseEstimator):
    """Signed ``log1p`` on the columns whose absolute skewness exceeds a threshold."""

    def __init__(self, skew_threshold: float = 1.0) -> None:
        self.skew_threshold = skew_threshold

    def fit(self, X: np.ndarray, y: object = None) -> SkewedLog:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            # Constant columns have no skewness: scipy warns and returns nan; leave them.
            warnings.simplefilter("ignore", RuntimeWarning)
            # Skewness does not change with scale; dividing by the largest magnitude keeps
            # the cubed moments finite for values such as 1e300.
            X = np.asarray(X, dtype=np.float64)
            top = np.max(np.abs(X), axis=0) if len(X) else np.ones(X.shape[1])
            skew = stats.skew(X / np.where(top > 0, top, 1.0), axis=0)
        self.columns_ = np.nan_to_num(np.abs(skew), nan=0.0) > self.skew_threshold
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        out = np.array(X, dtype=np.float64, copy=True)
        out[:, self.columns_] = signed_log1p(out[:, self.columns_])
        return out
