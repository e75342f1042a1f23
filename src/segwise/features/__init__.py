"""Features: each source kind's rows turned into one row per entity.

Every features module returns an :class:`EntityTable` whose columns a :class:`FeatureSet`
declares; from there on nothing cares which kind of source it came from.
"""

from segwise.features._entity import (
    EntityTable,
    Feature,
    FeatureSet,
    feature_sets,
    match_feature_set,
    register_feature_set,
    source_fingerprint,
)
from segwise.features.pings import (
    MOBILITY,
    MOBILITY_INTERESTS,
    MobilitySettings,
    mobility_entities,
)
from segwise.features.rfe import RFE_FEATURES, rfe_entities
from segwise.features.rfm import (
    RFM_COLUMNS,
    RFM_FEATURES,
    aggregate_customers,
    compute_rfm,
    finish_rfm,
    reference_date,
)

__all__ = [
    "MOBILITY",
    "MOBILITY_INTERESTS",
    "RFE_FEATURES",
    "RFM_COLUMNS",
    "RFM_FEATURES",
    "EntityTable",
    "Feature",
    "FeatureSet",
    "MobilitySettings",
    "aggregate_customers",
    "compute_rfm",
    "feature_sets",
    "finish_rfm",
    "match_feature_set",
    "mobility_entities",
    "reference_date",
    "register_feature_set",
    "rfe_entities",
    "source_fingerprint",
]
