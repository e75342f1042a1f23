"""Campaign response: train a propensity model on a people table, score another.

:func:`run_propensity` reads a table of people who were targeted, with a column saying
whether each responded, as the ``people`` job does (any format, header or none, typed by
the feature dictionary), and trains a response model on it
(:func:`segwise.predict.train_propensity`): candidates compared on folds of this table
only, the default chosen by the pre-registered rule, the population's segments compared
as a baseline and as a feature. :func:`score_propensity` reads another table the same way,
with the dictionary the model carries, and scores it: score, rank and reasons per person.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyarrow as pa

from segwise._frames import DataSource, source_name
from segwise.clean import CleanedPeople, build_audit
from segwise.config import SegwiseConfig
from segwise.exceptions import ConfigError, InputError
from segwise.io import PERSON_ID, Attribute, FeatureDictionary, canonical_code, read_dictionary
from segwise.jobs._base import JobResult, run_job
from segwise.jobs.people import PEOPLE_JOB, case_hint, with_undeclared
from segwise.jobs.people import _rows_removed as rows_removed
from segwise.jobs.people import _settings as people_settings
from segwise.report import register_sections_module

if TYPE_CHECKING:
    import pandas as pd

    from segwise.features import EntityTable
    from segwise.predict import TrainedPropensity
    from segwise.store import RunRecord

__all__ = [
    "PropensityResult",
    "ScoreResult",
    "response_labels",
    "run_propensity",
    "score_propensity",
]

register_sections_module("people", "segwise.jobs._propensity_report")

#: Values read as "responded" when the target has exactly these two (case ignored).
_PAIRS = ({"0", "1"}, {"false", "true"}, {"no", "yes"}, {"n", "y"})


def _nothing(step: str) -> None:
    """Default progress callback."""


def response_labels(values: pa.ChunkedArray | pa.Array, *, positive: Any = None,
                    missing: Sequence[str] = (), where: str = "target"
                    ) -> tuple[np.ndarray, str]:
    """Read a target column as 1 (responded), 0 (did not) or -1 (missing).

    Parameters
    ----------
    values : pyarrow.Array or ChunkedArray
        The column, numbers or text.
    positive : object, optional
        The value that means "responded"; every other present value means "did not".
        Without it the column must hold two values, one of 1/0, true/false, yes/no, y/n
        (case ignored).
    missing : sequence of str, default=()
        Codes that mean no value (the dictionary's unknown codes of the target).
    where : str, default="target"
        The file and column, for messages.

    Returns
    -------
    labels : ndarray of int8
        1, 0 or -1 (missing) per row.
    positive : str
        The value read as "responded" (canonical text).

    Raises
    ------
    InputError
        If the values do not say which one is the response, or ``positive`` never
        occurs.
    """
    codes = _target_codes(values, missing)
    present = codes != None  # noqa: E711 - elementwise on an object array
    distinct = sorted({str(c) for c in codes[present]})
    if len(distinct) < 2 and positive is None:
        held = f"holds {distinct[0]!r} in every row with a value" if distinct else (
            "has no value in any row")
        raise InputError(f"{where}: {held}: a model needs people who responded and people "
                         "who did not. Fix: check --target, or give a table with both")
    if positive is not None:
        label = canonical_code(positive)
        if label not in distinct:
            same = [v for v in distinct if v.lower() == label.lower()]
            hint = f"; did you mean {same[0]!r}? (case matters)" if same else ""
            raise InputError(f"{where}: no row has the response value {label!r} (values: "
                             f"{', '.join(distinct[:8])}){hint}. Fix: check --positive")
        hit = codes == label
    else:
        lowered = np.array([str(c).lower() for c in codes], dtype=object)
        pair = next((p for p in _PAIRS if set(lowered[present]) == p), None)
        if pair is None:
            shown = ", ".join(distinct[:8]) + (", ..." if len(distinct) > 8 else "")
            raise InputError(f"{where}: cannot tell which value means 'responded' (values: "
                             f"{shown or 'none'}). Fix: give it with --positive")
        label = next(v for v in ("1", "true", "yes", "y") if v in pair)
        hit = lowered == label
    out = np.where(present, hit.astype(np.int8), -1).astype(np.int8)
    return out, label


def _target_codes(values: pa.ChunkedArray | pa.Array, missing: Sequence[str] = ()
                  ) -> np.ndarray:
    """Each target value as its canonical code (``1.0`` is ``1``), None where blank."""
    import pandas as pd

    raw = pd.Series(values.to_pandas(), dtype=object)
    codes = np.array([None if v is None or (isinstance(v, float) and np.isnan(v))
                      or str(v).strip() == "" else canonical_code(v) for v in raw],
                     dtype=object)
    if missing:
        codes[np.isin(codes, [canonical_code(c) for c in missing])] = None
    return codes


def target_counts(values: pa.ChunkedArray | pa.Array, missing: Sequence[str] = ()
                  ) -> dict[str, int]:
    """Rows per value of a target column (canonical codes, most frequent first; no blanks)."""
    import pandas as pd

    codes = pd.Series(_target_codes(values, missing), dtype=object).dropna()
    return {str(k): int(n) for k, n in codes.value_counts(sort=True).items()}


@dataclass(repr=False)  # JobResult's one line of counts
class PropensityResult(JobResult):
    """A trained response model and everything the report shows about it.

    :attr:`entities` holds one row per training person: ``person_id``, ``responded``
    (1/0) and ``cv_score``, the default model's out-of-fold score (from a model that did
    not see the person).

    Attributes
    ----------
    trained : TrainedPropensity
        The default model fitted on every training row, its metadata and the comparison.
    target : str
        The target column.
    positive : str
        The value read as "responded".
    target_values : dict of str to int
        Rows learned from per value of the target (every value but ``positive`` read as
        "did not respond").
    reasons : pandas.DataFrame
        The people ranked highest by their out-of-fold score, with the final model's
        reasons for them.
    """

    trained: TrainedPropensity = field(default=None, repr=False)  # type: ignore[assignment]
    target: str = ""
    positive: str = ""
    target_values: dict[str, int] = field(default_factory=dict)
    reasons: pd.DataFrame = field(default=None, repr=False)

    @property
    def encoding(self) -> pd.DataFrame:
        """Per column of the training table, how the default model used it.

        The model's column audit (used, excluded, missing too often, declared but not in
        the data; the target left out) and the columns the dictionary does not declare.
        """
        audit = self.trained.model.encoder_.column_audit()
        return with_undeclared(audit[audit["column"] != self.target].reset_index(drop=True),
                               cast(CleanedPeople, self.cleaned))

    def run_record(self) -> RunRecord:
        """Return the run ``--store`` keeps: the training people and the model with its file.

        The entity table is one row per training person (``responded``, ``cv_score``);
        the model card holds the comparison that chose the default, and the saved model
        file, so the store keeps what scored later runs.
        """
        from segwise.jobs._store import model_file_bytes, propensity_card, run_record

        return run_record(self, command="propensity train", job="propensity",
                          models=[propensity_card(self.trained, model_file_bytes(self.trained))])


def _with_target(dictionary: FeatureDictionary | None, target: str
                 ) -> FeatureDictionary | None:
    """Declare the target as text, so that it is read as written whatever else is declared.

    Typed as a number (a declared ``numeric`` or coded target), ``yes``/``no`` would be
    read as no value at all. Its position and unknown codes are kept.
    """
    if dictionary is None:
        return None
    if target not in dictionary:
        attr = Attribute(target, "categorical", "the response (target)")
        return FeatureDictionary([*dictionary, attr], source=dictionary.source)
    text = dataclasses.replace(dictionary[target], type="categorical", labels={}, parts=())
    return FeatureDictionary([text if a.name == target else a for a in dictionary],
                             source=dictionary.source)


def _load_dictionary(path: str | Path | FeatureDictionary | None
                     ) -> FeatureDictionary | None:
    if path is None or isinstance(path, FeatureDictionary):
        return path
    return read_dictionary(Path(path))


def run_propensity(
    source: DataSource,
    target: str,
    *,
    dictionary: str | Path | FeatureDictionary | None = None,
    config: SegwiseConfig | None = None,
    positive: Any = None,
    exclude: Sequence[str] = (),
    models: Sequence[str] | None = None,
    imbalance: Sequence[str] | None = None,
    folds: int = 5,
    repeats: int = 1,
    mail_share: float | None = None,
    top_n: int | None = None,
    segments: bool = True,
    n_segments: int | None = None,
    importance: bool = True,
    n_jobs: int = 1,
    engine: str = "duckdb",
    progress: Callable[[str], None] = _nothing,
) -> PropensityResult:
    """Train a response model on a table of targeted people and their responses.

    Parameters
    ----------
    source : str, Path or table in memory
        People who were targeted (any format segwise reads, or a pandas or polars
        DataFrame, an Arrow or Ibis table), with the target column.
    target : str
        The column saying whether each responded.
    dictionary : str, Path or FeatureDictionary, optional
        The feature dictionary; ``[people] dictionary`` of the config, else inferred.
    config : SegwiseConfig, optional
        ``[columns]``, ``[read]`` and ``[people]`` settings (the latter also shape the
        population segments compared with the model).
    positive : object, optional
        The target value meaning "responded" (see :func:`response_labels`).
    exclude : sequence of str, default=()
        Attributes the model never uses (shell patterns), besides the id and the target.
    models, imbalance : sequence of str, optional
        Candidates compared (every family and handling by default).
    folds, repeats : int, default=5, 1
        Stratified folds of the comparison.
    mail_share : float, optional
        Mailing share the default is chosen on (0.2).
    top_n : int, optional
        Mailing size reported on the out-of-fold scores.
    segments : bool, default=True
        Compare the population segments as a baseline and as a feature.
    n_segments : int, optional
        Number of segments (chosen by the population analysis's sweep when omitted).
    importance : bool, default=True
        Measure the default's permutation importance on the folds.
    n_jobs : int, default=1
        Processes comparing candidates at once (-1: one per core).
    engine : {"duckdb", "spark"}, default="duckdb"
        Engine that reads and cleans the rows.
    progress : callable, optional
        Called with the name of each step.

    Returns
    -------
    PropensityResult
        The trained model, the comparison, the training people with their out-of-fold
        scores, and the audit (rows in = rows kept + rows without a target + ...).

    Raises
    ------
    InputError
        If the table has no such column, the target cannot be read as a response, or
        responders or others are too few for the folds.
    """
    from segwise.features.people import encoding_table
    from segwise.predict import (
        IMBALANCE,
        MAIL_SHARE,
        PROPENSITY_MODELS,
        check_folds,
        segment_comparison,
        train_propensity,
    )

    given = _load_dictionary(dictionary) or _config_dictionary(config)
    config, settings = people_settings(config or SegwiseConfig(), _with_target(given, target))
    result = run_job(PEOPLE_JOB, source, config=config, engine=engine, progress=progress)
    name = source_name(source)  # a table in memory by its type, not its rows
    cleaned = cast(CleanedPeople, result.cleaned)
    cleaned.check_exclude(exclude, "--exclude", name)
    table = result.entities.table
    _check_rows(table, result.audit_table, name, "learn from")
    if target not in table.column_names:
        raise _absent_target(name, target, cleaned, table)
    cleaned.check_names(name)
    cleaned.check_attributes(name, besides=(target,))
    unknown = cleaned.dictionary[target].missing if target in cleaned.dictionary else ()
    labels, label = response_labels(table.column(target), positive=positive, missing=unknown,
                                    where=f"{name}, column {target}")
    known = labels >= 0
    rows = table if known.all() else table.filter(pa.array(known))
    y = labels[known].astype(np.int64)
    check_folds(y, folds, where=f"{name}, column {target} ({label!r}: responded)")
    X = rows.drop_columns([PERSON_ID, target])
    progress("validate")
    model_dictionary = cleaned.dictionary
    try:
        with encoding_table(name):
            trained = train_propensity(
                X, y, dictionary=model_dictionary, exclude=tuple(exclude),
                models=tuple(models or PROPENSITY_MODELS),
                imbalance=tuple(imbalance or IMBALANCE), folds=folds, repeats=repeats,
                mail_share=mail_share or MAIL_SHARE, top_n=top_n,
                segments=(lambda X_, y_: segment_comparison(X_, y_, model_dictionary, settings,
                                                            n_segments)) if segments else None,
                importance=importance, random_state=settings.random_state, n_jobs=n_jobs,
                progress=progress,
                metadata={
                    "source": name, "source_fingerprint": result.entities.fingerprint,
                    "target": target, "positive": label,
                    "given_dictionary_sha256": _fingerprint(given),
                })
    except InputError as exc:  # the encoder's, the segments': they do not know the file
        raise InputError(f"{name}: {exc}") from None
    progress("reasons")
    entities, reasons = _entities(rows, y, trained)
    entities = dataclasses.replace(
        entities, source=name, fingerprint=result.entities.fingerprint,
        audit_table=_audit(result.audit_table, int((~known).sum()), target),
        quarantine_table=result.quarantine_table)
    return PropensityResult(entities=entities, cleaned=cleaned, config=config,
                            trained=trained, target=target, positive=label,
                            target_values=target_counts(table.column(target), unknown),
                            reasons=reasons)


def _absent_target(source: str | Path, target: str, cleaned: CleanedPeople, table: pa.Table
                   ) -> InputError:
    """Say why the target is not among the rows read: the id, a column not read, a typo."""
    import difflib

    fix = "Fix: give --target the column saying whether each person responded"
    if target == cleaned.id_column:
        return InputError(f"{source}: {target!r} is the file's id column, not a response. {fix}")
    skipped = dict(getattr(cleaned.dictionary, "skipped", ()))
    if target in skipped:
        return InputError(f"{source}: column {target!r} is not read as a response: "
                          f"{skipped[target]} (types inferred from the first rows). Fix: "
                          "check --target; if it is the response, give a dictionary (-d) "
                          "declaring it and the attributes")
    columns = [c for c in table.column_names if c != PERSON_ID]
    known = [*columns, *cleaned.undeclared, *skipped]
    close = [c for c in known if c.lower() == target.lower()] or difflib.get_close_matches(
        target, known, n=1, cutoff=0.8)
    if close:
        return InputError(f"{source}: no column {target!r} to learn from; did you mean "
                          f"{close[0]!r}? Fix: give --target as the file writes it (case "
                          "matters)")
    shown = ", ".join(columns[:10])
    return InputError(f"{source}: no column {target!r} to learn from (columns: {shown}"
                      f"{', ...' if len(columns) > 10 else ''}). Fix: check --target "
                      "(and the dictionary's names for a file without a header)")


def _check_rows(table: pa.Table, audit: pa.Table, source: str | Path, what: str) -> None:
    """Refuse a table the row rules left empty (every id on several different rows)."""
    if not table.num_rows:
        raise InputError(f"{source}: no person left to {what} ({rows_removed(audit)}). Fix: "
                         "see the reasons; give each person one row (or no id column)")


def _config_dictionary(config: SegwiseConfig | None) -> FeatureDictionary | None:
    """Return the ``[people] dictionary`` of a config, read (None without one)."""
    if config is None:
        return None
    return cast(FeatureDictionary | None, config.section("people").load_dictionary())


def _fingerprint(dictionary: FeatureDictionary | None) -> str | None:
    from segwise.predict import dictionary_fingerprint

    return None if dictionary is None else dictionary_fingerprint(dictionary)


def _audit(audit: pa.Table, no_target: int, target: str) -> pa.Table:
    """Split the ``kept`` rows into those without a target and those learned from."""
    steps = audit.column("step").to_pylist()
    rows = dict(zip(steps, audit.column("rows").to_pylist(), strict=True))
    text = dict(zip(steps, audit.column("description").to_pylist(), strict=True))
    kept, kept_text = rows.pop("kept"), text.pop("kept")
    rows.update(no_target=no_target, kept=kept - no_target)
    text.update(no_target=f"no value in the target column {target}: not learned from",
                kept=kept_text + "; learned from")
    return build_audit(rows, text, sum(rows.values()))


#: People listed with their reasons in the result (the highest out-of-fold scores).
REASON_ROWS = 20


def _entities(rows: pa.Table, y: np.ndarray, trained: TrainedPropensity
              ) -> tuple[EntityTable, pd.DataFrame]:
    """One row per training person with the out-of-fold score; the top ones' reasons."""
    from segwise.features import EntityTable, Feature, FeatureSet

    validation = trained.validation
    assert validation is not None  # noqa: S101 - set by train_propensity
    oof = validation.oof[validation.choice.chosen].to_numpy()
    ids = rows.column(PERSON_ID)
    if validation.settings.get("sampled_from"):
        oof = np.full(len(y), np.nan)  # validated on a sample: no score for everyone
    table = pa.table({PERSON_ID: ids, "responded": pa.array(y.astype(np.int64)),
                      "cv_score": pa.array(oof, from_pandas=True)})
    schema = FeatureSet(
        name="propensity", kind="people", entity="person", plural="people", id_col=PERSON_ID,
        features=(Feature("responded", "integer", description="1 if the person responded"),
                  Feature("cv_score", description="the default model's out-of-fold score")))
    import pandas as pd

    X = rows.drop_columns([PERSON_ID, trained.target])
    ranked = np.argsort(-np.nan_to_num(oof, nan=-1.0), kind="stable")[:REASON_ROWS]
    explained, _ = trained.model.score_table(X.take(ranked), reasons=3)
    reasons = pd.concat([pd.DataFrame({
        PERSON_ID: ids.take(ranked).to_numpy(zero_copy_only=False),
        "cv_score": oof[ranked], "responded": y[ranked]}), explained], axis=1)
    return EntityTable(table, schema), reasons


@dataclass
class ScoreResult:
    """Scores of a table by a saved model.

    Attributes
    ----------
    scores : pandas.DataFrame
        ``person_id``, ``score``, ``rank``, ``reason_<i>`` and ``effect_<i>``, by rank.
    audit : pyarrow.Table
        Rows of the table per cleaning step, adding up to its rows.
    encoding : pandas.DataFrame
        Per column, what encoding treated as missing or could not use (codes the
        dictionary does not declare, columns the model does not know or misses).
    model : TrainedPropensity
        The model.
    n_scored : int
        People scored (``scores`` may keep only the top ones).
    """

    scores: pd.DataFrame
    audit: pa.Table
    encoding: pd.DataFrame
    model: TrainedPropensity
    n_scored: int
    quarantine: pa.Table | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        # The dataclass repr printed the scores, the audit and the encoding in full.
        steps = dict(zip(*self.audit.select(["step", "rows"]).to_pydict().values(),
                         strict=True))
        counts = "".join(f", {step} {steps[step]:,}" for step in ("kept", "quarantined")
                         if step in steps)
        return (f"ScoreResult({self.n_scored:,} people scored, {len(self.scores):,} kept in "
                f"scores; rows in {sum(steps.values()):,}{counts})")

    def run_record(self, source: str | Path) -> RunRecord:
        """Return the run ``--store`` keeps: each person's score, rank and score decile.

        The people written (all, or the top ones) are the entities, with ``score`` and
        ``rank``; the segmentation ``decile`` puts each in a tenth of everyone scored
        (``top 10 %`` first), the deciles within the mail share the model was chosen for
        marked "mail"; the score is also a per-person measure; the model card names the
        model (its file stays where it is).
        """
        from segwise.features import EntityTable, source_fingerprint
        from segwise.jobs._store import named_labels, propensity_card, value_table
        from segwise.store import RunRecord

        people = self.scores[[PERSON_ID, "score", "rank"]]
        entities = EntityTable.from_frame(
            pa.Table.from_pandas(people, preserve_index=False), id_col=PERSON_ID,
            features=["score", "rank"], kind="people", entity="person", source=str(source))
        entities = dataclasses.replace(
            entities, fingerprint=source_fingerprint(source), audit_table=self.audit,
            quarantine_table=self.quarantine)
        names = [f"top {10 * (d + 1)} %" if d == 0 else f"{10 * d}-{10 * (d + 1)} %"
                 for d in range(10)]
        band = np.minimum((people["rank"].to_numpy() - 1) * 10 // max(self.n_scored, 1), 9)
        settings = self.model.metadata.get("validation", {}).get("settings", {})
        share = float(settings.get("mail_share") or 0.0)
        actions = {n: f"mail: within the top {share:.0%} the model was chosen for"
                   for d, n in enumerate(names) if (d + 1) / 10 <= share + 1e-9}
        deciles = named_labels(entities, "decile", people[PERSON_ID].astype(str),
                               [names[b] for b in band], order=names, actions=actions)
        return RunRecord(command="propensity score", entities=entities,
                         segmentations=[deciles],
                         values=value_table(people[[PERSON_ID, "score"]], PERSON_ID),
                         models=[propensity_card(self.model)], job="propensity")


def score_propensity(
    model: str | Path | TrainedPropensity,
    source: DataSource,
    *,
    config: SegwiseConfig | None = None,
    dictionary: str | Path | FeatureDictionary | None = None,
    top: int | None = None,
    reasons: int = 3,
    missing_columns: str = "error",
    engine: str = "duckdb",
    progress: Callable[[str], None] = _nothing,
) -> ScoreResult:
    """Score a table of people with a trained response model.

    The table is read as the ``people`` job reads it, with the dictionary the model
    carries (so a file without a header gets the same column names, and every attribute
    the same type as in training).

    Parameters
    ----------
    model : str, Path or TrainedPropensity
        A model file (``segwise propensity train``) or a trained model.
    source : str, Path or table in memory
        The people to score (a target column, if present, is ignored and reported).
    config : SegwiseConfig, optional
        ``[columns]`` and ``[read]`` settings.
    dictionary : str, Path or FeatureDictionary, optional
        Only to check: scoring refuses a dictionary other than the model's.
    top : int, optional
        Keep only the ``top`` highest-scored people.
    reasons : int, default=3
        Reasons per person.
    missing_columns : {"error", "missing"}, default="error"
        A column the model uses and the table lacks: an error, or missing for every row
        (imputed, and reported).
    engine : {"duckdb", "spark"}, default="duckdb"
        Engine that reads the rows.
    progress : callable, optional
        Called with the name of each step.

    Returns
    -------
    ScoreResult
        Scores, ranks and reasons; the row audit and what encoding could not use.

    Raises
    ------
    InputError
        If the model file is refused, the dictionary differs from the model's, or the
        table lacks a column the model uses (with ``missing_columns="error"``).
    """
    from segwise.features.people import ColumnsError, encoding_table
    from segwise.predict import TrainedPropensity

    if missing_columns not in ("error", "missing"):
        raise ConfigError(f"missing_columns must be 'error' or 'missing', got "
                          f"{missing_columns!r}")
    trained = model if isinstance(model, TrainedPropensity) else TrainedPropensity.load(model)
    given = _load_dictionary(dictionary)
    expected = trained.metadata.get("given_dictionary_sha256")
    if given is not None and _fingerprint(given) != expected:
        raise InputError(
            f"{dictionary}: not the dictionary the model was trained with"
            + (" (it inferred its own)" if expected is None else "")
            + "; the model carries its own. Fix: score without --dictionary, or retrain "
              "with this one")
    config, _ = people_settings(config or SegwiseConfig(), trained.dictionary)
    result = run_job(PEOPLE_JOB, source, config=config, engine=engine, progress=progress)
    name = source_name(source)
    table = result.entities.table
    _check_rows(table, result.audit_table, name, "score")
    encoder = trained.model.encoder_
    encoder.set_params(missing_columns=missing_columns)
    progress("score")
    try:
        with encoding_table(name):
            scores, encoding = trained.score(table.drop_columns([PERSON_ID]),
                                             ids=table.column(PERSON_ID).to_numpy(
                                                 zero_copy_only=False), top=top,
                                             reasons=reasons)
    except ColumnsError as exc:
        missing = [c for c in encoder.attributes_ if c not in table.column_names]
        raise InputError(
            f"{name}: the model needs column(s) the table lacks: "
            f"{', '.join(missing[:8])}{', ...' if len(missing) > 8 else ''}"
            f"{case_hint(missing, cast(CleanedPeople, result.cleaned).undeclared)}. Fix: score a "
            "table with the training columns, or let them be missing (--missing-columns "
            "missing)") from exc
    return ScoreResult(scores=scores, audit=result.audit_table, encoding=encoding,
                       model=trained, n_scored=table.num_rows,
                       quarantine=result.quarantine_table)
