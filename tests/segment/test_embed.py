"""2-D UMAP and t-SNE coordinates stored with the assignments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwise.exceptions import ConfigError
from segwise.segment import MAX_EMBED_SAMPLES, Segmenter, embed_2d, embed_customers

RFM = ["recency_days", "frequency", "monetary"]


@pytest.fixture(scope="module")
def model_space(retail_small: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    seg = Segmenter(4, random_state=0).fit(retail_small[RFM])
    return seg.transform(retail_small[RFM]), seg.labels_


def _separation(coords: np.ndarray, labels: np.ndarray) -> float:
    """Between-segment spread of the centres over mean within-segment spread."""
    centres = np.array([coords[labels == c].mean(axis=0) for c in np.unique(labels)])
    within = np.mean([coords[labels == c].std(axis=0).mean() for c in np.unique(labels)])
    return float(centres.std(axis=0).mean() / within)


def test_tsne_coordinates_for_every_customer(model_space) -> None:
    Z, labels = model_space[0][:300], model_space[1][:300]
    coords, embedded = embed_2d(Z, method="tsne", random_state=0)
    assert coords.shape == (len(Z), 2)
    assert np.isfinite(coords).all()
    assert embedded.all()
    # Segments found in model space stay apart in the picture.
    assert _separation(coords, labels) > 0.5
    again, _ = embed_2d(Z, method="tsne", random_state=0)
    np.testing.assert_array_equal(coords, again)


@pytest.mark.parametrize("method", ["tsne", "umap"])
def test_a_model_space_of_one_feature_is_embedded(model_space, method: str) -> None:
    # Segments on one feature (--features Fresh): t-SNE's default start, the first two
    # principal components, needed two and the command stopped with a traceback.
    seg = Segmenter(3, random_state=0)
    money = model_space[0][:300, -1:]
    labels = seg.fit_predict(money)
    coords, embedded = embed_2d(seg.transform(money), method=method, random_state=0)
    assert coords.shape == (300, 2) and np.isfinite(coords).all() and embedded.all()
    assert _separation(coords, labels) > 0.5
    again, _ = embed_2d(seg.transform(money), method=method, random_state=0)
    np.testing.assert_array_equal(coords, again)


def test_large_n_embeds_a_sample_and_places_the_rest(model_space) -> None:
    Z, labels = model_space
    coords, embedded = embed_2d(Z, method="tsne", max_samples=200, random_state=0)
    assert embedded.sum() == 200
    assert np.isfinite(coords).all()
    # A placed customer lands near the embedded customers of its own segment.
    assert _separation(coords[~embedded], labels[~embedded]) > 0.5


def test_unknown_method_is_refused(model_space) -> None:
    with pytest.raises(ConfigError, match="unknown embedding"):
        embed_2d(model_space[0], method="pca")


@pytest.mark.slow
def test_umap_coordinates_and_umap_space(model_space, retail_small: pd.DataFrame) -> None:
    Z, labels = model_space
    frame = embed_customers(Z, methods=("umap",), random_state=0)
    assert list(frame.columns) == ["umap_x", "umap_y", "embedded"]
    assert np.isfinite(frame[["umap_x", "umap_y"]].to_numpy()).all()
    assert _separation(frame[["umap_x", "umap_y"]].to_numpy(), labels) > 0.5
    # Clustering in a UMAP space: same estimator, UMAP after scaling.
    seg = Segmenter(4, umap_components=3, random_state=0).fit(retail_small[RFM])
    assert seg.transform(retail_small[RFM]).shape == (len(retail_small), 3)
    assert seg.n_clusters_ == 4


def test_embeddings_are_fitted_on_a_sample_of_the_default_size(model_space) -> None:
    rng = np.random.default_rng(0)
    # 2,400 customers, more than the default sample: the 600 four times, a little apart.
    Z = np.vstack([model_space[0]] * 4) + rng.normal(scale=0.05, size=(2400, 3))
    frame = embed_customers(Z, methods=("tsne",), random_state=0)
    assert frame["embedded"].sum() == MAX_EMBED_SAMPLES
    assert np.isfinite(frame[["tsne_x", "tsne_y"]].to_numpy()).all()
    assert embed_customers(Z, methods=(), random_state=0).empty


@pytest.mark.slow
def test_umap_kernels_go_through_numbas_disk_cache() -> None:
    """Compiled once per machine: each kernel is looked up in numba's cache (hit or miss)."""
    import importlib

    from segwise.segment._embed import _UMAP_KERNELS

    embed_2d(np.random.default_rng(0).normal(size=(60, 3)), method="umap")
    for module, name in _UMAP_KERNELS:
        stats = getattr(importlib.import_module(module), name).stats
        assert stats.cache_path, name
        assert sum(stats.cache_hits.values()) + sum(stats.cache_misses.values()) >= 1, name


def test_customers_outside_the_sample_sit_at_their_sampled_neighbours_mean(model_space) -> None:
    from sklearn.neighbors import NearestNeighbors

    Z = model_space[0]
    frame = embed_customers(Z, methods=("tsne",), max_samples=200, random_state=0)
    coords = frame[["tsne_x", "tsne_y"]].to_numpy()
    fitted = frame["embedded"].to_numpy()
    near = NearestNeighbors(n_neighbors=5).fit(Z[fitted]).kneighbors(
        Z[~fitted], return_distance=False)
    np.testing.assert_allclose(coords[~fitted], coords[fitted][near].mean(axis=1), rtol=1e-12)
