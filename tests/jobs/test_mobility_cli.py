"""``segwise mobility`` in-process: files, segments, the campaign and its assumptions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from segwise.cli import app


def test_the_command_writes_users_places_segments_and_the_campaign(
        synthetic_pings: dict[str, Path], tmp_path: Path) -> None:
    sample = pd.read_parquet(synthetic_pings["pings"])
    keep = sample["subscriber"].isin(sorted(sample["subscriber"].unique())[:120])
    pings = tmp_path / "pings.parquet"
    sample[keep].to_parquet(pings, index=False)
    config = tmp_path / "segwise.toml"
    config.write_text('[campaign]\nresponse_rate = 0.03\ncontact_cost = 0.5\n'
                      '[mobility]\nprivacy = "h3"\nh3_resolution = 7\n')
    out = tmp_path / "out" / "users.parquet"
    store = tmp_path / "runs.duckdb"
    result = CliRunner().invoke(app, ["mobility", str(pings), "-o", str(out), "--pois",
                                      str(synthetic_pings["pois"]), "--config", str(config),
                                      "--report", str(tmp_path / "out" / "report.html"),
                                      "--store", str(store)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.parent.iterdir())
    assert names == ["report.html", "users.assignments.csv", "users.audit.csv",
                     "users.campaign.csv", "users.locations.parquet", "users.parquet",
                     "users.segments.csv"]
    text = " ".join(result.output.split())  # the console wraps long lines
    assert "Campaign (same budget)" in text and "Assumptions:" in text
    assert "one contact costs 0.50" in text
    assert "contacting 20% of all 120 users)" in text  # not "entities"
    users = pd.read_parquet(out)
    assert len(users) == 120 and users["interests"].notna().all()
    # H3 cells of resolution 7 for every stable location.
    import h3

    loc = pd.read_parquet(out.parent / "users.locations.parquet")
    assert {h3.get_resolution(c) for c in loc["cell"]} == {7}
    campaign = pd.read_csv(out.parent / "users.campaign.csv")
    assert {"targeted", "untargeted", "difference"} <= set(campaign["segment"])
    from segwise.store import Store

    stored = Store(str(store))
    (run,) = stored.runs()
    assert run["command"] == "mobility" and run["n_entities"] == 120
    # The segments it printed are the run's, with their actions, for the dashboard.
    assert stored.segmentations(run["run_id"]) == ["learned"]
    learned = stored.segments(run["run_id"], "learned")
    assert {s["segment"] for s in learned} == set(
        pd.read_csv(out.parent / "users.segments.csv")["name"])
    assert sum(s["size"] for s in learned) == 120
    stored.close()


def test_as_of_leaves_later_pings_out_and_counts_them(
        synthetic_pings: dict[str, Path], tmp_path: Path) -> None:
    # The docs promised "pings after the job's as-of date are left out and counted", and
    # the command had no --as-of: a run over the first two weeks needed a cut file.
    sample = pd.read_parquet(synthetic_pings["pings"])
    sample = sample[sample["subscriber"].isin(sorted(sample["subscriber"].unique())[:30])]
    pings = tmp_path / "pings.parquet"
    sample.to_parquet(pings, index=False)
    out = tmp_path / "users.parquet"
    result = CliRunner().invoke(app, ["mobility", str(pings), "-o", str(out), "--as-of",
                                      "2024-03-17", "--no-segments"])
    assert result.exit_code == 0, result.output
    audit = pd.read_csv(tmp_path / "users.audit.csv").set_index("step")["rows"]
    later = int((sample["event_time"] >= pd.Timestamp("2024-03-18")).sum())
    assert 0 < later < len(sample) and audit["after_as_of"] == later
    assert audit.sum() == len(sample)  # every ping in one step, kept included
    # The first two weeks (Monday 4 to Sunday 17 March): 14 days at most.
    assert pd.read_parquet(out)["active_days"].max() == 14


def test_too_few_users_to_segment_write_nothing_and_name_no_segments(
        synthetic_pings: dict[str, Path], tmp_path: Path) -> None:
    # Two users: the user table was written, then the run failed on "2 customer(s)",
    # leaving a user table with no segments beside it and no word of --no-segments.
    sample = pd.read_parquet(synthetic_pings["pings"])
    pings = tmp_path / "two.parquet"
    sample[sample["subscriber"].isin(["s1", "s2"])].to_parquet(pings, index=False)
    out = tmp_path / "out" / "users.parquet"
    result = CliRunner().invoke(app, ["mobility", str(pings), "-o", str(out)])
    assert result.exit_code == 1, result.output
    line = " ".join(result.output.split())
    assert ("two.parquet: only 2 user(s): too few to segment (two segments need 3). Fix: "
            "give more users; or add --no-segments to write the users alone") in line
    assert not out.parent.exists() or not any(out.parent.iterdir())
    result = CliRunner().invoke(app, ["mobility", str(pings), "-o", str(out), "--no-segments"])
    assert result.exit_code == 0, result.output
    assert sorted(pd.read_parquet(out)["user_id"]) == ["s1", "s2"]


def test_bad_config_is_one_line(tmp_path: Path, synthetic_pings: dict[str, Path]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[mobility]\nprivacy = "exact"\n')
    result = CliRunner().invoke(app, ["mobility", str(synthetic_pings["pings"]), "-o",
                                      str(tmp_path / "u.parquet"), "--config", str(config)])
    assert result.exit_code == 1
    assert '[mobility] privacy = "exact": choose grid, h3 or none' in result.output


def test_the_report_command_reports_on_pings(synthetic_pings: dict[str, Path],
                                             tmp_path: Path) -> None:
    sample = pd.read_parquet(synthetic_pings["pings"])
    pings = tmp_path / "pings.parquet"
    sample[sample["subscriber"].isin(sorted(sample["subscriber"].unique())[:60])].to_parquet(
        pings, index=False)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["report", str(pings), "--job", "mobility", "-o",
                                      str(out)])
    assert result.exit_code == 0, result.output
    assert "Where users live" in out.read_text(encoding="utf-8")
    # Its help says so (it named rfm and rfe only).
    help_text = " ".join(CliRunner().invoke(app, ["report", "--help"]).output.split())
    assert "mobility (pings)" in help_text
