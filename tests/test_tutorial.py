"""The notebook tutorial (docs/tutorial.md) runs as written: DataFrame in, report out."""

from __future__ import annotations

import doctest
import warnings
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"


def test_the_tutorial_runs_as_written() -> None:
    with warnings.catch_warnings():
        # The page shows what a notebook prints; warnings go to stderr there, not here.
        warnings.simplefilter("ignore")
        failed, attempted = doctest.testfile(
            str(TUTORIAL), module_relative=False, verbose=False, report=True,
            optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        )
    assert attempted > 20
    assert failed == 0, f"{failed} of {attempted} tutorial examples failed (see the output)"
