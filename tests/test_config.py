"""The TOML config: every section, and clear errors for mistakes."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from segwise.config import load_config, register_section
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
        ("[engine]\nmemory_limit = 4\n", r"\[engine\] memory_limit = 4: expected a string"),
        ("[engine]\nthreads = 2\n", r"unknown key\(s\) threads in \[engine\]"),
    ],
)
def test_mistakes_name_the_file_and_the_key(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as err:
        load_config(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("written", ["2015-05-22", '"2015-05-22"'])
def test_the_rfe_reference_date_is_a_date_written_either_way(tmp_path: Path,
                                                             written: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[rfe]\nas_of = {written}\n")
    assert load_config(path, kind="events").section("rfe").as_of == dt.date(2015, 5, 22)
    path.write_text("[rfe]\nas_of = '22/05/2015'\n")
    with pytest.raises(ConfigError, match=r"\[rfe\] as_of = .*expected a date \(YYYY-MM-DD\)"):
        load_config(path, kind="events")


def test_a_config_saved_with_a_byte_order_mark_and_crlf_is_read(tmp_path: Path) -> None:
    path = tmp_path / "notepad.toml"
    path.write_bytes(b'\xef\xbb\xbf[rfm]\r\nas_of = "2011-12-01"\r\n')
    assert load_config(path).as_of == dt.date(2011, 12, 1)


def test_a_section_s_own_checks_speak_python_from_python() -> None:
    # CleaningRules(cancellations="x") said "[cleaning] cancellations = 'x'", a config
    # file's words to someone who wrote no config file; so did every other section.
    from segwise.clean import CleaningRules, PingRules
    from segwise.features.rfe import SessionSettings

    for make, message in [
        (lambda: CleaningRules(cancellations="drop all"),
         r"^CleaningRules\(cancellations=\"drop all\"\): use 'net', 'drop' or 'keep'$"),
        (lambda: CleaningRules(outlier_max_z=0), r"^CleaningRules\(outlier_max_z=0\): must be"),
        (lambda: PingRules(min_pings=0), r"^PingRules\(min_pings=0\): must be an integer >= 1$"),
        (lambda: SessionSettings(gap_minutes=-5), r"^SessionSettings\(gap_minutes=-5\) must"),
    ]:
        with pytest.raises(ConfigError, match=message):
            make()


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "none.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[rfm]\nas_of = 12\n", "[rfm] as_of = 12: expected a date (YYYY-MM-DD)"),
        ('[cleaning]\noutlier_max_z = "x"\n',
         '[cleaning] outlier_max_z = "x": expected a finite number'),
        ("[cleaning]\noutlier_max_z = nan\n",
         "[cleaning] outlier_max_z = nan: expected a finite number"),
        ('[cleaning]\nduplicates = "no"\n', '[cleaning] duplicates = "no": expected true or false'),
        ('[cleaning]\nnon_product_codes = "POST"\n',
         '[cleaning] non_product_codes = "POST": expected a list of strings'),
        ('[cleaning]\nnon_product_pattern = "("\n',
         '[cleaning] non_product_pattern = "(" is not a regular expression'),
        ("[pings]\nmin_pings = 0\n", "[pings] min_pings = 0: must be an integer >= 1"),
        ("[mobility]\nparts_of_day = [6, 0, 12, 18]\n",
         "[mobility] parts_of_day = [6, 0, 12, 18]: four increasing start hours"),
        ('[read]\ntimestamp_format = "%Q"\n', '[read] timestamp_format = "%Q": '),
        ("[read]\nsheet = 1.5\n", "[read] sheet = 1.5: expected a string or a whole number"),
        ("[read]\nmax_quarantine_share = 2\n", "[read] max_quarantine_share = 2.0: expected a "
                                              "share between 0 and 1"),
        ('[read]\nlatest_date = "soon"\n',
         '[read] latest_date = "soon": expected a date (YYYY-MM-DD)'),
        # Only YYYY-MM-DD, as every date option of the CLI: ISO's other layouts of a day
        # (20111210, a week date) and a time of day are not read as a day.
        ('[rfm]\nas_of = "20111210"\n', '[rfm] as_of = "20111210": expected a date (YYYY-MM-DD)'),
        ('[rfm]\nas_of = "2011-W49"\n', '[rfm] as_of = "2011-W49": expected a date (YYYY-MM-DD)'),
        ('[rfm]\nas_of = "2011-12-10T10:00"\n',
         '[rfm] as_of = "2011-12-10T10:00": expected a date (YYYY-MM-DD)'),
        ("[columns]\ncustomer_id = 12\n", "[columns] customer_id = 12: expected a string"),
        ('[segments.patterns]\nLost = "1[1-2]"\n',
         '[segments] patterns = {Lost = "1[1-2]"}: expected a table of lists of strings'),
        ("read = 5\n", "read = 5: [read] must be a section"),
    ],
)
def test_values_are_checked_against_the_schema(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: {message}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # One inline table where a list of them is expected.
        ('[read]\njoin = {table = "SearchInfo", on = "SearchID"}\n',
         '[read] join = {table = "SearchInfo", on = "SearchID"}: expected a list of tables '
         'like {table = "...", on = "key column"}. Fix: join = [{table = "SearchInfo", '
         'on = "SearchID"}] (or a [[read.join]] block for each)'),
        ('[read]\njoin = [{table = "SearchInfo"}]\n',
         '[read] join: {table = "SearchInfo"} lacks on. Fix: set [read] join = '
         '[{table = "SearchInfo", on = "key column"}] (on takes a list for several keys)'),
        ('[read]\njoin = [{table = "S", on = "k", how = "left"}]\n',
         '[read] join: {table = "S", on = "k", how = "left"} has unknown key(s) how. '
         'Fix: set [read] join = [{table = "S", on = "k"}]'),
        ('[read]\njoin = ["SearchInfo"]\n',
         '[read] join: "SearchInfo" is not a table name with key columns. '
         'Fix: set [read] join = [{table = "SearchInfo", on = "key column"}]'),
        # A single value where a list is expected, numbers and flags in quotes, text
        # without them, a whole number written with a point, a list of one.
        ('[rfe]\nscore = "clicks"\n',
         '[rfe] score = "clicks": expected a list of strings. Fix: score = ["clicks"]'),
        ('[sessions]\ngap_minutes = "45"\n',
         '[sessions] gap_minutes = "45": expected a finite number. Fix: gap_minutes = 45'),
        ('[sessions]\ngap_minutes = "an hour"\n',
         '[sessions] gap_minutes = "an hour": expected a finite number. Fix: write it like '
         'gap_minutes = 30.0'),
        ('[events]\ndeduplicate = "no"\n',
         '[events] deduplicate = "no": expected true or false. Fix: deduplicate = false'),
        ("[read]\nheader = 0\n",
         "[read] header = 0: expected true or false. Fix: header = false"),
        ("[read]\ntable = 2015\n", '[read] table = 2015: expected a string. Fix: table = "2015"'),
        ("[read]\nskip_rows = 2.0\n",
         "[read] skip_rows = 2.0: expected a whole number. Fix: skip_rows = 2"),
        ("[rfe]\nctr_prior = [50]\n",
         "[rfe] ctr_prior = [50]: expected a finite number. Fix: ctr_prior = 50"),
        ("[rfe]\nas_of = 2015-05-21T10:00:00\n",
         "[rfe] as_of = 2015-05-21T10:00:00: expected a date (YYYY-MM-DD). "
         "Fix: as_of = 2015-05-21"),
        # Unknown keys: the near one named; a key above every section header placed.
        ("[rfe]\nasof = 2015-05-21\n",
         "unknown key(s) asof in [rfe]. Fix: as_of? valid keys: as_of, score, ctr_prior"),
        ("[sessions]\ngap = 20\n", "unknown key(s) gap in [sessions]. Fix: gap_minutes?"),
        ("ctr_prior = 50\n[rfe]\n",
         "ctr_prior = 50 is outside any section. Fix: put it under [rfe], after the header"),
    ],
)
def test_mistyped_values_are_named_with_their_fix(tmp_path: Path, text: str,
                                                  message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path, kind="events")
    assert str(err.value).startswith(f"{path}: {message}")


def test_dates_and_lists_are_converted(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[read]\nlatest_date = 2011-12-31\n[rfm]\nas_of = "2011-12-10"\n'
                    '[cleaning]\nadjustment_prefixes = ["A", "ADJ"]\n')
    cfg = load_config(path)
    assert cfg.read.latest_date == dt.date(2011, 12, 31) and cfg.as_of == dt.date(2011, 12, 10)
    assert cfg.cleaning.adjustment_prefixes == ("A", "ADJ")


@dataclass(frozen=True)
class _Sessions:
    """A kind's own section, as a kind registers it."""

    gap_minutes: int = 30
    by_device: bool = False
    events: tuple[str, ...] = ()
    weight: float = 1.0
    mode: Literal["gap", "given"] = "gap"


register_section("test_sessions", _Sessions)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('gap_minutes = "30"', 'gap_minutes = "30": expected a whole number'),
        ("gap_minutes = 30.5", "gap_minutes = 30.5: expected a whole number"),
        ('by_device = "yes"', 'by_device = "yes": expected true or false'),
        ("events = [1, 2]", "events = [1, 2]: expected a list of strings"),
        ("weight = true", "weight = true: expected a finite number"),
        ('mode = "auto"', 'mode = "auto": expected one of "gap", "given"'),
        ("gaps = 3", "unknown key(s) gaps in [test_sessions]"),
    ],
)
def test_registered_sections_are_checked_like_built_in_ones(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[test_sessions]\n{text}\n")
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        load_config(path)
    assert str(path) in str(err.value)
    path.write_text('[test_sessions]\ngap_minutes = 20\nevents = ["click"]\nweight = 2\n')
    section = load_config(path).section("test_sessions")
    assert section == _Sessions(gap_minutes=20, events=("click",), weight=2.0)


def _every_field() -> list[tuple[str, str, str]]:
    """(section, key, a value of the wrong type) for every key of every section a file may
    have, the kinds' own included: an inline table, or a string where a table fits."""
    import dataclasses
    import types
    import typing
    from collections.abc import Mapping

    import segwise.jobs  # noqa: F401  (registers every built-in kind's sections)
    from segwise.clean import CleaningRules
    from segwise.config import registered_sections
    from segwise.io import ReadOptions

    def wrong(tp: object) -> str:
        union = typing.get_origin(tp) in (typing.Union, types.UnionType)
        args = typing.get_args(tp) if union else (tp,)
        tables = any(typing.get_origin(a) in (dict, Mapping) or a in (dict, Mapping)
                     for a in args)
        return '"x"' if tables else "{ x = 1 }"

    sections = {"read": ReadOptions, "cleaning": CleaningRules, **registered_sections()}
    return [(name, f.name, wrong(typing.get_type_hints(cls)[f.name]))
            for name, cls in sections.items() if not name.startswith("test_")
            for f in dataclasses.fields(cls) if f.init]


def test_every_section_covers_the_built_in_kinds() -> None:
    from segwise.io import kinds

    assert {"orders", "events", "pings"} <= set(kinds())
    assert {"events", "sessions", "rfe", "project", "serve", "pings", "mobility",
            "campaign"} <= {s for s, _, _ in _every_field()}


@pytest.mark.parametrize(("section", "key", "value"), _every_field())
def test_every_key_of_every_section_is_type_checked(tmp_path: Path, section: str, key: str,
                                                    value: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[{section}]\n{key} = {value}\n")
    shown = "{x = 1}" if value.startswith("{") else value
    with pytest.raises(ConfigError, match=re.escape(f"[{section}] {key} = {shown}: expected")):
        load_config(path)
