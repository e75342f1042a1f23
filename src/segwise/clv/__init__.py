"""Customer lifetime value: BTYD summaries, purchase and spend models, and value profiles.

The usual entry point is :func:`customer_value`, which summarises an order log in the
buy-till-you-die convention, fits a purchase model (BG/NBD, MBG/NBD, Pareto/NBD or BG/BB,
or the one :func:`compare_purchase_models` picks on a holdout) and Gamma-Gamma,
and returns per-customer expected purchases, P(alive), expected spend per order and
discounted lifetime value. :func:`value_by_segment`
then profiles any segmentation by future value and value at risk.
"""

from segwise.clv._base import PurchaseModel
from segwise.clv._bgbb import BGBB, check_discrete, simulate_bgbb
from segwise.clv._bgnbd import BGNBD, check_rft, simulate_bgnbd
from segwise.clv._diagnostics import calibration_holdout, tracking
from segwise.clv._gamma_gamma import GammaGamma
from segwise.clv._mbgnbd import MBGNBD
from segwise.clv._pareto_nbd import ParetoNBD
from segwise.clv._select import (
    CANDIDATES,
    DISCRETE_MODELS,
    PURCHASE_MODELS,
    SELECTION_RULE,
    TIE_TOLERANCE,
    ModelComparison,
    compare_purchase_models,
    decile_calibration,
    holdout_errors,
    selection_split,
)
from segwise.clv._summary import (
    SUMMARY_COLUMNS,
    UNITS,
    Period,
    btyd_summary,
    occasion_counts,
    parse_horizon,
    purchase_span,
)
from segwise.clv._value import (
    CLV_COLUMNS,
    NET_SPEND_RULE,
    CLVResult,
    customer_value,
    discounted_clv,
    value_by_segment,
)

__all__ = [
    "BGBB",
    "BGNBD",
    "CANDIDATES",
    "CLV_COLUMNS",
    "DISCRETE_MODELS",
    "MBGNBD",
    "NET_SPEND_RULE",
    "PURCHASE_MODELS",
    "SELECTION_RULE",
    "SUMMARY_COLUMNS",
    "TIE_TOLERANCE",
    "UNITS",
    "CLVResult",
    "GammaGamma",
    "ModelComparison",
    "ParetoNBD",
    "Period",
    "PurchaseModel",
    "btyd_summary",
    "calibration_holdout",
    "check_discrete",
    "check_rft",
    "compare_purchase_models",
    "customer_value",
    "decile_calibration",
    "discounted_clv",
    "holdout_errors",
    "occasion_counts",
    "parse_horizon",
    "purchase_span",
    "selection_split",
    "simulate_bgbb",
    "simulate_bgnbd",
    "tracking",
    "value_by_segment",
]
