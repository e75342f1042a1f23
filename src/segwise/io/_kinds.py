"""Source kinds: what a table of order lines, events, people or pings must hold.

A kind declares its column roles (required and optional, with the common names that
identify them), how its rows are parsed into typed standard columns, and why a row is
quarantined. Readers, role guessing, the ``[columns]`` mapping, the quarantine and error
messages are shared by every kind (:func:`segwise.io.load_source`), so a new kind is one
:class:`SourceKind` passed to :func:`register_kind` and nothing else in ``segwise.io``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from segwise._registry import Registry
from segwise.exceptions import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

    import ibis.expr.types as ir

    from segwise.io._readers import ReadOptions
    from segwise.io._roles import ColumnRoles

__all__ = ["Role", "SourceKind", "get_kind", "kinds", "register_kind"]


@dataclass(frozen=True)
class Role:
    """A part a source column can play.

    Parameters
    ----------
    name : str
        The role, also the key of ``[columns]`` in a config file (``customer_id``).
    aliases : tuple of str, default=()
        Column names that identify the role, compared after lower-casing and dropping
        everything but letters and digits (``"Customer ID"`` matches ``"customerid"``).
    required : bool, default=False
        Whether a source without this role is refused. Requirements that involve several
        roles (either a price or an amount) go in :attr:`SourceKind.check`.
    description : str, default=""
        What the column holds, for error messages and the docs.
    """

    name: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    description: str = ""


#: Parses a table of source columns (prefixed, see :data:`segwise.io.SOURCE_PREFIX`) into
#: the kind's standard columns plus ``_reason`` (why a row is quarantined, else NULL).
Parser = Callable[["ir.Table", "ColumnRoles", "ReadOptions", "Path"], "ir.Table"]


@dataclass(frozen=True)
class SourceKind:
    """One kind of source table: its roles, typed columns and parse rules.

    Parameters
    ----------
    name : str
        The kind's name (``"orders"``, ``"events"``, ``"people"``, ``"pings"``).
    roles : tuple of Role
        Every role, in the order they are guessed (an earlier role claims a column first).
    columns : mapping of str to str
        The standard columns :attr:`parse` returns and their Ibis types, in order.
    parse : callable
        ``parse(source_columns, roles, read, path)``: the standard columns plus ``_reason``.
        Source columns carry the ``_src_`` prefix; other columns pass through.
    rows : str, default="rows"
        What a row is, in messages ("order lines").
    timestamp_role : str or None, default="timestamp"
        The role whose text values need a timestamp layout (detected when the config
        gives none); ``None`` for kinds without time.
    check : callable, optional
        ``check(chosen)`` with role -> column (``None`` where absent) returns the names
        of missing requirements beyond the required roles (e.g. "quantity and unit_price
        (or amount)"), empty when satisfied.
    passthrough : bool, default=False
        Keep every source column no role claims (people: each column is an attribute),
        under its own name, after the standard columns.
    source_class : type, optional
        A subclass of :class:`segwise.io.Source` that loading returns, for kinds whose
        tables offer more (order lines' deduplication); ``Source`` when omitted.
    time_column : str, optional
        The standard timestamp column that dates a row (order lines: ``ts``). The loader
        quarantines rows dated after the run (or ``[read] latest_date``) and leaves out,
        counted, rows after a job's as-of date. When omitted, the ``timestamp_role``'s
        column if ``columns`` has one of that name; ``""`` for a kind whose rows may be
        dated in the future.
    header : bool or None, default=True
        Whether CSV files of the kind have a header line when ``[read] header`` does not
        say: ``True`` expects one, ``None`` detects it (people files often have none).
    totals : callable, optional
        ``totals(parsed, roles)`` with the parsed rows (standard columns, ``_reason``, NULL
        on rows that parse, and for typed sources the prefixed source columns) returns
        named aggregates that the loader computes in the scan it makes anyway (to
        quarantine rows and count those after the as-of date), kept as
        :attr:`segwise.io.Source.totals`: a later step needs no scan of its own (order
        lines: the rows and revenue of lines without a customer id).
    """

    name: str
    roles: tuple[Role, ...]
    columns: Mapping[str, str]
    parse: Parser
    rows: str = "rows"
    timestamp_role: str | None = "timestamp"
    check: Callable[[Mapping[str, str | None]], list[str]] | None = None
    passthrough: bool = False
    source_class: type | None = None
    time_column: str | None = None
    header: bool | None = True
    totals: Callable[[ir.Table, ColumnRoles], dict[str, ir.Scalar]] | None = None
    _index: dict[str, Role] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {r.name: r for r in self.roles})
        if len(self._index) != len(self.roles):
            raise ConfigError(f"source kind {self.name!r}: a role is declared twice")
        if self.timestamp_role is not None and self.timestamp_role not in self._index:
            raise ConfigError(
                f"source kind {self.name!r}: timestamp_role {self.timestamp_role!r} is not a role"
            )
        if self.time_column is None and self.timestamp_role in self.columns:
            object.__setattr__(self, "time_column", self.timestamp_role)
        if self.time_column == "":
            object.__setattr__(self, "time_column", None)
        elif self.time_column is not None and self.columns.get(self.time_column) != "timestamp":
            raise ConfigError(
                f"source kind {self.name!r}: time_column {self.time_column!r} is not one of "
                "its timestamp columns"
            )

    @property
    def role_names(self) -> tuple[str, ...]:
        """Names of every role, in order."""
        return tuple(self._index)

    def role(self, name: str) -> Role:
        """Return the role called ``name``.

        Raises
        ------
        KeyError
            If the kind has no such role.
        """
        return self._index[name]


_KINDS: Registry[SourceKind] = Registry("source kind")


def register_kind(kind: SourceKind, *, replace: bool = False) -> SourceKind:
    """Make a source kind available to :func:`segwise.io.load_source` by its name.

    Parameters
    ----------
    kind : SourceKind
        The kind.
    replace : bool, default=False
        Allow replacing a kind of the same name (tests, plug-ins that refine one).

    Returns
    -------
    SourceKind
        ``kind``, so that a module can register and keep it in one line.

    Raises
    ------
    ConfigError
        If a different kind of that name is registered already and ``replace`` is false.
    """
    return _KINDS.add(kind.name, kind, replace=replace)


def get_kind(kind: str | SourceKind) -> SourceKind:
    """Return a registered source kind by name (a :class:`SourceKind` is returned as is).

    Raises
    ------
    ConfigError
        If no kind of that name is registered.
    """
    return kind if isinstance(kind, SourceKind) else _KINDS.get(kind)


def kinds() -> dict[str, SourceKind]:
    """Return the registered source kinds by name."""
    return _KINDS.items()
