"""The population analysis end to end on real data: CoIL 2000, UCI Adult, Customer Personality.

CoIL's licence allows research and education only: it is used here, in tests, and never
shipped or shown in a demo.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segwise.clean import PeopleSettings
from segwise.config import SegwiseConfig
from segwise.exceptions import InputError
from segwise.features.people import project_rows
from segwise.jobs import PopulationResult, run_job, run_population

pytestmark = pytest.mark.slow

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
from test_people_encoder import ADULT_TOML  # noqa: E402


def _config(**people: Any) -> SegwiseConfig:
    return SegwiseConfig(sections={"people": PeopleSettings(**people)})


@pytest.fixture(scope="module")
def coil_files(shared_data: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> tuple[Path, Path, Path]:
    """All 9,822 CoIL records as the population (no header, TAB), caravan owners as customers."""
    folder = shared_data / "coil2000-insurance"
    train = pd.read_csv(folder / "ticdata2000.txt.gz", sep="\t", header=None)
    evaluation = pd.read_csv(folder / "ticeval2000.txt.gz", sep="\t", header=None)
    targets = pd.read_csv(folder / "tictgts2000.txt.gz", header=None)[0]
    population = pd.concat([train.iloc[:, :85], evaluation], ignore_index=True)
    owners = pd.concat([train[train[85] == 1].iloc[:, :85], evaluation[targets == 1]],
                       ignore_index=True)
    out = tmp_path_factory.mktemp("coil")
    population.to_csv(out / "population.tsv", sep="\t", header=False, index=False)
    owners.to_csv(out / "customers.tsv", sep="\t", header=False, index=False)
    return out / "population.tsv", out / "customers.tsv", folder / "dictionary.txt"


@pytest.fixture(scope="module")
def coil(coil_files: tuple[Path, Path, Path]) -> PopulationResult:
    population, customers, dictionary = coil_files
    # The postcode demographics (attributes 1-43); product ownership (P*, A*) is behaviour.
    return run_population(population, customers, dictionary=dictionary,
                          config=_config(exclude=("P*", "A*")))


def test_coil_caravan_owners_over_and_under_represented(coil: PopulationResult) -> None:
    table = coil.comparison.table
    assert table["population"].sum() == 9822 and table["customers"].sum() == 586
    assert table["population_share"].sum() == pytest.approx(1.0)
    assert table["customer_share"].sum() == pytest.approx(1.0)
    assert (table["verdict"] == "over").any() and (table["verdict"] == "under").any()
    # Every verdict is backed by its interval.
    for row in table.to_dict("records"):
        assert row["ratio_low"] <= row["ratio"] <= row["ratio_high"]
        inside = row["ratio_low"] <= 1 <= row["ratio_high"]
        assert row["verdict"] == ("neither" if inside else
                                  "over" if row["ratio_low"] > 1 else "under")
    ratio = (table["customers"] / 586) / (table["population"] / 9822)
    np.testing.assert_allclose(table["ratio"], ratio)
    # Described in the dictionary's words.
    words = " ".join(coil.segments["description"])
    assert "Purchasing power class" in words or "Customer Subtype" in words
    assert all(d and not d.startswith("close to") for d in coil.segments["description"])
    over = table[table["verdict"] == "over"].iloc[0]
    assert over["description"] in set(coil.segments["description"])


def test_coil_audits_reconcile_rows_and_columns(coil: PopulationResult) -> None:
    assert coil.audit["rows"].sum() == 9822
    assert coil.customer_audit_table.to_pandas()["rows"].sum() == 586
    # A notebook shows the job's one line of counts, as every job result does.
    assert repr(coil).startswith("PopulationResult(9,822 person(s), ")
    assert repr(coil).endswith("; rows in 9,822, kept 9,822, quarantined 0)")
    steps = coil.column_steps.set_index(["stage", "step"])["columns"]
    attributes = steps.loc["attributes"]
    assert attributes["input columns"] == 85
    assert attributes.drop(["input columns", "not in the data"]).sum() == 85
    assert attributes["excluded"] == 42 and attributes["used"] == 43
    assert attributes["not in the data"] == 1        # CARAVAN: declared, not in the files
    encoded = steps.loc["encoded"]
    assert encoded.drop("encoded columns").sum() == encoded["encoded columns"]
    assert encoded["kept"] == coil.pipeline.named_steps["pca"].n_features_in_
    audit = coil.column_audit.set_index("column")
    assert audit.loc["MOSTYPE", "status"] == "used" and audit.loc["PWAPART", "status"] == (
        "excluded")


def test_coil_pca_and_relevance_are_read_in_words(coil: PopulationResult) -> None:
    var = coil.fit.variance
    assert var["cumulative"].is_monotonic_increasing and var["cumulative"].iloc[-1] == (
        pytest.approx(1.0))
    needed = coil.fit.needed
    assert needed[0.8] < needed[0.9] < needed[0.95]
    assert coil.fit.pca.n_components_ == needed[0.8]
    first = coil.fit.components[coil.fit.components["component"] == 1]
    assert set(first["side"]) == {"positive", "negative"}
    assert "Purchasing power class" in set(first["description"]) or "Average income" in set(
        first["description"])
    relevance = coil.fit.relevance
    assert relevance["rank"].iloc[0] == 1 and relevance["description"].iloc[0]
    assert coil.sweep is not None and coil.sweep.recommended_k == coil.comparison.table[
        "segment"].ge(0).sum()


def test_the_fitted_pipeline_applied_twice_gives_the_same_segments(
        coil: PopulationResult, coil_files: tuple[Path, Path, Path]) -> None:
    rows = run_job("people", coil_files[1], config=dataclasses.replace(
        coil.config)).entities.table
    first = project_rows(coil.pipeline[:-1], rows)
    second = project_rows(coil.pipeline[:-1], rows)
    np.testing.assert_array_equal(first.components, second.components)
    labels = coil.pipeline[-1].predict(first.components)
    np.testing.assert_array_equal(labels, coil.pipeline[-1].predict(second.components))
    expected = coil.customers.table.column("segment").to_numpy()
    np.testing.assert_array_equal(labels, expected[first.placed])


def test_customers_with_an_unknown_column_and_unknown_codes_are_reported(
        coil: PopulationResult, coil_files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    population, customers, dictionary = coil_files
    frame = pd.read_csv(customers, sep="\t", header=None)
    frame.columns = coil.dictionary.column_names(85)      # this time with a header
    frame.loc[:9, "MOSTYPE"] = 99              # a subtype the dictionary does not know
    frame.loc[:4, "MGEMLEEF"] = 7              # an age band it does not know
    frame["LOYALTY_CARD"] = 1                  # a column the population lacks
    path = tmp_path / "customers.csv"
    frame.to_csv(path, index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_population(population, path, dictionary=dictionary,
                                config=_config(exclude=("P*", "A*")), n_clusters=3)
    # Named by the file, not 'PeopleEncoder (transform): ... See PeopleEncoder.audit(X)'.
    assert [str(w.message) for w in caught if "does not declare" in str(w.message)] == [
        f"{path}: 15 value(s) are codes the dictionary does not declare, encoded as missing: "
        "MOSTYPE (10), MGEMLEEF (5). Counted per column in the encoding audit"]
    audit = result.customer_projection.audit.set_index("column")
    assert audit.loc["MOSTYPE", "unseen_code"] == 10
    assert audit.loc["MGEMLEEF", "unseen_code"] == 5
    cleaned = result.customer_audit_table.to_pandas()
    assert cleaned["rows"].sum() == 586
    # The extra column is not silently used: it is not in the dictionary, and said so.
    assert audit.loc["LOYALTY_CARD", "status"] == "not in the dictionary"
    assert "LOYALTY_CARD" not in result.customers.table.column_names


def test_customers_without_a_used_attribute_get_a_clear_error(
        coil_files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    population, customers, dictionary = coil_files
    frame = pd.read_csv(customers, sep="\t", header=None)
    from segwise.io import read_coil_dictionary

    frame.columns = read_coil_dictionary(dictionary).column_names(85)
    path = tmp_path / "customers.csv"
    frame.drop(columns=["MKOOPKLA"]).to_csv(path, index=False)
    with pytest.raises(InputError, match=rf"{path}: lacks attribute\(s\) the population's "
                                         r"model uses: MKOOPKLA\. Fix: add"):
        run_population(population, path, dictionary=dictionary,
                       config=_config(exclude=("P*", "A*")), n_clusters=3)


@pytest.fixture(scope="module")
def coil_sample(coil_files: tuple[Path, Path, Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    population, customers, _ = coil_files
    pop = pd.read_csv(population, sep="\t", header=None).iloc[:, :43].sample(
        1500, random_state=1)
    cust = pd.read_csv(customers, sep="\t", header=None).iloc[:, :43]
    return pop, cust


@settings(max_examples=3, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_shuffling_rows_changes_no_segment_share(
        seed: int, coil_sample: tuple[pd.DataFrame, pd.DataFrame],
        coil_files: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory) -> None:
    pop, cust = coil_sample
    folder = tmp_path_factory.mktemp("shuffle")
    rng = np.random.default_rng(seed)
    tables = []
    for name, order in (("a", (np.arange(len(pop)), np.arange(len(cust)))),
                        ("b", (rng.permutation(len(pop)), rng.permutation(len(cust))))):
        pop.iloc[order[0]].to_csv(folder / f"{name}_pop.tsv", sep="\t", header=False,
                                  index=False)
        cust.iloc[order[1]].to_csv(folder / f"{name}_cust.tsv", sep="\t", header=False,
                                   index=False)
        result = run_population(folder / f"{name}_pop.tsv", folder / f"{name}_cust.tsv",
                                dictionary=coil_files[2], config=_config(k_max=5))
        tables.append(result.comparison.table)
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_adult_question_marks_and_sparse_rows(shared_data: Path, tmp_path: Path) -> None:
    dictionary = tmp_path / "adult.toml"
    dictionary.write_text(ADULT_TOML)
    raw = pd.read_csv(shared_data / "uci-adult" / "adult.data.gz", header=None, dtype=str,
                      skipinitialspace=True)
    rich = raw[raw[14] == ">50K"]
    rich.to_csv(tmp_path / "rich.csv", header=False, index=False)
    result = run_population(shared_data / "uci-adult" / "adult.data.gz", tmp_path / "rich.csv",
                            dictionary=dictionary, config=_config(exclude=("income",)))
    table = result.comparison.table
    assert table["population"].sum() == 32561 and table["customers"].sum() == len(rich)
    sparse = table[table["segment"] == -1].iloc[0]
    # Work class and occupation unknown together make a row miss 2 of the 10 attributes
    # used (20 %, kept); the native country unknown too puts it over the threshold.
    raw_unknown = (raw[1] == "?") & (raw[6] == "?") & (raw[13] == "?")
    assert sparse["name"] == "Too sparse to place"
    assert sparse["population"] == raw_unknown.sum() > 0
    assert sparse["customers"] == (raw_unknown & (raw[14] == ">50K")).sum()
    assert result.audit.set_index("step").loc["too_sparse", "rows"] == sparse["population"]
    subsets = result.fit.subsets.set_index("feature")
    assert subsets.loc["hours_per_week", "test"] == "Mann-Whitney U"
    assert subsets.loc["hours_per_week", "n_sparse"] == sparse["population"]
    assert subsets.loc["workclass", "verdict"] == "not tested"   # unknown in every sparse row
    assert (table["verdict"] == "over").any() and (table["verdict"] == "under").any()
    audit = result.column_audit.set_index("column")
    assert audit.loc["workclass", "missing_code"] == 1836


def test_customer_personality_without_a_dictionary(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "kaggle-customer-personality" / "marketing_campaign.csv.gz"
    frame = pd.read_csv(source, sep="\t")
    frame[frame["Response"] == 1].to_csv(tmp_path / "responders.tsv", sep="\t", index=False)
    result = run_population(source, tmp_path / "responders.tsv",
                            config=_config(exclude=("Response", "AcceptedCmp*")))
    assert result.dictionary.inferred
    audit = result.column_audit.set_index("column")
    assert audit.loc["person_id", "status"] == "id"       # the file's ID column
    assert audit.loc["Dt_Customer", "status"] == "not in the dictionary"
    assert audit.loc["Income", "blank"] == 24
    relevance = result.fit.relevance.set_index("feature")
    assert relevance.loc["Z_CostContact", "status"] == "near-constant"
    table = result.comparison.table
    assert table["customers"].sum() == 334 and table["population"].sum() == 2240
    written = result.write(tmp_path / "out")
    names = {p.name for p in written}
    assert {"assignments.parquet", "comparison.csv", "dictionary.toml"} <= names
    assignments = pq.read_table(tmp_path / "out" / "assignments.parquet").to_pandas()
    assert len(assignments) == 2240 + 334
    assert set(assignments["table"]) == {"population", "customers"}


def test_written_counts_are_integers_and_an_undefined_ratio_is_empty(
        shared_data: Path, tmp_path: Path) -> None:
    # Customer Personality's responders, five of them with 15 attributes blank (too sparse
    # to place), against a population with nobody that sparse: comparison.csv wrote the
    # ratio 'inf', the summary said 'infx', and columns.csv and encoding_audit.csv wrote
    # every count as a float ('24.0').
    from segwise.report import write_report

    source = shared_data / "kaggle-customer-personality" / "marketing_campaign.csv.gz"
    frame = pd.read_csv(source, sep="\t")
    responders = frame[frame["Response"] == 1].astype(object)
    blanked = [c for c in frame.columns if c not in ("ID", "Response")
               and not c.startswith("AcceptedCmp")][:15]
    responders.iloc[:5, [responders.columns.get_loc(c) for c in blanked]] = ""
    responders.to_csv(tmp_path / "responders.tsv", sep="\t", index=False)
    result = run_population(source, tmp_path / "responders.tsv",
                            config=_config(exclude=("Response", "AcceptedCmp*")))
    out = tmp_path / "out"
    result.write(out)
    comparison = pd.read_csv(out / "comparison.csv", keep_default_na=False, dtype=str)
    sparse = comparison[comparison["segment"] == "-1"].iloc[0]
    assert (sparse["population"], sparse["customers"], sparse["verdict"]) == ("0", "5", "over")
    assert sparse["ratio"] == "" and sparse["ratio_high"] == ""
    assert not comparison.isin(["inf", "-inf", "nan"]).any().any()
    assert "Too sparse to place (no one of the population)" in result.comparison.summary()
    for name in ("columns.csv", "encoding_audit.csv"):
        table = pd.read_csv(out / name, keep_default_na=False, dtype=str)
        counts = table[["blank", "missing_code", "unseen_code", "not_a_number"]]
        assert counts.map(lambda v: v == "" or v.isdigit()).all().all(), name
    columns = pd.read_csv(out / "columns.csv", keep_default_na=False, dtype=str)
    assert columns.set_index("column").loc["Income", "blank"] == "24"
    assert columns.set_index("column").loc["person_id", "blank"] == ""  # an id has none
    summary = result.run_record().segmentations[0].summary.to_pandas()
    actions = dict(zip(summary["segment"], summary["action"], strict=True))
    assert actions["Too sparse to place"].startswith(
        "over-represented among customers: no one of the population (")
    described = dict(zip(summary["segment"], summary["description"], strict=True))
    assert described["Too sparse to place"] == "too many attributes missing to place"
    report = write_report(result, tmp_path / "report.md")
    row = next(line for line in report.read_text().splitlines()
               if line.startswith("| Too sparse to place |"))
    assert "| - |" in row and " or more |" in row and "inf" not in row and "nan" not in row


def test_people_with_ids_come_out_in_the_same_order_whatever_the_file_order(
        shared_data: Path, tmp_path: Path) -> None:
    # Merging copies leaves the engine's order; by id, the table (and every sample or fold
    # taken from it by position) is the same from run to run and from file to file.
    from segwise.jobs import PEOPLE_JOB

    frame = pd.read_csv(shared_data / "kaggle-customer-personality" /
                        "marketing_campaign.csv.gz", sep="\t")
    tables = []
    for seed in (1, 2):
        shuffled = pd.concat([frame, frame.head(40)]).sample(frac=1.0, random_state=seed)
        shuffled.to_csv(tmp_path / f"people{seed}.tsv", sep="\t", index=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            tables.append(run_job(PEOPLE_JOB, tmp_path / f"people{seed}.tsv").entities.table)
    assert tables[0].equals(tables[1]) and tables[0].num_rows == 2240
    ids = tables[0].column("person_id").to_pylist()
    assert ids == sorted(ids)


def test_the_command_prints_and_writes_the_coil_comparison(
        coil_files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from segwise.cli import app

    population, customers, dictionary = coil_files
    out = tmp_path / "coil"
    run = CliRunner().invoke(app, ["population", str(population), str(customers), "-d",
                                   str(dictionary), "--exclude", "P*,A*", "--k", "3", "-o",
                                   str(out)], terminal_width=220)
    assert run.exit_code == 0, run.output
    assert "Population against customers" in run.output and "Over-represented" in run.output
    comparison = pd.read_csv(out / "comparison.csv")
    assert comparison["customers"].sum() == 586 and set(comparison["verdict"]) >= {"over",
                                                                                  "under"}
    assert (out / "report.html").stat().st_size > 100_000
    steps = pd.read_csv(out / "column_steps.csv")
    assert steps.loc[steps["step"] == "input columns", "columns"].item() == 85


def test_a_signed_attribute_gets_no_lift(shared_data: Path, tmp_path: Path) -> None:
    # The people profile had its own lift (mean over overall mean, for every feature): a
    # balance around 0 got lifts in the thousands, as z-scores did on the dashboard.
    # One rule now, the segment profiles': lifts for amounts only.
    source = shared_data / "kaggle-customer-personality" / "marketing_campaign.csv.gz"
    frame = pd.read_csv(source, sep="\t")
    frame["Balance"] = np.random.default_rng(0).normal(0, 500, len(frame)).round(2)
    frame.to_csv(tmp_path / "population.tsv", sep="\t", index=False)
    frame[frame["Response"] == 1].to_csv(tmp_path / "responders.tsv", sep="\t", index=False)
    profile = run_population(tmp_path / "population.tsv", tmp_path / "responders.tsv",
                             config=_config(exclude=("Response", "AcceptedCmp*"))).profile
    by_feature = profile.groupby("feature")["lift"]
    assert by_feature.get_group("Balance").isna().all()
    assert by_feature.get_group("Income").notna().all()
    assert by_feature.get_group("Education: PhD").notna().all()


def test_tables_in_memory_are_named_by_their_type_not_by_their_rows(
        shared_data: Path) -> None:
    # str(population) printed whole frames into the results, the report and every error.
    frame = pd.read_csv(shared_data / "kaggle-customer-personality"
                        / "marketing_campaign.csv.gz", sep="\t")
    responders = pl.from_pandas(frame[frame["Response"] == 1])
    config = _config(exclude=("Response", "AcceptedCmp*"))
    result = run_population(frame, responders, config=config, n_clusters=3)
    assert result.entities.source == "pandas DataFrame"
    assert result.customers.source == "polars DataFrame"
    with pytest.raises(InputError, match=r"^polars DataFrame: lacks attribute\(s\) the "
                                         r"population's model uses: Income\. Fix"):
        run_population(frame, responders.drop("Income"), config=config, n_clusters=3)


def test_a_dictionary_naming_columns_otherwise_than_the_header_is_refused(
        shared_data: Path, tmp_path: Path) -> None:
    # UCI Adult with the header of its adult.names (education-num, marital-status,
    # native-country) against a dictionary written with underscores: the five attributes
    # were quietly 'not in the data' and their columns 'not in the dictionary', and the
    # segments were learned without them.
    dictionary = tmp_path / "adult.toml"
    dictionary.write_text(ADULT_TOML)
    names = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
             "occupation", "relationship", "race", "Sex", "capital-gain", "capital-loss",
             "hours-per-week", "native-country", "income"]
    raw = pd.read_csv(shared_data / "uci-adult" / "adult.data.gz", header=None, names=names,
                      skipinitialspace=True, nrows=2000)
    raw.to_csv(tmp_path / "adult.csv", index=False)
    raw[raw["income"] == ">50K"].to_csv(tmp_path / "rich.csv", index=False)
    with pytest.raises(InputError, match=(
            rf"^{tmp_path / 'adult.csv'}: 6 attribute\(s\) of the dictionary match no column "
            r"as written: 'education_num' \(the file writes 'education-num'\), "
            r"'marital_status' \(the file writes 'marital-status'\), 'sex' \(the file writes "
            r"'Sex'\), 'capital_gain' \(the file writes 'capital-gain'\) and 2 more; names "
            r"are compared with their case and punctuation, so neither would be used\. Fix: "
            r"write the names in the dictionary as the file's header does$")):
        run_population(tmp_path / "adult.csv", tmp_path / "rich.csv", dictionary=dictionary,
                       config=_config(exclude=("income",)))
    # Written as the file writes them, the same files run.
    fixed = ADULT_TOML
    for name in ("education-num", "marital-status", "capital-gain", "hours-per-week",
                 "native-country"):
        fixed = fixed.replace(f"[attributes.{name.replace('-', '_')}", f'[attributes."{name}"')
    dictionary.write_text(fixed.replace("[attributes.sex]", "[attributes.Sex]"))
    result = run_population(tmp_path / "adult.csv", tmp_path / "rich.csv",
                            dictionary=dictionary, config=_config(exclude=("income",)),
                            n_clusters=2)
    audit = result.column_audit.set_index("column")
    assert audit.loc["native-country", "status"] == "used"
    assert "not in the data" not in set(audit["status"])
