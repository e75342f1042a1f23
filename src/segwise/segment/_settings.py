"""The ``[segment]`` config section: a leaf the config loader imports without scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from segwise._settings import register_section

__all__ = ["MISSING_POLICIES", "SegmentSettings"]

#: What :func:`segwise.segment.segment_customers` may do with a row whose feature is
#: missing (the first is the default): leave it out, fill it with the median, or stop.
MISSING_POLICIES: tuple[str, ...] = ("drop", "median", "refuse")


@dataclass(frozen=True)
class SegmentSettings:
    """Learned segments of an entity table, the ``[segment]`` section of a config file.

    Parameters
    ----------
    missing : {"drop", "median", "refuse"}, default="drop"
        Rows with a missing or infinite feature: left out (counted, and written with the
        reason beside the assignments), filled with the feature's median inside the
        fitted model, or refused (see :func:`segwise.segment.segment_customers`). The
        command's ``--missing`` overrides it.
    """

    missing: Literal["drop", "median", "refuse"] = "drop"


register_section("segment", SegmentSettings)
