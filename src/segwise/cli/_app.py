"""The Typer application every command module registers on, and shared CLI helpers."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import threading
import time
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from segwise.exceptions import SegwiseError

if TYPE_CHECKING:
    from segwise.jobs import RFMResult

__all__ = [
    "AsOfOpt",
    "ConfigOpt",
    "EngineChoice",
    "EngineOpt",
    "MasterOpt",
    "MemoryOpt",
    "OrderLinesArg",
    "app",
    "console",
    "err_console",
    "handle_errors",
    "progress",
    "run_with_progress",
]

app = typer.Typer(
    name="segwise",
    help="Turn raw customer data into customer segments a business can act on.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Turn library errors into a one-line reason on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SegwiseError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from exc

    return wrapper  # type: ignore[return-value]


# Options shared by every command that reads an order-line file.

OrderLinesArg = Annotated[
    Path,
    typer.Argument(
        help="Order lines: CSV(.gz), Parquet, Excel, JSON lines, SQLite or DuckDB file."
    ),
]


class EngineChoice(StrEnum):
    """Engines the CLI offers."""

    duckdb = "duckdb"
    spark = "spark"


ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML config (columns, read, cleaning, ...).")
]
AsOfOpt = Annotated[
    dt.datetime | None,
    typer.Option("--as-of", formats=["%Y-%m-%d"], help="Reference date for recency (YYYY-MM-DD)."),
]
EngineOpt = Annotated[EngineChoice, typer.Option("--engine", help="Table engine.")]
MasterOpt = Annotated[
    str | None, typer.Option("--spark-master", help="Spark master URL (default local[*]).")
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
        Called with each next step.
    """
    start = time.perf_counter()

    def stamp(text: str) -> str:
        return f"{text} ({time.perf_counter() - start:.0f} s)"

    if console.is_terminal:
        with console.status(stamp(first), spinner="dots") as status:
            yield lambda text: status.update(stamp(text))
        return
    current = [first]
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(every):
            err_console.print(stamp(current[0]), highlight=False, soft_wrap=True)

    beat = threading.Thread(target=heartbeat, daemon=True)
    beat.start()
    try:
        yield lambda text: current.__setitem__(0, text)
    finally:
        done.set()
        beat.join()


def run_with_progress(
    source: Path,
    *,
    config: Path | None = None,
    as_of: dt.datetime | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    memory_limit: str | None = None,
) -> RFMResult:
    """Run the RFM pipeline from the shared options, naming each step as it starts."""
    from segwise.config import load_config
    from segwise.jobs import run_rfm

    labels = {
        "load": "Reading and parsing order lines",
        "clean": "Applying cleaning rules",
        "aggregate": "Aggregating customers",
        "score": "Scoring and naming segments",
    }
    with progress("Starting") as say:
        return run_rfm(
            source,
            config=load_config(config, memory_limit=memory_limit),
            as_of=as_of.date() if as_of else None,
            engine=str(engine),
            spark_master=spark_master,
            progress=lambda step: say(labels.get(step, step)),
        )
