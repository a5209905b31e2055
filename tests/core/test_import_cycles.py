"""No import cycles among the modules of ``gateway`` and ``adapters``.

The graph comes from ``scripts/import-cycles`` (AST only, nothing is imported); the
rest of this file checks that checker on small packages written to ``tmp_path`` and
checks its one rule about Python's import system against Python itself.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import textwrap
import uuid
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "import-cycles"


def _load_checker() -> ModuleType:
    # The script has no ``.py`` suffix (it is run as ``scripts/import-cycles``), so it
    # is loaded by path; registered first because its dataclass looks itself up there.
    name = "palm_import_cycles_script"
    loader = importlib.machinery.SourceFileLoader(name, str(SCRIPT))
    spec = importlib.util.spec_from_loader(name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


checker = _load_checker()


def test_gateway_and_adapters_have_no_import_cycles() -> None:
    cycles, inside = checker.find_cycles()
    assert not cycles, checker.describe(cycles, inside)


def test_the_real_graph_is_read() -> None:
    # Guards against a checker that passes because it sees nothing.
    modules, edges = checker.build_graph()
    assert {"gateway.runtime", "gateway.outbox", "adapters.registry"} <= set(modules)
    direct = {(e.source, e.target, e.kind) for e in edges if not e.via_package}
    assert ("gateway.runtime", "gateway.targets", "module") in direct
    assert ("gateway.targets", "gateway.runtime", "typing") in direct
    assert ("adapters.registry", "adapters.telegram", "deferred") in direct
    assert ("adapters.registry", "adapters.telegram.cli", "deferred") in direct  # by name
    # ``from gateway.outbox import lua`` in the outbox's own store is an import of the
    # submodule, not of the package.
    pairs = {(e.source, e.target) for e in edges}
    assert ("gateway.outbox.store", "gateway.outbox.lua") in pairs
    assert ("gateway.outbox.store", "gateway.outbox") not in pairs


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _cycles(root: Path, typing: bool = False) -> list[list[str]]:
    kinds = checker.RUNTIME_KINDS | ({"typing"} if typing else set())
    modules = checker.find_modules(root, ["gateway"])
    edges = [e for n, p in modules.items() for e in checker.module_edges(n, p, modules)]
    return list(checker.strongly_connected(modules, [e for e in edges if e.kind in kinds]))


def test_a_two_module_cycle_with_absolute_and_relative_imports(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "gateway/__init__.py": "",
            "gateway/a.py": "from gateway.b import B\nA = 1\n",
            "gateway/b.py": "from .a import A\nB = 2\n",
            "gateway/c.py": "import gateway.a\n",
        },
    )
    assert _cycles(tmp_path) == [["gateway.a", "gateway.b"]]


def test_type_checking_imports_are_left_out_but_their_else_is_not(tmp_path: Path) -> None:
    files = {
        "gateway/__init__.py": "",
        "gateway/a.py": "from gateway.b import B\n",
        "gateway/b.py": textwrap.dedent("""\
            from typing import TYPE_CHECKING
            import typing
            if TYPE_CHECKING:
                from gateway.a import A
            if typing.TYPE_CHECKING:
                import gateway.a
            B = 2
            """),
    }
    _write(tmp_path, files)
    assert _cycles(tmp_path) == []
    assert _cycles(tmp_path, typing=True) == [["gateway.a", "gateway.b"]]
    files["gateway/b.py"] += "if TYPE_CHECKING:\n    pass\nelse:\n    from gateway import a\n"
    _write(tmp_path, files)
    assert _cycles(tmp_path) == [["gateway.a", "gateway.b"]]


def test_an_import_inside_a_function_still_makes_a_cycle(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "gateway/__init__.py": "",
            "gateway/a.py": "from gateway.b import B\n",
            "gateway/b.py": "B = 2\nasync def f() -> None:\n    from gateway.a import g\n",
        },
    )
    assert _cycles(tmp_path) == [["gateway.a", "gateway.b"]]


def test_a_package_init_whose_submodule_imports_the_package_back(tmp_path: Path) -> None:
    files = {
        "gateway/__init__.py": "",
        "gateway/pkg/__init__.py": "from gateway.pkg.a import A\nfrom gateway.pkg.b import B\n",
        "gateway/pkg/a.py": "A = 1\n",
        # A sibling by ``from package import submodule``: no edge to the package.
        "gateway/pkg/b.py": "from gateway.pkg import a\nfrom . import a as again\nB = 2\n",
    }
    _write(tmp_path, files)
    assert _cycles(tmp_path) == []
    # A name the package ``__init__`` re-exports: that reads the package.
    files["gateway/pkg/b.py"] = "from gateway.pkg import A\nB = 2\n"
    _write(tmp_path, files)
    assert _cycles(tmp_path) == [["gateway.pkg", "gateway.pkg.b"]]


def test_importing_a_submodule_from_outside_runs_the_package_init(tmp_path: Path) -> None:
    # gateway.x -> gateway.pkg.leaf also runs gateway/pkg/__init__, which imports
    # gateway.pkg.a, which imports gateway.x: a cycle through the package.
    _write(
        tmp_path,
        {
            "gateway/__init__.py": "",
            "gateway/pkg/__init__.py": "from gateway.pkg.a import A\n",
            "gateway/pkg/a.py": "from gateway.x import X\nA = 1\n",
            "gateway/pkg/leaf.py": "LEAF = 0\n",
            "gateway/x.py": "from gateway.pkg.leaf import LEAF\nX = 1\n",
        },
    )
    assert _cycles(tmp_path) == [["gateway.pkg", "gateway.pkg.a", "gateway.x"]]


def test_python_agrees_about_from_package_import_submodule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checker's one judgement about the import system, checked against Python.

    A submodule may ``from its_package import sibling`` while the package ``__init__``
    is still running (Python imports the submodule), but not a name that ``__init__``
    has yet to define.
    """
    name = f"cycles_{uuid.uuid4().hex}"
    init = "from {n}.a import A\nfrom {n}.b import B\n"
    _write(
        tmp_path,
        {
            f"{name}/__init__.py": init.format(n=name),
            f"{name}/a.py": f"from {name} import b\nA = b.B + 1\n",
            f"{name}/b.py": "B = 1\n",
            f"bad_{name}/__init__.py": init.format(n=f"bad_{name}"),
            f"bad_{name}/a.py": f"from bad_{name} import B\nA = B + 1\n",
            f"bad_{name}/b.py": "B = 1\n",
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert importlib.import_module(name).A == 2
        with pytest.raises(ImportError, match="partially initialized"):
            importlib.import_module(f"bad_{name}")
    finally:
        for key in [k for k in sys.modules if name in k]:
            del sys.modules[key]
