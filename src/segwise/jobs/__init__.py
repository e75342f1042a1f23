"""Jobs: load, clean, features and scores for one source kind, end to end.

The CLI, the report and the web app call jobs; none of them repeats their logic. A job is
a :class:`Job` (a source kind and its clean, features and score steps) run by
:func:`run_job`; the RFM job (:func:`run_rfm`) is the first.
"""

from segwise.jobs._base import Job, JobResult, get_job, jobs, register_job, run_job
from segwise.jobs.people import PEOPLE_JOB, PopulationResult, run_population
from segwise.jobs.propensity import (
    PropensityResult,
    ScoreResult,
    response_labels,
    run_propensity,
    score_propensity,
)
from segwise.jobs.rfm import RFM_JOB, RFMResult, run_rfm

__all__ = [
    "PEOPLE_JOB",
    "RFM_JOB",
    "Job",
    "JobResult",
    "PopulationResult",
    "PropensityResult",
    "RFMResult",
    "ScoreResult",
    "get_job",
    "jobs",
    "register_job",
    "response_labels",
    "run_job",
    "run_population",
    "run_propensity",
    "run_rfm",
    "score_propensity",
]
