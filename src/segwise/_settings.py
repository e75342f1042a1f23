"""Config sections that source kinds and features register, and the schema check of them all.

A leaf module: the modules that own a section's settings register them here when they are
imported, and the config loader, which imports them all, validates the sections of a file.
Every section is a dataclass, and its fields' type annotations are its schema:
:func:`build_section` checks each value against them (a ``bool`` field takes ``true`` or
``false``, never ``"no"``), so a kind's own section is checked like the built-in ones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

from segwise._registry import Registry
from segwise.exceptions import ConfigError, mapping_way, register_section_class

__all__ = ["BUILTIN_SECTIONS", "build_section", "check_value", "register_section",
           "registered_sections", "toml_text"]

#: Sections the config loader reads itself.
BUILTIN_SECTIONS = frozenset({"columns", "read", "cleaning", "rfm", "segments", "engine"})

_SECTIONS: Registry[type] = Registry("config section")


def register_section(name: str, cls: type) -> type:
    """Accept ``[name]`` in config files, its keys the fields of the dataclass ``cls``.

    A source kind or features module with settings of its own registers its section when
    it is imported; :meth:`segwise.config.SegwiseConfig.section` then returns the validated
    values (``cls()``, all defaults, when the file has no such section). Each value is
    checked against its field's type annotation (see :func:`build_section`) before ``cls``
    is made.

    Parameters
    ----------
    name : str
        The section's name, e.g. ``"sessions"``.
    cls : type
        A dataclass with a default for every field; its ``__post_init__`` may validate
        values further (ranges, patterns) and raise :class:`~segwise.exceptions.ConfigError`.

    Returns
    -------
    type
        ``cls``.

    Raises
    ------
    ConfigError
        If the name is a built-in section or taken by another class, or ``cls`` is not a
        dataclass.
    """
    if name in BUILTIN_SECTIONS:
        raise ConfigError(f"config section [{name}] is taken already")
    if not dataclasses.is_dataclass(cls):
        raise ConfigError(f"config section [{name}]: {cls!r} is not a dataclass")
    added = _SECTIONS.add(name, cls)
    register_section_class(name, cls.__name__)
    return added


def registered_sections() -> dict[str, type]:
    """Return the registered sections by name."""
    return _SECTIONS.items()


def build_section(cls: type, values: Mapping[str, Any], section: str) -> Any:
    """Make the dataclass ``cls`` from a config section, checking every value's type first.

    Parameters
    ----------
    cls : type
        The section's dataclass; its fields' annotations are the schema.
    values : mapping of str to object
        The section as parsed from TOML.
    section : str
        The section's name, for messages.

    Returns
    -------
    object
        ``cls(**values)``, lists turned into tuples where a field is a tuple, ISO strings
        into dates where it is a date.

    Raises
    ------
    ConfigError
        Naming the key, the value and the expected type, for an unknown key or a value of
        the wrong type; or the message of ``cls``'s own check, prefixed with the section.
    """
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        near = [m for k in unknown
                for m in difflib.get_close_matches(k, fields, n=1)
                or [f for f in fields if k.lower() in f or f in k.lower()][:1]]
        fix = f"Fix: {' and '.join(dict.fromkeys(near))}? " if near else "Fix: "
        raise ConfigError(
            f"unknown key(s) {', '.join(unknown)} in [{section}]. {fix}"
            f"valid keys: {', '.join(fields)}"
        )
    hints = typing.get_type_hints(cls)
    checked = {key: check_value(value, hints[key], f"[{section}] {key}",
                                example=_default(fields[key]))
               for key, value in values.items()}
    try:
        # A section's own checks name its settings as a config file writes them.
        with mapping_way("config", force=True):
            return cls(**checked)
    except ConfigError as exc:
        message = str(exc)
        raise ConfigError(message if message.startswith("[") else f"[{section}] {message}") \
            from exc


def _default(field: dataclasses.Field[Any]) -> Any:
    """Return a field's default value, or None when it has none."""
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def check_value(value: Any, annotation: Any, where: str, *, example: Any = None) -> Any:
    """Return ``value`` converted to ``annotation`` (lists to tuples, ISO text to dates).

    Parameters
    ----------
    value : object
        A value parsed from TOML.
    annotation : type
        The expected type: ``str``, ``int``, ``float``, ``bool``, ``datetime.date``, a
        ``Literal``, a union (``X | None``), ``tuple[X, ...]``, ``list[X]``, ``dict[str, X]``
        or a class (whose classmethod ``parse``, if it has one, reads other values).
    where : str
        The key, for the message (``"[cleaning] duplicates"``).
    example : object, optional
        A value that fits (the key's default), shown in the fix when the value itself
        cannot be mended.

    Raises
    ------
    ConfigError
        ``<where> = <value>: expected <type>. Fix: <key> = <value that fits>`` when the
        value does not fit: the value mended where one reading of it fits (quotes added
        or removed, a table put in a list), else the example.
    """
    try:
        return _convert(value, annotation)
    except _Mismatch:
        raise ConfigError(
            f"{where} = {toml_text(value)}: expected {_describe(annotation)}"
            + _fix(value, annotation, where, example)
        ) from None


def _fix(value: Any, annotation: Any, where: str, example: Any) -> str:
    """``". Fix: key = <value that fits>"``: the value mended, else the example; or ""."""
    section, _, key = where.rpartition(" ")
    for candidate in _mended(value):
        try:
            converted = _convert(candidate, annotation)
        except (_Mismatch, ConfigError):
            continue
        # A date is shown as TOML writes one (20150521 read as text is 2015-05-21).
        shown = converted if isinstance(converted, dt.date) else candidate
        fix = f". Fix: {key} = {toml_text(shown)}"
        if isinstance(value, dict) and isinstance(candidate, list):
            # The other TOML spelling of a list of tables.
            fix += f" (or a [[{section.strip('[]')}.{key}]] block for each)"
        return fix
    if example is None or example == () or example == {}:
        return ""
    try:
        _convert(example, annotation)
    except (_Mismatch, ConfigError):
        return ""
    return f". Fix: write it like {key} = {toml_text(example)}"


#: Text that means true, and false, where a config wants true or false.
_YES = ("true", "yes", "y", "on", "1")
_NO = ("false", "no", "n", "off", "0")


def _mended(value: Any) -> list[Any]:
    """Return readings of a mistyped value: the likely meaning of each common slip.

    A table or a single value where a list is expected, a number or true/false in
    quotes, a number where text is expected, a whole number written as 30.0, a list of
    one where one value is expected, a date with a time.
    """
    out: list[Any] = []
    if isinstance(value, list) and len(value) == 1:
        out.append(value[0])
    if not isinstance(value, list):
        out.append([value])
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _YES + _NO:
            out.append(text.lower() in _YES)
        for number in (int, float):
            try:
                out.append(number(text))
            except ValueError:
                continue
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value in (0, 1):
            out.append(value == 1)
        if isinstance(value, float) and value.is_integer():
            out.append(int(value))
        out.append(str(value))
    if isinstance(value, dt.datetime):
        out.append(value.date())
    return out


class _Mismatch(Exception):
    """A value does not fit a type."""


def _convert(value: Any, tp: Any) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        for arg in args:
            if arg is type(None):
                continue  # TOML has no null: leaving the key out gives None
            try:
                return _convert(value, arg)
            except _Mismatch:
                pass
        raise _Mismatch
    if origin is Literal:
        if any(type(value) is type(a) and value == a for a in args):
            return value
        raise _Mismatch
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _Mismatch
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0]) for v in value)
        if len(args) != len(value):
            raise _Mismatch
        return tuple(_convert(v, a) for v, a in zip(value, args, strict=True))
    if origin is list:
        if not isinstance(value, list | tuple):
            raise _Mismatch
        return [_convert(v, args[0]) for v in value] if args else list(value)
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(value, dict):
            raise _Mismatch
        if not args:
            return dict(value)
        return {_convert(k, args[0]): _convert(v, args[1]) for k, v in value.items()}
    if tp is bool:
        if type(value) is not bool:
            raise _Mismatch
        return value
    if tp is int:
        if type(value) is not int:
            raise _Mismatch
        return value
    if tp is float:
        if type(value) not in (int, float) or not math.isfinite(value):
            raise _Mismatch
        return float(value)
    if tp is dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):  # YYYY-MM-DD only, as the CLI's dates
            from segwise._time import parse_day

            try:
                return parse_day(value)
            except ConfigError:
                raise _Mismatch from None
        raise _Mismatch
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        # A class that reads itself from a config value (an inline table, say) says what
        # is wrong with one in its own ConfigError.
        parse = getattr(tp, "parse", None)
        if callable(parse):
            return parse(value)
        raise _Mismatch
    return value  # an annotation this check does not know: the class checks it


_NAMES: dict[Any, tuple[str, str]] = {
    str: ("a string", "strings"),
    int: ("a whole number", "whole numbers"),
    float: ("a finite number", "finite numbers"),
    bool: ("true or false", "true or false values"),
    dt.date: ("a date (YYYY-MM-DD)", "dates"),
}


def _describe(tp: Any, plural: bool = False) -> str:
    """Name the expected type in words: ``a list of strings``, ``one of "net", "drop"``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a, plural) for a in args if a is not type(None))
    if origin is Literal:
        return "one of " + ", ".join(toml_text(a) for a in args)
    if origin in (tuple, list) or origin in (dict, Mapping) or tp in (dict, Mapping):
        noun = "list" if origin in (tuple, list) else "table"
        head = f"{noun}s" if plural else f"a {noun}"
        item = args[0] if noun == "list" else args[1] if args else None
        return f"{head} of {_describe(item, plural=True)}" if item is not None else head
    if tp in _NAMES:
        return _NAMES[tp][1 if plural else 0]
    # A class read from an inline table says what the table holds.
    form = getattr(tp, "TOML_FORM", None)
    if form is not None:
        return f"tables like {form}" if plural else f"a table like {form}"
    return getattr(tp, "__name__", str(tp))


def toml_text(value: Any) -> str:
    """Write a value as TOML does: ``"no"``, ``true``, ``12``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return repr(value)
