"""Cleaning rules of location pings, with the audit every kind reports.

Rules that look at one row run as Ibis expressions on the engine: latitude and longitude
exchanged, coordinates outside the valid range, "null island" (0, 0) and an accuracy worse
than a limit. Rules that look at a user's pings in time order (exact copies, two positions
at the same instant, impossible speeds, users with too few pings) run where the pings are
sorted per user anyway, in :func:`sequence_flags`, which both engines call on each user's
pings; their counts join the audit in :meth:`CleanedPings.audit_table`. Every input row
ends in exactly one step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np

from segwise._engine import fetch_numpy
from segwise._settings import register_section
from segwise.clean._audit import build_audit, loader_steps
from segwise.exceptions import ConfigError, InputError, columns_fix, setting_named
from segwise.io._readers import counts_repr

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from segwise.io import Source

__all__ = ["ROW_RULES", "SEQUENCE_RULES", "CleanedPings", "PingRules", "clean_pings",
           "sequence_flags"]

@dataclass(frozen=True)
class PingRules:
    """Cleaning settings of pings, the ``[pings]`` section of a config file.

    Parameters
    ----------
    max_speed_kmh : float, default=1000.0
        A ping reached from the previous one and left for the next one faster than this
        is a jump of the positioning, not a trip (an airliner cruises at about 900 km/h).
    max_accuracy_m : float, default=1000.0
        Pings whose reported accuracy is worse than this are removed (0: keep all).
    min_pings : int, default=2
        Users with fewer kept pings have no movement to measure; their pings are removed.
    null_island_deg : float, default=0.0001
        Pings within this many degrees of (0, 0) are the default value of a failed fix.
    max_swapped_share : float, default=0.5
        Above this share of rows with latitude and longitude exchanged the load stops:
        the columns are mapped the wrong way round.
    """

    max_speed_kmh: float = 1000.0
    max_accuracy_m: float = 1000.0
    min_pings: int = 2
    null_island_deg: float = 0.0001
    max_swapped_share: float = 0.5

    def __post_init__(self) -> None:
        def bad(name: str, rule: str) -> ConfigError:
            return ConfigError(f"{setting_named('pings', name, getattr(self, name))}: {rule}")

        if self.max_speed_kmh <= 0:
            raise bad("max_speed_kmh", "must be positive")
        if self.max_accuracy_m < 0:
            raise bad("max_accuracy_m", "must be >= 0")
        if not isinstance(self.min_pings, int) or self.min_pings < 1:
            raise bad("min_pings", "must be an integer >= 1")
        if not 0 <= self.null_island_deg < 1:
            raise bad("null_island_deg", "must be from 0 (keep pings at 0, 0) to below 1 degree")
        if not 0 <= self.max_swapped_share <= 1:
            raise bad("max_swapped_share", "must be a share from 0 to 1")


register_section("pings", PingRules)

#: Row rules, in the order they apply: (step, description).
ROW_RULES: dict[str, str] = {
    "swapped_coordinates": "latitude and longitude exchanged (latitude beyond ±90, "
                           "longitude within): the row is not guessed back",
    "out_of_range": "latitude outside -90..90 or longitude outside -180..180",
    "null_island": "at (0, 0), the default value of a failed position fix",
    "inaccurate": "reported accuracy worse than the pings setting max_accuracy_m",
}
#: Rules on each user's pings in time order, by the code sequence_flags gives them.
SEQUENCE_RULES: dict[str, str] = {
    "duplicate_row": "exact copy of another ping (one copy kept)",
    "duplicate_timestamp": "a second position of the user at the same instant (the first, "
                           "by latitude and longitude, kept)",
    "impossible_speed": "reached from the previous ping and left for the next one faster "
                        "than the pings setting max_speed_kmh: a jump of the positioning",
    "too_few_pings": "the user has fewer than the pings setting min_pings kept pings: no movement",
}


def _row_reason(t: ir.Table, rules: PingRules) -> ir.StringValue:
    lat, lon = t.lat, t.lon
    checks = [
        ((lat.abs() > 90) & (lat.abs() <= 180) & (lon.abs() <= 90), "swapped_coordinates"),
        ((lat.abs() > 90) | (lon.abs() > 180), "out_of_range"),
        ((lat.abs() < rules.null_island_deg) & (lon.abs() < rules.null_island_deg),
         "null_island"),
    ]
    if rules.max_accuracy_m > 0:
        checks.append(((t.accuracy > rules.max_accuracy_m).fill_null(False), "inaccurate"))
    return ibis.cases(*checks, else_=ibis.null("string"))


@dataclass
class CleanedPings:
    """Pings after the row rules; the sequence rules run per user later.

    Attributes
    ----------
    rows : ibis.Table
        Every parsed ping with ``_reason`` (the row rule that removed it, NULL when kept).
    n_input : int
        Rows in the source, quarantined ones included.
    n_quarantined : int
        Rows the loader quarantined.
    row_counts : dict of str to int
        Pings each row rule removed.
    rules : PingRules
        The settings.
    source : Source
        The loaded source (its engine holds :attr:`rows`).
    derived : object
        What the features step learned from the pings (stable locations, areas), set
        by it.
    """

    rows: ir.Table
    n_input: int
    n_quarantined: int
    row_counts: dict[str, int]
    rules: PingRules
    source: Source
    derived: Any = field(default=None, repr=False)

    def __repr__(self) -> str:
        # The dataclass repr printed the pings' expression and the source's in full.
        removed = [f"{rule} {n:,}" for rule, n in self.row_counts.items() if n]
        return counts_repr(self, self.source.source, *removed, f"kept {self.n_kept_rows:,}")

    @property
    def n_after_as_of(self) -> int:
        """Pings the loader left out as dated after the as-of date."""
        return self.source.n_after_as_of

    @property
    def kept(self) -> ir.Table:
        """Pings no row rule removed, without the bookkeeping column."""
        return self.rows.filter(self.rows._reason.isnull()).drop("_reason")

    @property
    def n_kept_rows(self) -> int:
        """Pings that passed the row rules."""
        return (self.n_input - self.n_quarantined - self.source.n_after_as_of
                - sum(self.row_counts.values()))

    def audit_table(self, sequence_counts: Mapping[str, int] | None = None) -> pa.Table:
        """Pings that ended at each step, reconciling to the input row count.

        Parameters
        ----------
        sequence_counts : mapping of str to int, optional
            Pings each sequence rule removed (:func:`sequence_flags`); without them the
            pings after the row rules all count as kept.

        Returns
        -------
        pyarrow.Table
            ``step``, ``rows`` and ``description``: the loader's steps (quarantined, after
            the as-of date), the row rules, the sequence rules, kept.
        """
        seq = dict(sequence_counts or {})
        rows, descriptions = loader_steps(self.n_quarantined, self.source.n_after_as_of)
        rows.update(self.row_counts)
        descriptions.update({step: ROW_RULES[step] for step in self.row_counts})
        if seq:
            rows.update({k: int(seq.get(k, 0)) for k in SEQUENCE_RULES})
            descriptions.update(SEQUENCE_RULES)
        rows["kept"] = self.n_kept_rows - sum(int(v) for v in seq.values())
        descriptions["kept"] = "kept"
        return build_audit(rows, descriptions, self.n_input)


def clean_pings(source: Source, rules: PingRules | None = None) -> CleanedPings:
    """Apply the row rules of pings and count what each removed.

    Parameters
    ----------
    source : Source
        Pings loaded with :func:`segwise.io.load_source` (kind ``"pings"``).
    rules : PingRules, optional
        Settings; the defaults when omitted.

    Returns
    -------
    CleanedPings
        Flagged rows (lazy), the counts, and the settings for the sequence rules.

    Raises
    ------
    InputError
        If most rows have latitude and longitude exchanged: the ``[columns]`` mapping is
        the wrong way round.
    """
    rules = rules or PingRules()
    t = source.table
    rows = t.mutate(_reason=_row_reason(t, rules))
    counts = fetch_numpy(rows.group_by("_reason").aggregate(n=rows.count()))
    found = {str(r): int(n) for r, n in zip(counts["_reason"], counts["n"], strict=True)
             if r is not None}
    row_counts = {step: found.get(step, 0) for step in ROW_RULES
                  if step != "inaccurate" or rules.max_accuracy_m > 0}
    parsed = max(source.n_input - source.n_quarantined, 1)
    swapped = row_counts["swapped_coordinates"] / parsed
    if swapped > rules.max_swapped_share:
        roles = dict(source.roles.items())
        raise InputError(
            f"{source.source}: {swapped:.0%} of pings have a latitude beyond ±90 and a "
            f"longitude within: columns {roles['lat']!r} and {roles['lon']!r} look swapped. "
            "Fix: map them the other way: "
            + columns_fix({"lat": roles["lon"], "lon": roles["lat"]})
        )
    return CleanedPings(rows, source.n_input, source.n_quarantined, row_counts, rules, source)


#: Codes sequence_flags gives, in SEQUENCE_RULES order (0: kept).
SEQUENCE_CODES = {name: i + 1 for i, name in enumerate(SEQUENCE_RULES)}


def sequence_flags(starts: np.ndarray, ts: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                   accuracy: np.ndarray, category: np.ndarray, rules: PingRules) -> np.ndarray:
    """Apply the sequence rules to users' pings sorted by user, time and position.

    Parameters
    ----------
    starts : ndarray of int64, shape (n_users + 1,)
        Where each user's pings begin; the last entry is the number of pings.
    ts : ndarray of int64
        Seconds since 1970, sorted within each user (ties by latitude, longitude,
        accuracy and category, so that exact copies are neighbours).
    lat, lon : ndarray of float64
        Degrees.
    accuracy : ndarray of float64
        Metres; NaN where unknown.
    category : ndarray of int64
        Category codes (any code, equal for equal categories).
    rules : PingRules
        Settings.

    Returns
    -------
    ndarray of int8
        0 where kept, else the rule's code (:data:`SEQUENCE_CODES`).
    """
    from segwise._kernels import sequence_codes

    return sequence_codes(np.asarray(starts, np.int64), np.asarray(ts, np.int64),
                           np.asarray(lat, np.float64), np.asarray(lon, np.float64),
                           np.asarray(accuracy, np.float64), np.asarray(category, np.int64),
                           rules.max_speed_kmh / 3.6, int(rules.min_pings))
