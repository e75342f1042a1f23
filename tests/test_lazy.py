"""Packages whose ``__init__`` imports are deferred (:func:`segwise._lazy.defer_package_init`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from segwise._lazy import defer_package_init


def _package(root: Path, name: str, init: str) -> None:
    """Write package ``name`` with submodules ``one`` (``One``, loading noted) and ``two``."""
    pkg = root / name / "compilers"
    pkg.mkdir(parents=True)
    (root / name / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text(textwrap.dedent(init))
    for sub, cls in (("one", "One"), ("two", "Two")):
        (pkg / f"{sub}.py").write_text(
            f"import builtins\nbuiltins.loaded = [*getattr(builtins, 'loaded', []), {sub!r}]\n"
            f"class {cls}:\n    pass\n")


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("lazypkg")]:
        del sys.modules[name]
    import builtins

    builtins.__dict__.pop("loaded", None)


def test_names_and_submodules_load_on_first_use(on_path: Path) -> None:
    import builtins

    _package(on_path, "lazypkg_a", '''\
        """Docstring."""
        from __future__ import annotations
        __all__ = ["One", "Two"]
        from lazypkg_a.compilers.one import One
        from lazypkg_a.compilers.two import Two
    ''')
    defer_package_init("lazypkg_a.compilers")
    import lazypkg_a.compilers as pkg

    assert getattr(builtins, "loaded", []) == []  # nothing ran yet
    assert pkg.Two.__name__ == "Two" and builtins.loaded == ["two"]
    from lazypkg_a.compilers import One  # noqa: F401 - loads `one`

    assert builtins.loaded == ["two", "one"]
    assert pkg.one.One is pkg.One and sorted(pkg.__all__) == ["One", "Two"]
    with pytest.raises(AttributeError, match="no attribute 'Three'"):
        _ = pkg.Three


@pytest.mark.parametrize("init", [
    'from lazypkg_b.compilers.one import One\nREGISTRY = {"one": One}\n',
    "from lazypkg_b.compilers.one import *\nREGISTRY = {}\n",
])
def test_an_init_that_does_more_runs_as_written(on_path: Path, init: str) -> None:
    import builtins

    _package(on_path, "lazypkg_b", init)
    defer_package_init("lazypkg_b.compilers")
    import lazypkg_b.compilers as pkg

    assert builtins.loaded == ["one"] and isinstance(pkg.REGISTRY, dict)


def test_ibis_sql_compilers_load_one_at_a_time_and_all_still_work() -> None:
    # What `segwise rfm` loads is checked in tests/cli/test_rfm.py.
    code = textwrap.dedent("""\
        import sys
        import ibis
        import segwise._engine
        def loaded():
            return sorted(m.rsplit(".", 1)[1] for m in sys.modules
                          if m.startswith("ibis.backends.sql.compilers."))
        before = loaded()
        t = ibis.table({"a": "int64"}, name="t")
        print(before, ibis.to_sql(t.filter(t.a > 1), dialect="postgres").splitlines()[-1].strip())
        from ibis.backends.sql.compilers import PySparkCompiler
        import ibis.backends.sql.compilers as sc
        print(loaded(), PySparkCompiler.__name__, sc.sqlite.compiler.__class__.__name__)
    """)
    # Our own interpreter and code, no user input.
    run = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, then = run.stdout.splitlines()
    assert first == '[] "t0"."a" > 1'
    assert then == ("['_compat', 'base', 'postgres', 'pyspark'] PySparkCompiler "
                    "SQLiteCompiler")
