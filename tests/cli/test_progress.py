"""The progress display of long commands: a spinner on a terminal, heartbeat lines in logs."""

from __future__ import annotations

import time

import pytest

from segwise.cli import _app


def test_a_log_gets_the_current_step_when_a_step_is_long(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with _app.progress("Reading", every=0.05) as say:
        say("Sweeping k: k=3 (2 of 9)")
        time.sleep(0.3)
    captured = capsys.readouterr()
    assert captured.out == ""  # results on stdout stay clean
    lines = captured.err.splitlines()
    assert len(lines) >= 2
    assert all(line.startswith("Sweeping k: k=3 (2 of 9) (") for line in lines)


def test_a_short_command_prints_nothing_more(capsys: pytest.CaptureFixture[str]) -> None:
    with _app.progress("Reading", every=30) as say:
        say("Scoring")
    assert capsys.readouterr() == ("", "")
