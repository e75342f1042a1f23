"""Column roles: which source column plays which part, for any source kind."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from segwise.exceptions import (
    ConfigError,
    InputError,
    columns_fix,
    columns_key,
    read_fix,
    read_key,
)
from segwise.io._kinds import SourceKind, get_kind

__all__ = ["ColumnRoles", "resolve_roles", "same_names"]


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def same_names(names: Iterable[str], columns: Iterable[str]) -> dict[str, str]:
    """Name -> column, for the names not among ``columns`` that one of them writes otherwise.

    Names compare in Unicode's composed form (NFC): ``Größe`` typed in a config or a
    dictionary is the column ``Größe`` whose header macOS wrote with ``o`` and a combining
    diaeresis, which looks the same and compared unequal. A name is matched only where
    one column alone has its form.
    """
    columns = list(columns)
    alike: dict[str, list[str]] = {}
    for c in columns:
        alike.setdefault(unicodedata.normalize("NFC", c), []).append(c)
    found = {}
    for n in names:
        written = alike.get(unicodedata.normalize("NFC", n), [])
        if n not in columns and len(written) == 1:
            found[n] = written[0]
    return found


def _is_number(name: str) -> bool:
    """Whether a column name is a number (``6``, ``-73.9``): a value, not a name."""
    try:
        float(name)
    except ValueError:
        return False
    return True


def _check_unique(found: str, alias: str, cols: list[str], taken: set[str], role: str,
                  source: str | Path, renames: bool) -> None:
    """Refuse a guess between columns named alike: which one holds the role is unknown.

    Alike are names equal but for case, blanks and punctuation (``Event`` and
    ``event``), and, where the reader ``renames`` a repeated name, the names DuckDB gives
    it (``event`` twice, or ``event`` and ``Event``, read as ``event`` and ``event_1``).
    Mapping the role in ``[columns]`` decides.

    Raises
    ------
    InputError
        Naming the columns and the fix.
    """
    repeated = re.compile(re.escape(found) + r"_\d+", re.IGNORECASE) if renames else None
    rivals = [c for c in cols if c != found and c not in taken
              and (_norm(c) == alias or (repeated is not None and repeated.fullmatch(c)))]
    if rivals:
        names = " and ".join(repr(c) for c in [found, *rivals])
        why = ("names alike, or one name given twice and read as name_1" if renames
               else "names alike")
        raise InputError(
            f"{source}: columns {names} could each be the {role} ({why}). Fix: rename or "
            "drop the others, or " + columns_fix({role: found})
        )


class ColumnRoles(Mapping[str, str]):
    """Source column name for each role a source has, in the kind's role order.

    A mapping of role to column; a role of the kind is also an attribute, ``None`` where
    the source has no such column (``roles.order_id``).

    Parameters
    ----------
    columns : mapping of str to str
        Role to source column, for the roles present.
    kind : str or SourceKind, default="orders"
        The source kind the roles belong to.
    """

    def __init__(self, columns: Mapping[str, str], kind: str | SourceKind = "orders") -> None:
        spec = get_kind(kind)
        unknown = sorted(set(columns) - set(spec.role_names))
        if unknown:
            raise ConfigError(f"{', '.join(unknown)}: not roles of {spec.name!r} sources")
        self._kind = spec
        self._columns = {r: columns[r] for r in spec.role_names if columns.get(r)}

    @property
    def kind(self) -> SourceKind:
        """The source kind."""
        return self._kind

    def __getitem__(self, role: str) -> str:
        return self._columns[role]

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def __getattr__(self, name: str) -> str | None:
        if name.startswith("_") or name not in self._kind.role_names:
            raise AttributeError(name)
        return self._columns.get(name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ColumnRoles):
            return NotImplemented
        return self._kind.name == other._kind.name and self._columns == other._columns

    def __hash__(self) -> int:
        return hash((self._kind.name, tuple(self._columns.items())))

    def __repr__(self) -> str:
        return f"ColumnRoles({self._columns!r}, kind={self._kind.name!r})"


def resolve_roles(
    columns: Iterable[str],
    overrides: Mapping[str, str] | None = None,
    *,
    source: str | Path = "input",
    kind: str | SourceKind = "orders",
    renames: bool = True,
) -> ColumnRoles:
    """Map source columns to roles, from explicit overrides or from common names.

    Parameters
    ----------
    columns : iterable of str
        Column names found in the source.
    overrides : mapping of role to column name, optional
        Explicit choices, e.g. from the ``[columns]`` table of a config file.
    source : str or Path, default="input"
        Name of the source, used in error messages.
    kind : str or SourceKind, default="orders"
        The source kind whose roles are resolved.
    renames : bool, default=True
        Whether the source's reader may have renamed a repeated name (Parquet, JSON
        lines, tables in memory: ``event`` twice reads as ``event`` and ``event_1``),
        so that ``event_1`` is alike ``event``. The CSV and Excel readers refuse such a
        header first: their ``event_1`` is a column of its own.

    Returns
    -------
    ColumnRoles
        The resolved roles.

    Raises
    ------
    ConfigError
        If an override names an unknown role or a column the source lacks.
    InputError
        If a required role cannot be found.
    """
    spec = get_kind(kind)
    cols = list(columns)
    overrides = dict(overrides or {})
    written = same_names(overrides.values(), cols)
    overrides = {role: written.get(col, col) for role, col in overrides.items()}
    unknown = sorted(set(overrides) - set(spec.role_names))
    if unknown:
        raise ConfigError(
            f"unknown column role(s) {', '.join(unknown)} in {columns_key()} for {spec.rows}; "
            f"valid roles are {', '.join(spec.role_names)}. Fix: use one of them"
        )
    for role, col in overrides.items():
        if col not in cols:
            close = difflib.get_close_matches(col.lower(), [c.lower() for c in cols], n=1)
            like = next((c for c in cols if close and c.lower() == close[0]), None)
            raise ConfigError(
                f"{source}: {columns_key()} maps {role} to {col!r}, but it has no such column "
                f"(columns found: {', '.join(cols)}). Fix: "
                + (columns_fix({role: like}) if like else f"map {role} to one of them")
            )
    by_norm: dict[str, str] = {}
    for col in cols:
        by_norm.setdefault(_norm(col), col)
    taken = set(overrides.values())
    chosen: dict[str, str | None] = {}
    for spec_role in spec.roles:
        if spec_role.name in overrides:
            chosen[spec_role.name] = overrides[spec_role.name]
            continue
        chosen[spec_role.name] = None
        for alias in spec_role.aliases:
            found = by_norm.get(alias)
            if found is not None and found not in taken:
                _check_unique(found, alias, cols, taken, spec_role.name, source, renames)
                chosen[spec_role.name] = found
                taken.add(found)
                break
    missing = [r.name for r in spec.roles if r.required and chosen[r.name] is None]
    if spec.check is not None:
        missing += spec.check(chosen)
    if missing:
        # "quantity and unit_price (or amount)": the first way, every role of it.
        names = [n for r in missing for n in re.sub(r"\s*\(.*?\)", "", r).split(" and ")]
        hint = columns_fix(dict.fromkeys(names, "..."))
        values = [c for c in cols if _is_number(c)]
        if not renames and cols and 2 * len(values) >= len(cols):
            # A CSV or Excel file without a header (the readers that take [read] header):
            # its first row was read as the column names.
            raise InputError(
                f"{source}: required column for {', '.join(missing)} not found: the first "
                f"line looks like data, not column names ({len(values)} of {len(cols)} are "
                f"numbers: {', '.join(values[:3])}). Fix: if the file has no header, "
                f"{read_fix({'header': False})} and name its {len(cols)} columns in "
                f"{read_key('names')}; else rename the column, or {hint}")
        raise InputError(
            f"{source}: required column for {', '.join(missing)} not found "
            f"(columns found: {', '.join(cols) or 'none'}). Fix: rename the column, or {hint}"
        )
    return ColumnRoles({k: v for k, v in chosen.items() if v is not None}, spec)
