"""Customers over time from an order-line file, loaded and cleaned as the RFM job does.

Snapshots, migration and cohorts then come from one scan (:mod:`segwise.track`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from segwise._engine import fetch_numpy, materialize
from segwise._expr import money_sum
from segwise._frames import DataSource, to_arrow
from segwise.config import SegwiseConfig
from segwise.features import RFM_FEATURES, EntityTable
from segwise.features.rfm import no_entity_left
from segwise.jobs._base import load_and_clean
from segwise.jobs.rfm import RFM_JOB
from segwise.track import TrackResult, order_pieces, track_pieces

if TYPE_CHECKING:
    from segwise.store import RunRecord

__all__ = ["run_track", "track_records"]


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
    if not any(row["rows"] for row in audit.to_pylist() if row["step"] == "kept"):
        # Said as the RFM job says it: the audit's steps tell where the lines went.
        raise no_entity_left(cleaned.source, audit)
    kept = pieces.filter(pieces._reason.isnull())
    result = track_pieces(kept, every=every, dates=dates, edges=edges, window=window,
                          cohort_period=cohort_period, learned=learned,
                          segment_map=config.segments, progress=progress)
    result.audit_table, result.quarantine_table = audit, loaded.quarantine_table
    return result


def track_records(result: TrackResult, *, config: SegwiseConfig | None = None,
                  source: str | None = None, fingerprint: str | None = None,
                  started_at: dt.datetime | None = None) -> list[RunRecord]:
    """Turn every snapshot of a track into the record of one run, oldest first.

    Each run holds the snapshot's customers (as :func:`segwise.jobs.run_rfm` would store
    them at that as-of date), its named segments (``rule``) and, when the track learned
    segments, the matched learned ones (``learned``), with the cleaning audit and
    quarantine of the one load. Stored together, the dashboard's run history and
    :meth:`segwise.store.Store.migration` show who moved where between snapshots.

    Parameters
    ----------
    result : TrackResult
        The track (:func:`run_track`).
    config : SegwiseConfig, optional
        The settings the track ran with (segment actions, the run's record).
    source, fingerprint : str, optional
        The input and its fingerprint, for the runs' records.
    started_at : datetime, optional
        When the command started (now when omitted).

    Returns
    -------
    list of RunRecord
    """
    # The store (SQLAlchemy) is imported only when something is stored.
    from segwise.jobs._store import config_dict, named_labels
    from segwise.store import RunRecord

    config = config or SegwiseConfig()
    actions = dict(config.segments.actions)
    records = []
    for date in result.dates:
        rows = result.snapshots[result.snapshots["snapshot"] == dt.datetime.combine(
            date, dt.time())]
        features = rows[["customer_id", *(c for c in rows.columns if c not in (
            "snapshot", "customer_id", "learned_segment", "learned_name"))]]
        entities = EntityTable(
            to_arrow(features.reset_index(drop=True)), RFM_FEATURES, as_of=date,
            source=source, fingerprint=fingerprint, audit_table=result.audit_table,
            quarantine_table=result.quarantine_table)
        ids = rows["customer_id"].astype(str)
        segmentations = [named_labels(entities, "rule", ids, rows["segment"],
                                      order=result.segment_order, actions=actions)]
        if "learned_name" in rows:
            segmentations.append(named_labels(entities, "learned", ids, rows["learned_name"]))
        record = RunRecord(command="track", entities=entities, segmentations=segmentations,
                           config=config_dict(config), job="rfm")
        if started_at is not None:
            record.started_at = started_at
        records.append(record)
    return records
