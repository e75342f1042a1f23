"""Tree ensembles walked in compiled loops (numba): what ``_fast`` calls per request.

Import lazily: loading numba takes half a second that commands without serving never pay.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["forest_sum", "hgb_raw"]


@njit(cache=True, nogil=True)
def hgb_raw(X: np.ndarray, raw: np.ndarray, roots: np.ndarray, value: np.ndarray,
            feature: np.ndarray, threshold: np.ndarray, missing_left: np.ndarray,
            left: np.ndarray, right: np.ndarray, is_leaf: np.ndarray, is_cat: np.ndarray,
            bitset_row: np.ndarray, left_bitsets: np.ndarray, known_bitsets: np.ndarray,
            f_idx_map: np.ndarray) -> None:  # pragma: no cover - compiled
    """Add every predictor's leaf value to ``raw`` (trees per iteration x samples).

    ``roots[i, k]`` is the first node of iteration ``i``'s ``k``-th predictor in the merged
    node columns; children and bitset rows index the merged arrays. The branch rules are
    scikit-learn's ``_predict_one_from_raw_data``: a missing value follows the node's
    missing side; a categorical value below 0 or unknown to the model is missing; a
    known one goes left when it is in the node's bitset. Each sample's values are added
    in iteration order, as scikit-learn adds them.
    """
    n_iter, n_k = roots.shape
    for i in range(X.shape[0]):
        for it in range(n_iter):
            for k in range(n_k):
                node = roots[it, k]
                while not is_leaf[node]:
                    v = X[i, feature[node]]
                    if np.isnan(v):
                        go_left = missing_left[node]
                    elif is_cat[node]:
                        c = np.int64(v) & 255  # the uint8 cast of scikit-learn's C code
                        if v < 0:
                            go_left = missing_left[node]
                        elif (left_bitsets[bitset_row[node], c // 32] >> (c % 32)) & 1:
                            go_left = True
                        elif (known_bitsets[f_idx_map[feature[node]], c // 32] >> (c % 32)) & 1:
                            go_left = False
                        else:
                            go_left = missing_left[node]
                    else:
                        go_left = v <= threshold[node]
                    node = left[node] if go_left else right[node]
                raw[k, i] += value[node]


@njit(cache=True, nogil=True)
def forest_sum(X: np.ndarray, out: np.ndarray, roots: np.ndarray, feature: np.ndarray,
               threshold: np.ndarray, missing_left: np.ndarray, left: np.ndarray,
               right: np.ndarray, value: np.ndarray) -> None:  # pragma: no cover - compiled
    """Add every tree's leaf value to ``out`` (samples x classes), trees in order.

    ``roots[t]`` is tree ``t``'s first node in the merged node columns; a leaf's ``left``
    is -1, inner nodes' children index the merged arrays. The branch rules are
    scikit-learn's ``Tree._apply_dense`` on the float32 input: a missing value follows
    the node's missing side, otherwise ``x <= threshold`` goes left.
    """
    n_classes = out.shape[1]
    for i in range(X.shape[0]):
        for t in range(roots.shape[0]):
            node = roots[t]
            while left[node] != -1:
                v = X[i, feature[node]]
                if np.isnan(v):
                    node = left[node] if missing_left[node] else right[node]
                elif v <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            for c in range(n_classes):
                out[i, c] += value[node, c]
