"""What every command shares: one-line errors printed as text, checks before any work,
Ctrl-C, warnings, OS errors and the ranges of numeric options."""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer.main
from typer.testing import CliRunner

from segwise.cli import app

runner = CliRunner()


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _one_error_line(result: Any, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception)
    lines = [line for line in _lines(result.stderr) if not line.startswith("warning: ")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def orders(retail_sample: pd.DataFrame, tmp_path: Path) -> Path:
    src = tmp_path / "orders.csv"
    retail_sample.head(2000).to_csv(src, index=False)
    return src


def test_version() -> None:
    from segwise import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"segwise {__version__}\n"


# ----------------------------------------------------------------- text, never markup


def test_brackets_in_error_messages_are_printed(tmp_path: Path) -> None:
    """Fix hints name config sections like [read]: Rich used to drop them as style tags."""
    src = tmp_path / "bad.csv"
    src.write_text("CustomerID;InvoiceDate;Quantity;UnitPrice\n"
                   + "".join(f"1;not a date {i};1;2\n" for i in range(50)))
    line = _one_error_line(runner.invoke(app, ["rfm", str(src), "-o", str(tmp_path / "o.csv")]))
    assert "[read] timestamp_format" in line


def test_markup_like_file_names_and_config_text_are_printed_as_they_are(
        orders: Path, tmp_path: Path) -> None:
    odd = tmp_path / "a[/]b[bold]"
    odd.mkdir(parents=True)  # "a[" and "]b[bold]": the path reads a[/]b[bold]
    missing = odd / "orders[/].csv"
    line = _one_error_line(runner.invoke(app, ["rfm", str(missing), "-o",
                                               str(tmp_path / "o.csv")]))
    assert f"{missing}: no such file" in line
    config = tmp_path / "c.toml"
    config.write_text('[segments.actions]\nChampions = "Reward [/] them [red]now[/red]"\n')
    result = runner.invoke(app, ["rfm", str(orders), "-o", str(odd / "o[/].csv"),
                                 "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "Reward [/] them [red]now[/red]" in result.output
    assert f"wrote {odd / 'o[/].csv'}" in result.output.replace("\n", "")


def _walk(command: Any, path: tuple[str, ...] = ()) -> Any:
    for name, sub in getattr(command, "commands", {}).items():
        yield from _walk(sub, (*path, name))
    if not hasattr(command, "commands"):
        yield path, command


COMMANDS = list(_walk(typer.main.get_command(app)))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_help_texts_keep_their_brackets(path: tuple[str, ...], command: Any) -> None:
    shown = " ".join(runner.invoke(app, [*path, "--help"], terminal_width=200).output.split())
    for param in command.params:
        for text in filter(None, [getattr(param, "help", None)]):
            assert " ".join(text.split()) in shown, (param.name, text)
    # Docstrings are the help: reST markup showed as written ("``<out>.locations``").
    assert not re.search(r"``|:(func|class|meth|attr):", shown), shown


# ----------------------------------------------------------------- checks before any work


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a command starts reading order lines or a model."""
    import segwise.jobs
    import segwise.predict

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the run started before its output was checked")

    monkeypatch.setattr(segwise.jobs, "run_job", forbidden)
    monkeypatch.setattr(segwise.predict.TrainedAssigner, "load", forbidden)


def _bad_outputs(tmp_path: Path, orders: Path, suffix: str) -> dict[str, tuple[Path, str]]:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    fake_db = tmp_path / "notes.duckdb"
    fake_db.write_text("my notes, not a database\n")
    return {
        "is_input": (orders, "is also an input of this run"),
        "side_is_input": (orders, "is also an input"),
        "under_a_file": (blocker / "sub" / f"o{suffix}", "cannot create the output folder"),
        "folder": (tmp_path, "is a folder"),
        "suffix": (tmp_path / "o.xlsx", "the output must end in"),
        "not_duckdb": (fake_db, "exists and is not a DuckDB database"),
    }


COMMAND_ARGS = {
    "rfm": lambda src, out, model: ["rfm", str(src), "-o", str(out)],
    "segment": lambda src, out, model: ["segment", str(src), "-o", str(out)],
    "clv": lambda src, out, model: ["clv", str(src), "-o", str(out)],
    "report": lambda src, out, model: ["report", str(src), "-o", str(out)],
    "assigner train": lambda src, out, model: ["assigner", "train", str(src), "-o", str(out)],
    "assign": lambda src, out, model: ["assign", str(model), str(src), "-o", str(out)],
    "track": lambda src, out, model: ["track", str(src), "-o", str(out)],
}


@pytest.mark.parametrize("command", sorted(COMMAND_ARGS))
@pytest.mark.parametrize("case", ["is_input", "side_is_input", "under_a_file", "folder",
                                  "suffix", "not_duckdb"])
def test_outputs_are_checked_before_any_work(command: str, case: str, orders: Path,
                                             tmp_path: Path, no_work: None) -> None:
    suffix = {"report": ".html", "assigner train": ".skops"}.get(command, ".parquet")
    out, message = _bad_outputs(tmp_path, orders, suffix)[case]
    if case == "side_is_input":
        side = {"rfm": "audit", "segment": "profiles", "clv": "params"}
        side["track"] = "cohorts"
        if command not in side:
            pytest.skip("no side files")
        # orders.<side>.csv is the input, and -o orders.parquet would write it.
        orders = orders.rename(orders.with_name(f"orders.{side[command]}.csv"))
        out = orders.with_name("orders.parquet")
    if case == "not_duckdb" and command not in {"rfm", "track"}:
        message = "the output must end in"  # only rfm and track write databases
    if case in ("is_input", "suffix", "not_duckdb") and command == "report":
        # Its suffix is checked first: no report is a .csv, .xlsx or .duckdb.
        message = "a report is written as HTML (.html), Markdown (.md) or JSON (.json), not "
    # A suffix the command cannot write is a usage error (2), as --store x.csv always was;
    # -o x.db exited 1 as if the data were wrong.
    code = 2 if message.startswith(("the output must end in", "a report is")) else 1
    model = tmp_path / "model.skops"
    model.write_bytes(b"not checked")
    before = orders.read_bytes()
    line = _one_error_line(runner.invoke(app, COMMAND_ARGS[command](orders, out, model)),
                           code=code)
    assert message in line
    assert orders.read_bytes() == before


@pytest.mark.parametrize("args", [
    ["report", "{src}", "-o", "{out}"],
    ["mobility", "{src}", "-o", "{tmp}/users.parquet", "--report", "{out}"],
    ["propensity", "train", "{src}", "--target", "Response", "--report", "{out}"],
])
@pytest.mark.parametrize("name", ["report.pdf", "report.docx", "report.txt"])
def test_a_report_in_a_format_segwise_does_not_write_is_refused(
        args: list[str], name: str, orders: Path, tmp_path: Path, no_work: None) -> None:
    # `report -o report.pdf` wrote HTML under the name .pdf without a word (after minutes
    # of work, a file no PDF reader opens); --report of mobility too.
    out = tmp_path / name
    given = [a.format(src=orders, out=out, tmp=tmp_path) for a in args]
    line = _one_error_line(runner.invoke(app, given), code=2)
    assert line == (f"error: {out}: a report is written as HTML (.html), Markdown (.md) or "
                    f"JSON (.json), not {out.suffix}. Fix: end "
                    "the name in .html, .md or .json")
    assert not out.exists()


def test_the_model_file_is_an_input_of_assign(orders: Path, tmp_path: Path,
                                              no_work: None) -> None:
    model = tmp_path / "m.csv"
    model.write_bytes(b"zip")
    line = _one_error_line(runner.invoke(app, ["assign", str(model), str(orders), "-o",
                                               str(model)]))
    assert "m.csv: is also an input" in line
    assert model.read_bytes() == b"zip"


# ----------------------------------------------------------------- OS errors, Ctrl-C, warnings


def test_os_errors_are_one_line_and_keep_the_previous_output(orders: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch):
    out = tmp_path / "c.parquet"
    assert runner.invoke(app, ["rfm", str(orders), "-o", str(out)]).exit_code == 0
    before = out.read_bytes()
    from segwise.store import _files

    def full(df: Any, path: Path) -> None:
        with path.open("wb") as fh:
            fh.write(b"PAR1 half a file")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(_files, "_write_parquet", full)
    line = _one_error_line(runner.invoke(app, ["rfm", str(orders), "-o", str(out)]))
    assert line == f"error: {out}: No space left on device"
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "c.audit.csv", "c.parquet", "orders.csv"]


def test_an_end_of_file_from_a_library_is_one_line_not_a_bare_aborted(
        orders: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Click prints "Aborted!" for an EOFError (it takes it for a closed stdin): a reader
    # that meets a file cut short must still say what happened.
    import segwise.jobs

    def cut_short(*args: Any, **kwargs: Any) -> Any:
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    monkeypatch.setattr(segwise.jobs, "run_job", cut_short)
    line = _one_error_line(runner.invoke(app, ["rfm", str(orders), "-o",
                                               str(tmp_path / "o.csv")]))
    assert line.startswith("error: a file ended before its data did (Compressed file ended")
    assert "Fix: " in line


def test_ctrl_c_in_a_command_exits_130_with_one_line(orders: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import segwise.jobs

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(segwise.jobs, "run_job", interrupted)
    line = _one_error_line(runner.invoke(app, ["rfm", str(orders), "-o",
                                               str(tmp_path / "o.csv")]), code=130)
    assert line.startswith("interrupted: stopped by Ctrl-C")


# A terminal's Ctrl-C: SIGINT with Python's default handler (a test runner started in the
# background may have SIGINT ignored, which its children would inherit).
_SEGWISE = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from segwise.cli import main; sys.argv[0] = 'segwise'; main()")
# The same, with the job run over and over once it has started, so that a signal lands in
# real work however fast the machine is; "started" on stdout says when.
_SEGWISE_FOREVER = _SEGWISE.replace("from segwise.cli", """import segwise.jobs
real = segwise.jobs.run_job
def run_job_forever(*args, **kwargs):
    print("started", flush=True)
    while True:
        real(*args, **kwargs)
segwise.jobs.run_job = run_job_forever
from segwise.cli""")


@pytest.mark.slow
def test_a_real_sigint_exits_130_with_one_line(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.parquet"
    proc = subprocess.Popen(  # noqa: S603 - our interpreter and code
        [sys.executable, "-c", _SEGWISE_FOREVER, "rfm",
         str(shared_data / "uci-online-retail" / "online_retail.csv.gz"), "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "started\n"
        time.sleep(1.0)  # into the reading and cleaning
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()  # never left running, whatever failed
    assert proc.returncode == 130, stderr
    assert _lines(stderr) == ["interrupted: stopped by Ctrl-C; no output was left half-written"]
    assert not out.exists()


def test_warnings_are_one_line_without_source_paths(tmp_path: Path) -> None:
    """Tied frequencies make quantile bins collapse: a UserWarning from segwise itself."""
    src = tmp_path / "orders.csv"
    rows = [f"{c},{o},2011-01-{1 + o % 28:02d},1,{1 + c}" for c in range(30) for o in range(2)]
    src.write_text("CustomerID,InvoiceNo,InvoiceDate,Quantity,UnitPrice\n" + "\n".join(rows))
    run = subprocess.run(  # noqa: S603 - our interpreter and code
        [sys.executable, "-c", _SEGWISE, "rfm", str(src), "-o", str(tmp_path / "o.csv")],
        capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    [line] = _lines(run.stderr)
    assert re.fullmatch(r"warning: quantile bins collapse for [\w, ]+ \(many tied values\): "
                        r"some scores are unused", line), line



def test_a_warning_said_again_in_a_run_is_printed_once(capsys: pytest.CaptureFixture[str]) -> None:
    """A model fitted twice (to compare, then to keep) warns twice; the run says it once.

    Each ``catch_warnings`` block a step leaves resets Python's once-per-place registry,
    so the second fit's warning reached the terminal again.
    """
    import warnings

    from segwise.cli._app import handle_errors
    from segwise.exceptions import SegwiseWarning

    def fit(k: int) -> None:
        with warnings.catch_warnings():  # as a step's own quiet block
            warnings.simplefilter("ignore", RuntimeWarning)
        warnings.warn(f"the SOM forms {k} segment(s)", SegwiseWarning, stacklevel=1)

    @handle_errors
    def command() -> None:
        fit(3)
        fit(3)
        fit(4)

    command()
    assert _lines(capsys.readouterr().err) == [
        "warning: the SOM forms 3 segment(s)", "warning: the SOM forms 4 segment(s)"]


# ----------------------------------------------------------------- numeric ranges


def _options(test: Any) -> list[tuple[tuple[str, ...], Any]]:
    """Every command's options (command path, parameter) that ``test`` accepts."""
    return [(path, param) for path, command in COMMANDS for param in command.params
            if test(param)]


NUMERIC = _options(lambda param: type(param.type).__name__ in {
    "IntParamType", "FloatParamType", "IntRange", "FloatRange"})


def test_every_numeric_option_is_found() -> None:
    names = {f"{' '.join(p)} {param.opts[0]}" for p, param in NUMERIC}
    assert {"segment --k", "segment --min-share", "clv --margin", "assign --horizon",
            "report --categories", "assigner train --orders"} <= names


@pytest.mark.parametrize(("path", "param"), NUMERIC,
                         ids=[f"{' '.join(p)} {param.opts[0]}" for p, param in NUMERIC])
def test_every_numeric_option_has_a_range_checked_before_work(
        path: tuple[str, ...], param: Any, orders: Path, tmp_path: Path, no_work: None) -> None:
    kind = param.type
    assert type(kind).__name__ in {"IntRange", "FloatRange"}, f"{param.opts[0]} has no range"
    assert kind.min is not None and kind.max is not None, f"{param.opts[0]}: open-ended"
    step = 1 if type(kind).__name__ == "IntRange" else 0.5
    args = {"rfm": ["rfm", str(orders), "-o", str(tmp_path / "o.csv")],
            "segment": ["segment", str(orders)],
            "clv": ["clv", str(orders), "-o", str(tmp_path / "o.csv")],
            "report": ["report", str(orders), "-o", str(tmp_path / "o.html")],
            "assigner train": ["assigner", "train", str(orders)],
            "assign": ["assign", str(orders), str(orders), "-o", str(tmp_path / "o.csv")],
            "serve": ["serve", str(tmp_path / "store.duckdb")],
            "track": ["track", str(orders), "-o", str(tmp_path / "t.duckdb")],
            "population": ["population", str(orders), str(orders), "-o", str(tmp_path / "p")],
            "propensity train": ["propensity", "train", str(orders), "--target", "x"],
            "propensity score": ["propensity", "score", str(orders), str(orders), "-o",
                                 str(tmp_path / "s.csv")]}
    for value in (kind.min - step, kind.max + step, kind.max * 10**6):
        shown = str(int(value)) if step == 1 else str(value)
        result = runner.invoke(app, [*args[" ".join(path)], param.opts[0], shown])
        assert result.exit_code == 2, (param.opts[0], value, result.output)
        assert f"Invalid value for '{param.opts[0]}'" in " ".join(result.output.split())
        assert "Traceback" not in result.output


def test_the_reported_probes(orders: Path, no_work: None) -> None:
    for args in (["--k", "100000"], ["--min-share", "2"], ["--k-min", "1"]):
        result = runner.invoke(app, ["segment", str(orders), *args])
        assert result.exit_code == 2 and "Invalid value" in result.output, result.output
    result = runner.invoke(app, ["clv", str(orders), "-o", "o.csv", "--margin", "0"])
    assert result.exit_code == 2 and "0.0 is not above 0" in result.output


def test_k_beyond_the_customers_or_an_inverted_sweep_is_one_line(tmp_path: Path) -> None:
    table = tmp_path / "customers.csv"
    pd.DataFrame({"customer_id": range(20), "recency_days": range(20),
                  "frequency": [1, 2] * 10, "monetary": range(20)}).to_csv(table, index=False)
    line = _one_error_line(runner.invoke(app, ["segment", str(table), "--customers",
                                               "--k", "50"]))
    assert "only 20 customers: too few for 50 segments" in line
    line = _one_error_line(runner.invoke(app, ["segment", str(table), "--customers",
                                               "--k-min", "6", "--k-max", "3"]), code=2)
    assert "--k-min 6 is above --k-max 3" in line


@pytest.mark.parametrize(("sep", "decimal", "thousands", "config"), [
    (",", ".", ",", 'thousands = ","'),
    (";", ",", ".", 'decimal = ","\nthousands = "."'),
])
def test_customer_numbers_in_another_notation_need_the_read_settings(
        shared_data: Path, tmp_path: Path, sep: str, decimal: str, thousands: str,
        config: str) -> None:
    # UCI Wholesale Customers as a European spreadsheet writes it (12.669 / 1.234,5): left
    # as text, Fresh, Milk, ... dropped out of the features, and 6 Channel x Region points
    # were segmented. Now a line names the setting, and with it the result is the plain
    # file's.
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    spend = frame.columns[2:]
    frame[spend] = frame[spend].astype("float64") + 0.5
    plain = tmp_path / "plain.csv"
    frame.to_csv(plain, index=False)
    frame[spend] = frame[spend].map(lambda v: f"{v:,.1f}".replace(",", "_").replace(
        ".", decimal).replace("_", thousands))
    local = tmp_path / "local.csv"
    frame.to_csv(local, index=False, sep=sep)
    line = _one_error_line(runner.invoke(app, ["segment", str(local), "--customers",
                                               "--embed", "", "--compare", ""]))
    assert line.startswith(f"error: {local}: column 'Fresh' reads as text ('12{thousands}669"
                           f"{decimal}5'): ") and "Fix: set [read] " in line, line
    toml = tmp_path / "read.toml"
    toml.write_text(f"[read]\n{config}\n")
    outs = []
    for src, extra in ((local, ["-c", str(toml)]), (plain, [])):
        out = tmp_path / f"{src.stem}_segments.csv"
        result = runner.invoke(app, ["segment", str(src), "--customers", "--k", "3",
                                     "--embed", "", "--compare", "", "-o", str(out), *extra])
        assert result.exit_code == 0, result.output
        outs.append(pd.read_csv(out)["segment"])
    assert outs[0].tolist() == outs[1].tolist()


def test_too_few_customers_for_any_segments_is_one_line(shared_data: Path,
                                                        tmp_path: Path) -> None:
    # Two Wholesale clients: no k of the sweep fits, and the line had neither file nor fix.
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    table = tmp_path / "customers.csv"
    frame.head(2).to_csv(table, index=False)
    line = _one_error_line(runner.invoke(app, ["segment", str(table), "--customers"]))
    assert line == (f"error: {table}: only 2 customer(s): too few to segment (two segments "
                    "need 3). Fix: give more customers")
    frame.head(4).to_csv(table, index=False)
    line = _one_error_line(runner.invoke(app, ["segment", str(table), "--customers",
                                               "--k-min", "4", "--embed", ""]))
    assert "only 4 customers: too few to split into 4 or more segments. Fix: give at least 5 " \
           "customers" in line


def test_rows_of_a_customer_table_left_out_are_counted(shared_data: Path,
                                                      tmp_path: Path) -> None:
    # Wholesale with client ids, two of them blank: the reader quarantined those rows and
    # segment clustered 438 of 440 without a word.
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    frame.insert(0, "customer_id", [f"W{i:03d}" for i in range(len(frame))])
    frame.loc[[5, 9], "customer_id"] = None
    table = tmp_path / "customers.csv"
    frame.to_csv(table, index=False)
    out = tmp_path / "segments.csv"
    result = runner.invoke(app, ["segment", str(table), "--customers", "--k", "3", "--embed",
                                 "", "--compare", "", "-o", str(out)], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert ("note: 2 of 440 rows could not be parsed and are left out (first: row 6, "
            "customer_id: empty).") in result.output
    assert len(pd.read_csv(out)) == 438
    # A spreadsheet's blank rows at the foot were said to be rows that "could not be
    # parsed": each kind of reason is said for what it is.
    table.write_text(frame.to_csv(index=False) + ",,,,,,,,\n" * 3)
    result = runner.invoke(app, ["segment", str(table), "--customers", "--k", "3", "--embed",
                                 "", "--compare", "", "-o", str(out)], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert ("note: 5 of 443 rows are left out: 2 could not be parsed (first: row 6, "
            "customer_id: empty); 3 are blank (no value in any column read; first: row 441)."
            ) in result.output
    table.write_text(frame.dropna().to_csv(index=False) + ",,,,,,,,\n")
    result = runner.invoke(app, ["segment", str(table), "--customers", "--k", "3", "--embed",
                                 "", "--compare", "", "-o", str(out)], terminal_width=300)
    assert ("note: 1 of 439 rows are blank (no value in any column read) and are left out "
            "(first: row 439).") in result.output


def test_customers_with_a_missing_feature_are_left_out_listed_or_filled(
        shared_data: Path, tmp_path: Path) -> None:
    # Customer Personality: 24 of 2,240 customers have a blank Income. The run stopped
    # ("fill or drop them first"), leaving an analyst to edit the export.
    source = shared_data / "kaggle-customer-personality" / "marketing_campaign.csv.gz"
    blank = pd.read_csv(source, sep="\t").query("Income.isna()")["ID"].astype(str)
    args = ["segment", str(source), "--customers", "--k", "3", "--embed", "", "--compare", "",
            "--features", "Income,MntWines,MntMeatProducts,Recency"]
    out, db = tmp_path / "segments.csv", tmp_path / "segwise.duckdb"
    result = runner.invoke(app, [*args, "-o", str(out), "--store", str(db)],
                           terminal_width=400)
    assert result.exit_code == 0, result.output
    listed = tmp_path / "segments.left_out.csv"
    left = pd.read_csv(listed, dtype={"ID": str})
    assert (f"note: 24 of 2,240 rows have a missing or infinite feature and are left out "
            f"(first: ID 1994, Income: missing); listed in {listed}. Fix: fill them in the "
            "file, or --missing median") in " ".join(result.output.split())
    segmented = pd.read_csv(out, dtype={"ID": str})
    assert len(segmented) + len(left) == 2240
    assert sorted(left["ID"]) == sorted(blank) and set(left["reason"]) == {"Income: missing"}
    assert not set(left["ID"]) & set(segmented["ID"])
    # The stored run holds what was segmented (it refused the run: '24 entities have no
    # segment').
    from segwise.store import Store

    run = Store(str(db)).runs()[0]
    assert run["n_entities"] == 2216 and run["entities"] == "entities"
    # [segment] missing = "median": every customer, the medians filled inside the model;
    # the list of the run before, written to the same name, is gone.
    toml = tmp_path / "segment.toml"
    toml.write_text('[segment]\nmissing = "median"\n')
    result = runner.invoke(app, [*args, "-o", str(out), "-c", str(toml)], terminal_width=400)
    assert result.exit_code == 0, result.output
    assert "Income 24 (median 51,381.5)" in result.output
    assert len(pd.read_csv(out)) == 2240 and not listed.exists()
    # Written n/a as many exports do: the same rows, the spelling said.
    frame = pd.read_csv(source, sep="\t")
    frame["Income"] = frame["Income"].astype(object).fillna("n/a")
    spelled = tmp_path / "spelled.csv"
    frame.to_csv(spelled, index=False)
    result = runner.invoke(app, ["segment", str(spelled), *args[2:]], terminal_width=400)
    assert result.exit_code == 0, result.output
    assert "note: Income: 24 values read as missing ('n/a' 24)" in result.output
    assert "note: 24 of 2,240 rows have a missing or infinite feature" in result.output
    # --missing refuse: the one line of before, which now names the other choices.
    line = _one_error_line(runner.invoke(app, [*args, "-c", str(toml), "--missing",
                                               "refuse"]))
    assert line.startswith(f"error: {source}: 24 row(s) have missing or infinite values in "
                           "Income (ID 1994, 5255, 7281, ...). Fix: leave those rows out "
                           "(--missing drop)"), line


def test_columns_left_out_of_inferred_features_are_named(shared_data: Path,
                                                         tmp_path: Path) -> None:
    # Wholesale with its Fresh spend written with a currency: the text column silently
    # dropped out of the clustered features.
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    frame["Fresh"] = frame["Fresh"].astype(str) + " EUR"
    table = tmp_path / "customers.csv"
    frame.to_csv(table, index=False)
    result = runner.invoke(app, ["segment", str(table), "--customers", "--k", "3",
                                 "--embed", "", "--compare", ""], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert (f"note: {table}: not clustered (not number columns): Fresh (text). Fix: name the "
            "columns to cluster with --features") in result.output
    # What each holds, as each is fixed differently: dates and flags were called "not
    # number columns" like text, and so was a column left empty.
    frame["since"] = pd.Timestamp("2012-07-30") + pd.to_timedelta(frame.index, "D")
    frame["retail"] = frame["Channel"] == 2
    frame["notes"] = None
    frame.to_csv(table, index=False)
    result = runner.invoke(app, ["segment", str(table), "--customers", "--k", "3",
                                 "--embed", "", "--compare", ""], terminal_width=400)
    assert result.exit_code == 0, result.output
    assert (f"note: {table}: not clustered (not number columns): Fresh (text), since "
            "(dates), retail (true/false: often an outcome, such as a purchase, to compare "
            "segments by (each segment's share of true is in the profiles) rather than to "
            "cluster on; clustered as 0/1 when named), notes (empty). Fix: name the columns "
            "to cluster with --features") in result.output
    result = runner.invoke(app, ["segment", str(table), "--customers", "--k", "3",
                                 "--embed", "", "--compare", "", "--features", "Milk,Grocery"],
                           terminal_width=300)
    assert result.exit_code == 0 and "not clustered" not in result.output, result.output


def test_features_whose_header_has_a_comma_can_be_named(shared_data: Path,
                                                        tmp_path: Path) -> None:
    # "--features" was split on every comma: a column "Detergents, Paper" (a spreadsheet's
    # header) could not be named at all ("no feature column 'Detergents'").
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    frame = frame.rename(columns={"Detergents_Paper": "Detergents, Paper"})
    table = tmp_path / "customers.csv"
    frame.to_csv(table, index=False)
    out = tmp_path / "segments.csv"
    for given in (['"Detergents, Paper",Milk'], ["Detergents, Paper", "Milk"]):
        options = [part for value in given for part in ("--features", value)]
        result = runner.invoke(app, ["segment", str(table), "--customers", "--k", "3",
                                     "--embed", "", "--compare", "", *options, "-o", str(out)],
                               terminal_width=300)
        assert result.exit_code == 0, result.output
        assert [c for c in pd.read_csv(out.with_suffix(".profiles.csv")).columns
                if c.endswith("_median")] == ["Detergents, Paper_median", "Milk_median"]


# ----------------------------------------------------------------- CSV for spreadsheets


def test_csv_outputs_neutralise_formulas_unless_kept(retail_sample: pd.DataFrame,
                                                     tmp_path: Path) -> None:
    df = retail_sample.head(3000).copy()
    first = df["CustomerID"].replace("", pd.NA).dropna().iloc[0]
    df["CustomerID"] = df["CustomerID"].replace({first: '=HYPERLINK("http://evil.example")'})
    df.loc[5, "Quantity"] = "@SUM(1+1)*cmd|' /C calc'!A0"  # quarantined, raw value kept
    src = tmp_path / "orders.csv"
    df.to_csv(src, index=False)
    for flag, prefix in (([], "'"), (["--keep-formulas"], "")):
        out = tmp_path / f"c{len(flag)}.csv"
        result = runner.invoke(app, ["rfm", str(src), "-o", str(out), *flag])
        assert result.exit_code == 0, result.output
        ids = pd.read_csv(out, dtype={"customer_id": str})["customer_id"]
        assert f'{prefix}=HYPERLINK("http://evil.example")' in set(ids)
        quarantine = pd.read_csv(out.with_name(f"{out.stem}.quarantine.csv"), dtype=str)
        assert quarantine["Quantity"].tolist() == [f"{prefix}@SUM(1+1)*cmd|' /C calc'!A0"]


@pytest.mark.parametrize(("name", "data", "says"), [
    ("empty.csv", b"", "the file is empty. Fix: export the rows again"),
    ("junk.csv", b"a\x00\xff\n\"x\n", "no numeric column to segment on"),
    ("junk.parquet", b"PAR1 not parquet", "cannot read the table ("),
    ("table.xml", b"<x/>", "unknown file type .xml"),
])
def test_an_unreadable_customer_table_is_one_line(tmp_path: Path, name: str, data: bytes,
                                                  says: str) -> None:
    table = tmp_path / name
    table.write_bytes(data)
    line = _one_error_line(runner.invoke(app, ["segment", str(table), "--customers"]))
    assert line.startswith(f"error: {table}: ") and says in line, line


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_the_id_s_fixes_name_the_option_of_the_command_line(shared_data: Path,
                                                            tmp_path: Path, suffix: str) -> None:
    # Two columns that could each be the id: the fix named a config's [columns] role for
    # a CSV, and columns={"person_id": ...}, which no command takes, for Parquet; the note
    # of an id taken by position named --id and id_col= both. Now --id, which works.
    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    frame.insert(0, "Customer ID", [f"W {i:03d}" for i in range(440)])
    frame.insert(1, "customer_id", range(440))
    table = tmp_path / f"customers.{suffix}"
    frame.to_csv(table, index=False) if suffix == "csv" else frame.to_parquet(table)
    args = ["segment", str(table), "--customers", "--k", "3", "--embed", "", "--compare", ""]
    line = _one_error_line(runner.invoke(app, args))
    assert line.endswith('Fix: rename or drop the others, or name it with --id "Customer ID"')
    result = runner.invoke(app, [*args, "--id", "Customer ID", "-o", str(tmp_path / "s.csv")])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "s.csv")["Customer ID"].iloc[0] == "W 000"
    frame.drop(columns=["Customer ID", "customer_id"]).assign(
        client=range(440, 880)).iloc[:, ::-1].to_csv(tmp_path / "first.csv", index=False)
    result = runner.invoke(app, ["segment", str(tmp_path / "first.csv"), "--customers",
                                 "--k", "3", "--embed", "", "--compare", ""],
                           terminal_width=300)
    assert result.exit_code == 0, result.output
    assert ("note: id column: client, the first column (no column is named like an id, and "
            "its values are distinct). Fix: name another with --id") in result.output.splitlines()


# A Ctrl-C that lands while a finalizer runs: Python prints the KeyboardInterrupt and goes
# on ("Exception ignored in ... __del__"), so the command must stop at its next step.
_SEGWISE_CTRL_C_IN_DEL = _SEGWISE.replace("from segwise.cli", """import os, time
import segwise.jobs
real = segwise.jobs.run_job
class Finalised:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)
def run_job_after_a_lost_ctrl_c(*args, **kwargs):
    Finalised()
    print("lost", flush=True)
    return real(*args, **kwargs)
segwise.jobs.run_job = run_job_after_a_lost_ctrl_c
from segwise.cli""")


def test_a_ctrl_c_lost_in_a_finalizer_still_stops_the_command(tmp_path: Path) -> None:
    src = tmp_path / "orders.csv"
    rows = [f"{c},{o},2011-01-{1 + o % 28:02d},1,{1 + c}" for c in range(30) for o in range(2)]
    src.write_text("CustomerID,InvoiceNo,InvoiceDate,Quantity,UnitPrice\n" + "\n".join(rows))
    out = tmp_path / "o.parquet"
    run = subprocess.run(  # noqa: S603 - our interpreter and code
        [sys.executable, "-c", _SEGWISE_CTRL_C_IN_DEL, "rfm", str(src), "-o", str(out)],
        capture_output=True, text=True, check=False, timeout=120)
    assert run.stdout.startswith("lost")
    assert run.returncode == 130, run.stderr
    assert _lines(run.stderr) == [
        "interrupted: stopped by Ctrl-C; no output was left half-written"]
    assert not out.exists()


# ----------------------------------------------------------------- options that would do nothing


def _refusal_cases() -> dict[str, tuple[list[str], str]]:
    """Options given where they would do nothing: args after the command, what is said."""
    c = "--customers"
    return {
        "segment --customers --as-of": (["segment", "{src}", c, "--as-of", "2011-01-01"],
                                        "--as-of does not apply with --customers"),
        "segment --customers --engine spark": (["segment", "{src}", c, "--engine", "spark"],
                                               "--engine does not apply with --customers"),
        "segment --customers --spark-master": (
            ["segment", "{src}", c, "--spark-master", "local[2]"],
            "--spark-master does not apply with --customers"),
        "segment --customers --memory-limit": (
            ["segment", "{src}", c, "--memory-limit", "2GB"],
            "--memory-limit does not apply with --customers"),
        "segment --missing without --customers": (
            ["segment", "{src}", "--missing", "median"],
            "--missing does not apply without --customers"),
        "segment --k --k-min": (["segment", "{src}", "--k", "4", "--k-min", "3"],
                                "--k-min does not apply with --k"),
        "segment --k --min-share": (["segment", "{src}", "--k", "4", "--min-share", "0.1"],
                                    "--min-share does not apply with --k"),
        "segment --embed '' --embed-samples": (
            ["segment", "{src}", "--embed", "", "--embed-samples", "500"],
            "--embed-samples does not apply with --embed ''"),
        "segment --model hdbscan --compare '' --k": (
            ["segment", "{src}", "--model", "hdbscan", "--compare", "", "--k", "4"],
            "--k does not apply with --model hdbscan and --compare ''"),
        "segment --keep-formulas without --output": (
            ["segment", "{src}", "--keep-formulas"],
            "--keep-formulas does not apply without --output"),
        "rfm --spark-master without spark": (
            ["rfm", "{src}", "-o", "{out}.parquet", "--spark-master", "local[2]"],
            "--spark-master does not apply with --engine duckdb"),
        "clv --spark-master without spark": (
            ["clv", "{src}", "-o", "{out}.parquet", "--spark-master", "local[2]"],
            "--spark-master does not apply with --engine duckdb"),
        "track --spark-master without spark": (
            ["track", "{src}", "-o", "{out}.parquet", "--spark-master", "local[2]"],
            "--spark-master does not apply with --engine duckdb"),
        "track --dates --every": (
            ["track", "{src}", "-o", "{out}.parquet", "--dates", "2011-01-01,2011-06-01",
             "--every", "month"], "--every does not apply with --dates"),
        "assigner train --cutoff --test-size": (
            ["assigner", "train", "{src}", "--cutoff", "2011-06-01", "--test-size", "50"],
            "--test-size does not apply with --cutoff"),
        "assigner train --min-history with horizon labels": (
            ["assigner", "train", "{src}", "--min-history", "30"],
            "--min-history does not apply with --labels rfm and --label-date horizon"),
        "assigner train --labels cluster --label-date": (
            ["assigner", "train", "{src}", "--labels", "cluster", "--label-date", "horizon"],
            "--label-date does not apply with --labels cluster"),
        "report --job rfe --margin": (
            ["report", "{src}", "-o", "{out}.html", "--job", "rfe", "--margin", "0.5"],
            "--margin does not apply with --job rfe: its report (events) has no lifetime"),
        "report --job rfe --categories": (
            ["report", "{src}", "-o", "{out}.html", "--job", "rfe", "--categories", "5"],
            "--categories does not apply with --job rfe"),
        "report --job mobility --no-track": (
            ["report", "{src}", "-o", "{out}.html", "--job", "mobility", "--no-track"],
            "--no-track does not apply with --job mobility: its report (pings) has no "
            "snapshots"),
        "report --no-clv --clv-model": (
            ["report", "{src}", "-o", "{out}.html", "--no-clv", "--clv-model", "auto"],
            "--clv-model does not apply with --no-clv"),
        "population --k --k-max": (
            ["population", "{src}", "{src}", "-o", "{out}", "--k", "4", "--k-max", "8"],
            "--k-max does not apply with --k"),
        "propensity train --no-segments --k": (
            ["propensity", "train", "{src}", "--target", "x", "--no-segments", "--k", "4"],
            "--k does not apply with --no-segments"),
        "propensity score --keep-formulas to parquet": (
            ["propensity", "score", "{model}", "{src}", "-o", "{out}.parquet",
             "--keep-formulas"], "--keep-formulas does not apply with a .parquet output"),
        "assign --keep-formulas to parquet": (
            ["assign", "{model}", "{src}", "-o", "{out}.parquet", "--keep-formulas"],
            "--keep-formulas does not apply with a .parquet output"),
    }


REFUSALS = _refusal_cases()


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_an_option_that_would_do_nothing_is_refused_before_work(
        case: str, orders: Path, tmp_path: Path, no_work: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each option given acts or is refused in one line (exit 2): never silently ignored.

    ``segment --customers --as-of 2011-01-01`` clustered the table as it was, as if the
    date had been applied; ``--spark-master`` without ``--engine spark`` ran DuckDB.
    """
    from segwise.features import EntityTable

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the table was read before the options were checked")

    monkeypatch.setattr(EntityTable, "read", forbidden)
    model = tmp_path / "model.skops"
    model.write_bytes(b"never read")
    args, says = REFUSALS[case]
    filled = [a.format(src=orders, out=tmp_path / "out", model=model) for a in args]
    line = _one_error_line(runner.invoke(app, filled), code=2)
    assert says in line and "Fix:" in line, line


def test_options_that_act_in_a_mode_are_not_refused(orders: Path, tmp_path: Path) -> None:
    """The same options where they act: a ready table read by DuckDB, a sweep's bounds."""
    table = tmp_path / "customers.csv"
    pd.DataFrame({"customer_id": range(40), "recency_days": [i % 7 * 30 for i in range(40)],
                  "frequency": [1 + i % 5 for i in range(40)],
                  "monetary": [10.0 * (1 + i % 9) for i in range(40)]}).to_csv(table, index=False)
    result = runner.invoke(app, ["segment", str(table), "--customers", "--engine", "duckdb",
                                 "--k-min", "2", "--k-max", "3", "--compare", "", "--embed",
                                 ""])
    assert result.exit_code == 0, result.output


# ----------------------------------------------------------------- dates


def _date_option(param: Any) -> bool:
    from segwise.cli._app import read_day, read_days

    func = getattr(param.type, "func", None)
    return type(param.type).__name__ == "DateTime" or func in (read_day, read_days)


DATES = _options(_date_option)


def test_every_date_option_is_found() -> None:
    names = {f"{' '.join(p)} {param.opts[0]}" for p, param in DATES}
    assert {"rfm --as-of", "rfe --as-of", "segment --as-of", "report --as-of",
            "clv --calibration-end", "track --dates", "assigner train --cutoff",
            "mobility --as-of"} <= names


@pytest.mark.parametrize(("value", "says"), [
    ("2011-06-01T10:00", "has a time of day or a time zone after the day"),
    ("2011-06-01 10:00:00", "has a time of day or a time zone after the day"),
    ("2011-06-01+02:00", "has a time of day or a time zone after the day"),
    ("01/06/2011", "day/month or month/day"),
    ("2011-02-30", "is not a day of the calendar"),
    ("June 1", "is not a date written as YYYY-MM-DD"),
])
@pytest.mark.parametrize(("path", "param"), DATES,
                         ids=[f"{' '.join(p)} {param.opts[0]}" for p, param in DATES])
def test_every_date_option_takes_whole_days_and_says_why_not(
        path: tuple[str, ...], param: Any, value: str, says: str, orders: Path,
        tmp_path: Path, no_work: None) -> None:
    """One parser for every date a user types: nothing is dropped or read two ways.

    ``track --dates 1997-06-01T10:00`` dropped the time, ``01/06/1997`` read as January
    there, and ``--as-of 2011-02-30`` was 'does not match the format'.
    """
    args = {"rfm": ["rfm", str(orders), "-o", str(tmp_path / "o.csv")],
            "rfe": ["rfe", str(orders), "-o", str(tmp_path / "o.csv")],
            "segment": ["segment", str(orders)],
            "report": ["report", str(orders), "-o", str(tmp_path / "o.html")],
            "clv": ["clv", str(orders), "-o", str(tmp_path / "o.csv")],
            "track": ["track", str(orders), "-o", str(tmp_path / "t.parquet")],
            "mobility": ["mobility", str(orders), "-o", str(tmp_path / "u.parquet")],
            "assigner train": ["assigner", "train", str(orders)]}[" ".join(path)]
    shown = value if param.opts[0] != "--dates" else f"2011-01-01,{value}"
    result = runner.invoke(app, [*args, param.opts[0], shown])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"Invalid value for '{param.opts[0]}'" in text and says in text and "Fix:" in text
    assert "Traceback" not in result.output
