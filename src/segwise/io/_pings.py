"""Location pings, and the points of interest they can be matched with.

A ping is one located observation of a user: who (user), when (timestamp), where
(latitude, longitude), optionally how precisely (accuracy in metres) and, for check-ins,
the category of the venue. A point of interest is a named place of a category.

Timestamps may be text (layout detected), typed, or numbers of seconds (milliseconds
when larger than 10**11) since 1970-01-01.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import ibis

from segwise.exceptions import columns_key
from segwise.io._kinds import Role, SourceKind, register_kind
from segwise.io._parse import (
    SOURCE_PREFIX,
    _is_nan,
    as_float,
    as_id,
    as_text,
    epoch_timestamp,
    id_checks,
    is_blank,
    is_spark,
    number_checks,
    parse_timestamp,
    timestamp_checks,
    with_reason,
)

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from segwise.io._readers import ReadOptions
    from segwise.io._roles import ColumnRoles

__all__ = ["PINGS", "POIS"]



#: A coordinate as devices, gazetteers and spreadsheets write it in text: a hemisphere
#: letter before or after decimal degrees (``52.5677N``, ``W13.3717``), or degrees and
#: minutes with or without seconds (``52°34.06'N``, ``52 34 3.6 N``, ``52°34'3.6"N``).
#: Groups: a sign or letter before, degrees, minutes, seconds, a letter after. Minutes
#: need a degree sign or a space before them: ``5234.06`` (NMEA's ddmm.mm) is no coordinate.
_SEXAGESIMAL = (r"^([-+NSEW]?)\s*(\d{1,3}(?:\.\d+)?)"
                r"(?:(?:\s*°\s*|\s+)(\d{1,2}(?:\.\d+)?)\s*['′]?"
                r"(?:\s*(\d{1,2}(?:\.\d+)?)\s*(?:\"|″|'')?)?)?\s*°?\s*([NSEW]?)$")


def _sexagesimal(value: ir.Value, axis: str) -> ir.FloatingValue:
    """Read a text coordinate with a hemisphere letter or in degrees, minutes and seconds.

    Parameters
    ----------
    value : ibis value
        The source column, text.
    axis : {"NS", "EW"}
        The letters of the column's axis; S and W are negative.

    Returns
    -------
    ibis float
        Signed decimal degrees; NaN where the text is such a coordinate with a letter of
        the other axis (``13.37E`` given as a latitude); NULL where it is none.
    """
    text = value.cast("string").strip().upper()
    part = [text.re_extract(_SEXAGESIMAL, i) for i in range(6)]
    before, degrees, minutes, seconds, after = part[1:]
    letter = before.re_replace(r"[-+]", "") + after
    minute = ibis.ifelse(minutes == "", 0.0, minutes.try_cast("float64"))
    second = ibis.ifelse(seconds == "", 0.0, seconds.try_cast("float64"))
    size = degrees.try_cast("float64") + minute / 60 + second / 3600
    negative = (before == "-") | letter.isin(["S", "W"])
    read = ((part[0] != "") & (letter.length() <= 1) & (minute < 60) & (second < 60)
            # Fractional degrees followed by minutes (52.5°30') is no notation.
            & ~(degrees.contains(".") & (minutes != "")))
    return ibis.cases((~read, ibis.null("float64")),
                      ((letter != "") & ~letter.isin(list(axis)), math.nan),
                      (negative, -size), else_=size)


def _coordinate(value: ir.Value, column: str, what: str, axis: str
                ) -> tuple[ir.FloatingValue, list[tuple[ir.BooleanValue, str]]]:
    """One coordinate, as a number or as text :func:`_sexagesimal` reads, and its checks.

    NaN, infinite or huge coordinates are quarantined: the shared number rules.
    """
    plain = as_float(value)
    if not value.type().is_string():
        return plain, list(number_checks(value, column, what))
    # The text is read only where the plain number does not read (COALESCE is lazy):
    # nearly no row. The checks test the result, never the text again, which would parse
    # it once more on every row (DuckDB shares no expression between CASE branches).
    degrees = ibis.coalesce(plain, _sexagesimal(value, axis))
    other = _is_nan(degrees)  # as_float never gives NaN: only the other axis does
    other_axis = "E or W" if axis == "NS" else "N or S"
    return degrees, [
        (other, f"{column}: a {what} with the hemisphere letter {other_axis}: the columns "
                f"look swapped. Fix: map lat and lon the other way in {columns_key()}"),
        *((degrees.isnull() & check, why) for check, why in number_checks(value, column, what))]


def _coordinates(raw: ir.Table, r: dict[str, str], name: dict[str, str]
                 ) -> tuple[ir.FloatingValue, ir.FloatingValue, list[tuple[ir.BooleanValue, str]]]:
    """Latitude, longitude and the checks that quarantine rows without them."""
    lat, lat_checks = _coordinate(raw[r["lat"]], name["lat"], "latitude", "NS")
    lon, lon_checks = _coordinate(raw[r["lon"]], name["lon"], "longitude", "EW")
    return lat, lon, [*lat_checks, *lon_checks]


def _timestamp(value: ir.Value, read: ReadOptions, path: Path, spark: bool) -> ir.TimestampValue:
    """Parse a ping time: text by its layout, typed as is, numbers as seconds since 1970.

    A NaN, infinite or huge number is no time (NULL), as for every number segwise reads.
    """
    if value.type().is_numeric():
        # Any number: a device clock reset to 0 is 1970, which the clock rule counts.
        return epoch_timestamp(as_float(value), bounded=False)
    return parse_timestamp(value, read, path, spark)


def parse_pings(raw: ir.Table, roles: ColumnRoles, read: ReadOptions, path: Path) -> ir.Table:
    """Typed ping columns plus ``_reason`` (why the row cannot be used, else NULL)."""
    spark = is_spark(raw._find_backend())
    r = {role: SOURCE_PREFIX + col for role, col in roles.items()}
    name = dict(roles.items())
    ts = _timestamp(raw[r["timestamp"]], read, path, spark)
    lat, lon, coordinate_checks = _coordinates(raw, r, name)
    accuracy = as_float(raw[r["accuracy"]]) if "accuracy" in r else ibis.null("float64")
    # A missing accuracy is unknown; one that is present must be a number.
    accuracy_checks = [(~is_blank(raw[r["accuracy"]]) & check, why) for check, why in
                       number_checks(raw[r["accuracy"]], name["accuracy"], "accuracy")
                       ] if "accuracy" in r else []
    reason = ibis.cases(
        (is_blank(raw[r["user_id"]]), f"{name['user_id']}: empty user"),
        *id_checks(raw[r["user_id"]], name["user_id"]),
        *timestamp_checks(raw[r["timestamp"]], ts, name["timestamp"]),
        *coordinate_checks,
        *accuracy_checks,
        else_=ibis.null("string"),
    )
    return with_reason(raw, {
        "user_id": as_id(raw[r["user_id"]]),
        "timestamp": ts,
        "lat": lat,
        "lon": lon,
        "accuracy": accuracy,
        "category": as_text(raw[r["category"]]) if "category" in r else ibis.null("string"),
    }, reason)


def parse_pois(raw: ir.Table, roles: ColumnRoles, read: ReadOptions, path: Path) -> ir.Table:
    """Typed point-of-interest columns plus ``_reason``."""
    r = {role: SOURCE_PREFIX + col for role, col in roles.items()}
    name = dict(roles.items())
    lat, lon, coordinate_checks = _coordinates(raw, r, name)
    reason = ibis.cases(
        (is_blank(raw[r["category"]]), f"{name['category']}: empty category"),
        *coordinate_checks,
        (lat.abs() > 90, f"{name['lat']}: latitude outside -90..90"),
        (lon.abs() > 180, f"{name['lon']}: longitude outside -180..180"),
        else_=ibis.null("string"),
    )
    return with_reason(raw, {
        "name": as_text(raw[r["name"]]) if "name" in r else ibis.null("string"),
        "category": as_text(raw[r["category"]]),
        "lat": lat,
        "lon": lon,
    }, reason)


_LAT = Role("lat", ("lat", "latitude", "y", "gpslat", "locationlatitude"), required=True,
            description="latitude in degrees (WGS84)")
_LON = Role("lon", ("lon", "lng", "long", "longitude", "x", "gpslon", "locationlongitude"),
            required=True, description="longitude in degrees (WGS84)")

#: Location pings: one located observation of a user per row.
PINGS = register_kind(SourceKind(
    name="pings",
    rows="pings",
    roles=(
        Role("user_id", ("userid", "user", "subscriber", "subscriberid", "msisdn", "imsi",
                         "deviceid", "device", "uid", "label", "customerid"), required=True,
             description="who the ping belongs to"),
        Role("timestamp", ("timestamp", "time", "datetime", "ts", "eventtime", "date",
                           "utctime", "localtime", "utctimestamp"), required=True,
             description="when the ping was recorded"),
        _LAT,
        _LON,
        Role("accuracy", ("accuracy", "accuracym", "horizontalaccuracy", "hdop", "precision"),
             description="horizontal accuracy in metres (larger is worse)"),
        Role("category", ("category", "venuecategory", "poicategory", "venuetype"),
             description="venue category of a check-in"),
    ),
    columns={"user_id": "string", "timestamp": "timestamp", "lat": "float64",
             "lon": "float64", "accuracy": "float64", "category": "string"},
    parse=parse_pings,
))

#: Points of interest: a named place of a category.
POIS = register_kind(SourceKind(
    name="pois",
    rows="points of interest",
    roles=(
        Role("name", ("name", "poiname", "venue", "venuename", "title")),
        Role("category", ("category", "type", "poitype", "amenity", "class", "kind"),
             required=True, description="what kind of place it is"),
        _LAT,
        _LON,
    ),
    columns={"name": "string", "category": "string", "lat": "float64", "lon": "float64"},
    parse=parse_pois,
    timestamp_role=None,
))
