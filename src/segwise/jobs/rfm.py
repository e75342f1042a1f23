"""The RFM job end to end: load, clean with audit, RFM features, scores and named segments."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyarrow as pa

from segwise._engine import arrow_to_numpy, numpy_to_arrow
from segwise._frames import DataSource
from segwise.clean import CleanedLines, clean_transactions
from segwise.config import SegwiseConfig
from segwise.features.rfm import rfm_entities
from segwise.io import Transactions
from segwise.jobs._base import Job, JobResult, register_job, run_job
from segwise.report import register_sections_module
from segwise.segment.rfm import fit_bin_edges, name_cells, score_columns

if TYPE_CHECKING:
    import pandas as pd

    from segwise.features import EntityTable
    from segwise.io import Source
    from segwise.segment._scorer import RFMScorer

__all__ = ["RFM_JOB", "RFMResult", "run_rfm"]


def _nothing(step: str) -> None:
    """Default progress callback."""


class RFMResult(JobResult):
    """Everything one RFM run produced: a :class:`~segwise.jobs.JobResult` of customers.

    The tables are Arrow tables; :attr:`customers`, :attr:`audit` and :attr:`quarantine`
    are the same as pandas DataFrames, converted on first use (the CLI never needs them,
    and pandas alone takes a sixth of its run time to import).

    Attributes
    ----------
    customers_table : pyarrow.Table
        One row per customer: RFM features, scores, cell, segment and action.
    cleaned : CleanedLines
        The cleaned lines, for further features (products, CLV).
    bin_edges : dict of str to ndarray
        The learned score edges; :attr:`scorer` wraps them as a fitted estimator.
    """

    cleaned: CleanedLines

    @property
    def customers_table(self) -> pa.Table:
        """One row per customer: RFM features, scores, cell, segment and action."""
        return self.entities.table

    @property
    def as_of(self) -> dt.date:
        """Reference date of recency."""
        assert self.entities.as_of is not None  # noqa: S101 - rfm_entities always sets it
        return self.entities.as_of

    @functools.cached_property
    def customers(self) -> pd.DataFrame:
        """:attr:`customers_table` as pandas; ``attrs["as_of"]`` holds the reference date."""
        return self.entities.frame

    @property
    def bin_edges(self) -> dict[str, np.ndarray]:
        """The learned score edges of recency, frequency and monetary value."""
        return cast("dict[str, np.ndarray]", self.artifacts["bin_edges"])

    @property
    def scorer(self) -> RFMScorer:
        """The fitted :class:`~segwise.segment.RFMScorer`, to score new customers alike."""
        from segwise.segment._scorer import RFMScorer

        return RFMScorer.from_edges(self.bin_edges)


def _clean(source: Source, config: SegwiseConfig) -> CleanedLines:
    return clean_transactions(cast(Transactions, source), config.cleaning)


def _features(cleaned: CleanedLines, config: SegwiseConfig,
              as_of: dt.date | None) -> EntityTable:
    return rfm_entities(cleaned, as_of)


def _score(entities: EntityTable, config: SegwiseConfig) -> tuple[EntityTable, dict[str, Any]]:
    """Score R, F and M on quantile edges and name each customer's cell."""
    # The plain functions behind RFMScorer: the estimator class would import scikit-learn.
    rfm = arrow_to_numpy(entities.table.select(["recency_days", "frequency", "monetary"]))
    edges = fit_bin_edges(rfm)
    scores = score_columns(rfm, edges)
    named = name_cells(scores["r_score"], scores["f_score"], scores["m_score"], config.segments)
    added = numpy_to_arrow({**scores, **named})
    table = pa.Table.from_arrays(
        [*entities.table.columns, *added.columns],
        names=[*entities.table.column_names, *added.column_names],
        metadata=entities.table.schema.metadata,
    )
    return entities.with_table(table), {"bin_edges": edges}


#: Order lines to RFM features, scores and named segments per customer.
RFM_JOB = register_job(Job(
    name="rfm",
    kind="orders",
    clean=_clean,
    features=_features,
    score=_score,
    segment_map=lambda config: config.segments,
    steps={
        "load": "Reading and parsing order lines",
        "clean": "Applying cleaning rules",
        "features": "Aggregating customers",
        "score": "Scoring and naming segments",
    },
    result=RFMResult,
    as_of=lambda config: config.as_of,
))
register_sections_module("orders", "segwise.jobs._rfm_report")


def run_rfm(
    source: DataSource,
    *,
    config: SegwiseConfig | None = None,
    as_of: dt.date | str | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    progress: Callable[[str], None] = _nothing,
) -> RFMResult:
    """Load, clean, compute RFM and name segments: :func:`run_job` of :data:`RFM_JOB`.

    ``source`` is the order-line file, or a DataFrame, Arrow or Ibis table of order lines;
    ``as_of`` (recency's reference date, a date or ``"YYYY-MM-DD"``) overrides the config's
    and defaults to the day after the last purchase. See :func:`run_job` for the other parameters.

    Returns
    -------
    RFMResult
        Customers with segments, the audit and the quarantine.
    """
    result = run_job(RFM_JOB, source, config=config, as_of=as_of, engine=engine,
                     spark_master=spark_master, progress=progress)
    return cast(RFMResult, result)
