"""The ``[campaign]`` config section: a leaf the config loader imports without pandas."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from segwise._settings import register_section
from segwise.exceptions import ConfigError

__all__ = ["CampaignSettings"]


@dataclass(frozen=True)
class CampaignSettings:
    """Financial-effect parameters, the ``[campaign]`` section of a config file.

    Parameters
    ----------
    response_rate : float, default=0.02
        Prior response rate of a contacted entity, for segments without one of their own.
    response_rates : mapping of str to float, default={}
        Prior response rate by segment name (``"High-value loyal" = 0.08``).
    response_col : str, default=""
        A 0/1 column of the entity table with measured responses (a past campaign); when
        present, rates are measured per segment (the prior acts as one pseudo-response in
        ``prior_weight`` contacts) instead of assumed.
    prior_weight : float, default=20
        How many contacts the prior counts for when rates are measured.
    value_per_response : float, default=100.0
        Value of one response (margin, not revenue), for segments without one of their own.
    values : mapping of str to float, default={}
        Value per response by segment name.
    value_share : float, default=0.1
        If above 0 and the entities have a value column: a response is worth this share
        of the segment's mean value (a tenth of what a customer brought so far), unless
        ``values`` names the segment.
    contact_cost : float, default=1.0
        Cost of one contact.
    budget : float, default=0.0
        Money to spend; 0 spends what contacting ``budget_share`` of everyone costs.
    budget_share : float, default=0.2
    sensitivity : float, default=0.5
        Relative move of assumed rates and values for the low and high cases.
    """

    response_rate: float = 0.02
    response_rates: Mapping[str, float] = field(default_factory=dict)
    response_col: str = ""
    prior_weight: float = 20.0
    value_per_response: float = 100.0
    values: Mapping[str, float] = field(default_factory=dict)
    value_share: float = 0.1
    contact_cost: float = 1.0
    budget: float = 0.0
    budget_share: float = 0.2
    sensitivity: float = 0.5

    def __post_init__(self) -> None:
        rates = {"response_rate": self.response_rate, **{
            f"response_rates.{k}": v for k, v in dict(self.response_rates).items()}}
        for key, rate in rates.items():
            if not 0 <= float(rate) <= 1:
                raise ConfigError(f"[campaign] {key} = {rate}: a rate between 0 and 1")
        if self.contact_cost <= 0:
            raise ConfigError(f"[campaign] contact_cost = {self.contact_cost}: must be > 0")
        # Money and weights below 0 have no meaning: a negative budget or value would
        # turn the plan's order and the range upside down instead of failing.
        amounts = {"value_per_response": self.value_per_response, **{
            f"values.{k}": v for k, v in dict(self.values).items()},
            "value_share": self.value_share, "prior_weight": self.prior_weight,
            "budget": self.budget}
        for key, amount in amounts.items():
            if not 0 <= float(amount) < math.inf:
                raise ConfigError(f"[campaign] {key} = {amount}: a finite number >= 0"
                                  + (" (0 spends what contacting budget_share of everyone "
                                     "costs)" if key == "budget" else ""))
        if not 0 < self.budget_share <= 1 and not self.budget:
            raise ConfigError(f"[campaign] budget_share = {self.budget_share}: in (0, 1]")
        if not 0 <= self.sensitivity < 1:
            raise ConfigError(f"[campaign] sensitivity = {self.sensitivity}: in [0, 1)")


register_section("campaign", CampaignSettings)
