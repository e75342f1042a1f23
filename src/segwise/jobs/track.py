"""Customers over time from an order-line file, loaded and cleaned as the RFM job does.

Snapshots, migration and cohorts then come from one scan (:mod:`segwise.track`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from segwise._engine import fetch_numpy, materialize
from segwise._expr import money_sum
from segwise._frames import DataSource
from segwise.config import SegwiseConfig
from segwise.jobs._base import load_and_clean
from segwise.jobs.rfm import RFM_JOB
from segwise.track import TrackResult, order_pieces, track_pieces

__all__ = ["run_track"]


def _nothing(step: str) -> None:
    """Default progress callback."""


def run_track(
    source: DataSource,
    *,
    config: SegwiseConfig | None = None,
    every: str | None = "quarter",
    dates: Sequence[Any] | None = None,
    edges: str = "refit",
    window: str | float | None = None,
    cohort_period: str | None = None,
    learned: int | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    progress: Callable[[str], None] = _nothing,
) -> TrackResult:
    """Load, clean and track an order log, the cleaning audit folded into the one scan.

    Parameters
    ----------
    source : str, Path or table in memory
        The order-line file, or a DataFrame, Arrow or Ibis table of order lines.
    config : SegwiseConfig, optional
        Column roles, reader, cleaning and segment settings.
    every, dates, edges, window, cohort_period, learned
        See :func:`segwise.track.track_customers`.
    engine : {"duckdb", "spark"}, default="duckdb"
        Engine for the table work.
    spark_master : str, optional
        Spark master URL (``local[*]`` when omitted).
    progress : callable, optional
        Called with ``"load"``, ``"clean"``, ``"aggregate"`` and the steps of
        :func:`track_customers`.

    Returns
    -------
    TrackResult
        With the audit and the quarantine.
    """
    config = config or SegwiseConfig()
    loaded, cleaned = load_and_clean(RFM_JOB, source, config=config, engine=engine,
                                     spark_master=spark_master, progress=progress)
    progress("aggregate")
    # One scan: order pieces of every line, grouped by cleaning outcome too, give the audit
    # (summed over everything) and the kept pieces every snapshot and cohort is read from.
    metrics = cleaned.audit_metrics()
    pieces = materialize(order_pieces(cleaned.lines, by=["_reason"], sums=metrics), "order_pieces")
    # Per customer too: kept lines of customers without a purchase order are a step of
    # their own (no_purchase), as in the RFM job.
    audit = cleaned.audit_table(fetch_numpy(pieces.group_by(["_reason", "customer_id"]).aggregate(
        **{name: money_sum(pieces[name]) for name in metrics},
        frequency=pieces.frequency.max())))
    kept = pieces.filter(pieces._reason.isnull())
    result = track_pieces(kept, every=every, dates=dates, edges=edges, window=window,
                          cohort_period=cohort_period, learned=learned,
                          segment_map=config.segments, progress=progress)
    result.audit_table, result.quarantine_table = audit, loaded.quarantine_table
    return result
