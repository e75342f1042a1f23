"""Purchase models compared on a holdout, and the declared rule that picks one.

Every candidate is fitted to the calibration period and predicts each customer's purchases
in the holdout. They are compared on what a user does with the forecast: per customer
(mean absolute error, root mean squared error, bias), in aggregate (the error of the total)
and by decile (customers ranked by their forecast, mean forecast against mean actual per
tenth: is the ranking right?). :data:`SELECTION_RULE` picks the model; the rule is stated
in every comparison so a reader knows why.
"""

from __future__ import annotations

import datetime as _dt
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segwise.clv._base import PurchaseModel, _and
from segwise.clv._bgbb import BGBB
from segwise.clv._bgnbd import BGNBD
from segwise.clv._diagnostics import tracking
from segwise.clv._mbgnbd import MBGNBD
from segwise.clv._pareto_nbd import ParetoNBD
from segwise.clv._summary import Period, btyd_summary, occasion_counts, order_source
from segwise.exceptions import ConfigError, InputError, SegwiseWarning

if TYPE_CHECKING:
    from segwise.io import ReadOptions

__all__ = [
    "CANDIDATES",
    "DISCRETE_MODELS",
    "MIN_HOLDOUT_PURCHASES",
    "PURCHASE_MODELS",
    "SELECTION_RULE",
    "TIE_TOLERANCE",
    "ModelComparison",
    "compare_purchase_models",
    "decile_calibration",
    "holdout_errors",
    "selection_split",
]

#: Purchase models by name.
PURCHASE_MODELS: dict[str, type[BGNBD] | type[ParetoNBD] | type[BGBB]] = {
    "bgnbd": BGNBD,
    "mbgnbd": MBGNBD,
    "pareto_nbd": ParetoNBD,
    "bgbb": BGBB,
}
#: Models fitted to a discrete-time summary (periods with a purchase).
DISCRETE_MODELS = frozenset({"bgbb"})
#: Models compared by default.
CANDIDATES: tuple[str, ...] = ("bgnbd", "mbgnbd", "pareto_nbd", "bgbb")
#: Relative difference below which two models' errors count as equal.
TIE_TOLERANCE = 0.005
#: Fewer holdout purchases than this are said to be too few to compare models on: a
#: total of N purchases varies by about 1/sqrt(N) by chance, 10 % at 100.
MIN_HOLDOUT_PURCHASES = 100
#: The rule that picks a model, in words.
SELECTION_RULE = (
    "the best mean rank over per-customer mean absolute error, absolute aggregate error "
    "and decile calibration error of the holdout purchases (errors within 0.5 % of each "
    "other rank equal); ties go to the lower mean absolute error, then to the model listed "
    "first (the simpler: BG/NBD, MBG/NBD, Pareto/NBD, BG/BB)"
)
#: Columns the rule ranks (all: lower is better), and how the reason names them.
_CRITERIA = {"mae": "per-customer error", "abs_aggregate_error": "aggregate error",
             "decile_error": "decile calibration"}
_N_DECILES = 10


def holdout_errors(predicted: Any, actual: Any) -> dict[str, float]:
    """Per-customer and aggregate errors of a holdout forecast.

    Parameters
    ----------
    predicted : array-like of shape (n_customers,)
        Forecast purchases per customer.
    actual : array-like of shape (n_customers,)
        Purchases made.

    Returns
    -------
    dict of str to float
        ``mae`` and ``rmse`` (per customer), ``bias`` (mean forecast minus mean actual, per
        customer), ``predicted`` and ``actual`` (totals) and ``aggregate_error`` (the
        total's error as a share of the actual total; NaN when nobody bought).
    """
    p, a = np.asarray(predicted, dtype="float64"), np.asarray(actual, dtype="float64")
    err = p - a
    total = float(a.sum())
    return {
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "bias": float(err.mean()),
        "predicted": float(p.sum()),
        "actual": total,
        "aggregate_error": float(err.sum() / total) if total > 0 else np.nan,
    }


def decile_calibration(predicted: Any, actual: Any, n_groups: int = _N_DECILES) -> pd.DataFrame:
    """Mean forecast against mean actual purchases, by decile of the forecast.

    Customers are ranked by forecast (ties in their given order, so the result does not
    depend on a sort's whims) and cut into ``n_groups`` groups as equal as possible.

    Parameters
    ----------
    predicted : array-like of shape (n_customers,)
        Forecast purchases per customer.
    actual : array-like of shape (n_customers,)
        Purchases made.
    n_groups : int, default=10
        Number of groups.

    Returns
    -------
    pandas.DataFrame
        One row per group, lowest forecast first: ``decile`` (1 ..), ``n_customers``,
        ``predicted`` and ``actual`` (means per customer).
    """
    p, a = np.asarray(predicted, dtype="float64"), np.asarray(actual, dtype="float64")
    order = np.argsort(p, kind="stable")
    groups = [g for g in np.array_split(order, min(n_groups, len(order))) if len(g)]
    return pd.DataFrame({
        "decile": np.arange(1, len(groups) + 1),
        "n_customers": [len(g) for g in groups],
        "predicted": [p[g].mean() for g in groups],
        "actual": [a[g].mean() for g in groups],
    })


def selection_split(first: _dt.date, last: _dt.date, horizon_days: float) -> _dt.date:
    """Return the calibration end used to choose a model when none is given.

    The holdout is as long as the forecast horizon, so that models are judged over the
    length of time they will forecast, but at most half of the purchase span, so that
    they still learn from the other half.

    Parameters
    ----------
    first, last : date
        First and last purchase days.
    horizon_days : float
        Forecast horizon in days.

    Returns
    -------
    date
        The last calibration day.
    """
    span = (last - first).days
    held = int(min(horizon_days, span / 2))
    if held < 1:
        raise InputError(
            f"purchases span {span} day(s), too few to hold some out and compare models. "
            "Fix: choose a model (--model bgnbd) instead of auto"
        )
    return last - _dt.timedelta(days=held)


@dataclass
class ModelComparison:
    """Purchase models fitted to one calibration period and compared on its holdout.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per candidate, in the order given: ``model`` (name), ``label``,
        ``status`` (``fitted``, ``skipped`` or ``failed``), ``log_likelihood`` (of the
        calibration data; BG/BB's is of another summary, so not comparable), ``mae``,
        ``rmse``, ``bias``, ``predicted`` and ``actual`` (holdout totals),
        ``aggregate_error``, ``abs_aggregate_error``, ``decile_error`` (mean absolute gap
        between the deciles' mean forecast and mean actual), ``rank`` (mean rank over the
        rule's criteria), ``chosen``, ``seconds`` (fit) and ``note`` (why a model was
        skipped or failed, or what its fit warned about).
    deciles : pandas.DataFrame
        :func:`decile_calibration` of every fitted model, with a ``model`` column.
    tracking : pandas.DataFrame
        :func:`~segwise.clv.tracking` of every fitted model, with a ``model`` column.
    chosen : str
        Name of the model the rule picked.
    reason : str
        The choice in a sentence, with the rule.
    period : Period
        Calibration and holdout periods.
    models : dict of str to fitted model
        The fitted candidates.
    summaries : dict of str to pandas.DataFrame
        The summaries the models were fitted to, by model name.
    """

    table: pd.DataFrame
    deciles: pd.DataFrame
    tracking: pd.DataFrame
    chosen: str
    reason: str
    period: Period
    models: dict[str, PurchaseModel] = field(repr=False)
    summaries: dict[str, pd.DataFrame] = field(repr=False)


def compare_purchase_models(
    source: Any,
    *,
    calibration_end: Any,
    holdout_end: Any = None,
    unit: str = "W",
    models: Sequence[str] = CANDIDATES,
    columns: Mapping[str, str] | None = None,
    read: ReadOptions | None = None,
) -> ModelComparison:
    """Fit purchase models to a calibration period and compare them on its holdout.

    Parameters
    ----------
    source : CleanedLines, Transactions, ibis.Table, str, Path or table in memory
        The order lines (a file or a DataFrame of raw lines is loaded and cleaned).
    calibration_end : date or str
        Last calibration day; later purchases (to ``holdout_end``) are the holdout.
    holdout_end : date or str, optional
        Last holdout day; the last purchase day when omitted.
    unit : {"D", "W", "M", "Q", "Y"}, default="W"
        Model time unit (BG/BB's transaction opportunity).
    models : sequence of str, default=CANDIDATES
        Names from :data:`PURCHASE_MODELS`.

    columns : mapping of role to column name, optional
        Raw lines' columns by role, for names segwise does not recognise
        (``{"timestamp": "ts"}``; see :func:`order_source`).
    read : ReadOptions, optional
        How a file of raw lines is read (``ReadOptions(decimal=",")``).

    Returns
    -------
    ModelComparison
        The comparison table, deciles, tracking and the choice by :data:`SELECTION_RULE`.

    Raises
    ------
    InputError
        If there is no holdout, or no candidate could be fitted.

    Notes
    -----
    BG/BB counts periods with a purchase, not purchases. It is compared only when the two
    coincide: when no customer bought on two days of one period, calibration or holdout
    (yearly donations, a weekly subscription box). Otherwise it is listed as skipped,
    with the number of customers who did.
    """
    unknown = [m for m in models if m not in PURCHASE_MODELS]
    if unknown or not models:
        raise ConfigError(f"models {unknown or list(models)}: choose from "
                          f"{', '.join(PURCHASE_MODELS)}")
    source = order_source(source, columns, read)
    summary = btyd_summary(source, calibration_end=calibration_end, holdout_end=holdout_end,
                           unit=unit)
    period = Period.from_attrs(summary.attrs)
    if period.holdout_end is None:
        raise InputError(
            f"no purchases follow the calibration end {period.calibration_end}, so there is "
            "no holdout to compare models on. Fix: choose an earlier calibration end"
        )
    daily = occasion_counts(source, summary)
    actual = summary["frequency_holdout"].to_numpy()
    purpose = "tell the models apart" if len(set(models)) > 1 else "judge the forecast by"
    few = _few_holdout_purchases(int(actual.sum()), period.calibration_end, period.holdout_end,
                                 purpose)
    if few:
        warnings.warn(few, SegwiseWarning, stacklevel=2)
    rows: list[dict[str, Any]] = []
    deciles, tracks = [], []
    fitted: dict[str, PurchaseModel] = {}
    summaries: dict[str, pd.DataFrame] = {}
    discrete: pd.DataFrame | None = None
    for name in dict.fromkeys(models):
        est = PURCHASE_MODELS[name]()
        row: dict[str, Any] = {"model": name, "label": est.display_name}
        s = summary
        if name in DISCRETE_MODELS:
            if discrete is None:
                discrete = btyd_summary(source, calibration_end=period.calibration_end,
                                        holdout_end=period.holdout_end, unit=unit,
                                        discrete=True)
            s = discrete
            shared = buying_twice_a_period(s, summary)
            if shared:
                rows.append({**row, "status": "skipped", "note": (
                    f"not discrete-time data at unit {period.unit}: {shared:,} "
                    "customers bought on two days of one period, so its periods with a "
                    "purchase are not purchases")})
                continue
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                est.fit(s["frequency"], s["recency"], s["T"])
            except ValueError as exc:
                rows.append({**row, "status": "failed", "note": str(exc)})
                continue
        seconds = time.perf_counter() - start
        predicted = est.predict_purchases(period.holdout_duration, s["frequency"],
                                          s["recency"], s["T"])
        dec = decile_calibration(predicted, actual)
        notes = list(dict.fromkeys(str(w.message) for w in caught))
        rows.append({
            **row, "status": "fitted", "log_likelihood": est.log_likelihood_,
            **holdout_errors(predicted, actual),
            "decile_error": float((dec["predicted"] - dec["actual"]).abs().mean()),
            "seconds": seconds, "note": "; ".join(notes),
        })
        deciles.append(dec.assign(model=name))
        tracks.append(tracking(est, s, daily).assign(model=name))
        fitted[name], summaries[name] = est, s
    if not fitted:
        fixes = []
        if any(r["status"] == "skipped" for r in rows):
            fixes.append("a shorter unit (one purchase at most per period) or a "
                         "continuous-time model (bgnbd, mbgnbd, pareto_nbd)")
        if any(r["status"] == "failed" for r in rows):
            fixes.append("a longer calibration period or more customers")
        # Models failing for one reason are named together, the reason said once.
        reasons: dict[str, list[str]] = {}
        for r in rows:
            reasons.setdefault(r["note"].removeprefix(f"{r['label']} "), []).append(r["label"])
        raise InputError(
            "no purchase model could be fitted: "
            + "; ".join(f"{', '.join(labels)}: {why}" for why, labels in reasons.items())
            + f". Fix: use {' or '.join(fixes)}"
        )
    table = _rank(pd.DataFrame(rows))
    chosen = str(table.loc[table["chosen"], "model"].iloc[0])
    return ModelComparison(
        table=table,
        deciles=pd.concat(deciles, ignore_index=True),
        tracking=pd.concat(tracks, ignore_index=True),
        chosen=chosen,
        reason=_reason(table, period) + (
            f" But the holdout holds only {int(actual.sum()):,} repeat purchase(s): too few "
            f"to {purpose}." if few else ""),
        period=period,
        models=fitted,
        summaries=summaries,
    )


def buying_twice_a_period(discrete: pd.DataFrame, summary: pd.DataFrame) -> int:
    """Count the customers whose periods with a purchase are fewer than their purchases.

    ``discrete`` and ``summary`` are the discrete and the continuous summary of one log
    and period (the same customers, in the same order), in calibration or holdout.
    """
    shared = discrete["frequency"] != summary["frequency"]
    if "frequency_holdout" in discrete.columns:
        shared |= discrete["frequency_holdout"] != summary["frequency_holdout"]
    return int(shared.sum())


def _few_holdout_purchases(
    total: int, calibration_end: _dt.date, holdout_end: _dt.date, purpose: str
) -> str:
    """Say that a holdout holds too few purchases for ``purpose`` ('' when enough)."""
    if total >= MIN_HOLDOUT_PURCHASES:
        return ""
    days = (holdout_end - calibration_end).days
    chance = (f"a total of {total:,} varies by about {1 / total ** 0.5:.0%} by chance; "
              f"at {MIN_HOLDOUT_PURCHASES} it is 10 %" if total else "nothing to compare")
    return (
        f"the holdout ({days:,} day(s), {calibration_end + _dt.timedelta(1)} to "
        f"{holdout_end}) holds {total:,} repeat purchase(s), too few to "
        f"{purpose} ({chance}). Fix: a longer holdout: an earlier calibration end, or "
        "without one a longer horizon (the holdout is as long as the horizon, at most half "
        "the log)"
    )


def _tolerant_rank(values: pd.Series, rel: float = TIE_TOLERANCE) -> pd.Series:
    """Rank ascending ("min" method), values within ``rel`` of a better one ranking equal.

    Models that found the same optimum (on Online Retail, BG/NBD, MBG/NBD and Pareto/NBD
    all collapse to the NBD) differ in the seventh digit: rounding noise, not a ranking.
    """
    ranks = pd.Series(np.nan, index=values.index)
    start, rank = np.nan, 0
    for position, (label, value) in enumerate(values.dropna().sort_values(kind="stable").items()):
        if position == 0 or value - start > rel * max(abs(start), 1e-12):
            start, rank = value, position + 1
        ranks[label] = rank
    return ranks


def _rank(table: pd.DataFrame) -> pd.DataFrame:
    """Apply :data:`SELECTION_RULE`: mean tolerant rank over the criteria, then the ties."""
    columns = ["model", "label", "status", "log_likelihood", "mae", "rmse", "bias",
               "predicted", "actual", "aggregate_error", "abs_aggregate_error",
               "decile_error", "rank", "chosen", "seconds", "note"]
    table = table.reindex(columns=columns)
    table["abs_aggregate_error"] = table["aggregate_error"].abs()
    ok = table.index[table["status"] == "fitted"]
    ranks = pd.DataFrame({c: _tolerant_rank(table.loc[ok, c]) for c in _CRITERIA})
    table.loc[ok, "rank"] = ranks.mean(axis=1)
    order = pd.DataFrame({"rank": table.loc[ok, "rank"], "mae": ranks["mae"],
                          "listed": np.arange(len(ok))}, index=ok)
    best = order.sort_values(["rank", "mae", "listed"]).index[0]
    table["chosen"] = table.index == best
    table["note"] = table["note"].fillna("")
    return table


def _reason(table: pd.DataFrame, period: Period) -> str:
    """Say which model won, on which criteria, and by which rule."""
    ok = table[table["status"] == "fitted"].set_index("model")
    win = ok.loc[ok["chosen"]].iloc[0]
    ranks = pd.DataFrame({c: _tolerant_rank(ok[c]) for c in _CRITERIA})
    sole = [text for col, text in _CRITERIA.items()
            if ranks.loc[win.name, col] == 1 and (ranks[col] == 1).sum() == 1]
    tied = [ok.loc[m, "label"] for m in ok.index
            if m != win.name and (ranks.loc[m] == ranks.loc[win.name]).all()]
    others = [f"{ok.loc[m, 'label']} {ok.loc[m, 'mae']:.3f}" for m in ok.index if m != win.name]
    holdout = f"the holdout {period.calibration_end + _dt.timedelta(1)} to {period.holdout_end}"
    how = (f"was checked on {holdout} (the only model asked for)" if len(table) == 1
           else f"was chosen on {holdout} by {SELECTION_RULE}")
    return (
        f"{win['label']} {how}: mean absolute error "
        f"{win['mae']:.3f} purchases per customer"
        + (f" (against {', '.join(others)})" if others else "")
        + f", aggregate error {win['aggregate_error']:+.1%}, decile error "
        f"{win['decile_error']:.3f}"
        + (f"; it alone is best on {_and(sole)}" if sole and len(ok) > 1 else "")
        + (f"; {_and(tied)} {'is' if len(tied) == 1 else 'are'} level with it on every "
           "criterion (the same fit), and it is listed first" if tied else "")
        + "."
    )
