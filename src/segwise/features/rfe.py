"""Recency, frequency and engagement (RFE) per user from events, expressed once in Ibis.

A user's events are cut into sessions wherever they pause for longer than ``[sessions]
gap_minutes`` (30 by default), with a window over each user's events in time order; a
source's session ids cut them further (events of two ids are never one session), but never
join events across such a pause (ids reused day after day stay apart). Every sum and count is an
integer computed by the engine (DuckDB or Spark: the same expressions), so both give the
same table; rates and means are derived from them afterwards, once per user.

Features (one row per user):

* recency: days since last seen, days since the last click;
* frequency: clicks, conversions, active days;
* engagement: events, sessions, searches, mean session depth (events per session) and
  duration (minutes), distinct categories;
* click-through rate, raw and with a small-sample correction (shrunk towards the log's
  rate by ``[rfe] ctr_prior`` pseudo-events, so that 1 click in 2 events does not rank
  above 30 in 1,000);
* how to reach them: preferred hour of the week, device and category (the most frequent,
  ties to the smallest value).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np

from segwise._engine import fetch_numpy, numpy_to_arrow
from segwise._settings import register_section
from segwise.exceptions import ConfigError, setting_named
from segwise.features._entity import EntityTable, Feature, FeatureSet, register_feature_set
from segwise.features.rfm import PANDAS_ATTRS, no_entity_left, reference_date

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from segwise.clean import CleanedEvents

__all__ = [
    "RFE_FEATURES",
    "WEEKDAYS",
    "RFESettings",
    "SessionSettings",
    "hour_of_week_label",
    "rfe_aggregates",
    "rfe_entities",
    "session_table",
]

#: Weekday names, Monday first (hour of week 0 is Monday 00:00-00:59).
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class SessionSettings:
    """``[sessions]`` settings.

    Parameters
    ----------
    gap_minutes : float, default=30
        A pause longer than this starts a new session, whether or not the source gives
        session ids (a session id reused after such a pause is a new session).
    """

    gap_minutes: float = 30.0

    def __post_init__(self) -> None:
        if not self.gap_minutes > 0:
            raise ConfigError(f"{setting_named('sessions', 'gap_minutes', self.gap_minutes)} "
                              "must be above 0")


@dataclass(frozen=True)
class RFESettings:
    """``[rfe]`` settings.

    Parameters
    ----------
    as_of : date, optional
        Reference date of recency (a TOML date or ``"YYYY-MM-DD"``); the day after the
        last event when omitted.
    score : tuple of str, default=("recency_days", "clicks", "sessions")
        The recency, frequency and engagement columns scored 1 to 5 for named segments
        (``["recency_days", "conversions", "sessions"]`` for a log without clicks).
    ctr_prior : float, default=100
        Strength, in events, of the log-wide click-through rate that a user's own rate is
        shrunk towards.
    """

    as_of: _dt.date | None = None
    score: tuple[str, ...] = ("recency_days", "clicks", "sessions")
    ctr_prior: float = 100.0

    def __post_init__(self) -> None:
        if len(self.score) != 3:
            raise ConfigError(f"[rfe] score names three columns (recency, frequency, "
                              f"engagement), got {list(self.score)}")
        numeric = {f.name for f in RFE_FEATURES.features if f.type in ("integer", "number")}
        unknown = [c for c in self.score if c not in numeric]
        if unknown:
            raise ConfigError(f"[rfe] score: {', '.join(unknown)} not among the numeric "
                              f"features ({', '.join(sorted(numeric))})")
        if self.ctr_prior < 0:
            raise ConfigError(f"[rfe] ctr_prior = {self.ctr_prior!r} must be 0 or more")


#: The RFE table's declared columns.
RFE_FEATURES = register_feature_set(FeatureSet(
    name="rfe",
    kind="events",
    entity="user",
    id_col="user_id",
    features=(
        Feature("recency_days", "integer", "days", "days from the last event to the "
                "reference date", cluster=True, short="R"),
        Feature("click_recency_days", "integer", "days", "days from the last click to the "
                "reference date (empty without clicks)"),
        Feature("clicks", "integer", "clicks", "events that were clicks", cluster=True,
                short="F"),
        Feature("conversions", "integer", "conversions", "events that were conversions"),
        Feature("active_days", "integer", "days", "days with any event", cluster=True),
        Feature("events", "integer", "events", "events (page views, impressions)"),
        Feature("sessions", "integer", "sessions", "visits", cluster=True, short="E"),
        Feature("searches", "integer", "searches", "searches (or results pages)"),
        Feature("events_per_session", "number", "events", "mean session depth",
                cluster=True),
        Feature("session_minutes", "number", "minutes", "mean session duration"),
        Feature("categories", "integer", "categories", "distinct categories seen",
                cluster=True),
        Feature("ctr", "number", "share", "clicks / events"),
        Feature("ctr_smoothed", "number", "share", "click-through rate shrunk towards the "
                "log's rate ([rfe] ctr_prior pseudo-events)", cluster=True),
        Feature("tenure_days", "integer", "days", "days from the first event to the "
                "reference date"),
        Feature("first_seen", "timestamp", "", "first event"),
        Feature("last_seen", "timestamp", "", "last event"),
        Feature("active_hour_of_week", "integer", "hour", "most active hour of the week "
                "(0 = Monday 00:00)"),
        Feature("active_when", "text", "", "most active hour of the week, in words"),
        Feature("device", "text", "", "most used device"),
        Feature("category", "text", "", "most seen category"),
    ),
    segment_col="segment",
    summary=("recency_days", "clicks", "sessions"),
    profile=("events", "searches", "session_minutes", "tenure_days", "ctr"),
))

register_section("sessions", SessionSettings)
register_section("rfe", RFESettings)


#: Labels of the 168 hours of the week.
_HOUR_LABELS = np.array([f"{d} {h:02d}:00" for d in WEEKDAYS for h in range(24)], dtype=object)


def hour_of_week_label(hour: Any) -> np.ndarray:
    """``"Tue 20:00"`` for hours of the week (0 = Monday 00:00); None where missing."""
    values = np.asarray(hour, dtype="float64")
    ok = np.isfinite(values)
    out = np.full(values.shape, None, dtype=object)
    out[ok] = _HOUR_LABELS[values[ok].astype("int64")]
    return out


def session_table(events: ir.Table, *, gap_minutes: float = 30.0,
                  given: bool = False) -> ir.Table:
    """One row per session: ``user_id``, ``session``, ``events``, ``start``, ``end``.

    Parameters
    ----------
    events : ibis.Table
        Events with ``user_id``, ``ts``, ``session_id`` and ``search_id``, and
        optionally ``_n``: how many events each row stands for (see
        :attr:`segwise.clean.CleanedRows.counted`).
    gap_minutes : float, default=30
        Inactivity that starts a new session, with or without session ids.
    given : bool, default=False
        Also cut sessions where ``session_id`` changes.

    Returns
    -------
    ibis.Table
        Sessions; ``session`` numbers them per user (1, 2, ... in the order of the events).
    """
    flagged = _flag_sessions(_keyed(_counted(events), given), gap_minutes, given)
    # A range frame counts tied events together, so a session's first event never
    # lands in the session before it, whatever order an engine gives ties.
    w = ibis.range_window(group_by=flagged.user_id, order_by=_event_order(flagged, given),
                          preceding=None, following=0)
    numbered = flagged.mutate(session=flagged._new_session.cast("int64").sum().over(w))
    return numbered.group_by(["user_id", "session"]).aggregate(
        events=numbered._n.sum(), start=numbered.ts.min(), end=numbered.ts.max())


def _counted(events: ir.Table) -> ir.Table:
    """Events with ``_n``, how many events each row stands for: 1 where not given."""
    return events if "_n" in events.columns else events.mutate(_n=ibis.literal(1, "int64"))


def _event_order(t: ir.Table, given: bool) -> list[ir.Value]:
    """Each user's events in order: by session id when given, time and search.

    By the timestamp itself, not its epoch seconds: the same order at full precision on
    every engine (Spark's epoch seconds are whole), and sorting on the stored column is
    a third cheaper on DuckDB than on a computed one.
    """
    # Events without a search id first, on every engine.
    search = ibis.asc(t._search, nulls_first=True)
    return [t._key, t.ts, search] if given else [t.ts, search]


def _keyed(events: ir.Table, given: bool) -> ir.Table:
    """Events with the order keys of sessions: ``_search`` and, when given, ``_key``.

    Search ids as stored: integers sort as integers, a quarter cheaper than as text.
    """
    t = events.mutate(_search=events.search_id)
    return t.mutate(_key=t.session_id.fill_null("")) if given else t


def _flag_sessions(t: ir.Table, gap_minutes: float, given: bool) -> ir.Table:
    """Rows with ``_new_session``, ``_seconds`` within their session and ``_new_search``.

    ``t`` holds events, or groups of events at one time (see :func:`rfe_aggregates`),
    with the keys of :func:`_keyed`. Each user's rows are taken in the order of session
    id (when given), time and search id; a row starts a session when it is the user's
    first, when its session id differs from the previous row's, or when it follows a
    pause longer than the gap, with or without an id: a source whose ids are counters
    reused every day (session 1 on Monday, session 1 again on Thursday) must not give
    one session four days long. Tied rows are never cut apart, so the flags do not
    depend on how an engine orders ties: a row tied with the one before it has no gap,
    no new session and no new search.
    """
    t = t.mutate(_epoch=t.ts.epoch_seconds())
    w = ibis.window(group_by=t.user_id, order_by=_event_order(t, given))
    # Each value of the row before once: the window sorts and reads them once.
    t = t.mutate(_gap=t._epoch - t._epoch.lag().over(w),
                 _same_search=t._search.identical_to(t._search.lag().over(w)),
                 **({"_same_key": t._key == t._key.lag().over(w)} if given else {}))
    cut = t._gap.isnull() | (t._gap > round(gap_minutes * 60))
    if given:
        cut = cut | ~t._same_key
    cut = cut.fill_null(True)
    return t.mutate(
        _new_session=cut,
        _seconds=ibis.ifelse(cut, 0, t._gap).cast("int64"),
        _new_search=t._gap.isnull() | ~t._same_search,
    )


def rfe_aggregates(events: ir.Table, *, gap_minutes: float = 30.0,
                   given_sessions: bool = False, searches: bool = True,
                   group: bool = True) -> ir.Table:
    """Per-user integer aggregates and preferences of the events, for :func:`rfe_entities`.

    Parameters
    ----------
    events : ibis.Table
        Events with the columns of :data:`segwise.io.EVENT_COLUMNS`, and optionally
        ``_n``: how many events each row stands for (see
        :attr:`segwise.clean.CleanedRows.counted`).
    gap_minutes : float, default=30
        Inactivity that starts a new session, with or without session ids.
    given_sessions : bool, default=False
        Also cut sessions where the events' ``session_id`` changes.
    searches : bool, default=True
        Count searches as runs of ``search_id``; otherwise as events named ``search``.
    group : bool, default=True
        Group the events per user, time, session, search, category and device first,
        so that later steps read fewer rows; rows a loader stored counted (``_n``) are
        grouped already, on all these and more.

    Returns
    -------
    ibis.Table
        One row per user: ``user_id`` (text), ``first_seen``, ``last_seen``,
        ``last_click``, ``events``, ``clicks``, ``conversions``, ``sessions``,
        ``session_seconds``, ``searches``, ``active_days``, ``categories``,
        ``active_hour_of_week``, ``device``, ``category``.
    """
    # One grouping of the events, the only read of them: per user, the events at one
    # time in one session, search, category and device. Events tied on the session
    # order would get no gap, session or search of their own anyway, so the sessions
    # window over these (far fewer) rows flags the same, and the day, hour, category
    # and device counts read them too. Rows a loader counted are as few already (a
    # click splits a search's impressions in two rows, no more): grouping them again
    # and storing the groups for every reader cost more than reading them each time.
    # The window reads only what it orders and sums; days, hours, devices and
    # categories are each one grouping of their own (cheaper than distinct counts in
    # the users' aggregation, which DuckDB joins back, and than one grouping on all).
    e = _keyed(_counted(events), given_sessions)
    keys = ["user_id", *(["_key"] if given_sessions else []), "ts", "_search",
            "category", "device"]

    def counts(x: ir.Table) -> dict[str, ir.IntegerValue]:
        """Return the events, clicks, conversions (and searches) each row stands for."""
        n = x._n
        return {
            "_events": n,
            "_clicks": ibis.ifelse(x.is_click, n, 0),
            "_conversions": ibis.ifelse(x.is_conversion, n, 0),
            **({} if searches else {"_searches": ibis.ifelse(x.event.lower() == "search",
                                                             n, 0)}),
        }

    if group:
        g = e.group_by(keys).aggregate(**{k: v.sum() for k, v in counts(e).items()})
        carried, weight = list(counts(e)), "_events"
    else:
        # The counts are taken where they are summed, not carried through the window's
        # sort as columns of their own (a fifth of its time).
        carried = ["_n", "is_click", "is_conversion", *([] if searches else ["event"])]
        g, weight = e.select(*keys, *carried), "_n"
    t = _flag_sessions(g.select("user_id", *keys[1:-2], *carried), gap_minutes, given_sessions)
    c = {k: t[k] for k in carried} if group else counts(t)
    out = t.group_by("user_id").aggregate(
        first_seen=t.ts.min(),
        last_seen=t.ts.max(),
        last_click=t.ts.max(where=c["_clicks"] > 0),
        events=c["_events"].sum(),
        clicks=c["_clicks"].sum(),
        conversions=c["_conversions"].sum(),
        sessions=t._new_session.cast("int64").sum(),
        session_seconds=t._seconds.sum(),
        searches=(t._new_search.cast("int64") if searches else c["_searches"]).sum(),
    )
    days = g.group_by(["user_id", g.ts.date().name("_day")]).aggregate()
    how = g.ts.day_of_week.index().cast("int64") * 24 + g.ts.hour().cast("int64")
    for part in (days.group_by("user_id").aggregate(active_days=days.count()),
                 _most_frequent(g, weight, how, "active_hour_of_week"),
                 _most_frequent(g, weight, g.device, "device", text=True),
                 _most_frequent(g, weight, g.category, "category", text=True,
                                n="categories")):
        out = out.left_join(part, "user_id").drop("user_id_right")
    out = out.relocate("categories", after="active_days")
    return out.mutate(user_id=out.user_id.cast("string"))


def _most_frequent(rows: ir.Table, events: str, value: ir.Value, name: str, *,
                   text: bool = False, n: str | None = None) -> ir.Table:
    """Per user, the ``value`` of the most events (ties to the smallest), and ``n`` values.

    ``events`` names the column of ``rows`` that says how many events each stands for.

    One grouping per user and value, then per user the least of (minus the events,
    the value): no window, nor a join to find the largest count. Values are grouped as
    stored and, with ``text``, compared as text, so ties go the same way on every
    engine and whether a source stored its devices or categories as numbers or not.
    Missing values are left out.
    """
    c = rows.filter(value.notnull())
    counts = c.group_by(["user_id", value.name("_value")]).aggregate(_count=c[events].sum())
    key = counts._value.cast("string") if text else counts._value
    best = ibis.struct({"n": -counts._count, "value": key}).min()["value"]
    return counts.group_by("user_id").aggregate(
        **{name: best}, **({n: counts.count()} if n is not None else {}))


def rfe_entities(cleaned: CleanedEvents, *, sessions: SessionSettings | None = None,
                 settings: RFESettings | None = None, as_of: _dt.date | None = None,
                 source: str | None = None) -> EntityTable:
    """Compute the RFE entity table: one row per user, sorted by user id.

    Parameters
    ----------
    cleaned : CleanedEvents
        Output of :func:`segwise.clean.clean_events`.
    sessions : SessionSettings, optional
        ``[sessions]`` settings.
    settings : RFESettings, optional
        ``[rfe]`` settings.
    as_of : date, optional
        Reference date of recency; ``settings.as_of``, else the day after the last event.
    source : str, optional
        Where the events came from, for messages.

    Returns
    -------
    EntityTable
        :data:`RFE_FEATURES` per user; the reference date also in the schema metadata.

    Raises
    ------
    InputError
        If no event is left after cleaning.
    """
    sessions = sessions or SessionSettings()
    settings = settings or RFESettings()
    agg = rfe_aggregates(_materialized(cleaned), gap_minutes=sessions.gap_minutes,
                         given_sessions=cleaned.has("session_id"),
                         searches=cleaned.has("search_id"), group=not cleaned.grouped)
    a = fetch_numpy(agg)
    if not len(a["user_id"]):
        raise no_entity_left(
            source or cleaned.source, cleaned.audit_table(), entity="event", section="rfe",
            as_of=as_of or settings.as_of if cleaned.n_after_as_of else None,
            check=None)
    order = np.argsort(a["user_id"].astype(str), kind="stable")
    a = {k: v[order] for k, v in a.items()}
    as_of = as_of or settings.as_of or reference_date(a["last_seen"])
    ref = np.datetime64(as_of, "D")

    def ints(name: str) -> np.ndarray:
        return np.nan_to_num(np.asarray(a[name], dtype="float64")).astype("int64")

    def days_before(ts: np.ndarray) -> np.ndarray:
        return (ref - np.asarray(ts, dtype="datetime64[ns]").astype("datetime64[D]")) \
            .astype("float64")

    events, clicks, n_sessions = ints("events"), ints("clicks"), ints("sessions")
    last_click = np.asarray(a["last_click"], dtype="datetime64[ns]")
    click_recency = np.where(np.isnat(last_click), np.nan, days_before(last_click))
    prior = clicks.sum() / max(events.sum(), 1)
    k = settings.ctr_prior
    how = np.asarray(a["active_hour_of_week"], dtype="float64")
    columns = {
        "user_id": a["user_id"].astype(object),
        "recency_days": days_before(a["last_seen"]).astype("int64"),
        "click_recency_days": click_recency,
        "clicks": clicks,
        "conversions": ints("conversions"),
        "active_days": ints("active_days"),
        "events": events,
        "sessions": n_sessions,
        "searches": ints("searches"),
        "events_per_session": np.round(events / np.maximum(n_sessions, 1), 6),
        "session_minutes": np.round(ints("session_seconds") / 60 / np.maximum(n_sessions, 1),
                                    6),
        "categories": ints("categories"),
        "ctr": np.round(clicks / np.maximum(events, 1), 9),
        "ctr_smoothed": np.round((clicks + k * prior) / (events + k), 9) if events.size
        else np.zeros(0),
        "tenure_days": days_before(a["first_seen"]).astype("int64"),
        "first_seen": np.asarray(a["first_seen"], dtype="datetime64[ns]"),
        "last_seen": np.asarray(a["last_seen"], dtype="datetime64[ns]"),
        "active_hour_of_week": how,
        "active_when": hour_of_week_label(how),
        "device": np.asarray(a["device"], dtype=object),
        "category": np.asarray(a["category"], dtype=object),
    }
    table = numpy_to_arrow(columns, metadata={
        PANDAS_ATTRS: json.dumps({"as_of": as_of.isoformat()}).encode()})
    table = _as_int(table, ("click_recency_days", "active_hour_of_week"))
    return EntityTable(table, RFE_FEATURES, as_of=as_of, source=source)


def _materialized(cleaned: CleanedEvents) -> ir.Table:
    """Return the kept events, counted (``_n``); on Spark, persisted once.

    The aggregates read the events once on DuckDB (the grouping of
    :func:`rfe_aggregates` is stored by the engine), where copies are merged within the
    same query; Spark computes that grouping again for each of its two readers, and
    would merge copies and parse the rows again for each.
    """
    kept = cleaned.counted
    backend = kept._find_backend()
    if getattr(backend, "name", "") != "pyspark":
        return kept
    from pyspark import StorageLevel

    name = f"segwise_events_{id(kept):x}"
    frame = backend._session.sql(backend.compile(kept))
    frame.persist(StorageLevel.MEMORY_AND_DISK).createOrReplaceTempView(name)
    return backend.table(name)


def _as_int(table: Any, names: tuple[str, ...]) -> Any:
    """Cast float columns holding whole numbers (NaN for missing) to nullable int64."""
    import pyarrow as pa

    for name in names:
        i = table.column_names.index(name)
        values = np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype="float64")
        mask = np.isnan(values)
        array = pa.array(np.where(mask, 0, values).astype("int64"), mask=mask)
        table = table.set_column(i, name, array)
    return table
