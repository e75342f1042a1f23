"""Customers over time in one call: snapshots, migration, cohorts (and learned segments)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segwise._engine import fetch_numpy, materialize
from segwise._frames import is_table, table_label
from segwise._time import parse_horizon
from segwise.exceptions import ConfigError, InputError
from segwise.segment.rfm import SegmentMap
from segwise.track._cohorts import COHORT_PERIODS, Cohorts, cohorts
from segwise.track._match import LearnedTrack, learned_snapshots
from segwise.track._migration import (
    biggest_flows,
    describe_flows,
    flows,
    migration_matrix,
    segment_sizes,
)
from segwise.track._snapshots import (
    order_pieces,
    score_snapshots,
    snapshot_aggregates,
    snapshot_dates,
    warn_empty_periods,
)

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from segwise.clean import CleanedLines

__all__ = ["MAX_WINDOW_YEARS", "TrackResult", "track_customers", "track_pieces"]

#: The longest trailing window taken, in years: longer is no window (all history), and a
#: window of billions of days overflowed the engine's day arithmetic.
MAX_WINDOW_YEARS = 100.0


def _nothing(step: str) -> None:
    """Default progress callback."""


#: Tables written beside the snapshots (``<stem>.<name>.csv``), when the run has them.
SIDE_TABLES = ("sizes", "migration", "cohorts", "cohort_mix", "learned", "audit", "quarantine")


@dataclass
class TrackResult:
    """Customers over time: RFM snapshots, their migration, and acquisition cohorts.

    Attributes
    ----------
    snapshots : pandas.DataFrame
        One row per snapshot and customer: ``snapshot`` (the as-of date), the RFM columns
        of :data:`segwise.features.RFM_COLUMNS`, ``r_score``, ``f_score``, ``m_score``,
        ``rfm_cell`` and ``segment`` (and ``learned_segment``, ``learned_name`` when
        learned segments were asked for).
    dates : list of date
        The as-of dates of the snapshots, in order; a date whose trailing window holds
        no purchase has no snapshot and is left out (with a warning).
    edges : str
        ``refit`` or ``fixed`` (see :data:`segwise.track.EDGES`).
    bin_edges : dict of date to dict
        The score edges used at each snapshot.
    window_days : int or None
        Trailing window of each snapshot's history; the whole history when None.
    cohorts : Cohorts
        Acquisition cohorts up to the last snapshot.
    segment_order : list of str
        Segment names in the order of the segment map.
    learned : LearnedTrack or None
        Learned segments matched across snapshots.
    audit_table, quarantine_table : pyarrow.Table or None
        The cleaning audit and quarantine, when the lines were loaded by
        :func:`segwise.jobs.run_track`.
    """

    snapshots: pd.DataFrame
    dates: list[_dt.date]
    edges: str
    bin_edges: dict[_dt.date, dict[str, np.ndarray]] = field(repr=False)
    window_days: int | None
    cohorts: Cohorts = field(repr=False)
    segment_order: list[str]
    learned: LearnedTrack | None = field(default=None, repr=False)
    audit_table: pa.Table | None = field(default=None, repr=False)
    quarantine_table: pa.Table | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        # The dataclass repr printed every customer's row of every snapshot.
        span = f" from {self.dates[0]} to {self.dates[-1]}" if self.dates else ""
        return (f"TrackResult({len(self.dates)} snapshots{span}, {len(self.snapshots):,} "
                f"customer rows, edges={self.edges!r}, window_days={self.window_days})")

    def sizes(self, segment_col: str = "segment") -> pd.DataFrame:
        """Count customers and revenue per segment at every snapshot (:func:`segment_sizes`)."""
        return segment_sizes(self.snapshots, segment_col=segment_col, order=self._order(
            segment_col))

    def flows(self, segment_col: str = "segment") -> pd.DataFrame:
        """Every flow between consecutive snapshots (see :func:`flows`)."""
        return flows(self.snapshots, segment_col=segment_col,
                     cumulative=self.window_days is None)

    def migration(self, before: Any = None, after: Any = None, *, value: str = "customers",
                  segment_col: str = "segment") -> pd.DataFrame:
        """Migration matrix between two snapshots, the last two by default.

        See :func:`segwise.track.migration_matrix`.
        """
        before = self.dates[-2] if before is None else before
        after = self.dates[-1] if after is None else after
        return migration_matrix(self.snapshots, before, after, value=value,
                                segment_col=segment_col, order=self._order(segment_col),
                                cumulative=self.window_days is None)

    def biggest_flows(self, n: int = 3, segment_col: str = "segment") -> pd.DataFrame:
        """Return the last pair of snapshots' segment changes that carried most revenue."""
        return biggest_flows(self.flows(segment_col), n)

    def headline(self, currency: str | None = None, n: int = 3) -> str:
        """Name the biggest flows of the last pair of snapshots in a sentence."""
        return describe_flows(self.biggest_flows(n), currency)

    def _order(self, segment_col: str) -> list[str]:
        if segment_col == "segment":
            return self.segment_order
        if self.learned is not None and segment_col == "learned_name":
            return list(dict.fromkeys(self.learned.centroids["learned_name"]))
        return []

    @staticmethod
    def output_paths(out: str | Path) -> list[Path]:
        """Every file :meth:`write` may write for ``out``, the main one first."""
        out = Path(out)
        if out.suffix.lower() == ".duckdb":
            return [out]
        return [out, *(out.with_name(f"{out.stem}.{name}.csv") for name in SIDE_TABLES)]

    def write(self, out: str | Path) -> list[Path]:
        """Write the snapshots, and the sizes, flows and cohort tables beside them.

        Parameters
        ----------
        out : str or Path
            ``.parquet`` or ``.csv`` for the snapshots; ``<stem>.sizes.csv``,
            ``<stem>.migration.csv`` (every flow), ``<stem>.cohorts.csv``,
            ``<stem>.cohort_mix.csv``, and with a loaded log ``<stem>.audit.csv`` (and
            ``<stem>.quarantine.csv`` when rows were quarantined) go beside it. A
            ``.duckdb`` file instead gets one table of each.

        Returns
        -------
        list of Path
            The files written.
        """
        from segwise.store import write_database, write_table

        out = Path(out)
        last = self.snapshots[self.snapshots["snapshot"] == pd.Timestamp(self.dates[-1])]
        mix = self.cohorts.mix(last, normalize=False).reset_index().melt(
            id_vars="cohort", var_name="segment", value_name="customers")
        tables: dict[str, Any] = {
            "snapshots": self.snapshots,
            "sizes": self.sizes(),
            "migration": self.flows(),
            "cohorts": self.cohorts.activity,
            "cohort_mix": mix,
        }
        if self.learned is not None:
            tables["learned"] = self.learned.centroids
        if self.audit_table is not None:
            tables["audit"] = self.audit_table
        if self.quarantine_table is not None and self.quarantine_table.num_rows:
            tables["quarantine"] = self.quarantine_table
        if out.suffix.lower() == ".duckdb":
            return [write_database(tables, out)]
        main, *side = self.output_paths(out)
        written = [write_table(tables.pop("snapshots"), main)]
        for name, path in zip(SIDE_TABLES, side, strict=True):
            if name in tables:
                written.append(write_table(tables[name], path))
        return written


def track_pieces(
    pieces: ir.Table,
    *,
    every: str | None = "quarter",
    dates: Sequence[Any] | None = None,
    edges: str = "refit",
    window: str | float | None = None,
    cohort_period: str | None = None,
    learned: int | None = None,
    segment_map: SegmentMap | None = None,
    random_state: int | None = 0,
    progress: Callable[[str], None] = _nothing,
) -> TrackResult:
    """Snapshots, migration and cohorts from kept order pieces (:func:`order_pieces`).

    See :func:`track_customers` for the parameters; ``pieces`` is read by a few grouped
    queries (span, snapshots, cohorts), so it should be stored
    (:func:`segwise._engine.materialize`).
    """
    progress("snapshots")
    span = fetch_numpy(pieces.filter(pieces.frequency > 0).aggregate(
        first=pieces.day.min(), last=pieces.day.max()))
    if np.isnat(np.asarray(span["first"], dtype="datetime64[D]")).any():
        raise InputError("no purchase order to track. Fix: check the input and the cleaning")
    first, last = (np.asarray(span[k], dtype="datetime64[D]")[0].astype(object)
                   for k in ("first", "last"))
    as_of = snapshot_dates(first, last, every, dates)
    window_days = None if window is None else round(parse_horizon(
        window, "D", "window", max_years=MAX_WINDOW_YEARS))
    if window_days == 0:  # snapshots count whole days: nobody would be in any
        raise ConfigError(f"window {window!r} is under a day. Fix: give 1d or more")
    agg = snapshot_aggregates(pieces, as_of, window_days)
    bought = fetch_numpy(pieces.filter(pieces.frequency > 0).select("day").distinct())
    warn_empty_periods(bought["day"], as_of)
    held = [d for d in as_of if (agg["snapshot"] == np.datetime64(d, "D")).any()]
    if len(held) < 2:
        # Every date is after the first purchase (snapshot_dates): only a trailing window
        # empties snapshots, and those are left out of the migration.
        raise InputError(
            f"with a trailing window of {window_days} days, {len(held)} of the {len(as_of)} "
            f"snapshots hold a customer{' (' + str(held[0]) + ')' if held else ''}: "
            "migration needs two. Fix: a longer window, or other dates")
    table, used = score_snapshots(agg, as_of, edges=edges, segment_map=segment_map)
    segment_map = segment_map or SegmentMap()
    track = None
    if learned:
        progress("learned")
        track = learned_snapshots(table, learned, random_state=random_state)
        table = table.merge(track.assignments, on=["snapshot", "customer_id"], how="left")
    progress("cohorts")
    period = cohort_period or (every if every in COHORT_PERIODS and dates is None else "month")
    groups = cohorts(pieces, period=period, end=as_of[-1])
    return TrackResult(
        snapshots=table, dates=held, edges=edges, bin_edges=used, window_days=window_days,
        cohorts=groups, segment_order=list(segment_map.patterns), learned=track,
    )


def track_customers(
    cleaned: CleanedLines,
    *,
    every: str | None = "quarter",
    dates: Sequence[Any] | None = None,
    edges: str = "refit",
    window: str | float | None = None,
    cohort_period: str | None = None,
    learned: int | None = None,
    segment_map: SegmentMap | None = None,
    random_state: int | None = 0,
    progress: Callable[[str], None] = _nothing,
) -> TrackResult:
    """RFM segments at a series of dates, how customers moved, and acquisition cohorts.

    Parameters
    ----------
    cleaned : CleanedLines
        Cleaned order lines (e.g. :attr:`segwise.jobs.RFMResult.cleaned`).
    every : {"month", "quarter", "year"}, default="quarter"
        Snapshot spacing (see :func:`snapshot_dates`).
    dates : sequence of date or str, optional
        Explicit as-of dates instead.
    edges : {"refit", "fixed"}, default="refit"
        Score each snapshot on its own quintiles (``refit``), or on the first snapshot's
        (``fixed``). Refitting is the default because frequency and monetary value
        accumulate over a customer's whole history: on fixed edges every customer drifts
        up the scale as the log grows, and the moves would measure the calendar, not the
        customers. Fixed edges suit a trailing ``window``, whose snapshots are alike.
    window : str or float, optional
        Trailing window of history per snapshot, e.g. ``"365d"`` or ``"12m"`` (days when a
        number); customers without a purchase in it are gone from that snapshot.
    cohort_period : {"month", "quarter", "year"}, optional
        Acquisition cohort period; follows ``every`` when omitted (months for given dates).
    learned : int, optional
        Also cluster every snapshot into this many learned segments, matched across
        snapshots (:func:`learned_snapshots`).
    segment_map : SegmentMap, optional
        RFM segment names; the default map when omitted.
    random_state : int or None, default=0
        Seed of the learned segments.
    progress : callable, optional
        Called with ``"snapshots"``, ``"learned"`` and ``"cohorts"`` as each starts.

    Returns
    -------
    TrackResult
        Snapshots, sizes, flows, migration matrices, the biggest flows and cohorts.

    Raises
    ------
    InputError
        If ``cleaned`` is not cleaned lines (a file or a DataFrame of raw order lines,
        which :func:`segwise.jobs.run_track` takes).
    """
    if not hasattr(cleaned, "kept"):  # a DataFrame was an AttributeError traceback
        raise InputError(
            f"track_customers takes cleaned order lines (RFMResult.cleaned), not a "
            f"{table_label(cleaned) if is_table(cleaned) else type(cleaned).__name__}. Fix: "
            "for a file or a table of raw order lines, call segwise.jobs.run_track(source, "
            "every=...), which loads and cleans them first")
    pieces = materialize(order_pieces(cleaned.kept), "order_pieces")
    return track_pieces(pieces, every=every, dates=dates, edges=edges, window=window,
                        cohort_period=cohort_period, learned=learned, segment_map=segment_map,
                        random_state=random_state, progress=progress)
