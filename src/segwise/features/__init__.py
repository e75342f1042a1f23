"""Per-customer features: RFM, and more in submodules."""

from segwise.features.rfm import (
    RFM_COLUMNS,
    aggregate_customers,
    compute_rfm,
    finish_rfm,
    reference_date,
)

__all__ = ["RFM_COLUMNS", "aggregate_customers", "compute_rfm", "finish_rfm", "reference_date"]
