"""RFM segments at a series of as-of dates, from one scan of the order lines.

The lines are aggregated once per customer, order and day ("order pieces", a few percent
of the lines). Every snapshot is then a filter of the pieces: the pieces are crossed with
the snapshot dates, those before each date (and inside the window, when there is one) are
summed per snapshot and order, then per snapshot and customer, in one grouped query. No
snapshot reads the lines again, so twelve snapshots cost one scan and a small join.

A snapshot as of ``D`` holds everything bought before day ``D``, and recency is measured
to ``D``: exactly what :func:`segwise.jobs.run_rfm` gives with ``as_of=D`` on the lines
before ``D``.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd

from segwise._engine import fetch_numpy
from segwise._time import to_date
from segwise.exceptions import ConfigError, InputError, SegwiseWarning
from segwise.features.rfm import customer_aggregates, finish_rfm, order_aggregates
from segwise.segment.rfm import SegmentMap, fit_bin_edges, name_cells, score_columns

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = [
    "EDGES",
    "EVERY",
    "auto_every",
    "order_pieces",
    "score_snapshots",
    "snapshot_aggregates",
    "snapshot_dates",
    "warn_empty_periods",
]

#: Snapshot spacing: months between calendar-aligned as-of dates.
EVERY: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}
#: How scores are binned across snapshots. ``refit`` (default): each snapshot's own
#: quintiles. ``fixed``: the first snapshot's edges for every snapshot.
EDGES: tuple[str, ...] = ("refit", "fixed")


def order_pieces(
    lines: ir.Table, by: Sequence[str] = (), sums: dict[str, ir.Value] | None = None
) -> ir.Table:
    """Aggregate order lines per customer, order and purchase day: the one scan.

    Parameters
    ----------
    lines : ibis.Table
        Order lines with ``customer_id``, ``order_id``, ``ts``, ``revenue``, ``is_return``.
    by : sequence of str, default=()
        Further grouping columns (``_reason``, to fold the cleaning audit in).
    sums : dict of str to ibis expression, optional
        Further per-line aggregates that add up, computed in the same scan.

    Returns
    -------
    ibis.Table
        One row per ``by``, customer, order and ``day``, with the columns of
        :func:`segwise.features.rfm.order_aggregates`. An order that spans days is split
        into pieces, so that a snapshot takes exactly the lines before its date.
    """
    return order_aggregates(lines, [*by, "customer_id", "order_id", lines.ts.date().name("day")],
                            sums)


def auto_every(first: _dt.date, last: _dt.date) -> str:
    """Pick a snapshot spacing that gives a readable series (about 4 to 12 snapshots).

    Months for purchases spanning half a year or less, quarters up to three years, years
    beyond.

    Parameters
    ----------
    first, last : date
        First and last purchase days.

    Returns
    -------
    str
        A key of :data:`EVERY`.
    """
    days = (last - first).days
    return "month" if days <= 183 else "quarter" if days <= 3 * 366 else "year"


def snapshot_dates(
    first: _dt.date,
    last: _dt.date,
    every: str | None = "quarter",
    dates: Sequence[Any] | None = None,
) -> list[_dt.date]:
    """Return the as-of dates of the snapshots.

    Parameters
    ----------
    first, last : date
        First and last purchase days.
    every : {"month", "quarter", "year"} or None, default="quarter"
        Calendar spacing: the first day of every month, quarter (January, April, July,
        October) or year after ``first``, then the day after ``last`` (the as-of date
        :func:`segwise.jobs.run_rfm` uses by default) when it is not one of them. Ignored
        when ``dates`` are given.
    dates : sequence of date or str, optional
        Explicit as-of dates.

    Returns
    -------
    list of date
        At least two dates, in order.

    Raises
    ------
    ConfigError
        If ``every`` is unknown, a date is on or before the first purchase day (its
        snapshot would be empty), or fewer than two dates result.
    """
    end = last + _dt.timedelta(days=1)
    if dates is not None:
        out = sorted({to_date(d, "snapshot date") for d in dates})
        early = [d for d in out if d <= first]
        if early:
            raise ConfigError(
                f"snapshot date {early[0]} is not after the first purchase day {first}: its "
                "snapshot would be empty. Fix: give later dates"
            )
    else:
        if every not in EVERY:
            raise ConfigError(f"every {every!r}: choose one of {', '.join(EVERY)}")
        step = EVERY[every]
        month = (first.year * 12 + first.month - 1) // step * step + step  # next boundary
        out = []
        while (boundary := _dt.date(month // 12, month % 12 + 1, 1)) < end:
            out.append(boundary)
            month += step
        out.append(end)
    if len(out) < 2:
        # No shorter spacing than the one given: distinct dates are then the only fix.
        shorter = dates is None and EVERY[str(every)] > min(EVERY.values())
        raise ConfigError(
            f"purchases from {first} to {last} give {len(out)} snapshot(s) at "
            f"{'the given dates' if dates is not None else 'every ' + str(every)}; "
            "migration needs two. Fix: "
            + ("choose a shorter spacing or give the dates" if shorter
               else "give two or more distinct dates after the first purchase day")
        )
    return out


def snapshot_aggregates(
    pieces: ir.Table, dates: Sequence[_dt.date], window_days: int | None = None
) -> dict[str, np.ndarray]:
    """Per-customer aggregates at every snapshot, in one grouped query over the pieces.

    Parameters
    ----------
    pieces : ibis.Table
        Kept order pieces from :func:`order_pieces`.
    dates : sequence of date
        As-of dates.
    window_days : int, optional
        Only the last ``window_days`` before each date count (trailing-window RFM);
        the whole history when omitted.

    Returns
    -------
    dict of str to ndarray
        ``snapshot`` (datetime64[D]) and the columns of
        :func:`segwise.features.rfm.aggregate_customers`, one row per snapshot and
        customer with an order piece in range.
    """
    # Every piece once per snapshot date (a cross join with the dates, as an unnested list).
    crossed = pieces.mutate(snapshot=ibis.literal(list(dates), type="array<date>").unnest())
    inside = crossed.day < crossed.snapshot
    if window_days is not None:
        inside &= crossed.day >= crossed.snapshot - ibis.interval(days=int(window_days))
    kept = crossed.filter(inside)
    # Pieces of one order merge back into the order before customers are summed.
    orders = kept.group_by(["snapshot", "customer_id", "order_id"]).aggregate(
        first_purchase=kept.first_purchase.min(),
        last_purchase=kept.last_purchase.max(),
        frequency=kept.frequency.max(),
        monetary=kept.monetary.sum(),
        gross_revenue=kept.gross_revenue.sum(),
        n_lines=kept.n_lines.sum(),
    )
    agg = fetch_numpy(customer_aggregates(orders, ["snapshot", "customer_id"]))
    agg["snapshot"] = np.asarray(agg["snapshot"], dtype="datetime64[D]")
    return agg


def warn_empty_periods(days: np.ndarray, dates: Sequence[_dt.date]) -> None:
    """Warn of the periods between snapshots in which nobody bought.

    A month missing from an export looks like a month when every customer stayed away:
    the snapshots after it differ from the one before only in recency (or, with a trailing
    window, lose its customers), and no cohort starts in it. Nothing is wrong with the
    arithmetic, so this is said, not refused.

    Parameters
    ----------
    days : ndarray
        The days with a purchase (datetime64[D] or dates), from the whole log: what the
        snapshots hold, with a trailing window shorter than a period, cannot tell a
        period without purchases from one whose purchases fell out of the window.
    dates : sequence of date
        The as-of dates, in order.
    """
    bought = np.sort(np.asarray(days, dtype="datetime64[D]"))
    gaps: list[list[_dt.date]] = []
    n_empty = 0
    for before, date in itertools.pairwise(dates):
        # Purchase days in [before, date): the first on or after ``before`` is before ``date``.
        at = np.searchsorted(bought, np.datetime64(before, "D"))
        if at < len(bought) and bought[at] < np.datetime64(date, "D"):
            continue
        n_empty += 1
        end = date - _dt.timedelta(days=1)
        if gaps and gaps[-1][1] + _dt.timedelta(days=1) == before:
            gaps[-1][1] = end  # one gap over several periods
        else:
            gaps.append([before, end])
    if gaps:
        spans = ", ".join(f"{a} to {b}" for a, b in gaps)
        warnings.warn(
            f"no purchase at all from {spans} ({n_empty} of {len(dates) - 1} periods between "
            "snapshots): no snapshot sees a purchase in it and no cohort starts in it. Check "
            "that the order lines are complete",
            SegwiseWarning,
            stacklevel=3,
        )


def score_snapshots(
    agg: dict[str, np.ndarray],
    dates: Sequence[_dt.date],
    *,
    edges: str = "refit",
    segment_map: SegmentMap | None = None,
) -> tuple[pd.DataFrame, dict[_dt.date, dict[str, np.ndarray]]]:
    """Finish, score and name every snapshot's customers.

    Parameters
    ----------
    agg : dict of str to ndarray
        Output of :func:`snapshot_aggregates`.
    dates : sequence of date
        As-of dates.
    edges : {"refit", "fixed"}, default="refit"
        See :data:`EDGES`.
    segment_map : SegmentMap, optional
        Segment names over the R x FM grid; the default map when omitted.

    Returns
    -------
    tuple
        The long table (one row per snapshot and customer: ``snapshot`` and the RFM
        columns, scores, ``rfm_cell`` and ``segment``), and the score edges used at each
        date.
    """
    if edges not in EDGES:
        raise ConfigError(f"edges {edges!r}: choose one of {', '.join(EDGES)}")
    frames, used = [], {}
    reference: dict[str, np.ndarray] | None = None
    collapsed: list[str] = []
    empty: list[str] = []
    sizes: dict[_dt.date, int] = {}
    for date in dates:
        sel = agg["snapshot"] == np.datetime64(date, "D")
        rfm = finish_rfm({k: v[sel] for k, v in agg.items()}, date)
        if not len(rfm["customer_id"]):
            empty.append(str(date))  # a trailing window with nobody in it
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            fitted = fit_bin_edges(rfm)
        if caught:
            collapsed.append(str(date))
        if reference is None or edges == "refit":
            reference = fitted
        sizes[date] = len(rfm["customer_id"])
        used[date] = reference
        scores = score_columns(rfm, reference)
        named = name_cells(scores["r_score"], scores["f_score"], scores["m_score"], segment_map)
        frame = pd.DataFrame({**rfm, **scores, "rfm_cell": named["rfm_cell"],
                              "segment": named["segment"]})
        frame.insert(0, "snapshot", pd.Timestamp(date))
        frames.append(frame)
    if not frames:
        raise InputError("no customer bought before any snapshot date. Fix: give later dates")
    if empty:
        warnings.warn(
            f"{len(empty)} of {len(dates)} snapshots hold no customer, as nobody bought in "
            f"their trailing window: {', '.join(empty)}. They are left out of the sizes and "
            "the migration, which goes from the snapshot before them to the one after. Fix: "
            "a longer window, or other dates",
            SegwiseWarning,
            stacklevel=2,
        )
    if collapsed:
        warnings.warn(
            f"quantile bins collapse (many tied values, some scores unused) at {len(collapsed)} "
            f"of {len(dates)} snapshots: {', '.join(collapsed)}",
            SegwiseWarning,
            stacklevel=2,
        )
    if edges == "fixed":
        _check_reference(sizes)
    return pd.concat(frames, ignore_index=True), used


#: Fewest customers whose quintiles may score every snapshot (``edges="fixed"``): ten a bin.
MIN_REFERENCE = 50


def _check_reference(sizes: dict[_dt.date, int]) -> None:
    """Warn when fixed edges come from a first snapshot too small to stand for the others."""
    (first, n_first), *_ = sizes.items()
    big, n_big = max(sizes.items(), key=lambda item: item[1])
    if n_first < MIN_REFERENCE or 2 * n_first < n_big:
        warnings.warn(
            f"fixed edges come from the first snapshot ({first}: {n_first:,} customers, "
            f"against {n_big:,} at {big}): every snapshot is scored on quintiles of a "
            "history too short to stand for it. Fix: start the dates later, or use "
            "edges 'refit'",
            SegwiseWarning,
            stacklevel=3,
        )
