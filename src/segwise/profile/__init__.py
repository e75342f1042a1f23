"""Describe, name and compare segments (and two tables' segment shares), and price a campaign.

Names load on first use (pandas is imported by the profiles, not by the config loader,
which only needs the ``[campaign]`` section registered).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from segwise.profile._campaign_settings import CampaignSettings

if TYPE_CHECKING:
    from segwise.profile._campaign import CampaignEffect, campaign_effect
    from segwise.profile._compare import (
        UNPLACED,
        PopulationComparison,
        compare_populations,
        describe_segments,
        segment_means,
    )
    from segwise.profile._describe import (
        amount_lifts,
        crosstab_segments,
        distinguishing_features,
        profile_segments,
    )
    from segwise.profile._naming import NAMING_RULES, NOISE_NAME, name_segments

_LAZY = {
    "CampaignEffect": "_campaign",
    "campaign_effect": "_campaign",
    "UNPLACED": "_compare",
    "PopulationComparison": "_compare",
    "compare_populations": "_compare",
    "describe_segments": "_compare",
    "segment_means": "_compare",
    "amount_lifts": "_describe",
    "crosstab_segments": "_describe",
    "distinguishing_features": "_describe",
    "profile_segments": "_describe",
    "NAMING_RULES": "_naming",
    "NOISE_NAME": "_naming",
    "name_segments": "_naming",
}

__all__ = [
    "NAMING_RULES",
    "NOISE_NAME",
    "UNPLACED",
    "CampaignEffect",
    "CampaignSettings",
    "PopulationComparison",
    "amount_lifts",
    "campaign_effect",
    "compare_populations",
    "crosstab_segments",
    "describe_segments",
    "distinguishing_features",
    "name_segments",
    "profile_segments",
    "segment_means",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
