"""Damaged gzip input stops the run: DuckDB alone read a flipped bit as other data, exit 0."""

from __future__ import annotations

import gzip
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
