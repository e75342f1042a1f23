"""The :class:`Segmenter`: preprocessing and one clustering algorithm as one estimator.

Design choices that matter to users:

* **Order does not matter.** Rows are sorted canonically before anything random happens,
  so the partition is a function of the set of customers, not of their order in the file.
* **Labels are canonical.** Segments are numbered by ascending mean of a value column
  (``monetary`` when present, else the first principal component of the model space), so
  segment 0 is always the least valuable and reruns or later snapshots line up. Noise from
  the density methods is kept as its own group, labelled ``-1``.
* **Large n.** Methods that do not scale (Ward, HDBSCAN, DBSCAN, UMAP, the SOM's training)
  are fitted on a sample of ``max_fit_samples`` rows and every other row is assigned by the
  same rule :meth:`Segmenter.predict` uses for new customers.
"""

from __future__ import annotations

import contextlib
import numbers
import warnings
from typing import Any, Literal

import fastcluster
import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.cluster import DBSCAN, HDBSCAN, KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.metrics import pairwise_distances_argmin_min
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PowerTransformer, RobustScaler, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from segwise._skew import SkewedLog, signed_log1p
from segwise._threads import thread_limit
from segwise.exceptions import ColumnsError, SegwiseWarning

__all__ = ["ALGORITHMS", "Segmenter", "signed_log1p"]

#: Clustering algorithms a :class:`Segmenter` can run, by name.
ALGORITHMS: tuple[str, ...] = (
    "kmeans", "minibatch_kmeans", "gmm", "ward", "hdbscan", "dbscan", "som",
)
#: Short aliases accepted wherever an algorithm name is.
_ALIASES = {"mbkmeans": "minibatch_kmeans", "minibatch": "minibatch_kmeans",
            "gaussian_mixture": "gmm", "agglomerative": "ward", "minisom": "som"}
#: Algorithms that find the number of segments themselves and may label noise.
DENSITY_ALGORITHMS = frozenset({"hdbscan", "dbscan"})


#: Below this many rows, work runs single-threaded (see :func:`limit_threads`).
SINGLE_THREAD_BELOW = 200_000


def limit_threads(n_samples: int) -> contextlib.AbstractContextManager[Any]:
    """Run on one thread for small data.

    OpenMP workers of KMeans spin while waiting; on a shared machine they then cost
    several times more than the work itself (a 4,000-customer sweep: 11 s on two threads
    against 2.4 s on one). Large data still use every core.
    """
    if n_samples < SINGLE_THREAD_BELOW:
        return thread_limit(1)
    return contextlib.nullcontext()


def resolve_algorithm(name: str) -> str:
    """Return the canonical algorithm name, or raise ``ValueError`` for an unknown one."""
    key = str(name).strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in ALGORITHMS:
        raise ValueError(
            f"unknown algorithm {name!r}; choose one of {', '.join(ALGORITHMS)}"
        )
    return key


class _SampledUMAP(TransformerMixin, BaseEstimator):
    """UMAP fitted on at most ``max_samples`` rows; the rest are placed by ``transform``."""

    def __init__(self, n_components: int = 5, max_samples: int = 10_000,
                 random_state: int | None = None) -> None:
        self.n_components = n_components
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: object = None) -> _SampledUMAP:
        import umap  # heavy import (numba): only when asked for

        from segwise.segment._embed import cache_umap_kernels, umap_init

        cache_umap_kernels()
        n = X.shape[0]
        rng = np.random.default_rng(self.random_state)
        idx = np.sort(rng.choice(n, self.max_samples, replace=False)) if n > self.max_samples \
            else np.arange(n)
        self.umap_ = umap.UMAP(
            n_components=self.n_components, n_neighbors=min(15, max(2, len(idx) - 1)),
            min_dist=0.0, random_state=self.random_state, n_jobs=1,
            init=umap_init(len(idx), self.n_components),
        ).fit(X[idx])
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return np.asarray(self.umap_.transform(X), dtype=np.float64)


def _sample_index(n: int, max_samples: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted row positions of a uniform sample of at most ``max_samples`` rows."""
    if max_samples is None or n <= max_samples:
        return np.arange(n)
    return np.sort(rng.choice(n, max_samples, replace=False))


def knee_point(x: np.ndarray, y: np.ndarray) -> int:
    """Position of the knee of a decreasing convex curve (Kneedle, Satopää et al. 2011).

    Both axes are scaled to [0, 1]; the knee is the point farthest below the chord joining
    the first and last points.

    Parameters
    ----------
    x : ndarray of shape (n,)
        Increasing abscissae (for example k).
    y : ndarray of shape (n,)
        Values (for example inertia), mostly decreasing.

    Returns
    -------
    int
        Index into ``x`` of the knee; 0 when there are fewer than three points.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(x) < 3 or np.ptp(y) == 0 or np.ptp(x) == 0:
        return 0
    xn = (x - x.min()) / np.ptp(x)
    yn = (y - y.min()) / np.ptp(y)
    if yn[0] < yn[-1]:  # increasing convex curve (a sorted k-distance plot)
        return int(np.argmax(xn - yn))
    return int(np.argmax((1.0 - xn) - yn))


class _Clusters:
    """A fitted clustering in model space that can assign new points (raw labels)."""

    def __init__(self, labels: np.ndarray, assign: Any, inertia: float | None = None,
                 bic: float | None = None) -> None:
        self.labels = labels
        self.assign = assign
        self.inertia = inertia
        self.bic = bic


class _Nearest:
    """Assign each point the label of its nearest reference point (noise beyond ``radius``)."""

    def __init__(self, points: np.ndarray, labels: np.ndarray, radius: float | None = None):
        self.nn = NearestNeighbors(n_neighbors=1).fit(points)
        self.labels = labels
        self.radius = radius

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        dist, idx = self.nn.kneighbors(Z)
        out = self.labels[idx[:, 0]].copy()
        if self.radius is not None:
            out[dist[:, 0] > self.radius] = -1
        return out


class _AllNoise:
    """Assign every point to noise (DBSCAN found no core point)."""

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        return np.full(len(Z), -1, dtype=np.int64)


class _Centroids:
    """Assign each point to the nearest centre."""

    def __init__(self, centers: np.ndarray, labels: np.ndarray | None = None):
        self.centers = centers
        self.labels = np.arange(len(centers)) if labels is None else labels

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        idx, _ = pairwise_distances_argmin_min(Z, self.centers)
        return self.labels[idx]


def ward_labels(points: np.ndarray, k: int) -> np.ndarray:
    """Cut Ward's tree of ``points`` into ``k`` groups (``k`` <= the number of points).

    fastcluster's nearest-neighbour chain on the vectors keeps O(n) memory. SciPy's
    linkage, which scikit-learn's ``AgglomerativeClustering`` calls, first stores all
    n(n-1)/2 distances: 400 MB and 3-7 s for 10,000 customers, against 0.3-0.5 s here. Both
    build Ward's tree. Where two pairs of groups are (nearly) equally far apart, the pair
    merged first may differ, so on data with many tied distances (integer frequencies and
    recencies) the two trees can differ. The within-segment sum of squares then differs by
    tenths of a percent, either way.
    """
    n = len(points)
    tree = fastcluster.linkage_vector(points, method="ward")
    # Undo the last k - 1 merges: each point's group is the root of the first n - k.
    merged = tree[: n - k, :2].astype(np.intp)
    parent = np.arange(2 * n - 1)
    parent[merged[:, 0]] = parent[merged[:, 1]] = n + np.arange(n - k)
    while not np.array_equal(root := parent[parent], parent):
        parent = root
    return np.unique(parent[:n], return_inverse=True)[1]


def fit_clusters(Z: np.ndarray, algorithm: str, n_clusters: int, *,
                 random_state: int | None, n_init: int = 4, max_fit_samples: int = 10_000,
                 min_cluster_size: int | None = None, min_samples: int | None = None,
                 eps: float | None = None, som_shape: tuple[int, int] = (10, 10),
                 som_iterations: int | None = None) -> _Clusters:
    """Fit one algorithm on model-space points ``Z`` (already canonically ordered).

    This is the private core shared by :class:`Segmenter` and the k sweep, which
    preprocesses once and calls this for every k.
    """
    with limit_threads(Z.shape[0]):
        return _fit_clusters(Z, algorithm, n_clusters, random_state=random_state,
                             n_init=n_init, max_fit_samples=max_fit_samples,
                             min_cluster_size=min_cluster_size, min_samples=min_samples,
                             eps=eps, som_shape=som_shape, som_iterations=som_iterations)


def _fit_clusters(Z: np.ndarray, algorithm: str, n_clusters: int, *,
                  random_state: int | None, n_init: int, max_fit_samples: int,
                  min_cluster_size: int | None, min_samples: int | None,
                  eps: float | None, som_shape: tuple[int, int],
                  som_iterations: int | None) -> _Clusters:
    n = Z.shape[0]
    rng = np.random.default_rng(random_state)
    seed = int(rng.integers(2**31 - 1))
    if algorithm in {"kmeans", "minibatch_kmeans", "gmm"} and n < n_clusters:
        raise ValueError(f"n_samples={n} should be >= n_clusters={n_clusters}")
    if algorithm == "kmeans":
        km = KMeans(n_clusters, n_init=n_init, random_state=seed).fit(Z)
        return _Clusters(km.labels_, km.predict, inertia=float(km.inertia_))
    if algorithm == "minibatch_kmeans":
        mb = MiniBatchKMeans(n_clusters, n_init=n_init, random_state=seed,
                             batch_size=4096, max_no_improvement=5).fit(Z)
        return _Clusters(mb.labels_, mb.predict, inertia=float(mb.inertia_))
    if algorithm == "gmm":
        gm = GaussianMixture(n_clusters, covariance_type="full", random_state=seed,
                             n_init=1, reg_covar=1e-5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(Z)
        return _Clusters(gm.predict(Z), gm.predict, bic=float(gm.bic(Z)))
    idx = _sample_index(n, max_fit_samples, rng)
    S = Z[idx]
    if algorithm == "ward":
        # No more segments than distinct customers: beyond that Ward splits identical rows,
        # which then differ in segment from each other and from predict().
        k = min(n_clusters, len(np.unique(S, axis=0)))
        lab = ward_labels(S, k)
        # The nearest fitted customer's segment: predict() agrees with labels_ on the sample.
        assign = _Nearest(S, lab)
        labels = assign(Z) if len(idx) < n else lab
        return _Clusters(labels, assign)
    if algorithm == "hdbscan":
        mcs = min_cluster_size or max(5, round(0.02 * len(S)))
        hd = HDBSCAN(min_cluster_size=max(2, min(mcs, len(S))), min_samples=min_samples,
                     copy=True).fit(S)
        assign = _Nearest(S, hd.labels_)
        labels = assign(Z) if len(idx) < n else hd.labels_
        return _Clusters(labels, assign)
    if algorithm == "dbscan":
        ms = min_samples or 2 * Z.shape[1]
        if eps is None:
            # The knee of the sorted distance to the ms-th neighbour (Ester et al. 1996).
            kd, _ = NearestNeighbors(n_neighbors=min(ms, len(S))).fit(S).kneighbors(S)
            curve = np.sort(kd[:, -1])
            eps = float(curve[knee_point(np.arange(len(curve)), curve)]) or 1e-9
        db = DBSCAN(eps=eps, min_samples=ms).fit(S)
        core = db.core_sample_indices_
        if len(core) == 0:
            return _Clusters(np.full(n, -1), _AllNoise())
        # Non-core points go to the nearest core point within eps: unlike DBSCAN's
        # first-come rule for border points this does not depend on the row order.
        assign = _Nearest(S[core], db.labels_[core], radius=eps)
        return _Clusters(assign(Z), assign)
    if algorithm == "som":
        return _fit_som(Z, S, n_clusters, som_shape, som_iterations, seed)
    raise ValueError(f"unknown algorithm {algorithm!r}")


def _fit_som(Z: np.ndarray, S: np.ndarray, n_clusters: int, shape: tuple[int, int],
             iterations: int | None, seed: int) -> _Clusters:
    """Train a self-organizing map on ``S``, then group its units with Ward."""
    from minisom import MiniSom

    from segwise.segment._som import train_som

    rows, cols = (int(v) for v in shape)
    som = MiniSom(rows, cols, S.shape[1], sigma=max(1.0, max(rows, cols) / 4),
                  learning_rate=0.5, random_seed=seed)
    som.pca_weights_init(S) if S.shape[1] > 1 and len(S) > 1 else som.random_weights_init(S)
    train_som(som, S, iterations or min(20 * len(S), 20_000))
    units = som.get_weights().reshape(rows * cols, S.shape[1])
    winners = _Centroids(units)(S)
    hit = np.unique(winners)
    k = min(n_clusters, len(hit))
    if k < n_clusters:
        warnings.warn(
            f"the SOM's customers landed on {len(hit)} of its {rows * cols} map units "
            f"({rows} x {cols}), so it forms {k} segment(s), not {n_clusters}. Fix: ask for "
            f"{k} or fewer (or, from Python, a larger map: som_shape)", SegwiseWarning,
            stacklevel=2)
    if k >= 2:
        groups = ward_labels(units[hit], k)
    else:
        groups = np.zeros(len(hit), dtype=np.int64)
    # Units no customer landed on take the group of the nearest used unit.
    unit_group = _Nearest(units[hit], groups)(units)
    assign = _Centroids(units, unit_group)
    return _Clusters(assign(Z), assign)


class Segmenter(ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin, BaseEstimator):
    """Preprocessing and one clustering algorithm, as a scikit-learn estimator.

    The chain is: optional imputation of missing values, signed ``log1p`` of skewed
    columns or Yeo-Johnson, then standard or robust scaling, then optional PCA, then
    optional UMAP, then the clustering algorithm.

    :meth:`transform` returns the model space; ``set_output(transform="pandas")`` makes it
    a DataFrame with the input's index and columns ``segmenter0``, ``segmenter1``, ...
    (:meth:`get_feature_names_out`). :meth:`score` is the opposite of the within-segment
    sum of squares in that space, so that a higher score is a tighter segmentation.

    Parameters
    ----------
    n_clusters : int, default=4
        Number of segments. Ignored by ``"hdbscan"`` and ``"dbscan"``, which find it.
    algorithm : {"kmeans", "minibatch_kmeans", "gmm", "ward", "hdbscan", "dbscan", "som"}, \
default="kmeans"
        Clustering algorithm. ``"som"`` trains a self-organizing map and groups its units
        with Ward into ``n_clusters`` segments.
    skew_transform : {"log1p", "yeo-johnson"} or None, default="log1p"
        Transformation for skewed money and counts. ``"log1p"`` applies the signed
        ``log1p`` to every column whose absolute skewness exceeds ``skew_threshold``.
    skew_threshold : float, default=1.0
        Skewness above which ``"log1p"`` transforms a column.
    scaler : {"standard", "robust"} or None, default="standard"
        Scaling after the transformation.
    n_components : int, float or None, default=None
        PCA components (a float in (0, 1) keeps that share of variance); no PCA when None.
    umap_components : int or None, default=None
        Cluster in a UMAP space of this many dimensions; no UMAP when None.
    impute : {"median"} or None, default=None
        ``"median"`` fills a missing value (NaN) with its column's median over the rows
        :meth:`fit` saw, as the first step of the chain: :meth:`predict` and
        :meth:`transform` fill new rows with the same medians. With None, a missing
        value is refused, as scikit-learn's estimators refuse them.
    order_by : str or None, default="monetary"
        Column (of a DataFrame ``X``) whose segment means order the labels. When ``X`` has
        no such column, the first principal component of the model space is used.
    max_fit_samples : int, default=10000
        Ward, HDBSCAN, DBSCAN, the SOM and UMAP are fitted on a sample of at most this many
        rows; the other rows are assigned like new customers.
    min_cluster_size : int or None, default=None
        HDBSCAN's minimum cluster size; 2 % of the fitted rows (at least 5) when None.
    min_samples : int or None, default=None
        Neighbourhood size for HDBSCAN and DBSCAN (DBSCAN: twice the features when None).
    eps : float or None, default=None
        DBSCAN radius; the knee of the sorted k-distance curve when None.
    som_shape : tuple of int, default=(10, 10)
        Rows and columns of the self-organizing map.
    som_iterations : int or None, default=None
        SOM training steps; ``20 * n`` capped at 20,000 when None.
    n_init : int, default=4
        Restarts of KMeans and MiniBatchKMeans.
    random_state : int or None, default=None
        Seed; a fixed seed gives identical labels.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Segment of each training row, in canonical order; ``-1`` is noise.
    n_clusters_ : int
        Number of segments found, noise not counted.
    cluster_centers_ : ndarray of shape (n_clusters_, n_model_dims)
        Mean of each segment in model space (the output of :meth:`transform`).
    segment_values_ : ndarray of shape (n_clusters_,)
        The mean value (``order_by`` column or first component) that orders the segments.
    preprocessor_ : sklearn.pipeline.Pipeline
        The fitted preprocessing chain.
    n_features_in_ : int
        Number of features seen in :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from segwise.segment import Segmenter
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (50, 2)), rng.normal(8, 1, (50, 2))])
    >>> seg = Segmenter(n_clusters=2, random_state=0).fit(X)
    >>> np.bincount(seg.labels_).tolist()
    [50, 50]
    """

    def __init__(
        self,
        n_clusters: int = 4,
        *,
        algorithm: str = "kmeans",
        skew_transform: Literal["log1p", "yeo-johnson"] | None = "log1p",
        skew_threshold: float = 1.0,
        scaler: Literal["standard", "robust"] | None = "standard",
        n_components: int | float | None = None,
        umap_components: int | None = None,
        impute: Literal["median"] | None = None,
        order_by: str | None = "monetary",
        max_fit_samples: int = 10_000,
        min_cluster_size: int | None = None,
        min_samples: int | None = None,
        eps: float | None = None,
        som_shape: tuple[int, int] = (10, 10),
        som_iterations: int | None = None,
        n_init: int = 4,
        random_state: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.algorithm = algorithm
        self.skew_transform = skew_transform
        self.skew_threshold = skew_threshold
        self.scaler = scaler
        self.n_components = n_components
        self.umap_components = umap_components
        self.impute = impute
        self.order_by = order_by
        self.max_fit_samples = max_fit_samples
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.eps = eps
        self.som_shape = som_shape
        self.som_iterations = som_iterations
        self.n_init = n_init
        self.random_state = random_state

    # -- validation ---------------------------------------------------------------------
    def _check_params(self) -> str:
        algorithm = resolve_algorithm(self.algorithm)
        k = self.n_clusters
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
            raise ValueError(f"n_clusters must be a positive integer, got {k!r}")
        t = self.skew_transform
        if t not in (None, "log1p", "yeo-johnson"):
            raise ValueError(f"skew_transform must be 'log1p', 'yeo-johnson' or None, got {t!r}")
        if self.impute not in (None, "median"):
            raise ValueError(f"impute must be 'median' or None, got {self.impute!r}")
        if self.scaler not in (None, "standard", "robust"):
            raise ValueError(
                f"scaler must be 'standard', 'robust' or None, got {self.scaler!r}"
            )
        if not isinstance(self.max_fit_samples, numbers.Integral) or self.max_fit_samples < 2:
            raise ValueError("max_fit_samples must be an integer of at least 2")
        return algorithm

    def _make_preprocessor(self, n_samples: int, n_features: int) -> Pipeline:
        steps: list[tuple[str, Any]] = []
        if self.impute is not None:
            # An empty column is kept (filled with 0): the model space keeps its columns.
            steps.append(("impute", SimpleImputer(strategy=self.impute,
                                                  keep_empty_features=True)))
        if self.skew_transform == "log1p":
            steps.append(("log", SkewedLog(self.skew_threshold)))
        elif self.skew_transform == "yeo-johnson":
            steps.append(("yeo_johnson", PowerTransformer(standardize=False)))
        if self.scaler == "standard":
            steps.append(("scale", StandardScaler()))
        elif self.scaler == "robust":
            steps.append(("scale", RobustScaler()))
        if self.n_components is not None:
            n_comp = self.n_components
            if isinstance(n_comp, numbers.Integral):
                n_comp = min(int(n_comp), n_features, n_samples)
            steps.append(("pca", PCA(n_comp, random_state=self.random_state)))
        if self.umap_components is not None:
            steps.append(("umap", _SampledUMAP(
                int(self.umap_components), self.max_fit_samples, self.random_state)))
        if not steps:
            steps.append(("identity", "passthrough"))
        return Pipeline(steps)

    # -- fitting ------------------------------------------------------------------------
    def fit(self, X: Any, y: object = None) -> Segmenter:
        """Fit the preprocessing and the clustering, and order the segments canonically.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric per-customer features (a DataFrame keeps its column names).
        y : None
            Ignored.

        Returns
        -------
        Segmenter
            The fitted estimator.
        """
        self._fit(X)
        return self

    def _fit(self, X: Any) -> np.ndarray:
        """Fit and return the model-space points of ``X``, in the order of ``X``."""
        algorithm = self._check_params()
        value = self._value_column(X)
        order, Zs = self._fit_space(X)
        fitted = fit_clusters(
            Zs, algorithm, int(self.n_clusters), random_state=self.random_state,
            n_init=self.n_init, max_fit_samples=self.max_fit_samples,
            min_cluster_size=self.min_cluster_size, min_samples=self.min_samples,
            eps=self.eps, som_shape=self.som_shape, som_iterations=self.som_iterations,
        )
        Z = np.empty_like(Zs)
        Z[order] = Zs
        raw = np.empty_like(fitted.labels)
        raw[order] = fitted.labels
        self._assign = fitted.assign
        if value is None:
            value = self._first_component(Z)
        elif np.isnan(value).any() and self.impute is not None:
            value = np.where(np.isnan(value), np.nanmedian(value), value)
        self._set_canonical_order(raw, Z, value)
        self.labels_ = self._relabel(raw)
        return Z

    def _fit_space(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Fit the preprocessing; return the canonical row order and the points in it."""
        Xv = self._validated(X, ensure_min_samples=2)
        # Canonical row order: fitting sees the same array whatever order the rows came in.
        order = np.lexsort(Xv.T[::-1]) if Xv.shape[1] else np.arange(len(Xv))
        Xs = Xv[order]
        with limit_threads(len(Xs)):
            self.preprocessor_ = self._make_preprocessor(*Xs.shape).fit(Xs)
            Zs = np.asarray(self.preprocessor_.transform(Xs), dtype=np.float64)
        return order, Zs

    def fit_model_space(self, X: Any) -> np.ndarray:
        """Fit the preprocessing alone; return the model-space points of ``X``, in its order.

        These are the points :meth:`fit_transform` returns whatever the algorithm, not yet
        clustered: the model comparison clusters them with several algorithms. Only
        ``preprocessor_`` is fitted.
        """
        self._check_params()
        order, Zs = self._fit_space(X)
        Z = np.empty_like(Zs)
        Z[order] = Zs
        return Z

    @property
    def _finite(self) -> bool | Literal["allow-nan"]:
        """What :func:`validate_data` accepts: NaN only when it is imputed."""
        # A model file saved before ``impute`` existed has no such attribute: no imputer.
        return True if getattr(self, "impute", None) is None else "allow-nan"

    def _value_column(self, X: Any) -> np.ndarray | None:
        cols = getattr(X, "columns", None)
        if self.order_by is not None and cols is not None and self.order_by in cols:
            return np.asarray(X[self.order_by], dtype=np.float64)
        return None

    @staticmethod
    def _first_component(Z: np.ndarray) -> np.ndarray:
        if Z.shape[1] == 1:
            return Z[:, 0]
        centred = Z - Z.mean(axis=0)
        _, _, vt = np.linalg.svd(centred[:: max(1, len(Z) // 50_000)], full_matrices=False)
        axis = vt[0] * (1.0 if vt[0].sum() >= 0 else -1.0)  # a fixed sign for the axis
        return centred @ axis

    def _set_canonical_order(self, raw: np.ndarray, Z: np.ndarray, value: np.ndarray) -> None:
        found = np.unique(raw[raw >= 0])
        means = np.array([value[raw == c].mean() for c in found])
        sizes = np.array([(raw == c).sum() for c in found])
        # Ascending mean value; ties by size then by the segment's centre, never by the
        # arbitrary raw label.
        centres = np.array([Z[raw == c].mean(axis=0) for c in found]).reshape(
            len(found), Z.shape[1]
        )
        keys = [*centres.T[::-1], sizes, means] if len(found) else []
        rank = np.lexsort(keys) if len(found) else np.array([], dtype=np.int64)
        mapping = {int(c): i for i, c in enumerate(found[rank])}
        self._label_map = mapping
        self.n_clusters_ = len(found)
        self.segment_values_ = means[rank]
        self.cluster_centers_ = centres[rank] if len(found) else np.empty((0, Z.shape[1]))

    def _relabel(self, raw: np.ndarray) -> np.ndarray:
        lut = np.full(max([*self._label_map, 0]) + 2, -1, dtype=np.int64)
        for r, c in self._label_map.items():
            lut[r] = c
        out = np.where(raw >= 0, lut[np.clip(raw, 0, len(lut) - 1)], -1)
        return out.astype(np.int64)

    def fit_predict(self, X: Any, y: object = None, **kwargs: Any) -> np.ndarray:
        """Fit and return the segment of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric per-customer features.
        y : None
            Ignored.
        **kwargs : dict
            Ignored; accepted for compatibility with ``ClusterMixin``.

        Returns
        -------
        ndarray of shape (n_samples,)
            Canonical segment labels; ``-1`` is noise.
        """
        return self.fit(X).labels_

    def fit_transform(self, X: Any, y: object = None, **fit_params: Any) -> np.ndarray:
        """Fit and return the model-space coordinates of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric per-customer features.
        y : None
            Ignored.
        **fit_params : dict
            Ignored.

        Returns
        -------
        ndarray of shape (n_samples, n_model_dims)
            What :meth:`transform` returns.
        """
        return self._fit(X)

    def _model_space(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "preprocessor_")
        Xv = self._validated(X, reset=False)
        return np.asarray(self.preprocessor_.transform(Xv), dtype=np.float64)

    def _validated(self, X: Any, **kwargs: Any) -> np.ndarray:
        """:func:`validate_data` of ``X``, its errors with the fix a segwise user can follow.

        scikit-learn names a missing or reordered column but says nothing of the fix, and
        answers NaN with advice for supervised models; a text column was "could not
        convert string to float: 'a'", naming no column.
        """
        try:
            return validate_data(self, X, dtype=np.float64, ensure_all_finite=self._finite,
                                 **kwargs)
        except ValueError as exc:
            import pandas as pd

            text = str(exc)
            if text.startswith("The feature names should match"):
                raise ColumnsError(
                    f"{text.rstrip()}\nFix: give the columns the model was fitted on, in "
                    f"that order: X[model.feature_names_in_] "
                    f"({', '.join(map(str, self.feature_names_in_))})") from None
            if "contains NaN" in text:
                raise ValueError(
                    f"{text.splitlines()[0]} Fix: drop or fill the rows with missing "
                    "values, or fit Segmenter(impute='median'), which fills them with the "
                    "fitted medians") from None
            if text.startswith("could not convert") and isinstance(X, pd.DataFrame):
                bad = next((c for c in X.columns if pd.to_numeric(X[c], errors="coerce")
                            .isna().gt(X[c].isna()).any()), None)
                if bad is not None:
                    raise ValueError(f"column {bad!r} is not a number column ({text}). Fix: "
                                     "leave it out, or encode it as numbers first") from None
            raise

    def transform(self, X: Any) -> np.ndarray:
        """Coordinates of ``X`` in model space (after transformation, scaling, PCA, UMAP).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric per-customer features.

        Returns
        -------
        ndarray of shape (n_samples, n_model_dims)
            The space the clustering works in.
        """
        return self._model_space(X)

    def predict(self, X: Any) -> np.ndarray:
        """Assign customers to the fitted segments.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric per-customer features, same columns as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples,)
            Canonical segment labels; ``-1`` is noise for the density methods.
        """
        Z = self._model_space(X)
        with limit_threads(len(Z)):
            return self._relabel(self._assign(Z))

    def score(self, X: Any, y: object = None) -> float:
        """Opposite of the within-segment sum of squares of ``X`` in model space.

        Each row counts its squared distance to the centre of the segment
        :meth:`predict` gives it; a row labelled noise counts its distance to the nearest
        centre, so that labelling rows noise never improves the score.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric per-customer features, same columns as in :meth:`fit`.
        y : None
            Ignored.

        Returns
        -------
        float
            ``-sum of squared distances``; higher is better; ``-inf`` when the fit found
            no segment (every row noise).
        """
        Z = self._model_space(X)
        if not len(self.cluster_centers_):
            return -np.inf
        with limit_threads(len(Z)):
            labels = self._relabel(self._assign(Z))
        _, nearest = pairwise_distances_argmin_min(Z, self.cluster_centers_)
        own = np.where(labels >= 0, labels, 0)
        distance = np.where(labels >= 0, np.linalg.norm(Z - self.cluster_centers_[own], axis=1),
                            nearest)
        return -float(np.sum(distance**2))

    @property
    def _n_features_out(self) -> int:
        """Dimensions of the model space (names of :meth:`get_feature_names_out`)."""
        return int(self.cluster_centers_.shape[1])

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.impute is not None
        tags.non_deterministic = self.random_state is None
        return tags
