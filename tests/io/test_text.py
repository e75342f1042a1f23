"""Text files in any line endings, byte-order marks, encodings, blanks and number notation."""

from __future__ import annotations

import contextlib
import gzip
import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segwise.exceptions import ConfigError, InputError
from segwise.io import ReadOptions, Transactions, load_transactions
from segwise.io._text import number_hint

_ENDINGS = ("\n", "\r\n", "\r")
#: Encodings a file may come in; all but plain UTF-8 start with a byte-order mark.
_ENCODINGS = ("utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "utf-32-le")

_SETTINGS = settings(max_examples=20, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


def _canonical(tx: Transactions) -> pd.DataFrame:
    df = tx.table.to_pandas()
    return df.sort_values(list(df.columns), ignore_index=True)


@pytest.fixture(scope="module")
def lines(retail_sample: pd.DataFrame) -> list[str]:
    """A header and 300 Online Retail lines as CSV text, one accented description among them."""
    sample = retail_sample.head(300).copy()
    sample.loc[5, "Description"] = "CRÈME BRÛLÉE SET, 4 RAMEKINS"
    return sample.to_csv(index=False, lineterminator="\n").splitlines()


@pytest.fixture(scope="module")
def reference(lines: list[str], tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    path = tmp_path_factory.mktemp("lf") / "lf.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tx = load_transactions(path)
    assert (tx.n_input, tx.n_quarantined) == (300, 0)
    return _canonical(tx)


@_SETTINGS
@given(
    endings=st.lists(st.sampled_from(_ENDINGS), min_size=301, max_size=301),
    encoding=st.sampled_from(_ENCODINGS),
    compressed=st.booleans(),
)
def test_any_mix_of_line_endings_and_byte_order_marks_reads_the_same_table(
    lines: list[str], reference: pd.DataFrame, tmp_path: Path,
    endings: list[str], encoding: str, compressed: bool,
) -> None:
    text = "".join(line + end for line, end in zip(lines, endings, strict=True))
    bom = "" if encoding.startswith("utf-8") else "\ufeff"
    data = (bom + text).encode(encoding)
    path = tmp_path / ("mixed.csv.gz" if compressed else "mixed.csv")
    path.write_bytes(gzip.compress(data) if compressed else data)
    tx = load_transactions(path)
    assert (tx.n_input, tx.n_quarantined) == (300, 0)
    pd.testing.assert_frame_equal(_canonical(tx), reference)


@pytest.fixture(scope="module")
def cdnow_rows(cdnow_raw: pd.DataFrame) -> pd.DataFrame:
    return cdnow_raw.head(200)


@_SETTINGS
@given(data=st.data())
def test_blank_separated_columns_read_alike_whatever_the_blanks(
    cdnow_rows: pd.DataFrame, tmp_path: Path, data: st.DataObject
) -> None:
    blanks = st.text(alphabet=" \t", min_size=1, max_size=4)
    edge = st.text(alphabet=" \t", max_size=3)
    text = "".join(
        data.draw(edge) + "".join(
            value + (data.draw(blanks) if i < len(row) - 1 else "") for i, value in enumerate(row)
        ) + data.draw(edge) + data.draw(st.sampled_from(_ENDINGS))
        for row in [list(cdnow_rows.columns), *cdnow_rows.astype(str).values.tolist()]
    )
    path = tmp_path / "blanks.txt"
    path.write_text(text, encoding="utf-8", newline="")
    tx = load_transactions(path, columns={"customer_id": "master_id", "amount": "dollars"},
                           read=ReadOptions(delimiter=" "))
    assert (tx.n_input, tx.n_quarantined) == (200, 0)
    got = tx.table.group_by("customer_id").aggregate(r=tx.table.revenue.sum()).to_pandas()
    expected = cdnow_rows.groupby("master_id")["dollars"].sum()
    assert dict(zip(got.customer_id, got.r, strict=True)) == pytest.approx(expected.to_dict())


def test_blank_separated_quoted_values_keep_their_blanks(tmp_path: Path) -> None:
    path = tmp_path / "quoted.txt"
    path.write_text('customer  date      amount   country\n'
                    '  c1   2020-01-02   10.5   "New  York"\n'
                    'c2 2020-01-03 4 Leeds  \n', encoding="utf-8")
    tx = load_transactions(path, read=ReadOptions(delimiter=" "))
    df = tx.table.to_pandas().sort_values("customer_id")
    assert df["country"].tolist() == ["New  York", "Leeds"]
    assert df["revenue"].tolist() == [10.5, 4.0]


def test_lines_that_do_not_split_keep_their_row_numbers_in_a_rewritten_file(
    tmp_path: Path,
) -> None:
    """A blank-separated file is read through a copy; bad lines still carry their rows."""
    path = tmp_path / "bad.txt"
    rows = [f"c{i} 2020-01-{i + 1:02d} {i}.5" for i in range(20)]
    rows[6] += " extra"
    rows[11] = "c11 2020-01-12"
    path.write_bytes(("customer date amount\r\n" + "\n".join(rows) + "\n").encode())
    tx = load_transactions(path, read=ReadOptions(delimiter=" ", max_quarantine_share=0.2))
    q = tx.quarantine
    assert q["row"].tolist() == [7, 12]
    assert q["raw_line"].tolist() == ["c6\t2020-01-07\t6.5\textra", "c11\t2020-01-12"]
    assert tx.n_input == 20 and tx.table.count().execute() == 18


@st.composite
def _amounts(draw: st.DrawFn) -> list[float]:
    return draw(st.lists(st.decimals(min_value=-10**7, max_value=10**7, places=2,
                                     allow_nan=False).map(float), min_size=1, max_size=30))


def _written(value: float, decimal: str, thousands: str | None, dress: str = "{}",
             accounting: bool = False) -> str:
    """``value`` in a notation; ``dress`` adds a currency sign, ``accounting`` writes a
    negative number in parentheses (``(1.234,56 €)``), as finance exports do."""
    shown = abs(value) if accounting else value
    text = f"{shown:,.2f}" if thousands else f"{shown:.2f}"
    text = text.replace(",", "\0").replace(".", decimal).replace("\0", thousands or "")
    return f"({dress.format(text)})" if accounting and value < 0 else dress.format(text)


@_SETTINGS
@given(
    amounts=_amounts(),
    notation=st.sampled_from([(",", "."), (",", None), (".", ","), (".", "'"), (",", " "),
                              (".", None)]),
    dress=st.sampled_from(["{}", "£{}", "{} €", "€ {}", "{}$"]),
    accounting=st.booleans(),
)
def test_numbers_in_any_notation_read_as_the_same_values(
    tmp_path: Path, amounts: list[float], notation: tuple[str, str | None], dress: str,
    accounting: bool
) -> None:
    # Currency signs and accounting parentheses were refused beside a decimal comma
    # ("2,55 €", "(1.234,56)"): the notation was read only where nothing stood around it.
    decimal, thousands = notation
    path = tmp_path / "amounts.csv"
    text = "customer\tdate\tamount\n" + "".join(
        f"c{i}\t2020-01-01\t{_written(v, decimal, thousands, dress, accounting)}\n"
        for i, v in enumerate(amounts))
    path.write_text(text, encoding="utf-8")
    tx = load_transactions(path, read=ReadOptions(delimiter="\t", decimal=decimal,
                                                  thousands=thousands))
    assert tx.n_quarantined == 0
    got = tx.table.order_by(tx.table.customer_id.length(), "customer_id").revenue.to_pandas()
    assert got.tolist() == pytest.approx(amounts)


def test_dates_and_codes_are_not_read_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "de.csv"
    path.write_text("Kunde;Datum;Betrag;Artikel\n"
                    "12.345;01.12.2010;1.234,50;1.5\n"
                    "7;02.12.2010;0,5;A.1\n", encoding="utf-8")
    tx = load_transactions(
        path, columns={"customer_id": "Kunde", "timestamp": "Datum", "amount": "Betrag",
                       "product_id": "Artikel"},
        read=ReadOptions(decimal=",", thousands="."),
    )
    df = tx.table.to_pandas().sort_values("revenue")
    assert df["customer_id"].tolist() == ["7", "12345"]
    assert df["revenue"].tolist() == [0.5, 1234.5]
    assert df["ts"].tolist() == [pd.Timestamp("2010-12-02"), pd.Timestamp("2010-12-01")]
    # 1.5 is no number in this notation (one dot, not three digits after it): kept as written.
    assert df["product_id"].tolist() == ["A.1", "1.5"]


@pytest.mark.parametrize(("value", "decimal", "thousands", "hint"), [
    ("2,55", ".", None, 'decimal comma? Fix: set [read] decimal = ","'),
    ("1.234,56", ".", None, 'decimal comma? Fix: set [read] decimal = "," and thousands = "."'),
    ("1.234,56", ",", None, 'decimal comma? Fix: set [read] thousands = "."'),
    ("1.234.567", ".", None, 'decimal comma? Fix: set [read] decimal = "," and thousands = "."'),
    ("1,234", ".", None, 'Fix: set [read] decimal = "," or set [read] thousands = ","'),
    ("1,234,567.5", ".", None, 'thousands separators? Fix: set [read] thousands = ","'),
    ("2,55 €", ".", None, 'decimal comma? Fix: set [read] decimal = ","'),
    ("(€ 1.234,56)", ",", None, 'decimal comma? Fix: set [read] thousands = "."'),
    ("12 kg", ".", None, None),
    ("", ".", None, None),
    (None, ".", None, None),
])
def test_number_hint(value: str | None, decimal: str, thousands: str | None,
                     hint: str | None) -> None:
    from segwise.exceptions import mapping_way

    with mapping_way("config"):  # the command line: a config file's [read]
        got = number_hint(value, decimal, thousands)
    assert (got is None) if hint is None else (got is not None and got.endswith(hint))


def test_number_hint_gives_the_fix_as_segwise_was_called() -> None:
    # From Python the fix named a config file's [read], which such a caller has not.
    from segwise.exceptions import mapping_way

    assert number_hint("1.234,56", ".", None) == (
        'numbers written with a decimal comma? Fix: pass read=ReadOptions(decimal=",", '
        'thousands=".")')
    assert number_hint("1,234", ".", None).endswith(
        'Fix: pass read=ReadOptions(decimal=",") or pass read=ReadOptions(thousands=",")')
    with mapping_way("config_object"):
        assert number_hint("2,55", ".", None).endswith(
            'Fix: pass config=SegwiseConfig(read=ReadOptions(decimal=","))')


def test_headerless_csv_needs_a_name_per_column(tmp_path: Path) -> None:
    path = tmp_path / "nohead.csv"
    path.write_text("c1,2020-01-02,10.5\nc2,2020-01-03,4\n", encoding="utf-8")
    read = ReadOptions(header=False, names=("customer_id", "date", "amount"))
    tx = load_transactions(path, read=read)
    assert tx.n_input == 2 and tx.table.revenue.sum().execute() == 14.5
    with pytest.raises(InputError) as err:
        load_transactions(path, read=ReadOptions(header=False, names=("customer_id", "date")))
    assert str(err.value) == (
        f"{path}: read=ReadOptions(names=...) gives 2 names, but the file has 3 columns "
        "(first row: 'c1', '2020-01-02', '10.5'). Fix: give one name per column"
    )
    # Without names the columns are numbered, and [columns] maps them.
    tx = load_transactions(path, read=ReadOptions(header=False), columns={
        "customer_id": "column_1", "timestamp": "column_2", "amount": "column_3"})
    assert tx.n_input == 2


def test_headerless_excel_sheet(tmp_path: Path) -> None:
    path = tmp_path / "nohead.xlsx"
    pd.DataFrame([["c1", pd.Timestamp("2020-01-02"), 10.5], ["c2", pd.Timestamp("2020-01-03"), 4]]
                 ).to_excel(path, header=False, index=False)
    tx = load_transactions(path, read=ReadOptions(header=False,
                                                  names=("customer_id", "date", "amount")))
    assert tx.n_input == 2 and tx.table.revenue.sum().execute() == 14.5


def test_header_and_names_are_refused_for_typed_formats(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"customer_id": ["a"], "date": ["2020-01-01"], "amount": [1.0]}).to_parquet(path)
    for read in (ReadOptions(names=("a", "b", "c")), ReadOptions(skip_rows=2)):
        with pytest.raises(ConfigError, match=r": read=ReadOptions\(header=\.\.\., names=\.\.\., "
                           r"skip_rows=\.\.\.\) apply to CSV and Excel files, not parquet"):
            load_transactions(path, read=read)


def test_an_encoding_duckdb_does_not_know_is_read_through_python(tmp_path: Path) -> None:
    path = tmp_path / "cp1252.csv"
    path.write_bytes("Kunde;Datum;Betrag;Beschreibung\n"
                     "k1;2020-01-01;3;Teekanne – Porzellan €\n".encode("cp1252"))
    tx = load_transactions(path, read=ReadOptions(encoding="cp1252"), columns={
        "customer_id": "Kunde", "timestamp": "Datum", "amount": "Betrag",
        "description": "Beschreibung"})
    assert tx.table.description.execute().tolist() == ["Teekanne – Porzellan €"]


@pytest.mark.parametrize(("line", "message"), [
    ('decimal = ";"', '[read] decimal = ";" is not "." or ","'),
    ('thousands = ","', "[read] thousands = \",\" is not one of '.', ' ', \"'\""),
    ("header = 0", "[read] header = 0: expected true or false"),
    ('names = ["a", "a"]', '[read] names = ["a", "a"]: give each column a different, non-empty'),
    ('encoding = "klingon"', '[read] encoding = "klingon" is not a known text encoding'),
    ('delimiter = ""', '[read] delimiter = "" is empty'),
])
def test_read_settings_are_checked(line: str, message: str, tmp_path: Path) -> None:
    from segwise.config import load_config
    from segwise.exceptions import mapping_way

    path = tmp_path / "c.toml"
    path.write_text(f'[read]\ndecimal = ","\n{line}\n' if "thousands" in line
                    else f"[read]\n{line}\n", encoding="utf-8")
    # A config file's settings are named as written there, however it is loaded.
    for way in (None, "config_object"):
        with (mapping_way(way) if way else contextlib.nullcontext()), \
                pytest.raises(ConfigError) as err:
            load_config(path)
        assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    # The same values given in Python are named as Python gives them (they said [read]).
    if line.startswith(("header", "names = [\"a\"")):
        return  # refused by type when read from the file
    key, value = line.split(" = ")
    options = {"decimal": ",", key: tomllib.loads(line)[key]}
    with pytest.raises(ConfigError, match=re.escape(f"ReadOptions({key}={value})")):
        ReadOptions(**options) if "thousands" in line else ReadOptions(**{key: options[key]})


@pytest.mark.parametrize(("codec", "accents"), [
    ("cp1252", "CRÈME BRÛLÉE SET – 4 RAMEKINS €"),  # what Excel writes on Windows
    ("latin-1", "CRÈME BRÛLÉE SET\x81"),  # a byte Windows-1252 leaves undefined
])
@pytest.mark.parametrize("compressed", [False, True])
def test_a_file_in_a_one_byte_encoding_is_read_whole(
        codec: str, accents: str, compressed: bool, lines: list[str], reference: pd.DataFrame,
        tmp_path: Path) -> None:
    # Every line with an accent used to be quarantined as invalid UTF-8 (the run went on
    # without them: all the lines of a country named "Österreich", say).
    text = "\n".join(lines).replace("CRÈME BRÛLÉE SET, 4 RAMEKINS", accents) + "\n"
    data = text.encode(codec)
    path = tmp_path / ("shop.csv.gz" if compressed else "shop.csv")
    path.write_bytes(gzip.compress(data) if compressed else data)
    with pytest.warns(UserWarning, match=rf"shop.csv(.gz)?: the file is not UTF-8; read as "
                                         rf"{codec}\. Set read=ReadOptions\(encoding=\.\.\.\) "
                                         "if it is another"):
        tx = load_transactions(path)
    assert (tx.n_input, tx.n_quarantined) == (300, 0)
    got = _canonical(tx)
    assert accents in set(got["description"])
    pd.testing.assert_frame_equal(got.drop(columns="description"),
                                  reference.drop(columns="description"))


def test_a_utf8_file_with_a_damaged_byte_quarantines_that_line_with_the_fix(
        lines: list[str], tmp_path: Path) -> None:
    # Accents in UTF-8 elsewhere say the file is UTF-8: only the damaged line goes.
    data = ("\n".join(lines) + "\n").encode("utf-8").replace(b"WHITE METAL", b"WHITE M\xe9TAL")
    path = tmp_path / "damaged.csv"
    path.write_bytes(data)
    tx = load_transactions(path)
    reasons = tx.quarantine_table.column("reason").to_pylist()
    assert tx.n_quarantined == len(reasons) >= 1
    assert all('pass read=ReadOptions(encoding="latin-1") if the file is not UTF-8' in r
               for r in reasons)


def test_a_few_numbers_in_another_notation_are_named_in_a_warning(
        retail_sample: pd.DataFrame, tmp_path: Path) -> None:
    # Under the refusal's 5 %, the lines were quarantined with nothing but the quarantine
    # file to say why: here the largest orders of the file.
    sample = retail_sample.head(1000).copy()
    sample.loc[sample.index[::100], "Quantity"] = "1,200"
    sample.loc[sample.index[50], "UnitPrice"] = "2,55"
    path = tmp_path / "orders.csv"
    sample.to_csv(path, index=False)
    with pytest.warns(UserWarning) as caught:
        tx = load_transactions(path)
    assert tx.n_quarantined == 11
    lines = [str(w.message) for w in caught]
    assert f"{path}: 10 rows quarantined, Quantity: not a number (e.g. '1,200'). Likely " \
           'cause: a decimal comma or a thousands separator? Fix: pass read=ReadOptions(' \
           'decimal=",") or pass read=ReadOptions(thousands=",")' in lines
    assert f"{path}: 1 row quarantined, UnitPrice: not a number (e.g. '2,55'). Likely " \
           'cause: numbers written with a decimal comma? Fix: pass read=ReadOptions(decimal=",")' \
           in lines
