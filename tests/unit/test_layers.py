"""The house's layers hold (README, Development): what each part may import.

The contracts between packages are import-linter's, in pyproject.toml (`lint-imports`);
the facts that hold for every module, whatever package it is in, are read here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(*folders: str) -> list[Path]:
    return [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))
            if "migrations" not in p.parts]


def test_the_contracts_between_packages_are_kept():
    # in a process of its own: import-linter configures logging for the whole process
    done = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_only_storage_speaks_sql():
    speaking = {str(p.relative_to(ROOT)) for p in modules("bot")
                if any(m.split(".")[0] in ("sqlalchemy", "alembic") for m in imported(p))}
    assert {p for p in speaking if not p.startswith("bot/storage/")} == set()


def test_the_product_and_the_benches_import_nothing_from_the_tests():
    offending = [str(p.relative_to(ROOT)) for p in modules("bot", "bench")
                 if any(m == "tests" or m.startswith("tests.") for m in imported(p))]
    assert offending == []
