"""Describe, name and compare segments."""

from segwise.profile._campaign import CampaignEffect, CampaignSettings, campaign_effect
from segwise.profile._describe import (
    crosstab_segments,
    distinguishing_features,
    profile_segments,
)
from segwise.profile._naming import NAMING_RULES, NOISE_NAME, name_segments

__all__ = [
    "NAMING_RULES",
    "NOISE_NAME",
    "CampaignEffect",
    "CampaignSettings",
    "campaign_effect",
    "crosstab_segments",
    "distinguishing_features",
    "name_segments",
    "profile_segments",
]
