"""2-D UMAP and t-SNE coordinates of customers, for plotting segments.

Both methods are fitted on a uniform sample of at most ``max_samples`` customers (2,000 by
default) and every other customer is placed at the mean position of its nearest sampled
neighbours in model space. Both methods cost far more than the clustering itself (t-SNE
about 4 microseconds per point and iteration, UMAP about 2.5 per point and epoch, single
threaded), while a scatter plot of segments is as readable from 2,000 fitted customers as
from all of them: on Online Retail's 4,333 customers, trustworthiness (10 neighbours) is
0.992 for a 2,000 sample against 0.997 / 0.999 for the full fits, at a fifth of the time
(see ``benchmarks/README.md``).

The neighbours both methods start from are exact (scikit-learn's trees are fast in the few
dimensions of a model space); UMAP's numba kernels are cached on disk, so only the first
run on a machine compiles them.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_array

from segwise._parallel import run_calls
from segwise.exceptions import ConfigError

__all__ = ["EMBEDDINGS", "MAX_EMBED_SAMPLES", "embed_2d", "embed_customers"]

#: Embedding methods by name.
EMBEDDINGS: tuple[str, ...] = ("umap", "tsne")
#: Customers each method is fitted on by default; the others are placed by their neighbours.
MAX_EMBED_SAMPLES = 2_000
#: UMAP epochs: what UMAP itself chooses above 10,000 points. On Online Retail the
#: trustworthiness of 200 and 500 epochs is the same to three decimals (0.997).
_UMAP_EPOCHS = 200
#: t-SNE iterations (early exaggeration, then the rest): half of openTSNE's 250 + 500, which
#: its automatic learning rate (n / 12) makes unnecessary at a few thousand points (same
#: trustworthiness to three decimals on Online Retail).
_TSNE_ITERATIONS = (125, 250)
#: Barnes-Hut accuracy of t-SNE's repulsive forces: 0.8 instead of 0.5 is 30 % faster with
#: the same trustworthiness to three decimals on Online Retail.
_TSNE_THETA = 0.8
#: The numba kernels of umap-learn (0.5) that a 2-D fit on precomputed neighbours compiles.
#: umap-learn does not cache them, so every process compiled them again (20-80 s here).
_UMAP_KERNELS = (
    ("umap.umap_", "smooth_knn_dist"),
    ("umap.umap_", "compute_membership_strengths"),
    ("umap.layouts", "_nb_optimize_layout_euclidean_single_epoch"),
)


def cache_umap_kernels() -> None:
    """Let numba keep UMAP's compiled kernels on disk, as ``cache=True`` would.

    numba's cache lives beside the module (``__pycache__``) or, where that is read-only,
    in the user's cache directory (``NUMBA_CACHE_DIR`` overrides both). Only kernels with a
    single compiled variant are listed: numba's cache key does not tell a parallel variant
    from a serial one of the same function. Without a writable location nothing changes.
    """
    from numba.core.dispatcher import Dispatcher

    for module, name in _UMAP_KERNELS:
        kernel = getattr(importlib.import_module(module), name, None)
        if isinstance(kernel, Dispatcher):
            try:
                kernel.enable_caching()
            except RuntimeError:  # numba found no writable cache location
                return


def umap_init(n: int, n_components: int) -> str:
    """UMAP's start: spectral, but random for a handful of points.

    The spectral start solves for ``n_components + 1`` eigenvectors, which a graph of that
    many points or fewer does not have (SciPy refuses); on so few points a random start
    loses nothing.
    """
    return "spectral" if n > max(_SPECTRAL_MIN_POINTS, n_components + 2) else "random"


#: Fewer points than this start UMAP at random (see :func:`umap_init`).
_SPECTRAL_MIN_POINTS = 16


def _fit_umap(Z: np.ndarray, index: NearestNeighbors, random_state: int | None) -> np.ndarray:
    import umap

    cache_umap_kernels()
    n_neighbors = min(15, max(2, len(Z) - 1))
    dist, near = index.kneighbors(Z, n_neighbors)  # each point first, as UMAP's own search
    with warnings.catch_warnings():
        # umap warns that a fixed random_state disables parallelism (that is the point) and
        # that precomputed neighbours without a search index cannot transform (not needed).
        warnings.simplefilter("ignore", UserWarning)
        return np.asarray(umap.UMAP(
            n_components=2, n_neighbors=n_neighbors, random_state=random_state, n_jobs=1,
            n_epochs=_UMAP_EPOCHS, precomputed_knn=(near, dist), init=umap_init(len(Z), 2),
            # Take the exact neighbours at every size (UMAP would recompute them below
            # 4,096 points and approximate them above).
            force_approximation_algorithm=True,
        ).fit_transform(Z), dtype=np.float64)


def _fit_tsne(Z: np.ndarray, random_state: int | None) -> np.ndarray:
    from openTSNE import TSNE

    # A third of the other points, as openTSNE needs (it would lower it itself, with a print).
    perplexity = float(min(30.0, max(1.0, len(Z) - 1) / 3.0))
    early, rest = _TSNE_ITERATIONS
    return np.asarray(TSNE(
        n_components=2, perplexity=perplexity, random_state=random_state, n_jobs=1,
        neighbors="exact", early_exaggeration_iter=early, n_iter=rest, theta=_TSNE_THETA,
        # Its default start, the first two principal components, needs two dimensions: a
        # model space of one feature starts at random (seeded) instead.
        initialization="pca" if Z.shape[1] >= 2 else "random",
    ).fit(Z), dtype=np.float64)


#: Names of the methods for people.
_NAMES = {"umap": "UMAP", "tsne": "t-SNE"}


def _embed(Z: Any, methods: list[str], max_samples: int, n_neighbors: int,
           random_state: int | None, progress: Callable[[str], None] | None = None,
           n_jobs: int | None = 1) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Fit every method on one sample (in ``n_jobs`` processes) and place the rest."""
    unknown = [m for m in methods if m not in EMBEDDINGS]
    if unknown:
        raise ConfigError(f"unknown embedding {unknown[0]!r}; choose from "
                          f"{', '.join(EMBEDDINGS)}")
    Z = check_array(Z, dtype=np.float64, ensure_min_samples=3)
    n = len(Z)
    rng = np.random.default_rng(random_state)
    idx = np.sort(rng.choice(n, max_samples, replace=False)) if n > max_samples \
        else np.arange(n)
    sample = Z[idx]
    index = NearestNeighbors().fit(sample)
    embedded = np.zeros(n, dtype=bool)
    embedded[idx] = True
    rest = np.flatnonzero(~embedded)
    placed = index.kneighbors(Z[rest], min(n_neighbors, len(idx)))[1] if len(rest) else None
    out = {}
    fits = run_calls([(_fit_umap, (sample, index, random_state)) if method == "umap"
                      else (_fit_tsne, (sample, random_state)) for method in methods], n_jobs)
    for method in methods:
        if progress is not None:
            progress(f"{_NAMES[method]} of {len(idx):,} customers")
        fitted = next(fits)
        coords = np.empty((n, 2), dtype=np.float64)
        coords[idx] = fitted
        if placed is not None:
            coords[rest] = fitted[placed].mean(axis=1)
        out[method] = coords
    return out, embedded


def embed_2d(
    Z: Any,
    *,
    method: str = "umap",
    max_samples: int = MAX_EMBED_SAMPLES,
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
    max_samples : int, default=MAX_EMBED_SAMPLES
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
    coords, embedded = _embed(Z, [method], max_samples, n_neighbors, random_state)
    return coords[method], embedded


def embed_customers(
    Z: Any,
    *,
    methods: Iterable[str] = EMBEDDINGS,
    max_samples: int = MAX_EMBED_SAMPLES,
    random_state: int | None = 0,
    n_jobs: int | None = 1,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """2-D coordinates of every customer for each method, ready to store and plot.

    Parameters
    ----------
    Z : array-like of shape (n_customers, n_dims)
        Model-space coordinates (:meth:`segwise.segment.Segmenter.transform`).
    methods : iterable of {"umap", "tsne"}, default=("umap", "tsne")
        Methods to run, all on the same sample.
    max_samples : int, default=MAX_EMBED_SAMPLES
        Largest number of customers the methods are fitted on.
    random_state : int or None, default=0
        Seed.
    n_jobs : int or None, default=1
        Processes fitting the methods at once (``-1``: one per core); the coordinates do
        not depend on it.
    progress : callable, optional
        Called with the method's name and the sample size as each method is waited for.

    Returns
    -------
    pandas.DataFrame
        ``<method>_x`` and ``<method>_y`` per method and ``embedded`` (the customer was in
        the fitted sample, rather than placed by its neighbours).
    """
    methods = list(methods)
    if not methods:
        return pd.DataFrame()
    coords, embedded = _embed(Z, methods, max_samples, 5, random_state, progress, n_jobs)
    out: dict[str, np.ndarray] = {}
    for method, xy in coords.items():
        out[f"{method}_x"], out[f"{method}_y"] = xy[:, 0], xy[:, 1]
    out["embedded"] = embedded
    return pd.DataFrame(out)
