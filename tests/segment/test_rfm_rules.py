"""RFM scores and the named-segment map."""

from __future__ import annotations

import itertools
import random
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segwise.exceptions import ConfigError
from segwise.segment.rfm import (
    DEFAULT_SEGMENT_MAP,
    RFMScorer,
    SegmentMap,
    assign_segments,
    fm_score,
)


def test_default_map_is_a_partition_of_all_125_cells() -> None:
    segment_map = SegmentMap()
    cells = SegmentMap.cells()
    assert len(cells) == 125
    counts = dict.fromkeys(DEFAULT_SEGMENT_MAP, 0)
    for r, f, m in cells:
        key = f"{r}{fm_score(f, m)}"
        hits = [
            n for n, pats in DEFAULT_SEGMENT_MAP.items() if any(re.fullmatch(p, key) for p in pats)
        ]
        assert len(hits) == 1, (r, f, m, hits)
        counts[hits[0]] += 1
    assert sum(counts.values()) == 125
    assert all(counts.values())  # every named segment is reachable
    assert set(segment_map.lookup().values()) == set(DEFAULT_SEGMENT_MAP)


def test_overlapping_or_incomplete_maps_are_refused() -> None:
    overlapping = {**DEFAULT_SEGMENT_MAP, "Loyal": ("44", "3[4-5]", "5[4-5]")}
    with pytest.raises(ConfigError, match="exactly one segment"):
        SegmentMap(overlapping)
    gap = {k: v for k, v in DEFAULT_SEGMENT_MAP.items() if k != "Lost"}
    with pytest.raises(ConfigError, match="RFM cell 111"):
        SegmentMap(gap)


def test_scores_are_quantile_bins_with_recency_inverted() -> None:
    X = pd.DataFrame(
        {
            "recency_days": np.arange(1, 101),
            "frequency": np.arange(1, 101),
            "monetary": np.arange(1, 101) * 10.0,
        }
    )
    s = RFMScorer().fit(X).transform(X)
    assert s["f_score"].value_counts().to_dict() == dict.fromkeys(range(1, 6), 20)
    assert s.loc[0, "r_score"] == 5 and s.loc[99, "r_score"] == 1
    assert s.loc[0, "f_score"] == 1 and s.loc[99, "m_score"] == 5


def test_tied_values_share_a_score_and_collapsing_bins_warn() -> None:
    X = pd.DataFrame(
        {
            "recency_days": np.arange(10),
            "frequency": [1] * 7 + [2, 3, 9],
            "monetary": np.linspace(1, 100, 10),
        }
    )
    with pytest.warns(UserWarning, match="collapse for frequency"):
        scorer = RFMScorer().fit(X)
    s = scorer.transform(X)
    assert s.loc[:6, "f_score"].nunique() == 1


def test_new_customers_are_scored_on_the_learned_scale() -> None:
    X = pd.DataFrame(
        {
            "recency_days": [1, 50, 100, 200, 300],
            "frequency": [9, 5, 3, 2, 1],
            "monetary": [900.0, 500, 300, 200, 100],
        }
    )
    scorer = RFMScorer().fit(X)
    new = pd.DataFrame(
        {"recency_days": [0, 1000], "frequency": [100, 1], "monetary": [10_000.0, 1.0]}
    )
    s = scorer.transform(new)
    assert s.iloc[0].tolist() == [5, 5, 5] and s.iloc[1].tolist() == [1, 1, 1]


def test_tiny_customer_base() -> None:
    one = pd.DataFrame({"recency_days": [3], "frequency": [1], "monetary": [10.0]})
    with pytest.warns(UserWarning):
        s = RFMScorer().fit(one).transform(one)
    named = assign_segments(s)
    assert named["segment"].notna().all()


def test_bad_scorer_input() -> None:
    with pytest.raises(ConfigError, match="lacks"):
        RFMScorer().fit(pd.DataFrame({"recency_days": [1]}))
    with pytest.raises(ConfigError, match="n_bins"):
        RFMScorer(n_bins=1).fit(
            pd.DataFrame({"recency_days": [1], "frequency": [1], "monetary": [1.0]})
        )


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 400), st.integers(1, 50), st.floats(-100, 1e5, allow_nan=False)),
        min_size=1,
        max_size=60,
    ),
    st.randoms(),
)
def test_every_customer_gets_exactly_one_segment_whatever_the_order(
    rows: list[tuple[int, int, float]], rnd: random.Random
) -> None:
    X = pd.DataFrame(rows, columns=["recency_days", "frequency", "monetary"])
    perm = list(range(len(X)))
    rnd.shuffle(perm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        a = assign_segments(RFMScorer().fit(X).transform(X))
        Xp = X.iloc[perm]
        b = assign_segments(RFMScorer().fit(Xp).transform(Xp))
    assert a["segment"].notna().all()
    pd.testing.assert_frame_equal(a.loc[Xp.index], b)


def test_cells_cover_every_combination() -> None:
    assert set(SegmentMap.cells()) == set(itertools.product(range(1, 6), repeat=3))
