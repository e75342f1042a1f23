"""The coded-population generator: it loads through segwise and has the advertised quirks."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from segwise.io import read_dictionary

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "generate_people.py"
_spec = importlib.util.spec_from_file_location("generate_people", _PATH)
assert _spec is not None and _spec.loader is not None
gen = importlib.util.module_from_spec(_spec)
sys.modules["generate_people"] = gen
_spec.loader.exec_module(gen)


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
