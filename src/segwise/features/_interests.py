"""Interests from the places people go: category counts, TF-IDF shares, components, names.

Visits come either from check-ins that carry their venue's category, or from stays matched
to the nearest point of interest within a radius through a haversine ball tree over the
points (one query per stay: no pairwise join). Each user's category counts are weighted
by TF-IDF (a category everybody visits says little about anyone), reduced by PCA, and the
components are read from their largest loadings.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from segwise._geo import EARTH_RADIUS_M

__all__ = ["InterestModel", "interest_model", "match_pois", "name_interest_groups"]


def match_pois(lat: np.ndarray, lon: np.ndarray, poi_lat: np.ndarray, poi_lon: np.ndarray,
               radius_m: float) -> np.ndarray:
    """Index of the nearest point of interest within ``radius_m`` of each point (-1: none).

    Parameters
    ----------
    lat, lon : ndarray of float64
        Points (stays), degrees.
    poi_lat, poi_lon : ndarray of float64
        Points of interest, degrees.
    radius_m : float
        Largest distance of a match.

    Returns
    -------
    ndarray of int64
    """
    from sklearn.neighbors import BallTree

    out = np.full(len(lat), -1, np.int64)
    if len(lat) == 0 or len(poi_lat) == 0:
        return out
    tree = BallTree(np.radians(np.column_stack([poi_lat, poi_lon])), metric="haversine")
    dist, idx = tree.query(np.radians(np.column_stack([lat, lon])), k=1)
    hit = dist[:, 0] * EARTH_RADIUS_M <= radius_m
    out[hit] = idx[hit, 0]
    return out


@dataclass
class InterestModel:
    """Users' interest vectors and their principal components.

    Attributes
    ----------
    users : ndarray of object
        User ids (rows).
    categories : list of str
        Categories (columns).
    counts : ndarray of shape (n_users, n_categories)
        Visits per category.
    shares : ndarray
        ``counts`` as shares of each user's visits.
    tfidf : ndarray
        TF-IDF weighted, L2-normalised vectors.
    components : ndarray of shape (n_components, n_users)
        Each user's component scores (transposed for columns).
    loadings : ndarray of shape (n_components, n_categories)
    explained : ndarray of shape (n_components,)
        Share of variance each component explains.
    """

    users: np.ndarray
    categories: list[str]
    counts: np.ndarray
    shares: np.ndarray
    tfidf: np.ndarray
    components: np.ndarray
    loadings: np.ndarray
    explained: np.ndarray

    def reading(self, top: int = 3) -> list[str]:
        """Each component in words: its largest positive and negative loadings."""
        out = []
        for i, (row, share) in enumerate(zip(self.loadings, self.explained, strict=True)):
            order = np.argsort(row)
            plus = [f"+{self.categories[j]}" for j in order[::-1][:top] if row[j] > 0.1]
            minus = [f"−{self.categories[j]}" for j in order[:top] if row[j] < -0.1]
            out.append(f"Component {i + 1} ({share:.0%} of variance): "
                       + ", ".join(plus + minus))
        return out


def interest_model(users: np.ndarray, categories: np.ndarray, counts: np.ndarray,
                   n_components: int, random_state: int = 0) -> InterestModel:
    """Interest vectors (TF-IDF) and their PCA from (user, category, count) rows.

    Parameters
    ----------
    users, categories : ndarray of object
        One row per user and category visited.
    counts : ndarray
        Visits of the row.
    n_components : int
        Components kept (fewer if there are fewer categories).
    random_state : int, default=0
        Seed of the PCA's solver.

    Returns
    -------
    InterestModel
    """
    from sklearn.decomposition import PCA
    from sklearn.feature_extraction.text import TfidfTransformer

    user_ids, u = np.unique(np.asarray(users).astype(str), return_inverse=True)
    cats, c = _same_categories(np.asarray(categories).astype(str),
                               np.asarray(counts, np.float64))
    matrix = np.zeros((len(user_ids), len(cats)))
    np.add.at(matrix, (u, c), np.asarray(counts, np.float64))
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1e-12)
    tfidf = TfidfTransformer(sublinear_tf=True).fit_transform(matrix).toarray()
    k = max(0, min(n_components, len(cats) - 1, len(user_ids) - 1))
    scores = np.zeros((len(user_ids), n_components))
    loadings = np.zeros((n_components, len(cats)))
    explained = np.zeros(n_components)
    if k > 0:
        pca = PCA(k, random_state=random_state).fit(tfidf)
        # A fixed sign: the largest loading of each component is positive.
        sign = np.sign(pca.components_[np.arange(k), np.abs(pca.components_).argmax(axis=1)])
        scores[:, :k] = pca.transform(tfidf) * sign
        loadings[:k] = pca.components_ * sign[:, None]
        explained[:k] = pca.explained_variance_ratio_
    return InterestModel(user_ids.astype(object), [str(x) for x in cats], matrix, shares,
                         tfidf, scores.T, loadings, explained)


def _same_categories(categories: np.ndarray, counts: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Categories that differ only in case, accents' encoding or spaces as one.

    ``Café``, ``CAFÉ`` and ``café `` (sources mix them, and an ``é`` may be one code point
    or two) are one interest, named by its spelling with the most visits (ties: the
    first in sort order).

    Returns
    -------
    names : ndarray of str
        One spelling per category, in order of their keys.
    code : ndarray of int64
        Each row's category.
    """
    spelled, row = np.unique(categories, return_inverse=True)
    keys = np.array([" ".join(unicodedata.normalize("NFKC", s).split()).casefold()
                     for s in spelled.tolist()], dtype=object)
    key_names, key_of = np.unique(keys.astype(str), return_inverse=True)
    visits = np.bincount(row, counts, minlength=len(spelled))
    best = np.full(len(key_names), -1)
    for i in np.lexsort((np.arange(len(spelled)), -visits)):
        if best[key_of[i]] < 0:
            best[key_of[i]] = i
    return spelled[best], key_of[row]


def name_interest_groups(shares: np.ndarray, labels: np.ndarray,
                         categories: list[str]) -> dict[int, str]:
    """Name groups of users by their dominant interests.

    A group is named by the one or two categories whose mean share in the group most
    exceeds their mean share among everyone (``"Nightlife Spot + Food"``); a group
    that stands out on nothing is ``"Broad interests"``.

    Parameters
    ----------
    shares : ndarray of shape (n_users, n_categories)
    labels : ndarray of shape (n_users,)
        Group of each user.
    categories : list of str

    Returns
    -------
    dict of int to str
        Unique names by group.
    """
    overall = shares.mean(axis=0)
    names: dict[int, str] = {}
    for g in np.unique(labels):
        mean = shares[labels == g].mean(axis=0)
        lift = mean / np.maximum(overall, 1e-12)
        order = [j for j in np.argsort(-lift) if lift[j] >= 1.2 and mean[j] >= 0.05][:2]
        names[int(g)] = " + ".join(categories[j] for j in order) or "Broad interests"
    seen: dict[str, int] = {}
    for g in sorted(names):
        base = names[g]
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            names[g] = f"{base} ({seen[base]})"
    return names
