"""``segwise clv``: expected purchases, P(alive), spend and lifetime value per customer."""

from __future__ import annotations

import contextlib
import datetime as dt
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from segwise.cli._app import (
    ConfigOpt,
    EngineChoice,
    EngineOpt,
    KeepFormulasOpt,
    MasterOpt,
    MemoryOpt,
    OrderLinesArg,
    StoreOpt,
    app,
    console,
    handle_errors,
    notice,
    progress,
    read_day,
    run_with_progress,
    save_run,
)
from segwise.exceptions import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd

    from segwise.clv import CLVResult, ModelComparison


def _above_zero(value: float) -> float:
    if value <= 0:
        raise typer.BadParameter(f"{value} is not above 0.")
    return value


@contextlib.contextmanager
def said_after() -> Iterator[None]:
    """Hold the warnings of a step behind a progress display, then say each once.

    They are said even when the step fails: they explain the error that follows them.
    A step that summarises the same lines twice (a holdout check, then the forecast)
    warns twice of the same thing; it is said once.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            yield
        finally:
            for message in dict.fromkeys(str(w.message) for w in caught
                                         if issubclass(w.category, UserWarning)):
                notice("warning", message)


def check_length(
    value: str | None, *, max_years: float | None = None, longer: str = ""
) -> str | None:
    """Check a length of time (``--horizon``, ``--window``) while the options are read.

    Over ``max_years`` years is refused, ``longer`` saying why and the fix.
    """
    from segwise._time import parse_horizon

    if value is None:
        return value
    try:
        years = parse_horizon(value, "Y")
    except ConfigError:
        raise typer.BadParameter(
            f"{value!r} is not a length of time above 0 with a unit (d, w, m or y). Fix: "
            "write a number above 0 and a unit, e.g. 12m, 52w, 90d or 1y"
        ) from None
    if max_years is not None and years > max_years:
        raise typer.BadParameter(f"{value!r} is over {max_years:g} years, {longer}")
    return value


def _check_horizon(value: str | None) -> str | None:
    """Check ``--horizon``: a length of time, and no longer than the models forecast."""
    from segwise.clv import MAX_HORIZON_YEARS

    return check_length(
        value, max_years=MAX_HORIZON_YEARS,
        longer="longer than segwise forecasts (at 10 %/year the later months add under a "
               f"thousandth of the value). Fix: at most {MAX_HORIZON_YEARS:g}y")


def check_window(value: str | None) -> str | None:
    """Check ``--window``: a length of time, and no longer than any history."""
    from segwise.track import MAX_WINDOW_YEARS

    return check_length(
        value, max_years=MAX_WINDOW_YEARS,
        longer="longer than any history. Fix: leave out --window to use all history")


def _check_unit(value: str) -> str:
    from segwise._time import unit_days

    try:
        unit_days(value)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


# Lifetime-value settings shared by ``segwise clv`` and ``segwise report``.
HorizonOpt = Annotated[str, typer.Option(
    "--horizon", callback=_check_horizon,
    help="Lifetime-value forecast horizon: 12m, 52w, 90d, 1y.")]
DiscountRateOpt = Annotated[float, typer.Option(
    "--discount-rate", min=0.0, max=1.0,
    help="Annual discount rate of the lifetime value (0.1 = 10 %/year).")]
MarginOpt = Annotated[float, typer.Option(
    "--margin", min=0.0, max=1.0, callback=_above_zero,
    help="Profit share of spend in the lifetime value, above 0 and at most 1 (1 = revenue).")]


def _table(
    frame: pd.DataFrame, title: str, formats: dict[str, str], labels: dict[str, str] | None = None
) -> Table:
    table = Table(title=title, title_justify="left")
    labels = labels or {}
    for col in frame.columns:
        table.add_column(labels.get(col, col), justify="right" if col in formats else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(
            format(v, formats[c]) if c in formats and v == v else str(v)  # NaN prints as nan
            for c, v in zip(frame.columns, row, strict=True)
        ))
    return table


def print_clv(result: CLVResult, segments: pd.DataFrame | None) -> None:
    """Print the parameters, the value by segment and the holdout check."""
    p = result.period
    console.print(
        "; ".join(f"{what}: {value}" for what, value in result.settings())
        + (f" ({result.n_excluded:,} first bought later: left out)" if result.n_excluded else ""),
        highlight=False,
    )
    num = {"estimate": ".4g", "std_error": ".3g", "lower": ".4g", "upper": ".4g"}
    console.print(_table(result.parameters(), "Model parameters", num))
    if segments is not None:
        fmt = {"n_customers": ",", "share_customers": ".1%", "clv": ",.0f", "share_clv": ".1%",
               "mean_clv": ",.2f", "mean_p_alive": ".2f", "value_at_risk": ",.0f",
               "share_value_at_risk": ".1%"}
        labels = {"n_customers": "Customers", "share_customers": "Share", "clv": "CLV",
                  "share_clv": "CLV share", "mean_clv": "Mean CLV", "mean_p_alive": "P(alive)",
                  "value_at_risk": "At risk", "share_value_at_risk": "Risk share"}
        console.print(_table(segments, "Future value by segment", fmt, labels))
    if result.comparison is not None:
        print_comparison(result.comparison)
    holdout = result.calibration_holdout
    if holdout is None and result.comparison is not None:
        from segwise.clv import calibration_holdout

        c = result.comparison
        holdout = calibration_holdout(c.models[c.chosen], c.summaries[c.chosen])
        p = c.period
    if holdout is not None:
        fmt = {"n_customers": ",", "actual": ".3f", "predicted": ".3f"}
        start = p.calibration_end + dt.timedelta(days=1)  # the calibration end is learned from
        console.print(_table(holdout, f"Holdout purchases per customer by calibration "
                                      f"frequency ({start} to {p.holdout_end})", fmt))
    for note in result.notes:
        notice("note", note)


def print_comparison(comparison: ModelComparison) -> None:
    """Print the purchase models' holdout comparison and why one was chosen."""
    t = comparison.table
    fitted = t[t["status"] == "fitted"]
    single = len(t) == 1  # one model checked, not a choice
    frame = fitted.assign(chosen=fitted["chosen"].map({True: "<- chosen", False: ""}))[
        ["label", "mae", "rmse", "bias", "predicted", "actual", "aggregate_error",
         "decile_error", *([] if single else ["rank", "chosen"])]]
    fmt = {"mae": ".3f", "rmse": ".3f", "bias": "+.3f", "predicted": ",.0f", "actual": ",.0f",
           "aggregate_error": "+.1%", "decile_error": ".3f", "rank": ".2f"}
    labels = {"label": "Model", "mae": "MAE", "rmse": "RMSE", "predicted": "Predicted",
              "actual": "Actual", "aggregate_error": "Aggregate error",
              "decile_error": "Decile error", "rank": "Mean rank", "chosen": ""}
    p = comparison.period
    start = p.calibration_end + dt.timedelta(days=1)
    what = "The purchase model" if single else "Purchase models"
    console.print(_table(frame, f"{what} on the holdout ({start} to {p.holdout_end}, "
                                "purchases per customer)", fmt, labels))
    for row in t[t["note"] != ""].itertuples():
        console.print(f"  {row.label} ({row.status}): {row.note}", highlight=False)
    console.print(comparison.reason, highlight=False)


@app.command()
@handle_errors
def clv(
    input: OrderLinesArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Customer table to write "
                                                                "(.parquet or .csv).")],
    calibration_end: Annotated[dt.date | None, typer.Option(
        "--calibration-end", parser=read_day, metavar="YYYY-MM-DD",
        help="Last day the models learn from (YYYY-MM-DD); the last purchase day if omitted. "
             "Later purchases form the holdout that checks the forecast.")] = None,
    horizon: HorizonOpt = "12m",
    unit: Annotated[str, typer.Option(
        "--unit", callback=_check_unit,
        help="Model time unit: D, W, M, Q or Y (days .. years).")] = "W",
    discount_rate: DiscountRateOpt = 0.10,
    margin: MarginOpt = 1.0,
    model: Annotated[str, typer.Option(
        "--model", help="Purchase model: bgnbd (fast), mbgnbd (one-time buyers may be "
                        "gone), pareto_nbd (customers may leave at any time), bgbb "
                        "(discrete time: one opportunity per --unit), or auto (all compared "
                        "on a holdout, the best by a declared rule).")] = "bgnbd",
    config: ConfigOpt = None,
    engine: EngineOpt = EngineChoice.duckdb,
    spark_master: MasterOpt = None,
    memory_limit: MemoryOpt = None,
    keep_formulas: KeepFormulasOpt = False,
    store: StoreOpt = None,
) -> None:
    """Forecast purchases, P(alive), spend and discounted lifetime value per customer.

    Fits a purchase model (BG/NBD by default; --model auto compares them on a holdout
    and picks one) and Gamma-Gamma to the calibration period, joins the values to the RFM
    segments and writes one row per customer; the parameters (and, with a holdout, the
    calibration/holdout and tracking tables; with auto, the model comparison) go to CSV
    files beside OUTPUT. Without --calibration-end the model is first checked on a holdout
    as long as the horizon (the "models" files), then learns from every purchase. A fit
    with no measurable dropout is said in words, and value at risk is then not ranked.
    """
    from segwise.clv import PURCHASE_MODELS, customer_value, value_by_segment
    from segwise.store import TABLE_SUFFIXES, beside, check_output, write_tables

    # Typos fail now, not after the data are read.
    if model not in (*PURCHASE_MODELS, "auto"):
        raise ConfigError(f"--model {model!r}: choose one of {', '.join(PURCHASE_MODELS)}, auto")
    side = {name: beside(output, f".{name}.csv")
            for name in ("params", "segments", "holdout", "tracking", "models",
                         "models-deciles", "models-tracking")}
    check_output(output, TABLE_SUFFIXES, side=side.values(), inputs=[input, config])
    rfm = run_with_progress(
        input, config=config, engine=engine, spark_master=spark_master, memory_limit=memory_limit
    )
    with said_after(), progress("Fitting the purchase and spend models"):
        result = customer_value(
            rfm.cleaned,
            calibration_end=calibration_end,
            horizon=horizon,
            unit=unit,
            discount_rate=discount_rate,
            margin=margin,
            model=model,
            holdout_check=True,
        )
    # The BTYD summary's names would clash with RFM's (frequency counts orders there).
    values = result.customers.drop(columns=["first_purchase", "last_purchase"]).rename(
        columns={c: f"btyd_{c}" for c in ("frequency", "recency", "T", "monetary_value",
                                            "frequency_holdout", "monetary_value_holdout")}
    )
    if result.degenerate:
        # Near-certain "alive" for everyone is the boundary talking, not the customers:
        # not written, as it is not shown, ranked or stored.
        values = values.drop(columns=["p_alive"])
    customers = rfm.customers.merge(values, on="customer_id", how="left")
    segments = (value_by_segment(customers, p_alive_col=None if result.degenerate
                                 else "p_alive") if "segment" in customers else None)
    print_clv(result, segments)
    files = {output: customers, side["params"]: result.parameters()}
    if segments is not None:
        files[side["segments"]] = segments
    if result.calibration_holdout is not None and result.tracking is not None:
        files[side["holdout"]] = result.calibration_holdout
        files[side["tracking"]] = result.tracking
    if result.comparison is not None:
        c = result.comparison
        files[side["models"]] = c.table
        files[side["models-deciles"]] = c.deciles
        files[side["models-tracking"]] = c.tracking
    for path in write_tables(files, keep_formulas=keep_formulas):
        console.print(f"wrote {path}", highlight=False)
    from segwise.jobs import run_record

    save_run(store, lambda: run_record(rfm, command="clv", job="rfm", clv=result))
