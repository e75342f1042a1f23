"""Plain-language names and recommended actions for learned segments.

Each segment is placed on three or four levels from its profile's ``z`` values (recency:
recent / mid / lapsed; frequency and monetary: high / mid / low; tenure: new / mid / long)
plus whether its typical customer bought once. The first rule of :data:`NAMING_RULES` whose
conditions hold gives the name and the action. Rules are plain data: pass your own list to
:func:`name_segments` to change the vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["NAMING_RULES", "NOISE_NAME", "name_segments"]

#: Name and action of the noise group (label -1) of the density methods.
NOISE_NAME = ("Unusual customers", "Review individually: outliers that fit no segment.")

#: Ordered rules: ``when`` maps a dimension (R, F, M, T, one_timer) to accepted levels.
NAMING_RULES: list[dict[str, Any]] = [
    {"when": {"R": {"recent"}, "F": {"high"}, "M": {"high"}}, "name": "High-value loyal",
     "action": "Reward and retain: VIP perks, early access and referral asks; no discounts."},
    {"when": {"R": {"lapsed"}, "F": {"high"}}, "name": "At-risk high-value",
     "action": "Win back personally and fast: reach out, ask what changed, tailored offer."},
    {"when": {"R": {"lapsed"}, "M": {"high"}}, "name": "At-risk big spenders",
     "action": "Win back personally and fast: reach out, ask what changed, tailored offer."},
    {"when": {"R": {"lapsed"}, "one_timer": {True}}, "name": "Lapsed one-timers",
     "action": "One low-cost reactivation attempt, then suppress from paid campaigns."},
    {"when": {"R": {"lapsed"}, "F": {"mid"}}, "name": "Lapsing regulars",
     "action": "Win back before they are gone: reminder with a personalised offer."},
    {"when": {"R": {"lapsed"}}, "name": "Lapsed low-value",
     "action": "Low-cost win-back email series; suppress if there is no response."},
    {"when": {"T": {"new"}, "R": {"recent", "mid"}}, "name": "New customers",
     "action": "Onboard: welcome series and an incentive for the second purchase."},
    {"when": {"R": {"recent"}, "one_timer": {True}}, "name": "Recent first-timers",
     "action": "Onboard: welcome series and an incentive for the second purchase."},
    {"when": {"R": {"recent"}, "M": {"high"}}, "name": "Recent big spenders",
     "action": "Upsell and cross-sell premium lines; invite to the loyalty programme."},
    {"when": {"R": {"recent"}, "F": {"high"}}, "name": "Frequent buyers",
     "action": "Grow the basket: bundles and recommendations; reward the habit."},
    {"when": {"F": {"high"}}, "name": "Loyal regulars",
     "action": "Keep them engaged: loyalty points, personalised recommendations."},
    {"when": {"M": {"high"}}, "name": "Valuable regulars",
     "action": "Keep them engaged: cross-sell and personalised recommendations."},
    {"when": {"R": {"recent"}}, "name": "Active regulars",
     "action": "Lift frequency and basket: bundles, free-shipping thresholds, reminders."},
    {"when": {"F": {"low"}, "M": {"low"}}, "name": "Cooling low-value",
     "action": "A timely reminder or low-cost offer before they lapse."},
    {"when": {}, "name": "Mid-value regulars",
     "action": "Nurture: cross-sell and a loyalty programme to lift frequency."},
]


def _level(z: float, threshold: float, low: str, mid: str, high: str) -> str:
    if not np.isfinite(z):
        return mid
    return high if z >= threshold else low if z <= -threshold else mid


def _levels(row: pd.Series, cols: Mapping[str, str], threshold: float) -> dict[str, Any]:
    """Levels of one profile row; dimensions whose column is absent are left out."""
    spec = {"R": ("recent", "mid", "lapsed"), "F": ("low", "mid", "high"),
            "M": ("low", "mid", "high"), "T": ("new", "mid", "long")}
    out: dict[str, Any] = {}
    for dim, (low, mid, high) in spec.items():
        key = f"{cols[dim]}_z"
        if key in row.index:
            out[dim] = _level(float(row[key]), threshold, low, mid, high)
    fmed = f"{cols['F']}_median"
    if fmed in row.index:
        out["one_timer"] = bool(row[fmed] <= 1)
    return out


def _matches(when: Mapping[str, Any], levels: Mapping[str, Any]) -> bool:
    return all(dim in levels and levels[dim] in ok for dim, ok in when.items())


def _generic(row: pd.Series, threshold: float) -> str:
    """Name a segment from its two most distinctive features (non-RFM feature sets)."""
    zs = {c[:-2]: float(row[c]) for c in row.index if str(c).endswith("_z")}
    top = sorted(zs.items(), key=lambda kv: -abs(kv[1]))[:2]
    parts = [f"{'high' if z > 0 else 'low'} {f.replace('_', ' ')}" for f, z in top
             if abs(z) >= threshold]
    name = ", ".join(parts) or "average profile"
    # The first letter up, the features' own case kept: "Low MntWines", not "Low mntwines".
    return name[:1].upper() + name[1:]


def name_segments(
    profiles: pd.DataFrame,
    *,
    recency_col: str = "recency_days",
    frequency_col: str = "frequency",
    monetary_col: str = "monetary",
    tenure_col: str = "tenure_days",
    threshold: float = 0.5,
    rules: Sequence[Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """Give each segment a plain-language name and a recommended action.

    Parameters
    ----------
    profiles : pandas.DataFrame
        Output of :func:`segwise.profile.profile_segments` (uses ``segment``, ``<f>_z``,
        ``<frequency>_median`` and, for ordering duplicates, ``<monetary>_mean``).
    recency_col, frequency_col, monetary_col, tenure_col : str
        Feature names of the RFM dimensions; absent ones are skipped.
    threshold : float, default=0.5
        ``|z|`` from which a dimension counts as high or low.
    rules : sequence of mapping, optional
        Rules in the form of :data:`NAMING_RULES` (the default).

    Returns
    -------
    pandas.DataFrame
        ``segment``, ``name``, ``action`` and ``levels`` (the levels the name came from).
        Names are unique: segments sharing a rule are told apart by value ("higher value").
    """
    rules = NAMING_RULES if rules is None else rules
    cols = {"R": recency_col, "F": frequency_col, "M": monetary_col, "T": tenure_col}
    rfm_known = all(f"{cols[d]}_z" in profiles.columns for d in ("R", "F", "M"))
    records = []
    for _, row in profiles.iterrows():
        seg = int(row["segment"])
        levels = _levels(row, cols, threshold)
        if seg < 0:
            name, action = NOISE_NAME
        elif rfm_known:
            rule = next(r for r in [*rules, NAMING_RULES[-1]] if _matches(r["when"], levels))
            name, action = rule["name"], rule["action"]
        else:
            name = _generic(row, threshold)
            action = "Review the profile: no marketing rule covers these features."
        desc = ", ".join(f"{k}={v}" for k, v in levels.items())
        records.append({"segment": seg, "name": name, "action": action, "levels": desc})
    out = pd.DataFrame(records, columns=["segment", "name", "action", "levels"])
    value = f"{monetary_col}_mean"
    return _unique_names(out, profiles, value if value in profiles.columns else None)


def _unique_names(names: pd.DataFrame, profiles: pd.DataFrame,
                  value_col: str | None) -> pd.DataFrame:
    """Append a qualifier to names shared by several segments.

    By value (``value_col``) where the entities have one; otherwise by the feature on
    which the segments sharing the name differ most ("higher radius km"): users without
    a value told apart by "higher value" read as if they had one.
    """
    names = names.copy()
    zs = [c for c in profiles.columns if str(c).endswith("_z")]
    for name, idx in names.groupby("name").groups.items():
        if len(idx) < 2:
            continue
        pos = [names.index.get_loc(i) for i in idx]
        spread = (profiles.iloc[pos][zs].agg(lambda c: c.max() - c.min()).dropna()
                  if value_col is None else pd.Series(dtype=float))
        if len(spread):
            feature = str(spread.idxmax())
            by, value = feature[:-2].replace("_", " "), profiles[feature].to_numpy()
        else:
            by = "value"
            value = (profiles[value_col] if value_col is not None
                     else profiles["segment"]).to_numpy()
        ranked = [names.index[p] for p in sorted(pos, key=lambda p: value[p])]
        if len(ranked) == 2:
            tags = [f"lower {by}", f"higher {by}"]
        else:
            tags = [f"{by} tier {i + 1} of {len(ranked)}" for i in range(len(ranked))]
        for i, tag in zip(ranked, tags, strict=True):
            names.loc[i, "name"] = f"{name} ({tag})"
    return names
