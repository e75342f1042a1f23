"""Compare response models on folds of the training table only, and choose one by a rule.

Every candidate is fitted and scored on the same stratified folds of the training table
(:func:`validate_propensity`): ROC AUC, average precision, Brier score, and the share of
responders captured (and the lift) in the top x % of each validation fold; the top N on the
pooled out-of-fold scores. The default is then chosen by a rule fixed in advance
(:data:`RULE`, :func:`choose_default`), and the rule, the figures and the choice are stored
with the model before it ever scores a held-out table. Permutation importance
(:func:`fold_importance`) is measured on the validation folds too.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn import config_context
from sklearn.base import clone

from segwise._parallel import check_jobs
from segwise.exceptions import ConfigError, InputError
from segwise.predict._gains import SHARES, average_precision, metric_name, ranking_metrics
from segwise.predict._propensity import IMBALANCE, MODELS, PropensityModel, model_name

__all__ = [
    "MAIL_SHARE",
    "RULE",
    "Choice",
    "PropensityValidation",
    "candidates",
    "check_folds",
    "choose_default",
    "fold_importance",
    "fold_splits",
    "take_rows",
    "validate_propensity",
]

#: Share of the list a campaign mails by default: the figure the choice is made on.
MAIL_SHARE = 0.2

#: The rule that chooses the default model, written before any held-out data is scored.
RULE = (
    "Every candidate is fitted and scored on the same stratified folds of the training "
    "table. The figure is the share of all responders captured in the top {share} of each "
    "validation fold (what a mailing of that size would reach). The best candidate has the "
    "highest mean over the folds; a candidate is as good when its mean falls short of the "
    "best's by no more than one standard error of their fold-by-fold differences. Of the "
    "candidates as good as the best, the default is the simplest: logistic regression, "
    "naive Bayes, HistGradientBoosting, XGBoost, random forest, in that order, and for "
    "each no rebalancing, then class weights, then SMOTE."
)

#: ``scorer(X_train, y_train, X_valid)`` returns named score arrays for the valid rows.
Scorer = Callable[[Any, np.ndarray, Any], Mapping[str, np.ndarray]]


def candidates(models: Sequence[str] = MODELS, imbalance: Sequence[str] = IMBALANCE,
               **params: Any) -> dict[str, PropensityModel]:
    """Build the candidate models by display name, in the order of simplicity.

    Parameters
    ----------
    models : sequence of str, default=MODELS
        Model families.
    imbalance : sequence of str, default=IMBALANCE
        Imbalance handlings to cross with them.
    **params
        Parameters of every :class:`PropensityModel` (dictionary, exclusions, ...).

    Returns
    -------
    dict of str to PropensityModel
        Unfitted candidates, ``"XGBoost + class weights"`` and so on.
    """
    out = {}
    for m in MODELS:
        for imb in IMBALANCE:
            if m in models and imb in imbalance:
                out[model_name(m, imb)] = PropensityModel(m, imbalance=imb, **params)  # type: ignore[arg-type]
    if not out:
        raise ConfigError("no candidate model: choose at least one model and one imbalance "
                          "handling")
    return out


def take_rows(X: Any, rows: np.ndarray) -> Any:
    """Rows of an Arrow table, a DataFrame or an array, by position."""
    if hasattr(X, "num_rows"):
        return X.take(rows)
    if isinstance(X, pd.DataFrame):
        return X.iloc[rows]
    return np.asarray(X)[rows]


def check_folds(y: np.ndarray, folds: int, *, where: str = "") -> None:
    """Refuse responses too few for stratified folds, naming the fix.

    Parameters
    ----------
    y : array of shape (n_samples,)
        1 for a responder, 0 otherwise.
    folds : int
        The folds asked for.
    where : str, default=""
        The file and column, for the message.

    Raises
    ------
    InputError
        If responders or others are fewer than the folds: with fewer than 2 of either
        no comparison is possible (a target that is all one value, or one responder).
    """
    n_pos = int(np.sum(y))
    n_neg = len(y) - n_pos
    fewest = min(n_pos, n_neg)
    if fewest >= folds:
        return
    found = (f"{where + ': ' if where else ''}{n_pos:,} responder{'s' * (n_pos != 1)} and "
             f"{n_neg:,} other{'s' * (n_neg != 1)}")
    if fewest < 2:
        raise InputError(f"{found}: comparing models needs at least 2 of each. Fix: check "
                         "the target column and --positive, or add rows")
    raise InputError(f"{found} are too few for {folds} folds. Fix: --folds {fewest} or "
                     "fewer, or more rows")


def fold_splits(y: np.ndarray, *, folds: int = 5, repeats: int = 1, random_state: int = 0
                ) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """Stratified folds, repeated: ``(repeat, fold, train rows, validation rows)``."""
    from sklearn.model_selection import StratifiedKFold

    if folds < 2 or repeats < 1:
        raise ConfigError(f"need at least 2 folds and 1 repeat, got {folds} and {repeats}")
    check_folds(y, folds)
    out = []
    for r in range(repeats):
        cv = StratifiedKFold(folds, shuffle=True, random_state=random_state + r)
        for f, (tr, va) in enumerate(cv.split(np.zeros(len(y)), y)):
            out.append((r + 1, f + 1, tr, va))
    return out


def model_scorer(model: PropensityModel) -> Scorer:
    """Score the validation rows with a copy of ``model`` fitted on the training rows."""
    def score(X_tr: Any, y_tr: np.ndarray, X_va: Any) -> dict[str, np.ndarray]:
        fitted = clone(model).fit(X_tr, y_tr)
        return {"": fitted.predict_proba(X_va)[:, 1]}

    return score


@contextlib.contextmanager
def _fold_codes_unsaid() -> Iterator[None]:
    """Leave unseen codes unsaid while fitting and scoring folds.

    A code met in a validation fold only (a rare one the training folds lack) is an
    artefact of the split, not of the user's table: "codes the dictionary does not
    declare" would be wrong there; and each fold's fit said the table's codes again, with
    that fold's counts. The final model's fit on every row warns for real, once.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".* codes the dictionary does not "
                                                  "declare")
        yield


def _run(scorer: Scorer, X: Any, y: np.ndarray, train: np.ndarray, valid: np.ndarray
         ) -> Mapping[str, np.ndarray]:
    with _fold_codes_unsaid():
        return scorer(take_rows(X, train), y[train], take_rows(X, valid))


def cross_validate(X: Any, y: np.ndarray, scorers: Mapping[str, Scorer],
                   splits: list[tuple[int, int, np.ndarray, np.ndarray]], *,
                   shares: Sequence[float] = SHARES, n_jobs: int = 1,
                   progress: Callable[[str], None] | None = None,
                   ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Fit and score every scorer on every split.

    Returns the figures per name, repeat and fold, and each name's out-of-fold scores of
    the first repeat (every training row scored by a model that did not see it). A scorer
    returns named score arrays; the name ``""`` stands for the scorer's own. Splits run in
    ``n_jobs`` processes; every fit is seeded, so the figures do not depend on it.
    """
    from joblib import Parallel, delayed

    tasks = [(name, scorer, *split) for name, scorer in scorers.items() for split in splits]
    if n_jobs == 1:
        results: Any = (_run(scorer, X, y, tr, va) for _, scorer, _, _, tr, va in tasks)
    else:
        results = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_run)(scorer, X, y, tr, va) for _, scorer, _, _, tr, va in tasks)
    rows: list[dict[str, Any]] = []
    oof: dict[str, np.ndarray] = {}
    for (name, _, repeat, fold, _, va), out in zip(tasks, results, strict=True):
        if progress is not None:
            progress(f"{name}: fold {fold}" + (f", repeat {repeat}" if repeat > 1 else ""))
        for key, score in out.items():
            label = key or name
            rows.append({"name": label, "repeat": repeat, "fold": fold,
                         "people": len(va), "responders": int(y[va].sum()),
                         **ranking_metrics(y[va], score, shares=shares)})
            if repeat == 1:
                oof.setdefault(label, np.full(len(y), np.nan))[va] = score
    return pd.DataFrame(rows), oof


@dataclass
class Choice:
    """The default model chosen by :data:`RULE`, with the figures that chose it.

    Attributes
    ----------
    chosen : str
        The default.
    best : str
        The candidate with the highest mean figure.
    table : pandas.DataFrame
        Per candidate: ``mean``, ``gap`` (best's mean minus this one's), ``se`` (standard
        error of the fold-by-fold differences), ``as_good`` and ``order`` (simplicity).
    metric : str
        The figure (``captured_20``).
    text : str
        The rule and its outcome in words.
    """

    chosen: str
    best: str
    table: pd.DataFrame
    metric: str
    text: str


def choose_default(folds: pd.DataFrame, order: Sequence[str], *,
                   mail_share: float = MAIL_SHARE) -> Choice:
    """Apply :data:`RULE` to the fold figures of the candidates.

    Parameters
    ----------
    folds : pandas.DataFrame
        :func:`cross_validate`'s figures (``name``, ``repeat``, ``fold``, metrics).
    order : sequence of str
        The eligible candidates, simplest first.
    mail_share : float, default=0.2
        The mailing share whose captured share is the figure.

    Returns
    -------
    Choice
        The default and the figures that chose it.
    """
    metric = metric_name("captured", mail_share)
    wide = folds[folds["name"].isin(order)].pivot_table(
        index=["repeat", "fold"], columns="name", values=metric)[list(order)]
    means = wide.mean()
    best = str(means.idxmax())
    diff = wide[best].to_numpy()[:, None] - wide.to_numpy()
    se = diff.std(axis=0, ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else np.zeros(
        len(order))
    table = pd.DataFrame({"mean": means.to_numpy(), "gap": diff.mean(axis=0), "se": se,
                          "order": np.arange(1, len(order) + 1)},
                         index=pd.Index(list(order), name="name"))
    table["as_good"] = table["gap"] <= table["se"] + 1e-12
    chosen = str(table.index[table["as_good"].to_numpy()][0])
    share = f"{mail_share:.0%}"
    others = [f"{n} ({r['mean']:.3f}, {r['gap']:.3f} short, standard error {r['se']:.3f})"
              for n, r in table[table["as_good"]].iterrows() if n != best]
    text = (RULE.format(share=share) + f" Outcome: the best mean share captured in the top "
            f"{share} was {means[best]:.3f}, by {best}. "
            + (f"As good: {'; '.join(others)}. " if others else "No other candidate was as "
               "good. ")
            + f"Default: {chosen}.")
    return Choice(chosen=chosen, best=best, table=table, metric=metric, text=text)


def fold_importance(model: PropensityModel, X: Any, y: np.ndarray,
                    splits: list[tuple[int, int, np.ndarray, np.ndarray]], *,
                    n_repeats: int = 5, max_rows: int = 20_000, random_state: int = 0,
                    progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Permutation importance of each attribute, on held-out folds.

    For each fold (first repeat), a copy of ``model`` is fitted on the training rows; each
    attribute of the validation rows is shuffled in turn, and the importance is the drop
    in average precision, averaged over folds and shuffles. Shuffling an attribute's
    encoded columns together is shuffling its raw column (encoding works row by row), and
    every step before the classifier works column by column, so the validation rows are
    encoded and prepared once and only the attribute's prepared columns are shuffled, in
    place.

    Parameters
    ----------
    model : PropensityModel
        Unfitted.
    X : pyarrow.Table or pandas.DataFrame
        Raw rows.
    y : ndarray
        1 for a responder.
    splits : list
        :func:`fold_splits`.
    n_repeats : int, default=5
        Shuffles per attribute and fold.
    max_rows : int, default=20000
        Validation rows per fold (a random subset beyond).
    random_state : int, default=0
        Seed.
    progress : callable, optional
        Called with a step name per fold.

    Returns
    -------
    pandas.DataFrame
        ``attribute``, ``description``, ``importance`` (mean drop) and ``sd`` (over folds
        and shuffles), most important first.
    """
    from segwise.segment._cluster import limit_threads

    rng = np.random.default_rng(random_state)
    drops: dict[str, list[float]] = {}
    fitted = None
    for repeat, fold, tr, va in splits:
        if repeat > 1:
            continue
        if progress is not None:
            progress(f"importance: fold {fold}")
        if len(va) > max_rows:
            va = np.sort(rng.choice(va, max_rows, replace=False))
        with _fold_codes_unsaid():
            fitted = clone(model).fit(take_rows(X, tr), y[tr])
            Z, _ = fitted._encode(take_rows(X, va))
        P = fitted._prepared(Z)  # every step before the classifier works column by column
        if fitted.model == "logistic":
            P = P.astype(np.float64)  # as _model_proba casts it, once rather than per call
        truth = y[va]

        def precision(fitted: PropensityModel = fitted, P: np.ndarray = P,
                      truth: np.ndarray = truth) -> float:
            return average_precision(truth, fitted._model_proba(P))

        base = precision()
        blocks: dict[str, list[int]] = {}
        for j, out in enumerate(fitted.encoder_.outputs_):
            blocks.setdefault(out["attribute"], []).append(j)
        # Thousands of small predictions: threads only spin, and the rows were checked
        # once (finite after imputation), not again at each call.
        with limit_threads(len(P)), config_context(assume_finite=True):
            for attr, cols in blocks.items():
                kept = P[:, cols].copy()
                for _ in range(n_repeats):
                    P[:, cols] = kept[rng.permutation(len(P))]
                    drops.setdefault(attr, []).append(base - precision())
                P[:, cols] = kept
    if fitted is None:
        raise ConfigError("no fold to measure importance on")
    dictionary = fitted.encoder_.dictionary_
    out = pd.DataFrame({
        "attribute": list(drops),
        "description": [dictionary[a].text for a in drops],
        "importance": [float(np.mean(v)) for v in drops.values()],
        "sd": [float(np.std(v)) for v in drops.values()],
    })
    return out.sort_values("importance", ascending=False, ignore_index=True)


@dataclass
class PropensityValidation:
    """The cross-validated comparison of candidates, baselines and the choice.

    Attributes
    ----------
    folds : pandas.DataFrame
        Figures per ``name``, ``repeat`` and ``fold``.
    summary : pandas.DataFrame
        Per name: ``role`` (``candidate``, ``baseline`` or ``comparison``), the mean and
        standard deviation over folds of each figure (``roc_auc``, ``roc_auc_sd``, ...),
        ``responders_top_n`` and ``captured_top_n`` on the pooled out-of-fold scores.
    oof : pandas.DataFrame
        ``y`` and each name's out-of-fold score (first repeat), one row per training row.
    choice : Choice
        The default and the figures that chose it.
    importance : pandas.DataFrame
        :func:`fold_importance` of the default (empty when not measured).
    segments : pandas.DataFrame
        The population segments fitted on all training rows: people, responders, rate and
        ratio per segment (empty without segments).
    settings : dict
        Folds, repeats, shares, top N, rows and responders validated on, and whether they
        were a sample of the table.
    """

    folds: pd.DataFrame
    summary: pd.DataFrame
    oof: pd.DataFrame
    choice: Choice
    importance: pd.DataFrame = field(default_factory=pd.DataFrame)
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (stored with a saved model)."""
        return {
            "settings": self.settings,
            "rule": self.choice.text,
            "chosen": self.choice.chosen,
            "best": self.choice.best,
            "metric": self.choice.metric,
            "choice": _records(self.choice.table),
            "summary": _records(self.summary),
            "importance": _records(self.importance.head(30)),
            "segments": _records(self.segments),
        }


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    if df.empty:
        return []
    frame = df.reset_index() if df.index.name else df
    return [{str(k): (None if isinstance(v, float) and np.isnan(v)
                      else v.item() if isinstance(v, np.generic) else v)
             for k, v in row.items()} for row in frame.to_dict(orient="records")]


def summarise(folds: pd.DataFrame, oof: Mapping[str, np.ndarray], y: np.ndarray,
              roles: Mapping[str, str], *, top_n: int, shares: Sequence[float]
              ) -> pd.DataFrame:
    """Mean and standard deviation per name, top N on the pooled out-of-fold scores."""
    from segwise.predict._gains import captured

    metrics = ["roc_auc", "average_precision", "brier",
               *(metric_name(k, s) for s in shares for k in ("captured", "lift"))]
    grouped = folds.groupby("name", sort=False)[metrics]
    table = grouped.mean().join(grouped.std(ddof=1).add_suffix("_sd"))
    table.insert(0, "role", [roles.get(n, "comparison") for n in table.index])
    total = max(float(y.sum()), 1.0)
    table["responders_top_n"] = [float(captured(y, oof[n], top_n)[0]) for n in table.index]
    table["captured_top_n"] = table["responders_top_n"] / total
    rate = float(np.mean(y))
    random_row: dict[str, Any] = {"role": "baseline", "roc_auc": 0.5,
                                  "average_precision": rate, "brier": rate * (1 - rate),
                                  "responders_top_n": top_n * rate,
                                  "captured_top_n": top_n / len(y)}
    for s in shares:
        random_row[metric_name("captured", s)] = s
        random_row[metric_name("lift", s)] = 1.0
    table.loc["baseline: mail at random"] = pd.Series(random_row)
    table.index.name = "name"
    return table


def validate_propensity(
    X: Any,
    y: np.ndarray,
    models: Mapping[str, PropensityModel],
    *,
    folds: int = 5,
    repeats: int = 1,
    mail_share: float = MAIL_SHARE,
    shares: Sequence[float] = SHARES,
    top_n: int | None = None,
    segments: Any = None,
    importance: bool = True,
    random_state: int = 0,
    n_jobs: int = 1,
    progress: Callable[[str], None] | None = None,
) -> PropensityValidation:
    """Compare candidate models on folds of the training rows and choose the default.

    Parameters
    ----------
    X : pyarrow.Table or pandas.DataFrame
        Raw training rows (attributes only; the target apart).
    y : ndarray of shape (n_rows,)
        1 for a responder, 0 otherwise.
    models : mapping of str to PropensityModel
        Unfitted candidates by name, simplest first (:func:`candidates`).
    folds, repeats : int, default=5, 1
        Stratified folds, and how many times they are drawn.
    mail_share : float, default=0.2
        The mailing share the choice is made on.
    shares : sequence of float
        Mailing shares reported.
    top_n : int, optional
        Mailing size reported on the pooled out-of-fold scores; ``mail_share`` of the rows
        when omitted.
    segments : callable, optional
        ``segments(chosen_model) -> (scorer, table)``: a scorer of the population
        segments' baseline and of the chosen model with the segments as a feature, and
        the segments fitted on all rows (:func:`segwise.predict.segment_comparison`).
    importance : bool, default=True
        Measure the default's permutation importance on the folds.
    random_state : int, default=0
        Seed of the folds.
    n_jobs : int, default=1
        Processes fitting candidates on folds at once (-1: one per core).
    progress : callable, optional
        Called with the name of each step.

    Returns
    -------
    PropensityValidation
        Figures, out-of-fold scores, the choice, importance and segments.
    """
    if not 0 < mail_share < 1:
        raise ConfigError(f"the mailing share must be between 0 and 1, got {mail_share}")
    check_jobs(n_jobs)
    y = np.asarray(y, dtype=np.int64)
    shares = tuple(sorted({*shares, mail_share}))
    top_n = round(mail_share * len(y)) if top_n is None else int(top_n)
    splits = fold_splits(y, folds=folds, repeats=repeats, random_state=random_state)
    scorers = {name: model_scorer(m) for name, m in models.items()}
    fold_table, oof = cross_validate(X, y, scorers, splits, shares=shares, n_jobs=n_jobs,
                                     progress=progress)
    choice = choose_default(fold_table, list(models), mail_share=mail_share)
    roles = dict.fromkeys(models, "candidate")
    segment_table = pd.DataFrame()
    if segments is not None:
        scorer, segment_table = segments(models[choice.chosen])
        more, more_oof = cross_validate(X, y, {choice.chosen: scorer}, splits, shares=shares,
                                        n_jobs=n_jobs, progress=progress)
        fold_table = pd.concat([fold_table, more], ignore_index=True)
        oof.update(more_oof)
        roles.update({n: "baseline" for n in more_oof if n.startswith("baseline")})
    summary = summarise(fold_table, oof, y, roles, top_n=top_n, shares=shares)
    imp = pd.DataFrame()
    if importance:
        imp = fold_importance(models[choice.chosen], X, y, splits,
                              random_state=random_state, progress=progress)
    oof_frame = pd.DataFrame({"y": y, **oof})
    settings = {"folds": folds, "repeats": repeats, "mail_share": mail_share,
                "shares": list(shares), "top_n": top_n, "rows": len(y),
                "responders": int(y.sum()), "random_state": random_state}
    return PropensityValidation(folds=fold_table, summary=summary, oof=oof_frame,
                                choice=choice, importance=imp, segments=segment_table,
                                settings=settings)
