"""Each cleaning rule, the audit's reconciliation, and the Online Retail figures."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from segwise.clean import CleaningRules, clean_transactions
from segwise.clean._memory import _prefixed_number as _memory_prefixed_number
from segwise.clean._rules import (
    _id_tests,
    _is_product,
    _no_match_begins_with_a_digit,
    _non_product_regex,
    _prefixed_number,
    _weighted_median,
    upper_character,
)
from segwise.exceptions import ConfigError
from segwise.io import ReadOptions, load_transactions
from segwise.io._parse import begins_with_digit
from segwise.jobs import run_rfm

COLUMNS = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]


def _lines(rows: list[tuple], tmp_path: Path, name: str = "lines.parquet") -> Path:
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["InvoiceDate"] = pd.to_datetime(df["InvoiceDate"])
    df["Quantity"] = df["Quantity"].astype("int64")
    df["UnitPrice"] = df["UnitPrice"].astype("float64")
    path = tmp_path / name
    df.to_parquet(path)
    return path


BASE = [
    ("1001", "85123A", "HEART", 6, "2011-01-03 10:00", 2.5, "1", "UK"),
    ("1001", "71053", "LANTERN", 2, "2011-01-03 10:00", 3.0, "1", "UK"),
    ("1002", "85123A", "HEART", 4, "2011-02-01 09:00", 2.5, "2", "UK"),
]


def _audit(rows: list[tuple], tmp_path: Path, **rules: object) -> pd.Series:
    cleaned = clean_transactions(
        load_transactions(_lines(rows, tmp_path)),
        CleaningRules(**rules),  # type: ignore[arg-type]
    )
    return cleaned.audit().set_index("step")["rows"]


@pytest.mark.parametrize(
    ("extra", "rule", "switch"),
    [
        (
            ("1003", "22000", "X", 1, "2011-03-01 09:00", 1.0, None, "UK"),
            "missing_customer_id",
            {"missing_customer_id": False},
        ),
        (BASE[0], "duplicate_line", {"duplicates": False}),
        (
            ("A1004", "22000", "Adjust bad debt", 1, "2011-03-01 09:00", 100.0, "2", "UK"),
            "bad_debt_adjustment",
            {"bad_debt_adjustments": False},
        ),
        (
            ("1005", "POST", "POSTAGE", 1, "2011-03-01 09:00", 18.0, "2", "UK"),
            "non_product",
            {"non_product": "keep"},
        ),
        (
            ("1006", "gift_0001_20", "VOUCHER", 1, "2011-03-01 09:00", 17.0, "2", "UK"),
            "non_product",
            {"non_product": "keep"},
        ),
        (
            ("1007", "22000", "X", 0, "2011-03-01 09:00", 1.0, "2", "UK"),
            "zero_quantity",
            {"zero_quantity": False},
        ),
        (
            ("1008", "22000", "X", 3, "2011-03-01 09:00", 0.0, "2", "UK"),
            "non_positive_price",
            {"non_positive_price": False},
        ),
    ],
)
def test_each_rule_removes_its_line_and_can_be_switched_off(
    extra: tuple, rule: str, switch: dict, tmp_path: Path
) -> None:
    audit = _audit([*BASE, extra], tmp_path)
    assert audit[rule] == 1
    assert audit["kept"] == 3
    assert audit.sum() == 4
    off = _audit([*BASE, extra], tmp_path, **switch)
    assert off[rule] == 0
    assert off["kept"] == 4


def test_non_product_codes_match_whole_codes_in_any_case_symbols_literally(
    tmp_path: Path,
) -> None:
    codes = ["bank charges", "BANK CHARGES", "BANKxCHARGES", "c+2", "C2", "CC2", "A.B", "AxB"]
    rows = [
        (f"20{i:02d}", code, "X", 1, "2011-03-01 09:00", 5.0, "2", "UK")
        for i, code in enumerate(codes)
    ]
    rules = CleaningRules(non_product_codes=("BANK CHARGES", "C+2", "A.B"))
    lines = clean_transactions(load_transactions(_lines(rows, tmp_path)), rules).lines
    flags = lines.to_pandas().set_index("product_id")["is_product"]
    assert not flags[["bank charges", "BANK CHARGES", "c+2", "A.B"]].any()
    assert flags[["BANKxCHARGES", "C2", "CC2", "AxB"]].all()


_PATTERNS = [r"^gift_\d+_\d+$", r"^\d{3}$", r"\d", r"^g?\d", r"^gift|7", r"(?m)^gift",
             r"^(gift)", r"\Agift", r"^[g7]", r"(?i)^G1", r"^ 7", ""]


@settings(max_examples=60, deadline=None)
@given(codes=st.lists(st.text("PO7st ", min_size=1, max_size=4), max_size=3),
       pattern=st.sampled_from(_PATTERNS),
       ids=st.lists(st.one_of(st.none(), st.text("g7ift_0P\nO ", max_size=8)), min_size=1,
                    max_size=40))
def test_product_ids_beginning_with_a_digit_skip_the_regex_only_when_none_can_match(
    codes: list[str], pattern: str, ids: list[str | None]
) -> None:
    # Ids beginning with a digit skip the regular expression when no code or pattern can
    # match one: the answer must be the regular expression's, for any codes and patterns.
    rules = CleaningRules(non_product_codes=tuple(codes), non_product_pattern=pattern)
    t = ibis.memtable({"product_id": ids}, schema={"product_id": "string"})
    regex = _non_product_regex(rules)
    want = (~t.product_id.re_search(regex).fill_null(False)) if regex else ibis.literal(True)
    got = t.select(got=_is_product(t.product_id, rules=rules), want=want).to_pyarrow().to_pydict()
    assert got["got"] == got["want"]


@settings(max_examples=60, deadline=None)
@example(prefixes=("5",), ids=["50", "c5", None])
@example(prefixes=("C",), ids=["c5", "5", "C", "ca5", " C5"])
@example(prefixes=("ß",), ids=["ß0", "ẞ0", "ss0"])  # DuckDB's UPPER('ß') is 'ẞ'
@given(prefixes=st.sampled_from([("C",), ("A", "C"), ("5",), ("CA",), ("ß",), ("ẞ",)]),
       ids=st.lists(st.one_of(st.none(), st.text("Cc5A0aßẞᾀ- ", max_size=6)), min_size=1,
                    max_size=40))
def test_prefixed_order_ids_are_found_as_the_in_memory_rules_find_them(
    prefixes: tuple[str, ...], ids: list[str | None]
) -> None:
    # Ids beginning with a digit are tested before being put in capitals, unless a prefix
    # begins with one; the answer must stay the in-memory rules' (as DuckDB's UPPER reads).
    t = ibis.memtable({"order_id": ids}, schema={"order_id": "string"})
    got = t.select(got=_prefixed_number(t.order_id, prefixes=prefixes)).to_pyarrow()
    got = got["got"].to_pylist()
    assert got == [i is not None and _memory_prefixed_number(i, prefixes) for i in ids]


_ID_TEXT = st.one_of(st.none(), st.text("Ca5 .0\t,", max_size=7),
                    st.sampled_from(["536365", " 536365", "536365 ", "536365.0", "C536379",
                                     " C5", "A5", "5.00", "1,5", "POST", " 7", ""]))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=st.lists(st.tuples(_ID_TEXT, _ID_TEXT), min_size=1, max_size=30),
       decimal=st.sampled_from([".", ","]),
       codes=st.sampled_from([(), ("POST",), ("7",)]))
def test_tests_of_ids_taken_of_the_source_answer_as_of_the_parsed_ids(
    ids: list[tuple[str | None, str | None]], decimal: str, codes: tuple[str, ...],
    tmp_path: Path,
) -> None:
    # Typed sources test order and product ids of the source values, told whether each
    # begins with a digit, so that most skip the parse: every answer must be the parsed
    # id's, whatever blanks, float ".0" or decimal commas the source holds.
    rows = [(order, product, "X", 1, "2011-01-03 10:00", 1.0, "1", "UK")
            for order, product in ids]
    tx = load_transactions(_lines(rows, tmp_path), read=ReadOptions(decimal=decimal))
    rules = CleaningRules(non_product_codes=codes, cancellation_prefixes=("C", "5"))
    # The claim the rules' tests rest on: a source value that begins with a digit parses so.
    def claim(text: ibis.Value, digit: ibis.Value) -> ibis.Value:
        return ibis.ifelse(digit, True, begins_with_digit(text))

    tests = {**_id_tests(rules), "_order_digit": ("order_id", claim),
             "_product_digit": ("product_id", claim)}
    got = tx.tested_lines(tests).to_pyarrow().to_pydict()
    parsed = tx.attributed_lines()
    want = parsed.select(**{
        name: begins_with_digit(parsed[role]) if test is claim else test(parsed[role], None)
        for name, (role, test) in tests.items()
    }).to_pyarrow().to_pydict()
    for name, column in want.items():
        assert got[name] == column, name


def test_the_in_memory_upper_case_is_duckdbs_for_every_character() -> None:
    # The in-memory rules compare order ids in capitals as DuckDB writes them, one
    # character for one (Python's upper makes "ß" "SS", DuckDB "ẞ"): over all of Unicode.
    chars = [chr(i) for i in range(sys.maxunicode + 1) if not 0xD800 <= i < 0xE000]
    engine = duckdb.execute("SELECT upper(c) FROM (SELECT unnest($1::VARCHAR[]) AS c)",
                            [chars]).fetchall()
    assert [u for (u,) in engine] == [upper_character(c) for c in chars]


def test_the_default_rules_skip_the_regex_for_ids_beginning_with_a_digit() -> None:
    assert _no_match_begins_with_a_digit(CleaningRules())
    assert not _no_match_begins_with_a_digit(CleaningRules(non_product_codes=("POST", "1X")))
    assert not _no_match_begins_with_a_digit(CleaningRules(non_product_pattern=r"^g?\d"))


def test_copies_of_lines_without_id_count_as_missing_id_not_as_duplicates(
    tmp_path: Path,
) -> None:
    no_id = ("1003", "22000", "X", 2, "2011-03-01 09:00", 1.5, None, "UK")
    audit = clean_transactions(load_transactions(_lines([*BASE, BASE[0], no_id, no_id, no_id],
                                                        tmp_path))).audit().set_index("step")
    assert audit.loc["missing_customer_id", "rows"] == 3
    assert audit.loc["missing_customer_id", "revenue"] == pytest.approx(9.0)
    assert audit.loc["duplicate_line", "rows"] == 1
    assert audit.loc["duplicate_line", "revenue"] == pytest.approx(15.0)
    assert audit.loc["kept", "rows"] == 3
    assert audit["rows"].sum() == 7


def test_copies_of_a_bad_row_are_each_quarantined_and_the_audit_reconciles(
    tmp_path: Path,
) -> None:
    bad = ("1010", "22000", "X", 1, None, 1.0, "2", "UK")  # no timestamp
    no_id = ("1003", "22000", "X", 2, "2011-03-01 09:00", 1.5, None, "UK")
    rows = [*BASE, BASE[0], BASE[0], bad, bad, bad, no_id, no_id]
    tx = load_transactions(_lines(rows, tmp_path), read=ReadOptions(max_quarantine_share=0.5))
    assert tx.n_quarantined == 3
    steps = ["quarantined", "missing_customer_id", "duplicate_line", "kept"]
    audit = clean_transactions(tx).audit().set_index("step")["rows"]
    assert audit[steps].tolist() == [3, 2, 2, 3]
    assert audit.sum() == len(rows)
    # Kept without an id, the copies of the line without one are duplicates too.
    rules = CleaningRules(missing_customer_id=False)
    audit = clean_transactions(tx, rules).audit().set_index("step")["rows"]
    assert audit[steps].tolist() == [3, 0, 3, 4]
    assert audit.sum() == len(rows)


def test_cancellations_net_drop_or_keep(tmp_path: Path) -> None:
    cancel = ("C1009", "85123A", "HEART", -2, "2011-02-02 09:00", 2.5, "2", "UK")
    rows = [*BASE, cancel]
    net = run_rfm(_lines(rows, tmp_path)).customers.set_index("customer_id")
    assert net.loc["2", "frequency"] == 1  # a cancellation is never an order
    assert net.loc["2", "monetary"] == pytest.approx(10.0 - 5.0)
    assert net.loc["2", "returns_value"] == pytest.approx(5.0)
    assert _audit(rows, tmp_path)["kept"] == 4
    dropped = _audit(rows, tmp_path, cancellations="drop")
    assert dropped["cancellation"] == 1 and dropped["kept"] == 3


def test_only_a_prefix_followed_by_digits_marks_a_cancellation_or_adjustment(
        tmp_path: Path) -> None:
    # Superstore's order ids begin with a state code (CA-, US-) and UUIDs with any hex
    # letter: those are orders. Online Retail's C536379 and A563185 are not.
    rows = [
        ("CA-2016-152156", "FUR-BO-10001798", "BOOKCASE", 2, "2011-02-02 09:00", 130.98, "3",
         "US"),
        ("a0e1f2c3-9d4b-4c1e-8f00-3b2a1c0d9e8f", "85123A", "HEART", 1, "2011-02-03 09:00",
         2.5, "3", "UK"),
        ("c3f2ab90-1d2e-4f5a-9b8c-7d6e5f4a3b2c", "85123A", "HEART", 1, "2011-02-04 09:00",
         2.5, "3", "UK"),
        ("C536379", "85123A", "HEART", -1, "2011-02-05 09:00", 2.5, "3", "UK"),
        ("A563185", "B", "Adjust bad debt", 1, "2011-02-06 09:00", 11062.06, "3", "UK"),
    ]
    audit = _audit(rows, tmp_path, cancellations="drop")
    assert audit["cancellation"] == 1 and audit["bad_debt_adjustment"] == 1
    assert audit["kept"] == 3
    # Prefixes are compared in capitals as the ids are: "c" and "a" are the same rules
    # (they used to match nothing, ids being upper-cased and prefixes not).
    lower = _audit(rows, tmp_path, cancellations="drop", cancellation_prefixes=("c",),
                   adjustment_prefixes=("a",))
    assert lower.to_dict() == audit.to_dict()
    customer = run_rfm(_lines(rows, tmp_path)).customers.set_index("customer_id").loc["3"]
    assert customer["frequency"] == 3


def test_lines_of_customers_with_only_returns_have_their_own_step(tmp_path: Path) -> None:
    returns = [("C1011", "85123A", "HEART", -3, "2011-02-02 09:00", 2.5, "9", "UK"),
               ("C1012", "71053", "LANTERN", -1, "2011-02-03 09:00", 3.0, "9", "UK")]
    path = _lines([*BASE, *returns], tmp_path)
    result = run_rfm(path)
    audit = result.audit.set_index("step")
    assert audit.loc["no_purchase", "rows"] == 2
    assert audit.loc["no_purchase", "revenue"] == pytest.approx(-10.5)
    assert audit.loc["kept", "rows"] == 3
    assert "9" not in set(result.customers["customer_id"])
    assert (result.entities.n_input_entities, result.entities.n_entities) == (3, 2)
    # The cleaned lines' own audit says the same as the job's.
    alone = clean_transactions(load_transactions(path)).audit()
    pd.testing.assert_frame_equal(alone, result.audit)


def test_extreme_outlier_pair_is_removed(tmp_path: Path) -> None:
    normal = [
        (f"2{i:03d}", "22000", "X", q, f"2011-0{1 + i % 9}-01 09:00", 1.0, str(i % 7), "UK")
        for i, q in enumerate([1, 2, 3, 4, 6, 6, 12, 12, 24, 2, 3, 6, 8, 10, 1, 4] * 4)
    ]
    big = ("3000", "23166", "JAR", 74215, "2011-01-18 10:01", 1.04, "12346", "UK")
    undo = ("C3001", "23166", "JAR", -74215, "2011-01-18 10:17", 1.04, "12346", "UK")
    audit = _audit([*normal, big, undo], tmp_path)
    assert audit["extreme_outlier"] == 2
    assert _audit([*normal, big, undo], tmp_path, outliers=False)["extreme_outlier"] == 0


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(quantities=st.lists(st.integers(-5000, 5000).filter(bool), min_size=1, max_size=40),
       max_z=st.sampled_from([0.5, 1.0, 2.0, 3.5, 8.0]))
def test_extreme_lines_are_those_whose_robust_z_score_is_above_the_threshold(
    quantities: list[int], max_z: float, tmp_path: Path
) -> None:
    # The threshold is taken back to a quantity once; the lines it flags must be those the
    # documented z-score flags, (log|q| - median) / (1.4826 * MAD) > max_z.
    rows = [(f"{i}", "22000", "X", q, "2011-01-03 10:00", 1.0, "1", "UK")
            for i, q in enumerate(quantities)]
    cleaned = clean_transactions(load_transactions(_lines(rows, tmp_path)),
                                 CleaningRules(outlier_max_z=max_z))
    lines = cleaned.lines.to_pandas()
    log_q = np.log(np.abs(lines["quantity"].to_numpy()))
    purchases = np.log(np.array([q for q in quantities if q > 0], dtype="float64"))
    stats = cleaned.outlier_stats
    if not len(purchases):
        assert stats == {}
    else:
        median = float(np.median(purchases))
        mad = float(np.median(np.abs(purchases - median)))
        assert stats["median_log_quantity"] == pytest.approx(median)
        assert stats["mad_log_quantity"] == pytest.approx(mad)
    mad = stats.get("mad_log_quantity", 0.0)
    z = (log_q - stats.get("median_log_quantity", 0.0)) / (1.4826 * mad) if mad else 0 * log_q
    near = np.isclose(z, max_z, rtol=1e-9)
    flagged = (lines["_reason"] == "extreme_outlier").to_numpy()
    assert (flagged == (z > max_z))[~near].all()


def test_invalid_rule_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="cancellations"):
        CleaningRules(cancellations="maybe")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="outlier_max_z"):
        CleaningRules(outlier_max_z=0)
    # An empty prefix would make every order id of digits a cancellation.
    with pytest.raises(ConfigError, match=r"cancellation_prefixes.*an empty prefix"):
        CleaningRules(cancellation_prefixes=("C", ""))
    assert CleaningRules(adjustment_prefixes=["adj", "A", "ADJ"]).adjustment_prefixes == (
        "ADJ", "A")


@pytest.mark.slow
def test_online_retail_audit_reconciles_and_common_cleaning_gives_4338(retail_csv: Path) -> None:
    tx = load_transactions(retail_csv)
    assert tx.n_input == 541_909
    common = CleaningRules(cancellations="drop", non_product="keep", outliers=False)
    cleaned = clean_transactions(tx, common)
    audit = cleaned.audit().set_index("step")
    assert audit["rows"].sum() == 541_909
    assert audit.loc["missing_customer_id", "rows"] == 135_080
    assert cleaned.kept.customer_id.nunique().execute() == 4_338
    default = clean_transactions(tx).audit().set_index("step")["rows"]
    assert default.sum() == 541_909
    # Figures the docs explain line by line (docs/cleaning.md).
    assert default.to_dict() == {
        "quarantined": 0,
        "after_as_of": 0,
        "missing_customer_id": 135_080,
        "duplicate_line": 5_225,
        "bad_debt_adjustment": 0,
        "cancellation": 0,
        "non_product": 1_911,
        "zero_quantity": 0,
        "non_positive_price": 34,
        "extreme_outlier": 4,
        # 33 customers whose only lines are returns of orders before the data: no row.
        "no_purchase": 99,
        "kept": 399_556,
    }


# --- properties -------------------------------------------------------------------------

line = st.tuples(
    st.sampled_from(["5001", "5002", "5003", "C5004", "A5005", "5006"]),
    st.sampled_from(["85123A", "71053", "POST", "22000"]),
    st.just("ITEM"),
    st.integers(-5, 12),
    st.sampled_from(["2011-01-03 10:00", "2011-02-01 09:00", "2011-05-05 12:30"]),
    st.sampled_from([0.0, 1.25, 2.5, 3.0, -1.0]),
    st.sampled_from(["1", "2", "3", None]),
    st.just("UK"),
)
cases = st.lists(line, min_size=1, max_size=30).flatmap(
    lambda rows: st.tuples(st.just(rows), st.permutations(rows))
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=cases, policy=st.sampled_from(["net", "drop"]))
def test_row_order_never_changes_the_result_and_the_audit_reconciles(
    case: tuple[list[tuple], list[tuple]], policy: str, tmp_path: Path
) -> None:
    rows, shuffled = case
    config_rules = CleaningRules(cancellations=policy)  # type: ignore[arg-type]
    results = []
    for name, data in (("a.parquet", rows), ("b.parquet", shuffled)):
        tx = load_transactions(_lines(data, tmp_path, name))
        cleaned = clean_transactions(tx, config_rules)
        audit = cleaned.audit()
        assert audit["rows"].sum() == len(rows)
        kept = cleaned.kept.to_pandas()
        results.append((audit, kept.sort_values(list(kept.columns), ignore_index=True)))
    pd.testing.assert_frame_equal(results[0][0], results[1][0])
    pd.testing.assert_frame_equal(results[0][1], results[1][1])


@given(
    st.lists(
        st.tuples(st.floats(-50, 50, allow_nan=False), st.integers(1, 20)), min_size=1, max_size=40
    )
)
def test_outlier_median_from_the_histogram_equals_the_median_of_all_lines(
    pairs: list[tuple[float, int]],
) -> None:
    values = np.array([v for v, _ in pairs])
    counts = np.array([c for _, c in pairs])
    assert _weighted_median(values, counts) == pytest.approx(np.median(np.repeat(values, counts)))
