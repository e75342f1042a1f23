"""2-D UMAP and t-SNE coordinates of customers, for plotting segments.

Both methods are fitted on at most ``max_samples`` customers (they are super-linear and
UMAP compiles with numba on first use); every other customer is placed at the mean
position of its nearest embedded neighbours in model space, which is fast and keeps the
picture faithful at the scale of a scatter plot.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_array

from segwise.exceptions import ConfigError

__all__ = ["EMBEDDINGS", "embed_2d", "embed_customers"]

#: Embedding methods by name.
EMBEDDINGS: tuple[str, ...] = ("umap", "tsne")


def _fit_umap(Z: np.ndarray, random_state: int | None) -> np.ndarray:
    import umap

    n_neighbors = min(15, max(2, len(Z) - 1))
    with warnings.catch_warnings():
        # umap warns that a fixed random_state disables parallelism: that is the point.
        warnings.simplefilter("ignore", UserWarning)
        return np.asarray(umap.UMAP(
            n_components=2, n_neighbors=n_neighbors, random_state=random_state, n_jobs=1,
        ).fit_transform(Z), dtype=np.float64)


def _fit_tsne(Z: np.ndarray, random_state: int | None) -> np.ndarray:
    from openTSNE import TSNE

    perplexity = float(min(30.0, max(2.0, (len(Z) - 1) / 3.0)))
    return np.asarray(TSNE(
        n_components=2, perplexity=perplexity, random_state=random_state, n_jobs=1,
        neighbors="exact" if len(Z) < 1000 else "auto",
    ).fit(Z), dtype=np.float64)


def embed_2d(
    Z: Any,
    *,
    method: str = "umap",
    max_samples: int = 50_000,
    n_neighbors: int = 5,
    random_state: int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Embed points in two dimensions.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_dims)
        Points, typically :meth:`segwise.segment.Segmenter.transform` output.
    method : {"umap", "tsne"}, default="umap"
        Embedding method (t-SNE via openTSNE).
    max_samples : int, default=50000
        Largest number of points the method is fitted on.
    n_neighbors : int, default=5
        Embedded neighbours averaged to place each point outside the sample.
    random_state : int or None, default=0
        Seed for the sample and the method: a fixed seed gives identical coordinates.

    Returns
    -------
    coords : ndarray of shape (n_samples, 2)
        Coordinates of every point.
    embedded : ndarray of shape (n_samples,)
        True for points the method saw, False for points placed by their neighbours.
    """
    if method not in EMBEDDINGS:
        raise ConfigError(f"unknown embedding {method!r}; choose from {', '.join(EMBEDDINGS)}")
    Z = check_array(Z, dtype=np.float64, ensure_min_samples=3)
    n = len(Z)
    rng = np.random.default_rng(random_state)
    idx = np.sort(rng.choice(n, max_samples, replace=False)) if n > max_samples \
        else np.arange(n)
    fit = _fit_umap if method == "umap" else _fit_tsne
    sample_coords = fit(Z[idx], random_state)
    coords = np.empty((n, 2), dtype=np.float64)
    coords[idx] = sample_coords
    embedded = np.zeros(n, dtype=bool)
    embedded[idx] = True
    rest = np.flatnonzero(~embedded)
    if len(rest):
        nn = NearestNeighbors(n_neighbors=min(n_neighbors, len(idx))).fit(Z[idx])
        _, near = nn.kneighbors(Z[rest])
        coords[rest] = sample_coords[near].mean(axis=1)
    return coords, embedded


def embed_customers(
    Z: Any,
    *,
    methods: Iterable[str] = EMBEDDINGS,
    max_samples: int = 50_000,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """2-D coordinates of every customer for each method, ready to store and plot.

    Parameters
    ----------
    Z : array-like of shape (n_customers, n_dims)
        Model-space coordinates (:meth:`segwise.segment.Segmenter.transform`).
    methods : iterable of {"umap", "tsne"}, default=("umap", "tsne")
        Methods to run.
    max_samples : int, default=50000
        Largest number of customers each method is fitted on.
    random_state : int or None, default=0
        Seed.

    Returns
    -------
    pandas.DataFrame
        ``<method>_x`` and ``<method>_y`` per method and ``embedded`` (the customer was in
        the fitted sample, rather than placed by its neighbours).
    """
    out: dict[str, np.ndarray] = {}
    embedded = None
    for method in methods:
        coords, embedded = embed_2d(Z, method=method, max_samples=max_samples,
                                    random_state=random_state)
        out[f"{method}_x"], out[f"{method}_y"] = coords[:, 0], coords[:, 1]
    if embedded is not None:
        out["embedded"] = embedded  # the same sample for every method (same seed)
    return pd.DataFrame(out)
