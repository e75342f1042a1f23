"""Benchmark: train the default response model on 1,000,000 people x 360 coded columns, score them.

Generates (with ``generate_people.py``'s dictionary and generator) a coded population
whose response (``RESPONSE``, about 3 %) depends on a dozen attributes through a logistic
link, plus noise: a few percent respond, as after a mail-out. Then, each in a fresh
process that reports its own wall time and peak resident memory:

* **train**: ``segwise propensity train`` with the default model of docs/propensity.md
  (logistic regression, no rebalancing): read and type by the dictionary, the comparison
  on a stratified 50,000-row sample (5 folds, permutation importance), the final fit on
  every row, the model file;
* **score**: ``segwise propensity score`` of the same 1,000,000 rows with three reasons
  per person, written to Parquet;
* **baseline**, at ``--baseline-people`` (200,000 by default: its float64 dummies need
  about three copies of 5 GB at a million rows), with segwise run again at that size for
  the ratio: the obvious hand-written path (pandas reads the file, unknown codes to NaN,
  ``get_dummies``, mean imputation, scaling, one ``LogisticRegression``), then the same
  path scoring the file with the fitted steps (no comparison, no reasons, no checks).

Targets (issue 16): training under 10 minutes and 8 GB, scoring under 60 s, on two cores.

Run (heavy: under the shared lock)::

    flock /tmp/segwise-heavy.lock .venv/bin/python benchmarks/bench_propensity.py
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

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate_people import POPULATION_WEIGHTS, PeopleGenerator, make_dictionary  # noqa: E402

#: Attributes the response depends on (ordinal codes, standardised), and its base rate.
N_DRIVERS = 12
INTERCEPT = -3.9


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(folder: Path, n: int, attributes: int = 360, seed: int = 0) -> Path:
    """Write ``targeted.parquet`` (people, attributes, ``RESPONSE``) and the dictionary."""
    folder.mkdir(parents=True, exist_ok=True)
    dictionary = make_dictionary(attributes, seed)
    dictionary.write(folder / "dictionary.toml")
    generator = PeopleGenerator(dictionary, seed)
    rng = np.random.default_rng(seed + 30)
    ordinal = [a for a in dictionary if a.type == "ordinal"]
    drivers = [ordinal[i] for i in rng.choice(len(ordinal), N_DRIVERS, replace=False)]
    weights = rng.normal(0, 0.45, N_DRIVERS)
    path = folder / "targeted.parquet"
    chunks = (_with_response(generator.rows(min(100_000, n - start), POPULATION_WEIGHTS, rng,
                                            start + 1), drivers, weights, rng)
              for start in range(0, n, 100_000))
    first = next(chunks)
    with pq.ParquetWriter(path, first.schema) as out:
        out.write_table(first)
        for chunk in chunks:
            out.write_table(chunk)
    return path


def _with_response(table: pa.Table, drivers: list[Any], weights: np.ndarray,
                   rng: np.random.Generator) -> pa.Table:
    """Add ``RESPONSE``: a logistic function of the drivers' standardised codes, drawn."""
    logit = np.full(table.num_rows, INTERCEPT)
    for attr, w in zip(drivers, weights, strict=True):
        codes = np.asarray(table.column(attr.name).to_numpy(), dtype=np.float64)
        known = np.isin(codes, [float(c) for c in attr.codes])
        levels = max(len(attr.codes), 2)
        logit += w * np.where(known, (codes - (levels + 1) / 2) / (levels / 3.5), 0.0)
    responded = rng.random(table.num_rows) < 1 / (1 + np.exp(-logit))
    return table.append_column("RESPONSE", pa.array(responded.astype(np.int8)))


def run_train(folder: Path) -> dict[str, Any]:
    from segwise.jobs import run_propensity

    start = time.perf_counter()
    steps: dict[str, float] = {}

    def progress(step: str) -> None:
        if ":" not in step:
            steps[step] = round(time.perf_counter() - start, 1)

    result = run_propensity(folder / "targeted.parquet", "RESPONSE",
                            dictionary=folder / "dictionary.toml", models=["logistic"],
                            imbalance=["none"], segments=False, progress=progress)
    result.trained.save(folder / "model.skops")
    v = result.trained.validation
    assert v is not None  # noqa: S101
    row = v.summary.loc[v.choice.chosen]
    return {"seconds": time.perf_counter() - start, "peak_mib": _peak_mib(), "steps": steps,
            "cv_roc_auc": float(row["roc_auc"]), "cv_captured_20": float(row["captured_20"]),
            "rows": result.trained.metadata["rows"],
            "response_rate": result.trained.metadata["response_rate"],
            "encoded_features": len(result.trained.model.feature_names_)}


def run_score(folder: Path) -> dict[str, Any]:
    from segwise.jobs import score_propensity
    from segwise.store import write_table

    start = time.perf_counter()
    result = score_propensity(folder / "model.skops", folder / "targeted.parquet", reasons=3)
    write_table(result.scores, folder / "scores.parquet")
    seconds = time.perf_counter() - start
    y = pq.read_table(folder / "targeted.parquet", columns=["LNR", "RESPONSE"])
    truth = dict(zip(y.column("LNR").to_pylist(), y.column("RESPONSE").to_pylist(),
                     strict=True))
    top = result.scores.head(len(result.scores) // 5)
    found = sum(truth[int(p)] for p in top["person_id"])
    return {"seconds": seconds, "peak_mib": _peak_mib(), "people": result.n_scored,
            "captured_20_in_sample": found / max(sum(truth.values()), 1)}


def run_baseline(folder: Path) -> dict[str, Any]:
    """The hand-written path: pandas, NaN codes, dummies, mean imputation, one logistic fit.

    Then scoring: the file read again and passed through the fitted steps.
    """
    import pandas as pd
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from segwise.io import read_dictionary

    dictionary = read_dictionary(folder / "dictionary.toml")
    categorical = [a.name for a in dictionary if a.type in ("categorical", "mixed")
                   or (a.type == "binary" and not a.numeric_codes)]

    def prepared() -> tuple[pd.DataFrame, np.ndarray]:
        df = pd.read_parquet(folder / "targeted.parquet")
        y = df.pop("RESPONSE").to_numpy()
        for attr in dictionary:
            codes = [int(c) if c.lstrip("-").isdigit() else c for c in attr.missing]
            df[attr.name] = df[attr.name].replace(codes, np.nan)
        return pd.get_dummies(df.drop(columns=["LNR"]), columns=categorical, dtype=float), y

    start = time.perf_counter()
    X, y = prepared()
    columns = X.columns
    imputer, scaler = SimpleImputer(strategy="mean"), StandardScaler()
    model = LogisticRegression(C=0.01, max_iter=1000).fit(
        scaler.fit_transform(imputer.fit_transform(X)), y)
    trained = time.perf_counter()
    del X
    X, _ = prepared()
    X = X.reindex(columns=columns, fill_value=0.0)
    model.predict_proba(scaler.transform(imputer.transform(X)))
    return {"train_seconds": trained - start, "score_seconds": time.perf_counter() - trained,
            "peak_mib": _peak_mib()}


def _measure(kind: str, folder: Path, timeout: float | None) -> dict[str, Any]:
    """Run ``run_<kind>`` in a fresh process (this script with ``--child``)."""
    start = time.perf_counter()
    try:
        # Our own interpreter and script, no user input.
        done = subprocess.run(  # noqa: S603
            [sys.executable, __file__, "--child", kind, "--data", str(folder)],
            capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"finished": False, "seconds": timeout}
    found = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode or not found:
        raise RuntimeError(f"{kind} failed on {folder}:\n{done.stderr[-3000:]}")
    return {"finished": True, "process_seconds": time.perf_counter() - start,
            **json.loads(found[-1].removeprefix("RESULT "))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--attributes", type=int, default=360)
    parser.add_argument("--baseline-people", type=int, default=200_000)
    parser.add_argument("--baseline-timeout", type=float, default=900.0)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--child", choices=["train", "score", "baseline"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        step = {"train": run_train, "score": run_score, "baseline": run_baseline}[args.child]
        print("RESULT " + json.dumps(step(args.data)), flush=True)
        return
    results: dict[str, Any] = {}
    for n in dict.fromkeys([args.people, args.baseline_people]):  # the size first
        folder = args.data / f"targeted_{n}"
        if not (folder / "targeted.parquet").exists():
            t = time.perf_counter()
            generate(folder, n, args.attributes)
            print(f"generated {n:,} people x {args.attributes} columns in "
                  f"{time.perf_counter() - t:.0f} s", flush=True)
        train = _measure("train", folder, None)
        print(f"{n:>9,} people, train: {train['seconds']:.0f} s in the process "
              f"({train['process_seconds'] / 60:.1f} min whole), peak "
              f"{train['peak_mib'] / 1024:.2f} GiB; {train['encoded_features']} encoded "
              f"features; cross-validated ROC AUC {train['cv_roc_auc']:.3f}, top 20 % "
              f"captures {train['cv_captured_20']:.1%}; steps {train['steps']}", flush=True)
        score = _measure("score", folder, None)
        print(f"{n:>9,} people, score with 3 reasons each: {score['seconds']:.1f} s in the "
              f"process ({score['process_seconds']:.1f} s whole), peak "
              f"{score['peak_mib'] / 1024:.2f} GiB", flush=True)
        results[f"{n}"] = {"train": train, "score": score}
        if n != args.baseline_people:
            continue
        base = _measure("baseline", folder, args.baseline_timeout)
        results[f"{n}"]["baseline"] = base
        if not base["finished"]:
            print(f"hand-written path: did not finish in {args.baseline_timeout:.0f} s",
                  flush=True)
            continue
        print(f"{n:>9,} people, hand-written pandas + one logistic fit: train "
              f"{base['train_seconds']:.0f} s, score {base['score_seconds']:.1f} s, peak "
              f"{base['peak_mib'] / 1024:.2f} GiB; segwise / hand-written: train "
              f"{train['seconds'] / base['train_seconds']:.2f}x (with the comparison of "
              f"candidates and the importance), score "
              f"{score['seconds'] / base['score_seconds']:.2f}x (with reasons), peak "
              f"{train['peak_mib'] / base['peak_mib']:.2f}x", flush=True)
    (args.data / "bench_propensity.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
