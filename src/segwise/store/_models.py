"""Model files: skops archives with segwise's metadata, loaded only if every type is expected.

A model file is a skops archive (a zip) holding the fitted objects, plus one extra member,
``segwise.json``, with the metadata: the format tag, when it was saved, the object types
the archive needs, and the SHA-256 digest of every other member.

skops never unpickles: it rebuilds each object from a tree of typed nodes, and it only
rebuilds types it is told to trust. What to trust is the point of this module. Every kind
of model segwise saves declares, in a :class:`ModelFormat`, the **exact** type names
(``module.qualname``) that its files contain; :func:`check_types` compares them with
:func:`skops.io.get_untrusted_types` before anything is built, and refuses a file that
needs any other type, naming the first one. A prefix such as ``sklearn.`` would not do:
scikit-learn's own test helpers run scripts when called, and skops calls whatever a
crafted file names as a constructor.

Loading refuses, with a one-line message that says why:

* a path that is not a file, a file that is not a zip archive, or an archive without
  ``segwise.json`` and ``schema.json``;
* another format (or a newer version of this one);
* members that do not match the recorded digest (edited or corrupted after saving);
* a ``schema.json`` that is not valid JSON or was written by a newer skops protocol;
* any object type outside the format's trusted list.

The digest detects accidental or careless edits; it is not a signature, so only load
model files from sources you trust. The trusted list is what makes loading a crafted
file safe: nothing outside it is ever imported or called.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segwise.exceptions import InputError
from segwise.store._files import write_bytes

__all__ = ["ModelFormat", "check_types", "load_model", "save_model"]

_META = "segwise.json"
_SCHEMA = "schema.json"


@dataclass(frozen=True)
class ModelFormat:
    """One kind of model file: its format tag and the exact types its files may contain.

    Parameters
    ----------
    tag : str
        Format tag written to and checked in the metadata, e.g. ``"segwise-assigner/1"``.
    trusted : frozenset of str
        Fully qualified names of every type outside skops' defaults that files of this
        kind contain (as :func:`skops.io.get_untrusted_types` names them). Build it from
        what the saver really writes, and test that every model variant fits in it.
    what : str
        What the file is, for messages (``"segwise assigner file"``).
    make : str
        How to make one, for messages (``"train one with `segwise assigner train`"``).
    """

    tag: str
    trusted: frozenset[str]
    what: str
    make: str


def _digest(archive: zipfile.ZipFile) -> str:
    h = hashlib.sha256()
    for name in sorted(n for n in archive.namelist() if n != _META):
        h.update(name.encode())
        h.update(b"\0")
        h.update(hashlib.sha256(archive.read(name)).digest())
    return h.hexdigest()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_types(data: bytes, trusted: Collection[str], *, source: str) -> list[str]:
    """Return the non-default types a skops archive needs, if all of them are trusted.

    Parameters
    ----------
    data : bytes
        The skops archive.
    trusted : collection of str
        Exact type names (``module.qualname``) that may be loaded.
    source : str
        The file's name, for messages.

    Returns
    -------
    list of str
        The archive's types outside skops' defaults (sorted), to pass to
        :func:`skops.io.loads` as ``trusted``.

    Raises
    ------
    InputError
        If ``schema.json`` is missing, not valid JSON, from a newer skops protocol or
        otherwise unreadable, or if any type is not in ``trusted`` (the message names the
        first, in sorted order).
    """
    import skops.io as sio
    from skops.io._protocol import PROTOCOL

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read(_SCHEMA))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{source}: its {_SCHEMA} is missing or not valid JSON ({_first_line(exc)})"
        ) from exc
    protocol = schema.get("protocol") if isinstance(schema, dict) else None
    if isinstance(protocol, bool) or not isinstance(protocol, int) or protocol < 0:
        raise InputError(f"{source}: its {_SCHEMA} has no valid skops protocol ({protocol!r})")
    if protocol > PROTOCOL:
        raise InputError(
            f"{source}: written with skops protocol {protocol}, this installation reads up to "
            f"{PROTOCOL}. Fix: upgrade skops, or save the model again with this version"
        )
    try:
        found = sorted(sio.get_untrusted_types(data=data))
    except Exception as exc:  # any malformed node tree: skops raises many kinds
        raise InputError(
            f"{source}: its {_SCHEMA} is malformed ({_first_line(exc)})"
        ) from exc
    refused = [t for t in found if t not in trusted]
    if refused:
        more = f" and {len(refused) - 1} more" if len(refused) > 1 else ""
        raise InputError(
            f"{source}: refusing to load type {refused[0]}{more}, which segwise never "
            "writes into this kind of file. Fix: only load model files written by segwise"
        )
    return found


def save_model(
    objects: dict[str, Any], metadata: dict[str, Any], path: str | Path, kind: ModelFormat
) -> Path:
    """Write objects with skops and the metadata beside them in the same archive.

    The file is written to a temporary name in the same folder and renamed into place.

    Parameters
    ----------
    objects : dict of str to object
        What to store (estimators).
    metadata : dict
        JSON-ready metadata; ``format``, ``saved``, ``types`` and ``sha256`` are added.
    path : str or Path
        The file to write.
    kind : ModelFormat
        The format; saving refuses objects of a type outside ``kind.trusted``, since
        loading would refuse them.

    Returns
    -------
    Path
        The file written.
    """
    import skops.io as sio

    # Deflated: the arrays and dictionaries of a fitted model shrink many times (a
    # propensity model on Customer Personality: 1.2 MB stored, 35 kB deflated). At zlib's
    # fastest level: the default assigner on Online Retail (85 MB stored, its schema
    # 35 MB) is written in 4.8 s instead of 6.1 s, at 13.7 MB instead of 11.6 MB.
    payload = sio.dumps(objects, compression=zipfile.ZIP_DEFLATED, compresslevel=1)
    types = sorted(sio.get_untrusted_types(data=payload))
    refused = [t for t in types if t not in kind.trusted]
    if refused:
        raise InputError(
            f"cannot save a {kind.what} holding types it would refuse to load: "
            f"{', '.join(refused)}"
        )
    buf = io.BytesIO(payload)
    with zipfile.ZipFile(buf, "a") as archive:
        meta = {
            **metadata,
            "format": kind.tag,
            "saved": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "types": types,
            "sha256": _digest(archive),
        }
        archive.writestr(_META, json.dumps(meta, indent=2, default=str))
    return write_bytes(buf.getvalue(), path)


def _other_format(path: Path, meta: dict[str, Any], kind: ModelFormat) -> str:
    """Say why a file of another format is refused: another kind of model, or another version.

    A propensity model given where an assigner is read was told to "retrain the model with
    this version", as if segwise had changed, when it was only the other command's file.
    """
    found = meta.get("format")
    if not isinstance(found, str) or "/" not in found:
        return f"{path}: not a {kind.what} (no format in {_META}). Fix: {kind.make}"
    name, _, version = found.rpartition("/")
    wanted, _, reads = kind.tag.rpartition("/")
    if name != wanted:
        return (f"{path}: a {name.replace('-', ' ')} model file (format {found!r}), not a "
                f"{kind.what}. Fix: give it to the command that reads that kind of model, or "
                f"{kind.make}")
    saved_by = meta.get("segwise_version")
    return (f"{path}: a {kind.what} of format version {version}"
            + (f" (saved by segwise {saved_by})" if saved_by else "")
            + f"; this segwise reads version {reads}. Fix: retrain the model with this "
            "version of segwise")


def load_model(path: str | Path, kind: ModelFormat) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a file written by :func:`save_model`, checking it before anything is built.

    Parameters
    ----------
    path : str or Path
        The model file.
    kind : ModelFormat
        The format expected.

    Returns
    -------
    objects : dict
        The stored objects.
    metadata : dict
        The stored metadata.

    Raises
    ------
    InputError
        If the file is missing, not of this kind, altered, malformed, or needs a type
        outside ``kind.trusted``.
    """
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such model file. Fix: check the path")
    data = path.read_bytes()
    not_ours = f"{path}: not a {kind.what}"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if _META not in names or _SCHEMA not in names:
                raise InputError(f"{not_ours} (no {_META}). Fix: {kind.make}")
            meta = json.loads(archive.read(_META))
            if not isinstance(meta, dict):
                raise InputError(f"{not_ours} ({_META} is not a JSON object). Fix: {kind.make}")
            # Before the digest, which reads every member (2.5 s for an assigner).
            if meta.get("format") != kind.tag:
                raise InputError(_other_format(path, meta, kind))
            digest = _digest(archive)
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        if isinstance(exc, zipfile.BadZipFile) and data.startswith(b"PK\x03\x04"):
            # A zip archive's start without its end: a copy or download cut short.
            raise InputError(
                f"{path}: a zip archive that is cut short or damaged, not a whole "
                f"{kind.what} ({_first_line(exc)}; {len(data):,} bytes). Fix: copy the file "
                f"again, all of it, or {kind.make}"
            ) from exc
        raise InputError(f"{not_ours} ({_first_line(exc)}). Fix: {kind.make}") from exc
    if meta.get("sha256") != digest:
        raise InputError(
            f"{path}: the model file was modified or corrupted after it was saved (its "
            "contents do not match the recorded SHA-256). Fix: use the original file or retrain"
        )
    types = check_types(data, kind.trusted, source=str(path))
    try:
        objects = sio.loads(data, trusted=types)
    except Exception as exc:  # a well-typed but inconsistent tree fails in many ways
        raise InputError(f"{path}: the model cannot be loaded ({_first_line(exc)}). Fix: "
                         f"{kind.make}") from exc
    if not isinstance(objects, dict):
        raise InputError(f"{not_ours} (unexpected content). Fix: {kind.make}")
    return objects, meta
