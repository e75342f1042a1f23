"""Real movement data: GeoLife's ten users (homes and work places, stable across halves of
their data) and Foursquare NYC check-ins (interest clusters named by their categories)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from segwise._geo import haversine_np
from segwise.config import SegwiseConfig
from segwise.datasets import foursquare_checkins, geolife_pings
from segwise.features import MobilitySettings
from segwise.jobs import run_mobility

pytestmark = pytest.mark.slow

HOME_WORK = {"home": ["home", "home+work"], "work": ["work", "home+work"]}


@pytest.fixture(scope="module")
def geolife(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The job on all of GeoLife users 000-009, and on each half of every user's pings."""
    out = tmp_path_factory.mktemp("geolife")
    frame = geolife_pings(shared_data / "geolife-subset" / "geolife_users_000-009.tar.gz"
                          ).to_pandas()
    assert len(frame) == 1_845_936 and frame["user_id"].nunique() == 10
    middle = frame.groupby("user_id")["timestamp"].transform("median")
    runs = {}
    for name, part in (("all", frame), ("first", frame[frame["timestamp"] < middle]),
                       ("second", frame[frame["timestamp"] >= middle])):
        part.to_parquet(out / f"{name}.parquet", index=False)
        runs[name] = run_mobility(out / f"{name}.parquet")
    return runs


def _place(result: Any, which: str) -> pd.DataFrame:
    loc = result.locations_table.to_pandas()
    return loc[loc["label"].isin(HOME_WORK[which])].set_index("user_id")[
        ["cell_lat", "cell_lon"]]


def test_every_geolife_user_has_a_home_and_a_work_place(geolife: dict[str, Any]) -> None:
    for run in geolife.values():
        users = run.entities.frame
        assert len(users) == 10
        assert users["home_found"].all() and users["work_found"].all()
        assert set(users["home_settlement"]) == {"city"}  # Beijing


#: What segwise found on all of GeoLife 000-009 before its speed-ups (stream of blocks,
#: issue 18's benchmark): pings kept, stays, stable locations, home and work cells. A
#: faster path must find exactly the same places.
GEOLIFE_PLACES = """
user pings stays locations home_cell work_cell
000 173870 480 31 g500:28910:50483 g500:28912:50475
001 108607 153 14 g500:28913:50469 g500:28906:50496
002 248214 333 19 g500:28894:50538 g500:28888:50566
003 485226 1103 52 g500:28911:50479 g500:28911:50479
004 439397 1367 50 g500:28911:50479 g500:28911:50479
005 109046 183 12 g500:28910:50483 g500:28913:50472
006 31830 35 4 g500:28906:50498 g500:28906:50498
007 85531 140 10 g500:28906:50498 g500:28906:50498
008 77908 77 12 g500:28906:50496 g500:28906:50496
009 84615 136 4 g500:28911:50482 g500:28909:50486
"""


def test_geolife_places_are_exactly_those_found_before(geolife: dict[str, Any]) -> None:
    rows = [line.split() for line in GEOLIFE_PLACES.strip().splitlines()]
    expected = pd.DataFrame(rows[1:], columns=rows[0])
    users = geolife["all"].entities.frame
    got = pd.DataFrame({
        "user": users["user_id"], "pings": users["pings"].astype(str),
        "stays": users["stays"].astype(str),
        "locations": users["stable_locations"].astype(str),
        "home_cell": users["home_cell"], "work_cell": users["work_cell"]})
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected)
    locations = geolife["all"].locations_table.to_pandas()
    assert (len(locations), int(locations["visits"].sum())) == (208, 3605)


@pytest.mark.parametrize("which", ["home", "work"])
def test_geolife_homes_and_work_places_are_stable_across_halves(geolife: dict[str, Any],
                                                                which: str) -> None:
    a, b = _place(geolife["first"], which), _place(geolife["second"], which)
    assert sorted(a.index) == sorted(b.index) == [f"{u:03d}" for u in range(10)]
    b = b.loc[a.index]
    moved = haversine_np(a["cell_lat"], a["cell_lon"], b["cell_lat"], b["cell_lon"])
    # The same 500 m cell or a neighbouring one (docs/mobility.md lists the distances).
    assert moved.max() < 1000, dict(zip(a.index, moved.round(), strict=True))
    assert (moved == 0).sum() >= 8


@pytest.fixture(scope="module")
def foursquare(shared_data: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> tuple[Path, Any]:
    """The Foursquare NYC check-ins as a Parquet file, and the job on them (DuckDB)."""
    path = tmp_path_factory.mktemp("fsq") / "fsq.parquet"
    foursquare_checkins(shared_data / "foursquare-nyc-master-subset" / "foursquare_nyc.csv.gz",
                        path)
    return path, run_mobility(path)


def test_foursquare_interest_clusters_are_named_by_categories(
        foursquare: tuple[Path, Any]) -> None:
    result = foursquare[1]
    audit = dict(zip(result.audit["step"], result.audit["rows"], strict=True))
    assert sum(audit.values()) == 44_809
    # The file's 46 exact duplicate rows, and check-ins repeated within one hour at one
    # venue that differ only in columns pings do not keep (weather, rating).
    assert audit["duplicate_row"] >= 46
    users = result.entities.frame
    assert len(users) == 193
    model = result.artifacts_mobility.interests
    assert len(model.categories) == 10 and "Food" in model.categories
    names = users["interests"].value_counts()
    assert len(names) >= 3
    for name in names.index:
        parts = name.split(" + ")
        assert all(p in model.categories for p in parts), name
    # Each cluster's name is its most over-represented category.
    shares = users[[c for c in users if c.startswith("interest_") and "_pc" not in c]]
    for name in names.index:
        first = name.split(" + ")[0]
        col = "interest_" + first.lower().replace(" & ", "_").replace(" ", "_")
        assert shares.loc[users["interests"] == name, col].mean() > shares[col].mean()


def test_geolife_ten_users_are_segmented_within_what_they_support(
        geolife: dict[str, Any]) -> None:
    from segwise.jobs.mobility import segment_users

    plan = segment_users(geolife["all"])
    sweep = plan.segmentation.sweep
    assert len(plan.segmentation.assignments) == 10
    assert sweep.table["k"].max() <= 5  # a stability refit sees 5 of the 10 users
    assert any("not tried" in w for w in sweep.warnings)


@pytest.mark.spark
def test_spark_finds_the_same_visits_and_interests_in_checkins(
        foursquare: tuple[Path, Any], spark_available: None) -> None:
    path, duck = foursquare
    spark = run_mobility(path, engine="spark")
    pd.testing.assert_frame_equal(duck.audit, spark.audit)
    key = ["user_id", "location"]
    pd.testing.assert_frame_equal(
        duck.locations_table.to_pandas().sort_values(key).reset_index(drop=True),
        spark.locations_table.to_pandas().sort_values(key).reset_index(drop=True))
    # The category counts per user (check-ins' own categories) give the same interests.
    pd.testing.assert_frame_equal(duck.entities.frame, spark.entities.frame)


def test_geolife_across_the_antimeridian_is_geolife(shared_data: Path, tmp_path: Path) -> None:
    """Two GeoLife users turned east so that Beijing straddles 180°: the same people.

    Means of longitudes on both sides of the antimeridian fell on the far side of the
    Earth: radii of 10,000 km, stable locations in the middle of the Pacific.
    """
    frame = geolife_pings(shared_data / "geolife-subset" / "geolife_users_000-009.tar.gz",
                          users=["006", "008"]).to_pandas()
    turned = frame.assign(lon=(frame["lon"] + (180.0 - 116.33) + 180.0) % 360.0 - 180.0)
    assert (turned["lon"] > 179.9).any() and (turned["lon"] < -179.9).any()
    runs = []
    for name, part in (("beijing", frame), ("turned", turned)):
        part.to_parquet(tmp_path / f"{name}.parquet", index=False)
        runs.append(run_mobility(tmp_path / f"{name}.parquet"))
    cols = ["user_id", "pings", "active_days", "stays", "stable_locations", "radius_km",
            "commute_km", "home_share", "home_found", "work_found", "night_place"]
    a, b = (r.entities.frame[cols] for r in runs)
    pd.testing.assert_frame_equal(a, b, rtol=1e-6)
    la, lb = (r.locations_table.to_pandas() for r in runs)
    assert la[["user_id", "label", "visits", "days"]].equals(lb[["user_id", "label", "visits",
                                                                  "days"]])
    assert lb["cell_lon"].abs().max() <= 180
    # Each location's cell is where it was, turned (cells are 500 m: within a cell).
    back = (lb["cell_lon"] - (180.0 - 116.33) + 180.0) % 360.0 - 180.0
    assert haversine_np(la["cell_lat"], la["cell_lon"], lb["cell_lat"], back).max() < 800


def test_the_converters_write_csv_when_asked(shared_data: Path, tmp_path: Path,
                                             foursquare: tuple[Path, Any]) -> None:
    # foursquare_checkins wrote Parquet to "pings.csv", which segwise then read as a
    # CSV of one garbled column ("required column ... not found (columns found: ~) 6)").
    csv = tmp_path / "fsq.csv"
    foursquare_checkins(shared_data / "foursquare-nyc-master-subset" / "foursquare_nyc.csv.gz",
                        csv)
    assert csv.read_text(encoding="utf-8").startswith('"user_id","timestamp","lat","lon"')
    pd.testing.assert_frame_equal(run_mobility(csv).entities.frame,
                                  foursquare[1].entities.frame)


def test_a_clock_in_another_zone_than_the_place_is_said(shared_data: Path, tmp_path: Path,
                                                        geolife: dict[str, Any]) -> None:
    # GeoLife's times are GMT; Beijing's nights then fall at 16-24 h, and homes, work
    # places and rhythms followed that clock without a word.
    frame = geolife_pings(shared_data / "geolife-subset" / "geolife_users_000-009.tar.gz",
                          utc_offset_hours=0)
    path = tmp_path / "gmt.parquet"
    frame.to_pandas().to_parquet(path, index=False)
    with pytest.warns(UserWarning, match=r"least active 18-00 h \(6% of their pings\), and "
                      r"more at night, 00-06 h \(29%\).*no \[mobility\] timezone is set.*"
                      r"Fix: set \[mobility\] timezone"):
        run_mobility(path)
    config = SegwiseConfig(sections={"mobility": MobilitySettings(timezone="Asia/Shanghai")})
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*another zone's clock")
        shifted = run_mobility(path, config=config)
    # The same places as the converter's local clock finds.
    pd.testing.assert_frame_equal(_place(shifted, "home"), _place(geolife["all"], "home"))
