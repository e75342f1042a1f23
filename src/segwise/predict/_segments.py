"""Segments meet the model: the population's segments as a baseline and as a feature.

The population analysis (``segwise population``) learns demographic segments of a
population and says which are over-represented among customers. A campaign built on it
mails the most over-represented segments first. :class:`SegmentBaseline` is that campaign
as a ranking: the same pipeline (:func:`segwise.features.people.fit_population`, then
k-means with the population analysis's k) fitted on the training rows, each segment scored
by its response rate there (its ratio of responders to people, which orders segments as
their over-representation does), so it can be compared with a model at the same mailing
size. :meth:`SegmentBaseline.with_segments` adds each person's segment to their row as a
categorical attribute, so a model can use it as a feature.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from segwise.io import Attribute, FeatureDictionary

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from segwise.clean import PeopleSettings
    from segwise.segment import Segmenter

__all__ = [
    "BASELINE",
    "SEGMENT_COLUMN",
    "SegmentBaseline",
    "as_arrow",
    "choose_segments",
    "segment_comparison",
]

#: Name of the segment column :meth:`SegmentBaseline.with_segments` adds.
SEGMENT_COLUMN = "population_segment"


def as_arrow(X: Any) -> pa.Table:
    """Return rows as an Arrow table (a pandas DataFrame converted, without its index)."""
    if isinstance(X, pa.Table):
        return X
    if isinstance(X, pd.DataFrame):
        return pa.Table.from_pandas(X, preserve_index=False)
    raise TypeError(f"segments need a table of rows (Arrow or pandas), got {type(X).__name__}")


def _settings(settings: PeopleSettings, dictionary: FeatureDictionary | None
              ) -> PeopleSettings:
    return dataclasses.replace(settings, dictionary=dictionary)


def choose_segments(rows: Any, dictionary: FeatureDictionary | None,
                    settings: PeopleSettings) -> int:
    """Choose the number of segments as the population analysis does (``sweep_k``).

    Parameters
    ----------
    rows : pyarrow.Table or pandas.DataFrame
        Raw rows (the attributes; no target).
    dictionary : FeatureDictionary or None
        The attributes (None: inferred).
    settings : PeopleSettings
        ``[people]`` settings: exclusions, thresholds, PCA, ``k_min`` and ``k_max``.

    Returns
    -------
    int
        The recommended number of segments.
    """
    from segwise.features.people import fit_population
    from segwise.segment import sweep_k
    from segwise.segment._cluster import limit_threads

    table = as_arrow(rows)
    with limit_threads(table.num_rows), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unseen codes: counted elsewhere
        fit = fit_population(table, dictionary, _settings(settings, dictionary))
        Z = fit.projection.components
        k_max = max(settings.k_min, min(settings.k_max, len(Z) - 1))
        sweep = sweep_k(Z, range(settings.k_min, k_max + 1),
                        segmenter=_segmenter(settings), random_state=settings.random_state)
    return int(sweep.recommended_k)


def _segmenter(settings: PeopleSettings) -> Segmenter:
    from segwise.segment import Segmenter

    return Segmenter(skew_transform=None, scaler=None, order_by=None,
                     random_state=settings.random_state)


@dataclass
class SegmentBaseline:
    """Population segments fitted on training rows, each scored by its response rate.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        The population preprocessing (encode, select, impute, scale, pca).
    segmenter : Segmenter
        k-means on its components.
    table : pandas.DataFrame
        Per segment (``-1``: rows too sparse to place): ``segment``, ``people``,
        ``responders``, ``rate`` (responders / people), ``ratio`` (rate / overall rate:
        the over-representation) and ``score`` (the rate, shrunk towards the overall rate
        by one person's worth, so that a tiny segment cannot top the list by luck).
    """

    pipeline: Pipeline
    segmenter: Segmenter
    table: pd.DataFrame

    @classmethod
    def fit(cls, rows: Any, y: np.ndarray, dictionary: FeatureDictionary | None,
            settings: PeopleSettings, n_clusters: int) -> SegmentBaseline:
        """Fit the population segments on ``rows`` and score each by its response rate.

        Parameters
        ----------
        rows : pyarrow.Table or pandas.DataFrame
            Raw training rows (no target).
        y : ndarray of shape (n_rows,)
            1 for a responder.
        dictionary : FeatureDictionary or None
            The attributes.
        settings : PeopleSettings
            ``[people]`` settings of the population analysis.
        n_clusters : int
            Number of segments (:func:`choose_segments`).

        Returns
        -------
        SegmentBaseline
            The fitted baseline.
        """
        from segwise.features.people import fit_population
        from segwise.segment._cluster import limit_threads

        table = as_arrow(rows)
        y = np.asarray(y, dtype=np.int64)
        with limit_threads(table.num_rows), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            fit = fit_population(table, dictionary, _settings(settings, dictionary))
            segmenter = _segmenter(settings).set_params(n_clusters=n_clusters)
            segmenter.fit(fit.projection.components)
        labels = np.full(table.num_rows, -1, dtype=np.int64)
        labels[fit.projection.placed] = segmenter.labels_
        out = cls(fit.pipeline, segmenter, pd.DataFrame())
        rate = float(y.mean())
        frame = pd.DataFrame({"segment": labels, "y": y}).groupby("segment").agg(
            people=("y", "size"), responders=("y", "sum")).reindex(
            range(-1, n_clusters), fill_value=0).reset_index()
        frame["rate"] = frame["responders"] / frame["people"].where(frame["people"] > 0)
        frame["ratio"] = frame["rate"] / rate if rate > 0 else np.nan
        frame["score"] = (frame["responders"] + rate) / (frame["people"] + 1)
        out.table = frame
        return out

    def segments(self, rows: Any) -> np.ndarray:
        """Segment of each row (``-1`` for rows too sparse to place).

        Parameters
        ----------
        rows : pyarrow.Table or pandas.DataFrame
            Raw rows with the training columns.

        Returns
        -------
        ndarray of int64 of shape (n_rows,)
        """
        from segwise.features.people import project_rows

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            projection = project_rows(self.pipeline, as_arrow(rows))
        labels = np.full(len(projection.placed), -1, dtype=np.int64)
        if len(projection.components):
            labels[projection.placed] = self.segmenter.predict(projection.components)
        return labels

    def score(self, labels: np.ndarray) -> np.ndarray:
        """Each row's segment score (the segment's shrunk response rate): mail the highest first.

        Parameters
        ----------
        labels : ndarray of int of shape (n_rows,)
            Segments (:meth:`segments`).

        Returns
        -------
        ndarray of float of shape (n_rows,)
        """
        scores = dict(zip(self.table["segment"], self.table["score"], strict=True))
        return np.array([scores[int(s)] for s in labels], dtype=np.float64)

    def with_segments(self, rows: Any, labels: np.ndarray,
                      dictionary: FeatureDictionary | None
                      ) -> tuple[pa.Table, FeatureDictionary | None]:
        """Add each row's segment as a categorical attribute, and declare it.

        Parameters
        ----------
        rows : pyarrow.Table or pandas.DataFrame
            Raw rows.
        labels : ndarray of int of shape (n_rows,)
            Their segments (:meth:`segments`).
        dictionary : FeatureDictionary or None
            The rows' dictionary; the segment attribute is added to it (None stays None:
            the column is then inferred as a categorical).

        Returns
        -------
        rows : pyarrow.Table
            ``rows`` with a :data:`SEGMENT_COLUMN` column (text codes; ``-1`` too sparse).
        dictionary : FeatureDictionary or None
            The dictionary with the segment attribute.
        """
        table = as_arrow(rows).append_column(SEGMENT_COLUMN, pa.array(labels.astype(str)))
        if dictionary is None:
            return table, None
        attr = Attribute(SEGMENT_COLUMN, "categorical", "Population segment", missing=("-1",),
                         labels={str(s): f"segment {s + 1}"
                                 for s in self.table["segment"] if s >= 0})
        return table, FeatureDictionary([*dictionary, attr], source=dictionary.source)


#: Name of the segments' baseline in comparisons.
BASELINE = "baseline: mail the over-represented segments"


def segment_comparison(X: Any, y: np.ndarray, dictionary: FeatureDictionary | None,
                       settings: PeopleSettings, n_clusters: int | None = None) -> Any:
    """Build what :func:`~segwise.predict.validate_propensity` takes as ``segments``.

    Parameters
    ----------
    X : pyarrow.Table or pandas.DataFrame
        Raw training rows (no target).
    y : ndarray of shape (n_rows,)
        1 for a responder.
    dictionary : FeatureDictionary or None
        The attributes.
    settings : PeopleSettings
        ``[people]`` settings of the population analysis (its exclusions say which
        attributes the segments are learned from).
    n_clusters : int, optional
        Number of segments; chosen on ``X`` as the population analysis does when omitted.

    Returns
    -------
    callable
        ``make(chosen) -> (scorer, table)``: ``scorer(X_train, y_train, X_valid)`` fits the
        segments on the training rows and scores the validation rows with the baseline
        (:data:`BASELINE`) and with ``chosen`` refitted with the segment as a feature;
        ``table`` describes the segments fitted on all of ``X``.
    """
    from sklearn.base import clone

    def make(chosen: Any) -> tuple[Any, pd.DataFrame]:
        k = n_clusters or choose_segments(X, dictionary, settings)
        full = SegmentBaseline.fit(X, y, dictionary, settings, k)

        def scorer(X_tr: Any, y_tr: np.ndarray, X_va: Any) -> dict[str, np.ndarray]:
            base = SegmentBaseline.fit(X_tr, y_tr, dictionary, settings, k)
            train_labels, valid_labels = base.segments(X_tr), base.segments(X_va)
            rows_tr, extended = base.with_segments(X_tr, train_labels, dictionary)
            rows_va, _ = base.with_segments(X_va, valid_labels, dictionary)
            model = clone(chosen).set_params(dictionary=extended).fit(rows_tr, y_tr)
            return {BASELINE: base.score(valid_labels),
                    f"{chosen.name} + population segments":
                        model.predict_proba(rows_va)[:, 1]}

        return scorer, full.table.drop(columns="score")

    return make
