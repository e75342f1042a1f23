"""Benchmark: the whole population path on 1,000,000 people x 360 coded columns.

Generates (``generate_people.py``) a realistic coded population and customer file, then
times, each in a fresh process that reports its own wall time and peak resident memory:

* **segwise**: ``run_population`` (read and type by the dictionary, row rules, the
  encoder with its thresholds, the sparse-row comparison, feature relevance, imputation,
  scaling, PCA, the k sweep with every criterion, the final segments, the customers
  projected and compared), the output folder and the HTML report;
* **the notebook approach** (as in the Arvato/Udacity notebooks): pandas reads the file,
  ``replace`` turns unknown codes into NaN, columns and rows above 20 % missing are
  dropped, the mixed columns re-engineered with ``map`` and string slicing,
  ``get_dummies``, mean imputation, ``StandardScaler``, a full PCA, then one ``KMeans``
  per k = 2..10 with a silhouette on every point; the customers are cleaned and predicted
  the same way. It runs at growing sizes until one does not finish within
  ``--baseline-timeout``; segwise runs at the same sizes, and the ratio is taken at the
  largest size both finish.

Run (heavy: under the shared lock)::

    flock /tmp/segwise-heavy.lock .venv/bin/python benchmarks/bench_population.py
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate_people import generate  # noqa: E402

K_VALUES = range(2, 11)
THRESHOLD = 0.2


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_segwise(folder: Path, out: Path) -> dict[str, Any]:
    """The whole segwise path, with the time of each step."""
    from segwise.jobs import run_population
    from segwise.report import write_report

    start = time.perf_counter()
    steps: dict[str, float] = {}

    def progress(step: str) -> None:
        steps[step] = round(time.perf_counter() - start, 1)

    result = run_population(folder / "population.parquet", folder / "customers.parquet",
                            dictionary=folder / "dictionary.toml", progress=progress)
    steps["write"] = round(time.perf_counter() - start, 1)
    result.write(out)
    write_report(result, out / "report.html", extras=result.report_extras())
    seconds = time.perf_counter() - start
    table = result.comparison.table
    return {"seconds": seconds, "peak_mib": _peak_mib(), "steps": steps,
            "k": int((table["segment"] >= 0).sum()),
            "components": int(result.fit.pca.n_components_),
            "verdicts": table["verdict"].value_counts().to_dict()}


def _notebook_clean(df: Any, dictionary: Any, keep_columns: list[str] | None) -> Any:
    """The notebook's cleaning: unknown codes to NaN, drop, re-engineer, dummies."""
    import numpy as np
    import pandas as pd

    for attr in dictionary:
        if attr.name not in df:
            continue
        codes = [int(c) if c.lstrip("-").isdigit() else c for c in attr.missing]
        df[attr.name] = df[attr.name].replace(codes, np.nan)
    df = df[[a.name for a in dictionary if a.name in df]]
    if keep_columns is None:
        keep_columns = list(df.columns[df.isna().mean() <= THRESHOLD])
    df = df[keep_columns]
    df = df[df.isna().mean(axis=1) <= THRESHOLD].copy()
    if "YOUTH_MOVEMENT" in df:
        youth = dictionary["YOUTH_MOVEMENT"]
        decade = {float(k): v for k, v in youth.parts[0].values.items()}
        movement = {float(k): v == "main" for k, v in youth.parts[1].values.items()}
        df["YOUTH_DECADE"] = df["YOUTH_MOVEMENT"].map(decade)
        df["YOUTH_MAIN"] = df["YOUTH_MOVEMENT"].map(movement).astype(float)
        df = df.drop(columns="YOUTH_MOVEMENT")
    if "WEALTH_STAGE" in df:
        text = df["WEALTH_STAGE"].astype("string")
        df["WEALTH"] = pd.to_numeric(text.str[0], errors="coerce")
        df["STAGE"] = pd.to_numeric(text.str[1], errors="coerce")
        df = df.drop(columns="WEALTH_STAGE")
    categorical = [a.name for a in dictionary if a.name in df and (
        a.type == "categorical" or (a.type == "binary" and not a.numeric_codes))]
    return pd.get_dummies(df, columns=categorical, dtype=float), keep_columns


def run_notebook(folder: Path) -> dict[str, Any]:
    """The notebook approach on the population and the customers."""
    import numpy as np
    import pandas as pd
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.impute import SimpleImputer
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    from segwise.io import read_dictionary

    start = time.perf_counter()
    dictionary = read_dictionary(folder / "dictionary.toml")
    population, keep = _notebook_clean(pd.read_parquet(folder / "population.parquet"),
                                       dictionary, None)
    imputer = SimpleImputer(strategy="mean").fit(population)
    scaler = StandardScaler().fit(imputer.transform(population))
    X = scaler.transform(imputer.transform(population))
    full = PCA().fit(X)
    n = int(np.searchsorted(np.cumsum(full.explained_variance_ratio_), 0.8) + 1)
    pca = PCA(min(n, 50)).fit(X)
    Z = pca.transform(X)
    scores = {}
    models = {}
    for k in K_VALUES:
        models[k] = KMeans(k, random_state=0).fit(Z)
        scores[k] = float(silhouette_score(Z, models[k].labels_))
    best = max(scores, key=lambda k: scores[k])
    customers, _ = _notebook_clean(pd.read_parquet(folder / "customers.parquet"), dictionary,
                                   keep)
    customers = customers.reindex(columns=population.columns, fill_value=0.0)
    labels = models[best].predict(pca.transform(scaler.transform(imputer.transform(customers))))
    shares = np.bincount(labels, minlength=best) / len(labels)
    return {"seconds": time.perf_counter() - start, "peak_mib": _peak_mib(), "k": best,
            "shares": shares.round(3).tolist()}


def _child(kind: str, folder: Path, timeout: float | None) -> dict[str, Any]:
    """Run one measurement in a fresh process."""
    call = (f"run_segwise(b.Path({str(folder)!r}), b.Path({str(folder / 'out')!r}))"
            if kind == "segwise" else f"run_notebook(b.Path({str(folder)!r}))")
    code = (f"import json, sys; sys.path.insert(0, {str(HERE)!r}); import bench_population as b; "
            f"r = b.{call}; print('RESULT ' + json.dumps(r))")
    try:
        # Our own interpreter and code, no user input.
        done = subprocess.run([sys.executable, "-c", code], capture_output=True,  # noqa: S603
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"finished": False, "seconds": timeout}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"{kind} failed on {folder}:\n{done.stderr[-3000:]}")
    return {"finished": True, **json.loads(lines[-1][7:])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--customers-share", type=float, default=0.15)
    parser.add_argument("--attributes", type=int, default=360)
    parser.add_argument("--baseline-sizes", default="10000,30000,60000")
    parser.add_argument("--baseline-timeout", type=float, default=900.0)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    args = parser.parse_args()
    results: dict[str, Any] = {}

    def folder_for(n: int) -> Path:
        folder = args.data / f"people_{n}"
        if not (folder / "dictionary.toml").exists():
            generate(folder, n, max(100, int(n * args.customers_share)), args.attributes)
        return folder

    sizes = [int(s) for s in args.baseline_sizes.split(",") if s]
    finished = None
    for n in sizes:
        folder = folder_for(n)
        base = _child("notebook", folder, args.baseline_timeout)
        ours = _child("segwise", folder, None)
        results[f"{n}"] = {"notebook": base, "segwise": ours}
        shown = (f"{base['seconds']:.0f} s, {base['peak_mib']:,.0f} MiB" if base["finished"]
                 else f"did not finish in {args.baseline_timeout:.0f} s")
        print(f"{n:>9,} people: notebook {shown}; segwise {ours['seconds']:.0f} s, "
              f"{ours['peak_mib']:,.0f} MiB", flush=True)
        if not base["finished"]:
            break
        finished = n
    folder = folder_for(args.people)
    ours = _child("segwise", folder, None)
    results[f"{args.people}"] = {"segwise": ours}
    print(f"{args.people:>9,} people x {args.attributes} columns: segwise "
          f"{ours['seconds']:.0f} s ({ours['seconds'] / 60:.1f} min), peak "
          f"{ours['peak_mib'] / 1024:.2f} GiB, k={ours['k']}, "
          f"{ours['components']} components; steps {ours['steps']}", flush=True)
    if finished is not None:
        pair = results[f"{finished}"]
        ratio = pair["notebook"]["seconds"] / pair["segwise"]["seconds"]
        results["ratio"] = {"people": finished, "notebook_over_segwise": ratio}
        print(f"at {finished:,} people (largest size the notebook finished): segwise is "
              f"{ratio:.1f}x faster", flush=True)
    (args.data / "bench_population.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
