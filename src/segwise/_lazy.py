"""Packages whose names load on first use, so that light commands skip heavy imports."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["defer_package_init", "lazy_getattr"]


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


def defer_package_init(package: str) -> None:
    """Import ``package`` without running its ``__init__``'s imports: each loads on first use.

    For a package whose ``__init__`` only imports names from its own submodules (and sets
    ``__all__``), as Ibis's ``ibis.backends.sql.compilers`` does for the compilers of all
    twenty SQL dialects, of which a DuckDB run uses one: a module that finds each name,
    and each submodule, on first use takes its place. Nothing changes if the package is
    loaded already, or if its ``__init__`` does anything else (a later version may).

    Parameters
    ----------
    package : str
        The package's dotted name; its parent package is imported.
    """
    if package in sys.modules:
        return
    parent_name, _, leaf = package.rpartition(".")
    parent = importlib.import_module(parent_name) if parent_name else None
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None or spec.submodule_search_locations is None:
        return
    where = _names_imported(Path(spec.origin).read_text(encoding="utf-8"), package)
    if where is None:
        return
    module = importlib.util.module_from_spec(spec)

    def __getattr__(name: str) -> Any:
        if name in where:
            value = getattr(importlib.import_module(where[name]), name)
        elif importlib.util.find_spec(f"{package}.{name}") is not None:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(module, name, value)
        return value

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    module.__all__ = list(where)  # type: ignore[attr-defined]
    sys.modules[package] = module
    if parent is not None:
        setattr(parent, leaf, module)


def _names_imported(source: str, package: str) -> dict[str, str] | None:
    """Map each name an ``__init__`` imports to its submodule; None if it does more."""
    where: dict[str, str] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom):
            if node.module == "__future__":
                continue
            names = [alias.asname or alias.name for alias in node.names]
            if node.level or not (node.module or "").startswith(package + ".") or "*" in names:
                return None
            where.update(dict.fromkeys(names, str(node.module)))
            continue
        sets_all = isinstance(node, ast.Assign) and [
            getattr(target, "id", None) for target in node.targets] == ["__all__"]
        docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if not (sets_all or docstring):
            return None  # code: the __init__ runs as the package wrote it
    return where
