"""The Avito-shaped generator: the competition's tables and columns, realistic rates."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

import generate_avito as gen  # loaded by conftest.py from benchmarks/


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Small user blocks so that the chunked writing is exercised.
    return gen.generate(tmp_path_factory.mktemp("avito") / "a.sqlite", 150_000, seed=3,
                        chunk_users=400)


def test_tables_and_columns_are_the_competitions(db: Path) -> None:
    with sqlite3.connect(db) as con:
        tables = {r[0]: [c[1] for c in con.execute(f"PRAGMA table_info({r[0]})")]
                  for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables["trainSearchStream"] == ["SearchID", "AdID", "Position", "ObjectType",
                                           "HistCTR", "IsClick"]
    assert tables["SearchInfo"] == ["SearchID", "SearchDate", "IPID", "UserID",
                                    "IsUserLoggedOn", "SearchQuery", "LocationID",
                                    "CategoryID", "SearchParams"]
    assert {"UserInfo", "AdsInfo", "Category", "Location", "VisitsStream",
            "PhoneRequestsStream"} <= set(tables)


def test_rates_and_tails_are_realistic(db: Path) -> None:
    with sqlite3.connect(db) as con:
        n, clicks, flagged = con.execute(
            "SELECT count(*), sum(IsClick), count(IsClick) FROM trainSearchStream").fetchone()
        unflagged_context = con.execute(
            "SELECT count(*) FROM trainSearchStream WHERE (ObjectType = 3) != "
            "(IsClick IS NOT NULL)").fetchone()[0]
        per_user = np.array([r[0] for r in con.execute(
            "SELECT count(*) FROM SearchInfo GROUP BY UserID")])
        dates = con.execute("SELECT min(SearchDate), max(SearchDate) FROM SearchInfo").fetchone()
        orphans = con.execute(
            "SELECT count(*) FROM trainSearchStream s LEFT JOIN SearchInfo i USING (SearchID) "
            "WHERE i.SearchID IS NULL").fetchone()[0]
    assert 0.8 * 150_000 < n < 1.2 * 150_000
    assert 0.006 < clicks / n < 0.015  # CTR around 1 %
    assert unflagged_context == 0  # click flags only on contextual ads, as in the original
    assert 0.3 < flagged / n < 0.42
    # Heavy tail: the busiest 10 % of users make a large share of the searches.
    top = np.sort(per_user)[::-1][: len(per_user) // 10]
    assert top.sum() / per_user.sum() > 0.35 and np.median(per_user) < per_user.mean()
    assert dates[0] >= "2015-04-25" and dates[1] < "2015-05-21" and dates[0].endswith(".0")
    assert orphans == 0


def test_the_same_seed_gives_the_same_database(tmp_path: Path) -> None:
    a = gen.generate(tmp_path / "a.sqlite", 5_000, seed=1, quirks=True, chunk_users=20)
    b = gen.generate(tmp_path / "b.sqlite", 5_000, seed=1, quirks=True, chunk_users=20)
    c = gen.generate(tmp_path / "c.sqlite", 5_000, seed=2, quirks=True, chunk_users=20)
    q = ("SELECT s.*, i.* FROM trainSearchStream s LEFT JOIN SearchInfo i USING (SearchID) "
         "ORDER BY s.rowid")
    rows = []
    for path in (a, b, c):
        with sqlite3.connect(path) as con:
            rows.append(con.execute(q).fetchall())
    assert rows[0] == rows[1] and rows[0] != rows[2]
