"""Train, save, load and apply an assigner: the functions the CLI and users call."""

from __future__ import annotations

import functools
import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import ibis
import numpy as np
import pandas as pd

from segwise._parallel import check_jobs
from segwise.clean import CleanedLines, clean_transactions
from segwise.exceptions import ConfigError, InputError, SegwiseWarning, columns_key
from segwise.io import load_transactions, refuse_read_options
from segwise.predict._assigner import (
    MODELS,
    OTHER,
    AssignerData,
    AssignerReport,
    SegmentAssigner,
    build_dataset,
    evaluate_assigner,
    fit_candidate,
    model_features,
    rule_feature_columns,
    time_split,
    validate_assigner,
)
from segwise.predict._features import FEATURE_COLUMNS, EarlyWindow, early_features
from segwise.predict._labels import DEFAULT_HORIZON_DAYS
from segwise.predict._persist import load_model_file, save_model_file
from segwise.segment.rfm import RFMScorer, SegmentMap

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import ibis.expr.types as ir

    from segwise.io import ReadOptions
    from segwise.jobs import RFMResult

__all__ = ["TrainedAssigner", "cluster_labels", "default_candidates", "train_assigner"]


def default_candidates(
    model: str = "grid",
    *,
    smote: bool = False,
    calibration: str | None = None,
    class_weight: str | None = "sqrt_balanced",
    compare: bool = True,
    random_state: int = 0,
) -> dict[str, SegmentAssigner]:
    """Build the chosen assigner first, then the comparison models.

    Parameters
    ----------
    model : {"grid", "vote", "hgb", "random_forest", "logistic"}, default="grid"
        The chosen model.
    smote : bool, default=False
        Whether the chosen model oversamples with SMOTE.
    calibration : {"isotonic", "sigmoid"} or None, default=None
        Probability calibration of the chosen model.
    class_weight : {"sqrt_balanced", "balanced"} or None, default="sqrt_balanced"
        Class weights of every candidate.
    compare : bool, default=True
        Add the chosen model with the other calibration choice (isotonic when the chosen
        one is uncalibrated), with/without SMOTE (not for the grid, which takes no
        SMOTE), with the other class weighting
        (``"balanced"``, or ``"sqrt_balanced"`` when that is the other one), and the
        other model families.
    random_state : int, default=0
        Seed.

    Returns
    -------
    dict of str to SegmentAssigner
        Unfitted candidates by display name.
    """
    def make(name: str, **kw: Any) -> SegmentAssigner:
        params = {"smote": smote, "calibration": calibration, "class_weight": class_weight,
                  **kw}
        return SegmentAssigner(name, random_state=random_state, **params)  # type: ignore[arg-type]

    name = model + (" + SMOTE" if smote else "") + (f", {calibration}" if calibration else "")
    out = {f"{name} (chosen)": make(model)}
    if compare:
        other_cal = None if calibration else "isotonic"
        out[model + (" + SMOTE" if smote else "") + (f", {other_cal}" if other_cal
                                                     else ", uncalibrated")] = make(
            model, calibration=other_cal
        )
        if model != "grid":
            out[model + (" without SMOTE" if smote else " + SMOTE")] = make(model,
                                                                            smote=not smote)
        other_cw = "balanced" if class_weight != "balanced" else "sqrt_balanced"
        out[f"{name}, {other_cw} weights"] = make(model, class_weight=other_cw)
        for other in MODELS:
            if other != model:
                out[other] = make(other, smote=False)
    return out


def cluster_labels(result: RFMResult, *, n_clusters: int | None = None,
                   random_state: int = 0) -> pd.Series:
    """Learned segment names per customer (:func:`segwise.segment.segment_customers`).

    Parameters
    ----------
    result : RFMResult
        Output of :func:`segwise.jobs.run_rfm`.
    n_clusters : int, optional
        Number of segments; chosen by the k sweep when omitted.
    random_state : int, default=0
        Seed.

    Returns
    -------
    pandas.Series
        ``segment_name`` indexed by customer id, for ``train_assigner(labels=...)``.
    """
    from segwise.segment import segment_customers

    seg = segment_customers(result.customers, n_clusters=n_clusters, compare=None, embed=(),
                            random_state=random_state)
    a = seg.assignments
    return pd.Series(a["segment_name"].to_numpy(), index=a["customer_id"].astype(str),
                     name="segment")


def _fingerprint(data: AssignerData) -> str:
    """SHA-256 of the training table (features and labels, row order fixed)."""
    frame = data.X.assign(_label=data.y).sort_index()
    hashed = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


#: What the order lines carried, as the early features show it: a feature that is the
#: same for every customer when its column was missing (no product ids: 0 products; no
#: country: "Unknown"; dates without a time of day: every order at hour 0).
_LINE_CONTENTS: dict[str, tuple[str, Callable[[pd.Series], pd.Series]]] = {
    "product ids": ("n_products", lambda v: v > 0),
    "countries": ("country", lambda v: v != "Unknown"),
    "times of day": ("mean_order_hour", lambda v: v != 0),
}


def _line_contents(features: pd.DataFrame) -> dict[str, bool]:
    """Whether any customer's lines had each of :data:`_LINE_CONTENTS`."""
    return {what: bool(seen(features[column]).any())
            for what, (column, seen) in _LINE_CONTENTS.items()}


@dataclass
class TrainedAssigner:
    """A fitted assigner with everything needed to apply it to new transactions.

    Attributes
    ----------
    estimator : SegmentAssigner
        Fitted on all eligible customers.
    scorer : RFMScorer
        The RFM scorer of the labels (for the rule features).
    window : EarlyWindow
        The early window the features use.
    horizon_days : int
        Horizon when assigning: the segment is asked for this many days after the window
        closes. A model trained on horizon labels answers for that horizon only.
    metadata : dict
        Version, labels, schema, segments, training fingerprint and held-out metrics.
    """

    estimator: SegmentAssigner
    scorer: RFMScorer
    window: EarlyWindow
    horizon_days: int = DEFAULT_HORIZON_DAYS
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """What the model was trained to predict: ``"horizon"``, ``"full_history"``, ...

        Models saved before horizon labels existed were trained on full-history labels.
        """
        return str(self.metadata.get("label_target", "full_history"))

    @property
    def categories(self) -> pd.DataFrame | None:
        """Product categories of the optional share features, from the metadata."""
        cats = self.metadata.get("product_categories")
        if not cats:
            return None
        return pd.DataFrame({"product_id": list(cats), "category_id": list(cats.values())})

    @functools.cached_property
    def segment_map(self) -> SegmentMap | None:
        """The segment map of the rule features, from the metadata (built once)."""
        sm = self.metadata.get("segment_map")
        if not sm:
            return None
        return SegmentMap(
            patterns={k: tuple(v) for k, v in sm["patterns"].items()}, actions=sm["actions"]
        )

    def _horizon(self, horizon_days: int | None) -> int:
        """Return the horizon to answer for; a horizon model answers for its own only."""
        horizon = self.horizon_days if horizon_days is None else int(horizon_days)
        if horizon < 0:
            raise ConfigError(f"horizon_days must be 0 or more, got {horizon}")
        if self.label == "horizon" and horizon != self.horizon_days:
            # Every training customer had the same horizon: another one is extrapolation.
            raise ConfigError(
                f"this model was trained on the segment {self.horizon_days} days after the "
                f"window and cannot answer for {horizon} days. Fix: leave the horizon unset "
                f"or retrain with --horizon {horizon}"
            )
        return horizon

    def features(
        self, kept: ir.Table, *, horizon_days: int | None = None, as_of: Any = None
    ) -> pd.DataFrame:
        """Early features and model features of every customer in ``kept``.

        Returns
        -------
        pandas.DataFrame
            Indexed by customer id: the window columns and the model features.
        """
        horizon = self._horizon(horizon_days)
        early = early_features(kept, self.window, as_of=as_of, categories=self.categories)
        self._check_contents(early)
        self._check_new(early)
        return self._model_input(early, horizon)

    def _check_new(self, early: pd.DataFrame) -> None:
        """Warn when customers first bought before the training lines ended.

        The model is for customers acquired after it was trained: one acquired before may
        be a customer it learned from (the training file given again, say), whose segment
        it then answers from memory rather than from the early window alone.
        """
        trained_to = self.metadata.get("as_of")
        if early.empty or not trained_to:
            return
        before = early["first_purchase"].dt.normalize() < pd.Timestamp(trained_to)
        if before.any():
            warnings.warn(
                f"{int(before.sum()):,} of {len(early):,} customers first bought before "
                f"{trained_to}, when the lines the model was trained on end: they may be "
                "customers it learned from, whose segments then look surer than a new "
                f"customer's would. Fix: assign the customers acquired from {trained_to} on",
                SegwiseWarning, stacklevel=3)

    def _check_contents(self, early: pd.DataFrame) -> None:
        """Warn when the lines lack what the training lines had (product ids, ...).

        The features those columns feed then hold one value the model never saw for
        every customer (0 products, say), and the segments lean on it.
        """
        trained = self.metadata.get("line_contents") or {}
        if early.empty or not trained:
            return
        lacking = [what for what, seen in _line_contents(early).items()
                   if trained.get(what) and not seen]
        if lacking:
            what = ", no ".join(lacking[:-1]) + (" and no " if len(lacking) > 1 else "")
            columns = ", ".join(_LINE_CONTENTS[w][0] for w in lacking)
            warnings.warn(
                f"the new order lines have no {what}{lacking[-1]}, which the training "
                f"lines had: {columns} take one value for every customer, unlike the "
                "training customers, so the segments are less reliable. Fix: give the "
                f"columns the training file had (map them in {columns_key()})", SegwiseWarning,
                stacklevel=3)

    def _model_input(self, early: pd.DataFrame, horizon: int) -> pd.DataFrame:
        early = early.set_index("customer_id", drop=False)
        label_date = early["window_end"].dt.normalize() + pd.Timedelta(days=horizon)
        X = model_features(early, label_date, self.scorer, self.segment_map)
        return pd.concat([early[["window_end", "window_complete"]], X], axis=1)

    def assign(
        self,
        kept: ir.Table,
        *,
        horizon_days: int | None = None,
        as_of: Any = None,
        incomplete: str = "skip",
        columns: Mapping[str, str] | None = None,
        read: ReadOptions | None = None,
    ) -> pd.DataFrame:
        """Assign every customer of a transaction table to a segment.

        Parameters
        ----------
        kept : ibis.Table, CleanedLines, str, Path or table in memory
            Kept order lines of the new customers (``CleanedLines.kept``), or their raw
            order lines as a file or a pandas or polars DataFrame, Arrow or Ibis table,
            loaded and cleaned with the default settings first.
        horizon_days : int, optional
            Days after the window's end the segment is asked for; the model's default
            when omitted.
        as_of : datetime, optional
            End of observation, to tell whether day windows have closed.
        incomplete : {"skip", "score"}, default="skip"
            Customers whose window is not complete (fewer orders than the window, or
            days not yet elapsed) are left unassigned (``"skip"``) or scored anyway.
        columns : mapping of role to column name, optional
            Raw lines' columns by role, for names segwise does not recognise
            (``{"customer_id": "cust"}``, as ``[columns]`` in a config).
        read : ReadOptions, optional
            How a file of raw lines is read (``ReadOptions(decimal=",")``, as ``[read]``).

        Returns
        -------
        pandas.DataFrame
            ``customer_id``, ``segment``, ``probability`` (of that segment), one
            ``p_<segment>`` column per segment, ``orders_used``, ``window_complete``.
            Customers with more orders than the window use the first ones only.
        """
        if incomplete not in ("skip", "score"):
            raise ConfigError(f"incomplete must be 'skip' or 'score', got {incomplete!r}")
        feats = self.features(_kept_lines(kept, columns, read), horizon_days=horizon_days,
                              as_of=as_of)
        return self._assign(feats, incomplete)

    def assign_early(self, early: pd.DataFrame, *, horizon_days: int | None = None,
                     incomplete: str = "skip",
                     predict_proba: Callable[[pd.DataFrame], np.ndarray] | None = None,
                     ) -> pd.DataFrame:
        """Assign customers whose early features are computed already.

        Parameters
        ----------
        early : pandas.DataFrame
            :func:`~segwise.predict.early_features` of this model's window (with its
            category shares if the model uses them).
        horizon_days, incomplete
            As :meth:`assign`.
        predict_proba : callable, optional
            Computes the estimator's ``predict_proba`` (the same numbers); the
            estimator's own when omitted. Serving passes
            :func:`~segwise.predict._fast.fast_predict_proba`.

        Returns
        -------
        pandas.DataFrame
            As :meth:`assign`.
        """
        if incomplete not in ("skip", "score"):
            raise ConfigError(f"incomplete must be 'skip' or 'score', got {incomplete!r}")
        return self._assign(self._model_input(early, self._horizon(horizon_days)), incomplete,
                            predict_proba)

    def _assign(self, feats: pd.DataFrame, incomplete: str,
                predict_proba: Callable[[pd.DataFrame], np.ndarray] | None = None,
                ) -> pd.DataFrame:
        columns = [f"p_{c}" for c in self.estimator.classes_]
        if feats.empty:  # no customer with a purchase: nothing to assign
            return pd.DataFrame(columns=["customer_id", "segment", "probability", *columns,
                                         "orders_used", "window_complete"])
        # The estimator checks the schema and names any missing or extra column.
        X = feats.drop(columns=["window_end", "window_complete"])
        out = pd.DataFrame(self._assignment(
            feats.index.astype(str).to_numpy(), (predict_proba or self.estimator.predict_proba)(X),
            feats["n_orders"].to_numpy(), feats["window_complete"].to_numpy()))
        if incomplete == "skip":
            cols = ["segment", "probability", *columns]
            out[cols] = out[cols].astype(object).where(out["window_complete"], None)
            out["probability"] = out["probability"].astype("float64")
            out[columns] = out[columns].astype("float64")
        return out

    def assign_columns(self, early: dict[str, np.ndarray],
                       predict_proba: Callable[[Any], np.ndarray] | None = None,
                       ) -> dict[str, np.ndarray]:
        """:meth:`assign_early` with ``incomplete="score"`` on column arrays: serving's path.

        The same numbers as :meth:`assign_early` without a pandas frame per step, for
        a server's few customers at a time (``tests/predict/test_score.py`` compares them).

        Parameters
        ----------
        early : dict of str to ndarray
            :func:`~segwise.predict._features.early_feature_columns` of this model's
            window (models without category shares only).
        predict_proba : callable, optional
            As :meth:`assign_early`; it is given a dict of column arrays.

        Returns
        -------
        dict of str to ndarray
            The columns of :meth:`assign`, one row per customer of ``early``.
        """
        horizon = np.full(len(early["customer_id"]), self._horizon(None), dtype="int64")
        X = {**{c: early[c] for c in FEATURE_COLUMNS},
             **rule_feature_columns(early["n_orders"], early["net_spend"], horizon,
                                    self.scorer, self.segment_map)}
        if not len(horizon):
            proba = np.zeros((0, len(self.estimator.classes_)))
        else:
            proba = (predict_proba or (lambda x: self.estimator.predict_proba(pd.DataFrame(x))))(X)
        return self._assignment(early["customer_id"].astype(str), proba, early["n_orders"],
                                early["window_complete"])

    def _assignment(self, ids: np.ndarray, proba: np.ndarray, n_orders: np.ndarray,
                    complete: np.ndarray) -> dict[str, np.ndarray]:
        """Return the columns of :meth:`assign` from the probabilities (all scored)."""
        proba = np.asarray(proba)
        best = proba.argmax(axis=1)
        return {"customer_id": np.asarray(ids, dtype=object),
                "segment": self.estimator.classes_[best],
                "probability": proba.max(axis=1),
                **{f"p_{c}": proba[:, i] for i, c in enumerate(self.estimator.classes_)},
                "orders_used": np.asarray(n_orders).astype("int64"),
                "window_complete": np.asarray(complete, dtype=bool)}

    def save(self, path: str | Path) -> Path:
        """Save with skops and the metadata; see :mod:`segwise.predict._persist`."""
        meta = {
            **self.metadata,
            "window": self.window.to_dict(),
            "horizon_days": self.horizon_days,
            "feature_schema": dict(self.estimator.feature_schema_),
            "segments": [str(c) for c in self.estimator.classes_],
        }
        return save_model_file({"estimator": self.estimator, "scorer": self.scorer}, meta, path)

    @classmethod
    def load(cls, path: str | Path) -> TrainedAssigner:
        """Load a model saved by :meth:`save`, refusing altered or mismatched files."""
        objects, meta = load_model_file(path)
        est, scorer = objects.get("estimator"), objects.get("scorer")
        if not isinstance(est, SegmentAssigner) or not isinstance(scorer, RFMScorer):
            raise InputError(f"{path}: not a segwise assigner file (unexpected content). Fix: "
                             "train one with `segwise assigner train`")
        if meta.get("feature_schema") != dict(est.feature_schema_):
            raise InputError(
                f"{path}: the metadata's feature schema does not match the stored model. "
                "Fix: use the original file or retrain"
            )
        if meta.get("segments") != [str(c) for c in est.classes_]:
            raise InputError(f"{path}: the metadata's segments do not match the stored model")
        window = EarlyWindow(**meta["window"])
        return cls(est, scorer, window, int(meta["horizon_days"]), meta)


def _kept_lines(source: Any, columns: Mapping[str, str] | None = None,
                read: ReadOptions | None = None) -> ir.Table:
    """Kept order lines: as given, from cleaned lines, or loaded and cleaned from raw ones.

    ``columns`` and ``read`` say how raw ones are read; given with lines already loaded,
    they are refused.
    """
    loaded = isinstance(source, CleanedLines) or (
        isinstance(source, ibis.expr.types.Table) and "customer_id" in source.columns
        and "ts" in source.columns)
    if loaded:
        refuse_read_options(source, columns, read)
        return source if isinstance(source, ibis.expr.types.Table) else source.kept
    return clean_transactions(load_transactions(source, columns=columns, read=read)).kept


def train_assigner(
    result: RFMResult,
    *,
    window: EarlyWindow | None = None,
    labels: pd.Series | None = None,
    label: str | None = None,
    label_name: str = "rfm",
    cutoff: Any = None,
    n_test: int = 300,
    min_history_days: int = 90,
    min_class_size: int = 10,
    candidates: dict[str, SegmentAssigner] | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    refit: bool = True,
    product_categories: bool = False,
    validate: bool = False,
    n_jobs: int | None = 1,
    progress: Any = None,
) -> tuple[TrainedAssigner, AssignerReport, AssignerData]:
    """Evaluate on new customers, then fit the chosen assigner on every eligible customer.

    Parameters
    ----------
    result : RFMResult
        Output of :func:`segwise.jobs.run_rfm`.
    window : EarlyWindow, optional
        The early window; the first 3 orders when omitted.
    labels : pandas.Series, optional
        Segment per customer id (e.g. :func:`cluster_labels`), taken as given at the
        reference date; the RFM segment when omitted.
    label : {"horizon", "full_history"}, optional
        Which RFM segment is the label when ``labels`` is omitted: the segment
        ``horizon_days`` after the window closed (default), or the full-history segment.
        See :func:`~segwise.predict.build_dataset`.
    label_name : str, default="rfm"
        What the labels are, for the metadata.
    cutoff : date-like, optional
        Acquisition cut-off; chosen so that about ``n_test`` customers are new when omitted.
    n_test : int, default=300
        Wanted number of test customers.
    min_history_days : int, default=90
        Days of history after the first purchase a customer needs to be used
        (full-history and custom labels; horizon labels need ``horizon_days`` after the
        window instead).
    min_class_size : int, default=10
        Segments with fewer training customers are merged into ``Other``.
    candidates : dict of str to SegmentAssigner, optional
        Chosen model first; :func:`default_candidates` when omitted.
    horizon_days : int, default=90
        Days after the window closed the segment is for: the label date of horizon
        labels, and the horizon stored with the model for :meth:`TrainedAssigner.assign`.
    refit : bool, default=True
        Refit the chosen model on all eligible customers (train and test) for use;
        otherwise keep the one fitted on the training customers.
    product_categories : bool, default=False
        Learn product categories from the descriptions
        (:func:`segwise.features.products.product_categories`) and add each customer's
        window spend share per category as features.
    validate : bool, default=False
        Also score the candidates on rolling time folds of the training customers
        (:func:`~segwise.predict.validate_assigner`, ``report.validation``): how the
        default model was chosen, without looking at the new customers.
    n_jobs : int or None, default=1
        Processes fitting the candidates of the evaluation and validation (``-1``: one per
        core); see :func:`~segwise.predict.fit_candidates`. The models do not depend on it.
    progress : callable, optional
        Called with the name of each step.

    Returns
    -------
    model : TrainedAssigner
        Ready to assign and save.
    report : AssignerReport
        The held-out evaluation.
    data : AssignerData
        The training table.
    """
    from sklearn.base import clone

    from segwise import __version__

    check_jobs(n_jobs)
    say = progress or (lambda step: None)
    say("features")
    categories = None
    if product_categories:
        from segwise.features.products import product_categories as learn_categories

        categories = learn_categories(result.cleaned.kept)[["product_id", "category_id"]]
    data = build_dataset(result, window, labels=labels, label=label,
                         horizon_days=horizon_days, min_history_days=min_history_days,
                         categories=categories)
    split = time_split(data.acquired, cutoff=cutoff, n_test=n_test)
    candidates = candidates or default_candidates()
    validation = None
    if validate:
        say("validate")
        validation = validate_assigner(data, split.train, candidates,
                                       min_class_size=min_class_size, n_jobs=n_jobs)
    say("evaluate")
    report = evaluate_assigner(data, split, candidates, min_class_size=min_class_size,
                               n_jobs=n_jobs)
    if validation is not None:
        report.validation = validation
    # The saved model knows exactly the segments that were evaluated: those merged into
    # Other there (too rare before the cut-off) stay merged, even when refitting on all.
    merged = report.merged
    if refit:
        say("fit")
        y = data.y.where(~data.y.isin(merged), OTHER)
        est = fit_candidate(clone(next(iter(candidates.values()))), data.X, y.to_numpy(),
                            data.cells)
    else:  # the model evaluated: fitted on the training customers, on the same classes
        est = cast(SegmentAssigner, report.estimator)
    sm = result.config.segments
    meta = {
        "segwise_version": __version__,
        "labels": label_name,
        "label_target": data.label,
        "merged_into_other": merged,
        "other_label": OTHER,
        "min_history_days": min_history_days,
        "as_of": data.as_of.date().isoformat(),
        "training": {
            "source": str(getattr(result.cleaned, "source", "")) or None,
            "customers": len(data.X),
            "fitted_on": "all eligible customers" if refit else "training customers",
            "fingerprint_sha256": _fingerprint(data),
        },
        "line_contents": _line_contents(data.X),
        "estimator_params": dict(est.get_params()),
        "product_categories": None if categories is None else {
            str(p): int(c) for p, c in zip(categories["product_id"], categories["category_id"],
                                           strict=True)
        },
        "metrics": report.to_dict(),
        "segment_map": {
            "patterns": {k: list(v) for k, v in sm.patterns.items()},
            "actions": dict(sm.actions),
        },
    }
    return TrainedAssigner(est, result.scorer, data.window, horizon_days, meta), report, data
