"""Packages whose names load on first use, so that light commands skip heavy imports."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, names: Mapping[str, str], namespace: dict[str, Any],
                 modules: Mapping[str, str] | None = None) -> Callable[[str], Any]:
    """Return a module ``__getattr__`` that imports names from submodules on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : mapping of str to str
        Public name to the submodule that defines it (``"Segmenter": "_cluster"``).
    namespace : dict
        The package's ``globals()``: a loaded name is stored there, so it loads once.
    modules : mapping of str to str, optional
        Public names that are submodules themselves (``"charts": "_charts"``).

    Returns
    -------
    callable
        The ``__getattr__``, raising AttributeError for unknown names.
    """
    modules = dict(modules or {})

    def __getattr__(name: str) -> Any:
        if name in modules:
            value = importlib.import_module(f"{package}.{modules[name]}")
        elif name in names:
            value = getattr(importlib.import_module(f"{package}.{names[name]}"), name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    return __getattr__
