"""Calibration-versus-holdout checks of a fitted purchase model, as plot-ready tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from segwise.clv._summary import Period, unit_days
from segwise.exceptions import InputError

if TYPE_CHECKING:
    from segwise.clv._base import PurchaseModel

__all__ = ["calibration_holdout", "tracking"]


def calibration_holdout(
    model: PurchaseModel, summary: pd.DataFrame, *, max_frequency: int = 7
) -> pd.DataFrame:
    """Predicted against actual holdout purchases, grouped by calibration frequency.

    Parameters
    ----------
    model : PurchaseModel
        A purchase model fitted to ``summary``.
    summary : pandas.DataFrame
        Output of :func:`btyd_summary` with a holdout period.
    max_frequency : int, default=7
        Frequencies at or above this value form one group, labelled ``"7+"``.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``frequency`` (label), ``n_customers``, ``actual`` and
        ``predicted`` (mean holdout purchases per customer), and the last row ``"all"``
        with the totals' means.

    Raises
    ------
    InputError
        If the summary has no holdout period.
    """
    period = Period.from_attrs(summary.attrs)
    if period.holdout_end is None or "frequency_holdout" not in summary:
        raise InputError(
            "no holdout period: give a calibration end before the last purchase day"
        )
    predicted = model.predict_purchases(
        period.holdout_duration, summary["frequency"], summary["recency"], summary["T"]
    )
    capped = summary["frequency"].clip(upper=max_frequency)
    frame = pd.DataFrame(
        {"group": capped, "actual": summary["frequency_holdout"], "predicted": predicted}
    )
    table = frame.groupby("group").agg(
        n_customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
    )
    labels = [f"{g}+" if g == max_frequency else str(g) for g in table.index]
    table.index = pd.Index(labels, name="frequency")
    total = pd.DataFrame(
        {
            "n_customers": [len(frame)],
            "actual": [frame["actual"].mean()],
            "predicted": [frame["predicted"].mean()],
        },
        index=pd.Index(["all"], name="frequency"),
    )
    return pd.concat([table, total]).reset_index()


def tracking(
    model: PurchaseModel, summary: pd.DataFrame, daily: pd.DataFrame
) -> pd.DataFrame:
    """Cumulative repeat purchases of the cohort, actual against predicted, per time unit.

    The prediction for a calendar date sums ``E[X(t)]``, the expected repeat purchases of a
    new customer after ``t`` units, over customers at their own time since first purchase.

    Parameters
    ----------
    model : PurchaseModel
        A purchase model fitted to ``summary``.
    summary : pandas.DataFrame
        Output of :func:`btyd_summary`.
    daily : pandas.DataFrame
        Daily repeat purchases of the same customers, from :func:`occasion_counts`.

    Returns
    -------
    pandas.DataFrame
        One row per time unit from the first purchase to the end of the holdout (or
        calibration) period: ``period`` (1, 2, ...), ``date`` (the period's last day),
        ``actual`` and ``predicted`` cumulative repeat purchases, and ``holdout`` (bool).
    """
    period = Period.from_attrs(summary.attrs)
    step = unit_days(period.unit)
    start = summary["first_purchase"].min()
    last = pd.Timestamp(period.holdout_end or period.calibration_end)
    n_steps = int(np.ceil(((last - start).days + 1) / step))
    offsets = np.minimum(np.arange(1, n_steps + 1) * step, (last - start).days + 1) - 1
    dates = start + pd.to_timedelta(np.floor(offsets), unit="D")
    # Customers who started on the same day share one curve: evaluate it once per day.
    firsts = summary["first_purchase"].value_counts()
    age = (dates.to_numpy()[:, None] - firsts.index.to_numpy()[None, :]) / np.timedelta64(1, "D")
    expected = model.expected_purchases(np.clip(age, 0.0, None) / step)
    predicted = expected @ firsts.to_numpy(dtype="float64")
    counts = daily.sort_values("day")
    cum = np.concatenate([[0], np.cumsum(counts["repeat_purchases"].to_numpy())])
    actual = cum[np.searchsorted(counts["day"].to_numpy(), dates.to_numpy(), side="right")]
    return pd.DataFrame(
        {
            "period": np.arange(1, n_steps + 1),
            "date": dates,
            "actual": actual.astype("int64"),
            "predicted": predicted,
            "holdout": dates > pd.Timestamp(period.calibration_end),
        }
    )
