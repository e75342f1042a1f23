"""CoIL 2000 end to end: choose on the training table alone, then score the evaluation set.

The training command gets a copy of ``ticdata2000`` in a folder of its own: the evaluation
rows and their targets are nowhere it is told about, and every file Python opens while it
trains is recorded and checked. Only after the model file (with the rule, the figures and
the choice) is written is the evaluation set scored, once, and the caravan owners counted
among the top 800 with ``tictgts2000``. CoIL's licence allows research and education only:
it is used here, never shipped or demonstrated.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from segwise.cli import app
from segwise.predict import SegmentBaseline, TrainedPropensity, captured

pytestmark = pytest.mark.slow

_OPENED: list[str] = []
_RECORDING = [False]


def _hook(event: str, args: tuple[Any, ...], opened: list[str] = _OPENED,
          recording: list[bool] = _RECORDING, kinds: tuple[type, ...] = (str, bytes, Path)
          ) -> None:
    """Record the files Python opens while ``recording`` (bound now: hooks outlive modules)."""
    if recording[0] and event == "open" and isinstance(args[0], kinds):
        opened.append(str(args[0]))


sys.addaudithook(_hook)


@pytest.fixture(scope="module")
def coil(shared_data: Path) -> Path:
    return shared_data / "coil2000-insurance"


@pytest.fixture(scope="module")
def trained(coil: Path, tmp_path_factory: Any) -> tuple[Path, Any]:
    """``segwise propensity train`` on a lone copy of the training file, opens recorded."""
    work = tmp_path_factory.mktemp("coil_train")
    for name in ("ticdata2000.txt.gz", "dictionary.txt"):
        shutil.copy(coil / name, work / name)
    (work / "segwise.toml").write_text('[people]\nexclude = ["P*", "A*"]\n')
    _OPENED.clear()
    _RECORDING[0] = True
    try:
        result = CliRunner().invoke(app, [
            "propensity", "train", str(work / "ticdata2000.txt.gz"), "--target", "CARAVAN",
            "-d", str(work / "dictionary.txt"), "-c", str(work / "segwise.toml"),
            "-o", str(work / "model.skops"), "--jobs", "2"], terminal_width=200)
    finally:
        _RECORDING[0] = False
    assert result.exit_code == 0, result.output
    return work, result


def test_training_never_opens_the_evaluation_files(trained, coil) -> None:
    work, _ = trained
    assert _OPENED, "the audit hook recorded nothing"
    touched = [p for p in _OPENED if "ticeval" in p or "tictgts" in p or str(coil) in p]
    assert not touched
    meta = TrainedPropensity.load(work / "model.skops").metadata
    assert Path(meta["source"]).parent == work  # the lone copy, nothing else


def test_the_choice_is_recorded_before_anything_is_scored(trained) -> None:
    work, result = trained
    meta = TrainedPropensity.load(work / "model.skops").metadata
    validation = meta["validation"]
    assert validation["chosen"] == meta["model"] == "logistic regression"
    assert validation["best"] == "random forest + class weights"
    assert "one standard error" in validation["rule"]
    summary = {row["name"]: row for row in validation["summary"]}
    assert len([r for r in summary.values() if r["role"] == "candidate"]) == 15
    assert summary["logistic regression"]["captured_20"] == pytest.approx(0.506, abs=0.002)
    assert "Default: logistic regression." in result.output


def test_the_default_finds_caravan_owners_in_its_top_800(trained, coil, tmp_path) -> None:
    work, _ = trained
    out = tmp_path / "scores.parquet"
    run = CliRunner().invoke(app, ["propensity", "score", str(work / "model.skops"),
                                   str(coil / "ticeval2000.txt.gz"), "-o", str(out),
                                   "--top", "800"])
    assert run.exit_code == 0, run.output
    top = pd.read_parquet(out)
    targets = np.array(gzip.open(coil / "tictgts2000.txt.gz").read().split(), dtype=int)
    assert len(top) == 800 and targets.sum() == 238
    found = int(targets[top["person_id"].astype(int).to_numpy() - 1].sum())
    # Random: 800 / 4000 x 238 = 47.6; the competition's winner: 121. The pre-registered
    # default found 109 (docs/propensity.md); the target was 110.
    assert found >= 100
    assert top["reason_1"].str.len().gt(0).all()
    # The population segments mailed segment by segment, at the same mailing size.
    from segwise.clean import PeopleSettings
    from segwise.io import load_source, name_columns, read_coil_dictionary

    d = read_coil_dictionary(coil / "dictionary.txt")
    rows = name_columns(load_source(coil / "ticdata2000.txt.gz", "people").table,
                        d).to_pyarrow()
    y = np.asarray(rows.column("CARAVAN").to_pylist(), dtype=float).astype(int)
    k = sum(1 for s in TrainedPropensity.load(work / "model.skops").metadata[
        "validation"]["segments"] if s["segment"] >= 0)
    base = SegmentBaseline.fit(rows.drop_columns(["person_id", "CARAVAN"]), y, d,
                               PeopleSettings(exclude=("P*", "A*")), k)
    evaluation = name_columns(load_source(coil / "ticeval2000.txt.gz", "people").table,
                              d).to_pyarrow()
    order = np.asarray(evaluation.column("person_id").to_pylist(), dtype=int) - 1
    segments = base.score(base.segments(evaluation.drop_columns(["person_id"])))
    by_segments = float(captured(targets[order], segments, 800)[0])
    assert 47.6 < by_segments < found - 20


def test_a_fresh_process_gives_identical_scores(trained, coil, tmp_path) -> None:
    work, _ = trained
    here = tmp_path / "here.parquet"
    there = tmp_path / "there.parquet"
    run = CliRunner().invoke(app, ["propensity", "score", str(work / "model.skops"),
                                   str(coil / "ticeval2000.txt.gz"), "-o", str(here)])
    assert run.exit_code == 0, run.output
    subprocess.run([sys.executable, "-m", "segwise", "propensity", "score",  # noqa: S603
                    str(work / "model.skops"), str(coil / "ticeval2000.txt.gz"), "-o",
                    str(there)], check=True, capture_output=True)
    pd.testing.assert_frame_equal(pd.read_parquet(here), pd.read_parquet(there))
