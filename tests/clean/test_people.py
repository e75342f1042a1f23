"""Cleaning people: row rules, typing by the dictionary, settings, sparse-row comparison."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segwise._engine import fetch_arrow, fetch_scalar
from segwise.clean import (
    CleanedPeople,
    PeopleSettings,
    Rule,
    clean_people,
    clean_rows,
    compare_subsets,
)
from segwise.config import SegwiseConfig, load_config
from segwise.exceptions import ConfigError, InputError
from segwise.features.people import people_entities
from segwise.io import PERSON_ID, Attribute, FeatureDictionary, ReadOptions, load_source
from segwise.jobs import run_job


def _config(**people: object) -> SegwiseConfig:
    return SegwiseConfig(read=ReadOptions(max_quarantine_share=0.5),
                         sections={"people": PeopleSettings(**people)})


def test_copies_merged_repeated_ids_removed_and_audited(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("id,age,band\n1,30,A\n2,40,B\n2,41,B\n3,50,C\n3,50,C\n,60,A\n4,x,A\n")
    dictionary = FeatureDictionary([Attribute("age", "numeric"),
                                    Attribute("band", "categorical", labels={"A": "a"})])
    result = run_job("people", path, config=_config(dictionary=dictionary))
    audit = dict(zip(result.audit["step"], result.audit["rows"], strict=True))
    assert audit == {"quarantined": 1, "duplicate_row": 1, "repeated_id": 2, "kept": 3}
    frame = result.entities.frame.set_index("person_id")
    assert sorted(frame.index) == ["1", "3", "4"]
    assert frame.loc["1", "age"] == 30 and np.isnan(frame.loc["4", "age"])   # "x": no number
    assert frame.loc["4", "band"] == "A"          # codes stay text: only "A" is declared
    assert result.entities.schema.feature("age").type == "number"


def test_rows_without_ids_are_never_copies(tmp_path: Path) -> None:
    path = tmp_path / "people.tsv"
    path.write_text("1\t2\n1\t2\n3\t4\n")
    result = run_job("people", path, config=_config(dictionary=FeatureDictionary([
        Attribute("a", "ordinal", labels={"1": "x", "3": "y"}, position=1),
        Attribute("b", "numeric", position=2)])))
    assert result.entities.n_entities == 3
    assert result.entities.table.schema.field("a").type == "float"    # whole codes: 32 bits
    assert list(result.audit["step"]) == ["quarantined", "kept"]


def test_a_dictionary_that_matches_nothing_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("x,y\n1,2\n")
    with pytest.raises(InputError, match="none of the 1 dictionary attributes is a column"):
        run_job("people", path, config=_config(dictionary=FeatureDictionary([
            Attribute("age", "numeric")])))


def test_attribute_names_match_columns_in_any_unicode_normal_form(tmp_path: Path) -> None:
    # A header macOS wrote (Größe as o and a combining diaeresis) against a dictionary
    # typed with the one character: the names look the same and compared unequal, so the
    # attribute was "not in the dictionary" and the job clustered nothing of it.
    import unicodedata

    path = tmp_path / "people.csv"
    header = ",".join(unicodedata.normalize("NFD", n) for n in ("id", "Größe", "Région"))
    path.write_text(f"{header}\n1,170,Nord\n2,182,Süd\n3,165,Nord\n")
    dictionary = FeatureDictionary([Attribute("Größe", "numeric"),
                                    Attribute("Région", "categorical")])
    result = run_job("people", path, config=_config(dictionary=dictionary))
    frame = result.entities.frame.set_index("person_id")
    assert frame.loc["2", "Größe"] == 182
    assert "not in the dictionary" not in set(result.audit.get("status", []))
    assert result.entities.schema.feature("Größe").type == "number"


def test_people_section_of_a_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[people]\ndictionary = "d.toml"\nexclude = ["P*"]\npca_variance = 0.9\n'
                   'row_threshold = 0.5\n')
    settings = load_config(cfg, kind="people").section("people")
    assert settings.exclude == ("P*",) and settings.pca_variance == 0.9
    assert settings.row_threshold == 0.5
    cfg.write_text("[people]\npca_variance = 1.5\n")
    with pytest.raises(ConfigError, match="pca_variance"):
        load_config(cfg)
    cfg.write_text('[people]\ncolumn_threshold = "often"\n')
    with pytest.raises(ConfigError, match="column_threshold"):
        load_config(cfg)


@pytest.mark.parametrize(("setting", "said"), [
    # Each ran the whole read and encoding first, then ended in a traceback from scikit-learn
    # or NumPy; fit_samples = -5 silently left the last five people out of the fit.
    ("fit_samples = 0", "fit_samples must be at least 100 (a sample size), got 0"),
    ("fit_samples = -5", "fit_samples must be at least 100 (a sample size), got -5"),
    ("top_n = -1", "top_n must be 0 (every column) or more, got -1"),
    ("max_correlation = 2.0", "max_correlation must be in (0, 1], got 2.0"),
    ("threshold_floor = 1.5", "threshold_floor must be a share in [0, 1], got 1.5"),
    ("variance_threshold = -0.1", "variance_threshold must be in [0, 1), got -0.1"),
    ("random_state = -1", "random_state must be a whole number from 0 to 2**32 - 1, got -1"),
    ("k_max = 500", "need 2 <= k_min <= k_max <= 100, got 2, 500"),
])
def test_people_settings_out_of_range_are_refused_before_any_work(
        tmp_path: Path, setting: str, said: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[people]\n{setting}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert str(exc.value) == f"{cfg}: [people] {said}"


def test_subsets_differ_where_they_differ() -> None:
    rng = np.random.default_rng(0)
    dense = pd.DataFrame({"age": rng.normal(40, 10, 3000), "band": rng.integers(0, 3, 3000),
                          "same": rng.normal(0, 1, 3000)})
    sparse = pd.DataFrame({"age": rng.normal(55, 10, 400),
                           "band": rng.choice(3, 400, p=[0.8, 0.1, 0.1]),
                           "same": rng.normal(0, 1, 400)})
    sparse.loc[:395, "same"] = np.nan        # four values left: not tested
    out = compare_subsets(dense, sparse, {"age": "numeric", "band": "categorical",
                                          "same": "numeric"}).set_index("feature")
    assert out.loc["age", "test"] == "Mann-Whitney U" and out.loc["age", "verdict"] == "differs"
    assert out.loc["age", "effect"] > 0.5            # sparse rows are older
    assert out.loc["band", "test"] == "chi-square" and out.loc["band", "verdict"] == "differs"
    assert out.loc["same", "verdict"] == "not tested" and out.loc["same", "n_sparse"] == 4
    assert out.loc["age", "p_adjusted"] >= out.loc["age", "p_value"]


def test_similar_subsets_are_similar() -> None:
    rng = np.random.default_rng(1)
    a = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.integers(0, 4, 2000)})
    b = pd.DataFrame({"x": rng.normal(size=500), "c": rng.integers(0, 4, 500)})
    out = compare_subsets(a, b, {"x": "ordinal", "c": "binary"})
    assert set(out["verdict"]) == {"similar"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(st.sampled_from(["1", "2", "3", "4", "5"]),
                               st.sampled_from([1.0, 2.0, None]), st.sampled_from(["A", "B"])),
                     min_size=1, max_size=30),
       ids=st.booleans())
def test_audit_and_ids_counted_from_the_fetched_rows_match_their_own_queries(
        rows: list[tuple[str, float | None, str]], ids: bool) -> None:
    # people_entities counts the audit and the ids from the one fetch of the cleaned rows
    # (a query of their own would merge the copies again): the same figures as those
    # queries, the kept rows those of `kept`, in id order with ids and file order without.
    frame = pd.DataFrame(rows, columns=["id", "age", "band"])
    dictionary = FeatureDictionary([Attribute("age", "numeric"),
                                    Attribute("band", "categorical", labels={"A": "a"})])
    config = _config(dictionary=dictionary)
    if not ids:
        frame = frame.drop(columns="id")
    source = load_source(frame, "people", read=config.read)
    cleaned = clean_people(source, config)
    variants = [cleaned]
    if not ids:  # a rule without deduplication: removed rows lie among the kept ones
        rule = Rule("no_age", "no age", lambda t: t.age.isnull())
        plain = clean_rows(dataclasses.replace(source, table=cleaned.rows.drop("_n", "_reason")),
                           [rule], duplicates=False)
        variants.append(CleanedPeople(plain.rows, plain.n_input, plain.n_quarantined,
                                      plain.rules, plain.deduplicated, dictionary=dictionary))
    for c in variants:
        entities = people_entities(c, config, None)
        assert entities.audit_table is not None
        assert entities.audit_table.equals(c.audit_table())
        kept = c.kept.order_by(PERSON_ID) if c.deduplicated else c.kept
        assert entities.table.equals(fetch_arrow(kept))
        assert entities.n_input_entities == int(fetch_scalar(source.table[PERSON_ID].nunique()))
