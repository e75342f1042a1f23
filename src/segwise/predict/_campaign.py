"""Train, save, load and apply a response model: the functions the job and users call.

:func:`train_propensity` compares the candidates on folds of the training rows, chooses the
default by the pre-registered rule (:data:`~segwise.predict.RULE`), records the rule, the
figures and the choice, and only then fits the default on every training row. The result,
:class:`TrainedPropensity`, scores raw rows (score, rank, reasons) and is saved as a skops
archive holding only the types listed in :data:`PROPENSITY_TYPES`, with its metadata
(feature schema, dictionary fingerprint, validation figures) beside it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segwise.exceptions import ConfigError, InputError
from segwise.io import FeatureDictionary
from segwise.predict._gains import SHARES
from segwise.predict._propensity import IMBALANCE, MODELS, PropensityModel
from segwise.predict._validate import (
    MAIL_SHARE,
    PropensityValidation,
    candidates,
    take_rows,
    validate_propensity,
)
from segwise.store import ModelFormat, load_model, save_model

__all__ = [
    "PROPENSITY_FILE",
    "PROPENSITY_TYPES",
    "TrainedPropensity",
    "dictionary_fingerprint",
    "train_propensity",
]

#: Every type outside skops' defaults that a propensity file holds, by exact name: the
#: union over every model family and imbalance handling (a test saves each variant, with
#: a declared and an inferred dictionary, and checks it stays inside).
PROPENSITY_TYPES = frozenset({
    "imblearn.over_sampling._smote.base.SMOTE",
    "imblearn.pipeline.Pipeline",
    "numpy.dtype",
    "segwise.features._encoder.PeopleEncoder",
    "segwise.io._dictionary.Attribute",
    "segwise.io._dictionary.FeatureDictionary",
    "segwise.io._dictionary.InferredDictionary",
    "segwise.io._dictionary.Part",
    "segwise.predict._propensity.PropensityModel",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
})

#: The propensity model file format.
PROPENSITY_FILE = ModelFormat(
    tag="segwise-propensity/1",
    trusted=PROPENSITY_TYPES,
    what="segwise propensity model file",
    make="train one with `segwise propensity train`",
)

#: Rows above which the comparison is made on a stratified sample (the default is then
#: fitted on every row).
MAX_VALIDATION_ROWS = 50_000


def dictionary_fingerprint(dictionary: FeatureDictionary) -> str:
    """SHA-256 of a dictionary's content (attributes, types, codes, labels, positions)."""
    content = [dataclasses.asdict(a) for a in dictionary]
    text = json.dumps({"inferred": dictionary.inferred, "attributes": content},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _column_types(X: Any) -> dict[str, str]:
    if hasattr(X, "schema") and hasattr(X, "column_names"):
        return {f.name: str(f.type) for f in X.schema}
    if isinstance(X, pd.DataFrame):
        return {str(c): str(t) for c, t in X.dtypes.items()}
    return {f"x{j}": "float64" for j in range(np.shape(X)[1])}


@dataclass
class TrainedPropensity:
    """A fitted response model with what it needs to score a new table, and its record.

    Attributes
    ----------
    model : PropensityModel
        The default, fitted on every training row.
    metadata : dict
        Target, response label, feature schema (columns and their types at training),
        dictionary fingerprint, training fingerprint, the validation figures, the rule
        and the choice.
    validation : PropensityValidation or None
        The full comparison (after training; a loaded model has its summary in
        ``metadata["validation"]``).
    """

    model: PropensityModel
    metadata: dict[str, Any] = field(default_factory=dict)
    validation: PropensityValidation | None = field(default=None, repr=False)

    @property
    def dictionary(self) -> FeatureDictionary:
        """The dictionary the model reads its rows by (declared, or inferred at training)."""
        return self.model.encoder_.dictionary_

    @property
    def target(self) -> str:
        """The target column at training."""
        return str(self.metadata.get("target", ""))

    def score(self, rows: Any, *, ids: Any = None, top: int | None = None, reasons: int = 3
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Score raw rows: a score, a rank and the top reasons per person.

        Parameters
        ----------
        rows : pyarrow.Table or pandas.DataFrame
            Raw rows with the training columns (others are ignored and reported).
        ids : array-like of shape (n_rows,), optional
            Person ids; the 1-based row when omitted.
        top : int, optional
            Keep only the ``top`` highest-scored people (a mailing list); reasons are
            worked out for them only.
        reasons : int, default=3
            Reasons per person.

        Returns
        -------
        scores : pandas.DataFrame
            ``person_id``, ``score`` (probability of responding), ``rank`` (1 = highest;
            equal scores in table order), ``reason_1``, ``effect_1``, ..., sorted by rank.
        audit : pandas.DataFrame
            Per column, what encoding treated as missing or could not use.
        """
        n = rows.num_rows if hasattr(rows, "num_rows") else len(rows)
        person = (np.arange(1, n + 1).astype(str) if ids is None
                  else np.asarray(ids, dtype=object).astype(str))
        if top is not None and top < 1:
            raise ConfigError(f"top must be at least 1, got {top}")
        keep = n if top is None else min(int(top), n)
        # Everyone's reasons: one pass over the rows; a top list's: only the top rows again.
        first, audit = self.model.score_table(rows, reasons=reasons if keep == n else 0)
        order = np.argsort(-first["score"].to_numpy(), kind="stable")[:keep]
        if reasons and keep < n:
            explained, _ = self.model.score_table(take_rows(rows, order), reasons=reasons)
        else:
            explained = first.iloc[order]
        out = pd.DataFrame({"person_id": person[order],
                            "score": first["score"].to_numpy()[order],
                            "rank": np.arange(1, keep + 1, dtype=np.int64)})
        extra = explained.drop(columns="score").reset_index(drop=True)
        return pd.concat([out, extra], axis=1), audit

    @classmethod
    def from_model(cls, model: PropensityModel, X: Any, y: np.ndarray, *,
                   metadata: dict[str, Any] | None = None,
                   validation: PropensityValidation | None = None) -> TrainedPropensity:
        """Wrap a model fitted on ``X`` and ``y`` with the metadata its file records.

        Parameters
        ----------
        model : PropensityModel
            Fitted on ``X`` and ``y``.
        X : pyarrow.Table or pandas.DataFrame
            Its training rows.
        y : ndarray
            Their responses (1/0).
        metadata : dict, optional
            Further facts (source, target, response value, validation figures).
        validation : PropensityValidation, optional
            The comparison that chose the model.

        Returns
        -------
        TrainedPropensity
        """
        from segwise import __version__

        y = np.asarray(y, dtype=np.int64)
        columns = _column_types(X)
        encoder = model.encoder_
        meta = {
            **(metadata or {}),
            "segwise_version": __version__,
            "model": model.name,
            "estimator_params": {k: v for k, v in model.get_params().items()
                                 if k != "dictionary"},
            "rows": len(y),
            "responders": int(y.sum()),
            "response_rate": float(y.mean()),
            "columns": columns,
            "attributes_used": list(encoder.attributes_),
            "dictionary_sha256": dictionary_fingerprint(encoder.dictionary_),
            "dictionary_inferred": bool(encoder.dictionary_.inferred),
            "training_sha256": hashlib.sha256(
                np.ascontiguousarray(y).tobytes() + json.dumps(columns).encode()).hexdigest(),
        }
        return cls(model, meta, validation)

    def save(self, path: str | Path) -> Path:
        """Save with skops and the metadata (:data:`PROPENSITY_FILE`)."""
        return save_model({"model": self.model}, self.metadata, path, PROPENSITY_FILE)

    @classmethod
    def load(cls, path: str | Path) -> TrainedPropensity:
        """Load a saved model, refusing altered, foreign or inconsistent files.

        Raises
        ------
        InputError
            If the file is missing, not a propensity file, altered after saving, needs a
            type outside :data:`PROPENSITY_TYPES`, or its metadata disagrees with the
            stored model (dictionary fingerprint, feature schema).
        """
        objects, meta = load_model(path, PROPENSITY_FILE)
        model = objects.get("model")
        if not isinstance(model, PropensityModel) or not hasattr(model, "pipeline_"):
            raise InputError(f"{path}: not a segwise propensity model file (unexpected "
                             "content). Fix: train one with `segwise propensity train`")
        if meta.get("dictionary_sha256") != dictionary_fingerprint(model.encoder_.dictionary_):
            raise InputError(f"{path}: the metadata's dictionary fingerprint does not match "
                             "the stored model. Fix: use the original file or retrain")
        used = list(model.encoder_.attributes_)
        if meta.get("attributes_used") != used:
            raise InputError(f"{path}: the metadata's feature schema does not match the "
                             "stored model. Fix: use the original file or retrain")
        return cls(model, meta)


def _validation_sample(y: np.ndarray, size: int, random_state: int) -> np.ndarray:
    """Stratified sample of row positions (sorted), the response rate kept."""
    rng = np.random.default_rng(random_state)
    picks = []
    for label in (0, 1):
        rows = np.flatnonzero(y == label)
        take = max(1, round(size * len(rows) / len(y)))
        picks.append(rng.choice(rows, min(take, len(rows)), replace=False))
    return np.sort(np.concatenate(picks))


def train_propensity(
    X: Any,
    y: np.ndarray,
    *,
    dictionary: FeatureDictionary | None = None,
    exclude: Sequence[str] = (),
    models: Sequence[str] = MODELS,
    imbalance: Sequence[str] = IMBALANCE,
    folds: int = 5,
    repeats: int = 1,
    mail_share: float = MAIL_SHARE,
    shares: Sequence[float] = SHARES,
    top_n: int | None = None,
    max_validation_rows: int = MAX_VALIDATION_ROWS,
    segments: Callable[..., Any] | None = None,
    importance: bool = True,
    random_state: int = 0,
    n_jobs: int = 1,
    metadata: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainedPropensity:
    """Compare models on folds of the training rows, choose the default, then fit it.

    The held-out data is never an argument: the choice is made on ``X`` and ``y`` alone
    and recorded with the model before it scores anything else.

    Parameters
    ----------
    X : pyarrow.Table or pandas.DataFrame
        Raw training rows: the attributes (no id, no target).
    y : ndarray of shape (n_rows,)
        1 for a responder, 0 otherwise.
    dictionary : FeatureDictionary or None
        The attributes (None: inferred).
    exclude : sequence of str, default=()
        Attributes never used (shell patterns).
    models, imbalance : sequence of str
        Candidate families and imbalance handlings (their product is compared; a single
        pair skips the choice but is still validated).
    folds, repeats : int, default=5, 1
        Stratified folds of the comparison.
    mail_share : float, default=0.2
        Mailing share the choice is made on.
    shares : sequence of float
        Mailing shares reported.
    top_n : int, optional
        Mailing size reported on the pooled out-of-fold scores.
    max_validation_rows : int, default=50000
        Above this, the comparison runs on a stratified sample of this many rows.
    segments : callable, optional
        :func:`~segwise.predict.segment_comparison` of the (sampled) rows, or a function
        of ``(X, y)`` returning it: compares the population segments as a baseline and
        as a feature.
    importance : bool, default=True
        Measure the default's permutation importance on the folds.
    random_state : int, default=0
        Seed of folds, samples and models.
    n_jobs : int, default=1
        Processes comparing candidates at once (-1: one per core).
    metadata : dict, optional
        Facts stored with the model (source, target, response label).
    progress : callable, optional
        Called with the name of each step.

    Returns
    -------
    TrainedPropensity
        The default fitted on every row, its metadata and the comparison.
    """
    y = np.asarray(y, dtype=np.int64)
    n = len(y)
    pool = candidates(models, imbalance, dictionary=dictionary, exclude=tuple(exclude),
                      unknown_columns="ignore", random_state=random_state)
    sampled = n > max_validation_rows
    rows = _validation_sample(y, max_validation_rows, random_state) if sampled else None
    X_val = X if rows is None else take_rows(X, rows)
    y_val = y if rows is None else y[rows]
    validation = validate_propensity(
        X_val, y_val, pool, folds=folds, repeats=repeats, mail_share=mail_share,
        shares=shares, top_n=top_n, segments=segments(X_val, y_val) if segments else None,
        importance=importance, random_state=random_state, n_jobs=n_jobs, progress=progress)
    validation.settings["sampled_from"] = n if sampled else None
    chosen = pool[validation.choice.chosen]
    if progress is not None:
        progress("fit")
    model = chosen.fit(X, y)
    return TrainedPropensity.from_model(
        model, X, y, validation=validation,
        metadata={**(metadata or {}), "validation": validation.to_dict()})
