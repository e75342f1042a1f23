"""``segwise population`` in-process: the comparison printed, the folder and report written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from segwise.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def personality(shared_data: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> tuple[Path, Path]:
    source = shared_data / "kaggle-customer-personality" / "marketing_campaign.csv.gz"
    frame = pd.read_csv(source, sep="\t")
    path = tmp_path_factory.mktemp("cp") / "responders.tsv"
    frame[frame["Response"] == 1].to_csv(path, sep="\t", index=False)
    return source, path


@pytest.mark.slow
def test_population_prints_and_writes_the_comparison(personality: tuple[Path, Path],
                                                     tmp_path: Path) -> None:
    population, customers = personality
    out = tmp_path / "out"
    result = runner.invoke(app, ["population", str(population), str(customers), "-o", str(out),
                                 "--exclude", "Response,AcceptedCmp*", "--k", "4",
                                 "--seed", "1"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Population against customers" in result.output
    assert "Segments in words" in result.output and "Customer rows" in result.output
    comparison = pd.read_csv(out / "comparison.csv")
    assert comparison["segment"].ge(0).sum() == 4
    assert comparison["population"].sum() == 2240 and comparison["customers"].sum() == 334
    assert comparison["verdict"].isin({"over", "under", "neither"}).all()
    # Signs in words: a cell "+" would reach the file as "'+" (see docs/security.md).
    components = pd.read_csv(out / "components.csv")
    assert set(components["side"]) == {"positive", "negative"}
    audit = pd.read_csv(out / "audit.csv")
    assert audit.groupby("table")["rows"].sum().to_dict() == {"customers": 334,
                                                              "population": 2240}
    html = (out / "report.html").read_text()
    for title in ("Which segments are your customers?", "Principal components",
                  "Columns and missing values", "The segments in words", "Feature relevance"):
        assert title in html
    from plotly.offline import get_plotlyjs

    ours = html.replace(get_plotlyjs(), "")          # plotly.js is embedded once, offline
    assert len(ours) < len(html) and re.findall(r"https?://[^\s\"'<]+", ours) == []
    dictionary = (out / "dictionary.toml").read_text()
    assert "inferred" in dictionary and "[attributes.Income]" in dictionary


def test_population_refuses_a_file_as_output_folder(personality: tuple[Path, Path],
                                                    tmp_path: Path) -> None:
    population, customers = personality
    result = runner.invoke(app, ["population", str(population), str(customers),
                                 "-o", str(tmp_path / "x.parquet"), "--k", "2",
                                 "--no-report", "--exclude", "Response"])
    assert result.exit_code == 1
    assert "writes a folder of files" in result.output


def test_population_json_report(personality: tuple[Path, Path], tmp_path: Path) -> None:
    from segwise.jobs import run_population
    from segwise.report import write_report

    population, customers = personality
    result = run_population(population, customers, n_clusters=3)
    path = write_report(result, tmp_path / "r.json", extras=result.report_extras())
    data = json.loads(path.read_text())
    keys = [s["key"] for s in data["sections"]]
    assert keys.index("comparison") > keys.index("pca") > keys.index("columns")
    assert "selection" not in keys                      # k was given: no sweep to show
    comparison = next(s for s in data["sections"] if s["key"] == "comparison")
    rows = comparison["tables"][0]["rows"]
    assert sum(r["customers"] for r in rows) == 334
    assert data["figures"]["segments"]["value"] == 3


@pytest.mark.slow
def test_population_checks_outputs_neutralises_formulas_and_stores_a_run(
        personality: tuple[Path, Path], tmp_path: Path) -> None:
    from segwise.store import Store

    population, customers = personality
    # A hostile column name reaches the column audit (CSV) as text.
    for name, path in (("population", population), ("customers", customers)):
        frame = pd.read_csv(path, sep="\t").rename(columns={"Z_Revenue": "=Z_Revenue"})
        frame.to_csv(tmp_path / f"{name}.tsv", sep="\t", index=False)
    out = tmp_path / "out"
    args = ["population", str(tmp_path / "population.tsv"), str(tmp_path / "customers.tsv"),
            "-o", str(out),
            "--k", "2", "--no-report", "--exclude", "Response,AcceptedCmp*"]
    db = tmp_path / "segwise.duckdb"
    for flag, prefix in (([], "'"), (["--keep-formulas"], "")):
        result = runner.invoke(app, [*args, *flag, "--store", str(db)], terminal_width=200)
        assert result.exit_code == 0, result.output
        columns = pd.read_csv(out / "columns.csv")["column"]
        assert f"{prefix}=Z_Revenue" in set(columns)
    assert "stored run" in result.output
    store = Store(db)
    run = store.run(store.latest_run_id())
    assert (run["command"], run["job"], run["kind"]) == ("population", "people", "people")
    assert store.segmentations(run["run_id"]) == ["population"]
    comparison = pd.read_csv(out / "comparison.csv")
    assert store.members(run["run_id"], limit=1)["total"] == comparison["population"].sum()
    segments = store.segments(run["run_id"], "population")
    assert [s["segment"] for s in segments] == comparison["name"].tolist()
    assert [s["size"] for s in segments] == comparison["population"].tolist()
    for row, seg in zip(comparison.to_dict("records"), segments, strict=True):
        assert seg["action"].endswith(f"among customers: {row['ratio']:.2f}x "
                                      f"({row['ratio_low']:.2f}-{row['ratio_high']:.2f})")
    # What sets a segment apart is told in the dictionary's words, as the report and
    # segments.csv tell it, and profiled by attribute: principal components mean nothing
    # to the reader.
    described = pd.read_csv(out / "segments.csv")
    assert [s["description"] for s in segments] == described["description"].tolist()
    for seg in segments:
        profile = store.profile(run["run_id"], "population", seg["segment"])
        assert profile and not any(p["feature"].startswith("pc_") for p in profile)
        assert profile[0]["feature"].partition(":")[0] in seg["description"]
        assert all(p["mean"] is not None for p in profile)
    # The dictionary the last run wrote, given back with the same folder, is an input.
    again = runner.invoke(app, [*args, "-d", str(out / "dictionary.toml")])
    assert again.exit_code == 1 and "is also an input of this run" in again.output


def test_population_refuses_more_segments_than_people(shared_data: Path, tmp_path: Path
                                                      ) -> None:
    source = shared_data / "kaggle-customer-personality" / "marketing_campaign.csv.gz"
    frame = pd.read_csv(source, sep="\t")
    frame.head(60).to_csv(tmp_path / "population.tsv", sep="\t", index=False)
    frame.head(20).to_csv(tmp_path / "customers.tsv", sep="\t", index=False)
    args = ["population", str(tmp_path / "population.tsv"), str(tmp_path / "customers.tsv"),
            "-o", str(tmp_path / "out"), "--no-report", "--exclude", "Response"]
    for extra, what in ((["--k", "90"], "90 segments. Fix: ask for at most 59 (--k)"),
                        (["--k-min", "70", "--k-max", "80"], "70 segments. Fix: ask for at "
                                                              "most 59 (--k-min or")):
        result = runner.invoke(app, [*args, *extra], terminal_width=300)
        assert result.exit_code == 1
        assert f"only 60 people are complete enough to place: too few for {what}" in (
            result.output.replace("\n", " "))
    result = runner.invoke(app, [*args, "--k", "1"])
    assert result.exit_code == 2 and "1 is not in the range 2<=x<=100" in result.output


def test_population_prints_styles_not_markup_tags(shared_data: Path, tmp_path: Path) -> None:
    # The console prints text as it is (markup off): the verdicts, headings and the
    # customers' column notices came out as "[red]under[/]", "[b]Customer rows[/]".
    source = shared_data / "uci-wholesale-customers" / "wholesale_customers_data.csv.gz"
    frame = pd.read_csv(source)
    customers = frame[frame["Channel"] == 2].assign(Extra=1)
    customers.iloc[:5, customers.columns.get_loc("Channel")] = 3     # a code never seen
    customers.to_csv(tmp_path / "customers.csv", index=False)
    result = runner.invoke(app, ["population", str(source), str(tmp_path / "customers.csv"),
                                 "-o", str(tmp_path / "out"), "--no-report", "--k", "3",
                                 "--exclude", "Region"], terminal_width=250)
    assert result.exit_code == 0, result.output
    assert "Segments in words" in result.output and "Customer rows" in result.output
    assert "customers, Extra: not declared in the dictionary" in result.output
    flat = " ".join(result.output.split())
    assert "customers, Channel: 5 undeclared code(s), 0 non-number(s), encoded" in flat
    assert re.search(r"│ (over|under|neither) +│", result.output)
    assert re.findall(r"\[/?[a-z]?\]", result.output) == []


@pytest.mark.parametrize("rows", [1, 2])
def test_population_of_one_or_two_people_is_one_line(shared_data: Path, tmp_path: Path,
                                                     rows: int) -> None:
    # One row gave numpy's "Degrees of freedom <= 0" warnings, then a fix about unknown codes.
    source = shared_data / "uci-wholesale-customers" / "wholesale_customers_data.csv.gz"
    pd.read_csv(source).head(rows).to_csv(tmp_path / "population.csv", index=False)
    result = runner.invoke(app, ["population", str(tmp_path / "population.csv"), str(source),
                                 "-o", str(tmp_path / "out"), "--no-report"],
                           terminal_width=300)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith(("error", "warn"))]
    assert lines == [f"error: {tmp_path / 'population.csv'}: only {rows} "
                     f"{'person' if rows == 1 else 'people'} in the population ({rows} "
                     f"row{'s' * (rows > 1)} read): too few to segment. Fix: give the whole "
                     "population (the customers go second)"]


def test_customers_all_removed_by_the_row_rules_is_one_line(shared_data: Path,
                                                            tmp_path: Path) -> None:
    # Every customer id on two different rows: all removed, then "both tables need at
    # least one row to compare", without the file, the cause or the fix.
    source = shared_data / "kaggle-customer-personality" / "marketing_campaign.csv.gz"
    frame = pd.read_csv(source, sep="\t")
    responders = frame[frame["Response"] == 1]
    pd.concat([responders, responders.assign(Recency=responders["Recency"] + 1)]).to_csv(
        tmp_path / "customers.csv", index=False)
    result = runner.invoke(app, ["population", str(source), str(tmp_path / "customers.csv"),
                                 "-o", str(tmp_path / "out"), "--no-report", "--k", "3",
                                 "--exclude", "Response"], terminal_width=300)
    assert result.exit_code == 1
    n = 2 * len(responders)
    assert _error_lines(result.output) == [
        f"error: {tmp_path / 'customers.csv'}: no customer left to compare ({n:,} rows read, "
        f"{n:,} removed: {n:,} repeated_id). Fix: see the reasons; give each customer one "
        "row (or no id column)"]


def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(("error", "warn"))]


def test_customers_that_cannot_be_read_as_the_population_are_one_line(
        shared_data: Path, tmp_path: Path) -> None:
    # A headerless customer file was named by the dictionary's order: with one column more
    # every name was off by one, no customer could be placed, and the comparison said
    # every segment was under-represented (0.00x). Values the model cannot read in every
    # row did the same.
    source = shared_data / "uci-wholesale-customers" / "wholesale_customers_data.csv.gz"
    frame = pd.read_csv(source)
    customers = frame[frame["Channel"] == 2]
    shifted = tmp_path / "shifted.csv"
    customers.assign(Extra=7)[["Extra", *frame.columns]].to_csv(shifted, header=False,
                                                                index=False)
    junk = tmp_path / "junk.csv"
    customers.assign(Fresh="n/a", Milk="?", Grocery="-", Frozen="", Detergents_Paper="x",
                     Delicassen="x").to_csv(junk, index=False)
    args = ["population", str(source), "-o", str(tmp_path / "out"), "--no-report", "--k", "3",
            "--exclude", "Channel,Region"]
    result = runner.invoke(app, [*args[:2], str(shifted), *args[2:]], terminal_width=400)
    assert result.exit_code == 1
    assert _error_lines(result.output) == [
        f"error: {shifted}: the file has no header and 9 columns, the dictionary 8 attributes "
        "without positions: which column is which is unknown. Fix: add the header line, or "
        "give each attribute its position in the dictionary"]
    result = runner.invoke(app, [*args[:2], str(junk), *args[2:]], terminal_width=400)
    assert result.exit_code == 1
    assert _error_lines(result.output)[-1] == (
        f"error: {junk}: none of the {len(customers)} customers has enough of the attributes "
        "the model uses to be placed (encoding_audit: Fresh 100% missing, Milk 100% missing, "
        "Grocery 100% missing). Fix: check that the customers' columns are the population's "
        "(names, header, codes)")
    # The same header-less file with exactly the population's columns is read by order.
    customers.to_csv(shifted, header=False, index=False)
    result = runner.invoke(app, [*args[:2], str(shifted), *args[2:]], terminal_width=400)
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "out" / "audit.csv").query(
        "table == 'customers' and step == 'kept'")["rows"].item() == len(customers)


def test_header_less_files_with_an_inferred_dictionary_match_by_column(
        shared_data: Path, tmp_path: Path) -> None:
    # Types inferred from a header-less population name its columns column_1, ...; a
    # column left out (free text) must not make the customers' columns unreadable.
    source = shared_data / "uci-wholesale-customers" / "wholesale_customers_data.csv.gz"
    frame = pd.read_csv(source)
    frame.insert(0, "Note", [f"visit {i}" for i in range(len(frame))])
    frame.to_csv(tmp_path / "population.csv", header=False, index=False)
    customers = frame[frame["Channel"] == 2]
    customers.to_csv(tmp_path / "customers.csv", header=False, index=False)
    result = runner.invoke(app, ["population", str(tmp_path / "population.csv"),
                                 str(tmp_path / "customers.csv"), "-o", str(tmp_path / "out"),
                                 "--no-report", "--k", "3"], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert "# not used: column_1: text with 440 distinct values" in (
        tmp_path / "out" / "dictionary.toml").read_text()
    assert pd.read_csv(tmp_path / "out" / "audit.csv").query(
        "table == 'customers' and step == 'kept'")["rows"].item() == len(customers)


def test_an_exclusion_that_matches_no_column_is_refused(shared_data: Path, tmp_path: Path
                                                        ) -> None:
    # "--exclude channel" (the file says Channel) was silently ignored: the column the
    # user meant to keep out of the segments was used.
    source = shared_data / "uci-wholesale-customers" / "wholesale_customers_data.csv.gz"
    frame = pd.read_csv(source)
    frame[frame["Channel"] == 2].assign(CUSTOMER_GROUP="single").to_csv(
        tmp_path / "customers.csv", index=False)
    args = ["population", str(source), str(tmp_path / "customers.csv"), "-o",
            str(tmp_path / "out"), "--no-report", "--k", "3", "--exclude"]
    result = runner.invoke(app, [*args, "channel,Fresh,Milkk"], terminal_width=400)
    assert result.exit_code == 1
    assert _error_lines(result.output) == [
        f"error: exclude (--exclude, [people] exclude) 'channel', 'Milkk' matches no column "
        f"of {source} (did you mean 'Channel'?); the column would be used. Fix: give the "
        "column's name as the file writes it (case matters), or a pattern such as 'P*'"]
    # A pattern for the customers' own columns is fine (they are never used).
    result = runner.invoke(app, [*args, "Channel,CUSTOMER_*"], terminal_width=400)
    assert result.exit_code == 0, result.output


def test_numbers_in_the_file_s_notation(shared_data: Path, tmp_path: Path) -> None:
    # "12,669" (thousands) or "1809,86" (decimal comma): [read] thousands / decimal were
    # applied to role columns only, so a people attribute stayed text, and inference left
    # it out as "an identifier, a date or free text".
    source = shared_data / "uci-wholesale-customers" / "wholesale_customers_data.csv.gz"
    frame = pd.read_csv(source)
    local = frame.assign(Fresh=frame["Fresh"].map("{:,}".format).str.replace(",", " "),
                         Milk=(frame["Milk"] / 4).map(lambda v: f"{v:,.2f}"))
    local = local.assign(Milk=local["Milk"].str.replace(",", " ").str.replace(".", ","))
    local.to_csv(tmp_path / "local.csv", sep=";", index=False)
    plain = frame.assign(Milk=(frame["Milk"] / 4).round(2))
    plain.to_csv(tmp_path / "plain.csv", sep=";", index=False)
    args = ["--no-report", "--k", "3", "--exclude", "Channel,Region"]
    bare = runner.invoke(app, ["population", str(tmp_path / "local.csv"),
                               str(tmp_path / "local.csv"), "-o", str(tmp_path / "bare"),
                               *args])
    assert bare.exit_code == 0, bare.output
    notes = (tmp_path / "bare" / "dictionary.toml").read_text()
    assert ("# not used: Fresh: numbers in another notation (433 distinct values, such as "
            "12,669 or 3,5): set [read] decimal and thousands") in notes
    assert local["Fresh"].str.contains(" ").any()
    assert "# not used: Milk: numbers in another notation" in notes
    config = tmp_path / "segwise.toml"
    config.write_text('[read]\ndelimiter = ";"\ndecimal = ","\nthousands = " "\n')
    outs = []
    for name in ("local", "plain"):
        done = runner.invoke(app, ["population", str(tmp_path / f"{name}.csv"),
                                   str(tmp_path / f"{name}.csv"), "-o", str(tmp_path / name),
                                   "-c", str(config), *args])
        assert done.exit_code == 0, done.output
        outs.append(pd.read_parquet(tmp_path / name / "assignments.parquet"))
    pd.testing.assert_frame_equal(outs[0], outs[1])
    columns = pd.read_csv(tmp_path / "local" / "columns.csv").set_index("column")
    assert columns.loc[["Fresh", "Milk"], "status"].tolist() == ["used", "used"]
    assert columns.loc[["Fresh", "Milk"], "missing_share"].tolist() == [0, 0]


@pytest.mark.parametrize(("case", "said"), [
    ("holes", "every attribute is missing too often to be used: the threshold is 10.0% of "
              "rows, the least missing are "),
    ("blank", "the file has no rows but 440 blank ones"),
    ("ids only", "no column can be read as an attribute (Channel: blank in every row"),
    ("excluded", "every attribute of the data is excluded (Channel, Region, Fresh, Milk, "),
    # The id column alone passed with no attribute; the customers were refused instead,
    # 'none of the 0 dictionary attributes is a column (columns found: )'.
    ("id column alone", "no column besides 'id' can be read as an attribute. Fix: check the "
                        "file"),
])
def test_a_population_with_no_attribute_to_use_is_one_line(shared_data: Path, tmp_path: Path,
                                                           case: str, said: str) -> None:
    # It said "no attribute is left to encode (none declared in the data, or all missing
    # too often)" without the file, the columns or which; a population blank in every
    # column was refused as "cust.csv: none of the 0 dictionary attributes is a column".
    # Blank in every column, ids too, it is a file of blank rows only, refused as such.
    source = shared_data / "uci-wholesale-customers" / "wholesale_customers_data.csv.gz"
    frame = pd.read_csv(source, dtype=str)
    rng = np.random.default_rng(0)
    if case == "holes":
        frame = frame.mask(rng.random(frame.shape) < 0.3)
    elif case != "excluded":
        frame.loc[:, :] = None
    if case in ("ids only", "id column alone"):
        frame.insert(0, "id", [f"P{i:04d}" for i in range(len(frame))])
    if case == "id column alone":
        frame = frame[["id"]]
    population = tmp_path / "population.csv"
    frame.to_csv(population, index=False)
    config = tmp_path / "segwise.toml"
    config.write_text("[people]\ncolumn_threshold = 0.1\n")
    result = runner.invoke(app, ["population", str(population), str(source), "-o",
                                 str(tmp_path / "out"), "--no-report", "--k", "2",
                                 "--config", str(config),
                                 *(["--exclude", "*"] if case == "excluded" else [])],
                           terminal_width=400)
    assert result.exit_code == 1
    lines = _error_lines(result.output)
    assert len(lines) == 1 and lines[0].startswith(f"error: {population}: {said}"), lines


def test_customers_naming_a_column_in_another_case_are_told_so(shared_data: Path,
                                                               tmp_path: Path) -> None:
    # "lacks attribute(s) the population's model uses: Fresh" of a file whose header says
    # "fresh": the user looks at the column and sees it there.
    source = shared_data / "uci-wholesale-customers" / "wholesale_customers_data.csv.gz"
    frame = pd.read_csv(source)
    customers = tmp_path / "customers.csv"
    frame[frame["Channel"] == 2].rename(columns={"Fresh": "fresh"}).to_csv(customers,
                                                                             index=False)
    result = runner.invoke(app, ["population", str(source), str(customers), "-o",
                                 str(tmp_path / "out"), "--no-report", "--k", "2",
                                 "--exclude", "Channel,Region"], terminal_width=400)
    assert result.exit_code == 1
    assert _error_lines(result.output) == [
        f"error: {customers}: lacks attribute(s) the population's model uses: Fresh (the "
        "file writes fresh: names are compared with their case). Fix: add the column(s), or "
        "leave them out of the model ([people] exclude, --exclude)"]


@pytest.mark.parametrize(("rows", "k", "said"), [
    # Alike in everything: PCA divided by a zero variance, and --k 3 gave one segment
    # and two "not in the described sample".
    ([0] * 6, 3, "the 6 people complete enough to place are alike in every attribute used"),
    ([0] * 5 + [1] * 5, 3, "the 10 people placed are only 2 different people in the "
                           "attributes used: too few for 3 segments. Fix: ask for at most 2 "
                           "(--k)"),
    # Six different people: fine, and without scikit-learn's warning about the relevance
    # forest's "low number (6) of bootstrap samples".
    ([0, 1, 2, 3, 4, 5], 2, None),
])
def test_a_population_of_few_different_people(shared_data: Path, tmp_path: Path,
                                               rows: list[int], k: int,
                                               said: str | None) -> None:
    source = shared_data / "uci-wholesale-customers" / "wholesale_customers_data.csv.gz"
    frame = pd.read_csv(source)
    population = tmp_path / "population.csv"
    frame.iloc[rows].to_csv(population, index=False)
    result = runner.invoke(app, ["population", str(population), str(source), "-o",
                                 str(tmp_path / "out"), "--no-report", "--k", str(k),
                                 "--exclude", "Channel,Region"], terminal_width=400)
    lines = _error_lines(result.output)
    if said is None:
        assert result.exit_code == 0 and lines == [], result.output
    else:
        assert result.exit_code == 1 and len(lines) == 1, result.output
        assert lines[0].startswith(f"error: {population}: {said}"), lines


#: Wholesale Customers' six spending columns.
WHOLESALE_AMOUNTS = ["Fresh", "Milk", "Grocery", "Frozen", "Detergents_Paper", "Delicassen"]


def _numeric_dictionary(path: Path, attributes: list[str]) -> Path:
    """Write a feature dictionary declaring ``attributes`` numeric; return its path."""
    path.write_text("attribute,type\n" + "".join(f"{c},numeric\n" for c in attributes))
    return path


def test_values_that_are_not_numbers_are_reported_apart_from_blanks(shared_data: Path,
                                                                    tmp_path: Path) -> None:
    # "abc" in a numeric attribute was typed to NULL on the engine and counted as blank;
    # the population's unreadable values were printed nowhere.
    source = shared_data / "uci-wholesale-customers" / "wholesale_customers_data.csv.gz"
    frame = pd.read_csv(source, dtype=str)
    frame.loc[:4, "Fresh"] = ["abc", "n/a", "1,5", "inf", "12e99"]
    frame.loc[5:7, "Fresh"] = ""
    population = tmp_path / "population.csv"
    frame.to_csv(population, index=False)
    dictionary = _numeric_dictionary(tmp_path / "d.csv", WHOLESALE_AMOUNTS)
    result = runner.invoke(app, ["population", str(population), str(source), "-d",
                                 str(dictionary), "-o", str(tmp_path / "out"), "--no-report",
                                 "--k", "2"], terminal_width=400)
    assert result.exit_code == 0, result.output
    assert ("population, Fresh: 0 undeclared code(s), 5 non-number(s), encoded as missing"
            in result.output)
    # One number in another notation among 440 rows: a warning naming the fix.
    assert (f"warning: {population}: column 'Fresh': 1 value such as '1,5' are read as "
            "missing" in result.output)
    columns = pd.read_csv(tmp_path / "out" / "columns.csv").set_index("column")
    assert columns.loc["Fresh", ["blank", "not_a_number"]].tolist() == [3, 5]


def test_dictionary_attributes_the_population_lacks_are_named(shared_data: Path,
                                                              tmp_path: Path) -> None:
    # A dictionary declaring columns the file does not have: the steps table counted them
    # ('not in the data 2') and only columns.csv named them.
    source = shared_data / "uci-wholesale-customers" / "wholesale_customers_data.csv.gz"
    dictionary = _numeric_dictionary(tmp_path / "d.csv", ["Fresh", "Milk", "Grocery", "Loyalty",
                                                          "Frozen", "Tenure"])
    result = runner.invoke(app, ["population", str(source), str(source), "-d",
                                 str(dictionary), "-o", str(tmp_path / "out"), "--no-report",
                                 "--k", "2"], terminal_width=400)
    assert result.exit_code == 0, result.output
    assert ("population: 2 attribute(s) of the dictionary not in the file, not used: "
            "Loyalty, Tenure (columns.csv)" in result.output)
    complete = _numeric_dictionary(tmp_path / "complete.csv", ["Fresh", "Milk"])
    result = runner.invoke(app, ["population", str(source), str(source), "-d",
                                 str(complete), "-o", str(tmp_path / "out2"), "--no-report",
                                 "--k", "2"], terminal_width=400)
    assert result.exit_code == 0, result.output
    assert "not in the file" not in result.output


def test_customers_exported_with_a_decimal_comma_are_refused_with_the_fix(
        shared_data: Path, tmp_path: Path) -> None:
    # Customers saved by a spreadsheet in another locale (semicolons, a BOM, CRLF, columns
    # in another order, one column more, 40,5 for 40.5): every fraction of a numeric
    # attribute was encoded as missing, "N non-number(s)" the only sign, and the people
    # missing it came out as an over-represented "too sparse" line.
    source = shared_data / "uci-wholesale-customers" / "wholesale_customers_data.csv.gz"
    frame = pd.read_csv(source)
    frame["Milk"] = frame["Milk"] / 4
    population = tmp_path / "population.csv"
    frame.to_csv(population, index=False)
    customers = frame[frame["Channel"] == 2]
    reordered = customers[list(reversed(frame.columns))].assign(Note="x")
    text = reordered.to_csv(sep=";", decimal=",", index=False).replace("\n", "\r\n")
    export = tmp_path / "customers.csv"
    export.write_bytes(b"\xef\xbb\xbf" + text.encode())
    dictionary = _numeric_dictionary(tmp_path / "d.csv", WHOLESALE_AMOUNTS)
    args = ["-d", str(dictionary), "--no-report", "--k", "3"]
    result = runner.invoke(app, ["population", str(population), str(export), "-o",
                                 str(tmp_path / "out"), *args], terminal_width=400)
    assert result.exit_code == 1
    assert _error_lines(result.output) == [  # a float column: 7057,0 too
        f"error: {export}: column 'Milk': {len(customers)} values such as '1006,25' would be "
        "read as "
        "missing, not as numbers. Likely cause: numbers written with a decimal comma? Fix: "
        'set [read] decimal = ","; or raise [read] max_quarantine_share '
        "to read them as missing"]
    config = tmp_path / "segwise.toml"
    config.write_text('[read]\ndecimal = ","\n')
    outs = []
    for name, path in (("export", export), ("plain", tmp_path / "plain.csv")):
        customers.to_csv(tmp_path / "plain.csv", index=False)
        done = runner.invoke(app, ["population", str(population), str(path), "-o",
                                   str(tmp_path / name), "-c", str(config), *args],
                             terminal_width=400)
        assert done.exit_code == 0, done.output
        outs.append(pd.read_csv(tmp_path / name / "comparison.csv"))
    pd.testing.assert_frame_equal(outs[0], outs[1])
    assert outs[0]["customers"].sum() == len(customers)
