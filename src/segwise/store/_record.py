"""What one run puts into the store: plain tables, whatever the job or kind."""

from __future__ import annotations

import datetime as dt
import platform
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from segwise.exceptions import ConfigError

if TYPE_CHECKING:
    from segwise.features import EntityTable

__all__ = ["ModelCard", "RunRecord", "SegmentLabels", "versions"]

#: Packages whose versions every run records.
_PACKAGES = ("segwise", "duckdb", "ibis-framework", "pyarrow", "scikit-learn", "sqlalchemy")


def versions() -> dict[str, str]:
    """Python's and the main packages' versions, for the record of a run."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass
class SegmentLabels:
    """One segmentation of a run's entities: who is in which segment, and what that means.

    Parameters
    ----------
    name : str
        The segmentation: ``"rule"`` (named rule-based segments), ``"learned"``
        (clusters), ``"assigned"`` (a model's assignment), or any other short name.
    labels : pyarrow.Table
        ``entity_id`` (text) and ``segment`` (text), one row per entity.
    summary : pyarrow.Table, optional
        One row per segment in display order: ``segment``, ``size``, ``share``, and
        optionally ``value_share``, ``action`` and ``description``.
    profile : pyarrow.Table, optional
        Long profile: ``segment``, ``feature``, ``mean``, ``median``, ``z``, ``lift``.
    """

    name: str
    labels: pa.Table
    summary: pa.Table | None = None
    profile: pa.Table | None = None

    def __post_init__(self) -> None:
        missing = {"entity_id", "segment"} - set(self.labels.column_names)
        if missing:
            raise ConfigError(f"segmentation {self.name!r}: labels lack {', '.join(missing)}")


@dataclass
class ModelCard:
    """A model a run trained or used.

    Parameters
    ----------
    name : str
        Unique within the run (``"assigner"``, ``"clv"``, ``"segmenter"``).
    kind : str
        What it does: ``"assigner"``, ``"clv"``, ``"clustering"``, ``"propensity"``.
    card : dict
        JSON-ready description: parameters, training data, evaluation.
    artifact : bytes, optional
        The saved model file, so a server can load it from the store.
    """

    name: str
    kind: str
    card: dict[str, Any]
    artifact: bytes | None = None


@dataclass
class RunRecord:
    """Everything a run writes; any job's result becomes one.

    Parameters
    ----------
    command : str
        What ran (``"etl"``, ``"rfm"``, ``"clv"``, ``"assign"``).
    entities : EntityTable, optional
        The entity table, with its audit and quarantine.
    segmentations : list of SegmentLabels
        The run's segmentations.
    values : pyarrow.Table, optional
        Long per-entity measures: ``entity_id``, ``measure``, ``value``.
    models : list of ModelCard
        Models trained or used.
    config : dict
        The settings, JSON-ready.
    job : str, optional
        The job that ran.
    source, fingerprint : str, optional
        The input and its fingerprint, when there are no entities to take them from.
    started_at : datetime
        When the run started (UTC, naive).
    """

    command: str
    entities: EntityTable | None = None
    segmentations: list[SegmentLabels] = field(default_factory=list)
    values: pa.Table | None = None
    models: list[ModelCard] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    job: str | None = None
    source: str | None = None
    fingerprint: str | None = None
    started_at: dt.datetime = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))

    def __post_init__(self) -> None:
        names = [s.name for s in self.segmentations]
        if len(set(names)) != len(names):
            raise ConfigError(f"segmentation names must be distinct, got {names}")
