"""Report sections registered per source kind, composed in one order.

The report is built from sections. Those every kind shares (dataset overview, cleaning
audit, named segments, learned segments, profiles, map) are registered by
:mod:`segwise.report` itself; a kind adds its own with :func:`register_sections` (the
order-line job adds exploration, the RFM grid, categories and lifetime value), and
optionally a ``prepare`` step that computes what its sections and the header share.
No section of one kind is edited to add another kind.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from segwise.exceptions import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from segwise.features import EntityTable
    from segwise.jobs import JobResult
    from segwise.report._build import ReportExtras
    from segwise.report._model import Figure, Section

__all__ = [
    "ReportContext",
    "SectionBuilder",
    "extras_for",
    "register_extra",
    "register_sections",
    "register_sections_module",
    "sections_for",
]


def _nothing(step: str) -> None:
    """Default progress callback."""


@dataclass
class ReportContext:
    """What every section builder receives: the job's result, options, and shared state.

    Attributes
    ----------
    result : JobResult
        The job's result: :attr:`entities`, the audit, the cleaned rows.
    extras : ReportExtras
        Learned segments, embeddings, lifetime value and notes.
    currency : str
        Currency label for money.
    source : str
        Name of the input shown in the report.
    products : bool
        Whether kinds with products may learn product categories.
    n_categories : int
        Number of product categories to learn.
    random_state : int
        Seed of anything random (samples, models).
    progress : callable
        Called with the name of each step as it starts.
    figures : list of Figure
        Headline numbers; ``prepare`` steps and sections may add to them.
    meta : dict
        Facts about the run (source, dates, version) shown in the header and the JSON.
    overview_before, overview_after : list of (str, str)
        Rows a kind adds to the dataset table, before the row counts and after the
        entity count.
    subtitle : str
        The line under the title; a kind's ``prepare`` step may set it.
    cleaning_notes : list of str
        Sentences a kind adds to the cleaning audit's reading (entities the cleaning
        removed entirely, say).
    cache : dict
        Computations a kind's sections share (its exploration queries, say).
    """

    result: JobResult
    extras: ReportExtras
    currency: str
    source: str
    products: bool = True
    n_categories: int = 25
    random_state: int = 0
    progress: Callable[[str], None] = _nothing
    figures: list[Figure] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    overview_before: list[tuple[str, str]] = field(default_factory=list)
    overview_after: list[tuple[str, str]] = field(default_factory=list)
    subtitle: str = ""
    cleaning_notes: list[str] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def entities(self) -> EntityTable:
        """The job's entity table."""
        return self.result.entities

    @functools.cached_property
    def frame(self) -> pd.DataFrame:
        """The entity table as pandas, ids as text."""
        frame = self.entities.frame.copy()
        frame[self.entities.id_col] = frame[self.entities.id_col].astype(str)
        return frame

    @functools.cached_property
    def summary(self) -> pd.DataFrame | None:
        """The named segments' summary, when the job scores segments."""
        schema = self.entities.schema
        if self.result.segment_map is None or schema.segment_col is None:
            return None
        return self.result.segment_summary()

    @property
    def order(self) -> list[str]:
        """Named segments in the segment map's order (empty when unscored)."""
        summary = self.summary
        return [] if summary is None else [str(s) for s in summary["segment"]]


#: Builds one section from the context, or ``None`` when it has nothing to show.
SectionBuilder = Callable[[ReportContext], "Section | None"]
#: Learns one optional report input: ``learn(result, extras, options)``.
Learner = Callable[[Any, Any, Mapping[str, Any]], None]


@dataclass(frozen=True)
class _Entry:
    order: float
    key: str
    build: SectionBuilder


_SECTIONS: dict[str | None, list[_Entry]] = {}
_PREPARE: dict[str, list[Callable[[ReportContext], None]]] = {}
#: Modules that register a kind's sections, imported when a report of the kind is built.
_MODULES: dict[str, list[str]] = {}
#: Optional inputs a kind learns for its report: kind -> name -> (learn, what, label).
_EXTRAS: dict[str, dict[str, tuple[Learner, str, str]]] = {}


def register_sections_module(kind: str, module: str) -> None:
    """Name a module that registers a kind's sections, imported only when one is built.

    A job registers its report this way, so that running the job never imports the
    report's charting libraries.

    Parameters
    ----------
    kind : str
        The source kind.
    module : str
        Dotted module name; importing it calls :func:`register_sections`.
    """
    modules = _MODULES.setdefault(kind, [])
    if module not in modules:
        modules.append(module)


def _load(kind: str) -> None:
    """Import the modules registered for ``kind`` (once each)."""
    for module in _MODULES.pop(kind, []):
        importlib.import_module(module)


def register_extra(kind: str, name: str, learn: Learner, *, what: str, label: str = "") -> None:
    """Let :func:`segwise.report.learn_extras` compute an optional input for a kind.

    Parameters
    ----------
    kind : str
        The source kind.
    name : str
        The switch that turns it on or off in ``learn_extras`` (``"clv"``).
    learn : callable
        ``learn(result, extras, options)`` sets its field of the :class:`ReportExtras`
        (``options``: the keyword options given to ``learn_extras``); a
        :class:`~segwise.exceptions.SegwiseError` it raises leaves the input out and
        becomes a note.
    what : str
        What it adds, for notes ("Lifetime value").
    label : str, default=""
        What it does, for progress displays.
    """
    _EXTRAS.setdefault(kind, {})[name] = (learn, what, label)


def extras_for(kind: str) -> dict[str, tuple[Learner, str, str]]:
    """Return a kind's optional inputs: name -> (learn, what, label)."""
    _load(kind)
    return dict(_EXTRAS.get(kind, {}))


def register_sections(
    kind: str | None,
    sections: Sequence[tuple[float, str, SectionBuilder]],
    *,
    prepare: Callable[[ReportContext], None] | None = None,
) -> None:
    """Add report sections for one source kind (``None``: every kind).

    Parameters
    ----------
    kind : str or None
        The source kind whose reports show the sections; ``None`` for shared ones.
    sections : sequence of (float, str, callable)
        ``(order, key, build)``: sections of all registrations are shown by ``order``
        (shared ones use 10 overview, 20 cleaning, 50 segments, 60 selection, 70 learned
        segments, 80 profiles, 90 map); ``build(context)`` returns the section or None.
    prepare : callable, optional
        ``prepare(context)`` runs before any section, for the kind's headline figures,
        subtitle, dataset rows and shared computations. Several registrations of a kind
        (reports of different jobs of one kind) each add their own; they run in the order
        registered.

    Raises
    ------
    ConfigError
        If a key is registered twice for the kind.
    """
    entries = _SECTIONS.setdefault(kind, [])
    taken = {e.key for e in entries}
    for order, key, build in sections:
        if key in taken:
            raise ConfigError(f"report section {key!r} is registered twice for {kind!r}")
        entries.append(_Entry(float(order), key, build))
        taken.add(key)
    if prepare is not None:
        if kind is None:
            raise ConfigError("a prepare step belongs to one source kind")
        steps = _PREPARE.setdefault(kind, [])
        if prepare not in steps:
            steps.append(prepare)


def sections_for(kind: str) -> tuple[Callable[[ReportContext], None] | None,
                                     list[tuple[str, SectionBuilder]]]:
    """Return a kind's prepare step and its sections with the shared ones, in order.

    Parameters
    ----------
    kind : str
        The source kind.

    Returns
    -------
    tuple
        ``(prepare or None, [(key, build), ...])``.
    """
    _load(kind)
    entries = sorted([*_SECTIONS.get(None, []), *_SECTIONS.get(kind, [])],
                     key=lambda e: e.order)
    steps = list(_PREPARE.get(kind, []))

    def prepare(ctx: ReportContext) -> None:
        for step in steps:
            step(ctx)

    return (prepare if steps else None), [(e.key, e.build) for e in entries]
