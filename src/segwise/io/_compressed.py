"""Integrity of compressed inputs, checked while the rows are read.

DuckDB's gzip reader does not check the CRC-32 a gzip member ends with: a file with a
flipped bit is read as different text (or as part of the data) and the run succeeds. The
check here decompresses the file once, streaming, and lets :mod:`gzip` verify every
member's CRC-32 and length. It runs in a thread beside the read (both release Python's
lock while they decompress), and its verdict comes before anything read is used.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from segwise.exceptions import InputError

__all__ = ["check_compressed", "checking_compressed"]

_CHUNK = 4 * 2**20


def check_compressed(path: Path, stop: threading.Event | None = None) -> None:
    """Refuse a ``.gz`` file whose compressed data or checksums are damaged.

    Parameters
    ----------
    path : Path
        The input file; files without a ``.gz`` suffix are not read.
    stop : threading.Event, optional
        When set, the check ends early, its verdict unknown (the run is over anyway).

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
            while fh.read(_CHUNK) and not (stop is not None and stop.is_set()):
                pass
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(
            f"{path}: the compressed file is damaged ({exc or type(exc).__name__}); reading it "
            "would give wrong or missing rows. Fix: copy or export the file again"
        ) from exc


@contextmanager
def checking_compressed(path: Path) -> Iterator[None]:
    """Run :func:`check_compressed` on ``path`` beside the block, and raise its verdict.

    The check's error wins over the block's, as if it had run first: a damaged file
    often fails the read too, with a message that does not say why.

    Raises
    ------
    InputError
        If the file is damaged (see :func:`check_compressed`).
    """
    if path.suffix.lower() != ".gz":
        yield
        return
    stop = threading.Event()
    failure: list[BaseException] = []

    def check() -> None:
        try:
            check_compressed(path, stop)
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=check, name="segwise-gzip-check", daemon=True)
    thread.start()
    try:
        yield
    except (KeyboardInterrupt, SystemExit):
        stop.set()
        raise
    except BaseException:
        thread.join()
        if failure:
            raise failure[0]  # noqa: B904 - its own cause (the gzip error) is the one to show
        raise
    thread.join()
    if failure:
        raise failure[0]
