"""Customer lifetime value: BTYD summaries, purchase and spend models, and value profiles.

The usual entry point is :func:`customer_value`, which summarises an order log in the
buy-till-you-die convention, fits a purchase model (BG/NBD, MBG/NBD, Pareto/NBD or BG/BB,
or the one :func:`compare_purchase_models` picks on a holdout) and Gamma-Gamma,
and returns per-customer expected purchases, P(alive), expected spend per order and
discounted lifetime value. :func:`value_by_segment`
then profiles any segmentation by future value and value at risk. A fit on the boundary
of its parameter space (no dropout) is said in words (:func:`boundary_fit`,
``CLVResult.degenerate``), and value at risk is then not ranked.
"""

from segwise.clv._base import PurchaseModel
from segwise.clv._bgbb import BGBB, check_discrete, simulate_bgbb
from segwise.clv._bgnbd import BGNBD, check_rft, simulate_bgnbd
from segwise.clv._checks import (
    DROPOUT_PARAMETER,
    NO_DROPOUT,
    UNIDENTIFIED_RATIO,
    boundary_fit,
    one_time_buyers_note,
)
from segwise.clv._diagnostics import calibration_holdout, tracking
from segwise.clv._gamma_gamma import MAX_SPEND_CORRELATION, GammaGamma
from segwise.clv._mbgnbd import MBGNBD
from segwise.clv._pareto_nbd import ParetoNBD
from segwise.clv._select import (
    CANDIDATES,
    DISCRETE_MODELS,
    MIN_HOLDOUT_PURCHASES,
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
    MAX_HORIZON_YEARS,
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
    "DROPOUT_PARAMETER",
    "MAX_HORIZON_YEARS",
    "MAX_SPEND_CORRELATION",
    "MBGNBD",
    "MIN_HOLDOUT_PURCHASES",
    "NET_SPEND_RULE",
    "NO_DROPOUT",
    "PURCHASE_MODELS",
    "SELECTION_RULE",
    "SUMMARY_COLUMNS",
    "TIE_TOLERANCE",
    "UNIDENTIFIED_RATIO",
    "UNITS",
    "CLVResult",
    "GammaGamma",
    "ModelComparison",
    "ParetoNBD",
    "Period",
    "PurchaseModel",
    "boundary_fit",
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
    "one_time_buyers_note",
    "parse_horizon",
    "purchase_span",
    "selection_split",
    "simulate_bgbb",
    "simulate_bgnbd",
    "tracking",
    "value_by_segment",
]
