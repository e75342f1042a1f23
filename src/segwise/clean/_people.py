"""Cleaning people tables: their settings, row rules, typing by the dictionary, sparse rows.

Row rules come first (exact copies merged when the table has real ids, ids that appear on
several different rows removed), reported through the shared audit. Attributes are then
typed on the engine by the dictionary (numbers where every declared code is a number, text
otherwise), so that only typed columns ever leave it. Column-level cleaning (unknown codes,
the missingness threshold, mixed attributes, encoding) is the
:class:`~segwise.features.people.PeopleEncoder`'s, learned on the population; rows too
sparse to place are compared with the rest here (:func:`compare_subsets`), feature by
feature, so that a user can see whether setting them aside biases the segments.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np

from segwise._settings import register_section
from segwise.clean._generic import CleanedRows, Rule, clean_rows
from segwise.exceptions import ConfigError, InputError, SegwiseWarning, read_key
from segwise.io import (
    PERSON_ID,
    FeatureDictionary,
    as_float,
    as_text,
    infer_dictionary,
    name_columns,
    read_dictionary,
)

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from segwise.config import SegwiseConfig
    from segwise.io import Attribute, ReadOptions, Source

__all__ = [
    "MAX_SEGMENTS",
    "REPEATED_ID",
    "CleanedPeople",
    "PeopleSettings",
    "clean_people",
    "compare_subsets",
    "type_attributes",
]


@dataclass(frozen=True)
class PeopleSettings:
    """Settings of people tables and the population analysis (config section ``[people]``).

    Parameters
    ----------
    dictionary : str, Path or FeatureDictionary, optional
        The feature dictionary: a segwise CSV/TOML file, a CoIL ``dictionary.txt``, or a
        dictionary object; types are inferred from the population when omitted.
    exclude : tuple of str, default=()
        Attributes never used (a target, a response flag, an identifier); shell-style
        patterns match several (``"P*"``).
    column_threshold, row_threshold : float or "auto", default="auto"
        Missingness above which a column is dropped, a row set aside as too sparse
        (:class:`~segwise.features.people.PeopleEncoder`).
    threshold_floor : float, default=0.2
        The smallest automatic threshold.
    unseen_codes : {"missing", "error"}, default="missing"
        A code the dictionary does not declare: counted as missing, or an error.
    variance_threshold : float, default=0.001
        Encoded columns (scaled to [0, 1]) with less variance are dropped.
    max_correlation : float, default=0.95
        Of two encoded columns correlated above this, the less relevant is dropped.
    top_n : int, default=0
        Keep only the ``top_n`` most relevant encoded columns (0: all that pass).
    pca_variance : float, default=0.8
        Principal components kept: as many as explain this share of the variance, up to
        ``max_components``.
    max_components : int, default=50
        Most components kept: beyond a few dozen dimensions distances between people are
        mostly noise, and clustering slows down; the report says how much of the
        variance the components kept explain.
    k_min, k_max : int, default=2, 10
        Numbers of segments the sweep tries.
    base_rate : float, default=0
        Share of a mailed population expected to become customers, for the expected
        customers per segment; 0 takes customers / population (right when the customer
        file and the population cover the same market).
    fit_samples : int, default=100000
        Most population rows the relevance ranking, imputation, scaling and PCA are
        fitted on (a uniform sample beyond; every row is transformed).
    random_state : int, default=0
        Seed of every sample and model.
    """

    dictionary: str | Path | FeatureDictionary | None = None
    exclude: tuple[str, ...] = ()
    column_threshold: float | str = "auto"
    row_threshold: float | str = "auto"
    threshold_floor: float = 0.2
    unseen_codes: str = "missing"
    variance_threshold: float = 0.001
    max_correlation: float = 0.95
    top_n: int = 0
    pca_variance: float = 0.8
    max_components: int = 50
    k_min: int = 2
    k_max: int = 10
    base_rate: float = 0.0
    fit_samples: int = 100_000
    random_state: int = 0

    def __post_init__(self) -> None:
        for name in ("column_threshold", "row_threshold"):
            value = getattr(self, name)
            if value != "auto" and not (isinstance(value, (int, float)) and 0 <= value <= 1):
                raise ConfigError(f"[people] {name} must be \"auto\" or a share in [0, 1], "
                                  f"got {value!r}")
        if not 0 < self.pca_variance <= 1:
            raise ConfigError(f"[people] pca_variance must be in (0, 1], got {self.pca_variance}")
        if self.max_components < 1:
            raise ConfigError(f"[people] max_components must be at least 1, got "
                              f"{self.max_components}")
        if not 2 <= self.k_min <= self.k_max <= MAX_SEGMENTS:
            raise ConfigError(f"[people] need 2 <= k_min <= k_max <= {MAX_SEGMENTS}, got "
                              f"{self.k_min}, {self.k_max}")
        # Each would stop the analysis after minutes of work, as a traceback.
        checks = (
            ("fit_samples", self.fit_samples >= 100, "at least 100 (a sample size)"),
            ("top_n", self.top_n >= 0, "0 (every column) or more"),
            ("max_correlation", 0 < self.max_correlation <= 1, "in (0, 1]"),
            ("threshold_floor", 0 <= self.threshold_floor <= 1, "a share in [0, 1]"),
            ("variance_threshold", 0 <= self.variance_threshold < 1, "in [0, 1)"),
            ("random_state", 0 <= self.random_state < 2**32, "a whole number from 0 to 2**32 - 1"),
        )
        for name, ok, what in checks:
            if not ok:
                raise ConfigError(f"[people] {name} must be {what}, got "
                                  f"{getattr(self, name)!r}")
        if not 0 <= self.base_rate < 1:
            raise ConfigError(f"[people] base_rate must be in [0, 1), got {self.base_rate}")
        if self.unseen_codes not in ("missing", "error"):
            raise ConfigError("[people] unseen_codes must be \"missing\" or \"error\"")

    def load_dictionary(self) -> FeatureDictionary | None:
        """Return the dictionary: read from its file, as given, or None (to infer)."""
        if self.dictionary is None or isinstance(self.dictionary, FeatureDictionary):
            return self.dictionary
        return read_dictionary(Path(self.dictionary))


register_section("people", PeopleSettings)

#: Most segments a population analysis may be asked for (``--k``, ``k_max``).
MAX_SEGMENTS = 100

#: Columns of a file read without a header: ``column_1``, ``column_2``, ...
_HEADERLESS = re.compile(r"column_\d+")

#: Audit step of rows whose id appears on several different rows.
REPEATED_ID = Rule(
    "repeated_id",
    "the id appears on several different rows: which one is right is unknown",
    lambda t: t[PERSON_ID].count().over(ibis.window(group_by=t[PERSON_ID])) > 1,
)


@dataclass(repr=False)  # CleanedRows' one line of counts
class CleanedPeople(CleanedRows):
    """People rows after the row rules, attributes typed by the dictionary.

    Attributes
    ----------
    dictionary : FeatureDictionary
        The dictionary the attributes were typed by (declared, or inferred from these
        rows).
    undeclared : tuple of str
        Columns of the source the dictionary does not declare: not read further.
    id_column : str or None
        The source's column read as ``person_id`` (None: rows numbered).
    """

    dictionary: FeatureDictionary = field(default_factory=lambda: FeatureDictionary([]))
    undeclared: tuple[str, ...] = ()
    id_column: str | None = None

    def check_attributes(self, where: str | Path, besides: Sequence[str]) -> None:
        """Refuse a table whose only typed columns are ``besides`` (a target): no attribute.

        Parameters
        ----------
        where : str or Path
            The file, for the message.
        besides : sequence of str
            Columns that are no attribute (the target).

        Raises
        ------
        InputError
            Naming the file and why each other column is not read (blank, an identifier,
            not in the dictionary).
        """
        if set(self.rows.columns) - {PERSON_ID, "_n", "_reason", *besides}:
            return
        skipped = dict(getattr(self.dictionary, "skipped", ()))
        skipped.update((c, "not in the dictionary") for c in self.undeclared
                       if c not in skipped)
        raise _no_attribute(where, [(c, why) for c, why in skipped.items()
                                    if c not in besides], besides=besides)

    def check_names(self, where: str | Path) -> None:
        """Refuse dictionary names that the file writes otherwise: the attribute is lost.

        A declared attribute the file lacks is allowed (a dictionary may cover several
        files), and a column it does not declare is not used: so the dictionary's ``AGE``
        or ``native_country`` against the file's ``age`` or ``native-country`` left both
        unused, the attribute silently out of the model. Names are compared as written
        (as ``--exclude`` and the customers' columns are); this says which is which.

        Parameters
        ----------
        where : str or Path
            The file, for the message.

        Raises
        ------
        InputError
            Naming the dictionary's spelling and the file's, and the fix.
        """
        columns = set(self.rows.columns)
        by_key: dict[str, list[str]] = {}
        for column in self.undeclared:
            by_key.setdefault(_name_key(column), []).append(column)
        pairs = [(name, by_key[_name_key(name)][0]) for name in self.dictionary.names
                 if name not in columns and len(by_key.get(_name_key(name), ())) == 1]
        if not pairs:
            return
        shown = ", ".join(f"{name!r} (the file writes {column!r})" for name, column
                          in pairs[:4]) + (f" and {len(pairs) - 4} more" if len(pairs) > 4
                                           else "")
        raise InputError(
            f"{where}: {len(pairs)} attribute(s) of the dictionary match no column as "
            f"written: {shown}; names are compared with their case and punctuation, so "
            "neither would be used. Fix: write the names in the dictionary as the file's "
            "header does")

    def check_exclude(self, patterns: Sequence[str], option: str, where: str | Path, *,
                      also: Sequence[str] = ()) -> None:
        """Refuse exclusions that match no column: a typo would leave the column in use.

        Parameters
        ----------
        patterns : sequence of str
            Names or shell-style patterns (``"P*"``), compared with case.
        option : str
            Where they were given (``--exclude``, ``[people] exclude``), for the message.
        where : str or Path
            The file, for the message.
        also : sequence of str, default=()
            Other columns a pattern may match (another file's: the customers').

        Raises
        ------
        ConfigError
            Naming the patterns, the closest column and the fix.
        """
        import difflib

        known = [*self.dictionary.names, *self.undeclared, *also]
        unmatched = [p for p in patterns if not fnmatch.filter(known, p)]
        if not unmatched:
            return
        close = difflib.get_close_matches(unmatched[0], known, n=1, cutoff=0.6) or [
            k for k in known if k.lower() == unmatched[0].lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"{option} {', '.join(repr(p) for p in unmatched)} matches no column of "
            f"{where}{hint}; the column would be used. Fix: give the column's name "
            "as the file writes it (case matters), or a pattern such as 'P*'")


def _no_attribute(where: str | Path | None, skipped: Sequence[tuple[str, str]], *,
                  besides: Sequence[str] = ()) -> InputError:
    """Say that no column of a people table can be read as an attribute, and why each not."""
    shown = "; ".join(f"{c}: {why}" for c, why in skipped[:4]) + (
        "; ..." if len(skipped) > 4 else "")
    other = f" besides {', '.join(repr(b) for b in besides)}" if besides else ""
    return InputError(f"{where}: no column{other} can be read as an attribute"
                      f"{f' ({shown})' if shown else ''}. Fix: check the file, or give a "
                      "dictionary declaring its attributes")


def _name_key(name: str) -> str:
    """Drop case, blanks and punctuation: ``Native-Country`` becomes ``nativecountry``."""
    return re.sub(r"[\W_]", "", name.casefold())


def _is_number(attr: Attribute) -> bool:
    """Whether an attribute is read as a number: a quantity, or codes all declared numbers.

    Codes nobody declared may be text (a categorical of words), so they stay text; the
    encoder reads numbers out of text all the same.
    """
    if attr.type == "mixed" or not attr.numeric_codes:
        return False
    return attr.type == "numeric" or bool(attr.labels)


def _is_float32(attr: Attribute) -> bool:
    """Whether an attribute's values are whole-number codes (exact in 32 bits)."""
    if attr.type == "numeric" or not attr.labels:
        return False
    return all(float(c) == int(float(c)) and abs(float(c)) < 2**24
               for c in (*attr.labels, *attr.missing))


def type_attributes(table: ir.Table, dictionary: FeatureDictionary) -> ir.Table:
    """Type each declared attribute: numbers where its codes are declared numbers, else text.

    A numeric attribute, or one whose declared codes (labels and unknown codes) are all
    numbers, is read as a number: whole-number codes as 32-bit floats (exact, half the
    memory of a wide table), others as 64-bit floats. A blank value becomes NULL; a value
    that is present but not a number :func:`~segwise.io.as_float` reads (``abc``, ``inf``,
    beyond 10^13) becomes NaN, so that the encoder counts it as not a number rather than
    as blank, from the same fetch. Anything else stays text, for the encoder to read.
    Columns the dictionary does not declare are left out.

    Parameters
    ----------
    table : ibis.Table
        ``person_id`` and attributes, as loaded.
    dictionary : FeatureDictionary
        The attributes.

    Returns
    -------
    ibis.Table
        ``person_id`` and the declared attributes present, in dictionary order.
    """
    columns: dict[str, ir.Value] = {PERSON_ID: table[PERSON_ID]}
    for attr in dictionary:
        if attr.name not in table.columns or attr.name == PERSON_ID:
            continue
        value = table[attr.name]
        if _is_number(attr):
            number = as_float(value, unreadable_as_nan=True)
            columns[attr.name] = number.cast("float32") if _is_float32(attr) else number
        else:
            columns[attr.name] = as_text(value)
    return table.select(**columns)


def _check_headerless(columns: list[str], dictionary: FeatureDictionary, where: str) -> None:
    """Refuse a file without a header whose columns the dictionary cannot tell apart.

    Without positions, a dictionary names the columns of a headerless file in its
    declared order: right only when the file holds exactly its attributes. With more or
    fewer columns (an id column, attributes the dictionary leaves out) every name after
    the first difference would be wrong, and the values quietly encoded as missing.
    """
    headerless = bool(columns) and all(_HEADERLESS.fullmatch(c) for c in columns)
    if (not headerless or any(a.position is not None for a in dictionary)
            or len(columns) == len(dictionary)
            # Inferred from a file without a header: the names are the columns already.
            or set(dictionary.names) <= set(columns)):
        return
    raise InputError(
        f"{where}: the file has no header and {len(columns)} columns, the dictionary "
        f"{len(dictionary)} attributes without positions: which column is which is "
        "unknown. Fix: add the header line, or give each attribute its "
        "position in the dictionary")


def _check_notation(table: ir.Table, dictionary: FeatureDictionary, where: str | Path,
                    read: ReadOptions) -> None:
    """Say when an attribute read as numbers holds numbers in a notation ``read`` does not name.

    A spreadsheet's export writes ``40,5`` (a decimal comma) or ``12,669``: each such value
    would be encoded as missing, and with every fraction of an attribute lost the people
    missing it are placed apart, with a count of non-numbers as the only sign. As with
    order lines' quarantine: above ``[read] max_quarantine_share`` of the rows an error,
    below it a warning; both name the column, the count, a value and the setting.

    Raises
    ------
    InputError
        If such values are more than ``read.max_quarantine_share`` of the rows.
    """
    from segwise._engine import fetch_arrow
    from segwise.io._text import OTHER_NOTATION, number_hint

    text = [a.name for a in dictionary if _is_number(a) and a.name in table.columns
            and a.name != PERSON_ID and table[a.name].type().is_string()]
    if not text:
        return
    checks: dict[str, ir.Value] = {"rows": table.count()}
    for i, name in enumerate(text):
        value = table[name]
        other = value.re_search(OTHER_NOTATION) & as_float(value).isnull()
        checks[f"n{i}"] = other.sum()
        checks[f"v{i}"] = value.min(where=other)
    found = fetch_arrow(table.aggregate(**checks)).to_pylist()[0]
    for i, name in enumerate(text):
        value = found[f"v{i}"]
        hint = number_hint(value.strip(), read.decimal, read.thousands) if value else None
        if hint is None:
            continue
        n = found[f"n{i}"]
        refused = n > read.max_quarantine_share * found["rows"]
        said = (f"{where}: column {name!r}: {n:,} value{'s' if n != 1 else ''} such as "
                f"{value!r} {'would be' if refused else 'are'} read as missing, not as "
                f"numbers. Likely cause: {hint}")
        if refused:
            raise InputError(f"{said}; or raise {read_key('max_quarantine_share')} to read "
                             "them as missing")
        warnings.warn(said, SegwiseWarning, stacklevel=3)


def clean_people(source: Source, config: SegwiseConfig) -> CleanedPeople:
    """Clean a loaded people table: name, type, merge copies, remove repeated ids.

    Headerless columns take the dictionary's names; without a dictionary the types are
    inferred from these rows (:func:`segwise.io.infer_dictionary`). Exact copies are
    merged only when the table has an id column (rows numbered by the loader are never
    copies: two people may share every attribute).

    Parameters
    ----------
    source : Source
        A loaded people table (:func:`segwise.io.load_source` with ``"people"``).
    config : SegwiseConfig
        Its ``[people]`` section gives the dictionary.

    Returns
    -------
    CleanedPeople
        The typed rows, the dictionary used, and the audit.

    Raises
    ------
    InputError
        If no declared attribute is a column of the table.
    """
    from segwise.io._text import localise_numbers

    settings: PeopleSettings = config.section("people")
    dictionary = settings.load_dictionary()
    table = source.table
    attributes = [c for c in table.columns if c != PERSON_ID]
    # Attributes pass through the reader as written: numbers in the file's notation
    # ([read] decimal and thousands: 1.234,5) are rewritten here, before typing or
    # inference read them (only values wholly a number in that notation change).
    table = localise_numbers(table, attributes, config.read.decimal, config.read.thousands)
    id_column = source.roles.get(PERSON_ID)
    if not attributes:  # the id alone: an inferred dictionary would be empty, a given unused
        raise _no_attribute(source.source, (), besides=(id_column,) if id_column else ())
    if dictionary is None:
        dictionary = infer_dictionary(table, attributes)
        if not len(dictionary):
            raise _no_attribute(source.source, getattr(dictionary, "skipped", ()))
    else:
        _check_headerless(attributes, dictionary, source.source)
        table = name_columns(table, dictionary)
        attributes = [c for c in table.columns if c != PERSON_ID]
        if not set(dictionary.names) & set(attributes):
            shown = ", ".join(attributes[:8]) + (", ..." if len(attributes) > 8 else "")
            raise InputError(
                f"{source.source}: none of the {len(dictionary)} dictionary attributes is a "
                f"column (columns found: {shown}). Fix: check the dictionary, or the file's "
                f"header ({read_key('header')})"
            )
        _check_notation(table, dictionary, source.source, config.read)
    typed = type_attributes(table, dictionary)
    undeclared = tuple(c for c in attributes if c not in typed.columns)
    has_ids = PERSON_ID in source.roles
    cleaned = clean_rows(dataclasses.replace(source, table=typed),
                         [REPEATED_ID] if has_ids else [], duplicates=has_ids)
    return CleanedPeople(cleaned.rows, cleaned.n_input, cleaned.n_quarantined, cleaned.rules,
                         cleaned.deduplicated, cleaned.n_after_as_of, cleaned.grouped,
                         cleaned.source, dictionary=dictionary, undeclared=undeclared,
                         id_column=id_column)


# ---------------------------------------------------------------- dense against sparse rows

#: Effect size from which two subsets are said to differ (Cohen's "small").
SMALL_EFFECT = 0.1


def compare_subsets(
    dense: pd.DataFrame,
    sparse: pd.DataFrame,
    types: Mapping[str, str],
    *,
    max_rows: int = 50_000,
    min_values: int = 10,
    random_state: int = 0,
) -> pd.DataFrame:
    """Compare two subsets of rows feature by feature: a test and an effect size each.

    Numeric and ordinal features: the Mann-Whitney U test and the rank-biserial
    correlation (``r``: -1 to 1, positive when the sparse rows' values are higher).
    Categorical and binary features: the chi-square test of the 2 x levels table and
    Cramér's V (0 to 1). p-values are Holm-adjusted over the features tested. With
    hundreds of thousands of rows every difference is "significant", so the verdict
    reads the effect size: ``differs`` from |effect| 0.1 (Cohen's small effect).

    Parameters
    ----------
    dense, sparse : pandas.DataFrame
        The rows kept and the rows set aside, the same columns, NaN where missing (the
        encoder's :meth:`~segwise.features.people.PeopleEncoder.attribute_values`).
    types : mapping of str to str
        Type of each column (numeric, ordinal, binary, categorical).
    max_rows : int, default=50000
        Each subset is compared on a uniform sample of at most this many rows.
    min_values : int, default=10
        A feature with fewer present values in either subset is not tested.
    random_state : int, default=0
        Seed of the samples.

    Returns
    -------
    pandas.DataFrame
        One row per feature: ``feature``, ``type``, ``n_dense``, ``n_sparse`` (present
        values compared), ``mean_dense``, ``mean_sparse``, ``test``, ``statistic``,
        ``p_value``, ``p_adjusted``, ``effect_size`` (the measure's name), ``effect``,
        ``verdict`` (``differs``, ``similar`` or ``not tested``).
    """
    import pandas as pd
    from scipy import stats

    rng = np.random.default_rng(random_state)
    a, b = _sample(dense, max_rows, rng), _sample(sparse, max_rows, rng)
    rows = []
    for col in dense.columns:
        x, y = a[col].to_numpy(dtype=np.float64), b[col].to_numpy(dtype=np.float64)
        x, y = x[~np.isnan(x)], y[~np.isnan(y)]
        kind = types.get(col, "numeric")
        row: dict[str, Any] = {"feature": col, "type": kind, "n_dense": len(x),
                               "n_sparse": len(y),
                               "mean_dense": x.mean() if len(x) else np.nan,
                               "mean_sparse": y.mean() if len(y) else np.nan,
                               "test": "", "statistic": np.nan, "p_value": np.nan,
                               "effect_size": "", "effect": np.nan}
        if min(len(x), len(y)) >= min_values:
            if kind in ("categorical", "binary"):
                levels = np.union1d(np.unique(x), np.unique(y))
                table = np.array([[np.sum(x == v) for v in levels],
                                  [np.sum(y == v) for v in levels]])
                if len(levels) > 1:
                    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
                    row.update(test="chi-square", statistic=chi2, p_value=p,
                               effect_size="Cramér's V",
                               effect=math.sqrt(chi2 / table.sum()))
            elif np.ptp(np.concatenate([x, y])) > 0:
                u, p = stats.mannwhitneyu(y, x, alternative="two-sided", method="asymptotic")
                row.update(test="Mann-Whitney U", statistic=u, p_value=p,
                           effect_size="rank-biserial r",
                           effect=2.0 * u / (len(x) * len(y)) - 1.0)
        rows.append(row)
    out = pd.DataFrame(rows)
    out["p_adjusted"] = _holm(out["p_value"].to_numpy())
    tested = out["test"] != ""
    out["verdict"] = np.where(~tested, "not tested", np.where(
        out["effect"].abs() >= SMALL_EFFECT, "differs", "similar"))
    columns = ["feature", "type", "n_dense", "n_sparse", "mean_dense", "mean_sparse", "test",
               "statistic", "p_value", "p_adjusted", "effect_size", "effect", "verdict"]
    return out[columns]


def _sample(frame: pd.DataFrame, size: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= size:
        return frame
    return frame.iloc[np.sort(rng.choice(len(frame), size, replace=False))]


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of p-values (NaN left as they are)."""
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if not len(ok):
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    adjusted = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out[order] = np.minimum(adjusted, 1.0)
    return out
