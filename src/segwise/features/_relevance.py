"""Which encoded features carry the population's structure: filters and a ranking.

:class:`FeatureRelevance` is a selector for wide encoded tables, fitted without a target:

1. **Variance**: columns scaled to [0, 1] whose variance is at most ``variance_threshold``
   are near-constant (a one-hot code almost nobody has) and are dropped.
2. **Unsupervised random forest**: a forest learns to tell real rows from rows whose
   columns were shuffled independently (which keeps every column's distribution and
   destroys their relations). A feature the forest leans on takes part in the structure
   that segments are made of; its importance measures how much.
3. **Correlation**: of two columns correlated above ``max_correlation``, the one with the
   lower forest importance is dropped; every dropped pair is listed.
4. **Ranking**: the surviving columns are ranked by the mean of their ranks on forest
   importance and on scaled variance; ``top_n`` keeps the best ``top_n``.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["FeatureRelevance"]


class FeatureRelevance(TransformerMixin, BaseEstimator):
    """Drop near-constant and redundant encoded columns, rank the rest, keep the top.

    Parameters
    ----------
    variance_threshold : float, default=0.001
        Columns scaled to [0, 1] with at most this variance are dropped (a 0/1 column
        is dropped when about 0.1 % of rows or fewer differ from the rest).
    max_correlation : float, default=0.95
        Of two columns whose absolute Pearson correlation exceeds it, the one with the
        lower forest importance is dropped.
    top_n : int or None, default=None
        Keep only the ``top_n`` best-ranked columns; all that pass the filters when None.
    n_estimators : int, default=50
        Trees of the real-against-shuffled forest.
    max_samples : int, default=10000
        Rows sampled (uniformly) for the statistics and the forest.
    random_state : int or None, default=None
        Seed of the sample, the shuffles and the forest.

    Attributes
    ----------
    support_ : ndarray of bool of shape (n_features_in_,)
        Columns kept.
    ranking_ : ndarray of shape (n_features_in_,)
        Rank of each column among those passing the filters (1 is best), 0 for dropped.
    importances_ : ndarray of shape (n_features_in_,)
        Forest importance (mean decrease in impurity, summing to 1 over the columns the
        forest saw); 0 for near-constant columns.
    variances_ : ndarray of shape (n_features_in_,)
        Variance of each column scaled to [0, 1].
    dropped_pairs_ : list of dict
        One per column dropped for correlation: ``kept``, ``dropped``, ``correlation``.
    oob_score_ : float
        Out-of-bag accuracy of telling real rows from shuffled ones (0.5: no structure).
    n_features_in_ : int
        Columns seen at fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Their names, when fit was given a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=1000)
    >>> X = np.column_stack([a, a + rng.normal(0, 0.01, 1000), rng.normal(size=1000),
    ...                      np.r_[np.ones(1), np.zeros(999)]])
    >>> sel = FeatureRelevance(n_estimators=20, random_state=0).fit(X)
    >>> sel.support_.tolist()
    [True, False, True, False]
    """

    def __init__(
        self,
        *,
        variance_threshold: float = 0.001,
        max_correlation: float = 0.95,
        top_n: int | None = None,
        n_estimators: int = 50,
        max_samples: int = 10_000,
        random_state: int | None = None,
    ) -> None:
        self.variance_threshold = variance_threshold
        self.max_correlation = max_correlation
        self.top_n = top_n
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state

    def _check_params(self) -> None:
        if not 0 < float(self.max_correlation) <= 1:
            raise ValueError(f"max_correlation must be in (0, 1], got {self.max_correlation}")
        if self.top_n is not None and (not isinstance(self.top_n, numbers.Integral)
                                       or self.top_n < 1):
            raise ValueError(f"top_n must be a positive integer or None, got {self.top_n!r}")
        if not isinstance(self.max_samples, numbers.Integral) or self.max_samples < 2:
            raise ValueError("max_samples must be an integer of at least 2")

    def fit(self, X: Any, y: object = None) -> FeatureRelevance:
        """Filter, rank and choose the columns.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Encoded rows; NaN where missing (filled with column medians for the
            statistics).
        y : None
            Ignored.

        Returns
        -------
        FeatureRelevance
            The fitted selector.
        """
        self._check_params()
        Xv = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        rng = np.random.default_rng(self.random_state)
        n, d = Xv.shape
        rows = np.sort(rng.choice(n, self.max_samples, replace=False)) \
            if n > self.max_samples else np.arange(n)
        S = _fill_medians(Xv[rows])
        low, span = S.min(axis=0), np.ptp(S, axis=0)
        scaled = (S - low) / np.where(span > 0, span, 1.0)
        self.variances_ = scaled.var(axis=0)
        varied = self.variances_ > self.variance_threshold
        if not varied.any():  # nothing varies: nothing to rank, keep everything
            varied = np.ones(d, dtype=bool)
        self.importances_ = np.zeros(d)
        self.oob_score_ = float("nan")
        cols = np.flatnonzero(varied)
        if len(S) >= 4:
            self.importances_[cols], self.oob_score_ = self._forest(S[:, cols], rng)
        keep = varied.copy()
        self.dropped_pairs_ = self._prune(S, keep)
        score = np.zeros(d)
        ranked = np.flatnonzero(keep)
        if len(ranked):
            by_importance = pd.Series(-self.importances_[ranked]).rank(method="min")
            by_variance = pd.Series(-self.variances_[ranked]).rank(method="min")
            score[ranked] = ((by_importance + by_variance) / 2).to_numpy()
        order = ranked[np.lexsort((ranked, score[ranked]))]
        self.ranking_ = np.zeros(d, dtype=np.int64)
        self.ranking_[order] = np.arange(1, len(order) + 1)
        if self.top_n is not None:
            keep &= (self.ranking_ > 0) & (self.ranking_ <= self.top_n)
        self.support_ = keep
        return self

    def _forest(self, S: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
        """Return importances and out-of-bag accuracy of real against shuffled rows."""
        from sklearn.ensemble import RandomForestClassifier

        shuffled = rng.permuted(S, axis=0)
        data = np.vstack([S, shuffled])
        target = np.r_[np.ones(len(S)), np.zeros(len(S))]
        forest = RandomForestClassifier(
            # Half the rows per tree, as a count: a share warns on a small table.
            n_estimators=self.n_estimators, min_samples_leaf=5, max_samples=len(S),
            oob_score=True, n_jobs=1, random_state=int(rng.integers(2**31 - 1)),
        ).fit(data, target)
        return forest.feature_importances_, float(forest.oob_score_)

    def _prune(self, S: np.ndarray, keep: np.ndarray) -> list[dict[str, Any]]:
        """Drop the less important column of each pair correlated above the maximum."""
        cols = np.flatnonzero(keep)
        if len(cols) < 2:
            return []
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.corrcoef(S[:, cols], rowvar=False)
        corr = np.nan_to_num(np.atleast_2d(corr))
        i, j = np.triu_indices(len(cols), k=1)
        strength = np.abs(corr[i, j])
        high = np.flatnonzero(strength > self.max_correlation)
        names = self._names()
        dropped = []
        for pair in high[np.argsort(-strength[high], kind="stable")]:
            a, b = cols[i[pair]], cols[j[pair]]
            if not (keep[a] and keep[b]):
                continue
            loser, winner = (a, b) if self.importances_[a] < self.importances_[b] else (b, a)
            keep[loser] = False
            dropped.append({"kept": names[winner], "dropped": names[loser],
                            "correlation": float(corr[i[pair], j[pair]])})
        return dropped

    def _names(self) -> list[str]:
        names = getattr(self, "feature_names_in_", None)
        return [str(v) for v in names] if names is not None else [
            f"x{k}" for k in range(self.n_features_in_)]

    def transform(self, X: Any) -> np.ndarray:
        """Keep the chosen columns.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Encoded rows.

        Returns
        -------
        ndarray of shape (n_samples, n_kept)
            The kept columns, in input order.
        """
        check_is_fitted(self, "support_")
        Xv = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan",
                           reset=False)
        return Xv[:, self.support_]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the kept columns.

        Parameters
        ----------
        input_features : array-like of str, optional
            Input names; ``feature_names_in_`` (or ``x0``, ``x1``, ...) when omitted.

        Returns
        -------
        ndarray of str
            The kept columns' names.
        """
        from sklearn.utils.validation import _check_feature_names_in

        check_is_fitted(self, "support_")
        names = _check_feature_names_in(self, input_features)
        return np.asarray(names, dtype=object)[self.support_]

    def table(self, describe: Any = None) -> pd.DataFrame:
        """Every input column with its statistics, rank and fate.

        Parameters
        ----------
        describe : callable, optional
            ``describe(name)`` gives a column's description (the dictionary's words).

        Returns
        -------
        pandas.DataFrame
            ``feature``, ``description`` (when ``describe`` is given), ``variance``
            (scaled to [0, 1]), ``importance``, ``rank`` (0 when dropped), ``status``
            (``kept``, ``near-constant``, ``correlated``, ``below the top N``) and
            ``reason``, best rank first, then the dropped columns.
        """
        check_is_fitted(self, "support_")
        names = self._names()
        correlated = {p["dropped"]: p for p in self.dropped_pairs_}
        status, reason = [], []
        for k, name in enumerate(names):
            if self.support_[k]:
                status.append("kept")
                reason.append("")
            elif name in correlated:
                p = correlated[name]
                status.append("correlated")
                reason.append(f"r = {p['correlation']:+.3f} with {p['kept']}, which the "
                              "forest found more important")
            elif self.ranking_[k] == 0:
                status.append("near-constant")
                reason.append(f"variance {self.variances_[k]:.2g} (scaled) at most "
                              f"{self.variance_threshold:g}")
            else:
                status.append("below the top N")
                reason.append(f"rank {self.ranking_[k]}, below the top {self.top_n}")
        frame = pd.DataFrame({"feature": names, "variance": self.variances_,
                              "importance": self.importances_, "rank": self.ranking_,
                              "status": status, "reason": reason})
        if describe is not None:
            frame.insert(1, "description", [describe(n) for n in names])
        frame["_order"] = np.where(frame["rank"] > 0, frame["rank"], len(frame) + 1)
        return frame.sort_values(["_order", "feature"], kind="stable").drop(
            columns="_order").reset_index(drop=True)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def _fill_medians(S: np.ndarray) -> np.ndarray:
    """Copy of ``S`` with NaN replaced by its column's median (0 for empty columns)."""
    if not np.isnan(S).any():
        return S.copy()
    with np.errstate(all="ignore"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            medians = np.nanmedian(S, axis=0)
    medians = np.nan_to_num(medians)
    return np.where(np.isnan(S), medians, S)
