"""Put new customers into a segment from their first few orders.

Train on customers observed long enough (features from their first orders only, label:
their RFM segment a fixed horizon after those orders, or from their full history), evaluate
on customers acquired after a cut-off, save with skops, and assign new customers from their
own first orders.
"""

from segwise.predict._assigner import (
    CLASS_WEIGHTS,
    LABELS,
    MODELS,
    OTHER,
    RULE_FEATURES,
    VOTE_MEMBERS,
    AssignerData,
    AssignerReport,
    SegmentAssigner,
    TimeSplit,
    build_dataset,
    evaluate_assigner,
    evaluation_caveat,
    fit_candidate,
    macro_f1_gap,
    model_features,
    rolling_folds,
    score_cells,
    time_split,
    validate_assigner,
)
from segwise.predict._features import (
    FEATURE_COLUMNS,
    META_COLUMNS,
    EarlyWindow,
    early_features,
    early_lines,
)
from segwise.predict._labels import (
    DEFAULT_HORIZON_DAYS,
    horizon_dates,
    horizon_labels,
    rfm_as_of,
)
from segwise.predict._persist import FORMAT, load_model_file, save_model_file
from segwise.predict._score import OrderScorer, order_lines_table
from segwise.predict._train import (
    TrainedAssigner,
    cluster_labels,
    default_candidates,
    train_assigner,
)

__all__ = [
    "CLASS_WEIGHTS",
    "DEFAULT_HORIZON_DAYS",
    "FEATURE_COLUMNS",
    "FORMAT",
    "LABELS",
    "META_COLUMNS",
    "MODELS",
    "OTHER",
    "RULE_FEATURES",
    "VOTE_MEMBERS",
    "AssignerData",
    "AssignerReport",
    "EarlyWindow",
    "OrderScorer",
    "SegmentAssigner",
    "TimeSplit",
    "TrainedAssigner",
    "build_dataset",
    "cluster_labels",
    "default_candidates",
    "early_features",
    "early_lines",
    "evaluate_assigner",
    "evaluation_caveat",
    "fit_candidate",
    "horizon_dates",
    "horizon_labels",
    "load_model_file",
    "macro_f1_gap",
    "model_features",
    "order_lines_table",
    "rfm_as_of",
    "rolling_folds",
    "save_model_file",
    "score_cells",
    "time_split",
    "train_assigner",
    "validate_assigner",
]
