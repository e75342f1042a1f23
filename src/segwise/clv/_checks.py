"""Plain-words checks of a fitted purchase model: boundary fits and what P(alive) can mean.

A maximum-likelihood fit can end on the edge of its parameter space. On Online Retail,
BG/NBD, MBG/NBD and Pareto/NBD all find no dropout (BG/NBD's ``a`` goes to 0): every
customer is "alive" with a probability near 1, the model is a plain NBD, and a value at
risk, ``CLV x (1 - P(alive))``, is a product of near-zero numbers. These checks say so in
words, so that no table ranks such numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from segwise.clv._base import PurchaseModel

__all__ = [
    "DROPOUT_PARAMETER",
    "NO_DROPOUT",
    "UNIDENTIFIED_RATIO",
    "boundary_fit",
    "one_time_buyers_note",
]

#: The parameter whose size sets how readily each model's customers leave.
DROPOUT_PARAMETER = {"BG/NBD": "a", "MBG/NBD": "a", "Pareto/NBD": "s", "BG/BB": "gamma"}
#: A 95 % interval wider than this factor (upper / lower) means the data do not pin the
#: parameter down. Healthy fits (CDNOW) stay under 2; Online Retail's ``a`` spans 5e5.
UNIDENTIFIED_RATIO = 1e3
#: Mean ``1 - P(alive)`` below this means the model sees no dropout at all (CDNOW: 0.2 to
#: 0.6 by model; Online Retail: 0.001 or less).
NO_DROPOUT = 0.01


def _interval(model: PurchaseModel, name: str) -> tuple[float, float, float]:
    """Estimate, lower and upper 95 % bounds of one parameter (NaN when unknown)."""
    row = model.summary().loc[name]
    return float(row["estimate"]), float(row["lower"]), float(row["upper"])


def boundary_fit(model: PurchaseModel, p_alive: Any, *, compared: bool = False) -> str | None:
    """Say, in words, whether a purchase model's fit sits on a boundary with no dropout.

    The fit is degenerate when its dropout parameter (:data:`DROPOUT_PARAMETER`) is not
    identified by the data (no standard error, or a 95 % interval wider than
    :data:`UNIDENTIFIED_RATIO`), or when the mean ``1 - P(alive)`` of the customers is
    below :data:`NO_DROPOUT`. Only the second is "customers never leave"; the first alone,
    with customers who do leave, is said as dropout the data cannot measure.

    Parameters
    ----------
    model : PurchaseModel
        A fitted purchase model.
    p_alive : array-like of shape (n_customers,)
        The model's P(alive) of the customers it was fitted to.
    compared : bool, default=False
        Whether the model already won a comparison on a holdout (then only more history
        is left to suggest).

    Returns
    -------
    str or None
        The finding and what it means for P(alive) and value at risk; ``None`` when the
        fit is not on a boundary.
    """
    alive = np.asarray(p_alive, dtype="float64")
    gone = float(np.mean(1.0 - alive)) if alive.size else 0.0
    name = DROPOUT_PARAMETER.get(model.display_name)
    unidentified = False
    where = ""
    if name is not None:
        estimate, lower, upper = _interval(model, name)
        unidentified = not (np.isfinite(lower) and np.isfinite(upper) and lower > 0
                            and upper / lower <= UNIDENTIFIED_RATIO)
        where = (f"{name} = {estimate:.3g}, " + (
            f"95 % interval {lower:.2g} to {upper:.2g}" if np.isfinite(lower * upper)
            else "no standard error") + "; ")
    if not (unidentified or gone < NO_DROPOUT):
        return None
    fix = ("Fix: use a longer history (the holdout comparison already chose this model)."
           if compared else None)
    if gone >= NO_DROPOUT:  # customers do leave; the data only cannot say how readily
        return (
            f"The {model.display_name} fit is degenerate: the data do not pin down how "
            f"readily customers leave ({where}mean P(alive) {1 - gone:.3f}), so P(alive) "
            "is not reliable and value at risk (CLV x (1 - P(alive))) is not shown or "
            "ranked. " + (fix or "Fix: use a longer history (more time units), or compare "
                                  "models on a holdout (model auto).")
        )
    sure = float(np.mean(alive >= 0.99)) if alive.size else 0.0
    return (
        f"The {model.display_name} fit is degenerate: it sits on the boundary where "
        f"customers never leave ({where}P(alive) is 0.99 or more for {sure:.0%} of "
        f"customers, mean {1 - gone:.3f}). The data do not show dropout that the model can "
        "measure, so lifetime values rest on purchase rates alone and value at risk "
        "(CLV x (1 - P(alive))) is made of near-zero probabilities: it is not shown or "
        "ranked. " + (fix or "Fix: compare models on a holdout (model auto), or use a "
                             "longer history.")
    )


def one_time_buyers_note(model: PurchaseModel, frequency: Any) -> str | None:
    """Explain BG/NBD's P(alive) = 1 for customers who bought once, where it applies.

    Parameters
    ----------
    model : PurchaseModel
        A fitted purchase model.
    frequency : array-like of shape (n_customers,)
        Repeat purchases of each customer in the calibration period.

    Returns
    -------
    str or None
        The explanation with the number of such customers; ``None`` for other models or
        when nobody bought only once.
    """
    if model.display_name != "BG/NBD":
        return None
    x = np.asarray(frequency)
    once = int((x == 0).sum())
    if not once:
        return None
    return (
        f"BG/NBD gives every customer who bought only once P(alive) = 1 by construction (it "
        "lets customers leave only right after a repeat purchase): that holds for "
        f"{once:,} of {x.size:,} customers ({once / x.size:.0%}), whose P(alive) therefore "
        "says nothing. MBG/NBD (model mbgnbd) lets them leave too."
    )
