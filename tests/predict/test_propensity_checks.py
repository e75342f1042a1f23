"""scikit-learn's own estimator checks on PropensityModel, for every family and imbalance."""

from __future__ import annotations

from typing import Any

from sklearn.utils.estimator_checks import parametrize_with_checks

from segwise.predict import PropensityModel

CONFIGS = [
    PropensityModel("logistic"),
    PropensityModel("logistic", imbalance="weights"),
    PropensityModel("logistic", imbalance="smote"),
    PropensityModel("naive_bayes"),
    PropensityModel("naive_bayes", imbalance="weights"),
    PropensityModel("hgb", n_estimators=10),
    PropensityModel("xgboost", n_estimators=10, imbalance="weights"),
    PropensityModel("random_forest", n_estimators=10),
]


@parametrize_with_checks(CONFIGS)
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)
