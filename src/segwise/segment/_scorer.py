"""The scikit-learn face of the RFM scores: :class:`RFMScorer`."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from segwise.segment.rfm import fit_bin_edges, score_with_edges

__all__ = ["RFMScorer"]


class RFMScorer(TransformerMixin, BaseEstimator):
    """Quantile scores 1 to 5 for recency, frequency and monetary value.

    Bin edges are the ``1/n_bins ... (n_bins-1)/n_bins`` quantiles of each column learned
    in :meth:`fit`. A value's bin is the number of edges strictly below it, so equal
    values always share a score; when ties make edges coincide (most customers buy once)
    some scores stay unused and a warning says so. Recency is inverted: recent is 5.

    Parameters
    ----------
    n_bins : int, default=5
        Number of score levels.
    recency_col, frequency_col, monetary_col : str
        Column names in the input DataFrame.

    Attributes
    ----------
    bin_edges_ : dict of str to ndarray of shape (n_bins - 1,)
        Learned edges per column.
    n_features_in_ : int
        Always 3.
    """

    def __init__(
        self,
        n_bins: int = 5,
        *,
        recency_col: str = "recency_days",
        frequency_col: str = "frequency",
        monetary_col: str = "monetary",
    ) -> None:
        self.n_bins = n_bins
        self.recency_col = recency_col
        self.frequency_col = frequency_col
        self.monetary_col = monetary_col

    def _columns(self) -> tuple[str, str, str]:
        return (self.recency_col, self.frequency_col, self.monetary_col)

    @classmethod
    def from_edges(cls, edges: dict[str, np.ndarray], n_bins: int = 5) -> RFMScorer:
        """Rebuild a fitted scorer from edges learned by :func:`fit_bin_edges`."""
        recency, frequency, monetary = edges
        scorer = cls(n_bins, recency_col=recency, frequency_col=frequency,
                     monetary_col=monetary)
        scorer.bin_edges_ = dict(edges)
        scorer.n_features_in_ = 3
        return scorer

    def fit(self, X: pd.DataFrame, y: object = None) -> RFMScorer:
        """Learn the bin edges.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per customer with the recency, frequency and monetary columns.
        y : ignored

        Returns
        -------
        RFMScorer
            The fitted scorer.
        """
        self.bin_edges_ = fit_bin_edges(X, self.n_bins, self._columns())
        self.n_features_in_ = 3
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Score customers on the learned scale.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per customer with the recency, frequency and monetary columns.

        Returns
        -------
        pandas.DataFrame
            ``r_score``, ``f_score``, ``m_score`` (int, 1 to ``n_bins``), same index as X.
        """
        check_is_fitted(self, "bin_edges_")
        return score_with_edges(X, self.bin_edges_, self.n_bins, self._columns())
