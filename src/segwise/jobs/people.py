"""People: the ``people`` job, and the population analysis (``segwise population``).

The ``people`` job reads a person-level table: load (any format, header or none, an id
or row numbers), clean (copies, repeated ids, attributes typed by the dictionary) and
features (one row per person, the typed attributes). :func:`run_population` runs it on a
population and on a customer file, fits one scikit-learn pipeline on the population
(dictionary-driven cleaning and encoding, relevance, imputation, scaling, PCA, segments
with k chosen by :func:`segwise.segment.sweep_k`), applies it unchanged to the customers
and compares the two segment distributions (:func:`segwise.profile.compare_populations`).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from segwise._frames import DataSource, source_name
from segwise.clean import CleanedPeople, PeopleSettings, build_audit, clean_people
from segwise.config import SegwiseConfig
from segwise.exceptions import ConfigError, InputError
from segwise.io import PERSON_ID, FeatureDictionary
from segwise.jobs._base import Job, JobResult, register_job, run_job
from segwise.report import register_sections_module

if TYPE_CHECKING:
    import datetime as dt

    import pandas as pd
    import pyarrow as pa
    from sklearn.pipeline import Pipeline

    from segwise.features import EntityTable
    from segwise.features.people import PopulationFit, Projection
    from segwise.io import Source
    from segwise.profile import PopulationComparison
    from segwise.report import ReportExtras
    from segwise.segment import KSweep
    from segwise.store import RunRecord

__all__ = ["PEOPLE_JOB", "PopulationResult", "case_hint", "run_population",
           "with_undeclared"]

#: Name of the rows too sparse to place, in tables and reports.
UNPLACED_NAME = "Too sparse to place"
_VERDICTS = {"over": "over-represented", "under": "under-represented",
             "neither": "neither over- nor under-represented"}
#: What :meth:`PopulationResult.write` may write into its folder, the main table first.
_OUTPUT_FILES = (
    "assignments.parquet", "comparison.csv", "segments.csv", "audit.csv", "columns.csv",
    "column_steps.csv", "encoding_audit.csv", "relevance.csv", "variance.csv",
    "components.csv", "subsets.csv", "sweep.csv", "population.quarantine.csv",
    "customers.quarantine.csv", "dictionary.toml",
)


def _nothing(step: str) -> None:
    """Default progress callback."""


def _clean(source: Source, config: SegwiseConfig) -> CleanedPeople:
    return clean_people(source, config)


def _features(cleaned: CleanedPeople, config: SegwiseConfig,
              as_of: dt.date | None) -> EntityTable:
    from segwise.features.people import people_entities  # scikit-learn: only when run

    return people_entities(cleaned, config, as_of)


#: Person-level rows to one typed row per person.
PEOPLE_JOB = register_job(Job(
    name="people",
    kind="people",
    clean=_clean,
    features=_features,
    steps={
        "load": "Reading people",
        "clean": "Typing attributes by the dictionary",
        "features": "Collecting people",
    },
))
register_sections_module("people", "segwise.jobs._people_report")


@dataclass(repr=False)  # JobResult's one line of counts
class PopulationResult(JobResult):
    """Everything a population analysis produced.

    :attr:`entities` is the population's component table (``person_id``, ``pc_1`` ...,
    ``segment``, ``segment_name``, ``placed``) with the population's row audit; the
    customers' is :attr:`customers`.

    Attributes
    ----------
    customers : EntityTable
        The customers projected onto the population: the same columns, their row audit.
    comparison : PopulationComparison
        Per segment: population and customer shares, ratio with its interval, verdict,
        expected customers if mailed, description.
    fit : PopulationFit
        The preprocessing fitted on the population and its analyses (column audit,
        relevance, variance, component reading, sparse-row comparison).
    pipeline : sklearn.pipeline.Pipeline
        The whole fitted pipeline: encode, select, impute, scale, pca, cluster. Apply it to
        any later table (with :func:`segwise.features.people.project_rows` for the rows
        too sparse to place).
    sweep : KSweep or None
        The k sweep (None when k was given).
    segments : pandas.DataFrame
        Per segment: ``segment``, ``name``, ``description`` and ``features``.
    profile : pandas.DataFrame
        Per segment and encoded attribute of the fitted sample, in dictionary words:
        ``segment``, ``feature``, ``mean``, ``median``, ``z`` (population standard
        deviations from the population's mean) and ``lift`` (mean over the population's).
    customer_projection : Projection
        The customers' encoding audit and missingness (what could not be used).
    column_steps : pandas.DataFrame
        The column audit in steps that reconcile: input columns to attributes used, and
        encoded columns to those kept for PCA.
    dictionary : FeatureDictionary
        The dictionary used (declared, or inferred from the population).
    """

    customers: EntityTable = field(default=None, repr=False)  # type: ignore[assignment]
    comparison: PopulationComparison = field(default=None, repr=False)  # type: ignore[assignment]
    fit: PopulationFit = field(default=None, repr=False)  # type: ignore[assignment]
    pipeline: Pipeline = field(default=None, repr=False)
    sweep: KSweep | None = field(default=None, repr=False)
    segments: pd.DataFrame = field(default=None, repr=False)
    profile: pd.DataFrame = field(default=None, repr=False)
    customer_projection: Projection = field(default=None, repr=False)  # type: ignore[assignment]
    column_steps: pd.DataFrame = field(default=None, repr=False)
    dictionary: FeatureDictionary = field(default=None, repr=False)  # type: ignore[assignment]

    @property
    def column_audit(self) -> pd.DataFrame:
        """Every column of the population, its type, missingness and fate."""
        return cast("pd.DataFrame", self.artifacts["column_audit"])

    @property
    def customer_audit_table(self) -> pa.Table:
        """The customers' row audit; ``rows`` sums to the customer file's rows."""
        assert self.customers.audit_table is not None  # noqa: S101 - always set
        return self.customers.audit_table

    def report_extras(self) -> ReportExtras:
        """Return the report's shared inputs: the k sweep and the map of the population."""
        import pandas as pd

        from segwise.report import ReportExtras

        frame = self.entities.table.select([PERSON_ID, "pc_1", "pc_2", "segment_name",
                                            "placed"]
                                           if "pc_2" in self.entities.table.column_names
                                           else [PERSON_ID]).to_pandas()
        embedding = None
        if "pc_2" in frame:
            placed = frame[frame["placed"]]
            embedding = pd.DataFrame({"customer_id": placed[PERSON_ID].astype(str),
                                      "x": placed["pc_1"], "y": placed["pc_2"],
                                      "segment": placed["segment_name"]})
        sweep = self.sweep
        return ReportExtras(
            k_sweep=None if sweep is None else sweep.table,
            chosen_k=None if sweep is None else int(sweep.recommended_k),
            k_rationale=None if sweep is None else sweep.rationale,
            embedding=embedding,
            embedding_method="PCA",
        )

    @staticmethod
    def output_paths(out: str | Path) -> list[Path]:
        """Every file :meth:`write` may write into the folder ``out``, the assignments first.

        Raises
        ------
        ConfigError
            If ``out`` has a file suffix (the analysis writes a folder).
        """
        folder = Path(out)
        if folder.suffix.lower() in {".parquet", ".csv", ".duckdb", ".html"}:
            raise ConfigError(f"{folder}: the population analysis writes a folder of files; "
                              "give a folder name (no suffix)")
        return [folder / name for name in _OUTPUT_FILES]

    def run_record(self) -> RunRecord:
        """Return the run ``--store`` keeps: the population's segments, verdicts as actions.

        The store keeps one entity table per run; the customers' side of the comparison
        goes into each segment's action (``over-represented among customers: 1.60x
        (1.46-1.76)``). Each segment is described, and profiled, by the attributes in the
        dictionary's words as the report describes it, not by the principal components
        the entity table holds.
        """
        import pyarrow as pa

        from segwise.jobs._store import named_labels, run_record

        table = self.entities.table
        said = self.comparison.ratio_text
        actions = {row["name"]: f"{_VERDICTS[row['verdict']]} among customers: "
                                + said(row["ratio"], row["ratio_low"], row["ratio_high"])
                   for row in self.comparison.table.to_dict("records")}
        labels = named_labels(self.entities, "population", table.column(PERSON_ID).to_pylist(),
                              table.column("segment_name").to_pylist(),
                              order=list(self.comparison.table["name"]), actions=actions,
                              descriptions={
                                  **dict(zip(self.segments["name"], self.segments["description"],
                                             strict=True)),
                                  UNPLACED_NAME: "too many attributes missing to place"},
                              profile=pa.Table.from_pandas(
                                  self.profile.assign(segment=self.profile["segment"].map(
                                      dict(zip(self.segments["segment"], self.segments["name"],
                                               strict=True)))),
                                  preserve_index=False))
        return run_record(self, command="population", job="people", segmentations=[labels])

    def write(self, out: str | Path, *, keep_formulas: bool = False) -> list[Path]:
        """Write the assignments, the comparison and every analysis into a folder, atomically.

        Parameters
        ----------
        out : str or Path
            Folder (created if needed): ``assignments.parquet`` (``table``,
            ``person_id``, ``segment``, ``segment_name``, ``placed``), ``comparison.csv``,
            ``segments.csv``, ``audit.csv`` (rows, both tables), ``columns.csv`` and
            ``column_steps.csv`` (the column audit), ``encoding_audit.csv`` (what the
            customers' encoding could not use), ``subsets.csv``, ``relevance.csv``,
            ``variance.csv``, ``components.csv``, ``sweep.csv``, ``dictionary.toml``, and
            ``<table>.quarantine.csv`` when rows could not be parsed.
        keep_formulas : bool, default=False
            Write CSV text as it is; by default text a spreadsheet would run as a formula
            is neutralised (:func:`segwise.store.neutralise_formulas`).

        Returns
        -------
        list of Path
            The files written.
        """
        import pandas as pd
        import pyarrow as pa

        from segwise.store import write_tables, write_text

        folder = self.output_paths(out)[0].parent
        cols = [PERSON_ID, "segment", "segment_name", "placed"]
        assignments = pa.concat_tables([
            t.table.select(cols).add_column(0, "table", pa.array([name] * t.n_entities))
            for name, t in (("population", self.entities), ("customers", self.customers))
        ])
        audits = pd.concat([
            self.audit.assign(table="population"),
            self.customer_audit_table.to_pandas().assign(table="customers"),
        ], ignore_index=True)
        tables: dict[str, Any] = {
            "assignments.parquet": assignments,
            "comparison.csv": self.comparison.table,
            "segments.csv": self.segments,
            "audit.csv": audits[["table", *[c for c in audits.columns if c != "table"]]],
            "columns.csv": self.column_audit,
            "column_steps.csv": self.column_steps,
            "encoding_audit.csv": self.customer_projection.audit,
            "relevance.csv": self.fit.relevance,
            "variance.csv": self.fit.variance,
            "components.csv": self.fit.components,
        }
        if self.fit.subsets is not None:
            tables["subsets.csv"] = self.fit.subsets
        if self.sweep is not None:
            tables["sweep.csv"] = self.sweep.table.assign(
                sizes=self.sweep.table["sizes"].map(lambda v: "/".join(map(str, v))))
        for name, entity in (("population", self.entities), ("customers", self.customers)):
            q = entity.quarantine_table
            if q is not None and q.num_rows:
                tables[f"{name}.quarantine.csv"] = q
        written = write_tables({folder / name: t for name, t in tables.items()},
                               keep_formulas=keep_formulas)
        written.append(write_text(self.dictionary.to_text(".toml"),
                                  folder / "dictionary.toml"))
        for stale in set(self.output_paths(folder)) - set(written):
            stale.unlink(missing_ok=True)   # an earlier run's, read as this one's otherwise
        return written


def _settings(config: SegwiseConfig, dictionary: Any) -> tuple[SegwiseConfig, PeopleSettings]:
    settings: PeopleSettings = config.section("people")
    if dictionary is not None:
        settings = dataclasses.replace(settings, dictionary=dictionary)
    config = dataclasses.replace(config, sections={**config.sections, "people": settings})
    return config, settings


def run_population(
    population: DataSource,
    customers: DataSource,
    *,
    dictionary: str | Path | FeatureDictionary | None = None,
    config: SegwiseConfig | None = None,
    n_clusters: int | None = None,
    engine: str = "duckdb",
    progress: Callable[[str], None] = _nothing,
) -> PopulationResult:
    """Segment a population by its demographics and compare a customer base with it.

    Parameters
    ----------
    population, customers : str, Path or table in memory
        Person-level files (any format segwise reads, header or none, an id column or
        none), or pandas or polars DataFrames, Arrow or Ibis tables; the customers need
        the population's attributes.
    dictionary : str, Path or FeatureDictionary, optional
        The feature dictionary (a segwise CSV/TOML file or a CoIL ``dictionary.txt``);
        ``[people] dictionary`` of the config, else types inferred from the population.
    config : SegwiseConfig, optional
        ``[columns]``, ``[read]`` and ``[people]`` settings.
    n_clusters : int, optional
        Number of segments; chosen by the multi-criteria sweep when omitted.
    engine : {"duckdb", "spark"}, default="duckdb"
        Engine that reads and cleans the rows.
    progress : callable, optional
        Called with the name of each step as it starts.

    Returns
    -------
    PopulationResult
        The component tables of both, the comparison, the fitted pipeline, the analyses.

    Raises
    ------
    InputError
        If the customers lack attributes the population's model uses, or a file cannot
        be read.
    """
    from segwise.segment._cluster import limit_threads

    config, settings = _settings(config or SegwiseConfig(), dictionary)
    if n_clusters is not None and n_clusters < 2:
        raise ConfigError(f"the number of segments must be at least 2, got {n_clusters}")
    pop = run_job(PEOPLE_JOB, population, config=config, engine=engine,
                  progress=lambda step: progress(f"population {step}"))
    cleaned = cast(CleanedPeople, pop.cleaned)
    cleaned.check_names(source_name(population))
    config, settings = _settings(config, cleaned.dictionary)
    cust = run_job(PEOPLE_JOB, customers, config=config, engine=engine,
                   progress=lambda step: progress(f"customers {step}"))
    # A pattern may name the customers' own columns (CUSTOMER_*), never used anyway.
    # Tables in memory are named by their type in messages and records, not by their rows.
    names = source_name(population), source_name(customers)
    cleaned.check_exclude(settings.exclude, "exclude (--exclude, [people] exclude)", names[0],
                          also=cast(CleanedPeople, cust.cleaned).undeclared)
    with limit_threads(pop.entities.n_entities):
        return _analyse(*names, pop, cust, cleaned, config, settings, n_clusters, progress)


def _analyse(population: str, customers: str, pop: JobResult, cust: JobResult,
             cleaned: CleanedPeople, config: SegwiseConfig, settings: PeopleSettings,
             n_clusters: int | None, progress: Callable[[str], None]) -> PopulationResult:
    """Fit the population, segment it, project the customers, compare (the model part)."""
    from sklearn.pipeline import Pipeline

    from segwise.features.people import (
        ColumnsError,
        component_entities,
        encoding_table,
        fit_population,
        project_rows,
    )
    from segwise.profile import compare_populations
    from segwise.segment import Segmenter
    from segwise.segment._selection import LARGE_N, distinct_points

    progress("encode")
    rows = pop.entities.table.num_rows
    if rows < 3:
        raise InputError(f"{population}: only {rows} {'person' if rows == 1 else 'people'} "
                         f"in the population ({_rows_removed(pop.audit_table)}): too few to "
                         "segment. Fix: give the whole population (the customers go second)")
    if not cust.entities.table.num_rows:
        raise InputError(f"{customers}: no customer left to compare "
                         f"({_rows_removed(cust.audit_table)}). Fix: see the reasons; give "
                         "each customer one row (or no id column)")
    try:
        with encoding_table(population):
            fit = fit_population(pop.entities.table, cleaned.dictionary, settings)
    except InputError as exc:
        raise InputError(f"{population}: {exc}") from None
    Z = fit.projection.components
    if len(Z) < 3:
        raise InputError(f"{population}: only {len(Z)} people are complete enough to place; "
                         "too few to segment. Fix: check the dictionary's unknown codes and "
                         "[people] row_threshold")
    smallest = n_clusters or settings.k_min
    if smallest > len(Z) - 1:
        what = "--k" if n_clusters else "--k-min or [people] k_min"
        raise InputError(f"{population}: only {len(Z):,} people are complete enough to "
                         f"place: too few for {smallest} segments. Fix: ask for at most "
                         f"{len(Z) - 1} ({what})")
    distinct = distinct_points(Z, smallest)
    if distinct < smallest:
        # People alike in every attribute used are one point: more segments would be empty.
        what = "--k" if n_clusters else "--k-min or [people] k_min"
        raise InputError(f"{population}: the {len(Z):,} people placed are only {distinct:,} "
                         f"different people in the attributes used: too few for {smallest} "
                         f"segments. Fix: ask for at most {distinct} ({what})")
    sweep = None
    base = Segmenter(skew_transform=None, scaler=None, order_by=None,
                     random_state=settings.random_state)
    if n_clusters is None:
        progress("sweep")
        from segwise.segment import sweep_k

        sweep = sweep_k(Z, range(settings.k_min, min(settings.k_max, len(Z) - 1) + 1),
                        segmenter=base, random_state=settings.random_state)
        n_clusters = sweep.recommended_k
    progress("cluster")
    algorithm = "minibatch_kmeans" if len(Z) > LARGE_N else "kmeans"
    segmenter = base.set_params(n_clusters=n_clusters, algorithm=algorithm).fit(Z)
    pipeline = Pipeline([*fit.pipeline.steps, ("cluster", segmenter)])
    pop_labels = _labels(fit.projection, segmenter.labels_)
    progress("project")
    try:
        with encoding_table(customers):
            projection = project_rows(fit.pipeline, cust.entities.table)
    except ColumnsError:
        absent = [a for a in fit.encoder.attributes_
                  if a not in cust.entities.table.column_names]
        raise InputError(
            f"{customers}: lacks attribute(s) the population's model uses: "
            f"{', '.join(absent)}"
            f"{case_hint(absent, cast(CleanedPeople, cust.cleaned).undeclared)}. Fix: add the "
            "column(s), or leave them out of the model ([people] exclude, --exclude)") from None
    except InputError as exc:
        raise InputError(f"{customers}: {exc}") from None
    projection = _with_undeclared(projection, cast(CleanedPeople, cust.cleaned))
    if len(projection.placed) and not projection.placed.any():
        raise InputError(
            f"{customers}: none of the {len(projection.placed):,} customers has enough of the "
            "attributes the model uses to be placed (encoding_audit: "
            f"{_worst_columns(projection.audit)}). Fix: check that the customers' columns are "
            "the population's (names, header, codes)")
    cust_labels = _labels(projection, segmenter.predict(projection.components)
                          if len(projection.components) else np.empty(0, np.int64))
    progress("compare")
    segments, profile = _describe(fit, pipeline, n_clusters)
    names = {**{int(s): f"Segment {int(s) + 1}" for s in segments["segment"]},
             -1: UNPLACED_NAME}
    segments.insert(1, "name", segments["segment"].map(names))
    comparison = compare_populations(
        pop_labels, cust_labels, names=names,
        descriptions=dict(zip(segments["segment"], segments["description"], strict=True)),
        base_rate=settings.base_rate or None,
    )
    pop_entities = dataclasses.replace(
        component_entities(pop.entities.table.column(PERSON_ID).to_numpy(zero_copy_only=False),
                           fit.projection, pop_labels, names),
        source=population, fingerprint=pop.entities.fingerprint,
        audit_table=_row_audit(pop.audit_table, int((pop_labels == -1).sum())),
        quarantine_table=pop.quarantine_table,
    )
    cust_entities = dataclasses.replace(
        component_entities(cust.entities.table.column(PERSON_ID).to_numpy(zero_copy_only=False),
                           projection, cust_labels, names),
        source=customers, fingerprint=cust.entities.fingerprint,
        audit_table=_row_audit(cust.audit_table, int((cust_labels == -1).sum())),
        quarantine_table=cust.quarantine_table,
    )
    column_audit = _column_audit(fit, cleaned, has_id=cleaned.deduplicated)
    return PopulationResult(
        entities=pop_entities, cleaned=cleaned, config=config,
        artifacts={"column_audit": column_audit},
        customers=cust_entities, comparison=comparison, fit=fit, pipeline=pipeline,
        sweep=sweep, segments=segments, profile=profile, customer_projection=projection,
        column_steps=_column_steps(column_audit, fit), dictionary=cleaned.dictionary,
    )


def _with_undeclared(projection: Projection, cleaned: CleanedPeople) -> Projection:
    """Add the table's columns the dictionary does not declare to its encoding audit."""
    return dataclasses.replace(projection, audit=with_undeclared(projection.audit, cleaned))


def with_undeclared(audit: pd.DataFrame, cleaned: CleanedPeople) -> pd.DataFrame:
    """Add the table's columns the dictionary does not declare to an encoding audit.

    Parameters
    ----------
    audit : pandas.DataFrame
        An encoder's column audit (``column``, ``type``, ``status``, ``note``, counts).
    cleaned : CleanedPeople
        The cleaned table, whose ``undeclared`` columns the dictionary left out.

    Returns
    -------
    pandas.DataFrame
        The audit, then one ``not in the dictionary`` row per undeclared column (its
        counts missing).
    """
    import pandas as pd

    if not cleaned.undeclared:
        return audit
    extra = pd.DataFrame({"column": list(cleaned.undeclared), "type": "",
                          "status": "not in the dictionary",
                          "note": "not declared in the dictionary: not used"})
    return _whole_counts(pd.concat([audit, extra], ignore_index=True))


def case_hint(absent: Sequence[str], columns: Sequence[str]) -> str:
    """Name the columns that match absent names but for their case, for a message.

    Parameters
    ----------
    absent : sequence of str
        Names looked for and not found.
    columns : sequence of str
        The file's columns.

    Returns
    -------
    str
        `` (the file writes Age: names are compared with their case)``, or ``""``.
    """
    lower = {c.lower(): c for c in columns}
    found = [lower[a.lower()] for a in absent if a.lower() in lower]
    if not found:
        return ""
    return (f" (the file writes {', '.join(found[:4])}{', ...' if len(found) > 4 else ''}: "
            "names are compared with their case)")


def _rows_removed(audit: pa.Table) -> str:
    """Return the row audit in words: '1,968 rows read, 1,968 removed: repeated_id'."""
    rows = dict(zip(audit.column("step").to_pylist(), audit.column("rows").to_pylist(),
                    strict=True))
    read = sum(rows.values())
    removed = {step: n for step, n in rows.items() if step != "kept" and n}
    if not removed:
        return f"{read:,} row{'s' * (read != 1)} read"
    return (f"{read:,} rows read, {sum(removed.values()):,} removed: "
            + ", ".join(f"{n:,} {step}" for step, n in removed.items()))


def _worst_columns(audit: pd.DataFrame, n: int = 3) -> str:
    """Return the used columns whose values could least be read: 'age 100% missing'."""
    used = audit[audit["status"] == "used"]
    worst = used.sort_values("missing_share", ascending=False, kind="stable").head(n)
    return ", ".join(f"{c} {share:.0%} missing" for c, share
                     in zip(worst["column"], worst["missing_share"], strict=True))


def _labels(projection: Projection, placed_labels: np.ndarray) -> np.ndarray:
    """Segment per row of a table: the placed rows' labels, -1 for the others."""
    labels = np.full(len(projection.placed), -1, dtype=np.int64)
    labels[projection.placed] = placed_labels
    return labels


def _describe(fit: PopulationFit, pipeline: Pipeline, n_clusters: int
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Describe and profile each segment by the encoded attributes of the fitted sample.

    Returns the descriptions (``segment``, ``description``, ``features``) and the long
    profile (:attr:`PopulationResult.profile`).
    """
    from segwise.features.people import encoded_frame
    from segwise.profile import describe_segments, segment_means

    encoder = fit.encoder
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        labels = pipeline[-1].predict(pipeline[1:-1].transform(encoded_frame(encoder,
                                                                             fit.encoded)))
    means, overall, sd = segment_means(fit.encoded, labels)
    features = [o["feature"] for o in encoder.outputs_]
    kinds = {o["feature"]: "share" if o["kind"] in ("onehot", "binary") else "number"
             for o in encoder.outputs_}
    outputs = {o["feature"]: o for o in encoder.outputs_}
    dictionary = encoder.dictionary_

    def value_text(feature: str, value: float) -> str:
        out = outputs[feature]
        attr = dictionary[out["attribute"]]
        if out["kind"] != "ordinal" or out["part"] or not attr.labels or not np.isfinite(value):
            return ""
        code = str(round(value))
        return attr.labels.get(code, "")

    described = describe_segments(means, overall, sd, features,
                                  describe=encoder.describe_output, kinds=kinds,
                                  value_text=value_text)
    found = set(described["segment"])
    missing = [s for s in range(n_clusters) if s not in found]
    if missing:  # a segment the sample does not reach: say so rather than drop it
        import pandas as pd

        described = pd.concat([described, pd.DataFrame({
            "segment": missing, "description": "not in the described sample",
            "features": ""})], ignore_index=True)
    return (described.sort_values("segment", ignore_index=True),
            _attribute_profile(fit.encoded, labels, means, overall, sd, features,
                          encoder.describe_output))


def _attribute_profile(values: np.ndarray, labels: np.ndarray, means: pd.DataFrame,
                  overall: np.ndarray, sd: np.ndarray, features: Sequence[str],
                  describe: Callable[[str], str]) -> pd.DataFrame:
    """Per segment and feature: mean, median, z and lift, features named in words.

    Two features described alike keep their column name after the words, so each is
    one row.
    """
    import pandas as pd

    from segwise.profile import amount_lifts

    words = [describe(f) or f for f in features]
    repeated = {w for w in words if words.count(w) > 1}
    names = [f"{w} ({f})" if w in repeated else w
             for w, f in zip(words, features, strict=True)]
    rows = []
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # an all-missing column's median
        for segment, row in means.iterrows():
            mean = row.to_numpy(dtype=np.float64)
            median = np.nanmedian(values[labels == segment], axis=0)
            z = np.where(sd > 0, (mean - overall) / sd, np.nan)
            lift = amount_lifts(mean, overall, values)
            rows.append(pd.DataFrame({"segment": int(str(segment)), "feature": names,
                                      "mean": mean, "median": median, "z": z, "lift": lift}))
    return pd.concat(rows, ignore_index=True)


def _row_audit(audit: pa.Table, n_sparse: int) -> pa.Table:
    """Split the audit's ``kept`` rows into those too sparse to place and those placed."""
    rows = dict(zip(audit.column("step").to_pylist(), audit.column("rows").to_pylist(),
                    strict=True))
    text = dict(zip(audit.column("step").to_pylist(), audit.column("description").to_pylist(),
                    strict=True))
    kept = rows.pop("kept")
    text.pop("kept")
    rows.update(too_sparse=n_sparse, kept=kept - n_sparse)
    text.update(too_sparse="too many attributes missing to place (counted, compared with "
                           "the rest, not clustered)",
                kept="placed in a segment")
    return build_audit(rows, text, sum(rows.values()))


def _column_audit(fit: PopulationFit, cleaned: CleanedPeople, *, has_id: bool
                  ) -> pd.DataFrame:
    """Every input column of the population with its fate, id and undeclared included."""
    import pandas as pd

    audit = fit.encoder.column_audit()
    audit = audit[audit["column"] != PERSON_ID]
    extra = [{"column": PERSON_ID, "type": "", "status": "id", "note": "the person's id"}
             ] if has_id else []
    extra += [{"column": c, "type": "", "status": "not in the dictionary",
               "note": "not declared in the dictionary: not used"} for c in cleaned.undeclared]
    frame = pd.concat([pd.DataFrame(extra), audit], ignore_index=True) if extra else audit
    return _whole_counts(frame.reset_index(drop=True))


def _whole_counts(audit: pd.DataFrame) -> pd.DataFrame:
    """Return an encoding audit with its counts as integers, missing on a row without any.

    Rows without counts (the id, undeclared columns) made them floats, written ``3.0``.
    """
    from segwise.features.people import AUDIT_COUNTS

    return audit.astype({c: "Int64" for c in AUDIT_COUNTS if c in audit.columns})


#: Column audit steps, in order, and what each means.
_ATTRIBUTE_STEPS = {
    "id": "the person's id",
    "not in the dictionary": "not declared: not used",
    "excluded": "excluded in [people] exclude",
    "above the missing threshold": "missing too often (threshold chosen from the data)",
    "used": "attributes encoded",
}
_ENCODED_STEPS = {
    "near-constant": "near-constant after scaling to [0, 1]",
    "correlated": "correlated above the maximum with a more important column",
    "below the top N": "ranked below the top N",
    "kept": "kept for PCA",
}


def _column_steps(audit: pd.DataFrame, fit: PopulationFit) -> pd.DataFrame:
    """Column counts per step, in two blocks that each reconcile."""
    import pandas as pd

    counts = audit["status"].value_counts()
    n_input = int(sum(counts.get(s, 0) for s in _ATTRIBUTE_STEPS))
    rows = [{"stage": "attributes", "step": "input columns", "columns": n_input,
             "description": "columns of the population file"}]
    rows += [{"stage": "attributes", "step": s, "columns": int(counts.get(s, 0)),
              "description": d} for s, d in _ATTRIBUTE_STEPS.items()]
    absent = int(counts.get("not in the data", 0))
    if absent:
        rows.append({"stage": "attributes", "step": "not in the data", "columns": absent,
                     "description": "declared in the dictionary, absent from the file "
                                    "(not among the input columns)"})
    status = fit.relevance["status"].value_counts()
    rows.append({"stage": "encoded", "step": "encoded columns", "columns": len(fit.relevance),
                 "description": "outputs of the attributes used (one-hot codes, parts)"})
    rows += [{"stage": "encoded", "step": s, "columns": int(status.get(s, 0)),
              "description": d} for s, d in _ENCODED_STEPS.items()]
    return pd.DataFrame(rows)
