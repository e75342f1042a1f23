"""Labels at a fixed horizon: each customer's RFM segment ``H`` days after their window closed.

A full-history segment is taken on one reference date, so a customer acquired late has
had little time to buy again and their label is almost fixed by the window, while an
early customer's label reflects months more. Labels at a fixed horizon ask the same
question of everyone: "which segment is this customer in ``H`` days after their window
closed?". For each customer the *label date* is the day their window closed plus ``H``
days (midnight); their RFM is computed from the kept lines dated strictly before it
(recency from that date, frequency and monetary up to it), scored on the full-history bin
edges and named with the same segment map. When the label date is the reference date of
the full-history run, the label is the full-history segment exactly.

Everything up to one row per customer runs in Ibis, on the engine holding the lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import ibis
import numpy as np
import pandas as pd

from segwise.exceptions import ConfigError
from segwise.features.rfm import aggregate_customers
from segwise.predict._features import EarlyWindow, early_lines
from segwise.segment.rfm import SegmentMap, assign_segments, score_with_edges

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["DEFAULT_HORIZON_DAYS", "horizon_dates", "horizon_labels", "rfm_as_of"]

#: Default horizon: the segment 90 days after the window closed (see docs/assign.md).
DEFAULT_HORIZON_DAYS = 90


def horizon_dates(kept: ir.Table, window: EarlyWindow, horizon_days: int) -> ir.Table:
    """Label date of every customer whose window has a closing time: its day plus ``H`` days.

    Parameters
    ----------
    kept : ibis.Table
        Kept order lines (``CleanedLines.kept``).
    window : EarlyWindow
        The early window.
    horizon_days : int
        Days after the window closed.

    Returns
    -------
    ibis.Table
        ``customer_id`` and ``label_date`` (a timestamp at midnight). Customers whose
        window is still open with no day limit (too few orders) have no row.
    """
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 0:
        raise ConfigError(f"horizon_days must be 0 or more, got {horizon_days!r}")
    _, bounds = early_lines(kept, window)
    closed = bounds.filter(bounds.window_close.notnull())
    label_date = closed.window_close.truncate("D") + ibis.interval(days=horizon_days)
    return closed.select("customer_id", label_date=label_date.cast("timestamp"))


def rfm_as_of(kept: ir.Table, dates: ir.Table) -> pd.DataFrame:
    """Recency, frequency and monetary value of each customer as of their own date.

    Parameters
    ----------
    kept : ibis.Table
        Kept order lines (``CleanedLines.kept``).
    dates : ibis.Table
        ``customer_id`` and ``label_date`` (timestamp), one row per customer.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (sorted): ``label_date``, ``recency_days`` (days from the
        last purchase's day to ``label_date``), ``frequency`` (purchase orders) and
        ``monetary`` (net revenue, returns netted), all from the lines dated strictly
        before ``label_date``, exactly as :func:`segwise.features.rfm.finish_rfm` counts
        them for one reference date. Customers with no purchase before their date are
        left out.
    """
    joined = kept.join(dates, "customer_id")
    before = joined.filter(joined.ts < joined.label_date)
    # The very aggregates of the full-history RFM, per customer and date.
    df = aggregate_customers(before, by=["label_date"]).to_pandas()
    df = df[df["frequency"].fillna(0) > 0]
    label_date = pd.to_datetime(df["label_date"])
    last = pd.to_datetime(df["last_purchase"]).dt.normalize()
    out = pd.DataFrame(
        {
            "customer_id": df["customer_id"].astype(str),
            "label_date": label_date,
            "recency_days": (label_date - last).dt.days.astype("int64"),
            "frequency": df["frequency"].astype("int64"),
            "monetary": df["monetary"].astype("float64"),
        }
    )
    return out.set_index("customer_id").sort_index()


def horizon_labels(
    kept: ir.Table,
    window: EarlyWindow,
    horizon_days: int,
    bin_edges: Mapping[str, np.ndarray],
    segment_map: SegmentMap | None = None,
) -> pd.DataFrame:
    """RFM segment of each customer ``horizon_days`` after their early window closed.

    Parameters
    ----------
    kept : ibis.Table
        Kept order lines (``CleanedLines.kept``).
    window : EarlyWindow
        The early window.
    horizon_days : int
        Days after the window closed.
    bin_edges : mapping of str to ndarray
        Score edges of the full-history run (``RFMResult.bin_edges``).
    segment_map : SegmentMap, optional
        Segment names; the default map when omitted.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id``: ``label_date``, ``recency_days``, ``frequency``,
        ``monetary``, ``r_score``, ``f_score``, ``m_score`` and ``segment``. Only
        customers whose window closed; whether ``label_date`` has been observed is the
        caller's to check.
    """
    rfm = rfm_as_of(kept, horizon_dates(kept, window, horizon_days))
    scores = score_with_edges(rfm, bin_edges)
    named = assign_segments(scores, segment_map)
    return pd.concat([rfm, scores, named[["segment"]]], axis=1)
