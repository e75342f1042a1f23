"""Run configuration, read from a TOML file.

Example
-------
.. code-block:: toml

    [columns]                # roles the names do not reveal
    customer_id = "Kundennummer"

    [read]
    delimiter = ";"
    encoding = "latin-1"
    timestamp_format = "%d.%m.%Y %H:%M"

    [cleaning]
    cancellations = "drop"   # or "net" (default) or "keep"
    outlier_max_z = 10.0

    [rfm]
    as_of = "2011-12-10"

    [engine]
    memory_limit = "4GB"     # DuckDB spills to disk beyond it (default: 80 % of RAM)

    [segments.patterns]      # replaces the whole map; must cover all 125 cells once
    Champions = ["5[4-5]"]

    [segment]                # segwise segment --customers
    missing = "median"       # rows with a missing feature: "drop" (default), "refuse"
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import segwise.features
import segwise.profile  # noqa: F401 - registers [campaign]
from segwise._engine import check_memory_limit
from segwise._settings import (
    BUILTIN_SECTIONS,
    build_section,
    check_value,
    register_section,
    registered_sections,
    toml_text,
)
from segwise.clean import CleaningRules
from segwise.exceptions import ConfigError, mapping_way
from segwise.io import ReadOptions, get_kind, kinds
from segwise.segment.rfm import DEFAULT_ACTIONS, SegmentMap

__all__ = ["SegwiseConfig", "check_memory_limit", "load_config", "register_section"]

@dataclass(frozen=True)
class SegwiseConfig:
    """Everything a run can be told, with defaults that suit a typical retail export.

    ``columns`` maps roles of the source kind to source columns; ``cleaning``, ``as_of``
    and ``segments`` are the order-line settings; the sections other kinds and jobs
    register are in ``sections`` (see :meth:`section`).
    """

    columns: dict[str, str] = field(default_factory=dict)
    read: ReadOptions = field(default_factory=ReadOptions)
    cleaning: CleaningRules = field(default_factory=CleaningRules)
    as_of: dt.date | None = None
    segments: SegmentMap = field(default_factory=SegmentMap)
    memory_limit: str | None = None
    sections: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> Any:
        """Return a registered section's values: as configured, else its defaults.

        Raises
        ------
        ConfigError
            If no module registered ``[name]``.
        """
        if name in self.sections:
            return self.sections[name]
        sections = registered_sections()
        if name not in sections:
            raise ConfigError(f"no config section [{name}] is registered")
        return sections[name]()


@dataclass(frozen=True)
class _RFMSection:
    """``[rfm]``: the reference date of recency."""

    as_of: dt.date | None = None


@dataclass(frozen=True)
class _EngineSection:
    """``[engine]``: DuckDB's memory cap."""

    memory_limit: str | None = None

    def __post_init__(self) -> None:
        if self.memory_limit is not None:
            object.__setattr__(self, "memory_limit",
                               check_memory_limit(self.memory_limit, "[engine] memory_limit"))


@dataclass(frozen=True)
class _SegmentsSection:
    """``[segments]``: the named segments' score patterns and actions."""

    patterns: dict[str, tuple[str, ...]] | None = None
    actions: dict[str, str] | None = None


def load_config(
    path: str | Path | None, *, memory_limit: str | None = None, kind: str | None = None
) -> SegwiseConfig:
    """Read a TOML config file; the defaults when ``path`` is None.

    Parameters
    ----------
    path : str or Path or None
        The TOML file.
    memory_limit : str, optional
        DuckDB's memory cap, e.g. ``"4GB"``; overrides ``[engine] memory_limit`` (the CLI's
        ``--memory-limit``).
    kind : str, optional
        The source kind the file is for: ``[columns]`` must name its roles. Without it,
        any registered kind's roles are accepted (the loader checks them against the kind).

    Returns
    -------
    SegwiseConfig
        The validated configuration.

    Raises
    ------
    ConfigError
        On a missing file, invalid TOML, unknown section or key, or invalid value.
    """
    config = _read_config(Path(path), kind) if path is not None else SegwiseConfig()
    if memory_limit is None:
        return config
    return dataclasses.replace(
        config, memory_limit=check_memory_limit(memory_limit, "--memory-limit")
    )


def _read_config(path: Path, kind: str | None) -> SegwiseConfig:
    try:
        # utf-8-sig: editors on Windows save UTF-8 with a byte-order mark.
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: config file not found") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    sections = registered_sections()
    known = BUILTIN_SECTIONS | set(sections)
    unknown = sorted(set(data) - known)
    for name in unknown:
        # A key written above every section header belongs to none.
        owners = [s for s, cls in {"read": ReadOptions, "cleaning": CleaningRules,
                                   "rfm": _RFMSection, "engine": _EngineSection,
                                   **sections}.items()
                  if not isinstance(data[name], dict)
                  and name in {f.name for f in dataclasses.fields(cls)}]
        if owners:
            raise ConfigError(
                f"{path}: {name} = {toml_text(data[name])} is outside any section. Fix: "
                f"put it under {' or '.join(f'[{s}]' for s in owners)}, after the header")
    if unknown:
        raise ConfigError(
            f"{path}: unknown section(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}"
        )
    try:
        # Refusals name the file's settings as written there, however it was loaded.
        with mapping_way("config", force=True):
            return _check(data, sections, kind)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _check(data: dict[str, Any], sections: dict[str, type], kind: str | None) -> SegwiseConfig:
    """Check every section of a parsed file against its schema; the configuration."""
    for name, values in data.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{name} = {toml_text(values)}: [{name}] must be a section "
                              f"(a [{name}] header with keys under it)")
    columns = {key: check_value(value, str, f"[columns] {key}")
               for key, value in data.get("columns", {}).items()}
    roles = (get_kind(kind).role_names if kind is not None
             else tuple(dict.fromkeys(r for k in kinds().values() for r in k.role_names)))
    bad_roles = sorted(set(columns) - set(roles))
    if bad_roles:
        raise ConfigError(
            f"unknown role(s) {', '.join(bad_roles)} in [columns]; valid: {', '.join(roles)}"
        )
    rfm = build_section(_RFMSection, data.get("rfm", {}), "rfm")
    engine = build_section(_EngineSection, data.get("engine", {}), "engine")
    segments = build_section(_SegmentsSection, data.get("segments", {}), "segments")
    segment_map = SegmentMap()
    if segments.patterns is not None or segments.actions is not None:
        patterns = (segment_map.patterns if segments.patterns is None
                    else segments.patterns)
        actions = {**DEFAULT_ACTIONS, **(segments.actions or {})}
        try:
            segment_map = SegmentMap(patterns, {k: actions[k] for k in patterns if k in actions})
        except ConfigError as exc:
            raise ConfigError(f"[segments]: {exc}") from exc
    return SegwiseConfig(
        columns=columns,
        read=build_section(ReadOptions, data.get("read", {}), "read"),
        cleaning=build_section(CleaningRules, data.get("cleaning", {}), "cleaning"),
        as_of=rfm.as_of,
        segments=segment_map,
        memory_limit=engine.memory_limit,
        sections={name: build_section(cls, data[name], name)
                  for name, cls in sections.items() if name in data},
    )
