"""Who will convert: a response model on raw person-level rows, with its reasons in words.

:class:`PropensityModel` is one scikit-learn :class:`~imblearn.pipeline.Pipeline`:
:class:`~segwise.features.people.PeopleEncoder` (the dictionary-driven cleaning and
encoding), median imputation, the model's own preparation (standard scaling for the
logistic regression, quantile bins for naive Bayes), optionally SMOTE, and the classifier.
Fit learns every step from raw rows (text or numbers as read); a fitted or saved model
scores raw rows the same way. Rows are encoded in chunks into 32-bit floats, so a table of
a million people and hundreds of coded columns fits in memory.

:meth:`PropensityModel.contributions` splits each person's score (in log-odds; the random
forest's in probability) into a part per encoded feature: TreeSHAP values for the tree
models (XGBoost's own, shap's for the forest and HistGradientBoosting), and the exact
additive terms of the logistic regression and of naive Bayes, centred on the training
rows. :meth:`PropensityModel.reasons` sums them per attribute and names the strongest in
the dictionary's words.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d

from segwise.exceptions import ConfigError
from segwise.features.people import PeopleEncoder
from segwise.io import FeatureDictionary, canonical_code

__all__ = ["IMBALANCE", "MODELS", "PropensityModel", "model_name"]

#: Model families, in the order of simplicity the choice rule prefers (fewest moving
#: parts and lowest variance first).
MODELS: tuple[str, ...] = ("logistic", "naive_bayes", "hgb", "xgboost", "random_forest")
#: How the rare responders are handled, simplest first: not at all, class weights, SMOTE.
IMBALANCE: tuple[str, ...] = ("none", "weights", "smote")
#: Display names of the model families.
MODEL_NAMES = {"logistic": "logistic regression", "naive_bayes": "naive Bayes",
               "hgb": "HistGradientBoosting", "xgboost": "XGBoost",
               "random_forest": "random forest"}
_IMBALANCE_NAMES = {"none": "", "weights": " + class weights", "smote": " + SMOTE"}
#: Rows encoded at once (bounds the memory of wide tables).
CHUNK_ROWS = 50_000
#: Below this many rows every model runs on one thread (spinning OpenMP and BLAS threads
#: cost more than they save on small tables, worse on a shared machine).
SINGLE_THREAD_BELOW = 200_000
#: Largest bootstrap sample of each random-forest tree (bounds its fit on large tables).
FOREST_MAX_SAMPLES = 100_000


def model_name(model: str, imbalance: str) -> str:
    """Display name of a model family and imbalance handling: ``XGBoost + class weights``."""
    return MODEL_NAMES[model] + _IMBALANCE_NAMES[imbalance]


def _chunks(X: Any, size: int) -> Iterator[Any]:
    """Split a DataFrame, Arrow table or array into row chunks (at least one)."""
    n = X.num_rows if hasattr(X, "num_rows") else len(X)
    for start in range(0, max(n, 1), size):
        if hasattr(X, "num_rows"):
            yield X.slice(start, size)
        elif isinstance(X, pd.DataFrame):
            yield X.iloc[start:start + size]
        else:
            yield X[start:start + size]


def _n_rows(X: Any) -> int:
    return int(X.num_rows) if hasattr(X, "num_rows") else len(X)


def _as_rows(X: Any) -> Any:
    """Return an Arrow table or DataFrame as it is, anything else as an array."""
    if hasattr(X, "num_rows") or isinstance(X, pd.DataFrame):
        return X
    if hasattr(X, "tocsr") or hasattr(X, "toarray"):
        raise TypeError("PropensityModel does not take sparse input: sparse matrices are "
                        "not supported; pass a dense table")
    return np.asarray(X)


class PropensityModel(ClassifierMixin, BaseEstimator):
    """Rank people by their likelihood to respond, from raw rows and a feature dictionary.

    Parameters
    ----------
    model : {"logistic", "naive_bayes", "hgb", "xgboost", "random_forest"}, default="logistic"
        The classifier: an L2-regularised logistic regression on standardised features;
        naive Bayes on each feature cut into quantile bins (categorical likelihoods);
        scikit-learn's HistGradientBoosting; XGBoost; a random forest.
    imbalance : {"none", "weights", "smote"}, default="none"
        Responders are rare. ``"weights"`` weights each class inversely to its frequency
        in the loss (XGBoost: ``scale_pos_weight``; naive Bayes: sample weights);
        ``"smote"`` oversamples responders with SMOTE inside the pipeline, so only the
        rows a model is fitted on are ever resampled. Both make probabilities higher than
        the response rate (see the calibration chart); the ranking is what they change.
    dictionary : FeatureDictionary or None, default=None
        The attributes; inferred from the rows at fit when None.
    exclude : sequence of str, default=()
        Attributes never used (shell patterns match several).
    unknown_columns : {"error", "ignore"}, default="error"
        A column fit did not see, at predict time (see :class:`PeopleEncoder`).
    missing_columns : {"error", "missing"}, default="error"
        A used column absent at predict time.
    unseen_codes : {"missing", "error"}, default="missing"
        A code the dictionary does not declare.
    C : float, default=0.01
        Inverse regularisation strength of the logistic regression: strong, because coded
        demographics are many, correlated and individually weak (on the CoIL training
        folds the top-20 % capture was 0.506 at 0.01, 0.491 at 0.1, 0.483 at 1).
    n_estimators : int, default=300
        Trees (random forest, XGBoost) or boosting iterations (HistGradientBoosting).
    learning_rate : float, default=0.05
        Boosting learning rate.
    n_bins : int, default=5
        Quantile bins per feature for naive Bayes.
    chunk_rows : int, default=50000
        Rows encoded at once.
    n_threads : int or None, default=None
        Threads of the models; None: one below 200,000 rows, every core above.
    random_state : int, default=0
        Seed of every random step.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels, sorted; the second is the response the score is for.
    pipeline_ : imblearn.pipeline.Pipeline
        ``encode`` (:class:`PeopleEncoder`), ``impute``, then ``scale`` (logistic) or
        ``bin`` (naive Bayes), ``smote`` when asked, and ``model``.
    encoder_ : PeopleEncoder
        The pipeline's first step.
    feature_names_ : list of str
        The encoded features the classifier sees (the encoder's outputs).
    offsets_ : ndarray of shape (n_features,)
        Mean additive term of each feature on the training rows (logistic regression and
        naive Bayes), subtracted so a contribution is relative to the average person.
    response_rate_ : float
        Share of responders in the training rows.
    n_features_in_ : int
        Columns seen at fit.
    feature_names_in_ : ndarray of str
        Their names, when fit was given a table.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"age": [20, 30, 40, 50, 60, 70] * 5,
    ...                   "region": ["N", "S"] * 15})
    >>> y = [0, 0, 0, 1, 1, 1] * 5
    >>> model = PropensityModel().fit(X, y)
    >>> bool(model.predict_proba(X.head(6))[:, 1].argmax() >= 3)
    True
    """

    classes_: np.ndarray
    pipeline_: Any
    feature_names_: list[str]
    offsets_: np.ndarray
    response_rate_: float
    n_features_in_: int
    feature_names_in_: np.ndarray

    def __init__(
        self,
        model: Literal["logistic", "naive_bayes", "hgb", "xgboost", "random_forest"] = (
            "logistic"),
        *,
        imbalance: Literal["none", "weights", "smote"] = "none",
        dictionary: FeatureDictionary | None = None,
        exclude: Sequence[str] = (),
        unknown_columns: str = "error",
        missing_columns: str = "error",
        unseen_codes: str = "missing",
        C: float = 0.01,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        n_bins: int = 5,
        chunk_rows: int = CHUNK_ROWS,
        n_threads: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.model = model
        self.imbalance = imbalance
        self.dictionary = dictionary
        self.exclude = exclude
        self.unknown_columns = unknown_columns
        self.missing_columns = missing_columns
        self.unseen_codes = unseen_codes
        self.C = C
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.n_bins = n_bins
        self.chunk_rows = chunk_rows
        self.n_threads = n_threads
        self.random_state = random_state

    # -- building ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """Display name: ``XGBoost + class weights``."""
        return model_name(self.model, self.imbalance)

    def _check_params(self) -> None:
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}; choose one of "
                              f"{', '.join(MODELS)}")
        if self.imbalance not in IMBALANCE:
            raise ConfigError(f"imbalance must be one of {', '.join(IMBALANCE)}, got "
                              f"{self.imbalance!r}")
        if not (isinstance(self.chunk_rows, int) and self.chunk_rows >= 1):
            raise ConfigError(f"chunk_rows must be a positive integer, got {self.chunk_rows!r}")

    def _threads(self, n_rows: int) -> int:
        if self.n_threads is not None:
            return int(self.n_threads)
        return 1 if n_rows < SINGLE_THREAD_BELOW else (os.cpu_count() or 1)

    def _classifier(self, n_pos: int, n_neg: int, n_rows: int, threads: int) -> Any:
        weights = self.imbalance == "weights"
        seed = self.random_state
        if self.model == "logistic":
            from sklearn.linear_model import LogisticRegression

            return LogisticRegression(C=self.C, max_iter=1000,
                                      class_weight="balanced" if weights else None)
        if self.model == "naive_bayes":
            from sklearn.naive_bayes import CategoricalNB

            return CategoricalNB(min_categories=self.n_bins)
        if self.model == "hgb":
            from sklearn.ensemble import HistGradientBoostingClassifier

            return HistGradientBoostingClassifier(
                max_iter=self.n_estimators, learning_rate=self.learning_rate,
                max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0,
                early_stopping=False, class_weight="balanced" if weights else None,
                random_state=seed)
        if self.model == "xgboost":
            from xgboost import XGBClassifier

            return XGBClassifier(
                n_estimators=self.n_estimators, learning_rate=self.learning_rate,
                max_depth=4, min_child_weight=5, subsample=0.8, colsample_bytree=0.8,
                tree_method="hist", n_jobs=threads, random_state=seed,
                scale_pos_weight=n_neg / max(n_pos, 1) if weights else 1.0)
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=self.n_estimators, min_samples_leaf=10, max_depth=12,
            max_samples=min(1.0, FOREST_MAX_SAMPLES / max(n_rows, 1)), n_jobs=threads,
            class_weight="balanced_subsample" if weights else None, random_state=seed)

    def _pipeline(self, n_pos: int, n_neg: int, n_rows: int) -> Any:
        from imblearn.over_sampling import SMOTE
        from imblearn.pipeline import Pipeline
        from sklearn.impute import SimpleImputer
        from sklearn.neighbors import NearestNeighbors
        from sklearn.preprocessing import KBinsDiscretizer, StandardScaler

        encoder = PeopleEncoder(
            self.dictionary, exclude=tuple(self.exclude), unknown_columns=self.unknown_columns,
            missing_columns=self.missing_columns, unseen_codes=self.unseen_codes)
        steps: list[tuple[str, Any]] = [
            ("encode", encoder),
            # In place: the encoded chunk is the model's own copy (memory of wide tables).
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True,
                                     copy=False)),
        ]
        if self.model == "logistic":
            steps.append(("scale", StandardScaler(copy=False)))
        elif self.model == "naive_bayes":
            steps.append(("bin", KBinsDiscretizer(self.n_bins, encode="ordinal",
                                                  strategy="quantile", subsample=200_000,
                                                  random_state=self.random_state)))
        if self.imbalance == "smote":
            # Neighbours among the rarer class's rows (SMOTE oversamples whichever it is).
            k = max(1, min(5, min(n_pos, n_neg) - 1))
            # Brute-force neighbours whatever the number of features: on a few (under
            # about 16) scikit-learn builds a KD-tree, a type the model file refuses.
            neighbours = NearestNeighbors(n_neighbors=k + 1, algorithm="brute")
            steps.append(("smote", SMOTE(k_neighbors=neighbours,
                                         random_state=self.random_state)))
        threads = self._threads(n_rows)
        steps.append(("model", self._classifier(n_pos, n_neg, n_rows, threads)))
        return Pipeline(steps)

    # -- fitting -------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> PropensityModel:
        """Fit every step on raw rows and their responses.

        Parameters
        ----------
        X : pandas.DataFrame, pyarrow.Table or array-like of shape (n_samples, n_columns)
            Raw rows (text or numbers, as read).
        y : array-like of shape (n_samples,)
            Two labels (the larger, after sorting, is the response: 1, ``True``, ``"yes"``).

        Returns
        -------
        PropensityModel
            The fitted model.

        Raises
        ------
        ValueError
            If ``y`` does not hold exactly two labels, or has the wrong length.
        """
        self._check_params()
        X = _as_rows(X)
        n = _n_rows(X)
        if n == 0:
            raise ValueError("Found array with 0 sample(s) while a minimum of 2 is required.")
        if y is None:
            raise ValueError("PropensityModel requires y to be passed, but the target y "
                             "is None")
        y = column_or_1d(y, warn=True)
        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind not in ("binary", "unknown") or len(np.unique(y)) > 2:
            raise ValueError(f"Only binary classification is supported. The type of the "
                             f"target is {kind}.")
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError("PropensityModel needs responders and non-responders: y has "
                             f"one class ({classes[0]!r})")
        if len(y) != n:
            raise ValueError(f"y has {len(y)} labels for {n} rows")
        n_pos = int(codes.sum())
        pipeline = self._pipeline(n_pos, n - n_pos, n)
        encoder = pipeline.named_steps["encode"]
        from segwise.segment._cluster import limit_threads

        with limit_threads(n):
            encoder.fit(X)
            self.pipeline_ = pipeline
            Z = self._encode(X)[0]
            params: dict[str, Any] = {}
            if self.model == "naive_bayes" and self.imbalance == "weights":
                params["model__sample_weight"] = np.where(codes == 1, (n - n_pos) / n_pos, 1.0)
            with warnings.catch_warnings():
                # Quantile bins of a column with few values merge, and a constant column
                # gets one bin (naive Bayes): expected, nothing to report.
                warnings.filterwarnings("ignore", message=".*[Bb]ins whose width are too "
                                        "small.*")
                warnings.filterwarnings("ignore", message=".*is constant and will be "
                                        "replaced with 0.*")
                _fit_median_imputer(pipeline.named_steps["impute"], Z)
                _in_row_blocks(partial(_impute, pipeline.named_steps["impute"]), Z)
                if self.model == "logistic":
                    _fit_scaler(pipeline.named_steps["scale"], Z)
                    _in_row_blocks(pipeline.named_steps["scale"].transform, Z)
                pipeline[3 if self.model == "logistic" else 2:].fit(Z, codes, **params)
        self.classes_ = classes
        self.n_features_in_ = encoder.n_features_in_
        if hasattr(encoder, "feature_names_in_"):
            self.feature_names_in_ = encoder.feature_names_in_
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.feature_names_ = [str(f) for f in encoder.get_feature_names_out()]
        self.response_rate_ = n_pos / n
        self.offsets_ = self._offsets()
        return self

    def _offsets(self) -> np.ndarray:
        """Mean additive term of each feature over the rows the classifier was fitted on.

        Standardised features average 0, so the logistic regression's terms do too; naive
        Bayes averages its log-likelihood ratios over each feature's bin counts.
        """
        clf = self.pipeline_.named_steps["model"]
        if self.model != "naive_bayes":
            return np.zeros(len(self.feature_names_))
        out = np.empty(len(clf.feature_log_prob_))
        for j, (logp, counts) in enumerate(zip(clf.feature_log_prob_, clf.category_count_,
                                               strict=True)):
            share = counts.sum(axis=0) / max(counts.sum(), 1e-12)
            out[j] = float(share @ (logp[1] - logp[0]))
        return out

    # -- encoding and scoring ------------------------------------------------------------

    @property
    def encoder_(self) -> PeopleEncoder:
        """The fitted :class:`PeopleEncoder` (the pipeline's first step)."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.named_steps["encode"]

    def _encode_chunk(self, X: Any) -> tuple[np.ndarray, pd.DataFrame]:
        """Encode rows into 32-bit floats; the encoder's counts for them."""
        block, _, counts = self.encoder_._encode(X, dtype=np.float32)
        return block, pd.DataFrame(counts)

    def _encode(self, X: Any) -> tuple[np.ndarray, list[pd.DataFrame]]:
        """Encode in chunks into one 32-bit matrix; the per-chunk audits of the encoder."""
        out = np.empty((_n_rows(X), len(self.encoder_.outputs_)), dtype=np.float32)
        audits, start = [], 0
        for chunk in _chunks(X, self.chunk_rows):
            block, audit = self._encode_chunk(chunk)
            out[start:start + len(block)] = block
            start += len(block)
            audits.append(audit)
        return out, audits

    def _model_proba(self, P: np.ndarray) -> np.ndarray:
        """Response probability of prepared rows (:meth:`_prepared`).

        The logistic regression's sum runs in 64 bits: in 32, BLAS adds a row's terms in
        an order that depends on where the row sits, so a person's score moved (by 6e-8)
        with the order of the rows around them.
        """
        clf = self.pipeline_.named_steps["model"]
        if self.model == "logistic":
            P = P.astype(np.float64, copy=False)
        return np.asarray(clf.predict_proba(P), dtype=np.float64)[:, 1]

    def score_table(self, X: Any, *, reasons: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Score raw rows chunk by chunk, with reasons, and audit what encoding could not use.

        Parameters
        ----------
        X : pandas.DataFrame, pyarrow.Table or array-like
            Raw rows with the columns of fit.
        reasons : int, default=0
            Reasons per person (:meth:`reasons`); none when 0.

        Returns
        -------
        scores : pandas.DataFrame
            ``score`` (the response probability) and, with ``reasons``, ``reason_<i>`` and
            ``effect_<i>`` columns, in the order of ``X``.
        audit : pandas.DataFrame
            Per column, what encoding treated as missing or could not use
            (:meth:`PeopleEncoder.audit`), summed over the table.
        """
        from segwise.features.people import _sum_audits
        from segwise.segment._cluster import limit_threads

        check_is_fitted(self, "pipeline_")
        X = _as_rows(X)
        n = _n_rows(X)
        scores, frames, audits = [], [], []
        with limit_threads(n):
            for chunk in _chunks(X, self.chunk_rows):
                Z, audit = self._encode_chunk(chunk)
                audits.append(audit)
                P = self._prepared(Z)  # in place: Z is this chunk's own
                scores.append(self._model_proba(P))
                if reasons:
                    frames.append(self._reasons(chunk, P, reasons))
        audit_frame = _sum_audits(audits, n)
        self.encoder_._warn_unseen(audit_frame.to_dict("records"), "transform")
        out = pd.DataFrame({"score": np.concatenate(scores)})
        if reasons:
            out = pd.concat([out, pd.concat(frames, ignore_index=True)], axis=1)
        return out, audit_frame

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each label.

        Parameters
        ----------
        X : pandas.DataFrame, pyarrow.Table or array-like
            Raw rows with the columns of fit.

        Returns
        -------
        ndarray of shape (n_samples, 2)
            Columns follow :attr:`classes_`; the second is the response's.
        """
        p = self.score_table(X)[0]["score"].to_numpy()
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """Most probable label (the response above a probability of 0.5)."""
        proba = self.predict_proba(X)
        return self.classes_[(proba[:, 1] > 0.5).astype(int)]

    # -- explaining ----------------------------------------------------------------------

    def _prepared(self, Z: np.ndarray) -> np.ndarray:
        """Pass encoded rows through the steps before the classifier (imputation in place).

        SMOTE only resamples when fitting; it is skipped here.
        """
        out = Z
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Bb]ins whose width.*")
            for name, step in self.pipeline_.steps[1:-1]:
                if name == "impute":
                    out = _impute(step, out)
                elif name != "smote":
                    out = step.transform(out)
        return np.asarray(out)

    def _additive_terms(self, P: np.ndarray) -> np.ndarray:
        """Each feature's term of the log-odds (logistic regression, naive Bayes)."""
        clf = self.pipeline_.named_steps["model"]
        if self.model == "logistic":
            terms = P.astype(np.float64)
            terms *= clf.coef_[0]  # in place: a table of a million rows' terms is large
            return terms
        bins = P.astype(np.int64)
        terms = np.empty(P.shape, dtype=np.float64)
        for j, logp in enumerate(clf.feature_log_prob_):
            ratio = logp[1] - logp[0]
            terms[:, j] = ratio[np.clip(bins[:, j], 0, len(ratio) - 1)]
        return terms

    def _contributions(self, P: np.ndarray) -> np.ndarray:
        """Contributions of prepared rows (:meth:`_prepared`)."""
        if self.model in ("logistic", "naive_bayes"):
            terms = self._additive_terms(P)
            terms -= self.offsets_
            return terms
        clf = self.pipeline_.named_steps["model"]
        if self.model == "xgboost":
            import xgboost as xgb

            values = clf.get_booster().predict(xgb.DMatrix(P), pred_contribs=True)
            return np.asarray(values[:, :-1], dtype=np.float64)
        import shap

        values = np.asarray(shap.TreeExplainer(clf).shap_values(P, check_additivity=False),
                            dtype=np.float64)
        return values[..., 1] if values.ndim == 3 else values

    def contributions(self, X: Any) -> pd.DataFrame:
        """Each encoded feature's part of each person's score, relative to the average person.

        Log-odds for every model but the random forest (its TreeSHAP values are in
        probability). Positive parts raise the score.

        Parameters
        ----------
        X : pandas.DataFrame, pyarrow.Table or array-like
            Raw rows with the columns of fit.

        Returns
        -------
        pandas.DataFrame
            One column per encoded feature (:attr:`feature_names_`), one row per row.
        """
        check_is_fitted(self, "pipeline_")
        parts = [self._contributions(self._prepared(self._encode_chunk(chunk)[0]))
                 for chunk in _chunks(X, self.chunk_rows)]
        return pd.DataFrame(np.vstack(parts), columns=self.feature_names_)

    def reasons(self, X: Any, *, top: int = 3) -> pd.DataFrame:
        """Name the attributes that raise each person's score most, in the dictionary's words.

        A categorical attribute's one-hot columns and a mixed attribute's parts are summed
        into one contribution per attribute; the person's value is named by the
        dictionary's label for its code.

        Parameters
        ----------
        X : pandas.DataFrame, pyarrow.Table or array-like
            Raw rows with the columns of fit.
        top : int, default=3
            Reasons per person.

        Returns
        -------
        pandas.DataFrame
            ``reason_1``, ``effect_1``, ... ``reason_<top>``, ``effect_<top>``: the
            attribute and the person's value (``"Contribution car policies: 1000 - 4999"``;
            empty when fewer attributes raise the score) and its contribution, in the units
            of :meth:`contributions`.
        """
        return self.score_table(X, reasons=top)[0].drop(columns="score")

    def _reasons(self, X: Any, P: np.ndarray, top: int) -> pd.DataFrame:
        """Reasons of the rows of one chunk (``X`` raw, ``P`` prepared)."""
        encoder = self.encoder_
        attrs = list(dict.fromkeys(o["attribute"] for o in encoder.outputs_))
        index = {a: i for i, a in enumerate(attrs)}
        owner = np.array([index[o["attribute"]] for o in encoder.outputs_])
        n = len(P)
        per_attr = _sum_by_owner(self._contributions(P), owner)
        k = min(top, len(attrs))
        best = np.argpartition(-per_attr, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(best, np.argsort(
            -np.take_along_axis(per_attr, best, axis=1), axis=1, kind="stable"), axis=1)
        effects = np.take_along_axis(per_attr, order, axis=1)
        values = _raw_codes(X)
        out: dict[str, np.ndarray] = {}
        for r in range(top):
            text = np.full(n, "", dtype=object)
            effect = np.full(n, np.nan)
            if r < k:
                raises = effects[:, r] > 0
                for j in np.unique(order[raises, r]):
                    hit = raises & (order[:, r] == j)
                    text[hit] = self._describe(attrs[j], values(attrs[j], hit))
                effect[raises] = effects[raises, r]
            out[f"reason_{r + 1}"] = text
            out[f"effect_{r + 1}"] = effect
        return pd.DataFrame(out)

    def _describe(self, attr: str, codes: np.ndarray) -> np.ndarray:
        """``Attribute text: value label`` per row (``unknown`` for missing codes)."""
        a = self.encoder_.dictionary_[attr]
        text = {}
        for code in pd.unique(codes):
            known = code is not None and code != "" and code not in a.missing
            text[code] = f"{a.text}: {a.labels.get(code, code) if known else 'unknown'}"
        return np.array([text[c] for c in codes], dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.classifier_tags.multi_class = False
        return tags

    def __getstate__(self) -> dict[str, Any]:
        """State to save: the dictionary once, in the fitted encoder.

        skops writes every reference to an object out in full; the ``dictionary`` given
        is the encoder's (:meth:`PeopleEncoder.__getstate__` keeps one copy there), so it
        is left out here and its reference rebuilt on loading.
        """
        state = dict(super().__getstate__())  # a copy: Python's default is __dict__ itself
        pipeline = state.get("pipeline_")
        if self.dictionary is not None and pipeline is not None and (
                pipeline.named_steps["encode"].dictionary is self.dictionary):
            state["dictionary"] = None
            state[_DICTIONARY_IN_ENCODER] = True
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a saved state, ``dictionary`` as the encoder's again."""
        state = dict(state)
        shared = state.pop(_DICTIONARY_IN_ENCODER, False)
        super().__setstate__(state)
        if shared:
            self.dictionary = self.pipeline_.named_steps["encode"].dictionary


#: Key of a saved model's state: its ``dictionary`` is its encoder's.
_DICTIONARY_IN_ENCODER = "_dictionary_in_encoder"


def _in_row_blocks(transform: Callable[[np.ndarray], Any], Z: np.ndarray,
                   rows: int = CHUNK_ROWS) -> None:
    """Apply an in-place, row-by-row transform to ``Z`` a block of rows at a time.

    The imputer's masks and coordinates of missing cells, and the scaler's, then take
    the memory of one block rather than of the whole matrix.
    """
    for start in range(0, len(Z), rows):
        Z[start:start + rows] = transform(Z[start:start + rows])


def _impute(imputer: Any, Z: np.ndarray) -> np.ndarray:
    """Fill the missing cells of ``Z`` in place, as the fitted imputer's ``transform`` does.

    The model's :class:`~sklearn.impute.SimpleImputer` (NaN missing, every column with a
    statistic: ``keep_empty_features``) writes each column's statistic, cast to the
    matrix's type, into its NaN cells; its ``transform`` first lists the coordinates of
    every missing cell by walking the mask column by column, most of its time on a wide
    matrix. The same values are written here through the mask itself.

    Returns
    -------
    ndarray
        ``Z``, imputed.
    """
    from sklearn.utils import assert_all_finite

    if Z.shape[1] != len(imputer.statistics_):
        raise ValueError(f"X has {Z.shape[1]} features per sample, expected "
                         f"{len(imputer.statistics_)}")
    assert_all_finite(Z, allow_nan=True)  # infinities refused, as by its transform
    np.copyto(Z, imputer.statistics_.astype(Z.dtype, copy=False), where=np.isnan(Z))
    return Z


def _fit_scaler(scaler: Any, Z: np.ndarray, block: int = 64) -> None:
    """Fit a :class:`~sklearn.preprocessing.StandardScaler` a block of columns at a time.

    scikit-learn's fit holds the deviations of the whole matrix from the means in 64-bit
    floats (5 GB for a million rows of 647 features) besides masks of its size. A
    column's mean and variance are sums over its own rows only, and each block is a
    contiguous copy like the whole matrix, so every column gets the same figures; the
    scaler is then set up by a fit on one row and given the blocks' statistics.
    """
    from sklearn.base import clone

    if Z.shape[1] <= block:
        scaler.fit(Z)
        return
    parts = [clone(scaler).fit(np.ascontiguousarray(Z[:, start:start + block]))
             for start in range(0, Z.shape[1], block)]
    scaler.fit(Z[:1])
    for name in ("mean_", "var_", "scale_"):
        setattr(scaler, name, np.concatenate([getattr(p, name) for p in parts]))
    seen = [np.broadcast_to(p.n_samples_seen_, len(p.mean_)) for p in parts]
    counts = np.concatenate(seen)
    scaler.n_samples_seen_ = (parts[0].n_samples_seen_ if all(
        np.ndim(p.n_samples_seen_) == 0 for p in parts) and len(set(counts)) == 1
        else counts)


def _fit_median_imputer(imputer: Any, Z: np.ndarray, block: int = 64) -> None:
    """Fit a median :class:`~sklearn.impute.SimpleImputer` on ``Z``, the same medians faster.

    scikit-learn sorts a masked copy of the whole matrix at once (with 64-bit sort
    indices: several times the memory of a million rows of 32-bit floats, and minutes).
    Here each column's median is found by partial sorting, a block of columns at a time,
    computed as NumPy's masked median computes it (the mean of the two middle values in
    the matrix's own precision); the imputer is then fitted on that one row of medians,
    whose median is itself (a column with no value gets 0, ``keep_empty_features``).
    """
    medians = np.full(Z.shape[1], np.nan, dtype=Z.dtype)
    for start in range(0, Z.shape[1], block):
        columns = np.ascontiguousarray(Z[:, start:start + block].T)
        for j, column in enumerate(columns, start):
            values = column[~np.isnan(column)]
            if len(values):
                low, high = (len(values) - 1) // 2, len(values) // 2
                part = np.partition(values, [low, high])
                medians[j] = np.true_divide(part[low] + part[high], 2, dtype=Z.dtype)
    imputer.fit(medians[None, :])


def _sum_by_owner(parts: np.ndarray, owner: np.ndarray, block: int = 1024) -> np.ndarray:
    """Sum the columns of ``parts`` that share an owner: ``parts @ M``, M one-hot by owner.

    Each owner's columns are added in column order onto a zero, as the sparse product
    does (the same figures bit for bit, a zero's sign included): a gather of every
    owner's first column, then, a block of rows at a time (kept in cache), the owners'
    second columns, their third, and so on. Most owners have a single column, and the
    sparse product transposes the whole matrix twice (most of its time on wide tables).

    Parameters
    ----------
    parts : ndarray of shape (n_rows, n_columns)
        The columns.
    owner : ndarray of int of shape (n_columns,)
        Each column's owner, 0 to n_owners - 1, every owner with a column.
    block : int, default=1024
        Rows added at once.

    Returns
    -------
    ndarray of float64 of shape (n_rows, n_owners)
    """
    rank = np.zeros(len(owner), dtype=np.int64)
    seen = np.zeros(int(owner.max(initial=-1)) + 1, dtype=np.int64)
    for j, o in enumerate(owner):
        rank[j], seen[o] = seen[o], seen[o] + 1
    first = np.empty(len(seen), dtype=np.int64)
    first[owner[rank == 0]] = np.flatnonzero(rank == 0)
    out = np.take(parts, first, axis=1).astype(np.float64, copy=False)
    out += 0.0  # zero plus each value, as the product: -0.0 becomes 0.0
    later = [(owner[c], c) for c in (np.flatnonzero(rank == r)
                                     for r in range(1, int(seen.max(initial=0))))]
    for start in range(0, len(out), block):
        rows, sums = parts[start:start + block], out[start:start + block]
        for owners, columns in later:
            sums[:, owners] += np.take(rows, columns, axis=1)
    return out


def _raw_codes(X: Any) -> Any:
    """Return a lookup of an attribute's raw values in some rows as text codes (None: blank).

    Only the rows asked are converted: a person's reasons name a few attributes, so
    converting every attribute of every row would be most of the work. (Values that
    compare equal, such as 1, 1.0 and True, have the same code, so converting a subset
    gives each row the code it gets in the whole.)
    """
    from segwise.features._encoder import _column_arrays

    names, arrays, _ = _column_arrays(X)
    present = dict(zip(names or [f"x{j}" for j in range(len(arrays))], arrays, strict=True))

    def codes(attr: str, rows: np.ndarray) -> np.ndarray:
        raw = present.get(attr)
        if raw is None:
            return np.full(int(rows.sum()), None, dtype=object)
        factor, uniq = pd.factorize(pd.Series(raw[rows], dtype=object), use_na_sentinel=True)
        return np.array([canonical_code(v) for v in uniq] + [None], dtype=object)[factor]

    return codes
