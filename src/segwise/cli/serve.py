"""``segwise etl`` and ``segwise serve``: the whole job into a database, the dashboard on it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from segwise.cli._app import (
    StoreOpt,
    app,
    console,
    handle_errors,
    notice,
    progress,
    refuse_given,
)
from segwise.exceptions import ConfigError, SegwiseError, UsageError

if TYPE_CHECKING:
    from segwise.config import SegwiseConfig
    from segwise.jobs import ProjectSettings, ServeSettings

#: Environment variable holding the token that scoring and writes need.
TOKEN_ENV = "SEGWISE_TOKEN"  # noqa: S105 - the variable's name, not a token

_STEPS = {
    "load": "Reading and parsing", "clean": "Applying cleaning rules",
    "features": "Computing features", "score": "Scoring and naming segments",
    "segments": "Learning segments (k sweep)", "clv": "Fitting lifetime value models",
    "store": "Writing the run into the store",
}


@app.command()
@handle_errors
def etl(
    config: Annotated[Path, typer.Argument(help="Project file (TOML): [project] source, job, "
                                                "store, plus any [columns], [cleaning] ...")],
    store: StoreOpt = None,
) -> None:
    """Run the whole job from a project file into the store: one run, one transaction."""
    from segwise.jobs import run_etl

    cfg, project = _read_project(config, store)
    target = store or project.store
    with progress("Starting") as say:
        run_id, result, notes = run_etl(
            project.source, target, job=project.job, config=cfg,
            learned_segments=project.learned_segments, extras=project.extras,
            assigner=project.assigner or None, seed=project.seed,
            progress=lambda step: say(_STEPS.get(step, step)),
        )
    for note in notes:
        notice("note", note)
    console.print(f"stored run {run_id}: {result.entities.n_entities:,} "
                  f"{result.entities.schema.entities}")
    console.print(f"open the dashboard: segwise serve {target}", highlight=False,
                  soft_wrap=True)


def _read_project(config: Path, store: str | None) -> tuple[SegwiseConfig, ProjectSettings]:
    """Read ``segwise etl``'s project file and check what it names, before any work.

    The file is the command's whole usage: what is wrong in it (a key, the job, a store
    that cannot be written or is the source) is a usage error, exit 2, as a bad ``--store``
    is; a source that cannot be read is the data's, found when it is read.
    """
    from segwise.config import load_config
    from segwise.jobs import get_job, project_paths
    from segwise.store import check_store

    try:
        cfg = load_config(config)
        try:
            project = project_paths(cfg.section("project"), config.resolve().parent)
        except ConfigError as exc:
            raise ConfigError(f"{config}: {exc}") from exc
        try:
            get_job(project.job)
        except ConfigError as exc:
            raise ConfigError(f"{config}: [project] job: {exc}") from exc
        check_store(store or project.store, inputs=[project.source])
    except SegwiseError as exc:
        raise UsageError(str(exc)) from exc
    return cfg, project


@app.command()
@handle_errors
def serve(
    ctx: typer.Context,
    store: Annotated[str, typer.Argument(help="The store: a .duckdb file or a postgresql:// "
                                              "URL.")],
    host: Annotated[str | None, typer.Option(
        "--host", help="Address to listen on (default 127.0.0.1: this machine only).")] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535,
                                             help="Port (default 8000).")] = None,
    model: Annotated[Path | None, typer.Option(
        "--model", help="Assigner model file for POST /score (default: the newest one the "
                        "store holds, if any).")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Project file whose [serve] section sets host, port, token "
                               "and model.")] = None,
    scoring_process: Annotated[bool, typer.Option(
        "--scoring-process/--scoring-thread",
        help="Score in a worker process of its own (default: lower latency under load, "
             "measured in benchmarks/README.md), or in a thread of the server's.")] = True,
) -> None:
    """Serve the dashboard and API over a store with uvicorn.

    Scoring and writes need the bearer token from $SEGWISE_TOKEN (or [serve] token).
    """
    import uvicorn

    from segwise.web import create_app, scorers_for

    _check_served(store)
    settings = _serve_settings(config)
    host = host or settings.host
    port = port or settings.port
    _check_address(host, port)  # before the model loads and the address is announced
    token = os.environ.get(TOKEN_ENV) or settings.token or None
    model = model or (Path(settings.model) if settings.model else None)
    scorers = scorers_for(store, model, process=scoring_process)
    if not scorers:
        refuse_given(ctx, {"scoring_process": (
            "without a model to score with: no assigner in the store and no --model, so "
            "POST /score is off. Fix: give --model with a file from `segwise assigner "
            "train`, or leave the option out")})
    app_ = create_app(store, token=token, scorers=scorers)
    if not scorers:
        notice("note", "POST /score is off: no assigner from the store or --model to score "
                       "with")
    if not token:
        notice("note", f"no token (${TOKEN_ENV}): scoring and writes are refused")
    if not _this_machine_only(host):
        # Reads need no token (docs/store.md): said when others can reach them.
        notice("note", f"listening on {host}: every page and its JSON twin (ids, segments, "
                       "values) can be read by anyone who reaches this address; only scoring "
                       "and writes need the token")
    url = f"http://{_authority(host, port)}"
    console.print(f"dashboard on {url}/  (API: {url}/docs)", highlight=False)
    uvicorn.run(app_, host=host, port=port, log_level="warning")


def _this_machine_only(host: str) -> bool:
    """Say whether an address to listen on is reachable from this machine alone."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may name any interface
        return False


def _authority(host: str, port: int) -> str:
    """Return ``host:port`` as a URL writes it (an IPv6 address in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _check_address(host: str, port: int) -> None:
    """Refuse, as usage, an address the server cannot listen on: a port in use, say.

    uvicorn found out after the model had loaded and the dashboard's address had been
    printed, a page another program answers at a port in use, and ended with its own
    ``ERROR: [Errno 98] ...`` and exit status 3.
    """
    import errno
    import socket

    where = _authority(host, port)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            fix = ("another program listens there (another segwise serve?). Fix: choose "
                   "another port (--port, or [serve] port), or stop that program")
        elif exc.errno == errno.EACCES:
            fix = (f"{reason}: ports below 1024 need administrator rights. Fix: choose a "
                   "port from 1024 (--port, or [serve] port)")
        else:
            fix = (f"{reason}. Fix: give a name or address of this machine (--host, or "
                   "[serve] host): 127.0.0.1 for this machine only, 0.0.0.0 for every "
                   "network it is on")
        raise UsageError(f"cannot listen on {where}: {fix}") from None


def _check_served(store: str) -> None:
    """Refuse, as usage, to serve what is no store: a path with no file, other tables.

    Opening created them: a typo in the path served an empty dashboard, and a DuckDB
    database of the user's own was given the store's tables.
    """
    from segwise.store import Store

    try:
        Store(store, create=False).close()
    except SegwiseError as exc:
        raise UsageError(str(exc)) from exc


def _serve_settings(config: Path | None) -> ServeSettings:
    from segwise.config import load_config
    from segwise.jobs import ServeSettings

    if config is None:
        return ServeSettings()
    settings: ServeSettings = load_config(config).section("serve")
    if settings.model and not Path(settings.model).is_absolute():
        # Relative to the project file, as [project]'s paths are: it was read from wherever
        # the server was started, so `serve -c project/project.toml` found no model.
        settings = dataclasses.replace(settings,
                                       model=str(config.resolve().parent / settings.model))
    return settings
