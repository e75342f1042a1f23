"""Lengths of time and dates as users write them: model units, horizons, ISO days.

Shared by the lifetime-value models and the snapshots; kept apart from both so that
reading a date never imports a model.
"""

from __future__ import annotations

import datetime as _dt
import numbers
import re
from typing import Any

import numpy as np

from segwise.exceptions import ConfigError

__all__ = ["UNITS", "parse_day", "parse_horizon", "to_date", "unit_days"]

#: Days in one time unit of the models.
UNITS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.25 / 12, "Q": 365.25 / 4, "Y": 365.25}

_HORIZON = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dwmy])\s*$", re.IGNORECASE)
_HORIZON_DAYS = {"d": 1.0, "w": 7.0, "m": 365.25 / 12, "y": 365.25}
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DAY_AND_MORE = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]?\S")
_DAY_MONTH = re.compile(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}$")


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


def parse_horizon(
    horizon: str | float, unit: str = "W", name: str = "horizon", *, max_years: float | None = None
) -> float:
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
    max_years : float, optional
        The longest length taken, in years; longer is refused.

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
    if max_years is not None and value * unit_days(unit) > max_years * 365.25:
        raise ConfigError(
            f"{name} {horizon!r}: over {max_years:g} years, longer than segwise takes. "
            f"Fix: a {name} of at most {max_years:g}y"
        )
    return value


def parse_day(text: str, name: str = "date") -> _dt.date:
    """Read a day written as ``YYYY-MM-DD``, the one way segwise takes a date as text.

    Every date a user types (``--as-of``, ``--calibration-end``, ``--dates``, ``--cutoff``,
    a config's dates) is a whole day: the windows they bound are counted in days. So a time
    of day or a time zone is refused rather than dropped, and so is any other layout
    (``01/06/1997`` is the 1st of June or the 6th of January, depending on who wrote it).

    Parameters
    ----------
    text : str
        The day, e.g. ``"1997-06-01"``.
    name : str, default="date"
        What the date is (an option's name), for messages; ``""`` for none.

    Returns
    -------
    datetime.date
        The day.

    Raises
    ------
    ConfigError
        If ``text`` is not ``YYYY-MM-DD``, has a time or time zone after the day, or names
        a day the calendar does not have (``1997-02-30``).

    Examples
    --------
    >>> parse_day("1997-06-01")
    datetime.date(1997, 6, 1)
    """
    what = f"{name} {text!r}" if name else repr(text)
    text = text.strip()
    day = _DAY.match(text)
    if day is None:
        more = _DAY_AND_MORE.match(text)
        if more is not None:
            raise ConfigError(
                f"{what} has a time of day or a time zone after the day: segwise takes whole "
                f"days here (the windows are counted in days). Fix: write the day alone, "
                f"{more[1]}")
        why = (" (day/month or month/day: either reading is a day)"
               if _DAY_MONTH.match(text) else "")
        raise ConfigError(f"{what} is not a date written as YYYY-MM-DD{why}. Fix: write it "
                          "as YYYY-MM-DD, e.g. 1997-06-01")
    try:
        return _dt.date(int(day[1]), int(day[2]), int(day[3]))
    except ValueError as exc:  # 1997-02-30, 1997-13-01, 0000-01-01
        raise ConfigError(f"{what} is not a day of the calendar ({exc}). Fix: give a day "
                          "that exists") from None


def to_date(value: Any, name: str = "date") -> _dt.date:
    """Read a date given as ``date``, ``datetime``, ``Timestamp`` or text (``1997-09-30``).

    Text is read by :func:`parse_day`: ``YYYY-MM-DD`` and nothing else.

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
    if isinstance(value, str):
        return parse_day(value, name)
    if type(value) is _dt.date:  # a datetime, Timestamp or NaT is read below
        return value
    if isinstance(value, numbers.Real):
        # pandas reads a number as nanoseconds since 1970: as_of=20101203 was 1970-01-01.
        digits = str(value)
        example = (f"'{digits[:4]}-{digits[4:6]}-{digits[6:]}'"
                   if isinstance(value, numbers.Integral) and len(digits) == 8 else
                   "'1997-06-01'")
        raise ConfigError(f"{name} {value!r} is a number, not a date. Fix: write it as "
                          f"YYYY-MM-DD, e.g. {example}")
    # pandas reads what else there is (Timestamp, datetime64, datetime); imported here, as
    # a command given a day as text never needs it (0.15 s).
    import pandas as pd

    stamp: Any
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise ConfigError(f"{name} {value!r} is not a date: write it as YYYY-MM-DD")
    return stamp.date()
