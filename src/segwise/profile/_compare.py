"""Two tables in one segmentation: which segments are over- or under-represented.

A population and a customer base (or any two entity tables) projected by one fitted model
each fall into its segments. Per segment, :func:`compare_populations` gives both shares,
their ratio with a confidence interval and a verdict that respects it, and the number of
customers to expect if the whole segment were mailed; :func:`describe_segments` says in
words what sets each segment apart from the population. Nothing here knows where the
tables came from: segments are labels, features are names with descriptions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from segwise.exceptions import ConfigError
from segwise.profile._describe import distinguishing_features

__all__ = [
    "UNPLACED",
    "PopulationComparison",
    "compare_populations",
    "describe_segments",
    "segment_means",
]

#: Label of rows a model could not place (too sparse, noise).
UNPLACED = -1


@dataclass
class PopulationComparison:
    """Per segment: population and customer shares, their ratio, a verdict.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per segment (the rows not placed last, as their own line):
        ``segment`` (label), ``name``, ``population``, ``population_share``,
        ``customers``, ``customer_share``, ``ratio`` (customer share / population share),
        ``ratio_low``, ``ratio_high`` (the confidence interval; the ratio and its upper
        bound are missing (NaN) where nobody of the population is in the segment, as
        where nobody is too sparse to place: no share to divide by), ``verdict``
        (``over``, ``under`` or ``neither``), ``expected_customers``,
        ``expected_low``, ``expected_high`` (if the whole segment were mailed) and
        ``description`` (when descriptions were given). Shares are of all rows, placed or
        not, so each share column sums to 1.
    level : float
        Confidence level of the intervals.
    base_rate : float
        Share of a mailed population expected to become customers at ratio 1.
    """

    table: pd.DataFrame
    level: float
    base_rate: float

    @staticmethod
    def ratio_text(ratio: float, low: float | None = None, high: float | None = None) -> str:
        """Say a ratio of shares, and its interval when given: ``1.60x (1.46-1.76)``.

        A missing ratio (nobody of the population in the segment) is said as such, and
        a missing upper bound as an open interval (``4.08 or more``), never ``nan`` or
        ``inf``.

        Examples
        --------
        >>> PopulationComparison.ratio_text(1.6, 1.456, 1.76)
        '1.60x (1.46-1.76)'
        >>> PopulationComparison.ratio_text(float("nan"), 4.078, float("nan"))
        'no one of the population (4.08 or more)'
        """
        said = "no one of the population" if math.isnan(ratio) else f"{ratio:.2f}x"
        if low is None or high is None:
            return said
        return f"{said} ({PopulationComparison.interval_text(low, high)})"

    @staticmethod
    def interval_text(low: float, high: float) -> str:
        """Say an interval of ratios: ``1.46-1.76``, or ``4.08 or more`` with no upper bound."""
        return f"{low:.2f} or more" if math.isnan(high) else f"{low:.2f}-{high:.2f}"

    @property
    def over(self) -> pd.DataFrame:
        """Segments over-represented among customers (the interval above 1)."""
        return self.table[self.table["verdict"] == "over"]

    @property
    def under(self) -> pd.DataFrame:
        """Segments under-represented among customers (the interval below 1)."""
        return self.table[self.table["verdict"] == "under"]

    def summary(self) -> str:
        """Say in one or two sentences which segments are over- and under-represented."""
        def names(frame: pd.DataFrame) -> str:
            return ", ".join(f"{r['name']} ({self.ratio_text(r['ratio'])})"
                             for _, r in frame.iterrows())

        pct = f"{self.level:.0%}"
        over, under = self.over, self.under
        parts = []
        if len(over):
            parts.append(f"Over-represented among customers: {names(over)}.")
        if len(under):
            parts.append(f"Under-represented: {names(under)}.")
        if not parts:
            return (f"No segment's share among customers differs from its population share "
                    f"beyond its {pct} interval.")
        return " ".join(parts) + f" (ratio of shares; each interval at {pct} excludes 1.)"


def _ratio_interval(x1: np.ndarray, n1: int, x2: np.ndarray, n2: int, z: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ratio of proportions (x1/n1)/(x2/n2) and Katz's log interval.

    Zero counts get 0.5 added (Haldane) for the bound that stays finite; the point
    estimate keeps the counts as they are. Where ``x2`` is 0 the ratio and its upper
    bound are NaN: no ratio, no bound (an infinite one would be written ``inf``).
    """
    x1f, x2f = x1.astype(np.float64), x2.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (x1f / n1) / (x2f / n2)
    a = np.where((x1f == 0) | (x2f == 0), x1f + 0.5, x1f)
    b = np.where((x1f == 0) | (x2f == 0), x2f + 0.5, x2f)
    m1, m2 = n1 + np.where(a != x1f, 1.0, 0.0), n2 + np.where(b != x2f, 1.0, 0.0)
    log_ratio = np.log((a / m1) / (b / m2))
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(np.maximum(1 / a - 1 / m1 + 1 / b - 1 / m2, 0.0))
    # A zero count bounds its side exactly: no customers, no lower bound above 0; no one
    # of the population, no ratio and no upper bound.
    low = np.where(x1f == 0, 0.0, np.exp(log_ratio - z * se))
    high = np.where(x2f == 0, np.nan, np.exp(log_ratio + z * se))
    return np.where(x2f == 0, np.nan, ratio), low, high


def compare_populations(
    population: Sequence[int] | np.ndarray,
    customers: Sequence[int] | np.ndarray,
    *,
    names: Mapping[int, str] | None = None,
    descriptions: Mapping[int, str] | None = None,
    level: float = 0.95,
    base_rate: float | None = None,
) -> PopulationComparison:
    """Compare the segment distribution of customers with that of the population.

    The ratio is the customer share over the population share: above 1 the segment is
    over-represented among customers (the core customer base, the people to target),
    below 1 under-represented. Its interval is Katz's log interval for a ratio of two
    independent proportions; when the customers are part of the population the two
    shares are positively correlated and the interval is conservative (wider than
    needed). The verdict respects the interval: ``over`` only when all of it is above 1,
    ``under`` when all of it is below 1, else ``neither``.

    Expected customers if a segment were mailed: its population count times the base
    rate times its ratio (with the interval's bounds). The base rate is the share of a
    mailed population that becomes customers at ratio 1; by default customers /
    population, right when both tables cover the same market (a campaign's response
    rate is the better figure when known).

    Parameters
    ----------
    population, customers : array-like of int
        Segment label of each row of each table; :data:`UNPLACED` (-1) for rows the model
        could not place, counted in their own line.
    names : mapping of int to str, optional
        Segment names (``"Segment 1"``, ..., ``"Not placed"`` by default).
    descriptions : mapping of int to str, optional
        A plain-language description per segment, shown in the table.
    level : float, default=0.95
        Confidence level.
    base_rate : float, optional
        See above; customers / population when omitted.

    Returns
    -------
    PopulationComparison
        The table and its settings.

    Raises
    ------
    ConfigError
        If a table is empty or ``level`` is not in (0, 1).
    """
    pop = np.asarray(population, dtype=np.int64)
    cust = np.asarray(customers, dtype=np.int64)
    if not len(pop) or not len(cust):
        raise ConfigError("both tables need at least one row to compare")
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), got {level}")
    labels = sorted({int(v) for v in np.unique(pop)} | {int(v) for v in np.unique(cust)},
                    key=lambda v: (v == UNPLACED, v))
    x_pop = np.array([(pop == s).sum() for s in labels])
    x_cust = np.array([(cust == s).sum() for s in labels])
    n_pop, n_cust = len(pop), len(cust)
    z = float(stats.norm.ppf(0.5 + level / 2))
    ratio, low, high = _ratio_interval(x_cust, n_cust, x_pop, n_pop, z)
    rate = n_cust / n_pop if base_rate is None else float(base_rate)
    verdict = np.where(low > 1, "over", np.where(high < 1, "under", "neither"))
    named = {**{s: f"Segment {s + 1}" for s in labels if s >= 0},
             UNPLACED: "Not placed", **(names or {})}
    # Expected counts to a millionth: with the population's own rate, a segment's
    # expected customers are its customers (53, not 52.99999999999999).
    expected = {
        "expected_customers": x_pop * rate * np.where(x_pop > 0, ratio, 0.0),
        "expected_low": x_pop * rate * low,
        "expected_high": x_pop * rate * np.where(x_pop > 0, high, 0.0),
    }
    table = pd.DataFrame({
        "segment": labels,
        "name": [named.get(s, str(s)) for s in labels],
        "population": x_pop,
        "population_share": x_pop / n_pop,
        "customers": x_cust,
        "customer_share": x_cust / n_cust,
        "ratio": ratio,
        "ratio_low": low,
        "ratio_high": high,
        "verdict": verdict,
        **{name: np.round(values, 6) for name, values in expected.items()},
    })
    if descriptions is not None:
        table["description"] = [descriptions.get(s, "") for s in labels]
    return PopulationComparison(table=table, level=level, base_rate=rate)


def segment_means(values: np.ndarray, labels: np.ndarray
                  ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Mean of every column per segment, and over all rows, missing values left out.

    Parameters
    ----------
    values : ndarray of shape (n_rows, n_features)
        Feature values, NaN where missing.
    labels : ndarray of shape (n_rows,)
        Segment of each row (rows labelled :data:`UNPLACED` are left out).

    Returns
    -------
    means : pandas.DataFrame
        Segments as rows (sorted labels), features as positional columns.
    overall_mean, overall_sd : ndarray of shape (n_features,)
        Over all placed rows.
    """
    keep = labels != UNPLACED
    X, lab = values[keep], labels[keep]
    present = ~np.isnan(X)
    filled = np.where(present, X, 0.0)
    segments = np.unique(lab)
    sums = np.vstack([filled[lab == s].sum(axis=0) for s in segments]) if len(segments) \
        else np.zeros((0, X.shape[1]))
    counts = np.vstack([present[lab == s].sum(axis=0) for s in segments]) if len(segments) \
        else np.zeros((0, X.shape[1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        means = sums / counts
        overall = filled.sum(axis=0) / present.sum(axis=0)
        var = (np.where(present, (X - overall) ** 2, 0.0)).sum(axis=0) / present.sum(axis=0)
    return pd.DataFrame(means, index=segments), overall, np.sqrt(var)


def describe_segments(
    means: pd.DataFrame,
    overall_mean: np.ndarray,
    overall_sd: np.ndarray,
    features: Sequence[str],
    *,
    describe: Callable[[str], str],
    kinds: Mapping[str, str],
    value_text: Callable[[str, float], str] | None = None,
    top: int = 4,
    min_abs_z: float = 0.25,
) -> pd.DataFrame:
    """Say what sets each segment apart from the population, feature by feature.

    Features are ranked by how far the segment's mean lies from the population's, in
    population standard deviations (``z``); the ``top`` furthest (at least ``min_abs_z``)
    are described. A ``share`` feature (a 0/1 column: a one-hot code, a binary) reads as
    "Customer Subtype: Village families 31% (population 6%)"; a ``number`` as "Avg age
    higher: 4.1 (about '40-50 years') against 3.2 in the population", with ``value_text``
    turning a value into words (a code's label).

    Parameters
    ----------
    means : pandas.DataFrame
        Segment means (:func:`segment_means`), segments as rows.
    overall_mean, overall_sd : ndarray
        The population's means and standard deviations.
    features : sequence of str
        Names of the columns, in order.
    describe : callable
        ``describe(feature)``: the feature in words.
    kinds : mapping of str to str
        ``share`` or ``number`` per feature.
    value_text : callable, optional
        ``value_text(feature, value)``: a value in words (empty for none).
    top : int, default=4
        Most features described per segment.
    min_abs_z : float, default=0.25
        Features closer to the population than this are not described.

    Returns
    -------
    pandas.DataFrame
        ``segment``, ``description`` (the phrases joined by "; ") and ``features`` (the
        features used, with their z).
    """
    sd = np.where(overall_sd > 0, overall_sd, np.nan)
    z = pd.DataFrame((means.to_numpy(dtype=np.float64) - overall_mean) / sd,
                     index=means.index)   # positional columns, as the means'
    furthest = distinguishing_features(z, top=top, min_abs_z=min_abs_z)
    rows = []
    for segment, row in means.iterrows():
        ranked = [(int(j), dz) for j, dz in furthest[int(str(segment))]]
        phrases = [_phrase(features[j], float(row.iloc[j]), float(overall_mean[j]),
                           describe, kinds, value_text) for j, _ in ranked]
        rows.append({
            "segment": int(str(segment)),
            "description": "; ".join(phrases) or "close to the population on every feature",
            "features": ", ".join(f"{features[j]} {dz:+.1f} sd" for j, dz in ranked),
        })
    return pd.DataFrame(rows, columns=["segment", "description", "features"])


def _phrase(feature: str, value: float, overall: float, describe: Callable[[str], str],
            kinds: Mapping[str, str], value_text: Callable[[str, float], str] | None) -> str:
    text = describe(feature)
    if kinds.get(feature) == "share":
        return f"{text} {value:.0%} (population {overall:.0%})"
    words = value_text(feature, value) if value_text is not None else ""
    direction = "higher" if value > overall else "lower"
    shown = f"{_number(value)}" + (f" (about '{words}')" if words else "")
    return f"{text} {direction}: {shown} against {_number(overall)} in the population"


def _number(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}".rstrip("0").rstrip(".")

