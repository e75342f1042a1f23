"""Exceptions raised by segwise.

Every error a user can cause carries a message that names the file, the row or
column at fault and the fix, so that the CLI can print it as a one-line reason.
"""

from __future__ import annotations

__all__ = ["ConfigError", "InputError", "NotFoundError", "SegwiseError", "UsageError"]


class SegwiseError(Exception):
    """Base class of every error segwise raises on purpose."""


class InputError(SegwiseError):
    """An input file cannot be used as it is (missing column, unreadable, empty, ...)."""


class ConfigError(SegwiseError):
    """A configuration value or file is invalid."""


class UsageError(ConfigError):
    """A command's options do not go together, or one does not apply to what was asked.

    The CLI prints its message as one line and exits with status 2, as for any other
    misuse of its options.
    """


class NotFoundError(SegwiseError):
    """Something asked for by name or id does not exist (a run, a segment, a customer)."""
