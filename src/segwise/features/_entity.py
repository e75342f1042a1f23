"""Entity tables: the contract every features module returns, whatever the source kind.

One row per entity (customer, user, person, subscriber), an id column, feature columns
declared with their units (a :class:`FeatureSet`), and where the rows came from: source
kind, as-of date, source fingerprint, the cleaning audit and the quarantine. Segmenting,
profiling, reports and writers take an :class:`EntityTable` and never ask which kind it
came from.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from segwise._frames import DataSource, is_table, table_label, to_arrow
from segwise._registry import Registry
from segwise.exceptions import ConfigError, InputError, option_key, role_options

if TYPE_CHECKING:
    import pandas as pd

    from segwise.io import ReadOptions

__all__ = [
    "EntityTable",
    "Feature",
    "FeatureSet",
    "feature_sets",
    "match_feature_set",
    "register_feature_set",
    "source_fingerprint",
]

#: Share of a table's rows repeating an id above which the rows are read as order lines.
_LINES_SHARE = 0.1

#: Arrow type families a feature may declare.
_TYPE_TESTS = {
    "number": lambda t: pa.types.is_integer(t) or pa.types.is_floating(t)
    or pa.types.is_decimal(t),
    "integer": pa.types.is_integer,
    "text": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    "timestamp": lambda t: pa.types.is_timestamp(t) or pa.types.is_date(t),
    "boolean": pa.types.is_boolean,
}


@dataclass(frozen=True)
class Feature:
    """One feature column of an entity table.

    Parameters
    ----------
    name : str
        Column name.
    type : {"number", "integer", "text", "timestamp", "boolean"}, default="number"
        Declared type family; the column's Arrow type must belong to it.
    unit : str, default=""
        Unit of the values, for axes and tables (``"days"``, ``"orders"``, ``"currency"``,
        ``"share"``, ``"km"``); empty for unitless values.
    description : str, default=""
        What the feature measures, in words.
    cluster : bool, default=False
        Whether learned segments use it by default.
    short : str, default=""
        A short name for narrow headers (``"R"``); the name when empty.
    """

    name: str
    type: str = "number"
    unit: str = ""
    description: str = ""
    cluster: bool = False
    short: str = ""

    def __post_init__(self) -> None:
        if self.type not in _TYPE_TESTS:
            raise ConfigError(
                f"feature {self.name!r}: type {self.type!r} is not one of "
                f"{', '.join(_TYPE_TESTS)}"
            )

    @property
    def label(self) -> str:
        """The name with its unit, for axes: ``recency_days (days)``."""
        return f"{self.name} ({self.unit})" if self.unit else self.name


@dataclass(frozen=True)
class FeatureSet:
    """The declared columns of the entity tables one features module produces.

    Parameters
    ----------
    name : str
        The feature set (``"rfm"``), also what a written table is recognised by.
    kind : str
        The source kind it is computed from (``"orders"``).
    entity : str
        What a row is (``"customer"``).
    id_col : str
        The id column.
    features : tuple of Feature
        The feature columns, in order.
    value_col : str, optional
        A money or value column: revenue shares of segments, their canonical order.
    segment_col : str, optional
        A column of rule-based named segments that scoring adds, if the job scores them.
    summary : tuple of str, default=()
        Features whose medians describe a segment in summaries (RFM: recency, frequency,
        monetary); the clustered features when empty.
    profile : tuple of str, default=()
        Further features profiles describe beside the clustered ones (RFM: average order
        value, tenure).
    plural : str, optional
        The entity in the plural, for table names and headers (``entity + "s"`` when
        omitted, ``"ies"`` for a final ``y`` after a consonant: ``entities``).
    """

    name: str
    kind: str
    entity: str
    id_col: str
    features: tuple[Feature, ...]
    value_col: str | None = None
    segment_col: str | None = None
    summary: tuple[str, ...] = ()
    profile: tuple[str, ...] = ()
    plural: str | None = None

    def __post_init__(self) -> None:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names) or self.id_col in names:
            raise ConfigError(f"feature set {self.name!r}: column names must be distinct")
        extra = [c for c in (self.value_col, *self.summary, *self.profile)
                 if c is not None and c not in names]
        if extra:
            raise ConfigError(
                f"feature set {self.name!r}: {', '.join(extra)} not among its columns"
            )

    @property
    def entities(self) -> str:
        """The entity in the plural (``"customers"``, ``"entities"``)."""
        if self.plural:
            return self.plural
        if len(self.entity) > 1 and self.entity[-1] == "y" and self.entity[-2] not in "aeiou":
            return f"{self.entity[:-1]}ies"
        return f"{self.entity}s"

    @property
    def columns(self) -> list[str]:
        """The id column and every feature column."""
        return [self.id_col, *(f.name for f in self.features)]

    @property
    def cluster_features(self) -> list[str]:
        """Features learned segments use by default."""
        return [f.name for f in self.features if f.cluster]

    @property
    def summary_features(self) -> list[str]:
        """Features whose medians describe a segment."""
        return list(self.summary) or self.cluster_features

    def feature(self, name: str) -> Feature:
        """Return the declared feature called ``name``.

        Raises
        ------
        KeyError
            If the set declares no such feature.
        """
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)


_FEATURE_SETS: Registry[FeatureSet] = Registry("feature set")


def register_feature_set(features: FeatureSet) -> FeatureSet:
    """Make a feature set known, so that a table written from it is read back with it.

    Parameters
    ----------
    features : FeatureSet
        The declaration.

    Returns
    -------
    FeatureSet
        ``features``.
    """
    return _FEATURE_SETS.add(features.name, features)


def feature_sets() -> dict[str, FeatureSet]:
    """Return the registered feature sets by name."""
    return _FEATURE_SETS.items()


def match_feature_set(columns: Sequence[str], id_col: str | None = None) -> FeatureSet | None:
    """Return the registered feature set a table of these columns was made by, if any.

    A set matches when the table has its id column and its clustered features (tables
    that lost other columns on the way still match).

    Parameters
    ----------
    columns : sequence of str
        The table's columns.
    id_col : str, optional
        Only a set with this id column matches.

    Returns
    -------
    FeatureSet or None
        The first matching set, in the order they were registered.
    """
    names = set(columns)
    for schema in _FEATURE_SETS.items().values():
        if id_col is not None and schema.id_col != id_col:
            continue
        if {schema.id_col, *schema.cluster_features} <= names:
            return schema
    return None


def source_fingerprint(path: str | Path) -> str:
    """Identify an input file quickly: SHA-256 of its size and first and last MiB.

    Reading whole files of tens of gigabytes would cost more than the job; the size and
    both ends change with nearly every edit of an export. It identifies a file for the
    record of a run; it is no proof that two files are equal.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    str
        ``"sha256:"`` and 64 hex digits.
    """
    path = Path(path)
    if path.is_dir():  # a dataset of files (Parquet parts): each part's name and fingerprint
        digest = hashlib.sha256()
        for part in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{part.relative_to(path)}:{source_fingerprint(part)}".encode())
        return "sha256:" + digest.hexdigest()
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as fh:
        digest.update(fh.read(2**20))
        if size > 2**21:
            fh.seek(-(2**20), 2)
            digest.update(fh.read(2**20))
        elif size > 2**20:
            digest.update(fh.read())
    return "sha256:" + digest.hexdigest()


@dataclass
class EntityTable:
    """One row per entity, declared features, and where the rows came from.

    Attributes
    ----------
    table : pyarrow.Table
        The rows: the id column, the declared features, and any further columns
        (scores, segment names, actions) after them.
    schema : FeatureSet
        The declared columns.
    as_of : date, optional
        Reference date of time-based features (recency).
    source : str, optional
        Where the rows came from (a file path).
    fingerprint : str, optional
        :func:`source_fingerprint` of the source.
    audit_table : pyarrow.Table, optional
        The cleaning audit (``step``, ``rows``, ..., ``description``).
    quarantine_table : pyarrow.Table, optional
        Input rows that could not be parsed.
    n_input_entities : int, optional
        Distinct entities among the input rows that parsed (ids present): compared with
        :attr:`n_entities`, how many entities the cleaning and the features left without
        a row.
    notes : tuple of str, default=()
        What reading the rows changed, in words: the spellings of missing values
        (``n/a``, ``NA``, ``-``) read as missing in each column of numbers, with their
        counts.

    Raises
    ------
    InputError
        If a declared column is missing or not of its declared type.
    """

    table: pa.Table
    schema: FeatureSet
    as_of: dt.date | None = None
    source: str | None = None
    fingerprint: str | None = None
    audit_table: pa.Table | None = field(default=None, repr=False)
    quarantine_table: pa.Table | None = field(default=None, repr=False)
    n_input_entities: int | None = None
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # The dataclass repr printed the table's every column, a screen in a notebook.
        return (f"EntityTable({self.schema.name!r}, {self.n_entities:,} {self.entity}(s) x "
                f"{self.table.num_columns} columns, source={self.source!r}, "
                f"as_of={self.as_of.isoformat() if self.as_of else None})")

    def __post_init__(self) -> None:
        names = self.table.column_names
        missing = [c for c in self.schema.columns if c not in names]
        if missing:
            raise InputError(
                f"{self.source or 'entity table'}: {self.schema.name} table lacks declared "
                f"column(s) {', '.join(missing)} (has {', '.join(names)})"
            )
        for f in self.schema.features:
            kind = self.table.schema.field(f.name).type
            if not pa.types.is_null(kind) and not _TYPE_TESTS[f.type](kind):
                raise InputError(
                    f"{self.source or 'entity table'}: column {f.name} is {kind}, "
                    f"declared {f.type}"
                )

    # ------------------------------------------------------------------ what it holds

    @property
    def kind(self) -> str:
        """The source kind the rows were computed from."""
        return self.schema.kind

    @property
    def entity(self) -> str:
        """What a row is (``"customer"``)."""
        return self.schema.entity

    @property
    def id_col(self) -> str:
        """The id column."""
        return self.schema.id_col

    @property
    def n_entities(self) -> int:
        """Number of rows."""
        return int(self.table.num_rows)

    @functools.cached_property
    def frame(self) -> pd.DataFrame:
        """:attr:`table` as pandas; ``attrs["as_of"]`` holds the reference date.

        A true/false column with gaps is pandas' nullable ``boolean``, not an object
        column of True, False and None (which no test of a flag recognises).
        """
        frame = self.table.to_pandas()
        gaps = [f.name for f in self.table.schema
                if pa.types.is_boolean(f.type) and frame[f.name].dtype == object]
        if gaps:
            frame = frame.astype(dict.fromkeys(gaps, "boolean"))
        if self.as_of is not None:
            frame.attrs["as_of"] = self.as_of.isoformat()
        return frame

    def check_unique_ids(self) -> EntityTable:
        """Return ``self`` if every id is present and unique.

        Raises
        ------
        InputError
            Naming the first repeated or missing id.
        """
        import pyarrow.compute as pc

        ids = self.table.column(self.id_col)
        where = self.source or "entity table"
        if ids.null_count:
            raise InputError(f"{where}: {ids.null_count} row(s) have no {self.id_col}. "
                             "Fix: drop or fill them")
        counts = pc.value_counts(ids)
        repeated = counts.filter(pc.greater(counts.field("counts"), 1))
        if len(repeated):
            first = repeated[0]
            extra = len(ids) - len(counts)  # rows beyond each id's first
            others = (f"; {len(repeated) - 1:,} other id(s) repeat too" if len(repeated) > 1
                      else "")
            # Order lines or events, one row per line: their features are to be computed.
            fix = ("they look like order lines or events, which segwise turns into one row "
                   f"per {self.entity}: give them without --customers, or aggregate the rows "
                   "first" if extra > _LINES_SHARE * len(ids) else
                   "remove the repeated rows, or aggregate them first")
            raise InputError(f"{where}: {self.id_col} {first['values'].as_py()!r} appears "
                             f"on several rows ({first['counts'].as_py():,}){others}; an "
                             f"entity table has one row per {self.entity}. Fix: {fix}")
        return self

    def quarantine_note(self) -> str | None:
        """Say how many input rows were quarantined and why (None when none were).

        See :func:`segwise.io.quarantine_note`; the rows read are the entities and the
        rows quarantined.
        """
        from segwise.io import quarantine_note

        quarantine = self.quarantine_table
        n = self.n_entities + (quarantine.num_rows if quarantine is not None else 0)
        return quarantine_note(quarantine, n)

    def with_table(self, table: pa.Table) -> EntityTable:
        """Return a copy holding ``table`` (more columns, same rows), metadata unchanged."""
        return replace(self, table=table)

    # ------------------------------------------------------------------ from outside

    @classmethod
    def from_frame(
        cls,
        data: Any,
        *,
        id_col: str | None = None,
        features: Sequence[str] | None = None,
        kind: str | None = None,
        entity: str = "entity",
        value_col: str | None = None,
        segment_col: str | None = None,
        source: str | None = None,
    ) -> EntityTable:
        """Make an entity table of any table with one row per entity.

        A table whose columns include a registered :class:`FeatureSet`'s (a table that
        segwise wrote, say) takes that declaration; otherwise the features are the numeric
        columns other than the id, all clustered by default.

        Parameters
        ----------
        data : table in memory
            The rows: a pandas or polars DataFrame, an Arrow table or an Ibis table (a
            pandas index with a name is a column).
        id_col : str, optional
            The id column; else chosen as for a file (:meth:`read`): the registered set's,
            else one named like an id, else the first column when it holds ids, else the
            1-based row number (``row``), how it was chosen said in :attr:`notes`.
        features : sequence of str, optional
            Feature columns (clustered by default) instead of the inferred ones.
        kind : str, optional
            Source kind, when known (``"table"`` otherwise).
        entity : str, default="entity"
            What a row is, when no registered set says.
        value_col, segment_col : str, optional
            Value and rule-based segment columns, when no registered set says.
        source : str, optional
            Where the rows came from, for messages.

        Returns
        -------
        EntityTable
            With ids checked to be present and unique.
        """
        table = to_arrow(data)
        names = table.column_names
        known = None if features is not None else match_feature_set(names, id_col)
        how: tuple[str, ...] = ()
        if known is not None and set(known.columns) <= set(names):
            schema = known
            table = _declared_integers(table, schema)
        else:
            if id_col is None:
                # The rule a file's table follows: a frame's first column was the id
                # whatever it held (Wholesale's Channel: "2 appears on several rows").
                table, how = _with_id(table, source or table_label(data))
                names, id_col = table.column_names, table.column_names[0]
            if id_col not in names:
                raise InputError(f"{source or 'table'}: no id column {id_col!r} "
                                 f"(columns: {', '.join(names)})")
            chosen = list(features) if features is not None else [
                c for c in names
                if c != id_col and _TYPE_TESTS["number"](table.schema.field(c).type)
            ]
            schema = FeatureSet(
                name="table", kind=kind or "table", entity=entity, id_col=id_col,
                features=tuple(Feature(c, cluster=True) for c in chosen),
                value_col=value_col, segment_col=segment_col,
            )
        return cls(table, schema, source=source, notes=how).check_unique_ids()

    @classmethod
    def read(cls, path: DataSource, read: ReadOptions | None = None,
             **kwargs: Any) -> EntityTable:
        """Read an entity table from any file segwise reads, or a table in memory.

        Parquet's typed columns are read as they are (a table segwise wrote keeps its
        types), and so are those of a table in memory (a pandas or polars DataFrame, an
        Arrow or Ibis table: see :mod:`segwise._frames`; a pandas index with a name is a
        column, an unnamed one is not read), named in messages by its type
        (``"pandas DataFrame"``): a table read from a file by pandas gives the entities
        the file gives. Other formats (CSV and TSV, compressed or not, Excel, JSON lines, SQLite,
        DuckDB) go through segwise's readers, as a people table is read: delimiter,
        encoding, BOMs and mixed line endings are handled, and unreadable lines are
        quarantined (:attr:`quarantine_table`). In every format, a text column (other
        than the id) whose every present value is a number becomes a number column,
        numbers with a currency or percent sign (``$1,234.50``, ``37.1%``) included: read
        without the sign, said in :attr:`notes`.
        Present means neither blank nor a common spelling of a
        missing value (``n/a``, ``NA``, ``N/A``, ``null``, ``-``, ``nan``, ``#N/A``, ...:
        :data:`segwise.io.MISSING_TOKENS`): in a column of numbers (or of timestamps or
        flags) those are read as missing and counted in :attr:`notes`, while a column
        with other text keeps them as text. In every format the id column is ``id_col``, else a
        registered feature set's, else one named like an id (``id``, ``customer_id``, ...),
        else the first column when its values are all present and distinct text or whole
        numbers (numbers with decimals are a measure, dates and flags attributes), else the
        1-based row number (``row``); ids read from text are text. An id taken by position,
        and rows numbered for want of one, are said in :attr:`notes`. A spreadsheet's
        total and average rows at the foot of the table are left out, said in
        :attr:`notes` too.

        Parameters
        ----------
        path : str, Path or table in memory
            The file, or the table.
        read : ReadOptions, optional
            Reader settings (a config's ``[read]``): ``decimal`` and ``thousands`` make
            numbers such as ``12,669`` or ``3,5`` number columns.
        **kwargs
            Passed to :meth:`from_frame`; ``id_col`` names the id column.

        Raises
        ------
        InputError
            If the file is missing, of an unknown type, or cannot be read; or if a column
            holds numbers in another notation (``12,669``) that ``read`` does not name.
        """
        if is_table(path):
            return cls._read_typed(to_arrow(path), table_label(path), read, kwargs)
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such file. Fix: check the path")
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            try:
                table = pq.read_table(path)
                table.column_names  # noqa: B018 - pyarrow decodes names only when asked
            except (pa.ArrowException, OSError, ValueError) as exc:  # bad UTF-8 included
                first = (str(exc).strip().splitlines()[0] if str(exc).strip()
                         else type(exc).__name__)
                raise InputError(f"{path}: cannot read the table ({first}). Fix: give a "
                                 "table a segwise command wrote, or one row per entity"
                                 ) from exc
            return cls._read_typed(table, str(path), read, kwargs)
        table, quarantine, notes = _read_rows(path, kwargs.get("id_col"), read)
        entities = cls.from_frame(table, source=str(path), **{**kwargs, "id_col":
                                                                 table.column_names[0]})
        return replace(entities, quarantine_table=quarantine, notes=notes)

    @classmethod
    def _read_typed(cls, table: pa.Table, source: str, read: ReadOptions | None,
                    kwargs: dict[str, Any]) -> EntityTable:
        """Read the rows of a typed table (Parquet, a table in memory) as a file's are.

        Dictionary-encoded columns (a pandas category, a polars Categorical) are read as
        their values, as the same column of a file is.
        """
        table = table.cast(pa.schema([f.with_type(f.type.value_type)
                                      if pa.types.is_dictionary(f.type) else f
                                      for f in table.schema]))
        how: tuple[str, ...] = ()
        if kwargs.get("id_col") is None:
            table, how = _with_id(table, source)
            kwargs = {**kwargs, "id_col": table.column_names[0]}
        elif kwargs["id_col"] not in table.column_names:
            raise _no_such_id(source, kwargs["id_col"], table.column_names)
        table, notes = _typed_parquet(source, table, kwargs["id_col"], read)
        table, summaries = _without_summary_rows(table, kwargs["id_col"])
        return replace(cls.from_frame(table, source=source, **kwargs),
                       notes=how + notes + summaries)


def _declared_integers(table: pa.Table, schema: FeatureSet) -> pa.Table:
    """Return a set's integer features stored as whole floats as integers again.

    pandas holds an integer column with a gap as floats (``result.entities.frame``'s
    ``click_recency_days``): given back, the table was refused as not of its declared type.
    """
    for f in schema.features:
        column = table.column(f.name)
        if f.type == "integer" and pa.types.is_floating(column.type):
            try:
                whole = column.cast(pa.int64())  # safe: refuses fractions and infinities
            except pa.ArrowInvalid:
                continue
            table = table.set_column(table.column_names.index(f.name), f.name, whole)
    return table


def _read_rows(path: Path, id_col: str | None, read: ReadOptions | None
               ) -> tuple[pa.Table, pa.Table | None, tuple[str, ...]]:
    """Read a non-Parquet entity table: the id column first (text), numbers typed.

    Also returns the notes of missing-value spellings read as missing (:func:`_typed`).
    """
    from segwise._engine import fetch_arrow
    from segwise.io import PEOPLE, PERSON_ID, ReadOptions, load_source
    from segwise.io._text import localise_numbers

    read = read or ReadOptions()

    # Read as a people table is (an optional id, every other column as it comes); its
    # messages speak of rows, not people.
    kind = replace(PEOPLE, rows="rows")

    def load(column: str | None) -> Any:
        with role_options({PERSON_ID: _ID_OPTION}):
            return load_source(path, kind, columns={PERSON_ID: column} if column else None,
                               read=read)

    try:
        source = load(id_col)
    except ConfigError:  # the id column asked for is not there ("columns= maps ...")
        if id_col is None:
            raise
        raise _no_such_id(path, id_col, [c for c in load(None).table.columns
                                         if c != PERSON_ID]) from None
    names = [c for c in source.table.columns if c != PERSON_ID]
    given = source.roles[PERSON_ID] if PERSON_ID in source.roles else None
    how: tuple[str, ...] = ()
    if id_col is None:
        chosen, how = _choose_id(
            names, given, lambda c: fetch_arrow(source.table.select(c)).column(0))
        if chosen != given:
            source = load(chosen)
            names = [c for c in source.table.columns if c != PERSON_ID]
        # Without an id column, the 1-based row of the file names each entity.
        id_col = chosen or _row_column(names)
    rows = fetch_arrow(localise_numbers(source.table.select(PERSON_ID, *names), names,
                                        read.decimal, read.thousands))
    rows = rows.set_column(0, id_col, rows.column(PERSON_ID).cast(pa.string()))
    typed, notes = _typed_table(path, rows, id_col, names, read)
    typed, summaries = _without_summary_rows(typed, id_col)
    return typed, _named_reasons(source.quarantine_table, id_col), how + notes + summaries


#: Most rows at the foot of a table read as a spreadsheet's summary rows (Total, Average).
_SUMMARY_ROWS = 3
#: Fewest rows above them: the sum of one or two rows is no telling total.
_SUMMARY_MIN_DATA = 4


def _without_summary_rows(table: pa.Table, id_col: str) -> tuple[pa.Table, tuple[str, ...]]:
    """Leave out a spreadsheet's total or average rows at the foot of the table.

    A row is one when each of its numbers is the sum (or the mean) of the column's numbers
    in the rows above, in at least two number columns whose values vary (a blank is
    allowed: a code column is not summed); segmented, the total of every customer was the
    largest customer, and it doubled every mean. Returns the table without them and a
    note naming them.
    """
    import numpy as np
    import pyarrow.compute as pc

    names = [c for c in table.column_names
             if c != id_col and _TYPE_TESTS["number"](table.schema.field(c).type)]
    if len(names) < 2 or table.num_rows < _SUMMARY_MIN_DATA + 1:
        return table, ()
    # Sums and counts of the rows above the last few once (a million rows are read once),
    # then of each candidate foot: the foot's own rows are few.
    most = min(_SUMMARY_ROWS, table.num_rows - _SUMMARY_MIN_DATA)
    above = table.slice(0, table.num_rows - most)
    columns = [above.column(c).cast(pa.float64()) for c in names]
    sums = np.array([pc.sum(c).as_py() or 0.0 for c in columns])
    counts = np.array([pc.count(c).as_py() for c in columns], dtype=np.float64)
    spans = [pc.min_max(c).as_py() for c in columns]
    varies = np.array([s["min"] is not None and s["max"] > s["min"] for s in spans])
    last = np.column_stack([table.column(c).slice(table.num_rows - most).cast(pa.float64())
                            .to_numpy(zero_copy_only=False) for c in names])
    for k in range(most, 0, -1):
        between, foot = last[:most - k], last[most - k:]
        total = sums + np.nansum(between, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / (counts + (~np.isnan(between)).sum(axis=0))
        kinds = []
        for row in foot:
            present = ~np.isnan(row)
            for kind, ref in (("total", total), ("average", mean)):
                same = np.isclose(row, ref, rtol=1e-6, atol=5e-3)  # averages shown to 0.01
                if (same | ~present).all() and (same & present & varies & (ref != 0)).sum() >= 2:
                    kinds.append(kind)
                    break
        if len(kinds) == k:
            kept = table.num_rows - k
            ids = table.column(id_col).slice(kept).to_pylist()
            rows = "; ".join(f"{id_col} {i!r} (row {kept + j + 1:,}: each number its "
                             f"column's {kind} over the rows above)"
                             for j, (i, kind) in enumerate(zip(ids, kinds, strict=True)))
            return table.slice(0, kept), (
                f"left out {k} summary row{'s' if k > 1 else ''} at the foot of the table, "
                f"as a spreadsheet adds them: {rows}",)
    return table, ()


def _no_such_id(path: str | Path, id_col: str, names: list[str]) -> InputError:
    """Return the error of an id column asked for that the file lacks."""
    return InputError(f"{path}: no column {id_col!r} to take as the id (columns: "
                      f"{', '.join(names)}). Fix: name one of them as the id column")


def _typed_table(path: str | Path, table: pa.Table, id_col: str, names: list[str],
                 read: ReadOptions) -> tuple[pa.Table, tuple[str, ...]]:
    """Type the text columns ``names`` of ``table`` (:func:`_typed`), for every format.

    A registered feature set's text features stay text (rfe's ``category`` of numeric
    category ids): typed, they would be refused as not of their declared type. Also
    returns the notes of missing-value spellings read as missing, one per column.

    Raises
    ------
    InputError
        If a column holds numbers in a notation ``read`` does not name (``12,669``).
    """
    known = match_feature_set(table.column_names, id_col)
    text = {f.name for f in known.features if f.type == "text"} if known else set()
    notes = []
    for name in names:
        if name in text:  # a set's text feature, such as category ids "3", "17"
            continue
        i = table.column_names.index(name)
        column, signed = table.column(i), _without_signs(table.column(i))
        if signed is not None:  # '$1,234.50', '12,50 €', '12.5%'
            column, spellings = _typed(signed[0])
            if _TYPE_TESTS["number"](column.type):
                notes.append(f"{name}: numbers written with a {signed[1]} sign read as "
                             f"numbers ({signed[2]!r} as {signed[3]})")
            else:  # '1,234.50' without [read] thousands: the fix, else text as written
                _check_notation(path, name, signed[0], read)
                column, spellings = table.column(i), {}
        else:
            column, spellings = _typed(column)
            _check_notation(path, name, column, read)
        table = table.set_column(i, name, column)
        if spellings:
            n = sum(spellings.values())
            shown = ", ".join(f"{s!r} {c:,}" for s, c in spellings.items())
            notes.append(f"{name}: {n:,} value{'s' if n != 1 else ''} read as missing "
                         f"({shown})")
    return table, tuple(notes)


def _typed_parquet(path: str | Path, table: pa.Table, id_col: str, read: ReadOptions | None
                   ) -> tuple[pa.Table, tuple[str, ...]]:
    """Type a typed table's text columns other than the id as a CSV's are typed.

    The table is Parquet or a table in memory. A column that an export wrote as text
    (numbers with ``n/a`` among them) becomes numbers with the spellings counted, as the
    same column in a CSV does; typed columns and the id keep their types.
    """
    import ibis

    from segwise._engine import connect
    from segwise.io import ReadOptions
    from segwise.io._text import localise_numbers

    read = read or ReadOptions()
    names = [c for c in table.column_names
             if c != id_col and _TYPE_TESTS["text"](table.schema.field(c).type)]
    if names and (read.decimal != "." or read.thousands is not None):
        text = connect().to_pyarrow(localise_numbers(
            ibis.memtable(table.select(names)), names, read.decimal, read.thousands))
        for name in names:
            table = table.set_column(table.column_names.index(name), name,
                                     text.column(name))
    return _typed_table(path, table, id_col, names, read)


def _named_reasons(quarantine: pa.Table | None, id_col: str) -> pa.Table | None:
    """Name the id column in the quarantine's reasons as the file does, not as a role."""
    import pyarrow.compute as pc

    from segwise.io import PERSON_ID

    if quarantine is None or "reason" not in quarantine.column_names:
        return quarantine
    i = quarantine.column_names.index("reason")
    named = id_col.replace("\\", "\\\\")  # a backslash is the rewrite's escape
    reasons = pc.replace_substring_regex(quarantine.column(i), f"^{PERSON_ID}:", f"{named}:")
    return quarantine.set_column(i, "reason", reasons)


#: A number as Arrow casts it.
_PLAIN_NUMBER = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"


#: Digits of a number in any notation (``1,234.50``, ``1.234,5``), its sign before them.
_DIGITS = r"[+-]?\s*[\d.,' ]*\d[\d.,' ]*"


def _without_signs(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, str, str, str] | None:
    """Return a text column of numbers with a currency or percent sign without the signs.

    Exports write money as ``$1,234.50``, ``-€3``, ``12,50 €`` or ``(2.55 €)`` (accounting:
    negative) and shares as ``12.5 %``. None unless every present value (:func:`_missing`)
    is a number, some with one kind of sign (a plain ``0`` among ``12.5%`` is a number
    too). Returns the column without the signs, the kind of sign, and a value as written
    and without its sign, for the note. The numbers' notation (``1,234.50``) is then
    checked and typed as any other column's.
    """
    import pyarrow.compute as pc

    from segwise.io._parse import CURRENCY_SIGNS

    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        return None
    money = f"[{CURRENCY_SIGNS}]"
    signed = {
        "currency": (rf"^\s*[+-]?\s*{money}\s*{_DIGITS}\s*$|^\s*{_DIGITS}\s*{money}\s*$"
                     rf"|^\s*\(\s*{money}?\s*{_DIGITS}\s*{money}?\s*\)\s*$"),
        "percent": rf"^\s*{_DIGITS}\s*%\s*$",
    }
    # Each distinct value once: a column of categories (Gold, Silver) has a handful.
    values = pc.unique(column)
    if not pc.any(pc.match_substring_regex(values, rf"[{CURRENCY_SIGNS}%]")).as_py():
        return None
    missing = _missing(column)
    present = pc.drop_null(pc.if_else(_missing(values), pa.scalar(None, values.type), values))
    if not len(present):
        return None
    plain = pc.match_substring_regex(present, rf"^\s*{_DIGITS}\s*$")
    hits = {kind: pc.match_substring_regex(present, pattern)
            for kind, pattern in signed.items()}
    used = [kind for kind, hit in hits.items() if pc.any(hit).as_py()]
    if len(used) != 1 or not pc.all(pc.or_(plain, hits[used[0]])).as_py():
        return None
    strip = rf"[\s(){CURRENCY_SIGNS}%]"
    bare = pc.replace_substring_regex(column, strip, "")
    negative = pc.fill_null(pc.match_substring_regex(column, r"^\s*\("), False)
    bare = pc.if_else(negative, pc.binary_join_element_wise("-", bare, ""), bare)
    bare = pc.if_else(missing, column, bare)  # 'n/a' as written, for _typed to count
    example = pc.filter(present, hits[used[0]])[0].as_py().strip()
    shown = ("-" if example.startswith("(") else "") + re.sub(strip, "", example)
    return bare, used[0], example, shown


def _check_notation(path: str | Path, name: str, column: pa.ChunkedArray,
                    read: ReadOptions) -> None:
    """Refuse a text column of numbers in a notation ``read`` does not name (``12,669``).

    Left as text it would silently drop out of the default features.
    """
    import pyarrow.compute as pc

    from segwise.io._text import OTHER_NOTATION, number_hint

    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        return
    present = pc.drop_null(pc.if_else(_missing(column), pa.scalar(None, column.type),
                                      column))
    other = pc.match_substring_regex(present, OTHER_NOTATION)
    plain = pc.match_substring_regex(present, _PLAIN_NUMBER)
    if not len(present) or not pc.all(pc.or_(other, plain)).as_py():
        return
    value = pc.filter(present, other)[0].as_py()
    hint = number_hint(value.strip(), read.decimal, read.thousands)
    if hint is not None:
        raise InputError(f"{path}: column {name!r} reads as text ({value!r}): {hint}")


#: How the caller names an entity table's id: ``--id`` on the command line, ``id_col=``
#: from Python (no ``[columns]`` role: :func:`segwise.exceptions.role_options`).
_ID_OPTION = ("--id", "id_col")


def _choose_id(names: list[str], named: str | None,
               column: Callable[[str], pa.ChunkedArray]) -> tuple[str | None, tuple[str, ...]]:
    """Choose the id column of a file's entity table, the same for every format.

    A registered feature set's id column, else the column named like an id (``named``),
    else the first column when it holds an id (:func:`_not_an_id`); None when no column
    is one (the rows are then numbered). Also returns a note of how a column not named
    like an id was chosen, or why the rows are numbered, for the reader to check.
    """
    known = [s.id_col for s in _FEATURE_SETS.items().values()]
    header = [named, *names] if named else names
    chosen = next((c for c in header if c in known), named)
    if chosen is not None or not names:
        return chosen, ()
    why = _not_an_id(column(names[0]))
    if why is None:
        return names[0], (f"id column: {names[0]}, the first column (no column is named "
                          "like an id, and its values are distinct). Fix: name another "
                          f"with {option_key(_ID_OPTION[0], None, _ID_OPTION[1])}",)
    return None, (f"no id column: none is named like one (id, customer_id, ...) and the "
                  f"first, {names[0]}, {why}; rows are numbered from 1 in a column "
                  f"{_row_column(names)!r}. Fix: name the id column with "
                  f"{option_key(_ID_OPTION[0], None, _ID_OPTION[1])}",)


def _row_column(names: list[str]) -> str:
    """Name the column of row numbers: ``row``, unless the table has a column of that name."""
    return next(c for c in ("row", "row_number", "_row", "__row") if c not in names)


def _not_an_id(column: pa.ChunkedArray) -> str | None:
    """Why the values of ``column`` are not ids, or None when they can be.

    Ids are present and distinct, and text or whole numbers: numbers with decimals are a
    measure (an average spend, unique by chance), dates and flags are attributes.
    """
    import pyarrow.compute as pc

    text = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    blank = pc.sum(pc.equal(pc.utf8_trim_whitespace(column), "")).as_py() if text else 0
    if column.null_count or blank:
        return "has blank values"
    typed, _ = _typed(column)
    kind = typed.type
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        numbers = pc.cast(typed, pa.float64())
        # 1000.0: a whole number a JSON or Parquet writer stored as a float.
        if not pc.all(pc.equal(numbers, pc.floor(numbers))).as_py():
            return "holds numbers with decimals, as a measure does"
    if _TYPE_TESTS["timestamp"](kind):
        return "holds dates"
    if pa.types.is_boolean(kind):
        return "holds true/false values"
    if pc.count_distinct(column).as_py() != len(column):
        return "repeats values"
    return None


def _with_id(table: pa.Table, source: str) -> tuple[pa.Table, tuple[str, ...]]:
    """Put a typed table's id column first (:func:`_choose_id`), or 1-based row numbers.

    Parquet is read as it is, so without this its first column was the id whatever it
    held: UCI Wholesale Customers (no id; ``Channel`` first) was refused as Parquet and
    segmented as CSV. Also returns the note of how the id was chosen. ``source`` names
    the table in messages as it is given (a path, ``s3://...``, ``"pandas DataFrame"``).
    """
    from segwise.io import PEOPLE, PERSON_ID, resolve_roles

    names = table.column_names
    with role_options({PERSON_ID: _ID_OPTION}):
        roles = resolve_roles(names, source=source, kind=PEOPLE)
    named = roles[PERSON_ID] if PERSON_ID in roles else None
    chosen, how = _choose_id(names, named, table.column)
    if chosen is None:
        rows = pa.array([str(i) for i in range(1, table.num_rows + 1)], pa.string())
        return table.add_column(0, _row_column(names), rows), how
    return table.select([chosen, *(c for c in names if c != chosen)]), how


def _missing(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Whether each text value is blank or a spelling of a missing value (``n/a``, ``-``).

    The spellings are :data:`segwise.io.MISSING_TOKENS`, compared trimmed and without
    case, as a people table's types are inferred; NULL stays NULL.
    """
    import pyarrow.compute as pc

    from segwise.io import MISSING_TOKENS

    text = pc.utf8_trim_whitespace(column)
    token = pc.is_in(pc.utf8_lower(text), value_set=pa.array(sorted(MISSING_TOKENS)))
    return pc.or_(pc.equal(text, ""), token)


def _typed(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, dict[str, int]]:
    """Return a text column as numbers, timestamps or flags when every present value is one.

    Blank text is missing, and so is a common spelling of a missing value (``n/a``,
    ``NA``, ``null``, ``-``, ``nan``, ``inf``, ``#N/A``: :func:`_missing`) in a column
    that is typed: the spellings read as missing are returned with their counts (most
    first), as written. Whole numbers become int64 when none is missing, else float64;
    ISO timestamps (as segwise writes them) become timestamps; ``true``/``false`` flags.
    Anything else stays text, its spellings of missing values with it (none counted).
    """
    import pyarrow.compute as pc

    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        return column, {}
    text = pc.utf8_trim_whitespace(column)
    missing = _missing(column)
    present = pc.if_else(missing, pa.scalar(None, pa.string()), text)
    if present.null_count == len(present):
        return column, {}
    typed = _cast(present)
    if typed is None:
        return column, {}
    written = pc.filter(text, pc.and_(missing, pc.not_equal(text, "")))
    counts = pc.value_counts(written).to_pylist() if len(written) else []
    spellings = {c["values"]: int(c["counts"]) for c in
                 sorted(counts, key=lambda c: (-c["counts"], c["values"]))}
    return typed, spellings


def _cast(present: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """Text with only present values (NULL elsewhere) as numbers, timestamps or flags.

    None when some value is none of them.
    """
    import pyarrow.compute as pc

    try:
        numbers = pc.cast(present, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    else:
        finite = pc.fill_null(pc.is_finite(numbers), False)
        kept = pc.filter(numbers, finite)
        # Whole numbers beyond 2**53 (1e300, say) stay floats: int64 cannot hold them all.
        whole = pc.all(pc.and_(pc.equal(kept, pc.floor(kept)),
                               pc.less_equal(pc.abs(kept), 2.0**53))).as_py() is not False
        if numbers.null_count == 0 and pc.all(finite).as_py() and whole:
            return pc.cast(numbers, pa.int64())
        return numbers
    for kind in (pa.timestamp("us"), pa.bool_()):
        try:
            return pc.cast(present, kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return None
