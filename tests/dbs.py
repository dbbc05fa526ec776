"""Database URLs for tests: SQLite always, PostgreSQL where a server answers."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

POSTGRES = os.environ.get("COORDBOT_TEST_POSTGRES",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def unavailable(problem: str) -> None:
    """Skip a test whose server is missing, saying why; in CI (CI=true) fail instead, so that
    a run without PostgreSQL or Synapse can never pass for a full one."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{problem} (CI=true: required)", pytrace=False)
    pytest.skip(problem)


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can."""
    try:
        engine = create_engine(POSTGRES, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means: skip, saying why
        return f"no PostgreSQL server answers at {POSTGRES} ({type(exc).__name__})"


@contextmanager
def database_url(kind: str, tmp: Path) -> Iterator[str]:
    """A fresh, empty database of `kind` ("sqlite" or "postgresql")."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp}/coordbot.db"
        return
    problem = postgres_problem()
    if problem:
        unavailable(problem)
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES else "?"
    try:
        yield f"{POSTGRES}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
