"""Segments: rule-based RFM segments, and learned clusterings."""

from segwise.segment.rfm import (
    DEFAULT_ACTIONS,
    DEFAULT_SEGMENT_MAP,
    RFMScorer,
    SegmentMap,
    assign_segments,
    fm_score,
)

__all__ = [
    "DEFAULT_ACTIONS",
    "DEFAULT_SEGMENT_MAP",
    "RFMScorer",
    "SegmentMap",
    "assign_segments",
    "fm_score",
]
