"""The response model on real people: contributions, reasons, chunks, segments, model files."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import skops.io as sio
from scipy.special import logit

from segwise.exceptions import InputError
from segwise.io import (
    Attribute,
    FeatureDictionary,
    Part,
)
from segwise.predict import (
    PROPENSITY_TYPES,
    PropensityModel,
    SegmentBaseline,
    TrainedPropensity,
    captured,
)
from segwise.store._models import _digest


@pytest.fixture(scope="module")
def halves(coil: Any) -> tuple[pa.Table, np.ndarray, pa.Table, np.ndarray]:
    X, y, _ = coil
    return X.slice(0, 3000), y[:3000], X.slice(3000), y[3000:]


@pytest.fixture(scope="module")
def fitted(coil: Any, halves: Any) -> dict[str, PropensityModel]:
    """One fitted model per family, on the first 3,000 CoIL rows."""
    _, _, dictionary = coil
    X, y, _, _ = halves
    return {m: PropensityModel(m, dictionary=dictionary, n_estimators=60).fit(X, y)
            for m in ("logistic", "naive_bayes", "xgboost", "hgb", "random_forest")}


@pytest.mark.parametrize("model", ["logistic", "naive_bayes", "xgboost", "hgb",
                                   "random_forest"])
def test_every_family_ranks_caravan_owners_above_chance(fitted, halves, model) -> None:
    _, _, X, y = halves
    score = fitted[model].predict_proba(X)[:, 1]
    top = round(0.2 * len(y))
    assert captured(y, score, top)[0] / y.sum() > 0.3  # random: 0.2


def test_linear_contributions_add_up_to_the_log_odds(fitted, halves) -> None:
    _, _, X, _ = halves
    rows = X.slice(0, 200)
    for name in ("logistic", "naive_bayes"):
        model = fitted[name]
        parts = model.contributions(rows).to_numpy().sum(axis=1)
        clf = model.pipeline_.named_steps["model"]
        base = (clf.intercept_[0] if name == "logistic"
                else clf.class_log_prior_[1] - clf.class_log_prior_[0])
        total = parts + model.offsets_.sum() + base
        np.testing.assert_allclose(total, logit(model.predict_proba(rows)[:, 1]), atol=1e-5)


def test_tree_contributions_are_shap_values_that_add_up(fitted, halves) -> None:
    _, _, X, _ = halves
    rows = X.slice(0, 100)
    model = fitted["xgboost"]
    parts = model.contributions(rows).to_numpy()
    clf = model.pipeline_.named_steps["model"]
    margin = clf.predict(model._prepared(model._encode(rows)[0]), output_margin=True)
    bias = margin - parts.sum(axis=1)
    np.testing.assert_allclose(bias, bias[0], atol=1e-4)  # one expected value for everyone
    hgb = fitted["hgb"].contributions(rows).to_numpy()
    assert hgb.shape == parts.shape and np.abs(hgb).sum() > 0


def test_reasons_are_attributes_in_the_dictionarys_words(fitted, coil, halves) -> None:
    _, _, dictionary = coil
    _, _, X, _ = halves
    model = fitted["logistic"]
    boat = np.flatnonzero(np.asarray(X.column("APLEZIER").to_pylist(), dtype=float) >= 1)
    assert len(boat) > 3
    reasons = model.reasons(X.take(boat), top=3)
    assert list(reasons.columns) == ["reason_1", "effect_1", "reason_2", "effect_2",
                                     "reason_3", "effect_3"]
    # Boat policies raise the odds most in this model; their owners are told so in words.
    first = reasons["reason_1"].str.cat(sep="|")
    assert "Number of boat policies: 1" in first
    text = dictionary["MOSTYPE"].text
    subtype = reasons.stack().astype(str)
    said = subtype[subtype.str.startswith(text + ": ")]
    assert said.empty or said.str[len(text) + 2:].isin(
        list(dictionary["MOSTYPE"].labels.values())).all()  # labels, never raw codes
    effects = reasons[["effect_1", "effect_2", "effect_3"]].to_numpy()
    assert np.all(np.diff(effects, axis=1)[~np.isnan(np.diff(effects, axis=1))] <= 1e-12)
    assert np.nanmin(effects) > 0  # reasons raise the score


def test_scores_do_not_depend_on_chunks_or_row_order(coil, halves) -> None:
    _, _, dictionary = coil
    X, y, X_new, _ = halves
    small = PropensityModel(dictionary=dictionary, chunk_rows=333).fit(X, y)
    whole = PropensityModel(dictionary=dictionary).fit(X, y)
    np.testing.assert_allclose(small.predict_proba(X_new), whole.predict_proba(X_new),
                               atol=1e-6)
    order = np.random.default_rng(1).permutation(X_new.num_rows)
    np.testing.assert_allclose(whole.predict_proba(X_new.take(order)),
                               whole.predict_proba(X_new)[order])


@pytest.mark.parametrize("model", ["logistic", "naive_bayes", "hgb"])
def test_shuffling_prepared_columns_is_shuffling_the_raw_column(fitted, halves,
                                                                model) -> None:
    """What permutation importance relies on: preparation works column by column."""
    _, _, X, _ = halves
    m = fitted[model]
    prepared = m._prepared(m._encode(X)[0])
    order = np.random.default_rng(2).permutation(X.num_rows)
    for name in ("MOSTYPE", "MAANTHUI", "PPERSAUT"):  # categorical, count, ordinal band
        cols = [j for j, out in enumerate(m.encoder_.outputs_) if out["attribute"] == name]
        assert cols
        raw = X.set_column(X.column_names.index(name), name, X.column(name).take(order))
        expected = prepared.copy()
        expected[:, cols] = prepared[order][:, cols]
        np.testing.assert_array_equal(m._prepared(m._encode(raw)[0]), expected)


def test_unknown_and_missing_columns_and_unseen_codes_are_reported(coil, halves) -> None:
    _, _, dictionary = coil
    X, y, X_new, _ = halves
    model = PropensityModel(dictionary=dictionary, unknown_columns="ignore").fit(X, y)
    extra = X_new.slice(0, 50).append_column("SHOE_SIZE", pa.array(np.arange(50)))
    odd = extra.set_column(extra.column_names.index("MOSTYPE"), "MOSTYPE",
                           pa.array([99.0] * 50, pa.float32()))
    with pytest.warns(UserWarning, match="MOSTYPE"):
        scores, audit = model.score_table(odd)
    assert len(scores) == 50
    row = audit.set_index("column")
    assert row.loc["MOSTYPE", "unseen_code"] == 50
    assert row.loc["SHOE_SIZE", "status"] == "unknown column"
    with pytest.raises(InputError, match="MOSTYPE"):
        model.score_table(X_new.drop_columns(["MOSTYPE"]))


def test_segment_baseline_mails_the_over_represented_segments_first(coil) -> None:
    from segwise.clean import PeopleSettings

    X, y, dictionary = coil
    settings = PeopleSettings(exclude=("P*", "A*"))
    base = SegmentBaseline.fit(X.slice(0, 3000), y[:3000], dictionary, settings, 4)
    t = base.table
    assert t["people"].sum() == 3000 and t["responders"].sum() == y[:3000].sum()
    placed = t[t["people"] > 0]
    # The score orders segments as their over-representation (ratio) does.
    assert list(placed.sort_values("score")["segment"]) == list(
        placed.sort_values("ratio")["segment"])
    labels = base.segments(X.slice(3000))
    rows, extended = base.with_segments(X.slice(3000), labels, dictionary)
    assert rows.column("population_segment").to_pylist()[:5] == [str(v) for v in labels[:5]]
    assert extended["population_segment"].type == "categorical"
    new = y[3000:]
    found = captured(new, base.score(labels), round(0.2 * len(new)))[0]
    assert found > 0.2 * new.sum()  # better than mailing at random


# -- model files -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def every_variant(coil: Any) -> dict[str, tuple[TrainedPropensity, pa.Table]]:
    """A small fitted model for every family and imbalance handling (CoIL's dictionary),
    one with a mixed attribute (its parts) and one with an inferred dictionary; each with
    rows to score."""
    X, y, dictionary = coil
    X, y, new = X.slice(0, 1500), y[:1500], X.slice(4000, 60)
    out = {}
    for model in ("logistic", "naive_bayes", "hgb", "xgboost", "random_forest"):
        for imbalance in ("none", "weights", "smote"):
            est = PropensityModel(model, imbalance=imbalance, dictionary=dictionary,
                                  n_estimators=20).fit(X, y)
            out[f"{model}/{imbalance}"] = (TrainedPropensity.from_model(est, X, y), new)
    few = ["MOSTYPE", "MGEMLEEF", "PPERSAUT"]
    est = PropensityModel("xgboost", n_estimators=20).fit(X.select(few), y)
    out["inferred"] = (TrainedPropensity.from_model(est, X.select(few), y), new.select(few))
    # A mixed attribute: the subtype's code split into its main type (a map rule).
    codes = [str(c) for c in range(1, 42)]
    mixed = Attribute("MOSTYPE", "mixed", "Customer Subtype", parts=(
        Part("main", "ordinal", {c: int(c) // 10 for c in codes}),
        Part("odd", "binary", {c: "odd" if int(c) % 2 else "even" for c in codes})))
    split = FeatureDictionary([mixed, dictionary["PPERSAUT"]])
    est = PropensityModel(dictionary=split).fit(X.select(["MOSTYPE", "PPERSAUT"]), y)
    out["mixed"] = (TrainedPropensity.from_model(est, X.select(["MOSTYPE", "PPERSAUT"]), y),
                    new.select(["MOSTYPE", "PPERSAUT"]))
    return out


def test_every_variant_round_trips_inside_the_trusted_types(every_variant, tmp_path) -> None:
    found: set[str] = set()
    for name, (trained, rows) in every_variant.items():
        path = trained.save(tmp_path / f"{name.replace('/', '_')}.skops")
        found |= set(sio.get_untrusted_types(data=path.read_bytes()))
        loaded = TrainedPropensity.load(path)
        a, _ = trained.score(rows, reasons=2)
        b, _ = loaded.score(rows, reasons=2)
        assert a.equals(b), name
        assert loaded.metadata["model"] == trained.model.name
    assert found <= PROPENSITY_TYPES
    assert found == PROPENSITY_TYPES  # nothing trusted that no variant needs


@pytest.mark.parametrize("model", ["logistic", "random_forest"])
def test_smote_on_a_few_attributes_saves_inside_the_trusted_types(
        shared_data: Path, tmp_path: Path, model: str) -> None:
    # Wholesale's six spendings: on under about 16 features SMOTE's neighbours were a
    # KD-tree, and `propensity train` failed at the very end, refusing to save a file
    # "holding types it would refuse to load".
    import pandas as pd

    frame = pd.read_csv(shared_data / "uci-wholesale-customers"
                        / "wholesale_customers_data.csv.gz")
    y = (frame.pop("Channel") == 2).to_numpy().astype(int)
    X = frame.drop(columns="Region")
    est = PropensityModel(model, imbalance="smote", n_estimators=20).fit(X, y)
    trained = TrainedPropensity.from_model(est, X, y)
    path = trained.save(tmp_path / "model.skops")
    assert set(sio.get_untrusted_types(data=path.read_bytes())) <= PROPENSITY_TYPES
    scores, _ = TrainedPropensity.load(path).score(X.head(20), reasons=1)
    assert scores.equals(trained.score(X.head(20), reasons=1)[0])


def _dictionaries(path: Path) -> int:
    """Feature dictionaries written out in a model file's skops tree."""
    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))

    def count(node: Any) -> int:
        if isinstance(node, dict):
            here = node.get("__class__") in ("FeatureDictionary", "InferredDictionary")
            return here + sum(count(v) for v in node.values())
        return sum(count(v) for v in node) if isinstance(node, list) else 0

    return count(schema)


def test_the_dictionary_is_stored_once_and_its_references_rebuilt(
        every_variant, tmp_path, monkeypatch) -> None:
    from sklearn.base import BaseEstimator

    from segwise.features.people import PeopleEncoder

    for name in ("logistic/none", "inferred", "mixed"):
        trained, rows = every_variant[name]
        path = trained.save(tmp_path / "model.skops")
        # The estimator's parameter, the encoder's and the encoder's fitted one: one copy.
        assert _dictionaries(path) == 1, name
        loaded = TrainedPropensity.load(path)
        encoder = loaded.model.encoder_
        assert encoder.dictionary_ is loaded.model.dictionary or name == "inferred"
        assert encoder.dictionary is loaded.model.dictionary
        assert loaded.dictionary == trained.dictionary
        assert loaded.model.get_params()["dictionary"] == trained.model.dictionary
        assert loaded.score(rows, reasons=2)[0].equals(trained.score(rows, reasons=2)[0])
        assert set(vars(loaded.model)) == set(vars(trained.model)), name
        assert set(vars(encoder)) == set(vars(trained.model.encoder_)), name
    # A file saved before (every reference written out in full) loads and scores the same.
    trained, rows = every_variant["logistic/none"]
    small = trained.save(tmp_path / "now.skops").stat().st_size
    for cls in (PeopleEncoder, PropensityModel):
        monkeypatch.setattr(cls, "__getstate__", BaseEstimator.__getstate__)
    old = trained.save(tmp_path / "before.skops")
    monkeypatch.undo()
    assert _dictionaries(old) == 3 and old.stat().st_size > small
    loaded = TrainedPropensity.load(old)
    assert loaded.score(rows, reasons=2)[0].equals(trained.score(rows, reasons=2)[0])


def _rewrite(path: Path, member: str, text: str, *, resign: bool) -> None:
    """Replace one member of a model file (and re-record the digest when ``resign``)."""
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members[member] = text.encode("latin-1" if not member.endswith(".json") else "utf-8")
    if resign:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as tmp:
            for n, d in members.items():
                tmp.writestr(n, d)
        with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as tmp:
            meta = json.loads(members["segwise.json"])
            meta["sha256"] = _digest(tmp)
            members["segwise.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for n, d in members.items():
            archive.writestr(n, d)


def test_tampered_and_mismatched_files_are_refused(every_variant, tmp_path) -> None:
    trained = every_variant["logistic/none"][0]
    edited = trained.save(tmp_path / "edited.skops")
    with zipfile.ZipFile(edited) as archive:
        meta = json.loads(archive.read("segwise.json"))
        array = next(n for n in archive.namelist() if n.endswith(".npy"))
        data = bytearray(archive.read(array))
    data[-1] ^= 1  # one bit of one stored array
    _rewrite(edited, array, data.decode("latin-1"), resign=False)
    with pytest.raises(InputError, match="modified or corrupted") as exc:
        TrainedPropensity.load(edited)
    assert "\n" not in str(exc.value)
    other = trained.save(tmp_path / "other.skops")
    _rewrite(other, "segwise.json", json.dumps({**meta, "dictionary_sha256": "0" * 64}),
             resign=True)
    with pytest.raises(InputError, match="dictionary fingerprint"):
        TrainedPropensity.load(other)
    schema = trained.save(tmp_path / "schema.skops")
    _rewrite(schema, "segwise.json", json.dumps({**meta, "attributes_used": ["MOSTYPE"]}),
             resign=True)
    with pytest.raises(InputError, match="feature schema"):
        TrainedPropensity.load(schema)
    assignerish = trained.save(tmp_path / "tag.skops")
    _rewrite(assignerish, "segwise.json", json.dumps({**meta, "format": "segwise-assigner/1"}),
             resign=True)
    with pytest.raises(InputError, match="segwise-assigner/1"):
        TrainedPropensity.load(assignerish)
