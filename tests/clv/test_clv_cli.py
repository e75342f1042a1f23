"""``segwise clv`` in-process."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from segwise.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def cdnow_config(tmp_path_factory: pytest.TempPathFactory, cdnow_columns: dict[str, str]) -> Path:
    """CDNOW's column roles, and cleaning that keeps every line as the papers do."""
    path = tmp_path_factory.mktemp("cfg") / "cdnow.toml"
    roles = "\n".join(f'{role} = "{name}"' for role, name in cdnow_columns.items())
    path.write_text(
        f"[columns]\n{roles}\n\n[cleaning]\nduplicates = false\nnon_positive_price = false\n"
    )
    return path


def test_clv_command_on_cdnow(cdnow_csv: Path, cdnow_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "customers.parquet"
    result = runner.invoke(app, [
        "clv", str(cdnow_csv), "--calibration-end", "1997-09-30", "--horizon", "39w",
        "-o", str(out), "--config", str(cdnow_config),
    ])
    assert result.exit_code == 0, result.output
    assert "Model parameters" in result.output and "Future value by segment" in result.output
    # The holdout starts the day after the calibration end, which the models learn from.
    assert ("Holdout purchases per customer by calibration frequency (1997-10-01 to "
            "1998-06-30)") in " ".join(result.output.split())
    customers = pd.read_parquet(out)
    assert len(customers) == 2357
    values = customers[["expected_purchases", "p_alive", "expected_avg_value", "clv"]]
    assert values.notna().all().all()
    assert {"segment", "btyd_frequency", "frequency"} <= set(customers.columns)
    params = pd.read_csv(tmp_path / "customers.params.csv").set_index("parameter")["estimate"]
    assert params["r"] == pytest.approx(0.243, rel=0.005)
    assert params["gamma"] == pytest.approx(15.44, rel=0.005)
    holdout = pd.read_csv(tmp_path / "customers.holdout.csv")
    assert holdout["frequency"].iloc[-1] == "all"
    assert len(pd.read_csv(tmp_path / "customers.tracking.csv")) == 78
    segments = pd.read_csv(tmp_path / "customers.segments.csv")
    assert segments["share_clv"].sum() == pytest.approx(1.0)


def test_clv_command_auto_prints_the_comparison(
    cdnow_csv: Path, cdnow_config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "customers.parquet"
    result = runner.invoke(app, [
        "clv", str(cdnow_csv), "--calibration-end", "1997-09-30", "--horizon", "39w",
        "--model", "auto", "-o", str(out), "--config", str(cdnow_config),
    ], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Purchase models on the holdout (1997-10-01 to 1998-06-30" in result.output
    assert "Pareto/NBD was chosen on the holdout" in result.output
    assert "BG/BB (skipped): not discrete-time data at unit W" in result.output
    models = pd.read_csv(tmp_path / "customers.models.csv").set_index("model")
    assert models.loc["pareto_nbd", "chosen"] and models["chosen"].sum() == 1
    assert (models.loc[["bgnbd", "mbgnbd", "pareto_nbd"], "actual"] == 1882).all()
    params = pd.read_csv(tmp_path / "customers.params.csv")
    assert params["model"].iloc[0] == "Pareto/NBD"
    deciles = pd.read_csv(tmp_path / "customers.models-deciles.csv")
    assert deciles.groupby("model")["n_customers"].sum().eq(2357).all()
    assert (tmp_path / "customers.models-tracking.csv").exists()


def test_clv_command_rejects_bad_horizon(
    cdnow_csv: Path, cdnow_config: Path, tmp_path: Path
) -> None:
    # Bad option values are usage errors (exit 2), for every command that takes them.
    unitless = "is not a length of time above 0 with a unit (d, w, m or y). Fix:"
    for command, option, value, message in (
        ("clv", "--horizon", "twelve", f"'twelve' {unitless}"),
        ("clv", "--horizon", "0m", f"'0m' {unitless}"),
        ("report", "--horizon", "-5w", f"'-5w' {unitless}"),
        ("clv", "--horizon", "52", f"'52' {unitless}"),  # a bare number: no unit
        ("report", "--horizon", "101y", "'101y' is over 100 years, longer than segwise "
                                        "forecasts"),
        ("clv", "--horizon", "100000y", "Fix: at most 100y"),  # not months of work, nor OOM
        ("clv", "--unit", "fortnight", "unknown time unit 'fortnight': use one of D, W"),
    ):
        out = tmp_path / ("x.html" if command == "report" else "x.csv")
        result = runner.invoke(app, [command, str(cdnow_csv), option, value, "-o", str(out),
                                     "--config", str(cdnow_config)], terminal_width=300)
        assert result.exit_code == 2, result.output
        assert f"Invalid value for '{option}'" in result.output
        assert message in " ".join(result.output.split())
        assert "Traceback" not in result.output


def test_clv_help() -> None:
    result = runner.invoke(app, ["clv", "--help"])
    assert result.exit_code == 0
    for option in ("--calibration-end", "--horizon", "--discount-rate", "--unit", "auto"):
        assert option in result.output


def test_clv_command_checks_the_model_on_a_holdout(
    cdnow_csv: Path, cdnow_config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "customers.csv"
    result = runner.invoke(app, ["clv", str(cdnow_csv), "--horizon", "26w", "--margin", "0.3",
                                 "-o", str(out), "--config", str(cdnow_config)],
                           terminal_width=200)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Margin: 30% of spend (values are profit)" in text
    assert "BG/NBD was checked on the holdout" in text
    assert "Holdout purchases per customer by calibration frequency" in text
    assert "P(alive) = 1 by construction" in text
    models = pd.read_csv(tmp_path / "customers.models.csv")
    assert models["model"].tolist() == ["bgnbd"]
    segments = pd.read_csv(tmp_path / "customers.segments.csv")
    assert "value_at_risk" in segments.columns


@pytest.mark.slow
def test_clv_command_says_a_degenerate_fit(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "customers.csv"
    result = runner.invoke(app, [
        "clv", str(shared_data / "uci-online-retail" / "online_retail.parquet"),
        "-o", str(out)], terminal_width=200)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "The BG/NBD fit is degenerate" in text and "not shown or ranked" in text
    assert "At risk" not in result.output and "Risk share" not in result.output
    segments = pd.read_csv(tmp_path / "customers.segments.csv")
    assert not {"value_at_risk", "mean_p_alive"} & set(segments.columns)
    customers = pd.read_csv(out)
    assert "p_alive" not in customers and customers["clv"].notna().sum() > 4000


def test_a_failed_fit_prints_the_warnings_that_explain_it(
    cdnow_raw: pd.DataFrame, cdnow_config: Path, tmp_path: Path
) -> None:
    # Every amount 0: the warning about repeat buyers who spent nothing comes before the
    # error it explains (they were lost with the error before).
    src = tmp_path / "free.csv"
    cdnow_raw.assign(dollars=0.0).to_csv(src, index=False)
    result = runner.invoke(app, ["clv", str(src), "-o", str(tmp_path / "c.parquet"),
                                 "--config", str(cdnow_config)], terminal_width=400)
    assert result.exit_code == 1, result.output
    warning = result.output.index("warning: 1,139 repeat buyer(s) have a mean repeat spend <= 0")
    assert result.output.count("mean repeat spend <= 0") == 1  # once, not once per fit
    assert warning < result.output.index("error: cannot fit the spend model")
    assert "Traceback" not in result.output
