"""Exceptions raised by segwise.

Every error a user can cause carries a message that names the file, the row or
column at fault and the fix, so that the CLI can print it as a one-line reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Literal

__all__ = [
    "ColumnsError",
    "ConfigError",
    "FitWarning",
    "InputError",
    "NotFoundError",
    "SegwiseError",
    "SegwiseNote",
    "SegwiseWarning",
    "UsageError",
]


class SegwiseError(Exception):
    """Base class of every error segwise raises on purpose."""


class InputError(SegwiseError):
    """An input file cannot be used as it is (missing column, unreadable, empty, ...)."""


class ColumnsError(InputError, ValueError):
    """The columns of a table do not match those a fitted estimator was fitted on.

    A ``ValueError`` too, as scikit-learn's estimators raise for the same mistake.
    """


class ConfigError(SegwiseError):
    """A configuration value or file is invalid."""


class UsageError(ConfigError):
    """A command's options do not go together, or one does not apply to what was asked.

    The CLI prints its message as one line and exits with status 2, as for any other
    misuse of its options.
    """


class NotFoundError(SegwiseError):
    """Something asked for by name or id does not exist (a run, a segment, a customer)."""


class SegwiseWarning(UserWarning):
    """Base class of every warning segwise gives: the run went on, but read this.

    ``warnings.filterwarnings("ignore", category=SegwiseWarning)`` silences segwise's
    warnings and no one else's; ``"error"`` turns them into exceptions.
    """


class SegwiseNote(SegwiseWarning):
    """What segwise chose or changed for you, said once: nothing is wrong, but know it.

    Columns left out of the features segwise chose, values read as missing, the id
    column taken by position. The command line prints it as a ``note:`` line.
    """


class FitWarning(SegwiseWarning, RuntimeWarning):
    """A model's fit is numerically weak (a singular Hessian, say): read its values with care."""


#: How the caller maps source columns to roles, for the fix of a column-role error:
#: ``"config"`` (the command line: a config file's ``[columns]``), ``"config_object"`` (a
#: job: ``config=SegwiseConfig(columns=...)``) or ``"columns"`` (a function's ``columns=``).
MappingWay = Literal["config", "config_object", "columns"]
_MAPPING_WAY: ContextVar[MappingWay | None] = ContextVar("segwise_mapping_way", default=None)


@contextlib.contextmanager
def mapping_way(way: MappingWay, *, force: bool = False) -> Iterator[None]:
    """Say how the caller maps columns to roles, for the errors raised inside.

    The outermost caller decides (the command line over the job it runs, a job over the
    loader it calls), unless ``force``: a loader of a source that is mapped elsewhere.
    """
    if _MAPPING_WAY.get() is not None and not force:
        yield
        return
    token = _MAPPING_WAY.set(way)
    try:
        yield
    finally:
        _MAPPING_WAY.reset(token)


#: Roles the caller names by an option and keyword of their own, not by a column mapping:
#: role to (the command line's option, a function's keyword). See :func:`role_options`.
_ROLE_OPTIONS: ContextVar[Mapping[str, tuple[str, str]] | None] = ContextVar(
    "segwise_role_options", default=None)


@contextlib.contextmanager
def role_options(options: Mapping[str, tuple[str, str]]) -> Iterator[None]:
    """Say which roles the caller names by an option of their own, for the fixes inside.

    An entity table's id is no ``[columns]`` role: the command line names it with
    ``--id``, a function with ``id_col=`` (``{"person_id": ("--id", "id_col")}``), and
    :func:`columns_fix` says so.
    """
    token = _ROLE_OPTIONS.set(options)
    try:
        yield
    finally:
        _ROLE_OPTIONS.reset(token)


def columns_key() -> str:
    """Where the caller's column mapping is: ``[columns]``, ``config.columns`` or ``columns=``."""
    way = _MAPPING_WAY.get() or "columns"
    return {"config": "[columns]", "config_object": "config.columns", "columns": "columns="}[way]


def columns_fix(pairs: Mapping[str, str]) -> str:
    """Return the fix that maps ``pairs`` (role to column), as the caller writes it.

    ``map it in a config file: [columns] customer_id = "cust"`` on the command line;
    ``pass columns={"customer_id": "cust"}`` to a function;
    ``pass config=SegwiseConfig(columns={...})`` to a job. A role named by an option of
    its own (:func:`role_options`) is named so: ``name it with --id customer_id``, ``pass
    id_col="customer_id"``.
    """
    way = _MAPPING_WAY.get() or "columns"
    options = _ROLE_OPTIONS.get() or {}
    if pairs and set(pairs) <= set(options):
        given = ", ".join(option_value(*options[r], c) for r, c in pairs.items())
        return ("name it with " if way == "config" else "pass ") + given
    if way == "config":
        return "map it in a config file: [columns] " + " ".join(
            f'{r} = "{c}"' for r, c in pairs.items())
    body = "{" + ", ".join(f'"{r}": "{c}"' for r, c in pairs.items()) + "}"
    return (f"pass config=SegwiseConfig(columns={body})" if way == "config_object"
            else f"pass columns={body}")


#: Sections a :class:`~segwise.config.SegwiseConfig` holds as fields of their own: the
#: class that holds their settings, and the keyword a function takes it by. Every other
#: section is a registered one, held in ``SegwiseConfig(sections={...})``.
_SECTION_FIELDS = {"read": ("ReadOptions", "read"), "cleaning": ("CleaningRules", "rules")}


#: The class of each registered section, by section (see :func:`register_section_class`).
_REGISTERED: dict[str, str] = {}


def register_section_class(section: str, name: str) -> None:
    """Record the class that holds a registered section's settings, for messages.

    :func:`segwise.config.register_section` calls it: ``[pings]`` is ``PingRules(...)``
    from Python.
    """
    _REGISTERED[section] = name


def _options(section: str, body: str) -> tuple[str, str, str | None]:
    """Write a section's settings in Python: the object, and as a job's config holds it.

    Also returns the keyword a function takes the object by (None for a registered
    section's, which functions take by several names).
    """
    if section in _SECTION_FIELDS:
        cls, keyword = _SECTION_FIELDS[section]
        return f"{cls}({body})", f"{section}={cls}({body})", keyword
    cls = _REGISTERED.get(section, f"<[{section}] settings>")
    return f"{cls}({body})", f'sections={{"{section}": {cls}({body})}}', None


def _listed(names: tuple[str, ...]) -> str:
    """Join names as ``a``, ``a and b``, ``a, b and c``."""
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


def setting_key(section: str, *names: str) -> str:
    """Name settings of a config section as the caller gives them, for an error or warning.

    ``[read] delimiter and encoding`` on the command line (a config file);
    ``read=ReadOptions(delimiter=..., encoding=...)`` to a loader; and
    ``SegwiseConfig(read=ReadOptions(delimiter=..., encoding=...))`` to a job. A
    registered section's (``[pings]``) is ``PingRules(...)``, and to a job
    ``SegwiseConfig(sections={"pings": PingRules(...)})``. Without names, the section.
    """
    way = _MAPPING_WAY.get() or "columns"
    if way == "config":
        return f"[{section}] {_listed(names)}" if names else f"[{section}]"
    obj, held, keyword = _options(section, ", ".join(f"{n}=..." for n in names) or "...")
    if way == "config_object":
        return f"SegwiseConfig({held})"
    return f"{keyword}={obj}" if keyword else obj


def setting_fix(section: str, settings: Mapping[str, object]) -> str:
    """Return the fix that sets a config section's settings, as the caller writes it.

    ``set [read] delimiter = ";"`` on the command line; ``pass read=ReadOptions(
    delimiter=";")`` to a loader; ``pass config=SegwiseConfig(read=ReadOptions(
    delimiter=";"))`` to a job (see :func:`setting_key` for the other sections). Values
    are Python's (text, numbers, true/false, lists, tables as dicts), written as TOML or
    as Python.
    """
    way = _MAPPING_WAY.get() or "columns"
    if way == "config":
        return f"set [{section}] " + " and ".join(f"{k} = {_literal(v, toml=True)}"
                                                 for k, v in settings.items())
    obj, held, keyword = _options(section, ", ".join(f"{k}={_literal(v, toml=False)}"
                                                     for k, v in settings.items()))
    if way == "config_object":
        return f"pass config=SegwiseConfig({held})"
    return f"pass {keyword}={obj}" if keyword else f"pass {obj}"


def option_key(option: str, section: str | None, name: str) -> str:
    """Name a setting that commands take as an option and configs as a key, as given.

    ``--as-of (or [rfm] as_of)`` on the command line (``--as-of`` without a section);
    ``as_of=`` from Python, where jobs and functions take it by that keyword.
    """
    if (_MAPPING_WAY.get() or "columns") != "config":
        return f"{name}="
    return f"{option} (or [{section}] {name})" if section else option


def option_value(option: str, name: str, value: str | Sequence[str]) -> str:
    """Give an option as the caller writes it with a value, for a fix.

    ``--id "Customer ID"`` and ``--features Fresh,Milk`` on the command line;
    ``id_col="Customer ID"`` and ``features=("Fresh", "Milk")`` from Python.
    """
    if (_MAPPING_WAY.get() or "columns") != "config":
        return f"{name}={_literal(value if isinstance(value, str) else tuple(value), toml=False)}"
    text = value if isinstance(value, str) else ",".join(value)
    return f'{option} "{text}"' if " " in text else f"{option} {text}"


def read_key(*names: str) -> str:
    """Name ``[read]`` settings as the caller gives them (:func:`setting_key` of ``read``)."""
    return setting_key("read", *names)


def read_fix(settings: Mapping[str, object]) -> str:
    """Return the fix that sets ``[read]`` settings (:func:`setting_fix` of ``read``)."""
    return setting_fix("read", settings)


def _literal(value: object, *, toml: bool) -> str:
    """Write a setting's value as TOML (``true``, ``["a"]``) or Python (``True``, ``("a",)``)."""
    import json

    if isinstance(value, bool):
        return str(value).lower() if toml else str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):  # a TOML inline table: {table = "x", on = "k"}
        if toml:
            return "{" + ", ".join(f"{k} = {_literal(v, toml=True)}"
                                   for k, v in value.items()) + "}"
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_literal(v, toml=False)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        items = [_literal(v, toml=toml) for v in value]
        if toml:
            return "[" + ", ".join(items) + "]"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return repr(value)


def setting_named(section: str, name: str, value: object) -> str:
    """Name a config setting and its value as the caller wrote them, for a refusal.

    ``[read] decimal = ";"`` from a config file; ``ReadOptions(decimal=";")`` from Python
    (``PingRules(min_pings=0)`` for a registered section's).
    """
    if (_MAPPING_WAY.get() or "columns") == "config":
        return f"[{section}] {name} = {_literal(value, toml=True)}"
    return _options(section, f"{name}={_literal(value, toml=False)}")[0]


def read_setting(name: str, value: object) -> str:
    """Name a ``[read]`` setting and its value (:func:`setting_named` of ``read``)."""
    return setting_named("read", name, value)
