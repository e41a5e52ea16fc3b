"""The layer rules of DESIGN.md section 1, checked on every test run as well as by `make lint`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import vigil

PACKAGE = Path(vigil.__file__).resolve().parent


def test_the_import_linter_contracts_hold() -> None:
    linter = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(linter), "--config", str(PACKAGE.parent / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert ", 0 broken" in result.stdout


def test_the_domain_takes_nothing_from_eventsourcing_but_its_domain_module() -> None:
    # import-linter cannot forbid a sub-module of an outside package, so this reads the imports.
    imported: set[str] = set()
    for module in (PACKAGE / "domain").rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    from_eventsourcing = {name for name in imported if name.startswith("eventsourcing")}
    assert from_eventsourcing <= {"eventsourcing.domain"}
