"""Time split, the SegmentAssigner's schema check, and the held-out evaluation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.metrics import f1_score

from segwise.exceptions import ConfigError, InputError, SegwiseWarning
from segwise.predict import (
    FEATURE_COLUMNS,
    OTHER,
    RULE_FEATURES,
    SegmentAssigner,
    build_dataset,
    cluster_labels,
    default_candidates,
    evaluate_assigner,
    fit_candidate,
    fit_candidates,
    macro_f1_gap,
    permutation_importance,
    rolling_folds,
    time_split,
    validate_assigner,
)
from segwise.predict._assigner import merge_rare
from segwise.segment.rfm import SegmentMap


def test_dataset_is_eligible_customers_with_window_and_rule_features(retail_data):
    d = retail_data
    assert list(d.X.columns) == [*FEATURE_COLUMNS, *RULE_FEATURES]
    assert (d.X["n_orders"] == 3).all()  # first 3 orders, complete windows only
    assert d.X.index.equals(d.y.index) and d.X.index.is_unique
    assert 1200 < len(d.X) < d.n_customers
    # Horizon labels: every customer is asked about the same 90 days after the window.
    assert d.label == "horizon" and (d.X["horizon_days"] == 90).all()
    assert (d.acquired.dt.normalize() <= d.as_of - pd.Timedelta(days=90)).all()


def test_cells_name_the_label_through_the_segment_map(retail_data, retail_result):
    lookup = SegmentMap().lookup()
    for d in (retail_data, build_dataset(retail_result, label="full_history")):
        assert d.cells is not None and d.cells.index.equals(d.y.index)
        assert (d.cells.map(lookup) == d.y).all()
    assert retail_data.cells.nunique() > retail_data.y.nunique()


def test_full_history_dataset_keeps_the_maturity_rule(retail_result):
    d = build_dataset(retail_result, label="full_history", min_history_days=90)
    assert 1500 < len(d.X) < d.n_customers
    # Every customer was observed at least 90 days after their first purchase.
    assert (d.acquired.dt.normalize() <= d.as_of - pd.Timedelta(days=90)).all()
    assert (d.X["horizon_days"] >= 0).all() and d.X["horizon_days"].nunique() > 100
    full = retail_result.customers.set_index("customer_id")["segment"]
    assert (d.y == full.loc[d.y.index]).all()


def test_time_split_by_acquisition(retail_data, retail_split):
    s = retail_split
    acquired = retail_data.acquired
    assert 250 <= len(s.test) <= 400
    assert (acquired.loc[s.test] >= s.cutoff).all()
    assert (acquired.loc[s.train] < s.cutoff).all()
    assert len(s.train) + len(s.test) == len(acquired)
    explicit = time_split(acquired, cutoff="2011-03-01")
    assert explicit.cutoff == pd.Timestamp("2011-03-01")
    assert acquired.loc[explicit.test].min() >= pd.Timestamp("2011-03-01")
    with pytest.raises(ConfigError, match="cut-off"):
        time_split(acquired, cutoff="2009-01-01")
    with pytest.raises(ConfigError, match="cut-off"):
        time_split(acquired, cutoff="2030-01-01")
    with pytest.raises(ConfigError, match=r"none would be left to train on\. Fix: give a "
                                          "smaller --test-size"):
        time_split(acquired.head(10), n_test=300)


def test_a_split_that_fails_names_the_cutoffs_that_would_work():
    # 40 customers acquired on 2011-01-03, then one a day: 50 are before 2011-01-14.
    days = pd.to_datetime(["2011-01-03"] * 40 + [f"2011-01-{d:02d}" for d in range(4, 31)])
    acquired = pd.Series(days, index=[f"C{i}" for i in range(len(days))])
    with pytest.raises(ConfigError, match=r"leaves 40 training and 27 test customers \(need "
                       r"at least 50 and 1\)\. Fix: a --cutoff from 2011-01-14 to 2011-01-30, "
                       r"or a --test-size of at most 17$"):
        time_split(acquired, n_test=27)
    with pytest.raises(ConfigError, match=r"Fix: a --cutoff from 2011-01-14 to 2011-01-30$"):
        time_split(acquired, cutoff="2011-02-01")
    assert len(time_split(acquired, n_test=17).train) == 50
    # Every customer acquired on one day (a log's first day): no cut-off can split them.
    with pytest.raises(ConfigError, match=r"Fix: no cut-off can: the 40 eligible customers "
                       r"were acquired on 1 day\(s\), and at least 50 must come before it"):
        time_split(acquired.head(40), n_test=10)


def test_no_eligible_customer_says_which_rule_left_none(retail_result):
    # Nobody has three orders (a log of one-time buyers): the window is the fix; some
    # have them but too recently: the horizon is.
    from segwise.predict import EarlyWindow

    with pytest.raises(InputError, match=r"none of the [\d,]+ customers has a complete window "
                                         r"\(first 300 orders\)\. Fix: use a shorter window"):
        build_dataset(retail_result, window=EarlyWindow(n_orders=300))
    with pytest.raises(InputError, match=r"[\d,]+ of [\d,]+ customers have a complete window "
                                         r"\(first 3 orders\), but none has 900 days observed"):
        build_dataset(retail_result, horizon_days=900)


def test_schema_check_names_the_columns(retail_data, retail_split, small_assigner):
    X = retail_data.X.loc[retail_split.train[:600]]
    est = clone(small_assigner).fit(X, retail_data.y.loc[X.index])
    assert est.feature_schema_["country"] == "categorical"
    proba = est.predict_proba(X.head(50))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    with pytest.raises(InputError, match=r"missing column.*country"):
        est.predict(X.drop(columns="country"))
    with pytest.raises(InputError, match=r"unexpected column.*basket_entropy"):
        est.predict(X.assign(basket_entropy=1.0))
    with pytest.raises(InputError, match=r"wrong kind: n_orders \(categorical"):
        est.predict(X.assign(n_orders="three"))
    # Column order does not matter; unseen countries are handled.
    shuffled = X[X.columns[::-1]].head(20).assign(country="Atlantis")
    assert len(est.predict(shuffled)) == 20


def test_assigner_is_deterministic_and_clonable(retail_data, retail_split, small_assigner):
    X = retail_data.X.loc[retail_split.train[:600]]
    y = retail_data.y.loc[X.index]
    a = clone(small_assigner).fit(X, y).predict_proba(X.head(100))
    b = clone(small_assigner).fit(X, y).predict_proba(X.head(100))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match="unknown model"):
        SegmentAssigner("svm").fit(X, y)


def test_array_input_and_fewer_members_than_folds():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.array(["a"] * 19 + ["b"] * 19 + ["c"] * 2)
    X[:19] += 3
    # "c" has 2 members: 2 calibration folds.
    est = SegmentAssigner(max_iter=10, calibration="isotonic").fit(X, y)
    assert list(est.classes_) == ["a", "b", "c"]
    with pytest.warns(UserWarning, match="too small for SMOTE"):
        SegmentAssigner("vote", max_iter=10, smote=True, calibration="isotonic").fit(X, y)
    assert est.predict_proba(X).shape == (40, 3)
    with pytest.raises(ValueError, match="3 features"):
        est.predict(X[:, :2])


def test_evaluation_beats_majority_and_reports_everything(
    retail_data, retail_split, small_assigner
):
    report = evaluate_assigner(
        retail_data, retail_split,
        {"hgb": small_assigner, "hgb, isotonic": clone(small_assigner).set_params(
            calibration="isotonic")},
        n_repeats=1,
    )
    t = report.table
    assert list(t.index) == ["hgb", "hgb, isotonic", "baseline: majority class",
                             "baseline: RFM rules on the window"]
    assert t.loc["hgb", "macro_f1"] > t.loc["baseline: majority class", "macro_f1"] + 0.1
    assert np.isfinite(t.loc["hgb", "log_loss"])
    # Segments with fewer than 10 training customers are merged, on both sides.
    assert OTHER in report.per_segment.index or not report.merged
    assert int(report.confusion.to_numpy().sum()) == report.n_test == len(retail_split.test)
    assert report.per_segment["support"].sum() == report.n_test
    assert set(report.importance.index) == set(retail_data.X.columns)
    d = report.to_dict()
    assert d["n_test"] == report.n_test and len(d["table"]) == 4
    # The gap to each baseline is the difference of the table's macro-F1, with an
    # interval around it.
    gaps = report.gaps
    assert list(gaps.index) == ["baseline: majority class", "baseline: RFM rules on the window"]
    for base, row in gaps.iterrows():
        assert row["gap"] == pytest.approx(t.loc["hgb", "macro_f1"] - t.loc[base, "macro_f1"])
        assert row["lower"] <= row["gap"] <= row["upper"]
    assert len(d["gaps"]) == 2


@given(
    st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("abcde"),
                       st.sampled_from("abcde")), min_size=1, max_size=60)
)
@settings(max_examples=40, deadline=None)
def test_macro_f1_gap_matches_scikit_learn(rows: list[tuple[str, str, str]]) -> None:
    y, a, b = (np.array(col) for col in zip(*rows, strict=True))
    labels = np.unique(y)
    gap = macro_f1_gap(y, a, b, labels, n_resamples=50)

    def f1(pred: np.ndarray) -> float:
        return float(f1_score(y, pred, labels=labels, average="macro", zero_division=0))

    assert gap["gap"] == pytest.approx(f1(a) - f1(b))
    assert gap["lower"] <= gap["upper"]
    same = macro_f1_gap(y, a, a, labels, n_resamples=50)
    assert same == {"gap": 0.0, "lower": 0.0, "upper": 0.0}


def test_macro_f1_gap_interval_excludes_zero_only_for_a_real_difference() -> None:
    rng = np.random.default_rng(0)
    y = rng.choice(list("abc"), 400)
    noisy = np.where(rng.random(400) < 0.5, y, rng.choice(list("abc"), 400))
    better = macro_f1_gap(y, y, noisy, np.unique(y))
    assert better["lower"] > 0.2
    coin = macro_f1_gap(y, rng.choice(list("abc"), 400), rng.choice(list("abc"), 400),
                        np.unique(y))
    assert coin["lower"] < 0 < coin["upper"]


@pytest.mark.slow
def test_any_labels_such_as_learned_clusters(retail_result):
    labels = cluster_labels(retail_result, n_clusters=4)
    data = build_dataset(retail_result, labels=labels)
    assert data.rules is None  # no rules baseline for labels that are not RFM segments
    assert set(data.y) <= set(labels)
    report = evaluate_assigner(
        data, time_split(data.acquired), {"hgb": SegmentAssigner(max_iter=20, cv=2)},
        n_repeats=1,
    )
    assert "baseline: RFM rules on the window" not in report.table.index
    assert (report.table.loc["hgb", "macro_f1"]
            > report.table.loc["baseline: majority class", "macro_f1"])


def test_labels_of_one_segment_among_the_training_customers_are_refused(retail_result):
    # Labels from elsewhere that put every training customer in one segment (another, seen
    # only among the new customers, is merged into Other): no model learns one class, and
    # the estimator's own error said nothing of the labels, the cut-off or the fix.
    ids = retail_result.customers["customer_id"]
    data = build_dataset(retail_result, labels=pd.Series("Regular", index=ids.to_numpy()))
    split = time_split(data.acquired)
    data.y.loc[split.test[:3]] = "VIP"
    with pytest.raises(InputError, match=r"all [\d,]+ training customers \(acquired before "
                       r"2011-\d\d-\d\d\) are in one segment, 'Regular' \(VIP: fewer than 10 "
                       r"training customers, merged into 'Other'\): there is nothing to tell "
                       r"apart\. Fix: labels with two segments or more"):
        evaluate_assigner(data, split, {"hgb": SegmentAssigner(max_iter=20, cv=2)}, n_repeats=1)


def _imbalanced(n_rare: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping classes, one rare: where the class weights decide."""
    rng = np.random.default_rng(seed)
    X = np.r_[rng.normal(0, 1, (300, 2)), rng.normal(1, 1, (n_rare, 2))]
    y = np.array(["common"] * 300 + ["rare"] * n_rare)
    return X, y


def test_sqrt_balanced_weights_are_the_square_root_of_balanced():
    X, y = _imbalanced()
    balanced = np.array([len(y) / (2 * 300), len(y) / (2 * 12)])
    est = SegmentAssigner("logistic").fit(X, y)
    assert est.class_weight == "sqrt_balanced"  # the default
    weights = est.estimator_[-1].class_weight  # keyed by class code
    np.testing.assert_allclose([weights[0], weights[1]], np.sqrt(balanced))
    # The vote's three members get the same weights.
    vote = SegmentAssigner("vote", max_iter=10, n_estimators=10).fit(X, y)
    for member in vote.estimator_.estimators_:
        assert member[-1].class_weight == weights
    # A dict by class label reaches every model by code; SMOTE balances, so weights are too.
    by_label = SegmentAssigner("hgb", max_iter=10, class_weight={"rare": 5.0}).fit(X, y)
    assert by_label.estimator_[-1].class_weight == {0: 1.0, 1: 5.0}
    smote = SegmentAssigner("logistic", smote=True).fit(X, y)
    assert smote.estimator_[-1].class_weight == "balanced"
    with pytest.raises(ConfigError, match="class_weight"):
        SegmentAssigner("logistic", class_weight="sqrt").fit(X, y)


def test_stronger_class_weights_predict_the_rare_class_more_often():
    X, y = _imbalanced()
    n_rare = [
        int((SegmentAssigner("logistic", class_weight=cw).fit(X, y).predict(X) == "rare").sum())
        for cw in (None, "sqrt_balanced", "balanced")
    ]
    assert n_rare[0] < n_rare[1] < n_rare[2]


def test_vote_is_the_mean_of_its_members(retail_data, retail_split, small_assigner):
    X = retail_data.X.loc[retail_split.train[:600]]
    est = clone(small_assigner).fit(X, retail_data.y.loc[X.index])
    assert est.model == "vote"
    members = est.estimator_.estimators_
    assert [m[-1].__class__.__name__ for m in members] == [
        "HistGradientBoostingClassifier", "RandomForestClassifier", "LogisticRegression"]
    test = retail_data.X.loc[retail_split.test]
    mean = np.mean([m.predict_proba(est._prepare(test)) for m in members], axis=0)
    np.testing.assert_allclose(est.predict_proba(test), mean)
    # The largest over members: boosting rounds, trees, solver iterations.
    hgb, forest, logistic = (m[-1] for m in members)
    assert est.n_iter_ == max(hgb.n_iter_, len(forest.estimators_), int(logistic.n_iter_.max()))
    assert len(forest.estimators_) == 50


def test_rolling_folds_chain_forward_in_acquisition_order(retail_data, retail_split):
    acquired = retail_data.acquired.loc[retail_split.train]
    folds = rolling_folds(acquired, n_folds=3, fold_size=100)
    assert len(folds) == 3
    seen = pd.Index([])
    for fold in folds:
        assert 80 <= len(fold.test) <= 120  # blocks end on day boundaries
        assert (acquired.loc[fold.train] < fold.cutoff).all()
        assert (acquired.loc[fold.test] >= fold.cutoff).all()
        assert len(seen.intersection(fold.test)) == 0
        seen = seen.union(fold.test)
    # The blocks are the latest customers, back to back, up to the last one.
    assert folds[1].cutoff > folds[0].cutoff
    assert acquired.loc[folds[0].test].max() < folds[1].cutoff
    assert acquired.idxmax() in folds[-1].test
    assert len(folds[0].train) + len(seen) == len(acquired)
    with pytest.raises(ConfigError, match="too few"):
        rolling_folds(acquired.head(300), n_folds=3, fold_size=100)


def test_validation_never_reads_the_test_customers(retail_data, retail_split):
    est = {"hgb": SegmentAssigner("hgb", max_iter=10)}
    table = validate_assigner(retail_data, retail_split.train, est, n_folds=2, fold_size=100)
    assert list(table.index) == ["hgb", "baseline: majority class",
                                 "baseline: RFM rules on the window"]
    assert list(table.columns) == ["fold_1", "fold_2", "mean_macro_f1", "pooled_macro_f1",
                                   "accuracy"]
    assert (table["mean_macro_f1"] == table[["fold_1", "fold_2"]].mean(axis=1)).all()
    assert table.loc["hgb", "pooled_macro_f1"] > table.loc["baseline: majority class",
                                                           "pooled_macro_f1"]
    # Scrambling the test customers' features and labels changes nothing.
    test = retail_split.test
    X = retail_data.X.copy()
    X.loc[test, "net_spend"] = -1.0
    y = retail_data.y.copy()
    y.loc[test] = "Champions"
    scrambled = replace(retail_data, X=X, y=y)
    pd.testing.assert_frame_equal(
        validate_assigner(scrambled, retail_split.train, est, n_folds=2, fold_size=100), table)


def test_default_candidates_put_the_validated_choice_first():
    cands = default_candidates()
    name, chosen = next(iter(cands.items()))
    assert name == "grid (chosen)"
    assert (chosen.model, chosen.class_weight, chosen.calibration, chosen.smote) == (
        "grid", "sqrt_balanced", None, False)
    assert cands["grid, balanced weights"].class_weight == "balanced"
    assert {"vote", "hgb", "random_forest", "logistic", "grid, isotonic"} <= set(cands)
    assert not any(c.smote for c in cands.values())  # the grid takes no SMOTE
    vote = default_candidates("vote")
    assert {"vote + SMOTE", "vote, isotonic", "grid"} <= set(vote)
    hgb = default_candidates("hgb", class_weight="balanced", compare=True)
    assert hgb["hgb, sqrt_balanced weights"].class_weight == "sqrt_balanced"
    assert hgb["vote"].class_weight == "balanced"


def test_grid_sums_its_cells_into_the_segments_of_the_map(
    retail_data, retail_split, small_grid, small_assigner
):
    ids = retail_split.train[:600]
    X, test = retail_data.X.loc[ids], retail_data.X.loc[retail_split.test]
    y = merge_rare(retail_data.y, ids, 10)[0].loc[ids].to_numpy()
    est = fit_candidate(clone(small_grid), X, y, retail_data.cells)
    assert est.model == "grid" and OTHER in est.classes_
    # Each score cell belongs to the segment the map names (merged segments: Other).
    lookup = SegmentMap().lookup()
    assert list(est.cells_) == sorted(retail_data.cells.loc[ids].unique())
    assert [lookup[c] if lookup[c] in est.classes_ else OTHER for c in est.cells_] == list(
        est.cell_classes_)
    # A segment's probability is the sum of its cells' (the vote over cells).
    proba = est.predict_proba(test)
    cell_proba = est.estimator_.estimator_.predict_proba(est._prepare(test))
    assert cell_proba.shape[1] == len(est.cells_)
    summed = np.column_stack([cell_proba[:, est.cell_classes_ == c].sum(axis=1)
                              for c in est.classes_])
    np.testing.assert_allclose(proba, summed)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (est.predict(test) == est.classes_[proba.argmax(axis=1)]).all()
    # Without cells every segment is its own cell: the grid is the vote.
    np.testing.assert_allclose(
        clone(small_grid).fit(X, y).predict_proba(test),
        clone(small_assigner).fit(X, y).predict_proba(test))


def test_grid_weights_cells_by_their_class_and_checks_its_cells():
    X, y = _imbalanced()
    cells = np.where(y == "rare", "r", np.where(X[:, 0] > 0, "c1", "c2"))
    est = SegmentAssigner(max_iter=10, n_estimators=10).fit(X, y, cells=cells)
    assert list(est.cells_) == ["c1", "c2", "r"]
    assert list(est.cell_classes_) == ["common", "common", "rare"]
    w = np.sqrt([len(y) / (2 * 300), len(y) / (2 * 12)])
    for member in est.estimator_.estimator_.estimators_:  # every cell gets its class's weight
        np.testing.assert_allclose(list(member[-1].class_weight.values()), [w[0], w[0], w[1]])
    # Calibration folds are stratified by class; the cells follow each fold.
    cal = SegmentAssigner(max_iter=10, n_estimators=10, calibration="sigmoid",
                          cv=2).fit(X, y, cells=cells)
    assert all(list(c.estimator.cells_) == ["c1", "c2", "r"]
               for c in cal.estimator_.calibrated_classifiers_)
    np.testing.assert_allclose(cal.predict_proba(X).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="nested"):
        SegmentAssigner(max_iter=10).fit(X, y, cells=np.where(X[:, 0] > 0, "a", "b"))
    with pytest.raises(ConfigError, match="grid model only"):
        SegmentAssigner("hgb", max_iter=10).fit(X, y, cells=cells)
    with pytest.raises(ConfigError, match="SMOTE"):
        SegmentAssigner(smote=True).fit(X, y)


def test_a_votes_member_is_that_model_fitted_alone(retail_data, retail_split, small_assigner):
    X = retail_data.X.loc[retail_split.train]
    y = retail_data.y.loc[retail_split.train].to_numpy()
    X_te = retail_data.X.loc[retail_split.test]
    vote = clone(small_assigner).fit(X, y)
    for model in ("hgb", "random_forest", "logistic"):
        alone = clone(small_assigner).set_params(model=model).fit(X, y)
        taken = vote.member(model)
        assert taken.get_params() == alone.get_params()
        np.testing.assert_array_equal(taken.predict_proba(X_te), alone.predict_proba(X_te))
        assert taken.n_iter_ == alone.n_iter_ and list(taken.classes_) == list(alone.classes_)
    with pytest.raises(ConfigError, match="uncalibrated vote"):
        alone.member("hgb")


def test_candidates_reuse_a_votes_members(retail_data, retail_split, small_assigner):
    X = retail_data.X.loc[retail_split.train]
    y = retail_data.y.loc[retail_split.train].to_numpy()
    cands = {"vote": small_assigner, "hgb": clone(small_assigner).set_params(model="hgb"),
             "hgb, balanced": clone(small_assigner).set_params(model="hgb",
                                                               class_weight="balanced")}
    fitted = fit_candidates(cands, X, y, retail_data.cells)
    # Same parameters but the model: taken from the vote; other weights: fitted.
    assert fitted["hgb"].estimator_ is fitted["vote"].estimator_.named_estimators_["hgb"]
    assert fitted["hgb, balanced"].estimator_ is not fitted["hgb"].estimator_
    assert fitted["hgb, balanced"].class_weight == "balanced"


def test_candidates_fitted_in_processes_are_those_fitted_here(retail_data, retail_split,
                                                               small_grid, small_assigner):
    X = retail_data.X.loc[retail_split.train]
    y, _ = merge_rare(retail_data.y, retail_split.train, 10)
    y = y.loc[X.index].to_numpy()
    X_te = retail_data.X.loc[retail_split.test]
    cands = {"grid": small_grid,
             "grid, isotonic": clone(small_grid).set_params(calibration="isotonic"),
             "vote": small_assigner, "hgb": clone(small_assigner).set_params(model="hgb")}
    here = fit_candidates(cands, X, y, retail_data.cells)
    there = fit_candidates(cands, X, y, retail_data.cells, n_jobs=2)
    assert list(there) == list(cands)
    for name, est in here.items():
        assert there[name].get_params() == est.get_params()
        np.testing.assert_array_equal(there[name].predict_proba(X_te), est.predict_proba(X_te))
    assert there["hgb"].estimator_ is there["vote"].estimator_.named_estimators_["hgb"]
    with pytest.raises(ConfigError, match="number of processes"):
        fit_candidates(cands, X, y, retail_data.cells, n_jobs=0)


def test_a_fits_warnings_reach_the_caller_from_its_process(retail_data, retail_split,
                                                          small_assigner):
    X = retail_data.X.loc[retail_split.train]
    y = np.where(np.arange(len(X)) == 0, "Alone", "Crowd")  # one segment, one member
    cands = {"vote, isotonic": clone(small_assigner).set_params(calibration="isotonic"),
             "logistic, sigmoid": clone(small_assigner).set_params(model="logistic",
                                                                   calibration="sigmoid")}
    with pytest.warns(SegwiseWarning, match="single member") as caught:
        fit_candidates(cands, X, y, None, n_jobs=2)
    assert sum("single member" in str(w.message) for w in caught) == 2


def test_permutation_importance_is_scikit_learns_in_one_prediction(
    retail_data, retail_split, small_grid, monkeypatch
):
    from sklearn.inspection import permutation_importance as sklearn_importance

    X = retail_data.X.loc[retail_split.train]
    y, _ = merge_rare(retail_data.y, retail_split.train, 10)
    est = fit_candidate(clone(small_grid), X, y.loc[X.index].to_numpy(), retail_data.cells)
    X_te = retail_data.X.loc[retail_split.test]
    y_te = y.loc[X_te.index].to_numpy()
    expected = sklearn_importance(est, X_te, y_te, scoring="f1_macro", n_repeats=3,
                                  random_state=4)
    calls = []
    predict = SegmentAssigner.predict
    monkeypatch.setattr(SegmentAssigner, "predict",
                        lambda self, X: calls.append(len(X)) or predict(self, X))
    mean, sd = permutation_importance(est, X_te, y_te, n_repeats=3, random_state=4)
    np.testing.assert_array_equal(mean, expected.importances_mean)
    np.testing.assert_array_equal(sd, expected.importances_std)
    assert calls == [len(X_te) * (1 + 3 * X_te.shape[1])]  # one prediction of every copy
def test_evaluation_says_when_it_is_not_meaningful() -> None:
    from segwise.predict import evaluation_caveat

    one = np.array(["Lost"] * 40)
    note = evaluation_caveat(one, {"baseline: majority class": one})
    assert note is not None
    assert "every one of the 40 new customers is in the same segment ('Lost')" in note
    y = np.array(["Lost", "Champions", "Lost", "New"])
    perfect = evaluation_caveat(y, {"baseline: majority class": np.array(["Lost"] * 4),
                                    "baseline: RFM rules on the window": y.copy()})
    assert perfect is not None and perfect.startswith("the RFM rules on the window baseline")
    assert evaluation_caveat(y, {"baseline: majority class": np.array(["Lost"] * 4)}) is None


def test_a_one_segment_test_set_is_reported_as_not_meaningful(
    retail_data, retail_split, small_assigner
):
    from segwise.predict import TimeSplit

    y = retail_data.y
    top = y.loc[retail_split.test].value_counts().index[0]
    test = pd.Index([i for i in retail_split.test if y.loc[i] == top])
    split = TimeSplit(cutoff=retail_split.cutoff, train=retail_split.train, test=test)
    report = evaluate_assigner(retail_data, split, {"hgb": small_assigner}, n_repeats=1)
    assert not report.meaningful and f"('{top}')" in str(report.caveat)
    assert report.to_dict()["caveat"] == report.caveat
