"""Mobility features per user from location pings: places, settlements, rhythm, interests.

The pings of each block of users are fetched sorted by user and time (DuckDB), or handed
to groups of users hashed together (Spark ``applyInPandas``); both run the same block
function (:func:`segwise.features._stays.process_block`): sequence rules, week-time heatmap
counts, stay points and DBSCAN (haversine) of the stays into stable locations. Everything
after that works on the small per-stay and per-location tables: home and work, parts of
the day, settlement levels, dense areas, the week-time SOM, interests and their
components. Coordinates leave as coarse cells (:mod:`segwise.features._places`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
import warnings
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from segwise._engine import fetch_numpy, numpy_to_arrow
from segwise._settings import register_section
from segwise.exceptions import ConfigError, SegwiseWarning, setting_named
from segwise.features._entity import EntityTable, Feature, FeatureSet, register_feature_set
from segwise.features._rhythm import heat_columns

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import ibis.expr.types as ir
    import pandas as pd
    import pyarrow as pa

    from segwise.clean import CleanedPings
    from segwise.config import SegwiseConfig
    from segwise.features._stays import Block, BlockResult
    from segwise.io import ReadOptions

__all__ = ["INTEREST_COMPONENTS", "MOBILITY", "MOBILITY_INTERESTS", "MobilitySettings",
           "mobility_entities"]

#: Interest components kept as features.
INTEREST_COMPONENTS = 3


@dataclass(frozen=True)
class MobilitySettings:
    """Mobility settings, the ``[mobility]`` section of a config file.

    Parameters
    ----------
    timezone : str, default=""
        IANA zone (``"Asia/Shanghai"``) when the timestamps are UTC (times written with
        a UTC offset or ``Z`` are read as UTC); empty when they are local time already.
        Nights, working hours and weekends are local.
    stay_distance_m, stay_minutes : float, default=200, 20
        A stay: pings within this distance of its first ping for at least this long.
    max_gap_hours : float, default=24
        A longer silence between two pings ends a stay.
    stays : {"auto", "points", "checkins"}, default="auto"
        ``checkins``: every ping is a visit of ``checkin_minutes`` (sparse check-ins);
        ``auto``: check-ins when the source has venue categories.
    checkin_minutes : float, default=60
    location_eps_m : float, default=150
        DBSCAN radius of a stable location.
    location_min_visits : int, default=2
        Stays a stable location needs (DBSCAN's ``min_samples``); a stay of several whole
        days counts one a day.
    parts_of_day : tuple of int, default=(0, 6, 12, 18)
        Start hours of night, morning, afternoon and evening.
    night_hours, work_hours : tuple of int, default=(22, 6), (9, 17)
        Nights (every day) and working hours (Monday to Friday), local time.
    home_min_night_share : float, default=0.2
        Home is where most night hours are spent, and at least this share of them.
    work_min_share, work_min_days : float, int, default=0.2, 2
        Work is where most working hours are spent elsewhere than home, at least this
        share on at least this many days.
    privacy : {"grid", "h3", "none"}, default="grid"
        How coordinates leave segwise: grid cells of ``cell_m`` metres, H3 cells of
        ``h3_resolution`` (needs ``pip install segwise[h3]``), or exact (personal data).
    cell_m : float, default=500
    h3_resolution : int, default=8
    min_cell_users : int, default=5
        The report draws no cell with fewer users' homes than this.
    gazetteer_min_population : {500, 1000, 5000, 15000}, default=1000
    city_population, town_population : int, default=100000, 10000
    place_radius_km : float, default=0.1
        A place covers ``place_radius_km x population^(1/3)`` kilometres.
    settlement_cell_m : float, default=1000
    settlement_min_users : int, default=10
        Dense areas: cells of ``settlement_cell_m``, core cells with this many users
        around them.
    pois : str, default=""
        A table of points of interest (name, category, lat, lon) for interests.
    pois_columns : dict of str to str, default={}
        Their columns by role (``{category = "amenity", lat = "y"}``), as ``[columns]``
        maps the pings'.
    pois_read : dict, default={}
        How to read them, with the keys of ``[read]`` (``{delimiter = ";", decimal =
        ","}``); ``[read]`` itself is for the pings.
    poi_radius_m : float, default=100
        A stay visits the nearest point of interest within this distance.
    som_shape : tuple of int, default=(6, 6)
    rhythm_groups : int, default=5
        Named groups of the SOM's nodes.
    interest_groups : int, default=0
        Interest clusters (0: chosen by silhouette among 3 to 8).
    block_pings : int, default=4000000
        Pings fetched and processed at once (memory: about 60 bytes each).
    n_jobs : int, default=-1
        Blocks processed in parallel (threads; -1: one per core). The compiled loops and
        the ball-tree queries release the interpreter lock.
    """

    timezone: str = ""
    stay_distance_m: float = 200.0
    stay_minutes: float = 20.0
    max_gap_hours: float = 24.0
    stays: str = "auto"
    checkin_minutes: float = 60.0
    location_eps_m: float = 150.0
    location_min_visits: int = 2
    parts_of_day: tuple[int, ...] = (0, 6, 12, 18)
    night_hours: tuple[int, ...] = (22, 6)
    work_hours: tuple[int, ...] = (9, 17)
    home_min_night_share: float = 0.2
    work_min_share: float = 0.2
    work_min_days: int = 2
    privacy: str = "grid"
    cell_m: float = 500.0
    h3_resolution: int = 8
    min_cell_users: int = 5
    gazetteer_min_population: int = 1000
    city_population: int = 100_000
    town_population: int = 10_000
    place_radius_km: float = 0.1
    settlement_cell_m: float = 1000.0
    settlement_min_users: int = 10
    pois: str = ""
    pois_columns: dict[str, str] = field(default_factory=dict)
    pois_read: dict[str, Any] = field(default_factory=dict)
    poi_radius_m: float = 100.0
    som_shape: tuple[int, ...] = (6, 6)
    rhythm_groups: int = 5
    interest_groups: int = 0
    block_pings: int = 4_000_000
    n_jobs: int = -1

    def __post_init__(self) -> None:
        self._check_ranges()
        if self.stays not in ("auto", "points", "checkins"):
            raise ConfigError(f"{setting_named('mobility', 'stays', self.stays)}: choose auto, "
                              "points or checkins")
        if self.privacy not in ("grid", "h3", "none"):
            raise ConfigError(f"{setting_named('mobility', 'privacy', self.privacy)}: choose "
                              "grid, h3 or none")
        if len(self.parts_of_day) != 4 or list(self.parts_of_day) != sorted(self.parts_of_day):
            raise ConfigError(f"{setting_named('mobility', 'parts_of_day', self.parts_of_day)}: "
                              "four increasing start hours, e.g. [0, 6, 12, 18]")
        for name in ("night_hours", "work_hours", "som_shape"):
            if len(getattr(self, name)) != 2:
                raise ConfigError(f"{setting_named('mobility', name, getattr(self, name))}: two "
                                  "numbers, e.g. [22, 6]")
        if self.pois_read:
            self.pois_read_options()  # a wrong key or type stops here, before the pings
        if self.timezone:
            import zoneinfo

            try:
                zoneinfo.ZoneInfo(self.timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
                raise ConfigError(f"{setting_named('mobility', 'timezone', self.timezone)}: "
                                  "not an IANA time zone. Fix: timezone = "
                                  f"{_zone_like(self.timezone)}") from exc

    def _check_ranges(self) -> None:
        """Refuse numbers outside their range (a zero cell size, a 30th hour, ...)."""
        from segwise.features._places import _TABLES

        def bad(name: str, value: Any, rule: str) -> ConfigError:
            return ConfigError(f"{setting_named('mobility', name, value)}: must be {rule}")

        for name in ("stay_distance_m", "stay_minutes", "max_gap_hours", "checkin_minutes",
                     "location_eps_m", "cell_m", "settlement_cell_m", "place_radius_km",
                     "poi_radius_m"):
            if not getattr(self, name) > 0:
                raise bad(name, getattr(self, name), "above 0")
        for name in ("location_min_visits", "work_min_days", "min_cell_users",
                     "settlement_min_users", "block_pings", "rhythm_groups",
                     "city_population", "town_population"):
            if getattr(self, name) < 1:
                raise bad(name, getattr(self, name), "at least 1")
        for name in ("home_min_night_share", "work_min_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise bad(name, getattr(self, name), "a share from 0 to 1")
        checks = (("parts_of_day", 0, 23, "hours from 0 to 23"),
                  ("night_hours", 0, 24, "hours from 0 to 24"),
                  ("work_hours", 0, 24, "hours from 0 to 24"),
                  ("som_shape", 1, 100, "numbers of nodes from 1 to 100"),
                  ("h3_resolution", 0, 15, "from 0 to 15"),
                  ("interest_groups", 0, 100, "from 0 (chosen) to 100"))
        for name, low, high, rule in checks:
            value = getattr(self, name)
            if not all(low <= v <= high for v in (value if isinstance(value, tuple)
                                                   else (value,))):
                raise bad(name, list(value) if isinstance(value, tuple) else value, rule)
        if self.gazetteer_min_population not in _TABLES:
            raise bad("gazetteer_min_population", self.gazetteer_min_population,
                      f"one of {', '.join(map(str, _TABLES))}")
        if self.n_jobs == 0:
            raise bad("n_jobs", 0, "a number of threads, or -1 for one per core")

    def pois_read_options(self) -> ReadOptions:
        """Return ``pois_read`` as reader settings, checked as ``[read]`` is."""
        from segwise._settings import build_section
        from segwise.io import ReadOptions

        return cast("ReadOptions", build_section(ReadOptions, self.pois_read,
                                                 "mobility.pois_read"))


register_section("mobility", MobilitySettings)

_MOBILITY_FEATURES = (
    Feature("pings", "integer", "pings", "pings kept"),
    Feature("active_days", "integer", "days", "days with at least one ping"),
    Feature("stays", "integer", "stays", "stays of at least the stay duration"),
    Feature("stable_locations", "integer", "places", "places visited repeatedly",
            cluster=True),
    Feature("radius_km", "number", "km", "radius of gyration of the stays, weighted by "
                                         "time", cluster=True),
    Feature("commute_km", "number", "km", "distance from home to work (0 without both)",
            cluster=True),
    Feature("home_share", "number", "share", "share of stay time at home", cluster=True),
    Feature("night_share", "number", "share", "share of pings at night", cluster=True),
    Feature("weekend_share", "number", "share", "share of pings at weekends", cluster=True),
    Feature("office_share", "number", "share", "share of pings on weekday mornings and "
                                               "afternoons", cluster=True),
    Feature("home_found", "boolean"),
    Feature("work_found", "boolean"),
    Feature("works_at_home", "boolean", description="home is also where the working hours "
                                                    "are spent"),
    Feature("home_cell", "text", description="coarse cell of home"),
    Feature("work_cell", "text", description="coarse cell of work"),
    Feature("home_settlement", "text", description="settlement level of home"),
    Feature("work_settlement", "text", description="settlement level of work"),
    Feature("home_area_users", "integer", "users", "users with stays in home's dense area"),
    *(Feature(f"{p}_place", "text", description=f"where the user mostly is in the {p}")
      for p in ("night", "morning", "afternoon", "evening")),
    *(Feature(c, "number", "share") for c in heat_columns()),
    Feature("rhythm", "text", description="named group of similar week-time heatmaps"),
)

#: Per-user mobility features (without points of interest).
MOBILITY = register_feature_set(FeatureSet(
    name="mobility", kind="pings", entity="user", id_col="user_id",
    features=_MOBILITY_FEATURES,
    summary=("radius_km", "commute_km", "home_share", "night_share", "weekend_share"),
))
#: Per-user mobility features with interests from points of interest or check-ins.
MOBILITY_INTERESTS = register_feature_set(FeatureSet(
    name="mobility_interests", kind="pings", entity="user", id_col="user_id",
    features=(*_MOBILITY_FEATURES,
              Feature("poi_visits", "integer", "visits", "visits matched to a category"),
              *(Feature(f"interest_pc{i + 1}", "number", "", f"interest component {i + 1}",
                        cluster=True) for i in range(INTEREST_COMPONENTS)),
              Feature("interests", "text", description="named group of similar interests")),
    summary=("radius_km", "commute_km", "home_share", "night_share", "weekend_share"),
))


@dataclass
class MobilityArtifacts:
    """What the features step learned besides the entity table (for writers and report)."""

    locations: pa.Table
    areas: dict[str, np.ndarray]
    rhythm: dict[str, Any]
    interests: Any = None
    interest_names: dict[int, str] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    users_without_stays: int = 0


# ---------------------------------------------------------------- blocks


def _zone_like(name: str) -> str:
    """Return the IANA zone closest to a misspelt ``name``, as TOML (``"Europe/Berlin"``).

    Case and spaces are forgiven (``europe/berlin``, ``New York``), then the spelling;
    without a close one, an example of the form.
    """
    import difflib
    import zoneinfo

    offset = re.fullmatch(r"\s*(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?00)?\s*", name, re.I)
    if offset and int(offset[2]) <= (14 if offset[1] == "+" else 12):
        # IANA's fixed offsets are named with the sign the other way: UTC+8 is Etc/GMT-8.
        flipped = f"Etc/GMT{'-' if offset[1] == '+' else '+'}{int(offset[2])}"
        return (f'"{flipped}" (IANA names UTC{offset[1]}{int(offset[2])} with the sign the '
                'other way; it has no summer time: the place\'s zone, such as '
                '"Europe/Berlin", has)')
    zones = sorted(zoneinfo.available_timezones())
    key = {z.casefold(): z for z in zones}
    typed = name.strip().replace(" ", "_").casefold()
    exact = key.get(typed) or next((z for z in zones if z.casefold().endswith("/" + typed)),
                                   None)
    close = [exact] if exact else [key[k] for k in difflib.get_close_matches(
        typed, list(key), n=1, cutoff=0.75)]
    return f'"{close[0]}"' if close else '"Europe/Berlin" (Region/City, as IANA names it)'


def _local(ts: np.ndarray, timezone: str) -> np.ndarray:
    """UTC seconds to local seconds in ``timezone`` (unchanged when empty)."""
    if not timezone or not len(ts):
        return ts
    import pandas as pd

    local = pd.to_datetime(ts, unit="s", utc=True).tz_convert(timezone).tz_localize(None)
    return np.asarray(local.asi8 // 10**9, np.int64)


def _checkins(cleaned: CleanedPings, settings: MobilitySettings) -> bool:
    has_category = "category" in cleaned.source.roles
    return settings.stays == "checkins" or (settings.stays == "auto" and has_category)


def _duckdb_blocks(cleaned: CleanedPings, settings: MobilitySettings
                   ) -> Iterator[tuple[int, Block]]:
    """Fetch the kept pings block by block, each sorted by user and time.

    The source is read twice in all: once to count each user's pings (which fixes the
    blocks), once for one query that numbers the users, sorts every ping by user and
    time and streams the rows in Arrow batches, cut into blocks at user boundaries. A
    query per block would read and parse the whole source once per block (25 times for
    100 M pings in blocks of 4 M). The engine sorts on one integer (user number and
    seconds since the first ping, packed), twice as fast as on user, time and position;
    the rare pings of one user at one instant are then put in order of position,
    accuracy and category here (:func:`~segwise.features._stays.order_ties`), so blocks
    are exactly as a sort on all of them gives. Yields the number of the block's first
    user (users are numbered in id order) and the block; one block at a time is held
    here, the sort itself spills to disk past DuckDB's memory limit.
    """
    import pyarrow as pa

    from segwise._engine import _duckdb_relation, arrow_to_numpy
    from segwise.features._stays import Block, order_ties

    kept = cleaned.kept
    backend = kept._find_backend()
    backend.con.execute("SET enable_progress_bar = false")
    epoch = kept.timestamp.epoch_seconds().cast("int64")
    users = fetch_numpy(kept.group_by("user_id").aggregate(
        n=kept.count(), first=epoch.min(), last=epoch.max()).order_by("user_id"))
    n = users["n"].astype(np.int64)
    if not len(n):
        return
    block_of = np.cumsum(n) // max(settings.block_pings, 1)
    has_category = "category" in cleaned.source.roles
    has_accuracy = "accuracy" in cleaned.source.roles
    name = f"users_{id(cleaned):x}"
    backend.con.register(name, pa.table({
        "user_id": pa.array(users["user_id"].astype(str), pa.string()),
        "_uidx": np.arange(len(n), dtype=np.int64)}))
    with contextlib.ExitStack() as stack:
        # Last in, first out: the stream closes before its user table goes.
        stack.callback(backend.con.unregister, name)
        index = backend.table(name)
        j = kept.join(index, "user_id")
        ts = j.timestamp.epoch_seconds().cast("int64")
        cols = {"ts": ts, "lat": j.lat, "lon": j.lon}
        if has_accuracy:
            cols["accuracy"] = j.accuracy
        if has_category:
            cols["category"] = j.category
        t0 = int(users["first"].min())
        bits = (int(users["last"].max()) - t0).bit_length()
        # One BIGINT key while user numbers and seconds fit in 62 bits together. The user
        # number is not fetched: the counts say where each user's pings begin.
        order = ([j._uidx * (1 << bits) + (ts - t0)]
                 if len(n).bit_length() + bits <= 62 else [j._uidx, ts])
        # _duckdb_relation is None off DuckDB only; these are DuckDB's pings.
        reader = cast("Any", _duckdb_relation(j.order_by(order).select(**cols))
                      ).to_arrow_reader(1 << 17)
        stack.callback(reader.close)
        pending: list[pa.RecordBatch] = []
        held = 0
        first_user = np.r_[0, np.flatnonzero(np.diff(block_of)) + 1]
        last_user = np.r_[first_user[1:], len(n)]
        for a, b in zip(first_user, last_user, strict=True):
            rows = int(n[a:b].sum())
            while held < rows:
                batch = reader.read_next_batch()
                pending.append(batch)
                held += batch.num_rows
            chunk = pa.Table.from_batches(pending)
            got = arrow_to_numpy(chunk.slice(0, rows))
            rest = chunk.slice(rows).combine_chunks()
            del chunk
            pending, held = rest.to_batches(), rest.num_rows
            block = Block(
                users["user_id"][a:b].astype(object),
                np.r_[0, np.cumsum(n[a:b])].astype(np.int64),
                np.asarray(got["ts"], np.int64), np.asarray(got["lat"], np.float64),
                np.asarray(got["lon"], np.float64),
                np.asarray(got["accuracy"], np.float64) if has_accuracy
                else np.full(rows, np.nan),
                got["category"] if has_category else None)
            del got
            o = order_ties(np.repeat(np.arange(b - a), n[a:b]), block.ts, block.lat,
                           block.lon, block.accuracy, block.category)
            moved = np.flatnonzero(o != np.arange(rows))
            for values in (block.ts, block.lat, block.lon, block.accuracy, block.category):
                if values is not None:
                    values[moved] = values[o[moved]]
            block.ts = _local(block.ts, settings.timezone)
            yield int(a), block


def _process_duckdb(cleaned: CleanedPings, settings: MobilitySettings,
                    checkins: bool) -> list[BlockResult]:
    from segwise.features._stays import process_block

    blocks = _duckdb_blocks(cleaned, settings)
    work = partial(process_block, rules=cleaned.rules, settings=settings, checkins=checkins)
    if settings.n_jobs == 1:
        return [work(block, offset=offset) for offset, block in blocks]
    from joblib import Parallel, delayed

    # Threads: the compiled loops and the ball tree release the GIL; blocks are fetched
    # as workers free up, so at most a few are in memory.
    return list(Parallel(n_jobs=settings.n_jobs, prefer="threads", pre_dispatch="n_jobs")(
        delayed(work)(block, offset=offset) for offset, block in blocks))


#: What the Spark job returns per group of users: a row per user with kept pings (``u``),
#: per stay (``s``) and per user and category (``c``), and one row of the sequence rules'
#: counts (``f``).
_SPARK_SCHEMA = ("kind string, user_id string, a long, b long, c long, d long, lat double, "
                 "lon double, heat array<long>, flags array<long>, category string")


def _spark_block(frame: pd.DataFrame, rules: Any, settings: MobilitySettings,
                 checkins: bool) -> pd.DataFrame:
    """One group of users' pings (Spark ``applyInPandas``) through the block function.

    Users are grouped by a hash of their id into groups of about ``block_pings`` pings,
    so that Python is called once per group, as on DuckDB once per block, not once per
    user; every result is a user's own (stays, and DBSCAN of them, never mix users).
    """
    import pandas as pd

    from segwise.clean._pings import SEQUENCE_CODES
    from segwise.features._stays import Block, process_block

    ts = _local(frame["ts"].to_numpy(np.int64), settings.timezone)
    block = Block.from_columns(
        frame["user_id"].to_numpy(object), ts, frame["lat"].to_numpy(np.float64),
        frame["lon"].to_numpy(np.float64),
        frame["accuracy"].to_numpy(np.float64) if "accuracy" in frame else None,
        frame["category"].to_numpy(object) if "category" in frame else None)
    r = process_block(block, rules, settings, checkins)
    u, s, c = r.users, r.stays, r.categories

    def part(kind: str, user: np.ndarray, **cols: Any) -> pd.DataFrame:
        longs = {k: pd.array(cols.pop(k), dtype="Int64") for k in "abcd" if k in cols}
        return pd.DataFrame({"kind": kind, "user_id": block.users[user], **longs, **cols})

    parts = [
        part("u", u["user"], a=u["pings"], b=u["first"], c=u["last"], d=u["active_days"],
             heat=list(u["heat"])),
        part("s", s["user"], a=s["start"], b=s["end"], c=s["pings"], d=s["location"],
             lat=s["lat"], lon=s["lon"]),
        pd.DataFrame({"kind": ["f"], "flags": [[r.flags[k] for k in SEQUENCE_CODES]]}),
    ]
    if c:
        parts.append(part("c", c["user"], a=c["n"], category=c["category"]))
    out = pd.concat(parts, ignore_index=True).reindex(columns=[
        "kind", "user_id", "a", "b", "c", "d", "lat", "lon", "heat", "flags", "category"])
    for col in ("heat", "flags", "category"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def _process_spark(cleaned: CleanedPings, settings: MobilitySettings,
                   checkins: bool) -> list[BlockResult]:
    """Run groups of users' pings through the block function on Spark; one result."""
    from pyspark.sql import functions as F

    from segwise.clean._pings import SEQUENCE_CODES
    from segwise.features._stays import BlockResult

    kept = cleaned.kept
    cols = {"user_id": kept.user_id, "ts": kept.timestamp.epoch_seconds().cast("int64"),
            "lat": kept.lat, "lon": kept.lon}
    if "accuracy" in cleaned.source.roles:
        cols["accuracy"] = kept.accuracy
    if "category" in cleaned.source.roles:
        cols["category"] = kept.category
    expr = kept.select(**cols)
    backend = expr._find_backend()
    session = backend._session
    frame = session.sql(backend.compile(expr))
    # Groups of about block_pings pings, and at least one per core for the workers.
    groups = max(-(-cleaned.n_kept_rows // max(settings.block_pings, 1)),
                 session.sparkContext.defaultParallelism, 1)
    work = partial(_spark_block, rules=cleaned.rules, settings=settings, checkins=checkins)
    out = (frame.groupBy(F.pmod(F.xxhash64("user_id"), F.lit(groups)))
           .applyInPandas(work, schema=_SPARK_SCHEMA).toPandas())
    flags = np.array(out.loc[out["kind"] == "f", "flags"].tolist(), dtype=np.int64).reshape(
        -1, len(SEQUENCE_CODES)).sum(axis=0)
    out = out[out["kind"] != "f"].sort_values(["user_id", "kind", "a", "b"], kind="stable")
    u, s, c = (out[out["kind"] == k] for k in ("u", "s", "c"))
    ids = np.unique(out["user_id"].to_numpy(str))
    number = partial(np.searchsorted, ids)
    users = {"user": number(u["user_id"].to_numpy(str)), "user_id": u["user_id"].to_numpy(object),
             "pings": u["a"].to_numpy(np.int64),
             "first": u["b"].to_numpy(np.int64), "last": u["c"].to_numpy(np.int64),
             "active_days": u["d"].to_numpy(np.int64),
             "heat": np.array(u["heat"].tolist(), dtype=np.int64).reshape(len(u), 28)}
    stays = {"user": number(s["user_id"].to_numpy(str)), "start": s["a"].to_numpy(np.int64),
             "end": s["b"].to_numpy(np.int64), "lat": s["lat"].to_numpy(np.float64),
             "lon": s["lon"].to_numpy(np.float64), "pings": s["c"].to_numpy(np.int64),
             "location": s["d"].to_numpy(np.int64)}
    categories = ({"user": number(c["user_id"].to_numpy(str)),
                   "category": c["category"].to_numpy(object), "n": c["a"].to_numpy(np.int64)}
                  if len(c) else {})
    return [BlockResult(users, stays, dict(zip(SEQUENCE_CODES, flags.tolist(), strict=True)),
                        categories)]


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    parts = [p for p in parts if p]
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# ---------------------------------------------------------------- entities


def mobility_entities(cleaned: CleanedPings, config: SegwiseConfig,
                      as_of: dt.date | None = None) -> EntityTable:
    """Per-user mobility features: the pings job's features step.

    Parameters
    ----------
    cleaned : CleanedPings
        Pings after the row rules (:func:`segwise.clean.clean_pings`).
    config : SegwiseConfig
        ``[mobility]`` and ``[pings]`` settings.
    as_of : date, optional
        The last day of pings used; named in the fix when every ping is dated after it
        (pings have no recency).

    Returns
    -------
    EntityTable
        One row per user with at least ``min_pings`` kept pings, with the audit of every
        rule; stable locations, dense areas, the week-time SOM and interests are in
        ``cleaned.derived`` (a :class:`MobilityArtifacts`).
    """
    from segwise.features import _places, _stays
    from segwise.io._parse import is_spark

    settings: MobilitySettings = config.section("mobility")
    checkins = _checkins(cleaned, settings)
    _check_orientation(cleaned, settings)
    # Before the long part: a bad file of points of interest stops the run at once.
    pois = _load_pois(settings) if settings.pois else None
    engine_spark = is_spark(cleaned.kept._find_backend())
    results = (_process_spark if engine_spark else _process_duckdb)(cleaned, settings, checkins)
    users = _concat([r.users for r in results])
    stays = _concat([r.stays for r in results])
    flags = {k: sum(r.flags[k] for r in results) for k in results[0].flags} if results else {}
    if not len(users.get("user_id", ())):
        from segwise.features.rfm import no_entity_left

        raise no_entity_left(
            cleaned.source.source, cleaned.audit_table(flags), entity="user", section=None,
            as_of=as_of if cleaned.source.n_after_as_of else None, check="pings")
    order = np.argsort(users["user"], kind="stable")
    users = {k: v[order] for k, v in users.items()}
    ids = users["user_id"].astype(str)
    n = len(ids)
    # Rows of the entity table by user number (users without kept pings have none).
    row_of = np.full(int(users["user"].max()) + 1, -1, np.int64)
    row_of[users["user"]] = np.arange(n)
    stays = {**stays, "user": row_of[stays["user"]]}
    stay_user = stays["user"]
    locations = _stays.location_table(stays, settings)
    loc_user = locations["user"]
    locations["user_id"] = ids[loc_user].astype(object)

    level, place = _places.settlement_levels(locations["lat"], locations["lon"], settings)
    _warn_swapped(ids[_places.swapped_users(loc_user, locations["lat"], locations["lon"],
                                            settings)], cleaned)
    locations["settlement"] = level
    locations["place"] = place
    areas = _places.density_settlements(stay_user, stays["lat"], stays["lon"], settings)
    loc_keys, _, _ = _places.grid_keys(locations["lat"], locations["lon"],
                                       settings.settlement_cell_m)
    pos = np.clip(np.searchsorted(areas["key"], loc_keys), 0, max(len(areas["key"]) - 1, 0))
    found = (areas["key"][pos] == loc_keys) if len(areas["key"]) else np.zeros(len(pos), bool)
    locations["area_users"] = (np.where(found, areas["area_users"][pos], 0)
                               if len(areas["key"]) else np.zeros(len(pos), np.int64))
    cell, cell_lat, cell_lon = _places.coarsen(locations["lat"], locations["lon"], settings)

    cols: dict[str, np.ndarray] = {"user_id": ids.astype(object)}
    cols["pings"] = users["pings"].astype(np.int64)
    cols["active_days"] = users["active_days"].astype(np.int64)
    cols["stays"] = np.bincount(stay_user, minlength=n).astype(np.int64)
    cols["stable_locations"] = np.bincount(loc_user, minlength=n).astype(np.int64)
    cols["radius_km"] = _radius_km(stay_user, stays, n)

    def pick(label: str, values: np.ndarray, empty: Any) -> np.ndarray:
        out = np.full(n, empty, dtype=values.dtype if empty is not None else object)
        rows = np.flatnonzero(np.isin(locations["label"], [label, "home+work"]))
        out[loc_user[rows]] = values[rows]
        return out

    home_lat = pick("home", locations["lat"], np.nan)
    home_lon = pick("home", locations["lon"], np.nan)
    work_lat = pick("work", locations["lat"], np.nan)
    work_lon = pick("work", locations["lon"], np.nan)
    commute = _stays.distance_km(home_lat, home_lon, work_lat, work_lon)
    cols["commute_km"] = np.nan_to_num(commute, nan=0.0)
    dwell = np.bincount(stay_user, (stays["end"] - stays["start"]) / 3600.0, minlength=n)
    home_dwell = pick("home", locations["dwell_h"], 0.0)
    cols["works_at_home"] = np.zeros(n, bool)
    cols["works_at_home"][loc_user[locations["label"] == "home+work"]] = True
    cols["home_share"] = np.divide(home_dwell, dwell, out=np.zeros(n), where=dwell > 0)
    heat = users["heat"].astype(np.float64)
    shares = heat / np.maximum(heat.sum(axis=1, keepdims=True), 1)
    _check_clock(shares, settings, cleaned.source.source)
    cols["night_share"] = shares[:, 0::4].sum(axis=1)
    cols["weekend_share"] = shares[:, 20:].sum(axis=1)
    weekday_day = [d * 4 + p for d in range(5) for p in (1, 2)]
    cols["office_share"] = shares[:, weekday_day].sum(axis=1)
    cols["home_found"] = ~np.isnan(home_lat)
    cols["work_found"] = ~np.isnan(work_lat)
    cols["home_cell"] = pick("home", cell, None)
    cols["work_cell"] = pick("work", cell, None)
    cols["home_settlement"] = pick("home", level, None)
    cols["work_settlement"] = pick("work", level, None)
    cols["home_area_users"] = pick("home", locations["area_users"].astype(np.int64), 0)
    for part in _stays.PARTS:
        cols[f"{part}_place"] = _part_place(locations, loc_user, part, n)
    for j, name in enumerate(heat_columns()):
        cols[name] = shares[:, j]
    rhythm = _rhythm_som(shares, settings, config)
    cols["rhythm"] = rhythm["names"][rhythm["group"]].astype(object) if n else \
        np.zeros(0, object)

    categories = _concat([r.categories for r in results])
    if categories:
        categories = {**categories, "user": row_of[categories["user"]]}
    interests: Any = None
    names: dict[int, str] = {}
    schema = MOBILITY
    if (checkins and categories) or settings.pois:
        interests, names, icols = _interests(categories, stays, locations, ids, settings,
                                             pois)
        cols.update(icols)
        schema = MOBILITY_INTERESTS
    table = numpy_to_arrow(cols)
    loc_out = numpy_to_arrow({
        "user_id": locations["user_id"], "location": locations["location"],
        "label": locations["label"], "cell": cell, "cell_lat": cell_lat, "cell_lon": cell_lon,
        "visits": locations["visits"], "days": locations["days"],
        "dwell_h": locations["dwell_h"],
        **{f"{w}_share": locations[f"{w}_share"]
           for w in ("night", "work", "weekend", *_stays.PARTS)},
        "settlement": level, "place": place, "area_users": locations["area_users"],
    })
    cleaned.derived = MobilityArtifacts(
        locations=loc_out, areas=areas, rhythm=rhythm, interests=interests,
        interest_names=names, flags=flags, users_without_stays=int((cols["stays"] == 0).sum()))
    audit = cleaned.audit_table(flags)
    return EntityTable(table, schema, audit_table=audit)


#: Pings the whole-file orientation test looks at.
_ORIENTATION_SAMPLE = 2000
#: A prime below 2**31 and three multipliers: products of reduced terms fit in 62 bits.
_P, _MIX = 2_147_483_647, (1_103_515_245, 48_271, 69_621)


def _orientation_sample(kept: ir.Table, n: int = _ORIENTATION_SAMPLE) -> ir.Table:
    """Return a deterministic sample of ``n`` pings spread over the whole table.

    The pings of least key, where the key is an integer hash of the time and position
    (plain 64-bit arithmetic, so DuckDB and Spark pick the same pings): every ping is as
    likely to be picked wherever it lies, so a file sorted by user gives a sample of all
    its users in proportion to their pings, not its first user or two. The engine keeps
    a top-``n`` heap; nothing is sorted.

    Parameters
    ----------
    kept : ibis.Table
        Pings with ``timestamp``, ``lat`` and ``lon`` (no NULLs).
    n : int, default=_ORIENTATION_SAMPLE

    Returns
    -------
    ibis.Table
        ``lat`` and ``lon`` of at most ``n`` pings.
    """
    terms = (kept.timestamp.epoch_seconds().cast("int64").abs(),
             ((kept.lat + 90) * 100_000).floor().cast("int64"),
             ((kept.lon + 180) * 100_000).floor().cast("int64"))
    key = sum(((t % _P) * m) % _P for t, m in zip(terms, _MIX, strict=True)) % _P
    # Ties on the key are broken by the values, so which n pings is never left to chance.
    return (kept.select("timestamp", "lat", "lon", _key=key)
            .order_by(["_key", "timestamp", "lat", "lon"]).limit(n).select("lat", "lon"))


def _check_orientation(cleaned: CleanedPings, settings: MobilitySettings) -> None:
    from segwise.features._places import check_orientation

    sample = fetch_numpy(_orientation_sample(cleaned.kept))
    roles = dict(cleaned.source.roles.items())
    check_orientation(sample["lat"].astype(np.float64), sample["lon"].astype(np.float64),
                      cleaned.source.source, settings, roles["lat"], roles["lon"])


def _warn_swapped(users: np.ndarray, cleaned: CleanedPings) -> None:
    """Warn of users whose places all look swapped (:func:`_places.swapped_users`)."""
    if not len(users):
        return
    roles = dict(cleaned.source.roles.items())
    shown = ", ".join(str(u) for u in users[:5]) + (", ..." if len(users) > 5 else "")
    warnings.warn(
        f"{cleaned.source.source}: {len(users):,} user(s) whose every stable location lies "
        f"far from any populated place and near one with latitude and longitude exchanged "
        f"({shown}): their {roles['lat']!r} and {roles['lon']!r} values look swapped. Their "
        "places, settlements and interests are wrong. Fix: correct those rows at the source",
        SegwiseWarning, stacklevel=3)


#: Users needed before their day's rhythm says anything of the clock (:func:`_check_clock`).
_CLOCK_USERS = 10
#: The quietest part of the day has under this share of the night's pings: a shifted clock.
_CLOCK_RATIO = 0.5


def _check_clock(shares: np.ndarray, settings: MobilitySettings, where: str) -> None:
    """Warn when users are least active in another part of the day than the night.

    People are quietest at night; when the times are another zone's clock than the
    place's (UTC from epoch numbers, offsets or a ``Z``, or a GMT export such as
    GeoLife's), the quiet hours fall elsewhere, and nights, working hours, homes, work
    places and rhythms follow the wrong clock. ``shares``: the users' week-time heatmap
    shares (7 days of 4 parts of the day), each user weighing the same.
    """
    if len(shares) < _CLOCK_USERS:
        return
    parts = shares.reshape(len(shares), 7, 4).sum(axis=1).mean(axis=0)
    starts = settings.parts_of_day
    # The part holding 3 o'clock (the last one when the first starts later).
    night = max((i for i, start in enumerate(starts) if start <= 3), default=3)
    quiet = int(np.argmin(parts))
    if quiet == night or parts[quiet] >= _CLOCK_RATIO * parts[night]:
        return
    def span(i: int) -> str:
        return f"{starts[i]:02d}-{starts[(i + 1) % 4]:02d} h"

    zone = (f"[mobility] timezone = {settings.timezone!r} looks wrong" if settings.timezone
            else "no [mobility] timezone is set")
    warnings.warn(
        f"{where}: users are least active {span(quiet)} ({parts[quiet]:.0%} of their "
        f"pings), and more at night, {span(night)} ({parts[night]:.0%}): the times look "
        f"like another zone's clock than the place's (UTC, say), and {zone}. Nights, working "
        "hours, homes, work places and rhythms follow that clock. Fix: set [mobility] "
        'timezone to the place\'s zone ("Asia/Shanghai", say), or convert the times to '
        "local time", SegwiseWarning, stacklevel=3)


def _radius_km(stay_user: np.ndarray, stays: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Radius of gyration of each user's stays, weighted by their duration (km)."""
    from segwise._geo import haversine_np, unwrap_lon, wrap_lon

    w = np.maximum((stays["end"] - stays["start"]).astype(np.float64), 1.0)
    total = np.bincount(stay_user, w, minlength=n)
    safe = np.maximum(total, 1e-12)
    clat = np.bincount(stay_user, w * stays["lat"], minlength=n) / safe
    clon = wrap_lon(np.bincount(stay_user, w * unwrap_lon(stays["lon"], stay_user, n),
                                minlength=n) / safe)
    d = haversine_np(stays["lat"], stays["lon"], clat[stay_user], clon[stay_user]) / 1000.0
    sq = np.bincount(stay_user, w * d**2, minlength=n) / safe
    return np.where(total > 0, np.sqrt(sq), 0.0)


def _part_place(locations: dict[str, Any], loc_user: np.ndarray, part: str, n: int
                ) -> np.ndarray:
    """Where each user spends most of a part of the day: home, work, other, or none."""
    from segwise.features._stays import _argmax_per_user

    hours = locations[f"_{part}_h"]
    best = _argmax_per_user(loc_user, hours, np.ones(len(hours), bool), n)
    out = np.full(n, "none", dtype=object)
    out[best >= 0] = locations["label"][best[best >= 0]]
    return out


def _rhythm_som(shares: np.ndarray, settings: MobilitySettings, config: SegwiseConfig
                ) -> dict[str, Any]:
    """Map the heatmaps on a self-organising map; return its U-matrix and named groups."""
    from minisom import MiniSom
    from sklearn.cluster import AgglomerativeClustering

    from segwise.features._rhythm import name_rhythms

    rows, cols = (int(v) for v in settings.som_shape)
    n = len(shares)
    if n < 2:
        return {"weights": np.tile(shares.mean(axis=0) if n else np.zeros(28), (1, 1)),
                "u_matrix": np.zeros((1, 1)), "node": np.zeros(n, np.int64),
                "node_group": np.zeros(1, np.int64), "group": np.zeros(n, np.int64),
                "names": np.array(["Steady all week"], dtype=object), "shape": (1, 1),
                "hits": np.array([n])}
    som = MiniSom(rows, cols, 28, sigma=max(1.0, max(rows, cols) / 4), learning_rate=0.5,
                  random_seed=0)
    som.pca_weights_init(shares)
    som.train(shares, min(10 * n, 20_000), random_order=True)
    weights = som.get_weights().reshape(rows * cols, 28)
    node = _nearest_nodes(shares, weights)
    hits = np.bincount(node, minlength=rows * cols)
    used = np.flatnonzero(hits)
    k = max(1, min(settings.rhythm_groups, len(used)))
    groups = (AgglomerativeClustering(k, linkage="ward").fit_predict(weights[used])
              if k >= 2 else np.zeros(len(used), np.int64))
    node_group = _nearest_nodes(weights, weights[used])
    node_group = groups[node_group]
    means = np.array([np.average(shares[np.isin(node, used[groups == g])], axis=0)
                      for g in range(k)])
    names = np.array(name_rhythms(means, shares.mean(axis=0)), dtype=object)
    return {"weights": weights, "u_matrix": som.distance_map(), "node": node,
            "node_group": node_group, "group": node_group[node], "names": names,
            "shape": (rows, cols), "hits": hits, "means": means}


def _nearest_nodes(x: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    from sklearn.metrics import pairwise_distances_argmin

    return pairwise_distances_argmin(x, nodes)


def _interests(categories: dict[str, np.ndarray], stays: dict[str, np.ndarray],
               locations: dict[str, Any], ids: np.ndarray, settings: MobilitySettings,
               pois: dict[str, np.ndarray] | None
               ) -> tuple[Any, dict[int, str], dict[str, np.ndarray]]:
    """Interest vectors, components and named groups, as entity columns."""
    from segwise.features._interests import interest_model, match_pois, name_interest_groups

    n = len(ids)
    if pois is not None:
        # Visits away from home and work: a restaurant next door is not an interest.
        away = ~_home_work_stays(stays, locations)
        hit = match_pois(stays["lat"][away], stays["lon"][away], pois["lat"], pois["lon"],
                         settings.poi_radius_m)
        ok = hit >= 0
        if away.any() and not ok.any():
            warnings.warn(
                f"{settings.pois}: none of the {int(away.sum()):,} stays away from home and "
                f"work lies within [mobility] poi_radius_m ({settings.poi_radius_m:g} m) of "
                f"any of its {len(pois['lat']):,} points of interest: every user's interests "
                "are 'No visits matched'. Fix: give points of interest of the pings' area, "
                "or raise poi_radius_m", SegwiseWarning, stacklevel=3)
        names_, code = np.unique(pois["category"].astype(str), return_inverse=True)
        k = max(len(names_), 1)
        pairs, counts = np.unique(stays["user"][away][ok] * k + code[hit[ok]],
                                  return_counts=True)
        categories = {"user": pairs // k, "category": names_[pairs % k].astype(object),
                      "n": counts}
    if not categories or not len(categories["n"]):
        model = None
    else:
        model = interest_model(ids[categories["user"]], categories["category"],
                               categories["n"], INTEREST_COMPONENTS)
    cols: dict[str, np.ndarray] = {"poi_visits": np.zeros(n, np.int64)}
    for i in range(INTEREST_COMPONENTS):
        cols[f"interest_pc{i + 1}"] = np.zeros(n)
    cols["interests"] = np.full(n, "No visits matched", dtype=object)
    names: dict[int, str] = {}
    if model is None:
        return None, names, cols
    rows = np.searchsorted(ids, model.users.astype(str))
    cols["poi_visits"][rows] = model.counts.sum(axis=1).astype(np.int64)
    for i in range(INTEREST_COMPONENTS):
        cols[f"interest_pc{i + 1}"][rows] = model.components[i]
    labels = _interest_groups(model.tfidf, settings.interest_groups)
    names = name_interest_groups(model.shares, labels, model.categories)
    cols["interests"][rows] = np.array([names[int(g)] for g in labels], dtype=object)
    for j, col in enumerate(_share_columns(model.categories, cols)):
        cols[col] = np.zeros(n)
        cols[col][rows] = model.shares[:, j]
    model.labels = labels  # type: ignore[attr-defined]
    return model, names, cols


def _share_columns(categories: list[str], taken: Iterable[str]) -> list[str]:
    """One ``interest_<category>`` column name per category, each new.

    Letters of any script are kept (``interest_café``, ``interest_公园``); categories
    whose names differ only in punctuation (``Food & Drink``, ``Food/Drink``), or that
    would take a name already used (``PC1``), get ``_2``, ``_3``.
    """
    used, out = set(taken), []
    for category in categories:
        base = "interest_" + (re.sub(r"\W+", "_", category.casefold()).strip("_")
                              or "category")
        name, i = base, 1
        while name in used:
            i += 1
            name = f"{base}_{i}"
        used.add(name)
        out.append(name)
    return out


def _interest_groups(tfidf: np.ndarray, k: int) -> np.ndarray:
    """KMeans groups of interest vectors; k by the best silhouette among 3 to 8 if 0.

    Two groups (silhouette's usual pick) would only split off the most distinct interest
    from everyone else; three is the smallest number that names several.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    # Users with the same interests are one point: more groups than points would be
    # empty ones (and scikit-learn's warning on the terminal).
    n = len(np.unique(tfidf.round(12), axis=0))
    if n < 3:
        return np.zeros(len(tfidf), np.int64)
    if k:
        return KMeans(min(k, n), n_init=4, random_state=0).fit_predict(tfidf)
    best, best_score = np.zeros(len(tfidf), np.int64), -np.inf
    sample = min(len(tfidf), 5000)
    for kk in range(3, min(8, n - 1) + 1):
        labels = KMeans(kk, n_init=4, random_state=0).fit_predict(tfidf)
        if len(np.unique(labels)) < 2:
            continue
        score = silhouette_score(tfidf, labels, sample_size=sample, random_state=0)
        if score > best_score:
            best, best_score = labels, score
    return best


def _home_work_stays(stays: dict[str, np.ndarray], locations: dict[str, Any]) -> np.ndarray:
    """Whether each stay belongs to its user's home or work location."""
    k = int(stays["location"].max(initial=0)) + 1
    labelled = locations["label"] != "other"
    hw = locations["user"][labelled] * k + locations["location"][labelled]
    return np.isin(stays["user"] * k + stays["location"], hw) & (stays["location"] >= 0)


def _load_pois(settings: MobilitySettings) -> dict[str, np.ndarray]:
    """Read the points of interest with ``pois_columns`` and ``pois_read``."""
    from segwise.exceptions import InputError, mapping_way
    from segwise.io import load_source

    path = settings.pois
    try:
        # Mapped in the config's [mobility] section, however the run was called.
        with mapping_way("config", force=True):
            source = load_source(path, "pois", columns=settings.pois_columns or None,
                                 read=settings.pois_read_options())
    except (InputError, ConfigError) as exc:
        raise type(exc)(_pois_fix(str(exc))) from exc
    if source.n_quarantined:
        reasons = source.quarantine_table.column("reason").to_pylist()
        common = _pois_fix(", ".join(dict.fromkeys(reasons[:50]).keys()))
        warnings.warn(f"{path}: {source.n_quarantined:,} of {source.n_input:,} points of "
                      f"interest cannot be used and are left out ({common})",
                      SegwiseWarning, stacklevel=2)
    got = fetch_numpy(source.table.select("category", "lat", "lon"))
    lat, lon = got["lat"].astype(np.float64), got["lon"].astype(np.float64)
    # Exchanged columns within range match no stay, and every user would silently have
    # "No visits matched": the pings' test, on points spread over the file.
    from segwise.features._places import check_orientation

    sample = np.unique(np.linspace(0, len(lat) - 1, min(len(lat), _ORIENTATION_SAMPLE)
                                   ).astype(np.int64)) if len(lat) else np.zeros(0, np.int64)
    roles = dict(source.roles.items())
    check_orientation(lat[sample], lon[sample], path, settings, roles["lat"], roles["lon"],
                      rows="points of interest", columns_key="[mobility] pois_columns")
    return {"category": got["category"], "lat": lat, "lon": lon}


def _pois_fix(message: str) -> str:
    """Point a loader's fix at the settings of the points of interest.

    The loader names ``[columns]`` and ``[read]``, which are the pings'; the points of
    interest have theirs in ``[mobility] pois_columns`` and ``pois_read``.
    """
    def columns(m: re.Match[str]) -> str:
        pairs = re.findall(r'(\w+) = ("[^"]*")', m.group(1))
        return "[mobility] pois_columns = {" + ", ".join(f"{k} = {v}" for k, v in pairs) + "}"

    message = re.sub(r'\[columns\] ((?:\w+ = "[^"]*" ?)+)', columns, message)
    message = re.sub(r'\[read\] (\w+) = ("[^"]*"|[\w.]+)', r"[mobility] pois_read = {\1 = \2}",
                     message)
    message = re.sub(r"\[read\] (\w+)", r"[mobility] pois_read.\1", message)
    message = message.replace("[columns]", "[mobility] pois_columns").replace(
        "[read]", "[mobility] pois_read")
    return message


def with_pois(config: SegwiseConfig, pois: str | None) -> SegwiseConfig:
    """Return ``config`` with ``[mobility] pois`` set (the CLI's ``--pois``)."""
    if not pois:
        return config
    settings = dataclasses.replace(config.section("mobility"), pois=str(pois))
    return dataclasses.replace(config, sections={**config.sections, "mobility": settings})
