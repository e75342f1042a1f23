"""Calls in worker processes: results in order, warnings raised in the caller."""

from __future__ import annotations

import math
import warnings

import pytest

from segwise._parallel import run_calls
from segwise.exceptions import ConfigError, SegwiseWarning


@pytest.mark.parametrize("n_jobs", [1, 2, -1])
def test_results_come_in_the_order_of_the_calls(n_jobs: int) -> None:
    calls = [(math.factorial, (n,)) for n in range(8)]
    assert list(run_calls(calls, n_jobs)) == [math.factorial(n) for n in range(8)]


def test_a_workers_warnings_are_raised_in_the_caller_in_order() -> None:
    calls = [(warnings.warn, (f"call {i}", SegwiseWarning)) for i in range(3)]
    with pytest.warns(SegwiseWarning) as caught:
        assert list(run_calls(calls, 2)) == [None] * 3
    assert [str(w.message) for w in caught] == ["call 0", "call 1", "call 2"]


def test_the_callers_filters_decide_what_is_shown() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", SegwiseWarning)
        list(run_calls([(warnings.warn, ("hidden", SegwiseWarning))] * 2, 2))
    assert caught == []


def test_no_processes_is_refused() -> None:
    with pytest.raises(ConfigError, match="-1 for one per core"):
        list(run_calls([(math.factorial, (3,))], 0))
