"""customer_value and value_by_segment on CDNOW, Online Retail and awkward bases."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from segwise.clv import (
    CLV_COLUMNS,
    CLVResult,
    customer_value,
    discounted_clv,
    parse_horizon,
    simulate_bgnbd,
    value_by_segment,
)
from segwise.exceptions import ConfigError, InputError


def _lines(rows: list[tuple[str, str, float]]) -> ibis.Table:
    frame = pd.DataFrame(rows, columns=["customer_id", "ts", "revenue"])
    frame["ts"] = pd.to_datetime(frame["ts"], format="ISO8601")
    return ibis.memtable(frame)


def _base(n: int = 300, seed: int = 0) -> list[tuple[str, str, float]]:
    """Order lines of a BG/NBD-like base in 2020: first purchases in Q1, positive spend."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 90, n)
    T = (365 - start) / 7.0
    x, t_x, _ = simulate_bgnbd(n, T, r=0.5, alpha=4.0, a=0.8, b=2.5, random_state=rng)
    rows = []
    for i in range(n):
        weeks = np.r_[0.0, np.sort(rng.uniform(0, t_x[i], max(x[i] - 1, 0))), t_x[i]][: x[i] + 1]
        days = sorted({int(start[i] + 7 * w) for w in weeks})
        rows += [(f"c{i:03d}", str(pd.Timestamp("2020-01-01") + pd.Timedelta(days=d)),
                  float(rng.gamma(4.0, 10.0))) for d in days]
    return rows


def test_cdnow_columns_for_every_customer(cdnow_result: CLVResult) -> None:
    c = cdnow_result.customers
    assert len(c) == 2357 and c["customer_id"].is_unique
    for col in CLV_COLUMNS:
        assert c[col].notna().all() and np.isfinite(c[col]).all(), col
    assert c["p_alive"].between(0, 1).all()
    assert (c["clv"] >= 0).all() and (c["expected_avg_value"] > 0).all()
    params = cdnow_result.parameters()
    assert list(params["parameter"]) == ["r", "alpha", "a", "b", "p", "q", "gamma"]


def test_cdnow_clv_is_discounted_expected_spend(cdnow_tx) -> None:  # type: ignore[no-untyped-def]
    flat = customer_value(cdnow_tx, calibration_end="1997-09-30", horizon="39w",
                          discount_rate=0.0).customers
    np.testing.assert_allclose(
        flat["clv"], flat["expected_purchases"] * flat["expected_avg_value"], rtol=1e-9
    )
    disc = customer_value(cdnow_tx, calibration_end="1997-09-30", horizon="39w",
                          discount_rate=0.15, margin=0.3).customers
    assert (disc["clv"] <= 0.3 * flat["clv"] + 1e-12).all()
    assert (disc["clv"] >= 0.3 * flat["clv"] / 1.15).all()  # within 39 weeks < 1 year


def test_clv_grows_with_horizon(cdnow_result: CLVResult) -> None:
    c = cdnow_result.customers
    args = (c["frequency"], c["recency"], c["T"])
    model, value = cdnow_result.purchase_model, c["expected_avg_value"]
    short = discounted_clv(model, value, *args, horizon=13.0)
    long = discounted_clv(model, value, *args, horizon=104.0)
    assert (short <= c["clv"] + 1e-9).all() and (c["clv"] <= long + 1e-9).all()
    assert long.sum() > c["clv"].sum() > short.sum()


def test_discount_and_margin_are_validated(cdnow_result: CLVResult) -> None:
    c = cdnow_result.customers.head()
    args = (c["expected_avg_value"], c["frequency"], c["recency"], c["T"])
    with pytest.raises(ConfigError, match="discount_rate"):
        discounted_clv(cdnow_result.purchase_model, *args, horizon=10.0, discount_rate=-0.1)
    with pytest.raises(ConfigError, match="margin"):
        discounted_clv(cdnow_result.purchase_model, *args, horizon=10.0, margin=0.0)


def test_horizon_is_capped_and_long_horizons_converge(cdnow_result: CLVResult) -> None:
    # A horizon of a thousand centuries was summed month by month over every customer at
    # once: 1.2 million steps, minutes of work and gigabytes, for value that discounting
    # has long made nil. Over 100 years is refused; 100 years itself is cheap and converges.
    c = cdnow_result.customers
    args = (c["expected_avg_value"], c["frequency"], c["recency"], c["T"])
    model = cdnow_result.purchase_model
    with pytest.raises(ConfigError, match=r"over 100 years.*Fix: a horizon of at most 100y"):
        discounted_clv(model, *args, horizon=100_000 * 52.0)
    with pytest.raises(ConfigError, match="over 100 years"):
        customer_value(_lines(_base()), horizon="100000y")
    century = discounted_clv(model, *args, horizon=parse_horizon("100y"))
    half = discounted_clv(model, *args, horizon=parse_horizon("50y"))
    assert century.sum() == pytest.approx(half.sum(), rel=1e-2)
    assert (century >= half - 1e-9).all()


def test_late_customers_are_left_out_with_a_warning() -> None:
    rows = [*_base(), ("late", "2021-03-01", 20.0), ("late", "2021-03-09", 30.0)]
    with pytest.warns(UserWarning, match=r"1 customer.* first bought after the calibration end"):
        result = customer_value(_lines(rows), calibration_end="2020-12-31")
    assert "late" not in set(result.customers["customer_id"])
    assert result.n_excluded == 1
    assert result.calibration_holdout is not None


def test_zero_spend_repeat_buyers_are_kept_and_valued_low() -> None:
    free = [("free", f"2020-0{month}-01", 0.0) for month in (2, 3, 4)]
    rows = [*_base(), *free]
    with pytest.warns(UserWarning, match="mean repeat spend <= 0"):
        result = customer_value(_lines(rows), calibration_end="2020-12-31")
    c = result.customers.set_index("customer_id")
    assert result.gamma_gamma.n_customers_ == int((c["frequency"] > 0).sum()) - 1
    assert 0 < c.loc["free", "expected_avg_value"] < result.gamma_gamma.population_mean()
    assert np.isfinite(c["clv"]).all()


def test_refunds_above_purchases_value_the_customer_at_zero() -> None:
    # A negative line is a refund even without a return flag (raw logs, CDNOW's format).
    rows = [*_base(), ("refund", "2020-02-01", 50.0), ("refund", "2020-03-01", -80.0)]
    with pytest.warns(UserWarning, match=r"1 customer\(s\) returned all they bought"):
        result = customer_value(_lines(rows), calibration_end="2020-12-31")
    c = result.customers.set_index("customer_id")
    assert c.loc["refund", "net_spend"] == -30.0 and c.loc["refund", "returns"] == -80.0
    assert c.loc["refund", "clv"] == 0.0 and c.loc["refund", "expected_avg_value"] == 0.0
    assert result.n_net_nonpositive == 1
    assert (c.drop(index="refund")["clv"] > 0).all()


def test_single_customer_base_is_a_clear_error() -> None:
    rows = [("only", "2020-01-01", 10.0), ("only", "2020-02-01", 12.0)]
    with pytest.raises(InputError, match=r"at least 10 customers.*Fix"):
        customer_value(_lines(rows))


@pytest.mark.parametrize("model", ["bgnbd", "bgbb", "auto"])
@pytest.mark.parametrize("calibration_end", [None, "2020-01-15"])
def test_no_repeat_buyers_is_a_clear_error(model: str, calibration_end: str | None) -> None:
    # Every customer bought once. The fix said was 'a longer calibration period', which
    # cannot help (there was none, or the whole log has no repeat either), and auto named
    # the same reason four times, once per model.
    rows = [(f"c{i}", f"2020-01-{i + 1:02d}", 10.0) for i in range(20)]
    with pytest.raises(InputError) as err:
        customer_value(_lines(rows), model=model, calibration_end=calibration_end)
    assert str(err.value) == (
        "none of the 20 customers came back after their first purchase in the whole log (to "
        "2020-01-20; a customer's orders on one day, or in one period, are one purchase): a "
        "purchase model forecasts repeat purchases and has none to learn from. Fix: give "
        "order lines with customers who came back")


def test_too_few_repeat_buyers_in_the_whole_log_is_not_a_calibration_matter() -> None:
    # Repeat buyers after the calibration end only: a longer calibration period is the fix.
    rows = [(f"c{i}", f"2020-01-{i + 1:02d}", 10.0) for i in range(20)]
    rows += [(f"c{i}", "2020-03-01", 10.0) for i in range(5)]
    with pytest.raises(InputError, match=r"needs repeat buyers.*Fix: use a longer calibration"):
        customer_value(_lines(rows), calibration_end="2020-01-31")
    # Without a calibration end the models learned from all of it: more customers are.
    rows += [(f"c{i}", "2020-03-02", 10.0) for i in range(1)]
    with pytest.raises(InputError, match=r"Fix: give order lines with more customers \(the "
                                         r"models learned from the whole log, to 2020-03-02"):
        customer_value(_lines(rows), model="bgnbd", holdout_check=False)


def test_models_failing_for_one_reason_say_it_once() -> None:
    from segwise.clv import compare_purchase_models

    rows = [(f"c{i}", f"2020-01-{i + 1:02d}", 10.0) for i in range(20)]
    rows += [(f"c{i}", "2020-03-01", 10.0) for i in range(5)]
    with pytest.raises(InputError) as err:
        compare_purchase_models(_lines(rows), calibration_end="2020-01-31")
    assert str(err.value).count("needs repeat buyers") == 1
    assert "BG/NBD, MBG/NBD, Pareto/NBD, BG/BB: needs repeat buyers" in str(err.value)


def test_value_by_segment_shares_and_risk() -> None:
    customers = pd.DataFrame({
        "segment": ["A", "A", "B", "C", "C"],
        "clv": [100.0, 50.0, 30.0, 20.0, np.nan],
        "p_alive": [0.9, 0.5, 0.2, 1.0, np.nan],
    })
    table = value_by_segment(customers).set_index("segment")
    assert list(table.index) == ["A", "B", "C"]
    assert table["share_customers"].sum() == pytest.approx(1.0)
    assert table["share_clv"].sum() == pytest.approx(1.0)
    assert table.loc["A", "clv"] == 150.0 and table.loc["A", "share_clv"] == pytest.approx(0.75)
    assert table.loc["A", "value_at_risk"] == pytest.approx(100 * 0.1 + 50 * 0.5)
    assert table.loc["B", "value_at_risk"] == pytest.approx(24.0)
    assert table.loc["C", "n_customers"] == 2 and table.loc["C", "value_at_risk"] == 0.0
    assert table["share_value_at_risk"].sum() == pytest.approx(1.0)
    # The table without P(alive) (a degenerate fit's): no fix was given.
    with pytest.raises(InputError, match=r"lacks the column\(s\) p_alive \(it has .*\)\. Fix: "
                                         r"pass p_alive_col=None"):
        value_by_segment(customers.drop(columns="p_alive"))
    assert "value_at_risk" not in value_by_segment(customers.drop(columns="p_alive"),
                                                   p_alive_col=None).columns
    with pytest.raises(InputError, match="empty"):
        value_by_segment(customers.iloc[:0])


@pytest.mark.slow
def test_online_retail_every_customer_valued_and_segments_profiled(retail_rfm) -> None:  # type: ignore[no-untyped-def]
    result = customer_value(retail_rfm.cleaned, horizon="12m")
    joined = retail_rfm.customers.merge(result.customers, on="customer_id", how="left",
                                        suffixes=("", "_btyd"))
    assert len(joined) == len(retail_rfm.customers) > 4000
    for col in CLV_COLUMNS:
        assert joined[col].notna().all(), col
    assert result.purchase_model.converged_ and result.gamma_gamma.converged_
    profile = value_by_segment(joined)
    assert set(profile["segment"]) == set(joined["segment"].astype(str))
    assert profile["share_clv"].sum() == pytest.approx(1.0)
    assert (profile["value_at_risk"] >= 0).all() and profile["value_at_risk"].sum() > 0
    top = profile.iloc[0]
    assert top["share_clv"] > top["share_customers"]  # value concentrates in the best segment


def test_spend_that_is_never_above_zero_is_named_as_the_cause(cdnow_raw: pd.DataFrame) -> None:
    # CDNOW with the amount read from a column of zeros: 1,139 customers came back, yet
    # the spend model has nobody to learn from; the error says so, not "more customers".
    lines = pd.DataFrame({"customer_id": cdnow_raw["customer_id"],
                          "ts": pd.to_datetime(cdnow_raw["date"], format="%Y%m%d"),
                          "revenue": 0.0})
    with (pytest.warns(UserWarning, match="mean repeat spend <= 0"),
          pytest.raises(InputError, match=r"of 1,139 repeat buyers only 0 spent above 0 "
                                          r".*Fix: map the amount role")):
        customer_value(ibis.memtable(lines))
