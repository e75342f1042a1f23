"""Integrity of compressed inputs, checked before any row is read.

DuckDB's gzip reader does not check the CRC-32 a gzip member ends with: a file with a
flipped bit is read as different text (or as part of the data) and the run succeeds. The
check here decompresses the file once, streaming, and lets :mod:`gzip` verify every
member's CRC-32 and length.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from segwise.exceptions import InputError

__all__ = ["check_compressed"]

_CHUNK = 4 * 2**20


def check_compressed(path: Path) -> None:
    """Refuse a ``.gz`` file whose compressed data or checksums are damaged.

    Parameters
    ----------
    path : Path
        The input file; files without a ``.gz`` suffix are not read.

    Raises
    ------
    InputError
        If the file is not gzip data, is truncated, or a member's CRC-32 or length does
        not match its data.
    """
    if path.suffix.lower() != ".gz":
        return
    try:
        with gzip.open(path, "rb") as fh:
            while fh.read(_CHUNK):
                pass
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(
            f"{path}: the compressed file is damaged ({exc or type(exc).__name__}); reading it "
            "would give wrong or missing rows. Fix: copy or export the file again"
        ) from exc
