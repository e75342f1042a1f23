"""The Segmenter estimator: the scikit-learn contract, every algorithm on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import adjusted_rand_score, calinski_harabasz_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from segwise.exceptions import SegwiseWarning
from segwise.segment import ALGORITHMS, Segmenter, signed_log1p
from segwise.segment._cluster import knee_point, ward_labels

RFM = ["recency_days", "frequency", "monetary"]

# Every check applies and passes, for every algorithm; nothing is expected to fail.
# (scikit-learn itself skips check_array_api_input unless SCIPY_ARRAY_API=1 is set:
# the Segmenter works on NumPy arrays only, as its clustering back-ends do.)
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@parametrize_with_checks(
    [*(Segmenter(algorithm=a, random_state=0) for a in ALGORITHMS),
     Segmenter(impute="median", random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_contract(estimator, check) -> None:
    check(estimator)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_each_algorithm_on_online_retail(algorithm: str, retail_rfm: pd.DataFrame) -> None:
    seg = Segmenter(4, algorithm=algorithm, random_state=0).fit(retail_rfm)
    labels = seg.labels_
    found = np.unique(labels[labels >= 0])
    # Canonical labels: 0..n_clusters_-1, noise only as -1.
    assert found.tolist() == list(range(seg.n_clusters_))
    assert set(np.unique(labels)) <= {-1, *found.tolist()}
    if algorithm not in {"hdbscan", "dbscan"}:
        assert seg.n_clusters_ == 4
        assert (labels >= 0).all()
    assert seg.n_clusters_ >= 2
    # Ordered by mean monetary value, and the order says something real: the top segment
    # spends several times what the bottom one does.
    money = retail_rfm["monetary"].to_numpy()
    means = np.array([money[labels == c].mean() for c in found])
    assert np.all(np.diff(means) > 0)
    np.testing.assert_allclose(seg.segment_values_, means)
    assert np.median(money[labels == found[-1]]) > 3 * np.median(money[labels == found[0]])
    # New customers are scored on the same scale: the training rows mostly keep their label.
    agree = (seg.predict(retail_rfm) == labels).mean()
    assert agree > (0.95 if algorithm != "dbscan" else 0.9)
    assert seg.cluster_centers_.shape == (seg.n_clusters_, 3)


def test_algorithms_find_related_structure(retail_rfm: pd.DataFrame) -> None:
    ref = Segmenter(4, random_state=0).fit_predict(retail_rfm)
    for algorithm in ("gmm", "ward", "som"):
        other = Segmenter(4, algorithm=algorithm, random_state=0).fit_predict(retail_rfm)
        assert adjusted_rand_score(ref, other) > 0.3, algorithm


@pytest.mark.parametrize("algorithm", ["hdbscan", "dbscan"])
def test_density_methods_keep_noise_as_its_own_group(
    algorithm: str, retail_rfm: pd.DataFrame
) -> None:
    # 15 customers far beyond anyone real: too few to be a segment (HDBSCAN's minimum is 2 %
    # of customers), too sparse to be dense (DBSCAN).
    rng = np.random.default_rng(0)
    outliers = pd.DataFrame({
        "recency_days": rng.uniform(0, 5, 15),
        "frequency": rng.uniform(2_000, 50_000, 15),
        "monetary": -rng.uniform(1e6, 1e8, 15),
    })
    X = pd.concat([retail_rfm, outliers], ignore_index=True)
    seg = Segmenter(algorithm=algorithm, random_state=0).fit(X)
    labels = seg.labels_
    assert (labels[-15:] == -1).all()
    assert (labels == -1).sum() < 0.5 * len(X)
    assert seg.n_clusters_ == len(np.unique(labels[labels >= 0])) >= 2
    assert seg.cluster_centers_.shape[0] == seg.n_clusters_  # noise has no centre
    assert (seg.predict(outliers) == -1).all()


@pytest.mark.parametrize("algorithm", ["ward", "hdbscan", "som"])
def test_large_n_fits_a_sample_and_assigns_the_rest(
    algorithm: str, retail_rfm: pd.DataFrame
) -> None:
    seg = Segmenter(4, algorithm=algorithm, max_fit_samples=800, random_state=0).fit(retail_rfm)
    labels = seg.labels_
    assert len(labels) == len(retail_rfm)
    # Every row was assigned by the predict rule, so predict reproduces labels_ exactly.
    np.testing.assert_array_equal(seg.predict(retail_rfm), labels)
    # Fitting on a fifth of the customers loses little separation against the full fit
    # (Ward itself moves a lot between samples, so the partitions are not compared).
    full = Segmenter(4, algorithm=algorithm, random_state=0).fit(retail_rfm)
    Z = seg.transform(retail_rfm)
    sampled_ch = calinski_harabasz_score(Z[labels >= 0], labels[labels >= 0])
    full_ch = calinski_harabasz_score(Z[full.labels_ >= 0], full.labels_[full.labels_ >= 0])
    assert sampled_ch > 0.8 * full_ch


def _cdnow_rfm(cdnow_raw: pd.DataFrame) -> pd.DataFrame:
    days = pd.to_datetime(cdnow_raw["date"], format="%Y%m%d")
    return cdnow_raw.assign(date=days).groupby("customer_id").agg(
        recency_days=("date", lambda d: (pd.Timestamp("1998-07-01") - d.max()).days),
        frequency=("date", "nunique"), monetary=("dollars", "sum"))


@pytest.mark.parametrize("data", ["online retail", "cdnow"])
def test_ward_is_scikit_learns_ward(data: str, retail_rfm: pd.DataFrame,
                                    cdnow_raw: pd.DataFrame) -> None:
    # scikit-learn's (SciPy's) tree is the oracle, at six k, on Online Retail's 4,333
    # customers and on CDNOW's 2,357, among whom whole-day recencies and integer
    # frequencies make 95 customers duplicates of others and tie many distances.
    X = retail_rfm if data == "online retail" else _cdnow_rfm(cdnow_raw)
    Z = Segmenter(algorithm="ward").fit_model_space(X)
    for k in (2, 3, 4, 6, 10, 40):
        expected = AgglomerativeClustering(k, linkage="ward").fit_predict(Z)
        assert adjusted_rand_score(expected, ward_labels(Z, k)) == 1.0, k


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=2, max_size=40),
       st.data())
def test_ward_cuts_one_tree_into_k_nested_groups(rows: list[tuple[int, int]],
                                                 data: st.DataObject) -> None:
    Z = np.array(rows, dtype=np.float64)  # small integers: ties and duplicate rows
    k = data.draw(st.integers(1, len(Z) - 1))
    coarse, fine = ward_labels(Z, k), ward_labels(Z, k + 1)
    assert sorted(np.unique(coarse)) == list(range(k))
    assert len(np.unique(fine)) == k + 1
    # One tree: each group at k + 1 lies inside one group at k.
    assert all(len(np.unique(coarse[fine == g])) == 1 for g in range(k + 1))
    # Identical rows share a group unless k exceeds the distinct rows.
    if k <= len(np.unique(Z, axis=0)):
        _, first = np.unique(Z, axis=0, return_inverse=True)
        assert all(len(np.unique(coarse[first.ravel() == r])) == 1 for r in np.unique(first))


def test_fixed_seed_gives_identical_labels(retail_rfm: pd.DataFrame) -> None:
    for algorithm in ("kmeans", "gmm", "som"):
        a = Segmenter(5, algorithm=algorithm, random_state=3).fit_predict(retail_rfm)
        b = Segmenter(5, algorithm=algorithm, random_state=3).fit_predict(retail_rfm)
        np.testing.assert_array_equal(a, b)


def test_canonical_order_without_a_value_column(retail_rfm: pd.DataFrame) -> None:
    # A NumPy array has no "monetary" column: segments follow the first principal component,
    # whose sign is fixed, so the order is still reproducible and monotone on that axis.
    X = retail_rfm.to_numpy()
    seg = Segmenter(4, random_state=0).fit(X)
    assert np.all(np.diff(seg.segment_values_) > 0)
    # Same partition as the DataFrame fit; only the numbering rule differs.
    by_money = Segmenter(4, random_state=0).fit_predict(retail_rfm)
    assert adjusted_rand_score(by_money, seg.labels_) == pytest.approx(1.0)


def test_labels_follow_the_order_by_column(retail_rfm: pd.DataFrame) -> None:
    by_money = Segmenter(4, random_state=0).fit_predict(retail_rfm)
    by_freq = Segmenter(4, random_state=0, order_by="frequency").fit(retail_rfm)
    freq = retail_rfm["frequency"].to_numpy()
    assert np.all(np.diff([freq[by_freq.labels_ == c].mean() for c in range(4)]) > 0)
    assert adjusted_rand_score(by_money, by_freq.labels_) == pytest.approx(1.0)


@pytest.mark.parametrize("algorithm", ["kmeans", "gmm", "ward", "hdbscan", "som"])
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1))
def test_permuting_customers_does_not_change_the_partition(
    algorithm: str, seed: int, retail_small: pd.DataFrame
) -> None:
    X = retail_small[RFM]
    est = Segmenter(4, algorithm=algorithm, random_state=0, som_iterations=2000)
    labels = clone(est).fit_predict(X)
    perm = np.random.default_rng(seed).permutation(len(X))
    permuted = clone(est).fit_predict(X.iloc[perm])
    # Canonical labels make this an exact equality, not just the same partition.
    np.testing.assert_array_equal(permuted, labels[perm])


@pytest.mark.parametrize("algorithm", ["kmeans", "minibatch_kmeans", "gmm", "ward", "som"])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_identical_customers_share_a_segment_when_k_exceeds_them(algorithm: str) -> None:
    # Three kinds of customer, twenty of each, four segments asked for: Ward split the
    # twenty identical rows of one kind in two, and predict() put them back together.
    X = pd.DataFrame({"recency_days": [5.0, 40, 200] * 20, "frequency": [9.0, 3, 1] * 20,
                      "monetary": [900.0, 150, 20] * 20})
    est = Segmenter(4, algorithm=algorithm, random_state=0)
    if algorithm == "som":  # it alone did not say that it found fewer
        with pytest.warns(SegwiseWarning, match=r"the SOM's customers landed on 3 of its 100 "
                          r"map units \(10 x 10\), so it forms 3 segment\(s\), not 4\. Fix: "
                          r"ask for 3 or fewer \(or, from Python, a larger map: som_shape\)"):
            labels = est.fit_predict(X)
    else:
        labels = est.fit_predict(X)
    assert [len(set(labels[kind::3])) for kind in range(3)] == [1, 1, 1]
    assert sorted(set(labels)) == [0, 1, 2]
    np.testing.assert_array_equal(est.predict(X), labels)


def test_negative_and_zero_money_are_transformed(retail_rfm: pd.DataFrame) -> None:
    assert (retail_rfm["monetary"] <= 0).any()  # returns netted out: the case that matters
    for transform in ("log1p", "yeo-johnson"):
        seg = Segmenter(4, skew_transform=transform, random_state=0).fit(retail_rfm)
        Z = seg.transform(retail_rfm)
        assert np.isfinite(Z).all()
        assert abs(Z.mean()) < 1e-6  # standard scaling after the transformation
    np.testing.assert_allclose(signed_log1p(np.array([-np.e + 1, 0.0, np.e - 1])), [-1, 0, 1])


def test_robust_scaling_and_pca(retail_customers: pd.DataFrame) -> None:
    cols = [*RFM, "tenure_days", "avg_order_value"]
    seg = Segmenter(4, scaler="robust", n_components=2, random_state=0).fit(retail_customers[cols])
    assert seg.transform(retail_customers[cols]).shape == (len(retail_customers), 2)
    assert seg.n_clusters_ == 4


def test_bad_parameters_are_refused(retail_small: pd.DataFrame) -> None:
    X = retail_small[RFM]
    with pytest.raises(ValueError, match="unknown algorithm"):
        Segmenter(algorithm="spectral").fit(X)
    with pytest.raises(ValueError, match="skew_transform"):
        Segmenter(skew_transform="sqrt").fit(X)
    with pytest.raises(ValueError, match="n_clusters"):
        Segmenter(0).fit(X)


def test_knee_point_finds_the_elbow() -> None:
    k = np.arange(2, 11)
    inertia = np.array([100, 60, 30, 26, 23, 21, 19.5, 18, 17])  # bends at k=4
    assert k[knee_point(k, inertia)] == 4
    assert knee_point(k[:2], inertia[:2]) == 0
    increasing = np.sort(np.r_[np.linspace(0, 1, 50), [5, 10, 20]])
    assert knee_point(np.arange(len(increasing)), increasing) >= 49


@pytest.mark.parametrize(("shape", "n_features", "iterations"),
                         [((10, 10), 3, 5000), ((4, 7), 5, 1500), ((6, 6), 1, 700)])
def test_compiled_som_training_gives_minisom_weights(
    retail_small: pd.DataFrame, shape: tuple[int, int], n_features: int, iterations: int,
) -> None:
    """The compiled trainer takes MiniSom's steps: same order, winners, decay and updates."""
    from minisom import MiniSom

    from segwise.segment._som import train_som

    Z = Segmenter(random_state=0).fit_transform(retail_small[RFM])
    rng = np.random.default_rng(3)
    data = np.hstack([Z, rng.normal(size=(len(Z), 2))])[:, :n_features]
    maps = [MiniSom(*shape, n_features, sigma=2.5, learning_rate=0.5, random_seed=11)
            for _ in range(2)]
    for som in maps:
        som.pca_weights_init(data) if n_features > 1 else som.random_weights_init(data)
    maps[0].train(data, iterations, random_order=True)
    train_som(maps[1], data, iterations)
    # NumPy's vectorised exp and numba's may differ in the last bit; nothing more.
    np.testing.assert_allclose(maps[1].get_weights(), maps[0].get_weights(),
                               rtol=0, atol=1e-12)
    assert not np.array_equal(maps[1].get_weights(), MiniSom(
        *shape, n_features, random_seed=11).get_weights())  # it did train


def test_thread_limits_apply_and_reuse_one_controller() -> None:
    from threadpoolctl import threadpool_info

    from segwise._threads import _controller, thread_limit

    with thread_limit(1):
        assert {p["num_threads"] for p in threadpool_info()} == {1}
    hits = _controller.cache_info().hits
    with thread_limit(1, "openmp"):
        openmp = [p for p in threadpool_info() if p["user_api"] == "openmp"]
        assert openmp and {p["num_threads"] for p in openmp} == {1}
    assert _controller.cache_info().hits == hits + 1  # no new scan of the libraries
def test_set_output_gives_dataframes_indexed_like_the_input(retail_rfm: pd.DataFrame) -> None:
    X = retail_rfm.head(1500)
    seg = Segmenter(3, n_components=2, random_state=0).set_output(transform="pandas")
    Z = seg.fit_transform(X)
    assert isinstance(Z, pd.DataFrame)
    assert Z.index.equals(X.index)
    assert Z.columns.tolist() == ["segmenter0", "segmenter1"]
    assert seg.get_feature_names_out().tolist() == Z.columns.tolist()
    pd.testing.assert_frame_equal(seg.transform(X), Z)
    # The default output is still the array.
    plain = clone(seg).set_output(transform="default").fit(X)
    np.testing.assert_allclose(plain.transform(X), Z.to_numpy())


def test_score_is_the_opposite_of_the_within_segment_sum_of_squares(
    retail_rfm: pd.DataFrame,
) -> None:
    X = retail_rfm.head(1500)
    seg = Segmenter(4, random_state=0).fit(X)
    Z, labels = seg.transform(X), seg.predict(X)
    wss = sum(((Z[labels == c] - Z[labels == c].mean(axis=0)) ** 2).sum()
              for c in range(seg.n_clusters_))
    assert seg.score(X) == pytest.approx(-wss, rel=1e-9)
    # More segments fit tighter (KMeans on the same space), so they score higher.
    assert Segmenter(8, random_state=0).fit(X).score(X) > seg.score(X)


def test_score_counts_noise_at_the_nearest_centre(retail_rfm: pd.DataFrame) -> None:
    X = retail_rfm.head(1500)
    seg = Segmenter(algorithm="hdbscan", random_state=0).fit(X)
    labels = seg.predict(X)
    assert (labels < 0).any()
    Z = seg.transform(X)
    nearest = ((Z[:, None, :] - seg.cluster_centers_[None]) ** 2).sum(axis=2).min(axis=1)
    own = ((Z - seg.cluster_centers_[np.clip(labels, 0, None)]) ** 2).sum(axis=1)
    assert seg.score(X) == pytest.approx(-np.where(labels < 0, nearest, own).sum(), rel=1e-9)


def test_a_frame_that_does_not_fit_the_model_is_told_the_fix(retail_rfm: pd.DataFrame) -> None:
    # Fitted on one frame and given another: scikit-learn named the column but no fix;
    # NaN got advice for supervised models (HistGradientBoosting); a text column was
    # "could not convert string to float: 'a'", naming none.
    from segwise.exceptions import InputError

    model = Segmenter(n_clusters=3, random_state=0).fit(retail_rfm)
    names = ", ".join(retail_rfm.columns)
    for other, said in ((retail_rfm[retail_rfm.columns[::-1]], "must be in the same order"),
                        (retail_rfm.drop(columns="frequency"), "yet now missing:\n- frequency")):
        with pytest.raises(InputError, match=rf"{said}[^$]*\nFix: give the columns the model "
                                             r"was fitted on, in that order: X\[model\.feature_"
                                             rf"names_in_\] \({names}\)$"):
            model.predict(other)
    gap = retail_rfm.astype({"monetary": "Float64"})
    gap.loc[gap.index[3], "monetary"] = pd.NA
    with pytest.raises(ValueError, match=r"^Input X contains NaN\. Fix: drop or fill the rows "
                                         r"with missing values, or fit Segmenter\(impute="):
        model.predict(gap)
    text = retail_rfm.astype({"frequency": object})
    text.loc[text.index[5], "frequency"] = "many"
    with pytest.raises(ValueError, match=r"^column 'frequency' is not a number column \(could "
                                         r"not convert string to float: 'many'\)\. Fix"):
        model.transform(text)
    assert Segmenter(n_clusters=3, impute="median", random_state=0).fit(gap).predict(
        gap).shape == (len(gap),)
