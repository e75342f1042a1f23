"""Compressed input: gzip, bzip2, xz and zip read; damaged data stop the run in one line.

DuckDB alone read a flipped bit of a gzip file as other data, and exited 0.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from segwise.cli import app
from segwise.exceptions import InputError
from segwise.io import load_transactions


@pytest.fixture(scope="module")
def packed(retail_sample: pd.DataFrame) -> dict[str, bytes]:
    """The 5,000-line sample gzipped as CSV and as JSON lines."""
    return {".csv.gz": gzip.compress(retail_sample.to_csv(index=False).encode()),
            ".jsonl.gz": gzip.compress(retail_sample.to_json(orient="records",
                                                             lines=True).encode())}


@pytest.mark.parametrize("suffix", [".csv.gz", ".jsonl.gz"])
def test_an_intact_file_loads_every_row(packed: dict[str, bytes], suffix: str,
                                        tmp_path: Path) -> None:
    path = tmp_path / f"orders{suffix}"
    path.write_bytes(packed[suffix])
    assert load_transactions(path).n_input == 5000


@pytest.mark.parametrize("suffix", [".csv.gz", ".jsonl.gz"])
@pytest.mark.parametrize("where", [0.2, 0.5, 0.8, -5, -1], ids=[
    "data_20%", "data_50%", "data_80%", "crc", "length"])
def test_a_flipped_bit_anywhere_is_refused(packed: dict[str, bytes], suffix: str,
                                           where: float, tmp_path: Path) -> None:
    data = bytearray(packed[suffix])
    pos = int(len(data) * where) if where > 0 else len(data) + int(where)
    data[pos] ^= 0x10
    path = tmp_path / f"orders{suffix}"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"the compressed file is damaged \(.+\).*Fix: copy"):
        load_transactions(path)


def test_a_truncated_file_is_refused_by_the_command_in_one_line(
        packed: dict[str, bytes], tmp_path: Path) -> None:
    path = tmp_path / "orders.csv.gz"
    path.write_bytes(packed[".csv.gz"][: len(packed[".csv.gz"]) // 2])
    result = CliRunner().invoke(app, ["rfm", str(path), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "the compressed file is damaged" in lines[0]
    assert not (tmp_path / "o.csv").exists()


def test_the_check_beside_the_read_has_the_last_word(packed: dict[str, bytes],
                                                      tmp_path: Path) -> None:
    """The check runs in a thread while the block reads: its verdict replaces the block's
    error on a damaged file, and lets the block's own error through on an intact one."""
    from segwise.io._compressed import checking_compressed

    intact = tmp_path / "intact.csv.gz"
    intact.write_bytes(packed[".csv.gz"])
    damaged = tmp_path / "damaged.csv.gz"
    damaged.write_bytes(packed[".csv.gz"][:-5])
    with pytest.raises(InputError, match="compressed file is damaged") as err, \
            checking_compressed(damaged):
        raise ValueError("the read failed first")
    assert isinstance(err.value.__context__, ValueError)
    with pytest.raises(InputError, match="compressed file is damaged"), \
            checking_compressed(damaged):
        pass
    with pytest.raises(ValueError, match="the read failed"), checking_compressed(intact):
        raise ValueError("the read failed")
    with checking_compressed(intact):
        pass


def _pack(text: bytes, suffix: str, tmp_path: Path, member: str = "orders.csv") -> Path:
    """``text`` compressed as ``suffix``: bzip2, xz, or a zip archive holding ``member``."""
    path = tmp_path / f"orders{suffix}"
    if suffix == ".zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(member, text)
    else:
        path.write_bytes({".csv.bz2": bz2.compress, ".csv.xz": lzma.compress}[suffix](text))
    return path


@pytest.mark.parametrize("suffix", [".csv.bz2", ".csv.xz", ".zip"])
def test_bzip2_xz_and_a_zip_of_one_file_read_as_the_csv(
        retail_sample: pd.DataFrame, suffix: str, tmp_path: Path) -> None:
    # Downloads come zipped (UCI, Kaggle) or as .bz2/.xz: each is read as the CSV it holds,
    # its checksums verified as it is read.
    text = retail_sample.to_csv(index=False).encode()
    plain = tmp_path / "plain.csv"
    plain.write_bytes(text)
    path = _pack(text, suffix, tmp_path)
    got, want = load_transactions(path), load_transactions(plain)
    assert got.n_input == 5000
    order = ["customer_id", "order_id", "product_id", "ts", "quantity"]
    pd.testing.assert_frame_equal(got.table.order_by(order).to_pandas(),
                                  want.table.order_by(order).to_pandas())
    # Damaged: cut short, or a bit flipped in the data.
    data = path.read_bytes()
    for name, spoilt in (("cut", data[: len(data) // 2]),
                         ("flipped", bytes(b ^ 0x10 if i == len(data) // 2 else b
                                           for i, b in enumerate(data)))):
        bad = tmp_path / f"{name}{suffix}"
        bad.write_bytes(spoilt)
        result = CliRunner().invoke(app, ["rfm", str(bad), "-o", str(tmp_path / "o.csv")])
        assert result.exit_code == 1, (name, result.output)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "is damaged" in lines[0], (name, lines)


def test_a_zip_is_read_when_it_holds_one_file(retail_sample: pd.DataFrame,
                                              tmp_path: Path) -> None:
    text = retail_sample.head(50).to_csv(index=False).encode()
    mac = tmp_path / "mac.zip"  # zipped on a Mac: a folder and its metadata beside the file
    with zipfile.ZipFile(mac, "w") as archive:
        archive.writestr("export/", b"")
        archive.writestr("export/orders.csv", text)
        archive.writestr("__MACOSX/export/._orders.csv", b"\0")
    assert load_transactions(mac).n_input == 50
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("orders.csv", text)
        archive.writestr("returns.csv", text)
    with pytest.raises(InputError, match=r"holds 2 files \(orders.csv, returns.csv\).*Fix: "
                                         "extract the file"):
        load_transactions(two)
    sheet = tmp_path / "sheet.zip"
    with zipfile.ZipFile(sheet, "w") as archive:
        archive.writestr("orders.pdf", b"%PDF")
    with pytest.raises(InputError, match=r"unknown file type \.zip \(it holds orders.pdf\)"):
        load_transactions(sheet)


@pytest.mark.parametrize(("name", "fix"), [
    ("orders.jsonl.bz2", "compress it as .gz or .zst"),
    ("orders.parquet.gz", "decompress the file first$"),
])
def test_a_compression_a_format_is_not_read_in_says_so(name: str, fix: str,
                                                         tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(b"not read")
    with pytest.raises(InputError, match=rf"are not read\. Fix: .*{fix}"):
        load_transactions(path)


def _zstd(path: Path, data: bytes) -> Path:
    import pyarrow as pa

    with pa.output_stream(str(path), compression="zstd") as out:
        out.write(data)
    return path


@pytest.mark.parametrize("variant", ["plain", "bom_crlf", "latin1", "jsonl"])
def test_zstd_files_are_read_as_the_docs_say(retail_sample: pd.DataFrame, tmp_path: Path,
                                             variant: str) -> None:
    # Every .zst file was refused ("a zstd-compressed file with these [read] settings
    # cannot be rewritten"): its byte-order mark was looked for in Python, which had no
    # zstd. Spreadsheet exports (a BOM, CRLF line endings, Windows-1252) are read too.
    text = retail_sample.to_csv(index=False)
    data = {"plain": text.encode(),
            "bom_crlf": text.replace("\n", "\r\n").encode("utf-8-sig"),
            "latin1": text.replace("WHITE", "WEIß").encode("cp1252"),
            "jsonl": retail_sample.to_json(orient="records", lines=True).encode()}[variant]
    path = _zstd(tmp_path / f"orders.{'jsonl' if variant == 'jsonl' else 'csv'}.zst", data)
    tx = load_transactions(path)
    assert tx.n_input == 5000 and tx.n_quarantined == 0
    result = CliRunner().invoke(app, ["rfm", str(path), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 0, result.output


def test_a_damaged_zstd_file_is_refused_as_damaged(retail_sample: pd.DataFrame,
                                                   tmp_path: Path) -> None:
    text = retail_sample.to_csv(index=False).replace("\n", "\r\n").encode("utf-8-sig")
    data = bytearray(_zstd(tmp_path / "whole.csv.zst", text).read_bytes())
    path = tmp_path / "orders.csv.zst"
    path.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(InputError, match=r"the compressed file is damaged .*Fix: copy"):
        load_transactions(path)
