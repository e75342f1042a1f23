"""The Typer application every command module registers on, and shared CLI helpers."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import inspect
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from segwise.exceptions import ConfigError, SegwiseError, SegwiseNote, UsageError, mapping_way

if TYPE_CHECKING:
    from segwise.jobs import JobResult
    from segwise.store import RunRecord

__all__ = [
    "AsOfOpt",
    "ConfigOpt",
    "EngineChoice",
    "EngineOpt",
    "JobsOpt",
    "KeepFormulasOpt",
    "MasterOpt",
    "MemoryOpt",
    "OrderLinesArg",
    "StoreOpt",
    "app",
    "check_engine_options",
    "check_keep_formulas",
    "console",
    "err_console",
    "handle_errors",
    "new_app",
    "notice",
    "notice_quarantine",
    "print_actions",
    "print_audit",
    "print_entities",
    "print_result",
    "progress",
    "read_day",
    "read_days",
    "refuse_given",
    "run_with_progress",
    "save_run",
]


def new_app(**kwargs: Any) -> typer.Typer:
    """Make a Typer application (or command group) whose help is printed as plain text.

    Rich markup is off: a help text such as "default: [engine] memory_limit" keeps its
    brackets, which Rich would take for a style tag and drop.
    """
    return typer.Typer(no_args_is_help=True, add_completion=False,
                       pretty_exceptions_enable=False, rich_markup_mode=None, **kwargs)


app = new_app(
    name="segwise",
    help="Turn raw customer data into customer segments a business can act on.",
)


def _print_version(value: bool) -> None:
    """Print the installed version and stop (``segwise --version``)."""
    if value:
        from segwise import __version__

        typer.echo(f"segwise {__version__}")
        raise typer.Exit


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = False) -> None:
    """Turn raw customer data into customer segments a business can act on."""


# Markup off: text from data, configs and file names is printed as it is (a "[/]" in a
# file name would otherwise raise a MarkupError); styles are applied with Text objects.
console = Console(markup=False)
err_console = Console(stderr=True, markup=False, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


def notice(label: str, text: str, *, style: str = "yellow", out: Console = console) -> None:
    """Print one line: a styled label (``warning:``, ``note:``) and plain text."""
    out.print(Text.assemble((f"{label}:", style), " ", text), highlight=False, soft_wrap=True)


def notice_quarantine(quarantine: Any, n_input: int, what: str = "lines") -> None:
    """Say how many input rows were left out, of what reasons, and the first of each.

    Parameters
    ----------
    quarantine : pyarrow.Table or None
        The quarantine (``row``, ``reason``, raw values); nothing is said when empty.
    n_input : int
        Rows read, the quarantined ones included.
    what : str, default="lines"
        What a row is, in the note.
    """
    from segwise.io import quarantine_note

    said = quarantine_note(quarantine, n_input, what)
    if said:
        notice("note", f"{said}.")


def print_actions(actions: Iterable[tuple[str, str]]) -> None:
    """Print each segment's recommended action, the segment name in bold."""
    console.print(Text("Recommended actions", style="bold"))
    for segment, action in actions:
        console.print(Text.assemble(("  " + str(segment), "bold"), ": ", str(action)),
                      highlight=False)


def _os_error(exc: OSError) -> str:
    """One line for an OS error: the file(s) and the system's reason."""
    where = ": ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
    reason = exc.strerror or str(exc)
    return f"{where}: {reason}" if where else reason


def _show_warning(message: Warning | str, category: type[Warning], filename: str,
                  lineno: int, file: Any = None, line: str | None = None, *,
                  shown: set[tuple[str, str]]) -> None:
    """Print a Python warning as one line, without the source path and line it came from.

    A :class:`~segwise.exceptions.SegwiseNote` is a ``note:``, as the command's own notes.
    A line already printed in this run (``shown``) is not printed again: a model fitted
    twice (once to compare, once to keep) says the same thing twice.
    """
    text = str(message).strip().splitlines()
    said = ("note" if issubclass(category, SegwiseNote) else "warning",
            text[0] if text else category.__name__)
    if said not in shown:
        shown.add(said)
        notice(*said, out=err_console)


def _interrupted(exc: BaseException | None) -> bool:
    """Whether Ctrl-C caused ``exc``: Python's KeyboardInterrupt, or DuckDB's own.

    DuckDB catches SIGINT while a query runs and raises ``RuntimeError("Query
    interrupted")`` (or an ``InterruptException``), which a reader may have wrapped.
    """
    while exc is not None:
        if isinstance(exc, KeyboardInterrupt) or type(exc).__name__ == "InterruptException":
            return True
        if isinstance(exc, RuntimeError) and str(exc) == "Query interrupted":
            return True
        exc = exc.__cause__ or exc.__context__
    return False


#: Set by Ctrl-C (:func:`_on_ctrl_c`). The KeyboardInterrupt it raises is printed and lost
#: when it lands in a finalizer (an object's ``__del__`` that ran just then), so the next
#: step of a command (:func:`progress`) raises it again.
_CTRL_C = threading.Event()


def _on_ctrl_c(signum: int, frame: Any) -> None:
    _CTRL_C.set()
    raise KeyboardInterrupt


def _raise_if_ctrl_c() -> None:
    """Raise the KeyboardInterrupt of a Ctrl-C that a finalizer swallowed."""
    if _CTRL_C.is_set():
        raise KeyboardInterrupt

JobsOpt = Annotated[
    int,
    typer.Option("--jobs", "-j", min=-1, max=256,
                 help="Processes fitting models at once (-1: one per core); every fit is "
                      "seeded, so the results do not depend on it."),
]


@contextlib.contextmanager
def _ctrl_c_handler() -> Iterator[None]:
    """Catch Ctrl-C with :func:`_on_ctrl_c` while a command runs (main thread only)."""
    _CTRL_C.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous, hook = signal.signal(signal.SIGINT, _on_ctrl_c), sys.unraisablehook

    def unraisable(info: Any) -> None:
        # The lost KeyboardInterrupt is raised again at the next step: no traceback, so
        # that Ctrl-C still ends in one line.
        if not issubclass(info.exc_type, KeyboardInterrupt):
            hook(info)

    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = hook


def handle_errors(func: F) -> F:
    """Run a command so that whatever goes wrong ends in one line on stderr.

    Options that do not go together (:class:`~segwise.exceptions.UsageError`) exit with
    status 2 and their message; other library errors with status 1 and their message; OS
    errors (disk full, permission denied) with status 1 and the file and the reason; Ctrl-C
    with status 130. Python warnings are printed as one ``warning:`` line each, once a run, without
    source paths. A ``--store`` that is also one of the command's files is refused
    before it runs (:func:`_check_store_apart`).
    """
    # `--store` (optional) is where the run is also written; `serve STORE` reads one.
    store = inspect.signature(func).parameters.get("store")
    store_option = store is not None and store.default is None

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings(), _ctrl_c_handler(), mapping_way("config"):
            warnings.showwarning = functools.partial(_show_warning, shown=set())
            try:
                if store_option:
                    _check_store_apart(kwargs)
                return func(*args, **kwargs)
            except BaseException as exc:
                if _interrupted(exc):
                    notice("interrupted", "stopped by Ctrl-C; no output was left half-written",
                           style="bold red", out=err_console)
                    raise typer.Exit(130) from None
                # Engine failures a user can fix (DuckDB out of memory under a limit).
                from segwise._engine import engine_error

                error = exc if isinstance(exc, SegwiseError) else engine_error(exc)
                if error is not None:
                    notice("error", str(error), style="bold red", out=err_console)
                    raise typer.Exit(2 if isinstance(error, UsageError) else 1) from exc
                if isinstance(exc, OSError):
                    notice("error", _os_error(exc), style="bold red", out=err_console)
                    raise typer.Exit(1) from exc
                if isinstance(exc, EOFError):
                    # Click would print a bare "Aborted!" for it, as for a closed stdin.
                    notice("error", f"a file ended before its data did ({exc or 'EOFError'}). "
                           "Fix: check that the input is complete", style="bold red",
                           out=err_console)
                    raise typer.Exit(1) from exc
                raise

    return wrapper  # type: ignore[return-value]


def _check_store_apart(params: dict[str, Any]) -> None:
    """Refuse, before any work, a ``--store`` DuckDB file that the run also reads or writes.

    ``params`` are the command's arguments; ``--store`` is the only string among them
    that names a file (the others are paths).

    A source database is no store of its own results (it is held open for reading), and
    an output written into the store's file would be taken for a store, or overwrite it.
    """
    store = params.get("store")
    text = store.removeprefix("duckdb:///") if isinstance(store, str) else "://"
    if "://" in text:  # no store, or a server's
        return
    target = Path(text)
    for name, value in params.items():
        if isinstance(value, Path) and _same_file(value, target):
            raise UsageError(f"--store {target}: is also this run's {name.replace('_', ' ')}. "
                              "Fix: give --store a .duckdb file of its own (a store keeps "
                              "only segwise's runs)")


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same file if both exist, else the same path."""
    if a.exists() and b.exists():
        return a.samefile(b)
    return a.resolve() == b.resolve()


# Options shared by every command that reads an order-line file.

OrderLinesArg = Annotated[
    Path,
    typer.Argument(
        help="Order lines: CSV (also .gz, .bz2, .xz, .zip), Parquet, Excel, JSON lines, "
             "SQLite or DuckDB file."
    ),
]


class EngineChoice(StrEnum):
    """Engines the CLI offers."""

    duckdb = "duckdb"
    spark = "spark"


ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML config (columns, read, cleaning, ...).")
]


def given(ctx: typer.Context, name: str) -> bool:
    """Whether the user gave the command's option ``name`` (not its default)."""
    source = ctx.get_parameter_source(name)
    # By name: Typer vendors its own copy of click's enum in recent versions.
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def refuse_given(ctx: typer.Context, reasons: dict[str, str]) -> None:
    """Refuse an option the user gave that would do nothing in what was asked.

    An option taken and then ignored lets a user believe it acted (``--as-of`` on a
    ready entity table, ``--test-size`` beside ``--cutoff``): each must act or be refused.

    Parameters
    ----------
    ctx : typer.Context
        The running command's context.
    reasons : dict of str to str
        Option parameter names (``"as_of"``) to why the option does not apply here and
        what to do instead; only the options the user gave are refused.

    Raises
    ------
    UsageError
        For the first option given, as ``--as-of does not apply <reason>``.
    """
    for name, why in reasons.items():
        if given(ctx, name):
            param = next(p for p in ctx.command.params if p.name == name)
            # A --x/--no-x flag is named as it was given.
            off = ctx.params.get(name) is False and getattr(param, "secondary_opts", None)
            flag = param.secondary_opts[0] if off else param.opts[0]
            raise UsageError(f"{flag} does not apply {why}")


def check_keep_formulas(ctx: typer.Context, output: Path) -> None:
    """Refuse ``--keep-formulas`` for a command whose one output is not CSV."""
    if output.suffix.lower() != ".csv":
        refuse_given(ctx, {"keep_formulas": f"with a {output.suffix or 'suffix-less'} output: "
                                            "it keeps CSV text as it is, and no CSV is "
                                            "written. Fix: write .csv, or leave out "
                                            "--keep-formulas"})


def check_engine_options(engine: str, spark_master: str | None) -> None:
    """Refuse ``--spark-master`` without ``--engine spark``: DuckDB would run instead."""
    if spark_master is not None and str(engine) != EngineChoice.spark:
        raise UsageError(f"--spark-master does not apply with --engine {engine}: it names the "
                         "Spark cluster that --engine spark runs on. Fix: add --engine spark, "
                         "or leave out --spark-master")


def read_day(value: str | dt.date) -> dt.date:
    """Read a date option (``YYYY-MM-DD``, see :func:`segwise._time.parse_day`)."""
    from segwise._time import parse_day

    if isinstance(value, dt.date):  # a default, already a day
        return value
    try:
        return parse_day(value, "")
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None


def read_days(value: str | tuple[dt.date, ...]) -> tuple[dt.date, ...]:
    """Read a comma-separated list of dates (``--dates``), each as :func:`read_day` does."""
    if isinstance(value, tuple):
        return value
    days = tuple(read_day(part) for part in value.split(",") if part.strip())
    if not days:
        raise typer.BadParameter(f"{value!r} names no date. Fix: give dates such as "
                                 "2011-01-01,2011-07-01")
    return days


AsOfOpt = Annotated[
    dt.date | None,
    typer.Option("--as-of", parser=read_day, metavar="YYYY-MM-DD",
                 help="Reference date for recency (YYYY-MM-DD), a whole day."),
]
EngineOpt = Annotated[EngineChoice, typer.Option("--engine", help="Table engine.")]
MasterOpt = Annotated[
    str | None, typer.Option("--spark-master", help="Spark master URL (default local[*]).")
]
KeepFormulasOpt = Annotated[
    bool,
    typer.Option("--keep-formulas", help="Write CSV text as it is. By default a text cell a "
                                         "spreadsheet would run as a formula (starting with =, "
                                         "+, - or @, and not a number) gets a leading '."),
]
def _check_store(value: str | None) -> str | None:
    """Check a ``--store`` while the options are read: a server that is down fails now."""
    if value is not None:
        from segwise.store import check_store

        try:
            check_store(value)
        except SegwiseError as exc:
            raise typer.BadParameter(str(exc)) from exc
    return value


StoreOpt = Annotated[
    str | None,
    typer.Option("--store", callback=_check_store,
                 help="Also write the results into a store, as one run: a .duckdb file or a "
                      "postgresql:// URL."),
]
MemoryOpt = Annotated[
    str | None,
    typer.Option("--memory-limit", help="Cap on DuckDB's memory, e.g. 4GB; it spills to disk "
                                        "beyond it (default: [engine] memory_limit, else 80 % "
                                        "of RAM)."),
]


@contextlib.contextmanager
def progress(first: str, *, every: float = 5.0) -> Iterator[Callable[[str], None]]:
    """Show what a long command is doing, so that it is never silent for long.

    On a terminal, a spinner names the current step and the seconds since the command
    started. Elsewhere (a log, a pipe), a line on stderr names the current step whenever
    nothing was said for ``every`` seconds: a short command prints nothing more, a long
    one a line every few seconds, and the results on stdout stay clean.

    Parameters
    ----------
    first : str
        The first step.
    every : float, default=5.0
        Seconds of silence after which a log gets a line.

    Yields
    ------
    callable
        Called with each next step; raises KeyboardInterrupt if Ctrl-C was pressed and its
        own was lost (see :data:`_CTRL_C`).
    """
    start = time.perf_counter()

    def stamp(text: str) -> str:
        return f"{text} ({time.perf_counter() - start:.0f} s)"

    if console.is_terminal:
        with console.status(stamp(first), spinner="dots") as status:

            def update(text: str) -> None:
                _raise_if_ctrl_c()
                status.update(stamp(text))

            yield update
        return
    current = [first]
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(every):
            err_console.print(stamp(current[0]), highlight=False, soft_wrap=True)

    beat = threading.Thread(target=heartbeat, daemon=True)
    beat.start()

    def step(text: str) -> None:
        _raise_if_ctrl_c()
        current[0] = text

    try:
        yield step
    finally:
        done.set()
        beat.join()


def run_with_progress(
    source: Path,
    *,
    job: str = "rfm",
    config: Path | None = None,
    as_of: dt.date | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    memory_limit: str | None = None,
    adjust: Callable[[Any], Any] | None = None,
) -> Any:
    """Run a job from the shared options, with a spinner naming each step.

    ``adjust`` takes the loaded config and returns it changed by command options
    (``segwise mobility --pois``). Returns the job's result
    (:class:`~segwise.jobs.RFMResult` for ``rfm``).
    """
    from segwise.config import load_config
    from segwise.jobs import get_job, run_job

    check_engine_options(engine, spark_master)
    spec = get_job(job)
    loaded = load_config(config, memory_limit=memory_limit, kind=spec.kind)
    with progress("Starting") as say:
        return run_job(
            spec,
            source,
            config=adjust(loaded) if adjust is not None else loaded,
            as_of=as_of,
            engine=str(engine),
            spark_master=spark_master,
            progress=lambda step: say(spec.steps.get(step, step)),
        )


def print_result(result: JobResult) -> None:
    """Print a job's named segments, their actions, and the cleaning audit.

    Every job's command prints through here: the segment table when the job names
    segments, then the audit.
    """
    schema = result.entities.schema
    if result.segment_map is not None and schema.segment_col is not None:
        # Arrow rows, not DataFrames: the command never needs to import pandas.
        summary = result.segment_summary_table().to_pylist()
        title = f"{schema.name.upper()} segments"
        seg = Table(title=title + (f" (as of {result.as_of})" if result.as_of else ""),
                    title_justify="left")
        seg.add_column("Segment")
        for header in (schema.entities.capitalize(), "Share",
                       *(["Revenue share"] if schema.value_col else [])):
            seg.add_column(header, justify="right")
        for col in result.summary_features:
            seg.add_column(_median_header(schema.feature(col)), justify="right")
        for row in summary:
            seg.add_row(
                row["segment"], f"{row[schema.entities]:,}", f"{row['share']:.1%}",
                *([f"{row['revenue_share']:.1%}"] if schema.value_col else []),
                *(_num(row[f"median_{c}"], 2 if schema.feature(c).unit == "currency" else 0)
                  for c in result.summary_features),
            )
        console.print(seg)
        print_actions((row["segment"], row["action"]) for row in summary)
    print_audit(result.audit_table)
    print_entities(result.entities)


def print_entities(entities: Any) -> None:
    """Print how many entities the input held and how many the output has.

    Rows are reconciled by the audit; this is the same for entities (customers), whose
    ids may all have been removed by cleaning without a row going missing.
    """
    n_in, n_out = entities.n_input_entities, entities.n_entities
    name = entities.schema.entities
    if n_in is None:
        console.print(f"{name.capitalize()}: {n_out:,} out", highlight=False)
        return
    console.print(
        f"{name.capitalize()}: {n_in:,} in the rows that parsed, {n_out:,} out; "
        f"{n_in - n_out:,} {'has' if n_in - n_out == 1 else 'have'} no row (every row of "
        "theirs removed, see the audit)",
        highlight=False,
    )


def _median_header(feature: Any) -> str:
    """``Median R (days)``: the feature's short name, its unit unless it is money."""
    unit = f" ({feature.unit})" if feature.unit and feature.unit != "currency" else ""
    return f"Median {feature.short or feature.name.replace('_', ' ')}{unit}"


def print_audit(audit: Any) -> None:
    """Print a cleaning audit (any kind's), with the input total that its rows add up to."""
    table = Table(title="Cleaning audit", title_justify="left")
    metrics = [c for c in audit.column_names if c not in ("step", "rows", "description")]
    table.add_column("Step")
    table.add_column("Rows", justify="right")
    for col in metrics:
        table.add_column(col.replace("_", " ").capitalize(), justify="right")
    table.add_column("What")
    steps = audit.to_pylist()
    for row in steps:
        table.add_row(row["step"], f"{row['rows']:,}", *(_num(row[c], 2) for c in metrics),
                      row["description"])
    table.add_row(Text("input", style="bold"),
                  Text(f"{sum(r['rows'] for r in steps):,}", style="bold"),
                  *("" for _ in metrics), "rows read")
    console.print(table)


def _num(value: float | None, digits: int = 0) -> str:
    # Missing (an empty segment's median, quarantined revenue) prints empty.
    return "" if value is None or value != value else f"{value:,.{digits}f}"


def save_run(store: str | None,
             record: Callable[[], RunRecord | Sequence[RunRecord]]) -> None:
    """Write a command's run into the store given with ``--store`` (nothing without one).

    ``record`` makes the run's record, or the records of several runs in order (a track's
    snapshots): it is only called when there is a store, as making it (profiles, say)
    costs time and imports the command otherwise never needs.
    """
    if store is None:
        return
    from segwise.store import RunRecord, Store

    target = Store(store)
    made = record()
    for one in [made] if isinstance(made, RunRecord) else made:
        run_id = target.write_run(one)
        console.print(f"stored run {run_id} in {target.display_url}", soft_wrap=True)
