"""Save and load a trained assigner with skops, never through plain pickle.

A model file is a skops archive holding the estimator and the RFM scorer, plus
``segwise.json`` with the metadata: format, segwise version, window, feature schema,
segment names, a fingerprint of the training data, the held-out metrics, the object types
the archive needs and the SHA-256 digest of every other member (see
:mod:`segwise.store._models`, which every segwise model file goes through).

Loading trusts exactly the types in :data:`ASSIGNER_TYPES`, the ones an assigner file
holds beyond skops' own defaults (scikit-learn's estimators, NumPy and SciPy containers),
whatever the model, class weighting, calibration or SMOTE setting; a file that needs any
other type is refused before anything is built. On top of that, the metadata's feature
schema must match the estimator's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segwise.store import ModelFormat, load_model, save_model

__all__ = ["ASSIGNER_TYPES", "FORMAT", "load_model_file", "save_model_file"]

#: Format tag of segwise assigner files.
FORMAT = "segwise-assigner/1"

#: Every type outside skops' defaults that an assigner file holds, by exact name: the
#: union over every model, class weighting, calibration and SMOTE setting (a test saves
#: each variant and checks it stays inside).
ASSIGNER_TYPES = frozenset({
    "functools.partial",  # HistGradientBoosting's input check: partial(check_array, ...)
    "imblearn.over_sampling._smote.base.SMOTE",
    "imblearn.over_sampling._smote.base.SMOTENC",
    "imblearn.pipeline.Pipeline",
    "numpy.dtype",
    "scipy.sparse._csr.csr_matrix",
    "segwise.predict._assigner.SegmentAssigner",
    "segwise.predict._assigner._CellClassifier",
    "segwise.segment._scorer.RFMScorer",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.tree._tree.Tree",
    "sklearn.utils._bunch.Bunch",
    "sklearn.utils.validation.check_array",
})

ASSIGNER_FILE = ModelFormat(
    tag=FORMAT,
    trusted=ASSIGNER_TYPES,
    what="segwise assigner file",
    make="train one with `segwise assigner train`",
)


def save_model_file(objects: dict[str, Any], metadata: dict[str, Any], path: str | Path) -> Path:
    """Write an assigner file, atomically: :func:`segwise.store.save_model` as an assigner."""
    return save_model(objects, metadata, path, ASSIGNER_FILE)


def load_model_file(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read an assigner file: :func:`segwise.store.load_model` trusting :data:`ASSIGNER_TYPES`.

    Returns the stored objects and metadata; raises :class:`~segwise.exceptions.InputError`
    for a missing, foreign, altered or malformed file, or one needing any other type.
    """
    return load_model(path, ASSIGNER_FILE)
