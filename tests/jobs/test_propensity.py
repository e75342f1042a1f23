"""The propensity job and commands on Customer Personality: train, report, score, refuse."""

from __future__ import annotations

import gzip
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from segwise.cli import app
from segwise.exceptions import InputError
from segwise.jobs import response_labels, run_propensity, score_propensity
from segwise.store import Store

runner = CliRunner()


@pytest.fixture(scope="module")
def personality(shared_data: Path) -> Path:
    return shared_data / "kaggle-customer-personality" / "marketing_campaign.csv.gz"


@pytest.fixture(scope="module")
def result(personality: Path) -> Any:
    """The last campaign's responders, two families compared, segments and importance."""
    return run_propensity(personality, "Response", models=["logistic", "xgboost"],
                          imbalance=["none", "weights"], n_segments=3)


def test_response_labels_read_pairs_and_say_when_they_cannot() -> None:
    labels, positive = response_labels(pa.array(["yes", "no", None, "Yes", " "]))
    assert labels.tolist() == [1, 0, -1, 1, -1] and positive == "yes"
    labels, positive = response_labels(pa.array([1.0, 0.0, np.nan]))
    assert labels.tolist() == [1, 0, -1] and positive == "1"
    labels, _ = response_labels(pa.array(["gold", "silver", "none"]), positive="gold")
    assert labels.tolist() == [1, 0, 0]
    with pytest.raises(InputError, match="--positive"):
        response_labels(pa.array(["gold", "silver"]))
    with pytest.raises(InputError, match="no row has the response value 'platinum'"):
        response_labels(pa.array(["gold", "silver"]), positive="platinum")
    with pytest.raises(InputError, match=r"\(values: gold, silver\); did you mean 'gold'\? "
                                         r"\(case matters\)\. Fix: check --positive"):
        response_labels(pa.array(["gold", "silver"]), positive="Gold")


def test_cross_validated_figures_on_customer_personality(result) -> None:
    v = result.trained.validation
    chosen = v.summary.loc[v.choice.chosen]
    assert chosen["roc_auc"] > 0.85  # the last campaign's responders are predictable
    assert chosen["captured_20"] > 0.6
    assert v.summary.loc["baseline: mail at random", "captured_20"] == pytest.approx(0.2)
    assert {"baseline: mail the over-represented segments",
            f"{v.choice.chosen} + population segments"} <= set(v.summary.index)
    audit = result.audit
    assert audit["rows"].sum() == 2240
    assert repr(result).startswith("PropensityResult(2,240 person(s) from ") \
        and repr(result).endswith("; rows in 2,240, kept 2,240, quarantined 0)")
    table = result.entities.table
    assert table.column_names == ["person_id", "responded", "cv_score"]
    assert sum(table.column("responded").to_pylist()) == 334
    assert not np.isnan(table.column("cv_score").to_numpy()).any()
    assert v.importance["attribute"].iloc[0] in {"Recency", "MntMeatProducts",
                                                 "AcceptedCmp5", "Marital_Status"}


def test_the_report_shows_the_cross_validated_auc_and_the_gains_chart(result) -> None:
    from segwise.report import build_report

    report = build_report(result)
    figures = {f.key: f for f in report.figures}
    assert figures["auc"].value == pytest.approx(
        result.trained.validation.summary.loc[result.trained.validation.choice.chosen,
                                              "roc_auc"])
    gains = report.section("propensity_gains")
    assert [c.key for c in gains.charts] == ["gains", "calibration"]
    assert "responders" in gains.charts[0].reading
    keys = [s.key for s in report.sections]
    for key in ("propensity_comparison", "propensity_importance", "propensity_reasons",
                "propensity_segments"):
        assert key in keys
    assert "population" not in " ".join(keys)  # the population analysis's own: not shown


def test_rows_without_a_target_are_counted_not_learned(personality, tmp_path) -> None:
    frame = pd.read_csv(personality, sep="\t", dtype=str)
    frame.loc[:9, "Response"] = ""
    path = tmp_path / "some_unknown.csv"
    frame.to_csv(path, index=False)
    got = run_propensity(path, "Response", models=["logistic"], imbalance=["none"],
                         segments=False, importance=False, folds=3)
    audit = got.audit.set_index("step")["rows"]
    assert audit["no_target"] == 10 and audit.sum() == 2240
    assert got.trained.metadata["rows"] == 2230


def test_train_and_score_from_the_command_line(personality, tmp_path) -> None:
    model = tmp_path / "model.skops"
    done = runner.invoke(app, ["propensity", "train", str(personality), "--target", "Response",
                               "--models", "logistic", "--imbalance", "none,weights",
                               "--no-segments", "-o", str(model),
                               "--report", str(tmp_path / "report.html"),
                               "--store", str(tmp_path / "segwise.duckdb")],
                         terminal_width=200)
    assert done.exit_code == 0, done.output
    # Two candidates sit about one standard error apart on these folds, so the one-SE rule may
    # name either on another machine's floating point; the sentence is whatever the console wraps.
    said = " ".join(done.output.split())
    assert re.search(r"Default: logistic regression( \+ class weights)?\.", said), said
    assert model.is_file()
    assert (tmp_path / "report.html").stat().st_size > 100_000
    scores = tmp_path / "scores.csv"
    done = runner.invoke(app, ["propensity", "score", str(model), str(personality), "-o",
                               str(scores), "--top", "50", "--reasons", "2"],
                         terminal_width=200)
    assert done.exit_code == 0, done.output
    assert "Response" in done.output  # the target column, present here, is ignored: said
    top = pd.read_csv(scores)
    assert list(top.columns) == ["person_id", "score", "rank", "reason_1", "effect_1",
                                 "reason_2", "effect_2"]
    assert top["rank"].tolist() == list(range(1, 51))
    assert top["score"].is_monotonic_decreasing
    # With --store, the training run keeps the model file; a scoring run its people by decile.
    done = runner.invoke(app, ["propensity", "score", str(model), str(personality), "-o",
                               str(tmp_path / "all.parquet"), "--store",
                               str(tmp_path / "segwise.duckdb")], terminal_width=200)
    assert done.exit_code == 0, done.output
    store = Store(tmp_path / "segwise.duckdb")
    trained, scored = sorted(store.runs(), key=lambda r: r["command"], reverse=True)
    assert (trained["command"], scored["command"]) == ("propensity train", "propensity score")
    card = store.models(trained["run_id"])[0]
    assert card["kind"] == "propensity" and card["card"]["target"] == "Response"
    assert trained["n_entities"] == 2240 and scored["n_entities"] == 2240
    deciles = store.segments(scored["run_id"], "decile")
    assert [d["segment"] for d in deciles][:2] == ["top 10 %", "10-20 %"]
    assert [d["size"] for d in deciles] == [224] * 10
    assert [bool(d["action"]) for d in deciles] == [True, True] + [False] * 8  # mail share 20 %
    first = pd.read_parquet(tmp_path / "all.parquet").iloc[0]
    entity = store.entity(scored["run_id"], str(first["person_id"]))
    assert entity["measures"]["score"] == pytest.approx(first["score"])
    assert entity["segments"]["decile"] == "top 10 %"


@pytest.fixture(scope="module")
def small_model(personality, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "model.skops"
    run_propensity(personality, "Response", models=["logistic"], imbalance=["none"],
                   segments=False, importance=False, folds=3).trained.save(path)
    return path


def _one_error_line(args: list[str]) -> str:
    done = runner.invoke(app, args, terminal_width=200)
    assert done.exit_code == 1, done.output
    # A slow step (a loaded machine) adds a heartbeat line, "Reading people (5 s)".
    lines = [line for line in done.output.splitlines()
             if line.strip() and not re.fullmatch(r".* \(\d+ s\)", line)]
    assert len(lines) == 1 and lines[0].startswith("error:"), done.output
    return lines[0]


def test_bad_input_is_one_line(personality, small_model, tmp_path) -> None:
    line = _one_error_line(["propensity", "train", str(personality), "--target", "Responded"])
    assert "no column 'Responded'" in line and "--target" in line
    line = _one_error_line(["propensity", "train", str(personality), "--target", "Education"])
    assert "--positive" in line
    line = _one_error_line(["propensity", "train", str(personality), "--target", "Response",
                            "--exclude", "AcceptedCmp*,complain"])
    assert ("--exclude 'complain' matches no column of" in line
            and "(did you mean 'Complain'?)" in line)
    frame = pd.read_csv(personality, sep="\t").drop(columns=["Income", "Recency"])
    lacking = tmp_path / "lacking.csv"
    frame.to_csv(lacking, index=False)
    line = _one_error_line(["propensity", "score", str(small_model), str(lacking), "-o",
                            str(tmp_path / "s.parquet")])
    assert "Income, Recency" in line and "--missing-columns missing" in line
    frame = pd.read_csv(personality, sep="\t").rename(columns={"Income": "income"})
    lower = tmp_path / "lower.csv"
    frame.to_csv(lower, index=False)
    line = _one_error_line(["propensity", "score", str(small_model), str(lower), "-o",
                            str(tmp_path / "s.parquet")])
    assert "lacks: Income (the file writes income: names are compared with their case)" in line
    done = runner.invoke(app, ["propensity", "score", str(small_model), str(lacking), "-o",
                               str(tmp_path / "s.parquet"), "--missing-columns", "missing"],
                         terminal_width=200)
    assert done.exit_code == 0 and "Income" in done.output


@pytest.mark.parametrize(("target", "values", "said"), [
    # It said "no column 'ID' to learn from", of a column the file has.
    ("ID", None, "'ID' is the file's id column, not a response. Fix: give --target"),
    ("response", None, "no column 'response' to learn from; did you mean 'Response'?"),
    ("Dt_Customer", None, "column 'Dt_Customer' is not read as a response: text with "),
    ("Response", "", "column 'Response' is not read as a response: blank in every row"),
    # It asked for --positive, which cannot help: nobody responded.
    ("Response", "0", "column Response: holds '0' in every row with a value: a model needs "
                      "people who responded and people who did not"),
])
def test_a_target_that_cannot_be_learned_from_says_why(
        personality, tmp_path, target: str, values: str | None, said: str) -> None:
    frame = pd.read_csv(personality, sep="\t", dtype=str, keep_default_na=False)
    if values is not None:
        frame["Response"] = values
    path = tmp_path / "targeted.csv"
    frame.to_csv(path, index=False)
    line = _one_error_line(["propensity", "train", str(path), "--target", target])
    assert said in line, line


def test_a_table_with_no_attribute_to_use_is_one_line_naming_it(personality,
                                                                  tmp_path) -> None:
    # The population segments compared with the model follow [people]: their encoder's
    # refusal came without the file or the columns.
    frame = pd.read_csv(personality, sep="\t", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(0)
    attributes = frame.columns.drop(["ID", "Response"])
    frame[attributes] = frame[attributes].mask(rng.random((len(frame), len(attributes)))
                                               < 0.3, "")
    path = tmp_path / "holes.csv"
    frame.to_csv(path, index=False)
    config = tmp_path / "segwise.toml"
    config.write_text("[people]\ncolumn_threshold = 0.1\n")
    line = _one_error_line(["propensity", "train", str(path), "--target", "Response",
                            "--config", str(config), "--models", "logistic", "--imbalance",
                            "none"])
    assert line.startswith(f"error: {path}: every attribute is missing too often to be used: "
                           "the threshold is 10.0% of rows"), line
    assert "Fix: raise column_threshold ([people] column_threshold)" in line


def test_a_target_the_dictionary_declares_is_read_as_written(personality, tmp_path) -> None:
    # Declared numeric (or coded 0/1), yes/no was typed to no value at all: "cannot tell
    # which value means 'responded' (values: none)". The dictionary's unknown code of the
    # target still means no target.
    frame = pd.read_csv(personality, sep="\t", dtype=str, keep_default_na=False)
    frame["Response"] = frame["Response"].map({"1": "yes", "0": "no"})
    frame.loc[:9, "Response"] = "9"
    path = tmp_path / "yes_no.csv"
    frame.to_csv(path, index=False)
    dictionary = tmp_path / "d.csv"
    for declared in ("Response,numeric,,,\n", "Response,binary,0,no,\nResponse,,1,yes,\n"):
        dictionary.write_text("attribute,type,code,label,missing\nIncome,numeric,,,\n"
                              "Recency,numeric,,,\nKidhome,ordinal,,,\n" + declared
                              + "Response,,9,unknown,yes\n")
        got = run_propensity(path, "Response", dictionary=dictionary, models=["logistic"],
                             imbalance=["none"], segments=False, importance=False, folds=3)
        assert got.positive == "yes"
        assert got.target_values == (frame["Response"].value_counts().drop("9").to_dict())
        assert got.audit.set_index("step")["rows"]["no_target"] == 10


def test_values_read_as_not_responding_besides_the_pair_are_shown(personality,
                                                                  tmp_path) -> None:
    # With --positive every other value means "did not respond": a stray 2 or 'maybe' was
    # learned as a non-responder in silence.
    frame = pd.read_csv(personality, sep="\t", dtype=str, keep_default_na=False)
    frame.loc[:9, "Response"] = "maybe"
    frame.loc[10:12, "Response"] = "2"
    path = tmp_path / "odd.csv"
    frame.to_csv(path, index=False)
    done = runner.invoke(app, ["propensity", "train", str(path), "--target", "Response",
                               "--positive", "1", "--models", "logistic", "--imbalance",
                               "none", "--no-segments", "--no-importance", "--folds", "3"],
                         terminal_width=300)
    assert done.exit_code == 0, done.output
    counts = frame["Response"].value_counts()
    flat = " ".join(done.output.split())
    assert (f"odd.csv, Response: '1' read as responded ({counts['1']:,} rows), every other "
            f"value as did not: '0' ({counts['0']:,}), 'maybe' (10), '2' (3)") in flat
    done = runner.invoke(app, ["propensity", "train", str(personality), "--target",
                               "Response", "--models", "logistic", "--imbalance", "none",
                               "--no-segments", "--no-importance", "--folds", "3"],
                         terminal_width=300)
    assert "read as responded" not in done.output   # a pair says nothing more


@pytest.mark.parametrize(("responders", "folds", "message"), [
    (300, 5, "300 responders and 0 others: comparing models needs at least 2 of each. "
             "Fix: check the target column and --positive"),
    (1, 5, "1 responder and 299 others: comparing models needs at least 2 of each"),
    (3, 5, "3 responders and 297 others are too few for 5 folds. Fix: --folds 3 or fewer"),
])
def test_too_few_responders_name_the_file_and_the_folds_that_fit(
        personality, tmp_path, responders: int, folds: int, message: str) -> None:
    # It said "1 responders and 299 others are too few for 5 folds. Fix: fewer folds"
    # without the file, even where no number of folds could work.
    frame = pd.read_csv(personality, sep="\t").head(300)
    frame["Response"] = [1] * responders + [0] * (300 - responders)
    path = tmp_path / "few.csv"
    frame.to_csv(path, index=False)
    done = runner.invoke(app, ["propensity", "train", str(path), "--target", "Response",
                               "--positive", "1", "--folds", str(folds), "--models",
                               "logistic"], terminal_width=300)
    assert done.exit_code == 1
    assert f"few.csv, column Response ('1': responded): {message}" in done.output


def test_train_says_which_columns_the_model_does_not_use(personality, tmp_path) -> None:
    # A dictionary leaving columns out, or declaring one the table lacks, trained in
    # silence: the user never learnt that half the table was not used.
    dictionary = tmp_path / "d.csv"
    dictionary.write_text("attribute,type\nIncome,numeric\nRecency,numeric\n"
                          "Education,Categorical\nKidhome,ordinal\nLoyalty,numeric\n")
    done = runner.invoke(app, ["propensity", "train", str(personality), "--target", "Response",
                               "-d", str(dictionary), "--exclude", "Kidhome", "--models",
                               "logistic", "--imbalance", "none", "--no-segments",
                               "--no-importance", "--folds", "3"], terminal_width=300)
    assert done.exit_code == 0, done.output
    flat = " ".join(done.output.split())
    name = personality.name
    for line in (f"{name}, Kidhome: excluded: excluded by the user",
                 f"{name}, Loyalty: not in the data: declared in the dictionary, absent",
                 f"{name}, MntWines: not in the dictionary: not declared in the dictionary"):
        assert line in flat
    assert f"{name}, Income:" not in flat and f"{name}, Response:" not in flat


def test_scoring_a_file_without_a_header(personality, small_model, tmp_path) -> None:
    # Named by the model's dictionary in its order: right with exactly its attributes
    # (the id and the date its inferred dictionary leaves out removed), refused with more
    # columns, where every name after the first extra one would be wrong (Dt_Customer is
    # the 8th of 29: ages would have been read as recencies, and so on).
    frame = pd.read_csv(personality, sep="\t")
    exact = tmp_path / "exact.csv"
    frame.drop(columns=["ID", "Dt_Customer"]).to_csv(exact, header=False, index=False)
    scored = score_propensity(small_model, exact)
    named = score_propensity(small_model, personality)
    assert scored.n_scored == named.n_scored == len(frame)
    # A notebook shows one line of counts, not the scores, the audit and the encoding.
    assert repr(scored) == (f"ScoreResult({len(frame):,} people scored, {len(frame):,} kept in "
                            f"scores; rows in {len(frame):,}, kept {len(frame):,}, "
                            "quarantined 0)")
    np.testing.assert_allclose(np.sort(scored.scores["score"]), np.sort(named.scores["score"]))
    shifted = tmp_path / "shifted.csv"
    frame.to_csv(shifted, header=False, index=False)
    line = _one_error_line(["propensity", "score", str(small_model), str(shifted), "-o",
                            str(tmp_path / "s.csv")])
    assert f"{shifted}: the file has no header and {frame.shape[1]} columns" in line


def test_codes_rare_enough_to_miss_a_training_fold_are_not_warned_about(personality,
                                                                         tmp_path) -> None:
    # A dictionary that declares no codes: each fold's model learns the codes of its
    # training rows, and one person's code, in a validation fold only, made the comparison
    # warn that values "are codes the dictionary does not declare", on every such fold.
    frame = pd.read_csv(personality, sep="\t")
    frame.loc[[3, 4], "Marital_Status"] = ["Widowed-Again", "Engaged"]
    path = tmp_path / "rare.csv"
    frame.to_csv(path, index=False)
    dictionary = tmp_path / "d.csv"
    dictionary.write_text("attribute,type\nMarital_Status,categorical\nIncome,numeric\n"
                          "Recency,numeric\nMntWines,numeric\n")
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_propensity(path, "Response", dictionary=dictionary,
                       models=["logistic", "naive_bayes"], imbalance=["none"],
                       segments=False, importance=False, folds=5)
    assert [str(w.message) for w in caught if "does not declare" in str(w.message)] == []


def test_undeclared_codes_are_said_once_naming_the_file(personality, tmp_path) -> None:
    # Each fold's fit (of the comparison, of the importance) warned again with that fold's
    # count, 'PeopleEncoder (fit): 405 value(s) ... See PeopleEncoder.audit(X)': seven
    # lines for three folds, none naming the file.
    dictionary = tmp_path / "d.csv"
    dictionary.write_text("attribute,type,code,label\nEducation,categorical,Graduation,\n"
                          "Education,,PhD,\nIncome,numeric,,\nRecency,numeric,,\n")
    frame = pd.read_csv(personality, sep="\t")
    undeclared = (~frame["Education"].isin(["Graduation", "PhD"])).sum()
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_propensity(personality, "Response", dictionary=dictionary, models=["logistic"],
                       imbalance=["none"], segments=False, importance=True, folds=3)
    assert [str(w.message) for w in caught if "does not declare" in str(w.message)] == [
        f"{personality}: {undeclared:,} value(s) are codes the dictionary does not declare, "
        f"encoded as missing: Education ({undeclared:,}). Counted per column in the encoding "
        "audit"]


def test_a_table_the_row_rules_empty_is_one_line(personality, small_model, tmp_path) -> None:
    # Every id on two different rows: score ended in a scikit-learn traceback ("Found
    # array with 0 sample(s)"), train said it could not tell the response value.
    frame = pd.read_csv(personality, sep="\t")
    path = tmp_path / "twice.csv"
    pd.concat([frame, frame.assign(Recency=frame["Recency"] + 1)]).to_csv(path, index=False)
    n = 2 * len(frame)
    audit = f"({n:,} rows read, {n:,} removed: {n:,} repeated_id). Fix: see the reasons"
    line = _one_error_line(["propensity", "train", str(path), "--target", "Response"])
    assert f"{path}: no person left to learn from {audit}" in line
    line = _one_error_line(["propensity", "score", str(small_model), str(path), "-o",
                            str(tmp_path / "s.csv")])
    assert f"{path}: no person left to score {audit}" in line


def test_tampered_and_foreign_model_files_are_one_line(personality, small_model,
                                                       tmp_path) -> None:
    tampered = tmp_path / "tampered.skops"
    with zipfile.ZipFile(small_model) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "schema.json":
                data = data.replace(b'"C": ', b'"C":  ', 1)
            dst.writestr(info, data)
    line = _one_error_line(["propensity", "score", str(tampered), str(personality), "-o",
                            str(tmp_path / "s.parquet")])
    assert "modified or corrupted" in line
    foreign = tmp_path / "foreign.skops"
    foreign.write_bytes(gzip.compress(b"not a model"))
    line = _one_error_line(["propensity", "score", str(foreign), str(personality), "-o",
                            str(tmp_path / "s.parquet")])
    assert "not a segwise propensity model file" in line


def test_scoring_with_another_dictionary_is_refused(personality, small_model,
                                                    tmp_path) -> None:
    from segwise.io import Attribute, FeatureDictionary

    other = FeatureDictionary([Attribute("Income", "numeric")]).write(tmp_path / "d.toml")
    with pytest.raises(InputError, match="not the dictionary the model was trained with"):
        score_propensity(small_model, personality, dictionary=other)


def test_a_dataframe_is_named_by_its_type_not_by_its_rows(personality: Path) -> None:
    # str(source) printed the whole frame into the result, the model file's metadata and
    # every error: 'PropensityResult(2,240 person(s) from '         ID  Year_Birth ...'.
    frame = pd.read_csv(personality, sep="\t")
    got = run_propensity(frame, "Response", models=["logistic"], imbalance=["none"],
                         segments=False, importance=False, folds=3)
    assert repr(got).startswith("PropensityResult(2,240 person(s) from 'pandas DataFrame', ")
    assert got.trained.metadata["source"] == "pandas DataFrame"
    with pytest.raises(InputError, match=r"^polars DataFrame: no column 'response' to learn "
                                         r"from; did you mean 'Response'\?"):
        run_propensity(pl.from_pandas(frame), "response")
    with pytest.raises(InputError, match=r"^pandas DataFrame: the model needs column\(s\) the "
                                         r"table lacks: Income\. Fix"):
        score_propensity(got.trained, frame.drop(columns=["Income"]))


def test_a_dictionary_naming_a_column_in_another_case_is_one_line(personality,
                                                                   tmp_path) -> None:
    # 'income' and 'Num_Web_Purchases' against the file's Income and NumWebPurchases: both
    # were 'not in the data' and 'not in the dictionary', and the model trained on recency
    # alone.
    dictionary = tmp_path / "d.csv"
    dictionary.write_text("attribute,type\nincome,numeric\nRecency,numeric\n"
                          "Num_Web_Purchases,numeric\n")
    line = _one_error_line(["propensity", "train", str(personality), "--target", "Response",
                            "-d", str(dictionary), "--models", "logistic", "--imbalance",
                            "none", "--no-segments", "--no-importance", "--folds", "3"])
    assert line == (
        f"error: {personality}: 2 attribute(s) of the dictionary match no column as written: "
        "'income' (the file writes 'Income'), 'Num_Web_Purchases' (the file writes "
        "'NumWebPurchases'); names are compared with their case and punctuation, so neither "
        "would be used. Fix: write the names in the dictionary as the file's header does")


@pytest.mark.parametrize("blank", [["Income", "Kidhome", "Education"], []])
def test_a_table_of_the_target_alone_is_one_line(personality, tmp_path, blank) -> None:
    # The id, the response and blank columns (or none): the types inferred left no
    # attribute but the target, and training ended in a traceback, 'ValueError: Found array
    # with 0 sample(s)'.
    frame = pd.read_csv(personality, sep="\t")[["ID", "Response"]].assign(
        **dict.fromkeys(blank, ""))
    path = tmp_path / "target_only.csv"
    frame.to_csv(path, index=False)
    line = _one_error_line(["propensity", "train", str(path), "--target", "Response",
                            "--models", "logistic", "--imbalance", "none", "--folds", "3"])
    said = "".join(f"{c}: blank in every row; " for c in blank).removesuffix("; ")
    assert line == (f"error: {path}: no column besides 'Response' can be read as an attribute"
                    f"{f' ({said})' if said else ''}. Fix: check the file, or give a "
                    "dictionary declaring its attributes")
