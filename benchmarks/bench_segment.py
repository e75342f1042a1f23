"""Benchmark: the full k sweep plus the final fit on 1,000,000 customers x 6 features.

Simulates an RFM-like customer table (five latent behaviours; counts and money heavy-tailed,
some net spend negative after returns), then times, in one process:

* ``sweep_k`` over k = 2..10 with every criterion (silhouette on a 10,000 sample,
  Calinski-Harabasz and Davies-Bouldin on all rows, inertia and its knee, stability over
  five resampled refits) and the final ``Segmenter`` fit at the recommended k;
* the notebook approach: scale, then for each k a ``KMeans`` and a silhouette on all points,
  on a size it can finish (``--baseline-n``), and our sweep on that same size for the ratio.
  The notebook's silhouette is quadratic, so its time at the full size is also extrapolated
  (labelled as an estimate).

Peak memory is the process's maximum resident set size after our sweep and fit (the data
included); the baseline runs afterwards.

Run: ``python benchmarks/bench_segment.py [--n 1000000] [--baseline-n 20000]``
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from segwise.segment import Segmenter, sweep_k
from segwise.segment._cluster import limit_threads
from segwise.segment._selection import LARGE_N

FEATURES = ["recency_days", "frequency", "monetary", "tenure_days", "avg_order_value",
            "n_lines"]


def simulate_customers(n: int, seed: int = 0) -> pd.DataFrame:
    """An RFM-like table: five latent behaviours with heavy-tailed counts and money."""
    rng = np.random.default_rng(seed)
    # (share, mean recency days, mean orders, mean log order value, tenure days)
    kinds = np.array([
        (0.35, 220.0, 1.2, 5.2, 260.0),   # lapsed one-timers
        (0.20, 25.0, 1.5, 5.3, 50.0),     # new
        (0.25, 70.0, 4.0, 5.8, 270.0),    # regulars
        (0.15, 15.0, 10.0, 6.0, 330.0),   # loyal
        (0.05, 8.0, 30.0, 6.8, 360.0),    # top accounts
    ])
    kind = rng.choice(len(kinds), n, p=kinds[:, 0])
    k = kinds[kind]
    recency = np.minimum(rng.exponential(k[:, 1]), 373).round()
    frequency = 1 + rng.poisson(k[:, 2] - 1 + rng.gamma(2.0, 0.5, n))
    aov = np.exp(rng.normal(k[:, 3], 0.6))
    monetary = frequency * aov * rng.uniform(0.8, 1.0, n)
    returns = rng.random(n) < 0.003  # a few customers return more than they bought
    monetary[returns] *= -rng.uniform(0.01, 0.1, returns.sum())
    tenure = np.maximum(recency, np.minimum(rng.normal(k[:, 4], 40), 373)).round()
    n_lines = frequency * (1 + rng.poisson(15, n))
    return pd.DataFrame({
        "recency_days": recency, "frequency": frequency.astype(float), "monetary": monetary,
        "tenure_days": tenure, "avg_order_value": monetary / frequency,
        "n_lines": n_lines.astype(float),
    })


def ours(X: pd.DataFrame) -> tuple[float, int, float, object]:
    """Sweep k = 2..10 with every criterion, then fit the final model; wall seconds."""
    start = time.perf_counter()
    sweep = sweep_k(X, range(2, 11), random_state=0)
    swept = time.perf_counter() - start
    algorithm = "minibatch_kmeans" if len(X) > LARGE_N else "kmeans"
    Segmenter(sweep.recommended_k, algorithm=algorithm, random_state=0).fit(X)
    return time.perf_counter() - start, sweep.recommended_k, swept, sweep


def notebook(X: pd.DataFrame) -> float:
    """The usual notebook: scale, then KMeans and a full silhouette for every k."""
    start = time.perf_counter()
    # The same thread policy as segwise, so the ratio compares the methods, not threading.
    with limit_threads(len(X)):
        Z = StandardScaler().fit_transform(np.log1p(X.clip(lower=0)))
        for k in range(2, 11):
            labels = KMeans(k, n_init=10, random_state=0).fit_predict(Z)
            silhouette_score(Z, labels)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--baseline-n", type=int, default=20_000)
    args = parser.parse_args()

    X = simulate_customers(args.n)
    print(f"customers: {len(X):,} x {X.shape[1]} features")
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    total, k, swept, sweep = ours(X)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"segwise sweep k=2..10 (all criteria): {swept:.1f} s; with final fit: {total:.1f} s "
          f"(target < 60 s); CPU time {cpu:.1f} s; recommended k={k}")
    with open("/proc/loadavg") as fh:  # other work on the machine inflates wall time
        print(f"load average during the run: {fh.read().split()[0]}")
    print(f"peak memory (max RSS, data included): {peak_gb:.2f} GB (target < 4 GB)")
    print(sweep.table.drop(columns=["sizes"]).round(3).to_string(index=False))
    print(sweep.rationale)

    small = X.iloc[: args.baseline_n]
    base = notebook(small)
    ours_small, _, _, _ = ours(small)
    print(f"\nat {len(small):,} customers: notebook (KMeans n_init=10 + full silhouette per k) "
          f"{base:.1f} s, segwise {ours_small:.1f} s, ratio {base / ours_small:.1f}x")
    # Silhouette is quadratic and dominates the notebook beyond a few thousand rows.
    estimate = base * (args.n / len(small)) ** 2
    print(f"notebook at {args.n:,} (quadratic extrapolation, an estimate): {estimate:,.0f} s; "
          f"ratio to segwise {estimate / total:,.0f}x")


if __name__ == "__main__":
    main()
