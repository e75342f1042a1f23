"""Learned segments at every snapshot, matched across snapshots so that labels stay stable.

Each snapshot is clustered on its own (a :class:`~segwise.segment.Segmenter` with the same
``k``), so a segment's label says nothing about the segment of the same label at another
snapshot. The segments are therefore matched. Every snapshot's segment centroids are
placed in one space, the signed ``log1p`` of each feature standardised over all snapshots
together (one scale for every date, and heavy tails compressed as the clustering does).
The last snapshot's segments, the ones a business acts on now, keep their labels and
names; going back in time, each snapshot's segments are assigned to the next snapshot's
by the Hungarian algorithm on the distances between centroids, the assignment with the
least total distance. The distance each centroid moved from one snapshot to the next is
reported, so drift shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

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
    from scipy.optimize import linear_sum_assignment  # scipy only when segments are learned

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
        ``learned_name`` (the name the segment has at the last snapshot).
    centroids : pandas.DataFrame
        One row per snapshot and segment: ``snapshot``, ``learned_segment``,
        ``learned_name``, ``customers``, ``moved`` (distance from the segment's centroid
        at the previous snapshot, in the common space; 0 at the first)
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
    from segwise.segment import Segmenter, signed_log1p

    if n_clusters < 2:
        raise ConfigError(f"learned segments need at least 2 clusters, got {n_clusters}")
    features = list(features)
    dates = sorted(snapshots["snapshot"].unique())
    logged = signed_log1p(snapshots[features].to_numpy(dtype="float64"))
    spread = logged.std(axis=0)
    space = (logged - logged.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    fits = {}
    for date in dates:
        at = (snapshots["snapshot"] == date).to_numpy()
        snap = snapshots[at]
        if len(snap) <= n_clusters:
            raise ConfigError(
                f"the snapshot of {pd.Timestamp(date).date()} has {len(snap)} customers, too "
                f"few for {n_clusters} learned segments. Fix: use later snapshots or fewer"
            )
        seg = Segmenter(n_clusters, random_state=random_state).fit(snap[features].astype(float))
        found = np.unique(seg.labels_[seg.labels_ >= 0])
        centres = np.array([space[at][seg.labels_ == c].mean(axis=0) for c in found])
        fits[date] = (snap, seg.labels_, found, centres)
    # The last snapshot names the segments; earlier ones are matched to their successor.
    snap, labels, found, centres = fits[dates[-1]]
    described = [*features, *(c for c in ("tenure_days", "avg_order_value")
                              if c in snap and c not in features)]
    profiles = profile_segments(snap.reset_index(drop=True), labels, features=described,
                                value_col="monetary")
    names = {int(k): str(v) for k, v in name_segments(profiles)[["segment", "name"]].to_numpy()}
    stable = {dates[-1]: dict(zip(found, found, strict=True))}
    placed = {dates[-1]: centres}
    for date, later in zip(dates[-2::-1], dates[:0:-1], strict=True):
        _, _, found, centres = fits[date]
        matched = match_centroids(placed[later], centres)
        stable[date] = dict(zip(found, matched, strict=True))
        ordered = np.full_like(placed[later], np.nan)
        ordered[matched[matched >= 0]] = centres[matched >= 0]
        placed[date] = ordered
    parts, rows = [], []
    for i, date in enumerate(dates):
        snap, raw, _, _ = fits[date]
        lookup = stable[date]
        ids = np.array([lookup.get(int(c), -1) for c in raw], dtype=np.int64)
        moved = (np.zeros(len(placed[date])) if i == 0
                 else np.linalg.norm(placed[date] - placed[dates[i - 1]], axis=1))
        for s in range(len(placed[date])):
            members = snap[ids == s]
            rows.append({"snapshot": date, "learned_segment": s, "learned_name": names[s],
                         "customers": len(members), "moved": float(moved[s]),
                         **{f: float(members[f].mean()) for f in features}})
        parts.append(pd.DataFrame({"snapshot": date, "customer_id": snap["customer_id"].to_numpy(),
                                   "learned_segment": ids,
                                   "learned_name": [names.get(int(s), "") for s in ids]}))
    return LearnedTrack(assignments=pd.concat(parts, ignore_index=True),
                        centroids=pd.DataFrame(rows), n_clusters=n_clusters)
