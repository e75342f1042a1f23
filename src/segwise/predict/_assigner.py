"""The :class:`SegmentAssigner` classifier, the training set, the time split and the evaluation.

How the pieces fit:

1. :func:`build_dataset` turns an RFM run into one row per *eligible* customer: the
   early-behaviour features of their window (:mod:`segwise.predict._features`), the
   *horizon* (days from the window's end to the label date) with the rule-based RFM scores
   of the window as of the label date, and the label. By default the label is the RFM
   segment ``H`` days after the window closed (:mod:`segwise.predict._labels`), so the
   label date is window end + ``H`` for everyone and only customers observed that long
   are used; the full-history segment (label date: the reference date) is an option.
2. :func:`time_split` splits by acquisition date: customers acquired before the cut-off
   train, those acquired on or after it are the "new customers" the model is tested on.
3. :func:`evaluate_assigner` fits each candidate on the training customers and reports
   accuracy, macro-F1, per-segment precision and recall, the confusion matrix and
   permutation importance on the test customers, next to a majority-class baseline and the
   rules-only baseline (the RFM rules applied to the window alone as of the label date:
   "the segment if nothing more happens").

The horizon carries only dates, never orders after the window. With horizon labels it is
the same constant in training and when assigning; with full-history labels it varies in
training and is a question the user asks when assigning.
"""

from __future__ import annotations

import numbers
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from segwise._parallel import run_calls
from segwise.exceptions import ConfigError, InputError, SegwiseWarning
from segwise.predict._features import (
    FEATURE_COLUMNS,
    EarlyWindow,
    early_features,
)
from segwise.predict._labels import DEFAULT_HORIZON_DAYS, horizon_labels
from segwise.segment.rfm import RFMScorer, SegmentMap, fm_score, name_cells, score_columns

if TYPE_CHECKING:
    from segwise.jobs import RFMResult

__all__ = [
    "CLASS_WEIGHTS",
    "LABELS",
    "MODELS",
    "OTHER",
    "RULE_FEATURES",
    "VOTE_MEMBERS",
    "AssignerData",
    "AssignerReport",
    "SegmentAssigner",
    "TimeSplit",
    "build_dataset",
    "evaluate_assigner",
    "fit_candidate",
    "fit_candidates",
    "macro_f1_gap",
    "model_features",
    "permutation_importance",
    "rolling_folds",
    "rule_feature_columns",
    "score_cells",
    "time_split",
    "validate_assigner",
]

#: Classifiers a :class:`SegmentAssigner` can wrap: ``"vote"`` averages the last three,
#: ``"grid"`` is the vote fitted on the RFM score cells of the segments.
MODELS: tuple[str, ...] = ("grid", "vote", "hgb", "random_forest", "logistic")
#: The single models a ``"vote"`` (and the ``"grid"``) averages, in order.
VOTE_MEMBERS: tuple[str, ...] = ("hgb", "random_forest", "logistic")
#: Class weighting schemes by name (a dict of class -> weight is accepted too).
CLASS_WEIGHTS: tuple[str, ...] = ("sqrt_balanced", "balanced")
#: Features that come from the RFM rules applied to the window as of the label date.
RULE_FEATURES: tuple[str, ...] = ("horizon_days", "r_score", "f_score", "m_score", "rules_segment")
#: Label given to segments too rare in the training customers to learn.
OTHER = "Other"
#: Which RFM segment is the label: at a fixed horizon after the window, or at the reference date.
LABELS: tuple[str, ...] = ("horizon", "full_history")


def _is_categorical(s: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype)


def _kind(s: pd.Series) -> str:
    return "categorical" if _is_categorical(s) else "numeric"


class SegmentAssigner(ClassifierMixin, BaseEstimator):
    """Predict a customer's segment from early-behaviour features, with calibrated probabilities.

    Non-numeric columns of a DataFrame (``country``, ``rules_segment``) are categorical:
    native categories for gradient boosting, one-hot columns for the other models, and a
    value never seen in training is treated as missing (boosting) or as no category.

    Parameters
    ----------
    model : {"grid", "vote", "hgb", "random_forest", "logistic"}, default="grid"
        Histogram gradient boosting, a random forest, a multinomial logistic regression
        on ``asinh``-compressed, standardised features, ``"vote"``: the mean of the
        three models' probabilities (soft voting), or ``"grid"``: the vote fitted on
        the *cells* given to :meth:`fit` (for RFM segments, the ``"<R><FM>"`` score
        cell the segment map names), a segment's probability being the sum of its
        cells' (the segment is a function of the cell, so nothing is assumed about how
        R and FM depend on each other). The grid is the default: on rolling time folds
        of the training customers it scored the best macro-F1 (docs/assign.md). Without
        cells every class is its own cell and the grid is the vote.
    class_weight : {"sqrt_balanced", "balanced"}, dict or None, default="sqrt_balanced"
        Weight of each class in the loss (for ``"grid"``, each cell gets its class's
        weight). ``"balanced"`` weights a class inversely to its
        frequency (``n / (k * n_c)``), ``"sqrt_balanced"`` by the square root of that: rare
        segments still count more, a segment of 15 among 1,000 customers about 4.5 times
        a frequent one instead of 20 times (better macro-F1 than either full balancing
        or no weights on the training customers' validation folds, docs/assign.md). A
        dict maps class labels to weights. With ``smote`` the classes are balanced by
        resampling first, and ``"sqrt_balanced"`` acts like ``"balanced"`` (weights
        of the resampled, balanced classes: all equal).
    smote : bool, default=False
        Oversample rare segments with SMOTE (SMOTENC when there are categorical columns)
        from imbalanced-learn, inside the pipeline so only training folds are resampled.
        Not with ``"grid"`` (it would resample cells, some with a single customer).
    calibration : {"isotonic", "sigmoid"} or None, default=None
        Calibrate probabilities with :class:`~sklearn.calibration.CalibratedClassifierCV`.
        Off by default: calibration maps the class-balanced probabilities back to the
        segments' frequencies, so the most probable segment drifts to the frequent ones
        and rare segments are missed (lower macro-F1 on a validation split of the
        training customers, see docs/assign.md). Turn it on when probabilities matter
        more than the predicted segment.
    cv : int, default=3
        Folds for calibration (fewer when a segment has fewer members).
    max_iter : int, default=100
        Boosting iterations (``hgb``, and the vote's boosting).
    learning_rate : float, default=0.03
        Boosting learning rate (``hgb``, and the vote's boosting).
    n_estimators : int, default=300
        Trees (``random_forest``, and the vote's forest).
    n_threads : int or None, default=1
        OpenMP threads for fitting and predicting (gradient boosting); None leaves the
        library's default (all cores). One by default: per-customer tables are small
        (thousands of rows), where threads save little, and on a busy machine threads
        waiting on each other slowed one boosting fit from 4 s to 20-100 s (2 shared
        cores).
    random_state : int, default=0
        Seed of every random step.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Segment names, sorted.
    feature_names_in_ : ndarray of shape (n_features,)
        Feature names seen in ``fit`` (``x0, x1, ...`` for arrays).
    n_features_in_ : int
        Number of features.
    feature_schema_ : dict of str to str
        Column -> ``"numeric"`` or ``"categorical"``: what :meth:`predict` checks.
    estimator_ : estimator
        The fitted pipeline (a soft :class:`~sklearn.ensemble.VotingClassifier` of three
        pipelines for ``"vote"``; that vote fitted on cells and summed into classes for
        ``"grid"``; calibrated when ``calibration`` is set).
    cells_ : ndarray of shape (n_cells,)
        ``"grid"`` only: the cells seen in ``fit`` (the classes when no cells were given).
    cell_classes_ : ndarray of shape (n_cells,)
        ``"grid"`` only: the class each cell belongs to.
    n_iter_ : int
        Iterations of the fitted model: boosting rounds (``hgb``), solver iterations
        (``logistic``) or trees (``random_forest``); the largest over calibration folds
        (and over the vote's members).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.r_[np.zeros((20, 2)), np.ones((20, 2))]
    >>> y = np.array(["a"] * 20 + ["b"] * 20)
    >>> SegmentAssigner(max_iter=10).fit(X, y).predict([[0, 0], [1, 1]]).tolist()
    ['a', 'b']
    """

    classes_: np.ndarray
    cells_: np.ndarray
    cell_classes_: np.ndarray
    feature_names_in_: np.ndarray
    feature_schema_: dict[str, str]
    estimator_: Any
    n_features_in_: int
    n_iter_: int

    def __init__(
        self,
        model: Literal["grid", "vote", "hgb", "random_forest", "logistic"] = "grid",
        *,
        class_weight: Literal["sqrt_balanced", "balanced"] | dict[Any, float] | None = (
            "sqrt_balanced"
        ),
        smote: bool = False,
        calibration: Literal["isotonic", "sigmoid"] | None = None,
        cv: int = 3,
        max_iter: int = 100,
        learning_rate: float = 0.03,
        n_estimators: int = 300,
        n_threads: int | None = 1,
        random_state: int = 0,
    ) -> None:
        self.model = model
        self.class_weight = class_weight
        self.smote = smote
        self.calibration = calibration
        self.cv = cv
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.n_estimators = n_estimators
        self.n_threads = n_threads
        self.random_state = random_state

    def _threads(self) -> Any:
        """Context limiting OpenMP threads to ``n_threads`` (nothing when None)."""
        from segwise._threads import thread_limit

        if self.n_threads is None:
            return nullcontext()
        return thread_limit(int(self.n_threads), "openmp")

    # -- input handling ------------------------------------------------------------------

    def _as_frame(self, X: Any, *, fitting: bool) -> pd.DataFrame:
        finite: Any = "allow-nan" if self.__sklearn_tags__().input_tags.allow_nan else True
        if isinstance(X, pd.DataFrame):
            df = X.copy()
            df.columns = [str(c) for c in df.columns]
            num = [c for c in df.columns if not _is_categorical(df[c])]
            if num:
                df[num] = check_array(
                    df[num].to_numpy(dtype="float64"), ensure_all_finite=finite,
                    ensure_min_samples=1 if not fitting else 2,
                )
            return df
        arr = check_array(X, dtype="float64", ensure_all_finite=finite,
                          ensure_min_samples=2 if fitting else 1)
        names = (
            list(self.feature_names_in_)
            if not fitting and hasattr(self, "feature_names_in_")
            else [f"x{i}" for i in range(arr.shape[1])]
        )
        if arr.shape[1] != len(names):
            raise ValueError(
                f"X has {arr.shape[1]} features, but SegmentAssigner is expecting "
                f"{len(names)} features as input"
            )
        return pd.DataFrame(arr, columns=names)

    def _check_schema(self, kinds: dict[str, str]) -> None:
        """Refuse data whose columns or kinds differ from the training schema, naming them.

        ``kinds`` is column -> ``"numeric"`` or ``"categorical"``, in the data's order.
        """
        expected = self.feature_schema_
        missing = [c for c in expected if c not in kinds]
        extra = [c for c in kinds if c not in expected]
        wrong = [f"{c} ({kinds[c]}, expected {expected[c]})"
                 for c in expected if c in kinds and kinds[c] != expected[c]]
        problems = []
        if missing:
            problems.append("missing column(s) " + ", ".join(missing))
        if extra:
            problems.append("unexpected column(s) " + ", ".join(extra))
        if wrong:
            problems.append("wrong kind: " + ", ".join(wrong))
        if problems:
            raise InputError(
                "features do not match the schema the assigner was trained on: "
                + "; ".join(problems)
                + ". Fix: compute them with the same segwise version and window"
            )

    # -- model ---------------------------------------------------------------------------

    def _weights(self, classes: np.ndarray, counts: np.ndarray) -> Any:
        """Class weights as the classifiers take them: None, a name, or a dict by class code.

        The classifiers are fitted on class codes (the index in ``classes``), so a dict is
        keyed by code whatever the labels are.
        """
        cw = self.class_weight
        if cw is None:
            return None
        if isinstance(cw, str):
            if cw not in CLASS_WEIGHTS:
                raise ConfigError(f"class_weight must be one of {', '.join(CLASS_WEIGHTS)}, "
                                  f"a dict or None, got {cw!r}")
            if cw == "balanced" or self.smote:  # after SMOTE the classes are balanced
                return "balanced"
            values = np.sqrt(counts.sum() / (len(classes) * counts))
            return {i: float(v) for i, v in enumerate(values)}
        if not isinstance(cw, dict):
            raise ConfigError(f"class_weight must be one of {', '.join(CLASS_WEIGHTS)}, a dict "
                              f"or None, got {cw!r}")
        return {i: float(cw.get(c, 1.0)) for i, c in enumerate(classes.tolist())}

    def _pipeline(self, cat: list[str], num: list[str], min_count: int, weights: Any) -> Any:
        from sklearn.ensemble import VotingClassifier

        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if self.model not in ("vote", "grid"):
            return self._member(self.model, cat, num, min_count, weights)
        return VotingClassifier(
            [(m, self._member(m, cat, num, min_count, weights)) for m in VOTE_MEMBERS],
            voting="soft",
        )

    def _member(self, model: str, cat: list[str], num: list[str], min_count: int,
                cw: Any) -> Any:
        """One model's pipeline: encode, optionally oversample, classify."""
        from imblearn.over_sampling import SMOTE, SMOTENC
        from imblearn.pipeline import Pipeline
        from sklearn.compose import ColumnTransformer
        from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import (
            FunctionTransformer,
            OneHotEncoder,
            OrdinalEncoder,
            StandardScaler,
        )

        if model == "hgb":
            encode: Any = OrdinalEncoder(
                handle_unknown="use_encoded_value", unknown_value=np.nan,
                encoded_missing_value=np.nan, max_categories=50,
            )
            clf: Any = HistGradientBoostingClassifier(
                max_iter=self.max_iter, learning_rate=self.learning_rate, class_weight=cw,
                categorical_features=[True] * len(cat) + [False] * len(num),
                random_state=self.random_state,
            )
            numeric: Any = "passthrough"
        else:
            encode = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5,
                                   sparse_output=False)
            if model == "random_forest":
                clf = RandomForestClassifier(
                    n_estimators=self.n_estimators, min_samples_leaf=3, class_weight=cw,
                    random_state=self.random_state,
                )
                numeric = "passthrough"
            else:
                clf = LogisticRegression(class_weight=cw, max_iter=2000)
                numeric = Pipeline([("asinh", FunctionTransformer(np.arcsinh)),
                                    ("scale", StandardScaler())])
        prep = ColumnTransformer(
            [("cat", encode, cat), ("num", numeric, num)],
            remainder="drop", verbose_feature_names_out=False,
        )
        steps: list[tuple[str, Any]] = [("prep", prep)]
        if self.smote:
            k = max(1, min(5, min_count - 1))
            if cat and num and model == "hgb":
                sampler: Any = SMOTENC(categorical_features=list(range(len(cat))),
                                       k_neighbors=k, random_state=self.random_state)
            else:
                sampler = SMOTE(k_neighbors=k, random_state=self.random_state)
            steps.append(("smote", sampler))
        steps.append(("clf", clf))
        return Pipeline(steps)

    def fit(self, X: Any, y: Any, *, cells: Any = None) -> SegmentAssigner:
        """Fit on early-behaviour features and segment labels.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)
            Features; non-numeric DataFrame columns are categorical.
        y : array-like of shape (n_samples,)
            Segment labels.
        cells : array-like of shape (n_samples,), optional
            ``"grid"`` only: finer labels nested in ``y`` (each cell belongs to a single
            class), for RFM segments the ``"<R><FM>"`` score cell (``AssignerData.cells``).
            Every class is its own cell when omitted.

        Returns
        -------
        SegmentAssigner
            The fitted assigner.

        Raises
        ------
        ConfigError
            If ``cells`` are given to a model other than ``"grid"``, or the grid is asked
            for SMOTE.
        ValueError
            If a cell holds more than one class.
        """
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.model_selection import StratifiedKFold

        if y is None:
            raise ValueError("SegmentAssigner requires y to be passed, but the target y is None")
        df = self._as_frame(X, fitting=True)
        y = column_or_1d(y, warn=True)  # a (n, 1) column is raveled with a warning
        if len(y) != len(df):
            raise ValueError(f"y must be 1-d with {len(df)} labels, got shape {y.shape}")
        check_classification_targets(y)
        if self.calibration not in ("isotonic", "sigmoid", None):
            raise ConfigError(f"calibration must be 'isotonic', 'sigmoid' or None, "
                              f"got {self.calibration!r}")
        if not isinstance(self.cv, numbers.Integral) or self.cv < 2:
            raise ConfigError(f"cv must be an integer of at least 2, got {self.cv!r}")
        grid = self.model == "grid"
        if cells is not None and not grid:
            raise ConfigError(f"cells are for the grid model only, not {self.model!r}")
        if grid and self.smote:
            raise ConfigError("the grid model does not take SMOTE: it would oversample score "
                              "cells, some with a single customer. Fix: no SMOTE, or "
                              "model='vote'")
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2:
            raise ValueError("SegmentAssigner needs at least 2 classes in y")
        if grid:
            fine = y if cells is None else column_or_1d(cells)
            if len(fine) != len(y):
                raise ValueError(f"cells must have one entry per sample ({len(y)}), "
                                 f"got {len(fine)}")
            cell_names, cell_classes = _nest(fine, y)  # refuses cells of two classes
        cat = [c for c in df.columns if _is_categorical(df[c])]
        num = [c for c in df.columns if c not in cat]
        if cat:
            df[cat] = df[cat].astype("object").where(df[cat].notna(), None)
        folds = min(int(self.cv), int(counts.min()))
        calibrate = self.calibration is not None and folds >= 2
        # SMOTE's neighbours must exist within every calibration training fold.
        smallest = int(counts.min()) * (folds - 1) // folds if calibrate else int(counts.min())
        if self.smote and calibrate and smallest < 2:
            warnings.warn("a segment is too small for SMOTE within calibration folds: "
                          "probabilities are not calibrated", SegwiseWarning, stacklevel=2)
            calibrate, smallest = False, int(counts.min())
        weights = self._weights(classes, counts)
        if grid:
            if isinstance(weights, str):  # "balanced", over the classes, not the cells
                weights = {i: float(v) for i, v in enumerate(counts.sum() / (len(classes)
                                                                             * counts))}
            pipe = _CellClassifier(self._pipeline(cat, num, smallest, None), weights)
        else:
            pipe = self._pipeline(cat, num, smallest, weights)
        if calibrate:
            # Folds are stratified by class; the grid's cells follow as a fit parameter.
            cv = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
            est: Any = CalibratedClassifierCV(pipe, method=self.calibration, cv=cv)
        else:
            if self.calibration is not None and folds < 2:
                warnings.warn("a segment has a single member: probabilities are not "
                              "calibrated", SegwiseWarning, stacklevel=2)
            est = pipe
        # Fit on class codes: class-weight dicts then mean the same for every model.
        codes = np.searchsorted(classes, y)
        with self._threads():
            est.fit(df, codes, **({} if cells is None else {"cells": fine}))
        self.estimator_ = est
        self.n_iter_ = _n_iter(est)
        self.classes_ = classes
        self.feature_names_in_ = np.asarray(df.columns, dtype=object)
        self.n_features_in_ = len(df.columns)
        self.feature_schema_ = {c: "categorical" if c in cat else "numeric" for c in df.columns}
        if grid:
            self.cells_, self.cell_classes_ = cell_names, cell_classes
        return self

    def _prepare(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "estimator_")
        df = self._as_frame(X, fitting=False)
        self._check_schema({c: _kind(df[c]) for c in df.columns})
        df = df[list(self.feature_names_in_)]
        cat = [c for c, kind in self.feature_schema_.items() if kind == "categorical"]
        if cat:
            df[cat] = df[cat].astype("object").where(df[cat].notna(), None)
        return df

    def _prepare_columns(self, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """:meth:`_prepare` for column arrays (no frame): the same checks, the same values.

        Returns the columns in training order: numeric ones float64, categorical ones
        objects with None for missing.
        """
        check_is_fitted(self, "estimator_")
        kinds = {c: "numeric" if v.dtype.kind in "biuf" else "categorical"
                 for c, v in columns.items()}
        self._check_schema(kinds)
        names = list(self.feature_names_in_)
        num = [c for c in names if kinds[c] == "numeric"]
        finite: Any = "allow-nan" if self.__sklearn_tags__().input_tags.allow_nan else True
        values = check_array(np.column_stack([columns[c] for c in num]), dtype="float64",
                             ensure_all_finite=finite)
        out = {c: values[:, i] for i, c in enumerate(num)}
        for c in names:
            if kinds[c] == "categorical":
                col = np.array(columns[c], dtype=object)
                col[pd.isna(col)] = None
                out[c] = col
        return {c: out[c] for c in names}

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each segment.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)
            Features with the training schema.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Rows sum to 1; columns follow :attr:`classes_`.

        Raises
        ------
        InputError
            If columns are missing or extra, or a column's kind changed.
        """
        df = self._prepare(X)
        with self._threads():
            return np.asarray(self.estimator_.predict_proba(df))

    def predict(self, X: Any) -> np.ndarray:
        """Most probable segment.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)
            Features with the training schema.

        Returns
        -------
        ndarray of shape (n_samples,)
            Segment names.
        """
        proba = self.predict_proba(X)  # checks fitted before classes_ is read
        return self.classes_[np.argmax(proba, axis=1)]

    def member(self, model: str) -> SegmentAssigner:
        """One fitted model of a fitted vote, as a single-model assigner.

        The vote fits its three models independently on the same data, so this is what
        fitting ``SegmentAssigner(model)`` with the vote's other parameters gives, without
        fitting it again (the default comparison holds the vote and each of its models).

        Parameters
        ----------
        model : {"hgb", "random_forest", "logistic"}
            The member.

        Returns
        -------
        SegmentAssigner
            Fitted, with ``model`` set.

        Raises
        ------
        ConfigError
            If this assigner is not an uncalibrated vote or ``model`` is not a member.
        """
        check_is_fitted(self, "estimator_")
        if self.model != "vote" or self.calibration is not None or model not in VOTE_MEMBERS:
            raise ConfigError(f"only the models of an uncalibrated vote ({', '.join(VOTE_MEMBERS)})"
                              f" can be taken from it, not {model!r} from {self.model!r}")
        single = clone(self).set_params(model=model)
        single.estimator_ = self.estimator_.named_estimators_[model]
        single.n_iter_ = _n_iter(single.estimator_)
        single.classes_ = self.classes_
        single.feature_names_in_ = self.feature_names_in_
        single.n_features_in_ = self.n_features_in_
        single.feature_schema_ = dict(self.feature_schema_)
        return single

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # Trees take missing values as they are; SMOTE and the logistic model do not.
        tags.input_tags.allow_nan = self.model in ("hgb", "random_forest") and not self.smote
        return tags


def _nest(cells: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the sorted distinct cells and the class of each; refuse a cell of two classes."""
    pairs = pd.DataFrame({"cell": cells, "cls": y}).drop_duplicates().sort_values("cell")
    split = pairs.loc[pairs["cell"].duplicated(), "cell"]
    if len(split):
        raise ValueError(f"cells must be nested in the classes: cell {split.iloc[0]!r} holds "
                         "more than one class")
    return pairs["cell"].to_numpy(), pairs["cls"].to_numpy()


class _CellClassifier(ClassifierMixin, BaseEstimator):
    """Fit a classifier on cells nested in the classes; a class's probability is its cells'.

    The grid model of :class:`SegmentAssigner`: an RFM segment is a function of the
    ``"<R><FM>"`` score cell, so the cell is learned and its probability summed into the
    segment's. Fitted on the classes when no cells are given (each class its own cell).

    Parameters
    ----------
    estimator : classifier
        Fitted on cell codes ``0 .. n_cells - 1``.
    class_weight : dict of class to float, optional
        Weight of each class, given to every cell of the class through each
        ``class_weight`` parameter of ``estimator``.
    """

    def __init__(self, estimator: Any, class_weight: dict[Any, float] | None = None) -> None:
        self.estimator = estimator
        self.class_weight = class_weight

    def fit(self, X: Any, y: Any, cells: Any = None) -> _CellClassifier:
        """Fit on the cells (``y`` when omitted) and record the class of each."""
        y = np.asarray(y)
        fine = y if cells is None else np.asarray(cells)
        self.classes_ = np.unique(y)
        self.cells_, owner = _nest(fine, y)
        self.owner_ = np.searchsorted(self.classes_, owner)
        est = clone(self.estimator)
        if self.class_weight is not None:
            # Codes are local to this fit: calibration folds may lack some cells.
            cw = {i: float(self.class_weight.get(c, 1.0)) for i, c in enumerate(owner)}
            est.set_params(**{k: cw for k in est.get_params(deep=True)
                              if k == "class_weight" or k.endswith("__class_weight")})
        self.estimator_ = est.fit(X, np.searchsorted(self.cells_, fine))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Sum the cells' probabilities into their classes."""
        check_is_fitted(self, "estimator_")
        return np.asarray(self.estimator_.predict_proba(X)) @ np.eye(len(self.classes_))[
            self.owner_]

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _n_iter(est: Any) -> int:
    """Count the iterations of a fitted (possibly calibrated) pipeline's classifier."""
    pipes = ([c.estimator for c in est.calibrated_classifiers_]
             if hasattr(est, "calibrated_classifiers_") else [est])
    pipes = [p.estimator_ if isinstance(p, _CellClassifier) else p for p in pipes]
    pipes = [m for p in pipes for m in getattr(p, "estimators_", [p])]  # the vote's members
    counts = []
    for pipe in pipes:
        clf = pipe[-1]
        n = getattr(clf, "n_iter_", None)
        counts.append(int(np.max(n)) if n is not None else len(clf.estimators_))
    return max(counts)


# -- data ----------------------------------------------------------------------------------


def model_features(
    early: pd.DataFrame,
    label_date: pd.Series | pd.Timestamp,
    scorer: RFMScorer,
    segment_map: SegmentMap | None = None,
) -> pd.DataFrame:
    """Add the horizon and the rule-based view of the window as of the label date.

    Parameters
    ----------
    early : pandas.DataFrame
        Output of :func:`~segwise.predict.early_features`.
    label_date : Timestamp or Series aligned with ``early``
        Date the segment is asked for: the window's end plus the horizon (horizon labels,
        and always when assigning), or the RFM reference date (full-history labels).
    scorer : RFMScorer
        The scorer the labels were made with (same bin edges).
    segment_map : SegmentMap, optional
        The segment map of the labels.

    Returns
    -------
    pandas.DataFrame
        :data:`FEATURE_COLUMNS` then :data:`RULE_FEATURES`, index of ``early``.
    """
    horizon = (pd.to_datetime(label_date) - early["window_end"].dt.normalize()).dt.days
    extra = [c for c in early.columns if c.startswith("cat_")]  # optional category shares
    out = early[[*FEATURE_COLUMNS, *extra]].copy()
    rules = rule_feature_columns(early["n_orders"].to_numpy(), early["net_spend"].to_numpy(),
                                 horizon.to_numpy(), scorer, segment_map)
    for col, values in rules.items():
        out[col] = values
    return out


def rule_feature_columns(n_orders: np.ndarray, net_spend: np.ndarray, horizon: np.ndarray,
                         scorer: RFMScorer, segment_map: SegmentMap | None = None,
                         ) -> dict[str, np.ndarray]:
    """:data:`RULE_FEATURES` of the windows as column arrays (see :func:`model_features`).

    Parameters
    ----------
    n_orders, net_spend : ndarray
        The window's orders and net spend (its frequency and monetary value).
    horizon : ndarray
        Days from the window's end to the label date (its recency, at least 0).
    scorer : RFMScorer
        The scorer the labels were made with.
    segment_map : SegmentMap, optional
        The segment map of the labels.

    Returns
    -------
    dict of str to ndarray
        ``horizon_days``, the three scores (float64) and ``rules_segment`` (objects).
    """
    window_rfm = {"recency_days": np.clip(horizon, 0, None).astype("float64"),
                  "frequency": n_orders, "monetary": net_spend}
    check_is_fitted(scorer, "bin_edges_")
    scores = score_columns(window_rfm, scorer.bin_edges_, scorer.n_bins, scorer._columns())
    out = {"horizon_days": np.asarray(horizon, dtype="float64"),
           **{c: v.astype("float64") for c, v in scores.items()}}
    segments = name_cells(scores["r_score"], scores["f_score"], scores["m_score"], segment_map)
    return {**out, "rules_segment": segments["segment"].astype(object)}


@dataclass
class AssignerData:
    """Eligible customers with their window features and labels.

    Attributes
    ----------
    X : pandas.DataFrame
        Model features (:data:`FEATURE_COLUMNS` and :data:`RULE_FEATURES`), indexed by
        customer id.
    y : pandas.Series
        Labels, same index.
    acquired : pandas.Series
        First purchase per customer, same index.
    rules : pandas.Series
        The rules-only prediction per customer, or None when the labels are not RFM segments.
    window : EarlyWindow
        The window.
    as_of : pandas.Timestamp
        End of observation (the RFM reference date).
    n_customers : int
        Customers with at least one order, before the eligibility filter.
    min_history_days : int
        The maturity threshold used (full-history and custom labels only).
    label : {"horizon", "full_history", "custom"}
        What the labels are: the RFM segment ``horizon_days`` after the window closed, the
        full-history RFM segment, or labels given by the caller.
    horizon_days : int or None
        The fixed horizon of ``"horizon"`` labels; None otherwise.
    cells : pandas.Series or None
        RFM labels: each customer's ``"<R><FM>"`` score cell on the label date (the key
        the segment map names), which the ``"grid"`` model learns; None for custom
        labels (the grid is then the vote).
    """

    X: pd.DataFrame
    y: pd.Series
    acquired: pd.Series
    rules: pd.Series | None
    window: EarlyWindow
    as_of: pd.Timestamp
    n_customers: int
    min_history_days: int
    label: str = "full_history"
    horizon_days: int | None = None
    cells: pd.Series | None = None


def resolve_label(label: str | None, labels: pd.Series | None) -> str:
    """Check the label kind against custom labels; the default depends on them."""
    if labels is not None:
        if label not in (None, "full_history", "custom"):
            raise ConfigError(f"custom labels are taken as given; label={label!r} does not "
                              "apply to them. Fix: leave label unset")
        return "custom"
    label = label or "horizon"
    if label not in LABELS:
        raise ConfigError(f"label must be one of {', '.join(LABELS)}, got {label!r}")
    return label


def build_dataset(
    result: RFMResult,
    window: EarlyWindow | None = None,
    *,
    labels: pd.Series | None = None,
    label: str | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    min_history_days: int = 90,
    early: pd.DataFrame | None = None,
    categories: pd.DataFrame | None = None,
) -> AssignerData:
    """Window features and labels of the eligible customers of an RFM run.

    With ``label="horizon"`` (the default) the label is the RFM segment ``horizon_days``
    after the customer's window closed (:func:`~segwise.predict.horizon_labels`), and a
    customer is *eligible* when their window is complete and that date has been observed
    (window end + ``horizon_days`` on or before the reference date). Every customer is
    then asked the same question, and ``horizon_days`` is the same for all of them.

    With ``label="full_history"`` or custom ``labels``, the label is taken at the
    reference date and a customer is eligible when (a) their window is complete and (b)
    their first purchase is at least ``min_history_days`` before the reference date.

    Parameters
    ----------
    result : RFMResult
        Output of :func:`segwise.jobs.run_rfm` (customers, cleaned lines, scorer).
    window : EarlyWindow, optional
        The window; the first 3 orders when omitted.
    labels : pandas.Series, optional
        Label per customer id (any segmentation, e.g. learned clusters), taken as given.
    label : {"horizon", "full_history"}, optional
        Which RFM segment is the label when ``labels`` is omitted; ``"horizon"`` by
        default.
    horizon_days : int, default=90
        Days after the window closed that ``"horizon"`` labels are taken.
    min_history_days : int, default=90
        Observation needed after the first purchase (full-history and custom labels).
    early : pandas.DataFrame, optional
        Precomputed :func:`early_features` of ``result.cleaned.kept`` for this window.
    categories : pandas.DataFrame, optional
        Product categories (``product_id``, ``category_id``): adds the window's spend
        share per category as features.

    Returns
    -------
    AssignerData
        Features, labels, acquisition dates and the rules-only predictions.
    """
    window = window or EarlyWindow()
    kind = resolve_label(label, labels)
    as_of = pd.Timestamp(result.as_of)
    if early is None:
        early = early_features(result.cleaned.kept, window, as_of=as_of.to_pydatetime(),
                               categories=categories)
    early = early.set_index("customer_id", drop=False)
    if kind == "horizon":
        scores = horizon_labels(result.cleaned.kept, window, horizon_days, result.bin_edges,
                                result.config.segments)
        target = scores["segment"]
        label_date: pd.Series | pd.Timestamp = (
            early["window_end"].dt.normalize() + pd.Timedelta(days=horizon_days)
        )
        eligible = early["window_complete"] & (label_date <= as_of)
        why = f"and {horizon_days} days observed after it. Fix: use a shorter --horizon"
    else:
        scores = result.customers.set_index("customer_id")
        target = scores["segment"] if labels is None else labels
        label_date = as_of
        eligible = early["window_complete"] & (
            early["first_purchase"].dt.normalize() <= as_of - pd.Timedelta(days=min_history_days)
        )
        why = (f"and {min_history_days} days of history with a label. Fix: use a shorter "
               "window or a smaller --min-history")
    target = target.dropna()
    target.index = target.index.astype(str)
    ids = early.index[eligible].intersection(target.index)
    if len(ids) == 0:
        complete = int(early["window_complete"].sum())
        raise InputError(
            f"no eligible customer: {complete:,} of {len(early):,} customers have a complete "
            f"window ({window.describe()}), but none has {why.removeprefix('and ')}"
            if complete else f"no eligible customer: none of the {len(early):,} customers has "
            f"a complete window ({window.describe()}). Fix: use a shorter window (--orders, "
            "--days)"
        )
    e = early.loc[ids]
    dates = label_date.loc[ids] if isinstance(label_date, pd.Series) else label_date
    X = model_features(e, dates, result.scorer, result.config.segments)
    cells = None
    if kind != "custom":
        scores.index = scores.index.astype(str)
        cells = score_cells(scores.loc[ids])
    return AssignerData(
        X=X,
        y=target.loc[ids].astype(str),
        acquired=e["first_purchase"],
        rules=X["rules_segment"] if kind != "custom" else None,
        window=window,
        as_of=as_of,
        n_customers=len(early),
        min_history_days=min_history_days,
        label=kind,
        horizon_days=horizon_days if kind == "horizon" else None,
        cells=cells,
    )


def score_cells(scores: pd.DataFrame) -> pd.Series:
    """Each row's ``"<R><FM>"`` key: the R score and the FM score the segment map names.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``r_score``, ``f_score`` and ``m_score`` (1 to 5).

    Returns
    -------
    pandas.Series
        Two-digit keys (``"54"``), index of ``scores``.
    """
    fm = fm_score(scores["f_score"].to_numpy("int64"), scores["m_score"].to_numpy("int64"))
    key = 10 * scores["r_score"].to_numpy("int64") + fm  # both scores are single digits
    return pd.Series(key.astype(str), index=scores.index, name="cell", dtype=object)


def fit_candidate(est: SegmentAssigner, X: pd.DataFrame, y: np.ndarray,
                  cells: pd.Series | None) -> SegmentAssigner:
    """Fit ``est`` on ``X`` and ``y``; the grid model also gets the cells of ``X``'s rows."""
    if est.model == "grid" and cells is not None:
        return est.fit(X, y, cells=cells.loc[X.index].to_numpy())
    return est.fit(X, y)


def fit_candidates(candidates: dict[str, SegmentAssigner], X: pd.DataFrame, y: np.ndarray,
                   cells: pd.Series | None, *, n_jobs: int | None = 1,
                   ) -> dict[str, SegmentAssigner]:
    """Fit clones of every candidate on ``X`` and ``y``, each model once.

    A single model whose parameters are those of an uncalibrated vote listed before it is
    taken from the fitted vote (:meth:`SegmentAssigner.member`) rather than fitted again:
    same fitted model, one fit fewer (the default comparison saves three).

    The other candidates are fitted in ``n_jobs`` processes (``-1``: one per core), the
    calibrated ones first as they fit once per fold. Every fit is seeded, so the fitted
    models do not depend on ``n_jobs``; the warnings a fit raises are raised here.
    """
    source: dict[str, str | None] = {}
    for name, cand in candidates.items():
        same = {**cand.get_params(), "model": "vote"}
        source[name] = next((other for other in source if cand.model in VOTE_MEMBERS
                             and cand.calibration is None
                             and candidates[other].get_params() == same), None)
    todo = sorted((name for name, vote in source.items() if vote is None),
                  key=lambda name: candidates[name].calibration is None)
    fits = dict(zip(todo, run_calls([(fit_candidate, (clone(candidates[name]), X, y, cells))
                                     for name in todo], n_jobs), strict=True))
    return {name: fits[name] if vote is None else fits[vote].member(candidates[name].model)
            for name, vote in source.items()}


@dataclass(frozen=True)
class TimeSplit:
    """Customers acquired before ``cutoff`` train; those acquired on or after it test."""

    cutoff: pd.Timestamp
    train: pd.Index
    test: pd.Index


def time_split(
    acquired: pd.Series, *, cutoff: Any = None, n_test: int = 300, min_train: int = 50
) -> TimeSplit:
    """Split customers by acquisition date.

    Parameters
    ----------
    acquired : pandas.Series
        First purchase per customer id.
    cutoff : date-like, optional
        First day of the test period; when omitted, the day that puts about ``n_test``
        of the latest-acquired customers in the test set.
    n_test : int, default=300
        Wanted test size when ``cutoff`` is chosen automatically.
    min_train : int, default=50
        Fewest training customers accepted.

    Returns
    -------
    TimeSplit
        The cut-off and the customer ids on each side.

    Raises
    ------
    ConfigError
        If either side would be empty or the training side too small.
    """
    days = pd.to_datetime(acquired).dt.normalize()
    if cutoff is None:
        if not 0 < n_test < len(days):
            raise ConfigError(f"{n_test:,} new customers to test on, of the {len(days):,} "
                              "eligible: none would be left to train on. Fix: give a smaller "
                              "--test-size (or --cutoff), or more customers")
        cut = days.sort_values().iloc[len(days) - n_test]
    else:
        cut = pd.Timestamp(cutoff).normalize()
    test = days.index[days >= cut]
    train = days.index[days < cut]
    if len(test) == 0 or len(train) < min_train:
        raise ConfigError(
            f"cut-off {cut.date()} leaves {len(train)} training and {len(test)} test "
            f"customers (need at least {min_train} and 1). Fix: "
            + _cutoff_fix(days, min_train, chosen=cutoff is None)
        )
    return TimeSplit(cutoff=cut, train=train, test=test)


def _cutoff_fix(days: pd.Series, min_train: int, *, chosen: bool) -> str:
    """Say which cut-offs would split ``days``, or why none would."""
    per_day = days.value_counts().sort_index()
    before = per_day.cumsum().shift(fill_value=0)  # customers acquired before each day
    valid = before.index[before >= min_train]
    if valid.empty:
        return (
            f"no cut-off can: the {len(days):,} eligible customers were acquired on "
            f"{len(per_day):,} day(s), and at least {min_train} must come before it. Give "
            "order lines with more customers (a longer history), or make more of them "
            "eligible (fewer --orders, a shorter --horizon)"
        )
    first, last = valid[0].date(), valid[-1].date()
    span = f"--cutoff {first}" if first == last else f"a --cutoff from {first} to {last}"
    if chosen:
        most = len(days) - int(before[valid[0]])
        return f"{span}, or a --test-size of at most {most:,}"
    return span


def merge_rare(y: pd.Series, train: pd.Index, min_class_size: int) -> tuple[pd.Series, list[str]]:
    """Merge segments with fewer than ``min_class_size`` training customers into ``Other``."""
    counts = y.loc[train].value_counts()
    rare = sorted(str(s) for s in counts.index[counts < min_class_size])
    rare += sorted(set(y.unique()) - set(counts.index))  # seen only after the cut-off
    return y.where(~y.isin(rare), OTHER), sorted(set(rare))


def _rules_prediction(rules: pd.Series, ids: pd.Index, learned: set[str]) -> np.ndarray:
    """Return the rules-only segment of ``ids``, ``Other`` where the model cannot learn it."""
    r = rules.loc[ids]
    return r.where(r.isin(learned), OTHER).to_numpy()


def rolling_folds(
    acquired: pd.Series, *, n_folds: int = 3, fold_size: int = 100
) -> list[TimeSplit]:
    """Forward-chaining validation folds over customers ordered by acquisition date.

    The latest ``n_folds * fold_size`` customers are cut into ``n_folds`` consecutive
    blocks by acquisition day; fold ``j`` validates on block ``j`` and trains on every
    customer acquired before it, as the held-out split does. Pass the *training*
    customers' acquisition dates so that choices made on these folds never see the
    test customers.

    Parameters
    ----------
    acquired : pandas.Series
        First purchase per customer id.
    n_folds : int, default=3
        Number of folds.
    fold_size : int, default=100
        Customers per validation block (blocks end on day boundaries, so sizes vary a
        little).

    Returns
    -------
    list of TimeSplit
        One split per fold, oldest first: ``cutoff`` (first day of the block), ``train``
        (acquired before it) and ``test`` (the block).

    Raises
    ------
    ConfigError
        If there are too few customers for the folds and at least 50 training customers
        in the first fold.
    """
    days = pd.to_datetime(acquired).dt.normalize().sort_values(kind="stable")
    if n_folds < 1 or fold_size < 1 or len(days) < n_folds * fold_size + 50:
        raise ConfigError(
            f"{len(days)} customers are too few for {n_folds} validation folds of {fold_size} "
            "and 50 to train on. Fix: fewer or smaller folds"
        )
    starts = [days.iloc[len(days) - j * fold_size] for j in range(n_folds, 0, -1)]
    ends = [*starts[1:], days.iloc[-1] + pd.Timedelta(days=1)]
    return [
        TimeSplit(cutoff=a, train=days.index[days < a], test=days.index[(days >= a) & (days < b)])
        for a, b in zip(starts, ends, strict=True)
    ]


def validate_assigner(
    data: AssignerData,
    train: pd.Index,
    candidates: dict[str, SegmentAssigner],
    *,
    n_folds: int = 3,
    fold_size: int = 100,
    min_class_size: int = 10,
    n_jobs: int | None = 1,
) -> pd.DataFrame:
    """Score candidates on rolling time folds of the training customers only.

    This is how the defaults were chosen (docs/assign.md): each candidate is fitted on
    the customers acquired before each validation block (:func:`rolling_folds`) and
    scored on the block; segments are merged into ``Other`` per fold as in
    :func:`evaluate_assigner`. The test customers are never read.

    Parameters
    ----------
    data : AssignerData
        Output of :func:`build_dataset`.
    train : pandas.Index
        The training customers (``TimeSplit.train``).
    candidates : dict of str to SegmentAssigner
        Unfitted assigners by display name.
    n_folds, fold_size : int
        See :func:`rolling_folds`.
    min_class_size : int, default=10
        Segments with fewer fold-training customers are merged into ``Other``.
    n_jobs : int or None, default=1
        Processes fitting the candidates (``-1``: one per core); see
        :func:`fit_candidates`.

    Returns
    -------
    pandas.DataFrame
        One row per candidate and baseline (majority class; RFM rules on the window when
        the labels are RFM segments): macro-F1 per fold (``fold_1``, ...), their mean
        (``mean_macro_f1``), the macro-F1 of all validation customers pooled
        (``pooled_macro_f1``, steadier for small segments: the selection criterion) and
        the pooled ``accuracy``.
    """
    from sklearn.metrics import accuracy_score, f1_score

    folds = rolling_folds(data.acquired.loc[train], n_folds=n_folds, fold_size=fold_size)
    truth: list[np.ndarray] = []
    preds: dict[str, list[np.ndarray]] = {}
    per_fold: dict[str, list[float]] = {}
    for fold in folds:
        y, _ = merge_rare(data.y, fold.train, min_class_size)
        y_tr, y_va = y.loc[fold.train].to_numpy(), y.loc[fold.test].to_numpy()
        labels = np.unique(np.r_[y_tr, y_va])
        X_tr, X_va = data.X.loc[fold.train], data.X.loc[fold.test]
        fold_preds = {name: est.predict(X_va) for name, est in
                      fit_candidates(candidates, X_tr, y_tr, data.cells,
                                     n_jobs=n_jobs).items()}
        values, counts = np.unique(y_tr, return_counts=True)
        fold_preds["baseline: majority class"] = np.full(len(y_va), values[counts.argmax()])
        if data.rules is not None:
            fold_preds["baseline: RFM rules on the window"] = _rules_prediction(
                data.rules, fold.test, set(y_tr))
        truth.append(y_va)
        for name, pred in fold_preds.items():
            preds.setdefault(name, []).append(pred)
            per_fold.setdefault(name, []).append(float(
                f1_score(y_va, pred, labels=labels, average="macro", zero_division=0)))
    t = np.concatenate(truth)
    rows = {}
    for name, p in preds.items():
        pooled = np.concatenate(p)
        rows[name] = {
            **{f"fold_{i + 1}": v for i, v in enumerate(per_fold[name])},
            "mean_macro_f1": float(np.mean(per_fold[name])),
            "pooled_macro_f1": float(f1_score(t, pooled, labels=np.unique(t), average="macro",
                                              zero_division=0)),
            "accuracy": float(accuracy_score(t, pooled)),
        }
    return pd.DataFrame(rows).T.rename_axis("model")


# -- evaluation ----------------------------------------------------------------------------


@dataclass
class AssignerReport:
    """Held-out evaluation of one or more assigners against the baselines.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per model and baseline: ``accuracy``, ``macro_f1``, ``log_loss``
        (NaN for baselines without probabilities).
    per_segment : pandas.DataFrame
        Precision, recall, F1 and support per segment of the first (chosen) model.
    confusion : pandas.DataFrame
        Confusion matrix of the chosen model: true segment (rows) x predicted (columns).
    importance : pandas.DataFrame
        Permutation importance on the test customers (mean and sd drop in macro-F1).
    cutoff : pandas.Timestamp
        The acquisition cut-off.
    n_train, n_test : int
        Customers on each side.
    merged : list of str
        Segments merged into ``Other`` because too few training customers had them.
    chosen : str
        Name of the chosen model.
    gaps : pandas.DataFrame
        Per baseline: the chosen model's macro-F1 minus the baseline's (``gap``) and a
        95 % paired-bootstrap interval (``lower``, ``upper``) over the new customers, so
        that "above the baseline" can be told from test-set noise.
    validation : pandas.DataFrame
        :func:`validate_assigner` on the training customers, when it was asked for
        (empty otherwise).
    estimator : SegmentAssigner or None
        The chosen model as fitted on the training customers (the one evaluated); not
        part of :meth:`to_dict`.
    caveat : str or None
        Why the held-out scores are not meaningful (:func:`evaluation_caveat`: the new
        customers all share one segment, or a baseline is already perfect), in words;
        ``None`` when they are.
    """

    table: pd.DataFrame
    per_segment: pd.DataFrame
    confusion: pd.DataFrame
    importance: pd.DataFrame
    cutoff: pd.Timestamp
    n_train: int
    n_test: int
    merged: list[str] = field(default_factory=list)
    chosen: str = ""
    gaps: pd.DataFrame = field(default_factory=pd.DataFrame)
    validation: pd.DataFrame = field(default_factory=pd.DataFrame)
    estimator: SegmentAssigner | None = field(default=None, repr=False)
    caveat: str | None = None

    @property
    def meaningful(self) -> bool:
        """Whether the held-out scores can tell a model from a trivial guess."""
        return self.caveat is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (stored with a saved model)."""
        return {
            "cutoff": self.cutoff.date().isoformat(),
            "n_train": self.n_train,
            "n_test": self.n_test,
            "merged_into_other": self.merged,
            "chosen": self.chosen,
            "table": _records(self.table),
            "per_segment": _records(self.per_segment),
            "confusion": {str(k): {str(c): int(v) for c, v in row.items()}
                          for k, row in self.confusion.iterrows()},
            "importance": _records(self.importance),
            "gaps": _records(self.gaps),
            "validation": _records(self.validation),
            "caveat": self.caveat,
        }


def evaluation_caveat(y_test: np.ndarray, baselines: dict[str, np.ndarray]) -> str | None:
    """Say why a held-out evaluation cannot be read as a model's skill, if it cannot.

    Parameters
    ----------
    y_test : numpy.ndarray of shape (n_test,)
        True segments of the new customers.
    baselines : dict of str to numpy.ndarray
        Baseline predictions of the same customers, by name.

    Returns
    -------
    str or None
        When every new customer has the same segment, or a baseline predicts every one of
        them right, why accuracy and macro-F1 say nothing; ``None`` otherwise.
    """
    classes = np.unique(y_test)
    if len(classes) <= 1:
        only = f" ('{classes[0]}')" if len(classes) else ""
        return (f"every one of the {len(y_test):,} new customers is in the same segment"
                f"{only}, so any score only says whether a model guesses that one segment. "
                "Fix: test on more customers (--test-size) or an earlier --cutoff")
    for name, pred in baselines.items():
        if len(y_test) and bool(np.all(pred == y_test)):
            return (f"the {name.removeprefix('baseline: ')} baseline already puts every new "
                    "customer in the right segment: the segment follows from the window "
                    "itself, and a model has nothing left to learn or show")
    return None


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(k): (None if isinstance(v, float) and np.isnan(v) else
                  v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in df.reset_index().to_dict(orient="records")
    ]


def evaluate_assigner(
    data: AssignerData,
    split: TimeSplit,
    candidates: dict[str, SegmentAssigner],
    *,
    min_class_size: int = 10,
    n_repeats: int = 5,
    random_state: int = 0,
    n_jobs: int | None = 1,
) -> AssignerReport:
    """Fit each candidate on the training customers and score it on the new ones.

    Parameters
    ----------
    data : AssignerData
        Output of :func:`build_dataset`.
    split : TimeSplit
        Output of :func:`time_split` on ``data.acquired``.
    candidates : dict of str to SegmentAssigner
        Unfitted assigners by display name; the first is the chosen one, whose
        per-segment scores, confusion matrix and importance are reported.
    min_class_size : int, default=10
        Segments with fewer training customers are merged into ``Other``.
    n_repeats : int, default=5
        Permutations per feature.
    random_state : int, default=0
        Seed of the permutations.
    n_jobs : int or None, default=1
        Processes fitting the candidates (``-1``: one per core); see
        :func:`fit_candidates`.

    Returns
    -------
    AssignerReport
        The comparison table and the chosen model's details.
    """
    from sklearn.dummy import DummyClassifier
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        log_loss,
        precision_recall_fscore_support,
    )

    if not candidates:
        raise ConfigError("evaluate_assigner needs at least one candidate")
    y, merged = merge_rare(data.y, split.train, min_class_size)
    X_tr, X_te = data.X.loc[split.train], data.X.loc[split.test]
    y_tr, y_te = y.loc[split.train].to_numpy(), y.loc[split.test].to_numpy()
    if len(set(y_tr)) < 2:
        raise InputError(
            f"all {len(y_tr):,} training customers (acquired before "
            f"{split.cutoff.date()}) are in one segment, {y_tr[0]!r}"
            + (f" ({', '.join(merged)}: fewer than {min_class_size} training customers, "
               f"merged into {OTHER!r})" if merged else "")
            + ": there is nothing to tell apart. Fix: labels with two segments or more among "
            "the training customers, or more customers"
        )
    labels = np.unique(np.r_[y_tr, y_te])
    rows: dict[str, dict[str, float]] = {}

    def score(name: str, pred: np.ndarray, proba: np.ndarray | None = None,
              classes: np.ndarray | None = None) -> None:
        rows[name] = {
            "accuracy": float(accuracy_score(y_te, pred)),
            "macro_f1": float(f1_score(y_te, pred, labels=labels, average="macro",
                                       zero_division=0)),
            "log_loss": float(log_loss(y_te, proba, labels=classes))
            if proba is not None and set(y_te) <= set(classes if classes is not None else [])
            else float("nan"),
        }

    preds = {}
    fitted = fit_candidates(candidates, X_tr, y_tr, data.cells, n_jobs=n_jobs)
    for name, est in fitted.items():
        proba = est.predict_proba(X_te)
        preds[name] = est.classes_[np.argmax(proba, axis=1)]  # what predict returns
        score(name, preds[name], proba, est.classes_)
    dummy = DummyClassifier(strategy="most_frequent").fit(X_tr, y_tr)
    baselines = {"baseline: majority class": dummy.predict(X_te)}
    if data.rules is not None:
        baselines["baseline: RFM rules on the window"] = _rules_prediction(
            data.rules, split.test, set(y_tr))
    for name, base in baselines.items():
        score(name, base)
    table = pd.DataFrame(rows).T.rename_axis("model")

    chosen = next(iter(candidates))
    est, pred = fitted[chosen], preds[chosen]
    gaps = pd.DataFrame(
        {name: macro_f1_gap(y_te, pred, base, labels, random_state=random_state)
         for name, base in baselines.items()}
    ).T.rename_axis("baseline")
    p, r, f, s = precision_recall_fscore_support(y_te, pred, labels=labels, zero_division=0)
    per_segment = pd.DataFrame(
        {"precision": p, "recall": r, "f1": f, "support": s.astype("int64")},
        index=pd.Index(labels, name="segment"),
    )
    confusion = pd.DataFrame(
        confusion_matrix(y_te, pred, labels=labels),
        index=pd.Index(labels, name="true"), columns=pd.Index(labels, name="predicted"),
    )
    mean, sd = permutation_importance(est, X_te, y_te, n_repeats=n_repeats,
                                      random_state=random_state)
    importance = pd.DataFrame(
        {"importance_mean": mean, "importance_sd": sd},
        index=pd.Index(X_te.columns, name="feature"),
    ).sort_values("importance_mean", ascending=False)
    return AssignerReport(
        table=table, per_segment=per_segment, confusion=confusion, importance=importance,
        cutoff=split.cutoff, n_train=len(split.train), n_test=len(split.test),
        merged=merged, chosen=chosen, gaps=gaps, estimator=est,
        caveat=evaluation_caveat(y_te, baselines),
    )


def permutation_importance(
    est: SegmentAssigner, X: pd.DataFrame, y: np.ndarray, *, n_repeats: int = 5,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Drop in macro-F1 when each feature is permuted, predicted in one call.

    The figures of ``sklearn.inspection.permutation_importance(est, X, y,
    scoring="f1_macro")``, from the same permuted copies (one seed drawn from
    ``random_state``; per feature, a generator from that seed shuffles the row order
    ``n_repeats`` times in a row, each shuffle applied to the previous copy's column),
    but the copies are stacked and predicted at once rather than one ``predict`` each:
    the models predict row by row, so the predictions are the same, and the 136 calls of
    Online Retail (27 features x 5 repeats and the baseline) cost one.

    Parameters
    ----------
    est : SegmentAssigner
        Fitted.
    X : pandas.DataFrame
        Features of the scored customers.
    y : ndarray
        Their segments.
    n_repeats : int, default=5
        Permutations per feature.
    random_state : int, default=0
        Seed.

    Returns
    -------
    mean, sd : ndarray of shape (n_features,)
        Mean and standard deviation of the drop over the repeats.
    """
    from sklearn.metrics import f1_score
    from sklearn.utils import check_random_state

    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max + 1)
    copies = [X]
    for col in range(X.shape[1]):
        rng = check_random_state(seed)
        permuted = X.copy()
        order = np.arange(len(X))
        for _ in range(n_repeats):
            rng.shuffle(order)
            column = permuted.iloc[order, col]
            column.index = permuted.index
            permuted[permuted.columns[col]] = column
            copies.append(permuted.copy())
    pred = est.predict(pd.concat(copies, ignore_index=True)).reshape(len(copies), len(X))
    scores = np.array([f1_score(y, p, average="macro") for p in pred])
    drop = (scores[0] - scores[1:]).reshape(X.shape[1], n_repeats)
    return drop.mean(axis=1), drop.std(axis=1)


def macro_f1_gap(
    y_true: np.ndarray,
    pred: np.ndarray,
    baseline: np.ndarray,
    labels: np.ndarray,
    *,
    n_resamples: int = 2000,
    random_state: int = 0,
) -> dict[str, float]:
    """Macro-F1 of ``pred`` minus that of ``baseline``, with a paired-bootstrap interval.

    Both predictions are scored on the same resamples of the customers, so the interval
    is that of the difference, not of two separate scores.

    Parameters
    ----------
    y_true, pred, baseline : ndarray
        True segments and the two predictions, one entry per customer.
    labels : ndarray
        Segments the macro average runs over (absent ones count as F1 = 0).
    n_resamples : int, default=2000
        Bootstrap resamples.
    random_state : int, default=0
        Seed.

    Returns
    -------
    dict
        ``gap`` (on the customers as they are), ``lower`` and ``upper`` (2.5 and 97.5
        percentiles over the resamples).
    """
    codes = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    t = np.array([codes.get(v, -1) for v in y_true])
    rng = np.random.default_rng(random_state)
    idx = np.vstack([np.arange(len(t)), rng.integers(0, len(t), (n_resamples, len(t)))])

    def macro_f1(p_codes: np.ndarray) -> np.ndarray:
        # Per resample and segment: true positives, predicted and actual counts.
        tt, pp = t[idx], p_codes[idx]
        offset = (np.arange(len(idx)) * k)[:, None]
        size = len(idx) * k
        tp = np.bincount((tt + offset)[(tt == pp) & (tt >= 0)], minlength=size)
        n_pred = np.bincount((pp + offset)[pp >= 0], minlength=size)
        n_true = np.bincount((tt + offset)[tt >= 0], minlength=size)
        denom = (n_pred + n_true).reshape(-1, k)
        f1 = np.divide(2 * tp.reshape(-1, k), denom, out=np.zeros((len(idx), k)),
                       where=denom > 0)
        return f1.mean(axis=1)

    diff = macro_f1(np.array([codes.get(v, -1) for v in pred])) - macro_f1(
        np.array([codes.get(v, -1) for v in baseline])
    )
    lower, upper = np.percentile(diff[1:], [2.5, 97.5])
    return {"gap": float(diff[0]), "lower": float(lower), "upper": float(upper)}

