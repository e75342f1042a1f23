"""Predict from what is known of customers: their segment, or whether they will respond.

The assigner puts new customers into a segment from their first few orders: trained on
customers observed long enough (features from their first orders only, label: their RFM
segment a fixed horizon after those orders, or from their full history), evaluated on
customers acquired after a cut-off, saved with skops, applied to new customers' first
orders.

The propensity model ranks people by their likelihood to respond to a campaign, from raw
person-level rows and a feature dictionary: candidates compared on folds of the training
table, the default chosen by a rule fixed in advance, reasons per person in the
dictionary's words, the population's segments as a baseline and as a feature.
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
    fit_candidates,
    macro_f1_gap,
    model_features,
    permutation_importance,
    rolling_folds,
    score_cells,
    time_split,
    validate_assigner,
)
from segwise.predict._campaign import (
    PROPENSITY_FILE,
    PROPENSITY_TYPES,
    TrainedPropensity,
    dictionary_fingerprint,
    train_propensity,
)
from segwise.predict._features import (
    FEATURE_COLUMNS,
    META_COLUMNS,
    EarlyWindow,
    early_features,
    early_lines,
)
from segwise.predict._gains import (
    SHARES,
    average_precision,
    calibration_table,
    captured,
    gains_table,
    metric_name,
    ranking_metrics,
)
from segwise.predict._labels import (
    DEFAULT_HORIZON_DAYS,
    horizon_dates,
    horizon_labels,
    rfm_as_of,
)
from segwise.predict._persist import FORMAT, load_model_file, save_model_file
from segwise.predict._propensity import IMBALANCE, MODEL_NAMES, PropensityModel, model_name
from segwise.predict._propensity import MODELS as PROPENSITY_MODELS
from segwise.predict._score import OrderScorer, order_line_columns, order_lines_table
from segwise.predict._segments import (
    BASELINE,
    SEGMENT_COLUMN,
    SegmentBaseline,
    choose_segments,
    segment_comparison,
)
from segwise.predict._train import (
    TrainedAssigner,
    cluster_labels,
    default_candidates,
    train_assigner,
)
from segwise.predict._validate import (
    MAIL_SHARE,
    RULE,
    Choice,
    PropensityValidation,
    candidates,
    check_folds,
    choose_default,
    fold_importance,
    fold_splits,
    validate_propensity,
)

__all__ = [
    "BASELINE",
    "CLASS_WEIGHTS",
    "DEFAULT_HORIZON_DAYS",
    "FEATURE_COLUMNS",
    "FORMAT",
    "IMBALANCE",
    "LABELS",
    "MAIL_SHARE",
    "META_COLUMNS",
    "MODELS",
    "MODEL_NAMES",
    "OTHER",
    "PROPENSITY_FILE",
    "PROPENSITY_MODELS",
    "PROPENSITY_TYPES",
    "RULE",
    "RULE_FEATURES",
    "SEGMENT_COLUMN",
    "SHARES",
    "VOTE_MEMBERS",
    "AssignerData",
    "AssignerReport",
    "Choice",
    "EarlyWindow",
    "OrderScorer",
    "PropensityModel",
    "PropensityValidation",
    "SegmentAssigner",
    "SegmentBaseline",
    "TimeSplit",
    "TrainedAssigner",
    "TrainedPropensity",
    "average_precision",
    "build_dataset",
    "calibration_table",
    "candidates",
    "captured",
    "check_folds",
    "choose_default",
    "choose_segments",
    "cluster_labels",
    "default_candidates",
    "dictionary_fingerprint",
    "early_features",
    "early_lines",
    "evaluate_assigner",
    "evaluation_caveat",
    "fit_candidate",
    "fit_candidates",
    "fold_importance",
    "fold_splits",
    "gains_table",
    "horizon_dates",
    "horizon_labels",
    "load_model_file",
    "macro_f1_gap",
    "metric_name",
    "model_features",
    "model_name",
    "order_line_columns",
    "order_lines_table",
    "permutation_importance",
    "ranking_metrics",
    "rfm_as_of",
    "rolling_folds",
    "save_model_file",
    "score_cells",
    "segment_comparison",
    "time_split",
    "train_assigner",
    "train_propensity",
    "validate_assigner",
    "validate_propensity",
]
