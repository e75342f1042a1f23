"""Dictionary-driven cleaning and encoding of person-level attributes, as one transformer.

:class:`PeopleEncoder` is fitted on raw rows (a population) and transforms raw rows (the
population, customers, any later table) the same way: codes that mean unknown become
missing, columns missing too often are dropped (the threshold is read from the data),
mixed attributes are split by their declared rules, categorical attributes are one-hot
encoded, ordinal ones kept as numbers and binary ones recoded 0/1. What it could not use
is never silent: a value the dictionary does not declare is encoded as missing, counted
by :meth:`PeopleEncoder.audit` and warned about (or refused, as the parameters say), and a
column it did not see at fit, or a column it needs and does not get, is an error or a
reported handling.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import math
import numbers
import warnings
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from segwise.exceptions import ColumnsError, InputError, SegwiseWarning
from segwise.io._dictionary import (
    MAX_CATEGORIES,
    MAX_ORDINAL_LEVELS,
    Attribute,
    FeatureDictionary,
    canonical_code,
    infer_dictionary,
    is_numeric_code,
)
from segwise.io._parse import MAX_NUMBER

__all__ = ["AUDIT_COUNTS", "THRESHOLD_FLOOR", "ColumnsError", "PeopleEncoder",
           "encoding_table", "missing_threshold"]

#: The table an encoder reads, for its warnings: a job names its file.
_TABLE: ContextVar[str | None] = ContextVar("segwise_encoded_table", default=None)


@contextlib.contextmanager
def encoding_table(name: str) -> Iterator[None]:
    """Name the table encoders read inside, in their warnings, instead of the step.

    ``PeopleEncoder (transform): 6 value(s) are codes ...`` told a user of the command
    line neither which file nor where the counts are; inside, the warning reads
    ``customers.csv: 6 value(s) are codes ...``.

    Parameters
    ----------
    name : str
        The file, or a table in memory by its type.
    """
    token = _TABLE.set(name)
    try:
        yield
    finally:
        _TABLE.reset(token)

#: Below this share of missing values a column or row is never set aside by the
#: automatic thresholds (imputation handles it).
THRESHOLD_FLOOR = 0.2
#: Most one-hot columns an attribute may take from the data when the dictionary declares
#: none of its codes: beyond, it is an identifier or a quantity declared categorical, and
#: one 0/1 column per value would fill the memory (21,648 columns for Adult's weights).
MAX_LEARNED_LEVELS = 1000
#: Widest range of whole-number codes looked up through a table (else binary search).
_MAX_SPAN = 4096
#: Count columns of :meth:`PeopleEncoder.audit`, in order.
AUDIT_COUNTS = ("blank", "missing_code", "unseen_code", "not_a_number")


def missing_threshold(shares: np.ndarray, floor: float = THRESHOLD_FLOOR) -> float:
    """Choose a missingness threshold from the data: an outlier fence, at least ``floor``.

    The shares of missing values of columns (or rows) usually sit close together, with a
    few far above. The fence is the median plus three scaled median absolute deviations
    (the Hampel identifier): unlike quartiles it is not moved by outliers as long as they
    are fewer than half. When almost nothing is missing the fence collapses towards 0, so
    ``floor`` keeps columns (rows) with a modest share missing: imputation handles them.

    Parameters
    ----------
    shares : ndarray of shape (n,)
        Share of missing values per column (or row), in [0, 1].
    floor : float, default=0.2
        Smallest threshold returned.

    Returns
    -------
    float
        A share in [floor, 1]: above it, a column (row) is set aside.

    Examples
    --------
    >>> import numpy as np
    >>> missing_threshold(np.array([0.0, 0.01, 0.02, 0.03, 0.05, 0.6, 0.99]))
    0.2
    >>> round(missing_threshold(np.array([0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.95])), 3)
    0.745
    """
    values = np.asarray(shares, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return float(floor)
    median = float(np.median(values))
    mad = 1.4826 * float(np.median(np.abs(values - median)))
    return float(min(1.0, max(floor, median + 3.0 * mad)))


# ---------------------------------------------------------------- values and code lookups


class _Values:
    """One column's raw values, prepared for looking up codes.

    Numbers stay numbers (``num``): NaN is blank; an infinity, or a number beyond
    :data:`~segwise.io.MAX_NUMBER` as the engine's typing refuses it, is a value that is
    not a number (a typed table's ``abc`` arrives as one, see :func:`_arrow_values`).
    Anything else is reduced to its distinct canonical codes (``keys``) and the position
    of each row's code among them (``inv``, -1 blank), so that text columns are looked up
    once per distinct value, not once per row.
    """

    def __init__(self, raw: np.ndarray) -> None:
        self.n = len(raw)
        self.not_number: np.ndarray  # numbers only: where a present value is not one
        self.num: np.ndarray | None = None
        self.keys: list[str] = []
        self.inv: np.ndarray = np.empty(0, dtype=np.int64)
        if raw.dtype.kind in "biuf":
            self.num = raw.astype(np.float64, copy=False)
            self.null = np.isnan(self.num)
            self.not_number = np.abs(self.num) > MAX_NUMBER   # NaN compares False
            return
        # Text is hashed once per row; blanks and canonical codes are found per distinct
        # value. Equal objects of other types hash alike (1 == 1.0 == True) but read as
        # different text, so those columns are stripped row by row.
        codes, uniq = pd.factorize(np.asarray(raw, dtype=object), sort=False)
        if all(isinstance(v, str) for v in uniq):
            stripped = [v.strip() for v in uniq]
        else:
            series = pd.Series(raw, dtype=object)
            text = series[series.notna()].astype(str).str.strip()
            codes = np.full(self.n, -1, dtype=np.intp)
            codes[series.notna().to_numpy()], uniq = pd.factorize(text, sort=False)
            stripped = list(uniq)
        # Distinct texts in order of first appearance; blank ones (and nulls) are -1.
        text_of, keep = pd.factorize(np.array([*stripped, ""], dtype=object), sort=False)
        blank = text_of[-1]
        position = np.where(text_of == blank, -1, text_of - (text_of > blank))
        self.inv = np.append(position[:-1], -1).astype(np.int64)[codes]
        self.null = self.inv < 0
        self.keys = [canonical_code(v) for v in keep if v != ""]

    def _distinct(self) -> tuple[list[str], np.ndarray]:
        """Canonical keys and per-row positions, building them for a numeric column."""
        if self.num is None:
            return self.keys, self.inv
        uniq, inv = np.unique(self.num, return_inverse=True)
        keep = np.isfinite(uniq)
        inv = np.where(keep[inv], inv, -1)
        keys = [canonical_code(float(v)) if k else "" for v, k in zip(uniq, keep, strict=True)]
        return keys, inv

    def lookup(self, keys: Sequence[str]) -> np.ndarray:
        """Position of each row's code in ``keys``; -1 where blank or not among them."""
        if not keys:
            return np.full(self.n, -1, dtype=np.int64)
        if self.num is not None and all(is_numeric_code(k) for k in keys):
            codes = np.array([float(k) for k in keys])
            offsets = self.offsets
            if offsets is not None:
                return self._lookup_offsets(codes, *offsets)
            order = np.argsort(codes, kind="stable")
            sorted_codes = codes[order]
            pos = np.clip(np.searchsorted(sorted_codes, self.num), 0, len(codes) - 1)
            hit = sorted_codes[pos] == self.num
            return np.where(hit, order[pos], -1)
        found, inv = self._distinct()
        where = {k: i for i, k in enumerate(keys)}
        table = np.array([where.get(k, -1) for k in found] + [-1], dtype=np.int64)
        return table[inv]  # inv == -1 reads the trailing -1

    @functools.cached_property
    def offsets(self) -> tuple[float, int, np.ndarray] | None:
        """Small whole numbers (codes) as offsets from the smallest, for table lookups.

        The smallest value, the span and each row's offset (``span + 1`` where blank or
        not a number), or None when the values are not all whole or span more than
        :data:`_MAX_SPAN` (codes are then found by binary search).
        """
        if self.num is None:
            return None
        finite = ~(self.null | self.not_number)
        present = self.num[finite]
        if not len(present):
            return None
        low, high = float(present.min()), float(present.max())
        if high - low > _MAX_SPAN or not bool(np.all(present == np.floor(present))):
            return None
        span = int(high - low)
        offset = np.full(self.n, span + 1, dtype=np.intp)
        offset[finite] = (present - low).astype(np.intp)
        return low, span, offset

    @staticmethod
    def _lookup_offsets(codes: np.ndarray, low: float, span: int, offset: np.ndarray
                        ) -> np.ndarray:
        """:meth:`lookup` of whole-number rows: a table from offset to key position."""
        table = np.full(span + 2, -1, dtype=np.int64)
        for i in range(len(codes) - 1, -1, -1):  # the first of equal keys wins
            step = codes[i] - low
            if step == np.floor(step) and 0 <= step <= span:
                table[int(step)] = i
        return table[offset]

    def numbers(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the values as floats, and where a present value is not a number."""
        if self.num is not None:
            return self.num, self.not_number
        values = np.array([_float(k) for k in self.keys] + [np.nan], dtype=np.float64)
        out = values[self.inv]
        return out, ~self.null & np.isnan(out)

    def distinct_codes(self, mask: np.ndarray) -> list[str]:
        """Canonical codes present in the rows of ``mask``."""
        found, inv = self._distinct()
        used = np.unique(inv[mask & (inv >= 0)])
        return [found[i] for i in used]


def _float(key: str) -> float:
    """Read a code as a number: NaN where it is none, or one the engine would not read."""
    try:
        value = float(key)
    except ValueError:
        return math.nan
    return value if abs(value) <= MAX_NUMBER else math.nan


def _sorted_codes(codes: Sequence[str]) -> list[str]:
    """Codes in natural order: numbers by value, then text."""
    nums = sorted((c for c in codes if is_numeric_code(c)), key=float)
    return nums + sorted(c for c in codes if not is_numeric_code(c))


# ---------------------------------------------------------------- input tables


def _column_arrays(X: Any) -> tuple[list[str] | None, list[np.ndarray], int]:
    """Split any supported input into column names (None for arrays) and 1-D arrays."""
    if isinstance(X, pd.DataFrame):
        # Names only when all are text, as scikit-learn reads them (0, 1, ... are positions).
        names = [str(c) for c in X.columns] if all(isinstance(c, str) for c in X.columns) \
            else None
        return names, [_series_values(X.iloc[:, i]) for i in range(X.shape[1])], len(X)
    if _is_arrow(X):
        arrays = [_arrow_values(X.column(i)) for i in range(X.num_columns)]
        return list(X.column_names), arrays, X.num_rows
    if hasattr(X, "tocsr") or hasattr(X, "toarray"):
        raise TypeError("PeopleEncoder does not take sparse input: sparse matrices are "
                        "not supported; pass a dense table")
    arr = check_array(X, dtype=None, ensure_all_finite=False, ensure_min_samples=1)
    return None, [arr[:, j] for j in range(arr.shape[1])], arr.shape[0]


def _is_arrow(X: Any) -> bool:
    return type(X).__module__.startswith("pyarrow") and hasattr(X, "column_names")


def _series_values(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    return s.to_numpy(dtype=object)


def _arrow_values(col: Any) -> np.ndarray:
    """Return a column as numbers (NULL, a blank, as NaN) or as objects.

    Arrow tells a NULL (blank) from a NaN that is a value: the people job types text that
    is not a number (``abc`` in a numeric attribute) as NaN and blanks as NULL. Such NaN
    become infinities here, which :class:`_Values` counts as not a number.
    """
    import pyarrow as pa

    kind = col.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind) \
            or pa.types.is_decimal(kind) or pa.types.is_null(kind):
        values = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
        if pa.types.is_floating(kind):
            nan = np.isnan(values)
            if np.count_nonzero(nan) > col.null_count:
                values = values.copy()
                values[nan & np.asarray(col.is_valid())] = np.inf
        return values
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)


# ---------------------------------------------------------------- the encoder


class PeopleEncoder(TransformerMixin, BaseEstimator):
    """Clean and encode person-level attributes by their feature dictionary.

    The contract: fit on raw rows of a population (text or numbers, as read), transform
    raw rows of any table with those columns into one float matrix, the same way every
    time. Missing values are NaN in the output (impute them next); nothing is dropped or
    changed silently.

    Per attribute, in dictionary order (attributes of ``exclude``, columns the dictionary
    does not declare and attributes missing too often are not used):

    * codes the dictionary lists as unknown, blanks and NaN become missing;
    * ``numeric``: the value; a present value that is not a number (text, infinite,
      beyond :data:`~segwise.io.MAX_NUMBER`) becomes missing, counted as ``not_a_number``;
    * ``ordinal``: the code as a number (text codes: their 1-based place in the declared
      order);
    * ``binary``: 0 for the first declared (or, undeclared, the smaller) value, 1 for the
      other;
    * ``categorical``: one 0/1 column per declared code (undeclared: per code seen at fit),
      all missing when the value is;
    * ``mixed``: split into its declared parts (``ATTR.part``), each encoded by its type;
      a mixed attribute without parts is one-hot encoded like a categorical.

    A present value that is not among the declared codes (or, for undeclared categoricals
    and binaries, the codes seen at fit) is an *unseen code*: missing, counted by
    :meth:`audit`, and warned about; ``unseen_codes="error"`` refuses it instead.

    Parameters
    ----------
    dictionary : FeatureDictionary or None, default=None
        The declared attributes; ``None`` infers them from the rows at fit
        (:func:`segwise.io.infer_dictionary`), shown in ``dictionary_``.
    exclude : tuple of str, default=()
        Attributes never used (an id, a target such as a response flag); shell-style
        patterns match several (``"P*"``).
    column_threshold : float or "auto", default="auto"
        Attributes whose share of missing values at fit exceeds it are dropped; ``"auto"``
        takes :func:`missing_threshold` of the attributes' shares.
    row_threshold : float or "auto", default="auto"
        Rows whose share of missing attributes exceeds it are *sparse*
        (:meth:`sparse_rows`): too incomplete to place; ``"auto"`` as above, over the
        rows at fit.
    threshold_floor : float, default=0.2
        The smallest ``"auto"`` threshold.
    unknown_columns : {"error", "ignore"}, default="error"
        A table given to :meth:`transform` with a column fit did not see: ``"error"``
        (scikit-learn's rule: the same columns in the same order), or ``"ignore"``: the
        column is not used and :meth:`audit` lists it; columns are then matched by name.
    missing_columns : {"error", "missing"}, default="error"
        A column that is used and absent from a table given to :meth:`transform`:
        ``"error"``, or ``"missing"``: every row is missing it (imputed later), listed by
        :meth:`audit` and warned about.
    unseen_codes : {"missing", "error"}, default="missing"
        See above.
    max_ordinal_levels, max_categories : int
        Inference rules when there is no dictionary (see
        :func:`segwise.io.infer_dictionary`).

    Attributes
    ----------
    dictionary_ : FeatureDictionary
        The dictionary used: ``dictionary``, or the inferred one (each attribute's
        ``note`` says why it got its type).
    attributes_ : list of str
        Attributes used, in dictionary order.
    column_threshold_, row_threshold_ : float
        The thresholds applied.
    column_missing_ : dict of str to float
        Share of missing values per attribute at fit (unknown and unseen codes included).
    row_missing_ : ndarray of shape (n_samples,)
        Share of used attributes missing per row at fit.
    columns_ : dict of str to list
        The column audit of fit, one entry per input column and per declared attribute
        absent from the input: ``column``, ``type``, ``status`` (``used``, ``excluded``,
        ``not in the dictionary``, ``above the missing threshold``, ``not in the data``),
        ``missing_share``, the counts ``blank``, ``missing_code``, ``unseen_code``,
        ``not_a_number``, and ``note`` (the outputs, or why). :meth:`column_audit` returns
        it as a DataFrame.
    outputs_ : list of dict
        One per output column: ``feature`` (its name), ``attribute``, ``part`` (of a mixed
        attribute, else ""), ``kind`` (numeric, ordinal, binary, onehot), ``code`` and
        ``label`` (one-hot and binary columns), for decoding.
    n_features_in_ : int
        Columns seen at fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Their names, when fit was given a table with string column names.

    Examples
    --------
    >>> import pandas as pd
    >>> from segwise.io import Attribute, FeatureDictionary
    >>> d = FeatureDictionary([
    ...     Attribute("age_band", "ordinal", missing=("-1",)),
    ...     Attribute("region", "categorical", labels={"N": "north", "S": "south"}),
    ... ])
    >>> X = pd.DataFrame({"age_band": [1, 3, -1, 2], "region": ["N", "S", "S", None]})
    >>> enc = PeopleEncoder(d).fit(X)
    >>> enc.get_feature_names_out().tolist()
    ['age_band', 'region=N', 'region=S']
    >>> enc.transform(X)[2].tolist()
    [nan, 0.0, 1.0]
    """

    def __init__(
        self,
        dictionary: FeatureDictionary | None = None,
        *,
        exclude: Sequence[str] = (),
        column_threshold: float | str = "auto",
        row_threshold: float | str = "auto",
        threshold_floor: float = THRESHOLD_FLOOR,
        unknown_columns: str = "error",
        missing_columns: str = "error",
        unseen_codes: str = "missing",
        max_ordinal_levels: int = MAX_ORDINAL_LEVELS,
        max_categories: int = MAX_CATEGORIES,
    ) -> None:
        self.dictionary = dictionary
        self.exclude = exclude
        self.column_threshold = column_threshold
        self.row_threshold = row_threshold
        self.threshold_floor = threshold_floor
        self.unknown_columns = unknown_columns
        self.missing_columns = missing_columns
        self.unseen_codes = unseen_codes
        self.max_ordinal_levels = max_ordinal_levels
        self.max_categories = max_categories

    # -- parameters ---------------------------------------------------------------------
    def _check_params(self) -> None:
        choices = {"unknown_columns": ("error", "ignore"),
                   "missing_columns": ("error", "missing"),
                   "unseen_codes": ("missing", "error")}
        for name, ok in choices.items():
            if getattr(self, name) not in ok:
                raise ValueError(f"{name} must be one of {', '.join(ok)}, "
                                 f"got {getattr(self, name)!r}")
        for name in ("column_threshold", "row_threshold"):
            value = getattr(self, name)
            if value != "auto" and not (isinstance(value, numbers.Real)
                                        and 0 <= float(value) <= 1):
                raise ValueError(f"{name} must be 'auto' or a share in [0, 1], got {value!r}")
        if self.dictionary is not None and not isinstance(self.dictionary, FeatureDictionary):
            raise TypeError("dictionary must be a segwise FeatureDictionary or None")

    # -- fitting ------------------------------------------------------------------------
    def fit(self, X: Any, y: object = None) -> PeopleEncoder:
        """Learn the columns used, the codes, the thresholds and the outputs.

        Parameters
        ----------
        X : pandas.DataFrame, pyarrow.Table or array-like of shape (n_samples, n_columns)
            Raw rows of the population: numbers or text, as read.
        y : None
            Ignored.

        Returns
        -------
        PeopleEncoder
            The fitted encoder.
        """
        self._check_params()
        names, arrays, n = _column_arrays(X)
        if n == 0:
            raise ValueError("Found array with 0 sample(s) (shape=(0, "
                             f"{len(arrays)})) while a minimum of 1 is required.")
        if names is not None:
            validate_data(self, _names_frame(X, names), skip_check_array=True, reset=True)
        else:
            self.n_features_in_ = len(arrays)
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        columns = names or [f"x{j}" for j in range(len(arrays))]
        dictionary = self.dictionary if self.dictionary is not None else self._infer(
            columns, arrays)
        self.dictionary_ = dictionary
        excluded = {c for c in [*columns, *dictionary.names]
                    if any(fnmatch.fnmatchcase(c, p) for p in self.exclude)}
        present = dict(zip(columns, arrays, strict=True))
        specs: list[dict[str, Any]] = []
        audit: list[dict[str, Any]] = []
        cleaned: dict[str, np.ndarray] = {}
        for col in columns:
            if col in excluded:
                kind = dictionary[col].type if col in dictionary else ""
                audit.append(_audit_row(col, kind, "excluded", "excluded by the user"))
            elif col not in dictionary:
                audit.append(_audit_row(col, "", "not in the dictionary",
                                        "not declared in the dictionary: not used"))
        for attr in dictionary:
            if attr.name not in present:
                audit.append(_audit_row(attr.name, attr.type, "not in the data",
                                        "declared in the dictionary, absent from the data"))
                continue
            if attr.name in excluded:
                continue
            spec, counts, missing, notes = _fit_attribute(attr, present[attr.name])
            specs.append(spec)
            cleaned[attr.name] = missing
            audit.append({**_audit_row(attr.name, attr.type, "used", notes),
                          "missing_share": float(missing.mean()), **counts})
        shares = {s["name"]: float(cleaned[s["name"]].mean()) for s in specs}
        self.column_missing_ = shares
        self.column_threshold_ = self._threshold(self.column_threshold,
                                                 np.array(list(shares.values())))
        # A column missing in every row has nothing to learn from, whatever the threshold
        # (with few columns the fence can reach 100 %); kept, it would only make every row
        # look sparser.
        kept = [s for s in specs if shares[s["name"]] <= self.column_threshold_
                and shares[s["name"]] < 1]
        for row in audit:
            if row["status"] == "used" and row["column"] not in {s["name"] for s in kept}:
                row["status"] = "above the missing threshold"
                row["note"] = ("missing in every row: not used" if row["missing_share"] >= 1
                               else f"missing in {row['missing_share']:.1%} of rows, above "
                                    f"the threshold {self.column_threshold_:.1%}: not used")
        if not kept:
            raise InputError(self._nothing_left(shares, columns, dictionary))
        self._specs = kept
        self.attributes_ = [s["name"] for s in kept]
        missing_matrix = np.column_stack([cleaned[s["name"]] for s in kept])
        self.row_missing_ = missing_matrix.mean(axis=1)
        self.row_threshold_ = self._threshold(self.row_threshold, self.row_missing_)
        self.outputs_ = [o for s in kept for o in s["outputs"]]
        for row in audit:
            if row["status"] == "used":
                spec = next(s for s in kept if s["name"] == row["column"])
                row["note"] = "; ".join(filter(None, [row["note"], _outputs_note(spec)]))
        self.columns_ = {key: [row[key] for row in audit] for key in _AUDIT_KEYS}
        self._warn_unseen(audit, "fit")
        return self

    def _nothing_left(self, shares: dict[str, float], columns: list[str],
                      dictionary: FeatureDictionary) -> str:
        """Say why fit has no attribute to encode, and what to change."""
        if shares:
            low = sorted(shares.items(), key=lambda kv: kv[1])
            shown = ", ".join(f"{name} {share:.1%}" for name, share in low[:4])
            more = f" and {len(low) - 4} more" if len(low) > 4 else ""
            return (f"every attribute is missing too often to be used: the threshold is "
                    f"{self.column_threshold_:.1%} of rows, the least missing are {shown}"
                    f"{more}. Fix: raise column_threshold "
                    "([people] column_threshold), or check the dictionary's unknown codes")
        declared = [c for c in columns if c in dictionary]
        if declared:
            return (f"every attribute of the data is excluded ({', '.join(declared[:6])}"
                    f"{', ...' if len(declared) > 6 else ''}). Fix: check the exclusions")
        return (f"none of the dictionary's {len(dictionary)} attributes is a column of the "
                f"data (columns: {', '.join(columns[:6])}{', ...' if len(columns) > 6 else ''})"
                ". Fix: check the dictionary's names against the columns")

    def _infer(self, columns: list[str], arrays: list[np.ndarray]) -> FeatureDictionary:
        from segwise._engine import duckdb_connection

        frame = pd.DataFrame({
            c: (a if a.dtype.kind in "biuf" else pd.Series(a, dtype=object).map(
                lambda v: None if v is None or (isinstance(v, float) and math.isnan(v))
                else str(v)))
            for c, a in zip(columns, arrays, strict=True)
        })
        backend = duckdb_connection()
        backend.con.register("people_frame", frame)
        backend.con.execute("CREATE TEMP TABLE people_rows AS SELECT * FROM people_frame")
        backend.con.unregister("people_frame")
        return infer_dictionary(backend.table("people_rows"), columns,
                                max_ordinal_levels=self.max_ordinal_levels,
                                max_categories=self.max_categories)

    def _threshold(self, value: float | str, shares: np.ndarray) -> float:
        if value == "auto":
            return missing_threshold(shares, self.threshold_floor)
        return float(value)

    # -- transforming -------------------------------------------------------------------
    def _used_columns(self, X: Any) -> tuple[dict[str, np.ndarray], int, dict[str, Any]]:
        """Return the used attributes' raw arrays, the row count and column mismatches."""
        check_is_fitted(self, "attributes_")
        names, arrays, n = _column_arrays(X)
        fitted = list(getattr(self, "feature_names_in_", []))
        mismatch: dict[str, Any] = {"unknown": [], "absent": []}
        strict = self.unknown_columns == "error" and self.missing_columns == "error"
        if names is None or not fitted:
            validate_data(self, _names_frame(X, names) if names is not None
                          else np.empty((0, len(arrays))), skip_check_array=True, reset=False)
            columns = fitted or [f"x{j}" for j in range(len(arrays))]
            return dict(zip(columns, arrays, strict=True)), n, mismatch
        if strict:
            try:
                validate_data(self, _names_frame(X, names), skip_check_array=True, reset=False)
            except ValueError as exc:
                raise ColumnsError(f"{exc}\nFix: give the columns the encoder was fitted on, "
                                   "or set unknown_columns='ignore' / "
                                   "missing_columns='missing'") from None
        present = dict(zip(names, arrays, strict=True))
        mismatch["unknown"] = [c for c in names if c not in set(fitted)]
        mismatch["absent"] = [a for a in self.attributes_ if a not in present]
        if mismatch["unknown"] and self.unknown_columns == "error":
            raise ColumnsError(f"columns the encoder was not fitted on: "
                               f"{', '.join(mismatch['unknown'])}. Fix: drop them, or set "
                               "unknown_columns='ignore'")
        if mismatch["absent"] and self.missing_columns == "error":
            raise ColumnsError(f"columns the encoder needs are absent: "
                               f"{', '.join(mismatch['absent'])}. Fix: add them, or set "
                               "missing_columns='missing' to treat them as missing")
        return present, n, mismatch

    def _encode(self, X: Any, dtype: Any = np.float64
                ) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Output matrix, per-attribute missing mask, and per-column counts.

        The outputs are written one attribute at a time into a matrix with one row per
        output (contiguous writes; writing columns of a row-major matrix touches every
        row's memory for each), cast to ``dtype`` as they are written, then transposed
        into a row-major (C-contiguous) matrix, the layout the later steps expect.
        """
        present, n, mismatch = self._used_columns(X)
        out = np.empty((len(self.outputs_), n), dtype=dtype)
        missing = np.empty((len(self._specs), n), dtype=bool)
        rows: list[dict[str, Any]] = []
        j = 0
        for k, spec in enumerate(self._specs):
            width = len(spec["outputs"])
            raw = present.get(spec["name"])
            if raw is None:
                out[j:j + width] = np.nan
                missing[k] = True
                rows.append({**_audit_row(spec["name"], spec["type"], "absent",
                                          "absent from the table: every row missing"),
                             "blank": n})
            else:
                block, miss, counts = _transform_attribute(spec, raw)
                out[j:j + width] = block.T
                missing[k] = miss
                rows.append({**_audit_row(spec["name"], spec["type"], "used", ""), **counts})
            j += width
        rows += [_audit_row(c, "", "unknown column", "not fitted on: not used")
                 for c in mismatch["unknown"]]
        # The mask stays a transposed view: its uses (shares missing) read it either way.
        return np.ascontiguousarray(out.T), missing.T, rows

    def transform(self, X: Any) -> np.ndarray:
        """Encode raw rows the way fit learned.

        Parameters
        ----------
        X : pandas.DataFrame, pyarrow.Table or array-like of shape (n_samples, n_columns)
            Raw rows with the columns of fit (see ``unknown_columns`` and
            ``missing_columns``).

        Returns
        -------
        ndarray of shape (n_samples, n_outputs)
            One column per output (:meth:`get_feature_names_out`); NaN where missing.

        Raises
        ------
        ColumnsError
            On a column mismatch the parameters refuse.
        InputError
            On an unseen code when ``unseen_codes="error"``.
        """
        out, _, rows = self._encode(X)
        self._warn_unseen(rows, "transform")
        return out

    def _warn_unseen(self, rows: list[dict[str, Any]], step: str) -> None:
        unseen = [(r["column"], r.get("unseen_code", 0)) for r in rows if r.get("unseen_code")]
        absent = [r["column"] for r in rows if r["status"] == "absent"]
        table = _TABLE.get()
        said = f"{table}:" if table else f"PeopleEncoder ({step}):"
        see = ("Counted per column in the encoding audit" if table
               else "See PeopleEncoder.audit(X)")
        if unseen:
            listed = ", ".join(f"{c} ({k:,})" for c, k in unseen[:8])
            more = f" and {len(unseen) - 8} more columns" if len(unseen) > 8 else ""
            total = sum(k for _, k in unseen)
            if self.unseen_codes == "error":
                raise InputError(f"{total:,} value(s) are codes the dictionary does not "
                                 f"declare: {listed}{more}. Fix: declare them in the "
                                 "dictionary (as codes or unknown codes), or set "
                                 "unseen_codes='missing'")
            warnings.warn(f"{said} {total:,} value(s) are codes the dictionary does not "
                          f"declare, encoded as missing: {listed}{more}. {see}",
                          SegwiseWarning, stacklevel=3)
        if absent:
            warnings.warn(f"{said} column(s) {', '.join(absent)} absent; every row is "
                          "missing them", SegwiseWarning, stacklevel=3)

    def audit(self, X: Any) -> pd.DataFrame:
        """Count, per column, what encoding ``X`` treats as missing or cannot use.

        Parameters
        ----------
        X : pandas.DataFrame, pyarrow.Table or array-like
            Raw rows, as for :meth:`transform`.

        Returns
        -------
        pandas.DataFrame
            One row per used attribute and per column not used: ``column``, ``type``,
            ``status`` (``used``, ``absent`` (missing_columns="missing"), ``unknown
            column`` (unknown_columns="ignore")), ``blank``, ``missing_code`` (codes the
            dictionary calls unknown), ``unseen_code`` (codes it does not declare),
            ``not_a_number``, ``missing_share`` and ``note``.
        """
        _, missing, rows = self._encode(X)
        frame = pd.DataFrame([{key: row.get(key, 0) for key in _AUDIT_KEYS} for row in rows])
        # The first rows are the used attributes, in order; unknown columns follow.
        shares = missing.mean(axis=0) if len(missing) else np.zeros(missing.shape[1])
        frame.loc[:len(self._specs) - 1, "missing_share"] = shares
        return frame

    def row_missing(self, X: Any) -> np.ndarray:
        """Share of the used attributes missing in each row of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame, pyarrow.Table or array-like
            Raw rows, as for :meth:`transform`.

        Returns
        -------
        ndarray of shape (n_samples,)
            Shares in [0, 1].
        """
        _, missing, _ = self._encode(X)
        return missing.mean(axis=1)

    def sparse_rows(self, X: Any) -> np.ndarray:
        """Rows too incomplete to place: share missing above ``row_threshold_``.

        Parameters
        ----------
        X : pandas.DataFrame, pyarrow.Table or array-like
            Raw rows, as for :meth:`transform`.

        Returns
        -------
        ndarray of bool of shape (n_samples,)
            True for sparse rows.
        """
        return self.row_missing(X) > self.row_threshold_

    def attribute_values(self, X: Any) -> pd.DataFrame:
        """Return cleaned values per used attribute (before one-hot encoding), NaN missing.

        Numeric and ordinal attributes as numbers, binary ones 0/1, categorical ones as
        the position of their code in ``levels`` of the output (0-based); the parts of a
        mixed attribute as their own columns (``ATTR.part``).

        Parameters
        ----------
        X : pandas.DataFrame, pyarrow.Table or array-like
            Raw rows, as for :meth:`transform`.

        Returns
        -------
        pandas.DataFrame
            One column per used attribute or part.
        """
        present, n, _ = self._used_columns(X)
        columns: dict[str, np.ndarray] = {}
        for spec in self._specs:
            raw = present.get(spec["name"])
            for name, values in _attribute_columns(spec, raw, n).items():
                columns[name] = values
        return pd.DataFrame(columns)

    def attribute_types(self) -> dict[str, str]:
        """Type of each column of :meth:`attribute_values`."""
        check_is_fitted(self, "attributes_")
        out: dict[str, str] = {}
        for spec in self._specs:
            for name, kind in _attribute_kinds(spec).items():
                out[name] = kind
        return out

    def column_audit(self) -> pd.DataFrame:
        """Return the column audit of fit (:attr:`columns_`) as a DataFrame."""
        check_is_fitted(self, "columns_")
        return pd.DataFrame(self.columns_)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns.

        Parameters
        ----------
        input_features : array-like of str, optional
            Must equal ``feature_names_in_`` when given.

        Returns
        -------
        ndarray of str
            ``ATTR`` for numeric, ordinal and binary outputs, ``ATTR=code`` for one-hot
            columns, ``ATTR.part`` (``ATTR.part=code``) for the parts of mixed attributes.
        """
        from sklearn.utils.validation import _check_feature_names_in

        check_is_fitted(self, "outputs_")
        _check_feature_names_in(self, input_features, generate_names=False)
        return np.asarray([o["feature"] for o in self.outputs_], dtype=object)

    def describe_output(self, feature: str) -> str:
        """Describe an output column in dictionary words (``Customer Subtype: Farmers``).

        Parameters
        ----------
        feature : str
            A name from :meth:`get_feature_names_out`.

        Returns
        -------
        str
            The attribute's description (its name when it has none), the part, and the
            code's label for one-hot and binary columns.
        """
        check_is_fitted(self, "outputs_")
        for o in self.outputs_:
            if o["feature"] == feature:
                return _describe(self.dictionary_[o["attribute"]], o)
        raise KeyError(feature)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags

    def __getstate__(self) -> dict[str, Any]:
        """State to save: a given dictionary once, not again as the fitted one.

        skops writes every reference to an object out in full; ``dictionary_`` is the
        ``dictionary`` given (when one was), so it is left out and rebuilt on loading.
        """
        state = dict(super().__getstate__())  # a copy: Python's default is __dict__ itself
        if state.get("dictionary_") is not None and state["dictionary_"] is self.dictionary:
            del state["dictionary_"]
            state[_GIVEN_DICTIONARY] = True
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a saved state, ``dictionary_`` as the given dictionary again."""
        state = dict(state)
        if state.pop(_GIVEN_DICTIONARY, False):
            state["dictionary_"] = state["dictionary"]
        super().__setstate__(state)


#: Key of a saved encoder's state: its ``dictionary_`` is its ``dictionary``.
_GIVEN_DICTIONARY = "_dictionary_is_given"

_AUDIT_KEYS = ("column", "type", "status", "missing_share", *AUDIT_COUNTS, "note")


def _audit_row(column: str, kind: str, status: str, note: str) -> dict[str, Any]:
    return {"column": column, "type": kind, "status": status, "missing_share": np.nan,
            **dict.fromkeys(AUDIT_COUNTS, 0), "note": note}


def _names_frame(X: Any, names: list[str]) -> Any:
    """``X`` itself when scikit-learn reads its column names, else a 0-row stand-in."""
    if isinstance(X, pd.DataFrame):
        return X
    return pd.DataFrame(columns=names)


def _outputs_note(spec: dict[str, Any]) -> str:
    """``one-hot: 41 columns`` or the names of the outputs, for the column audit."""
    outputs = spec["outputs"]
    onehot = sum(o["kind"] == "onehot" for o in outputs)
    if onehot:
        return f"one-hot: {onehot} column{'s' * (onehot != 1)}" + (
            f" of {len(outputs)} outputs" if onehot < len(outputs) else "")
    return f"encoded {spec['type']}" if len(outputs) == 1 else (
        "split into " + ", ".join(o["feature"] for o in outputs))


def _describe(attr: Attribute, output: dict[str, Any]) -> str:
    text = attr.text
    if output["part"]:
        part = next((p for p in attr.parts if p.name == output["part"]), None)
        text += f" ({part.description or part.name})" if part else f" ({output['part']})"
    if output["kind"] in ("onehot", "binary") and output["code"] != "":
        return f"{text}: {output['label']}"
    return text


# ---------------------------------------------------------------- fitting one attribute


def _fit_attribute(attr: Attribute, raw: np.ndarray
                   ) -> tuple[dict[str, Any], dict[str, int], np.ndarray, str]:
    """Learn how to encode one attribute; its counts, missing mask and a note."""
    values = _Values(raw)
    declared = attr.codes
    spec: dict[str, Any] = {"name": attr.name, "type": attr.type, "missing": list(attr.missing),
                            "codes": declared, "levels": [], "parts": []}
    coded = values.lookup(attr.missing) >= 0
    base = values.null | coded
    note = attr.note
    if attr.type == "mixed" and not attr.parts:
        spec["type"] = "categorical"
        note = "; ".join(filter(None, [note, "mixed without split rules: one-hot encoded"]))
    kind = spec["type"]
    if kind in ("categorical", "binary") or (kind == "ordinal" and not attr.numeric_codes):
        levels = declared or _sorted_codes(values.distinct_codes(~base))
        if not declared and kind == "categorical" and len(levels) > MAX_LEARNED_LEVELS:
            raise InputError(
                f"attribute {attr.name} is declared {attr.type} without codes and takes "
                f"{len(levels):,} distinct values ({', '.join(levels[:4])}, ...): one 0/1 "
                f"column each is too many (at most {MAX_LEARNED_LEVELS:,}). Fix: declare "
                "it numeric if it is a quantity, list its codes in the dictionary, or "
                "exclude it")
        if kind == "binary" and len(levels) > 2:
            raise InputError(
                f"attribute {attr.name} is declared binary but has {len(levels)} values "
                f"({', '.join(levels[:6])}). Fix: declare it categorical, or list its two "
                "codes and the unknown ones in the dictionary"
            )
        spec["levels"] = levels
    elif kind == "mixed":
        spec["parts"] = [_fit_part(attr, p, values, base) for p in attr.parts]
    spec["outputs"] = _outputs(attr, spec)
    _, miss, counts = _transform_attribute(spec, raw, values, blocks=False)
    return spec, counts, miss, note


def _fit_part(attr: Attribute, part: Any, values: _Values, base: np.ndarray) -> dict[str, Any]:
    keys = list(part.values)
    spec = {"name": part.name, "type": part.type, "keys": keys,
            "values": [part.values[k] for k in keys], "digit": part.digit, "levels": []}
    if part.type in ("categorical", "binary") or (
            part.type == "ordinal" and any(isinstance(v, str) for v in spec["values"])):
        if part.digit:
            found, _ = _part_raw(spec, values)
            levels = _sorted_codes(sorted({canonical_code(v) for v in found[~np.isnan(found)]}))
        else:
            levels = list(dict.fromkeys(canonical_code(v) for v in spec["values"]))
            if part.type != "ordinal":
                levels = _sorted_codes(levels)
        if part.type == "binary" and len(levels) > 2:
            raise InputError(f"attribute {attr.name}: part {part.name} is declared binary but "
                             f"takes {len(levels)} values. Fix: declare it categorical")
        spec["levels"] = levels
    return spec


def _outputs(attr: Attribute, spec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    parts = spec["parts"] or [None]
    for part in parts:
        name = attr.name if part is None else f"{attr.name}.{part['name']}"
        kind = spec["type"] if part is None else part["type"]
        levels = spec["levels"] if part is None else part["levels"]
        label_of = attr.label if part is None else str
        if kind == "categorical":
            out += [{"feature": f"{name}={code}", "attribute": attr.name,
                     "part": "" if part is None else part["name"], "kind": "onehot",
                     "code": code, "label": label_of(code)} for code in levels]
        else:
            code = levels[-1] if kind == "binary" and levels else ""
            out.append({"feature": name, "attribute": attr.name,
                        "part": "" if part is None else part["name"], "kind": kind,
                        "code": code, "label": label_of(code) if code else ""})
    return out


# ---------------------------------------------------------------- encoding one attribute


def _part_raw(part: dict[str, Any], values: _Values) -> tuple[np.ndarray, np.ndarray]:
    """Return a part's value per row (NaN where the code does not map), and the hits."""
    if part["digit"]:
        number, _ = values.numbers()
        whole = np.isfinite(number) & (number == np.round(number)) & (number >= 0) & (
            number < 100)
        digit = np.floor(number / 10) if part["digit"] == "tens" else np.mod(number, 10)
        return np.where(whole, digit, np.nan), np.zeros(values.n, dtype=bool)
    idx = values.lookup(part["keys"])
    mapped = np.array([_float(canonical_code(v)) if not isinstance(v, str) else np.nan
                       for v in part["values"]] + [np.nan])
    return mapped[idx], idx >= 0


def _encode_codes(kind: str, levels: list[str], idx: np.ndarray, blocks: bool = True
                  ) -> np.ndarray:
    """Encode positions among ``levels`` (-1: missing) as one output block.

    ``blocks=False`` skips building one-hot blocks (fit only needs what is missing).
    """
    n = len(idx)
    if kind == "categorical" and not blocks:
        return np.empty((n, 0))
    if kind == "categorical":
        block = np.zeros((n, len(levels)), dtype=np.float64)
        hit = idx >= 0
        block[np.flatnonzero(hit), idx[hit]] = 1.0
        block[~hit] = np.nan
        return block
    value = idx.astype(np.float64) + (1.0 if kind == "ordinal" else 0.0)
    value[idx < 0] = np.nan
    return value[:, None]


def _transform_attribute(spec: dict[str, Any], raw: np.ndarray, values: _Values | None = None,
                         *, blocks: bool = True
                         ) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Encode one attribute: its output block, missing mask and counts."""
    values = values or _Values(raw)
    coded = values.lookup(spec["missing"]) >= 0
    base = values.null | coded
    counts = {"blank": int(values.null.sum()), "missing_code": int(coded.sum()),
              "unseen_code": 0, "not_a_number": 0}
    kind = spec["type"]
    if kind == "mixed":
        parts, part_missing, unseen = [], [], np.zeros(values.n, dtype=bool)
        for part in spec["parts"]:
            block, miss, bad = _transform_part(part, values, base, blocks=blocks)
            parts.append(block)
            part_missing.append(miss)
            unseen |= bad
        counts["unseen_code"] = int(unseen.sum())
        return np.hstack(parts), np.logical_and.reduce(part_missing), counts
    if spec["levels"]:
        idx = np.where(base, -1, values.lookup(spec["levels"]))
        unseen = ~base & (idx < 0)
        counts["unseen_code"] = int(unseen.sum())
        return _encode_codes(kind, spec["levels"], idx, blocks), base | unseen, counts
    number, not_number = values.numbers()
    unseen = np.zeros(values.n, dtype=bool)
    if spec["codes"] and kind == "ordinal":
        unseen = ~base & ~not_number & (values.lookup(spec["codes"]) < 0)
    bad = base | not_number | unseen
    counts["unseen_code"] = int(unseen.sum())
    counts["not_a_number"] = int((not_number & ~base).sum())
    return np.where(bad, np.nan, number)[:, None], bad, counts


def _transform_part(part: dict[str, Any], values: _Values, base: np.ndarray, *,
                    blocks: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encode one part of a mixed attribute: block, missing mask, unseen codes."""
    if part["digit"]:
        number, _ = _part_raw(part, values)
        unseen = ~base & np.isnan(number)
        if part["levels"]:
            idx = _Values(number).lookup(part["levels"])
            idx = np.where(base | unseen, -1, idx)
            return _encode_codes(part["type"], part["levels"], idx, blocks), idx < 0, unseen
        value = np.where(base | unseen, np.nan, number)
        return value[:, None], np.isnan(value), unseen
    idx = np.where(base, -1, values.lookup(part["keys"]))
    unseen = ~base & (idx < 0)
    if part["levels"]:
        level_of = {k: i for i, k in enumerate(part["levels"])}
        table = np.array([level_of.get(canonical_code(v), -1) for v in part["values"]] + [-1])
        level = table[idx]
        return _encode_codes(part["type"], part["levels"], level, blocks), level < 0, unseen
    mapped, _ = _part_raw(part, values)
    value = np.where(idx < 0, np.nan, mapped)
    return value[:, None], np.isnan(value), unseen


def _attribute_columns(spec: dict[str, Any], raw: np.ndarray | None, n: int
                       ) -> dict[str, np.ndarray]:
    """Return one attribute's cleaned values (parts apart), before one-hot encoding."""
    names = list(_attribute_kinds(spec))
    if raw is None:
        return {name: np.full(n, np.nan) for name in names}
    values = _Values(raw)
    base = values.null | (values.lookup(spec["missing"]) >= 0)
    if spec["type"] == "mixed":
        out = {}
        for name, part in zip(names, spec["parts"], strict=True):
            block, miss, _ = _transform_part(
                {**part, "type": "ordinal" if part["type"] == "categorical" else part["type"]},
                values, base)
            level = block[:, 0] - (1.0 if part["type"] == "categorical" else 0.0)
            out[name] = np.where(miss, np.nan, level)
        return out
    if spec["type"] == "categorical":
        idx = np.where(base, -1, values.lookup(spec["levels"])).astype(np.float64)
        idx[idx < 0] = np.nan
        return {names[0]: idx}
    block, miss, _ = _transform_attribute(spec, raw, values)
    return {names[0]: np.where(miss, np.nan, block[:, 0])}


def _attribute_kinds(spec: dict[str, Any]) -> dict[str, str]:
    if spec["type"] == "mixed":
        return {f"{spec['name']}.{p['name']}": p["type"] for p in spec["parts"]}
    return {spec["name"]: spec["type"]}

