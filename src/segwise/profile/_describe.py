"""Segment profiles: size, shares, per-feature statistics, what sets each segment apart.

``z`` is a standardised mean difference against all customers, computed after the signed
``log1p`` of skewed columns: on raw money one whale moves every mean, so raw z-scores say
little about the typical customer of a segment. ``lift`` is the plain ratio of raw means,
for features of amounts only (:data:`AMOUNT_NEGATIVE_SHARE`): the mean of z-scores or of
balances is near zero or of either sign, no base for a ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from segwise.exceptions import ConfigError

__all__ = ["crosstab_segments", "distinguishing_features", "profile_segments"]

#: A feature is an amount, with a ``lift``, when its values below zero sum to at most this
#: share of those above (net spend after a few returns); z-scores, balances and other
#: features centred near zero get none: their mean is no base for a ratio.
AMOUNT_NEGATIVE_SHARE = 0.05


def amount_lifts(means: np.ndarray, overall: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each segment's mean over the overall mean, for features that are amounts; else NaN.

    A feature is an amount when its overall mean is above 0 and its negative values add
    up to at most :data:`AMOUNT_NEGATIVE_SHARE` of its positive ones: a lift of a
    z-score or of a signed balance (a mean near 0) read 66,099 on the dashboard.

    Parameters
    ----------
    means : ndarray of shape (n_segments, n_features)
        Each segment's mean.
    overall : ndarray of shape (n_features,)
        The mean over all rows.
    values : ndarray of shape (n_rows, n_features)
        The rows, NaN where missing.

    Returns
    -------
    ndarray of shape (n_segments, n_features)
    """
    X = np.asarray(values, dtype=np.float64)
    below = -np.nansum(np.minimum(X, 0), axis=0)
    above = np.nansum(np.maximum(X, 0), axis=0)
    amount = (below <= AMOUNT_NEGATIVE_SHARE * above) & (np.asarray(overall) > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(means, dtype=np.float64) / np.where(amount, overall, np.nan)


def profile_segments(
    customers: pd.DataFrame,
    labels: Sequence[int] | np.ndarray | pd.Series,
    *,
    features: Sequence[str] | None = None,
    value_col: str | None = "monetary",
    skew_threshold: float = 1.0,
    top: int = 3,
) -> pd.DataFrame:
    """Describe each segment against all customers.

    Parameters
    ----------
    customers : pandas.DataFrame
        One row per customer.
    labels : array-like of shape (n_customers,)
        Segment of each customer (``-1`` is noise, profiled like any segment).
    features : sequence of str, optional
        Columns to describe; every numeric column when omitted.
    value_col : str or None, default="monetary"
        Revenue column for ``revenue`` and ``revenue_share`` (negative totals count as 0).
    skew_threshold : float, default=1.0
        Columns more skewed than this are log-transformed before computing ``z``.
    top : int, default=3
        Number of features listed in ``distinguishing``.

    Returns
    -------
    pandas.DataFrame
        One row per segment, sorted by label: ``segment``, ``customers``, ``share``,
        ``revenue``, ``revenue_share`` (when ``value_col`` exists), then per feature
        ``<f>_mean``, ``<f>_median``, ``<f>_z``, ``<f>_lift`` (NaN for a feature that is
        no amount: :data:`AMOUNT_NEGATIVE_SHARE`), and ``distinguishing`` (the ``top``
        features with the largest ``|z|``, for example ``"monetary +1.4 sd"``).
    """
    from segwise._skew import SkewedLog

    labels = np.asarray(labels)
    if len(labels) != len(customers):
        raise ConfigError(
            f"{len(labels)} labels for {len(customers)} customers: they must match one to one"
        )
    if features is None:
        features = [c for c in customers.select_dtypes("number").columns]
    features = list(features)
    missing = [f for f in features if f not in customers.columns]
    if missing:
        raise ConfigError(f"the customer table lacks column(s) {', '.join(missing)}")
    X = customers[features].to_numpy(dtype=np.float64)
    T = SkewedLog(skew_threshold).fit(X).transform(X)
    mu, sd = T.mean(axis=0), T.std(axis=0)
    sd[sd == 0] = 1.0
    raw_mean = X.mean(axis=0)
    frame = pd.DataFrame(X, columns=features)
    frame["_seg"] = labels
    tz = pd.DataFrame((T - mu) / sd, columns=features).assign(_seg=labels)
    g = frame.groupby("_seg", sort=True)
    out = pd.DataFrame({"customers": g.size()})
    out["share"] = out["customers"] / len(labels)
    if value_col and value_col in customers.columns:
        value = pd.Series(customers[value_col].to_numpy(dtype=np.float64), index=frame.index)
        revenue = value.groupby(labels).sum()
        out["revenue"] = revenue
        total = revenue.clip(lower=0).sum()
        out["revenue_share"] = revenue.clip(lower=0) / total if total > 0 else 0.0
    means, medians, zs = g[features].mean(), g[features].median(), tz.groupby("_seg").mean()
    lifts = pd.DataFrame(amount_lifts(means.to_numpy(dtype=np.float64), raw_mean, X),
                         index=means.index, columns=features)
    cols: dict[str, Any] = {}
    for f in features:
        cols[f"{f}_mean"] = means[f]
        cols[f"{f}_median"] = medians[f]
        cols[f"{f}_z"] = zs[f]
        cols[f"{f}_lift"] = lifts[f]
    out = pd.concat([out, pd.DataFrame(cols)], axis=1)
    out["distinguishing"] = [
        ", ".join(f"{f} {z:+.1f} sd" for f, z in feats)
        for feats in distinguishing_features(zs, top=top).values()
    ]
    return out.rename_axis("segment").reset_index()


def distinguishing_features(
    z: pd.DataFrame, *, top: int = 3, min_abs_z: float = 0.25
) -> dict[int, list[tuple[str, float]]]:
    """List the features that set each segment apart, by largest absolute z.

    Parameters
    ----------
    z : pandas.DataFrame
        Segments as rows, features as columns, standardised mean differences as values
        (the ``<f>_z`` columns of :func:`profile_segments` with the suffix removed work).
    top : int, default=3
        Most features listed per segment.
    min_abs_z : float, default=0.25
        Features closer to the average than this are not listed.

    Returns
    -------
    dict of int to list of (str, float)
        For each segment, ``(feature, z)`` pairs, largest ``|z|`` first.
    """
    out: dict[int, list[tuple[str, float]]] = {}
    for seg, row in z.iterrows():
        ranked = row.abs().sort_values(ascending=False, kind="stable")
        out[int(str(seg))] = [
            (str(f), float(row[f])) for f in ranked.index[:top] if abs(row[f]) >= min_abs_z
        ]
    return out


def crosstab_segments(
    learned: Sequence[Any] | pd.Series,
    rule_based: Sequence[Any] | pd.Series,
    *,
    normalize: bool | str = False,
) -> pd.DataFrame:
    """Cross-tabulate learned segments against rule-based RFM segments.

    Parameters
    ----------
    learned : array-like of shape (n_customers,)
        Learned segment of each customer (label or name).
    rule_based : array-like of shape (n_customers,)
        Rule-based segment of each customer (for example ``segment`` from ``run_rfm``).
    normalize : bool or {"index", "columns", "all"}, default=False
        Passed to :func:`pandas.crosstab`; ``"index"`` gives, per learned segment, the share
        of its customers in each rule-based segment.

    Returns
    -------
    pandas.DataFrame
        Learned segments as rows, rule-based segments as columns, with ``All`` margins
        when counts are shown.
    """
    learned_s = pd.Series(np.asarray(learned), name="learned_segment")
    rule_s = pd.Series(np.asarray(rule_based), name="rfm_segment")
    if len(learned_s) != len(rule_s):
        raise ConfigError("learned and rule-based segments must have one entry per customer")
    return pd.crosstab(learned_s, rule_s, normalize=normalize, margins=not normalize)
