"""Jobs: load, clean, features and scores for one source kind, end to end.

The CLI, the report and the web app call jobs; none of them repeats their logic. A job is
a :class:`Job` (a source kind and its clean, features and score steps) run by
:func:`run_job`; the RFM job (:func:`run_rfm`) is the first.
"""

from typing import TYPE_CHECKING

from segwise._lazy import lazy_getattr
from segwise.jobs._base import (
    Job,
    JobResult,
    get_job,
    jobs,
    load_and_clean,
    register_job,
    run_job,
)
from segwise.jobs._store import (
    ProjectSettings,
    ServeSettings,
    assigner_card,
    assignment_record,
    model_record,
    named_labels,
    project_paths,
    run_etl,
    run_record,
)
from segwise.jobs.mobility import (
    MOBILITY_JOB,
    MobilityResult,
    UserSegments,
    run_mobility,
    segment_users,
)
from segwise.jobs.people import PEOPLE_JOB, PopulationResult, run_population
from segwise.jobs.propensity import (
    PropensityResult,
    ScoreResult,
    response_labels,
    run_propensity,
    score_propensity,
)
from segwise.jobs.rfe import RFE_JOB, RFE_SEGMENTS, RFEResult, run_rfe
from segwise.jobs.rfm import RFM_JOB, RFMResult, run_rfm

if TYPE_CHECKING:
    from segwise.jobs.track import run_track, track_records

# Snapshots import pandas, which the rfm command never needs: they load on first use.
__getattr__ = lazy_getattr(__name__, {"run_track": "track", "track_records": "track"}, globals())

__all__ = [
    "MOBILITY_JOB",
    "PEOPLE_JOB",
    "RFE_JOB",
    "RFE_SEGMENTS",
    "RFM_JOB",
    "Job",
    "JobResult",
    "MobilityResult",
    "PopulationResult",
    "ProjectSettings",
    "PropensityResult",
    "RFEResult",
    "RFMResult",
    "ScoreResult",
    "ServeSettings",
    "UserSegments",
    "assigner_card",
    "assignment_record",
    "get_job",
    "jobs",
    "load_and_clean",
    "model_record",
    "named_labels",
    "project_paths",
    "register_job",
    "response_labels",
    "run_etl",
    "run_job",
    "run_mobility",
    "run_population",
    "run_propensity",
    "run_record",
    "run_rfe",
    "run_rfm",
    "run_track",
    "score_propensity",
    "segment_users",
    "track_records",
]
