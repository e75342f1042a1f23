"""The RFE job: events to recency, frequency and engagement per user, scores and segments.

Users are scored 1 to 5 on recency, frequency and engagement (by default days since last
seen, clicks and sessions; ``[rfe] score``) and named by the R x FE cell, a partition of
all 125 score cells like the RFM map, so every user lands in exactly one segment. The
names answer who is loyal, who can be converted, who is at risk, and who is not worth the
spend; :meth:`RFEResult.reach_table` says how to reach each segment: when its users are
active, on which device, in which category.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyarrow as pa

from segwise._engine import arrow_to_numpy, is_missing, numpy_to_arrow
from segwise._frames import DataSource
from segwise.clean import CleanedEvents, clean_events
from segwise.config import SegwiseConfig
from segwise.features.rfe import RFESettings, rfe_entities
from segwise.io import EVENTS
from segwise.jobs._base import Job, JobResult, register_job, run_job
from segwise.report import register_sections_module
from segwise.segment.rfm import SegmentMap, fit_bin_edges, name_cells, score_columns

if TYPE_CHECKING:
    import pandas as pd

    from segwise.features import EntityTable
    from segwise.io import Source

__all__ = ["RFE_ACTIONS", "RFE_JOB", "RFE_SEGMENTS", "RFEResult", "run_rfe"]


def _nothing(step: str) -> None:
    """Default progress callback."""


#: Segment -> patterns over the key ``<R><FE>``: the recency score and the mean of the
#: frequency and engagement scores (halves rounded up), as the RFM map's R x FM grid.
RFE_PATTERNS: dict[str, tuple[str, ...]] = {
    "Loyal": ("5[4-5]", "45"),
    "Engaged regulars": ("44", "3[4-5]"),
    "Convertible": ("[4-5][2-3]",),
    "Newcomers": ("51",),
    "Promising": ("41",),
    "Cooling": ("33",),
    "Drifting": ("3[1-2]",),
    "At risk": ("[1-2][3-4]",),
    "Lapsed loyal": ("[1-2]5",),
    "Dormant": ("2[1-2]", "12"),
    "Not worth the spend": ("11",),
}

#: What to do with each segment, and how to reach it (see the reach table for when, on
#: which device and in which category).
RFE_ACTIONS: dict[str, str] = {
    "Loyal": "Keep them: they come back and click on their own. Reward (premium features, "
             "early listings); no paid reach needed.",
    "Engaged regulars": "Grow them into the loyal: recommendations and saved-search alerts in "
                        "their category, timed to their active hour.",
    "Convertible": "Convert them: recent and browsing, but rarely clicking. Retarget in their "
                   "category on their device at their active hour; promoted listings.",
    "Newcomers": "Onboard: alerts and saved searches for the category they looked at, within "
                 "days of the first visit.",
    "Promising": "Nurture: one or two relevant reminders in their category at their active "
                 "hour.",
    "Cooling": "Re-engage before they drift: a timely reminder of new listings in their "
               "category.",
    "Drifting": "Low-cost reminder (e-mail or push on their device); stop if there is no "
                "response.",
    "At risk": "Win back: they used to browse and click. Retarget on their device with their "
               "category's new listings.",
    "Lapsed loyal": "Worth a personal win-back: formerly the most engaged. Find out what "
                    "changed; a strong offer in their category.",
    "Dormant": "Cheap broad channels only; suppress from paid retargeting.",
    "Not worth the spend": "Do not spend on them: seen long ago, never clicked, barely "
                           "engaged. Exclude from paid campaigns.",
}

#: The RFE segment map (checked to be a partition of the 125 score cells).
RFE_SEGMENTS = SegmentMap(RFE_PATTERNS, RFE_ACTIONS)


class RFEResult(JobResult):
    """Everything one RFE run produced: a :class:`~segwise.jobs.JobResult` of users.

    Attributes
    ----------
    cleaned : CleanedEvents
        The cleaned events, for the report's exploration.
    """

    cleaned: CleanedEvents

    @property
    def users_table(self) -> pa.Table:
        """One row per user: RFE features, scores, cell, segment and action."""
        return self.entities.table

    @functools.cached_property
    def users(self) -> pd.DataFrame:
        """:attr:`users_table` as pandas; ``attrs["as_of"]`` holds the reference date."""
        return self.entities.frame

    @property
    def score_columns(self) -> tuple[str, str, str]:
        """The recency, frequency and engagement columns that were scored."""
        return cast("tuple[str, str, str]", tuple(self.artifacts["score_columns"]))

    @property
    def summary_features(self) -> tuple[str, ...]:
        """The scored columns: the segments are summarised by what named them."""
        return self.score_columns

    def reach_table(self) -> pa.Table:
        """How to reach each named segment: who they are, when, on what, in which category.

        Returns
        -------
        pyarrow.Table
            Per segment in the map's order (empty ones left out): ``segment``, ``users``,
            ``share``, ``click_share`` (of all clicks), ``conversion_share``,
            ``median_ctr`` (smoothed), ``active_when`` (the most common preferred hour of
            the week), ``device`` and ``category`` (most common among the segment's
            users, with the share of its users), ``action``.
        """
        assert self.segment_map is not None  # noqa: S101 - the RFE job names segments
        c = arrow_to_numpy(self.entities.table.select([
            "segment", "clicks", "conversions", "ctr_smoothed", "active_when", "device",
            "category"]))
        rows: dict[str, list[Any]] = {k: [] for k in (
            "segment", "users", "share", "click_share", "conversion_share", "median_ctr",
            "active_when", "device", "category", "action")}
        clicks, conv = c["clicks"].astype(float), c["conversions"].astype(float)
        n = len(c["segment"])
        for name in self.segment_map.patterns:
            m = np.equal(c["segment"], name)
            if not m.any():
                continue
            rows["segment"].append(name)
            rows["users"].append(int(m.sum()))
            rows["share"].append(m.sum() / n)
            rows["click_share"].append(clicks[m].sum() / (clicks.sum() or 1.0))
            rows["conversion_share"].append(conv[m].sum() / (conv.sum() or 1.0))
            rows["median_ctr"].append(float(np.median(c["ctr_smoothed"][m])))
            for col in ("active_when", "device", "category"):
                rows[col].append(_most_common(c[col][m]))
            rows["action"].append(self.segment_map.actions[name])
        return numpy_to_arrow({k: np.array(v, dtype=object if k in (
            "segment", "active_when", "device", "category", "action") else None)
            for k, v in rows.items()})


def _most_common(values: np.ndarray) -> str | None:
    """``"Tue 20:00 (31 %)"``: the most common value and its share; ties to the smallest."""
    present = values[~is_missing(values)]
    if not len(present):
        return None
    labels, counts = np.unique(present.astype(str), return_counts=True)
    best = int(np.argmax(counts))
    return f"{labels[best]} ({counts[best] / len(values):.0%})"


def _clean(source: Source, config: SegwiseConfig) -> CleanedEvents:
    return clean_events(source, config.section("events"))


#: Roles the RFE features and report never read: the ad or item, the page.
_UNUSED_ROLES = frozenset({"object_id", "page"})


def _uses(config: SegwiseConfig) -> frozenset[str] | None:
    """Return the roles RFE reads: all but :data:`_UNUSED_ROLES`, unless copies are merged.

    Exact copies are found by comparing every column: two impressions of different ads
    in one search at one time are not copies, so with deduplication every role is read.
    """
    if config.section("events").deduplicate:
        return None
    return frozenset(EVENTS.role_names) - _UNUSED_ROLES


def _counted(config: SegwiseConfig) -> bool:
    """Whether the loader may store equal rows once, counted: unless copies are merged.

    Merging copies compares every column, the ad's included, so few rows would be equal.
    """
    return not config.section("events").deduplicate


def _features(cleaned: CleanedEvents, config: SegwiseConfig,
              as_of: dt.date | None) -> EntityTable:
    return rfe_entities(cleaned, sessions=config.section("sessions"),
                        settings=config.section("rfe"), as_of=as_of)


def _score(entities: EntityTable, config: SegwiseConfig) -> tuple[EntityTable, dict[str, Any]]:
    """Score R, F and E on quantile edges and name each user's cell.

    With the default columns, frequency is clicks; a log without any click (a view and
    purchase log) scores conversions instead, and one without either the events.
    """
    import pyarrow.compute as pc  # 20 ms that the other jobs' commands need not pay

    settings = config.section("rfe")
    columns = cast("tuple[str, str, str]", tuple(settings.score))
    if columns == RFESettings().score and not pc.max(entities.table["clicks"]).as_py():
        frequency = ("conversions" if pc.max(entities.table["conversions"]).as_py()
                     else "events")
        columns = (columns[0], frequency, columns[2])
    values = arrow_to_numpy(entities.table.select(list(columns)))
    edges = fit_bin_edges(values, columns=columns)
    scores = score_columns(values, edges, columns=columns)
    named = name_cells(scores["r_score"], scores["f_score"], scores["m_score"], RFE_SEGMENTS)
    added = numpy_to_arrow({
        "r_score": scores["r_score"], "f_score": scores["f_score"],
        "e_score": scores["m_score"], "rfe_cell": named["rfm_cell"],
        "segment": named["segment"], "action": named["action"],
    })
    table = pa.Table.from_arrays(
        [*entities.table.columns, *added.columns],
        names=[*entities.table.column_names, *added.column_names],
        metadata=entities.table.schema.metadata,
    )
    return entities.with_table(table), {"bin_edges": edges, "score_columns": columns}


#: Events to RFE features, scores and named segments per user.
RFE_JOB = register_job(Job(
    name="rfe",
    kind="events",
    clean=_clean,
    features=_features,
    score=_score,
    segment_map=lambda config: RFE_SEGMENTS,
    steps={
        "load": "Reading and parsing events",
        "clean": "Applying cleaning rules",
        "features": "Sessionizing and aggregating users",
        "score": "Scoring and naming segments",
    },
    result=RFEResult,
    as_of=lambda config: config.section("rfe").as_of,
    uses=_uses,
    counted=_counted,
))
register_sections_module("events", "segwise.jobs._rfe_report")


def run_rfe(
    source: DataSource,
    *,
    config: SegwiseConfig | None = None,
    as_of: dt.date | str | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    progress: Callable[[str], None] = _nothing,
) -> RFEResult:
    """Load events, clean them, compute RFE features per user, score and name segments.

    :func:`segwise.jobs.run_job` for the RFE job; see it for the parameters. The source is
    an event log: a file, a Parquet directory, a database (``[read] table`` and
    ``join``), or a DataFrame, Arrow or Ibis table; the config's ``[events]``,
    ``[sessions]`` and ``[rfe]`` sections apply.

    Returns
    -------
    RFEResult
        Users with segments, the audit and the quarantine.
    """
    result = run_job(RFE_JOB, source, config=config, as_of=as_of, engine=engine,
                     spark_master=spark_master, progress=progress)
    return cast(RFEResult, result)
