"""The serving path's probabilities are the estimator's own, bit for bit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.base import clone

from segwise.exceptions import InputError
from segwise.predict import SegmentAssigner
from segwise.predict._fast import fast_predict_proba


@pytest.fixture(scope="module")
def train_test(retail_data: Any, retail_split: Any) -> tuple[Any, ...]:
    X = retail_data.X
    train = retail_split.train[:1500]
    test = X.loc[retail_split.test]
    # Unseen countries and segments go through the encoders' unknown-category branches.
    odd = test.head(8).assign(country=["Atlantis", None] * 4)
    odd["rules_segment"] = odd["rules_segment"].astype(object)
    odd.iloc[:2, odd.columns.get_loc("rules_segment")] = "Unheard Of"
    return (X.loc[train], retail_data.y.loc[train], retail_data.cells.loc[train],
            [test, odd])


@pytest.mark.parametrize("model", ["grid", "vote", "hgb", "random_forest", "logistic"])
def test_fast_probabilities_equal_the_estimator_exactly(
        train_test: Any, small_assigner: SegmentAssigner, model: str) -> None:
    X, y, cells, tests = train_test
    est = clone(small_assigner).set_params(model=model)
    est.fit(X, y, **({"cells": cells} if model == "grid" else {}))
    proba = fast_predict_proba(est)
    for test in tests:
        for rows in (test, test.head(1), test.iloc[::-1]):
            expected = est.predict_proba(rows)
            np.testing.assert_array_equal(proba(rows), expected)
    # The encoders remember rows they saw; a second call gives the same numbers.
    np.testing.assert_array_equal(proba(tests[0]), est.predict_proba(tests[0]))


def test_missing_values_follow_the_trees_missing_side(
        train_test: Any, small_assigner: SegmentAssigner) -> None:
    X, y, _, tests = train_test
    rows = tests[0].head(40).copy()
    rows.iloc[::3, rows.columns.get_loc("max_gap_days")] = np.nan
    rows.iloc[1::4, rows.columns.get_loc("avg_unit_price")] = np.nan
    for model in ("hgb", "random_forest"):
        est = clone(small_assigner).set_params(model=model).fit(X, y)
        np.testing.assert_array_equal(fast_predict_proba(est)(rows), est.predict_proba(rows))


def test_calibrated_models_are_passed_through(
        train_test: Any, small_assigner: SegmentAssigner) -> None:
    X, y, _, tests = train_test
    est = clone(small_assigner).set_params(model="hgb", calibration="sigmoid").fit(X, y)
    np.testing.assert_array_equal(fast_predict_proba(est)(tests[0]),
                                  est.predict_proba(tests[0]))
    # Schema checks are the estimator's: a missing column is named.
    with pytest.raises(Exception, match="country"):
        fast_predict_proba(est)(tests[0].drop(columns="country"))


def _columns(frame: Any) -> dict[str, np.ndarray]:
    return {c: frame[c].to_numpy() for c in frame.columns}


@pytest.mark.parametrize("model", ["grid", "hgb"])
def test_column_arrays_give_the_frames_numbers_and_errors(
        train_test: Any, small_assigner: SegmentAssigner, model: str) -> None:
    X, y, cells, tests = train_test
    est = clone(small_assigner).set_params(model=model)
    est.fit(X, y, **({"cells": cells} if model == "grid" else {}))
    proba = fast_predict_proba(est)
    for test in tests:  # the odd rows hold None and unseen categories
        # Columns in another order than training's are put in order, as a frame's are.
        shuffled = test[list(reversed(test.columns))]
        np.testing.assert_array_equal(proba(_columns(shuffled)), est.predict_proba(test))
    rows = tests[0].head(5)
    for bad, message in ((rows.drop(columns="country"), "missing column.*country"),
                         (rows.assign(extra=1.0), "unexpected column.*extra"),
                         (rows.assign(n_orders="3"), r"n_orders \(categorical")):
        with pytest.raises(InputError, match=message):
            proba(_columns(bad))
        with pytest.raises(InputError, match=message):
            est.predict_proba(bad)
    if model == "grid":  # the logistic member refuses missing values, in both forms
        holes = rows.assign(n_lines=np.nan)
        with pytest.raises(ValueError, match="NaN"):
            proba(_columns(holes))
        with pytest.raises(ValueError, match="NaN"):
            est.predict_proba(holes)


def test_the_default_models_parts_are_walked_not_called(
        train_test: Any, small_assigner: SegmentAssigner, monkeypatch: pytest.MonkeyPatch) -> None:
    """No part of the default (grid) model is called through scikit-learn per request:
    each call of those costs a request more than the whole walk."""
    from imblearn.pipeline import Pipeline as ImbPipeline
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, cells, tests = train_test
    est = clone(small_assigner).set_params(model="grid").fit(X, y, cells=cells)
    expected = est.predict_proba(tests[0])
    proba = fast_predict_proba(est)

    def called(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("called through scikit-learn")

    for cls, method in [(HistGradientBoostingClassifier, "predict_proba"),
                        (RandomForestClassifier, "predict_proba"),
                        (LogisticRegression, "predict_proba"), (Pipeline, "transform"),
                        (ImbPipeline, "transform"), (StandardScaler, "transform")]:
        monkeypatch.setattr(cls, method, called)
    np.testing.assert_array_equal(proba(_columns(tests[0])), expected)
