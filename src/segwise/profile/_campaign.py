"""What a campaign aimed at segments is worth, against an untargeted one of the same budget.

Per segment: how many entities can be contacted, the expected response rate (a prior per
segment from the config, or one measured from a response column), the value of a response
and the cost of a contact. The targeted campaign spends the budget on the segments with
the highest expected profit per contact first (a segment that loses money is not
contacted); the untargeted campaign spends the same budget on contacts drawn at random
from everyone. The sensitivity range recomputes both with every response rate and value
moved down and up by ``sensitivity`` (measured rates: to their 95 % Wilson interval).
Every assumption is returned in words, for the report and the command line.

Works for any segmentation of any source kind: it takes segment labels and, optionally,
responses and values per entity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segwise.exceptions import ConfigError
from segwise.profile._campaign_settings import CampaignSettings

__all__ = ["CampaignEffect", "CampaignSettings", "campaign_effect"]




@dataclass
class CampaignEffect:
    """The targeted campaign against an untargeted one of the same budget.

    Attributes
    ----------
    segments : pandas.DataFrame
        Per segment: ``segment``, ``entities``, ``response_rate``, ``rate_source``
        (prior or measured), ``value_per_response``, ``profit_per_contact``,
        ``contacted`` (targeted), ``responses``, ``revenue``, ``cost``, ``profit``.
    comparison : pandas.DataFrame
        Rows ``targeted``, ``untargeted`` and ``difference``; columns ``contacts``,
        ``responses``, ``revenue``, ``cost``, ``profit``, ``roi``, and ``profit_low`` /
        ``profit_high`` for the sensitivity range.
    assumptions : list of str
        Every assumption, in words.
    """

    segments: pd.DataFrame
    comparison: pd.DataFrame
    assumptions: list[str]

    @property
    def gain(self) -> float:
        """Profit of the targeted campaign minus the untargeted one (base case)."""
        return float(self.comparison.loc["difference", "profit"])


def _wilson(k: np.ndarray, n: np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    n = np.maximum(n, 1)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def campaign_effect(
    labels: Sequence[Any] | np.ndarray | pd.Series,
    settings: CampaignSettings | None = None,
    *,
    responses: Sequence[float] | np.ndarray | None = None,
    values: Sequence[float] | np.ndarray | None = None,
    currency: str = "currency units",
    entities: str = "entities",
) -> CampaignEffect:
    """Estimate the financial effect of targeting segments.

    Parameters
    ----------
    labels : array-like of shape (n_entities,)
        Segment of each entity (name or label).
    settings : CampaignSettings, optional
        Rates, values, costs and budget; the defaults when omitted.
    responses : array-like of shape (n_entities,), optional
        Measured responses (1 responded, 0 did not, NaN not contacted); rates are then
        measured per segment.
    values : array-like of shape (n_entities,), optional
        Value of each entity, for ``settings.value_share``.
    currency : str, default="currency units"
        For the assumptions.
    entities : str, default="entities"
        What the labels are of (``"users"``, ``"customers"``), for the assumptions.

    Returns
    -------
    CampaignEffect

    Raises
    ------
    ConfigError
        If ``labels`` is empty, or ``responses`` or ``values`` do not match it.
    """
    s = settings or CampaignSettings()
    labels = np.asarray(labels).astype(str)
    if len(labels) == 0:
        raise ConfigError("no entities to plan a campaign for")
    names, idx = np.unique(labels, return_inverse=True)
    sizes = np.bincount(idx, minlength=len(names)).astype(float)
    prior = np.array([float(dict(s.response_rates).get(n, s.response_rate)) for n in names])
    low_rate, high_rate = prior * (1 - s.sensitivity), np.minimum(prior * (1 + s.sensitivity), 1)
    source = np.where([n in dict(s.response_rates) for n in names], "prior (segment)",
                      "prior (default)").astype(object)
    notes = []
    if responses is not None:
        r = np.asarray(responses, dtype=float)
        if len(r) != len(labels):
            raise ConfigError(f"{len(r)} responses for {len(labels)} entities")
        seen = ~np.isnan(r)
        k = np.bincount(idx[seen], r[seen], minlength=len(names))
        n = np.bincount(idx[seen], minlength=len(names)).astype(float)
        # A segment nobody in it was contacted, with a prior of weight 0, keeps the prior.
        rate = np.where(n + s.prior_weight > 0, (k + prior * s.prior_weight)
                        / np.maximum(n + s.prior_weight, 1e-300), prior)
        low_rate, high_rate = _wilson(k + prior * s.prior_weight, n + s.prior_weight)
        prior = rate
        source = np.where(n > 0, "measured", source).astype(object)
        notes.append(f"Response rates are measured from {int(n.sum()):,} contacted {entities} "
                     f"({int(k.sum()):,} responses), each segment's prior counting as "
                     f"{s.prior_weight:g} contacts; the range uses 95 % Wilson intervals.")
    value = np.array([float(dict(s.values).get(n, s.value_per_response)) for n in names])
    if s.value_share > 0 and values is not None:
        v = np.asarray(values, dtype=float)
        if len(v) != len(labels):
            raise ConfigError(f"{len(v)} values for {len(labels)} entities")
        mean = np.bincount(idx, np.nan_to_num(np.clip(v, 0, None)), minlength=len(names)) \
            / np.maximum(sizes, 1)
        value = np.where([n in dict(s.values) for n in names], value, s.value_share * mean)
        notes.append(f"A response is worth {s.value_share:.0%} of its segment's mean value "
                     "unless [campaign] values names the segment.")
    budget = s.budget or s.budget_share * len(labels) * s.contact_cost
    lo, hi = 1 - s.sensitivity, 1 + s.sensitivity
    cases = {"base": (prior, value), "low": (low_rate, value * lo),
             "high": (high_rate, value * hi)}
    plans = {name: _plan(sizes, rate, val, s.contact_cost, budget)
             for name, (rate, val) in cases.items()}
    contacted, seg_profit = plans["base"]["contacted"], plans["base"]["segment_profit"]
    segments = pd.DataFrame({
        "segment": names, "entities": sizes.astype(np.int64), "response_rate": prior,
        "rate_source": source, "value_per_response": value,
        "profit_per_contact": prior * value - s.contact_cost,
        "contacted": np.round(contacted).astype(np.int64),
        "responses": contacted * prior, "revenue": contacted * prior * value,
        "cost": contacted * s.contact_cost, "profit": seg_profit,
    }).sort_values("profit_per_contact", ascending=False, kind="stable").reset_index(drop=True)
    rows = {}
    for who in ("targeted", "untargeted"):
        p = plans["base"][who]
        rows[who] = {**p, "profit_low": plans["low"][who]["profit"],
                     "profit_high": plans["high"][who]["profit"]}
    diff = {k: rows["targeted"][k] - rows["untargeted"][k] for k in rows["targeted"]}
    diff["roi"] = np.nan
    # The range of the difference: both campaigns under the same low or high case.
    comparison = pd.DataFrame([rows["targeted"], rows["untargeted"], diff],
                              index=["targeted", "untargeted", "difference"])
    comparison.loc["difference", ["profit_low", "profit_high"]] = sorted(
        [plans["low"]["targeted"]["profit"] - plans["low"]["untargeted"]["profit"],
         plans["high"]["targeted"]["profit"] - plans["high"]["untargeted"]["profit"]])
    # A name in response_rates or values that is no segment (a typo, or a segment of
    # another run) would be counted as used while nothing uses it: say so.
    unused = {key: sorted(set(dict(given)) - set(names)) for key, given in
              (("response_rates", s.response_rates), ("values", s.values))}
    notes += [f"[campaign] {key} names {len(miss)} segment(s) that this segmentation does not "
              f"have, whose setting is not used: {', '.join(map(repr, miss))} (the segments: "
              f"{', '.join(repr(str(n)) for n in names)})." for key, miss in unused.items() if miss]
    assumptions = [
        f"Budget: {budget:,.0f} {currency}"
        + ("" if s.budget else f" (contacting {s.budget_share:.0%} of all "
                               f"{len(labels):,} {entities})")
        + f"; one contact costs {s.contact_cost:,.2f} {currency}.",
        f"Response rate: {s.response_rate:.1%} unless [campaign] response_rates names the "
        f"segment ({len(dict(s.response_rates)) - len(unused['response_rates'])} named).",
        *([] if s.value_share > 0 and values is not None else [
            f"A response is worth {s.value_per_response:,.2f} {currency} unless [campaign] "
            f"values names the segment ({len(dict(s.values)) - len(unused['values'])} named)."]),
        *notes,
        "Targeted: whole segments in order of expected profit per contact "
        "(rate x value - cost), the last one partly, until the budget is spent; segments "
        "that lose money are not contacted.",
        "Untargeted: the same budget spent on contacts drawn at random from everyone, who "
        "respond at the entity-weighted mean rate and value.",
        f"Range: assumed rates and values {s.sensitivity:.0%} lower and higher"
        + (" (measured rates: their 95 % interval)" if responses is not None else "")
        + ", both campaigns in the same case.",
        "Responses are assumed independent of being contacted by other campaigns, and "
        "contacting a segment does not change its size.",
    ]
    return CampaignEffect(segments, comparison, assumptions)


def _plan(sizes: np.ndarray, rate: np.ndarray, value: np.ndarray, cost: float,
          budget: float) -> dict[str, Any]:
    """Targeted and untargeted plans of one case."""
    per_contact = rate * value - cost
    order = np.argsort(-per_contact, kind="stable")
    contacted = np.zeros(len(sizes))
    left = budget / cost
    for i in order:
        if per_contact[i] <= 0 or left <= 0:
            break
        contacted[i] = min(sizes[i], left)
        left -= contacted[i]
    total = sizes.sum()
    mean_rv = float((sizes * rate * value).sum() / total)
    mean_rate = float((sizes * rate).sum() / total)
    n_random = min(budget / cost, total)
    targeted = _totals(contacted.sum(), float((contacted * rate).sum()),
                       float((contacted * rate * value).sum()), cost)
    untargeted = _totals(n_random, n_random * mean_rate, n_random * mean_rv, cost)
    return {"contacted": contacted, "segment_profit": contacted * (rate * value - cost),
            "targeted": targeted, "untargeted": untargeted}


def _totals(contacts: float, responses: float, revenue: float, cost: float) -> dict[str, float]:
    spent = contacts * cost
    return {"contacts": contacts, "responses": responses, "revenue": revenue, "cost": spent,
            "profit": revenue - spent, "roi": (revenue - spent) / spent if spent else np.nan}
