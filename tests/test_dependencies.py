"""The library and the app run on the default install: nothing in rag/ or app/ imports a test-only package."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEEDS_HTTPX = ("fastapi.testclient", "starlette.testclient")  # TestClient needs httpx, a test-only package


def packages_of_the_test_extra() -> set[str]:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    return {re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0].lower().replace("-", "_") for spec in extras["test"]}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def test_the_library_and_the_app_import_no_test_only_package() -> None:
    banned = packages_of_the_test_extra()
    assert {"httpx", "pytest", "playwright"} <= banned
    found = []
    for path in sorted([*(ROOT / "rag").rglob("*.py"), *(ROOT / "app").rglob("*.py")]):
        for module in imported_modules(path):
            if module.split(".")[0].lower() in banned or module.startswith(NEEDS_HTTPX):
                found.append(f"{path.relative_to(ROOT)} imports {module}")
    assert found == []
