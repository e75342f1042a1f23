"""Score new customers from order lines held in memory: what a web request brings.

The lines go through the same cleaning rules and early features as a file does
(:class:`~segwise.clean._memory.LineCleaner` and
:func:`~segwise.predict._features.early_rows`: the engine's values, taken in memory);
many customers are scored in one call, so a server batches requests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from segwise._engine import duckdb_connection
from segwise.clean import CleaningRules, clean_transactions
from segwise.clean._memory import LineCleaner
from segwise.io import STANDARD_COLUMNS, ColumnRoles, Transactions
from segwise.predict._fast import fast_predict_proba
from segwise.predict._features import early_feature_columns, early_rows

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from segwise.predict._train import TrainedAssigner

__all__ = ["OrderScorer", "order_line_columns", "order_lines_table"]

_ARROW = {"string": pa.string(), "timestamp": pa.timestamp("us"), "float64": pa.float64()}
#: The order-line schema the scorer takes.
LINE_SCHEMA = pa.schema([(c, _ARROW[t]) for c, t in STANDARD_COLUMNS.items()])


def order_line_columns(customers: Mapping[str, Sequence[Mapping[str, Any]]]
                       ) -> dict[str, list[Any]]:
    """Order lines of several customers as columns of the standard names (plain lists).

    Parameters
    ----------
    customers : mapping of str to sequence of mappings
        Customer id to lines, each with ``order_id``, ``timestamp`` (datetime),
        ``quantity``, ``unit_price`` and optionally ``product_id``, ``description`` and
        ``country``.

    Returns
    -------
    dict of str to list
        Columns of :data:`segwise.io.STANDARD_COLUMNS`; ``revenue`` is quantity times
        unit price; times without a zone.
    """
    rows: dict[str, list[Any]] = {c: [] for c in STANDARD_COLUMNS}
    for customer, lines in customers.items():
        for line in lines:
            ts = line["timestamp"]
            rows["customer_id"].append(customer)
            rows["order_id"].append(str(line["order_id"]))
            rows["ts"].append(ts.replace(tzinfo=None) if isinstance(ts, dt.datetime) else ts)
            rows["quantity"].append(float(line["quantity"]))
            rows["unit_price"].append(float(line["unit_price"]))
            rows["revenue"].append(float(line["quantity"]) * float(line["unit_price"]))
            for col in ("product_id", "description", "country"):
                rows[col].append(line.get(col))
    return rows


def order_lines_table(customers: Mapping[str, Sequence[Mapping[str, Any]]]) -> pa.Table:
    """:func:`order_line_columns` as a table of :data:`LINE_SCHEMA`."""
    return pa.Table.from_pydict(order_line_columns(customers), schema=LINE_SCHEMA)


class OrderScorer:
    """Assign new customers to segments from order lines in memory.

    Each call applies the cleaning rules and takes the early features of the call's
    lines in memory (the engine's values, without its fixed cost per statement), and the
    model's probabilities from
    :func:`~segwise.predict._fast.fast_predict_proba` (the estimator's numbers without its
    fixed cost per call). (Models with product-category features take the general path,
    :meth:`TrainedAssigner.assign`, each time.)

    Parameters
    ----------
    trained : TrainedAssigner
        The saved model.
    rules : CleaningRules, optional
        The cleaning rules; the defaults. The outlier rule is always off: its threshold is
        relative to a whole file, and a request holds a few lines.

    Examples
    --------
    >>> scorer = OrderScorer(TrainedAssigner.load("assigner.skops"))   # doctest: +SKIP
    >>> scorer.score(order_lines_table({"c1": [...]}))                   # doctest: +SKIP
    """

    def __init__(self, trained: TrainedAssigner, *, rules: CleaningRules | None = None) -> None:
        self.trained = trained
        self.rules = dataclasses.replace(rules or CleaningRules(), outliers=False)
        self._backend = duckdb_connection()
        # Each call's Arrow lines are registered under this name (general path); the
        # cleaning below is built over it once, with the schema's empty table standing in.
        self._backend.con.register("_request_lines", LINE_SCHEMA.empty_table())
        roles = ColumnRoles({c: c for c in ("customer_id", "timestamp", "order_id", "quantity",
                                            "unit_price", "product_id", "description",
                                            "country")})
        nothing = pa.table({"row": pa.array([], pa.int64()), "reason": pa.array([], pa.string())})
        tx = Transactions(table=self._backend.table("_request_lines"), quarantine_table=nothing,
                          n_input=0, source="request", roles=roles, backend=self._backend)
        self._kept = clean_transactions(tx, self.rules).kept
        # A request's few lines: an engine's fixed cost per statement (binding and
        # planning) would be most of the request's, so the rules and the early features
        # are applied to the lines in memory, with the engine's values (`LineCleaner`,
        # `early_rows`). Models with product-category features take the general path.
        self._cleaner = (LineCleaner(self.rules, self._backend.con)
                         if trained.categories is None else None)
        self._proba = fast_predict_proba(trained.estimator)

    @property
    def segments(self) -> list[str]:
        """The segments the model assigns, in its order."""
        return [str(c) for c in self.trained.estimator.classes_]

    def score(self, lines: pa.Table | Mapping[str, Sequence[Any]], *,
              as_of: dt.datetime | None = None) -> pd.DataFrame:
        """Assign every customer of ``lines``.

        Parameters
        ----------
        lines : pyarrow.Table or mapping of str to sequence
            Order lines: :func:`order_lines_table`, or its columns
            (:func:`order_line_columns`).
        as_of : datetime, optional
            End of observation; the last line's time when omitted.

        Returns
        -------
        pandas.DataFrame
            As :meth:`TrainedAssigner.assign` with ``incomplete="score"``: one row per
            customer with at least one purchase left after cleaning.

        Raises
        ------
        InputError
            If a line lacks its customer, order or time, or its quantity or unit price is
            missing or not finite.
        """
        import pandas as pd

        scored = self._score(lines, as_of)
        return scored if isinstance(scored, pd.DataFrame) else pd.DataFrame(scored)

    def score_records(self, lines: pa.Table | Mapping[str, Sequence[Any]], *,
                      as_of: dt.datetime | None = None) -> list[dict[str, Any]]:
        """:meth:`score` as one dict of plain Python values per customer (what a server sends).

        The same rows as ``score(...).to_dict("records")`` without building the frame.
        """
        scored = self._score(lines, as_of)
        if not isinstance(scored, dict):
            return scored.to_dict("records")
        names = list(scored)
        return [dict(zip(names, row, strict=True))
                for row in zip(*(scored[c].tolist() for c in names), strict=True)]

    def _score(self, lines: pa.Table | Mapping[str, Sequence[Any]], as_of: dt.datetime | None
               ) -> pd.DataFrame | dict[str, np.ndarray]:
        """Score ``lines``: column arrays on the fast path, a frame on the general one."""
        import pandas as pd

        columns = lines.cast(LINE_SCHEMA).to_pydict() if isinstance(lines, pa.Table) else lines
        _check_lines(columns)
        if as_of is None:
            as_of = max(columns["ts"], default=None) or dt.datetime.now()
        if self._cleaner is None:
            # The general path's lazy table reads this call's lines.
            self._backend.con.register("_request_lines",
                                       pa.Table.from_pydict(dict(columns), schema=LINE_SCHEMA))
            return self.trained.assign(self._kept, as_of=as_of, incomplete="score")
        kept = self._cleaner.kept(columns)
        early = early_feature_columns(early_rows(kept, self.trained.window),
                                      self.trained.window, pd.Timestamp(as_of).to_datetime64())
        return self.trained.assign_columns(early, predict_proba=self._proba)


def _check_lines(columns: Mapping[str, Sequence[Any]]) -> None:
    """Refuse lines the cleaning rules do not expect: a missing key or time, odd numbers."""
    from segwise.exceptions import InputError

    for col in ("customer_id", "order_id", "ts", "quantity", "unit_price"):
        bad = sum(v is None or (isinstance(v, float) and not math.isfinite(v))
                  for v in columns[col])
        if bad:
            raise InputError(f"order lines: {bad} line(s) with a missing or non-finite {col}; "
                             "every line needs a customer, order, time, quantity and unit price")
