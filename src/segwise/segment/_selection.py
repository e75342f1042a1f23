"""Choosing the number of segments, comparing algorithms, and the one-call segmentation.

How k is recommended (:func:`sweep_k`), in words:

1. **Screen.** A k whose smallest segment holds less than ``min_share`` of the customers,
   or whose partition is not reproduced on resamples (mean adjusted Rand index below
   ``min_stability``), is set aside.
2. **Resolution.** The knee of the within-segment sum of squares (the elbow) marks where
   extra segments stop explaining much more variance. The knee is imprecise by one, so the
   screened k within one of it are the candidates.
3. **Quality.** Among the candidates, silhouette, Calinski-Harabasz, Davies-Bouldin,
   stability (and BIC for mixtures) are rank-aggregated (mean rank); the best wins.

Silhouette, Calinski-Harabasz and Davies-Bouldin are not used to pick k over the whole
range: on customer data, which form a continuum rather than separate blobs, they reward
the single largest split and so pick k=2 (Online Retail RFM is a case in point).
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
)
from sklearn.utils import check_array

from segwise._frames import DataSource, is_table
from segwise._parallel import check_jobs, run_calls
from segwise.exceptions import (
    ConfigError,
    InputError,
    SegwiseNote,
    SegwiseWarning,
    option_key,
    option_value,
)
from segwise.features import EntityTable
from segwise.segment._cluster import (
    DENSITY_ALGORITHMS,
    Segmenter,
    fit_clusters,
    knee_point,
    limit_threads,
    resolve_algorithm,
)
from segwise.segment._embed import MAX_EMBED_SAMPLES
from segwise.segment._settings import MISSING_POLICIES

if TYPE_CHECKING:
    from segwise.io import ReadOptions

__all__ = [
    "DEFAULT_FEATURES",
    "DEFAULT_MODELS",
    "KSweep",
    "Segmentation",
    "compare_models",
    "segment_customers",
    "sweep_k",
]

#: The RFM triple: the features a table of RFM customers is clustered on by default.
DEFAULT_FEATURES: tuple[str, ...] = ("recency_days", "frequency", "monetary")


class _Default:
    """Marks an argument left to the entity table's declaration."""

    def __repr__(self) -> str:
        return "<declared>"


_DEFAULT = _Default()
#: Models compared by default.
DEFAULT_MODELS: tuple[str, ...] = ("kmeans", "gmm", "ward", "hdbscan", "som")
#: Above this many customers the final KMeans model is a MiniBatchKMeans.
LARGE_N = 100_000
#: Below this many customers :func:`segment_customers` fits in the calling process whatever
#: ``n_jobs`` says: a worker's start (Python, scikit-learn: 3-4 s of CPU) costs about what
#: the fits it takes over save. CDNOW's 23,502 customers: 18.7 s in one process and 18.3 s
#: in two, which spent 24 s of CPU against 17 s; 50,000 customers: 20 s and 15.5 s.
PROCESSES_FROM = 25_000

_CRITERIA = {  # name -> True when larger is better
    "silhouette": True, "calinski_harabasz": True, "davies_bouldin": False,
    "stability": True, "bic": False,
}
_LABELS = {"silhouette": "silhouette", "calinski_harabasz": "Calinski-Harabasz",
           "davies_bouldin": "Davies-Bouldin", "stability": "stability", "bic": "BIC"}


@dataclass
class KSweep:
    """Result of :func:`sweep_k`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per k: ``k``, ``silhouette``, ``calinski_harabasz``, ``davies_bouldin``,
        ``inertia``, ``explained`` (share of variance explained), ``bic`` (mixtures only),
        ``stability`` (mean adjusted Rand index over resamples), ``min_share`` (smallest
        segment's share of customers), ``sizes``, ``eligible``, ``candidate`` and ``score``
        (mean rank among the candidates, lower is better).
    recommended_k : int
        The recommendation.
    knee_k : int
        Knee of the inertia curve.
    best_by : dict of str to int
        The k each criterion alone would pick, to show they disagree.
    rationale : str
        The recommendation explained in words.
    warnings : list of str
        Things a user should know (a tiny segment, an unstable k, the fallbacks taken).
    algorithm : str
        Algorithm the sweep ran.
    """

    table: pd.DataFrame
    recommended_k: int
    knee_k: int
    best_by: dict[str, int]
    rationale: str
    warnings: list[str] = field(default_factory=list)
    algorithm: str = "kmeans"


def _quiet(step: str) -> None:
    """Show nothing: the progress callback when none is given."""


def _algorithm(name: str) -> str:
    """:func:`resolve_algorithm` with the user-facing error type."""
    try:
        return resolve_algorithm(name)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _canonical_model_space(segmenter: Segmenter, X: Any) -> tuple[np.ndarray, np.ndarray]:
    """Preprocess like ``segmenter`` would; rows in canonical order, with the order."""
    Xv = check_array(X, dtype=np.float64, ensure_min_samples=2,
                     ensure_all_finite=segmenter._finite)
    order = np.lexsort(Xv.T[::-1])
    Xs = Xv[order]
    pre = segmenter._make_preprocessor(*Xs.shape).fit(Xs)
    return np.asarray(pre.transform(Xs), dtype=np.float64), order


def distinct_points(Z: np.ndarray, enough: int) -> int:
    """Return how many distinct rows ``Z`` has, or a number of at least ``enough``.

    At most that many segments are not empty. The first 10,000 rows nearly always hold
    ``enough``; all of them are compared (seconds for millions) only when they do not.
    """
    Z = np.asarray(Z, dtype=np.float64)
    found = len(np.unique(Z[:10_000], axis=0))
    if found >= enough or len(Z) <= 10_000:
        return found
    return len(np.unique(Z, axis=0))


def _inertia(Z: np.ndarray, labels: np.ndarray) -> float:
    """Within-segment sum of squared distances to the segment means (noise excluded)."""
    keep = labels >= 0
    Zk, lk = Z[keep], labels[keep]
    if not len(lk):
        return float("nan")
    k = int(lk.max()) + 1
    counts = np.bincount(lk, minlength=k).astype(np.float64)
    sums = np.vstack([np.bincount(lk, weights=Zk[:, j], minlength=k) for j in range(Z.shape[1])]).T
    # sum ||z||^2 - sum_c n_c ||mean_c||^2, O(n d) without materialising the means per row.
    nz = counts > 0
    return float((Zk**2).sum() - ((sums[nz] ** 2).sum(axis=1) / counts[nz]).sum())


def _scores(Z: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Calinski-Harabasz and Davies-Bouldin, noise excluded (silhouette: :func:`_silhouettes`)."""
    keep = labels >= 0
    if len(np.unique(labels[keep])) < 2:
        return {"calinski_harabasz": np.nan, "davies_bouldin": np.nan}
    return {"calinski_harabasz": float(calinski_harabasz_score(Z[keep], labels[keep])),
            "davies_bouldin": float(davies_bouldin_score(Z[keep], labels[keep]))}


def _silhouettes(Z: np.ndarray, labelings: Sequence[np.ndarray], *,
                 chunk_rows: int = 256) -> list[float]:
    """Mean silhouette of several labelings of the same points, noise (``-1``) left out.

    Each value equals ``silhouette_score(Z[keep], labels[keep])`` to rounding, and is NaN
    where that is undefined (fewer than two segments, or as many segments as points). The
    pairwise distances, the quadratic part, are computed once for all the labelings (every
    k of a sweep, every model of a comparison): each block of rows of the distance matrix
    is multiplied by the labelings' one-hot matrices side by side, which gives every point's
    summed distance to every segment of every labeling in one matrix product.
    """
    m = len(Z)
    columns, spans = [], []
    width = 0
    for labels in labelings:
        keep = labels >= 0
        found, code = np.unique(labels[keep], return_inverse=True)
        column = np.full(m, -1)
        column[keep] = width + code
        columns.append(column)
        spans.append((width, width + len(found)))
        width += len(found)
    onehot = np.zeros((m, width))
    for column in columns:
        members = np.flatnonzero(column >= 0)
        onehot[members, column[members]] = 1.0
    size = onehot.sum(axis=0)
    norms = np.einsum("ij,ij->i", Z, Z)
    totals = np.zeros(len(columns))
    with np.errstate(divide="ignore", invalid="ignore"):
        for start in range(0, m, chunk_rows):
            stop = min(m, start + chunk_rows)
            rows = np.arange(stop - start)
            # Euclidean distances as scikit-learn computes them (||a||^2 - 2ab + ||b||^2).
            dist = Z[start:stop] @ Z.T
            dist *= -2.0
            dist += norms[start:stop, None]
            dist += norms
            np.maximum(dist, 0.0, out=dist)
            np.sqrt(dist, out=dist)
            dist[rows, rows + start] = 0.0
            summed = dist @ onehot
            for j, (column, (lo, hi)) in enumerate(zip(columns, spans, strict=True)):
                if hi - lo < 2:  # undefined: no nearest other segment
                    continue
                own = column[start:stop]
                r, c = rows[own >= 0], own[own >= 0]
                intra = summed[r, c] / (size[c] - 1)  # NaN for a segment of one: counts 0
                mean = summed[r, lo:hi] / size[lo:hi]
                mean[np.arange(len(r)), c - lo] = np.inf
                inter = mean.min(axis=1)
                totals[j] += np.nansum((inter - intra) / np.maximum(intra, inter))
    out = []
    for total, column, (lo, hi) in zip(totals, columns, spans, strict=True):
        n_kept = int((column >= 0).sum())
        out.append(float(total / n_kept) if 2 <= hi - lo < n_kept else float("nan"))
    return out


def _resamples(n: int, n_resamples: int, resample_size: int, seed: int
               ) -> list[tuple[np.ndarray, int]]:
    """Draw the rows and the seed of each stability refit.

    Each refit sees a different half (at most ``resample_size`` rows) of the customers and
    labels a fixed evaluation set; the stability is the mean adjusted Rand index of those
    labels against the full fit's on that set (:func:`_mean_ari`).
    """
    m = min(resample_size, max(2, n // 2))
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_resamples):
        idx = np.sort(rng.choice(n, m, replace=False))
        out.append((idx, int(rng.integers(2**31 - 1))))
    return out


def _refit_labels(Z: np.ndarray, idx: np.ndarray, seed: int, eval_idx: np.ndarray,
                  algorithm: str, k: int, fit_kwargs: dict[str, Any]) -> np.ndarray:
    """Refit on ``Z[idx]``; return the segments it gives the evaluation rows."""
    with limit_threads(len(Z)):
        fit = fit_clusters(Z[idx], algorithm, k, random_state=seed,
                           **{**fit_kwargs, "n_init": 1})
        return fit.assign(Z[eval_idx])


def _mean_ari(labels: np.ndarray, refits: list[np.ndarray]) -> float:
    """Mean adjusted Rand index of each refit's labels against ``labels``; NaN for none."""
    aris = [adjusted_rand_score(labels, refit) for refit in refits]
    return float(np.mean(aris)) if aris else float("nan")


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size, replace=False)) if n > size else np.arange(n)


def _fit_kwargs(segmenter: Segmenter) -> dict[str, Any]:
    return {
        "max_fit_samples": segmenter.max_fit_samples,
        "min_cluster_size": segmenter.min_cluster_size, "min_samples": segmenter.min_samples,
        "eps": segmenter.eps, "som_shape": segmenter.som_shape,
        "som_iterations": segmenter.som_iterations,
    }


def sweep_k(
    X: Any,
    k_values: Iterable[int] = range(2, 11),
    *,
    algorithm: str = "kmeans",
    segmenter: Segmenter | None = None,
    min_share: float = 0.02,
    min_stability: float = 0.75,
    n_resamples: int = 5,
    resample_size: int = 20_000,
    silhouette_samples: int = 5_000,
    fit_samples: int = 50_000,
    random_state: int | None = 0,
    n_jobs: int | None = 1,
    progress: Callable[[str], None] | None = None,
) -> KSweep:
    """Fit one algorithm for every k, score each with several criteria and recommend one.

    The data are preprocessed once; see the module docstring for the rule that combines the
    criteria.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric per-customer features.
    k_values : iterable of int, default=range(2, 11)
        Numbers of segments to try (at least three values for a knee).
    algorithm : str, default="kmeans"
        Any algorithm of :class:`Segmenter` that takes ``n_clusters``.
    segmenter : Segmenter, optional
        Preprocessing settings to use; a default :class:`Segmenter` when omitted.
    min_share : float, default=0.02
        Smallest acceptable segment, as a share of customers.
    min_stability : float, default=0.75
        Smallest acceptable mean adjusted Rand index across resamples.
    n_resamples : int, default=5
        Refits on random halves per k for stability (0 to skip).
    resample_size : int, default=20000
        Largest subsample a stability refit sees.
    silhouette_samples : int, default=5000
        Silhouette is computed on a fixed sample of this many customers (it is quadratic).
    fit_samples : int, default=50000
        Above this many customers each k is fitted on one fixed sample of this size and
        every customer is then assigned, so inertia, Calinski-Harabasz, Davies-Bouldin and
        segment shares still describe all of them. Centroids of a few features are
        estimated well long before 50,000 rows; the final model is fitted on everyone.
    random_state : int or None, default=0
        Seed for fits, samples and resamples.
    n_jobs : int or None, default=1
        Processes running the fits and refits (``-1``: one per core). Every fit is
        seeded, so the sweep does not depend on it.
    progress : callable, optional
        Called with ``"k=<k> (<i> of <n>)"`` as each k's fit is waited for.

    Returns
    -------
    KSweep
        The table of criteria, the recommended k and the rationale.
    """
    ks = sorted({int(k) for k in k_values})
    if not ks or ks[0] < 2:
        raise ConfigError(f"k values must be integers of at least 2, got {ks}")
    algorithm = _algorithm(algorithm)
    if algorithm in DENSITY_ALGORITHMS:
        raise ConfigError(f"{algorithm} finds the number of segments itself: no k to sweep")
    base = clone(segmenter) if segmenter is not None else Segmenter(random_state=random_state)
    # Counted before preprocessing, which refuses a single row with a scikit-learn error.
    n = len(X)
    notes: list[str] = []
    if ks[0] >= n:
        raise InputError(f"only {n:,} customers: too few to split into {ks[0]} or more "
                         f"segments. Fix: give at least {ks[0] + 1} customers, or sweep "
                         "smaller k (--k-min)")
    ks = [k for k in ks if k < n]
    Z, _ = _canonical_model_space(base, X)
    distinct = distinct_points(Z, ks[-1])
    if ks[-1] > distinct:
        # Customers with equal features are one point: more segments than points are empty.
        notes.append(f"k={_ks(k for k in ks if k > distinct)} not tried: the customers make "
                     f"only {distinct:,} distinct points")
        ks = [k for k in ks if k <= distinct]
        if not ks:
            raise InputError(f"the customers make only {distinct:,} distinct point(s): too "
                             "few to split into the requested segments")
    half = min(resample_size, max(2, n // 2))
    if n_resamples and ks[-1] > half:
        # Stability refits see half the customers: more segments than that cannot be
        # checked for stability, and so few customers do not support them anyway.
        notes.append(f"k={_ks(k for k in ks if k > half)} not tried: a stability refit sees "
                     f"{half:,} of the {n:,} customers, too few for more segments")
        ks = [k for k in ks if k <= half]
    rng = np.random.default_rng(random_state)
    fit_idx = _sample(n, fit_samples, rng)
    if len(fit_idx) < n:
        notes.append(f"each k was fitted on a sample of {len(fit_idx):,} customers; every "
                     f"criterion but silhouette was computed on all {n:,}")
    sil_idx = _sample(n, silhouette_samples, rng)
    eval_idx = _sample(n, 20_000, rng)
    kw = _fit_kwargs(base)
    with limit_threads(n):
        table = _sweep_table(Z, ks, algorithm, base.n_init, kw, rng, fit_idx, sil_idx,
                             eval_idx, n_resamples, resample_size, progress or _quiet, n_jobs)
    return _recommend(table, algorithm, n, min_share, min_stability, notes)


def _sweep_table(Z: np.ndarray, ks: list[int], algorithm: str, n_init: int,
                 kw: dict[str, Any], rng: np.random.Generator, fit_idx: np.ndarray,
                 sil_idx: np.ndarray, eval_idx: np.ndarray, n_resamples: int,
                 resample_size: int, progress: Callable[[str], None],
                 n_jobs: int | None) -> pd.DataFrame:
    """Fit and score every k (the loop of :func:`sweep_k`), the fits in ``n_jobs`` processes."""
    n = len(Z)
    total_ss = float(((Z - Z.mean(axis=0)) ** 2).sum())
    sample = fit_idx if len(fit_idx) < n else None
    seeds = [int(rng.integers(2**31 - 1)) for _ in ks]
    refits = [_resamples(n, n_resamples, resample_size, seed) for seed in seeds]
    # Each k's fit, then its refits: every one independent of the others.
    calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
    for k, seed, draws in zip(ks, seeds, refits, strict=True):
        calls.append((_sweep_fit, (Z, sample, algorithm, k, seed, n_init, kw)))
        calls.extend((_refit_labels, (Z, idx, refit_seed, eval_idx, algorithm, k, kw))
                     for idx, refit_seed in draws)
    done = run_calls(calls, n_jobs)
    rows, labelings = [], []
    for i, (k, draws) in enumerate(zip(ks, refits, strict=True), 1):
        progress(f"k={k} ({i} of {len(ks)})")
        labels, bic = next(done)
        stability = _mean_ari(labels[eval_idx], [next(done) for _ in draws])
        labelings.append(labels[sil_idx])
        sizes = np.bincount(labels[labels >= 0], minlength=k)
        inertia = _inertia(Z, labels)
        rows.append({
            "k": k,
            **_scores(Z, labels),
            "inertia": inertia,
            "explained": 1.0 - inertia / total_ss if total_ss else np.nan,
            "bic": bic if bic is not None else np.nan,
            "stability": stability,
            "min_share": sizes.min() / n,
            "sizes": sorted(sizes.tolist(), reverse=True),
        })
    table = pd.DataFrame(rows)
    table.insert(1, "silhouette", _silhouettes(Z[sil_idx], labelings))
    return table


def _sweep_fit(Z: np.ndarray, sample: np.ndarray | None, algorithm: str, k: int, seed: int,
               n_init: int, kw: dict[str, Any]) -> tuple[np.ndarray, float | None]:
    """Fit one k on ``Z`` (or its ``sample``); every row's segment and the fit's BIC."""
    with limit_threads(len(Z)):
        fit = fit_clusters(Z if sample is None else Z[sample], algorithm, k,
                           random_state=seed, n_init=n_init, **kw)
        return (fit.labels if sample is None else fit.assign(Z)), fit.bic


def _mean_rank(table: pd.DataFrame, criteria: Sequence[str]) -> pd.Series:
    ranks = [table[c].rank(ascending=not _CRITERIA[c], method="min") for c in criteria]
    return pd.concat(ranks, axis=1).mean(axis=1)


def _recommend(table: pd.DataFrame, algorithm: str, n: int, min_share: float,
               min_stability: float, notes: list[str]) -> KSweep:
    """Apply the screen / knee / rank rule and write the rationale."""
    criteria = [c for c in _CRITERIA if table[c].notna().any()]
    best_by = {}
    for c in criteria:
        col = table[c]
        best_by[c] = int(table.loc[col.idxmax() if _CRITERIA[c] else col.idxmin(), "k"])
    knee_k = int(table["k"].iloc[knee_point(table["k"].to_numpy(), table["inertia"].to_numpy())])
    best_by["knee"] = knee_k

    share_ok = table["min_share"] >= min_share
    stable_ok = table["stability"].fillna(1.0) >= min_stability
    passes = eligible = share_ok & stable_ok
    warn = list(notes)
    if not eligible.any():
        eligible = share_ok if share_ok.any() else pd.Series(True, index=table.index)
        warn.append("no k passes every screen; the screens were relaxed (see the table)")
    distance = (table["k"] - knee_k).abs()
    candidate = eligible & (distance <= 1)
    if not candidate.any():
        candidate = eligible & (distance == distance[eligible].min())
    score = pd.Series(np.nan, index=table.index)
    ranked = [c for c in criteria if table.loc[candidate, c].notna().any()]
    if ranked:
        score[candidate] = _mean_rank(table[candidate], ranked)
    else:
        score[candidate] = 0.0
    table = table.assign(eligible=passes, candidate=candidate, score=score)
    order = table[candidate].assign(_d=distance).sort_values(["score", "_d", "k"])
    pick = order.index[0]
    k = int(table.loc[pick, "k"])
    row = table.loc[pick]
    if row["min_share"] < min_share:
        warn.append(f"k={k}: the smallest segment holds {row['min_share']:.1%} of customers, "
                    f"below the {min_share:.0%} minimum")
    if row["stability"] < min_stability:
        warn.append(f"k={k}: stability {row['stability']:.2f} is below {min_stability:.2f}; "
                    "segments may change between runs on new data")
    rationale = _rationale(table, k, knee_k, best_by, ranked, candidate, min_share,
                           min_stability, algorithm, n)
    return KSweep(table=table, recommended_k=k, knee_k=knee_k, best_by=best_by,
                  rationale=rationale, warnings=warn, algorithm=algorithm)


def _ks(values: Iterable[Any]) -> str:
    ks = [int(v) for v in values]
    return ", ".join(map(str, ks)) if ks else "none"


def _rationale(table: pd.DataFrame, k: int, knee_k: int, best_by: dict[str, int],
               ranked: list[str], candidate: pd.Series, min_share: float,
               min_stability: float, algorithm: str, n: int) -> str:
    t = table.set_index("k")
    lines = [f"Recommended k={k} ({algorithm}, {n:,} customers, k swept "
             f"{t.index.min()}-{t.index.max()})."]
    tiny = t.index[t["min_share"] < min_share]
    shaky = t.index[t["stability"].fillna(1.0) < min_stability]
    if len(tiny) or len(shaky):
        why = []
        if len(tiny):
            why.append(f"k={_ks(tiny)} for a segment under {min_share:.0%} of customers")
        if len(shaky):
            why.append(f"k={_ks(shaky)} for stability (resample ARI) under {min_stability:.2f}")
        lines.append(f"Screen: set aside {' and '.join(why)}.")
    else:
        lines.append(f"Screen: every k keeps all segments above {min_share:.0%} of customers "
                     f"and stability above {min_stability:.2f}.")
    cands = t.index[candidate.to_numpy()]
    lines.append(
        f"Resolution: the within-segment variance curve bends at k={knee_k} (knee); "
        f"candidates k={_ks(cands)}."
    )
    if ranked and len(cands) > 1:
        wins = [f"{_LABELS[c]} ({_fmt(t.loc[k, c])})" for c in ranked
                if t.loc[cands, c].idxmax() == k if _CRITERIA[c]]
        wins += [f"{_LABELS[c]} ({_fmt(t.loc[k, c])})" for c in ranked
                 if not _CRITERIA[c] and t.loc[cands, c].idxmin() == k]
        others = {c: int(t.loc[cands, c].idxmax() if _CRITERIA[c] else t.loc[cands, c].idxmin())
                  for c in ranked}
        dissent = [f"{_LABELS[c]} prefers k={v}" for c, v in others.items() if v != k]
        lines.append(
            f"Quality among candidates: k={k} has the best mean rank over "
            f"{', '.join(_LABELS[c] for c in ranked)}"
            + (f"; it leads on {', '.join(wins)}" if wins else "")
            + (f"; {', '.join(dissent)}" if dissent else "") + "."
        )
    alone = {c: v for c, v in best_by.items() if c != "knee" and v != k}
    if alone:
        groups: dict[int, list[str]] = {}
        for c, v in alone.items():
            groups.setdefault(v, []).append(_LABELS[c])
        said = "; ".join(f"{', '.join(cs)} alone would pick k={v}" for v, cs in groups.items())
        expl = ""
        if 2 in groups and 2 in t.index:
            expl = (f" (k=2 is the single largest split: it explains "
                    f"{t.loc[2, 'explained']:.0%} of the variance against "
                    f"{t.loc[k, 'explained']:.0%} at k={k})")
        lines.append(f"Single criteria disagree: {said}{expl}.")
    lines.append(
        f"At k={k}: silhouette {_fmt(t.loc[k, 'silhouette'])}, stability "
        f"{_fmt(t.loc[k, 'stability'])}, smallest segment {t.loc[k, 'min_share']:.1%}, "
        f"{t.loc[k, 'explained']:.0%} of the variance explained."
    )
    return "\n".join(lines)


def _fmt(v: float) -> str:
    if v is None or not np.isfinite(v):
        return "n/a"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3f}"


def compare_models(
    X: Any,
    models: Iterable[str] = DEFAULT_MODELS,
    *,
    n_clusters: int = 4,
    segmenter: Segmenter | None = None,
    n_resamples: int = 3,
    resample_size: int = 20_000,
    silhouette_samples: int = 5_000,
    random_state: int | None = 0,
    n_jobs: int | None = 1,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Fit several algorithms at the same k and score them side by side.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric per-customer features.
    models : iterable of str, default=DEFAULT_MODELS
        Algorithm names (see :data:`segwise.segment.ALGORITHMS`).
    n_clusters : int, default=4
        Number of segments for the algorithms that take one.
    segmenter : Segmenter, optional
        Preprocessing and algorithm settings shared by every model.
    n_resamples : int, default=3
        Refits on random halves for the stability column (0 to skip).
    resample_size : int, default=20000
        Largest subsample a stability refit sees.
    silhouette_samples : int, default=5000
        Sample size for silhouette, the same sample for every model.
    random_state : int or None, default=0
        Seed.
    n_jobs : int or None, default=1
        Processes running the fits and refits (``-1``: one per core). Every fit is
        seeded, so the table does not depend on it (but for ``fit_seconds``).
    progress : callable, optional
        Called with ``"<model> (<i> of <n>)"`` as each model's fit is waited for, and with
        ``"<model> (<i> of <n>), stability"`` as its refits are.

    Returns
    -------
    pandas.DataFrame
        One row per model: ``model``, ``k`` (segments found, noise not counted),
        ``sizes`` (largest first), ``noise_share``, ``min_share``, ``silhouette``,
        ``calinski_harabasz``, ``davies_bouldin`` (noise excluded), ``stability``
        (mean adjusted Rand index over resamples, noise as its own group) and
        ``fit_seconds`` (preprocessing and clustering).
    """
    base = clone(segmenter) if segmenter is not None else Segmenter(random_state=random_state)
    say = progress or _quiet
    n_rows = len(X)
    algorithms = []
    for name in models:
        algorithm = _algorithm(name)
        if algorithm == "kmeans" and n_rows > LARGE_N:
            algorithm = "minibatch_kmeans"  # as the final fit does at this size
        algorithms.append(algorithm)
    if not algorithms:
        return pd.DataFrame()
    ests = [clone(base).set_params(algorithm=algorithm, n_clusters=n_clusters,
                                   random_state=random_state) for algorithm in algorithms]
    # The same model space for every model: the preprocessing ignores the algorithm.
    Z = clone(ests[0]).fit_model_space(X)
    rng = np.random.default_rng(random_state)
    sil_idx = _sample(n_rows, silhouette_samples, rng)
    eval_idx = _sample(n_rows, 20_000, rng)
    refits = _resamples(n_rows, n_resamples, resample_size, int(rng.integers(2**31 - 1)))
    # Each model's fit, then its refits: every one independent of the others.
    calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
    for algorithm, est in zip(algorithms, ests, strict=True):
        calls.append((_timed_fit, (est, X)))
        calls.extend((_quiet_refit, (Z, idx, seed, eval_idx, algorithm, n_clusters,
                                     _fit_kwargs(est))) for idx, seed in refits)
    done = run_calls(calls, n_jobs)
    rows, labelings = [], []
    for i, algorithm in enumerate(algorithms, 1):
        say(f"{algorithm} ({i} of {len(algorithms)})")
        labels, found, seconds = next(done)
        if refits:
            say(f"{algorithm} ({i} of {len(algorithms)}), stability")
        stability = _mean_ari(labels[eval_idx], [next(done) for _ in refits])
        labelings.append(labels[sil_idx])
        sizes = np.bincount(labels[labels >= 0], minlength=found)
        with warnings.catch_warnings(), limit_threads(n_rows):
            warnings.simplefilter("ignore", UserWarning)
            scores = _scores(Z, labels)
        rows.append({
            "model": algorithm,
            "k": found,
            "sizes": sorted(sizes.tolist(), reverse=True),
            "noise_share": float((labels < 0).mean()),
            "min_share": float(sizes.min() / n_rows) if len(sizes) else 0.0,
            **scores,
            "stability": stability,
            "fit_seconds": seconds,
        })
    table = pd.DataFrame(rows)
    with limit_threads(n_rows):
        silhouettes = _silhouettes(Z[sil_idx], labelings)
    table.insert(table.columns.get_loc("calinski_harabasz"), "silhouette", silhouettes)
    return table


def _timed_fit(est: Segmenter, X: Any) -> tuple[np.ndarray, int, float]:
    """Fit ``est`` on ``X``: its labels, its number of segments and the seconds it took."""
    start = time.perf_counter()
    est.fit(X)
    return est.labels_, int(est.n_clusters_), time.perf_counter() - start


def _quiet_refit(Z: np.ndarray, idx: np.ndarray, seed: int, eval_idx: np.ndarray,
                 algorithm: str, k: int, fit_kwargs: dict[str, Any]) -> np.ndarray:
    """:func:`_refit_labels`, its UserWarnings (a refit of few points) not said."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return _refit_labels(Z, idx, seed, eval_idx, algorithm, k, fit_kwargs)


@dataclass
class Segmentation:
    """Everything :func:`segment_customers` produced.

    Attributes
    ----------
    assignments : pandas.DataFrame
        One row per customer: the id, ``segment`` (int, ``-1`` noise), ``segment_name``,
        ``rfm_segment`` when the input had rule-based segments, and embedding coordinates
        (``umap_x``, ``umap_y``, ``tsne_x``, ``tsne_y``, ``embedded``) when computed.
    profiles : pandas.DataFrame
        One row per segment: size, shares, mean/median/z/lift per feature, the features that
        set it apart, name and action (see :func:`segwise.profile.profile_segments`).
    segmenter : Segmenter
        The fitted estimator, to assign new customers.
    sweep : KSweep or None
        The k sweep, when k was chosen automatically.
    comparison : pandas.DataFrame or None
        The model comparison, when asked for.
    crosstab : pandas.DataFrame or None
        Learned segments against rule-based RFM segments, when the input had them.
    features : list of str
        Features clustered.
    left_out : pandas.DataFrame
        Rows left out for a missing or infinite feature (``missing="drop"``): the id,
        ``reason`` (``"Income: missing"``) and the features' values; empty when none.
        The assignments and these rows are every row of the input.
    imputed : dict of str to int
        Missing values filled with the median (``missing="median"``), by feature; only
        features with some.
    outcomes : list of str
        True/false columns of the input that were not clustered on (Online Shoppers'
        ``Revenue``): each segment's share of true is the profiles' ``<column>_rate``,
        of the rows with a value, to compare segments by an outcome.
    categories : list of str
        Text columns of categories of the input, not clustered on (Online Shoppers'
        ``VisitorType``, ``Month``): each segment's most common value and its share of
        the rows with a value are the profiles' ``<column>_top`` and
        ``<column>_top_share``, and for a column of at most five values each value's
        share is ``<column>=<value>``, to compare segments by them.
    """

    assignments: pd.DataFrame
    profiles: pd.DataFrame
    segmenter: Segmenter
    sweep: KSweep | None
    comparison: pd.DataFrame | None
    crosstab: pd.DataFrame | None
    features: list[str]
    left_out: pd.DataFrame = field(default_factory=pd.DataFrame)
    imputed: dict[str, int] = field(default_factory=dict)
    outcomes: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        # The dataclass repr printed four tables; a notebook wants the sizes and the names.
        sizes = self.assignments["segment_name"].value_counts(sort=False)
        named = ", ".join(f"{name!r}: {n:,}" for name, n in sizes.items())
        return (f"Segmentation(k={self.segmenter.n_clusters_}, {len(self.assignments):,} rows "
                f"segmented, {len(self.left_out):,} left out, features={self.features}, "
                f"segments={{{named}}})")

    @staticmethod
    def output_paths(out: str | Path) -> list[Path]:
        """Every file :meth:`write` may write for ``out``, the assignments first."""
        from segwise.store import beside

        return [Path(out), *(beside(out, suffix) for suffix in _SIDE_FILES)]

    def write(self, out: str | Path, *, keep_formulas: bool = False) -> list[Path]:
        """Write the assignments, and the profiles and diagnostics next to them.

        Every file is written to a temporary name and renamed into place when all are
        written (see :func:`segwise.store.write_tables`).

        Parameters
        ----------
        out : str or Path
            ``.parquet`` or ``.csv`` for the assignments; ``<stem>.profiles.csv``,
            ``<stem>.sweep.csv``, ``<stem>.models.csv``, ``<stem>.crosstab.csv`` and
            ``<stem>.left_out.csv`` (:attr:`left_out`) go beside it when there is
            something to write; an earlier run's that this one has nothing for are
            removed.
        keep_formulas : bool, default=False
            Write CSV text as it is; by default text a spreadsheet would run as a formula
            is neutralised (:func:`segwise.store.neutralise_formulas`).

        Returns
        -------
        list of Path
            The files written.
        """
        from segwise.store import write_tables

        main, profiles, sweep, models, crosstab, left_out = self.output_paths(out)
        files: dict[Path, pd.DataFrame] = {main: self.assignments, profiles: self.profiles}
        if self.sweep is not None:
            files[sweep] = self.sweep.table
        if self.comparison is not None:
            files[models] = self.comparison
        if self.crosstab is not None:
            files[crosstab] = self.crosstab.reset_index()
        if len(self.left_out):
            files[left_out] = self.left_out
        written = write_tables(files, keep_formulas=keep_formulas)
        for stale in set(self.output_paths(out)) - set(written):
            stale.unlink(missing_ok=True)  # an earlier run's, read as this one's otherwise
        return written


#: Side files of :meth:`Segmentation.write`, in the order of :meth:`Segmentation.output_paths`.
_SIDE_FILES = (".profiles.csv", ".sweep.csv", ".models.csv", ".crosstab.csv",
               ".left_out.csv")


def _numeric_features(customers: pd.DataFrame, features: list[str], id_col: str,
                      where: str) -> pd.DataFrame:
    """Return the feature columns as float64, refusing one that holds text or dates."""
    columns = {}
    for f in features:
        column = customers[f]
        if pd.api.types.is_datetime64_any_dtype(column) or not (
                pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            # Dates are numbers to pandas (nanoseconds), not features: refused like text.
            numbers = (column.where(column.isna()) if pd.api.types.is_datetime64_any_dtype(column)
                       else pd.to_numeric(column, errors="coerce"))
            text = (column.notna() & numbers.isna()).to_numpy()
            if text.any():
                at = int(np.flatnonzero(text)[0])
                who = (f"{id_col} {customers[id_col].iloc[at]}" if id_col in customers.columns
                       else f"row {at + 1}")
                raise InputError(
                    f"{where}feature column {f!r} is not a number column ({who} has "
                    f"{str(column.iloc[at])!r}). Fix: leave it out of the features, or "
                    "encode it as numbers first")
            column = numbers
        columns[f] = column.astype("float64")
    return pd.DataFrame(columns, index=customers.index)


def _missing_rows(X: pd.DataFrame, customers: pd.DataFrame, id_col: str, where: str,
                  missing: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Apply ``missing`` to the rows with a missing or infinite feature.

    Returns the features and the customers kept, and the rows left out: the id,
    ``reason`` and the features' values (``missing="drop"``; empty otherwise).
    """
    values = X.to_numpy()
    empty = [f for f, n in X.notna().sum().items() if n == 0]
    if empty and len(X):
        raise InputError(f"{where}feature column(s) {', '.join(empty)} are missing in every "
                         "row: there is nothing to cluster on. Fix: leave them out of the "
                         "features")
    blank, infinite = np.isnan(values), np.isinf(values)
    bad = (infinite if missing == "median" else blank | infinite).any(axis=1)
    if not bad.any():
        return X, customers, pd.DataFrame()
    ids = (customers[id_col].astype(str) if id_col in customers.columns
           else pd.Series(np.arange(1, len(X) + 1), index=X.index).astype(str))
    if missing != "drop":
        columns = [f for f, b in zip(X.columns, (blank | infinite)[bad].any(axis=0),
                                     strict=True) if b]
        shown = ", ".join(ids[bad].head(3)) + (", ..." if bad.sum() > 3 else "")
        what = "infinite" if missing == "median" else "missing or infinite"
        raise InputError(f"{where}{int(bad.sum())} row(s) have {what} values in "
                         f"{', '.join(columns)} ({id_col} {shown}). Fix: leave those rows out "
                         "(--missing drop), fill or drop them first, or leave those columns "
                         "out of the features")
    reasons = [
        "; ".join(f"{f}: {'infinite' if inf else 'missing'}"
                  for f, na, inf in zip(X.columns, na_row, inf_row, strict=True) if na or inf)
        for na_row, inf_row in zip(blank[bad], infinite[bad], strict=True)]
    left_out = pd.DataFrame({id_col: ids[bad].to_numpy(), "reason": reasons})
    left_out = pd.concat([left_out, customers.loc[bad, list(X.columns)].reset_index(drop=True)],
                         axis=1)
    return X[~bad], customers[~bad], left_out


#: Words of a column's name that say its numbers name categories (Online Shoppers'
#: ``Browser``, ``OperatingSystems``, ``TrafficType``, ``Region``).
_CODE_WORDS = frozenset({
    "browser", "category", "channel", "class", "code", "country", "device", "group", "kind",
    "os", "platform", "region", "segment", "source", "state", "status", "system", "systems",
    "type", "zone",
})
#: Words of a column's name, plural or not, that say its numbers are an amount, a count
#: or a rating (``group_size``, ``rating``, ``NumWebVisitsMonth``, ``age_group``): no
#: code, whatever else the name says.
_AMOUNT_WORDS = frozenset({
    "age", "amount", "average", "avg", "balance", "children", "cnt", "count", "day",
    "duration", "frequency", "grade", "hour", "income", "length", "level", "mean", "minute",
    "month", "nb", "nps", "num", "number", "people", "point", "price", "qty", "quantity",
    "rank", "rate", "rating", "revenue", "satisfaction", "score", "size", "spend", "star",
    "sum", "tenure", "tier", "total", "value", "week", "weight", "year",
})
#: Most distinct values of a column read as codes because of its name.
_MOST_CODES = 50
#: Most values of a column read as codes by its values alone (Wholesale's Region 1-3);
#: four or five are as often a rating or a band (1-5 stars, household size 1-5).
_MOST_UNNAMED_CODES = 3


def _code_like(X: pd.DataFrame) -> list[str]:
    """Columns that look like category codes: whole numbers from 1 naming categories.

    Whole numbers from 1, at most :data:`_MOST_CODES` of them, in a column whose name
    says it holds categories (:data:`_CODE_WORDS`: Online Shoppers' Browser 1-13,
    TrafficType 1-20, Wholesale's Channel 1-2: clustered as amounts, "high browser"); or
    two or three consecutive whole numbers from 1 in a column whose name says nothing.
    A name that says amount, count or rating (:data:`_AMOUNT_WORDS`: ``group_size`` 1-50,
    ``rating`` 1-5, ``age_group``) or ends in a plural noun (``bedrooms``, ``visits``) is
    no code, nor are four or more values a name says nothing of (1-5 stars, CoIL's
    household size 1-5). Counts start at 0 (children at home: 0, 1, 2) and flags are 0/1:
    they are amounts.
    """
    out = []
    for f in X.columns:
        values = X[f].dropna().unique()
        if (not 2 <= len(values) <= _MOST_CODES or values.min() != 1
                or not np.all(values == np.round(values))):
            continue
        words = _name_words(str(f))
        plural = bool(words) and _singular(words[-1]) != words[-1]
        if ({_singular(w) for w in words} & _AMOUNT_WORDS
                or (plural and words[-1] not in _CODE_WORDS)):
            continue  # an amount, a count or a rating by its name
        if (set(words) & _CODE_WORDS
                or (len(values) <= _MOST_UNNAMED_CODES and values.max() == len(values))):
            out.append(str(f))
    return out


def _features_key() -> str:
    """Name the features option as the caller gives it: ``--features`` or ``features=``."""
    return option_key("--features", None, "features")


def _name_words(name: str) -> list[str]:
    """Split a column's name into lower-case words: ``NumWebVisitsMonth``, ``group_size``."""
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", name)]


def _singular(word: str) -> str:
    """Return a plural noun's singular (``visits``, ``categories``); other words as given.

    ``status``, ``class``, ``gas`` and ``os`` are no plurals.
    """
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "as")):
        return word[:-1]
    return word


#: Most distinct values of a text column that segments are compared by (more are names,
#: addresses, free text).
_MOST_CATEGORIES = 50
#: Most values of a text column whose every value gets its share in the profiles.
_FEW_CATEGORIES = 5


def _category_columns(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    """Return the text columns that hold categories: 2 to 50 values, each on 2 rows or more.

    Each value is on two rows on average at least: a column of names or e-mail
    addresses (every value its own) compares nothing.
    """
    out = []
    for c in columns:
        column = frame[c]
        if pd.api.types.infer_dtype(column, skipna=True) != "string":
            continue
        n = column.nunique(dropna=True)
        if 2 <= n <= _MOST_CATEGORIES and 2 * n <= column.notna().sum():
            out.append(c)
    return out


def _category_shares(column: pd.Series, labels: np.ndarray,
                     segments: pd.Series) -> pd.DataFrame:
    """Compare the segments by a text column of categories, one row per segment.

    ``<column>_top`` is the segment's most common value (ties: the value more common
    overall) and ``<column>_top_share`` its share of the segment's rows with a value;
    a column of at most :data:`_FEW_CATEGORIES` values also gets each value's share,
    ``<column>=<value>``, the most common overall first.
    """
    present = column.notna().to_numpy()
    counts = pd.crosstab(labels[present], column.to_numpy()[present])
    overall = counts.sum().sort_values(ascending=False, kind="stable")
    counts = counts[overall.index].reindex(segments.to_numpy(), fill_value=0)
    shares = counts.div(counts.sum(axis=1), axis=0)
    name = str(column.name)
    out = pd.DataFrame({f"{name}_top": counts.idxmax(axis=1).where(counts.sum(axis=1) > 0),
                        f"{name}_top_share": shares.max(axis=1)})
    if len(overall) <= _FEW_CATEGORIES:
        out = out.join(shares.rename(columns=lambda v: f"{name}={v}"))
    return out.reset_index(drop=True)


def _not_numbers(table: EntityTable, columns: list[str], categories: list[str]) -> str:
    """Name the columns, grouped by what they hold: ``a, b (text), c (dates)``.

    A column of flags or one left empty is no column of text: the user fixes each
    differently (name the flags with --features; fill the empty one or drop it).
    Text columns of ``categories`` are said to be compared in the profiles.
    """
    import pyarrow as pa

    def holds(column: str) -> str:
        values = table.table.column(column)
        if values.null_count == len(values):
            return "empty"
        kind = values.type
        return ("true/false: often an outcome, such as a purchase, to compare segments "
                "by (each segment's share of true is in the profiles) rather than to "
                "cluster on; clustered as 0/1 when named"
                if pa.types.is_boolean(kind)
                else "dates" if pa.types.is_timestamp(kind) or pa.types.is_date(kind)
                else "categories: each segment's most common value and its share are in "
                     "the profiles" if column in categories
                else "text")

    groups: dict[str, list[str]] = {}
    for column in columns:
        groups.setdefault(holds(column), []).append(column)
    return ", ".join(f"{', '.join(names)} ({what})" for what, names in groups.items())


def _values_shown(column: pd.Series) -> str:
    """Show a code column's values: ``1, 2, 3``, or ``1 to 13`` for more than five."""
    values = sorted(column.dropna().unique())
    if len(values) > 5:
        return f"{values[0]:g} to {values[-1]:g}"
    return ", ".join(f"{v:g}" for v in values)


#: Most columns a message lists (a table of 120 features filled the screen).
_SHOWN_COLUMNS = 20


def _no_such_features(where: str, absent: list[str], columns: list[str]) -> str:
    """Return the message of features the table lacks: the likely names, then its columns.

    A name written in another case or with a slip (``income``, ``Detergent_Paper``) gets
    the column meant; a wide table's columns are cut to :data:`_SHOWN_COLUMNS`.
    """
    import difflib

    lower = {c.lower(): c for c in columns}
    meant = {}
    for f in absent:
        close = difflib.get_close_matches(f.lower(), list(lower), n=1, cutoff=0.8)
        if close:
            meant[f] = lower[close[0]]
    shown = ", ".join(columns[:_SHOWN_COLUMNS]) + (
        f", ... ({len(columns):,} in all)" if len(columns) > _SHOWN_COLUMNS else "")
    guess = "; ".join(f"{f!r}: did you mean {c!r}?" for f, c in meant.items())
    return (f"{where}no feature column {', '.join(map(repr, absent))} in the table"
            + (f" ({guess})" if guess else "") + f"; its columns: {shown}. Fix: name "
            f"columns of the table with {_features_key()}, as the header writes them")


#: Fewest rows a column must have for a run of distinct whole numbers to read as an id.
_RUNNING_MIN = 10


def _running_numbers(X: pd.DataFrame) -> list[str]:
    """Columns that count the rows: distinct whole numbers, each from the least to the most.

    A customer number (1000, 1001, ... one per row) after the first column is read as a
    number column, so it was clustered as an amount; no spend, count or rate runs so.
    """
    out = []
    for f in X.columns:
        values = X[f].to_numpy()
        if (len(values) >= _RUNNING_MIN and np.all(values == np.round(values))
                and values.max() - values.min() + 1 == len(values)
                and len(np.unique(values)) == len(values)):
            out.append(str(f))
    return out


def segment_customers(
    customers: EntityTable | DataSource,
    *,
    features: Sequence[str] | None = None,
    id_col: str | None = None,
    n_clusters: int | None = None,
    k_values: Iterable[int] = range(2, 11),
    algorithm: str = "kmeans",
    compare: Iterable[str] | None = DEFAULT_MODELS,
    embed: Iterable[str] = ("umap", "tsne"),
    embed_max_samples: int = MAX_EMBED_SAMPLES,
    rule_segment_col: str | _Default | None = _DEFAULT,
    value_col: str | _Default | None = _DEFAULT,
    min_share: float = 0.02,
    min_stability: float = 0.75,
    random_state: int | None = 0,
    segmenter: Segmenter | None = None,
    missing: str = "drop",
    read: ReadOptions | None = None,
    n_jobs: int | None = 1,
    progress: Callable[[str], None] | None = None,
) -> Segmentation:
    """Segment customers in one call: sweep k, compare models, fit, profile, name, embed.

    Parameters
    ----------
    customers : EntityTable, table in memory, str or Path
        One row per entity, of any source kind: a job's ``result.entities``, or a table
        (one a job wrote is recognised by its columns and takes their declaration): a
        pandas or polars DataFrame, an Arrow or Ibis table, or a Parquet or CSV file.
        A table in memory is read as the file of its rows is
        (:meth:`EntityTable.read <segwise.features.EntityTable.read>`): the same id
        column, features and notes; what reading changed, its notes and the rows it could
        not parse, is said in SegwiseWarnings.
    features : sequence of str, optional
        Numeric columns to cluster; the table's clustered features by default (for a
        table no feature set declares, every number column but the id).
    id_col : str, optional
        Id column; the declared one, else one named like an id (``customer_id``, ...),
        else the first column when its values are distinct text or whole numbers, else
        the row number (``row``). A pandas index is a column when it has a name
        (``df.rename_axis("customer_id")``); an unnamed one is not read.
    n_clusters : int, optional
        Number of segments; chosen by :func:`sweep_k` when omitted. A density model
        (``hdbscan``, ``dbscan``) finds its own: with nothing to ``compare``, no k is
        swept or used.
    k_values : iterable of int, default=range(2, 11)
        k values to sweep.
    algorithm : str, default="kmeans"
        Algorithm of the final model (and of the sweep, unless it is a density method,
        in which case KMeans runs the sweep).
    compare : iterable of str or None, default=DEFAULT_MODELS
        Models to compare at the chosen k (the final algorithm is always included).
    embed : iterable of {"umap", "tsne"}, default=("umap", "tsne")
        2-D embeddings to store with the assignments; empty to skip.
    embed_max_samples : int, default=MAX_EMBED_SAMPLES
        Embeddings are fitted on at most this many customers (2,000); the rest are placed
        by their nearest embedded neighbours.
    rule_segment_col : str or None, optional
        Column with rule-based named segments, cross-tabulated against the learned ones;
        the declared one by default (``"segment"`` for an undeclared table); None for none.
    value_col : str or None, optional
        Revenue column for revenue shares and the canonical label order (labels follow the
        first principal component instead when it is not among ``features``); the
        declared one by default (``"monetary"`` for an undeclared table).
    min_share, min_stability : float
        Screens of the k recommendation (see :func:`sweep_k`).
    random_state : int or None, default=0
        Seed: a fixed seed gives identical labels.
    segmenter : Segmenter, optional
        Preprocessing and algorithm settings; defaults otherwise.
    missing : {"drop", "median", "refuse"}, default="drop"
        What to do with a row whose feature is missing (NaN, blank) or infinite.
        ``"drop"`` leaves it out of the segments and lists it with the reason in
        :attr:`Segmentation.left_out` (written beside the assignments), so that the
        rows segmented and the rows left out are every row given. ``"median"`` fills a
        missing value with its feature's median inside the fitted model (the
        Segmenter's ``impute="median"``: new customers assigned later get the same
        medians; the profiles describe the filled values); an infinite value is still
        refused. ``"refuse"`` stops at the first such row. The default is ``"drop"``:
        an imputed value is a guess the segment then rests on, and a refusal makes a
        real export with a few blanks (Customer Personality's 24 blank incomes out of
        2,240) unusable without editing the file; leaving a few rows out, counted and
        listed, changes no other row's segment and hides nothing. A feature missing in
        every row is refused whatever the choice.
    read : ReadOptions, optional
        How a file or a table in memory writes its numbers (a config's ``[read]``):
        ``decimal=","`` and ``thousands="."`` read ``12.669,5`` as a number; the error
        of a column of such numbers names them.
    progress : callable, optional
        Called with the name of each step as it starts ("sweep", "fit", "compare",
        "profile", "embed"), and with ``"<step>: <part>"`` as each part of the sweep (a
        k), of the comparison (a model, its refits) and of the embeddings (a method)
        starts.

    Returns
    -------
    Segmentation
        Assignments, profiles, the fitted segmenter and the diagnostics.
    """
    from segwise.profile import crosstab_segments, name_segments, profile_segments
    from segwise.segment._embed import embed_customers

    check_jobs(n_jobs)
    if not isinstance(customers, EntityTable):
        # A table in memory is read as the file of its rows would be: the same id, the
        # same features, the same notes. Its column names are text, as a file's are.
        customers = EntityTable.read(customers if is_table(customers) else Path(customers),
                                     read=read, id_col=None if id_col is None else str(id_col))
        # What reading changed, said as the CLI says it: nothing left out in silence.
        quarantined = customers.quarantine_note()
        said = [*([quarantined] if quarantined else []), *customers.notes]
        for note in said:
            warnings.warn(f"{customers.source}: {note}", SegwiseNote, stacklevel=2)
    table = customers
    schema = customers.schema
    where = f"{customers.source}: " if customers.source else ""
    customers = customers.frame
    features = None if features is None else [str(f) for f in features]
    given = bool(features)  # else the feature set's own, which a job's user cannot change
    inferred = not features and schema.name == "table"  # every number column of a table
    features = list(features or schema.cluster_features)
    id_col = schema.id_col if id_col is None else str(id_col)
    value_col = schema.value_col if isinstance(value_col, _Default) else value_col
    rule_segment_col = (schema.segment_col if isinstance(rule_segment_col, _Default)
                        else rule_segment_col)
    described_extra = list(schema.profile)
    numeric = [f.name for f in schema.features if f.type in ("number", "integer")]
    if not features and not inferred and numeric:
        # A job's feature set that clusters on none of its features (the people job keeps
        # attributes in their own units and codes): "no numeric column" listed numbers.
        named = f"name the features to cluster on with {_features_key()}"
        raise InputError(
            f"{where}the {schema.name} features are not clustered as they are (none is "
            f"declared to cluster on; its numbers: {', '.join(numeric)}). Fix: "
            + (f"segment a table of one row per {schema.entity} with segwise segment "
               f"--customers, {named.replace('name', 'naming', 1)}"
               if _features_key().startswith("--") else named))
    if not features:
        flags = [str(c) for c in customers.columns if c != id_col
                 and pd.api.types.is_bool_dtype(customers[c])]
        fix = (f"Fix: name them with {option_value('--features', 'features', flags)}: "
               "true/false columns are clustered as 0/1 when named" if flags else
               "Fix: give a table of one row per entity with numeric features, or name "
               f"them with {_features_key()}")
        raise InputError(
            f"{where}no numeric column to segment on (columns: "
            f"{', '.join(map(str, customers.columns))}). {fix}")
    features = list(dict.fromkeys(features))  # a column named twice is one feature
    absent = [f for f in features if f not in customers.columns]
    if absent:
        raise ConfigError(_no_such_features(where, absent, list(map(str, customers.columns))))
    if id_col in features:
        raise ConfigError(
            f"{where}feature column {id_col!r} is the id column: an id names a customer, "
            "it does not describe one. Fix: leave it out of the features")
    if missing not in MISSING_POLICIES:
        raise ConfigError(f"missing must be one of {', '.join(MISSING_POLICIES)}, got "
                          f"{missing!r}")
    X = _numeric_features(customers, features, id_col, where)
    left = [c for c in table.table.column_names
            if c not in (id_col, schema.id_col) and c not in features]
    # Text columns of categories (Online Shoppers' VisitorType, Month) are not clustered
    # on; the segments are compared by them, as by outcomes.
    categories = _category_columns(customers, [c for c in left if c != rule_segment_col])
    if inferred and left:
        # The number columns are clustered: say which are not, so that a column of text
        # ('12669 EUR') does not drop out in silence. Codes get their own warning below.
        shown = _not_numbers(table, left, categories)
        warnings.warn(f"{where}not clustered (not number columns): {shown}. Fix: name the "
                      f"columns to cluster with {_features_key()}",
                      SegwiseNote, stacklevel=2)
    codes = _code_like(X) if inferred else []
    if codes:
        # Codes have no amount to cluster on: left out of the features segwise chose,
        # unless nothing else is left.
        shown = ", ".join(f"{f} ({_values_shown(X[f])})" for f in codes)
        alone = len(codes) == len(features)
        warnings.warn(f"{where}{shown}: whole numbers from 1 that name categories (a browser, "
                      "a region), not amounts, so "
                      + ("they are clustered as amounts only because the table has no other "
                         "number column ('high region')" if alone else
                         "they are not clustered (clustered, they named segments 'high "
                         "region'). Fix: to cluster on them as numbers, name them with "
                         + _features_key()), SegwiseWarning, stacklevel=2)
        if not alone:
            features = [f for f in features if f not in codes]
            X = X[features]
    X, customers, left_out = _missing_rows(X, customers, id_col, where, missing)
    imputed = {f: int(n) for f, n in X.isna().sum().items() if n}
    # What the model sees, for the checks below and the profiles: the medians filled in.
    filled = X.fillna(X.median()) if imputed else X
    if n_clusters is not None and n_clusters < 2:
        raise ConfigError(f"the number of segments must be at least 2, got {n_clusters}")
    # A job's own noun (users, people); a plain table's rows are customers.
    one, many = ((schema.entity, schema.entities) if schema and schema.entity != "entity"
                 else ("customer", "customers"))
    if len(X) < 3:  # two segments of one customer each compare nothing
        raise InputError(f"{where}only {len(X)} {one}(s): too few to segment (two "
                         f"segments need 3). Fix: give more {many}")
    if n_clusters is not None and n_clusters >= len(X):
        raise InputError(f"{where}only {len(X):,} {many}: too few for {n_clusters} "
                         "segments. Fix: ask for fewer segments")
    distinct = distinct_points(filled.to_numpy(), max(2, n_clusters or 2))
    if distinct < 2:
        same = ", ".join(f"{f} = {v:g}" for f, v in zip(features, filled.iloc[0],
                                                          strict=True))
        raise InputError(f"{where}all {len(X):,} {many} have the same features ({same}): "
                         "there is nothing to segment. Fix: cluster on features that vary "
                         "between them")
    constant = [f for f, n in filled.nunique().items() if n == 1]
    if constant:
        # Scaled to zero, they weigh nothing: a segment cannot be told by them.
        shown = ", ".join(f"{f} = {filled[f].iloc[0]:g}" for f in constant)
        them = "them" if len(constant) > 1 else "it"
        fix = (f"Fix: leave {them} out of the features" if given or inferred else
               f"{'They weigh' if len(constant) > 1 else 'It weighs'} nothing in the segments. "
               f"Fix: to cluster on other features, write the {many} table (-o) and run "
               "segwise segment --features on it")
        warnings.warn(f"{where}{shown}: the same for all {len(X):,} {many}, so no segment "
                      f"differs by {them}. {fix}", SegwiseWarning, stacklevel=2)
    running = _running_numbers(filled) if inferred else []
    if running:
        shown = ", ".join(f"{f} ({filled[f].min():g} to {filled[f].max():g})" for f in running)
        warnings.warn(f"{where}{shown}: one whole number per {one}, counting up as a "
                      "customer number does, not an amount; clustered, it splits "
                      f"{many} by when they were numbered. Fix: take it as the id column "
                      f"({option_value('--id', 'id_col', running[0])}), or name the "
                      f"features to cluster with {_features_key()}", SegwiseWarning, stacklevel=2)
    if n_clusters is not None and n_clusters > distinct:
        raise InputError(f"{where}only {distinct:,} distinct customers (rows of "
                         f"{', '.join(features)}): too few for {n_clusters} segments. Fix: ask "
                         f"for {distinct} or fewer")
    if not 0 <= min_share < 1:
        raise ConfigError(f"min_share must be at least 0 and below 1, got {min_share}")
    step = progress or _quiet

    def part(name: str) -> Callable[[str], None]:
        return lambda what: step(f"{name}: {what}")

    base = clone(segmenter) if segmenter is not None else Segmenter()
    base.set_params(random_state=random_state, order_by=value_col,
                    impute="median" if imputed else None)
    algorithm = _algorithm(algorithm)
    if len(X) < PROCESSES_FROM:
        n_jobs = 1
    sweep = None
    if algorithm in DENSITY_ALGORITHMS and not compare:
        # A density model finds its own number of segments and nothing is compared at a
        # k: a sweep would choose a k nobody uses.
        n_clusters = n_clusters or base.n_clusters
    elif n_clusters is None:
        step("sweep")
        sweep_algo = "kmeans" if algorithm in DENSITY_ALGORITHMS else algorithm
        sweep = sweep_k(X, k_values, algorithm=sweep_algo, segmenter=base, min_share=min_share,
                        min_stability=min_stability, random_state=random_state,
                        n_jobs=n_jobs, progress=part("sweep"))
        n_clusters = sweep.recommended_k
    step("fit")
    final = clone(base).set_params(algorithm=algorithm, n_clusters=n_clusters)
    if algorithm == "kmeans" and len(X) > LARGE_N:
        final.set_params(algorithm="minibatch_kmeans")
    final.fit(X)
    found = len(set(final.labels_.tolist()) - {-1})
    if found < 2:  # only a density model can find fewer segments than asked
        noise = int((final.labels_ == -1).sum())
        raise InputError(
            f"{where}{algorithm} found {'no segment' if not found else 'one segment'} among "
            f"{len(X):,} customers ({noise:,} set aside as noise): there is nothing to "
            "compare. Fix: choose a model that takes k (kmeans, gmm, ward, som), or give "
            "more customers")
    comparison = None
    if compare:
        step("compare")
        models = list(dict.fromkeys([algorithm, *(_algorithm(m) for m in compare)]))
        comparison = compare_models(X, models, n_clusters=n_clusters, segmenter=base,
                                    random_state=random_state, n_jobs=n_jobs,
                                    progress=part("compare"))
    step("profile")
    labels = final.labels_
    ids = customers[id_col].to_numpy() if id_col in customers.columns else customers.index
    # Declared profile features describe segments (a "new customers" name needs tenure)
    # even when they were not clustered on.
    described = features + [c for c in described_extra
                            if c in customers.columns and c not in features]
    if imputed:
        customers = customers.copy()
        customers[list(imputed)] = filled[list(imputed)]
    profiles = profile_segments(customers, labels, features=described, value_col=value_col)
    names = name_segments(profiles)
    profiles = profiles.merge(names, on="segment", how="left")
    # True/false columns not clustered on are often outcomes (a purchase): each
    # segment's share of true compares the segments by them (a note promised it).
    outcomes = [str(c) for c in customers.columns if c != id_col and c not in features
                and pd.api.types.is_bool_dtype(customers[c])]
    for c in outcomes:
        rate = customers[c].astype("boolean").astype("Float64").groupby(labels).mean()
        profiles[f"{c}_rate"] = rate.reindex(profiles["segment"]).to_numpy(
            dtype=np.float64, na_value=np.nan)
    for c in categories:
        shares = _category_shares(customers[c], labels, profiles["segment"])
        profiles = pd.concat([profiles, shares.set_index(profiles.index)], axis=1)
    name_of = dict(zip(names["segment"], names["name"], strict=True))
    assignments = pd.DataFrame({id_col: ids, "segment": labels,
                                "segment_name": [name_of[s] for s in labels]})
    crosstab = None
    if rule_segment_col and rule_segment_col in customers.columns:
        assignments["rfm_segment"] = customers[rule_segment_col].to_numpy()
        crosstab = crosstab_segments(assignments["segment_name"], assignments["rfm_segment"])
    embed = list(embed)
    if embed:
        step("embed")
        coords = embed_customers(final.transform(X), methods=embed,
                                 max_samples=embed_max_samples, random_state=random_state,
                                 n_jobs=n_jobs, progress=part("embed"))
        assignments = pd.concat([assignments, coords.set_index(assignments.index)], axis=1)
    return Segmentation(assignments=assignments, profiles=profiles, segmenter=final,
                        sweep=sweep, comparison=comparison, crosstab=crosstab,
                        features=features, left_out=left_out, imputed=imputed,
                        outcomes=outcomes, categories=categories)

