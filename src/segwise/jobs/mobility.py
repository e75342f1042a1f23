"""The mobility job: location pings to per-user places, settlements, rhythm and interests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from segwise._frames import DataSource
from segwise.clean import CleanedPings, clean_pings
from segwise.config import SegwiseConfig
from segwise.features.pings import MobilityArtifacts, mobility_entities, with_pois
from segwise.jobs._base import Job, JobResult, register_job, run_job
from segwise.report import register_sections_module
from segwise.store import beside, write_table, write_tables

if TYPE_CHECKING:
    import pyarrow as pa

    from segwise.features import EntityTable
    from segwise.io import Source

__all__ = ["MOBILITY_JOB", "MobilityResult", "UserSegments", "run_mobility", "segment_users",
           "with_pois_option"]


def _nothing(step: str) -> None:
    """Default progress callback."""


class MobilityResult(JobResult):
    """Everything one mobility run produced: a :class:`~segwise.jobs.JobResult` of users.

    Attributes
    ----------
    entities : EntityTable
        One row per user: stays, stable locations, radius, commute, home and work (coarse
        cells and settlement levels), parts of the day, the week-time heatmap and its
        named group, and interests when categories were available.
    """

    cleaned: CleanedPings

    @property
    def artifacts_mobility(self) -> MobilityArtifacts:
        """Stable locations, dense areas, the week-time SOM and the interest model."""
        return cast(MobilityArtifacts, self.cleaned.derived)

    @property
    def locations_table(self) -> pa.Table:
        """Stable locations, one row each, with coarse cells only.

        User, label (home, work, home+work, other), cell, visits, dwell, shares of nights,
        working hours, weekends and parts of the day, settlement.
        """
        return self.artifacts_mobility.locations

    @staticmethod
    def output_paths(out: str | Path) -> list[Path]:
        """Every file :meth:`write` may write for ``out``, the main one first."""
        out = Path(out)
        paths = JobResult.output_paths(out)
        if out.suffix.lower() != ".duckdb":
            suffix = ".csv" if out.suffix.lower() == ".csv" else ".parquet"
            paths.append(out.with_name(f"{out.stem}.locations{suffix}"))
        return paths

    def write(self, out: str | Path, *, keep_formulas: bool = False) -> list[Path]:
        """Write the users (see :meth:`JobResult.write`) and ``<stem>.locations.parquet``.

        The stable locations carry coarse cells only (``[mobility] privacy``).
        """
        written = super().write(out, keep_formulas=keep_formulas)
        *_, locations = self.output_paths(out)
        if locations.suffix.lower() != ".duckdb":
            written.append(write_table(self.locations_table, locations,
                                       keep_formulas=keep_formulas))
        return written


def _clean(source: Source, config: SegwiseConfig) -> CleanedPings:
    return clean_pings(source, config.section("pings"))


def _features(cleaned: CleanedPings, config: SegwiseConfig,
              as_of: dt.date | None) -> EntityTable:
    return mobility_entities(cleaned, config, as_of)


#: Pings to per-user mobility features.
MOBILITY_JOB = register_job(Job(
    name="mobility",
    kind="pings",
    clean=_clean,
    features=_features,
    steps={
        "load": "Reading and parsing pings",
        "clean": "Checking coordinates",
        "features": "Finding stays, stable locations, rhythm and interests",
    },
    result=MobilityResult,
))
register_sections_module("pings", "segwise.jobs._mobility_report")


def with_pois_option(pois: str | Path | None) -> Callable[[SegwiseConfig], SegwiseConfig]:
    """Return a config adjustment that sets ``[mobility] pois`` (the CLI's ``--pois``)."""
    return lambda config: with_pois(config, str(pois) if pois else None)


@dataclass
class UserSegments:
    """High-level segments of users and what a campaign aimed at them is worth.

    Attributes
    ----------
    segmentation : segwise.segment.Segmentation
        Assignments, profiles and the k sweep (:func:`segwise.segment.segment_customers`).
    extras : segwise.report.ReportExtras
        The same, as inputs of the report.
    campaign : segwise.profile.CampaignEffect
        The targeted campaign against an untargeted one of the same budget.
    """

    segmentation: Any
    extras: Any
    campaign: Any

    def summary_text(self) -> str:
        """Segments, the campaign comparison and its assumptions, for the terminal."""
        p = self.segmentation.profiles
        lines = ["Segments:"]
        lines += [f"  {row['name']}: {int(row['customers']):,} users ({row['share']:.0%})"
                  for _, row in p.iterrows()]
        c = self.campaign.comparison
        lines.append("Campaign (same budget): " + ", ".join(
            f"{who} profit {c.loc[who, 'profit']:,.0f}" for who in ("targeted", "untargeted"))
            + f"; difference {c.loc['difference', 'profit']:,.0f} (range "
              f"{c.loc['difference', 'profit_low']:,.0f} to "
              f"{c.loc['difference', 'profit_high']:,.0f})")
        lines += ["Assumptions:", *(f"  - {a}" for a in self.campaign.assumptions)]
        return "\n".join(lines)

    @staticmethod
    def output_paths(out: str | Path) -> list[Path]:
        """Return the files :meth:`write` writes for ``out``: assignments, profiles, campaign."""
        return [beside(out, f".{name}.csv") for name in ("assignments", "segments", "campaign")]

    def write(self, out: str | Path, *, keep_formulas: bool = False) -> list[Path]:
        """Write the assignments, the profiles and the campaign table, together.

        ``<stem>.assignments.csv``, ``<stem>.segments.csv`` and ``<stem>.campaign.csv``
        (see :func:`segwise.store.write_tables`).
        """
        import pandas as pd

        camp = self.campaign
        table = pd.concat([camp.segments.assign(row="segment"),
                           camp.comparison.rename_axis("segment").reset_index()
                           .assign(row="campaign")], ignore_index=True)
        a = self.segmentation.assignments
        assignments, profiles, campaign = self.output_paths(out)
        return write_tables({
            assignments: a[[c for c in a.columns
                            if not c.startswith(("umap", "tsne", "embedded"))]],
            profiles: self.segmentation.profiles,
            campaign: table,
        }, keep_formulas=keep_formulas)


def segment_users(result: JobResult, *, embed: tuple[str, ...] = (),
                  random_state: int = 0) -> UserSegments:
    """Learn high-level segments of users and estimate the campaign they allow.

    The clustered features are the entity table's declared ones (mobility, rhythm and,
    with points of interest or check-ins, interest components); k is chosen by the
    Segmenter's criteria (:func:`segwise.segment.sweep_k`).

    Parameters
    ----------
    result : JobResult
        A mobility result (any job's result works).
    embed : tuple of str, default=()
        2-D maps to compute for the report (``("umap",)``); none for files alone.
    random_state : int, default=0

    Returns
    -------
    UserSegments
    """
    from segwise.profile import campaign_effect
    from segwise.report import ReportExtras
    from segwise.segment import segment_customers

    seg = segment_customers(result.entities, compare=None, embed=embed,
                            random_state=random_state)
    extras = ReportExtras.from_segmentation(seg)
    settings = result.config.section("campaign")
    frame = result.entities.frame
    responses = (frame[settings.response_col].astype(float)
                 if settings.response_col and settings.response_col in frame else None)
    effect = campaign_effect(seg.assignments["segment_name"].to_numpy(), settings,
                             responses=responses, entities=result.entities.schema.entities)
    return UserSegments(seg, extras, effect)


def run_mobility(
    source: DataSource,
    *,
    pois: str | Path | None = None,
    config: SegwiseConfig | None = None,
    as_of: dt.date | str | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    progress: Callable[[str], None] = _nothing,
) -> MobilityResult:
    """Load, clean and summarise pings per user.

    Parameters
    ----------
    source : str, Path or table in memory
        The pings (user, timestamp, lat, lon, optional accuracy and category): a file, or
        a DataFrame, Arrow or Ibis table.
    pois : str or Path, optional
        Points of interest (category, lat, lon, optional name); overrides
        ``[mobility] pois``.
    config : SegwiseConfig, optional
        ``[columns]``, ``[read]``, ``[pings]``, ``[mobility]`` and ``[campaign]``.
    as_of : date or str, optional
        Last day of pings used: later ones are left out and counted (``after_as_of``).
    engine : {"duckdb", "spark"}, default="duckdb"
    spark_master : str, optional
    progress : callable, optional
        Called with the name of each step as it starts.

    Returns
    -------
    MobilityResult
    """
    config = with_pois(config or SegwiseConfig(), str(pois) if pois else None)
    result = run_job(MOBILITY_JOB, source, config=config, as_of=as_of, engine=engine,
                     spark_master=spark_master, progress=progress)
    return cast(MobilityResult, result)
