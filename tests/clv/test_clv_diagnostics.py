"""Calibration/holdout and tracking diagnostics on CDNOW."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwise.clv import CLVResult, calibration_holdout, tracking
from segwise.exceptions import InputError


def test_calibration_holdout_table(cdnow_result: CLVResult, cdnow_summary: pd.DataFrame) -> None:
    table = cdnow_result.calibration_holdout
    assert table is not None
    assert list(table["frequency"]) == ["0", "1", "2", "3", "4", "5", "6", "7+", "all"]
    assert table["n_customers"].iloc[:-1].sum() == 2357 == table["n_customers"].iloc[-1]
    overall = table.set_index("frequency").loc["all"]
    assert overall["actual"] == pytest.approx(cdnow_summary["frequency_holdout"].mean())
    # BG/NBD tracks CDNOW's holdout well (Fader, Hardie and Lee 2005, figure 4): the
    # one-time buyers, two thirds of the base, within 10 %; the total within 15 %.
    zero = table.set_index("frequency").loc["0"]
    assert zero["predicted"] == pytest.approx(zero["actual"], rel=0.10)
    assert overall["predicted"] == pytest.approx(overall["actual"], rel=0.15)
    # Predictions rise with calibration frequency, as do the actuals.
    assert np.all(np.diff(table["predicted"].iloc[:-1]) > 0)


def test_tracking_table(cdnow_result: CLVResult) -> None:
    track = cdnow_result.tracking
    assert track is not None
    assert len(track) == 78  # 1997-01-01 .. 1998-06-30 in weeks
    assert track["date"].iloc[-1] == pd.Timestamp("1998-06-30")
    assert track["holdout"].sum() == 39
    assert (np.diff(track["actual"]) >= 0).all() and (np.diff(track["predicted"]) >= 0).all()
    end_cal = track[~track["holdout"]].iloc[-1]
    assert end_cal["actual"] == 2457  # every calibration repeat purchase, counted again
    last = track.iloc[-1]
    assert last["predicted"] == pytest.approx(last["actual"], rel=0.06)


def test_holdout_needs_a_holdout(cdnow_result: CLVResult, cdnow_summary: pd.DataFrame) -> None:
    no_holdout = cdnow_summary.drop(columns=["frequency_holdout", "monetary_value_holdout"])
    no_holdout.attrs = {**cdnow_summary.attrs, "holdout_end": None}
    with pytest.raises(InputError, match="no holdout period"):
        calibration_holdout(cdnow_result.purchase_model, no_holdout)
    with pytest.raises(InputError, match="no BTYD period"):
        tracking(cdnow_result.purchase_model, pd.DataFrame({"x": [1]}), pd.DataFrame())
