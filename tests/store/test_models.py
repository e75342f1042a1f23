"""Crafted model files: every payload refused before it runs, with one line naming its type.

Each payload is a skops node that calls a function while the file is loaded (skops calls a
``ConstructorFromReduceNode``'s type with its arguments). The files are otherwise perfect:
right format tag, the payload's type listed in the metadata, a matching digest. A positive
control loads each with skops alone, trusting what the file asks for, and sees the payload
run, so the refusals below are not vacuous.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio

from segwise.exceptions import InputError
from segwise.predict import TrainedAssigner
from segwise.predict._persist import ASSIGNER_FILE, ASSIGNER_TYPES
from segwise.segment._scorer import RFMScorer
from segwise.store import ModelFormat, check_types, load_model, save_model
from segwise.store._models import _digest


def _json(value: str) -> dict[str, Any]:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True}


def call(module: str, name: str, *args: Any) -> dict[str, Any]:
    """A node that calls ``module.name(*args)`` when skops builds it."""
    items = [_json(a) if isinstance(a, str) else a for a in args]
    return {"__class__": name, "__module__": module, "__loader__": "ConstructorFromReduceNode",
            "content": {"__class__": "tuple", "__module__": "builtins",
                        "__loader__": "TupleNode", "content": items}}


def _list(*items: dict[str, Any]) -> dict[str, Any]:
    return {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
            "content": list(items)}


# Each payload creates the file it is given, by a different route.
PAYLOADS: dict[str, Callable[[Path], dict[str, Any]]] = {
    # The probe that ran a script through `segwise assign`: scikit-learn's own test helper,
    # trusted by the old allowlist because its name starts with "sklearn.".
    "sklearn_test_helper": lambda m: call(
        "sklearn.utils._testing", "assert_run_python_script_without_output",
        f"open({str(m)!r}, 'w').close()"),
    "builtins_exec": lambda m: call("builtins", "exec", f"open({str(m)!r}, 'w').close()"),
    "builtins_eval": lambda m: call(
        "builtins", "eval", f"__import__('pathlib').Path({str(m)!r}).touch()"),
    "os_system": lambda m: call("os", "system", f"touch '{m}'"),
    "subprocess": lambda m: call("subprocess", "getoutput", f"touch '{m}'"),
    "subprocess_list": lambda m: call("subprocess", "check_call",
                                      _list(_json("touch"), _json(str(m)))),
    "runpy": lambda m: call("runpy", "run_path", str(m.with_suffix(".py"))),
}


def _scorer() -> RFMScorer:
    edges = {c: np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
             for c in ("recency_days", "frequency", "monetary")}
    return RFMScorer.from_edges(edges)


def _nest(tree: dict[str, Any], payload: dict[str, Any]) -> None:
    """Hide the payload deep inside the scorer: in a list, in a tuple, in its attributes."""
    attrs = tree["content"]["scorer"]["content"]
    attrs["content"]["_extra"] = {
        "__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
        "content": [_list(_json("decoy"), payload)]}
    attrs["key_types"]["content"].append(attrs["key_types"]["content"][0])


def craft(path: Path, payload: dict[str, Any], *, nested: bool = False,
          kind: ModelFormat = ASSIGNER_FILE) -> Path:
    """A model file with everything right except a payload among its objects."""
    base = sio.dumps({"estimator": {"a": 1}, "scorer": _scorer()})
    with zipfile.ZipFile(io.BytesIO(base)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    tree = json.loads(members["schema.json"])
    if nested:
        _nest(tree, payload)
    else:
        tree["content"]["estimator"] = payload
    members["schema.json"] = json.dumps(tree).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    types = sio.get_untrusted_types(data=buf.getvalue())
    with zipfile.ZipFile(buf, "a") as z:
        meta = {"format": kind.tag, "types": types, "sha256": _digest(z)}
        z.writestr("segwise.json", json.dumps(meta))
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture(params=sorted(PAYLOADS))
def payload(request: Any, tmp_path: Path) -> tuple[str, Path, dict[str, Any]]:
    marker = tmp_path / f"ran-{request.param}"
    marker.with_suffix(".py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    return request.param, marker, PAYLOADS[request.param](marker)


def test_the_payloads_are_live(payload, tmp_path):
    """Positive control: skops alone, trusting what the file asks for, runs each payload."""
    name, marker, node = payload
    data = craft(tmp_path / f"{name}.skops", node).read_bytes()
    sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    assert marker.exists()


@pytest.mark.parametrize("nested", [False, True], ids=["top", "nested"])
def test_crafted_files_are_refused_before_anything_runs(payload, nested, tmp_path):
    name, marker, node = payload
    path = craft(tmp_path / f"{name}.skops", node, nested=nested)
    module, qualname = node["__module__"], node["__class__"]
    with pytest.raises(InputError) as info:
        TrainedAssigner.load(path)
    message = str(info.value)
    assert f"refusing to load type {module}.{qualname}" in message
    assert "\n" not in message
    assert not marker.exists()


def test_the_first_untrusted_type_is_named_and_the_rest_counted(tmp_path):
    node = call("os", "system", _list(call("builtins", "eval", "1")))
    with pytest.raises(InputError, match=r"type builtins\.eval and 1 more,"):
        TrainedAssigner.load(craft(tmp_path / "two.skops", node))


def test_prefixes_are_not_trusted_only_exact_names(tmp_path):
    """A type of segwise's own package, and a scikit-learn estimator's method: refused."""
    for module, name in (("segwise.predict._persist", "save_model_file"),
                         ("sklearn.utils._testing", "TempMemmap")):
        with pytest.raises(InputError, match=f"refusing to load type {module}.{name}"):
            TrainedAssigner.load(craft(tmp_path / "p.skops", call(module, name, "x")))


def _rewrite_schema(path: Path, schema: bytes) -> Path:
    """Replace schema.json, keeping the digest right (the attacker can compute it)."""
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["schema.json"] = schema
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            if name != "segwise.json":
                z.writestr(name, data)
        meta = json.loads(members["segwise.json"])
        meta["sha256"] = _digest(z)
        z.writestr("segwise.json", json.dumps(meta))
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return save_model({"scorer": _scorer()}, {}, tmp_path / "good.skops", ASSIGNER_FILE)


def test_a_good_file_loads(good):
    objects, meta = load_model(good, ASSIGNER_FILE)
    assert isinstance(objects["scorer"], RFMScorer)
    assert meta["types"] == ["segwise.segment._scorer.RFMScorer"]


@pytest.mark.parametrize(("schema", "message"), [
    (b"{not json", r"schema\.json is missing or not valid JSON"),
    (b"\xff\xfe", r"schema\.json is missing or not valid JSON"),
    (b"[1, 2]", r"schema\.json has no valid skops protocol"),
    (b'{"protocol": "2"}', r"schema\.json has no valid skops protocol \('2'\)"),
    (b'{"protocol": true}', r"schema\.json has no valid skops protocol"),
    (b'{"protocol": 99, "__loader__": "DictNode"}', r"written with skops protocol 99, this "
                                                     r"installation reads up to \d+\. Fix: "),
    (b'{"protocol": 2}', r"schema\.json is malformed"),
    (b'{"protocol": 2, "__loader__": "NoSuchNode", "__class__": "x", "__module__": "y"}',
     r"schema\.json is malformed"),
    (b'{"protocol": 2, "__loader__": "DictNode", "__class__": "dict", '
     b'"__module__": "builtins", "content": 5}', r"schema\.json is malformed"),
], ids=["syntax", "bytes", "list", "text_protocol", "bool_protocol", "newer_protocol",
        "no_loader", "unknown_node", "bad_content"])
def test_malformed_or_newer_schemas_are_refused_in_one_line(good, schema, message):
    path = _rewrite_schema(good, schema)
    with pytest.raises(InputError, match=message) as info:
        load_model(path, ASSIGNER_FILE)
    assert "\n" not in str(info.value)


def test_check_types_is_the_reusable_gate():
    """Another model kind (say a propensity model) gets the same check with its own list."""
    data = sio.dumps({"scorer": _scorer()})
    assert check_types(data, {"segwise.segment._scorer.RFMScorer"}, source="m") == [
        "segwise.segment._scorer.RFMScorer"]
    with pytest.raises(InputError, match=r"m: refusing to load type segwise\.segment\._scorer"):
        check_types(data, frozenset(), source="m")


def test_saving_refuses_what_loading_would_refuse(tmp_path):
    narrow = ModelFormat("test/1", frozenset(), "test file", "make one")
    with pytest.raises(InputError, match="holding types it would refuse to load: segwise"):
        save_model({"scorer": _scorer()}, {}, tmp_path / "n.skops", narrow)
    assert not list(tmp_path.iterdir())


def test_another_kind_is_refused_by_its_tag(good):
    # An assigner given where a propensity model is read (or the reverse: segwise serve
    # --model propensity.skops) was told to "retrain the model with this version".
    other = ModelFormat("segwise-propensity/1", ASSIGNER_TYPES, "propensity model", "fit one")
    with pytest.raises(InputError) as info:
        load_model(good, other)
    assert str(info.value) == (
        f"{good}: a segwise assigner model file (format 'segwise-assigner/1'), not a "
        "propensity model. Fix: give it to the command that reads that kind of model, or "
        "fit one")


def test_another_version_of_the_format_names_both(tmp_path):
    old = save_model({"scorer": _scorer()}, {"segwise_version": "0.0.9"},
                     tmp_path / "old.skops", ASSIGNER_FILE)
    newer = ModelFormat("segwise-assigner/2", ASSIGNER_TYPES, "segwise assigner file", "train")
    with pytest.raises(InputError) as info:
        load_model(old, newer)
    assert str(info.value) == (
        f"{old}: a segwise assigner file of format version 1 (saved by segwise 0.0.9); this "
        "segwise reads version 2. Fix: retrain the model with this version of segwise")


def test_loading_imports_no_module_the_file_names(tmp_path):
    """Type names are compared as text: a refused file imports nothing (no import side effect)."""
    name = "segwise_never_imported_module"
    path = craft(tmp_path / "imp.skops", call(name, "f", "x"))
    with pytest.raises(InputError, match=f"refusing to load type {name}.f"):
        TrainedAssigner.load(path)
    assert name not in sys.modules
