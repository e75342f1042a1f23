"""Early features see the first orders only: leakage, windows, returns, completeness."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segwise.exceptions import ConfigError
from segwise.predict import FEATURE_COLUMNS, EarlyWindow, early_features

T0 = dt.datetime(2011, 1, 3, 9, 0)


def lines(rows: list[tuple]) -> pd.DataFrame:
    """Kept lines from (customer, order, ts, quantity, price, product, country, is_return)."""
    df = pd.DataFrame(
        rows,
        columns=["customer_id", "order_id", "ts", "quantity", "unit_price", "product_id",
                 "country", "is_return"],
    )
    df["quantity"] = df["quantity"].astype("float64")
    df["unit_price"] = df["unit_price"].astype("float64")
    df["revenue"] = df["quantity"] * df["unit_price"]
    df["description"] = "item " + df["product_id"]
    df["is_product"] = True
    return df


def feats(df: pd.DataFrame, window: EarlyWindow, as_of: dt.datetime | None = None) -> pd.DataFrame:
    return early_features(ibis.memtable(df), window, as_of=as_of).set_index("customer_id")


def base_history() -> list[tuple]:
    """Customer A: 3 modest orders on days 0, 10, 30; customer B: one order."""
    return [
        ("A", "o1", T0, 2, 3.0, "p1", "UK", False),
        ("A", "o1", T0, 1, 5.0, "p2", "UK", False),
        ("A", "o2", T0 + dt.timedelta(days=10, hours=5), 4, 2.5, "p1", "UK", False),
        ("A", "r1", T0 + dt.timedelta(days=12), -1, 2.5, "p1", "UK", True),
        ("A", "o3", T0 + dt.timedelta(days=30), 1, 10.0, "p3", "UK", False),
        ("B", "o9", T0 + dt.timedelta(days=3), 6, 1.0, "p1", "France", False),
    ]


def wild_future() -> list[tuple]:
    """Later orders and returns of A that are nothing like the first three."""
    later = T0 + dt.timedelta(days=31)
    return [
        ("A", "o4", later, 5000, 999.0, "p9", "Japan", False),
        ("A", "o5", later + dt.timedelta(days=1, hours=13), 3, 0.01, "p8", "Japan", False),
        ("A", "r9", later + dt.timedelta(days=2), -5000, 999.0, "p9", "Japan", True),
        ("A", "o6", later + dt.timedelta(days=200), 1, 1.0, "p7", "Peru", False),
    ]


def test_orders_after_the_nth_change_no_feature():
    window = EarlyWindow(n_orders=3)
    before = feats(lines(base_history()), window, as_of=T0 + dt.timedelta(days=400))
    after = feats(lines(base_history() + wild_future()), window,
                  as_of=T0 + dt.timedelta(days=400))
    pd.testing.assert_frame_equal(before, after)
    a = after.loc["A"]
    assert a["n_orders"] == 3
    assert a["gross_spend"] == pytest.approx(6 + 5 + 10 + 10)
    assert a["net_spend"] == pytest.approx(31 - 2.5)  # the return on day 12 is inside
    assert a["span_days"] == pytest.approx(30)
    assert a["country"] == "UK"
    assert bool(a["window_complete"])
    assert a["window_end"] == pd.Timestamp(T0 + dt.timedelta(days=30))


def test_row_order_does_not_matter():
    df = lines(base_history() + wild_future())
    window = EarlyWindow(n_orders=2)
    shuffled = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    pd.testing.assert_frame_equal(feats(df, window), feats(shuffled, window))


def test_day_window_and_completeness():
    df = lines(base_history() + wild_future())
    f = feats(df, EarlyWindow(n_orders=None, n_days=15), as_of=T0 + dt.timedelta(days=17))
    a, b = f.loc["A"], f.loc["B"]
    assert a["n_orders"] == 2  # days 0 and 10
    assert a["gross_spend"] == pytest.approx(21)
    assert a["net_spend"] == pytest.approx(21 - 2.5)
    assert bool(a["window_complete"])  # closes on day 15, before as_of (day 17)
    assert not bool(b["window_complete"])  # first purchase on day 3: closes on day 18
    assert b["n_orders"] == 1


def test_orders_window_incomplete_with_too_few_orders():
    f = feats(lines(base_history()), EarlyWindow(n_orders=5))
    assert not f["window_complete"].any()
    combined = feats(lines(base_history()), EarlyWindow(n_orders=5, n_days=7),
                     as_of=T0 + dt.timedelta(days=60))
    assert combined["window_complete"].all()  # 7 days elapsed for both
    assert combined.loc["A", "n_orders"] == 1


def test_features_are_finite_floats_and_country_text():
    f = feats(lines(base_history()), EarlyWindow(n_orders=3))
    assert list(f.columns[-len(FEATURE_COLUMNS):]) == list(FEATURE_COLUMNS)
    numeric = f[list(FEATURE_COLUMNS[:-1])]
    assert (numeric.dtypes == "float64").all()
    assert np.isfinite(numeric.to_numpy()).all()
    assert f.loc["B", "mean_gap_days"] == 0.0


@pytest.mark.parametrize("kwargs", [{"n_orders": None}, {"n_orders": 0}, {"n_days": -3},
                                    {"n_orders": 2.5}])
def test_window_validation(kwargs):
    with pytest.raises(ConfigError):
        EarlyWindow(**kwargs)


def test_describe():
    assert EarlyWindow(3).describe() == "first 3 orders"
    assert EarlyWindow(3, 90).describe() == "first 3 orders within 90 days"
    assert EarlyWindow(None, 1).describe() == "first 1 day"


order_rows = st.lists(
    st.tuples(
        st.integers(0, 400),  # minutes after the n-th order
        st.floats(-50, 5000, allow_nan=False).filter(lambda q: abs(q) >= 1),
        st.floats(0.01, 500, allow_nan=False),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(later=order_rows, n=st.integers(1, 3))
def test_property_later_lines_never_leak(later, n):
    history = base_history()
    # Start of the n-th order of A in base_history().
    end = T0 + [dt.timedelta(0), dt.timedelta(days=10, hours=5), dt.timedelta(days=30)][n - 1]
    extra = [
        ("A", f"x{i}" if q > 0 else f"c{i}", end + dt.timedelta(minutes=m + 1), q, p, f"p{i}",
         "Elsewhere", q < 0)
        for i, (m, q, p) in enumerate(later)
    ]
    window = EarlyWindow(n_orders=n)
    as_of = T0 + dt.timedelta(days=400)
    expected = feats(lines(history), window, as_of=as_of)
    got = feats(lines(history + extra), window, as_of=as_of)
    pd.testing.assert_frame_equal(expected, got)


def test_category_shares_of_the_window_only():
    cats = pd.DataFrame({"product_id": ["p1", "p2", "p3", "p9"], "category_id": [0, 1, 0, 1]})
    df = lines(base_history() + wild_future())
    f = early_features(ibis.memtable(df), EarlyWindow(3), categories=cats).set_index(
        "customer_id")
    # A's first 3 orders: p1 6 + 10, p3 10 (category 0), p2 5 (category 1); p9 comes later.
    assert f.loc["A", "cat_0"] == pytest.approx(26 / 31)
    assert f.loc["A", "cat_1"] == pytest.approx(5 / 31)
    assert f.loc["B", "cat_0"] == pytest.approx(1.0)
    assert list(f.columns[-2:]) == ["cat_0", "cat_1"]
