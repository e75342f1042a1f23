"""PeopleEncoder: dictionary-driven cleaning and encoding, on real data and by contract."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from segwise.exceptions import InputError
from segwise.features.people import ColumnsError, PeopleEncoder, missing_threshold
from segwise.io import (
    PERSON_ID,
    Attribute,
    FeatureDictionary,
    Part,
    load_source,
    name_columns,
    read_coil_dictionary,
    read_dictionary,
)

ADULT_NAMES = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
               "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
               "hours_per_week", "native_country", "income"]

ADULT_TOML = """
[attributes.age]
type = "numeric"
description = "Age in years"
position = 1
[attributes.workclass]
type = "categorical"
description = "Employer type"
position = 2
missing = ["?"]
[attributes.workclass.labels]
Private = "private sector"
Self-emp-not-inc = "self-employed"
Self-emp-inc = "own company"
Federal-gov = "federal government"
Local-gov = "local government"
State-gov = "state government"
Without-pay = "without pay"
Never-worked = "never worked"
[attributes.fnlwgt]
type = "numeric"
position = 3
[attributes.education_num]
type = "ordinal"
description = "Years of education"
position = 5
[attributes.marital_status]
type = "categorical"
position = 6
[attributes.occupation]
type = "categorical"
position = 7
missing = ["?"]
[attributes.sex]
type = "binary"
position = 10
labels = { Female = "female", Male = "male" }
[attributes.capital_gain]
type = "numeric"
position = 11
[attributes.hours_per_week]
type = "numeric"
description = "Hours worked per week"
position = 13
[attributes.native_country]
type = "categorical"
position = 14
missing = ["?"]
[attributes.income]
type = "binary"
position = 15
labels = { "<=50K" = "50K or less", ">50K" = "over 50K" }
"""


# ---------------------------------------------------------------- the estimator contract


@parametrize_with_checks([PeopleEncoder(), PeopleEncoder(unknown_columns="ignore",
                                                          missing_columns="missing")],
                         expected_failed_checks=lambda est: {} if est.unknown_columns == "error"
                         else {"check_dataframe_column_names_consistency": (
                             "by design: columns are matched by name, so reordered names are "
                             "accepted and unseen ones are reported rather than refused")})
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


# ---------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def coil_rows(shared_data: Path) -> tuple[pa.Table, FeatureDictionary]:
    folder = shared_data / "coil2000-insurance"
    dictionary = read_coil_dictionary(folder / "dictionary.txt")
    source = load_source(folder / "ticdata2000.txt.gz", "people")
    return name_columns(source.table, dictionary).to_pyarrow(), dictionary


def test_coil_codes_are_decoded_and_one_hot_encoded(
        coil_rows: tuple[pa.Table, FeatureDictionary]) -> None:
    rows, dictionary = coil_rows
    enc = PeopleEncoder(dictionary, exclude=("CARAVAN",), unknown_columns="ignore").fit(rows)
    names = list(enc.get_feature_names_out())
    # 41 subtypes and 10 main types one-hot, 83 other attributes one column each.
    assert len(names) == 41 + 10 + 83
    assert names[:2] == ["MOSTYPE=1", "MOSTYPE=2"] and "MGEMLEEF" in names
    out = enc.transform(rows)
    assert out.shape == (5822, 134) and not np.isnan(out).any()
    subtype = pd.Series(rows.column("MOSTYPE").to_pylist()).astype(int)
    block = out[:, :41]
    np.testing.assert_array_equal(block.argmax(axis=1) + 1, subtype)
    assert (block.sum(axis=1) == 1).all()
    assert enc.describe_output("MOSTYPE=8") == "Customer Subtype: Middle class families"
    assert enc.describe_output("MGEMLEEF") == "Avg age"
    audit = enc.column_audit().set_index("column")
    assert audit.loc["CARAVAN", "status"] == "excluded"
    assert audit.loc[PERSON_ID, "status"] == "not in the dictionary"
    assert (audit.loc[enc.attributes_, "status"] == "used").all()
    assert enc.column_threshold_ == 0.2 and enc.row_threshold_ == 0.2
    assert not enc.sparse_rows(rows).any()


@pytest.fixture(scope="module")
def adult(shared_data: Path, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[pa.Table, FeatureDictionary]:
    path = tmp_path_factory.mktemp("adult") / "adult.toml"
    path.write_text(ADULT_TOML)
    dictionary = read_dictionary(path)
    source = load_source(shared_data / "uci-adult" / "adult.data.gz", "people")
    return name_columns(source.table, dictionary).to_pyarrow(), dictionary


def test_adult_question_marks_are_unknown(adult: tuple[pa.Table, FeatureDictionary]) -> None:
    rows, dictionary = adult
    assert rows.column_names[:3] == [PERSON_ID, "age", "workclass"]
    enc = PeopleEncoder(dictionary, exclude=("income",), unknown_columns="ignore").fit(rows)
    audit = enc.column_audit().set_index("column")
    # The counts SOURCE.md gives: workclass 1,836, occupation 1,843, native-country 583.
    assert audit.loc["workclass", "missing_code"] == 1836
    assert audit.loc["occupation", "missing_code"] == 1843
    assert audit.loc["native_country", "missing_code"] == 583
    assert audit.loc["workclass", "missing_share"] == pytest.approx(1836 / 32561)
    assert audit.loc["income", "status"] == "excluded"
    assert audit.loc["column_4", "status"] == "not in the dictionary"   # education (text)
    out = pd.DataFrame(enc.transform(rows), columns=enc.get_feature_names_out())
    workclass = out.filter(like="workclass=")
    assert workclass.isna().all(axis=1).sum() == 1836
    assert (workclass.sum(axis=1)[workclass.notna().all(axis=1)] == 1).all()
    # Undeclared codes of a declared categorical are learned at fit (no labels declared).
    assert out.filter(like="occupation=").shape[1] == 14
    assert set(out["sex"].unique()) == {0.0, 1.0}
    assert out["sex"].mean() == pytest.approx(21790 / 32561)  # female = 0, male = 1
    assert enc.describe_output("sex") == "sex: male"
    assert out["age"].min() == 17 and out["age"].max() == 90


def test_customer_personality_without_dictionary(shared_data: Path) -> None:
    source = load_source(shared_data / "kaggle-customer-personality"
                         / "marketing_campaign.csv.gz", "people")
    rows = source.table.to_pyarrow()
    enc = PeopleEncoder(exclude=(PERSON_ID, "Response"), unknown_columns="ignore").fit(rows)
    inferred = enc.dictionary_
    assert inferred.inferred and inferred["Income"].type == "numeric"
    audit = enc.column_audit().set_index("column")
    assert audit.loc["Income", "blank"] == 24
    assert audit.loc["Dt_Customer", "status"] == "not in the dictionary"
    out = pd.DataFrame(enc.transform(rows), columns=enc.get_feature_names_out())
    assert out["Income"].isna().sum() == 24 and out["Income"].max() == 666666
    assert {"Marital_Status=YOLO", "Marital_Status=Absurd"} <= set(out.columns)
    assert out["Year_Birth"].min() == 1893      # implausible, but a number: kept, imputed later


# ---------------------------------------------------------------- the rules


@pytest.fixture
def arvato_like() -> FeatureDictionary:
    return FeatureDictionary([
        Attribute("ALTER", "ordinal", "Age class", missing=("-1", "0", "9"),
                  labels={"1": "< 30", "2": "30-45", "3": "46-60", "4": "> 60"}),
        Attribute("OST_WEST", "binary", "East or west", missing=("-1",),
                  labels={"O": "east", "W": "west"}),
        Attribute("CAMEO_DEUG", "ordinal", "Wealth class", missing=("-1", "X"),
                  labels={str(i): f"class {i}" for i in range(1, 10)}),
        Attribute("REGION", "categorical", missing=("-1",),
                  labels={"N": "north", "S": "south", "E": "east"}),
        Attribute("YOUTH", "mixed", "Youth movement", missing=("-1", "0"), parts=(
            Part("decade", "ordinal", {"1": 40, "2": 40, "3": 50, "4": 50}),
            Part("movement", "binary", {"1": "main", "2": "avant", "3": "main", "4": "avant"}))),
        Attribute("CAMEO_INTL", "mixed", missing=("-1", "XX"), parts=(
            Part("wealth", "ordinal", digit="tens"), Part("stage", "categorical", digit="units"))),
        Attribute("INCOME", "numeric", missing=("-1",)),
        Attribute("SPARSE", "numeric", missing=("-1",)),
    ])


def _raw(n: int = 12) -> pd.DataFrame:
    return pd.DataFrame({
        "ALTER": [1, 2, 3, 4, -1, 0, 9, 2, 3, 4, 1, 2][:n],
        "OST_WEST": ["W", "O", "W", "W", "O", "-1", "W", "O", "W", "W", "O", "W"][:n],
        "CAMEO_DEUG": ["1", "5", "X", "9", "2", "3", "4", "5", "6", "7", "8", "-1"][:n],
        "REGION": ["N", "S", "E", "N", None, "S", "E", "N", "S", "E", "N", "S"][:n],
        "YOUTH": [1, 2, 3, 4, 0, -1, 1, 2, 3, 4, 1, 2][:n],
        "CAMEO_INTL": ["51", "24", "XX", "13", "45", "31", "22", "51", "14", "33", "41", "52"][:n],
        "INCOME": [1.5, 2.0, 3.5, np.nan, 4.0, 5.0, 6.0, 7.5, 8.0, 9.0, 10.0, 11.0][:n],
        "SPARSE": [-1, -1, -1, -1, -1, -1, -1, -1, 3.0, -1, -1, -1][:n],
        "EXTRA": list("abcdefghijkl")[:n],
    })


def test_unknown_codes_mixed_splits_and_encodings(arvato_like: FeatureDictionary) -> None:
    X = _raw()
    enc = PeopleEncoder(arvato_like, unknown_columns="ignore").fit(X)
    names = list(enc.get_feature_names_out())
    assert names == ["ALTER", "OST_WEST", "CAMEO_DEUG", "REGION=N", "REGION=S", "REGION=E",
                     "YOUTH.decade", "YOUTH.movement", "CAMEO_INTL.wealth",
                     "CAMEO_INTL.stage=1", "CAMEO_INTL.stage=2", "CAMEO_INTL.stage=3",
                     "CAMEO_INTL.stage=4", "CAMEO_INTL.stage=5", "INCOME"]
    # SPARSE is missing in 11 of 12 rows: above the threshold, dropped and said so.
    audit = enc.column_audit().set_index("column")
    assert audit.loc["SPARSE", "status"] == "above the missing threshold"
    assert audit.loc["EXTRA", "status"] == "not in the dictionary"
    assert audit.loc["ALTER", "missing_code"] == 3 and audit.loc["ALTER", "unseen_code"] == 0
    assert audit.loc["CAMEO_DEUG", "missing_code"] == 2
    out = pd.DataFrame(enc.transform(X), columns=names)
    assert out["ALTER"].tolist()[:5] == [1, 2, 3, 4, None] or np.isnan(out["ALTER"][4])
    assert out["ALTER"].isna().sum() == 3
    assert out["OST_WEST"].tolist()[:2] == [1.0, 0.0]          # O (declared first) = 0
    assert np.isnan(out["OST_WEST"][5])
    assert out["CAMEO_DEUG"][1] == 5 and np.isnan(out["CAMEO_DEUG"][2])
    assert out.loc[4, ["REGION=N", "REGION=S", "REGION=E"]].isna().all()
    assert out.loc[0, ["REGION=N", "REGION=S", "REGION=E"]].tolist() == [1, 0, 0]
    assert out["YOUTH.decade"].tolist()[:4] == [40, 40, 50, 50]
    assert out["YOUTH.movement"].tolist()[:4] == [1, 0, 1, 0]   # avant = 0, main = 1
    assert out["YOUTH.decade"].isna().sum() == 2
    assert out["CAMEO_INTL.wealth"].tolist()[:2] == [5, 2] and np.isnan(out["CAMEO_INTL.wealth"][2])
    assert out.loc[0, "CAMEO_INTL.stage=1"] == 1 and out.loc[1, "CAMEO_INTL.stage=4"] == 1
    assert enc.describe_output("YOUTH.movement") == "Youth movement (movement): main"
    values = enc.attribute_values(X)
    assert list(values.columns) == ["ALTER", "OST_WEST", "CAMEO_DEUG", "REGION", "YOUTH.decade",
                                    "YOUTH.movement", "CAMEO_INTL.wealth", "CAMEO_INTL.stage",
                                    "INCOME"]
    assert values["REGION"].tolist()[:4] == [0, 1, 2, 0]
    assert enc.attribute_types()["CAMEO_INTL.stage"] == "categorical"


def test_a_categorical_first_part_keeps_its_columns() -> None:
    d = FeatureDictionary([Attribute("CAMEO", "mixed", missing=("XX",), parts=(
        Part("stage", "categorical", digit="units"), Part("wealth", "ordinal", digit="tens")))])
    X = pd.DataFrame({"CAMEO": ["51", "24", "XX", "13", "52"]})
    enc = PeopleEncoder(d).fit(X)
    out = enc.transform(X)
    assert list(enc.get_feature_names_out()) == ["CAMEO.stage=1", "CAMEO.stage=2",
                                                 "CAMEO.stage=3", "CAMEO.stage=4",
                                                 "CAMEO.wealth"]
    assert out.shape == (5, 5) and out[0].tolist() == [1, 0, 0, 0, 5]
    assert np.isnan(out[2]).all()


def test_unseen_codes_are_counted_warned_or_refused(arvato_like: FeatureDictionary) -> None:
    X = _raw()
    enc = PeopleEncoder(arvato_like, unknown_columns="ignore").fit(X)
    later = X.assign(ALTER=[7, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 8],
                     REGION=["W", "S", "E", "N", "N", "S", "E", "N", "S", "E", "N", "S"],
                     YOUTH=[1, 2, 3, 4, 9, 1, 1, 2, 3, 4, 1, 2])
    with pytest.warns(UserWarning, match=r"4 value\(s\) are codes the dictionary does not "
                                         r"declare, encoded as missing: ALTER \(2\)"):
        out = pd.DataFrame(enc.transform(later), columns=enc.get_feature_names_out())
    assert np.isnan(out["ALTER"][0]) and np.isnan(out["ALTER"][11])
    assert out.loc[0, "REGION=N":"REGION=E"].isna().all()
    audit = enc.audit(later).set_index("column")
    assert audit.loc["ALTER", "unseen_code"] == 2 and audit.loc["REGION", "unseen_code"] == 1
    assert audit.loc["YOUTH", "unseen_code"] == 1
    assert audit.loc["ALTER", "missing_share"] == pytest.approx(2 / 12)
    strict = PeopleEncoder(arvato_like, unknown_columns="ignore", unseen_codes="error").fit(X)
    with pytest.raises(InputError, match="codes the dictionary does not declare: ALTER"):
        strict.transform(later)


def test_columns_missing_or_unknown_at_transform(arvato_like: FeatureDictionary) -> None:
    X = _raw()
    enc = PeopleEncoder(arvato_like).fit(X)
    with pytest.raises(ColumnsError, match="Feature names unseen at fit time:\n- NEW"):
        enc.transform(X.assign(NEW=1))
    with pytest.raises(ColumnsError, match="seen at fit time, yet now missing:\n- ALTER"):
        enc.transform(X.drop(columns="ALTER"))
    lenient = PeopleEncoder(arvato_like, unknown_columns="ignore",
                            missing_columns="missing").fit(X)
    reordered = X[X.columns[::-1]].assign(NEW=1).drop(columns="INCOME")
    with pytest.warns(UserWarning, match=r"column\(s\) INCOME absent"):
        out = lenient.transform(reordered)
    expected = lenient.transform(X)
    np.testing.assert_array_equal(out[:, :-1], expected[:, :-1])
    assert np.isnan(out[:, -1]).all()
    audit = lenient.audit(reordered).set_index("column")
    assert audit.loc["NEW", "status"] == "unknown column"
    assert audit.loc["INCOME", "status"] == "absent" and audit.loc["INCOME", "missing_share"] == 1
    needs = PeopleEncoder(arvato_like, unknown_columns="ignore").fit(X)
    with pytest.raises(ColumnsError, match=r"absent: INCOME\. Fix"):
        needs.transform(X.drop(columns="INCOME"))
    # An unused column (SPARSE, above the threshold) may be absent.
    assert needs.transform(X.drop(columns=["SPARSE", "EXTRA"])).shape == (12, 15)


def test_text_numbers_and_arrow_give_the_same_output(arvato_like: FeatureDictionary) -> None:
    X = _raw()
    as_text = X.astype(str).replace({"nan": "", "None": ""})
    enc = PeopleEncoder(arvato_like, unknown_columns="ignore").fit(X)
    a = enc.transform(X)
    np.testing.assert_array_equal(enc.transform(as_text), a)
    np.testing.assert_array_equal(enc.transform(pa.Table.from_pandas(X)), a)
    bad = as_text.assign(INCOME=["1.5", "abc", *as_text["INCOME"].tolist()[2:]])
    audit = enc.audit(bad).set_index("column")
    assert audit.loc["INCOME", "not_a_number"] == 1


def test_sparse_rows_use_a_threshold_from_the_data(arvato_like: FeatureDictionary) -> None:
    complete = _raw().iloc[[0, 1, 7, 8, 9, 10]]
    X = pd.concat([complete] * 5 + [_raw().iloc[[2, 4, 5]]], ignore_index=True)
    X.loc[10, ["ALTER", "OST_WEST", "CAMEO_DEUG", "REGION", "YOUTH"]] = [-1, "-1", "X", None, 0]
    enc = PeopleEncoder(arvato_like, unknown_columns="ignore").fit(X)
    share = enc.row_missing(X)
    assert share[10] == pytest.approx(5 / 7) and enc.row_threshold_ == 0.2
    # Row 30 misses 2 of 7 attributes (CAMEO_DEUG and CAMEO_INTL), rows 31-32 three.
    assert share[30:].tolist() == pytest.approx([2 / 7, 3 / 7, 3 / 7])
    assert np.flatnonzero(enc.sparse_rows(X)).tolist() == [10, 30, 31, 32]
    fixed = PeopleEncoder(arvato_like, unknown_columns="ignore", row_threshold=0.9).fit(X)
    assert not fixed.sparse_rows(X).any()


def test_binary_with_three_values_is_refused() -> None:
    d = FeatureDictionary([Attribute("flag", "binary")])
    with pytest.raises(InputError, match="flag is declared binary but has 3 values"):
        PeopleEncoder(d).fit(pd.DataFrame({"flag": ["a", "b", "c"]}))


@pytest.mark.parametrize(("shares", "low", "high"), [
    ([0.0] * 20 + [0.9], 0.2, 0.2),                    # nothing missing but one column
    ([0.01, 0.02, 0.03, 0.05, 0.6, 0.99, 0.02], 0.2, 0.2),  # two outliers: the floor holds
    ([0.3, 0.32, 0.35, 0.31, 0.33, 0.95], 0.35, 0.5),  # the fence, above the floor
])
def test_threshold_separates_outlying_columns(shares: list[float], low: float,
                                              high: float) -> None:
    assert low <= missing_threshold(np.array(shares)) <= high


def test_skops_round_trip(arvato_like: FeatureDictionary) -> None:
    import skops.io as sio

    X = _raw()
    enc = PeopleEncoder(arvato_like, unknown_columns="ignore").fit(X)
    data = sio.dumps(enc)
    types = sio.get_untrusted_types(data=data)
    assert set(types) == {"segwise.features._encoder.PeopleEncoder",
                          "segwise.io._dictionary.Attribute", "segwise.io._dictionary.Part",
                          "segwise.io._dictionary.FeatureDictionary"}
    back = sio.loads(data, trusted=types)
    np.testing.assert_array_equal(back.transform(X), enc.transform(X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert back.describe_output("YOUTH.decade") == "Youth movement (decade)"


def test_a_column_missing_in_every_row_is_never_used(shared_data: Path) -> None:
    # With few attributes the automatic fence reaches 100 %: an attribute whose every
    # value is a missing code (or blank) was "used", with no output, and every row looked
    # sparser for it.
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz").head(200)
    X = pd.DataFrame({"Fresh": frame["Fresh"].astype(float), "Milk": frame["Milk"].astype(str),
                      "CODED": "-1", "BLANK": None, "ONE": "A"})
    X.loc[:59, "Fresh"] = np.nan                  # 30 % and 35 % missing: a wide fence
    X.loc[100:169, "Milk"] = "?"
    d = FeatureDictionary([Attribute("Fresh", "numeric"),
                           Attribute("Milk", "numeric", missing=("?",)),
                           Attribute("CODED", "categorical", missing=("-1",)),
                           Attribute("BLANK", "numeric"), Attribute("ONE", "categorical")])
    enc = PeopleEncoder(d).fit(X)
    assert enc.column_threshold_ == 1.0 and enc.attributes_ == ["Fresh", "Milk", "ONE"]
    audit = enc.column_audit().set_index("column")
    assert audit.loc[["CODED", "BLANK"], "note"].tolist() == ["missing in every row: not "
                                                              "used"] * 2
    assert audit.loc["CODED", "missing_code"] == 200 and audit.loc["BLANK", "blank"] == 200
    assert audit.loc["ONE", "note"] == "one-hot: 1 column"
    assert enc.row_missing(X).max() == pytest.approx(1 / 3)       # of the 3 used


def test_values_that_are_not_numbers_are_counted_apart_from_blanks(
        shared_data: Path, tmp_path: Path) -> None:
    # The people job types numeric attributes on the engine; text such as "abc" became
    # NULL there and the audit called it blank. Typed or read as text, the counts agree.
    from segwise.clean import PeopleSettings
    from segwise.config import SegwiseConfig
    from segwise.jobs import run_job

    frame = pd.read_csv(shared_data / "uci-adult" / "adult.data.gz", header=None,
                        names=ADULT_NAMES, dtype=str, skipinitialspace=True,
                        keep_default_na=False).head(2000)
    frame.loc[:6, "age"] = ["abc", "X", "NaN", "inf", "1e40", "4O", "-"]   # not numbers
    frame.loc[7:9, "age"] = ["", " ", ""]                                  # blank
    frame.loc[10:12, "education_num"] = ["X", "", "13.0"]   # a coded ordinal, typed too
    frame.loc[13:14, "sex"] = ["", "?"]                     # text: blank, unseen code
    path = tmp_path / "adult.csv"
    frame.to_csv(path, index=False)
    d_path = tmp_path / "adult.toml"
    d_path.write_text(ADULT_TOML.replace("position = ", "# position = "))
    dictionary = read_dictionary(d_path)
    config = SegwiseConfig(sections={"people": PeopleSettings(dictionary=dictionary)})
    typed = run_job("people", path, config=config).entities.table
    assert pa.types.is_floating(typed.schema.field("age").type)   # typed by the engine
    raw = name_columns(load_source(path, "people").table, dictionary).to_pyarrow()
    counts = ["blank", "missing_code", "unseen_code", "not_a_number"]
    audits = []
    for rows in (typed, raw):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)     # the unseen "?" of sex
            enc = PeopleEncoder(dictionary, exclude=("income",),
                                unknown_columns="ignore").fit(rows)
        audits.append(enc.column_audit().set_index("column").loc[
            ["age", "education_num", "sex"], counts])
    typed_audit, raw_audit = audits
    assert typed_audit.loc["age"].tolist() == [3, 0, 0, 7]
    assert typed_audit.loc["education_num"].tolist() == [1, 0, 0, 1]
    assert typed_audit.loc["sex"].tolist() == [1, 0, 1, 0]
    pd.testing.assert_frame_equal(typed_audit, raw_audit)
    # Numbers given as numbers: an infinity or one beyond 10^13 is not a usable one either
    # (it reached the output as it was, and the imputer refused the matrix).
    X = pd.DataFrame({"age": [30.0, np.inf, -1e40, np.nan, 40.0, 50.0]})
    enc = PeopleEncoder(FeatureDictionary([Attribute("age", "numeric")])).fit(X)
    assert enc.column_audit().loc[0, counts].tolist() == [1, 0, 0, 2]
    assert np.isnan(enc.transform(X)[1:4, 0]).all()


def test_a_categorical_without_codes_taking_thousands_of_values_is_refused(
        adult: tuple[pa.Table, FeatureDictionary]) -> None:
    # Adult's sampling weight declared categorical: one 0/1 column per value, 21,648 of them
    # on the whole file, 5.3 GiB of output, and numpy's memory error as a traceback.
    import dataclasses

    rows, dictionary = adult
    rows = rows.slice(0, 3000)
    weights = len(set(rows.column("fnlwgt").to_pylist()))
    assert weights > 1000
    wrong = FeatureDictionary([dataclasses.replace(a, type="categorical")
                               if a.name == "fnlwgt" else a for a in dictionary])
    with pytest.raises(InputError, match=rf"attribute fnlwgt is declared categorical without "
                                         rf"codes and takes {weights:,} distinct values .*at "
                                         r"most 1,000\)\. Fix: declare it numeric"):
        PeopleEncoder(wrong, exclude=("income",), unknown_columns="ignore").fit(rows)
    # Declared codes are the user's choice, however many; so are up to 1,000 from the data.
    few = rows.filter(pa.compute.is_in(rows.column("fnlwgt"),
                                       rows.column("fnlwgt").slice(0, 900)))
    enc = PeopleEncoder(wrong, exclude=("income",), unknown_columns="ignore").fit(few)
    assert sum(name.startswith("fnlwgt=") for name in enc.get_feature_names_out()) <= 900
