"""Learned segments at every snapshot, matched across snapshots so that labels stay stable.

Each snapshot is clustered on its own (a :class:`~segwise.segment.Segmenter` with the same
``k``), so a segment's label says nothing about the segment of the same label at another
snapshot. The segments are therefore matched: every snapshot's segment centroids are
placed in one space, the model space of the first snapshot (its skew transform and
scaling), and each snapshot's segments are assigned to the previous snapshot's by the
Hungarian algorithm on the distances between centroids, the assignment with the least
total distance. A segment keeps its label and the name it got at the first snapshot, and
the distance its centroid moved is reported, so drift shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from segwise.exceptions import ConfigError

__all__ = ["LearnedTrack", "learned_snapshots", "match_centroids"]


def match_centroids(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Match current segment centroids to previous ones with the least total distance.

    Parameters
    ----------
    previous : ndarray of shape (k_prev, n_dims)
        Centroids of the previous snapshot, row ``i`` being segment ``i``.
    current : ndarray of shape (k_cur, n_dims)
        Centroids of the current snapshot, in the same space.

    Returns
    -------
    ndarray of shape (k_cur,)
        For every current segment, the previous segment it continues; ``-1`` for
        segments left over when there are more current than previous ones.

    Examples
    --------
    >>> import numpy as np
    >>> match_centroids(np.array([[0.0, 0.0], [5.0, 5.0]]), np.array([[5.1, 4.9], [0.2, 0.0]]))
    array([1, 0])
    """
    previous, current = np.atleast_2d(previous), np.atleast_2d(current)
    if previous.shape[1] != current.shape[1]:
        raise ValueError("centroids must live in the same space (same number of dimensions)")
    cost = np.linalg.norm(current[:, None, :] - previous[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    out = np.full(len(current), -1, dtype=np.int64)
    out[rows] = cols
    return out


@dataclass
class LearnedTrack:
    """Learned segments of every snapshot under stable labels.

    Attributes
    ----------
    assignments : pandas.DataFrame
        ``snapshot``, ``customer_id``, ``learned_segment`` (stable label) and
        ``learned_name`` (the name the segment got at the first snapshot).
    centroids : pandas.DataFrame
        One row per snapshot and segment: ``snapshot``, ``learned_segment``,
        ``learned_name``, ``customers``, ``moved`` (distance from the segment's centroid
        at the previous snapshot, in the first snapshot's model space; 0 at the first)
        and the mean of every feature.
    n_clusters : int
        Segments per snapshot.
    """

    assignments: pd.DataFrame
    centroids: pd.DataFrame
    n_clusters: int


def learned_snapshots(
    snapshots: pd.DataFrame,
    n_clusters: int,
    *,
    features: Sequence[str] = ("recency_days", "frequency", "monetary"),
    random_state: int | None = 0,
) -> LearnedTrack:
    """Cluster every snapshot and match the segments across snapshots.

    Parameters
    ----------
    snapshots : pandas.DataFrame
        Long table of snapshots with ``snapshot``, ``customer_id`` and the features.
    n_clusters : int
        Segments per snapshot (KMeans).
    features : sequence of str, default=("recency_days", "frequency", "monetary")
        Features clustered.
    random_state : int or None, default=0
        Seed of every fit.

    Returns
    -------
    LearnedTrack
        Stable labels per snapshot and customer, and the centroids' drift.
    """
    from segwise.profile import name_segments, profile_segments
    from segwise.segment import Segmenter

    if n_clusters < 2:
        raise ConfigError(f"learned segments need at least 2 clusters, got {n_clusters}")
    features = list(features)
    dates = sorted(snapshots["snapshot"].unique())
    parts, rows = [], []
    space = None
    previous: np.ndarray | None = None
    names: dict[int, str] = {}
    for date in dates:
        snap = snapshots[snapshots["snapshot"] == date]
        if len(snap) <= n_clusters:
            raise ConfigError(
                f"the snapshot of {pd.Timestamp(date).date()} has {len(snap)} customers, too "
                f"few for {n_clusters} learned segments. Fix: use later snapshots or fewer"
            )
        X = snap[features].astype("float64")
        seg = Segmenter(n_clusters, random_state=random_state).fit(X)
        if space is None:
            space = seg.preprocessor_
            described = [*features, *(c for c in ("tenure_days", "avg_order_value")
                                      if c in snap and c not in features)]
            profiles = profile_segments(snap.reset_index(drop=True), seg.labels_,
                                        features=described, value_col="monetary")
            names = dict(zip(*name_segments(profiles)[["segment", "name"]].to_numpy().T,
                             strict=True))
        Z = np.asarray(space.transform(X.to_numpy()), dtype=np.float64)
        found = np.unique(seg.labels_[seg.labels_ >= 0])
        centres = np.array([Z[seg.labels_ == c].mean(axis=0) for c in found])
        stable = found if previous is None else match_centroids(previous, centres)
        lookup = dict(zip(found, stable, strict=True))
        labels = np.array([lookup.get(int(c), -1) for c in seg.labels_], dtype=np.int64)
        ordered = np.empty_like(centres)
        ordered[stable] = centres
        moved = (np.zeros(len(found)) if previous is None
                 else np.linalg.norm(ordered - previous, axis=1))
        for s in range(len(found)):
            members = snap[labels == s]
            rows.append({"snapshot": date, "learned_segment": s, "learned_name": names[s],
                         "customers": len(members), "moved": float(moved[s]),
                         **{f: float(members[f].mean()) for f in features}})
        previous = ordered
        parts.append(pd.DataFrame({"snapshot": date, "customer_id": snap["customer_id"].to_numpy(),
                                   "learned_segment": labels,
                                   "learned_name": [names[s] for s in labels]}))
    return LearnedTrack(assignments=pd.concat(parts, ignore_index=True),
                        centroids=pd.DataFrame(rows), n_clusters=n_clusters)
