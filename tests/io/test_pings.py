"""Pings with bad input: every row ends in one audit step, or the run stops with one line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from segwise.clean import clean_pings
from segwise.cli import app
from segwise.config import SegwiseConfig
from segwise.exceptions import InputError
from segwise.io import ReadOptions, load_source
from segwise.jobs import run_mobility

T0 = dt.datetime(2024, 3, 4, 0, 0)  # a Monday


def _day_at(lat: float, lon: float, user: str, days: int = 3, step_min: int = 30) -> list[dict]:
    """A user who pings every ``step_min`` minutes at one place for ``days`` days."""
    rows = []
    for i in range(days * 24 * 60 // step_min):
        rows.append({"user": user, "time": (T0 + dt.timedelta(minutes=i * step_min)).isoformat(
            sep=" "), "latitude": lat, "longitude": lon, "accuracy": 15.0})
    return rows


@pytest.fixture()
def bad_pings(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    good = _day_at(52.52, 13.40, "a") + _day_at(52.40, 13.06, "b")
    bad = [
        {"user": "a", "time": "2024-03-04 01:01:00", "latitude": -195.0, "longitude": 13.4,
         "accuracy": 10.0},  # out of range (latitude)
        {"user": "a", "time": "2024-03-04 01:02:00", "latitude": 52.5, "longitude": 200.0,
         "accuracy": 10.0},  # out of range (longitude)
        {"user": "a", "time": "2024-03-04 01:03:00", "latitude": 113.4, "longitude": 52.5,
         "accuracy": 10.0},  # swapped (latitude beyond 90, longitude within)
        {"user": "a", "time": "2024-03-04 01:04:00", "latitude": 0.0, "longitude": 0.0,
         "accuracy": 10.0},  # null island
        {"user": "a", "time": "2024-03-04 01:05:00", "latitude": 52.52, "longitude": 13.40,
         "accuracy": 5000.0},  # inaccurate
        {"user": "a", "time": "2024-03-04 00:30:00", "latitude": 52.53, "longitude": 13.41,
         "accuracy": 15.0},  # same instant as a kept ping, elsewhere
        {"user": "b", "time": "2024-03-04 01:15:00", "latitude": 48.85, "longitude": 2.35,
         "accuracy": 15.0},  # Paris for 15 minutes between two Potsdam pings: a jump
        {"user": "c", "time": "2024-03-04 09:00:00", "latitude": 52.5, "longitude": 13.4,
         "accuracy": 15.0},  # a user with one ping
        {"user": "a", "time": "not a time", "latitude": 52.5, "longitude": 13.4,
         "accuracy": 15.0},  # quarantined
    ]
    copies = good[:7]  # exact duplicates
    rows = good + bad + copies
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=1)  # unsorted on purpose
    path = tmp_path / "pings.csv"
    frame.to_csv(path, index=False)
    expected = {"quarantined": 1, "after_as_of": 0, "swapped_coordinates": 1, "out_of_range": 2,
                "null_island": 1, "inaccurate": 1, "duplicate_row": 7,
                "duplicate_timestamp": 1, "impossible_speed": 1, "too_few_pings": 1,
                "kept": len(good), "input": len(rows)}
    return path, expected


def test_each_bad_ping_is_counted_once(bad_pings: tuple[Path, dict[str, int]]) -> None:
    path, expected = bad_pings
    result = run_mobility(path)
    audit = dict(zip(result.audit["step"], result.audit["rows"], strict=True))
    assert sum(audit.values()) == expected.pop("input")
    assert audit == expected
    assert result.quarantine["reason"].tolist() == ["time: not a timestamp"]
    # The user with one ping is counted in the audit and has no row.
    assert sorted(result.entities.frame["user_id"]) == ["a", "b"]


def test_order_of_rows_does_not_matter(bad_pings: tuple[Path, dict[str, int]],
                                       tmp_path: Path) -> None:
    path, _ = bad_pings
    frame = pd.read_csv(path)
    ordered = tmp_path / "ordered.csv"
    frame.sort_values(["user", "time"]).to_csv(ordered, index=False)
    a = run_mobility(path).entities.frame
    b = run_mobility(ordered).entities.frame
    pd.testing.assert_frame_equal(a, b)


def test_columns_swapped_everywhere_are_refused(tmp_path: Path) -> None:
    # Beijing exchanged: latitude 116 is out of range, so most rows read as swapped.
    rows = _day_at(116.32, 39.98, "u")
    path = tmp_path / "swapped.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    with pytest.raises(InputError, match=r'look swapped.*Fix: map them the other way: pass '
                                         r'config=SegwiseConfig\(columns=\{"lat": "longitude", '
                                         r'"lon": "latitude"\}\)$'):
        run_mobility(path)


def test_swapped_columns_within_range_are_detected(tmp_path: Path) -> None:
    # New York exchanged (-73.9, 40.7) is a valid point in the Southern Ocean: the
    # gazetteer tells, not the range.
    rows = [r | {"latitude": -73.95 + 0.01 * (i % 7), "longitude": 40.75}
            for i, r in enumerate(_day_at(0, 0, "u") + _day_at(0, 0, "v"))]
    path = tmp_path / "nyc.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    with pytest.raises(InputError, match="latitude and longitude look swapped"):
        run_mobility(path)


def _remote_first_then_swapped(tmp_path: Path) -> Path:
    """A file sorted by user: two users far at sea first (4,608 pings, more than the
    sample), then twelve New York users written longitude first (valid points in the
    Southern Ocean): the file as a whole is swapped."""
    rows = []
    for user, (lat, lon) in (("a-ship", (-45.0, 50.0)), ("b-buoy", (-44.0, 52.0))):
        rows += _day_at(lat, lon, user, days=8, step_min=5)
    for i in range(12):
        rows += _day_at(-73.95 + 0.01 * i, 40.75, f"nyc-{i:02d}", days=8, step_min=15)
    path = tmp_path / "remote_first.csv"
    pd.DataFrame(rows).sort_values(["user", "time"]).to_csv(path, index=False)
    return path


def test_swapped_columns_are_found_past_the_first_users(tmp_path: Path) -> None:
    # The sample used to be the first 2,000 rows: the two users at sea, valid both ways
    # and near no one either way, so the swapped file went through.
    path = _remote_first_then_swapped(tmp_path)
    with pytest.raises(InputError, match=r"look swapped: 0% of a sample of 2,000 pings"):
        run_mobility(path)


@pytest.mark.slow
@pytest.mark.spark
def test_the_orientation_sample_is_the_same_on_spark(tmp_path: Path,
                                                     spark_available: None) -> None:
    from segwise.features.pings import _orientation_sample

    path = _remote_first_then_swapped(tmp_path)
    samples = []
    for engine in ("duckdb", "spark", "duckdb"):
        kept = clean_pings(load_source(path, "pings", engine=engine)).kept
        got = _orientation_sample(kept).to_pyarrow().to_pandas()
        samples.append(got.sort_values(["lat", "lon"]).reset_index(drop=True))
    assert len(samples[0]) == 2000
    # Spread over the file: every user is in it, each about as often as its pings say.
    users = pd.read_csv(path).assign(lat=lambda f: f["latitude"]).groupby("lat").size()
    share = samples[0]["lat"].value_counts() / 2000
    expected = users / users.sum()
    assert set(share.index) == set(expected.index)
    assert (share - expected).abs().max() < 0.03
    pd.testing.assert_frame_equal(samples[0], samples[1])  # the same pings on Spark
    pd.testing.assert_frame_equal(samples[0], samples[2])  # and on every run


def test_a_user_with_swapped_coordinates_among_good_ones_is_named(tmp_path: Path) -> None:
    # Berlin, Potsdam and Munich as given; one user's Hamburg written longitude first
    # (10.0, 53.55): a valid point in the Gulf of Guinea, far from people.
    def commuter(home: tuple[float, float], work: tuple[float, float], user: str) -> list[dict]:
        # Home at night, work from 9 to 17: stays that come back, so stable locations.
        return [r | dict(zip(("latitude", "longitude"),
                             work if 9 <= int(r["time"][11:13]) < 17 else home, strict=True))
                for r in _day_at(0, 0, user)]

    rows = (commuter((52.52, 13.40), (52.50, 13.30), "a")
            + commuter((52.40, 13.06), (52.39, 13.10), "b")
            + commuter((48.14, 11.58), (48.17, 11.55), "c")
            + commuter((10.00, 53.55), (9.95, 53.60), "d"))
    path = tmp_path / "mixed.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    with pytest.warns(UserWarning, match=r"1 user\(s\) .*\(d\): their 'latitude' and "
                                         r"'longitude' values look swapped"):
        result = run_mobility(path)
    assert len(result.entities.frame) == 4  # warned, not dropped


def test_a_file_of_one_ping_per_user_says_why(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    pd.DataFrame([{"user": "x", "time": "2024-03-04 10:00:00", "latitude": 52.5,
                   "longitude": 13.4}]).to_csv(path, index=False)
    # The rules are named as the caller gives them: "the [pings] rules" beside
    # config.columns spoke a config file's words to a Python caller.
    with pytest.raises(InputError, match=r"one\.csv: no user is left after cleaning \(see "
                                         r"the audit: too_few_pings 1\)\. Fix: check the "
                                         r"config\.columns mapping and the rules of "
                                         r"SegwiseConfig\(sections=\{\"pings\": "
                                         r"PingRules\(\.\.\.\)\}\)$"):
        run_mobility(path)
    result = CliRunner().invoke(app, ["mobility", str(path), "-o", str(tmp_path / "u.csv")])
    assert result.exit_code == 1
    assert "Fix: check the [columns] mapping and the rules of [pings]" in " ".join(
        result.output.split())


def test_pings_that_leave_no_user_name_the_steps_and_the_fix(tmp_path: Path) -> None:
    """Google Takeout's ``latitudeE7`` mapped as degrees; every ping dated too late.

    It said "no user has 2 or more usable pings. Fix: check the audit", with no audit
    printed or written.
    """
    times = pd.date_range("2024-03-04 08:00", periods=40, freq="15min").astype(str)
    frame = pd.DataFrame({"user": ["a"] * 20 + ["b"] * 20, "time": times,
                          "latitudeE7": 525200000 + np.arange(40),
                          "longitudeE7": 134050000 + np.arange(40)})
    path = tmp_path / "takeout.csv"
    frame.to_csv(path, index=False)
    config = SegwiseConfig(columns={"lat": "latitudeE7", "lon": "longitudeE7"})
    with pytest.raises(InputError, match=r"takeout\.csv: no user is left after cleaning \(see "
                                         r"the audit: out_of_range 40\)"):
        run_mobility(path, config=config)
    frame["latitudeE7"] /= 1e7
    frame["longitudeE7"] /= 1e7
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"\(see the audit: after_as_of 40\)\. Fix: choose a "
                                         r"later as_of= than 2024-03-01: the rows that parsed"):
        run_mobility(path, config=config, as_of="2024-03-01")


def test_numeric_timestamps_are_seconds_or_milliseconds(tmp_path: Path) -> None:
    base = int(pd.Timestamp("2024-03-04 08:00").timestamp())
    frame = pd.DataFrame({"uid": ["a", "a", "b", "b"],
                          "ts": [base, base + 60, (base + 120) * 1000, (base + 180) * 1000],
                          "lat": 52.5, "lon": 13.4})
    path = tmp_path / "epoch.parquet"
    frame.to_parquet(path, index=False)
    got = load_source(path, "pings").table.order_by("timestamp").execute()
    assert got["timestamp"].tolist() == [pd.Timestamp("2024-03-04 08:00") + pd.Timedelta(
        seconds=s) for s in (0, 60, 120, 180)]


rows = st.fixed_dictionaries({
    "user": st.sampled_from(["a", "b", "c", ""]),
    "time": st.sampled_from(["2024-03-04 08:00:00", "2024-03-04 08:00:00",
                             "2024-03-04 09:30:00", "2024-03-05 22:00:00", "x"]),
    "lat": st.sampled_from([52.5, 52.501, 0.0, 95.0, 113.0, -33.9, np.nan]),
    "lon": st.sampled_from([13.4, 13.401, 0.0, 181.0, 52.0, 151.2]),
    "accuracy": st.sampled_from([5.0, 50.0, 5000.0, np.nan]),
})


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(rows, min_size=1, max_size=40))
def test_every_ping_ends_in_one_audit_step(tmp_path: Path, data: list[dict]) -> None:
    from segwise.clean import PingRules
    from segwise.features._stays import Block, process_block
    from segwise.features.pings import MobilitySettings

    path = tmp_path / "p.csv"
    pd.DataFrame(data).to_csv(path, index=False)
    source = load_source(path, "pings", read=ReadOptions(max_quarantine_share=1.0,
                                                          timestamp_format="%Y-%m-%d %H:%M:%S"))
    cleaned = clean_pings(source, PingRules(max_swapped_share=1.0))
    kept = cleaned.kept.execute()
    block = Block.from_columns(kept["user_id"].to_numpy(), kept["timestamp"].to_numpy(
        "datetime64[s]").astype("int64"), kept["lat"].to_numpy(), kept["lon"].to_numpy(),
        kept["accuracy"].to_numpy())
    result = process_block(block, cleaned.rules, MobilitySettings(), checkins=False)
    audit = cleaned.audit_table(result.flags).to_pylist()
    assert sum(r["rows"] for r in audit) == len(data)
    assert next(r["rows"] for r in audit if r["step"] == "kept") == int(
        result.users["pings"].sum())


def test_the_shared_parse_rules_hold_for_pings(tmp_path: Path) -> None:
    """Ids, numbers and dates are read as for order lines (issue 12), nothing crashes."""
    from segwise.jobs import run_job

    good = pd.DataFrame(_day_at(52.52, 13.40, "1") + _day_at(52.40, 13.06, "2"))
    good = good.assign(user=good["user"].astype("float64"),
                       time=pd.to_datetime(good["time"]).astype("int64") // 10**9)
    good["time"] = good["time"].astype("float64")  # seconds since 1970, as a float column
    bad = pd.DataFrame([
        {"user": 1.5, "time": good["time"][0], "latitude": 52.5, "longitude": 13.4},
        {"user": 1.0, "time": np.inf, "latitude": 52.5, "longitude": 13.4},  # crashed
        {"user": 1.0, "time": good["time"][1], "latitude": np.nan, "longitude": 13.4},
        {"user": 1.0, "time": good["time"][2], "latitude": 52.5, "longitude": 1e300},
        {"user": 2.0, "time": pd.Timestamp("2099-01-01").timestamp(), "latitude": 52.4,
         "longitude": 13.06},  # one ping from the future
    ]).assign(accuracy=15.0)
    frame = pd.concat([good, bad], ignore_index=True)
    path = tmp_path / "pings.parquet"
    frame.to_parquet(path, index=False)
    as_of = (T0 + dt.timedelta(days=1)).date()
    result = run_job("mobility", path, as_of=as_of)
    reasons = sorted(result.quarantine["reason"])
    future = [r for r in reasons if r.startswith("time: dated after")]
    assert len(future) == 1 and [r for r in reasons if r not in future] == [
        "latitude: empty latitude",  # pandas writes NaN as null
        "longitude: beyond ±1e13, the largest number segwise accepts",
        "time: not a timestamp", "user: a fractional number is not an id"]
    audit = dict(zip(result.audit["step"], result.audit["rows"], strict=True))
    assert sum(audit.values()) == len(frame) and audit["quarantined"] == 5
    # The third day's pings are after the as-of date: left out and counted.
    assert audit["after_as_of"] == len(good) // 3
    assert sorted(result.entities.frame["user_id"]) == ["1", "2"]


def test_unusable_points_of_interest_are_counted_aloud(tmp_path: Path) -> None:
    pings = tmp_path / "pings.csv"
    pd.DataFrame(_day_at(52.52, 13.40, "a") + _day_at(52.40, 13.06, "b")).to_csv(
        pings, index=False)
    pois = tmp_path / "pois.csv"
    good = [("Food", "52.52", "13.40"), ("Shop", "52.40", "13.06")] * 30
    bad = [("", "52.5", "13.4"), ("Park", "inf", "13.1"), ("Park", "13.1E", "52.5N")]
    pd.DataFrame(good + bad, columns=["category", "lat", "lon"]).to_csv(pois, index=False)
    # The fix of a row whose columns look swapped names the points' own setting.
    with pytest.warns(UserWarning, match=r"pois.csv: 3 of 63 points of interest cannot be used "
                                         r"and are left out \(category: empty category, "
                                         r"lat(itude)?: not a finite number, lat: a latitude "
                                         r"with the hemisphere letter E or W: the columns look "
                                         r"swapped\. Fix: map lat and lon the other way in "
                                         r"\[mobility\] pois_columns\)"):
        run_mobility(pings, pois=pois)


def test_iso_times_with_a_utc_offset_are_the_instants(tmp_path: Path) -> None:
    # Two commuters in Berlin over the spring change of clocks (31 March 2024), written
    # three ways: local wall-clock time, ISO 8601 with the offset, and UTC with a Z. The
    # last two were refused ("cannot recognise the timestamp layout").
    from segwise.config import load_config

    utc = pd.date_range("2024-03-27", "2024-04-04", freq="10min", tz="UTC")
    local = utc.tz_convert("Europe/Berlin")
    frames = []
    for user, home, work in (("a", (52.52, 13.40), (52.50, 13.30)),
                             ("b", (52.40, 13.06), (52.39, 13.10))):
        at_work = (local.weekday < 5) & (local.hour >= 9) & (local.hour < 17)
        frames.append(pd.DataFrame({
            "user": user, "local": local.strftime("%Y-%m-%d %H:%M:%S"),
            "offset": [t.isoformat() for t in local],
            "z": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            # Twitter's created_at, as Foursquare's TSMC2014 check-ins write it (with the
            # column utcTimestamp): it stopped the load, and the column was not found.
            "twitter": local.strftime("%a %b %d %H:%M:%S %z %Y"),
            "latitude": np.where(at_work, work[0], home[0]),
            "longitude": np.where(at_work, work[1], home[1])}))
    frame = pd.concat(frames)
    assert frame["offset"].str.endswith("+02:00").any() and frame["offset"].str.endswith(
        "+01:00").any()
    paths = {}
    for layout in ("local", "offset", "z", "twitter"):
        paths[layout] = tmp_path / f"{layout}.csv"
        time = "utcTimestamp" if layout == "twitter" else "time"
        frame.rename(columns={layout: time})[["user", time, "latitude", "longitude"]
                                              ].to_csv(paths[layout], index=False)
    assert frame["twitter"].iloc[0] == "Wed Mar 27 01:00:00 +0100 2024"
    want = sorted(utc.tz_localize(None).tolist() * 2)
    for layout in ("offset", "z", "twitter"):
        got = load_source(paths[layout], "pings").table.order_by("timestamp").execute()
        assert got["timestamp"].tolist() == want
    # Read as UTC, then the [mobility] timezone gives the local nights and working hours.
    toml = tmp_path / "berlin.toml"
    toml.write_text('[mobility]\ntimezone = "Europe/Berlin"\n')
    naive = run_mobility(paths["local"]).entities.frame
    for layout in ("offset", "z", "twitter"):
        zoned = run_mobility(paths[layout], config=load_config(toml, kind="pings"))
        pd.testing.assert_frame_equal(zoned.entities.frame, naive)


def test_geolife_files_and_folders_say_how_to_convert_them(shared_data: Path,
                                                           tmp_path: Path) -> None:
    import tarfile

    # Real GeoLife files: a folder of them said "the file is empty. Fix: export the pings
    # again", one of them only that .plt is no known type.
    folder = tmp_path / "Data" / "000" / "Trajectory"
    with tarfile.open(shared_data / "geolife-subset" / "geolife_users_000-009.tar.gz") as tar:
        member = next(m for m in tar if m.name.endswith(".plt"))
        folder.mkdir(parents=True)
        (folder / Path(member.name).name).write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]
    plt = next(folder.iterdir())
    fix = r"Fix: convert .*segwise\.datasets\.geolife_pings\(folder, 'pings\.parquet'\)"
    with pytest.raises(InputError, match=rf"\.plt: GeoLife trajectories \(\.plt\).*{fix}"):
        run_mobility(plt)
    # The same file renamed .csv was "one column found ... wrong delimiter?", and the
    # archive itself "unknown file type .tar.gz".
    renamed = tmp_path / "track.csv"
    renamed.write_bytes(plt.read_bytes())
    with pytest.raises(InputError, match=rf"track\.csv: GeoLife trajectories.*{fix}"):
        run_mobility(renamed)
    with pytest.raises(InputError, match=rf"tar\.gz: a tar archive, of GeoLife trajectories "
                                         rf"\(\.plt\).*; segwise reads one table per file\. "
                                         rf"{fix}"):
        run_mobility(shared_data / "geolife-subset" / "geolife_users_000-009.tar.gz")
    other = tmp_path / "pings.tar.gz"
    with tarfile.open(other, "w:gz") as tar:
        tar.add(renamed, arcname="pings.csv")
    with pytest.raises(InputError, match=r"pings\.tar\.gz: a tar archive; segwise reads one "
                                         r"table per file\. Fix: unpack it"):
        run_mobility(other)
    with pytest.raises(InputError, match=rf"Data: a folder without \.parquet files, of "
                                         rf"GeoLife.*{fix}"):
        run_mobility(tmp_path / "Data")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: a folder without \.parquet files\. Fix: "
                                         r"give a file, or a folder of Parquet files"):
        run_mobility(tmp_path / "empty")
    # And the converter the message names reads them.
    from segwise.datasets import geolife_pings

    converted = geolife_pings(tmp_path, tmp_path / "pings.parquet")
    assert converted.num_rows > 0 and set(converted.column("user_id").to_pylist()) == {"000"}


def test_a_user_who_never_leaves_has_a_home(tmp_path: Path) -> None:
    # Ten days at one place (a phone on one cell tower, a device at rest) is one stay:
    # with two visits needed for a stable location, the user had no place at all, no
    # home, and every part of the day "none". A stay of whole days counts one a day.
    rows = (_day_at(52.52, 13.40, "stays-home", days=10, step_min=30)
            + _day_at(48.14, 11.58, "tower", days=10, step_min=180))
    path = tmp_path / "one_place.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    users = run_mobility(path).entities.frame.set_index("user_id")
    assert (users["stays"] == 1).all() and (users["stable_locations"] == 1).all()
    assert users["home_found"].all() and users["works_at_home"].all()
    assert (users[["night_place", "afternoon_place"]] == "home+work").all().all()
    assert (users["home_share"] == 1.0).all() and (users["radius_km"] < 1e-6).all()
    # A single overnight stay elsewhere is still no stable location.
    trip = _day_at(52.52, 13.40, "trip", days=3, step_min=30)
    trip += [{"user": "trip", "time": f"2024-03-07 {h:02d}:00:00", "latitude": 50.11,
              "longitude": 8.68, "accuracy": 15.0} for h in range(6, 17)]
    path = tmp_path / "trip.csv"
    pd.DataFrame(trip).to_csv(path, index=False)
    assert run_mobility(path).entities.frame["stable_locations"].tolist() == [1]


@pytest.mark.parametrize(("key", "value"), [("null_island_deg", -0.1), ("null_island_deg", 5.0),
                                            ("max_swapped_share", 1.5),
                                            ("max_swapped_share", -0.2)])
def test_ping_rules_out_of_range_are_refused(key: str, value: float) -> None:
    # A negative null-island radius removed nothing and a share above 1 never stopped,
    # silently.
    from segwise.clean import PingRules
    from segwise.exceptions import ConfigError

    with pytest.raises(ConfigError, match=rf"^PingRules\({key}={value}\): must be "):
        PingRules(**{key: value})


def _lettered_pings(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """Pings whose coordinates are text with hemisphere letters, minutes and seconds.

    Berlin in decimal degrees with letters, Rio de Janeiro (south and west) in degrees,
    minutes and seconds and in degrees and decimal minutes; and three rows no notation
    reads. Returns the file and the decimal degrees every readable row stands for.
    """
    places = {
        "berlin": (52.52, 13.4, lambda la, lo: (f"{la:.2f}N", f"{lo:.1f} E")),
        "rio": (-22.906800, -43.172900,
                lambda la, lo: ("22°54'24.48\"S", "43°10'22.44\"W")),
        "rio-nmea": (-22.906800, -43.172900, lambda la, lo: ("S22 54.408", "W43 10.374")),
    }
    rows, truth = [], []
    for user, (lat, lon, write) in places.items():
        for row in _day_at(lat, lon, user, days=2, step_min=60):
            row["latitude"], row["longitude"] = write(lat, lon)
            rows.append(row)
            truth.append({"user_id": user, "lat": lat, "lon": lon})
    rows += [{"user": "x", "time": "2024-03-04 10:00:00", "latitude": "13.4E",
              "longitude": "52.52N", "accuracy": 15.0},  # the columns exchanged
             {"user": "x", "time": "2024-03-04 11:00:00", "latitude": "52°61'N",
              "longitude": "13.4E", "accuracy": 15.0},  # 61 minutes
             {"user": "x", "time": "2024-03-04 12:00:00", "latitude": "52.5NS",
              "longitude": "13.4E", "accuracy": 15.0}]
    path = tmp_path / "lettered.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path, pd.DataFrame(truth)


def _read_lettered(path: Path, engine: str) -> tuple[pd.DataFrame, list[str]]:
    source = load_source(path, "pings", engine=engine)
    kept = (source.table.select("user_id", "lat", "lon").to_pyarrow().to_pandas()
            .sort_values(["user_id", "lat", "lon"], ignore_index=True))
    return kept, sorted(source.quarantine_table.column("reason").to_pylist())


def test_coordinates_with_hemisphere_letters_and_minutes_are_read(tmp_path: Path) -> None:
    # Every one of these rows was "not a number", and a file of them was refused whole.
    path, truth = _lettered_pings(tmp_path)
    kept, reasons = _read_lettered(path, "duckdb")
    truth = truth.sort_values(["user_id", "lat", "lon"], ignore_index=True)
    assert len(kept) == len(truth)
    assert np.allclose(kept[["lat", "lon"]], truth[["lat", "lon"]], atol=1e-9)
    assert reasons == [
        "latitude: a latitude with the hemisphere letter E or W: the columns look swapped. "
        "Fix: map lat and lon the other way in columns=",
        "latitude: not a number", "latitude: not a number"]
    users = run_mobility(path, config=None).entities.frame.set_index("user_id")
    assert users.loc["rio", "home_cell"] == users.loc["rio-nmea", "home_cell"]


@pytest.mark.slow
@pytest.mark.spark
def test_lettered_coordinates_read_the_same_on_spark(tmp_path: Path,
                                                     spark_available: None) -> None:
    path, _ = _lettered_pings(tmp_path)
    duck, spark = _read_lettered(path, "duckdb"), _read_lettered(path, "spark")
    pd.testing.assert_frame_equal(duck[0], spark[0])
    assert duck[1] == spark[1]


def test_a_file_without_a_header_is_told_so(tmp_path: Path) -> None:
    # Foursquare's TSMC2014 check-ins come without a header: the first check-in was read
    # as the column names, and the fix offered was to map them ('[columns] user_id = ...'
    # among 6, 21580, 40.83...), not to say the file has no header.
    rows = [("6", "21580", "Food", 40.8340978, -73.9452672, -240,
             f"Mon Apr {16 + i // 24} {i % 24:02d}:00:00 +0000 2012") for i in range(48)]
    path = tmp_path / "checkins.txt"
    pd.DataFrame(rows).to_csv(path, sep="\t", header=False, index=False)
    with pytest.raises(InputError, match=(
            rf"^{path}: required column for user_id, timestamp, lat, lon not found: the first "
            r"line looks like data, not column names \(5 of 7 are numbers: 6, 21580, "
            r"40\.8340978\)\. Fix: if the file has no header, pass "
            r"read=ReadOptions\(header=False\) and name its 7 columns in "
            r"read=ReadOptions\(names=\.\.\.\); else rename the column, or pass columns=")):
        load_source(path, "pings")
    named = load_source(path, "pings", read=ReadOptions(header=False, names=(
        "user_id", "venue", "category", "lat", "lon", "offset", "utcTimestamp")))
    assert named.table.count().execute() == 48 and named.n_quarantined == 0
