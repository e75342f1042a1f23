"""The TOML config: every section, and clear errors for mistakes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from segwise.config import load_config
from segwise.exceptions import ConfigError


def test_defaults_without_a_file() -> None:
    cfg = load_config(None)
    assert cfg.cleaning.cancellations == "net" and cfg.as_of is None and cfg.columns == {}


def test_full_config(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[columns]\ncustomer_id = "Kunde"\n'
        '[read]\ndelimiter = ";"\nencoding = "latin-1"\ntimestamp_format = "%d.%m.%Y"\n'
        '[cleaning]\ncancellations = "drop"\nnon_product_codes = ["POST", "DOT"]\n'
        '[rfm]\nas_of = "2011-12-10"\n'
        '[segments.actions]\nLost = "Ignore."\n'
        '[engine]\nmemory_limit = "4GB"\n'
    )
    cfg = load_config(path)
    assert cfg.columns == {"customer_id": "Kunde"}
    assert (cfg.read.delimiter, cfg.read.encoding) == (";", "latin-1")
    assert cfg.cleaning.cancellations == "drop"
    assert cfg.cleaning.non_product_codes == ("POST", "DOT")
    assert cfg.as_of == dt.date(2011, 12, 10)
    assert cfg.segments.actions["Lost"] == "Ignore."
    assert cfg.memory_limit == "4GB"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[colums]\n", "unknown section"),
        ("[cleaning]\ncancelations = 'drop'\n", "unknown key"),
        ("[cleaning]\ncancellations = 'sometimes'\n", "cancellations"),
        ("[columns]\nbuyer = 'x'\n", "unknown role"),
        ("[rfm]\nas_of = '10/12/2011'\n", "YYYY-MM-DD"),
        (
            "[segments.patterns]\nEveryone = ['[1-5][1-4]']\n[segments.actions]\nEveryone = 'x'\n",
            "exactly one segment",
        ),
        ("[segments.patterns]\nEveryone = ['[1-5][1-5]']\n", "no action for segment"),
        ("not toml = = =", "not valid TOML"),
        ("[engine]\nmemory_limit = 'lots'\n", r"\[engine\] memory_limit = 'lots' is not a size"),
        ("[engine]\nmemory_limit = 4\n", "is not a size"),
        ("[engine]\nthreads = 2\n", r"unknown key\(s\) threads in \[engine\]"),
    ],
)
def test_mistakes_name_the_file_and_the_key(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as err:
        load_config(path)
    assert str(path) in str(err.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "none.toml")
