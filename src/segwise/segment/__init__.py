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

# Learned segments (behavioural clustering).
from segwise.segment._cluster import ALGORITHMS, Segmenter, signed_log1p
from segwise.segment._embed import EMBEDDINGS, embed_2d, embed_customers
from segwise.segment._selection import (
    DEFAULT_FEATURES,
    DEFAULT_MODELS,
    KSweep,
    Segmentation,
    compare_models,
    segment_customers,
    sweep_k,
)

__all__ += [
    "ALGORITHMS",
    "DEFAULT_FEATURES",
    "DEFAULT_MODELS",
    "EMBEDDINGS",
    "KSweep",
    "Segmentation",
    "Segmenter",
    "compare_models",
    "embed_2d",
    "embed_customers",
    "segment_customers",
    "signed_log1p",
    "sweep_k",
]
