"""Lengths of time and dates as users write them: model units, horizons, ISO days.

Shared by the lifetime-value models and the snapshots; kept apart from both so that
reading a date never imports a model.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import numpy as np
import pandas as pd

from segwise.exceptions import ConfigError

__all__ = ["UNITS", "parse_horizon", "to_date", "unit_days"]

#: Days in one time unit of the models.
UNITS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.25 / 12, "Q": 365.25 / 4, "Y": 365.25}

_HORIZON = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dwmy])\s*$", re.IGNORECASE)
_HORIZON_DAYS = {"d": 1.0, "w": 7.0, "m": 365.25 / 12, "y": 365.25}


def unit_days(unit: str) -> float:
    """Return the length of a model time unit in days.

    Parameters
    ----------
    unit : {"D", "W", "M", "Q", "Y"}
        Days, weeks, months (365.25 / 12 days), quarters (365.25 / 4) or years (365.25).

    Returns
    -------
    float
        Days per unit.
    """
    try:
        return UNITS[unit.upper()]
    except (KeyError, AttributeError):
        raise ConfigError(
            f"unknown time unit {unit!r}: use one of {', '.join(UNITS)} "
            "(days, weeks, months, quarters, years)"
        ) from None


def parse_horizon(horizon: str | float, unit: str = "W", name: str = "horizon") -> float:
    """Convert a horizon such as ``"12m"``, ``"52w"``, ``"90d"`` or ``"1y"`` to model units.

    Parameters
    ----------
    horizon : str or float
        A number with a suffix ``d``, ``w``, ``m`` (365.25 / 12 days) or ``y`` (365.25 days),
        or a bare number already in ``unit``.
    unit : {"D", "W", "M", "Q", "Y"}, default="W"
        The model time unit.
    name : str, default="horizon"
        What the value is (an option's name), for messages.

    Returns
    -------
    float
        The horizon in ``unit``.

    Examples
    --------
    >>> parse_horizon("12m", unit="W")
    52.17857142857143
    """
    if isinstance(horizon, int | float) and not isinstance(horizon, bool):
        value = float(horizon)
    else:
        match = _HORIZON.match(str(horizon))
        if match is None:
            raise ConfigError(
                f"{name} {horizon!r}: write a number and a unit, e.g. 12m, 52w, 90d or 1y"
            )
        value = float(match[1]) * _HORIZON_DAYS[match[2].lower()] / unit_days(unit)
    if not value > 0 or not np.isfinite(value):
        raise ConfigError(f"{name} {horizon!r}: must be a positive length of time")
    return value


def to_date(value: Any, name: str = "date") -> _dt.date:
    """Read a date given as ``date``, ``datetime``, ``Timestamp`` or ISO text (``1997-09-30``).

    Parameters
    ----------
    value : date, datetime, Timestamp or str
        The date.
    name : str, default="date"
        What the date is, for the error message.

    Returns
    -------
    datetime.date
        The calendar day.
    """
    stamp: Any
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise ConfigError(f"{name} {value!r} is not a date: write it as YYYY-MM-DD")
    return stamp.date()
