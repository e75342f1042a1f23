"""Customer lifetime value: BTYD summaries, BG/NBD and Gamma-Gamma models, and value profiles.

The usual entry point is :func:`customer_value`, which summarises an order log in the
buy-till-you-die convention, fits both models and returns per-customer expected purchases,
P(alive), expected spend per order and discounted lifetime value. :func:`value_by_segment`
then profiles any segmentation by future value and value at risk.
"""

from segwise.clv._bgnbd import BGNBD, check_rft, simulate_bgnbd
from segwise.clv._diagnostics import calibration_holdout, tracking
from segwise.clv._gamma_gamma import GammaGamma
from segwise.clv._summary import (
    SUMMARY_COLUMNS,
    UNITS,
    Period,
    btyd_summary,
    occasion_counts,
    parse_horizon,
)
from segwise.clv._value import (
    CLV_COLUMNS,
    CLVResult,
    customer_value,
    discounted_clv,
    value_by_segment,
)

__all__ = [
    "BGNBD",
    "CLV_COLUMNS",
    "SUMMARY_COLUMNS",
    "UNITS",
    "CLVResult",
    "GammaGamma",
    "Period",
    "btyd_summary",
    "calibration_holdout",
    "check_rft",
    "customer_value",
    "discounted_clv",
    "occasion_counts",
    "parse_horizon",
    "simulate_bgnbd",
    "tracking",
    "value_by_segment",
]
