"""Jobs into the store: any job's result as a run record, and ``etl``, the whole job at once.

:func:`run_record` turns a :class:`~segwise.jobs.JobResult` (and what was learned beside
it: learned segments, lifetime value, models) into a :class:`~segwise.store.RunRecord`
of plain tables; :func:`run_etl` runs a job, learns the segments and the kind's extras,
and writes it all as one run. Nothing here names a kind's columns: the entity table's
feature set says which are features, values and segments.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from segwise._settings import register_section
from segwise.config import SegwiseConfig
from segwise.exceptions import ConfigError, SegwiseError
from segwise.jobs._base import JobResult, run_job
from segwise.store import ModelCard, RunRecord, SegmentLabels

if TYPE_CHECKING:
    import pandas as pd

    from segwise.features import EntityTable
    from segwise.predict import TrainedAssigner, TrainedPropensity
    from segwise.segment import Segmentation
    from segwise.store import Store

__all__ = [
    "ProjectSettings",
    "ServeSettings",
    "assigner_card",
    "assignment_record",
    "config_dict",
    "learned_labels",
    "model_file_bytes",
    "model_record",
    "named_labels",
    "project_paths",
    "propensity_card",
    "rule_labels",
    "run_etl",
    "run_record",
    "value_table",
]


@dataclass(frozen=True)
class ProjectSettings:
    """``[project]``: what ``segwise etl`` runs and where the results go.

    Paths are relative to the config file.
    """

    source: str = ""
    job: str = "rfm"
    store: str = "segwise.duckdb"
    learned_segments: bool = True
    extras: bool = True
    assigner: str = ""
    seed: int = 0

    def __post_init__(self) -> None:
        # A negative seed ended the run, after loading and cleaning, in NumPy's traceback.
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"[project] seed must be a whole number from 0 to 2**32 - 1, "
                              f"got {self.seed!r}")


@dataclass(frozen=True)
class ServeSettings:
    """``[serve]``: how ``segwise serve`` listens, and the token scoring and writes need."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str = ""
    model: str = ""

    def __post_init__(self) -> None:
        # --port is checked as it is read; port = 70000 reached uvicorn's traceback.
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"[serve] port must be from 1 to 65535, got {self.port!r}")


register_section("project", ProjectSettings)
register_section("serve", ServeSettings)


def _nothing(step: str) -> None:
    """Default progress callback."""


def config_dict(config: SegwiseConfig) -> dict[str, Any]:
    """Return the configuration as JSON-ready values, for the record of a run."""
    return dataclasses.asdict(config)


def _numeric_features(entities: EntityTable) -> list[str]:
    """Return the declared numeric features a profile describes (clustered, summary, profile)."""
    schema = entities.schema
    names = [*schema.cluster_features, *schema.summary_features, *schema.profile]
    return [n for n in dict.fromkeys(names)
            if schema.feature(n).type in ("number", "integer")]


def _ids(entities: EntityTable) -> pa.Array:
    return entities.table.column(entities.id_col).cast(pa.string())


def _profile(entities: EntityTable, labels: np.ndarray) -> pd.DataFrame:
    """Per segment: size, shares, statistics of every numeric feature, what sets it apart."""
    from segwise.profile import profile_segments

    # Profiles are computed on integer labels; the rows get their names back.
    names, codes = np.unique(labels.astype(str), return_inverse=True)
    profile = profile_segments(entities.frame, codes, features=_numeric_features(entities),
                               value_col=entities.schema.value_col)
    return profile.assign(segment=names[profile["segment"].to_numpy()])


def _long_profile(profile: pd.DataFrame, features: Sequence[str]) -> pa.Table:
    """Turn a profile's ``<feature>_<statistic>`` columns into rows per segment and feature."""
    rows: dict[str, list[Any]] = {k: [] for k in ("segment", "feature", "mean", "median", "z",
                                                   "lift")}
    for _, row in profile.iterrows():
        for f in features:
            rows["segment"].append(str(row["segment"]))
            rows["feature"].append(f)
            for stat in ("mean", "median", "z", "lift"):
                rows[stat].append(float(row[f"{f}_{stat}"]))
    return pa.table(rows)


def _labels(entities: EntityTable, segments: np.ndarray) -> pa.Table:
    return pa.table({"entity_id": _ids(entities), "segment": pa.array(segments, pa.string())})


def _summary(profile: pd.DataFrame, order: Sequence[str], actions: dict[str, str],
             n: int, descriptions: dict[str, str] | None = None) -> pa.Table:
    """Summary rows in ``order``; a segment nobody is in has size 0.

    A segment's description is ``descriptions``' when given, else what the profile found.
    """
    by_name = {str(r["segment"]): r for _, r in profile.iterrows()}
    rows = []
    for name in order:
        r = by_name.get(name)
        rows.append({
            "segment": name,
            "size": int(r["customers"]) if r is not None else 0,
            "share": float(r["customers"]) / max(n, 1) if r is not None else 0.0,
            "value_share": float(r["revenue_share"]) if r is not None and "revenue_share" in r
            else None,
            "action": actions.get(name, ""),
            "description": descriptions.get(name, "") if descriptions is not None
            else str(r["distinguishing"]) if r is not None else "",
        })
    return pa.Table.from_pylist(rows)


def rule_labels(result: JobResult) -> SegmentLabels | None:
    """Return the job's rule-based named segments (``rule``), when it scores any."""
    entities = result.entities
    schema = entities.schema
    if result.segment_map is None or schema.segment_col is None:
        return None
    segments = np.asarray(entities.table.column(schema.segment_col).to_pylist(), dtype=object)
    profile = _profile(entities, segments)
    order = list(result.segment_map.patterns)
    return SegmentLabels(
        "rule", _labels(entities, segments),
        summary=_summary(profile, order, dict(result.segment_map.actions),
                         entities.n_entities),
        profile=_long_profile(profile, _numeric_features(entities)),
    )


def named_labels(entities: EntityTable, name: str, ids: Sequence[str], segments: Sequence[str],
                 *, order: Sequence[str] | None = None,
                 actions: dict[str, str] | None = None,
                 descriptions: dict[str, str] | None = None,
                 profile: pa.Table | None = None) -> SegmentLabels:
    """Profile a segmentation given as a segment name per entity id.

    Parameters
    ----------
    entities : EntityTable
        The entities; every one must have a segment.
    name : str
        The segmentation (``"learned"``).
    ids, segments : sequence of str
        Entity id and its segment name.
    order : sequence of str, optional
        Display order of the segments (largest first when omitted).
    actions : dict of str to str, optional
        Action per segment.
    descriptions : dict of str to str, optional
        What sets each segment apart, in words; by default, from its profile.
    profile : pyarrow.Table, optional
        The long profile (``segment``, ``feature``, ``mean``, ``median``, ``z``,
        ``lift``) when the entities' numeric features are not what describes the
        segments (a population's principal components); by default, of those features.
    """
    by_id = dict(zip((str(i) for i in ids), (str(s) for s in segments), strict=True))
    missing = [i for i in _ids(entities).to_pylist() if i not in by_id]
    if missing:
        raise ConfigError(f"segmentation {name!r}: {len(missing)} entities have no segment "
                          f"(first: {missing[0]!r})")
    labels = np.array([by_id[i] for i in _ids(entities).to_pylist()], dtype=object)
    found = _profile(entities, labels)
    if order is None:
        order = list(found.sort_values("customers", ascending=False)["segment"])
    return SegmentLabels(
        name, _labels(entities, labels),
        summary=_summary(found, order, dict(actions or {}), entities.n_entities,
                         descriptions),
        profile=_long_profile(found, _numeric_features(entities)) if profile is None
        else profile,
    )


def _segmented(entities: EntityTable, segmentation: Segmentation) -> EntityTable:
    """Return the entities a segmentation segmented: those it left out are dropped."""
    import pyarrow.compute as pc

    left = segmentation.left_out
    if not len(left):
        return entities
    gone = pa.array(left[entities.id_col].astype(str).tolist(), pa.string())
    return dataclasses.replace(entities, table=entities.table.filter(
        pc.invert(pc.is_in(_ids(entities), value_set=gone))))


def learned_labels(entities: EntityTable, segmentation: Segmentation) -> SegmentLabels:
    """Return the learned segments (``learned``) of a segmentation."""
    a = segmentation.assignments
    p = segmentation.profiles
    names = dict(zip(p["segment"], p["name"], strict=True))
    return named_labels(entities, "learned", a[entities.id_col].astype(str),
                        [names[s] for s in a["segment"]], order=list(p["name"]),
                        actions=dict(zip(p["name"], p["action"], strict=True)))


def value_table(frame: pd.DataFrame, id_col: str) -> pa.Table:
    """Per-entity measures (every numeric column but the id) as long rows."""
    measures = [c for c in frame.columns
                if c != id_col and np.issubdtype(frame[c].dtype, np.number)]
    ids = frame[id_col].astype(str).to_numpy()
    return pa.table({
        "entity_id": np.concatenate([ids] * len(measures)) if measures else [],
        "measure": np.repeat(measures, len(ids)) if measures else [],
        "value": np.concatenate([frame[m].to_numpy(np.float64) for m in measures])
        if measures else pa.array([], pa.float64()),
    })


def _segmenter_card(segmentation: Segmentation) -> ModelCard:
    sweep = segmentation.sweep
    est = segmentation.segmenter
    return ModelCard("segmenter", "clustering", {
        "algorithm": getattr(est, "algorithm", None),
        "n_segments": len(segmentation.profiles),
        "features": list(segmentation.features),
        "chosen_k": None if sweep is None else int(sweep.recommended_k),
        "rationale": None if sweep is None else sweep.rationale,
        "evaluation": [] if sweep is None else sweep.table.to_dict("records"),
    })


def _clv_card(clv: Any) -> ModelCard:
    from segwise.clv._value import UNIT_NAMES

    holdout, period = clv.calibration_holdout, clv.period.to_attrs()
    return ModelCard("clv", "clv", {
        "purchase_model": type(clv.purchase_model).__name__,
        "horizon": clv.horizon,
        "time_unit": UNIT_NAMES.get(period["unit"], period["unit"]),
        "discount_rate": clv.discount_rate,
        "calibration_end": period["calibration_end"],
        "holdout_end": period["holdout_end"],
        "customers": len(clv.customers),
        "excluded": clv.n_excluded,
        # Why P(alive) is not stored: the fit sits on a boundary (None when it does not).
        "degenerate": getattr(clv, "degenerate", None),
        "parameters": clv.parameters().to_dict("records"),
        "evaluation": [] if holdout is None else holdout.to_dict("records"),
    })


def _assigner_card(trained: TrainedAssigner, artifact: bytes | None) -> ModelCard:
    meta = dict(trained.metadata)
    metrics = meta.pop("metrics", {})
    return ModelCard("assigner", "assigner", {
        **meta, "window": trained.window.to_dict(), "horizon_days": trained.horizon_days,
        "segments": [str(c) for c in trained.estimator.classes_], "evaluation": metrics,
    }, artifact=artifact)


def assigner_card(path: str | Path) -> ModelCard:
    """Return a saved assigner model file as a model card holding the file itself.

    The file is loaded (and so checked) before it is stored.
    """
    from segwise.predict import TrainedAssigner

    return _assigner_card(TrainedAssigner.load(path), Path(path).read_bytes())


def model_file_bytes(trained: TrainedAssigner | TrainedPropensity) -> bytes:
    """Return the bytes of a trained model's file, as its ``save`` writes it, for the store."""
    with tempfile.TemporaryDirectory() as tmp:
        return trained.save(Path(tmp) / "model.skops").read_bytes()


def propensity_card(trained: TrainedPropensity, artifact: bytes | None = None) -> ModelCard:
    """Return a response model's card: its metadata and the comparison that chose it.

    ``artifact`` is the saved model file, when the store should keep it.
    """
    return ModelCard("propensity", "propensity", dict(trained.metadata), artifact=artifact)


def model_record(trained: TrainedAssigner, result: JobResult, *, command: str) -> RunRecord:
    """Record a training run: the model's card and file, and the data it learned from."""
    return RunRecord(command=command, models=[_assigner_card(trained, model_file_bytes(trained))],
                     config=config_dict(result.config), source=result.entities.source,
                     fingerprint=result.entities.fingerprint)


def assignment_record(assigned: pd.DataFrame, *, source: str | Path,
                      model: str | Path) -> RunRecord:
    """Record ``segwise assign``: new customers, their segment and probabilities.

    Parameters
    ----------
    assigned : pandas.DataFrame
        :meth:`segwise.predict.TrainedAssigner.assign`'s output.
    source : str or Path
        The new customers' order lines.
    model : str or Path
        The model file used.
    """
    from segwise.features import EntityTable, source_fingerprint

    entities = EntityTable.from_frame(
        pa.Table.from_pandas(assigned, preserve_index=False), id_col="customer_id",
        features=["probability", "orders_used"], kind="orders", entity="customer",
        segment_col="segment", source=str(source))
    entities = dataclasses.replace(entities, fingerprint=source_fingerprint(source))
    scored = assigned[assigned["segment"].notna()]
    counts = scored["segment"].value_counts()
    summary = pa.table({"segment": [str(s) for s in counts.index],
                        "size": counts.to_numpy(np.int64),
                        "share": counts.to_numpy(np.float64) / max(len(assigned), 1)})
    labels = SegmentLabels("assigned", pa.table({
        "entity_id": scored["customer_id"].astype(str).to_numpy(),
        "segment": scored["segment"].astype(str).to_numpy()}), summary=summary)
    probabilities = [c for c in assigned.columns if c.startswith("p_")]
    return RunRecord(
        command="assign", entities=entities, segmentations=[labels],
        values=value_table(scored[["customer_id", *probabilities]], "customer_id"),
        models=[ModelCard("assigner", "assigner", {"model_file": str(model)})])


def run_record(
    result: JobResult | None,
    *,
    command: str,
    entities: EntityTable | None = None,
    segmentation: Segmentation | None = None,
    clv: Any = None,
    models: Sequence[ModelCard] = (),
    segmentations: Sequence[SegmentLabels] = (),
    values: pa.Table | None = None,
    config: SegwiseConfig | None = None,
    job: str | None = None,
    started_at: dt.datetime | None = None,
) -> RunRecord:
    """Turn what a command produced into the record of one run.

    Parameters
    ----------
    result : JobResult or None
        The job's result: its entity table, named segments, configuration.
    command : str
        The command (``"etl"``, ``"rfm"``, ...).
    entities : EntityTable, optional
        The entity table when there is no job result (``segment --customers``).
    segmentation : Segmentation, optional
        Learned segments of the entities; the entities it left out (a missing feature,
        :attr:`Segmentation.left_out <segwise.segment.Segmentation.left_out>`) are not
        in the record, which holds what was segmented.
    clv : CLVResult, optional
        Lifetime value: per-entity measures and a model card.
    models : sequence of ModelCard
        Further models (an assigner).
    segmentations : sequence of SegmentLabels
        Further segmentations (a model's assignments).
    values : pyarrow.Table, optional
        Further per-entity measures (long).
    config : SegwiseConfig, optional
        The settings; the result's when omitted.
    job : str, optional
        The job that ran.
    started_at : datetime, optional
        When the command started (now when omitted).

    Returns
    -------
    RunRecord
    """
    from segwise.report import clv_frame

    ent = result.entities if result is not None else entities
    segs = list(segmentations)
    cards = list(models)
    tables = [values] if values is not None else []
    if result is not None:
        rule = rule_labels(result)
        if rule is not None:
            segs.insert(0, rule)
        config = config or result.config
    if segmentation is not None and ent is not None:
        ent = _segmented(ent, segmentation)
        segs.append(learned_labels(ent, segmentation))
        cards.append(_segmenter_card(segmentation))
    if clv is not None:
        tables.append(value_table(clv_frame(clv), "customer_id"))
        cards.append(_clv_card(clv))
    record = RunRecord(
        command=command, entities=ent, segmentations=segs,
        values=pa.concat_tables(tables) if tables else None, models=cards,
        config=config_dict(config) if config is not None else {},
        job=job,
    )
    if started_at is not None:
        record.started_at = started_at
    return record


def run_etl(
    source: str | Path,
    store: str | Path | Store,
    *,
    job: str = "rfm",
    config: SegwiseConfig | None = None,
    learned_segments: bool = True,
    extras: bool = True,
    assigner: str | Path | None = None,
    seed: int = 0,
    progress: Callable[[str], None] = _nothing,
) -> tuple[str, JobResult, list[str]]:
    """Run a job end to end and write everything into the store as one run.

    Parameters
    ----------
    source : str or Path
        The source file.
    store : str, Path or Store
        A ``.duckdb`` file or ``postgresql://`` URL.
    job : str, default="rfm"
        The registered job.
    config : SegwiseConfig, optional
        The settings.
    learned_segments : bool, default=True
        Learn segments (:func:`segwise.segment.segment_customers`, k swept).
    extras : bool, default=True
        Compute the kind's registered extras (lifetime value for order lines).
    assigner : str or Path, optional
        A saved assigner model file to keep in the store, for ``POST /score``.
    seed : int, default=0
        Seed of the learned segments.
    progress : callable, optional
        Called with each step's name as it starts (``load`` ... ``segments``, ``clv``,
        ``store``).

    Returns
    -------
    run_id : str
    result : JobResult
    notes : list of str
        What could not be computed on this data, and why.
    """
    from segwise.report import learn_extras
    from segwise.segment import segment_customers
    from segwise.store import Store

    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    # Read first: a model file that is missing or not an assigner failed after the work.
    cards = [assigner_card(assigner)] if assigner else []
    result = run_job(job, source, config=config, progress=progress)
    entities = result.entities
    if not entities.n_entities and entities.audit_table is not None:
        # A run of nobody was stored, and said as "stored run ...: 0 people", exit 0.
        from segwise.features.rfm import no_entity_left

        # Any kind's rows end here: the quarantine file says why each row went, where a
        # rules section would be one kind's ([cleaning] holds order lines' rules only).
        raise no_entity_left(str(source), entities.audit_table,
                             entity=entities.schema.entity, check=None)
    notes: list[str] = []
    segmentation = None
    if learned_segments:
        progress("segments")
        try:
            segmentation = segment_customers(result.entities, compare=None, embed=(),
                                             random_state=seed)
        except SegwiseError as exc:
            notes.append(f"Learned segments are not stored: {exc}")
    learned = learn_extras(result, segments=False, progress=progress) if extras else None
    if learned is not None:
        notes += learned.notes
    record = run_record(result, command="etl", segmentation=segmentation,
                        clv=learned.clv if learned is not None else None, models=cards,
                        job=job, started_at=started)
    progress("store")
    target = store if isinstance(store, Store) else Store(store)
    return target.write_run(record), result, notes


def project_paths(settings: ProjectSettings, base: Path) -> ProjectSettings:
    """Return the settings with relative paths taken from ``base`` (the config's folder).

    Raises
    ------
    ConfigError
        If no source is given.
    """
    if not settings.source:
        raise ConfigError("[project] source is missing: the file the job reads. Fix: add "
                          'source = "orders.csv" (its path) under [project]')

    def resolve(value: str) -> str:
        if not value or "://" in value or Path(value).is_absolute():
            return value
        return str(base / value)

    return dataclasses.replace(settings, source=resolve(settings.source),
                               store=resolve(settings.store),
                               assigner=resolve(settings.assigner))
