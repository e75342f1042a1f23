"""Score new customers from order lines held in memory: what a web request brings.

The lines go through the same cleaning rules and early features as a file does
(:func:`segwise.clean.clean_transactions`, :meth:`TrainedAssigner.assign`), on an
embedded DuckDB; many customers are scored in one call, so a server batches requests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from segwise._engine import duckdb_connection
from segwise.clean import CleaningRules, clean_transactions
from segwise.io import STANDARD_COLUMNS, ColumnRoles, Transactions
from segwise.predict._fast import fast_predict_proba
from segwise.predict._features import early_feature_columns, early_table

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from segwise.predict._train import TrainedAssigner

__all__ = ["OrderScorer", "order_lines_table"]

_ARROW = {"string": pa.string(), "timestamp": pa.timestamp("us"), "float64": pa.float64()}
#: The order-line schema the scorer takes.
LINE_SCHEMA = pa.schema([(c, _ARROW[t]) for c, t in STANDARD_COLUMNS.items()])


def order_lines_table(customers: Mapping[str, Sequence[Mapping[str, Any]]]) -> pa.Table:
    """Order lines of several customers as one table of the standard columns.

    Parameters
    ----------
    customers : mapping of str to sequence of mappings
        Customer id to lines, each with ``order_id``, ``timestamp`` (datetime),
        ``quantity``, ``unit_price`` and optionally ``product_id``, ``description`` and
        ``country``.

    Returns
    -------
    pyarrow.Table
        Columns of :data:`segwise.io.STANDARD_COLUMNS`; ``revenue`` is quantity times
        unit price.
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
    return pa.Table.from_pydict(rows, schema=LINE_SCHEMA)


class OrderScorer:
    """Assign new customers to segments from order lines in memory.

    The cleaning and early-feature query is built and compiled to SQL once; each call
    runs it on the call's lines, and the model's probabilities come from
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

    _STATEMENT = "_early_features"

    def __init__(self, trained: TrainedAssigner, *, rules: CleaningRules | None = None) -> None:
        self.trained = trained
        self.rules = dataclasses.replace(rules or CleaningRules(), outliers=False)
        self._backend = duckdb_connection()
        con = self._backend.con
        # A table, not a view of each call's Arrow table: a prepared statement over a view
        # that is replaced is bound again on every call (~16 ms for this query).
        con.register("_request_schema", LINE_SCHEMA.empty_table())
        con.execute("CREATE TEMP TABLE _request_lines AS SELECT * FROM _request_schema")
        con.unregister("_request_schema")
        roles = ColumnRoles({c: c for c in ("customer_id", "timestamp", "order_id", "quantity",
                                            "unit_price", "product_id", "description",
                                            "country")})
        nothing = pa.table({"row": pa.array([], pa.int64()), "reason": pa.array([], pa.string())})
        tx = Transactions(table=self._backend.table("_request_lines"), quarantine_table=nothing,
                          n_input=0, source="request", roles=roles, backend=self._backend)
        self._kept = clean_transactions(tx, self.rules).kept
        self._sql = (None if trained.categories is not None else
                     str(self._backend.compile(early_table(self._kept, trained.window))))
        if self._sql is not None:
            # A request's few lines: planning, not running, is the query's cost. One
            # thread, no optimizer (the plan as written is as fast on a few thousand
            # lines), and the statement prepared once.
            con.execute("SET threads = 1")
            con.execute("PRAGMA disable_optimizer")
            con.execute(f"PREPARE {self._STATEMENT} AS {self._sql}")
        self._proba = fast_predict_proba(trained.estimator)

    @property
    def segments(self) -> list[str]:
        """The segments the model assigns, in its order."""
        return [str(c) for c in self.trained.estimator.classes_]

    def score(self, lines: pa.Table, *, as_of: dt.datetime | None = None) -> pd.DataFrame:
        """Assign every customer of ``lines``.

        Parameters
        ----------
        lines : pyarrow.Table
            Order lines with the columns of :func:`order_lines_table`.
        as_of : datetime, optional
            End of observation; the last line's time when omitted.

        Returns
        -------
        pandas.DataFrame
            As :meth:`TrainedAssigner.assign` with ``incomplete="score"``: one row per
            customer with at least one purchase left after cleaning.
        """
        import pandas as pd

        scored = self._score(lines, as_of)
        return scored if isinstance(scored, pd.DataFrame) else pd.DataFrame(scored)

    def score_records(self, lines: pa.Table, *, as_of: dt.datetime | None = None
                      ) -> list[dict[str, Any]]:
        """:meth:`score` as one dict of plain Python values per customer (what a server sends).

        The same rows as ``score(...).to_dict("records")`` without building the frame.
        """
        scored = self._score(lines, as_of)
        if not isinstance(scored, dict):
            return scored.to_dict("records")
        names = list(scored)
        return [dict(zip(names, row, strict=True))
                for row in zip(*(scored[c].tolist() for c in names), strict=True)]

    def _score(self, lines: pa.Table, as_of: dt.datetime | None
               ) -> pd.DataFrame | dict[str, np.ndarray]:
        """Score ``lines``: column arrays on the compiled path, a frame on the general one."""
        import pandas as pd
        import pyarrow.compute as pc

        lines = lines.cast(LINE_SCHEMA)
        # The table the compiled query reads now holds this call's lines.
        con = self._backend.con
        con.register("_request_input", lines)
        try:
            con.execute("DELETE FROM _request_lines")
            con.execute("INSERT INTO _request_lines SELECT * FROM _request_input")
        finally:
            con.unregister("_request_input")
        if as_of is None:
            last = pc.max(lines.column("ts")).as_py()
            as_of = last if last is not None else dt.datetime.now()
        if self._sql is None:
            return self.trained.assign(self._kept, as_of=as_of, incomplete="score")
        rows = con.sql(f"EXECUTE {self._STATEMENT}").to_arrow_table().sort_by("customer_id")
        early = early_feature_columns(
            {c: rows.column(c).to_numpy() for c in rows.column_names}, self.trained.window,
            pd.Timestamp(as_of).to_datetime64())
        return self.trained.assign_columns(early, predict_proba=self._proba)
