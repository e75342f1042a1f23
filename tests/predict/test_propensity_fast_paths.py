"""The paths that make a million people fast give what the plain paths give, bit for bit.

Each fast path (the encoder's lookups and contiguous writes, the median imputer fitted by
partial sorts, the scaler fitted by column blocks, one pass for scores and reasons) is
checked against the straightforward computation it replaces, on CoIL 2000 and Customer
Personality, and on generated columns for the corner cases (blanks, padding, types that
compare equal, even counts, columns with nothing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler

from segwise.features._encoder import _Values
from segwise.features.people import PeopleEncoder
from segwise.io import canonical_code, load_source
from segwise.predict import PropensityModel, TrainedPropensity
from segwise.predict._propensity import (
    _fit_median_imputer,
    _fit_scaler,
    _impute,
    _sum_by_owner,
)


@pytest.fixture(scope="module")
def personality(shared_data: Path) -> tuple[pa.Table, np.ndarray]:
    rows = load_source(shared_data / "kaggle-customer-personality"
                       / "marketing_campaign.csv.gz", "people").table.to_pyarrow()
    y = np.asarray(rows.column("Response").to_pylist(), dtype=float).astype(int)
    return rows.drop_columns(["person_id", "Response"]), y


# ---------------------------------------------------------------- code lookups


def _plain_text(raw: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Keys and positions of a text column, row by row (the code before the fast path)."""
    series = pd.Series(raw, dtype=object)
    null = series.isna().to_numpy()
    text = series[~null].astype(str).str.strip()
    blank = (text == "").to_numpy()
    codes, uniq = pd.factorize(text[~blank], sort=False)
    inv = np.full(len(raw), -1, dtype=np.int64)
    inv[np.flatnonzero(~null)[~blank]] = codes
    return [canonical_code(v) for v in uniq], inv


def _plain_lookup(num: np.ndarray, keys: list[str]) -> np.ndarray:
    """Binary search for numeric codes (the code before the table lookup)."""
    codes = np.array([float(k) for k in keys])
    order = np.argsort(codes, kind="stable")
    pos = np.clip(np.searchsorted(codes[order], num), 0, len(codes) - 1)
    return np.where(codes[order][pos] == num, order[pos], -1)


_TEXT = st.one_of(st.none(), st.just(float("nan")), st.sampled_from(
    ["", " ", "1", " 1", "1 ", "01", "1.0", "4C", " 4C ", "XX", "\t-1", "-1", "é"]))


@given(st.lists(st.one_of(_TEXT, st.sampled_from([1, 1.0, True, 0, False, 2.5])),
                min_size=1, max_size=40))
def test_text_codes_are_found_as_row_by_row(values: list[Any]) -> None:
    # Text alone takes the fast path; 1, 1.0 and True hash alike but read "1", "1.0" and
    # "True", so columns holding other objects are read row by row.
    raw = np.array(values, dtype=object)
    keys, inv = _plain_text(raw)
    fast = _Values(raw)
    assert fast.keys == keys
    np.testing.assert_array_equal(fast.inv, inv)


@given(st.lists(st.one_of(st.integers(-3, 12).map(float), st.just(float("nan")),
                          st.sampled_from([2.5, 1e6])), min_size=1, max_size=60),
       st.lists(st.sampled_from(["-1", "0", "1", "2", "2", "9", "10", "1.5", "99", "1e6"]),
                min_size=1, max_size=8))
def test_whole_number_codes_are_found_as_by_binary_search(values: list[float],
                                                          keys: list[str]) -> None:
    num = np.array(values)
    np.testing.assert_array_equal(_Values(num).lookup(keys), _plain_lookup(num, keys))


def test_real_columns_are_looked_up_as_before(coil: Any, personality: Any) -> None:
    X, _, dictionary = coil
    tabled = 0
    for attr in dictionary:
        if attr.name in X.column_names:
            num = np.asarray(X.column(attr.name).to_numpy(zero_copy_only=False), dtype=float)
            keys = [*attr.missing, *attr.codes]
            if keys and _Values(num).offsets is not None:
                tabled += 1
                np.testing.assert_array_equal(_Values(num).lookup(keys),
                                              _plain_lookup(num, keys))
    assert tabled >= 60  # the CoIL columns with declared codes
    rows, _ = personality
    for name in ("Education", "Marital_Status"):
        raw = np.asarray(rows.column(name).to_numpy(zero_copy_only=False), dtype=object)
        keys, inv = _plain_text(raw)
        assert _Values(raw).keys == keys and len(keys) >= 5
        np.testing.assert_array_equal(_Values(raw).inv, inv)


def test_encoding_in_32_bits_is_the_64_bit_encoding_cast(coil: Any, personality: Any) -> None:
    X, _, dictionary = coil
    rows, _ = personality
    for enc, table in ((PeopleEncoder(dictionary, unknown_columns="ignore").fit(X), X),
                       (PeopleEncoder(unknown_columns="ignore").fit(rows), rows)):
        wide, missing, _ = enc._encode(table)
        narrow, missing32, _ = enc._encode(table, dtype=np.float32)
        assert wide.flags.c_contiguous and narrow.flags.c_contiguous
        assert narrow.dtype == np.float32 and np.isnan(wide).any() == (table is rows)
        np.testing.assert_array_equal(narrow, wide.astype(np.float32))
        np.testing.assert_array_equal(missing, missing32)


# ---------------------------------------------------------------- the median imputer


def _check_medians(Z: np.ndarray) -> None:
    plain = SimpleImputer(strategy="median", keep_empty_features=True).fit(Z)
    fast = SimpleImputer(strategy="median", keep_empty_features=True)
    _fit_median_imputer(fast, Z, block=7)
    assert fast.statistics_.dtype == plain.statistics_.dtype
    np.testing.assert_array_equal(fast.statistics_, plain.statistics_)
    np.testing.assert_array_equal(fast.transform(Z.copy()), plain.transform(Z.copy()))
    # Imputing through the mask writes what scikit-learn's transform writes.
    np.testing.assert_array_equal(_impute(fast, Z.copy()), plain.transform(Z.copy()))


def test_medians_of_real_encodings_are_scikit_learns(coil: Any, personality: Any) -> None:
    X, _, dictionary = coil
    rows, _ = personality
    for enc, table in ((PeopleEncoder(dictionary, unknown_columns="ignore").fit(X), X),
                       (PeopleEncoder(unknown_columns="ignore").fit(rows), rows)):
        for dtype in (np.float32, np.float64):
            _check_medians(enc._encode(table, dtype=dtype)[0])
            _check_medians(enc._encode(table.slice(0, 1001), dtype=dtype)[0])  # odd count


@settings(max_examples=60)
@given(st.integers(1, 30), st.integers(1, 12), st.floats(0, 1), st.integers(0, 2**32 - 1))
def test_medians_with_gaps_and_even_counts_are_scikit_learns(
        rows: int, columns: int, gaps: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    Z = rng.normal(0, 1e3, (rows, columns)).astype(np.float32)
    Z[rng.random(Z.shape) < gaps] = np.nan
    Z[:, 0] = np.nan  # a column with no value: 0
    _check_medians(Z)


# ---------------------------------------------------------------- reasons and scores


def test_scores_and_reasons_in_one_pass_are_those_of_two(coil: Any) -> None:
    X, y, dictionary = coil
    model = PropensityModel(dictionary=dictionary, chunk_rows=1000).fit(X, y)
    trained = TrainedPropensity(model)
    scored, _ = trained.score(X, reasons=3)
    plain = model.score_table(X)[0]["score"].to_numpy()
    order = np.argsort(-plain, kind="stable")
    np.testing.assert_array_equal(scored["score"].to_numpy(), plain[order])
    explained = model.score_table(X, reasons=3)[0].iloc[order].reset_index(drop=True)
    pd.testing.assert_frame_equal(scored.drop(columns=["person_id", "score", "rank"]),
                                  explained.drop(columns="score"))
    top, _ = trained.score(X, reasons=3, top=50)
    pd.testing.assert_frame_equal(top, scored.head(50))


def test_scaler_fitted_by_column_blocks_is_scikit_learns(coil: Any, personality: Any) -> None:
    X, _, dictionary = coil
    rows, _ = personality
    for enc, table in ((PeopleEncoder(dictionary, unknown_columns="ignore").fit(X), X),
                       (PeopleEncoder(unknown_columns="ignore").fit(rows), rows)):
        Z = enc._encode(table, dtype=np.float32)[0]
        for gaps in (True, False):  # with NaN, counts per column; imputed, one count
            if not gaps:
                Z = SimpleImputer(strategy="median", keep_empty_features=True).fit_transform(Z)
            plain = StandardScaler().fit(Z)
            fast = StandardScaler(copy=False)
            _fit_scaler(fast, Z, block=5)
            for name in ("mean_", "var_", "scale_", "n_samples_seen_"):
                np.testing.assert_array_equal(getattr(fast, name), getattr(plain, name))
            assert np.ndim(fast.n_samples_seen_) == np.ndim(plain.n_samples_seen_)
            np.testing.assert_array_equal(fast.transform(Z.copy()), plain.transform(Z))


@settings(max_examples=60)
@given(st.integers(1, 40), st.lists(st.integers(0, 6), min_size=1, max_size=25),
       st.integers(0, 2**32 - 1))
def test_sums_per_attribute_are_the_sparse_products(rows: int, owners: list[int],
                                                     seed: int) -> None:
    # Reasons sum each attribute's contribution columns by gathers; the sparse product
    # they replace gives the same bits (signs of zero, NaN and infinities included).
    owner = np.unique(owners, return_inverse=True)[1]
    rng = np.random.default_rng(seed)
    parts = rng.normal(0, 1e3, (rows, len(owner)))
    special = rng.random(parts.shape)
    parts[special < 0.2] = -0.0
    parts[(special >= 0.2) & (special < 0.25)] = np.nan
    parts[(special >= 0.25) & (special < 0.27)] = -np.inf
    member = sparse.csr_matrix((np.ones(len(owner)), (np.arange(len(owner)), owner)),
                               shape=(len(owner), owner.max() + 1))
    plain = np.asarray(parts @ member)
    with np.errstate(invalid="ignore"):
        fast = _sum_by_owner(parts, owner, block=7)  # several blocks of rows
    np.testing.assert_array_equal(fast.view(np.int64), plain.view(np.int64))


def test_imputing_through_the_mask_refuses_infinities() -> None:
    Z = np.array([[1.0, np.nan], [np.inf, 2.0]], dtype=np.float32)
    imputer = SimpleImputer(strategy="median", keep_empty_features=True).fit(Z[:1])
    with pytest.raises(ValueError, match="infinity"):
        _impute(imputer, Z)
