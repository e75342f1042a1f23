"""The RFM job end to end: load, clean with audit, RFM features, scores and named segments.

The CLI, the report and the web app all call :func:`run_rfm`; none of them repeats its logic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from segwise.clean import CleanedLines, clean_transactions
from segwise.config import SegwiseConfig
from segwise.exceptions import ConfigError, InputError
from segwise.features.rfm import aggregate_customers, finish_rfm
from segwise.io import load_transactions
from segwise.segment.rfm import assign_segments, fit_bin_edges, score_with_edges

if TYPE_CHECKING:
    from segwise.segment._scorer import RFMScorer

__all__ = ["RFMResult", "run_rfm", "write_database", "write_table"]


def _nothing(step: str) -> None:
    """Default progress callback."""


@dataclass
class RFMResult:
    """Everything one RFM run produced.

    Attributes
    ----------
    customers : pandas.DataFrame
        One row per customer: RFM features, scores, cell, segment and action.
    audit : pandas.DataFrame
        Rows and revenue per cleaning step; ``rows`` sums to the input row count.
    quarantine : pandas.DataFrame
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

    customers: pd.DataFrame
    audit: pd.DataFrame
    quarantine: pd.DataFrame
    as_of: dt.date
    cleaned: CleanedLines
    bin_edges: dict[str, np.ndarray]
    config: SegwiseConfig = field(repr=False)

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
            One row per segment in the order of the segment map, empty segments included.
        """
        c = self.customers
        order = list(self.config.segments.patterns)
        g = c.groupby("segment", observed=False)
        total_rev = c["monetary"].clip(lower=0).sum()
        out = pd.DataFrame(
            {
                "customers": g.size(),
                "share": g.size() / max(len(c), 1),
                "revenue_share": g["monetary"].apply(lambda s: s.clip(lower=0).sum())
                / (total_rev or 1.0),
                "median_recency_days": g["recency_days"].median(),
                "median_frequency": g["frequency"].median(),
                "median_monetary": g["monetary"].median(),
            }
        ).reindex(order)
        out["customers"] = out["customers"].fillna(0).astype("int64")
        out[["share", "revenue_share"]] = out[["share", "revenue_share"]].fillna(0.0)
        out["action"] = [dict(self.config.segments.actions)[s] for s in out.index]
        return out.rename_axis("segment").reset_index()

    def write(self, out: str | Path) -> list[Path]:
        """Write the customer table, and the audit and quarantine beside it.

        Parameters
        ----------
        out : str or Path
            ``.parquet`` or ``.csv`` file for the customers; ``<stem>.audit.csv`` and, if any
            row was quarantined, ``<stem>.quarantine.csv`` go next to it. A ``.duckdb``
            file instead becomes one database with the tables ``customers``, ``segments``,
            ``audit`` and ``quarantine``, ready for SQL and BI tools.

        Returns
        -------
        list of Path
            The files written.
        """
        out = Path(out)
        if out.suffix.lower() == ".duckdb":
            tables = {
                "customers": self.customers,
                "segments": self.segment_summary(),
                "audit": self.audit,
                "quarantine": self.quarantine.astype({"row": "Int64"}),
            }
            return [write_database(tables, out)]
        written = [write_table(self.customers, out)]
        written.append(write_table(self.audit, out.with_name(out.stem + ".audit.csv")))
        if len(self.quarantine):
            written.append(
                write_table(self.quarantine, out.with_name(out.stem + ".quarantine.csv"))
            )
        return written


def write_database(tables: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Write DataFrames as tables of a DuckDB database file, replacing tables of those names.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        Table name to contents.
    path : str or Path
        The ``.duckdb`` file; created if missing.

    Returns
    -------
    Path
        The database file.
    """
    import duckdb

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        for name, df in tables.items():
            con.register("_frame", df)
            # Table names come from segwise's own dict keys, never from the data.
            sql = f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _frame'  # noqa: S608
            con.execute(sql)
            con.unregister("_frame")
    return path


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame as Parquet or CSV, chosen by the file extension.

    Raises
    ------
    ConfigError
        For any other extension.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".parquet", ".csv"}:
        raise ConfigError(f"{path}: output must end in .parquet, .csv or .duckdb")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)
    return path


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
    summary = aggregate_customers(
        cleaned.lines, by=["_reason"], sums=cleaned.audit_metrics()
    ).to_pandas()
    audit = cleaned.audit(summary)
    kept = summary[summary["_reason"].isna()]
    rfm = finish_rfm(kept, as_of or config.as_of)
    if rfm.empty:
        raise InputError(
            f"{source}: no customer is left after cleaning (see the audit: "
            + ", ".join(f"{s} {n:,}" for s, n in audit[["step", "rows"]].itertuples(False) if n)
            + "). Fix: check the [columns] mapping and the [cleaning] rules"
        )
    progress("score")
    # The plain functions behind RFMScorer: the estimator class would import scikit-learn.
    edges = fit_bin_edges(rfm)
    scores = score_with_edges(rfm, edges)
    customers = pd.concat([rfm, scores, assign_segments(scores, config.segments)], axis=1)
    customers.attrs["as_of"] = rfm.attrs["as_of"]
    return RFMResult(
        customers=customers,
        audit=audit,
        quarantine=tx.quarantine,
        as_of=dt.date.fromisoformat(rfm.attrs["as_of"]),
        cleaned=cleaned,
        bin_edges=edges,
        config=config,
    )
