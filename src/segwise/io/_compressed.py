"""Compressed inputs: which compressions are read, and their integrity.

DuckDB reads gzip and zstd itself. bzip2, xz and a zip archive of one file are
decompressed in Python, streaming, where the text is rewritten anyway
(:func:`segwise.io._text.write_normalised`); their checksums are verified as they are read.
What is looked at before DuckDB reads a file (a byte-order mark, the encoding, a JSON
array), and a file that must be rewritten, is decompressed in Python for every
compression: zstd by Arrow's codec (Python has none before 3.14).

DuckDB's gzip reader does not check the CRC-32 a gzip member ends with: a file with a
flipped bit is read as different text (or as part of the data) and the run succeeds. The
check here decompresses the file once, streaming, and lets :mod:`gzip` verify every
member's CRC-32 and length. DuckDB read the first half of a zstd file cut short as the
whole file; the same check reads it with Arrow's codec, which refuses a truncated frame.
It runs in a thread beside the read (both release Python's lock while they decompress),
and its verdict comes before anything read is used.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import threading
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, cast

from segwise.exceptions import InputError

__all__ = [
    "COMPRESSIONS",
    "PYTHON_COMPRESSIONS",
    "check_compressed",
    "checking_compressed",
    "damaged",
    "decompressed",
    "inner_name",
    "open_binary",
]

_CHUNK = 4 * 2**20

#: Compression suffixes read: DuckDB reads gzip and zstd, Python the others.
PYTHON_COMPRESSIONS = (".bz2", ".xz", ".zip")
COMPRESSIONS = (".gz", ".zst", *PYTHON_COMPRESSIONS)
#: Compressions DuckDB reads without checking them: checked beside its read.
_UNCHECKED = (".gz", ".zst")

#: What decompressing damaged data raises (bz2 and gzip: an OSError without an errno).
_DAMAGE = (EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile)


def damaged(path: Path, exc: BaseException) -> InputError:
    """Return the error for a compressed file whose data or checksums are damaged."""
    return InputError(
        f"{path}: the compressed file is damaged ({exc or type(exc).__name__}); reading it "
        "would give wrong or missing rows. Fix: copy or export the file again"
    )


@contextmanager
def decompressed(path: Path) -> Iterator[BinaryIO]:
    """Open a file's data as :func:`open_binary` does; damaged data raise :func:`damaged`.

    Raises
    ------
    InputError
        If the compressed data or a checksum are damaged, while the block reads them.
    """
    try:
        with open_binary(path) as fh:
            yield fh
    except (*_DAMAGE, OSError) as exc:
        # bz2 and gzip raise an OSError without an errno; a full disk has one.
        if isinstance(exc, _DAMAGE) or (isinstance(exc, OSError) and exc.errno is None):
            raise damaged(path, exc) from exc
        raise


def _zip_member(path: Path) -> zipfile.ZipInfo:
    """Return the one file a zip archive holds (folders and macOS metadata aside)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()
                       and not m.filename.startswith("__MACOSX/")
                       and Path(m.filename).name != ".DS_Store"]
    except zipfile.BadZipFile as exc:
        raise damaged(path, exc) from exc
    if len(members) != 1:
        names = ", ".join(m.filename for m in members[:5]) + (", ..." if len(members) > 5
                                                              else "")
        raise InputError(f"{path}: the zip archive holds {len(members)} files"
                         f"{' (' + names + ')' if names else ''}; segwise reads an archive of "
                         "one file. Fix: extract the file to read and give its path")
    return members[0]


def inner_name(path: Path) -> str:
    """Return the name of the data inside a compressed file (``orders.csv`` of ``orders.zip``).

    The file's own name without its compression suffix; for a zip archive, the name of
    the one file it holds.
    """
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return Path(_zip_member(path).filename).name
    return path.name[: -len(suffix)] if suffix in COMPRESSIONS else path.name


def open_binary(path: Path) -> BinaryIO:
    """Open a file for reading its data, decompressed (gzip, bzip2, xz, a zip of one file).

    Raises
    ------
    InputError
        For a zip archive that is damaged or does not hold exactly one file.
    """
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return cast(BinaryIO, gzip.open(path, "rb"))
    if suffix == ".bz2":
        return cast(BinaryIO, bz2.open(path, "rb"))
    if suffix == ".xz":
        return cast(BinaryIO, lzma.open(path, "rb"))
    if suffix == ".zip":
        member = _zip_member(path)
        # The member keeps the archive's file open until it is closed itself.
        with zipfile.ZipFile(path) as archive:
            return cast(BinaryIO, archive.open(member))
    if suffix == ".zst":
        # Every .zst file was refused here, its byte-order mark looked for before DuckDB
        # read it. Damaged data raise an OSError without an errno, as gzip's do.
        import pyarrow as pa

        return cast(BinaryIO, pa.input_stream(str(path), compression="zstd"))
    return path.open("rb")


def check_compressed(path: Path, stop: threading.Event | None = None) -> None:
    """Refuse a ``.gz`` or ``.zst`` file whose compressed data or checksums are damaged.

    Parameters
    ----------
    path : Path
        The input file; files without a ``.gz`` or ``.zst`` suffix are not read.
    stop : threading.Event, optional
        When set, the check ends early, its verdict unknown (the run is over anyway).

    Raises
    ------
    InputError
        If the file is not gzip (zstd) data, is truncated, or a member's CRC-32 or
        length (a frame's checksum) does not match its data.
    """
    if path.suffix.lower() not in _UNCHECKED:
        return
    with decompressed(path) as fh:
        while fh.read(_CHUNK) and not (stop is not None and stop.is_set()):
            pass


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
    if path.suffix.lower() not in _UNCHECKED:
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
