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
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import segwise.features  # noqa: F401 - every built-in features module registers its sections
from segwise._settings import BUILTIN_SECTIONS, register_section, registered_sections
from segwise.clean import CleaningRules
from segwise.exceptions import ConfigError
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


def _build(cls: type, values: dict[str, Any], section: str, path: Path) -> Any:
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(unknown)} in [{section}]; "
            f"valid keys: {', '.join(names)}"
        )
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return cls(**fixed)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except TypeError as exc:
        raise ConfigError(f"{path}: [{section}]: {exc}") from exc


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
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: config file not found") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    sections = registered_sections()
    known = BUILTIN_SECTIONS | set(sections)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"{path}: unknown section(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}"
        )
    columns = data.get("columns", {})
    roles = (get_kind(kind).role_names if kind is not None
             else tuple(dict.fromkeys(r for k in kinds().values() for r in k.role_names)))
    bad_roles = sorted(set(columns) - set(roles))
    if bad_roles:
        raise ConfigError(
            f"{path}: unknown role(s) {', '.join(bad_roles)} in [columns]; "
            f"valid: {', '.join(roles)}"
        )
    rfm = dict(data.get("rfm", {}))
    as_of = rfm.pop("as_of", None)
    if rfm:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(rfm)} in [rfm]; valid: as_of")
    if isinstance(as_of, str):
        try:
            as_of = dt.date.fromisoformat(as_of)
        except ValueError as exc:
            raise ConfigError(f"{path}: [rfm] as_of = {as_of!r} is not a YYYY-MM-DD date") from exc
    memory_limit = _memory_limit(dict(data.get("engine", {})), path)
    segments = data.get("segments", {})
    seg_unknown = sorted(set(segments) - {"patterns", "actions"})
    if seg_unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(seg_unknown)} in [segments]")
    segment_map = SegmentMap()
    if segments:
        patterns = {k: tuple(v) for k, v in segments.get("patterns", segment_map.patterns).items()}
        actions = {**DEFAULT_ACTIONS, **segments.get("actions", {})}
        try:
            segment_map = SegmentMap(patterns, {k: actions[k] for k in patterns if k in actions})
        except ConfigError as exc:
            raise ConfigError(f"{path}: [segments]: {exc}") from exc
    return SegwiseConfig(
        columns=dict(columns),
        read=_build(ReadOptions, data.get("read", {}), "read", path),
        cleaning=_build(CleaningRules, data.get("cleaning", {}), "cleaning", path),
        as_of=as_of,
        segments=segment_map,
        memory_limit=memory_limit,
        sections={name: _build(cls, data[name], name, path)
                  for name, cls in sections.items() if name in data},
    )


def _memory_limit(engine: dict[str, Any], path: Path) -> str | None:
    """Validate ``[engine] memory_limit``: a size DuckDB understands, such as ``"4GB"``."""
    limit = engine.pop("memory_limit", None)
    if engine:
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(engine)} in [engine]; valid: memory_limit"
        )
    if limit is None:
        return None
    return check_memory_limit(limit, f"{path}: [engine] memory_limit")


def check_memory_limit(limit: object, where: str) -> str:
    """Return a DuckDB memory size such as ``"4GB"``, stripped; raise naming ``where`` if not.

    Raises
    ------
    ConfigError
        If ``limit`` is not a size DuckDB understands.
    """
    if not (isinstance(limit, str) and _SIZE.fullmatch(limit.strip())):
        raise ConfigError(f'{where} = {limit!r} is not a size; write e.g. "4GB" or "512MB"')
    return limit.strip()


#: Sizes DuckDB's ``memory_limit`` accepts, e.g. ``4GB``, ``4 GiB``, ``512MB``.
_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)", re.IGNORECASE)
