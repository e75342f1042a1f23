"""Named registries: how kinds, feature sets, jobs and config sections find each other.

A module registers what it defines when it is imported; other modules look it up by name.
Registering the same object twice is harmless; a different one under a taken name is an
error unless ``replace`` is given.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from segwise.exceptions import ConfigError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects of one sort by name.

    Parameters
    ----------
    what : str
        What the objects are, for messages ("source kind").
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T, *, replace: bool = False) -> T:
        """Register ``item`` under ``name`` and return it.

        Raises
        ------
        ConfigError
            If another object has the name and ``replace`` is false.
        """
        old = self._items.get(name)
        if old is not None and old is not item and old != item and not replace:
            raise ConfigError(f"a {self.what} named {name!r} is registered already")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        """Return the object registered as ``name``.

        Raises
        ------
        ConfigError
            If nothing is, naming what is.
        """
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise ConfigError(f"unknown {self.what} {name!r}; registered: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def items(self) -> dict[str, T]:
        """Return a copy of the registered objects by name, in registration order."""
        return dict(self._items)
