"""How good a ranking is for a mailing: responders captured, lift, gains and calibration.

A campaign mails the top of a ranked list, so the figures that matter are about the top:
the responders a mailing of the top ``x %`` (or of the top ``N`` people) would reach, as a
share of all responders (*captured*, the gains curve) and against mailing at random
(*lift*: captured share / mailed share). Scores often tie (a segment's rate, a model on
coded data); tied people are taken in random order, so what a tie group adds is its
expected value, never an accident of the sort.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "SHARES",
    "average_precision",
    "calibration_table",
    "captured",
    "gains_table",
    "metric_name",
    "ranking_metrics",
]

#: Mailing sizes (shares of the list) the figures are given for.
SHARES: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3)


def metric_name(kind: str, share: float) -> str:
    """Column name of a figure at a mailing share: ``captured_20`` for 20 %."""
    return f"{kind}_{share * 100:g}"


def captured(y: np.ndarray, score: np.ndarray, k: int | Sequence[int] | np.ndarray
             ) -> np.ndarray:
    """Count the responders expected among the ``k`` highest scores, ties in random order.

    Parameters
    ----------
    y : ndarray of shape (n,)
        1 for a responder, 0 otherwise.
    score : ndarray of shape (n,)
        Higher is mailed first.
    k : int or sequence of int
        Mailing sizes (clipped to 0..n).

    Returns
    -------
    ndarray of float
        Expected responders reached by each mailing size.

    Examples
    --------
    >>> captured(np.array([1, 0, 1, 0]), np.array([0.9, 0.5, 0.5, 0.1]), [1, 2]).tolist()
    [1.0, 1.5]
    """
    y = np.asarray(y, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    ks = np.clip(np.atleast_1d(np.asarray(k, dtype=np.int64)), 0, len(y))
    order = np.argsort(-score, kind="stable")
    s, yy = score[order], y[order]
    # Tie groups: where each starts and ends in the sorted order, and their responders.
    starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    before = np.r_[0.0, np.cumsum(yy)]
    out = np.zeros(len(ks))
    for i, kk in enumerate(ks):
        if kk == 0:
            continue
        g = np.searchsorted(starts, kk - 1, side="right") - 1  # the group holding row kk-1
        a, b = starts[g], ends[g]
        out[i] = before[a] + (kk - a) * (before[b] - before[a]) / (b - a)
    return out


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Average precision, as scikit-learn's ``average_precision_score``, in plain NumPy.

    The precision at each distinct score, weighted by the recall it adds (tied scores are
    one step). Permutation importance calls it thousands of times, where the input checks
    of scikit-learn's version cost more than the sum.

    Parameters
    ----------
    y : ndarray of shape (n,)
        1 for a responder, 0 otherwise (at least one responder).
    score : ndarray of shape (n,)
        Higher is mailed first.

    Returns
    -------
    float

    Examples
    --------
    >>> average_precision(np.array([1, 0, 1, 0]), np.array([0.9, 0.5, 0.5, 0.1]))
    0.8333333333333333
    """
    score = np.asarray(score, dtype=np.float64)
    order = np.argsort(-score, kind="stable")
    hits = np.cumsum(np.asarray(y, dtype=np.float64)[order])
    ends = np.r_[np.flatnonzero(np.diff(score[order])), len(score) - 1]  # last of each tie
    found = hits[ends]
    return float(np.diff(found, prepend=0.0) @ (found / (ends + 1)) / hits[-1])


def ranking_metrics(y: np.ndarray, score: np.ndarray, *,
                    shares: Sequence[float] = SHARES) -> dict[str, float]:
    """ROC AUC, average precision, Brier score, and captured share and lift per mailing share.

    Parameters
    ----------
    y : ndarray of shape (n,)
        1 for a responder, 0 otherwise (both present).
    score : ndarray of shape (n,)
        Probabilities of responding (the Brier score reads them as such).
    shares : sequence of float
        Mailing shares.

    Returns
    -------
    dict
        ``roc_auc``, ``average_precision``, ``brier``, ``captured_<x>`` (share of all
        responders in the top x %) and ``lift_<x>`` (that share / x) per share.
    """
    from sklearn.metrics import brier_score_loss, roc_auc_score

    y = np.asarray(y, dtype=np.int64)
    score = np.asarray(score, dtype=np.float64)
    total = max(float(y.sum()), 1.0)
    sizes = [round(s * len(y)) for s in shares]
    reached = captured(y, score, sizes) / total
    out = {
        "roc_auc": float(roc_auc_score(y, score)),
        "average_precision": average_precision(y, score),
        "brier": float(brier_score_loss(y, np.clip(score, 0.0, 1.0))),
    }
    for share, size, got in zip(shares, sizes, reached, strict=True):
        out[metric_name("captured", share)] = float(got)
        out[metric_name("lift", share)] = float(got / (size / len(y))) if size else np.nan
    return out


def gains_table(y: np.ndarray, score: np.ndarray, *, points: int = 100) -> pd.DataFrame:
    """Tabulate the cumulative gains curve: responders captured as the mailing grows.

    Parameters
    ----------
    y : ndarray of shape (n,)
        1 for a responder, 0 otherwise.
    score : ndarray of shape (n,)
        Higher is mailed first.
    points : int, default=100
        Mailing shares from 0 to 1 in this many steps.

    Returns
    -------
    pandas.DataFrame
        ``mailed`` (share of the list), ``people``, ``responders`` (expected),
        ``captured`` (share of all responders) and ``lift``.
    """
    y = np.asarray(y, dtype=np.int64)
    mailed = np.linspace(0.0, 1.0, points + 1)
    people = np.round(mailed * len(y)).astype(np.int64)
    got = captured(y, score, people)
    share = got / max(float(y.sum()), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        lift = np.where(mailed > 0, share / mailed, np.nan)
    return pd.DataFrame({"mailed": mailed, "people": people, "responders": got,
                         "captured": share, "lift": lift})


def calibration_table(y: np.ndarray, score: np.ndarray, *, bins: int = 10) -> pd.DataFrame:
    """Predicted against observed response, in bins of equal size by score.

    Parameters
    ----------
    y : ndarray of shape (n,)
        1 for a responder, 0 otherwise.
    score : ndarray of shape (n,)
        Predicted probabilities.
    bins : int, default=10
        Bins (fewer when scores tie a lot: equal scores stay in one bin).

    Returns
    -------
    pandas.DataFrame
        ``bin`` (1 = lowest scores), ``people``, ``predicted`` (mean score) and
        ``observed`` (response rate).
    """
    y = np.asarray(y, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    edges = np.unique(np.quantile(score, np.linspace(0, 1, bins + 1)[1:-1]))
    which = np.searchsorted(edges, score, side="right")
    frame = pd.DataFrame({"bin": which + 1, "score": score, "y": y})
    out = frame.groupby("bin", as_index=False).agg(people=("y", "size"),
                                                   predicted=("score", "mean"),
                                                   observed=("y", "mean"))
    out["bin"] = np.arange(1, len(out) + 1)
    return out
