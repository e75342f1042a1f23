"""Customers over time: RFM snapshots, segment migration, cohorts, learned segments matched.

The usual entry points are :func:`segwise.jobs.run_track` (an order-line file, loaded and
cleaned) and
:func:`track_customers` (cleaned lines, e.g. :attr:`segwise.jobs.RFMResult.cleaned`). Both
read the lines once, however many snapshots are asked for, and return a
:class:`TrackResult`: the snapshots, segment sizes over time, migration matrices (counts,
shares, revenue carried; new and gone customers on their own row and column), every flow
between consecutive snapshots, the biggest flows in a sentence, and acquisition cohorts.
"""

from segwise.track._cohorts import COHORT_PERIODS, Cohorts, cohorts
from segwise.track._match import LearnedTrack, learned_snapshots, match_centroids
from segwise.track._migration import (
    FLOW_COLUMNS,
    GONE,
    NEW,
    biggest_flows,
    describe_flows,
    flows,
    migration_matrix,
    segment_sizes,
)
from segwise.track._snapshots import (
    EDGES,
    EVERY,
    auto_every,
    order_pieces,
    score_snapshots,
    snapshot_aggregates,
    snapshot_dates,
)
from segwise.track._track import MAX_WINDOW_YEARS, TrackResult, track_customers, track_pieces

__all__ = [
    "COHORT_PERIODS",
    "EDGES",
    "EVERY",
    "FLOW_COLUMNS",
    "GONE",
    "MAX_WINDOW_YEARS",
    "NEW",
    "Cohorts",
    "LearnedTrack",
    "TrackResult",
    "auto_every",
    "biggest_flows",
    "cohorts",
    "describe_flows",
    "flows",
    "learned_snapshots",
    "match_centroids",
    "migration_matrix",
    "order_pieces",
    "score_snapshots",
    "segment_sizes",
    "snapshot_aggregates",
    "snapshot_dates",
    "track_customers",
    "track_pieces",
]
