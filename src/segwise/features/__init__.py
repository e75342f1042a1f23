"""Per-customer features: RFM, and more in submodules."""

from segwise.features.rfm import RFM_COLUMNS, compute_rfm, customer_aggregates, finish_rfm

__all__ = ["RFM_COLUMNS", "compute_rfm", "customer_aggregates", "finish_rfm"]
