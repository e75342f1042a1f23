"""Generate realistic synthetic location pings, at any scale, as a Parquet file written in chunks.

Subscribers of a metropolitan region (Berlin and Brandenburg, so that settlement levels
come out of the real gazetteer) live their weeks:

* a home anchor (two thirds in the city, the rest in Potsdam, towns and the countryside)
  and, for three quarters of them, a work anchor mostly in the city centre; 5 % work
  nights; two to four other places (shops, sport, friends) near home or work;
* weekdays: home at night, a commute at a speed that depends on the distance, work,
  sometimes an evening at another place, home; weekends: late mornings at home, an
  outing or two;
* pings at random times, fewer at night (as network events are), positioned where the
  person is at that moment (interpolated along commutes) with GPS noise of about 30 m;
* gaps (days with the phone off), exact duplicate pings, jumps of the positioning to a
  far point, and a few (0, 0) "null island" fixes.

The true home and work of each user are returned (and written beside the file with
``--truth``), so that tests can check what segwise finds. Everything is vectorised and
written chunk by chunk, so memory stays bounded at any scale.

Usage::

    python benchmarks/generate_pings.py --users 100_000 --pings 100_000_000 \
        --out benchmarks/data/pings_100m.parquet
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

START = np.datetime64("2024-03-04T00:00", "s")  # a Monday
DAYS = 28
M_PER_DEG = 111_320.0
GPS_NOISE_M = 30.0
GAP_DAY_SHARE = 0.04
DUPLICATE_SHARE = 0.002
JUMP_SHARE = 0.0005
NULL_ISLAND_SHARE = 0.0001
EMPLOYED = 0.75
NIGHT_WORKERS = 0.05

#: Where people live: (lat, lon, spread in km, share of homes).
SETTLEMENTS = (
    (52.520, 13.405, 7.0, 0.66),   # Berlin
    (52.400, 13.060, 2.5, 0.08),   # Potsdam
    (52.754, 13.237, 1.2, 0.04),   # Oranienburg
    (52.680, 13.590, 1.2, 0.04),   # Bernau
    (52.300, 13.630, 1.2, 0.03),   # Königs Wusterhausen
    (52.560, 13.080, 1.2, 0.05),   # Falkensee
)
RURAL = 0.10  # the rest: anywhere in the region
REGION = (52.05, 53.05, 12.60, 14.30)
#: Hourly weight of a ping (network activity is low at night).
HOUR_WEIGHT = np.array([0.25, 0.15, 0.1, 0.1, 0.1, 0.2, 0.5, 0.9, 1.1, 1.1, 1.0, 1.0,
                        1.1, 1.0, 1.0, 1.0, 1.0, 1.1, 1.2, 1.2, 1.1, 0.9, 0.7, 0.45])
_HOURS = np.arange(24)
#: Phone-use habits: (share of users, hourly weight multiplier, weekend multiplier).
HABITS = (
    (0.45, np.ones(24), 1.0),                                              # even
    (0.25, np.where((_HOURS >= 9) & (_HOURS < 17), 2.2, 0.7), 0.5),        # office hours
    (0.12, np.where((_HOURS >= 21) | (_HOURS < 3), 4.0, 0.8), 1.0),        # night owls
    (0.08, np.where((_HOURS >= 18) & (_HOURS < 23), 2.5, 0.8), 1.0),       # evenings
    (0.10, np.ones(24), 3.0),                                              # weekends
)

SCHEMA = pa.schema([
    ("subscriber", pa.string()),
    ("event_time", pa.timestamp("s")),
    ("latitude", pa.float64()),
    ("longitude", pa.float64()),
    ("accuracy_m", pa.float32()),
])


def _offset(rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray, km: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Points at a normal offset of ``km`` (standard deviation) around (lat, lon)."""
    dy = rng.normal(0, 1, len(lat)) * km * 1000 / M_PER_DEG
    dx = rng.normal(0, 1, len(lat)) * km * 1000 / (M_PER_DEG * np.cos(np.radians(lat)))
    return lat + dy, lon + dx


def anchors(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Home, work (NaN when not employed), night-shift flag and three other places."""
    shares = np.array([s[3] for s in SETTLEMENTS] + [RURAL])
    where = rng.choice(len(shares), n, p=shares / shares.sum())
    s = np.array([s[:3] for s in SETTLEMENTS])
    home_lat, home_lon = np.empty(n), np.empty(n)
    town = where < len(SETTLEMENTS)
    home_lat[town], home_lon[town] = _offset(rng, s[where[town], 0], s[where[town], 1],
                                             s[where[town], 2])
    rural = ~town
    home_lat[rural] = rng.uniform(REGION[0], REGION[1], rural.sum())
    home_lon[rural] = rng.uniform(REGION[2], REGION[3], rural.sum())
    employed = rng.random(n) < EMPLOYED
    central = rng.random(n) < 0.7
    work_lat, work_lon = _offset(rng, np.where(central, 52.515, home_lat),
                                 np.where(central, 13.39, home_lon),
                                 np.where(central, 3.0, 4.0))
    work_lat[~employed] = np.nan
    work_lon[~employed] = np.nan
    other_lat, other_lon = _offset(rng, np.repeat(home_lat, 3), np.repeat(home_lon, 3),
                                   np.full(3 * n, 2.5))
    return {"home_lat": home_lat, "home_lon": home_lon, "work_lat": work_lat,
            "work_lon": work_lon, "night": employed & (rng.random(n) < NIGHT_WORKERS),
            "other_lat": other_lat.reshape(n, 3), "other_lon": other_lon.reshape(n, 3)}


def _schedule(a: dict[str, np.ndarray], days: int, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each user-day as 7 slots: where each slot starts (hours) and its from/to places.

    Places: 0 home, 1 work, 2-4 others. Slots alternate stays and trips:
    home | trip | day place | trip | evening place | trip | home.
    """
    n = len(a["home_lat"])
    shape = (n, days)
    weekday = (np.arange(days) % 7 < 5)[None, :]
    employed = ~np.isnan(a["work_lat"])[:, None]
    leave = rng.normal(7.8, 0.7, shape)
    day_place = np.where(employed & weekday, 1, rng.integers(2, 5, shape))
    leave = np.where(employed & weekday, leave, rng.normal(11.0, 1.2, shape))
    stay = np.where(employed & weekday, rng.normal(8.5, 0.8, shape), rng.uniform(1.5, 4, shape))
    night = a["night"][:, None] & weekday
    leave = np.where(night, rng.normal(21.5, 0.4, shape), leave)
    stay = np.where(night, rng.normal(8.0, 0.5, shape), stay)
    dist = np.hypot(a["home_lat"] - np.nan_to_num(a["work_lat"], nan=0), 0)[:, None]
    trip = np.clip(0.3 + dist * 2.0, 0.3, 1.2) * np.ones(shape)
    out = rng.random(shape) < np.where(weekday, 0.3, 0.5)
    evening_place = rng.integers(2, 5, shape)
    evening_len = np.where(out, rng.uniform(1.0, 3.0, shape), 0.0)
    t = np.empty((n, days, 7))
    t[..., 0] = 0.0
    t[..., 1] = leave
    t[..., 2] = leave + trip
    t[..., 3] = t[..., 2] + stay
    t[..., 4] = t[..., 3] + np.where(out, 0.5, 0.0)
    t[..., 5] = t[..., 4] + evening_len
    t[..., 6] = t[..., 5] + np.where(out, trip, 0.0)
    frm = np.stack([np.zeros(shape), np.zeros(shape), day_place, day_place,
                    evening_place, evening_place, np.zeros(shape)], axis=-1)
    to = np.stack([np.zeros(shape), day_place, day_place,
                   np.where(out, evening_place, 0), evening_place, np.zeros(shape),
                   np.zeros(shape)], axis=-1)
    return t, frm.astype(np.int64), to.astype(np.int64)


def _place(a: dict[str, np.ndarray], user: np.ndarray, place: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    lat = np.where(place == 0, a["home_lat"][user], a["work_lat"][user])
    lon = np.where(place == 0, a["home_lon"][user], a["work_lon"][user])
    other = place >= 2
    k = np.clip(place - 2, 0, 2)
    lat[other] = a["other_lat"][user[other], k[other]]
    lon[other] = a["other_lon"][user[other], k[other]]
    return lat, lon


def chunk(first: int, n_users: int, pings_per_user: float, days: int, seed: int
          ) -> tuple[pa.Table, dict[str, np.ndarray]]:
    """Pings of users ``first`` .. ``first + n_users - 1`` and their true anchors."""
    rng = np.random.default_rng([seed, first])
    a = anchors(n_users, rng)
    t, frm, to = _schedule(a, days, rng)
    counts = rng.poisson(pings_per_user * rng.lognormal(0, 0.35, n_users) / 1.063)
    user = np.repeat(np.arange(n_users), counts)
    habit = rng.choice(len(HABITS), n_users, p=[h[0] for h in HABITS])[user]
    day = np.empty(len(user), np.int64)
    hours = np.empty(len(user))
    weekend = np.arange(days) % 7 >= 5
    for k, (_, hour_w, weekend_w) in enumerate(HABITS):
        mine = np.flatnonzero(habit == k)
        day_p = np.where(weekend, weekend_w, 1.0)
        day[mine] = rng.choice(days, len(mine), p=day_p / day_p.sum())
        hour_p = HOUR_WEIGHT * hour_w
        hours[mine] = rng.choice(24, len(mine), p=hour_p / hour_p.sum()) + rng.random(len(mine))
    off = rng.random((n_users, days)) < GAP_DAY_SHARE
    keep = ~off[user, day]
    user, day, hours = user[keep], day[keep], hours[keep]
    slot = (t[user, day] <= hours[:, None]).sum(axis=1) - 1
    f = frm[user, day, slot]
    g = to[user, day, slot]
    lat0, lon0 = _place(a, user, f)
    lat1, lon1 = _place(a, user, g)
    s0 = t[user, day, slot]
    s1 = np.where(slot < 6, t[user, day, np.minimum(slot + 1, 6)], 24.0)
    frac = np.where(f != g, np.clip((hours - s0) / np.maximum(s1 - s0, 1e-6), 0, 1), 0.0)
    lat = lat0 + (lat1 - lat0) * frac
    lon = lon0 + (lon1 - lon0) * frac
    lat, lon = _offset(rng, lat, lon, np.full(len(lat), GPS_NOISE_M / 1000))
    accuracy = rng.gamma(2.0, 12.0, len(lat)).astype(np.float32)
    jump = rng.random(len(lat)) < JUMP_SHARE
    lat[jump] += rng.choice([-1, 1], jump.sum()) * rng.uniform(0.3, 1.0, jump.sum())
    null = rng.random(len(lat)) < NULL_ISLAND_SHARE
    lat[null] = 0.0
    lon[null] = 0.0
    seconds = (day * 86_400 + hours * 3600).astype(np.int64)
    dup = rng.random(len(lat)) < DUPLICATE_SHARE
    idx = np.concatenate([np.arange(len(lat)), np.flatnonzero(dup)])
    order = np.argsort(seconds[idx], kind="stable")  # exported in time order
    idx = idx[order]
    ids = np.char.add("s", (first + user[idx]).astype(str)).astype(object)
    table = pa.table({
        "subscriber": pa.array(ids, pa.string()),
        "event_time": pa.array(START + seconds[idx], pa.timestamp("s")),
        "latitude": np.round(lat[idx], 6),
        "longitude": np.round(lon[idx], 6),
        "accuracy_m": accuracy[idx],
    }, schema=SCHEMA)
    truth = {"user_id": np.char.add("s", (first + np.arange(n_users)).astype(str)),
             "home_lat": a["home_lat"], "home_lon": a["home_lon"],
             "work_lat": a["work_lat"], "work_lon": a["work_lon"], "night_worker": a["night"]}
    return table, truth


def generate(out: Path, n_users: int, n_pings: int, *, days: int = DAYS, seed: int = 0,
             chunk_users: int = 2000, truth: Path | None = None) -> Path:
    """Write ``n_pings`` pings (about) of ``n_users`` users to ``out`` (Parquet)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    per_user = n_pings / n_users
    truths = []
    with pq.ParquetWriter(out, SCHEMA) as writer:
        for first in range(0, n_users, chunk_users):
            table, t = chunk(first, min(chunk_users, n_users - first), per_user, days, seed)
            writer.write_table(table, row_group_size=1_000_000)
            if truth is not None:
                truths.append(t)
    if truth is not None:
        pq.write_table(pa.table({k: np.concatenate([t[k] for t in truths])
                                 for k in truths[0]}), truth)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--pings", type=int, default=10_000_000)
    p.add_argument("--days", type=int, default=DAYS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/data/pings.parquet"))
    p.add_argument("--truth", type=Path, default=None, help="also write true anchors here")
    args = p.parse_args()
    t0 = time.perf_counter()
    generate(args.out, args.users, args.pings, days=args.days, seed=args.seed,
             truth=args.truth)
    rows = pq.ParquetFile(args.out).metadata.num_rows
    print(f"wrote {args.out}: {rows:,} pings of {args.users:,} users in "
          f"{time.perf_counter() - t0:.1f} s ({args.out.stat().st_size / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
