"""The benchmark scripts (files in ``benchmarks/``, not a package), importable by name.

Each is loaded once, before the tests of this folder, as the module its tests import
(``import generate_orders as gen``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

for _name in ("generate_avito", "generate_orders", "generate_people", "score_load"):
    _spec = importlib.util.spec_from_file_location(_name, _BENCHMARKS / f"{_name}.py")
    assert _spec is not None and _spec.loader is not None
    sys.modules[_name] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[_name])
