"""People: person-level attributes cleaned, encoded and reduced, fitted on a population.

People are one row per entity already, so their features step is cleaning and encoding.
Two entity tables come out of it:

* the **attribute table** (:func:`people_entities`, the ``people`` job's features step):
  the person id and every declared attribute typed by the dictionary, one row per person
  kept by the row rules; this is what any model of people starts from;
* the **component table** of a population analysis: the person id and the principal
  components (``pc_1`` ...) of the encoded attributes, the space segments are learned in
  (:func:`component_entities`); a table projected onto a population's components is
  comparable with it row for row.

:func:`fit_population` fits the preprocessing on a population as one scikit-learn
:class:`~sklearn.pipeline.Pipeline`: :class:`PeopleEncoder` (dictionary-driven cleaning and
encoding), :class:`FeatureRelevance` (near-constant and redundant columns out, a ranking),
median imputation, standard scaling and PCA; :func:`project_rows` applies it unchanged to
any table. The variance analysis (:func:`variance_table`) and the component reading
(:func:`read_components`) say what the components are in the dictionary's words.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from segwise._engine import fetch_arrow
from segwise.exceptions import InputError
from segwise.features._encoder import (
    AUDIT_COUNTS,
    THRESHOLD_FLOOR,
    ColumnsError,
    PeopleEncoder,
    encoding_table,
    missing_threshold,
)
from segwise.features._entity import EntityTable, Feature, FeatureSet
from segwise.features._relevance import FeatureRelevance
from segwise.io import PERSON_ID

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable

    from segwise.clean import CleanedPeople, PeopleSettings
    from segwise.config import SegwiseConfig
    from segwise.io import FeatureDictionary

__all__ = [
    "AUDIT_COUNTS",
    "THRESHOLD_FLOOR",
    "ColumnsError",
    "FeatureRelevance",
    "PeopleEncoder",
    "PopulationFit",
    "Projection",
    "attribute_feature_set",
    "component_entities",
    "encoded_frame",
    "encoding_table",
    "fit_population",
    "missing_threshold",
    "people_entities",
    "project_rows",
    "read_components",
    "row_keys",
    "variance_table",
]

#: Rows encoded at once when a table is projected (bounds memory on wide tables).
CHUNK_ROWS = 50_000
#: Shares of variance whose number of components the variance analysis reports.
VARIANCE_MARKS: tuple[float, ...] = (0.8, 0.9, 0.95)


def attribute_feature_set(dictionary: FeatureDictionary, table: pa.Table) -> FeatureSet:
    """Declare a people attribute table: every attribute a feature, number or text.

    Parameters
    ----------
    dictionary : FeatureDictionary
        Descriptions of the attributes.
    table : pyarrow.Table
        ``person_id`` and typed attributes.

    Returns
    -------
    FeatureSet
        ``people`` (not registered: its columns are the data's).
    """
    features = []
    for name in table.column_names:
        if name == PERSON_ID:
            continue
        kind = table.schema.field(name).type
        numeric = pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_null(
            kind)
        attr = dictionary[name] if name in dictionary else None
        features.append(Feature(name, "number" if numeric else "text",
                                description=attr.text if attr else ""))
    return FeatureSet(name="people", kind="people", entity="person", plural="people",
                      id_col=PERSON_ID, features=tuple(features))


def people_entities(cleaned: CleanedPeople, config: SegwiseConfig,
                    as_of: dt.date | None) -> EntityTable:
    """Make the ``people`` job's entity table: one row per person, attributes typed.

    Parameters
    ----------
    cleaned : CleanedPeople
        Rows after the row rules (:func:`segwise.clean.clean_people`).
    config : SegwiseConfig
        Unused; the job's signature.
    as_of : date, optional
        Unused: people attributes have no reference date.

    Returns
    -------
    EntityTable
        ``person_id`` and the declared attributes: in file order for files without an id
        column, by id for files with one (merging copies leaves the engine's order, which
        moves between runs; samples and folds taken by position would move with it); with
        the row audit and the number of distinct ids read.
    """
    rows = cleaned.rows
    if cleaned.deduplicated:
        # Kept rows first, by id, then the few a rule removed: the kept ones are a slice.
        # Sorted by the engine, within its memory limit: a sort of the fetched rows would
        # hold a second copy of every row.
        rows = rows.order_by([rows._reason.notnull(), PERSON_ID])
    # Every row with its bookkeeping, fetched once: the audit and the count of ids come
    # from it, where a query of their own would merge the copies a second time.
    fetched = fetch_arrow(rows)
    bookkeeping = fetched.select(["_reason", "_n"])
    counts = bookkeeping.group_by("_reason").aggregate([("_n", "sum"), ("_n", "count")])
    reasons = counts.column("_reason")
    n_kept = fetched.column("_reason").null_count  # kept: no reason
    table = fetched.drop_columns(["_reason", "_n"])
    if cleaned.deduplicated or n_kept == table.num_rows:
        table = table.slice(0, n_kept)
    else:  # removed rows among the kept ones, in file order
        table = table.filter(fetched.column("_reason").is_null())
    audit = cleaned.audit_table({
        "_reason": np.asarray(reasons.to_pylist(), dtype=object),
        "rows": counts.column("_n_sum").to_numpy(),
        "distinct": counts.column("_n_count").to_numpy(),
    })
    ids = fetched.column(PERSON_ID)
    n_ids = len(ids.unique()) - (ids.null_count > 0)
    return EntityTable(table, attribute_feature_set(cleaned.dictionary, table),
                       audit_table=audit, n_input_entities=n_ids)


def row_keys(rows: pa.Table, columns: list[str] | None = None,
             chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """Return a key per row that depends on its values only, never on its position.

    Rows sorted by this key are in a canonical order: any shuffle of a table sorts to the
    same sequence of values (rows with equal keys are equal, hence interchangeable), so
    samples and fits taken in that order do not depend on the file's order.

    Parameters
    ----------
    rows : pyarrow.Table
        The rows.
    columns : list of str, optional
        Columns the key reads; all when omitted.
    chunk_rows : int, default=50000
        Rows handled at once.

    Returns
    -------
    ndarray of float64 of shape (n_rows,)
        Random projections of the values (text hashed), fixed weights.
    """
    names = columns if columns is not None else rows.column_names
    weights = np.random.default_rng(20240601).uniform(0.5, 1.5, len(names)) * np.pi
    keys = np.zeros(rows.num_rows)
    for start in range(0, rows.num_rows, chunk_rows):
        part = rows.slice(start, chunk_rows)
        total = np.zeros(part.num_rows)
        for w, name in zip(weights, names, strict=True):
            col = part.column(name)
            if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
                values = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
                values = np.nan_to_num(values, nan=-np.e)
            else:
                hashed = pd.util.hash_array(np.asarray(col.to_numpy(zero_copy_only=False),
                                                       dtype=object))
                values = (hashed % np.uint64(2**40)).astype(np.float64) / 2**40
            total += w * values
        keys[start:start + part.num_rows] = total
    return keys


@dataclass
class Projection:
    """A table projected onto a fitted population: components and what could not be used.

    Attributes
    ----------
    components : ndarray of shape (n_placed, n_components)
        Principal-component coordinates of the rows placed, in table order.
    placed : ndarray of bool of shape (n_rows,)
        Rows complete enough to place (the others are too sparse).
    row_missing : ndarray of shape (n_rows,)
        Share of the used attributes missing in each row.
    audit : pandas.DataFrame
        Per column, what encoding treated as missing or could not use
        (:meth:`PeopleEncoder.audit`, summed over the table).
    """

    components: np.ndarray
    placed: np.ndarray
    row_missing: np.ndarray
    audit: pd.DataFrame

    @property
    def n_sparse(self) -> int:
        """Rows too sparse to place."""
        return int((~self.placed).sum())


def project_rows(pipeline: Pipeline, rows: pa.Table, *,
                 chunk_rows: int = CHUNK_ROWS) -> Projection:
    """Apply a fitted population pipeline to any table, chunk by chunk.

    Rows whose share of missing attributes exceeds the encoder's ``row_threshold_`` are
    too sparse to place and get no coordinates; the others go through every step
    unchanged. Codes the dictionary does not declare are counted in ``audit`` (one
    warning for the table rather than one per chunk).

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        ``encode`` (a fitted :class:`PeopleEncoder`) followed by fitted transformers,
        without a final clustering step (``pipeline[:-1]`` of a full one).
    rows : pyarrow.Table
        Raw or typed attribute rows.
    chunk_rows : int, default=50000
        Rows encoded at once.

    Returns
    -------
    Projection
        The coordinates, which rows were placed, their missingness and the audit.
    """
    encoder: PeopleEncoder = pipeline.named_steps["encode"]
    rest = pipeline[1:]
    parts, placed, missing, audits = [], [], [], []
    for start in range(0, max(rows.num_rows, 1), chunk_rows):
        chunk = rows.slice(start, chunk_rows)
        out, miss, counts = encoder._encode(chunk)
        share = miss.mean(axis=1) if miss.shape[1] else np.zeros(len(miss))
        ok = share <= encoder.row_threshold_
        parts.append(np.asarray(rest.transform(encoded_frame(encoder, out[ok])),
                                dtype=np.float64) if ok.any()
                     else np.empty((0, _width(pipeline))))
        placed.append(ok)
        missing.append(share)
        audits.append(pd.DataFrame(counts))
    audit = _sum_audits(audits, rows.num_rows)
    encoder._warn_unseen(audit.to_dict("records"), "transform")
    return Projection(np.vstack(parts), np.concatenate(placed), np.concatenate(missing), audit)


def encoded_frame(encoder: PeopleEncoder, encoded: np.ndarray) -> pd.DataFrame:
    """Wrap encoder output in a DataFrame of its feature names (what later steps expect)."""
    return pd.DataFrame(encoded, columns=encoder.get_feature_names_out(), copy=False)


def _width(pipeline: Pipeline) -> int:
    pca = pipeline.named_steps.get("pca")
    return int(pca.n_components_) if pca is not None else 0


def _sum_audits(audits: list[pd.DataFrame], n_rows: int) -> pd.DataFrame:
    """Add the chunks' per-column counts; missing shares over the whole table."""
    counts = list(AUDIT_COUNTS)
    frame = pd.concat(audits, ignore_index=True)
    keys = ["column", "type", "status"]
    summed = frame.groupby(keys, sort=False, as_index=False)[counts].sum()
    share = summed[counts].sum(axis=1) / max(n_rows, 1)
    summed["missing_share"] = np.where(summed["status"] == "unknown column", np.nan,
                                       np.minimum(share, 1.0))
    summed["note"] = frame.groupby(keys, sort=False)["note"].first().to_numpy()
    return summed


def variance_table(pca: PCA) -> pd.DataFrame:
    """Explained and cumulative variance of each component of a fitted PCA.

    Parameters
    ----------
    pca : sklearn.decomposition.PCA
        Fitted with every component (the analysis), or with those kept.

    Returns
    -------
    pandas.DataFrame
        ``component`` (1-based), ``explained`` (share of the total variance) and
        ``cumulative``.
    """
    ratio = np.asarray(pca.explained_variance_ratio_, dtype=np.float64)
    return pd.DataFrame({"component": np.arange(1, len(ratio) + 1), "explained": ratio,
                         "cumulative": np.cumsum(ratio)})


def components_needed(variance: pd.DataFrame, shares: tuple[float, ...] = VARIANCE_MARKS
                      ) -> dict[float, int]:
    """Fewest components whose cumulative share reaches each of ``shares``."""
    cumulative = variance["cumulative"].to_numpy()
    return {s: min(int(np.searchsorted(cumulative, s - 1e-12)) + 1, len(cumulative))
            for s in shares}


def read_components(pca: PCA, names: list[str], describe: Callable[[str], str], *,
                    top: int = 5) -> pd.DataFrame:
    """Each kept component's largest positive and negative weights, in words.

    Parameters
    ----------
    pca : sklearn.decomposition.PCA
        The fitted PCA of the pipeline.
    names : list of str
        Names of its input columns (the encoded features that were kept).
    describe : callable
        ``describe(name)`` returns a column in the dictionary's words.
    top : int, default=5
        Weights listed per sign and component.

    Returns
    -------
    pandas.DataFrame
        ``component`` (1-based), ``explained``, ``side`` (``positive`` or ``negative``:
        words, so that a spreadsheet reads no formula sign), ``rank``,
        ``feature``, ``description`` and ``weight``.
    """
    rows = []
    for c, (weights, share) in enumerate(zip(pca.components_, pca.explained_variance_ratio_,
                                             strict=True), start=1):
        order = np.argsort(weights)
        for side, picks in (("positive", order[::-1][:top]), ("negative", order[:top])):
            for rank, j in enumerate(picks, start=1):
                if (weights[j] > 0) != (side == "positive"):
                    continue
                rows.append({"component": c, "explained": float(share), "side": side,
                             "rank": rank, "feature": names[j],
                             "description": describe(names[j]), "weight": float(weights[j])})
    return pd.DataFrame(rows, columns=["component", "explained", "side", "rank", "feature",
                                       "description", "weight"])


@dataclass
class PopulationFit:
    """The preprocessing fitted on a population, and what it learned on the way.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        ``encode`` -> ``select`` -> ``impute`` -> ``scale`` -> ``pca``, all fitted on the
        population; :func:`project_rows` applies it to any table.
    projection : Projection
        The population itself, projected: components of the rows placed.
    sample : ndarray of int
        Population rows (positions) the relevance ranking, imputation, scaling and PCA
        were fitted on, in canonical order (all placed rows up to ``fit_samples``).
    encoded : ndarray of shape (n_sample, n_outputs)
        Those rows encoded (missing values NaN), for describing segments.
    variance : pandas.DataFrame
        :func:`variance_table` of a PCA with every component.
    components : pandas.DataFrame
        :func:`read_components` of the kept components.
    relevance : pandas.DataFrame
        :meth:`FeatureRelevance.table`, with descriptions.
    subsets : pandas.DataFrame or None
        :func:`segwise.clean.compare_subsets` of placed against sparse rows (None when
        no row is sparse).
    """

    pipeline: Pipeline
    projection: Projection
    sample: np.ndarray
    encoded: np.ndarray
    variance: pd.DataFrame
    components: pd.DataFrame
    relevance: pd.DataFrame
    subsets: pd.DataFrame | None

    @property
    def encoder(self) -> PeopleEncoder:
        """The fitted encoder (the pipeline's first step)."""
        return self.pipeline.named_steps["encode"]

    @property
    def pca(self) -> PCA:
        """The fitted PCA (the pipeline's last step)."""
        return self.pipeline.named_steps["pca"]

    @property
    def needed(self) -> dict[float, int]:
        """Components needed for 80, 90 and 95 % of the variance."""
        return components_needed(self.variance)


def fit_population(rows: pa.Table, dictionary: FeatureDictionary | None,
                   settings: PeopleSettings) -> PopulationFit:
    """Fit the people preprocessing on a population, and analyse it.

    1. :class:`PeopleEncoder` on every row (column statistics and thresholds need them
       all); rows missing more than its row threshold are too sparse to place and are
       compared with the rest (:func:`segwise.clean.compare_subsets`).
    2. On the placed rows, in canonical order (:func:`row_keys`), up to
       ``settings.fit_samples`` of them: :class:`FeatureRelevance`, median imputation,
       standard scaling, and PCA keeping the components that explain
       ``settings.pca_variance`` of the variance (at most ``settings.max_components``).
    3. Every placed row is projected (:func:`project_rows`).

    Parameters
    ----------
    rows : pyarrow.Table
        ``person_id`` and typed attributes of the population.
    dictionary : FeatureDictionary or None
        The attributes (None: inferred by the encoder).
    settings : PeopleSettings
        Thresholds, exclusions, relevance and PCA settings, sample size, seed.

    Returns
    -------
    PopulationFit
        The fitted pipeline and the analyses.
    """
    from segwise.clean import compare_subsets

    encoder = PeopleEncoder(
        dictionary, exclude=(PERSON_ID, *settings.exclude),
        column_threshold=settings.column_threshold, row_threshold=settings.row_threshold,
        threshold_floor=settings.threshold_floor, unknown_columns="ignore",
        missing_columns="error", unseen_codes=settings.unseen_codes,
    ).fit(rows)
    placed = encoder.row_missing_ <= encoder.row_threshold_
    attributes = [c for c in rows.column_names if c != PERSON_ID]
    order = np.argsort(row_keys(rows, attributes), kind="stable")
    sample = order[placed[order]][:settings.fit_samples]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # counted in the fit's column audit
        encoded = encoder.transform(rows.take(sample))
    select = FeatureRelevance(
        variance_threshold=settings.variance_threshold,
        max_correlation=settings.max_correlation, top_n=settings.top_n or None,
        random_state=settings.random_state,
    ).fit(encoded_frame(encoder, encoded))
    kept = select.transform(encoded_frame(encoder, encoded))
    imputer = SimpleImputer(strategy="median", keep_empty_features=True).fit(kept)
    scaler = StandardScaler().fit(imputer.transform(kept))
    scaled = scaler.transform(imputer.transform(kept))
    if not scaled.any():  # scaling makes a constant column 0: nothing varies
        raise InputError(f"the {len(sample):,} people complete enough to place are alike in "
                         "every attribute used: there is nothing to segment them by. Fix: "
                         "check the file, the dictionary's unknown codes and the exclusions")
    solver = "covariance_eigh" if scaled.shape[0] > 10 * scaled.shape[1] else "full"
    full = PCA(svd_solver=solver).fit(scaled)
    variance = variance_table(full)
    n_keep = max(1, min(settings.max_components, components_needed(
        variance, (settings.pca_variance,))[settings.pca_variance]))
    pca = PCA(n_keep, svd_solver=solver, random_state=settings.random_state).fit(scaled)
    pipeline = Pipeline([("encode", encoder), ("select", select), ("impute", imputer),
                         ("scale", scaler), ("pca", pca)])
    kept_names = list(select.get_feature_names_out())
    subsets = None
    if (~placed).any():
        sparse_rows = np.flatnonzero(~placed)
        values = encoder.attribute_values(rows.take(np.r_[sample, sparse_rows]))
        subsets = compare_subsets(values.iloc[:len(sample)], values.iloc[len(sample):],
                                  encoder.attribute_types(),
                                  random_state=settings.random_state)
    return PopulationFit(
        pipeline=pipeline,
        projection=project_rows(pipeline, rows),
        sample=sample,
        encoded=encoded,
        variance=variance,
        components=read_components(pca, kept_names, encoder.describe_output),
        relevance=select.table(describe=encoder.describe_output),
        subsets=subsets,
    )


def component_entities(ids: np.ndarray, projection: Projection, labels: np.ndarray,
                       names: dict[int, str], *, source: str | None = None) -> EntityTable:
    """Make the component table: one row per person, the components and the segment.

    Parameters
    ----------
    ids : ndarray of shape (n_rows,)
        Person ids, in table order.
    projection : Projection
        The table projected onto a population.
    labels : ndarray of shape (n_rows,)
        Segment of each row; -1 for rows too sparse to place.
    names : dict of int to str
        Segment names by label (-1 included).
    source : str, optional
        Where the rows came from.

    Returns
    -------
    EntityTable
        ``person_id``, ``pc_1`` ... (null for rows not placed; the clustered features),
        ``segment`` (int, -1 not placed), ``segment_name`` and ``placed``.
    """
    n_comp = projection.components.shape[1]
    coords = np.full((len(ids), n_comp), np.nan)
    coords[projection.placed] = projection.components
    columns: dict[str, Any] = {PERSON_ID: pa.array(np.asarray(ids, dtype=object), pa.string())}
    for j in range(n_comp):
        columns[f"pc_{j + 1}"] = pa.array(coords[:, j], pa.float64(), from_pandas=True)
    columns["segment"] = pa.array(labels.astype(np.int64))
    columns["segment_name"] = pa.array([names[int(v)] for v in labels], pa.string())
    columns["placed"] = pa.array(projection.placed)
    schema = FeatureSet(
        name=f"people_components_{n_comp}", kind="people", entity="person", plural="people",
        id_col=PERSON_ID,
        features=tuple(Feature(f"pc_{j + 1}", description=f"principal component {j + 1}",
                               cluster=True) for j in range(n_comp)),
    )
    return EntityTable(pa.table(columns), schema, source=source)

