"""Cleaning of events: exact copies merged (a tracker firing twice), clock errors removed.

The generic rules (:func:`clean_rows`) with the audit; the cleaned rows remember which
roles the source had, since features differ with and without session ids, click flags or
searches.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import ibis

from segwise._settings import register_section
from segwise.clean._generic import CleanedRows, Rule, clean_rows

if TYPE_CHECKING:
    from segwise.io import ColumnRoles, Source

__all__ = ["CLOCK_ERROR", "CleanedEvents", "EventCleaning", "clean_events"]

#: Events dated before this are clock errors (a device reset to 1970, a default date).
EARLIEST = dt.datetime(1995, 1, 1)

#: Events whose time is a clock error, not a visit.
CLOCK_ERROR = Rule(
    "clock_error", f"dated before {EARLIEST:%Y} (a device clock reset or a default date)",
    lambda t: t.ts < ibis.literal(EARLIEST),
)


@dataclass(frozen=True)
class EventCleaning:
    """``[events]`` settings: how event rows are cleaned.

    Parameters
    ----------
    deduplicate : bool, default=True
        Merge exact copies (every column equal, the time included): a tracker that fired
        twice. Logs of ad impressions may show one ad twice on a page; switch off to keep
        such copies. Off, the RFE job reads no column it does not use (the ad or item,
        the page), which is faster on large logs.
    """

    deduplicate: bool = True


register_section("events", EventCleaning)


@dataclass(repr=False)  # CleanedRows' one line of counts
class CleanedEvents(CleanedRows):
    """Cleaned event rows, and the roles the source had.

    Attributes
    ----------
    roles : ColumnRoles
        The source's column roles: whether it has session ids, click flags, searches.
    """

    roles: ColumnRoles | None = field(default=None, repr=False)

    def has(self, role: str) -> bool:
        """Whether the source had a column for ``role``."""
        return self.roles is not None and role in self.roles


def clean_events(source: Source, settings: EventCleaning | None = None) -> CleanedEvents:
    """Clean a loaded event source: copies merged, clock errors removed, with the audit.

    Parameters
    ----------
    source : Source
        Output of :func:`segwise.io.load_source` for ``"events"``.
    settings : EventCleaning, optional
        ``[events]`` settings; the defaults when omitted.

    Returns
    -------
    CleanedEvents
        Lazy flagged rows, the audit and the source's roles.
    """
    settings = settings or EventCleaning()
    rows = clean_rows(source, [CLOCK_ERROR], duplicates=settings.deduplicate)
    return CleanedEvents(rows.rows, rows.n_input, rows.n_quarantined, rows.rules,
                         rows.deduplicated, rows.n_after_as_of, rows.grouped, rows.source,
                         roles=source.roles)
