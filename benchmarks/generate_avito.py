"""Generate Avito-shaped ad-click logs as a SQLite database, at any size, in chunks.

The tables and columns are those of the Avito Context Ad Clicks competition's
``database.sqlite`` (Kaggle, 2015), whose data may not be redistributed:

* ``trainSearchStream`` (SearchID, AdID, Position, ObjectType, HistCTR, IsClick): one row
  per ad shown on a search results page; ``IsClick`` and ``HistCTR`` only for contextual
  ads (ObjectType 3), NULL for regular (1) and highlighted (2) ones, as in the original;
* ``SearchInfo`` (SearchID, SearchDate, IPID, UserID, IsUserLoggedOn, SearchQuery,
  LocationID, CategoryID, SearchParams): one row per search, dates as text
  ``2015-05-18 19:54:42.0``;
* ``UserInfo`` (UserID, UserAgentID, UserAgentOSID, UserDeviceID, UserAgentFamilyID),
  ``AdsInfo`` (AdID, LocationID, CategoryID, Params, Price, Title, IsContext),
  ``Category`` (CategoryID, Level, ParentCategoryID, SubcategoryID), ``Location``
  (LocationID, Level, RegionID, CityID), ``VisitsStream`` (UserID, IPID, AdID, ViewDate)
  and ``PhoneRequestsStream`` (UserID, IPID, AdID, PhoneRequestDate).

What it models: users with heavy-tailed activity (lognormal searches per user: most search
a few times, a few thousand times), who arrive over the 26 days of the original log
(2015-04-25 to 2015-05-20) and search in sessions (several searches minutes apart, then
hours or days of silence) mostly in the evening; a few favourite categories per user among
Zipf-popular ones; one device per user from a Zipf-popular set; 1 to 7 ads per results
page, about a third of them contextual; a click rate near 1 % of all impressions (about
2.5 % of contextual ones), with heavy-tailed click propensity per user; phone requests and
ad visits as small side streams.

Users are generated and written a block at a time (``--chunk-users``), so memory stays
bounded at any size; rows are written with the ADBC SQLite driver's bulk ingestion. The
same ``--seed`` gives the same database.

Usage::

    python benchmarks/generate_avito.py --impressions 2_000_000 \\
        --out benchmarks/data/avito_2m.sqlite
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

START = np.datetime64("2015-04-25T00:00:00", "s")
N_DAYS = 26
N_CATEGORIES = 68  # Avito: 68 categories on 3 levels
N_LOCATIONS = 4000
N_DEVICES = 3000
N_AGENT_FAMILIES = 60
N_OS = 50
#: Mean impressions per search (ads on a results page).
ADS_PER_SEARCH = 2.8
#: Share of contextual ads (ObjectType 3), the only ones with a click flag.
CONTEXT_SHARE = 0.36
#: Mean click probability of a contextual ad: ~1 % of all impressions.
CONTEXT_CTR = 0.027
#: Mean searches per user (lognormal, heavy tail).
SEARCHES_PER_USER = 26.0
QUERIES = ("", "", "", "", "iphone", "divan", "velosiped", "kvartira", "audi a4", "koliaska",
           "noutbuk", "shkaf", "samsung galaxy", "kurtka", "kolesa r16", "playstation 4")

DDL = """
CREATE TABLE Category (CategoryID INTEGER PRIMARY KEY, Level INTEGER, ParentCategoryID INTEGER,
                       SubcategoryID INTEGER);
CREATE TABLE Location (LocationID INTEGER PRIMARY KEY, Level INTEGER, RegionID INTEGER,
                       CityID INTEGER);
CREATE TABLE UserInfo (UserID INTEGER PRIMARY KEY, UserAgentID INTEGER, UserAgentOSID INTEGER,
                       UserDeviceID INTEGER, UserAgentFamilyID INTEGER);
CREATE TABLE AdsInfo (AdID INTEGER PRIMARY KEY, LocationID INTEGER, CategoryID INTEGER,
                      Params TEXT, Price REAL, Title TEXT, IsContext INTEGER);
CREATE TABLE SearchInfo (SearchID INTEGER PRIMARY KEY, SearchDate TEXT, IPID INTEGER,
                         UserID INTEGER, IsUserLoggedOn INTEGER, SearchQuery TEXT,
                         LocationID INTEGER, CategoryID INTEGER, SearchParams TEXT);
CREATE TABLE trainSearchStream (SearchID INTEGER, AdID INTEGER, Position INTEGER,
                                ObjectType INTEGER, HistCTR REAL, IsClick INTEGER);
CREATE TABLE VisitsStream (UserID INTEGER, IPID INTEGER, AdID INTEGER, ViewDate TEXT);
CREATE TABLE PhoneRequestsStream (UserID INTEGER, IPID INTEGER, AdID INTEGER,
                                  PhoneRequestDate TEXT);
"""

#: Relative search activity by hour of day (evening peak, quiet nights).
HOUR_WEIGHTS = np.array([2, 1, 0.6, 0.4, 0.4, 0.6, 1.2, 2.5, 4, 5, 5.5, 5.8, 6, 6, 5.8, 5.8,
                         6, 6.5, 7.5, 8.5, 9, 8.5, 6.5, 4], dtype=float)


def _zipf_weights(n: int, s: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


def _dates(seconds: np.ndarray) -> pa.Array:
    """Avito's text dates, ``2015-05-18 19:54:42.0``."""
    text = (START + seconds.astype("timedelta64[s]")).astype(str)
    return pa.array(np.char.add(np.char.replace(text, "T", " "), ".0"))


def _searches_per_user(rng: np.random.Generator, n: int) -> np.ndarray:
    sigma = 1.3
    mu = np.log(SEARCHES_PER_USER) - sigma**2 / 2
    return np.clip(np.rint(rng.lognormal(mu, sigma, n)), 1, 20_000).astype(np.int64)


def plan_users(n_impressions: int, seed: int) -> int:
    """Number of users whose searches give about ``n_impressions`` impressions."""
    return max(10, round(n_impressions / (SEARCHES_PER_USER * ADS_PER_SEARCH)))


def _user_block(rng: np.random.Generator, first_user: int, n_users: int, first_search: int,
                n_ads: int, cat_weights: np.ndarray) -> dict[str, pa.Table]:
    """Users ``first_user ..`` with their searches, impressions, visits and phone requests."""
    users = np.arange(first_user, first_user + n_users, dtype=np.int64)
    n_search = _searches_per_user(rng, n_users)
    total = int(n_search.sum())
    owner = np.repeat(np.arange(n_users), n_search)
    # Arrival day (most users are there from the start, some arrive later) and sessions:
    # geometric runs of searches, minutes apart, the sessions spread over the user's days.
    arrive = np.where(rng.random(n_users) < 0.6, 0.0, rng.random(n_users) * N_DAYS * 0.9)
    peak_hour = rng.choice(24, n_users, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    new_session = rng.random(total) < 0.28
    starts = np.r_[0, np.cumsum(n_search)[:-1]]
    new_session[starts] = True
    session = np.cumsum(new_session) - 1
    n_sessions = int(session[-1]) + 1 if total else 0
    s_owner = owner[new_session]
    day = arrive[s_owner] + rng.random(n_sessions) * (N_DAYS - arrive[s_owner])
    hour = (peak_hour[s_owner] + np.rint(rng.normal(0, 3, n_sessions))) % 24
    s_start = (np.floor(day) * 86400 + hour * 3600 + rng.integers(0, 3600, n_sessions))
    s_start = np.minimum(s_start, N_DAYS * 86400 - 7200)
    gap = rng.exponential(80.0, total).astype(np.int64) + 5
    gap[new_session] = 0
    # Seconds since the session's first search: cumulative gaps within the session.
    cum = np.cumsum(gap)
    within = cum - cum[np.flatnonzero(new_session)][session]
    seconds = (s_start[session] + within).astype(np.int64)
    # Categories: two or three favourites per user, drawn by popularity.
    favs = rng.choice(N_CATEGORIES, (n_users, 3), p=cat_weights) + 1
    pick = rng.choice(3, total, p=[0.6, 0.28, 0.12])
    category = np.where(rng.random(total) < 0.15, rng.choice(N_CATEGORIES, total,
                                                             p=cat_weights) + 1,
                        favs[owner, pick])
    search_ids = np.arange(first_search, first_search + total, dtype=np.int64)
    ipid = rng.integers(1, 5_000_000, n_users)[owner]
    logged = (rng.random(n_users) < 0.35).astype(np.int64)[owner]
    queries = np.array(QUERIES, dtype=object)[rng.integers(0, len(QUERIES), total)]
    query = pa.array(np.where(queries == "", None, queries), type=pa.string())
    has_params = rng.random(total) < 0.3
    params = np.where(has_params, np.char.add(np.char.add("{45:'", rng.integers(
        1, 200, total).astype(str)), "'}"), None)
    search = pa.table({
        "SearchID": search_ids,
        "SearchDate": _dates(seconds),
        "IPID": ipid,
        "UserID": users[owner],
        "IsUserLoggedOn": logged,
        "SearchQuery": query,
        "LocationID": rng.integers(1, N_LOCATIONS + 1, n_users)[owner],
        "CategoryID": category,
        "SearchParams": pa.array(params, type=pa.string()),
    })
    # Ads shown per search: 1 to 7 positions.
    n_ads_shown = np.clip(rng.poisson(ADS_PER_SEARCH - 1, total) + 1, 1, 7)
    rows = int(n_ads_shown.sum())
    s_of = np.repeat(np.arange(total), n_ads_shown)
    pos = np.arange(rows) - np.repeat(np.r_[0, np.cumsum(n_ads_shown)[:-1]], n_ads_shown) + 1
    kind = rng.choice([1, 2, 3], rows, p=[0.54, 0.10, CONTEXT_SHARE])
    context = kind == 3
    hist = np.round(rng.beta(1.2, 45, rows), 6)
    # Click propensity: heavy-tailed per user, scaled to the contextual CTR.
    propensity = rng.lognormal(-0.9, 1.2, n_users)
    propensity /= np.exp(-0.9 + 1.2**2 / 2)
    p_click = np.clip(CONTEXT_CTR * propensity[owner[s_of]] * hist / 0.026, 0, 0.9)
    click = context & (rng.random(rows) < p_click)
    # Zipf-popular ads, never the same ad twice on one page (positions apart).
    ad = ((np.minimum(rng.zipf(1.3, rows), n_ads) * 7 + pos) % n_ads + 1).astype(np.int64)
    stream = pa.table({
        "SearchID": search_ids[s_of],
        "AdID": ad,
        "Position": pos.astype(np.int64),
        "ObjectType": kind.astype(np.int64),
        "HistCTR": pa.array(np.where(context, hist, np.nan), from_pandas=True),
        "IsClick": pa.array(np.where(context, click.astype(float), np.nan),
                            from_pandas=True).cast(pa.int64()),
    })
    user = pa.table({
        "UserID": users,
        "UserAgentID": rng.integers(1, 40_000, n_users),
        "UserAgentOSID": rng.choice(N_OS, n_users, p=_zipf_weights(N_OS, 1.4)) + 1,
        "UserDeviceID": rng.choice(N_DEVICES, n_users, p=_zipf_weights(N_DEVICES, 1.1)) + 1,
        "UserAgentFamilyID": rng.choice(N_AGENT_FAMILIES, n_users,
                                        p=_zipf_weights(N_AGENT_FAMILIES, 1.5)) + 1,
    })
    # Side streams: some clicked ads are visited, a few lead to a phone request.
    visit = np.flatnonzero(click | (rng.random(rows) < 0.02))
    v_sec = seconds[s_of[visit]] + rng.integers(1, 600, len(visit))
    visits = pa.table({"UserID": users[owner[s_of[visit]]], "IPID": ipid[s_of[visit]],
                       "AdID": ad[visit], "ViewDate": _dates(v_sec)})
    phone = visit[rng.random(len(visit)) < 0.08]
    p_sec = seconds[s_of[phone]] + rng.integers(60, 1800, len(phone))
    phones = pa.table({"UserID": users[owner[s_of[phone]]], "IPID": ipid[s_of[phone]],
                       "AdID": ad[phone], "PhoneRequestDate": _dates(p_sec)})
    return {"SearchInfo": search, "trainSearchStream": stream, "UserInfo": user,
            "VisitsStream": visits, "PhoneRequestsStream": phones}


def _static_tables(rng: np.random.Generator, n_ads: int) -> dict[str, pa.Table]:
    cat = np.arange(1, N_CATEGORIES + 1)
    level = np.where(cat <= 8, 1, np.where(cat <= 30, 2, 3))
    parent = np.where(level == 1, 0, rng.integers(1, 9, N_CATEGORIES))
    loc = np.arange(1, N_LOCATIONS + 1)
    ads = np.arange(1, n_ads + 1)
    return {
        "Category": pa.table({"CategoryID": cat, "Level": level, "ParentCategoryID": parent,
                              "SubcategoryID": rng.integers(1, 60, N_CATEGORIES)}),
        "Location": pa.table({"LocationID": loc, "Level": rng.integers(1, 4, N_LOCATIONS),
                              "RegionID": rng.integers(1, 85, N_LOCATIONS),
                              "CityID": rng.integers(1, 3000, N_LOCATIONS)}),
        "AdsInfo": pa.table({
            "AdID": ads, "LocationID": rng.integers(1, N_LOCATIONS + 1, n_ads),
            "CategoryID": rng.integers(1, N_CATEGORIES + 1, n_ads),
            "Params": pa.nulls(n_ads, pa.string()),
            "Price": np.round(rng.lognormal(8, 1.5, n_ads), 0),
            "Title": pa.array(np.char.add("ad ", ads.astype(str))),
            "IsContext": (rng.random(n_ads) < CONTEXT_SHARE).astype(np.int64),
        }),
    }


def _add_quirks(cur: object, rng: np.random.Generator, n_searches: int) -> None:
    """Rows a real export has: impressions whose search was cut off, odd date layouts."""
    n = max(2, n_searches // 5000)
    orphans = pa.table({
        "SearchID": np.arange(n_searches + 1, n_searches + 1 + n, dtype=np.int64),
        "AdID": rng.integers(1, 1000, n), "Position": np.ones(n, dtype=np.int64),
        "ObjectType": np.full(n, 3, dtype=np.int64), "HistCTR": np.full(n, 0.01),
        "IsClick": np.zeros(n, dtype=np.int64)})
    cur.adbc_ingest("trainSearchStream", orphans, mode="append")  # type: ignore[attr-defined]
    ids = ",".join(str(int(i)) for i in rng.choice(n_searches, n, replace=False) + 1)
    cur.execute(  # type: ignore[attr-defined]
        "UPDATE SearchInfo SET SearchDate = strftime('%d.%m.%Y %H:%M', SearchDate) "
        f"WHERE SearchID IN ({ids})")


def generate(out: Path, n_impressions: int, *, seed: int = 0,
             chunk_users: int = 200_000, quirks: bool = False) -> Path:
    """Write an Avito-shaped SQLite database with about ``n_impressions`` impressions.

    Parameters
    ----------
    out : Path
        The ``.sqlite`` file (replaced if it exists).
    n_impressions : int
        Approximate rows of ``trainSearchStream``.
    seed : int, default=0
        Random seed; the same seed gives the same database.
    chunk_users : int, default=200000
        Users generated and written at a time.
    quirks : bool, default=False
        Add a few rows a real export has (about 1 in 5,000 searches each): impressions
        whose search row is missing (the log cut at a date), and search dates in another
        layout (``18.05.2015 19:54``).

    Returns
    -------
    Path
        ``out``.
    """
    import adbc_driver_sqlite.dbapi as adbc

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    rng = np.random.default_rng(seed)
    n_users = plan_users(n_impressions, seed)
    n_ads = max(1000, n_impressions // 20)
    cat_weights = _zipf_weights(N_CATEGORIES, 1.1)
    with adbc.connect(str(out)) as con:
        cur = con.cursor()
        for statement in DDL.split(";"):
            if statement.strip():
                cur.execute(statement)
        con.commit()
        for name, table in _static_tables(rng, n_ads).items():
            cur.adbc_ingest(name, table, mode="append")
        first_search = 1
        for first in range(0, n_users, chunk_users):
            block = _user_block(rng, first + 1, min(chunk_users, n_users - first),
                                first_search, n_ads, cat_weights)
            for name, table in block.items():
                cur.adbc_ingest(name, table, mode="append")
            first_search += block["SearchInfo"].num_rows
            con.commit()
        if quirks:
            _add_quirks(cur, rng, first_search - 1)
            con.commit()
        cur.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impressions", type=lambda s: int(s.replace("_", "")),
                        default=1_000_000, help="approximate trainSearchStream rows")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-users", type=int, default=200_000)
    parser.add_argument("--quirks", action="store_true",
                        help="add orphan impressions and odd date layouts (1 in 5,000)")
    args = parser.parse_args()
    t = time.perf_counter()
    generate(args.out, args.impressions, seed=args.seed, chunk_users=args.chunk_users,
             quirks=args.quirks)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 2**30:.2f} GiB) in {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
