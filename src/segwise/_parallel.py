"""Independent calls run in worker processes, their warnings raised in the caller.

Fits that hold the interpreter's lock (scikit-learn's boosting grows its trees in Python,
SciPy's linkage and most clustering refits run in one thread) use one core however many
threads they are given; processes use the others. A call's warnings do not reach the
caller from another process, so each call records its own and they are raised again in
the caller, call by call in order, with the category, file and line they came from, where
the caller's filters decide what is shown.

Every call must be seeded: the results are then those of the calls run one by one, so
they never depend on the number of processes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from segwise.exceptions import ConfigError

__all__ = ["check_jobs", "run_calls"]

Call = tuple[Callable[..., Any], tuple[Any, ...]]


def check_jobs(n_jobs: int | None) -> None:
    """Refuse ``n_jobs=0``, which is no number of processes."""
    if n_jobs == 0:
        raise ConfigError("n_jobs must be a number of processes, or -1 for one per core")


def run_calls(calls: Sequence[Call], n_jobs: int | None) -> Iterator[Any]:
    """Yield each call's result in the order of ``calls``.

    Parameters
    ----------
    calls : sequence of (function, arguments)
        Independent calls; with more than one process, the functions and arguments must
        pickle (module-level functions).
    n_jobs : int or None
        Processes (``-1``: one per core; None or 1: none, the calls run here). No more
        processes are started than there are calls.

    Yields
    ------
    object
        Each call's return value, once the call and those before it are done; the
        warnings a call raised are raised just before its value is yielded.
    """
    from joblib import Parallel, delayed, effective_n_jobs

    check_jobs(n_jobs)
    jobs = min(effective_n_jobs(n_jobs), len(calls))
    if jobs <= 1:
        for func, args in calls:
            yield func(*args)
        return
    done = Parallel(n_jobs=jobs, return_as="generator")(
        delayed(_recorded)(func, args) for func, args in calls)
    for value, caught in done:
        for message, category, filename, lineno in caught:
            # Raised again as it was raised there, not as segwise's own: its category, and
            # the file and line it came from, which this process's filters then match.
            warnings.warn_explicit(message, category, filename, lineno, registry=_SHOWN)
        yield value


#: What the "default" action has shown once already, as a module's ``__warningregistry__``.
_SHOWN: dict[Any, Any] = {}


def _recorded(func: Callable[..., Any], args: tuple[Any, ...]
              ) -> tuple[Any, list[tuple[Warning | str, type[Warning], str, int]]]:
    """``func(*args)``, with every warning it raised: message, category, file and line."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = func(*args)
    return value, [(w.message, w.category, w.filename, w.lineno) for w in caught]
