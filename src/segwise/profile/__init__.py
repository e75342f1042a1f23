"""Describe, name and compare segments."""

from segwise.profile._compare import (
    UNPLACED,
    PopulationComparison,
    compare_populations,
    describe_segments,
    segment_means,
)
from segwise.profile._describe import (
    crosstab_segments,
    distinguishing_features,
    profile_segments,
)
from segwise.profile._naming import NAMING_RULES, NOISE_NAME, name_segments

__all__ = [
    "NAMING_RULES",
    "NOISE_NAME",
    "UNPLACED",
    "PopulationComparison",
    "compare_populations",
    "crosstab_segments",
    "describe_segments",
    "distinguishing_features",
    "name_segments",
    "profile_segments",
    "segment_means",
]
