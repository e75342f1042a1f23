"""The coded-population generator: it loads through segwise and has the advertised quirks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import generate_people as gen  # loaded by conftest.py from benchmarks/
from segwise.io import FeatureDictionary, read_dictionary


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return gen.generate(tmp_path_factory.mktemp("people"), 6000, 1500, attributes=120, seed=3)


def test_dictionary_and_columns(files: tuple[Path, Path, Path]) -> None:
    population, customers, dictionary_path = files
    dictionary = read_dictionary(dictionary_path)
    assert len(dictionary) == 120
    types = [a.type for a in dictionary]
    assert types.count("mixed") == 2 and types.count("ordinal") > 60
    assert {"categorical", "binary", "numeric"} <= set(types)
    table = pq.read_table(population)
    assert table.num_rows == 6000 and table.column_names == ["LNR", *dictionary.names]
    extra = set(pq.read_table(customers).column_names) - set(table.column_names)
    assert extra == {"CUSTOMER_GROUP", "ONLINE_PURCHASE", "PRODUCT_GROUP"}
    assert table.column("LNR").to_numpy().tolist() == list(range(1, 6001))


def test_unknown_codes_outlier_columns_and_sparse_rows(files: tuple[Path, Path, Path]
                                                       ) -> None:
    population, _, dictionary_path = files
    dictionary = read_dictionary(dictionary_path)
    frame = pq.read_table(population).to_pandas()
    unknown = np.column_stack([
        frame[a.name].isna() | frame[a.name].astype(str).isin(
            [*a.missing, *(f"{m}.0" for m in a.missing)]) for a in dictionary])
    by_column = unknown.mean(axis=0)
    assert np.median(by_column) < 0.15 and (by_column > 0.3).any()     # outlier columns
    by_row = unknown.mean(axis=1)
    sparse = (by_row > 0.5).mean()
    assert 0.08 < sparse < 0.16                                          # ~12 % sparse rows


def test_same_seed_same_file(tmp_path: Path) -> None:
    a = gen.generate(tmp_path / "a", 800, 100, attributes=40, seed=5)
    b = gen.generate(tmp_path / "b", 800, 100, attributes=40, seed=5)
    assert pq.read_table(a[0]).equals(pq.read_table(b[0]))
    assert a[2].read_text() == b[2].read_text()


def _ordinals(path: Path, dictionary: FeatureDictionary) -> pd.DataFrame:
    """The ordinal attributes as numbers, unknown codes as NaN."""
    frame = pq.read_table(path).to_pandas()
    return pd.DataFrame({a.name: frame[a.name].astype(float).where(
        ~frame[a.name].astype(str).isin(a.missing)) for a in dictionary if a.type == "ordinal"})


def test_correlated_groups_segments_and_biased_sparse_rows(files: tuple[Path, Path, Path]
                                                           ) -> None:
    population, customers, dictionary_path = files
    dictionary = read_dictionary(dictionary_path)
    people, buyers = _ordinals(population, dictionary), _ordinals(customers, dictionary)
    # Columns loading on the same latent factors move together; others much less.
    loadings = gen.PeopleGenerator(gen.make_dictionary(120, 3), 3).loadings
    weights = np.array([w for a, w in zip(dictionary, loadings, strict=True)
                        if a.type == "ordinal"])
    upper = np.triu_indices(len(weights), 1)
    shared = np.abs(weights @ weights.T)[upper]
    corr = np.abs(people.corr(method="spearman").to_numpy()[upper])
    assert corr[shared > 0.7].mean() > 0.5 > 0.2 > corr[shared == 0].mean()

    def differ(a: pd.DataFrame, b: pd.DataFrame) -> float:
        """Share of attributes whose means differ by over a tenth of a deviation."""
        return float(((a.mean() - b.mean()).abs() / people.std() > 0.1).mean())

    # Customers come from other segment weights: most attributes shift; a random sample
    # of the population of the same size does not.
    sample = people.sample(len(buyers), random_state=0)
    assert differ(buyers, people) > 0.4 and differ(sample, people) < 0.05
    # Sparse rows are commoner in some segments, so what they do show is not neutral.
    sparse = people.isna().mean(axis=1) > 0.5
    assert differ(people[sparse], people[~sparse]) > 0.3

