"""A fitted assigner's probabilities for a few customers at a time: what serving calls.

scikit-learn's ``predict_proba`` of the default (grid) assigner costs about 0.1 s whatever
the number of customers: the random forest calls its 300 trees one by one through joblib,
the boosting model its 1,300 predictors (100 iterations x 13 cells), and every column
transformer validates its input again. A web request scores a handful of customers, so
that fixed cost is the service's latency.

:func:`fast_predict_proba` walks the same fitted objects with the per-call overhead taken
out, and returns the same numbers bit for bit (``tests/predict/test_fast.py`` compares
them on Online Retail customers):

- a random forest calls each tree's ``tree_.predict`` on the float32 input and adds the
  trees' probabilities in the forest's order, as ``RandomForestClassifier.predict_proba``;
- a histogram gradient boosting model walks all its predictors in one compiled loop
  (:func:`_hgb_raw`, the branch rules of scikit-learn's ``_predict_from_raw_data``),
  summing leaf values per iteration in the model's order, then applies the model's loss;
- a column transformer calls each fitted transformer on its columns and stacks them;
- pipelines, soft votes and the grid's cells are composed as their ``predict_proba`` is.

Anything else (a calibrated model, another classifier or transformer) is called as it is,
so the result is always what the estimator itself returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from segwise.predict._assigner import SegmentAssigner, _CellClassifier

__all__ = ["fast_predict_proba"]

Proba = Callable[[Any], np.ndarray]


def fast_predict_proba(assigner: SegmentAssigner) -> Callable[[Any], np.ndarray]:
    """Return a function computing ``assigner.predict_proba`` with less overhead per call.

    Parameters
    ----------
    assigner : SegmentAssigner
        A fitted assigner.

    Returns
    -------
    callable
        Takes the features as :meth:`SegmentAssigner.predict_proba` does, or as a dict of
        column arrays (no frame to build: what serving passes), checked the same way, and
        returns the same array.
    """
    proba = _classifier(assigner.estimator_)

    def predict(X: Any) -> np.ndarray:
        if isinstance(X, dict):
            columns = _Columns(assigner._prepare_columns(X))
        else:
            df = assigner._prepare(X)
            # Column arrays, taken once: pandas' column selection costs more than the models.
            columns = _Columns({c: df[c].to_numpy() for c in df.columns})
        with assigner._threads():
            return np.asarray(proba(columns))

    return predict


def _classifier(est: Any) -> Proba:
    """``est.predict_proba``, composed from its parts where they are known."""
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        RandomForestClassifier,
        VotingClassifier,
    )
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    if isinstance(est, _CellClassifier):
        inner = _classifier(est.estimator_)
        to_classes = np.eye(len(est.classes_))[est.owner_]
        return lambda X: np.asarray(inner(X)) @ to_classes
    if isinstance(est, VotingClassifier) and est.voting == "soft":
        members = [_classifier(e) for e in est.estimators_]
        weights = est._weights_not_none
        return lambda X: np.average(np.asarray([m(X) for m in members]), axis=0,
                                    weights=weights)
    if isinstance(est, Pipeline):  # imblearn's too; samplers do nothing at prediction
        steps = [_transformer(s) for _, s in est.steps[:-1]
                 if s not in (None, "passthrough") and not hasattr(s, "fit_resample")]
        final = _classifier(est.steps[-1][1])

        def pipeline(X: Any) -> np.ndarray:
            for step in steps:
                X = step(X)
            return final(X)

        return pipeline
    if type(est) is RandomForestClassifier and est.n_outputs_ == 1:
        return _forest(est)
    if type(est) is HistGradientBoostingClassifier:
        return _boosting(est)
    if type(est) is LogisticRegression and len(est.classes_) > 2:
        return _multinomial(est)
    return _as_given(est.predict_proba)


def _as_given(method: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Call an estimator's own method with a frame where the fast path holds column arrays."""
    return lambda X: method(pd.DataFrame(X) if isinstance(X, _Columns) else X)


def _transformer(est: Any) -> Callable[[Any], Any]:
    """``est.transform``; a dense column transformer part by part, encoders row by row.

    An encoder's output row depends on its input row only, so the rows of each distinct
    input (countries, segments: a few hundred) are computed once and remembered.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    if not isinstance(est, ColumnTransformer) or est.sparse_output_ or getattr(
            est, "_sklearn_output_config", {}).get("transform", "default") != "default":
        return _as_given(est.transform)
    parts: list[tuple[Any, Any]] = []
    for _, trans, columns in est.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        named = isinstance(columns, list) and all(isinstance(c, str) for c in columns)
        mask = isinstance(columns, np.ndarray) and columns.dtype == bool
        if isinstance(trans, str) or not (named or mask):
            return _as_given(est.transform)
        if not np.any(columns) if mask else not columns:
            continue
        if _is_identity(trans):
            parts.append((None, columns))
        elif type(trans) in (OneHotEncoder, OrdinalEncoder):
            parts.append((_RowMemo(trans), columns))
        elif (numeric := _numeric(trans)) is not None:
            parts.append((_OnValues(numeric), columns))
        else:
            parts.append((trans.transform, columns))

    def transform(X: Any) -> np.ndarray:
        out = []
        for fn, columns in parts:
            if not isinstance(X, _Columns):
                part = X[:, columns]
            elif fn is None or isinstance(fn, _RowMemo | _OnValues):  # values, no frame
                part = np.column_stack([X[c] for c in columns])
            else:
                part = pd.DataFrame({c: X[c] for c in columns})
            out.append(part if fn is None else fn(part))
        return np.hstack(out)

    return transform


def _is_identity(est: Any) -> bool:
    """Whether ``est`` hands its input on unchanged (a plain ``FunctionTransformer``)."""
    from sklearn.preprocessing import FunctionTransformer

    return type(est) is FunctionTransformer and est.func is None and not est.validate


def _numeric(est: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """Return ``est.transform`` on a float array, or None when it is not one of these.

    Known: a dense scaler, an elementwise NumPy function, and pipelines of them; anything
    else is called as it is. A scaler subtracts the mean and divides by the scale in
    place on a float64 copy, as scikit-learn's does.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    if _is_identity(est):
        return lambda X: X
    if (type(est) is FunctionTransformer and isinstance(est.func, np.ufunc)
            and not est.validate and not est.kw_args):
        return est.func  # elementwise: the same numbers on a frame's columns or an array
    if type(est) is StandardScaler and getattr(
            est, "_sklearn_output_config", {}).get("transform", "default") == "default":
        mean = est.mean_ if est.with_mean else None
        scale = est.scale_

        def scale_columns(X: np.ndarray) -> np.ndarray:
            X = np.array(X, dtype=np.float64)  # a copy, as the scaler's validation makes
            if mean is not None:
                X -= mean
            if scale is not None:
                X /= scale
            return X

        return scale_columns
    if isinstance(est, Pipeline):  # imblearn's too
        steps = [_numeric(s) for _, s in est.steps if s not in (None, "passthrough")]
        if any(step is None for step in steps):
            return None

        def chain(X: np.ndarray) -> np.ndarray:
            for step in steps:
                X = step(X)  # type: ignore[misc]
            return X

        return chain
    return None


class _OnValues:
    """A numeric transform applied to the columns' values (no frame)."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray]) -> None:
        self.fn = fn

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return self.fn(X)


class _Columns(dict[str, np.ndarray]):
    """A frame's columns as arrays, by name."""


class _RowMemo:
    """An encoder's output rows remembered by input row (an array; a frame is rebuilt)."""

    def __init__(self, encoder: Any, size: int = 10_000) -> None:
        self.transform = encoder.transform
        names = getattr(encoder, "feature_names_in_", None)
        self.names = None if names is None else list(names)
        self.size = size
        self.rows: dict[tuple[str, ...], np.ndarray] = {}

    def __call__(self, X: Any) -> np.ndarray:
        keys = [tuple(map(repr, row)) for row in X.tolist()]
        missing = [i for i, key in enumerate(keys) if key not in self.rows]
        if missing:
            if len(self.rows) + len(missing) > self.size:
                self.rows.clear()
            new = self.transform(X[missing] if self.names is None else
                                 pd.DataFrame(X[missing], columns=self.names))
            for i, row in zip(missing, np.asarray(new), strict=True):
                self.rows[keys[i]] = row
        return np.asarray([self.rows[key] for key in keys])


def _forest(forest: Any) -> Proba:
    """``RandomForestClassifier.predict_proba``: every tree walked in one compiled loop."""
    from segwise.predict._tree_kernel import forest_sum

    n_classes = int(forest.n_classes_)
    nodes, values, roots, offset = [], [], [], 0
    for estimator in forest.estimators_:
        tree = estimator.tree_
        merged = tree.__getstate__()["nodes"].copy()
        inner = merged["left_child"] != -1
        for side in ("left_child", "right_child"):
            merged[side] = np.where(inner, merged[side] + offset, -1)
        nodes.append(merged)
        values.append(tree.value[:, 0, :n_classes])
        roots.append(offset)
        offset += len(merged)
    tree = np.concatenate(nodes)
    columns = (np.asarray(roots, dtype=np.int64), tree["feature"].astype(np.int64),
               tree["threshold"].astype(np.float64),
               tree["missing_go_to_left"].astype(np.bool_), tree["left_child"].astype(np.int64),
               tree["right_child"].astype(np.int64),
               np.ascontiguousarray(np.concatenate(values), dtype=np.float64))
    n_trees = len(forest.estimators_)
    forest_sum(np.zeros((0, 1), dtype=np.float32), np.zeros((0, n_classes)), *columns)

    def predict(X: Any) -> np.ndarray:
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        out = np.zeros((X32.shape[0], n_classes), dtype=np.float64)
        forest_sum(X32, out, *columns)
        out /= n_trees
        return out

    return predict


def _multinomial(model: Any) -> Proba:
    """``LogisticRegression.predict_proba`` of more than two classes: a softmax of scores."""
    from sklearn.utils.extmath import softmax

    coef_t, intercept = model.coef_.T, model.intercept_
    return lambda X: softmax(np.asarray(X, dtype=np.float64) @ coef_t + intercept, copy=False)


def _boosting(model: Any) -> Proba:
    """``HistGradientBoostingClassifier.predict_proba`` with every predictor in one loop."""
    from segwise.predict._tree_kernel import hgb_raw

    predictors = model._predictors
    n_iter, n_k = len(predictors), len(predictors[0])
    nodes, bitsets, roots = [], [], np.zeros((n_iter, n_k), dtype=np.int64)
    offset = bitset_offset = 0
    for i, per_iteration in enumerate(predictors):
        for k, predictor in enumerate(per_iteration):
            tree = predictor.nodes
            roots[i, k] = offset
            nodes.append(_absolute(tree, offset, bitset_offset))
            bitsets.append(predictor.raw_left_cat_bitsets)
            offset += len(tree)
            bitset_offset += len(predictor.raw_left_cat_bitsets)
    tree = np.concatenate(nodes)
    left_bitsets = np.ascontiguousarray(np.concatenate(bitsets), dtype=np.uint32)
    known, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
    known = np.ascontiguousarray(known, dtype=np.uint32)
    f_idx_map = np.ascontiguousarray(f_idx_map, dtype=np.int64)
    columns = (tree["value"].astype(np.float64), tree["feature_idx"].astype(np.int64),
               tree["num_threshold"].astype(np.float64),
               tree["missing_go_to_left"].astype(np.bool_), tree["left"], tree["right"],
               tree["is_leaf"].astype(np.bool_), tree["is_categorical"].astype(np.bool_),
               tree["bitset_idx"])
    baseline = model._baseline_prediction
    # Compile now (or load numba's cache), not on the first request.
    hgb_raw(np.zeros((0, 1)), np.zeros((n_k, 0)), roots, *columns, left_bitsets, known,
            f_idx_map)
    # With categorical features the model re-encodes its input (``_preprocess_X``).
    prepare = (_transformer(model._preprocessor) if model._preprocessor is not None
               else lambda X: X)

    def predict(X: Any) -> np.ndarray:
        data = np.ascontiguousarray(prepare(X), dtype=np.float64)
        # Laid out as scikit-learn's (its loss's results depend on the layout); the kernel
        # writes through the transpose, always C-contiguous (one compiled signature).
        raw = np.zeros((data.shape[0], n_k), dtype=baseline.dtype, order="F")
        raw += baseline
        hgb_raw(data, raw.T, roots, *columns, left_bitsets, known, f_idx_map)
        return np.asarray(model._loss.predict_proba(raw))

    return predict


def _absolute(nodes: np.ndarray, offset: int, bitset_offset: int) -> np.ndarray:
    """Return a predictor's nodes with children and bitset rows indexed as merged."""
    out = nodes.copy()
    out["left"] = (nodes["left"].astype(np.int64) + offset)
    out["right"] = (nodes["right"].astype(np.int64) + offset)
    out["bitset_idx"] = nodes["bitset_idx"].astype(np.int64) + bitset_offset
    return out
