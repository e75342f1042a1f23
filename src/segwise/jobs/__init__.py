"""Jobs: load, clean, features and scores for one source kind, end to end.

The CLI, the report and the web app call jobs; none of them repeats their logic.
"""

from segwise.jobs.rfm import RFMResult, run_rfm

__all__ = ["RFMResult", "run_rfm"]
