"""Save and load a trained assigner with skops, never through plain pickle.

A model file is a skops archive (a zip) holding the estimator and the RFM scorer, plus one
extra member, ``segwise.json``, with the metadata: format, segwise version, window,
feature schema, segment names, a fingerprint of the training data, the held-out metrics,
the list of object types the archive needs, and the SHA-256 digest of every other member.

Loading refuses, with a message that says why:

* a file that is not such an archive, or of another format version;
* a file whose members do not match the digest (edited or corrupted after saving);
* a file that needs an object type outside segwise's allowlist (scikit-learn,
  imbalanced-learn, segwise's own estimators, ``numpy.arcsinh`` and ``functools.partial`` over
  those), so nothing else can
  ever be instantiated while loading;
* metadata whose feature schema differs from the estimator's.

The digest detects accidental or careless edits; it is not a signature, so only load
model files from sources you trust.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from segwise.exceptions import InputError

__all__ = ["FORMAT", "load_model_file", "save_model_file"]

#: Format tag of segwise assigner files.
FORMAT = "segwise-assigner/1"
_META = "segwise.json"
_ALLOWED_PREFIXES = ("sklearn.", "imblearn.", "segwise.predict.")
_ALLOWED_EXACT = frozenset(
    {"numpy.arcsinh", "functools.partial", "segwise.segment._scorer.RFMScorer"}
)


def _allowed(type_name: str) -> bool:
    return type_name in _ALLOWED_EXACT or type_name.startswith(_ALLOWED_PREFIXES)


def _digest(archive: zipfile.ZipFile) -> str:
    h = hashlib.sha256()
    for name in sorted(n for n in archive.namelist() if n != _META):
        h.update(name.encode())
        h.update(b"\0")
        h.update(hashlib.sha256(archive.read(name)).digest())
    return h.hexdigest()


def save_model_file(objects: dict[str, Any], metadata: dict[str, Any], path: str | Path) -> Path:
    """Write objects with skops and the metadata beside them in the same archive.

    Parameters
    ----------
    objects : dict of str to object
        What to store (estimators).
    metadata : dict
        JSON-ready metadata; ``format``, ``saved``, ``types`` and ``sha256`` are added.
    path : str or Path
        The ``.skops`` file to write.

    Returns
    -------
    Path
        The file written.
    """
    import skops.io as sio

    path = Path(path)
    payload = sio.dumps(objects)
    types = sorted(sio.get_untrusted_types(data=payload))
    refused = [t for t in types if not _allowed(t)]
    if refused:  # pragma: no cover - segwise only builds allowed types
        raise InputError(f"cannot save types outside the allowlist: {', '.join(refused)}")
    buf = io.BytesIO(payload)
    with zipfile.ZipFile(buf, "a") as archive:
        meta = {
            **metadata,
            "format": FORMAT,
            "saved": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "types": types,
            "sha256": _digest(archive),
        }
        archive.writestr(_META, json.dumps(meta, indent=2, default=str))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return path


def load_model_file(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a file written by :func:`save_model_file`, checking it first.

    Parameters
    ----------
    path : str or Path
        The ``.skops`` model file.

    Returns
    -------
    objects : dict
        The stored objects.
    metadata : dict
        The stored metadata.

    Raises
    ------
    InputError
        If the file is missing, not a segwise model, altered, or needs an unexpected type.
    """
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such model file. Fix: check the path")
    data = path.read_bytes()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if _META not in names or "schema.json" not in names:
                raise InputError(
                    f"{path}: not a segwise assigner file (no {_META}). Fix: train one with "
                    "`segwise assigner train`"
                )
            meta = json.loads(archive.read(_META))
            digest = _digest(archive)
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a segwise assigner file ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise InputError(
            f"{path}: model format {meta.get('format')!r}, this segwise reads {FORMAT!r}. "
            "Fix: retrain the model with this version"
        )
    if meta.get("sha256") != digest:
        raise InputError(
            f"{path}: the model file was modified or corrupted after it was saved (its "
            "contents do not match the recorded SHA-256). Fix: use the original file or retrain"
        )
    untrusted = sorted(sio.get_untrusted_types(data=data))
    unexpected = [t for t in untrusted if not _allowed(t) or t not in meta.get("types", [])]
    if unexpected:
        raise InputError(
            f"{path}: refusing to load unexpected object type(s) {', '.join(unexpected)}. "
            "Fix: only load model files written by segwise"
        )
    try:
        objects = sio.loads(data, trusted=untrusted)
    except Exception as exc:
        raise InputError(f"{path}: the model cannot be loaded ({exc})") from exc
    if not isinstance(objects, dict):
        raise InputError(f"{path}: not a segwise assigner file (unexpected content)")
    return objects, meta
