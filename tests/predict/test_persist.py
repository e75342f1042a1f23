"""Save, load and apply: same predictions as in memory; altered or foreign files refused."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from typer.testing import CliRunner

from segwise.clean import clean_transactions
from segwise.cli import app
from segwise.exceptions import ConfigError, InputError
from segwise.io import load_transactions
from segwise.predict import EarlyWindow, SegmentAssigner, TrainedAssigner, train_assigner
from segwise.predict._persist import ASSIGNER_TYPES
from segwise.segment._scorer import RFMScorer
from segwise.store._models import _digest


@pytest.fixture(scope="module")
def trained(retail_result, retail_split, small_grid):
    model, report, data = train_assigner(
        retail_result, cutoff=retail_split.cutoff, candidates={"grid": small_grid},
    )
    return model, report, data


@pytest.fixture(scope="module")
def saved(trained, tmp_path_factory) -> Path:
    return trained[0].save(tmp_path_factory.mktemp("model") / "model.skops")


@pytest.fixture(scope="module")
def heldout_kept(heldout_file):
    return clean_transactions(load_transactions(heldout_file)).kept


def test_round_trip_gives_the_same_predictions(trained, saved, heldout_kept, retail_data):
    model = trained[0]
    loaded = TrainedAssigner.load(saved)
    assert len(loaded.estimator.cells_) > len(loaded.estimator.classes_)  # the grid's cells
    X = retail_data.X.head(200)
    np.testing.assert_array_equal(model.estimator.predict_proba(X),
                                  loaded.estimator.predict_proba(X))
    in_memory = model.assign(heldout_kept)
    from_file = loaded.assign(heldout_kept)
    pd.testing.assert_frame_equal(in_memory, from_file)
    assert len(from_file) == 150
    assert from_file["orders_used"].max() == 3  # more orders: the first 3 only
    done = from_file[from_file["window_complete"]]
    assert done["segment"].notna().all() and len(done) > 0
    assert from_file.loc[~from_file["window_complete"], "segment"].isna().all()
    p = done.filter(like="p_").to_numpy(dtype=float)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    # The fitted arrays are stored deflated, so the file is a fraction of their size.
    import zipfile

    with zipfile.ZipFile(saved) as archive:
        members = [m for m in archive.infolist() if m.filename.endswith(".npy")]
        assert members and all(m.compress_type == zipfile.ZIP_DEFLATED for m in members)
        assert sum(m.compress_size for m in members) < sum(m.file_size for m in members) / 2


def test_saved_classes_are_the_evaluated_ones(trained):
    """A segment merged into Other in the evaluation is never predicted by the saved model."""
    model, report, _ = trained
    assert set(model.estimator.classes_) == set(report.per_segment.index)
    for segment in report.merged:
        assert segment not in model.estimator.classes_
    assert model.metadata["merged_into_other"] == report.merged


def test_metadata(saved, trained):
    meta = TrainedAssigner.load(saved).metadata
    assert meta["window"] == {"n_orders": 3, "n_days": None}
    assert meta["segments"] == list(trained[0].estimator.classes_)
    assert set(meta["feature_schema"]) >= {"country", "n_orders", "horizon_days"}
    assert len(meta["training"]["fingerprint_sha256"]) == 64
    assert meta["metrics"]["n_test"] == trained[1].n_test
    assert "segwise_version" in meta
    assert meta["label_target"] == "horizon" and meta["horizon_days"] == 90


def test_a_horizon_model_answers_for_its_horizon_only(saved, heldout_kept):
    model = TrainedAssigner.load(saved)
    assert model.label == "horizon" and model.horizon_days == 90
    feats = model.features(heldout_kept, horizon_days=90)
    assert (feats["horizon_days"] == 90).all()
    with pytest.raises(ConfigError, match="trained on the segment 90 days"):
        model.assign(heldout_kept, horizon_days=180)
    # A model from before horizon labels (no label_target) took any horizon.
    legacy = TrainedAssigner(model.estimator, model.scorer, model.window, 180, {})
    assert legacy.label == "full_history"
    assert (legacy.features(heldout_kept, horizon_days=30)["horizon_days"] == 30).all()


def rewrite(src: Path, dst: Path, change) -> Path:
    """Copy a model archive, passing each member's (name, bytes) through ``change``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(buf, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, change(name, zin.read(name)))
    dst.write_bytes(buf.getvalue())
    return dst


def test_tampered_model_is_refused(saved, tmp_path):
    victim = next(n for n in zipfile.ZipFile(saved).namelist() if n.endswith(".npy"))

    def flip(name, data):
        return data[:-1] + bytes([data[-1] ^ 1]) if name == victim else data

    with pytest.raises(InputError, match="modified or corrupted"):
        TrainedAssigner.load(rewrite(saved, tmp_path / "t.skops", flip))


def test_a_model_file_cut_short_is_said_to_be_cut_short(saved, tmp_path):
    # A copy or download stopped half way keeps the zip's start and loses its directory;
    # it was called "not a segwise assigner file ... Fix: train one", which sends the user
    # to retrain a model they have, instead of to copy it again.
    data = saved.read_bytes()
    for cut in (len(data) // 2, len(data) - 10):
        short = tmp_path / f"short-{cut}.skops"
        short.write_bytes(data[:cut])
        with pytest.raises(InputError, match=rf"a zip archive that is cut short or damaged, "
                                             rf"not a whole segwise assigner file \(.*; "
                                             rf"{cut:,} bytes\)\. Fix: copy the file again"):
            TrainedAssigner.load(short)


def test_metadata_schema_mismatch_is_refused(saved, tmp_path):
    def edit(name, data):
        if name != "segwise.json":
            return data
        meta = json.loads(data)
        meta["feature_schema"]["basket_entropy"] = "numeric"
        return json.dumps(meta).encode()

    with pytest.raises(InputError, match="feature schema does not match"):
        TrainedAssigner.load(rewrite(saved, tmp_path / "m.skops", edit))


class Sneaky:
    """A type no allowlist trusts."""


def test_unexpected_types_are_refused(tmp_path):
    payload = sio.dumps({"estimator": Sneaky()})
    buf = io.BytesIO(payload)
    with zipfile.ZipFile(buf, "a") as z:
        meta = {"format": "segwise-assigner/1", "types": [], "sha256": _digest(z)}
        z.writestr("segwise.json", json.dumps(meta))
    path = tmp_path / "sneaky.skops"
    path.write_bytes(buf.getvalue())
    with pytest.raises(InputError, match=r"refusing to load type .*Sneaky"):
        TrainedAssigner.load(path)


@pytest.mark.slow
def test_every_model_variant_saves_exactly_the_trusted_types(retail_data, tmp_path):
    """The trusted list is the union of what every setting writes: nothing missing, nothing extra.

    Calibration and SMOTE add types (sigmoid calibration includes isotonic's), so the
    sigmoid-calibrated variant of each model, with SMOTE where it applies, covers all.
    """
    X, y, cells = retail_data.X.iloc[:1500], retail_data.y.iloc[:1500], retail_data.cells
    found: set[str] = set()
    for model in ("grid", "vote", "hgb", "random_forest", "logistic"):
        est = SegmentAssigner(model, smote=model != "grid", calibration="sigmoid",
                              max_iter=5, n_estimators=5, cv=2)
        est.fit(X, y, cells=cells.iloc[:1500] if model == "grid" else None)
        scorer = RFMScorer.from_edges({c: np.arange(6.0) for c in
                                       ("recency_days", "frequency", "monetary")})
        saved = TrainedAssigner(est, scorer, EarlyWindow(n_orders=3), 90, {}).save(
            tmp_path / f"{model}.skops")
        found |= set(sio.get_untrusted_types(file=saved))
        TrainedAssigner.load(saved)
    assert found == ASSIGNER_TYPES


def test_foreign_files_are_refused(tmp_path):
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"not a zip at all")
    fix = r"Fix: train one with `segwise assigner train`"
    with pytest.raises(InputError, match=rf"not a segwise assigner file .*{fix}"):
        TrainedAssigner.load(junk)
    plain = tmp_path / "plain.skops"
    plain.write_bytes(sio.dumps({"a": 1}))
    with pytest.raises(InputError, match=rf"not a segwise assigner file .*{fix}"):
        TrainedAssigner.load(plain)
    with pytest.raises(InputError, match="no such model file"):
        TrainedAssigner.load(tmp_path / "missing.skops")


def test_cli_assign(saved, heldout_file, tmp_path):
    out = tmp_path / "assigned.csv"
    res = CliRunner().invoke(app, ["assign", str(saved), str(heldout_file), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "first 3 only" in res.output
    df = pd.read_csv(out)
    # The share left unassigned is printed with its reasons, and adds up.
    text = " ".join(res.output.split())
    n_inc = int((~df["window_complete"]).sum())
    assert f"Left unassigned: {n_inc:,} of 150 new customers ({n_inc / 150:.1%})" in text
    assert (f"{n_inc:,} have an incomplete window" in text) == (n_inc > 0)
    assert {"customer_id", "segment", "probability", "orders_used"} <= set(df.columns)
    assert any(c.startswith("p_") for c in df.columns)
    bad = tmp_path / "bad.skops"
    bad.write_bytes(b"garbage")
    res = CliRunner().invoke(app, ["assign", str(bad), str(heldout_file), "-o", str(out)])
    assert res.exit_code == 1
    assert "not a segwise assigner file" in res.output


@pytest.mark.slow
def test_cli_train_full_history_labels(shared_data, tmp_path):
    out = tmp_path / "full.skops"
    res = CliRunner().invoke(app, [
        "assigner", "train", str(shared_data / "uci-online-retail" / "online_retail.parquet"),
        "--label-date", "full-history", "--no-compare", "--horizon", "120", "-o", str(out),
    ])
    assert res.exit_code == 0, res.output
    assert "label: rfm segment at the reference date" in " ".join(res.output.split())
    assert "baseline: RFM rules on the window" in res.output
    model = TrainedAssigner.load(out)
    assert model.label == "full_history" and model.horizon_days == 120
    assert model.metadata["training"]["customers"] > 1500  # the maturity rule, not H


def test_cli_help():
    for args in (["assigner", "train", "--help"], ["assign", "--help"]):
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0 and "Usage" in res.output


@pytest.mark.slow
def test_cli_train_validate_model_and_class_weight(shared_data, tmp_path):
    out = tmp_path / "hgb.skops"
    res = CliRunner().invoke(app, [
        "assigner", "train", str(shared_data / "uci-online-retail" / "online_retail.parquet"),
        "--model", "hgb", "--class-weight", "balanced", "--no-compare", "--validate",
        "-o", str(out),
    ])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "Validation on the training customers only" in text
    model = TrainedAssigner.load(out)
    assert (model.estimator.model, model.estimator.class_weight) == ("hgb", "balanced")
    validation = model.metadata["metrics"]["validation"]
    assert [row["model"] for row in validation] == [
        "hgb (chosen)", "baseline: majority class", "baseline: RFM rules on the window"]
    assert all(0 <= row["pooled_macro_f1"] <= 1 for row in validation)


def test_customers_acquired_before_the_training_lines_end_are_said(trained, heldout_kept):
    # The held-out customers first bought before the lines the refitted model learned from
    # end (2011-12-10): it was trained on them. Assigning them (or the training file
    # again) read as new customers' segments, without a word.
    import dataclasses
    import warnings

    model = trained[0]
    with pytest.warns(UserWarning, match=r"^150 of 150 customers first bought before "
                                         r"2011-12-10, when the lines the model was trained "
                                         r"on end: .*Fix: assign the customers acquired from "
                                         r"2011-12-10 on$"):
        model.assign(heldout_kept)
    # A model whose lines ended before they first bought: they are new to it.
    older = dataclasses.replace(model, metadata={**model.metadata, "as_of": "2010-12-01"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        older.assign(heldout_kept)
    assert not [w for w in caught if "first bought before" in str(w.message)]


def test_without_refit_the_evaluated_model_is_kept(trained, retail_result, retail_split,
                                                   small_grid):
    kept, report, _ = train_assigner(
        retail_result, cutoff=retail_split.cutoff, candidates={"grid": small_grid},
        refit=False,
    )
    assert kept.estimator is report.estimator
    assert kept.metadata["training"]["fitted_on"] == "training customers"
    refitted, refit_report, _ = trained
    assert refitted.estimator is not refit_report.estimator
    assert refitted.metadata["training"]["fitted_on"] == "all eligible customers"
    assert kept.metadata["metrics"] == refitted.metadata["metrics"]  # the same evaluation


class _Stop(Exception):
    pass


@pytest.mark.parametrize(("keep", "refit"), [([], False), (["-o", "m.skops"], True),
                                             (["--store", "s.duckdb"], True)])
def test_cli_train_refits_only_a_model_it_keeps(heldout_file, tmp_path, monkeypatch, keep,
                                                refit):
    """A file or a store keeps the model (the store serves it): fitted on everyone."""
    import segwise.predict

    seen = []

    def stop(*args, **kwargs):
        seen.append(kwargs["refit"])
        raise _Stop

    monkeypatch.setattr(segwise.predict, "train_assigner", stop)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["assigner", "train", str(heldout_file), *keep])
    assert isinstance(res.exception, _Stop), res.output
    assert seen == [refit]
def test_assign_takes_raw_order_lines_from_a_file_or_any_dataframe(saved, heldout_file,
                                                                   heldout_kept):
    import polars as pl

    model = TrainedAssigner.load(saved)
    expected = model.assign(heldout_kept)
    raw = pd.read_parquet(heldout_file)
    for source in (heldout_file, raw, pl.from_pandas(raw),
                   clean_transactions(load_transactions(raw))):
        pd.testing.assert_frame_equal(model.assign(source), expected)


def test_assign_reads_raw_lines_as_the_fixes_say(saved, heldout_file, heldout_kept):
    # Raw lines whose customer column segwise does not recognise: the fix said columns=,
    # which assign did not take (a TypeError when followed).
    model = TrainedAssigner.load(saved)
    raw = pd.read_parquet(heldout_file).rename(columns={"CustomerID": "Kunde"})
    with pytest.raises(InputError, match=r'Fix: .*pass columns=\{"customer_id": "\.\.\."\}'):
        model.assign(raw)
    pd.testing.assert_frame_equal(model.assign(raw, columns={"customer_id": "Kunde"}),
                                  model.assign(heldout_kept))
    with pytest.raises(ConfigError, match=r"^columns= says how raw order lines are read, but "
                                          r"these are already loaded"):
        model.assign(heldout_kept, columns={"customer_id": "Kunde"})


def test_new_lines_without_what_the_training_lines_had_are_warned(saved, heldout_file,
                                                                  tmp_path):
    # The held-out Online Retail customers as a CDNOW-like export: dates only, no product
    # and no country. Every customer then had 0 products, country Unknown and orders at
    # midnight, which no training customer had, and the command said nothing.
    meta = TrainedAssigner.load(saved).metadata
    assert meta["line_contents"] == {"product ids": True, "countries": True,
                                     "times of day": True}
    raw = pd.read_parquet(heldout_file)
    bare = raw.assign(InvoiceDate=raw["InvoiceDate"].dt.normalize()).drop(
        columns=["StockCode", "Description", "Country"])
    src = tmp_path / "bare.csv"
    bare.to_csv(src, index=False)
    out = tmp_path / "assigned.csv"
    res = CliRunner().invoke(app, ["assign", str(saved), str(src), "-o", str(out)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.stderr.split())
    assert ("warning: the new order lines have no product ids, no countries and no times of "
            "day, which the training lines had: n_products, country, mean_order_hour take "
            "one value for every customer") in text and "Fix: give the columns" in text
    # The file itself, as the training file: nothing lacking to warn about (its customers
    # were learned from, which is said apart).
    res = CliRunner().invoke(app, ["assign", str(saved), str(heldout_file), "-o", str(out)])
    assert res.exit_code == 0 and "the new order lines have no" not in res.stderr, res.output


def test_cli_assign_accounts_for_every_line(saved, heldout_file, shared_data, tmp_path):
    # The held-out customers beside 500 Online Retail lines without a customer id: those
    # lines were left out without a word. Now every line is kept or counted with a reason.
    raw = pd.read_parquet(shared_data / "uci-online-retail" / "online_retail.parquet")
    anonymous = raw[raw["CustomerID"].isna()].head(500)
    lines = pd.concat([pd.read_parquet(heldout_file), anonymous], ignore_index=True)
    src = tmp_path / "lines.parquet"
    lines.to_parquet(src, index=False)
    res = CliRunner().invoke(app, ["assign", str(saved), str(src), "-o",
                                   str(tmp_path / "out.csv")], terminal_width=300)
    assert res.exit_code == 0, res.output
    found = re.search(r"Order lines: ([\d,]+) read, ([\d,]+) kept; left out: (.*?)\. ",
                      " ".join(res.output.split()))
    assert found, res.output
    read, kept = (int(n.replace(",", "")) for n in found.groups()[:2])
    assert read == len(lines)
    left = {reason: int(n.replace(",", "")) for n, reason in
            (part.split(" ", 1) for part in found.group(3).split(", "))}
    assert left["missing customer id"] == 500
    assert kept + sum(left.values()) == read, found.group(0)
