"""The RFM job end to end: load, clean with audit, RFM features, scores and named segments."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from segwise._engine import arrow_to_numpy, fetch_numpy, is_missing, numpy_to_arrow
from segwise.clean import CleanedLines, clean_transactions
from segwise.config import SegwiseConfig
from segwise.exceptions import InputError
from segwise.features.rfm import aggregate_customers, finish_rfm, reference_date
from segwise.io import load_transactions, quarantine_frame
from segwise.segment.rfm import fit_bin_edges, name_cells, score_columns
from segwise.store import beside, write_database, write_tables

if TYPE_CHECKING:
    import pandas as pd

    from segwise.segment._scorer import RFMScorer

__all__ = ["RFMResult", "run_rfm"]


def _nothing(step: str) -> None:
    """Default progress callback."""


@dataclass
class RFMResult:
    """Everything one RFM run produced.

    The tables are Arrow tables; :attr:`customers`, :attr:`audit` and :attr:`quarantine`
    are the same as pandas DataFrames, converted on first use (the CLI never needs them,
    and pandas alone takes a sixth of its run time to import).

    Attributes
    ----------
    customers_table : pyarrow.Table
        One row per customer: RFM features, scores, cell, segment and action.
    audit_table : pyarrow.Table
        Rows and revenue per cleaning step; ``rows`` sums to the input row count.
    quarantine_table : pyarrow.Table
        Input rows that could not be parsed, with the reason.
    as_of : date
        Reference date of recency.
    cleaned : CleanedLines
        The cleaned lines, for further features (products, CLV).
    bin_edges : dict of str to ndarray
        The learned score edges; :attr:`scorer` wraps them as a fitted estimator.
    config : SegwiseConfig
        The configuration used.
    """

    customers_table: pa.Table
    audit_table: pa.Table
    quarantine_table: pa.Table
    as_of: dt.date
    cleaned: CleanedLines
    bin_edges: dict[str, np.ndarray]
    config: SegwiseConfig = field(repr=False)

    @functools.cached_property
    def customers(self) -> pd.DataFrame:
        """:attr:`customers_table` as pandas; ``attrs["as_of"]`` holds the reference date."""
        frame = self.customers_table.to_pandas()
        frame.attrs["as_of"] = self.as_of.isoformat()
        return frame

    @functools.cached_property
    def audit(self) -> pd.DataFrame:
        """:attr:`audit_table` as pandas."""
        return self.audit_table.to_pandas()

    @functools.cached_property
    def quarantine(self) -> pd.DataFrame:
        """:attr:`quarantine_table` as pandas (``row`` nullable ``Int64``)."""
        return quarantine_frame(self.quarantine_table)

    @property
    def scorer(self) -> RFMScorer:
        """The fitted :class:`~segwise.segment.RFMScorer`, to score new customers alike."""
        from segwise.segment._scorer import RFMScorer

        return RFMScorer.from_edges(self.bin_edges)

    def segment_summary(self) -> pd.DataFrame:
        """Per segment: customers, share of customers and of revenue, median R, F and M.

        Returns
        -------
        pandas.DataFrame
            One row per segment in the order of the segment map, empty segments included;
            medians are NaN for an empty segment.
        """
        return self.segment_summary_table().to_pandas()

    def segment_summary_table(self) -> pa.Table:
        """:meth:`segment_summary` as an Arrow table (medians null for an empty segment)."""
        c = arrow_to_numpy(self.customers_table.select(
            ["segment", "recency_days", "frequency", "monetary"]
        ))
        names = list(self.config.segments.patterns)
        members = [np.equal(c["segment"], name) for name in names]
        sizes = np.array([m.sum() for m in members], dtype="int64")
        revenue = np.clip(c["monetary"], 0, None)

        def median(col: str) -> np.ndarray:
            # NaN (null in the table) for an empty segment.
            return np.array([np.median(c[col][m]) if m.any() else np.nan for m in members])

        return numpy_to_arrow({
            "segment": np.array(names, dtype=object),
            "customers": sizes,
            "share": sizes / max(len(revenue), 1),
            "revenue_share": np.array([revenue[m].sum() for m in members]) / (revenue.sum() or 1.0),
            "median_recency_days": median("recency_days"),
            "median_frequency": median("frequency"),
            "median_monetary": median("monetary"),
            "action": np.array([self.config.segments.actions[n] for n in names], dtype=object),
        })

    @staticmethod
    def output_paths(out: str | Path) -> list[Path]:
        """Every file :meth:`write` may write for ``out``, the main one first.

        The quarantine file is written only when rows were quarantined.
        """
        out = Path(out)
        if out.suffix.lower() == ".duckdb":
            return [out]
        return [out, beside(out, ".audit.csv"), beside(out, ".quarantine.csv")]

    def write(self, out: str | Path, *, keep_formulas: bool = False) -> list[Path]:
        """Write the customer table, and the audit and quarantine beside it.

        Every file is written to a temporary name and renamed into place when all are
        written (see :func:`segwise.store.write_tables`).

        Parameters
        ----------
        out : str or Path
            ``.parquet`` or ``.csv`` file for the customers; ``<stem>.audit.csv`` and, if any
            row was quarantined, ``<stem>.quarantine.csv`` go next to it. A ``.duckdb``
            file instead becomes one database with the tables ``customers``, ``segments``,
            ``audit`` and ``quarantine``, ready for SQL and BI tools.
        keep_formulas : bool, default=False
            Write CSV text as it is; by default text a spreadsheet would run as a formula
            is neutralised (:func:`segwise.store.neutralise_formulas`).

        Returns
        -------
        list of Path
            The files written.
        """
        out = Path(out)
        if out.suffix.lower() == ".duckdb":
            tables = {
                "customers": self.customers_table,
                "segments": self.segment_summary_table(),
                "audit": self.audit_table,
                "quarantine": self.quarantine_table,
            }
            return [write_database(tables, out)]
        main, audit, quarantine = self.output_paths(out)
        files = {main: self.customers_table, audit: self.audit_table}
        if self.quarantine_table.num_rows:
            files[quarantine] = self.quarantine_table
        return write_tables(files, keep_formulas=keep_formulas)


#: Arrow schema metadata key that pandas reads back into ``DataFrame.attrs`` from Parquet.
_PANDAS_ATTRS = b"PANDAS_ATTRS"


def run_rfm(
    source: str | Path,
    *,
    config: SegwiseConfig | None = None,
    as_of: dt.date | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    progress: Callable[[str], None] = _nothing,
) -> RFMResult:
    """Load, clean, compute RFM and name segments.

    Parameters
    ----------
    source : str or Path
        The order-line file.
    config : SegwiseConfig, optional
        Column roles, reader, cleaning and segment settings.
    as_of : date, optional
        Reference date for recency; overrides the config; the day after the last purchase
        when neither gives one.
    engine : {"duckdb", "spark"}, default="duckdb"
        Engine for the table work.
    spark_master : str, optional
        Spark master URL (``local[*]`` when omitted).
    progress : callable, optional
        Called with the name of each step as it starts.

    Returns
    -------
    RFMResult
        Customers with segments, the audit and the quarantine.
    """
    config = config or SegwiseConfig()
    progress("load")
    tx = load_transactions(
        source,
        columns=config.columns,
        read=config.read,
        engine=engine,
        spark_master=spark_master,
        memory_limit=config.memory_limit,
    )
    progress("clean")
    cleaned = clean_transactions(tx, config.cleaning)
    progress("aggregate")
    # One grouped scan gives both the audit (summed over customers) and the RFM aggregates
    # (the kept group), so the data are read once.
    summary = fetch_numpy(
        aggregate_customers(cleaned.lines, by=["_reason"], sums=cleaned.audit_metrics())
    )
    audit = cleaned.audit_table(summary)
    is_kept = is_missing(summary["_reason"])
    kept = {name: values[is_kept] for name, values in summary.items()}
    as_of = as_of or config.as_of or reference_date(kept["last_purchase"])
    rfm = finish_rfm(kept, as_of)
    if not len(rfm["customer_id"]):
        steps = audit.to_pylist()
        raise InputError(
            f"{source}: no customer is left after cleaning (see the audit: "
            + ", ".join(f"{s['step']} {s['rows']:,}" for s in steps if s["rows"])
            + "). Fix: check the [columns] mapping and the [cleaning] rules"
        )
    progress("score")
    # The plain functions behind RFMScorer: the estimator class would import scikit-learn.
    edges = fit_bin_edges(rfm)
    scores = score_columns(rfm, edges)
    named = name_cells(scores["r_score"], scores["f_score"], scores["m_score"], config.segments)
    # The reference date also goes into Parquet files as pandas attrs (pandas reads it back).
    attrs = {_PANDAS_ATTRS: json.dumps({"as_of": as_of.isoformat()}).encode()}
    customers = numpy_to_arrow({**rfm, **scores, **named}, metadata=attrs)
    return RFMResult(
        customers_table=customers,
        audit_table=audit,
        quarantine_table=tx.quarantine_table,
        as_of=as_of,
        cleaned=cleaned,
        bin_edges=edges,
        config=config,
    )
