"""The mobility job end to end on realistic synthetic pings: places, privacy, report, engines."""

from __future__ import annotations

import dataclasses
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from segwise._geo import haversine_np
from segwise.config import SegwiseConfig
from segwise.jobs import run_mobility, segment_users
from segwise.report import build_report, render_html


@pytest.fixture(scope="module")
def result(synthetic_pings: dict[str, Path]) -> Any:
    return run_mobility(synthetic_pings["pings"], pois=synthetic_pings["pois"])


def _labelled(result: Any, labels: list[str]) -> pd.DataFrame:
    loc = result.locations_table.to_pandas()
    return loc[loc["label"].isin(labels)]


def test_homes_and_work_places_are_where_people_live_and_work(
        result: Any, synthetic_pings: dict[str, Path]) -> None:
    truth = pd.read_parquet(synthetic_pings["truth"])
    homes = _labelled(result, ["home", "home+work"]).merge(truth, on="user_id")
    d = haversine_np(homes["cell_lat"], homes["cell_lon"], homes["home_lat"], homes["home_lon"])
    assert len(homes) >= 0.98 * len(truth)
    # Within the privacy cell (500 m) plus GPS noise of nearly everyone.
    assert (d < 500).mean() > 0.97
    work = _labelled(result, ["work"]).merge(truth, on="user_id")
    employed = truth["work_lat"].notna()
    dw = haversine_np(work["cell_lat"], work["cell_lon"], work["work_lat"], work["work_lon"])
    assert (dw < 500).sum() > 0.85 * employed.sum()


def test_the_user_table_is_declared_and_private(result: Any) -> None:
    users = result.entities.frame
    assert result.entities.schema.name == "mobility_interests"
    assert users["user_id"].is_unique and len(users) == 400
    assert set(users["home_settlement"].dropna()) <= {"city", "town", "village", "outside"}
    assert (users["commute_km"] >= 0).all() and (users["radius_km"] >= 0).all()
    heat = users.filter(like="wt_").to_numpy()
    assert heat.shape[1] == 28 and np.allclose(heat.sum(axis=1), 1.0)
    assert users["rhythm"].notna().all() and users["interests"].notna().all()
    # Coordinates leave as 500 m cells only: every location is a cell centre.
    loc = result.locations_table.to_pandas()
    assert loc["cell"].str.fullmatch(r"g500:\d+:\d+").all()
    assert not {"lat", "lon"} & set(loc.columns)


def test_interests_from_points_of_interest(result: Any) -> None:
    model = result.artifacts_mobility.interests
    assert model.categories == ["Food", "Park", "Shop", "Sport"]
    users = result.entities.frame
    # Stays away from home and work near a point of interest (rural users have none).
    assert (users["poi_visits"] > 0).mean() > 0.6
    names = set(users["interests"])
    assert any(c in name for name in names for c in ("Food", "Park", "Shop", "Sport"))
    assert all(re.match(r"Component \d \(\d+% of variance\): [+−]", r) for r in model.reading())


def test_report_shows_no_single_home(result: Any, synthetic_pings: dict[str, Path]) -> None:
    plan = segment_users(result, embed=("umap",))
    report = build_report(result, plan.extras)
    keys = [s.key for s in report.sections]
    assert keys == ["recommendation", "overview", "cleaning", "places", "rhythm", "interests",
                    "clusters", "profiles", "embedding", "campaign", "selection"]
    assert "UMAP" in report.section("embedding").charts[0].title
    homes = report.section("places").charts[0]
    drawn = homes.figure.data[0]
    counts = [int(t.split()[0].replace(",", "")) for t in drawn.text]
    assert min(counts) >= result.config.section("mobility").min_cell_users
    html = render_html(report)
    truth = pd.read_parquet(synthetic_pings["truth"])
    for lat in truth["home_lat"].head(50):
        assert f"{lat:.4f}" not in html
    assert {"som_umatrix", "som_nodes", "week_heat", "interest_components"} <= {
        c.key for c in report.charts}
    campaign = report.table("campaign").frame.set_index("campaign")
    assert campaign.loc["targeted", "cost"] <= campaign.loc["untargeted", "cost"] + 1e-6


def test_blocks_and_threads_do_not_change_the_result(result: Any,
                                                    synthetic_pings: dict[str, Path]) -> None:
    config = result.config
    small = dataclasses.replace(config.section("mobility"), block_pings=20_000, n_jobs=2)
    again = run_mobility(synthetic_pings["pings"], config=SegwiseConfig(
        sections={**config.sections, "mobility": small}))
    pd.testing.assert_frame_equal(again.locations_table.to_pandas(),
                                  result.locations_table.to_pandas())
    pd.testing.assert_frame_equal(again.audit, result.audit)
    cols = ["user_id", "pings", "stays", "radius_km", "home_cell", "work_cell", "rhythm"]
    pd.testing.assert_frame_equal(again.entities.frame[cols], result.entities.frame[cols])


def test_written_files(result: Any, tmp_path: Path) -> None:
    written = result.write(tmp_path / "users.parquet")
    assert [p.name for p in written] == ["users.parquet", "users.audit.csv",
                                         "users.locations.parquet"]
    assert pq.read_table(tmp_path / "users.parquet").num_rows == 400


@pytest.mark.slow
@pytest.mark.spark
def test_spark_finds_the_same_stable_locations(synthetic_pings: dict[str, Path],
                                               tmp_path: Path, spark_available: None) -> None:
    sample = pd.read_parquet(synthetic_pings["pings"])
    keep = sample["subscriber"].isin(sorted(sample["subscriber"].unique())[:40])
    # A subscriber with one ping: the sequence rules remove it, so no user row comes back
    # from its group, yet it must still count in the audit.
    lone = sample[keep].iloc[[0]].assign(subscriber="zz-one-ping")
    path = tmp_path / "sample.parquet"
    pd.concat([sample[keep], lone]).to_parquet(path, index=False)
    duck = run_mobility(path)
    # Small groups: several groups of several users each go through the Python workers.
    config = duck.config
    small = dataclasses.replace(config.section("mobility"), block_pings=5_000)
    spark = run_mobility(path, engine="spark", config=SegwiseConfig(
        sections={**config.sections, "mobility": small}))
    key = ["user_id", "location"]
    a = duck.locations_table.to_pandas().sort_values(key).reset_index(drop=True)
    b = spark.locations_table.to_pandas().sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(duck.audit, spark.audit)
    assert dict(zip(duck.audit["step"], duck.audit["rows"], strict=True))["too_few_pings"] >= 1
    assert "zz-one-ping" not in set(spark.entities.frame["user_id"])
    cols = ["user_id", "pings", "active_days", "stays", "stable_locations", "home_cell",
            "work_cell", "commute_km", "radius_km", "night_place", "rhythm",
            *spark.entities.frame.filter(like="wt_").columns]
    pd.testing.assert_frame_equal(duck.entities.frame[cols], spark.entities.frame[cols])


def test_points_of_interest_have_their_own_columns_and_reader(
        synthetic_pings: dict[str, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from segwise.config import load_config
    from segwise.exceptions import InputError

    sample = pd.read_parquet(synthetic_pings["pings"])
    pings = tmp_path / "pings.parquet"
    sample[sample["subscriber"].isin(sorted(sample["subscriber"].unique())[:60])].to_parquet(
        pings, index=False)
    # The same points of interest as a German spreadsheet writes them.
    pois = pd.read_csv(synthetic_pings["pois"])
    german = tmp_path / "orte.csv"
    pois.rename(columns={"type": "art", "lat": "breite", "lng": "laenge"}).to_csv(
        german, sep=";", decimal=",", index=False)
    plain = run_mobility(pings, pois=synthetic_pings["pois"]).entities.frame
    assert plain["poi_visits"].sum() > 0
    config = tmp_path / "segwise.toml"
    config.write_text('[mobility]\npois_columns = {category = "art", lat = "breite", '
                      'lon = "laenge"}\n[mobility.pois_read]\ndelimiter = ";"\n'
                      'decimal = ","\n')
    got = run_mobility(pings, pois=german, config=load_config(config, kind="pings"))
    pd.testing.assert_frame_equal(got.entities.frame, plain)

    # Without them: one line whose fix names these settings (the loader's [columns] and
    # [read] are the pings'), before the stays are looked for.
    def no_stays(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the points of interest are read before the pings' stays")

    monkeypatch.setattr("segwise.features._stays.process_block", no_stays)
    renamed = tmp_path / "renamed.csv"
    pois.rename(columns={"type": "art", "lat": "breite", "lng": "laenge"}).to_csv(
        renamed, index=False)
    with pytest.raises(InputError, match=r"renamed.csv: required column for category, lat, "
                                         r"lon .*\[mobility\] pois_columns = \{category = "):
        run_mobility(pings, pois=renamed)
    comma = tmp_path / "comma.csv"
    pois.to_csv(comma, sep=";", decimal=",", index=False)
    only_columns = tmp_path / "columns.toml"
    only_columns.write_text('[mobility]\npois_columns = {category = "type", lon = "lng"}\n'
                            '[mobility.pois_read]\ndelimiter = ";"\n')
    with pytest.raises(InputError, match=r'comma.csv: .*decimal comma\? Fix: set \[mobility\] '
                                         r'pois_read = \{decimal = ","\}'):
        run_mobility(pings, pois=comma, config=load_config(only_columns, kind="pings"))
    # Latitude and longitude exchanged, both in range: no stay matched a point, and every
    # user's interests were "No visits matched" without a word.
    swapped = tmp_path / "swapped.csv"
    pois.rename(columns={"lat": "lng", "lng": "lat"}).to_csv(swapped, index=False)
    with pytest.raises(InputError, match=r"swapped.csv: latitude and longitude look swapped: "
                                         r".* 2,000 points of interest .*Fix: map them the "
                                         r"other way in \[mobility\] pois_columns "
                                         r"\(lat = 'lng', lon = 'lat'\)"):
        run_mobility(pings, pois=swapped)
    monkeypatch.undo()
    # Points of interest of another city (Berlin's, moved to Leipzig): said aloud.
    leipzig = tmp_path / "leipzig.csv"
    pois.assign(lat=pois["lat"] - 1.18).to_csv(leipzig, index=False)
    with pytest.warns(UserWarning, match=r"leipzig.csv: none of the [\d,]+ stays away from "
                                         r"home and work lies within \[mobility\] "
                                         r"poi_radius_m \(100 m\) of any of its 30,000 points"):
        far = run_mobility(pings, pois=leipzig).entities.frame
    assert (far["interests"] == "No visits matched").all()


def test_a_dense_area_across_the_antimeridian_is_drawn_where_it_is(tmp_path: Path) -> None:
    # Twelve people on Taveuni (Fiji), homes on both sides of 180 degrees: the report drew
    # their dense area at the mean longitude of its cells, about 0 (off West Africa).
    from segwise.config import load_config

    t = pd.date_range("2024-03-04", periods=6 * 24 * 4, freq="15min")
    work = (t.weekday < 5) & (t.hour >= 9) & (t.hour < 17)
    frames = []
    for i in range(12):
        home_lon = 179.997 + 0.0015 * i  # 179.997 .. 180.0135, past 180 wrapped below
        home_lon = home_lon - 360 if home_lon > 180 else home_lon
        frames.append(pd.DataFrame({"user": f"fj{i}", "time": t,
                                    "lat": np.where(work, -16.85, -16.80),
                                    "lon": np.where(work, -179.999, home_lon)}))
    path = tmp_path / "taveuni.parquet"
    pd.concat(frames).to_parquet(path, index=False)
    config = tmp_path / "fiji.toml"
    config.write_text("[mobility]\nsettlement_min_users = 3\nmin_cell_users = 1\n")
    result = run_mobility(path, config=load_config(config, kind="pings"))
    dense = next(c for c in build_report(result).charts if c.key == "dense_areas")
    lon = np.concatenate([np.asarray(d.x, float) for d in dense.figure.data])
    assert len(lon) and (np.abs(lon) > 179.9).all()


def test_categories_spelled_differently_are_one_interest(tmp_path: Path) -> None:
    # Check-ins merged from sources that spell the same category in other cases, with
    # a stray space or a decomposed é; in another script; and one named like a component.
    # Each spelling was its own interest, and the share columns of Café, CAFÉ and café
    # (all "interest_caf") and of every non-Latin name ("interest_x") overwrote each other.
    rng = np.random.default_rng(7)
    spellings = {"cafe": ["Café", "CAFÉ", "café ", "Cafe\u0301"], "park": ["公园"],
                 "pc1": ["PC1"], "food": ["Food & Drink", "Food/Drink"]}
    rows = []
    for u in range(30):
        likes = list(spellings)[u % 4]
        for i in range(40):
            kind = likes if rng.random() < 0.7 else str(rng.choice(list(spellings)))
            rows.append({"user": f"u{u}", "time": f"2024-03-{1 + i % 28:02d} "
                         f"{8 + int(rng.integers(0, 12)):02d}:{int(rng.integers(0, 60)):02d}",
                         "lat": 52.52 + rng.normal(0, 0.03), "lon": 13.40 + rng.normal(0, 0.05),
                         "category": str(rng.choice(spellings[kind]))})
    path = tmp_path / "checkins.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no KMeans warning of duplicates
        result = run_mobility(path)
    model = result.artifacts_mobility.interests
    # Named by the spelling with the most check-ins.
    cafe = pd.DataFrame(rows)["category"].value_counts()[spellings["cafe"]].idxmax()
    assert sorted(model.categories) == sorted([cafe, "公园", "PC1", "Food & Drink",
                                               "Food/Drink"])
    users = result.entities.frame
    shares = [c for c in users.columns if c.startswith("interest_")
              and c not in {"interest_pc1", "interest_pc2", "interest_pc3"}]
    assert sorted(shares) == ["interest_café", "interest_food_drink", "interest_food_drink_2",
                              "interest_pc1_2", "interest_公园"]
    assert np.allclose(users[shares].sum(axis=1), 1.0)
    # The component column is the component, not the share of check-ins at "PC1".
    assert not np.allclose(users["interest_pc1"], users["interest_pc1_2"])
