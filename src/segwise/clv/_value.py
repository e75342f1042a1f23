"""Customer lifetime value from an order log, and value profiles of segments."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segwise._frames import to_pandas
from segwise.clv._base import PurchaseModel
from segwise.clv._checks import boundary_fit, one_time_buyers_note
from segwise.clv._diagnostics import calibration_holdout, tracking
from segwise.clv._gamma_gamma import MIN_REPEAT_BUYERS, GammaGamma
from segwise.clv._select import (
    CANDIDATES,
    DISCRETE_MODELS,
    PURCHASE_MODELS,
    ModelComparison,
    buying_twice_a_period,
    compare_purchase_models,
    selection_split,
)
from segwise.clv._summary import (
    Period,
    btyd_summary,
    occasion_counts,
    order_source,
    parse_horizon,
    purchase_span,
    unit_days,
)
from segwise.exceptions import ConfigError, InputError, SegwiseWarning, columns_fix

if TYPE_CHECKING:
    from segwise.io import ReadOptions

__all__ = [
    "CLV_COLUMNS",
    "MAX_HORIZON_YEARS",
    "NET_SPEND_RULE",
    "CLVResult",
    "customer_value",
    "discounted_clv",
    "value_by_segment",
]

#: How customers whose returns cancel their purchases are valued, in words.
NET_SPEND_RULE = (
    "a customer whose returns cancel their purchases (net spend up to the calibration end, "
    "purchases less returns, is zero or negative: every order returned, say) is valued at "
    "0: expected spend per order 0 and CLV 0; they are left out of the spend model's fit, "
    "while their purchases still inform the purchase model (expected purchases and "
    "P(alive))"
)

#: Model output columns :func:`customer_value` adds to the summary.
CLV_COLUMNS: tuple[str, ...] = ("expected_purchases", "p_alive", "expected_avg_value", "clv")

#: The longest forecast horizon taken, in years. The value is summed month by month, so
#: its cost grows with the horizon; at a 10 % discount rate the months after 100 years
#: add well under a thousandth of the value.
MAX_HORIZON_YEARS = 100.0

_MONTH_DAYS = 365.25 / 12
#: The model time units in words (the cards and summaries say them).
UNIT_NAMES = {"D": "days", "W": "weeks", "M": "months", "Q": "quarters", "Y": "years"}


@dataclass
class CLVResult:
    """Per-customer value and the models behind it.

    Attributes
    ----------
    customers : pandas.DataFrame
        One row per customer of the calibration period, keyed by ``customer_id``: the
        summary columns of :func:`btyd_summary` and :data:`CLV_COLUMNS`.
    purchase_model : PurchaseModel
        The fitted purchase model.
    gamma_gamma : GammaGamma
        The fitted spend model.
    period : Period
        Calibration and holdout periods.
    horizon : float
        Forecast horizon in model units.
    discount_rate : float
        Annual discount rate used for ``clv``.
    n_excluded : int
        Customers left out because their first purchase follows the calibration end.
    calibration_holdout : pandas.DataFrame or None
        Predicted against actual holdout purchases by calibration frequency.
    tracking : pandas.DataFrame or None
        Cumulative repeat purchases, actual against predicted, per time unit.
    n_net_nonpositive : int
        Customers valued at 0 by :data:`NET_SPEND_RULE`.
    comparison : ModelComparison or None
        With ``model="auto"``: the candidates compared on a holdout, and the choice; with
        ``holdout_check=True``: the one model checked on a holdout.
    margin : float
        Profit share of spend used for ``clv``.
    degenerate : str or None
        Why the purchase model's fit is degenerate (:func:`~segwise.clv.boundary_fit`), in
        words; ``None`` when it is not. P(alive) and value at risk are then not to be
        shown or ranked.
    notes : list of str
        What a reader must know to read the values (a degenerate fit, BG/NBD's one-time
        buyers, a holdout check that could not be made), in words.
    """

    customers: pd.DataFrame
    purchase_model: PurchaseModel
    gamma_gamma: GammaGamma
    period: Period
    horizon: float
    discount_rate: float
    n_excluded: int = 0
    calibration_holdout: pd.DataFrame | None = field(default=None, repr=False)
    tracking: pd.DataFrame | None = field(default=None, repr=False)
    n_net_nonpositive: int = 0
    comparison: ModelComparison | None = field(default=None, repr=False)
    margin: float = 1.0
    degenerate: str | None = None
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        # The dataclass repr printed the customers table and every note in full.
        p = self.period
        holdout = f", holdout_end={p.holdout_end.isoformat()}" if p.holdout_end else ""
        return (f"CLVResult({len(self.customers):,} customers, "
                f"model={type(self.purchase_model).__name__}, "
                f"calibration_end={p.calibration_end.isoformat()}{holdout}, "
                f"horizon={self.horizon:g} {p.unit}, total clv={self.customers['clv'].sum():,.2f}"
                f", {len(self.notes)} note(s))")

    def settings(self) -> list[tuple[str, str]]:
        """Return how the values were computed, as (what, value) pairs in words.

        Returns
        -------
        list of tuple of str
            The models, the calibration period, the horizon, the margin and the discount
            rate.
        """
        p = self.period
        days = self.horizon * unit_days(p.unit)
        return [
            ("Models", f"{self.purchase_model.display_name} (purchases) and Gamma-Gamma "
                       "(spend per purchase)"),
            ("Learned from purchases up to", str(p.calibration_end)),
            ("Horizon", f"{self.horizon:.1f} {UNIT_NAMES.get(p.unit, p.unit)} "
                        f"({days / _MONTH_DAYS:.1f} months) after {p.calibration_end}"),
            ("Margin", f"{self.margin:.0%} of spend"
                       + (" (values are revenue)" if self.margin == 1 else " (values are "
                                                                            "profit)")),
            ("Discount rate", f"{self.discount_rate:.1%} a year"),
            ("Customers valued", f"{len(self.customers):,}"),
        ]

    @property
    def by_customer(self) -> pd.DataFrame:
        """:attr:`customers` indexed by ``customer_id``, for pandas work in a notebook.

        ``result.by_customer["clv"]`` is a Series of lifetime values by customer id that
        aligns with any other Series or DataFrame indexed by customer id (a segmentation's
        assignments, say).
        """
        return self.customers.set_index("customer_id")

    def parameters(self) -> pd.DataFrame:
        """Return both models' estimates with standard errors and 95 % intervals.

        Returns
        -------
        pandas.DataFrame
            Columns ``model``, ``parameter``, ``estimate``, ``std_error``, ``lower``, ``upper``.
        """
        parts = [
            m.summary().rename_axis("parameter").reset_index().assign(model=m.display_name)
            for m in (self.purchase_model, self.gamma_gamma)
        ]
        frame = pd.concat(parts, ignore_index=True)
        return frame[["model", "parameter", "estimate", "std_error", "lower", "upper"]]


def discounted_clv(
    model: PurchaseModel,
    expected_value: Any,
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    horizon: float,
    unit: str = "W",
    discount_rate: float = 0.10,
    margin: float = 1.0,
) -> np.ndarray:
    """Discounted value of each customer's expected purchases over a horizon.

    The horizon is cut into steps of at most a month; the purchases expected in step
    ``k`` (ending ``t_k`` after the calibration end) are worth
    ``margin * expected_value / (1 + discount_rate) ** years(t_k)``.

    Parameters
    ----------
    model : PurchaseModel
        Fitted purchase model.
    expected_value : array-like of shape (n_customers,)
        Expected value per purchase (e.g. from :meth:`GammaGamma.expected_average_value`).
    frequency, recency, T : array-like of shape (n_customers,)
        The calibration summary.
    horizon : float
        Horizon in model units, at most :data:`MAX_HORIZON_YEARS` years.
    unit : {"D", "W", "M", "Q", "Y"}, default="W"
        Model time unit.
    discount_rate : float, default=0.10
        Annual discount rate, ``>= 0``.
    margin : float, default=1.0
        Share of spend that is profit; 1 gives discounted revenue.

    Returns
    -------
    numpy.ndarray of shape (n_customers,)
        Discounted lifetime value over the horizon.
    """
    if not (np.isfinite(discount_rate) and discount_rate >= 0):
        raise ConfigError(
            f"discount_rate {discount_rate!r} must be a number >= 0 (0.1 = 10 %/year)"
        )
    if not (np.isfinite(margin) and margin > 0):
        raise ConfigError(f"margin {margin!r} must be a positive share of spend")
    horizon = parse_horizon(horizon, unit, max_years=MAX_HORIZON_YEARS)
    days = unit_days(unit)
    n_steps = max(1, int(np.ceil(horizon * days / _MONTH_DAYS - 1e-9)))
    ends = np.linspace(0.0, horizon, n_steps + 1)
    factors = (1.0 + discount_rate) ** (-ends[1:] * days / 365.25)
    # One month at a time: memory stays one column of customers, whatever the horizon.
    discounted = previous = np.zeros(np.shape(frequency))
    for t, factor in zip(ends[1:], factors, strict=True):
        cumulative = model.predict_purchases(t, frequency, recency, T)
        discounted = discounted + factor * (cumulative - previous)
        previous = cumulative
    return margin * np.asarray(expected_value, dtype="float64") * discounted


def _check_spenders(
    x: np.ndarray, spenders: np.ndarray, bad_spend: np.ndarray, returned: np.ndarray
) -> None:
    """Say why the spend model has too few repeat buyers when spend, not data, is short."""
    repeat = x > 0
    n_fit = int((repeat & spenders).sum())
    if n_fit >= MIN_REPEAT_BUYERS or n_fit == int(repeat.sum()):
        return  # enough, or too few repeat buyers at all: the fit says so
    raise InputError(
        f"cannot fit the spend model: of {int(repeat.sum()):,} repeat buyers only {n_fit} "
        f"spent above 0 (Gamma-Gamma needs {MIN_REPEAT_BUYERS}): "
        f"{int((repeat & bad_spend).sum()):,} spent 0 or less per repeat purchase and "
        f"{int((repeat & returned).sum()):,} returned all they bought. Fix: map the amount "
        "role to the column of what customers paid: " + columns_fix({"amount": "..."})
    )


def _check_repeat_buyers(summary: pd.DataFrame) -> None:
    """Refuse a whole log in which nobody bought again: no model, however split, learns.

    ``summary`` is the BTYD summary of every purchase (no calibration end).
    """
    if not (summary["frequency"] > 0).any():
        raise InputError(
            f"none of the {len(summary):,} customers came back after their first purchase in "
            f"the whole log (to {summary.attrs['calibration_end']}; a customer's orders on "
            "one day, or in one period, are one purchase): a purchase model forecasts repeat "
            "purchases and has none to learn from. Fix: give order lines with customers who "
            "came back")


def customer_value(
    source: Any,
    *,
    calibration_end: Any = None,
    holdout_end: Any = None,
    horizon: str | float = "12m",
    unit: str = "W",
    discount_rate: float = 0.10,
    margin: float = 1.0,
    model: str = "bgnbd",
    holdout_check: bool = False,
    columns: Mapping[str, str] | None = None,
    read: ReadOptions | None = None,
) -> CLVResult:
    """Fit a purchase model and Gamma-Gamma to an order log and value every customer.

    Parameters
    ----------
    source : CleanedLines, Transactions, ibis.Table, str, Path or table in memory
        Order lines (cleaned ones are best: cancellations then never count as orders); a
        file or a DataFrame of raw lines is loaded and cleaned (:func:`order_source`).
    calibration_end : date or str, optional
        Last day the models learn from; the last purchase day when omitted.
    holdout_end : date or str, optional
        Last day of the holdout period (defaults to the last purchase day after a given
        calibration end); with a holdout, the diagnostics are computed.
    horizon : str or float, default="12m"
        Forecast horizon from the calibration end: ``"12m"``, ``"52w"``, ``"90d"``, ``"1y"``,
        or a number of model units.
    unit : {"D", "W", "M", "Q", "Y"}, default="W"
        Model time unit (for BG/BB, the transaction opportunity).
    discount_rate : float, default=0.10
        Annual discount rate of ``clv``.
    margin : float, default=1.0
        Profit share of spend in ``clv``.
    model : {"bgnbd", "mbgnbd", "pareto_nbd", "bgbb", "auto"}, default="bgnbd"
        Purchase model. BG/NBD lets customers leave only right after a repeat purchase,
        and is fast; MBG/NBD also right after the first, so one-time buyers can be gone;
        Pareto/NBD lets them leave at any time; BG/BB is for discrete-time data (one
        opportunity per period). ``"auto"`` compares the candidates on a holdout with
        :func:`compare_purchase_models` and values with the one
        :data:`~segwise.clv.SELECTION_RULE` picks: on the holdout after
        ``calibration_end`` when one is given; otherwise on a holdout as long as the
        horizon (at most half of the purchase span, :func:`selection_split`), after which
        the chosen model is refitted to the whole log.
    holdout_check : bool, default=False
        Without ``calibration_end``, also fit the named model on a holdout split (as
        ``"auto"`` does, :func:`selection_split`) and keep its holdout errors, deciles and
        tracking in ``comparison``, before the forecast learns from everything. When the
        purchases span too little for a holdout, ``notes`` says so.

    columns : mapping of role to column name, optional
        Raw lines' columns by role, for names segwise does not recognise:
        ``columns={"customer_id": "cust", "timestamp": "ts", "amount": "paid"}`` (as
        ``[columns]`` in a config file; see :func:`order_source`).
    read : ReadOptions, optional
        How a file of raw lines is read: ``read=ReadOptions(decimal=",")`` (as ``[read]``
        in a config file).

    Returns
    -------
    CLVResult
        ``customers`` holds, per customer, ``expected_purchases`` over the horizon,
        ``p_alive`` at the calibration end, ``expected_avg_value`` per future purchase and
        the discounted ``clv``; ``comparison`` the model comparison of ``"auto"``.

    Raises
    ------
    InputError
        If too few customers or repeat buyers exist to fit the models, or a role's column
        is not found (its fix names the ``columns=`` to pass).

    Notes
    -----
    Documented treatments of awkward input:

    - Customers whose first purchase follows ``calibration_end`` have no calibration history;
      they are left out (counted in ``n_excluded``, with a warning).
    - Net spend of zero or less: :data:`NET_SPEND_RULE` (counted in ``n_net_nonpositive``,
      with a warning).
    - Other repeat buyers whose mean repeat spend is zero (free repeat orders) are left
      out of the Gamma-Gamma fit, with a warning; their expected value uses a mean of 0,
      which pulls it toward 0 by how often they bought.
    - A base with fewer than 10 customers or repeat buyers is an error: the models cannot
      be identified from it.
    """
    if model != "auto" and model not in PURCHASE_MODELS:
        raise ConfigError(f"model {model!r}: choose one of {', '.join(PURCHASE_MODELS)} or auto")
    horizon_units = parse_horizon(horizon, unit, max_years=MAX_HORIZON_YEARS)
    source = order_source(source, columns, read)
    comparison = None
    notes: list[str] = []
    given = calibration_end is not None
    if model == "auto" or (holdout_check and not given):
        split = calibration_end
        try:
            if not given:
                first, last = purchase_span(source)
                split = selection_split(first, last, horizon_units * unit_days(unit))
            comparison = compare_purchase_models(
                source, calibration_end=split, holdout_end=holdout_end, unit=unit,
                models=CANDIDATES if model == "auto" else (model,))
        except InputError as exc:
            if model == "auto":
                # Its own reason, unless nobody ever came back.
                _check_repeat_buyers(btyd_summary(source, unit=unit))
                raise
            notes.append(f"The forecast could not be checked on a holdout: {exc}")
        if model == "auto" and comparison is not None:
            model = comparison.chosen
        if not given:  # the holdout chose or checked the model; the forecast learns from all
            calibration_end = holdout_end = None
    summary = btyd_summary(source, calibration_end=calibration_end, holdout_end=holdout_end,
                           unit=unit, discrete=model in DISCRETE_MODELS)
    period = Period.from_attrs(summary.attrs)
    if model in DISCRETE_MODELS:
        several = buying_twice_a_period(summary, btyd_summary(
            source, calibration_end=calibration_end, holdout_end=holdout_end, unit=unit))
        if several:
            periods = f"periods ({period.unit})"
            note = (
                f"{PURCHASE_MODELS[model].display_name} counts periods with a purchase, not "
                f"purchases, and {several:,} customers bought on two days or more of one "
                f"period: expected_purchases is the number of {periods} in which they will "
                "buy, expected_avg_value their spend per such period. Fix: to forecast "
                "purchases, a shorter unit (one purchase at most per period) or a "
                "continuous-time model (bgnbd, mbgnbd, pareto_nbd)"
            )
            notes.append(note)
    n_excluded = int(summary.attrs["n_excluded"])
    if n_excluded:
        warnings.warn(
            f"{n_excluded:,} customer(s) first bought after the calibration end "
            f"{period.calibration_end} and get no value (no calibration history)",
            SegwiseWarning,
            stacklevel=2,
        )
    x, t_x, big_t = summary["frequency"], summary["recency"], summary["T"]
    m = summary["monetary_value"].to_numpy()
    returned = (summary["net_spend"].to_numpy() <= 0) & (summary["returns"].to_numpy() < 0)
    if returned.any():
        warnings.warn(
            f"{int(returned.sum()):,} customer(s) returned all they bought by the calibration "
            f"end: {NET_SPEND_RULE}",
            SegwiseWarning,
            stacklevel=2,
        )
    bad_spend = (x.to_numpy() > 0) & (m <= 0) & ~returned
    if bad_spend.any():
        warnings.warn(
            f"{int(bad_spend.sum()):,} repeat buyer(s) have a mean repeat spend <= 0; they are "
            "left out of the spend model and valued with a mean spend of 0",
            SegwiseWarning,
            stacklevel=2,
        )
    spenders = ~(bad_spend | returned)
    _check_spenders(x.to_numpy(), spenders, bad_spend, returned)
    try:
        reused = comparison is not None and comparison.period == period
        purchases: PurchaseModel = (
            comparison.models[model] if comparison is not None and reused
            else PURCHASE_MODELS[model]()
        )
        if not reused:
            purchases.fit(x, t_x, big_t)
        gg = GammaGamma().fit(x[spenders], m[spenders])
        value = np.where(returned, 0.0, gg.expected_average_value(x, np.clip(m, 0.0, None)))
    except ValueError as exc:
        # Nobody ever came back: neither a longer calibration period nor a model helps.
        _check_repeat_buyers(btyd_summary(source, unit=unit) if given else summary)
        # Without a calibration end the models learned from every purchase already: a
        # longer calibration period is no fix.
        raise InputError(
            f"cannot fit the customer-value models: {exc}. Fix: "
            + ("use a longer calibration period or more customers" if given else
               "give order lines with more customers (the models learned from the whole "
               f"log, to {period.calibration_end}, already)")
        ) from exc
    out = summary.copy()
    out["expected_purchases"] = purchases.predict_purchases(horizon_units, x, t_x, big_t)
    out["p_alive"] = purchases.p_alive(x, t_x, big_t)
    out["expected_avg_value"] = value
    out["clv"] = discounted_clv(purchases, value, x, t_x, big_t, horizon=horizon_units, unit=unit,
                                discount_rate=discount_rate, margin=margin)
    out.attrs = dict(summary.attrs)
    degenerate = boundary_fit(purchases, out["p_alive"], compared=comparison is not None
                              and len(comparison.table) > 1)
    notes[:0] = [n for n in (degenerate, one_time_buyers_note(purchases, x)) if n]
    result = CLVResult(out, purchases, gg, period, horizon_units, discount_rate, n_excluded,
                       n_net_nonpositive=int(returned.sum()), comparison=comparison,
                       margin=margin, degenerate=degenerate, notes=notes)
    if period.holdout_end is not None:
        result.calibration_holdout = calibration_holdout(purchases, summary)
        result.tracking = tracking(purchases, summary, occasion_counts(source, summary))
    return result


def value_by_segment(
    customers: Any,
    segment_col: str = "segment",
    *,
    clv_col: str = "clv",
    p_alive_col: str | None = "p_alive",
) -> pd.DataFrame:
    """Profile segments by their share of customers, future value and value at risk.

    Parameters
    ----------
    customers : pandas.DataFrame or table in memory
        One row per customer with a segment label, ``clv`` and ``p_alive`` (e.g. the RFM
        table joined to :attr:`CLVResult.customers`); a polars DataFrame, Arrow or Ibis
        table is read as pandas. Customers without a value (NaN) count as customers but
        add no value.
    segment_col : str, default="segment"
        Column with the segment label.
    clv_col : str, default="clv"
        Column with the lifetime value.
    p_alive_col : str or None, default="p_alive"
        Column with the probability of being active; ``None`` leaves out P(alive) and
        value at risk (when the fit is degenerate, :attr:`CLVResult.degenerate`: they are
        near-zero numbers that no table should rank).

    Returns
    -------
    pandas.DataFrame
        One row per segment, by decreasing value: ``n_customers``, ``share_customers``,
        ``clv`` (sum), ``share_clv``, ``mean_clv``, ``mean_p_alive``, ``value_at_risk``
        (sum of ``clv * (1 - p_alive)``: value expected from customers who may already be
        gone) and ``share_value_at_risk``; the last three only with ``p_alive_col``.
    """
    customers = to_pandas(customers)
    wanted = [c for c in (segment_col, clv_col, p_alive_col) if c is not None]
    missing = [c for c in wanted if c not in customers.columns]
    if missing:
        names = {segment_col: "segment_col", clv_col: "clv_col", p_alive_col: "p_alive_col"}
        fixes = [f"{names[c]}=None (no P(alive) nor value at risk)" if c == p_alive_col else
                 f"{names[c]}= naming its column" for c in missing]
        raise InputError(f"the customer table lacks the column(s) {', '.join(missing)} (it "
                         f"has {', '.join(map(str, customers.columns[:12]))}"
                         f"{', ...' if len(customers.columns) > 12 else ''}). Fix: pass "
                         f"{' and '.join(fixes)}, or join the CLV result's customers first")
    if customers.empty:
        raise InputError("the customer table is empty")
    frame = pd.DataFrame(
        {
            "segment": customers[segment_col].astype("object").fillna("(none)"),
            "clv": customers[clv_col].astype("float64"),
        }
    )
    aggregates: dict[str, tuple[str, str]] = {
        "n_customers": ("clv", "size"), "clv": ("clv", "sum"), "mean_clv": ("clv", "mean")}
    if p_alive_col is not None:
        frame["p_alive"] = customers[p_alive_col].astype("float64")
        frame["at_risk"] = frame["clv"] * (1.0 - frame["p_alive"])
        aggregates.update(mean_p_alive=("p_alive", "mean"), value_at_risk=("at_risk", "sum"))
    table = frame.groupby("segment", sort=False).agg(**aggregates)
    table["share_customers"] = table["n_customers"] / table["n_customers"].sum()
    total = table["clv"].sum()
    table["share_clv"] = table["clv"] / total if total > 0 else np.nan
    columns = ["n_customers", "share_customers", "clv", "share_clv", "mean_clv"]
    if p_alive_col is not None:
        risk = table["value_at_risk"].sum()
        table["share_value_at_risk"] = table["value_at_risk"] / risk if risk > 0 else np.nan
        columns += ["mean_p_alive", "value_at_risk", "share_value_at_risk"]
    table = table.sort_values("clv", ascending=False)[columns]
    return table.rename_axis(segment_col).reset_index()
