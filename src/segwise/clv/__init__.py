"""Customer lifetime value: BTYD summaries, BG/NBD and Gamma-Gamma models, and value profiles.

The usual entry point is :func:`customer_value`, which summarises an order log in the
buy-till-you-die convention, fits a purchase model (BG/NBD or Pareto/NBD) and Gamma-Gamma,
and returns per-customer expected purchases, P(alive), expected spend per order and
discounted lifetime value. :func:`value_by_segment`
then profiles any segmentation by future value and value at risk.
"""

from segwise.clv._bgnbd import BGNBD, check_rft, simulate_bgnbd
from segwise.clv._diagnostics import calibration_holdout, tracking
from segwise.clv._gamma_gamma import GammaGamma
from segwise.clv._pareto_nbd import ParetoNBD
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
    PURCHASE_MODELS,
    CLVResult,
    customer_value,
    discounted_clv,
    value_by_segment,
)

__all__ = [
    "BGNBD",
    "CLV_COLUMNS",
    "PURCHASE_MODELS",
    "SUMMARY_COLUMNS",
    "UNITS",
    "CLVResult",
    "GammaGamma",
    "ParetoNBD",
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
