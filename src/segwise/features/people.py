"""People: person-level attributes cleaned and encoded by their feature dictionary.

People are one row per entity already, so their features step is cleaning and encoding:
:class:`PeopleEncoder` (a scikit-learn transformer, see ``docs/people.md``) turns raw
attribute rows into one numeric matrix the same way for a population and for any table
projected onto it.
"""

from __future__ import annotations

from segwise.features._encoder import (
    THRESHOLD_FLOOR,
    ColumnsError,
    PeopleEncoder,
    missing_threshold,
)

__all__ = ["THRESHOLD_FLOOR", "ColumnsError", "PeopleEncoder", "missing_threshold"]
