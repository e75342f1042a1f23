"""Benchmark: fitting BG/NBD to 1,000,000 customers' summaries.

Simulates (frequency, recency, T) from the BG/NBD generative process with the CDNOW
parameters, times ``BGNBD().fit`` on all of them, and, in the same run, a baseline: the
textbook NumPy likelihood (special functions per customer, no gradient) minimised by
Nelder-Mead, the usual derivative-free route of BTYD code, on a subsample; its time is
scaled linearly to the full size, since each likelihood evaluation is linear in customers.

Run: ``python benchmarks/bench_clv.py [--n 1000000] [--baseline-n 100000]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import optimize
from scipy.special import gammaln

from segwise.clv import BGNBD, simulate_bgnbd

TRUE = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def textbook_neg_log_lik(log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray,
                         T: np.ndarray) -> float:
    """Mean negative log-likelihood, equation (6) of Fader, Hardie and Lee (2005), as usually
    written: every special function evaluated per customer, no gradient."""
    r, alpha, a, b = np.exp(log_params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                  - (r + x) * np.log(alpha + t_x), -np.inf)
    return -float(np.mean(a1 + a2 + np.logaddexp(a3, a4)))


def baseline_fit(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, int]:
    """Nelder-Mead (scipy's derivative-free default) on the textbook likelihood."""
    res = optimize.minimize(
        textbook_neg_log_lik, np.zeros(4), args=(x.astype(float), t_x, T),
        method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-10},
    )
    return np.exp(res.x), int(res.nfev)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--baseline-n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    T = rng.uniform(26.0, 52.0, args.n)  # a quarter's cohort seen for 26..52 weeks
    t0 = time.perf_counter()
    x, t_x, T = simulate_bgnbd(args.n, T, **TRUE, random_state=rng)
    print(f"simulated {args.n:,} customers in {time.perf_counter() - t0:.2f} s "
          f"({(x > 0).mean():.1%} repeat buyers)")

    t0 = time.perf_counter()
    model = BGNBD().fit(x, t_x, T)
    fit_s = time.perf_counter() - t0
    print(f"BGNBD().fit on {args.n:,} customers: {fit_s:.2f} s "
          f"({model.n_iter_} L-BFGS-B iterations, converged={model.converged_})")
    table = model.summary()
    table["true"] = [TRUE[name] for name in table.index]
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))

    m = min(args.baseline_n, args.n)
    sub = rng.choice(args.n, m, replace=False)
    t0 = time.perf_counter()
    params, nfev = baseline_fit(x[sub], t_x[sub], T[sub])
    base_s = time.perf_counter() - t0
    scaled = base_s * args.n / m
    print(f"baseline Nelder-Mead (no gradient) on {m:,} customers: {base_s:.2f} s, "
          f"{nfev} likelihood evaluations; scaled to {args.n:,}: {scaled:.1f} s")
    print("baseline estimates: " + ", ".join(
        f"{k}={v:.4f}" for k, v in zip(TRUE, params, strict=True)))
    print(f"speed-up of BGNBD().fit over the baseline at {args.n:,} customers: "
          f"{scaled / fit_s:.1f}x")


if __name__ == "__main__":
    main()
