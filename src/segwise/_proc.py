"""Temporary names that carry a process id of this machine, and their clean-up.

A process writes temporary files and folders under names holding :data:`HOST` and its
process id, and removes them when done; one that was killed cannot, so the next process
that writes beside them removes those whose process is gone (:func:`remove_if_gone`).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable
from pathlib import Path

__all__ = ["HOST", "remove_if_gone"]

#: This machine, as temporary names carry it: a process id means something only here.
HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"


def _alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (one we may not signal does).

    On Windows, where signal 0 would interrupt the process, every process counts as alive.
    """
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True


def remove_if_gone(folder: Path, pattern: re.Pattern[str],
                   remove: Callable[[Path], object]) -> None:
    """Remove the entries of ``folder`` named by ``pattern`` whose process is gone.

    Parameters
    ----------
    folder : Path
        Where the temporary entries lie; nothing happens if it cannot be listed.
    pattern : re.Pattern
        Matches a whole name; its first group is the process id (of :data:`HOST`).
    remove : callable
        Removes one entry (a file, or a folder with what it holds).
    """
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is not None and not _alive(int(match.group(1))):
            remove(entry)
