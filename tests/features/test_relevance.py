"""FeatureRelevance: near-constant and redundant columns out, the rest ranked."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from segwise.features.people import FeatureRelevance


@parametrize_with_checks([FeatureRelevance(n_estimators=10, random_state=0),
                          FeatureRelevance(n_estimators=10, top_n=2, random_state=0)])
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


@pytest.fixture(scope="module")
def structured() -> pd.DataFrame:
    """Two related groups of columns, an independent one, a copy and a near-constant code."""
    rng = np.random.default_rng(0)
    n = 4000
    group = rng.integers(0, 2, n)
    income = group * 3 + rng.normal(0, 1, n)
    rooms = group * 2 + rng.normal(0, 1, n)
    return pd.DataFrame({
        "income": income,
        "rooms": rooms,
        "income_copy": income * 2 + rng.normal(0, 0.01, n),
        "noise": rng.normal(0, 1, n),
        "rare_code": (rng.random(n) < 0.0005).astype(float),
    })


def test_filters_and_ranking(structured: pd.DataFrame) -> None:
    sel = FeatureRelevance(random_state=0, n_estimators=50).fit(structured)
    table = sel.table().set_index("feature")
    assert table.loc["rare_code", "status"] == "near-constant"
    assert table.loc["income_copy", "status"] == "correlated" or (
        table.loc["income", "status"] == "correlated")
    pair = sel.dropped_pairs_[0]
    assert {pair["kept"], pair["dropped"]} == {"income", "income_copy"}
    assert pair["correlation"] > 0.99
    # Related columns carry the structure; pure noise does not.
    assert sel.importances_[1] > sel.importances_[3]
    kept = table[table["status"] == "kept"]
    assert kept.loc["noise", "rank"] == kept["rank"].max()
    assert 0.5 < sel.oob_score_ <= 1.0
    assert list(sel.get_feature_names_out()) == [c for c in structured if
                                                  table.loc[c, "status"] == "kept"]


def test_top_n_keeps_the_best_ranked(structured: pd.DataFrame) -> None:
    sel = FeatureRelevance(random_state=0, n_estimators=50, top_n=1).fit(structured)
    assert sel.support_.sum() == 1
    table = sel.table()
    assert (table["status"] == "below the top N").sum() == 2     # of three passing
    assert table.iloc[0]["rank"] == 1 and table.iloc[0]["status"] == "kept"


def test_missing_values_and_row_order(structured: pd.DataFrame) -> None:
    data = structured.copy()
    data.iloc[::7, 1] = np.nan
    a = FeatureRelevance(random_state=0, n_estimators=20).fit(data)
    assert a.transform(data).shape == (len(data), a.support_.sum())
    assert np.isnan(a.transform(data)).any()          # missing values pass through
    with pytest.raises(ValueError, match="top_n"):
        FeatureRelevance(top_n=0).fit(data)
