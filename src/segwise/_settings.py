"""Config sections that source kinds and features register, read by :mod:`segwise.config`.

A leaf module: the modules that own a section's settings register them here when they are
imported, and the config loader, which imports them all, validates the sections of a file.
"""

from __future__ import annotations

from segwise._registry import Registry
from segwise.exceptions import ConfigError

__all__ = ["BUILTIN_SECTIONS", "register_section", "registered_sections"]

#: Sections the config loader reads itself.
BUILTIN_SECTIONS = frozenset({"columns", "read", "cleaning", "rfm", "segments", "engine"})

_SECTIONS: Registry[type] = Registry("config section")


def register_section(name: str, cls: type) -> type:
    """Accept ``[name]`` in config files, its keys the fields of the dataclass ``cls``.

    A source kind or features module with settings of its own registers its section when
    it is imported; :meth:`segwise.config.SegwiseConfig.section` then returns the validated
    values (``cls()``, all defaults, when the file has no such section).

    Parameters
    ----------
    name : str
        The section's name, e.g. ``"sessions"``.
    cls : type
        A dataclass with a default for every field; its ``__post_init__`` may validate
        values and raise :class:`~segwise.exceptions.ConfigError`.

    Returns
    -------
    type
        ``cls``.

    Raises
    ------
    ConfigError
        If the name is a built-in section or taken by another class.
    """
    if name in BUILTIN_SECTIONS:
        raise ConfigError(f"config section [{name}] is taken already")
    return _SECTIONS.add(name, cls)


def registered_sections() -> dict[str, type]:
    """Return the registered sections by name."""
    return _SECTIONS.items()
