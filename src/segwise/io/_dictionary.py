"""Feature dictionaries: what every attribute of a people table is, and what its codes mean.

segwise's own format (CSV or TOML, see ``docs/people.md``) declares per attribute its type
(numeric, ordinal, categorical, binary or mixed), the codes that mean unknown or missing,
a label per code, a description, optionally its column position in files without a header
and, for a mixed attribute, the rule that splits it into plain parts. Readers turn a
segwise dictionary (:func:`read_dictionary`) or the CoIL 2000 ``dictionary.txt``
(:func:`read_coil_dictionary`) into a :class:`FeatureDictionary`; without a dictionary,
:func:`infer_dictionary` infers one from the data and says why it chose each type.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segwise.exceptions import ConfigError, read_key

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

__all__ = [
    "ATTRIBUTE_TYPES",
    "MISSING_TOKENS",
    "Attribute",
    "FeatureDictionary",
    "Part",
    "canonical_code",
    "infer_dictionary",
    "read_coil_dictionary",
    "read_dictionary",
]

#: Attribute types a dictionary may declare.
ATTRIBUTE_TYPES: tuple[str, ...] = ("numeric", "ordinal", "categorical", "binary", "mixed")
#: Types a part of a mixed attribute may have.
PART_TYPES: tuple[str, ...] = ("numeric", "ordinal", "categorical", "binary")
#: Values read as "unknown" when types are inferred, and as missing in the columns of
#: numbers of an entity table (``EntityTable.read``); compared trimmed, without case.
MISSING_TOKENS: frozenset[str] = frozenset(
    {"?", "na", "n/a", "n.a.", "#n/a", "#na", "nan", "null", "none", "-", "unknown",
     "missing",
     # Infinities, as exports write a division by zero: no value (typing reads them so).
     "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity"}
)
#: Split rules on two-digit codes: the tens digit or the units digit.
DIGIT_RULES: tuple[str, ...] = ("tens", "units")
_TRUE = {"1", "true", "yes", "y", "x", "missing", "unknown"}
#: ``missing`` cells of a CSV row with a code that say "not a missing code".
_FALSE = {"", "0", "false", "no", "n"}
#: What separates the codes of a list written in one cell or string (``-1, 9``).
_LIST_SEPARATOR = re.compile(r"[,;]")
_SPACED_SEPARATOR = re.compile(r"[^,;]+([,;]\s+[^,;]+)+")


def canonical_code(value: Any) -> str:
    """Return a code as the text it is compared by: ``1``, ``1.0`` and ``"1"`` are ``"1"``.

    Parameters
    ----------
    value : object
        A code as written in a dictionary or found in the data (number or text).

    Returns
    -------
    str
        Integral numbers without a decimal part, other numbers as Python writes them,
        text stripped of surrounding blanks.
    """
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, float)):
        number = float(value)
        if math.isfinite(number) and number == int(number):
            return str(int(number))
        return repr(number)
    text = str(value).strip()
    number_text = _as_number(text)
    return canonical_code(number_text) if number_text is not None else text


def code_list(value: Any, *, is_list: bool = False) -> list[str]:
    """Return the canonical codes of a value that may list several: ``"-1, 9"`` -> -1, 9.

    Dictionaries written by hand or exported from spreadsheets put several codes in one
    cell or string: ``-1,0``, ``[-1, 9]``, ``"X; XX"``. A bracketed text is always a list;
    otherwise text is split on commas and semicolons when ``is_list`` (it can only hold
    codes, as a list of missing codes), or when every piece is a number and each separator
    is a semicolon or followed by a blank (``-1;0``, ``-1, 0``; ``1,5`` stays one code, as
    data may hold it).

    Parameters
    ----------
    value : object
        A code, a list of codes, or text listing codes.
    is_list : bool, default=False
        Whether the value is known to list codes (split text on any separator).

    Returns
    -------
    list of str
        Canonical codes (:func:`canonical_code`), in order, each once.
    """
    if isinstance(value, (list, tuple)):
        return list(dict.fromkeys(c for v in value for c in code_list(v, is_list=True)))
    if not isinstance(value, str):
        return [canonical_code(value)]
    text = value.strip()
    bracketed = len(text) >= 2 and text[0] + text[-1] in ("[]", "()", "{}")
    pieces = [p.strip().strip("'\"").strip()
              for p in _LIST_SEPARATOR.split(text[1:-1] if bracketed else text)]
    pieces = [p for p in pieces if p]
    # A semicolon is in no number: between numbers it always separates codes.
    listed = all(map(is_numeric_code, pieces)) and (
        "," not in text or _SPACED_SEPARATOR.fullmatch(text))
    if len(pieces) > 1 and (bracketed or is_list or listed):
        return list(dict.fromkeys(canonical_code(p) for p in pieces))
    if bracketed and len(pieces) == 1:
        return [canonical_code(pieces[0])]
    return [canonical_code(text)]


def _as_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def is_numeric_code(code: str) -> bool:
    """Whether a canonical code is a number."""
    return _as_number(code) is not None


@dataclass(frozen=True)
class Part:
    """One plain attribute a mixed attribute is split into.

    Parameters
    ----------
    name : str
        The part (``"decade"``); the new attribute is ``<attribute>.<name>``.
    type : {"numeric", "ordinal", "categorical", "binary"}
        How the part is encoded.
    values : mapping of str to str or float, default={}
        Code of the mixed attribute -> value of the part (a ``map`` rule). A code it does
        not list gives a missing part.
    digit : {"tens", "units"}, optional
        Instead of ``values``: the part is the tens or the units digit of a two-digit code.
    description : str, default=""
        What the part means.
    """

    name: str
    type: str
    values: dict[str, Any] = field(default_factory=dict)
    digit: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in PART_TYPES:
            raise ConfigError(f"part {self.name!r}: type {self.type!r} is not one of "
                              f"{', '.join(PART_TYPES)}{_type_hint(self.type)}. Fix: declare "
                              "one of these")
        if (self.digit is None) == (not self.values):
            raise ConfigError(f"part {self.name!r}: give either values (code -> value) or "
                              f"digit ({' or '.join(DIGIT_RULES)}), not both or neither")
        if self.digit is not None and self.digit not in DIGIT_RULES:
            raise ConfigError(f"part {self.name!r}: digit must be one of "
                              f"{', '.join(DIGIT_RULES)}, got {self.digit!r}")


@dataclass(frozen=True)
class Attribute:
    """One declared attribute of a people table.

    Parameters
    ----------
    name : str
        The column name.
    type : {"numeric", "ordinal", "categorical", "binary", "mixed"}
        ``numeric``: a quantity, kept as it is. ``ordinal``: ordered codes, kept as numbers
        (text codes by their declared order). ``categorical``: unordered codes, one-hot
        encoded. ``binary``: two values, recoded 0/1. ``mixed``: several things in one
        code, split by ``parts``.
    description : str, default=""
        What the attribute means, in words.
    missing : tuple of str, default=()
        Codes that mean unknown or missing (canonical text, see :func:`canonical_code`).
    labels : mapping of str to str, default={}
        Label per code, in the declared order (which is the order of text ordinals and of
        binary values); missing codes may have labels too.
    position : int, optional
        1-based column position in files without a header.
    parts : tuple of Part, default=()
        How a mixed attribute is split.
    note : str, default=""
        Why the type was chosen, when it was inferred.
    """

    name: str
    type: str
    description: str = ""
    missing: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    position: int | None = None
    parts: tuple[Part, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("an attribute needs a name")
        if self.type not in ATTRIBUTE_TYPES:
            raise ConfigError(f"attribute {self.name!r}: type {self.type!r} is not one of "
                              f"{', '.join(ATTRIBUTE_TYPES)}{_type_hint(self.type)}. Fix: "
                              "declare one of these")
        if self.parts and self.type != "mixed":
            raise ConfigError(f"attribute {self.name!r}: only a mixed attribute has parts")
        names = [p.name for p in self.parts]
        if len(set(names)) != len(names):
            raise ConfigError(f"attribute {self.name!r}: a part is declared twice")
        if self.position is not None and self.position < 1:
            raise ConfigError(f"attribute {self.name!r}: position must be 1 or more")

    @property
    def codes(self) -> list[str]:
        """Declared codes that are not missing, in declared order."""
        gone = set(self.missing)
        return [c for c in self.labels if c not in gone]

    @property
    def numeric_codes(self) -> bool:
        """Whether every declared code (labels and missing) is a number."""
        return all(is_numeric_code(c) for c in (*self.labels, *self.missing))

    def label(self, code: Any) -> str:
        """Return the label of a code, else the code itself."""
        key = canonical_code(code)
        return self.labels.get(key, key)

    @property
    def text(self) -> str:
        """The description, else the name."""
        return self.description or self.name


class FeatureDictionary(Sequence[Attribute]):
    """The attributes of a people table: types, missing codes, labels, descriptions.

    A sequence of :class:`Attribute` in declared order, also indexed by name
    (``dictionary["MOSTYPE"]``, ``"MOSTYPE" in dictionary``).

    Parameters
    ----------
    attributes : iterable of Attribute
        The attributes, names distinct.
    source : str, default=""
        Where the dictionary came from, for messages.
    inferred : bool, default=False
        Whether the types were inferred from data (each attribute's ``note`` says why).
    """

    def __init__(self, attributes: Iterable[Attribute], *, source: str = "",
                 inferred: bool = False) -> None:
        self.attributes = tuple(attributes)
        self.source = source
        self.inferred = inferred
        where = f"{source}: " if source else ""
        seen: dict[str, Attribute] = {}
        for a in self.attributes:
            if a.name in seen:
                raise ConfigError(f"{where}attribute {a.name!r} is declared twice")
            seen[a.name] = a
        at: dict[int, str] = {}
        for a in self.attributes:
            if a.position is not None and a.position in at:
                raise ConfigError(f"{where}attributes {at[a.position]!r} and {a.name!r} share "
                                  f"position {a.position}. Fix: give each its own column")
            if a.position is not None:
                at[a.position] = a.name

    def _index(self) -> dict[str, Attribute]:
        return {a.name: a for a in self.attributes}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return self._index()[key]
            except KeyError:
                raise KeyError(key) from None
        return self.attributes[key]

    def __len__(self) -> int:
        return len(self.attributes)

    def __iter__(self) -> Iterator[Attribute]:
        return iter(self.attributes)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            return any(a.name == key for a in self.attributes)
        return key in self.attributes

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FeatureDictionary):
            return NotImplemented
        return self.attributes == other.attributes and self.inferred == other.inferred

    __hash__ = None  # type: ignore[assignment]  # mutable contents: not hashable

    def __repr__(self) -> str:
        kind = "inferred" if self.inferred else "declared"
        return (f"FeatureDictionary({len(self)} {kind} attributes"
                + (f" from {self.source}" if self.source else "") + ")")

    @property
    def names(self) -> list[str]:
        """Attribute names in declared order."""
        return [a.name for a in self.attributes]

    def column_names(self, n_columns: int) -> list[str]:
        """Names of the columns of a file without a header, by declared position.

        Attributes without a position take their place in declared order. Columns no
        attribute claims are called ``column_<i>`` (1-based).

        Parameters
        ----------
        n_columns : int
            Columns in the file.

        Returns
        -------
        list of str
            One name per column.
        """
        by_position = {a.position: a.name for a in self.attributes if a.position is not None}
        if not by_position:
            by_position = {i + 1: a.name for i, a in enumerate(self.attributes)}
        return [by_position.get(i, f"column_{i}") for i in range(1, n_columns + 1)]

    def table(self) -> pa.Table:
        """One row per attribute: what a user reads to check a dictionary.

        Returns
        -------
        pyarrow.Table
            ``attribute``, ``type``, ``description``, ``missing_codes`` (joined by
            ``; ``), ``codes`` (number of labelled codes), ``parts`` and ``note``.
        """
        import pyarrow as pa

        rows = self.attributes
        return pa.table({
            "attribute": [a.name for a in rows],
            "type": [a.type for a in rows],
            "description": [a.description for a in rows],
            "missing_codes": ["; ".join(a.missing) for a in rows],
            "codes": pa.array([len(a.codes) for a in rows], pa.int64()),
            "parts": [", ".join(p.name for p in a.parts) for a in rows],
            "note": [a.note for a in rows],
        })

    def to_text(self, suffix: str = ".toml", *, where: str | Path = "dictionary") -> str:
        """Return the dictionary in segwise's format, as :meth:`write` writes it.

        Parameters
        ----------
        suffix : {".toml", ".csv"}
            The format.
        where : str or Path
            The file or name an error names.

        Returns
        -------
        str
        """
        if suffix.lower() == ".toml":
            return _to_toml(self)
        if suffix.lower() == ".csv":
            return _to_csv(self)
        raise ConfigError(f"{where}: a dictionary is written as .toml or .csv")

    def write(self, path: str | Path) -> Path:
        """Write the dictionary in segwise's format, CSV or TOML by the file suffix.

        A TOML file keeps everything; a CSV file keeps everything too (one row per code,
        parts as ``part``/``value`` rows). Reading it back gives an equal dictionary.

        Parameters
        ----------
        path : str or Path
            ``.toml`` or ``.csv`` file.

        Returns
        -------
        Path
            The file written.
        """
        path = Path(path)
        text = self.to_text(path.suffix, where=path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path


# ---------------------------------------------------------------- segwise's own format

#: Columns of the CSV format (one row per code; attribute fields on any of its rows).
CSV_COLUMNS: tuple[str, ...] = (
    "attribute", "type", "description", "position", "code", "label", "missing",
    "part", "part_type", "value",
)


def read_dictionary(path: str | Path) -> FeatureDictionary:
    """Read a feature dictionary in segwise's format (CSV, Excel or TOML, by the suffix).

    Parameters
    ----------
    path : str or Path
        ``.csv`` / ``.tsv`` (one row per attribute code, see ``docs/people.md``), an Excel
        workbook whose first sheet has the same columns, or ``.toml`` (one table per
        attribute); a CoIL 2000 ``dictionary.txt`` is recognised by its first line and
        read with :func:`read_coil_dictionary`. In CSV and Excel, a row without an
        attribute name continues the attribute above (a spreadsheet's merged cells).

    Returns
    -------
    FeatureDictionary
        The declared attributes, in file order.

    Raises
    ------
    ConfigError
        Naming the file, the row or attribute, and the fix, if the dictionary is invalid.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such dictionary file. Fix: check the path")
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm", ".xls"}:
        return _from_excel(path)
    head = path.read_bytes()[:64].decode("latin-1").lstrip().upper()
    if suffix == ".txt" and head.startswith("DATA DICTIONARY"):
        return read_coil_dictionary(path)
    try:
        # utf-8-sig: spreadsheets save "CSV UTF-8" with a byte-order mark.
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the dictionary is not UTF-8 text ({exc.reason}). "
                          "Fix: save it as UTF-8") from exc
    if suffix == ".toml":
        return _from_toml(text, path)
    if suffix in {".csv", ".tsv", ".txt"}:
        return _from_csv(text, path)
    raise ConfigError(f"{path}: a dictionary must be .toml, .csv or an Excel workbook (see "
                      "docs/people.md). Fix: save it in one of these formats")


def _from_toml(text: str, path: Path) -> FeatureDictionary:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - {"attributes"})
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {', '.join(unknown)}; "
                          "declare attributes as [attributes.NAME] tables")
    attributes = []
    for name, spec in data.get("attributes", {}).items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{path}: attributes.{name} must be a table")
        attributes.append(_attribute_from_mapping(name, spec, f"{path}: attributes.{name}"))
    if not attributes:
        raise ConfigError(f"{path}: no [attributes.NAME] table. Fix: declare the attributes")
    return FeatureDictionary(attributes, source=str(path))


_ATTRIBUTE_KEYS = {"type", "description", "missing", "labels", "position", "split"}
_PART_KEYS = {"type", "values", "digit", "description"}


def _code_table(table: Mapping[str, Any], where: str, what: str) -> dict[str, Any]:
    """Return a TOML table of code = value as codes (:func:`code_list`) to values.

    TOML reads an unquoted ``2.0 = "x"`` as the dotted key ``2`` > ``0``: a table where a
    value was meant, which became a label such as ``{'0': 'x'}``.
    """
    for key, value in table.items():
        if isinstance(value, Mapping):
            inner = next(iter(value), "")
            raise ConfigError(
                f"{where}: {what} of code {key!r} is a table ({key}.{inner} = ...): TOML "
                f"reads an unquoted {key}.{inner} as two keys. Fix: quote the code "
                f"(\"{key}.{inner}\" = ...), or write it as {key}")
    return {c: v for k, v in table.items() for c in code_list(k)}


def _attribute_from_mapping(name: str, spec: Mapping[str, Any], where: str) -> Attribute:
    unknown = sorted(set(spec) - _ATTRIBUTE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid: "
                          f"{', '.join(sorted(_ATTRIBUTE_KEYS))}")
    if "type" not in spec:
        raise ConfigError(f"{where}: no type. Fix: type = one of {', '.join(ATTRIBUTE_TYPES)}")
    missing = code_list(spec.get("missing", []), is_list=True)
    labels = spec.get("labels", {})
    if not isinstance(labels, dict):
        raise ConfigError(f"{where}: labels must be a table of code = \"label\"")
    parts = []
    for part_name, part in spec.get("split", {}).items():
        unknown = sorted(set(part) - _PART_KEYS)
        if unknown:
            raise ConfigError(f"{where}.split.{part_name}: unknown key(s) "
                              f"{', '.join(unknown)}; valid: {', '.join(sorted(_PART_KEYS))}")
        try:
            parts.append(Part(
                part_name, _type_name(part.get("type", "")),
                _code_table(part.get("values", {}), f"split.{part_name}", "value"),
                part.get("digit"), str(part.get("description", "")),
            ))
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    position = _position(spec.get("position"), where)
    coded = {c: str(v) for c, v in _code_table(labels, where, "label").items()}
    try:
        return Attribute(
            name=name, type=_type_name(spec["type"]), description=str(spec.get("description", "")),
            missing=tuple(missing),
            labels=coded,
            position=position, parts=tuple(parts),
        )
    except ConfigError as exc:
        # ``where`` names the attribute already: "d.csv: attribute age: type ...".
        raise ConfigError(f"{where}: {str(exc).removeprefix(f'attribute {name!r}: ')}"
                          ) from None


#: What other tools call the types (pandas, SQL, survey software), to suggest ours.
_TYPE_WORDS = {
    "numeric": ("number", "numerical", "int", "integer", "float", "double", "decimal",
                "continuous", "interval", "ratio", "count", "quantity"),
    "ordinal": ("ordered", "rank", "ranked", "scale", "likert", "band"),
    "categorical": ("category", "nominal", "categoric", "class", "factor", "text", "string",
                    "code", "coded"),
    "binary": ("bool", "boolean", "dummy", "flag", "dichotomous", "yes/no"),
}


def _type_hint(declared: str) -> str:
    """`` (did you mean 'numeric'?)`` for a type other tools' words or a typo name, or ``""``."""
    import difflib

    word = declared.strip().lower()
    found = next((t for t, words in _TYPE_WORDS.items() if word in words), None)
    found = found or next(iter(difflib.get_close_matches(word, ATTRIBUTE_TYPES, n=1)), None)
    return f" (did you mean {found!r}?)" if found else ""


def _type_name(value: Any) -> str:
    """Return a declared type as compared: ``" Categorical"`` is ``categorical``."""
    return str(value).strip().lower()


def _position(value: Any, where: str) -> int | None:
    if value is None or value == "":
        return None
    number = _as_number(str(value)) if not isinstance(value, bool) else None
    if number is None or number != int(number):
        raise ConfigError(f"{where}: position {value!r} is not a whole number")
    return int(number)        # "3", 3 and a spreadsheet's 3.0 alike


def _from_csv(text: str, path: Path) -> FeatureDictionary:
    # The header line tells the delimiter: tabs (.tsv), semicolons (spreadsheets where the
    # decimal mark is a comma) or commas.
    header_line = text.split("\n", 1)[0]
    delimiter = "\t" if path.suffix.lower() == ".tsv" else max(
        ",;\t", key=lambda d: (header_line.count(d), d == ","))
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    return _from_rows(next(reader, []), reader, path)


def _from_excel(path: Path) -> FeatureDictionary:
    """Read the first sheet of a workbook laid out as the CSV format (row 1: the columns)."""
    import pandas as pd

    try:
        frame = pd.read_excel(path, sheet_name=0, header=None, dtype=object)
    except Exception as exc:  # any reader failure (format, corrupt zip): the same fix
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: cannot read this workbook ({first}). Fix: check that it "
                          "opens in a spreadsheet program, or save the sheet as CSV") from exc
    rows = [["" if _blank_cell(v) else canonical_code(v) if isinstance(v, float) else str(v)
             for v in row] for row in frame.itertuples(index=False)]
    return _from_rows(rows[0] if rows else [], rows[1:], path)


def _blank_cell(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _from_rows(head: Sequence[str], rows: Iterable[Sequence[str]], path: Path
               ) -> FeatureDictionary:
    """Read the CSV format's rows (``head``: the column names), from a CSV file or a sheet."""
    header = [h.strip().lower() for h in head]
    unknown = sorted(set(header) - set(CSV_COLUMNS) - {""})
    if "attribute" not in header or unknown:
        raise ConfigError(
            f"{path}: dictionary columns must be among {', '.join(CSV_COLUMNS)} with "
            f"'attribute' present (found {', '.join(h for h in header if h) or 'none'}). "
            "Fix: rename the columns (code: the values, label: what they mean, missing: "
            "yes for the codes that mean unknown; see docs/people.md)"
        )
    specs: dict[str, dict[str, Any]] = {}
    name = ""
    for line, cells in enumerate(rows, start=2):
        row = {k: (v or "").strip() for k, v in zip(header, cells, strict=False) if k}
        if not row.get("attribute"):
            if not any(row.values()):
                continue
            # A spreadsheet writes an attribute's name on its first row only (merged cells):
            # a row with only codes, labels or parts continues the attribute above.
            if not name or any(row.get(k) for k in ("type", "description", "position")):
                raise ConfigError(f"{path}: line {line}: no attribute name. Fix: fill it in")
        else:
            name = row["attribute"]
        spec = specs.setdefault(name, {"labels": {}, "missing": [], "split": {}})
        for key in ("type", "description", "position"):
            value = row.get(key, "")
            if value and spec.get(key, value) != value:
                raise ConfigError(f"{path}: line {line}: attribute {name} has {key} "
                                  f"{spec[key]!r} on an earlier line and {value!r} here")
            if value:
                spec[key] = value
        code, flag = row.get("code", ""), row.get("missing", "")
        if not code and flag:
            # The attribute's missing codes written in its own row: "-1, 9".
            if flag.lower() in _TRUE - {"1", "x"}:
                raise ConfigError(f"{path}: line {line}: missing is {flag!r} but the row has "
                                  "no code. Fix: put the code in the code column, or list the "
                                  "missing codes themselves (-1, 9)")
            spec["missing"].extend(code_list(flag, is_list=True))
        flagged = flag.lower() in _TRUE
        if code and not flagged and flag.lower() not in _FALSE:
            raise ConfigError(f"{path}: line {line}: missing must say whether code {code!r} "
                              f"means missing (yes or blank), got {flag!r}. Fix: write yes, "
                              "or leave it blank")
        keys = code_list(code, is_list=flagged) if code else []
        for key in keys:
            if row.get("label"):
                spec["labels"][key] = row["label"]
            if flagged:
                spec["missing"].append(key)
            elif key not in spec["labels"]:
                spec["labels"][key] = key
        part = row.get("part", "")
        if part:
            if not code:
                raise ConfigError(f"{path}: line {line}: a part value needs its code")
            target = spec["split"].setdefault(part, {"values": {}})
            if row.get("part_type"):
                target["type"] = row["part_type"]
            for key in keys:
                target["values"][key] = _number_or_text(row.get("value", ""))
    if not specs:
        raise ConfigError(f"{path}: the dictionary has no attributes")
    attributes = []
    for name, spec in specs.items():
        for part in spec["split"].values():
            part.setdefault("type", _part_type(part["values"].values()))
        if not spec["split"]:
            del spec["split"]
        attributes.append(_attribute_from_mapping(name, spec, f"{path}: attribute {name}"))
    return FeatureDictionary(attributes, source=str(path))


def _number_or_text(text: str) -> Any:
    number = _as_number(text)
    return text if number is None else (int(number) if number == int(number) else number)


def _part_type(values: Iterable[Any]) -> str:
    distinct = set(values)
    if len(distinct) <= 2:
        return "binary"
    return "ordinal" if all(isinstance(v, (int, float)) for v in distinct) else "categorical"


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _toml_value(value: Any) -> str:
    return _toml_string(value) if isinstance(value, str) else repr(value)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_string(key)


def _to_toml(dictionary: FeatureDictionary) -> str:
    lines = ["# segwise feature dictionary (docs/people.md)"]
    if dictionary.inferred:
        lines.append("# Types inferred from the data: check and correct them, then pass this "
                     "file back as the dictionary.")
    lines += [f"# not used: {name}: {why}" for name, why in getattr(dictionary, "skipped", ())]
    lines.append("")
    for a in dictionary:
        if a.note:
            lines.append(f"# {a.note}")
        lines.append(f"[attributes.{_toml_key(a.name)}]")
        lines.append(f"type = {_toml_string(a.type)}")
        if a.description:
            lines.append(f"description = {_toml_string(a.description)}")
        if a.position is not None:
            lines.append(f"position = {a.position}")
        if a.missing:
            lines.append("missing = [" + ", ".join(_toml_string(m) for m in a.missing) + "]")
        if a.labels:
            pairs = ", ".join(f"{_toml_key(k)} = {_toml_string(v)}" for k, v in a.labels.items())
            lines.append(f"labels = {{ {pairs} }}")
        for p in a.parts:
            lines.append(f"[attributes.{_toml_key(a.name)}.split.{_toml_key(p.name)}]")
            lines.append(f"type = {_toml_string(p.type)}")
            if p.description:
                lines.append(f"description = {_toml_string(p.description)}")
            if p.digit:
                lines.append(f"digit = {_toml_string(p.digit)}")
            if p.values:
                pairs = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}"
                                  for k, v in p.values.items())
                lines.append(f"values = {{ {pairs} }}")
        lines.append("")
    return "\n".join(lines)


def _to_csv(dictionary: FeatureDictionary) -> str:
    if any(p.digit for a in dictionary for p in a.parts):
        raise ConfigError("digit split rules are written to TOML dictionaries only; "
                          "write a .toml file")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for a in dictionary:
        head = [a.name, a.type, a.description, "" if a.position is None else a.position]
        codes = list(dict.fromkeys([*a.labels, *a.missing]))
        if not codes:
            writer.writerow([*head, "", "", "", "", "", ""])
        for i, code in enumerate(codes):
            row_head = head if i == 0 else [a.name, "", "", ""]
            missing = "true" if code in a.missing else ""
            writer.writerow([*row_head, code, a.labels.get(code, ""), missing, "", "", ""])
        for p in a.parts:
            for code, value in p.values.items():
                writer.writerow([a.name, "", "", "", code, "", "", p.name, p.type, value])
    return out.getvalue()


# ---------------------------------------------------------------- the CoIL 2000 dictionary

_COIL_LINE = re.compile(r"^(\d+)\s+(\S+)\s+(.*)$")
_COIL_SEE = re.compile(r"\s*see\s+(L\d+)\s*$", re.IGNORECASE)
_COIL_RANGE = re.compile(r"\s+(\d+)\s*(?:[-\u2013\u2014]|\s\S\s)\s*(\d+)\s*$")
_COIL_TABLE = re.compile(r"^(L\d+):\s*$")
_COIL_VALUE = re.compile(r"^(\d+)\s+(.+?)\s*$")
#: Tables of the CoIL dictionary that are ordered (age bands, percentage and money bands).
_COIL_ORDERED = {"L1", "L3", "L4"}


def read_coil_dictionary(path: str | Path) -> FeatureDictionary:
    """Read the CoIL 2000 (TIC) ``dictionary.txt`` into segwise's dictionary.

    The file lists ``Nr Name Description Domain`` per attribute and code tables
    ``L0``-``L4``. A domain ``see Lk`` attaches table ``Lk``; ``...`` (and a blank
    domain after it) repeats the domain above, as the file means it; ``a - b`` is a count
    (numeric), ``0 - 1`` a binary. Tables L1 (age bands), L3 (percentage bands) and L4
    (contribution bands) are ordered: their attributes are ordinal; L0 and L2 (customer
    types) are categorical. Positions come from ``Nr``, so headerless CoIL files take
    their column names from the dictionary. CoIL declares no unknown codes.

    Parameters
    ----------
    path : str or Path
        The ``dictionary.txt`` (Latin-1 text, CRLF or LF line endings).

    Returns
    -------
    FeatureDictionary
        86 attributes for the original file.

    Raises
    ------
    ConfigError
        If the file does not have that layout, naming the line.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such dictionary file. Fix: check the path")
    from segwise.io._text import one_byte_codec

    # The original is Windows-1252 ('1 \x96 10', an en dash); a copy saved as UTF-8 has
    # the dash in three bytes, which read as Latin-1 hid every range's domain.
    codec = one_byte_codec(path) or "utf-8-sig"
    lines = [ln.rstrip() for ln in path.read_bytes().decode(codec, errors="replace")
             .splitlines()]
    rows: list[tuple[int, str, str, str | None]] = []
    tables: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    domain: str | None = None
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.lower().startswith(("data dictionary", "nr name", "value label")):
            continue
        table = _COIL_TABLE.match(text)
        if table:
            current = tables.setdefault(table.group(1), {})
            continue
        if current is not None:
            value = _COIL_VALUE.match(text)
            if value is None:
                raise ConfigError(f"{path}: line {number}: expected 'code label' in a code "
                                  f"table, got {text!r}")
            current[canonical_code(value.group(1))] = value.group(2)
            continue
        match = _COIL_LINE.match(text)
        if match is None:
            raise ConfigError(f"{path}: line {number}: expected 'Nr Name Description Domain', "
                              f"got {text!r}")
        description = match.group(3)
        see, span = _COIL_SEE.search(description), _COIL_RANGE.search(description)
        if see:
            domain, description = see.group(1), description[:see.start()]
        elif span:
            domain, description = f"{span.group(1)}-{span.group(2)}", description[:span.start()]
        elif description.endswith("..."):
            description = description[:-3]
        elif domain is None:
            raise ConfigError(f"{path}: line {number}: attribute {match.group(2)} has no domain")
        rows.append((int(match.group(1)), match.group(2), description.strip(), domain))
    attributes = []
    for position, name, description, dom in rows:
        assert dom is not None  # noqa: S101 - every row got a domain above
        if dom.startswith("L"):
            if dom not in tables:
                raise ConfigError(f"{path}: attribute {name} refers to table {dom}, which "
                                  "the file does not have")
            kind = "ordinal" if dom in _COIL_ORDERED else "categorical"
            attributes.append(Attribute(name, kind, description, labels=dict(tables[dom]),
                                        position=position))
            continue
        low, high = (int(v) for v in dom.split("-"))
        kind = "binary" if (low, high) == (0, 1) else "numeric"
        labels = {"0": "no", "1": "yes"} if kind == "binary" else {}
        attributes.append(Attribute(name, kind, description, labels=labels, position=position))
    if not attributes:
        raise ConfigError(f"{path}: no attributes found; is this the CoIL dictionary.txt?")
    return FeatureDictionary(attributes, source=str(path))


# ---------------------------------------------------------------- inferring a dictionary

#: Most distinct values an inferred ordinal may have; more make it numeric.
MAX_ORDINAL_LEVELS = 10
#: Most distinct text values an inferred categorical may have; more and it is not used.
MAX_CATEGORIES = 50
#: Rows sampled to infer types (the first ones, in file order).
INFER_ROWS = 200_000
#: Why a column blank in the sampled rows, and in every later one, is not used.
_BLANK = "blank in every row"


def infer_dictionary(
    table: ir.Table,
    columns: Sequence[str] | None = None,
    *,
    max_ordinal_levels: int = MAX_ORDINAL_LEVELS,
    max_categories: int = MAX_CATEGORIES,
    sample_rows: int = INFER_ROWS,
) -> FeatureDictionary:
    """Infer each attribute's type from the data, and say why, when there is no dictionary.

    The rules, applied to the first ``sample_rows`` rows (a column blank in all of them
    and not in later rows, to the rows that have a value):

    * blank in every row: not used;
    * values such as ``?``, ``NA``, ``null``, ``-`` or ``unknown`` (:data:`MISSING_TOKENS`)
      are declared missing codes;
    * every other value a number: ``binary`` with two distinct values, ``ordinal`` with
      whole numbers and at most ``max_ordinal_levels`` values, else ``numeric``;
    * text: ``binary`` with two values, ``categorical`` with at most ``max_categories``,
      else not used (an identifier, a date or free text): it is left out of the dictionary
      and the note of the returned table says so.

    Parameters
    ----------
    table : ibis.Table
        The people table (text or typed columns).
    columns : sequence of str, optional
        Columns to infer; all when omitted.
    max_ordinal_levels : int, default=10
        See above.
    max_categories : int, default=50
        See above.
    sample_rows : int, default=200000
        Rows read to infer.

    Returns
    -------
    FeatureDictionary
        ``inferred=True``; each attribute's ``note`` gives the evidence. Columns not used
        are listed in :attr:`FeatureDictionary.skipped` as ``(column, reason)``.
    """
    from segwise._engine import fetch_arrow

    names = list(columns if columns is not None else table.columns)
    if not names:
        return InferredDictionary([], skipped=())
    sample = table.select(*names).limit(sample_rows)
    stats = fetch_arrow(sample.aggregate(sampled=sample.count(), **{
        metric: expr for i, c in enumerate(names) for metric, expr in _profile(sample[c], i)
    })).to_pylist()[0]
    # Values only of columns few enough to be codes: one more pass, small lists.
    few = [i for i in range(len(names)) if int(stats[f"levels_{i}"]) <= max_categories]
    values: dict[int, list[str]] = {i: [] for i in range(len(names))}
    if few:
        found = fetch_arrow(sample.aggregate(**{
            f"values_{i}": _usable_text(sample[names[i]]).collect(distinct=True) for i in few
        })).to_pylist()[0]
        values.update({i: sorted(found[f"values_{i}"] or []) for i in few})
    inferred: dict[str, Attribute | str] = {}
    for i, col in enumerate(names):
        attr, why = _infer_one(col, i, stats, values[i], max_ordinal_levels, max_categories)
        inferred[col] = attr if attr is not None else why
    blank = [c for c in names if inferred[c] == _BLANK]
    if blank and int(stats["sampled"]) >= sample_rows:
        # Blank in the first rows only (a response recorded for the last people mailed, an
        # attribute collected lately): read from the rows that have it, not left out.
        later = fetch_arrow(table.aggregate(**{
            f"n{i}": _usable_text(table[c]).count() for i, c in enumerate(blank)
        })).to_pylist()[0]
        for i, col in enumerate(blank):
            if later[f"n{i}"]:
                rows = table.filter(_usable_text(table[col]).notnull())
                again = infer_dictionary(rows, [col], max_ordinal_levels=max_ordinal_levels,
                                         max_categories=max_categories,
                                         sample_rows=sample_rows)
                inferred[col] = (dataclasses.replace(
                    again[col], note=f"{again[col].note} (from the rows that have a value: "
                    f"blank in the first {sample_rows:,})") if col in again
                    else dict(getattr(again, "skipped", ()))[col])
    return InferredDictionary([a for a in inferred.values() if isinstance(a, Attribute)],
                              skipped=tuple((c, why) for c, why in inferred.items()
                                            if isinstance(why, str)))


class InferredDictionary(FeatureDictionary):
    """A dictionary inferred from data, with the columns it left out and why.

    Attributes
    ----------
    skipped : tuple of (str, str)
        Columns not used and the reason (empty, identifier-like text, ...).
    """

    def __init__(self, attributes: Iterable[Attribute], *,
                 skipped: Sequence[tuple[str, str]] = (), source: str = "") -> None:
        super().__init__(attributes, source=source or "inferred from the data", inferred=True)
        self.skipped = tuple(skipped)

    def table(self) -> pa.Table:
        """One row per column: the inferred attributes, then the columns left out."""
        import pyarrow as pa

        used = super().table()
        if not self.skipped:
            return used
        left = pa.table({
            "attribute": [c for c, _ in self.skipped],
            "type": ["not used"] * len(self.skipped),
            "description": [""] * len(self.skipped),
            "missing_codes": [""] * len(self.skipped),
            "codes": pa.array([0] * len(self.skipped), pa.int64()),
            "parts": [""] * len(self.skipped),
            "note": [why for _, why in self.skipped],
        })
        return pa.concat_tables([used, left])


def _text(value: ir.Value) -> ir.StringValue:
    from segwise.io._parse import strip_text

    return strip_text(value.cast("string"))


def _usable_text(value: ir.Value) -> ir.StringValue:
    """Return the value as trimmed text; NULL where blank or a missing token."""
    import ibis

    text = _text(value)
    usable = value.notnull() & (text != "") & ~text.lower().isin(sorted(MISSING_TOKENS))
    return ibis.ifelse(usable, text, ibis.null("string"))


#: A number in another notation: thousands separators (12,669; 1.234.567; 1 234) or a
#: decimal comma (3,5), which reads as text until ``[read] decimal`` / ``thousands`` say so.
_LOCALISED_NUMBER = r"^[+-]?(\d{1,3}([,.' ]\d{3})+([.,]\d+)?|\d+,\d+)$"


def _profile(value: ir.Value, i: int) -> list[tuple[str, ir.Value]]:
    """Return the aggregates of one column for inference, named ``<metric>_<i>``."""
    import ibis

    from segwise.io._parse import _number

    text = _text(value)
    present = value.notnull() & (text != "")
    token = text.lower().isin(sorted(MISSING_TOKENS))
    usable_text = _usable_text(value)
    # As the typing reads numbers: "£2.55" and "(2.55)" are numbers too.
    number = _number(usable_text)
    return [
        (f"present_{i}", present.sum()),
        (f"tokens_{i}", ibis.ifelse(present & token, text, ibis.null("string"))
         .collect(distinct=True)),
        (f"numbers_{i}", number.notnull().sum()),
        # Not round(): Ibis casts it to a 64-bit integer, which 1e300 or inf overflow.
        (f"whole_{i}", ((number % 1) == 0).sum()),
        (f"usable_{i}", usable_text.notnull().sum()),
        (f"levels_{i}", usable_text.nunique()),
        (f"localised_{i}", usable_text.re_search(_LOCALISED_NUMBER).sum()),
    ]


def _infer_one(col: str, i: int, stats: Mapping[str, Any], values: list[str],
               max_ordinal: int, max_categories: int) -> tuple[Attribute | None, str]:
    present, usable = int(stats[f"present_{i}"] or 0), int(stats[f"usable_{i}"] or 0)
    numbers, whole = int(stats[f"numbers_{i}"] or 0), int(stats[f"whole_{i}"] or 0)
    levels = int(stats[f"levels_{i}"])
    tokens = sorted(stats[f"tokens_{i}"] or [])
    missing = tuple(tokens)
    found = f"{levels:,} distinct value{'s' if levels != 1 else ''}"
    if present == 0 or usable == 0:
        return None, _BLANK
    token_note = f"; {', '.join(repr(t) for t in tokens)} read as unknown" if tokens else ""
    if numbers == usable:
        # Few numbers are codes when written as such; "(1)" and "£1" are amounts (only the
        # typing of numeric attributes reads them: codes are matched as text).
        as_codes = all(map(is_numeric_code, values))
        if levels <= 2 and as_codes:
            kind, why = "binary", f"numbers, {found}"
        elif whole == usable and levels <= max_ordinal and as_codes:
            kind, why = "ordinal", f"whole numbers, {found}"
        else:
            kind, why = "numeric", f"numbers, {found}"
        labels: dict[str, str] = {}
        if kind == "binary":
            codes = sorted({canonical_code(v) for v in values}, key=float)
            labels = {c: c for c in codes}
        return Attribute(col, kind, missing=missing, labels=labels,
                         note=f"inferred {kind}: {why}{token_note}"), ""
    if levels <= 2:
        return Attribute(col, "binary", missing=missing, labels={c: c for c in values},
                         note=f"inferred binary: text, {found}{token_note}"), ""
    if levels <= max_categories:
        return Attribute(col, "categorical", missing=missing, labels={c: c for c in values},
                         note=f"inferred categorical: text, {found}{token_note}"), ""
    if int(stats[f"localised_{i}"] or 0) + numbers == usable:
        return None, (f"numbers in another notation ({found}, such as 12,669 or 3,5): set "
                      f"{read_key('decimal', 'thousands')} to read them as numbers")
    return None, (f"text with {found} (an identifier, a date or free text); declare it in "
                  "a dictionary to use it")
