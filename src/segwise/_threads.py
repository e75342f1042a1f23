"""Thread-pool limits that do not rescan the process's shared libraries on every call.

``threadpoolctl.threadpool_limits`` looks up every loaded library each time it is entered
(15 ms here). segwise limits threads around every small fit and prediction: a segmentation
enters about 90 such limits, an assigner's permutation importance hundreds. One
``ThreadpoolController`` is kept instead, and made again only when modules were imported
since (a new module can load a new OpenMP or BLAS runtime).
"""

from __future__ import annotations

import functools
import sys
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["thread_limit"]


@functools.lru_cache(maxsize=1)
def _controller(n_modules: int) -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def thread_limit(limits: int, user_api: str | None = None) -> AbstractContextManager[Any]:
    """Limit the thread pools (``"openmp"``, ``"blas"`` or all) to ``limits`` threads.

    Parameters
    ----------
    limits : int
        Largest number of threads.
    user_api : {"openmp", "blas"} or None, default=None
        Which pools; every pool when None.

    Returns
    -------
    contextlib.AbstractContextManager
        Restores the previous limits on exit.
    """
    return _controller(len(sys.modules)).limit(limits=limits, user_api=user_api)
