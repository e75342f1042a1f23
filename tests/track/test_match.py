"""Learned segments matched across snapshots: Hungarian matching keeps labels stable."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segwise.exceptions import ConfigError
from segwise.segment import Segmenter
from segwise.track import learned_snapshots, match_centroids, track_customers


@settings(max_examples=50, deadline=None)
@given(k=st.integers(1, 8), seed=st.integers(0, 10_000))
def test_matching_recovers_a_shuffle(k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    previous = rng.normal(0, 10, (k, 3))
    order = rng.permutation(k)
    current = previous[order] + rng.normal(0, 0.01, (k, 3))
    np.testing.assert_array_equal(match_centroids(previous, current), order)


def test_more_current_segments_than_previous() -> None:
    out = match_centroids(np.array([[0.0], [10.0]]), np.array([[9.0], [50.0], [1.0]]))
    assert list(out) == [1, -1, 0]
    with pytest.raises(ValueError, match="same space"):
        match_centroids(np.zeros((2, 2)), np.zeros((2, 3)))


def _blobs(monetary: dict[str, float], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    centres = {"A": (10.0, 20.0), "B": (300.0, 2.0), "C": (100.0, 5.0)}
    rows = []
    for name, (recency, frequency) in centres.items():
        for i in range(150):
            rows.append({"customer_id": f"{name}{i}",
                         "recency_days": recency * rng.uniform(0.9, 1.1),
                         "frequency": max(1.0, round(frequency * rng.uniform(0.8, 1.2))),
                         "monetary": monetary[name] * rng.uniform(0.9, 1.1),
                         "tenure_days": 400.0, "avg_order_value": 50.0, "blob": name})
    return pd.DataFrame(rows)


def test_labels_follow_the_segments_not_the_value_order() -> None:
    # B overtakes A on spend at the second snapshot, so a fresh clustering orders them the
    # other way round; matching on centroids keeps each blob's label.
    first = _blobs({"A": 1000.0, "B": 1200.0, "C": 50.0}, seed=1)
    second = _blobs({"A": 1500.0, "B": 1100.0, "C": 60.0}, seed=2)
    snaps = pd.concat([first.assign(snapshot=pd.Timestamp("2021-01-01")),
                       second.assign(snapshot=pd.Timestamp("2021-04-01"))], ignore_index=True)
    track = learned_snapshots(snaps, 3)
    a = track.assignments.merge(snaps[["snapshot", "customer_id", "blob"]])
    per_blob = a.groupby("blob")["learned_segment"].agg(lambda s: set(s))
    assert all(len(labels) == 1 for labels in per_blob)  # one label per blob, both dates
    assert len({next(iter(v)) for v in per_blob}) == 3
    fresh = [Segmenter(3, random_state=0).fit(s[["recency_days", "frequency", "monetary"]])
             for s in (first, second)]
    raw = [pd.Series(f.labels_, index=s["blob"]).groupby(level=0).first()
           for f, s in zip(fresh, (first, second), strict=True)]
    assert raw[0]["A"] != raw[1]["A"]  # what matching undoes
    names = track.centroids.groupby("learned_segment")["learned_name"].nunique()
    assert (names == 1).all()
    assert (track.centroids.loc[track.centroids["snapshot"] == "2021-01-01", "moved"] == 0).all()
    with pytest.raises(ConfigError, match="at least 2 clusters"):
        learned_snapshots(snaps, 1)


@pytest.mark.slow
def test_online_retail_learned_segments_over_time(retail_result: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = track_customers(retail_result.cleaned, every="quarter", learned=4)
    assert result.learned is not None
    c = result.learned.centroids
    assert c.groupby("snapshot").size().eq(4).all()
    assert c.groupby("learned_segment")["learned_name"].nunique().eq(1).all()
    assert result.snapshots["learned_segment"].between(0, 3).all()
    counts = c.pivot(index="learned_segment", columns="snapshot", values="customers")
    assert (counts.sum() == result.snapshots.groupby("snapshot").size().to_numpy()).all()
    # Stable labels give a readable migration: most customers keep their learned segment.
    flows = result.flows("learned_name")
    last = flows[flows["from_snapshot"] == flows["from_snapshot"].max()]
    stays = last.loc[last["from_segment"] == last["to_segment"], "customers"].sum()
    known = last.loc[last["from_segment"] != "(new)", "customers"].sum()
    assert stays / known > 0.5
