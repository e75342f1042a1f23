"""Acquisition cohorts: an independent count on a small log, reconciliation on Online Retail."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from segwise.exceptions import ConfigError
from segwise.track import TrackResult, cohorts

from .conftest import duck_pieces


def _small_log() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    rows = []
    for c in range(200):
        first = int(rng.integers(0, 200))
        days = np.unique(np.r_[first, first + rng.integers(0, 250, rng.integers(0, 6))])
        rows += [(f"c{c}", f"o{c}-{d}", pd.Timestamp("2021-01-01") + pd.Timedelta(days=int(d)),
                  float(rng.gamma(3, 20)), False) for d in days]
        if c % 17 == 0:  # a return, a few weeks after the first purchase
            rows.append((f"c{c}", f"r{c}", pd.Timestamp("2021-01-01")
                         + pd.Timedelta(days=first + 20), -10.0, True))
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "ts", "revenue", "is_return"])


def test_cohorts_match_an_independent_count() -> None:
    log = _small_log()
    end = dt.date(2021, 10, 1)
    got = cohorts(duck_pieces(log), period="month", end=end)
    # The same in plain pandas: months since each customer's first purchase.
    lines = log[log["ts"] < pd.Timestamp(end)].copy()
    month = lines["ts"].dt.year * 12 + lines["ts"].dt.month - 1
    lines["m"] = month
    first = lines[~lines["is_return"]].groupby("customer_id")["m"].min().rename("cohort")
    lines = lines.join(first, on="customer_id")
    lines["age"] = (lines["m"] - lines["cohort"]).clip(lower=0)
    buyers = lines[~lines["is_return"]].groupby(["cohort", "age"])["customer_id"].nunique()
    size = first.value_counts()
    act = got.activity.assign(key=got.activity["cohort_start"].map(
        lambda d: d.year * 12 + d.month - 1))
    for row in act.itertuples():
        assert row.customers == size[row.key]
        assert row.active == buyers.get((row.key, row.age), 0)
    revenue = lines.groupby(["cohort", "age"])["revenue"].sum()
    np.testing.assert_allclose(act.set_index(["key", "age"])["revenue"].reindex(revenue.index),
                               revenue, atol=1e-5)  # money is summed in millionths
    # Every cohort is followed to the last month before the end, September 2021.
    oldest = act[act["cohort"] == "2021-01"]
    assert list(oldest["age"]) == list(range(9)) and not act["partial"].any()
    assert (act.loc[act["age"] == 0, "retention"] == 1.0).all()


def test_triangle_and_bad_input() -> None:
    got = cohorts(duck_pieces(_small_log()), period="quarter", end=dt.date(2021, 9, 15))
    tri = got.triangle()
    assert list(tri.index) == ["2021Q1", "2021Q2", "2021Q3"]
    assert tri.loc["2021Q3"].isna().sum() == 2 and tri.loc["2021Q1"].notna().all()
    assert got.activity["partial"].sum() == 3  # the third quarter is not over
    with pytest.raises(ConfigError, match="cohort period 'week'"):
        cohorts(duck_pieces(_small_log()), period="week", end=dt.date(2021, 9, 15))
    with pytest.raises(ConfigError, match="value 'cohort'"):
        got.triangle("cohort")


@pytest.mark.slow
def test_online_retail_cohorts_reconcile(retail_track: TrackResult) -> None:
    c = retail_track.cohorts
    assert c.period == "quarter" and c.end == dt.date(2011, 12, 10)
    sizes = c.activity.drop_duplicates("cohort").set_index("cohort")["customers"]
    assert list(sizes.index) == ["2010Q4", "2011Q1", "2011Q2", "2011Q3", "2011Q4"]
    assert sizes.sum() == 4333 == len(c.customers)
    last = retail_track.snapshots[retail_track.snapshots["snapshot"] == "2011-12-10"]
    # Every penny of the scored customers' net spend is in some cohort cell.
    assert c.activity["revenue"].sum() == pytest.approx(last["monetary"].sum(), rel=1e-12)
    mix = c.mix(last)
    np.testing.assert_allclose(mix.sum(axis=1), 1.0)
    counts = c.mix(last, normalize=False)
    assert counts.to_numpy().sum() == 4333
    # The December 2010 cohort is the most loyal: the most Champions at the end.
    assert mix["Champions"].idxmax() == "2010Q4"
    tri = c.triangle()
    assert tri.loc["2010Q4", 1] == pytest.approx(0.60, abs=0.01)
