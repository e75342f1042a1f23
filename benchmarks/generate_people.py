"""Generate a realistic coded population (and customers) with its feature dictionary.

Modelled on the mail-order demographics segwise's people path is for (hundreds of coded
columns per person, as in the Arvato/AZDIAS exercise):

* a dictionary of ``--attributes`` attributes, most ordinal (3 to 10 levels; unknown codes
  such as -1, 0 or 9, as such files declare them), some categorical (numeric codes and
  text codes like ``"4C"`` with ``"XX"`` unknown), binary (1/2 or ``O``/``W``), numeric
  (counts and money with -1 unknown) and mixed (a decade-and-movement code split by a map
  rule, a two-digit wealth-and-life-stage code split by digit rules);
* values driven by eight segments of people and eight latent factors, each attribute
  loading on two or three factors, so columns are correlated in groups and the population
  has real segments;
* unknown codes at realistic rates: most attributes miss 0-5 % of rows, some 5-18 %, a
  few 30-95 % (the outlier columns); about 12 % of the people miss about 70 % of
  everything (the sparse rows), more often in some segments than in others, so leaving
  them out is not neutral;
* customers drawn from the same generator with other segment weights (some segments two
  or three times as common, others rarer), plus three customer-only columns.

Rows are written chunk by chunk with pyarrow, so memory stays flat at any size; the same
seed gives the same files. Run::

    python benchmarks/generate_people.py --people 1000000 --customers 150000 \\
        --out benchmarks/data/people_1m
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from segwise.io import Attribute, FeatureDictionary, Part

N_FACTORS = 8
N_SEGMENTS = 8
#: Share of people in each segment in the population, and among the customers.
POPULATION_WEIGHTS = np.array([0.18, 0.16, 0.14, 0.13, 0.12, 0.11, 0.09, 0.07])
CUSTOMER_WEIGHTS = np.array([0.06, 0.08, 0.30, 0.10, 0.25, 0.08, 0.10, 0.03])
#: Share of each segment's people who miss most attributes (some kinds of people are
#: harder to profile: about 12 % of the population in all).
SPARSE_ROWS = np.array([0.06, 0.08, 0.10, 0.10, 0.12, 0.14, 0.22, 0.30])
#: People drawn once to place the ordinal attributes' level boundaries.
_REFERENCE_ROWS = 20_000
_DECADES = [40, 40, 50, 50, 60, 60, 60, 70, 70, 80, 80, 80, 80, 90, 90]
_MOVEMENT = ["main", "avant", "main", "avant", "main", "avant", "avant", "main", "avant",
             "main", "avant", "main", "avant", "main", "avant"]


def make_dictionary(n_attributes: int = 360, seed: int = 0) -> FeatureDictionary:
    """Draw a dictionary of coded attributes in realistic proportions."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(["ordinal", "categorical", "text_categorical", "binary", "numeric"],
                       size=n_attributes - 2, p=[0.79, 0.04, 0.02, 0.07, 0.08])
    attributes = [
        Attribute("YOUTH_MOVEMENT", "mixed", "Dominating movement of the person's youth",
                  missing=("-1", "0"),
                  labels={str(i + 1): f"{d}s {m}" for i, (d, m) in
                          enumerate(zip(_DECADES, _MOVEMENT, strict=True))},
                  parts=(Part("decade", "ordinal",
                              {str(i + 1): d for i, d in enumerate(_DECADES)}),
                         Part("movement", "binary",
                              {str(i + 1): m for i, m in enumerate(_MOVEMENT)}))),
        Attribute("WEALTH_STAGE", "mixed", "Wealth and life stage (two digits)",
                  missing=("-1", "XX"),
                  parts=(Part("wealth", "ordinal", digit="tens"),
                         Part("life_stage", "ordinal", digit="units"))),
    ]
    for j, kind in enumerate(kinds):
        name = f"A{j:03d}"
        if kind == "ordinal":
            levels = int(rng.integers(3, 11))
            missing = [("-1",), ("-1", "0"), ("-1", "9")][int(rng.integers(3))]
            codes = range(1, levels + 1) if "9" not in missing or levels < 9 else range(1, 9)
            attributes.append(Attribute(name, "ordinal", f"ordinal attribute {j}",
                                        missing=missing,
                                        labels={str(c): f"level {c}" for c in codes}))
        elif kind == "categorical":
            levels = int(rng.integers(4, 21))
            attributes.append(Attribute(name, "categorical", f"type attribute {j}",
                                        missing=("-1",),
                                        labels={str(c): f"type {c}" for c in
                                                range(1, levels + 1)}))
        elif kind == "text_categorical":
            cells = [f"{a}{b}" for a in range(1, 10) for b in "ABCDE"][:int(rng.integers(6, 45))]
            attributes.append(Attribute(name, "categorical", f"microcell type {j}",
                                        missing=("XX",), labels={c: f"cell {c}" for c in cells}))
        elif kind == "binary":
            labels = {"1": "no", "2": "yes"} if rng.random() < 0.6 else {"O": "east",
                                                                          "W": "west"}
            attributes.append(Attribute(name, "binary", f"flag {j}", missing=("-1",),
                                        labels=labels))
        else:
            attributes.append(Attribute(name, "numeric", f"count or amount {j}",
                                        missing=("-1",)))
    return FeatureDictionary(attributes, source="generated")


def _missing_rates(n: int, rng: np.random.Generator) -> np.ndarray:
    band = rng.choice(3, n, p=[0.85, 0.10, 0.05])
    return np.where(band == 0, rng.uniform(0, 0.05, n),
                    np.where(band == 1, rng.uniform(0.05, 0.18, n), rng.uniform(0.3, 0.95, n)))


class PeopleGenerator:
    """Draw rows of the dictionary's attributes from segments and latent factors."""

    def __init__(self, dictionary: FeatureDictionary, seed: int = 0) -> None:
        rng = np.random.default_rng(seed + 1)
        self.dictionary = dictionary
        self.means = rng.normal(0, 1.2, (N_SEGMENTS, N_FACTORS))
        self.loadings = []
        for _ in dictionary:
            w = np.zeros(N_FACTORS)
            picks = rng.choice(N_FACTORS, int(rng.integers(2, 4)), replace=False)
            w[picks] = rng.normal(0, 1, len(picks))
            self.loadings.append(w / np.linalg.norm(w))
        self.category_loadings = [rng.normal(0, 1, (N_FACTORS, max(len(a.codes), 1)))
                                  for a in dictionary]
        self.missing = _missing_rates(len(dictionary), rng)
        self.scale = rng.uniform(0.5, 1.0, len(dictionary))
        # An ordinal's level boundaries are fixed once, at the population's quantiles of
        # its score: cut from each drawn chunk, every chunk (and the customers, drawn with
        # other segment weights) would come out uniform over the levels again.
        segment = rng.choice(N_SEGMENTS, _REFERENCE_ROWS, p=POPULATION_WEIGHTS)
        factors = self.means[segment] + rng.normal(0, 1, (_REFERENCE_ROWS, N_FACTORS))
        self.cuts = [
            np.quantile(factors @ w + rng.normal(0, s, _REFERENCE_ROWS),
                        np.linspace(0, 1, len(a.codes) + 1)[1:-1])
            for a, w, s in zip(dictionary, self.loadings, self.scale, strict=True)]

    def rows(self, n: int, weights: np.ndarray, rng: np.random.Generator,
             start_id: int) -> pa.Table:
        """``n`` people: an ``LNR`` id and one column per attribute, unknowns coded."""
        segment = rng.choice(N_SEGMENTS, n, p=weights)
        factors = self.means[segment] + rng.normal(0, 1, (n, N_FACTORS))
        sparse = rng.random(n) < SPARSE_ROWS[segment]
        columns: dict[str, pa.Array] = {"LNR": pa.array(np.arange(start_id, start_id + n))}
        for j, attr in enumerate(self.dictionary):
            score = factors @ self.loadings[j] + rng.normal(0, self.scale[j], n)
            gone = (rng.random(n) < self.missing[j]) | (sparse & (rng.random(n) < 0.7))
            columns[attr.name] = self._column(attr, j, score, factors, gone, rng)
        return pa.table(columns)

    def _column(self, attr: Attribute, j: int, score: np.ndarray, factors: np.ndarray,
                gone: np.ndarray, rng: np.random.Generator) -> pa.Array:
        n = len(score)
        unknown = attr.missing[int(rng.integers(len(attr.missing)))] if attr.missing else None
        if attr.name == "YOUTH_MOVEMENT":
            code = np.clip(np.floor((score + 3) / 6 * 15), 0, 14).astype(np.int16) + 1
            code[gone] = int(unknown or -1)
            return pa.array(code)
        if attr.name == "WEALTH_STAGE":
            wealth = np.clip(np.floor((score + 3) / 6 * 5), 0, 4).astype(int) + 1
            stage = np.clip(np.floor((factors[:, 1] + 3) / 6 * 5), 0, 4).astype(int) + 1
            text = (wealth * 10 + stage).astype(str).astype(object)
            text[gone] = "XX"
            return pa.array(text, pa.string())
        if attr.type == "ordinal":
            codes = np.array([int(c) for c in attr.codes])
            values = codes[np.searchsorted(self.cuts[j], score)].astype(np.int16)
            values[gone] = int(unknown or -1)
            return pa.array(values)
        if attr.type in ("categorical", "binary"):
            declared = attr.codes
            if attr.type == "binary":
                pick = (score > 0).astype(int)
            else:
                utility = factors @ self.category_loadings[j] + rng.gumbel(
                    0, 1, (n, len(declared)))
                pick = utility.argmax(axis=1)
            if all(c.lstrip("-").isdigit() for c in declared):
                values = np.array([int(c) for c in declared], dtype=np.int16)[pick]
                values[gone] = int(unknown or -1)
                return pa.array(values)
            text = np.array(declared, dtype=object)[pick]
            text[gone] = unknown
            return pa.array(text, pa.string())
        amount = np.round(np.exp(score + 2)) if j % 2 else rng.poisson(np.exp(score / 2 + 1))
        values = np.asarray(amount, dtype=np.float64)
        values[gone] = -1.0 if rng.random() < 0.5 else np.nan
        return pa.array(values, from_pandas=True)


def write_people(path: Path, generator: PeopleGenerator, n: int, weights: np.ndarray,
                 seed: int, *, chunk: int = 100_000, start_id: int = 1,
                 extra: bool = False) -> Path:
    """Write ``n`` generated people to a Parquet file, chunk by chunk."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    for begin in range(0, n, chunk):
        size = min(chunk, n - begin)
        table = generator.rows(size, weights, rng, start_id + begin)
        if extra:  # customer-only columns, as a customer file has them
            table = table.append_column("CUSTOMER_GROUP", pa.array(
                rng.choice(["SINGLE_BUYER", "MULTI_BUYER"], size)))
            table = table.append_column("ONLINE_PURCHASE", pa.array(
                rng.integers(0, 2, size).astype(np.int16)))
            table = table.append_column("PRODUCT_GROUP", pa.array(
                rng.choice(["FOOD", "COSMETIC", "COSMETIC_AND_FOOD"], size)))
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None  # noqa: S101 - n >= 1
    writer.close()
    return path


def generate(out: Path, people: int, customers: int, attributes: int = 360,
             seed: int = 0) -> tuple[Path, Path, Path]:
    """Write ``population.parquet``, ``customers.parquet`` and ``dictionary.toml``."""
    dictionary = make_dictionary(attributes, seed)
    generator = PeopleGenerator(dictionary, seed)
    population = write_people(out / "population.parquet", generator, people,
                              POPULATION_WEIGHTS, seed + 10)
    customer_file = write_people(out / "customers.parquet", generator, customers,
                                 CUSTOMER_WEIGHTS, seed + 20, start_id=10_000_000, extra=True)
    return population, customer_file, dictionary.write(out / "dictionary.toml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=150_000)
    parser.add_argument("--attributes", type=int, default=360)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/people"))
    args = parser.parse_args()
    for path in generate(args.out, args.people, args.customers, args.attributes, args.seed):
        print(f"wrote {path} ({path.stat().st_size / 2**20:,.1f} MiB)")


if __name__ == "__main__":
    main()
