"""A fifth source kind, defined here through the public extension points only.

Subscription renewals (account, plan, start, end, amount) get a role set, one cleaning
rule and a features function, and then run end to end through the job runner, learned
segments, profiles, the writers and the report. Nothing downstream of ``features`` was
told about them: if this test needed a change there, the design would not be done.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from segwise._engine import fetch_numpy, numpy_to_arrow
from segwise.clean import CleanedRows, Rule, clean_rows
from segwise.config import SegwiseConfig
from segwise.features import EntityTable, Feature, FeatureSet, register_feature_set
from segwise.io import (
    SOURCE_PREFIX,
    Role,
    SourceKind,
    as_float,
    as_id,
    as_text,
    id_checks,
    is_blank,
    number_checks,
    parse_timestamp,
    register_kind,
)
from segwise.jobs import Job, register_job, run_job
from segwise.profile import profile_segments
from segwise.report import ReportExtras, build_report, render_html
from segwise.segment import segment_customers


def _parse(raw: Any, roles: Any, read: Any, path: Path) -> Any:
    r = {role: raw[SOURCE_PREFIX + col] for role, col in roles.items()}
    start = parse_timestamp(r["start"], read, path, spark=False)
    end = parse_timestamp(r["end"], read, path, spark=False)
    amount = as_float(r["amount"])
    reason = ibis.cases(
        (is_blank(r["account_id"]), "account: empty"),
        *id_checks(r["account_id"], "account"),
        (start.isnull(), "start: not a date"),
        (end.isnull(), "end: not a date"),
        *number_checks(r["amount"], "amount"),
        else_=ibis.null("string"),
    )
    return raw.mutate(
        account_id=as_id(r["account_id"]),
        plan=as_text(r["plan"]) if "plan" in r else ibis.null("string"),
        start=start, end=end, amount=amount, _reason=reason,
    )


RENEWALS = register_kind(SourceKind(
    name="subscriptions",
    rows="renewals",
    roles=(
        Role("account_id", ("account", "accountid", "subscriber"), required=True),
        Role("plan", ("plan", "tier")),
        Role("start", ("start", "startdate", "from"), required=True),
        Role("end", ("end", "enddate", "to"), required=True),
        Role("amount", ("amount", "price", "fee"), required=True),
    ),
    columns={"account_id": "string", "plan": "string", "start": "timestamp",
             "end": "timestamp", "amount": "float64"},
    parse=_parse,
    timestamp_role="start",
), replace=True)

END_BEFORE_START = Rule("end_before_start", "the renewal ends before it starts",
                        lambda t: t.end < t.start)

RENEWAL_FEATURES = register_feature_set(FeatureSet(
    name="renewals",
    kind="subscriptions",
    entity="account",
    id_col="account_id",
    features=(
        Feature("days_since_end", "integer", "days", "days since the last term ended",
                cluster=True),
        Feature("renewals", "integer", "terms", "terms paid", cluster=True),
        Feature("paid", "number", "currency", "amount paid in all", cluster=True),
        Feature("plans", "integer", "plans", "distinct plans held"),
    ),
    value_col="paid",
))


def _features(cleaned: CleanedRows, config: SegwiseConfig,
              as_of: dt.date | None) -> EntityTable:
    t = cleaned.kept
    per = fetch_numpy(t.group_by("account_id").aggregate(
        last_end=t.end.max(), renewals=t.count(), paid=t.amount.sum(),
        plans=t.plan.nunique()).order_by("account_id"))
    last = per["last_end"].astype("datetime64[D]")
    as_of = as_of or (last.max() + np.timedelta64(1, "D")).astype(dt.date)
    table = numpy_to_arrow({
        "account_id": per["account_id"],
        "days_since_end": (np.datetime64(as_of, "D") - last).astype("int64"),
        "renewals": per["renewals"].astype("int64"),
        "paid": per["paid"].astype("float64"),
        "plans": per["plans"].astype("int64"),
    })
    return EntityTable(table, RENEWAL_FEATURES, as_of=as_of)


RENEWALS_JOB = register_job(Job(
    name="renewals",
    kind="subscriptions",
    clean=lambda source, config: clean_rows(source, [END_BEFORE_START]),
    features=_features,
    steps={"features": "Summarising accounts"},
), replace=True)


#: The day the made-up renewals were exported.
EXPORTED = dt.date(2025, 6, 30)


def _renewals(n_accounts: int, seed: int = 0) -> pd.DataFrame:
    """Monthly or yearly terms of accounts that churn at different times."""
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(n_accounts):
        yearly = rng.random() < 0.3
        plan = rng.choice(["basic", "plus", "pro"], p=[0.5, 0.35, 0.15])
        fee = {"basic": 9.0, "plus": 19.0, "pro": 49.0}[plan] * (10 if yearly else 1)
        start = dt.date(2022, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365)))
        for _ in range(int(rng.geometric(0.08 if yearly else 0.05))):
            if start > EXPORTED:
                break  # no term starts after the export (later ones would be quarantined)
            end = start + dt.timedelta(days=365 if yearly else 30)
            rows.append({"Account": f"A{a:04d}", "Plan": plan, "Start": start.isoformat(),
                         "End": end.isoformat(), "Fee": f"{fee:.2f}"})
            start = end
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def renewals_csv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    frame = _renewals(400)
    bad = pd.DataFrame([
        {"Account": "A9001", "Plan": "basic", "Start": "not a date", "End": "2023-01-01",
         "Fee": "9.00"},
        {"Account": "A9002", "Plan": "basic", "Start": "2023-03-01", "End": "2023-02-01",
         "Fee": "9.00"},
        {"Account": "", "Plan": "plus", "Start": "2023-03-01", "End": "2023-04-01",
         "Fee": "19.00"},
        # The shared parse rules: a fee no sum can hold, a term from the future.
        {"Account": "A9003", "Plan": "pro", "Start": "2023-03-01", "End": "2023-04-01",
         "Fee": "inf"},
        {"Account": "A9004", "Plan": "pro", "Start": "2099-03-01", "End": "2099-04-01",
         "Fee": "49.00"},
    ])
    copies = frame.iloc[:5]
    data = pd.concat([frame, bad, copies], ignore_index=True)
    path = tmp_path_factory.mktemp("renewals") / "renewals.csv"
    data.to_csv(path, index=False)
    return path, {"input": len(data), "quarantined": 4, "duplicate_row": 5,
                  "end_before_start": 1, "accounts": frame["Account"].nunique()}


def test_the_new_kind_runs_end_to_end(renewals_csv: tuple[Path, dict[str, int]],
                                      tmp_path: Path) -> None:
    path, expected = renewals_csv
    result = run_job("renewals", path)
    # The audit reconciles every input row, with the kind's own rule.
    audit = dict(zip(result.audit["step"], result.audit["rows"], strict=True))
    assert sum(audit.values()) == expected["input"]
    assert audit["quarantined"] == expected["quarantined"]
    assert audit["duplicate_row"] == expected["duplicate_row"]
    assert audit["end_before_start"] == expected["end_before_start"]
    reasons = sorted(result.quarantine["reason"], key=str.casefold)
    assert reasons[:2] == ["account: empty", "amount: not a finite number"]
    assert reasons[2].startswith("Start: dated after") and reasons[3] == "start: not a date"
    entities = result.entities
    assert entities.kind == "subscriptions" and entities.n_entities == expected["accounts"]
    # In and out: A9002's only renewal ends before it starts, so it has no row.
    assert entities.n_input_entities == expected["accounts"] + 1
    assert entities.fingerprint and entities.fingerprint.startswith("sha256:")
    entities.check_unique_ids()

    # Learned segments, profiles and the report take the entity table as it is.
    seg = segment_customers(entities, n_clusters=3, compare=None, embed=(), random_state=0)
    assert seg.features == ["days_since_end", "renewals", "paid"]
    assert len(seg.assignments) == expected["accounts"]
    assert seg.assignments["account_id"].is_unique
    profiles = profile_segments(entities.frame, seg.assignments["segment"],
                                features=["days_since_end", "renewals", "paid"],
                                value_col="paid")
    assert profiles["customers"].sum() == expected["accounts"]
    assert profiles["revenue_share"].sum() == pytest.approx(1.0)

    report = build_report(result, ReportExtras.from_segmentation(seg), currency="EUR")
    keys = [s.key for s in report.sections]
    assert keys == ["recommendation", "overview", "cleaning", "clusters", "profiles",
                    "embedding", "campaign"]
    # The financial effect of targeting, shared by every kind, with its assumptions.
    campaign = report.table("campaign").frame.set_index("campaign")
    assert campaign.loc["targeted", "cost"] <= campaign.loc["untargeted", "cost"] + 1e-9
    assert report.table("campaign_segments").frame["entities"].sum() == expected["accounts"]
    assert any("Budget" in a for a in report.table("campaign_assumptions").frame["assumption"])
    overview = dict(report.table("dataset").frame.to_numpy().tolist())
    assert overview["Renewals kept"].startswith(f"{expected['input'] - 10:,}")
    assert overview["Accounts"] == f"{expected['accounts']:,}"
    assert report.table("clusters").frame["accounts"].sum() == expected["accounts"]
    html = render_html(report)
    assert "end_before_start" in html and "Learned segment profiles" in html

    # The writers take it too, and what they write reads back with its declaration.
    written = result.write(tmp_path / "accounts.parquet")
    assert [p.name for p in written] == ["accounts.parquet", "accounts.audit.csv",
                                         "accounts.quarantine.csv"]
    back = EntityTable.read(tmp_path / "accounts.parquet")
    assert back.schema == RENEWAL_FEATURES
    assert pq.read_table(tmp_path / "accounts.parquet").num_rows == expected["accounts"]
    (db,) = result.write(tmp_path / "accounts.duckdb")
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        tables = {r[0] for r in con.sql("SHOW TABLES").fetchall()}
    assert tables == {"accounts", "audit", "quarantine"}


def test_the_cli_segments_any_entity_table(renewals_csv: tuple[Path, dict[str, int]],
                                           tmp_path: Path) -> None:
    from segwise.cli import app

    path, expected = renewals_csv
    run_job("renewals", path).write(tmp_path / "accounts.parquet")
    out = tmp_path / "clusters.parquet"
    result = CliRunner().invoke(app, ["segment", str(tmp_path / "accounts.parquet"),
                                      "--customers", "--k", "3", "--compare", "",
                                      "--embed", "", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assigned = pd.read_parquet(out)
    assert len(assigned) == expected["accounts"] and "account_id" in assigned


def test_config_columns_are_the_kinds_roles(tmp_path: Path) -> None:
    from segwise.config import load_config
    from segwise.exceptions import ConfigError

    cfg = tmp_path / "c.toml"
    cfg.write_text('[columns]\naccount_id = "Kunde"\n')
    assert load_config(cfg, kind="subscriptions").columns == {"account_id": "Kunde"}
    with pytest.raises(ConfigError, match="valid: customer_id"):
        load_config(cfg, kind="orders")


rows = st.fixed_dictionaries({
    "Account": st.sampled_from(["A1", "A2", "A3", "", " "]),
    "Start": st.sampled_from(["2023-01-01", "2023-02-01", "junk", ""]),
    "End": st.sampled_from(["2023-01-15", "2023-03-01", "2022-12-01", "x"]),
    "Fee": st.sampled_from(["9.5", "19", "abc", "", "1e3"]),
})


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(rows, min_size=1, max_size=30))
def test_every_row_ends_in_one_audit_step(tmp_path: Path, data: list[dict[str, str]]) -> None:
    path = tmp_path / "r.csv"
    pd.DataFrame(data).to_csv(path, index=False)
    from segwise.io import ReadOptions, load_source

    read = ReadOptions(max_quarantine_share=1.0, timestamp_format="%Y-%m-%d")
    source = load_source(path, "subscriptions", read=read)
    audit = clean_rows(source, [END_BEFORE_START]).audit_table().to_pylist()
    assert sum(r["rows"] for r in audit) == len(data)
    assert [r["step"] for r in audit] == ["quarantined", "after_as_of", "duplicate_row",
                                          "end_before_start", "kept"]
