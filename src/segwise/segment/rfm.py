"""RFM scores and named segments.

Scores are quantile bins learned by :class:`RFMScorer`, which keeps its bin edges so that
new customers are scored on the same scale. Tied values always share a score (no rank
tie-breaking), so the result never depends on row order.

Segment names come from a map over the recency score and the mean of the frequency and
monetary scores (the "R x FM" grid used across the RFM literature). The map is checked to
be a partition of all 125 score cells: every customer gets exactly one named segment,
unlike maps with overlapping intervals that leave customers in "Others".
"""

from __future__ import annotations

import functools
import itertools
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from segwise.exceptions import ConfigError, SegwiseWarning

if TYPE_CHECKING:
    from typing import TypeAlias

    import pandas as pd

    from segwise.segment._scorer import RFMScorer

    #: A table of named columns: a DataFrame or a mapping of name to array.
    Columns: TypeAlias = pd.DataFrame | Mapping[str, Any]

__all__ = [
    "DEFAULT_ACTIONS",
    "DEFAULT_SEGMENT_MAP",
    "RFM_SCORE_COLUMNS",
    "RFMScorer",
    "SegmentMap",
    "assign_segments",
    "check_rfm_table",
    "fit_bin_edges",
    "fm_score",
    "name_cells",
    "score_columns",
    "score_with_edges",
]

#: Default recency, frequency and monetary column names.
RFM_SCORE_COLUMNS: tuple[str, str, str] = ("recency_days", "frequency", "monetary")


def __getattr__(name: str) -> Any:
    # RFMScorer is a scikit-learn estimator; importing scikit-learn costs seconds, which the
    # RFM command does not need, so the class loads on first use.
    if name == "RFMScorer":
        from segwise.segment._scorer import RFMScorer

        return RFMScorer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

#: Segment -> patterns over the two-digit key "<R><FM>" (R and FM scores, 1 to 5).
DEFAULT_SEGMENT_MAP: dict[str, tuple[str, ...]] = {
    "Champions": ("5[4-5]", "45"),
    "Loyal": ("44", "3[4-5]"),
    "Potential Loyalist": ("[4-5][2-3]",),
    "New": ("51",),
    "Promising": ("41",),
    "Need Attention": ("33",),
    "About to Sleep": ("3[1-2]",),
    "At Risk": ("[1-2][3-4]",),
    "Can't Lose Them": ("[1-2]5",),
    "Hibernating": ("2[1-2]", "12"),
    "Lost": ("11",),
}

#: Recommended action per segment.
DEFAULT_ACTIONS: dict[str, str] = {
    "Champions": "Reward them: early access, loyalty perks, ask for reviews and referrals; "
    "no discounts needed.",
    "Loyal": "Upsell higher-value products and enrol them in the loyalty programme.",
    "Potential Loyalist": "Offer membership or a loyalty scheme and recommend related products.",
    "New": "Onboard well: welcome series and an incentive for the second order.",
    "Promising": "Build awareness with popular products and a small first-repeat incentive.",
    "Need Attention": "Time-limited offers based on past purchases before they slip away.",
    "About to Sleep": "Reconnect with bestsellers and a modest discount; ask for feedback.",
    "At Risk": "Personalised win-back campaign with offers matched to what they used to buy.",
    "Can't Lose Them": "Personal outreach from a human, a strong win-back offer, "
    "find out what went wrong.",
    "Hibernating": "Low-cost reactivation with relevant offers; otherwise let them rest.",
    "Lost": "Do not spend on them; include only in cheap broad campaigns.",
}


def fm_score(
    f: int | np.ndarray | pd.Series, m: int | np.ndarray | pd.Series
) -> np.ndarray:
    """Combine frequency and monetary scores: their mean, halves rounded up."""
    return np.floor((np.asarray(f) + np.asarray(m)) / 2 + 0.5).astype("int64")


@dataclass(frozen=True)
class SegmentMap:
    """Named segments over the R x FM score grid, with a recommended action each.

    Parameters
    ----------
    patterns : mapping of segment name to patterns
        Regular expressions matched in full against ``f"{R}{FM}"``.
    actions : mapping of segment name to text
        Recommended action per segment.

    Raises
    ------
    ConfigError
        If the map is not a partition of the 125 RFM cells, or an action is missing.
    """

    patterns: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_SEGMENT_MAP)
    )
    actions: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))

    def __post_init__(self) -> None:
        compiled = {}
        for name, pats in self.patterns.items():
            if isinstance(pats, str):
                raise ConfigError(f"segment {name!r}: give a list of patterns, not one string")
            try:
                compiled[name] = [re.compile(p) for p in pats]
            except re.error as exc:
                raise ConfigError(f"segment {name!r}: bad pattern: {exc}") from exc
        missing_actions = sorted(set(self.patterns) - set(self.actions))
        if missing_actions:
            raise ConfigError(f"no action for segment(s): {', '.join(missing_actions)}")
        problems = []
        for cell in self.cells():
            key = f"{cell[0]}{fm_score(cell[1], cell[2])}"
            hits = [n for n, pats in compiled.items() if any(p.fullmatch(key) for p in pats)]
            if len(hits) != 1:
                what = "no segment" if not hits else "segments " + ", ".join(hits)
                problems.append(f"RFM cell {cell[0]}{cell[1]}{cell[2]} (key {key}): {what}")
        if problems:
            raise ConfigError(
                "the segment map must put every RFM cell in exactly one segment: "
                + "; ".join(problems[:5])
                + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
            )

    @staticmethod
    def cells() -> list[tuple[int, int, int]]:
        """All 125 (R, F, M) score cells."""
        return [(r, f, m) for r, f, m in itertools.product(range(1, 6), repeat=3)]

    def lookup(self) -> dict[str, str]:
        """Segment name for every two-digit ``R FM`` key."""
        out = {}
        for r, fm in itertools.product(range(1, 6), repeat=2):
            key = f"{r}{fm}"
            for name, pats in self.patterns.items():
                if any(re.fullmatch(p, key) for p in pats):
                    out[key] = name
        return out


def check_rfm_table(
    X: Columns, columns: tuple[str, str, str] = RFM_SCORE_COLUMNS
) -> dict[str, np.ndarray]:
    """Return the recency, frequency and monetary columns as finite float arrays.

    Raises
    ------
    ConfigError
        If a column is missing or holds missing or infinite values.
    """
    missing = [c for c in columns if c not in X]
    if missing:
        raise ConfigError(f"RFM table lacks column(s) {', '.join(missing)}")
    values = {c: np.asarray(X[c], dtype="float64") for c in columns}
    for c, v in values.items():
        if not np.isfinite(v).all():
            raise ConfigError(f"column {c} has missing or infinite values")
    return values


def fit_bin_edges(
    X: Columns, n_bins: int = 5, columns: tuple[str, str, str] = RFM_SCORE_COLUMNS
) -> dict[str, np.ndarray]:
    """Learn quantile bin edges per column: the core of :class:`RFMScorer`.

    The edges are the ``1/n_bins ... (n_bins-1)/n_bins`` quantiles; when ties make edges
    coincide (most customers buy once) some scores stay unused and a warning says so.

    Raises
    ------
    ConfigError
        If ``n_bins`` is below 2, the table is empty, or a column is unusable.
    """
    if not isinstance(n_bins, int) or n_bins < 2:
        raise ConfigError(f"n_bins must be an integer of at least 2, got {n_bins!r}")
    values = check_rfm_table(X, columns)
    if len(values[columns[0]]) == 0:
        raise ConfigError("cannot score an empty customer table")
    qs = np.arange(1, n_bins) / n_bins
    edges = {c: np.quantile(v, qs) for c, v in values.items()}
    collapsed = [c for c, e in edges.items() if len(np.unique(e)) < len(e)]
    if collapsed:
        warnings.warn(
            f"quantile bins collapse for {', '.join(collapsed)} (many tied values): "
            "some scores are unused",
            SegwiseWarning,
            stacklevel=3,
        )
    return edges


def score_columns(
    X: Columns,
    edges: Mapping[str, np.ndarray],
    n_bins: int = 5,
    columns: tuple[str, str, str] = RFM_SCORE_COLUMNS,
) -> dict[str, np.ndarray]:
    """Score customers on learned edges: ``r_score``, ``f_score``, ``m_score`` arrays.

    A value's bin is the number of edges strictly below it, so equal values always share
    a score. Recency is inverted: recent is ``n_bins``.
    """
    values = check_rfm_table(X, columns)
    recency, frequency, monetary = columns

    def bins(col: str) -> np.ndarray:
        return np.searchsorted(edges[col], values[col], side="left").astype("int64")

    return {
        "r_score": n_bins - bins(recency),
        "f_score": bins(frequency) + 1,
        "m_score": bins(monetary) + 1,
    }


def score_with_edges(
    X: pd.DataFrame,
    edges: Mapping[str, np.ndarray],
    n_bins: int = 5,
    columns: tuple[str, str, str] = RFM_SCORE_COLUMNS,
) -> pd.DataFrame:
    """:func:`score_columns` as a DataFrame on the index of ``X``."""
    import pandas as pd

    return pd.DataFrame(score_columns(X, edges, n_bins, columns), index=X.index)


def name_cells(
    r: np.ndarray, f: np.ndarray, m: np.ndarray, segment_map: SegmentMap | None = None
) -> dict[str, np.ndarray]:
    """Cell, segment and action for R, F and M scores on a 1 to 5 scale.

    Returns
    -------
    dict of str to ndarray
        ``rfm_cell`` (e.g. "545"), ``segment`` and ``action``, object arrays.

    Raises
    ------
    ConfigError
        If a score lies outside 1 to 5.
    """
    segment_map = segment_map or SegmentMap()
    r, f, m = (np.asarray(a, dtype="int64") for a in (r, f, m))
    lowest = min(a.min(initial=1) for a in (r, f, m))
    highest = max(a.max(initial=1) for a in (r, f, m))
    if lowest < 1 or highest > 5:
        raise ConfigError("named segments need scores on a 1 to 5 scale (n_bins=5)")
    index = (r - 1) * 25 + (f - 1) * 5 + (m - 1)
    key = (tuple((n, tuple(p)) for n, p in segment_map.patterns.items()),
           tuple(segment_map.actions.items()))
    return {col: values[index] for col, values in _cell_names(key).items()}


@functools.lru_cache(maxsize=16)
def _cell_names(key: tuple[tuple[tuple[str, tuple[str, ...]], ...], tuple[tuple[str, str], ...]]
                ) -> dict[str, np.ndarray]:
    """Cell, segment and action of the 125 cells in :meth:`SegmentMap.cells` order.

    Keyed by a segment map's patterns and actions (a server names a few cells per request;
    matching the patterns each time cost more than the model).
    """
    patterns, actions = key
    segment_map = SegmentMap(dict(patterns), dict(actions))
    lookup = segment_map.lookup()
    cells = SegmentMap.cells()
    names = [lookup[f"{cr}{fm_score(cf, cm)}"] for cr, cf, cm in cells]
    out = {"rfm_cell": np.array([f"{cr}{cf}{cm}" for cr, cf, cm in cells], dtype=object),
           "segment": np.array(names, dtype=object),
           "action": np.array([dict(actions)[n] for n in names], dtype=object)}
    for values in out.values():
        values.flags.writeable = False
    return out


def assign_segments(
    scores: pd.DataFrame, segment_map: SegmentMap | None = None
) -> pd.DataFrame:
    """Name the segment of each scored customer.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``r_score``, ``f_score``, ``m_score`` on a 1 to 5 scale.
    segment_map : SegmentMap, optional
        The map; :data:`DEFAULT_SEGMENT_MAP` when omitted.

    Returns
    -------
    pandas.DataFrame
        ``rfm_cell`` (e.g. "545"), ``segment`` and ``action``, same index as ``scores``.
    """
    import pandas as pd

    r, f, m = (scores[c].to_numpy() for c in ("r_score", "f_score", "m_score"))
    return pd.DataFrame(name_cells(r, f, m, segment_map), index=scores.index)
