"""MiniSom's online training, compiled.

``MiniSom.train`` runs one Python-level step per sample (find the winning unit, then pull
its Gaussian neighbourhood towards the sample): about 25 microseconds a step, 0.5 s for
the 20,000 steps of a 10 x 10 map, four times per model comparison (the fit and three
stability refits). The same steps compiled with numba take about 2 microseconds each and
give the same weights: the same sample order (MiniSom's own random generator), the same
winner (the first unit at the smallest Euclidean distance), the same asymptotic decay of
the learning rate and of sigma, and the same floating-point operations in the same order
(``tests/segment/test_cluster.py`` checks the weights against ``MiniSom.train``).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

__all__ = ["train_som"]


@numba.njit(cache=True)
def _train(weights: np.ndarray, data: np.ndarray, order: np.ndarray, learning_rate: float,
           sigma: float) -> None:  # pragma: no cover - compiled; checked against MiniSom
    rows, cols, dim = weights.shape
    n_iter = len(order)
    half = n_iter / 2
    ax = np.empty(rows)
    ay = np.empty(cols)
    for t in range(n_iter):
        x = data[order[t]]
        best, wi, wj = np.inf, 0, 0
        for i in range(rows):
            for j in range(cols):
                total = 0.0
                for k in range(dim):
                    diff = x[k] - weights[i, j, k]
                    total += diff * diff
                dist = np.sqrt(total)
                if dist < best:
                    best, wi, wj = dist, i, j
        # MiniSom's asymptotic decay of both the learning rate and sigma.
        eta = learning_rate / (1 + t / half)
        sig = sigma / (1 + t / half)
        d = 2 * sig * sig
        for i in range(rows):
            ax[i] = np.exp(-((i - wi) ** 2) / d)
        for j in range(cols):
            ay[j] = np.exp(-((j - wj) ** 2) / d)
        for i in range(rows):
            for j in range(cols):
                g = ax[i] * ay[j] * eta
                for k in range(dim):
                    weights[i, j, k] += g * (x[k] - weights[i, j, k])


def train_som(som: Any, data: np.ndarray, num_iteration: int) -> None:
    """Train a rectangular, Gaussian, asymptotically decaying ``MiniSom`` in place.

    What ``som.train(data, num_iteration, random_order=True)`` does, compiled.

    Parameters
    ----------
    som : minisom.MiniSom
        A map with the default topology, neighbourhood, distance and decay functions.
    data : ndarray of shape (n_samples, n_features)
        Training samples.
    num_iteration : int
        Training steps.
    """
    # MiniSom draws the sample order from its own generator, after the initial weights.
    order = np.arange(num_iteration) % len(data)
    som._random_generator.shuffle(order)
    _train(som.get_weights(), np.ascontiguousarray(data, dtype=np.float64), order,
           float(som._learning_rate), float(som._sigma))
