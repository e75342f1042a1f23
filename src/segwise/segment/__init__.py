"""Segments: rule-based RFM segments, and learned clusterings.

The estimators load on first use: they pull in scikit-learn (and for clustering MiniSom and
UMAP with numba), which the RFM-only path (``segwise rfm``) must not pay for at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segwise._lazy import lazy_getattr
from segwise.segment._settings import MISSING_POLICIES, SegmentSettings
from segwise.segment.rfm import (
    DEFAULT_ACTIONS,
    DEFAULT_SEGMENT_MAP,
    SegmentMap,
    assign_segments,
    fm_score,
)

if TYPE_CHECKING:
    from segwise.segment._cluster import (
        ALGORITHMS,
        DENSITY_ALGORITHMS,
        Segmenter,
        signed_log1p,
    )
    from segwise.segment._embed import EMBEDDINGS, MAX_EMBED_SAMPLES, embed_2d, embed_customers
    from segwise.segment._scorer import RFMScorer
    from segwise.segment._selection import (
        DEFAULT_FEATURES,
        DEFAULT_MODELS,
        KSweep,
        Segmentation,
        compare_models,
        segment_customers,
        sweep_k,
    )

_LAZY = {
    "RFMScorer": "_scorer",
    "ALGORITHMS": "_cluster",
    "DENSITY_ALGORITHMS": "_cluster",
    "Segmenter": "_cluster",
    "signed_log1p": "_cluster",
    "EMBEDDINGS": "_embed",
    "MAX_EMBED_SAMPLES": "_embed",
    "embed_2d": "_embed",
    "embed_customers": "_embed",
    "DEFAULT_FEATURES": "_selection",
    "DEFAULT_MODELS": "_selection",
    "KSweep": "_selection",
    "Segmentation": "_selection",
    "compare_models": "_selection",
    "segment_customers": "_selection",
    "sweep_k": "_selection",
}

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ACTIONS",
    "DEFAULT_FEATURES",
    "DEFAULT_MODELS",
    "DEFAULT_SEGMENT_MAP",
    "DENSITY_ALGORITHMS",
    "EMBEDDINGS",
    "MAX_EMBED_SAMPLES",
    "MISSING_POLICIES",
    "KSweep",
    "RFMScorer",
    "SegmentMap",
    "SegmentSettings",
    "Segmentation",
    "Segmenter",
    "assign_segments",
    "compare_models",
    "embed_2d",
    "embed_customers",
    "fm_score",
    "segment_customers",
    "signed_log1p",
    "sweep_k",
]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
