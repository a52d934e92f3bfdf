"""Imports only point down the layers drawn in docs/architecture.md.

Every import is read with `ast` (at any depth, so imports inside functions count too), mapped to the package
it names, and checked against `ALLOWED`. `FORBIDDEN_EXTERNAL` holds the rules about third-party libraries
that the layer picture also makes (core imports no web framework, warehouse does not call Mux).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Our packages, each with the packages of ours it may import (besides itself).
ALLOWED: dict[str, frozenset[str]] = {
    "lectern": frozenset({"core", "warehouse", "sync", "api", "dashboard", "emulator"}),
    "dashboard": frozenset({"core", "warehouse"}),
    "api": frozenset({"core", "warehouse"}),
    "sync": frozenset({"core", "warehouse"}),
    # The warehouse prices what it stores with core.costs and logs with core.logging; it never calls Mux
    # (see FORBIDDEN_EXTERNAL).
    "warehouse": frozenset({"core"}),
    "core": frozenset(),
    # The emulator must catch Lectern's bugs, not repeat them, so it shares no code with any of our packages.
    "emulator": frozenset(),
}

# Module prefixes a package must not import even where ALLOWED lets it into the package that holds them.
FORBIDDEN_EXTERNAL: dict[str, tuple[str, ...]] = {
    "core": ("fastapi", "starlette", "streamlit", "uvicorn", "typer"),
    "warehouse": ("mux_python", "core.mux", "fastapi", "streamlit"),
}

# Imports that break the rules today, each with why it is tolerated; (file, imported module). Empty: the
# layering holds. Add an entry only with its reason, and remove it when the import goes.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    module: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.module} ({self.rule})"


def _imported_modules(tree: ast.AST, package_parts: tuple[str, ...]) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import in the tree; relative imports resolved against the file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # `from core import mux` names the submodule in the alias, not in `module`.
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names if alias.name != "*")
    return found


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def find_violations(
    root: Path,
    allowed: dict[str, frozenset[str]] = ALLOWED,
    forbidden: dict[str, tuple[str, ...]] = FORBIDDEN_EXTERNAL,
) -> list[Violation]:
    violations: set[Violation] = set()
    for package in sorted(allowed):
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            parts = relative.with_suffix("").parts
            package_parts = parts[:-1]  # the package a relative import starts from, for modules and __init__
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, module in _imported_modules(tree, package_parts):
                top = module.split(".")[0]
                if top in allowed and top != package and top not in allowed[package]:
                    violations.add(Violation(relative.as_posix(), line, module.split(".")[0], f"{package} -> {top}"))
                for prefix in forbidden.get(package, ()):
                    if _matches(module, prefix):
                        violations.add(Violation(relative.as_posix(), line, prefix, f"{package} must not use {prefix}"))
    return sorted(violations, key=lambda v: (v.path, v.line, v.module))


def test_imports_only_point_down() -> None:
    for package in ALLOWED:
        assert (ROOT / package).is_dir(), f"{package}/ is missing: update ALLOWED and docs/architecture.md"
    found = find_violations(ROOT)
    new = [str(v) for v in found if (v.path, v.module) not in KNOWN_EXCEPTIONS]
    assert not new, "imports that run up or across the layers:\n" + "\n".join(new)


def test_known_exceptions_are_still_needed() -> None:
    found = {(v.path, v.module) for v in find_violations(ROOT)}
    stale = [f"{path} -> {module}" for path, module in KNOWN_EXCEPTIONS if (path, module) not in found]
    assert not stale, "remove these from KNOWN_EXCEPTIONS, the imports are gone: " + ", ".join(stale)


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for package in ALLOWED:
        (root / package).mkdir(exist_ok=True)
    return root


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"core/x.py": "import api.app\n"}, ("core/x.py", 1, "api")),
        ({"core/x.py": "from warehouse.store import Store\n"}, ("core/x.py", 1, "warehouse")),
        ({"dashboard/p.py": "def f():\n    from api import app\n"}, ("dashboard/p.py", 2, "api")),
        ({"api/r.py": "class A:\n    def m(self):\n        import dashboard.auth\n"}, ("api/r.py", 3, "dashboard")),
        ({"sync/j.py": "if True:\n    from lectern import cli\n"}, ("sync/j.py", 2, "lectern")),
        ({"emulator/e.py": "from core.settings import Settings\n"}, ("emulator/e.py", 1, "core")),
        ({"warehouse/q.py": "from sync import runner\n"}, ("warehouse/q.py", 1, "sync")),
        ({"warehouse/q.py": "from core import mux\n"}, ("warehouse/q.py", 1, "core.mux")),
        ({"warehouse/q.py": "import mux_python\n"}, ("warehouse/q.py", 1, "mux_python")),
        ({"core/sub/m.py": "from ...api import app\n"}, ("core/sub/m.py", 1, "api")),
        (
            {"core/w.py": "try:\n    import streamlit as st\nexcept ImportError:\n    st = None\n"},
            ("core/w.py", 2, "streamlit"),
        ),
    ],
)
def test_checker_catches_a_planted_violation(tmp_path: Path, files: dict[str, str], expected: tuple) -> None:
    found = find_violations(_package(tmp_path, files))
    assert [(v.path, v.line, v.module) for v in found] == [expected]


def test_checker_accepts_imports_that_point_down(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "lectern/cli.py": "import api.app\nimport emulator.server\nfrom dashboard import app\n",
            "dashboard/p.py": "from warehouse import queries\nfrom core.settings import Settings\n",
            "api/r.py": "def f():\n    from warehouse.costs import estimate\n",
            "warehouse/q.py": "from core.costs import money\nimport duckdb\n",
            "core/m.py": "from core.mux import client\nfrom . import errors\nimport sqlalchemy\n",
            "emulator/e.py": "from emulator.state import Store\nimport fastapi\n",
        },
    )
    assert find_violations(root) == []


def test_architecture_page_names_only_modules_that_exist() -> None:
    """docs/architecture.md points newcomers at files: every `path/like.py` or `package/` it names must exist."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:[a-z_]+/)+(?:[a-z_]+\.py)?)`", text))
    packages = set(re.findall(r"\| `([a-z_]+)` \|", text))
    assert named and packages == set(ALLOWED), "the layer table in docs/architecture.md and ALLOWED differ"
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert not missing, "docs/architecture.md names paths that do not exist: " + ", ".join(missing)
