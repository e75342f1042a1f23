"""One job shape for every source kind: load, clean, features, and optional scores.

A :class:`Job` names a source kind and three steps; :func:`run_job` runs any of them the
same way (loading, progress, the audit, the quarantine and the record of the source) and
returns a :class:`JobResult` around an :class:`~segwise.features.EntityTable`. The RFM job
is the first; a new kind registers its own with :func:`register_job`.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from segwise._engine import arrow_to_numpy, engine_error, fetch_scalar, numpy_to_arrow
from segwise._frames import DataSource, is_path
from segwise._registry import Registry
from segwise.config import SegwiseConfig
from segwise.exceptions import ConfigError, mapping_way
from segwise.features import EntityTable, source_fingerprint
from segwise.io import load_source, quarantine_frame
from segwise.store import entity_output_paths, write_entities

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from segwise.io import Source
    from segwise.segment import SegmentMap

__all__ = [
    "Job",
    "JobResult",
    "get_job",
    "jobs",
    "load_and_clean",
    "register_job",
    "run_job",
]


def _nothing(step: str) -> None:
    """Default progress callback."""


@dataclass
class JobResult:
    """Everything one job produced.

    Attributes
    ----------
    entities : EntityTable
        One row per entity, with the audit, the quarantine and the source's record.
    cleaned : object
        The cleaned rows (:class:`~segwise.clean.CleanedLines`,
        :class:`~segwise.clean.CleanedRows`, ...), for further features and the report.
    config : SegwiseConfig
        The configuration used.
    segment_map : SegmentMap, optional
        The named segments' order and actions, when the job scores segments.
    artifacts : dict
        What scoring learned (the RFM score edges, say), by name.
    """

    entities: EntityTable
    cleaned: Any = field(repr=False)
    config: SegwiseConfig = field(repr=False)
    segment_map: SegmentMap | None = None
    artifacts: dict[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        # What a notebook shows for `result`: the counts, not a dump of every table.
        e = self.entities
        steps = dict(zip(*self.audit_table.select(["step", "rows"]).to_pydict().values(),
                         strict=True))
        segments = (f", {len(set(e.table.column('segment').to_pylist())):,} segments"
                    if "segment" in e.table.column_names else "")
        counts = "".join(f", {step} {steps[step]:,}" for step in ("kept", "quarantined")
                         if step in steps)
        return (f"{type(self).__name__}({e.n_entities:,} {e.entity}(s){segments} from "
                f"{e.source!r}, as_of={self.as_of.isoformat() if self.as_of else None}; "
                f"rows in {sum(steps.values()):,}{counts})")

    @property
    def audit_table(self) -> pa.Table:
        """Rows per cleaning step; ``rows`` sums to the input row count."""
        assert self.entities.audit_table is not None  # noqa: S101 - run_job always sets it
        return self.entities.audit_table

    @property
    def quarantine_table(self) -> pa.Table:
        """Input rows that could not be parsed, with the reason."""
        assert self.entities.quarantine_table is not None  # noqa: S101 - run_job sets it
        return self.entities.quarantine_table

    @property
    def as_of(self) -> dt.date | None:
        """Reference date of time-based features."""
        return self.entities.as_of

    @functools.cached_property
    def audit(self) -> pd.DataFrame:
        """:attr:`audit_table` as pandas."""
        return self.audit_table.to_pandas()

    @functools.cached_property
    def quarantine(self) -> pd.DataFrame:
        """:attr:`quarantine_table` as pandas (``row`` nullable ``Int64``)."""
        return quarantine_frame(self.quarantine_table)

    @property
    def summary_features(self) -> tuple[str, ...]:
        """Return the features the segment summary gives medians of.

        The feature set's summary features, unless the job scored others.
        """
        return tuple(self.entities.schema.summary_features)

    def segment_summary(self) -> pd.DataFrame:
        """Per named segment: size, shares, medians of the summary features, action.

        Returns
        -------
        pandas.DataFrame
            See :meth:`segment_summary_table`.
        """
        return self.segment_summary_table().to_pandas()

    def segment_summary_table(self) -> pa.Table:
        """Per named segment, in the segment map's order, empty segments included.

        Returns
        -------
        pyarrow.Table
            ``segment``; the count of entities (named in the plural, ``customers``);
            ``share``; ``revenue_share`` when the entities have a value column (negative
            values count as 0); ``median_<feature>`` for each of
            :attr:`summary_features` (null for an empty segment); ``action``.

        Raises
        ------
        ConfigError
            If the job scored no named segments.
        """
        schema = self.entities.schema
        if self.segment_map is None or schema.segment_col is None:
            raise ConfigError(f"the {schema.name} job scored no named segments")
        value = [schema.value_col] if schema.value_col else []
        cols = list(dict.fromkeys([schema.segment_col, *value, *self.summary_features]))
        c = arrow_to_numpy(self.entities.table.select(cols))
        names = list(self.segment_map.patterns)
        members = [np.equal(c[schema.segment_col], name) for name in names]
        sizes = np.array([m.sum() for m in members], dtype="int64")
        out: dict[str, np.ndarray] = {
            "segment": np.array(names, dtype=object),
            schema.entities: sizes,
            "share": sizes / max(self.entities.n_entities, 1),
        }
        if schema.value_col:
            revenue = np.clip(c[schema.value_col], 0, None)
            out["revenue_share"] = (np.array([revenue[m].sum() for m in members])
                                    / (revenue.sum() or 1.0))
        for col in self.summary_features:
            # NaN (null in the table) for an empty segment.
            out[f"median_{col}"] = np.array(
                [np.median(c[col][m]) if m.any() else np.nan for m in members])
        out["action"] = np.array([self.segment_map.actions[n] for n in names], dtype=object)
        return numpy_to_arrow(out)

    @staticmethod
    def output_paths(out: str | Path) -> list[Path]:
        """Every file :meth:`write` may write for ``out``, the main one first."""
        return entity_output_paths(out)

    def write(self, out: str | Path, *, keep_formulas: bool = False) -> list[Path]:
        """Write the entity table, and the audit and quarantine beside it, atomically.

        Parameters
        ----------
        out : str or Path
            ``.parquet`` or ``.csv`` file for the entities; ``<stem>.audit.csv`` and, if any
            row was quarantined, ``<stem>.quarantine.csv`` go next to it. A ``.duckdb``
            file instead becomes one database with the tables of the entities
            (``customers``), ``segments`` (when scored), ``audit`` and ``quarantine``.
        keep_formulas : bool, default=False
            Write CSV text as it is; by default text a spreadsheet would run as a formula
            is neutralised (:func:`segwise.store.neutralise_formulas`).

        Returns
        -------
        list of Path
            The files written.
        """
        tables = {}
        if self.segment_map is not None and self.entities.schema.segment_col is not None:
            tables["segments"] = self.segment_summary_table()
        return write_entities(self.entities, out, tables=tables, keep_formulas=keep_formulas)


#: ``clean(source, config)`` returns the kind's cleaned rows.
CleanStep = Callable[["Source", SegwiseConfig], Any]
#: ``features(cleaned, config, as_of)`` returns the entity table, with its audit.
FeaturesStep = Callable[[Any, SegwiseConfig, "dt.date | None"], EntityTable]
#: ``score(entities, config)`` returns the entities with scores and named segments, and
#: what scoring learned.
ScoreStep = Callable[[EntityTable, SegwiseConfig], "tuple[EntityTable, dict[str, Any]]"]


@dataclass(frozen=True)
class Job:
    """A job: one source kind's way from rows to an entity table.

    Parameters
    ----------
    name : str
        The job (``"rfm"``); also its CLI command, by convention.
    kind : str
        The source kind it reads (see :func:`segwise.io.register_kind`).
    clean : callable
        ``clean(source, config)``: the cleaned rows, which must offer ``audit_table()``
        unless ``features`` sets the entity table's audit itself.
    features : callable
        ``features(cleaned, config, as_of)``: the :class:`~segwise.features.EntityTable`.
    score : callable, optional
        ``score(entities, config)``: scored entities and what scoring learned.
    segment_map : callable, optional
        ``segment_map(config)``: the named segments' order and actions, when ``score``
        names segments.
    steps : mapping of str to str
        A label per step (``load``, ``clean``, ``features``, ``score``) for progress
        displays.
    result : type, default=JobResult
        The result class (a subclass adds kind-specific conveniences).
    as_of : callable, optional
        ``as_of(config)``: the reference date the job's own config section sets, if any
        (``[rfm] as_of`` for RFM, ``[rfe] as_of`` for RFE), used when the call gives none;
        rows dated after the reference date are left out when loading. A job without it
        keeps every row unless the call gives a date: another job's section never
        applies.
    uses : callable, optional
        ``uses(config)``: the roles the job's steps read with these settings, or None
        for all. Only their columns are read, parsed and checked (see
        :func:`segwise.io.load_source`); a job reads every role without it.
    counted : callable, optional
        ``counted(config)``: whether the job's steps weight rows by ``_n`` (see
        :attr:`segwise.clean.CleanedRows.counted`), so that the loader may store rows
        equal in every column read once, with their count (``load_source(counted=True)``).
    """

    name: str
    kind: str
    clean: CleanStep
    features: FeaturesStep
    score: ScoreStep | None = None
    segment_map: Callable[[SegwiseConfig], SegmentMap] | None = None
    steps: Mapping[str, str] = field(default_factory=dict)
    result: type[JobResult] = JobResult
    as_of: Callable[[SegwiseConfig], dt.date | None] | None = None
    uses: Callable[[SegwiseConfig], Collection[str] | None] | None = None
    counted: Callable[[SegwiseConfig], bool] | None = None


_JOBS: Registry[Job] = Registry("job")


def register_job(job: Job, *, replace: bool = False) -> Job:
    """Make a job available by name to :func:`run_job` and the CLI.

    Parameters
    ----------
    job : Job
        The job.
    replace : bool, default=False
        Allow replacing a job of the same name.

    Returns
    -------
    Job
        ``job``.
    """
    return _JOBS.add(job.name, job, replace=replace)


def get_job(job: str | Job) -> Job:
    """Return a registered job by name (a :class:`Job` as is).

    Raises
    ------
    ConfigError
        If no job of that name is registered.
    """
    return job if isinstance(job, Job) else _JOBS.get(job)


def jobs() -> dict[str, Job]:
    """Return the registered jobs by name."""
    return _JOBS.items()


def load_and_clean(
    job: str | Job,
    source: DataSource,
    *,
    config: SegwiseConfig,
    as_of: dt.date | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    progress: Callable[[str], None] = _nothing,
) -> tuple[Source, Any]:
    """Run a job's first two steps: load the source as the job's kind, then clean it.

    For work that starts from cleaned rows other than the job's features (snapshots over
    time, say); :func:`run_job` runs the same two steps.

    Parameters
    ----------
    as_of : date, optional
        Rows dated after this day are left out and counted (see
        :func:`segwise.io.load_source`); all are kept when omitted.

    Returns
    -------
    tuple
        The loaded :class:`~segwise.io.Source` and the job's cleaned rows.
    """
    spec = get_job(job)
    progress("load")
    with mapping_way("config_object"):
        loaded = load_source(
            source, spec.kind, columns=config.columns, read=config.read, engine=engine,
            spark_master=spark_master, memory_limit=config.memory_limit, as_of=as_of,
            uses=spec.uses(config) if spec.uses is not None else None,
            counted=spec.counted is not None and spec.counted(config),
        )
        progress("clean")
        return loaded, spec.clean(loaded, config)


def run_job(
    job: str | Job,
    source: DataSource,
    *,
    config: SegwiseConfig | None = None,
    as_of: dt.date | str | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    progress: Callable[[str], None] = _nothing,
) -> JobResult:
    """Run a job end to end: load, clean, features and scores.

    Parameters
    ----------
    job : str or Job
        The job or its registered name.
    source : str, Path or table in memory
        The source file, or a pandas or polars DataFrame, Arrow table or Ibis table of
        the same rows: read, checked, cleaned and audited as a file is
        (:func:`segwise.io.load_source`).
    config : SegwiseConfig, optional
        Column roles, reader, cleaning and the job's settings.
    as_of : date or str, optional
        Reference date of time-based features (text: ``YYYY-MM-DD``); overrides the
        config's.
    engine : {"duckdb", "spark"}, default="duckdb"
        Engine for the table work.
    spark_master : str, optional
        Spark master URL (``local[*]`` when omitted).
    progress : callable, optional
        Called with the name of each step as it starts (``load``, ``clean``,
        ``features``, ``score``).

    Returns
    -------
    JobResult
        The job's result class: the entity table with audit and quarantine.

    Raises
    ------
    SegwiseError
        For bad input or settings, and for DuckDB running out of memory under its limit
        (a :class:`~segwise.exceptions.ConfigError` naming a limit that would do).
    """
    spec = get_job(job)
    config = config or SegwiseConfig()
    if as_of is not None and type(as_of) is not dt.date:  # "2011-06-01", a Timestamp
        from segwise._time import to_date

        as_of = to_date(as_of, "as_of")
    # Rows after the as-of date are left out when loading, and counted in the audit:
    # a later line would count as if it had happened already (negative recency).
    own = spec.as_of(config) if spec.as_of is not None else None
    config = replace(config, as_of=as_of or own)
    try:
        with mapping_way("config_object"):
            return _run(spec, source, config, engine, spark_master, progress)
    except Exception as exc:
        error = engine_error(exc)
        if error is None:
            raise
        raise error from exc


def _run(spec: Job, source: DataSource, config: SegwiseConfig, engine: str,
         spark_master: str | None, progress: Callable[[str], None]) -> JobResult:
    loaded, cleaned = load_and_clean(spec, source, config=config, as_of=config.as_of,
                                     engine=engine, spark_master=spark_master,
                                     progress=progress)
    progress("features")
    entities = spec.features(cleaned, config, config.as_of)
    entities = replace(
        entities,
        source=loaded.source,
        fingerprint=source_fingerprint(source) if is_path(source) else None,
        audit_table=entities.audit_table if entities.audit_table is not None
        else cleaned.audit_table(),
        quarantine_table=loaded.quarantine_table,
        n_input_entities=entities.n_input_entities
        if entities.n_input_entities is not None else _count_entities(loaded, entities),
    )
    artifacts: dict[str, Any] = {}
    if spec.score is not None:
        progress("score")
        entities, artifacts = spec.score(entities, config)
    segment_map = spec.segment_map(config) if spec.segment_map is not None else None
    return spec.result(entities, cleaned, config, segment_map, artifacts)


def _count_entities(loaded: Source, entities: EntityTable) -> int | None:
    """Distinct ids among the rows that parsed, when they carry the entity's id column."""
    if entities.id_col not in loaded.table.columns:
        return None
    return int(fetch_scalar(loaded.table[entities.id_col].nunique()))
