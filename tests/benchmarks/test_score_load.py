"""The scoring load test's report: where in the run the latency tail lies."""

from __future__ import annotations

import numpy as np

import score_load as load  # loaded by conftest.py from benchmarks/


def test_the_tail_is_placed_in_time() -> None:
    # 200 requests/s for 60 s, 5 ms each, but for a slow start (the first batches) and
    # one stall at 40 s: the report says when the slowest were due, and p99 and max
    # with the warm-up apart (the percentiles alone could not tell the two).
    rng = np.random.default_rng(0)
    due = np.arange(12_000) / 200.0
    lat = rng.uniform(3, 7, len(due))
    lat[:40] = np.linspace(300, 100, 40)
    lat[8_000] = 250.0
    lines = load.tail(lat, due, slowest=3)
    assert lines[0] == ("  slowest: 300 ms due at 0.0 s, 295 ms due at 0.0 s, "
                        "290 ms due at 0.0 s")
    assert lines[1] == "  first 5 s: 1,000 answered, p99 249 ms, max 300 ms"
    assert lines[2].startswith("  after 5 s: 11,000 answered, p99 7 ms, max 250 ms")
