"""Events, a source kind: one row per thing a user did or saw on a site or app.

A click log, a page-view log or an ad-impression log (the search stream of a classifieds
site, one row per ad shown, with a click flag): who (user), when, what (event type), and
optionally the session, search, object (ad, item), whether it was clicked or converted,
its category, the device and the page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from segwise.io._kinds import Role, SourceKind, register_kind
from segwise.io._parse import (
    MAX_NUMBER,
    SOURCE_PREFIX,
    as_float,
    as_id,
    as_text,
    id_checks,
    is_blank,
    is_spark,
    parse_timestamp,
    strip_text,
    timestamp_checks,
    with_reason,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import ibis.expr.types as ir

    from segwise.io._readers import ReadOptions
    from segwise.io._roles import ColumnRoles

__all__ = ["CLICK_EVENTS", "CONVERSION_EVENTS", "EVENTS", "EVENT_COLUMNS", "as_flag",
           "parse_events"]

#: Columns of the typed event table. ``user_id``, ``search_id``, ``object_id``, ``category``
#: and ``device`` are only grouped on or compared: where the source stores them as integers
#: they stay ``int64`` (smaller, faster to group and sort), else they are text; results per
#: user give them as text either way.
EVENT_COLUMNS: dict[str, str] = {
    "user_id": "string",
    "ts": "timestamp",
    "event": "string",
    "session_id": "string",
    "search_id": "string",
    "object_id": "string",
    "is_click": "boolean",
    "is_conversion": "boolean",
    "category": "string",
    "device": "string",
    "page": "string",
}

#: Event names that are clicks, and conversions, in a log without a flag column for them
#: (compared in lower case, blanks and hyphens read as underscores): a view/click/purchase
#: log says what happened in its event column.
CLICK_EVENTS: frozenset[str] = frozenset({"click", "clicked", "ad_click", "adclick",
                                          "link_click", "click_through"})
CONVERSION_EVENTS: frozenset[str] = frozenset({
    "purchase", "purchased", "transaction", "order", "order_completed", "conversion",
    "converted", "buy", "sale", "lead", "checkout_completed", "payment"})

#: Text a flag column holds for yes and for no (compared in lower case).
_YES = ("1", "true", "t", "yes", "y")
_NO = ("0", "false", "f", "no", "n")


def as_flag(value: ir.Value) -> ir.BooleanValue:
    """Parse a yes/no source value: booleans, yes/no text, or numbers (positive is yes).

    Blank values (NaN included) are no (an event without a click flag was not clicked).
    Numbers read as the number columns read them, so an amount is a flag too (a revenue
    column's ``$12.50`` is a conversion, ``0`` none). Text that is neither yes, no nor a
    number, a negative number (``-1``, ``(1)``: no yes or no, nor a conversion), and a
    number that is infinite or beyond :data:`~segwise.io.MAX_NUMBER`, are NULL, and the
    row is quarantined.
    """
    if value.type().is_boolean():
        return value.fill_null(False)
    if value.type().is_integer():
        # What as_float() tests, without a float: every integer is finite.
        within = (value >= 0) & (value <= int(MAX_NUMBER))
        return ibis.cases((value.isnull(), False), (within, value != 0),
                          else_=ibis.null("boolean"))
    # NaN (pandas' missing value) is blank, so no; infinite or huge numbers are no flag.
    number = as_float(value)
    if value.type().is_numeric():
        return ibis.cases((is_blank(value), False), (number >= 0, number != 0),
                          else_=ibis.null("boolean"))
    text = strip_text(value.cast("string")).lower()
    return ibis.cases(
        (is_blank(value), False),
        (text.isin(_YES), True),
        (text.isin(_NO), False),
        (number >= 0, number != 0),
        else_=ibis.null("boolean"),
    )


def _key(value: ir.Value, as_text: Callable[[ir.Value], ir.StringValue]) -> ir.Value:
    """Parse a key that is only grouped on: integers stay integers, the rest is text.

    Integer keys take half the memory of text and group and sort faster (users are
    sessionized in a window partitioned by them, ordered by time and search id). The
    most frequent device or category, ties to the smallest, compares them as text, so
    it does not depend on whether a source stored them as numbers; search ids at one
    time are taken in their own order (numeric for integers).
    """
    return value.cast("int64") if value.type().is_integer() else as_text(value)


def _label(value: ir.Value) -> ir.StringValue:
    """Read a category, device or page as text; a whole float as its integer (``5.0``: 5).

    pandas stores an integer column with a gap as floats: its category 5 must read as the
    5 of a log that stored integers, not ``5.0``. NaN is blank.
    """
    if not value.type().is_floating():
        return as_text(value)
    return ibis.ifelse(is_blank(value), ibis.null("string"),
                       as_id(value).fill_null(value.cast("string")))


def parse_events(raw: ir.Table, roles: ColumnRoles, read: ReadOptions, path: Path) -> ir.Table:
    """Typed event columns plus ``_reason``: why the row cannot be used, else NULL."""
    spark = is_spark(raw._find_backend())
    r = {role: raw[SOURCE_PREFIX + col] for role, col in roles.items()}
    name = dict(roles.items())
    ts = parse_timestamp(r["timestamp"], read, path, spark)
    checks: list[tuple[ir.BooleanValue, str]] = [
        (is_blank(r["user_id"]), f"{name['user_id']}: empty user id"),
        *timestamp_checks(r["timestamp"], ts, name["timestamp"]),
    ]
    # Ids a float or true/false column cannot hold (1.5 is no user 2) are refused.
    checks += [check for role in ("user_id", "session_id", "search_id", "object_id")
               if role in r for check in id_checks(r[role], name[role])]
    # An ad log without an event column: its rows are impressions, the click a flag on them.
    event = (as_text(r["event"]).fill_null("event") if "event" in r
             else ibis.literal("impression" if "is_click" in r else "event"))
    flags = {}
    for role, column, names in (("is_click", "is_click", CLICK_EVENTS),
                                ("conversion", "is_conversion", CONVERSION_EVENTS)):
        if role in r:
            flags[column] = as_flag(r[role])
            checks.append((flags[column].isnull(), f"{name[role]}: not a yes/no flag"))
        elif "event" in r:
            # Without a flag column, the event's name says it.
            key = event.lower().re_replace(r"[\s-]+", "_")
            flags[column] = key.isin(sorted(names))
        else:
            flags[column] = ibis.literal(False)
    text = {
        column: as_id(r[role]) if role.endswith("_id") else _label(r[role])
        for role, column in (("session_id", "session_id"), ("page", "page"))
        if role in r
    }
    text |= {column: _key(r[role], as_id if role.endswith("_id") else _label)
             for role, column in (("search_id", "search_id"), ("object_id", "object_id"),
                                  ("category", "category"), ("device", "device"))
             if role in r}
    return with_reason(raw, {
        "user_id": _key(r["user_id"], as_id),
        "ts": ts,
        "event": event,
        **{c: text.get(c, ibis.null("string")) for c in
           ("session_id", "search_id", "object_id")},
        **flags,
        **{c: text.get(c, ibis.null("string")) for c in ("category", "device", "page")},
    }, ibis.cases(*checks, else_=ibis.null("string")))


#: Events. Only the user and the time are required; everything else enriches the features.
EVENTS = register_kind(SourceKind(
    name="events",
    rows="events",
    roles=(
        Role("user_id", (
            "userid", "user", "visitorid", "visitor", "cookieid", "cookie", "uid",
            "customerid", "memberid", "accountid", "clientid", "fullvisitorid",
            "userpseudoid", "anonymousid", "distinctid",
        ), required=True, description="who acted"),
        Role("timestamp", (
            "timestamp", "eventtime", "eventtimestamp", "searchdate", "clickdate", "viewdate",
            "eventdate", "datetime", "time", "ts", "date", "createdat",
        ), required=True, description="when"),
        Role("event", ("event", "eventtype", "eventname", "action", "actiontype", "type"),
             description="what happened (view, click, search, add to cart, ...)"),
        Role("session_id", ("sessionid", "session", "visitid", "sessionkey"),
             description="the visit; sessions are cut at inactivity gaps without it"),
        Role("search_id", ("searchid", "search", "queryid", "requestid", "pageviewid"),
             description="the search (or page view) the event belongs to"),
        Role("object_id", ("adid", "itemid", "objectid", "productid", "item", "ad",
                           "listingid", "contentid", "offerid"),
             description="the ad or item shown or acted on"),
        Role("is_click", ("isclick", "click", "clicked", "clickflag", "isclicked"),
             description="whether the event is (or led to) a click"),
        Role("conversion", ("conversion", "isconversion", "converted", "purchase",
                            "purchased", "revenue", "transaction"),
             description="whether the event is a conversion (purchase, contact, lead)"),
        Role("category", ("categoryid", "category", "categoryname", "section", "vertical",
                          "itemcategory"),
             description="category of the object or search"),
        Role("device", ("device", "devicetype", "devicecategory", "platform", "userdeviceid",
                        "deviceid", "os", "operatingsystem", "operatingsystems",
                        "useragentfamilyid"),
             description="device or platform"),
        Role("page", ("page", "pagetype", "pagename", "pageurl", "url", "screen", "path"),
             description="page or screen"),
    ),
    columns=EVENT_COLUMNS,
    parse=parse_events,
    time_column="ts",
))
