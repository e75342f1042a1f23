"""The cleaning audit every source kind reports: where each input row ended, reconciled."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from segwise._engine import numpy_to_arrow

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["LOADER_STEPS", "build_audit", "loader_steps"]

#: The loader's steps, before any cleaning rule, and what each means.
LOADER_STEPS: dict[str, str] = {
    "quarantined": "could not be parsed; written to the quarantine file",
    "after_as_of": "dated after the as-of date: left out, so that nothing later counts",
}


def loader_steps(
    n_quarantined: int, n_after_as_of: int, *, dated: bool = True
) -> tuple[dict[str, int], dict[str, str]]:
    """Return the audit's first steps: rows quarantined, and rows after the as-of date.

    Parameters
    ----------
    n_quarantined : int
        Rows that did not parse.
    n_after_as_of : int
        Rows dated after the as-of date (:attr:`segwise.io.Source.n_after_as_of`).
    dated : bool, default=True
        Whether the kind dates its rows; without a time column there is no as-of step.

    Returns
    -------
    rows : dict of str to int
        Rows per step, in order, for :func:`build_audit`.
    descriptions : dict of str to str
        What each step means.
    """
    rows = {"quarantined": n_quarantined}
    if dated:
        rows["after_as_of"] = n_after_as_of
    return rows, {step: LOADER_STEPS[step] for step in rows}


def build_audit(
    rows: Mapping[str, int],
    descriptions: Mapping[str, str],
    n_input: int,
    metrics: Mapping[str, Mapping[str, float]] | None = None,
) -> pa.Table:
    """Build an audit: one line per step, whose rows add up to the input.

    Parameters
    ----------
    rows : mapping of str to int
        Input rows that ended at each step (``quarantined``, each rule, ``kept``), in order.
    descriptions : mapping of str to str
        What each step means, for every step in ``rows``.
    n_input : int
        Rows read from the source, quarantined ones included.
    metrics : mapping of str to mapping of str to float, optional
        Further columns (``{"revenue": {step: value}}``), between ``rows`` and
        ``description``; NaN (null in the table) where a step has no value.

    Returns
    -------
    pyarrow.Table
        ``step``, ``rows``, the metric columns and ``description``.

    Raises
    ------
    AssertionError
        If the rows do not add up to ``n_input``: that would be a bug, never bad input.
    """
    total = sum(rows.values())
    if total != n_input:  # pragma: no cover - would be a bug in segwise
        raise AssertionError(f"audit does not reconcile: {total} != {n_input}")
    steps = list(rows)
    return numpy_to_arrow({
        "step": np.array(steps, dtype=object),
        "rows": np.array([rows[s] for s in steps], dtype="int64"),
        **{name: np.array([values.get(s, np.nan) for s in steps], dtype="float64")
           for name, values in (metrics or {}).items()},
        "description": np.array([descriptions[s] for s in steps], dtype=object),
    })
