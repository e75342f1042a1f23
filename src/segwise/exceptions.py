"""Exceptions raised by segwise.

Every error a user can cause carries a message that names the file, the row or
column at fault and the fix, so that the CLI can print it as a one-line reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Literal

__all__ = [
    "ColumnsError",
    "ConfigError",
    "FitWarning",
    "InputError",
    "NotFoundError",
    "SegwiseError",
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


def columns_key() -> str:
    """Where the caller's column mapping is: ``[columns]``, ``config.columns`` or ``columns=``."""
    way = _MAPPING_WAY.get() or "columns"
    return {"config": "[columns]", "config_object": "config.columns", "columns": "columns="}[way]


def columns_fix(pairs: Mapping[str, str]) -> str:
    """Return the fix that maps ``pairs`` (role to column), as the caller writes it.

    ``map it in a config file: [columns] customer_id = "cust"`` on the command line;
    ``pass columns={"customer_id": "cust"}`` to a function;
    ``pass config=SegwiseConfig(columns={...})`` to a job.
    """
    way = _MAPPING_WAY.get() or "columns"
    if way == "config":
        return "map it in a config file: [columns] " + " ".join(
            f'{r} = "{c}"' for r, c in pairs.items())
    body = "{" + ", ".join(f'"{r}": "{c}"' for r, c in pairs.items()) + "}"
    return (f"pass config=SegwiseConfig(columns={body})" if way == "config_object"
            else f"pass columns={body}")


def read_key(*names: str) -> str:
    """Name ``[read]`` settings as the caller gives them, for an error or warning.

    ``[read] delimiter and encoding`` on the command line (a config file);
    ``read=ReadOptions(delimiter=..., encoding=...)`` to a loader; and
    ``SegwiseConfig(read=ReadOptions(delimiter=..., encoding=...))`` to a job.
    """
    way = _MAPPING_WAY.get() or "columns"
    if way == "config":
        listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
        return f"[read] {listed}"
    options = "ReadOptions(" + ", ".join(f"{n}=..." for n in names) + ")"
    return f"SegwiseConfig(read={options})" if way == "config_object" else f"read={options}"


def read_fix(settings: Mapping[str, object]) -> str:
    """Return the fix that sets ``[read]`` settings, as the caller writes it.

    ``set [read] delimiter = ";"`` on the command line; ``pass read=ReadOptions(
    delimiter=";")`` to a loader; ``pass config=SegwiseConfig(read=ReadOptions(
    delimiter=";"))`` to a job. Values are Python's (text, numbers, true/false, lists),
    written as TOML or as Python.
    """
    way = _MAPPING_WAY.get() or "columns"
    if way == "config":
        return "set [read] " + " and ".join(f"{k} = {_literal(v, toml=True)}"
                                            for k, v in settings.items())
    options = "ReadOptions(" + ", ".join(f"{k}={_literal(v, toml=False)}"
                                         for k, v in settings.items()) + ")"
    return (f"pass config=SegwiseConfig(read={options})" if way == "config_object"
            else f"pass read={options}")


def _literal(value: object, *, toml: bool) -> str:
    """Write a setting's value as TOML (``true``, ``["a"]``) or Python (``True``, ``("a",)``)."""
    import json

    if isinstance(value, bool):
        return str(value).lower() if toml else str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        items = [_literal(v, toml=toml) for v in value]
        if toml:
            return "[" + ", ".join(items) + "]"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return repr(value)


def read_setting(name: str, value: object) -> str:
    """Name a ``[read]`` setting and its value as the caller wrote them, for a refusal.

    ``[read] decimal = ";"`` from a config file; ``ReadOptions(decimal=";")`` from Python.
    """
    if (_MAPPING_WAY.get() or "columns") == "config":
        return f"[read] {name} = {_literal(value, toml=True)}"
    return f"ReadOptions({name}={_literal(value, toml=False)})"
