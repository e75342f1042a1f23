"""The RFE job on event logs: sessions, features, named segments, engines and the CLI."""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from segwise.config import load_config
from segwise.datasets import avito_sample_config_path, avito_sample_path
from segwise.exceptions import ConfigError
from segwise.jobs import RFE_SEGMENTS, run_rfe


def _rfe(path: Path, config: Any = None, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # quantile bins collapse on clicks
        return run_rfe(path, config=config, **kwargs)


@pytest.fixture(scope="module")
def sample_config() -> Any:
    return load_config(avito_sample_config_path(), kind="events")


@pytest.fixture(scope="module")
def sample(sample_config: Any) -> Any:
    return _rfe(avito_sample_path(), sample_config)


def test_bundled_sample_reconciles_and_quarantines_with_reasons(sample: Any) -> None:
    import sqlite3

    with sqlite3.connect(avito_sample_path()) as con:
        n_stream = con.execute("SELECT count(*) FROM trainSearchStream").fetchone()[0]
        orphans = con.execute(
            "SELECT count(*) FROM trainSearchStream s LEFT JOIN SearchInfo i USING (SearchID) "
            "WHERE i.SearchID IS NULL").fetchone()[0]
        odd = con.execute(
            "SELECT count(*) FROM trainSearchStream s JOIN SearchInfo i USING (SearchID) "
            "WHERE i.SearchDate NOT LIKE '2015-%'").fetchone()[0]
        users = con.execute(
            "SELECT count(DISTINCT UserID) FROM trainSearchStream s JOIN SearchInfo i "
            "USING (SearchID) WHERE i.SearchDate LIKE '2015-%'").fetchone()[0]
    audit = dict(zip(sample.audit["step"], sample.audit["rows"], strict=True))
    assert sum(audit.values()) == n_stream
    assert audit["quarantined"] == orphans + odd and orphans > 0 and odd > 0
    reasons = sample.quarantine["reason"].value_counts().to_dict()
    assert reasons == {"SearchID: no row of SearchInfo matches": orphans,
                       "SearchDate: not a timestamp": odd}
    # Quarantined rows carry their row in the stream table and their raw values.
    assert sample.quarantine["row"].notna().all()
    assert sample.entities.n_entities == users


def test_every_user_lands_in_exactly_one_named_segment(sample: Any) -> None:
    users = sample.users
    assert users["user_id"].is_unique
    assert set(users["segment"]) <= set(RFE_SEGMENTS.patterns)
    assert users["segment"].notna().all()
    summary = sample.segment_summary()
    assert summary["users"].sum() == len(users)
    reach = sample.reach_table().to_pandas()
    assert reach["users"].sum() == len(users)
    assert reach["click_share"].sum() == pytest.approx(1.0)
    # The loyal click far more than their share; those not worth the spend never click.
    loyal = reach.set_index("segment").loc["Loyal"]
    assert loyal["click_share"] > 2 * loyal["share"]
    waste = users[users["segment"] == "Not worth the spend"]
    assert len(waste) and (waste["clicks"] == 0).all()


def test_features_are_consistent(sample: Any) -> None:
    u = sample.users
    assert (u["sessions"] >= 1).all() and (u["sessions"] <= u["events"]).all()
    # A session may run past midnight, so active days can exceed sessions by a little.
    assert (u["active_days"] >= 1).all() and (u["active_days"] <= u["tenure_days"] + 1).all()
    assert (u["active_days"] <= 2 * u["sessions"]).all()
    assert (u["searches"] >= u["sessions"]).all() and (u["searches"] <= u["events"]).all()
    assert np.allclose(u["events_per_session"], u["events"] / u["sessions"])
    assert (u["clicks"] <= u["events"]).all()
    clicked = u["clicks"] > 0
    assert u.loc[clicked, "click_recency_days"].notna().all()
    assert u.loc[~clicked, "click_recency_days"].isna().all()
    assert (u.loc[clicked, "click_recency_days"] >= u.loc[clicked, "recency_days"]).all()
    # Shrinkage: users with few events sit near the log's rate.
    rate = u["clicks"].sum() / u["events"].sum()
    few = u["events"] <= 5
    assert (abs(u.loc[few, "ctr_smoothed"] - rate) < abs(u.loc[few, "ctr"] - rate) + 1e-12).all()
    assert u["active_hour_of_week"].between(0, 167).all()
    assert sample.as_of == dt.date(2015, 5, 21)
    assert (u["recency_days"] >= 1).all()


def _clicks(rows: list[tuple[str, str, str]], tmp_path: Path) -> Path:
    path = tmp_path / "clicks.csv"
    pd.DataFrame(rows, columns=["visitor", "event_time", "event_type"]).to_csv(path, index=False)
    return path


def test_sessions_are_cut_at_the_configured_gap(tmp_path: Path) -> None:
    rows = [
        ("a", "2024-03-04 10:00:00", "view"), ("a", "2024-03-04 10:10:00", "click"),
        ("a", "2024-03-04 10:39:00", "view"),  # 29 min later: same session
        ("a", "2024-03-04 11:20:00", "view"),  # 41 min later: new session
        ("b", "2024-03-05 09:00:00", "view"), ("b", "2024-03-05 09:00:00", "search"),
    ]
    path = _clicks(rows, tmp_path)
    users = _rfe(path).users.set_index("user_id")
    assert users.loc["a", "sessions"] == 2 and users.loc["b", "sessions"] == 1
    # 39 minutes in the first session, 0 in the second.
    assert users.loc["a", "session_minutes"] == pytest.approx(39 / 2)
    assert users.loc["a", "events_per_session"] == 2.0
    assert users.loc["b", "searches"] == 1  # without search ids, events named "search"
    cfg = tmp_path / "gap.toml"
    cfg.write_text("[sessions]\ngap_minutes = 20\n[events]\ndeduplicate = false\n")
    users = _rfe(path, load_config(cfg, kind="events")).users.set_index("user_id")
    assert users.loc["a", "sessions"] == 3
    assert users.loc["a", "active_hour_of_week"] == 10  # Monday 10:00


def test_a_job_takes_its_own_sections_reference_date(tmp_path: Path) -> None:
    """``[rfe] as_of`` cuts the log; ``[rfm] as_of`` is the order lines' and never does."""
    path = _clicks([("a", "2024-03-04 10:00:00", "view"), ("a", "2024-03-09 10:00:00", "view"),
                    ("b", "2024-03-08 09:00:00", "view")], tmp_path)
    cfg = tmp_path / "dates.toml"
    cfg.write_text('[rfm]\nas_of = "2024-03-05"\n')
    run = _rfe(path, load_config(cfg, kind="events"))
    assert run.as_of == dt.date(2024, 3, 10) and len(run.users) == 2
    cfg.write_text('[rfm]\nas_of = "2024-03-08"\n[rfe]\nas_of = "2024-03-05"\n')
    run = _rfe(path, load_config(cfg, kind="events"))
    assert run.as_of == dt.date(2024, 3, 5) and run.users["user_id"].tolist() == ["a"]
    assert run.audit.set_index("step").loc["after_as_of"].iloc[0] == 2


def test_a_log_without_flags_names_its_clicks_and_conversions(tmp_path: Path) -> None:
    """A view/cart/purchase log (RetailRocket's layout: epoch milliseconds, no flags)."""
    start = int(pd.Timestamp("2015-06-01").value // 10**6)
    rows = [(start + i * 3_600_000, f"v{i % 7}", event, i)
            for i, event in enumerate(["view", "addtocart", "Transaction", "view", "click",
                                       "Ad-Click", "purchase", "view"] * 14)]
    path = tmp_path / "events.csv"
    pd.DataFrame(rows, columns=["timestamp", "visitorid", "event", "itemid"]).to_csv(
        path, index=False)
    run = _rfe(path)
    users = run.users.set_index("user_id")
    assert users["clicks"].sum() == 28 and users["conversions"].sum() == 28
    assert run.score_columns == ("recency_days", "clicks", "sessions")
    # Without any click, frequency is the conversions; without those, the events.
    no_clicks = pd.DataFrame([r for r in rows if "lick" not in r[2]],
                             columns=["timestamp", "visitorid", "event", "itemid"])
    no_clicks.to_csv(path, index=False)
    run = _rfe(path)
    assert run.score_columns == ("recency_days", "conversions", "sessions")
    assert "median_conversions" in run.segment_summary_table().column_names
    no_clicks[no_clicks["event"] == "view"].to_csv(path, index=False)
    assert _rfe(path).score_columns == ("recency_days", "events", "sessions")


def _reused_session_ids(path: Path) -> Path:
    """A log whose session ids are per-day counters, as many apps and servers write them."""
    rows = [
        # user 7: session "1" on Monday, "2" that afternoon, and "1" again on Thursday.
        ("7", "1", "2024-03-04 09:00:00"), ("7", "1", "2024-03-04 09:10:00"),
        ("7", "1", "2024-03-04 09:25:00"), ("7", "2", "2024-03-04 14:00:00"),
        ("7", "2", "2024-03-04 14:05:00"), ("7", "1", "2024-03-07 09:00:00"),
        ("7", "1", "2024-03-07 09:20:00"),
        # user 8: two ids a minute apart stay two sessions; one id open across a 2 h
        # pause (the app left in the background) is two visits.
        ("8", "s1", "2024-03-04 10:00:00"), ("8", "s1", "2024-03-04 10:01:00"),
        ("8", "s2", "2024-03-04 10:02:00"), ("8", "s2", "2024-03-04 10:04:00"),
        ("8", "s2", "2024-03-04 12:04:00"), ("8", "s2", "2024-03-04 12:10:00"),
        # user 9: events without an id are cut by the gap alone.
        ("9", None, "2024-03-05 08:00:00"), ("9", None, "2024-03-05 08:20:00"),
        ("9", None, "2024-03-05 09:00:00"),
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "session_id", "timestamp"])
    frame.assign(timestamp=pd.to_datetime(frame["timestamp"])).to_parquet(path)
    return path


def test_given_session_ids_never_join_events_across_a_pause(tmp_path: Path) -> None:
    users = _rfe(_reused_session_ids(tmp_path / "s.parquet")).users.set_index("user_id")
    # Monday's "1" and Thursday's "1" are two sessions, not one of three days.
    assert users.loc["7", ["sessions", "events", "active_days"]].tolist() == [3, 7, 2]
    assert users.loc["7", "session_minutes"] == pytest.approx((25 + 5 + 20) / 3)
    assert users.loc["8", "sessions"] == 3
    assert users.loc["8", "session_minutes"] == pytest.approx((1 + 2 + 6) / 3)
    assert users.loc["9", ["sessions", "session_minutes"]].tolist() == [2, 10]
    # A longer gap joins what the ids allow, and no more.
    cfg = tmp_path / "gap.toml"
    cfg.write_text("[sessions]\ngap_minutes = 180\n")
    users = _rfe(tmp_path / "s.parquet",
                 load_config(cfg, kind="events")).users.set_index("user_id")
    assert users["sessions"].tolist() == [3, 2, 1]


@pytest.mark.spark
def test_duckdb_and_spark_cut_given_sessions_alike(spark_available: None,
                                                   tmp_path: Path) -> None:
    path = _reused_session_ids(tmp_path / "s.parquet")
    pd.testing.assert_frame_equal(_rfe(path, engine="spark").users, _rfe(path).users)


def test_online_shoppers_sessions_give_their_engagement(shared_data: Path,
                                                        tmp_path: Path) -> None:
    """UCI Online Shoppers Intention: each session (its own user) becomes page-view events.

    The page counts and durations of the real sessions must come back as the users'
    session depth and duration, and the purchases as conversions.
    """
    src = pd.read_csv(shared_data / "uci-online-shoppers-intention" /
                      "online_shoppers_intention.csv.gz", sep=";").head(3000)
    pages = src[["Administrative", "Informational", "ProductRelated"]].sum(axis=1)
    seconds = src[["Administrative_Duration", "Informational_Duration",
                   "ProductRelated_Duration"]].sum(axis=1).round().astype(int)
    keep = (pages >= 2) & (seconds < 25 * 60 * (pages - 1))  # no pause beyond the gap
    src, pages, seconds = src[keep], pages[keep].astype(int), seconds[keep]
    rows = []
    start = pd.Timestamp("2017-05-01")
    for i, (n, d, rev, os_) in enumerate(zip(pages, seconds, src["Revenue"],
                                             src["OperatingSystems"], strict=True)):
        offsets = np.linspace(0, d, n).round().astype(int)  # pages spread over the session
        for j, off in enumerate(offsets):
            rows.append((f"s{i}", start + pd.Timedelta(days=i % 28, seconds=int(off)),
                         "page_view", bool(rev) and j == n - 1, f"os{os_}", f"/p{j}"))
    events = pd.DataFrame(rows, columns=["visitor_id", "timestamp", "event", "purchase",
                                         "operating_systems", "page"])
    path = tmp_path / "shoppers.parquet"
    events.to_parquet(path)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[rfe]\nscore = ["recency_days", "conversions", "events_per_session"]\n')
    result = _rfe(path, load_config(cfg, kind="events"))
    users = result.users.set_index("user_id").loc[[f"s{i}" for i in range(len(src))]]
    assert (users["sessions"] == 1).all()
    assert users["events_per_session"].to_numpy() == pytest.approx(pages.to_numpy())
    assert users["session_minutes"].to_numpy() == pytest.approx(seconds.to_numpy() / 60,
                                                                abs=1 / 60)
    assert users["conversions"].sum() == int(src["Revenue"].sum())
    assert users["device"].str.startswith("os").all()
    assert set(users["segment"]) <= set(RFE_SEGMENTS.patterns)


def test_settings_are_validated(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[sessions]\ngap_minutes = 0\n")
    with pytest.raises(ConfigError, match="gap_minutes"):
        load_config(cfg, kind="events")
    cfg.write_text('[rfe]\nscore = ["recency_days", "nope", "sessions"]\n')
    with pytest.raises(ConfigError, match="nope"):
        load_config(cfg, kind="events")


def test_cli_runs_the_bundled_demo_and_converts(tmp_path: Path) -> None:
    from segwise.cli import app
    from segwise.store import Store

    out = tmp_path / "users.parquet"
    store = tmp_path / "runs.duckdb"
    result = CliRunner().invoke(app, ["rfe", "-o", str(out), "--store", str(store)])
    assert result.exit_code == 0, result.output
    for word in ("Loyal", "Convertible", "Not worth the spend", "How to reach"):
        assert word in result.output
    back = pd.read_parquet(out)
    assert back["segment"].notna().all() and back["user_id"].is_unique
    stored = Store(str(store))
    (run,) = stored.runs()
    named = stored.segments(run["run_id"], "rule")
    assert sum(s["size"] for s in named) == len(back)
    assert {s["segment"] for s in named} == set(back["segment"])
    stored.close()
    # The output may not overwrite an input.
    again = CliRunner().invoke(app, ["rfe", str(avito_sample_path()), "-o",
                                     str(avito_sample_path())])
    assert again.exit_code == 1 and "input" in again.output
    parts = tmp_path / "parquet"
    result = CliRunner().invoke(app, ["convert", str(avito_sample_path()), "-o", str(parts),
                                      "--config", str(avito_sample_config_path())])
    assert result.exit_code == 0, result.output
    assert "40,282 rows" in result.output


def test_converted_parquet_gives_the_same_users_and_quarantine(sample: Any,
                                                               sample_config: Any,
                                                               tmp_path: Path) -> None:
    from segwise.io import convert_to_parquet

    done = convert_to_parquet(avito_sample_path(), tmp_path / "pq", "events",
                              columns=sample_config.columns, read=sample_config.read)
    assert done.rows == sum(sample.audit["rows"])
    cfg = dataclasses.replace(sample_config, read=dataclasses.replace(
        sample_config.read, table=None, join=()))
    again = _rfe(done.path, cfg)
    pd.testing.assert_frame_equal(again.users, sample.users)
    pd.testing.assert_frame_equal(again.quarantine, sample.quarantine)


@pytest.mark.slow
@pytest.mark.spark
def test_duckdb_and_spark_give_identical_users(spark_available: None, sample: Any,
                                               sample_config: Any, tmp_path: Path) -> None:
    from segwise.io import convert_to_parquet

    spark = _rfe(avito_sample_path(), sample_config, engine="spark")  # SQLite through JDBC
    pd.testing.assert_frame_equal(spark.users, sample.users)
    pd.testing.assert_frame_equal(spark.audit, sample.audit)
    assert sorted(spark.quarantine["reason"]) == sorted(sample.quarantine["reason"])
    done = convert_to_parquet(avito_sample_path(), tmp_path / "pq", "events",
                              columns=sample_config.columns, read=sample_config.read)
    cfg = dataclasses.replace(sample_config, read=dataclasses.replace(
        sample_config.read, table=None, join=()))
    pd.testing.assert_frame_equal(_rfe(done.path, cfg, engine="spark").users, sample.users)


def test_learned_segments_and_the_report_take_the_users(sample: Any) -> None:
    from segwise.report import ReportExtras, build_report, render_html
    from segwise.segment import segment_customers

    seg = segment_customers(sample.entities, n_clusters=4, compare=None, embed=(),
                            random_state=0)
    assert seg.features == ["recency_days", "clicks", "active_days", "sessions",
                            "events_per_session", "categories", "ctr_smoothed"]
    # The users as pandas holds them (click_recency_days, an integer with gaps, as floats)
    # segment alike: given back, they were refused ("double, declared integer").
    frame = sample.entities.frame
    assert frame["click_recency_days"].isna().any()
    again = segment_customers(frame, n_clusters=4, compare=None, embed=(), random_state=0)
    pd.testing.assert_frame_equal(again.assignments, seg.assignments)
    assert len(seg.assignments) == sample.entities.n_entities
    assert seg.assignments["segment_name"].notna().all()
    report = build_report(sample, ReportExtras.from_segmentation(seg), source="sample")
    assert report.title == "User segments"              # users, not customers
    keys = [s.key for s in report.sections]
    assert keys == ["recommendation", "overview", "cleaning", "activity", "rfe", "segments",
                    "story", "clusters", "profiles", "embedding", "campaign"]
    funnel = next(c for c in report.charts if c.key == "funnel")
    assert "clicks" in funnel.reading and "impression events" in str(funnel.figure.data[0].y)
    story = report.table("reach")
    assert story.frame["users"].sum() == sample.entities.n_entities
    for answer in ("Loyal:", "Convertible:", "Not worth the spend:"):
        assert answer in story.reading
    html = render_html(report)
    assert "Sessions per day" in html and "How to reach each segment" in html


def _events_parquet(events: pd.DataFrame, path: Path, *, nan: bool) -> Path:
    """Write events; with ``nan``, missing floats are stored as NaN, not as null."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({c: pa.array(events[c].to_numpy(), from_pandas=not nan)
                             if events[c].dtype == "float64" else pa.array(events[c])
                             for c in events.columns}), path)
    return path


def test_the_shared_parse_rules_hold_for_events(sample_config: Any, tmp_path: Path) -> None:
    """Ids, dates and numbers are read as for order lines (issue 12): nothing corrupts."""
    from segwise.io import convert_to_parquet

    done = convert_to_parquet(avito_sample_path(), tmp_path / "pq", "events",
                              columns=sample_config.columns, read=sample_config.read)
    events = pd.read_parquet(done.path)
    events = events[events["_join_reason"].isna()].drop(columns=["_row", "_join_reason"])
    events = events.reset_index(drop=True)
    assert events["IsClick"].isna().sum() > 1000  # ads that are not contextual: no click flag
    events.loc[0, "UserID"] = 1.5  # was rounded into user 2
    events.loc[1, "SearchDate"] = "2099-01-01 10:00:00.0"  # moved every recency to 2099
    cfg = dataclasses.replace(sample_config, read=dataclasses.replace(
        sample_config.read, table=None, join=()))
    as_of = dt.date(2015, 5, 10)
    dates = pd.to_datetime(events["SearchDate"], errors="coerce")
    later = int((dates.iloc[2:] >= pd.Timestamp(as_of + dt.timedelta(days=1))).sum())
    assert later > 0
    runs = [_rfe(_events_parquet(events, tmp_path / f"e{nan}.parquet", nan=nan), cfg,
                 as_of=as_of) for nan in (False, True)]
    for run in runs:
        reasons = run.quarantine["reason"].tolist()
        assert "UserID: a fractional number is not an id" in reasons
        assert any(r.startswith("SearchDate: dated after") for r in reasons)
        audit = run.audit.set_index("step")["rows"]
        assert audit.sum() == len(events) and audit["after_as_of"] == later
        assert (run.users["recency_days"] >= 0).all()  # nothing after the as-of date
        assert (run.users["last_seen"] < pd.Timestamp(as_of + dt.timedelta(days=1))).all()
    # A NaN click flag (how pandas writes a missing one) is no click, as null is.
    pd.testing.assert_frame_equal(runs[1].users, runs[0].users)


def test_columns_rfe_does_not_use_are_not_read_unless_copies_are_merged(
        tmp_path: Path) -> None:
    events = pd.DataFrame({
        "UserID": ["u1", "u1", "u1", "u2"],
        "SearchDate": ["2024-03-04 10:00:00", "2024-03-04 10:00:00", "2024-03-04 10:05:00",
                       "2024-03-05 09:00:00"],
        "AdID": [7.0, 8.0, 1.5, 7.0],  # 1.5: no ad id
        "IsClick": [0, 1, 0, 0],
    })
    path = _events_parquet(events, tmp_path / "ads.parquet", nan=False)
    runs = {}
    for dedup in (False, True):
        cfg = tmp_path / f"d{dedup}.toml"
        cfg.write_text(f"[events]\ndeduplicate = {str(dedup).lower()}\n"
                       "[read]\nmax_quarantine_share = 0.5\n")
        runs[dedup] = _rfe(path, load_config(cfg, kind="events"))
    # Without merging copies, RFE reads no ad: the odd ad id costs no event.
    assert "object_id" not in runs[False].cleaned.roles
    assert runs[False].quarantine.empty
    assert runs[False].users.set_index("user_id").loc["u1", "events"] == 3
    # Copies are told apart by every column, the ad included: it is read and checked.
    assert runs[True].cleaned.roles["object_id"] == "AdID"
    assert runs[True].quarantine["reason"].tolist() == [
        "AdID: a fractional number is not an id"]
    assert runs[True].users.set_index("user_id").loc["u1", "events"] == 2


def test_a_ga4_shaped_export_is_read_without_a_config(tmp_path: Path) -> None:
    """GA4's BigQuery export: ``user_pseudo_id`` and ``event_timestamp`` in microseconds."""
    start = int(pd.Timestamp("2024-03-01 23:50").value // 10**3)  # microseconds
    minute = 60 * 10**6
    rows = [("u1", start, "page_view"), ("u1", start + 20 * minute + 123, "click"),
            ("u2", start - 3 * 24 * 60 * minute, "page_view"), ("u2", start, "purchase")]
    path = tmp_path / "ga4.csv"
    pd.DataFrame(rows, columns=["user_pseudo_id", "event_timestamp", "event_name"]).to_csv(
        path, index=False)
    run = _rfe(path)
    assert run.audit.set_index("step").loc["kept"].iloc[0] == 4
    users = run.users.set_index("user_id")
    assert users["last_seen"].tolist() == [pd.Timestamp("2024-03-02 00:10"),
                                           pd.Timestamp("2024-03-01 23:50")]
    # u1's visit crosses midnight: one session of 20 minutes on two days.
    assert users.loc["u1", ["sessions", "clicks", "active_days"]].tolist() == [1, 1, 2]
    assert users.loc["u1", "session_minutes"] == 20
    assert users.loc["u2", ["sessions", "conversions"]].tolist() == [2, 1]


def _ga4_parquet(path: Path) -> Path:
    """GA4's BigQuery export as Parquet: ``device`` is a record, ``event_params`` a list."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    start = int(pd.Timestamp("2024-03-04 10:00").value // 10**3)
    minute = 60 * 10**6
    params = [{"key": "page_location", "value": {"string_value": "/a"}}]
    pq.write_table(pa.table({
        "event_timestamp": [start, start + minute, start + 2 * minute],
        "event_name": ["page_view", "click", "purchase"],
        "event_params": [params] * 3,
        "user_pseudo_id": ["u1", "u1", "u2"],
        "device": [{"category": "mobile", "operating_system": "iOS"}] * 2
        + [{"category": "desktop", "operating_system": "Windows"}],
    }), path)
    return path


def test_a_ga4_parquet_export_with_nested_records_reads_their_fields(tmp_path: Path) -> None:
    # The device record was taken whole for the device role and read as its text
    # ("{'category': mobile, 'operating_system': iOS}"); its fields are columns named by
    # their path, and device.category is the device.
    users = _rfe(_ga4_parquet(tmp_path / "ga4.parquet")).users.set_index("user_id")
    assert users["device"].tolist() == ["mobile", "desktop"]
    assert users[["clicks", "conversions"]].to_numpy().tolist() == [[1, 0], [0, 1]]


@pytest.mark.spark
def test_spark_reads_nested_records_alike(spark_available: None, tmp_path: Path) -> None:
    path = _ga4_parquet(tmp_path / "ga4.parquet")
    pd.testing.assert_frame_equal(_rfe(path, engine="spark").users, _rfe(path).users)


def test_an_as_of_date_before_every_event_names_the_file_and_the_fix(tmp_path: Path) -> None:
    # Once: "input: no event is left after cleaning. Fix: check the [columns] mapping",
    # though the mapping was right and the as-of date was the cause.
    from segwise.cli import app
    from segwise.exceptions import InputError

    path = tmp_path / "events.csv"
    path.write_text("user_id,timestamp,event\na,2024-03-01 10:00:00,view\n"
                    "b,2024-03-02 10:00:00,click\n")
    with pytest.raises(InputError, match=r"events\.csv: no event is left after cleaning \(see "
                                         r"the audit: after_as_of 2\)\. Fix: choose a later "
                                         r"as_of= than 2024-02-01"):
        _rfe(path, as_of=dt.date(2024, 2, 1))
    out = CliRunner().invoke(app, ["rfe", str(path), "--as-of", "2024-02-01",
                                   "-o", str(tmp_path / "u.parquet")])
    assert out.exit_code == 1 and "choose a later --as-of (or [rfe] as_of)" in out.output


def test_a_log_of_one_user_gets_its_report(tmp_path: Path) -> None:
    # One user (a test export, a filtered log): the report once ended in a scikit-learn
    # traceback ("Found array with 1 sample(s)") while sweeping segments, then in an
    # IndexError drawing the map. Now learned segments are left out with the reason.
    from segwise.cli import app

    path = tmp_path / "one.csv"
    path.write_text("user_id,timestamp,event\nu1,2024-03-01 23:55:00,view\n"
                    "u1,2024-03-02 00:05:00,click\n")
    store = tmp_path / "runs.duckdb"
    out = CliRunner().invoke(app, ["report", str(path), "--job", "rfe",
                                   "-o", str(tmp_path / "r.html"), "--store", str(store)])
    assert out.exit_code == 0, out.output
    html = (tmp_path / "r.html").read_text()
    assert f"Learned segments are not shown: {path}: only 1 user(s): too few" in html
    # The stored run names its job (it was blank for every report).
    from segwise.store import Store

    [run] = Store(store).runs()
    assert (run["command"], run["job"], run["kind"]) == ("report", "rfe", "events")


def test_categories_and_devices_stored_as_floats_read_as_their_integers(
        tmp_path: Path) -> None:
    # pandas stores an integer column with a gap as floats: the bundled log's category 5
    # and device 1 once came out as "5.0" and "1.0" from such a copy of it.
    import sqlite3

    with sqlite3.connect(avito_sample_path()) as con:
        log = pd.read_sql("SELECT s.SearchID, s.IsClick, i.UserID, i.SearchDate, "
                          "i.CategoryID, u.UserDeviceID FROM trainSearchStream s "
                          "JOIN SearchInfo i USING (SearchID) JOIN UserInfo u USING (UserID)",
                          con)
    log = log[log["SearchDate"].str.startswith("2015-")]
    floats = log.astype({"CategoryID": "float64", "UserDeviceID": "float64"})
    floats.loc[floats.index[0], "CategoryID"] = np.nan  # the gap that makes them floats
    path = tmp_path / "log.parquet"
    floats.to_parquet(path)
    users = _rfe(path, dataclasses.replace(load_config(None, kind="events"), columns={
        "device": "UserDeviceID"}), as_of=dt.date(2015, 5, 21)).users
    assert set(users["category"].dropna()) <= set(log["CategoryID"].astype(str))
    assert set(users["device"].dropna()) <= set(log["UserDeviceID"].astype(str))


def test_convert_never_replaces_a_folder_that_holds_more_than_its_parts(
        tmp_path: Path) -> None:
    # `segwise convert log.sqlite -o .` once deleted the folder it ran in: the database,
    # the config and everything else (the output folder is replaced).
    import shutil

    from segwise.cli import app

    db, config = tmp_path / "log.sqlite", tmp_path / "log.toml"
    shutil.copy(avito_sample_path(), db)
    shutil.copy(avito_sample_config_path(), config)
    (tmp_path / "notes.txt").write_text("keep me")
    (tmp_path / "LICENSE").write_text("keep me")

    def convert(out: Path) -> Any:
        return CliRunner().invoke(app, ["convert", str(db), "--config", str(config),
                                        "-o", str(out)])

    before = sorted(p.name for p in tmp_path.iterdir())
    for out, says in ((tmp_path, "holds more than Parquet parts (LICENSE, log.sqlite, "
                                 "log.toml, ...), and convert replaces the folder"),
                      (tmp_path / "LICENSE", "is a file; convert writes a folder of Parquet "
                                             "parts"),
                      # A usage error (exit 2): -o parts.csv wrote a folder of Parquet parts
                      # under that name, and -o log.sqlite is no folder either.
                      (tmp_path / "parts.csv", "convert writes a folder of Parquet parts, "
                                               "not a .csv file. Fix: name a folder, e.g. -o "
                                               "parts/ or -o parts.parquet"),
                      (db, "not a .sqlite file"),
                      (tmp_path / "parts.csv.gz", "not a .gz file"),
                      # Under a file: "(File exists)" said nothing of which file.
                      (db / "a" / "parts", f"cannot create its folder, {db} is a file. Fix: "
                                           "name a folder outside it"),
                      # In a folder nobody can write in (even root): DuckDB's failure to
                      # write it was blamed on the database, "Fix: check that the file is
                      # a readable database".
                      *([(Path("/proc/parts"), "cannot write its folder in /proc (")]
                        if Path("/proc/self").is_dir() else [])):
        result = convert(out)
        said = " ".join(result.output.split())
        usage = says.startswith(("convert writes", "not a"))
        assert result.exit_code == (2 if usage else 1), said
        assert said.startswith(f"error: {out}: ") and says in said
        assert "readable database" not in said
        assert sorted(p.name for p in tmp_path.iterdir()) == before
    # A new folder (its parents created), and again over the parts it wrote.
    parts = tmp_path / "new" / "parts"
    for _ in range(2):
        result = convert(parts)
        assert result.exit_code == 0, result.output
        assert "40,282 rows" in result.output
    assert {p.suffix for p in parts.iterdir()} == {".parquet"}
    # A database whose table has no rows: one line, exit 1, and nothing written.
    import sqlite3

    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM trainSearchStream")
    result = convert(tmp_path / "empty")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: {db}: table trainSearchStream has no rows; nothing was written. Fix: set "
        "[read] table to the table that holds the events, or export the rows too"]
    assert not (tmp_path / "empty").exists()


def _impressions() -> pd.DataFrame:
    """An ad log whose impressions of one search share everything RFE reads.

    With copies of a clock error (1970), of a date that does not parse and of a day after
    the as-of date, each twice, so that every audit step counts more than one row.
    """
    rng = np.random.default_rng(7)
    rows = []
    for search in range(1, 301):
        user = f"u{rng.integers(1, 25)}"
        when = (pd.Timestamp("2024-03-01") + pd.Timedelta(minutes=int(rng.integers(0, 40_000))))
        category, device = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        for _ in range(int(rng.integers(1, 6))):
            rows.append((user, search, str(when), int(rng.random() < 0.1), category, device))
    for date in ("1970-01-01 00:00:00", "not a date", "2024-05-01 10:00:00"):
        rows += [("u1", 999, date, 0, 1, 1)] * 2
    return pd.DataFrame(rows, columns=["UserID", "SearchID", "SearchDate", "IsClick",
                                       "CategoryID", "UserDeviceID"])


def test_a_database_log_is_stored_counted_and_gives_what_its_rows_give(
        tmp_path: Path) -> None:
    """Equal impressions are stored once with a count; every figure weights by it."""
    import sqlite3

    from segwise.report import build_report

    events = _impressions()
    db = tmp_path / "ads.sqlite"
    with sqlite3.connect(db) as con:
        events.to_sql("stream", con, index=False)
    events.to_csv(tmp_path / "ads.csv", index=False)
    cfg = tmp_path / "rfe.toml"
    cfg.write_text('[read]\ntable = "stream"\nmax_quarantine_share = 0.5\n'
                   "[columns]\ndevice = \"UserDeviceID\"\n[events]\ndeduplicate = false\n")
    config = load_config(cfg, kind="events")
    counted = _rfe(db, config, as_of="2024-04-01")
    rows = _rfe(tmp_path / "ads.csv", dataclasses.replace(
        config, read=dataclasses.replace(config.read, table=None)), as_of="2024-04-01")
    # The database's rows are stored counted: fewer rows, the same events.
    assert counted.cleaned.grouped and not rows.cleaned.grouped
    # The loader says it stored them counted; the cleaning takes that, not a column's name.
    from segwise.io import load_source

    assert load_source(db, "events", read=config.read, columns=config.columns,
                       counted=True).counted
    assert not load_source(db, "events", read=config.read, columns=config.columns).counted
    stored = counted.cleaned.rows
    n_stored, n_events = stored.count().execute(), stored._n.sum().execute()
    # (less the 2 rows quarantined and the 2 after the as-of date)
    assert n_events == len(events) - 4 and n_stored < n_events / 2
    # The audit reconciles in rows: copies of a clock error or a later day are each
    # counted, and rows that do not parse are quarantined one by one, with their reason.
    audit = dict(zip(counted.audit["step"], counted.audit["rows"], strict=True))
    assert audit == dict(zip(rows.audit["step"], rows.audit["rows"], strict=True))
    assert audit["quarantined"] == audit["after_as_of"] == audit["clock_error"] == 2
    assert sum(audit.values()) == len(events)
    assert counted.quarantine["reason"].tolist() == ["SearchDate: not a timestamp"] * 2
    assert counted.quarantine["row"].tolist() == rows.quarantine["row"].tolist()
    pd.testing.assert_frame_equal(counted.users, rows.users)
    pd.testing.assert_frame_equal(pd.DataFrame(counted.reach_table().to_pydict()),
                                  pd.DataFrame(rows.reach_table().to_pydict()))
    # The report's events, clicks and sessions per day weight by the count too.
    charts = [{c.key: (c.reading, c.figure.to_json()) for c in build_report(r).charts
               if c.key in ("funnel", "sessions_per_day")} for r in (counted, rows)]
    assert charts[0] == charts[1] and len(charts[0]) == 2
    assert f"Of {audit['kept']:,} events" in charts[0]["funnel"][0]
