"""scikit-learn's own estimator checks on SegmentAssigner, in each configuration we ship."""

from __future__ import annotations

from typing import Any

from sklearn.utils.estimator_checks import parametrize_with_checks

from segwise.predict import SegmentAssigner

CONFIGS = [
    SegmentAssigner(max_iter=10, n_estimators=10),  # the default grid (no cells: the vote)
    SegmentAssigner("grid", max_iter=10, n_estimators=10, calibration="isotonic"),
    SegmentAssigner("vote", max_iter=10, n_estimators=10),
    SegmentAssigner("hgb", max_iter=10),
    SegmentAssigner("hgb", max_iter=10, class_weight="balanced"),
    SegmentAssigner("hgb", max_iter=10, calibration="isotonic"),
    SegmentAssigner("hgb", max_iter=10, smote=True),
    SegmentAssigner("random_forest", n_estimators=10),
    SegmentAssigner("logistic"),
]


def expected_failures(estimator: Any) -> dict[str, str]:
    """Checks a configuration fails by design, each with the reason."""
    if estimator.calibration is not None:
        return {
            "check_class_weight_classifiers": (
                "calibration is fitted on unweighted folds and maps the class-weighted "
                "scores back to the classes' frequencies, which is what it is for: the "
                "weights no longer move the predictions (why calibration is off by default)"
            )
        }
    return {}


@parametrize_with_checks(CONFIGS, expected_failed_checks=expected_failures)
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)
