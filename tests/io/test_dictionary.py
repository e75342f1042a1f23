"""Feature dictionaries: segwise's CSV and TOML format, and the CoIL 2000 reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from segwise.exceptions import ConfigError
from segwise.io import (
    Attribute,
    FeatureDictionary,
    Part,
    canonical_code,
    read_coil_dictionary,
    read_dictionary,
)


@pytest.fixture(scope="module")
def coil(shared_data: Path) -> FeatureDictionary:
    return read_coil_dictionary(shared_data / "coil2000-insurance" / "dictionary.txt")


def test_coil_dictionary_reads_every_attribute_and_table(coil: FeatureDictionary) -> None:
    assert len(coil) == 86
    assert [a.position for a in coil] == list(range(1, 87))
    assert coil.names[:5] == ["MOSTYPE", "MAANTHUI", "MGEMOMV", "MGEMLEEF", "MOSHOOFD"]
    types = [a.type for a in coil]
    assert types.count("categorical") == 2 and types.count("binary") == 1
    # L1 (age), 38 attributes on L3 (percentage bands), 21 on L4 (contribution bands).
    assert types.count("ordinal") == 1 + 38 + 21
    assert types.count("numeric") == 2 + 21          # houses, household size, policy counts
    mostype = coil["MOSTYPE"]
    assert mostype.type == "categorical" and len(mostype.labels) == 41
    assert mostype.label(8) == "Middle class families" and mostype.description == "Customer Subtype"
    assert coil["MOSHOOFD"].labels["10"] == "Farmers"
    assert coil["MGEMLEEF"].type == "ordinal" and coil["MGEMLEEF"].label("3") == "40-50 years"
    # "..." continues the domain above, and is not part of the description.
    assert coil["MGODPR"].description == "Protestant" and coil["MGODPR"].labels["9"] == "100%"
    assert coil["PWABEDR"].description == "Contribution third party insurance (firms)"
    assert coil["PWABEDR"].labels == coil["PWAPART"].labels
    assert coil["AWABEDR"].type == "numeric" and not coil["AWABEDR"].labels
    assert coil["MINK3045"].description == "Income 30-45.000"
    assert coil["CARAVAN"].type == "binary" and coil["CARAVAN"].codes == ["0", "1"]
    assert all(not a.missing for a in coil)


def test_coil_dictionary_saved_as_utf8_or_with_plain_dashes_reads_the_same(
        shared_data: Path, coil: FeatureDictionary, tmp_path: Path) -> None:
    # The file is Windows-1252 ('1 \x96 10'). Saved as UTF-8 by an editor, the dash took
    # three bytes and no range was recognised: MAANTHUI (houses, 1-10) and MGEMOMV took
    # the domain above, the 41 customer subtypes, as categorical codes. Written '1-10',
    # the same.
    raw = (shared_data / "coil2000-insurance" / "dictionary.txt").read_bytes()
    utf8 = tmp_path / "utf8.txt"
    utf8.write_text(raw.decode("cp1252"), encoding="utf-8")
    plain = tmp_path / "plain.txt"
    plain.write_bytes(raw.replace(b" \x96 ", b"-").replace(b"\n", b"\r\n"))
    for path in (utf8, plain):
        copy = read_coil_dictionary(path)
        assert [(a.name, a.type, a.position) for a in copy] == [
            (a.name, a.type, a.position) for a in coil]
        assert copy["MAANTHUI"].type == "numeric" and not copy["MAANTHUI"].labels
    # The labels read the dash as the dash, not a control character.
    assert coil["PWAPART"].labels["1"] == "f 1 \u2013 49"
    assert read_coil_dictionary(utf8)["PWAPART"].labels == coil["PWAPART"].labels


def test_coil_names_headerless_columns_by_position(coil: FeatureDictionary) -> None:
    names = coil.column_names(85)
    assert names[0] == "MOSTYPE" and names[-1] == "ABYSTAND" and len(names) == 85
    assert coil.column_names(88)[-2:] == ["column_87", "column_88"]


@pytest.fixture
def declared() -> FeatureDictionary:
    return FeatureDictionary([
        Attribute("ALTER", "ordinal", "Age class", missing=("-1", "0"),
                  labels={"-1": "unknown", "1": "< 30", "2": "30-45", "3": "46-60", "4": "> 60"}),
        Attribute("REGION", "categorical", "Region, \"quoted\"", missing=("X",),
                  labels={"N": "north", "S": "south", "X": "unknown"}),
        Attribute("OST_WEST", "binary", labels={"W": "west", "O": "east"}),
        Attribute("INCOME", "numeric", "Yearly income", missing=("-1",)),
        Attribute("YOUTH", "mixed", "Decade and movement", missing=("0",),
                  labels={"1": "40s mainstream", "2": "40s avant-garde", "3": "50s mainstream"},
                  parts=(Part("decade", "ordinal", {"1": 40, "2": 40, "3": 50}),
                         Part("movement", "binary", {"1": "mainstream", "2": "avantgarde",
                                                     "3": "mainstream"}))),
    ])


@pytest.mark.parametrize("suffix", [".toml", ".csv"])
def test_format_round_trips(declared: FeatureDictionary, tmp_path: Path, suffix: str) -> None:
    path = declared.write(tmp_path / f"dict{suffix}")
    back = read_dictionary(path)
    assert back == declared
    assert back["REGION"].codes == ["N", "S"] and back["ALTER"].missing == ("-1", "0")


def test_digit_rules_round_trip_in_toml(tmp_path: Path) -> None:
    d = FeatureDictionary([Attribute("CAMEO_INTL", "mixed", missing=("XX",), parts=(
        Part("wealth", "ordinal", digit="tens"), Part("life_stage", "ordinal", digit="units")))])
    assert read_dictionary(d.write(tmp_path / "d.toml")) == d
    with pytest.raises(ConfigError, match="TOML"):
        d.write(tmp_path / "d.csv")


HAND_WRITTEN = (
    "attribute,type,description,code,label,missing\n"
    "workclass,categorical,Employer type,Private,private sector,\n"
    "workclass,,,Self-emp-inc,self-employed,\n"
    "workclass,,,?,unknown,yes\n"
    "age,numeric,Age in years,,,\n"
    "sex,binary,,Female,,\n"
    "sex,,,Male,,\n"
)
#: As spreadsheets save the same sheet: plain, "CSV UTF-8" (a byte-order mark and CRLF),
#: and where the decimal mark is a comma (semicolons; the description holds a comma).
SAVED = {
    "plain": HAND_WRITTEN.encode(),
    "bom crlf": b"\xef\xbb\xbf" + HAND_WRITTEN.replace("\n", "\r\n").encode(),
    "semicolons": HAND_WRITTEN.replace(",", ";").replace("Employer type",
                                                         "Employer, type").encode(),
}


@pytest.mark.parametrize("saved", SAVED.values(), ids=SAVED.keys())
def test_csv_written_by_hand(tmp_path: Path, saved: bytes) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(saved)
    d = read_dictionary(path)
    assert d.names == ["workclass", "age", "sex"]
    assert d["workclass"].missing == ("?",) and d["workclass"].codes == ["Private", "Self-emp-inc"]
    assert d["sex"].labels == {"Female": "Female", "Male": "Male"}
    assert d["age"].type == "numeric" and d["age"].description == "Age in years"
    assert d["workclass"].description.startswith("Employer")


@pytest.mark.parametrize(("text", "message"), [
    ("[attributes.A]\ntype = \"nominal\"\n", "attributes.A: type 'nominal'"),
    ("[attributes.A]\ndescription = \"x\"\n", "attributes.A: no type"),
    ("[attributes.A]\ntype = \"ordinal\"\ncolour = 1\n", "unknown key"),
    ("[A]\ntype = \"ordinal\"\n", "unknown top-level key"),
    ("[attributes.A]\ntype = \"binary\"\n[attributes.A.split.p]\ntype = \"ordinal\"\n"
     "digit = \"tens\"\n", "only a mixed attribute has parts"),
    ("[attributes.A]\ntype = \"mixed\"\n[attributes.A.split.p]\ntype = \"ordinal\"\n",
     "either values"),
    ("[attributes.A]\ntype = \"ordinal\"\nposition = \"first\"\n", "not a whole number"),
    ("not toml = = 1", "not valid TOML"),
    # An unquoted 2.0 is TOML's dotted key: code 2 was labelled "{'0': '30-40'}".
    ("[attributes.A]\ntype = \"ordinal\"\nlabels = { 1 = \"20-30\", 2.0 = \"30-40\" }\n",
     r"attributes.A: label of code '2' is a table \(2.0 = ...\): TOML reads an unquoted "
     r"2.0 as two keys. Fix: quote the code \(\"2.0\" = ...\), or write it as 2$"),
    ("[attributes.A]\ntype = \"mixed\"\n[attributes.A.split.p]\ntype = \"ordinal\"\n"
     "values = { 1 = 40, 2.0 = 50 }\n", r"attributes.A: split.p: value of code '2' is a table"),
])
def test_invalid_toml_names_file_attribute_and_fix(tmp_path: Path, text: str,
                                                   message: str) -> None:
    path = tmp_path / "d.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        read_dictionary(path)
    assert str(path) in str(err.value)


def test_invalid_csv_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("attribute,type\nA,ordinal\nA,numeric\n")
    with pytest.raises(ConfigError, match="line 3: attribute A has type 'ordinal'"):
        read_dictionary(path)
    path.write_text("name,type\nA,ordinal\n")
    with pytest.raises(ConfigError, match="'attribute' present"):
        read_dictionary(path)
    path.write_text("attribute,type\nA,ordinal\nA2,ordinal\nA,\n")
    assert read_dictionary(path).names == ["A", "A2"]


def test_duplicate_names_and_positions_are_refused() -> None:
    with pytest.raises(ConfigError, match="declared twice"):
        FeatureDictionary([Attribute("A", "numeric"), Attribute("A", "ordinal")])
    # It said "two attributes share a position", not which, in a dictionary of hundreds.
    with pytest.raises(ConfigError, match=r"attributes 'A' and 'C' share position 1\. Fix: "):
        FeatureDictionary([Attribute("A", "numeric", position=1),
                           Attribute("B", "numeric", position=2),
                           Attribute("C", "numeric", position=1)])


@pytest.mark.parametrize(("value", "code"), [
    (1, "1"), (1.0, "1"), ("1.0", "1"), (" 01 ", "1"), (-1, "-1"), (2.5, "2.5"),
    ("X", "X"), (" XX ", "XX"), (True, "1"),
])
def test_codes_compare_by_their_canonical_text(value: object, code: str) -> None:
    assert canonical_code(value) == code


@pytest.mark.parametrize("missing", ['"-1,0"', '"-1, 0"', '"[-1, 0]"', '["-1,0"]', '[-1, 0]',
                                     '["-1", "0"]', '"-1; 0"', "\"['-1', '0']\""])
def test_toml_missing_codes_written_as_one_list_string(tmp_path: Path, missing: str) -> None:
    # missing = "-1,0" was one code "-1,0", which no value ever is: nothing was missing.
    path = tmp_path / "d.toml"
    path.write_text(f"[attributes.A]\ntype = \"ordinal\"\nmissing = {missing}\n"
                    "labels = { \"[1, 2]\" = \"low\", \"3\" = \"high\", \"1,5\" = \"odd\", "
                    "\"4;5\" = \"top\", \"X;XX\" = \"text\" }\n")
    attribute = read_dictionary(path)["A"]
    assert attribute.missing == ("-1", "0")
    # "4;5" was one code, which no value is: as missing = "-1;0" reads, so does a label's
    # code (a semicolon is in no number); "1,5" and text stay one code.
    assert attribute.labels == {"1": "low", "2": "low", "3": "high", "1,5": "odd",
                                "4": "top", "5": "top", "X;XX": "text"}


def test_text_missing_codes_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "d.toml"
    path.write_text("[attributes.A]\ntype = \"categorical\"\nmissing = \"X, XX\"\n"
                    "[attributes.B]\ntype = \"categorical\"\nmissing = \"XX\"\n")
    d = read_dictionary(path)
    assert d["A"].missing == ("X", "XX") and d["B"].missing == ("XX",)


LISTED = (
    "attribute,type,description,code,label,missing\n"
    "ALTER,ordinal,Age class,\"-1, 0\",unknown,yes\n"
    ",,,1,< 30 years,\n"                       # the name on the first row only (merged cells)
    ",,,2,30 - 45 years,\n"
    "REGION,categorical,,\"[X, XX]\",unknown,x\n"
    "REGION,,,N,north,\n"
    "INCOME,numeric,Yearly income,,,\"-1; 9\"\n"  # an attribute's missing codes, listed
    "FAMILY,categorical,,\"Married, no kids\",,\n"
)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_csv_and_excel_dictionaries_with_listed_codes(tmp_path: Path, suffix: str) -> None:
    import io

    import pandas as pd

    path = tmp_path / f"d{suffix}"
    if suffix == ".csv":
        path.write_text(LISTED)
    else:       # the same sheet saved as a workbook: numbers are numbers, blanks empty
        pd.read_csv(io.StringIO(LISTED), dtype=object).to_excel(path, index=False)
    d = read_dictionary(path)
    assert d.names == ["ALTER", "REGION", "INCOME", "FAMILY"]
    assert d["ALTER"].missing == ("-1", "0") and d["ALTER"].codes == ["1", "2"]
    assert d["ALTER"].description == "Age class" and d["ALTER"].label(2) == "30 - 45 years"
    assert d["REGION"].missing == ("X", "XX") and d["REGION"].codes == ["N"]
    assert d["INCOME"].missing == ("-1", "9")
    assert d["FAMILY"].codes == ["Married, no kids"]


@pytest.mark.parametrize(("rows", "message"), [
    ("A,ordinal,,1,,maybe\n", "line 2: missing must say whether code '1' means missing"),
    ("A,ordinal,,,,yes\n", "line 2: missing is 'yes' but the row has no code"),
    (",ordinal,,1,,\n", "line 2: no attribute name"),
    ("A,ordinal,,1,,\n,numeric,,2,,\n", "line 3: no attribute name"),
])
def test_ambiguous_csv_rows_are_refused(tmp_path: Path, rows: str, message: str) -> None:
    path = tmp_path / "d.csv"
    path.write_text("attribute,type,description,code,label,missing\n" + rows)
    with pytest.raises(ConfigError, match=message):
        read_dictionary(path)


def test_a_dictionary_in_another_layout_says_how_to_fix_it(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"Attribute": ["AGER_TYP", None], "Description": ["typology", None],
                          "Value": [-1, 0], "Meaning": ["unknown", "none"]})
    for path in (tmp_path / "values.csv", tmp_path / "values.xlsx"):
        frame.to_csv(path, index=False) if path.suffix == ".csv" else frame.to_excel(
            path, index=False)
        with pytest.raises(ConfigError, match="found attribute, description, value, meaning"
                                              r"\). Fix: rename the columns"):
            read_dictionary(path)
    (tmp_path / "broken.xlsx").write_text("not a workbook")
    with pytest.raises(ConfigError, match=r"broken\.xlsx: cannot read this workbook"):
        read_dictionary(tmp_path / "broken.xlsx")
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(ConfigError, match="Fix: save it in one of these formats"):
        read_dictionary(tmp_path / "d.json")


def test_types_and_positions_as_spreadsheets_write_them(tmp_path: Path) -> None:
    # "Categorical" (a capital, a blank) was refused, and a position saved as 3.0 too.
    path = tmp_path / "d.csv"
    path.write_text("attribute,type,position,code,part,part_type,value\n"
                    "A,Categorical ,3.0,,,,\nB, NUMERIC,1,,,,\n"
                    "C,Mixed,2,1,p,Ordinal,5\nC,,,2,p,,6\n")
    d = read_dictionary(path)
    assert [(a.type, a.position) for a in d] == [("categorical", 3), ("numeric", 1),
                                                 ("mixed", 2)]
    assert d["C"].parts[0].type == "ordinal"
    path.write_text("attribute,type,position\nA,numeric,1.5\n")
    with pytest.raises(ConfigError, match=r"d\.csv: attribute A: position '1\.5' is not a "
                                          "whole number$"):
        read_dictionary(path)
    path.write_text("attribute,type\nA,nominal\n")
    with pytest.raises(ConfigError, match=r"type 'nominal' is not one of .*Fix: declare"):
        read_dictionary(path)


@pytest.mark.parametrize(("declared", "hint"), [
    ("number", "numeric"), ("int", "numeric"), ("nominal", "categorical"),
    ("boolean", "binary"), ("ordnial", "ordinal"), ("xyz", None)])
def test_a_type_in_other_words_suggests_ours(tmp_path: Path, declared: str,
                                            hint: str | None) -> None:
    # It said "t.csv: attribute age: attribute 'age': type 'number' is not one of ...":
    # the attribute twice, and nothing on which type was meant.
    path = tmp_path / "t.csv"
    path.write_text(f"attribute,type\nage,{declared}\n")
    with pytest.raises(ConfigError) as exc:
        read_dictionary(path)
    said = f" (did you mean {hint!r}?)" if hint else ""
    assert str(exc.value) == (f"{path}: attribute age: type {declared!r} is not one of "
                              f"numeric, ordinal, categorical, binary, mixed{said}. Fix: "
                              "declare one of these")
