"""Boundary fits and BG/NBD's one-time buyers said in words (segwise.clv._checks)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from segwise.clv import (
    BGNBD,
    MBGNBD,
    CLVResult,
    ParetoNBD,
    boundary_fit,
    customer_value,
    one_time_buyers_note,
    simulate_bgnbd,
    value_by_segment,
)


def test_cdnow_fit_is_not_degenerate_and_one_time_buyers_are_explained(
    cdnow_result: CLVResult,
) -> None:
    assert cdnow_result.degenerate is None
    once = int((cdnow_result.customers["frequency"] == 0).sum())
    assert once > 1000
    # Under BG/NBD each of them has P(alive) = 1, and the note says how many they are.
    one_time = cdnow_result.customers.loc[cdnow_result.customers["frequency"] == 0]
    assert (one_time["p_alive"] == 1.0).all()
    assert any(f"{once:,} of {len(cdnow_result.customers):,}" in n for n in cdnow_result.notes)


def test_simulated_dropout_is_found_and_no_dropout_is_degenerate() -> None:
    # Customers who leave (a / (a + b) = 0.3 per repeat purchase): a healthy fit.
    leaving = simulate_bgnbd(4000, r=0.5, alpha=5.0, a=0.9, b=2.1, T=52.0, random_state=1)
    est = BGNBD().fit(*leaving)
    p = est.p_alive(*leaving)
    assert boundary_fit(est, p) is None
    # Customers who never leave: every model's dropout parameter runs to its boundary.
    staying = simulate_bgnbd(4000, r=0.5, alpha=5.0, a=1e-6, b=50.0, T=52.0, random_state=1)
    x, t_x, big_t = staying
    for model in (BGNBD(), MBGNBD(), ParetoNBD()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the singular Hessian is what is checked
            model.fit(x, t_x, big_t)
        note = boundary_fit(model, model.p_alive(x, t_x, big_t))
        assert note is not None, model.display_name
        assert note.startswith(f"The {model.display_name} fit is degenerate")
        assert "value at risk" in note


def test_one_time_note_only_for_bgnbd() -> None:
    x, t_x, big_t = simulate_bgnbd(500, r=0.5, alpha=5.0, a=0.9, b=2.1, T=52.0,
                                   random_state=2)
    bg = BGNBD().fit(x, t_x, big_t)
    mbg = MBGNBD().fit(x, t_x, big_t)
    note = one_time_buyers_note(bg, x)
    assert note is not None and f"{int((x == 0).sum()):,} of 500" in note
    assert one_time_buyers_note(mbg, x) is None
    assert one_time_buyers_note(bg, np.ones(5)) is None


def test_value_by_segment_without_p_alive_ranks_no_risk() -> None:
    customers = pd.DataFrame({"segment": ["A", "A", "B"], "clv": [10.0, 20.0, 5.0],
                              "p_alive": [1.0, 1.0, 1.0]})
    table = value_by_segment(customers, p_alive_col=None)
    assert list(table.columns) == ["segment", "n_customers", "share_customers", "clv",
                                   "share_clv", "mean_clv"]
    assert table["clv"].tolist() == [30.0, 5.0]


@pytest.mark.slow
def test_online_retail_fit_is_said_degenerate(retail_rfm: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = customer_value(retail_rfm.cleaned, horizon="12m", margin=0.3,
                                holdout_check=True)
    assert result.degenerate is not None and result.degenerate in result.notes
    assert "a = 0.00" in result.degenerate and "not shown or ranked" in result.degenerate
    # The named model was checked on a holdout before learning from every purchase.
    assert result.comparison is not None
    assert list(result.comparison.table["model"]) == ["bgnbd"]
    assert "was checked on the holdout" in result.comparison.reason
    assert result.period.calibration_end > result.comparison.period.calibration_end
    settings = dict(result.settings())
    assert settings["Margin"].startswith("30%") and settings["Discount rate"] == "10.0% a year"
    assert settings["Horizon"].startswith("52.2 weeks (12.0 months)")


def test_unmeasured_dropout_is_not_called_no_dropout(cdnow_tx: Any) -> None:
    # CDNOW in years is two opportunities: BG/BB's dropout parameter has no standard
    # error, yet P(alive) averages 0.44. The note said "customers never leave".
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the singular Hessian is what is said
        result = customer_value(cdnow_tx, calibration_end="1998-06-20", unit="Y",
                                model="bgbb")
    assert result.customers["p_alive"].mean() < 0.5
    note = result.degenerate
    assert note is not None and note.startswith("The BG/BB fit is degenerate")
    assert "do not pin down how readily customers leave" in note
    assert "never leave" not in note and "not shown or ranked" in note


def test_a_degenerate_winner_of_auto_is_not_told_to_use_auto(cdnow_tx: Any) -> None:
    # Two weeks of CDNOW: every model finds no dropout. The note's fix was "compare models
    # on a holdout (model auto)", to a user who had just done so.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = customer_value(cdnow_tx, calibration_end="1997-01-15", model="auto")
    note = result.degenerate
    assert note is not None and "never leave" in note
    assert note.endswith("Fix: use a longer history (the holdout comparison already chose "
                         "this model).")
    assert "model auto" not in note
