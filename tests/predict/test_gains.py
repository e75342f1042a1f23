"""Responders captured, lift, gains and calibration, and the rule that chooses the default."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segwise.predict import (
    average_precision,
    calibration_table,
    captured,
    choose_default,
    gains_table,
    ranking_metrics,
)

ROWS = st.integers(2, 60).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 1), min_size=n, max_size=n),
    st.lists(st.integers(0, 4), min_size=n, max_size=n)))


def _expected(y: np.ndarray, score: np.ndarray, k: int) -> float:
    """Each row's chance of being among the top k when ties are ordered at random."""
    if k == 0:
        return 0.0
    t = np.sort(score)[::-1][k - 1]
    above, tie = score > t, score == t
    chance = np.where(above, 1.0, np.where(tie, (k - above.sum()) / tie.sum(), 0.0))
    return float((chance * y).sum())


@settings(max_examples=150, deadline=None)
@given(ROWS)
def test_average_precision_is_scikit_learns(rows) -> None:
    from sklearn.metrics import average_precision_score

    y, score = (np.array(v, dtype=float) for v in rows)
    if y.sum() == 0:
        y[0] = 1.0
    assert average_precision(y, score) == pytest.approx(average_precision_score(y, score))


@settings(max_examples=150, deadline=None)
@given(ROWS, st.randoms(use_true_random=False))
def test_captured_is_the_expectation_over_tie_orders(rows, rnd) -> None:
    y, score = (np.array(v, dtype=float) for v in rows)
    ks = list(range(len(y) + 1))
    got = captured(y, score, ks)
    np.testing.assert_allclose(got, [_expected(y, score, k) for k in ks], atol=1e-9)
    assert got[-1] == pytest.approx(y.sum())
    assert np.all(np.diff(got) >= -1e-12)  # more people mailed never reach fewer
    order = list(range(len(y)))
    rnd.shuffle(order)  # the file's order changes nothing
    np.testing.assert_allclose(captured(y[order], score[order], ks), got, atol=1e-9)


def test_ranking_metrics_of_a_perfect_and_a_useless_ranking() -> None:
    y = np.r_[np.ones(10), np.zeros(90)]
    perfect = ranking_metrics(y, np.linspace(1, 0, 100), shares=(0.1, 0.2))
    assert perfect["roc_auc"] == 1.0 and perfect["captured_10"] == 1.0
    assert perfect["lift_10"] == pytest.approx(10.0) and perfect["lift_20"] == pytest.approx(5)
    flat = ranking_metrics(y, np.full(100, 0.1), shares=(0.1, 0.2))
    assert flat["roc_auc"] == 0.5 and flat["captured_20"] == pytest.approx(0.2)
    assert flat["brier"] == pytest.approx(0.09)  # 0.1 * 0.9: the base rate as a forecast


def test_gains_and_calibration_tables() -> None:
    rng = np.random.default_rng(0)
    score = rng.random(1000)
    y = (rng.random(1000) < score).astype(int)
    gains = gains_table(y, score, points=10)
    assert gains["captured"].iloc[0] == 0 and gains["captured"].iloc[-1] == pytest.approx(1)
    assert gains["captured"].is_monotonic_increasing
    assert (gains["lift"].iloc[1:4] > 1.2).all()  # the top holds more than its share
    cal = calibration_table(y, score)
    assert cal["people"].sum() == 1000 and len(cal) == 10
    np.testing.assert_allclose(cal["predicted"], cal["observed"], atol=0.08)


def _folds(means: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"name": n, "repeat": 1, "fold": f + 1, "captured_20": v}
                         for n, values in means.items() for f, v in enumerate(values)])


def test_the_rule_takes_the_simplest_candidate_within_one_standard_error() -> None:
    folds = _folds({"logistic regression": [0.50, 0.55, 0.47, 0.52, 0.49],
                    "XGBoost": [0.53, 0.52, 0.51, 0.50, 0.53]})
    choice = choose_default(folds, ["logistic regression", "XGBoost"])
    assert choice.best == "XGBoost"
    row = choice.table.loc["logistic regression"]
    # 0.012 short; the fold-by-fold differences (0.03, -0.03, 0.04, -0.02, 0.04) have a
    # standard error of 0.0146: as good, and simpler.
    assert row["gap"] == pytest.approx(0.012)
    assert row["se"] == pytest.approx(np.std([0.03, -0.03, 0.04, -0.02, 0.04], ddof=1)
                                      / np.sqrt(5))
    assert row["as_good"] and choice.chosen == "logistic regression"


def test_the_rule_keeps_the_best_when_the_simpler_one_is_clearly_worse() -> None:
    folds = _folds({"logistic regression": [0.40, 0.41, 0.39, 0.42, 0.40],
                    "XGBoost": [0.51, 0.53, 0.50, 0.52, 0.52]})
    choice = choose_default(folds, ["logistic regression", "XGBoost"])
    assert choice.chosen == "XGBoost" == choice.best
    assert not choice.table.loc["logistic regression", "as_good"]
    assert "Default: XGBoost." in choice.text and "top 20%" in choice.text
