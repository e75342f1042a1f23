"""Files as users have them, built from the shared data, read with at most a short config.

Each test checks the customers and their revenue that segwise reads against pandas reading
the original data on its own.
"""

from __future__ import annotations

import gzip
import re
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from segwise.cli import app
from segwise.config import SegwiseConfig, load_config
from segwise.exceptions import ConfigError, InputError
from segwise.io import ReadOptions, Transactions, load_transactions

#: The config the docs show for CDNOW as published (docs/cleaning.md, README).
CDNOW_CONFIG = '[read]\ndelimiter = " "\n'

#: Online Retail's columns as a German Excel export names them.
GERMAN = {
    "InvoiceNo": "Rechnungsnummer", "StockCode": "Artikelnummer", "Description": "Bezeichnung",
    "Quantity": "Menge", "InvoiceDate": "Rechnungsdatum", "UnitPrice": "Stückpreis",
    "CustomerID": "Kundennummer", "Country": "Land",
}

#: The config the docs show for the authors' CDNOW sample, which has no header.
CDNOW_SAMPLE_CONFIG = """
[columns]
customer_id = "master_id"

[read]
delimiter = " "
header = false
names = ["master_id", "sample_id", "date", "cds", "dollar_value"]
"""

#: The config the docs show for a German Excel export of Online Retail.
GERMAN_CONFIG = """
[columns]
customer_id = "Kundennummer"
order_id = "Rechnungsnummer"
timestamp = "Rechnungsdatum"
quantity = "Menge"
unit_price = "Stückpreis"

[read]
encoding = "cp1252"
decimal = ","
thousands = "."
"""


@pytest.mark.parametrize("config", [CDNOW_CONFIG, CDNOW_SAMPLE_CONFIG, GERMAN_CONFIG])
def test_the_configs_tested_here_are_those_in_the_docs(config: str) -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "cleaning.md").read_text()
    assert f"```toml\n{config.strip()}\n```" in docs


def load_config_text(text: str) -> SegwiseConfig:
    """Load a config given as text, as `segwise --config` would."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "segwise.toml"
        path.write_text(text, encoding="utf-8")
        return load_config(path, kind="orders")


def _by_customer(tx: Transactions) -> pd.Series:
    """Revenue per customer id as segwise read it (lines with a customer id)."""
    t = tx.table
    frame = t.filter(t.customer_id.notnull()).group_by("customer_id").aggregate(
        revenue=t.revenue.sum()).to_pandas()
    return frame.set_index("customer_id")["revenue"].sort_index()


def _assert_same_revenue(got: pd.Series, expected: pd.Series) -> None:
    expected = expected.sort_index()
    assert list(got.index) == list(expected.index)
    pd.testing.assert_series_equal(got, expected, check_names=False, rtol=1e-9)


@pytest.fixture(scope="module")
def cdnow_master(shared_data: Path) -> Path:
    """CDNOW as published: blank-separated, runs of spaces, CRLF, gzip."""
    return shared_data / "cdnow" / "CDNOW_master.txt.gz"


@pytest.fixture(scope="module")
def cdnow_pandas(cdnow_master: Path) -> pd.DataFrame:
    return pd.read_csv(cdnow_master, sep=r"\s+", dtype={"customer_id": str})


def test_cdnow_as_published_needs_one_read_setting(
    cdnow_master: Path, cdnow_pandas: pd.DataFrame
) -> None:
    with pytest.raises(InputError) as err:
        load_transactions(cdnow_master)
    # The raw header and the fix, on one line.
    assert str(err.value) == (
        f"{cdnow_master}: one column found, 'customer_id  date number_of_cds  dollar_value': "
        'wrong delimiter? Fix: pass read=ReadOptions(delimiter=" ")'
    )
    tx = load_transactions(cdnow_master, read=ReadOptions(delimiter=" "))
    assert (tx.n_input, tx.n_quarantined) == (69_659, 0)
    expected = cdnow_pandas.groupby("customer_id")["dollar_value"].sum()
    assert len(expected) == 23_570
    _assert_same_revenue(_by_customer(tx), expected)
    days = tx.table.ts.to_pandas()
    assert (days.min(), days.max()) == (pd.Timestamp("1997-01-01"), pd.Timestamp("1998-06-30"))


@pytest.mark.slow
def test_segwise_rfm_on_cdnow_with_the_two_line_config(
    cdnow_master: Path, cdnow_pandas: pd.DataFrame, tmp_path: Path
) -> None:
    config = tmp_path / "cdnow.toml"
    config.write_text(CDNOW_CONFIG)
    assert len(CDNOW_CONFIG.splitlines()) == 2
    out = tmp_path / "customers.parquet"
    result = CliRunner().invoke(
        app, ["rfm", str(cdnow_master), "--config", str(config), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    customers = pd.read_parquet(out).set_index("customer_id")["monetary"]
    # Cleaning keeps one of each exact copy and drops lines worth nothing.
    kept = cdnow_pandas.drop_duplicates()
    kept = kept[kept["dollar_value"] > 0]
    _assert_same_revenue(customers.sort_index(), kept.groupby("customer_id")["dollar_value"].sum())


def test_cdnow_sample_without_a_header_reads_with_names(shared_data: Path) -> None:
    path = shared_data / "cdnow" / "CDNOW_sample.txt.gz"
    config = load_config_text(CDNOW_SAMPLE_CONFIG)
    tx = load_transactions(path, columns=config.columns, read=config.read)
    assert (tx.n_input, tx.n_quarantined) == (6_919, 0)
    # The authors' file: no header, five columns, read on its own by pandas.
    raw = pd.read_csv(path, sep=r"\s+", header=None, dtype={0: str})
    expected = raw.groupby(0)[4].sum()
    assert len(expected) == 2_357
    _assert_same_revenue(_by_customer(tx), expected)


@pytest.fixture(scope="module")
def retail_lines(retail_csv: Path) -> pd.DataFrame:
    """Online Retail lines as text: the first 20,000 and every line worth 1,000 or more."""
    every = pd.read_csv(retail_csv, dtype=str, keep_default_na=False)
    big = (every["Quantity"].astype(float).abs() >= 1000) | (
        every["UnitPrice"].astype(float).abs() >= 1000)
    return pd.concat([every.head(20_000), every.iloc[20_000:][big.iloc[20_000:]]])


def _german_number(text: str) -> str:
    """``-1234.5`` as a German spreadsheet writes it: ``-1.234,5``."""
    whole, _, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    digits = f"{int(whole.lstrip('-')):,}".replace(",", ".")
    return sign + digits + ("," + fraction if fraction else "")


@pytest.fixture(scope="module")
def german_export(retail_lines: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Online Retail saved by German Excel: semicolons, decimal commas, thousands dots,
    day-first dates, Windows-1252 and CRLF line endings."""
    frame = retail_lines.assign(
        Quantity=retail_lines["Quantity"].map(_german_number),
        UnitPrice=retail_lines["UnitPrice"].map(_german_number),
        InvoiceDate=pd.to_datetime(retail_lines["InvoiceDate"]).dt.strftime("%d.%m.%Y %H:%M"),
    ).rename(columns=GERMAN)
    path = tmp_path_factory.mktemp("german") / "Umsatz.csv"
    frame.to_csv(path, sep=";", index=False, encoding="cp1252", lineterminator="\r\n")
    return path


def test_german_excel_export(retail_lines: pd.DataFrame, german_export: Path) -> None:
    text = german_export.read_bytes()
    assert re.search(rb";-?\d{1,3}\.\d{3};", text) and "Stückpreis".encode("cp1252") in text
    config = load_config_text(GERMAN_CONFIG)
    tx = load_transactions(german_export, columns=config.columns, read=config.read)
    assert (tx.n_input, tx.n_quarantined) == (len(retail_lines), 0)
    lines = retail_lines[retail_lines["CustomerID"] != ""]
    revenue = lines["Quantity"].astype(float) * lines["UnitPrice"].astype(float)
    _assert_same_revenue(_by_customer(tx), revenue.groupby(lines["CustomerID"]).sum())
    assert tx.table.ts.max().execute() == pd.to_datetime(retail_lines["InvoiceDate"]).max()


def test_german_export_without_the_decimal_setting_names_value_and_cause(
    german_export: Path,
) -> None:
    config = load_config_text(GERMAN_CONFIG.replace('decimal = ","\nthousands = "."\n', ""))
    with pytest.raises(InputError) as err:
        load_transactions(german_export, columns=config.columns, read=config.read)
    # Row 1: 536365;85123A;WHITE HANGING HEART T-LIGHT HOLDER;6;01.12.2010 08:26;2,55;...
    assert str(err.value).startswith(f"{german_export}: ")
    assert "row 1: Stückpreis: not a number (value '2,55'). Likely cause: numbers written " \
           'with a decimal comma? Fix: pass read=ReadOptions(decimal=",")' in str(err.value)


@pytest.fixture(scope="module")
def workbook(retail_lines: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Excel workbook: a cover sheet, the order lines typed as Excel types them, notes."""
    lines = retail_lines.head(3000)
    typed = lines.assign(
        Quantity=lines["Quantity"].astype("int64"),
        UnitPrice=lines["UnitPrice"].astype("float64"),
        InvoiceDate=pd.to_datetime(lines["InvoiceDate"]),
        CustomerID=pd.to_numeric(lines["CustomerID"]),
    )
    path = tmp_path_factory.mktemp("excel") / "Sales report.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"Sales report Q4 2010": ["Prepared by finance", "", "See sheet Orders"]}
                     ).to_excel(writer, sheet_name="Cover", index=False)
        typed.to_excel(writer, sheet_name="Orders", index=False)
        pd.DataFrame({"Note": ["Prices in GBP"]}).to_excel(writer, sheet_name="Notes", index=False)
    return path


def test_workbook_with_a_cover_sheet(retail_lines: pd.DataFrame, workbook: Path) -> None:
    with pytest.raises(InputError) as err:
        load_transactions(workbook)
    assert str(err.value) == (
        f"{workbook}: the first sheet, 'Cover', holds no order lines (columns found: "
        "Sales report Q4 2010); the workbook has 3 sheets: 'Cover', 'Orders', 'Notes'. "
        'Fix: pass read=ReadOptions(sheet="Orders")'
    )
    with pytest.raises(InputError, match="no sheet 'Order'; the workbook has 3 sheets: 'Cover',"):
        load_transactions(workbook, read=ReadOptions(sheet="Order"))
    # The fix is given the way segwise was called: a job takes its settings in a
    # SegwiseConfig, the command line in a config file (it named [read] from Python too).
    from segwise.jobs import run_job

    with pytest.raises(InputError, match=re.escape(
            'Fix: pass config=SegwiseConfig(read=ReadOptions(sheet="Orders"))')):
        run_job("rfm", workbook)
    out = CliRunner().invoke(app, ["rfm", str(workbook), "-o", str(workbook.parent / "o.csv")])
    assert out.exit_code == 1 and 'Fix: set [read] sheet = "Orders"' in out.output
    config = load_config_text('[read]\nsheet = "Orders"\n')
    tx = load_transactions(workbook, read=config.read)
    lines = retail_lines.head(3000)
    assert (tx.n_input, tx.n_quarantined) == (3000, 0)
    lines = lines[lines["CustomerID"] != ""]
    revenue = lines["Quantity"].astype(float) * lines["UnitPrice"].astype(float)
    _assert_same_revenue(_by_customer(tx), revenue.groupby(lines["CustomerID"]).sum())
    # By index, the same sheet.
    assert load_transactions(workbook, read=ReadOptions(sheet=1)).n_input == 3000


def test_mixed_line_endings_as_appended_on_another_system(
    retail_lines: pd.DataFrame, tmp_path: Path
) -> None:
    """An LF header above CRLF rows, then LF rows again: DuckDB's sniffer alone refuses it."""
    lines = retail_lines.head(5000)
    text = lines.to_csv(index=False, lineterminator="\n").splitlines()
    body = "\n".join(text[:1]) + "\n" + "\r\n".join(text[1:3000]) + "\r\n" + "\n".join(
        text[3000:]) + "\n"
    path = tmp_path / "appended.csv.gz"
    with gzip.open(path, "wt", newline="") as fh:
        fh.write(body)
    tx = load_transactions(path)
    assert (tx.n_input, tx.n_quarantined) == (5000, 0)
    lines = lines[lines["CustomerID"] != ""]
    revenue = lines["Quantity"].astype(float) * lines["UnitPrice"].astype(float)
    _assert_same_revenue(_by_customer(tx), revenue.groupby(lines["CustomerID"]).sum())
    # No carriage return is left in the last column.
    assert not tx.table.country.contains("\r").any().execute()


def test_workbook_whose_sheets_need_a_column_mapping_lists_them(
    retail_lines: pd.DataFrame, tmp_path: Path
) -> None:
    """No sheet has recognisable names: the usual fix, and the sheets to choose from."""
    path = tmp_path / "Umsatz.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"Umsatzbericht": ["Dezember 2010"]}).to_excel(
            writer, sheet_name="Deckblatt", index=False)
        retail_lines.head(50).rename(columns=GERMAN).to_excel(
            writer, sheet_name="Umsatz", index=False)
    with pytest.raises(InputError) as err:
        load_transactions(path)
    message = str(err.value)
    assert message.startswith(f"{path}: required column for customer_id, timestamp, quantity "
                              "and unit_price (or amount) not found (columns found: "
                              "Umsatzbericht). Fix: rename the column, or pass columns=")
    assert message.endswith("; or, if the order lines are on another sheet of the workbook "
                            "(2 sheets: 'Deckblatt', 'Umsatz'), set read=ReadOptions(sheet=...)")
    config = load_config_text(GERMAN_CONFIG.split("[read]")[0] + '[read]\nsheet = "Umsatz"\n')
    assert load_transactions(path, columns=config.columns, read=config.read).n_input == 50


def test_an_excel_97_workbook_reads_like_a_new_one(retail_lines: pd.DataFrame,
                                                   tmp_path: Path) -> None:
    import xlwt

    lines = retail_lines.head(400)
    book = xlwt.Workbook()
    cover, sheet = book.add_sheet("Cover"), book.add_sheet("Orders")
    cover.write(0, 0, "Sales report Q4 2010")
    for j, column in enumerate(lines.columns):
        sheet.write(0, j, column)
    numbers = {j for j, c in enumerate(lines.columns) if c in ("Quantity", "UnitPrice")}
    for i, row in enumerate(lines.itertuples(index=False), start=1):
        for j, value in enumerate(row):
            # Numbers as Excel numbers, the rest as text, as a spreadsheet program saves them.
            sheet.write(i, j, float(value) if j in numbers else value)
    path = tmp_path / "old.xls"
    book.save(str(path))
    with pytest.raises(InputError, match=r"the first sheet, 'Cover', holds no order lines.*"
                                         r'Fix: pass read=ReadOptions\(sheet="Orders"\)'):
        load_transactions(path)
    tx = load_transactions(path, read=ReadOptions(sheet="Orders"))
    assert (tx.n_input, tx.n_quarantined) == (400, 0)
    kept = lines[lines["CustomerID"] != ""]
    revenue = kept["Quantity"].astype(float) * kept["UnitPrice"].astype(float)
    _assert_same_revenue(_by_customer(tx), revenue.groupby(kept["CustomerID"]).sum())


@pytest.mark.parametrize("suffix", [".xls", ".xlsx"])
def test_a_damaged_workbook_is_one_line(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"damaged{suffix}"
    head = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" if suffix == ".xls" else b"PK\x03\x04"
    path.write_bytes(head + bytes(512))
    with pytest.raises(InputError, match=rf"damaged\{suffix}: cannot read the workbook \(.*\)\. "
                                         "Fix: check that it opens in a spreadsheet program"):
        load_transactions(path)


@pytest.mark.parametrize(("suffix", "newline", "bom"),
                         [(".csv", "\n", ""), (".csv.gz", "\r\n", "\ufeff")])
def test_title_lines_above_the_table_are_found_and_skipped(
    retail_lines: pd.DataFrame, tmp_path: Path, suffix: str, newline: str, bom: str
) -> None:
    """A report export: a title and an export date above the header, and a broken row."""
    lines = retail_lines.head(2000)
    body = lines.to_csv(index=False, lineterminator=newline).split(newline)
    body[500] += ",extra"  # row 500 has one field too many
    text = bom + newline.join(["Sales report: all order lines", "Exported 2011-12-10 09:00",
                               "", *body])
    path = tmp_path / f"report{suffix}"
    opener = gzip.open if suffix.endswith(".gz") else open
    with opener(path, "wt", newline="", encoding="utf-8") as fh:
        fh.write(text)
    with pytest.raises(InputError) as err:
        load_transactions(path)
    assert str(err.value) == (
        f"{path}: the table starts on line 4, below 3 lines of title ('Sales report: all "
        "order lines', ...). Fix: pass read=ReadOptions(skip_rows=3)")
    tx = load_transactions(path, read=load_config_text("[read]\nskip_rows = 3\n").read)
    assert (tx.n_input, tx.n_quarantined) == (2000, 1)
    assert tx.quarantine["row"].tolist() == [500]  # counted from the header, as without
    kept = lines.drop(index=lines.index[499])
    kept = kept[kept["CustomerID"] != ""]
    revenue = kept["Quantity"].astype(float) * kept["UnitPrice"].astype(float)
    _assert_same_revenue(_by_customer(tx), revenue.groupby(kept["CustomerID"]).sum())


@pytest.mark.parametrize("title", [[], ["Umsatzbericht"]])
def test_decimal_commas_of_a_semicolon_file_are_not_taken_for_title_lines(
    retail_lines: pd.DataFrame, tmp_path: Path, title: list[str]
) -> None:
    """A German export: ``;`` between fields, ``,`` in every price, headers in German.

    Split on commas, the header is one field and each row three, which looked like a
    line of title above a table; the file is one table on its own delimiter.
    """
    lines = retail_lines.head(500).rename(columns={
        "CustomerID": "Kundennummer", "InvoiceNo": "Rechnung", "UnitPrice": "Stückpreis"})
    lines["Stückpreis"] = lines["Stückpreis"].str.replace(".", ",", regex=False)
    path = tmp_path / "umsatz.csv"
    path.write_text("\r\n".join([*title, *lines.to_csv(index=False, sep=";").splitlines()]),
                    encoding="utf-8-sig")
    with pytest.raises(InputError) as err:
        load_transactions(path)
    if title:
        assert "below 1 line of title ('Umsatzbericht')" in str(err.value)
    else:
        assert "line of title" not in str(err.value)
        assert "not found (columns found: Rechnung, StockCode" in str(err.value)


def test_title_rows_above_an_excel_table_are_skipped(retail_lines: pd.DataFrame,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    lines = retail_lines.head(300)
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame([["Sales report"], ["Exported 2011-12-10"]]).to_excel(
            writer, index=False, header=False)
        lines.to_excel(writer, index=False, startrow=2)
    tx = load_transactions(path, read=ReadOptions(skip_rows=2))
    assert (tx.n_input, tx.n_quarantined) == (300, 0)
    with pytest.raises(ConfigError, match=r"^ReadOptions\(skip_rows=-1\) is not a number of lines"):
        ReadOptions(skip_rows=-1)
